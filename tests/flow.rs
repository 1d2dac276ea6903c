//! The built-in flow estimator on real frames: synthetic translations and rotations (known
//! ground truth) and consecutive Sintel frames (photometric error after warping).
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use wayfarer::flow::{
    DenseInverseSearch, DisPreset, FlowEstimator, PyramidalLucasKanade, mean_epe,
};

/// Every built-in estimator held to half a pixel: the pyramidal Lucas-Kanade, dense inverse
/// search's medium (the default) and fine presets, and medium with variational refinement.
/// (`fast` stops at quarter resolution: its own test allows a pixel.)
fn estimators() -> Vec<Box<dyn FlowEstimator>> {
    vec![
        Box::new(PyramidalLucasKanade::default()),
        Box::new(DenseInverseSearch::preset(DisPreset::Medium)),
        Box::new(DenseInverseSearch::preset(DisPreset::Fine)),
        Box::new(DenseInverseSearch {
            refinement: 3,
            ..DenseInverseSearch::preset(DisPreset::Medium)
        }),
    ]
}
use wayfarer::gpu::{Compute, CpuCompute, FlowField};
use wayfarer::media::{Frame, load_image};

fn sintel(name: &str) -> Frame {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = if name == "sintel_0017.png" {
        root.join("tests/data").join(name)
    } else {
        root.join("examples/demo").join(name)
    };
    load_image(&path).unwrap()
}

/// A 320x176 crop-fit of a real frame, and a ground-truth field `truth(x, y)`: the second
/// frame is the first warped by it, so `estimate(a, b)` should return the field itself.
fn case(truth: impl Fn(f32, f32) -> [f32; 2]) -> (Frame, Frame, FlowField) {
    let cpu = CpuCompute;
    let b = cpu.crop_fit(&sintel("sintel_0016.png"), 320, 176).unwrap();
    // a(x) = b(x + F(x)): a is b warped backward by F.
    let field = FlowField {
        width: 320,
        height: 176,
        data: (0..320 * 176)
            .map(|i| truth((i % 320) as f32, (i / 320) as f32))
            .collect(),
    };
    let a = cpu.warp(&b, &field, 1.0).unwrap();
    (a, b, field)
}

#[test]
fn translations_are_recovered_within_half_a_pixel() {
    for est in estimators() {
        let name = est.identity();
        for (dx, dy) in [(2.3f32, -1.7f32), (-5.5, 3.25), (0.4, 0.6), (9.0, -4.0)] {
            let (a, b, truth) = case(|_, _| [dx, dy]);
            let flow = est.estimate(&a, &b).unwrap();
            let epe = mean_epe(&flow, &truth, 16);
            eprintln!("{name}: translation ({dx}, {dy}): EPE {epe:.3}");
            assert!(
                epe <= 0.5,
                "{name}: translation ({dx}, {dy}): EPE {epe:.3} px"
            );
        }
    }
}

#[test]
fn the_fast_preset_is_within_a_pixel() {
    let est = DenseInverseSearch::preset(DisPreset::Fast);
    for (dx, dy) in [(2.3f32, -1.7f32), (-5.5, 3.25), (9.0, -4.0)] {
        let (a, b, truth) = case(|_, _| [dx, dy]);
        let epe = mean_epe(&est.estimate(&a, &b).unwrap(), &truth, 16);
        assert!(
            epe <= 1.0,
            "fast: translation ({dx}, {dy}): EPE {epe:.3} px"
        );
    }
}

#[test]
fn small_rotations_are_recovered_within_half_a_pixel() {
    for est in estimators() {
        let name = est.identity();
        for degrees in [1.0f32, -2.0, 3.0] {
            let (s, c) = degrees.to_radians().sin_cos();
            let (cx, cy) = (160.0, 88.0);
            let (a, b, truth) = case(|x, y| {
                let (px, py) = (x - cx, y - cy);
                [c * px - s * py - px, s * px + c * py - py]
            });
            let flow = est.estimate(&a, &b).unwrap();
            let epe = mean_epe(&flow, &truth, 16);
            eprintln!("{name}: rotation {degrees} deg: EPE {epe:.3}");
            assert!(epe <= 0.5, "{name}: rotation {degrees}: EPE {epe:.3} px");
        }
    }
}

fn photometric(a: &Frame, b: &Frame) -> f64 {
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.data.len() as f64
}

#[test]
fn warping_the_next_sintel_frame_back_halves_the_error() {
    let cpu = CpuCompute;
    let t0 = sintel("sintel_0016.png");
    let t1 = sintel("sintel_0017.png");
    for est in estimators() {
        let flow = est.estimate(&t0, &t1).unwrap();
        let warped = cpu.warp(&t1, &flow, 1.0).unwrap();
        let before = photometric(&t0, &t1);
        let after = photometric(&t0, &warped);
        eprintln!(
            "{}: photometric error: {before:.2} without warp, {after:.2} with ({:.0} % less)",
            est.identity(),
            100.0 * (1.0 - after / before)
        );
        assert!(after <= 0.5 * before, "{before:.2} -> {after:.2}");
    }
}

/// Spatial propagation (one parallel round in the presets) lets a patch start from its
/// neighbours' motion:
/// on the real frame pair four frames apart (larger motion), warping back by the flow
/// removes more error with it than without.
#[test]
fn propagation_removes_more_error_on_real_motion() {
    let cpu = CpuCompute;
    let t0 = cpu.crop_fit(&sintel("sintel_0016.png"), 640, 360).unwrap();
    let t1 = cpu.crop_fit(&sintel("sintel_0020.png"), 640, 360).unwrap();
    let removed = |rounds: u32| {
        let est = DenseInverseSearch {
            propagation: false,
            rounds,
            ..DenseInverseSearch::preset(DisPreset::Medium)
        };
        let flow = est.estimate(&t0, &t1).unwrap();
        let warped = cpu.warp(&t1, &flow, 1.0).unwrap();
        1.0 - photometric(&t0, &warped) / photometric(&t0, &t1)
    };
    let (with, without) = (removed(1), removed(0));
    eprintln!("error removed: {with:.3} with propagation, {without:.3} without");
    assert!(with > without, "{with:.3} vs {without:.3}");
}

/// The field does not depend on how many threads compute it (flow caches are keyed by the
/// estimator's settings, not by the machine).
#[test]
fn the_field_is_the_same_on_one_thread_and_on_many() {
    let cpu = CpuCompute;
    let t0 = cpu.crop_fit(&sintel("sintel_0016.png"), 320, 176).unwrap();
    let t1 = cpu.crop_fit(&sintel("sintel_0017.png"), 320, 176).unwrap();
    let est = DenseInverseSearch::preset(DisPreset::Medium);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| est.estimate(&t0, &t1).unwrap());
    let many = rayon::ThreadPoolBuilder::new()
        .num_threads(5)
        .build()
        .unwrap()
        .install(|| est.estimate(&t0, &t1).unwrap());
    assert!(one == many, "the fields differ");
}

#[test]
fn mismatched_frames_are_an_error() {
    let est = PyramidalLucasKanade::default();
    assert!(
        est.estimate(&Frame::gray(8, 8), &Frame::gray(4, 4))
            .is_err()
    );
}

/// The RAFT path through ONNX Runtime, with a tiny model of RAFT's signature whose output
/// is known: flow = (image2 - image1)[:, 0:2] * 0.5 in the manifest's value range.
#[test]
fn raft_onnx_runs_a_tiny_model_with_padding_and_value_range() {
    use wayfarer::flow::RaftOnnx;
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tiny_raft.toml");
    // 37x29 is not a multiple of 8: the frames are padded to 40x32 and the flow cropped back.
    let a = Frame {
        width: 37,
        height: 29,
        data: (0..37 * 29 * 3).map(|i| (i * 7 % 251) as u8).collect(),
    };
    let b = Frame {
        width: 37,
        height: 29,
        data: (0..37 * 29 * 3).map(|i| (i * 13 % 241) as u8).collect(),
    };
    // The CUDA request falls back to the CPU here (no GPU, or a CPU-only library), and says so.
    let raft = RaftOnnx::load(&manifest, true).unwrap();
    assert!(
        raft.provider() == "cuda" || raft.provider().starts_with("cpu (CUDA"),
        "{}",
        raft.provider()
    );
    let cpu = RaftOnnx::load(&manifest, false).unwrap();
    assert_eq!(cpu.provider(), "cpu");
    let flow = cpu.estimate(&a, &b).unwrap();
    assert_eq!((flow.width, flow.height), (37, 29));
    let scale = 2.0 / 255.0; // value range [-1, 1]
    for (x, y) in [(0u32, 0u32), (36, 28), (17, 11)] {
        let i = ((y * 37 + x) * 3) as usize;
        for c in 0..2 {
            let expected = (f32::from(b.data[i + c]) - f32::from(a.data[i + c])) * scale * 0.5;
            let got = flow.at(x, y)[c];
            assert!(
                (got - expected).abs() < 1e-5,
                "({x}, {y}) channel {c}: {got} vs {expected}"
            );
        }
    }
    assert!(raft.identity().starts_with("raft-onnx/tiny-raft-test"));
}

#[test]
fn raft_manifest_errors_are_clear() {
    use wayfarer::flow::RaftOnnx;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nfile = \"x.onnx\"\n").unwrap();
    let e = RaftOnnx::load(&bad, false).unwrap_err();
    assert!(e.message.contains("bad.toml"), "{}", e.message);
    let missing = dir.path().join("m.toml");
    std::fs::write(
        &missing,
        "name = \"m\"\nfile = \"nowhere.onnx\"\ninputs = [\"a\", \"b\"]\noutput = \"f\"\nvalue_range = [0.0, 255.0]\nsize_multiple = 8\n",
    )
    .unwrap();
    let e = RaftOnnx::load(&missing, false).unwrap_err();
    assert!(e.message.contains("not found"), "{}", e.message);
    assert_eq!(e.category, wayfarer::ErrorCategory::InputValidation);
    // Numbers that would abort on allocation or render garbage are refused.
    for (field, value) in [
        ("size_multiple = 8", "size_multiple = 65536"),
        ("value_range = [0.0, 255.0]", "value_range = [nan, 255.0]"),
        (
            "size_multiple = 8",
            "size_multiple = 8\nfixed_size = [0, 64]",
        ),
        (
            "size_multiple = 8",
            "size_multiple = 8\nfixed_sise = [64, 64]",
        ),
    ] {
        let text = std::fs::read_to_string(&missing)
            .unwrap()
            .replace(field, value);
        let path = dir.path().join("n.toml");
        std::fs::write(&path, text).unwrap();
        let e = RaftOnnx::load(&path, false).unwrap_err();
        assert_eq!(
            e.category,
            wayfarer::ErrorCategory::InputValidation,
            "{value}"
        );
        let name = value
            .rsplit('\n')
            .next()
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        assert!(e.message.contains(name), "{value}: {}", e.message);
        assert!(!e.suggestions.is_empty(), "{value}");
    }
}
