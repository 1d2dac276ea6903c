//! A folder of checksummed cache entries under a size limit, shared by the flow cache and
//! the per-call output cache.
//!
//! An entry is named by the BLAKE3 hash of its key and holds a header (magic, three
//! numbers the owner chooses, the payload's BLAKE3) and the payload: a damaged or truncated
//! entry is deleted and reported as a miss, never trusted. Writes go through a temporary
//! file and a rename. The folder is kept under its limit by evicting the least recently
//! used entries (a hit refreshes the entry's modification time).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::error::{Result, UserError};

/// A cache's size limit in bytes from the environment variable `var` (whole MiB), or
/// `default` when it is unset; a value that is not a whole number is logged and ignored.
pub fn limit_from_env(var: &str, default: u64) -> u64 {
    let Ok(text) = std::env::var(var) else {
        return default;
    };
    if let Ok(mib) = text.trim().parse::<u64>() {
        mib.saturating_mul(1 << 20)
    } else {
        tracing::warn!(
            "{var}={text:?} is not a whole number of MiB; the default ({} MiB) is used",
            default >> 20
        );
        default
    }
}

/// Bytes before the payload: magic, three numbers, checksum.
pub const HEADER: usize = 8 + 12 + 32;

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

/// A folder of cache entries of one kind.
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    limit_bytes: u64,
    magic: [u8; 8],
    extension: &'static str,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl DiskCache {
    /// A cache in `dir` (created when needed) holding at most `limit_bytes` of entries
    /// named `*.{extension}` and starting with `magic`.
    pub fn new(dir: PathBuf, limit_bytes: u64, magic: [u8; 8], extension: &'static str) -> Self {
        Self {
            dir,
            limit_bytes,
            magic,
            extension,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
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
        self.dir.join(format!("{name}.{}", self.extension))
    }

    /// The entry for `key`: its three numbers and payload, when present and intact.
    pub fn get(&self, key: &str) -> Option<([u32; 3], Vec<u8>)> {
        let path = self.path(key);
        if let Some(entry) = read_entry(&path, self.magic) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            if let Ok(f) = fs::File::options().append(true).open(&path) {
                let _ = f.set_modified(SystemTime::now());
            }
            Some(entry)
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Stores an entry; a cache that cannot be written is skipped (the error says why).
    pub fn put(&self, key: &str, numbers: [u32; 3], payload: &[u8]) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        write_entry(&self.path(key), self.magic, numbers, payload)?;
        self.evict();
        Ok(())
    }

    /// Whether the folder takes entries: it is created if needed and a small file is
    /// written to it and removed (a folder that is a file, read-only or on a full disk
    /// fails here).
    pub fn probe(&self) -> std::io::Result<()> {
        if self.dir.exists() && !self.dir.is_dir() {
            return Err(std::io::Error::other(
                "there is a file where the folder should be",
            ));
        }
        fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(format!(
            ".probe-{}.tmp{}",
            self.extension,
            std::process::id()
        ));
        let written = (|| {
            let mut f = fs::File::create(&path)?;
            f.write_all(&[0u8; 4096])?;
            f.sync_all()
        })();
        let _ = fs::remove_file(&path);
        written
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
            if path.extension().and_then(|e| e.to_str()) != Some(self.extension) {
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

fn write_entry(path: &Path, magic: [u8; 8], numbers: [u32; 3], body: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&magic)?;
        for n in numbers {
            f.write_all(&n.to_le_bytes())?;
        }
        f.write_all(blake3::hash(body).as_bytes())?;
        f.write_all(body)?;
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
fn read_entry(path: &Path, magic: [u8; 8]) -> Option<([u32; 3], Vec<u8>)> {
    let mut bytes = fs::read(path).ok()?;
    let parsed = (|| {
        if bytes.len() < HEADER || bytes[..8] != magic {
            return None;
        }
        let n = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let numbers = [n(8), n(12), n(16)];
        if blake3::hash(&bytes[HEADER..]).as_bytes() != &bytes[20..52] {
            return None;
        }
        Some(numbers)
    })();
    if let Some(numbers) = parsed {
        bytes.drain(..HEADER);
        Some((numbers, bytes))
    } else {
        let _ = fs::remove_file(path);
        None
    }
}
