//! Loading and atomic saving of project files.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Project;
use crate::error::{Result, UserError};

/// Largest project file accepted (a project is a small JSON document).
const MAX_PROJECT_BYTES: u64 = 64 * 1024 * 1024;

/// Reads, migrates and validates the project at `path` (fields it does not know are
/// ignored; [`load_warn`] says which).
pub fn load(path: &Path) -> Result<Project> {
    load_warn(path).map(|(project, _)| project)
}

/// [`load`], with a warning for every field of the file that a project does not have.
pub fn load_warn(path: &Path) -> Result<(Project, Vec<String>)> {
    let meta = fs::metadata(path).map_err(|e| UserError::io("reading project", path, &e))?;
    if meta.is_dir() {
        return Err(UserError::input(format!(
            "reading project {}: this is a folder, not a project file",
            path.display()
        ))
        .hint("give the path of the project's .json file"));
    }
    if !meta.is_file() {
        // A pipe with no writer would block forever; a device may never end.
        return Err(UserError::input(format!(
            "reading project {}: this is a special file (a pipe or a device), not a project file",
            path.display()
        ))
        .hint("save the project to a regular .json file and give its path"));
    }
    let too_large = || {
        UserError::input(format!(
            "reading project {}: more than {} MiB is too large for a project file (the wrong file?)",
            path.display(),
            MAX_PROJECT_BYTES >> 20
        ))
        .hint("give the path of the project's .json file")
    };
    if meta.len() > MAX_PROJECT_BYTES {
        return Err(too_large());
    }
    // Read with a hard cap: the size on record is not trusted (a file may grow meanwhile).
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| {
            use std::io::Read;
            f.take(MAX_PROJECT_BYTES + 1).read_to_end(&mut bytes)
        })
        .map_err(|e| UserError::io("reading project", path, &e))?;
    if bytes.len() as u64 > MAX_PROJECT_BYTES {
        return Err(too_large());
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        UserError::input(format!(
            "reading project {}: not UTF-8 text",
            path.display()
        ))
        .hint("a project file is JSON text; give the path of the project's .json file")
    })?;
    Project::from_json_str_warn(&text).map_err(|e| e.context(path.display()))
}

/// The folder that image paths of the project at `path` are relative to.
pub fn project_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Saves `project` to `path` atomically: writes `path.tmp`, syncs it, then renames it over
/// `path`, so the previous file stays intact if anything fails.
pub fn save(project: &Project, path: &Path) -> Result<()> {
    project.validate()?;
    let text = project.to_json_string()?;
    write_atomic(path, text.as_bytes())
}

/// A temporary-file builder for a file that will replace `target`: named `prefix…suffix`
/// and created with the permissions of the file it replaces, or read-write for everyone the
/// umask allows (as a plain `File::create` gives), not a temporary file's owner-only mode.
pub fn replacement_builder<'a>(
    target: &Path,
    prefix: &'a std::ffi::OsStr,
    suffix: &'a str,
) -> tempfile::Builder<'a, 'a> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(suffix);
    if let Ok(meta) = fs::metadata(target)
        && meta.is_file()
    {
        builder.permissions(meta.permissions());
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
    }
    builder
}

/// Writes `bytes` to `path` through a synced, uniquely named temporary file in the same
/// folder and a rename; the temporary file is removed on any failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let result = (|| {
        let mut f = replacement_builder(path, ".wayfarer-save-".as_ref(), ".tmp")
            .tempfile_in(project_dir(path))?;
        f.write_all(bytes)?;
        f.as_file().sync_all()?;
        f.persist(path).map_err(|e| e.error)?;
        if let Ok(dir) = fs::File::open(project_dir(path)) {
            // Persist the rename; some file systems do not support syncing a folder.
            let _ = dir.sync_all();
        }
        Ok::<(), std::io::Error>(())
    })();
    result.map_err(|e| UserError::io("saving", path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_is_atomic_and_loadable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        let text = r#"{"version":1,"fps":16,"width":64,"height":64,"model":"wan2.1-vace-14b",
            "keyframes":[{"image":"a.png","frame":0},{"image":"b.png","frame":8}],
            "segments":[{"prompt":"x"}]}"#;
        fs::write(&path, text).unwrap();
        let p = load(&path).unwrap();
        save(&p, &path).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(load(&path).unwrap(), p);
    }

    #[test]
    fn invalid_project_is_not_saved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        fs::write(&path, "original").unwrap();
        let mut p = Project::from_json_str(
            r#"{"version":1,"fps":16,"width":64,"height":64,"model":"m",
            "keyframes":[{"image":"a.png","frame":0},{"image":"b.png","frame":8}],
            "segments":[{}]}"#,
        )
        .unwrap();
        p.keyframes[1].frame = 0;
        assert!(save(&p, &path).is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "original");
    }
}
