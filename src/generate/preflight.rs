//! Pre-flight: everything that can be checked before a render spends time on generation.
//!
//! Each check yields an item (passed or failed, a detail, a suggestion). `wayfarer render
//! --check` prints the report and runs nothing else; a render runs the same checks first.
//! Backend-specific checks (model files, servers, nodes, memory) come from
//! [`super::Backend::preflight`].

use std::path::Path;

use serde::Serialize;

use crate::error::{Result, UserError};
use crate::project::Project;

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckItem {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub detail: String,
    /// What to do when it failed (or, for a warning, what would make it better).
    pub suggestion: Option<String>,
    /// Passed, but worth the user's attention (a CPU-only server, a skipped check).
    pub warning: bool,
}

impl CheckItem {
    /// A check that passed with something the user should know.
    pub fn warning(name: &str, detail: impl Into<String>, suggestion: Option<String>) -> Self {
        Self {
            name: name.into(),
            passed: true,
            detail: detail.into(),
            suggestion,
            warning: true,
        }
    }
}

/// The outcome of every check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreflightReport {
    /// Checks in the order they ran.
    pub items: Vec<CheckItem>,
}

impl PreflightReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.items.iter().all(|i| i.passed)
    }

    /// The first failure as an error (bad input), if any.
    pub fn first_failure(&self) -> Option<UserError> {
        self.items.iter().find(|i| !i.passed).map(|i| {
            let e = UserError::input(format!("{}: {}", i.name, i.detail));
            match &i.suggestion {
                Some(s) => e.hint(s.clone()),
                None => e.hint("`wayfarer render --check` lists every pre-flight check"),
            }
        })
    }
}

impl std::fmt::Display for PreflightReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for i in &self.items {
            writeln!(
                f,
                "{} {}: {}",
                match (i.passed, i.warning) {
                    (false, _) => "FAIL",
                    (true, true) => "warn",
                    (true, false) => "ok  ",
                },
                i.name,
                i.detail
            )?;
            if (!i.passed || i.warning)
                && let Some(s) = &i.suggestion
            {
                writeln!(f, "     hint: {s}")?;
            }
        }
        Ok(())
    }
}

/// A check item from the outcome of a check.
pub fn item(name: &str, result: Result<String>) -> CheckItem {
    match result {
        Ok(detail) => CheckItem {
            name: name.into(),
            passed: true,
            detail,
            suggestion: None,
            warning: false,
        },
        Err(e) => CheckItem {
            name: name.into(),
            passed: false,
            detail: e.message,
            suggestion: e.suggestions.into_iter().next(),
            warning: false,
        },
    }
}

/// The `memory` line: the render's estimated peak against the memory available now; a
/// failure when it cannot fit, a warning above three quarters.
fn memory_item(
    project: &Project,
    project_dir: &Path,
    plan: &crate::plan::Plan,
    backend: &dyn super::Backend,
) -> CheckItem {
    use crate::render::memory::{estimate_peak_bytes, gib};
    let structure_frames = project.structure_video.as_ref().map_or(0, |sv| {
        crate::media::probe(&project_dir.join(&sv.path)).map_or(0, |info| {
            let total = u64::try_from(info.frames).unwrap_or(0);
            let end = sv
                .end_frame
                .map_or(total, |e| (u64::from(e) + 1).min(total));
            end.saturating_sub(u64::from(sv.start_frame))
        })
    });
    let slots = backend.capabilities().parallel_slots;
    let peak = estimate_peak_bytes(project, plan, slots, structure_frames);
    let Some(available) = crate::sysmem::available_bytes() else {
        return CheckItem::warning(
            "memory",
            format!(
                "about {} at peak; the memory available could not be read here",
                gib(peak)
            ),
            None,
        );
    };
    let detail = format!("about {} at peak, {} available", gib(peak), gib(available));
    let fix = if project.structure_video.is_some() {
        "lower the project's width and height, or shorten the structure video's range (start and end frame)"
    } else {
        "lower the project's width and height, or close other programs"
    };
    if peak > available {
        item(
            "memory",
            Err(UserError::input(format!("{detail}: the render cannot fit")).hint(fix)),
        )
    } else if peak > available / 4 * 3 {
        CheckItem::warning(
            "memory",
            format!("{detail}: little to spare"),
            Some(fix.to_string()),
        )
    } else {
        item("memory", Ok(detail))
    }
}

/// Bytes of H.264 per pixel at the default quality, a generous estimate for disk space.
const BYTES_PER_PIXEL_ESTIMATE: f64 = 0.25;

/// Runs every check for rendering `project` to `output` with the backend `config`
/// describes: the plan, every input file, the request against the backend's modes and
/// limits, the backend's own checks (servers, nodes, memory, models) and the output folder.
pub fn preflight(
    project: &Project,
    project_dir: &Path,
    output: &Path,
    config: &super::BackendConfig,
) -> PreflightReport {
    let backend = super::open_backend(config);
    checks(project, project_dir, output, backend.as_deref())
}

/// [`preflight`] with a backend that is already open (the one the render will use).
pub fn preflight_with(
    project: &Project,
    project_dir: &Path,
    output: &Path,
    backend: &dyn super::Backend,
) -> PreflightReport {
    checks(project, project_dir, output, Ok(backend))
}

fn checks(
    project: &Project,
    project_dir: &Path,
    output: &Path,
    backend: Result<&dyn super::Backend, &UserError>,
) -> PreflightReport {
    let mut items = Vec::new();
    let plan = crate::plan::plan(project);
    items.push(item(
        "backend",
        backend
            .as_ref()
            .map(|b| format!("{} opened", b.identity()))
            .map_err(|e| (*e).clone()),
    ));
    if let Ok(backend) = backend {
        let shape = super::modes::RequestShape::of(project, plan.as_ref().ok());
        items.push(item(
            "mode",
            backend
                .capabilities()
                .check(backend.name(), &shape)
                .map(|()| {
                    format!(
                        "{} on {} (calls up to {} frames, {}x{})",
                        shape.mode.short(),
                        backend.name(),
                        shape.frames,
                        shape.width,
                        shape.height
                    )
                }),
        ));
        items.extend(backend.preflight(&shape));
    }
    items.push(item(
        "plan",
        plan.as_ref()
            .map(|p| {
                let calls = match p.calls.len() {
                    1 => "1 call".to_string(),
                    n => format!("{n} calls"),
                };
                let snapped = match p.snaps.len() {
                    0 => "no keyframe moved".to_string(),
                    1 => "1 keyframe moved to fit the model".to_string(),
                    n => format!("{n} keyframes moved to fit the model"),
                };
                format!("{calls}, {} frames, {snapped}", p.total_frames)
            })
            .map_err(Clone::clone),
    ));
    if let (Ok(plan), Ok(backend)) = (&plan, &backend) {
        items.push(memory_item(project, project_dir, plan, *backend));
    }
    for k in 0..project.keyframes.len() {
        let path = project.image_path(project_dir, k);
        items.push(item(
            &format!("keyframe {} image", k + 1),
            crate::media::load_image(&path)
                .map(|f| format!("{} ({}x{})", path.display(), f.width, f.height)),
        ));
    }
    if let Some(sv) = &project.structure_video {
        let path = project_dir.join(&sv.path);
        let probed = crate::media::probe(&path);
        // An end past the clip is read as "to the end"; said, since it is likely a slip.
        if let (Ok(info), Some(end)) = (&probed, sv.end_frame)
            && info.frames > 0
            && i64::from(end) >= info.frames
        {
            items.push(CheckItem::warning(
                "structure video end frame",
                format!(
                    "end frame {end} is past the end of the video ({} frames, the last is {}); the video is used to its end",
                    info.frames,
                    info.frames - 1
                ),
                Some(format!(
                    "choose an end frame from {} to {} (0 in the studio's End frame means to the end)",
                    sv.start_frame,
                    info.frames - 1
                )),
            ));
        }
        items.push(item(
            "structure video",
            probed.and_then(|info| {
                if info.frames > 0 && i64::from(sv.start_frame) >= info.frames {
                    Err(UserError::input(format!(
                        "start_frame {} is past the end ({} frames)",
                        sv.start_frame, info.frames
                    ))
                    .hint("choose a start frame inside the video"))
                } else {
                    Ok(format!(
                        "{} ({}x{}, {} frames)",
                        path.display(),
                        info.width,
                        info.height,
                        info.frames
                    ))
                }
            }),
        ));
    }
    let frames = plan.as_ref().map_or(0, |p| p.total_frames);
    items.push(item(
        "output",
        check_output(
            output,
            f64::from(frames) * f64::from(project.width) * f64::from(project.height),
        ),
    ));
    PreflightReport { items }
}

/// Checks that `output`'s folder exists, accepts files and has room for about `pixels`
/// pixels of video.
pub fn check_output(output: &Path, pixels: f64) -> Result<String> {
    let folder = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if folder.exists() && !folder.is_dir() {
        return Err(
            UserError::input(format!("{} is a file, not a folder", folder.display()))
                .hint("choose an output path inside a folder"),
        );
    }
    if !folder.is_dir() {
        return Err(
            UserError::input(format!("folder {} does not exist", folder.display()))
                .hint("create it, or choose another output path"),
        );
    }
    // A fresh, unique probe file (removed when dropped): never a file someone else made,
    // such as the OUT.tmp of a render in progress.
    tempfile::Builder::new()
        .prefix(".wayfarer-probe-")
        .tempfile_in(&folder)
        .map_err(|e| UserError::io("writing to folder", &folder, &e))?;
    let needed = (pixels * BYTES_PER_PIXEL_ESTIMATE) as u64 + (1 << 20);
    match free_bytes(&folder) {
        Some(free) if free < needed => Err(UserError::new(
            crate::error::ErrorCategory::SystemResource,
            format!(
                "{} has {} MiB free, the video needs about {} MiB",
                folder.display(),
                free >> 20,
                needed >> 20
            ),
        )
        .hint("free some disk space or choose another folder")),
        Some(free) => Ok(format!(
            "{} writable, {} MiB free (about {} MiB needed)",
            folder.display(),
            free >> 20,
            needed >> 20
        )),
        None => Ok(format!(
            "{} writable (free space unknown)",
            folder.display()
        )),
    }
}

/// Free bytes on the file system holding `folder`.
#[cfg(unix)]
fn free_bytes(folder: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(folder.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain old data; all-zero is a valid value to overwrite.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `stat` is a valid out-pointer.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &raw mut stat) };
    // The field types differ between platforms (u32 on some), hence the conversion.
    #[cfg_attr(
        target_pointer_width = "64",
        expect(clippy::useless_conversion, reason = "u32 on other platforms")
    )]
    let free = u64::from(stat.f_bavail) * u64::from(stat.f_frsize);
    (rc == 0).then_some(free)
}

/// Free bytes on the file system holding `folder` (unknown on this platform).
#[cfg(not(unix))]
fn free_bytes(_folder: &Path) -> Option<u64> {
    None
}
