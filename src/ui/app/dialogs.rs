//! The studio's own questions: unsaved changes before a command that leaves the project, and
//! an autosave newer than the project opened.

use super::{Edit, StudioApp, Vec2};

impl StudioApp {
    pub(super) fn restore_dialog(&mut self, ctx: &egui::Context) {
        if self.restore_offer.is_none() {
            return;
        }
        let mut choice = None;
        egui::Window::new("Unsaved work found")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, Vec2::ZERO)
            .show(ctx, |ui| {
                ui.label("An autosave newer than this project exists (work that was not saved).");
                ui.horizontal(|ui| {
                    if ui.button("Restore").clicked() {
                        choice = Some(true);
                    }
                    if ui.button("Discard autosave").clicked() {
                        choice = Some(false);
                    }
                });
            });
        match choice {
            Some(true) => {
                if let Some(p) = self.restore_offer.take() {
                    self.push_edit(Edit::Replace(Box::new(p)));
                }
            }
            Some(false) => {
                self.restore_offer = None;
                self.forget_autosave();
            }
            None => {}
        }
    }

    pub(super) fn confirm_dialog(&mut self, ctx: &egui::Context) {
        let Some(action) = self.confirm.clone() else {
            return;
        };
        let mut choice = None;
        egui::Window::new("Unsaved changes")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, Vec2::ZERO)
            .show(ctx, |ui| {
                ui.label("Save the changes to this project first?");
                ui.horizontal(|ui| {
                    if ui.button("Save").clicked() {
                        choice = Some(0);
                    }
                    if ui.button("Discard").clicked() {
                        choice = Some(1);
                    }
                    if ui.button("Cancel").clicked() {
                        choice = Some(2);
                    }
                });
            });
        match choice {
            Some(0) => {
                self.confirm = None;
                if self.save(ctx) {
                    self.perform(action, ctx);
                }
            }
            Some(1) => {
                // Discarded work is not offered again at the next start.
                self.confirm = None;
                self.forget_autosave();
                self.doc.discard_changes();
                self.perform(action, ctx);
            }
            Some(_) => self.confirm = None,
            None => {}
        }
    }
}
