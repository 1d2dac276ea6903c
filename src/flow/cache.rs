//! Flow fields cached on disk, so a render (and the next one) estimates each needed flow
//! once.
//!
//! An entry is named by the BLAKE3 hash of its key (the inputs' content hashes, size and
//! the estimator's identity) and holds a checksummed payload: a damaged entry is deleted
//! and recomputed, never trusted. Writes go through a temporary file and a rename. The
//! folder is kept under a size limit by evicting the least recently used entries (a hit
//! refreshes the entry's modification time).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::error::{Result, UserError};
use crate::gpu::FlowField;

const MAGIC: &[u8; 8] = b"WFLOW1\0\0";
const HEADER: usize = 8 + 4 + 4 + 32;
const EXTENSION: &str = "flow";

/// Default size limit of the cache folder.
pub const DEFAULT_LIMIT_BYTES: u64 = 2 << 30;

/// A folder of cached flow fields.
#[derive(Debug)]
pub struct FlowCache {
    dir: PathBuf,
    limit_bytes: u64,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// One cached entry, for `wayfarer cache list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CacheEntry {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Seconds since last use.
    pub idle_secs: u64,
    #[serde(skip)]
    idle: std::time::Duration,
}

impl FlowCache {
    /// A cache in `dir` (created when needed) holding at most `limit_bytes`.
    pub fn new(dir: PathBuf, limit_bytes: u64) -> Self {
        Self {
            dir,
            limit_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The per-user cache folder (`flows/` in the cache directory); the limit comes from
    /// `WAYFARER_FLOW_CACHE_MB` when set.
    pub fn user() -> Option<Self> {
        let dirs = crate::dirs::project_dirs()?;
        let limit = std::env::var("WAYFARER_FLOW_CACHE_MB")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(DEFAULT_LIMIT_BYTES, |mb| mb << 20);
        Some(Self::new(dirs.cache_dir().join("flows"), limit))
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn path(&self, key: &str) -> PathBuf {
        let name = blake3::hash(key.as_bytes()).to_hex();
        self.dir.join(format!("{name}.{EXTENSION}"))
    }

    /// The cached flow for `key`, or `compute()`'s result, stored for next time. A cache
    /// that cannot be written is skipped (the flow is still returned).
    pub fn get_or_compute(
        &self,
        key: &str,
        compute: impl FnOnce() -> Result<FlowField>,
    ) -> Result<FlowField> {
        let path = self.path(key);
        if let Some(flow) = read_entry(&path) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            if let Ok(f) = fs::File::options().append(true).open(&path) {
                let _ = f.set_modified(SystemTime::now());
            }
            return Ok(flow);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let flow = compute()?;
        if fs::create_dir_all(&self.dir).is_ok() && write_entry(&path, &flow).is_ok() {
            self.evict();
        }
        Ok(flow)
    }

    /// Entries, most recently used first.
    pub fn list(&self) -> Result<Vec<CacheEntry>> {
        let mut out = Vec::new();
        let read = match fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(UserError::io("reading", &self.dir, &e)),
        };
        let now = SystemTime::now();
        for entry in read.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
                continue;
            }
            if let Ok(meta) = entry.metadata() {
                let idle = meta
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .unwrap_or_default();
                out.push(CacheEntry {
                    name: entry.file_name().to_string_lossy().into_owned(),
                    bytes: meta.len(),
                    idle_secs: idle.as_secs(),
                    idle,
                });
            }
        }
        out.sort_by_key(|e| e.idle);
        Ok(out)
    }

    /// Deletes every entry; returns how many.
    pub fn clear(&self) -> Result<usize> {
        let entries = self.list()?;
        for e in &entries {
            let path = self.dir.join(&e.name);
            fs::remove_file(&path).map_err(|err| UserError::io("deleting", &path, &err))?;
        }
        Ok(entries.len())
    }

    /// Removes least recently used entries until the folder fits the limit.
    fn evict(&self) {
        let Ok(mut entries) = self.list() else { return };
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        while total > self.limit_bytes {
            let Some(oldest) = entries.pop() else { break };
            if fs::remove_file(self.dir.join(&oldest.name)).is_ok() {
                total -= oldest.bytes;
            }
        }
    }
}

fn payload(flow: &FlowField) -> Vec<u8> {
    flow.data
        .iter()
        .flat_map(|v| v[0].to_le_bytes().into_iter().chain(v[1].to_le_bytes()))
        .collect()
}

fn write_entry(path: &Path, flow: &FlowField) -> std::io::Result<()> {
    let body = payload(flow);
    let mut bytes = Vec::with_capacity(HEADER + body.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&flow.width.to_le_bytes());
    bytes.extend_from_slice(&flow.height.to_le_bytes());
    bytes.extend_from_slice(blake3::hash(&body).as_bytes());
    bytes.extend_from_slice(&body);
    let tmp = path.with_extension("tmp");
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The entry at `path` if it is complete and its checksum matches; a damaged entry is
/// deleted.
fn read_entry(path: &Path) -> Option<FlowField> {
    let bytes = fs::read(path).ok()?;
    let parsed = (|| {
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return None;
        }
        let width = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
        let height = u32::from_le_bytes(bytes[12..16].try_into().ok()?);
        let body = &bytes[HEADER..];
        if body.len() as u64 != u64::from(width) * u64::from(height) * 8
            || blake3::hash(body).as_bytes() != &bytes[16..48]
        {
            return None;
        }
        let data = body
            .chunks_exact(8)
            .map(|c| {
                [
                    f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                    f32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                ]
            })
            .collect();
        Some(FlowField {
            width,
            height,
            data,
        })
    })();
    if parsed.is_none() {
        let _ = fs::remove_file(path);
    }
    parsed
}

/// The cache key of the flow between two frames for an estimator.
pub fn frame_pair_key(a: &crate::media::Frame, b: &crate::media::Frame, estimator: &str) -> String {
    format!(
        "pair/{}/{}/{}x{}/{estimator}",
        blake3::hash(&a.data).to_hex(),
        blake3::hash(&b.data).to_hex(),
        a.width,
        a.height
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(v: f32) -> FlowField {
        FlowField::uniform(16, 8, v, -v)
    }

    #[test]
    fn hit_after_miss_and_damaged_entries_are_recomputed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FlowCache::new(dir.path().join("flows"), DEFAULT_LIMIT_BYTES);
        let mut computed = 0;
        for _ in 0..3 {
            let f = cache
                .get_or_compute("k", || {
                    computed += 1;
                    Ok(field(1.5))
                })
                .unwrap();
            assert_eq!(f, field(1.5));
        }
        assert_eq!(computed, 1);
        assert_eq!(cache.stats(), (2, 1));
        // Flip one payload byte: the checksum catches it.
        let entry = dir
            .path()
            .join("flows")
            .join(&cache.list().unwrap()[0].name);
        let mut bytes = fs::read(&entry).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        fs::write(&entry, &bytes).unwrap();
        let f = cache.get_or_compute("k", || Ok(field(1.5))).unwrap();
        assert_eq!(f, field(1.5));
        assert_eq!(cache.stats(), (2, 2), "the damaged entry was a miss");
        // A truncated entry too.
        fs::write(&entry, &bytes[..20]).unwrap();
        cache.get_or_compute("k", || Ok(field(1.5))).unwrap();
        assert_eq!(cache.stats(), (2, 3));
    }

    #[test]
    fn least_recently_used_entries_are_evicted() {
        let dir = tempfile::tempdir().unwrap();
        let entry_bytes = (HEADER + 16 * 8 * 8) as u64;
        let cache = FlowCache::new(dir.path().to_path_buf(), entry_bytes * 2);
        cache.get_or_compute("a", || Ok(field(1.0))).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        cache.get_or_compute("b", || Ok(field(2.0))).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        cache.get_or_compute("a", || Ok(field(1.0))).unwrap(); // refresh a
        std::thread::sleep(std::time::Duration::from_millis(20));
        cache.get_or_compute("c", || Ok(field(3.0))).unwrap(); // evicts b
        assert_eq!(cache.list().unwrap().len(), 2);
        let before = cache.stats();
        cache.get_or_compute("a", || Ok(field(1.0))).unwrap();
        assert_eq!(cache.stats().0, before.0 + 1, "a survived");
        cache.get_or_compute("b", || Ok(field(2.0))).unwrap();
        assert_eq!(cache.stats().1, before.1 + 1, "b was evicted");
        assert_eq!(cache.clear().unwrap(), 2);
        assert!(cache.list().unwrap().is_empty());
    }
}
