//! What a generation call costs: `t = a + b·x + c·x²` seconds, `x` = frames × megapixels of
//! the call. The profile gives a linear default (`a` = per-call overhead, `b` from the
//! per-frame time); timings of finished calls replace it by a least-squares fit once calls
//! of at least three distinct sizes were seen. A warm server that keeps models loaded has a
//! small `a`; video diffusion's attention over all frames gives `c > 0`. Pure arithmetic.

use serde::{Deserialize, Serialize};

use super::ModelProfile;

/// Distinct call sizes a fit needs before it replaces the profile's default.
pub const MIN_DISTINCT_SIZES: usize = 3;

/// Least saving (fraction of the unmerged time) worth a merged call under `auto`.
pub const AUTO_MIN_SAVING: f64 = 0.10;

/// One finished call: its size and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostSample {
    /// Frames of the call.
    pub frames: u32,
    /// Megapixels of one frame.
    pub megapixels: f64,
    /// Seconds the call took.
    pub secs: f64,
}

impl CostSample {
    /// `x` of the cost law: frames × megapixels.
    pub fn x(&self) -> f64 {
        f64::from(self.frames) * self.megapixels
    }
}

/// The cost law of a backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// Seconds per call, whatever its size.
    pub a: f64,
    /// Seconds per megapixel-frame.
    pub b: f64,
    /// Seconds per squared megapixel-frame.
    pub c: f64,
    /// Finished calls the fit used (0 for the profile's default).
    pub samples: usize,
    /// Root-mean-square error of the fit on its samples, in seconds.
    pub rms_error_secs: f64,
    /// Where the figures come from, in words.
    pub source: String,
}

impl CostModel {
    /// The profile's linear default for calls of `width` x `height`.
    pub fn from_profile(profile: &ModelProfile, width: u32, height: u32) -> Self {
        let mp = megapixels(width, height);
        Self {
            a: profile.call_overhead_secs,
            b: profile.frame_secs / mp,
            c: 0.0,
            samples: 0,
            rms_error_secs: 0.0,
            source: format!("{} profile defaults", profile.name),
        }
    }

    /// Predicted seconds of a call of `frames` frames of `megapixels` each.
    pub fn secs(&self, frames: u32, megapixels: f64) -> f64 {
        let x = f64::from(frames) * megapixels;
        (self.a + self.b * x + self.c * x * x).max(0.0)
    }

    /// The least-squares fit of `samples`, or `None` with fewer than
    /// [`MIN_DISTINCT_SIZES`] distinct sizes (or a degenerate system).
    pub fn fit(samples: &[CostSample], source: &str) -> Option<Self> {
        let mut sizes: Vec<f64> = samples.iter().map(CostSample::x).collect();
        sizes.sort_by(f64::total_cmp);
        sizes.dedup_by(|a, b| (*a - *b).abs() <= 1e-9 * b.abs().max(1.0));
        if sizes.len() < MIN_DISTINCT_SIZES {
            return None;
        }
        // Scale x so the normal equations stay well conditioned.
        let scale = sizes.last().copied().unwrap_or(1.0).max(1e-9);
        let mut m = [[0.0f64; 4]; 3];
        for s in samples {
            let x = s.x() / scale;
            let row = [1.0, x, x * x];
            for i in 0..3 {
                for j in 0..3 {
                    m[i][j] += row[i] * row[j];
                }
                m[i][3] += row[i] * s.secs;
            }
        }
        let [a, b, c] = solve3(m)?;
        let (b, c) = (b / scale, c / (scale * scale));
        let mut model = Self {
            a,
            b,
            c,
            samples: samples.len(),
            rms_error_secs: 0.0,
            source: source.to_string(),
        };
        let sq: f64 = samples
            .iter()
            .map(|s| (model.secs(s.frames, s.megapixels) - s.secs).powi(2))
            .sum();
        model.rms_error_secs = (sq / samples.len() as f64).sqrt();
        Some(model)
    }

    /// Whether merging spans that cost `unmerged` seconds apart into one call of `merged`
    /// seconds is worth it under `auto`, and why, in words.
    pub fn merge_decision(&self, unmerged: f64, merged: f64, merged_x: f64) -> (bool, String) {
        let saving = unmerged - merged;
        if saving >= AUTO_MIN_SAVING * unmerged {
            return (
                true,
                format!(
                    "merging saves {} ({} -> {}, {})",
                    secs_text(saving),
                    secs_text(unmerged),
                    secs_text(merged),
                    self.source
                ),
            );
        }
        let quadratic = self.c > 0.0 && self.c * merged_x * merged_x > self.a;
        if saving < 0.0 {
            (
                false,
                format!(
                    "merging would cost {} more{} ({})",
                    secs_text(-saving),
                    if quadratic {
                        ": calls grow quadratically on this backend"
                    } else {
                        ""
                    },
                    self.source
                ),
            )
        } else {
            (
                false,
                format!(
                    "merging would save only {:.0} % ({}), less than {:.0} %",
                    100.0 * saving / unmerged.max(f64::MIN_POSITIVE),
                    self.source,
                    100.0 * AUTO_MIN_SAVING
                ),
            )
        }
    }
}

/// Megapixels of a `width` x `height` frame.
pub fn megapixels(width: u32, height: u32) -> f64 {
    f64::from(width) * f64::from(height) / 1e6
}

/// Seconds in words: `38 s`, `1.2 s`.
pub fn secs_text(secs: f64) -> String {
    if secs >= 10.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs:.1} s")
    }
}

/// Solves a 3x3 system given as an augmented matrix (Gaussian elimination with pivoting).
fn solve3(mut m: [[f64; 4]; 3]) -> Option<[f64; 3]> {
    for col in 0..3 {
        let pivot = (col..3).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        let pivot_row = m[col];
        for (row, values) in m.iter_mut().enumerate() {
            if row != col {
                let f = values[col] / pivot_row[col];
                for (v, p) in values.iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    Some([m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fit_on_synthetic_timings_recovers_the_law() {
        let (a, b, c) = (4.0, 0.9, 0.02);
        let mut samples = Vec::new();
        let mut noise = 0.37f64;
        for frames in [9u32, 17, 33, 49, 65, 81] {
            for mp in [0.1, 0.4] {
                noise = (noise * 7.13).fract();
                let x = f64::from(frames) * mp;
                let t = (a + b * x + c * x * x) * (1.0 + (noise - 0.5) * 0.002);
                samples.push(CostSample {
                    frames,
                    megapixels: mp,
                    secs: t,
                });
            }
        }
        let fit = CostModel::fit(&samples, "test").unwrap();
        assert!((fit.a - a).abs() / a < 0.05, "{fit:?}");
        assert!((fit.b - b).abs() / b < 0.05, "{fit:?}");
        assert!((fit.c - c).abs() / c < 0.05, "{fit:?}");
        assert!(fit.rms_error_secs < 0.05);
    }

    #[test]
    fn two_sizes_are_not_enough() {
        let s = |frames| CostSample {
            frames,
            megapixels: 0.4,
            secs: 1.0,
        };
        assert!(CostModel::fit(&[s(9), s(17), s(17)], "t").is_none());
        assert!(CostModel::fit(&[s(9), s(17), s(33)], "t").is_some());
    }

    #[test]
    fn decisions_say_why_both_ways() {
        let cold = CostModel {
            a: 30.0,
            b: 1.0,
            c: 0.0,
            samples: 3,
            rms_error_secs: 0.0,
            source: "measured".into(),
        };
        let (yes, why) = cold.merge_decision(100.0, 62.0, 20.0);
        assert!(yes && why.starts_with("merging saves 38 s"), "{why}");
        let warm = CostModel {
            a: 0.5,
            b: 0.1,
            c: 0.05,
            ..cold
        };
        let (no, why) = warm.merge_decision(20.0, 32.0, 24.0);
        assert!(!no);
        assert!(why.contains("12 s more: calls grow quadratically"), "{why}");
    }
}
