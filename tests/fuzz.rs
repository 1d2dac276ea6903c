//! Bad input never panics: project documents and image bytes mutated at random (byte flips,
//! insertions, deletions, repeats, extreme numbers spliced in) go through parsing,
//! validation, planning and decoding. Bounded: a fixed number of cases per run (proptest),
//! so it runs in CI with the other tests.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use proptest::prelude::*;

const PROJECT: &str = r#"{"version":1,"fps":16,"width":64,"height":64,"model":"wan2.1-vace-14b",
"mode":"chained","overlap":8,"seed":789,
"keyframes":[{"image":"a.png","frame":0},{"image":"b.png","frame":16},{"image":"c.png","frame":40}],
"segments":[{"prompt":"x","negative_prompt":"","loras":[{"name":"l.safetensors","strength":0.8}],"steps":20}],
"merge":{"policy":"auto"},"mask":{"transition_frames":2,"transition_value":0.5},
"structure_video":{"path":"s.mp4","start_frame":0,"end_frame":30,"treatment":"adjust","motion_strength":1.0}}"#;

/// Splices that often reach edge cases in numbers and strings.
const SPLICES: &[&str] = &[
    "-1",
    "0",
    "1e308",
    "-1e308",
    "4294967296",
    "18446744073709551616",
    "null",
    "\"\"",
    "[]",
    "{}",
    "true",
    "0.0000001",
    "\"\\u0000\"",
    "\"../../x\"",
    "81",
    "82",
    "65",
];

#[derive(Debug, Clone)]
enum Op {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Repeat(usize, usize),
    Splice(usize, usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Op::Flip(p, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Op::Insert(p, b)),
        (any::<usize>(), 1usize..40).prop_map(|(p, n)| Op::Delete(p, n)),
        (any::<usize>(), 1usize..60).prop_map(|(p, n)| Op::Repeat(p, n)),
        (any::<usize>(), 0usize..6, 0..SPLICES.len()).prop_map(|(p, n, s)| Op::Splice(p, n, s)),
    ]
}

fn mutate(base: &[u8], ops: &[Op]) -> Vec<u8> {
    let mut b = base.to_vec();
    for op in ops {
        if b.is_empty() {
            b.push(b'{');
        }
        let at = |p: usize| p % b.len();
        match *op {
            Op::Flip(p, x) => {
                let i = at(p);
                b[i] ^= x | 1;
            }
            Op::Insert(p, x) => {
                let i = at(p);
                b.insert(i, x);
            }
            Op::Delete(p, n) => {
                let i = at(p);
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Op::Repeat(p, n) => {
                let i = at(p);
                let end = (i + n).min(b.len());
                let piece = b[i..end].to_vec();
                b.splice(i..i, piece);
            }
            Op::Splice(p, n, s) => {
                // Replace a short run that starts at a digit, when there is one.
                let i = at(p);
                let start = (i..b.len()).find(|&k| b[k].is_ascii_digit()).unwrap_or(i);
                let end = (start + n).min(b.len());
                b.splice(start..end, SPLICES[s].bytes());
            }
        }
    }
    b
}

fn image_bytes(format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(24, 16, |x, y| {
        image::Rgb([(x * 9) as u8, (y * 13) as u8, 77])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 20_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_projects_never_panic(ops in prop::collection::vec(op(), 1..10)) {
        let bytes = mutate(PROJECT.as_bytes(), &ops);
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(project) = wayfarer::project::Project::from_json_str(&text) {
            // Whatever validates can be planned or refused, never a panic.
            let _ = wayfarer::plan::plan(&project);
            let _ = project.to_json_string();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 5_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_images_never_panic(
        format in prop_oneof![
            Just(image::ImageFormat::Png),
            Just(image::ImageFormat::Jpeg),
            Just(image::ImageFormat::Bmp),
            Just(image::ImageFormat::Tiff),
            Just(image::ImageFormat::WebP),
        ],
        ops in prop::collection::vec(op(), 1..6),
    ) {
        let bytes = mutate(&image_bytes(format), &ops);
        if let Ok(frame) = wayfarer::media::decode_image_bytes(&bytes) {
            prop_assert_eq!(frame.data.len(), (frame.width * frame.height * 3) as usize);
        }
    }
}
