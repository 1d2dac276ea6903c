//! Where a render's structure flows are kept: in memory up to a budget, then in a private
//! temporary file (deleted by the system when the render ends), read back per step. A long
//! structure video at a large size never holds all its flows in memory.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::error::{ErrorCategory, Result, UserError};
use crate::gpu::FlowField;

/// Flow bytes kept in memory before the rest goes to the temporary file.
pub const MEMORY_BUDGET: u64 = 512 << 20;

/// The flows of one render, keyed by source pair `(i, j)`.
pub struct FlowStore {
    /// Flow bytes kept in memory before the rest goes to disk.
    budget: u64,
    in_memory: HashMap<(u32, u32), Arc<FlowField>>,
    memory_bytes: u64,
    /// Pair -> (offset, width, height) in `file`.
    on_disk: HashMap<(u32, u32), (u64, u32, u32)>,
    file: Option<Mutex<std::fs::File>>,
    file_len: u64,
}

fn spill_error(e: &std::io::Error) -> UserError {
    UserError::new(
        ErrorCategory::FileSystem,
        format!("cannot keep the structure video's motion in a temporary file: {e}"),
    )
    .hint("free some space in the temporary folder (TMPDIR)")
}

impl Default for FlowStore {
    fn default() -> Self {
        Self::with_budget(MEMORY_BUDGET)
    }
}

impl FlowStore {
    /// A store that keeps `budget` bytes of flows in memory.
    pub fn with_budget(budget: u64) -> Self {
        Self {
            budget,
            in_memory: HashMap::new(),
            memory_bytes: 0,
            on_disk: HashMap::new(),
            file: None,
            file_len: 0,
        }
    }

    /// Keeps the flow of pair `(i, j)`.
    pub fn insert(&mut self, pair: (u32, u32), flow: FlowField) -> Result<()> {
        let bytes = flow.data.len() as u64 * 8;
        if self.memory_bytes + bytes <= self.budget {
            self.memory_bytes += bytes;
            self.in_memory.insert(pair, Arc::new(flow));
            return Ok(());
        }
        if self.file.is_none() {
            self.file = Some(Mutex::new(
                tempfile::tempfile().map_err(|e| spill_error(&e))?,
            ));
        }
        let offset = self.file_len;
        if let Some(file) = &self.file {
            let mut file = file
                .lock()
                .map_err(|_| spill_error(&std::io::Error::other("lock poisoned")))?;
            let floats: &[f32] = bytemuck::cast_slice(&flow.data);
            file.write_all(bytemuck::cast_slice(floats))
                .map_err(|e| spill_error(&e))?;
        }
        self.file_len += bytes;
        self.on_disk.insert(pair, (offset, flow.width, flow.height));
        Ok(())
    }

    /// The flow of pair `(i, j)`, if it was kept.
    pub fn get(&self, pair: (u32, u32)) -> Result<Option<Arc<FlowField>>> {
        if let Some(flow) = self.in_memory.get(&pair) {
            return Ok(Some(flow.clone()));
        }
        let (Some(&(offset, width, height)), Some(file)) = (self.on_disk.get(&pair), &self.file)
        else {
            return Ok(None);
        };
        let n = width as usize * height as usize;
        let mut floats = vec![0f32; n * 2];
        {
            use std::io::{Read, Seek, SeekFrom};
            let mut file = file
                .lock()
                .map_err(|_| spill_error(&std::io::Error::other("lock poisoned")))?;
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| spill_error(&e))?;
            file.read_exact(bytemuck::cast_slice_mut(&mut floats))
                .map_err(|e| spill_error(&e))?;
            file.seek(SeekFrom::End(0)).map_err(|e| spill_error(&e))?;
        }
        let data = floats.chunks_exact(2).map(|v| [v[0], v[1]]).collect();
        Ok(Some(Arc::new(FlowField {
            width,
            height,
            data,
        })))
    }

    /// Flows kept in the temporary file.
    pub fn spilled(&self) -> usize {
        self.on_disk.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_beyond_the_budget_go_to_disk_and_come_back_whole() {
        let flow = |k: f32| FlowField {
            width: 5,
            height: 3,
            data: (0..15).map(|i| [i as f32 + k, -(i as f32) * k]).collect(),
        };
        // Room for one flow (15 pixels x 8 bytes) in memory.
        let mut store = FlowStore::with_budget(120);
        for k in 0..4 {
            store.insert((k, k + 1), flow(k as f32)).unwrap();
        }
        assert_eq!(store.spilled(), 3);
        for k in 0..4 {
            let back = store.get((k, k + 1)).unwrap().unwrap();
            assert_eq!(back.data, flow(k as f32).data);
            assert_eq!((back.width, back.height), (5, 3));
        }
        assert!(store.get((9, 10)).unwrap().is_none());
    }
}
