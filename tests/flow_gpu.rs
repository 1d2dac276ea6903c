//! Dense inverse search on the GPU against its CPU twin: the same golden inputs give fields
//! within 0.05 px of each other (mean end-point error), on every preset and with more
//! propagation and refinement, on real frames of odd sizes and on a known translation. Runs on whatever adapter wgpu finds (lavapipe in
//! CI, a real GPU through `scripts/gpu-check.sh`).
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;

use wayfarer::flow::{DenseInverseSearch, DisPreset, DisWgpu, FlowEstimator, mean_epe};
use wayfarer::gpu::{Compute, CpuCompute, FlowField};
use wayfarer::media::{Frame, load_image};

fn sintel(name: &str) -> Frame {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    load_image(&root.join("examples/demo").join(name)).unwrap()
}

/// The GPU estimator with `settings` on any adapter, or `None` (skipped, said why).
fn gpu(settings: DenseInverseSearch, test: &str) -> Option<DisWgpu> {
    match DisWgpu::new(settings, true) {
        Ok(g) => Some(g),
        Err(e) => {
            common::skip(test, &format!("no wgpu adapter: {}", e.message));
            None
        }
    }
}

/// The largest end-point difference between two fields.
fn max_epe(a: &FlowField, b: &FlowField) -> f32 {
    a.data
        .iter()
        .zip(&b.data)
        .map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1]))
        .fold(0.0, f32::max)
}

#[test]
fn gpu_and_cpu_twin_agree_on_real_frames_within_five_hundredths_of_a_pixel() {
    let cpu = CpuCompute;
    let a = sintel("sintel_0016.png");
    let b = sintel("sintel_0020.png");
    // An odd size (partial patches at the edges, odd pyramid levels) and a 16:9 one.
    for (w, h) in [(333u32, 197u32), (640, 360)] {
        let (a, b) = (
            cpu.crop_fit(&a, w, h).unwrap(),
            cpu.crop_fit(&b, w, h).unwrap(),
        );
        // Every preset, and medium with three rounds of propagation and more refinement.
        let more = DenseInverseSearch {
            rounds: 3,
            refinement: 4,
            ..DenseInverseSearch::default()
        };
        let presets = [DisPreset::Fast, DisPreset::Medium, DisPreset::Fine];
        let all = presets
            .map(DenseInverseSearch::preset)
            .into_iter()
            .chain([more]);
        for settings in all {
            let preset = settings.preset;
            let Some(g) = gpu(settings, "gpu flow parity") else {
                return;
            };
            let on_gpu = g.estimate(&a, &b).unwrap();
            let on_cpu = settings.estimate(&a, &b).unwrap();
            assert_eq!((on_gpu.width, on_gpu.height), (w, h));
            let epe = mean_epe(&on_gpu, &on_cpu, 0);
            let longest = on_cpu
                .data
                .iter()
                .map(|v| v[0].hypot(v[1]))
                .fold(0.0f32, f32::max);
            eprintln!(
                "{w}x{h} {} (rounds {}, refinement {}) on {}: mean difference {epe:.5} px, largest {:.3} px (longest vector {longest:.1} px)",
                preset.name(),
                settings.rounds,
                settings.refinement,
                g.adapter(),
                max_epe(&on_gpu, &on_cpu)
            );
            assert!(longest > 1.0, "the pair has motion to find");
            assert!(epe <= 0.05, "{w}x{h} {}: {epe} px", preset.name());
        }
    }
}

#[test]
fn gpu_flow_recovers_a_known_translation() {
    let cpu = CpuCompute;
    let b = cpu.crop_fit(&sintel("sintel_0016.png"), 320, 176).unwrap();
    let truth = FlowField::uniform(320, 176, 2.3, -1.7);
    let a = cpu.warp(&b, &truth, 1.0).unwrap();
    let Some(g) = gpu(DenseInverseSearch::default(), "gpu flow translation") else {
        return;
    };
    let flow = g.estimate(&a, &b).unwrap();
    let epe = mean_epe(&flow, &truth, 16);
    eprintln!("translation (2.3, -1.7) on {}: {epe:.3} px", g.adapter());
    assert!(epe <= 0.5, "{epe} px");
}

#[test]
fn settings_the_shaders_do_not_run_are_refused_with_a_hint() {
    let sweeps = DenseInverseSearch {
        propagation: true,
        ..DenseInverseSearch::default()
    };
    let big = DenseInverseSearch {
        patch: 12,
        ..DenseInverseSearch::default()
    };
    for settings in [sweeps, big] {
        let Err(e) = DisWgpu::new(settings, true) else {
            panic!("accepted {settings:?}");
        };
        assert!(e.message.contains("GPU flow"), "{}", e.message);
        assert!(e.suggestions.iter().any(|h| h.contains("preset")));
    }
}
