//! Keyframe generators and interpolators: built-in (no model), ONNX Runtime, ComfyUI.

use std::sync::Arc;
use std::time::Duration;

use super::{BoxFuture, Interpolator, KeyframeGenerator, KeyframeRequest};
use crate::error::{ErrorCategory, Result, UserError};
use crate::generate::comfy::client::{Client, Outcome};
use crate::generate::comfy::template::{Template, Values};
use crate::generate::onnx::OnnxBackend;
use crate::generate::{Builtin, CancelToken};
use crate::media::Frame;

/// No model: returns the input picture after `latency` (for tests and demos; the latency
/// stands in for a generator's time).
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinKeyframes {
    /// Time each keyframe takes.
    pub latency: Duration,
}

impl KeyframeGenerator for BuiltinKeyframes {
    fn name(&self) -> String {
        format!("builtin (latency {} ms)", self.latency.as_millis())
    }

    fn generate(&self, request: KeyframeRequest, _cancel: CancelToken) -> BoxFuture<Result<Frame>> {
        let latency = self.latency;
        Box::pin(async move {
            tokio::time::sleep(latency).await;
            Ok((*request.image).clone())
        })
    }
}

/// A cross-dissolve that takes `cost` per frame (for tests and benchmarks: the cost stands
/// in for an interpolation network's time).
#[derive(Debug, Clone, Copy, Default)]
pub struct LinearInterpolator {
    /// Time each frame takes.
    pub cost: Duration,
}

impl Interpolator for LinearInterpolator {
    fn name(&self) -> String {
        format!("dissolve ({} ms/frame)", self.cost.as_millis())
    }

    fn interpolate(&self, a: Arc<Frame>, b: Arc<Frame>, t: f32) -> BoxFuture<Result<Frame>> {
        let cost = self.cost;
        Box::pin(async move {
            tokio::time::sleep(cost).await;
            Ok(Frame::lerp(&a, &b, t))
        })
    }
}

/// The built-in flow-guided morph, run on the blocking pool.
pub struct BuiltinInterpolator(pub Arc<Builtin>);

impl Interpolator for BuiltinInterpolator {
    fn name(&self) -> String {
        "builtin flow morph".into()
    }

    fn interpolate(&self, a: Arc<Frame>, b: Arc<Frame>, t: f32) -> BoxFuture<Result<Frame>> {
        let builtin = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || builtin.interpolate(&a, &b, t))
                .await
                .map_err(|e| joined(&e))?
        })
    }
}

/// An ONNX model with the interpolator contract, run on the blocking pool.
pub struct OnnxInterpolator(pub Arc<OnnxBackend>);

impl Interpolator for OnnxInterpolator {
    fn name(&self) -> String {
        format!("onnx {} on {}", self.0.manifest().name, self.0.provider())
    }

    fn interpolate(&self, a: Arc<Frame>, b: Arc<Frame>, t: f32) -> BoxFuture<Result<Frame>> {
        let model = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || model.interpolate(&a, &b, t))
                .await
                .map_err(|e| joined(&e))?
        })
    }
}

/// An ONNX model with the video contract as an image-to-image keyframe generator.
pub struct OnnxKeyframes(pub Arc<OnnxBackend>);

impl KeyframeGenerator for OnnxKeyframes {
    fn name(&self) -> String {
        format!("onnx {} on {}", self.0.manifest().name, self.0.provider())
    }

    fn generate(&self, request: KeyframeRequest, _cancel: CancelToken) -> BoxFuture<Result<Frame>> {
        let model = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                model.image_to_image(&request.image, request.denoise)
            })
            .await
            .map_err(|e| joined(&e))?
        })
    }
}

fn joined(e: &tokio::task::JoinError) -> UserError {
    UserError::new(
        ErrorCategory::GenerationPipeline,
        format!("a background task stopped: {e}"),
    )
}

/// Keyframes as img2img calls on a ComfyUI server through its queue API: upload the input
/// picture, queue the template (`assets/workflows/img2img_keyframe.json` by default), wait
/// on `/ws` or `/history`, download the output picture.
pub struct ComfyKeyframes {
    client: Client,
    template: Arc<Template>,
    steps: u32,
    timeout: Duration,
    /// Subfolder of the server's input folder this stream uploads into.
    upload_folder: String,
}

impl ComfyKeyframes {
    /// A generator on `server` with `template` (the shipped one when `None`).
    pub fn new(
        server: &str,
        template: Option<&std::path::Path>,
        timeout: Duration,
    ) -> Result<Self> {
        let template = match template {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| UserError::io("reading", p, &e))?;
                Template::parse_with(
                    &text,
                    &p.display().to_string(),
                    crate::generate::comfy::template::KEYFRAME_REQUIRED,
                )?
            }
            None => Template::img2img()?,
        };
        Ok(Self {
            client: Client::new(server, Duration::from_secs(30))?,
            template: Arc::new(template),
            steps: 4,
            timeout,
            upload_folder: crate::generate::comfy::upload_folder(),
        })
    }
}

impl KeyframeGenerator for ComfyKeyframes {
    fn name(&self) -> String {
        format!("comfyui {}", self.client.base)
    }

    fn generate(&self, request: KeyframeRequest, cancel: CancelToken) -> BoxFuture<Result<Frame>> {
        // A client id per prompt: ComfyUI sends a prompt's events only to the newest socket
        // of its client id, and keyframes are generated several at a time.
        let (client, template, steps, timeout, folder) = (
            self.client.for_prompt(),
            self.template.clone(),
            self.steps,
            self.timeout,
            self.upload_folder.clone(),
        );
        Box::pin(async move {
            let mut png = Vec::new();
            request
                .image
                .as_ref()
                .clone()
                .into_rgb_image()
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .map_err(|e| {
                    UserError::new(ErrorCategory::GenerationPipeline, format!("PNG: {e}"))
                })?;
            let name = format!(
                "wayfarer_keyframe_{}.png",
                &blake3::hash(&png).to_hex()[..16]
            );
            let uploaded = client.upload(png, &name, &folder).await?;
            let prompt = template.fill(&Values {
                prompt: request.prompt.clone(),
                negative: request.negative.clone(),
                seed: request.seed,
                steps,
                cfg: 1.0,
                width: request.image.width,
                height: request.image.height,
                call: request.index,
                image: uploaded,
                denoise: request.denoise,
                ..Values::default()
            });
            let deadline = crate::generate::deadline_after(timeout);
            let (queued, outcome) = crate::generate::comfy::run_prompt(
                &client,
                &prompt,
                &mut |_| {},
                &cancel,
                deadline,
            )
            .await?;
            let files = match outcome {
                Outcome::Success(files) => files,
                Outcome::Error {
                    exception_type,
                    message,
                    ..
                } => {
                    return Err(UserError::new(
                        ErrorCategory::GenerationPipeline,
                        format!("ComfyUI {}: {exception_type}: {message}", client.base),
                    ));
                }
                Outcome::Interrupted => return Err(UserError::cancelled()),
            };
            let file = crate::generate::comfy::pick_output(&files).ok_or_else(|| {
                crate::generate::comfy::no_output(&client.base, queued.skipped.as_deref())
            })?;
            let bytes = client.download(&file).await?;
            let frame = crate::media::decode_image_bytes(&bytes).map_err(|e| {
                crate::generate::comfy::client::network(
                    &client.base,
                    format!(
                        "the output {:?} is not a usable picture: {e}",
                        file.filename
                    ),
                )
            })?;
            crate::media::crop_fit(&frame, request.image.width, request.image.height)
        })
    }
}
