//! Optical flow: [`FlowEstimator`] and the built-in estimator that needs no weights.
//!
//! Convention: `estimate(a, b)` returns the flow `F` with `a(x) ~ b(x + F(x))`, so warping
//! `b` backward by `F` (see [`crate::gpu::Compute::warp`]) reproduces `a`.
//! [`FlowCache`] keeps estimated flows on disk; [`RaftOnnx`] runs RAFT-style ONNX models.
//! Must not know about projects or the UI.

mod builtin;
pub mod cache;
pub mod raft;

pub use builtin::PyramidalLucasKanade;
pub use cache::FlowCache;
pub use raft::{FlowManifest, RaftOnnx};

use crate::error::Result;
use crate::gpu::FlowField;
use crate::media::Frame;

/// Estimates dense motion between two frames of the same size.
pub trait FlowEstimator: Send + Sync {
    /// Identity of the estimator and its settings (part of cache keys).
    fn identity(&self) -> String;

    /// The flow `F` with `a(x) ~ b(x + F(x))`.
    fn estimate(&self, a: &Frame, b: &Frame) -> Result<FlowField>;
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
