//! End to end: render a project and check the decoded MP4 with Wayfarer's own decoder.
#![expect(
    clippy::default_trait_access,
    reason = "test setup fills fields with their defaults"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;

use std::path::{Path, PathBuf};

use wayfarer::generate::{Builtin, CancelToken};
use wayfarer::media::{self, EncodeOptions, Frame, crop_fit, psnr};
use wayfarer::project::{Project, file};
use wayfarer::render::{self, RenderEvent};

fn render_project(project_path: &Path, out: &Path) -> (render::RenderSummary, Vec<RenderEvent>) {
    let project = file::load(project_path).unwrap();
    let mut events = Vec::new();
    let summary = render::render(
        &render::RenderRequest::new(
            &project,
            &file::project_dir(project_path),
            out,
            &render::RenderOptions::default(),
        ),
        &Builtin::default(),
        &mut |e| events.push(e),
        &CancelToken::new(),
    )
    .unwrap();
    (summary, events)
}

/// Width and height of the bright region of a frame.
fn bright_extent(frame: &Frame) -> (u32, u32) {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for y in 0..frame.height {
        for x in 0..frame.width {
            if frame.pixel(x, y)[0] > 128 {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
    }
    (x1 - x0 + 1, y1 - y0 + 1)
}

#[test]
fn rendered_video_has_the_planned_frames_and_its_anchors() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["sintel_0016.png", "sintel_0025.png"] {
        std::fs::copy(common::demo_image(name), dir.path().join(name)).unwrap();
    }
    // A 2:1 picture with a disk: after crop-to-fit into 16:9 the disk must stay round.
    common::disk_image(512, 256, 100.0)
        .save(dir.path().join("disk.png"))
        .unwrap();
    let images = ["sintel_0016.png", "disk.png", "sintel_0025.png"];
    for mode in ["chained", "independent"] {
        let positions = [0, 24, 57];
        let project_path = common::write_project(
            dir.path(),
            &common::project_json(&images, &positions, (416, 240), mode),
        );
        let out = dir.path().join(format!("{mode}.mp4"));
        let (summary, events) = render_project(&project_path, &out);
        assert!(common::partial_files(out.parent().unwrap()).is_empty());
        assert!(matches!(events.first(), Some(RenderEvent::Start { .. })));
        assert!(matches!(events.last(), Some(RenderEvent::Done { .. })));

        let plan = &summary.plan;
        let info = media::probe(&out).unwrap();
        assert_eq!(info.fps, (16, 1), "{mode}");
        assert_eq!((info.width, info.height), (416, 240));
        let frames = media::decode_all(&out).unwrap();
        let last = *plan.positions.last().unwrap();
        assert_eq!(frames.len() as u32, last + 1, "{mode}: frame count");
        assert!(
            (info.duration_secs - f64::from(last + 1) / 16.0).abs() < 1e-3,
            "{mode}: duration {}",
            info.duration_secs
        );

        for (k, &pos) in plan.positions.iter().enumerate() {
            let anchor = crop_fit(
                &media::load_image(&dir.path().join(images[k])).unwrap(),
                416,
                240,
            )
            .unwrap();
            let db = psnr(&frames[pos as usize], &anchor);
            eprintln!("{mode} keyframe {k}: {db:.1} dB");
            assert!(
                db >= 35.0,
                "{mode}: keyframe {k} at frame {pos}: PSNR {db:.1} dB"
            );
        }
        let (w, h) = bright_extent(&frames[plan.positions[1] as usize]);
        assert!(
            w.abs_diff(h) <= 2,
            "{mode}: disk is {w}x{h}, the anchor was stretched"
        );
        // In-between frames are generated, not copies of an anchor.
        let mid = frames[(plan.positions[1] / 2) as usize].clone();
        assert!(psnr(&mid, &frames[0]) < 60.0);
    }
}

/// A one-call project (64x64) in a fresh folder whose output already holds a previous
/// render: what an interrupted render must leave as it was.
fn interrupted_case() -> (tempfile::TempDir, Project, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::demo_image("sintel_0016.png"),
        dir.path().join("a.png"),
    )
    .unwrap();
    let project_path = common::write_project(
        dir.path(),
        &common::project_json(&["a.png", "a.png"], &[0, 40], (64, 64), "chained"),
    );
    let project: Project = file::load(&project_path).unwrap();
    let out = dir.path().join("out.mp4");
    std::fs::write(&out, b"previous render").unwrap();
    (dir, project, out)
}

#[test]
fn a_panic_during_a_render_leaves_no_partial_file() {
    let (dir, project, out) = interrupted_case();
    let mut saw_partial = false;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        render::render(
            &render::RenderRequest::new(
                &project,
                dir.path(),
                &out,
                &render::RenderOptions::default(),
            ),
            &Builtin::default(),
            &mut |e| {
                if matches!(e, RenderEvent::Progress { ref stage, .. } if stage == "generating") {
                    saw_partial = !common::partial_files(dir.path()).is_empty();
                    panic!("injected fault in the middle of a render");
                }
            },
            &CancelToken::new(),
        )
    }));
    assert!(result.is_err(), "the injected panic unwound");
    assert!(saw_partial, "the render was writing its partial file");
    assert_eq!(std::fs::read(&out).unwrap(), b"previous render");
    assert!(common::partial_files(dir.path()).is_empty());
}

#[test]
fn cancelled_render_leaves_nothing() {
    let (dir, project, out) = interrupted_case();
    let cancel = CancelToken::new();
    let err = render::render(
        &render::RenderRequest::new(
            &project,
            dir.path(),
            &out,
            &render::RenderOptions::default(),
        ),
        &Builtin::default(),
        &mut |e| {
            if matches!(e, RenderEvent::Progress { ref stage, .. } if stage == "generating") {
                cancel.cancel();
            }
        },
        &cancel,
    )
    .unwrap_err();
    assert_eq!(err.category, wayfarer::ErrorCategory::Cancelled);
    assert_eq!(std::fs::read(&out).unwrap(), b"previous render");
    assert!(common::partial_files(out.parent().unwrap()).is_empty());
}

/// Counts the calls that reach the backend.
struct Counting {
    inner: Builtin,
    calls: std::sync::atomic::AtomicUsize,
}

impl wayfarer::generate::Backend for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn capabilities(&self) -> &wayfarer::generate::Capabilities {
        self.inner.capabilities()
    }
    fn generate(
        &self,
        request: &wayfarer::generate::GenerationRequest<'_>,
        progress: &mut dyn FnMut(wayfarer::generate::CallProgress),
        cancel: &CancelToken,
    ) -> wayfarer::Result<Vec<Frame>> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.generate(request, progress, cancel)
    }
}

#[test]
fn merged_plan_renders_with_fewer_backend_calls() {
    let dir = tempfile::tempdir().unwrap();
    let images = ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"];
    for name in images {
        std::fs::copy(common::demo_image(name), dir.path().join(name)).unwrap();
    }
    let images = [
        images[0], images[1], images[2], images[0], images[1], images[2],
    ];
    // Valid as they stand both unmerged (chained: 13 new + 8 context = 21 frames) and
    // merged (0..=64 = 65 frames), so both renders have the same positions.
    let positions = [0, 12, 25, 38, 51, 64];
    let mut outputs = Vec::new();
    for policy in ["off", "consolidate"] {
        let json = common::project_json(&images, &positions, (256, 144), "chained").replace(
            "\"merge\":{\"policy\":\"off\"}",
            &format!("\"merge\":{{\"policy\":\"{policy}\"}}"),
        );
        let project_path = common::write_project(dir.path(), &json);
        let project = file::load(&project_path).unwrap();
        let out = dir.path().join(format!("{policy}.mp4"));
        let backend = Counting {
            inner: Builtin::default(),
            calls: Default::default(),
        };
        let summary = render::render(
            &render::RenderRequest::new(
                &project,
                dir.path(),
                &out,
                &render::RenderOptions::default(),
            ),
            &backend,
            &mut |_| {},
            &CancelToken::new(),
        )
        .unwrap();
        let calls = backend.calls.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(calls, summary.plan.calls.len());
        assert_eq!(summary.backend_calls, calls);
        let frames = media::decode_all(&out).unwrap();
        assert_eq!(frames.len() as u32, summary.plan.total_frames);
        for (k, &pos) in summary.plan.positions.iter().enumerate() {
            let anchor = crop_fit(
                &media::load_image(&dir.path().join(images[k])).unwrap(),
                256,
                144,
            )
            .unwrap();
            let db = psnr(&frames[pos as usize], &anchor);
            assert!(db >= 33.0, "{policy}: keyframe {k}: {db:.1} dB");
        }
        outputs.push((calls, frames.len(), summary.plan.positions.clone()));
    }
    let (unmerged, merged) = (&outputs[0], &outputs[1]);
    assert_eq!(unmerged.0, 5);
    assert_eq!(merged.0, 1, "0..=64 is 65 frames: one merged call");
    assert_eq!(unmerged.1, merged.1, "same length");
    assert_eq!(unmerged.2, merged.2, "same anchor positions");
}

/// Counts estimates that reach the estimator.
struct CountingEstimator(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl wayfarer::flow::FlowEstimator for CountingEstimator {
    fn identity(&self) -> String {
        wayfarer::flow::DenseInverseSearch::default().identity()
    }
    fn estimate(&self, a: &Frame, b: &Frame) -> wayfarer::Result<wayfarer::gpu::FlowField> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        wayfarer::flow::DenseInverseSearch::default().estimate(a, b)
    }
}

#[test]
fn a_second_render_hits_the_flow_cache() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"] {
        std::fs::copy(common::demo_image(name), dir.path().join(name)).unwrap();
    }
    let images = ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"];
    let project_path = common::write_project(
        dir.path(),
        &common::project_json(&images, &[0, 24, 57], (256, 144), "chained"),
    );
    let project = file::load(&project_path).unwrap();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut outputs = Vec::new();
    for run in 0..2 {
        let backend = Builtin::new(
            Box::new(wayfarer::gpu::CpuCompute),
            Box::new(CountingEstimator(count.clone())),
        )
        .with_cache(wayfarer::flow::FlowCache::new(
            dir.path().join("flows"),
            1 << 30,
        ));
        let out = dir.path().join(format!("run{run}.mp4"));
        render::render(
            &render::RenderRequest::new(
                &project,
                dir.path(),
                &out,
                &render::RenderOptions::default(),
            ),
            &backend,
            &mut |_| {},
            &CancelToken::new(),
        )
        .unwrap();
        let (hits, misses) = backend.cache().unwrap().stats();
        let estimated = count.swap(0, std::sync::atomic::Ordering::SeqCst);
        if run == 0 {
            assert_eq!(hits, 0);
            assert_eq!(estimated as u64, misses);
            assert!(estimated > 0, "the morph estimated flows");
        } else {
            assert_eq!(estimated, 0, "every flow came from the cache");
            assert!(hits > 0);
        }
        outputs.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(outputs[0], outputs[1], "same video from cached flows");
}

/// Steps, width, height and LoRA count of one attempt.
type Attempt = (Option<u32>, u32, u32, usize);

/// Fails the first `oom` attempts of call 0 with out-of-memory, or every attempt with a
/// validation error; records what each attempt asked for.
struct Flaky {
    inner: Builtin,
    oom: std::sync::atomic::AtomicUsize,
    invalid: bool,
    seen: std::sync::Mutex<Vec<Attempt>>,
}

impl wayfarer::generate::Backend for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    fn capabilities(&self) -> &wayfarer::generate::Capabilities {
        self.inner.capabilities()
    }
    fn generate(
        &self,
        request: &wayfarer::generate::GenerationRequest<'_>,
        progress: &mut dyn FnMut(wayfarer::generate::CallProgress),
        cancel: &CancelToken,
    ) -> wayfarer::Result<Vec<Frame>> {
        self.seen.lock().unwrap().push((
            request.segment.steps,
            request.width,
            request.height,
            request.segment.loras.len(),
        ));
        if self.invalid {
            return Err(wayfarer::UserError::input(
                "the template rejected the prompt",
            ));
        }
        if request.call.index == 0
            && self
                .oom
                .fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| n.checked_sub(1),
                )
                .is_ok()
        {
            let mut e =
                wayfarer::UserError::new(wayfarer::ErrorCategory::Memory, "CUDA out of memory");
            e.retryable = true;
            return Err(e);
        }
        self.inner.generate(request, progress, cancel)
    }
}

#[test]
fn out_of_memory_is_retried_with_fewer_steps_then_lower_resolution() {
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
    let project_path = common::write_project(
        dir.path(),
        &common::project_json(&["a.png", "b.png"], &[0, 24], (256, 144), "chained"),
    );
    let project = file::load(&project_path).unwrap();
    let policy = wayfarer::generate::retry::RetryPolicy {
        max_attempts: 4,
        base_delay: std::time::Duration::from_millis(1),
    };
    let out = dir.path().join("out.mp4");
    let backend = Flaky {
        inner: Builtin::default(),
        oom: 2.into(),
        invalid: false,
        seen: Default::default(),
    };
    let mut retries = Vec::new();
    let summary = render::render(
        &render::RenderRequest {
            project: &project,
            project_dir: dir.path(),
            output: &out,
            encode: EncodeOptions::default(),
            options: &render::RenderOptions {
                retry: policy,
                ..Default::default()
            },
            motion: None,
        },
        &backend,
        &mut |e| {
            if let RenderEvent::Retry {
                attempt, change, ..
            } = e
            {
                retries.push((attempt, change));
            }
        },
        &CancelToken::new(),
    )
    .unwrap();
    // Attempt 1 as planned; 2 with half the default steps; 3 also at 0.75x resolution.
    assert_eq!(
        *backend.seen.lock().unwrap(),
        vec![
            (None, 256, 144, 0),
            (Some(10), 256, 144, 0),
            (Some(10), 192, 112, 0)
        ]
    );
    assert_eq!(retries.len(), 2);
    assert_eq!(retries[0].0, 2);
    assert!(retries[1].1.contains("resolution"), "{retries:?}");
    assert_eq!(summary.retries.len(), 2);
    // The lower-resolution call is scaled back: the video keeps its size and length.
    let info = media::probe(&out).unwrap();
    assert_eq!((info.width, info.height), (256, 144));
    assert_eq!(media::decode_all(&out).unwrap().len(), 25);

    // A validation error fails at once: one attempt, nothing written.
    let out2 = dir.path().join("out2.mp4");
    let backend = Flaky {
        inner: Builtin::default(),
        oom: 0.into(),
        invalid: true,
        seen: Default::default(),
    };
    let err = render::render(
        &render::RenderRequest {
            project: &project,
            project_dir: dir.path(),
            output: &out2,
            encode: EncodeOptions::default(),
            options: &render::RenderOptions {
                retry: policy,
                ..Default::default()
            },
            motion: None,
        },
        &backend,
        &mut |_| {},
        &CancelToken::new(),
    )
    .unwrap_err();
    assert_eq!(err.category, wayfarer::ErrorCategory::InputValidation);
    assert_eq!(backend.seen.lock().unwrap().len(), 1);
    assert!(!out2.exists());
}

#[test]
fn a_call_made_with_degraded_parameters_is_not_reused_by_a_later_render() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.png", "b.png"] {
        std::fs::copy(common::demo_image("sintel_0016.png"), dir.path().join(name)).unwrap();
    }
    let project_path = common::write_project(
        dir.path(),
        &common::project_json(&["a.png", "b.png"], &[0, 24], (256, 144), "chained"),
    );
    let project = file::load(&project_path).unwrap();
    let cache_dir = dir.path().join("cache");
    let render_once = |oom: usize| {
        let backend = Flaky {
            inner: Builtin::default(),
            oom: oom.into(),
            invalid: false,
            seen: Default::default(),
        };
        let mut notes = Vec::new();
        let summary = render::render(
            &render::RenderRequest {
                project: &project,
                project_dir: dir.path(),
                output: &dir.path().join("out.mp4"),
                encode: EncodeOptions::default(),
                options: &render::RenderOptions {
                    retry: wayfarer::generate::retry::RetryPolicy {
                        max_attempts: 4,
                        base_delay: std::time::Duration::from_millis(1),
                    },
                    cache: Some(render::CallCache::new(cache_dir.clone(), 1 << 30)),
                    ..Default::default()
                },
                motion: None,
            },
            &backend,
            &mut |e| {
                if let RenderEvent::Note { message, .. } = e {
                    notes.push(message);
                }
            },
            &CancelToken::new(),
        )
        .unwrap();
        (summary, backend.seen.lock().unwrap().len(), notes)
    };
    // Out of memory twice: the call is made with half the steps at 0.75x resolution.
    let (first, attempts, notes) = render_once(2);
    assert_eq!((first.backend_calls, attempts), (1, 3));
    assert!(
        notes
            .iter()
            .any(|n| n.contains("degraded") && n.contains("not kept")),
        "{notes:?}"
    );
    // The next render makes it again as planned, and that one is kept.
    let (second, attempts, _) = render_once(0);
    assert_eq!(
        (second.backend_calls, second.cached_calls, attempts),
        (1, 0, 1)
    );
    let (third, attempts, _) = render_once(0);
    assert_eq!(
        (third.backend_calls, third.cached_calls, attempts),
        (0, 1, 0)
    );
}
