//! What a render is asked to do ([`RenderRequest`]) and a render session: the one sequence
//! both front ends run — open the backend, run every pre-flight check, then render.

use std::path::Path;

use super::{RenderEvent, RenderOptions, RenderSummary};
use crate::error::Result;
use crate::generate::preflight::{CheckItem, PreflightReport};
use crate::generate::{self, Backend, BackendConfig, CancelToken};
use crate::media::{EncodeOptions, ExportFormat};
use crate::project::Project;
use crate::structure::MotionTools;

/// What to render and how: the project, where its files are, the output, the encoder's
/// settings, the render's options and (optionally) the tools that analyse a structure video.
pub struct RenderRequest<'a> {
    /// The project.
    pub project: &'a Project,
    /// Folder the project's image and video paths are relative to.
    pub project_dir: &'a Path,
    /// The MP4 to write.
    pub output: &'a Path,
    /// Encoder settings.
    pub encode: EncodeOptions,
    /// Retries, resume cache, re-rolled seeds, cost store.
    pub options: &'a RenderOptions,
    /// Tools for the structure video; `None` opens them (GPU device, flow estimator, flow
    /// cache) from the environment when the project has a structure video.
    pub motion: Option<&'a MotionTools<'a>>,
}

impl<'a> RenderRequest<'a> {
    /// A request with default encoding and the given options.
    pub fn new(
        project: &'a Project,
        project_dir: &'a Path,
        output: &'a Path,
        options: &'a RenderOptions,
    ) -> Self {
        Self {
            project,
            project_dir,
            output,
            encode: EncodeOptions::default(),
            options,
            motion: None,
        }
    }

    /// The same request with structure-video tools given explicitly.
    #[must_use]
    pub fn with_motion(mut self, tools: &'a MotionTools<'a>) -> Self {
        self.motion = Some(tools);
        self
    }
}

/// The pre-flight lines of the output: the export format works on this machine, and the
/// output's name fits it (and is not an input of the project).
pub fn output_items(
    project: &Project,
    project_dir: &Path,
    output: &Path,
    format: ExportFormat,
) -> Vec<CheckItem> {
    vec![
        generate::preflight::item(
            "format",
            format
                .check()
                .map(|()| format!("{} works here", format.label()))
                .map_err(|why| {
                    crate::error::UserError::new(
                        crate::error::ErrorCategory::SystemResource,
                        format!("{} cannot be written here: {why}", format.label()),
                    )
                    .hint("choose another format (wayfarer doctor lists those that work here)")
                }),
        ),
        generate::preflight::item(
            "output name",
            super::output::check_output_path(output, project_dir, project, format)
                .map(|()| format!("{} fits {}", output.display(), format.label())),
        ),
    ]
}

/// An opened backend, ready to check and render requests.
pub struct Session {
    backend: Box<dyn Backend>,
}

impl Session {
    /// Opens the backend `config` names (servers are not contacted yet).
    pub fn open(config: &BackendConfig) -> Result<Self> {
        generate::open_backend(config)
            .map(Self::with_backend)
            .map_err(|e| e.context("backend"))
    }

    /// A session on a backend opened elsewhere.
    pub fn with_backend(backend: Box<dyn Backend>) -> Self {
        Self { backend }
    }

    /// The session's backend.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// Every pre-flight check of `request` on this backend, the export format and the
    /// output's name included.
    pub fn preflight(&self, request: &RenderRequest<'_>) -> PreflightReport {
        let mut report = generate::preflight::preflight_with(
            request.project,
            request.project_dir,
            request.output,
            self.backend.as_ref(),
        );
        report.items.extend(output_items(
            request.project,
            request.project_dir,
            request.output,
            request.encode.format,
        ));
        report
    }

    /// Pre-flight, then the render: nothing is generated when a check fails. A failure
    /// (of a check or of the render) is also sent to `events` as [`RenderEvent::Error`].
    pub fn run(
        &self,
        request: &RenderRequest<'_>,
        events: &mut dyn FnMut(RenderEvent),
        cancel: &CancelToken,
    ) -> Result<RenderSummary> {
        let report = self.preflight(request);
        let result = if let Some(e) = report.first_failure() {
            Err(e)
        } else {
            // What passed with a warning (a server left out, a CPU-only server) is said
            // before the render starts.
            for item in report.items.iter().filter(|i| i.warning) {
                events(RenderEvent::Warning {
                    message: format!("{}: {}", item.name, item.detail),
                });
            }
            super::render(request, self.backend.as_ref(), events, cancel)
        };
        if let Err(e) = &result {
            events(RenderEvent::from_error(e));
        }
        result
    }
}
