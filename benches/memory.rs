//! Peak memory (resident set) of `wayfarer render` on two large inputs, each in a process of
//! its own (the peak comes from the kernel's accounting of that child, `wait4`):
//! - 1,000 keyframes at 832x480 (independent calls of 5 frames, the builtin backend);
//! - a structure video of 2,000 frames at 1920x1080 guiding an 81-frame render at 832x480.
//!
//! Run: `cargo bench --bench memory` (`WAYFARER_BENCH_KEYFRAMES` and
//! `WAYFARER_BENCH_STRUCTURE_FRAMES` make it smaller for a quick look). Figures go to
//! BENCHMARKS.md.
#![expect(
    clippy::expect_used,
    reason = "test code: a failed expect is a failed test"
)]

use std::path::Path;
use std::time::Instant;

use wayfarer::media::{EncodeOptions, Frame, VideoEncoder};

fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A textured picture, `w` x `h`, varied by `seed`.
fn picture(w: u32, h: u32, seed: u32) -> Frame {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let v = ((x * 7 + y * 3 + seed * 37) % 251) as u8;
            data.extend_from_slice(&[v, v.wrapping_mul(3), 255 - v]);
        }
    }
    Frame {
        width: w,
        height: h,
        data,
    }
}

/// Runs the CLI in `dir` and returns (peak resident MiB, seconds). The child is reaped by
/// `wait4` (which also gives its peak), not by `Child::wait`.
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which also gives its peak memory"
)]
fn peak_of(dir: &Path, args: &[&str]) -> (f64, f64) {
    let started = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_wayfarer"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "off")
        .env("WAYFARER_COMPUTE", "cpu")
        .env("XDG_CACHE_HOME", dir.join(".cache"))
        .env("XDG_DATA_HOME", dir.join(".data"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start wayfarer");
    let mut status = 0;
    // SAFETY: plain wait4 on our own child; rusage is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
    assert_eq!(waited, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "wayfarer {args:?} failed (status {status})"
    );
    // ru_maxrss is in KiB on Linux.
    (
        usage.ru_maxrss as f64 / 1024.0,
        started.elapsed().as_secs_f64(),
    )
}

fn main() {
    let keyframes = env_or("WAYFARER_BENCH_KEYFRAMES", 1000);
    let structure_frames = env_or("WAYFARER_BENCH_STRUCTURE_FRAMES", 2000);
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();

    // 1. Many keyframes: 20 distinct pictures, used in turn.
    for i in 0..20 {
        let f = picture(1024, 576, i);
        image::RgbImage::from_raw(f.width, f.height, f.data)
            .expect("picture")
            .save(d.join(format!("k{i}.png")))
            .expect("save");
    }
    let list: Vec<String> = (0..keyframes)
        .map(|k| format!(r#"{{"image":"k{}.png","frame":{}}}"#, k % 20, k * 4))
        .collect();
    let project = format!(
        r#"{{"version":1,"fps":16,"width":832,"height":480,"model":"wan2.1-vace-14b",
        "mode":"independent","overlap":0,"keyframes":[{}],"segments":[{{"prompt":"x"}}],
        "merge":{{"policy":"off"}}}}"#,
        list.join(",")
    );
    std::fs::write(d.join("many.json"), project).expect("project");
    let (mib, secs) = peak_of(
        d,
        &[
            "render",
            "many.json",
            "-o",
            "many.mp4",
            "--no-resume",
            "--preset",
            "ultrafast",
        ],
    );
    println!("{keyframes} keyframes at 832x480: peak {mib:.0} MiB resident ({secs:.0} s)");

    // 2. A long 1080p structure video guiding one call.
    let clip = d.join("structure.mp4");
    let mut enc = VideoEncoder::create(
        &clip,
        1920,
        1080,
        24,
        &EncodeOptions {
            preset: "ultrafast".into(),
            ..EncodeOptions::default()
        },
    )
    .expect("encoder");
    for i in 0..structure_frames {
        // The pattern slides a little every frame.
        enc.push(&picture(1920, 1080, i % 97)).expect("frame");
    }
    enc.finish().expect("finish");
    let project = r#"{"version":1,"fps":16,"width":832,"height":480,"model":"wan2.1-vace-14b",
        "keyframes":[{"image":"k0.png","frame":0},{"image":"k1.png","frame":80}],
        "segments":[{"prompt":"x"}],"merge":{"policy":"off"},
        "structure_video":{"path":"structure.mp4","start_frame":0,"treatment":"adjust","motion_strength":1.0}}"#;
    std::fs::write(d.join("structure.json"), project).expect("project");
    let (mib, secs) = peak_of(
        d,
        &[
            "render",
            "structure.json",
            "-o",
            "structure_out.mp4",
            "--no-resume",
        ],
    );
    println!(
        "structure video of {structure_frames} frames at 1920x1080: peak {mib:.0} MiB resident ({secs:.0} s)"
    );
}
