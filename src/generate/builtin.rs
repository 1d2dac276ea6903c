//! The built-in generator, which needs no model: a **flow-guided morph** between kept
//! frames.
//!
//! For every frame to generate, the nearest kept frames (mask 0: anchors or context)
//! before (`I0`) and after (`I1`) it are joined: flows `F01 = estimate(I0, I1)` and
//! `F10 = estimate(I1, I0)` give the flows at time `t` (linear-motion approximation)
//! `Ft0 = -(1-t) t F01 + t^2 F10` and `Ft1 = (1-t)^2 F01 - t (1-t) F10`; the frame is
//! `(1-t) warp(I0, Ft0) + t warp(I1, Ft1)`. When the flow does not explain the change (warping
//! `I1` back to `I0` removes less than 30 % of their difference, e.g. two unrelated
//! pictures) it falls back to an eased cross-dissolve. With a kept frame on one side only,
//! that frame is held. A frame with a mask value `m` between 0 and 1 (a transition frame) is
//! `guide * (1 - m) + generated * m`. When a structure video guides the call, the guide
//! frame (the last kept frame carried along the video's motion) is blended with the morph
//! by `smoothstep(t)`: the motion leads at the start, the end anchor wins at the end; with
//! no kept frame after it, the guide frame is used as it is.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::{Backend, CancelToken, GenerationRequest};
use crate::error::Result;
use crate::flow::cache::frame_pair_key;
use crate::flow::{DenseInverseSearch, FlowCache, FlowEstimator};
use crate::gpu::{Compute, CpuCompute, FlowField};
use crate::media::Frame;

/// Flow-guided morph between kept frames (see the module documentation).
pub struct Builtin {
    compute: Box<dyn Compute>,
    estimator: Box<dyn FlowEstimator>,
    cache: Option<FlowCache>,
    caps: super::Capabilities,
    /// The join of the last pair [`Builtin::interpolate`] was asked for.
    last_join: std::sync::Mutex<Option<([u8; 32], std::sync::Arc<Join>)>>,
}

impl Default for Builtin {
    fn default() -> Self {
        Self::new(
            Box::new(CpuCompute),
            Box::new(DenseInverseSearch::default()),
        )
    }
}

impl std::fmt::Debug for Builtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Builtin({}, {})",
            self.compute.name(),
            self.estimator.identity()
        )
    }
}

/// How a pair of kept frames is joined.
enum Join {
    Morph { f01: FlowField, f10: FlowField },
    Dissolve,
}

/// Part of the difference that warping must remove for the morph to be used.
const MIN_FLOW_GAIN: f64 = 0.3;

fn mean_abs_diff(a: &Frame, b: &Frame) -> f64 {
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.data.len().max(1) as f64
}

fn combine(a: &FlowField, wa: f32, b: &FlowField, wb: f32) -> FlowField {
    FlowField {
        width: a.width,
        height: a.height,
        data: a
            .data
            .iter()
            .zip(&b.data)
            .map(|(p, q)| [wa * p[0] + wb * q[0], wa * p[1] + wb * q[1]])
            .collect(),
    }
}

impl Builtin {
    /// A generator on `compute` with `estimator`.
    pub fn new(compute: Box<dyn Compute>, estimator: Box<dyn FlowEstimator>) -> Self {
        Self {
            compute,
            estimator,
            cache: None,
            caps: builtin_caps(),
            last_join: std::sync::Mutex::new(None),
        }
    }

    /// Keeps estimated flows in `cache` (a re-render then estimates nothing it did before).
    #[must_use]
    pub fn with_cache(mut self, cache: FlowCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The flow cache, if any.
    pub fn cache(&self) -> Option<&FlowCache> {
        self.cache.as_ref()
    }

    fn flow(&self, a: &Frame, b: &Frame) -> Result<FlowField> {
        match &self.cache {
            Some(cache) => {
                let key = frame_pair_key(a, b, &self.estimator.identity());
                cache.get_or_compute(&key, || self.estimator.estimate(a, b))
            }
            None => self.estimator.estimate(a, b),
        }
    }

    /// The built-in generator on the compute backend chosen by `WAYFARER_COMPUTE` (wgpu when
    /// an adapter exists, else the CPU).
    pub fn from_env() -> Result<Self> {
        let compute = crate::gpu::select(crate::gpu::Choice::from_env()?)?;
        let builtin = Self::new(compute, crate::flow::estimator_from_env()?);
        Ok(match FlowCache::user() {
            Some(cache) => builtin.with_cache(cache),
            None => builtin,
        })
    }

    fn join(&self, a: &Frame, b: &Frame) -> Result<Join> {
        let plain = mean_abs_diff(a, b);
        if plain < 0.5 {
            return Ok(Join::Dissolve);
        }
        let f01 = self.flow(a, b)?;
        let back = self.compute.warp(b, &f01, 1.0)?;
        if mean_abs_diff(a, &back) > (1.0 - MIN_FLOW_GAIN) * plain {
            return Ok(Join::Dissolve);
        }
        let f10 = self.flow(b, a)?;
        Ok(Join::Morph { f01, f10 })
    }

    /// The frame at time `t` (0 = `a`, 1 = `b`) of the morph from `a` to `b`. Successive
    /// calls for one pair reuse its flow.
    pub fn interpolate(&self, a: &Frame, b: &Frame, t: f32) -> Result<Frame> {
        let mut h = blake3::Hasher::new();
        h.update(&a.data);
        h.update(&b.data);
        h.update(&[a.width as u8, a.height as u8]);
        let key = *h.finalize().as_bytes();
        let cached = self.last_join.lock().ok().and_then(|g| {
            g.as_ref()
                .filter(|(k, _)| *k == key)
                .map(|(_, j)| j.clone())
        });
        let join = if let Some(j) = cached {
            j
        } else {
            let j = std::sync::Arc::new(self.join(a, b)?);
            if let Ok(mut g) = self.last_join.lock() {
                *g = Some((key, j.clone()));
            }
            j
        };
        self.between(a, b, &join, t)
    }

    fn between(&self, a: &Frame, b: &Frame, join: &Join, t: f32) -> Result<Frame> {
        match join {
            Join::Dissolve => {
                let eased = t * t * (3.0 - 2.0 * t);
                self.compute.blend(a, b, eased)
            }
            Join::Morph { f01, f10 } => {
                let ft0 = combine(f01, -(1.0 - t) * t, f10, t * t);
                let ft1 = combine(f01, (1.0 - t) * (1.0 - t), f10, -t * (1.0 - t));
                let from_a = self.compute.warp(a, &ft0, 1.0)?;
                let from_b = self.compute.warp(b, &ft1, 1.0)?;
                self.compute.blend(&from_a, &from_b, t)
            }
        }
    }
}

/// The shipped capabilities of the built-in generator.
fn builtin_caps() -> super::Capabilities {
    // The file is compiled in and parsed by a unit test, so this cannot fail at run time;
    // fall back to travel-only limits all the same.
    super::modes::shipped("builtin").unwrap_or_else(|_| super::Capabilities {
        max_frames: 100_000,
        size_multiple: 2,
        parallel_slots: 1,
        modes: vec![super::ModeLimits {
            mode: super::Mode::Travel,
            max_steps: 1000,
            min_side: 16,
            max_side: 8192,
            loras: true,
        }],
    })
}

/// The identity of the built-in generator with `estimator`.
pub(super) fn identity(estimator: &dyn FlowEstimator) -> String {
    format!("builtin/{}", estimator.identity())
}

impl Backend for Builtin {
    fn name(&self) -> &'static str {
        "builtin"
    }

    fn generates(&self) -> bool {
        false
    }

    fn flow_cache(&self) -> Option<&FlowCache> {
        self.cache.as_ref()
    }

    fn capabilities(&self) -> &super::Capabilities {
        &self.caps
    }

    fn identity(&self) -> String {
        identity(self.estimator.as_ref())
    }

    fn device(&self) -> String {
        format!(
            "{} (flow: {})",
            self.compute.name(),
            self.estimator.describe()
        )
    }

    fn generate(
        &self,
        request: &GenerationRequest<'_>,
        progress: &mut dyn FnMut(super::CallProgress),
        cancel: &CancelToken,
    ) -> Result<Vec<Frame>> {
        let guide = request.guide;
        let mut joins: HashMap<(usize, usize), Join> = HashMap::new();
        let mut make = |i: usize, before: Option<usize>, after: Option<usize>| {
            Ok(match (before, after) {
                (Some(a), Some(b)) => {
                    let join = match joins.entry((a, b)) {
                        Entry::Occupied(e) => e.into_mut(),
                        Entry::Vacant(v) => {
                            v.insert(self.join(&guide.frames[a], &guide.frames[b])?)
                        }
                    };
                    let t = (i - a) as f32 / (b - a) as f32;
                    let morph = self.between(&guide.frames[a], &guide.frames[b], join, t)?;
                    if guide.structured[i] {
                        // Follow the structure video's motion from the start, arriving
                        // at the end anchor.
                        let eased = t * t * (3.0 - 2.0 * t);
                        self.compute.blend(&guide.frames[i], &morph, eased)?
                    } else {
                        morph
                    }
                }
                (Some(_), None) if guide.structured[i] => guide.frames[i].clone(),
                (Some(a), None) => guide.frames[a].clone(),
                (None, Some(b)) => guide.frames[b].clone(),
                (None, None) => guide.frames[i].clone(),
            })
        };
        let frames = super::fill_generated(guide, progress, cancel, &mut make, &|a, b, m| {
            self.compute.blend(a, b, m)
        })?;
        for note in self.compute.take_notes() {
            progress(super::CallProgress {
                fraction: 1.0,
                step: None,
                note: Some(note),
            });
        }
        Ok(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guide::CallGuide;
    use crate::media::psnr;
    use crate::plan::{Call, CallAnchor, Lead};
    use crate::project::Segment;

    fn call(len: u32) -> Call {
        Call {
            index: 0,
            first_span: 0,
            last_span: 0,
            window: 0,
            start: 0,
            end: len - 1,
            lead_frames: 1,
            lead: Lead::Start,
            anchors: vec![
                CallAnchor {
                    offset: 0,
                    keyframe: 0,
                },
                CallAnchor {
                    offset: len - 1,
                    keyframe: 1,
                },
            ],
            after: None,
            transition_frames: 0,
            transition_value: 0.3,
        }
    }

    fn run(anchors: &[Frame; 2], len: u32) -> Vec<Frame> {
        let (w, h) = (anchors[0].width, anchors[0].height);
        let c = call(len);
        let guide = CallGuide::build(&c, anchors, &[], w, h);
        let request = GenerationRequest {
            call: &c,
            guide: &guide,
            segment: &Segment::default(),
            seed: 1,
            width: w,
            height: h,
            fps: 16,
        };
        Builtin::default()
            .generate(&request, &mut |_| {}, &CancelToken::new())
            .unwrap()
    }

    /// A textured picture shifted right by `dx` pixels (edges replicated).
    fn textured(dx: f32) -> Frame {
        let (w, h) = (96u32, 64u32);
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let u = x as f32 - dx;
                let v = y as f32;
                let r = 128.0 + 100.0 * (u / 5.0).sin() * (v / 7.0).cos();
                let g = 128.0 + 90.0 * ((u + v) / 9.0).sin();
                let b = 128.0 + 80.0 * (u / 11.0).cos();
                data.extend([r as u8, g as u8, b as u8]);
            }
        }
        Frame {
            width: w,
            height: h,
            data,
        }
    }

    #[test]
    fn morph_moves_content_instead_of_dissolving() {
        let out = run(&[textured(0.0), textured(8.0)], 9);
        assert_eq!(out[0], textured(0.0));
        assert_eq!(out[8], textured(8.0));
        // Compared away from the left and right edges, where content enters and leaves.
        let inner = |f: &Frame| {
            let img = f.clone().into_rgb_image();
            Frame::from_rgb_image(image::imageops::crop_imm(&img, 12, 0, 72, 64).to_image())
        };
        let expected_mid = inner(&textured(4.0));
        let morph = psnr(&inner(&out[4]), &expected_mid);
        let dissolve = psnr(
            &inner(&Frame::lerp(&textured(0.0), &textured(8.0), 0.5)),
            &expected_mid,
        );
        assert!(
            morph > dissolve + 6.0,
            "morph {morph:.1} dB vs dissolve {dissolve:.1} dB"
        );
    }

    #[test]
    fn unrelated_pictures_fall_back_to_a_dissolve() {
        let a = Frame::filled(64, 48, [10, 200, 30]);
        let b = Frame::filled(64, 48, [220, 20, 140]);
        let out = run(&[a.clone(), b.clone()], 5);
        assert_eq!(out[0], a);
        assert_eq!(out[4], b);
        let mid = out[2].pixel(10, 10);
        assert!((i32::from(mid[0]) - 115).abs() <= 2, "{mid:?}");
    }
}
