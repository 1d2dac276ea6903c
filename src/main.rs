//! The `wayfarer` command line: render, plan and doctor.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli_support;
use cli_support::{clipped, command_line_error, crf_value, unknown_command, whole};
use indicatif::{ProgressBar, ProgressStyle};

use wayfarer::generate::{self, CancelToken};
use wayfarer::media::EncodeOptions;
use wayfarer::project::file as project_file;
use wayfarer::render::{self, RenderEvent};
use wayfarer::{UserError, doctor};

/// Travel videos from keyframe images on a timeline.
#[derive(Parser)]
#[command(
    name = "wayfarer",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Project to open in the studio (with no subcommand the studio opens).
    project: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Render a project to an MP4.
    Render {
        /// Project file (JSON).
        project: PathBuf,
        /// Output MP4; written to a partial file next to it and renamed when complete.
        #[arg(short, long)]
        output: PathBuf,
        /// Generator backend: builtin, comfyui or onnx.
        #[arg(long, default_value = "builtin")]
        backend: String,
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
        /// H.264 constant rate factor (0-51, lower is better).
        #[arg(long, default_value_t = EncodeOptions::default().crf, value_parser = crf_value)]
        crf: u8,
        /// x264 preset (ultrafast … veryslow).
        #[arg(long, default_value_t = EncodeOptions::default().preset)]
        preset: String,
        /// Print one JSON event per line (start/progress/done/error) instead of a progress bar.
        #[arg(long)]
        json_events: bool,
        /// Run only the pre-flight checks and print their report.
        #[arg(long)]
        check: bool,
    },
    /// Stream a project: keyframes generated in the background while the frames between
    /// them are interpolated, written to the MP4 as they are produced.
    Stream(StreamArgs),
    /// Show how a project is cut into generation calls.
    Plan {
        /// Project file (JSON).
        project: PathBuf,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
        /// Backend whose measured cost law decides `auto` merges and the predicted times
        /// (as for `render`): builtin, comfyui or onnx.
        #[arg(long, default_value = "builtin")]
        backend: String,
        /// ComfyUI API-format workflow template (its cost law is its own).
        #[arg(long)]
        template: Option<PathBuf>,
        /// ONNX model manifest (TOML) for the onnx backend.
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// List or clear the caches (flow fields, finished call outputs).
    Cache {
        /// `list` or `clear`.
        #[arg(value_parser = ["list", "clear"], default_value = "list")]
        action: String,
    },
    /// Report what Wayfarer finds on this machine: libav, ONNX Runtime, wgpu, folders.
    Doctor {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Test a ComfyUI server without spending GPU time (reachability, device, node
        /// classes and model files of the template, a model-free round trip); repeatable.
        #[arg(long = "server", value_name = "URL")]
        servers: Vec<String>,
        /// Template whose node classes and model files --server checks (default: the
        /// shipped Wan VACE template).
        #[arg(long)]
        template: Option<PathBuf>,
        /// Longest one HTTP request of the server test may take, in seconds (1 to 86400).
        #[arg(long, default_value_t = 30, value_parser = whole::<1, 86_400>)]
        request_timeout: u64,
    },
}

fn main() -> ExitCode {
    if let Some(e) = unknown_command() {
        eprintln!("error: {}", e.message);
        for hint in &e.suggestions {
            eprintln!("hint: {hint}");
        }
        return ExitCode::from(2);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return command_line_error(e),
    };
    if cli.command.is_some() {
        quiet_vulkan_probe();
    }
    let result = match cli.command {
        None => wayfarer::ui::run(cli.project),
        Some(Command::Render {
            project,
            output,
            backend,
            servers,
            template,
            model,
            call_timeout,
            request_timeout,
            reconnect_timeout,
            regenerate,
            no_resume,
            crf,
            preset,
            json_events,
            check,
        }) => {
            let config = generate::BackendConfig {
                kind: backend,
                servers,
                template,
                model,
                call_timeout_secs: call_timeout,
                request_timeout_secs: request_timeout,
                reconnect_timeout_secs: reconnect_timeout,
            };
            if check {
                cmd_check(&project, &output, &config, json_events)
            } else {
                cmd_render(
                    &project,
                    &output,
                    &config,
                    EncodeOptions { crf, preset },
                    json_events,
                    &regenerate,
                    no_resume,
                )
            }
        }
        Some(Command::Stream(args)) => cmd_stream(&args),
        Some(Command::Plan {
            project,
            json,
            backend,
            template,
            model,
        }) => cmd_plan(
            &project,
            json,
            &generate::BackendConfig {
                kind: backend,
                template,
                model,
                ..generate::BackendConfig::default()
            },
        ),
        Some(Command::Cache { action }) => cmd_cache(&action),
        Some(Command::Doctor {
            json,
            servers,
            template,
            request_timeout,
        }) if !servers.is_empty() => {
            cmd_test_servers(&servers, template.as_deref(), request_timeout, json)
        }
        Some(Command::Doctor { json, .. }) => {
            let report = doctor::run();
            if json {
                match serde_json::to_string_pretty(&report) {
                    Ok(text) => println!("{text}"),
                    Err(e) => eprintln!("error: {e}"),
                }
            } else {
                println!("{report}");
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", clipped(&e.message));
            for hint in &e.suggestions {
                eprintln!("hint: {}", clipped(hint));
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// `wayfarer doctor --server URL…`: each server's connection test; exit 2 when a check
/// fails.
fn cmd_test_servers(
    servers: &[String],
    template: Option<&Path>,
    timeout_secs: u64,
    json: bool,
) -> Result<(), UserError> {
    let mut failed = 0;
    let mut reports = Vec::new();
    for server in servers {
        let report = generate::comfy::test_connection(
            server,
            template,
            std::time::Duration::from_secs(timeout_secs.max(1)),
        )?;
        if !report.passed() {
            failed += 1;
        }
        if !json {
            println!("ComfyUI server {server}:");
            print!("{report}");
        }
        reports.push(
            serde_json::json!({"server": server, "passed": report.passed(), "items": report.items}),
        );
    }
    if json {
        println!("{}", serde_json::Value::Array(reports));
    }
    if failed > 0 {
        return Err(UserError::input(format!(
            "{failed} of {} server(s) failed a check (see above)",
            servers.len()
        ))
        .hint("each FAIL line has its own hint"));
    }
    println!("All checks passed on {} server(s).", servers.len());
    Ok(())
}

fn cmd_render(
    project_path: &Path,
    output: &Path,
    config: &generate::BackendConfig,
    encode: EncodeOptions,
    json_events: bool,
    regenerate: &[usize],
    no_resume: bool,
) -> Result<(), UserError> {
    let emit_json = |event: &RenderEvent| {
        if let Ok(line) = serde_json::to_string(event) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    };
    let result = (|| {
        let project = project_file::load(project_path)?;
        render::refuse_input_as_output(
            output,
            &project,
            &project_file::project_dir(project_path),
            Some(project_path),
        )?;
        let spans = project.span_count();
        if let Some(bad) = regenerate.iter().find(|&&n| n == 0 || n > spans) {
            return Err(UserError::input(format!(
                "--regenerate {bad}: the project has {spans} segment(s), numbered 1 to {spans}"
            ))
            .hint(format!("give a segment number from 1 to {spans}")));
        }
        // Segments are numbered from 1 for people, from 0 inside.
        let regenerate: Vec<usize> = regenerate.iter().map(|n| n - 1).collect();
        let dir = project_file::project_dir(project_path);
        let backend = generate::open_backend(config).map_err(|mut e| {
            e.message = format!("backend: {}", e.message);
            e
        })?;
        // Pre-flight: every check passes before any generation starts.
        let report = generate::preflight::preflight_with(&project, &dir, output, backend.as_ref());
        if let Some(e) = report.first_failure() {
            return Err(e);
        }
        let mut options = render::RenderOptions::user();
        if no_resume {
            options.cache = None;
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        options.reseed = render::reroll_seeds(&regenerate, stamp);
        let cancel = CancelToken::new();
        {
            let cancel = cancel.clone();
            // Ctrl+C, SIGTERM and SIGHUP cancel cleanly: the partial output is removed.
            let _ = ctrlc::set_handler(move || cancel.cancel());
        }
        let bar = if json_events || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(1000).with_style(
                ProgressStyle::with_template(
                    "{spinner} {msg:<24} [{bar:40}] {percent:>3}% eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            )
        };
        let mut on_event = |event: RenderEvent| {
            if json_events {
                emit_json(&event);
            }
            match &event {
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
                                bar.set_message(format!("call {}/{calls} step {v}/{m}", call + 1))
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
                        )
                    });
                }
                RenderEvent::Note { call, message } => {
                    if !json_events {
                        bar.suspend(|| eprintln!("note: call {}: {message}", call + 1));
                    }
                }
                RenderEvent::Done { .. } | RenderEvent::Error { .. } => bar.finish_and_clear(),
            }
        };
        let summary = render::render_opts(
            &project,
            &dir,
            output,
            backend.as_ref(),
            &encode,
            &mut on_event,
            &cancel,
            &options,
        )?;
        bar.finish_and_clear();
        if !json_events {
            for snap in &summary.plan.snaps {
                eprintln!(
                    "note: keyframe {} moved {} -> {}: {}",
                    snap.keyframe, snap.from, snap.to, snap.reason
                );
            }
            eprintln!(
                "wrote {} ({} frames, {} calls generated, {} reused from earlier renders)",
                output.display(),
                summary.frames,
                summary.backend_calls,
                summary.cached_calls
            );
            if summary.backend_calls > 0 {
                eprintln!(
                    "generation took {}, the plan predicted {} ({})",
                    wayfarer::plan::cost::secs_text(summary.generation_secs),
                    wayfarer::plan::cost::secs_text(summary.predicted_secs),
                    summary.plan.cost_model.source
                );
            }
            for (span, seed) in &options.reseed {
                eprintln!(
                    "segment {} re-rolled with seed {seed}; to keep it, set its \"seed\" to {seed} in the project",
                    span + 1
                );
            }
        }
        Ok(())
    })();
    if let (Err(e), true) = (&result, json_events) {
        emit_json(&RenderEvent::from_error(e));
    }
    result
}

/// Options of `wayfarer stream`.
#[derive(clap::Args)]
struct StreamArgs {
    /// Project file (JSON).
    project: PathBuf,
    /// Output MP4; written to a partial file next to it and renamed when complete.
    #[arg(short, long)]
    output: PathBuf,
    /// Keyframe generator: builtin (returns the keyframe image), comfyui (img2img on a
    /// server) or onnx (a video-contract model).
    #[arg(long, default_value = "builtin")]
    source: String,
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
    #[arg(long, default_value = "builtin")]
    interpolator: String,
    /// ONNX manifest for `--interpolator onnx`.
    #[arg(long)]
    interpolator_model: Option<PathBuf>,
    /// Time each builtin keyframe takes, in milliseconds (to try the pipeline).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// How much of each keyframe image is generated anew (0..=1).
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

fn cmd_stream(a: &StreamArgs) -> Result<(), UserError> {
    use std::sync::Arc;
    use wayfarer::stream;
    let project = project_file::load(&a.project)?;
    render::refuse_input_as_output(
        &a.output,
        &project,
        &project_file::project_dir(&a.project),
        Some(&a.project),
    )?;
    if a.output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        return Err(UserError::input(format!(
            "output {}: refusing to write a video over a project file",
            a.output.display()
        ))
        .hint("use an .mp4 name"));
    }
    let dir = project_file::project_dir(&a.project);
    let plan = stream::StreamPlan::from_project(&project, &dir, a.denoise, a.chain)?;
    generate::preflight::check_output(
        &a.output,
        f64::from(plan.total_frames()) * f64::from(project.width) * f64::from(project.height),
    )?;
    let need = |what: &Option<PathBuf>, flag: &str| {
        what.clone().ok_or_else(|| {
            UserError::input(format!("{flag} is needed here"))
                .hint("see models/*.toml for manifests")
        })
    };
    let generator: Arc<dyn stream::KeyframeGenerator> = match a.source.as_str() {
        "builtin" => Arc::new(stream::BuiltinKeyframes {
            latency: std::time::Duration::from_millis(a.latency_ms),
        }),
        "comfyui" => {
            let server = a.server.clone().ok_or_else(|| {
                UserError::input("--source comfyui needs --server URL")
                    .hint("e.g. --server http://127.0.0.1:8188")
            })?;
            Arc::new(stream::ComfyKeyframes::new(
                &server,
                a.template.as_deref(),
                std::time::Duration::from_secs(a.timeout.max(1)),
            )?)
        }
        "onnx" => Arc::new(stream::OnnxKeyframes(Arc::new(
            generate::onnx::OnnxBackend::open(&need(&a.model, "--model")?)?,
        ))),
        other => {
            return Err(UserError::input(format!("--source {other}: unknown"))
                .hint("use builtin, comfyui or onnx"));
        }
    };
    let interpolator: Box<dyn stream::Interpolator> = match a.interpolator.as_str() {
        "builtin" => Box::new(stream::BuiltinInterpolator(Arc::new(
            generate::Builtin::from_env()?,
        ))),
        "onnx" => Box::new(stream::OnnxInterpolator(Arc::new(
            generate::onnx::OnnxBackend::open(&need(
                &a.interpolator_model,
                "--interpolator-model",
            )?)?,
        ))),
        other => {
            return Err(UserError::input(format!("--interpolator {other}: unknown"))
                .hint("use builtin or onnx"));
        }
    };
    let config = stream::StreamConfig {
        lookahead: a.lookahead,
        keyframe_timeout: std::time::Duration::from_secs(a.timeout.max(1)),
        ..stream::StreamConfig::default()
    };
    let cancel = CancelToken::new();
    {
        let cancel = cancel.clone();
        let _ = ctrlc::set_handler(move || cancel.cancel());
    }
    let partial = render::PartialOutput::begin(&a.output)?;
    let mut encoder = wayfarer::media::VideoEncoder::create(
        partial.path(),
        project.width,
        project.height,
        plan.fps,
        &EncodeOptions::default(),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| UserError::input(format!("cannot start the runtime: {e}")))?;
    let total = plan.total_frames();
    let bar = if a.json_events || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(u64::from(total)).with_style(
            ProgressStyle::with_template("{spinner} {msg:<32} [{bar:40}] {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        )
    };
    let json = a.json_events;
    let result = runtime.block_on(async {
        let source = stream::KeyframeSource::new(generator);
        let mut ahead = 0;
        let mut underruns = 0;
        stream::run(
            &plan,
            &source,
            interpolator.as_ref(),
            &config,
            &mut |_, frame| encoder.push(frame),
            &mut |event| {
                if json {
                    if let Ok(line) = serde_json::to_string(&event) {
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "{line}");
                        let _ = out.flush();
                    }
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
        )
        .await
    });
    bar.finish_and_clear();
    let summary = result.and_then(|s| encoder.finish().map(|()| s))?;
    partial.publish()?;
    if !json {
        eprintln!(
            "wrote {} ({} frames in {:.1} s, {:.1} fps; {} underrun(s), {} fallback(s))",
            a.output.display(),
            summary.frames,
            summary.elapsed.as_secs_f64(),
            f64::from(summary.frames) / summary.elapsed.as_secs_f64().max(1e-9),
            summary.underruns,
            summary.fallbacks
        );
    }
    Ok(())
}

fn cmd_plan(
    project_path: &Path,
    json: bool,
    config: &generate::BackendConfig,
) -> Result<(), UserError> {
    let project = project_file::load(project_path)?;
    let plan = render::plan_for(&project, config, render::CostStore::user().as_ref())?;
    if json {
        let text = serde_json::to_string_pretty(&plan.to_json())
            .map_err(|e| UserError::input(format!("cannot print plan: {e}")))?;
        println!("{text}");
    } else {
        print!("{plan}");
    }
    Ok(())
}

fn cmd_cache(action: &str) -> Result<(), UserError> {
    let no_dir = || {
        UserError::input("cache: no per-user cache folder (no home folder)")
            .hint("set HOME or XDG_CACHE_HOME")
    };
    let flows = wayfarer::flow::FlowCache::user().ok_or_else(no_dir)?;
    let calls = render::CallCache::user();
    let mut caches = vec![("flow field(s)", flows.dir().to_path_buf(), flows.list()?)];
    if let Some(c) = &calls {
        caches.push(("call output(s)", c.dir().to_path_buf(), c.list()?));
    }
    if action == "clear" {
        let n = flows.clear()?;
        println!("removed {n} flow field(s) from {}", flows.dir().display());
        if let Some(c) = &calls {
            let n = c.clear()?;
            println!("removed {n} call output(s) from {}", c.dir().display());
        }
        return Ok(());
    }
    for (what, dir, entries) in caches {
        let total: u64 = entries.iter().map(|e| e.bytes).sum();
        println!(
            "{}: {} {what}, {:.1} MiB",
            dir.display(),
            entries.len(),
            total as f64 / (1 << 20) as f64
        );
        for e in entries {
            println!(
                "  {}  {:>10} bytes  used {} s ago",
                e.name, e.bytes, e.idle_secs
            );
        }
    }
    Ok(())
}

fn cmd_check(
    project_path: &Path,
    output: &Path,
    backend: &generate::BackendConfig,
    json: bool,
) -> Result<(), UserError> {
    let project = project_file::load(project_path)?;
    let report = generate::preflight(
        &project,
        &project_file::project_dir(project_path),
        output,
        backend,
    );
    if json {
        match serde_json::to_string(&report) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("error: {e}"),
        }
    } else {
        print!("{report}");
    }
    match report.first_failure() {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// Mesa's Vulkan driver prints "error: XDG_RUNTIME_DIR is invalid" when wgpu probes it
/// outside a desktop session, which reads like a Wayfarer error on a headless server. The
/// CLI gives it a private runtime folder when none is set.
fn quiet_vulkan_probe() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    let Some(dir) = wayfarer::dirs::private_temp_folder("wayfarer-runtime") else {
        return;
    };
    // SAFETY: called at the start of main, before any other thread exists.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
}
