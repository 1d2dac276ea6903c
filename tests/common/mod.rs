//! Helpers shared by the integration tests.
#![expect(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "test files are named by the tests themselves"
)]
#![expect(
    clippy::needless_pass_by_value,
    reason = "test helpers take owned values to keep call sites short"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

/// The demo images shipped in the repository.
pub fn demo_image(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/demo")
        .join(name)
}

/// A `w` x `h` black picture with a white disk of `radius` at the centre.
pub fn disk_image(w: u32, h: u32, radius: f32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let dx = x as f32 + 0.5 - w as f32 / 2.0;
        let dy = y as f32 + 0.5 - h as f32 / 2.0;
        if dx * dx + dy * dy <= radius * radius {
            Rgb([255, 255, 255])
        } else {
            Rgb([0, 0, 0])
        }
    })
}

/// Writes a project JSON into `dir` and returns its path.
pub fn write_project(dir: &Path, json: &str) -> PathBuf {
    let path = dir.join("project.json");
    std::fs::write(&path, json).unwrap();
    path
}

/// A valid project over `images` at `frames`, `size` = (width, height).
pub fn project_json(images: &[&str], frames: &[u32], size: (u32, u32), mode: &str) -> String {
    let keyframes: Vec<String> = images
        .iter()
        .zip(frames)
        .map(|(i, f)| format!(r#"{{"image":"{i}","frame":{f}}}"#))
        .collect();
    format!(
        r#"{{"version":1,"fps":16,"width":{},"height":{},"model":"wan2.1-vace-14b",
           "mode":"{mode}","overlap":8,"seed":789,"keyframes":[{}],
           "segments":[{{"prompt":"travel","negative_prompt":"","loras":[]}}],
           "merge":{{"policy":"off"}},"structure_video":null}}"#,
        size.0,
        size.1,
        keyframes.join(",")
    )
}

/// Generates the first call of a two-keyframe project (48x32, frames 0 and 16) with
/// `backend`, the anchors given as frames (their size is the call's size): the guide and
/// the output.
pub fn first_call(
    backend: &dyn wayfarer::generate::Backend,
    anchors: [wayfarer::media::Frame; 2],
) -> (wayfarer::guide::CallGuide, Vec<wayfarer::media::Frame>) {
    let dir = tempfile::tempdir().unwrap();
    let project = wayfarer::project::file::load(&write_project(
        dir.path(),
        &project_json(&["a.png", "b.png"], &[0, 16], (48, 32), "chained"),
    ))
    .unwrap();
    let plan = wayfarer::plan::plan(&project).unwrap();
    let (w, h) = (anchors[0].width, anchors[0].height);
    let call = &plan.calls[0];
    let guide = wayfarer::guide::CallGuide::build(call, &anchors, &[], w, h);
    let request = wayfarer::generate::GenerationRequest {
        call,
        guide: &guide,
        segment: &wayfarer::project::Segment::default(),
        seed: 1,
        width: w,
        height: h,
        fps: 16,
    };
    let out = backend
        .generate(
            &request,
            &mut |_| {},
            &wayfarer::generate::CancelToken::new(),
        )
        .unwrap();
    (guide, out)
}

/// Partial outputs (`.NAME.wayfarer-*.part`) left in `dir`: none once a render has ended.
pub fn partial_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.contains(".wayfarer-") && name.ends_with(".part")
        })
        .collect()
}

/// The `wayfarer` binary with its own per-user folders under `home/.xdg` (cache, data,
/// configuration), logs off, and the ONNX Runtime library this test run found.
pub fn cli(home: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wayfarer"));
    let xdg = home.join(".xdg");
    cmd.env("RUST_LOG", "off")
        .env("XDG_CACHE_HOME", xdg.join("cache"))
        .env("XDG_DATA_HOME", xdg.join("data"))
        .env("XDG_CONFIG_HOME", xdg.join("config"));
    if let Some(lib) = wayfarer::dirs::onnx_runtime_candidates()
        .into_iter()
        .find(|p| p.is_file())
    {
        cmd.env(wayfarer::dirs::ORT_LIBRARY_ENV, lib);
    }
    cmd
}

/// Records that `test` skipped part of its checks because of `why` (e.g. no wgpu adapter):
/// printed, appended to the file `WAYFARER_TEST_SKIP_LOG` names (`./setup test` lists them
/// after the run), and a failure instead when `WAYFARER_TEST_NO_SKIPS=1` (CI, where the
/// software adapter is installed and every check must run).
pub fn skip(test: &str, why: &str) {
    assert!(
        std::env::var("WAYFARER_TEST_NO_SKIPS").as_deref() != Ok("1"),
        "{test}: would be skipped ({why}), but WAYFARER_TEST_NO_SKIPS=1 demands that it runs"
    );
    eprintln!("SKIPPED {test}: {why}");
    if let Some(log) = std::env::var_os("WAYFARER_TEST_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{test}: {why}");
        }
    }
}
