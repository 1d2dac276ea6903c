//! The structure video panel: the clip, its range, treatment and strength, with previews of
//! its crop and its motion.

use super::{Command, Duration, Edit, Role, StudioApp, jobs, labelled_drag};

impl StudioApp {
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
        if self.doc.project.structure_video != self.structure.key {
            self.structure.key = self.doc.project.structure_video.clone();
            self.structure.preview = None;
            self.structure.loading = match &self.structure.key {
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
        if let Some(rx) = &self.structure.loading
            && let Ok(result) = rx.try_recv()
        {
            self.structure.loading = None;
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
                    self.structure.preview = Some((crop, flow, preview.info));
                }
                Err(e) => self.problems.push(e),
            }
        }
        if self.structure.loading.is_some() {
            ui.add(egui::Spinner::new());
            ctx.request_repaint_after(Duration::from_millis(50));
        }
        if let Some((crop, flow, info)) = &self.structure.preview {
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
}

/// The structure panel's previews.
#[derive(Default)]
pub(super) struct StructureView {
    /// The settings the previews were made for.
    pub(super) key: Option<crate::project::StructureVideo>,
    /// The previews being made.
    pub(super) loading:
        Option<std::sync::mpsc::Receiver<crate::error::Result<jobs::StructurePreview>>>,
    /// The crop and flow previews, and a line about the clip.
    pub(super) preview: Option<(egui::TextureHandle, egui::TextureHandle, String)>,
}
