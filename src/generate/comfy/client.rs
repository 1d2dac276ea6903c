//! An async client for one ComfyUI server: the HTTP API and the `/ws` event stream.
//!
//! Every reply is parsed defensively: a reply that is not the documented shape becomes a
//! network error naming the endpoint, never a panic. File names the server sends are only
//! ever passed back to it as URL-encoded query values, never used as local paths.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::error::{ErrorCategory, Result, UserError};

/// Largest output file accepted from a server.
const MAX_DOWNLOAD_BYTES: usize = 4 << 30;

/// One ComfyUI server.
#[derive(Debug, Clone)]
pub struct Client {
    /// `http://host:port` without a trailing slash.
    pub base: String,
    http: reqwest::Client,
    /// Id sent with prompts and on the WebSocket, so events can be matched.
    pub client_id: String,
}

/// A file the server produced, as it named it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputFile {
    /// File name.
    pub filename: String,
    /// Sub-folder.
    pub subfolder: String,
    /// Folder type (`output`, `temp`).
    pub kind: String,
}

/// The first device of a server, from `/system_stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemStats {
    /// `cuda`, `cpu`, `mps`, `xpu`… (ComfyUI's device type).
    pub device_type: String,
    /// Device name as the server reports it.
    pub device_name: String,
    /// Device memory in bytes (system RAM on a CPU server).
    pub vram_total: u64,
    /// Free device memory in bytes.
    pub vram_free: u64,
}

impl SystemStats {
    /// Whether the server generates on the CPU (ComfyUI started with `--cpu`, or no GPU).
    pub fn is_cpu(&self) -> bool {
        self.device_type.eq_ignore_ascii_case("cpu")
    }
}

/// A queued prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// The server's id for it.
    pub prompt_id: String,
    /// Node errors of outputs the server skipped (it runs the outputs that validated).
    pub skipped: Option<String>,
}

/// `/object_info`: node classes and their input specs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectInfo(pub serde_json::Map<String, Value>);

impl ObjectInfo {
    /// Whether the server has node class `class`.
    pub fn has(&self, class: &str) -> bool {
        self.0.contains_key(class)
    }

    /// The options of combo input `input` of `class` (required or optional), in both of
    /// ComfyUI's encodings: `[[options…], {…}]` (classic nodes) and
    /// `["COMBO", {"options": […]}]` (nodes of the newer node API). `None` when the input
    /// is not a combo or is unknown.
    pub fn combo_options(&self, class: &str, input: &str) -> Option<Vec<String>> {
        let node = self.0.get(class)?.get("input")?;
        let spec = ["required", "optional"]
            .iter()
            .find_map(|k| node.get(k).and_then(|m| m.get(input)))?;
        let first = spec.get(0)?;
        let list = match first {
            Value::Array(list) => list,
            Value::String(t) if t == "COMBO" => spec.get(1)?.get("options")?.as_array()?,
            _ => return None,
        };
        Some(
            list.iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        )
    }
}

/// How a prompt ended, from the history.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished; its output files.
    Success(Vec<OutputFile>),
    /// Failed with an execution error (`exception_type`, `exception_message`, node type).
    Error {
        /// Python exception type.
        exception_type: String,
        /// Exception text.
        message: String,
        /// Node class that failed.
        node_type: String,
    },
    /// Interrupted.
    Interrupted,
}

/// A network error about `what` on `base`.
pub fn network(base: &str, what: impl std::fmt::Display) -> UserError {
    let mut e = UserError::new(ErrorCategory::Network, format!("ComfyUI {base}: {what}"))
        .hint("check that the server is running and reachable");
    e.retryable = true;
    e
}

fn malformed(base: &str, endpoint: &str, why: impl std::fmt::Display) -> UserError {
    network(base, format!("malformed reply from {endpoint}: {why}"))
}

impl Client {
    /// A client for `base` (`http://host:port`) with a per-request `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<Self> {
        let base = base.trim().trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base).map_err(|e| {
            UserError::input(format!("server {base:?}: not a URL: {e}"))
                .hint("give servers as http://host:port, e.g. http://127.0.0.1:8188")
        })?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(UserError::input(format!(
                "server {base:?}: a {} address; ComfyUI servers speak http:// or https://",
                url.scheme()
            ))
            .hint("give servers as http://host:port, e.g. http://127.0.0.1:8188"));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| network(&base, format!("cannot create an HTTP client: {e}")))?;
        let client_id = format!("wayfarer-{}-{}", std::process::id(), unique());
        Ok(Self {
            base,
            http,
            client_id,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn json(&self, request: reqwest::RequestBuilder, endpoint: &str) -> Result<Value> {
        let reply = request
            .send()
            .await
            .map_err(|e| network(&self.base, format!("{endpoint}: {}", describe(&e))))?;
        let status = reply.status();
        let bytes = reply
            .bytes()
            .await
            .map_err(|e| network(&self.base, format!("{endpoint}: {}", describe(&e))))?;
        if !status.is_success() {
            return Err(network(
                &self.base,
                format!("{endpoint} answered {status}: {}", snippet(&bytes)),
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| malformed(&self.base, endpoint, e))
    }

    /// `GET /system_stats`: the first device (its type, name and memory).
    pub async fn system_stats(&self) -> Result<SystemStats> {
        let v = self
            .json(self.http.get(self.url("/system_stats")), "/system_stats")
            .await?;
        let device = v
            .get("devices")
            .and_then(Value::as_array)
            .and_then(|d| d.first())
            .ok_or_else(|| malformed(&self.base, "/system_stats", "no devices"))?;
        let get = |k: &str| {
            device
                .get(k)
                .and_then(Value::as_u64)
                .ok_or_else(|| malformed(&self.base, "/system_stats", format!("no {k}")))
        };
        let text = |k: &str| {
            device
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_string()
        };
        Ok(SystemStats {
            device_type: text("type"),
            device_name: text("name"),
            vram_total: get("vram_total")?,
            vram_free: get("vram_free")?,
        })
    }

    /// `GET /object_info`: every node class the server has, with its input specs.
    pub async fn object_info(&self) -> Result<ObjectInfo> {
        let v = self
            .json(self.http.get(self.url("/object_info")), "/object_info")
            .await?;
        match v {
            Value::Object(map) => Ok(ObjectInfo(map)),
            _ => Err(malformed(&self.base, "/object_info", "not an object")),
        }
    }

    /// This server with a new client id: events for prompts queued through the copy go
    /// only to sockets the copy opens. ComfyUI keeps one socket per client id (the newest),
    /// so every prompt in flight needs its own id.
    #[must_use]
    pub fn for_prompt(&self) -> Self {
        Self {
            client_id: format!("wayfarer-{}-{:x}", std::process::id(), unique()),
            ..self.clone()
        }
    }

    /// `POST /upload/image` (any file type) into `subfolder` of the server's input folder
    /// (empty: the input folder itself): returns the name to use in a prompt.
    pub async fn upload(&self, bytes: Vec<u8>, name: &str, subfolder: &str) -> Result<String> {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str("video/mp4")
            .map_err(|e| network(&self.base, e))?;
        let form = reqwest::multipart::Form::new()
            .part("image", part)
            .text("overwrite", "true")
            .text("type", "input")
            .text("subfolder", subfolder.to_string());
        let v = self
            .json(
                self.http.post(self.url("/upload/image")).multipart(form),
                "/upload/image",
            )
            .await?;
        let stored = v
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| malformed(&self.base, "/upload/image", "no name"))?;
        let subfolder = v.get("subfolder").and_then(Value::as_str).unwrap_or("");
        Ok(if subfolder.is_empty() {
            stored.to_string()
        } else {
            format!("{subfolder}/{stored}")
        })
    }

    /// `POST /prompt`: queues `prompt`. A rejected workflow (HTTP 400) is bad input with the
    /// server's node errors. ComfyUI also answers 200 with `node_errors` when some outputs
    /// failed validation and runs the others: the prompt is queued then, and the errors
    /// come back in [`Queued::skipped`].
    pub async fn queue_prompt(&self, prompt: &Value) -> Result<Queued> {
        let body = json!({"prompt": prompt, "client_id": self.client_id});
        let reply = self
            .http
            .post(self.url("/prompt"))
            .json(&body)
            .send()
            .await
            .map_err(|e| network(&self.base, format!("/prompt: {}", describe(&e))))?;
        let status = reply.status();
        let bytes = reply
            .bytes()
            .await
            .map_err(|e| network(&self.base, format!("/prompt: {}", describe(&e))))?;
        if status == reqwest::StatusCode::BAD_REQUEST {
            return Err(rejected(&self.base, &bytes));
        }
        if !status.is_success() {
            return Err(network(
                &self.base,
                format!("/prompt answered {status}: {}", snippet(&bytes)),
            ));
        }
        let v: Value =
            serde_json::from_slice(&bytes).map_err(|e| malformed(&self.base, "/prompt", e))?;
        let prompt_id = v
            .get("prompt_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| malformed(&self.base, "/prompt", "no prompt_id"))?;
        let skipped = v
            .get("node_errors")
            .and_then(Value::as_object)
            .filter(|e| !e.is_empty())
            .map(|_| node_error_details(&v).join("; "));
        Ok(Queued { prompt_id, skipped })
    }

    /// `GET /history/{id}`: the outcome, or `None` while the prompt has not finished.
    pub async fn history(&self, prompt_id: &str) -> Result<Option<Outcome>> {
        let endpoint = format!("/history/{prompt_id}");
        let v = self
            .json(
                self.http
                    .get(self.url(&format!("/history/{}", urlencode_path(prompt_id)))),
                &endpoint,
            )
            .await?;
        let map = v
            .as_object()
            .ok_or_else(|| malformed(&self.base, &endpoint, "not an object"))?;
        let Some(entry) = map.get(prompt_id) else {
            return Ok(None);
        };
        parse_history_entry(entry).map_err(|why| malformed(&self.base, &endpoint, why))
    }

    /// `GET /view`: the bytes of an output file. The names go only into the query string.
    pub async fn download(&self, file: &OutputFile) -> Result<Vec<u8>> {
        let mut reply = self
            .http
            .get(self.url("/view"))
            .query(&[
                ("filename", file.filename.as_str()),
                ("subfolder", file.subfolder.as_str()),
                ("type", file.kind.as_str()),
            ])
            .send()
            .await
            .map_err(|e| network(&self.base, format!("/view: {}", describe(&e))))?;
        if !reply.status().is_success() {
            return Err(network(
                &self.base,
                format!("/view {:?} answered {}", file.filename, reply.status()),
            ));
        }
        let mut out = Vec::new();
        while let Some(chunk) = reply
            .chunk()
            .await
            .map_err(|e| network(&self.base, format!("/view: {}", describe(&e))))?
        {
            out.extend_from_slice(&chunk);
            if out.len() > MAX_DOWNLOAD_BYTES {
                return Err(network(&self.base, "/view: output larger than 4 GiB"));
            }
        }
        Ok(out)
    }

    /// `POST /interrupt` for `prompt_id` and removes it from the queue if still waiting.
    pub async fn interrupt(&self, prompt_id: &str) -> Result<()> {
        let _ = self
            .http
            .post(self.url("/queue"))
            .json(&json!({"delete": [prompt_id]}))
            .send()
            .await;
        self.http
            .post(self.url("/interrupt"))
            .json(&json!({"prompt_id": prompt_id}))
            .send()
            .await
            .map_err(|e| network(&self.base, format!("/interrupt: {}", describe(&e))))?;
        Ok(())
    }

    /// Opens `/ws?clientId=…`.
    pub async fn events(&self) -> Result<Events> {
        let ws_base = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            format!("ws://{}", self.base.trim_start_matches("http://"))
        };
        let url = format!("{ws_base}/ws?clientId={}", urlencode_path(&self.client_id));
        let (stream, _) =
            tokio::time::timeout(WS_CONNECT_TIMEOUT, tokio_tungstenite::connect_async(url))
                .await
                .map_err(|_| {
                    network(
                        &self.base,
                        format!(
                            "/ws: no answer to the WebSocket upgrade in {} s",
                            WS_CONNECT_TIMEOUT.as_secs()
                        ),
                    )
                })?
                .map_err(|e| network(&self.base, format!("/ws: {e}")))?;
        let mut events = Events { stream };
        // ComfyUI registers the socket under its client id, then greets it with a `status`
        // message: once the greeting is here, events of a prompt queued now reach this
        // socket. A server that does not greet within the limit is used as it is.
        let _ = tokio::time::timeout(WS_GREETING_TIMEOUT, events.next()).await;
        Ok(events)
    }
}

/// How long the WebSocket connection and upgrade may take before the client goes on
/// without live events (it follows the prompt through `/history` then).
pub const WS_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the client waits for the server's greeting on a new socket.
const WS_GREETING_TIMEOUT: Duration = Duration::from_secs(2);

/// The `/ws` event stream.
pub struct Events {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// One event of interest, already filtered to a prompt by the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A sampler step.
    Progress {
        /// Prompt the event is about.
        prompt_id: Option<String>,
        /// Step done.
        value: u32,
        /// Steps.
        max: u32,
    },
    /// The prompt finished (success or `executing` with no node).
    Finished(Option<String>),
    /// An execution error.
    Error {
        /// Prompt the event is about.
        prompt_id: Option<String>,
        /// Python exception type.
        exception_type: String,
        /// Exception text.
        message: String,
        /// Node class that failed.
        node_type: String,
    },
    /// The run was interrupted.
    Interrupted(Option<String>),
    /// Anything else (status, previews, cached nodes).
    Other,
}

impl Events {
    /// The next event; `None` when the socket closed.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            let Ok(message) = self.stream.next().await? else {
                return None;
            };
            match message {
                Message::Text(text) => return Some(parse_event(text.as_str())),
                Message::Ping(p) => {
                    let _ = self.stream.send(Message::Pong(p)).await;
                }
                Message::Close(_) => return None,
                // Binary frames are previews (4-byte type, 4-byte image type, bytes).
                _ => return Some(Event::Other),
            }
        }
    }
}

/// Parses one `/ws` text message; anything unexpected is [`Event::Other`].
pub fn parse_event(text: &str) -> Event {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Event::Other;
    };
    let data = v.get("data").cloned().unwrap_or(Value::Null);
    let prompt_id = data
        .get("prompt_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let s = |k: &str| {
        data.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    match v.get("type").and_then(Value::as_str).unwrap_or("") {
        "progress" => {
            let n = |k: &str| data.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
            Event::Progress {
                prompt_id,
                value: n("value"),
                max: n("max").max(1),
            }
        }
        "executing" if data.get("node").is_some_and(Value::is_null) => Event::Finished(prompt_id),
        "execution_success" => Event::Finished(prompt_id),
        "execution_error" => Event::Error {
            prompt_id,
            exception_type: s("exception_type"),
            message: s("exception_message"),
            node_type: s("node_type"),
        },
        "execution_interrupted" => Event::Interrupted(prompt_id),
        _ => Event::Other,
    }
}

/// Parses one history entry (`{"outputs", "status"}`).
pub fn parse_history_entry(entry: &Value) -> std::result::Result<Option<Outcome>, String> {
    let status = entry.get("status");
    let messages = status
        .and_then(|s| s.get("messages"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let status_str = status
        .and_then(|s| s.get("status_str"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let completed = status
        .and_then(|s| s.get("completed"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if status_str == "error" {
        for m in &messages {
            let kind = m.get(0).and_then(Value::as_str).unwrap_or("");
            let data = m.get(1).cloned().unwrap_or(Value::Null);
            let s = |k: &str| {
                data.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim()
                    .to_string()
            };
            if kind == "execution_interrupted" {
                return Ok(Some(Outcome::Interrupted));
            }
            if kind == "execution_error" {
                return Ok(Some(Outcome::Error {
                    exception_type: s("exception_type"),
                    message: s("exception_message"),
                    node_type: s("node_type"),
                }));
            }
        }
        return Ok(Some(Outcome::Error {
            exception_type: String::new(),
            message: "the server reports an error without details".into(),
            node_type: String::new(),
        }));
    }
    if !completed && status_str != "success" {
        return Ok(None);
    }
    let outputs = entry
        .get("outputs")
        .and_then(Value::as_object)
        .ok_or("\"outputs\" is not an object")?;
    let mut files = Vec::new();
    for node in outputs.values() {
        let Some(node) = node.as_object() else {
            return Err("an output is not an object".into());
        };
        for key in ["images", "gifs", "videos"] {
            let Some(list) = node.get(key) else { continue };
            let list = list.as_array().ok_or(format!("\"{key}\" is not a list"))?;
            for f in list {
                let s = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_string);
                let filename = s("filename").ok_or("an output file has no filename")?;
                files.push(OutputFile {
                    filename,
                    subfolder: s("subfolder").unwrap_or_default(),
                    kind: s("type").unwrap_or_else(|| "output".into()),
                });
            }
        }
    }
    Ok(Some(Outcome::Success(files)))
}

/// The bad-input error for a workflow the server rejected (HTTP 400 body).
fn rejected(base: &str, body: &[u8]) -> UserError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = v
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map_or("the workflow was rejected", str::trim);
    let details = node_error_details(&v);
    let text = if details.is_empty() {
        format!("ComfyUI {base} rejected the workflow: {message}")
    } else {
        format!(
            "ComfyUI {base} rejected the workflow: {message}: {}",
            details.join("; ")
        )
    };
    UserError::input(text)
        .hint("check the template's models and values against the server (its /object_info), and the segment's parameters")
}

/// One line per node error of a `/prompt` reply: `node ID (Class): message details`.
fn node_error_details(reply: &Value) -> Vec<String> {
    let mut details = Vec::new();
    if let Some(errors) = reply.get("node_errors").and_then(Value::as_object) {
        for (node, e) in errors {
            let class = e.get("class_type").and_then(Value::as_str).unwrap_or("?");
            for err in e
                .get("errors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let m = err.get("message").and_then(Value::as_str).unwrap_or("");
                let d = err.get("details").and_then(Value::as_str).unwrap_or("");
                let line = format!("node {node} ({class}): {} {}", m.trim(), d.trim());
                details.push(line.trim().replace(['\n', '\r'], " "));
            }
        }
    }
    details
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time (timed out)".into()
    } else if e.is_connect() {
        "cannot connect (is the server running?)".into()
    } else {
        let mut s = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            s.push_str(": ");
            s.push_str(&inner.to_string());
            source = inner.source();
        }
        s
    }
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).to_string();
    text.replace(['\n', '\r'], " ")
}

/// Percent-encodes a path segment or query value.
fn urlencode_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            {
                use std::fmt::Write as _;
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ (N.fetch_add(1, Ordering::Relaxed) << 48)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_and_unknown_is_other() {
        assert_eq!(
            parse_event(r#"{"type":"progress","data":{"value":3,"max":20,"prompt_id":"p"}}"#),
            Event::Progress {
                prompt_id: Some("p".into()),
                value: 3,
                max: 20
            }
        );
        assert_eq!(
            parse_event(r#"{"type":"executing","data":{"node":null,"prompt_id":"p"}}"#),
            Event::Finished(Some("p".into()))
        );
        assert_eq!(parse_event("garbage"), Event::Other);
        assert_eq!(parse_event(r#"{"type":"status","data":{}}"#), Event::Other);
    }

    #[test]
    fn history_shapes() {
        let ok = json!({"outputs": {"9": {"images": [{"filename": "a.mp4", "subfolder": "x", "type": "output"}]}},
                        "status": {"status_str": "success", "completed": true, "messages": []}});
        assert_eq!(
            parse_history_entry(&ok).unwrap(),
            Some(Outcome::Success(vec![OutputFile {
                filename: "a.mp4".into(),
                subfolder: "x".into(),
                kind: "output".into()
            }]))
        );
        let oom = json!({"outputs": {}, "status": {"status_str": "error", "completed": false,
            "messages": [["execution_error", {"exception_type": "torch.OutOfMemoryError", "exception_message": "CUDA out of memory", "node_type": "KSampler"}]]}});
        assert!(matches!(
            parse_history_entry(&oom).unwrap(),
            Some(Outcome::Error { exception_type, .. }) if exception_type.contains("OutOfMemoryError")
        ));
        assert!(
            parse_history_entry(&json!({"outputs": 5, "status": {"completed": true}})).is_err()
        );
    }
}
