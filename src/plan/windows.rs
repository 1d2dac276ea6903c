//! Leading frames and sliding windows: how one span (or a merged group of spans) is cut
//! into calls of valid length, and where its end keyframe snaps.

use super::ModelProfile;
use crate::project::{Mode, Project};

/// How the calls of one span take their leading frames.
pub(super) struct WindowRule<'a> {
    pub(super) profile: &'a ModelProfile,
    /// Longest call allowed.
    pub(super) cap: u32,
    /// Frames already rendered when the span starts, counted as far back as its calls may look.
    base: u32,
    /// Leading frames wanted by the first window.
    first_lead: u32,
    /// Leading frames wanted by later windows.
    window_lead: u32,
}

impl<'a> WindowRule<'a> {
    pub(super) fn for_span(
        project: &Project,
        profile: &'a ModelProfile,
        cap: u32,
        span: usize,
        p_k: u32,
    ) -> Self {
        let chained_context = project.mode == Mode::Chained && span > 0;
        WindowRule {
            profile,
            cap,
            base: if chained_context { p_k + 1 } else { 1 },
            first_lead: if chained_context { project.overlap } else { 1 },
            window_lead: project.overlap.max(1),
        }
    }

    /// Leading frames of the window that starts after `done` new frames of the span.
    pub(super) fn lead_at(&self, done: u32) -> u32 {
        let wanted = if done == 0 {
            self.first_lead
        } else {
            self.window_lead
        };
        wanted.min(self.base + done)
    }

    /// The feasible number of new frames nearest to `requested` (ties go to the longer)
    /// that needs no more calls than `requested` itself would, with its windows as
    /// `(lead_frames, new_frames)`.
    ///
    /// Windows after the first take the full overlap as context, so the first window makes
    /// at least `overlap - base` new frames. With `m` windows the reachable totals are then
    /// an arithmetic progression (step = frame step), which gives the answer in closed form.
    pub(super) fn nearest_feasible(&self, requested: u32) -> Option<(u32, Vec<(u32, u32)>)> {
        let requested = requested.max(1);
        let step = self.profile.frame_step;
        let top = self
            .profile
            .valid_lengths_desc(self.cap)
            .next()
            .unwrap_or(1);
        let l1 = self.lead_at(0);
        let c = self.window_lead;
        if top <= l1 {
            return None;
        }
        // Smallest valid length >= x.
        let valid_at_least = |x: u32| 1 + step * x.saturating_sub(1).div_ceil(step);
        let a_max = top - l1;
        // One call.
        if l1 + requested <= top {
            let wanted = l1 + requested;
            let below = (wanted - 1) / step * step + 1;
            let above = valid_at_least(wanted);
            let len = if below <= l1 || above - wanted <= wanted - below {
                above
            } else {
                below
            };
            return Some((len - l1, vec![(l1, len - l1)]));
        }
        // Several calls: first window n1 in [n1_min, a_max], later ones in [b_min, b_max].
        if top <= c {
            return None;
        }
        let n1_min = valid_at_least(l1 + 1.max(c.saturating_sub(self.base))) - l1;
        if n1_min > a_max {
            return None;
        }
        let b_min = valid_at_least(c + 1) - c;
        let b_max = top - c;
        let span_min = |m: u32| n1_min + (m - 1) * b_min;
        let span_max = |m: u32| a_max + (m - 1) * b_max;
        let m = 2 + (requested.saturating_sub(span_max(2))).div_ceil(b_max);
        // Nearest reachable totals with m windows, and the longest with m - 1.
        let lo_m = span_min(m);
        let mut candidates = Vec::with_capacity(3);
        if requested >= lo_m {
            let below = lo_m + (requested - lo_m) / step * step;
            candidates.push((below.min(span_max(m)), m));
            let above = lo_m + (requested - lo_m).div_ceil(step) * step;
            if above <= span_max(m) {
                candidates.push((above, m));
            }
        } else {
            candidates.push((lo_m, m));
        }
        candidates.push((span_max(m - 1), m - 1));
        let (total, windows) = candidates
            .into_iter()
            .min_by_key(|&(n, _)| (n.abs_diff(requested), std::cmp::Reverse(n)))?;
        // Spread the frames above the minimum evenly, one frame step at a time.
        let mut parts: Vec<u32> = if windows == 1 {
            vec![total]
        } else {
            let mut v = vec![b_min; windows as usize];
            v[0] = n1_min;
            v
        };
        let room = |i: usize| if i == 0 { a_max } else { b_max };
        let mut extra_steps = (total - parts.iter().sum::<u32>()) / step;
        let mut free: Vec<u32> = (0..parts.len())
            .map(|i| (room(i) - parts[i]) / step)
            .collect();
        while extra_steps > 0 {
            let open = free.iter().filter(|&&f| f > 0).count() as u32;
            if open == 0 {
                return None;
            }
            let share = (extra_steps / open).max(1);
            for i in (0..parts.len()).rev() {
                let give = share.min(free[i]).min(extra_steps);
                parts[i] += give * step;
                free[i] -= give;
                extra_steps -= give;
            }
        }
        let windows = parts
            .iter()
            .enumerate()
            .map(|(i, &n)| (if i == 0 { l1 } else { c }, n))
            .collect();
        Some((total, windows))
    }

    /// The snapped end of one call that starts at keyframe position `p_k` and must end
    /// near `target_end`, after `after` (the last keyframe inside): the nearest valid length
    /// within one frame step of the target (ties go to the longer), or `None`.
    pub(super) fn single_call_end(&self, p_k: u32, target_end: u32, after: u32) -> Option<u32> {
        let lead = self.lead_at(0);
        let requested = lead + target_end.checked_sub(p_k)?;
        let step = self.profile.frame_step;
        (0..=step).find_map(|d| {
            [requested + d, requested.wrapping_sub(d)]
                .into_iter()
                .filter(|&len| len > lead && len <= self.cap && self.profile.is_valid_length(len))
                .map(|len| p_k + len - lead)
                .find(|&end| end > after)
        })
    }

    /// Explains a snap of a span.
    pub(super) fn explain(&self, requested: u32, windows: &[(u32, u32)]) -> String {
        let p = self.profile;
        let lead = self.lead_at(0);
        format!(
            "{requested} new frames + {lead} leading frame(s) is not a valid {} call length ({}n+1, at most {}); nearest valid split: {}",
            p.name,
            p.frame_step,
            self.cap,
            windows
                .iter()
                .map(|(l, n)| format!("{} frames", l + n))
                .collect::<Vec<_>>()
                .join(" + ")
        )
    }
}
