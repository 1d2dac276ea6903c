//! A fleet of ComfyUI servers where one is dead or stalled: pre-flight says so as a warning
//! and the render runs on the live ones; a stalled server costs the short pre-flight
//! timeout, not the generation request timeout (real HTTP on 127.0.0.1).
#![expect(
    clippy::disallowed_methods,
    reason = "the stalled server runs on a plain thread"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod comfy_server;
pub mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use comfy_server::ComfyTestServer;

/// A project over two demo images, 256x144, frames 0 and 40 (two calls when merging is
/// off), in `dir`.
fn project_in(dir: &Path) {
    for (from, to) in [("sintel_0016.png", "a.png"), ("sintel_0020.png", "b.png")] {
        std::fs::copy(common::demo_image(from), dir.join(to)).unwrap();
    }
    let json = common::project_json(&["a.png", "b.png"], &[0, 96], (256, 144), "chained");
    common::write_project(dir, &json);
}

/// `wayfarer render project.json -o out.mp4 --backend comfyui` with `servers` and `extra`.
fn render(dir: &Path, servers: &[&str], extra: &[&str]) -> (Option<i32>, String) {
    let mut cmd = common::cli(dir);
    cmd.args([
        "render",
        "project.json",
        "-o",
        "out.mp4",
        "--backend",
        "comfyui",
    ])
    .current_dir(dir)
    .env("XDG_CACHE_HOME", dir.join("cache"));
    for s in servers {
        cmd.args(["--server", s]);
    }
    let out = cmd.args(extra).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// An address on 127.0.0.1 where nothing listens.
fn dead_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// A server that accepts connections and never answers (a hung process).
fn stalled_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    url
}

#[test]
fn a_fleet_with_one_dead_server_renders_on_the_live_one() {
    let live = ComfyTestServer::start();
    let dir = tempfile::tempdir().unwrap();
    project_in(dir.path());
    let dead = dead_url();
    // Pre-flight: the dead server is a warning, not a failure.
    let (code, text) = render(dir.path(), &[&live.url, &dead], &["--check"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("warn server {dead}")), "{text}");
    assert!(text.contains("this server is left out"), "{text}");
    // The render: every call on the live server, the video written.
    let (code, text) = render(dir.path(), &[&dead, &live.url], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(dir.path().join("out.mp4").exists());
    assert!(live.prompts() >= 2, "{} prompts", live.prompts());
    // Alone, the dead server still fails pre-flight.
    let (code, text) = render(dir.path(), &[&dead], &["--check"]);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("cannot connect"), "{text}");
}

#[test]
fn a_stalled_server_costs_the_short_pre_flight_timeout() {
    let live = ComfyTestServer::start();
    let dir = tempfile::tempdir().unwrap();
    project_in(dir.path());
    let stalled = stalled_url();
    let long = ["--request-timeout", "600", "--preflight-timeout", "2"];
    let started = Instant::now();
    let (code, text) = render(dir.path(), &[&stalled], &[&long[..], &["--check"]].concat());
    let alone = started.elapsed();
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains(&stalled), "{text}");
    // Two requests of the 600-second generation timeout would take 20 minutes; the
    // pre-flight timeout is 2 seconds (the bound leaves room for a loaded machine).
    assert!(alone < Duration::from_mins(1), "took {alone:?}");
    // Beside a live server: a warning, and the render goes ahead on the live one.
    let (code, text) = render(dir.path(), &[&stalled, &live.url], &long);
    assert_eq!(code, Some(0), "{text}");
    assert!(dir.path().join("out.mp4").exists());
}
