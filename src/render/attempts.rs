//! One call through the backend: attempts, retries with degraded parameters, progress.

use std::time::Instant;

use super::{Job, Msg, RenderEvent};
use crate::error::{ErrorCategory, Result, UserError};
use crate::generate::CancelToken;
use crate::generate::GenerationRequest;
use crate::generate::retry::Knobs;
use crate::media;
use crate::plan::Plan;

/// What one call through the backend gave.
pub(super) struct Generated {
    pub(super) frames: Vec<crate::media::Frame>,
    /// Attempts it took (1 when the first succeeded).
    pub(super) attempts: u32,
    /// The parameter changes of the successful attempt, when it was not made as requested.
    pub(super) degraded: Option<String>,
}

/// One call through the backend, retried with degraded parameters per the policy.
pub(super) fn generate_with_retries(
    job: &Job<'_>,
    request: &GenerationRequest<'_>,
    tx: &std::sync::mpsc::SyncSender<Msg>,
    stop: &CancelToken,
) -> Result<Generated> {
    let plan = job.plan;
    let call = request.call;
    let calls = plan.calls.len();
    let mut knobs = Knobs {
        segment: request.segment.clone(),
        scale: 1.0,
    };
    let mut failures = 0u32;
    let mut per_kind: Vec<(ErrorCategory, u32)> = Vec::new();
    let mut changes: Vec<String> = Vec::new();
    loop {
        let (w, h) = scaled_size(plan, knobs.scale);
        let scaled_guide;
        let guide_used = if (w, h) == (plan.width, plan.height) {
            request.guide
        } else {
            let mut g = request.guide.clone();
            g.frames = g
                .frames
                .iter()
                .map(|f| media::resize_exact(f, w, h))
                .collect();
            scaled_guide = g;
            &scaled_guide
        };
        let attempt = GenerationRequest {
            call,
            guide: guide_used,
            segment: &knobs.segment,
            seed: request.seed,
            width: w,
            height: h,
            fps: request.fps,
        };
        let mut last_sent = -1.0f32;
        let mut last_step = None;
        let mut progress = |p: crate::generate::CallProgress| {
            if let Some(note) = p.note {
                let _ = tx.send(Msg::Event(RenderEvent::Note {
                    call: call.index,
                    message: note,
                }));
            }
            // Throttle: every sampler step, else steps of 5 % of a call.
            let new_step = p.step.is_some() && p.step != last_step;
            if new_step || p.fraction - last_sent >= 0.05 || p.fraction >= 1.0 {
                last_sent = p.fraction;
                last_step = p.step;
                let _ = tx.send(Msg::Event(RenderEvent::Progress {
                    stage: "generating".into(),
                    call: call.index,
                    calls,
                    fraction: p.fraction.clamp(0.0, 1.0),
                    step: p.step,
                    eta_secs: None,
                }));
            }
        };
        let error = match job.backend.generate(&attempt, &mut progress, stop) {
            Ok(frames) => {
                let frames = if (w, h) == (plan.width, plan.height) {
                    frames
                } else {
                    frames
                        .iter()
                        .map(|f| media::resize_exact(f, plan.width, plan.height))
                        .collect()
                };
                let as_requested = knobs.scale >= 1.0 && knobs.segment == *request.segment;
                return Ok(Generated {
                    frames,
                    attempts: failures + 1,
                    degraded: (!as_requested).then(|| changes.join(", ")),
                });
            }
            Err(e) => e,
        };
        failures += 1;
        let same_kind =
            if let Some((_, n)) = per_kind.iter_mut().find(|(c, _)| *c == error.category) {
                *n += 1;
                *n
            } else {
                per_kind.push((error.category, 1));
                1
            };
        let Some(retry) = job.options.retry.next(failures, same_kind, &knobs, &error) else {
            if failures > 1 {
                return Err(error.context(format!(
                    "call {} failed after {failures} attempts",
                    call.index + 1
                )));
            }
            return Err(error);
        };
        let _ = tx.send(Msg::Event(RenderEvent::Retry {
            call: call.index,
            attempt: failures + 1,
            category: error.category,
            error: error.message.clone(),
            change: retry.change.clone(),
        }));
        let _ = tx.send(Msg::Retry(format!(
            "call {}: {}",
            call.index + 1,
            retry.change
        )));
        let until = Instant::now() + retry.delay;
        while Instant::now() < until {
            if stop.is_cancelled() {
                return Err(UserError::cancelled());
            }
            std::thread::sleep(std::time::Duration::from_millis(10).min(retry.delay));
        }
        if retry.knobs.scale != knobs.scale || retry.knobs.segment != knobs.segment {
            changes.push(retry.change.clone());
        }
        knobs = retry.knobs;
    }
}

/// The call size for a resolution factor, rounded to the model's size multiple.
fn scaled_size(plan: &Plan, scale: f32) -> (u32, u32) {
    if scale >= 1.0 {
        return (plan.width, plan.height);
    }
    let m = plan.profile.size_multiple.max(2);
    let round = |v: u32| (((v as f32 * scale) / m as f32).round() as u32).max(1) * m;
    (round(plan.width), round(plan.height))
}
