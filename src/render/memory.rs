//! An estimate of a render's peak memory, for pre-flight's `memory` line.

use crate::plan::Plan;
use crate::project::Project;

/// Memory the program itself takes before any frame (libraries, GPU and codec state).
const BASE_BYTES: u64 = 200 << 20;

/// Frames of one call in flight on a worker: the guide, the mask, the output, a copy for the
/// stitcher and one for the encoder's queue.
const COPIES_PER_CALL_FRAME: u64 = 5;

/// The estimated peak memory of rendering `project` by `plan` with `slots` calls at once;
/// `structure_frames` is the number of structure-video frames in its range (0 without one).
pub fn estimate_peak_bytes(
    project: &Project,
    plan: &Plan,
    slots: usize,
    structure_frames: u64,
) -> u64 {
    let pixels = u64::from(plan.width) * u64::from(plan.height);
    let frame = pixels * 3;
    let longest = plan
        .calls
        .iter()
        .map(|c| u64::from(c.len()))
        .max()
        .unwrap_or(0);
    let calls = slots.max(1) as u64 * COPIES_PER_CALL_FRAME * longest * frame;
    let anchors = super::anchors::KEPT_ANCHORS.min(project.keyframes.len()) as u64 * frame;
    // The structure video is streamed: a few frames in hand (one at its own size, taken
    // as 4K at most), and its flows in memory up to their budget (the rest on disk).
    let structure = if project.structure_video.is_some() {
        let flows = (structure_frames.min(u64::from(plan.total_frames)) * pixels * 8)
            .min(crate::structure::FLOW_MEMORY_BUDGET);
        4 * frame + 3840 * 2160 * 3 + flows
    } else {
        0
    };
    BASE_BYTES + calls + anchors + structure
}

/// Bytes as GiB with one decimal, for people.
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}
