//! The CPU path's pixel kernels in fixed point, written so the compiler vectorises them, and
//! compiled twice on x86-64: for the baseline CPU and for AVX2, picked at run time (as
//! OpenCV dispatches its own kernels). Both builds compute the same numbers, so the result
//! never depends on the machine. The warp and blend shaders in `shaders/` compute the same
//! as these; the resize shader keeps f32 weights (within one 8-bit level of these).
//!
//! - **Blend**: the weight `t` becomes `w = round(256 t)`, and each byte
//!   `(x (256 - w) + y w + 128) >> 8`.
//! - **Warp**: f32 bilinear, as the shader (`top = p00 (1 - ax) + p10 ax`, ..., rounded half
//!   up); on AVX2 eight pixels at a time with gathers (`gpu::avx2`), the same operations.
//! - **Resize**: taps as [`axis_taps`], weights in 1/2048 (each axis; rounded along the
//!   running sum so they add up to exactly 2048); rows first, each value `(Σ p w) >> 4` in
//!   16 bits, then columns, `(Σ h w + 2^17) >> 18` (OpenCV's linear resize keeps the same
//!   11-bit weights and 16-bit row sums); output rows in bands, so the row sums a band needs
//!   stay in cache.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::media::Frame;

/// Bits of a resize weight per axis (1/2048).
const RESIZE_BITS: u32 = 11;
/// Output rows per parallel band of the resize.
const RESIZE_BAND: usize = 24;
/// Bytes per parallel block of the blend.
const BLEND_BLOCK: usize = 1 << 16;

/// Runs `$body` compiled for AVX2 when the CPU has it, for the baseline CPU otherwise.
macro_rules! dispatch {
    ($generic:ident, $avx2:ident, ($($arg:expr),* $(,)?)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if use_avx2() {
                // SAFETY: the function only enables AVX2, which the CPU was just seen to have.
                unsafe { $avx2($($arg),*) }
            } else {
                $generic($($arg),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $generic($($arg),*)
        }
    }};
}

/// Whether the AVX2 builds run: when the CPU has AVX2 (and a test has not asked for the
/// baseline builds).
#[cfg(target_arch = "x86_64")]
fn use_avx2() -> bool {
    #[cfg(test)]
    if tests::BASELINE_ONLY.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    std::arch::is_x86_feature_detected!("avx2")
}

/// A byte of a kernel's output, not yet written.
pub(super) type Out = MaybeUninit<u8>;

/// A new buffer of `len` bytes, cut into chunks of `chunk` bytes (the last may be shorter)
/// that `fill` gets in parallel with their index. Every kernel's `fill` writes every byte
/// of its chunk; that is what makes the buffer's bytes initialised when it is returned,
/// without first clearing them (clearing costs as much as the whole blend).
fn fresh(len: usize, chunk: usize, fill: impl Fn(usize, &mut [Out]) + Sync) -> Vec<u8> {
    let mut data: Vec<u8> = Vec::with_capacity(len);
    data.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, c)| fill(i, c));
    // SAFETY: the capacity is `len`, and every byte below it was written by `fill` (see
    // above; each kernel's loops cover its whole chunk).
    unsafe { data.set_len(len) };
    data
}

/// The blend weight of the second frame in 1/256, `round(256 t)` with `t` clamped to 0..=1;
/// the shader computes the same.
pub(super) fn blend_weight(t: f32) -> u16 {
    (t.clamp(0.0, 1.0) * 256.0 + 0.5) as u16
}

#[expect(
    clippy::inline_always,
    reason = "inlined into its AVX2 twin, which compiles it for AVX2"
)]
#[inline(always)]
fn blend_block(out: &mut [Out], a: &[u8], b: &[u8], w: u16) {
    let iw = 256 - w;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        o.write(((u16::from(x) * iw + u16::from(y) * w + 128) >> 8) as u8);
    }
}

/// [`blend_block`] with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn blend_block_avx2(out: &mut [Out], a: &[u8], b: &[u8], w: u16) {
    blend_block(out, a, b, w);
}

/// `a * (1 - t) + b * t` per byte (see the module's formula); `a` and `b` the same length.
pub(super) fn blend(a: &[u8], b: &[u8], t: f32) -> Vec<u8> {
    let w = blend_weight(t);
    let len = a.len().min(b.len());
    fresh(len, BLEND_BLOCK, |i, out| {
        let (x, y) = (&a[i * BLEND_BLOCK..], &b[i * BLEND_BLOCK..]);
        dispatch!(blend_block, blend_block_avx2, (out, x, y, w));
    })
}

/// One pixel of the warp: `src` sampled bilinearly (border replicate) at `(x, y)` plus
/// `strength` times the flow vector `d`; a position that is not a number samples 0.
#[expect(
    clippy::inline_always,
    reason = "inlined into its AVX2 twin, which compiles it for AVX2"
)]
#[inline(always)]
pub(super) fn warp_pixel(
    src: &[u8],
    (w, h): (usize, usize),
    d: [f32; 2],
    (x, y, strength): (f32, f32, f32),
    out: &mut [Out],
) {
    let sx = (x + strength * d[0]).max(0.0).min((w - 1) as f32);
    let sy = (y + strength * d[1]).max(0.0).min((h - 1) as f32);
    let (fx, fy) = (sx.floor(), sy.floor());
    let (ax, ay) = (sx - fx, sy - fy);
    let (x0, y0) = (fx as usize, fy as usize);
    let x1 = (x0 + 1).min(w - 1);
    let (r0, r1) = (y0 * w, (y0 + 1).min(h - 1) * w);
    let (i00, i10, i01, i11) = ((r0 + x0) * 3, (r0 + x1) * 3, (r1 + x0) * 3, (r1 + x1) * 3);
    let (p00, p10) = (&src[i00..i00 + 3], &src[i10..i10 + 3]);
    let (p01, p11) = (&src[i01..i01 + 3], &src[i11..i11 + 3]);
    for c in 0..3 {
        let top = f32::from(p00[c]) * (1.0 - ax) + f32::from(p10[c]) * ax;
        let bottom = f32::from(p01[c]) * (1.0 - ax) + f32::from(p11[c]) * ax;
        // A weighted mean of bytes: `as` after adding 0.5 rounds half up.
        out[c].write((top * (1.0 - ay) + bottom * ay + 0.5) as u8);
    }
}

/// Calls `row_fn(y, flow row, output row)` for rows `first_row..` of `rows`.
#[expect(
    clippy::inline_always,
    reason = "inlined into its AVX2 twin, which compiles it for AVX2"
)]
#[inline(always)]
fn each_row(
    rows: &mut [Out],
    flow: &[[f32; 2]],
    (w, first_row): (usize, usize),
    mut row_fn: impl FnMut(usize, &[[f32; 2]], &mut [Out]),
) {
    for (i, row) in rows.chunks_exact_mut(w * 3).enumerate() {
        let y = first_row + i;
        row_fn(y, &flow[y * w..(y + 1) * w], row);
    }
}

/// Rows `first_row..` of the warp, one pixel at a time.
fn warp_rows(
    src: &[u8],
    size: (usize, usize),
    flow: &[[f32; 2]],
    (first_row, strength): (usize, f32),
    rows: &mut [Out],
) {
    each_row(rows, flow, (size.0, first_row), |y, f, row| {
        for (x, (d, px)) in f.iter().zip(row.chunks_exact_mut(3)).enumerate() {
            warp_pixel(src, size, *d, (x as f32, y as f32, strength), px);
        }
    });
}

/// [`warp_rows`] eight pixels at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn warp_rows_avx2(
    src: &[u8],
    size: (usize, usize),
    flow: &[[f32; 2]],
    (first_row, strength): (usize, f32),
    rows: &mut [Out],
) {
    each_row(rows, flow, (size.0, first_row), |y, f, row| {
        super::avx2::warp_row(src, size, f, (y as f32, strength), row);
    });
}

/// Backward warp of an RGB frame by a flow field of the same size (see the module's
/// formula).
pub(super) fn warp(src: &Frame, flow: &[[f32; 2]], strength: f32) -> Vec<u8> {
    let size = (src.width as usize, src.height as usize);
    let band = 8;
    fresh(src.data.len(), size.0 * 3 * band, |b, rows| {
        let at = (b * band, strength);
        dispatch!(warp_rows, warp_rows_avx2, (&src.data, size, flow, at, rows));
    })
}

/// Source taps and weights of one output coordinate along one axis.
///
/// Shrinking: the output pixel covers `[o * scale, (o + 1) * scale)` of the source, and each
/// source pixel weighs its overlap (area average). Enlarging: bilinear between the two
/// nearest pixel centres, `s = (o + 0.5) * scale - 0.5`, clamped at the border.
/// The taps are pushed onto `taps` (emptied first).
fn axis_taps(o: u32, src_len: u32, dst_len: u32, taps: &mut Vec<(u32, f32)>) {
    taps.clear();
    let scale = src_len as f32 / dst_len as f32;
    if scale > 1.0 {
        let start = o as f32 * scale;
        let end = start + scale;
        let mut i = start.floor() as u32;
        while (i as f32) < end && i < src_len {
            let w = (end.min(i as f32 + 1.0) - start.max(i as f32)).max(0.0);
            if w > 0.0 {
                taps.push((i, w / scale));
            }
            i += 1;
        }
    } else {
        let s = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (s.floor() as u32).min(src_len - 1);
        let i1 = (i0 + 1).min(src_len - 1);
        let a = s - i0 as f32;
        taps.extend_from_slice(&[(i0, 1.0 - a), (i1, a)]);
    }
}

/// The taps of every output coordinate along one axis, weights in 1/2048.
struct Axis {
    /// Per output coordinate: the first of its entries in `taps`, and how many.
    spans: Vec<(usize, usize)>,
    /// Source index and weight; the weights of one coordinate add up to 2048.
    taps: Vec<(usize, u32)>,
}

impl Axis {
    fn new(src_len: u32, dst_len: u32) -> Self {
        let mut spans = Vec::with_capacity(dst_len as usize);
        let mut taps = Vec::new();
        let one = (1u32 << RESIZE_BITS) as f32;
        let mut t = Vec::new();
        for o in 0..dst_len {
            axis_taps(o, src_len, dst_len, &mut t);
            let total: f32 = t.iter().map(|&(_, w)| w).sum();
            spans.push((taps.len(), t.len()));
            // Rounded along the running sum: the weights add up to exactly 2048, and each
            // is within 1/2048 of its exact value.
            let (mut sum, mut given) = (0.0f32, 0u32);
            for &(i, w) in &t {
                sum += w;
                let upto = (sum / total * one + 0.5) as u32;
                taps.push((i as usize, upto - given));
                given = upto;
            }
        }
        Self { spans, taps }
    }

    /// The source range that output coordinates `range` read.
    fn sources(&self, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
        let mut lo = usize::MAX;
        let mut hi = 0;
        for &(first, n) in &self.spans[range] {
            for &(i, _) in &self.taps[first..first + n] {
                lo = lo.min(i);
                hi = hi.max(i + 1);
            }
        }
        lo..hi.max(lo)
    }
}

/// Right shift of a horizontal sum `Σ p w` (at most 255 x 2048) into 16 bits.
const SUM_SHIFT: u32 = 4;
/// Right shift of a vertical sum `Σ h w` back to a byte.
const OUT_SHIFT: u32 = 2 * RESIZE_BITS - SUM_SHIFT;

/// The horizontal taps of a resize whose output pixels each read one source pixel and the
/// next (enlarging, or shrinking by less than half): per output pixel the byte offset of
/// the first in the crop's row, and eight weights `w0 w1 w0 w1 w0 w1 0 0` (the layout the
/// AVX2 path multiplies with).
pub(super) struct Pairs {
    /// Byte offset of each output pixel's first source pixel.
    pub(super) offsets: Vec<i32>,
    /// Eight weights per output pixel.
    pub(super) weights: Vec<i16>,
    /// When every four consecutive output pixels read within 16 bytes of the first one's
    /// offset (enlarging): per group of four, the byte shuffles that spread those 16 bytes
    /// into pixels 1 and 3, then 2 and 4 (as the AVX2 path lays them out).
    pub(super) shuffles: Option<Vec<[i8; 64]>>,
    /// The weights again per group of four output pixels, in the AVX2 path's order:
    /// pixels 1 and 3, then 2 and 4.
    pub(super) grouped: Vec<[i16; 32]>,
}

impl Pairs {
    fn of(x: &Axis) -> Option<Self> {
        let mut p = Self {
            offsets: Vec::with_capacity(x.spans.len()),
            weights: Vec::with_capacity(x.spans.len() * 8),
            shuffles: None,
            grouped: Vec::new(),
        };
        for &(first, count) in &x.spans {
            let (i0, w0, w1) = match x.taps[first..first + count] {
                [(i0, w0), (i1, w1)] if i1 == i0 + 1 => (i0, w0, w1),
                [(i0, w0), (i1, w1)] if i1 == i0 => (i0, w0 + w1, 0),
                [(i0, w0)] => (i0, w0, 0),
                _ => return None,
            };
            p.offsets.push(i32::try_from(i0 * 3).ok()?);
            let (w0, w1) = (w0 as i16, w1 as i16);
            p.weights.extend_from_slice(&[w0, w1, w0, w1, w0, w1, 0, 0]);
        }
        p.shuffles = p.group_shuffles();
        p.grouped = p
            .weights
            .chunks_exact(32)
            .map(|w| {
                let mut g = [0i16; 32];
                for (at, j) in [0, 2, 1, 3].into_iter().enumerate() {
                    g[at * 8..at * 8 + 8].copy_from_slice(&w[j * 8..j * 8 + 8]);
                }
                g
            })
            .collect();
        Some(p)
    }

    /// The shuffles of [`Pairs::shuffles`], if every group of four fits in 16 bytes.
    fn group_shuffles(&self) -> Option<Vec<[i8; 64]>> {
        let mut out = Vec::with_capacity(self.offsets.len() / 4);
        for (g, group) in self.offsets.chunks_exact(4).enumerate() {
            let mut mask = [-1i8; 64];
            for (j, &offset) in group.iter().enumerate() {
                let rel = offset - group[0];
                let second = self.weights[(g * 4 + j) * 8 + 1] != 0;
                let last = rel + if second { 5 } else { 2 };
                if !(0..16).contains(&last) {
                    return None;
                }
                // Pixels 1 and 3 in the first 32 bytes, 2 and 4 in the next; each 16 bytes
                // as pairs `r0 r1 g0 g1 b0 b1 0 0` of 16-bit values.
                let at = [0, 32, 16, 48][j];
                for c in 0..3 {
                    mask[at + c * 4] = (rel + c as i32) as i8;
                    if second {
                        mask[at + c * 4 + 2] = (rel + 3 + c as i32) as i8;
                    }
                }
            }
            out.push(mask);
        }
        Some(out)
    }
}

/// Output pixel `k` of a row resized with [`Pairs`]: `[R, G, B, 0]`, each
/// `(p0 w0 + p1 w1) >> 4` (`data` starts at the crop's row).
#[expect(
    clippy::inline_always,
    reason = "inlined into its AVX2 twin, which compiles it for AVX2"
)]
#[inline(always)]
pub(super) fn pair_pixel(data: &[u8], pairs: &Pairs, k: usize, out: &mut [i16]) {
    let i = pairs.offsets[k] as usize;
    let (w0, w1) = (
        i32::from(pairs.weights[k * 8]),
        i32::from(pairs.weights[k * 8 + 1]),
    );
    for c in 0..3 {
        let second = if w1 == 0 {
            0
        } else {
            i32::from(data[i + 3 + c]) * w1
        };
        out[c] = ((i32::from(data[i + c]) * w0 + second) >> SUM_SHIFT) as i16;
    }
    out[3] = 0;
}

/// One source row (`data` from the crop's row start to the end of the frame) resized
/// horizontally: four 16-bit values per output pixel, `[R, G, B, 0]`, each `(Σ p w) >> 4`.
#[expect(
    clippy::inline_always,
    reason = "inlined into its AVX2 twin, which compiles it for AVX2"
)]
#[inline(always)]
fn resize_row<const AVX2: bool>(data: &[u8], job: &ResizeJob, out: &mut [i16]) {
    if let Some(p) = job.pairs {
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: `AVX2` is true only in `resize_band_avx2`, which runs only on a CPU
            // with AVX2.
            unsafe { super::avx2::resize_pairs_row(data, p, out) };
            return;
        }
        for (k, o) in out.chunks_exact_mut(4).enumerate() {
            pair_pixel(data, p, k, o);
        }
        return;
    }
    let x = job.x;
    for (o, &(first, n)) in out.chunks_exact_mut(4).zip(&x.spans) {
        let mut acc = [0u32; 3];
        for &(i, w) in &x.taps[first..first + n] {
            let p = &data[i * 3..i * 3 + 3];
            acc[0] += u32::from(p[0]) * w;
            acc[1] += u32::from(p[1]) * w;
            acc[2] += u32::from(p[2]) * w;
        }
        for c in 0..3 {
            o[c] = (acc[c] >> SUM_SHIFT) as i16;
        }
        o[3] = 0;
    }
}

/// What one band of the resize reads.
struct ResizeJob<'a> {
    src: &'a Frame,
    crop: (u32, u32, u32, u32),
    x: &'a Axis,
    y: &'a Axis,
    pairs: Option<&'a Pairs>,
}

/// Row sums and an accumulator for the resize.
type Scratch = (Vec<i16>, Vec<i32>);

thread_local! {
    /// Each worker thread's row sums and accumulator for the resize, kept between bands
    /// (every value is written before it is read).
    static SCRATCH: std::cell::RefCell<Scratch> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

/// Output rows `first..first + rows.len() / (out_w * 3)`.
#[expect(
    clippy::inline_always,
    reason = "inlined into its AVX2 twin, which compiles it for AVX2"
)]
#[inline(always)]
fn resize_band<const AVX2: bool>(
    job: &ResizeJob,
    first: usize,
    rows: &mut [Out],
    (sums, acc): &mut Scratch,
) {
    let out_w = job.x.spans.len();
    let (out_w3, out_w4) = (out_w * 3, out_w * 4);
    let count = rows.len() / out_w3;
    let needed = job.y.sources(first..first + count);
    let (cx, cy, _, _) = job.crop;
    if sums.len() < needed.len() * out_w4 {
        sums.resize(needed.len() * out_w4, 0);
    }
    if acc.len() < out_w4 {
        acc.resize(out_w4, 0);
    }
    let acc = &mut acc[..out_w4];
    for (k, s) in sums[..needed.len() * out_w4]
        .chunks_exact_mut(out_w4)
        .enumerate()
    {
        let sy = cy as usize + needed.start + k;
        let base = (sy * job.src.width as usize + cx as usize) * 3;
        resize_row::<AVX2>(&job.src.data[base..], job, s);
    }
    let line = |i: usize| &sums[(i - needed.start) * out_w4..(i - needed.start + 1) * out_w4];
    let round = 1i32 << (OUT_SHIFT - 1);
    for (k, row) in rows.chunks_exact_mut(out_w3).enumerate() {
        let (start, n) = job.y.spans[first + k];
        let taps = &job.y.taps[start..start + n];
        #[cfg(target_arch = "x86_64")]
        if AVX2 && let [(i0, w0), (i1, w1)] = *taps {
            // SAFETY: as in `resize_row`.
            unsafe { super::avx2::resize_column_pair(line(i0), line(i1), (w0, w1), row) };
            continue;
        }
        acc.fill(round);
        for &(i, w) in taps {
            for (a, &v) in acc.iter_mut().zip(line(i)) {
                *a += i32::from(v) * w as i32;
            }
        }
        for (o, a) in row.chunks_exact_mut(3).zip(acc.chunks_exact(4)) {
            for c in 0..3 {
                o[c].write((a[c] >> OUT_SHIFT) as u8);
            }
        }
    }
}

/// [`resize_band`] for the baseline CPU.
fn resize_band_generic(job: &ResizeJob, first: usize, rows: &mut [Out], scratch: &mut Scratch) {
    resize_band::<false>(job, first, rows, scratch);
}

/// [`resize_band`] with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn resize_band_avx2(job: &ResizeJob, first: usize, rows: &mut [Out], scratch: &mut Scratch) {
    resize_band::<true>(job, first, rows, scratch);
}

/// The crop `(x, y, w, h)` of `src` resized to `width` x `height` (area average shrinking,
/// bilinear enlarging; see the module's formula).
pub(super) fn crop_resize(
    src: &Frame,
    crop: (u32, u32, u32, u32),
    width: u32,
    height: u32,
) -> Vec<u8> {
    let x = Axis::new(crop.2, width);
    let y = Axis::new(crop.3, height);
    let pairs = Pairs::of(&x);
    let job = ResizeJob {
        src,
        crop,
        x: &x,
        y: &y,
        pairs: pairs.as_ref(),
    };
    let out_w3 = width as usize * 3;
    fresh(out_w3 * height as usize, out_w3 * RESIZE_BAND, |b, rows| {
        SCRATCH.with_borrow_mut(|scratch| {
            let first = b * RESIZE_BAND;
            dispatch!(
                resize_band_generic,
                resize_band_avx2,
                (&job, first, rows, scratch)
            );
        });
    })
}

#[cfg(test)]
#[path = "kernels_tests.rs"]
mod tests;
