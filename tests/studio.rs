//! The studio driven through egui_kittest: drop images, drag and snap, edit, plan view,
//! render and player, cancel, undo/redo, errors, and low-resolution snapshots.
#![expect(
    clippy::default_trait_access,
    reason = "test setup fills fields with their defaults"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod comfy_server;
pub mod common;
pub mod studio_kit;

use studio_kit::{
    config, drop_images, frames, settle, shortcut, studio, studio_with, studio_with_settings,
    wait_for, with_three_keyframes,
};

use std::path::Path;
use std::time::Duration;

use egui::{Key, Modifiers};
use egui_kittest::kittest::Queryable;
use wayfarer::project::MergePolicy;
use wayfarer::project::edit::Edit;
use wayfarer::ui::{Settings, StudioApp};

#[test]
fn dropped_images_become_keyframes() {
    let s = with_three_keyframes();
    assert_eq!(frames(s.harness.state()), vec![0, 32, 64]);
    s.harness.get_by_label("Keyframe 3 at frame 64");
    assert!(s.harness.state().plan().is_ok());
    // A drop between keyframes inserts there.
    let mut s = s;
    let x = s.harness.state().time_map().frame_to_x(40.0) as f32;
    drop_images(&mut s, &["sintel_0020.png"], x);
    assert_eq!(frames(s.harness.state()), vec![0, 32, 40, 72]);
}

#[test]
fn dragging_a_keyframe_snaps_and_undo_redo_restore_it() {
    let mut s = with_three_keyframes();
    let target = studio_kit::hold_keyframe_over(&mut s, "Keyframe 2 at frame 32", 42.0);
    s.harness.drop_at(target);
    s.harness.step();
    s.harness.step();
    // 0..=42 is 43 frames, not 4n+1: the nearest valid lengths 41 and 45 tie, the longer wins.
    assert_eq!(frames(s.harness.state())[1], 44);
    s.harness.get_by_label("Keyframe 2 at frame 44");

    s.harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    s.harness.step();
    assert_eq!(frames(s.harness.state())[1], 32, "undo");
    s.harness
        .key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    s.harness.step();
    assert_eq!(frames(s.harness.state())[1], 44, "redo");
}

#[test]
fn editing_a_prompt_updates_the_segment() {
    let mut s = with_three_keyframes();
    s.harness.get_by_label("Prompt").click();
    s.harness.step();
    s.harness.get_by_label("Prompt").type_text("a misty valley");
    s.harness.step();
    s.harness.step();
    let app = s.harness.state();
    assert_eq!(app.project().segment_for_span(0).prompt, "a misty valley");
    assert!(app.is_dirty());
    // Span 1 kept its own (empty) prompt: the shared segment was split per span.
    assert_eq!(app.project().segment_for_span(1).prompt, "");
    // Typing is one undo step.
    s.harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    s.harness.step();
    assert_eq!(s.harness.state().project().segment_for_span(0).prompt, "");
}

#[test]
fn identical_segments_show_as_one_call() {
    let mut s = with_three_keyframes();
    assert!(s.harness.query_by_label_contains("(merged)").is_none());
    s.harness.get_by_label("Segment 1 (identical to the next)");
    let mut p = s.harness.state().project().clone();
    p.merge.policy = MergePolicy::Consolidate;
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    s.harness.step();
    s.harness.step();
    s.harness
        .get_by_label("Call 1: segments 1 to 2 (merged), frames 0 to 64");
    s.harness.get_by_label("Mask of call 1");
    assert!(s.harness.query_by_label_contains("Call 2:").is_none());
}

#[test]
fn render_to_completion_shows_the_player() {
    let mut s = with_three_keyframes();
    let mut p = s.harness.state().project().clone();
    (p.width, p.height) = (256, 144);
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    s.harness.step();
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Render")
        .click();
    s.harness.step();
    assert!(s.harness.state().is_rendering());
    wait_for(&mut s.harness, "render and decode", |a| {
        !a.is_rendering() && a.player_frames() > 0
    });
    let app = s.harness.state();
    let out = app.last_output().unwrap().to_path_buf();
    let planned = app.plan().as_ref().unwrap().total_frames as usize;
    assert_eq!(
        planned, 66,
        "0..=65: keyframe 2 snapped 64 -> 65 (49 new + 8 context = 57)"
    );
    assert_eq!(app.player_frames(), planned);
    assert_eq!(wayfarer::media::decode_all(&out).unwrap().len(), planned);
    s.harness.get_by_label_contains("0.00 s of");
    s.harness.get_by_label_contains("(66 frames)");
    s.harness.get_by_label("Play").click();
    s.harness.step();
    s.harness.step();
    s.harness.get_by_label("Pause");
    std::thread::sleep(Duration::from_millis(300));
    s.harness.step();
    s.harness.step();
    assert!(
        s.harness.query_by_label_contains("0.00 s of").is_none(),
        "playback advances"
    );
    s.harness.get_by_label_contains("showing the render");
    // Export copies the render atomically.
    let exported = s.dir.path().join("exported.mp4");
    wayfarer::ui::export(&out, &exported).unwrap();
    assert_eq!(
        std::fs::read(&exported).unwrap(),
        std::fs::read(&out).unwrap()
    );
}

#[test]
fn cancelling_a_render_leaves_no_file() {
    let mut s = studio();
    drop_images(&mut s, &["sintel_0016.png"], 100.0);
    let mut p = s.harness.state().project().clone();
    p.keyframes.push(wayfarer::project::Keyframe {
        image: s.dir.path().join("sintel_0025.png"),
        frame: 2000,
    });
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    s.harness.step();
    s.harness.step();
    assert!(
        s.harness.state().plan().is_ok(),
        "{:?}",
        s.harness.state().plan()
    );
    settle(&mut s);
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Render")
        .click();
    s.harness.step();
    assert!(s.harness.state().is_rendering());
    wait_for(&mut s.harness, "the render to start generating", |a| {
        !a.is_rendering() || a.render_fraction() > 0.0
    });
    assert!(
        s.harness.state().is_rendering(),
        "render ended early: {:?}",
        s.harness.state().render_error()
    );
    s.harness.get_by_label("Cancel").click();
    wait_for(&mut s.harness, "the render to stop", |a| !a.is_rendering());
    s.harness.get_by_label_contains("Render: cancelled");
    assert!(s.harness.state().last_output().is_none());
    let left: Vec<_> = std::fs::read_dir(s.dir.path().join("renders"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn a_corrupt_image_shows_its_error_and_suggestion() {
    let mut s = studio();
    std::fs::write(
        s.dir.path().join("broken.png"),
        b"\x89PNG\r\n\x1a\n not really",
    )
    .unwrap();
    drop_images(&mut s, &["sintel_0016.png", "broken.png"], 100.0);
    wait_for(&mut s.harness, "thumbnails", StudioApp::thumbnails_settled);
    s.harness
        .get_by_label_contains("error: cannot decode image");
    s.harness
        .get_by_label_contains("hint: the file may be damaged or not an image");
    assert_eq!(s.harness.state().problems().len(), 1);
}

#[test]
fn save_and_reopen_round_trips_with_relative_paths() {
    let mut s = with_three_keyframes();
    let path = s.dir.path().join("trip.json");
    assert!(s.harness.state_mut().save_as(&path));
    assert!(!s.harness.state().is_dirty());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"image\": \"sintel_0016.png\""), "{text}");
    let mut other = StudioApp::new(config(s.dir.path()), Settings::default());
    other.open(&path);
    assert_eq!(frames(&other), vec![0, 32, 64]);
    assert_eq!(other.settings().recent[0], path.canonicalize().unwrap());
}

fn has_adapter() -> bool {
    !wayfarer::doctor::wgpu_adapters().is_empty()
}

#[test]
fn snapshots_of_the_main_screens() {
    let mut s = studio_with((960.0, 600.0), has_adapter());
    studio_kit::drop_three(&mut s);
    let mut p = s.harness.state().project().clone();
    p.merge.policy = MergePolicy::Consolidate;
    p.mask.transition_frames = 2;
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    s.harness.step();
    s.harness.step();
    if !has_adapter() {
        common::skip("snapshots_of_the_main_screens", "no wgpu adapter");
        return;
    }
    wait_for(&mut s.harness, "the compute probe", |a| {
        a.compute_name().is_some()
    });
    s.harness.snapshot("studio_timeline_plan");
    s.harness.get_by_label("Mask of call 1").click();
    wait_for(&mut s.harness, "mask preview", |a| a.player_frames() > 0);
    s.harness.snapshot("studio_mask_preview");
}

#[test]
fn keyframe_context_menu_reorders_and_deletes() {
    let mut s = with_three_keyframes();
    let images = |a: &StudioApp| -> Vec<String> {
        a.project()
            .keyframes
            .iter()
            .map(|k| k.image.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    s.harness
        .get_by_label("Keyframe 1 at frame 0")
        .click_secondary();
    s.harness.step();
    s.harness.step();
    s.harness.get_by_label("Move image later").click();
    s.harness.step();
    s.harness.step();
    assert_eq!(
        images(s.harness.state()),
        vec!["sintel_0020.png", "sintel_0016.png", "sintel_0025.png"]
    );
    assert_eq!(frames(s.harness.state()), vec![0, 32, 64], "positions stay");
    s.harness
        .get_by_label("Keyframe 3 at frame 64")
        .click_secondary();
    s.harness.step();
    s.harness.step();
    s.harness.get_by_label("Delete keyframe").click();
    s.harness.step();
    s.harness.step();
    assert_eq!(frames(s.harness.state()), vec![0, 32]);
}

#[test]
fn a_structure_video_shows_its_crop_and_flow_preview() {
    let mut s = with_three_keyframes();
    // A 1024x436 clip panning 6 px a frame, encoded by Wayfarer.
    let src = wayfarer::media::load_image(&s.dir.path().join("sintel_0016.png")).unwrap();
    let clip = s.dir.path().join("structure.mp4");
    let mut enc = wayfarer::media::VideoEncoder::create(
        &clip,
        1024,
        436,
        16,
        &wayfarer::media::EncodeOptions::default(),
    )
    .unwrap();
    for i in 0..4 {
        use wayfarer::gpu::Compute;
        let shift = wayfarer::gpu::FlowField::uniform(1024, 436, 6.0 * i as f32, 0.0);
        enc.push(&wayfarer::gpu::CpuCompute.warp(&src, &shift, 1.0).unwrap())
            .unwrap();
    }
    enc.finish().unwrap();
    s.harness.get_by_label("Choose video…");
    s.harness.state_mut().set_structure_video(clip.clone());
    s.harness.step();
    wait_for(
        &mut s.harness,
        "structure previews",
        StudioApp::structure_preview_ready,
    );
    s.harness.get_by_label("Structure crop preview");
    s.harness.get_by_label("Structure flow preview");
    s.harness.get_by_label_contains("1024x436");
    assert_eq!(
        s.harness
            .state()
            .project()
            .structure_video
            .as_ref()
            .unwrap()
            .path,
        clip
    );
    // The strength slider edits the project.
    // Below the inspector's fold at this size: scrolled into view first (the scroll is
    // animated over a few frames), as a person would.
    s.harness.get_by_label("Remove").scroll_to_me();
    for _ in 0..20 {
        s.harness.step();
    }
    s.harness.get_by_label("Remove").click();
    s.harness.step();
    s.harness.step();
    assert!(s.harness.state().project().structure_video.is_none());
    s.harness.get_by_label_contains("compute:");
}

#[test]
fn a_newer_autosave_is_offered_and_restored() {
    let mut s = with_three_keyframes();
    let path = s.dir.path().join("trip.json");
    assert!(s.harness.state_mut().save_as(&path));
    // Unsaved work autosaved after the save.
    let mut newer = s.harness.state().project().clone();
    newer.segments[0].prompt = "autosaved prompt".into();
    std::thread::sleep(Duration::from_millis(20));
    let auto = wayfarer::ui::autosave_path(&config(s.dir.path()).autosave_dir, Some(&path));
    std::fs::write(&auto, newer.to_json_string().unwrap()).unwrap();
    s.harness.state_mut().open(&path);
    assert!(s.harness.state().has_restore_offer());
    s.harness.step();
    s.harness.step();
    s.harness
        .get_by_label_contains("autosave newer than this project");
    s.harness.get_by_label("Restore").click();
    s.harness.step();
    s.harness.step();
    let app = s.harness.state();
    assert_eq!(app.project().segments[0].prompt, "autosaved prompt");
    assert!(app.is_dirty(), "restored work is unsaved until saved");
    assert!(!app.has_restore_offer());
}

#[test]
fn a_failing_preflight_item_shows_its_suggestion() {
    let mut s = studio();
    std::fs::write(s.dir.path().join("broken.png"), b"").unwrap();
    drop_images(&mut s, &["sintel_0016.png", "broken.png"], 100.0);
    wait_for(&mut s.harness, "thumbnails", StudioApp::thumbnails_settled);
    s.harness.get_by_label("Check").click();
    s.harness.step();
    wait_for(&mut s.harness, "the pre-flight report", |a| {
        a.preflight_report().is_some()
    });
    s.harness.get_by_label_contains("ok keyframe 1 image");
    s.harness.get_by_label_contains("FAIL keyframe 2 image");
    // Once in the problems list (from the thumbnail), once under the failing check.
    let hints = s
        .harness
        .get_all_by_label_contains("hint: the file was not written completely")
        .count();
    assert_eq!(hints, 2);
    assert!(!s.harness.state().preflight_report().unwrap().passed());
}

#[test]
fn retries_of_an_out_of_memory_call_on_comfyui_are_listed() {
    let server = comfy_server::ComfyTestServer::start();
    server
        .shared
        .behaviour
        .oom_next
        .store(2, std::sync::atomic::Ordering::SeqCst);
    let settings = Settings {
        generator: wayfarer::generate::BackendConfig::comfyui(vec![server.url.clone()]),
        ..Settings::default()
    };
    let mut s = studio_with_settings((1280.0, 800.0), false, settings);
    drop_images(&mut s, &["sintel_0016.png", "sintel_0020.png"], 100.0);
    wait_for(&mut s.harness, "thumbnails", StudioApp::thumbnails_settled);
    let mut p = s.harness.state().project().clone();
    (p.width, p.height) = (256, 144);
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    s.harness.step();
    // The backend settings show the server.
    s.harness.get_by_label("Servers");
    studio_kit::click_render_and_wait(&mut s);
    // Each attempt, why it failed and what the next one changed.
    s.harness
        .get_by_label_contains("retry: call 1 attempt 2: ComfyUI");
    assert_eq!(
        s.harness
            .get_all_by_label_contains("out of GPU memory in KSampler")
            .count(),
        2,
        "both failed attempts are listed with the server's reason"
    );
    // In the retry line and in the note that the degraded call is not kept for resume.
    assert!(
        s.harness
            .get_all_by_label_contains("out of memory: steps 20 -> 10")
            .count()
            >= 1
    );
    s.harness.get_by_label_contains("not kept for resume");
    s.harness.get_by_label_contains("retry: call 1 attempt 3:");
    assert!(s.harness.get_all_by_label_contains("resolution").count() >= 1);
    assert_eq!(server.prompts(), 3);
}

#[test]
fn live_preview_plays_the_stream_as_it_is_made() {
    let mut s = studio();
    drop_images(&mut s, &["sintel_0016.png", "sintel_0020.png"], 100.0);
    wait_for(&mut s.harness, "thumbnails", StudioApp::thumbnails_settled);
    let mut p = s.harness.state().project().clone();
    (p.width, p.height) = (256, 144);
    p.keyframes[1].frame = 12;
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    s.harness.step();
    s.harness.get_by_label("Live preview").click();
    s.harness.step();
    assert!(s.harness.state().is_streaming());
    wait_for(&mut s.harness, "the stream", |a| !a.is_streaming());
    assert_eq!(s.harness.state().live_frames_shown(), 13);
    s.harness.get_by_label_contains("Live: frame 13 of 13");
    s.harness
        .get_by_label_contains("Live preview finished: 13 frames");
}

#[test]
fn a_single_image_project_with_a_length_plans_one_call() {
    let mut s = studio();
    drop_images(&mut s, &["sintel_0016.png"], 100.0);
    wait_for(&mut s.harness, "thumbnails", StudioApp::thumbnails_settled);
    let mut p = s.harness.state().project().clone();
    p.length = Some(33);
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    s.harness.step();
    s.harness.step();
    let plan = s.harness.state().plan().as_ref().unwrap();
    assert_eq!(plan.calls.len(), 1);
    assert_eq!(plan.total_frames, 33);
    s.harness.get_by_label_contains("Call 1:");
    s.harness.get_by_label_contains("frames 0 to 32");
    // The built-in generator refuses image-to-video with the alternative.
    settle(&mut s);
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Render")
        .click();
    s.harness.step();
    wait_for(&mut s.harness, "the render", |a| !a.is_rendering());
    let e = s.harness.state().render_error().unwrap();
    assert!(e.message.contains("does not support i2v"), "{e}");
    s.harness
        .get_by_label_contains("hint: add a second keyframe image to travel to");
}

#[test]
fn the_plan_follows_the_cost_law_measured_on_the_backend() {
    let mut s = studio();
    // Timings of a warm server whose calls grow quadratically, for the builtin backend.
    let store = wayfarer::render::CostStore::open(s.dir.path().join("costs.json"));
    let id = wayfarer::generate::backend_identity(&Default::default()).unwrap();
    let mp = 832.0 * 480.0 / 1e6;
    for frames in [17u32, 33, 49, 65] {
        let x = f64::from(frames) * mp;
        store.record(
            &id,
            wayfarer::plan::CostSample {
                frames,
                megapixels: mp,
                secs: 0.2 + 0.5 * x + 1.5 * x * x,
            },
        );
    }
    s.harness.state_mut().refresh_cost_law();
    studio_kit::drop_three(&mut s);
    wait_for(&mut s.harness, "cost law", StudioApp::costs_settled);
    s.harness.step();
    let app = s.harness.state();
    assert_eq!(
        app.project().merge.policy,
        MergePolicy::Auto,
        "new projects"
    );
    assert!(app.cost_model().is_some_and(|m| m.samples == 4));
    let plan = app.plan().as_ref().unwrap();
    assert_eq!(
        plan.calls.len(),
        2,
        "identical spans, but merging is slower here"
    );
    assert!(
        plan.boundaries[0]
            .reason
            .contains("calls grow quadratically on this backend"),
        "{}",
        plan.boundaries[0].reason
    );
    s.harness.get_by_label_contains("Call 2:");
}

/// A project opened by a relative path (`wayfarer examples/demo/demo.json`) finds its
/// images once, not under the project's folder twice.
#[test]
fn a_project_opened_by_a_relative_path_finds_its_images() {
    let mut s = studio();
    s.harness
        .state_mut()
        .open(Path::new("examples/demo/demo.json"));
    s.harness.step();
    for k in &s.harness.state().project().keyframes {
        assert!(k.image.is_absolute(), "{}", k.image.display());
        assert!(k.image.exists(), "{}", k.image.display());
    }
    settle(&mut s);
    s.harness.get_by_label("Check").click();
    s.harness.step();
    wait_for(&mut s.harness, "the pre-flight report", |a| {
        a.preflight_report().is_some()
    });
    for k in 0..3 {
        s.harness
            .get_by_label_contains(&format!("ok keyframe {} image", k + 1));
    }
}

#[test]
fn ctrl_i_opens_wayfarers_own_dialog_and_the_image_chosen_is_added() {
    let mut s = studio();
    let dir = s.dir.path().to_path_buf();
    std::fs::write(dir.join("notes.txt"), b"not an image").unwrap();
    s.harness.state_mut().use_builtin_dialogs(&dir);
    shortcut(&mut s, Modifiers::COMMAND, Key::I);
    assert!(s.harness.state().file_dialog_open());
    s.harness.get_by_label("Add images");
    // Only images are offered (and folders).
    assert!(s.harness.query_by_label("notes.txt").is_none());
    s.harness.get_by_label("sintel_0020.png").click();
    s.harness.step();
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Add")
        .click();
    s.harness.step();
    s.harness.step();
    assert!(!s.harness.state().file_dialog_open());
    let keyframes = &s.harness.state().project().keyframes;
    assert_eq!(keyframes.len(), 1);
    assert_eq!(keyframes[0].image, dir.join("sintel_0020.png"));
}

#[test]
fn escape_closes_the_dialog_and_changes_nothing() {
    let mut s = studio();
    let dir = s.dir.path().to_path_buf();
    s.harness.state_mut().use_builtin_dialogs(&dir);
    shortcut(&mut s, Modifiers::COMMAND, Key::I);
    assert!(s.harness.state().file_dialog_open());
    shortcut(&mut s, Modifiers::NONE, Key::Escape);
    assert!(!s.harness.state().file_dialog_open());
    assert!(s.harness.state().project().keyframes.is_empty());
}

#[test]
fn ctrl_shift_s_saves_under_the_name_typed_and_ctrl_o_opens_it_again() {
    let mut s = with_three_keyframes();
    let dir = s.dir.path().to_path_buf();
    s.harness.state_mut().use_builtin_dialogs(&dir);
    shortcut(&mut s, Modifiers::COMMAND | Modifiers::SHIFT, Key::S);
    s.harness.get_by_label("Save project as");
    s.harness.get_by_label("File name").focus();
    s.harness.step();
    s.harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    s.harness.get_by_label("File name").type_text("journey");
    s.harness.step();
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Save")
        .click();
    s.harness.step();
    s.harness.step();
    let saved = dir.join("journey.json");
    assert!(saved.exists(), "the extension is added to a bare name");
    s.harness.get_by_label_contains("Saved ");
    assert_eq!(s.harness.state().path(), Some(saved.as_path()));
    assert!(!s.harness.state().is_dirty());

    // Ctrl+O picks the saved project in the dialog.
    shortcut(&mut s, Modifiers::COMMAND, Key::O);
    s.harness.get_by_label("Open project");
    s.harness.get_by_label("journey.json").click();
    s.harness.step();
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Open")
        .click();
    s.harness.step();
    s.harness.step();
    assert!(!s.harness.state().file_dialog_open());
    assert_eq!(s.harness.state().path(), Some(saved.as_path()));
    assert_eq!(s.harness.state().project().keyframes.len(), 3);
}

#[test]
fn ctrl_r_renders_and_ctrl_e_exports_the_render_with_a_notice() {
    let mut s = with_three_keyframes();
    let dir = s.dir.path().to_path_buf();
    s.harness.state_mut().use_builtin_dialogs(&dir);
    let mut p = s.harness.state().project().clone();
    (p.width, p.height) = (128, 80);
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    s.harness.step();
    shortcut(&mut s, Modifiers::COMMAND, Key::R);
    assert!(s.harness.state().is_rendering());
    wait_for(&mut s.harness, "the render", |a| {
        !a.is_rendering() && a.last_output().is_some()
    });
    let rendered = s.harness.state().last_output().unwrap().to_path_buf();
    shortcut(&mut s, Modifiers::COMMAND, Key::E);
    s.harness.get_by_label("Export the render");
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Save")
        .click();
    s.harness.step();
    s.harness.step();
    let exported = dir.join("travel.mp4");
    assert_eq!(
        std::fs::read(&exported).unwrap(),
        std::fs::read(&rendered).unwrap()
    );
    let notice = s.harness.state().notice().unwrap().to_string();
    assert!(notice.contains("Exported"), "{notice}");
    s.harness.get_by_label_contains("Exported the render to");
    // Show in folder beside the notice and in the Render panel's last-render line.
    assert_eq!(s.harness.query_all_by_label("Show in folder").count(), 2);
    s.harness.get_by_label_contains("exported as travel.mp4");

    // In another format: the render is made again from its finished calls, in the
    // background, into a file of that format.
    s.harness
        .get_by_role_and_label(egui::Role::ComboBox, "as")
        .click();
    s.harness.step();
    s.harness.step();
    s.harness
        .get_by_label("ProRes 422 HQ MOV (for editing)")
        .click();
    s.harness.step();
    shortcut(&mut s, Modifiers::COMMAND, Key::E);
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Save")
        .click();
    s.harness.step();
    assert!(s.harness.state().is_rendering(), "the export runs");
    wait_for(&mut s.harness, "the export", |a| !a.is_rendering());
    assert!(
        s.harness.state().render_error().is_none(),
        "{:?}",
        s.harness.state().render_error()
    );
    let mov = dir.join("travel.mov");
    let frames = wayfarer::media::decode_all(&mov).unwrap();
    assert_eq!(
        frames.len(),
        wayfarer::media::decode_all(&rendered).unwrap().len()
    );
    assert_eq!(
        s.harness.state().last_output(),
        Some(rendered.as_path()),
        "the player keeps the render"
    );
    s.harness
        .get_by_label_contains("Exported the render as ProRes 422 HQ MOV (for editing) to");
}

/// Hints in the studio name its controls, not the command line's flags or the project
/// file's fields; segments are numbered from 1.
#[test]
fn hints_name_the_studios_controls() {
    let mut s = studio();
    s.harness.step();
    s.harness
        .get_by_label_contains("hint: drop images on the timeline, or use Edit > Add images…");
    assert!(s.harness.query_by_label_contains("\"length\"").is_none());
    let mut s = with_three_keyframes();
    s.harness.step();
    s.harness
        .get_by_label_contains("Segment 1: keyframe 1 to 2");
    assert!(s.harness.query_by_label_contains("Span").is_none());
}

/// Save As leaves no autosave behind under the old name, Discard removes the autosave of
/// the work discarded, and the window's title names the project with an unsaved marker.
#[test]
fn autosaves_go_with_save_as_and_discard_and_the_title_follows_the_project() {
    let mut s = with_three_keyframes();
    let cfg = config(s.dir.path());
    assert_eq!(s.harness.state().window_title(), "*untitled — Wayfarer");
    // An autosave of the untitled work, then Save As: it is gone.
    let untitled = wayfarer::ui::autosave_path(&cfg.autosave_dir, None);
    std::fs::create_dir_all(untitled.parent().unwrap()).unwrap();
    let text = s.harness.state().project().to_json_string().unwrap();
    std::fs::write(&untitled, &text).unwrap();
    let first = s.dir.path().join("first.json");
    assert!(s.harness.state_mut().save_as(&first));
    assert!(!untitled.exists(), "the untitled autosave is removed");
    assert_eq!(s.harness.state().window_title(), "first.json — Wayfarer");
    // Save As under a new name removes the old name's autosave too.
    let old = wayfarer::ui::autosave_path(&cfg.autosave_dir, Some(&first));
    std::fs::write(&old, &text).unwrap();
    let second = s.dir.path().join("second.json");
    assert!(s.harness.state_mut().save_as(&second));
    assert!(!old.exists(), "the old name's autosave is removed");
    // Unsaved work, an autosave of it, then New -> Discard: the autosave is gone.
    let mut p = s.harness.state().project().clone();
    p.segments[0].prompt = "work to discard".into();
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    s.harness.step();
    assert_eq!(s.harness.state().window_title(), "*second.json — Wayfarer");
    let auto = wayfarer::ui::autosave_path(&cfg.autosave_dir, Some(&second));
    std::fs::write(&auto, &text).unwrap();
    s.harness.get_by_label("File").click();
    s.harness.step();
    s.harness.step();
    s.harness.get_by_label("New").click();
    s.harness.step();
    s.harness.step();
    s.harness.get_by_label("Discard").click();
    s.harness.step();
    s.harness.step();
    assert!(!auto.exists(), "a discarded project's autosave is removed");
}

/// A fleet with one dead server: the render runs on the live one, and the status bar says
/// which server was left out and why.
#[test]
fn a_dead_server_in_a_fleet_is_a_warning_and_the_render_goes_on() {
    let server = comfy_server::ComfyTestServer::start();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let settings = Settings {
        generator: wayfarer::generate::BackendConfig::comfyui(vec![
            dead.clone(),
            server.url.clone(),
        ]),
        ..Settings::default()
    };
    let mut s = studio_with_settings((1280.0, 800.0), false, settings);
    studio_kit::render_two_keyframes(&mut s, (256, 144));
    assert!(
        s.harness.state().render_error().is_none(),
        "{:?}",
        s.harness.state().render_error()
    );
    assert!(server.prompts() >= 1);
    let warnings = s.harness.state().warnings().join("\n");
    assert!(
        warnings.contains(&format!("server {dead}")) && warnings.contains("left out"),
        "{warnings}"
    );
    settle(&mut s);
    s.harness.get_by_label_contains("this server is left out");
    // The pre-flight wait is a setting of the render panel.
    s.harness.get_by_label("Check wait");
}

/// A folder of finished calls that cannot be used (a file stands in its place): the render
/// is made, and the status bar says the cache does not work, where, and what to do.
#[test]
fn a_cache_that_does_not_work_is_shown_in_the_status_bar() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["sintel_0016.png", "sintel_0020.png", "sintel_0025.png"] {
        std::fs::copy(common::demo_image(name), dir.path().join(name)).unwrap();
    }
    let config = studio_kit::config(dir.path());
    std::fs::write(&config.call_cache_dir, "in the way").unwrap();
    let app = StudioApp::new(config, Settings::default());
    let harness = egui_kittest::Harness::builder()
        .with_size((1280.0, 800.0))
        .with_max_steps(64)
        .build_ui_state(|ui, app: &mut StudioApp| app.show(ui), app);
    let mut s = studio_kit::Studio { dir, harness };
    studio_kit::render_two_keyframes(&mut s, (128, 80));
    assert!(s.harness.state().render_error().is_none());
    let warnings = s.harness.state().warnings().to_vec();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("the cache of finished calls")
            && warnings[0].contains("there is a file where the folder should be"),
        "{warnings:?}"
    );
    settle(&mut s);
    s.harness
        .get_by_label_contains("Warning: the cache of finished calls");
}

/// A render whose calls drift in colour (the loopback server's drifting "model", colour
/// match off) is marked on the timeline, with the values on hover and a quality line in
/// the Render panel; choosing Lab in the panel's Colour match and rendering again clears
/// the marks.
#[test]
fn calls_that_drift_in_colour_are_marked_on_the_timeline() {
    use comfy_server::drift;
    let server = comfy_server::ComfyTestServer::start();
    server
        .shared
        .behaviour
        .drift
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let settings = Settings {
        generator: wayfarer::generate::BackendConfig::comfyui(vec![server.url.clone()]),
        ..Settings::default()
    };
    let mut s = studio_with_settings((1280.0, 800.0), false, settings);
    let names = drift::write_keyframes(s.dir.path(), 6);
    let paths: Vec<String> = names
        .iter()
        .map(|n| s.dir.path().join(n).display().to_string())
        .collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let json = common::project_json(&paths, &[0, 40, 80, 120, 160, 200], drift::SIZE, "chained")
        .replace(
            "\"structure_video\":null",
            "\"structure_video\":null,\"color_match\":{\"method\":\"off\"}",
        );
    let project = wayfarer::project::Project::from_json_str(&json).unwrap();
    s.harness
        .state_mut()
        .push_edit(Edit::Replace(Box::new(project)));
    s.harness.step();
    let render = |s: &mut studio_kit::Studio| {
        studio_kit::click_render_and_wait(s);
        settle(s);
    };
    render(&mut s);
    let marks = s
        .harness
        .query_all_by_label_contains("Colour mark: call")
        .count();
    assert!(marks >= 3, "{marks} calls marked");
    s.harness.get_by_label_contains("drifts in colour");
    // The mark carries its values (also shown on hover).
    s.harness
        .get_by_label_contains("Colour mark: call 5, colour drift");

    s.harness
        .get_by_role_and_label(egui::Role::ComboBox, "Colour match")
        .click();
    s.harness.step();
    s.harness.step();
    s.harness.get_by_label("Lab").click();
    s.harness.step();
    assert_eq!(
        s.harness.state().project().color_match.method,
        wayfarer::fidelity::ColorMethod::Lab
    );
    render(&mut s);
    assert_eq!(
        s.harness
            .query_all_by_label_contains("Colour mark: call")
            .count(),
        0
    );
    s.harness.get_by_label_contains("colour holds");
}
