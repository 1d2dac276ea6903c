//! CUDA against the CPU for the ONNX models Wayfarer runs: the ONNX backend's two tiny
//! contract models and the tiny RAFT flow model give the same numbers on both providers.
//!
//! Ignored in the plain test run (CI shows them as ignored): `scripts/gpu-check.sh` runs
//! them with `--ignored` on a GPU machine, with `WAYFARER_GPU_CHECK=1`, where an unusable
//! CUDA is a failure. Run by hand elsewhere, they say why CUDA is not usable and pass.

pub mod common;

use std::path::{Path, PathBuf};

use wayfarer::flow::{FlowEstimator, RaftOnnx};
use wayfarer::generate::onnx::OnnxBackend;
use wayfarer::media::Frame;

fn manifest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
}

/// Whether CUDA is usable; panics when it is not but the GPU check demands it.
fn cuda_or_skip(test: &str) -> bool {
    let status = wayfarer::onnx::cuda_status();
    if status.usable {
        return true;
    }
    assert!(
        std::env::var("WAYFARER_GPU_CHECK").as_deref() != Ok("1"),
        "CUDA is not usable on this GPU machine: {}",
        status.detail
    );
    common::skip(test, &format!("CUDA is not usable here: {}", status.detail));
    false
}

fn generate(backend: &OnnxBackend) -> Vec<Frame> {
    common::first_call(
        backend,
        [
            Frame::filled(48, 32, [30, 60, 10]),
            Frame::filled(48, 32, [220, 110, 250]),
        ],
    )
    .1
}

#[test]
#[ignore = "needs CUDA: scripts/gpu-check.sh runs it on a GPU machine"]
fn onnx_backend_models_agree_on_cuda_and_cpu() {
    if !cuda_or_skip("onnx_backend_models_agree_on_cuda_and_cpu") {
        return;
    }
    for name in ["tiny_interpolator.toml", "tiny_video.toml"] {
        let gpu = OnnxBackend::load(&manifest(name), true).unwrap();
        assert_eq!(gpu.provider(), "cuda", "{name}");
        let cpu = OnnxBackend::load(&manifest(name), false).unwrap();
        let (a, b) = (generate(&gpu), generate(&cpu));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            let worst = x
                .data
                .iter()
                .zip(&y.data)
                .map(|(p, q)| p.abs_diff(*q))
                .max()
                .unwrap_or(0);
            assert!(worst <= 1, "{name}: {worst} levels apart");
        }
        eprintln!("{name}: CUDA and CPU agree within one level");
    }
}

#[test]
#[ignore = "needs CUDA: scripts/gpu-check.sh runs it on a GPU machine"]
fn raft_flow_agrees_on_cuda_and_cpu() {
    if !cuda_or_skip("raft_flow_agrees_on_cuda_and_cpu") {
        return;
    }
    let gpu = RaftOnnx::load(&manifest("tiny_raft.toml"), true).unwrap();
    assert_eq!(gpu.provider(), "cuda");
    let cpu = RaftOnnx::load(&manifest("tiny_raft.toml"), false).unwrap();
    let a = Frame::from_rgb_image(common::disk_image(64, 48, 10.0));
    let b = Frame::from_rgb_image(common::disk_image(64, 48, 12.0));
    let (fg, fc) = (gpu.estimate(&a, &b).unwrap(), cpu.estimate(&a, &b).unwrap());
    let worst = fg
        .data
        .iter()
        .zip(&fc.data)
        .map(|(p, q)| (p[0] - q[0]).abs().max((p[1] - q[1]).abs()))
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-2, "flow differs by {worst} px");
    eprintln!("tiny RAFT: CUDA and CPU flows agree within {worst:.2e} px");
}
