//! The `wayfarer` command line, one file per command (as the engine's front end on servers):
//! [`render`], [`stream`], [`plan`], [`flow`], [`cache`], [`doctor`]. This module holds what they
//! share: the progress bar, Ctrl+C, JSON-event lines and the `error:`/`hint:` printing.

pub mod cache;
pub mod doctor;
pub mod flow;
pub mod plan;
pub mod render;
pub mod stream;
pub mod support;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use wayfarer::UserError;
use wayfarer::generate::CancelToken;

/// Generator backends a render can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// Built-in generator (no model).
    Builtin,
    /// One or many ComfyUI servers.
    Comfyui,
    /// An ONNX model through ONNX Runtime.
    Onnx,
}

impl BackendKind {
    /// The name the engine's backend configuration uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::Comfyui => "comfyui",
            Self::Onnx => "onnx",
        }
    }
}

/// Prints `error:` and `hint:` lines (clipped to 1,000 characters each) and gives the exit
/// code of the error's category.
pub fn report_error(e: &UserError) -> ExitCode {
    for cause in &e.causes {
        tracing::debug!("caused by: {cause}");
    }
    eprintln!("error: {}", support::clipped(&e.message));
    for hint in &e.suggestions {
        eprintln!("hint: {}", support::clipped(hint));
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
}

/// A token that Ctrl+C, SIGTERM and SIGHUP cancel: the work stops cleanly and its partial
/// output is removed.
pub fn cancel_on_signals() -> CancelToken {
    let cancel = CancelToken::new();
    let handler = cancel.clone();
    if let Err(e) = ctrlc::set_handler(move || handler.cancel()) {
        tracing::warn!("Ctrl+C will end the program without cleaning up: {e}");
    }
    cancel
}

/// How [`load_project`] treats a project's warnings.
#[derive(Debug, Clone, Copy)]
pub struct Warnings {
    /// Ignored fields are an error (`--strict`).
    pub strict: bool,
    /// Warnings are `warning` JSON lines on standard output.
    pub json: bool,
}

/// Loads the project at `path`. Each field it ignores is a warning on standard error (a
/// `warning` JSON line instead with `json`); with `strict`, ignored fields are an error
/// (exit 2) and nothing runs.
pub fn load_project(
    path: &std::path::Path,
    Warnings { strict, json }: Warnings,
) -> Result<wayfarer::project::Project, UserError> {
    let (project, warnings) = wayfarer::project::file::load_warn(path)?;
    for message in &warnings {
        if json {
            json_line(&wayfarer::render::RenderEvent::Warning {
                message: message.clone(),
            });
        } else {
            eprintln!("warning: {message}");
        }
    }
    if strict && !warnings.is_empty() {
        let n = warnings.len();
        return Err(UserError::input(format!(
            "{}: {n} field{} of the project {} not known (--strict)",
            path.display(),
            if n == 1 { "" } else { "s" },
            if n == 1 { "is" } else { "are" },
        ))
        .hint("fix or remove the fields named above, or run without --strict"));
    }
    Ok(project)
}

/// Prints one value as a JSON line on standard output, flushed at once.
pub fn json_line(value: &impl serde::Serialize) {
    if let Ok(line) = serde_json::to_string(value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// A progress bar of `len` steps on standard error drawn with `template`, hidden when JSON
/// events are printed or standard error is not a terminal.
pub fn progress_bar(json_events: bool, len: u64, template: &str) -> ProgressBar {
    if json_events || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    ProgressBar::new(len).with_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    )
}
