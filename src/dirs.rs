//! Per-user folders (configuration, cache, data) and where the ONNX Runtime library lives.

use std::path::PathBuf;

use directories::ProjectDirs;

/// Wayfarer's per-user folders, when a home folder is known.
pub fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "wayfarer")
}

/// A folder only this user can use, `NAME-UID` in the system's temporary folder: made with
/// mode 0700 when missing, and used only when it is a real folder (not a link) owned by this
/// user that nobody else can open. `None` when that cannot be had; a name another user
/// planted there is never followed.
pub fn private_temp_folder(name: &str) -> Option<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        // SAFETY: getuid has no preconditions.
        let user = unsafe { libc::getuid() };
        let dir = std::env::temp_dir().join(format!("{name}-{user}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        match std::fs::symlink_metadata(&dir) {
            // No bit of the group's or others' permissions (0o077) set.
            Ok(m) if m.is_dir() && m.uid() == user && m.mode().trailing_zeros() >= 6 => Some(dir),
            _ => None,
        }
    }
    #[cfg(not(unix))]
    {
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).ok().map(|_| dir)
    }
}

/// A fresh private folder (a random name `wayfarer-WHAT-…`, mode 0700) in the system's
/// temporary folder; removed when the returned guard drops.
pub fn scratch_dir(what: &str) -> std::io::Result<tempfile::TempDir> {
    let prefix = format!("wayfarer-{what}-");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir()
}

/// Environment variable naming the ONNX Runtime shared library explicitly.
pub const ORT_LIBRARY_ENV: &str = "WAYFARER_ORT_LIBRARY";

/// Candidate ONNX Runtime libraries, in the order they are tried: `WAYFARER_ORT_LIBRARY`,
/// then `onnxruntime/` in the per-user data folder (where the setup script installs it).
pub fn onnx_runtime_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os(ORT_LIBRARY_ENV) {
        out.push(PathBuf::from(p));
    }
    if let Some(dirs) = project_dirs() {
        out.push(dirs.data_dir().join("onnxruntime").join(ORT_LIBRARY_NAME));
    }
    out
}

/// File name of the ONNX Runtime library on this platform.
#[cfg(target_os = "windows")]
pub const ORT_LIBRARY_NAME: &str = "onnxruntime.dll";
/// File name of the ONNX Runtime library on this platform.
#[cfg(target_os = "macos")]
pub const ORT_LIBRARY_NAME: &str = "libonnxruntime.dylib";
/// File name of the ONNX Runtime library on this platform.
#[cfg(not(any(target_os = "windows", target_os = "macos")))]
pub const ORT_LIBRARY_NAME: &str = "libonnxruntime.so";

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_private_temp_folder_is_never_a_planted_one() {
        use std::os::unix::fs::PermissionsExt;
        let name = format!("wayfarer-test-private-{}", std::process::id());
        let dir = private_temp_folder(&name).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(private_temp_folder(&name), Some(dir.clone()), "reused");
        // Opened up to others: refused.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(private_temp_folder(&name), None);
        std::fs::remove_dir(&dir).unwrap();
        // A link planted under the name: refused, the target untouched.
        let target = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(target.path(), &dir).unwrap();
        assert_eq!(private_temp_folder(&name), None);
        assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);
        std::fs::remove_file(&dir).unwrap();
    }
}
