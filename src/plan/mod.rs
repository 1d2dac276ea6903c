//! Pure planning: turns a [`Project`] into the generation calls that render it.
//!
//! Owns the frame model of `docs/ARCHITECTURE.md` §3: spans between keyframes, model profiles, snapping
//! of keyframe positions that give invalid call lengths (always reported), chained and
//! independent calls, sliding windows for spans longer than one call allows,
//! identical-parameter detection, merging of identical spans into fewer calls
//! (consolidate and batch policies), mask patterns, cost and blast-radius estimates.
//! Every decision is a value ([`Plan`]) that can be printed, compared and tested; its JSON
//! form is documented in `docs/plan-schema.md`. Must not touch files, media, GPU, async
//! runtimes or the UI.

pub mod cost;
pub mod identity;
pub mod profile;
mod single;
mod table;
mod windows;

use serde::Serialize;

pub use cost::{CostModel, CostSample};
pub use profile::ModelProfile;
pub use table::{PLAN_SCHEMA_VERSION, mask_string};

use crate::error::{Result, UserError};
use crate::project::{MergePolicy, Mode, Project};
use windows::WindowRule;

/// What a frame of a generation call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameClass {
    /// A keyframe image: kept (mask 0).
    Anchor,
    /// A frame already rendered, given as context: kept (mask 0).
    Context,
    /// A frame next to an anchor, generated with the transition mask value.
    Transition,
    /// A frame to generate (mask 1).
    Free,
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
    /// First span (keyframe `first_span` -> `first_span + 1`) the call renders; its segment
    /// parameters are the call's.
    pub first_span: usize,
    /// Last span the call renders (greater than `first_span` for a merged call).
    pub last_span: usize,
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
    /// Frames next to each anchor that are transition frames.
    pub transition_frames: u32,
    /// Mask value of transition frames.
    pub transition_value: f32,
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

    /// Whether the call renders more than one span.
    pub fn is_merged(&self) -> bool {
        self.last_span > self.first_span
    }

    /// Output frames only this call writes (its lead belongs to earlier calls).
    pub fn own_frames(&self) -> u32 {
        match self.lead {
            Lead::Start => self.len(),
            Lead::SharedKeyframe | Lead::Context => self.len() - self.lead_frames,
        }
    }

    /// The class of each frame of the call.
    pub fn frame_classes(&self) -> Vec<FrameClass> {
        let near_anchor = |offset: u32| {
            self.anchors
                .iter()
                .any(|a| a.offset.abs_diff(offset) <= self.transition_frames)
        };
        (0..self.len())
            .map(|offset| {
                if self.anchors.iter().any(|a| a.offset == offset) {
                    FrameClass::Anchor
                } else if offset < self.lead_frames {
                    FrameClass::Context
                } else if self.transition_frames > 0 && near_anchor(offset) {
                    FrameClass::Transition
                } else {
                    FrameClass::Free
                }
            })
            .collect()
    }

    /// Mask value of each frame: 0 = keep, 1 = generate, transition frames in between.
    pub fn mask(&self) -> Vec<f32> {
        self.frame_classes()
            .into_iter()
            .map(|c| match c {
                FrameClass::Anchor | FrameClass::Context => 0.0,
                FrameClass::Transition => self.transition_value,
                FrameClass::Free => 1.0,
            })
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

/// Whether the spans on both sides of an inner keyframe share a call, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Boundary {
    /// The inner keyframe between span `keyframe - 1` and span `keyframe`.
    pub keyframe: usize,
    /// Generation fields that differ between the two spans (empty when identical).
    pub differing_fields: Vec<String>,
    /// Whether both spans are rendered by one call.
    pub merged: bool,
    /// Why (not) merged.
    pub reason: String,
}

/// Estimated cost of the plan next to the same timeline with one call per span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostEstimate {
    /// Calls without merging.
    pub unmerged_calls: usize,
    /// Estimated seconds without merging.
    pub unmerged_secs: f64,
    /// Calls of this plan.
    pub calls: usize,
    /// Estimated seconds of this plan.
    pub secs: f64,
    /// `unmerged_secs / secs`.
    pub speedup: f64,
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
    /// Merge policy applied.
    pub merge_policy: MergePolicy,
    /// Longest call allowed (profile maximum or the user's cap).
    pub max_frames_per_call: u32,
    /// Frames in the output: last keyframe position + 1.
    pub total_frames: u32,
    /// Keyframe positions after snapping.
    pub positions: Vec<u32>,
    /// Keyframes that moved, and why.
    pub snaps: Vec<Snap>,
    /// Merge decision at every inner keyframe.
    pub boundaries: Vec<Boundary>,
    /// The calls, in an order that respects [`Call::after`].
    pub calls: Vec<Call>,
    /// Cost before and after merging.
    pub cost: CostEstimate,
    /// The cost law the estimates and `auto` merge decisions used.
    pub cost_model: CostModel,
    /// Predicted seconds of each call, in the order of [`Plan::calls`].
    pub predicted_secs: Vec<f64>,
    /// Most output frames one failed call loses by itself.
    pub blast_radius_frames: u32,
    /// Most output frames one failed call loses or blocks (its dependents included).
    pub max_blocked_frames: u32,
    /// Remarks that do not stop the render (e.g. fps differs from the model's).
    pub notes: Vec<String>,
}

impl Plan {
    /// Output frames each call loses if it fails, with the calls that depend on it.
    pub fn blocked_frames(&self) -> Vec<u32> {
        let mut blocked: Vec<u32> = self.calls.iter().map(Call::own_frames).collect();
        for i in (0..self.calls.len()).rev() {
            if let Some(parent) = self.calls[i].after {
                blocked[parent] += blocked[i];
            }
        }
        blocked
    }
}

/// Plans the generation calls of `project` with the profile's default cost law.
pub fn plan(project: &Project) -> Result<Plan> {
    plan_with_costs(project, None)
}

/// Plans the generation calls of `project`; `costs` is the backend's measured cost law
/// (the profile's default when `None`), used for estimates and `auto` merge decisions.
pub fn plan_with_costs(project: &Project, costs: Option<&CostModel>) -> Result<Plan> {
    let mut plan = plan_with_policy(project, project.merge.policy, costs)?;
    let unmerged = if project.merge.policy == MergePolicy::Off {
        None
    } else {
        plan_with_policy(project, MergePolicy::Off, costs).ok()
    };
    let mp = cost::megapixels(project.width, project.height);
    plan.predicted_secs = plan
        .calls
        .iter()
        .map(|c| plan.cost_model.secs(c.len(), mp))
        .collect();
    let secs = |p: &Plan| -> f64 { p.calls.iter().map(|c| p.cost_model.secs(c.len(), mp)).sum() };
    let planned_secs = secs(&plan);
    let (unmerged_calls, unmerged_secs) = match &unmerged {
        Some(u) => (u.calls.len(), secs(u)),
        None => (plan.calls.len(), planned_secs),
    };
    plan.cost = CostEstimate {
        unmerged_calls,
        unmerged_secs,
        calls: plan.calls.len(),
        secs: planned_secs,
        speedup: if planned_secs > 0.0 {
            unmerged_secs / planned_secs
        } else {
            1.0
        },
    };
    Ok(plan)
}

/// The effective model profile of a project: its custom profile or a built-in one.
pub fn resolve_profile(project: &Project) -> Result<ModelProfile> {
    if let Some(custom) = &project.profile {
        custom.validate()?;
        return Ok(custom.clone());
    }
    ModelProfile::builtin(&project.model).ok_or_else(|| {
        UserError::input(format!("model: unknown model profile {:?}", project.model)).hint(format!(
            "use one of: {}, or describe the model in a \"profile\" object",
            profile::BUILTIN_NAMES.join(", ")
        ))
    })
}

#[expect(
    clippy::too_many_lines,
    reason = "one pass over the keyframes; its steps share the snapped positions"
)]
fn plan_with_policy(
    project: &Project,
    policy: MergePolicy,
    costs: Option<&CostModel>,
) -> Result<Plan> {
    project.validate()?;
    if project.keyframes.len() < 2 && project.length.is_none() {
        return Err(UserError::input(format!(
            "keyframes: {} keyframe(s); a travel video needs at least 2",
            project.keyframes.len()
        ))
        .hint("add another keyframe image, or set \"length\" (frames) for a text-to-video or image-to-video project"));
    }
    let profile = resolve_profile(project)?;
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
    let cost_model = costs
        .cloned()
        .unwrap_or_else(|| CostModel::from_profile(&profile, project.width, project.height));
    let mp = cost::megapixels(project.width, project.height);
    if project.keyframes.len() < 2 {
        return Ok(single::single_call_plan(
            project, profile, policy, cost_model,
        ));
    }
    if project.mode == Mode::Chained && project.overlap == 0 {
        return Err(
            UserError::input("overlap: chained mode needs at least 1 context frame")
                .hint("set overlap to 8, or use \"mode\": \"independent\""),
        );
    }
    let cap = project
        .merge
        .max_frames_per_call
        .map_or(profile.max_frames, |c| c.min(profile.max_frames));
    let longest = profile.valid_lengths_desc(cap).next().unwrap_or(1);
    if longest <= project.overlap.max(1) {
        let field = if project.merge.max_frames_per_call.is_some() {
            "merge.max_frames_per_call"
        } else {
            "overlap"
        };
        return Err(UserError::input(format!(
            "{field}: calls of at most {longest} frames leave no room after {} context frames",
            project.overlap
        ))
        .hint("use an overlap of 8 and a call cap of at least 33 frames"));
    }

    let mut notes = Vec::new();
    if project.fps != profile.native_fps {
        notes.push(format!(
            "fps {} differs from the model's native {} fps: motion will play at a different speed",
            project.fps, profile.native_fps
        ));
    }

    let spans = project.span_count();
    let wanted: Vec<u32> = project.keyframes.iter().map(|k| k.frame).collect();
    let seed_of = |span: usize| project.segment_for_span(span).seed.unwrap_or(project.seed);
    let mut boundaries: Vec<Boundary> = (1..spans)
        .map(|k| Boundary {
            keyframe: k,
            differing_fields: identity::differing_fields(
                project.segment_for_span(k - 1),
                project.segment_for_span(k),
                seed_of(k - 1),
                seed_of(k),
            )
            .into_iter()
            .map(String::from)
            .collect(),
            merged: false,
            reason: String::new(),
        })
        .collect();
    let boundary = |b: &mut Vec<Boundary>, keyframe: usize, reason: String| {
        if let Some(slot) = b.get_mut(keyframe - 1) {
            slot.reason = reason;
        }
    };

    let mut positions: Vec<u32> = Vec::with_capacity(wanted.len());
    positions.push(0);
    let mut snaps = Vec::new();
    let mut calls: Vec<Call> = Vec::new();
    let new_call =
        |calls: &Vec<Call>, first_span, last_span, window, start, end, lead_frames, lead| {
            let after = match lead {
                Lead::Start | Lead::SharedKeyframe => None,
                Lead::Context => calls.last().map(|c: &Call| c.index),
            };
            Call {
                index: calls.len(),
                first_span,
                last_span,
                window,
                start,
                end,
                lead_frames,
                lead,
                anchors: Vec::new(),
                after,
                transition_frames: project.mask.transition_frames,
                transition_value: project.mask.transition_value,
            }
        };
    let lead_kind = |span: usize, window: usize| {
        if window == 0 && span == 0 {
            Lead::Start
        } else if window == 0 && project.mode == Mode::Independent {
            Lead::SharedKeyframe
        } else {
            Lead::Context
        }
    };

    let mut k = 0;
    while k < spans {
        let p_k = positions[k];
        let rule = WindowRule::for_span(project, &profile, cap, k, p_k);

        // Greedy group of identical spans k..=m that one call can render.
        let mut group: Option<(usize, u32)> = None;
        // Every group k..=m one call can render, smallest first (for `auto`).
        let mut candidates: Vec<(usize, u32)> = Vec::new();
        if policy != MergePolicy::Off {
            let mut m = k + 1;
            while m < spans {
                let diff = boundaries[m - 1].differing_fields.join(", ");
                if !diff.is_empty() {
                    boundary(&mut boundaries, m, format!("parameters differ: {diff}"));
                    break;
                }
                let fits = if wanted[k + 1] > p_k {
                    rule.single_call_end(p_k, wanted[m + 1], wanted[m])
                } else {
                    None
                };
                if let Some(end) = fits {
                    group = Some((m, end));
                    candidates.push((m, end));
                } else {
                    let len = rule.lead_at(0) + wanted[m + 1].saturating_sub(p_k);
                    boundary(
                        &mut boundaries,
                        m,
                        format!(
                            "a merged call would need about {len} frames, over the cap of {cap}"
                        ),
                    );
                    break;
                }
                m += 1;
            }
        }
        // Seconds of spans k..=m as one call each, and as one merged call ending at `end`.
        let unmerged_and_merged = |m: usize, end: u32| {
            let unmerged: f64 = (k..=m)
                .map(|i| {
                    let lead = if i == k {
                        rule.lead_at(0)
                    } else if project.mode == Mode::Chained {
                        project.overlap
                    } else {
                        1
                    };
                    cost_model.secs(lead + wanted[i + 1] - wanted[i], mp)
                })
                .sum();
            let merged_len = rule.lead_at(0) + end - p_k;
            (
                unmerged,
                cost_model.secs(merged_len, mp),
                f64::from(merged_len) * mp,
            )
        };
        if policy == MergePolicy::Auto && group.is_some() {
            // The largest group whose merged call saves enough; the reason either way.
            group = None;
            let mut refusal = None;
            for &(m, end) in candidates.iter().rev() {
                let (unmerged, merged, x) = unmerged_and_merged(m, end);
                let (worth, reason) = cost_model.merge_decision(unmerged, merged, x);
                if worth {
                    group = Some((m, end));
                    break;
                }
                refusal = Some(reason);
            }
            if let (None, Some(reason)) = (group, refusal) {
                boundary(&mut boundaries, k + 1, reason);
            }
        }
        if let (MergePolicy::Batch, Some((m, end))) = (policy, group) {
            let span_count = m - k + 1;
            let (unmerged_secs, merged_secs, _) = unmerged_and_merged(m, end);
            let speedup = unmerged_secs / merged_secs.max(f64::MIN_POSITIVE);
            let min_spans = project.merge.min_batch_spans as usize;
            let rejection = if span_count < min_spans {
                Some(format!(
                    "batch: only {span_count} spans fit in one call, at least {min_spans} needed"
                ))
            } else if speedup < project.merge.min_speedup {
                Some(format!(
                    "batch: estimated speedup {speedup:.2}x is below {:.2}x",
                    project.merge.min_speedup
                ))
            } else {
                None
            };
            if let Some(reason) = rejection {
                boundary(&mut boundaries, k + 1, reason);
                group = None;
            }
        }

        if let Some((m, end)) = group {
            let lead_frames = rule.lead_at(0);
            let call = new_call(
                &calls,
                k,
                m,
                0,
                p_k + 1 - lead_frames,
                end,
                lead_frames,
                lead_kind(k, 0),
            );
            let why = if policy == MergePolicy::Auto {
                let (unmerged, merged, x) = unmerged_and_merged(m, end);
                format!("; {}", cost_model.merge_decision(unmerged, merged, x).1)
            } else {
                String::new()
            };
            for b in k + 1..=m {
                let reason = format!("merged into call {}{why}", call.index + 1);
                boundary(&mut boundaries, b, reason);
                boundaries[b - 1].merged = true;
            }
            calls.push(call);
            positions.extend_from_slice(&wanted[k + 1..=m]);
            if end != wanted[m + 1] {
                snaps.push(Snap {
                    keyframe: m + 1,
                    from: wanted[m + 1],
                    to: end,
                    reason: format!(
                        "the merged call of spans {k} to {m} needs a valid length: {} frames ({}n+1, at most {cap})",
                        lead_frames + end - p_k,
                        profile.frame_step
                    ),
                });
            }
            positions.push(end);
            k = m + 1;
            continue;
        }

        let requested_new = wanted[k + 1].saturating_sub(p_k);
        let (new_frames, windows) = rule.nearest_feasible(requested_new).ok_or_else(|| {
            UserError::input(format!(
                "keyframes[{}].frame: no valid call length exists for span {k} with overlap {}",
                k + 1,
                project.overlap
            ))
            .hint("reduce the overlap")
        })?;
        let p_next = p_k + new_frames;
        if p_next > crate::project::MAX_TIMELINE_FRAME {
            return Err(UserError::input(format!(
                "keyframes[{}].frame: snapped position {p_next} is beyond the last allowed frame",
                k + 1
            ))
            .hint("move the last keyframes earlier"));
        }
        if p_next != wanted[k + 1] {
            snaps.push(Snap {
                keyframe: k + 1,
                from: wanted[k + 1],
                to: p_next,
                reason: rule.explain(requested_new, &windows),
            });
        }
        positions.push(p_next);
        let mut done = 0u32;
        for (window, &(lead_frames, new)) in windows.iter().enumerate() {
            let start = p_k + done + 1 - lead_frames;
            let end = p_k + done + new;
            let call = new_call(
                &calls,
                k,
                k,
                window,
                start,
                end,
                lead_frames,
                lead_kind(k, window),
            );
            calls.push(call);
            done += new;
        }
        if policy == MergePolicy::Off && k + 1 < spans {
            boundary(&mut boundaries, k + 1, "merging is off".into());
        }
        k += 1;
    }
    // Anchors: every keyframe position that falls inside a call.
    for call in &mut calls {
        let first = positions.partition_point(|&p| p < call.start);
        for (kf, &p) in positions.iter().enumerate().skip(first) {
            if p > call.end {
                break;
            }
            call.anchors.push(CallAnchor {
                offset: p - call.start,
                keyframe: kf,
            });
        }
    }
    let total_frames = positions.last().copied().unwrap_or(0) + 1;
    let mut plan = Plan {
        profile,
        mode: project.mode,
        overlap: project.overlap,
        width: project.width,
        height: project.height,
        fps: project.fps,
        merge_policy: policy,
        max_frames_per_call: cap,
        total_frames,
        positions,
        snaps,
        boundaries,
        calls,
        cost: CostEstimate {
            unmerged_calls: 0,
            unmerged_secs: 0.0,
            calls: 0,
            secs: 0.0,
            speedup: 1.0,
        },
        cost_model,
        predicted_secs: Vec::new(),
        blast_radius_frames: 0,
        max_blocked_frames: 0,
        notes,
    };
    plan.blast_radius_frames = plan.calls.iter().map(Call::own_frames).max().unwrap_or(0);
    plan.max_blocked_frames = plan.blocked_frames().into_iter().max().unwrap_or(0);
    Ok(plan)
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

    #[test]
    fn fewer_than_two_keyframes_make_one_call_of_the_given_length() {
        let mut p = project("chained", &[0]);
        assert!(plan(&p).unwrap_err().suggestions[0].contains("\"length\""));
        p.length = Some(30);
        let one = plan(&p).unwrap();
        assert_eq!(one.calls.len(), 1);
        assert_eq!(one.total_frames, 29, "4n+1 at most 30");
        assert!(one.notes.iter().any(|n| n.contains("length 30 -> 29")));
        let mask = one.calls[0].mask();
        assert_eq!(mask[0], 0.0, "the image is kept");
        assert!(mask[1..].iter().all(|&m| m == 1.0));
        check_invariants(&one);
        let mut t2v = project("chained", &[]);
        t2v.length = Some(500);
        let t = plan(&t2v).unwrap();
        assert_eq!(t.total_frames, 81, "at most one call");
        assert!(
            t.calls[0].mask().iter().all(|&m| m == 1.0),
            "text only: all generated"
        );
        // With two keyframes the length is ignored.
        let mut travel = project("chained", &[0, 40]);
        travel.length = Some(9);
        assert_eq!(plan(&travel).unwrap().total_frames, 41);
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
            let first_span: Vec<&Call> = plan.calls.iter().filter(|c| c.first_span == 0).collect();
            assert_eq!(first_span.len(), 3, "{mode}");
            assert_eq!(first_span[1].lead, Lead::Context);
            assert_eq!(first_span[1].lead_frames, 8);
            assert_eq!(first_span[1].after, Some(0));
        }
    }

    #[test]
    fn a_span_of_a_million_frames_is_planned_exactly() {
        for mode in ["chained", "independent"] {
            let plan = plan(&project(mode, &[0, 10, 999_000])).unwrap();
            check_invariants(&plan);
            assert!(
                (plan.positions[2] as i64 - 999_000).abs() <= 2,
                "{:?}",
                plan.positions
            );
            let lens: Vec<u32> = plan.calls[1..].iter().map(Call::len).collect();
            let (min, max) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
            assert!(max - min <= 4, "windows are even: {min}..{max}");
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
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
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
