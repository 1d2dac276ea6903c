//! Errors a user can act on: what went wrong, in which category, and what to do.
//!
//! Every room reports failures as [`UserError`]; the CLI maps the category to an exit code
//! (2 for bad input, 1 for other failures) and prints the message with its hint.

use std::fmt;
use std::path::Path;

/// Text from elsewhere (a server, a library) on one line: trimmed, inner line breaks as
/// " / ".
pub fn one_line(text: &str) -> String {
    text.trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The kind of failure, used for exit codes, retry policy and presentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCategory {
    /// The user's input (project, images, options, paths) is wrong.
    InputValidation,
    /// Out of GPU or host memory.
    Memory,
    /// A model or runtime library could not be loaded.
    ModelLoading,
    /// The generator or encoder failed while running.
    GenerationPipeline,
    /// A system resource (device, thread, disk space) is missing.
    SystemResource,
    /// Reading or writing a file failed for a reason other than bad input.
    FileSystem,
    /// A server could not be reached or answered badly.
    Network,
    /// The user cancelled.
    Cancelled,
}

/// A failure described for the person who has to fix it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UserError {
    /// What kind of failure this is.
    pub category: ErrorCategory,
    /// One line: what is wrong.
    pub message: String,
    /// What to do about it, most useful first.
    pub suggestions: Vec<String>,
    /// Whether trying the same thing again may succeed.
    pub retryable: bool,
    /// The lower-level errors behind this one, outermost first (for logs, not for the
    /// person reading the message).
    #[serde(skip)]
    pub causes: Vec<String>,
}

impl UserError {
    /// A new error with no suggestion.
    pub fn new(category: ErrorCategory, message: impl Into<String>) -> Self {
        Self {
            category,
            message: message.into(),
            suggestions: Vec::new(),
            retryable: false,
            causes: Vec::new(),
        }
    }

    /// Bad input: the project, an image, an option or a path.
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorCategory::InputValidation, message)
    }

    /// Adds a suggestion.
    #[must_use]
    pub fn hint(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestions.push(suggestion.into());
        self
    }

    /// The same error with `prefix: ` before its message (what was being done, which
    /// field or which server).
    #[must_use]
    pub fn context(mut self, prefix: impl fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// The same error with `source` and its own sources recorded as causes (for logs).
    #[must_use]
    pub fn caused_by(mut self, source: &(dyn std::error::Error + 'static)) -> Self {
        let mut next = Some(source);
        while let Some(e) = next {
            self.causes.push(e.to_string());
            next = e.source();
        }
        self
    }

    /// The user cancelled the work.
    pub fn cancelled() -> Self {
        Self::new(ErrorCategory::Cancelled, "cancelled")
    }

    /// An I/O failure on `path`; `doing` says what was being attempted ("reading", "writing").
    pub fn io(doing: &str, path: &Path, err: &std::io::Error) -> Self {
        Self::io_described(doing, path, err).caused_by(err)
    }

    fn io_described(doing: &str, path: &Path, err: &std::io::Error) -> Self {
        use std::io::ErrorKind;
        let shown = path.display();
        match err.kind() {
            ErrorKind::NotFound => {
                Self::input(format!("{doing} {shown}: file or folder not found"))
                    .hint("check the path; project image paths are relative to the project file")
            }
            ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
                Self::input(format!("{doing} {shown}: permission denied"))
                    .hint("choose a location you can write to, or fix the folder's permissions")
            }
            ErrorKind::NotADirectory => Self::input(format!(
                "{doing} {shown}: a part of the path is a file, not a folder"
            ))
            .hint("check the path"),
            ErrorKind::IsADirectory => Self::input(format!("{doing} {shown}: this is a folder"))
                .hint("give the path of a file"),
            ErrorKind::InvalidData => Self::input(format!(
                "{doing} {shown}: not text in UTF-8 (the wrong file?)"
            ))
            .hint("check the path"),
            ErrorKind::StorageFull => Self::new(
                ErrorCategory::SystemResource,
                format!("{doing} {shown}: no space left on the device"),
            )
            .hint("free some disk space or choose another location"),
            _ => Self::new(ErrorCategory::FileSystem, format!("{doing} {shown}: {err}"))
                .hint("check the path and the disk"),
        }
    }

    /// The process exit code for this error: 2 for bad input, 1 for anything else.
    pub fn exit_code(&self) -> i32 {
        match self.category {
            ErrorCategory::InputValidation => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(first) = self.suggestions.first() {
            write!(f, " (hint: {first})")?;
        }
        Ok(())
    }
}

impl std::error::Error for UserError {}

/// Result with a [`UserError`].
pub type Result<T, E = UserError> = std::result::Result<T, E>;
