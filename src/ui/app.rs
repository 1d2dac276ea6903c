//! The studio window. The document (`ui::document`) holds the project; one file per panel
//! draws it (`menus`, `timeline`, `inspector`, `structure`, `render_panel`, `live`,
//! `player`, `status`, `dialogs`), each with its own view state. Widgets push [`Edit`]s
//! and send [`Command`]s; both are carried out after the panels are drawn (`commands`).
//! Colours come from `ui::style`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

mod commands;
mod dialogs;
mod document;
mod files;
mod inspector;
mod live;
mod menus;
mod player;
mod polling;
mod render_panel;
mod status;
mod structure;
mod timeline;
mod words;

use crate::ui::document::Document;
pub use crate::ui::document::{autosave_path, export};
pub use commands::Command;
use live::LiveView;
use player::Player;
use render_panel::{LastRender, Progress};
pub use timeline::snapped_position;
use words::{studio_device_words, studio_hint, studio_words};

use egui::{Color32, Key, Modifiers, Pos2, Rect, Role, Sense, Stroke, StrokeKind, Vec2};

use super::jobs::{self, RenderJob, ThumbLoader};
use super::timemap::TimeMap;
use crate::error::{ErrorCategory, UserError};
use crate::generate;
use crate::plan::{self, FrameClass, Plan};
use crate::project::edit::Edit;
use crate::project::{MergePolicy, Mode, Project, file};
use crate::render::RenderEvent;

/// Settings that outlive a session (stored by eframe).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Recently opened or saved projects, newest first.
    pub recent: Vec<PathBuf>,
    /// Generator backend and its settings (servers, template, model manifest).
    pub generator: crate::generate::BackendConfig,
    /// What Export writes.
    pub export_format: crate::media::ExportFormat,
}

/// Where the studio keeps its files.
#[derive(Debug, Clone)]
pub struct StudioConfig {
    /// Folder for renders before export.
    pub render_dir: PathBuf,
    /// Folder for the autosave of untitled projects.
    pub autosave_dir: PathBuf,
    /// Folder of finished call outputs, so a failed or cancelled render resumes.
    pub call_cache_dir: PathBuf,
    /// Timings of finished calls per backend: the cost law plans are made with.
    pub costs_file: PathBuf,
}

impl StudioConfig {
    /// The per-user cache and data folders; with no home folder, a private folder of this
    /// user's in the system's temporary folder (never one another user could have planted).
    pub fn from_user_dirs() -> Self {
        if let Some(d) = crate::dirs::project_dirs() {
            Self {
                render_dir: d.cache_dir().join("renders"),
                autosave_dir: d.data_dir().join("autosave"),
                call_cache_dir: d.cache_dir().join("calls"),
                costs_file: d.data_dir().join("costs.json"),
            }
        } else {
            let tmp = crate::dirs::private_temp_folder("wayfarer-studio")
                .or_else(|| {
                    crate::dirs::scratch_dir("studio")
                        .ok()
                        .map(tempfile::TempDir::keep)
                })
                .unwrap_or_else(|| std::env::temp_dir().join("wayfarer-studio"));
            tracing::warn!(
                "no home folder: autosaves and renders are kept in {}",
                tmp.display()
            );
            Self {
                render_dir: tmp.join("renders"),
                autosave_dir: tmp.join("autosave"),
                call_cache_dir: tmp.join("calls"),
                costs_file: tmp.join("costs.json"),
            }
        }
    }
}

/// Storage key of [`Settings`].
pub const SETTINGS_KEY: &str = "wayfarer.settings";

const KEYFRAME_ROW: f32 = 88.0;
const THUMB_W: f32 = 96.0;
const THUMB_H: f32 = 54.0;
const RULER: f32 = 22.0;
const CALL_ROW: f32 = 18.0;
const MASK_ROW: f32 = 14.0;

#[derive(Clone)]
enum Thumb {
    Loading,
    Ready(egui::TextureHandle),
    Failed(UserError),
}

/// What the player shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerSource {
    /// The last render.
    Output,
    /// Guide frames of a call.
    Guide(usize),
    /// Mask frames of a call.
    Mask(usize),
    /// The live preview's frames as they stream.
    Live,
}

/// The studio application.
pub struct StudioApp {
    /// Recent notes of the running render (servers, failovers, cache hits).
    notes: Vec<String>,
    /// The running live preview, if any.
    live: Option<jobs::LiveJob>,
    /// What the live preview shows.
    live_view: LiveView,
    /// The project, its file, undo history and plan.
    doc: Document,
    /// The timeline's zoom, pan and drag.
    timeline: timeline::TimelineView,
    /// The inspector's text being typed.
    inspector: inspector::InspectorView,
    /// The structure video's previews.
    structure: structure::StructureView,
    /// What turning merging on would save, when it is off.
    merge_saving: Option<String>,
    selected_span: usize,
    selected_keyframe: Option<usize>,
    /// The frame to show once the render's frames are loaded (a seek on the ruler).
    seek_to: Option<usize>,
    thumbs: HashMap<PathBuf, Thumb>,
    /// Each thumbnail's file as it was when loaded, and when they were last compared.
    thumb_stamps: HashMap<PathBuf, polling::FileStamp>,
    thumbs_checked: Instant,
    loader: ThumbLoader,
    render: Option<RenderJob>,
    progress: Option<Progress>,
    last_output: Option<PathBuf>,
    render_error: Option<UserError>,
    player: Player,
    problems: Vec<UserError>,
    pending: Vec<(Edit, Option<String>)>,
    /// A command waiting for the unsaved-changes prompt.
    confirm: Option<Command>,
    /// Commands sent this frame (run after it is drawn).
    commands: Vec<Command>,
    settings: Settings,
    config: StudioConfig,
    quit_confirmed: bool,
    compute_name: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    restore_offer: Option<Project>,
    retries: Vec<String>,
    preflight: Option<crate::generate::PreflightReport>,
    preflight_loading: Option<Receiver<crate::generate::PreflightReport>>,
    /// The cost law measured on the chosen backend (`None`: the profile's), the backend
    /// settings it belongs to, and its lookup in the background.
    costs: Option<crate::plan::CostModel>,
    costs_for: Option<generate::BackendConfig>,
    costs_loading: Option<Receiver<jobs::CostLookup>>,
    /// Wayfarer's own file dialog, while open.
    file_dialog: Option<super::files::FileDialog>,
    /// The system has no file dialog (or the user asked for Wayfarer's own).
    builtin_dialogs: bool,
    /// The folder the last file was chosen in.
    dialog_dir: Option<PathBuf>,
    /// The last success or information worth saying (an export, a dialog fallback).
    notice: Option<String>,
    /// The file the notice is about (offered with Show in folder).
    notice_file: Option<PathBuf>,
    /// Warnings to show until dismissed (fields the opened project file has that a project
    /// does not).
    warnings: Vec<String>,
    /// The project as it was when the running render started.
    rendering: Option<Project>,
    /// Where the running job exports the last render to, and in what format (an export
    /// in another format than the render's renders it again from the finished calls).
    exporting: Option<(PathBuf, crate::media::ExportFormat)>,
    /// What the last finished render was made from, and what became of it.
    last_render: Option<LastRender>,
    /// The window title last sent.
    title: String,
}

impl StudioApp {
    /// A studio on an empty project.
    pub fn new(config: StudioConfig, settings: Settings) -> Self {
        Self {
            doc: Document::default(),
            timeline: timeline::TimelineView::default(),
            inspector: inspector::InspectorView::default(),
            structure: structure::StructureView::default(),
            merge_saving: None,
            selected_span: 0,
            selected_keyframe: None,
            seek_to: None,
            thumbs: HashMap::new(),
            thumb_stamps: HashMap::new(),
            thumbs_checked: Instant::now(),
            loader: ThumbLoader::default(),
            render: None,
            progress: None,
            last_output: None,
            render_error: None,
            player: Player::default(),
            problems: Vec::new(),
            pending: Vec::new(),
            confirm: None,
            commands: Vec::new(),
            settings,
            config,
            quit_confirmed: false,
            file_dialog: None,
            builtin_dialogs: std::env::var("WAYFARER_FILE_DIALOG").as_deref() == Ok("builtin"),
            dialog_dir: None,
            notice: None,
            notice_file: None,
            warnings: Vec::new(),
            rendering: None,
            exporting: None,
            last_render: None,
            title: String::new(),
            compute_name: probe_compute(),
            restore_offer: None,
            retries: Vec::new(),
            notes: Vec::new(),
            live: None,
            live_view: LiveView::default(),
            preflight: None,
            preflight_loading: None,
            costs: None,
            costs_for: None,
            costs_loading: None,
        }
    }

    /// Uses the video at `path` as the structure video (default range and strength).
    pub fn set_structure_video(&mut self, path: PathBuf) {
        let mut p = self.doc.project.clone();
        p.structure_video = Some(crate::project::StructureVideo {
            path,
            start_frame: 0,
            end_frame: None,
            treatment: crate::project::Treatment::default(),
            motion_strength: 1.0,
        });
        self.push_edit(Edit::Replace(Box::new(p)));
    }

    /// The cost law plans are made with: measured on the chosen backend, `None` for the
    /// profile's.
    pub fn cost_model(&self) -> Option<&crate::plan::CostModel> {
        self.costs.as_ref()
    }

    /// Looks the cost law up again (timings were recorded elsewhere, e.g. by a render in a
    /// terminal).
    pub fn refresh_cost_law(&mut self) {
        // A lookup in flight may have read the store before the new timings: start afresh.
        self.costs_loading = None;
        self.costs_for = None;
    }

    /// Whether the cost law of the current backend settings has been looked up.
    pub fn costs_settled(&self) -> bool {
        self.costs_loading.is_none() && self.costs_for.as_ref() == Some(&self.settings.generator)
    }

    /// The compute backend renders use, once the background probe has finished.
    pub fn compute_name(&self) -> Option<String> {
        self.compute_name.lock().ok().and_then(|c| c.clone())
    }

    /// Whether the structure video's crop and flow previews are shown.
    pub fn structure_preview_ready(&self) -> bool {
        self.structure.preview.is_some()
    }

    /// The project being edited.
    pub fn project(&self) -> &Project {
        &self.doc.project
    }

    /// The plan of the project, or why it cannot be planned.
    pub fn plan(&self) -> &Result<Plan, UserError> {
        &self.doc.plan
    }

    /// Problems shown to the user (errors with suggestions), newest last.
    pub fn problems(&self) -> &[UserError] {
        &self.problems
    }

    /// The project file, if saved or opened.
    pub fn path(&self) -> Option<&Path> {
        self.doc.path.as_deref()
    }

    /// Whether there are unsaved changes.
    pub fn is_dirty(&self) -> bool {
        self.doc.is_dirty()
    }

    /// The timeline's time <-> pixel mapping.
    pub fn time_map(&self) -> TimeMap {
        self.timeline.time
    }

    /// Fits the whole timeline into view on the next frame.
    pub fn fit_timeline(&mut self) {
        self.timeline.fit_pending = true;
    }

    /// Frames loaded in the player.
    pub fn player_frames(&self) -> usize {
        self.player.frames.len()
    }

    /// Whether thumbnails of every keyframe have arrived (or failed).
    pub fn thumbnails_settled(&self) -> bool {
        self.doc.project.keyframes.iter().all(|k| {
            matches!(
                self.thumbs.get(&k.image),
                Some(Thumb::Ready(_) | Thumb::Failed(_))
            )
        })
    }

    /// Whether keyframe `index`'s thumbnail shows its image (`Some(false)`: it could not be
    /// read; `None`: still loading or no such keyframe).
    pub fn thumbnail_shown(&self, index: usize) -> Option<bool> {
        let k = self.doc.project.keyframes.get(index)?;
        match self.thumbs.get(&k.image)? {
            Thumb::Ready(_) => Some(true),
            Thumb::Failed(_) => Some(false),
            Thumb::Loading => None,
        }
    }

    /// The settings to persist.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The last finished render, if any.
    pub fn last_output(&self) -> Option<&Path> {
        self.last_output.as_deref()
    }

    /// Why the last render did not finish, if it did not.
    pub fn render_error(&self) -> Option<&UserError> {
        self.render_error.as_ref()
    }

    /// Fraction of the running render done (0 when none runs).
    pub fn render_fraction(&self) -> f32 {
        self.progress.as_ref().map_or(0.0, |p| p.fraction)
    }

    /// Whether the project changed since the last render was made (the player says so).
    pub fn render_is_outdated(&self) -> bool {
        self.last_render
            .as_ref()
            .is_some_and(|r| r.project != self.doc.project)
    }

    /// Whether a render is running.
    pub fn is_rendering(&self) -> bool {
        self.render.is_some()
    }

    /// Queues an edit (applied at the end of the frame).
    pub fn push_edit(&mut self, edit: Edit) {
        self.pending.push((edit, None));
    }

    fn replan(&mut self) {
        self.doc.replan(self.costs.as_ref());
        self.merge_saving = self.merge_saving();
    }

    /// With merging off and identical neighbours: what Merge set to Auto would save.
    fn merge_saving(&self) -> Option<String> {
        let plan = self.doc.plan.as_ref().ok()?;
        let identical = plan
            .boundaries
            .iter()
            .any(|b| b.differing_fields.is_empty() && !b.merged);
        if self.doc.project.merge.policy != MergePolicy::Off || !identical {
            return None;
        }
        let mut merged = self.doc.project.clone();
        merged.merge.policy = MergePolicy::Auto;
        let other = plan::plan_with_costs(&merged, self.costs.as_ref()).ok()?;
        let secs = crate::plan::cost::secs_text;
        Some(if other.calls.len() < plan.calls.len() {
            let calls = |n: usize| match n {
                1 => "1 call".to_string(),
                n => format!("{n} calls"),
            };
            format!(
                "Merge set to Auto would render {} instead of {} (about {} instead of {}).",
                calls(other.calls.len()),
                calls(plan.calls.len()),
                secs(other.cost.secs),
                secs(plan.cost.secs)
            )
        } else {
            "Merge set to Auto would not save a call here.".to_string()
        })
    }

    fn project_dir(&self) -> PathBuf {
        self.doc.dir()
    }

    /// Starts a render of the current project with the chosen backend.
    pub fn start_render(&mut self, ctx: &egui::Context) {
        if self.render.is_some() {
            return;
        }
        self.render_error = None;
        if let Err(e) = std::fs::create_dir_all(&self.config.render_dir) {
            self.render_error = Some(UserError::io("creating", &self.config.render_dir, &e));
            return;
        }
        let stem = self
            .doc
            .path
            .as_deref()
            .and_then(|p| p.file_stem())
            .map_or_else(|| "untitled".into(), |s| s.to_string_lossy().into_owned());
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let output = self.config.render_dir.join(format!("{stem}-{stamp}.mp4"));
        self.rendering = Some(self.doc.project.clone());
        match RenderJob::start(
            self.doc.project.clone(),
            self.project_dir(),
            (output, crate::media::EncodeOptions::default()),
            &self.settings.generator,
            self.render_options(),
            ctx,
        ) {
            Ok(job) => {
                self.retries.clear();
                self.notes.clear();
                self.progress = Some(Progress::starting());
                self.render = Some(job);
            }
            Err(e) => self.render_error = Some(e),
        }
    }

    /// What every render of the studio uses: the call cache (resume, and exports made from
    /// finished calls) and the cost store.
    fn render_options(&self) -> crate::render::RenderOptions {
        crate::render::RenderOptions {
            cache: Some(crate::render::CallCache::new(
                self.config.call_cache_dir.clone(),
                crate::render::cache::DEFAULT_LIMIT_BYTES,
            )),
            costs: Some(crate::render::CostStore::open(
                self.config.costs_file.clone(),
            )),
            ..Default::default()
        }
    }

    /// Exports the last render in `format` to `dest` by rendering its project again from
    /// the finished calls (none is generated again while they are kept).
    fn start_export(
        &mut self,
        dest: &Path,
        format: crate::media::ExportFormat,
        ctx: &egui::Context,
    ) -> bool {
        if self.render.is_some() {
            self.notice_file = None;
            self.notice = Some("A render is running: export when it has finished.".into());
            return false;
        }
        let Some(project) = self.last_render.as_ref().map(|r| r.project.clone()) else {
            return false;
        };
        self.render_error = None;
        match RenderJob::start(
            project,
            self.project_dir(),
            (
                dest.to_path_buf(),
                crate::media::EncodeOptions {
                    format,
                    ..crate::media::EncodeOptions::default()
                },
            ),
            &self.settings.generator,
            self.render_options(),
            ctx,
        ) {
            Ok(job) => {
                self.exporting = Some((dest.to_path_buf(), format));
                self.progress = Some(Progress::starting());
                self.render = Some(job);
                true
            }
            Err(e) => {
                self.problems.push(e);
                false
            }
        }
    }

    /// Tests each ComfyUI server of the backend settings without GPU time; the report shows
    /// where the pre-flight report does.
    pub fn start_server_test(&mut self, ctx: &egui::Context) {
        let g = &self.settings.generator;
        match jobs::test_servers(g.servers.clone(), g.template.clone(), ctx) {
            Ok(rx) => {
                self.preflight = None;
                self.preflight_loading = Some(rx);
            }
            Err(e) => self.problems.push(e),
        }
    }

    /// Runs the pre-flight checks of the current project in the background.
    pub fn start_preflight(&mut self, ctx: &egui::Context) {
        if let Err(e) = std::fs::create_dir_all(&self.config.render_dir) {
            self.problems.push(UserError::io(
                "creating the render folder",
                &self.config.render_dir,
                &e,
            ));
            return;
        }
        let output = self.config.render_dir.join("preflight-check.mp4");
        match jobs::preflight_check(
            self.doc.project.clone(),
            self.project_dir(),
            output,
            self.settings.generator.clone(),
            ctx,
        ) {
            Ok(rx) => {
                self.preflight = None;
                self.preflight_loading = Some(rx);
            }
            Err(e) => self.problems.push(e),
        }
    }

    /// The last pre-flight report, once it has arrived.
    pub fn preflight_report(&self) -> Option<&crate::generate::PreflightReport> {
        self.preflight.as_ref()
    }

    /// Asks the running render to stop.
    pub fn cancel_render(&mut self) {
        if let Some(job) = &self.render {
            job.cancel.cancel();
        }
    }

    /// The window's title: the project's file name (or "untitled"), a `*` while unsaved.
    pub fn window_title(&self) -> String {
        self.doc.title()
    }

    /// Draws the whole studio into `ui`; called every frame.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let title = self.window_title();
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
        self.poll_jobs(&ctx);
        self.shortcuts(&ctx);
        self.handle_dropped_files(&ctx);

        egui::Panel::top("wayfarer-menu").show(ui, |ui| self.menu_bar(ui));
        egui::Panel::top("wayfarer-settings").show(ui, |ui| self.settings_bar(ui));
        egui::Panel::bottom("wayfarer-status").show(ui, |ui| self.status_bar(ui));
        // The editor's layout: the timeline full width at the bottom (its height dragged at
        // the splitter), the inspector at the right, the player in the middle.
        // At most 60 % of the window: a plan of many calls scrolls instead of pushing the
        // player and the Render panel out of the window.
        let most = (ctx.content_rect().height() * 0.6).max(160.0);
        egui::Panel::bottom("wayfarer-timeline")
            .resizable(true)
            .default_size(250.0_f32.min(most))
            .size_range(140.0..=most)
            .show(ui, |ui| {
                self.timeline_header(ui);
                egui::ScrollArea::vertical()
                    .id_salt("wayfarer-timeline-scroll")
                    .auto_shrink([false, false])
                    .show(ui, |ui| self.timeline(ui));
            });
        egui::Panel::right("wayfarer-side")
            .default_size(340.0)
            .show(ui, |ui| {
                // Render stays in view at any window height; the inspector scrolls above it.
                egui::Panel::bottom("wayfarer-render")
                    .resizable(false)
                    .show(ui, |ui| self.render_panel(ui));
                egui::ScrollArea::vertical()
                    .id_salt("wayfarer-inspector-scroll")
                    .auto_shrink([false, false])
                    .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
                    .show(ui, |ui| {
                        self.inspector(ui);
                        ui.separator();
                        self.structure_panel(ui);
                    });
            });
        egui::CentralPanel::default().show(ui, |ui| self.player_view(ui));
        // Commands the panels sent run before the dialogs are drawn, so a dialog a command
        // opens shows in this frame.
        self.run_commands(&ctx);
        self.confirm_dialog(&ctx);
        self.restore_dialog(&ctx);
        self.file_dialog_frame(&ctx);
        self.run_commands(&ctx);
        self.apply_pending();
        self.autosave();
        if self.render.is_some()
            || self.player.playing
            || self.player.loading.is_some()
            || self.preflight_loading.is_some()
        {
            ctx.request_repaint_after(Duration::from_millis(30));
        }
    }
}

impl eframe::App for StudioApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if ctx.input(|i| i.viewport().close_requested()) && self.is_dirty() && !self.quit_confirmed
        {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm = Some(Command::Quit);
        }
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings);
    }
}

/// An error as the studio shows it: `prefix: message` in `color`, then a line per hint.
fn show_error(ui: &mut egui::Ui, color: Color32, prefix: &str, e: &UserError) {
    ui.colored_label(color, format!("{prefix}: {}", studio_words(&e.message)));
    for hint in &e.suggestions {
        ui.label(format!("hint: {}", studio_hint(hint)));
    }
}

/// Finds out in the background which compute backend renders will use.
fn probe_compute() -> std::sync::Arc<std::sync::Mutex<Option<String>>> {
    let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
    let out = slot.clone();
    let _ = jobs::spawn("wayfarer-compute-probe", move || {
        let name = crate::gpu::Choice::from_env()
            .and_then(crate::gpu::select)
            .map_or_else(|e| format!("unavailable: {}", e.message), |c| c.name());
        if let Ok(mut s) = out.lock() {
            *s = Some(name);
        }
    });
    slot
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
