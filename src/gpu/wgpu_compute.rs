//! The wgpu implementation of [`Compute`](super::Compute): one compute shader per operation
//! (`shaders/*.wgsl`), frames packed as one `u32` per pixel in storage buffers.

use wgpu::util::DeviceExt;

use std::sync::Mutex;

use super::{Compute, CpuCompute, FlowField, Params, check_crop, check_flow, check_same_size};
use crate::error::{ErrorCategory, Result, UserError};
use crate::media::Frame;

const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// Runs the compute operations on a wgpu adapter.
pub struct WgpuCompute {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: String,
    crop_resize: wgpu::ComputePipeline,
    warp: wgpu::ComputePipeline,
    blend: wgpu::ComputePipeline,
    flow_resize: wgpu::ComputePipeline,
    /// The device's limits (the adapter's own, requested in full).
    limits: wgpu::Limits,
    /// Operations that did not fit the device and ran on the CPU, said once each.
    notes: Mutex<Vec<String>>,
}

pub(crate) fn gpu_error(what: impl std::fmt::Display) -> UserError {
    UserError::new(ErrorCategory::SystemResource, format!("wgpu: {what}"))
        .hint("set WAYFARER_COMPUTE=cpu to use the CPU")
}

fn pack(frame: &Frame) -> Vec<u32> {
    frame
        .data
        .chunks_exact(3)
        .map(|p| u32::from(p[0]) | (u32::from(p[1]) << 8) | (u32::from(p[2]) << 16) | (255 << 24))
        .collect()
}

fn unpack(words: &[u32], width: u32, height: u32) -> Frame {
    let mut data = Vec::with_capacity(words.len() * 3);
    for w in words {
        data.extend_from_slice(&[
            (*w & 0xff) as u8,
            ((*w >> 8) & 0xff) as u8,
            ((*w >> 16) & 0xff) as u8,
        ]);
    }
    Frame {
        width,
        height,
        data,
    }
}

/// A compute pipeline of the WGSL `body` after `header`, entry point `entry`, its layout
/// derived from the bindings that entry point uses.
pub(crate) fn pipeline(
    device: &wgpu::Device,
    name: &str,
    header: &str,
    body: &str,
    entry: &str,
) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(format!("{header}\n{body}").into()),
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(name),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions::default(),
        cache: None,
    })
}

/// An opened wgpu device, shared by the compute operations and the GPU flow estimator.
pub(crate) struct GpuDevice {
    /// The device.
    pub(crate) device: wgpu::Device,
    /// Its queue.
    pub(crate) queue: wgpu::Queue,
    /// The adapter's name and backend, e.g. `llvmpipe (Vulkan)`.
    pub(crate) adapter: String,
    /// Whether the adapter renders on the CPU (llvmpipe, lavapipe).
    pub(crate) cpu_adapter: bool,
    /// The device's limits (the adapter's own, requested in full).
    pub(crate) limits: wgpu::Limits,
}

/// Opens the default adapter (`WGPU_BACKEND` respected) with its own limits; an error when
/// there is none, or when it is a software (CPU-type) adapter and `allow_cpu_adapter` is
/// false.
pub(crate) fn open_device(allow_cpu_adapter: bool) -> Result<GpuDevice> {
    // Vulkan, Metal or DX12: compute on OpenGL is limited, and probing EGL is noisy.
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    let instance = wgpu::Instance::new(desc.with_env());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))
    .map_err(|e| gpu_error(format!("no adapter: {e}")))?;
    let info = adapter.get_info();
    let cpu_adapter = info.device_type == wgpu::DeviceType::Cpu;
    if cpu_adapter && !allow_cpu_adapter {
        return Err(gpu_error(format!(
            "skipped: the only adapter, {}, renders on the CPU and is slower than the CPU path; WAYFARER_COMPUTE=wgpu uses it anyway",
            info.name
        )));
    }
    // The adapter's own limits, not the portable defaults (128 MiB per storage buffer):
    // each operation is still checked against them and runs on the CPU when too large.
    let limits = adapter.limits();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("wayfarer-compute"),
        required_limits: limits.clone(),
        ..Default::default()
    }))
    .map_err(|e| gpu_error(format!("no device: {e}")))?;
    // Errors are caught by error scopes around each operation; anything else is logged,
    // never a panic (wgpu's default handler panics).
    device.on_uncaptured_error(std::sync::Arc::new(|e: wgpu::Error| {
        tracing::error!("wgpu: {e}");
    }));
    Ok(GpuDevice {
        device,
        queue,
        adapter: format!("{} ({:?})", info.name, info.backend),
        cpu_adapter,
        limits,
    })
}

impl WgpuCompute {
    /// Opens the default adapter (`WGPU_BACKEND` respected); an error when there is none,
    /// or when it is a software (CPU-type) adapter and `allow_cpu_adapter` is false.
    pub fn new(allow_cpu_adapter: bool) -> Result<Self> {
        let GpuDevice {
            device,
            queue,
            adapter,
            limits,
            ..
        } = open_device(allow_cpu_adapter)?;
        let pipeline = |name: &str, body: &str| pipeline(&device, name, COMMON, body, "main");
        Ok(Self {
            crop_resize: pipeline(
                "crop_resize",
                include_str!("../../shaders/crop_resize.wgsl"),
            ),
            warp: pipeline("warp", include_str!("../../shaders/warp.wgsl")),
            blend: pipeline("blend", include_str!("../../shaders/blend.wgsl")),
            flow_resize: pipeline(
                "flow_resize",
                include_str!("../../shaders/flow_resize.wgsl"),
            ),
            adapter,
            device,
            queue,
            limits,
            notes: Mutex::new(Vec::new()),
        })
    }

    /// Lowers the largest storage buffer an operation may bind to `bytes` (never raises
    /// it): larger operations run on the CPU, with a note. Used to leave room for other work
    /// on a shared device, and by the tests of the fallback.
    pub fn cap_storage_binding(&mut self, bytes: u64) {
        self.limits.max_storage_buffer_binding_size =
            self.limits.max_storage_buffer_binding_size.min(bytes);
    }

    /// Whether an operation with storage buffers of `buffers` bytes over `groups`
    /// workgroups fits this device; when not, why (and it is noted once).
    fn fits(&self, what: &str, buffers: &[u64], groups: (u32, u32)) -> bool {
        let max_binding = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        let max_groups = self.limits.max_compute_workgroups_per_dimension;
        let why = if let Some(b) = buffers.iter().find(|&&b| b > max_binding) {
            format!(
                "{} MiB of data, more than the {} MiB the device binds at once",
                b >> 20,
                max_binding >> 20
            )
        } else if groups.0 > max_groups || groups.1 > max_groups {
            format!(
                "{} x {} workgroups, more than the device's {max_groups} per dimension",
                groups.0, groups.1
            )
        } else {
            return true;
        };
        let note = format!("{what} ran on the CPU: {why}");
        if let Ok(mut notes) = self.notes.lock()
            && !notes.contains(&note)
        {
            notes.push(note);
        }
        false
    }

    /// Runs `pipeline` inside error scopes: a validation or out-of-memory error of the
    /// device becomes an error of the operation.
    fn run(
        &self,
        pipeline: &wgpu::ComputePipeline,
        params: Params,
        src: &[u32],
        extra: Option<&[u8]>,
        out_words: usize,
        groups: (u32, u32),
    ) -> Result<Vec<u32>> {
        scoped(&self.device, "the operation", || {
            self.dispatch(pipeline, params, src, extra, out_words, groups)
        })
    }

    /// Runs `pipeline` over `groups` workgroups and returns the `out_words` output words
    /// (called by [`Self::run`], inside its error scopes).
    fn dispatch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        params: Params,
        src: &[u32],
        extra: Option<&[u8]>,
        out_words: usize,
        groups: (u32, u32),
    ) -> Result<Vec<u32>> {
        let d = &self.device;
        let uniform = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: bytemuck::bytes_of(&params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let src_buf = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("src"),
            contents: bytemuck::cast_slice(src),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let size = (out_words * 4) as u64;
        let dst = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dst"),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let extra_buf = extra.map(|bytes| {
            d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("extra"),
                contents: bytes,
                usage: wgpu::BufferUsages::STORAGE,
            })
        });
        let mut entries = vec![
            wgpu::BindGroupEntry {
                binding: 0,
                resource: uniform.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: src_buf.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: dst.as_entire_binding(),
            },
        ];
        if let Some(b) = &extra_buf {
            entries.push(wgpu::BindGroupEntry {
                binding: 3,
                resource: b.as_entire_binding(),
            });
        }
        let bind = d.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut encoder = d.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, 1);
        }
        encoder.copy_buffer_to_buffer(&dst, 0, &readback, 0, size);
        submit_and_read(d, &self.queue, encoder, &readback)
    }
}

/// Runs `f` inside validation and out-of-memory error scopes of `device`: an error the
/// device reports while doing `what` becomes the result's error.
pub(crate) fn scoped<T>(
    device: &wgpu::Device,
    what: &str,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let result = f();
    let out_of_memory = pollster::block_on(memory.pop());
    let invalid = pollster::block_on(validation.pop());
    if let Some(e) = out_of_memory {
        return Err(UserError::new(
            ErrorCategory::Memory,
            format!("wgpu: out of GPU memory in {what}: {e}"),
        )
        .hint("use a smaller project size, or set WAYFARER_COMPUTE=cpu"));
    }
    if let Some(e) = invalid {
        return Err(gpu_error(format!("the device refused {what}: {e}")));
    }
    result
}

/// Submits `encoder`, waits for the device, and returns the contents of `readback` (a
/// `MAP_READ` buffer the encoder copies results into) as values of `T`.
pub(crate) fn submit_and_read<T: bytemuck::Pod>(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    encoder: wgpu::CommandEncoder,
    readback: &wgpu::Buffer,
) -> Result<Vec<T>> {
    queue.submit([encoder.finish()]);
    let slice = readback.slice(..);
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| gpu_error(format!("device lost: {e}")))?;
    rx.recv()
        .map_err(gpu_error)?
        .map_err(|e| gpu_error(format!("cannot read results: {e}")))?;
    let values = {
        let view = slice
            .get_mapped_range()
            .map_err(|e| gpu_error(format!("cannot read results: {e}")))?;
        bytemuck::cast_slice::<u8, T>(&view).to_vec()
    };
    readback.unmap();
    Ok(values)
}

fn params(src: &Frame, dst_w: u32, dst_h: u32) -> Params {
    Params {
        src_w: src.width,
        src_h: src.height,
        dst_w,
        dst_h,
        crop_x: 0,
        crop_y: 0,
        crop_w: src.width,
        crop_h: src.height,
        amount: 0.0,
        padding: [0.0; 3],
    }
}

impl Compute for WgpuCompute {
    fn name(&self) -> String {
        format!("wgpu: {}", self.adapter)
    }

    fn take_notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }

    fn crop_resize(
        &self,
        src: &Frame,
        crop: (u32, u32, u32, u32),
        width: u32,
        height: u32,
    ) -> Result<Frame> {
        check_crop(src, crop, width, height)?;
        let groups = (width.div_ceil(16), height.div_ceil(16));
        let bytes = [
            u64::from(src.width) * u64::from(src.height) * 4,
            u64::from(width) * u64::from(height) * 4,
        ];
        if !self.fits("resizing a frame", &bytes, groups) {
            return CpuCompute.crop_resize(src, crop, width, height);
        }
        let mut p = params(src, width, height);
        (p.crop_x, p.crop_y, p.crop_w, p.crop_h) = crop;
        let words = self.run(
            &self.crop_resize,
            p,
            &pack(src),
            None,
            (width * height) as usize,
            (width.div_ceil(16), height.div_ceil(16)),
        )?;
        Ok(unpack(&words, width, height))
    }

    fn warp(&self, src: &Frame, flow: &FlowField, strength: f32) -> Result<Frame> {
        check_flow(src, flow)?;
        let pixels = u64::from(src.width) * u64::from(src.height);
        let groups = (src.width.div_ceil(16), src.height.div_ceil(16));
        if !self.fits("warping a frame", &[pixels * 4, pixels * 8], groups) {
            return CpuCompute.warp(src, flow, strength);
        }
        let mut p = params(src, src.width, src.height);
        p.amount = strength;
        let words = self.run(
            &self.warp,
            p,
            &pack(src),
            Some(bytemuck::cast_slice(&flow.data)),
            (src.width * src.height) as usize,
            (src.width.div_ceil(16), src.height.div_ceil(16)),
        )?;
        Ok(unpack(&words, src.width, src.height))
    }

    fn resize_flow(&self, flow: &FlowField, width: u32, height: u32) -> Result<FlowField> {
        super::check_flow_size(flow, width, height)?;
        let bytes = [
            u64::from(flow.width) * u64::from(flow.height) * 8,
            u64::from(width) * u64::from(height) * 8,
        ];
        if !self.fits(
            "resizing a flow field",
            &bytes,
            (width.div_ceil(16), height.div_ceil(16)),
        ) {
            return CpuCompute.resize_flow(flow, width, height);
        }
        let p = Params {
            src_w: flow.width,
            src_h: flow.height,
            dst_w: width,
            dst_h: height,
            crop_x: 0,
            crop_y: 0,
            crop_w: flow.width,
            crop_h: flow.height,
            amount: 0.0,
            padding: [0.0; 3],
        };
        let words = self.run(
            &self.flow_resize,
            p,
            bytemuck::cast_slice(&flow.data),
            None,
            (width * height * 2) as usize,
            (width.div_ceil(16), height.div_ceil(16)),
        )?;
        let floats: &[f32] = bytemuck::cast_slice(&words);
        Ok(FlowField {
            width,
            height,
            data: floats.chunks_exact(2).map(|v| [v[0], v[1]]).collect(),
        })
    }

    fn blend(&self, a: &Frame, b: &Frame, t: f32) -> Result<Frame> {
        check_same_size(a, b)?;
        let n = (a.width * a.height) as usize;
        let groups = (a.width.div_ceil(16), a.height.div_ceil(16));
        if !self.fits("blending frames", &[n as u64 * 4], groups) {
            return CpuCompute.blend(a, b, t);
        }
        let mut p = params(a, a.width, a.height);
        p.amount = t;
        let other = pack(b);
        let words = self.run(
            &self.blend,
            p,
            &pack(a),
            Some(bytemuck::cast_slice(&other)),
            n,
            groups,
        )?;
        Ok(unpack(&words, a.width, a.height))
    }
}
