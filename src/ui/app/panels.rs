//! The side panels: the inspector of the selected segment or keyframe, the structure video,
//! the backend settings and the render panel.

use super::{Command, Duration, Edit, ErrorCategory, Role, StudioApp, generate, jobs, show_error};
use crate::ui::style;

impl StudioApp {
    pub(super) fn inspector(&mut self, ui: &mut egui::Ui) {
        ui.heading("Segment");
        let spans = self.doc.project.span_count();
        if spans == 0 {
            ui.label(
                "Add at least two keyframes (drop images on the timeline or Edit -> Add images…).",
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
            }
        }
        let segment = self.doc.project.segment_for_span(span).clone();
        let (mut prompt, mut negative) = match &self.prompt_buffers {
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
        self.prompt_buffers = Some((span, prompt, negative));
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

    pub(super) fn structure_panel(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ui.heading("Structure video");
        let mut p = self.doc.project.clone();
        let mut choose = false;
        match &mut p.structure_video {
            None => {
                ui.label("None: generated frames follow the anchors only.");
                choose = ui.button("Choose video…").clicked();
            }
            Some(sv) => {
                ui.label(sv.path.display().to_string());
                let mut remove = false;
                ui.horizontal(|ui| {
                    choose = ui.button("Change…").clicked();
                    remove = ui.button("Remove").clicked();
                });
                labelled_drag(ui, "Start frame", &mut sv.start_frame, 0..=1_000_000, 1.0);
                let mut end = sv.end_frame.unwrap_or(0);
                let label = ui.label("End frame (0 = to the end)");
                if ui
                    .add(egui::DragValue::new(&mut end).range(0..=1_000_000))
                    .labelled_by(label.id)
                    .changed()
                {
                    sv.end_frame = (end > 0).then_some(end.max(sv.start_frame));
                }
                ui.horizontal(|ui| {
                    ui.label("Treatment");
                    ui.selectable_value(
                        &mut sv.treatment,
                        crate::project::Treatment::Adjust,
                        "Adjust",
                    );
                    ui.selectable_value(&mut sv.treatment, crate::project::Treatment::Clip, "Clip");
                });
                let label = ui.label("Motion strength");
                ui.add(egui::Slider::new(&mut sv.motion_strength, 0.0..=2.0))
                    .labelled_by(label.id);
                if remove {
                    p.structure_video = None;
                }
            }
        }
        if p != self.doc.project {
            self.pending
                .push((Edit::Replace(Box::new(p)), Some("structure".into())));
        }
        if choose {
            self.send(Command::Choose(
                crate::ui::files::FilePurpose::StructureVideo,
            ));
        }
        // Previews follow the settings.
        if self.doc.project.structure_video != self.structure_key {
            self.structure_key = self.doc.project.structure_video.clone();
            self.structure_preview = None;
            self.structure_loading = match &self.structure_key {
                Some(sv) => match jobs::structure_preview(
                    sv.clone(),
                    self.project_dir(),
                    self.doc.project.width,
                    self.doc.project.height,
                    &ctx,
                ) {
                    Ok(rx) => Some(rx),
                    Err(e) => {
                        self.problems.push(e);
                        None
                    }
                },
                None => None,
            };
        }
        if let Some(rx) = &self.structure_loading
            && let Ok(result) = rx.try_recv()
        {
            self.structure_loading = None;
            match result {
                Ok(preview) => {
                    let crop = ctx.load_texture(
                        "structure crop",
                        preview.crop,
                        egui::TextureOptions::LINEAR,
                    );
                    let flow = ctx.load_texture(
                        "structure flow",
                        preview.flow,
                        egui::TextureOptions::LINEAR,
                    );
                    self.structure_preview = Some((crop, flow, preview.info));
                }
                Err(e) => self.problems.push(e),
            }
        }
        if self.structure_loading.is_some() {
            ui.add(egui::Spinner::new());
            ctx.request_repaint_after(Duration::from_millis(50));
        }
        if let Some((crop, flow, info)) = &self.structure_preview {
            ui.label(info.as_str());
            ui.horizontal(|ui| {
                let size = crop.size_vec2() * (150.0 / crop.size_vec2().x);
                let r = ui.image((crop.id(), size));
                r.widget_info(|| {
                    egui::WidgetInfo::labeled(Role::Image, true, "Structure crop preview")
                });
                let r = ui.image((flow.id(), size));
                r.widget_info(|| {
                    egui::WidgetInfo::labeled(Role::Image, true, "Structure flow preview")
                });
            });
            ui.label("left: the crop used (never stretched); right: its motion (hue = direction)");
        }
    }

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

    pub(super) fn render_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Render");
        self.backend_settings(ui);
        let can_render = self.doc.plan.is_ok() && self.render.is_none();
        ui.horizontal(|ui| {
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
                .add_enabled(self.last_output.is_some(), egui::Button::new("Export MP4…"))
                .on_hover_text("Ctrl+E")
                .clicked()
            {
                self.send(Command::Export);
            }
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
}

impl StudioApp {
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
                    ui.weak("· not exported yet (Export MP4…)");
                }
            }
        });
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

/// How long ago something happened, in words ("just now", "5 min ago").
fn ago_words(secs: u64) -> String {
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        _ => format!("{} h ago", secs / 3600),
    }
}

/// A label and a number field announced under that label.
pub(super) fn labelled_drag(
    ui: &mut egui::Ui,
    text: &str,
    value: &mut u32,
    range: std::ops::RangeInclusive<u32>,
    speed: f64,
) {
    let label = ui.label(text);
    ui.add(egui::DragValue::new(value).range(range).speed(speed))
        .labelled_by(label.id);
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
        "encoding" => (
            "Writing the video…".into(),
            format!("All {calls} calls are generated"),
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
