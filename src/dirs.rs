//! Per-user folders (configuration, cache, data) and where the ONNX Runtime library lives.

use std::path::PathBuf;

use directories::ProjectDirs;

/// Wayfarer's per-user folders, when a home folder is known.
pub fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "wayfarer")
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
