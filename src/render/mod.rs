//! Executing a plan: load anchors, build guides, call the backend, stitch, encode, and
//! publish the result atomically (a private partial file next to the output, then rename).
//!
//! Emits [`RenderEvent`]s for the CLI and the GUI and checks the cancel token between
//! frames. Must not depend on the UI.

mod anchors;
mod attempts;
pub mod cache;
pub mod costs;
pub mod memory;
mod output;
mod session;
pub mod stitch;

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::error::{ErrorCategory, Result, UserError};
use crate::fidelity::{QualityProbe, QualityReport, SeamAligner};
use crate::generate::retry::RetryPolicy;
use crate::generate::{Backend, CancelToken, GenerationRequest};
use crate::guide::CallGuide;
use crate::media::{self, ExportFormat, Frame, Writer};
use crate::plan::{self, Lead, Plan};
use crate::project::Project;
use crate::structure::{MotionTools, StructureMotion};
use attempts::{Generated, generate_with_retries};
pub use cache::CallCache;
pub use costs::CostStore;
use output::check_output_path;
pub use output::{
    PartialOutput, is_same_file, refuse_input_as_output, refuse_special_output, sweep_stale,
};
pub use session::{RenderRequest, Session, output_items};
use stitch::{Discard, Stitcher};

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
        /// Where generation runs (`ONNX Runtime on cuda`, `cpu`, the servers).
        device: String,
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
        /// Generating: the sampler step and steps of the call, when the backend reports them;
        /// structure: frame pairs done and in all; encoding: frames written and in all.
        #[serde(skip_serializing_if = "Option::is_none")]
        step: Option<(u32, u32)>,
        /// Estimated seconds left, once there is enough progress to tell.
        #[serde(skip_serializing_if = "Option::is_none")]
        eta_secs: Option<f64>,
    },
    /// Something the user should know that does not stop the render: a project field
    /// that is ignored, a cache that does not work.
    Warning {
        /// What is wrong and what it means.
        message: String,
    },
    /// Something worth showing about a call: where it runs, a failover, a cache hit.
    Note {
        /// The call (0-based).
        call: usize,
        /// What happened.
        message: String,
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
        /// Seconds the plan predicted for the calls generated in this render (their sum).
        predicted_secs: f64,
        /// Seconds those calls took (their sum; retries included).
        generation_secs: f64,
        /// Seams, colour drift and anchors, measured on the written video
        /// ([`crate::fidelity::quality`]).
        quality: QualityReport,
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
    /// Calls the backend generated in this render.
    pub backend_calls: usize,
    /// Calls reused from the call cache (finished by an earlier render).
    pub cached_calls: usize,
    /// Distinct structure-video frame pairs whose flow the render needed.
    pub structure_pairs: usize,
    /// Of those, flows estimated in this render (the rest came from the cache).
    pub structure_flows_estimated: usize,
    /// Every retry, in order: the call and what changed.
    pub retries: Vec<String>,
    /// Seconds the plan predicted for the calls generated in this render.
    pub predicted_secs: f64,
    /// Seconds those calls took.
    pub generation_secs: f64,
    /// Seams, colour drift and anchors, measured on the written video.
    pub quality: QualityReport,
}

/// How a render runs, beyond the project: retries, the per-call output cache and seeds
/// chosen for a re-roll.
#[derive(Debug, Default)]
pub struct RenderOptions {
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Where finished calls are kept so a later render resumes; `None` keeps nothing.
    pub cache: Option<CallCache>,
    /// Spans generated with another seed: `(span, seed)` (`wayfarer render --regenerate`).
    pub reseed: Vec<(usize, u64)>,
    /// Timings of finished calls per backend: the plan uses the cost law fitted from them,
    /// and each call generated at its first attempt adds one. `None`: profile defaults.
    pub costs: Option<CostStore>,
}

impl RenderOptions {
    /// Default retries with the per-user call cache (resume on by default).
    pub fn user() -> Self {
        Self {
            cache: CallCache::user(),
            costs: CostStore::user(),
            ..Self::default()
        }
    }
}

/// New seeds for re-rolling `spans` (`--regenerate`), from `stamp` (e.g. the clock): 32-bit,
/// distinct for every span of one re-roll (an odd step is a bijection modulo 2^32).
pub fn reroll_seeds(spans: &[usize], stamp: u64) -> Vec<(usize, u64)> {
    const STEP: u64 = 0x9E37_79B1;
    let base = (stamp ^ (stamp >> 32)) & 0xFFFF_FFFF;
    spans
        .iter()
        .enumerate()
        .map(|(i, &span)| (span, (base + (i as u64 + 1) * STEP) & 0xFFFF_FFFF))
        .collect()
}

/// The plan a render with the backend `config` describes will use: with the cost law
/// measured on that backend in `costs` (the profile's law when there is none).
pub fn plan_for(
    project: &Project,
    config: &crate::generate::BackendConfig,
    costs: Option<&CostStore>,
) -> Result<Plan> {
    let measured = match costs {
        Some(store) => store.model(&crate::generate::backend_identity(config)?),
        None => None,
    };
    plan::plan_with_costs(project, measured.as_ref())
}

/// Renders a request with `backend`: the project's image paths are relative to
/// `request.project_dir`; events go to `events`; `cancel` stops it.
///
/// Bad input is reported before anything is written; on any failure, cancel or panic the
/// partial file ([`PartialOutput`]) is removed and the output is left as it was.
pub fn render(
    request: &RenderRequest<'_>,
    backend: &dyn Backend,
    events: &mut dyn FnMut(RenderEvent),
    cancel: &CancelToken,
) -> Result<RenderSummary> {
    match (request.motion, &request.project.structure_video) {
        (None, Some(_)) => {
            // The motion tools (GPU device, flow model) are opened only when a structure
            // video needs them.
            let compute = crate::gpu::select(crate::gpu::Choice::from_env()?)?;
            let estimator = crate::flow::estimator_from_env()?;
            let cache = crate::flow::FlowCache::user();
            let tools = MotionTools {
                compute: compute.as_ref(),
                estimator: estimator.as_ref(),
                cache: cache.as_ref(),
            };
            run_render(request, Some(&tools), backend, events, cancel)
        }
        (tools, _) => run_render(request, tools, backend, events, cancel),
    }
}

fn run_render(
    request: &RenderRequest<'_>,
    motion_tools: Option<&MotionTools<'_>>,
    backend: &dyn Backend,
    events: &mut dyn FnMut(RenderEvent),
    cancel: &CancelToken,
) -> Result<RenderSummary> {
    let RenderRequest {
        project,
        project_dir,
        output,
        ref encode,
        options,
        ..
    } = *request;
    let started = Instant::now();
    let measured = options
        .costs
        .as_ref()
        .and_then(|c| c.model(&backend.identity()));
    let plan = plan::plan_with_costs(project, measured.as_ref())?;
    check_output_path(output, project_dir, project, encode.format)?;
    // The request fits the backend's modes and limits, before anything else runs.
    let shape = crate::generate::modes::RequestShape::of(project, Some(&plan));
    backend.capabilities().check(backend.name(), &shape)?;
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
    // The video is written to a file of its own next to the output, removed on every
    // failure, cancel or panic, and renamed over the output only when complete.
    let partial = output::Partial::begin(output, encode.format)?;
    let calls = plan.calls.len();
    events(RenderEvent::Start {
        calls,
        frames: plan.total_frames,
        backend: backend.name().to_string(),
        device: backend.device(),
        snapped_keyframes: plan.snaps.len(),
    });
    // A cache that does not work costs nothing now but resume and reuse later: said once.
    if let Some(w) = options
        .cache
        .as_ref()
        .and_then(|c| c.check(motion_tools.and_then(|t| t.cache).or(backend.flow_cache())))
    {
        events(RenderEvent::Warning { message: w });
    }

    // Every keyframe image is checked now (its header); each is loaded when a call needs it.
    let anchors = anchors::Anchors::new(project, project_dir, plan.width, plan.height);
    anchors.check_all(cancel, &mut || {
        events(RenderEvent::Progress {
            stage: "loading".into(),
            call: 0,
            calls,
            fraction: 0.0,
            step: None,
            eta_secs: None,
        });
    })?;

    let motion = match (&project.structure_video, motion_tools) {
        (Some(sv), Some(tools)) => {
            // Pair i of n, with the time left from the pairs done so far.
            let analysis = Instant::now();
            let mut progress = |done: u32, total: u32| {
                let elapsed = analysis.elapsed().as_secs_f64();
                events(RenderEvent::Progress {
                    stage: "structure".into(),
                    call: 0,
                    calls,
                    fraction: done as f32 / total.max(1) as f32,
                    step: Some((done, total)),
                    eta_secs: (done > 0)
                        .then(|| elapsed / f64::from(done) * f64::from(total - done)),
                });
            };
            let m = StructureMotion::prepare(
                sv,
                project_dir,
                &crate::structure::Timeline::of(&plan),
                tools,
                &mut progress,
                cancel,
            )?;
            Some((m, tools.compute))
        }
        _ => None,
    };

    let result = (|| {
        let encoder = Writer::create(partial.path(), plan.width, plan.height, plan.fps, encode)?;
        let motion_ref = motion.as_ref().map(|(m, c)| (m, *c));
        run_calls(
            &Job {
                plan: &plan,
                project,
                anchors: &anchors,
                backend,
                motion: motion_ref,
                options,
                aligner: (backend.generates()
                    && plan.calls.iter().any(|c| c.lead == Lead::Context))
                .then(|| std::sync::Arc::new(SeamAligner::default())),
            },
            encoder,
            events,
            cancel,
        )
    })();
    let outcome = result?;
    events(RenderEvent::Progress {
        stage: "measuring".into(),
        call: calls.saturating_sub(1),
        calls,
        fraction: 1.0,
        step: None,
        eta_secs: None,
    });
    let quality = measure(&plan, &anchors, (partial.path(), encode.format), cancel)?;
    partial.publish()?;
    events(RenderEvent::Done {
        output: output.to_path_buf(),
        frames: outcome.frames,
        calls: outcome.backend_calls,
        duration_secs: f64::from(outcome.frames) / f64::from(plan.fps),
        elapsed_secs: started.elapsed().as_secs_f64(),
        predicted_secs: outcome.predicted_secs,
        generation_secs: outcome.generation_secs,
        quality: quality.clone(),
    });
    Ok(RenderSummary {
        plan,
        frames: outcome.frames,
        backend_calls: outcome.backend_calls,
        cached_calls: outcome.cached_calls,
        structure_pairs: motion.as_ref().map_or(0, |(m, _)| m.pairs_needed),
        structure_flows_estimated: motion.as_ref().map_or(0, |(m, _)| m.flows_estimated),
        retries: outcome.retries,
        predicted_secs: outcome.predicted_secs,
        generation_secs: outcome.generation_secs,
        quality,
    })
}

/// The quality report of the output written at `path` in `format`, read back frame by
/// frame.
fn measure(
    plan: &Plan,
    anchors: &anchors::Anchors<'_>,
    (path, format): (&std::path::Path, ExportFormat),
    cancel: &CancelToken,
) -> Result<QualityReport> {
    let load = |k: usize| anchors.get(k);
    let mut probe = QualityProbe::new(plan, &load);
    // Frames are read on one thread and measured on this one, at once.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Frame>(4);
    let read = std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("wayfarer-measure".into())
            .spawn_scoped(scope, move || -> Result<()> {
                if format == ExportFormat::Png {
                    for file in media::png_sequence_files(path)? {
                        if cancel.is_cancelled() || tx.send(media::load_image(&file)?).is_err() {
                            break;
                        }
                    }
                } else {
                    let mut decoder = media::VideoDecoder::open(path)?;
                    while let Some(frame) = decoder.next_frame()? {
                        if cancel.is_cancelled() || tx.send(frame).is_err() {
                            break;
                        }
                    }
                }
                Ok(())
            })
            .map_err(|e| {
                UserError::new(
                    ErrorCategory::SystemResource,
                    format!("cannot start a thread to measure the video: {e}"),
                )
            })?;
        let mut measured = Ok(());
        for frame in rx {
            measured = probe.push(frame);
            if measured.is_err() {
                break;
            }
        }
        measured?;
        reader.join().unwrap_or_else(|_| {
            Err(UserError::new(
                ErrorCategory::GenerationPipeline,
                "measuring the video stopped unexpectedly",
            ))
        })
    });
    read?;
    if cancel.is_cancelled() {
        return Err(UserError::cancelled());
    }
    Ok(probe.finish())
}

/// What the call loop needs, shared by the worker threads.
struct Job<'a> {
    plan: &'a Plan,
    project: &'a Project,
    anchors: &'a anchors::Anchors<'a>,
    backend: &'a dyn Backend,
    motion: Option<(&'a StructureMotion, &'a dyn crate::gpu::Compute)>,
    options: &'a RenderOptions,
    /// Aligns chained overlaps before the crossfade (generating backends).
    aligner: Option<std::sync::Arc<SeamAligner>>,
}

/// What the call loop produced.
struct Outcome {
    frames: u32,
    backend_calls: usize,
    cached_calls: usize,
    retries: Vec<String>,
    predicted_secs: f64,
    generation_secs: f64,
}

/// Messages from the workers to the thread that stitches.
enum Msg {
    Event(RenderEvent),
    Retry(String),
    Done {
        call: usize,
        frames: Vec<Frame>,
        /// Seconds the generation took; `None` when reused from the call cache.
        generation_secs: Option<f64>,
    },
    Failed(UserError),
}

/// Calls that depend on each other's output: a chain starts at each call that does not
/// take context frames from the call before it.
fn chains(plan: &Plan) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for call in &plan.calls {
        match out.last_mut() {
            Some(chain) if call.lead == Lead::Context => chain.push(call.index),
            _ => out.push(vec![call.index]),
        }
    }
    out
}

/// Runs every call (independent chains in parallel when the backend has several slots,
/// the calls of a chain in order), stitching outputs in plan order as they arrive.
fn run_calls(
    job: &Job<'_>,
    encoder: Writer,
    events: &mut dyn FnMut(RenderEvent),
    cancel: &CancelToken,
) -> Result<Outcome> {
    let plan = job.plan;
    let calls = plan.calls.len();
    let hold = plan.overlap.max(1) as usize;
    let chains = chains(plan);
    let slots = job
        .backend
        .capabilities()
        .parallel_slots
        .clamp(1, chains.len().max(1));
    let stop = CancelToken::new();
    let next_chain = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let mut outcome = Outcome {
        frames: 0,
        backend_calls: 0,
        cached_calls: 0,
        predicted_secs: 0.0,
        generation_secs: 0.0,
        retries: Vec::new(),
    };
    let mut failure: Option<UserError> = None;
    let mut stitcher = Stitcher::new(encoder, hold).with_aligner(job.aligner.clone());
    let mut waiting: std::collections::BTreeMap<usize, Vec<Frame>> =
        std::collections::BTreeMap::new();
    let mut next_to_stitch = 0usize;
    let mut fractions = vec![0.0f32; calls];
    std::thread::scope(|scope| {
        // Bounded: a worker waits while the stitcher is behind, so finished calls do not pile
        // up in memory.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(64);
        for _ in 0..slots {
            let tx = tx.clone();
            let (chains, next_chain, stop) = (&chains, &next_chain, &stop);
            scope.spawn(move || {
                loop {
                    let i = next_chain.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(chain) = chains.get(i) else { break };
                    if let Err(e) = run_chain(job, chain, &tx, stop) {
                        let _ = tx.send(Msg::Failed(e));
                        break;
                    }
                    if stop.is_cancelled() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        loop {
            if cancel.is_cancelled() {
                stop.cancel();
                failure.get_or_insert_with(UserError::cancelled);
            }
            let msg = match rx.recv_timeout(std::time::Duration::from_millis(50)) {
                Ok(m) => m,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            };
            if failure.is_some() {
                // Draining: workers are stopping.
                continue;
            }
            match msg {
                Msg::Event(RenderEvent::Progress {
                    stage,
                    call,
                    fraction,
                    step,
                    ..
                }) => {
                    fractions[call] = fraction;
                    let total: f32 = fractions.iter().sum::<f32>() / calls as f32;
                    let elapsed = started.elapsed().as_secs_f64();
                    // Once every call is generated, what is left (stitching, encoding) is
                    // not estimated from the calls: no "0 s left" while work remains.
                    let eta_secs = (total > 0.01 && total < 0.999)
                        .then(|| elapsed / f64::from(total) * f64::from(1.0 - total));
                    events(RenderEvent::Progress {
                        stage,
                        call,
                        calls,
                        fraction: total,
                        step,
                        eta_secs,
                    });
                }
                Msg::Event(e) => events(e),
                Msg::Retry(r) => outcome.retries.push(r),
                Msg::Done {
                    call,
                    frames,
                    generation_secs,
                } => {
                    fractions[call] = 1.0;
                    match generation_secs {
                        None => outcome.cached_calls += 1,
                        Some(secs) => {
                            outcome.backend_calls += 1;
                            outcome.generation_secs += secs;
                            outcome.predicted_secs +=
                                plan.predicted_secs.get(call).copied().unwrap_or(0.0);
                        }
                    }
                    waiting.insert(call, frames);
                    while let Some(frames) = waiting.remove(&next_to_stitch) {
                        if let Err(e) = stitcher.add(&plan.calls[next_to_stitch], frames) {
                            stop.cancel();
                            failure = Some(e);
                            break;
                        }
                        next_to_stitch += 1;
                    }
                }
                Msg::Failed(e) => {
                    stop.cancel();
                    failure = Some(e);
                }
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    if next_to_stitch != calls {
        return Err(UserError::new(
            ErrorCategory::GenerationPipeline,
            format!("internal error: {next_to_stitch} of {calls} calls finished"),
        ));
    }
    let written = stitcher.next_frame();
    events(RenderEvent::Progress {
        stage: "encoding".into(),
        call: calls - 1,
        calls,
        fraction: 1.0,
        // Every frame is stitched and handed to the encoder, which now writes its last.
        step: Some((written, plan.total_frames)),
        eta_secs: None,
    });
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
    outcome.frames = written;
    Ok(outcome)
}

/// Runs the calls of one chain in order on a worker thread.
fn run_chain(
    job: &Job<'_>,
    chain: &[usize],
    tx: &std::sync::mpsc::SyncSender<Msg>,
    stop: &CancelToken,
) -> Result<()> {
    let plan = job.plan;
    let hold = plan.overlap.max(1) as usize;
    let mut local: Option<Stitcher<Discard>> = None;
    for &index in chain {
        if stop.is_cancelled() {
            return Ok(());
        }
        let call = &plan.calls[index];
        let context = match (&local, call.lead) {
            (Some(s), Lead::Context) => s.context(call.start, call.lead_frames)?,
            _ => Vec::new(),
        };
        let mut held = std::collections::HashMap::new();
        for a in &call.anchors {
            held.insert(a.keyframe, job.anchors.get(a.keyframe)?);
        }
        let mut guide = CallGuide::build_from(
            call,
            |k| held.get(&k).map(|f| (**f).clone()),
            &context,
            plan.width,
            plan.height,
        );
        drop(held);
        if let Some((m, compute)) = job.motion {
            m.apply(call, &mut guide, compute)?;
            for message in compute.take_notes() {
                let _ = tx.send(Msg::Event(RenderEvent::Note {
                    call: index,
                    message,
                }));
            }
        }
        let segment = job.project.segment_for_span(call.first_span);
        let seed = job
            .options
            .reseed
            .iter()
            .find(|(span, _)| (call.first_span..=call.last_span).contains(span))
            .map_or(segment.seed.unwrap_or(job.project.seed), |(_, s)| *s);
        let request = GenerationRequest {
            call,
            guide: &guide,
            segment,
            seed,
            width: plan.width,
            height: plan.height,
            fps: plan.fps,
        };
        let key = job
            .options
            .cache
            .as_ref()
            .map(|_| CallCache::key(&job.backend.identity(), &request));
        let cached = match (&job.options.cache, &key) {
            (Some(cache), Some(key)) => cache
                .get(key)
                .filter(|f| f.len() == call.len() as usize)
                .filter(|f| {
                    f.iter()
                        .all(|f| (f.width, f.height) == (plan.width, plan.height))
                }),
            _ => None,
        };
        let (frames, generation_secs) = if let Some(frames) = cached {
            let _ = tx.send(Msg::Event(RenderEvent::Note {
                call: index,
                message: "finished in an earlier render; reused".into(),
            }));
            (frames, None)
        } else {
            let began = Instant::now();
            let Generated {
                frames,
                attempts,
                degraded,
            } = generate_with_retries(job, &request, tx, stop)?;
            let secs = began.elapsed().as_secs_f64();
            // A call made with degraded parameters is not what the project asks for: it
            // is not kept for resume, so a later render makes it again as planned.
            match (&job.options.cache, &key, degraded) {
                (Some(cache), Some(key), None) => {
                    if let Some(message) = cache.put(key, &frames) {
                        let _ = tx.send(Msg::Event(RenderEvent::Warning { message }));
                    }
                }
                (Some(_), Some(_), Some(changes)) => {
                    let _ = tx.send(Msg::Event(RenderEvent::Note {
                        call: index,
                        message: format!(
                            "made with degraded parameters ({changes}); not kept for \
                             resume, the next render makes this call again as planned"
                        ),
                    }));
                }
                _ => {}
            }
            // Only first attempts describe the backend's cost law (a retry degrades).
            if let (Some(costs), 1) = (&job.options.costs, attempts) {
                costs.record(
                    &job.backend.identity(),
                    crate::plan::CostSample {
                        frames: call.len(),
                        megapixels: crate::plan::cost::megapixels(plan.width, plan.height),
                        secs,
                    },
                );
            }
            (frames, Some(secs))
        };
        // Generated frames are pulled toward the colour of the frames the call keeps (the
        // cache holds them as generated, so a change of the settings costs no call).
        let mut frames = frames;
        if job.backend.generates() {
            crate::fidelity::match_call(&guide, &mut frames, &job.project.color_match);
        }
        let stitcher = local.get_or_insert_with(|| {
            Stitcher::starting_at(Discard, hold, call.start, call.lead, call.lead_frames)
                .with_aligner(job.aligner.clone())
        });
        stitcher.add_tail(call, &frames)?;
        let _ = tx.send(Msg::Done {
            call: index,
            frames,
            generation_secs,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_rolled_segments_get_distinct_seeds() {
        for stamp in [0u64, 1, 1 << 40, u64::MAX, 1_796_173_218_000_000_000] {
            let seeds = reroll_seeds(&[0, 1, 2, 3], stamp);
            let mut values: Vec<u64> = seeds.iter().map(|(_, s)| *s).collect();
            assert!(values.iter().all(|&s| s < 1 << 32));
            values.sort_unstable();
            values.dedup();
            assert_eq!(values.len(), 4, "stamp {stamp}: {seeds:?}");
        }
    }
}
