//! 1280x720 image operations, measured side by side in one run: Wayfarer's CPU path, its
//! wgpu path (lavapipe when there is no GPU), OpenCV on the same frames (when
//! `OPENCV_PYTHON` names a Python with `cv2`, e.g. a venv with opencv-python-headless), and
//! the built-in flow estimator.
//!
//! Run: `OPENCV_PYTHON=/path/to/venv/bin/python cargo bench --bench compute`.
//! Figures are the median of 15 runs (flow: 5), in milliseconds per frame. The wgpu figures
//! include uploading the frame and reading the result back.
#![expect(
    clippy::expect_used,
    reason = "test code: a failed expect is a failed test"
)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use wayfarer::flow::{FlowEstimator, PyramidalLucasKanade};
use wayfarer::gpu::{Compute, CpuCompute, FlowField, WgpuCompute};
use wayfarer::media::{self, Frame};

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn opencv(python: &str, src: &Path, flow: &Path) -> Option<(f64, f64)> {
    let script = r"
import sys, time, numpy as np, cv2
cv2.setNumThreads(2)
src = np.fromfile(sys.argv[1], np.uint8).reshape(436, 1024, 3)
flow = np.fromfile(sys.argv[2], np.float32).reshape(720, 1280, 2)
img = cv2.resize(src[:, 125:900], (1280, 720), interpolation=cv2.INTER_LINEAR)
y, x = np.mgrid[0:720, 0:1280].astype(np.float32)
mx, my = x + flow[..., 0], y + flow[..., 1]
def med(f, n=15):
    t = []
    for _ in range(n):
        s = time.perf_counter(); f(); t.append((time.perf_counter() - s) * 1000)
    return sorted(t)[n // 2]
warp = med(lambda: cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
resize = med(lambda: cv2.resize(src[:, 125:900], (1280, 720), interpolation=cv2.INTER_LINEAR))
print(warp, resize)
";
    let out = Command::new(python)
        .args(["-c", script, src.to_str()?, flow.to_str()?])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some((it.next()??, it.next()??))
}

fn main() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    let src = media::load_image(&demo.join("sintel_0016.png")).expect("demo frame");
    let next = media::load_image(&demo.join("sintel_0020.png")).expect("demo frame");
    let cpu = CpuCompute;
    let frame: Frame = cpu.crop_fit(&src, 1280, 720).expect("fit");
    let flow = FlowField {
        width: 1280,
        height: 720,
        data: (0..1280 * 720)
            .map(|i| {
                let (x, y) = ((i % 1280) as f32, (i / 1280) as f32);
                [6.0 * (y / 40.0).sin(), -4.0 * (x / 55.0).cos()]
            })
            .collect(),
    };
    let gpu = WgpuCompute::new(true).ok();
    println!("1280x720, median ms per frame");
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "operation", "cpu", "wgpu", "opencv"
    );
    let cpu_warp = median_ms(15, || drop(cpu.warp(&frame, &flow, 1.0)));
    // The source is 1024x436; the crop keeps 16:9 (775x436) and enlarges it to 1280x720.
    let cpu_fit = median_ms(15, || drop(cpu.crop_fit(&src, 1280, 720)));
    let cpu_blend = median_ms(15, || drop(cpu.blend(&frame, &frame, 0.3)));
    let (gpu_warp, gpu_fit, gpu_blend) = match &gpu {
        Some(g) => (
            median_ms(15, || drop(g.warp(&frame, &flow, 1.0))),
            median_ms(15, || drop(g.crop_fit(&src, 1280, 720))),
            median_ms(15, || drop(g.blend(&frame, &frame, 0.3))),
        ),
        None => (f64::NAN, f64::NAN, f64::NAN),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (src_path, flow_path) = (dir.path().join("src.rgb"), dir.path().join("flow.f32"));
    std::fs::write(&src_path, &src.data).expect("write");
    std::fs::write(&flow_path, bytemuck::cast_slice::<[f32; 2], u8>(&flow.data)).expect("write");
    let cv = std::env::var("OPENCV_PYTHON")
        .ok()
        .and_then(|py| opencv(&py, &src_path, &flow_path));
    let (cv_warp, cv_fit) = cv.unwrap_or((f64::NAN, f64::NAN));
    println!(
        "{:<28} {cpu_warp:>10.2} {gpu_warp:>10.2} {cv_warp:>10.2}",
        "warp by flow (bilinear)"
    );
    println!(
        "{:<28} {cpu_fit:>10.2} {gpu_fit:>10.2} {cv_fit:>10.2}",
        "crop-fit 1024x436 -> 720p"
    );
    println!(
        "{:<28} {cpu_blend:>10.2} {gpu_blend:>10.2} {:>10}",
        "blend", "-"
    );
    if cv.is_some() {
        println!(
            "ratio cpu / opencv: warp {:.2}x, crop-fit {:.2}x",
            cpu_warp / cv_warp,
            cpu_fit / cv_fit
        );
    }
    let est = PyramidalLucasKanade::default();
    let a = cpu.crop_fit(&src, 1280, 720).expect("fit");
    let b = cpu.crop_fit(&next, 1280, 720).expect("fit");
    let flow_ms = median_ms(5, || drop(est.estimate(&a, &b)));
    println!("built-in flow 720p: {flow_ms:.0} ms per frame pair");
    let cache = wayfarer::flow::FlowCache::new(dir.path().join("flows"), 1 << 30);
    let key = wayfarer::flow::cache::frame_pair_key(&a, &b, &est.identity());
    let _ = cache.get_or_compute(&key, || est.estimate(&a, &b));
    let hit_ms = median_ms(15, || {
        drop(cache.get_or_compute(&key, || est.estimate(&a, &b)));
    });
    println!(
        "flow cache hit 720p: {hit_ms:.1} ms (recompute {flow_ms:.0} ms, {:.0}x)",
        flow_ms / hit_ms
    );
}
