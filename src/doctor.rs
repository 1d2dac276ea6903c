//! `wayfarer doctor`: what this machine offers Wayfarer (libav, ONNX Runtime, wgpu,
//! folders), found by really loading each part.

use std::path::PathBuf;

use serde::Serialize;

/// What was found.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// libav library versions, e.g. `avcodec 59.37.100`.
    pub libav: Vec<String>,
    /// H.264 encoders libav offers; `libx264` is the one Wayfarer uses.
    pub h264_encoders: Vec<String>,
    /// Every export format (`--format`), tried here: `None` when it works, else why not.
    pub export_formats: Vec<ExportCheck>,
    /// The ONNX Runtime library that loaded, if any.
    pub onnx_runtime: Option<PathBuf>,
    /// ONNX Runtime build information, or why it did not load.
    pub onnx_runtime_info: String,
    /// ONNX Runtime execution providers in the loaded library.
    pub onnx_providers: Vec<String>,
    /// Whether ONNX models can run on CUDA here, or exactly why not.
    pub cuda: crate::onnx::CudaStatus,
    /// wgpu adapters: name, backend, device type.
    pub wgpu_adapters: Vec<String>,
    /// What image operations run on (`WAYFARER_COMPUTE` respected), or why none could start.
    pub compute: String,
    /// The flow estimator renders use (`WAYFARER_FLOW_MODEL` respected).
    pub flow: String,
    /// Per-user configuration folder.
    pub config_dir: Option<PathBuf>,
    /// Per-user cache folder.
    pub cache_dir: Option<PathBuf>,
    /// Per-user data folder.
    pub data_dir: Option<PathBuf>,
}

/// Whether one export format works on this machine.
#[derive(Debug, Clone, Serialize)]
pub struct ExportCheck {
    /// The `--format` name.
    pub format: String,
    /// Why it does not work here; `None` when it does.
    pub problem: Option<String>,
}

fn or_none_str(items: &[&str]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn libav_version(name: &str, v: u32) -> String {
    format!("{name} {}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

/// Probes libav, ONNX Runtime, wgpu and the folders.
pub fn run() -> DoctorReport {
    use ffmpeg_next as ffmpeg;
    crate::media::video::init();
    let libav = vec![
        libav_version("avutil", ffmpeg::util::version()),
        libav_version("avcodec", ffmpeg::codec::version()),
        libav_version("avformat", ffmpeg::format::version()),
        libav_version("swscale", ffmpeg::software::scaling::version()),
    ];
    let h264_encoders = [
        "libx264",
        "h264_nvenc",
        "h264_vaapi",
        "h264_qsv",
        "libopenh264",
    ]
    .iter()
    .filter(|n| ffmpeg::encoder::find_by_name(n).is_some())
    .map(std::string::ToString::to_string)
    .collect();
    let (onnx_runtime, onnx_runtime_info, onnx_providers) = probe_onnx_runtime();
    let dirs = crate::dirs::project_dirs();
    DoctorReport {
        libav,
        h264_encoders,
        export_formats: crate::media::ExportFormat::ALL
            .iter()
            .map(|f| ExportCheck {
                format: f.name().to_string(),
                problem: f.check().err(),
            })
            .collect(),
        onnx_runtime,
        onnx_runtime_info,
        onnx_providers,
        cuda: crate::onnx::cuda_status().clone(),
        wgpu_adapters: wgpu_adapters(),
        flow: crate::flow::estimator_from_env()
            .map_or_else(|e| format!("unavailable: {}", e.message), |e| e.describe()),
        compute: crate::gpu::Choice::from_env()
            .and_then(crate::gpu::select)
            .map_or_else(|e| format!("unavailable: {}", e.message), |c| c.name()),
        config_dir: dirs.as_ref().map(|d| d.config_dir().to_path_buf()),
        cache_dir: dirs.as_ref().map(|d| d.cache_dir().to_path_buf()),
        data_dir: dirs.as_ref().map(|d| d.data_dir().to_path_buf()),
    }
}

fn probe_onnx_runtime() -> (Option<PathBuf>, String, Vec<String>) {
    match crate::onnx::library_path() {
        Ok(path) => (Some(path.to_path_buf()), build_info(), onnx_providers()),
        Err(e) => (None, format!("not loaded: {}", e.message), Vec::new()),
    }
}

fn build_info() -> String {
    let api = ort::api();
    // SAFETY: the library is loaded (init_from succeeded); the string is static and
    // NUL-terminated per the ONNX Runtime C API.
    let ptr = unsafe { (api.GetBuildInfoString)() };
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated, owned by the library.
    unsafe { std::ffi::CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

/// The execution providers of the loaded ONNX Runtime library (call only once it loaded).
pub fn onnx_providers() -> Vec<String> {
    let api = ort::api();
    let mut list: *mut *mut std::ffi::c_char = std::ptr::null_mut();
    let mut count: std::ffi::c_int = 0;
    // SAFETY: out-pointers are valid; on success the library returns `count` C strings
    // that we release with ReleaseAvailableProviders below.
    let status = unsafe { (api.GetAvailableProviders)(&raw mut list, &raw mut count) };
    if !status.0.is_null() || list.is_null() {
        return Vec::new();
    }
    let names = (0..count as isize)
        .map(|i| {
            // SAFETY: i < count; each entry is a NUL-terminated string.
            unsafe { std::ffi::CStr::from_ptr(*list.offset(i)) }
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    // SAFETY: releasing exactly what GetAvailableProviders returned.
    let _ = unsafe { (api.ReleaseAvailableProviders)(list, count) };
    names
}

/// wgpu adapters found: name, backend, device type (empty when there is none).
pub fn wgpu_adapters() -> Vec<String> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .map(|a| {
            let info = a.get_info();
            format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
        })
        .collect()
}

impl std::fmt::Display for DoctorReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let or_none = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let path = |p: &Option<PathBuf>| {
            p.as_ref().map_or_else(
                || "unknown (no home folder)".into(),
                |p| p.display().to_string(),
            )
        };
        writeln!(f, "libav:          {}", self.libav.join(", "))?;
        let x264 = if self.h264_encoders.iter().any(|e| e == "libx264") {
            "ok"
        } else {
            "MISSING libx264: rendering cannot encode"
        };
        writeln!(
            f,
            "H.264 encoders: {} compiled in ({x264})",
            or_none(&self.h264_encoders)
        )?;
        let works: Vec<&str> = self
            .export_formats
            .iter()
            .filter(|c| c.problem.is_none())
            .map(|c| c.format.as_str())
            .collect();
        writeln!(f, "export formats: {} work here", or_none_str(&works))?;
        for c in &self.export_formats {
            if let Some(why) = &c.problem {
                writeln!(f, "  {}: not here ({why})", c.format)?;
            }
        }
        match &self.onnx_runtime {
            Some(p) => {
                writeln!(f, "ONNX Runtime:   {}", p.display())?;
                writeln!(f, "  build:        {}", self.onnx_runtime_info)?;
                writeln!(f, "  providers:    {}", or_none(&self.onnx_providers))?;
            }
            None => writeln!(f, "ONNX Runtime:   {}", self.onnx_runtime_info)?,
        }
        writeln!(
            f,
            "cuda:           {}",
            if self.cuda.usable {
                self.cuda.detail.clone()
            } else {
                format!("not usable: {}", self.cuda.detail)
            }
        )?;
        writeln!(f, "wgpu adapters:  {}", or_none(&self.wgpu_adapters))?;
        writeln!(f, "compute:        {}", self.compute)?;
        writeln!(f, "flow:           {}", self.flow)?;
        writeln!(f, "config folder:  {}", path(&self.config_dir))?;
        writeln!(f, "cache folder:   {}", path(&self.cache_dir))?;
        write!(f, "data folder:    {}", path(&self.data_dir))
    }
}
