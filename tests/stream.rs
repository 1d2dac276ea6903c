//! The streaming pipeline on tokio's paused clock (time advances only when every task
//! waits, so durations are exact): interpolation never waits after the first frame of a
//! sequence, the pipelined time equals the ideal bound, timeouts and failures fall back
//! and the stream completes, cancel stops cleanly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use wayfarer::ErrorCategory;
use wayfarer::generate::CancelToken;
use wayfarer::media::Frame;
use wayfarer::stream::{
    self, BoxFuture, BuiltinKeyframes, FrameKind, KeyframeGenerator, KeyframeRequest,
    KeyframeSource, KeyframeSpec, LinearInterpolator, StreamConfig, StreamEvent, StreamPlan,
};

const G: Duration = Duration::from_millis(2100);
const I: Duration = Duration::from_millis(50);

/// Keyframes every 11 frames (10 interpolated between), solid pictures of distinct grey.
fn plan(keyframes: usize, chain: bool) -> StreamPlan {
    StreamPlan {
        keyframes: (0..keyframes)
            .map(|k| KeyframeSpec {
                frame: k as u32 * 11,
                image: Arc::new(Frame::filled(8, 8, [(k * 40) as u8; 3])),
                prompt: "p".into(),
                negative: String::new(),
                seed: k as u64,
            })
            .collect(),
        fps: 16,
        denoise: 0.5,
        chain,
    }
}

struct Run {
    summary: wayfarer::Result<stream::StreamSummary>,
    events: Vec<(Duration, StreamEvent)>,
    frames: Vec<(u32, Frame)>,
}

async fn run(
    plan: &StreamPlan,
    generator: Arc<dyn KeyframeGenerator>,
    config: StreamConfig,
    cancel_after: Option<u32>,
) -> Run {
    let source = KeyframeSource::new(generator);
    let cancel = CancelToken::new();
    let start = Instant::now();
    let mut events = Vec::new();
    let mut frames = Vec::new();
    let c = cancel.clone();
    let summary = stream::run(
        plan,
        &source,
        &LinearInterpolator { cost: I },
        &config,
        &mut |i, f| {
            frames.push((i, f.clone()));
            if cancel_after == Some(i) {
                c.cancel();
            }
            Ok(())
        },
        &mut |e| events.push((start.elapsed(), e)),
        &cancel,
    )
    .await;
    assert_eq!(source.in_flight(), 0, "nothing left running");
    Run {
        summary,
        events,
        frames,
    }
}

fn config(lookahead: usize) -> StreamConfig {
    StreamConfig {
        lookahead,
        keyframe_timeout: Duration::from_secs(5),
        ..StreamConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn interpolation_never_waits_after_the_first_frame_of_a_sequence() {
    let p = plan(6, true); // 5 sequences of 10 interpolated frames, 56 frames
    let gaps = vec![10; 5];
    let r = run(
        &p,
        Arc::new(BuiltinKeyframes { latency: G }),
        config(1),
        None,
    )
    .await;
    let summary = r.summary.unwrap();
    assert_eq!(summary.frames, 56);
    // Exactly the ideal pipelined bound: keyframe j+1 is ready at (j+2) G, generated while
    // sequence j-1 plays.
    assert_eq!(summary.elapsed, stream::ideal_time(G, I, &gaps));
    assert_eq!(summary.elapsed, G * 6 + I * 10);
    // Within a sequence, interpolated frames come exactly one interpolation apart: no
    // frame after the first waits on generation.
    let frame_times: Vec<(u32, Duration, FrameKind, u64)> = r
        .events
        .iter()
        .filter_map(|(t, e)| match e {
            StreamEvent::Frame {
                index,
                kind,
                waited_ms,
            } => Some((*index, *t, *kind, *waited_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(frame_times.len(), 56);
    for w in frame_times.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if b.2 == FrameKind::Interpolated && b.0 % 11 != 1 {
            assert_eq!(b.1.checked_sub(a.1).unwrap(), I, "frame {} waited", b.0);
            assert_eq!(b.3, 0);
        }
    }
    // Frames are in order. With chain, each keyframe's input is the keyframe before it,
    // and the built-in generator returns its input: every frame is keyframe 0's picture.
    let indices: Vec<u32> = r.frames.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, (0..56).collect::<Vec<_>>());
    assert!(r.frames.iter().all(|(_, f)| f.pixel(0, 0) == [0; 3]));
    // The generation-bound case underruns once per sequence; each is reported.
    assert_eq!(summary.underruns, 5);
    // Each keyframe was queued the moment the one before it was ready.
    let queued: Vec<Duration> = r
        .events
        .iter()
        .filter(|(_, e)| matches!(e, StreamEvent::Queued { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(queued, (0..6).map(|k| G * k).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn synchronous_baseline_waits_a_full_generation_per_sequence() {
    let p = plan(6, true);
    let r = run(
        &p,
        Arc::new(BuiltinKeyframes { latency: G }),
        config(0),
        None,
    )
    .await;
    let summary = r.summary.unwrap();
    assert_eq!(summary.frames, 56);
    assert_eq!(summary.elapsed, G + (G + I * 10) * 5);
}

#[tokio::test(start_paused = true)]
async fn fast_generation_never_underruns() {
    // Generation (0.3 s) faster than a sequence (0.5 s): after the start nothing waits.
    let p = plan(6, true);
    let latency = Duration::from_millis(300);
    let r = run(&p, Arc::new(BuiltinKeyframes { latency }), config(1), None).await;
    let summary = r.summary.unwrap();
    assert_eq!(
        summary.underruns, 1,
        "only keyframe 1, needed right after keyframe 0"
    );
    assert_eq!(summary.elapsed, stream::ideal_time(latency, I, &[10; 5]));
}

/// Keyframe `stuck` never finishes on its first `stuck_attempts` attempts; keyframe
/// `failing` always fails.
struct Unreliable {
    stuck: usize,
    stuck_attempts: usize,
    failing: usize,
    attempts: AtomicUsize,
}

impl KeyframeGenerator for Unreliable {
    fn name(&self) -> String {
        "unreliable".into()
    }
    fn generate(
        &self,
        request: KeyframeRequest,
        _c: CancelToken,
    ) -> BoxFuture<wayfarer::Result<Frame>> {
        let stuck = request.index == self.stuck
            && self.attempts.fetch_add(1, Ordering::SeqCst) < self.stuck_attempts;
        let failing = request.index == self.failing;
        Box::pin(async move {
            if stuck {
                tokio::time::sleep(Duration::from_hours(1)).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if failing {
                return Err(wayfarer::UserError::new(
                    ErrorCategory::Network,
                    "server went away",
                ));
            }
            Ok(Frame::filled(8, 8, [request.index as u8 + 100; 3]))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_keyframe_falls_back_and_the_stream_completes() {
    let p = plan(5, false);
    // Keyframe 2 hangs on its first attempt: timeout, then generated synchronously.
    let generator = Arc::new(Unreliable {
        stuck: 2,
        stuck_attempts: 1,
        failing: usize::MAX,
        attempts: AtomicUsize::new(0),
    });
    let r = run(&p, generator, config(2), None).await;
    let summary = r.summary.unwrap();
    assert_eq!(summary.frames, 45);
    assert_eq!(summary.fallbacks, 1);
    assert!(r.events.iter().any(|(_, e)| matches!(
        e,
        StreamEvent::Timeout {
            keyframe: 2,
            after_ms: 5000
        }
    )));
    assert_eq!(
        r.frames[22].1.pixel(0, 0),
        [102; 3],
        "generated synchronously"
    );

    // Hanging every time: the input picture stands in.
    let generator = Arc::new(Unreliable {
        stuck: 2,
        stuck_attempts: usize::MAX,
        failing: usize::MAX,
        attempts: AtomicUsize::new(0),
    });
    let r = run(&p, generator, config(2), None).await;
    assert_eq!(r.summary.unwrap().frames, 45);
    assert_eq!(r.frames[22].1.pixel(0, 0), [80; 3], "the input picture");
    assert!(r.events.iter().any(|(_, e)| matches!(
        e,
        StreamEvent::Fallback { keyframe: 2, reason } if reason.contains("using the input picture")
    )));
}

#[tokio::test(start_paused = true)]
async fn a_failing_source_degrades_to_the_input_picture() {
    let p = plan(4, false);
    let generator = Arc::new(Unreliable {
        stuck: usize::MAX,
        stuck_attempts: 0,
        failing: 1,
        attempts: AtomicUsize::new(0),
    });
    let r = run(&p, generator, config(2), None).await;
    let summary = r.summary.unwrap();
    assert_eq!(summary.frames, 34);
    assert_eq!(summary.fallbacks, 1);
    assert!(r.events.iter().any(|(_, e)| matches!(
        e,
        StreamEvent::Fallback { keyframe: 1, reason } if reason.contains("server went away")
    )));
    assert_eq!(r.frames[11].1.pixel(0, 0), [40; 3]);
    assert_eq!(r.frames[22].1.pixel(0, 0), [102; 3]);
    // Between them a dissolve: 5/11 of the way from 40 to 102.
    assert_eq!(r.frames[16].1.pixel(0, 0)[0], 68);
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_the_stream_and_its_generations() {
    let p = plan(8, false);
    let r = run(
        &p,
        Arc::new(BuiltinKeyframes { latency: G }),
        config(3),
        Some(15),
    )
    .await;
    assert_eq!(r.summary.unwrap_err().category, ErrorCategory::Cancelled);
    assert_eq!(r.frames.last().unwrap().0, 15, "nothing after the cancel");
    assert!(
        !r.events
            .iter()
            .any(|(_, e)| matches!(e, StreamEvent::Done { .. }))
    );
}

/// ONNX on both sides (real clock: the models run on the blocking pool): keyframes through
/// the video-contract test model (output = input * (1 - d) + 0.25 * d), frames between
/// through the interpolator-contract test model (a linear blend).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onnx_keyframes_and_onnx_interpolation() {
    use wayfarer::generate::onnx::OnnxBackend;
    use wayfarer::stream::{OnnxInterpolator, OnnxKeyframes};
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let video = OnnxBackend::load(&models.join("tiny_video.toml"), false).unwrap();
    let interp = OnnxBackend::load(&models.join("tiny_interpolator.toml"), false).unwrap();
    let p = plan(3, false);
    let source = KeyframeSource::new(Arc::new(OnnxKeyframes(Arc::new(video))));
    let mut frames = Vec::new();
    let summary = stream::run(
        &p,
        &source,
        &OnnxInterpolator(Arc::new(interp)),
        &config(2),
        &mut |i, f| {
            frames.push((i, f.clone()));
            Ok(())
        },
        &mut |_| {},
        &CancelToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(summary.frames, 23);
    // Keyframe 1: 40 * 0.5 + 0.25 * 255 * 0.5 = 51.9.
    let k1 = frames[11].1.pixel(0, 0)[0];
    assert!((51..=52).contains(&k1), "{k1}");
    // Halfway-ish between keyframe 0 (31.9) and keyframe 1 (51.9): frame 6 is at 6/11.
    let mid = f32::from(frames[6].1.pixel(0, 0)[0]);
    let want = 31.9 + (51.9 - 31.9) * 6.0 / 11.0;
    assert!((mid - want).abs() <= 1.5, "{mid} vs {want}");
}
