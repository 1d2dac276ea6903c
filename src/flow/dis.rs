//! Dense inverse search (Kroeger, Timofte, Dai and Van Gool, ECCV 2016), the algorithm of
//! OpenCV's `DISOpticalFlow`: on a coarse-to-fine pyramid of luminance images, square
//! patches on a grid each find their displacement by inverse-compositional Gauss-Newton
//! (the patch's gradients and Hessian are computed once, only the warped second image
//! changes per iteration; mean-normalised so a brightness change does not pull it; a search
//! that ends further than a patch width from its start keeps the start, as OpenCV's), with
//! spatial propagation (a patch also tries its neighbours' displacements: in the presets in
//! parallel rounds, the scheme `dis_wgpu` runs on a GPU; optionally in a forward and a
//! backward sweep as OpenCV does), then the patch displacements are blended into a dense
//! field, each weighted per pixel by how well it explains that pixel, which the next finer
//! level starts from. Optional: passes of an edge-aware smoothing per level, and a
//! variational refinement (`flow::refine`) at the finest level searched (three updates in
//! the medium preset; the presets were chosen by measuring time and photometric error
//! against OpenCV's DIS).
//!
//! No weights, deterministic; patches (or, with sweeps, stripes of patch rows) and image
//! rows run in parallel. A patch
//! displaced inside the image is sampled as a 2x2 filter over a window (its displacement,
//! so its bilinear weights, are the same for all its pixels).

use rayon::prelude::*;

use super::FlowEstimator;
use super::gray::Gray;
use crate::error::Result;
use crate::gpu::{FlowField, resize_flow};
use crate::media::Frame;

/// How much work the estimator does, as OpenCV's DIS presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisPreset {
    /// Quarter resolution at the finest, 8-pixel patches every 4 pixels.
    Fast,
    /// Half resolution at the finest, 8-pixel patches every 4 pixels, then three updates of
    /// variational refinement (the default).
    Medium,
    /// Full resolution, 6-pixel patches every 3 pixels.
    Fine,
}

impl DisPreset {
    /// The preset's name (`fast`, `medium`, `fine`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Medium => "medium",
            Self::Fine => "fine",
        }
    }

    /// The preset named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "fast" => Some(Self::Fast),
            "medium" => Some(Self::Medium),
            "fine" => Some(Self::Fine),
            _ => None,
        }
    }
}

/// Dense inverse search optical flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DenseInverseSearch {
    /// Pyramid level the search stops at (0 = full resolution, 1 = half, ...).
    pub finest_level: u32,
    /// Patch side in pixels.
    pub patch: usize,
    /// Distance between patch origins in pixels.
    pub stride: usize,
    /// Gauss-Newton iterations per patch.
    pub iterations: u32,
    /// Passes of edge-aware smoothing of the dense field per level.
    pub smoothing: u32,
    /// Weight updates of variational refinement at the finest level searched (0: none; see
    /// `flow::refine`).
    pub refinement: u32,
    /// Spatial propagation: before its search each patch also tries the displacements its
    /// left and upper neighbours found, and after a first sweep each patch tries its right
    /// and lower neighbours' (searching again from one that fits it better), so a motion
    /// one patch finds spreads to its neighbours, as in OpenCV's DIS.
    pub propagation: bool,
    /// Rounds of parallel propagation, used when `propagation` is off (the scheme the GPU
    /// runs): every patch is first searched on its own, then in each round every patch
    /// tries the displacements its four neighbours found in the round before and searches
    /// again from one that fits it better. Each patch reads only the previous round, so the
    /// order patches are visited in does not matter.
    pub rounds: u32,
    /// The preset these settings came from (part of the identity).
    pub preset: DisPreset,
}

impl Default for DenseInverseSearch {
    fn default() -> Self {
        Self::preset(DisPreset::Medium)
    }
}

impl DenseInverseSearch {
    /// The settings of `preset`.
    pub fn preset(preset: DisPreset) -> Self {
        let (finest_level, patch, stride, iterations, smoothing, refinement) = match preset {
            // Chosen by measurement against OpenCV's DIS on Sintel and real footage
            // (BENCHMARKS.md): medium has OpenCV's patch grid, fewer iterations and three
            // refinement updates at its finest level; fast and fine denser patches and no
            // refinement; no smoothing.
            DisPreset::Fast => (2, 8, 4, 12, 0, 0),
            DisPreset::Medium => (1, 8, 4, 8, 0, 3),
            DisPreset::Fine => (0, 6, 3, 12, 0, 0),
        };
        Self {
            finest_level,
            patch,
            stride,
            iterations,
            smoothing,
            refinement,
            // Parallel propagation, one round: measured as good as or better than the
            // sweeps at the same cost (BENCHMARKS.md), and what the GPU runs.
            propagation: false,
            rounds: 1,
            preset,
        }
    }
}

/// A luminance image.
impl Gray {
    /// Half the size, each pixel the mean of its 2x2 block (the last row or column repeats
    /// for odd sizes).
    fn half_ceil(&self) -> Self {
        let (w, h) = (self.w.div_ceil(2), self.h.div_ceil(2));
        let mut v = vec![0.0f32; w * h];
        v.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            let (y0, y1) = ((2 * y).min(self.h - 1), (2 * y + 1).min(self.h - 1));
            for (x, o) in row.iter_mut().enumerate() {
                let (x0, x1) = ((2 * x).min(self.w - 1), (2 * x + 1).min(self.w - 1));
                *o = 0.25
                    * (self.v[y0 * self.w + x0]
                        + self.v[y0 * self.w + x1]
                        + self.v[y1 * self.w + x0]
                        + self.v[y1 * self.w + x1]);
            }
        });
        Self { w, h, v }
    }

    /// Central-difference gradients (one-sided at the border).
    pub(super) fn gradients(&self) -> (Vec<f32>, Vec<f32>) {
        let (w, h) = (self.w, self.h);
        let mut gx = vec![0.0f32; w * h];
        let mut gy = vec![0.0f32; w * h];
        gx.par_chunks_mut(w)
            .zip(gy.par_chunks_mut(w))
            .enumerate()
            .for_each(|(y, (rx, ry))| {
                let up = y.saturating_sub(1) * w;
                let down = (y + 1).min(h - 1) * w;
                let row = y * w;
                for x in 0..w {
                    let (l, r) = (x.saturating_sub(1), (x + 1).min(w - 1));
                    rx[x] = (self.v[row + r] - self.v[row + l]) / (r - l).max(1) as f32;
                    let dy = ((down - up) / w).max(1) as f32;
                    ry[x] = (self.v[down + x] - self.v[up + x]) / dy;
                }
            });
        (gx, gy)
    }
}

/// Patch origins along one axis: every `stride` pixels, and one flush with the far edge so
/// the last pixels are covered.
pub(super) fn origins(len: usize, patch: usize, stride: usize) -> Vec<usize> {
    if len <= patch {
        return vec![0];
    }
    let last = len - patch;
    let mut out: Vec<usize> = (0..=last).step_by(stride.max(1)).collect();
    if out.last() != Some(&last) {
        out.push(last);
    }
    out
}

/// One patch's displacement by inverse-compositional Gauss-Newton, starting from `start`,
/// and its mean-normalised sum of squared differences (`Σ d² - (Σ d)² / n`; not a number
/// for a patch too flat to search, which keeps `start`).
#[expect(
    clippy::too_many_arguments,
    reason = "the patch's images and gradients travel together; a struct per call costs"
)]
fn search_patch(
    i0: &Gray,
    i1: &Gray,
    gx: &[f32],
    gy: &[f32],
    (px, py): (usize, usize),
    (pw, ph): (usize, usize),
    start: [f32; 2],
    iterations: u32,
) -> ([f32; 2], f32) {
    let n = (pw * ph) as f32;
    let k = pw * ph;
    // The template (first image) and its gradients gathered once, row by row; the
    // gradients' means removed (the search is mean-normalised); the Hessian once. Patches
    // of up to 16x16 pixels stay on the stack.
    let mut stack = [[0.0f32; 4]; 256];
    let mut heap = Vec::new();
    let tpl: &mut [[f32; 4]] = if k <= stack.len() {
        &mut stack[..k]
    } else {
        heap.resize(k, [0.0f32; 4]);
        &mut heap
    };
    let (mut mx, mut my) = (0.0f32, 0.0f32);
    for (j, y) in (py..py + ph).enumerate() {
        for (i, x) in (px..px + pw).enumerate() {
            let at = y * i0.w + x;
            tpl[j * pw + i] = [i0.v[at], gx[at], gy[at], 0.0];
            mx += gx[at];
            my += gy[at];
        }
    }
    let (mx, my) = (mx / n, my / n);
    let (mut hxx, mut hxy, mut hyy) = (0.0f32, 0.0f32, 0.0f32);
    for t in tpl.iter_mut() {
        let (tx, ty) = (t[1] - mx, t[2] - my);
        (t[1], t[2]) = (tx, ty);
        hxx += tx * tx;
        hxy += tx * ty;
        hyy += ty * ty;
    }
    let det = hxx * hyy - hxy * hxy;
    if det.abs() < 1e-6 * (hxx + hyy).max(1e-6).powi(2) {
        // A flat or one-directional patch: no reliable displacement of its own.
        return (start, f32::NAN);
    }
    let (ixx, ixy, iyy) = (hyy / det, -hxy / det, hxx / det);
    let mut u = start;
    let mut best = (f32::INFINITY, start);
    for _ in 0..=iterations {
        // Residual of the current displacement, mean-normalised.
        let (mut sum, mut squares) = (0.0f32, 0.0f32);
        for_each_sample(i1, (px, py), (pw, ph), u, |k, v| {
            let d = v - tpl[k][0];
            tpl[k][3] = d;
            sum += d;
            squares += d * d;
        });
        let mean = sum / n;
        let ssd = squares - sum * mean;
        let (mut bx, mut by) = (0.0f32, 0.0f32);
        for t in tpl.iter() {
            let d = t[3] - mean;
            bx += t[1] * d;
            by += t[2] * d;
        }
        if ssd < best.0 {
            best = (ssd, u);
        } else if ssd > best.0 * 1.5 {
            // Diverging: keep the best so far.
            break;
        }
        let du = [ixx * bx + ixy * by, ixy * bx + iyy * by];
        u = [u[0] - du[0], u[1] - du[1]];
        if du[0].abs() + du[1].abs() < 0.005 {
            break;
        }
    }
    // A search that ended further from its start than the patch is wide found another
    // structure, not this patch's motion: keep the start (as OpenCV's DIS does).
    let (dx, dy) = (best.1[0] - start[0], best.1[1] - start[1]);
    if dx * dx + dy * dy > (pw * pw) as f32 {
        return (start, f32::NAN);
    }
    (best.1, best.0)
}

/// Rows of patches per stripe: propagation runs within a stripe, stripes run in parallel.
const STRIPE_ROWS: usize = 8;

/// What the patch searches of one level read.
struct Patches<'a> {
    i0: &'a Gray,
    i1: &'a Gray,
    gx: &'a [f32],
    gy: &'a [f32],
    size: (usize, usize),
    xs: &'a [usize],
    init: &'a [[f32; 2]],
}

impl Patches<'_> {
    fn search(&self, at: (usize, usize), start: [f32; 2], iterations: u32) -> ([f32; 2], f32) {
        let (i0, i1, gx, gy) = (self.i0, self.i1, self.gx, self.gy);
        search_patch(i0, i1, gx, gy, at, self.size, start, iterations)
    }

    /// Mean-normalised sum of squared differences of the patch at `(px, py)` displaced by
    /// `u`.
    fn ssd(&self, (px, py): (usize, usize), u: [f32; 2]) -> f32 {
        let (pw, ph) = self.size;
        let (mut s, mut s2) = (0.0f32, 0.0f32);
        let i0 = self.i0;
        for_each_sample(self.i1, (px, py), (pw, ph), u, |k, v| {
            let d = v - i0.v[(py + k / pw) * i0.w + px + k % pw];
            s += d;
            s2 += d * d;
        });
        s2 - s * s / (pw * ph) as f32
    }

    /// Of the `candidates`, the one the patch at `at` fits better than `current` (whose
    /// sum of squared differences is `error`, computed when not a number), if any.
    fn better(
        &self,
        at: (usize, usize),
        (current, error): ([f32; 2], f32),
        candidates: impl IntoIterator<Item = Option<[f32; 2]>>,
    ) -> Option<[f32; 2]> {
        let mut best = (error, None);
        let mut tried: [Option<[f32; 2]>; 4] = [None; 4];
        for (n, c) in candidates.into_iter().flatten().enumerate() {
            // A candidate equal to the current one or to one tried before cannot fit better.
            let seen = tried.iter().flatten().any(|t| *t == c);
            if let Some(slot) = tried.get_mut(n) {
                *slot = Some(c);
            }
            if c != current && !seen {
                if best.0.is_nan() {
                    best.0 = self.ssd(at, current);
                }
                let e = self.ssd(at, c);
                if e < best.0 {
                    best = (e, Some(c));
                }
            }
        }
        best.1
    }
}

impl DenseInverseSearch {
    /// The displacements of the patches in rows `rows` (origins), one row of patches after
    /// another, with spatial propagation when it is on.
    fn stripe(&self, job: &Patches, rows: &[usize]) -> Vec<Vec<[f32; 2]>> {
        let (pw, ph) = job.size;
        let w = job.i0.w;
        // Each patch's displacement and its error.
        let mut out: Vec<Vec<([f32; 2], f32)>> = Vec::with_capacity(rows.len());
        for (r, &py) in rows.iter().enumerate() {
            let mut row: Vec<([f32; 2], f32)> = Vec::with_capacity(job.xs.len());
            for (c, &px) in job.xs.iter().enumerate() {
                let mut start = job.init[(py + ph / 2) * w + px + pw / 2];
                if self.propagation {
                    let left = c.checked_sub(1).map(|c| row[c].0);
                    let up = r.checked_sub(1).map(|r| out[r][c].0);
                    let at = (px, py);
                    start = job
                        .better(at, (start, f32::NAN), [left, up])
                        .unwrap_or(start);
                }
                row.push(job.search((px, py), start, self.iterations));
            }
            out.push(row);
        }
        if self.propagation {
            for r in (0..rows.len()).rev() {
                for c in (0..job.xs.len()).rev() {
                    let at = (job.xs[c], rows[r]);
                    let right = out[r].get(c + 1).map(|p| p.0);
                    let down = out.get(r + 1).map(|row| row[c].0);
                    if let Some(b) = job.better(at, out[r][c], [right, down]) {
                        out[r][c] = job.search(at, b, self.iterations);
                    }
                }
            }
        }
        out.into_iter()
            .map(|row| row.into_iter().map(|p| p.0).collect())
            .collect()
    }

    /// The displacements of all patches by parallel propagation (see [`Self::rounds`]),
    /// row by row of patches.
    fn parallel(&self, job: &Patches, ys: &[usize]) -> Vec<Vec<[f32; 2]>> {
        let (pw, ph) = job.size;
        let (w, nx) = (job.i0.w, job.xs.len());
        let mut cur: Vec<[f32; 2]> = (0..ys.len() * nx)
            .into_par_iter()
            .map(|k| {
                let (px, py) = (job.xs[k % nx], ys[k / nx]);
                let start = job.init[(py + ph / 2) * w + px + pw / 2];
                job.search((px, py), start, self.iterations).0
            })
            .collect();
        for _ in 0..self.rounds {
            let prev = &cur;
            cur = (0..prev.len())
                .into_par_iter()
                .map(|k| {
                    let (c, r) = (k % nx, k / nx);
                    let at = (job.xs[c], ys[r]);
                    let own = prev[k];
                    let left = (c > 0).then(|| prev[k - 1]);
                    let up = (r > 0).then(|| prev[k - nx]);
                    let right = (c + 1 < nx).then(|| prev[k + 1]);
                    let down = (r + 1 < ys.len()).then(|| prev[k + nx]);
                    match job.better(at, (own, f32::NAN), [left, up, right, down]) {
                        Some(b) => job.search(at, b, self.iterations).0,
                        None => own,
                    }
                })
                .collect();
        }
        cur.chunks(nx).map(<[[f32; 2]]>::to_vec).collect()
    }

    /// One pyramid level: every patch searched from `init` (the dense field from the coarser
    /// level), then the patches blended into a dense field, refined when `finest` is the
    /// last level searched and refinement is on.
    fn level(&self, i0: &Gray, i1: &Gray, init: &[[f32; 2]], finest: bool) -> Vec<[f32; 2]> {
        let (w, h) = (i0.w, i0.h);
        let (pw, ph) = (self.patch.min(w), self.patch.min(h));
        let (gx, gy) = i0.gradients();
        let xs = origins(w, pw, self.stride);
        let ys = origins(h, ph, self.stride);
        // Patch displacements: by parallel rounds, or row by row of patches in horizontal
        // stripes of patch rows (each stripe in order, for the sweeps; the stripes in
        // parallel). The stripe height is fixed, not taken from the number of cores, so the
        // field is the same on every machine.
        let stripe = STRIPE_ROWS;
        let job = Patches {
            i0,
            i1,
            gx: &gx,
            gy: &gy,
            size: (pw, ph),
            xs: &xs,
            init,
        };
        let patches: Vec<Vec<[f32; 2]>> = if !self.propagation && self.rounds > 0 {
            self.parallel(&job, &ys)
        } else {
            let stripes: Vec<Vec<Vec<[f32; 2]>>> = ys
                .par_chunks(stripe)
                .map(|rows| self.stripe(&job, rows))
                .collect();
            stripes.into_iter().flatten().collect()
        };
        // Densification: each pixel blends the patches over it, each weighted by how well
        // its displacement explains this pixel (1 / max(1, |residual|)).
        let mut dense = vec![[0.0f32; 2]; w * h];
        dense.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            // Per pixel of this row: the sums of weights and weighted vectors, patch by
            // patch (patch rows, then the patches along each), as the pixel sees them.
            let mut sums = vec![[0.0f32; 3]; w];
            let a = &i0.v[y * w..(y + 1) * w];
            for (j, &py) in ys.iter().enumerate() {
                if y < py || y >= py + ph {
                    continue;
                }
                for (i, &px) in xs.iter().enumerate() {
                    let u = patches[j][i];
                    for_each_sample(i1, (px, y), (pw, 1), u, |k, v| {
                        let r = (v - a[px + k]).abs();
                        let wt = 1.0 / r.max(1.0);
                        let s = &mut sums[px + k];
                        s[0] += wt;
                        s[1] += wt * u[0];
                        s[2] += wt * u[1];
                    });
                }
            }
            for (x, (out, s)) in row.iter_mut().zip(&sums).enumerate() {
                *out = if s[0] > 0.0 {
                    [s[1] / s[0], s[2] / s[0]]
                } else {
                    init[y * w + x]
                };
            }
        });
        for _ in 0..self.smoothing {
            dense = smooth(i0, &dense);
        }
        if self.refinement > 0 && finest {
            dense = super::refine::refine(i0, i1, (&gx, &gy), &dense, self.refinement);
        }
        dense
    }
}

/// One pass of edge-aware smoothing: each vector becomes the mean of its 3x3 neighbours,
/// each weighted by how alike the two pixels are in the first image (flow edges follow
/// image edges).
fn smooth(img: &Gray, flow: &[[f32; 2]]) -> Vec<[f32; 2]> {
    let (w, h) = (img.w, img.h);
    let mut out = vec![[0.0f32; 2]; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, o) in row.iter_mut().enumerate() {
            let c = img.v[y * w + x];
            let (mut sw, mut su, mut sv) = (0.0f32, 0.0f32, 0.0f32);
            for yy in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for xx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let d = img.v[yy * w + xx] - c;
                    let wt = 1.0 / (1.0 + d * d * 0.01);
                    let f = flow[yy * w + xx];
                    sw += wt;
                    su += wt * f[0];
                    sv += wt * f[1];
                }
            }
            *o = [su / sw, sv / sw];
        }
    });
    out
}

/// Bilinear sample of the plane `v` (`w` x `h`) at (`x`, `y`), clamped to it.
#[inline]
pub(super) fn bilinear(v: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    // Clamped to non-negative values: truncation is the floor (and no library call).
    let (x0, y0) = (x as usize, y as usize);
    let (ax, ay) = (x - x0 as f32, y - y0 as f32);
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let (r0, r1) = (y0 * w, y1 * w);
    let top = v[r0 + x0] + (v[r0 + x1] - v[r0 + x0]) * ax;
    let bottom = v[r1 + x0] + (v[r1 + x1] - v[r1 + x0]) * ax;
    top + (bottom - top) * ay
}

/// Calls `f(k, value)` for every pixel `k` (row-major) of the `pw` x `ph` patch at
/// `(px, py)` of `img` displaced by `u`, sampled bilinearly. The displacement is the same
/// for the whole patch, so are its bilinear weights: inside the image the patch is a 2x2
/// filter over a window (no clamping or flooring per pixel); at the border each pixel is
/// sampled as [`bilinear`] does, clamped.
#[inline]
fn for_each_sample(
    img: &Gray,
    (px, py): (usize, usize),
    (pw, ph): (usize, usize),
    u: [f32; 2],
    mut f: impl FnMut(usize, f32),
) {
    let (w, h) = (img.w, img.h);
    let (x, y) = (px as f32 + u[0], py as f32 + u[1]);
    let (fx, fy) = (x.floor(), y.floor());
    let inside = fx >= 0.0
        && fy >= 0.0
        && fx + pw as f32 <= (w - 1) as f32
        && fy + ph as f32 <= (h - 1) as f32;
    if !inside {
        for j in 0..ph {
            for i in 0..pw {
                let v = bilinear(&img.v, w, h, (px + i) as f32 + u[0], (py + j) as f32 + u[1]);
                f(j * pw + i, v);
            }
        }
        return;
    }
    let (ax, ay) = (x - fx, y - fy);
    let (x0, y0) = (fx as usize, fy as usize);
    for j in 0..ph {
        let at = (y0 + j) * w + x0;
        let (r0, r1) = (&img.v[at..=at + pw], &img.v[at + w..=at + w + pw]);
        for i in 0..pw {
            let top = r0[i] + (r0[i + 1] - r0[i]) * ax;
            let bottom = r1[i] + (r1[i + 1] - r1[i]) * ax;
            f(j * pw + i, top + (bottom - top) * ay);
        }
    }
}

/// The dense field `flow` (at `w` x `h`) brought to `to_w` x `to_h`, vectors scaled.
fn upscale(flow: &[[f32; 2]], w: usize, h: usize, to_w: usize, to_h: usize) -> Vec<[f32; 2]> {
    let field = FlowField {
        width: w as u32,
        height: h as u32,
        data: flow.to_vec(),
    };
    resize_flow(&field, to_w as u32, to_h as u32).data
}

impl DenseInverseSearch {
    /// The pyramid's level sizes for a `w` x `h` image, full size first: halved (rounding
    /// up) while the image stays at least four patches across.
    pub(super) fn level_sizes(&self, w: usize, h: usize) -> Vec<(usize, usize)> {
        let mut out = vec![(w, h)];
        while let Some(&(lw, lh)) = out.last() {
            if lw.max(lh) / 2 < 4 * self.patch || lw.min(lh) / 2 < self.patch {
                break;
            }
            out.push((lw.div_ceil(2), lh.div_ceil(2)));
        }
        out
    }
}

impl FlowEstimator for DenseInverseSearch {
    fn identity(&self) -> String {
        format!(
            "builtin-dis-2/{}/finest={}/patch={}/stride={}/iterations={}/smoothing={}/refinement={}/propagation={}{}",
            self.preset.name(),
            self.finest_level,
            self.patch,
            self.stride,
            self.iterations,
            self.smoothing,
            self.refinement,
            self.propagation,
            if self.propagation || self.rounds == 0 {
                String::new()
            } else {
                format!("/rounds={}", self.rounds)
            }
        )
    }

    fn describe(&self) -> String {
        format!("built-in dense inverse search ({})", self.preset.name())
    }

    fn estimate(&self, a: &Frame, b: &Frame) -> Result<FlowField> {
        super::check_pair(a, b)?;
        let (w, h) = (a.width as usize, a.height as usize);
        let levels = self.level_sizes(w, h).len();
        let mut p0 = vec![Gray::from_frame(a)];
        let mut p1 = vec![Gray::from_frame(b)];
        while p0.len() < levels
            && let (Some(l0), Some(l1)) = (p0.last(), p1.last())
        {
            let (n0, n1) = (l0.half_ceil(), l1.half_ceil());
            p0.push(n0);
            p1.push(n1);
        }
        let coarsest = p0.len() - 1;
        let finest = (self.finest_level as usize).min(coarsest);
        let mut flow = vec![[0.0f32; 2]; p0[coarsest].w * p0[coarsest].h];
        let (mut fw, mut fh) = (p0[coarsest].w, p0[coarsest].h);
        for level in (finest..=coarsest).rev() {
            let (i0, i1) = (&p0[level], &p1[level]);
            if (fw, fh) != (i0.w, i0.h) {
                flow = upscale(&flow, fw, fh, i0.w, i0.h);
                (fw, fh) = (i0.w, i0.h);
            }
            flow = self.level(i0, i1, &flow, level == finest);
        }
        if (fw, fh) != (w, h) {
            flow = upscale(&flow, fw, fh, w, h);
        }
        Ok(FlowField {
            width: a.width,
            height: a.height,
            data: flow,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_origins_cover_both_edges() {
        assert_eq!(origins(20, 8, 4), vec![0, 4, 8, 12]);
        assert_eq!(origins(21, 8, 4), vec![0, 4, 8, 12, 13]);
        assert_eq!(origins(6, 8, 4), vec![0]);
    }

    #[test]
    fn presets_are_named() {
        for p in [DisPreset::Fast, DisPreset::Medium, DisPreset::Fine] {
            assert_eq!(DisPreset::from_name(p.name()), Some(p));
        }
        assert!(DenseInverseSearch::default().identity().contains("medium"));
    }
}
