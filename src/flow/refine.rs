//! Variational refinement of a dense field (the last step of dense inverse search, at the
//! finest level it searches): increments that minimise a robust (Charbonnier)
//! brightness-constancy term, linearised around the current field, plus [`ALPHA`] times a
//! robust smoothness term of the refined field. The weights are updated `outer` times, each
//! followed by three Jacobi sweeps over the 2x2 system of every pixel. Every step is per
//! pixel and reads only the step before, so `shaders/dis_refine.wgsl` computes the same
//! numbers on a GPU (the per-pixel functions here and there are twins).

use rayon::prelude::*;

#[cfg(doc)]
use super::dis::bilinear;
use super::gray::Gray;

/// Weight of the smoothness term against the data term (intensities 0 to 255).
pub(super) const ALPHA: f32 = 20.0;

/// Jacobi sweeps per weight update.
pub(super) const SWEEPS: u32 = 3;

/// Per pixel: the temporal difference (second image warped by `flow` minus the first) and
/// the mean of both images' gradients, the second's sampled at the warped position (three
/// planes sampled as [`bilinear`] does, the taps found once).
#[inline]
fn terms_at(
    i0: &Gray,
    i1: &Gray,
    g0: (&[f32], &[f32]),
    g1: (&[f32], &[f32]),
    flow: &[[f32; 2]],
    x: usize,
    y: usize,
) -> [f32; 4] {
    let (w, h) = (i0.w, i0.h);
    let i = y * w + x;
    let f = flow[i];
    let sx = (x as f32 + f[0]).clamp(0.0, (w - 1) as f32);
    let sy = (y as f32 + f[1]).clamp(0.0, (h - 1) as f32);
    // Clamped to non-negative values: truncation is the floor.
    let (x0, y0) = (sx as usize, sy as usize);
    let (ax, ay) = (sx - x0 as f32, sy - y0 as f32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (a, b, c, e) = (y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1);
    let sample = |v: &[f32]| {
        let top = v[a] + (v[b] - v[a]) * ax;
        let bottom = v[c] + (v[e] - v[c]) * ax;
        top + (bottom - top) * ay
    };
    [
        sample(&i1.v) - i0.v[i],
        0.5 * (g0.0[i] + sample(g1.0)),
        0.5 * (g0.1[i] + sample(g1.1)),
        0.0,
    ]
}

/// Per pixel: the data weight and the smoothness weight at the current increments `d`.
#[inline]
fn weights_at(
    terms: &[[f32; 4]],
    flow: &[[f32; 2]],
    d: &[[f32; 2]],
    (w, h): (usize, usize),
    x: usize,
    y: usize,
) -> [f32; 2] {
    let i = y * w + x;
    let [it, ix, iy, _] = terms[i];
    let r = it + ix * d[i][0] + iy * d[i][1];
    let wd = 1.0 / (r * r + 1.0).sqrt();
    let (xr, yd) = ((x + 1).min(w - 1), (y + 1).min(h - 1));
    let (a, b, c) = (i, y * w + xr, yd * w + x);
    let grad = |k: usize| {
        let p = |j: usize| flow[j][k] + d[j][k];
        let (dx, dy) = (p(b) - p(a), p(c) - p(a));
        dx * dx + dy * dy
    };
    let ws = ALPHA / (grad(0) + grad(1) + 1e-4).sqrt();
    [wd, ws]
}

/// Per pixel: one Jacobi step of the increment from the previous increments `prev` (left,
/// right, upper and lower neighbours, in this order); a singular system keeps `prev`.
#[inline]
fn jacobi_at(
    terms: &[[f32; 4]],
    weights: &[[f32; 2]],
    flow: &[[f32; 2]],
    prev: &[[f32; 2]],
    (w, h): (usize, usize),
    x: usize,
    y: usize,
) -> [f32; 2] {
    let i = y * w + x;
    let neighbours = [
        (x > 0).then(|| i - 1),
        (x + 1 < w).then(|| i + 1),
        (y > 0).then(|| i - w),
        (y + 1 < h).then(|| i + w),
    ];
    let around = neighbours
        .into_iter()
        .flatten()
        .map(|j| (weights[j], flow[j], prev[j]));
    step(terms[i], weights[i], flow[i], prev[i], around)
}

/// One pixel's Jacobi step: its terms, weights, field and previous increment, and its
/// neighbours' (weights, field, previous increment) in the order they are summed; a
/// singular system keeps `prev`.
#[inline]
fn step(
    [gt, gx, gy, _]: [f32; 4],
    [wd, ws]: [f32; 2],
    f: [f32; 2],
    prev: [f32; 2],
    neighbours: impl IntoIterator<Item = ([f32; 2], [f32; 2], [f32; 2])>,
) -> [f32; 2] {
    let (mut sw, mut su, mut sv) = (0.0f32, 0.0f32, 0.0f32);
    for (wj, fj, pj) in neighbours {
        let wn = 0.5 * (ws + wj[1]);
        sw += wn;
        su += wn * (fj[0] + pj[0] - f[0]);
        sv += wn * (fj[1] + pj[1] - f[1]);
    }
    let a11 = wd * gx * gx + sw;
    let a12 = wd * gx * gy;
    let a22 = wd * gy * gy + sw;
    let b1 = su - wd * gx * gt;
    let b2 = sv - wd * gy * gt;
    let det = a11 * a22 - a12 * a12;
    if det.abs() > 1e-9 {
        [(a22 * b1 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det]
    } else {
        prev
    }
}

/// One row of a plane of vectors.
type Row<'a> = &'a [[f32; 2]];

/// Rows `y - 1`, `y` and `y + 1` of the plane `v` (`w` wide).
fn three_rows(v: &[[f32; 2]], w: usize, y: usize) -> (Row<'_>, Row<'_>, Row<'_>) {
    (
        &v[(y - 1) * w..y * w],
        &v[y * w..(y + 1) * w],
        &v[(y + 1) * w..(y + 2) * w],
    )
}

/// One Jacobi sweep into `out`: [`jacobi_at`] for every pixel, rows in parallel; pixels
/// with all four neighbours take the same arithmetic without the border tests.
fn sweep(
    terms: &[[f32; 4]],
    weights: &[[f32; 2]],
    flow: &[[f32; 2]],
    prev: &[[f32; 2]],
    (w, h): (usize, usize),
    out: &mut [[f32; 2]],
) {
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        if y == 0 || y + 1 == h || w < 3 {
            for (x, o) in row.iter_mut().enumerate() {
                *o = jacobi_at(terms, weights, flow, prev, (w, h), x, y);
            }
            return;
        }
        let (fu, fc, fd) = three_rows(flow, w, y);
        let (pu, pc, pd) = three_rows(prev, w, y);
        let (wu, wc, wdn) = three_rows(weights, w, y);
        let tc = &terms[y * w..(y + 1) * w];
        row[0] = jacobi_at(terms, weights, flow, prev, (w, h), 0, y);
        row[w - 1] = jacobi_at(terms, weights, flow, prev, (w, h), w - 1, y);
        for x in 1..w - 1 {
            let around = [
                (wc[x - 1], fc[x - 1], pc[x - 1]),
                (wc[x + 1], fc[x + 1], pc[x + 1]),
                (wu[x], fu[x], pu[x]),
                (wdn[x], fd[x], pd[x]),
            ];
            row[x] = step(tc[x], wc[x], fc[x], pc[x], around);
        }
    });
}

/// Fills `out` (`w` x `h`, row by row) with `f(x, y)`, rows in parallel.
#[inline]
fn per_pixel<T: Send>(out: &mut [T], w: usize, f: impl Fn(usize, usize) -> T + Sync) {
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, o) in row.iter_mut().enumerate() {
            *o = f(x, y);
        }
    });
}

/// The refined field: `flow` plus the increments after `outer` weight updates.
pub(super) fn refine(
    i0: &Gray,
    i1: &Gray,
    (gx0, gy0): (&[f32], &[f32]),
    flow: &[[f32; 2]],
    outer: u32,
) -> Vec<[f32; 2]> {
    let (w, h) = (i0.w, i0.h);
    let (gx1, gy1) = i1.gradients();
    let mut terms = vec![[0.0f32; 4]; w * h];
    per_pixel(&mut terms, w, |x, y| {
        terms_at(i0, i1, (gx0, gy0), (&gx1, &gy1), flow, x, y)
    });
    let mut d = vec![[0.0f32; 2]; w * h];
    let mut next = vec![[0.0f32; 2]; w * h];
    let mut weights = vec![[0.0f32; 2]; w * h];
    for _ in 0..outer {
        per_pixel(&mut weights, w, |x, y| {
            weights_at(&terms, flow, &d, (w, h), x, y)
        });
        for _ in 0..SWEEPS {
            sweep(&terms, &weights, flow, &d, (w, h), &mut next);
            std::mem::swap(&mut d, &mut next);
        }
    }
    flow.iter()
        .zip(&d)
        .map(|(f, d)| [f[0] + d[0], f[1] + d[1]])
        .collect()
}
