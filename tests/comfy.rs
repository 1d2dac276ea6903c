//! The ComfyUI backend against a protocol-faithful server on 127.0.0.1 (real HTTP and
//! WebSocket): success with step progress, the OOM retry ladder, validation errors,
//! dropped sockets, slow and malformed replies, hostile file names, failover, parallel
//! servers, cancel, pre-flight, and resume after a killed render.
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

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use comfy_server::ComfyTestServer;
use wayfarer::ErrorCategory;
use wayfarer::generate::comfy::ComfyBackend;
use wayfarer::generate::{BackendConfig, CancelToken};
use wayfarer::media::{self, EncodeOptions, crop_fit, psnr};
use wayfarer::project::{Project, file};
use wayfarer::render::{self, RenderEvent, RenderOptions, RenderSummary};

const IMAGES: [&str; 3] = ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"];

fn project(dir: &Path, positions: &[u32], mode: &str) -> Project {
    for name in IMAGES {
        std::fs::copy(common::demo_image(name), dir.join(name)).unwrap();
    }
    let images: Vec<&str> = (0..positions.len()).map(|i| IMAGES[i % 3]).collect();
    let json = common::project_json(&images, positions, (256, 144), mode).replace(
        "\"loras\":[]",
        "\"loras\":[{\"name\":\"motion.safetensors\",\"strength\":0.7}]",
    );
    file::load(&common::write_project(dir, &json)).unwrap()
}

fn backend(servers: &[&ComfyTestServer], timeout_ms: u64) -> ComfyBackend {
    let config = BackendConfig::comfyui(servers.iter().map(|s| s.url.clone()).collect());
    ComfyBackend::with_timeouts(&config, Duration::from_millis(timeout_ms)).unwrap()
}

fn fast_retries() -> RenderOptions {
    RenderOptions {
        retry: wayfarer::generate::retry::RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
        },
        ..Default::default()
    }
}

fn run(
    project: &Project,
    dir: &Path,
    backend: &ComfyBackend,
    options: &RenderOptions,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(&RenderEvent),
) -> (wayfarer::Result<RenderSummary>, Vec<RenderEvent>) {
    let mut events = Vec::new();
    let out = dir.join("out.mp4");
    let result = render::render(
        &render::RenderRequest {
            project,
            project_dir: dir,
            output: &out,
            encode: EncodeOptions::default(),
            options,
            motion: None,
        },
        backend,
        &mut |e| {
            on_event(&e);
            events.push(e);
        },
        cancel,
    );
    (result, events)
}

/// [`run`] on `servers` with fast retries, no cancel and no event hook.
fn run_simple(
    project: &Project,
    dir: &Path,
    servers: &[&ComfyTestServer],
) -> (wayfarer::Result<RenderSummary>, Vec<RenderEvent>) {
    run(
        project,
        dir,
        &backend(servers, 5000),
        &fast_retries(),
        &CancelToken::new(),
        &mut |_| {},
    )
}

fn check_output(dir: &Path, summary: &RenderSummary) {
    check_output_at(dir, summary, 30.0);
}

fn check_output_at(dir: &Path, summary: &RenderSummary, min_db: f64) {
    let frames = media::decode_all(&dir.join("out.mp4")).unwrap();
    assert_eq!(frames.len() as u32, summary.plan.total_frames);
    for (k, &pos) in summary.plan.positions.iter().enumerate() {
        let anchor = crop_fit(
            &media::load_image(&dir.join(IMAGES[k % 3])).unwrap(),
            256,
            144,
        )
        .unwrap();
        let db = psnr(&frames[pos as usize], &anchor);
        assert!(db >= min_db, "keyframe {k}: {db:.1} dB");
    }
}

#[test]
fn renders_through_comfyui_with_step_progress_and_the_template_filled() {
    let server = ComfyTestServer::start();
    server.shared.behaviour.step_ms.store(1, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 24, 48], "chained");
    let (result, events) = run_simple(&p, dir.path(), &[&server]);
    let summary = result.unwrap();
    assert_eq!(summary.backend_calls, summary.plan.calls.len());
    check_output(dir.path(), &summary);
    let steps: Vec<(u32, u32)> = events
        .iter()
        .filter_map(|e| match e {
            RenderEvent::Progress { step: Some(s), .. } => Some(*s),
            _ => None,
        })
        .collect();
    assert!(
        steps.contains(&(1, 20)) && steps.contains(&(20, 20)),
        "{steps:?}"
    );
    let prompts = server.shared.record.prompts.lock().unwrap().clone();
    assert_eq!(prompts.len(), summary.plan.calls.len());
    for (prompt, call) in prompts.iter().zip(&summary.plan.calls) {
        assert_eq!(prompt["vace"]["inputs"]["length"], call.len());
        assert_eq!(prompt["vace"]["inputs"]["width"], 256);
        assert_eq!(prompt["sampler"]["inputs"]["seed"], 789);
        assert_eq!(prompt["positive"]["inputs"]["text"], "travel");
        assert_eq!(
            prompt["wayfarer_lora_0"]["inputs"]["lora_name"],
            "motion.safetensors"
        );
        assert_eq!(prompt["sampling"]["inputs"]["model"][0], "wayfarer_lora_0");
    }
    // Guide and mask of each call were uploaded.
    assert_eq!(
        server.shared.record.uploads.lock().unwrap().len(),
        2 * prompts.len()
    );
}

#[test]
fn out_of_memory_on_the_server_walks_the_retry_ladder() {
    let server = ComfyTestServer::start();
    server.shared.behaviour.oom_next.store(2, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 24], "chained");
    let (result, events) = run_simple(&p, dir.path(), &[&server]);
    let summary = result.unwrap();
    // The call that succeeded ran at 0.75x and was scaled back up.
    check_output_at(dir.path(), &summary, 25.0);
    let retries: Vec<(u32, ErrorCategory, String)> = events
        .iter()
        .filter_map(|e| match e {
            RenderEvent::Retry {
                attempt,
                category,
                change,
                ..
            } => Some((*attempt, *category, change.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert!(retries.iter().all(|r| r.1 == ErrorCategory::Memory));
    let prompts = server.shared.record.prompts.lock().unwrap().clone();
    let asked: Vec<(u64, u64, u64)> = prompts
        .iter()
        .map(|p| {
            (
                p["sampler"]["inputs"]["steps"].as_u64().unwrap(),
                p["vace"]["inputs"]["width"].as_u64().unwrap(),
                p["vace"]["inputs"]["height"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(asked, vec![(20, 256, 144), (10, 256, 144), (10, 192, 112)]);
    assert_eq!(summary.retries.len(), 2);
}

#[test]
fn a_rejected_workflow_is_bad_input_and_not_retried() {
    let server = ComfyTestServer::start();
    server
        .shared
        .behaviour
        .reject_next
        .store(5, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 24], "chained");
    let (result, _) = run_simple(&p, dir.path(), &[&server]);
    let e = result.unwrap_err();
    assert_eq!(e.category, ErrorCategory::InputValidation);
    assert!(e.message.contains("Value not in list"), "{e}");
    assert!(e.message.contains("KSampler"), "{e}");
    assert!(!e.suggestions.is_empty());
    assert_eq!(
        server.shared.behaviour.reject_next.load(Ordering::SeqCst),
        4,
        "one attempt only"
    );
    assert!(!dir.path().join("out.mp4").exists());
}

#[test]
fn a_run_interrupted_on_the_server_is_retried() {
    let server = ComfyTestServer::start();
    server
        .shared
        .behaviour
        .interrupt_next
        .store(1, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 24], "chained");
    let (result, events) = run_simple(&p, dir.path(), &[&server]);
    let summary = result.unwrap();
    check_output(dir.path(), &summary);
    let retries: Vec<(ErrorCategory, String)> = events
        .iter()
        .filter_map(|e| match e {
            RenderEvent::Retry {
                category, error, ..
            } => Some((*category, error.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert_eq!(retries[0].0, ErrorCategory::GenerationPipeline);
    assert!(
        retries[0].1.contains("interrupted on the server"),
        "{retries:?}"
    );
    assert_eq!(server.prompts(), 2);
}

#[test]
fn a_dropped_socket_falls_back_to_polling_the_history() {
    let server = ComfyTestServer::start();
    let b = &server.shared.behaviour;
    b.drop_socket_mid_run.store(true, Ordering::SeqCst);
    b.step_ms.store(5, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 24], "chained");
    let (result, events) = run_simple(&p, dir.path(), &[&server]);
    let summary = result.unwrap();
    check_output(dir.path(), &summary);
    assert!(summary.retries.is_empty());
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RenderEvent::Note { message, .. } if message.contains("polling")))
    );
}

#[test]
fn malformed_and_slow_replies_are_network_errors_with_the_endpoint() {
    let server = ComfyTestServer::start();
    server
        .shared
        .behaviour
        .malformed_history
        .store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 24], "chained");
    let (result, _) = run_simple(&p, dir.path(), &[&server]);
    let e = result.unwrap_err();
    assert_eq!(e.category, ErrorCategory::Network);
    assert!(e.message.contains("malformed reply from /history"), "{e}");
    assert!(e.message.contains("after 4 attempts"), "{e}");
    assert!(!dir.path().join("out.mp4").exists());

    let slow = ComfyTestServer::start();
    slow.shared
        .behaviour
        .slow_prompt_ms
        .store(1500, Ordering::SeqCst);
    let (result, _) = run(
        &p,
        dir.path(),
        &backend(&[&slow], 300),
        &RenderOptions {
            retry: wayfarer::generate::retry::RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(5),
            },
            ..Default::default()
        },
        &CancelToken::new(),
        &mut |_| {},
    );
    let e = result.unwrap_err();
    assert_eq!(e.category, ErrorCategory::Network);
    assert!(e.message.contains("/prompt: no answer in time"), "{e}");
}

#[test]
fn hostile_output_names_are_only_query_values() {
    let server = ComfyTestServer::start();
    server
        .shared
        .behaviour
        .hostile_names
        .store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 24], "chained");
    let (result, _) = run_simple(&p, dir.path(), &[&server]);
    let summary = result.unwrap();
    check_output(dir.path(), &summary);
    let views = server.shared.record.views.lock().unwrap().clone();
    assert_eq!(views.len(), 1);
    // The server got its own names back verbatim (so they were URL-encoded) ...
    assert!(views[0].0.starts_with("../../../../tmp/wayfarer-hostile-"));
    assert_eq!(views[0].1, "../..");
    // ... and nothing was written where they point.
    let escaped = Path::new("/tmp").join(views[0].0.rsplit('/').next().unwrap());
    assert!(!escaped.exists(), "{}", escaped.display());
}

#[test]
fn a_dead_server_hands_its_call_to_the_other_one() {
    let dying = ComfyTestServer::start();
    dying
        .shared
        .behaviour
        .die_on_prompt
        .store(true, Ordering::SeqCst);
    let healthy = ComfyTestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 24, 48], "chained");
    let backend = backend(&[&dying, &healthy], 2000);
    let (result, events) = run(
        &p,
        dir.path(),
        &backend,
        &fast_retries(),
        &CancelToken::new(),
        &mut |_| {},
    );
    let summary = result.unwrap();
    check_output(dir.path(), &summary);
    assert_eq!(dying.prompts(), 1, "the dying server took one call");
    assert_eq!(
        healthy.shared.record.executed.load(Ordering::SeqCst),
        summary.plan.calls.len(),
        "the healthy server ran every call"
    );
    assert!(events.iter().any(|e| matches!(
        e,
        RenderEvent::Note { message, .. } if message.contains("moving the call to another server")
    )));
    let health = backend.server_health();
    assert!(!health[0].1 && health[1].1, "{health:?}");
}

#[test]
fn independent_calls_run_in_parallel_on_two_servers() {
    let a = ComfyTestServer::start();
    let b = ComfyTestServer::start();
    for s in [&a, &b] {
        s.shared.behaviour.step_ms.store(10, Ordering::SeqCst);
    }
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 16, 32, 48, 64], "independent");
    let (result, _) = run_simple(&p, dir.path(), &[&a, &b]);
    let summary = result.unwrap();
    assert_eq!(summary.plan.calls.len(), 4);
    check_output(dir.path(), &summary);
    let (na, nb) = (a.prompts(), b.prompts());
    assert_eq!(na + nb, 4);
    assert!(na >= 1 && nb >= 1, "both servers worked: {na} + {nb}");
}

#[test]
fn a_stalled_websocket_upgrade_costs_the_connect_timeout_then_polling_finishes() {
    let server = ComfyTestServer::start();
    server
        .shared
        .behaviour
        .stall_ws_upgrade
        .store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 24], "chained");
    let (result, _) = run_simple(&p, dir.path(), &[&server]);
    let summary = result.unwrap();
    check_output(dir.path(), &summary);
}

#[test]
fn cancel_ends_a_stalled_websocket_upgrade() {
    let server = ComfyTestServer::start();
    server
        .shared
        .behaviour
        .stall_ws_upgrade
        .store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 24], "chained");
    let cancel = CancelToken::new();
    let c = cancel.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        c.cancel();
    });
    let began = std::time::Instant::now();
    let (result, _) = run(
        &p,
        dir.path(),
        &backend(&[&server], 5000),
        &fast_retries(),
        &cancel,
        &mut |_| {},
    );
    canceller.join().unwrap();
    assert_eq!(result.unwrap_err().category, ErrorCategory::Cancelled);
    // Well before the 10 s connect timeout: the wait itself honoured the cancel.
    assert!(began.elapsed() < std::time::Duration::from_secs(8));
    assert_eq!(server.prompts(), 0, "nothing was queued");
    assert!(!dir.path().join("out.mp4").exists());
}

#[test]
fn cancel_interrupts_the_running_prompt() {
    let server = ComfyTestServer::start();
    server.shared.behaviour.step_ms.store(50, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 24], "chained");
    let cancel = CancelToken::new();
    let c = cancel.clone();
    let (result, _) = run(
        &p,
        dir.path(),
        &backend(&[&server], 5000),
        &fast_retries(),
        &cancel,
        &mut |e| {
            if matches!(
                e,
                RenderEvent::Progress {
                    step: Some((2, _)),
                    ..
                }
            ) {
                c.cancel();
            }
        },
    );
    assert_eq!(result.unwrap_err().category, ErrorCategory::Cancelled);
    let interrupts = server.shared.record.interrupts.lock().unwrap().clone();
    assert_eq!(interrupts.len(), 1, "{interrupts:?}");
    assert!(interrupts[0].starts_with("prompt-"));
    assert!(!dir.path().join("out.mp4").exists());
    assert!(common::partial_files(dir.path()).is_empty());
}

#[test]
fn preflight_checks_servers_nodes_and_memory() {
    let server = ComfyTestServer::start();
    let b = &server.shared.behaviour;
    b.missing_nodes
        .lock()
        .unwrap()
        .push("WanVaceToVideo".into());
    b.vram_total.store(8 << 30, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 24], "chained");
    let mut config = BackendConfig::comfyui(vec![server.url.clone(), "http://127.0.0.1:1".into()]);
    config.call_timeout_secs = 10;
    let report =
        wayfarer::generate::preflight(&p, dir.path(), &dir.path().join("out.mp4"), &config);
    let find = |suffix: &str, url: &str| {
        report
            .items
            .iter()
            .find(|i| i.name == format!("server {url}{suffix}"))
            .cloned()
            .unwrap_or_else(|| panic!("no item {url}{suffix}: {report}"))
    };
    let nodes = find(" nodes", &server.url);
    assert!(
        !nodes.passed && nodes.detail.contains("WanVaceToVideo"),
        "{report}"
    );
    assert!(nodes.suggestion.unwrap().contains("custom nodes"));
    let memory = find(" memory", &server.url);
    assert!(
        !memory.passed
            && memory
                .detail
                .contains("the server has 8.0 GiB of GPU memory"),
        "{report}"
    );
    let dead = find("", "http://127.0.0.1:1");
    assert!(
        !dead.passed && dead.detail.contains("cannot connect"),
        "{report}"
    );
    assert!(
        report.items.iter().any(|i| i.name == "mode" && i.passed),
        "{report}"
    );
    // Nothing was generated.
    assert_eq!(server.prompts(), 0);
}

fn p_call_len(p: &Project, call: usize) -> u32 {
    wayfarer::plan::plan(p).unwrap().calls[call].len()
}

/// Runs the CLI against `server` with its own cache folder; returns the child.
fn cli(dir: &Path, server: &ComfyTestServer, extra: &[&str]) -> std::process::Child {
    common::cli(dir)
        .args([
            "render",
            "project.json",
            "-o",
            "out.mp4",
            "--backend",
            "comfyui",
        ])
        .args(["--server", &server.url, "--json-events"])
        .args(extra)
        .current_dir(dir)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn cached_calls(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("cache/wayfarer/calls")).map_or(0, |r| {
        r.flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "call"))
            .count()
    })
}

#[test]
fn a_killed_render_resumes_without_redoing_finished_calls() {
    let server = ComfyTestServer::start();
    server.shared.behaviour.step_ms.store(15, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path(), &[0, 16, 32, 48, 64], "chained");
    let calls = wayfarer::plan::plan(&p).unwrap().calls.len();
    assert_eq!(calls, 4);
    // Kill the CLI (SIGKILL, no clean-up) once the third call is running.
    let mut child = cli(dir.path(), &server, &[]);
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        let line = line.unwrap();
        if line.contains("\"event\":\"progress\"") && line.contains("\"call\":2") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let finished = cached_calls(dir.path());
    assert!(
        (1..calls).contains(&finished),
        "{finished} calls finished before the kill"
    );
    assert!(!dir.path().join("out.mp4").exists());
    let before = server.prompts();
    // Run again: only the unfinished calls reach the server.
    let out = cli(dir.path(), &server, &[]).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.prompts() - before, calls - finished);
    let done = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains("\"event\":\"done\""))
        .map(str::to_string)
        .unwrap();
    assert!(
        done.contains(&format!("\"calls\":{}", calls - finished)),
        "{done}"
    );
    assert_eq!(
        media::decode_all(&dir.path().join("out.mp4"))
            .unwrap()
            .len() as u32,
        wayfarer::plan::plan(&p).unwrap().total_frames
    );
    // A third run generates nothing; --regenerate 3 re-rolls the third segment only: the test
    // server's output does not depend on the seed, so the chained call after it gets the
    // same context frames and is reused.
    let before = server.prompts();
    let out = cli(dir.path(), &server, &[]).wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(server.prompts(), before);
    let out = cli(dir.path(), &server, &["--regenerate", "3"])
        .wait_with_output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.prompts() - before, 1);
    let prompts = server.shared.record.prompts.lock().unwrap().clone();
    let last = &prompts[prompts.len() - 1];
    assert_eq!(last["vace"]["inputs"]["length"], p_call_len(&p, 2));
    let seed = &last["sampler"]["inputs"]["seed"];
    assert_ne!(seed, 789, "a new seed");
    let out = cli(dir.path(), &server, &["--regenerate", "9"])
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--regenerate 9"));
}

#[test]
fn image_to_video_and_text_to_video_route_to_one_call() {
    let server = ComfyTestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut p = project(dir.path(), &[0, 24], "chained");
    p.keyframes.truncate(1);
    p.length = Some(33);
    // The built-in generator only travels: the request is refused with the alternative.
    let e = render::render(
        &render::RenderRequest::new(
            &p,
            dir.path(),
            &dir.path().join("builtin.mp4"),
            &RenderOptions::default(),
        ),
        &wayfarer::generate::Builtin::default(),
        &mut |_| {},
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(e.message.contains("does not support ti2v"), "{e}");
    assert!(e.suggestions[0].contains("second keyframe"), "{e:?}");
    // ComfyUI (Wan VACE) takes it: one call, the image kept at frame 0.
    let (result, _) = run_simple(&p, dir.path(), &[&server]);
    let summary = result.unwrap();
    assert_eq!(summary.plan.calls.len(), 1);
    check_output(dir.path(), &summary);
    let frames = media::decode_all(&dir.path().join("out.mp4")).unwrap();
    assert_eq!(frames.len(), 33);
    let prompt = server.shared.record.prompts.lock().unwrap()[0].clone();
    assert_eq!(prompt["vace"]["inputs"]["length"], 33);
    // Text only: every frame generated (the test server leaves them at the guide's grey).
    p.keyframes.clear();
    let (result, _) = run_simple(&p, dir.path(), &[&server]);
    assert_eq!(result.unwrap().frames, 33);
    let frames = media::decode_all(&dir.path().join("out.mp4")).unwrap();
    let v = frames[16].pixel(100, 70)[0];
    assert!((125..=131).contains(&v), "{v}");
}

#[test]
fn a_drifting_server_is_held_to_the_keyframes_by_colour_match() {
    use comfy_server::drift;
    let server = ComfyTestServer::start();
    server.shared.behaviour.drift.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let names = drift::write_keyframes(dir.path(), 6);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut worst = Vec::new();
    for color_match in [r#"{"method":"off"}"#, r#"{"method":"lab"}"#] {
        let json =
            common::project_json(&names, &[0, 40, 80, 120, 160, 200], drift::SIZE, "chained")
                .replace(
                    "\"structure_video\":null",
                    &format!("\"structure_video\":null,\"color_match\":{color_match}"),
                );
        let project = file::load(&common::write_project(dir.path(), &json)).unwrap();
        let (result, _) = run_simple(&project, dir.path(), &[&server]);
        let summary = result.unwrap();
        assert_eq!(summary.plan.calls.len(), 5);
        let q = &summary.quality;
        worst.push((
            q.worst_call().unwrap().drift_de,
            q.worst_join().unwrap().seam,
        ));
    }
    let ((drift_off, _), (drift_on, seam_on)) = (worst[0], worst[1]);
    assert!(
        drift_off > 8.0,
        "the server drifts: worst call {drift_off:.1} dE"
    );
    assert!(
        drift_on <= 3.0,
        "colour match holds it: worst call {drift_on:.1} dE"
    );
    // The server's "model" dissolves between kept frames, with almost no motion: the 2-pixel
    // slide of its regenerated context is then the largest change around, and the seam
    // score says so (the drifting generator of `tests/fidelity.rs`, which pans, holds
    // every seam under 1.5).
    eprintln!(
        "worst call {drift_off:.1} dE without colour match, {drift_on:.1} with; worst seam {seam_on:.2}"
    );
}
