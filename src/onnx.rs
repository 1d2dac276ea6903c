//! ONNX Runtime: loading the shared library once (from `WAYFARER_ORT_LIBRARY` or the
//! per-user data folder the setup script fills) and creating sessions with an explicit,
//! reported choice of execution provider.

use std::path::Path;
use std::sync::OnceLock;

use ort::session::Session;

use crate::error::{ErrorCategory, Result, UserError};

type Loaded = (ort::environment::Environment, std::path::PathBuf);

static ENVIRONMENT: OnceLock<std::result::Result<Loaded, String>> = OnceLock::new();

/// Libraries of `onnxruntime/cuda/` that would not load when ONNX Runtime was loaded.
static PRELOAD_FAILURES: OnceLock<Vec<String>> = OnceLock::new();

fn model_error(message: String) -> UserError {
    UserError::new(ErrorCategory::ModelLoading, message)
}

/// The largest model manifest read (a manifest is a few lines of TOML).
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Reads a model manifest's text: a regular file of at most 1 MiB, refused otherwise as bad
/// input naming the path.
pub fn read_manifest(path: &Path) -> Result<String> {
    let meta =
        std::fs::metadata(path).map_err(|e| UserError::io("reading model manifest", path, &e))?;
    if !meta.is_file() {
        return Err(UserError::input(format!(
            "model manifest {}: this is {}, not a manifest file",
            path.display(),
            if meta.is_dir() {
                "a folder"
            } else {
                "a special file"
            }
        ))
        .hint("give the path of the model's .toml manifest (see models/)"));
    }
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(UserError::input(format!(
            "model manifest {}: {} bytes is far too large for a manifest (the wrong file?)",
            path.display(),
            meta.len()
        ))
        .hint("give the path of the model's .toml manifest (see models/)"));
    }
    std::fs::read_to_string(path).map_err(|e| UserError::io("reading model manifest", path, &e))
}

/// Parses a manifest's TOML `text` into `T`; an error names the field and what is wrong,
/// with `hint`.
pub fn parse_manifest<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    hint: &str,
) -> Result<T> {
    let bad = |what: String| {
        UserError::input(format!("model manifest {}: {what}", path.display())).hint(hint)
    };
    let de = toml::de::Deserializer::parse(text)
        .map_err(|e| bad(format!("not valid TOML: {}", e.message().trim())))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let why = inner.message().trim().to_string();
        if field == "." || field.is_empty() {
            bad(why)
        } else {
            bad(format!("field `{field}`: {why}"))
        }
    })
}

/// The largest `size_multiple` a manifest may ask for (model strides are 8 to 64).
pub const MAX_SIZE_MULTIPLE: u32 = 256;
/// The largest fixed input side a manifest may name.
pub const MAX_FIXED_SIDE: u32 = 8192;

/// Checks the numbers of a manifest: `value_range` two different finite values,
/// `size_multiple` from 1 to [`MAX_SIZE_MULTIPLE`], a fixed size within
/// 1..[`MAX_FIXED_SIDE`] and a multiple of `size_multiple`.
pub fn check_manifest_numbers(
    path: &Path,
    value_range: [f32; 2],
    size_multiple: u32,
    fixed_size: Option<[u32; 2]>,
) -> Result<()> {
    let bad = |what: String, fix: &str| {
        Err(
            UserError::input(format!("model manifest {}: {what}", path.display()))
                .hint(fix.to_string()),
        )
    };
    let [lo, hi] = value_range;
    if !lo.is_finite() || !hi.is_finite() || lo == hi {
        return bad(
            format!("value_range is [{lo}, {hi}]; it needs two different finite numbers"),
            "use the model's black and white values, e.g. value_range = [0.0, 1.0]",
        );
    }
    if size_multiple == 0 || size_multiple > MAX_SIZE_MULTIPLE {
        return bad(
            format!("size_multiple is {size_multiple}; it must be from 1 to {MAX_SIZE_MULTIPLE}"),
            "use the model's stride, e.g. size_multiple = 8",
        );
    }
    if let Some([h, w]) = fixed_size
        && (h == 0
            || w == 0
            || h > MAX_FIXED_SIDE
            || w > MAX_FIXED_SIDE
            || !h.is_multiple_of(size_multiple)
            || !w.is_multiple_of(size_multiple))
    {
        return bad(
            format!(
                "fixed_size is [{h}, {w}]; each side must be from 1 to {MAX_FIXED_SIDE} and a \
                 multiple of size_multiple ({size_multiple})"
            ),
            "use the input size the model was exported with, e.g. fixed_size = [360, 640]",
        );
    }
    Ok(())
}

/// A short digest of a model: its manifest text and the model file's bytes. Part of backend
/// and flow identities, so an edited or replaced model never brings back old results.
pub fn model_digest(manifest_text: &str, model: &Path) -> Result<String> {
    let mut h = blake3::Hasher::new();
    h.update(manifest_text.as_bytes());
    h.update(&[0]);
    let file = std::fs::File::open(model).map_err(|e| {
        let mut err = UserError::io("reading model", model, &e);
        err.category = ErrorCategory::InputValidation;
        err
    })?;
    h.update_reader(file)
        .map_err(|e| UserError::io("reading model", model, &e))?;
    Ok(h.finalize().to_hex()[..16].to_string())
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
            if let Some(dir) = candidate.parent() {
                let failures = preload_cuda_libraries(&dir.join("cuda"));
                let _ = PRELOAD_FAILURES.set(failures);
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

/// Libraries of the NVIDIA runtime wheels `./setup` puts beside the ONNX Runtime library
/// (`cuda/`), loaded with `RTLD_GLOBAL` before ONNX Runtime so its CUDA provider finds them
/// by name without `LD_LIBRARY_PATH` (as PyTorch preloads its CUDA wheels). Returns the
/// libraries that would not load, with the loader's reason.
fn preload_cuda_libraries(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut pending: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(".so"))
        })
        .collect();
    pending.sort();
    // A library whose dependencies are not loaded yet fails; passes until none loads.
    let mut failures = Vec::new();
    loop {
        failures.clear();
        let before = pending.len();
        pending.retain(|path| match dlopen_global(path) {
            Ok(()) => false,
            Err(why) => {
                failures.push(why);
                true
            }
        });
        if pending.is_empty() || pending.len() == before {
            return failures;
        }
    }
}

/// `dlopen(path, RTLD_NOW | RTLD_GLOBAL)`, kept loaded for the life of the process.
fn dlopen_global(path: &Path) -> std::result::Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: `c` is NUL-terminated; the handle is deliberately never closed.
    let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        Err(dlerror())
    } else {
        Ok(())
    }
}

fn dlerror() -> String {
    // SAFETY: dlerror returns a thread-local NUL-terminated string or null.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown loader error".into()
    } else {
        // SAFETY: non-null, NUL-terminated.
        unsafe { std::ffi::CStr::from_ptr(e) }
            .to_string_lossy()
            .into_owned()
    }
}

/// Whether CUDA can run ONNX models here, and why not when it cannot.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CudaStatus {
    /// A test model ran on the CUDA execution provider.
    pub usable: bool,
    /// What was found: the device, or exactly why CUDA is not usable.
    pub detail: String,
}

static CUDA: OnceLock<CudaStatus> = OnceLock::new();

/// Whether the CUDA execution provider works on this machine, proven once per process by
/// running a tiny model with `error_on_failure`: no GPU, a CPU-only ONNX Runtime, a
/// missing library (by name) and a driver too old are told apart.
pub fn cuda_status() -> &'static CudaStatus {
    CUDA.get_or_init(probe_cuda)
}

/// Whether to ask for CUDA: `var` = `0` never, `1` always (a failure falls back to the CPU
/// and says why), unset: when [`cuda_status`] says it is usable.
pub fn want_cuda(var: &str) -> bool {
    match std::env::var(var).as_deref() {
        Ok("0") => false,
        Ok("1") => true,
        _ => cuda_status().usable,
    }
}

fn not_usable(detail: impl Into<String>) -> CudaStatus {
    CudaStatus {
        usable: false,
        detail: detail.into(),
    }
}

fn probe_cuda() -> CudaStatus {
    if cfg!(not(feature = "cuda")) {
        return not_usable("this build has no CUDA support (built without the cuda feature)");
    }
    if dlopen_global(Path::new("libcuda.so.1")).is_err() {
        return not_usable(
            "no NVIDIA GPU driver here (libcuda.so.1 not found); ONNX models run on the CPU",
        );
    }
    let env = match environment() {
        Ok(env) => env,
        Err(e) => return not_usable(e.message),
    };
    if !crate::doctor::onnx_providers()
        .iter()
        .any(|p| p == "CUDAExecutionProvider")
    {
        return not_usable(
            "the ONNX Runtime library is CPU-only; run ./setup on this machine (with the GPU visible to nvidia-smi) to install onnxruntime-gpu",
        );
    }
    let preload_failures = PRELOAD_FAILURES.get().cloned().unwrap_or_default();
    match run_test_model(env) {
        Ok(()) => CudaStatus {
            usable: true,
            detail: "usable: a test model ran on CUDA device 0".into(),
        },
        Err(e) => not_usable(explain_cuda_failure(&e, &preload_failures)),
    }
}

#[cfg(feature = "cuda")]
fn run_test_model(env: &ort::environment::Environment) -> std::result::Result<(), String> {
    const MODEL: &[u8] = include_bytes!("../models/tiny_interpolator.onnx");
    let cuda_ep = ort::ep::CUDA::default()
        .with_device_id(0)
        .build()
        .error_on_failure();
    let mut builder = Session::builder(env)
        .map_err(|e| e.to_string())?
        .with_execution_providers([cuda_ep])
        .map_err(|e| e.to_string())?;
    let mut session = builder
        .commit_from_memory(MODEL)
        .map_err(|e| e.to_string())?;
    let frame = ndarray::Array4::<f32>::from_elem((1, 3, 8, 8), 0.5);
    let t = ndarray::Array4::<f32>::from_elem((1, 1, 1, 1), 0.25);
    let inputs: Vec<(String, ort::session::SessionInputValue<'_>)> = vec![
        (
            "frame0".into(),
            ort::value::TensorRef::from_array_view(&frame)
                .map_err(|e| e.to_string())?
                .into(),
        ),
        (
            "frame1".into(),
            ort::value::TensorRef::from_array_view(&frame)
                .map_err(|e| e.to_string())?
                .into(),
        ),
        (
            "timestep".into(),
            ort::value::TensorRef::from_array_view(&t)
                .map_err(|e| e.to_string())?
                .into(),
        ),
    ];
    let outputs = session.run(inputs).map_err(|e| e.to_string())?;
    let out = outputs
        .get("frame")
        .ok_or("the test model gave no output")?
        .try_extract_array::<f32>()
        .map_err(|e| e.to_string())?;
    if out.iter().all(|v| (v - 0.5).abs() < 1e-4) {
        Ok(())
    } else {
        Err("the test model gave wrong values on CUDA".into())
    }
}

#[cfg(not(feature = "cuda"))]
fn run_test_model(_env: &ort::environment::Environment) -> std::result::Result<(), String> {
    Err("this build has no CUDA support".into())
}

/// Says why CUDA failed in words: a missing library by name, a driver too old, or the
/// runtime's own message.
fn explain_cuda_failure(error: &str, preload_failures: &[String]) -> String {
    let lower = error.to_ascii_lowercase();
    if lower.contains("insufficient") && lower.contains("driver")
        || lower.contains("driver version")
        || lower.contains("cuda driver version is insufficient")
    {
        return format!(
            "the NVIDIA driver is too old for this CUDA runtime (update the driver): {error}"
        );
    }
    let missing = error
        .split(|c: char| c.is_whitespace() || c == ':' || c == '\'' || c == '"')
        .find(|w| w.starts_with("lib") && w.contains(".so"));
    if let Some(lib) = missing {
        return format!(
            "missing library {lib} (run ./setup to install the NVIDIA runtime wheels){}",
            if preload_failures.is_empty() {
                String::new()
            } else {
                format!("; could not load: {}", preload_failures.join("; "))
            }
        );
    }
    format!("CUDA failed: {error}")
}

/// A model manifest of one kind (flow, generator): what the one loader needs to know of it.
pub trait ModelManifest: serde::de::DeserializeOwned {
    /// Where a person finds the fields (a shipped manifest), for parse errors.
    const FIELDS_HINT: &'static str;
    /// The ONNX file, relative to the manifest.
    fn model_file(&self) -> &Path;
    /// Value range, size multiple and fixed input size (`[height, width]`), checked alike
    /// for every kind.
    fn numbers(&self) -> ([f32; 2], u32, Option<[u32; 2]>);
    /// Checks of this kind of manifest beyond the numbers.
    fn check(&self, _path: &Path) -> Result<()> {
        Ok(())
    }
}

/// Reads, parses and checks the manifest at `path`: the manifest, its model's path and the
/// manifest's text (for the model's digest).
pub fn load_manifest<M: ModelManifest>(path: &Path) -> Result<(M, std::path::PathBuf, String)> {
    let text = read_manifest(path)?;
    let manifest: M = parse_manifest(path, &text, M::FIELDS_HINT)?;
    let (value_range, size_multiple, fixed_size) = manifest.numbers();
    check_manifest_numbers(path, value_range, size_multiple, fixed_size)?;
    manifest.check(path)?;
    let model = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(manifest.model_file());
    Ok((manifest, model, text))
}

/// A model loaded from its manifest: the session, the execution provider in use and the
/// digest of manifest and model (part of the identity of what it makes).
pub struct LoadedModel<M> {
    /// The manifest.
    pub manifest: M,
    /// The ONNX Runtime session.
    pub session: Session,
    /// Execution provider in use, e.g. `cuda` or `cpu (CUDA failed: ...)`.
    pub provider: String,
    /// BLAKE3 digest of the manifest's text and the model file.
    pub digest: String,
}

/// Loads the model the manifest at `path` describes; `cuda` asks for the CUDA execution
/// provider (a failure falls back to the CPU, said in `provider`).
pub fn load_model<M: ModelManifest>(path: &Path, cuda: bool) -> Result<LoadedModel<M>> {
    let (manifest, model, text) = load_manifest::<M>(path)?;
    let (session, provider) = open_session(&model, cuda)?;
    let digest = model_digest(&text, &model)?;
    Ok(LoadedModel {
        manifest,
        session,
        provider,
        digest,
    })
}

/// Opens `model`, on CUDA when `cuda` is asked for and works, else on the CPU. Returns the
/// session and the provider that runs it, e.g. `cpu` or `cpu (CUDA failed: ...)`.
pub fn open_session(model: &Path, cuda: bool) -> Result<(Session, String)> {
    let env = environment()?;
    // A model file that is missing, a folder or not a model is bad input (exit 2).
    let fail = |e: ort::Error| {
        UserError::input(format!(
            "cannot load model {}: {}",
            model.display(),
            crate::error::one_line(&e.to_string())
        ))
        .hint("check that `file` in the manifest names an ONNX model, or re-export it")
    };
    if !model.is_file() {
        return Err(UserError::input(format!(
            "model file {} {}",
            model.display(),
            if model.is_dir() {
                "is a folder, not a model"
            } else {
                "not found"
            }
        ))
        .hint("fix `file` in the manifest (it is relative to the manifest's folder)"));
    }
    let runtime_fail =
        |e: ort::Error| model_error(format!("ONNX Runtime cannot make a session: {e}"));
    let mut fallback_reason = None;
    if cuda {
        #[cfg(feature = "cuda")]
        {
            let cuda_ep = ort::ep::CUDA::default()
                .with_device_id(0)
                .build()
                .error_on_failure();
            let attempt = Session::builder(env)
                .map_err(runtime_fail)?
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
            fallback_reason = Some(
                "this build has no CUDA support (built without the default cuda feature)"
                    .to_string(),
            );
        }
    }
    let session = Session::builder(env)
        .map_err(runtime_fail)?
        .commit_from_file(model)
        .map_err(fail)?;
    let provider = match fallback_reason {
        Some(why) => format!("cpu (CUDA failed: {why})"),
        None => "cpu".into(),
    };
    Ok((session, provider))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_failures_are_told_apart() {
        let missing = explain_cuda_failure(
            "Failed to load library /x/libonnxruntime_providers_cuda.so with error: libcudnn.so.9: cannot open shared object file",
            &[],
        );
        assert!(
            missing.starts_with("missing library libcudnn.so.9"),
            "{missing}"
        );
        let old = explain_cuda_failure(
            "CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version",
            &[],
        );
        assert!(old.starts_with("the NVIDIA driver is too old"), "{old}");
        let other = explain_cuda_failure("out of memory", &[]);
        assert_eq!(other, "CUDA failed: out of memory");
    }

    #[test]
    fn cuda_is_not_usable_without_a_driver_and_says_why() {
        let status = cuda_status();
        if cfg!(feature = "cuda") && dlopen_global(Path::new("libcuda.so.1")).is_err() {
            assert!(!status.usable);
            assert!(status.detail.contains("libcuda.so.1"), "{}", status.detail);
        }
    }
}
