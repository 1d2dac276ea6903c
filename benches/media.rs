//! 720p H.264 encode and decode throughput of Wayfarer's media room next to the `ffmpeg`
//! command-line tool, on the same frames, preset and CRF, measured in one run.
//!
//! Run: `cargo bench --bench media` (needs the `ffmpeg` CLI for the comparison:
//! `apt-get install ffmpeg`; only this benchmark uses it, never the product).
//!
//! Both sides convert RGB24 <-> yuv420p with swscale and let libx264 / the decoder pick
//! their thread count. The `ffmpeg` figures include process start-up and reading the raw
//! frames from the page cache; each figure is the best of three runs.
#![expect(
    clippy::expect_used,
    reason = "test code: a failed expect is a failed test"
)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use wayfarer::media::{self, EncodeOptions, Frame, VideoEncoder};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;
const FPS: u32 = 16;
const FRAMES: usize = 96;
const CRF: u8 = 18;

/// Real picture content with motion: the demo frames, fitted to 720p, panning 3 px a frame.
fn make_frames() -> Vec<Frame> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    let sources: Vec<Frame> = ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"]
        .iter()
        .map(|n| {
            let img = media::load_image(&dir.join(n)).expect("demo image");
            media::crop_fit(&img, WIDTH, HEIGHT).expect("fit")
        })
        .collect();
    (0..FRAMES)
        .map(|i| {
            let src = &sources[i * sources.len() / FRAMES];
            let shift = (i * 3) % WIDTH as usize;
            let row = WIDTH as usize * 3;
            let mut data = Vec::with_capacity(src.data.len());
            for y in 0..HEIGHT as usize {
                let line = &src.data[y * row..(y + 1) * row];
                data.extend_from_slice(&line[shift * 3..]);
                data.extend_from_slice(&line[..shift * 3]);
            }
            Frame {
                width: WIDTH,
                height: HEIGHT,
                data,
            }
        })
        .collect()
}

fn best_of_3(mut f: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn run_ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(args)
        .status()
        .expect("the ffmpeg CLI is needed for the comparison: apt-get install ffmpeg");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

fn fps(d: Duration) -> f64 {
    FRAMES as f64 / d.as_secs_f64()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let frames = make_frames();
    let raw = dir.path().join("frames.rgb");
    let bytes: Vec<u8> = frames.iter().flat_map(|f| f.data.iter().copied()).collect();
    std::fs::write(&raw, &bytes).expect("write raw frames");
    let size = format!("{WIDTH}x{HEIGHT}");
    let crf = CRF.to_string();
    let fps_arg = FPS.to_string();

    println!("{FRAMES} frames {WIDTH}x{HEIGHT}, libx264 crf {CRF}, best of 3");
    println!(
        "{:<10} {:>14} {:>14} {:>9}",
        "preset", "wayfarer fps", "ffmpeg fps", "ratio"
    );
    for preset in ["veryfast", "medium"] {
        let ours_out = dir.path().join(format!("ours-{preset}.mp4"));
        let options = EncodeOptions {
            crf: CRF,
            preset: preset.into(),
            ..EncodeOptions::default()
        };
        let ours = best_of_3(|| {
            let mut enc =
                VideoEncoder::create(&ours_out, WIDTH, HEIGHT, FPS, &options).expect("encoder");
            for f in &frames {
                enc.push(f).expect("push");
            }
            enc.finish().expect("finish");
        });
        let cli_out = dir.path().join(format!("cli-{preset}.mp4"));
        let cli = best_of_3(|| {
            run_ffmpeg(&[
                "-v",
                "error",
                "-y",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "-s",
                &size,
                "-r",
                &fps_arg,
                "-i",
                raw.to_str().unwrap_or_default(),
                "-c:v",
                "libx264",
                "-preset",
                preset,
                "-crf",
                &crf,
                "-pix_fmt",
                "yuv420p",
                "-movflags",
                "+faststart",
                cli_out.to_str().unwrap_or_default(),
            ]);
        });
        println!(
            "{:<10} {:>14.1} {:>14.1} {:>8.2}x   encode",
            preset,
            fps(ours),
            fps(cli),
            fps(ours) / fps(cli)
        );
        if preset == "veryfast" {
            let ours_dec = best_of_3(|| {
                let n = media::decode_all(&ours_out).expect("decode").len();
                assert_eq!(n, FRAMES);
            });
            let cli_dec = best_of_3(|| {
                run_ffmpeg(&[
                    "-v",
                    "error",
                    "-i",
                    ours_out.to_str().unwrap_or_default(),
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "rgb24",
                    "-y",
                    "/dev/null",
                ]);
            });
            println!(
                "{:<10} {:>14.1} {:>14.1} {:>8.2}x   decode to RGB24",
                "-",
                fps(ours_dec),
                fps(cli_dec),
                fps(ours_dec) / fps(cli_dec)
            );
        }
    }
}
