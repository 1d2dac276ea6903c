//! Dense inverse search on a GPU through wgpu: the scheme of [`DenseInverseSearch`] with
//! parallel propagation (its CPU twin), in WGSL (`shaders/dis_*.wgsl`) with the same
//! arithmetic in the same order. Both images' pyramids, every level's patch search,
//! propagation rounds and densification, the variational refinement and the upscaling
//! between levels are dispatched in
//! one submission; only the final field is read back. `tests/flow_gpu.rs` holds the two to
//! within 0.05 px (mean end-point error) of each other.

use wgpu::util::DeviceExt;

use super::dis::origins;
use super::{DenseInverseSearch, FlowEstimator};
use crate::error::{Result, UserError};
use crate::gpu::{
    FlowField, GpuDevice, Params, gpu_error, open_device, pipeline, scoped, submit_and_read,
};
use crate::media::Frame;

/// The largest patch side the shaders handle (their residuals live in a 64-value array).
pub const MAX_GPU_PATCH: usize = 8;

/// Parameters of one dispatch; keep in sync with `DisParams` in `shaders/dis_common.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct DisParams {
    w: u32,
    h: u32,
    sw: u32,
    sh: u32,
    pw: u32,
    ph: u32,
    stride: u32,
    iterations: u32,
    nx: u32,
    ny: u32,
    last_x: u32,
    last_y: u32,
}

/// Dense inverse search on a wgpu adapter.
pub struct DisWgpu {
    settings: DenseInverseSearch,
    gpu: GpuDevice,
    gray: wgpu::ComputePipeline,
    half: wgpu::ComputePipeline,
    grad: wgpu::ComputePipeline,
    search: wgpu::ComputePipeline,
    propagate: wgpu::ComputePipeline,
    densify: wgpu::ComputePipeline,
    refine_prep: wgpu::ComputePipeline,
    refine_weigh: wgpu::ComputePipeline,
    refine_jacobi: wgpu::ComputePipeline,
    refine_add: wgpu::ComputePipeline,
    resize: wgpu::ComputePipeline,
}

impl DisWgpu {
    /// The estimator with `settings` on the default adapter; an error when there is none,
    /// when it renders on the CPU and `allow_cpu_adapter` is false, or when the settings
    /// ask for what the shaders do not run (propagation sweeps, smoothing, patches over 8
    /// pixels).
    pub fn new(settings: DenseInverseSearch, allow_cpu_adapter: bool) -> Result<Self> {
        if settings.propagation
            || settings.smoothing > 0
            || settings.patch == 0
            || settings.patch > MAX_GPU_PATCH
            || settings.stride == 0
        {
            return Err(UserError::input(
                "the GPU flow runs parallel propagation with patches of 1 to 8 pixels, without smoothing",
            )
            .hint("use a preset (fast, medium or fine), or set WAYFARER_COMPUTE=cpu"));
        }
        let gpu = open_device(allow_cpu_adapter)?;
        // A shader this adapter's driver refuses makes the estimator unavailable (the
        // caller then uses the CPU twin), never a failed render later.
        let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let common = include_str!("../../shaders/dis_common.wgsl");
        let d = &gpu.device;
        let sample = include_str!("../../shaders/dis_sample.wgsl");
        let refine = include_str!("../../shaders/dis_refine.wgsl");
        let search_src = format!(
            "{}\n{sample}",
            include_str!("../../shaders/dis_search.wgsl")
        );
        let densify_src = format!(
            "{}\n{sample}",
            include_str!("../../shaders/dis_densify.wgsl")
        );
        let estimator = Self {
            gray: pipeline(
                d,
                "dis_gray",
                common,
                include_str!("../../shaders/dis_gray.wgsl"),
                "main",
            ),
            half: pipeline(
                d,
                "dis_half",
                common,
                include_str!("../../shaders/dis_half.wgsl"),
                "main",
            ),
            grad: pipeline(
                d,
                "dis_grad",
                common,
                include_str!("../../shaders/dis_grad.wgsl"),
                "main",
            ),
            search: pipeline(d, "dis_search", common, &search_src, "search"),
            propagate: pipeline(d, "dis_propagate", common, &search_src, "propagate"),
            densify: pipeline(d, "dis_densify", common, &densify_src, "main"),
            refine_prep: pipeline(d, "dis_refine_prep", common, refine, "prep"),
            refine_weigh: pipeline(d, "dis_refine_weigh", common, refine, "weigh"),
            refine_jacobi: pipeline(d, "dis_refine_jacobi", common, refine, "jacobi"),
            refine_add: pipeline(d, "dis_refine_add", common, refine, "add"),
            resize: pipeline(
                d,
                "flow_resize",
                include_str!("../../shaders/common.wgsl"),
                include_str!("../../shaders/flow_resize.wgsl"),
                "main",
            ),
            settings,
            gpu,
        };
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(gpu_error(format!(
                "the flow shaders do not compile on this adapter: {e}"
            )));
        }
        Ok(estimator)
    }

    /// The adapter's name and backend, e.g. `NVIDIA H200 (Vulkan)`.
    pub fn adapter(&self) -> &str {
        &self.gpu.adapter
    }

    /// Whether the adapter renders on the CPU (llvmpipe, lavapipe).
    pub fn cpu_adapter(&self) -> bool {
        self.gpu.cpu_adapter
    }

    /// The settings, which are also the CPU twin: `DenseInverseSearch` with them computes
    /// the same field on the CPU.
    pub fn settings(&self) -> DenseInverseSearch {
        self.settings
    }

    /// Whether a `w` x `h` pair fits the device's buffers and workgroup counts.
    fn fits(&self, w: u32, h: u32) -> bool {
        let limits = &self.gpu.limits;
        let largest = u64::from(w) * u64::from(h) * 8;
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let groups = w.div_ceil(8).max(h.div_ceil(8));
        largest <= max_binding && groups <= limits.max_compute_workgroups_per_dimension
    }

    /// Runs the whole estimate inside error scopes: a validation or out-of-memory error of
    /// the device becomes an error of the estimate.
    fn run(&self, a: &Frame, b: &Frame) -> Result<FlowField> {
        scoped(&self.gpu.device, "the flow estimate", || {
            self.dispatch(a, b)
        })
    }

    fn dispatch(&self, a: &Frame, b: &Frame) -> Result<FlowField> {
        let d = &self.gpu.device;
        let s = &self.settings;
        let (w, h) = (a.width as usize, a.height as usize);
        let sizes = s.level_sizes(w, h);
        let coarsest = sizes.len() - 1;
        let finest = (s.finest_level as usize).min(coarsest);
        let storage = |bytes: usize| {
            d.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: bytes.max(8) as u64,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        };
        let packed = |f: &Frame| {
            let words: Vec<u32> = f
                .data
                .chunks_exact(3)
                .map(|p| u32::from(p[0]) | (u32::from(p[1]) << 8) | (u32::from(p[2]) << 16))
                .collect();
            d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("rgb"),
                contents: bytemuck::cast_slice(&words),
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        let mut encoder = d.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        let mut pass = Pass {
            device: d,
            encoder: &mut encoder,
        };
        let level_params = |level: usize| {
            let (lw, lh) = sizes[level];
            DisParams {
                w: lw as u32,
                h: lh as u32,
                ..DisParams::default()
            }
        };
        // The luminance pyramids of both images.
        let (rgb_a, rgb_b) = (packed(a), packed(b));
        let mut g0 = vec![storage(w * h * 4)];
        let mut g1 = vec![storage(w * h * 4)];
        let full = level_params(0);
        let groups = |p: &DisParams, side: u32| (p.w.div_ceil(side), p.h.div_ceil(side));
        pass.run(&self.gray, &full, &[&rgb_a, &g0[0]], groups(&full, 16));
        pass.run(&self.gray, &full, &[&rgb_b, &g1[0]], groups(&full, 16));
        for level in 1..=coarsest {
            let (lw, lh) = sizes[level];
            let (sw, sh) = sizes[level - 1];
            let p = DisParams {
                sw: sw as u32,
                sh: sh as u32,
                ..level_params(level)
            };
            let (n0, n1) = (storage(lw * lh * 4), storage(lw * lh * 4));
            pass.run(&self.half, &p, &[&g0[level - 1], &n0], groups(&p, 16));
            pass.run(&self.half, &p, &[&g1[level - 1], &n1], groups(&p, 16));
            g0.push(n0);
            g1.push(n1);
        }
        // Coarse to fine, every level from the field of the one before (zero at first).
        let (mut fw, mut fh) = sizes[coarsest];
        let mut flow = storage(fw * fh * 8);
        for level in (finest..=coarsest).rev() {
            let (lw, lh) = sizes[level];
            if (fw, fh) != (lw, lh) {
                flow = self.resize(&mut pass, &flow, (fw, fh), (lw, lh), &storage);
                (fw, fh) = (lw, lh);
            }
            let (pw, ph) = (s.patch.min(lw), s.patch.min(lh));
            let (xs, ys) = (origins(lw, pw, s.stride), origins(lh, ph, s.stride));
            let p = DisParams {
                pw: pw as u32,
                ph: ph as u32,
                stride: s.stride as u32,
                iterations: s.iterations,
                nx: xs.len() as u32,
                ny: ys.len() as u32,
                last_x: (lw - pw) as u32,
                last_y: (lh - ph) as u32,
                ..level_params(level)
            };
            let (gx, gy) = (storage(lw * lh * 4), storage(lw * lh * 4));
            pass.run(&self.grad, &p, &[&g0[level], &gx, &gy], groups(&p, 16));
            let patch_groups = (p.nx.div_ceil(8), p.ny.div_ceil(8));
            let mut patches = storage(xs.len() * ys.len() * 8);
            let images = [&g0[level], &g1[level], &gx, &gy];
            pass.run_at(
                &self.search,
                &p,
                &[
                    (1, images[0]),
                    (2, images[1]),
                    (3, images[2]),
                    (4, images[3]),
                    (5, &flow),
                    (7, &patches),
                ],
                patch_groups,
            );
            for _ in 0..s.rounds {
                let next = storage(xs.len() * ys.len() * 8);
                pass.run_at(
                    &self.propagate,
                    &p,
                    &[
                        (1, images[0]),
                        (2, images[1]),
                        (3, images[2]),
                        (4, images[3]),
                        (6, &patches),
                        (7, &next),
                    ],
                    patch_groups,
                );
                patches = next;
            }
            let dense = storage(lw * lh * 8);
            pass.run(
                &self.densify,
                &p,
                &[&g0[level], &g1[level], &patches, &flow, &dense],
                groups(&p, 16),
            );
            flow = dense;
            if level == finest && s.refinement > 0 {
                let images = [&g0[level], &g1[level], &gx, &gy];
                flow = self.refine(&mut pass, &p, images, &flow, &storage);
            }
        }
        if (fw, fh) != (w, h) {
            flow = self.resize(&mut pass, &flow, (fw, fh), (w, h), &storage);
        }
        let data = self.read_back(encoder, &flow, w * h)?;
        Ok(FlowField {
            width: a.width,
            height: a.height,
            data,
        })
    }

    /// Submits `encoder` with a copy of the field `flow` (`pixels` vectors) appended, and
    /// reads the field back.
    fn read_back(
        &self,
        mut encoder: wgpu::CommandEncoder,
        flow: &wgpu::Buffer,
        pixels: usize,
    ) -> Result<Vec<[f32; 2]>> {
        let d = &self.gpu.device;
        let bytes = (pixels * 8) as u64;
        let readback = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("flow readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        encoder.copy_buffer_to_buffer(flow, 0, &readback, 0, bytes);
        submit_and_read(d, &self.gpu.queue, encoder, &readback)
    }

    /// Records the variational refinement of the level's field `flow` (as `flow::refine`):
    /// `images` are the level's two images and the first one's gradients.
    fn refine(
        &self,
        pass: &mut Pass,
        p: &DisParams,
        [i0, i1, gx0, gy0]: [&wgpu::Buffer; 4],
        flow: &wgpu::Buffer,
        storage: &dyn Fn(usize) -> wgpu::Buffer,
    ) -> wgpu::Buffer {
        let pixels = (p.w * p.h) as usize;
        let groups = (p.w.div_ceil(16), p.h.div_ceil(16));
        let (gx1, gy1) = (storage(pixels * 4), storage(pixels * 4));
        pass.run(&self.grad, p, &[i1, &gx1, &gy1], groups);
        let terms = storage(pixels * 16);
        let inputs = [(1, i0), (2, i1), (3, gx0), (4, gy0), (5, &gx1), (6, &gy1)];
        let mut bindings: Vec<(u32, &wgpu::Buffer)> = inputs.to_vec();
        bindings.extend([(7, flow), (11, &terms)]);
        pass.run_at(&self.refine_prep, p, &bindings, groups);
        let (mut d, mut next) = (storage(pixels * 8), storage(pixels * 8));
        let weights = storage(pixels * 8);
        for _ in 0..self.settings.refinement {
            let weigh = [(7, flow), (8, &terms), (9, &d), (12, &weights)];
            pass.run_at(&self.refine_weigh, p, &weigh, groups);
            for _ in 0..super::refine::SWEEPS {
                let step = [(7, flow), (8, &terms), (9, &d), (10, &weights), (13, &next)];
                pass.run_at(&self.refine_jacobi, p, &step, groups);
                std::mem::swap(&mut d, &mut next);
            }
        }
        let out = storage(pixels * 8);
        pass.run_at(
            &self.refine_add,
            p,
            &[(7, flow), (9, &d), (13, &out)],
            groups,
        );
        out
    }

    /// Records the resize of the field `flow` (`from`) to `to`, vectors scaled, as
    /// [`crate::gpu::resize_flow`]; returns the new field's buffer.
    fn resize(
        &self,
        pass: &mut Pass,
        flow: &wgpu::Buffer,
        from: (usize, usize),
        to: (usize, usize),
        storage: &dyn Fn(usize) -> wgpu::Buffer,
    ) -> wgpu::Buffer {
        let out = storage(to.0 * to.1 * 8);
        let p = Params {
            src_w: from.0 as u32,
            src_h: from.1 as u32,
            dst_w: to.0 as u32,
            dst_h: to.1 as u32,
            crop_x: 0,
            crop_y: 0,
            crop_w: from.0 as u32,
            crop_h: from.1 as u32,
            amount: 0.0,
            padding: [0.0; 3],
        };
        let groups = ((to.0 as u32).div_ceil(16), (to.1 as u32).div_ceil(16));
        pass.run(&self.resize, &p, &[flow, &out], groups);
        out
    }
}

/// The command encoder the dispatches of one estimate are recorded into.
struct Pass<'a> {
    device: &'a wgpu::Device,
    encoder: &'a mut wgpu::CommandEncoder,
}

impl Pass<'_> {
    /// Records `pipeline` over `groups` with the uniform `params` at binding 0 and
    /// `buffers` at bindings 1, 2, ...
    fn run<P: bytemuck::Pod>(
        &mut self,
        pipeline: &wgpu::ComputePipeline,
        params: &P,
        buffers: &[&wgpu::Buffer],
        groups: (u32, u32),
    ) {
        let at: Vec<(u32, &wgpu::Buffer)> = (1u32..).zip(buffers.iter().copied()).collect();
        self.run_at(pipeline, params, &at, groups);
    }

    /// Records `pipeline` over `groups` with the uniform `params` at binding 0 and each
    /// buffer at its binding.
    fn run_at<P: bytemuck::Pod>(
        &mut self,
        pipeline: &wgpu::ComputePipeline,
        params: &P,
        buffers: &[(u32, &wgpu::Buffer)],
        groups: (u32, u32),
    ) {
        let uniform = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::bytes_of(params),
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        entries.extend(buffers.iter().map(|(binding, b)| wgpu::BindGroupEntry {
            binding: *binding,
            resource: b.as_entire_binding(),
        }));
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pass = self
            .encoder
            .begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(groups.0.max(1), groups.1.max(1), 1);
    }
}

impl FlowEstimator for DisWgpu {
    fn identity(&self) -> String {
        format!("{}/wgpu", self.settings.identity())
    }

    fn describe(&self) -> String {
        format!(
            "built-in dense inverse search ({}) on wgpu: {}",
            self.settings.preset.name(),
            self.gpu.adapter
        )
    }

    fn estimate(&self, a: &Frame, b: &Frame) -> Result<FlowField> {
        super::check_pair(a, b)?;
        if !self.fits(a.width, a.height) {
            // Too large for the device's buffers: the CPU twin computes the same field.
            return self.settings.estimate(a, b);
        }
        match self.run(a, b) {
            Ok(flow) => Ok(flow),
            // Out of GPU memory or refused by the device: the CPU twin computes the same
            // field, so the render goes on (and the log says why).
            Err(e) => {
                tracing::warn!("flow on wgpu failed, estimated on the CPU: {}", e.message);
                self.settings.estimate(a, b)
            }
        }
    }
}
