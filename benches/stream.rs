//! The live-streaming pipeline on the seed 004 scenario, in real time: keyframes that take
//! 2.1 s and interpolation at 0.05 s per frame with 10 frames between keyframes, scaled
//! down 10x (210 ms, 5 ms). Keyframes form a chain (each generated from the one before),
//! as in the seed. Synchronous (lookahead 0) vs pipelined (lookahead 1 and 2) vs the ideal
//! pipelined bound, side by side in one run; median of 5 runs.
//!
//! Run: `cargo bench --bench stream`.
#![expect(
    clippy::expect_used,
    reason = "test code: a failed expect is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use wayfarer::generate::CancelToken;
use wayfarer::media::Frame;
use wayfarer::stream::{
    self, BuiltinKeyframes, KeyframeSource, KeyframeSpec, LinearInterpolator, StreamConfig,
    StreamPlan,
};

const G: Duration = Duration::from_millis(210);
const I: Duration = Duration::from_millis(5);
const BETWEEN: u32 = 10;

fn plan(keyframes: usize, between: u32) -> StreamPlan {
    StreamPlan {
        keyframes: (0..keyframes)
            .map(|k| KeyframeSpec {
                frame: k as u32 * (between + 1),
                image: Arc::new(Frame::filled(64, 36, [(k * 20) as u8; 3])),
                prompt: "p".into(),
                negative: String::new(),
                seed: k as u64,
            })
            .collect(),
        fps: 16,
        denoise: 0.5,
        chain: true,
    }
}

fn measure(runtime: &tokio::runtime::Runtime, p: &StreamPlan, lookahead: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..5 {
        let summary = runtime.block_on(async {
            let source = KeyframeSource::new(Arc::new(BuiltinKeyframes { latency: G }));
            stream::run(
                p,
                &source,
                &LinearInterpolator { cost: I },
                &StreamConfig {
                    lookahead,
                    ..StreamConfig::default()
                },
                &mut |_, _| Ok(()),
                &mut |_| {},
                &CancelToken::new(),
            )
            .await
            .expect("stream")
        });
        times.push(summary.elapsed);
    }
    times.sort();
    times[2]
}

/// Measured time of one keyframe generation and one interpolated frame with these
/// components (timer granularity makes a 5 ms sleep take a little longer).
fn effective_costs(runtime: &tokio::runtime::Runtime) -> (Duration, Duration) {
    use wayfarer::stream::{Interpolator, KeyframeGenerator};
    runtime.block_on(async {
        let a = Arc::new(Frame::filled(64, 36, [0; 3]));
        let interp = LinearInterpolator { cost: I };
        let start = tokio::time::Instant::now();
        for i in 0..200 {
            interp
                .interpolate(a.clone(), a.clone(), i as f32 / 200.0)
                .await
                .expect("interpolate");
        }
        let i_eff = start.elapsed() / 200;
        let generator = BuiltinKeyframes { latency: G };
        let start = tokio::time::Instant::now();
        for index in 0..5 {
            let request = wayfarer::stream::KeyframeRequest {
                index,
                frame: 0,
                image: a.clone(),
                prompt: String::new(),
                negative: String::new(),
                seed: 0,
                denoise: 0.5,
            };
            generator
                .generate(request, CancelToken::new())
                .await
                .expect("generate");
        }
        (start.elapsed() / 5, i_eff)
    })
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "keyframe {} ms, interpolation {} ms/frame, {BETWEEN} frames between keyframes (seed 004 / 10)",
        G.as_millis(),
        I.as_millis()
    );
    let (g_eff, i_eff) = effective_costs(&runtime);
    println!(
        "measured: keyframe {:.2} ms, interpolation {:.3} ms/frame (the ideal bound uses these)",
        g_eff.as_secs_f64() * 1e3,
        i_eff.as_secs_f64() * 1e3
    );
    println!(
        "{:<10} {:>7} {:>12} {:>12} {:>12} {:>12} {:>9}",
        "keyframes", "frames", "sync fps", "look 1 fps", "look 2 fps", "ideal fps", "of ideal"
    );
    for (keyframes, between) in [(3, BETWEEN), (11, BETWEEN), (11, 40)] {
        let p = plan(keyframes, between);
        let frames = f64::from(p.total_frames());
        let fps = |d: Duration| frames / d.as_secs_f64();
        let sync = measure(&runtime, &p, 0);
        let one = measure(&runtime, &p, 1);
        let two = measure(&runtime, &p, 2);
        let ideal = stream::ideal_time(g_eff, i_eff, &vec![between; keyframes - 1]);
        println!(
            "{:<10} {:>7} {:>12.2} {:>12.2} {:>12.2} {:>12.2} {:>8.1}%",
            format!("{keyframes} (+{between})"),
            p.total_frames(),
            fps(sync),
            fps(one),
            fps(two),
            fps(ideal),
            100.0 * ideal.as_secs_f64() / one.as_secs_f64()
        );
    }
}
