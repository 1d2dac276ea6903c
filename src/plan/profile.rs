//! Model profiles: the frame and size constraints of a video generator and its cost model.

use serde::{Deserialize, Serialize};

use crate::error::{Result, UserError};

/// What a generator accepts (call lengths, sizes, frame rate) and what a call costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelProfile {
    /// Profile name as written in project files.
    pub name: String,
    /// Valid call lengths are `frame_step * n + 1`.
    pub frame_step: u32,
    /// Longest call in frames.
    pub max_frames: u32,
    /// Width and height must be multiples of this.
    pub size_multiple: u32,
    /// Frame rate the model was trained at.
    pub native_fps: u32,
    /// Estimated fixed cost of one call in seconds (model load, queueing, encode).
    #[serde(default = "default_call_overhead_secs")]
    pub call_overhead_secs: f64,
    /// Estimated cost of one generated frame in seconds.
    #[serde(default = "default_frame_secs")]
    pub frame_secs: f64,
}

fn default_call_overhead_secs() -> f64 {
    30.0
}

fn default_frame_secs() -> f64 {
    0.5
}

/// Wan 2.1 / 2.2: lengths 4n+1 up to 81 frames, sizes multiple of 16, 16 fps. A cold model
/// load costs 20-60 s, a distilled 480p frame about half a second on a large GPU.
fn wan(name: &str) -> ModelProfile {
    ModelProfile {
        name: name.to_string(),
        frame_step: 4,
        max_frames: 81,
        size_multiple: 16,
        native_fps: 16,
        call_overhead_secs: 30.0,
        frame_secs: 0.5,
    }
}

/// Names of the built-in profiles.
pub const BUILTIN_NAMES: &[&str] = &[
    "wan2.1-vace-14b",
    "wan2.1-vace-1.3b",
    "wan2.2-vace-14b",
    "ltx-video",
];

impl ModelProfile {
    /// Looks a built-in profile up by name.
    pub fn builtin(name: &str) -> Option<ModelProfile> {
        match name {
            "wan2.1-vace-14b" | "wan2.2-vace-14b" => Some(wan(name)),
            "wan2.1-vace-1.3b" => Some(ModelProfile {
                call_overhead_secs: 10.0,
                frame_secs: 0.2,
                ..wan(name)
            }),
            // LTX-style: lengths 8n+1 up to 241 frames at 24 fps.
            "ltx-video" => Some(ModelProfile {
                name: name.to_string(),
                frame_step: 8,
                max_frames: 241,
                size_multiple: 32,
                native_fps: 24,
                call_overhead_secs: 15.0,
                frame_secs: 0.1,
            }),
            _ => None,
        }
    }

    /// Whether a call of `frames` frames is valid for this model.
    pub fn is_valid_length(&self, frames: u32) -> bool {
        frames >= 1 && frames <= self.max_frames && (frames - 1).is_multiple_of(self.frame_step)
    }

    /// Valid call lengths up to `cap`, longest first.
    pub fn valid_lengths_desc(&self, cap: u32) -> impl Iterator<Item = u32> + '_ {
        let top = cap.min(self.max_frames).max(1);
        let n_max = (top - 1) / self.frame_step;
        (0..=n_max).rev().map(|n| n * self.frame_step + 1)
    }

    /// Estimated seconds for one call of `frames` frames.
    pub fn call_cost_secs(&self, frames: u32) -> f64 {
        self.call_overhead_secs + self.frame_secs * f64::from(frames)
    }

    /// Checks a custom profile; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, why: String| {
            Err(UserError::input(format!("profile.{field}: {why}"))
                .hint("see README.md, \"Custom model profile\""))
        };
        if self.name.trim().is_empty() {
            return bad("name", "empty".into());
        }
        if !(1..=64).contains(&self.frame_step) {
            return bad(
                "frame_step",
                format!("{} must be from 1 to 64", self.frame_step),
            );
        }
        if self.max_frames < self.frame_step + 1 || self.max_frames > 10_000 {
            return bad(
                "max_frames",
                format!(
                    "{} must be between frame_step + 1 and 10000",
                    self.max_frames
                ),
            );
        }
        if !(1..=256).contains(&self.size_multiple) {
            return bad(
                "size_multiple",
                format!("{} must be from 1 to 256", self.size_multiple),
            );
        }
        if !(1..=240).contains(&self.native_fps) {
            return bad(
                "native_fps",
                format!("{} must be from 1 to 240", self.native_fps),
            );
        }
        for (field, v) in [
            ("call_overhead_secs", self.call_overhead_secs),
            ("frame_secs", self.frame_secs),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(field, format!("{v} must be a non-negative number"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wan_lengths_are_4n_plus_1_up_to_81() {
        let p = ModelProfile::builtin("wan2.1-vace-14b").unwrap();
        assert!(p.is_valid_length(81));
        assert!(p.is_valid_length(41));
        assert!(!p.is_valid_length(85));
        assert!(!p.is_valid_length(40));
        assert_eq!(p.valid_lengths_desc(81).count(), 21);
        assert_eq!(p.valid_lengths_desc(81).next(), Some(81));
        assert_eq!(p.valid_lengths_desc(66).next(), Some(65));
    }

    #[test]
    fn ltx_lengths_are_8n_plus_1_up_to_241() {
        let p = ModelProfile::builtin("ltx-video").unwrap();
        assert!(p.is_valid_length(241));
        assert!(p.is_valid_length(9));
        assert!(!p.is_valid_length(245));
        assert!(!p.is_valid_length(13));
        assert_eq!(p.native_fps, 24);
    }

    #[test]
    fn every_builtin_name_resolves_and_validates() {
        for name in BUILTIN_NAMES {
            ModelProfile::builtin(name).unwrap().validate().unwrap();
        }
    }
}
