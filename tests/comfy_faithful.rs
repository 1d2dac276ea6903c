//! The ComfyUI client against behaviours of the real server (ComfyUI's `server.py`,
//! `execution.py`, `main.py`) that the loopback server plays: one socket per client id
//! (the newest), `POST /prompt` answering 200 with `node_errors` and running the outputs
//! that validated, model files listed in `/object_info` in both combo encodings, a CPU
//! server's `/system_stats`, exception text ending in a newline, and a server that
//! restarts in the middle of a render.
#![expect(
    clippy::disallowed_methods,
    reason = "test servers and watchdogs run on plain threads and channels"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod comfy_server;
pub mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use comfy_server::ComfyTestServer;
use wayfarer::ErrorCategory;
use wayfarer::generate::comfy::ComfyBackend;
use wayfarer::generate::{BackendConfig, CancelToken};
use wayfarer::media::{self, EncodeOptions};
use wayfarer::project::{Project, file};
use wayfarer::render::{self, RenderEvent, RenderOptions, RenderSummary};

const IMAGES: [&str; 3] = ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"];

/// A project over the demo images at `positions` (256x144, chained), `loras` on every
/// segment.
fn project_in(dir: &Path, positions: &[u32], loras: &str) -> Project {
    for name in IMAGES {
        std::fs::copy(common::demo_image(name), dir.join(name)).unwrap();
    }
    let images: Vec<&str> = (0..positions.len()).map(|i| IMAGES[i % 3]).collect();
    let json = common::project_json(&images, positions, (256, 144), "chained")
        .replace("\"loras\":[]", &format!("\"loras\":[{loras}]"));
    file::load(&common::write_project(dir, &json)).unwrap()
}

fn config(servers: &[&ComfyTestServer]) -> BackendConfig {
    BackendConfig::comfyui(servers.iter().map(|s| s.url.clone()).collect())
}

fn render_with(
    project: &Project,
    dir: &Path,
    backend: &ComfyBackend,
) -> (wayfarer::Result<RenderSummary>, Vec<RenderEvent>) {
    render_cancellable(project, dir, backend, &CancelToken::new())
}

fn render_cancellable(
    project: &Project,
    dir: &Path,
    backend: &ComfyBackend,
    cancel: &CancelToken,
) -> (wayfarer::Result<RenderSummary>, Vec<RenderEvent>) {
    let options = RenderOptions {
        retry: wayfarer::generate::retry::RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
        },
        ..Default::default()
    };
    let mut events = Vec::new();
    let result = render::render(
        &render::RenderRequest {
            project,
            project_dir: dir,
            output: &dir.join("out.mp4"),
            encode: EncodeOptions::default(),
            options: &options,
            motion: None,
        },
        backend,
        &mut |e| events.push(e),
        cancel,
    );
    (result, events)
}

fn notes(events: &[RenderEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            RenderEvent::Note { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// Runs the CLI in `dir` with its own XDG folders.
fn cli(dir: &Path, args: &[&str]) -> std::process::Output {
    common::cli(dir)
        .args(args)
        .current_dir(dir)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .output()
        .unwrap()
}

/// `wayfarer render project.json --check` on the ComfyUI server `url`, `extra` args added.
fn check(dir: &Path, url: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "render",
        "project.json",
        "-o",
        "out.mp4",
        "--backend",
        "comfyui",
        "--server",
        url,
        "--check",
    ];
    args.extend_from_slice(extra);
    cli(dir, &args)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn concurrent_keyframe_prompts_each_have_their_own_socket() {
    // ComfyUI keeps only the newest socket of a client id: prompts in flight at once
    // must not share one, or all but the newest see no events.
    let server = ComfyTestServer::start();
    server.shared.behaviour.step_ms.store(5, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    project_in(dir.path(), &[0, 12, 24, 36, 48], "");
    let out = cli(
        dir.path(),
        &[
            "stream",
            "project.json",
            "-o",
            "out.mp4",
            "--source",
            "comfyui",
            "--server",
            &server.url,
            "--lookahead",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let runs = server.shared.record.runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 5, "one prompt per keyframe");
    let mut ids: Vec<&str> = runs.iter().map(|(_, c, _)| c.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), runs.len(), "a client id per prompt: {runs:?}");
    assert!(
        runs.iter().all(|(_, _, open)| *open),
        "every prompt's socket was open when it ran: {runs:?}"
    );
    // Events, not the safety poll, ended each prompt: a handful of history reads.
    let reads = server.shared.record.history_requests.load(Ordering::SeqCst);
    assert!(reads <= 2 * runs.len(), "{reads} history reads");
    assert_eq!(
        media::decode_all(&dir.path().join("out.mp4"))
            .unwrap()
            .len(),
        49
    );
}

#[test]
fn a_prompt_queued_with_node_errors_is_followed_to_its_output() {
    // 200 with node_errors: ComfyUI runs the outputs that validated.
    let server = ComfyTestServer::start();
    server
        .shared
        .behaviour
        .partial_reject_next
        .store(1, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let project = project_in(dir.path(), &[0, 24], "");
    let backend = ComfyBackend::open(&config(&[&server])).unwrap();
    let (result, events) = render_with(&project, dir.path(), &backend);
    let summary = result.expect("the call completes");
    assert_eq!(summary.backend_calls, 1);
    assert_eq!(server.prompts(), 1, "not queued twice");
    assert!(
        notes(&events)
            .iter()
            .any(|n| n.contains("skipped") && n.contains("PreviewImage")),
        "{:?}",
        notes(&events)
    );
    assert_eq!(
        media::decode_all(&dir.path().join("out.mp4"))
            .unwrap()
            .len(),
        25
    );
}

#[test]
fn pre_flight_names_each_missing_model_file_and_its_folder() {
    let server = ComfyTestServer::start();
    *server.shared.behaviour.missing_models.lock().unwrap() = vec![
        // UNETLoader lists its options as [[…]], CLIPLoader as ["COMBO", {"options"}].
        "wan2.1_vace_14B_fp16.safetensors".into(),
        "umt5_xxl_fp8_e4m3fn_scaled.safetensors".into(),
        "motion.safetensors".into(),
    ];
    let dir = tempfile::tempdir().unwrap();
    project_in(
        dir.path(),
        &[0, 24],
        r#"{"name":"motion.safetensors","strength":0.7}"#,
    );
    let out = check(dir.path(), &server.url, &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    for expect in [
        "wan2.1_vace_14B_fp16.safetensors (UNETLoader, in models/diffusion_models/)",
        "umt5_xxl_fp8_e4m3fn_scaled.safetensors (CLIPLoader, in models/text_encoders/)",
        "motion.safetensors (LoraLoaderModelOnly, in models/loras/)",
    ] {
        assert!(all.contains(expect), "{expect:?} not in {all}");
    }
    assert!(
        !all.contains("wan_2.1_vae.safetensors ("),
        "present files are not named"
    );
    assert_eq!(server.prompts(), 0);
}

#[test]
fn a_cpu_server_is_reported_as_cpu_and_memory_follows_the_template() {
    let server = ComfyTestServer::start();
    server.shared.behaviour.cpu.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    project_in(dir.path(), &[0, 24], "");
    let check = |template: Option<&str>| match template {
        Some(t) => check(dir.path(), &server.url, &["--template", t]),
        None => check(dir.path(), &server.url, &[]),
    };
    // The shipped template: Wan 14B's figures against the CPU server's system memory.
    let out = check(None);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("warn server"), "{all}");
    assert!(all.contains("generation on CPU will be very slow"), "{all}");
    assert!(all.contains("of system memory free"), "{all}");
    assert!(!all.contains("GPU memory"), "{all}");
    // A template of one's own without a memory section: no check, and it says so.
    let shipped = wayfarer::generate::comfy::template::WAN_VACE_TRAVEL;
    std::fs::write(dir.path().join("mine.json"), shipped).unwrap();
    let out = check(Some("mine.json"));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("not checked: template mine.json has no [memory]"),
        "{all}"
    );
    // With a side file that asks for more than the server has: refused, in its words.
    std::fs::write(
        dir.path().join("mine.toml"),
        "[memory]\nfixed_gib = 100\ngib_per_megapixel_frame = 0.1\n",
    )
    .unwrap();
    let out = check(Some("mine.json"));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("GiB of system memory"), "{all}");
    assert_eq!(server.prompts(), 0);
}

#[test]
fn server_text_is_one_line_and_calls_are_counted_from_one() {
    let server = ComfyTestServer::start();
    server
        .shared
        .behaviour
        .crash_next
        .store(9, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let project = project_in(dir.path(), &[0, 24], "");
    let backend = ComfyBackend::open(&config(&[&server])).unwrap();
    let (result, events) = render_with(&project, dir.path(), &backend);
    let e = result.unwrap_err();
    assert!(
        e.message.starts_with("call 1 failed after 3 attempts"),
        "{}",
        e.message
    );
    assert!(!e.message.contains('\n'), "{:?}", e.message);
    assert!(
        e.message.ends_with("(77x4096 and 768x5120)"),
        "{:?}",
        e.message
    );
    for event in &events {
        if let RenderEvent::Retry { error, .. } = event {
            assert!(!error.contains('\n'), "{error:?}");
        }
    }
}

#[test]
fn loras_without_a_model_placeholder_fail_pre_flight_and_the_render() {
    let server = ComfyTestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let project = project_in(
        dir.path(),
        &[0, 24],
        r#"{"name":"motion.safetensors","strength":0.7}"#,
    );
    let template = wayfarer::generate::comfy::template::WAN_VACE_TRAVEL
        .replace("\"{{model}}\"", "[\"model\", 0]");
    std::fs::write(dir.path().join("plain.json"), template).unwrap();
    let out = check(dir.path(), &server.url, &["--template", "plain.json"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("FAIL template LoRAs"), "{all}");
    assert!(all.contains("{{model}}"), "{all}");
    // The library refuses too, before anything reaches the server.
    let backend = ComfyBackend::open(&BackendConfig {
        template: Some(dir.path().join("plain.json")),
        ..config(&[&server])
    })
    .unwrap();
    let (result, _) = render_with(&project, dir.path(), &backend);
    assert_eq!(result.unwrap_err().category, ErrorCategory::InputValidation);
    assert_eq!(server.prompts(), 0);
}

#[test]
fn a_render_rides_out_a_server_restart() {
    let mut server = ComfyTestServer::start();
    server
        .shared
        .behaviour
        .die_on_prompt
        .store(true, Ordering::SeqCst);
    let port: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let project = project_in(dir.path(), &[0, 24, 48], "");
    let backend = ComfyBackend::open(&config(&[&server])).unwrap();
    // The server dies on the first prompt; it is back 5 s later (longer than the
    // retry ladder's own waits of 0.5 + 1 + 2 s).
    let restarted = std::thread::spawn(move || {
        while server.prompts() == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        server.kill();
        std::thread::sleep(Duration::from_secs(5));
        ComfyTestServer::start_on(port)
    });
    let (result, events) = render_with(&project, dir.path(), &backend);
    let again = restarted.join().unwrap();
    let summary = result.expect("the render waits for the server");
    assert_eq!(summary.backend_calls, 2);
    assert_eq!(again.prompts(), 2, "both calls ran on the restarted server");
    let total = summary.plan.total_frames as usize;
    let waits: Vec<String> = notes(&events)
        .into_iter()
        .filter(|n| n.contains("waiting for it to come back"))
        .collect();
    assert!(waits.len() >= 2, "each wait is an event: {waits:?}");
    assert_eq!(
        media::decode_all(&dir.path().join("out.mp4"))
            .unwrap()
            .len(),
        total
    );
}

#[test]
fn a_server_that_stays_down_fails_once_the_wait_is_over() {
    let mut server = ComfyTestServer::start();
    server
        .shared
        .behaviour
        .die_on_prompt
        .store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let project = project_in(dir.path(), &[0, 24], "");
    let backend = ComfyBackend::open(&BackendConfig {
        reconnect_timeout_secs: 2,
        ..config(&[&server])
    })
    .unwrap();
    let (result, events) = render_with(&project, dir.path(), &backend);
    server.kill();
    let e = result.unwrap_err();
    assert_eq!(e.category, ErrorCategory::Network);
    assert!(e.message.contains("waited"), "{}", e.message);
    let hint = e.suggestions.join(" ");
    assert!(hint.contains("--reconnect-timeout"), "{hint}");
    assert!(!hint.contains("retries with backoff"), "{hint}");
    // One wait, not one per rung of the retry ladder.
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RenderEvent::Retry { .. })),
        "the wait was the retry"
    );
    assert!(!dir.path().join("out.mp4").exists());
}

#[test]
fn waiting_for_a_server_can_be_cancelled() {
    let mut server = ComfyTestServer::start();
    server
        .shared
        .behaviour
        .die_on_prompt
        .store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let project = project_in(dir.path(), &[0, 24], "");
    let backend = ComfyBackend::open(&config(&[&server])).unwrap();
    let cancel = CancelToken::new();
    let (result, events) = std::thread::scope(|scope| {
        let canceller = cancel.clone();
        scope.spawn(move || {
            // Cancel once the render is waiting for the dead server.
            while server.prompts() == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_millis(1500));
            canceller.cancel();
            server.kill();
        });
        render_cancellable(&project, dir.path(), &backend, &cancel)
    });
    assert_eq!(result.unwrap_err().category, ErrorCategory::Cancelled);
    assert!(
        notes(&events)
            .iter()
            .any(|n| n.contains("waiting for it to come back")),
        "{:?}",
        notes(&events)
    );
    assert!(!dir.path().join("out.mp4").exists());
}

#[test]
fn huge_timeouts_do_not_overflow() {
    let server = ComfyTestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let project = project_in(dir.path(), &[0, 24], "");
    let backend = ComfyBackend::open(&BackendConfig {
        call_timeout_secs: u64::MAX,
        reconnect_timeout_secs: u64::MAX,
        ..config(&[&server])
    })
    .unwrap();
    let (result, _) = render_with(&project, dir.path(), &backend);
    assert_eq!(result.expect("renders").backend_calls, 1);
    // On the command line such numbers are refused with the accepted range.
    let out = cli(
        dir.path(),
        &[
            "render",
            "project.json",
            "-o",
            "out2.mp4",
            "--call-timeout",
            "18446744073709551615",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--call-timeout"), "{}", text(&out));
}
