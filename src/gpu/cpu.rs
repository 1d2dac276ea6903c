//! The CPU implementation of [`Compute`](super::Compute) (rows in parallel with rayon).
//! Keep in sync with `shaders/*.wgsl`.

use rayon::prelude::*;

use super::{Compute, FlowField, check_crop, check_flow, check_same_size};
use crate::error::Result;
use crate::media::Frame;

/// Runs the compute operations on the CPU.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuCompute;

/// Rounds a 0..=255 float to a byte, half up (as the shaders do).
#[inline]
pub(super) fn to_u8(v: f32) -> u8 {
    (v + 0.5).floor().clamp(0.0, 255.0) as u8
}

/// Source taps and weights of one output coordinate along one axis.
///
/// Shrinking: the output pixel covers `[o * scale, (o + 1) * scale)` of the source, and each
/// source pixel weighs its overlap (area average). Enlarging: bilinear between the two
/// nearest pixel centres, `s = (o + 0.5) * scale - 0.5`, clamped at the border.
pub(super) fn axis_taps(o: u32, src_len: u32, dst_len: u32) -> Vec<(u32, f32)> {
    let scale = src_len as f32 / dst_len as f32;
    if scale > 1.0 {
        let start = o as f32 * scale;
        let end = start + scale;
        let mut taps = Vec::new();
        let mut i = start.floor() as u32;
        while (i as f32) < end && i < src_len {
            let w = (end.min(i as f32 + 1.0) - start.max(i as f32)).max(0.0);
            if w > 0.0 {
                taps.push((i, w / scale));
            }
            i += 1;
        }
        taps
    } else {
        let s = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (s.floor() as u32).min(src_len - 1);
        let i1 = (i0 + 1).min(src_len - 1);
        let a = s - i0 as f32;
        vec![(i0, 1.0 - a), (i1, a)]
    }
}

/// Bilinear sample of channel `c` at (`x`, `y`) with border replicate.
#[inline]
fn sample(src: &Frame, x: f32, y: f32, c: usize) -> f32 {
    let max_x = (src.width - 1) as f32;
    let max_y = (src.height - 1) as f32;
    let x = x.clamp(0.0, max_x);
    let y = y.clamp(0.0, max_y);
    let (x0, y0) = (x.floor(), y.floor());
    let (ax, ay) = (x - x0, y - y0);
    let (x0, y0) = (x0 as u32, y0 as u32);
    let x1 = (x0 + 1).min(src.width - 1);
    let y1 = (y0 + 1).min(src.height - 1);
    let p = |xx: u32, yy: u32| f32::from(src.data[((yy * src.width + xx) * 3) as usize + c]);
    let top = p(x0, y0) * (1.0 - ax) + p(x1, y0) * ax;
    let bottom = p(x0, y1) * (1.0 - ax) + p(x1, y1) * ax;
    top * (1.0 - ay) + bottom * ay
}

impl Compute for CpuCompute {
    fn name(&self) -> String {
        "cpu".into()
    }

    fn crop_resize(
        &self,
        src: &Frame,
        crop: (u32, u32, u32, u32),
        width: u32,
        height: u32,
    ) -> Result<Frame> {
        check_crop(src, crop, width, height)?;
        let (cx, cy, cw, ch) = crop;
        let x_taps: Vec<Vec<(u32, f32)>> = (0..width).map(|x| axis_taps(x, cw, width)).collect();
        let mut data = vec![0u8; width as usize * height as usize * 3];
        data.par_chunks_mut(width as usize * 3)
            .enumerate()
            .for_each(|(y, row)| {
                let y_taps = axis_taps(y as u32, ch, height);
                for (x, taps) in x_taps.iter().enumerate() {
                    let mut acc = [0.0f32; 3];
                    for &(sy, wy) in &y_taps {
                        for &(sx, wx) in taps {
                            let i = (((cy + sy) * src.width + cx + sx) * 3) as usize;
                            for (c, a) in acc.iter_mut().enumerate() {
                                *a += f32::from(src.data[i + c]) * wx * wy;
                            }
                        }
                    }
                    for c in 0..3 {
                        row[x * 3 + c] = to_u8(acc[c]);
                    }
                }
            });
        Ok(Frame {
            width,
            height,
            data,
        })
    }

    fn warp(&self, src: &Frame, flow: &FlowField, strength: f32) -> Result<Frame> {
        check_flow(src, flow)?;
        let w = src.width as usize;
        let mut data = vec![0u8; src.data.len()];
        data.par_chunks_mut(w * 3).enumerate().for_each(|(y, row)| {
            for x in 0..w {
                let [dx, dy] = flow.data[y * w + x];
                let sx = x as f32 + strength * dx;
                let sy = y as f32 + strength * dy;
                for c in 0..3 {
                    row[x * 3 + c] = to_u8(sample(src, sx, sy, c));
                }
            }
        });
        Ok(Frame {
            width: src.width,
            height: src.height,
            data,
        })
    }

    fn resize_flow(&self, flow: &FlowField, width: u32, height: u32) -> Result<FlowField> {
        super::check_flow_size(flow, width, height)?;
        Ok(super::resize_flow(flow, width, height))
    }

    fn blend(&self, a: &Frame, b: &Frame, t: f32) -> Result<Frame> {
        check_same_size(a, b)?;
        let data = a
            .data
            .par_iter()
            .zip(&b.data)
            .map(|(&x, &y)| to_u8(f32::from(x) * (1.0 - t) + f32::from(y) * t))
            .collect();
        Ok(Frame {
            width: a.width,
            height: a.height,
            data,
        })
    }
}
