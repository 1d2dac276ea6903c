//! CIE Lab (D65) from 8-bit sRGB and back, and the colour statistics of a frame.
//!
//! The forward conversion is table driven (a 256-entry sRGB-to-linear table and a
//! 2049-entry cube-root table, linearly interpolated: within 0.01 L of the exact formula),
//! so statistics of a frame cost about a microsecond per thousand pixels. The inverse is
//! exact (it runs on a few thousand lattice points per frame, never per pixel).

use std::sync::OnceLock;

use crate::media::Frame;

/// D65 white, `X` and `Z` (`Y` = 1).
const WHITE: [f32; 3] = [0.950_47, 1.0, 1.088_83];
/// Linear sRGB to XYZ (D65).
const TO_XYZ: [[f32; 3]; 3] = [
    [0.412_456_4, 0.357_576_1, 0.180_437_5],
    [0.212_672_9, 0.715_152_2, 0.072_175],
    [0.019_333_9, 0.119_192, 0.950_304_1],
];
/// XYZ (D65) to linear sRGB.
const TO_RGB: [[f32; 3]; 3] = [
    [3.240_454_2, -1.537_138_5, -0.498_531_4],
    [-0.969_266, 1.876_010_8, 0.041_556],
    [0.055_643_4, -0.204_025_9, 1.057_225_2],
];
/// Entries of the cube-root table over `0..=CBRT_MAX`.
const CBRT_STEPS: usize = 2048;
/// Largest `X/Xn`, `Y/Yn` or `Z/Zn` an sRGB colour reaches, rounded up.
const CBRT_MAX: f32 = 1.0625;

struct Tables {
    linear: [f32; 256],
    cbrt: Vec<f32>,
    /// sRGB (0..=255) of linear light `i / GAMMA_STEPS`.
    gamma: Vec<f32>,
}

/// Entries of the linear-to-sRGB table over `0..=1`.
const GAMMA_STEPS: usize = 4096;

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut linear = [0.0f32; 256];
        for (v, slot) in linear.iter_mut().enumerate() {
            *slot = srgb_to_linear(v as f32 / 255.0);
        }
        let cbrt = (0..=CBRT_STEPS + 1)
            .map(|i| lab_f(i as f32 * CBRT_MAX / CBRT_STEPS as f32))
            .collect();
        let gamma = (0..=GAMMA_STEPS + 1)
            .map(|i| linear_to_srgb((i as f32 / GAMMA_STEPS as f32).min(1.0)) * 255.0)
            .collect();
        Tables {
            linear,
            cbrt,
            gamma,
        }
    })
}

fn srgb_to_linear(v: f32) -> f32 {
    if v <= 0.040_45 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

fn linear_to_srgb(v: f32) -> f32 {
    if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    }
}

/// The Lab companding function `f(t)`.
fn lab_f(t: f32) -> f32 {
    const E: f32 = 216.0 / 24389.0;
    if t > E {
        t.cbrt()
    } else {
        t * (24389.0 / 27.0 / 116.0) + 16.0 / 116.0
    }
}

fn lab_f_inv(f: f32) -> f32 {
    const D: f32 = 6.0 / 29.0;
    if f > D {
        f * f * f
    } else {
        3.0 * D * D * (f - 4.0 / 29.0)
    }
}

/// `f(t)` from the table.
fn f_table(cbrt: &[f32], t: f32) -> f32 {
    let x = (t.max(0.0) * (CBRT_STEPS as f32 / CBRT_MAX)).min(CBRT_STEPS as f32);
    let i = x as usize;
    let a = x - i as f32;
    cbrt[i] + (cbrt[i + 1] - cbrt[i]) * a
}

/// Lab of an 8-bit sRGB colour (table driven).
pub fn lab_of(rgb: [u8; 3]) -> [f32; 3] {
    let t = tables();
    lab_of_with(t, rgb)
}

fn lab_of_with(t: &Tables, rgb: [u8; 3]) -> [f32; 3] {
    let lin = [
        t.linear[rgb[0] as usize],
        t.linear[rgb[1] as usize],
        t.linear[rgb[2] as usize],
    ];
    let xyz =
        |row: [f32; 3], white: f32| (row[0] * lin[0] + row[1] * lin[1] + row[2] * lin[2]) / white;
    let fx = f_table(&t.cbrt, xyz(TO_XYZ[0], WHITE[0]));
    let fy = f_table(&t.cbrt, xyz(TO_XYZ[1], WHITE[1]));
    let fz = f_table(&t.cbrt, xyz(TO_XYZ[2], WHITE[2]));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// Lab of an sRGB colour given in `0.0..=255.0` per channel (exact formula).
pub fn lab_of_f32(rgb: [f32; 3]) -> [f32; 3] {
    let lin = rgb.map(|v| srgb_to_linear(v.clamp(0.0, 255.0) / 255.0));
    let xyz =
        |row: [f32; 3], white: f32| (row[0] * lin[0] + row[1] * lin[1] + row[2] * lin[2]) / white;
    let fx = lab_f(xyz(TO_XYZ[0], WHITE[0]));
    let fy = lab_f(xyz(TO_XYZ[1], WHITE[1]));
    let fz = lab_f(xyz(TO_XYZ[2], WHITE[2]));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// Linear sRGB (clipped to `0..=1`) of a Lab colour.
fn linear_of(lab: [f32; 3]) -> [f32; 3] {
    let fy = (lab[0] + 16.0) / 116.0;
    let fx = fy + lab[1] / 500.0;
    let fz = fy - lab[2] / 200.0;
    let xyz = [
        lab_f_inv(fx) * WHITE[0],
        lab_f_inv(fy) * WHITE[1],
        lab_f_inv(fz) * WHITE[2],
    ];
    TO_RGB.map(|row| (row[0] * xyz[0] + row[1] * xyz[1] + row[2] * xyz[2]).clamp(0.0, 1.0))
}

/// The sRGB colour (`0.0..=255.0` per channel, clipped to the gamut) of a Lab colour.
pub fn rgb_of(lab: [f32; 3]) -> [f32; 3] {
    linear_of(lab).map(|lin| linear_to_srgb(lin) * 255.0)
}

/// [`rgb_of`] with the gamma curve read from a table (within 0.05 of a level; for the
/// colour match's lattice).
pub fn rgb_of_fast(lab: [f32; 3]) -> [f32; 3] {
    let t = tables();
    linear_of(lab).map(|lin| {
        let x = lin * GAMMA_STEPS as f32;
        let i = x as usize;
        let a = x - i as f32;
        t.gamma[i] + (t.gamma[i + 1] - t.gamma[i]) * a
    })
}

/// CIE 1976 colour difference.
pub fn delta_e76(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Pixels between samples along each axis when a frame's statistics are taken: every
/// fourth pixel of every fourth row (25 000 samples at 832x480).
pub const SAMPLE_STEP: usize = 4;

/// The colour statistics of a frame: per Lab channel the mean and the spread (standard
/// deviation), and per sRGB channel the histogram, over the pixels on a
/// [`SAMPLE_STEP`] grid.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorStats {
    /// Mean L, a, b.
    pub mean: [f32; 3],
    /// Standard deviation of L, a, b.
    pub spread: [f32; 3],
    /// Per sRGB channel, how many sampled pixels have each value.
    pub histogram: [[u32; 256]; 3],
}

impl ColorStats {
    /// The statistics of `frame`.
    pub fn of(frame: &Frame) -> Self {
        let t = tables();
        let (w, h) = (frame.width as usize, frame.height as usize);
        let mut sum = [0f64; 3];
        let mut sq = [0f64; 3];
        let mut histogram = [[0u32; 256]; 3];
        let mut n = 0u32;
        let start = SAMPLE_STEP / 2;
        for y in (start.min(h.saturating_sub(1))..h).step_by(SAMPLE_STEP) {
            let row = &frame.data[y * w * 3..(y + 1) * w * 3];
            let mut row_sum = [0f32; 3];
            let mut row_sq = [0f32; 3];
            for px in row
                .chunks_exact(3)
                .skip(start.min(w - 1))
                .step_by(SAMPLE_STEP)
            {
                let lab = lab_of_with(t, [px[0], px[1], px[2]]);
                for c in 0..3 {
                    row_sum[c] += lab[c];
                    row_sq[c] += lab[c] * lab[c];
                    histogram[c][px[c] as usize] += 1;
                }
                n += 1;
            }
            for c in 0..3 {
                sum[c] += f64::from(row_sum[c]);
                sq[c] += f64::from(row_sq[c]);
            }
        }
        let n = f64::from(n.max(1));
        let mean = sum.map(|s| (s / n) as f32);
        let mut spread = [0f32; 3];
        for c in 0..3 {
            let m = sum[c] / n;
            spread[c] = ((sq[c] / n - m * m).max(0.0)).sqrt() as f32;
        }
        Self {
            mean,
            spread,
            histogram,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_colours_have_their_lab_values() {
        // White, black, and sRGB red (L 53.24, a 80.09, b 67.20).
        let white = lab_of([255, 255, 255]);
        assert!((white[0] - 100.0).abs() < 0.05 && white[1].abs() < 0.05 && white[2].abs() < 0.05);
        assert!(lab_of([0, 0, 0])[0].abs() < 0.01);
        let red = lab_of([255, 0, 0]);
        for (got, want) in red.iter().zip([53.24, 80.09, 67.20]) {
            assert!((got - want).abs() < 0.05, "{red:?}");
        }
    }

    #[test]
    fn the_table_agrees_with_the_formula_and_back_is_exact() {
        for r in (0..=255).step_by(15) {
            for g in (0..=255).step_by(17) {
                for b in (0..=255).step_by(51) {
                    let rgb = [r as u8, g as u8, b as u8];
                    let fast = lab_of(rgb);
                    let exact = lab_of_f32(rgb.map(f32::from));
                    assert!(
                        delta_e76(fast, exact) < 0.02,
                        "{rgb:?}: {fast:?} vs {exact:?}"
                    );
                    let back = rgb_of(exact);
                    let fast_back = rgb_of_fast(exact);
                    for c in 0..3 {
                        assert!(
                            (back[c] - f32::from(rgb[c])).abs() < 0.01,
                            "{rgb:?} -> {back:?}"
                        );
                        assert!(
                            (fast_back[c] - back[c]).abs() < 0.05,
                            "{rgb:?} -> {fast_back:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn statistics_of_a_two_colour_frame() {
        let mut f = Frame::filled(64, 64, [255, 255, 255]);
        for i in (0..f.data.len()).step_by(6) {
            f.data[i..i + 3].copy_from_slice(&[0, 0, 0]);
        }
        // Alternate pixels black and white, but the sample grid (every 4th pixel from 2)
        // sees only even pixels: black.
        let s = ColorStats::of(&f);
        assert!(s.mean[0].abs() < 0.01, "{:?}", s.mean);
        let g = ColorStats::of(&Frame::filled(8, 8, [128, 128, 128]));
        assert!((g.mean[0] - 53.59).abs() < 0.05 && g.spread[0] < 1e-3);
        assert_eq!(g.histogram[1][128], 4);
    }
}
