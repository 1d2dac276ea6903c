//! The status bar: the project file, backend and compute device, the last notice (with Show
//! in folder) and the latest problems.

use super::{StudioApp, show_error};
use crate::ui::style;

impl StudioApp {
    pub(super) fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let name = self
                .doc
                .path
                .as_ref()
                .map_or_else(|| "untitled".into(), |p| p.display().to_string());
            let dirty = if self.is_dirty() { " • unsaved" } else { "" };
            ui.label(format!("{name}{dirty}"));
            ui.separator();
            ui.label(format!("backend: {}", self.settings.generator.kind));
            ui.separator();
            let compute = self
                .compute_name
                .lock()
                .ok()
                .and_then(|c| c.clone())
                .unwrap_or_else(|| "probing…".into());
            // The reason after the device name (e.g. why wgpu was passed over) on hover.
            match compute.split_once(" (") {
                Some((short, why)) => {
                    let why = super::studio_device_words(why.trim_end_matches(')'));
                    ui.label(format!("compute: {short}")).on_hover_text(why);
                }
                None => {
                    ui.label(format!("compute: {compute}"));
                }
            }
            ui.separator();
            ui.label(format!("{} keyframes", self.doc.project.keyframes.len()));
            let mut dismiss = false;
            let mut reveal = None;
            if let Some(notice) = &self.notice {
                ui.separator();
                ui.colored_label(style::SUCCESS, notice);
                if let Some(file) = &self.notice_file
                    && ui.small_button("Show in folder").clicked()
                {
                    reveal = Some(file.clone());
                }
                dismiss = ui.small_button("Dismiss").clicked();
            }
            if let Some(file) = reveal {
                self.show_in_folder(&file);
            }
            if dismiss {
                self.notice = None;
                self.notice_file = None;
            }
            if !self.problems.is_empty() && ui.button("Clear problems").clicked() {
                self.problems.clear();
            }
        });
        // Warnings on a row of their own (they are long), the button first so it stays
        // in view; each one on hover.
        if let Some(first) = self.warnings.first().cloned() {
            ui.horizontal(|ui| {
                if ui.small_button("Dismiss warnings").clicked() {
                    self.warnings.clear();
                    return;
                }
                let more = match self.warnings.len() {
                    1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                };
                ui.add(
                    egui::Label::new(
                        egui::RichText::new(format!("Warning: {first}{more}"))
                            .color(style::WARNING),
                    )
                    .truncate(),
                )
                .on_hover_text(self.warnings.join("\n"));
            });
        }
        for e in self.problems.iter().rev().take(3) {
            show_error(ui, style::ERROR, "error", e);
        }
    }
}
