//! Model profiles: the frame and size constraints of a video generator.

use serde::Serialize;

/// What a generator accepts: call lengths, sizes and its native frame rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelProfile {
    /// Profile name as written in project files.
    pub name: &'static str,
    /// Valid call lengths are `frame_step * n + 1`.
    pub frame_step: u32,
    /// Longest call in frames.
    pub max_frames: u32,
    /// Width and height must be multiples of this.
    pub size_multiple: u32,
    /// Frame rate the model was trained at.
    pub native_fps: u32,
}

const WAN: ModelProfile = ModelProfile {
    name: "",
    frame_step: 4,
    max_frames: 81,
    size_multiple: 16,
    native_fps: 16,
};

/// Every built-in profile.
pub const PROFILES: &[ModelProfile] = &[
    ModelProfile {
        name: "wan2.1-vace-14b",
        ..WAN
    },
    ModelProfile {
        name: "wan2.1-vace-1.3b",
        ..WAN
    },
    ModelProfile {
        name: "wan2.2-vace-14b",
        ..WAN
    },
];

impl ModelProfile {
    /// Looks a profile up by name.
    pub fn find(name: &str) -> Option<&'static ModelProfile> {
        PROFILES.iter().find(|p| p.name == name)
    }

    /// Whether a call of `frames` frames is valid for this model.
    pub fn is_valid_length(&self, frames: u32) -> bool {
        frames >= 1 && frames <= self.max_frames && (frames - 1).is_multiple_of(self.frame_step)
    }

    /// Valid call lengths, longest first.
    pub fn valid_lengths_desc(&self) -> impl Iterator<Item = u32> + '_ {
        let n_max = (self.max_frames - 1) / self.frame_step;
        (0..=n_max).rev().map(|n| n * self.frame_step + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wan_lengths_are_4n_plus_1_up_to_81() {
        let p = ModelProfile::find("wan2.1-vace-14b").unwrap();
        assert!(p.is_valid_length(81));
        assert!(p.is_valid_length(41));
        assert!(!p.is_valid_length(85));
        assert!(!p.is_valid_length(40));
        assert_eq!(p.valid_lengths_desc().count(), 21);
        assert_eq!(p.valid_lengths_desc().next(), Some(81));
    }
}
