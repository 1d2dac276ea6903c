//! Optical flow: [`FlowEstimator`] and the built-in estimators that need no weights: dense
//! inverse search ([`DenseInverseSearch`], the default; [`DisWgpu`] runs it on a GPU) and
//! pyramidal Lucas-Kanade.
//!
//! Convention: `estimate(a, b)` returns the flow `F` with `a(x) ~ b(x + F(x))`, so warping
//! `b` backward by `F` (see [`crate::gpu::Compute::warp`]) reproduces `a`.
//! [`FlowCache`] keeps estimated flows on disk; [`RaftOnnx`] runs RAFT-style ONNX models.
//! Must not know about projects or the UI.

mod builtin;
pub mod cache;
pub mod dis;
pub mod dis_wgpu;
pub mod flo;
mod gray;
pub mod raft;
mod refine;

pub use builtin::PyramidalLucasKanade;
pub use cache::FlowCache;
pub use dis::{DenseInverseSearch, DisPreset};
pub use dis_wgpu::DisWgpu;
pub use flo::{read_flo, write_flo};
pub use raft::{FlowManifest, RaftOnnx};

use crate::error::Result;
use crate::gpu::FlowField;
use crate::media::Frame;

/// Estimates dense motion between two frames of the same size.
pub trait FlowEstimator: Send + Sync {
    /// Identity of the estimator and its settings (part of cache keys).
    fn identity(&self) -> String;

    /// The estimator and where it runs, for people (e.g. the execution provider).
    fn describe(&self) -> String {
        self.identity()
    }

    /// The flow `F` with `a(x) ~ b(x + F(x))`.
    fn estimate(&self, a: &Frame, b: &Frame) -> Result<FlowField>;
}

/// Refuses a pair of frames no estimator can work on: different sizes, or smaller than 2x2.
pub(crate) fn check_pair(a: &Frame, b: &Frame) -> Result<()> {
    if (a.width, a.height) != (b.width, b.height) || a.width < 2 || a.height < 2 {
        return Err(crate::error::UserError::new(
            crate::error::ErrorCategory::GenerationPipeline,
            format!(
                "flow needs two frames of one size (at least 2x2), got {}x{} and {}x{}",
                a.width, a.height, b.width, b.height
            ),
        ));
    }
    Ok(())
}

/// Mean end-point error between two flow fields over the pixels at least `margin` pixels
/// inside the border.
pub fn mean_epe(a: &FlowField, b: &FlowField, margin: u32) -> f64 {
    let mut sum = 0.0;
    let mut n = 0usize;
    for y in margin..a.height.saturating_sub(margin) {
        for x in margin..a.width.saturating_sub(margin) {
            let (p, q) = (a.at(x, y), b.at(x, y));
            sum += f64::from(((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt());
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// A picture of a flow field: hue is the direction, saturation the length (relative to
/// `max_len`, or the longest vector when `None`), white where there is no motion.
pub fn flow_to_color(flow: &FlowField, max_len: Option<f32>) -> Frame {
    let longest = max_len.unwrap_or_else(|| {
        flow.data
            .iter()
            .map(|v| (v[0] * v[0] + v[1] * v[1]).sqrt())
            .fold(0.0f32, f32::max)
    });
    let scale = if longest > 1e-6 { 1.0 / longest } else { 0.0 };
    let mut data = Vec::with_capacity(flow.data.len() * 3);
    for v in &flow.data {
        let len = ((v[0] * v[0] + v[1] * v[1]).sqrt() * scale).min(1.0);
        let hue = (v[1].atan2(v[0]) / std::f32::consts::TAU).rem_euclid(1.0) * 6.0;
        let sector = hue.floor() as i32 % 6;
        let f = hue - hue.floor();
        let (r, g, b) = match sector {
            0 => (1.0, f, 0.0),
            1 => (1.0 - f, 1.0, 0.0),
            2 => (0.0, 1.0, f),
            3 => (0.0, 1.0 - f, 1.0),
            4 => (f, 0.0, 1.0),
            _ => (1.0, 0.0, 1.0 - f),
        };
        for c in [r, g, b] {
            // Blend from white (no motion) to the full colour.
            data.push(((1.0 - len + len * c) * 255.0).round() as u8);
        }
    }
    Frame {
        width: flow.width,
        height: flow.height,
        data,
    }
}

/// Environment variable naming a flow model manifest (e.g. `models/raft_small.toml`);
/// unset, the built-in estimator is used.
pub const FLOW_MODEL_ENV: &str = "WAYFARER_FLOW_MODEL";

/// Environment variable choosing the built-in estimator's preset (`fast`, `medium`, `fine`).
pub const FLOW_PRESET_ENV: &str = "WAYFARER_FLOW_PRESET";

/// The built-in estimator with the preset `WAYFARER_FLOW_PRESET` names (`medium` when
/// unset); an unknown name is an error that lists the presets.
pub fn builtin_from_env() -> crate::error::Result<DenseInverseSearch> {
    match std::env::var(FLOW_PRESET_ENV).as_deref() {
        Err(_) | Ok("") => Ok(DenseInverseSearch::default()),
        Ok(name) => DisPreset::from_name(name)
            .map(DenseInverseSearch::preset)
            .ok_or_else(|| {
                crate::error::UserError::input(format!(
                    "{FLOW_PRESET_ENV}={name}: no such flow preset"
                ))
                .hint("use fast, medium (the default) or fine")
            }),
    }
}

/// The built-in estimator with `settings`, where `WAYFARER_COMPUTE` says: on a GPU through
/// wgpu when a hardware adapter exists (`auto`, the default) or always (`wgpu`, a software
/// adapter too), else on the CPU (`cpu`, or no usable adapter). The two compute the same
/// field (within 0.05 px).
pub fn builtin_for(settings: DenseInverseSearch) -> Result<Box<dyn FlowEstimator>> {
    match crate::gpu::Choice::from_env()? {
        crate::gpu::Choice::Cpu => Ok(Box::new(settings)),
        crate::gpu::Choice::Wgpu => Ok(Box::new(DisWgpu::new(settings, true)?)),
        crate::gpu::Choice::Auto => Ok(match DisWgpu::new(settings, false) {
            Ok(gpu) => Box::new(gpu),
            Err(_) => Box::new(settings),
        }),
    }
}

/// The flow estimator to use: RAFT through ONNX Runtime when `WAYFARER_FLOW_MODEL` names a
/// manifest (on CUDA when it is usable; `WAYFARER_FLOW_CUDA=0` never, `=1` always asks),
/// else the built-in dense inverse search (preset from `WAYFARER_FLOW_PRESET`) on the
/// device [`builtin_for`] picks.
pub fn estimator_from_env() -> crate::error::Result<Box<dyn FlowEstimator>> {
    match std::env::var_os(FLOW_MODEL_ENV) {
        Some(manifest) if !manifest.is_empty() => {
            let cuda = crate::onnx::want_cuda("WAYFARER_FLOW_CUDA");
            Ok(Box::new(RaftOnnx::load(
                std::path::Path::new(&manifest),
                cuda,
            )?))
        }
        _ => builtin_for(builtin_from_env()?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_colours_show_direction_and_length() {
        let mut f = FlowField::uniform(3, 1, 0.0, 0.0);
        f.data[1] = [2.0, 0.0];
        f.data[2] = [-2.0, 0.0];
        let img = flow_to_color(&f, None);
        assert_eq!(img.pixel(0, 0), [255, 255, 255], "no motion is white");
        assert_eq!(img.pixel(1, 0), [255, 0, 0], "right is red");
        assert_eq!(img.pixel(2, 0), [0, 255, 255], "left is cyan");
    }
}
