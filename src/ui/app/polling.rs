//! Background work the studio polls each frame: renders, previews, pre-flight reports,
//! server tests, cost laws.

use super::{ErrorCategory, PlayerSource, RenderEvent, StudioApp, Thumb, UserError, jobs};

impl StudioApp {
    pub(super) fn poll_jobs(&mut self, ctx: &egui::Context) {
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
            if matches!(thumb, Thumb::Ready(_)) {
                // A file that is back (restored, renamed back) takes its old error with it.
                let shown = path.display().to_string();
                self.problems.retain(|p| !p.message.contains(&shown));
            }
            self.thumbs.insert(path, thumb);
        }
        self.recheck_thumbs(ctx);
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
                    p.stage.clone_from(stage);
                    p.step = *step;
                    p.eta_secs = *eta_secs;
                }
                if let RenderEvent::Warning { message } = &event
                    && !self.warnings.contains(message)
                {
                    self.warnings.push(message.clone());
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
                    // The device's name; the reasons behind the choice are in the status bar's
                    // compute field.
                    let short = device.split_once(" (").map_or(device.as_str(), |(s, _)| s);
                    self.notes.push(format!("generating on {short}"));
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
                let project = self.rendering.take();
                let exporting = self.exporting.take();
                match result {
                    Ok(_) if exporting.is_some() => {
                        if let Some((dest, format)) = exporting {
                            self.notice = Some(format!(
                                "Exported the render as {} to {}",
                                format.label(),
                                dest.display()
                            ));
                            self.notice_file = Some(dest.clone());
                            if let Some(r) = &mut self.last_render {
                                r.exported = Some(dest);
                            }
                        }
                    }
                    Ok(summary) => {
                        self.last_output = Some(output);
                        self.last_render = project.map(|project| super::LastRender {
                            project,
                            frames: summary.frames,
                            finished: std::time::Instant::now(),
                            exported: None,
                            quality: summary.quality.clone(),
                        });
                        self.show_in_player(PlayerSource::Output, ctx);
                    }
                    Err(e) => {
                        if e.category == ErrorCategory::Cancelled {
                            self.render_error = Some(
                                UserError::cancelled()
                                    .hint("nothing was written; render again when ready"),
                            );
                        } else {
                            self.render_error = Some(e);
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
                    self.player.current = self.seek_to.take().unwrap_or(0);
                    self.player.shown = None;
                }
                Err(e) => self.problems.push(e),
            }
        }
    }

    /// Looks up the cost law of the chosen backend when the backend settings changed (or a
    /// render finished), and plans with it once it is known.
    pub(super) fn poll_costs(&mut self, ctx: &egui::Context) {
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

    /// Every few seconds, looks whether keyframe files changed on disk (deleted, restored,
    /// replaced, renamed) and loads the thumbnails of those that did again.
    fn recheck_thumbs(&mut self, ctx: &egui::Context) {
        if self.thumbs_checked.elapsed() < THUMB_RECHECK {
            return;
        }
        self.thumbs_checked = std::time::Instant::now();
        let changed: Vec<std::path::PathBuf> = self
            .thumb_stamps
            .iter()
            .filter(|(path, stamp)| file_stamp(path) != **stamp)
            .map(|(path, _)| path.clone())
            .collect();
        for path in changed {
            self.thumb_stamps.remove(&path);
            self.thumbs.remove(&path);
        }
        // Nothing else may wake the window while a file is missing.
        if !self.thumb_stamps.is_empty() {
            ctx.request_repaint_after(THUMB_RECHECK);
        }
    }
}

/// How often keyframe files are looked at for changes.
const THUMB_RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// What changes when a file is replaced or removed: its modification time and size.
pub(super) type FileStamp = Option<(std::time::SystemTime, u64)>;

/// The stamp of `path` now (`None` when it cannot be read).
pub(super) fn file_stamp(path: &std::path::Path) -> FileStamp {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| Some((m.modified().ok()?, m.len())))
}
