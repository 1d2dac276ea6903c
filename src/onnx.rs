//! ONNX Runtime: loading the shared library once (from `WAYFARER_ORT_LIBRARY` or the
//! per-user data folder the setup script fills) and creating sessions with an explicit,
//! reported choice of execution provider.

use std::path::Path;
use std::sync::OnceLock;

use ort::session::Session;

use crate::error::{ErrorCategory, Result, UserError};

type Loaded = (ort::environment::Environment, std::path::PathBuf);

static ENVIRONMENT: OnceLock<std::result::Result<Loaded, String>> = OnceLock::new();

fn model_error(message: String) -> UserError {
    UserError::new(ErrorCategory::ModelLoading, message)
}

/// The ONNX Runtime environment, loading the library on first use.
pub fn environment() -> Result<&'static ort::environment::Environment> {
    loaded().map(|(env, _)| env)
}

/// The library that was loaded.
pub fn library_path() -> Result<&'static Path> {
    loaded().map(|(_, path)| path.as_path())
}

fn loaded() -> Result<&'static Loaded> {
    let env = ENVIRONMENT.get_or_init(|| {
        let mut tried = Vec::new();
        for candidate in crate::dirs::onnx_runtime_candidates() {
            if !candidate.exists() {
                tried.push(format!("{} (missing)", candidate.display()));
                continue;
            }
            match ort::init_from(&candidate) {
                Ok(builder) => {
                    return builder
                        .with_name("wayfarer")
                        .build()
                        .map(|env| (env, candidate.clone()))
                        .map_err(|e| format!("{}: {e}", candidate.display()));
                }
                Err(e) => tried.push(format!("{} ({e})", candidate.display())),
            }
        }
        Err(format!("tried {}", tried.join(", ")))
    });
    env.as_ref().map_err(|why| {
        model_error(format!("ONNX Runtime could not be loaded: {why}")).hint(format!(
            "run ./setup (it installs the library), or set {} to libonnxruntime.so",
            crate::dirs::ORT_LIBRARY_ENV
        ))
    })
}

/// Opens `model`, on CUDA when `cuda` is asked for and works, else on the CPU. Returns the
/// session and the provider that runs it, e.g. `cpu` or `cpu (CUDA failed: ...)`.
pub fn open_session(model: &Path, cuda: bool) -> Result<(Session, String)> {
    let env = environment()?;
    let fail = |e: ort::Error| {
        model_error(format!("cannot load model {}: {e}", model.display()))
            .hint("check the file, or re-export it (see scripts/export_raft.py)")
    };
    if !model.is_file() {
        return Err(
            model_error(format!("model file {} not found", model.display()))
                .hint("export it with scripts/export_raft.py, or fix `file` in the manifest"),
        );
    }
    let mut fallback_reason = None;
    if cuda {
        #[cfg(feature = "cuda")]
        {
            let cuda_ep = ort::ep::CUDA::default()
                .with_device_id(0)
                .build()
                .error_on_failure();
            let attempt = Session::builder(env)
                .map_err(fail)?
                .with_execution_providers([cuda_ep]);
            match attempt {
                Ok(mut builder) => match builder.commit_from_file(model) {
                    Ok(session) => return Ok((session, "cuda".into())),
                    Err(e) => fallback_reason = Some(e.to_string()),
                },
                Err(e) => fallback_reason = Some(e.to_string()),
            }
        }
        #[cfg(not(feature = "cuda"))]
        {
            fallback_reason =
                Some("this build has no CUDA support (build with --features cuda)".to_string());
        }
    }
    let session = Session::builder(env)
        .map_err(fail)?
        .commit_from_file(model)
        .map_err(fail)?;
    let provider = match fallback_reason {
        Some(why) => format!("cpu (CUDA failed: {why})"),
        None => "cpu".into(),
    };
    Ok((session, provider))
}
