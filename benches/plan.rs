//! Planning a 10,000-keyframe timeline (target: well under 50 ms), per merge policy and mode.
//!
//! Run: `cargo bench --bench plan`. Gaps between keyframes are 1..=120 frames (fixed
//! pseudo-random sequence); segment parameters change every 1..=6 spans, so merging has
//! real decisions to make. Each figure is the median of 21 runs.
#![expect(
    clippy::default_trait_access,
    reason = "test setup fills fields with their defaults"
)]
#![expect(
    clippy::expect_used,
    reason = "test code: a failed expect is a failed test"
)]

use std::time::Instant;

use wayfarer::plan;
use wayfarer::project::{Keyframe, MergePolicy, MergeSettings, Mode, Project, Segment};

const KEYFRAMES: usize = 10_000;

fn timeline(mode: Mode, policy: MergePolicy) -> Project {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |m: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % m
    };
    let mut frame = 0;
    let mut keyframes = Vec::with_capacity(KEYFRAMES);
    for i in 0..KEYFRAMES {
        if i > 0 {
            frame += 1 + next(120) as u32;
        }
        keyframes.push(Keyframe {
            image: "k.png".into(),
            frame,
        });
    }
    let mut segments = Vec::with_capacity(KEYFRAMES - 1);
    let mut prompt = 0;
    let mut left = 0;
    for _ in 0..KEYFRAMES - 1 {
        if left == 0 {
            prompt += 1;
            left = 1 + next(6);
        }
        left -= 1;
        segments.push(Segment {
            prompt: format!("scene {prompt}"),
            ..Default::default()
        });
    }
    Project {
        version: 1,
        fps: 16,
        width: 832,
        height: 480,
        model: "wan2.1-vace-14b".into(),
        mode,
        overlap: 8,
        seed: 789,
        keyframes,
        segments,
        merge: MergeSettings {
            policy,
            ..Default::default()
        },
        mask: Default::default(),
        profile: None,
        structure_video: None,
        color_match: wayfarer::fidelity::ColorMatch::default(),
        length: None,
    }
}

fn main() {
    println!("planning {KEYFRAMES} keyframes, median of 21 runs");
    println!(
        "{:<12} {:<12} {:>10} {:>8}",
        "mode", "policy", "ms", "calls"
    );
    for mode in [Mode::Chained, Mode::Independent] {
        for policy in [
            MergePolicy::Off,
            MergePolicy::Consolidate,
            MergePolicy::Batch,
        ] {
            let project = timeline(mode, policy);
            let mut times = Vec::new();
            let mut calls = 0;
            for _ in 0..21 {
                let t = Instant::now();
                let p = plan::plan(&project).expect("plan");
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                calls = p.calls.len();
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{:<12} {:<12} {:>10.2} {:>8}",
                format!("{mode:?}"),
                format!("{policy:?}"),
                times[10],
                calls
            );
        }
    }
}
