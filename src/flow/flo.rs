//! The Middlebury `.flo` format, the optical-flow field's common file: the float
//! 202021.25 (the bytes `PIEH`), width and height as 32-bit integers, then `u, v` as 32-bit
//! floats for each pixel, row by row; all little-endian. OpenCV's `readOpticalFlow`, the
//! Sintel and Middlebury tools and most flow code read it.

use std::io::Write;
use std::path::Path;

use crate::error::{Result, UserError};
use crate::gpu::FlowField;

/// The tag every `.flo` file starts with.
pub const FLO_MAGIC: f32 = 202_021.25;

/// The bytes of `flow` in the `.flo` layout.
pub fn to_flo_bytes(flow: &FlowField) -> Result<Vec<u8>> {
    let too_big = || {
        UserError::input(format!(
            "a flow field of {}x{} is too large for a .flo file",
            flow.width, flow.height
        ))
    };
    let width = i32::try_from(flow.width).map_err(|_| too_big())?;
    let height = i32::try_from(flow.height).map_err(|_| too_big())?;
    let mut out = Vec::with_capacity(12 + flow.data.len() * 8);
    out.extend_from_slice(&FLO_MAGIC.to_le_bytes());
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    for v in &flow.data {
        out.extend_from_slice(&v[0].to_le_bytes());
        out.extend_from_slice(&v[1].to_le_bytes());
    }
    Ok(out)
}

/// Reads a flow field from `.flo` bytes; `what` names the source in errors.
pub fn from_flo_bytes(bytes: &[u8], what: &str) -> Result<FlowField> {
    let bad = |why: String| {
        UserError::input(format!("{what}: not a readable .flo flow file ({why})"))
            .hint("write it with `wayfarer flow` or another Middlebury-format writer")
    };
    let word = |i: usize| -> Option<[u8; 4]> { bytes.get(i..i + 4)?.try_into().ok() };
    let (Some(magic), Some(w), Some(h)) = (word(0), word(4), word(8)) else {
        return Err(bad(format!(
            "{} bytes, shorter than its header",
            bytes.len()
        )));
    };
    if f32::from_le_bytes(magic).to_bits() != FLO_MAGIC.to_bits() {
        return Err(bad("it does not start with the .flo tag".into()));
    }
    let (w, h) = (i32::from_le_bytes(w), i32::from_le_bytes(h));
    let (Ok(width), Ok(height)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(bad(format!("its size {w}x{h} is negative")));
    };
    let pixels = (width as usize).saturating_mul(height as usize);
    if width == 0 || height == 0 || bytes.len() - 12 != pixels.saturating_mul(8) {
        return Err(bad(format!(
            "a {width}x{height} field needs {} bytes of data, it has {}",
            pixels.saturating_mul(8),
            bytes.len() - 12
        )));
    }
    let data = bytes[12..]
        .chunks_exact(8)
        .map(|c| {
            let f = |o: usize| f32::from_le_bytes([c[o], c[o + 1], c[o + 2], c[o + 3]]);
            [f(0), f(4)]
        })
        .collect();
    Ok(FlowField {
        width,
        height,
        data,
    })
}

/// Reads a `.flo` file.
pub fn read_flo(path: &Path) -> Result<FlowField> {
    let bytes = std::fs::read(path).map_err(|e| UserError::io("reading", path, &e))?;
    from_flo_bytes(&bytes, &path.display().to_string())
}

/// Writes `flow` to `path` as a `.flo` file, through a partial file and a rename (an
/// existing file at `path` is replaced only by a complete one).
pub fn write_flo(path: &Path, flow: &FlowField) -> Result<()> {
    let bytes = to_flo_bytes(flow)?;
    let partial = crate::render::PartialOutput::begin(path)?;
    let mut file = std::fs::File::create(partial.path())
        .map_err(|e| UserError::io("writing", partial.path(), &e))?;
    file.write_all(&bytes)
        .and_then(|()| file.flush())
        .map_err(|e| UserError::io("writing", path, &e))?;
    drop(file);
    partial.publish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_round_trips_and_the_header_is_the_standard_one() {
        let mut f = FlowField::uniform(3, 2, 0.0, 0.0);
        f.data[4] = [1.5, -2.25];
        let bytes = to_flo_bytes(&f).unwrap();
        assert_eq!(&bytes[0..4], b"PIEH");
        assert_eq!(bytes.len(), 12 + 3 * 2 * 8);
        // Pixel (1, 1) is the fifth: u then v.
        assert_eq!(
            f32::from_le_bytes(bytes[12 + 32..12 + 36].try_into().unwrap()),
            1.5
        );
        let back = from_flo_bytes(&bytes, "test").unwrap();
        assert_eq!(back.data, f.data);
        assert!(from_flo_bytes(&bytes[..20], "short").is_err());
        assert!(from_flo_bytes(b"not a flow file at all", "text").is_err());
    }
}
