//! Structure video end to end: a panning clip of a different aspect (Sintel, 1024x436)
//! guides a render; nothing is stretched; each distinct frame pair's flow is estimated
//! once per render; a second render takes every flow from the cache.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wayfarer::flow::{DenseInverseSearch, FlowCache, FlowEstimator};
use wayfarer::generate::{Builtin, CancelToken};
use wayfarer::gpu::{Compute, CpuCompute, FlowField};
use wayfarer::media::{self, EncodeOptions, Frame, VideoEncoder, center_crop_rect, psnr};
use wayfarer::project::file;
use wayfarer::render::{self, RenderEvent};
use wayfarer::structure::{MotionTools, StructureMotion, Timeline};

struct Counting(Arc<AtomicUsize>);

impl FlowEstimator for Counting {
    fn identity(&self) -> String {
        DenseInverseSearch::default().identity()
    }
    fn estimate(&self, a: &Frame, b: &Frame) -> wayfarer::Result<FlowField> {
        self.0.fetch_add(1, Ordering::SeqCst);
        DenseInverseSearch::default().estimate(a, b)
    }
}

/// 12 frames of the Sintel picture panning left 6 px a frame, encoded by Wayfarer.
fn panning_clip(dir: &Path) -> std::path::PathBuf {
    let src = media::load_image(&common::demo_image("sintel_0016.png")).unwrap();
    let path = dir.join("structure.mp4");
    let mut enc = VideoEncoder::create(&path, 1024, 436, 16, &EncodeOptions::default()).unwrap();
    for i in 0..12 {
        let shift = FlowField::uniform(1024, 436, 6.0 * i as f32, 0.0);
        enc.push(&CpuCompute.warp(&src, &shift, 1.0).unwrap())
            .unwrap();
    }
    enc.finish().unwrap();
    path
}

fn project_with_structure(dir: &Path) -> std::path::PathBuf {
    for name in ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"] {
        std::fs::copy(common::demo_image(name), dir.join(name)).unwrap();
    }
    panning_clip(dir);
    let json = common::project_json(
        &["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"],
        &[0, 24, 57],
        (256, 144),
        "chained",
    )
    .replace(
        "\"structure_video\":null",
        r#""structure_video":{"path":"structure.mp4","start_frame":0,"end_frame":11,"treatment":"adjust","motion_strength":1.0}"#,
    );
    common::write_project(dir, &json)
}

#[test]
fn structure_video_renders_without_stretching_and_caches_its_flows() {
    let dir = tempfile::tempdir().unwrap();
    let project_path = project_with_structure(dir.path());
    let project = file::load(&project_path).unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let estimator = Counting(count.clone());
    let cache = FlowCache::new(dir.path().join("flows"), 1 << 30);
    let compute = CpuCompute;
    let tools = MotionTools {
        compute: &compute,
        estimator: &estimator,
        cache: Some(&cache),
    };
    let mut runs = Vec::new();
    for run in 0..2 {
        let out = dir.path().join(format!("run{run}.mp4"));
        let mut stages = Vec::new();
        let summary = render::render(
            &render::RenderRequest::new(
                &project,
                dir.path(),
                &out,
                &render::RenderOptions::default(),
            )
            .with_motion(&tools),
            &Builtin::default(),
            &mut |e| {
                if let RenderEvent::Progress { stage, .. } = e {
                    stages.push(stage);
                }
            },
            &CancelToken::new(),
        )
        .unwrap();
        assert!(stages.iter().any(|s| s == "structure"));
        // 12 source frames spread over 58 timeline frames: 11 distinct consecutive pairs,
        // whatever the number of calls (2 here).
        assert_eq!(summary.plan.calls.len(), 2);
        assert_eq!(summary.structure_pairs, 11);
        let estimated = count.swap(0, Ordering::SeqCst);
        if run == 0 {
            assert_eq!(estimated, 11, "each needed flow estimated once");
            assert_eq!(summary.structure_flows_estimated, 11);
        } else {
            assert_eq!(estimated, 0, "the second render hits the cache");
            assert_eq!(summary.structure_flows_estimated, 0);
        }
        let frames = media::decode_all(&out).unwrap();
        assert_eq!(frames.len() as u32, summary.plan.total_frames);
        for (k, name) in ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"]
            .iter()
            .enumerate()
        {
            let anchor = media::crop_fit(
                &media::load_image(&dir.path().join(name)).unwrap(),
                256,
                144,
            )
            .unwrap();
            let pos = summary.plan.positions[k] as usize;
            assert!(psnr(&frames[pos], &anchor) >= 33.0, "keyframe {k}");
        }
        runs.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(runs[0], runs[1], "cached flows give the same video");
}

/// The structure analysis of the test project's clip for a 58-frame 256x144 timeline,
/// with dense inverse search, no cache, `progress` and `cancel`.
fn analyse(
    dir: &Path,
    progress: &mut dyn FnMut(u32, u32),
    cancel: &CancelToken,
) -> wayfarer::Result<StructureMotion> {
    let project = file::load(&project_with_structure(dir)).unwrap();
    let sv = project.structure_video.clone().unwrap();
    let estimator = DenseInverseSearch::default();
    let tools = MotionTools {
        compute: &CpuCompute,
        estimator: &estimator,
        cache: None,
    };
    StructureMotion::prepare(
        &sv,
        dir,
        &Timeline {
            total: 58,
            fps: 16,
            width: 256,
            height: 144,
        },
        &tools,
        progress,
        cancel,
    )
}

#[test]
fn structure_frames_are_cropped_not_stretched_and_motion_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let motion = analyse(dir.path(), &mut |_, _| {}, &CancelToken::new()).unwrap();
    // 1024x436 into 16:9: the centre 775x436 is kept, not squeezed.
    assert_eq!(motion.crop, center_crop_rect(1024, 436, 256, 144));
    assert_eq!(motion.crop.3, 436);
    assert!((f64::from(motion.crop.2) / 436.0 - 16.0 / 9.0).abs() < 0.01);
    // The clip pans 6 source px a frame; fitted to 256 px wide that is 6 * 256 / 775 ~ 1.98 px.
    // Between source frames 0 and 1 the step flow points that way.
    let step = (0..57).find_map(|t| motion.step(t).unwrap()).unwrap();
    let mean_dx: f32 = step.data.iter().map(|v| v[0]).sum::<f32>() / step.data.len() as f32;
    assert!((mean_dx.abs() - 1.98).abs() < 0.35, "mean dx {mean_dx}");
}

#[test]
fn a_missing_structure_video_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let project_path = project_with_structure(dir.path());
    std::fs::remove_file(dir.path().join("structure.mp4")).unwrap();
    let out = dir.path().join("out.mp4");
    let output = common::cli(dir.path())
        .args([
            "render",
            project_path.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .env("WAYFARER_COMPUTE", "cpu")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("structure video"), "{stderr}");
    assert!(!out.exists());
}

/// A smooth texture to track (a sum of sines), `w` x `h`.
fn texture(w: u32, h: u32) -> Frame {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let (x, y) = (x as f32, y as f32);
            let v = 128.0
                + 50.0 * (x * 0.11).sin() * (y * 0.07).cos()
                + 35.0 * (x * 0.045 + y * 0.09).sin()
                + 25.0 * (y * 0.16 - x * 0.03).cos();
            let v = v.clamp(0.0, 255.0) as u8;
            data.extend_from_slice(&[v, v / 2 + 60, 255 - v]);
        }
    }
    Frame {
        width: w,
        height: h,
        data,
    }
}

/// How far (x pixels, right positive) the content of `moved` sits from `still`, found by a
/// search in 0.05 px steps over the centre of the picture.
fn horizontal_shift(still: &Frame, moved: &Frame) -> f32 {
    let grey = |f: &Frame, x: f32, y: u32| -> f32 {
        let x0 = x.floor().clamp(0.0, (f.width - 2) as f32);
        let t = x - x0;
        let at = |xi: u32| {
            let i = ((y * f.width + xi) * 3) as usize;
            f32::from(f.data[i]) + f32::from(f.data[i + 1]) + f32::from(f.data[i + 2])
        };
        at(x0 as u32) * (1.0 - t) + at(x0 as u32 + 1) * t
    };
    let margin = 40;
    let mut best = (f32::MAX, 0.0);
    for step in -400..=400 {
        let s = step as f32 * 0.05;
        let mut err = 0.0f32;
        for y in margin..still.height - margin {
            for x in margin..still.width - margin {
                let d = grey(moved, x as f32, y) - grey(still, x as f32 - s, y);
                err += d * d;
            }
        }
        if err < best.0 {
            best = (err, s);
        }
    }
    best.1
}

/// The guide of the first call of a two-keyframe project whose structure clip moves a
/// texture 2 px right per frame, at `strength`; the anchor and guide frame `offset`.
fn guided_frame(strength: f32, offset: usize) -> (Frame, Frame) {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (256, 144);
    let tex = texture(w, h);
    image::RgbImage::from_raw(w, h, tex.data.clone())
        .unwrap()
        .save(dir.path().join("a.png"))
        .unwrap();
    std::fs::copy(dir.path().join("a.png"), dir.path().join("b.png")).unwrap();
    let clip = dir.path().join("structure.mp4");
    let mut enc = VideoEncoder::create(
        &clip,
        w,
        h,
        16,
        &EncodeOptions {
            crf: 4,
            ..EncodeOptions::default()
        },
    )
    .unwrap();
    for i in 0..17 {
        let shift = FlowField::uniform(w, h, -2.0 * i as f32, 0.0);
        enc.push(&CpuCompute.warp(&tex, &shift, 1.0).unwrap())
            .unwrap();
    }
    enc.finish().unwrap();
    let json = common::project_json(&["a.png", "b.png"], &[0, 16], (w, h), "chained").replace(
        "\"structure_video\":null",
        &format!(
            r#""structure_video":{{"path":"structure.mp4","start_frame":0,"end_frame":16,"treatment":"clip","motion_strength":{strength}}}"#
        ),
    );
    let project = file::load(&common::write_project(dir.path(), &json)).unwrap();
    let plan = wayfarer::plan::plan(&project).unwrap();
    let estimator = DenseInverseSearch::default();
    let tools = MotionTools {
        compute: &CpuCompute,
        estimator: &estimator,
        cache: None,
    };
    let motion = StructureMotion::prepare(
        project.structure_video.as_ref().unwrap(),
        dir.path(),
        &Timeline {
            total: plan.total_frames,
            fps: 16,
            width: w,
            height: h,
        },
        &tools,
        &mut |_, _| {},
        &CancelToken::new(),
    )
    .unwrap();
    let call = &plan.calls[0];
    let anchors = [tex.clone(), tex.clone()];
    let mut guide = wayfarer::guide::CallGuide::build(call, &anchors, &[], w, h);
    let before = guide.frames[offset].clone();
    motion.apply(call, &mut guide, &CpuCompute).unwrap();
    assert_ne!(
        guide.frames[offset].data, before.data,
        "apply changed the guide"
    );
    (tex, guide.frames[offset].clone())
}

#[test]
fn a_translating_structure_clip_moves_the_keyframe_by_its_motion_times_the_strength() {
    // Four frames into the call the clip has moved 4 x 2 = 8 px.
    let (anchor, full) = guided_frame(1.0, 4);
    let dx = horizontal_shift(&anchor, &full);
    eprintln!("strength 1: moved {dx} px (expected 8)");
    assert!(
        (dx - 8.0).abs() <= 0.5,
        "strength 1: moved {dx} px, expected 8"
    );
    let (anchor, half) = guided_frame(0.5, 4);
    let dx = horizontal_shift(&anchor, &half);
    eprintln!("strength 0.5: moved {dx} px (expected 4)");
    assert!(
        (dx - 4.0).abs() <= 0.5,
        "strength 0.5: moved {dx} px, expected 4"
    );
}

/// Every phase of a render shows motion: the structure analysis reports each pair (0 of 11
/// first, then 1 of 11 … 11 of 11, with a time left once one is done), the calls follow,
/// and the video's writing is its own phase at the end.
#[test]
fn a_render_reports_structure_progress_per_pair_then_generation_then_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let project_path = project_with_structure(dir.path());
    let project = file::load(&project_path).unwrap();
    let estimator = DenseInverseSearch::default();
    let tools = MotionTools {
        compute: &CpuCompute,
        estimator: &estimator,
        cache: None,
    };
    let out = dir.path().join("out.mp4");
    let mut progress = Vec::new();
    render::render(
        &render::RenderRequest::new(
            &project,
            dir.path(),
            &out,
            &render::RenderOptions::default(),
        )
        .with_motion(&tools),
        &Builtin::default(),
        &mut |e| {
            if let RenderEvent::Progress {
                stage,
                step,
                eta_secs,
                ..
            } = e
            {
                progress.push((stage, step, eta_secs));
            }
        },
        &CancelToken::new(),
    )
    .unwrap();
    let pairs: Vec<(u32, u32)> = progress
        .iter()
        .filter(|(stage, ..)| stage == "structure")
        .map(|(_, step, _)| step.unwrap())
        .collect();
    assert_eq!(pairs, (0..=11).map(|i| (i, 11)).collect::<Vec<_>>());
    assert!(
        progress
            .iter()
            .filter(|(stage, step, _)| stage == "structure" && step.unwrap().0 > 0)
            .all(|(.., eta)| eta.is_some()),
        "a time left once a pair is done"
    );
    let stages: Vec<&str> = progress.iter().map(|(s, ..)| s.as_str()).collect();
    let first_generating = stages.iter().position(|s| *s == "generating").unwrap();
    let last_structure = stages.iter().rposition(|s| *s == "structure").unwrap();
    assert!(last_structure < first_generating);
    // Encoding, then the quality report measured on the written video.
    assert_eq!(stages[stages.len() - 2..], ["encoding", "measuring"]);
    // No "0 s left" while the video is still being written.
    assert_eq!(progress.last().unwrap().2, None);
}

/// A structure video end frame past the clip is said by pre-flight (the clip is used to its
/// end), not passed over in silence.
#[test]
fn an_end_frame_past_the_clip_is_flagged_by_pre_flight() {
    let dir = tempfile::tempdir().unwrap();
    let project_path = project_with_structure(dir.path());
    let mut project = file::load(&project_path).unwrap();
    let report = wayfarer::generate::preflight(
        &project,
        dir.path(),
        &dir.path().join("out.mp4"),
        &wayfarer::generate::BackendConfig::default(),
    );
    assert!(
        report
            .items
            .iter()
            .all(|i| !i.warning || i.name != "structure video end frame")
    );
    project.structure_video.as_mut().unwrap().end_frame = Some(200);
    let report = wayfarer::generate::preflight(
        &project,
        dir.path(),
        &dir.path().join("out.mp4"),
        &wayfarer::generate::BackendConfig::default(),
    );
    let item = report
        .items
        .iter()
        .find(|i| i.name == "structure video end frame")
        .expect("an end_frame item");
    assert!(item.warning && item.passed, "{item:?}");
    assert!(item.detail.contains("past the end"), "{}", item.detail);
    assert!(report.passed(), "the render can still run");
}

/// Cancelling during the analysis stops it at once with a cancellation (the decoding
/// thread ahead of it stops too: the call returns, nothing hangs).
#[test]
fn cancelling_the_structure_analysis_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancelToken::new();
    let mut seen = 0;
    let result = analyse(
        dir.path(),
        &mut |done, _| {
            seen = done;
            if done == 2 {
                cancel.cancel();
            }
        },
        &cancel,
    );
    let e = result.err().expect("a cancelled analysis is an error");
    assert_eq!(
        e.category,
        wayfarer::ErrorCategory::Cancelled,
        "{}",
        e.message
    );
    assert!(seen < 11, "stopped after {seen} of 11 pairs");
}
