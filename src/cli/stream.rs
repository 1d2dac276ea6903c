//! `wayfarer stream`: keyframes generated in the background while the frames between them
//! are interpolated, written to the MP4 as they are produced.

use std::path::PathBuf;
use std::time::Duration;

use wayfarer::UserError;
use wayfarer::generate;
use wayfarer::media::{EncodeOptions, VideoEncoder};
use wayfarer::project::file as project_file;
use wayfarer::render;
use wayfarer::stream::{self, InterpolatorChoice, KeyframeChoice};

use super::support::whole;

/// Where keyframes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// The keyframe images themselves.
    Builtin,
    /// img2img on a ComfyUI server.
    Comfyui,
    /// A video-contract ONNX model.
    Onnx,
}

/// What fills the frames between keyframes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Interpolator {
    /// The built-in flow morph.
    Builtin,
    /// An interpolator-contract ONNX model.
    Onnx,
}

/// Stream a project: keyframes generated in the background while the frames between
/// them are interpolated, written to the MP4 as they are produced.
#[derive(clap::Args)]
pub struct StreamArgs {
    /// Project file (JSON).
    project: PathBuf,
    /// Treat fields of the project that Wayfarer does not know (typos) as errors (exit 2)
    /// instead of warnings.
    #[arg(long)]
    strict: bool,
    /// Output MP4; written to a partial file next to it and renamed when complete.
    #[arg(short, long)]
    output: PathBuf,
    /// Keyframe generator: builtin (returns the keyframe image), comfyui (img2img on a
    /// server) or onnx (a video-contract model).
    #[arg(long, value_enum, default_value_t = Source::Builtin)]
    source: Source,
    /// ComfyUI server for `--source comfyui`.
    #[arg(long)]
    server: Option<String>,
    /// ComfyUI img2img template (default: the shipped one).
    #[arg(long)]
    template: Option<PathBuf>,
    /// ONNX manifest: a video-contract model for `--source onnx`.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Interpolator: builtin (flow morph) or onnx (an interpolator-contract model).
    #[arg(long, value_enum, default_value_t = Interpolator::Builtin)]
    interpolator: Interpolator,
    /// ONNX manifest for `--interpolator onnx`.
    #[arg(long)]
    interpolator_model: Option<PathBuf>,
    /// Time each builtin keyframe takes, in milliseconds (to try the pipeline).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// How much of each keyframe image is generated anew (0 to 1).
    #[arg(long, default_value_t = 0.5)]
    denoise: f32,
    /// Keyframes kept queued ahead; 0 generates each one when it is needed.
    #[arg(long, default_value_t = 2)]
    lookahead: usize,
    /// Seconds to wait for a keyframe before generating it synchronously (1 to 86400).
    #[arg(long, default_value_t = 60, value_parser = whole::<1, 86_400>)]
    timeout: u64,
    /// Generate each keyframe from the previous generated one (a drifting chain).
    #[arg(long)]
    chain: bool,
    /// Print one JSON event per line instead of a progress bar.
    #[arg(long)]
    json_events: bool,
}

impl StreamArgs {
    /// The keyframe generator the flags choose.
    fn keyframes(&self) -> Result<KeyframeChoice, UserError> {
        Ok(match self.source {
            Source::Builtin => KeyframeChoice::Builtin {
                latency: Duration::from_millis(self.latency_ms),
            },
            Source::Comfyui => KeyframeChoice::ComfyUi {
                server: self.server.clone().ok_or_else(|| {
                    UserError::input("--source comfyui needs --server URL")
                        .hint("e.g. --server http://127.0.0.1:8188")
                })?,
                template: self.template.clone(),
                timeout: Duration::from_secs(self.timeout.max(1)),
            },
            Source::Onnx => KeyframeChoice::Onnx(need(self.model.as_ref(), "--model")?),
        })
    }

    /// Streams the project to the output.
    pub fn run(self) -> Result<(), UserError> {
        let project = super::load_project(
            &self.project,
            super::Warnings {
                strict: self.strict,
                json: self.json_events,
            },
        )?;
        let dir = project_file::project_dir(&self.project);
        render::refuse_input_as_output(&self.output, &project, &dir, Some(&self.project))?;
        if self
            .output
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            return Err(UserError::input(format!(
                "output {}: refusing to write a video over a project file",
                self.output.display()
            ))
            .hint("use an .mp4 name"));
        }
        let plan = stream::StreamPlan::from_project(&project, &dir, self.denoise, self.chain)?;
        generate::preflight::check_output(
            &self.output,
            f64::from(plan.total_frames()) * f64::from(project.width) * f64::from(project.height),
        )?;
        let interpolator = match self.interpolator {
            Interpolator::Builtin => InterpolatorChoice::Builtin,
            Interpolator::Onnx => InterpolatorChoice::Onnx(need(
                self.interpolator_model.as_ref(),
                "--interpolator-model",
            )?),
        };
        let session = stream::Session::open(&self.keyframes()?, &interpolator)?;
        let config = stream::StreamConfig {
            lookahead: self.lookahead,
            keyframe_timeout: Duration::from_secs(self.timeout.max(1)),
            ..stream::StreamConfig::default()
        };
        let cancel = super::cancel_on_signals();
        let partial = render::PartialOutput::begin(&self.output)?;
        let mut encoder = VideoEncoder::create(
            partial.path(),
            project.width,
            project.height,
            plan.fps,
            &EncodeOptions::default(),
        )?;
        let json = self.json_events;
        let bar = super::progress_bar(
            json,
            u64::from(plan.total_frames()),
            "{spinner} {msg:<32} [{bar:40}] {pos}/{len}",
        );
        let (mut ahead, mut underruns) = (0, 0);
        let result = session.run(
            &plan,
            &config,
            &mut |_, frame| encoder.push(frame),
            &mut |event| {
                if json {
                    super::json_line(&event);
                    return;
                }
                match &event {
                    stream::StreamEvent::Frame { index, .. } => {
                        bar.set_position(u64::from(index + 1));
                        bar.set_message(format!(
                            "{ahead} keyframe(s) ahead, {underruns} underrun(s)"
                        ));
                    }
                    stream::StreamEvent::Buffer {
                        keyframes_ahead, ..
                    } => ahead = *keyframes_ahead,
                    stream::StreamEvent::Underrun { .. } => underruns += 1,
                    stream::StreamEvent::Fallback { keyframe, reason } => {
                        bar.suspend(|| eprintln!("warning: keyframe {keyframe}: {reason}"));
                    }
                    _ => {}
                }
            },
            &cancel,
        );
        bar.finish_and_clear();
        let summary = result.and_then(|s| encoder.finish().map(|()| s))?;
        partial.publish()?;
        if !json {
            eprintln!(
                "wrote {} ({} frames in {:.1} s, {:.1} fps; {} underrun(s), {} fallback(s))",
                self.output.display(),
                summary.frames,
                summary.elapsed.as_secs_f64(),
                f64::from(summary.frames) / summary.elapsed.as_secs_f64().max(1e-9),
                summary.underruns,
                summary.fallbacks
            );
        }
        Ok(())
    }
}

/// The manifest a flag names, or an error naming the flag.
fn need(what: Option<&PathBuf>, flag: &str) -> Result<PathBuf, UserError> {
    what.cloned().ok_or_else(|| {
        UserError::input(format!("{flag} is needed here")).hint("see models/*.toml for manifests")
    })
}
