//! The studio as an editor: the ruler seeks, zoom works over thumbnails, the plan follows a
//! drag, added images come into view, a keyframe's image can be replaced and a missing one
//! recovers, an outdated render is marked, the live preview plays in the player, menus and
//! shortcuts send the same commands, and the desktop's dialog programs get the right
//! questions.
#![expect(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

pub mod common;
pub mod studio_kit;

use std::time::Duration;

use egui::{Key, Modifiers, Pos2};
use egui_kittest::kittest::{By, Queryable};
use studio_kit::{Studio, settle, shortcut, studio, wait_for, with_three_keyframes};
use wayfarer::project::edit::Edit;
use wayfarer::ui::StudioApp;
use wayfarer::ui::files::{FilePurpose, dialog_program_args};

/// Shrinks the project so renders take a moment.
fn small(s: &mut Studio) {
    let mut p = s.harness.state().project().clone();
    (p.width, p.height) = (128, 80);
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    s.harness.step();
}

/// A press and release of the primary button at `pos` (a click where no widget's centre is).
fn click_at(s: &mut Studio, pos: Pos2) {
    s.harness.hover_at(pos);
    s.harness.step();
    s.harness.drag_at(pos);
    s.harness.step();
    s.harness.drop_at(pos);
    s.harness.step();
    s.harness.step();
}

/// Zooms the timeline by `factor` with the pointer over the widget labelled `label`.
fn zoom_over(s: &mut Studio, label: &str, factor: f32) {
    let at = s.harness.get_by_label(label).rect().center();
    s.harness.hover_at(at);
    s.harness.step();
    s.harness.event(egui::Event::Zoom(factor));
    settle(s);
}

fn render(s: &mut Studio) {
    small(s);
    shortcut(s, Modifiers::COMMAND, Key::R);
    assert!(s.harness.state().is_rendering());
    wait_for(&mut s.harness, "the render", |a| {
        !a.is_rendering() && a.player_frames() > 0
    });
}

#[test]
fn the_ruler_seeks_and_an_edit_marks_the_render_outdated() {
    let mut s = with_three_keyframes();
    render(&mut s);
    assert_eq!(s.harness.state().player_position(), Some(0));
    let frames = s.harness.state().plan().as_ref().unwrap().total_frames;
    s.harness
        .get_by_label_contains(&format!("Last render: {frames} frames"));
    s.harness.get_by_label_contains("not exported yet");
    assert!(s.harness.query_by_label("outdated").is_none());

    let ruler = s.harness.get_by_label("Ruler").rect();
    let x = s.harness.state().time_map().frame_to_x(40.0) as f32;
    click_at(&mut s, Pos2::new(x, ruler.center().y));
    assert_eq!(s.harness.state().player_position(), Some(40));

    let mut p = s.harness.state().project().clone();
    p.segments[0].prompt = "a different journey".into();
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    settle(&mut s);
    assert!(s.harness.state().render_is_outdated());
    s.harness.get_by_label("outdated");
    s.harness
        .get_by_label_contains("The project changed since this render");
}

#[test]
fn zoom_works_over_a_thumbnail_and_home_fits_again() {
    let mut s = with_three_keyframes();
    s.harness.state_mut().fit_timeline();
    settle(&mut s);
    let fitted = s.harness.state().time_map().px_per_frame;
    zoom_over(&mut s, "Keyframe 2 at frame 32", 2.0);
    let zoomed = s.harness.state().time_map().px_per_frame;
    assert!(zoomed > fitted * 1.5, "{fitted} -> {zoomed}");
    // Home fits the project into view again.
    s.harness.hover_at(Pos2::new(5.0, 5.0));
    shortcut(&mut s, Modifiers::NONE, Key::Home);
    let fitted_again = s.harness.state().time_map().px_per_frame;
    assert!(
        (fitted_again - fitted).abs() < 1e-6,
        "{fitted} vs {fitted_again}"
    );
}

#[test]
fn the_call_bars_follow_a_drag_and_the_drop_lands_where_it_said() {
    let mut s = with_three_keyframes();
    s.harness
        .get_by_label_contains("Call 1: segment 1, frames 0 to 32");
    let target = studio_kit::hold_keyframe_over(&mut s, "Keyframe 2 at frame 32", 42.0);
    s.harness.step();
    // Still held: the bars already show the plan of the drop (0 to 42 is 43 frames, not a
    // Wan length; it snaps to 44).
    s.harness
        .get_by_label_contains("Call 1: segment 1, frames 0 to 44");
    s.harness.drop_at(target);
    s.harness.step();
    s.harness.step();
    assert_eq!(s.harness.state().project().keyframes[1].frame, 44);
    assert_eq!(s.harness.state().plan().as_ref().unwrap().positions[1], 44);
}

#[test]
fn images_added_after_the_last_keyframe_come_into_view() {
    let mut s = with_three_keyframes();
    let dir = s.dir.path().to_path_buf();
    s.harness.state_mut().use_builtin_dialogs(&dir);
    // Zoomed in on the start: the end of the project is out of view.
    zoom_over(&mut s, "Keyframe 1 at frame 0", 4.0);
    shortcut(&mut s, Modifiers::COMMAND, Key::I);
    s.harness.get_by_label("sintel_0025.png").click();
    s.harness.step();
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Add")
        .click();
    settle(&mut s);
    let last = s.harness.state().project().keyframes.last().unwrap().frame;
    assert_eq!(s.harness.state().project().keyframes.len(), 4);
    let timeline = s.harness.get_by_label("Timeline").rect();
    let x = s.harness.state().time_map().frame_to_x(f64::from(last)) as f32;
    assert!(
        x >= timeline.left() && x <= timeline.right(),
        "the new keyframe at frame {last} is drawn at x {x}, outside {timeline:?}"
    );
    s.harness
        .get_by_label(&format!("Keyframe 4 at frame {last}"));
}

#[test]
fn a_keyframes_image_is_replaced_from_its_menu() {
    let mut s = with_three_keyframes();
    let dir = s.dir.path().to_path_buf();
    s.harness.state_mut().use_builtin_dialogs(&dir);
    s.harness
        .get_by_label("Keyframe 2 at frame 32")
        .click_secondary();
    s.harness.step();
    s.harness.step();
    s.harness.get_by_label("Replace image…").click();
    settle(&mut s);
    s.harness.get_by_label("Replace image");
    s.harness.get_by_label("sintel_0016.png").click();
    s.harness.step();
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Open")
        .click();
    settle(&mut s);
    let keyframes = &s.harness.state().project().keyframes;
    assert_eq!(keyframes[1].image, dir.join("sintel_0016.png"));
    assert_eq!(keyframes[1].frame, 32, "the position stays");
    // Undo gives the old image back.
    shortcut(&mut s, Modifiers::COMMAND, Key::Z);
    assert_eq!(
        s.harness.state().project().keyframes[1].image,
        dir.join("sintel_0020.png")
    );
}

#[test]
fn a_missing_image_recovers_when_the_file_comes_back() {
    let mut s = with_three_keyframes();
    let image = s.dir.path().join("sintel_0020.png");
    let aside = s.dir.path().join("elsewhere.bin");
    assert_eq!(s.harness.state().thumbnail_shown(1), Some(true));
    std::fs::rename(&image, &aside).unwrap();
    wait_for(&mut s.harness, "the missing file to show", |a| {
        a.thumbnail_shown(1) == Some(false)
    });
    assert!(!s.harness.state().problems().is_empty());
    std::fs::rename(&aside, &image).unwrap();
    wait_for(&mut s.harness, "the restored file to show", |a| {
        a.thumbnail_shown(1) == Some(true)
    });
    assert!(
        s.harness.state().problems().is_empty(),
        "the stale error goes: {:?}",
        s.harness.state().problems()
    );
}

#[test]
fn the_live_preview_plays_in_the_player_with_the_renders_frame_count() {
    let mut s = studio();
    studio_kit::drop_images(&mut s, &["sintel_0016.png", "sintel_0020.png"], 100.0);
    wait_for(&mut s.harness, "thumbnails", StudioApp::thumbnails_settled);
    let mut p = s.harness.state().project().clone();
    (p.width, p.height) = (128, 80);
    // 0 to 14 is 15 frames, not a Wan length: the plan moves the keyframe.
    p.keyframes[1].frame = 14;
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    settle(&mut s);
    let planned = s.harness.state().plan().as_ref().unwrap().total_frames;
    assert_ne!(planned, 15, "the keyframe was moved by the plan");
    s.harness.get_by_label("Live preview").click();
    s.harness.step();
    assert!(s.harness.state().is_streaming());
    s.harness.step();
    s.harness.get_by_label_contains("showing the live preview");
    wait_for(&mut s.harness, "the stream", |a| !a.is_streaming());
    assert_eq!(s.harness.state().live_frames_shown(), planned);
    s.harness
        .get_by_label_contains(&format!("Live: frame {planned} of {planned}"));
}

#[test]
fn menus_send_the_same_commands_as_the_shortcuts() {
    let mut s = with_three_keyframes();
    s.harness.state_mut().fit_timeline();
    settle(&mut s);
    let fitted = s.harness.state().time_map().px_per_frame;
    zoom_over(&mut s, "Keyframe 2 at frame 32", 3.0);
    assert!(s.harness.state().time_map().px_per_frame > fitted * 1.5);
    // View > Fit timeline does what Home does.
    s.harness.get_by_label("View").click();
    settle(&mut s);
    s.harness.get_by_label("Fit timeline Home").click();
    settle(&mut s);
    assert!((s.harness.state().time_map().px_per_frame - fitted).abs() < 1e-6);
    // Edit > Delete keyframe does what Delete does, on the selected keyframe.
    s.harness.get_by_label("Keyframe 3 at frame 64").click();
    settle(&mut s);
    s.harness.get_by_label("Edit").click();
    settle(&mut s);
    s.harness.get_by_label("Delete keyframe Delete").click();
    settle(&mut s);
    assert_eq!(s.harness.state().project().keyframes.len(), 2);
    shortcut(&mut s, Modifiers::COMMAND, Key::Z);
    assert_eq!(s.harness.state().project().keyframes.len(), 3);
    shortcut(&mut s, Modifiers::COMMAND, Key::Y);
    assert_eq!(s.harness.state().project().keyframes.len(), 2);
    shortcut(&mut s, Modifiers::COMMAND, Key::Z);
    // Delete on the selected keyframe.
    s.harness.get_by_label("Keyframe 2 at frame 32").click();
    settle(&mut s);
    s.harness.hover_at(Pos2::new(5.0, 5.0));
    shortcut(&mut s, Modifiers::NONE, Key::Delete);
    assert_eq!(s.harness.state().project().keyframes.len(), 2);
    // Space plays and pauses the render.
    render(&mut s);
    shortcut(&mut s, Modifiers::NONE, Key::Space);
    std::thread::sleep(Duration::from_millis(400));
    s.harness.step();
    assert!(
        s.harness.state().player_position().unwrap() > 0,
        "it played"
    );
}

#[test]
fn ctrl_e_with_nothing_rendered_says_so() {
    let mut s = with_three_keyframes();
    shortcut(&mut s, Modifiers::COMMAND, Key::E);
    assert!(!s.harness.state().file_dialog_open());
    let notice = s.harness.state().notice().unwrap().to_string();
    assert!(notice.contains("render first"), "{notice}");
}

#[test]
fn the_desktops_dialog_programs_are_asked_the_right_question() {
    let dir = std::path::Path::new("/home/someone/trips");
    let images = dialog_program_args("zenity", &FilePurpose::AddImages { at_frame: 0 }, dir, "");
    assert!(images.contains(&"--file-selection".to_string()));
    assert!(images.contains(&"--multiple".to_string()));
    assert!(
        images
            .iter()
            .any(|a| a.starts_with("--file-filter=Images |") && a.contains("*.png"))
    );
    assert!(images.contains(&"--filename=/home/someone/trips/".to_string()));
    let save = dialog_program_args(
        "zenity",
        &FilePurpose::ExportVideo(wayfarer::media::ExportFormat::H264),
        dir,
        "travel.mp4",
    );
    assert!(save.contains(&"--save".to_string()));
    assert!(save.contains(&"--filename=/home/someone/trips/travel.mp4".to_string()));
    let open = dialog_program_args("kdialog", &FilePurpose::OpenProject, dir, "");
    assert_eq!(open[2], "--getopenfilename");
    assert!(open.contains(&"*.json|Wayfarer project".to_string()));
    assert!(!open.contains(&"--multiple".to_string()));
}

#[test]
fn opening_another_project_keeps_its_own_prompts() {
    let mut s = with_three_keyframes();
    let dir = s.dir.path().to_path_buf();
    // The inspector shows (and holds the text of) the first project's prompt.
    let mut p = s.harness.state().project().clone();
    p.segments[0].prompt = "first project".into();
    s.harness
        .state_mut()
        .push_edit(Edit::Replace(Box::new(p.clone())));
    settle(&mut s);
    s.harness.get_by_label("Prompt");
    p.segments[0].prompt = "second project".into();
    let second = dir.join("second.json");
    std::fs::write(&second, p.to_json_string().unwrap()).unwrap();
    assert!(s.harness.state_mut().save_as(&dir.join("first.json")));
    settle(&mut s);
    s.harness.state_mut().use_builtin_dialogs(&dir);
    shortcut(&mut s, Modifiers::COMMAND, Key::O);
    s.harness.get_by_label("second.json").click();
    s.harness.step();
    s.harness
        .get_by_role_and_label(egui::Role::Button, "Open")
        .click();
    settle(&mut s);
    let app = s.harness.state();
    assert_eq!(app.path(), Some(second.as_path()));
    assert_eq!(app.project().segments[0].prompt, "second project");
    assert!(!app.is_dirty(), "opening changes nothing");
}

#[test]
fn the_inspector_says_why_identical_segments_are_not_merged_and_what_merging_saves() {
    let mut s = with_three_keyframes();
    // Merging is off (with_three_keyframes): the reason, and what Auto would save.
    s.harness
        .get_by_label_contains("identical to the next segment, not merged: merging is off");
    s.harness
        .get_by_label_contains("Merge set to Auto would render 1 call instead of 2");
    // Too long for one call: the reason is the cap.
    let mut p = s.harness.state().project().clone();
    p.merge.policy = wayfarer::project::MergePolicy::Consolidate;
    p.keyframes[1].frame = 60;
    p.keyframes[2].frame = 120;
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    settle(&mut s);
    s.harness.get_by_label_contains("over the cap of 81");
    assert!(
        s.harness
            .query_by_label_contains("Merge set to Auto")
            .is_none()
    );
}

#[test]
fn at_1024_by_700_nothing_wraps_and_render_stays_reachable() {
    let mut s = studio_kit::studio_with((1024.0, 700.0), false);
    studio_kit::drop_three(&mut s);
    settle(&mut s);
    let window = egui::Rect::from_min_size(Pos2::ZERO, egui::vec2(1024.0, 700.0));
    // The settings bar is one line.
    let model = s.harness.get_by_label("Model").rect();
    let transition = s.harness.get_by_label("Transition").rect();
    assert!(
        (model.center().y - transition.center().y).abs() < 2.0,
        "{model:?} vs {transition:?}"
    );
    for label in [
        "Render",
        "Check",
        "Export…",
        "Live preview",
        "Fit",
        "Timeline",
    ] {
        let rect = s
            .harness
            .get_by_role_and_label(
                if label == "Timeline" {
                    egui::Role::Canvas
                } else {
                    egui::Role::Button
                },
                label,
            )
            .rect();
        assert!(window.contains_rect(rect), "{label} at {rect:?}");
    }
    // The legend says what the mask colours mean.
    for words in [
        "keyframe (kept)",
        "context (kept)",
        "transition",
        "generated",
    ] {
        s.harness.get_by_label(words);
    }
    // Nothing reads like code: no ranges, no call 0, no field paths.
    for code in [
        "..=",
        "call 0",
        "keyframes[",
        "1 calls",
        "/1 fps",
        "WAYFARER_",
    ] {
        let shown = s
            .harness
            .query_all(By::new().include_labels().predicate(move |n| {
                n.label().is_some_and(|l| l.contains(code))
                    || n.value().is_some_and(|v| v.contains(code))
            }))
            .count();
        assert_eq!(shown, 0, "{code:?} is shown");
    }
}

#[test]
fn ctrl_s_saves_to_the_projects_file_and_backslash_fits() {
    let mut s = with_three_keyframes();
    let path = s.dir.path().join("trip.json");
    assert!(s.harness.state_mut().save_as(&path));
    let mut p = s.harness.state().project().clone();
    p.segments[0].prompt = "saved with ctrl+s".into();
    s.harness.state_mut().push_edit(Edit::Replace(Box::new(p)));
    settle(&mut s);
    assert!(s.harness.state().is_dirty());
    s.harness.hover_at(Pos2::new(5.0, 5.0));
    shortcut(&mut s, Modifiers::COMMAND, Key::S);
    assert!(!s.harness.state().is_dirty());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("saved with ctrl+s"), "{text}");
    // Backslash fits the timeline like Home.
    s.harness.state_mut().fit_timeline();
    settle(&mut s);
    let fitted = s.harness.state().time_map().px_per_frame;
    zoom_over(&mut s, "Keyframe 2 at frame 32", 2.5);
    assert!(s.harness.state().time_map().px_per_frame > fitted * 1.5);
    s.harness.hover_at(Pos2::new(5.0, 5.0));
    shortcut(&mut s, Modifiers::NONE, Key::Backslash);
    assert!((s.harness.state().time_map().px_per_frame - fitted).abs() < 1e-6);
}

/// A project file with a typo'd field opens (the field ignored), and the status bar says
/// which field, the name it was probably meant to be, and that saving leaves it out; the
/// warning goes when dismissed.
#[test]
fn opening_a_file_with_a_typo_field_warns() {
    let mut s = with_three_keyframes();
    let dir = s.dir.path().to_path_buf();
    let text = s.harness.state().project().to_json_string().unwrap();
    let typo = dir.join("typo.json");
    std::fs::write(&typo, text.replacen('{', "{\n  \"overlapp\": 4,", 1)).unwrap();
    s.harness.state_mut().open(&typo);
    settle(&mut s);
    assert_eq!(s.harness.state().path(), Some(typo.as_path()));
    assert_eq!(s.harness.state().warnings().len(), 1);
    s.harness.get_by_label_contains(
        "Warning: unknown field `overlapp` in the project — did you mean `overlap`?",
    );
    s.harness
        .get_by_label_contains("Saving the project leaves it out.");
    s.harness.get_by_label("Dismiss warnings").click();
    settle(&mut s);
    assert!(s.harness.query_by_label_contains("unknown field").is_none());
}
