//! Media I/O: still images (the `image` crate), video decode, probe and H.264 MP4 encode
//! (libav through ffmpeg-next), and the [`Frame`] type. Must not know about projects,
//! plans or the UI.

mod fit;
mod frame;
mod image_io;
pub mod video;

pub use fit::{center_crop_rect, crop_fit};
pub use frame::{Frame, psnr, resize_exact};
pub use image_io::{check_image, decode_image_bytes, load_image};
pub use video::{
    EncodeOptions, MediaInfo, VideoDecoder, VideoEncoder, count_frames, decode_all, decode_up_to,
    probe,
};
