//! Property tests of the planner over random timelines and parameters.

use proptest::prelude::*;
use wayfarer::plan::{self, FrameClass, Lead, identity};
use wayfarer::project::{Lora, MaskSettings, MergePolicy, MergeSettings, Mode, Project, Segment};

fn arb_project() -> impl Strategy<Value = Project> {
    (
        prop::collection::vec(1u32..160, 1..12),
        prop::bool::ANY,
        0usize..3,
        1u32..17,
        prop::option::of(17u32..90),
        0u32..4,
        prop::collection::vec((0usize..2, prop::bool::ANY, prop::bool::ANY), 1..12),
        prop::bool::ANY,
    )
        .prop_map(
            |(gaps, chained, policy, overlap, cap, transition, segs, one_segment)| {
                let mut frame = 0;
                let mut keyframes = vec![wayfarer::project::Keyframe {
                    image: "k.png".into(),
                    frame: 0,
                }];
                for g in &gaps {
                    frame += g;
                    keyframes.push(wayfarer::project::Keyframe {
                        image: "k.png".into(),
                        frame,
                    });
                }
                let spans = gaps.len();
                let segment = |(prompt, lora, swapped): (usize, bool, bool)| {
                    let mut loras = vec![
                        Lora {
                            name: "x".into(),
                            strength: 0.5,
                        },
                        Lora {
                            name: "y".into(),
                            strength: if lora { 1.0 } else { 0.8 },
                        },
                    ];
                    if swapped {
                        loras.reverse();
                    }
                    Segment {
                        prompt: ["drift  through", "rise"][prompt].into(),
                        loras,
                        ..Default::default()
                    }
                };
                let segments = if one_segment {
                    vec![segment(segs[0])]
                } else {
                    (0..spans).map(|i| segment(segs[i % segs.len()])).collect()
                };
                Project {
                    version: 1,
                    fps: 16,
                    width: 832,
                    height: 480,
                    model: "wan2.1-vace-14b".into(),
                    mode: if chained {
                        Mode::Chained
                    } else {
                        Mode::Independent
                    },
                    overlap,
                    seed: 789,
                    keyframes,
                    segments,
                    merge: MergeSettings {
                        policy: [
                            MergePolicy::Off,
                            MergePolicy::Consolidate,
                            MergePolicy::Batch,
                        ][policy],
                        max_frames_per_call: cap,
                        ..Default::default()
                    },
                    mask: MaskSettings {
                        transition_frames: transition,
                        ..Default::default()
                    },
                    profile: None,
                    structure_video: None,
                    color_match: wayfarer::fidelity::ColorMatch::default(),
                    length: None,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn plans_hold_the_frame_model(project in arb_project()) {
        let plan = match plan::plan(&project) {
            Ok(p) => p,
            // A cap too small for the overlap is bad input, reported as such.
            Err(e) => {
                prop_assert!(e.message.starts_with("merge.max_frames_per_call"), "{}", e.message);
                return Ok(());
            }
        };
        // Every call length is valid for its profile and within the cap.
        for c in &plan.calls {
            prop_assert!(plan.profile.is_valid_length(c.len()), "call {:?}", c);
            prop_assert!(c.len() <= plan.max_frames_per_call);
        }
        // Positions strictly increase; the output has last position + 1 frames.
        prop_assert!(plan.positions.windows(2).all(|w| w[0] < w[1]));
        prop_assert_eq!(plan.total_frames, plan.positions.last().unwrap() + 1);
        // Calls tile the timeline exactly: each output frame is written by one call.
        let mut next = 0;
        for c in &plan.calls {
            let own_start = if c.lead == Lead::Start { c.start } else { c.start + c.lead_frames };
            prop_assert_eq!(own_start, next, "gap or overlap before call {}", c.index);
            next = c.end + 1;
        }
        prop_assert_eq!(next, plan.total_frames);
        // Every keyframe frame is an anchor (mask keep) in every call that covers it.
        for (k, &p) in plan.positions.iter().enumerate() {
            let mut covered = false;
            for c in plan.calls.iter().filter(|c| c.start <= p && p <= c.end) {
                covered = true;
                let offset = (p - c.start) as usize;
                prop_assert_eq!(c.frame_classes()[offset], FrameClass::Anchor);
                prop_assert_eq!(c.mask()[offset], 0.0);
                prop_assert!(c.anchors.iter().any(|a| a.keyframe == k));
            }
            prop_assert!(covered, "keyframe {} rendered by no call", k);
        }
        // Merged calls only ever cover spans with identical parameters.
        for c in plan.calls.iter().filter(|c| c.is_merged()) {
            prop_assert!(project.merge.policy != MergePolicy::Off);
            for b in c.first_span + 1..=c.last_span {
                let diff = identity::differing_fields(
                    project.segment_for_span(b - 1),
                    project.segment_for_span(b),
                    project.seed,
                    project.seed,
                );
                prop_assert!(diff.is_empty(), "merged across {:?}", diff);
            }
        }
        // Dependencies point backwards.
        for c in &plan.calls {
            prop_assert!(c.after.is_none_or(|a| a < c.index));
        }
        // Planning is deterministic.
        prop_assert_eq!(plan::plan(&project).unwrap(), plan);
    }
}
