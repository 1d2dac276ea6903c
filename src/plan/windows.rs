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

    /// Least number of calls that produce exactly `n` new frames, for every `n <= limit`,
    /// with back-pointers: `best[n] = (calls, previous n)`.
    fn search(&self, limit: u32) -> Vec<Option<(u32, u32)>> {
        let size = limit as usize + 1;
        let mut best: Vec<Option<(u32, u32)>> = vec![None; size];
        best[0] = Some((0, 0));
        for n in 0..size {
            let Some((count, _)) = best[n] else { continue };
            let lead = self.lead_at(n as u32);
            for len in self.profile.valid_lengths_desc(self.cap) {
                if len <= lead {
                    break;
                }
                let next = n + (len - lead) as usize;
                if next < size && best[next].is_none_or(|(c, _)| c > count + 1) {
                    best[next] = Some((count + 1, n as u32));
                }
            }
        }
        best
    }

    /// The feasible number of new frames nearest to `requested` (ties go to the longer)
    /// that needs no more calls than `requested` itself would, with its windows as
    /// `(lead_frames, new_frames)`.
    pub(super) fn nearest_feasible(&self, requested: u32) -> Option<(u32, Vec<(u32, u32)>)> {
        let requested = requested.max(1);
        let limit = requested + self.cap;
        let best = self.search(limit);
        // Never add calls to honour a position: allow as many calls as the requested length
        // needs at the least, then take the nearest length those calls can make.
        let calls_needed = (requested..=limit)
            .filter_map(|n| best[n as usize].map(|(count, _)| count))
            .min()?;
        let feasible =
            |n: u32| n >= 1 && best[n as usize].is_some_and(|(count, _)| count <= calls_needed);
        let chosen = (0..=requested + self.cap).find_map(|d| {
            [requested + d, requested.wrapping_sub(d)]
                .into_iter()
                .find(|&n| n <= limit && feasible(n))
        })?;
        let mut parts = Vec::new();
        let mut n = chosen;
        while n > 0 {
            let (_, prev) = best[n as usize]?;
            parts.push(n - prev);
            n = prev;
        }
        parts.reverse();
        self.balance(&mut parts);
        Some((chosen, self.with_leads(&parts)))
    }

    fn with_leads(&self, parts: &[u32]) -> Vec<(u32, u32)> {
        let mut done = 0;
        parts
            .iter()
            .map(|&new| {
                let lead = self.lead_at(done);
                done += new;
                (lead, new)
            })
            .collect()
    }

    /// Evens out window sizes (the search finds the fewest windows, not the most even):
    /// moves one frame step at a time from the longest window to the shortest while every
    /// window stays valid.
    fn balance(&self, parts: &mut [u32]) {
        let step = self.profile.frame_step;
        let valid = |parts: &[u32]| {
            self.with_leads(parts).iter().all(|&(lead, new)| {
                new >= 1 && lead + new <= self.cap && self.profile.is_valid_length(lead + new)
            })
        };
        for _ in 0..parts.len() * self.cap as usize {
            let (Some(imax), Some(imin)) = (
                (0..parts.len()).max_by_key(|&i| parts[i]),
                (0..parts.len()).min_by_key(|&i| parts[i]),
            ) else {
                return;
            };
            if parts[imax] - parts[imin] <= step {
                return;
            }
            parts[imax] -= step;
            parts[imin] += step;
            if !valid(parts) {
                parts[imax] += step;
                parts[imin] -= step;
                return;
            }
        }
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
