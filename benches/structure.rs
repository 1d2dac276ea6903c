//! The structure-video stage at 1280x720 against its floor: a 64-frame clip (the demo
//! frame panning), analysed with a cold cache by `StructureMotion::prepare` (decode, fit,
//! flow per pair), next to the same number of flow estimates alone on the same frames.
//! Issue 15 asks the stage to cost at most 1.5x (pairs x one flow).
//!
//! Run: `cargo bench --bench structure`.
#![expect(
    clippy::expect_used,
    reason = "bench code: a failed expect is a failed run"
)]

use std::path::Path;
use std::time::Instant;

use wayfarer::flow::{DenseInverseSearch, FlowEstimator};
use wayfarer::generate::CancelToken;
use wayfarer::gpu::{Compute, CpuCompute, FlowField};
use wayfarer::media::{self, EncodeOptions, VideoEncoder};
use wayfarer::project::{StructureVideo, Treatment};
use wayfarer::structure::{MotionTools, StructureMotion, Timeline};

const FRAMES: u32 = 64;

fn main() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    let src = media::load_image(&demo.join("sintel_0016.png")).expect("demo frame");
    let cpu = CpuCompute;
    let base = cpu.crop_fit(&src, 1280, 720).expect("fit");
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = dir.path().join("clip.mp4");
    let mut enc =
        VideoEncoder::create(&clip, 1280, 720, 16, &EncodeOptions::default()).expect("encoder");
    for i in 0..FRAMES {
        let shift = FlowField::uniform(1280, 720, 3.0 * i as f32, 0.5 * i as f32);
        enc.push(&cpu.warp(&base, &shift, 1.0).expect("warp"))
            .expect("push");
    }
    enc.finish().expect("finish");
    let estimator = DenseInverseSearch::default();
    let tools = MotionTools {
        compute: &cpu,
        estimator: &estimator,
        cache: None,
    };
    let sv = StructureVideo {
        path: clip.clone(),
        start_frame: 0,
        end_frame: None,
        treatment: Treatment::default(),
        motion_strength: 1.0,
    };
    let timeline = Timeline {
        total: FRAMES,
        fps: 16,
        width: 1280,
        height: 720,
    };
    let mut pairs = 0;
    let started = Instant::now();
    let motion = StructureMotion::prepare(
        &sv,
        dir.path(),
        &timeline,
        &tools,
        &mut |_, total| pairs = total,
        &CancelToken::new(),
    )
    .expect("structure stage");
    let stage = started.elapsed().as_secs_f64();
    drop(motion);
    // The floor: the same pairs' flows alone, on frames already decoded and fitted.
    let frames: Vec<_> = media::decode_all(&clip)
        .expect("decode")
        .iter()
        .map(|f| cpu.crop_fit(f, 1280, 720).expect("fit"))
        .collect();
    let started = Instant::now();
    for w in frames.windows(2) {
        drop(estimator.estimate(&w[1], &w[0]).expect("flow"));
    }
    let flows = started.elapsed().as_secs_f64();
    println!(
        "structure stage, {FRAMES} frames at 1280x720, cold cache, {} ({} pairs)",
        estimator.describe(),
        pairs
    );
    println!(
        "stage: {stage:.2} s; pairs x flow alone: {flows:.2} s; ratio {:.2}x",
        stage / flows
    );
}
