//! RAFT-style optical flow through ONNX Runtime, described by a manifest (`models/*.toml`):
//! input and output names, value range, size multiple, a fixed size when the export baked
//! one in. Frames are padded (edge replicate) to the size multiple, or resized to the fixed
//! size, and the flow is cropped or resized back (vectors scaled).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndarray::Array4;
use serde::Deserialize;

use super::FlowEstimator;
use crate::error::{ErrorCategory, Result, UserError};
use crate::gpu::{FlowField, resize_flow};
use crate::media::Frame;

/// What a RAFT-style ONNX model expects, read from its manifest.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowManifest {
    /// Model name.
    pub name: String,
    /// ONNX file, relative to the manifest.
    pub file: PathBuf,
    /// Names of the two image inputs, [N, 3, H, W] RGB.
    pub inputs: [String; 2],
    /// Name of the flow output, [N, 2, H, W] in pixels.
    pub output: String,
    /// Pixel values the model expects for black and white, e.g. [-1, 1] or [0, 255].
    pub value_range: [f32; 2],
    /// Height and width must be multiples of this.
    pub size_multiple: u32,
    /// Input size baked into the export, [height, width].
    #[serde(default)]
    pub fixed_size: Option<[u32; 2]>,
    /// Refinement iterations baked into the export (for the record).
    #[serde(default)]
    pub iterations: u32,
}

impl FlowManifest {
    /// Reads a manifest; errors name the field.
    pub fn load(path: &Path) -> Result<(Self, PathBuf)> {
        crate::onnx::load_manifest::<Self>(path).map(|(m, model, _)| (m, model))
    }
}

impl crate::onnx::ModelManifest for FlowManifest {
    const FIELDS_HINT: &'static str = "see models/raft_small.toml for the fields";

    fn model_file(&self) -> &Path {
        &self.file
    }

    fn numbers(&self) -> ([f32; 2], u32, Option<[u32; 2]>) {
        (self.value_range, self.size_multiple, self.fixed_size)
    }
}

/// A RAFT-style flow estimator on ONNX Runtime.
pub struct RaftOnnx {
    manifest: FlowManifest,
    session: Mutex<ort::session::Session>,
    provider: String,
    /// Digest of the manifest and the model file (part of the identity).
    digest: String,
}

impl std::fmt::Debug for RaftOnnx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RaftOnnx({}, {})", self.manifest.name, self.provider)
    }
}

fn pipeline(message: String) -> UserError {
    UserError::new(ErrorCategory::GenerationPipeline, message)
}

impl RaftOnnx {
    /// Loads the model a manifest describes; `cuda` asks for the CUDA execution provider
    /// (a failure falls back to the CPU, reported by [`Self::provider`]).
    pub fn load(manifest_path: &Path, cuda: bool) -> Result<Self> {
        let crate::onnx::LoadedModel {
            manifest,
            session,
            provider,
            digest,
        } = crate::onnx::load_model::<FlowManifest>(manifest_path, cuda)?;
        Ok(Self {
            manifest,
            session: Mutex::new(session),
            provider,
            digest,
        })
    }

    /// The execution provider in use, e.g. `cpu` or `cpu (CUDA failed: ...)`.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// Size fed to the model for a `w` x `h` frame.
    fn model_size(&self, w: u32, h: u32) -> (u32, u32) {
        if let Some([fh, fw]) = self.manifest.fixed_size {
            (fw, fh)
        } else {
            let m = self.manifest.size_multiple;
            (w.div_ceil(m) * m, h.div_ceil(m) * m)
        }
    }

    fn tensor(&self, frame: &Frame, mw: u32, mh: u32) -> Array4<f32> {
        let [lo, hi] = self.manifest.value_range;
        let scale = (hi - lo) / 255.0;
        let fixed = self.manifest.fixed_size.is_some();
        let src = if fixed {
            let img = frame.clone().into_rgb_image();
            Frame::from_rgb_image(image::imageops::resize(
                &img,
                mw,
                mh,
                image::imageops::FilterType::Triangle,
            ))
        } else {
            frame.clone()
        };
        Array4::from_shape_fn((1, 3, mh as usize, mw as usize), |(_, c, y, x)| {
            // Padding replicates the last row and column.
            let x = (x as u32).min(src.width - 1);
            let y = (y as u32).min(src.height - 1);
            lo + f32::from(src.pixel(x, y)[c]) * scale
        })
    }
}

impl FlowEstimator for RaftOnnx {
    fn identity(&self) -> String {
        format!(
            "raft-onnx/{}/iterations={}#{}",
            self.manifest.name, self.manifest.iterations, self.digest
        )
    }

    fn describe(&self) -> String {
        format!("{} on {}", self.identity(), self.provider)
    }

    fn estimate(&self, a: &Frame, b: &Frame) -> Result<FlowField> {
        if (a.width, a.height) != (b.width, b.height) {
            return Err(pipeline(format!(
                "flow needs two frames of one size, got {}x{} and {}x{}",
                a.width, a.height, b.width, b.height
            )));
        }
        let (mw, mh) = self.model_size(a.width, a.height);
        let (ta, tb) = (self.tensor(a, mw, mh), self.tensor(b, mw, mh));
        let run_error =
            |e: ort::Error| pipeline(format!("{}: inference failed: {e}", self.manifest.name));
        let mut session = self
            .session
            .lock()
            .map_err(|_| pipeline("flow model session poisoned by an earlier failure".into()))?;
        let inputs = ort::inputs![
            self.manifest.inputs[0].as_str() => ort::value::TensorRef::from_array_view(&ta).map_err(run_error)?,
            self.manifest.inputs[1].as_str() => ort::value::TensorRef::from_array_view(&tb).map_err(run_error)?,
        ];
        let outputs = session.run(inputs).map_err(run_error)?;
        let value = outputs.get(&self.manifest.output).ok_or_else(|| {
            pipeline(format!(
                "{}: the model has no output named {:?}",
                self.manifest.name, self.manifest.output
            ))
        })?;
        let flow = value.try_extract_array::<f32>().map_err(run_error)?;
        let shape = flow.shape().to_vec();
        if shape.len() != 4 || shape[1] != 2 || shape[2] != mh as usize || shape[3] != mw as usize {
            return Err(pipeline(format!(
                "{}: flow output has shape {shape:?}, expected [1, 2, {mh}, {mw}]",
                self.manifest.name
            )));
        }
        let model_flow = FlowField {
            width: mw,
            height: mh,
            data: (0..(mw * mh) as usize)
                .map(|i| {
                    let (y, x) = (i / mw as usize, i % mw as usize);
                    [flow[[0, 0, y, x]], flow[[0, 1, y, x]]]
                })
                .collect(),
        };
        if self.manifest.fixed_size.is_some() {
            return Ok(resize_flow(&model_flow, a.width, a.height));
        }
        // Crop the padding away.
        let data = (0..a.height)
            .flat_map(|y| (0..a.width).map(move |x| (x, y)))
            .map(|(x, y)| model_flow.at(x, y))
            .collect();
        Ok(FlowField {
            width: a.width,
            height: a.height,
            data,
        })
    }
}
