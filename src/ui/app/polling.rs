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
                    p.stage.clone_from(stage);
                    p.step = *step;
                    p.eta_secs = *eta_secs;
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
                    self.player.current = 0;
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
}
