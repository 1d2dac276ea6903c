//! Choosing files from the studio: the system's dialog, or Wayfarer's own when the system
//! has none (see `ui::files`), and what each chosen file does.

use super::{Command, Edit, Path, PathBuf, StudioApp, export, file};
use crate::ui::files::{DialogOutcome, FileDialog, FilePurpose, NativeOutcome};

impl StudioApp {
    /// Uses Wayfarer's own file dialog from now on, starting in `dir` (tests, and desktops
    /// where the system's dialog misbehaves: `WAYFARER_FILE_DIALOG=builtin`).
    pub fn use_builtin_dialogs(&mut self, dir: &Path) {
        self.builtin_dialogs = true;
        self.dialog_dir = Some(dir.to_path_buf());
    }

    /// Whether Wayfarer's own file dialog is open.
    pub fn file_dialog_open(&self) -> bool {
        self.file_dialog.is_some()
    }

    /// The last notice (an export done, a dialog fallback).
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// The warnings shown until dismissed (e.g. fields of the opened file that a project
    /// does not have).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The folder a dialog starts in: where the last file was chosen, else the project's
    /// folder, else the home folder.
    fn dialog_start(&self) -> PathBuf {
        self.dialog_dir
            .clone()
            .or_else(|| self.doc.path.as_deref().map(file::project_dir))
            .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Asks for a file for `purpose`. Returns whether one was chosen and used at once (the
    /// system's dialog); Wayfarer's own dialog answers in a later frame.
    pub fn ask_file(&mut self, purpose: FilePurpose, ctx: &egui::Context) -> bool {
        let start = self.dialog_start();
        let name = match (&purpose, &self.doc.path) {
            (FilePurpose::SaveProject, Some(p)) => p.file_name().map_or_else(
                || purpose.default_name().into(),
                |n| n.to_string_lossy().into(),
            ),
            _ => purpose.default_name().to_string(),
        };
        if !self.builtin_dialogs {
            match crate::ui::files::native(&purpose, &start, &name) {
                NativeOutcome::Chosen(paths) => return self.file_chosen(&purpose, paths, ctx),
                NativeOutcome::Cancelled => return false,
                NativeOutcome::Unavailable => {
                    self.builtin_dialogs = true;
                    self.notice_file = None;
                    self.notice = Some(
                        "This desktop offers no file dialog (no desktop portal, zenity or kdialog), so Wayfarer \
                         shows its own."
                            .into(),
                    );
                }
            }
        }
        self.file_dialog = Some(FileDialog::new(purpose, &start, &name));
        false
    }

    /// Draws Wayfarer's own dialog while it is open and uses what it gives.
    pub(super) fn file_dialog_frame(&mut self, ctx: &egui::Context) {
        let Some(dialog) = &mut self.file_dialog else {
            return;
        };
        match dialog.show(ctx) {
            DialogOutcome::Open => {}
            DialogOutcome::Cancelled => self.file_dialog = None,
            DialogOutcome::Chosen(paths) => {
                let purpose = dialog.purpose.clone();
                self.file_dialog = None;
                self.file_chosen(&purpose, paths, ctx);
            }
        }
    }

    /// Uses the files chosen for `purpose`; returns whether that succeeded.
    fn file_chosen(
        &mut self,
        purpose: &FilePurpose,
        paths: Vec<PathBuf>,
        ctx: &egui::Context,
    ) -> bool {
        let Some(first) = paths.first().cloned() else {
            return false;
        };
        if let Some(dir) = first.parent() {
            self.dialog_dir = Some(dir.to_path_buf());
        }
        match purpose {
            FilePurpose::OpenProject => {
                self.run_command(Command::OpenProject(first), ctx);
                true
            }
            FilePurpose::SaveProject => self.save_as(&first),
            FilePurpose::AddImages { at_frame } => {
                self.push_edit(Edit::AddKeyframes {
                    images: paths,
                    at_frame: *at_frame,
                });
                // Added after the last keyframe: the view widens to show them.
                self.timeline.fit_pending = true;
                true
            }
            FilePurpose::ReplaceImage { keyframe } => {
                self.push_edit(Edit::ReplaceImage {
                    index: *keyframe,
                    image: first,
                });
                true
            }
            FilePurpose::ExportVideo(format) => self.export_to(&first, *format, ctx),
            FilePurpose::StructureVideo => {
                match &self.doc.project.structure_video {
                    Some(_) => {
                        let mut p = self.doc.project.clone();
                        if let Some(sv) = &mut p.structure_video {
                            sv.path = first;
                        }
                        self.push_edit(Edit::Replace(Box::new(p)));
                    }
                    None => self.set_structure_video(first),
                }
                true
            }
            FilePurpose::Template => {
                self.settings.generator.template = Some(first);
                true
            }
            FilePurpose::Model => {
                self.settings.generator.model = Some(first);
                true
            }
        }
    }

    /// Exports the last render to `dest` (never over one of the project's inputs) in
    /// `format` and says so: the render's own format (H.264) is copied; another is made by
    /// rendering the rendered project again from its finished calls, in the background.
    fn export_to(
        &mut self,
        dest: &Path,
        format: crate::media::ExportFormat,
        ctx: &egui::Context,
    ) -> bool {
        let Some(src) = self.last_output.clone() else {
            self.notice_file = None;
            self.notice = Some("Nothing to export yet: render first.".into());
            return false;
        };
        if let Err(e) = crate::render::refuse_input_as_output(
            dest,
            &self.doc.project,
            &self.project_dir(),
            self.doc.path.as_deref(),
        ) {
            self.problems.push(e);
            return false;
        }
        if format != crate::media::ExportFormat::H264 {
            return self.start_export(dest, format, ctx);
        }
        match export(&src, dest) {
            Ok(()) => {
                self.notice = Some(format!("Exported the render to {}", dest.display()));
                self.notice_file = Some(dest.to_path_buf());
                if let Some(r) = &mut self.last_render {
                    r.exported = Some(dest.to_path_buf());
                }
                true
            }
            Err(e) => {
                self.problems.push(e);
                false
            }
        }
    }

    /// Opens the file manager on the folder of `file`; says where it is when that fails.
    pub(super) fn show_in_folder(&mut self, file: &Path) {
        let folder = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else if cfg!(windows) {
            "explorer"
        } else {
            "xdg-open"
        };
        let started = std::process::Command::new(opener)
            .arg(folder)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        match started {
            Ok(mut child) => {
                // Reaped in the background so no zombie is left behind.
                let _ = crate::ui::jobs::spawn("wayfarer-file-manager", move || {
                    let _ = child.wait();
                });
            }
            Err(e) => {
                self.problems.push(
                    crate::error::UserError::input(format!(
                        "could not open a file manager ({opener}: {e})"
                    ))
                    .hint(format!("the file is in {}", folder.display())),
                );
            }
        }
    }
}
