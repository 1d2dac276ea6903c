//! Colour match on the CPU at 832x480: time per generated frame for each method when an
//! 81-frame call is matched (on one core, and on every core), and how much
//! of a colour cast each method removes on real frames (the demo's Sintel frames with a
//! warm cast and a brightness change of about 8 dE). Issue 16 asks for at most 2 ms per
//! frame.
//!
//! Run: `cargo bench --bench fidelity`.
#![expect(
    clippy::expect_used,
    reason = "bench code: a failed expect is a failed run"
)]

use std::path::Path;
use std::time::Instant;

use wayfarer::fidelity::{ColorMatch, ColorMethod, ColorStats, delta_e76, match_call};
use wayfarer::gpu::{Compute, CpuCompute};
use wayfarer::guide::CallGuide;
use wayfarer::media::{self, Frame};
use wayfarer::plan::FrameClass;

/// A warm cast growing with `amount` (1.0: about 8 dE on the demo frames).
fn cast(frame: &Frame, amount: f32) -> Frame {
    let mut out = frame.clone();
    for px in out.data.chunks_exact_mut(3) {
        px[0] = (f32::from(px[0]) * (1.0 + 0.06 * amount) + 4.0 * amount).min(255.0) as u8;
        px[1] = (f32::from(px[1]) * (1.0 - 0.04 * amount)) as u8;
        px[2] = (f32::from(px[2]) * (1.0 - 0.12 * amount)) as u8;
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    let cpu = CpuCompute;
    let load = |name: &str| {
        let img = media::load_image(&demo.join(name)).expect("demo frame");
        cpu.crop_fit(&img, 832, 480).expect("fit")
    };
    let (a, b) = (load("sintel_0016.png"), load("sintel_0025.png"));
    let threads = rayon::current_num_threads();
    println!(
        "colour match of an 81-frame call at 832x480 (79 generated frames), time per \
         generated frame on one core and on all {threads}; the cast left at the middle frame"
    );
    println!(
        "{:<10} {:>14} {:>16} {:>12} {:>12} {:>12}",
        "method", "1 core (ms)", "all cores (ms)", "cast (dE)", "left (dE)", "PSNR (dB)"
    );
    for method in [ColorMethod::Lab, ColorMethod::Histogram] {
        let settings = ColorMatch {
            method,
            strength: 1.0,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool");
        // A whole call: 81 frames, the first and last kept, a cast growing along it.
        let n = 81;
        let mut mask = vec![1.0; n];
        mask[0] = 0.0;
        mask[n - 1] = 0.0;
        let mut frames_g = vec![a.clone(); n];
        frames_g[n - 1] = b.clone();
        let guide = CallGuide {
            frames: frames_g,
            classes: vec![FrameClass::Free; n],
            mask,
            structured: vec![false; n],
        };
        let source: Vec<Frame> = (0..n)
            .map(|i| {
                let base = media::Frame::lerp(&a, &b, i as f32 / (n - 1) as f32);
                if i == 0 || i == n - 1 {
                    base
                } else {
                    cast(&base, 1.0)
                }
            })
            .collect();
        let mut per_frame = Vec::new();
        let mut single = Vec::new();
        let mut frames = source.clone();
        for _ in 0..5 {
            frames.clone_from(&source);
            let t = Instant::now();
            pool.install(|| match_call(&guide, &mut frames, &settings));
            single.push(t.elapsed().as_secs_f64() * 1e3 / (n - 2) as f64);
            frames.clone_from(&source);
            let t = Instant::now();
            match_call(&guide, &mut frames, &settings);
            per_frame.push(t.elapsed().as_secs_f64() * 1e3 / (n - 2) as f64);
        }
        let mid = n / 2;
        let clean = media::Frame::lerp(&a, &b, mid as f32 / (n - 1) as f32);
        let reference = ColorStats::of(&clean).mean;
        let before = delta_e76(ColorStats::of(&source[mid]).mean, reference);
        let after = delta_e76(ColorStats::of(&frames[mid]).mean, reference);
        println!(
            "{:<10} {:>14.2} {:>16.2} {:>12.2} {:>12.2} {:>12.2}",
            method.name(),
            median(single),
            median(per_frame),
            before,
            after,
            media::psnr(&frames[mid], &clean)
        );
    }
}
