//! The studio: an eframe/egui desktop app over the same `project`, `plan` and `render` API
//! the CLI uses. Widgets emit edits; long work (thumbnails, renders, decoding) runs on named
//! background threads that post results over bounded channels and request a repaint.
//! Nothing outside this room depends on it.

mod app;
pub mod document;
pub mod files;
mod jobs;
pub mod style;
mod timemap;

use std::path::PathBuf;

pub use app::{
    PlayerSource, SETTINGS_KEY, Settings, StudioApp, StudioConfig, autosave_path, export,
    snapped_position,
};
pub use timemap::TimeMap;

use crate::error::{ErrorCategory, Result, UserError};

/// Opens the studio window, optionally on a project file.
pub fn run(project: Option<PathBuf>) -> Result<()> {
    // wgpu when an adapter exists, else OpenGL; WAYFARER_RENDERER=glow|wgpu overrides.
    let renderer = match std::env::var("WAYFARER_RENDERER").as_deref() {
        Ok("glow") => eframe::Renderer::Glow,
        Ok("wgpu") => eframe::Renderer::Wgpu,
        _ if crate::doctor::wgpu_adapters().is_empty() => eframe::Renderer::Glow,
        _ => eframe::Renderer::Wgpu,
    };
    let options = eframe::NativeOptions {
        renderer,
        viewport: egui::ViewportBuilder::default()
            .with_title("Wayfarer")
            .with_inner_size([1280.0, 800.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    let screenshot = std::env::var_os("WAYFARER_SCREENSHOT").map(PathBuf::from);
    eframe::run_native(
        "Wayfarer",
        options,
        Box::new(move |cc| {
            let settings = cc
                .storage
                .and_then(|s| eframe::get_value(s, SETTINGS_KEY))
                .unwrap_or_default();
            let mut app = StudioApp::new(StudioConfig::from_user_dirs(), settings);
            if let Some(p) = &project {
                app.open(p);
            }
            let app: Box<dyn eframe::App> = match screenshot {
                Some(path) => Box::new(ScreenshotApp {
                    app,
                    path,
                    frames: 0,
                    requested: false,
                }),
                None => Box::new(app),
            };
            Ok(app)
        }),
    )
    .map_err(|e| {
        UserError::new(
            ErrorCategory::SystemResource,
            format!("cannot open the studio window: {e}"),
        )
        .hint("a display is needed (X11 or Wayland); on a server use the CLI: wayfarer render")
    })
}

/// Wraps the studio to save a screenshot of the real window and quit
/// (`WAYFARER_SCREENSHOT=out.png`, used by `scripts/screenshot.sh`).
struct ScreenshotApp {
    app: StudioApp,
    path: PathBuf,
    frames: u32,
    requested: bool,
}

impl eframe::App for ScreenshotApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.app.ui(ui, frame);
        self.frames += 1;
        let ctx = ui.ctx().clone();
        // Let thumbnails arrive, then take the picture.
        if self.frames == 60 && !self.requested {
            self.requested = true;
            let path = self.path.clone();
            let inner = ctx.clone();
            ctx.request_screenshot(move |image| {
                let [w, h] = image.size;
                let bytes: Vec<u8> = image
                    .pixels
                    .iter()
                    .flat_map(egui::Color32::to_array)
                    .collect();
                let saved = image::RgbaImage::from_raw(w as u32, h as u32, bytes)
                    .map(|img| img.save(&path));
                if !matches!(saved, Some(Ok(()))) {
                    eprintln!("error: could not save the screenshot to {}", path.display());
                }
                inner.send_viewport_cmd(egui::ViewportCommand::Close);
                inner.request_repaint();
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(16));
        ctx.request_repaint();
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.app.save(storage);
    }
}
