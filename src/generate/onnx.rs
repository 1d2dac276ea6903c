//! The ONNX Runtime backend: models described by manifests (`models/*.toml`) with one of
//! two contracts.
//!
//! - `interpolator` (RIFE-style): `frame0`, `frame1` [1, 3, H, W] + `timestep` [1, 1, 1, 1]
//!   -> frame [1, 3, H, W]. Fills every generated frame of a call from the kept frames on
//!   either side at its time between them.
//! - `video`: `guide` [T, 3, H, W] + `mask` [T, 1, H, W] (1 = generate) -> frames
//!   [T, 3, H, W]: the whole call in one run.
//!
//! Frames are padded (edge replicate) to the manifest's size multiple and cropped back.
//! CUDA is used when it is usable here ([`crate::onnx::cuda_status`]; `WAYFARER_ONNX_CUDA=0`
//! never, `=1` always asks), with `error_on_failure` and an explicit CPU fallback that
//! [`OnnxBackend::provider`] reports.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndarray::{Array4, ArrayViewD};
use serde::Deserialize;

use super::{Backend, CallProgress, CancelToken, Capabilities, CheckItem, GenerationRequest};
use crate::error::{ErrorCategory, Result, UserError};
use crate::media::Frame;

/// Which contract a model follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Contract {
    /// Two frames and a time -> one frame.
    Interpolator,
    /// Guide and mask -> frames.
    Video,
}

/// What a generator model expects, read from its manifest.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorManifest {
    /// Model name.
    pub name: String,
    /// Contract.
    pub contract: Contract,
    /// ONNX file, relative to the manifest.
    pub file: PathBuf,
    /// Input names: `[frame0, frame1, timestep]` or `[guide, mask]`.
    pub inputs: Vec<String>,
    /// Output name.
    pub output: String,
    /// Pixel values the model uses for black and white.
    pub value_range: [f32; 2],
    /// Height and width must be multiples of this.
    pub size_multiple: u32,
}

impl crate::onnx::ModelManifest for GeneratorManifest {
    const FIELDS_HINT: &'static str =
        "see models/tiny_interpolator.toml and models/tiny_video.toml for the fields";

    fn model_file(&self) -> &Path {
        &self.file
    }

    fn numbers(&self) -> ([f32; 2], u32, Option<[u32; 2]>) {
        (self.value_range, self.size_multiple, None)
    }

    /// The inputs the contract needs.
    fn check(&self, path: &Path) -> Result<()> {
        let m = self;
        let want = match m.contract {
            Contract::Interpolator => 3,
            Contract::Video => 2,
        };
        if m.inputs.len() != want {
            return Err(UserError::input(format!(
                "model manifest {}: a {} model has {want} inputs, the manifest names {}",
                path.display(),
                match m.contract {
                    Contract::Interpolator => "interpolator",
                    Contract::Video => "video",
                },
                m.inputs.len()
            ))
            .hint(match m.contract {
                Contract::Interpolator => "inputs = [\"frame0\", \"frame1\", \"timestep\"]",
                Contract::Video => "inputs = [\"guide\", \"mask\"]",
            }));
        }
        Ok(())
    }
}

fn model_error(message: String) -> UserError {
    UserError::new(ErrorCategory::ModelLoading, message)
}

fn pipeline(message: String) -> UserError {
    UserError::new(ErrorCategory::GenerationPipeline, message)
}

impl GeneratorManifest {
    /// Reads a manifest and checks it; returns it, the model path and the manifest's text.
    pub fn load(path: &Path) -> Result<(Self, PathBuf)> {
        crate::onnx::load_manifest::<Self>(path).map(|(m, model, _)| (m, model))
    }
}

/// A generator on ONNX Runtime.
pub struct OnnxBackend {
    manifest: GeneratorManifest,
    session: Mutex<ort::session::Session>,
    provider: String,
    caps: Capabilities,
    /// Digest of the manifest and the model file (part of the identity).
    digest: String,
}

impl std::fmt::Debug for OnnxBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OnnxBackend({}, {})", self.manifest.name, self.provider)
    }
}

impl OnnxBackend {
    /// Loads the model `manifest` describes; on CUDA when usable (see the module docs).
    pub fn open(manifest: &Path) -> Result<Self> {
        let cuda = crate::onnx::want_cuda("WAYFARER_ONNX_CUDA");
        Self::load(manifest, cuda)
    }

    /// Loads the model; `cuda` asks for the CUDA execution provider (a failure falls back
    /// to the CPU, reported by [`Self::provider`]).
    pub fn load(manifest_path: &Path, cuda: bool) -> Result<Self> {
        let crate::onnx::LoadedModel {
            manifest,
            session,
            provider,
            digest,
        } = crate::onnx::load_model::<GeneratorManifest>(manifest_path, cuda)?;
        let caps = super::modes::shipped(match manifest.contract {
            Contract::Interpolator => "onnx-interpolator",
            Contract::Video => "onnx-video",
        })?;
        Ok(Self {
            manifest,
            session: Mutex::new(session),
            provider,
            caps,
            digest,
        })
    }

    /// The execution provider in use, e.g. `cuda`, `cpu` or `cpu (CUDA failed: ...)`.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The model's manifest.
    pub fn manifest(&self) -> &GeneratorManifest {
        &self.manifest
    }

    fn padded(&self, w: u32, h: u32) -> (usize, usize) {
        let m = self.manifest.size_multiple;
        ((w.div_ceil(m) * m) as usize, (h.div_ceil(m) * m) as usize)
    }

    fn to_value(&self, v: u8) -> f32 {
        let [lo, hi] = self.manifest.value_range;
        lo + f32::from(v) * (hi - lo) / 255.0
    }

    fn to_byte(&self, v: f32) -> u8 {
        let [lo, hi] = self.manifest.value_range;
        ((v - lo) / (hi - lo) * 255.0).round().clamp(0.0, 255.0) as u8
    }

    /// Writes frame `f` into `t[n, 0..3]` with edge-replicated padding.
    fn fill(&self, t: &mut Array4<f32>, n: usize, f: &Frame) {
        let (_, _, ph, pw) = t.dim();
        for y in 0..ph {
            let sy = (y as u32).min(f.height - 1);
            for x in 0..pw {
                let sx = (x as u32).min(f.width - 1);
                let p = f.pixel(sx, sy);
                for c in 0..3 {
                    t[[n, c, y, x]] = self.to_value(p[c]);
                }
            }
        }
    }

    fn read(&self, out: &ArrayViewD<'_, f32>, n: usize, w: u32, h: u32) -> Frame {
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h as usize {
            for x in 0..w as usize {
                for c in 0..3 {
                    data.push(self.to_byte(out[[n, c, y, x]]));
                }
            }
        }
        Frame {
            width: w,
            height: h,
            data,
        }
    }

    fn check_shape(&self, shape: &[usize], want: [usize; 4]) -> Result<()> {
        if shape != want {
            return Err(pipeline(format!(
                "{}: output {:?} has shape {shape:?}, expected {want:?}",
                self.manifest.name, self.manifest.output
            ))
            .hint("check the manifest's contract against the model"));
        }
        Ok(())
    }

    fn run_error(&self) -> impl Fn(ort::Error) -> UserError + '_ {
        move |e| {
            let text = e.to_string();
            let mut err = if text.to_ascii_lowercase().contains("out of memory")
                || text.contains("Failed to allocate")
            {
                let mut m = UserError::new(
                    ErrorCategory::Memory,
                    format!("{}: out of memory: {text}", self.manifest.name),
                );
                m.retryable = true;
                m
            } else {
                pipeline(format!("{}: inference failed: {text}", self.manifest.name))
            };
            if err.suggestions.is_empty() {
                err =
                    err.hint("check the manifest's input names and value range against the model");
            }
            err
        }
    }

    /// The frame at time `t` between `a` and `b` (interpolator contract).
    pub fn interpolate(&self, a: &Frame, b: &Frame, t: f32) -> Result<Frame> {
        if self.manifest.contract != Contract::Interpolator {
            return Err(model_error(format!(
                "{}: not an interpolator model (contract {:?})",
                self.manifest.name, self.manifest.contract
            ))
            .hint("choose a manifest with contract = \"interpolator\""));
        }
        let (pw, ph) = self.padded(a.width, a.height);
        let mut ta = Array4::<f32>::zeros((1, 3, ph, pw));
        let mut tb = Array4::<f32>::zeros((1, 3, ph, pw));
        self.fill(&mut ta, 0, a);
        self.fill(&mut tb, 0, b);
        let tt = Array4::<f32>::from_elem((1, 1, 1, 1), t);
        let mut out = self.run_model(&[&ta, &tb, &tt], [1, 3, ph, pw], a.width, a.height)?;
        out.pop()
            .ok_or_else(|| pipeline(format!("{}: no frame returned", self.manifest.name)))
    }

    /// One picture through a video-contract model: a one-frame guide with the mask set to
    /// `denoise` (0 keeps the picture, 1 generates it anew). Used as a keyframe source.
    pub fn image_to_image(&self, image: &Frame, denoise: f32) -> Result<Frame> {
        if self.manifest.contract != Contract::Video {
            return Err(model_error(format!(
                "{}: not a video model (contract {:?})",
                self.manifest.name, self.manifest.contract
            ))
            .hint("choose a manifest with contract = \"video\""));
        }
        let guide = crate::guide::CallGuide {
            frames: vec![image.clone()],
            classes: vec![crate::plan::FrameClass::Free],
            mask: vec![denoise.clamp(0.0, 1.0)],
            structured: vec![false],
        };
        self.run_video(&guide)?
            .into_iter()
            .next()
            .ok_or_else(|| pipeline(format!("{}: no frame returned", self.manifest.name)))
    }

    fn video(&self, request: &GenerationRequest<'_>) -> Result<Vec<Frame>> {
        self.run_video(request.guide)
    }

    fn run_video(&self, guide_in: &crate::guide::CallGuide) -> Result<Vec<Frame>> {
        let frames = &guide_in.frames;
        let n = frames.len();
        let (w, h) = (frames[0].width, frames[0].height);
        let (pw, ph) = self.padded(w, h);
        let mut guide = Array4::<f32>::zeros((n, 3, ph, pw));
        for (k, f) in frames.iter().enumerate() {
            self.fill(&mut guide, k, f);
        }
        let mask = Array4::<f32>::from_shape_fn((n, 1, ph, pw), |(k, _, _, _)| {
            guide_in.mask[k].clamp(0.0, 1.0)
        });
        self.run_model(&[&guide, &mask], [n, 3, ph, pw], w, h)
    }

    /// Runs the model on `tensors` (in the manifest's input order) and reads `shape[0]`
    /// frames of `w` x `h` from its output, which must have `shape`.
    fn run_model(
        &self,
        tensors: &[&Array4<f32>],
        shape: [usize; 4],
        w: u32,
        h: u32,
    ) -> Result<Vec<Frame>> {
        let err = self.run_error();
        let mut session = self
            .session
            .lock()
            .map_err(|_| pipeline("model session poisoned by an earlier failure".into()))?;
        let mut inputs: Vec<(String, ort::session::SessionInputValue<'_>)> = Vec::new();
        for (name, tensor) in self.manifest.inputs.iter().zip(tensors) {
            let view = ort::value::TensorRef::from_array_view(*tensor).map_err(&err)?;
            inputs.push((name.clone(), view.into()));
        }
        let outputs = session.run(inputs).map_err(&err)?;
        let value = outputs.get(&self.manifest.output).ok_or_else(|| {
            pipeline(format!(
                "{}: the model has no output named {:?}",
                self.manifest.name, self.manifest.output
            ))
        })?;
        let out = value.try_extract_array::<f32>().map_err(&err)?;
        self.check_shape(out.shape(), shape)?;
        Ok((0..shape[0]).map(|k| self.read(&out, k, w, h)).collect())
    }
}

impl Backend for OnnxBackend {
    fn name(&self) -> &'static str {
        "onnx"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn device(&self) -> String {
        format!("ONNX Runtime on {}", self.provider)
    }

    fn identity(&self) -> String {
        format!(
            "onnx/{}/{:?}#{}",
            self.manifest.name, self.manifest.contract, self.digest
        )
    }

    fn preflight(&self, _shape: &super::modes::RequestShape) -> Vec<CheckItem> {
        vec![super::preflight::item(
            "model",
            Ok(format!(
                "{} ({:?} contract) on {}",
                self.manifest.name, self.manifest.contract, self.provider
            )),
        )]
    }

    fn generate(
        &self,
        request: &GenerationRequest<'_>,
        progress: &mut dyn FnMut(CallProgress),
        cancel: &CancelToken,
    ) -> Result<Vec<Frame>> {
        let guide = request.guide;
        if guide.frames.is_empty() {
            return Err(UserError::input("a call with no frames"));
        }
        if self.manifest.contract == Contract::Video {
            let out = self.video(request)?;
            progress(CallProgress::fraction(1.0));
            return Ok(out);
        }
        let mut make = |i: usize, before: Option<usize>, after: Option<usize>| {
            Ok(match (before, after) {
                (Some(a), Some(b)) => self.interpolate(
                    &guide.frames[a],
                    &guide.frames[b],
                    (i - a) as f32 / (b - a) as f32,
                )?,
                (Some(k), None) | (None, Some(k)) => guide.frames[k].clone(),
                (None, None) => guide.frames[i].clone(),
            })
        };
        super::fill_generated(guide, progress, cancel, &mut make, &|a, b, m| {
            Ok(Frame::lerp(a, b, m))
        })
    }
}
