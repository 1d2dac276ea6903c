#![warn(missing_docs)]
//! Wayfarer: travel videos from keyframe images on a timeline.
//!
//! Rooms (see `docs/ARCHITECTURE.md` §1): [`project`] (the document), [`plan`] (pure frame
//! arithmetic), [`media`] (libav and image I/O), [`guide`] (guide and mask frames of a
//! call), [`generate`] (generators), [`render`] (executing a plan, stitching, export),
//! [`ui`] (the studio).

pub mod dirs;
pub mod diskcache;
pub mod doctor;
pub mod error;
pub mod fidelity;
pub mod flow;
pub mod generate;
pub mod gpu;
pub mod guide;
pub mod media;
pub mod onnx;
pub mod plan;
pub mod project;
pub mod render;
pub mod stream;
pub mod structure;
pub mod sysmem;
#[cfg(feature = "studio")]
pub mod ui;

pub use error::{ErrorCategory, Result, UserError};
