//! ComfyUI API-format workflow templates with named placeholders.
//!
//! A template is the JSON ComfyUI's "Export (API)" writes: `{node_id: {"class_type",
//! "inputs"}}`. A string input that is exactly `{{name}}` is replaced by the typed value
//! (numbers stay numbers); `{{name}}` inside a longer string is replaced as text. Names:
//! `prompt`, `negative`, `seed`, `steps`, `cfg`, `width`, `height`, `length`, `fps`,
//! `guide`, `mask` (uploaded file names), `call` (call index, for file name prefixes) and
//! `model`: a link to the diffusion model through one `LoraLoaderModelOnly` node per LoRA,
//! starting from the node whose id is `model`.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::error::{Result, UserError};
use crate::project::Lora;

/// The shipped Wan 2.1 VACE travel-segment template.
pub const WAN_VACE_TRAVEL: &str = include_str!("../../../assets/workflows/wan_vace_travel.json");

/// Placeholders every travel-segment template must use.
const REQUIRED: &[&str] = &["guide", "mask", "length", "width", "height", "seed"];

/// Placeholders every keyframe (image-to-image) template must use.
pub const KEYFRAME_REQUIRED: &[&str] = &["image", "seed", "denoise"];

/// The shipped image-to-image keyframe template (live streaming).
pub const IMG2IMG_KEYFRAME: &str = include_str!("../../../assets/workflows/img2img_keyframe.json");

/// The memory section shipped beside the Wan VACE template.
pub const WAN_VACE_TRAVEL_SIDECAR: &str =
    include_str!("../../../assets/workflows/wan_vace_travel.toml");

/// A loaded template.
#[derive(Debug, Clone)]
pub struct Template {
    graph: Map<String, Value>,
    /// Where it came from, for messages.
    pub source: String,
    /// Memory a call needs on the server, from the `[memory]` section of the TOML file
    /// beside the template (`T.json` -> `T.toml`); `None` when there is none.
    pub memory: Option<MemoryModel>,
    /// BLAKE3 of the template text and its side file: part of the backend identity, so
    /// editing a template never brings back outputs of the old one.
    pub digest: String,
}

/// Memory a call of the template needs on the server's GPU: `fixed_gib` (weights, text
/// encoder, VAE) plus `gib_per_megapixel_frame` x frames x megapixels (activations).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryModel {
    /// GiB needed whatever the call's size.
    pub fixed_gib: f64,
    /// GiB per frame per megapixel.
    pub gib_per_megapixel_frame: f64,
}

impl MemoryModel {
    /// Bytes a call of `frames` frames at `width` x `height` needs.
    pub fn bytes(&self, frames: u32, width: u32, height: u32) -> f64 {
        let megapixel_frames = f64::from(frames) * f64::from(width) * f64::from(height) / 1e6;
        (self.fixed_gib + self.gib_per_megapixel_frame * megapixel_frames) * f64::from(1u32 << 30)
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Sidecar {
    memory: Option<MemoryModel>,
}

fn parse_sidecar(text: &str, source: &str) -> Result<Option<MemoryModel>> {
    let sidecar: Sidecar = toml::from_str(text).map_err(|e| {
        UserError::input(format!("template side file {source}: {}", e.message()))
            .hint("it may only hold [memory] with fixed_gib and gib_per_megapixel_frame (numbers)")
    })?;
    if let Some(m) = sidecar.memory
        && !(m.fixed_gib.is_finite()
            && m.fixed_gib >= 0.0
            && m.gib_per_megapixel_frame.is_finite()
            && m.gib_per_megapixel_frame >= 0.0)
    {
        return Err(UserError::input(format!(
            "template side file {source}: [memory] values must be zero or more"
        ))
        .hint("give GiB as plain numbers, e.g. fixed_gib = 14"));
    }
    Ok(sidecar.memory)
}

/// Values for one call.
#[derive(Debug, Clone, Default)]
pub struct Values {
    /// Positive prompt.
    pub prompt: String,
    /// Negative prompt.
    pub negative: String,
    /// Seed.
    pub seed: u64,
    /// Sampler steps.
    pub steps: u32,
    /// Classifier-free guidance.
    pub cfg: f32,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Frames.
    pub length: u32,
    /// Frame rate.
    pub fps: u32,
    /// Uploaded guide video name.
    pub guide: String,
    /// Uploaded mask video name.
    pub mask: String,
    /// Call index.
    pub call: usize,
    /// LoRAs, applied in order.
    pub loras: Vec<Lora>,
    /// Uploaded input picture (keyframe templates).
    pub image: String,
    /// How much of the input picture is generated anew, 0..=1 (keyframe templates).
    pub denoise: f32,
}

impl Template {
    /// The shipped Wan VACE template.
    pub fn wan_vace() -> Result<Self> {
        let mut t = Self::parse(WAN_VACE_TRAVEL, "assets/workflows/wan_vace_travel.json")?;
        t.set_sidecar(
            WAN_VACE_TRAVEL_SIDECAR,
            "assets/workflows/wan_vace_travel.toml",
        )?;
        Ok(t)
    }

    /// Loads a template file and the `[memory]` section of the TOML file beside it
    /// (`T.json` -> `T.toml`), when there is one.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| UserError::io("reading", path, &e))?;
        let mut t = Self::parse(&text, &path.display().to_string())?;
        let side = path.with_extension("toml");
        if side.is_file() {
            let side_text =
                std::fs::read_to_string(&side).map_err(|e| UserError::io("reading", &side, &e))?;
            t.set_sidecar(&side_text, &side.display().to_string())?;
        }
        Ok(t)
    }

    fn set_sidecar(&mut self, text: &str, source: &str) -> Result<()> {
        self.memory = parse_sidecar(text, source)?;
        let mut h = blake3::Hasher::new();
        h.update(self.digest.as_bytes());
        h.update(text.as_bytes());
        self.digest = h.finalize().to_hex()[..16].to_string();
        Ok(())
    }

    /// Whether the template takes the model through `{{model}}`, so LoRAs can be chained in.
    pub fn takes_loras(&self) -> bool {
        self.placeholders().contains("model")
    }

    /// Every input that is a fixed string (not a link, not a placeholder):
    /// `(node id, class, input, value)`. Model file names are among them.
    pub fn literal_inputs(&self) -> Vec<(String, String, String, String)> {
        let mut out = Vec::new();
        for (id, node) in &self.graph {
            let class = node.get("class_type").and_then(Value::as_str).unwrap_or("");
            if let Some(Value::Object(inputs)) = node.get("inputs") {
                for (name, v) in inputs {
                    if let Value::String(s) = v
                        && !s.contains("{{")
                    {
                        out.push((id.clone(), class.to_string(), name.clone(), s.clone()));
                    }
                }
            }
        }
        out
    }

    /// The shipped image-to-image keyframe template.
    pub fn img2img() -> Result<Self> {
        Self::parse_with(
            IMG2IMG_KEYFRAME,
            "assets/workflows/img2img_keyframe.json",
            KEYFRAME_REQUIRED,
        )
    }

    /// Parses travel-segment template text; `source` names it in messages.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        Self::parse_with(text, source, REQUIRED)
    }

    /// Parses template text that must use the placeholders in `required`.
    pub fn parse_with(text: &str, source: &str, required: &[&str]) -> Result<Self> {
        let bad = |what: String| {
            UserError::input(format!("template {source}: {what}")).hint(
                "export the workflow with ComfyUI's \"Export (API)\" and add {{placeholders}}",
            )
        };
        let value: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let Value::Object(graph) = value else {
            return Err(bad("the top level must be an object of nodes".into()));
        };
        for (id, node) in &graph {
            if node.get("class_type").and_then(Value::as_str).is_none()
                || !node.get("inputs").is_some_and(Value::is_object)
            {
                return Err(bad(format!(
                    "node {id:?} needs \"class_type\" and \"inputs\" (API format)"
                )));
            }
        }
        let template = Self {
            graph,
            source: source.to_string(),
            memory: None,
            digest: blake3::hash(text.as_bytes()).to_hex()[..16].to_string(),
        };
        let used = template.placeholders();
        for name in required {
            if !used.contains(*name) {
                return Err(bad(format!("placeholder {{{{{name}}}}} is not used")));
            }
        }
        if used.contains("model") && !template.graph.contains_key("model") {
            return Err(bad(
                "{{model}} is used but there is no node with id \"model\"".into(),
            ));
        }
        Ok(template)
    }

    /// Node classes the template needs on the server.
    pub fn classes(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self
            .graph
            .values()
            .filter_map(|n| n.get("class_type").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        if self.placeholders().contains("model") {
            out.insert("LoraLoaderModelOnly".into());
        }
        out
    }

    /// Placeholder names used anywhere in the template.
    pub fn placeholders(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for node in self.graph.values() {
            if let Some(Value::Object(inputs)) = node.get("inputs") {
                for v in inputs.values() {
                    if let Value::String(s) = v {
                        let mut rest = s.as_str();
                        while let Some(a) = rest.find("{{") {
                            let Some(b) = rest[a..].find("}}") else { break };
                            out.insert(rest[a + 2..a + b].trim().to_string());
                            rest = &rest[a + b + 2..];
                        }
                    }
                }
            }
        }
        out
    }

    /// The API-format prompt for one call.
    pub fn fill(&self, values: &Values) -> Value {
        let mut graph = self.graph.clone();
        // LoRA chain: model -> lora_0 -> lora_1 ... (only where the template takes the
        // model through {{model}}: unconnected loaders would be ignored by the server).
        let mut model_link = json!(["model", 0]);
        let loras: &[Lora] = if self.takes_loras() {
            &values.loras
        } else {
            &[]
        };
        for (i, lora) in loras.iter().enumerate() {
            let id = format!("wayfarer_lora_{i}");
            graph.insert(
                id.clone(),
                json!({
                    "class_type": "LoraLoaderModelOnly",
                    "inputs": {
                        "model": model_link,
                        "lora_name": lora.name,
                        "strength_model": lora.strength,
                    }
                }),
            );
            model_link = json!([id, 0]);
        }
        let typed = |name: &str| -> Option<Value> {
            Some(match name {
                "prompt" => json!(values.prompt),
                "negative" => json!(values.negative),
                "seed" => json!(values.seed),
                "steps" => json!(values.steps),
                "cfg" => json!(values.cfg),
                "width" => json!(values.width),
                "height" => json!(values.height),
                "length" => json!(values.length),
                "fps" => json!(values.fps),
                "guide" => json!(values.guide),
                "mask" => json!(values.mask),
                "call" => json!(values.call),
                "model" => model_link.clone(),
                "image" => json!(values.image),
                "denoise" => json!(values.denoise),
                _ => return None,
            })
        };
        for node in graph.values_mut() {
            if let Some(Value::Object(inputs)) = node.get_mut("inputs") {
                for v in inputs.values_mut() {
                    let Value::String(s) = v else { continue };
                    let trimmed = s.trim();
                    if let Some(name) = trimmed
                        .strip_prefix("{{")
                        .and_then(|r| r.strip_suffix("}}"))
                        .filter(|n| !n.contains("{{"))
                        && let Some(value) = typed(name.trim())
                    {
                        *v = value;
                        continue;
                    }
                    let mut text = s.clone();
                    for name in [
                        "prompt", "negative", "seed", "steps", "cfg", "width", "height", "length",
                        "fps", "guide", "mask", "call", "image", "denoise",
                    ] {
                        let key = format!("{{{{{name}}}}}");
                        if text.contains(&key)
                            && let Some(value) = typed(name)
                        {
                            let plain = match value {
                                Value::String(s) => s,
                                other => other.to_string(),
                            };
                            text = text.replace(&key, &plain);
                        }
                    }
                    *s = text;
                }
            }
        }
        Value::Object(graph)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(loras: Vec<Lora>) -> Values {
        Values {
            prompt: "a \"quoted\" prompt".into(),
            negative: "blur".into(),
            seed: 42,
            steps: 20,
            cfg: 6.0,
            width: 832,
            height: 480,
            length: 81,
            fps: 16,
            guide: "g.mp4".into(),
            mask: "m.mp4".into(),
            call: 3,
            loras,
            ..Values::default()
        }
    }

    #[test]
    fn shipped_template_fills_typed_values_and_lora_chain() {
        let t = Template::wan_vace().unwrap();
        assert!(t.classes().contains("WanVaceToVideo"));
        let lora = |n: &str| Lora {
            name: n.into(),
            strength: 0.8,
        };
        let v = t.fill(&values(vec![lora("a.safetensors"), lora("b.safetensors")]));
        assert_eq!(v["vace"]["inputs"]["length"], json!(81));
        assert_eq!(v["sampler"]["inputs"]["seed"], json!(42));
        assert_eq!(
            v["positive"]["inputs"]["text"],
            json!("a \"quoted\" prompt")
        );
        assert_eq!(
            v["sampling"]["inputs"]["model"],
            json!(["wayfarer_lora_1", 0])
        );
        assert_eq!(
            v["wayfarer_lora_1"]["inputs"]["model"],
            json!(["wayfarer_lora_0", 0])
        );
        assert_eq!(v["wayfarer_lora_0"]["inputs"]["model"], json!(["model", 0]));
        assert_eq!(
            v["save"]["inputs"]["filename_prefix"],
            json!("wayfarer/call_3")
        );
        let plain = t.fill(&values(vec![]));
        assert_eq!(plain["sampling"]["inputs"]["model"], json!(["model", 0]));
        assert!(!plain.to_string().contains("{{"));
    }

    #[test]
    fn bad_templates_are_explained() {
        assert!(
            Template::parse("[1]", "t")
                .unwrap_err()
                .message
                .contains("object of nodes")
        );
        assert!(
            Template::parse("{\"1\": {\"inputs\": {}}}", "t")
                .unwrap_err()
                .message
                .contains("class_type")
        );
        let e =
            Template::parse("{\"1\": {\"class_type\": \"X\", \"inputs\": {}}}", "t").unwrap_err();
        assert!(e.message.contains("{{guide}}"), "{e}");
    }
}
