//! Timings of finished calls per backend identity, kept in the per-user data folder
//! (`costs.json`), and the cost law fitted from them ([`CostModel::fit`]). The planner uses
//! the fit for estimates and `auto` merge decisions once calls of three distinct sizes were
//! timed on that backend; until then the profile's defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::plan::{CostModel, CostSample};

/// Samples kept per backend (the newest).
const MAX_SAMPLES: usize = 200;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    version: u32,
    backends: BTreeMap<String, Vec<CostSample>>,
}

/// The timings file.
#[derive(Debug)]
pub struct CostStore {
    path: PathBuf,
    data: Mutex<Stored>,
}

impl CostStore {
    /// The store at `path` (read now; a missing or unreadable file starts empty).
    pub fn open(path: PathBuf) -> Self {
        let data = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Stored>(&b).ok())
            .unwrap_or_default();
        Self {
            path,
            data: Mutex::new(data),
        }
    }

    /// The per-user store (`costs.json` in the data folder); `None` without a home folder.
    pub fn user() -> Option<Self> {
        let dirs = crate::dirs::project_dirs()?;
        Some(Self::open(dirs.data_dir().join("costs.json")))
    }

    /// The cost law fitted for `backend` (its identity), once there are enough samples.
    pub fn model(&self, backend: &str) -> Option<CostModel> {
        let data = self
            .data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let samples = data.backends.get(backend)?;
        CostModel::fit(
            samples,
            &format!("measured on {backend}, {} calls", samples.len()),
        )
    }

    /// Records a finished call of `backend` and saves the file (best effort: timings are
    /// an aid, a failed save loses only them).
    pub fn record(&self, backend: &str, sample: CostSample) {
        if !(sample.secs.is_finite() && sample.secs >= 0.0) {
            return;
        }
        let mut data = self
            .data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        data.version = 1;
        let list = data.backends.entry(backend.to_string()).or_default();
        list.push(sample);
        if list.len() > MAX_SAMPLES {
            let extra = list.len() - MAX_SAMPLES;
            list.drain(..extra);
        }
        if let Ok(text) = serde_json::to_vec_pretty(&*data) {
            // Timings only inform later plans: a failure to keep them is logged, and the
            // render goes on.
            if let Some(parent) = self.path.parent()
                && let Err(e) = std::fs::create_dir_all(parent)
            {
                tracing::warn!("cannot keep call timings in {}: {e}", parent.display());
            }
            if let Err(e) = crate::project::file::write_atomic(&self.path, &text) {
                tracing::warn!("cannot keep call timings: {}", e.message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_persist_and_fit_once_three_sizes_were_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("costs.json");
        let store = CostStore::open(path.clone());
        let sample = |frames: u32| CostSample {
            frames,
            megapixels: 0.5,
            secs: 2.0 + 0.1 * f64::from(frames) * 0.5,
        };
        store.record("b", sample(17));
        store.record("b", sample(33));
        assert!(store.model("b").is_none(), "two sizes");
        store.record("b", sample(49));
        let again = CostStore::open(path);
        let m = again.model("b").unwrap();
        assert!(
            (m.a - 2.0).abs() < 1e-6 && (m.b - 0.1).abs() < 1e-6,
            "{m:?}"
        );
        assert!(again.model("other").is_none());
    }
}
