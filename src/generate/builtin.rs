//! The built-in generator, which needs no model.
//!
//! It is an **eased cross-dissolve**: every frame to generate is a smoothstep-weighted blend
//! of the nearest kept frames (mask 0: anchors or context) before and after it; with a kept
//! frame on one side only, that frame is held. A frame with a mask value `m` between 0 and
//! 1 (a transition frame) is `guide * (1 - m) + dissolve * m`. It does not invent motion;
//! a flow-guided morph is planned to replace it.

use super::{Backend, CancelToken, GenerationRequest};
use crate::error::{Result, UserError};
use crate::media::Frame;

/// Eased cross-dissolve between kept frames.
#[derive(Debug, Default, Clone, Copy)]
pub struct Builtin;

impl Backend for Builtin {
    fn name(&self) -> &str {
        "builtin"
    }

    fn generate(
        &mut self,
        request: &GenerationRequest<'_>,
        progress: &mut dyn FnMut(f32),
        cancel: &CancelToken,
    ) -> Result<Vec<Frame>> {
        let guide = request.guide;
        let kept: Vec<usize> = guide
            .mask
            .iter()
            .enumerate()
            .filter(|(_, m)| **m <= 0.0)
            .map(|(i, _)| i)
            .collect();
        let n = guide.frames.len();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            if cancel.is_cancelled() {
                return Err(UserError::cancelled());
            }
            let m = guide.mask[i];
            let frame = if m <= 0.0 {
                guide.frames[i].clone()
            } else {
                let before = kept.iter().rev().find(|&&k| k < i).copied();
                let after = kept.iter().find(|&&k| k > i).copied();
                match (before, after) {
                    (Some(a), Some(b)) => {
                        let t = (i - a) as f32 / (b - a) as f32;
                        let eased = t * t * (3.0 - 2.0 * t);
                        Frame::lerp(&guide.frames[a], &guide.frames[b], eased)
                    }
                    (Some(a), None) => guide.frames[a].clone(),
                    (None, Some(b)) => guide.frames[b].clone(),
                    (None, None) => guide.frames[i].clone(),
                }
            };
            let frame = if m < 1.0 {
                Frame::lerp(&guide.frames[i], &frame, m)
            } else {
                frame
            };
            out.push(frame);
            progress((i + 1) as f32 / n as f32);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guide::CallGuide;
    use crate::plan::{Call, CallAnchor, Lead};
    use crate::project::Segment;

    #[test]
    fn keeps_anchors_and_eases_between_them() {
        let call = Call {
            index: 0,
            first_span: 0,
            last_span: 0,
            window: 0,
            start: 0,
            end: 8,
            lead_frames: 1,
            lead: Lead::Start,
            anchors: vec![
                CallAnchor {
                    offset: 0,
                    keyframe: 0,
                },
                CallAnchor {
                    offset: 8,
                    keyframe: 1,
                },
            ],
            after: None,
            transition_frames: 0,
            transition_value: 0.3,
        };
        let anchors = [
            Frame::filled(2, 2, [0, 0, 0]),
            Frame::filled(2, 2, [240, 240, 240]),
        ];
        let guide = CallGuide::build(&call, &anchors, &[], 2, 2);
        let request = GenerationRequest {
            call: &call,
            guide: &guide,
            segment: &Segment::default(),
            seed: 1,
            width: 2,
            height: 2,
        };
        let mut fractions = Vec::new();
        let out = Builtin
            .generate(&request, &mut |f| fractions.push(f), &CancelToken::new())
            .unwrap();
        assert_eq!(out.len(), 9);
        assert_eq!(out[0], anchors[0]);
        assert_eq!(out[8], anchors[1]);
        let values: Vec<u8> = out.iter().map(|f| f.pixel(0, 0)[0]).collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
        assert_eq!(values[4], 120, "smoothstep is symmetric");
        assert!(values[1] < 30, "eased start: {values:?}");
        assert_eq!(fractions.last(), Some(&1.0));

        let cancel = CancelToken::new();
        cancel.cancel();
        let err = Builtin
            .generate(&request, &mut |_| {}, &cancel)
            .unwrap_err();
        assert_eq!(err.category, crate::error::ErrorCategory::Cancelled);
    }
}
