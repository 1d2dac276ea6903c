//! The built-in flow estimator: coarse-to-fine (pyramidal) dense Lucas-Kanade with
//! iterative warping, on luminance, rows in parallel. No weights, deterministic.
//!
//! At each pyramid level (coarsest first) the current flow warps `b` toward `a`; the
//! structure tensor of the gradients, summed over a square window, gives a least-squares
//! update per pixel (Tikhonov-regularised, so flat regions keep the coarser estimate);
//! a 3x3 median of each component removes outliers between iterations.

use rayon::prelude::*;

use super::FlowEstimator;
use super::gray::Gray;
use crate::error::Result;
use crate::gpu::{FlowField, resize_flow};
use crate::media::Frame;

/// Pyramidal dense Lucas-Kanade.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PyramidalLucasKanade {
    /// Pyramid levels at most (each halves the size; stops before 24 px).
    pub levels: u32,
    /// Refinement iterations per level.
    pub iterations: u32,
    /// Half size of the summation window (window = 2 * radius + 1).
    pub radius: u32,
    /// Regularisation added to the structure tensor's diagonal.
    pub lambda: f32,
}

impl Default for PyramidalLucasKanade {
    fn default() -> Self {
        Self {
            levels: 6,
            iterations: 5,
            radius: 6,
            lambda: 50.0,
        }
    }
}

impl Gray {
    #[inline]
    fn at(&self, x: usize, y: usize) -> f32 {
        self.v[y * self.w + x]
    }

    #[inline]
    fn sample(&self, x: f32, y: f32) -> f32 {
        let x = x.clamp(0.0, (self.w - 1) as f32);
        let y = y.clamp(0.0, (self.h - 1) as f32);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (ax, ay) = (x - x0 as f32, y - y0 as f32);
        let top = self.at(x0, y0) * (1.0 - ax) + self.at(x1, y0) * ax;
        let bottom = self.at(x0, y1) * (1.0 - ax) + self.at(x1, y1) * ax;
        top * (1.0 - ay) + bottom * ay
    }

    /// Half size, 2x2 average.
    fn half(&self) -> Self {
        let (w, h) = (self.w / 2, self.h / 2);
        let mut v = vec![0.0; w * h];
        v.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            for (x, out) in row.iter_mut().enumerate() {
                *out = 0.25
                    * (self.at(2 * x, 2 * y)
                        + self.at(2 * x + 1, 2 * y)
                        + self.at(2 * x, 2 * y + 1)
                        + self.at(2 * x + 1, 2 * y + 1));
            }
        });
        Self { w, h, v }
    }

    /// Separable 1-2-1 blur (reduces aliasing before gradients).
    fn smooth(&self) -> Self {
        let (w, h) = (self.w, self.h);
        let mut tmp = vec![0.0; w * h];
        tmp.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            for (x, out) in row.iter_mut().enumerate() {
                let l = self.at(x.saturating_sub(1), y);
                let r = self.at((x + 1).min(w - 1), y);
                *out = 0.25 * l + 0.5 * self.at(x, y) + 0.25 * r;
            }
        });
        let mut v = vec![0.0; w * h];
        v.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            let up = y.saturating_sub(1);
            let down = (y + 1).min(h - 1);
            for (x, out) in row.iter_mut().enumerate() {
                *out = 0.25 * tmp[up * w + x] + 0.5 * tmp[y * w + x] + 0.25 * tmp[down * w + x];
            }
        });
        Self { w, h, v }
    }
}

/// Box sum over a (2r+1)^2 window, border clamped, via running sums per axis.
fn box_sum(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut tmp = vec![0.0f32; w * h];
    tmp.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let line = &src[y * w..(y + 1) * w];
        let mut acc: f32 = (0..=2 * r)
            .map(|i| line[(i as isize - r as isize).clamp(0, w as isize - 1) as usize])
            .sum();
        for (x, out) in row.iter_mut().enumerate() {
            *out = acc;
            let add = (x + r + 1).min(w - 1);
            let sub = (x as isize - r as isize).clamp(0, w as isize - 1) as usize;
            acc += line[add] - line[sub];
        }
    });
    let mut out = vec![0.0f32; w * h];
    let cols: Vec<Vec<f32>> = (0..w)
        .into_par_iter()
        .map(|x| {
            let col = |y: isize| tmp[y.clamp(0, h as isize - 1) as usize * w + x];
            let mut acc: f32 = (0..=2 * r as isize).map(|i| col(i - r as isize)).sum();
            let mut c = Vec::with_capacity(h);
            for y in 0..h as isize {
                c.push(acc);
                acc += col(y + r as isize + 1) - col(y - r as isize);
            }
            c
        })
        .collect();
    for (x, c) in cols.iter().enumerate() {
        for (y, v) in c.iter().enumerate() {
            out[y * w + x] = *v;
        }
    }
    out
}

fn median3(field: &[[f32; 2]], w: usize, h: usize) -> Vec<[f32; 2]> {
    let mut out = vec![[0.0; 2]; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, o) in row.iter_mut().enumerate() {
            for c in 0..2 {
                let mut v = [0.0f32; 9];
                let mut k = 0;
                for dy in -1isize..=1 {
                    for dx in -1isize..=1 {
                        let yy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                        let xx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
                        v[k] = field[yy * w + xx][c];
                        k += 1;
                    }
                }
                v.sort_by(f32::total_cmp);
                o[c] = v[4];
            }
        }
    });
    out
}

impl PyramidalLucasKanade {
    fn refine(&self, a: &Gray, b: &Gray, flow: &mut [[f32; 2]]) {
        let (w, h) = (a.w, a.h);
        let r = self.radius as usize;
        for _ in 0..self.iterations {
            // b warped by the current flow, and the per-pixel products.
            let mut terms = vec![[0.0f32; 5]; w * h];
            terms.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
                for (x, t) in row.iter_mut().enumerate() {
                    let [u, v] = flow[y * w + x];
                    let (sx, sy) = (x as f32 + u, y as f32 + v);
                    let bw = b.sample(sx, sy);
                    // Gradients: average of a's and warped b's central differences.
                    let gx = 0.25
                        * (a.at((x + 1).min(w - 1), y) - a.at(x.saturating_sub(1), y)
                            + b.sample(sx + 1.0, sy)
                            - b.sample(sx - 1.0, sy));
                    let gy = 0.25
                        * (a.at(x, (y + 1).min(h - 1)) - a.at(x, y.saturating_sub(1))
                            + b.sample(sx, sy + 1.0)
                            - b.sample(sx, sy - 1.0));
                    let it = bw - a.at(x, y);
                    *t = [gx * gx, gx * gy, gy * gy, gx * it, gy * it];
                }
            });
            let sums: Vec<Vec<f32>> = (0..5)
                .map(|k| {
                    let plane: Vec<f32> = terms.iter().map(|t| t[k]).collect();
                    box_sum(&plane, w, h, r)
                })
                .collect();
            flow.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
                for (x, f) in row.iter_mut().enumerate() {
                    let i = y * w + x;
                    let (sxx, sxy, syy) = (
                        sums[0][i] + self.lambda,
                        sums[1][i],
                        sums[2][i] + self.lambda,
                    );
                    let (sxt, syt) = (sums[3][i], sums[4][i]);
                    let det = sxx * syy - sxy * sxy;
                    if det.abs() > f32::EPSILON {
                        let du = -(syy * sxt - sxy * syt) / det;
                        let dv = -(sxx * syt - sxy * sxt) / det;
                        f[0] += du.clamp(-2.0, 2.0);
                        f[1] += dv.clamp(-2.0, 2.0);
                    }
                }
            });
            let filtered = median3(flow, w, h);
            flow.copy_from_slice(&filtered);
        }
    }
}

impl FlowEstimator for PyramidalLucasKanade {
    fn identity(&self) -> String {
        format!(
            "builtin-plk/levels={}/iterations={}/radius={}/lambda={}",
            self.levels, self.iterations, self.radius, self.lambda
        )
    }

    fn estimate(&self, a: &Frame, b: &Frame) -> Result<FlowField> {
        super::check_pair(a, b)?;
        let mut pa = vec![Gray::from_frame(a).smooth()];
        let mut pb = vec![Gray::from_frame(b).smooth()];
        while pa.len() < self.levels as usize {
            let last = &pa[pa.len() - 1];
            if last.w / 2 < 24 || last.h / 2 < 24 {
                break;
            }
            let (na, nb) = (last.half(), pb[pb.len() - 1].half());
            pa.push(na);
            pb.push(nb);
        }
        let coarsest = &pa[pa.len() - 1];
        let mut flow = FlowField::uniform(coarsest.w as u32, coarsest.h as u32, 0.0, 0.0);
        for level in (0..pa.len()).rev() {
            let (ga, gb) = (&pa[level], &pb[level]);
            if (flow.width as usize, flow.height as usize) != (ga.w, ga.h) {
                flow = resize_flow(&flow, ga.w as u32, ga.h as u32);
            }
            self.refine(ga, gb, &mut flow.data);
        }
        Ok(flow)
    }
}
