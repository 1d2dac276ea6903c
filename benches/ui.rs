//! Studio frame time with a 200-keyframe project next to a 3-keyframe one, rendered in
//! software (wgpu on lavapipe when present), measured in one run.
//!
//! Run: `cargo bench --bench ui`. Each figure is the median over 60 frames after the
//! thumbnails have loaded: `step` is egui's frame (layout, painting, tessellation),
//! `render` is drawing it to a 1280x800 texture and reading it back.
#![expect(
    clippy::expect_used,
    reason = "test code: a failed expect is a failed test"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use wayfarer::project::edit::Edit;
use wayfarer::project::{Keyframe, MergePolicy};
use wayfarer::ui::{Settings, StudioApp, StudioConfig};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure(keyframes: usize, render: bool) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    let config = StudioConfig {
        render_dir: dir.path().join("renders"),
        autosave_dir: dir.path().join("autosave"),
        call_cache_dir: dir.path().join("calls"),
        costs_file: dir.path().join("costs.json"),
    };
    let mut app = StudioApp::new(config, Settings::default());
    let mut project = app.project().clone();
    let names = ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"];
    project.keyframes = (0..keyframes)
        .map(|i| Keyframe {
            image: demo.join(names[i % names.len()]),
            frame: i as u32 * 24,
        })
        .collect();
    project.merge.policy = MergePolicy::Consolidate;
    app.push_edit(Edit::Replace(Box::new(project)));
    let mut builder = Harness::builder()
        .with_size((1280.0, 800.0))
        .with_max_steps(10_000);
    if render {
        builder = builder.wgpu();
    }
    let mut h = builder.build_ui_state(|ui, app: &mut StudioApp| app.show(ui), app);
    let start = Instant::now();
    while !h.state().thumbnails_settled() && start.elapsed() < Duration::from_mins(1) {
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    // Worst case: every keyframe, call bar and mask strip on screen.
    h.state_mut().fit_timeline();
    h.step();
    let (mut steps, mut renders) = (Vec::new(), Vec::new());
    for _ in 0..60 {
        let t = Instant::now();
        h.step();
        steps.push(t.elapsed().as_secs_f64() * 1000.0);
        if render {
            let t = Instant::now();
            h.render().expect("render");
            renders.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    (median(steps), if render { median(renders) } else { 0.0 })
}

fn main() {
    let render = !wayfarer::doctor::wgpu_adapters().is_empty();
    println!(
        "studio frame time, 1280x800, median of 60 frames ({})",
        if render {
            "wgpu software rendering"
        } else {
            "no adapter: egui step only"
        }
    );
    println!(
        "{:>10} {:>10} {:>11} {:>10}",
        "keyframes", "step ms", "render ms", "total ms"
    );
    let mut totals = Vec::new();
    for n in [3, 200] {
        let (step, draw) = measure(n, render);
        println!("{n:>10} {step:>10.2} {draw:>11.2} {:>10.2}", step + draw);
        totals.push(step + draw);
    }
    println!("ratio 200 / 3 keyframes: {:.2}x", totals[1] / totals[0]);
}
