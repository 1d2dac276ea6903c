//! The ONNX Runtime backend with the two tiny test models (scripts/make_tiny_generators.py):
//! the interpolator contract fills generated frames from the kept frames on either side,
//! the video contract maps the whole guide and mask; the CPU fallback is reported.
#![expect(
    clippy::items_after_statements,
    reason = "helpers are declared next to the step that uses them"
)]
#![expect(
    clippy::unreadable_literal,
    reason = "seeds and byte values copied as they appear elsewhere"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;

use std::path::{Path, PathBuf};

use wayfarer::generate::Backend;
use wayfarer::generate::onnx::OnnxBackend;
use wayfarer::guide::CallGuide;
use wayfarer::media::Frame;

fn manifest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
}

/// The first call of a two-keyframe project with solid anchors, its guide and output.
/// 44x28 is not a multiple of the models' 8: the backend pads and crops back.
fn run(backend: &OnnxBackend, a: u8, b: u8) -> (CallGuide, Vec<Frame>) {
    common::first_call(
        backend,
        [
            Frame::filled(44, 28, [a, a / 2, 10]),
            Frame::filled(44, 28, [b, b / 2, 250]),
        ],
    )
}

#[test]
fn interpolator_contract_fills_frames_between_kept_frames() {
    let backend = OnnxBackend::load(&manifest("tiny_interpolator.toml"), false).unwrap();
    assert_eq!(backend.provider(), "cpu");
    let (guide, out) = run(&backend, 0, 200);
    assert_eq!(out.len(), guide.frames.len());
    let n = out.len() - 1;
    for (i, f) in out.iter().enumerate() {
        assert_eq!(
            (f.width, f.height),
            (44, 28),
            "padding to 8 is cropped back"
        );
        let t = i as f32 / n as f32;
        let want = [200.0 * t, 100.0 * t, 10.0 + 240.0 * t];
        let got = f.pixel(43, 27);
        for c in 0..3 {
            assert!(
                (f32::from(got[c]) - want[c]).abs() <= 1.0,
                "frame {i} channel {c}: {} vs {}",
                got[c],
                want[c]
            );
        }
    }
}

#[test]
fn video_contract_keeps_kept_frames_and_fills_the_rest() {
    let backend = OnnxBackend::load(&manifest("tiny_video.toml"), false).unwrap();
    let (guide, out) = run(&backend, 30, 220);
    assert_eq!(out.len(), guide.frames.len());
    for (i, f) in out.iter().enumerate() {
        let m = guide.mask[i];
        let g = guide.frames[i].pixel(5, 5);
        let got = f.pixel(5, 5);
        for c in 0..3 {
            let want = f32::from(g[c]) * (1.0 - m) + 0.25 * 255.0 * m;
            assert!(
                (f32::from(got[c]) - want).abs() <= 1.0,
                "frame {i} (mask {m}) channel {c}: {} vs {want}",
                got[c]
            );
        }
    }
    assert_eq!(out[0].pixel(0, 0), [30, 15, 10], "the anchor is kept");
}

#[test]
fn asking_for_cuda_reports_the_provider_or_the_fallback() {
    let backend = OnnxBackend::load(&manifest("tiny_interpolator.toml"), true).unwrap();
    let provider = backend.provider().to_string();
    // On a CUDA build with a GPU this is "cuda"; anywhere else the fallback says why.
    assert!(
        provider == "cuda" || provider.starts_with("cpu (CUDA failed: "),
        "{provider}"
    );
    eprintln!("provider: {provider}");
    let shape = wayfarer::generate::modes::RequestShape {
        mode: wayfarer::generate::Mode::Travel,
        frames: 17,
        width: 40,
        height: 24,
        steps: 20,
        loras: false,
        lora_names: Vec::new(),
    };
    let items = backend.preflight(&shape);
    assert!(items[0].detail.contains(&provider), "{items:?}");
}

#[test]
fn bad_manifests_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.toml");
    std::fs::write(
        &path,
        "name = \"x\"\ncontract = \"video\"\nfile = \"x.onnx\"\ninputs = [\"a\"]\noutput = \"o\"\nvalue_range = [0.0, 1.0]\nsize_multiple = 8\n",
    )
    .unwrap();
    let e = OnnxBackend::load(&path, false).unwrap_err();
    assert_eq!(e.category, wayfarer::ErrorCategory::InputValidation);
    assert!(e.message.contains("2 inputs"), "{e}");
    std::fs::write(&path, "name = 3").unwrap();
    let e = OnnxBackend::load(&path, false).unwrap_err();
    assert_eq!(e.category, wayfarer::ErrorCategory::InputValidation);
}

#[test]
fn cli_renders_with_the_onnx_backend() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["sintel_0016.png", "sintel_0020.png"] {
        std::fs::copy(common::demo_image(name), dir.path().join(name)).unwrap();
    }
    common::write_project(
        dir.path(),
        &common::project_json(
            &["sintel_0016.png", "sintel_0020.png"],
            &[0, 24],
            (128, 80),
            "chained",
        ),
    );
    let out = common::cli(dir.path())
        .args([
            "render",
            "project.json",
            "-o",
            "out.mp4",
            "--backend",
            "onnx",
        ])
        .arg("--model")
        .arg(manifest("tiny_interpolator.toml"))
        .arg("--no-resume")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames = wayfarer::media::decode_all(&dir.path().join("out.mp4")).unwrap();
    assert_eq!(frames.len(), 25);
}

/// A copy of the tiny interpolator in `dir` with `edit` applied to its manifest.
fn edited_manifest(dir: &Path, edit: impl Fn(&str) -> String) -> PathBuf {
    std::fs::copy(
        manifest("tiny_interpolator.onnx"),
        dir.join("tiny_interpolator.onnx"),
    )
    .unwrap();
    let text = std::fs::read_to_string(manifest("tiny_interpolator.toml")).unwrap();
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = dir.join(format!("model{n}.toml"));
    std::fs::write(&path, edit(&text)).unwrap();
    path
}

#[test]
fn the_identity_follows_the_model_and_manifest_contents() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited_manifest(dir.path(), std::string::ToString::to_string);
    let first = OnnxBackend::load(&path, false).unwrap().identity();
    assert_eq!(first, OnnxBackend::load(&path, false).unwrap().identity());
    // Same name, contract and numbers; another manifest text: another identity.
    std::fs::write(
        &path,
        std::fs::read_to_string(&path).unwrap() + "# edited\n",
    )
    .unwrap();
    let edited = OnnxBackend::load(&path, false).unwrap().identity();
    assert_ne!(first, edited);
    // Another model file under the same name: another identity.
    std::fs::copy(
        manifest("tiny_video.onnx"),
        dir.path().join("tiny_interpolator.onnx"),
    )
    .unwrap();
    let replaced = OnnxBackend::load(&path, false).unwrap().identity();
    assert_ne!(edited, replaced);
}

#[test]
fn bad_manifests_and_models_are_bad_input_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["sintel_0016.png", "sintel_0020.png"] {
        std::fs::copy(common::demo_image(name), dir.path().join(name)).unwrap();
    }
    common::write_project(
        dir.path(),
        &common::project_json(
            &["sintel_0016.png", "sintel_0020.png"],
            &[0, 24],
            (128, 80),
            "chained",
        ),
    );
    let models = tempfile::tempdir().unwrap();
    let m = models.path();
    let replace = |from: &'static str, to: &'static str| {
        move |t: &str| {
            assert!(t.contains(from));
            t.replace(from, to)
        }
    };
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            edited_manifest(m, replace("size_multiple = 8", "size_multiple = 65536")),
            "size_multiple",
        ),
        (
            edited_manifest(
                m,
                replace("size_multiple = 8", "size_multiple = 4294967295"),
            ),
            "size_multiple",
        ),
        (
            edited_manifest(m, replace("size_multiple = 8", "size_multiple = 0")),
            "size_multiple",
        ),
        (
            edited_manifest(m, replace("[0.0, 1.0]", "[nan, 1.0]")),
            "value_range",
        ),
        (
            edited_manifest(m, replace("[0.0, 1.0]", "[1.0, 1.0]")),
            "value_range",
        ),
        (
            edited_manifest(m, replace("[0.0, 1.0]", "[0.0, inf]")),
            "value_range",
        ),
        (
            edited_manifest(
                m,
                replace("contract = \"interpolator\"", "contract = \"magic\""),
            ),
            "contract",
        ),
        (
            edited_manifest(m, replace("output = \"frame\"", "outptu = \"frame\"")),
            "outptu",
        ),
        (
            edited_manifest(m, replace("output = \"frame\"", "output = 3")),
            "output",
        ),
        (
            edited_manifest(
                m,
                replace("file = \"tiny_interpolator.onnx\"", "file = \"none.onnx\""),
            ),
            "not found",
        ),
        (
            edited_manifest(
                m,
                replace("file = \"tiny_interpolator.onnx\"", "file = \".\""),
            ),
            "folder",
        ),
        (m.join("missing.toml"), "not found"),
        (m.to_path_buf(), "folder"),
    ];
    let mut cases = cases;
    // Random bytes as the manifest, and random bytes as the model.
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(m.join("noise.toml"), &noise).unwrap();
    cases.push((m.join("noise.toml"), "model manifest"));
    let noisy = tempfile::tempdir().unwrap();
    let noisy_manifest = edited_manifest(noisy.path(), std::string::ToString::to_string);
    std::fs::write(noisy.path().join("tiny_interpolator.onnx"), &noise).unwrap();
    cases.push((noisy_manifest, "cannot load model"));
    for (i, (path, expect)) in cases.iter().enumerate() {
        let out = common::cli(dir.path())
            .args([
                "render",
                "project.json",
                "-o",
                "out.mp4",
                "--backend",
                "onnx",
            ])
            .arg("--model")
            .arg(path)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {}: {stderr}", i + 1);
        assert!(stderr.starts_with("error: "), "case {}: {stderr}", i + 1);
        assert!(
            stderr.contains(expect),
            "case {}: {expect:?} in {stderr}",
            i + 1
        );
        assert!(stderr.contains("hint: "), "case {}: {stderr}", i + 1);
        assert!(!stderr.contains("panicked"), "case {}: {stderr}", i + 1);
        assert!(!dir.path().join("out.mp4").exists());
    }
}
