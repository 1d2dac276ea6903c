//! A ComfyUI server for tests, on 127.0.0.1: real HTTP and WebSocket (axum), the request
//! and response shapes of the real ComfyUI server (as its own source code writes them), and
//! switches for the ways real servers fail: validation errors, `execution_error` with an
//! out-of-memory exception, interrupts, dropped sockets, slow and malformed replies,
//! hostile output file names, and dying mid-run.
//!
//! Its "model" keeps the frames the mask keeps and dissolves between them; the output is a
//! real H.264 MP4 written by Wayfarer's encoder, `length` frames long.
#![expect(
    clippy::disallowed_methods,
    reason = "test servers and watchdogs run on plain threads and channels"
)]
#![expect(
    clippy::expect_used,
    reason = "test code: a failed expect is a failed test"
)]
#![expect(
    clippy::needless_pass_by_value,
    reason = "test helpers take owned values to keep call sites short"
)]
#![expect(
    clippy::too_many_lines,
    reason = "a table of cases, or the test server's routes, reads best in one place"
)]
#![expect(
    clippy::unreadable_literal,
    reason = "seeds and byte values copied as they appear elsewhere"
)]
#![expect(clippy::unused_async, reason = "axum handlers are async functions")]
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Multipart, Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use wayfarer::media::{self, EncodeOptions, Frame, VideoEncoder};

#[path = "../drift/mod.rs"]
pub mod drift;
mod nodes;
use nodes::{invalid, node_error, object_info, validate};

/// Switches a test flips to make the server misbehave. Counters count down per prompt.
#[derive(Default)]
pub struct Behaviour {
    /// The next N prompts fail with `torch.OutOfMemoryError` in the sampler.
    pub oom_next: AtomicUsize,
    /// The next N prompts fail with another execution error.
    pub crash_next: AtomicUsize,
    /// The next N prompts are interrupted on the server (someone pressed Cancel there).
    pub interrupt_next: AtomicUsize,
    /// The next N `/prompt` requests are rejected (HTTP 400, node errors).
    pub reject_next: AtomicUsize,
    /// Close the client's WebSocket halfway through the sampler steps.
    pub drop_socket_mid_run: AtomicBool,
    /// Milliseconds before `/prompt` answers.
    pub slow_prompt_ms: AtomicU64,
    /// `/history/{id}` answers with broken JSON once the prompt is done.
    pub malformed_history: AtomicBool,
    /// Outputs get file names that climb out of any folder.
    pub hostile_names: AtomicBool,
    /// The "model" drifts as chained video diffusion does (`tests/drift`): a colour cast
    /// that continues its context's and grows along the call, the context moved sideways.
    pub drift: AtomicBool,
    /// The whole server dies when it starts running a prompt.
    pub die_on_prompt: AtomicBool,
    /// Model load time per prompt, in milliseconds.
    pub load_ms: AtomicU64,
    /// Time per sampler step, in milliseconds.
    pub step_ms: AtomicU64,
    /// Sampling time per output frame, in milliseconds (spread over the steps).
    pub frame_ms: AtomicU64,
    /// Sampling time per squared output frame, in microseconds: the attention over all
    /// frames of video diffusion makes a call's cost grow faster than its length.
    pub frame2_us: AtomicU64,
    /// GPU memory reported by `/system_stats`, in bytes (0 = 80 GiB).
    pub vram_total: AtomicU64,
    /// Node classes `/object_info` leaves out (and `/prompt` rejects).
    pub missing_nodes: Mutex<Vec<String>>,
    /// Model files the server lacks (left out of the loaders' option lists, and a prompt
    /// naming one is rejected with "Value not in list", as ComfyUI does).
    pub missing_models: Mutex<Vec<String>>,
    /// `/system_stats` reports a CPU device (ComfyUI started with `--cpu`): `type` "cpu",
    /// `vram_total` = system memory.
    pub cpu: AtomicBool,
    /// The next N `/prompt` requests answer 200 with `node_errors` for an extra output that
    /// failed validation; the outputs that passed run (ComfyUI's partial validation).
    pub partial_reject_next: AtomicUsize,
    /// `/ws` accepts the connection and never answers the upgrade (a stalled proxy).
    pub stall_ws_upgrade: AtomicBool,
}

/// Model files the server has unless a test removes them: the shipped Wan VACE template's
/// and the LoRAs the tests use.
pub const MODEL_FILES: &[(&str, &str, &str)] = &[
    (
        "UNETLoader",
        "unet_name",
        "wan2.1_vace_14B_fp16.safetensors",
    ),
    (
        "CLIPLoader",
        "clip_name",
        "umt5_xxl_fp8_e4m3fn_scaled.safetensors",
    ),
    ("VAELoader", "vae_name", "wan_2.1_vae.safetensors"),
    ("LoraLoaderModelOnly", "lora_name", "style.safetensors"),
    ("LoraLoaderModelOnly", "lora_name", "motion.safetensors"),
    ("LoraLoaderModelOnly", "lora_name", "detail.safetensors"),
    ("LoraLoaderModelOnly", "lora_name", "a.safetensors"),
    ("LoraLoaderModelOnly", "lora_name", "b.safetensors"),
    (
        "CheckpointLoaderSimple",
        "ckpt_name",
        "sd_xl_base_1.0.safetensors",
    ),
    (
        "CheckpointLoaderSimple",
        "ckpt_name",
        "sd_xl_turbo_1.0_fp16.safetensors",
    ),
];

/// What the server saw.
#[derive(Default)]
pub struct Record {
    /// Every accepted prompt (the API-format graph).
    pub prompts: Mutex<Vec<Value>>,
    /// Prompts run to the end (success or error).
    pub executed: AtomicUsize,
    /// Prompt ids `/interrupt` was called for ("" when none was given).
    pub interrupts: Mutex<Vec<String>>,
    /// Names of uploaded files.
    pub uploads: Mutex<Vec<String>>,
    /// `(filename, subfolder, type)` of every `/view` request.
    pub views: Mutex<Vec<(String, String, String)>>,
    /// `(prompt id, client id, whether a socket of that client id was open)` of every
    /// prompt when it started running.
    pub runs: Mutex<Vec<(String, String, bool)>>,
    /// `/history/{id}` requests.
    pub history_requests: AtomicUsize,
}

struct Job {
    prompt_id: String,
    client_id: String,
    prompt: Value,
}

/// Shared server state.
pub struct Shared {
    /// Switches.
    pub behaviour: Behaviour,
    /// What happened.
    pub record: Record,
    uploads: Mutex<HashMap<String, Vec<u8>>>,
    files: Mutex<HashMap<(String, String, String), Vec<u8>>>,
    history: Mutex<HashMap<String, Value>>,
    /// The socket of each client id: only the newest, as ComfyUI's `server.py` keeps it
    /// (an older socket of the same id stays open and receives nothing).
    sockets: Mutex<HashMap<String, mpsc::UnboundedSender<Message>>>,
    queue: Mutex<VecDeque<Job>>,
    queue_signal: tokio::sync::Notify,
    running: Mutex<Option<String>>,
    interrupt: AtomicBool,
    counter: AtomicU64,
    kill: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

/// A running test server.
pub struct ComfyTestServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// State, switches and records.
    pub shared: Arc<Shared>,
    killer: Option<std::thread::JoinHandle<()>>,
}

impl ComfyTestServer {
    /// Starts a server on a free loopback port.
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// Starts a server on loopback port `port` (0: a free one), e.g. the port of a server
    /// that was killed, to play a restart.
    pub fn start_on(port: u16) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test server runtime");
        let (kill_tx, kill_rx) = std::sync::mpsc::channel::<()>();
        let shared = Arc::new(Shared {
            behaviour: Behaviour::default(),
            record: Record::default(),
            uploads: Mutex::default(),
            files: Mutex::default(),
            history: Mutex::default(),
            sockets: Mutex::default(),
            queue: Mutex::default(),
            queue_signal: tokio::sync::Notify::new(),
            running: Mutex::default(),
            interrupt: AtomicBool::new(false),
            counter: AtomicU64::new(1),
            kill: Mutex::new(Some(kill_tx)),
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let app = Router::new()
            .route("/system_stats", get(system_stats))
            .route("/object_info", get(object_info))
            .route("/upload/image", post(upload))
            .route("/prompt", post(queue_prompt))
            .route("/history/{id}", get(history))
            .route("/view", get(view))
            .route("/interrupt", post(interrupt))
            .route("/queue", get(get_queue).post(post_queue))
            .route("/ws", get(ws))
            .with_state(shared.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        runtime.spawn(executor(shared.clone()));
        let killer = std::thread::spawn(move || {
            let _ = kill_rx.recv();
            runtime.shutdown_background();
        });
        Self {
            url,
            shared,
            killer: Some(killer),
        }
    }

    /// Kills the server: listener, sockets and running work stop at once.
    pub fn kill(&mut self) {
        if let Some(tx) = self.shared.kill.lock().unwrap().take() {
            let _ = tx.send(());
        }
        if let Some(k) = self.killer.take() {
            let _ = k.join();
        }
    }

    /// Prompts accepted so far.
    pub fn prompts(&self) -> usize {
        self.shared.record.prompts.lock().unwrap().len()
    }
}

impl Drop for ComfyTestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn next_id(shared: &Shared, prefix: &str) -> String {
    format!(
        "{prefix}-{:08x}-{}",
        shared.counter.fetch_add(1, Ordering::SeqCst),
        std::process::id()
    )
}

fn broadcast(shared: &Shared, client_id: &str, kind: &str, data: Value) {
    let text = json!({"type": kind, "data": data}).to_string();
    let mut sockets = shared.sockets.lock().unwrap();
    if let Some(tx) = sockets.get(client_id)
        && tx.send(Message::Text(text.into())).is_err()
    {
        sockets.remove(client_id);
    }
}

async fn system_stats(State(s): State<Arc<Shared>>) -> Json<Value> {
    let total = match s.behaviour.vram_total.load(Ordering::SeqCst) {
        0 => 80u64 << 30,
        v => v,
    };
    if s.behaviour.cpu.load(Ordering::SeqCst) {
        // What ComfyUI --cpu reports: the device is the CPU, its "VRAM" the system memory.
        let ram = 25324732416u64;
        return Json(json!({
            "system": {"os": "posix", "ram_total": ram, "ram_free": ram - (1 << 30),
                       "comfyui_version": "0.3.64", "python_version": "3.11.7", "pytorch_version": "2.8.0+cpu",
                       "embedded_python": false, "argv": ["main.py", "--cpu"]},
            "devices": [{"name": "cpu", "type": "cpu", "index": null,
                         "vram_total": ram, "vram_free": ram - (1 << 30),
                         "torch_vram_total": ram, "torch_vram_free": ram - (1 << 30)}]
        }));
    }
    Json(json!({
        "system": {"os": "posix", "ram_total": 137438953472u64, "ram_free": 100000000000u64,
                   "comfyui_version": "0.3.test", "python_version": "3.12.0", "pytorch_version": "2.7.0",
                   "embedded_python": false, "argv": ["main.py"]},
        "devices": [{"name": "cuda:0 Test GPU : cudaMallocAsync", "type": "cuda", "index": 0,
                     "vram_total": total, "vram_free": total / 2,
                     "torch_vram_total": 0, "torch_vram_free": 0}]
    }))
}

async fn upload(State(s): State<Arc<Shared>>, mut form: Multipart) -> Response {
    let mut file = None;
    let mut subfolder = String::new();
    while let Ok(Some(field)) = form.next_field().await {
        match field.name() {
            Some("image") => {
                let name = field.file_name().unwrap_or("upload.bin").to_string();
                // Like ComfyUI: only the base name counts.
                let name = name
                    .rsplit(['/', '\\'])
                    .next()
                    .unwrap_or("upload.bin")
                    .to_string();
                let Ok(bytes) = field.bytes().await else {
                    return StatusCode::BAD_REQUEST.into_response();
                };
                file = Some((name, bytes.to_vec()));
            }
            Some("subfolder") => subfolder = field.text().await.unwrap_or_default(),
            _ => {}
        }
    }
    // Like ComfyUI: a subfolder that leaves the input folder is refused.
    if subfolder.split('/').any(|part| part == "..") || subfolder.starts_with('/') {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match file {
        Some((name, bytes)) => {
            let key = if subfolder.is_empty() {
                name.clone()
            } else {
                format!("{subfolder}/{name}")
            };
            s.uploads.lock().unwrap().insert(key.clone(), bytes);
            s.record.uploads.lock().unwrap().push(key);
            Json(json!({"name": name, "subfolder": subfolder, "type": "input"})).into_response()
        }
        None => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn queue_prompt(State(s): State<Arc<Shared>>, body: String) -> Response {
    let delay = s.behaviour.slow_prompt_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return invalid("Invalid prompt", "the body is not JSON", json!({}));
    };
    let prompt = body.get("prompt").cloned().unwrap_or(Value::Null);
    if let Err(r) = validate(&s, &prompt) {
        return r;
    }
    if s.behaviour
        .reject_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return invalid(
            "Prompt outputs failed validation",
            "",
            node_error(
                "sampler",
                "KSampler",
                "value_not_in_list",
                "Value not in list",
                "sampler_name: 'uni_pc' not in ['euler']",
            ),
        );
    }
    let prompt_id = body
        .get("prompt_id")
        .and_then(Value::as_str)
        .map_or_else(|| next_id(&s, "prompt"), str::to_string);
    let client_id = body
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let node_errors = if s
        .behaviour
        .partial_reject_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        // As ComfyUI answers when one output failed validation and another passed: 200,
        // the errors of the failed one, and the passing outputs run.
        node_error(
            "preview",
            "PreviewImage",
            "required_input_missing",
            "Required input is missing",
            "images",
        )
    } else {
        json!({})
    };
    s.record.prompts.lock().unwrap().push(prompt.clone());
    let number = s.counter.fetch_add(1, Ordering::SeqCst);
    s.queue.lock().unwrap().push_back(Job {
        prompt_id: prompt_id.clone(),
        client_id,
        prompt,
    });
    s.queue_signal.notify_one();
    Json(json!({"prompt_id": prompt_id, "number": number, "node_errors": node_errors}))
        .into_response()
}

async fn history(State(s): State<Arc<Shared>>, UrlPath(id): UrlPath<String>) -> Response {
    s.record.history_requests.fetch_add(1, Ordering::SeqCst);
    let entry = s.history.lock().unwrap().get(&id).cloned();
    match entry {
        Some(_) if s.behaviour.malformed_history.load(Ordering::SeqCst) => {
            (StatusCode::OK, "{\"outputs\": [unterminated").into_response()
        }
        Some(e) => Json(json!({ id: e })).into_response(),
        None => Json(json!({})).into_response(),
    }
}

async fn view(State(s): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let key = (get("filename"), get("subfolder"), get("type"));
    s.record.views.lock().unwrap().push(key.clone());
    match s.files.lock().unwrap().get(&key) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn interrupt(State(s): State<Arc<Shared>>, body: String) -> StatusCode {
    let id = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("prompt_id")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    s.record.interrupts.lock().unwrap().push(id.clone());
    let running = s.running.lock().unwrap().clone();
    if id.is_empty() || running.as_deref() == Some(id.as_str()) {
        s.interrupt.store(true, Ordering::SeqCst);
    }
    StatusCode::OK
}

async fn get_queue(State(s): State<Arc<Shared>>) -> Json<Value> {
    let pending: Vec<Value> = s
        .queue
        .lock()
        .unwrap()
        .iter()
        .map(|j| json!([0, j.prompt_id, {}, {}, []]))
        .collect();
    let running: Vec<Value> = s
        .running
        .lock()
        .unwrap()
        .iter()
        .map(|id| json!([0, id, {}, {}, []]))
        .collect();
    Json(json!({"queue_running": running, "queue_pending": pending}))
}

async fn post_queue(State(s): State<Arc<Shared>>, body: String) -> StatusCode {
    if let Ok(v) = serde_json::from_str::<Value>(&body)
        && let Some(ids) = v.get("delete").and_then(Value::as_array)
    {
        let ids: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
        s.queue
            .lock()
            .unwrap()
            .retain(|j| !ids.contains(&j.prompt_id.as_str()));
    }
    StatusCode::OK
}

async fn ws(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if s.behaviour.stall_ws_upgrade.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_hours(1)).await;
    }
    let client_id = q
        .get("clientId")
        .cloned()
        .unwrap_or_else(|| next_id(&s, "sid"));
    upgrade.on_upgrade(move |socket| serve_socket(s, client_id, socket))
}

async fn serve_socket(s: Arc<Shared>, client_id: String, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    s.sockets.lock().unwrap().insert(client_id.clone(), tx);
    let hello = json!({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client_id}});
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(m) => if socket.send(m).await.is_err() { return },
                // Dropped by the server: end without a close frame.
                None => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

/// Follows links upstream from `input` of node `id` to a `LoadVideo` node; its file.
fn source_file(graph: &Value, id: &str, input: &str) -> Option<String> {
    let mut link = graph.get(id)?.get("inputs")?.get(input)?.clone();
    for _ in 0..16 {
        let target = link.get(0)?.as_str()?.to_string();
        let node = graph.get(&target)?;
        if node.get("class_type")?.as_str()? == "LoadVideo" {
            return node
                .get("inputs")?
                .get("file")?
                .as_str()
                .map(str::to_string);
        }
        let inputs = node.get("inputs")?.as_object()?;
        link = inputs.values().find(|v| v.is_array())?.clone();
    }
    None
}

fn find_node<'a>(graph: &'a Value, class: &str) -> Option<(&'a String, &'a Value)> {
    graph
        .as_object()?
        .iter()
        .find(|(_, n)| n.get("class_type").and_then(Value::as_str) == Some(class))
}

fn decode_upload(s: &Shared, name: &str) -> Option<Vec<Frame>> {
    let bytes = s.uploads.lock().unwrap().get(name)?.clone();
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("in.mp4");
    std::fs::write(&path, bytes).ok()?;
    media::decode_all(&path).ok()
}

fn encode(frames: &[Frame], fps: u32) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("out.mp4");
    let first = frames.first()?;
    let options = EncodeOptions {
        crf: 8,
        preset: "ultrafast".into(),
        ..EncodeOptions::default()
    };
    let mut enc = VideoEncoder::create(&path, first.width, first.height, fps, &options).ok()?;
    for f in frames {
        enc.push(f).ok()?;
    }
    enc.finish().ok()?;
    std::fs::read(&path).ok()
}

fn finish_error(s: &Shared, job: &Job, kind: &str, data: Value) {
    broadcast(s, &job.client_id, kind, data.clone());
    s.history.lock().unwrap().insert(
        job.prompt_id.clone(),
        json!({"prompt": [0, job.prompt_id, job.prompt, {}, []], "outputs": {},
               "status": {"status_str": "error", "completed": false,
                          "messages": [["execution_start", {"prompt_id": job.prompt_id}], [kind, data]]},
               "meta": {}}),
    );
    s.record.executed.fetch_add(1, Ordering::SeqCst);
}

async fn executor(s: Arc<Shared>) {
    loop {
        let job = loop {
            if let Some(j) = s.queue.lock().unwrap().pop_front() {
                break j;
            }
            s.queue_signal.notified().await;
        };
        *s.running.lock().unwrap() = Some(job.prompt_id.clone());
        s.interrupt.store(false, Ordering::SeqCst);
        run_job(&s, &job).await;
        *s.running.lock().unwrap() = None;
    }
}

async fn run_job(s: &Arc<Shared>, job: &Job) {
    let b = &s.behaviour;
    let pid = job.prompt_id.clone();
    let socket_open = s.sockets.lock().unwrap().contains_key(&job.client_id);
    s.record
        .runs
        .lock()
        .unwrap()
        .push((pid.clone(), job.client_id.clone(), socket_open));
    broadcast(
        s,
        &job.client_id,
        "execution_start",
        json!({"prompt_id": pid, "timestamp": 0}),
    );
    broadcast(
        s,
        &job.client_id,
        "execution_cached",
        json!({"nodes": [], "prompt_id": pid}),
    );
    if b.die_on_prompt.load(Ordering::SeqCst) {
        if let Some(tx) = s.kill.lock().unwrap().take() {
            let _ = tx.send(());
        }
        std::future::pending::<()>().await;
    }
    broadcast(
        s,
        &job.client_id,
        "executing",
        json!({"node": "model", "display_node": "model", "prompt_id": pid}),
    );
    tokio::time::sleep(Duration::from_millis(b.load_ms.load(Ordering::SeqCst))).await;
    let interrupted = |s: &Shared| s.interrupt.load(Ordering::SeqCst);
    let graph = &job.prompt;
    let (sampler_id, sampler) = match find_node(graph, "KSampler") {
        Some((id, n)) => (id.clone(), n.clone()),
        None => (String::from("sampler"), json!({})),
    };
    let take = |n: &AtomicUsize| {
        n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    };
    let failure = if take(&b.oom_next) {
        Some((
            "torch.OutOfMemoryError",
            "Allocation on device 0 would exceed allowed memory. (out of memory)\nCurrently allocated     : 76.80 GiB\nRequested               : 3.52 GiB\n",
        ))
    } else if take(&b.crash_next) {
        Some((
            "RuntimeError",
            "mat1 and mat2 shapes cannot be multiplied (77x4096 and 768x5120)\n",
        ))
    } else {
        None
    };
    if let Some((exception_type, message)) = failure {
        finish_error(
            s,
            job,
            "execution_error",
            json!({
            "prompt_id": pid, "node_id": sampler_id, "node_type": "KSampler", "executed": [],
            "exception_message": message, "exception_type": exception_type,
            "traceback": ["  File \"execution.py\", line 496, in execute\n"],
            "current_inputs": {}, "current_outputs": {}}),
        );
        return;
    }
    let steps = sampler
        .pointer("/inputs/steps")
        .and_then(Value::as_u64)
        .unwrap_or(20)
        .max(1) as u32;
    broadcast(
        s,
        &job.client_id,
        "executing",
        json!({"node": sampler_id, "display_node": sampler_id, "prompt_id": pid}),
    );
    let length_frames = find_node(graph, "WanVaceToVideo")
        .and_then(|(_, n)| n.pointer("/inputs/length").and_then(Value::as_u64))
        .unwrap_or(0);
    let per_step = Duration::from_millis(b.step_ms.load(Ordering::SeqCst))
        + Duration::from_millis(b.frame_ms.load(Ordering::SeqCst) * length_frames) / steps
        + Duration::from_micros(b.frame2_us.load(Ordering::SeqCst) * length_frames * length_frames)
            / steps;
    if take(&b.interrupt_next) {
        s.interrupt.store(true, Ordering::SeqCst);
    }
    for step in 1..=steps {
        tokio::time::sleep(per_step).await;
        if interrupted(s) {
            finish_error(
                s,
                job,
                "execution_interrupted",
                json!({
                "prompt_id": pid, "node_id": sampler_id, "node_type": "KSampler", "executed": []}),
            );
            return;
        }
        broadcast(
            s,
            &job.client_id,
            "progress",
            json!({"value": step, "max": steps, "prompt_id": pid, "node": sampler_id}),
        );
        if step == steps.div_ceil(2) && b.drop_socket_mid_run.load(Ordering::SeqCst) {
            s.sockets.lock().unwrap().remove(&job.client_id);
        }
    }
    if find_node(graph, "WanVaceToVideo").is_none()
        && let Some((_, load)) = find_node(graph, "LoadImage")
    {
        return image_job(s, job, load.clone()).await;
    }
    // Produce the output from the uploaded guide and mask.
    let (vace_id, vace) = match find_node(graph, "WanVaceToVideo") {
        Some((id, n)) => (id.clone(), n.clone()),
        None => {
            return finish_error(
                s,
                job,
                "execution_error",
                json!({"prompt_id": pid, "exception_type": "KeyError", "exception_message": "no WanVaceToVideo", "node_type": "", "node_id": ""}),
            );
        }
    };
    let length = vace
        .pointer("/inputs/length")
        .and_then(Value::as_u64)
        .unwrap_or(81) as usize;
    let guide = source_file(graph, &vace_id, "control_video").and_then(|f| decode_upload(s, &f));
    let mask = source_file(graph, &vace_id, "control_masks").and_then(|f| decode_upload(s, &f));
    let fps = find_node(graph, "CreateVideo")
        .and_then(|(_, n)| n.pointer("/inputs/fps").and_then(Value::as_u64))
        .unwrap_or(16) as u32;
    let bytes = match guide {
        Some(g) if !g.is_empty() => {
            let frames = nodes::fake_model(
                &g,
                mask.as_deref().unwrap_or(&[]),
                length,
                b.drift.load(Ordering::SeqCst),
            );
            encode(&frames, fps)
        }
        _ => None,
    };
    let Some(bytes) = bytes else {
        return finish_error(
            s,
            job,
            "execution_error",
            json!({"prompt_id": pid, "node_id": "guide", "node_type": "LoadVideo", "exception_type": "ValueError", "exception_message": "cannot read the control video"}),
        );
    };
    let n = s.counter.fetch_add(1, Ordering::SeqCst);
    let (filename, subfolder) = if b.hostile_names.load(Ordering::SeqCst) {
        (
            format!("../../../../tmp/wayfarer-hostile-{n}.mp4"),
            "../..".to_string(),
        )
    } else {
        (format!("call_{n:05}_.mp4"), "wayfarer".to_string())
    };
    s.files.lock().unwrap().insert(
        (filename.clone(), subfolder.clone(), "output".into()),
        bytes,
    );
    let output = json!({"images": [{"filename": filename, "subfolder": subfolder, "type": "output"}], "animated": [true]});
    finish_success(s, job, output);
}

/// The tint the server's img2img "model" moves a picture towards, by `denoise / 2`.
pub const TINT: [u8; 3] = [200, 100, 50];

/// An image-to-image prompt: the uploaded picture moved towards [`TINT`], saved as PNG.
async fn image_job(s: &Arc<Shared>, job: &Job, load: Value) {
    let pid = job.prompt_id.clone();
    let name = load
        .pointer("/inputs/image")
        .and_then(Value::as_str)
        .unwrap_or("");
    let bytes = s.uploads.lock().unwrap().get(name).cloned();
    let denoise = find_node(&job.prompt, "KSampler")
        .and_then(|(_, n)| n.pointer("/inputs/denoise").and_then(Value::as_f64))
        .unwrap_or(1.0) as f32;
    let Some(picture) = bytes.and_then(|b| image::load_from_memory(&b).ok()) else {
        return finish_error(
            s,
            job,
            "execution_error",
            json!({"prompt_id": pid, "node_id": "image", "node_type": "LoadImage", "exception_type": "ValueError", "exception_message": "cannot read the image"}),
        );
    };
    let frame = Frame::from_rgb_image(picture.to_rgb8());
    let out = Frame::lerp(
        &frame,
        &Frame::filled(frame.width, frame.height, TINT),
        denoise / 2.0,
    );
    let mut png = Vec::new();
    out.into_rgb_image()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let n = s.counter.fetch_add(1, Ordering::SeqCst);
    let filename = format!("keyframe_{n:05}_.png");
    s.files
        .lock()
        .unwrap()
        .insert((filename.clone(), "wayfarer".into(), "output".into()), png);
    let output =
        json!({"images": [{"filename": filename, "subfolder": "wayfarer", "type": "output"}]});
    finish_success(s, job, output);
}

/// Publishes a finished prompt like ComfyUI: `executed` with the outputs, the history entry,
/// `executing` with no node, `execution_success`.
fn finish_success(s: &Shared, job: &Job, output: Value) {
    let pid = job.prompt_id.clone();
    broadcast(
        s,
        &job.client_id,
        "executed",
        json!({"node": "save", "display_node": "save", "output": output, "prompt_id": pid}),
    );
    // ComfyUI sends execution_success from the executor, and only then does the queue
    // store the history entry (`task_done`) and send `executing` with no node.
    broadcast(
        s,
        &job.client_id,
        "execution_success",
        json!({"prompt_id": pid, "timestamp": 0}),
    );
    std::thread::sleep(Duration::from_millis(20));
    s.history.lock().unwrap().insert(
        pid.clone(),
        json!({"prompt": [0, pid, job.prompt, {}, ["save"]], "outputs": {"save": output},
               "status": {"status_str": "success", "completed": true,
                          "messages": [["execution_start", {"prompt_id": pid}], ["execution_cached", {"nodes": [], "prompt_id": pid}], ["execution_success", {"prompt_id": pid}]]},
               "meta": {"save": {"node_id": "save", "display_node": "save"}}}),
    );
    s.record.executed.fetch_add(1, Ordering::SeqCst);
    broadcast(
        s,
        &job.client_id,
        "executing",
        json!({"node": null, "prompt_id": pid}),
    );
}
