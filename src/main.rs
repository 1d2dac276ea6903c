//! The `wayfarer` command line: render, stream, plan, cache and doctor (one file each in
//! `src/cli/`); with no command, the studio.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;
use cli::support::{command_line_error, unknown_command};

/// Travel videos from keyframe images on a timeline.
#[derive(Parser)]
#[command(
    name = "wayfarer",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Project to open in the studio (with no subcommand the studio opens).
    project: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Render a project to an MP4.
    Render(cli::render::RenderArgs),
    /// Stream a project: keyframes generated in the background while the frames between
    /// them are interpolated, written to the MP4 as they are produced.
    Stream(cli::stream::StreamArgs),
    /// Show how a project is cut into generation calls.
    Plan(cli::plan::PlanArgs),
    /// Estimate the optical flow from picture A to picture B and write it as a .flo file.
    Flow(cli::flow::FlowArgs),
    /// List or clear the caches (flow fields, finished call outputs).
    Cache(cli::cache::CacheArgs),
    /// Report what Wayfarer finds on this machine: libav, ONNX Runtime, wgpu, folders.
    Doctor(cli::doctor::DoctorArgs),
}

fn main() -> ExitCode {
    if let Some(e) = unknown_command() {
        return cli::report_error(&e);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return command_line_error(&e),
    };
    init_logging();
    if cli.command.is_some() {
        quiet_vulkan_probe();
    }
    let result = match cli.command {
        None => studio(cli.project),
        Some(Command::Render(args)) => args.run(),
        Some(Command::Stream(args)) => args.run(),
        Some(Command::Plan(args)) => args.run(),
        Some(Command::Flow(args)) => args.run(),
        Some(Command::Cache(args)) => args.run(),
        Some(Command::Doctor(args)) => args.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cli::report_error(&e),
    }
}

/// Logs on standard error: Wayfarer's warnings by default; `WAYFARER_LOG` (e.g. `debug`,
/// `wayfarer=debug,wgpu=warn`) chooses others, with the causes behind an error at `debug`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WAYFARER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("wayfarer=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
}

/// Opens the studio on `project` (or on the last session).
#[cfg(feature = "studio")]
fn studio(project: Option<PathBuf>) -> Result<(), wayfarer::UserError> {
    wayfarer::ui::run(project)
}

/// This build has no studio: says so, and what the command line offers.
#[cfg(not(feature = "studio"))]
fn studio(_project: Option<PathBuf>) -> Result<(), wayfarer::UserError> {
    Err(wayfarer::UserError::input(
        "this build of Wayfarer has no studio (it was built without the `studio` feature)",
    )
    .hint("use 'wayfarer render PROJECT -o OUT.mp4'; 'wayfarer --help' lists the commands")
    .hint("for the studio, build with the default features: cargo build --release"))
}

/// Mesa's Vulkan driver prints "error: XDG_RUNTIME_DIR is invalid" when wgpu probes it
/// outside a desktop session, which reads like a Wayfarer error on a headless server. The
/// CLI gives it a private runtime folder when none is set.
fn quiet_vulkan_probe() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    let Some(dir) = wayfarer::dirs::private_temp_folder("wayfarer-runtime") else {
        return;
    };
    // SAFETY: called at the start of main, before any other thread exists.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
}
