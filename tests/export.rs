//! Export formats: each round-trips through Wayfarer's own decoder with the planned frame
//! count; H.264 4:4:4 keeps more of a detailed keyframe than 4:2:0; PNG folders are
//! replaced whole and never over other files; NVENC is used when it works and refused
//! clearly when it does not.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;

use std::path::{Path, PathBuf};

use wayfarer::media::{self, ExportFormat, Frame, crop_fit, psnr};

const POSITIONS: [u32; 2] = [0, 32];

/// A two-keyframe project of real frames at 416x240 in `dir`.
fn project(dir: &Path) -> PathBuf {
    let images = ["sintel_0016.png", "sintel_0025.png"];
    for name in images {
        std::fs::copy(common::demo_image(name), dir.join(name)).unwrap();
    }
    common::write_project(
        dir,
        &common::project_json(&images, &POSITIONS, (416, 240), "chained"),
    )
}

fn fitted(name: &str) -> Frame {
    crop_fit(
        &media::load_image(&common::demo_image(name)).unwrap(),
        416,
        240,
    )
    .unwrap()
}

/// Renders with `--format` to `out`; returns the exit status and standard error.
fn render(dir: &Path, format: &str, out: &Path) -> (i32, String) {
    let o = common::cli(dir)
        .args(["render", "--format", format, "-o"])
        .arg(out)
        .arg(dir.join("project.json"))
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The frames written at `out` in `format`.
fn read_back(out: &Path, format: ExportFormat) -> Vec<Frame> {
    if format == ExportFormat::Png {
        media::png_sequence_files(out)
            .unwrap()
            .iter()
            .map(|f| media::load_image(f).unwrap())
            .collect()
    } else {
        media::decode_all(out).unwrap()
    }
}

#[test]
fn every_format_round_trips_with_its_frame_count() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let anchors = [fitted("sintel_0016.png"), fitted("sintel_0025.png")];
    let mut psnrs = Vec::new();
    for format in ExportFormat::ALL {
        let out = dir.path().join(match format.extension() {
            Some(ext) => format!("out_{}.{ext}", format.name()),
            None => format!("out_{}", format.name()),
        });
        let (code, stderr) = render(dir.path(), format.name(), &out);
        if let Err(why) = format.check() {
            // NVENC without an NVIDIA GPU: refused before any generation, nothing written.
            assert!(
                format.encoder().unwrap().contains("nvenc"),
                "{format:?}: {why}"
            );
            assert_ne!(code, 0, "{format:?}");
            assert!(stderr.contains("choose another format"), "{stderr}");
            assert!(!out.exists());
            eprintln!("{}: not here ({why})", format.name());
            continue;
        }
        assert_eq!(code, 0, "{format:?}: {stderr}");
        assert!(
            stderr.contains("quality, measured on the 33 written frames"),
            "{stderr}"
        );
        let frames = read_back(&out, format);
        assert_eq!(frames.len(), 33, "{format:?}");
        assert!(frames.iter().all(|f| (f.width, f.height) == (416, 240)));
        let p: Vec<f64> = POSITIONS
            .iter()
            .zip(&anchors)
            .map(|(&at, a)| psnr(&frames[at as usize], a))
            .collect();
        eprintln!("{}: keyframes {p:.2?} dB", format.name());
        psnrs.push((format, p));
    }
    let of = |f: ExportFormat| psnrs.iter().find(|(g, _)| *g == f).unwrap().1.clone();
    let (full, web) = (of(ExportFormat::H264Full), of(ExportFormat::H264));
    for k in 0..2 {
        assert!(
            full[k] > web[k],
            "keyframe {}: 4:4:4 {:.2} dB, 4:2:0 {:.2} dB",
            k + 1,
            full[k],
            web[k]
        );
    }
    assert!(
        of(ExportFormat::Png).iter().all(|p| p.is_infinite()),
        "PNG is lossless"
    );
    assert!(of(ExportFormat::ProRes).iter().all(|&p| p > 40.0));
}

#[test]
fn a_png_folder_is_replaced_whole_and_never_over_other_files() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let out = dir.path().join("frames");
    std::fs::create_dir(&out).unwrap();
    // An earlier, longer sequence: its extra frames must not survive.
    for i in 1..=40 {
        std::fs::write(out.join(format!("frame_{i:05}.png")), b"old").unwrap();
    }
    let (code, stderr) = render(dir.path(), "png", &out);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(media::png_sequence_files(&out).unwrap().len(), 33);
    assert!(common::partial_files(dir.path()).is_empty());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".wayfarer-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A folder with something else in it is refused before any work, untouched.
    std::fs::write(out.join("notes.txt"), b"mine").unwrap();
    let (code, stderr) = render(dir.path(), "png", &out);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("notes.txt") && stderr.contains("new folder name"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
    // The pre-flight check says the same, on a line of its own.
    let check = common::cli(dir.path())
        .args(["render", "--check", "--format", "png", "-o"])
        .arg(&out)
        .arg(dir.path().join("project.json"))
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(said.contains("FAIL output name: output"), "{said}");
    assert!(
        said.contains("ok   format: PNG pictures in a folder works here"),
        "{said}"
    );
    assert_eq!(media::png_sequence_files(&out).unwrap().len(), 33);

    // A file where the folder should be, and ProRes not named .mov: refused.
    let file = dir.path().join("clip.mp4");
    std::fs::write(&file, b"video").unwrap();
    let (code, stderr) = render(dir.path(), "png", &file);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(std::fs::read(&file).unwrap(), b"video");
    let (code, stderr) = render(dir.path(), "prores", &file);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(".mov"), "{stderr}");
    let (code, stderr) = render(dir.path(), "gif", &file);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("h264-444"), "{stderr}");
}
