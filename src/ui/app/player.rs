//! The player and the live preview: decoded renders, guide previews, streamed frames.

use std::sync::mpsc::Receiver;

use super::jobs::PreviewResult;
use super::{Command, PlayerSource, StudioApp, jobs};
use crate::ui::style;

impl StudioApp {
    pub(super) fn player_view(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ui.horizontal(|ui| {
            ui.heading("Player");
            if ui
                .add_enabled(self.last_output.is_some(), egui::Button::new("Output"))
                .clicked()
            {
                self.send(Command::Show(PlayerSource::Output));
            }
            if ui
                .add_enabled(
                    self.live.is_some() || self.live_view.texture.is_some(),
                    egui::Button::new("Live"),
                )
                .on_hover_text("Show the live preview")
                .clicked()
            {
                self.send(Command::Show(PlayerSource::Live));
            }
            if let Some(source) = self.player.source {
                if source == PlayerSource::Output && self.render_is_outdated() {
                    ui.colored_label(style::STALE, "outdated")
                        .on_hover_text("The project changed since this render; Render again (Ctrl+R) to see the changes");
                }
                ui.label(match source {
                    PlayerSource::Output => "showing the render".to_string(),
                    PlayerSource::Guide(i) => format!("showing the guide of call {}", i + 1),
                    PlayerSource::Mask(i) => format!("showing the mask of call {}", i + 1),
                    PlayerSource::Live => "showing the live preview".to_string(),
                });
            }
        });
        if self.player.source == Some(PlayerSource::Live) {
            self.live_view_in_player(ui);
            return;
        }
        if self.player.loading.is_some() {
            ui.add(egui::Spinner::new());
            return;
        }
        let n = self.player.frames.len();
        if n == 0 {
            ui.label("Render, or click a call bar (guide) or its mask strip, to see frames here.");
            return;
        }
        // Advance while playing at the project fps.
        if self.player.playing {
            let now = ui.input(|i| i.time);
            let fps = f64::from(self.doc.project.fps.max(1));
            let last = *self.player.last_tick.get_or_insert(now);
            let advance = ((now - last) * fps) as usize;
            if advance > 0 {
                self.player.current = (self.player.current + advance) % n;
                self.player.last_tick = Some(last + advance as f64 / fps);
            }
        } else {
            self.player.last_tick = None;
        }
        self.player.current = self.player.current.min(n - 1);
        if self.player.shown != Some(self.player.current) {
            let image = self.player.frames[self.player.current].clone();
            match &mut self.player.texture {
                Some(t) => t.set(image, egui::TextureOptions::LINEAR),
                None => {
                    self.player.texture =
                        Some(ctx.load_texture("player", image, egui::TextureOptions::LINEAR));
                }
            }
            self.player.shown = Some(self.player.current);
        }
        ui.horizontal(|ui| {
            let label = if self.player.playing { "Pause" } else { "Play" };
            if ui.button(label).clicked() {
                self.player.playing = !self.player.playing;
            }
            let mut current = self.player.current;
            let label = ui.label("Frame");
            let slider = ui
                .add(egui::Slider::new(&mut current, 0..=n - 1))
                .labelled_by(label.id);
            if slider.changed() {
                self.player.current = current;
                self.player.playing = false;
            }
            // Where the playhead is, as time (the Frame field has the frame number).
            let fps = f64::from(self.doc.project.fps.max(1));
            ui.label(format!(
                "{:.2} s of {:.2} s ({n} frames)",
                self.player.current as f64 / fps,
                n as f64 / fps
            ));
        });
        if let Some(t) = &self.player.texture {
            let avail = ui.available_size();
            let size = t.size_vec2();
            let scale = (avail.x / size.x).min(avail.y.max(120.0) / size.y).min(2.0);
            ui.image((t.id(), size * scale));
        }
    }

    /// Moves the playhead to timeline frame `frame`: the render's frame there is shown (the
    /// render is loaded into the player first when something else is shown).
    pub fn seek(&mut self, frame: u32, ctx: &egui::Context) {
        let frame = frame as usize;
        self.player.playing = false;
        if self.player.source == Some(PlayerSource::Output) {
            if self.player.loading.is_some() {
                self.seek_to = Some(frame);
            } else if !self.player.frames.is_empty() {
                self.player.current = frame.min(self.player.frames.len() - 1);
            }
        } else if self.last_output.is_some() {
            self.show_in_player(PlayerSource::Output, ctx);
            self.seek_to = Some(frame);
        }
    }

    /// The frame the player shows (its index in what is loaded), if frames are loaded.
    pub fn player_position(&self) -> Option<usize> {
        (!self.player.frames.is_empty()).then_some(self.player.current)
    }

    /// Loads `source` into the player.
    pub fn show_in_player(&mut self, source: PlayerSource, ctx: &egui::Context) {
        let rx = match source {
            PlayerSource::Output => match &self.last_output {
                Some(path) => jobs::decode_preview(path, ctx),
                None => return,
            },
            PlayerSource::Live => {
                self.seek_to = None;
                self.player = Player {
                    source: Some(source),
                    ..Player::default()
                };
                return;
            }
            PlayerSource::Guide(i) | PlayerSource::Mask(i) => jobs::guide_preview(
                self.doc.project.clone(),
                self.project_dir(),
                i,
                matches!(source, PlayerSource::Mask(_)),
                self.last_output.clone(),
                self.costs.clone(),
                ctx,
            ),
        };
        match rx {
            Ok(rx) => {
                self.seek_to = None;
                self.player = Player {
                    source: Some(source),
                    loading: Some(rx),
                    ..Player::default()
                };
            }
            Err(e) => self.problems.push(e),
        }
    }
}

#[derive(Default)]
pub(super) struct Player {
    pub(super) source: Option<PlayerSource>,
    pub(super) frames: Vec<egui::ColorImage>,
    pub(super) loading: Option<Receiver<PreviewResult>>,
    pub(super) texture: Option<egui::TextureHandle>,
    pub(super) shown: Option<usize>,
    pub(super) current: usize,
    pub(super) playing: bool,
    pub(super) last_tick: Option<f64>,
}
