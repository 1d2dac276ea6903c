//! Colour match, overlap alignment and the quality report on a drifting generator
//! (`tests/drift`): a 5-call chained render, checked on the decoded MP4 with a
//! computation of its own.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;
pub mod drift;

use std::path::Path;

use wayfarer::fidelity::QualityReport;
use wayfarer::generate::CancelToken;
use wayfarer::media::{self, EncodeOptions, Frame, VideoEncoder, psnr};
use wayfarer::project::{Project, file};
use wayfarer::render::{self, RenderEvent};

/// Keyframe positions asked for; the plan may move them to valid call lengths.
const ASKED: [u32; 6] = [0, 40, 80, 120, 160, 200];

/// Lab (D65) of an sRGB colour, by the CIE formulas in f64.
fn lab(rgb: [u8; 3]) -> [f64; 3] {
    let lin = rgb.map(|v| {
        let c = f64::from(v) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    });
    let x = (0.412_456_4 * lin[0] + 0.357_576_1 * lin[1] + 0.180_437_5 * lin[2]) / 0.950_47;
    let y = 0.212_672_9 * lin[0] + 0.715_152_2 * lin[1] + 0.072_175 * lin[2];
    let z = (0.019_333_9 * lin[0] + 0.119_192 * lin[1] + 0.950_304_1 * lin[2]) / 1.088_83;
    let f = |t: f64| {
        if t > 216.0 / 24389.0 {
            t.cbrt()
        } else {
            t * 24389.0 / 27.0 / 116.0 + 16.0 / 116.0
        }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// Mean Lab of the pixels on the report's sample grid (every 4th pixel of every 4th row,
/// from pixel 2 of row 2).
fn mean_lab(f: &Frame) -> [f64; 3] {
    let mut sum = [0.0; 3];
    let mut n = 0.0;
    for y in (2..f.height).step_by(4) {
        for x in (2..f.width).step_by(4) {
            let l = lab(f.pixel(x, y));
            for c in 0..3 {
                sum[c] += l[c];
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

fn de(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

fn mean_abs_diff(a: &Frame, b: &Frame) -> f64 {
    let s: u64 = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&p, &q)| u64::from(p.abs_diff(q)))
        .sum();
    s as f64 / a.data.len() as f64
}

/// The target mean at timeline frame `t`: the keyframes' means interpolated by position.
fn target(keys: &[[f64; 3]], at: &[u32], t: u32) -> [f64; 3] {
    let k = at.iter().rposition(|&p| p <= t).unwrap().min(at.len() - 2);
    let w = f64::from(t - at[k]) / f64::from(at[k + 1] - at[k]);
    [0, 1, 2].map(|c| keys[k][c] + (keys[k + 1][c] - keys[k][c]) * w.min(1.0))
}

fn close(report: f64, ours: f64, what: &str) {
    let tolerance = 0.05 * ours.abs().max(0.2);
    assert!(
        (report - ours).abs() <= tolerance,
        "{what}: the report says {report:.3}, recomputed {ours:.3}"
    );
}

/// Renders the drifting project with `color_match` (JSON) and returns the report and the
/// decoded video.
fn render_drifting(
    dir: &Path,
    color_match: &str,
) -> (QualityReport, Vec<Frame>, Project, Vec<u32>) {
    let names = drift::write_keyframes(dir, 6);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let json = common::project_json(&names, &ASKED, drift::SIZE, "chained").replace(
        "\"structure_video\":null",
        &format!("\"structure_video\":null,\"color_match\":{color_match}"),
    );
    let project_path = common::write_project(dir, &json);
    let project = file::load(&project_path).unwrap();
    let out = dir.join("drift.mp4");
    let mut done = None;
    let summary = render::render(
        &render::RenderRequest::new(
            &project,
            &file::project_dir(&project_path),
            &out,
            &render::RenderOptions::default(),
        ),
        &drift::Drifting::new(&wayfarer::plan::plan(&project).unwrap().positions),
        &mut |e| {
            if let RenderEvent::Done { quality, .. } = &e {
                done = Some(quality.clone());
            }
        },
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(summary.plan.calls.len(), 5);
    assert_eq!(
        done.as_ref(),
        Some(&summary.quality),
        "the done event has the report"
    );
    let frames = media::decode_all(&out).unwrap();
    assert_eq!(frames.len(), 201);
    (summary.quality, frames, project, summary.plan.positions)
}

/// Drift at the middle frame of every segment, recomputed.
fn mid_segment_drifts(frames: &[Frame], keys: &[[f64; 3]], at: &[u32]) -> Vec<f64> {
    at.windows(2)
        .map(|w| {
            let mid = u32::midpoint(w[0], w[1]);
            de(mean_lab(&frames[mid as usize]), target(keys, at, mid))
        })
        .collect()
}

/// Checks every number of the report against a computation of this test's own.
fn check_report(
    report: &QualityReport,
    frames: &[Frame],
    (keys, at): (&[[f64; 3]], &[u32]),
    images: &[Frame],
) {
    let diffs: Vec<f64> = (0..frames.len())
        .map(|t| {
            if t == 0 {
                0.0
            } else {
                mean_abs_diff(&frames[t - 1], &frames[t])
            }
        })
        .collect();
    assert_eq!(report.joins.len(), 4);
    for j in &report.joins {
        let (first, last) = (j.frame as usize, (j.frame + j.frames) as usize);
        let across = (first..=last).map(|t| diffs[t]).fold(0.0, f64::max);
        let mut around: Vec<f64> = (first - 8..first)
            .chain(last + 1..last + 9)
            .map(|t| diffs[t])
            .collect();
        around.sort_by(f64::total_cmp);
        let seam = across / around[around.len() / 2].max(1.0);
        close(
            f64::from(j.seam),
            seam,
            &format!("seam into call {}", j.call),
        );
    }
    assert_eq!(report.calls.len(), 5);
    for c in &report.calls {
        let own_start = if c.frames.0 == 0 { 0 } else { c.frames.0 + 8 };
        let drifts: Vec<f64> = (own_start..=c.frames.1)
            .filter(|t| !at.contains(t))
            .map(|t| de(mean_lab(&frames[t as usize]), target(keys, at, t)))
            .collect();
        let mean = drifts.iter().sum::<f64>() / drifts.len() as f64;
        close(
            f64::from(c.drift_de),
            mean,
            &format!("drift of call {}", c.call),
        );
        let peak = drifts.iter().copied().fold(0.0, f64::max);
        close(
            f64::from(c.peak_drift_de),
            peak,
            &format!("peak drift of call {}", c.call),
        );
    }
    assert_eq!(report.anchors.len(), 6);
    for a in &report.anchors {
        let ours = psnr(&frames[a.frame as usize], &images[a.keyframe - 1]);
        close(
            a.psnr_db.unwrap(),
            ours,
            &format!("keyframe {}", a.keyframe),
        );
    }
}

/// PSNR of `image` encoded alone at the render's settings: the codec's ceiling for it.
fn codec_ceiling(image: &Frame, dir: &Path) -> f64 {
    let path = dir.join("alone.mp4");
    let mut enc = VideoEncoder::create(
        &path,
        image.width,
        image.height,
        16,
        &EncodeOptions::default(),
    )
    .unwrap();
    enc.push(image).unwrap();
    enc.finish().unwrap();
    psnr(&media::decode_all(&path).unwrap()[0], image)
}

#[test]
fn colour_match_holds_a_drifting_chain_to_its_keyframes_and_the_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let world = drift::world();
    let images: Vec<Frame> = (0..6)
        .map(|k| drift::crop(&world, drift::STEP * k))
        .collect();
    let keys: Vec<[f64; 3]> = images.iter().map(mean_lab).collect();

    let (off, off_frames, _, at) = render_drifting(dir.path(), r#"{"method":"off"}"#);
    let drift_off = mid_segment_drifts(&off_frames, &keys, &at);
    let worst_off = drift_off.iter().copied().fold(0.0, f64::max);
    assert!(
        worst_off > 8.0,
        "without colour match the chain drifts: {drift_off:?}"
    );
    check_report(&off, &off_frames, (&keys, &at), &images);
    assert!(off.worst_call().unwrap().drift_de > 3.0);

    let (on, frames, project, at) =
        render_drifting(dir.path(), r#"{"method":"lab","strength":1.0}"#);
    assert_eq!(
        project.color_match,
        wayfarer::fidelity::ColorMatch::default()
    );
    let drift_on = mid_segment_drifts(&frames, &keys, &at);
    for (s, d) in drift_on.iter().enumerate() {
        assert!(
            *d <= 3.0,
            "segment {}: {d:.2} dE with colour match ({drift_on:?})",
            s + 1
        );
    }
    check_report(&on, &frames, (&keys, &at), &images);
    eprintln!(
        "keyframes at {at:?}; mid-segment drift (dE) without colour match {drift_off:.2?}, \
         with {drift_on:.2?}; seams without {:.2?}, with {:.2?}; anchors {:.2?} dB",
        off.joins.iter().map(|j| j.seam).collect::<Vec<_>>(),
        on.joins.iter().map(|j| j.seam).collect::<Vec<_>>(),
        on.anchors.iter().map(|a| a.psnr_db).collect::<Vec<_>>()
    );
    for j in &on.joins {
        assert!(
            j.seam <= 1.5,
            "join into call {}: seam {:.2}",
            j.call,
            j.seam
        );
    }
    for a in &on.anchors {
        let image = &images[a.keyframe - 1];
        let ceiling = codec_ceiling(image, dir.path());
        let got = a.psnr_db.unwrap();
        eprintln!(
            "keyframe {}: {got:.2} dB in the render, {ceiling:.2} dB alone",
            a.keyframe
        );
        assert!(
            got >= ceiling - 0.5,
            "keyframe {}: {got:.2} dB, alone {ceiling:.2} dB",
            a.keyframe
        );
    }
}
