//! The CLI's contract under hostile input, case by case (over two hundred): malformed and
//! absurd projects, odd and broken images and videos, outputs that are inputs, folders,
//! pipes or devices, bad command lines. For every case: no panic, an end within a time
//! bound, exit 0 or 2 (2 where the case is surely bad input) with `error:` and `hint:`,
//! nothing at the output path after a failure, no partial file left, every input file
//! byte-identical.
#![expect(
    clippy::disallowed_methods,
    reason = "test servers and watchdogs run on plain threads and channels"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;
pub mod hostile_cases;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hostile_cases::{Case, Expect, Fixture, cases, jpeg, png};

/// Every regular file under `dir` (outside `.xdg`) and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let t = e.file_type().unwrap();
            if p.file_name().is_some_and(|n| n == ".xdg") {
                continue;
            }
            if t.is_dir() {
                stack.push(p);
            } else if t.is_file() {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// Runs one case; `Err` says how it broke the contract.
fn run(c: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.png"), png(64, 64)).unwrap();
    std::fs::write(d.join("b.png"), jpeg(80, 60)).unwrap();
    if let Some(bytes) = &c.project {
        std::fs::write(d.join("project.json"), bytes).unwrap();
    }
    for f in &c.fixtures {
        match f {
            Fixture::Bytes(name, bytes) => std::fs::write(d.join(name), bytes).unwrap(),
            Fixture::Fifo(name) => mkfifo(&d.join(name)),
            Fixture::Folder(name) => std::fs::create_dir_all(d.join(name)).unwrap(),
        }
    }
    let before = snapshot(d);
    let mut child = common::cli(d)
        .args(&c.args)
        .current_dir(d)
        .env("WAYFARER_COMPUTE", "cpu")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr while the process runs: a long message must not block it on a full pipe.
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    });
    let began = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if began.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            return Err("hung: still running after 90 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = reader.join().unwrap();
    if stderr.len() > 20_000 {
        return Err(format!(
            "{} bytes of messages (a value repeated back?)",
            stderr.len()
        ));
    }
    let code = status.code();
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        return Err(format!("panicked: {stderr}"));
    }
    match (code, c.expect) {
        (Some(2), _) => {
            let first = stderr
                .lines()
                .find(|l| l.starts_with("error: "))
                .ok_or_else(|| format!("exit 2 without an error line: {stderr}"))?;
            if !stderr.lines().any(|l| l.starts_with("hint: ")) {
                return Err(format!("no hint for: {first}"));
            }
        }
        (Some(0), Expect::EitherWay) => {}
        _ => return Err(format!("exit {code:?} (expected {:?}): {stderr}", c.expect)),
    }
    let after = snapshot(d);
    let out = c
        .args
        .iter()
        .position(|a| a == "-o")
        .map(|i| d.join(&c.args[i + 1]));
    for (path, bytes) in &before {
        match after.get(path) {
            Some(now) if now == bytes => {}
            _ => return Err(format!("{} changed or vanished", path.display())),
        }
    }
    for path in after.keys() {
        if before.contains_key(path) {
            continue;
        }
        let is_output = out.as_ref().is_some_and(|o| o == path);
        if !(is_output && code == Some(0)) {
            return Err(format!("left {}", path.display()));
        }
    }
    Ok(())
}

#[test]
fn every_hostile_case_keeps_the_contract() {
    let cases = cases();
    assert!(cases.len() >= 200, "{} cases", cases.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    let times = std::sync::Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(c) = cases.get(i) else { break };
                    let began = Instant::now();
                    let result = run(c);
                    times
                        .lock()
                        .unwrap()
                        .push((began.elapsed(), c.name.clone()));
                    if let Err(why) = result {
                        failures.lock().unwrap().push(format!(
                            "case {} ({}): {why}",
                            i + 1,
                            c.name
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let mut times = times.into_inner().unwrap();
    times.sort();
    for (t, name) in times.iter().rev().take(8) {
        eprintln!("slowest: {name}: {:.1} s", t.as_secs_f64());
    }
    eprintln!(
        "{} hostile cases, {} broke the contract",
        cases.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
