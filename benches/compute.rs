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

use wayfarer::flow::{DenseInverseSearch, DisPreset, FlowEstimator, PyramidalLucasKanade};
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

fn opencv(python: &str, src: &Path, flow: &Path) -> Option<[f64; 4]> {
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
blend = med(lambda: cv2.addWeighted(img, 0.7, img, 0.3, 0))
big = cv2.resize(img, (1920, 1080), interpolation=cv2.INTER_LINEAR)
shrink = med(lambda: cv2.resize(big, (1280, 720), interpolation=cv2.INTER_AREA))
print(warp, resize, blend, shrink)
";
    let out = Command::new(python)
        .args(["-c", script, src.to_str()?, flow.to_str()?])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??, it.next()??])
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
    // Shrinking (area average): 1920x1080 -> 1280x720, as a 1080p structure video is fitted.
    let big = cpu.crop_fit(&src, 1920, 1080).expect("fit");
    let cpu_shrink = median_ms(15, || drop(cpu.crop_fit(&big, 1280, 720)));
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
    let [cv_warp, cv_fit, cv_blend, cv_shrink] = cv.unwrap_or([f64::NAN; 4]);
    let gpu_shrink = gpu.as_ref().map_or(f64::NAN, |g| {
        median_ms(15, || drop(g.crop_fit(&big, 1280, 720)))
    });
    println!(
        "{:<28} {cpu_warp:>10.2} {gpu_warp:>10.2} {cv_warp:>10.2}",
        "warp by flow (bilinear)"
    );
    println!(
        "{:<28} {cpu_fit:>10.2} {gpu_fit:>10.2} {cv_fit:>10.2}",
        "crop-fit 1024x436 -> 720p"
    );
    println!(
        "{:<28} {cpu_shrink:>10.2} {gpu_shrink:>10.2} {cv_shrink:>10.2}",
        "crop-fit 1080p -> 720p"
    );
    println!(
        "{:<28} {cpu_blend:>10.2} {gpu_blend:>10.2} {cv_blend:>10.2}",
        "blend"
    );
    if cv.is_some() {
        println!(
            "ratio cpu / opencv: warp {:.2}x, crop-fit up {:.2}x, crop-fit down {:.2}x, blend {:.2}x",
            cpu_warp / cv_warp,
            cpu_fit / cv_fit,
            cpu_shrink / cv_shrink,
            cpu_blend / cv_blend
        );
    }
    let est = PyramidalLucasKanade::default();
    let a = cpu.crop_fit(&src, 1280, 720).expect("fit");
    let b = cpu.crop_fit(&next, 1280, 720).expect("fit");
    let flow_ms = median_ms(5, || drop(est.estimate(&a, &b)));
    println!("built-in flow (pyramidal Lucas-Kanade) 720p: {flow_ms:.0} ms per frame pair");
    flow_table(cpu, dir.path(), &a, &b);
    gpu_flow(cpu, gpu.as_ref(), &src, &next);
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

/// Dense inverse search (medium) and the warp on wgpu against the CPU at 720p and 1080p, in
/// one run; the adapter is named, and a CPU-emulated one (llvmpipe, lavapipe) is said to be
/// one: its figures are not GPU figures. Both include the uploads and the read-back.
fn gpu_flow(cpu: CpuCompute, gpu: Option<&WgpuCompute>, src: &Frame, next: &Frame) {
    let settings = DenseInverseSearch::default();
    let dis = match wayfarer::flow::DisWgpu::new(settings, true) {
        Ok(d) => d,
        Err(e) => {
            println!("flow on wgpu: not measured ({})", e.message);
            return;
        }
    };
    let kind = if dis.cpu_adapter() {
        "a CPU-emulated adapter: not GPU figures"
    } else {
        "a GPU"
    };
    println!(
        "flow and warp on wgpu ({}, {kind}) vs the CPU, ms (median of 5)",
        dis.adapter()
    );
    println!(
        "{:<12} {:>14} {:>14} {:>12} {:>12} {:>10}",
        "size", "dis med cpu", "dis med wgpu", "warp cpu", "warp wgpu", "agree px"
    );
    for (w, h) in [(1280u32, 720u32), (1920, 1080)] {
        let a = cpu.crop_fit(src, w, h).expect("fit");
        let b = cpu.crop_fit(next, w, h).expect("fit");
        let on_cpu = settings.estimate(&a, &b).expect("flow");
        let on_gpu = dis.estimate(&a, &b).expect("flow");
        let cpu_ms = median_ms(5, || drop(settings.estimate(&a, &b)));
        let gpu_ms = median_ms(5, || drop(dis.estimate(&a, &b)));
        let warp_cpu = median_ms(5, || drop(cpu.warp(&b, &on_cpu, 1.0)));
        let warp_gpu = gpu.map_or(f64::NAN, |g| {
            median_ms(5, || drop(g.warp(&b, &on_cpu, 1.0)))
        });
        let agree = wayfarer::flow::mean_epe(&on_cpu, &on_gpu, 0);
        println!(
            "{:<12} {cpu_ms:>14.1} {gpu_ms:>14.1} {warp_cpu:>12.2} {warp_gpu:>12.2} {agree:>10.5}",
            format!("{w}x{h}")
        );
    }
}

/// OpenCV's DIS on a 720p pair (raw RGB files): median time over 5 runs on 2 threads, the
/// flow written to `out` (f32 u, v per pixel).
fn opencv_dis(python: &str, a: &Path, b: &Path, preset: &str, out: &Path) -> Option<f64> {
    let script = r"
import sys, time, numpy as np, cv2
cv2.setNumThreads(2)
a = cv2.cvtColor(np.fromfile(sys.argv[1], np.uint8).reshape(720, 1280, 3), cv2.COLOR_RGB2GRAY)
b = cv2.cvtColor(np.fromfile(sys.argv[2], np.uint8).reshape(720, 1280, 3), cv2.COLOR_RGB2GRAY)
dis = cv2.DISOpticalFlow_create(getattr(cv2, 'DISOPTICAL_FLOW_PRESET_' + sys.argv[3].upper()))
t = []
for _ in range(5):
    s = time.perf_counter(); f = dis.calc(a, b, None); t.append((time.perf_counter() - s) * 1000)
f.astype(np.float32).tofile(sys.argv[4])
print(sorted(t)[2])
";
    let output = Command::new(python)
        .args(["-c", script])
        .args([a, b])
        .arg(preset)
        .arg(out)
        .output()
        .ok()?;
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

/// Mean absolute difference per channel value.
fn photometric(a: &Frame, b: &Frame) -> f64 {
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.data.len() as f64
}

/// Share of the photometric error between `a` and `b` that warping `b` back by `flow`
/// removes (warped by the same CPU warp for every estimator).
fn removed(cpu: CpuCompute, a: &Frame, b: &Frame, flow: &FlowField) -> f64 {
    let warped = cpu.warp(b, flow, 1.0).expect("warp");
    1.0 - photometric(a, &warped) / photometric(a, b)
}

/// Two consecutive frames from a third of the way into every video of `folder` (name
/// order; `.mp4`, `.avi`, `.mov`, `.mkv`), decoded by Wayfarer's decoder and crop-fitted to
/// 1280x720; named after the file and the frame numbers (from 1).
fn footage_pairs(cpu: CpuCompute, folder: &Path) -> Vec<(String, Frame, Frame)> {
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| {
        p.extension()
            .is_some_and(|e| ["mp4", "avi", "mov", "mkv"].iter().any(|v| e == *v))
    });
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let count = media::count_frames(&path).unwrap_or(2).max(2) as usize;
        let at = count / 3;
        let fit = |f: Frame| cpu.crop_fit(&f, 1280, 720);
        let Ok((mut frames, _)) = media::decode_up_to(&path, at + 2, fit) else {
            eprintln!("{}: cannot decode, skipped", path.display());
            continue;
        };
        if frames.len() < 2 {
            continue;
        }
        let b = frames.pop().expect("two frames");
        let a = frames.pop().expect("two frames");
        let stem = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let n = frames.len() + 1;
        out.push((format!("{stem} {n}->{}", n + 1), a, b));
    }
    out
}

/// Flow at 720p, side by side: time per pair and the photometric error it removes, for the
/// built-in estimators and OpenCV's DIS, on the demo pair and on consecutive frames of the
/// folder `WAYFARER_BENCH_FRAMES` names (PNG files in name order).
fn flow_table(cpu: CpuCompute, dir: &Path, demo_a: &Frame, demo_b: &Frame) {
    let mut pairs = vec![("demo 16->20".to_string(), demo_a.clone(), demo_b.clone())];
    if let Ok(folder) = std::env::var("WAYFARER_BENCH_FRAMES") {
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "png"));
        files.sort();
        for w in files.windows(2).take(4) {
            let load = |p: &Path| {
                let f = media::load_image(p).expect("frame");
                cpu.crop_fit(&f, 1280, 720).expect("fit")
            };
            let name = |p: &Path| {
                p.file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
            };
            pairs.push((
                format!("{}->{}", name(&w[0]), name(&w[1])),
                load(&w[0]),
                load(&w[1]),
            ));
        }
    }
    if let Ok(folder) = std::env::var("WAYFARER_BENCH_VIDEOS") {
        pairs.extend(footage_pairs(cpu, Path::new(&folder)));
    }
    let python = std::env::var("OPENCV_PYTHON").ok();
    let estimators: Vec<(String, Box<dyn FlowEstimator>)> = vec![
        ("plk".into(), Box::new(PyramidalLucasKanade::default())),
        (
            "dis fast".into(),
            Box::new(DenseInverseSearch::preset(DisPreset::Fast)),
        ),
        (
            "dis medium".into(),
            Box::new(DenseInverseSearch::preset(DisPreset::Medium)),
        ),
        (
            "dis fine".into(),
            Box::new(DenseInverseSearch::preset(DisPreset::Fine)),
        ),
    ];
    println!("flow 1280x720: ms per pair (median of 5) / photometric error removed");
    print!("{:<22}", "pair");
    for (name, _) in &estimators {
        print!(" {name:>16}");
    }
    println!(" {:>16} {:>16}", "opencv dis fast", "opencv dis med");
    let mut ratio = Vec::new();
    for (name, a, b) in &pairs {
        print!("{name:<22}");
        let mut ours_medium = (0.0, 0.0);
        for (est_name, est) in &estimators {
            let ms = median_ms(5, || drop(est.estimate(a, b)));
            let flow = est.estimate(a, b).expect("flow");
            let r = removed(cpu, a, b, &flow);
            if est_name == "dis medium" {
                ours_medium = (ms, r);
            }
            print!(" {:>9.0} {:>5.1}%", ms, 100.0 * r);
        }
        let (pa, pb) = (dir.join("a.rgb"), dir.join("b.rgb"));
        std::fs::write(&pa, &a.data).expect("write");
        std::fs::write(&pb, &b.data).expect("write");
        for preset in ["fast", "medium"] {
            let out = dir.join("cv.flo32");
            let cv = python
                .as_deref()
                .and_then(|py| opencv_dis(py, &pa, &pb, preset, &out));
            match cv {
                Some(ms) => {
                    let bytes = std::fs::read(&out).expect("opencv flow");
                    let f = |c: &[u8]| f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    let data: Vec<[f32; 2]> = bytes
                        .chunks_exact(8)
                        .map(|v| [f(&v[..4]), f(&v[4..])])
                        .collect();
                    let flow = FlowField {
                        width: 1280,
                        height: 720,
                        data,
                    };
                    let r = removed(cpu, a, b, &flow);
                    print!(" {:>9.0} {:>5.1}%", ms, 100.0 * r);
                    if preset == "medium" {
                        ratio.push((ours_medium.0 / ms, ours_medium.1, r));
                    }
                }
                None => print!(" {:>16}", "-"),
            }
        }
        println!();
    }
    for (t, ours, cv) in &ratio {
        println!(
            "dis medium vs opencv dis medium: time {t:.2}x, error removed {:.2} % vs {:.2} %",
            100.0 * ours,
            100.0 * cv
        );
    }
}
