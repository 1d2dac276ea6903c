//! `wayfarer flow A B -o F.flo`: a known shift comes back in the file, read with the
//! Middlebury layout by a reader written here (not Wayfarer's); bad outputs are refused
//! without touching anything.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;

use std::path::Path;

/// A smooth texture, shifted by `(dx, dy)` pixels: the value at `(x, y)` is the unshifted
/// texture's at `(x - dx, y - dy)`.
fn texture(w: u32, h: u32, dx: f32, dy: f32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let (x, y) = (x as f32 - dx, y as f32 - dy);
        let v = 128.0
            + 50.0 * (x * 0.11).sin() * (y * 0.07).cos()
            + 35.0 * (x * 0.045 + y * 0.09).sin()
            + 25.0 * (y * 0.16 - x * 0.03).cos();
        let v = v.clamp(0.0, 255.0) as u8;
        image::Rgb([v, v / 2 + 60, 255 - v])
    })
}

/// Reads a `.flo` file the way the Middlebury format describes it: the float 202021.25,
/// width and height (i32), then u, v (f32) per pixel, row-major, little-endian.
fn read_flo(path: &Path) -> (usize, usize, Vec<[f32; 2]>) {
    let bytes = std::fs::read(path).unwrap();
    let f = |i: usize| f32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    let n = |i: usize| i32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!(f(0), 202_021.25, "the .flo tag");
    let (w, h) = (
        usize::try_from(n(4)).unwrap(),
        usize::try_from(n(8)).unwrap(),
    );
    assert_eq!(bytes.len(), 12 + w * h * 8);
    let data = (0..w * h).map(|i| [f(12 + i * 8), f(16 + i * 8)]).collect();
    (w, h, data)
}

#[test]
fn a_known_shift_comes_back_in_the_flo_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, out) = (
        dir.path().join("a.png"),
        dir.path().join("b.png"),
        dir.path().join("f.flo"),
    );
    texture(192, 128, 0.0, 0.0).save(&a).unwrap();
    texture(192, 128, 3.0, -2.0).save(&b).unwrap();
    let output = common::cli(dir.path())
        .args(["flow", a.to_str().unwrap(), b.to_str().unwrap(), "-o"])
        .arg(&out)
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("flow: 192x128 by "), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let event: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(event["width"], 192);
    assert!(event["secs"].as_f64().unwrap() > 0.0);
    let (w, h, data) = read_flo(&out);
    assert_eq!((w, h), (192, 128));
    // Away from the border, where the shifted texture enters the picture.
    let (mut su, mut sv, mut n) = (0.0, 0.0, 0.0);
    for y in 16..h - 16 {
        for x in 16..w - 16 {
            let [u, v] = data[y * w + x];
            su += f64::from(u);
            sv += f64::from(v);
            n += 1.0;
        }
    }
    let (u, v) = (su / n, sv / n);
    assert!(
        (u - 3.0).abs() < 0.5 && (v + 2.0).abs() < 0.5,
        "mean flow ({u:.3}, {v:.3}), expected (3, -2)"
    );
}

#[test]
fn pictures_of_different_sizes_are_resized_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, out) = (
        dir.path().join("a.png"),
        dir.path().join("b.png"),
        dir.path().join("f.flo"),
    );
    texture(96, 64, 0.0, 0.0).save(&a).unwrap();
    texture(192, 128, 0.0, 0.0).save(&b).unwrap();
    let output = common::cli(dir.path())
        .args(["flow", a.to_str().unwrap(), b.to_str().unwrap(), "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("B is resized to A's size"), "{stderr}");
    assert_eq!(read_flo(&out).0, 96);
}

#[test]
fn bad_outputs_and_inputs_are_refused_and_nothing_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    texture(64, 48, 0.0, 0.0).save(&a).unwrap();
    texture(64, 48, 1.0, 0.0).save(&b).unwrap();
    let a_bytes = std::fs::read(&a).unwrap();
    let run = |args: &[&str]| {
        let output = common::cli(dir.path()).args(args).output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    // A typo'd output naming an input (even with a .flo-less name) never overwrites it.
    let (code, stderr) = run(&["flow", a_s, b_s, "-o", a_s]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
    let link = dir.path().join("a.flo");
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let (code, stderr) = run(&["flow", a_s, b_s, "-o", link.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("this is picture A"), "{stderr}");
    assert_eq!(
        std::fs::read(&a).unwrap(),
        a_bytes,
        "picture A is untouched"
    );
    // A missing or unreadable picture.
    let (code, stderr) = run(&["flow", "missing.png", b_s, "-o", "f.flo"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    let text = dir.path().join("notes.png");
    std::fs::write(&text, b"not a picture").unwrap();
    let (code, stderr) = run(&["flow", text.to_str().unwrap(), b_s, "-o", "f.flo"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!dir.path().join("f.flo").exists());
}
