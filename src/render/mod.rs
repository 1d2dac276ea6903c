//! Executing a plan: load anchors, build guides, call the backend, stitch, encode, and
//! publish the result atomically (`OUT.tmp`, then rename).
//!
//! Emits [`RenderEvent`]s for the CLI and the GUI and checks the cancel token between
//! frames. Must not depend on the UI.

pub mod stitch;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::error::{ErrorCategory, Result, UserError};
use crate::generate::retry::{Knobs, RetryPolicy};
use crate::generate::{Backend, CancelToken, GenerationRequest};
use crate::guide::CallGuide;
use crate::media::{self, EncodeOptions, Frame, VideoEncoder};
use crate::plan::{self, Lead, Plan};
use crate::project::{Project, file::tmp_path};
use crate::structure::{MotionTools, StructureMotion};
use stitch::Stitcher;

/// Progress and outcome of a render, in the order they happen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RenderEvent {
    /// The plan is ready and rendering begins.
    Start {
        /// Generation calls to run.
        calls: usize,
        /// Output frames.
        frames: u32,
        /// Backend name.
        backend: String,
        /// Keyframes the planner moved.
        snapped_keyframes: usize,
    },
    /// Work advanced.
    Progress {
        /// What is happening: `loading`, `generating`.
        stage: String,
        /// Current call (0-based), when generating.
        call: usize,
        /// Number of calls.
        calls: usize,
        /// Overall fraction done, `0..=1`.
        fraction: f32,
    },
    /// A call failed and is tried again with changed parameters.
    Retry {
        /// The call (0-based).
        call: usize,
        /// The attempt about to start (2 = first retry).
        attempt: u32,
        /// Category of the failure.
        category: ErrorCategory,
        /// What failed.
        error: String,
        /// What the next attempt changes.
        change: String,
    },
    /// The output is complete and in place.
    Done {
        /// Output path.
        output: PathBuf,
        /// Frames written.
        frames: u32,
        /// Generation calls made.
        calls: usize,
        /// Video duration in seconds.
        duration_secs: f64,
        /// Wall time of the render in seconds.
        elapsed_secs: f64,
    },
    /// The render failed; nothing was written at the output path.
    Error {
        /// Failure category.
        category: ErrorCategory,
        /// What went wrong.
        message: String,
        /// What to do.
        suggestions: Vec<String>,
    },
}

impl RenderEvent {
    /// The event describing `error`.
    pub fn from_error(error: &UserError) -> Self {
        RenderEvent::Error {
            category: error.category,
            message: error.message.clone(),
            suggestions: error.suggestions.clone(),
        }
    }
}

/// What a finished render produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderSummary {
    /// The plan that was rendered.
    pub plan: Plan,
    /// Frames written.
    pub frames: u32,
    /// Backend calls made.
    pub backend_calls: usize,
    /// Distinct structure-video frame pairs whose flow the render needed.
    pub structure_pairs: usize,
    /// Of those, flows estimated in this render (the rest came from the cache).
    pub structure_flows_estimated: usize,
    /// Every retry, in order: the call and what changed.
    pub retries: Vec<String>,
}

/// Renders `project` (whose image paths are relative to `project_dir`) to the MP4 `output`.
///
/// Bad input is reported before anything is written; on any failure or cancel the partial
/// `OUT.tmp` is removed and `output` is left as it was.
pub fn render(
    project: &Project,
    project_dir: &Path,
    output: &Path,
    backend: &mut dyn Backend,
    encode: &EncodeOptions,
    events: &mut dyn FnMut(RenderEvent),
    cancel: &CancelToken,
) -> Result<RenderSummary> {
    // The motion tools (GPU device, flow model) are opened only when a structure video
    // needs them.
    let owned = match project.structure_video {
        Some(_) => Some((
            crate::gpu::select(crate::gpu::Choice::from_env()?)?,
            crate::flow::estimator_from_env()?,
            crate::flow::FlowCache::user(),
        )),
        None => None,
    };
    let tools = owned
        .as_ref()
        .map(|(compute, estimator, cache)| MotionTools {
            compute: compute.as_ref(),
            estimator: estimator.as_ref(),
            cache: cache.as_ref(),
        });
    render_with(
        project,
        project_dir,
        output,
        backend,
        encode,
        events,
        cancel,
        tools.as_ref(),
        &RetryPolicy::default(),
    )
}

/// [`render`] with the tools that analyse a structure video given explicitly.
#[allow(clippy::too_many_arguments)]
pub fn render_with(
    project: &Project,
    project_dir: &Path,
    output: &Path,
    backend: &mut dyn Backend,
    encode: &EncodeOptions,
    events: &mut dyn FnMut(RenderEvent),
    cancel: &CancelToken,
    motion_tools: Option<&MotionTools<'_>>,
    retry_policy: &RetryPolicy,
) -> Result<RenderSummary> {
    let started = Instant::now();
    let plan = plan::plan(project)?;
    check_output_path(output, project_dir, project)?;
    // The folder accepts files and has room, before any time goes into generation.
    crate::generate::preflight::check_output(
        output,
        f64::from(plan.total_frames) * f64::from(plan.width) * f64::from(plan.height),
    )
    .map_err(|mut e| {
        if e.category == ErrorCategory::FileSystem {
            e.category = ErrorCategory::InputValidation;
        }
        e
    })?;
    let calls = plan.calls.len();
    events(RenderEvent::Start {
        calls,
        frames: plan.total_frames,
        backend: backend.name().to_string(),
        snapped_keyframes: plan.snaps.len(),
    });

    let mut anchor_frames = Vec::with_capacity(project.keyframes.len());
    for k in 0..project.keyframes.len() {
        if cancel.is_cancelled() {
            return Err(UserError::cancelled());
        }
        let path = project.image_path(project_dir, k);
        let image = media::load_image(&path).map_err(|mut e| {
            e.message = format!("keyframes[{k}].image: {}", e.message);
            e
        })?;
        anchor_frames.push(media::crop_fit(&image, plan.width, plan.height));
        events(RenderEvent::Progress {
            stage: "loading".into(),
            call: 0,
            calls,
            fraction: 0.0,
        });
    }

    let motion = match (&project.structure_video, motion_tools) {
        (Some(sv), Some(tools)) => {
            let mut progress = |_: f32| {
                events(RenderEvent::Progress {
                    stage: "structure".into(),
                    call: 0,
                    calls,
                    fraction: 0.0,
                })
            };
            let m = StructureMotion::prepare(
                sv,
                project_dir,
                plan.total_frames,
                plan.fps,
                plan.width,
                plan.height,
                tools,
                &mut progress,
                cancel,
            )?;
            Some((m, tools.compute))
        }
        _ => None,
    };

    let tmp = tmp_path(output);
    let result = (|| {
        let encoder = VideoEncoder::create(&tmp, plan.width, plan.height, plan.fps, encode)?;
        let motion_ref = motion.as_ref().map(|(m, c)| (m, *c));
        let frames = run_calls(
            &plan,
            project,
            &anchor_frames,
            encoder,
            backend,
            events,
            cancel,
            motion_ref,
            retry_policy,
        )?;
        Ok::<_, UserError>(frames)
    })();
    let (frames, backend_calls, retries) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, output).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        UserError::io("writing", output, &e)
    })?;
    events(RenderEvent::Done {
        output: output.to_path_buf(),
        frames,
        calls: backend_calls,
        duration_secs: f64::from(frames) / f64::from(plan.fps),
        elapsed_secs: started.elapsed().as_secs_f64(),
    });
    Ok(RenderSummary {
        plan,
        frames,
        backend_calls,
        structure_pairs: motion.as_ref().map_or(0, |(m, _)| m.pairs_needed),
        structure_flows_estimated: motion.as_ref().map_or(0, |(m, _)| m.flows_estimated),
        retries,
    })
}

#[allow(clippy::too_many_arguments)]
fn run_calls(
    plan: &Plan,
    project: &Project,
    anchor_frames: &[Frame],
    encoder: VideoEncoder,
    backend: &mut dyn Backend,
    events: &mut dyn FnMut(RenderEvent),
    cancel: &CancelToken,
    motion: Option<(&StructureMotion, &dyn crate::gpu::Compute)>,
    retry_policy: &RetryPolicy,
) -> Result<(u32, usize, Vec<String>)> {
    let mut retries = Vec::new();
    let calls = plan.calls.len();
    let hold = plan.overlap.max(1) as usize;
    let mut stitcher = Stitcher::new(encoder, hold);
    let mut backend_calls = 0;
    for call in &plan.calls {
        if cancel.is_cancelled() {
            return Err(UserError::cancelled());
        }
        let context = if call.lead == Lead::Context {
            stitcher.context(call.start, call.lead_frames)?
        } else {
            Vec::new()
        };
        let mut guide = CallGuide::build(call, anchor_frames, &context, plan.width, plan.height);
        if let Some((m, compute)) = motion {
            m.apply(call, &mut guide, compute)?;
        }
        let segment = project.segment_for_span(call.first_span);
        let seed = segment.seed.unwrap_or(project.seed);
        let mut knobs = Knobs {
            segment: segment.clone(),
            scale: 1.0,
        };
        let mut failures = 0u32;
        let mut per_kind: Vec<(ErrorCategory, u32)> = Vec::new();
        let frames = loop {
            let (w, h) = scaled_size(plan, knobs.scale);
            let scaled_guide;
            let guide_used = if (w, h) == (plan.width, plan.height) {
                &guide
            } else {
                let mut g = guide.clone();
                g.frames = g.frames.iter().map(|f| media::crop_fit(f, w, h)).collect();
                scaled_guide = g;
                &scaled_guide
            };
            let request = GenerationRequest {
                call,
                guide: guide_used,
                segment: &knobs.segment,
                seed,
                width: w,
                height: h,
            };
            let mut last_sent = -1.0f32;
            let mut progress = |f: f32| {
                // Throttle to steps of 5 % of a call.
                if f - last_sent >= 0.05 || f >= 1.0 {
                    last_sent = f;
                    events(RenderEvent::Progress {
                        stage: "generating".into(),
                        call: call.index,
                        calls,
                        fraction: (call.index as f32 + f) / calls as f32,
                    });
                }
            };
            let error = match backend.generate(&request, &mut progress, cancel) {
                Ok(frames) if (w, h) == (plan.width, plan.height) => break frames,
                Ok(frames) => {
                    break frames
                        .iter()
                        .map(|f| media::crop_fit(f, plan.width, plan.height))
                        .collect();
                }
                Err(e) => e,
            };
            failures += 1;
            let same_kind = match per_kind.iter_mut().find(|(c, _)| *c == error.category) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    per_kind.push((error.category, 1));
                    1
                }
            };
            let Some(retry) = retry_policy.next(failures, same_kind, &knobs, &error) else {
                let mut error = error;
                if failures > 1 {
                    error.message = format!(
                        "call {} failed after {failures} attempts: {}",
                        call.index, error.message
                    );
                }
                return Err(error);
            };
            events(RenderEvent::Retry {
                call: call.index,
                attempt: failures + 1,
                category: error.category,
                error: error.message.clone(),
                change: retry.change.clone(),
            });
            retries.push(format!("call {}: {}", call.index, retry.change));
            let until = std::time::Instant::now() + retry.delay;
            while std::time::Instant::now() < until {
                if cancel.is_cancelled() {
                    return Err(UserError::cancelled());
                }
                std::thread::sleep(std::time::Duration::from_millis(10).min(retry.delay));
            }
            knobs = retry.knobs;
        };
        backend_calls += 1;
        stitcher.add(call, frames)?;
    }
    let written = stitcher.next_frame();
    let encoder = stitcher.finish()?;
    if written != plan.total_frames {
        return Err(UserError::new(
            ErrorCategory::GenerationPipeline,
            format!(
                "internal error: stitched {written} frames, planned {}",
                plan.total_frames
            ),
        ));
    }
    encoder.finish()?;
    Ok((written, backend_calls, retries))
}

/// Refuses output paths that would destroy user data or cannot be written.
fn check_output_path(output: &Path, project_dir: &Path, project: &Project) -> Result<()> {
    if output.as_os_str().is_empty() {
        return Err(UserError::input("output: empty path").hint("pass -o OUT.mp4"));
    }
    if output.is_dir() {
        return Err(
            UserError::input(format!("output {}: this is a folder", output.display()))
                .hint("give a file name, e.g. -o video.mp4"),
        );
    }
    let canonical_out = output.canonicalize().ok();
    for k in 0..project.keyframes.len() {
        let image = project.image_path(project_dir, k);
        if canonical_out.is_some() && image.canonicalize().ok() == canonical_out {
            return Err(UserError::input(format!(
                "output {}: this is keyframes[{k}].image; rendering would overwrite it",
                output.display()
            ))
            .hint("choose another output file"));
        }
    }
    if let Some(ext) = output.extension().and_then(|e| e.to_str())
        && ext.eq_ignore_ascii_case("json")
    {
        return Err(UserError::input(format!(
            "output {}: refusing to write a video over a .json file (a project?)",
            output.display()
        ))
        .hint("use an .mp4 name"));
    }
    Ok(())
}

/// The call size for a resolution factor, rounded to the model's size multiple.
fn scaled_size(plan: &Plan, scale: f32) -> (u32, u32) {
    if scale >= 1.0 {
        return (plan.width, plan.height);
    }
    let m = plan.profile.size_multiple.max(2);
    let round = |v: u32| (((v as f32 * scale) / m as f32).round() as u32).max(1) * m;
    (round(plan.width), round(plan.height))
}
