//! The `wayfarer` binary on bad input: a one-line cause with a hint, exit code 2, nothing
//! written at the output path, the project file untouched.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

fn wayfarer(args: &[&str]) -> Output {
    wayfarer_env(args, &[])
}

/// Runs the binary with logs off, a test flow cache, and `env` on top.
fn wayfarer_env(args: &[&str], env: &[(&str, &OsStr)]) -> Output {
    // Per-user folders of its own for every run: nothing reused from another run or test.
    let home = tempfile::tempdir().unwrap();
    let mut cmd = common::cli(home.path());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

struct Case {
    dir: tempfile::TempDir,
    project: PathBuf,
    out: PathBuf,
}

/// A folder with two valid images and a project over them, as `json` says.
fn case(json: &str) -> Case {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::demo_image("sintel_0016.png"),
        dir.path().join("a.png"),
    )
    .unwrap();
    std::fs::copy(
        common::demo_image("sintel_0020.png"),
        dir.path().join("b.png"),
    )
    .unwrap();
    let project = common::write_project(dir.path(), json);
    let out = dir.path().join("out.mp4");
    Case { dir, project, out }
}

fn valid_json() -> String {
    common::project_json(&["a.png", "b.png"], &[0, 16], (64, 64), "chained")
}

/// Renders and checks the failure: exit 2, stderr names `expect`, output absent, project intact.
fn expect_bad_input(c: &Case, out: &Path, expect: &str) {
    let before = std::fs::read(&c.project).unwrap();
    let output = wayfarer(&[
        "render",
        c.project.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains(expect), "expected {expect:?} in: {stderr}");
    assert!(
        stderr.lines().next().unwrap().starts_with("error: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: ") || expect == "not valid JSON",
        "no hint: {stderr}"
    );
    assert!(!out.exists(), "output was written");
    assert!(
        common::partial_files(out.parent().unwrap()).is_empty(),
        "partial output left behind"
    );
    assert_eq!(
        std::fs::read(&c.project).unwrap(),
        before,
        "project file changed"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn valid_project_renders() {
    let c = case(&valid_json());
    let output = wayfarer(&[
        "render",
        c.project.to_str().unwrap(),
        "-o",
        c.out.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(wayfarer::media::decode_all(&c.out).unwrap().len(), 17);
}

#[test]
fn missing_image() {
    let c = case(&valid_json().replace("b.png", "nope.png"));
    expect_bad_input(&c, &c.out, "keyframe 2 image");
}

#[test]
fn zero_byte_image() {
    let c = case(&valid_json());
    std::fs::write(c.dir.path().join("b.png"), b"").unwrap();
    expect_bad_input(&c, &c.out, "empty (0 bytes)");
}

#[test]
fn corrupt_image() {
    let c = case(&valid_json());
    let mut bytes = std::fs::read(c.dir.path().join("b.png")).unwrap();
    bytes.truncate(200);
    std::fs::write(c.dir.path().join("b.png"), &bytes).unwrap();
    expect_bad_input(&c, &c.out, "cannot decode image");
    std::fs::write(c.dir.path().join("b.png"), b"this is not an image at all").unwrap();
    expect_bad_input(&c, &c.out, "cannot decode image");
}

#[test]
fn malformed_json() {
    let c = case("{\"version\": 1, \"fps\": ");
    expect_bad_input(&c, &c.out, "not valid JSON");
}

#[test]
fn unknown_version() {
    let c = case(&valid_json().replace("\"version\":1", "\"version\":99"));
    expect_bad_input(&c, &c.out, "version: project version 99 is not supported");
}

#[test]
fn first_keyframe_not_at_zero() {
    let c = case(&common::project_json(
        &["a.png", "b.png"],
        &[4, 16],
        (64, 64),
        "chained",
    ));
    expect_bad_input(&c, &c.out, "keyframes[0].frame");
}

#[test]
fn non_increasing_or_duplicate_positions() {
    let c = case(&common::project_json(
        &["a.png", "b.png", "a.png"],
        &[0, 16, 8],
        (64, 64),
        "chained",
    ));
    expect_bad_input(&c, &c.out, "keyframes[2].frame: position 8 comes before");
    let c = case(&common::project_json(
        &["a.png", "b.png", "a.png"],
        &[0, 16, 16],
        (64, 64),
        "chained",
    ));
    expect_bad_input(&c, &c.out, "keyframes[2].frame: position 16 duplicates");
}

#[test]
fn segment_count_mismatch() {
    let json = common::project_json(
        &["a.png", "b.png", "a.png"],
        &[0, 16, 32],
        (64, 64),
        "chained",
    )
    .replace(
        r#""segments":[{"prompt":"travel","negative_prompt":"","loras":[]}]"#,
        r#""segments":[{"prompt":"a"},{"prompt":"b"},{"prompt":"c"}]"#,
    );
    let c = case(&json);
    expect_bad_input(&c, &c.out, "segments: 3 entries for 2 spans");
}

#[test]
fn wrong_types_and_absurd_numbers_name_the_field() {
    let c = case(&valid_json().replace("\"fps\":16", "\"fps\":\"fast\""));
    expect_bad_input(&c, &c.out, "fps");
    let c = case(&valid_json().replace("\"width\":64", "\"width\":100000"));
    expect_bad_input(&c, &c.out, "width: 100000 must be from 16 to 8192");
    let c = case(&valid_json().replace("\"width\":64", "\"width\":70"));
    expect_bad_input(&c, &c.out, "width: 70 is not a multiple of 16");
    let c = case(&valid_json().replace("\"frame\":16", "\"frame\":4000000000"));
    expect_bad_input(&c, &c.out, "keyframes[1].frame");
}

#[test]
fn output_folder_not_writable() {
    let c = case(&valid_json());
    // A folder that does not exist.
    expect_bad_input(&c, &c.dir.path().join("missing/out.mp4"), "does not exist");
    // A "folder" that is a file.
    let file = c.dir.path().join("a.png");
    expect_bad_input(&c, &file.join("out.mp4"), "not a folder");
    // A folder nobody may create files in, root included.
    if Path::new("/proc/self").exists() {
        expect_bad_input(&c, Path::new("/proc/wayfarer-out.mp4"), "writing to folder");
    }
}

#[test]
fn output_over_project_or_image_is_refused() {
    let c = case(&valid_json());
    let before = std::fs::read(&c.project).unwrap();
    let output = wayfarer(&[
        "render",
        c.project.to_str().unwrap(),
        "-o",
        c.project.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("this is the project file"));
    assert_eq!(std::fs::read(&c.project).unwrap(), before);
    let image = c.dir.path().join("a.png");
    let before = std::fs::read(&image).unwrap();
    let output = wayfarer(&[
        "render",
        c.project.to_str().unwrap(),
        "-o",
        image.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(std::fs::read(&image).unwrap(), before);
}

#[test]
fn json_events_are_one_object_per_line() {
    let c = case(&valid_json());
    let output = wayfarer(&[
        "render",
        c.project.to_str().unwrap(),
        "-o",
        c.out.to_str().unwrap(),
        "--json-events",
    ]);
    assert!(output.status.success());
    let events: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["event"], "start");
    assert!(events.iter().any(|e| e["event"] == "progress"));
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["frames"], 17);

    let bad = case(&valid_json().replace("b.png", "nope.png"));
    let output = wayfarer(&[
        "render",
        bad.project.to_str().unwrap(),
        "-o",
        bad.out.to_str().unwrap(),
        "--json-events",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let last: serde_json::Value = serde_json::from_str(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["event"], "error");
    assert_eq!(last["category"], "input_validation");
}

#[test]
fn plan_prints_table_and_json() {
    let c = case(&common::project_json(
        &["a.png", "b.png"],
        &[0, 17],
        (64, 64),
        "chained",
    ));
    let output = wayfarer(&["plan", c.project.to_str().unwrap()]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("keyframe 1 moved 17 -> 16"), "{text}");
    let output = wayfarer(&["plan", c.project.to_str().unwrap(), "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["schema_version"], 1);
    assert_eq!(plan["total_frames"], 17);
    assert_eq!(plan["calls"][0]["classes"], "A...............A");
    assert_eq!(plan["calls"][0]["mask"].as_array().unwrap().len(), 17);
    assert_eq!(plan["calls"].as_array().unwrap().len(), 1);
}

#[test]
fn doctor_reports_libav_and_x264() {
    let output = wayfarer(&["doctor", "--json"]);
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["h264_encoders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "libx264")
    );
    assert!(report["libav"][0].as_str().unwrap().starts_with("avutil"));
    assert!(
        report["compute"].as_str().unwrap().starts_with("cpu")
            || report["compute"].as_str().unwrap().starts_with("wgpu")
    );
}

#[test]
fn no_adapter_falls_back_to_the_cpu_without_panicking() {
    let no_adapter = [
        ("VK_ICD_FILENAMES", OsStr::new("/nonexistent.json")),
        (
            "__EGL_VENDOR_LIBRARY_FILENAMES",
            OsStr::new("/nonexistent.json"),
        ),
    ];
    let output = wayfarer_env(&["doctor", "--json"], &no_adapter);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let compute = report["compute"].as_str().unwrap();
    assert!(compute.starts_with("cpu (wgpu: no adapter"), "{compute}");
    // Forcing wgpu without an adapter is reported, not a crash.
    let forced = [
        no_adapter[0],
        no_adapter[1],
        ("WAYFARER_COMPUTE", OsStr::new("wgpu")),
    ];
    let output = wayfarer_env(&["doctor", "--json"], &forced);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["compute"]
            .as_str()
            .unwrap()
            .starts_with("unavailable"),
        "{report}"
    );
}

#[test]
fn cache_list_and_clear() {
    let c = case(&valid_json());
    let cache_home = c.dir.path().join("cache-home");
    let run = |args: &[&str]| {
        wayfarer_env(
            args,
            &[
                ("XDG_CACHE_HOME", cache_home.as_os_str()),
                ("WAYFARER_COMPUTE", OsStr::new("cpu")),
            ],
        )
    };
    let out = run(&[
        "render",
        c.project.to_str().unwrap(),
        "-o",
        c.out.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(run(&["cache", "list"]).stdout).unwrap();
    assert!(listed.contains("flow field(s)"), "{listed}");
    assert!(
        !listed.contains(": 0 flow field(s)"),
        "the render cached its flows: {listed}"
    );
    let cleared = String::from_utf8(run(&["cache", "clear"]).stdout).unwrap();
    assert!(cleared.starts_with("removed "), "{cleared}");
    let listed = String::from_utf8(run(&["cache", "list"]).stdout).unwrap();
    assert!(listed.contains(": 0 flow field(s)"), "{listed}");
    let bad = run(&["cache", "explode"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_flow_model_manifest_selects_raft() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tiny_raft.toml");
    let output = wayfarer_env(
        &["doctor", "--json"],
        &[("WAYFARER_FLOW_MODEL", manifest.as_os_str())],
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["flow"]
            .as_str()
            .unwrap()
            .starts_with("raft-onnx/tiny-raft-test"),
        "{report}"
    );
    let output = wayfarer(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["flow"]
            .as_str()
            .unwrap()
            .contains("dense inverse search (medium)"),
        "{report}"
    );
    // A manifest that does not exist is bad input: exit 2, nothing written.
    let c = case(&valid_json());
    let missing = c.dir.path().join("missing.toml");
    let output = wayfarer_env(
        &[
            "render",
            c.project.to_str().unwrap(),
            "-o",
            c.out.to_str().unwrap(),
        ],
        &[("WAYFARER_FLOW_MODEL", missing.as_os_str())],
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!c.out.exists());
}

#[test]
fn check_runs_preflight_only() {
    let c = case(&valid_json());
    let output = wayfarer(&[
        "render",
        c.project.to_str().unwrap(),
        "-o",
        c.out.to_str().unwrap(),
        "--check",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("ok   plan: 1 call, 17 frames"), "{stdout}");
    assert!(stdout.contains("ok   keyframe 2 image"), "{stdout}");
    assert!(stdout.contains("ok   output:"), "{stdout}");
    assert!(!c.out.exists(), "--check renders nothing");
    // Every failing item is listed, and the exit code says bad input.
    std::fs::write(c.dir.path().join("b.png"), b"").unwrap();
    let output = wayfarer(&[
        "render",
        c.project.to_str().unwrap(),
        "-o",
        "/nonexistent/x.mp4",
        "--check",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout.contains("FAIL keyframe 2 image"), "{stdout}");
    assert!(
        stdout.contains("FAIL output: folder /nonexistent does not exist"),
        "{stdout}"
    );
    assert!(stdout.contains("hint: "), "{stdout}");
}

#[test]
fn regenerating_two_segments_gives_two_seeds() {
    let c = case(&common::project_json(
        &["a.png", "b.png", "a.png"],
        &[0, 16, 32],
        (64, 64),
        "chained",
    ));
    let output = wayfarer(&[
        "render",
        c.project.to_str().unwrap(),
        "-o",
        c.out.to_str().unwrap(),
        "--no-resume",
        "--regenerate",
        "1",
        "--regenerate",
        "2",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let seeds: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split("re-rolled with seed ").nth(1))
        .filter_map(|rest| rest.split(';').next())
        .collect();
    assert_eq!(seeds.len(), 2, "{stderr}");
    assert_ne!(seeds[0], seeds[1], "{stderr}");
    assert!(stderr.contains("segment 1 re-rolled"), "{stderr}");
    assert!(stderr.contains("segment 2 re-rolled"), "{stderr}");
    let output = wayfarer(&[
        "render",
        c.project.to_str().unwrap(),
        "-o",
        c.out.to_str().unwrap(),
        "--regenerate",
        "0",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("numbered 1 to 2"), "{stderr}");
}

#[test]
fn pre_flight_never_touches_a_file_it_did_not_make() {
    let c = case(&valid_json());
    // A render in progress elsewhere owns OUT.mp4.tmp.
    let theirs = c.dir.path().join("out.mp4.tmp");
    std::fs::write(&theirs, b"someone else's partial video").unwrap();
    let output = wayfarer(&[
        "render",
        c.project.to_str().unwrap(),
        "-o",
        c.out.to_str().unwrap(),
        "--check",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read(&theirs).unwrap(),
        b"someone else's partial video"
    );
    let left: Vec<_> = std::fs::read_dir(c.dir.path())
        .unwrap()
        .filter_map(std::result::Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".wayfarer-probe-"))
        .collect();
    assert!(left.is_empty(), "probe files left: {left:?}");
}
