//! One compute interface, two implementations: wgpu (WGSL in `shaders/`) and the CPU, with
//! the same semantics: resize (area average when shrinking, bilinear when enlarging, pixel
//! centres as OpenCV's `INTER_AREA` / `INTER_LINEAR`), crop-to-fit, backward warp by a flow
//! field (bilinear, border replicate, as `cv2.remap`), flow resize (vectors scaled) and
//! blend. Pixels are
//! computed in f32 and rounded half up, so the two agree within one 8-bit level.
//!
//! [`select`] picks wgpu when a hardware adapter exists, the CPU otherwise (a software
//! adapter such as llvmpipe is passed over, and the name says so);
//! `WAYFARER_COMPUTE=cpu|wgpu` overrides (`wgpu` takes a software adapter too). Must not know about projects or the UI.

#[cfg(target_arch = "x86_64")]
mod avx2;
mod cpu;
mod kernels;
mod wgpu_compute;

pub use cpu::CpuCompute;
pub use wgpu_compute::WgpuCompute;
pub(crate) use wgpu_compute::{
    GpuDevice, gpu_error, open_device, pipeline, scoped, submit_and_read,
};

use crate::error::{ErrorCategory, Result, UserError};
use crate::media::{Frame, center_crop_rect};

/// A dense motion field: for every pixel, where to sample the source (`dx`, `dy` in pixels).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowField {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `(dx, dy)` per pixel, rows top to bottom.
    pub data: Vec<[f32; 2]>,
}

impl FlowField {
    /// A field with the same vector everywhere.
    pub fn uniform(width: u32, height: u32, dx: f32, dy: f32) -> Self {
        Self {
            width,
            height,
            data: vec![[dx, dy]; width as usize * height as usize],
        }
    }

    /// The vector at (`x`, `y`).
    pub fn at(&self, x: u32, y: u32) -> [f32; 2] {
        self.data[(y * self.width + x) as usize]
    }
}

/// Parameters shared by the CPU and the GPU paths; keep in sync with `shaders/*.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    /// Source size and crop origin.
    pub src_w: u32,
    /// Source height.
    pub src_h: u32,
    /// Destination width.
    pub dst_w: u32,
    /// Destination height.
    pub dst_h: u32,
    /// Crop rectangle in the source (x, y, width, height).
    pub crop_x: u32,
    /// Crop top.
    pub crop_y: u32,
    /// Crop width.
    pub crop_w: u32,
    /// Crop height.
    pub crop_h: u32,
    /// Warp: flow multiplier; blend: weight of the second frame.
    pub amount: f32,
    /// Padding to 16 bytes.
    pub padding: [f32; 3],
}

/// Image operations with one meaning on every device.
pub trait Compute: Send + Sync {
    /// What runs the operations, e.g. `cpu` or `wgpu: llvmpipe (Vulkan)`.
    fn name(&self) -> String;

    /// What the device did differently since the last call (e.g. an operation too large
    /// for it that ran on the CPU), for the user; empty for the CPU.
    fn take_notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Resizes the `crop` rectangle `(x, y, w, h)` of `src` to `width` x `height`: area
    /// average per axis when shrinking, bilinear when enlarging.
    fn crop_resize(
        &self,
        src: &Frame,
        crop: (u32, u32, u32, u32),
        width: u32,
        height: u32,
    ) -> Result<Frame>;

    /// Backward warp: `out(x, y) = src(x + s * dx, y + s * dy)`, bilinear, border replicate.
    fn warp(&self, src: &Frame, flow: &FlowField, strength: f32) -> Result<Frame>;

    /// `a * (1 - t) + b * t`.
    fn blend(&self, a: &Frame, b: &Frame, t: f32) -> Result<Frame>;

    /// Resizes a flow field (bilinear at pixel centres, border replicate) and scales its
    /// vectors by the size ratio.
    fn resize_flow(&self, flow: &FlowField, width: u32, height: u32) -> Result<FlowField>;

    /// Center-crops to the aspect of `width` x `height`, then resizes: never stretched.
    fn crop_fit(&self, src: &Frame, width: u32, height: u32) -> Result<Frame> {
        let crop = center_crop_rect(src.width, src.height, width, height);
        self.crop_resize(src, crop, width, height)
    }
}

/// Resizes a flow field to `width` x `height` (bilinear) and scales its vectors to the new
/// pixel size.
pub fn resize_flow(flow: &FlowField, width: u32, height: u32) -> FlowField {
    use rayon::prelude::*;
    let sx = width as f32 / flow.width as f32;
    let sy = height as f32 / flow.height as f32;
    let mut data = vec![[0.0f32; 2]; width as usize * height as usize];
    // Rows in parallel; each pixel's arithmetic as before.
    data.par_chunks_mut(width as usize)
        .enumerate()
        .for_each(|(y, row)| {
            let fy = ((y as f32 + 0.5) / sy - 0.5).clamp(0.0, (flow.height - 1) as f32);
            let y0 = fy.floor() as u32;
            let y1 = (y0 + 1).min(flow.height - 1);
            let ay = fy - y0 as f32;
            for (x, out) in row.iter_mut().enumerate() {
                let fx = ((x as f32 + 0.5) / sx - 0.5).clamp(0.0, (flow.width - 1) as f32);
                let x0 = fx.floor() as u32;
                let x1 = (x0 + 1).min(flow.width - 1);
                let ax = fx - x0 as f32;
                let mut v = [0.0f32; 2];
                for (c, o) in v.iter_mut().enumerate() {
                    let top = flow.at(x0, y0)[c] * (1.0 - ax) + flow.at(x1, y0)[c] * ax;
                    let bottom = flow.at(x0, y1)[c] * (1.0 - ax) + flow.at(x1, y1)[c] * ax;
                    *o = top * (1.0 - ay) + bottom * ay;
                }
                *out = [v[0] * sx, v[1] * sy];
            }
        });
    FlowField {
        width,
        height,
        data,
    }
}

/// Which implementation to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// wgpu when an adapter exists, else the CPU.
    Auto,
    /// Always the CPU.
    Cpu,
    /// wgpu; an error when no adapter exists.
    Wgpu,
}

impl Choice {
    /// Reads `WAYFARER_COMPUTE` (`cpu`, `wgpu`, or unset for automatic).
    pub fn from_env() -> Result<Self> {
        match std::env::var("WAYFARER_COMPUTE").as_deref() {
            Err(_) | Ok("" | "auto") => Ok(Choice::Auto),
            Ok("cpu") => Ok(Choice::Cpu),
            Ok("wgpu") => Ok(Choice::Wgpu),
            Ok(other) => Err(UserError::input(format!(
                "WAYFARER_COMPUTE: unknown value {other:?}"
            ))
            .hint("use cpu, wgpu or auto")),
        }
    }
}

/// The compute implementation for `choice`; the result's [`Compute::name`] says which ran.
/// `Auto` never takes a software (CPU-type) adapter such as llvmpipe or lavapipe: it was
/// measured slower than the CPU path; the name then says why the CPU runs.
pub fn select(choice: Choice) -> Result<Box<dyn Compute>> {
    match choice {
        Choice::Cpu => Ok(Box::new(CpuCompute)),
        Choice::Wgpu => Ok(Box::new(WgpuCompute::new(true)?)),
        Choice::Auto => match WgpuCompute::new(false) {
            Ok(gpu) => Ok(Box::new(gpu)),
            Err(e) => Ok(Box::new(CpuBecause(e.message))),
        },
    }
}

/// The CPU path chosen by [`select`] because wgpu was passed over; its name says why.
struct CpuBecause(String);

impl Compute for CpuBecause {
    fn name(&self) -> String {
        format!("cpu ({})", self.0)
    }

    fn crop_resize(
        &self,
        src: &Frame,
        crop: (u32, u32, u32, u32),
        width: u32,
        height: u32,
    ) -> Result<Frame> {
        CpuCompute.crop_resize(src, crop, width, height)
    }

    fn warp(&self, src: &Frame, flow: &FlowField, strength: f32) -> Result<Frame> {
        CpuCompute.warp(src, flow, strength)
    }

    fn blend(&self, a: &Frame, b: &Frame, t: f32) -> Result<Frame> {
        CpuCompute.blend(a, b, t)
    }

    fn resize_flow(&self, flow: &FlowField, width: u32, height: u32) -> Result<FlowField> {
        CpuCompute.resize_flow(flow, width, height)
    }
}

fn check_same_size(a: &Frame, b: &Frame) -> Result<()> {
    if (a.width, a.height) != (b.width, b.height) {
        return Err(UserError::new(
            ErrorCategory::GenerationPipeline,
            format!(
                "blend needs frames of one size, got {}x{} and {}x{}",
                a.width, a.height, b.width, b.height
            ),
        ));
    }
    Ok(())
}

fn check_flow(src: &Frame, flow: &FlowField) -> Result<()> {
    if (src.width, src.height) != (flow.width, flow.height) {
        return Err(UserError::new(
            ErrorCategory::GenerationPipeline,
            format!(
                "warp needs a flow field of the frame's size: frame {}x{}, flow {}x{}",
                src.width, src.height, flow.width, flow.height
            ),
        ));
    }
    Ok(())
}

fn check_crop(src: &Frame, crop: (u32, u32, u32, u32), width: u32, height: u32) -> Result<()> {
    let (x, y, w, h) = crop;
    if w == 0 || h == 0 || x + w > src.width || y + h > src.height || width == 0 || height == 0 {
        return Err(UserError::new(
            ErrorCategory::GenerationPipeline,
            format!(
                "crop {crop:?} to {width}x{height} does not fit a {}x{} frame",
                src.width, src.height
            ),
        ));
    }
    Ok(())
}

fn check_flow_size(flow: &FlowField, width: u32, height: u32) -> Result<()> {
    if flow.width == 0 || flow.height == 0 || width == 0 || height == 0 {
        return Err(UserError::new(
            ErrorCategory::GenerationPipeline,
            format!(
                "cannot resize a {}x{} flow field to {width}x{height}",
                flow.width, flow.height
            ),
        ));
    }
    Ok(())
}
