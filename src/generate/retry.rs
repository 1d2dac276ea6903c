//! Retries that degrade parameters, by error category (`docs/ARCHITECTURE.md` §6).
//!
//! Out of memory: fewer steps, then a lower resolution, then no LoRAs. Pipeline errors:
//! gentler guidance, then the backend's defaults. Network errors: the same call again.
//! Input, file-system, model-loading errors and cancels are not retried. Each retry waits
//! `base_delay * 2^(n-1)`.

use std::time::Duration;

use serde::Serialize;

use crate::error::{ErrorCategory, UserError};
use crate::project::Segment;

/// Steps assumed when a segment leaves them to the backend.
pub const DEFAULT_STEPS: u32 = 20;

/// What a retry may change in a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Knobs {
    /// Segment parameters (steps, guidance, LoRAs) used for the call.
    pub segment: Segment,
    /// Resolution factor (1 = the project's size).
    pub scale: f32,
}

/// One retry decision, reported to the user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retry {
    /// What changed, in words.
    pub change: String,
    /// Parameters for the next attempt.
    pub knobs: Knobs,
    /// Wait before the next attempt.
    #[serde(with = "millis")]
    pub delay: Duration,
}

mod millis {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

/// How many times and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts at most, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled each time.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// What to try after `failures` failed attempts (the latest failing with `error`), or
    /// `None` to give up. `same_kind` counts earlier failures of the same category.
    pub fn next(
        &self,
        failures: u32,
        same_kind: u32,
        knobs: &Knobs,
        error: &UserError,
    ) -> Option<Retry> {
        if failures >= self.max_attempts {
            return None;
        }
        let delay = self.base_delay * 2u32.saturating_pow(failures.saturating_sub(1));
        let mut next = knobs.clone();
        let change = match error.category {
            ErrorCategory::Memory => match same_kind {
                1 => {
                    let steps = knobs.segment.steps.unwrap_or(DEFAULT_STEPS);
                    let fewer = (steps / 2).max(4);
                    if fewer == steps {
                        return self.next(failures, 2, knobs, error);
                    }
                    next.segment.steps = Some(fewer);
                    format!("out of memory: steps {steps} -> {fewer}")
                }
                2 => {
                    next.scale = knobs.scale * 0.75;
                    format!(
                        "out of memory: resolution x{:.2} -> x{:.2}",
                        knobs.scale, next.scale
                    )
                }
                3 if !knobs.segment.loras.is_empty() => {
                    next.segment.loras.clear();
                    format!(
                        "out of memory: dropped {} LoRA(s)",
                        knobs.segment.loras.len()
                    )
                }
                _ => return None,
            },
            ErrorCategory::GenerationPipeline => match same_kind {
                1 => {
                    let g = knobs.segment.guidance_scale.unwrap_or(6.0);
                    let gentler = (g * 0.5).max(1.0);
                    next.segment.guidance_scale = Some(gentler);
                    format!("pipeline error: guidance {g} -> {gentler}")
                }
                2 => {
                    next.segment.steps = None;
                    next.segment.guidance_scale = None;
                    "pipeline error: back to the backend's default steps and guidance".to_string()
                }
                _ => return None,
            },
            ErrorCategory::Network | ErrorCategory::SystemResource if error.retryable => {
                format!("{}: trying again", category_name(error.category))
            }
            _ => return None,
        };
        Some(Retry {
            change,
            knobs: next,
            delay,
        })
    }
}

fn category_name(c: ErrorCategory) -> &'static str {
    match c {
        ErrorCategory::Network => "network error",
        ErrorCategory::SystemResource => "system resource",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::Lora;

    fn knobs() -> Knobs {
        Knobs {
            segment: Segment {
                prompt: "p".into(),
                loras: vec![Lora {
                    name: "style".into(),
                    strength: 1.0,
                }],
                steps: Some(20),
                ..Default::default()
            },
            scale: 1.0,
        }
    }

    #[test]
    fn out_of_memory_walks_the_ladder_then_gives_up() {
        let p = RetryPolicy::default();
        let oom = UserError::new(ErrorCategory::Memory, "CUDA out of memory");
        let r1 = p.next(1, 1, &knobs(), &oom).unwrap();
        assert_eq!(r1.knobs.segment.steps, Some(10));
        assert_eq!(r1.delay, Duration::from_millis(500));
        let r2 = p.next(2, 2, &r1.knobs, &oom).unwrap();
        assert_eq!(r2.knobs.scale, 0.75);
        assert_eq!(r2.delay, Duration::from_secs(1));
        let r3 = p.next(3, 3, &r2.knobs, &oom).unwrap();
        assert!(r3.knobs.segment.loras.is_empty());
        assert!(
            p.next(4, 4, &r3.knobs, &oom).is_none(),
            "attempts exhausted"
        );
        assert!(
            RetryPolicy {
                max_attempts: 9,
                ..p
            }
            .next(4, 4, &r3.knobs, &oom)
            .is_none(),
            "ladder exhausted"
        );
    }

    #[test]
    fn input_errors_fail_fast_and_network_errors_repeat() {
        let p = RetryPolicy::default();
        assert!(p.next(1, 1, &knobs(), &UserError::input("bad")).is_none());
        assert!(p.next(1, 1, &knobs(), &UserError::cancelled()).is_none());
        let mut net = UserError::new(ErrorCategory::Network, "connection reset");
        net.retryable = true;
        let r = p.next(1, 1, &knobs(), &net).unwrap();
        assert_eq!(r.knobs, knobs());
        let r = p.next(3, 3, &knobs(), &net).unwrap();
        assert_eq!(r.delay, Duration::from_secs(2));
    }

    #[test]
    fn pipeline_errors_soften_guidance_then_reset() {
        let p = RetryPolicy::default();
        let e = UserError::new(ErrorCategory::GenerationPipeline, "NaN in sampler");
        let r1 = p.next(1, 1, &knobs(), &e).unwrap();
        assert_eq!(r1.knobs.segment.guidance_scale, Some(3.0));
        let r2 = p.next(2, 2, &r1.knobs, &e).unwrap();
        assert_eq!(r2.knobs.segment.guidance_scale, None);
        assert_eq!(r2.knobs.segment.steps, None);
        assert!(p.next(3, 3, &r2.knobs, &e).is_none());
    }
}
