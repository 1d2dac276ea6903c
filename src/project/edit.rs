//! Edits of a project and their undo history.
//!
//! The studio never mutates the project in place: widgets produce [`Edit`]s and the app
//! applies them through [`History`], which keeps snapshots for undo and redo. Pure: no
//! files, no UI.

use std::path::PathBuf;

use super::{Keyframe, MAX_TIMELINE_FRAME, Project, Segment};

/// Frames between keyframes added in one go.
pub const DEFAULT_GAP_FRAMES: u32 = 32;

/// One change to a project.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Inserts images as keyframes at `at_frame`, `DEFAULT_GAP_FRAMES` apart; keyframes at
    /// or after the insertion point move right to make room.
    AddKeyframes {
        /// Image paths.
        images: Vec<PathBuf>,
        /// Timeline frame of the first new keyframe.
        at_frame: u32,
    },
    /// Moves a keyframe, kept strictly between its neighbours (the first stays at 0).
    MoveKeyframe {
        /// Keyframe index.
        index: usize,
        /// New position.
        frame: u32,
    },
    /// Removes a keyframe; if it was the first, the timeline shifts so the next is at 0.
    DeleteKeyframe {
        /// Keyframe index.
        index: usize,
    },
    /// Moves a keyframe's image to another slot; positions stay where they are.
    ReorderKeyframe {
        /// Index of the image to move.
        from: usize,
        /// Index it moves to.
        to: usize,
    },
    /// Replaces the parameters of one span (splitting a shared segment into one per span).
    SetSegment {
        /// Span index.
        span: usize,
        /// New parameters.
        segment: Segment,
    },
    /// Gives a keyframe another image; its position and prompts stay.
    ReplaceImage {
        /// Keyframe index.
        index: usize,
        /// The new image.
        image: PathBuf,
    },
    /// Replaces the whole document (settings edits).
    Replace(Box<Project>),
}

/// Applies `edit` to `project`. Returns `false` when the edit changes nothing.
pub fn apply(project: &mut Project, edit: &Edit) -> bool {
    let before = project.clone();
    match edit {
        Edit::AddKeyframes { images, at_frame } => add_keyframes(project, images, *at_frame),
        Edit::MoveKeyframe { index, frame } => {
            let n = project.keyframes.len();
            if *index < n && *index > 0 {
                let low = project.keyframes[index - 1].frame + 1;
                let high = project
                    .keyframes
                    .get(index + 1)
                    .map_or(MAX_TIMELINE_FRAME, |k| k.frame - 1);
                project.keyframes[*index].frame = (*frame).clamp(low, high.max(low));
            }
        }
        Edit::DeleteKeyframe { index } => {
            if *index < project.keyframes.len() {
                if project.segments.len() > 1 && project.segments.len() == project.span_count() {
                    // The span that ended (or, for the first keyframe, started) here goes.
                    let span = index.saturating_sub(1).min(project.segments.len() - 1);
                    project.segments.remove(span);
                }
                project.keyframes.remove(*index);
                if let Some(first) = project.keyframes.first().map(|k| k.frame) {
                    for k in &mut project.keyframes {
                        k.frame -= first;
                    }
                }
            }
        }
        Edit::ReorderKeyframe { from, to } => {
            let n = project.keyframes.len();
            if *from < n && *to < n && from != to {
                let frames: Vec<u32> = project.keyframes.iter().map(|k| k.frame).collect();
                let moved = project.keyframes.remove(*from);
                project.keyframes.insert(*to, moved);
                for (k, f) in project.keyframes.iter_mut().zip(frames) {
                    k.frame = f;
                }
            }
        }
        Edit::SetSegment { span, segment } => {
            let spans = project.span_count();
            if *span < spans.max(1) {
                if project.segments.len() == 1 && spans > 1 {
                    project.segments = vec![project.segments[0].clone(); spans];
                }
                let slot = (*span).min(project.segments.len() - 1);
                project.segments[slot] = segment.clone();
            }
        }
        Edit::ReplaceImage { index, image } => {
            if let Some(k) = project.keyframes.get_mut(*index) {
                k.image.clone_from(image);
            }
        }
        Edit::Replace(p) => *project = (**p).clone(),
    }
    normalize_segments(project);
    *project != before
}

fn add_keyframes(project: &mut Project, images: &[PathBuf], at_frame: u32) {
    if images.is_empty() {
        return;
    }
    let at_frame = if project.keyframes.is_empty() {
        0
    } else {
        at_frame
    };
    let insert_at = project.keyframes.partition_point(|k| k.frame < at_frame);
    let count = images.len() as u32;
    let new_frames: Vec<u32> = (0..count)
        .map(|i| at_frame + i * DEFAULT_GAP_FRAMES)
        .collect();
    // Keyframes at or after the insertion point move right past the new ones.
    if let Some(next) = project.keyframes.get(insert_at).map(|k| k.frame) {
        let last_new = at_frame + (count - 1) * DEFAULT_GAP_FRAMES;
        let needed = (last_new + DEFAULT_GAP_FRAMES).saturating_sub(next);
        for k in &mut project.keyframes[insert_at..] {
            k.frame = (k.frame + needed).min(MAX_TIMELINE_FRAME);
        }
    }
    let span_segment = (project.segments.len() > 1).then(|| {
        let span = insert_at.saturating_sub(1).min(project.segments.len() - 1);
        project.segments[span].clone()
    });
    for (i, (image, frame)) in images.iter().zip(new_frames).enumerate() {
        project.keyframes.insert(
            insert_at + i,
            Keyframe {
                image: image.clone(),
                frame,
            },
        );
        if let Some(seg) = &span_segment {
            project
                .segments
                .insert(insert_at.min(project.segments.len()), seg.clone());
        }
    }
    if let Some(first) = project.keyframes.first().map(|k| k.frame) {
        for k in &mut project.keyframes {
            k.frame -= first;
        }
    }
}

/// Keeps `segments` at one entry (shared) or one per span.
fn normalize_segments(project: &mut Project) {
    let spans = project.span_count();
    if project.segments.is_empty() {
        project.segments.push(Segment::default());
    }
    if project.segments.len() != 1 && project.segments.len() != spans {
        let last = project.segments.last().cloned().unwrap_or_default();
        project.segments.resize(spans.max(1), last);
    }
}

/// Snapshots for undo and redo.
#[derive(Debug, Clone, Default)]
pub struct History {
    undo: Vec<Project>,
    redo: Vec<Project>,
    /// Key of the last edit that may absorb the next one (typing into one field).
    last_coalesce: Option<String>,
}

/// Most undo steps kept.
const MAX_UNDO: usize = 500;

impl History {
    /// Applies `edit`; edits with the same `coalesce` key in a row form one undo step.
    /// Returns whether the project changed.
    pub fn apply(&mut self, project: &mut Project, edit: &Edit, coalesce: Option<&str>) -> bool {
        let before = project.clone();
        if !apply(project, edit) {
            return false;
        }
        let merge = coalesce.is_some() && coalesce == self.last_coalesce.as_deref();
        if !merge {
            self.undo.push(before);
            if self.undo.len() > MAX_UNDO {
                self.undo.remove(0);
            }
        }
        self.redo.clear();
        self.last_coalesce = coalesce.map(String::from);
        true
    }

    /// Steps back; returns whether anything was undone.
    pub fn undo(&mut self, project: &mut Project) -> bool {
        match self.undo.pop() {
            Some(previous) => {
                self.redo.push(std::mem::replace(project, previous));
                self.last_coalesce = None;
                true
            }
            None => false,
        }
    }

    /// Steps forward again; returns whether anything was redone.
    pub fn redo(&mut self, project: &mut Project) -> bool {
        match self.redo.pop() {
            Some(next) => {
                self.undo.push(std::mem::replace(project, next));
                self.last_coalesce = None;
                true
            }
            None => false,
        }
    }

    /// Whether there is something to undo.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Whether there is something to redo.
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Ends the current coalescing run (e.g. when a text field loses focus).
    pub fn break_coalescing(&mut self) {
        self.last_coalesce = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Project {
        Project::from_json_str(
            r#"{"version":1,"fps":16,"width":832,"height":480,"model":"wan2.1-vace-14b",
               "keyframes":[],"segments":[{"prompt":"p"}]}"#,
        )
        .unwrap()
    }

    fn add(p: &mut Project, h: &mut History, names: &[&str], at: u32) {
        let images = names.iter().map(PathBuf::from).collect();
        h.apply(
            p,
            &Edit::AddKeyframes {
                images,
                at_frame: at,
            },
            None,
        );
    }

    #[test]
    fn adding_moving_deleting_keep_a_valid_document() {
        let mut p = empty();
        let mut h = History::default();
        add(&mut p, &mut h, &["a.png", "b.png", "c.png"], 500);
        let frames: Vec<u32> = p.keyframes.iter().map(|k| k.frame).collect();
        assert_eq!(frames, vec![0, 32, 64]);
        p.validate().unwrap();
        // Insert in the middle: later keyframes move right.
        add(&mut p, &mut h, &["x.png"], 40);
        let frames: Vec<u32> = p.keyframes.iter().map(|k| k.frame).collect();
        assert_eq!(frames, vec![0, 32, 40, 72]);
        p.validate().unwrap();
        // Moves are clamped between neighbours; the first keyframe stays at 0.
        h.apply(&mut p, &Edit::MoveKeyframe { index: 2, frame: 5 }, None);
        assert_eq!(p.keyframes[2].frame, 33);
        assert!(!apply(
            &mut p.clone(),
            &Edit::MoveKeyframe { index: 0, frame: 9 }
        ));
        h.apply(&mut p, &Edit::DeleteKeyframe { index: 0 }, None);
        assert_eq!(p.keyframes[0].frame, 0);
        p.validate().unwrap();
    }

    #[test]
    fn per_span_segments_follow_keyframes() {
        let mut p = empty();
        let mut h = History::default();
        add(&mut p, &mut h, &["a.png", "b.png", "c.png"], 0);
        let seg = Segment {
            prompt: "second".into(),
            ..Default::default()
        };
        h.apply(
            &mut p,
            &Edit::SetSegment {
                span: 1,
                segment: seg,
            },
            None,
        );
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments[0].prompt, "p");
        assert_eq!(p.segments[1].prompt, "second");
        h.apply(&mut p, &Edit::DeleteKeyframe { index: 2 }, None);
        assert_eq!(p.segments.len(), 1);
        p.validate().unwrap();
    }

    #[test]
    fn undo_redo_and_coalescing() {
        let mut p = empty();
        let mut h = History::default();
        add(&mut p, &mut h, &["a.png", "b.png"], 0);
        let original = p.clone();
        for text in ["h", "he", "hey"] {
            let segment = Segment {
                prompt: text.into(),
                ..Default::default()
            };
            h.apply(
                &mut p,
                &Edit::SetSegment { span: 0, segment },
                Some("prompt 0"),
            );
        }
        assert_eq!(p.segments[0].prompt, "hey");
        assert!(h.undo(&mut p));
        assert_eq!(p, original, "typing is one undo step");
        assert!(h.redo(&mut p));
        assert_eq!(p.segments[0].prompt, "hey");
        assert!(h.undo(&mut p));
        assert!(h.undo(&mut p));
        assert!(p.keyframes.is_empty());
        assert!(!h.undo(&mut p));
    }
}
