//! Pre-flight catches each class of invalid input before any generation starts: the CLI
//! exits 2 naming the failing check, writes nothing, and the ComfyUI test server receives
//! no prompt.
#![expect(
    clippy::items_after_statements,
    reason = "helpers are declared next to the step that uses them"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod comfy_server;
pub mod common;

use std::path::Path;
use std::sync::atomic::Ordering;

use comfy_server::ComfyTestServer;

/// A two-keyframe project in `dir` (256x144, chained) with `edit` applied to its JSON.
fn project(dir: &Path, edit: impl Fn(String) -> String) {
    for name in ["sintel_0016.png", "sintel_0020.png"] {
        std::fs::copy(common::demo_image(name), dir.join(name)).unwrap();
    }
    let json = common::project_json(
        &["sintel_0016.png", "sintel_0020.png"],
        &[0, 24],
        (256, 144),
        "chained",
    );
    common::write_project(dir, &edit(json));
}

/// Runs `wayfarer render` with `args` and checks exit 2, `expect` on stderr, no output.
fn rejects(dir: &Path, args: &[&str], expect: &str) {
    let out = common::cli(dir)
        .args(["render", "project.json", "--no-resume"])
        .args(if args.contains(&"-o") {
            &[][..]
        } else {
            &["-o", "out.mp4"][..]
        })
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{expect}: {stderr}");
    assert!(stderr.contains(expect), "expected {expect:?} in {stderr}");
    assert!(stderr.contains("hint: "), "no hint: {stderr}");
    assert!(!dir.join("out.mp4").exists());
}

#[test]
fn each_invalid_input_class_fails_before_generation() {
    let server = ComfyTestServer::start();
    let comfy = ["--backend", "comfyui", "--server", server.url.as_str()];
    let same = |j: String| j;
    type Edit = Box<dyn Fn(String) -> String>;
    let cases: Vec<(&str, Edit, Vec<&str>, &str)> = vec![
        (
            "missing image",
            Box::new(|j: String| j.replace("sintel_0020.png", "gone.png")),
            comfy.to_vec(),
            "keyframe 2 image",
        ),
        (
            "size not a multiple of the profile",
            Box::new(|j: String| j.replace("\"width\":256", "\"width\":250")),
            vec![],
            "not a multiple of 16",
        ),
        (
            "frames per call beyond the backend",
            Box::new(|j: String| {
                j.replace("\"model\":\"wan2.1-vace-14b\"", "\"model\":\"ltx-video\"")
                    .replace("\"width\":256", "\"width\":512")
                    .replace("\"height\":144", "\"height\":288")
                    .replace("\"frame\":24", "\"frame\":120")
            }),
            comfy.to_vec(),
            "longer than backend comfyui allows (81)",
        ),
        (
            "too many steps for the mode",
            Box::new(|j: String| j.replace("\"loras\":[]", "\"loras\":[],\"steps\":500")),
            comfy.to_vec(),
            "500 sampler steps exceed",
        ),
        (
            "LoRAs on a backend without them",
            Box::new(|j: String| {
                j.replace(
                    "\"loras\":[]",
                    "\"loras\":[{\"name\":\"x.safetensors\",\"strength\":1.0}]",
                )
            }),
            vec![
                "--backend",
                "onnx",
                "--model",
                concat!(env!("CARGO_MANIFEST_DIR"), "/models/tiny_interpolator.toml"),
            ],
            "does not apply LoRAs",
        ),
        (
            "structure video missing",
            Box::new(|j: String| {
                j.replace(
                    "\"structure_video\":null",
                    "\"structure_video\":{\"path\":\"motion.mp4\",\"start_frame\":0,\"end_frame\":null}",
                )
            }),
            vec![],
            "structure video",
        ),
        (
            "server unreachable",
            Box::new(same),
            vec!["--backend", "comfyui", "--server", "http://127.0.0.1:1"],
            "cannot connect",
        ),
        (
            "template missing a placeholder",
            Box::new(same),
            vec![
                "--backend",
                "comfyui",
                "--server",
                server.url.as_str(),
                "--template",
                "template.json",
            ],
            "placeholder {{guide}} is not used",
        ),
        (
            "output folder missing",
            Box::new(same),
            vec!["-o", "no/such/folder/out.mp4"],
            "output",
        ),
    ];
    for (name, edit, args, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path(), edit);
        std::fs::write(
            dir.path().join("template.json"),
            r#"{"1": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}"}}}"#,
        )
        .unwrap();
        eprintln!("case: {name}");
        rejects(dir.path(), &args, expect);
    }
    // Server-side classes: missing nodes, too little GPU memory.
    server
        .shared
        .behaviour
        .missing_nodes
        .lock()
        .unwrap()
        .push("WanVaceToVideo".into());
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), same);
    rejects(dir.path(), &comfy, "missing node classes: WanVaceToVideo");
    server
        .shared
        .behaviour
        .missing_nodes
        .lock()
        .unwrap()
        .clear();
    server
        .shared
        .behaviour
        .vram_total
        .store(4 << 30, Ordering::SeqCst);
    rejects(dir.path(), &comfy, "the server has 4.0 GiB of GPU memory");
    assert_eq!(server.prompts(), 0, "nothing reached the generator");
}

#[test]
fn a_render_that_cannot_fit_in_memory_is_refused_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    // 8192 x 8192 with 81-frame calls: tens of GiB of frames in flight, far more than any
    // machine that runs this test has free (the estimate is checked against MemAvailable).
    project(dir.path(), |j| {
        j.replace(
            "\"width\":256,\"height\":144",
            "\"width\":8192,\"height\":8192",
        )
        .replace("\"frame\":24", "\"frame\":80")
    });
    let available = wayfarer::sysmem::available_bytes().unwrap_or(0);
    if available > 60 << 30 {
        common::skip(
            "a_render_that_cannot_fit_in_memory_is_refused_before_it_starts",
            "this machine has more than 60 GiB free",
        );
        return;
    }
    rejects(dir.path(), &[], "memory: about");
}
