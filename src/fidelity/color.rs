//! Colour match: every generated frame of a call pulled toward the colour of the frames the
//! call keeps (its anchors and, in chained mode, its context frames).
//!
//! For generated frame `i` the target statistics are interpolated between the nearest kept
//! frame before `i` and the nearest after it, by distance (one side only at a call's ends).
//! Methods:
//! - `lab`: per Lab channel, `(v - mean) * target_spread / spread + target_mean` (Reinhard's
//!   transfer), the spread ratio limited to 0.5..2; applied through a 17x17x17 lattice over
//!   sRGB computed per frame and read trilinearly.
//! - `histogram`: per sRGB channel, each value moved to the target's value at the same rank
//!   (the target's quantiles interpolated between the two references).
//!
//! `strength` mixes the matched colour with the generated one (1 = fully matched).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::lab::{ColorStats, lab_of, rgb_of_fast};
use crate::error::{Result, UserError};
use crate::guide::CallGuide;
use crate::media::Frame;

/// How generated frames are matched to the kept ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorMethod {
    /// Mean and spread per channel in CIE Lab.
    #[default]
    Lab,
    /// Histogram matching per sRGB channel.
    Histogram,
    /// No colour match.
    Off,
}

impl ColorMethod {
    /// Every method, in the order the studio lists them.
    pub const ALL: [ColorMethod; 3] = [ColorMethod::Lab, ColorMethod::Histogram, ColorMethod::Off];

    /// The name in project files.
    pub fn name(self) -> &'static str {
        match self {
            ColorMethod::Lab => "lab",
            ColorMethod::Histogram => "histogram",
            ColorMethod::Off => "off",
        }
    }

    /// The name a person reads.
    pub fn label(self) -> &'static str {
        match self {
            ColorMethod::Lab => "Lab",
            ColorMethod::Histogram => "Histogram",
            ColorMethod::Off => "Off",
        }
    }
}

/// The project's `color_match` settings: applied to the frames of generating backends (the
/// built-in backend's frames are made from the anchors' own pixels and need none).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ColorMatch {
    /// The method.
    pub method: ColorMethod,
    /// How far frames are pulled toward the target, from 0 (not at all) to 1 (fully).
    pub strength: f32,
}

impl Default for ColorMatch {
    fn default() -> Self {
        Self {
            method: ColorMethod::Lab,
            strength: 1.0,
        }
    }
}

impl ColorMatch {
    /// Whether these are the defaults (left out of saved projects).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the match changes anything.
    pub fn is_active(&self) -> bool {
        self.method != ColorMethod::Off && self.strength > 0.0
    }

    /// Checks the strength.
    pub fn validate(&self) -> Result<()> {
        if !(self.strength.is_finite() && (0.0..=1.0).contains(&self.strength)) {
            return Err(UserError::input(format!(
                "color_match.strength: {} must be from 0 to 1",
                self.strength
            ))
            .hint("1 matches the anchors' colour fully, 0 leaves generated frames as they are"));
        }
        Ok(())
    }
}

/// Quantiles kept per channel for histogram matching.
const QUANTILES: usize = 256;

/// A kept frame's colour, as the targets of the frames around it are made from it.
struct Reference {
    offset: usize,
    stats: ColorStats,
    quantiles: [[f32; QUANTILES]; 3],
}

/// The value at rank `(k + 0.5) / QUANTILES` of each channel, each value spread evenly
/// over its bin `v - 0.5..v + 0.5`.
fn quantiles(histogram: &[[u32; 256]; 3]) -> [[f32; QUANTILES]; 3] {
    let mut out = [[0f32; QUANTILES]; 3];
    for c in 0..3 {
        let total: u32 = histogram[c].iter().sum();
        if total == 0 {
            for (k, q) in out[c].iter_mut().enumerate() {
                *q = k as f32 * 255.0 / (QUANTILES - 1) as f32;
            }
            continue;
        }
        let mut below = 0u32;
        let mut v = 0usize;
        for (k, q) in out[c].iter_mut().enumerate() {
            let rank = (k as f32 + 0.5) / QUANTILES as f32 * total as f32;
            while v < 255 && (below + histogram[c][v]) as f32 <= rank {
                below += histogram[c][v];
                v += 1;
            }
            let inside = histogram[c][v].max(1) as f32;
            let within = ((rank - below as f32) / inside).clamp(0.0, 1.0);
            *q = (v as f32 - 0.5 + within).clamp(0.0, 255.0);
        }
    }
    out
}

/// The frames `guide` keeps (mask 0) and their colour.
fn references(guide: &CallGuide) -> Vec<Reference> {
    guide
        .mask
        .iter()
        .enumerate()
        .filter(|(_, m)| **m <= 0.0)
        .map(|(offset, _)| {
            let stats = ColorStats::of(&guide.frames[offset]);
            let quantiles = quantiles(&stats.histogram);
            Reference {
                offset,
                stats,
                quantiles,
            }
        })
        .collect()
}

/// The nearest references before and after `offset` and the weight of the later one.
fn around(refs: &[Reference], offset: usize) -> Option<(&Reference, &Reference, f32)> {
    let before = refs.iter().rev().find(|r| r.offset <= offset);
    let after = refs.iter().find(|r| r.offset >= offset);
    match (before, after) {
        (Some(a), Some(b)) if a.offset != b.offset => {
            let t = (offset - a.offset) as f32 / (b.offset - a.offset) as f32;
            Some((a, b, t))
        }
        (Some(a), _) | (None, Some(a)) => Some((a, a, 0.0)),
        (None, None) => None,
    }
}

/// Matches every generated frame (mask above 0) of a call to the colour of the frames the
/// call keeps, in place; kept frames are left exactly as they are. Frames run in parallel.
pub fn match_call(guide: &CallGuide, frames: &mut [Frame], settings: &ColorMatch) {
    if !settings.is_active() {
        return;
    }
    let refs = references(guide);
    if refs.is_empty() {
        return;
    }
    frames.par_iter_mut().enumerate().for_each(|(i, frame)| {
        if guide.mask.get(i).is_none_or(|m| *m <= 0.0) {
            return;
        }
        if let Some((a, b, t)) = around(&refs, i) {
            match settings.method {
                ColorMethod::Lab => {
                    let lerp =
                        |x: [f32; 3], y: [f32; 3]| [0, 1, 2].map(|c| x[c] + (y[c] - x[c]) * t);
                    let target = (
                        lerp(a.stats.mean, b.stats.mean),
                        lerp(a.stats.spread, b.stats.spread),
                    );
                    match_lab(frame, target, settings.strength);
                }
                ColorMethod::Histogram => {
                    let mut target = [[0f32; QUANTILES]; 3];
                    for (c, channel) in target.iter_mut().enumerate() {
                        for (k, q) in channel.iter_mut().enumerate() {
                            let (x, y) = (a.quantiles[c][k], b.quantiles[c][k]);
                            *q = x + (y - x) * t;
                        }
                    }
                    match_histogram(frame, &target, settings.strength);
                }
                ColorMethod::Off => {}
            }
        }
    });
}

/// Lattice points per axis of the Lab transform: every 15th 8-bit value (0, 15, … 255).
const GRID: usize = 18;
/// 8-bit values between lattice points.
const CELL: usize = 15;
/// Fixed-point scale of the lattice's values (1/16 of a level, so at most 4080).
const LEVEL: i32 = 16;
/// Bits per channel in a lattice point (4080 times a weight of 256 fits in 21 bits).
const FIELD: u32 = 21;
/// One channel's bits.
const FIELD_MASK: u64 = (1 << FIELD) - 1;

/// Moves `frame`'s Lab mean and spread toward `target` (mean, spread) by `strength`.
pub fn match_lab(frame: &mut Frame, target: ([f32; 3], [f32; 3]), strength: f32) {
    let source = ColorStats::of(frame);
    let gain = [0, 1, 2].map(|c| {
        if source.spread[c] > 0.5 {
            (target.1[c] / source.spread[c]).clamp(0.5, 2.0)
        } else {
            1.0
        }
    });
    let mut lattice = vec![0u64; GRID * GRID * GRID];
    for (n, node) in lattice.iter_mut().enumerate() {
        let rgb = [n / (GRID * GRID), (n / GRID) % GRID, n % GRID].map(|i| (i * CELL) as u8);
        let lab = lab_of(rgb);
        let moved = [0, 1, 2].map(|c| {
            let matched = (lab[c] - source.mean[c]) * gain[c] + target.0[c];
            lab[c] + (matched - lab[c]) * strength
        });
        let fixed =
            rgb_of_fast(moved).map(|v| (v * LEVEL as f32).round().clamp(0.0, 4080.0) as u64);
        *node = fixed[0] | fixed[1] << FIELD | fixed[2] << (2 * FIELD);
    }
    apply_lattice(frame, &lattice);
}

/// Where each 8-bit value falls on the lattice: the lower point and the weight of the
/// upper one in 1/256.
fn lattice_positions() -> &'static [(usize, i32); 256] {
    static POSITIONS: std::sync::OnceLock<[(usize, i32); 256]> = std::sync::OnceLock::new();
    POSITIONS.get_or_init(|| {
        let mut out = [(0usize, 0i32); 256];
        for (v, slot) in out.iter_mut().enumerate() {
            let i = (v / CELL).min(GRID - 2);
            let rest = v - i * CELL;
            *slot = (i, ((rest * 256 + CELL / 2) / CELL) as i32);
        }
        out
    })
}

/// Replaces every pixel by the lattice's value at it, interpolated in the tetrahedron of
/// its cell that holds it (four lattice points per pixel, integer arithmetic).
fn apply_lattice(frame: &mut Frame, lattice: &[u64]) {
    const R: usize = GRID * GRID;
    const G: usize = GRID;
    const STRIDES: [usize; 3] = [R, G, 1];
    // Axes (0 red, 1 green, 2 blue) by falling weight, for each outcome of the comparisons
    // r >= g (bit 0), g >= b (bit 1), r >= b (bit 2); the two impossible outcomes are
    // given any order.
    const ORDER: [[usize; 3]; 8] = [
        [2, 1, 0], // b > g > r
        [2, 0, 1], // b > r >= g
        [1, 2, 0], // g >= b > r
        [0, 1, 2], // impossible
        [0, 1, 2], // impossible
        [0, 2, 1], // r >= b > g
        [1, 0, 2], // g > r >= b
        [0, 1, 2], // r >= g >= b
    ];
    let pos = lattice_positions();
    for px in frame.data.chunks_exact_mut(3) {
        let (ri, rw) = pos[px[0] as usize];
        let (gi, gw) = pos[px[1] as usize];
        let (bi, bw) = pos[px[2] as usize];
        let base = ri * R + gi * G + bi;
        // The corners visited from the lower to the upper one, largest weight first: the
        // axes in order of their weights, picked without branches (pixels in a picture
        // change order too often for a branch to be predicted).
        let case = usize::from(rw >= gw) | usize::from(gw >= bw) << 1 | usize::from(rw >= bw) << 2;
        let [a1, a2, a3] = ORDER[case];
        let weights = [rw, gw, bw];
        let (w1, w2, w3) = (weights[a1], weights[a2], weights[a3]);
        let s1 = STRIDES[a1];
        let s2 = s1 + STRIDES[a2];
        // All three channels at once: each lattice point holds them in 21-bit fields and
        // the weights are not negative, so no field carries into the next.
        let v = lattice[base] * (256 - w1) as u64
            + lattice[base + s1] * (w1 - w2) as u64
            + lattice[base + s2] * (w2 - w3) as u64
            + lattice[base + R + G + 1] * w3 as u64;
        for (c, out) in px.iter_mut().enumerate() {
            let field = (v >> (FIELD * c as u32)) & FIELD_MASK;
            *out = ((field + 128 * LEVEL as u64) / (256 * LEVEL as u64)).min(255) as u8;
        }
    }
}

/// Moves each sRGB channel of `frame` to the target quantiles by `strength`.
pub fn match_histogram(frame: &mut Frame, target: &[[f32; QUANTILES]; 3], strength: f32) {
    let source = ColorStats::of(frame);
    let mut table = [[0u8; 256]; 3];
    for c in 0..3 {
        let hist = &source.histogram[c];
        let total = hist.iter().sum::<u32>().max(1) as f32;
        let mut below = 0u32;
        for v in 0..256 {
            let rank = (below as f32 + hist[v] as f32 / 2.0) / total;
            below += hist[v];
            let x = (rank * QUANTILES as f32 - 0.5).clamp(0.0, (QUANTILES - 1) as f32);
            let k = (x as usize).min(QUANTILES - 2);
            let a = x - k as f32;
            let matched = target[c][k] + (target[c][k + 1] - target[c][k]) * a;
            let value = v as f32 + (matched - v as f32) * strength;
            table[c][v] = (value + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
    for px in frame.data.chunks_exact_mut(3) {
        for c in 0..3 {
            px[c] = table[c][px[c] as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::lab::delta_e76;
    use super::*;
    use crate::plan::FrameClass;

    /// A detailed test picture: gradients and a checker.
    fn picture(w: u32, h: u32) -> Frame {
        let mut f = Frame::filled(w, h, [0, 0, 0]);
        for y in 0..h {
            for x in 0..w {
                let i = ((y * w + x) * 3) as usize;
                let check = if (x / 8 + y / 8) % 2 == 0 { 40 } else { 0 };
                f.data[i] = (x * 200 / w) as u8 + check;
                f.data[i + 1] = (y * 180 / h) as u8 + 30;
                f.data[i + 2] = ((x + y) * 120 / (w + h)) as u8 + 60;
            }
        }
        f
    }

    /// `frame` with a warm cast: red up, blue down, a little darker.
    fn cast(frame: &Frame, amount: f32) -> Frame {
        let mut out = frame.clone();
        for px in out.data.chunks_exact_mut(3) {
            px[0] = (f32::from(px[0]) * (1.0 + 0.1 * amount) + 6.0 * amount).min(255.0) as u8;
            px[1] = (f32::from(px[1]) * (1.0 - 0.05 * amount)) as u8;
            px[2] = (f32::from(px[2]) * (1.0 - 0.15 * amount)) as u8;
        }
        out
    }

    fn guide_of(kept: &Frame, n: usize) -> CallGuide {
        let mut mask = vec![1.0; n];
        mask[0] = 0.0;
        mask[n - 1] = 0.0;
        CallGuide {
            frames: vec![kept.clone(); n],
            classes: vec![FrameClass::Free; n],
            mask,
            structured: vec![false; n],
        }
    }

    #[test]
    fn both_methods_remove_a_cast_and_keep_kept_frames() {
        let clean = picture(96, 64);
        let reference = ColorStats::of(&clean);
        for method in [ColorMethod::Lab, ColorMethod::Histogram] {
            let guide = guide_of(&clean, 5);
            let mut frames: Vec<Frame> = (0..5).map(|_| cast(&clean, 1.0)).collect();
            frames[0] = clean.clone();
            frames[4] = clean.clone();
            let before = delta_e76(ColorStats::of(&frames[2]).mean, reference.mean);
            assert!(before > 8.0, "the cast is {before} dE");
            match_call(
                &guide,
                &mut frames,
                &ColorMatch {
                    method,
                    strength: 1.0,
                },
            );
            let after = delta_e76(ColorStats::of(&frames[2]).mean, reference.mean);
            assert!(after < 1.0, "{method:?}: {before} dE -> {after} dE");
            assert_eq!(frames[0], clean, "kept frames are not touched");
            let psnr = crate::media::psnr(&frames[2], &clean);
            assert!(
                psnr > 28.0,
                "{method:?}: the matched frame is {psnr} dB from the clean one"
            );
        }
    }

    #[test]
    fn strength_scales_the_correction_and_off_changes_nothing() {
        let clean = picture(64, 48);
        let reference = ColorStats::of(&clean).mean;
        let guide = guide_of(&clean, 3);
        let drift = |strength: f32, method: ColorMethod| {
            let mut frames = vec![clean.clone(), cast(&clean, 1.0), clean.clone()];
            match_call(&guide, &mut frames, &ColorMatch { method, strength });
            delta_e76(ColorStats::of(&frames[1]).mean, reference)
        };
        let (none, half, full) = (
            drift(0.0, ColorMethod::Lab),
            drift(0.5, ColorMethod::Lab),
            drift(1.0, ColorMethod::Lab),
        );
        assert!(full < half && half < none, "{none} {half} {full}");
        assert!((half - none / 2.0).abs() < none * 0.15, "{none} {half}");
        assert_eq!(drift(1.0, ColorMethod::Off), none);
    }

    #[test]
    fn the_target_is_interpolated_between_the_kept_frames() {
        let dark = Frame::filled(32, 32, [60, 60, 60]);
        let light = Frame::filled(32, 32, [180, 180, 180]);
        let mut guide = guide_of(&dark, 5);
        guide.frames[4] = light.clone();
        let mut frames = vec![
            dark.clone(),
            dark.clone(),
            dark.clone(),
            dark.clone(),
            light,
        ];
        match_call(&guide, &mut frames, &ColorMatch::default());
        let l = |f: &Frame| ColorStats::of(f).mean[0];
        let (l0, l4) = (l(&frames[0]), l(&frames[4]));
        let mid = l(&frames[2]);
        assert!((mid - f32::midpoint(l0, l4)).abs() < 1.0, "{l0} {mid} {l4}");
        assert!(l(&frames[1]) < mid && mid < l(&frames[3]));
    }

    #[test]
    fn strength_outside_zero_to_one_is_refused() {
        for s in [-0.1, 1.5, f32::NAN] {
            let m = ColorMatch {
                method: ColorMethod::Lab,
                strength: s,
            };
            assert!(m.validate().is_err());
        }
    }
}
