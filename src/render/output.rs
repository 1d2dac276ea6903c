//! Output paths that would destroy the user's data are refused before anything is written:
//! a folder, a `.json` name, and any input of the project (keyframe images, the structure
//! video, the project file and its autosave), recognised by file identity.

use std::path::{Path, PathBuf};

use crate::error::{Result, UserError};
use crate::media::ExportFormat;
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
                format!("keyframe {}'s image", k + 1),
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

/// Whether `a` and `b` name the same existing file (a link, a `..` path or a hard link
/// included); `false` when either does not exist.
pub fn is_same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => same_file(&a, &b),
        _ => false,
    }
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

/// Refuses output paths that would destroy user data or cannot be written, or that do not
/// fit `format` (a ProRes file not named .mov; a PNG sequence over a file or over a folder
/// that holds more than an earlier PNG sequence).
pub(super) fn check_output_path(
    output: &Path,
    project_dir: &Path,
    project: &Project,
    format: ExportFormat,
) -> Result<()> {
    if output.as_os_str().is_empty() {
        return Err(UserError::input("output: empty path").hint("pass -o OUT.mp4"));
    }
    if format == ExportFormat::Png {
        return check_png_folder(output, project_dir, project);
    }
    if let Some(want) = format.extension()
        && want != "mp4"
        && !output
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case(want))
    {
        return Err(UserError::input(format!(
            "output {}: {} is written as a .{want} file",
            output.display(),
            format.label()
        ))
        .hint(format!(
            "name the output with .{want}, e.g. -o travel.{want}"
        )));
    }
    if output.is_dir() {
        return Err(
            UserError::input(format!("output {}: this is a folder", output.display()))
                .hint("give a file name, e.g. -o video.mp4"),
        );
    }
    refuse_special_output(output)?;
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

/// Checks the folder a PNG sequence goes to: new, empty, or an earlier PNG sequence (which
/// the render replaces whole); never a file, never a folder with other files in it.
fn check_png_folder(output: &Path, project_dir: &Path, project: &Project) -> Result<()> {
    if output.file_name().is_none() {
        return Err(UserError::input(format!(
            "output {}: give the name of a folder for the pictures",
            output.display()
        ))
        .hint("e.g. -o travel_frames"));
    }
    refuse_input_as_output(output, project, project_dir, None)?;
    let Ok(meta) = std::fs::symlink_metadata(output) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Err(UserError::input(format!(
            "output {}: this is a file; PNG pictures are written into a folder",
            output.display()
        ))
        .hint("give a new folder name, e.g. -o travel_frames"));
    }
    let entries = std::fs::read_dir(output).map_err(|e| UserError::io("reading", output, &e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let frame = name
            .to_str()
            .is_some_and(crate::media::encode::is_png_frame_name)
            && entry.file_type().is_ok_and(|t| t.is_file());
        if !frame {
            return Err(UserError::input(format!(
                "output {}: the folder holds {}, which is not a frame of an earlier render; \
                 Wayfarer replaces the whole folder",
                output.display(),
                name.to_string_lossy()
            ))
            .hint("give a new folder name, or empty the folder first"));
        }
    }
    Ok(())
}

/// A PNG sequence being written: a hidden folder next to the output, removed on every
/// failure; [`PartialFolder::publish`] puts it in the output's place (an earlier sequence
/// there is removed once the new one is in place).
pub struct PartialFolder {
    dir: tempfile::TempDir,
    /// A file inside it, locked while this process writes: a folder whose lock is free was
    /// left by a run that was killed, and the next render to the same output removes it.
    lock: std::fs::File,
    output: PathBuf,
}

/// The lock file inside a PNG sequence being written.
const FOLDER_LOCK: &str = ".wayfarer-writing";

/// Removes the folders of PNG sequences of `output` whose writer is gone: its lock is free,
/// or it has none and is more than a minute old (a run killed as it began).
fn sweep_stale_folders(output: &Path) {
    let prefix = partial_prefix(output);
    let Ok(entries) = std::fs::read_dir(folder_of(output)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        if !is_dir || !is_partial_name(&entry.file_name(), &prefix) {
            continue;
        }
        let stale = match std::fs::File::open(path.join(FOLDER_LOCK)) {
            Ok(lock) => try_lock(&lock),
            Err(_) => std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_mins(1)),
        };
        if stale {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

impl PartialFolder {
    /// Creates the hidden folder for `output` (after removing stale ones left by killed
    /// runs).
    pub fn begin(output: &Path) -> Result<Self> {
        sweep_stale_folders(output);
        let dir = tempfile::Builder::new()
            .prefix(&partial_prefix(output))
            .suffix(PARTIAL_SUFFIX)
            .tempdir_in(folder_of(output))
            .map_err(|e| UserError::io("writing next to", output, &e))?;
        let lock_path = dir.path().join(FOLDER_LOCK);
        let lock = std::fs::File::create(&lock_path)
            .map_err(|e| UserError::io("writing", &lock_path, &e))?;
        try_lock(&lock);
        Ok(Self {
            dir,
            lock,
            output: output.to_path_buf(),
        })
    }

    /// Where the pictures are written.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Moves the complete folder into the output's place.
    pub fn publish(self) -> Result<()> {
        let output = self.output;
        let _ = std::fs::remove_file(self.dir.path().join(FOLDER_LOCK));
        drop(self.lock);
        let new = self.dir.keep();
        let old = if output.exists() {
            let mut name = partial_prefix(&output);
            name.push(format!("old-{}", std::process::id()));
            let old = folder_of(&output).join(name);
            std::fs::rename(&output, &old).map_err(|e| UserError::io("replacing", &output, &e))?;
            Some(old)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(&new, &output) {
            if let Some(old) = &old {
                let _ = std::fs::rename(old, &output);
            }
            let _ = std::fs::remove_dir_all(&new);
            return Err(UserError::io("writing", &output, &e));
        }
        if let Some(old) = old {
            let _ = std::fs::remove_dir_all(old);
        }
        Ok(())
    }
}

/// A render's output being written: a file or a folder of pictures.
pub enum Partial {
    /// A video file.
    File(PartialOutput),
    /// A PNG sequence.
    Folder(PartialFolder),
}

impl Partial {
    /// Begins the output of `format` at `output`.
    pub fn begin(output: &Path, format: ExportFormat) -> Result<Self> {
        if format == ExportFormat::Png {
            PartialFolder::begin(output).map(Partial::Folder)
        } else {
            PartialOutput::begin(output).map(Partial::File)
        }
    }

    /// Where the writer writes.
    pub fn path(&self) -> &Path {
        match self {
            Partial::File(f) => f.path(),
            Partial::Folder(f) => f.path(),
        }
    }

    /// Puts the complete output in place.
    pub fn publish(self) -> Result<()> {
        match self {
            Partial::File(f) => f.publish(),
            Partial::Folder(f) => f.publish(),
        }
    }
}

/// Refuses an existing output that is not a regular file (a FIFO, a device such as
/// `/dev/null`, a socket): a finished video is published by renaming a complete file over
/// the output, which would replace such a node with a plain file.
pub fn refuse_special_output(output: &Path) -> Result<()> {
    let Ok(meta) = std::fs::metadata(output) else {
        return Ok(());
    };
    if meta.is_file() || meta.is_dir() {
        return Ok(());
    }
    Err(UserError::input(format!(
        "output {}: this is not a regular file ({}); Wayfarer writes a finished video by \
         replacing the output file, which would replace this with a plain file",
        output.display(),
        special_kind(&meta)
    ))
    .hint("give the path of a regular .mp4 file"))
}

#[cfg(unix)]
fn special_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_meta: &std::fs::Metadata) -> &'static str {
    "a special file"
}

/// A video being written: a uniquely named temporary file next to the output, locked while
/// this process lives. Dropping it (an error, a cancel, a panic unwinding) removes the file;
/// [`PartialOutput::publish`] renames it over the output once it is complete. Two renders
/// to one output each write their own file, and the last to finish wins with a whole video.
///
/// A process killed outright leaves its file behind, unlocked: the next `begin` for the same
/// output removes every such file ([`sweep_stale`]).
pub struct PartialOutput {
    file: tempfile::NamedTempFile,
    output: PathBuf,
}

/// The name prefix of partial outputs of `output`: `.NAME.wayfarer-`.
fn partial_prefix(output: &Path) -> std::ffi::OsString {
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(output.file_name().unwrap_or_default());
    prefix.push(".wayfarer-");
    prefix
}

const PARTIAL_SUFFIX: &str = ".part";

/// The folder an output lives in (`.` for a bare file name).
fn folder_of(output: &Path) -> PathBuf {
    match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl PartialOutput {
    /// Creates the temporary file for `output` (after removing stale ones left by killed
    /// runs), refusing outputs that are folders or special files.
    pub fn begin(output: &Path) -> Result<Self> {
        if output.file_name().is_none() || output.is_dir() {
            return Err(
                UserError::input(format!("output {}: this is a folder", output.display()))
                    .hint("give a file name, e.g. video.mp4"),
            );
        }
        refuse_special_output(output)?;
        sweep_stale(output);
        let folder = folder_of(output);
        let prefix = partial_prefix(output);
        for _ in 0..8 {
            let file = crate::project::file::replacement_builder(output, &prefix, PARTIAL_SUFFIX)
                .tempfile_in(&folder)
                .map_err(|e| UserError::io("writing next to", output, &e))?;
            // A sweeper may have removed the file between its creation and the lock; then
            // the lock is on an unlinked file and a new one is made.
            if try_lock(file.as_file()) && still_named(&file) {
                return Ok(Self {
                    file,
                    output: output.to_path_buf(),
                });
            }
        }
        Err(UserError::io(
            "writing next to",
            output,
            &std::io::Error::other("could not create and lock a temporary file"),
        ))
    }

    /// Where the encoder writes.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Renames the complete file over the output and syncs the folder.
    pub fn publish(self) -> Result<()> {
        let output = self.output.clone();
        self.file.as_file().sync_all().ok();
        self.file
            .persist(&output)
            .map_err(|e| UserError::io("writing", &output, &e.error))?;
        if let Ok(dir) = std::fs::File::open(folder_of(&output)) {
            // Persist the rename; some file systems do not support syncing a folder.
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// Removes partial outputs of `output` whose writer is gone (the lock is free): what a run
/// killed outright left behind. Files of runs still going are left alone.
pub fn sweep_stale(output: &Path) {
    let prefix = partial_prefix(output);
    let Ok(entries) = std::fs::read_dir(folder_of(output)) else {
        return;
    };
    for entry in entries.flatten() {
        if is_partial_name(&entry.file_name(), &prefix) {
            remove_if_unlocked(&entry.path());
        }
    }
}

#[cfg(unix)]
fn is_partial_name(name: &std::ffi::OsStr, prefix: &std::ffi::OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let bytes = name.as_bytes();
    bytes.starts_with(prefix.as_bytes()) && bytes.ends_with(PARTIAL_SUFFIX.as_bytes())
}

#[cfg(not(unix))]
fn is_partial_name(name: &std::ffi::OsStr, prefix: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with(&*prefix.to_string_lossy()) && name.ends_with(PARTIAL_SUFFIX)
}

fn remove_if_unlocked(path: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_file() {
        return;
    }
    if let Ok(file) = std::fs::OpenOptions::new().read(true).open(path)
        && try_lock(&file)
    {
        let _ = std::fs::remove_file(path);
    }
}

/// Takes an exclusive lock on `file` without waiting; false when another process holds it.
#[cfg(unix)]
fn try_lock(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on an open descriptor owned by `file`; no memory is shared.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_lock(_file: &std::fs::File) -> bool {
    true
}

/// Whether the temporary file's path still names the file this process holds.
#[cfg(unix)]
fn still_named(file: &tempfile::NamedTempFile) -> bool {
    match (file.as_file().metadata(), std::fs::metadata(file.path())) {
        (Ok(held), Ok(named)) => same_file(&held, &named),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_named(_file: &tempfile::NamedTempFile) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_folder_left_by_a_killed_run_is_swept_and_a_live_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("frames");
        let live = PartialFolder::begin(&out).unwrap();
        std::fs::write(live.path().join("frame_00001.png"), b"png").unwrap();
        // A killed run: its folder and its lock file, no lock held.
        let mut name = partial_prefix(&out);
        name.push("killed.part");
        let killed = dir.path().join(name);
        std::fs::create_dir(&killed).unwrap();
        std::fs::write(killed.join(FOLDER_LOCK), b"").unwrap();
        std::fs::write(killed.join("frame_00001.png"), b"png").unwrap();
        let other = PartialFolder::begin(&out).unwrap();
        assert!(!killed.exists(), "the killed run's folder is swept");
        assert!(
            live.path().join("frame_00001.png").exists(),
            "a live one is kept"
        );
        drop(other);
        live.publish().unwrap();
        let names: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            names,
            ["frame_00001.png"],
            "only the pictures are published"
        );
    }

    #[test]
    fn partial_outputs_are_unique_removed_on_drop_and_published_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("clip.mp4");
        let a = PartialOutput::begin(&out).unwrap();
        let b = PartialOutput::begin(&out).unwrap();
        assert_ne!(a.path(), b.path());
        // A live partial output is not swept by another run.
        sweep_stale(&out);
        assert!(a.path().exists() && b.path().exists());
        std::fs::write(a.path(), b"whole").unwrap();
        let b_path = b.path().to_path_buf();
        drop(b);
        assert!(!b_path.exists());
        a.publish().unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"whole");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_published_video_gets_ordinary_permissions_or_keeps_the_old_ones() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("clip.mp4");
        PartialOutput::begin(&out).unwrap().publish().unwrap();
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        // What File::create gives under the process's umask (not a temp file's 0600).
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).unwrap();
        let expected = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, expected);
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
        PartialOutput::begin(&out).unwrap().publish().unwrap();
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn a_stale_partial_output_is_swept_and_a_foreign_file_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("clip.mp4");
        let stale = dir.path().join(".clip.mp4.wayfarer-abc123.part");
        let foreign = dir.path().join("clip.mp4.tmp");
        std::fs::write(&stale, b"half").unwrap();
        std::fs::write(&foreign, b"mine").unwrap();
        let p = PartialOutput::begin(&out).unwrap();
        assert!(!stale.exists());
        assert_eq!(std::fs::read(&foreign).unwrap(), b"mine");
        drop(p);
    }

    #[cfg(unix)]
    #[test]
    fn special_outputs_are_refused() {
        let err = PartialOutput::begin(Path::new("/dev/null")).err().unwrap();
        assert!(err.message.contains("a device"), "{}", err.message);
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.mp4");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let err = PartialOutput::begin(&fifo).err().unwrap();
        assert!(err.message.contains("named pipe"), "{}", err.message);
        let kind = std::fs::metadata(&fifo).unwrap().file_type();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind));
    }
}
