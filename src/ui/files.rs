//! Choosing files: the system's dialog (rfd: the desktop portal) when the desktop has one,
//! else Wayfarer's own dialog drawn with egui. A system dialog that cannot be shown (no
//! portal, no D-Bus session) returns at once; that is told apart from a person cancelling
//! (which takes longer than a blink), and the studio switches to its own dialog for the
//! rest of the session, saying so.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui::{Key, RichText};

/// What a chosen file is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilePurpose {
    /// A project to open.
    OpenProject,
    /// Where to save the project.
    SaveProject,
    /// Keyframe images to add at a frame.
    AddImages {
        /// Timeline frame of the first image.
        at_frame: u32,
    },
    /// Another image for a keyframe.
    ReplaceImage {
        /// Keyframe index.
        keyframe: usize,
    },
    /// Where to export the last render, in a format.
    ExportVideo(crate::media::ExportFormat),
    /// A structure video (replacing any).
    StructureVideo,
    /// A ComfyUI API-format workflow.
    Template,
    /// An ONNX model manifest.
    Model,
}

impl FilePurpose {
    /// The dialog's title.
    pub fn title(&self) -> &'static str {
        match self {
            Self::OpenProject => "Open project",
            Self::SaveProject => "Save project as",
            Self::AddImages { .. } => "Add images",
            Self::ReplaceImage { .. } => "Replace image",
            Self::ExportVideo(_) => "Export the render",
            Self::StructureVideo => "Choose structure video",
            Self::Template => "Choose ComfyUI workflow",
            Self::Model => "Choose model manifest",
        }
    }

    /// The kind of file and its extensions.
    pub fn filter(&self) -> (&'static str, &'static [&'static str]) {
        match self {
            Self::OpenProject | Self::SaveProject => ("Wayfarer project", &["json"]),
            Self::AddImages { .. } | Self::ReplaceImage { .. } => (
                "Images",
                &["png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp"],
            ),
            Self::ExportVideo(format) => match format.extension() {
                Some("mov") => ("QuickTime video", &["mov"]),
                Some(_) => ("MP4 video", &["mp4"]),
                None => ("a new folder for the pictures", &[]),
            },
            Self::StructureVideo => ("Video", &["mp4", "mkv", "mov", "webm", "avi"]),
            Self::Template => ("ComfyUI API workflow", &["json"]),
            Self::Model => ("Model manifest", &["toml"]),
        }
    }

    /// Whether the dialog asks for a new file's name (save) rather than existing files.
    pub fn saves(&self) -> bool {
        matches!(self, Self::SaveProject | Self::ExportVideo(_))
    }

    /// Whether several files may be chosen.
    pub fn multiple(&self) -> bool {
        matches!(self, Self::AddImages { .. })
    }

    /// The name a save dialog proposes.
    pub fn default_name(&self) -> &'static str {
        match self {
            Self::ExportVideo(format) => match format.extension() {
                Some("mov") => "travel.mov",
                Some(_) => "travel.mp4",
                None => "travel_frames",
            },
            _ => "project.json",
        }
    }

    /// Whether `path` has one of the purpose's extensions (any name, for a folder).
    pub fn accepts(&self, path: &Path) -> bool {
        let (_, extensions) = self.filter();
        if extensions.is_empty() {
            return true;
        }
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
    }
}

/// What the system's dialog gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeOutcome {
    /// Files chosen.
    Chosen(Vec<PathBuf>),
    /// The person closed the dialog.
    Cancelled,
    /// No dialog could be shown.
    Unavailable,
}

/// A dialog closed faster than this did not reach the screen.
const NO_DIALOG_WITHIN: Duration = Duration::from_millis(300);

/// Shows the system's dialog for `purpose`, starting in `dir`: the desktop portal's, else
/// the desktop's own dialog program (GTK's `zenity`, KDE's `kdialog`), else `Unavailable`.
pub fn native(purpose: &FilePurpose, dir: &Path, name: &str) -> NativeOutcome {
    match portal(purpose, dir, name) {
        NativeOutcome::Unavailable => desktop_program(purpose, dir, name),
        outcome => outcome,
    }
}

/// The desktop portal's dialog (through rfd).
fn portal(purpose: &FilePurpose, dir: &Path, name: &str) -> NativeOutcome {
    if !desktop_bus_exists() {
        return NativeOutcome::Unavailable;
    }
    let (kind, extensions) = purpose.filter();
    let mut dialog = rfd::FileDialog::new()
        .set_title(purpose.title())
        .set_directory(dir);
    if !extensions.is_empty() {
        dialog = dialog.add_filter(kind, extensions);
    }
    let started = Instant::now();
    let chosen = if purpose.saves() {
        dialog.set_file_name(name).save_file().map(|p| vec![p])
    } else if purpose.multiple() {
        dialog.pick_files()
    } else {
        dialog.pick_file().map(|p| vec![p])
    };
    match chosen {
        Some(paths) => NativeOutcome::Chosen(paths),
        None if started.elapsed() < NO_DIALOG_WITHIN => NativeOutcome::Unavailable,
        None => NativeOutcome::Cancelled,
    }
}

/// The dialog programs tried when there is no portal, in order.
const DIALOG_PROGRAMS: [&str; 2] = ["zenity", "kdialog"];

/// The desktop's dialog program: GTK's file chooser through `zenity`, or KDE's through
/// `kdialog`, whichever is installed (a window of its own; the studio waits for it as for
/// the portal's).
fn desktop_program(purpose: &FilePurpose, dir: &Path, name: &str) -> NativeOutcome {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return NativeOutcome::Unavailable;
    }
    for program in DIALOG_PROGRAMS {
        let args = dialog_program_args(program, purpose, dir, name);
        let output = match std::process::Command::new(program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
        {
            Ok(o) => o,
            // Not installed: try the next.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::warn!("could not start {program}: {e}");
                continue;
            }
        };
        return match output.status.code() {
            Some(0) => {
                let text = String::from_utf8_lossy(&output.stdout);
                let paths: Vec<PathBuf> = text
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(PathBuf::from)
                    .collect();
                if paths.is_empty() {
                    NativeOutcome::Cancelled
                } else {
                    NativeOutcome::Chosen(paths)
                }
            }
            // 1: closed without a choice.
            Some(1) => NativeOutcome::Cancelled,
            _ => {
                tracing::warn!("{program} could not show a dialog ({})", output.status);
                continue;
            }
        };
    }
    NativeOutcome::Unavailable
}

/// The command line that asks `program` (`zenity` or `kdialog`) for `purpose`'s files.
pub fn dialog_program_args(
    program: &str,
    purpose: &FilePurpose,
    dir: &Path,
    name: &str,
) -> Vec<String> {
    let (kind, extensions) = purpose.filter();
    let patterns = extensions
        .iter()
        .map(|e| format!("*.{e}"))
        .collect::<Vec<_>>()
        .join(" ");
    let start = if purpose.saves() {
        dir.join(name)
    } else {
        // A trailing separator: start inside the folder.
        dir.join("")
    };
    let start = start.to_string_lossy().into_owned();
    if program == "kdialog" {
        let mut args = vec!["--title".to_string(), purpose.title().to_string()];
        if purpose.saves() {
            args.push("--getsavefilename".into());
        } else {
            args.push("--getopenfilename".into());
        }
        args.push(start);
        if !patterns.is_empty() {
            args.push(format!("{patterns}|{kind}"));
        }
        if purpose.multiple() {
            args.extend(["--multiple".into(), "--separate-output".into()]);
        }
        args
    } else {
        let mut args = vec![
            "--file-selection".to_string(),
            format!("--title={}", purpose.title()),
            format!("--filename={start}"),
        ];
        if !patterns.is_empty() {
            args.push(format!("--file-filter={kind} | {patterns}"));
        }
        if purpose.saves() {
            args.extend(["--save".into(), "--confirm-overwrite".into()]);
        }
        if purpose.multiple() {
            args.extend(["--multiple".into(), "--separator=\n".into()]);
        }
        args
    }
}

/// Whether a D-Bus session (which the desktop portal needs) can exist here.
fn desktop_bus_exists() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        return true;
    }
    std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).join("bus").exists())
}

/// One entry of the folder shown.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    path: PathBuf,
    folder: bool,
}

/// What the in-app dialog did this frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogOutcome {
    /// Still open.
    Open,
    /// Files chosen (or, for a save, the file to write).
    Chosen(Vec<PathBuf>),
    /// Closed without a choice.
    Cancelled,
}

/// Wayfarer's own file dialog: a folder's entries (folders first, files of the purpose's
/// kinds), a path field, and for saving a file-name field.
#[derive(Debug)]
pub struct FileDialog {
    /// What the chosen file is for.
    pub purpose: FilePurpose,
    dir: PathBuf,
    dir_text: String,
    name: String,
    entries: Vec<Entry>,
    selected: Vec<PathBuf>,
    error: Option<String>,
}

impl FileDialog {
    /// A dialog for `purpose` showing `dir`, proposing `name` when it saves.
    pub fn new(purpose: FilePurpose, dir: &Path, name: &str) -> Self {
        let mut d = Self {
            purpose,
            dir: PathBuf::new(),
            dir_text: String::new(),
            name: name.to_string(),
            entries: Vec::new(),
            selected: Vec::new(),
            error: None,
        };
        d.enter(dir);
        d
    }

    /// The folder shown.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Shows `dir` (its entries read now).
    pub fn enter(&mut self, dir: &Path) {
        match std::fs::read_dir(dir) {
            Ok(read) => {
                let mut entries: Vec<Entry> = read
                    .flatten()
                    .filter_map(|e| {
                        let path = e.path();
                        let name = e.file_name().to_string_lossy().into_owned();
                        let folder = path.is_dir();
                        let shown =
                            !name.starts_with('.') && (folder || self.purpose.accepts(&path));
                        shown.then_some(Entry { name, path, folder })
                    })
                    .collect();
                entries.sort_by(|a, b| {
                    (!a.folder, a.name.to_lowercase()).cmp(&(!b.folder, b.name.to_lowercase()))
                });
                self.dir = dir.to_path_buf();
                self.dir_text = dir.display().to_string();
                self.entries = entries;
                self.selected.clear();
                self.error = None;
            }
            Err(e) => {
                self.error = Some(format!("cannot open the folder {}: {e}", dir.display()));
            }
        }
    }

    /// Draws the dialog; Esc cancels it.
    pub fn show(&mut self, ctx: &egui::Context) -> DialogOutcome {
        let mut outcome = DialogOutcome::Open;
        if ctx.input_mut(|i| i.consume_key(egui::Modifiers::NONE, Key::Escape)) {
            return DialogOutcome::Cancelled;
        }
        let mut open = true;
        egui::Window::new(self.purpose.title())
            .collapsible(false)
            .resizable(true)
            .default_size([560.0, 420.0])
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .open(&mut open)
            .show(ctx, |ui| outcome = self.contents(ui));
        if open {
            outcome
        } else {
            DialogOutcome::Cancelled
        }
    }

    fn contents(&mut self, ui: &mut egui::Ui) -> DialogOutcome {
        let mut go_to: Option<PathBuf> = None;
        let mut outcome = DialogOutcome::Open;
        ui.horizontal(|ui| {
            if ui.button("Up").on_hover_text("The folder above").clicked()
                && let Some(parent) = self.dir.parent()
            {
                go_to = Some(parent.to_path_buf());
            }
            if ui.button("Home").clicked()
                && let Some(home) = std::env::var_os("HOME")
            {
                go_to = Some(PathBuf::from(home));
            }
            let label = ui.label("Folder");
            let field = ui
                .add(egui::TextEdit::singleline(&mut self.dir_text).desired_width(f32::INFINITY))
                .labelled_by(label.id);
            if field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
                go_to = Some(PathBuf::from(&self.dir_text));
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(super::style::ERROR, e);
        }
        let (kind, extensions) = self.purpose.filter();
        ui.label(
            RichText::new(format!(
                "Showing folders and {kind} ({})",
                extensions.join(", ")
            ))
            .weak(),
        );
        let footer = 70.0;
        egui::ScrollArea::vertical()
            .max_height((ui.available_height() - footer).max(80.0))
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for entry in &self.entries {
                    let picked = self.selected.contains(&entry.path);
                    let text = if entry.folder {
                        format!("[folder] {}", entry.name)
                    } else {
                        entry.name.clone()
                    };
                    let response = ui.selectable_label(picked, text);
                    if response.double_clicked() {
                        if entry.folder {
                            go_to = Some(entry.path.clone());
                        } else {
                            outcome = DialogOutcome::Chosen(vec![entry.path.clone()]);
                        }
                    } else if response.clicked() && !entry.folder {
                        let add = self.purpose.multiple() && ui.input(|i| i.modifiers.command);
                        if !add {
                            self.selected.clear();
                        }
                        if picked && add {
                            self.selected.retain(|p| p != &entry.path);
                        } else {
                            self.selected.push(entry.path.clone());
                        }
                        if self.purpose.saves() {
                            self.name.clone_from(&entry.name);
                        }
                    } else if response.clicked() && entry.folder {
                        go_to = Some(entry.path.clone());
                    }
                }
                if self.entries.is_empty() {
                    ui.label(RichText::new("Nothing to choose in this folder").weak());
                }
            });
        if self.purpose.saves() {
            ui.horizontal(|ui| {
                let label = ui.label("File name");
                ui.add(egui::TextEdit::singleline(&mut self.name).desired_width(280.0))
                    .labelled_by(label.id);
            });
        } else if self.purpose.multiple() {
            ui.label(RichText::new("Ctrl+click chooses several").weak());
        }
        ui.horizontal(|ui| {
            let (verb, ready) = if self.purpose.saves() {
                ("Save", !self.name.trim().is_empty())
            } else if self.purpose.multiple() {
                ("Add", !self.selected.is_empty())
            } else {
                ("Open", !self.selected.is_empty())
            };
            if ui.add_enabled(ready, egui::Button::new(verb)).clicked() {
                outcome = DialogOutcome::Chosen(if self.purpose.saves() {
                    vec![self.save_path()]
                } else {
                    self.selected.clone()
                });
            }
            if ui.button("Cancel").clicked() {
                outcome = DialogOutcome::Cancelled;
            }
        });
        if let Some(dir) = go_to {
            self.enter(&dir);
        }
        outcome
    }

    /// The file a save writes: the name in the folder shown, with the purpose's extension
    /// added when it has none of them.
    fn save_path(&self) -> PathBuf {
        let path = self.dir.join(self.name.trim());
        if self.purpose.accepts(&path) {
            return path;
        }
        let (_, extensions) = self.purpose.filter();
        let mut name = path.into_os_string();
        name.push(".");
        name.push(extensions.first().copied().unwrap_or("json"));
        PathBuf::from(name)
    }
}
