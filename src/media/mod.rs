//! Media I/O: still images (the `image` crate), video decode, probe and encode (libav
//! through ffmpeg-next), PNG sequences, and the [`Frame`] type. Must not know about projects,
//! plans or the UI.

pub mod encode;
mod fit;
mod frame;
mod image_io;
pub mod video;

pub use encode::{
    EncodeOptions, ExportFormat, PRESETS, PngSequence, VideoEncoder, Writer, png_sequence_files,
};
pub use fit::{center_crop_rect, crop_fit};
pub use frame::{Frame, psnr, resize_exact};
pub use image_io::{check_image, decode_image_bytes, load_image};
pub use video::{MediaInfo, VideoDecoder, count_frames, decode_all, decode_up_to, probe};
