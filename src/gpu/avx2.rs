//! AVX2 versions of the CPU path's gathers (x86-64 only; [`super::kernels`] calls them when
//! the CPU has AVX2). Each computes exactly what its scalar twin in `kernels` computes, eight
//! pixels or values at a time: the same f32 or integer operations in the same order, no
//! fused multiply-add, so the result never depends on the machine.
//!
//! Every load is bounds-checked before it is made: offsets come from positions clamped to
//! the frame, and a group of eight whose 4-byte gathers would reach past the end of the data
//! goes to the scalar twin instead.

use std::arch::x86_64::{
    __m256, __m256i, _mm_cmpgt_epi32, _mm_extract_epi32, _mm_loadu_si128, _mm_movemask_epi8,
    _mm_set1_epi32, _mm_storel_epi64, _mm_storeu_si128, _mm256_add_epi32, _mm256_add_ps,
    _mm256_and_si256, _mm256_broadcastsi128_si256, _mm256_castpd_ps, _mm256_castps_pd,
    _mm256_castsi256_si128, _mm256_cmpgt_epi32, _mm256_cvtepi32_ps, _mm256_cvttps_epi32,
    _mm256_extracti128_si256, _mm256_floor_ps, _mm256_i32gather_epi32, _mm256_i32gather_epi64,
    _mm256_loadu_ps, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_max_ps, _mm256_min_epi32,
    _mm256_min_ps, _mm256_movemask_epi8, _mm256_mul_ps, _mm256_mullo_epi32, _mm256_or_si256,
    _mm256_packs_epi32, _mm256_packus_epi16, _mm256_permute4x64_epi64, _mm256_permute4x64_pd,
    _mm256_set1_epi32, _mm256_set1_ps, _mm256_setr_epi8, _mm256_setr_ps, _mm256_shuffle_epi8,
    _mm256_shuffle_ps, _mm256_slli_epi32, _mm256_srai_epi32, _mm256_srli_epi32,
    _mm256_storeu_si256, _mm256_sub_ps, _mm256_unpackhi_epi16, _mm256_unpacklo_epi16,
};

use super::kernels::{Out, Pairs, pair_pixel, warp_pixel};

/// The eight flow vectors at `flow[0..8]` as their x and y parts.
#[target_feature(enable = "avx2")]
fn split_flow(flow: &[[f32; 2]]) -> (__m256, __m256) {
    let floats: &[f32] = bytemuck::cast_slice(&flow[..8]);
    // SAFETY: `floats` holds 16 values; each load reads 8.
    let (lo, hi) = unsafe {
        (
            _mm256_loadu_ps(floats.as_ptr()),
            _mm256_loadu_ps(floats.as_ptr().add(8)),
        )
    };
    // Per 128-bit half: x0 x1 x4 x5 | x2 x3 x6 x7, then the halves' middle swapped.
    let xs = _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi);
    let ys = _mm256_shuffle_ps::<0b11_01_11_01>(lo, hi);
    let order =
        |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)));
    (order(xs), order(ys))
}

/// One row of the warp (see `kernels::warp_row`): eight pixels at a time, the rest and any
/// group that would read past the data by the scalar twin.
#[target_feature(enable = "avx2")]
pub(super) fn warp_row(
    src: &[u8],
    (w, h): (usize, usize),
    flow: &[[f32; 2]],
    (y, strength): (f32, f32),
    row: &mut [Out],
) {
    let (max_x, max_y) = ((w - 1) as f32, (h - 1) as f32);
    let one = _mm256_set1_ps(1.0);
    let half = _mm256_set1_ps(0.5);
    let zero = _mm256_set1_ps(0.0);
    let s = _mm256_set1_ps(strength);
    let (mx, my) = (_mm256_set1_ps(max_x), _mm256_set1_ps(max_y));
    let (last_x, last_y) = (
        _mm256_set1_epi32(w as i32 - 1),
        _mm256_set1_epi32(h as i32 - 1),
    );
    let width = _mm256_set1_epi32(w as i32);
    let three = _mm256_set1_epi32(3);
    // A 4-byte gather at an offset above this reads past the end of `src`.
    let limit = _mm256_set1_epi32(src.len() as i32 - 4);
    let byte = _mm256_set1_epi32(0xff);
    let vy = _mm256_set1_ps(y);
    // Each 128-bit half's four pixels (RGBx words) packed into its first 12 bytes.
    let pack = _mm256_setr_epi8(
        0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13,
        14, -1, -1, -1, -1,
    );
    let groups = w / 8;
    for g in 0..groups {
        let x = g * 8;
        let (dx, dy) = split_flow(&flow[x..x + 8]);
        let xf = x as f32;
        let xs = _mm256_setr_ps(
            xf,
            xf + 1.0,
            xf + 2.0,
            xf + 3.0,
            xf + 4.0,
            xf + 5.0,
            xf + 6.0,
            xf + 7.0,
        );
        let sx = _mm256_min_ps(
            _mm256_max_ps(_mm256_add_ps(xs, _mm256_mul_ps(s, dx)), zero),
            mx,
        );
        let sy = _mm256_min_ps(
            _mm256_max_ps(_mm256_add_ps(vy, _mm256_mul_ps(s, dy)), zero),
            my,
        );
        let (fx, fy) = (_mm256_floor_ps(sx), _mm256_floor_ps(sy));
        let (ax, ay) = (_mm256_sub_ps(sx, fx), _mm256_sub_ps(sy, fy));
        let (x0, y0) = (_mm256_cvttps_epi32(fx), _mm256_cvttps_epi32(fy));
        let x1 = _mm256_min_epi32(_mm256_add_epi32(x0, _mm256_set1_epi32(1)), last_x);
        let y1 = _mm256_min_epi32(_mm256_add_epi32(y0, _mm256_set1_epi32(1)), last_y);
        let (r0, r1) = (_mm256_mullo_epi32(y0, width), _mm256_mullo_epi32(y1, width));
        let at = |r: __m256i, c: __m256i| _mm256_mullo_epi32(_mm256_add_epi32(r, c), three);
        let (o00, o10, o01, o11) = (at(r0, x0), at(r0, x1), at(r1, x0), at(r1, x1));
        let out = &mut row[x * 3..];
        // `o11` is the largest of the four offsets.
        if _mm256_movemask_epi8(_mm256_cmpgt_epi32(o11, limit)) != 0 {
            for (i, px) in out[..24].chunks_exact_mut(3).enumerate() {
                warp_pixel(src, (w, h), flow[x + i], ((x + i) as f32, y, strength), px);
            }
            continue;
        }
        #[expect(
            clippy::cast_ptr_alignment,
            reason = "gathers read unaligned; the intrinsic only names the element type"
        )]
        let base = src.as_ptr().cast::<i32>();
        // SAFETY: every offset is that of a pixel of `src` (positions clamped to the frame)
        // and at most `src.len() - 4` (checked above), so each 4-byte read lies in `src`.
        let (g00, g10, g01, g11) = unsafe {
            (
                _mm256_i32gather_epi32::<1>(base, o00),
                _mm256_i32gather_epi32::<1>(base, o10),
                _mm256_i32gather_epi32::<1>(base, o01),
                _mm256_i32gather_epi32::<1>(base, o11),
            )
        };
        let (ix, iy) = (_mm256_sub_ps(one, ax), _mm256_sub_ps(one, ay));
        let channel = |g: __m256i, shift: i32| {
            let v = match shift {
                0 => g,
                8 => _mm256_srli_epi32::<8>(g),
                _ => _mm256_srli_epi32::<16>(g),
            };
            _mm256_cvtepi32_ps(_mm256_and_si256(v, byte))
        };
        let mut word = _mm256_set1_epi32(0);
        for (k, shift) in [0, 8, 16].into_iter().enumerate() {
            let top = _mm256_add_ps(
                _mm256_mul_ps(channel(g00, shift), ix),
                _mm256_mul_ps(channel(g10, shift), ax),
            );
            let bottom = _mm256_add_ps(
                _mm256_mul_ps(channel(g01, shift), ix),
                _mm256_mul_ps(channel(g11, shift), ax),
            );
            let v = _mm256_add_ps(_mm256_mul_ps(top, iy), _mm256_mul_ps(bottom, ay));
            let q = _mm256_cvttps_epi32(_mm256_add_ps(v, half));
            word = _mm256_or_si256(
                word,
                match k {
                    0 => q,
                    1 => _mm256_slli_epi32::<8>(q),
                    _ => _mm256_slli_epi32::<16>(q),
                },
            );
        }
        store_24(_mm256_shuffle_epi8(word, pack), out);
    }
    for x in groups * 8..w {
        let px = &mut row[x * 3..x * 3 + 3];
        warp_pixel(src, (w, h), flow[x], (x as f32, y, strength), px);
    }
}

/// One row of a resize with [`Pairs`] (see `kernels::pair_pixel`), four output pixels at a
/// time: one 8-byte gather per pixel holds both its source pixels, a byte shuffle spreads
/// them into 16-bit pairs `r0 r1 g0 g1 b0 b1 0 0`, and one multiply-add by the pixel's
/// weights gives its three sums.
#[target_feature(enable = "avx2")]
pub(super) fn resize_pairs_row(data: &[u8], pairs: &Pairs, out: &mut [i16]) {
    let n = pairs.offsets.len().min(out.len() / 4);
    // An 8-byte gather at an offset above this reads past the end of `data`.
    let limit = _mm_set1_epi32(i32::try_from(data.len()).unwrap_or(i32::MAX) - 8);
    let first = _mm256_setr_epi8(
        0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, 0, -1, 3, -1, 1, -1, 4, -1, 2,
        -1, 5, -1, -1, -1, -1, -1,
    );
    let second = _mm256_setr_epi8(
        8, -1, 11, -1, 9, -1, 12, -1, 10, -1, 13, -1, -1, -1, -1, -1, 8, -1, 11, -1, 9, -1, 12, -1,
        10, -1, 13, -1, -1, -1, -1, -1,
    );
    #[expect(
        clippy::cast_ptr_alignment,
        reason = "gathers read unaligned; the intrinsic only names the element type"
    )]
    let base = data.as_ptr().cast::<i64>();
    // The weights of pixels k and k + 2, then k + 1 and k + 3 (`k` a multiple of 4).
    let weights = |k: usize| {
        let g = &pairs.grouped[k / 4];
        // SAFETY: `g` holds thirty-two 16-bit values.
        unsafe {
            (
                _mm256_loadu_si256(g.as_ptr().cast()),
                _mm256_loadu_si256(g.as_ptr().add(16).cast()),
            )
        }
    };
    let mut k = 0;
    if let Some(shuffles) = &pairs.shuffles {
        let end = data.len().saturating_sub(16);
        while k + 4 <= n {
            let at = pairs.offsets[k] as usize;
            let o = &mut out[k * 4..k * 4 + 16];
            if at > end {
                for (j, px) in o.chunks_exact_mut(4).enumerate() {
                    pair_pixel(data, pairs, k + j, px);
                }
                k += 4;
                continue;
            }
            let mask = &shuffles[k / 4];
            // SAFETY: 16 bytes from `at` lie in `data` (checked above); `mask` holds 64.
            let (bytes, m1, m2) = unsafe {
                (
                    _mm_loadu_si128(data.as_ptr().add(at).cast()),
                    _mm256_loadu_si256(mask.as_ptr().cast()),
                    _mm256_loadu_si256(mask.as_ptr().add(32).cast()),
                )
            };
            let both = _mm256_broadcastsi128_si256(bytes);
            let (s1, s2) = (_mm256_shuffle_epi8(both, m1), _mm256_shuffle_epi8(both, m2));
            let (w1, w2) = weights(k);
            let m1 = _mm256_srai_epi32::<4>(_mm256_madd_epi16(s1, w1));
            let m2 = _mm256_srai_epi32::<4>(_mm256_madd_epi16(s2, w2));
            // SAFETY: `o` holds sixteen 16-bit values.
            unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), _mm256_packs_epi32(m1, m2)) };
            k += 4;
        }
    }
    while k + 4 <= n {
        let offsets = &pairs.offsets[k..k + 4];
        // SAFETY: `offsets` holds four values.
        let idx = unsafe { _mm_loadu_si128(offsets.as_ptr().cast()) };
        if _mm_movemask_epi8(_mm_cmpgt_epi32(idx, limit)) != 0 {
            for (j, o) in out[k * 4..k * 4 + 16].chunks_exact_mut(4).enumerate() {
                pair_pixel(data, pairs, k + j, o);
            }
            k += 4;
            continue;
        }
        // SAFETY: every offset is at most `data.len() - 8` (checked above) and not negative
        // (a byte offset in the crop's row), so each 8-byte read lies in `data`.
        let g = unsafe { _mm256_i32gather_epi64::<1>(base, idx) };
        // Pixels k and k + 2, then k + 1 and k + 3 (one per 128-bit half).
        let (s1, s2) = (
            _mm256_shuffle_epi8(g, first),
            _mm256_shuffle_epi8(g, second),
        );
        let (w1, w2) = weights(k);
        let m1 = _mm256_srai_epi32::<4>(_mm256_madd_epi16(s1, w1));
        let m2 = _mm256_srai_epi32::<4>(_mm256_madd_epi16(s2, w2));
        let sums = _mm256_packs_epi32(m1, m2);
        let o = &mut out[k * 4..k * 4 + 16];
        // SAFETY: `o` holds sixteen 16-bit values.
        unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast(), sums) };
        k += 4;
    }
    for (j, o) in out[k * 4..n * 4].chunks_exact_mut(4).enumerate() {
        pair_pixel(data, pairs, k + j, o);
    }
}

/// An output row from two rows of sums (`[R, G, B, 0]` per pixel) weighted `w0`, `w1`:
/// `(a w0 + b w1 + 2^17) >> 18` per channel, eight pixels at a time.
#[target_feature(enable = "avx2")]
pub(super) fn resize_column_pair(a: &[i16], b: &[i16], (w0, w1): (u32, u32), row: &mut [Out]) {
    let n = (a.len() / 4).min(b.len() / 4).min(row.len() / 3);
    let weights = _mm256_set1_epi32(((w1 << 16) | w0) as i32);
    let round = _mm256_set1_epi32(1 << 17);
    let compact = _mm256_setr_epi8(
        0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13,
        14, -1, -1, -1, -1,
    );
    // Four pixels (sixteen values) of each row.
    let four = |at: usize| {
        let (x, y) = (&a[at..at + 16], &b[at..at + 16]);
        // SAFETY: `x` and `y` hold sixteen 16-bit values each.
        let (x, y) = unsafe {
            (
                _mm256_loadu_si256(x.as_ptr().cast()),
                _mm256_loadu_si256(y.as_ptr().cast()),
            )
        };
        let lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(x, y), weights);
        let hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(x, y), weights);
        _mm256_packs_epi32(
            _mm256_srai_epi32::<18>(_mm256_add_epi32(lo, round)),
            _mm256_srai_epi32::<18>(_mm256_add_epi32(hi, round)),
        )
    };
    let mut k = 0;
    while k + 8 <= n {
        let bytes = _mm256_packus_epi16(four(k * 4), four(k * 4 + 16));
        let ordered = _mm256_permute4x64_epi64::<0b11_01_10_00>(bytes);
        store_24(_mm256_shuffle_epi8(ordered, compact), &mut row[k * 3..]);
        k += 8;
    }
    for p in k..n {
        for c in 0..3 {
            let v = i32::from(a[p * 4 + c]) * w0 as i32 + i32::from(b[p * 4 + c]) * w1 as i32;
            row[p * 3 + c].write(((v + (1 << 17)) >> 18) as u8);
        }
    }
}

/// Stores the first 12 bytes of each 128-bit half of `packed` as the first 24 bytes of
/// `out` (which holds at least 24): with two 16-byte stores when `out` has room for the
/// second's 4 spare bytes (the caller writes them later), else with three smaller ones.
#[target_feature(enable = "avx2")]
fn store_24(packed: __m256i, out: &mut [Out]) {
    let high = _mm256_extracti128_si256::<1>(packed);
    if out.len() >= 28 {
        // SAFETY: `out` holds at least 28 bytes: 16 written at 0 and 16 at 12.
        unsafe {
            _mm_storeu_si128(out.as_mut_ptr().cast(), _mm256_castsi256_si128(packed));
            _mm_storeu_si128(out.as_mut_ptr().add(12).cast(), high);
        }
        return;
    }
    let out = &mut out[..24];
    let last = (_mm_extract_epi32::<2>(high) as u32).to_le_bytes();
    // SAFETY: `out` holds 24 bytes: 16 written at 0 (the last 4 rewritten next), 8 at 12.
    unsafe {
        _mm_storeu_si128(out.as_mut_ptr().cast(), _mm256_castsi256_si128(packed));
        _mm_storel_epi64(out.as_mut_ptr().add(12).cast(), high);
    }
    for (o, &v) in out[20..24].iter_mut().zip(&last) {
        o.write(v);
    }
}
