//! A stream session: the one sequence both front ends run — choose the keyframe generator
//! and the interpolator, start the async runtime, stream the plan to a sink.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{
    BuiltinInterpolator, BuiltinKeyframes, ComfyKeyframes, Interpolator, KeyframeGenerator,
    KeyframeSource, OnnxInterpolator, OnnxKeyframes, StreamConfig, StreamEvent, StreamPlan,
    StreamSummary,
};
use crate::error::{ErrorCategory, Result, UserError};
use crate::generate::{self, CancelToken};
use crate::media::Frame;

/// Where a stream's keyframes come from.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyframeChoice {
    /// The keyframe images themselves, after `latency` (to try the pipeline).
    Builtin {
        /// Time each keyframe takes.
        latency: Duration,
    },
    /// img2img on a ComfyUI server.
    ComfyUi {
        /// The server's address.
        server: String,
        /// API-format template; `None` is the shipped img2img template.
        template: Option<PathBuf>,
        /// Longest one keyframe may take.
        timeout: Duration,
    },
    /// A video-contract ONNX model (its manifest).
    Onnx(PathBuf),
}

/// What fills the frames between keyframes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolatorChoice {
    /// The built-in flow morph.
    Builtin,
    /// An interpolator-contract ONNX model (its manifest).
    Onnx(PathBuf),
}

/// A stream ready to run: the generator and interpolator opened, the runtime started.
pub struct Session {
    generator: Arc<dyn KeyframeGenerator>,
    interpolator: Box<dyn Interpolator>,
    runtime: tokio::runtime::Runtime,
}

impl Session {
    /// Opens the keyframe generator and the interpolator and starts the async runtime.
    pub fn open(keyframes: &KeyframeChoice, interpolator: &InterpolatorChoice) -> Result<Self> {
        let generator: Arc<dyn KeyframeGenerator> = match keyframes {
            KeyframeChoice::Builtin { latency } => Arc::new(BuiltinKeyframes { latency: *latency }),
            KeyframeChoice::ComfyUi {
                server,
                template,
                timeout,
            } => Arc::new(ComfyKeyframes::new(server, template.as_deref(), *timeout)?),
            KeyframeChoice::Onnx(manifest) => Arc::new(OnnxKeyframes(Arc::new(
                generate::onnx::OnnxBackend::open(manifest)?,
            ))),
        };
        let interpolator: Box<dyn Interpolator> = match interpolator {
            InterpolatorChoice::Builtin => Box::new(BuiltinInterpolator(Arc::new(
                generate::Builtin::from_env()?,
            ))),
            InterpolatorChoice::Onnx(manifest) => Box::new(OnnxInterpolator(Arc::new(
                generate::onnx::OnnxBackend::open(manifest)?,
            ))),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| {
                UserError::new(
                    ErrorCategory::SystemResource,
                    format!("cannot start the background runtime: {e}"),
                )
                .hint("close other programs to free threads and memory, then try again")
            })?;
        Ok(Self {
            generator,
            interpolator,
            runtime,
        })
    }

    /// Streams `plan`: every frame to `sink` in timeline order as soon as it exists,
    /// events to `events`; `cancel` stops it.
    pub fn run(
        &self,
        plan: &StreamPlan,
        config: &StreamConfig,
        sink: &mut dyn FnMut(u32, &Frame) -> Result<()>,
        events: &mut dyn FnMut(StreamEvent),
        cancel: &CancelToken,
    ) -> Result<StreamSummary> {
        self.runtime.block_on(async {
            let source = KeyframeSource::new(self.generator.clone());
            super::run(
                plan,
                &source,
                self.interpolator.as_ref(),
                config,
                sink,
                events,
                cancel,
            )
            .await
        })
    }
}
