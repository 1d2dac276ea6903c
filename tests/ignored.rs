//! What a project file says that Wayfarer does not use is said back, not taken silently:
//! unknown (typo'd) fields are warnings naming the closest known field (`--strict`: exit 2),
//! a key given twice is an error naming the key and its line; keyframe files are judged by
//! their content (GIF and AVIF read through libav, text and SVG refused); a cache that
//! does not work is said once per render.
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

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// GIF and AVIF keyframes are read through libav (their first frame): the picture is the
/// Sintel frame they were made from, not an error.
#[test]
fn gif_and_avif_keyframes_are_read() {
    use wayfarer::gpu::{Compute, CpuCompute};
    let png = wayfarer::media::load_image(&common::demo_image("sintel_0016.png")).unwrap();
    let reference = CpuCompute.crop_fit(&png, 64, 27).unwrap();
    for name in ["tiny.gif", "tiny.avif"] {
        wayfarer::media::check_image(&data(name)).unwrap();
        let f = wayfarer::media::load_image(&data(name)).unwrap();
        assert_eq!((f.width, f.height), (64, 27), "{name}");
        let diff = f
            .data
            .iter()
            .zip(&reference.data)
            .map(|(a, b)| f64::from(a.abs_diff(*b)))
            .sum::<f64>()
            / f.data.len() as f64;
        // Lossy and palette encodings and a different scaler: close, not equal (a black or
        // garbled frame differs by far more).
        assert!(
            diff < 20.0,
            "{name}: mean difference {diff:.1} from the PNG"
        );
    }
}

/// A text file and an SVG named as keyframes are refused by their content (libav would
/// guess a reader from the name), with the formats Wayfarer reads; the CLI exits 2.
#[test]
fn text_and_svg_keyframes_are_refused_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("notes.txt");
    std::fs::write(&txt, "a keyframe? no, a note\n").unwrap();
    let svg = dir.path().join("pic.svg");
    std::fs::write(
        &svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>"#,
    )
    .unwrap();
    for path in [&txt, &svg] {
        for e in [
            wayfarer::media::load_image(path).unwrap_err(),
            wayfarer::media::check_image(path).unwrap_err(),
        ] {
            assert!(
                e.message.contains("not a picture or video Wayfarer reads"),
                "{}",
                e.message
            );
            let hint = e.suggestions.join(" ");
            assert!(
                hint.contains("PNG, JPEG, WebP, TIFF, BMP, GIF or AVIF"),
                "{hint}"
            );
        }
    }
    let home = tempfile::tempdir().unwrap();
    let (pdir, p) = project(|j| j.replacen("b.png", "notes.txt", 1));
    std::fs::copy(&txt, pdir.path().join("notes.txt")).unwrap();
    let mp4 = pdir.path().join("out.mp4");
    let out = run(
        home.path(),
        &["render", p.to_str().unwrap(), "-o", mp4.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a picture or video"), "{stderr}");
    assert!(!mp4.exists());
}

/// A cache folder that cannot be used (here a file stands where the folder of finished
/// calls should be): the render is still right, and says once that resume is off, where,
/// and what to do — on standard error and as a `warning` event.
#[test]
fn a_cache_that_does_not_work_is_said_once() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    std::fs::create_dir_all(cache.join("wayfarer")).unwrap();
    std::fs::write(cache.join("wayfarer/calls"), "in the way").unwrap();
    let (dir, p) = project(|j| j);
    let mp4 = dir.path().join("out.mp4");
    let args = ["render", p.to_str().unwrap(), "-o", mp4.to_str().unwrap()];
    let render = |extra: &[&str]| {
        common::cli(home.path())
            .args(args)
            .args(extra)
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .unwrap()
    };
    let out = render(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(mp4.exists());
    assert_eq!(stderr.matches("warning: the cache").count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the cache of finished calls ({}) cannot be written: there is a file where the folder should be",
            cache.join("wayfarer/calls").display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("an interrupted render will start over"),
        "{stderr}"
    );
    let out = render(&["--json-events"]);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let warnings: Vec<_> = events.iter().filter(|e| e["event"] == "warning").collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot be written")
    );
    // The flow cache of the built-in generator, the calls' folder fine: said as well.
    std::fs::remove_file(cache.join("wayfarer/calls")).unwrap();
    let _ = std::fs::remove_dir_all(cache.join("wayfarer/flows"));
    std::fs::write(cache.join("wayfarer/flows"), "in the way").unwrap();
    std::fs::remove_file(&mp4).unwrap();
    let out = render(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("warning: the cache").count(), 1, "{stderr}");
    assert!(stderr.contains("the cache of flow fields"), "{stderr}");
    assert!(
        stderr.contains("motion is estimated again every time"),
        "{stderr}"
    );
}
