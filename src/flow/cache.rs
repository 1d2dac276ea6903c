//! Flow fields cached on disk, so a render (and the next one) estimates each needed flow
//! once.
//!
//! An entry is named by the BLAKE3 hash of its key (the inputs' content hashes, size and
//! the estimator's identity) and holds a checksummed payload: a damaged entry is deleted
//! and recomputed, never trusted. Writes go through a temporary file and a rename. The
//! folder is kept under a size limit by evicting the least recently used entries (a hit
//! refreshes the entry's modification time).

use std::path::{Path, PathBuf};

pub use crate::diskcache::CacheEntry;
use crate::diskcache::DiskCache;
use crate::error::Result;
use crate::gpu::FlowField;

const MAGIC: [u8; 8] = *b"WFLOW2\0\0";
const EXTENSION: &str = "flow";

/// Default size limit of the cache folder.
pub const DEFAULT_LIMIT_BYTES: u64 = 2 << 30;

/// A folder of cached flow fields.
#[derive(Debug)]
pub struct FlowCache {
    inner: DiskCache,
}

impl FlowCache {
    /// A cache in `dir` (created when needed) holding at most `limit_bytes`.
    pub fn new(dir: PathBuf, limit_bytes: u64) -> Self {
        Self {
            inner: DiskCache::new(dir, limit_bytes, MAGIC, EXTENSION),
        }
    }

    /// The per-user cache folder (`flows/` in the cache directory); the limit comes from
    /// `WAYFARER_FLOW_CACHE_MB` when set.
    pub fn user() -> Option<Self> {
        let dirs = crate::dirs::project_dirs()?;
        let limit = crate::diskcache::limit_from_env("WAYFARER_FLOW_CACHE_MB", DEFAULT_LIMIT_BYTES);
        Some(Self::new(dirs.cache_dir().join("flows"), limit))
    }

    /// Whether the folder takes entries (see `DiskCache::probe`).
    pub fn probe(&self) -> std::io::Result<()> {
        self.inner.probe()
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        self.inner.dir()
    }

    /// Hits and misses so far.
    pub fn stats(&self) -> (u64, u64) {
        self.inner.stats()
    }

    /// The cached flow for `key`, or `compute()`'s result, stored for next time. A cache
    /// that cannot be written is skipped (the flow is still returned).
    pub fn get_or_compute(
        &self,
        key: &str,
        compute: impl FnOnce() -> Result<FlowField>,
    ) -> Result<FlowField> {
        if let Some(([width, height, _], body)) = self.inner.get(key)
            && body.len() as u64 == u64::from(width) * u64::from(height) * 8
        {
            let data = body
                .chunks_exact(8)
                .map(|c| {
                    [
                        f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                        f32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                    ]
                })
                .collect();
            return Ok(FlowField {
                width,
                height,
                data,
            });
        }
        let flow = compute()?;
        let body: Vec<u8> = flow
            .data
            .iter()
            .flat_map(|v| v[0].to_le_bytes().into_iter().chain(v[1].to_le_bytes()))
            .collect();
        if let Err(e) = self.inner.put(key, [flow.width, flow.height, 0], &body) {
            tracing::debug!("flow cache {}: not stored: {e}", self.dir().display());
        }
        Ok(flow)
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
    use std::fs;

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
        let entry_bytes = (crate::diskcache::HEADER + 16 * 8 * 8) as u64;
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
