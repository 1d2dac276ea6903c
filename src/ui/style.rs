//! The studio's colours, named for what they mean, in one place: the legend, the timeline
//! and the panels all read them from here.

use egui::Color32;

use crate::plan::FrameClass;

/// Timeline background ticks and ruler text.
pub const RULER: Color32 = Color32::GRAY;
/// A span (segment) bar that is not selected.
pub const SPAN: Color32 = Color32::from_gray(70);
/// The selected span.
pub const SPAN_SELECTED: Color32 = Color32::from_rgb(90, 140, 220);
/// A thumbnail still loading.
pub const THUMB_LOADING: Color32 = Color32::from_gray(50);
/// A keyframe whose image cannot be read.
pub const THUMB_FAILED: Color32 = Color32::from_rgb(120, 30, 30);
/// Frames, outlines and marks drawn over the timeline.
pub const INK: Color32 = Color32::WHITE;
/// What a dragged keyframe will snap to.
pub const DRAG_HINT: Color32 = Color32::YELLOW;
/// Where the planner moved a keyframe (snap dots): the transition colour, as in the legend.
pub const SNAP: Color32 = Color32::from_rgb(230, 130, 60);
/// A call that covers several segments (merged).
pub const CALL_MERGED: Color32 = Color32::from_rgb(70, 150, 90);
/// A call of one segment.
pub const CALL: Color32 = Color32::from_rgb(70, 100, 160);
/// The shade over a call's context frames (kept from the call before).
pub const CONTEXT_SHADE: Color32 = Color32::from_rgba_premultiplied(0, 0, 0, 110);
/// Secondary text (the plan's summary).
pub const QUIET_TEXT: Color32 = Color32::LIGHT_GRAY;
/// The playhead.
pub const PLAYHEAD: Color32 = Color32::RED;
/// Good news: an export done, checks passed.
pub const SUCCESS: Color32 = Color32::from_rgb(140, 210, 140);
/// Something to look at that does not stop the work.
pub const WARNING: Color32 = Color32::from_rgb(230, 200, 120);
/// Something that stops the work.
pub const ERROR: Color32 = Color32::from_rgb(230, 90, 80);
/// A mark that the thing shown no longer matches the project.
pub const STALE: Color32 = Color32::from_rgb(230, 160, 60);

/// The colour of a frame class in the mask strip and the legend.
pub fn frame_class(class: FrameClass) -> Color32 {
    match class {
        FrameClass::Anchor => Color32::from_rgb(240, 200, 60),
        FrameClass::Context => Color32::from_rgb(150, 110, 210),
        FrameClass::Transition => SNAP,
        FrameClass::Free => Color32::from_gray(90),
    }
}
