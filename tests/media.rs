//! Image loading (formats, bit depths, alpha, EXIF orientation) and libav video round trips.

pub mod common;

use image::{ImageBuffer, ImageEncoder, Luma, LumaA, Rgb, Rgba};
use wayfarer::media::{self, EncodeOptions, Frame, VideoEncoder, load_image, psnr};

#[test]
fn png_16_bit_grey_and_alpha() {
    let dir = tempfile::tempdir().unwrap();
    let p16 = dir.path().join("deep.png");
    ImageBuffer::<Rgb<u16>, _>::from_pixel(4, 3, Rgb([65535, 32896, 0]))
        .save(&p16)
        .unwrap();
    let f = load_image(&p16).unwrap();
    assert_eq!((f.width, f.height), (4, 3));
    assert_eq!(f.pixel(1, 1), [255, 128, 0]);

    let grey = dir.path().join("grey.png");
    ImageBuffer::<Luma<u8>, _>::from_pixel(2, 2, Luma([77]))
        .save(&grey)
        .unwrap();
    assert_eq!(load_image(&grey).unwrap().pixel(0, 0), [77, 77, 77]);

    let grey_alpha = dir.path().join("grey_alpha.png");
    ImageBuffer::<LumaA<u8>, _>::from_pixel(2, 2, LumaA([200, 255]))
        .save(&grey_alpha)
        .unwrap();
    assert_eq!(
        load_image(&grey_alpha).unwrap().pixel(1, 1),
        [200, 200, 200]
    );

    // Alpha is composited over black.
    let alpha = dir.path().join("alpha.png");
    ImageBuffer::<Rgba<u8>, _>::from_pixel(2, 2, Rgba([200, 100, 50, 128]))
        .save(&alpha)
        .unwrap();
    assert_eq!(load_image(&alpha).unwrap().pixel(0, 0), [100, 50, 25]);
}

#[test]
fn jpeg_and_webp() {
    let dir = tempfile::tempdir().unwrap();
    let src = image::open(common::demo_image("sintel_0016.png"))
        .unwrap()
        .to_rgb8();
    let jpg = dir.path().join("a.jpg");
    src.save(&jpg).unwrap();
    let webp = dir.path().join("a.webp");
    src.save(&webp).unwrap();
    let reference = Frame::from_rgb_image(src);
    let from_jpg = load_image(&jpg).unwrap();
    assert!(psnr(&from_jpg, &reference) > 30.0);
    let from_webp = load_image(&webp).unwrap();
    assert_eq!(from_webp, reference, "WebP lossless must be exact");
}

/// A TIFF-in-EXIF block holding only an Orientation tag.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut e = b"MM\0\x2a\0\0\0\x08".to_vec();
    e.extend_from_slice(&[0, 1]); // one entry
    e.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]); // Orientation, SHORT, count 1
    e.extend_from_slice(&value.to_be_bytes());
    e.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // padding, next IFD = 0
    e
}

#[test]
fn exif_orientation_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    // 40x20: left half red, right half blue.
    let img = ImageBuffer::from_fn(40, 20, |x, _| {
        if x < 20 {
            Rgb([255u8, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    let path = dir.path().join("rotated.jpg");
    let mut bytes = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95);
    enc.set_exif_metadata(exif_orientation(6)).unwrap();
    enc.write_image(img.as_raw(), 40, 20, image::ExtendedColorType::Rgb8)
        .unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let f = load_image(&path).unwrap();
    // Orientation 6: rotate 90 degrees clockwise to display -> 20x40, red on top.
    assert_eq!((f.width, f.height), (20, 40));
    let top = f.pixel(10, 5);
    let bottom = f.pixel(10, 35);
    assert!(top[0] > 200 && top[2] < 60, "top {top:?}");
    assert!(bottom[2] > 200 && bottom[0] < 60, "bottom {bottom:?}");
}

#[test]
fn video_round_trip_and_first_frame_as_image() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clip.mp4");
    let src = media::crop_fit(
        &load_image(&common::demo_image("sintel_0016.png")).unwrap(),
        320,
        176,
    )
    .unwrap();
    let mut enc = VideoEncoder::create(&out, 320, 176, 24, &EncodeOptions::default()).unwrap();
    for i in 0..30u8 {
        let mut f = src.clone();
        f.data.iter_mut().for_each(|v| *v = v.saturating_add(i));
        enc.push(&f).unwrap();
    }
    enc.finish().unwrap();
    let info = media::probe(&out).unwrap();
    assert_eq!(info.fps, (24, 1));
    assert_eq!(info.frames, 30);
    assert!(
        (info.duration_secs - 1.25).abs() < 1e-3,
        "{}",
        info.duration_secs
    );
    // faststart: the index (moov) precedes the media data (mdat).
    let bytes = std::fs::read(&out).unwrap();
    let find = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(
        find(b"moov") < find(b"mdat"),
        "moov after mdat: not faststart"
    );
    let frames = media::decode_all(&out).unwrap();
    assert_eq!(frames.len(), 30);
    assert!(psnr(&frames[0], &src) > 35.0);
    // A picture format the image crate does not know falls back to libav: an MP4's first frame.
    let renamed = dir.path().join("clip.unknown");
    std::fs::copy(&out, &renamed).unwrap();
    assert!(psnr(&load_image(&renamed).unwrap(), &src) > 35.0);
}

#[test]
fn truncated_video_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.mp4");
    std::fs::write(&bad, b"\0\0\0\x18ftypmp42 not really a video").unwrap();
    let err = media::probe(&bad).unwrap_err();
    assert!(err.message.contains("cannot read video"), "{}", err.message);
    assert_eq!(err.exit_code(), 2);
}
