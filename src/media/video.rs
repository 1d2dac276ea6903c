//! Video through libav (ffmpeg-next): probe and decode to RGB frames (encoding: `encode`).

use std::path::{Path, PathBuf};
use std::sync::Once;

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg_next as ffmpeg;
use serde::Serialize;

use super::Frame;
use crate::error::{ErrorCategory, Result, UserError};

/// Initialises libav once and keeps its own logging quiet (errors reach the user through our messages).
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if ffmpeg::init().is_ok() {
            ffmpeg::log::set_level(ffmpeg::log::Level::Fatal);
        }
    });
}

pub(super) fn pipeline(what: String) -> UserError {
    UserError::new(ErrorCategory::GenerationPipeline, what)
}

fn unreadable(path: &Path, err: impl std::fmt::Display) -> UserError {
    UserError::input(format!("cannot read video {}: {err}", path.display())).hint(
        "check that the file is a complete video in a format libav reads (MP4, MKV, WebM, MOV…)",
    )
}

/// The name libav opens for `path`, and a file that must stay open until libav has opened
/// that name. A UTF-8 path is given as `file:PATH`, so no file name is ever taken for another
/// protocol (`pipe:0`, `http://…`). A path that is not UTF-8 (libav takes names as text) is
/// opened here and given as this process's descriptor of it, `/proc/self/fd/N` (Linux); where
/// that is not available it is refused with a clear message.
pub(super) fn libav_name(path: &Path, write: bool) -> Result<(String, Option<std::fs::File>)> {
    if let Some(text) = path.to_str() {
        return Ok((format!("file:{text}"), None));
    }
    #[cfg(target_os = "linux")]
    if Path::new("/proc/self/fd").is_dir() {
        use std::os::fd::AsRawFd;
        let file = if write {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
        } else {
            std::fs::File::open(path)
        }
        .map_err(|e| UserError::io(if write { "writing" } else { "reading" }, path, &e))?;
        return Ok((format!("/proc/self/fd/{}", file.as_raw_fd()), Some(file)));
    }
    Err(UserError::input(format!(
        "{}: this path is not valid UTF-8 text, which the video library cannot open here",
        path.display()
    ))
    .hint("rename the file or folder using plain characters"))
}

/// The largest picture side Wayfarer decodes or encodes.
pub const MAX_SIDE: u32 = 16384;

/// Refuses a video whose pictures are larger than [`MAX_SIDE`] a side.
fn check_size(path: &Path, width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(UserError::input(format!(
            "video {}: pictures of {width}x{height}; Wayfarer reads videos of 1 to {MAX_SIDE} \
             pixels a side",
            path.display()
        ))
        .hint("use a smaller or undamaged video"));
    }
    Ok(())
}

/// What a video file contains.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaInfo {
    /// Container format name.
    pub format: String,
    /// Video codec name.
    pub codec: String,
    /// Picture size.
    pub width: u32,
    /// Picture size.
    pub height: u32,
    /// Average frame rate as a fraction.
    pub fps: (i32, i32),
    /// Frame count as stored in the container (0 when unknown).
    pub frames: i64,
    /// Duration in seconds (0 when unknown).
    pub duration_secs: f64,
}

/// Reads the container and video stream information of `path`.
pub fn probe(path: &Path) -> Result<MediaInfo> {
    init();
    check_readable(path)?;
    let (name, opened) = libav_name(path, false)?;
    let ictx = ffmpeg::format::input(&name).map_err(|e| unreadable(path, e))?;
    drop(opened);
    let stream = ictx
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| unreadable(path, "no video stream"))?;
    let params = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| unreadable(path, e))?;
    let decoder = params.decoder().video().map_err(|e| unreadable(path, e))?;
    let rate = stream.avg_frame_rate();
    let duration_secs = if ictx.duration() > 0 {
        ictx.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE)
    } else {
        0.0
    };
    Ok(MediaInfo {
        format: ictx.format().name().to_string(),
        codec: decoder
            .codec()
            .map(|c| c.name().to_string())
            .unwrap_or_default(),
        width: decoder.width(),
        height: decoder.height(),
        fps: (rate.numerator(), rate.denominator()),
        frames: stream.frames(),
        duration_secs,
    })
}

fn check_readable(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| UserError::io("reading video", path, &e))?;
    if !meta.is_file() {
        return Err(UserError::input(format!(
            "reading video {}: this is {}, not a video file",
            path.display(),
            if meta.is_dir() {
                "a folder"
            } else {
                "a special file (a pipe or a device)"
            }
        ))
        .hint("give the path of a video file"));
    }
    if meta.len() == 0 {
        return Err(UserError::input(format!(
            "reading video {}: the file is empty (0 bytes)",
            path.display()
        ))
        .hint("the file was not written completely; copy or export the video again"));
    }
    Ok(())
}

/// Decodes the video frames of a file one at a time, as RGB.
pub struct VideoDecoder {
    path: PathBuf,
    input: ffmpeg::format::context::Input,
    decoder: ffmpeg::decoder::Video,
    stream_index: usize,
    scaler: Option<scaling::Context>,
    decoded: ffmpeg::frame::Video,
    draining: bool,
    finished: bool,
}

impl VideoDecoder {
    /// Opens the best video stream of `path`.
    pub fn open(path: &Path) -> Result<Self> {
        init();
        check_readable(path)?;
        let (name, opened) = libav_name(path, false)?;
        let input = ffmpeg::format::input(&name).map_err(|e| unreadable(path, e))?;
        drop(opened);
        let stream = input
            .streams()
            .best(ffmpeg::media::Type::Video)
            .ok_or_else(|| unreadable(path, "no video stream"))?;
        let stream_index = stream.index();
        let mut ctx = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| unreadable(path, e))?;
        ctx.set_threading(auto_threads());
        let decoder = ctx.decoder().video().map_err(|e| unreadable(path, e))?;
        check_size(path, decoder.width(), decoder.height())?;
        Ok(Self {
            path: path.to_path_buf(),
            input,
            decoder,
            stream_index,
            scaler: None,
            decoded: ffmpeg::frame::Video::empty(),
            draining: false,
            finished: false,
        })
    }

    /// The next frame, or `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            if self.decoder.receive_frame(&mut self.decoded).is_ok() {
                return self.convert().map(Some);
            }
            if self.draining {
                self.finished = true;
                return Ok(None);
            }
            if let Some((_, packet)) = self
                .input
                .packets()
                .find(|(s, _)| s.index() == self.stream_index)
            {
                // A damaged packet is skipped, as players do; the frame count shows it.
                let _ = self.decoder.send_packet(&packet);
            } else {
                self.draining = true;
                let _ = self.decoder.send_eof();
            }
        }
    }

    fn convert(&mut self) -> Result<Frame> {
        let (w, h, fmt) = (
            self.decoded.width(),
            self.decoded.height(),
            self.decoded.format(),
        );
        let rebuild = match &self.scaler {
            Some(s) => s.input().width != w || s.input().height != h || s.input().format != fmt,
            None => true,
        };
        if rebuild {
            self.scaler = Some(
                // Accurate rounding and full chroma interpolation: the default fast path
                // loses 1 to 3 dB on 4:2:0 video and is 1 % off on 10-bit video.
                scaling::Context::get(
                    fmt,
                    w,
                    h,
                    Pixel::RGB24,
                    w,
                    h,
                    scaling::Flags::BICUBIC
                        | scaling::Flags::ACCURATE_RND
                        | scaling::Flags::FULL_CHR_H_INT,
                )
                .map_err(|e| unreadable(&self.path, e))?,
            );
        }
        let mut rgb = ffmpeg::frame::Video::empty();
        if let Some(s) = self.scaler.as_mut() {
            s.run(&self.decoded, &mut rgb)
                .map_err(|e| unreadable(&self.path, e))?;
        }
        Ok(frame_from_rgb24(&rgb))
    }
}

impl Iterator for VideoDecoder {
    type Item = Result<Frame>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame().transpose()
    }
}

/// Counts the video frames of `path` from its packets, without decoding any.
pub fn count_frames(path: &Path) -> Result<u32> {
    init();
    check_readable(path)?;
    let (name, opened) = libav_name(path, false)?;
    let mut input = ffmpeg::format::input(&name).map_err(|e| unreadable(path, e))?;
    drop(opened);
    let index = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| unreadable(path, "no video stream"))?
        .index();
    let count = input.packets().filter(|(s, _)| s.index() == index).count();
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// Decodes every frame of `path`.
pub fn decode_all(path: &Path) -> Result<Vec<Frame>> {
    VideoDecoder::open(path)?.collect()
}

/// Decodes at most `max` frames of `path`, each passed through `fit` as it arrives (so a
/// large video is never held at its own size); also says whether more frames follow.
pub fn decode_up_to(
    path: &Path,
    max: usize,
    mut fit: impl FnMut(Frame) -> Result<Frame>,
) -> Result<(Vec<Frame>, bool)> {
    let mut decoder = VideoDecoder::open(path)?;
    let mut frames = Vec::with_capacity(max.min(1024));
    while let Some(frame) = decoder.next_frame()? {
        if frames.len() == max {
            return Ok((frames, true));
        }
        frames.push(fit(frame)?);
    }
    Ok((frames, false))
}

/// Decodes the first frame of `path` (any picture or video libav reads).
pub fn decode_first_frame(path: &Path) -> Result<Frame> {
    VideoDecoder::open(path)?
        .next_frame()?
        .ok_or_else(|| unreadable(path, "no frame could be decoded"))
}

/// Frame threads, as many as libav finds cores (libavcodec's own default is one thread).
pub(super) fn auto_threads() -> ffmpeg::codec::threading::Config {
    ffmpeg::codec::threading::Config {
        kind: ffmpeg::codec::threading::Type::Frame,
        count: 0,
        ..Default::default()
    }
}

fn frame_from_rgb24(rgb: &ffmpeg::frame::Video) -> Frame {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let stride = rgb.stride(0);
    let src = rgb.data(0);
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        data.extend_from_slice(&src[y * stride..y * stride + w * 3]);
    }
    Frame {
        width: w as u32,
        height: h as u32,
        data,
    }
}
