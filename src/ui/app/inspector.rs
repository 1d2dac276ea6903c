//! The inspector: the selected segment (prompts, LoRAs, steps) and whether it merges with
//! the next one, and why.

use super::{Edit, StudioApp};
use crate::ui::style;

impl StudioApp {
    pub(super) fn inspector(&mut self, ui: &mut egui::Ui) {
        ui.heading("Segment");
        let spans = self.doc.project.span_count();
        if spans == 0 {
            ui.label(
                "Add at least two keyframes (drop images on the timeline, or Edit > Add images…, Ctrl+I).",
            );
            return;
        }
        let span = self.selected_span.min(spans - 1);
        ui.label(format!(
            "Segment {}: keyframe {} to {} (frames {} to {})",
            span + 1,
            span + 1,
            span + 2,
            self.doc.project.keyframes[span].frame,
            self.doc.project.keyframes[span + 1].frame
        ));
        if let Ok(plan) = &self.doc.plan
            && let Some(b) = plan.boundaries.get(span)
        {
            // Whether it merges with the next segment, and why (as `wayfarer plan` says).
            if !b.differing_fields.is_empty() {
                ui.label(format!(
                    "differs from the next segment: {}",
                    b.differing_fields.join(", ")
                ));
            } else if b.merged {
                ui.colored_label(
                    style::SUCCESS,
                    "identical to the next segment: one call renders both",
                );
            } else {
                ui.colored_label(
                    style::WARNING,
                    format!("identical to the next segment, not merged: {}", b.reason),
                );
                if let Some(saving) = &self.merge_saving {
                    ui.label(saving);
                }
            }
        }
        let segment = self.doc.project.segment_for_span(span).clone();
        let (mut prompt, mut negative) = match &self.inspector.prompt_buffers {
            Some((s, p, n)) if *s == span => (p.clone(), n.clone()),
            _ => (segment.prompt.clone(), segment.negative_prompt.clone()),
        };
        let label = ui.label("Prompt");
        let prompt_resp = ui
            .add(egui::TextEdit::multiline(&mut prompt).desired_rows(3))
            .labelled_by(label.id);
        let label = ui.label("Negative prompt");
        let negative_resp = ui
            .add(egui::TextEdit::multiline(&mut negative).desired_rows(2))
            .labelled_by(label.id);
        if prompt_resp.lost_focus() || negative_resp.lost_focus() {
            self.doc.history.break_coalescing();
        }
        let mut edited = segment.clone();
        edited.prompt.clone_from(&prompt);
        edited.negative_prompt.clone_from(&negative);
        ui.label("LoRAs");
        let mut remove = None;
        for (i, l) in edited.loras.iter_mut().enumerate() {
            ui.horizontal(|ui| {
                let label = ui.label(format!("LoRA {i}"));
                ui.add(egui::TextEdit::singleline(&mut l.name).desired_width(150.0))
                    .labelled_by(label.id);
                let label = ui.label("strength");
                ui.add(
                    egui::DragValue::new(&mut l.strength)
                        .range(-2.0..=2.0)
                        .speed(0.01),
                )
                .labelled_by(label.id);
                if ui.small_button("x").on_hover_text("remove").clicked() {
                    remove = Some(i);
                }
            });
        }
        if let Some(i) = remove {
            edited.loras.remove(i);
        }
        if ui.button("Add LoRA").clicked() {
            edited.loras.push(crate::project::Lora {
                name: "lora.safetensors".into(),
                strength: 1.0,
            });
        }
        ui.horizontal(|ui| {
            let mut steps = edited.steps.unwrap_or(0);
            let label = ui.label("Steps (0 = default)");
            if ui
                .add(egui::DragValue::new(&mut steps).range(0..=200))
                .labelled_by(label.id)
                .changed()
            {
                edited.steps = (steps > 0).then_some(steps);
            }
        });
        self.inspector.prompt_buffers = Some((span, prompt, negative));
        if edited != segment {
            self.pending.push((
                Edit::SetSegment {
                    span,
                    segment: edited,
                },
                Some(format!("segment {span}")),
            ));
        }
    }
}

/// The inspector's own state.
#[derive(Default)]
pub(super) struct InspectorView {
    /// The prompt and negative prompt being typed, and the span they belong to.
    pub(super) prompt_buffers: Option<(usize, String, String)>,
}
