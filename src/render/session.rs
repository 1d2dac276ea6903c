//! A render session: the one sequence both front ends run — open the backend, run every
//! pre-flight check, then render.

use super::{RenderEvent, RenderRequest, RenderSummary};
use crate::error::Result;
use crate::generate::preflight::PreflightReport;
use crate::generate::{self, Backend, BackendConfig, CancelToken};

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

    /// Every pre-flight check of `request` on this backend.
    pub fn preflight(&self, request: &RenderRequest<'_>) -> PreflightReport {
        generate::preflight::preflight_with(
            request.project,
            request.project_dir,
            request.output,
            self.backend.as_ref(),
        )
    }

    /// Pre-flight, then the render: nothing is generated when a check fails. A failure
    /// (of a check or of the render) is also sent to `events` as [`RenderEvent::Error`].
    pub fn run(
        &self,
        request: &RenderRequest<'_>,
        events: &mut dyn FnMut(RenderEvent),
        cancel: &CancelToken,
    ) -> Result<RenderSummary> {
        let result = match self.preflight(request).first_failure() {
            Some(e) => Err(e),
            None => super::render(request, self.backend.as_ref(), events, cancel),
        };
        if let Err(e) = &result {
            events(RenderEvent::from_error(e));
        }
        result
    }
}
