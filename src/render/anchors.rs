//! Keyframe images for the calls, loaded when a call needs them and kept in a small
//! least-recently-used set: a project of thousands of keyframes never holds them all.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::{Result, UserError};
use crate::generate::CancelToken;
use crate::media::{self, Frame};
use crate::project::Project;

/// How many fitted keyframes are kept at once (calls in flight need two or three each).
pub const KEPT_ANCHORS: usize = 24;

/// The project's keyframe images, fitted to the render size on demand.
pub struct Anchors<'a> {
    project: &'a Project,
    project_dir: &'a Path,
    width: u32,
    height: u32,
    kept: Mutex<VecDeque<(usize, Arc<Frame>)>>,
}

impl<'a> Anchors<'a> {
    /// Anchors of `project` at `width` x `height`; nothing is loaded yet.
    pub fn new(project: &'a Project, project_dir: &'a Path, width: u32, height: u32) -> Self {
        Self {
            project,
            project_dir,
            width,
            height,
            kept: Mutex::new(VecDeque::new()),
        }
    }

    /// Checks every keyframe image from its header (before anything is generated), calling
    /// `progress` after each.
    pub fn check_all(&self, cancel: &CancelToken, progress: &mut dyn FnMut()) -> Result<()> {
        for k in 0..self.project.keyframes.len() {
            if cancel.is_cancelled() {
                return Err(UserError::cancelled());
            }
            let path = self.project.image_path(self.project_dir, k);
            media::check_image(&path).map_err(|e| named(k, e))?;
            progress();
        }
        Ok(())
    }

    /// Keyframe `k` fitted to the render size.
    pub fn get(&self, k: usize) -> Result<Arc<Frame>> {
        if let Ok(mut kept) = self.kept.lock()
            && let Some(i) = kept.iter().position(|(j, _)| *j == k)
            && let Some(entry) = kept.remove(i)
        {
            let frame = entry.1.clone();
            kept.push_back(entry);
            return Ok(frame);
        }
        let path = self.project.image_path(self.project_dir, k);
        let image = media::load_image(&path).map_err(|e| named(k, e))?;
        let frame = Arc::new(media::crop_fit(&image, self.width, self.height)?);
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() >= KEPT_ANCHORS {
                kept.pop_front();
            }
            kept.push_back((k, frame.clone()));
        }
        Ok(frame)
    }
}

fn named(k: usize, e: UserError) -> UserError {
    e.context(format!("keyframes[{k}].image"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bounded_number_of_keyframes_is_held() {
        let dir = tempfile::tempdir().unwrap();
        image::RgbImage::from_pixel(40, 30, image::Rgb([9, 99, 199]))
            .save(dir.path().join("k.png"))
            .unwrap();
        let keyframes: Vec<String> = (0..60)
            .map(|i| format!(r#"{{"image":"k.png","frame":{}}}"#, i * 16))
            .collect();
        let project = Project::from_json_str(&format!(
            r#"{{"version":1,"fps":16,"width":32,"height":32,"model":"wan2.1-vace-14b",
            "keyframes":[{}],"segments":[{{"prompt":"x"}}]}}"#,
            keyframes.join(",")
        ))
        .unwrap();
        let anchors = Anchors::new(&project, dir.path(), 32, 32);
        anchors.check_all(&CancelToken::new(), &mut || {}).unwrap();
        assert!(
            anchors.kept.lock().unwrap().is_empty(),
            "checking loads nothing"
        );
        for k in 0..60 {
            let f = anchors.get(k).unwrap();
            assert_eq!(
                (f.width, f.height, &f.data[..3]),
                (32, 32, &[9u8, 99, 199][..])
            );
        }
        assert_eq!(anchors.kept.lock().unwrap().len(), KEPT_ANCHORS);
        // The most recent are kept: keyframe 59 comes back without a load.
        let before = Arc::strong_count(&anchors.get(59).unwrap());
        assert!(before >= 2);
    }
}
