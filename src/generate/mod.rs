//! Generators: turn a call's guide and mask into frames.
//!
//! A backend knows nothing of the UI or of files: it receives a [`GenerationRequest`],
//! reports progress through a callback and checks the cancel token. Backends: `builtin`
//! (no model), `comfyui` (one or many ComfyUI servers), `onnx` (ONNX Runtime models
//! described by manifests). Must not touch the project file, the stitch or the encoder.

mod builtin;
pub mod comfy;
pub mod modes;
pub mod onnx;
pub mod preflight;
pub mod retry;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

pub use builtin::Builtin;
pub use modes::{Capabilities, Mode, ModeLimits};
pub use preflight::{CheckItem, PreflightReport, preflight};

use crate::error::{Result, UserError};
use crate::guide::CallGuide;
use crate::media::Frame;
use crate::plan::Call;
use crate::project::Segment;

/// The moment `after` from now, however long `after` is (capped at 100 years, never an
/// overflow).
pub fn deadline_after(after: std::time::Duration) -> std::time::Instant {
    const CAP: std::time::Duration = std::time::Duration::from_hours(876_000);
    let now = std::time::Instant::now();
    now.checked_add(after.min(CAP)).unwrap_or(now)
}

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
    /// Output frame rate of the project.
    pub fps: u32,
}

/// What a backend reports while a call runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallProgress {
    /// Fraction of the call done, `0..=1`.
    pub fraction: f32,
    /// Sampler step and step count, when the backend reports steps.
    pub step: Option<(u32, u32)>,
    /// Where the call runs or what just happened (a server, a failover), when it changes.
    pub note: Option<String>,
}

impl CallProgress {
    /// Progress given only as a fraction.
    pub fn fraction(fraction: f32) -> Self {
        Self {
            fraction,
            ..Self::default()
        }
    }
}

/// A video generator. Backends are shared between the render's worker threads: a backend
/// with several parallel slots (e.g. several servers) runs that many calls at once.
pub trait Backend: Send + Sync {
    /// Short name shown in logs and events.
    fn name(&self) -> &str;

    /// What the backend can do: modes and their limits, frames per call, parallel slots.
    fn capabilities(&self) -> &Capabilities;

    /// Backend-specific checks before any generation: models, templates, servers, memory.
    /// `shape` gives the largest call the render will make and what it asks for.
    fn preflight(&self, _shape: &modes::RequestShape) -> Vec<CheckItem> {
        Vec::new()
    }

    /// Where the generation runs, in words: `cuda`, `cpu (CUDA failed: …)`, a compute
    /// device, servers. Shown when a render starts.
    fn device(&self) -> String {
        "cpu".into()
    }

    /// Identity of the backend and its settings, part of the per-call cache key: outputs
    /// cached under one identity are never reused for another.
    fn identity(&self) -> String {
        self.name().to_string()
    }

    /// Whether the backend makes new pictures (a model), rather than moving the anchors'
    /// own pixels: its frames get the project's colour match and its chained overlaps are
    /// aligned before the crossfade.
    fn generates(&self) -> bool {
        true
    }

    /// The flow cache the backend keeps its motion estimates in, if any (a render checks
    /// that it works).
    fn flow_cache(&self) -> Option<&crate::flow::FlowCache> {
        None
    }

    /// Produces one frame per call frame. Kept frames (mask 0) should reproduce the guide.
    fn generate(
        &self,
        request: &GenerationRequest<'_>,
        progress: &mut dyn FnMut(CallProgress),
        cancel: &CancelToken,
    ) -> Result<Vec<Frame>>;
}

/// Fills every generated frame of `guide` (mask > 0) with `make(i, before, after)`, where
/// `before`/`after` are the nearest kept frames (mask 0) on each side; kept frames are
/// copied and transition frames (0 < mask < 1) are `blend(guide, generated, mask)`. Reports
/// progress per frame and stops on cancel. The frame loop every frame-filling backend
/// shares.
pub fn fill_generated(
    guide: &CallGuide,
    progress: &mut dyn FnMut(CallProgress),
    cancel: &CancelToken,
    make: &mut dyn FnMut(usize, Option<usize>, Option<usize>) -> Result<Frame>,
    blend: &dyn Fn(&Frame, &Frame, f32) -> Result<Frame>,
) -> Result<Vec<Frame>> {
    let kept: Vec<usize> = (0..guide.frames.len())
        .filter(|&i| guide.mask[i] <= 0.0)
        .collect();
    let n = guide.frames.len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if cancel.is_cancelled() {
            return Err(UserError::cancelled());
        }
        let m = guide.mask[i];
        let frame = if m <= 0.0 {
            guide.frames[i].clone()
        } else {
            let before = kept.iter().rev().find(|&&k| k < i).copied();
            let after = kept.iter().find(|&&k| k > i).copied();
            let generated = make(i, before, after)?;
            if m < 1.0 {
                blend(&guide.frames[i], &generated, m)?
            } else {
                generated
            }
        };
        out.push(frame);
        progress(CallProgress::fraction((i + 1) as f32 / n as f32));
    }
    Ok(out)
}

/// The backends this build offers, by name.
pub const BACKENDS: &[&str] = &["builtin", "comfyui", "onnx"];

/// Which backend to use and its settings, as given on the command line or in the studio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackendConfig {
    /// `builtin`, `comfyui` or `onnx`.
    pub kind: String,
    /// ComfyUI server addresses (`http://host:port`), for `comfyui`.
    pub servers: Vec<String>,
    /// ComfyUI API-format workflow template; the shipped Wan VACE template when empty.
    pub template: Option<PathBuf>,
    /// ONNX model manifest (TOML), for `onnx`.
    pub model: Option<PathBuf>,
    /// Longest a ComfyUI call may run, in seconds.
    pub call_timeout_secs: u64,
    /// Longest one HTTP request to a ComfyUI server may take (uploads and downloads
    /// included), in seconds.
    pub request_timeout_secs: u64,
    /// How long a call waits for a ComfyUI server that stopped answering (a restart) to
    /// come back before it fails, in seconds.
    pub reconnect_timeout_secs: u64,
    /// Longest a pre-flight request to a ComfyUI server may wait for its answer, in
    /// seconds (short: a stalled server is reported in seconds, not after the generation
    /// request timeout).
    pub preflight_timeout_secs: u64,
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            kind: "builtin".into(),
            servers: Vec::new(),
            template: None,
            model: None,
            call_timeout_secs: 3600,
            request_timeout_secs: 120,
            reconnect_timeout_secs: 120,
            preflight_timeout_secs: 10,
        }
    }
}

impl BackendConfig {
    /// The built-in generator.
    pub fn builtin() -> Self {
        Self::default()
    }

    /// The `comfyui` backend on `servers`.
    pub fn comfyui(servers: Vec<String>) -> Self {
        Self {
            kind: "comfyui".into(),
            servers,
            ..Self::default()
        }
    }
}

/// Opens the backend `config` describes.
pub fn open_backend(config: &BackendConfig) -> Result<Box<dyn Backend>> {
    match config.kind.as_str() {
        "builtin" => Ok(Box::new(Builtin::from_env()?)),
        "comfyui" => Ok(Box::new(comfy::ComfyBackend::open(config)?)),
        "onnx" => {
            let manifest = config.model.as_ref().ok_or_else(|| {
                UserError::input("backend onnx: no model manifest given")
                    .hint("pass --model MODEL.toml (see models/*.toml)")
            })?;
            Ok(Box::new(onnx::OnnxBackend::open(manifest)?))
        }
        other => Err(UserError::input(format!("unknown backend {other:?}"))
            .hint(format!("use one of: {}", BACKENDS.join(", ")))),
    }
}

/// The identity of the backend `config` describes ([`Backend::identity`]), found without
/// contacting servers or probing devices where possible: the key of its measured cost law
/// and of its cached calls.
pub fn backend_identity(config: &BackendConfig) -> Result<String> {
    match config.kind.as_str() {
        "builtin" => Ok(builtin::identity(
            crate::flow::estimator_from_env()?.as_ref(),
        )),
        "comfyui" => {
            let template = match &config.template {
                Some(path) => comfy::template::Template::load(path)?,
                None => comfy::template::Template::wan_vace()?,
            };
            Ok(comfy::identity(&template))
        }
        _ => Ok(open_backend(config)?.identity()),
    }
}

/// Creates a backend by name with default settings.
pub fn backend_by_name(name: &str) -> Result<Box<dyn Backend>> {
    open_backend(&BackendConfig {
        kind: name.to_string(),
        ..BackendConfig::default()
    })
}
