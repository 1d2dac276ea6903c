//! Merged vs unmerged plans on the seed 001 scenarios, rendered through the ComfyUI backend
//! against the test server on 127.0.0.1 with a per-call model load cost.
//!
//! Run: `cargo bench --bench merge`. The server charges `LOAD_MS` per call (a cold model
//! load, 20-60 s on a real server, scaled down 100x) and `FRAME_MS` per output frame for
//! sampling (0.5 s per frame scaled the same way), over 4 sampler steps. Everything else is
//! real: guide and mask MP4 encode and upload, WebSocket progress, download, decode,
//! stitch and the final encode. Each figure is the median of 3 renders; policy `off` vs
//! `batch` side by side in one run.

#[path = "../tests/comfy_server/mod.rs"]
mod comfy_server;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use wayfarer::generate::comfy::ComfyBackend;
use wayfarer::generate::{BackendConfig, CancelToken};
use wayfarer::media::EncodeOptions;
use wayfarer::project::Project;
use wayfarer::render::{self, RenderOptions};

const LOAD_MS: u64 = 300;
const FRAME_MS: u64 = 5;

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

/// Median wall time of rendering `project`, its call count and the planner's estimate.
fn time_render(dir: &Path, project: &Project, backend: &ComfyBackend) -> (f64, usize, f64) {
    let mut times = Vec::new();
    let mut calls = 0;
    let mut estimate = 0.0;
    for run in 0..3 {
        let out = dir.join(format!("out{run}.mp4"));
        let start = Instant::now();
        let summary = render::render_opts(
            project,
            dir,
            &out,
            backend,
            &EncodeOptions::default(),
            &mut |_| {},
            &CancelToken::new(),
            &RenderOptions::default(),
        )
        .expect("render");
        times.push(start.elapsed().as_secs_f64());
        calls = summary.backend_calls;
        estimate = summary.plan.cost.speedup;
    }
    times.sort_by(f64::total_cmp);
    (times[1], calls, estimate)
}

fn main() {
    let server = comfy_server::ComfyTestServer::start();
    server
        .shared
        .behaviour
        .load_ms
        .store(LOAD_MS, Ordering::SeqCst);
    server
        .shared
        .behaviour
        .frame_ms
        .store(FRAME_MS, Ordering::SeqCst);
    let backend = ComfyBackend::with_timeouts(
        &BackendConfig::comfyui(vec![server.url.clone()]),
        Duration::from_secs(30),
    )
    .expect("backend");
    let scenarios: Vec<(&str, Vec<u32>, u32)> = vec![
        ("1: 0-24-49-70, transitions 2", vec![0, 24, 49, 70], 2),
        ("2: 5 x 17 frames", vec![0, 16, 31, 46, 61, 76], 0),
        ("3: 8 x 9 frames", (0..=8).map(|i| i * 8).collect(), 0),
        ("4: 4 x 20, no overlap", vec![0, 19, 39, 59, 79], 0),
        ("5: single segment", vec![0, 40], 0),
    ];
    println!(
        "per-call load {LOAD_MS} ms, sampling {FRAME_MS} ms/frame, 256x144, 4 steps, ComfyUI test server on 127.0.0.1"
    );
    println!(
        "{:<32} {:>12} {:>12} {:>10} {:>10}",
        "scenario", "off", "batch", "speedup", "planned"
    );
    for (name, frames, transition) in scenarios {
        let dir = tempfile::tempdir().expect("temp dir");
        let off = project(dir.path(), &frames, "off", transition);
        let batch = project(dir.path(), &frames, "batch", transition);
        let (t_off, c_off, _) = time_render(dir.path(), &off, &backend);
        let (t_batch, c_batch, estimate) = time_render(dir.path(), &batch, &backend);
        println!(
            "{:<32} {:>6.2} s/{:<2}c {:>6.2} s/{:<2}c {:>9.2}x {:>9.2}x",
            name,
            t_off,
            c_off,
            t_batch,
            c_batch,
            t_off / t_batch,
            estimate
        );
    }
}
