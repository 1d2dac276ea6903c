//! The Render panel: the backend and its settings, Render, Cancel, Check and Export, the
//! progress of each phase in words, retries and notes, and what became of the last render.

use std::path::PathBuf;
use std::time::Instant;

use super::{Command, ErrorCategory, StudioApp, generate, show_error};
use crate::project::Project;
use crate::ui::style;

impl StudioApp {
    /// Backend choice and its settings: servers and template for ComfyUI, the model
    /// manifest for ONNX.
    pub(super) fn backend_settings(&mut self, ui: &mut egui::Ui) {
        let mut test_servers = false;
        let mut ask: Option<crate::ui::files::FilePurpose> = None;
        let testing = self.preflight_loading.is_some();
        let g = &mut self.settings.generator;
        ui.horizontal(|ui| {
            let label = ui.label("Backend");
            egui::ComboBox::from_id_salt("backend")
                .selected_text(g.kind.clone())
                .show_ui(ui, |ui| {
                    for b in generate::BACKENDS {
                        ui.selectable_value(&mut g.kind, b.to_string(), *b);
                    }
                })
                .response
                .labelled_by(label.id);
        });
        match g.kind.as_str() {
            "comfyui" => {
                ui.horizontal(|ui| {
                    let label = ui.label("Servers");
                    let mut text = g.servers.join(", ");
                    let edit = ui
                        .add(
                            egui::TextEdit::singleline(&mut text)
                                .hint_text("http://127.0.0.1:8188, http://gpu2:8188"),
                        )
                        .labelled_by(label.id);
                    if edit.changed() {
                        g.servers = text
                            .split([',', ' '])
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect();
                    }
                });
                ui.horizontal(|ui| {
                    let shown = g.template.as_ref().map_or_else(
                        || "Wan VACE (shipped)".to_string(),
                        |p| p.display().to_string(),
                    );
                    ui.label(format!("Template: {shown}"));
                    if ui.button("Choose template…").clicked() {
                        ask = Some(crate::ui::files::FilePurpose::Template);
                    }
                    if g.template.is_some() && ui.button("Shipped template").clicked() {
                        g.template = None;
                    }
                });
                ui.horizontal(|ui| {
                    let label = ui.label("Reconnect wait");
                    ui.add(
                        egui::DragValue::new(&mut g.reconnect_timeout_secs)
                            .range(0..=3600)
                            .suffix(" s"),
                    )
                    .labelled_by(label.id)
                    .on_hover_text(
                        "How long a call waits for a server that stopped answering (a restart) to come back",
                    );
                });
                ui.horizontal(|ui| {
                    let label = ui.label("Check wait");
                    ui.add(
                        egui::DragValue::new(&mut g.preflight_timeout_secs)
                            .range(1..=3600)
                            .suffix(" s"),
                    )
                    .labelled_by(label.id)
                    .on_hover_text(
                        "How long the checks before a render wait for a server's answer (all servers at once); a server that does not answer in time is left out when another one passes",
                    );
                });
                test_servers = ui
                    .add_enabled(
                        !testing && !g.servers.is_empty(),
                        egui::Button::new("Test server connection"),
                    )
                    .on_hover_text(
                        "Reachability, device, the template's nodes and model files, and a small round trip that uses no GPU time",
                    )
                    .clicked();
            }
            "onnx" => {
                ui.horizontal(|ui| {
                    let shown = g
                        .model
                        .as_ref()
                        .map_or_else(|| "none".to_string(), |p| p.display().to_string());
                    ui.label(format!("Model manifest: {shown}"));
                    if ui.button("Choose model…").clicked() {
                        ask = Some(crate::ui::files::FilePurpose::Model);
                    }
                });
            }
            _ => {}
        }
        if test_servers {
            self.send(Command::TestServers);
        }
        if let Some(purpose) = ask {
            self.send(Command::Choose(purpose));
        }
    }

    /// The project's colour match: method and strength (an edit of the project, undoable).
    fn colour_match_settings(&mut self, ui: &mut egui::Ui) {
        use crate::fidelity::ColorMethod;
        let mut p = self.doc.project.clone();
        let generating = self.settings.generator.kind != "builtin";
        let why = if generating {
            "Pulls the colour of generated frames toward the keyframes (and, chained, the frames before) so calls do not drift warmer or darker"
        } else {
            "Used by ComfyUI and ONNX renders: the built-in backend moves the keyframes' own pixels, its frames need no colour match"
        };
        ui.horizontal(|ui| {
            let label = ui.label("Colour match");
            let cm = &mut p.color_match;
            egui::ComboBox::from_id_salt("colour-match")
                .selected_text(cm.method.label())
                .show_ui(ui, |ui| {
                    for m in ColorMethod::ALL {
                        ui.selectable_value(&mut cm.method, m, m.label());
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text(why);
            let mut percent = (cm.strength * 100.0).round();
            ui.spacing_mut().slider_width = 60.0;
            let strength = ui
                .add_enabled(
                    cm.method != ColorMethod::Off,
                    egui::Slider::new(&mut percent, 0.0..=100.0)
                        .fixed_decimals(0)
                        .suffix(" %"),
                )
                .on_hover_text("How far generated frames are pulled: 100 % fully, 0 % not at all");
            if strength.changed() {
                cm.strength = percent / 100.0;
            }
        });
        if p != self.doc.project {
            self.pending.push((
                crate::project::edit::Edit::Replace(Box::new(p)),
                Some("colour".into()),
            ));
        }
    }

    pub(super) fn render_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Render");
        self.backend_settings(ui);
        self.colour_match_settings(ui);
        let can_render = self.doc.plan.is_ok() && self.render.is_none();
        ui.horizontal_wrapped(|ui| {
            if ui
                .add_enabled(can_render, egui::Button::new("Render"))
                .on_hover_text("Ctrl+R")
                .clicked()
            {
                self.send(Command::Render);
            }
            if ui
                .add_enabled(self.render.is_some(), egui::Button::new("Cancel"))
                .clicked()
            {
                self.send(Command::CancelRender);
            }
            if ui
                .add_enabled(self.preflight_loading.is_none(), egui::Button::new("Check"))
                .on_hover_text("Pre-flight: check inputs, backend and disk before rendering")
                .clicked()
            {
                self.send(Command::Check);
            }
            if ui
                .add_enabled(
                    self.last_output.is_some() && self.render.is_none(),
                    egui::Button::new("Export…"),
                )
                .on_hover_text("Ctrl+E: writes the last render in the format chosen beside")
                .clicked()
            {
                self.send(Command::Export);
            }
            let format = &mut self.settings.export_format;
            let label = ui.label("as");
            egui::ComboBox::from_id_salt("export-format")
                .selected_text(format.short_label())
                .show_ui(ui, |ui| {
                    for f in crate::media::encode::working_formats() {
                        ui.selectable_value(format, *f, f.label());
                    }
                })
                .response
                .labelled_by(label.id)
                .on_hover_text(
                    "H.264 copies the render; another format renders it again from its finished calls (no call is generated again while they are kept)",
                );
        });
        if let Err(e) = &self.doc.plan {
            show_error(ui, style::ERROR, "cannot render", e);
        }
        if let (Some(p), Some(_job)) = (&self.progress, &self.render) {
            let (bar, line) = progress_words(p);
            ui.add(egui::ProgressBar::new(p.fraction).text(bar));
            ui.label(line);
        }
        if let Some(e) = &self.render_error {
            let color = if e.category == ErrorCategory::Cancelled {
                style::WARNING
            } else {
                style::ERROR
            };
            show_error(ui, color, "Render", e);
        }
        if self.preflight_loading.is_some() {
            ui.add(egui::Spinner::new());
        }
        if let Some(report) = &self.preflight {
            for item in &report.items {
                if item.passed && item.warning {
                    ui.colored_label(
                        style::WARNING,
                        format!("warning {}: {}", item.name, item.detail),
                    );
                    if let Some(s) = &item.suggestion {
                        ui.label(format!("hint: {s}"));
                    }
                } else if item.passed {
                    ui.label(format!("ok {}: {}", item.name, item.detail));
                } else {
                    ui.colored_label(style::ERROR, format!("FAIL {}: {}", item.name, item.detail));
                    if let Some(s) = &item.suggestion {
                        ui.label(format!("hint: {s}"));
                    }
                }
            }
        }
        for r in &self.retries {
            ui.colored_label(style::WARNING, format!("retry: {r}"));
        }
        for n in &self.notes {
            ui.weak(n.as_str());
        }
        ui.separator();
        self.live_panel(ui);
        self.last_render_line(ui);
    }

    /// What became of the last render: when, how long, exported where (or not yet).
    fn last_render_line(&mut self, ui: &mut egui::Ui) {
        let Some(r) = &self.last_render else {
            return;
        };
        let fps = r.project.fps.max(1);
        let ago = ago_words(r.finished.elapsed().as_secs());
        let seconds = f64::from(r.frames) / f64::from(fps);
        let mut reveal = None;
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "Last render: {} frames ({seconds:.1} s), finished {ago}",
                r.frames
            ));
            match &r.exported {
                Some(path) => {
                    let name = path.file_name().map_or_else(
                        || path.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                    ui.label(format!("· exported as {name}"))
                        .on_hover_text(path.display().to_string());
                    if ui.small_button("Show in folder").clicked() {
                        reveal = Some(path.clone());
                    }
                }
                None => {
                    ui.weak("· not exported yet (Export…)");
                }
            }
        });
        quality_line(ui, &r.quality, self.settings.generator.kind != "builtin");
        if self.render_is_outdated() {
            ui.colored_label(
                style::STALE,
                "The project changed since this render: Render again to see the changes.",
            );
        }
        if let Some(path) = reveal {
            self.show_in_folder(&path);
        }
    }
}

/// The quality report in one line: the worst join, the worst call and the keyframes; what
/// is over its mark in the warning colour, with what to do.
fn quality_line(ui: &mut egui::Ui, q: &crate::fidelity::QualityReport, matched: bool) {
    use crate::fidelity::quality::{DRIFT_LIMIT, SEAM_LIMIT};
    ui.horizontal_wrapped(|ui| {
        ui.label("Quality:");
        match q.worst_join() {
            Some(j) if j.seam > SEAM_LIMIT => {
                ui.colored_label(
                    style::WARNING,
                    format!("the join into call {} jumps (seam {:.2})", j.call, j.seam),
                )
                .on_hover_text(
                    "It moves more than the video around it. More Overlap in the settings bar gives the crossfade more frames.",
                );
            }
            Some(j) => {
                ui.label(format!("joins smooth (worst seam {:.2})", j.seam))
                    .on_hover_text(format!(
                        "Largest frame change across a join over the usual change around it; above {SEAM_LIMIT} is marked on the timeline"
                    ));
            }
            None => {
                ui.label("one call, no joins");
            }
        }
        if let Some(c) = q.worst_call() {
            if c.drift_de > DRIFT_LIMIT {
                ui.colored_label(
                    style::WARNING,
                    format!("· call {} drifts in colour ({:.1} dE)", c.call, c.drift_de),
                )
                .on_hover_text(if matched {
                    "Its frames moved away from the keyframes' colour. Raise Colour match above, or render the segment again."
                } else {
                    "Its colours stray from a straight blend of the keyframes': the built-in backend keeps the pictures' own colours."
                });
            } else {
                ui.label(format!("· colour holds (worst {:.1} dE)", c.drift_de))
                    .on_hover_text(format!(
                        "Mean colour difference of generated frames from the keyframes; above {DRIFT_LIMIT} dE is marked on the timeline"
                    ));
            }
        }
        let psnrs: Vec<f64> = q.anchors.iter().filter_map(|a| a.psnr_db).collect();
        if let (Some(low), Some(high)) = (
            psnrs.iter().copied().reduce(f64::min),
            psnrs.iter().copied().reduce(f64::max),
        ) {
            ui.label(format!("· keyframes {low:.1} to {high:.1} dB"))
                .on_hover_text("How closely each keyframe's frame matches its image (PSNR; higher is closer)");
        } else if !q.anchors.is_empty() {
            ui.label("· keyframes exact");
        }
    });
}

/// How long ago something happened, in words ("just now", "5 min ago").
fn ago_words(secs: u64) -> String {
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        _ => format!("{} h ago", secs / 3600),
    }
}

/// The render's progress in words: the bar's text and the line under it, per phase.
fn progress_words(p: &super::Progress) -> (String, String) {
    let eta = match p.eta_secs {
        Some(s) if s >= 1.0 => format!(" · about {} left", crate::plan::cost::secs_text(s)),
        Some(_) => " · almost done".to_string(),
        None => String::new(),
    };
    let calls = p.calls.max(1);
    match p.stage.as_str() {
        "loading" => (
            "Checking the keyframe images…".into(),
            "Each image is read when its call needs it".into(),
        ),
        "structure" => {
            let (done, total) = p.step.unwrap_or((0, 0));
            (
                format!("Analysing the structure video: {done} of {total} frame pairs{eta}"),
                "Its motion is worked out once per render, then kept".into(),
            )
        }
        "measuring" => (
            "Measuring seams, colour and keyframes in the video…".into(),
            "The quality report is made from the written file".into(),
        ),
        "encoding" => (
            match p.step {
                Some((done, total)) => format!("Writing the video: frame {done} of {total}…"),
                None => "Writing the video…".into(),
            },
            if calls == 1 {
                "The call is generated".to_string()
            } else {
                format!("All {calls} calls are generated")
            },
        ),
        _ => {
            let step = p
                .step
                .map(|(v, m)| format!(" · step {v} of {m}"))
                .unwrap_or_default();
            let eta = if eta.is_empty() {
                " · estimating the time left".to_string()
            } else {
                eta
            };
            (
                format!("Generating call {} of {calls}{step}{eta}", p.call + 1),
                format!("{:.0} % of the render", p.fraction * 100.0),
            )
        }
    }
}

pub(super) struct Progress {
    pub(super) fraction: f32,
    pub(super) call: usize,
    pub(super) calls: usize,
    pub(super) stage: String,
    pub(super) step: Option<(u32, u32)>,
    pub(super) eta_secs: Option<f64>,
}

impl Progress {
    /// A render that was just asked for.
    pub(super) fn starting() -> Self {
        Self {
            fraction: 0.0,
            call: 0,
            calls: 0,
            stage: "starting".into(),
            step: None,
            eta_secs: None,
        }
    }
}

/// The last finished render.
pub(super) struct LastRender {
    /// The project it was made from (the player marks it outdated once they differ).
    pub(super) project: Project,
    /// Frames written.
    pub(super) frames: u32,
    /// When it finished.
    pub(super) finished: Instant,
    /// Where it was exported, once it was.
    pub(super) exported: Option<PathBuf>,
    /// Seams, colour drift and keyframes, measured on the video.
    pub(super) quality: crate::fidelity::QualityReport,
}

#[cfg(test)]
mod tests {
    use super::{Progress, progress_words};

    fn progress(stage: &str, step: Option<(u32, u32)>, eta_secs: Option<f64>) -> Progress {
        Progress {
            fraction: 0.5,
            call: 1,
            calls: 3,
            stage: stage.into(),
            step,
            eta_secs,
        }
    }

    #[test]
    fn every_phase_says_where_it_is() {
        let (bar, _) = progress_words(&progress("structure", Some((3, 63)), Some(42.0)));
        assert_eq!(
            bar,
            "Analysing the structure video: 3 of 63 frame pairs · about 42 s left"
        );
        let (bar, _) = progress_words(&progress("generating", Some((7, 30)), None));
        assert_eq!(
            bar,
            "Generating call 2 of 3 · step 7 of 30 · estimating the time left"
        );
        let (bar, _) = progress_words(&progress("generating", None, Some(0.2)));
        assert!(!bar.contains("0 s left"), "{bar}");
        assert!(bar.ends_with("almost done"), "{bar}");
        let (bar, line) = progress_words(&progress("encoding", None, None));
        assert_eq!(bar, "Writing the video…");
        assert_eq!(line, "All 3 calls are generated");
        let (_, line) = progress_words(&Progress {
            calls: 1,
            ..progress("encoding", None, None)
        });
        assert_eq!(line, "The call is generated");
        let (bar, _) = progress_words(&progress("loading", None, None));
        assert_eq!(bar, "Checking the keyframe images…");
    }
}
