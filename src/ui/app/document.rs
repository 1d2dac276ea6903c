//! The window's side of the document (`ui::document`): opening and saving with the
//! studio's notices, recent files, the autosave offer, undo and redo with the selection
//! kept valid.

use super::{Path, StudioApp};
use crate::ui::document::Document;

impl StudioApp {
    /// Opens a project file, replacing the current one (no unsaved-changes prompt).
    pub fn open(&mut self, path: &Path) {
        match Document::open(path) {
            Ok(doc) => {
                let opened = doc.path.clone();
                // Saving writes only the fields a project has: say so with each warning.
                self.warnings = doc
                    .load_warnings
                    .iter()
                    .map(|w| format!("{w} Saving the project leaves it out."))
                    .collect();
                self.doc = doc;
                self.timeline.fit_pending = true;
                self.selected_span = 0;
                self.selected_keyframe = None;
                // The inspector's text is the old project's: it must not be written into
                // the one just opened.
                self.inspector.prompt_buffers = None;
                if let Some(p) = &opened {
                    self.remember_recent(p);
                }
                self.replan();
                self.restore_offer = self.doc.newer_autosave(&self.config.autosave_dir);
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
        match self.doc.save_as(path, &self.config.autosave_dir) {
            Ok(()) => {
                self.remember_recent(path);
                self.notice = Some(format!("Saved {}", path.display()));
                self.notice_file = Some(path.to_path_buf());
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
        if self.doc.apply(pending) {
            self.after_change();
        }
    }

    pub(super) fn after_change(&mut self) {
        self.replan();
        let spans = self.doc.project.span_count().max(1);
        self.selected_span = self.selected_span.min(spans - 1);
        if self
            .selected_keyframe
            .is_some_and(|k| k >= self.doc.project.keyframes.len())
        {
            self.selected_keyframe = None;
        }
        self.inspector.prompt_buffers = None;
    }

    /// Undoes the last edit.
    pub fn undo(&mut self) {
        if self.doc.undo() {
            self.after_change();
        }
    }

    /// Redoes the last undone edit.
    pub fn redo(&mut self) {
        if self.doc.redo() {
            self.after_change();
        }
    }

    /// Removes the autosave of the project as it is named now (a missing one is fine).
    pub(super) fn forget_autosave(&self) {
        self.doc.forget_autosave(&self.config.autosave_dir);
    }

    pub(super) fn autosave(&mut self) {
        if let Err(e) = self.doc.autosave_if_due(&self.config.autosave_dir) {
            self.problems.push(e);
        }
    }

    pub(super) fn save(&mut self, ctx: &egui::Context) -> bool {
        match self.doc.path.clone() {
            Some(p) => self.save_as(&p),
            None => self.save_as_dialog(ctx),
        }
    }
}
