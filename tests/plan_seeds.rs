//! Every worked example of the two merging design notes (frame consolidation, batch
//! optimisation), planned under Wayfarer's frame model (`docs/ARCHITECTURE.md` §3).
//!
//! The notes count loosely: "frames 0-65 (65 frames)" is 66 frames, and several totals are
//! not `4n+1`. Each test states the note's figure, ours, and why they differ. In our model
//! a call covering timeline frames `a..=b` has `b - a + 1` frames, neighbouring calls share
//! the keyframe frame, and positions that give invalid lengths snap (reported).
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use wayfarer::plan::{self, FrameClass, Lead, Plan};
use wayfarer::project::{MergePolicy, Project};

fn project(frames: &[u32], policy: &str, cap: Option<u32>, transition_frames: u32) -> Project {
    let keyframes: Vec<String> = frames
        .iter()
        .map(|f| format!(r#"{{"image":"k.png","frame":{f}}}"#))
        .collect();
    let cap = cap
        .map(|c| format!(r#","max_frames_per_call":{c}"#))
        .unwrap_or_default();
    Project::from_json_str(&format!(
        r#"{{"version":1,"fps":16,"width":832,"height":480,"model":"wan2.1-vace-14b",
           "mode":"independent","overlap":8,"keyframes":[{}],"segments":[{{"prompt":"same"}}],
           "merge":{{"policy":"{policy}"{cap}}},"mask":{{"transition_frames":{transition_frames}}}}}"#,
        keyframes.join(",")
    ))
    .unwrap()
}

fn lengths(plan: &Plan) -> Vec<u32> {
    plan.calls.iter().map(wayfarer::plan::Call::len).collect()
}

fn ranges(plan: &Plan) -> Vec<(u32, u32)> {
    plan.calls.iter().map(|c| (c.start, c.end)).collect()
}

/// Consolidation, example 1: keyframes [0, 24, 65, 82], cap 65.
/// Note: "Segment 0: frames 0-65 (65 frames); Segment 1: frames 65-82 (17 frames)".
/// Ours: 0..=65 is 66 frames, over the cap and not 4n+1, so keyframe 2 snaps 65 -> 64 and the
/// merged call is 0..=64 (65 frames). 64..=82 would be 19 frames (not 4n+1); the nearest
/// valid are 17 and 21, a tie that goes to the longer: keyframe 3 snaps 82 -> 84, 21 frames.
#[test]
fn consolidation_example_1() {
    let plan = plan::plan(&project(&[0, 24, 65, 82], "consolidate", Some(65), 0)).unwrap();
    assert_eq!(ranges(&plan), vec![(0, 64), (64, 84)]);
    assert_eq!(lengths(&plan), vec![65, 21]);
    assert_eq!(plan.positions, vec![0, 24, 64, 84]);
    assert!(plan.calls[0].is_merged());
    assert_eq!((plan.calls[0].first_span, plan.calls[0].last_span), (0, 1));
    let anchors: Vec<u32> = plan.calls[0].anchors.iter().map(|a| a.offset).collect();
    assert_eq!(
        anchors,
        vec![0, 24, 64],
        "keyframe 24 is an anchor inside the merged call"
    );
    assert!(plan.boundaries[0].merged);
    assert!(!plan.boundaries[1].merged);
    assert!(plan.boundaries[1].reason.contains("over the cap of 65"));
    // "Original: 3 segments of 24, 41, 17 frames" -> ours unmerged: 25, 41, 21 (inclusive
    // counts, and the same snaps).
    assert_eq!(plan.cost.unmerged_calls, 3);
    assert_eq!(plan.cost.calls, 2);
    assert!(plan.cost.speedup > 1.0);
}

/// Consolidation, example 2: keyframes [0, 54, 91], cap 65.
/// Note: "Segment 0: 0-54 (54 frames), Segment 1: 54-91 (37 frames)".
/// Ours: 91 does not fit with 0 (92 frames > 65), so no merge, as in the note. 0..=54 is 55
/// frames (not 4n+1): 53 and 57 tie, the longer wins, keyframe 1 snaps 54 -> 56. Then
/// 56..=91 is 36 frames: 37 is nearest, keyframe 2 snaps 91 -> 92.
#[test]
fn consolidation_example_2() {
    let plan = plan::plan(&project(&[0, 54, 91], "consolidate", Some(65), 0)).unwrap();
    assert_eq!(ranges(&plan), vec![(0, 56), (56, 92)]);
    assert_eq!(lengths(&plan), vec![57, 37]);
    assert!(!plan.boundaries[0].merged);
    assert!(plan.boundaries[0].reason.contains("over the cap"));
    assert_eq!(plan.snaps.len(), 2);
}

/// Failure section: "1 failed segment = 41 lost frames" unmerged vs "65 lost frames"
/// merged (58 % more). Ours for the same timeline: 40 vs 65. A call loses the frames only
/// it writes; the shared keyframe at its start belongs to the call before.
#[test]
fn consolidation_blast_radius() {
    let unmerged = plan::plan(&project(&[0, 24, 65, 82], "off", Some(65), 0)).unwrap();
    let merged = plan::plan(&project(&[0, 24, 65, 82], "consolidate", Some(65), 0)).unwrap();
    assert_eq!(unmerged.blast_radius_frames, 40);
    assert_eq!(merged.blast_radius_frames, 65);
    // Independent calls block nothing else.
    assert_eq!(merged.max_blocked_frames, 65);
    // A smaller cap trades speed for a smaller blast radius.
    let capped = plan::plan(&project(&[0, 24, 65, 82], "consolidate", Some(41), 0)).unwrap();
    assert!(capped.blast_radius_frames <= 41);
    assert!(capped.calls.iter().all(|c| c.len() <= 41));
    // Nothing merges under a 41-frame cap, and span 1 (24..=65, 42 frames) needs two
    // sliding windows: four calls.
    assert_eq!(capped.calls.len(), 4);
}

/// Merging never happens when parameters differ.
#[test]
fn consolidation_needs_identical_parameters() {
    let mut p = project(&[0, 24, 48], "consolidate", None, 0);
    p.segments = vec![
        wayfarer::project::Segment {
            prompt: "a".into(),
            ..Default::default()
        },
        wayfarer::project::Segment {
            prompt: "b".into(),
            ..Default::default()
        },
    ];
    let plan = plan::plan(&p).unwrap();
    assert_eq!(plan.calls.len(), 2);
    assert_eq!(plan.boundaries[0].differing_fields, vec!["prompt"]);
    assert!(
        plan.boundaries[0]
            .reason
            .starts_with("parameters differ: prompt")
    );
}

/// Batch scenario 1, "Your example (0->25->54)": "3 segments [25, 29, 25] with [4, 4]
/// overlaps -> single batch of 71 frames (3x speedup); 11 anchored, 6 transition, 58 free".
/// The segment sizes put keyframes at 0, 24, 49, 70 (offsets advance by frames - overlap)
/// and 0..=70 is 71 frames, not 4n+1: 69 and 73 tie, the longer wins, keyframe 3 snaps
/// 70 -> 72, one call of 73 frames. The note's 3x counts calls; our estimate uses the
/// profile's cost model (30 s per call + 0.5 s per frame): 1.9x. Its mask counts (75 frames
/// in all) include overlap frames a merged call no longer has; ours with 2 transition frames
/// per anchor side: 4 anchors, 12 transition, 57 free.
#[test]
fn batch_scenario_1() {
    let plan = plan::plan(&project(&[0, 24, 49, 70], "batch", None, 2)).unwrap();
    assert_eq!(ranges(&plan), vec![(0, 72)]);
    assert_eq!(plan.positions, vec![0, 24, 49, 72]);
    let (speedup, calls) = (plan.cost.speedup, plan.cost.unmerged_calls);
    assert_eq!(calls, 3);
    assert!((1.85..2.0).contains(&speedup), "speedup {speedup}");
    let classes = plan.calls[0].frame_classes();
    let count = |c: FrameClass| classes.iter().filter(|&&x| x == c).count();
    assert_eq!(count(FrameClass::Anchor), 4);
    assert_eq!(count(FrameClass::Transition), 12);
    assert_eq!(count(FrameClass::Free), 57);
    let mask = plan.calls[0].mask();
    assert_eq!(&mask[..4], &[0.0, 0.3, 0.3, 1.0]);
    assert_eq!(&mask[22..27], &[0.3, 0.3, 0.0, 0.3, 0.3]);
}

/// Batch scenario 2, "Small multi-segment": "5 segments [17 x 5] -> single batch of 77
/// frames (5x)". With overlaps of 2 the keyframes sit at 0, 16, 31, 46, 61, 76; 0..=76 is 77
/// frames = 4*19+1, valid as is. Ours agrees on the call; the estimated speedup is 2.8x.
#[test]
fn batch_scenario_2() {
    let plan = plan::plan(&project(&[0, 16, 31, 46, 61, 76], "batch", None, 0)).unwrap();
    assert_eq!(ranges(&plan), vec![(0, 76)]);
    assert!(plan.snaps.is_empty());
    assert_eq!(plan.calls[0].anchors.len(), 6);
    assert!(
        (2.7..2.9).contains(&plan.cost.speedup),
        "{}",
        plan.cost.speedup
    );
}

/// Batch scenario 3, "Many tiny segments": "8 segments [9 x 8] -> single batch of 65
/// frames (8x)". Keyframes every 8 frames: 0..=64 is 65 frames, valid. Ours: one call of 65
/// frames; estimated speedup 4.4x.
#[test]
fn batch_scenario_3() {
    let frames: Vec<u32> = (0..=8).map(|i| i * 8).collect();
    let plan = plan::plan(&project(&frames, "batch", None, 0)).unwrap();
    assert_eq!(ranges(&plan), vec![(0, 64)]);
    assert_eq!(plan.cost.unmerged_calls, 8);
    assert!(
        (4.3..4.5).contains(&plan.cost.speedup),
        "{}",
        plan.cost.speedup
    );
}

/// Batch scenario 4, "Zero overlaps": "4 segments [20 x 4] -> single batch of 80 frames
/// (4x)". 80 is not 4n+1. Keyframes at 0, 19, 39, 59, 79 (0..=79 = 80 frames); ours snaps
/// the last keyframe 79 -> 80: one call of 81 frames, 2.3x estimated.
#[test]
fn batch_scenario_4() {
    let plan = plan::plan(&project(&[0, 19, 39, 59, 79], "batch", None, 0)).unwrap();
    assert_eq!(ranges(&plan), vec![(0, 80)]);
    assert_eq!(plan.snaps[0].from, 79);
    assert_eq!(plan.snaps[0].to, 80);
}

/// Batch scenario 5, "Single segment: correctly bypasses batching". Ours: one call.
#[test]
fn batch_scenario_5() {
    let plan = plan::plan(&project(&[0, 40], "batch", None, 0)).unwrap();
    assert_eq!(plan.calls.len(), 1);
    assert!(!plan.calls[0].is_merged());
    assert!((plan.cost.speedup - 1.0).abs() < 1e-9);
}

/// Batch thresholds: fewer than 3 spans or too little speedup -> no merge, with the reason.
#[test]
fn batch_thresholds() {
    let plan = plan::plan(&project(&[0, 24, 48], "batch", None, 0)).unwrap();
    assert_eq!(plan.calls.len(), 2);
    assert!(
        plan.boundaries[0].reason.contains("at least 3 needed"),
        "{:?}",
        plan.boundaries
    );
    // Consolidate merges the same two spans.
    let plan = plan::plan(&project(&[0, 24, 48], "consolidate", None, 0)).unwrap();
    assert_eq!(plan.calls.len(), 1);
    // A per-frame cost that dwarfs the call overhead leaves no speedup worth batching.
    let mut p = project(&[0, 20, 40, 60], "batch", None, 0);
    p.profile = Some(wayfarer::plan::ModelProfile {
        call_overhead_secs: 0.0,
        frame_secs: 1.0,
        ..wayfarer::plan::ModelProfile::builtin("wan2.1-vace-14b").unwrap()
    });
    let plan = plan::plan(&p).unwrap();
    assert_eq!(plan.calls.len(), 3);
    assert!(
        plan.boundaries[0].reason.contains("speedup"),
        "{:?}",
        plan.boundaries[0]
    );
}

/// Chained mode: a merged call still takes its context from the call before.
#[test]
fn chained_merged_call_takes_context() {
    let mut p = project(&[0, 40, 60, 80], "consolidate", None, 0);
    p.mode = wayfarer::project::Mode::Chained;
    p.merge.policy = MergePolicy::Consolidate;
    let segment = |prompt: &str| wayfarer::project::Segment {
        prompt: prompt.into(),
        ..Default::default()
    };
    p.segments = vec![segment("a"), segment("b"), segment("b")];
    let plan = plan::plan(&p).unwrap();
    assert_eq!(plan.calls.len(), 2);
    assert_eq!((plan.calls[1].first_span, plan.calls[1].last_span), (1, 2));
    let second = &plan.calls[1];
    assert!(second.is_merged());
    assert_eq!(second.lead, Lead::Context);
    assert_eq!(second.lead_frames, 8);
    assert_eq!(second.after, Some(0));
    assert!(plan.profile.is_valid_length(second.len()));
}
