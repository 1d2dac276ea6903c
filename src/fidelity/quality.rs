//! The quality report of a render, measured on the frames of the finished video (decoded
//! from the file, so it describes what the user gets):
//!
//! - **Seam** of each join between calls: the largest frame difference across the join
//!   (from the frame before it to the frame after it) over the median frame difference
//!   of up to [`NEIGHBOURHOOD`] frame steps on each side. Frame difference: mean absolute
//!   difference of all RGB values of two consecutive frames, in levels; the median is
//!   taken as at least [`STILL`] level so a still picture does not make every small change
//!   a seam. 1 means the join moves as much as the video around it.
//! - **Colour drift** of each call: the CIE 1976 difference between the mean Lab colour of
//!   each frame the call generated and the target mean at that frame, interpolated between
//!   the fitted keyframe images before and after it by their timeline positions; the
//!   report gives the mean over the call's frames and the largest.
//! - **Anchor PSNR** of each keyframe: the frame at its position against its crop-fitted
//!   image.
//!
//! Thresholds ([`SEAM_LIMIT`], [`DRIFT_LIMIT`]) mark what is worth a second look.

use serde::Serialize;

use std::sync::Arc;

use super::lab::{ColorStats, delta_e76};
use crate::error::Result;
use crate::media::{Frame, psnr};
use crate::plan::{Lead, Plan};

/// Frame steps on each side of a join that make its neighbourhood.
pub const NEIGHBOURHOOD: u32 = 8;
/// Smallest median frame difference a seam is measured against, in levels.
pub const STILL: f32 = 1.0;
/// A join whose seam score is above this shows.
pub const SEAM_LIMIT: f32 = 1.5;
/// A call whose mean colour drift (dE) is above this shows.
pub const DRIFT_LIMIT: f32 = 3.0;

/// One join between two calls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JoinQuality {
    /// The later call (numbered from 1); the join is between it and the call before.
    pub call: usize,
    /// First timeline frame of the join (numbered from 0, as the timeline).
    pub frame: u32,
    /// Timeline frames of the join (the crossfaded overlap, or 1 for a shared keyframe).
    pub frames: u32,
    /// Largest frame difference across the join over the median around it.
    pub seam: f32,
    /// The segment (numbered from 1) whose re-roll makes the later call again.
    pub regenerate: usize,
}

/// The colour of one call's generated frames.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallQuality {
    /// The call, numbered from 1.
    pub call: usize,
    /// Its first and last timeline frame.
    pub frames: (u32, u32),
    /// Mean colour drift (dE76) of its generated frames.
    pub drift_de: f32,
    /// Largest drift of one of its frames.
    pub peak_drift_de: f32,
    /// Timeline frame of the largest drift.
    pub peak_frame: u32,
    /// The segment (numbered from 1) whose re-roll makes this call again.
    pub regenerate: usize,
}

/// One keyframe as it came out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnchorQuality {
    /// The keyframe, numbered from 1.
    pub keyframe: usize,
    /// Its timeline frame.
    pub frame: u32,
    /// PSNR in dB of the frame against the fitted image (`null` in JSON when identical).
    pub psnr_db: Option<f64>,
}

/// Seams, colour drift and anchors of one render.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct QualityReport {
    /// Every join, in timeline order.
    pub joins: Vec<JoinQuality>,
    /// Every call that generated frames, in timeline order.
    pub calls: Vec<CallQuality>,
    /// Every keyframe.
    pub anchors: Vec<AnchorQuality>,
    /// Frames measured.
    pub frames: u32,
}

impl QualityReport {
    /// The join with the highest seam score.
    pub fn worst_join(&self) -> Option<&JoinQuality> {
        self.joins.iter().max_by(|a, b| a.seam.total_cmp(&b.seam))
    }

    /// The call with the highest mean colour drift.
    pub fn worst_call(&self) -> Option<&CallQuality> {
        self.calls
            .iter()
            .max_by(|a, b| a.drift_de.total_cmp(&b.drift_de))
    }

    /// The keyframe with the lowest PSNR.
    pub fn worst_anchor(&self) -> Option<&AnchorQuality> {
        self.anchors.iter().min_by(|a, b| {
            a.psnr_db
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.psnr_db.unwrap_or(f64::INFINITY))
        })
    }
}

/// Mean absolute difference of two frames' bytes, in levels.
pub fn frame_difference(a: &Frame, b: &Frame) -> f32 {
    let sum: u64 = a
        .data
        .chunks(1 << 16)
        .zip(b.data.chunks(1 << 16))
        .map(|(x, y)| {
            x.iter()
                .zip(y)
                .map(|(&p, &q)| u64::from(p.abs_diff(q)))
                .sum::<u64>()
        })
        .sum();
    (sum as f64 / a.data.len().max(1) as f64) as f32
}

/// Loads keyframe `k` fitted to the output size.
pub type AnchorLoader<'a> = dyn Fn(usize) -> Result<Arc<Frame>> + 'a;

/// Builds the report from the video's frames, given one at a time in order. Holds a few
/// numbers per frame and one frame at a time: each keyframe image is loaded when the
/// frame at its position arrives.
pub struct QualityProbe<'a> {
    plan: &'a Plan,
    load: &'a AnchorLoader<'a>,
    /// Mean Lab colour of each keyframe's image, once loaded.
    anchor_means: Vec<Option<[f32; 3]>>,
    /// PSNR of each keyframe's frame, once seen (infinite when identical).
    anchor_psnr: Vec<Option<f64>>,
    previous: Option<Frame>,
    /// Frame difference into each frame (0 for the first).
    differences: Vec<f32>,
    /// Mean Lab colour of each frame.
    means: Vec<[f32; 3]>,
}

impl<'a> QualityProbe<'a> {
    /// A probe for a render of `plan`; `load(k)` gives keyframe `k` fitted to the output
    /// size.
    pub fn new(plan: &'a Plan, load: &'a AnchorLoader<'a>) -> Self {
        let n = plan.positions.len();
        Self {
            plan,
            load,
            anchor_means: vec![None; n],
            anchor_psnr: vec![None; n],
            previous: None,
            differences: Vec::new(),
            means: Vec::new(),
        }
    }

    /// Takes the next frame of the video; fails when a keyframe image cannot be loaded.
    pub fn push(&mut self, frame: Frame) -> Result<()> {
        let t = self.means.len() as u32;
        self.differences.push(
            self.previous
                .as_ref()
                .map_or(0.0, |p| frame_difference(p, &frame)),
        );
        self.means.push(ColorStats::of(&frame).mean);
        // Positions strictly increase: at most one keyframe sits at `t`.
        if let Ok(k) = self.plan.positions.binary_search(&t) {
            let image = (self.load)(k)?;
            self.anchor_psnr[k] = Some(psnr(&frame, &image));
            self.anchor_means[k] = Some(ColorStats::of(&image).mean);
        }
        self.previous = Some(frame);
        Ok(())
    }

    /// The target mean Lab colour at timeline frame `t`.
    fn target(&self, t: u32) -> Option<[f32; 3]> {
        let positions = &self.plan.positions;
        // Positions strictly increase: the first at or after `t`, and the one before it.
        let after = positions.partition_point(|&p| p < t);
        if after == positions.len() {
            return None;
        }
        let before = if positions[after] == t || after == 0 {
            after
        } else {
            after - 1
        };
        let (a, b) = (self.anchor_means[before]?, self.anchor_means[after]?);
        if positions[after] == positions[before] {
            return Some(a);
        }
        let w = (t - positions[before]) as f32 / (positions[after] - positions[before]) as f32;
        Some([0, 1, 2].map(|c| a[c] + (b[c] - a[c]) * w))
    }

    /// The report, once every frame was given.
    pub fn finish(self) -> QualityReport {
        let total = self.means.len() as u32;
        let mut report = QualityReport {
            frames: total,
            ..QualityReport::default()
        };
        for call in &self.plan.calls {
            let own_start = match call.lead {
                Lead::Start => call.start,
                Lead::SharedKeyframe | Lead::Context => call.start + call.lead_frames,
            };
            if call.lead != Lead::Start {
                let (first, last) = match call.lead {
                    Lead::Context => (call.start, own_start),
                    _ => (call.start, call.start + 1),
                };
                if let Some(seam) = self.seam(first, last) {
                    report.joins.push(JoinQuality {
                        call: call.index + 1,
                        frame: call.start,
                        frames: (own_start - call.start).max(1),
                        seam,
                        regenerate: call.first_span + 1,
                    });
                }
            }
            // The frames the call generated: not the lead, not a keyframe position.
            let mut drifts = Vec::new();
            for t in own_start..=call.end.min(total.saturating_sub(1)) {
                if self.plan.positions.binary_search(&t).is_ok() {
                    continue;
                }
                if let (Some(target), Some(mean)) = (self.target(t), self.means.get(t as usize)) {
                    drifts.push((t, delta_e76(*mean, target)));
                }
            }
            if let Some(&(peak_frame, peak)) = drifts.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
                report.calls.push(CallQuality {
                    call: call.index + 1,
                    frames: (call.start, call.end),
                    drift_de: drifts.iter().map(|d| d.1).sum::<f32>() / drifts.len() as f32,
                    peak_drift_de: peak,
                    peak_frame,
                    regenerate: call.first_span + 1,
                });
            }
        }
        report.joins.sort_by_key(|j| j.frame);
        report.calls.sort_by_key(|c| c.frames.0);
        for (k, &frame) in self.plan.positions.iter().enumerate() {
            if let Some(Some(p)) = self.anchor_psnr.get(k) {
                report.anchors.push(AnchorQuality {
                    keyframe: k + 1,
                    frame,
                    psnr_db: p.is_finite().then_some(*p),
                });
            }
        }
        report
    }

    /// The seam score of the join over timeline frames `first..last` (the frame steps into
    /// `first` through into `last`).
    fn seam(&self, first: u32, last: u32) -> Option<f32> {
        let steps = self.differences.len() as u32;
        let across = (first.max(1)..=last.min(steps.saturating_sub(1)))
            .map(|t| self.differences[t as usize])
            .fold(None, |m: Option<f32>, d| Some(m.map_or(d, |m| m.max(d))))?;
        let mut around: Vec<f32> = (first.saturating_sub(NEIGHBOURHOOD).max(1)..first)
            .chain(last + 1..(last + 1 + NEIGHBOURHOOD).min(steps))
            .map(|t| self.differences[t as usize])
            .collect();
        around.sort_by(f32::total_cmp);
        let median = around.get(around.len() / 2).copied().unwrap_or(0.0);
        Some(across / median.max(STILL))
    }
}
