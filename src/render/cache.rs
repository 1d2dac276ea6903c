//! Outputs of generation calls kept on disk, so a render that was killed or failed resumes
//! without redoing finished calls.
//!
//! The key is a content hash of everything that went into a call: the backend's identity,
//! the call's frames and anchors, the guide and mask pixels (which include the context
//! frames of a chained call), the segment's parameters, the seed and the size. Changing any
//! of them (e.g. `--regenerate N`, which picks a new seed) makes a new key.

use std::path::PathBuf;

use crate::diskcache::{CacheEntry, DiskCache};
use crate::error::Result;
use crate::generate::GenerationRequest;
use crate::media::Frame;

const MAGIC: [u8; 8] = *b"WFCALL1\0";
const EXTENSION: &str = "call";

/// Default size limit of the folder.
pub const DEFAULT_LIMIT_BYTES: u64 = 8 << 30;

/// A folder of cached call outputs.
#[derive(Debug)]
pub struct CallCache {
    inner: DiskCache,
    /// Whether this render was already told the cache does not work.
    warned: std::sync::atomic::AtomicBool,
}

impl CallCache {
    /// A cache in `dir` holding at most `limit_bytes`.
    pub fn new(dir: PathBuf, limit_bytes: u64) -> Self {
        Self {
            inner: DiskCache::new(dir, limit_bytes, MAGIC, EXTENSION),
            warned: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The per-user folder (`calls/` in the cache directory); the limit comes from
    /// `WAYFARER_CALL_CACHE_MB` when set, and `WAYFARER_CALL_CACHE_MB=0` turns it off.
    pub fn user() -> Option<Self> {
        let dirs = crate::dirs::project_dirs()?;
        let limit = crate::diskcache::limit_from_env("WAYFARER_CALL_CACHE_MB", DEFAULT_LIMIT_BYTES);
        (limit > 0).then(|| Self::new(dirs.cache_dir().join("calls"), limit))
    }

    /// The folder.
    pub fn dir(&self) -> &std::path::Path {
        self.inner.dir()
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> (u64, u64) {
        self.inner.stats()
    }

    /// The content hash of a request on a backend.
    pub fn key(backend_identity: &str, request: &GenerationRequest<'_>) -> String {
        let mut h = blake3::Hasher::new();
        let call = request.call;
        let segment = serde_json::to_string(request.segment).unwrap_or_default();
        h.update(
            format!(
                "call-v1|wayfarer {}|{backend_identity}|{}..{}|lead {} {:?}|anchors {:?}|{}x{}@{}|seed {}|{segment}",
                env!("CARGO_PKG_VERSION"),
                call.start,
                call.end,
                call.lead_frames,
                call.lead,
                call.anchors
                    .iter()
                    .map(|a| (a.offset, a.keyframe))
                    .collect::<Vec<_>>(),
                request.width,
                request.height,
                request.fps,
                request.seed,
            )
            .as_bytes(),
        );
        for (f, m) in request.guide.frames.iter().zip(&request.guide.mask) {
            h.update(&f.width.to_le_bytes());
            h.update(&f.height.to_le_bytes());
            h.update(&f.data);
            h.update(&m.to_le_bytes());
        }
        for s in &request.guide.structured {
            h.update(&[u8::from(*s)]);
        }
        h.finalize().to_hex().to_string()
    }

    /// The cached output for `key`, if present and intact.
    pub fn get(&self, key: &str) -> Option<Vec<Frame>> {
        let ([width, height, count], body) = self.inner.get(key)?;
        let size = width as usize * height as usize * 3;
        if size == 0 || body.len() != size * count as usize {
            return None;
        }
        Some(
            body.chunks_exact(size)
                .map(|c| Frame {
                    width,
                    height,
                    data: c.to_vec(),
                })
                .collect(),
        )
    }

    /// Stores a call's output; a cache that cannot be written is skipped, and the first
    /// time that happens (unless [`CallCache::check`] already said so) the warning for
    /// the user comes back.
    pub fn put(&self, key: &str, frames: &[Frame]) -> Option<String> {
        let first = frames.first()?;
        if frames
            .iter()
            .any(|f| (f.width, f.height) != (first.width, first.height))
        {
            return None;
        }
        let body: Vec<u8> = frames.iter().flat_map(|f| f.data.iter().copied()).collect();
        let numbers = [first.width, first.height, frames.len() as u32];
        let e = self.inner.put(key, numbers, &body).err()?;
        self.first_warning(&[("finished calls", self.dir(), &e)])
    }

    /// Whether this cache (and `flows`, the flow cache the render uses, if any) takes
    /// entries; when one does not, the warning for the user, once per render.
    pub fn check(&self, flows: Option<&crate::flow::FlowCache>) -> Option<String> {
        let mut broken: Vec<(&str, &std::path::Path, std::io::Error)> = Vec::new();
        if let Err(e) = self.inner.probe() {
            broken.push(("finished calls", self.dir(), e));
        }
        if let Some(f) = flows
            && let Err(e) = f.probe()
        {
            broken.push(("flow fields", f.dir(), e));
        }
        let broken: Vec<(&str, &std::path::Path, &std::io::Error)> =
            broken.iter().map(|(w, d, e)| (*w, *d, e)).collect();
        self.first_warning(&broken)
    }

    /// The warning for `broken` caches (what they hold, their folder, why), if there is
    /// one and this render has not had it yet.
    fn first_warning(
        &self,
        broken: &[(&str, &std::path::Path, &std::io::Error)],
    ) -> Option<String> {
        if broken.is_empty() || self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let each: Vec<String> = broken
            .iter()
            .map(|(what, dir, e)| {
                format!(
                    "the cache of {what} ({}) cannot be written: {e}",
                    dir.display()
                )
            })
            .collect();
        let mut lost = Vec::new();
        if broken.iter().any(|(what, _, _)| *what == "finished calls") {
            lost.push("an interrupted render will start over");
        }
        if broken.iter().any(|(what, _, _)| *what == "flow fields") {
            lost.push("motion is estimated again every time");
        }
        Some(format!(
            "{}. This render goes on, but {}. Make the folder writable, give its disk free \
             space, or move away what is in its place.",
            each.join("; "),
            lost.join(" and ")
        ))
    }

    /// Entries, most recently used first.
    pub fn list(&self) -> Result<Vec<CacheEntry>> {
        self.inner.list()
    }

    /// Deletes every entry; returns how many.
    pub fn clear(&self) -> Result<usize> {
        self.inner.clear()
    }
}
