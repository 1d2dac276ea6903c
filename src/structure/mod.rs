//! Structure video: a video whose motion the generated frames follow.
//!
//! Load the source range -> map it onto the timeline (*adjust*: linear resample of the
//! range over the whole timeline, `idx = start + floor(i (N_src - 1) / (N_out - 1))`; *clip*:
//! resample at the project fps, looping when short) -> center-crop to the output aspect and
//! resize (never stretched) -> estimate the flow of every distinct pair of consecutive
//! source frames once (through the flow cache) -> in each call, frames without an anchor or
//! context are made by progressively warping the last kept frame along that flow, scaled
//! by `motion_strength`. Must not know about the UI or the generator.

mod flows;

pub use flows::MEMORY_BUDGET as FLOW_MEMORY_BUDGET;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use crate::error::{Result, UserError};
use crate::flow::{FlowCache, FlowEstimator};
use crate::generate::CancelToken;
use crate::gpu::{Compute, FlowField};
use crate::guide::CallGuide;
use crate::media::{self, Frame};
use crate::plan::{Call, FrameClass};
use crate::project::{StructureVideo, Treatment};

/// The motion of a structure video, prepared for one render.
pub struct StructureMotion {
    /// Source frame index (absolute) used at every timeline frame.
    pub source_index: Vec<u32>,
    /// Crop rectangle applied to the source frames `(x, y, w, h)`.
    pub crop: (u32, u32, u32, u32),
    /// Flows keyed by source pair `(i, j)`: `S_j(x) ~ S_i(x + F(x))`.
    flows: flows::FlowStore,
    /// Distinct source pairs whose flow was needed.
    pub pairs_needed: usize,
    /// Flows the estimator computed in this render (the rest came from the cache).
    pub flows_estimated: usize,
    strength: f32,
}

/// Maps timeline frames `0..total` onto source frames `first..=last`.
pub fn source_indices(
    treatment: Treatment,
    first: u32,
    last: u32,
    total: u32,
    source_fps: f64,
    timeline_fps: f64,
) -> Vec<u32> {
    let n_src = last - first + 1;
    (0..total)
        .map(|i| match treatment {
            Treatment::Adjust => {
                if total <= 1 {
                    first
                } else {
                    first + (u64::from(i) * u64::from(n_src - 1) / u64::from(total - 1)) as u32
                }
            }
            Treatment::Clip => {
                let step = (f64::from(i) * source_fps / timeline_fps).floor() as u64;
                first + (step % u64::from(n_src)) as u32
            }
        })
        .collect()
}

/// Everything needed to prepare the motion of a structure video.
pub struct MotionTools<'a> {
    /// Image operations.
    pub compute: &'a dyn Compute,
    /// Flow estimator.
    pub estimator: &'a dyn FlowEstimator,
    /// Flow cache, if any.
    pub cache: Option<&'a FlowCache>,
}

/// The output a structure video is prepared for: its length, rate and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    /// Frames of the timeline.
    pub total: u32,
    /// Frames per second.
    pub fps: u32,
    /// Output width in pixels.
    pub width: u32,
    /// Output height in pixels.
    pub height: u32,
}

impl Timeline {
    /// The timeline of a plan.
    pub fn of(plan: &crate::plan::Plan) -> Self {
        Self {
            total: plan.total_frames,
            fps: plan.fps,
            width: plan.width,
            height: plan.height,
        }
    }
}

/// The source frames `(first, last)` of `sv` in the video at `path` of `count` frames, or
/// why they cannot be used.
fn source_range(sv: &StructureVideo, path: &Path, count: u32) -> Result<(u32, u32)> {
    if count == 1 {
        return Err(UserError::input(format!(
            "structure_video.path: {} holds a single picture, not a moving video",
            path.display()
        ))
        .hint("choose a video whose motion the render should follow"));
    }
    if count <= sv.start_frame {
        return Err(UserError::input(format!(
            "structure_video.start_frame: {} is past the end of {} ({count} frames)",
            sv.start_frame,
            path.display()
        ))
        .hint("choose a start frame inside the video"));
    }
    let first = sv.start_frame;
    let last = sv.end_frame.map_or(count - 1, |e| e.min(count - 1));
    if last < first {
        return Err(UserError::input(format!(
            "structure_video.end_frame: {last} is before start_frame {first}"
        ))
        .hint("choose an end frame after the start frame"));
    }
    Ok((first, last))
}

/// How many fitted frames the decoding thread may be ahead of the flow estimates.
const DECODE_AHEAD: usize = 4;

/// A decoded source frame: its index, fitted to the output when a pair needs it, and the
/// centre crop used.
struct Decoded {
    index: u32,
    fitted: Option<Frame>,
    crop: (u32, u32, u32, u32),
}

/// Decodes `path` up to source frame `last`, fitting the `needed` frames to `size`, and
/// sends each frame's [`Decoded`] to `tx`; stops at the end, on cancel, or when nobody
/// listens any more.
fn decode_range(
    path: &Path,
    last: u32,
    needed: &std::collections::HashSet<u32>,
    compute: &dyn crate::gpu::Compute,
    (width, height): (u32, u32),
    cancel: &CancelToken,
    tx: &std::sync::mpsc::SyncSender<Result<Decoded>>,
) -> Result<()> {
    let mut decoder = media::VideoDecoder::open(path)?;
    let mut index = 0u32;
    while index <= last {
        let Some(frame) = decoder.next_frame()? else {
            break;
        };
        if cancel.is_cancelled() {
            return Ok(());
        }
        let crop = media::center_crop_rect(frame.width, frame.height, width, height);
        let fitted = if needed.contains(&index) {
            Some(compute.crop_resize(&frame, crop, width, height)?)
        } else {
            None
        };
        if tx
            .send(Ok(Decoded {
                index,
                fitted,
                crop,
            }))
            .is_err()
        {
            return Ok(());
        }
        index += 1;
    }
    Ok(())
}

impl StructureMotion {
    /// Loads and analyses `sv` for `timeline`. `progress` receives the pairs of frames whose
    /// flow is done and the pairs in all (0 of n first).
    pub fn prepare(
        sv: &StructureVideo,
        project_dir: &Path,
        timeline: &Timeline,
        tools: &MotionTools<'_>,
        progress: &mut dyn FnMut(u32, u32),
        cancel: &CancelToken,
    ) -> Result<Self> {
        let Timeline {
            total,
            fps,
            width,
            height,
        } = *timeline;
        let path = project_dir.join(&sv.path);
        let field = |e: UserError| e.context("structure_video.path");
        let info = media::probe(&path).map_err(field)?;
        let source_fps = if info.fps.1 > 0 && info.fps.0 > 0 {
            f64::from(info.fps.0) / f64::from(info.fps.1)
        } else {
            f64::from(fps)
        };
        // How many frames the range holds, from the packets (nothing decoded yet).
        let count = media::count_frames(&path).map_err(field)?;
        let (first, last) = source_range(sv, &path, count)?;
        let source_index =
            source_indices(sv.treatment, first, last, total, source_fps, f64::from(fps));
        let pairs: BTreeSet<(u32, u32)> = source_index
            .windows(2)
            .filter(|w| w[0] != w[1])
            .map(|w| (w[0], w[1]))
            .collect();
        // Each source frame is kept only while a pair that needs it waits for its other end.
        let mut waiting: HashMap<u32, usize> = HashMap::new();
        for &(i, j) in &pairs {
            *waiting.entry(i).or_default() += 1;
            *waiting.entry(j).or_default() += 1;
        }
        let file_hash = hash_file(&path)?;
        let identity = tools.estimator.identity();
        let mut flows = flows::FlowStore::default();
        let mut estimated = 0usize;
        let mut crop = (0, 0, 0, 0);
        let mut held: HashMap<u32, Frame> = HashMap::new();
        let mut done = 0u32;
        progress(0, pairs.len() as u32);
        // Decoding and fitting run on their own thread, a few frames ahead (bounded), while
        // this one estimates every pair as soon as both of its frames are in hand.
        let needed: std::collections::HashSet<u32> = waiting.keys().copied().collect();
        let mut index = 0u32;
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Decoded>>(DECODE_AHEAD);
            let producer_cancel = cancel.clone();
            let compute = tools.compute;
            let (path, needed) = (&path, &needed);
            std::thread::Builder::new()
                .name("wayfarer-structure-decode".into())
                .spawn_scoped(scope, move || {
                    let decoded = decode_range(
                        path,
                        last,
                        needed,
                        compute,
                        (width, height),
                        &producer_cancel,
                        &tx,
                    );
                    if let Err(e) = decoded {
                        let _ = tx.send(Err(e));
                    }
                })
                .map_err(|e| {
                    UserError::new(
                        crate::error::ErrorCategory::SystemResource,
                        format!("cannot start the structure video's decoding: {e}"),
                    )
                })?;
            for message in rx {
                let Decoded {
                    index: decoded,
                    fitted,
                    crop: c,
                } = message.map_err(field)?;
                if cancel.is_cancelled() {
                    return Err(UserError::cancelled());
                }
                crop = c;
                index = decoded + 1;
                let Some(fitted) = fitted else { continue };
                let index = decoded;
                held.insert(index, fitted);
                let ready: Vec<(u32, u32)> = pairs
                    .iter()
                    .filter(|(i, j)| {
                        (*i == index || *j == index) && held.contains_key(i) && held.contains_key(j)
                    })
                    .copied()
                    .collect();
                for (i, j) in ready {
                    if cancel.is_cancelled() {
                        return Err(UserError::cancelled());
                    }
                    let (a, b) = (&held[&j], &held[&i]);
                    let mut compute = || {
                        estimated += 1;
                        tools.estimator.estimate(a, b)
                    };
                    let flow = match tools.cache {
                        Some(cache) => {
                            let key = format!(
                                "structure/{file_hash}/{i}-{j}/{width}x{height}/crop={crop:?}/{identity}"
                            );
                            cache.get_or_compute(&key, compute)?
                        }
                        None => compute()?,
                    };
                    flows.insert((i, j), flow)?;
                    done += 1;
                    progress(done, pairs.len() as u32);
                    for k in [i, j] {
                        if let Some(n) = waiting.get_mut(&k) {
                            *n -= 1;
                            if *n == 0 {
                                held.remove(&k);
                            }
                        }
                    }
                }
            }
            // The decoding stops quietly on cancel: say it here.
            if cancel.is_cancelled() {
                return Err(UserError::cancelled());
            }
            Ok(())
        })?;
        if index <= first {
            return Err(UserError::input(format!(
                "structure_video.path: no frame of {} from frame {first} on could be decoded",
                path.display()
            ))
            .hint("check that the video is complete, or choose an earlier start frame"));
        }
        Ok(Self {
            source_index,
            crop,
            pairs_needed: pairs.len(),
            flows_estimated: estimated,
            flows,
            strength: sv.motion_strength,
        })
    }

    /// The backward-warp field that carries timeline frame `t` to `t + 1` (`None`: no motion).
    pub fn step(&self, t: u32) -> Result<Option<std::sync::Arc<FlowField>>> {
        let (Some(&i), Some(&j)) = (
            self.source_index.get(t as usize),
            self.source_index.get(t as usize + 1),
        ) else {
            return Ok(None);
        };
        self.flows.get((i, j))
    }

    /// Flows kept in a temporary file because they exceeded the memory budget.
    pub fn flows_on_disk(&self) -> usize {
        self.flows.spilled()
    }

    /// Replaces the guide of every frame to generate in `call` with the last kept frame
    /// warped along the motion, step by step.
    pub fn apply(&self, call: &Call, guide: &mut CallGuide, compute: &dyn Compute) -> Result<()> {
        let mut last: Option<Frame> = None;
        for (offset, class) in guide.classes.clone().iter().enumerate() {
            match class {
                FrameClass::Anchor | FrameClass::Context => {
                    last = Some(guide.frames[offset].clone());
                }
                FrameClass::Transition | FrameClass::Free => {
                    if let Some(prev) = last.take() {
                        let t = call.start + offset as u32 - 1;
                        let moved = match self.step(t)? {
                            Some(flow) if self.strength > 0.0 => {
                                compute.warp(&prev, &flow, self.strength)?
                            }
                            _ => prev,
                        };
                        if *class == FrameClass::Free {
                            guide.frames[offset] = moved.clone();
                        }
                        guide.structured[offset] = true;
                        last = Some(moved);
                    }
                }
            }
        }
        Ok(())
    }
}

fn hash_file(path: &Path) -> Result<String> {
    let mut hasher = blake3::Hasher::new();
    let mut file = std::fs::File::open(path)
        .map_err(|e| UserError::io("reading structure video", path, &e))?;
    std::io::copy(&mut file, &mut hasher)
        .map_err(|e| UserError::io("reading structure video", path, &e))?;
    Ok(hasher.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjust_stretches_the_range_over_the_timeline() {
        // The incumbent pipeline maps frames as idx = start + int(i * (N_src - 1) / (N_out - 1)).
        let idx = source_indices(Treatment::Adjust, 10, 14, 9, 24.0, 16.0);
        assert_eq!(idx, vec![10, 10, 11, 11, 12, 12, 13, 13, 14]);
    }

    #[test]
    fn clip_plays_at_the_timeline_fps_and_loops() {
        let idx = source_indices(Treatment::Clip, 0, 3, 8, 32.0, 16.0);
        assert_eq!(idx, vec![0, 2, 0, 2, 0, 2, 0, 2]);
        let idx = source_indices(Treatment::Clip, 5, 7, 5, 16.0, 16.0);
        assert_eq!(idx, vec![5, 6, 7, 5, 6]);
    }
}
