//! The test server's node classes: their inputs and limits, combo options (model files
//! in both of ComfyUI's encodings), `/object_info`, and prompt validation as ComfyUI's
//! `execution.py` does it.
#![expect(
    clippy::needless_pass_by_value,
    reason = "test helpers take owned values to keep call sites short"
)]
#![expect(
    clippy::unreadable_literal,
    reason = "seeds and byte values copied as they appear elsewhere"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{MODEL_FILES, Shared};
use wayfarer::media::Frame;

/// The node classes the server knows, with their required inputs and numeric limits.
/// A node class: its name and its required inputs with their numeric range.
type NodeSpec = (&'static str, Vec<(&'static str, Option<(f64, f64)>)>);

fn node_specs() -> Vec<NodeSpec> {
    vec![
        (
            "UNETLoader",
            vec![("unet_name", None), ("weight_dtype", None)],
        ),
        ("CLIPLoader", vec![("clip_name", None), ("type", None)]),
        ("VAELoader", vec![("vae_name", None)]),
        (
            "ModelSamplingSD3",
            vec![("model", None), ("shift", Some((0.0, 100.0)))],
        ),
        ("CLIPTextEncode", vec![("text", None), ("clip", None)]),
        ("LoadVideo", vec![("file", None)]),
        ("GetVideoComponents", vec![("video", None)]),
        ("ImageToMask", vec![("image", None), ("channel", None)]),
        (
            "WanVaceToVideo",
            vec![
                ("positive", None),
                ("negative", None),
                ("vae", None),
                ("width", Some((16.0, 16384.0))),
                ("height", Some((16.0, 16384.0))),
                ("length", Some((1.0, 16384.0))),
                ("batch_size", Some((1.0, 4096.0))),
                ("strength", Some((0.0, 1000.0))),
            ],
        ),
        (
            "KSampler",
            vec![
                ("model", None),
                ("seed", Some((0.0, 18446744073709551615.0))),
                ("steps", Some((1.0, 10000.0))),
                ("cfg", Some((0.0, 100.0))),
                ("sampler_name", None),
                ("scheduler", None),
                ("positive", None),
                ("negative", None),
                ("latent_image", None),
                ("denoise", Some((0.0, 1.0))),
            ],
        ),
        (
            "TrimVideoLatent",
            vec![("samples", None), ("trim_amount", None)],
        ),
        ("VAEDecode", vec![("samples", None), ("vae", None)]),
        (
            "CreateVideo",
            vec![("images", None), ("fps", Some((1.0, 120.0)))],
        ),
        (
            "SaveVideo",
            vec![
                ("video", None),
                ("filename_prefix", None),
                ("format", None),
                ("codec", None),
            ],
        ),
        ("CheckpointLoaderSimple", vec![("ckpt_name", None)]),
        ("LoadImage", vec![("image", None)]),
        ("VAEEncode", vec![("pixels", None), ("vae", None)]),
        (
            "SaveImage",
            vec![("images", None), ("filename_prefix", None)],
        ),
        (
            "LoraLoaderModelOnly",
            vec![
                ("model", None),
                ("lora_name", None),
                ("strength_model", Some((-100.0, 100.0))),
            ],
        ),
    ]
}

fn known_classes(s: &Shared) -> Vec<NodeSpec> {
    let missing = s.behaviour.missing_nodes.lock().unwrap().clone();
    node_specs()
        .into_iter()
        .filter(|(c, _)| !missing.iter().any(|m| m == c))
        .collect()
}

/// The options of a combo input, or `None` when the input is not a combo here.
fn combo(s: &Shared, class: &str, input: &str) -> Option<Vec<String>> {
    let missing = s.behaviour.missing_models.lock().unwrap().clone();
    let models: Vec<String> = MODEL_FILES
        .iter()
        .filter(|(c, i, f)| *c == class && *i == input && !missing.iter().any(|m| m == f))
        .map(|(_, _, f)| f.to_string())
        .collect();
    let is_model_input = MODEL_FILES
        .iter()
        .any(|(c, i, _)| *c == class && *i == input);
    if is_model_input {
        return Some(models);
    }
    let list: &[&str] = match (class, input) {
        ("UNETLoader", "weight_dtype") => &["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"],
        ("CLIPLoader", "type") => &["stable_diffusion", "wan", "ltxv", "hunyuan_video"],
        ("ImageToMask", "channel") => &["red", "green", "blue", "alpha"],
        ("KSampler", "sampler_name") => &["euler", "euler_ancestral", "uni_pc", "dpmpp_2m"],
        ("KSampler", "scheduler") => &["simple", "normal", "karras", "sgm_uniform"],
        ("SaveVideo", "format") => &["auto", "mp4"],
        ("SaveVideo", "codec") => &["auto", "h264"],
        _ => return None,
    };
    Some(list.iter().map(std::string::ToString::to_string).collect())
}

/// Classes of ComfyUI's newer node API write combos as `["COMBO", {"options": […]}]`; the
/// classic ones as `[[…], {…}]`. The server uses both, as the real one does.
fn new_api_node(class: &str) -> bool {
    matches!(
        class,
        "CLIPLoader" | "SaveVideo" | "LoadVideo" | "CreateVideo" | "GetVideoComponents"
    )
}

pub(super) async fn object_info(State(s): State<Arc<Shared>>) -> Json<Value> {
    let mut out = serde_json::Map::new();
    for (class, inputs) in known_classes(&s) {
        let required: serde_json::Map<String, Value> = inputs
            .iter()
            .map(|(name, range)| {
                let spec = match (range, combo(&s, class, name)) {
                    (_, Some(options)) if new_api_node(class) => {
                        json!(["COMBO", {"options": options, "multiselect": false}])
                    }
                    (_, Some(options)) => json!([options, {}]),
                    (Some((lo, hi)), None) => json!(["FLOAT", {"min": lo, "max": hi}]),
                    (None, None) => json!(["*", {}]),
                };
                (name.to_string(), spec)
            })
            .collect();
        out.insert(
            class.to_string(),
            json!({"input": {"required": required, "optional": {}}, "output": [], "name": class,
                   "display_name": class, "category": "test", "output_node": class == "SaveVideo"}),
        );
    }
    Json(Value::Object(out))
}

pub(super) fn invalid(message: &str, details: &str, node_errors: Value) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(
            json!({"error": {"type": "prompt_outputs_failed_validation", "message": message,
                              "details": details, "extra_info": {}},
                    "node_errors": node_errors}),
        ),
    )
        .into_response()
}

pub(super) fn node_error(id: &str, class: &str, kind: &str, message: &str, details: &str) -> Value {
    json!({id: {"errors": [{"type": kind, "message": message, "details": details,
                            "extra_info": {}}],
                "dependent_outputs": [], "class_type": class}})
}

/// Validates a prompt the way ComfyUI does (classes, required inputs, links, min/max).
#[expect(
    clippy::result_large_err,
    reason = "axum handlers return the response as the error"
)]
pub(super) fn validate(s: &Shared, prompt: &Value) -> Result<(), Response> {
    let Some(graph) = prompt.as_object() else {
        return Err(invalid(
            "Invalid prompt",
            "the prompt is not an object",
            json!({}),
        ));
    };
    let known = known_classes(s);
    for (id, node) in graph {
        let class = node.get("class_type").and_then(Value::as_str).unwrap_or("");
        let Some((_, spec)) = known.iter().find(|(c, _)| *c == class) else {
            return Err((
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"type": "invalid_prompt",
                    "message": format!("Cannot execute because node {class} does not exist."),
                    "details": format!("Node ID '#{id}'"), "extra_info": {}}, "node_errors": {}})),
            )
                .into_response());
        };
        let inputs = node.get("inputs").and_then(Value::as_object);
        for (name, range) in spec {
            let Some(v) = inputs.and_then(|i| i.get(*name)) else {
                return Err(invalid(
                    "Prompt outputs failed validation",
                    "",
                    node_error(
                        id,
                        class,
                        "required_input_missing",
                        "Required input is missing",
                        name,
                    ),
                ));
            };
            if let Some(link) = v.as_array() {
                let target = link.first().and_then(Value::as_str).unwrap_or("");
                if !graph.contains_key(target) {
                    return Err(invalid(
                        "Prompt outputs failed validation",
                        "",
                        node_error(id, class, "bad_linked_input", "Bad linked input", name),
                    ));
                }
                continue;
            }
            if let (Some((lo, hi)), Some(x)) = (range, v.as_f64()) {
                if x > *hi {
                    return Err(invalid(
                        "Prompt outputs failed validation",
                        "",
                        node_error(
                            id,
                            class,
                            "value_bigger_than_max",
                            "Value bigger than max",
                            &format!("{name}, {x} > {hi}"),
                        ),
                    ));
                }
                if x < *lo {
                    return Err(invalid(
                        "Prompt outputs failed validation",
                        "",
                        node_error(
                            id,
                            class,
                            "value_smaller_than_min",
                            "Value smaller than min",
                            &format!("{name}, {x} < {lo}"),
                        ),
                    ));
                }
            }
            if let (Some(options), Some(value)) = (combo(s, class, name), v.as_str())
                && !options.iter().any(|o| o == value)
            {
                return Err(invalid(
                    "Prompt outputs failed validation",
                    "",
                    node_error(
                        id,
                        class,
                        "value_not_in_list",
                        "Value not in list",
                        &format!("{name}: '{value}' not in {options:?}"),
                    ),
                ));
            }
            if (class == "LoadVideo" && *name == "file")
                || (class == "LoadImage" && *name == "image")
            {
                let file = v.as_str().unwrap_or("");
                if !s.uploads.lock().unwrap().contains_key(file) {
                    return Err(invalid(
                        "Prompt outputs failed validation",
                        "",
                        node_error(
                            id,
                            class,
                            "value_not_in_list",
                            "Value not in list",
                            &format!("file: '{file}' not in list"),
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The server's "model": kept frames (mask < 0.5) as given, others dissolved between the
/// nearest kept frames; with `drift`, changed as chained diffusion drifts
/// ([`super::drift::drift_call`]).
pub(super) fn fake_model(
    guide: &[Frame],
    mask: &[Frame],
    length: usize,
    drift: bool,
) -> Vec<Frame> {
    let n = length;
    let at = |v: &[Frame], i: usize| v[i.min(v.len() - 1)].clone();
    let keep: Vec<usize> = (0..n)
        .filter(|&i| mask.is_empty() || at(mask, i).pixel(0, 0)[0] < 128)
        .collect();
    let mut frames: Vec<Frame> = (0..n)
        .map(|i| {
            if keep.contains(&i) {
                return at(guide, i);
            }
            let before = keep.iter().rev().find(|&&k| k < i).copied();
            let after = keep.iter().find(|&&k| k > i).copied();
            match (before, after) {
                (Some(a), Some(b)) => Frame::lerp(
                    &at(guide, a),
                    &at(guide, b),
                    (i - a) as f32 / (b - a) as f32,
                ),
                (Some(k), None) | (None, Some(k)) => at(guide, k),
                (None, None) => at(guide, i),
            }
        })
        .collect();
    if drift {
        let kept: Vec<bool> = (0..n).map(|i| keep.contains(&i)).collect();
        super::drift::drift_call(&mut frames, &kept);
    }
    frames
}
