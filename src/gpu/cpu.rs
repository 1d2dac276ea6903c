//! The CPU implementation of [`Compute`](super::Compute) (rows in parallel with rayon).
//! Keep in sync with `shaders/*.wgsl`.

use super::kernels;
use super::{Compute, FlowField, check_crop, check_flow, check_same_size};
use crate::error::Result;
use crate::media::Frame;

/// Runs the compute operations on the CPU.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuCompute;

impl Compute for CpuCompute {
    fn name(&self) -> String {
        "cpu".into()
    }

    fn crop_resize(
        &self,
        src: &Frame,
        crop: (u32, u32, u32, u32),
        width: u32,
        height: u32,
    ) -> Result<Frame> {
        check_crop(src, crop, width, height)?;
        Ok(Frame {
            width,
            height,
            data: kernels::crop_resize(src, crop, width, height),
        })
    }

    fn warp(&self, src: &Frame, flow: &FlowField, strength: f32) -> Result<Frame> {
        check_flow(src, flow)?;
        Ok(Frame {
            width: src.width,
            height: src.height,
            data: kernels::warp(src, &flow.data, strength),
        })
    }

    fn resize_flow(&self, flow: &FlowField, width: u32, height: u32) -> Result<FlowField> {
        super::check_flow_size(flow, width, height)?;
        Ok(super::resize_flow(flow, width, height))
    }

    fn blend(&self, a: &Frame, b: &Frame, t: f32) -> Result<Frame> {
        check_same_size(a, b)?;
        Ok(Frame {
            width: a.width,
            height: a.height,
            data: kernels::blend(&a.data, &b.data, t),
        })
    }
}
