//! The kernels' AVX2 builds against their baseline builds (the same bytes), on sizes and
//! crops that reach every edge case: row tails, the last bytes of a frame, border taps.

use std::sync::atomic::{AtomicBool, Ordering};

use super::{blend, crop_resize, warp};
use crate::media::Frame;

/// Set while a test computes its baseline result: every kernel then runs its baseline
/// build (other tests running meanwhile get the same bytes either way).
pub(super) static BASELINE_ONLY: AtomicBool = AtomicBool::new(false);

/// `f` computed by the AVX2 builds (where the CPU has them) and by the baseline builds.
fn both<T>(f: impl Fn() -> T) -> (T, T) {
    let fast = f();
    BASELINE_ONLY.store(true, Ordering::Relaxed);
    let baseline = f();
    BASELINE_ONLY.store(false, Ordering::Relaxed);
    (fast, baseline)
}

/// A frame with edges, gradients and noise (a fixed pseudo-random sequence).
fn frame(width: u32, height: u32) -> Frame {
    let mut seed = 0x2545_f491_u32;
    let mut data = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let edge = if (x / 7 + y / 5) % 2 == 0 { 230 } else { 20 };
            data.extend_from_slice(&[edge, ((x * 255) / width.max(1)) as u8, (seed >> 24) as u8]);
        }
    }
    Frame {
        width,
        height,
        data,
    }
}

#[test]
fn resize_builds_agree() {
    for (sw, sh, crop, w, h) in [
        (1024, 436, (125, 0, 775, 436), 1280, 720),
        (1920, 1080, (0, 0, 1920, 1080), 1280, 720),
        (37, 29, (0, 0, 37, 29), 61, 47),
        (37, 29, (0, 0, 37, 29), 20, 15),
        (333, 101, (300, 90, 33, 11), 97, 45),
        (640, 360, (0, 0, 640, 360), 123, 77),
        (50, 40, (1, 1, 49, 39), 49, 39),
        (9, 5, (0, 0, 9, 5), 1003, 7),
    ] {
        let src = frame(sw, sh);
        let (fast, baseline) = both(|| crop_resize(&src, crop, w, h));
        assert_eq!(fast.len(), (w * h * 3) as usize);
        assert!(fast == baseline, "{sw}x{sh} crop {crop:?} -> {w}x{h}");
    }
}

#[test]
fn warp_builds_agree() {
    for (w, h) in [(1280, 720), (37, 29), (8, 1), (13, 9), (1, 1)] {
        let src = frame(w, h);
        let flow: Vec<[f32; 2]> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                match i % 97 {
                    0 => [f32::NAN, 2.0],
                    1 => [1e9, -1e9],
                    2 => [f32::INFINITY, f32::NEG_INFINITY],
                    _ => [6.3 * (y / 9.0).sin(), -4.7 * (x / 11.0).cos()],
                }
            })
            .collect();
        for strength in [0.0, 0.37, 1.0, 2.5] {
            let (fast, baseline) = both(|| warp(&src, &flow, strength));
            assert!(fast == baseline, "{w}x{h} x{strength}");
        }
        // Pixels sampled at the very last pixel of the frame (the reads a gather must not
        // make past the end).
        let corner = vec![[w as f32, h as f32]; (w * h) as usize];
        let (fast, baseline) = both(|| warp(&src, &corner, 1.0));
        assert!(fast == baseline, "{w}x{h} corner");
        assert_eq!(&fast[..3], &src.data[src.data.len() - 3..]);
    }
}

#[test]
fn blend_builds_agree_and_ends_are_exact() {
    let (a, b) = (frame(321, 203), frame(203, 321));
    for t in [0.0, 0.1, 0.5, 0.77, 1.0, -3.0, 9.0] {
        let (fast, baseline) = both(|| blend(&a.data, &b.data, t));
        assert!(fast == baseline, "t {t}");
    }
    assert_eq!(blend(&a.data, &b.data, 0.0), a.data);
    assert_eq!(blend(&a.data, &b.data, 1.0), b.data);
}
