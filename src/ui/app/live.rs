//! The live preview: the project streamed (keyframes made in the background, the frames
//! between them interpolated) and shown in the player as it is made.

use super::{Command, PlayerSource, StudioApp, jobs, show_error};
use crate::error::UserError;
use crate::ui::style;

impl StudioApp {
    /// Starts streaming the project into the live preview.
    pub fn start_live(&mut self, ctx: &egui::Context) {
        if self.live.is_some() {
            return;
        }
        self.live_view = LiveView::default();
        // Streamed at the plan's keyframe positions, so it has the render's frame count.
        let positions = self.doc.plan.as_ref().ok().map(|p| p.positions.clone());
        match jobs::LiveJob::start(
            &self.doc.project,
            positions.as_deref(),
            &self.project_dir(),
            &self.settings.generator,
            ctx,
        ) {
            Ok(job) => {
                self.live = Some(job);
                self.show_in_player(PlayerSource::Live, ctx);
            }
            Err(e) => self.live_view.finished = Some(Err(e)),
        }
    }

    pub(super) fn poll_live(&mut self, ctx: &egui::Context) {
        let Some(job) = &self.live else { return };
        let mut latest = None;
        let mut finished = None;
        while let Ok(msg) = job.rx.try_recv() {
            match msg {
                jobs::LiveMessage::Frame(i, image) => {
                    self.live_view.frames_shown = i + 1;
                    latest = Some(image);
                }
                jobs::LiveMessage::Event(e) => match e {
                    crate::stream::StreamEvent::Start { frames, .. } => {
                        self.live_view.total = frames;
                    }
                    crate::stream::StreamEvent::Buffer {
                        keyframes_ahead, ..
                    } => self.live_view.ahead = keyframes_ahead,
                    crate::stream::StreamEvent::Underrun { .. } => {
                        self.live_view.underruns += 1;
                    }
                    crate::stream::StreamEvent::Fallback { keyframe, reason } => {
                        self.live_view
                            .fallbacks
                            .push(format!("keyframe {keyframe}: {reason}"));
                    }
                    _ => {}
                },
                jobs::LiveMessage::Finished(r) => {
                    finished = Some(r.map(|s| {
                        format!(
                            "{} frames in {:.1} s ({:.1} fps)",
                            s.frames,
                            s.elapsed.as_secs_f64(),
                            f64::from(s.frames) / s.elapsed.as_secs_f64().max(1e-9)
                        )
                    }));
                }
            }
        }
        if let Some(image) = latest {
            match &mut self.live_view.texture {
                Some(t) => t.set(image, egui::TextureOptions::LINEAR),
                None => {
                    self.live_view.texture =
                        Some(ctx.load_texture("live", image, egui::TextureOptions::LINEAR));
                }
            }
        }
        if let Some(r) = finished {
            self.live_view.finished = Some(r);
            self.live = None;
        }
    }

    pub(super) fn live_panel(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    self.doc.plan.is_ok() && self.live.is_none(),
                    egui::Button::new("Live preview"),
                )
                .on_hover_text(
                    "Stream the project: keyframes generated in the background, the frames between them interpolated and shown as they are made",
                )
                .clicked()
            {
                self.send(Command::StartLive);
            }
            if ui
                .add_enabled(self.live.is_some(), egui::Button::new("Stop live"))
                .clicked()
            {
                self.send(Command::StopLive);
            }
        });
        let v = &self.live_view;
        // Said here only while the player shows something else.
        if (self.live.is_some() || v.texture.is_some())
            && self.player.source != Some(PlayerSource::Live)
        {
            ui.label(live_words(v));
        }
        for f in &v.fallbacks {
            ui.colored_label(style::WARNING, format!("fallback: {f}"));
        }
        match &v.finished {
            Some(Ok(text)) => {
                ui.label(format!("Live preview finished: {text}"));
            }
            Some(Err(e)) => {
                show_error(ui, style::ERROR, "Live preview", e);
            }
            None => {}
        }
    }

    /// The live preview in the player: its latest frame, as large as the player allows.
    pub(super) fn live_view_in_player(&mut self, ui: &mut egui::Ui) {
        let v = &self.live_view;
        ui.label(live_words(v));
        match &v.texture {
            Some(t) => {
                let avail = ui.available_size();
                let size = t.size_vec2();
                let scale = (avail.x / size.x).min(avail.y.max(120.0) / size.y).min(2.0);
                ui.image((t.id(), size * scale));
            }
            None if self.live.is_some() => {
                ui.add(egui::Spinner::new());
            }
            None => {
                ui.label("Start Live preview in the Render panel to stream the project here.");
            }
        }
    }

    /// Whether the live preview is streaming.
    pub fn is_streaming(&self) -> bool {
        self.live.is_some()
    }

    /// Frames the live preview has shown so far.
    pub fn live_frames_shown(&self) -> u32 {
        self.live_view.frames_shown
    }
}

/// Where the live preview is, in words.
fn live_words(v: &LiveView) -> String {
    let ahead = match v.ahead {
        1 => "1 keyframe ready ahead".to_string(),
        n => format!("{n} keyframes ready ahead"),
    };
    let underruns = match v.underruns {
        0 => String::new(),
        1 => " · waited once for a keyframe".to_string(),
        n => format!(" · waited {n} times for a keyframe"),
    };
    format!(
        "Live: frame {} of {} · {ahead}{underruns}",
        v.frames_shown,
        v.total.max(v.frames_shown)
    )
}

/// State of the live preview.
#[derive(Default)]
pub(super) struct LiveView {
    pub(super) texture: Option<egui::TextureHandle>,
    pub(super) frames_shown: u32,
    pub(super) total: u32,
    pub(super) ahead: usize,
    pub(super) underruns: usize,
    pub(super) fallbacks: Vec<String>,
    pub(super) finished: Option<Result<String, UserError>>,
}
