//! The human-readable form of a [`Plan`] (what `wayfarer plan` prints).

use std::fmt::{self, Write as _};

use super::{FrameClass, Plan};

/// One character per call frame: `A` anchor, `C` context, `t` transition, `.` generate.
pub fn mask_string(classes: &[FrameClass]) -> String {
    classes
        .iter()
        .map(|f| match f {
            FrameClass::Anchor => 'A',
            FrameClass::Context => 'C',
            FrameClass::Transition => 't',
            FrameClass::Free => '.',
        })
        .collect()
}

/// Version of the JSON form of a plan (`docs/plan-schema.md`); bumped on incompatible change.
pub const PLAN_SCHEMA_VERSION: u32 = 1;

impl Plan {
    /// The plan as JSON (`wayfarer plan --json`): the [`Plan`] fields, `schema_version`, and
    /// for every call its `classes` (one letter per frame, see [`mask_string`]) and `mask`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("schema_version".into(), PLAN_SCHEMA_VERSION.into());
            if let Some(calls) = object.get_mut("calls").and_then(|c| c.as_array_mut()) {
                for (json, call) in calls.iter_mut().zip(&self.calls) {
                    if let Some(c) = json.as_object_mut() {
                        c.insert("classes".into(), mask_string(&call.frame_classes()).into());
                        if let Some(secs) = self.predicted_secs.get(call.index) {
                            c.insert("predicted_secs".into(), (*secs).into());
                        }
                        c.insert("mask".into(), call.mask().into());
                    }
                }
            }
        }
        value
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "model {} ({}n+1 frames, max {}), {:?} mode, overlap {}, {}x{} @ {} fps",
            self.profile.name,
            self.profile.frame_step,
            self.profile.max_frames,
            self.mode,
            self.overlap,
            self.width,
            self.height,
            self.fps
        );
        let _ = writeln!(
            s,
            "{} frames ({:.2} s), {} calls, merge policy {:?}, at most {} frames per call",
            self.total_frames,
            f64::from(self.total_frames) / f64::from(self.fps),
            self.calls.len(),
            self.merge_policy,
            self.max_frames_per_call
        );
        let _ = writeln!(
            s,
            "{:>4} {:>7} {:>6} {:>13} {:>5} {:>15} {:>7} {:>9} {:>8}  mask (A anchor, C context, t transition, . generate)",
            "call", "spans", "window", "timeline", "len", "lead", "after", "anchors", "predicted"
        );
        for c in &self.calls {
            let spans = if c.is_merged() {
                format!("{}-{}", c.first_span, c.last_span)
            } else {
                c.first_span.to_string()
            };
            let anchors = c
                .anchors
                .iter()
                .map(|a| a.keyframe.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let _ = writeln!(
                s,
                "{:>4} {:>7} {:>6} {:>13} {:>5} {:>15} {:>7} {:>9} {:>8}  {}",
                c.index + 1,
                spans,
                c.window,
                format!("{}-{}", c.start, c.end),
                c.len(),
                format!("{:?} x{}", c.lead, c.lead_frames),
                c.after.map_or_else(|| "-".into(), |a| (a + 1).to_string()),
                anchors,
                self.predicted_secs
                    .get(c.index)
                    .map_or_else(String::new, |s| super::cost::secs_text(*s)),
                mask_string(&c.frame_classes())
            );
        }
        if self.snaps.is_empty() {
            let _ = writeln!(s, "no keyframe moved");
        }
        for snap in &self.snaps {
            let _ = writeln!(
                s,
                "keyframe {} moved {} -> {} ({:+}): {}",
                snap.keyframe,
                snap.from,
                snap.to,
                i64::from(snap.to) - i64::from(snap.from),
                snap.reason
            );
        }
        for b in &self.boundaries {
            let identity = if b.differing_fields.is_empty() {
                "parameters identical".to_string()
            } else {
                format!("differs: {}", b.differing_fields.join(", "))
            };
            let _ = writeln!(
                s,
                "keyframe {}: {} ({}; {identity})",
                b.keyframe,
                if b.merged { "merged" } else { "split" },
                b.reason
            );
        }
        let c = &self.cost;
        let _ = writeln!(
            s,
            "estimated cost: {} calls {:.0} s unmerged -> {} calls {:.0} s planned ({:.2}x)",
            c.unmerged_calls, c.unmerged_secs, c.calls, c.secs, c.speedup
        );
        let m = &self.cost_model;
        let _ = writeln!(
            s,
            "cost law: {:.2} s + {:.3} s x (frames x megapixels) + {:.5} s x (frames x megapixels)^2, from {}",
            m.a, m.b, m.c, m.source
        );
        let _ = writeln!(
            s,
            "blast radius: a failed call loses at most {} frames ({} with the calls waiting on it)",
            self.blast_radius_frames, self.max_blocked_frames
        );
        for note in &self.notes {
            let _ = writeln!(s, "note: {note}");
        }
        f.write_str(&s)
    }
}
