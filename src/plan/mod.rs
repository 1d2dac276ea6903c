//! Pure planning: turns a [`Project`] into the generation calls that render it.
//!
//! Owns the frame model of DESIGN.md §3: spans between keyframes, model profiles, snapping
//! of keyframe positions that give invalid call lengths (always reported), chained and
//! independent calls, and sliding windows for spans longer than one call allows. Every
//! decision is a value ([`Plan`]) that can be printed, compared and tested. Must not touch
//! files, media, GPU, async runtimes or the UI.

pub mod profile;

use serde::Serialize;

pub use profile::ModelProfile;

use crate::error::{Result, UserError};
use crate::project::{Mode, Project};

/// What a frame of a generation call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameClass {
    /// A keyframe image: kept.
    Anchor,
    /// A frame already rendered, given as context: kept.
    Context,
    /// A frame to generate.
    Free,
}

impl FrameClass {
    /// Mask value of this class: 0 = keep, 1 = generate.
    pub fn mask_value(self) -> f32 {
        match self {
            FrameClass::Anchor | FrameClass::Context => 0.0,
            FrameClass::Free => 1.0,
        }
    }
}

/// What the leading frames of a call are, which decides how the stitch joins them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lead {
    /// The call starts the video: its first frame is keyframe 0 and is written as is.
    Start,
    /// The first frame is a keyframe already rendered by the neighbouring call; the stitch
    /// joins on it (the earlier call's frame is kept).
    SharedKeyframe,
    /// The first `lead_frames` frames are rendered output given as context; the stitch
    /// crossfades them with cosine weights.
    Context,
}

/// A keyframe that a call must show at one of its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CallAnchor {
    /// Frame index inside the call.
    pub offset: u32,
    /// Keyframe index in the project.
    pub keyframe: usize,
}

/// One generation call: timeline frames `start..=end`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    /// Position in [`Plan::calls`] (also the render order).
    pub index: usize,
    /// The span (keyframe `span` -> `span + 1`) whose segment parameters this call uses.
    pub span: usize,
    /// Window number inside the span (0 unless the span is split into sliding windows).
    pub window: usize,
    /// First timeline frame of the call, leading frames included.
    pub start: u32,
    /// Last timeline frame of the call.
    pub end: u32,
    /// How many leading frames come from outside the call (see [`Lead`]).
    pub lead_frames: u32,
    /// What the leading frames are.
    pub lead: Lead,
    /// Keyframes shown inside the call.
    pub anchors: Vec<CallAnchor>,
    /// The call whose output must exist before this one can run.
    pub after: Option<usize>,
}

impl Call {
    /// Number of frames in the call.
    pub fn len(&self) -> u32 {
        self.end - self.start + 1
    }

    /// Whether the call has no frames (never true for a planned call).
    pub fn is_empty(&self) -> bool {
        self.end < self.start
    }

    /// The class of each frame of the call.
    pub fn frame_classes(&self) -> Vec<FrameClass> {
        (0..self.len())
            .map(|offset| {
                if self.anchors.iter().any(|a| a.offset == offset) {
                    FrameClass::Anchor
                } else if offset < self.lead_frames {
                    FrameClass::Context
                } else {
                    FrameClass::Free
                }
            })
            .collect()
    }

    /// Mask value of each frame: 0 = keep, 1 = generate.
    pub fn mask(&self) -> Vec<f32> {
        self.frame_classes()
            .into_iter()
            .map(FrameClass::mask_value)
            .collect()
    }
}

/// A keyframe the planner moved so that every call length is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snap {
    /// Keyframe index.
    pub keyframe: usize,
    /// Position in the project.
    pub from: u32,
    /// Position used by the plan.
    pub to: u32,
    /// Why it moved.
    pub reason: String,
}

/// The generation calls that render a project, in render order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The model profile planned for.
    pub profile: ModelProfile,
    /// Chained or independent calls.
    pub mode: Mode,
    /// Context frames between chained calls and sliding windows.
    pub overlap: u32,
    /// Output size.
    pub width: u32,
    /// Output size.
    pub height: u32,
    /// Output frame rate.
    pub fps: u32,
    /// Frames in the output: last keyframe position + 1.
    pub total_frames: u32,
    /// Keyframe positions after snapping.
    pub positions: Vec<u32>,
    /// Keyframes that moved, and why.
    pub snaps: Vec<Snap>,
    /// The calls, in an order that respects [`Call::after`].
    pub calls: Vec<Call>,
    /// Remarks that do not stop the render (e.g. fps differs from the model's).
    pub notes: Vec<String>,
}

/// Plans the generation calls of `project`.
pub fn plan(project: &Project) -> Result<Plan> {
    project.validate()?;
    let profile = ModelProfile::find(&project.model).ok_or_else(|| {
        let known: Vec<&str> = profile::PROFILES.iter().map(|p| p.name).collect();
        UserError::input(format!("model: unknown model profile {:?}", project.model))
            .hint(format!("use one of: {}", known.join(", ")))
    })?;
    for (name, value) in [("width", project.width), ("height", project.height)] {
        if !value.is_multiple_of(profile.size_multiple) {
            let m = profile.size_multiple;
            let nearest = ((value + m / 2) / m).max(1) * m;
            return Err(UserError::input(format!(
                "{name}: {value} is not a multiple of {m} ({} needs it)",
                profile.name
            ))
            .hint(format!("use {nearest}")));
        }
    }
    if project.mode == Mode::Chained && project.overlap == 0 {
        return Err(
            UserError::input("overlap: chained mode needs at least 1 context frame")
                .hint("set overlap to 8, or use \"mode\": \"independent\""),
        );
    }
    if project.overlap + 1 > profile.max_frames {
        return Err(UserError::input(format!(
            "overlap: {} context frames leave no room in a {}-frame call",
            project.overlap, profile.max_frames
        ))
        .hint("use an overlap of 8"));
    }

    let mut notes = Vec::new();
    if project.fps != profile.native_fps {
        notes.push(format!(
            "fps {} differs from the model's native {} fps: motion will play at a different speed",
            project.fps, profile.native_fps
        ));
    }

    let mut positions: Vec<u32> = Vec::with_capacity(project.keyframes.len());
    positions.push(0);
    let mut snaps = Vec::new();
    let mut calls: Vec<Call> = Vec::new();
    for span in 0..project.span_count() {
        let p_k = positions[span];
        let wanted = project.keyframes[span + 1].frame;
        let rule = WindowRule::for_span(project, profile, span, p_k);
        let requested_new = wanted.saturating_sub(p_k);
        let (new_frames, windows) = rule.nearest_feasible(requested_new).ok_or_else(|| {
            UserError::input(format!(
                "keyframes[{}].frame: no valid call length exists for span {span} with overlap {}",
                span + 1,
                project.overlap
            ))
            .hint("reduce the overlap")
        })?;
        let p_next = p_k + new_frames;
        if p_next > crate::project::MAX_TIMELINE_FRAME {
            return Err(UserError::input(format!(
                "keyframes[{}].frame: snapped position {p_next} is beyond the last allowed frame",
                span + 1
            )));
        }
        if p_next != wanted {
            snaps.push(Snap {
                keyframe: span + 1,
                from: wanted,
                to: p_next,
                reason: rule.explain(requested_new, &windows),
            });
        }
        positions.push(p_next);

        let mut done = 0u32;
        for (window, &(lead_frames, new)) in windows.iter().enumerate() {
            let start = p_k + done + 1 - lead_frames;
            let end = p_k + done + new;
            let lead = if window == 0 && span == 0 {
                Lead::Start
            } else if window == 0 && project.mode == Mode::Independent {
                Lead::SharedKeyframe
            } else {
                Lead::Context
            };
            let after = match lead {
                Lead::Start => None,
                Lead::SharedKeyframe => None,
                Lead::Context => calls.last().map(|c| c.index),
            };
            calls.push(Call {
                index: calls.len(),
                span,
                window,
                start,
                end,
                lead_frames,
                lead,
                anchors: Vec::new(),
                after,
            });
            done += new;
        }
    }
    // Anchors: every keyframe position that falls inside a call.
    for call in &mut calls {
        let first = positions.partition_point(|&p| p < call.start);
        for (k, &p) in positions.iter().enumerate().skip(first) {
            if p > call.end {
                break;
            }
            call.anchors.push(CallAnchor {
                offset: p - call.start,
                keyframe: k,
            });
        }
    }
    let total_frames = positions.last().copied().unwrap_or(0) + 1;
    Ok(Plan {
        profile: profile.clone(),
        mode: project.mode,
        overlap: project.overlap,
        width: project.width,
        height: project.height,
        fps: project.fps,
        total_frames,
        positions,
        snaps,
        calls,
        notes,
    })
}

/// How the calls of one span take their leading frames.
struct WindowRule<'a> {
    profile: &'a ModelProfile,
    /// Frames already rendered when the span starts, counted as far back as its calls may look.
    base: u32,
    /// Leading frames wanted by the first window.
    first_lead: u32,
    /// Leading frames wanted by later windows.
    window_lead: u32,
}

impl<'a> WindowRule<'a> {
    fn for_span(project: &Project, profile: &'a ModelProfile, span: usize, p_k: u32) -> Self {
        let chained_context = project.mode == Mode::Chained && span > 0;
        WindowRule {
            profile,
            base: if chained_context { p_k + 1 } else { 1 },
            first_lead: if chained_context { project.overlap } else { 1 },
            window_lead: project.overlap.max(1),
        }
    }

    fn lead_at(&self, done: u32) -> u32 {
        let wanted = if done == 0 {
            self.first_lead
        } else {
            self.window_lead
        };
        wanted.min(self.base + done)
    }

    /// Shortest split of `limit` or fewer new frames into windows: `windows[n]` is the least
    /// number of calls that produce exactly `n` new frames, with back-pointers.
    fn search(&self, limit: u32) -> Vec<Option<(u32, u32)>> {
        // best[n] = (calls, previous n) for reachable n.
        let size = limit as usize + 1;
        let mut best: Vec<Option<(u32, u32)>> = vec![None; size];
        best[0] = Some((0, 0));
        for n in 0..size {
            let Some((count, _)) = best[n] else { continue };
            let lead = self.lead_at(n as u32);
            for len in self.profile.valid_lengths_desc() {
                if len <= lead {
                    break;
                }
                let next = n + (len - lead) as usize;
                if next < size && best[next].is_none_or(|(c, _)| c > count + 1) {
                    best[next] = Some((count + 1, n as u32));
                }
            }
        }
        best
    }

    /// The feasible number of new frames nearest to `requested` (ties go to the longer),
    /// with its windows as `(lead_frames, new_frames)`.
    fn nearest_feasible(&self, requested: u32) -> Option<(u32, Vec<(u32, u32)>)> {
        let requested = requested.max(1);
        let limit = requested + self.profile.max_frames;
        let best = self.search(limit);
        // Never add calls to honour a position: allow as many calls as the requested length
        // needs at the least, then take the nearest length those calls can make.
        let calls_needed = (requested..=limit)
            .filter_map(|n| best[n as usize].map(|(count, _)| count))
            .min()?;
        let feasible =
            |n: u32| n >= 1 && best[n as usize].is_some_and(|(count, _)| count <= calls_needed);
        let chosen = (0..=requested + self.profile.max_frames).find_map(|d| {
            [requested + d, requested.wrapping_sub(d)]
                .into_iter()
                .find(|&n| n <= limit && feasible(n))
        })?;
        let mut parts = Vec::new();
        let mut n = chosen;
        while n > 0 {
            let (_, prev) = best[n as usize]?;
            parts.push(n - prev);
            n = prev;
        }
        parts.reverse();
        let mut done = 0;
        let windows = parts
            .into_iter()
            .map(|new| {
                let lead = self.lead_at(done);
                done += new;
                (lead, new)
            })
            .collect();
        Some((chosen, windows))
    }

    fn explain(&self, requested: u32, windows: &[(u32, u32)]) -> String {
        let p = self.profile;
        let lead = self.lead_at(0);
        format!(
            "{requested} new frames + {lead} leading frame(s) is not a valid {} call length ({}n+1, at most {}); nearest valid split: {}",
            p.name,
            p.frame_step,
            p.max_frames,
            windows
                .iter()
                .map(|(l, n)| format!("{} frames", l + n))
                .collect::<Vec<_>>()
                .join(" + ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(mode: &str, frames: &[u32]) -> Project {
        let keyframes: Vec<String> = frames
            .iter()
            .map(|f| format!(r#"{{"image":"k.png","frame":{f}}}"#))
            .collect();
        Project::from_json_str(&format!(
            r#"{{"version":1,"fps":16,"width":832,"height":480,"model":"wan2.1-vace-14b",
               "mode":"{mode}","overlap":8,"keyframes":[{}],"segments":[{{"prompt":"p"}}]}}"#,
            keyframes.join(",")
        ))
        .unwrap()
    }

    fn check_invariants(plan: &Plan) {
        for c in &plan.calls {
            assert!(plan.profile.is_valid_length(c.len()), "call {c:?}");
            assert!(c.lead_frames < c.len());
        }
        // Every keyframe is an anchor of some call, and every frame is produced.
        for (k, &p) in plan.positions.iter().enumerate() {
            assert!(plan.calls.iter().any(|c| {
                c.anchors
                    .iter()
                    .any(|a| a.keyframe == k && c.start + a.offset == p)
            }));
        }
        let mut next = 0;
        for c in &plan.calls {
            assert_eq!(
                c.start + c.lead_frames,
                next + u32::from(c.lead == Lead::Start),
                "{c:?}"
            );
            next = c.end + 1;
        }
        assert_eq!(next, plan.total_frames);
    }

    #[test]
    fn chained_sample_snaps_and_reports() {
        let plan = plan(&project("chained", &[0, 40, 88])).unwrap();
        check_invariants(&plan);
        assert_eq!(plan.calls[0].len(), 41);
        // 48 new frames + 8 context = 56 is invalid; 49 + 8 = 57 is the nearest valid.
        assert_eq!(plan.positions, vec![0, 40, 89]);
        assert_eq!(plan.snaps.len(), 1);
        assert_eq!((plan.snaps[0].from, plan.snaps[0].to), (88, 89));
        assert_eq!(plan.calls[1].start, 33);
        assert_eq!(plan.calls[1].lead, Lead::Context);
        assert_eq!(plan.total_frames, 90);
        let classes = plan.calls[1].frame_classes();
        assert_eq!(classes[0], FrameClass::Context);
        assert_eq!(classes[7], FrameClass::Anchor);
        assert_eq!(classes[8], FrameClass::Free);
        assert_eq!(*classes.last().unwrap(), FrameClass::Anchor);
    }

    #[test]
    fn independent_valid_positions_do_not_move() {
        let plan = plan(&project("independent", &[0, 40, 88])).unwrap();
        check_invariants(&plan);
        assert!(plan.snaps.is_empty());
        assert_eq!(plan.calls[1].lead, Lead::SharedKeyframe);
        assert_eq!((plan.calls[1].start, plan.calls[1].len()), (40, 49));
        assert_eq!(plan.calls[1].after, None);
    }

    #[test]
    fn long_span_becomes_sliding_windows() {
        for mode in ["chained", "independent"] {
            let plan = plan(&project(mode, &[0, 200, 232])).unwrap();
            check_invariants(&plan);
            let first_span: Vec<&Call> = plan.calls.iter().filter(|c| c.span == 0).collect();
            assert_eq!(first_span.len(), 3, "{mode}");
            assert_eq!(first_span[1].lead, Lead::Context);
            assert_eq!(first_span[1].lead_frames, 8);
            assert_eq!(first_span[1].after, Some(0));
        }
    }

    #[test]
    fn unknown_model_and_bad_size_name_fields() {
        let mut p = project("chained", &[0, 40]);
        p.model = "nope".into();
        assert!(plan(&p).unwrap_err().message.starts_with("model:"));
        let mut p = project("chained", &[0, 40]);
        p.width = 830;
        let e = plan(&p).unwrap_err();
        assert!(e.message.starts_with("width:"));
        assert!(e.suggestions[0].contains("832"));
    }

    #[test]
    fn many_random_timelines_keep_invariants() {
        let mut state = 12345u64;
        let mut rnd = |m: u32| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as u32) % m
        };
        for _ in 0..300 {
            let n = 2 + rnd(6) as usize;
            let mut frames = vec![0u32];
            for _ in 1..n {
                let last = *frames.last().unwrap();
                frames.push(last + 1 + rnd(180));
            }
            for mode in ["chained", "independent"] {
                check_invariants(&plan(&project(mode, &frames)).unwrap());
            }
        }
    }
}
