//! The cases of the hostile-input suite (`tests/hostile.rs`) and the files they use.
#![expect(
    clippy::expect_used,
    reason = "test code: a failed expect is a failed test"
)]
#![expect(
    clippy::needless_pass_by_value,
    reason = "test helpers take owned values to keep call sites short"
)]
#![expect(
    clippy::too_many_lines,
    reason = "a table of cases, or the test server's routes, reads best in one place"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use serde_json::{Value, json};

/// What a case must do.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Expect {
    /// Exit 2 with a message and a hint.
    BadInput,
    /// Either a render (exit 0) or bad input (exit 2).
    EitherWay,
}

/// A file a case places in its folder.
#[derive(Clone)]
pub enum Fixture {
    Bytes(&'static str, Vec<u8>),
    Fifo(&'static str),
    Folder(&'static str),
}

#[derive(Clone)]
pub struct Case {
    pub name: String,
    pub project: Option<Vec<u8>>,
    pub fixtures: Vec<Fixture>,
    pub args: Vec<String>,
    pub expect: Expect,
}

pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 2) as u8, 40]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A PNG whose header claims `w` x `h` (the data is a few bytes).
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = png(4, 4);
    // IHDR data starts at byte 16: width, height, then the CRC at 29..33.
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A JPEG whose frame header claims `w` x `h`.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut bytes = jpeg(16, 16);
    let sof = bytes
        .windows(2)
        .position(|p| p == [0xff, 0xc0])
        .expect("baseline JPEG");
    bytes[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    bytes
}

fn noise(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| ((i ^ seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// A short real MP4 (8 frames, 64x64), made once.
fn video() -> Vec<u8> {
    static VIDEO: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    VIDEO
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("v.mp4");
            let mut enc = wayfarer::media::VideoEncoder::create(
                &path,
                64,
                64,
                16,
                &wayfarer::media::EncodeOptions::default(),
            )
            .unwrap();
            for i in 0..8u8 {
                enc.push(&wayfarer::media::Frame::filled(
                    64,
                    64,
                    [i * 30, 100, 200 - i * 20],
                ))
                .unwrap();
            }
            enc.finish().unwrap();
            std::fs::read(&path).unwrap()
        })
        .clone()
}

fn base_project() -> Value {
    json!({
        "version": 1, "fps": 16, "width": 64, "height": 64, "model": "wan2.1-vace-14b",
        "mode": "chained", "overlap": 8, "seed": 789,
        "keyframes": [{"image": "a.png", "frame": 0}, {"image": "b.png", "frame": 16}],
        "segments": [{"prompt": "travel", "negative_prompt": "", "loras": []}],
        "merge": {"policy": "off"}
    })
}

fn render_args() -> Vec<String> {
    ["render", "project.json", "-o", "out.mp4"]
        .iter()
        .map(std::string::ToString::to_string)
        .collect()
}

fn case(name: impl Into<String>, project: Value, expect: Expect) -> Case {
    Case {
        name: name.into(),
        project: Some(serde_json::to_vec(&project).unwrap()),
        fixtures: Vec::new(),
        args: render_args(),
        expect,
    }
}

fn with(mut c: Case, f: Fixture) -> Case {
    c.fixtures.push(f);
    c
}

fn args(mut c: Case, extra: &[&str]) -> Case {
    c.args
        .extend(extra.iter().map(std::string::ToString::to_string));
    c
}

fn set(path: &[&str], v: Value) -> Value {
    let mut p = base_project();
    let mut at = &mut p;
    for (i, key) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        at = if let Ok(n) = key.parse::<usize>() {
            &mut at[n]
        } else {
            if at.is_null() {
                *at = json!({});
            }
            if last {
                at.as_object_mut()
                    .unwrap()
                    .insert(key.to_string(), v.clone());
                return p;
            }
            &mut at[*key]
        };
    }
    *at = v;
    p
}

/// Values no field expects, or expects only some of.
fn odd_values() -> Vec<(&'static str, Value)> {
    vec![
        ("null", Value::Null),
        ("minus one", json!(-1)),
        ("zero", json!(0)),
        ("a fraction", json!(3.5)),
        ("1e300", json!(1e300)),
        ("2^32", json!(4_294_967_296u64)),
        ("u64 max", json!(u64::MAX)),
        ("a string", json!("x")),
        ("an empty string", json!("")),
        ("a list", json!([])),
        ("an object", json!({})),
        ("true", json!(true)),
        ("a long string", json!("w".repeat(100_000))),
    ]
}

pub fn cases() -> Vec<Case> {
    use Expect::*;
    let mut out = Vec::new();
    // 1. Every top-level field set to every odd value.
    for field in [
        "version",
        "fps",
        "width",
        "height",
        "model",
        "mode",
        "overlap",
        "seed",
        "keyframes",
        "segments",
        "merge",
        "mask",
        "structure_video",
        "length",
    ] {
        for (what, v) in odd_values() {
            out.push(case(
                format!("{field} = {what}"),
                set(&[field], v),
                EitherWay,
            ));
        }
    }
    // 2. Fields of the keyframes, segments, merge and mask.
    for (path, values) in [
        (
            vec!["keyframes", "1", "frame"],
            vec![
                json!(-1),
                json!(0),
                json!(5_000_000),
                json!(4_294_967_295u64),
                json!(1.5),
                json!("16"),
                Value::Null,
            ],
        ),
        (
            vec!["keyframes", "0", "frame"],
            vec![json!(3), json!(-5), json!(u64::MAX)],
        ),
        (
            vec!["keyframes", "1", "image"],
            vec![
                json!(""),
                json!("/"),
                json!("."),
                json!(".."),
                json!(7),
                Value::Null,
                json!("missing.png"),
                json!("x".repeat(5000)),
                json!("a.png\u{0}b"),
            ],
        ),
        (
            vec!["segments", "0", "prompt"],
            vec![Value::Null, json!(1), json!("p".repeat(200_000))],
        ),
        (
            vec!["segments", "0", "loras"],
            vec![
                json!([{"name": "../../etc/passwd", "strength": 1.0}]),
                json!([{"name": "x", "strength": 1e30}]),
                json!([{"name": "", "strength": 1.0}]),
                json!("not a list"),
                json!([{"strength": 1.0}]),
            ],
        ),
        (
            vec!["segments", "0", "steps"],
            vec![json!(0), json!(-1), json!(1_000_000_000), json!("many")],
        ),
        (
            vec!["segments", "0", "guidance_scale"],
            vec![json!(-1.0), json!(1e30), json!("high")],
        ),
        (
            vec!["segments", "0", "seed"],
            vec![json!(-1), json!(u64::MAX), json!(1.5)],
        ),
        (
            vec!["merge", "policy"],
            vec![json!("sometimes"), json!(3), Value::Null],
        ),
        (
            vec!["mask", "transition_frames"],
            vec![json!(-1), json!(1_000_000), json!("two")],
        ),
        (
            vec!["mask", "transition_value"],
            vec![json!(-0.5), json!(2.0), json!(1e300)],
        ),
    ] {
        for v in values {
            let name = format!("{} = {}", path.join("."), short(&v));
            out.push(case(name, set(&path, v), EitherWay));
        }
    }
    // Too many segments for the spans; no keyframes; one keyframe; unsorted keyframes.
    let mut p = base_project();
    p["segments"] = json!([{"prompt": "a"}, {"prompt": "b"}, {"prompt": "c"}]);
    out.push(case("three segments for one span", p, BadInput));
    let mut p = base_project();
    p["keyframes"] = json!([]);
    out.push(case("no keyframes", p, BadInput));
    let mut p = base_project();
    p["keyframes"] = json!([{"image": "a.png", "frame": 0}, {"image": "b.png", "frame": 16}, {"image": "a.png", "frame": 8}]);
    out.push(case("keyframes out of order", p, EitherWay));
    let mut p = base_project();
    p["keyframes"] = json!([{"image": "a.png", "frame": 0}, {"image": "b.png", "frame": 16}, {"image": "a.png", "frame": 16}]);
    out.push(case("two keyframes on one frame", p, BadInput));
    let mut p = base_project();
    p["typo_field"] = json!(1);
    out.push(case("an unknown top-level field", p, EitherWay));

    // 3. Keyframe image files: broken, odd and hostile.
    let image_files: Vec<(&str, Fixture, Expect)> = vec![
        (
            "an empty file",
            Fixture::Bytes("k.png", Vec::new()),
            BadInput,
        ),
        (
            "random bytes",
            Fixture::Bytes("k.png", noise(5000, 1)),
            BadInput,
        ),
        (
            "a truncated PNG",
            Fixture::Bytes("k.png", png(64, 64)[..60].to_vec()),
            BadInput,
        ),
        (
            "a truncated JPEG",
            Fixture::Bytes("k.jpg", jpeg(64, 64)[..200].to_vec()),
            BadInput,
        ),
        (
            "a PNG claiming 100000x100000",
            Fixture::Bytes("k.png", png_claiming(100_000, 100_000)),
            BadInput,
        ),
        (
            "a PNG claiming 0x0",
            Fixture::Bytes("k.png", png_claiming(0, 0)),
            BadInput,
        ),
        (
            "a PNG claiming 20000x1",
            Fixture::Bytes("k.png", png_claiming(20_000, 1)),
            BadInput,
        ),
        (
            "a JPEG claiming 65000x65000",
            Fixture::Bytes("k.jpg", jpeg_claiming(65_000, 65_000)),
            BadInput,
        ),
        (
            "text named .png",
            Fixture::Bytes("k.png", b"hello, not an image\n".to_vec()),
            BadInput,
        ),
        ("a folder", Fixture::Folder("k.png"), BadInput),
        ("a named pipe", Fixture::Fifo("k.png"), BadInput),
        (
            "a video as a keyframe",
            Fixture::Bytes("k.mp4", video()),
            EitherWay,
        ),
        (
            "a JPEG named .png",
            Fixture::Bytes("k.png", jpeg(64, 64)),
            EitherWay,
        ),
        ("a 1x1 PNG", Fixture::Bytes("k.png", png(1, 1)), EitherWay),
        (
            "a 4000x16 PNG",
            Fixture::Bytes("k.png", png(4000, 16)),
            EitherWay,
        ),
        (
            "a 16-bit PNG",
            Fixture::Bytes("k.png", {
                let img = image::ImageBuffer::<image::Rgba<u16>, _>::from_fn(32, 32, |x, _| {
                    image::Rgba([x as u16 * 2000, 0, 65535, 30000])
                });
                let mut c = std::io::Cursor::new(Vec::new());
                img.write_to(&mut c, image::ImageFormat::Png).unwrap();
                c.into_inner()
            }),
            EitherWay,
        ),
    ];
    for (what, fixture, expect) in image_files {
        let file = match &fixture {
            Fixture::Bytes(n, _) | Fixture::Fifo(n) | Fixture::Folder(n) => *n,
        };
        out.push(with(
            case(
                format!("keyframe image: {what}"),
                set(&["keyframes", "1", "image"], json!(file)),
                expect,
            ),
            fixture,
        ));
    }
    for special in ["/dev/zero", "/dev/null", "/proc/self/mem"] {
        out.push(case(
            format!("keyframe image: {special}"),
            set(&["keyframes", "1", "image"], json!(special)),
            BadInput,
        ));
    }

    // 4. Structure videos.
    let sv = |path: &str, extra: Value| {
        let mut v =
            json!({"path": path, "start_frame": 0, "treatment": "adjust", "motion_strength": 1.0});
        if let Value::Object(m) = extra {
            for (k, x) in m {
                v[k] = x;
            }
        }
        set(&["structure_video"], v)
    };
    let videos: Vec<(&str, Option<Fixture>, Value, Expect)> = vec![
        ("missing", None, json!({}), BadInput),
        (
            "empty",
            Some(Fixture::Bytes("s.mp4", Vec::new())),
            json!({}),
            BadInput,
        ),
        (
            "random bytes",
            Some(Fixture::Bytes("s.mp4", noise(20_000, 2))),
            json!({}),
            BadInput,
        ),
        (
            "text",
            Some(Fixture::Bytes("s.mp4", b"not a video".to_vec())),
            json!({}),
            BadInput,
        ),
        (
            "a picture",
            Some(Fixture::Bytes("s.mp4", png(64, 64))),
            json!({}),
            BadInput,
        ),
        (
            "truncated",
            Some(Fixture::Bytes(
                "s.mp4",
                video()[..video().len() / 3].to_vec(),
            )),
            json!({}),
            EitherWay,
        ),
        (
            "a folder",
            Some(Fixture::Folder("s.mp4")),
            json!({}),
            BadInput,
        ),
        (
            "a named pipe",
            Some(Fixture::Fifo("s.mp4")),
            json!({}),
            BadInput,
        ),
        (
            "start past the end",
            Some(Fixture::Bytes("s.mp4", video())),
            json!({"start_frame": 1000}),
            BadInput,
        ),
        (
            "end before start",
            Some(Fixture::Bytes("s.mp4", video())),
            json!({"start_frame": 5, "end_frame": 2}),
            BadInput,
        ),
        (
            "negative strength",
            Some(Fixture::Bytes("s.mp4", video())),
            json!({"motion_strength": -1.0}),
            BadInput,
        ),
        (
            "huge strength",
            Some(Fixture::Bytes("s.mp4", video())),
            json!({"motion_strength": 1e30}),
            BadInput,
        ),
        (
            "unknown treatment",
            Some(Fixture::Bytes("s.mp4", video())),
            json!({"treatment": "stretch"}),
            BadInput,
        ),
        (
            "valid",
            Some(Fixture::Bytes("s.mp4", video())),
            json!({}),
            EitherWay,
        ),
    ];
    for (what, fixture, extra, expect) in videos {
        let mut c = case(
            format!("structure video: {what}"),
            sv("s.mp4", extra),
            expect,
        );
        if let Some(f) = fixture {
            c = with(c, f);
        }
        out.push(c);
    }
    out.push(case(
        "structure video: /dev/zero",
        sv("/dev/zero", json!({})),
        BadInput,
    ));

    // 5. Outputs that must be refused.
    for (what, output, fixture) in [
        ("the project file", "project.json", None),
        ("a keyframe image", "a.png", None),
        (
            "a keyframe through ..",
            "sub/../a.png",
            Some(Fixture::Folder("sub")),
        ),
        ("a folder", "outdir", Some(Fixture::Folder("outdir"))),
        ("a missing folder", "missing/out.mp4", None),
        ("below a file", "a.png/out.mp4", None),
        ("a named pipe", "pipe.mp4", Some(Fixture::Fifo("pipe.mp4"))),
        ("/dev/null", "/dev/null", None),
        ("/dev/full", "/dev/full", None),
        ("a .json name", "other.json", None),
        ("an empty path", "", None),
        ("/proc", "/proc/wayfarer-out.mp4", None),
    ] {
        let mut c = case(format!("output: {what}"), base_project(), BadInput);
        c.args = vec![
            "render".into(),
            "project.json".into(),
            "-o".into(),
            output.into(),
        ];
        if let Some(f) = fixture {
            c = with(c, f);
        }
        out.push(c);
    }
    for (what, output) in [
        ("the project file", "project.json"),
        ("a keyframe image", "b.png"),
        ("a folder", "."),
        ("/dev/null", "/dev/null"),
    ] {
        let mut c = case(format!("stream output: {what}"), base_project(), BadInput);
        c.args = vec![
            "stream".into(),
            "project.json".into(),
            "-o".into(),
            output.into(),
        ];
        out.push(c);
    }

    // 6. Command lines.
    for (what, extra) in [
        ("crf 99", vec!["--crf", "99"]),
        ("crf -1", vec!["--crf", "-1"]),
        ("crf text", vec!["--crf", "best"]),
        ("unknown preset", vec!["--preset", "slowish"]),
        ("unknown backend", vec!["--backend", "magic"]),
        (
            "ftp server",
            vec!["--backend", "comfyui", "--server", "ftp://127.0.0.1:1"],
        ),
        (
            "file server",
            vec!["--backend", "comfyui", "--server", "file:///etc"],
        ),
        (
            "server not a URL",
            vec!["--backend", "comfyui", "--server", "::::"],
        ),
        (
            "missing template",
            vec![
                "--backend",
                "comfyui",
                "--server",
                "http://127.0.0.1:9",
                "--template",
                "none.json",
            ],
        ),
        ("regenerate 99", vec!["--regenerate", "99"]),
        ("call timeout 0", vec!["--call-timeout", "0"]),
        (
            "call timeout huge",
            vec!["--call-timeout", "99999999999999999999999"],
        ),
        (
            "reconnect timeout negative",
            vec!["--reconnect-timeout", "-5"],
        ),
        ("unknown flag", vec!["--fast"]),
        ("onnx without a model", vec!["--backend", "onnx"]),
        (
            "onnx with a missing model",
            vec!["--backend", "onnx", "--model", "none.toml"],
        ),
        (
            "onnx model is the project",
            vec!["--backend", "onnx", "--model", "project.json"],
        ),
        (
            "onnx model is a folder",
            vec!["--backend", "onnx", "--model", "."],
        ),
    ] {
        out.push(args(
            case(format!("command line: {what}"), base_project(), BadInput),
            &extra,
        ));
    }
    for (what, line) in [
        ("a mistyped command", vec!["rendr", "project.json"]),
        ("render without a project", vec!["render"]),
        ("render without an output", vec!["render", "project.json"]),
        (
            "stream with denoise NaN",
            vec![
                "stream",
                "project.json",
                "-o",
                "out.mp4",
                "--denoise",
                "NaN",
            ],
        ),
        (
            "stream with denoise 2",
            vec!["stream", "project.json", "-o", "out.mp4", "--denoise", "2"],
        ),
        (
            "stream with timeout 0",
            vec!["stream", "project.json", "-o", "out.mp4", "--timeout", "0"],
        ),
        (
            "stream with an unknown interpolator",
            vec![
                "stream",
                "project.json",
                "-o",
                "out.mp4",
                "--interpolator",
                "magic",
            ],
        ),
        ("plan of a missing project", vec!["plan", "none.json"]),
        ("cache with an unknown action", vec!["cache", "burn"]),
    ] {
        let mut c = case(format!("command line: {what}"), base_project(), BadInput);
        c.args = line.iter().map(std::string::ToString::to_string).collect();
        out.push(c);
    }

    // 7. The project file itself.
    let raw: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("not JSON", b"keyframes: a.png".to_vec()),
        ("random bytes", noise(3000, 3)),
        ("a list", b"[1, 2, 3]".to_vec()),
        ("a string", b"\"project\"".to_vec()),
        ("a number", b"42".to_vec()),
        ("null", b"null".to_vec()),
        ("deeply nested", "[".repeat(100_000).into_bytes()),
        (
            "truncated",
            serde_json::to_vec(&base_project()).unwrap()[..40].to_vec(),
        ),
        ("UTF-16", {
            let text = serde_json::to_string(&base_project()).unwrap();
            let mut b = vec![0xff, 0xfe];
            for u in text.encode_utf16() {
                b.extend_from_slice(&u.to_le_bytes());
            }
            b
        }),
        ("with a byte-order mark", {
            let mut b = vec![0xef, 0xbb, 0xbf];
            b.extend(serde_json::to_vec(&base_project()).unwrap());
            b
        }),
        ("65 MiB of spaces", {
            let mut b = serde_json::to_vec(&base_project()).unwrap();
            b.extend(std::iter::repeat_n(b' ', 65 << 20));
            b
        }),
        (
            "version 99",
            serde_json::to_vec(&set(&["version"], json!(99))).unwrap(),
        ),
    ];
    for (what, bytes) in raw {
        let expect = if what == "with a byte-order mark" {
            EitherWay
        } else {
            BadInput
        };
        let mut c = case(format!("project file: {what}"), Value::Null, expect);
        c.project = Some(bytes);
        out.push(c);
    }
    for (what, fixture, path) in [
        ("a folder", Some(Fixture::Folder("p.json")), "p.json"),
        ("a named pipe", Some(Fixture::Fifo("p.json")), "p.json"),
        ("missing", None, "p.json"),
        ("/dev/zero", None, "/dev/zero"),
    ] {
        let mut c = case(format!("project file: {what}"), base_project(), BadInput);
        c.args = vec!["render".into(), path.into(), "-o".into(), "out.mp4".into()];
        if let Some(f) = fixture {
            c = with(c, f);
        }
        out.push(c);
    }
    out
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 24 {
        format!("{}…", &s[..24])
    } else {
        s
    }
}
