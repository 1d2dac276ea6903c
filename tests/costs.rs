//! Merge decisions from measured costs: `auto` merges where the backend's fitted cost law
//! predicts a saving and declines where calls grow quadratically; `wayfarer plan` and a
//! render use the law measured on their backend; renders record their calls' timings and
//! report predicted vs measured.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;

use std::path::Path;

use wayfarer::generate::{BackendConfig, CancelToken};
use wayfarer::media::EncodeOptions;
use wayfarer::plan::CostSample;
use wayfarer::project::file;
use wayfarer::render::{self, CostStore, RenderEvent, RenderOptions};

/// Three identical spans of 16 frames, merge policy `auto`.
fn project(dir: &Path) -> std::path::PathBuf {
    for name in ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"] {
        std::fs::copy(common::demo_image(name), dir.join(name)).unwrap();
    }
    let json = common::project_json(
        &[
            "sintel_0016.png",
            "sintel_0020.png",
            "sintel_0025.png",
            "sintel_0016.png",
        ],
        &[0, 16, 32, 48],
        (256, 144),
        "independent",
    )
    .replace(
        r#""merge":{"policy":"off"}"#,
        r#""merge":{"policy":"auto"}"#,
    );
    common::write_project(dir, &json)
}

/// Writes timings that follow `t = a + b·x + c·x²` for the builtin backend into the cost
/// store under `data_home`.
fn measured(data_home: &Path, a: f64, b: f64, c: f64) {
    let store = CostStore::open(data_home.join("wayfarer").join("costs.json"));
    let id = wayfarer::generate::backend_identity(&BackendConfig::builtin()).unwrap();
    let mp = 256.0 * 144.0 / 1e6;
    for frames in [17u32, 33, 49, 65] {
        let x = f64::from(frames) * mp;
        store.record(
            &id,
            CostSample {
                frames,
                megapixels: mp,
                secs: a + b * x + c * x * x,
            },
        );
    }
}

fn plan(dir: &Path, data_home: &Path) -> String {
    let out = common::cli(dir)
        .args(["plan", "project.json"])
        .current_dir(dir)
        .env("RUST_LOG", "off")
        .env("XDG_DATA_HOME", data_home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn auto_merges_on_cold_workers_and_declines_on_quadratic_ones() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    // No timings yet: the profile's linear law (20 s per call) merges.
    let fresh = dir.path().join("fresh");
    let text = plan(dir.path(), &fresh);
    assert!(text.contains("1 calls"), "{text}");
    assert!(text.contains("merging saves"), "{text}");
    assert!(text.contains("profile defaults"), "{text}");
    // Cold workers: 30 s per call; merging saves two loads.
    let cold = dir.path().join("cold");
    measured(&cold, 30.0, 1.0, 0.0);
    let text = plan(dir.path(), &cold);
    assert!(text.contains("1 calls"), "{text}");
    assert!(text.contains("merging saves 60 s"), "{text}");
    assert!(text.contains("measured on builtin/"), "{text}");
    // Warm workers, quadratic: merging would cost more, and the plan says so.
    let warm = dir.path().join("warm");
    measured(&warm, 0.2, 0.5, 1.5);
    let text = plan(dir.path(), &warm);
    assert!(text.contains("3 calls"), "{text}");
    assert!(
        text.contains("more: calls grow quadratically on this backend"),
        "{text}"
    );
}

#[test]
fn a_render_records_its_timings_and_reports_predicted_vs_measured() {
    let dir = tempfile::tempdir().unwrap();
    let project = file::load(&project(dir.path())).unwrap();
    let store = dir.path().join("costs.json");
    let mut done = None;
    let summary = render::render(
        &render::RenderRequest {
            project: &project,
            project_dir: dir.path(),
            output: &dir.path().join("out.mp4"),
            encode: EncodeOptions::default(),
            options: &RenderOptions {
                costs: Some(CostStore::open(store.clone())),
                ..Default::default()
            },
            motion: None,
        },
        &wayfarer::generate::Builtin::from_env().unwrap(),
        &mut |e| {
            if let RenderEvent::Done {
                predicted_secs,
                generation_secs,
                ..
            } = e
            {
                done = Some((predicted_secs, generation_secs));
            }
        },
        &CancelToken::new(),
    )
    .unwrap();
    let (predicted, measured) = done.expect("a done event");
    assert!(predicted > 0.0 && measured > 0.0);
    assert_eq!(predicted, summary.predicted_secs);
    assert_eq!(measured, summary.generation_secs);
    let text = std::fs::read_to_string(&store).unwrap();
    let stored: serde_json::Value = serde_json::from_str(&text).unwrap();
    let samples = stored["backends"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        samples, summary.backend_calls,
        "one timing per generated call"
    );
}
