//! Video through libav (ffmpeg-next): probe, decode to RGB frames, encode H.264 MP4.

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

fn pipeline(what: String) -> UserError {
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
fn libav_name(path: &Path, write: bool) -> Result<(String, Option<std::fs::File>)> {
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
                scaling::Context::get(fmt, w, h, Pixel::RGB24, w, h, scaling::Flags::BICUBIC)
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
fn auto_threads() -> ffmpeg::codec::threading::Config {
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

/// H.264 settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EncodeOptions {
    /// Constant rate factor (0 = lossless, 51 = worst); 12 keeps anchors faithful.
    pub crf: u8,
    /// libx264 preset, `ultrafast` … `veryslow`.
    pub preset: String,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            crf: 12,
            preset: "medium".into(),
        }
    }
}

/// The libx264 presets, fastest first.
pub const PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// Writes RGB frames as H.264 (yuv420p) in an MP4 with the index at the front (faststart).
pub struct VideoEncoder {
    output: ffmpeg::format::context::Output,
    encoder: ffmpeg::encoder::Video,
    scaler: scaling::Context,
    rgb: ffmpeg::frame::Video,
    yuv: ffmpeg::frame::Video,
    encoder_time_base: ffmpeg::Rational,
    stream_time_base: ffmpeg::Rational,
    next_pts: i64,
    path: PathBuf,
    /// The file behind a `/proc/self/fd/N` name, open for as long as libav may reopen it
    /// (the MP4 muxer reads the file back to move its index to the front).
    _opened: Option<std::fs::File>,
}

impl VideoEncoder {
    /// Creates the MP4 at `path` (whatever its extension) for `width` x `height` at `fps`.
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        fps: u32,
        options: &EncodeOptions,
    ) -> Result<Self> {
        init();
        let fail = |what: &str, e: ffmpeg::Error| {
            pipeline(format!("encoder: {what} for {}: {e}", path.display()))
        };
        if !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(UserError::input(format!(
                "H.264 yuv420p needs an even width and height, not {width}x{height}"
            ))
            .hint("make the project's width and height even numbers, e.g. 832x480"));
        }
        if options.crf > 51 {
            return Err(
                UserError::input(format!("crf: {} must be from 0 to 51", options.crf))
                    .hint("lower is better quality; 18 to 28 is usual"),
            );
        }
        if !PRESETS.contains(&options.preset.as_str()) {
            return Err(UserError::input(format!(
                "preset: unknown x264 preset {:?}",
                options.preset
            ))
            .hint(format!("use one of: {}", PRESETS.join(", "))));
        }
        let fps_i = i32::try_from(fps).map_err(|_| UserError::input("fps too large"))?;
        let codec = ffmpeg::encoder::find_by_name("libx264").ok_or_else(|| {
            UserError::new(
                ErrorCategory::SystemResource,
                "libav has no libx264 encoder",
            )
            .hint("install an FFmpeg build with libx264 (Debian: libavcodec59 or libavcodec-extra)")
        })?;
        let (name, opened) = libav_name(path, true)?;
        let mut output = ffmpeg::format::output_as(&name, "mp4").map_err(|e| {
            if let ffmpeg::Error::Other { errno } = e {
                UserError::io("writing", path, &std::io::Error::from_raw_os_error(errno))
            } else {
                fail("cannot create the MP4", e)
            }
        })?;
        let global_header = output
            .format()
            .flags()
            .contains(ffmpeg::format::Flags::GLOBAL_HEADER);
        let encoder_time_base = ffmpeg::Rational::new(1, fps_i);
        let mut ctx = ffmpeg::codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(|e| fail("no video encoder", e))?;
        ctx.set_width(width);
        ctx.set_height(height);
        ctx.set_format(Pixel::YUV420P);
        ctx.set_time_base(encoder_time_base);
        ctx.set_frame_rate(Some(ffmpeg::Rational::new(fps_i, 1)));
        ctx.set_colorspace(ffmpeg::color::Space::SMPTE170M);
        ctx.set_color_range(ffmpeg::color::Range::MPEG);
        ctx.set_threading(auto_threads());
        if global_header {
            ctx.set_flags(ffmpeg::codec::Flags::GLOBAL_HEADER);
        }
        let mut opts = ffmpeg::Dictionary::new();
        opts.set("crf", &options.crf.to_string());
        opts.set("preset", &options.preset);
        let encoder = ctx
            .open_with(opts)
            .map_err(|e| fail("cannot open libx264", e))?;
        {
            let mut stream = output
                .add_stream(codec)
                .map_err(|e| fail("cannot add a stream", e))?;
            stream.set_parameters(&encoder);
            stream.set_time_base(encoder_time_base);
            stream.set_avg_frame_rate(ffmpeg::Rational::new(fps_i, 1));
        }
        let mut mux = ffmpeg::Dictionary::new();
        mux.set("movflags", "+faststart");
        output
            .write_header_with(mux)
            .map_err(|e| fail("cannot write the MP4 header", e))?;
        // The muxer picks its own stream time base at write_header().
        let stream_time_base = output
            .stream(0)
            .map_or(encoder_time_base, |s| s.time_base());
        let scaler = scaling::Context::get(
            Pixel::RGB24,
            width,
            height,
            Pixel::YUV420P,
            width,
            height,
            scaling::Flags::BICUBIC,
        )
        .map_err(|e| fail("no RGB to YUV converter", e))?;
        Ok(Self {
            output,
            encoder,
            scaler,
            rgb: ffmpeg::frame::Video::new(Pixel::RGB24, width, height),
            yuv: ffmpeg::frame::Video::new(Pixel::YUV420P, width, height),
            encoder_time_base,
            stream_time_base,
            next_pts: 0,
            path: path.to_path_buf(),
            _opened: opened,
        })
    }

    /// Appends one frame; it must have the size given at creation.
    pub fn push(&mut self, frame: &Frame) -> Result<()> {
        let (w, h) = (self.rgb.width(), self.rgb.height());
        if (frame.width, frame.height) != (w, h) {
            return Err(pipeline(format!(
                "encoder: frame is {}x{}, the video is {w}x{h}",
                frame.width, frame.height
            )));
        }
        let stride = self.rgb.stride(0);
        let row = w as usize * 3;
        let dst = self.rgb.data_mut(0);
        for (y, src_row) in frame.data.chunks_exact(row).enumerate() {
            dst[y * stride..y * stride + row].copy_from_slice(src_row);
        }
        self.scaler
            .run(&self.rgb, &mut self.yuv)
            .map_err(|e| pipeline(format!("encoder: colour conversion failed: {e}")))?;
        self.yuv.set_pts(Some(self.next_pts));
        self.next_pts += 1;
        self.encoder
            .send_frame(&self.yuv)
            .map_err(|e| pipeline(format!("encoder: libx264 refused a frame: {e}")))?;
        self.write_packets()
    }

    fn write_packets(&mut self) -> Result<()> {
        let mut packet = ffmpeg::Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            if packet.duration() == 0 {
                packet.set_duration(1);
            }
            packet.set_stream(0);
            packet.rescale_ts(self.encoder_time_base, self.stream_time_base);
            packet.write_interleaved(&mut self.output).map_err(|e| {
                UserError::new(
                    ErrorCategory::FileSystem,
                    format!("writing {}: {e}", self.path.display()),
                )
                .hint("check free disk space")
            })?;
        }
        Ok(())
    }

    /// Number of frames pushed so far.
    pub fn frames_written(&self) -> i64 {
        self.next_pts
    }

    /// Flushes the encoder and writes the MP4 index.
    pub fn finish(mut self) -> Result<()> {
        self.encoder
            .send_eof()
            .map_err(|e| pipeline(format!("encoder: flush failed: {e}")))?;
        self.write_packets()?;
        self.output.write_trailer().map_err(|e| {
            UserError::new(
                ErrorCategory::FileSystem,
                format!("writing {}: {e}", self.path.display()),
            )
        })
    }
}
