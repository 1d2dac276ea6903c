//! Fitting pictures to the output size without distortion.

use super::Frame;

/// The centered crop of a `src_w` x `src_h` picture that has the aspect of `dst_w` x `dst_h`:
/// `(x, y, width, height)`. Aspects that differ by less than 1 % are not cropped.
pub fn center_crop_rect(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> (u32, u32, u32, u32) {
    let src_aspect = f64::from(src_w) / f64::from(src_h);
    let dst_aspect = f64::from(dst_w) / f64::from(dst_h);
    if (src_aspect / dst_aspect - 1.0).abs() < 0.01 {
        return (0, 0, src_w, src_h);
    }
    if src_aspect > dst_aspect {
        let w = ((f64::from(src_h) * dst_aspect).round() as u32).clamp(1, src_w);
        ((src_w - w) / 2, 0, w, src_h)
    } else {
        let h = ((f64::from(src_w) / dst_aspect).round() as u32).clamp(1, src_h);
        (0, (src_h - h) / 2, src_w, h)
    }
}

/// Center-crops `frame` to the aspect of `width` x `height`, then resizes it (area average
/// when shrinking, bilinear when enlarging): never stretched. The one crop-fit of the
/// program: the CPU path of [`crate::gpu::Compute::crop_fit`].
pub fn crop_fit(frame: &Frame, width: u32, height: u32) -> crate::error::Result<Frame> {
    if (frame.width, frame.height) == (width, height) {
        return Ok(frame.clone());
    }
    crate::gpu::Compute::crop_fit(&crate::gpu::CpuCompute, frame, width, height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_rect_keeps_aspect() {
        assert_eq!(center_crop_rect(1024, 436, 832, 480), (134, 0, 756, 436));
        assert_eq!(center_crop_rect(400, 800, 100, 100), (0, 200, 400, 400));
        assert_eq!(center_crop_rect(1280, 720, 832, 468), (0, 0, 1280, 720));
    }
}
