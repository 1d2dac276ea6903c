//! The luminance image both built-in estimators work on.

use rayon::prelude::*;

use crate::media::Frame;

/// A luminance image (Rec. 601 weights), one `f32` per pixel, row by row.
#[derive(Clone)]
pub(super) struct Gray {
    /// Width in pixels.
    pub(super) w: usize,
    /// Height in pixels.
    pub(super) h: usize,
    /// Values, `0..=255`.
    pub(super) v: Vec<f32>,
}

impl Gray {
    /// The luminance of an RGB frame.
    pub(super) fn from_frame(f: &Frame) -> Self {
        let v = f
            .data
            .par_chunks_exact(3)
            .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
            .collect();
        Self {
            w: f.width as usize,
            h: f.height as usize,
            v,
        }
    }
}
