//! What a project file says that Wayfarer does not use is said back, not taken silently:
//! unknown (typo'd) fields are warnings naming the closest known field (`--strict`: exit 2),
//! a key given twice is an error naming the key and its line.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

/// A folder with two images and a project whose JSON is the valid one edited by `edit`.
fn project(edit: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in [("sintel_0016.png", "a.png"), ("sintel_0020.png", "b.png")] {
        std::fs::copy(common::demo_image(from), dir.path().join(to)).unwrap();
    }
    let json = common::project_json(&["a.png", "b.png"], &[0, 16], (64, 64), "chained");
    let path = common::write_project(dir.path(), &edit(json));
    (dir, path)
}

fn run(home: &Path, args: &[&str]) -> Output {
    common::cli(home).args(args).output().unwrap()
}

/// `"overlapp": 4` and a misspelt keyframe field: the plan still runs (with the default
/// overlap), and says which fields it ignored and what they were probably meant to be.
#[test]
fn typo_fields_are_warned_with_the_closest_name() {
    let home = tempfile::tempdir().unwrap();
    let (_dir, p) = project(|j| {
        j.replacen("{\"version\"", "{\"overlapp\":4,\"version\"", 1)
            .replacen("\"frame\":16", "\"frame\":16,\"imag\":\"c.png\"", 1)
    });
    let out = run(home.path(), &["plan", p.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "warning: unknown field `overlapp` in the project — did you mean `overlap`? It is ignored."
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown field `imag` in keyframe 2 — did you mean `image`?"),
        "{stderr}"
    );
    // `plan --json` keeps standard output pure JSON; the warnings stay on standard error.
    let out = run(home.path(), &["plan", p.to_str().unwrap(), "--json"]);
    assert!(serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`overlapp`"));
}

/// `--strict` turns the warnings into a refusal: exit 2, nothing rendered, the project
/// untouched.
#[test]
fn strict_refuses_unknown_fields() {
    let home = tempfile::tempdir().unwrap();
    let (dir, p) = project(|j| j.replacen("{\"version\"", "{\"overlapp\":4,\"version\"", 1));
    let before = std::fs::read(&p).unwrap();
    let mp4 = dir.path().join("out.mp4");
    let args = ["render", p.to_str().unwrap(), "-o", mp4.to_str().unwrap()];
    let out = run(home.path(), &[&args[..], &["--strict"]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("(--strict)"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
    assert!(!mp4.exists());
    assert_eq!(std::fs::read(&p).unwrap(), before);
    // Without --strict the render goes ahead, and its JSON events carry the warning first.
    let out = run(home.path(), &[&args[..], &["--json-events"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "warning");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `overlap`?")
    );
    assert!(mp4.exists());
}

/// A key given twice: an error naming the key and its line (JSON readers would keep the
/// last value without a word).
#[test]
fn duplicate_keys_are_an_error_with_their_line() {
    let home = tempfile::tempdir().unwrap();
    let (_dir, p) = project(|j| j.replacen("\"fps\":16,", "\"fps\":16,\n\"fps\":24,", 1));
    let out = run(home.path(), &["plan", p.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the key `fps` is given twice (line 2,"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
}
