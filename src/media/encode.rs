//! Writing a render: the export formats, video encoding through libav and PNG sequences.

use std::path::{Path, PathBuf};

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg_next as ffmpeg;
use serde::{Deserialize, Serialize};

use super::Frame;
use super::video::{auto_threads, init, libav_name, pipeline};
use crate::error::{ErrorCategory, Result, UserError};

/// What a render is written as: a video for the web, for editing or for archiving, or a
/// folder of PNG pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ExportFormat {
    /// H.264, 4:2:0 chroma, in MP4: plays everywhere.
    #[default]
    #[serde(rename = "h264")]
    H264,
    /// H.264 High 4:4:4, full-resolution colour, in MP4: for editing.
    #[serde(rename = "h264-444")]
    H264Full,
    /// HEVC (H.265), 4:2:0, in MP4: smaller files.
    #[serde(rename = "hevc")]
    Hevc,
    /// Apple ProRes 422 HQ (10-bit) in QuickTime MOV: for editing.
    #[serde(rename = "prores")]
    ProRes,
    /// One lossless PNG per frame in a folder: for compositing and archiving.
    #[serde(rename = "png")]
    Png,
    /// H.264 on an NVIDIA GPU (NVENC), 4:2:0, in MP4.
    #[serde(rename = "h264-nvenc")]
    H264Nvenc,
    /// HEVC on an NVIDIA GPU (NVENC), 4:2:0, in MP4.
    #[serde(rename = "hevc-nvenc")]
    HevcNvenc,
}

impl ExportFormat {
    /// Every format, the default first.
    pub const ALL: [ExportFormat; 7] = [
        ExportFormat::H264,
        ExportFormat::H264Full,
        ExportFormat::Hevc,
        ExportFormat::ProRes,
        ExportFormat::Png,
        ExportFormat::H264Nvenc,
        ExportFormat::HevcNvenc,
    ];

    /// The name on the command line (`--format`).
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::H264 => "h264",
            ExportFormat::H264Full => "h264-444",
            ExportFormat::Hevc => "hevc",
            ExportFormat::ProRes => "prores",
            ExportFormat::Png => "png",
            ExportFormat::H264Nvenc => "h264-nvenc",
            ExportFormat::HevcNvenc => "hevc-nvenc",
        }
    }

    /// The format with `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The name a person reads.
    pub fn label(self) -> &'static str {
        match self {
            ExportFormat::H264 => "H.264 MP4 (for the web)",
            ExportFormat::H264Full => "H.264 4:4:4 MP4 (full colour, for editing)",
            ExportFormat::Hevc => "HEVC MP4 (smaller files)",
            ExportFormat::ProRes => "ProRes 422 HQ MOV (for editing)",
            ExportFormat::Png => "PNG pictures in a folder",
            ExportFormat::H264Nvenc => "H.264 MP4 on the NVIDIA GPU",
            ExportFormat::HevcNvenc => "HEVC MP4 on the NVIDIA GPU",
        }
    }

    /// A short name a person reads.
    pub fn short_label(self) -> &'static str {
        match self {
            ExportFormat::H264 => "H.264",
            ExportFormat::H264Full => "H.264 4:4:4",
            ExportFormat::Hevc => "HEVC",
            ExportFormat::ProRes => "ProRes",
            ExportFormat::Png => "PNG",
            ExportFormat::H264Nvenc => "H.264 (NVIDIA)",
            ExportFormat::HevcNvenc => "HEVC (NVIDIA)",
        }
    }

    /// The libav encoder; `None` for PNG pictures (written by the image library).
    pub fn encoder(self) -> Option<&'static str> {
        match self {
            ExportFormat::H264 | ExportFormat::H264Full => Some("libx264"),
            ExportFormat::Hevc => Some("libx265"),
            ExportFormat::ProRes => Some("prores_ks"),
            ExportFormat::H264Nvenc => Some("h264_nvenc"),
            ExportFormat::HevcNvenc => Some("hevc_nvenc"),
            ExportFormat::Png => None,
        }
    }

    /// The file name extension the output should have; `None`: a folder.
    pub fn extension(self) -> Option<&'static str> {
        match self {
            ExportFormat::ProRes => Some("mov"),
            ExportFormat::Png => None,
            _ => Some("mp4"),
        }
    }

    fn container(self) -> &'static str {
        match self {
            ExportFormat::ProRes => "mov",
            _ => "mp4",
        }
    }

    fn pixel(self) -> Pixel {
        match self {
            ExportFormat::H264Full => Pixel::YUV444P,
            ExportFormat::ProRes => Pixel::YUV422P10LE,
            _ => Pixel::YUV420P,
        }
    }

    /// Whether this machine writes the format: the encoder exists and opens for a small
    /// picture (an NVENC encoder also needs a working NVIDIA GPU and driver). The error
    /// says why not.
    pub fn check(self) -> std::result::Result<(), String> {
        let Some(name) = self.encoder() else {
            return Ok(());
        };
        init();
        let codec = ffmpeg::encoder::find_by_name(name)
            .ok_or_else(|| format!("this libav has no {name} encoder"))?;
        let mut ctx = ffmpeg::codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(|e| format!("{name}: {e}"))?;
        ctx.set_width(256);
        ctx.set_height(256);
        ctx.set_format(self.pixel());
        ctx.set_time_base(ffmpeg::Rational::new(1, 16));
        ctx.open_with(self.codec_options(&EncodeOptions::default()))
            .map(|_| ())
            .map_err(|e| {
                if name.contains("nvenc") {
                    format!(
                        "{name} needs an NVIDIA GPU and its driver; it does not open here ({e})"
                    )
                } else {
                    format!("{name} does not open here: {e}")
                }
            })
    }

    /// The encoder's options for `options`.
    fn codec_options(self, options: &EncodeOptions) -> ffmpeg::Dictionary<'static> {
        let mut opts = ffmpeg::Dictionary::new();
        match self {
            ExportFormat::H264 | ExportFormat::H264Full => {
                opts.set("crf", &options.crf.to_string());
                opts.set("preset", &options.preset);
            }
            ExportFormat::Hevc => {
                opts.set("crf", &options.crf.to_string());
                opts.set("preset", &options.preset);
                opts.set("x265-params", "log-level=error");
            }
            ExportFormat::ProRes => {
                // Profile 3 is 422 HQ; the quality is the profile's, CRF does not apply.
                opts.set("profile", "3");
                opts.set("vendor", "apl0");
            }
            ExportFormat::H264Nvenc | ExportFormat::HevcNvenc => {
                opts.set("preset", nvenc_preset(&options.preset));
                opts.set("rc", "vbr");
                opts.set("cq", &options.crf.max(1).to_string());
                opts.set("b", "0");
            }
            ExportFormat::Png => {}
        }
        opts
    }
}

/// The formats this machine writes ([`ExportFormat::check`]), found once.
pub fn working_formats() -> &'static [ExportFormat] {
    static WORKING: std::sync::OnceLock<Vec<ExportFormat>> = std::sync::OnceLock::new();
    WORKING.get_or_init(|| {
        ExportFormat::ALL
            .into_iter()
            .filter(|f| f.check().is_ok())
            .collect()
    })
}

/// The NVENC preset (`p1` fastest … `p7` best) nearest to an x264 preset name.
fn nvenc_preset(x264: &str) -> &'static str {
    match x264 {
        "ultrafast" | "superfast" => "p1",
        "veryfast" => "p2",
        "faster" => "p3",
        "fast" => "p4",
        "medium" => "p5",
        "slow" => "p6",
        _ => "p7",
    }
}

/// How a render is written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EncodeOptions {
    /// Constant rate factor for H.264 and HEVC, constant quality for NVENC (0 = lossless,
    /// 51 = worst); 12 keeps anchors faithful. ProRes and PNG do not use it.
    pub crf: u8,
    /// Encoder preset, `ultrafast` … `veryslow` (x264's names; NVENC gets the nearest).
    pub preset: String,
    /// The format.
    pub format: ExportFormat,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            crf: 12,
            preset: "medium".into(),
            format: ExportFormat::H264,
        }
    }
}

/// The encoder presets, fastest first.
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

/// Writes RGB frames as a video (the format's codec and container; MP4 with the index at
/// the front).
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
    codec: &'static str,
    /// The file behind a `/proc/self/fd/N` name, open for as long as libav may reopen it
    /// (the MP4 muxer reads the file back to move its index to the front).
    _opened: Option<std::fs::File>,
}

/// Checks the settings before anything is opened.
fn check_options(width: u32, height: u32, options: &EncodeOptions) -> Result<()> {
    if options.format != ExportFormat::H264Full
        && (!width.is_multiple_of(2) || !height.is_multiple_of(2))
    {
        return Err(UserError::input(format!(
            "{} needs an even width and height, not {width}x{height}",
            options.format.label()
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
            "preset: unknown encoder preset {:?}",
            options.preset
        ))
        .hint(format!("use one of: {}", PRESETS.join(", "))));
    }
    Ok(())
}

impl VideoEncoder {
    /// Creates the video at `path` (whatever its extension) for `width` x `height` at `fps`.
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
        check_options(width, height, options)?;
        let format = options.format;
        let Some(codec_name) = format.encoder() else {
            return Err(pipeline(format!(
                "internal error: {} is not a video format",
                format.label()
            )));
        };
        let fps_i = i32::try_from(fps).map_err(|_| UserError::input("fps too large"))?;
        let codec = ffmpeg::encoder::find_by_name(codec_name).ok_or_else(|| {
            UserError::new(
                ErrorCategory::SystemResource,
                format!(
                    "libav has no {codec_name} encoder, needed for {}",
                    format.label()
                ),
            )
            .hint("choose another format (wayfarer doctor lists those that work here)")
        })?;
        let (name, opened) = libav_name(path, true)?;
        let mut output = ffmpeg::format::output_as(&name, format.container()).map_err(|e| {
            if let ffmpeg::Error::Other { errno } = e {
                UserError::io("writing", path, &std::io::Error::from_raw_os_error(errno))
            } else {
                fail("cannot create the video file", e)
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
        ctx.set_format(format.pixel());
        ctx.set_time_base(encoder_time_base);
        ctx.set_frame_rate(Some(ffmpeg::Rational::new(fps_i, 1)));
        ctx.set_colorspace(ffmpeg::color::Space::SMPTE170M);
        ctx.set_color_range(ffmpeg::color::Range::MPEG);
        ctx.set_threading(auto_threads());
        if global_header {
            ctx.set_flags(ffmpeg::codec::Flags::GLOBAL_HEADER);
        }
        let encoder = ctx.open_with(format.codec_options(options)).map_err(|e| {
            UserError::new(
                ErrorCategory::SystemResource,
                format!("{codec_name} does not open for {}: {e}", format.label()),
            )
            .hint("choose another format (wayfarer doctor lists those that work here)")
        })?;
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
            .map_err(|e| fail("cannot write the file header", e))?;
        // The muxer picks its own stream time base at write_header().
        let stream_time_base = output
            .stream(0)
            .map_or(encoder_time_base, |s| s.time_base());
        let scaler = scaling::Context::get(
            Pixel::RGB24,
            width,
            height,
            format.pixel(),
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
            yuv: ffmpeg::frame::Video::new(format.pixel(), width, height),
            encoder_time_base,
            stream_time_base,
            next_pts: 0,
            path: path.to_path_buf(),
            codec: codec_name,
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
        // A picture of its own for every frame: an encoder that works on several frames at
        // once (ProRes, NVENC) still holds the previous one when the next is converted.
        self.yuv = ffmpeg::frame::Video::new(self.yuv.format(), w, h);
        self.scaler
            .run(&self.rgb, &mut self.yuv)
            .map_err(|e| pipeline(format!("encoder: colour conversion failed: {e}")))?;
        self.yuv.set_pts(Some(self.next_pts));
        self.next_pts += 1;
        self.encoder
            .send_frame(&self.yuv)
            .map_err(|e| pipeline(format!("encoder: {} refused a frame: {e}", self.codec)))?;
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

    /// Flushes the encoder and writes the file's index.
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

/// The file name of frame `i` (numbered from 1) in a PNG sequence.
pub fn png_name(i: u64) -> String {
    format!("frame_{i:05}.png")
}

/// Whether `name` is a frame of a PNG sequence Wayfarer writes.
pub fn is_png_frame_name(name: &str) -> bool {
    name.strip_prefix("frame_")
        .and_then(|r| r.strip_suffix(".png"))
        .is_some_and(|n| n.len() >= 5 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Writes frames as `frame_00001.png`, `frame_00002.png` … into a folder.
pub struct PngSequence {
    folder: PathBuf,
    written: u64,
}

impl PngSequence {
    /// Writes into `folder`, which must exist.
    pub fn create(folder: &Path) -> Self {
        Self {
            folder: folder.to_path_buf(),
            written: 0,
        }
    }

    /// Writes the next frame.
    pub fn push(&mut self, frame: &Frame) -> Result<()> {
        use image::ImageEncoder;
        let path = self.folder.join(png_name(self.written + 1));
        let file = std::fs::File::create(&path).map_err(|e| UserError::io("writing", &path, &e))?;
        let encoder = image::codecs::png::PngEncoder::new_with_quality(
            std::io::BufWriter::new(file),
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Adaptive,
        );
        encoder
            .write_image(
                &frame.data,
                frame.width,
                frame.height,
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| {
                UserError::new(
                    ErrorCategory::FileSystem,
                    format!("writing {}: {e}", path.display()),
                )
                .hint("check free disk space")
            })?;
        self.written += 1;
        Ok(())
    }
}

/// The frames of a PNG sequence in `folder`, in order.
pub fn png_sequence_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| UserError::io("reading", folder, &e))?
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(is_png_frame_name))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// Where a render's frames go: a video file or a PNG sequence.
pub enum Writer {
    /// A video file.
    Video(VideoEncoder),
    /// A folder of PNG pictures.
    Png(PngSequence),
}

impl Writer {
    /// A writer of `options.format` at `path` (a file, or an existing folder for PNG).
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        fps: u32,
        options: &EncodeOptions,
    ) -> Result<Self> {
        if options.format == ExportFormat::Png {
            check_options(width, height, options)?;
            Ok(Writer::Png(PngSequence::create(path)))
        } else {
            VideoEncoder::create(path, width, height, fps, options).map(Writer::Video)
        }
    }

    /// Appends one frame.
    pub fn push(&mut self, frame: &Frame) -> Result<()> {
        match self {
            Writer::Video(v) => v.push(frame),
            Writer::Png(p) => p.push(frame),
        }
    }

    /// Completes the file.
    pub fn finish(self) -> Result<()> {
        match self {
            Writer::Video(v) => v.finish(),
            Writer::Png(_) => Ok(()),
        }
    }
}
