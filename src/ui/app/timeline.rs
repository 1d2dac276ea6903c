//! The timeline: keyframe thumbnails on a ruler, the plan strip (calls) and the mask strip
//! under them, drag and drop of keyframes and images.

use super::{
    CALL_ROW, Command, Edit, FrameClass, KEYFRAME_ROW, MASK_ROW, Path, PathBuf, Plan, PlayerSource,
    Pos2, Project, RULER, Rect, Role, Sense, Stroke, StrokeKind, StudioApp, THUMB_H, THUMB_W,
    Thumb, TimeMap, Vec2, plan,
};
use crate::ui::style;

impl StudioApp {
    #[expect(
        clippy::too_many_lines,
        reason = "one egui pass: ruler, thumbnails, strips and drags share the layout"
    )]
    pub(super) fn timeline(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        // While a keyframe is dragged, the plan it would make: the bars follow the drag.
        let plan = match (&self.timeline.drag, &self.timeline.drag_plan) {
            (Some(_), Some((_, Some(p)))) => Some(p.clone()),
            _ => self.doc.plan.as_ref().ok().cloned(),
        };
        let rows = plan.as_ref().map_or(0, call_rows);
        let height = RULER + KEYFRAME_ROW + 8.0 + rows as f32 * (CALL_ROW + MASK_ROW + 4.0) + 24.0;
        let (rect, response) = ui.allocate_exact_size(
            Vec2::new(ui.available_width(), height),
            Sense::click_and_drag(),
        );
        response.widget_info(|| egui::WidgetInfo::labeled(Role::Canvas, true, "Timeline"));
        self.timeline.time.left_px = f64::from(rect.left());
        // The last frame shown: the last keyframe's, or the plan's when it moved it later.
        let last = self
            .doc
            .project
            .keyframes
            .last()
            .map_or(64, |k| k.frame)
            .max(
                plan.as_ref()
                    .map_or(0, |p| p.total_frames.saturating_sub(1)),
            );
        // Fit on opening, on Fit (`\` or Home) and when the window's width changes.
        if self.timeline.fit_pending || (self.timeline.width - rect.width()).abs() > 1.0 {
            self.timeline.time.fit(last, f64::from(rect.width()));
            self.timeline.fit_pending = false;
            self.timeline.width = rect.width();
        }
        // Zoom (Ctrl+scroll) and pan (scroll, or drag on empty space) anywhere over the
        // timeline, thumbnails and bars included.
        if ui.rect_contains_pointer(rect) {
            let (scroll, zoom, hover) =
                ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta(), i.pointer.hover_pos()));
            if let Some(hp) = hover {
                if zoom != 1.0 {
                    self.timeline.time.zoom_at(f64::from(hp.x), f64::from(zoom));
                }
                let dx = if scroll.x == 0.0 { scroll.y } else { scroll.x };
                if dx != 0.0 && zoom == 1.0 {
                    self.timeline.time.pan_px(f64::from(dx));
                }
            }
        }
        if response.dragged() && self.timeline.drag.is_none() {
            self.timeline
                .time
                .pan_px(f64::from(response.drag_delta().x));
        }
        self.timeline.time.clamp_to(last, f64::from(rect.width()));
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
        // The ruler seeks: click or drag along it to move the playhead there.
        let ruler = Rect::from_min_max(rect.min, Pos2::new(rect.right(), rect.top() + RULER));
        let ruler_resp = ui
            .interact(ruler, ui.scope_id().with("ruler"), Sense::click_and_drag())
            .on_hover_text("Click or drag to move the playhead");
        ruler_resp.widget_info(|| egui::WidgetInfo::labeled(Role::Slider, true, "Ruler"));
        if (ruler_resp.clicked() || ruler_resp.dragged())
            && let Some(p) = ruler_resp.interact_pointer_pos()
        {
            let frame = self.timeline.time.x_to_whole_frame(f64::from(p.x));
            self.seek(frame.min(last), &ctx);
        }
        // Ruler: frames and seconds.
        let fps = self.doc.project.fps.max(1);
        let step = self.timeline.time.tick_step(60.0);
        let first = self
            .timeline
            .time
            .x_to_frame(f64::from(rect.left()))
            .max(0.0) as u32
            / step
            * step;
        let mut f = first;
        while self.timeline.time.frame_to_x(f64::from(f)) < f64::from(rect.right()) {
            let x = self.timeline.time.frame_to_x(f64::from(f)) as f32;
            painter.line_segment(
                [Pos2::new(x, rect.top()), Pos2::new(x, rect.top() + 6.0)],
                Stroke::new(1.0, style::RULER),
            );
            painter.text(
                Pos2::new(x + 2.0, rect.top() + 4.0),
                egui::Align2::LEFT_TOP,
                format!("{f} · {:.1}s", f64::from(f) / f64::from(fps)),
                egui::FontId::proportional(10.0),
                style::RULER,
            );
            f += step;
        }
        let time = self.timeline.time;
        let frame_x = move |f: u32| time.frame_to_x(f64::from(f)) as f32;
        // A frame is a cell centred on its tick: `side` -0.5 is its left edge, 0.5 its right.
        let cell_x = move |f: u32, side: f64| time.frame_to_x(f64::from(f) + side) as f32;
        // Spans: click to select (inspector shows their parameters).
        let key_top = rect.top() + RULER;
        let keys: Vec<(usize, u32, PathBuf)> = self
            .doc
            .project
            .keyframes
            .iter()
            .enumerate()
            .map(|(i, k)| (i, k.frame, k.image.clone()))
            .collect();
        for w in keys.windows(2) {
            let span = w[0].0;
            let r = Rect::from_min_max(
                Pos2::new(frame_x(w[0].1), key_top + KEYFRAME_ROW - 10.0),
                Pos2::new(frame_x(w[1].1), key_top + KEYFRAME_ROW - 2.0),
            );
            let id = ui.scope_id().with(("span", span));
            let resp = ui.interact(r, id, Sense::click());
            let mergeable = plan.as_ref().is_some_and(|p| {
                p.boundaries
                    .get(span)
                    .is_some_and(|b| b.differing_fields.is_empty())
            });
            let label = format!(
                "Segment {}{}",
                span + 1,
                if mergeable {
                    " (identical to the next)"
                } else {
                    ""
                }
            );
            resp.widget_info(|| egui::WidgetInfo::labeled(Role::Button, true, &label));
            let selected = span == self.selected_span;
            let color = if selected {
                style::SPAN_SELECTED
            } else {
                style::SPAN
            };
            painter.rect_filled(r, 2.0, color);
            if mergeable {
                painter.text(
                    Pos2::new(r.right() - 2.0, r.center().y),
                    egui::Align2::RIGHT_CENTER,
                    "=",
                    egui::FontId::monospace(10.0),
                    style::INK,
                );
            }
            if resp.clicked() {
                self.selected_span = span;
                self.inspector.prompt_buffers = None;
            }
        }
        // Keyframes: thumbnails, drag to move with snapping.
        for (i, frame, image) in keys {
            let shown = match self.timeline.drag {
                Some((d, snapped)) if d == i => snapped,
                _ => frame,
            };
            let x = frame_x(shown);
            let thumb_rect =
                Rect::from_center_size(Pos2::new(x, key_top + 34.0), Vec2::new(THUMB_W, THUMB_H));
            let id = ui.scope_id().with(("keyframe", i));
            let resp = ui.interact(thumb_rect, id, Sense::click_and_drag());
            let label = format!("Keyframe {} at frame {frame}", i + 1);
            resp.widget_info(|| egui::WidgetInfo::labeled(Role::Button, true, &label));
            match self.thumb(&image, &ctx) {
                Thumb::Ready(tex) => {
                    painter.image(
                        tex.id(),
                        thumb_rect,
                        Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                        style::INK,
                    );
                }
                Thumb::Loading => {
                    painter.rect_filled(thumb_rect, 2.0, style::THUMB_LOADING);
                }
                Thumb::Failed(e) => {
                    painter.rect_filled(thumb_rect, 2.0, style::THUMB_FAILED);
                    painter.text(
                        thumb_rect.center(),
                        egui::Align2::CENTER_CENTER,
                        "!",
                        egui::FontId::proportional(18.0),
                        style::INK,
                    );
                    resp.clone().on_hover_text(format!(
                        "{}\n{}",
                        e.message,
                        e.suggestions.join("\n")
                    ));
                }
            }
            let selected = self.selected_keyframe == Some(i);
            painter.rect_stroke(
                thumb_rect,
                2.0,
                Stroke::new(if selected { 2.0 } else { 1.0 }, style::INK),
                StrokeKind::Outside,
            );
            painter.line_segment(
                [
                    Pos2::new(x, thumb_rect.bottom()),
                    Pos2::new(x, key_top + KEYFRAME_ROW),
                ],
                Stroke::new(1.0, style::INK),
            );
            if resp.clicked() {
                self.selected_keyframe = Some(i);
                self.selected_span = i.min(self.doc.project.span_count().saturating_sub(1));
                self.inspector.prompt_buffers = None;
            }
            let count = self.doc.project.keyframes.len();
            resp.context_menu(|ui| {
                if ui
                    .add_enabled(i > 0, egui::Button::new("Move image earlier"))
                    .clicked()
                {
                    self.pending
                        .push((Edit::ReorderKeyframe { from: i, to: i - 1 }, None));
                    ui.close();
                }
                if ui
                    .add_enabled(i + 1 < count, egui::Button::new("Move image later"))
                    .clicked()
                {
                    self.pending
                        .push((Edit::ReorderKeyframe { from: i, to: i + 1 }, None));
                    ui.close();
                }
                if ui.button("Replace image…").clicked() {
                    ui.close();
                    self.send(Command::ReplaceImage(i));
                }
                if ui.button("Delete keyframe").clicked() {
                    self.send(Command::DeleteKeyframe(i));
                    ui.close();
                }
            });
            if resp.dragged()
                && i > 0
                && let Some(p) = resp.interact_pointer_pos()
            {
                let wanted = self.timeline.time.x_to_whole_frame(f64::from(p.x));
                // Planned again only when the pointer reaches another frame.
                if self.timeline.drag_plan.as_ref().map(|(w, _)| *w) != Some(wanted)
                    || self.timeline.drag.is_none()
                {
                    let (snapped, trial) =
                        drag_trial(&self.doc.project, self.costs.as_ref(), i, wanted);
                    self.timeline.drag = Some((i, snapped));
                    self.timeline.drag_plan = Some((wanted, trial));
                }
            }
            if resp.drag_stopped()
                && let Some((d, snapped)) = self.timeline.drag.take()
                && d == i
            {
                self.timeline.drag_plan = None;
                self.push_edit(Edit::MoveKeyframe {
                    index: i,
                    frame: snapped,
                });
            }
            if let Some((d, snapped)) = self.timeline.drag
                && d == i
            {
                painter.text(
                    Pos2::new(x, thumb_rect.top() - 2.0),
                    egui::Align2::CENTER_BOTTOM,
                    format!("snaps to {snapped}"),
                    egui::FontId::proportional(11.0),
                    style::DRAG_HINT,
                );
            }
        }
        // Plan view: calls as bars, context regions, snapped keyframes, mask strips.
        let Some(plan) = plan else {
            if let Err(e) = &self.doc.plan {
                painter.text(
                    Pos2::new(rect.left() + 8.0, key_top + KEYFRAME_ROW + 12.0),
                    egui::Align2::LEFT_TOP,
                    format!("no plan: {}", e.message),
                    egui::FontId::proportional(12.0),
                    style::ERROR,
                );
            }
            return;
        };
        let plan_top = key_top + KEYFRAME_ROW + 8.0;
        for snap in &plan.snaps {
            let x = frame_x(snap.to);
            painter.circle_filled(Pos2::new(x, key_top + KEYFRAME_ROW - 6.0), 4.0, style::SNAP);
            let r = Rect::from_center_size(
                Pos2::new(x, key_top + KEYFRAME_ROW - 6.0),
                Vec2::splat(10.0),
            );
            let resp = ui.interact(
                r,
                ui.scope_id().with(("snap", snap.keyframe)),
                Sense::hover(),
            );
            let label = format!(
                "Keyframe {} snapped {} -> {}",
                snap.keyframe, snap.from, snap.to
            );
            resp.widget_info(|| egui::WidgetInfo::labeled(Role::Image, true, &label));
            resp.on_hover_text(&snap.reason);
        }
        for c in &plan.calls {
            let row = (c.index % 2) as f32;
            let top = plan_top + row * (CALL_ROW + MASK_ROW + 4.0);
            let bar = Rect::from_min_max(
                Pos2::new(cell_x(c.start, -0.5), top),
                Pos2::new(
                    cell_x(c.end, 0.5).max(cell_x(c.start, -0.5) + 1.0),
                    top + CALL_ROW,
                ),
            );
            let color = if c.is_merged() {
                style::CALL_MERGED
            } else {
                style::CALL
            };
            painter.rect_filled(bar, 3.0, color);
            if c.lead_frames > 0 && c.lead == plan::Lead::Context {
                let ctx_rect = Rect::from_min_max(
                    bar.min,
                    Pos2::new(cell_x(c.start + c.lead_frames, -0.5), bar.bottom()),
                );
                painter.rect_filled(ctx_rect, 3.0, style::CONTEXT_SHADE);
            }
            let spans = if c.is_merged() {
                format!(
                    "segments {} to {} (merged)",
                    c.first_span + 1,
                    c.last_span + 1
                )
            } else {
                format!("segment {}", c.first_span + 1)
            };
            let label = format!(
                "Call {}: {spans}, frames {} to {}",
                c.index + 1,
                c.start,
                c.end
            );
            // The label stays in view when the bar starts left of it.
            painter.text(
                Pos2::new(bar.left().max(rect.left()) + 4.0, bar.center().y),
                egui::Align2::LEFT_CENTER,
                format!("call {} · {} frames", c.index + 1, c.len()),
                egui::FontId::proportional(11.0),
                style::INK,
            );
            let resp = ui.interact(bar, ui.scope_id().with(("call", c.index)), Sense::click());
            resp.widget_info(|| egui::WidgetInfo::labeled(Role::Button, true, &label));
            let predicted = plan
                .predicted_secs
                .get(c.index)
                .map_or_else(String::new, |s| {
                    format!(
                        "\npredicted time: {} ({})",
                        crate::plan::cost::secs_text(*s),
                        plan.cost_model.source
                    )
                });
            let lead = match c.lead {
                crate::plan::Lead::Start => "starts the video".to_string(),
                crate::plan::Lead::SharedKeyframe => {
                    "joins the call before on their shared keyframe".to_string()
                }
                crate::plan::Lead::Context => {
                    format!("continues from {} frames of the call before", c.lead_frames)
                }
            };
            let anchors = c
                .anchors
                .iter()
                .map(|a| (a.keyframe + 1).to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let resp = resp.on_hover_text(format!(
                "{label}\n{lead}\nkeyframes: {anchors}{predicted}\nclick to see its guide frames"
            ));
            if resp.clicked() {
                self.send(Command::Show(PlayerSource::Guide(c.index)));
            }
            // Mask strip: one cell per frame, coloured by class; the value on hover.
            let strip_top = bar.bottom() + 2.0;
            let strip = Rect::from_min_max(
                Pos2::new(bar.left(), strip_top),
                Pos2::new(bar.right(), strip_top + MASK_ROW),
            );
            let classes = c.frame_classes();
            let mask = c.mask();
            for (o, class) in classes.iter().enumerate() {
                let f = c.start + o as u32;
                let cell = Rect::from_min_max(
                    Pos2::new(cell_x(f, -0.5), strip_top),
                    Pos2::new(
                        cell_x(f, 0.5).max(cell_x(f, -0.5) + 1.0),
                        strip_top + MASK_ROW,
                    ),
                );
                painter.rect_filled(cell, 0.0, class_color(*class));
            }
            let resp = ui.interact(strip, ui.scope_id().with(("mask", c.index)), Sense::click());
            let label = format!("Mask of call {}", c.index + 1);
            resp.widget_info(|| egui::WidgetInfo::labeled(Role::Image, true, &label));
            if let Some(hp) = resp.hover_pos() {
                let f = self.timeline.time.x_to_whole_frame(f64::from(hp.x));
                if let Some(o) = f.checked_sub(c.start).map(|o| o as usize)
                    && o < classes.len()
                {
                    resp.clone().on_hover_text(format!(
                        "frame {f} (frame {} of the call): {}, mask {:.2}",
                        o + 1,
                        class_words(classes[o]),
                        mask[o]
                    ));
                }
            }
            if resp.clicked() {
                self.send(Command::Show(PlayerSource::Mask(c.index)));
            }
        }
        // The last render's joins and calls over their marks, while it shows this project.
        if let Some(r) = self
            .last_render
            .as_ref()
            .filter(|_| !self.render_is_outdated())
        {
            use crate::fidelity::quality::{DRIFT_LIMIT, SEAM_LIMIT};
            let row_top = |call: usize| {
                let row = ((call.saturating_sub(1)) % 2) as f32;
                plan_top + row * (CALL_ROW + MASK_ROW + 4.0)
            };
            for j in r.quality.joins.iter().filter(|j| j.seam > SEAM_LIMIT) {
                let mark = Rect::from_min_max(
                    Pos2::new(cell_x(j.frame, -0.5), plan_top - 4.0),
                    Pos2::new(
                        cell_x(j.frame + j.frames.max(1) - 1, 0.5).max(cell_x(j.frame, -0.5) + 3.0),
                        plan_top + 2.0 * (CALL_ROW + MASK_ROW + 4.0),
                    ),
                );
                painter.rect_stroke(
                    mark,
                    2.0,
                    egui::Stroke::new(2.0, style::WARNING),
                    egui::StrokeKind::Outside,
                );
                let label = format!(
                    "Seam mark: the join into call {}, seam {:.2}",
                    j.call, j.seam
                );
                let resp = ui.interact(mark, ui.scope_id().with(("seam", j.call)), Sense::hover());
                resp.widget_info(|| egui::WidgetInfo::labeled(Role::Image, true, &label));
                resp.on_hover_text(format!(
                    "The join into call {} (frames {} to {}) jumps: seam {:.2} (above {SEAM_LIMIT} is marked).\nIt moves more than the video around it; more Overlap in the settings bar gives the crossfade more frames.",
                    j.call,
                    j.frame,
                    j.frame + j.frames.max(1) - 1,
                    j.seam
                ));
            }
            for c in r.quality.calls.iter().filter(|c| c.drift_de > DRIFT_LIMIT) {
                let top = row_top(c.call);
                let mark = Rect::from_min_max(
                    Pos2::new(cell_x(c.frames.0, -0.5), top),
                    Pos2::new(cell_x(c.frames.1, 0.5), top + CALL_ROW),
                );
                painter.rect_stroke(
                    mark,
                    3.0,
                    egui::Stroke::new(2.0, style::WARNING),
                    egui::StrokeKind::Outside,
                );
                let label = format!(
                    "Colour mark: call {}, colour drift {:.1} dE",
                    c.call, c.drift_de
                );
                let resp = ui.interact(
                    mark.shrink2(Vec2::new(0.0, CALL_ROW / 2.0 - 2.0)),
                    ui.scope_id().with(("drift", c.call)),
                    Sense::hover(),
                );
                resp.widget_info(|| egui::WidgetInfo::labeled(Role::Image, true, &label));
                let fix = if self.settings.generator.kind == "builtin" {
                    "The built-in backend keeps the pictures' own colours: they stray from a straight blend of the keyframes'."
                } else {
                    "Raise Colour match in the Render panel, or render the segment again."
                };
                resp.on_hover_text(format!(
                    "Call {} drifts in colour: {:.1} dE on average, {:.1} at most (frame {}); above {DRIFT_LIMIT} dE is marked.\n{fix}",
                    c.call, c.drift_de, c.peak_drift_de, c.peak_frame
                ));
            }
        }
        let plural = |n: usize, one: &str, many: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {many}")
            }
        };
        let summary = format!(
            "{} ({} without merging) · about {} ({:.2}x) · a re-roll regenerates up to {} · {} in all",
            plural(plan.calls.len(), "call", "calls"),
            plan.cost.unmerged_calls,
            crate::plan::cost::secs_text(plan.cost.secs),
            plan.cost.speedup,
            plural(plan.blast_radius_frames as usize, "frame", "frames"),
            plural(plan.total_frames as usize, "frame", "frames"),
        );
        painter.text(
            Pos2::new(rect.left() + 6.0, rect.bottom() - 4.0),
            egui::Align2::LEFT_BOTTOM,
            &summary,
            egui::FontId::proportional(11.0),
            style::QUIET_TEXT,
        );
        // Playhead.
        if !self.player.frames.is_empty() && self.player.source == Some(PlayerSource::Output) {
            let x = frame_x(self.player.current as u32);
            painter.line_segment(
                [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
                Stroke::new(1.5, style::PLAYHEAD),
            );
        }
    }

    pub(super) fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let (dropped, pos) = ctx.input(|i| {
            (
                i.raw
                    .dropped_files
                    .iter()
                    .map(|f| f.path().to_path_buf())
                    .collect::<Vec<_>>(),
                i.pointer.hover_pos().or(i.pointer.interact_pos()),
            )
        });
        if dropped.is_empty() {
            return;
        }
        let at_frame = pos.map_or_else(
            || {
                self.doc
                    .project
                    .keyframes
                    .last()
                    .map_or(0, |k| k.frame + 32)
            },
            |p| self.timeline.time.x_to_whole_frame(f64::from(p.x)),
        );
        self.push_edit(Edit::AddKeyframes {
            images: dropped,
            at_frame,
        });
        // The new keyframes may reach past the view.
        self.timeline.fit_pending = true;
    }

    pub(super) fn thumb(&mut self, path: &Path, ctx: &egui::Context) -> Thumb {
        if let Some(t) = self.thumbs.get(path) {
            return t.clone();
        }
        self.thumbs.insert(path.to_path_buf(), Thumb::Loading);
        self.thumb_stamps
            .insert(path.to_path_buf(), super::polling::file_stamp(path));
        self.loader.request(path.to_path_buf(), ctx);
        Thumb::Loading
    }
}

/// Where keyframe `index` lands if dragged to `wanted`: the position the planner gives it,
/// with the same cost law (and so the same merging) as the plan shown.
pub fn snapped_position(
    project: &Project,
    costs: Option<&crate::plan::CostModel>,
    index: usize,
    wanted: u32,
) -> u32 {
    drag_trial(project, costs, index, wanted).0
}

/// Where keyframe `index` lands if dragged to `wanted`, and the plan it then makes.
fn drag_trial(
    project: &Project,
    costs: Option<&crate::plan::CostModel>,
    index: usize,
    wanted: u32,
) -> (u32, Option<Plan>) {
    let mut trial = project.clone();
    let low = trial.keyframes[index - 1].frame + 1;
    let high = trial
        .keyframes
        .get(index + 1)
        .map_or(crate::project::MAX_TIMELINE_FRAME, |k| {
            k.frame.saturating_sub(1)
        });
    let wanted = wanted.clamp(low, high.max(low));
    trial.keyframes[index].frame = wanted;
    match plan::plan_with_costs(&trial, costs) {
        Ok(p) => {
            let snapped = p.positions[index];
            if snapped >= low && snapped <= high {
                (snapped, Some(p))
            } else {
                (wanted, Some(p))
            }
        }
        Err(_) => (wanted, None),
    }
}

pub(super) fn call_rows(plan: &Plan) -> usize {
    plan.calls.len().min(2)
}

/// What a frame of a call is, in the legend's words.
pub(super) fn class_words(class: FrameClass) -> &'static str {
    match class {
        FrameClass::Anchor => "keyframe (kept)",
        FrameClass::Context => "context (kept)",
        FrameClass::Transition => "transition",
        FrameClass::Free => "generated",
    }
}

pub(super) fn class_color(class: FrameClass) -> egui::Color32 {
    style::frame_class(class)
}

impl StudioApp {
    /// The row above the timeline: Fit, and what the mask strip's colours mean.
    pub(super) fn timeline_header(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if ui
                .small_button("Fit")
                .on_hover_text("Show the whole project in the timeline (\\ or Home)")
                .clicked()
            {
                self.send(Command::FitTimeline);
            }
            ui.separator();
            ui.label("Mask:");
            for class in [
                FrameClass::Anchor,
                FrameClass::Context,
                FrameClass::Transition,
                FrameClass::Free,
            ] {
                let (swatch, _) = ui.allocate_exact_size(Vec2::splat(10.0), Sense::hover());
                ui.painter().rect_filled(swatch, 2.0, class_color(class));
                ui.label(class_words(class));
            }
        });
    }
}

/// What the timeline shows and what is being dragged on it.
pub(super) struct TimelineView {
    /// Frames <-> pixels (zoom and pan).
    pub(super) time: TimeMap,
    /// Fit the whole project into view on the next frame.
    pub(super) fit_pending: bool,
    /// The timeline's width when it was last fitted (a new width fits it again).
    pub(super) width: f32,
    /// The keyframe being dragged and where it snaps.
    pub(super) drag: Option<(usize, u32)>,
    /// The frame the dragged keyframe is held over, and the plan it would make if dropped.
    pub(super) drag_plan: Option<(u32, Option<Plan>)>,
}

impl Default for TimelineView {
    fn default() -> Self {
        Self {
            time: TimeMap::default(),
            fit_pending: true,
            width: 0.0,
            drag: None,
            drag_plan: None,
        }
    }
}
