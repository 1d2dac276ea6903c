//! Joining call outputs into one timeline and streaming it to the encoder.
//!
//! Context leads are crossfaded with cosine weights `alpha = (1 - cos(pi * t)) / 2`,
//! `t = (i + 1) / n`; a shared keyframe lead keeps the earlier call's frame; the last
//! `hold` frames stay in memory until the next call can no longer blend into them.

use std::collections::VecDeque;

use std::sync::Arc;

use crate::error::{ErrorCategory, Result, UserError};
use crate::fidelity::SeamAligner;
use crate::media::Frame;
use crate::plan::{Call, Lead};

/// Receives finished timeline frames in order.
pub trait FrameSink {
    /// Takes the next timeline frame.
    fn write(&mut self, frame: &Frame) -> Result<()>;
}

impl FrameSink for crate::media::VideoEncoder {
    fn write(&mut self, frame: &Frame) -> Result<()> {
        self.push(frame)
    }
}

impl FrameSink for crate::media::Writer {
    fn write(&mut self, frame: &Frame) -> Result<()> {
        self.push(frame)
    }
}

impl FrameSink for Vec<Frame> {
    fn write(&mut self, frame: &Frame) -> Result<()> {
        self.push(frame.clone());
        Ok(())
    }
}

/// A sink that drops frames: a render's workers keep only the tail of their chain, for
/// the context leads of the calls after it.
pub struct Discard;

impl FrameSink for Discard {
    fn write(&mut self, _frame: &Frame) -> Result<()> {
        Ok(())
    }
}

/// Cosine crossfade weight of the incoming call at lead frame `i` of `n`.
pub fn crossfade_alpha(i: usize, n: usize) -> f32 {
    let t = (i + 1) as f32 / n as f32;
    (1.0 - (std::f32::consts::PI * t).cos()) / 2.0
}

/// Assembles the output timeline from call outputs given in plan order.
pub struct Stitcher<S: FrameSink> {
    sink: S,
    pending: VecDeque<Frame>,
    /// Timeline index of `pending[0]`.
    first_pending: u32,
    hold: usize,
    /// Aligns context leads before they are crossfaded (generating backends).
    aligner: Option<Arc<SeamAligner>>,
}

impl<S: FrameSink> Stitcher<S> {
    /// A stitcher that keeps the last `hold` frames for blending.
    pub fn new(sink: S, hold: usize) -> Self {
        Self {
            sink,
            pending: VecDeque::new(),
            first_pending: 0,
            hold,
            aligner: None,
        }
    }

    /// The same stitcher, aligning each context lead with `aligner` before the crossfade
    /// (see [`crate::fidelity::seams`]).
    #[must_use]
    pub fn with_aligner(mut self, aligner: Option<Arc<SeamAligner>>) -> Self {
        self.aligner = aligner;
        self
    }

    /// A stitcher for a chain of calls whose first call starts at `start` with `lead`
    /// (`lead_frames` of them): it holds nothing before that call.
    pub fn starting_at(sink: S, hold: usize, start: u32, lead: Lead, lead_frames: u32) -> Self {
        let next = match lead {
            Lead::Start => 0,
            Lead::SharedKeyframe | Lead::Context => start + lead_frames,
        };
        Self {
            sink,
            pending: VecDeque::new(),
            first_pending: next,
            hold,
            aligner: None,
        }
    }

    /// Timeline index of the next frame to be appended.
    pub fn next_frame(&self) -> u32 {
        self.first_pending + self.pending.len() as u32
    }

    /// The rendered frames at timeline `start..start + count`, which must still be held.
    pub fn context(&self, start: u32, count: u32) -> Result<Vec<Frame>> {
        if start < self.first_pending || start + count > self.next_frame() {
            return Err(internal(&format!(
                "context frames {start}..{} are not held (held: {}..{})",
                start + count,
                self.first_pending,
                self.next_frame()
            )));
        }
        let from = (start - self.first_pending) as usize;
        Ok(self
            .pending
            .range(from..from + count as usize)
            .cloned()
            .collect())
    }

    /// Checks that `count` frames for `call` continue the timeline held here.
    fn check(&self, call: &Call, count: usize) -> Result<()> {
        if count != call.len() as usize {
            return Err(UserError::new(
                ErrorCategory::GenerationPipeline,
                format!(
                    "call {} returned {count} frames, expected {}",
                    call.index + 1,
                    call.len()
                ),
            ));
        }
        let expected_start = match call.lead {
            Lead::Start => 0,
            Lead::SharedKeyframe | Lead::Context => self.next_frame() - call.lead_frames,
        };
        if call.start != expected_start || (call.lead == Lead::Start && self.next_frame() != 0) {
            return Err(internal(&format!(
                "call {} starts at {}, the stitch expected {expected_start}",
                call.index + 1,
                call.start
            )));
        }
        Ok(())
    }

    /// Crossfades a context lead into the held frames (aligned first when `align` and
    /// an aligner is set); returns how many of the call's frames the lead used (they are
    /// not appended).
    fn join_lead(&mut self, call: &Call, frames: &[Frame], align: bool) -> Result<usize> {
        let lead = call.lead_frames as usize;
        match call.lead {
            Lead::Start => Ok(0),
            Lead::SharedKeyframe => Ok(lead),
            Lead::Context => {
                let base = self
                    .pending
                    .len()
                    .checked_sub(lead)
                    .ok_or_else(|| internal("context lead longer than the held frames"))?;
                match (&self.aligner, align) {
                    (Some(aligner), true) => {
                        let outgoing: Vec<Frame> =
                            self.pending.range(base..base + lead).cloned().collect();
                        let incoming = frames.get(..lead).unwrap_or(frames);
                        let (joined, _) =
                            aligner.join(&outgoing, incoming, &|i| crossfade_alpha(i, lead))?;
                        for (i, frame) in joined.into_iter().enumerate() {
                            self.pending[base + i] = frame;
                        }
                    }
                    _ => {
                        for (i, incoming) in frames.iter().take(lead).enumerate() {
                            let alpha = crossfade_alpha(i, lead);
                            let slot = &mut self.pending[base + i];
                            *slot = Frame::lerp(slot, incoming, alpha);
                        }
                    }
                }
                Ok(lead)
            }
        }
    }

    /// Adds the frames generated for `call`.
    pub fn add(&mut self, call: &Call, frames: Vec<Frame>) -> Result<()> {
        self.check(call, frames.len())?;
        let used = self.join_lead(call, &frames, true)?;
        self.pending.extend(frames.into_iter().skip(used));
        while self.pending.len() > self.hold {
            if let Some(frame) = self.pending.pop_front() {
                self.sink.write(&frame)?;
                self.first_pending += 1;
            }
        }
        Ok(())
    }

    /// Writes the held frames and returns the sink.
    pub fn finish(mut self) -> Result<S> {
        while let Some(frame) = self.pending.pop_front() {
            self.sink.write(&frame)?;
            self.first_pending += 1;
        }
        Ok(self.sink)
    }
}

impl Stitcher<Discard> {
    /// Adds the frames generated for `call` without taking them: only the frames that stay
    /// held (the last `hold` of the timeline) are copied, so a worker that hands the call's
    /// output on keeps no second copy of it.
    pub fn add_tail(&mut self, call: &Call, frames: &[Frame]) -> Result<()> {
        self.check(call, frames.len())?;
        // The joined lead is aligned only when some of it stays held (the next call's
        // context): otherwise the frames are dropped and the alignment would be wasted.
        let stays = frames.len().saturating_sub(call.lead_frames as usize) < self.hold;
        let used = self.join_lead(call, frames, stays)?;
        let rest = &frames[used..];
        let excess = (self.pending.len() + rest.len()).saturating_sub(self.hold);
        let from_pending = excess.min(self.pending.len());
        self.pending.drain(..from_pending);
        self.pending
            .extend(rest[excess - from_pending..].iter().cloned());
        self.first_pending += excess as u32;
        Ok(())
    }
}

fn internal(message: &str) -> UserError {
    UserError::new(
        ErrorCategory::GenerationPipeline,
        format!("internal stitch error: {message}"),
    )
    .hint("please report this with the project file")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::plan::CallAnchor;

    fn call(index: usize, start: u32, end: u32, lead_frames: u32, lead: Lead) -> Call {
        Call {
            index,
            first_span: index,
            last_span: index,
            window: 0,
            start,
            end,
            lead_frames,
            lead,
            anchors: vec![CallAnchor {
                offset: 0,
                keyframe: index,
            }],
            after: None,
            transition_frames: 0,
            transition_value: 0.3,
        }
    }

    fn solid(v: u8, n: u32) -> Vec<Frame> {
        (0..n).map(|_| Frame::filled(2, 2, [v, v, v])).collect()
    }

    #[test]
    fn context_lead_is_crossfaded_and_shared_keyframe_joined() {
        let mut s = Stitcher::new(Vec::new(), 4);
        s.add(&call(0, 0, 8, 1, Lead::Start), solid(0, 9)).unwrap();
        assert_eq!(s.context(5, 4).unwrap().len(), 4);
        assert!(s.context(3, 4).is_err(), "frame 3 is no longer held");
        // Second call: 4 context frames (timeline 5..=8) then 4 new frames.
        s.add(&call(1, 5, 12, 4, Lead::Context), solid(200, 8))
            .unwrap();
        // Third call joins on its shared keyframe at 12.
        s.add(&call(2, 12, 16, 1, Lead::SharedKeyframe), solid(100, 5))
            .unwrap();
        let out = s.finish().unwrap();
        assert_eq!(out.len(), 17);
        for i in 0..4 {
            let expected = (200.0 * crossfade_alpha(i, 4)).round() as u8;
            assert_eq!(out[5 + i].pixel(0, 0)[0], expected, "lead frame {i}");
        }
        assert_eq!(out[4].pixel(0, 0)[0], 0);
        assert_eq!(
            out[12].pixel(0, 0)[0],
            200,
            "earlier call keeps the shared keyframe"
        );
        assert_eq!(out[13].pixel(0, 0)[0], 100);
    }

    #[test]
    fn a_tail_kept_from_borrowed_frames_matches_the_whole_stitch() {
        let calls = [
            (call(0, 0, 8, 1, Lead::Start), ramp(0, 9)),
            (call(1, 5, 12, 4, Lead::Context), ramp(100, 8)),
            (call(2, 12, 16, 1, Lead::SharedKeyframe), ramp(150, 5)),
            (call(3, 13, 20, 4, Lead::Context), ramp(200, 8)),
        ];
        let mut whole = Stitcher::new(Vec::new(), 4);
        let mut tail = Stitcher::new(Discard, 4);
        for (c, frames) in &calls {
            whole.add(c, frames.clone()).unwrap();
            tail.add_tail(c, frames).unwrap();
            assert_eq!(whole.next_frame(), tail.next_frame());
            assert!(tail.pending.len() <= 4, "holds no more than the tail");
            let start = whole.next_frame() - 4;
            let a = whole.context(start, 4).unwrap();
            let b = tail.context(start, 4).unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(x.pixel(0, 0), y.pixel(0, 0));
            }
        }
        assert!(tail.add_tail(&calls[0].0, &calls[0].1).is_err());
    }

    fn ramp(from: u8, n: u32) -> Vec<Frame> {
        (0..n)
            .map(|i| {
                let v = from + i as u8 * 3;
                Frame::filled(2, 2, [v, v, v])
            })
            .collect()
    }

    #[test]
    fn wrong_frame_count_is_an_error() {
        let mut s = Stitcher::new(Vec::new(), 4);
        assert!(s.add(&call(0, 0, 8, 1, Lead::Start), solid(0, 8)).is_err());
    }

    #[test]
    fn cosine_weights_rise_to_one() {
        assert!((crossfade_alpha(0, 2) - 0.5).abs() < 1e-6);
        assert!((crossfade_alpha(1, 2) - 1.0).abs() < 1e-6);
        assert!(crossfade_alpha(0, 8) < crossfade_alpha(3, 8));
    }
}
