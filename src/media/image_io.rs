//! Still images: PNG, JPEG, WebP, TIFF, BMP (8 or 16 bit, grey or colour, with or without
//! alpha) through the `image` crate with EXIF orientation applied; GIF, AVIF and videos
//! (their first frame) through libav, when the file's content says it is one of those (libav
//! alone would "read" a text file or an SVG by guessing from its name).

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader};

use super::{Frame, video};
use crate::error::{Result, UserError};

/// Checks that `path` is an image Wayfarer can load, from its header only (no pixels are
/// decoded): a regular, non-empty file in a known format within the size limits. What
/// [`load_image`] would refuse at once is refused here; damage further into the file shows
/// only when it is loaded.
pub fn check_image(path: &Path) -> Result<()> {
    if open_decoder(path)?.is_some() {
        return Ok(());
    }
    let kind = libav_kind(path)?;
    video::probe(path)
        .map(|_| ())
        .map_err(|e| unreadable_kind(path, kind, &e.message))
}

/// Formats read by the image decoders; others go to libav.
const IMAGE_CRATE_FORMATS: [image::ImageFormat; 5] = [
    image::ImageFormat::Png,
    image::ImageFormat::Jpeg,
    image::ImageFormat::WebP,
    image::ImageFormat::Tiff,
    image::ImageFormat::Bmp,
];

/// What Wayfarer reads, in words (for messages).
const ACCEPTED: &str = "PNG, JPEG, WebP, TIFF, BMP, GIF or AVIF, or a video (MP4, MOV, MKV, \
                        WebM, AVI) whose first frame is used";

/// What the first bytes of a file say it is, among the pictures and videos Wayfarer
/// reads through libav; `None` for anything else (text, SVG, documents), which libav
/// would otherwise often "read" by guessing from the name.
fn sniff_libav(head: &[u8]) -> Option<&'static str> {
    let at = |range: std::ops::Range<usize>| head.get(range).unwrap_or_default();
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some("GIF");
    }
    if at(4..8) == b"ftyp" {
        return Some(match at(8..12) {
            b"avif" | b"avis" => "AVIF",
            b"heic" | b"heix" | b"mif1" | b"msf1" => "HEIF",
            _ => "MP4/MOV",
        });
    }
    if matches!(at(4..8), b"moov" | b"mdat" | b"wide" | b"free" | b"skip") {
        return Some("MOV");
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some("Matroska/WebM");
    }
    if head.starts_with(b"RIFF") && at(8..12) == b"AVI " {
        return Some("AVI");
    }
    if head.starts_with(b"FLV") {
        return Some("FLV");
    }
    if head.starts_with(b"OggS") {
        return Some("Ogg");
    }
    if head.starts_with(&[0, 0, 1, 0xBA]) || head.starts_with(&[0, 0, 1, 0xB3]) {
        return Some("MPEG");
    }
    if head.first() == Some(&0x47) && head.get(188) == Some(&0x47) {
        return Some("MPEG-TS");
    }
    None
}

/// The kind of a file that is not a format of the image decoders, by its content: one
/// libav reads (`GIF`, `AVIF`, a video), or a refusal naming what Wayfarer accepts.
fn libav_kind(path: &Path) -> Result<&'static str> {
    use std::io::Read;
    let mut head = Vec::with_capacity(256);
    std::fs::File::open(path)
        .and_then(|f| f.take(256).read_to_end(&mut head))
        .map_err(|e| UserError::io("reading image", path, &e))?;
    sniff_libav(&head).ok_or_else(|| {
        UserError::input(format!(
            "reading image {}: this is not a picture or video Wayfarer reads",
            path.display()
        ))
        .hint(format!("use {ACCEPTED}"))
    })
}

/// A file of a kind libav reads that it could not decode.
fn unreadable_kind(path: &Path, kind: &str, why: &str) -> UserError {
    UserError::input(format!("cannot decode {kind} {}: {why}", path.display()))
        .hint("the file may be damaged, or this libav cannot read it; re-export it as PNG or JPEG")
}

/// The decoder for an image file after the file and header checks, or `None` when the
/// format is not one the image decoders know.
fn open_decoder(path: &Path) -> Result<Option<impl ImageDecoder>> {
    let meta = std::fs::metadata(path).map_err(|e| UserError::io("reading image", path, &e))?;
    if meta.is_dir() {
        return Err(UserError::input(format!(
            "reading image {}: this is a folder, not an image",
            path.display()
        ))
        .hint("give the path of an image file (PNG, JPEG, WebP, TIFF or BMP)"));
    }
    if !meta.is_file() {
        return Err(UserError::input(format!(
            "reading image {}: this is a special file (a pipe or a device), not an image",
            path.display()
        ))
        .hint("give the path of an image file (PNG, JPEG, WebP, TIFF or BMP)"));
    }
    if meta.len() == 0 {
        return Err(UserError::input(format!(
            "reading image {}: the file is empty (0 bytes)",
            path.display()
        ))
        .hint("the file was not written completely; export the image again"));
    }
    let reader = ImageReader::open(path)
        .and_then(image::ImageReader::with_guessed_format)
        .map_err(|e| UserError::io("reading image", path, &e))?;
    // GIF, AVIF and the rest are read by libav (the image decoders here are built for
    // these five only).
    if !reader
        .format()
        .is_some_and(|f| IMAGE_CRATE_FORMATS.contains(&f))
    {
        return Ok(None);
    }
    let mut reader = reader;
    reader.limits(image_limits());
    let decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(path, None),
        e => corrupt(path, &e.to_string()),
    })?;
    let (w, h) = decoder.dimensions();
    if !within_limits(&decoder) {
        return Err(too_large(path, Some((w, h))));
    }
    Ok(Some(decoder))
}

/// Loads an image as RGB. EXIF orientation is applied; alpha is composited over black.
pub fn load_image(path: &Path) -> Result<Frame> {
    let Some(mut decoder) = open_decoder(path)? else {
        // Not a format the image decoders know: libav reads it (GIF, AVIF, a video's first
        // frame) when its content says it is one of those.
        let kind = libav_kind(path)?;
        return video::decode_first_frame(path)
            .map_err(|e| unreadable_kind(path, kind, &e.message));
    };
    let orientation = decoder
        .orientation()
        .map_err(|e| corrupt(path, &e.to_string()))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(path, None),
        e => corrupt(path, &e.to_string()),
    })?;
    img.apply_orientation(orientation);
    Ok(to_rgb_over_black(&img))
}

/// Decodes an image held in memory (e.g. a server's reply) with the same size and memory
/// limits as [`load_image`]; the error text says what is wrong, without a path.
pub fn decode_image_bytes(bytes: &[u8]) -> std::result::Result<Frame, String> {
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    reader.limits(image_limits());
    let decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let (w, h) = decoder.dimensions();
    if !within_limits(&decoder) {
        return Err(format!("a picture of {w}x{h} is too large to decode"));
    }
    let img = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    Ok(to_rgb_over_black(&img))
}

/// The most memory one decoded image may take: a quarter of the memory available now, at
/// most 2 GiB, at least 256 MiB.
pub fn decode_budget() -> u64 {
    let quarter = crate::sysmem::available_bytes().map_or(u64::MAX, |b| b / 4);
    quarter.clamp(256 << 20, 2 << 30)
}

/// Whether the picture a decoder announces is 1 to [`video::MAX_SIDE`] pixels a side and
/// fits the decode budget.
fn within_limits(decoder: &impl ImageDecoder) -> bool {
    let (w, h) = decoder.dimensions();
    w > 0
        && h > 0
        && w <= video::MAX_SIDE
        && h <= video::MAX_SIDE
        && decoder.total_bytes() <= decode_budget()
}

fn image_limits() -> image::Limits {
    let mut limits = image::Limits::default();
    // Sides are checked by `load_image`, which can then name the size in its message.
    limits.max_image_width = None;
    limits.max_image_height = None;
    limits.max_alloc = Some(decode_budget());
    limits
}

fn too_large(path: &Path, size: Option<(u32, u32)>) -> UserError {
    let size = size.map_or(String::new(), |(w, h)| format!(" says it is {w}x{h}"));
    UserError::input(format!(
        "image {}{size}: Wayfarer reads images of 1 to {} pixels a side that fit in {} MiB \
         decoded",
        path.display(),
        video::MAX_SIDE,
        decode_budget() >> 20
    ))
    .hint("scale the image down (keyframes are cropped to the project size anyway), or check that the file is not damaged")
}

fn corrupt(path: &Path, why: &str) -> UserError {
    UserError::input(format!("cannot decode image {}: {why}", path.display()))
        .hint("the file may be damaged or not an image; re-export it as PNG or JPEG")
}

fn to_rgb_over_black(img: &DynamicImage) -> Frame {
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
