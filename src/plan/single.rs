//! The plan of a project with fewer than two keyframes (image-to-video, text-to-video).

use super::{Call, CallAnchor, CostEstimate, CostModel, Lead, MergePolicy, ModelProfile, Plan};
use crate::project::Project;

/// The plan of a project with fewer than two keyframes: one call of `project.length`
/// frames (snapped down to a valid length, at most the model's frames per call), anchored
/// at frame 0 when there is a keyframe (image-to-video), all frames free without one
/// (text-to-video).
pub(super) fn single_call_plan(
    project: &Project,
    profile: ModelProfile,
    policy: MergePolicy,
    cost_model: CostModel,
) -> Plan {
    let wanted = project.length.unwrap_or(1).max(1);
    let len = profile
        .valid_lengths_desc(wanted.min(profile.max_frames))
        .next()
        .unwrap_or(1);
    let mut notes = Vec::new();
    if len != wanted {
        notes.push(format!(
            "length {wanted} -> {len}: {} makes calls of valid lengths up to {} frames",
            profile.name, profile.max_frames
        ));
    }
    let anchors: Vec<CallAnchor> = project
        .keyframes
        .first()
        .map(|_| CallAnchor {
            offset: 0,
            keyframe: 0,
        })
        .into_iter()
        .collect();
    // Like a travel video's first call, the start anchor is the call's one lead frame; text
    // only has none (frame 0 is generated too).
    let lead_frames = anchors.len() as u32;
    let call = Call {
        index: 0,
        first_span: 0,
        last_span: 0,
        window: 0,
        start: 0,
        end: len - 1,
        lead_frames,
        lead: Lead::Start,
        anchors,
        after: None,
        transition_frames: project.mask.transition_frames,
        transition_value: project.mask.transition_value,
    };
    let secs = cost_model.secs(len, super::cost::megapixels(project.width, project.height));
    Plan {
        cost_model,
        predicted_secs: vec![secs],
        mode: project.mode,
        overlap: project.overlap,
        width: project.width,
        height: project.height,
        fps: project.fps,
        merge_policy: policy,
        max_frames_per_call: profile.max_frames,
        total_frames: len,
        positions: project.keyframes.iter().map(|_| 0).collect(),
        snaps: Vec::new(),
        boundaries: Vec::new(),
        calls: vec![call],
        cost: CostEstimate {
            unmerged_calls: 1,
            unmerged_secs: secs,
            calls: 1,
            secs,
            speedup: 1.0,
        },
        blast_radius_frames: len,
        max_blocked_frames: 0,
        notes,
        profile,
    }
}
