//! The window chrome: menu bar, settings bar, status bar, keyboard shortcuts and the
//! dialogs (open, save, add images, export, restore, confirm).

use super::{
    Color32, Edit, Key, MergePolicy, Mode, Modifiers, Pending, StudioApp, Vec2, labelled_drag,
    plan, show_error,
};
use crate::ui::files::FilePurpose;

impl StudioApp {
    pub(super) fn menu_bar(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New").clicked() {
                    self.request(Pending::New, &ctx);
                }
                if ui
                    .add(egui::Button::new("Open…").shortcut_text("Ctrl+O"))
                    .clicked()
                {
                    ui.close();
                    self.ask_file(FilePurpose::OpenProject, &ctx);
                }
                ui.menu_button("Open recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.label("nothing yet");
                    }
                    for p in self.settings.recent.clone() {
                        if ui.button(p.display().to_string()).clicked() {
                            self.request(Pending::Open(p), &ctx);
                        }
                    }
                });
                if ui
                    .add(egui::Button::new("Save").shortcut_text("Ctrl+S"))
                    .clicked()
                {
                    ui.close();
                    self.save(&ctx);
                }
                if ui
                    .add(egui::Button::new("Save As…").shortcut_text("Ctrl+Shift+S"))
                    .clicked()
                {
                    ui.close();
                    self.save_as_dialog(&ctx);
                }
                if ui
                    .add_enabled(
                        self.last_output.is_some(),
                        egui::Button::new("Export MP4…").shortcut_text("Ctrl+E"),
                    )
                    .clicked()
                {
                    ui.close();
                    self.ask_file(FilePurpose::ExportVideo, &ctx);
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    self.request(Pending::Quit, &ctx);
                }
            });
            ui.menu_button("Edit", |ui| {
                if ui
                    .add_enabled(self.history.can_undo(), egui::Button::new("Undo"))
                    .clicked()
                {
                    self.undo();
                }
                if ui
                    .add_enabled(self.history.can_redo(), egui::Button::new("Redo"))
                    .clicked()
                {
                    self.redo();
                }
                if ui
                    .add(egui::Button::new("Add images…").shortcut_text("Ctrl+I"))
                    .clicked()
                {
                    ui.close();
                    self.add_images_at_end(&ctx);
                }
            });
        });
    }

    pub(super) fn settings_bar(&mut self, ui: &mut egui::Ui) {
        let mut p = self.project.clone();
        ui.horizontal_wrapped(|ui| {
            // Tighter than egui's default so the bar fits a 1024-pixel window on one line.
            ui.spacing_mut().item_spacing.x = 5.0;
            let label = ui.label("Model");
            egui::ComboBox::from_id_salt("model")
                .selected_text(p.model.clone())
                .show_ui(ui, |ui| {
                    for name in plan::profile::BUILTIN_NAMES {
                        ui.selectable_value(&mut p.model, name.to_string(), *name);
                    }
                })
                .response
                .labelled_by(label.id);
            ui.label("Mode");
            ui.selectable_value(&mut p.mode, Mode::Chained, "Chained");
            ui.selectable_value(&mut p.mode, Mode::Independent, "Independent");
            labelled_drag(ui, "Overlap", &mut p.overlap, 1..=32, 1.0);
            labelled_drag(ui, "Width", &mut p.width, 16..=4096, 16.0);
            labelled_drag(ui, "Height", &mut p.height, 16..=4096, 16.0);
            labelled_drag(ui, "FPS", &mut p.fps, 1..=120, 1.0);
            let label = ui.label("Merge");
            egui::ComboBox::from_id_salt("merge")
                .selected_text(format!("{:?}", p.merge.policy))
                .show_ui(ui, |ui| {
                    for policy in [
                        MergePolicy::Auto,
                        MergePolicy::Off,
                        MergePolicy::Consolidate,
                        MergePolicy::Batch,
                    ] {
                        ui.selectable_value(&mut p.merge.policy, policy, format!("{policy:?}"));
                    }
                })
                .response
                .labelled_by(label.id);
            // "Transition": the frames next to each keyframe generated with a softer mask.
            labelled_drag(ui, "Transition", &mut p.mask.transition_frames, 0..=8, 1.0);
        });
        if p != self.project {
            self.pending
                .push((Edit::Replace(Box::new(p)), Some("settings".into())));
        }
    }

    pub(super) fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let name = self
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
                    ui.label(format!("compute: {short}"))
                        .on_hover_text(why.trim_end_matches(')'));
                }
                None => {
                    ui.label(format!("compute: {compute}"));
                }
            }
            ui.separator();
            ui.label(format!("{} keyframes", self.project.keyframes.len()));
            let mut dismiss = false;
            if let Some(notice) = &self.notice {
                ui.separator();
                ui.colored_label(Color32::from_rgb(140, 210, 140), notice);
                dismiss = ui.small_button("Dismiss").clicked();
            }
            if dismiss {
                self.notice = None;
            }
            if !self.problems.is_empty() && ui.button("Clear problems").clicked() {
                self.problems.clear();
            }
        });
        for e in self.problems.iter().rev().take(3) {
            show_error(ui, Color32::from_rgb(230, 90, 80), "error", e);
        }
    }

    pub(super) fn shortcuts(&mut self, ctx: &egui::Context) {
        let cmd = Modifiers::COMMAND;
        let shift_cmd = Modifiers::COMMAND | Modifiers::SHIFT;
        // Read outside input_mut: the context is locked inside it.
        let typing = ctx.egui_wants_keyboard_input();
        if self.file_dialog.is_some() {
            // Wayfarer's own dialog has the keyboard (Esc closes it).
            return;
        }
        let (redo, undo, save_as, save, open, delete, space) = ctx.input_mut(|i| {
            (
                i.consume_key(shift_cmd, Key::Z) || i.consume_key(cmd, Key::Y),
                i.consume_key(cmd, Key::Z),
                i.consume_key(shift_cmd, Key::S),
                i.consume_key(cmd, Key::S),
                i.consume_key(cmd, Key::O),
                !typing && i.key_pressed(Key::Delete),
                !typing && i.key_pressed(Key::Space),
            )
        });
        let (export, add_images, render) = ctx.input_mut(|i| {
            (
                i.consume_key(cmd, Key::E),
                i.consume_key(cmd, Key::I),
                i.consume_key(cmd, Key::R),
            )
        });
        if redo {
            self.redo();
        } else if undo {
            self.undo();
        }
        if save_as {
            self.save_as_dialog(ctx);
        } else if save {
            self.save(ctx);
        }
        if open {
            self.ask_file(FilePurpose::OpenProject, ctx);
        }
        if export && self.last_output.is_some() {
            self.ask_file(FilePurpose::ExportVideo, ctx);
        }
        if add_images {
            self.add_images_at_end(ctx);
        }
        if render && self.render.is_none() {
            self.start_render(ctx);
        }
        if delete && let Some(k) = self.selected_keyframe {
            self.push_edit(Edit::DeleteKeyframe { index: k });
        }
        if space && !self.player.frames.is_empty() {
            self.player.playing = !self.player.playing;
        }
    }

    /// Asks where to save the project; returns whether it was saved at once.
    pub(super) fn save_as_dialog(&mut self, ctx: &egui::Context) -> bool {
        self.ask_file(FilePurpose::SaveProject, ctx)
    }

    /// Asks for images to add after the last keyframe.
    pub(super) fn add_images_at_end(&mut self, ctx: &egui::Context) {
        let at_frame = self.project.keyframes.last().map_or(0, |k| k.frame + 32);
        self.ask_file(FilePurpose::AddImages { at_frame }, ctx);
    }

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
                self.saved = self.project.clone();
                self.perform(action, ctx);
            }
            Some(_) => self.confirm = None,
            None => {}
        }
    }
}
