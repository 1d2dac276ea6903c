//! What a person can ask of the studio. Every menu item, button and shortcut sends a
//! [`Command`]; [`StudioApp::run_command`] is the one place that carries them out, after
//! the frame is drawn (so a command never runs while a panel holds part of the state).

use std::path::PathBuf;

use super::{PlayerSource, StudioApp};
use crate::ui::files::FilePurpose;

/// Everything a menu item, button or shortcut can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A new, empty project (asks about unsaved changes first).
    NewProject,
    /// Choose a project file to open (Ctrl+O).
    ChooseProject,
    /// Open this project file (asks about unsaved changes first).
    OpenProject(PathBuf),
    /// Save to the project's file, or ask where when it has none (Ctrl+S).
    Save,
    /// Ask where to save the project (Ctrl+Shift+S).
    SaveAs,
    /// Ask where to export the last render (Ctrl+E).
    Export,
    /// Choose images to add after the last keyframe (Ctrl+I).
    AddImages,
    /// Choose another image for a keyframe.
    ReplaceImage(usize),
    /// Choose a file for another purpose (a structure video, a workflow, a model).
    Choose(FilePurpose),
    /// Delete a keyframe (Delete).
    DeleteKeyframe(usize),
    /// Undo the last edit (Ctrl+Z).
    Undo,
    /// Redo the edit undone last (Ctrl+Shift+Z or Ctrl+Y).
    Redo,
    /// Render the project (Ctrl+R).
    Render,
    /// Stop the running render.
    CancelRender,
    /// Run the pre-flight checks.
    Check,
    /// Test the ComfyUI servers without GPU time.
    TestServers,
    /// Start the live preview.
    StartLive,
    /// Stop the live preview.
    StopLive,
    /// Show something in the player.
    Show(PlayerSource),
    /// Play or pause the player (Space).
    TogglePlay,
    /// Fit the whole project into the timeline (`\` or Home).
    FitTimeline,
    /// Close the window (asks about unsaved changes first).
    Quit,
}

impl Command {
    /// Whether the command replaces or closes the document, and so asks about unsaved
    /// changes first.
    fn leaves_the_document(&self) -> bool {
        matches!(self, Self::NewProject | Self::OpenProject(_) | Self::Quit)
    }
}

impl StudioApp {
    /// Queues `command`; it runs at the end of this frame.
    pub fn send(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// Runs the queued commands.
    pub(super) fn run_commands(&mut self, ctx: &egui::Context) {
        for command in std::mem::take(&mut self.commands) {
            self.run_command(command, ctx);
        }
    }

    /// Carries `command` out now. A command that would drop unsaved changes waits for the
    /// unsaved-changes prompt.
    pub fn run_command(&mut self, command: Command, ctx: &egui::Context) {
        if command.leaves_the_document() && self.is_dirty() {
            self.confirm = Some(command);
            return;
        }
        self.perform(command, ctx);
    }

    /// Carries `command` out without asking about unsaved changes.
    pub(super) fn perform(&mut self, command: Command, ctx: &egui::Context) {
        match command {
            Command::NewProject => {
                let config = self.config.clone();
                let settings = self.settings.clone();
                *self = Self::new(config, settings);
            }
            Command::ChooseProject => {
                self.ask_file(FilePurpose::OpenProject, ctx);
            }
            Command::OpenProject(path) => self.open(&path),
            Command::Save => {
                self.save(ctx);
            }
            Command::SaveAs => {
                self.save_as_dialog(ctx);
            }
            Command::Export => {
                if self.last_output.is_some() {
                    self.ask_file(FilePurpose::ExportVideo(self.settings.export_format), ctx);
                } else {
                    self.notice_file = None;
                    self.notice = Some("Nothing to export yet: render first (Ctrl+R).".into());
                }
            }
            Command::AddImages => self.add_images_at_end(ctx),
            Command::ReplaceImage(keyframe) => {
                self.ask_file(FilePurpose::ReplaceImage { keyframe }, ctx);
            }
            Command::Choose(purpose) => {
                self.ask_file(purpose, ctx);
            }
            Command::DeleteKeyframe(index) => {
                self.push_edit(crate::project::edit::Edit::DeleteKeyframe { index });
                self.selected_keyframe = None;
            }
            Command::Undo => self.undo(),
            Command::Redo => self.redo(),
            Command::Render => self.start_render(ctx),
            Command::CancelRender => self.cancel_render(),
            Command::Check => self.start_preflight(ctx),
            Command::TestServers => self.start_server_test(ctx),
            Command::StartLive => self.start_live(ctx),
            Command::StopLive => {
                if let Some(job) = &self.live {
                    job.cancel.cancel();
                }
            }
            Command::Show(source) => self.show_in_player(source, ctx),
            Command::TogglePlay => {
                if !self.player.frames.is_empty() {
                    self.player.playing = !self.player.playing;
                }
            }
            Command::FitTimeline => self.timeline.fit_pending = true,
            Command::Quit => {
                self.quit_confirmed = true;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
    }
}
