//! The studio window: menu, timeline with plan and mask strips, inspector, render panel,
//! player. Widgets push [`Edit`]s; the app applies them at the end of the frame.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use egui::{Color32, Key, Modifiers, Pos2, Rect, Role, Sense, Stroke, StrokeKind, Vec2};

use super::jobs::{self, PreviewResult, RenderJob, ThumbLoader};
use super::timemap::TimeMap;
use crate::error::{ErrorCategory, UserError};
use crate::generate;
use crate::plan::{self, FrameClass, Plan};
use crate::project::edit::{Edit, History};
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
        match crate::dirs::project_dirs() {
            Some(d) => Self {
                render_dir: d.cache_dir().join("renders"),
                autosave_dir: d.data_dir().join("autosave"),
                call_cache_dir: d.cache_dir().join("calls"),
                costs_file: d.data_dir().join("costs.json"),
            },
            None => {
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
}

/// Storage key of [`Settings`].
pub const SETTINGS_KEY: &str = "wayfarer.settings";

const KEYFRAME_ROW: f32 = 64.0;
const RULER: f32 = 22.0;
const CALL_ROW: f32 = 18.0;
const MASK_ROW: f32 = 10.0;
const AUTOSAVE_EVERY: Duration = Duration::from_secs(30);

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
}

#[derive(Default)]
struct Player {
    source: Option<PlayerSource>,
    frames: Vec<egui::ColorImage>,
    loading: Option<Receiver<PreviewResult>>,
    texture: Option<egui::TextureHandle>,
    shown: Option<usize>,
    current: usize,
    playing: bool,
    last_tick: Option<f64>,
}

/// State of the live preview.
#[derive(Default)]
struct LiveView {
    texture: Option<egui::TextureHandle>,
    frames_shown: u32,
    total: u32,
    ahead: usize,
    underruns: usize,
    fallbacks: Vec<String>,
    finished: Option<Result<String, UserError>>,
}

/// An action waiting for the unsaved-changes prompt.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    New,
    Open(PathBuf),
    Quit,
}

struct Progress {
    fraction: f32,
    call: usize,
    calls: usize,
    stage: String,
    step: Option<(u32, u32)>,
    eta_secs: Option<f64>,
}

/// The studio application.
pub struct StudioApp {
    /// Recent notes of the running render (servers, failovers, cache hits).
    notes: Vec<String>,
    /// The running live preview, if any.
    live: Option<jobs::LiveJob>,
    /// What the live preview shows.
    live_view: LiveView,
    project: Project,
    path: Option<PathBuf>,
    saved: Project,
    history: History,
    plan: Result<Plan, UserError>,
    time: TimeMap,
    fit_pending: bool,
    selected_span: usize,
    selected_keyframe: Option<usize>,
    drag: Option<(usize, u32)>,
    thumbs: HashMap<PathBuf, Thumb>,
    loader: ThumbLoader,
    render: Option<RenderJob>,
    progress: Option<Progress>,
    last_output: Option<PathBuf>,
    render_error: Option<UserError>,
    player: Player,
    problems: Vec<UserError>,
    pending: Vec<(Edit, Option<String>)>,
    confirm: Option<Pending>,
    settings: Settings,
    config: StudioConfig,
    last_autosave: Instant,
    prompt_buffers: Option<(usize, String, String)>,
    quit_confirmed: bool,
    structure_key: Option<crate::project::StructureVideo>,
    structure_loading: Option<Receiver<crate::error::Result<jobs::StructurePreview>>>,
    structure_preview: Option<(egui::TextureHandle, egui::TextureHandle, String)>,
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
}

impl StudioApp {
    /// A studio on an empty project.
    pub fn new(config: StudioConfig, settings: Settings) -> Self {
        let project = empty_project();
        Self {
            saved: project.clone(),
            plan: plan::plan(&project),
            project,
            path: None,
            history: History::default(),
            time: TimeMap::default(),
            fit_pending: true,
            selected_span: 0,
            selected_keyframe: None,
            drag: None,
            thumbs: HashMap::new(),
            loader: ThumbLoader::default(),
            render: None,
            progress: None,
            last_output: None,
            render_error: None,
            player: Player::default(),
            problems: Vec::new(),
            pending: Vec::new(),
            confirm: None,
            settings,
            config,
            last_autosave: Instant::now(),
            prompt_buffers: None,
            quit_confirmed: false,
            structure_key: None,
            structure_loading: None,
            structure_preview: None,
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
        let mut p = self.project.clone();
        p.structure_video = Some(crate::project::StructureVideo {
            path,
            start_frame: 0,
            end_frame: None,
            treatment: Default::default(),
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
        self.structure_preview.is_some()
    }

    /// The project being edited.
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// The plan of the project, or why it cannot be planned.
    pub fn plan(&self) -> &Result<Plan, UserError> {
        &self.plan
    }

    /// Problems shown to the user (errors with suggestions), newest last.
    pub fn problems(&self) -> &[UserError] {
        &self.problems
    }

    /// The project file, if saved or opened.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether there are unsaved changes.
    pub fn is_dirty(&self) -> bool {
        self.project != self.saved
    }

    /// The timeline's time <-> pixel mapping.
    pub fn time_map(&self) -> TimeMap {
        self.time
    }

    /// Fits the whole timeline into view on the next frame.
    pub fn fit_timeline(&mut self) {
        self.fit_pending = true;
    }

    /// Frames loaded in the player.
    pub fn player_frames(&self) -> usize {
        self.player.frames.len()
    }

    /// Whether thumbnails of every keyframe have arrived (or failed).
    pub fn thumbnails_settled(&self) -> bool {
        self.project.keyframes.iter().all(|k| {
            matches!(
                self.thumbs.get(&k.image),
                Some(Thumb::Ready(_) | Thumb::Failed(_))
            )
        })
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

    /// Whether a render is running.
    pub fn is_rendering(&self) -> bool {
        self.render.is_some()
    }

    /// Queues an edit (applied at the end of the frame).
    pub fn push_edit(&mut self, edit: Edit) {
        self.pending.push((edit, None));
    }

    /// Opens a project file, replacing the current one (no unsaved-changes prompt).
    pub fn open(&mut self, path: &Path) {
        match file::load(path) {
            Ok(mut project) => {
                let dir = file::project_dir(path);
                for k in &mut project.keyframes {
                    if k.image.is_relative() {
                        k.image = dir.join(&k.image);
                    }
                }
                if let Some(sv) = &mut project.structure_video
                    && sv.path.is_relative()
                {
                    sv.path = dir.join(&sv.path);
                }
                self.project = project.clone();
                self.saved = project;
                self.path = Some(path.to_path_buf());
                self.history = History::default();
                self.fit_pending = true;
                self.selected_span = 0;
                self.selected_keyframe = None;
                self.remember_recent(path);
                self.replan();
                self.restore_offer = newer_autosave(&self.config, path, &self.project);
            }
            Err(e) => self.problems.push(e),
        }
    }

    /// Whether an autosave newer than the opened project is offered for restoring.
    pub fn has_restore_offer(&self) -> bool {
        self.restore_offer.is_some()
    }

    /// Saves to `path` (image paths inside its folder are written relative to it).
    pub fn save_as(&mut self, path: &Path) -> bool {
        let dir = file::project_dir(path);
        let dir = dir.canonicalize().unwrap_or(dir);
        let mut doc = self.project.clone();
        let relative = |p: &mut PathBuf| {
            let absolute = p.canonicalize().unwrap_or_else(|_| p.clone());
            if let Ok(rel) = absolute.strip_prefix(&dir) {
                *p = rel.to_path_buf();
            }
        };
        for k in &mut doc.keyframes {
            relative(&mut k.image);
        }
        if let Some(sv) = &mut doc.structure_video {
            relative(&mut sv.path);
        }
        match file::save(&doc, path) {
            Ok(()) => {
                self.saved = self.project.clone();
                self.path = Some(path.to_path_buf());
                self.remember_recent(path);
                let _ = std::fs::remove_file(autosave_path(&self.config, Some(path)));
                true
            }
            Err(e) => {
                self.problems.push(e);
                false
            }
        }
    }

    fn remember_recent(&mut self, path: &Path) {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.settings.recent.retain(|p| p != &path);
        self.settings.recent.insert(0, path);
        self.settings.recent.truncate(10);
    }

    fn replan(&mut self) {
        self.plan = plan::plan_with_costs(&self.project, self.costs.as_ref());
    }

    fn project_dir(&self) -> PathBuf {
        self.path
            .as_deref()
            .map(file::project_dir)
            .unwrap_or_else(|| PathBuf::from("."))
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
            .path
            .as_deref()
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "untitled".into());
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let output = self.config.render_dir.join(format!("{stem}-{stamp}.mp4"));
        match RenderJob::start(
            self.project.clone(),
            self.project_dir(),
            output,
            &self.settings.generator,
            crate::render::RenderOptions {
                cache: Some(crate::render::CallCache::new(
                    self.config.call_cache_dir.clone(),
                    crate::render::cache::DEFAULT_LIMIT_BYTES,
                )),
                costs: Some(crate::render::CostStore::open(
                    self.config.costs_file.clone(),
                )),
                ..Default::default()
            },
            ctx,
        ) {
            Ok(job) => {
                self.retries.clear();
                self.notes.clear();
                self.progress = Some(Progress {
                    fraction: 0.0,
                    call: 0,
                    calls: 0,
                    stage: "starting".into(),
                    step: None,
                    eta_secs: None,
                });
                self.render = Some(job);
            }
            Err(e) => self.render_error = Some(e),
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
        let _ = std::fs::create_dir_all(&self.config.render_dir);
        let output = self.config.render_dir.join("preflight-check.mp4");
        match jobs::preflight_check(
            self.project.clone(),
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

    /// Starts streaming the project into the live preview.
    pub fn start_live(&mut self, ctx: &egui::Context) {
        if self.live.is_some() {
            return;
        }
        self.live_view = LiveView::default();
        match jobs::LiveJob::start(
            self.project.clone(),
            self.project_dir(),
            &self.settings.generator,
            ctx,
        ) {
            Ok(job) => self.live = Some(job),
            Err(e) => self.live_view.finished = Some(Err(e)),
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

    fn poll_live(&mut self, ctx: &egui::Context) {
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

    fn live_panel(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    self.plan.is_ok() && self.live.is_none(),
                    egui::Button::new("Live preview"),
                )
                .on_hover_text(
                    "Stream the project: keyframes generated in the background, the frames between them interpolated and shown as they are made",
                )
                .clicked()
            {
                self.start_live(&ctx);
            }
            if ui
                .add_enabled(self.live.is_some(), egui::Button::new("Stop live"))
                .clicked()
                && let Some(job) = &self.live
            {
                job.cancel.cancel();
            }
        });
        let v = &self.live_view;
        if self.live.is_some() || v.texture.is_some() {
            ui.label(format!(
                "Live: frame {} / {} · {} keyframe(s) ahead · {} underrun(s)",
                v.frames_shown,
                v.total.max(v.frames_shown),
                v.ahead,
                v.underruns
            ));
        }
        if let Some(t) = &v.texture {
            let size = t.size_vec2();
            let scale = (ui.available_width() / size.x).min(1.0);
            ui.image((t.id(), size * scale));
        }
        for f in &v.fallbacks {
            ui.colored_label(Color32::YELLOW, format!("fallback: {f}"));
        }
        match &v.finished {
            Some(Ok(text)) => {
                ui.label(format!("Live preview finished: {text}"));
            }
            Some(Err(e)) => {
                ui.colored_label(Color32::LIGHT_RED, format!("Live preview: {}", e.message));
                for h in &e.suggestions {
                    ui.label(format!("hint: {h}"));
                }
            }
            None => {}
        }
    }

    /// Asks the running render to stop.
    pub fn cancel_render(&mut self) {
        if let Some(job) = &self.render {
            job.cancel.cancel();
        }
    }

    /// Looks up the cost law of the chosen backend when the backend settings changed (or a
    /// render finished), and plans with it once it is known.
    fn poll_costs(&mut self, ctx: &egui::Context) {
        if let Some(rx) = &self.costs_loading
            && let Ok((config, model)) = rx.try_recv()
        {
            self.costs_loading = None;
            self.costs_for = Some(config);
            if model != self.costs {
                self.costs = model;
                self.replan();
            }
        }
        if self.costs_loading.is_none() && self.costs_for.as_ref() != Some(&self.settings.generator)
        {
            match jobs::cost_lookup(
                self.settings.generator.clone(),
                self.config.costs_file.clone(),
                ctx,
            ) {
                Ok(rx) => self.costs_loading = Some(rx),
                Err(e) => {
                    self.costs_for = Some(self.settings.generator.clone());
                    self.problems.push(e);
                }
            }
        }
    }

    fn poll_jobs(&mut self, ctx: &egui::Context) {
        self.poll_live(ctx);
        self.poll_costs(ctx);
        if let Some(rx) = &self.preflight_loading
            && let Ok(report) = rx.try_recv()
        {
            self.preflight_loading = None;
            self.preflight = Some(report);
        }
        while let Ok((path, result)) = self.loader.rx.try_recv() {
            let thumb = match result {
                Ok(image) => Thumb::Ready(ctx.load_texture(
                    format!("thumb {}", path.display()),
                    image,
                    egui::TextureOptions::LINEAR,
                )),
                Err(e) => {
                    self.problems.push(e.clone());
                    Thumb::Failed(e)
                }
            };
            self.thumbs.insert(path, thumb);
        }
        if let Some(job) = &mut self.render {
            while let Ok(event) = job.events.try_recv() {
                if let (
                    Some(p),
                    RenderEvent::Progress {
                        stage,
                        call,
                        calls,
                        fraction,
                        step,
                        eta_secs,
                    },
                ) = (&mut self.progress, &event)
                {
                    p.fraction = *fraction;
                    p.call = *call;
                    p.calls = *calls;
                    p.stage = stage.clone();
                    p.step = *step;
                    if eta_secs.is_some() {
                        p.eta_secs = *eta_secs;
                    }
                }
                if let RenderEvent::Note { call, message } = &event {
                    self.notes.push(format!("call {}: {message}", call + 1));
                    if self.notes.len() > 8 {
                        self.notes.remove(0);
                    }
                }
                if let RenderEvent::Start { calls, device, .. } = &event {
                    if let Some(p) = &mut self.progress {
                        p.calls = *calls;
                    }
                    self.notes.push(format!("generating on {device}"));
                }
                if let RenderEvent::Retry {
                    call,
                    attempt,
                    error,
                    change,
                    ..
                } = &event
                {
                    self.retries.push(format!(
                        "call {} attempt {attempt}: {error}; {change}",
                        call + 1
                    ));
                }
            }
            if let Some(result) = job.try_finish() {
                let output = job.output.clone();
                self.render = None;
                // The render timed its calls: the cost law may have changed.
                self.refresh_cost_law();
                self.progress = None;
                match result {
                    Ok(_) => {
                        self.last_output = Some(output);
                        self.show_in_player(PlayerSource::Output, ctx);
                    }
                    Err(e) => {
                        if e.category != ErrorCategory::Cancelled {
                            self.render_error = Some(e);
                        } else {
                            self.render_error = Some(
                                UserError::cancelled()
                                    .hint("nothing was written; render again when ready"),
                            );
                        }
                    }
                }
            }
        }
        if let Some(rx) = &self.player.loading
            && let Ok(result) = rx.try_recv()
        {
            self.player.loading = None;
            match result {
                Ok(frames) => {
                    self.player.frames = frames;
                    self.player.current = 0;
                    self.player.shown = None;
                }
                Err(e) => self.problems.push(e),
            }
        }
    }

    /// Loads `source` into the player.
    pub fn show_in_player(&mut self, source: PlayerSource, ctx: &egui::Context) {
        let rx = match source {
            PlayerSource::Output => match &self.last_output {
                Some(path) => jobs::decode_preview(path, ctx),
                None => return,
            },
            PlayerSource::Guide(i) | PlayerSource::Mask(i) => jobs::guide_preview(
                self.project.clone(),
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
                self.player = Player {
                    source: Some(source),
                    loading: Some(rx),
                    ..Player::default()
                };
            }
            Err(e) => self.problems.push(e),
        }
    }

    fn apply_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let mut changed = false;
        for (edit, coalesce) in pending {
            changed |= self
                .history
                .apply(&mut self.project, &edit, coalesce.as_deref());
        }
        if changed {
            self.after_change();
        }
    }

    fn after_change(&mut self) {
        self.replan();
        let spans = self.project.span_count().max(1);
        self.selected_span = self.selected_span.min(spans - 1);
        if self
            .selected_keyframe
            .is_some_and(|k| k >= self.project.keyframes.len())
        {
            self.selected_keyframe = None;
        }
        self.prompt_buffers = None;
    }

    /// Undoes the last edit.
    pub fn undo(&mut self) {
        if self.history.undo(&mut self.project) {
            self.after_change();
        }
    }

    /// Redoes the last undone edit.
    pub fn redo(&mut self) {
        if self.history.redo(&mut self.project) {
            self.after_change();
        }
    }

    fn autosave(&mut self) {
        if !self.is_dirty() || self.last_autosave.elapsed() < AUTOSAVE_EVERY {
            return;
        }
        self.last_autosave = Instant::now();
        let target = autosave_path(&self.config, self.path.as_deref());
        if let Some(dir) = target.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match self.project.to_json_string() {
            Ok(text) => {
                if let Err(e) = file::write_atomic(&target, text.as_bytes()) {
                    self.problems.push(e);
                }
            }
            Err(e) => self.problems.push(e),
        }
    }

    fn request(&mut self, action: Pending, ctx: &egui::Context) {
        if self.is_dirty() {
            self.confirm = Some(action);
        } else {
            self.perform(action, ctx);
        }
    }

    fn perform(&mut self, action: Pending, ctx: &egui::Context) {
        match action {
            Pending::New => {
                let config = self.config.clone();
                let settings = self.settings.clone();
                *self = Self::new(config, settings);
            }
            Pending::Open(path) => self.open(&path),
            Pending::Quit => {
                self.quit_confirmed = true;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
    }

    fn save(&mut self) -> bool {
        match self.path.clone() {
            Some(p) => self.save_as(&p),
            None => self.save_as_dialog(),
        }
    }

    fn save_as_dialog(&mut self) -> bool {
        match rfd::FileDialog::new()
            .add_filter("Wayfarer project", &["json"])
            .set_file_name("project.json")
            .save_file()
        {
            Some(p) => self.save_as(&p),
            None => false,
        }
    }

    fn add_images_dialog(&mut self, at_frame: u32) {
        if let Some(images) = rfd::FileDialog::new()
            .add_filter(
                "Images",
                &["png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp"],
            )
            .pick_files()
        {
            self.push_edit(Edit::AddKeyframes { images, at_frame });
        }
    }

    fn export_dialog(&mut self) {
        let Some(src) = self.last_output.clone() else {
            return;
        };
        if let Some(dest) = rfd::FileDialog::new()
            .add_filter("MP4 video", &["mp4"])
            .set_file_name("travel.mp4")
            .save_file()
            && let Err(e) = crate::render::refuse_input_as_output(
                &dest,
                &self.project,
                &self.project_dir(),
                self.path.as_deref(),
            )
            .and_then(|()| export(&src, &dest))
        {
            self.problems.push(e);
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        let cmd = Modifiers::COMMAND;
        let shift_cmd = Modifiers::COMMAND | Modifiers::SHIFT;
        // Read outside input_mut: the context is locked inside it.
        let typing = ctx.egui_wants_keyboard_input();
        let (redo, undo, save, open, delete, space) = ctx.input_mut(|i| {
            (
                i.consume_key(shift_cmd, Key::Z) || i.consume_key(cmd, Key::Y),
                i.consume_key(cmd, Key::Z),
                i.consume_key(cmd, Key::S),
                i.consume_key(cmd, Key::O),
                !typing && i.key_pressed(Key::Delete),
                !typing && i.key_pressed(Key::Space),
            )
        });
        if redo {
            self.redo();
        } else if undo {
            self.undo();
        }
        if save {
            self.save();
        }
        if open && let Some(p) = pick_project() {
            self.request(Pending::Open(p), ctx);
        }
        if delete && let Some(k) = self.selected_keyframe {
            self.push_edit(Edit::DeleteKeyframe { index: k });
        }
        if space && !self.player.frames.is_empty() {
            self.player.playing = !self.player.playing;
        }
    }

    /// Draws the whole studio into `ui`; called every frame.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.poll_jobs(&ctx);
        self.shortcuts(&ctx);
        self.handle_dropped_files(&ctx);

        egui::Panel::top("wayfarer-menu").show(ui, |ui| self.menu_bar(ui));
        egui::Panel::top("wayfarer-settings").show(ui, |ui| self.settings_bar(ui));
        egui::Panel::bottom("wayfarer-status").show(ui, |ui| self.status_bar(ui));
        egui::Panel::right("wayfarer-side")
            .default_size(340.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.inspector(ui);
                    ui.separator();
                    self.structure_panel(ui);
                    ui.separator();
                    self.render_panel(ui);
                });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            self.timeline(ui);
            ui.separator();
            self.player_view(ui);
        });
        self.confirm_dialog(&ctx);
        self.restore_dialog(&ctx);
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

    fn menu_bar(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New").clicked() {
                    self.request(Pending::New, &ctx);
                }
                if ui.button("Open…").clicked()
                    && let Some(p) = pick_project()
                {
                    self.request(Pending::Open(p), &ctx);
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
                if ui.button("Save").clicked() {
                    self.save();
                }
                if ui.button("Save As…").clicked() {
                    self.save_as_dialog();
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
                if ui.button("Add images…").clicked() {
                    let at = self.project.keyframes.last().map_or(0, |k| k.frame + 32);
                    self.add_images_dialog(at);
                }
            });
        });
    }

    fn settings_bar(&mut self, ui: &mut egui::Ui) {
        let mut p = self.project.clone();
        ui.horizontal_wrapped(|ui| {
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
            labelled_drag(
                ui,
                "Transition frames",
                &mut p.mask.transition_frames,
                0..=8,
                1.0,
            );
        });
        if p != self.project {
            self.pending
                .push((Edit::Replace(Box::new(p)), Some("settings".into())));
        }
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let name = self
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "untitled".into());
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
            if !self.problems.is_empty() && ui.button("Clear problems").clicked() {
                self.problems.clear();
            }
        });
        for e in self.problems.iter().rev().take(3) {
            ui.colored_label(
                Color32::from_rgb(230, 90, 80),
                format!("error: {}", e.message),
            );
            for s in &e.suggestions {
                ui.label(format!("hint: {s}"));
            }
        }
    }

    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
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
        let at_frame = pos
            .map(|p| self.time.x_to_whole_frame(f64::from(p.x)))
            .unwrap_or_else(|| self.project.keyframes.last().map_or(0, |k| k.frame + 32));
        self.push_edit(Edit::AddKeyframes {
            images: dropped,
            at_frame,
        });
    }

    fn thumb(&mut self, path: &Path, ctx: &egui::Context) -> Thumb {
        if let Some(t) = self.thumbs.get(path) {
            return t.clone();
        }
        self.thumbs.insert(path.to_path_buf(), Thumb::Loading);
        self.loader.request(path.to_path_buf(), ctx);
        Thumb::Loading
    }

    fn timeline(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let plan = self.plan.as_ref().ok().cloned();
        let rows = plan.as_ref().map_or(0, call_rows);
        let height = RULER + KEYFRAME_ROW + 8.0 + rows as f32 * (CALL_ROW + MASK_ROW + 4.0) + 24.0;
        let (rect, response) = ui.allocate_exact_size(
            Vec2::new(ui.available_width(), height),
            Sense::click_and_drag(),
        );
        response.widget_info(|| egui::WidgetInfo::labeled(Role::Canvas, true, "Timeline"));
        self.time.left_px = f64::from(rect.left());
        if self.fit_pending {
            let last = self.project.keyframes.last().map_or(64, |k| k.frame);
            self.time.fit(last, f64::from(rect.width()));
            self.fit_pending = false;
        }
        // Zoom (Ctrl+scroll) and pan (scroll or drag on empty space).
        if response.hovered() {
            let (scroll, zoom, hover) =
                ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta(), i.pointer.hover_pos()));
            if let Some(hp) = hover {
                if zoom != 1.0 {
                    self.time.zoom_at(f64::from(hp.x), f64::from(zoom));
                }
                let dx = if scroll.x != 0.0 { scroll.x } else { scroll.y };
                if dx != 0.0 && zoom == 1.0 {
                    self.time.pan_px(f64::from(dx));
                }
            }
        }
        if response.dragged() && self.drag.is_none() {
            self.time.pan_px(f64::from(response.drag_delta().x));
        }
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
        // Ruler: frames and seconds.
        let fps = self.project.fps.max(1);
        let step = self.time.tick_step(60.0);
        let first = self.time.x_to_frame(f64::from(rect.left())).max(0.0) as u32 / step * step;
        let mut f = first;
        while self.time.frame_to_x(f64::from(f)) < f64::from(rect.right()) {
            let x = self.time.frame_to_x(f64::from(f)) as f32;
            painter.line_segment(
                [Pos2::new(x, rect.top()), Pos2::new(x, rect.top() + 6.0)],
                Stroke::new(1.0, Color32::GRAY),
            );
            painter.text(
                Pos2::new(x + 2.0, rect.top() + 4.0),
                egui::Align2::LEFT_TOP,
                format!("{f} · {:.1}s", f64::from(f) / f64::from(fps)),
                egui::FontId::proportional(10.0),
                Color32::GRAY,
            );
            f += step;
        }
        let time = self.time;
        let frame_x = move |f: u32| time.frame_to_x(f64::from(f)) as f32;
        // Spans: click to select (inspector shows their parameters).
        let key_top = rect.top() + RULER;
        let keys: Vec<(usize, u32, PathBuf)> = self
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
                "Span {span}{}",
                if mergeable {
                    " (identical to the next)"
                } else {
                    ""
                }
            );
            resp.widget_info(|| egui::WidgetInfo::labeled(Role::Button, true, &label));
            let selected = span == self.selected_span;
            let color = if selected {
                Color32::from_rgb(90, 140, 220)
            } else {
                Color32::from_gray(70)
            };
            painter.rect_filled(r, 2.0, color);
            if mergeable {
                painter.text(
                    Pos2::new(r.right() - 2.0, r.center().y),
                    egui::Align2::RIGHT_CENTER,
                    "=",
                    egui::FontId::monospace(10.0),
                    Color32::WHITE,
                );
            }
            if resp.clicked() {
                self.selected_span = span;
                self.prompt_buffers = None;
            }
        }
        // Keyframes: thumbnails, drag to move with snapping.
        for (i, frame, image) in keys {
            let shown = match self.drag {
                Some((d, snapped)) if d == i => snapped,
                _ => frame,
            };
            let x = frame_x(shown);
            let thumb_rect =
                Rect::from_center_size(Pos2::new(x, key_top + 26.0), Vec2::new(72.0, 40.0));
            let id = ui.scope_id().with(("keyframe", i));
            let resp = ui.interact(thumb_rect, id, Sense::click_and_drag());
            let label = format!("Keyframe {i} at frame {frame}");
            resp.widget_info(|| egui::WidgetInfo::labeled(Role::Button, true, &label));
            match self.thumb(&image, &ctx) {
                Thumb::Ready(tex) => {
                    painter.image(
                        tex.id(),
                        thumb_rect,
                        Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                        Color32::WHITE,
                    );
                }
                Thumb::Loading => {
                    painter.rect_filled(thumb_rect, 2.0, Color32::from_gray(50));
                }
                Thumb::Failed(e) => {
                    painter.rect_filled(thumb_rect, 2.0, Color32::from_rgb(120, 30, 30));
                    painter.text(
                        thumb_rect.center(),
                        egui::Align2::CENTER_CENTER,
                        "!",
                        egui::FontId::proportional(18.0),
                        Color32::WHITE,
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
                Stroke::new(if selected { 2.0 } else { 1.0 }, Color32::WHITE),
                StrokeKind::Outside,
            );
            painter.line_segment(
                [
                    Pos2::new(x, thumb_rect.bottom()),
                    Pos2::new(x, key_top + KEYFRAME_ROW),
                ],
                Stroke::new(1.0, Color32::WHITE),
            );
            if resp.clicked() {
                self.selected_keyframe = Some(i);
                self.selected_span = i.min(self.project.span_count().saturating_sub(1));
                self.prompt_buffers = None;
            }
            let count = self.project.keyframes.len();
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
                if ui.button("Delete keyframe").clicked() {
                    self.pending.push((Edit::DeleteKeyframe { index: i }, None));
                    ui.close();
                }
            });
            if resp.dragged()
                && i > 0
                && let Some(p) = resp.interact_pointer_pos()
            {
                let wanted = self.time.x_to_whole_frame(f64::from(p.x));
                self.drag = Some((i, snapped_position(&self.project, i, wanted)));
            }
            if resp.drag_stopped()
                && let Some((d, snapped)) = self.drag.take()
                && d == i
            {
                self.push_edit(Edit::MoveKeyframe {
                    index: i,
                    frame: snapped,
                });
            }
            if let Some((d, snapped)) = self.drag
                && d == i
            {
                painter.text(
                    Pos2::new(x, thumb_rect.top() - 2.0),
                    egui::Align2::CENTER_BOTTOM,
                    format!("snaps to {snapped}"),
                    egui::FontId::proportional(11.0),
                    Color32::YELLOW,
                );
            }
        }
        // Plan view: calls as bars, context regions, snapped keyframes, mask strips.
        let Some(plan) = plan else {
            if let Err(e) = &self.plan {
                painter.text(
                    Pos2::new(rect.left() + 8.0, key_top + KEYFRAME_ROW + 12.0),
                    egui::Align2::LEFT_TOP,
                    format!("no plan: {}", e.message),
                    egui::FontId::proportional(12.0),
                    Color32::LIGHT_RED,
                );
            }
            return;
        };
        let plan_top = key_top + KEYFRAME_ROW + 8.0;
        for snap in &plan.snaps {
            let x = frame_x(snap.to);
            painter.circle_filled(
                Pos2::new(x, key_top + KEYFRAME_ROW - 6.0),
                4.0,
                Color32::ORANGE,
            );
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
                Pos2::new(frame_x(c.start), top),
                Pos2::new(frame_x(c.end) + 1.0, top + CALL_ROW),
            );
            let color = if c.is_merged() {
                Color32::from_rgb(70, 150, 90)
            } else {
                Color32::from_rgb(70, 100, 160)
            };
            painter.rect_filled(bar, 3.0, color);
            if c.lead_frames > 0 && c.lead == plan::Lead::Context {
                let ctx_rect = Rect::from_min_max(
                    bar.min,
                    Pos2::new(frame_x(c.start + c.lead_frames), bar.bottom()),
                );
                painter.rect_filled(ctx_rect, 3.0, Color32::from_rgba_unmultiplied(0, 0, 0, 110));
            }
            let spans = if c.is_merged() {
                format!("spans {}–{} (merged)", c.first_span, c.last_span)
            } else {
                format!("span {}", c.first_span)
            };
            let label = format!(
                "Call {}: {spans}, frames {} to {}",
                c.index + 1,
                c.start,
                c.end
            );
            painter.text(
                bar.left_center() + Vec2::new(4.0, 0.0),
                egui::Align2::LEFT_CENTER,
                format!("call {} · {} frames", c.index + 1, c.len()),
                egui::FontId::proportional(11.0),
                Color32::WHITE,
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
            let resp = resp.on_hover_text(format!(
                "{label}\nlead: {:?} x{}\nanchors: {:?}{predicted}",
                c.lead,
                c.lead_frames,
                c.anchors.iter().map(|a| a.keyframe).collect::<Vec<_>>()
            ));
            if resp.clicked() {
                self.show_in_player(PlayerSource::Guide(c.index), &ctx);
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
                    Pos2::new(frame_x(f), strip_top),
                    Pos2::new(frame_x(f + 1).max(frame_x(f) + 1.0), strip_top + MASK_ROW),
                );
                painter.rect_filled(cell, 0.0, class_color(*class));
            }
            let resp = ui.interact(strip, ui.scope_id().with(("mask", c.index)), Sense::click());
            let label = format!("Mask of call {}", c.index + 1);
            resp.widget_info(|| egui::WidgetInfo::labeled(Role::Image, true, &label));
            if let Some(hp) = resp.hover_pos() {
                let f = self.time.x_to_whole_frame(f64::from(hp.x));
                if let Some(o) = f.checked_sub(c.start).map(|o| o as usize)
                    && o < classes.len()
                {
                    resp.clone().on_hover_text(format!(
                        "frame {f} (call frame {o}): {:?}, mask {:.2}",
                        classes[o], mask[o]
                    ));
                }
            }
            if resp.clicked() {
                self.show_in_player(PlayerSource::Mask(c.index), &ctx);
            }
        }
        let summary = format!(
            "{} calls ({} unmerged) · est. {:.0} s ({:.2}x) · blast radius {} frames · {} frames total",
            plan.calls.len(),
            plan.cost.unmerged_calls,
            plan.cost.secs,
            plan.cost.speedup,
            plan.blast_radius_frames,
            plan.total_frames
        );
        painter.text(
            Pos2::new(rect.left() + 6.0, rect.bottom() - 4.0),
            egui::Align2::LEFT_BOTTOM,
            &summary,
            egui::FontId::proportional(11.0),
            Color32::LIGHT_GRAY,
        );
        // Playhead.
        if !self.player.frames.is_empty() && self.player.source == Some(PlayerSource::Output) {
            let x = frame_x(self.player.current as u32);
            painter.line_segment(
                [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
                Stroke::new(1.5, Color32::RED),
            );
        }
    }

    fn inspector(&mut self, ui: &mut egui::Ui) {
        ui.heading("Segment");
        let spans = self.project.span_count();
        if spans == 0 {
            ui.label(
                "Add at least two keyframes (drop images on the timeline or Edit -> Add images…).",
            );
            return;
        }
        let span = self.selected_span.min(spans - 1);
        ui.label(format!(
            "Span {span}: keyframe {span} -> {} (frames {} to {})",
            span + 1,
            self.project.keyframes[span].frame,
            self.project.keyframes[span + 1].frame
        ));
        if let Ok(plan) = &self.plan
            && let Some(b) = plan.boundaries.get(span)
        {
            if b.differing_fields.is_empty() {
                ui.colored_label(
                    Color32::LIGHT_GREEN,
                    "identical to the next span (mergeable)",
                );
            } else {
                ui.label(format!(
                    "differs from the next: {}",
                    b.differing_fields.join(", ")
                ));
            }
        }
        let segment = self.project.segment_for_span(span).clone();
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
            self.history.break_coalescing();
        }
        let mut edited = segment.clone();
        edited.prompt = prompt.clone();
        edited.negative_prompt = negative.clone();
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

    fn structure_panel(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ui.heading("Structure video");
        let mut p = self.project.clone();
        match &mut p.structure_video {
            None => {
                ui.label("None: generated frames follow the anchors only.");
                if ui.button("Choose video…").clicked()
                    && let Some(path) = rfd::FileDialog::new()
                        .add_filter("Video", &["mp4", "mkv", "mov", "webm", "avi"])
                        .pick_file()
                {
                    self.set_structure_video(path);
                }
            }
            Some(sv) => {
                ui.label(sv.path.display().to_string());
                let mut remove = false;
                ui.horizontal(|ui| {
                    if ui.button("Change…").clicked()
                        && let Some(path) = rfd::FileDialog::new().pick_file()
                    {
                        sv.path = path;
                    }
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
        if p != self.project {
            self.pending
                .push((Edit::Replace(Box::new(p)), Some("structure".into())));
        }
        // Previews follow the settings.
        if self.project.structure_video != self.structure_key {
            self.structure_key = self.project.structure_video.clone();
            self.structure_preview = None;
            self.structure_loading = match &self.structure_key {
                Some(sv) => match jobs::structure_preview(
                    sv.clone(),
                    self.project_dir(),
                    self.project.width,
                    self.project.height,
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
    fn backend_settings(&mut self, ui: &mut egui::Ui) {
        let mut test_servers = false;
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
                    if ui.button("Choose template…").clicked()
                        && let Some(path) = rfd::FileDialog::new()
                            .add_filter("ComfyUI API workflow", &["json"])
                            .pick_file()
                    {
                        g.template = Some(path);
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
                    if ui.button("Choose model…").clicked()
                        && let Some(path) = rfd::FileDialog::new()
                            .add_filter("Model manifest", &["toml"])
                            .pick_file()
                    {
                        g.model = Some(path);
                    }
                });
            }
            _ => {}
        }
        if test_servers {
            self.start_server_test(ui.ctx());
        }
    }

    fn render_panel(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ui.heading("Render");
        self.backend_settings(ui);
        let can_render = self.plan.is_ok() && self.render.is_none();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(can_render, egui::Button::new("Render"))
                .clicked()
            {
                self.start_render(&ctx);
            }
            if ui
                .add_enabled(self.render.is_some(), egui::Button::new("Cancel"))
                .clicked()
            {
                self.cancel_render();
            }
            if ui
                .add_enabled(self.preflight_loading.is_none(), egui::Button::new("Check"))
                .on_hover_text("Pre-flight: check inputs, backend and disk before rendering")
                .clicked()
            {
                self.start_preflight(&ctx);
            }
            if ui
                .add_enabled(self.last_output.is_some(), egui::Button::new("Export MP4…"))
                .clicked()
            {
                self.export_dialog();
            }
        });
        if let Err(e) = &self.plan {
            ui.colored_label(Color32::LIGHT_RED, format!("cannot render: {}", e.message));
            for s in &e.suggestions {
                ui.label(format!("hint: {s}"));
            }
        }
        if let (Some(p), Some(_job)) = (&self.progress, &self.render) {
            let eta = match p.eta_secs {
                Some(s) => format!("{s:.0} s left"),
                None => "estimating…".into(),
            };
            let step = p
                .step
                .map(|(v, m)| format!(" · step {v}/{m}"))
                .unwrap_or_default();
            ui.add(egui::ProgressBar::new(p.fraction).text(format!(
                "{} {}/{}{step} · {eta}",
                p.stage,
                p.call + 1,
                p.calls.max(1)
            )));
            ui.label(format!(
                "Rendering call {} of {}",
                p.call + 1,
                p.calls.max(1)
            ));
        }
        if let Some(e) = &self.render_error {
            let color = if e.category == ErrorCategory::Cancelled {
                Color32::YELLOW
            } else {
                Color32::LIGHT_RED
            };
            ui.colored_label(color, format!("Render: {}", e.message));
            for s in &e.suggestions {
                ui.label(format!("hint: {s}"));
            }
        }
        if self.preflight_loading.is_some() {
            ui.add(egui::Spinner::new());
        }
        if let Some(report) = &self.preflight {
            for item in &report.items {
                if item.passed && item.warning {
                    ui.colored_label(
                        Color32::YELLOW,
                        format!("warning {}: {}", item.name, item.detail),
                    );
                    if let Some(s) = &item.suggestion {
                        ui.label(format!("hint: {s}"));
                    }
                } else if item.passed {
                    ui.label(format!("ok {}: {}", item.name, item.detail));
                } else {
                    ui.colored_label(
                        Color32::LIGHT_RED,
                        format!("FAIL {}: {}", item.name, item.detail),
                    );
                    if let Some(s) = &item.suggestion {
                        ui.label(format!("hint: {s}"));
                    }
                }
            }
        }
        for r in &self.retries {
            ui.colored_label(Color32::YELLOW, format!("retry: {r}"));
        }
        for n in &self.notes {
            ui.weak(n.as_str());
        }
        ui.separator();
        self.live_panel(ui);
        if let Some(out) = &self.last_output {
            ui.label(format!("Last render: {}", out.display()));
        }
    }

    fn player_view(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ui.horizontal(|ui| {
            ui.heading("Player");
            if ui
                .add_enabled(self.last_output.is_some(), egui::Button::new("Output"))
                .clicked()
            {
                self.show_in_player(PlayerSource::Output, &ctx);
            }
            if let Some(source) = self.player.source {
                ui.label(match source {
                    PlayerSource::Output => "showing the render".to_string(),
                    PlayerSource::Guide(i) => format!("showing the guide of call {}", i + 1),
                    PlayerSource::Mask(i) => format!("showing the mask of call {}", i + 1),
                });
            }
        });
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
            let fps = f64::from(self.project.fps.max(1));
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
            ui.label(format!("frame {} / {}", self.player.current, n));
        });
        if let Some(t) = &self.player.texture {
            let avail = ui.available_size();
            let size = t.size_vec2();
            let scale = (avail.x / size.x).min(avail.y.max(120.0) / size.y).min(2.0);
            ui.image((t.id(), size * scale));
        }
    }

    fn restore_dialog(&mut self, ctx: &egui::Context) {
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
                let _ = std::fs::remove_file(autosave_path(&self.config, self.path.as_deref()));
            }
            None => {}
        }
    }

    fn confirm_dialog(&mut self, ctx: &egui::Context) {
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
                if self.save() {
                    self.perform(action, ctx);
                }
            }
            Some(1) => {
                self.confirm = None;
                self.saved = self.project.clone();
                self.perform(action, ctx);
            }
            Some(_) => self.confirm = None,
            None => {}
        }
    }
}

impl eframe::App for StudioApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        if ctx.input(|i| i.viewport().close_requested()) && self.is_dirty() && !self.quit_confirmed
        {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm = Some(Pending::Quit);
        }
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings);
    }
}

fn empty_project() -> Project {
    Project {
        version: crate::project::CURRENT_VERSION,
        fps: 16,
        width: 832,
        height: 480,
        model: "wan2.1-vace-14b".into(),
        mode: Mode::Chained,
        overlap: 8,
        seed: 789,
        keyframes: Vec::new(),
        segments: vec![Default::default()],
        merge: Default::default(),
        mask: Default::default(),
        profile: None,
        structure_video: None,
        length: None,
    }
}

fn pick_project() -> Option<PathBuf> {
    rfd::FileDialog::new()
        .add_filter("Wayfarer project", &["json"])
        .pick_file()
}

/// Where the autosave of a project lives: `PROJECT.json.autosave` beside a saved project,
/// or in the autosave folder for an untitled one.
pub fn autosave_path(config: &StudioConfig, project: Option<&Path>) -> PathBuf {
    match project {
        Some(p) => {
            let mut name = p.file_name().map(|n| n.to_os_string()).unwrap_or_default();
            name.push(".autosave");
            p.with_file_name(name)
        }
        None => config.autosave_dir.join("untitled.json"),
    }
}

/// The autosave of `path` when it is newer than the project file and differs from `loaded`.
fn newer_autosave(config: &StudioConfig, path: &Path, loaded: &Project) -> Option<Project> {
    let auto = autosave_path(config, Some(path));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&auto)? <= modified(path)? {
        return None;
    }
    let text = std::fs::read_to_string(&auto).ok()?;
    let project = Project::from_json_str(&text).ok()?;
    (project != *loaded).then_some(project)
}

/// Copies a finished render to `dest` through a partial file next to it and a rename.
pub fn export(src: &Path, dest: &Path) -> Result<(), UserError> {
    let partial = crate::render::PartialOutput::begin(dest)?;
    std::fs::copy(src, partial.path()).map_err(|e| UserError::io("exporting to", dest, &e))?;
    partial.publish()
}

/// Where keyframe `index` lands if dragged to `wanted`: the planner's snapped position.
pub fn snapped_position(project: &Project, index: usize, wanted: u32) -> u32 {
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
    match plan::plan(&trial) {
        Ok(p) => {
            let snapped = p.positions[index];
            if snapped >= low && snapped <= high {
                snapped
            } else {
                wanted
            }
        }
        Err(_) => wanted,
    }
}

fn call_rows(plan: &Plan) -> usize {
    plan.calls.len().min(2)
}

fn class_color(class: FrameClass) -> Color32 {
    match class {
        FrameClass::Anchor => Color32::from_rgb(240, 200, 60),
        FrameClass::Context => Color32::from_rgb(150, 110, 210),
        FrameClass::Transition => Color32::from_rgb(230, 130, 60),
        FrameClass::Free => Color32::from_gray(90),
    }
}

/// A label and a number field announced under that label.
fn labelled_drag(
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

/// Finds out in the background which compute backend renders will use.
fn probe_compute() -> std::sync::Arc<std::sync::Mutex<Option<String>>> {
    let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
    let out = slot.clone();
    let _ = jobs::spawn("wayfarer-compute-probe", move || {
        let name = crate::gpu::Choice::from_env()
            .and_then(crate::gpu::select)
            .map(|c| c.name())
            .unwrap_or_else(|e| format!("unavailable: {}", e.message));
        if let Ok(mut s) = out.lock() {
            *s = Some(name);
        }
    });
    slot
}
