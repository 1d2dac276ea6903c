//! Fault injection: `wayfarer render` and `wayfarer stream` killed (SIGKILL, SIGTERM) at
//! random moments. Every time the output path holds nothing or the complete previous video,
//! the project file is byte-identical, and the next run completes, leaves no partial file and
//! writes a video equal in frame count and anchors to an undisturbed render.
#![expect(
    clippy::unreadable_literal,
    reason = "seeds and byte values copied as they appear elsewhere"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use wayfarer::media::{self, Frame, psnr};

const IMAGES: [&str; 3] = ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"];

/// A project of three calls (256x144, four keyframes) in `dir`.
fn setup(dir: &Path) {
    for name in IMAGES {
        std::fs::copy(common::demo_image(name), dir.join(name)).unwrap();
    }
    common::write_project(
        dir,
        &common::project_json(
            &[IMAGES[0], IMAGES[1], IMAGES[2], IMAGES[0]],
            &[0, 40, 80, 120],
            (256, 144),
            "chained",
        ),
    );
}

/// A small deterministic generator of kill moments (the seed is printed for a rerun).
struct Lcg(u64);

impl Lcg {
    fn next_unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn seed() -> u64 {
    let seed = std::env::var("WAYFARER_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("fault seed {seed} (WAYFARER_FAULT_SEED={seed} repeats it)");
    seed
}

fn command(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = common::cli(dir);
    cmd.args(args)
        .current_dir(dir)
        .env("WAYFARER_COMPUTE", "cpu")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// The frame count and the anchor frames (first, middle keyframes, last) of a video.
fn shape(path: &Path) -> (usize, Vec<Frame>) {
    let frames = media::decode_all(path).unwrap();
    let picks = [0, frames.len() / 3, frames.len() - 1];
    (
        frames.len(),
        picks.iter().map(|&i| frames[i].clone()).collect(),
    )
}

/// Runs `args` to completion and returns how long it took.
fn run_ok(dir: &Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = command(dir, args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

/// Kills `args` `rounds` times with `signal` at random moments, checking the contract each time.
fn kill_at_random_moments(args: &[&str], signal: i32, rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let project_before = std::fs::read(dir.path().join("project.json")).unwrap();
    // An undisturbed run in a folder of its own: the reference.
    let reference_dir = tempfile::tempdir().unwrap();
    setup(reference_dir.path());
    let took = run_ok(reference_dir.path(), args);
    let (ref_count, ref_anchors) = shape(&reference_dir.path().join("out.mp4"));
    let previous = std::fs::read(reference_dir.path().join("out.mp4")).unwrap();
    let out = dir.path().join("out.mp4");
    let mut rng = Lcg(seed());
    for round in 0..rounds {
        // Half of the rounds start with a complete previous video at the output.
        let had_previous = round % 2 == 1;
        if had_previous {
            std::fs::write(&out, &previous).unwrap();
        } else if out.exists() {
            std::fs::remove_file(&out).unwrap();
        }
        let delay = took.mul_f64(rng.next_unit() * 1.1);
        let mut child = command(dir.path(), args).spawn().unwrap();
        std::thread::sleep(delay);
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        let what = format!(
            "round {} ({args:?}, signal {signal} after {delay:?})",
            round + 1
        );
        if out.exists() {
            let bytes = std::fs::read(&out).unwrap();
            if bytes != previous {
                // The run finished before the signal: a complete new video.
                assert!(status.success(), "{what}: output changed by a failed run");
                assert_eq!(shape(&out).0, ref_count, "{what}");
            }
        } else {
            assert!(!had_previous, "{what}: the previous video was removed");
        }
        if signal != libc::SIGKILL {
            // A run terminated or hung up on cleans up after itself at once.
            assert!(
                common::partial_files(dir.path()).is_empty(),
                "{what}: the signal left a partial file"
            );
        }
        assert_eq!(
            std::fs::read(dir.path().join("project.json")).unwrap(),
            project_before,
            "{what}: project changed"
        );
        // The next run completes, sweeps what the killed one left, and matches the reference.
        run_ok(dir.path(), args);
        assert!(
            common::partial_files(dir.path()).is_empty(),
            "{what}: partial files left after the next run: {:?}",
            common::partial_files(dir.path())
        );
        let (count, anchors) = shape(&out);
        assert_eq!(count, ref_count, "{what}");
        for (i, (a, b)) in anchors.iter().zip(&ref_anchors).enumerate() {
            let db = psnr(a, b);
            assert!(db >= 40.0, "{what}: anchor {i} differs ({db:.1} dB)");
        }
        for name in IMAGES {
            assert_eq!(
                std::fs::read(dir.path().join(name)).unwrap(),
                std::fs::read(common::demo_image(name)).unwrap(),
                "{what}: {name} changed"
            );
        }
    }
}

#[test]
fn render_killed_at_random_moments_loses_nothing() {
    kill_at_random_moments(
        &["render", "project.json", "-o", "out.mp4"],
        libc::SIGKILL,
        20,
    );
}

#[test]
fn stream_killed_at_random_moments_loses_nothing() {
    kill_at_random_moments(
        &["stream", "project.json", "-o", "out.mp4"],
        libc::SIGKILL,
        20,
    );
}

#[test]
fn render_terminated_cleans_up_at_once() {
    kill_at_random_moments(
        &["render", "project.json", "-o", "out.mp4", "--no-resume"],
        libc::SIGTERM,
        6,
    );
}

#[test]
fn stream_hung_up_cleans_up_at_once() {
    kill_at_random_moments(
        &["stream", "project.json", "-o", "out.mp4"],
        libc::SIGHUP,
        6,
    );
}
