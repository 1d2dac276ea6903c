//! The document: keyframes on a timeline, per-span segment parameters and render settings.
//!
//! Owns the project file format (JSON, versioned, migrated on load) and its structural
//! validation. Parsing and validation are pure; [`file`] holds the only file I/O (load and
//! atomic save). Must not touch media, GPU, planning decisions or the UI.

pub mod edit;
pub mod fields;
pub mod file;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::error::{Result, UserError};

/// The project file version this build writes.
pub const CURRENT_VERSION: u32 = 1;

/// Highest timeline frame a project may use (about 17 hours at 16 fps).
pub const MAX_TIMELINE_FRAME: u32 = 1_000_000;

/// How consecutive generation calls relate to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Each call takes the last `overlap` rendered frames of the previous call as context.
    #[default]
    Chained,
    /// Calls share only the keyframe frame and can run in any order.
    Independent,
}

/// A keyframe image placed at a timeline frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyframe {
    /// Image path, relative to the project file (or absolute).
    pub image: PathBuf,
    /// Timeline frame at which the output shows this image.
    pub frame: u32,
}

/// A LoRA applied to a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lora {
    /// LoRA file name as the generator knows it.
    pub name: String,
    /// Strength multiplier.
    pub strength: f32,
}

/// Generation parameters of the span between two keyframes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Segment {
    /// What the video should show.
    #[serde(default)]
    pub prompt: String,
    /// What the video should avoid.
    #[serde(default)]
    pub negative_prompt: String,
    /// LoRAs and their strengths.
    #[serde(default)]
    pub loras: Vec<Lora>,
    /// Sampler steps (the backend's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
    /// Classifier-free guidance scale (the backend's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance_scale: Option<f32>,
    /// Seed for this span (the project seed when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// How the source range of a structure video maps onto the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Treatment {
    /// Stretch or squeeze the source range over the whole timeline.
    #[default]
    Adjust,
    /// Play the source at the project fps, looping when it is too short.
    Clip,
}

/// A video whose motion guides the generated frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StructureVideo {
    /// Video file, relative to the project file (or absolute).
    pub path: PathBuf,
    /// First source frame used.
    #[serde(default)]
    pub start_frame: u32,
    /// Last source frame used (the end of the video when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_frame: Option<u32>,
    /// Adjust or clip.
    #[serde(default)]
    pub treatment: Treatment,
    /// Multiplier of the source's motion (0 = none, 1 = as filmed).
    #[serde(default = "default_motion_strength")]
    pub motion_strength: f32,
}

fn default_motion_strength() -> f32 {
    1.0
}

/// Whether and how consecutive spans with identical parameters share one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MergePolicy {
    /// Merge where the backend's cost law predicts a saving of at least 10 % (the
    /// default): measured costs once calls of three sizes were timed, the profile's before.
    #[default]
    Auto,
    /// One call per span.
    Off,
    /// Merge whenever the merged call fits the profile and the cap.
    Consolidate,
    /// Merge only groups of at least `min_batch_spans` spans whose estimated speedup is at
    /// least `min_speedup`.
    Batch,
}

/// Merging settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MergeSettings {
    /// The merge policy.
    pub policy: MergePolicy,
    /// Longest call the user accepts, in frames (the profile's maximum when absent). Smaller
    /// calls lose less work when one fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_frames_per_call: Option<u32>,
    /// Batch policy: fewest spans worth a merged call.
    pub min_batch_spans: u32,
    /// Batch policy: least estimated speedup worth a merged call.
    pub min_speedup: f64,
}

impl Default for MergeSettings {
    fn default() -> Self {
        Self {
            policy: MergePolicy::Auto,
            max_frames_per_call: None,
            min_batch_spans: 3,
            min_speedup: 1.5,
        }
    }
}

/// Mask settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MaskSettings {
    /// Frames next to each anchor that get `transition_value` instead of 1 (0 = binary mask).
    pub transition_frames: u32,
    /// Mask value of transition frames (0 = keep, 1 = generate).
    pub transition_value: f32,
}

impl Default for MaskSettings {
    fn default() -> Self {
        Self {
            transition_frames: 0,
            transition_value: 0.3,
        }
    }
}

/// A travel-video project (file format version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// File format version.
    pub version: u32,
    /// Timeline frames per second.
    pub fps: u32,
    /// Output width in pixels.
    pub width: u32,
    /// Output height in pixels.
    pub height: u32,
    /// Model profile name, e.g. `wan2.1-vace-14b`.
    pub model: String,
    /// Chained or independent calls.
    #[serde(default)]
    pub mode: Mode,
    /// Context frames carried between chained calls (and between sliding windows).
    #[serde(default = "default_overlap")]
    pub overlap: u32,
    /// Generation seed.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Keyframes in timeline order; the first sits at frame 0.
    pub keyframes: Vec<Keyframe>,
    /// One entry per span (keyframe i -> i+1), or a single entry for every span.
    pub segments: Vec<Segment>,
    /// Merging of identical spans into fewer calls.
    #[serde(default)]
    pub merge: MergeSettings,
    /// Mask pattern settings.
    #[serde(default)]
    pub mask: MaskSettings,
    /// A custom model profile; when present it is used instead of the built-in `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<crate::plan::ModelProfile>,
    /// A video whose motion the generated frames follow.
    #[serde(default)]
    pub structure_video: Option<StructureVideo>,
    /// How generated frames are pulled toward the colour of the frames a call keeps.
    #[serde(
        default,
        skip_serializing_if = "crate::fidelity::ColorMatch::is_default"
    )]
    pub color_match: crate::fidelity::ColorMatch,
    /// Video length in frames for a project with fewer than two keyframes (text-to-video,
    /// image-to-video: one call); ignored otherwise, where the last keyframe sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
}

fn default_overlap() -> u32 {
    8
}

fn default_seed() -> u64 {
    789
}

impl Project {
    /// Parses and validates a project document, migrating older versions. Fields it does
    /// not know are ignored ([`Project::from_json_str_warn`] says which).
    pub fn from_json_str(text: &str) -> Result<Self> {
        Self::from_json_str_warn(text).map(|(project, _)| project)
    }

    /// [`Project::from_json_str`], with a warning for every field the document has that a
    /// project does not (a typo would otherwise leave the default in place). A key given
    /// twice in one object is an error.
    pub fn from_json_str_warn(text: &str) -> Result<(Self, Vec<String>)> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            UserError::input(format!(
                "project file is not valid JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ))
            .hint("fix the JSON syntax, or restore the project from a backup")
        })?;
        fields::check_duplicate_keys(text)?;
        let value = migrate(value)?;
        let (project, warnings) = fields::deserialize_noting_unknown(&value);
        let project: Project = project.map_err(|e| {
            let path = e.path().to_string();
            // A huge value is not repeated back in full.
            let mut why = e.inner().to_string();
            if why.chars().count() > 300 {
                why = why.chars().take(300).collect::<String>() + "…";
            }
            UserError::input(format!("{path}: {why}"))
                .hint("see README.md for the project file format")
        })?;
        project.validate()?;
        Ok((project, warnings))
    }

    /// Serialises the project as pretty JSON.
    pub fn to_json_string(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| {
            UserError::new(
                crate::error::ErrorCategory::FileSystem,
                format!("cannot serialise project: {e}"),
            )
        })
    }

    /// Number of spans (keyframe i -> i+1).
    pub fn span_count(&self) -> usize {
        self.keyframes.len().saturating_sub(1)
    }

    /// The segment parameters for span `span` (a single segment applies to all spans).
    pub fn segment_for_span(&self, span: usize) -> &Segment {
        if self.segments.len() == 1 {
            &self.segments[0]
        } else {
            &self.segments[span]
        }
    }

    /// The keyframe image path resolved against the folder of the project file.
    pub fn image_path(&self, project_dir: &Path, keyframe: usize) -> PathBuf {
        project_dir.join(&self.keyframes[keyframe].image)
    }

    /// Checks the document's structure; each error names the offending field. A project
    /// with fewer than two keyframes is a valid document (work in progress) but cannot be
    /// planned.
    pub fn validate(&self) -> Result<()> {
        if self.version != CURRENT_VERSION {
            return Err(unsupported_version(u64::from(self.version)));
        }
        if !(1..=240).contains(&self.fps) {
            return Err(
                UserError::input(format!("fps: {} must be from 1 to 240", self.fps))
                    .hint("video models run at 16 or 24 fps"),
            );
        }
        for (name, value) in [("width", self.width), ("height", self.height)] {
            if !(16..=8192).contains(&value) {
                return Err(UserError::input(format!(
                    "{name}: {value} must be from 16 to 8192 pixels"
                ))
                .hint("use e.g. 832x480 or 1280x720"));
            }
        }
        if self.keyframes.first().is_some_and(|k| k.frame != 0) {
            return Err(UserError::input(format!(
                "keyframes[0].frame: the first keyframe must be at frame 0, not {}",
                self.keyframes[0].frame
            ))
            .hint("move the first keyframe to frame 0"));
        }
        for (i, k) in self.keyframes.iter().enumerate() {
            if k.image.as_os_str().is_empty() {
                return Err(
                    UserError::input(format!("keyframes[{i}].image: empty path"))
                        .hint("give the keyframe's image file, relative to the project file"),
                );
            }
            if k.frame > MAX_TIMELINE_FRAME {
                return Err(UserError::input(format!(
                    "keyframes[{i}].frame: {} is beyond the last allowed frame {MAX_TIMELINE_FRAME}",
                    k.frame
                ))
                .hint("keyframe positions are frame numbers at the project fps; check the value"));
            }
            if i > 0 && k.frame <= self.keyframes[i - 1].frame {
                let what = if k.frame == self.keyframes[i - 1].frame {
                    "duplicates"
                } else {
                    "comes before"
                };
                return Err(UserError::input(format!(
                    "keyframes[{i}].frame: position {} {what} keyframes[{}] at {}; positions must strictly increase",
                    k.frame,
                    i - 1,
                    self.keyframes[i - 1].frame
                ))
                .hint("sort the keyframes by frame and give each a distinct position"));
            }
        }
        let spans = self.span_count();
        if self.segments.is_empty() {
            return Err(UserError::input("segments: empty")
                .hint("give at least one segment; a single segment applies to every span"));
        }
        if self.segments.len() != 1 && self.segments.len() != spans {
            return Err(UserError::input(format!(
                "segments: {} entries for {spans} spans",
                self.segments.len()
            ))
            .hint(format!(
                "give one segment per span ({spans}: keyframe i -> i+1) or a single segment for all spans"
            )));
        }
        for (i, s) in self.segments.iter().enumerate() {
            for (j, l) in s.loras.iter().enumerate() {
                if l.name.trim().is_empty() {
                    return Err(UserError::input(format!(
                        "segments[{i}].loras[{j}].name: empty name"
                    ))
                    .hint("give the LoRA file name, or remove the entry"));
                }
                if !l.strength.is_finite() || l.strength.abs() > 10.0 {
                    return Err(UserError::input(format!(
                        "segments[{i}].loras[{j}].strength: {} must be from -10 to 10",
                        l.strength
                    ))
                    .hint("LoRA strengths are usually between 0 and 1.5"));
                }
            }
        }
        if let Some(cap) = self.merge.max_frames_per_call
            && cap < 2
        {
            return Err(UserError::input(format!(
                "merge.max_frames_per_call: {cap} frames cannot hold a call"
            ))
            .hint("leave it out to use the model's maximum"));
        }
        if !(self.merge.min_speedup.is_finite() && self.merge.min_speedup > 0.0) {
            return Err(UserError::input(format!(
                "merge.min_speedup: {} must be a positive number",
                self.merge.min_speedup
            ))
            .hint("use 1.5"));
        }
        if !(0.0..=1.0).contains(&self.mask.transition_value) {
            return Err(UserError::input(format!(
                "mask.transition_value: {} must be from 0 to 1",
                self.mask.transition_value
            ))
            .hint("0 keeps the guide, 1 generates freely; 0.3 is a gentle ramp"));
        }
        if self.mask.transition_frames > 64 {
            return Err(UserError::input(format!(
                "mask.transition_frames: {} is more than 64",
                self.mask.transition_frames
            ))
            .hint("use 2"));
        }
        if let Some(profile) = &self.profile {
            profile.validate()?;
        }
        self.color_match.validate()?;
        if let Some(sv) = &self.structure_video {
            if sv.path.as_os_str().is_empty() {
                return Err(UserError::input("structure_video.path: empty path")
                    .hint("give the video file, relative to the project file, or set structure_video to null"));
            }
            if sv.end_frame.is_some_and(|end| end < sv.start_frame) {
                return Err(UserError::input(format!(
                    "structure_video.end_frame: {} is before start_frame {}",
                    sv.end_frame.unwrap_or_default(),
                    sv.start_frame
                ))
                .hint("end_frame is the last source frame used"));
            }
            if !(sv.motion_strength.is_finite() && (0.0..=4.0).contains(&sv.motion_strength)) {
                return Err(UserError::input(format!(
                    "structure_video.motion_strength: {} must be from 0 to 4",
                    sv.motion_strength
                ))
                .hint("1 follows the source's motion as filmed"));
            }
        }
        Ok(())
    }
}

fn unsupported_version(version: u64) -> UserError {
    UserError::input(format!(
        "version: project version {version} is not supported (this Wayfarer reads versions 1 to {CURRENT_VERSION})"
    ))
    .hint("open it with the Wayfarer release that wrote it, or upgrade Wayfarer")
}

/// Brings a document of any supported version to [`CURRENT_VERSION`].
///
/// What kind of JSON value `v` is, in words.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "true or false",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Version 1 is the first format, so there is nothing to migrate yet; a version bump adds a
/// step here that rewrites the previous version's JSON into the next one.
fn migrate(value: serde_json::Value) -> Result<serde_json::Value> {
    let Some(object) = value.as_object() else {
        return Err(UserError::input(format!(
            "project file: the top level is {}, not an object with the project's fields",
            json_kind(&value)
        ))
        .hint("a project file is a JSON object such as {\"version\": 1, \"keyframes\": [...], ...}; see README.md"));
    };
    let version = match object.get("version") {
        None => {
            return Err(UserError::input("version: missing")
                .hint("add \"version\": 1 at the top of the project file"));
        }
        Some(v) => v.as_u64().ok_or_else(|| {
            UserError::input(format!("version: expected a whole number, found {v}"))
                .hint("use \"version\": 1")
        })?,
    };
    match version {
        1 => Ok(value),
        other => Err(unsupported_version(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"version": 1, "fps": 16, "width": 832, "height": 480, "model": "wan2.1-vace-14b",
     "mode": "chained", "overlap": 8, "seed": 789,
     "keyframes": [{"image": "a.png", "frame": 0}, {"image": "b.png", "frame": 40},
                   {"image": "c.png", "frame": 88}],
     "segments": [{"prompt": "drift through the forest", "negative_prompt": "", "loras": []},
                  {"prompt": "rise above the roofs", "negative_prompt": "",
                   "loras": [{"name": "style.safetensors", "strength": 0.8}]}],
     "structure_video": null}"#;

    fn err(text: &str) -> String {
        Project::from_json_str(text).unwrap_err().message
    }

    #[test]
    fn parses_sample_and_round_trips() {
        let p = Project::from_json_str(SAMPLE).unwrap();
        assert_eq!(p.keyframes[2].frame, 88);
        assert_eq!(p.segment_for_span(1).loras[0].strength, 0.8);
        let again = Project::from_json_str(&p.to_json_string().unwrap()).unwrap();
        assert_eq!(p, again);
    }

    #[test]
    fn one_segment_applies_to_every_span() {
        let text = SAMPLE.replace(
            r#"{"prompt": "rise above the roofs", "negative_prompt": "",
                   "loras": [{"name": "style.safetensors", "strength": 0.8}]}"#,
            "",
        );
        let text = text.replace("\"loras\": []},", "\"loras\": []}");
        let p = Project::from_json_str(&text).unwrap();
        assert_eq!(p.segment_for_span(1).prompt, "drift through the forest");
    }

    #[test]
    fn errors_name_the_field() {
        assert!(err("{").contains("not valid JSON"));
        assert!(err(&SAMPLE.replace("\"version\": 1", "\"version\": 7")).starts_with("version:"));
        assert!(
            err(&SAMPLE.replace("\"frame\": 40", "\"frame\": \"x\""))
                .starts_with("keyframes[1].frame")
        );
        assert!(
            err(&SAMPLE.replace("\"frame\": 0", "\"frame\": 4")).starts_with("keyframes[0].frame")
        );
        assert!(err(&SAMPLE.replace("\"frame\": 88", "\"frame\": 40")).contains("duplicates"));
        assert!(err(&SAMPLE.replace("\"frame\": 88", "\"frame\": 30")).contains("comes before"));
        assert!(err(&SAMPLE.replace("\"fps\": 16", "\"fps\": 100000")).starts_with("fps:"));
        assert!(
            err(&SAMPLE.replace("\"strength\": 0.8", "\"strength\": 1e9")).contains("strength")
        );
    }
}
