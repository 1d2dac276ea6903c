//! The in-memory picture every room passes around.

use image::RgbImage;

/// An 8-bit RGB picture, rows packed top to bottom (`width * 3` bytes per row).
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// RGB bytes, `width * height * 3` of them.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame({}x{})", self.width, self.height)
    }
}

impl Frame {
    /// A frame of one colour.
    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> Self {
        let data = rgb
            .iter()
            .copied()
            .cycle()
            .take(width as usize * height as usize * 3)
            .collect();
        Self {
            width,
            height,
            data,
        }
    }

    /// Neutral gray (0.5, stored as 128): the guide value of frames with no information.
    pub fn gray(width: u32, height: u32) -> Self {
        Self::filled(width, height, [128, 128, 128])
    }

    /// The RGB value at (`x`, `y`).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Wraps an `image` buffer without copying.
    pub fn from_rgb_image(img: RgbImage) -> Self {
        let (width, height) = img.dimensions();
        Self {
            width,
            height,
            data: img.into_raw(),
        }
    }

    /// Converts into an `image` buffer without copying.
    pub fn into_rgb_image(self) -> RgbImage {
        // The length invariant holds for every constructor of `Frame`.
        RgbImage::from_raw(self.width, self.height, self.data)
            .unwrap_or_else(|| RgbImage::new(0, 0))
    }

    /// `a * (1 - t) + b * t` per channel, rounded; both frames must have the same size.
    pub fn lerp(a: &Frame, b: &Frame, t: f32) -> Frame {
        debug_assert_eq!((a.width, a.height), (b.width, b.height));
        let t = t.clamp(0.0, 1.0);
        let data = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(&x, &y)| (f32::from(x) + (f32::from(y) - f32::from(x)) * t).round() as u8)
            .collect();
        Frame {
            width: a.width,
            height: a.height,
            data,
        }
    }
}

/// `frame` resized to exactly `width` x `height` (Lanczos3), aspect not kept: for scaling
/// a call down and its output back up, which cancel out geometrically.
pub fn resize_exact(frame: &Frame, width: u32, height: u32) -> Frame {
    if (frame.width, frame.height) == (width, height) {
        return frame.clone();
    }
    Frame::from_rgb_image(image::imageops::resize(
        &frame.clone().into_rgb_image(),
        width,
        height,
        image::imageops::FilterType::Lanczos3,
    ))
}

/// Peak signal-to-noise ratio in dB between two frames of the same size (infinite when equal).
pub fn psnr(a: &Frame, b: &Frame) -> f64 {
    assert_eq!(
        (a.width, a.height),
        (b.width, b.height),
        "psnr needs equal sizes"
    );
    let sum: f64 = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum();
    let mse = sum / a.data.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}
