//! Checks of a ComfyUI server against a template: node classes, model files and other
//! fixed choices (from `/object_info`), the device (from `/system_stats`), and the round
//! trip of `wayfarer doctor --server` / the studio's Test server connection.

use std::time::{Duration, Instant};

use super::client::{self, Client, ObjectInfo};
use super::template::Template;
use crate::error::{ErrorCategory, Result, UserError};
use crate::generate::CancelToken;
use crate::generate::preflight::{CheckItem, PreflightReport, item};
use crate::media::Frame;

/// What `/system_stats` says about a server's device, in words.
pub(super) fn describe_device(stats: &client::SystemStats) -> String {
    let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
    if stats.is_cpu() {
        format!(
            "reachable; generates on the CPU ({:.1} GiB of system memory)",
            gib(stats.vram_total)
        )
    } else {
        format!(
            "reachable; {} ({}, {:.1} GiB)",
            if stats.device_name.is_empty() {
                "GPU"
            } else {
                stats.device_name.as_str()
            },
            stats.device_type,
            gib(stats.vram_total)
        )
    }
}

/// The warning item for a server that generates on the CPU.
pub(super) fn cpu_warning(name: &str) -> CheckItem {
    CheckItem::warning(
        name,
        "the server runs on the CPU (no GPU): generation on CPU will be very slow",
        Some("start ComfyUI on a machine with a GPU (without --cpu)".into()),
    )
}

/// Whether the server has every node class the template uses.
pub(super) fn check_classes(
    classes: &std::collections::BTreeSet<String>,
    info: &ObjectInfo,
) -> Result<String> {
    let missing: Vec<&str> = classes
        .iter()
        .filter(|c| !info.has(c))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        Ok(format!("all {} node classes present", classes.len()))
    } else {
        Err(
            UserError::input(format!("missing node classes: {}", missing.join(", ")))
                .hint("update ComfyUI or install the custom nodes the template uses"),
        )
    }
}

/// The `models/` folder a loader input reads from, for the hint.
fn model_folder(class: &str, input: &str) -> Option<&'static str> {
    Some(match (class, input) {
        ("UNETLoader", "unet_name") => "models/diffusion_models",
        ("CLIPLoader", "clip_name") | ("DualCLIPLoader", "clip_name1" | "clip_name2") => {
            "models/text_encoders"
        }
        ("VAELoader", "vae_name") => "models/vae",
        ("LoraLoader" | "LoraLoaderModelOnly", "lora_name") => "models/loras",
        ("CheckpointLoaderSimple", "ckpt_name") => "models/checkpoints",
        ("CLIPVisionLoader", "clip_name") => "models/clip_vision",
        ("UpscaleModelLoader", "model_name") => "models/upscale_models",
        _ => return None,
    })
}

/// Whether every fixed choice of the template (model files first of all) and every LoRA
/// the project asks for is among the options the server offers.
pub(super) fn check_model_files(
    template: &Template,
    loras: &[String],
    info: &ObjectInfo,
) -> Result<String> {
    let mut missing_files = Vec::new();
    let mut bad_values = Vec::new();
    let mut checked = 0;
    let mut wanted: Vec<(String, String, String, String)> = template.literal_inputs();
    if template.takes_loras() {
        wanted.extend(loras.iter().map(|l| {
            (
                "LoRA".to_string(),
                "LoraLoaderModelOnly".to_string(),
                "lora_name".to_string(),
                l.clone(),
            )
        }));
    }
    for (node, class, input, value) in &wanted {
        let Some(options) = info.combo_options(class, input) else {
            continue;
        };
        checked += 1;
        if options.iter().any(|o| o == value) {
            continue;
        }
        match model_folder(class, input) {
            Some(folder) => missing_files.push(format!("{value} ({class}, in {folder}/)")),
            None => bad_values.push(format!(
                "node {node} ({class}) {input} = {value:?} is not offered (the server has: {})",
                shorten(&options)
            )),
        }
    }
    if !missing_files.is_empty() {
        let mut e = UserError::input(format!(
            "missing model files: {}",
            missing_files.join("; ")
        ))
        .hint("put each file in the named folder under the server's ComfyUI folder and restart it, or change the template");
        if !bad_values.is_empty() {
            e.message = format!("{}; {}", e.message, bad_values.join("; "));
        }
        return Err(e);
    }
    if !bad_values.is_empty() {
        return Err(UserError::input(bad_values.join("; "))
            .hint("change the template's value to one the server offers"));
    }
    Ok(format!("all {checked} model files and choices present"))
}

/// The first few options of a list, for a message.
fn shorten(options: &[String]) -> String {
    if options.is_empty() {
        return "none".into();
    }
    let mut s = options
        .iter()
        .take(5)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if options.len() > 5 {
        s = format!("{s} and {} more", options.len() - 5);
    }
    s
}

/// The error for LoRAs with a template that cannot take them.
pub(super) fn lora_without_model(source: &str) -> UserError {
    UserError::input(format!(
        "the project asks for LoRAs but template {source} has no {{{{model}}}} placeholder to chain them into"
    ))
    .hint("in the template, give the diffusion model loader the node id \"model\" and use \"{{model}}\" where the model is taken; or remove the LoRAs from the segments")
}

/// The model-free workflow of a connection test: the uploaded clip inverted by core nodes.
fn invert_workflow(file: &str) -> serde_json::Value {
    serde_json::json!({
        "load": {"class_type": "LoadVideo", "inputs": {"file": file}},
        "frames": {"class_type": "GetVideoComponents", "inputs": {"video": ["load", 0]}},
        "invert": {"class_type": "ImageInvert", "inputs": {"image": ["frames", 0]}},
        "video": {"class_type": "CreateVideo", "inputs": {"images": ["invert", 0], "fps": 8.0}},
        "save": {"class_type": "SaveVideo", "inputs": {"video": ["video", 0],
                 "filename_prefix": "wayfarer/connection_test", "format": "mp4", "codec": "h264"}}
    })
}

/// Node classes the connection test's workflow uses.
const ROUND_TRIP_CLASSES: &[&str] = &[
    "LoadVideo",
    "GetVideoComponents",
    "ImageInvert",
    "CreateVideo",
    "SaveVideo",
];

/// Frames of the connection test's clip.
const ROUND_TRIP_FRAMES: usize = 9;

/// A small moving gradient, the connection test's clip; `salt` shifts one channel so a
/// server does not answer a repeated test from its cache.
fn test_clip(salt: u32) -> Vec<Frame> {
    (0..ROUND_TRIP_FRAMES)
        .map(|t| {
            let (w, h) = (64u32, 48u32);
            let mut data = Vec::with_capacity((w * h * 3) as usize);
            for y in 0..h {
                for x in 0..w {
                    // Smooth ramps survive H.264 well; the third channel moves in time.
                    data.extend([
                        (x * 4) as u8,
                        (y * 5) as u8,
                        ((x + y) * 2 + t as u32 * 12 + salt) as u8,
                    ]);
                }
            }
            Frame {
                width: w,
                height: h,
                data,
            }
        })
        .collect()
}

/// Tests a ComfyUI server without spending GPU time: reachability and device
/// (`/system_stats`), the node classes and model files of `template` (the shipped Wan VACE
/// template when `None`), then a round trip: a 9-frame clip uploaded, inverted by core
/// nodes (LoadVideo -> GetVideoComponents -> ImageInvert -> CreateVideo -> SaveVideo),
/// downloaded and compared with the clip inverted here.
pub fn test_connection(
    server: &str,
    template: Option<&std::path::Path>,
    timeout: Duration,
) -> Result<PreflightReport> {
    let template = match template {
        Some(p) => Template::load(p)?,
        None => Template::wan_vace()?,
    };
    let client = Client::new(server, timeout)?;
    let runtime = super::network_runtime()?;
    let base = client.base.clone();
    let mut items = Vec::new();
    let (stats, info) =
        runtime.block_on(async { (client.system_stats().await, client.object_info().await) });
    items.push(item(
        &format!("server {base}"),
        stats.as_ref().map(describe_device).map_err(Clone::clone),
    ));
    let Ok(stats) = stats else {
        return Ok(PreflightReport { items });
    };
    if stats.is_cpu() {
        items.push(cpu_warning("device"));
    }
    let info = match info {
        Ok(info) => info,
        Err(e) => {
            items.push(item("nodes", Err(e)));
            return Ok(PreflightReport { items });
        }
    };
    items.push(item(
        &format!("template {} nodes", template.source),
        check_classes(&template.classes(), &info),
    ));
    items.push(item(
        &format!("template {} model files", template.source),
        check_model_files(&template, &[], &info),
    ));
    let round_trip_classes = ROUND_TRIP_CLASSES
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    if let Err(e) = check_classes(&round_trip_classes, &info) {
        items.push(item("round trip", Err(e)));
        return Ok(PreflightReport { items });
    }
    let started = Instant::now();
    items.push(item(
        "round trip",
        round_trip(&runtime, &client).map(|(frames, psnr)| {
            format!(
                "{frames} frames uploaded, inverted on the server and downloaded in {:.2} s (PSNR {psnr:.1} dB against the expected picture)",
                started.elapsed().as_secs_f64()
            )
        }),
    ));
    Ok(PreflightReport { items })
}

/// Uploads the test clip, runs the invert workflow and compares; `(frames, PSNR dB)`.
fn round_trip(runtime: &tokio::runtime::Runtime, client: &Client) -> Result<(usize, f64)> {
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis() % 40);
    let clip = test_clip(salt);
    let scratch = super::scratch_dir("connection")?;
    let path = scratch.path().join("connection_test.mp4");
    let result = (|| {
        super::write_video(&path, &clip, 8)?;
        let bytes = std::fs::read(&path).map_err(|e| UserError::io("reading", &path, &e))?;
        let client = client.for_prompt();
        let cancel = CancelToken::new();
        let (file, output) = runtime.block_on(async {
            let name = client
                .upload(bytes, "connection_test.mp4", &super::upload_folder())
                .await?;
            let deadline = Instant::now() + Duration::from_mins(2);
            let (queued, outcome) = super::run_prompt(
                &client,
                &invert_workflow(&name),
                &mut |_| {},
                &cancel,
                deadline,
            )
            .await?;
            let files = match outcome {
                client::Outcome::Success(files) => files,
                client::Outcome::Error {
                    exception_type,
                    message,
                    node_type,
                } => {
                    return Err(UserError::new(
                        ErrorCategory::GenerationPipeline,
                        format!(
                            "{node_type} failed: {exception_type}: {}",
                            crate::error::one_line(&message)
                        ),
                    ));
                }
                client::Outcome::Interrupted => {
                    return Err(UserError::new(
                        ErrorCategory::GenerationPipeline,
                        "the test was interrupted on the server",
                    ));
                }
            };
            let file = super::pick_output(&files)
                .ok_or_else(|| super::no_output(&client.base, queued.skipped.as_deref()))?;
            let bytes = client.download(&file).await?;
            Ok((file, bytes))
        })?;
        let local = scratch.path().join("connection_test_out.mp4");
        std::fs::write(&local, &output).map_err(|e| UserError::io("writing", &local, &e))?;
        let frames = crate::media::decode_all(&local).map_err(|e| {
            client::network(
                &client.base,
                format!(
                    "the test output {:?} is not readable: {}",
                    file.filename, e.message
                ),
            )
        })?;
        if frames.len() != clip.len() {
            return Err(UserError::new(
                ErrorCategory::GenerationPipeline,
                format!(
                    "the server returned {} frames for a {}-frame clip",
                    frames.len(),
                    clip.len()
                ),
            )
            .hint("check the server's LoadVideo, CreateVideo and SaveVideo nodes"));
        }
        let psnr = clip
            .iter()
            .zip(&frames)
            .map(|(a, b)| crate::media::psnr(&invert(a), b))
            .fold(f64::INFINITY, f64::min);
        if psnr < 25.0 {
            return Err(UserError::new(
                ErrorCategory::GenerationPipeline,
                format!(
                    "the server's output differs from the expected picture (PSNR {psnr:.1} dB)"
                ),
            )
            .hint("check the server's video nodes; an inverted clip should come back"));
        }
        Ok((frames.len(), psnr))
    })();
    // The scratch folder goes once the clip is no longer needed.
    drop(scratch);
    result
}

fn invert(f: &Frame) -> Frame {
    let mut out = f.clone();
    for v in &mut out.data {
        *v = 255 - *v;
    }
    out
}
