//! A drifting test generator that behaves like chained video diffusion, without a model.
//!
//! The "world" is a pan across one real picture (`tests/data/sintel_0017.png`): keyframe
//! `k` is the crop at `x = STEP * k`, and the true frame at any timeline position is the
//! crop at the position interpolated between the keyframes. For one call the generator:
//! - returns the call's keyframes exactly (a model reproduces its anchors);
//! - returns its context frames moved [`SHIFT`] pixels sideways (a model regenerates the
//!   context it was given, not quite in place), and the generated frames after them moved
//!   by a shift that falls to 0 over [`SETTLE`] frames;
//! - gives every generated frame a warm, darker colour cast ([`cast`]) that continues the
//!   cast it measures in its last context frame and grows by [`GROWTH`] per frame (about
//!   8 dE over 81 frames on this picture).
//!
//! Without colour match the cast accumulates from call to call, as chained renders do.

#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::Path;

use wayfarer::generate::{Backend, CallProgress, CancelToken, Capabilities, GenerationRequest};
use wayfarer::media::{self, Frame};
use wayfarer::plan::FrameClass;

/// Pixels between keyframe crops.
pub const STEP: u32 = 120;
/// Crop (and output) size.
pub const SIZE: (u32, u32) = (320, 176);
/// Top of the crops.
pub const TOP: u32 = 100;
/// Pixels the regenerated context frames are moved.
pub const SHIFT: i32 = 2;
/// Frames over which the shift settles after the context.
pub const SETTLE: usize = 16;
/// Cast added per generated frame.
pub const GROWTH: f32 = 1.0 / 80.0;

/// The picture the world pans across.
pub fn world() -> Frame {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sintel_0017.png");
    media::load_image(&path).unwrap()
}

/// The crop of `world` with its left edge at `x`.
pub fn crop(world: &Frame, x: u32) -> Frame {
    let (w, h) = SIZE;
    let mut out = Frame::filled(w, h, [0, 0, 0]);
    for y in 0..h {
        let src = (((TOP + y) * world.width + x) * 3) as usize;
        let dst = (y * w * 3) as usize;
        out.data[dst..dst + (w * 3) as usize]
            .copy_from_slice(&world.data[src..src + (w * 3) as usize]);
    }
    out
}

/// Writes keyframe images `key_0.png` … into `dir`; returns their names.
pub fn write_keyframes(dir: &Path, count: u32) -> Vec<String> {
    let world = world();
    (0..count)
        .map(|k| {
            let name = format!("key_{k}.png");
            crop(&world, STEP * k)
                .into_rgb_image()
                .save(dir.join(&name))
                .unwrap();
            name
        })
        .collect()
}

/// The warm cast of strength `a` (red up, green and blue down; negative undoes it).
pub fn cast(frame: &Frame, a: f32) -> Frame {
    let mut out = frame.clone();
    for px in out.data.chunks_exact_mut(3) {
        px[0] = (f32::from(px[0]) * (1.0 + 0.06 * a) + 4.0 * a)
            .round()
            .clamp(0.0, 255.0) as u8;
        px[1] = (f32::from(px[1]) * (1.0 - 0.04 * a))
            .round()
            .clamp(0.0, 255.0) as u8;
        px[2] = (f32::from(px[2]) * (1.0 - 0.12 * a))
            .round()
            .clamp(0.0, 255.0) as u8;
    }
    out
}

/// The cast strength that makes `truth` look like `seen`, read from the blue channel.
pub fn cast_in(seen: &Frame, truth: &Frame) -> f32 {
    let blue = |f: &Frame| {
        f.data
            .iter()
            .skip(2)
            .step_by(3)
            .map(|&v| f64::from(v))
            .sum::<f64>()
            / (f.data.len() / 3) as f64
    };
    ((1.0 - blue(seen) / blue(truth).max(1.0)) / 0.12) as f32
}

/// `frame` moved `dx` pixels to the right (edge pixels repeated).
pub fn shift(frame: &Frame, dx: i32) -> Frame {
    let (w, h) = (frame.width as i32, frame.height as i32);
    let mut out = frame.clone();
    for y in 0..h {
        for x in 0..w {
            let sx = (x - dx).clamp(0, w - 1);
            let (d, s) = (((y * w + x) * 3) as usize, ((y * w + sx) * 3) as usize);
            out.data[d..d + 3].copy_from_slice(&frame.data[s..s + 3]);
        }
    }
    out
}

/// What the loopback ComfyUI server's "model" does when drifting, to a call's frames
/// (`kept[i]`: frame `i` was kept by the mask): the leading kept frames (a context lead
/// longer than one frame) come back moved [`SHIFT`] pixels; every other generated frame
/// gets the cast measured in the last leading frame against the next kept frame, carried
/// through the call (the frames were dissolved from the one toward the other), plus
/// [`GROWTH`] per frame.
pub fn drift_call(frames: &mut [Frame], kept: &[bool]) {
    let n = frames.len();
    let lead = kept.iter().take_while(|k| **k).count().min(n);
    let next = (lead..n).find(|&i| kept[i]).unwrap_or(n - 1);
    let start = if lead > 1 && lead < n {
        cast_in(&frames[lead - 1], &frames[next])
    } else {
        0.0
    };
    for i in 0..n {
        if i < lead {
            if lead > 1 {
                frames[i] = shift(&frames[i], SHIFT);
            }
        } else if !kept[i] {
            // The dissolve already carries the start's cast at its beginning, none at its end.
            let t = (i - lead) as f32 / (next.max(lead + 1) - lead) as f32;
            let a = start * t.min(1.0) + (i - lead + 1) as f32 * GROWTH;
            frames[i] = cast(&frames[i], a);
        }
    }
}

/// The drifting generator for a project whose keyframes sit at `positions`.
pub struct Drifting {
    inner: wayfarer::generate::Builtin,
    world: Frame,
    positions: Vec<u32>,
}

impl Drifting {
    /// A generator for keyframes at `positions` (timeline frames).
    pub fn new(positions: &[u32]) -> Self {
        Self {
            inner: wayfarer::generate::Builtin::default(),
            world: world(),
            positions: positions.to_vec(),
        }
    }

    /// The true frame at timeline frame `t`.
    pub fn truth(&self, t: u32) -> Frame {
        let p = &self.positions;
        let k = p
            .iter()
            .rposition(|&q| q <= t)
            .unwrap_or(0)
            .min(p.len() - 2);
        let a = (t.saturating_sub(p[k])) as f32 / (p[k + 1] - p[k]) as f32;
        let x = (STEP as f32 * (k as f32 + a.min(1.0))).round() as u32;
        crop(&self.world, x)
    }
}

impl Backend for Drifting {
    fn name(&self) -> &'static str {
        "drifting"
    }

    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }

    fn generate(
        &self,
        request: &GenerationRequest<'_>,
        progress: &mut dyn FnMut(CallProgress),
        _cancel: &CancelToken,
    ) -> wayfarer::Result<Vec<Frame>> {
        let call = request.call;
        let guide = request.guide;
        let lead = guide
            .classes
            .iter()
            .take_while(|c| **c == FrameClass::Context)
            .count();
        let start_cast = if lead > 0 {
            cast_in(
                &guide.frames[lead - 1],
                &self.truth(call.start + lead as u32 - 1),
            )
        } else {
            0.0
        };
        let n = guide.frames.len();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let frame = if guide.mask[i] <= 0.0 && guide.classes[i] != FrameClass::Context {
                guide.frames[i].clone()
            } else if i < lead {
                shift(&guide.frames[i], SHIFT)
            } else {
                let t = call.start + i as u32;
                let a = start_cast + (i - lead + 1) as f32 * GROWTH;
                let settle = if lead > 0 {
                    1.0 - (i - lead) as f32 / SETTLE as f32
                } else {
                    0.0
                };
                let dx = (SHIFT as f32 * settle.max(0.0)).round() as i32;
                shift(&cast(&self.truth(t), a), dx)
            };
            out.push(frame);
            progress(CallProgress::fraction((i + 1) as f32 / n as f32));
        }
        Ok(out)
    }
}
