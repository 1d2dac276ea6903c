//! The gpu room: every operation on the CPU and on wgpu (lavapipe in CI) against
//! OpenCV's reference values (`scripts/golden_opencv.py`), and the two devices against
//! each other. Tolerance: one 8-bit level (both round f32 results half up; the last bit
//! of a float sum may differ).
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;

use wayfarer::gpu::{Compute, CpuCompute, FlowField, WgpuCompute, resize_flow};
use wayfarer::media::Frame;

const TOLERANCE: u8 = 1;

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name),
    )
    .unwrap()
}

fn frame(name: &str, width: u32, height: u32) -> Frame {
    Frame {
        width,
        height,
        data: golden(name),
    }
}

fn flow() -> FlowField {
    let bytes = golden("flow_37x29.f32");
    let floats: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    FlowField {
        width: 37,
        height: 29,
        data: floats.chunks_exact(2).map(|v| [v[0], v[1]]).collect(),
    }
}

fn max_diff(a: &Frame, b: &Frame) -> u8 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

/// Every device this machine has: the CPU, and wgpu when an adapter exists.
fn devices() -> Vec<Box<dyn Compute>> {
    let mut out: Vec<Box<dyn Compute>> = vec![Box::new(CpuCompute)];
    match WgpuCompute::new(true) {
        Ok(gpu) => out.push(Box::new(gpu)),
        Err(e) => common::skip(
            "the wgpu half of the compute tests",
            &format!("no wgpu adapter: {}", e.message),
        ),
    }
    out
}

#[test]
fn warp_matches_opencv_remap() {
    let src = frame("input_37x29.rgb", 37, 29);
    let expected = frame("warp_37x29.rgb", 37, 29);
    for d in devices() {
        let got = d.warp(&src, &flow(), 1.0).unwrap();
        assert!(
            max_diff(&got, &expected) <= TOLERANCE,
            "{}: {}",
            d.name(),
            max_diff(&got, &expected)
        );
    }
}

#[test]
fn resize_matches_opencv_area_and_linear() {
    let src = frame("input_37x29.rgb", 37, 29);
    let area = frame("area_20x15.rgb", 20, 15);
    let linear = frame("linear_61x47.rgb", 61, 47);
    for d in devices() {
        let got = d.crop_resize(&src, (0, 0, 37, 29), 20, 15).unwrap();
        assert!(
            max_diff(&got, &area) <= TOLERANCE,
            "{} area: {}",
            d.name(),
            max_diff(&got, &area)
        );
        let got = d.crop_resize(&src, (0, 0, 37, 29), 61, 47).unwrap();
        assert!(
            max_diff(&got, &linear) <= TOLERANCE,
            "{} linear: {}",
            d.name(),
            max_diff(&got, &linear)
        );
    }
}

fn real_frame() -> Frame {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/sintel_0016.png");
    wayfarer::media::load_image(&path).unwrap()
}

#[test]
fn cpu_and_wgpu_agree_on_real_frames() {
    let devices = devices();
    if devices.len() < 2 {
        common::skip("cpu_and_wgpu_agree_on_real_frames", "no wgpu adapter");
        return;
    }
    let (cpu, gpu) = (&devices[0], &devices[1]);
    let src = real_frame();
    for (w, h) in [(832, 480), (1280, 720), (320, 176)] {
        let a = cpu.crop_fit(&src, w, h).unwrap();
        let b = gpu.crop_fit(&src, w, h).unwrap();
        assert!(
            max_diff(&a, &b) <= TOLERANCE,
            "crop_fit {w}x{h}: {}",
            max_diff(&a, &b)
        );
    }
    let small = cpu.crop_fit(&src, 416, 240).unwrap();
    let field = FlowField {
        width: 416,
        height: 240,
        data: (0..416 * 240)
            .map(|i| {
                let (x, y) = ((i % 416) as f32, (i / 416) as f32);
                [3.5 * (y / 17.0).sin(), -2.25 * (x / 23.0).cos()]
            })
            .collect(),
    };
    for strength in [0.0, 0.5, 1.0, 2.0] {
        let a = cpu.warp(&small, &field, strength).unwrap();
        let b = gpu.warp(&small, &field, strength).unwrap();
        assert!(
            max_diff(&a, &b) <= TOLERANCE,
            "warp x{strength}: {}",
            max_diff(&a, &b)
        );
    }
    let other = cpu.warp(&small, &field, 1.0).unwrap();
    for t in [0.0, 0.3, 1.0] {
        let a = cpu.blend(&small, &other, t).unwrap();
        let b = gpu.blend(&small, &other, t).unwrap();
        assert!(
            max_diff(&a, &b) <= TOLERANCE,
            "blend {t}: {}",
            max_diff(&a, &b)
        );
    }
}

#[test]
fn warp_identities_and_translation() {
    let src = real_frame();
    for d in devices() {
        let small = d.crop_fit(&src, 160, 96).unwrap();
        let zero = FlowField::uniform(160, 96, 0.0, 0.0);
        assert_eq!(d.warp(&small, &zero, 1.0).unwrap(), small, "{}", d.name());
        // A whole-pixel shift moves the picture; strength 0 leaves it.
        let shift = FlowField::uniform(160, 96, 3.0, 0.0);
        let moved = d.warp(&small, &shift, 1.0).unwrap();
        assert_eq!(moved.pixel(10, 10), small.pixel(13, 10), "{}", d.name());
        assert_eq!(d.warp(&small, &shift, 0.0).unwrap(), small);
        assert_eq!(d.blend(&small, &moved, 0.0).unwrap(), small);
        assert_eq!(d.blend(&small, &moved, 1.0).unwrap(), moved);
    }
}

#[test]
fn crop_fit_never_stretches() {
    // A 2:1 picture with a centred disk stays round in a 16:9 frame.
    let disk = image::RgbImage::from_fn(400, 200, |x, y| {
        let (dx, dy) = (x as f32 + 0.5 - 200.0, y as f32 + 0.5 - 100.0);
        if dx * dx + dy * dy <= 80.0 * 80.0 {
            image::Rgb([255, 255, 255])
        } else {
            image::Rgb([0, 0, 0])
        }
    });
    let src = Frame::from_rgb_image(disk);
    for d in devices() {
        let out = d.crop_fit(&src, 320, 180).unwrap();
        let bright: Vec<(u32, u32)> = (0..180)
            .flat_map(|y| (0..320).map(move |x| (x, y)))
            .filter(|&(x, y)| out.pixel(x, y)[0] > 128)
            .collect();
        let w =
            bright.iter().map(|p| p.0).max().unwrap() - bright.iter().map(|p| p.0).min().unwrap();
        let h =
            bright.iter().map(|p| p.1).max().unwrap() - bright.iter().map(|p| p.1).min().unwrap();
        assert!(w.abs_diff(h) <= 1, "{}: disk {w}x{h}", d.name());
    }
}

#[test]
fn flow_resize_scales_vectors() {
    let f = FlowField::uniform(40, 20, 2.0, -1.0);
    let big = resize_flow(&f, 80, 60);
    assert_eq!(big.at(33, 17), [4.0, -3.0]);
}

#[test]
fn mismatched_inputs_are_errors_not_panics() {
    let a = Frame::gray(8, 8);
    let b = Frame::gray(4, 4);
    for d in devices() {
        assert!(d.blend(&a, &b, 0.5).is_err());
        assert!(
            d.warp(&a, &FlowField::uniform(4, 4, 0.0, 0.0), 1.0)
                .is_err()
        );
        assert!(d.crop_resize(&a, (4, 4, 8, 8), 4, 4).is_err());
    }
}

#[test]
fn flow_resize_matches_opencv_and_devices_agree() {
    let bytes = golden("flow_61x47.f32");
    let expected: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    for d in devices() {
        let big = d.resize_flow(&flow(), 61, 47).unwrap();
        let got: Vec<f32> = big.data.iter().flat_map(|v| [v[0], v[1]]).collect();
        let worst = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "{}: worst difference {worst}", d.name());
    }
    assert!(CpuCompute.resize_flow(&flow(), 0, 4).is_err());
}

#[test]
fn large_frames_stay_within_the_device_limits() {
    let mut gpu = match WgpuCompute::new(true) {
        Ok(gpu) => gpu,
        Err(e) => {
            common::skip(
                "large_frames_stay_within_the_device_limits",
                &format!("no wgpu adapter: {}", e.message),
            );
            return;
        }
    };
    // 4096 x 4096 was 65,536 workgroups in one dimension for the blend: over the limit.
    let (w, h) = (4096, 4096);
    let a = Frame::filled(w, h, [10, 200, 30]);
    let b = Frame::filled(w, h, [250, 0, 90]);
    let on_gpu = gpu.blend(&a, &b, 0.25).unwrap();
    assert_eq!(on_gpu.data, CpuCompute.blend(&a, &b, 0.25).unwrap().data);
    assert!(gpu.take_notes().is_empty(), "it fits the device");
    // An operation larger than the device binds runs on the CPU, with a note, same result.
    gpu.cap_storage_binding(1 << 20);
    let src = real_frame();
    let flow = FlowField::uniform(src.width, src.height, 3.5, -1.25);
    let warped = gpu.warp(&src, &flow, 1.0).unwrap();
    assert_eq!(warped.data, CpuCompute.warp(&src, &flow, 1.0).unwrap().data);
    let notes = gpu.take_notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("warping a frame ran on the CPU"),
        "{notes:?}"
    );
}
