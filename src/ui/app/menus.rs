//! The bars at the top (the menus and the project settings) and the keyboard shortcuts: each
//! sends a [`Command`](super::Command).

use super::{Command, Edit, Key, MergePolicy, Mode, Modifiers, StudioApp, labelled_drag, plan};
use crate::ui::files::FilePurpose;

impl StudioApp {
    pub(super) fn menu_bar(&mut self, ui: &mut egui::Ui) {
        // An item: its label, the shortcut shown beside it, whether it can run now.
        fn item(ui: &mut egui::Ui, label: &str, shortcut: &str, enabled: bool) -> bool {
            let button = if shortcut.is_empty() {
                egui::Button::new(label)
            } else {
                egui::Button::new(label).shortcut_text(shortcut)
            };
            let clicked = ui.add_enabled(enabled, button).clicked();
            if clicked {
                ui.close();
            }
            clicked
        }
        let mut sent = Vec::new();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if item(ui, "New", "", true) {
                    sent.push(Command::NewProject);
                }
                if item(ui, "Open…", "Ctrl+O", true) {
                    sent.push(Command::ChooseProject);
                }
                ui.menu_button("Open recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.label("nothing yet");
                    }
                    for p in &self.settings.recent {
                        if item(ui, &p.display().to_string(), "", true) {
                            sent.push(Command::OpenProject(p.clone()));
                        }
                    }
                });
                if item(ui, "Save", "Ctrl+S", true) {
                    sent.push(Command::Save);
                }
                if item(ui, "Save As…", "Ctrl+Shift+S", true) {
                    sent.push(Command::SaveAs);
                }
                if item(ui, "Export…", "Ctrl+E", self.last_output.is_some()) {
                    sent.push(Command::Export);
                }
                ui.separator();
                if item(ui, "Quit", "", true) {
                    sent.push(Command::Quit);
                }
            });
            ui.menu_button("Edit", |ui| {
                if item(ui, "Undo", "Ctrl+Z", self.doc.history.can_undo()) {
                    sent.push(Command::Undo);
                }
                if item(ui, "Redo", "Ctrl+Shift+Z", self.doc.history.can_redo()) {
                    sent.push(Command::Redo);
                }
                if item(ui, "Add images…", "Ctrl+I", true) {
                    sent.push(Command::AddImages);
                }
                let selected = self.selected_keyframe;
                if item(ui, "Replace image…", "", selected.is_some())
                    && let Some(k) = selected
                {
                    sent.push(Command::ReplaceImage(k));
                }
                if item(ui, "Delete keyframe", "Delete", selected.is_some())
                    && let Some(k) = selected
                {
                    sent.push(Command::DeleteKeyframe(k));
                }
            });
            ui.menu_button("Project", |ui| {
                let idle = self.render.is_none();
                if item(ui, "Render", "Ctrl+R", idle && self.doc.plan.is_ok()) {
                    sent.push(Command::Render);
                }
                if item(ui, "Cancel render", "", !idle) {
                    sent.push(Command::CancelRender);
                }
                if item(ui, "Check", "", self.preflight_loading.is_none()) {
                    sent.push(Command::Check);
                }
            });
            ui.menu_button("View", |ui| {
                if item(ui, "Fit timeline", "Home", true) {
                    sent.push(Command::FitTimeline);
                }
                if item(ui, "Play / pause", "Space", !self.player.frames.is_empty()) {
                    sent.push(Command::TogglePlay);
                }
            });
        });
        for c in sent {
            self.send(c);
        }
    }

    pub(super) fn settings_bar(&mut self, ui: &mut egui::Ui) {
        let mut p = self.doc.project.clone();
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
        if p != self.doc.project {
            self.pending
                .push((Edit::Replace(Box::new(p)), Some("settings".into())));
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
        let fit = !typing && i_pressed_fit(ctx);
        let commands = [
            (redo, Command::Redo),
            (undo && !redo, Command::Undo),
            (save_as, Command::SaveAs),
            (save && !save_as, Command::Save),
            (open, Command::ChooseProject),
            (export, Command::Export),
            (add_images, Command::AddImages),
            (render && self.render.is_none(), Command::Render),
            (space, Command::TogglePlay),
            (fit, Command::FitTimeline),
        ];
        for (pressed, command) in commands {
            if pressed {
                self.send(command);
            }
        }
        if delete && let Some(k) = self.selected_keyframe {
            self.send(Command::DeleteKeyframe(k));
        }
    }

    /// Asks where to save the project; returns whether it was saved at once.
    pub(super) fn save_as_dialog(&mut self, ctx: &egui::Context) -> bool {
        self.ask_file(FilePurpose::SaveProject, ctx)
    }

    /// Asks for images to add after the last keyframe.
    pub(super) fn add_images_at_end(&mut self, ctx: &egui::Context) {
        let at_frame = self
            .doc
            .project
            .keyframes
            .last()
            .map_or(0, |k| k.frame + 32);
        self.ask_file(FilePurpose::AddImages { at_frame }, ctx);
    }
}

/// Whether the backslash key or Home was pressed (fit the timeline).
fn i_pressed_fit(ctx: &egui::Context) -> bool {
    ctx.input(|i| i.key_pressed(Key::Backslash) || i.key_pressed(Key::Home))
}
