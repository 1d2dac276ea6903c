//! The studio under egui_kittest, shared by the studio's test files: a harness on a
//! temporary folder with three Sintel frames, and helpers that drop, wait and press keys.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Key, Modifiers, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use wayfarer::project::MergePolicy;
use wayfarer::project::edit::Edit;
use wayfarer::ui::{Settings, StudioApp, StudioConfig};

use crate::common;

#[derive(Debug)]
pub struct Dropped(pub PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

pub struct Studio {
    /// The test's folder, holding three Sintel frames.
    pub dir: tempfile::TempDir,
    /// The studio under test.
    pub harness: Harness<'static, StudioApp>,
}

pub fn config(dir: &Path) -> StudioConfig {
    StudioConfig {
        render_dir: dir.join("renders"),
        autosave_dir: dir.join("autosave"),
        call_cache_dir: dir.join("calls"),
        costs_file: dir.join("costs.json"),
    }
}

pub fn studio_with(size: (f32, f32), wgpu: bool) -> Studio {
    studio_with_settings(size, wgpu, Settings::default())
}

pub fn studio_with_settings(size: (f32, f32), wgpu: bool, settings: Settings) -> Studio {
    let dir = tempfile::tempdir().unwrap();
    for name in ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"] {
        std::fs::copy(common::demo_image(name), dir.path().join(name)).unwrap();
    }
    let app = StudioApp::new(config(dir.path()), settings);
    let mut builder = Harness::builder().with_size(size).with_max_steps(64);
    if wgpu {
        builder = builder.wgpu();
    }
    let harness = builder.build_ui_state(|ui, app: &mut StudioApp| app.show(ui), app);
    Studio { dir, harness }
}

pub fn studio() -> Studio {
    studio_with((1280.0, 800.0), false)
}

/// Lets the layout settle after a change (panels take their new sizes over a few frames),
/// so that a click lands where the button is drawn.
pub fn settle(s: &mut Studio) {
    for _ in 0..4 {
        s.harness.step();
    }
}

/// Steps until `done` holds (background work posts results asynchronously).
pub fn wait_for(
    h: &mut Harness<'static, StudioApp>,
    what: &str,
    done: impl Fn(&StudioApp) -> bool,
) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_mins(1),
            "timed out waiting for {what}"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
}

/// Drops `names` (from the test folder) on the timeline at screen `x`.
pub fn drop_images(s: &mut Studio, names: &[&str], x: f32) {
    s.harness.hover_at(Pos2::new(x, 120.0));
    s.harness.step();
    for n in names {
        let file: egui::DroppedFileHandle = Arc::new(Dropped(s.dir.path().join(n)));
        s.harness.input_mut().dropped_files.push(file);
    }
    s.harness.step();
    s.harness.step();
}

/// Drops the three Sintel frames on the timeline and waits for their thumbnails.
pub fn drop_three(s: &mut Studio) {
    drop_images(
        s,
        &["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"],
        100.0,
    );
    wait_for(&mut s.harness, "thumbnails", StudioApp::thumbnails_settled);
}

pub fn with_three_keyframes() -> Studio {
    let mut s = studio();
    drop_three(&mut s);
    // These tests are about one call per span; new projects merge by measured cost (auto).
    let mut p = s.harness.state().project().clone();
    p.merge.policy = MergePolicy::Off;
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    s.harness.step();
    s.harness.step();
    s
}

pub fn frames(app: &StudioApp) -> Vec<u32> {
    app.project().keyframes.iter().map(|k| k.frame).collect()
}

/// Presses a shortcut and lets the studio react.
pub fn shortcut(s: &mut Studio, modifiers: Modifiers, key: Key) {
    s.harness.key_press_modifiers(modifiers, key);
    s.harness.step();
    s.harness.step();
}

/// Presses on the keyframe labelled `label` and moves it, in five steps, to timeline frame
/// `frame`, still held; returns where the pointer is (for `drop_at`).
pub fn hold_keyframe_over(s: &mut Studio, label: &str, frame: f64) -> Pos2 {
    let start = s.harness.get_by_label(label).rect().center();
    let map = s.harness.state().time_map();
    let target = Pos2::new(map.frame_to_x(frame) as f32, start.y);
    s.harness.hover_at(start);
    s.harness.step();
    s.harness.drag_at(start);
    s.harness.step();
    for i in 1..=5 {
        let t = i as f32 / 5.0;
        s.harness.hover_at(start + (target - start) * t);
        s.harness.step();
    }
    target
}

/// Clicks Render, waits for the render to end and checks that it did not fail.
pub fn click_render_and_wait(s: &mut Studio) {
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Render")
        .click();
    s.harness.step();
    wait_for(&mut s.harness, "the render", |a| !a.is_rendering());
    assert!(
        s.harness.state().render_error().is_none(),
        "{:?}",
        s.harness.state().render_error()
    );
}

/// Drops two Sintel frames, makes the project `size`, clicks Render and waits for the
/// render to end.
pub fn render_two_keyframes(s: &mut Studio, size: (u32, u32)) {
    drop_images(s, &["sintel_0016.png", "sintel_0020.png"], 100.0);
    wait_for(&mut s.harness, "thumbnails", StudioApp::thumbnails_settled);
    let mut p = s.harness.state().project().clone();
    (p.width, p.height) = size;
    s.harness
        .state_mut()
        .push_edit(wayfarer::project::edit::Edit::Replace(Box::new(p)));
    s.harness.step();
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Render")
        .click();
    s.harness.step();
    wait_for(&mut s.harness, "the render", |a| !a.is_rendering());
}
