//! Generators: turn a call's guide and mask into frames.
//!
//! A backend knows nothing of the UI or of files: it receives a [`GenerationRequest`],
//! reports progress through a callback and checks the cancel token. Backends: `builtin`
//! (no model). Must not touch the project file, the stitch or the encoder.

mod builtin;
pub mod preflight;
pub mod retry;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use builtin::Builtin;
pub use preflight::{CheckItem, PreflightReport, preflight};

use crate::error::Result;
use crate::guide::CallGuide;
use crate::media::Frame;
use crate::plan::Call;
use crate::project::Segment;

/// Shared flag that asks long work to stop at the next frame.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the work to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether stopping was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Everything a backend needs for one call.
pub struct GenerationRequest<'a> {
    /// The planned call.
    pub call: &'a Call,
    /// Guide and mask frames.
    pub guide: &'a CallGuide,
    /// Prompt, negative prompt and LoRAs of the call's span.
    pub segment: &'a Segment,
    /// Generation seed.
    pub seed: u64,
    /// Output size.
    pub width: u32,
    /// Output size.
    pub height: u32,
}

/// A video generator.
pub trait Backend {
    /// Short name shown in logs and events.
    fn name(&self) -> &str;

    /// Produces one frame per call frame. Kept frames (mask 0) should reproduce the guide.
    /// `progress` receives the fraction done in `0..=1`.
    fn generate(
        &mut self,
        request: &GenerationRequest<'_>,
        progress: &mut dyn FnMut(f32),
        cancel: &CancelToken,
    ) -> Result<Vec<Frame>>;
}

/// The backends this build offers, by name.
pub const BACKENDS: &[&str] = &["builtin"];

/// Creates a backend by name.
pub fn backend_by_name(name: &str) -> Result<Box<dyn Backend + Send>> {
    match name {
        "builtin" => Ok(Box::new(Builtin::from_env()?)),
        other => Err(
            crate::error::UserError::input(format!("backend: unknown backend {other:?}"))
                .hint(format!("use one of: {}", BACKENDS.join(", "))),
        ),
    }
}
