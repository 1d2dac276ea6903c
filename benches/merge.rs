//! Merge policies `off`, `consolidate` and `auto` on the seed 001 scenarios, rendered
//! through the ComfyUI backend against the test server on 127.0.0.1, under two cost laws:
//!
//! - **cold**: every prompt loads the model (`LOAD_MS`, a 20-60 s load on a real server
//!   scaled down 100x) and sampling costs `FRAME_MS` per frame: merging saves loads.
//! - **warm, quadratic**: the model stays loaded (no load) and sampling grows with the
//!   square of the call's frames (`FRAME2_US` per frame², attention over all frames):
//!   merging makes calls slower.
//!
//! Before the scenarios, each law is measured: single-call renders of 17, 41 and 81 frames
//! record their timings in a fresh cost store, and `auto` plans with the law fitted from
//! them (the same path a user's renders take). Everything else is real: guide and mask MP4
//! encode and upload, WebSocket progress, download, decode, stitch and the final encode.
//! Each figure is the median of 3 renders. Run: `cargo bench --bench merge`.
#![expect(
    clippy::expect_used,
    reason = "test code: a failed expect is a failed test"
)]

#[path = "../tests/comfy_server/mod.rs"]
pub mod comfy_server;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use wayfarer::generate::comfy::ComfyBackend;
use wayfarer::generate::{BackendConfig, CancelToken};
use wayfarer::media::EncodeOptions;
use wayfarer::project::Project;
use wayfarer::render::{self, CostStore, RenderOptions};

const LOAD_MS: u64 = 300;
const FRAME_MS: u64 = 5;
const WARM_FRAME_MS: u64 = 1;
const FRAME2_US: u64 = 400;

fn project(dir: &Path, frames: &[u32], policy: &str, transition: u32) -> Project {
    let images = ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"];
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    for name in images {
        std::fs::copy(demo.join(name), dir.join(name)).expect("copy demo image");
    }
    let keyframes: Vec<String> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| format!(r#"{{"image":"{}","frame":{f}}}"#, images[i % 3]))
        .collect();
    Project::from_json_str(&format!(
        r#"{{"version":1,"fps":16,"width":256,"height":144,"model":"wan2.1-vace-14b",
           "mode":"independent","overlap":8,"seed":5,"keyframes":[{}],
           "segments":[{{"prompt":"same","steps":4}}],
           "merge":{{"policy":"{policy}"}},"mask":{{"transition_frames":{transition}}}}}"#,
        keyframes.join(",")
    ))
    .expect("scenario project")
}

/// Median wall time of rendering `project` and its call count.
fn time_render(
    dir: &Path,
    project: &Project,
    backend: &ComfyBackend,
    store: &Path,
) -> (f64, usize) {
    let mut times = Vec::new();
    let mut calls = 0;
    for run in 0..3 {
        let out = dir.join(format!("out{run}.mp4"));
        let options = RenderOptions {
            costs: Some(CostStore::open(store.to_path_buf())),
            ..RenderOptions::default()
        };
        let start = Instant::now();
        let summary = render::render(
            &render::RenderRequest {
                project,
                project_dir: dir,
                output: &out,
                encode: EncodeOptions::default(),
                options: &options,
                motion: None,
            },
            backend,
            &mut |_| {},
            &CancelToken::new(),
        )
        .expect("render");
        times.push(start.elapsed().as_secs_f64());
        calls = summary.backend_calls;
    }
    times.sort_by(f64::total_cmp);
    (times[1], calls)
}

fn run_law(name: &str, load_ms: u64, frame_ms: u64, frame2_us: u64) {
    let server = comfy_server::ComfyTestServer::start();
    let b = &server.shared.behaviour;
    b.load_ms.store(load_ms, Ordering::SeqCst);
    b.frame_ms.store(frame_ms, Ordering::SeqCst);
    b.frame2_us.store(frame2_us, Ordering::SeqCst);
    let backend = ComfyBackend::with_timeouts(
        &BackendConfig::comfyui(vec![server.url.clone()]),
        Duration::from_secs(30),
    )
    .expect("backend");
    let store_dir = tempfile::tempdir().expect("temp dir");
    let store = store_dir.path().join("costs.json");
    // Measure the law: one call each of 17, 41 and 81 frames.
    for end in [16, 40, 80] {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = project(dir.path(), &[0, end], "off", 0);
        time_render(dir.path(), &p, &backend, &store);
    }
    let model = CostStore::open(store.clone())
        .model(&wayfarer::generate::Backend::identity(&backend))
        .expect("a fitted law");
    println!(
        "\n{name}: server load {load_ms} ms/prompt, {frame_ms} ms/frame, {frame2_us} us/frame^2; fitted t = {:.3} + {:.4}·x + {:.6}·x² s (x = frames × Mpx, {} calls, rms {:.3} s)",
        model.a, model.b, model.c, model.samples, model.rms_error_secs
    );
    println!(
        "{:<30} {:>11} {:>11} {:>11}  auto vs best",
        "scenario", "off", "consolidate", "auto"
    );
    let scenarios: Vec<(&str, Vec<u32>, u32)> = vec![
        ("1: 0-24-49-70, transitions 2", vec![0, 24, 49, 70], 2),
        ("2: 5 x 17 frames", vec![0, 16, 31, 46, 61, 76], 0),
        ("3: 8 x 9 frames", (0..=8).map(|i| i * 8).collect(), 0),
        ("4: 4 x 20, no overlap", vec![0, 19, 39, 59, 79], 0),
        ("5: single segment", vec![0, 40], 0),
    ];
    for (label, frames, transition) in scenarios {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut row = Vec::new();
        for policy in ["off", "consolidate", "auto"] {
            let p = project(dir.path(), &frames, policy, transition);
            row.push(time_render(dir.path(), &p, &backend, &store));
        }
        let best = row[0].0.min(row[1].0);
        println!(
            "{:<30} {:>6.2} s/{:<2}c {:>6.2} s/{:<2}c {:>6.2} s/{:<2}c  {:+.0} %",
            label,
            row[0].0,
            row[0].1,
            row[1].0,
            row[1].1,
            row[2].0,
            row[2].1,
            100.0 * (row[2].0 / best - 1.0)
        );
    }
}

fn main() {
    println!("256x144, 4 steps, ComfyUI test server on 127.0.0.1; median of 3 renders");
    run_law("cold workers (model load per prompt)", LOAD_MS, FRAME_MS, 0);
    run_law(
        "warm workers, quadratic sampling",
        0,
        WARM_FRAME_MS,
        FRAME2_US,
    );
}
