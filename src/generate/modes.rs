//! Generation modes, what each backend supports, and routing a request to a mode.
//!
//! Text only -> text-to-video; one image -> image-to-video; one image and text ->
//! text+image-to-video; two or more keyframes -> travel calls with anchors (guide + mask).
//! Each backend's modes and their limits are data (`assets/backends/*.toml`), checked in
//! one place ([`Capabilities::check`]) instead of scattered conditions.

use serde::{Deserialize, Serialize};

use crate::error::{Result, UserError};

/// What a generation request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Text only.
    TextToVideo,
    /// One image, no text.
    ImageToVideo,
    /// One image and text.
    TextImageToVideo,
    /// Two or more keyframes: calls with anchors, guide and mask.
    Travel,
}

impl Mode {
    /// Short name used in messages and files (`t2v`, `i2v`, `ti2v`, `travel`).
    pub fn short(self) -> &'static str {
        match self {
            Mode::TextToVideo => "t2v",
            Mode::ImageToVideo => "i2v",
            Mode::TextImageToVideo => "ti2v",
            Mode::Travel => "travel",
        }
    }

    /// The mode for a request with `keyframes` images and (`has_text`) a prompt.
    pub fn route(keyframes: usize, has_text: bool) -> Mode {
        match (keyframes, has_text) {
            (0, _) => Mode::TextToVideo,
            (1, false) => Mode::ImageToVideo,
            (1, true) => Mode::TextImageToVideo,
            _ => Mode::Travel,
        }
    }
}

/// Ways to turn a request of one mode into a request of another, nearest first, with
/// what the user has to do.
const ALTERNATIVES: &[(Mode, &[(Mode, &str)])] = &[
    (
        Mode::TextToVideo,
        &[
            (Mode::TextImageToVideo, "add a keyframe image to start from"),
            (Mode::Travel, "add two keyframe images to travel between"),
        ],
    ),
    (
        Mode::ImageToVideo,
        &[
            (Mode::TextImageToVideo, "add a prompt"),
            (Mode::Travel, "add a second keyframe image to travel to"),
        ],
    ),
    (
        Mode::TextImageToVideo,
        &[
            (Mode::ImageToVideo, "clear the prompt"),
            (Mode::Travel, "add a second keyframe image to travel to"),
        ],
    ),
    (
        Mode::Travel,
        &[(
            Mode::TextImageToVideo,
            "keep only the first keyframe and describe the motion in the prompt",
        )],
    ),
];

/// Limits of one mode on one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeLimits {
    /// The mode.
    pub mode: Mode,
    /// Most sampler steps a call may ask for.
    pub max_steps: u32,
    /// Smallest width or height.
    pub min_side: u32,
    /// Largest width or height.
    pub max_side: u32,
    /// Whether LoRAs are applied in this mode.
    pub loras: bool,
}

/// What a backend can do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Most frames in one call.
    pub max_frames: u32,
    /// Width and height must be multiples of this.
    pub size_multiple: u32,
    /// Calls the backend can run at once (e.g. one per server).
    #[serde(default = "one")]
    pub parallel_slots: usize,
    /// Supported modes and their limits.
    pub modes: Vec<ModeLimits>,
}

fn one() -> usize {
    1
}

impl Capabilities {
    /// Capabilities from TOML text (the format of `assets/backends/*.toml`).
    pub fn from_toml(text: &str, what: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| {
            UserError::input(format!("{what}: invalid capabilities: {}", e.message()))
                .hint("see assets/backends/builtin.toml for the format")
        })
    }

    /// The limits of `mode`, when the backend supports it.
    pub fn limits(&self, mode: Mode) -> Option<&ModeLimits> {
        self.modes.iter().find(|m| m.mode == mode)
    }

    /// Checks a request against the backend's data: mode supported, frames per call, size,
    /// steps and LoRAs. The error names the limit and the nearest supported alternative.
    pub fn check(&self, backend: &str, request: &RequestShape) -> Result<()> {
        let Some(limits) = self.limits(request.mode) else {
            let supported: Vec<&str> = self.modes.iter().map(|m| m.mode.short()).collect();
            let mut error = UserError::input(format!(
                "backend {backend} does not support {} (it supports: {})",
                request.mode.short(),
                supported.join(", ")
            ));
            let alternatives = ALTERNATIVES
                .iter()
                .find(|(m, _)| *m == request.mode)
                .map_or(&[][..], |(_, a)| *a);
            for (mode, what) in alternatives {
                if self.limits(*mode).is_some() {
                    error = error.hint(format!("{what} ({} is supported)", mode.short()));
                    break;
                }
            }
            return Err(error.hint("or choose a backend that supports it"));
        };
        if request.frames > self.max_frames {
            return Err(UserError::input(format!(
                "a call of {} frames is longer than backend {backend} allows ({})",
                request.frames, self.max_frames
            ))
            .hint("choose a model profile with at most this many frames per call"));
        }
        for (name, v) in [("width", request.width), ("height", request.height)] {
            if v < limits.min_side || v > limits.max_side {
                return Err(UserError::input(format!(
                    "{name} {v} is outside {} to {} for {} on backend {backend}",
                    limits.min_side,
                    limits.max_side,
                    request.mode.short()
                ))
                .hint("change the project's width and height"));
            }
            if v % self.size_multiple.max(1) != 0 {
                return Err(UserError::input(format!(
                    "{name} {v} is not a multiple of {} as backend {backend} needs",
                    self.size_multiple
                ))
                .hint(format!(
                    "use {}",
                    v / self.size_multiple.max(1) * self.size_multiple.max(1)
                )));
            }
        }
        if request.steps > limits.max_steps {
            return Err(UserError::input(format!(
                "{} sampler steps exceed the {} allowed for {} on backend {backend}",
                request.steps,
                limits.max_steps,
                request.mode.short()
            ))
            .hint(format!("use at most {} steps", limits.max_steps)));
        }
        if request.loras && !limits.loras {
            return Err(UserError::input(format!(
                "backend {backend} does not apply LoRAs in {}",
                request.mode.short()
            ))
            .hint("remove the LoRAs from the segments or choose the comfyui backend"));
        }
        Ok(())
    }
}

/// The parts of a request that capabilities constrain.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestShape {
    /// Mode the request routes to.
    pub mode: Mode,
    /// Frames of the longest call.
    pub frames: u32,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Most sampler steps any segment asks for.
    pub steps: u32,
    /// Whether any segment has LoRAs.
    pub loras: bool,
    /// Every LoRA file any segment asks for, once each.
    pub lora_names: Vec<String>,
}

impl RequestShape {
    /// The shape of rendering `project` with the calls of `plan`.
    pub fn of(project: &crate::project::Project, plan: Option<&crate::plan::Plan>) -> Self {
        let has_text = project.segments.iter().any(|s| !s.prompt.trim().is_empty());
        Self {
            mode: Mode::route(project.keyframes.len(), has_text),
            frames: plan.map_or(0, |p| {
                p.calls
                    .iter()
                    .map(super::super::plan::Call::len)
                    .max()
                    .unwrap_or(0)
            }),
            width: project.width,
            height: project.height,
            steps: project
                .segments
                .iter()
                .map(|s| s.steps.unwrap_or(super::retry::DEFAULT_STEPS))
                .max()
                .unwrap_or(0),
            loras: project.segments.iter().any(|s| !s.loras.is_empty()),
            lora_names: {
                let mut names: Vec<String> = project
                    .segments
                    .iter()
                    .flat_map(|s| s.loras.iter().map(|l| l.name.clone()))
                    .collect();
                names.sort();
                names.dedup();
                names
            },
        }
    }
}

/// Capabilities shipped for a backend kind (`builtin`, `comfyui-wan-vace`, `onnx-video`,
/// `onnx-interpolator`).
pub fn shipped(kind: &str) -> Result<Capabilities> {
    let text = match kind {
        "builtin" => include_str!("../../assets/backends/builtin.toml"),
        "comfyui-wan-vace" => include_str!("../../assets/backends/comfyui-wan-vace.toml"),
        "onnx-video" => include_str!("../../assets/backends/onnx-video.toml"),
        "onnx-interpolator" => include_str!("../../assets/backends/onnx-interpolator.toml"),
        other => {
            return Err(UserError::input(format!(
                "no capabilities are shipped for {other:?}"
            )));
        }
    };
    Capabilities::from_toml(text, kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(mode: Mode) -> RequestShape {
        RequestShape {
            mode,
            frames: 81,
            width: 832,
            height: 480,
            steps: 20,
            loras: false,
            lora_names: Vec::new(),
        }
    }

    #[test]
    fn routing_follows_keyframes_and_text() {
        assert_eq!(Mode::route(0, true), Mode::TextToVideo);
        assert_eq!(Mode::route(1, false), Mode::ImageToVideo);
        assert_eq!(Mode::route(1, true), Mode::TextImageToVideo);
        assert_eq!(Mode::route(2, false), Mode::Travel);
        assert_eq!(Mode::route(7, true), Mode::Travel);
    }

    #[test]
    fn shipped_capabilities_parse() {
        for kind in [
            "builtin",
            "comfyui-wan-vace",
            "onnx-video",
            "onnx-interpolator",
        ] {
            let caps = shipped(kind).unwrap();
            assert!(!caps.modes.is_empty(), "{kind}");
        }
    }

    #[test]
    fn unsupported_mode_names_the_nearest_alternative() {
        let caps = shipped("builtin").unwrap();
        let err = caps
            .check("builtin", &shape(Mode::TextToVideo))
            .unwrap_err();
        assert!(err.message.contains("does not support t2v"), "{err}");
        assert!(
            err.suggestions[0].contains("add two keyframe images"),
            "{:?}",
            err.suggestions
        );
    }

    #[test]
    fn limits_come_from_data() {
        let caps = shipped("comfyui-wan-vace").unwrap();
        caps.check("comfyui", &shape(Mode::Travel)).unwrap();
        let mut s = shape(Mode::Travel);
        s.width = 840;
        assert!(
            caps.check("comfyui", &s)
                .unwrap_err()
                .message
                .contains("multiple of 16")
        );
        let mut s = shape(Mode::Travel);
        s.frames = 85;
        assert!(caps.check("comfyui", &s).is_err());
        let mut s = shape(Mode::Travel);
        s.steps = 500;
        assert!(
            caps.check("comfyui", &s)
                .unwrap_err()
                .message
                .contains("steps")
        );
        let onnx = shipped("onnx-interpolator").unwrap();
        let mut s = shape(Mode::Travel);
        s.loras = true;
        assert!(onnx.check("onnx", &s).unwrap_err().message.contains("LoRA"));
    }
}
