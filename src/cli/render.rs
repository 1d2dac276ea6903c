//! `wayfarer render`: a project to an MP4 (or only its pre-flight checks, `--check`).

use std::path::PathBuf;

use wayfarer::generate::{self, BackendConfig};
use wayfarer::media::{EncodeOptions, ExportFormat};
use wayfarer::project::file as project_file;
use wayfarer::render::{self, RenderEvent, RenderRequest, RenderSummary};
use wayfarer::{UserError, plan::cost};

use super::BackendKind;
use super::support::{crf_value, whole};

/// Render a project to an MP4.
#[derive(clap::Args)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "command-line switches, each its own flag"
)]
pub struct RenderArgs {
    /// Project file (JSON).
    project: PathBuf,
    /// Treat fields of the project that Wayfarer does not know (typos) as errors (exit 2)
    /// instead of warnings.
    #[arg(long)]
    strict: bool,
    /// Output video (.mp4; .mov for ProRes) or, with --format png, a folder for the
    /// pictures; written next to it and put in place when complete.
    #[arg(short, long)]
    output: PathBuf,
    /// What to write: h264 (web, the default), h264-444 (full colour, for editing), hevc,
    /// prores (ProRes 422 HQ .mov), png (a folder of pictures), h264-nvenc or hevc-nvenc
    /// (NVIDIA GPU); `wayfarer doctor` lists those that work here.
    #[arg(long, default_value = "h264", value_parser = format_value)]
    format: ExportFormat,
    /// Generator backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Builtin)]
    backend: BackendKind,
    /// ComfyUI server, e.g. http://127.0.0.1:8188 (repeat for several servers).
    #[arg(long = "server")]
    servers: Vec<String>,
    /// ComfyUI API-format workflow template (default: the shipped Wan VACE template).
    #[arg(long)]
    template: Option<PathBuf>,
    /// ONNX model manifest (TOML) for the onnx backend.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Longest one ComfyUI call may run, in seconds (1 to 2592000, 30 days).
    #[arg(long, default_value_t = 3600, value_parser = whole::<1, 2_592_000>)]
    call_timeout: u64,
    /// Longest one HTTP request to a ComfyUI server may take (uploads and downloads
    /// included), in seconds (1 to 86400).
    #[arg(long, default_value_t = 120, value_parser = whole::<1, 86_400>)]
    request_timeout: u64,
    /// Longest a pre-flight check may wait for a ComfyUI server's answer, in seconds
    /// (1 to 3600); servers are checked at once, so a stalled one costs this once.
    #[arg(long, default_value_t = 10, value_parser = whole::<1, 3600>)]
    preflight_timeout: u64,
    /// How long a call waits for a ComfyUI server that stopped answering (a restart)
    /// to come back, in seconds (0 to 86400).
    #[arg(long, default_value_t = 120, value_parser = whole::<0, 86_400>)]
    reconnect_timeout: u64,
    /// Re-roll segment N (numbered from 1) with a new seed; repeatable.
    #[arg(long = "regenerate", value_name = "N")]
    regenerate: Vec<usize>,
    /// Generate every call again instead of reusing calls finished by an earlier render.
    #[arg(long)]
    no_resume: bool,
    /// Constant rate factor of H.264 and HEVC (0-51, lower is better).
    #[arg(long, default_value_t = EncodeOptions::default().crf, value_parser = crf_value)]
    crf: u8,
    /// Encoder preset (ultrafast … veryslow).
    #[arg(long, default_value_t = EncodeOptions::default().preset)]
    preset: String,
    /// Print one JSON event per line (start/progress/done/error) instead of a progress bar.
    #[arg(long)]
    json_events: bool,
    /// Run only the pre-flight checks and print their report.
    #[arg(long)]
    check: bool,
}

impl RenderArgs {
    /// Renders the project, or runs its pre-flight checks with `--check`.
    pub fn run(self) -> Result<(), UserError> {
        let config = BackendConfig {
            kind: self.backend.name().into(),
            servers: self.servers.clone(),
            template: self.template.clone(),
            model: self.model.clone(),
            call_timeout_secs: self.call_timeout,
            request_timeout_secs: self.request_timeout,
            reconnect_timeout_secs: self.reconnect_timeout,
            preflight_timeout_secs: self.preflight_timeout,
        };
        if self.check {
            return self.check(&config);
        }
        let json = self.json_events;
        let mut rendered = false;
        let result = self.render(&config, &mut rendered);
        // A failure inside the session was already sent as an event.
        if let (Err(e), true, false) = (&result, json, rendered) {
            super::json_line(&RenderEvent::from_error(e));
        }
        result
    }

    /// The project, its warnings said as `--json-events` and `--strict` ask.
    fn load(&self) -> Result<wayfarer::project::Project, UserError> {
        let warnings = super::Warnings {
            strict: self.strict,
            json: self.json_events,
        };
        super::load_project(&self.project, warnings)
    }

    /// `--check`: the pre-flight report; an error when a check fails.
    fn check(&self, config: &BackendConfig) -> Result<(), UserError> {
        let project = self.load()?;
        let dir = project_file::project_dir(&self.project);
        let mut report = generate::preflight(&project, &dir, &self.output, config);
        report.items.extend(render::output_items(
            &project,
            &dir,
            &self.output,
            self.format,
        ));
        if self.json_events {
            super::json_line(&report);
        } else {
            print!("{report}");
        }
        report.first_failure().map_or(Ok(()), Err)
    }

    /// Loads the project, opens a render session and runs it; `in_session` turns true
    /// once the session reports its own failures.
    fn render(&self, config: &BackendConfig, in_session: &mut bool) -> Result<(), UserError> {
        let project = self.load()?;
        let dir = project_file::project_dir(&self.project);
        render::refuse_input_as_output(&self.output, &project, &dir, Some(&self.project))?;
        let spans = project.span_count();
        if let Some(bad) = self.regenerate.iter().find(|&&n| n == 0 || n > spans) {
            return Err(UserError::input(format!(
                "--regenerate {bad}: the project has {spans} segment(s), numbered 1 to {spans}"
            ))
            .hint(format!("give a segment number from 1 to {spans}")));
        }
        // Segments are numbered from 1 for people, from 0 inside.
        let regenerate: Vec<usize> = self.regenerate.iter().map(|n| n - 1).collect();
        let session = render::Session::open(config)?;
        let mut options = render::RenderOptions::user();
        if self.no_resume {
            options.cache = None;
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        options.reseed = render::reroll_seeds(&regenerate, stamp);
        let mut request = RenderRequest::new(&project, &dir, &self.output, &options);
        request.encode = EncodeOptions {
            crf: self.crf,
            preset: self.preset.clone(),
            format: self.format,
        };
        let cancel = super::cancel_on_signals();
        let bar = super::progress_bar(
            self.json_events,
            1000,
            "{spinner} {msg:<24} [{bar:40}] {percent:>3}% eta {eta}",
        );
        let json = self.json_events;
        let mut on_event = |event: RenderEvent| {
            if json {
                super::json_line(&event);
            }
            show_event(&bar, &event, json);
        };
        *in_session = true;
        let summary = session.run(&request, &mut on_event, &cancel)?;
        bar.finish_and_clear();
        if !json {
            // The built-in backend is not colour matched: its frames are the keyframes' own.
            let color_match =
                (!matches!(self.backend, BackendKind::Builtin)).then_some(project.color_match);
            self.announce(&summary, &options.reseed, color_match);
        }
        Ok(())
    }

    /// What a finished render says on standard error.
    fn announce(
        &self,
        summary: &RenderSummary,
        reseed: &[(usize, u64)],
        color_match: Option<wayfarer::fidelity::ColorMatch>,
    ) {
        for snap in &summary.plan.snaps {
            eprintln!(
                "note: keyframe {} moved {} -> {}: {}",
                snap.keyframe, snap.from, snap.to, snap.reason
            );
        }
        eprintln!(
            "wrote {} ({} frames, {} calls generated, {} reused from earlier renders)",
            self.output.display(),
            summary.frames,
            summary.backend_calls,
            summary.cached_calls
        );
        if summary.backend_calls > 0 {
            eprintln!(
                "generation took {}, the plan predicted {} ({})",
                cost::secs_text(summary.generation_secs),
                cost::secs_text(summary.predicted_secs),
                summary.plan.cost_model.source
            );
        }
        for line in quality_lines(&summary.quality, color_match) {
            eprintln!("{line}");
        }
        for (span, seed) in reseed {
            eprintln!(
                "segment {} re-rolled with seed {seed}; to keep it, set its \"seed\" to {seed} in the project",
                span + 1
            );
        }
    }
}

/// `--format`: a format's name.
fn format_value(text: &str) -> Result<ExportFormat, String> {
    ExportFormat::from_name(text).ok_or_else(|| {
        let names: Vec<&str> = ExportFormat::ALL.iter().map(|f| f.name()).collect();
        format!("no format {text:?}; use one of: {}", names.join(", "))
    })
}

/// The quality report in words: the worst join, the worst call and the keyframes.
/// `color_match`: the project's settings when the backend's frames are colour matched
/// (`None` for the built-in backend).
pub fn quality_lines(
    q: &wayfarer::fidelity::QualityReport,
    color_match: Option<wayfarer::fidelity::ColorMatch>,
) -> Vec<String> {
    use wayfarer::fidelity::quality::{DRIFT_LIMIT, SEAM_LIMIT};
    let mut out = vec![format!(
        "quality, measured on the {} written frames:",
        q.frames
    )];
    match q.worst_join() {
        Some(j) => out.push(format!(
            "  worst join: into call {} at frame {}, seam {:.2} — {}",
            j.call,
            j.frame,
            j.seam,
            if j.seam > SEAM_LIMIT {
                format!(
                    "it jumps more than the video around it; re-roll with --regenerate {}",
                    j.regenerate
                )
            } else {
                format!("fine (above {SEAM_LIMIT} shows)")
            }
        )),
        None => out.push("  joins: none (one call)".into()),
    }
    if let Some(c) = q.worst_call() {
        out.push(format!(
            "  worst colour drift: call {} (frames {} to {}), {:.1} dE on average, {:.1} at most — {}",
            c.call,
            c.frames.0,
            c.frames.1,
            c.drift_de,
            c.peak_drift_de,
            if c.drift_de > DRIFT_LIMIT {
                match color_match {
                    Some(m) => {
                        let fix = if m.is_active() {
                            "raise the project's \"color_match\" strength"
                        } else {
                            "turn colour match on (\"color_match\": {\"method\": \"lab\"} in the project)"
                        };
                        format!(
                            "its colour moved away from the keyframes; re-roll with --regenerate {} or {fix}",
                            c.regenerate
                        )
                    }
                    None => format!(
                        "its colours stray from a straight blend of the keyframes' (the built-in \
                         backend keeps the pictures' own colours; above {DRIFT_LIMIT} dE shows)"
                    ),
                }
            } else {
                format!("fine (above {DRIFT_LIMIT} dE shows)")
            }
        ));
    }
    let psnrs: Vec<f64> = q.anchors.iter().filter_map(|a| a.psnr_db).collect();
    let exact = q.anchors.len() - psnrs.len();
    if let (Some(low), Some(high)) = (
        psnrs.iter().copied().reduce(f64::min),
        psnrs.iter().copied().reduce(f64::max),
    ) {
        let lowest = q.worst_anchor().map_or(0, |a| a.keyframe);
        out.push(format!(
            "  keyframes: {low:.1} to {high:.1} dB PSNR against their images (lowest: keyframe {lowest}){}",
            if exact > 0 {
                format!(", {exact} identical")
            } else {
                String::new()
            }
        ));
    } else if exact > 0 {
        out.push(format!(
            "  keyframes: all {exact} identical to their images"
        ));
    }
    out
}

/// One render event on the progress bar (notes and retries as lines above it).
fn show_event(bar: &indicatif::ProgressBar, event: &RenderEvent, json: bool) {
    match event {
        RenderEvent::Start {
            calls,
            frames,
            device,
            ..
        } => {
            bar.suspend(|| eprintln!("generating on {device}"));
            bar.set_message(format!("{calls} calls, {frames} frames"));
        }
        RenderEvent::Progress {
            stage,
            call,
            calls,
            fraction,
            step,
            ..
        } => {
            if stage == "generating" {
                match step {
                    Some((v, m)) => {
                        bar.set_message(format!("call {}/{calls} step {v}/{m}", call + 1));
                    }
                    None => bar.set_message(format!("call {}/{calls}", call + 1)),
                }
            } else {
                bar.set_message(stage.clone());
            }
            bar.set_position((fraction * 1000.0) as u64);
        }
        RenderEvent::Retry {
            call,
            attempt,
            error,
            change,
            ..
        } => {
            bar.suspend(|| {
                eprintln!(
                    "retry: call {} attempt {attempt}: {error}; {change}",
                    call + 1
                );
            });
        }
        RenderEvent::Warning { message } => {
            if !json {
                bar.suspend(|| eprintln!("warning: {message}"));
            }
        }
        RenderEvent::Note { call, message } => {
            if !json {
                bar.suspend(|| eprintln!("note: call {}: {message}", call + 1));
            }
        }
        RenderEvent::Done { .. } | RenderEvent::Error { .. } => bar.finish_and_clear(),
    }
}
