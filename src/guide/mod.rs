//! Guide and mask frames for one generation call (`docs/ARCHITECTURE.md` §4).
//!
//! Guide: the crop-fitted keyframe image at anchors and at the transition frames next to
//! them, rendered output at context frames, neutral gray (0.5) elsewhere. Mask: 0 = keep,
//! 1 = generate, transition frames in between; one value per frame. Must
//! not load files or run generators: it receives fitted anchors and context frames.

use crate::media::Frame;
use crate::plan::{Call, FrameClass};

/// What a generator receives for one call.
#[derive(Debug, Clone)]
pub struct CallGuide {
    /// One guide picture per call frame.
    pub frames: Vec<Frame>,
    /// Class of each call frame.
    pub classes: Vec<FrameClass>,
    /// Mask value of each call frame: 0 = keep, 1 = generate.
    pub mask: Vec<f32>,
    /// Frames whose guide follows a structure video's motion.
    pub structured: Vec<bool>,
}

impl CallGuide {
    /// Builds the guide of `call`.
    ///
    /// `anchor_frames[k]` is keyframe `k` already fitted to the output size; `context` holds
    /// the rendered frames at the call's leading timeline frames (`call.lead_frames` of them
    /// when the lead is context, else may be empty).
    pub fn build(
        call: &Call,
        anchor_frames: &[Frame],
        context: &[Frame],
        width: u32,
        height: u32,
    ) -> Self {
        Self::build_from(
            call,
            |k| anchor_frames.get(k).cloned(),
            context,
            width,
            height,
        )
    }

    /// [`CallGuide::build`] with the keyframe images given by `anchor` (keyframe index ->
    /// frame at the call size), so that only the call's own keyframes need to be loaded.
    pub fn build_from(
        call: &Call,
        anchor: impl Fn(usize) -> Option<Frame>,
        context: &[Frame],
        width: u32,
        height: u32,
    ) -> Self {
        let classes = call.frame_classes();
        let gray = Frame::gray(width, height);
        let nearest_anchor = |offset: usize| {
            call.anchors
                .iter()
                .min_by_key(|a| (a.offset as usize).abs_diff(offset))
                .and_then(|a| anchor(a.keyframe))
                .unwrap_or_else(|| gray.clone())
        };
        let frames = classes
            .iter()
            .enumerate()
            .map(|(offset, class)| match class {
                FrameClass::Anchor | FrameClass::Transition => nearest_anchor(offset),
                FrameClass::Context => context.get(offset).cloned().unwrap_or_else(|| gray.clone()),
                FrameClass::Free => gray.clone(),
            })
            .collect();
        let mask = call.mask();
        let structured = vec![false; classes.len()];
        Self {
            frames,
            classes,
            mask,
            structured,
        }
    }

    /// The mask as grey pictures (black = keep, white = generate), for inspection or upload.
    pub fn mask_frames(&self, width: u32, height: u32) -> Vec<Frame> {
        self.mask
            .iter()
            .map(|&m| {
                let v = (m.clamp(0.0, 1.0) * 255.0).round() as u8;
                Frame::filled(width, height, [v, v, v])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{CallAnchor, Lead};

    #[test]
    fn guide_has_anchors_context_and_gray() {
        let call = Call {
            index: 1,
            first_span: 1,
            last_span: 1,
            window: 0,
            start: 10,
            end: 18,
            lead_frames: 3,
            lead: Lead::Context,
            anchors: vec![
                CallAnchor {
                    offset: 2,
                    keyframe: 1,
                },
                CallAnchor {
                    offset: 8,
                    keyframe: 2,
                },
            ],
            after: Some(0),
            transition_frames: 0,
            transition_value: 0.3,
        };
        let anchors: Vec<Frame> = (0..3)
            .map(|k| Frame::filled(4, 2, [k * 50, 0, 0]))
            .collect();
        let context: Vec<Frame> = (0..3).map(|_| Frame::filled(4, 2, [0, 9, 0])).collect();
        let g = CallGuide::build(&call, &anchors, &context, 4, 2);
        assert_eq!(g.frames.len(), 9);
        assert_eq!(g.mask, vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
        assert_eq!(g.frames[0].pixel(0, 0), [0, 9, 0]);
        assert_eq!(
            g.frames[2].pixel(0, 0),
            [50, 0, 0],
            "anchor wins over context"
        );
        assert_eq!(g.frames[4].pixel(3, 1), [128, 128, 128]);
        assert_eq!(g.frames[8].pixel(0, 0), [100, 0, 0]);
        let masks = g.mask_frames(4, 2);
        assert_eq!(masks[0].pixel(0, 0), [0, 0, 0]);
        assert_eq!(masks[5].pixel(0, 0), [255, 255, 255]);
    }
}
