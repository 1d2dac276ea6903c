//! The CPU implementation of [`Compute`](super::Compute) (rows in parallel with rayon).
//! Keep in sync with `shaders/*.wgsl`.

use rayon::prelude::*;

use super::{Compute, FlowField, check_crop, check_flow, check_same_size};
use crate::error::Result;
use crate::media::Frame;

/// Runs the compute operations on the CPU.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuCompute;

/// Bytes per parallel block of the blend.
const BLEND_BLOCK: usize = 1 << 16;

/// Rounds a 0..=255 float to a byte, half up (as the shaders do).
#[inline]
pub(super) fn to_u8(v: f32) -> u8 {
    (v + 0.5).floor().clamp(0.0, 255.0) as u8
}

/// [`to_u8`] for a value known to lie in `0..=255` (a weighted mean of bytes): `as`
/// truncates toward zero, which for `v + 0.5 >= 0` is the floor, and saturates at 255.
/// The same result, in a form the compiler vectorises.
#[inline]
fn mean_to_u8(v: f32) -> u8 {
    (v + 0.5) as u8
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

/// One output row of the warp: each pixel samples `src` bilinearly (border replicate) at
/// its own position plus `strength` times its flow vector. The same arithmetic as
/// `shaders/warp.wgsl`, with the pixel's position, weights and four source offsets worked
/// out once for its three channels.
#[inline]
fn warp_row(src: &Frame, flow: &[[f32; 2]], y: f32, strength: f32, row: &mut [u8]) {
    let (w, h) = (src.width as usize, src.height as usize);
    let (max_x, max_y) = ((w - 1) as f32, (h - 1) as f32);
    let data = &src.data[..];
    for ((x, d), out) in flow.iter().enumerate().zip(row.chunks_exact_mut(3)) {
        let sx = (x as f32 + strength * d[0]).clamp(0.0, max_x);
        let sy = (y + strength * d[1]).clamp(0.0, max_y);
        let (fx, fy) = (sx.floor(), sy.floor());
        let (ax, ay) = (sx - fx, sy - fy);
        let (x0, y0) = (fx as usize, fy as usize);
        let x1 = (x0 + 1).min(w - 1);
        let y1 = (y0 + 1).min(h - 1);
        let (r0, r1) = (y0 * w, y1 * w);
        let (i00, i10, i01, i11) = ((r0 + x0) * 3, (r0 + x1) * 3, (r1 + x0) * 3, (r1 + x1) * 3);
        let (p00, p10) = (&data[i00..i00 + 3], &data[i10..i10 + 3]);
        let (p01, p11) = (&data[i01..i01 + 3], &data[i11..i11 + 3]);
        for c in 0..3 {
            let top = f32::from(p00[c]) * (1.0 - ax) + f32::from(p10[c]) * ax;
            let bottom = f32::from(p01[c]) * (1.0 - ax) + f32::from(p11[c]) * ax;
            out[c] = mean_to_u8(top * (1.0 - ay) + bottom * ay);
        }
    }
}

/// The crop `(x, y, w, h)` of `src` resized to `width` x `height` in two passes, rows then
/// columns, with the taps of [`axis_taps`] (area average shrinking, bilinear enlarging):
/// each output pixel is the same weighted sum as taking every pair of taps at once, in
/// far fewer operations.
fn crop_resize_separable(
    src: &Frame,
    (cx, cy, cw, ch): (u32, u32, u32, u32),
    width: u32,
    height: u32,
) -> Frame {
    let x_taps: Vec<Vec<(u32, f32)>> = (0..width).map(|x| axis_taps(x, cw, width)).collect();
    let y_taps: Vec<Vec<(u32, f32)>> = (0..height).map(|y| axis_taps(y, ch, height)).collect();
    let out_w = width as usize;
    // When enlarging every pixel has two taps whose weights sum to one (1 - a, a): kept as
    // flat arrays of byte offsets and the second weight.
    let two_taps = (width > cw).then(|| {
        let mut i0 = Vec::with_capacity(out_w);
        let mut i1 = Vec::with_capacity(out_w);
        let mut w1 = Vec::with_capacity(out_w);
        for taps in &x_taps {
            i0.push(taps[0].0 as usize * 3);
            i1.push(taps[1].0 as usize * 3);
            w1.push(taps[1].1);
        }
        (i0, i1, w1)
    });
    // Pass 1: every crop row resized horizontally, kept as floats (3 per output pixel).
    let mut rows = vec![0.0f32; ch as usize * out_w * 3];
    rows.par_chunks_mut(out_w * 3)
        .enumerate()
        .for_each(|(sy, out)| {
            let base = ((cy as usize + sy) * src.width as usize + cx as usize) * 3;
            let line = &src.data[base..base + cw as usize * 3];
            if let Some((i0, i1, w1)) = &two_taps {
                // Enlarging: two taps per pixel, flattened (no tap lists to walk).
                for (((o, &a), &b), &w) in out.chunks_exact_mut(3).zip(i0).zip(i1).zip(w1) {
                    let (pa, pb) = (&line[a..a + 3], &line[b..b + 3]);
                    for c in 0..3 {
                        o[c] = f32::from(pa[c]) * (1.0 - w) + f32::from(pb[c]) * w;
                    }
                }
                return;
            }
            for (taps, o) in x_taps.iter().zip(out.chunks_exact_mut(3)) {
                let mut acc = [0.0f32; 3];
                for &(sx, wx) in taps {
                    let i = sx as usize * 3;
                    acc[0] += f32::from(line[i]) * wx;
                    acc[1] += f32::from(line[i + 1]) * wx;
                    acc[2] += f32::from(line[i + 2]) * wx;
                }
                o.copy_from_slice(&acc);
            }
        });
    // Pass 2: each output row from the rows its taps name.
    let mut data = vec![0u8; out_w * height as usize * 3];
    data.par_chunks_mut(out_w * 3)
        .zip(y_taps.par_iter())
        .for_each(|(row, taps)| {
            let line = |sy: u32| &rows[sy as usize * out_w * 3..(sy as usize + 1) * out_w * 3];
            if let [(s0, w0), (s1, w1)] = taps[..] {
                // Two taps (enlarging): one pass, no accumulator.
                for ((o, &a), &b) in row.iter_mut().zip(line(s0)).zip(line(s1)) {
                    *o = mean_to_u8(a * w0 + b * w1);
                }
                return;
            }
            let mut acc = vec![0.0f32; out_w * 3];
            for &(sy, wy) in taps {
                let line = &rows[sy as usize * out_w * 3..(sy as usize + 1) * out_w * 3];
                for (a, &v) in acc.iter_mut().zip(line) {
                    *a += v * wy;
                }
            }
            for (o, a) in row.iter_mut().zip(&acc) {
                *o = mean_to_u8(*a);
            }
        });
    Frame {
        width,
        height,
        data,
    }
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
        Ok(crop_resize_separable(src, crop, width, height))
    }

    fn warp(&self, src: &Frame, flow: &FlowField, strength: f32) -> Result<Frame> {
        check_flow(src, flow)?;
        let w = src.width as usize;
        let mut data = vec![0u8; src.data.len()];
        data.par_chunks_mut(w * 3).enumerate().for_each(|(y, row)| {
            warp_row(src, &flow.data[y * w..(y + 1) * w], y as f32, strength, row);
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
        // Every pair of bytes blends to one of 65,536 results, each computed once with the
        // per-byte formula; the frame is then a table lookup per byte.
        let table: Vec<u8> = (0..=u16::MAX)
            .map(|k| {
                let (x, y) = (f32::from((k >> 8) as u8), f32::from((k & 0xff) as u8));
                to_u8(x * (1.0 - t) + y * t)
            })
            .collect();
        let mut data = vec![0u8; a.data.len()];
        data.par_chunks_mut(BLEND_BLOCK)
            .zip(a.data.par_chunks(BLEND_BLOCK))
            .zip(b.data.par_chunks(BLEND_BLOCK))
            .for_each(|((out, x), y)| {
                for ((o, &x), &y) in out.iter_mut().zip(x).zip(y) {
                    *o = table[(usize::from(x) << 8) | usize::from(y)];
                }
            });
        Ok(Frame {
            width: a.width,
            height: a.height,
            data,
        })
    }
}
