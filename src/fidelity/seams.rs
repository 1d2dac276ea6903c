//! Aligning a chained call's overlap before it is crossfaded.
//!
//! A chained call regenerates the context frames it was given, and a model rarely puts them
//! back exactly where they were: crossfading the two versions then shows both (ghosting).
//! When the flow between the middle pair of the overlap says the two disagree (median
//! displacement above [`DISAGREE_PX`]), each overlap frame pair is morphed before the
//! crossfade: with `F` the flow from the incoming frame `I` to the outgoing frame `O`
//! (`O` warped backward by `F` matches `I`) and `a` the crossfade weight of `I`, the result
//! is `(1 - a) * O(x + a F) + a * I(x - (1 - a) F)`: both meet at the same place, which
//! moves from the outgoing call's to the incoming call's over the overlap.

use crate::error::Result;
use crate::flow::{DenseInverseSearch, FlowEstimator};
use crate::gpu::{Compute, CpuCompute, FlowField};
use crate::media::Frame;

/// Median displacement (pixels) between the two versions of the overlap's middle frame
/// above which the overlap is aligned.
pub const DISAGREE_PX: f32 = 0.5;

/// Aligns overlaps with the built-in flow estimator and the CPU kernels.
pub struct SeamAligner {
    estimator: DenseInverseSearch,
    compute: CpuCompute,
}

impl Default for SeamAligner {
    fn default() -> Self {
        Self {
            estimator: DenseInverseSearch::default(),
            compute: CpuCompute,
        }
    }
}

/// Median length of the vectors of `flow`, leaving out a margin of 1/16 of each side.
fn median_displacement(flow: &FlowField) -> f32 {
    let (w, h) = (flow.width as usize, flow.height as usize);
    let (mx, my) = (w / 16, h / 16);
    let mut lengths: Vec<f32> = (my..h - my)
        .step_by(2)
        .flat_map(|y| {
            flow.data[y * w + mx..y * w + w - mx]
                .iter()
                .step_by(2)
                .map(|v| v[0].hypot(v[1]))
        })
        .collect();
    if lengths.is_empty() {
        return 0.0;
    }
    let mid = lengths.len() / 2;
    *lengths.select_nth_unstable_by(mid, f32::total_cmp).1
}

impl SeamAligner {
    /// Crossfades `outgoing` into `incoming` (pairs of the same timeline frames) with the
    /// incoming weights `alpha`, aligning each pair first when the middle pair disagrees.
    /// Returns the joined frames and whether they were aligned.
    pub fn join(
        &self,
        outgoing: &[Frame],
        incoming: &[Frame],
        alpha: &dyn Fn(usize) -> f32,
    ) -> Result<(Vec<Frame>, bool)> {
        let n = outgoing.len().min(incoming.len());
        let plain = |i: usize| Frame::lerp(&outgoing[i], &incoming[i], alpha(i));
        if n == 0 {
            return Ok((Vec::new(), false));
        }
        let mid = n / 2;
        let middle_flow = self.estimator.estimate(&incoming[mid], &outgoing[mid])?;
        if median_displacement(&middle_flow) <= DISAGREE_PX {
            return Ok(((0..n).map(plain).collect(), false));
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let flow = if i == mid {
                middle_flow.clone()
            } else {
                self.estimator.estimate(&incoming[i], &outgoing[i])?
            };
            let a = alpha(i);
            let o = self.compute.warp(&outgoing[i], &flow, a)?;
            let inc = self.compute.warp(&incoming[i], &flow, -(1.0 - a))?;
            out.push(self.compute.blend(&o, &inc, a)?);
        }
        Ok((out, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::psnr;

    fn picture(w: u32, h: u32, dx: f32) -> Frame {
        let mut f = Frame::filled(w, h, [0, 0, 0]);
        for y in 0..h {
            for x in 0..w {
                let xf = x as f32 - dx;
                let v = 128.0
                    + 60.0 * (xf * 0.45).sin() * (y as f32 * 0.3).cos()
                    + 40.0 * ((xf + y as f32) * 0.05).sin();
                let i = ((y * w + x) * 3) as usize;
                f.data[i..i + 3].copy_from_slice(&[v as u8, (255.0 - v) as u8, (v * 0.5) as u8]);
            }
        }
        f
    }

    #[test]
    fn a_shifted_overlap_is_aligned_and_a_matching_one_is_only_crossfaded() {
        let (w, h) = (160, 96);
        let outgoing: Vec<Frame> = (0..4).map(|_| picture(w, h, 0.0)).collect();
        let incoming: Vec<Frame> = (0..4).map(|_| picture(w, h, 3.0)).collect();
        let alpha = |i: usize| crate::render::stitch::crossfade_alpha(i, 4);
        let aligner = SeamAligner::default();
        let (joined, aligned) = aligner.join(&outgoing, &incoming, &alpha).unwrap();
        assert!(aligned);
        // The middle of the morph is the picture shifted half way, not a double image.
        let halfway = picture(w, h, 3.0 * alpha(1));
        let plain = Frame::lerp(&outgoing[1], &incoming[1], alpha(1));
        let (morphed, ghost) = (psnr(&joined[1], &halfway), psnr(&plain, &halfway));
        assert!(
            morphed > ghost + 6.0,
            "aligned {morphed:.1} dB, crossfade {ghost:.1} dB"
        );
        let (same, aligned) = aligner.join(&outgoing, &outgoing, &alpha).unwrap();
        assert!(!aligned);
        assert_eq!(same[2], outgoing[2]);
    }
}
