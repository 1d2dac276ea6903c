//! The ComfyUI backend: one or many servers running an API-format workflow template.
//!
//! Per call: encode the guide and mask as MP4, upload both, queue the filled template with
//! our client id, follow `/ws` for step progress and errors (polling `/history` when the
//! socket drops), download the output through `/view` and decode it with the media room.
//! Out-of-memory (`exception_type` containing `OutOfMemoryError`) becomes a memory error
//! so the retry ladder can degrade the call. Cancel sends `/interrupt`.
//!
//! Several servers: each is a parallel slot. A call takes an idle healthy server; a server
//! that cannot be reached, answers badly or fails a call is marked unhealthy and the call
//! moves to another server. Unhealthy servers are probed again (`/system_stats`) when no
//! healthy one is idle.

mod checks;
pub mod client;
mod reconnect;
pub mod template;

use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

pub use checks::test_connection;
use checks::{check_classes, check_model_files, describe_device, lora_without_model};
use client::{Client, Event, Outcome, OutputFile};
use reconnect::Wait;
use template::{Template, Values};

use super::{
    Backend, CallProgress, CancelToken, Capabilities, CheckItem, GenerationRequest, preflight::item,
};
use crate::error::{ErrorCategory, Result, UserError};
use crate::media::{self, EncodeOptions, Frame, VideoEncoder};

/// Guidance when a segment leaves it to the backend (the VACE example's value).
const DEFAULT_CFG: f32 = 6.0;

#[derive(Debug)]
struct ServerState {
    client: Client,
    busy: bool,
    healthy: bool,
    last_error: Option<String>,
}

/// ComfyUI on one or many servers.
pub struct ComfyBackend {
    runtime: tokio::runtime::Runtime,
    servers: Mutex<Vec<ServerState>>,
    freed: Condvar,
    template: Template,
    caps: Capabilities,
    call_timeout: Duration,
    /// How long a call waits for a server that stopped answering to come back.
    reconnect: Duration,
    /// Longest a pre-flight request waits for a server's answer.
    preflight_timeout: Duration,
    /// Subfolder of each server's input folder this backend uploads into.
    upload_folder: String,
    identity: String,
}

/// The identity of the ComfyUI backend with `template`: its source and content digest.
pub fn identity(template: &Template) -> String {
    format!("comfyui/{}#{}", template.source, template.digest)
}

/// A fresh per-render subfolder of the server's input folder for uploads:
/// `wayfarer/<unix seconds>-<process id>`. Everything Wayfarer uploads lives under
/// `input/wayfarer/`, so an operator can clean it in one place.
pub fn upload_folder() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("wayfarer/{secs}-{}", std::process::id())
}

/// The error for a prompt that finished without an output file; `skipped` holds the node
/// errors of outputs the server skipped at queue time.
pub(crate) fn no_output(base: &str, skipped: Option<&str>) -> UserError {
    match skipped {
        Some(errors) => UserError::input(format!(
            "ComfyUI {base}: the workflow's outputs failed validation and were skipped: {errors}"
        ))
        .hint("check the template's models and values against the server (Test server connection in the studio, wayfarer doctor --server in a terminal)"),
        None => client::network(base, "the workflow finished without an output file"),
    }
}

impl std::fmt::Debug for ComfyBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ComfyBackend({})", self.identity)
    }
}

/// A private folder (a fresh name, mode 0700) for temporary files; removed when dropped.
pub(crate) fn scratch_dir(what: &str) -> Result<tempfile::TempDir> {
    crate::dirs::scratch_dir(what)
        .map_err(|e| UserError::io("creating a folder in", &std::env::temp_dir(), &e))
}

impl ComfyBackend {
    /// Opens the backend for `config.servers` with `config.template` (the shipped Wan VACE
    /// template when none). Servers are not contacted here; see [`Backend::preflight`].
    pub fn open(config: &super::BackendConfig) -> Result<Self> {
        Self::with_timeouts(
            config,
            Duration::from_secs(config.request_timeout_secs.max(1)),
        )
    }

    /// [`ComfyBackend::open`] with a per-request HTTP timeout.
    pub fn with_timeouts(config: &super::BackendConfig, request_timeout: Duration) -> Result<Self> {
        if config.servers.is_empty() {
            return Err(UserError::input("backend comfyui: no server given")
                .hint("pass --server http://HOST:8188 (repeat it for several servers)"));
        }
        let template = match &config.template {
            Some(path) => Template::load(path)?,
            None => Template::wan_vace()?,
        };
        let mut caps = super::modes::shipped("comfyui-wan-vace")?;
        caps.parallel_slots = config.servers.len();
        let servers = config
            .servers
            .iter()
            .map(|s| {
                Ok(ServerState {
                    client: Client::new(s, request_timeout)?,
                    busy: false,
                    healthy: true,
                    last_error: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let runtime = network_runtime()?;
        let identity = identity(&template);
        Ok(Self {
            runtime,
            servers: Mutex::new(servers),
            freed: Condvar::new(),
            template,
            caps,
            call_timeout: Duration::from_secs(config.call_timeout_secs.max(1)),
            reconnect: Duration::from_secs(config.reconnect_timeout_secs),
            preflight_timeout: Duration::from_secs(config.preflight_timeout_secs.max(1)),
            upload_folder: upload_folder(),
            identity,
        })
    }

    /// Each server's address, health and last error, for the studio and reports.
    pub fn server_health(&self) -> Vec<(String, bool, Option<String>)> {
        self.lock()
            .iter()
            .map(|s| (s.client.base.clone(), s.healthy, s.last_error.clone()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ServerState>> {
        self.servers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes an idle healthy server (waiting while all healthy ones are busy); probes
    /// unhealthy idle ones when no healthy one is idle. `avoid` lists servers that already
    /// failed this call.
    fn acquire(&self, avoid: &[usize], cancel: &CancelToken) -> Result<usize> {
        loop {
            if cancel.is_cancelled() {
                return Err(UserError::cancelled());
            }
            let mut servers = self.lock();
            if let Some(i) = (0..servers.len())
                .find(|&i| servers[i].healthy && !servers[i].busy && !avoid.contains(&i))
            {
                servers[i].busy = true;
                return Ok(i);
            }
            let healthy_busy = (0..servers.len())
                .any(|i| servers[i].healthy && servers[i].busy && !avoid.contains(&i));
            if !healthy_busy {
                // Probe the unhealthy idle servers this call has not failed on.
                let probe: Vec<(usize, Client)> = (0..servers.len())
                    .filter(|&i| !servers[i].healthy && !servers[i].busy && !avoid.contains(&i))
                    .map(|i| (i, servers[i].client.clone()))
                    .collect();
                if probe.is_empty() {
                    return Err(no_server(
                        &servers,
                        "no ComfyUI server can take the call",
                        "busy with another call",
                        "start or fix a server",
                    ));
                }
                drop(servers);
                for (i, client) in probe {
                    let ok = self.runtime.block_on(client.system_stats());
                    let mut servers = self.lock();
                    match ok {
                        Ok(_) => {
                            servers[i].healthy = true;
                            servers[i].last_error = None;
                        }
                        Err(e) => servers[i].last_error = Some(e.message),
                    }
                }
                let servers = self.lock();
                if !(0..servers.len()).any(|i| servers[i].healthy && !avoid.contains(&i)) {
                    return Err(no_server(
                        &servers,
                        "no ComfyUI server is reachable",
                        "?",
                        "start the server(s) or check the addresses",
                    ));
                }
                continue;
            }
            let _unused = self
                .freed
                .wait_timeout(servers, Duration::from_millis(100))
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn release(&self, i: usize, error: Option<&UserError>) {
        let mut servers = self.lock();
        servers[i].busy = false;
        if let Some(e) = error {
            servers[i].healthy = false;
            servers[i].last_error = Some(e.message.clone());
        }
        drop(servers);
        self.freed.notify_all();
    }

    /// Runs one call on server `i`.
    fn run_on(
        &self,
        i: usize,
        request: &GenerationRequest<'_>,
        progress: &mut dyn FnMut(CallProgress),
        cancel: &CancelToken,
    ) -> Result<Vec<Frame>> {
        // A client id per prompt: ComfyUI sends events to the newest socket of an id only.
        let client = self.lock()[i].client.for_prompt();
        if !request.segment.loras.is_empty() && !self.template.takes_loras() {
            return Err(lora_without_model(&self.template.source));
        }
        let folder = self.upload_folder.as_str();
        let scratch = scratch_dir("comfy")?;
        let guide_path = scratch.path().join("guide.mp4");
        let mask_path = scratch.path().join("mask.mp4");
        write_video(&guide_path, &request.guide.frames, request.fps)?;
        let (w, h) = request
            .guide
            .frames
            .first()
            .map_or((request.width, request.height), |f| (f.width, f.height));
        write_video(&mask_path, &request.guide.mask_frames(w, h), request.fps)?;
        let read = |p: &PathBuf| std::fs::read(p).map_err(|e| UserError::io("reading", p, &e));
        let guide_bytes = read(&guide_path)?;
        let mask_bytes = read(&mask_path)?;
        let tag = &blake3::hash(&guide_bytes).to_hex()[..16];
        let segment = request.segment;
        let steps = segment.steps.unwrap_or(super::retry::DEFAULT_STEPS);
        let deadline = super::deadline_after(self.call_timeout);
        let call_index = request.call.index;
        let length = request.call.len();
        let download = self.runtime.block_on(async {
            let guide = client
                .upload(guide_bytes, &format!("wayfarer_{tag}_guide.mp4"), folder)
                .await?;
            let mask = client
                .upload(mask_bytes, &format!("wayfarer_{tag}_mask.mp4"), folder)
                .await?;
            progress(CallProgress {
                fraction: 0.05,
                step: None,
                note: Some(format!("uploaded to {}", client.base)),
            });
            let prompt = self.template.fill(&Values {
                prompt: segment.prompt.clone(),
                negative: segment.negative_prompt.clone(),
                seed: request.seed,
                steps,
                cfg: segment.guidance_scale.unwrap_or(DEFAULT_CFG),
                width: request.width,
                height: request.height,
                length,
                fps: request.fps,
                guide,
                mask,
                call: call_index,
                loras: segment.loras.clone(),
                ..Values::default()
            });
            let (queued, outcome) =
                run_prompt(&client, &prompt, progress, cancel, deadline).await?;
            match outcome {
                Outcome::Success(files) => {
                    let file = pick_output(&files)
                        .ok_or_else(|| no_output(&client.base, queued.skipped.as_deref()))?;
                    let bytes = client.download(&file).await?;
                    Ok((file, bytes))
                }
                Outcome::Error {
                    exception_type,
                    message,
                    node_type,
                } => Err(execution_error(
                    &client.base,
                    &exception_type,
                    &message,
                    &node_type,
                )),
                Outcome::Interrupted => {
                    if cancel.is_cancelled() {
                        Err(UserError::cancelled())
                    } else {
                        let mut e = UserError::new(
                            ErrorCategory::GenerationPipeline,
                            format!(
                                "ComfyUI {}: the run was interrupted on the server",
                                client.base
                            ),
                        )
                        .hint("someone pressed Cancel on the server; the call is retried");
                        e.retryable = true;
                        Err(e)
                    }
                }
            }
        });
        let (file, bytes) = download?;
        // Our own file name: the server's name only picks a known extension.
        let ext = file
            .filename
            .rsplit('.')
            .next()
            .map(str::to_ascii_lowercase)
            .filter(|e| ["mp4", "webm", "mov", "mkv", "gif", "png", "webp"].contains(&e.as_str()))
            .unwrap_or_else(|| "mp4".into());
        let local = scratch.path().join(format!("output.{ext}"));
        std::fs::write(&local, &bytes).map_err(|e| UserError::io("writing", &local, &e))?;
        let fit = |f: Frame| media::crop_fit(&f, request.width, request.height);
        // The count is checked while decoding: a reply with far too many frames is not
        // decoded whole, and each frame is fitted to the call size as it arrives.
        let (frames, more) = if ext == "png" || ext == "webp" {
            (vec![fit(media::load_image(&local)?)?], false)
        } else {
            media::decode_up_to(&local, length as usize, fit).map_err(|e| {
                client::network(
                    &client.base,
                    format!(
                        "the output {:?} is not a readable video: {}",
                        file.filename, e.message
                    ),
                )
            })?
        };
        if more || frames.len() != length as usize {
            let got = if more {
                format!("more than {length}")
            } else {
                frames.len().to_string()
            };
            let mut e = UserError::new(
                ErrorCategory::GenerationPipeline,
                format!(
                    "ComfyUI {}: the workflow returned {got} frames, the call needs {length}",
                    client.base
                ),
            )
            .hint("the template's length must come from {{length}}; check its trim and save nodes");
            e.retryable = true;
            return Err(e);
        }
        progress(CallProgress::fraction(1.0));
        Ok(frames)
    }

    fn preflight_async(&self, shape: &super::modes::RequestShape) -> Vec<CheckItem> {
        let bases: Vec<String> = self.lock().iter().map(|s| s.client.base.clone()).collect();
        let classes = self.template.classes();
        let mut items = vec![item(
            "template",
            Ok(format!(
                "{} ({} node classes)",
                self.template.source,
                classes.len()
            )),
        )];
        if !shape.lora_names.is_empty() && !self.template.takes_loras() {
            items.push(item(
                "template LoRAs",
                Err(lora_without_model(&self.template.source)),
            ));
        }
        // Every server at once, with the short pre-flight timeout: a stalled server costs
        // one pre-flight timeout, not one request timeout per request.

        let timeout = self.preflight_timeout;
        let answers = self
            .runtime
            .block_on(futures_util::future::join_all(bases.iter().map(
                |base| async move {
                    let client = Client::new(base, timeout)?;
                    let stats = client.system_stats().await?;
                    let info = client.object_info().await;
                    Ok::<_, UserError>((stats, info))
                },
            )));
        let mut per_server: Vec<Vec<CheckItem>> = Vec::new();
        for (base, answer) in bases.iter().zip(answers) {
            per_server.push(match answer {
                Ok((stats, info)) => self.server_items(base, shape, &classes, &stats, info),
                Err(e) => vec![item(&format!("server {base}"), Err(e))],
            });
        }
        items.extend(self.leave_out_failed_servers(per_server));
        items
    }

    /// The checks of one server that answered.
    fn server_items(
        &self,
        base: &str,
        shape: &super::modes::RequestShape,
        classes: &std::collections::BTreeSet<String>,
        stats: &client::SystemStats,
        info: Result<client::ObjectInfo>,
    ) -> Vec<CheckItem> {
        let mut items = vec![item(&format!("server {base}"), Ok(describe_device(stats)))];
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                items.push(item(&format!("server {base} nodes"), Err(e)));
                return items;
            }
        };
        if stats.is_cpu() {
            items.push(checks::cpu_warning(&format!("server {base} device")));
        }
        items.push(item(
            &format!("server {base} nodes"),
            check_classes(classes, &info),
        ));
        items.push(item(
            &format!("server {base} model files"),
            check_model_files(&self.template, &shape.lora_names, &info),
        ));
        items.push(self.memory_item(base, shape, stats));
        items
    }

    /// With several servers of which at least one passes every check, the others' failures
    /// become warnings and those servers are marked unavailable: the render runs on the
    /// ones that passed and tries the others again only as it would any failed server.
    /// With one server, or none passing, the failures stay failures.
    fn leave_out_failed_servers(&self, per_server: Vec<Vec<CheckItem>>) -> Vec<CheckItem> {
        let passes = |items: &Vec<CheckItem>| items.iter().all(|i| i.passed);
        if per_server.len() < 2 || !per_server.iter().any(passes) {
            return per_server.into_iter().flatten().collect();
        }
        let mut servers = self.lock();
        let mut out = Vec::new();
        for (i, items) in per_server.into_iter().enumerate() {
            if passes(&items) {
                // Back in the fleet if an earlier check had left it out.
                if let Some(s) = servers.get_mut(i) {
                    s.healthy = true;
                    s.last_error = None;
                }
                out.extend(items);
                continue;
            }
            let why: Vec<String> = items
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.detail.clone())
                .collect();
            if let Some(s) = servers.get_mut(i) {
                s.healthy = false;
                s.last_error = Some(why.join("; "));
            }
            for c in items {
                if c.passed {
                    out.push(c);
                } else {
                    out.push(CheckItem::warning(
                        &c.name,
                        format!("{} — this server is left out; the others render", c.detail),
                        c.suggestion,
                    ));
                }
            }
        }
        out
    }

    /// The memory check of one server, from the template's memory section.
    fn memory_item(
        &self,
        base: &str,
        shape: &super::modes::RequestShape,
        stats: &client::SystemStats,
    ) -> CheckItem {
        let name = format!("server {base} memory");
        let gib = |b: f64| b / f64::from(1u32 << 30);
        let Some(model) = self.template.memory else {
            return CheckItem::warning(
                &name,
                format!(
                    "not checked: template {} has no [memory] section beside it",
                    self.template.source
                ),
                Some(
                    "put a TOML file with the template's name beside it, with [memory] fixed_gib and gib_per_megapixel_frame"
                        .into(),
                ),
            );
        };
        let (frames, width, height) = (shape.frames, shape.width, shape.height);
        let needed = model.bytes(frames, width, height);
        let total = stats.vram_total as f64;
        let free = stats.vram_free as f64;
        let memory = if stats.is_cpu() {
            "system memory"
        } else {
            "GPU memory"
        };
        if total < needed {
            item(
                &name,
                Err(UserError::new(
                    ErrorCategory::Memory,
                    format!(
                        "a {frames}-frame {width}x{height} call needs about {:.1} GiB, the server has {:.1} GiB of {memory}",
                        gib(needed),
                        gib(total)
                    ),
                )
                .hint("lower the resolution or the frames per call, or use a server with more memory")),
            )
        } else {
            item(
                &name,
                Ok(format!(
                    "needs about {:.1} GiB; {:.1} of {:.1} GiB of {memory} free now (ComfyUI unloads models as needed)",
                    gib(needed),
                    gib(free),
                    gib(total)
                )),
            )
        }
    }
}

/// The retryable network error when no server can take a call, listing each server and
/// its last error (`unknown` when it has none).
fn no_server(servers: &[ServerState], what: &str, unknown: &str, hint: &str) -> UserError {
    let errors: Vec<String> = servers
        .iter()
        .map(|s| {
            format!(
                "{} ({})",
                s.client.base,
                s.last_error.as_deref().unwrap_or(unknown)
            )
        })
        .collect();
    let mut e = UserError::new(
        ErrorCategory::Network,
        format!("{what}: {}", errors.join("; ")),
    )
    .hint(hint);
    e.retryable = true;
    e
}

/// The tokio runtime the ComfyUI client runs on (two worker threads).
pub(crate) fn network_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("wayfarer-comfy")
        .build()
        .map_err(|e| {
            UserError::new(
                ErrorCategory::SystemResource,
                format!("cannot start the network runtime: {e}"),
            )
        })
}

/// Queues `prompt` on `client` and follows it to its end. The socket is opened before the
/// prompt is queued so no event is missed; a server without a working socket is followed
/// through `/history`. Outputs the server skipped at queue time are reported as a note.
pub(crate) async fn run_prompt<P: FnMut(CallProgress) + ?Sized>(
    client: &Client,
    prompt: &serde_json::Value,
    progress: &mut P,
    cancel: &CancelToken,
    deadline: Instant,
) -> Result<(client::Queued, Outcome)> {
    // The event stream is opened first (events of the prompt are not missed); a server that
    // does not answer the upgrade costs at most the connect timeout, and cancel ends the wait.
    let mut events = {
        let connect = client.events();
        tokio::pin!(connect);
        loop {
            tokio::select! {
                r = &mut connect => break r.ok(),
                () = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                    if cancel.is_cancelled() {
                        return Err(UserError::cancelled());
                    }
                }
            }
        }
    };
    let queued = client.queue_prompt(prompt).await?;
    if let Some(errors) = &queued.skipped {
        progress(CallProgress {
            fraction: 0.05,
            step: None,
            note: Some(format!(
                "{} runs only the outputs that passed its checks; skipped: {errors}",
                client.base
            )),
        });
    }
    let outcome = follow(
        client,
        &queued.prompt_id,
        &mut events,
        progress,
        cancel,
        deadline,
    )
    .await?;
    Ok((queued, outcome))
}

/// Follows a queued prompt until it ends: over the socket when there is one, else (or
/// once it drops) by polling `/history`.
pub(crate) async fn follow<P: FnMut(CallProgress) + ?Sized>(
    client: &Client,
    prompt_id: &str,
    events: &mut Option<client::Events>,
    progress: &mut P,
    cancel: &CancelToken,
    deadline: Instant,
) -> Result<Outcome> {
    let mine = |id: &Option<String>| id.as_deref().is_none_or(|p| p == prompt_id);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut last_poll = Instant::now();
    loop {
        if cancel.is_cancelled() {
            let _ = client.interrupt(prompt_id).await;
            return Err(UserError::cancelled());
        }
        if Instant::now() > deadline {
            let _ = client.interrupt(prompt_id).await;
            return Err(client::network(
                &client.base,
                format!("prompt {prompt_id} gave no result in time"),
            ));
        }
        let event = if let Some(stream) = events {
            tokio::select! {
                e = stream.next() => Some(e),
                _ = tick.tick() => None,
            }
        } else {
            tick.tick().await;
            None
        };
        match event {
            Some(None) => {
                // Socket closed: carry on by polling.
                *events = None;
                progress(CallProgress {
                    fraction: 0.1,
                    step: None,
                    note: Some(format!(
                        "{}: event socket closed, polling /history",
                        client.base
                    )),
                });
            }
            Some(Some(Event::Progress {
                prompt_id: id,
                value,
                max,
            })) if mine(&id) => {
                progress(CallProgress {
                    fraction: 0.1 + 0.8 * value as f32 / max as f32,
                    step: Some((value, max)),
                    note: None,
                });
            }
            Some(Some(
                Event::Finished(id) | Event::Interrupted(id) | Event::Error { prompt_id: id, .. },
            )) if mine(&id) => {
                // The history has the authoritative outcome and the output names.
                for _ in 0..50 {
                    if let Some(outcome) = client.history(prompt_id).await? {
                        return Ok(outcome);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                return Err(client::network(
                    &client.base,
                    format!("prompt {prompt_id} ended but has no history"),
                ));
            }
            Some(Some(_)) => {}
            None => {
                // Poll the history when there is no socket, and now and then as a
                // safety net for missed events.
                let every = if events.is_some() { 2000 } else { 250 };
                if last_poll.elapsed() >= Duration::from_millis(every) {
                    last_poll = Instant::now();
                    if let Some(outcome) = client.history(prompt_id).await? {
                        return Ok(outcome);
                    }
                }
            }
        }
    }
}

/// The output to decode: the first video, else the first image.
pub(crate) fn pick_output(files: &[OutputFile]) -> Option<OutputFile> {
    let is_video = |f: &&OutputFile| {
        let l = f.filename.to_ascii_lowercase();
        [".mp4", ".webm", ".mov", ".mkv", ".gif"]
            .iter()
            .any(|e| l.ends_with(e))
    };
    files
        .iter()
        .find(is_video)
        .or_else(|| files.first())
        .cloned()
}

/// The error for an `execution_error`.
fn execution_error(base: &str, exception_type: &str, message: &str, node_type: &str) -> UserError {
    let mut e = if exception_type.contains("OutOfMemoryError") {
        UserError::new(
            ErrorCategory::Memory,
            format!(
                "ComfyUI {base}: out of GPU memory in {node_type}: {}",
                crate::error::one_line(message)
            ),
        )
        .hint("fewer steps, a lower resolution or no LoRAs need less memory (the retry ladder tries them)")
    } else {
        UserError::new(
            ErrorCategory::GenerationPipeline,
            format!(
                "ComfyUI {base}: {node_type} failed: {exception_type}: {}",
                crate::error::one_line(message)
            ),
        )
        .hint("check the server's console for the traceback")
    };
    e.retryable = true;
    e
}

fn write_video(path: &std::path::Path, frames: &[Frame], fps: u32) -> Result<()> {
    let Some(first) = frames.first() else {
        return Err(UserError::input("a call with no frames"));
    };
    let options = EncodeOptions {
        crf: 10,
        preset: "veryfast".into(),
        ..EncodeOptions::default()
    };
    let mut encoder = VideoEncoder::create(path, first.width, first.height, fps.max(1), &options)?;
    for f in frames {
        encoder.push(f)?;
    }
    encoder.finish()
}

impl Backend for ComfyBackend {
    fn name(&self) -> &'static str {
        "comfyui"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn identity(&self) -> String {
        self.identity.clone()
    }

    fn device(&self) -> String {
        let servers: Vec<String> = self.lock().iter().map(|s| s.client.base.clone()).collect();
        format!("ComfyUI {}", servers.join(", "))
    }

    fn preflight(&self, shape: &super::modes::RequestShape) -> Vec<CheckItem> {
        self.preflight_async(shape)
    }

    fn generate(
        &self,
        request: &GenerationRequest<'_>,
        progress: &mut dyn FnMut(CallProgress),
        cancel: &CancelToken,
    ) -> Result<Vec<Frame>> {
        let mut failed_on: Vec<usize> = Vec::new();
        let started = Instant::now();
        let patience = super::deadline_after(self.reconnect);
        loop {
            let i = match self.acquire(&failed_on, cancel) {
                Ok(i) => i,
                Err(e) if e.category == ErrorCategory::Network => {
                    let every: Vec<usize> = (0..self.lock().len()).collect();
                    match self.wait_for_server(&every, progress, cancel, started, patience)? {
                        Wait::Back | Wait::Up => {
                            failed_on.clear();
                            continue;
                        }
                        Wait::Gone => return Err(self.gave_up(e, started)),
                    }
                }
                Err(e) => return Err(e),
            };
            let base = self.lock()[i].client.base.clone();
            progress(CallProgress {
                fraction: 0.0,
                step: None,
                note: Some(format!("on {base}")),
            });
            let result = self.run_on(i, request, progress, cancel);
            match result {
                Ok(frames) => {
                    self.release(i, None);
                    return Ok(frames);
                }
                Err(e) => {
                    // A dead or misbehaving server (network) or one that failed the call
                    // for its own reasons (pipeline) is marked unhealthy and the call
                    // moves on. Memory errors go to the retry ladder; bad input and
                    // cancels end here.
                    let server_fault = matches!(
                        e.category,
                        ErrorCategory::Network | ErrorCategory::GenerationPipeline
                    );
                    self.release(i, server_fault.then_some(&e));
                    if !server_fault {
                        return Err(e);
                    }
                    failed_on.push(i);
                    let others = self.lock().len() > failed_on.len();
                    if others {
                        progress(CallProgress {
                            fraction: 0.0,
                            step: None,
                            note: Some(format!(
                                "{base} failed ({}); moving the call to another server",
                                e.message
                            )),
                        });
                        continue;
                    }
                    // Every server failed the call. One that stopped answering (a
                    // restart) is waited for; one that answers goes back to the retry
                    // ladder with the error.
                    if e.category == ErrorCategory::Network {
                        match self
                            .wait_for_server(&failed_on, progress, cancel, started, patience)?
                        {
                            Wait::Back => {
                                failed_on.clear();
                                continue;
                            }
                            Wait::Up => {}
                            Wait::Gone => return Err(self.gave_up(e, started)),
                        }
                    }
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    /// Scratch folders have fresh names and mode 0700: links planted under the names an
    /// earlier design used (`wayfarer-comfy-PID-N`) are never followed.
    #[test]
    fn scratch_folders_are_private_and_never_planted_ones() {
        use std::os::unix::fs::PermissionsExt;
        let target = tempfile::tempdir().unwrap();
        let planted: Vec<_> = (0..4)
            .map(|n| {
                let p =
                    std::env::temp_dir().join(format!("wayfarer-comfy-{}-{n}", std::process::id()));
                let _ = std::os::unix::fs::symlink(target.path(), &p);
                p
            })
            .collect();
        let a = super::scratch_dir("comfy").unwrap();
        let b = super::scratch_dir("comfy").unwrap();
        assert_ne!(a.path(), b.path());
        for d in [&a, &b] {
            let m = std::fs::symlink_metadata(d.path()).unwrap();
            assert!(m.is_dir() && !m.file_type().is_symlink());
            assert_eq!(m.permissions().mode() & 0o777, 0o700);
            assert!(!planted.iter().any(|p| p == d.path()));
        }
        std::fs::write(a.path().join("call.mp4"), b"x").unwrap();
        assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);
        for p in planted {
            let _ = std::fs::remove_file(p);
        }
    }
}
