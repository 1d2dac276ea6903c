//! The document side of the studio: opening, saving, autosave and its restore, undo and
//! redo, and the actions that may ask about unsaved work first.

use super::{
    AUTOSAVE_EVERY, History, Instant, Mode, Path, PathBuf, Pending, Project, StudioApp,
    StudioConfig, UserError, file,
};

impl StudioApp {
    /// Opens a project file, replacing the current one (no unsaved-changes prompt).
    pub fn open(&mut self, path: &Path) {
        // An absolute path: the images' paths below are made absolute from it, so that a
        // relative project path (`wayfarer examples/demo/demo.json`) is not joined twice.
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let path = absolute.as_path();
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
                // The work is in the file now: no autosave of it is left, neither under the
                // name it had (untitled, or the old name of a Save As) nor under the new one.
                self.forget_autosave();
                self.saved = self.project.clone();
                self.path = Some(path.to_path_buf());
                self.remember_recent(path);
                self.forget_autosave();
                true
            }
            Err(e) => {
                self.problems.push(e);
                false
            }
        }
    }

    pub(super) fn remember_recent(&mut self, path: &Path) {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.settings.recent.retain(|p| p != &path);
        self.settings.recent.insert(0, path);
        self.settings.recent.truncate(10);
    }

    pub(super) fn apply_pending(&mut self) {
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

    pub(super) fn after_change(&mut self) {
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

    /// Removes the autosave of the project as it is named now (a missing one is fine).
    pub(super) fn forget_autosave(&self) {
        let target = autosave_path(&self.config, self.path.as_deref());
        if let Err(e) = std::fs::remove_file(&target)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove the autosave {}: {e}", target.display());
        }
    }

    pub(super) fn autosave(&mut self) {
        if !self.is_dirty() || self.last_autosave.elapsed() < AUTOSAVE_EVERY {
            return;
        }
        self.last_autosave = Instant::now();
        let target = autosave_path(&self.config, self.path.as_deref());
        if let Some(dir) = target.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            self.problems
                .push(UserError::io("creating the autosave folder", dir, &e));
            return;
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

    pub(super) fn request(&mut self, action: Pending, ctx: &egui::Context) {
        if self.is_dirty() {
            self.confirm = Some(action);
        } else {
            self.perform(action, ctx);
        }
    }

    pub(super) fn perform(&mut self, action: Pending, ctx: &egui::Context) {
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

    pub(super) fn save(&mut self, ctx: &egui::Context) -> bool {
        match self.path.clone() {
            Some(p) => self.save_as(&p),
            None => self.save_as_dialog(ctx),
        }
    }
}

pub(super) fn empty_project() -> Project {
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
        segments: vec![crate::project::Segment::default()],
        merge: crate::project::MergeSettings::default(),
        mask: crate::project::MaskSettings::default(),
        profile: None,
        structure_video: None,
        length: None,
    }
}

/// Where the autosave of a project lives: `PROJECT.json.autosave` beside a saved project,
/// or in the autosave folder for an untitled one.
pub fn autosave_path(config: &StudioConfig, project: Option<&Path>) -> PathBuf {
    match project {
        Some(p) => {
            let mut name = p
                .file_name()
                .map(std::ffi::OsStr::to_os_string)
                .unwrap_or_default();
            name.push(".autosave");
            p.with_file_name(name)
        }
        None => config.autosave_dir.join("untitled.json"),
    }
}

/// The autosave of `path` when it is newer than the project file and differs from `loaded`.
pub(super) fn newer_autosave(
    config: &StudioConfig,
    path: &Path,
    loaded: &Project,
) -> Option<Project> {
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
