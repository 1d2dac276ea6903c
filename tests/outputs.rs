//! No input of a project is ever taken as an output: keyframe images, the structure video,
//! the project file and its autosave are refused by file identity (a symlink, a `..` path
//! or a hard link to them too) in `render` and `stream`, with exit 2 and every file
//! byte-identical.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;

use std::path::Path;
use std::process::Output;

use wayfarer::media::{EncodeOptions, Frame, VideoEncoder};

/// A project over two images and a structure video `clip.mp4`, in `dir/project/`.
fn setup(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("project");
    std::fs::create_dir_all(&root).unwrap();
    for (src, name) in [("sintel_0016.png", "a.png"), ("sintel_0020.png", "b.png")] {
        std::fs::copy(common::demo_image(src), root.join(name)).unwrap();
    }
    let clip = root.join("clip.mp4");
    let mut enc = VideoEncoder::create(&clip, 64, 64, 16, &EncodeOptions::default()).unwrap();
    for i in 0..8u8 {
        enc.push(&Frame::filled(64, 64, [i * 20, 90, 160])).unwrap();
    }
    enc.finish().unwrap();
    let json = common::project_json(&["a.png", "b.png"], &[0, 16], (64, 64), "chained").replace(
        r#""structure_video":null"#,
        r#""structure_video":{"path":"clip.mp4","start_frame":0,"end_frame":7,"treatment":"adjust","motion_strength":1.0}"#,
    );
    std::fs::write(root.join("project.json.autosave"), &json).unwrap();
    common::write_project(&root, &json)
}

fn run(dir: &Path, args: &[&str]) -> Output {
    common::cli(dir)
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "off")
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .output()
        .unwrap()
}

fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_input_is_refused_as_an_output() {
    let dir = tempfile::tempdir().unwrap();
    let project = setup(dir.path());
    let root = project.parent().unwrap().to_path_buf();
    std::os::unix::fs::symlink(root.join("a.png"), dir.path().join("link.mp4")).unwrap();
    std::fs::hard_link(root.join("clip.mp4"), dir.path().join("hard.mp4")).unwrap();
    std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
    let before = snapshot(&root);
    let cases: [(&str, &str); 7] = [
        ("project/a.png", "keyframe 1's image"),
        ("project/clip.mp4", "the structure video"),
        ("project/project.json.autosave", "the project's autosave"),
        ("project/project.json", "the project file"),
        ("link.mp4", "keyframe 1's image"),
        ("hard.mp4", "the structure video"),
        ("elsewhere/../project/b.png", "keyframe 2's image"),
    ];
    for command in ["render", "stream"] {
        for (output, expect) in cases {
            let out = run(dir.path(), &[command, "project/project.json", "-o", output]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{command} -o {output}: {stderr}"
            );
            assert!(stderr.contains(expect), "{command} -o {output}: {stderr}");
            assert!(stderr.contains("hint: "), "{stderr}");
            assert_eq!(
                snapshot(&root),
                before,
                "{command} -o {output} changed a file"
            );
        }
    }
    assert!(
        std::fs::symlink_metadata(dir.path().join("link.mp4"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// Paths that are not UTF-8 (a project folder, its images and structure video, the output)
/// render and stream like any other: libav is given the process's own descriptor.
#[cfg(target_os = "linux")]
#[test]
fn paths_that_are_not_utf8_work_everywhere() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let odd = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9 \xff"));
    std::fs::create_dir_all(&odd).unwrap();
    let project = setup(&odd);
    let root = project.parent().unwrap().to_path_buf();
    let before = snapshot(&root);
    for command in ["render", "stream"] {
        let mut name = command.as_bytes().to_vec();
        name.extend_from_slice(b"-\xfe.mp4");
        let out = root.join(std::ffi::OsStr::from_bytes(&name));
        let output = common::cli(dir.path())
            .arg(command)
            .arg(&project)
            .arg("-o")
            .arg(&out)
            .env("WAYFARER_COMPUTE", "cpu")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let frames = wayfarer::media::decode_all(&out).unwrap();
        assert_eq!(frames.len(), 17, "{command}");
    }
    for (name, bytes) in before {
        assert_eq!(std::fs::read(root.join(&name)).unwrap(), bytes, "{name}");
    }
}
