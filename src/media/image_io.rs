//! Still images: PNG, JPEG, WebP, TIFF, BMP (8 or 16 bit, grey or colour, with or without
//! alpha) through the `image` crate with EXIF orientation applied; anything else libav
//! can decode as a first video frame.

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader};

use super::{Frame, video};
use crate::error::{Result, UserError};

/// Loads an image as RGB. EXIF orientation is applied; alpha is composited over black.
pub fn load_image(path: &Path) -> Result<Frame> {
    let meta = std::fs::metadata(path).map_err(|e| UserError::io("reading image", path, &e))?;
    if meta.is_dir() {
        return Err(UserError::input(format!(
            "reading image {}: this is a folder, not an image",
            path.display()
        )));
    }
    if meta.len() == 0 {
        return Err(UserError::input(format!(
            "reading image {}: the file is empty (0 bytes)",
            path.display()
        ))
        .hint("the file was not written completely; export the image again"));
    }
    let reader = ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| UserError::io("reading image", path, &e))?;
    if reader.format().is_none() {
        // Not a format the image decoders know: let libav try (e.g. a video's first frame).
        return video::decode_first_frame(path).map_err(|_| corrupt(path, "unknown image format"));
    }
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| corrupt(path, &e.to_string()))?;
    let orientation = decoder
        .orientation()
        .map_err(|e| corrupt(path, &e.to_string()))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| corrupt(path, &e.to_string()))?;
    img.apply_orientation(orientation);
    Ok(to_rgb_over_black(img))
}

fn corrupt(path: &Path, why: &str) -> UserError {
    UserError::input(format!("cannot decode image {}: {why}", path.display()))
        .hint("the file may be damaged or not an image; re-export it as PNG or JPEG")
}

fn to_rgb_over_black(img: DynamicImage) -> Frame {
    if !img.color().has_alpha() {
        return Frame::from_rgb_image(img.to_rgb8());
    }
    let rgba = img.to_rgba16();
    let (width, height) = rgba.dimensions();
    let mut data = Vec::with_capacity(width as usize * height as usize * 3);
    for p in rgba.pixels() {
        let a = u32::from(p.0[3]);
        for c in &p.0[..3] {
            // 16-bit channel * 16-bit alpha -> 8 bit, rounded.
            let v = (u64::from(*c) * u64::from(a) * 255 + 65535 * 65535 / 2) / (65535 * 65535);
            data.push(v as u8);
        }
    }
    Frame {
        width,
        height,
        data,
    }
}
