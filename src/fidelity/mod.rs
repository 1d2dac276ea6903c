//! Fidelity: what a render does and measures so the video keeps the keyframes' look —
//! colour match of generated frames ([`color`]), the alignment of chained calls' overlaps
//! before they are crossfaded ([`seams`]) and the quality report of every render
//! ([`quality`]). Works on [`Frame`](crate::media::Frame)s only; loads and writes nothing.

pub mod color;
pub mod lab;
pub mod quality;
pub mod seams;

pub use color::{ColorMatch, ColorMethod, match_call};
pub use lab::{ColorStats, delta_e76};
pub use quality::{QualityProbe, QualityReport};
pub use seams::SeamAligner;
