//! The document the studio edits, without any of the window: the project, its file, the
//! state last saved, the undo history, the plan, and the autosave. The window
//! (`ui::app`) draws it and sends it edits; everything here can be used and tested
//! without egui.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::UserError;
use crate::plan::{self, CostModel, Plan};
use crate::project::edit::{Edit, History};
use crate::project::{Mode, Project, file};

/// How often unsaved work is written to the autosave.
pub const AUTOSAVE_EVERY: Duration = Duration::from_secs(30);

/// A project being edited.
#[derive(Debug)]
pub struct Document {
    /// The project as it is now.
    pub project: Project,
    /// Its file, once saved or opened.
    pub path: Option<PathBuf>,
    /// The project as it was last saved (or opened).
    pub saved: Project,
    /// Undo and redo.
    pub history: History,
    /// The plan of the project, or why it cannot be planned.
    pub plan: Result<Plan, UserError>,
    /// What opening the file ignored (fields a project does not have).
    pub load_warnings: Vec<String>,
    last_autosave: Instant,
}

impl Default for Document {
    fn default() -> Self {
        Self::new(empty_project())
    }
}

impl Document {
    /// A document of `project`, not saved anywhere yet.
    pub fn new(project: Project) -> Self {
        Self {
            saved: project.clone(),
            plan: plan::plan(&project),
            project,
            path: None,
            history: History::default(),
            load_warnings: Vec::new(),
            last_autosave: Instant::now(),
        }
    }

    /// Opens the project file at `path`; image and video paths are made absolute.
    pub fn open(path: &Path) -> Result<Self, UserError> {
        // An absolute path: the images' paths below are made absolute from it, so that a
        // relative project path (`wayfarer examples/demo/demo.json`) is not joined twice.
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let path = absolute.as_path();
        let (mut project, warnings) = file::load_warn(path)?;
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
        let mut doc = Self::new(project);
        doc.path = Some(path.to_path_buf());
        doc.load_warnings = warnings;
        Ok(doc)
    }

    /// Whether there are unsaved changes.
    pub fn is_dirty(&self) -> bool {
        self.project != self.saved
    }

    /// The folder the project's relative paths start from.
    pub fn dir(&self) -> PathBuf {
        self.path
            .as_deref()
            .map_or_else(|| PathBuf::from("."), file::project_dir)
    }

    /// The window's title: the file's name (or "untitled"), a `*` while unsaved.
    pub fn title(&self) -> String {
        let name = self
            .path
            .as_deref()
            .and_then(Path::file_name)
            .map_or_else(|| "untitled".into(), |n| n.to_string_lossy().into_owned());
        let unsaved = if self.is_dirty() { "*" } else { "" };
        format!("{unsaved}{name} — Wayfarer")
    }

    /// Plans the project again with the cost law `costs` (`None`: the profile's).
    pub fn replan(&mut self, costs: Option<&CostModel>) {
        self.plan = plan::plan_with_costs(&self.project, costs);
    }

    /// Applies `edits` in order (each with its coalescing key: edits of one key in a row
    /// undo as one); returns whether the project changed. Plan again after a change.
    pub fn apply(&mut self, edits: Vec<(Edit, Option<String>)>) -> bool {
        let mut changed = false;
        for (edit, coalesce) in edits {
            changed |= self
                .history
                .apply(&mut self.project, &edit, coalesce.as_deref());
        }
        changed
    }

    /// Undoes the last edit; returns whether there was one.
    pub fn undo(&mut self) -> bool {
        self.history.undo(&mut self.project)
    }

    /// Redoes the last undone edit; returns whether there was one.
    pub fn redo(&mut self) -> bool {
        self.history.redo(&mut self.project)
    }

    /// Forgets the changes since the last save (they are not offered again).
    pub fn discard_changes(&mut self) {
        self.saved = self.project.clone();
    }

    /// Saves to `path` (image paths inside its folder are written relative to it); the
    /// autosaves of the old and the new name are removed.
    pub fn save_as(&mut self, path: &Path, autosave_dir: &Path) -> Result<(), UserError> {
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
        file::save(&doc, path)?;
        // The work is in the file now: no autosave of it is left, neither under the name it
        // had (untitled, or the old name of a Save As) nor under the new one.
        self.forget_autosave(autosave_dir);
        self.saved = self.project.clone();
        self.path = Some(path.to_path_buf());
        self.forget_autosave(autosave_dir);
        Ok(())
    }

    /// Where the autosave of this document goes.
    pub fn autosave_path(&self, autosave_dir: &Path) -> PathBuf {
        autosave_path(autosave_dir, self.path.as_deref())
    }

    /// Removes the autosave of the document as it is named now (a missing one is fine).
    pub fn forget_autosave(&self, autosave_dir: &Path) {
        let target = self.autosave_path(autosave_dir);
        if let Err(e) = std::fs::remove_file(&target)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove the autosave {}: {e}", target.display());
        }
    }

    /// Writes unsaved work to the autosave when it is due (every [`AUTOSAVE_EVERY`]).
    pub fn autosave_if_due(&mut self, autosave_dir: &Path) -> Result<(), UserError> {
        if !self.is_dirty() || self.last_autosave.elapsed() < AUTOSAVE_EVERY {
            return Ok(());
        }
        self.last_autosave = Instant::now();
        let target = self.autosave_path(autosave_dir);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| UserError::io("creating the autosave folder", dir, &e))?;
        }
        let text = self.project.to_json_string()?;
        file::write_atomic(&target, text.as_bytes())
    }

    /// The autosave of the opened file when it is newer than the file and differs from it.
    pub fn newer_autosave(&self, autosave_dir: &Path) -> Option<Project> {
        let path = self.path.as_deref()?;
        let auto = autosave_path(autosave_dir, Some(path));
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if modified(&auto)? <= modified(path)? {
            return None;
        }
        let text = std::fs::read_to_string(&auto).ok()?;
        let project = Project::from_json_str(&text).ok()?;
        (project != self.saved).then_some(project)
    }
}

/// A new project: Wan 2.1 VACE at 832x480, 16 fps, chained, no keyframes yet.
pub fn empty_project() -> Project {
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
        color_match: crate::fidelity::ColorMatch::default(),
        length: None,
    }
}

/// Where the autosave of a project lives: `PROJECT.json.autosave` beside a saved project,
/// or `untitled.json` in `autosave_dir` for an untitled one.
pub fn autosave_path(autosave_dir: &Path, project: Option<&Path>) -> PathBuf {
    match project {
        Some(p) => {
            let mut name = p
                .file_name()
                .map(std::ffi::OsStr::to_os_string)
                .unwrap_or_default();
            name.push(".autosave");
            p.with_file_name(name)
        }
        None => autosave_dir.join("untitled.json"),
    }
}

/// Copies a finished render to `dest` through a partial file next to it and a rename.
pub fn export(src: &Path, dest: &Path) -> Result<(), UserError> {
    let partial = crate::render::PartialOutput::begin(dest)?;
    std::fs::copy(src, partial.path()).map_err(|e| UserError::io("exporting to", dest, &e))?;
    partial.publish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_as_writes_relative_paths_and_clears_the_dirty_mark() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("a.png");
        std::fs::write(&image, b"x").unwrap();
        let mut doc = Document::default();
        assert!(!doc.is_dirty());
        assert_eq!(doc.title(), "untitled — Wayfarer");
        assert!(doc.apply(vec![(
            Edit::AddKeyframes {
                images: vec![image.clone()],
                at_frame: 0,
            },
            None,
        )]));
        assert!(doc.is_dirty());
        assert_eq!(doc.title(), "*untitled — Wayfarer");
        let path = dir.path().join("trip.json");
        doc.save_as(&path, dir.path()).unwrap();
        assert!(!doc.is_dirty());
        assert_eq!(doc.title(), "trip.json — Wayfarer");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"a.png\""), "{text}");
        let opened = Document::open(&path).unwrap();
        assert_eq!(opened.project.keyframes[0].image, image);
        assert!(doc.undo());
        assert!(doc.is_dirty());
        assert!(doc.redo());
        assert!(!doc.is_dirty());
    }
}
