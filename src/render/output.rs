//! Output paths that would destroy the user's data are refused before anything is written:
//! a folder, a `.json` name, and any input of the project (keyframe images, the structure
//! video, the project file and its autosave), recognised by file identity.

use std::path::{Path, PathBuf};

use crate::error::{Result, UserError};
use crate::project::Project;

/// Refuses `output` when it is one of the project's inputs: a keyframe image, the structure
/// video, the project file `project_file` or its autosave (`PROJECT.json.autosave`). The
/// test is file identity (device and inode on Unix), so a symlink, a `..` path or a hard
/// link to an input is refused too. An output that does not exist yet is no input.
pub fn refuse_input_as_output(
    output: &Path,
    project: &Project,
    project_dir: &Path,
    project_file: Option<&Path>,
) -> Result<()> {
    let Ok(out) = std::fs::metadata(output) else {
        return Ok(());
    };
    let mut inputs: Vec<(String, PathBuf)> = (0..project.keyframes.len())
        .map(|k| {
            (
                format!("keyframes[{k}].image"),
                project.image_path(project_dir, k),
            )
        })
        .collect();
    if let Some(sv) = &project.structure_video {
        inputs.push(("the structure video".into(), project_dir.join(&sv.path)));
    }
    if let Some(file) = project_file {
        inputs.push(("the project file".into(), file.to_path_buf()));
        let mut autosave = file.as_os_str().to_os_string();
        autosave.push(".autosave");
        inputs.push(("the project's autosave".into(), PathBuf::from(autosave)));
    }
    for (what, path) in inputs {
        if let Ok(input) = std::fs::metadata(&path)
            && same_file(&out, &input)
        {
            return Err(UserError::input(format!(
                "output {}: this is {what} ({}); writing the video there would destroy it",
                output.display(),
                path.display()
            ))
            .hint("choose another output file"));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_a: &std::fs::Metadata, _b: &std::fs::Metadata) -> bool {
    false
}

/// Refuses output paths that would destroy user data or cannot be written.
pub(super) fn check_output_path(
    output: &Path,
    project_dir: &Path,
    project: &Project,
) -> Result<()> {
    if output.as_os_str().is_empty() {
        return Err(UserError::input("output: empty path").hint("pass -o OUT.mp4"));
    }
    if output.is_dir() {
        return Err(
            UserError::input(format!("output {}: this is a folder", output.display()))
                .hint("give a file name, e.g. -o video.mp4"),
        );
    }
    refuse_input_as_output(output, project, project_dir, None)?;
    if let Some(ext) = output.extension().and_then(|e| e.to_str())
        && ext.eq_ignore_ascii_case("json")
    {
        return Err(UserError::input(format!(
            "output {}: refusing to write a video over a .json file (a project?)",
            output.display()
        ))
        .hint("use an .mp4 name"));
    }
    Ok(())
}
