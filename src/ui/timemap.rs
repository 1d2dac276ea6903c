//! Time <-> pixel mapping of the timeline, in f64 so long timelines stay exact.

/// Maps timeline frames to horizontal screen positions and back.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimeMap {
    /// Frame shown at the left edge.
    pub origin_frame: f64,
    /// Screen pixels per frame (zoom).
    pub px_per_frame: f64,
    /// Screen x of the left edge.
    pub left_px: f64,
}

impl Default for TimeMap {
    fn default() -> Self {
        Self {
            origin_frame: -2.0,
            px_per_frame: 6.0,
            left_px: 0.0,
        }
    }
}

impl TimeMap {
    /// Smallest and largest zoom in pixels per frame.
    pub const ZOOM_RANGE: (f64, f64) = (0.02, 64.0);

    /// Screen x of `frame`.
    pub fn frame_to_x(&self, frame: f64) -> f64 {
        self.left_px + (frame - self.origin_frame) * self.px_per_frame
    }

    /// Timeline frame (fractional) at screen `x`.
    pub fn x_to_frame(&self, x: f64) -> f64 {
        self.origin_frame + (x - self.left_px) / self.px_per_frame
    }

    /// The nearest whole frame at screen `x`, never before frame 0.
    pub fn x_to_whole_frame(&self, x: f64) -> u32 {
        self.x_to_frame(x).round().clamp(0.0, f64::from(u32::MAX)) as u32
    }

    /// Zooms by `factor` keeping the frame under screen `x` in place.
    pub fn zoom_at(&mut self, x: f64, factor: f64) {
        let anchor = self.x_to_frame(x);
        let (lo, hi) = Self::ZOOM_RANGE;
        self.px_per_frame = (self.px_per_frame * factor).clamp(lo, hi);
        self.origin_frame = anchor - (x - self.left_px) / self.px_per_frame;
    }

    /// Pans by `dx` screen pixels.
    pub fn pan_px(&mut self, dx: f64) {
        self.origin_frame -= dx / self.px_per_frame;
    }

    /// Room at each end, in pixels, for the half of a keyframe's thumbnail that lies
    /// outside its frame.
    pub const EDGE_PX: f64 = 52.0;

    /// Shows frames `0..=last` across `width_px` pixels, with room for the thumbnails at
    /// both ends.
    pub fn fit(&mut self, last: u32, width_px: f64) {
        let frames = f64::from(last.max(16));
        let (lo, hi) = Self::ZOOM_RANGE;
        self.px_per_frame = ((width_px - 2.0 * Self::EDGE_PX).max(1.0) / frames).clamp(lo, hi);
        self.origin_frame = -Self::EDGE_PX / self.px_per_frame;
    }

    /// Keeps the view on the project: panning stops with frame 0 at the left edge (plus the
    /// thumbnail room) and with frame `last` at the right edge.
    pub fn clamp_to(&mut self, last: u32, width_px: f64) {
        let visible = width_px / self.px_per_frame;
        let edge = Self::EDGE_PX / self.px_per_frame;
        let lowest = -edge;
        let highest = (f64::from(last) + edge - visible).max(lowest);
        self.origin_frame = self.origin_frame.clamp(lowest, highest);
    }

    /// A ruler tick spacing in frames that keeps labels at least `min_px` apart.
    pub fn tick_step(&self, min_px: f64) -> u32 {
        [
            1u32, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536,
        ]
        .into_iter()
        .find(|&s| f64::from(s) * self.px_per_frame >= min_px)
        .unwrap_or(1 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact_at_any_zoom_and_offset() {
        for &(origin, ppf, left) in &[
            (-2.0, 6.0, 0.0),
            (123_456.5, 0.013, 310.0),
            (999_990.0, 64.0, 17.25),
        ] {
            let m = TimeMap {
                origin_frame: origin,
                px_per_frame: ppf,
                left_px: left,
            };
            for frame in [0.0, 1.0, 40.0, 999_999.0, 123_456.75] {
                let back = m.x_to_frame(m.frame_to_x(frame));
                assert!((back - frame).abs() < 1e-6, "{frame} -> {back}");
            }
        }
    }

    #[test]
    fn zoom_keeps_the_frame_under_the_cursor() {
        let mut m = TimeMap::default();
        let before = m.x_to_frame(300.0);
        m.zoom_at(300.0, 2.5);
        assert!((m.x_to_frame(300.0) - before).abs() < 1e-9);
        assert_eq!(m.px_per_frame, 15.0);
        m.zoom_at(300.0, 1e9);
        assert_eq!(m.px_per_frame, TimeMap::ZOOM_RANGE.1);
    }

    #[test]
    fn fit_shows_the_whole_project_and_panning_stops_at_its_ends() {
        let mut m = TimeMap::default();
        m.fit(90, 1000.0);
        assert!((m.frame_to_x(0.0) - TimeMap::EDGE_PX).abs() < 1e-9);
        assert!((m.frame_to_x(90.0) - (1000.0 - TimeMap::EDGE_PX)).abs() < 1e-9);
        m.pan_px(500.0);
        m.clamp_to(90, 1000.0);
        assert!(
            (m.frame_to_x(0.0) - TimeMap::EDGE_PX).abs() < 1e-9,
            "not past frame 0"
        );
        m.zoom_at(500.0, 4.0);
        m.pan_px(-1e6);
        m.clamp_to(90, 1000.0);
        assert!((m.frame_to_x(90.0) - (1000.0 - TimeMap::EDGE_PX)).abs() < 1e-9);
    }

    #[test]
    fn ticks_stay_readable() {
        let m = TimeMap {
            px_per_frame: 0.5,
            ..Default::default()
        };
        assert_eq!(m.tick_step(60.0), 128);
    }
}
