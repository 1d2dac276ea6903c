//! Identical-parameter detection between neighbouring spans.
//!
//! Two spans may share a generation call only when every generation parameter is equal:
//! prompt and negative prompt (whitespace-normalised), the LoRA set (name and strength,
//! order-insensitive) and every other per-segment setting. The result names the fields
//! that differ, so the plan can say why it did not merge.

use crate::project::{Lora, Segment};

/// Collapses runs of whitespace and trims, so `"a  b "` equals `"a b"`.
pub fn normalize_prompt(prompt: &str) -> String {
    prompt.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether two prompts are equal once whitespace is normalised (no allocation).
fn same_prompt(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

fn same_loras(a: &[Lora], b: &[Lora]) -> bool {
    let key = |l: &Lora| (l.name.trim().to_string(), l.strength.to_bits());
    a.len() == b.len()
        && (a.iter().zip(b).all(|(x, y)| key(x) == key(y)) || lora_set(a) == lora_set(b))
}

fn lora_set(loras: &[Lora]) -> Vec<(String, u32)> {
    let mut set: Vec<(String, u32)> = loras
        .iter()
        .map(|l| (l.name.trim().to_string(), l.strength.to_bits()))
        .collect();
    set.sort();
    set
}

/// The generation fields whose values differ between `a` and `b` (empty when identical).
/// `seed_a` / `seed_b` are the effective seeds of the two spans.
pub fn differing_fields(a: &Segment, b: &Segment, seed_a: u64, seed_b: u64) -> Vec<&'static str> {
    let mut out = Vec::new();
    if !same_prompt(&a.prompt, &b.prompt) {
        out.push("prompt");
    }
    if !same_prompt(&a.negative_prompt, &b.negative_prompt) {
        out.push("negative_prompt");
    }
    if !same_loras(&a.loras, &b.loras) {
        out.push("loras");
    }
    if a.steps != b.steps {
        out.push("steps");
    }
    if a.guidance_scale.map(f32::to_bits) != b.guidance_scale.map(f32::to_bits) {
        out.push("guidance_scale");
    }
    if seed_a != seed_b {
        out.push("seed");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(prompt: &str, loras: &[(&str, f32)]) -> Segment {
        Segment {
            prompt: prompt.into(),
            loras: loras
                .iter()
                .map(|(n, s)| Lora {
                    name: n.to_string(),
                    strength: *s,
                })
                .collect(),
            ..Segment::default()
        }
    }

    #[test]
    fn whitespace_and_lora_order_do_not_matter() {
        let a = seg("  a   forest ", &[("x", 0.5), ("y", 1.0)]);
        let b = seg("a forest", &[("y", 1.0), ("x", 0.5)]);
        assert!(differing_fields(&a, &b, 1, 1).is_empty());
    }

    #[test]
    fn each_differing_field_is_named() {
        let a = seg("a", &[("x", 0.5)]);
        let mut b = seg("b", &[("x", 0.6)]);
        b.negative_prompt = "blur".into();
        b.steps = Some(8);
        b.guidance_scale = Some(1.0);
        assert_eq!(
            differing_fields(&a, &b, 1, 2),
            vec![
                "prompt",
                "negative_prompt",
                "loras",
                "steps",
                "guidance_scale",
                "seed"
            ]
        );
    }

    /// The incumbent checked LoRA flags with `all(...)`, which calls two spans with every
    /// flag off "inconsistent" and ignores a flag that differs. Equality is what matters.
    #[test]
    fn lora_sets_must_be_equal_not_all_enabled() {
        assert!(differing_fields(&seg("a", &[]), &seg("a", &[]), 1, 1).is_empty());
        assert_eq!(
            differing_fields(&seg("a", &[("causvid", 1.0)]), &seg("a", &[]), 1, 1),
            vec!["loras"]
        );
    }
}
