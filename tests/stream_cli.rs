//! `wayfarer stream` end to end: the builtin source and flow morph, and img2img keyframes
//! on the ComfyUI test server; the MP4 is decoded and checked.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod comfy_server;
pub mod common;

use std::path::Path;

use wayfarer::media::{self, Frame, crop_fit, psnr};

fn setup(dir: &Path) {
    for name in ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"] {
        std::fs::copy(common::demo_image(name), dir.join(name)).unwrap();
    }
    common::write_project(
        dir,
        &common::project_json(
            &["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"],
            &[0, 12, 24],
            (256, 144),
            "chained",
        ),
    );
}

fn stream(dir: &Path, args: &[&str]) -> std::process::Output {
    common::cli(dir)
        .args(["stream", "project.json", "-o", "out.mp4"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn anchor(dir: &Path, name: &str) -> Frame {
    crop_fit(&media::load_image(&dir.join(name)).unwrap(), 256, 144).unwrap()
}

#[test]
fn streams_the_project_with_the_builtin_source() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let out = stream(dir.path(), &["--latency-ms", "50", "--json-events"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l.contains("\"event\":\"done\"")));
    let frames = media::decode_all(&dir.path().join("out.mp4")).unwrap();
    assert_eq!(frames.len(), 25);
    for (i, name) in [
        (0, "sintel_0016.png"),
        (12, "sintel_0020.png"),
        (24, "sintel_0025.png"),
    ] {
        let db = psnr(&frames[i], &anchor(dir.path(), name));
        assert!(db >= 35.0, "keyframe at {i}: {db:.1} dB");
    }
    // Bad input: a missing image, exit 2, nothing written.
    std::fs::remove_file(dir.path().join("out.mp4")).unwrap();
    std::fs::remove_file(dir.path().join("sintel_0020.png")).unwrap();
    let out = stream(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("keyframes[1].image"));
    assert!(!dir.path().join("out.mp4").exists());
}

#[test]
fn streams_img2img_keyframes_from_comfyui() {
    let server = comfy_server::ComfyTestServer::start();
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let out = stream(
        dir.path(),
        &[
            "--source",
            "comfyui",
            "--server",
            &server.url,
            "--denoise",
            "0.6",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.prompts(), 3, "one img2img prompt per keyframe");
    let frames = media::decode_all(&dir.path().join("out.mp4")).unwrap();
    assert_eq!(frames.len(), 25);
    // Keyframes are the server's output: the picture moved 0.3 of the way to its tint.
    let a = anchor(dir.path(), "sintel_0020.png");
    let tinted = Frame::lerp(&a, &Frame::filled(256, 144, comfy_server::TINT), 0.3);
    let db = psnr(&frames[12], &tinted);
    assert!(db >= 33.0, "{db:.1} dB");
    assert!(psnr(&frames[12], &a) < db, "not the untouched picture");
}
