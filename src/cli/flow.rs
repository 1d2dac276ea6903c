//! `wayfarer flow A.png B.png -o F.flo`: the optical flow from one picture to another, as
//! the structure-video stage estimates it, written in the Middlebury `.flo` format.

use std::path::PathBuf;
use std::time::Instant;

use wayfarer::UserError;
use wayfarer::flow::{DenseInverseSearch, DisPreset, FlowEstimator, RaftOnnx};

/// The built-in estimator's presets (as OpenCV's DIS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// Quarter resolution at the finest: about half the time of medium.
    Fast,
    /// Half resolution at the finest (the default).
    Medium,
    /// Full resolution: about four times medium's time, the finest flow.
    Fine,
}

/// Estimate the optical flow from picture A to picture B and write it as a `.flo` file.
#[derive(clap::Args)]
pub struct FlowArgs {
    /// The first picture: the flow is given at its pixels.
    a: PathBuf,
    /// The second picture (resized to A's size when the sizes differ).
    b: PathBuf,
    /// Where to write the flow (a Middlebury .flo file: B warped backward by it matches A).
    #[arg(short, long)]
    output: PathBuf,
    /// A RAFT-style ONNX flow model's manifest (TOML); without it, the built-in estimator.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The built-in estimator's preset: more work, finer flow.
    #[arg(long, value_enum, default_value_t = Preset::Medium)]
    preset: Preset,
    /// Print the estimator, size and time as one JSON line on standard output.
    #[arg(long)]
    json: bool,
}

impl FlowArgs {
    /// Estimates and writes the flow.
    pub fn run(self) -> Result<(), UserError> {
        self.check_output()?;
        let a = wayfarer::media::load_image(&self.a)?;
        let mut b = wayfarer::media::load_image(&self.b)?;
        if (a.width, a.height) != (b.width, b.height) {
            eprintln!(
                "note: {} is {}x{}, {} is {}x{}: B is resized to A's size",
                self.a.display(),
                a.width,
                a.height,
                self.b.display(),
                b.width,
                b.height
            );
            b = wayfarer::media::resize_exact(&b, a.width, a.height);
        }
        let estimator: Box<dyn FlowEstimator> = match &self.model {
            Some(manifest) => Box::new(RaftOnnx::load(
                manifest,
                wayfarer::onnx::want_cuda("WAYFARER_FLOW_CUDA"),
            )?),
            None => wayfarer::flow::builtin_for(DenseInverseSearch::preset(match self.preset {
                Preset::Fast => DisPreset::Fast,
                Preset::Medium => DisPreset::Medium,
                Preset::Fine => DisPreset::Fine,
            }))?,
        };
        let started = Instant::now();
        let flow = estimator.estimate(&a, &b)?;
        let secs = started.elapsed().as_secs_f64();
        wayfarer::flow::write_flo(&self.output, &flow)?;
        let longest = flow
            .data
            .iter()
            .map(|v| v[0].hypot(v[1]))
            .fold(0.0f32, f32::max);
        if self.json {
            super::json_line(&serde_json::json!({
                "event": "flow",
                "estimator": estimator.describe(),
                "width": flow.width,
                "height": flow.height,
                "secs": secs,
                "longest_vector_px": longest,
                "output": self.output,
            }));
        }
        eprintln!(
            "flow: {}x{} by {} in {:.2} s (longest vector {longest:.1} px), written to {}",
            flow.width,
            flow.height,
            estimator.describe(),
            secs,
            self.output.display()
        );
        Ok(())
    }

    /// Refuses an output that would destroy an input or is not a `.flo` file.
    fn check_output(&self) -> Result<(), UserError> {
        let is_flo = self
            .output
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("flo"));
        if !is_flo {
            return Err(UserError::input(format!(
                "output {}: a flow is written as a .flo file",
                self.output.display()
            ))
            .hint("give the output a .flo name, e.g. -o flow.flo"));
        }
        if self.output.is_dir() {
            return Err(UserError::input(format!(
                "output {}: this is a folder",
                self.output.display()
            ))
            .hint("give a file name, e.g. -o flow.flo"));
        }
        wayfarer::render::refuse_special_output(&self.output)?;
        for (what, input) in [("picture A", &self.a), ("picture B", &self.b)] {
            if wayfarer::render::is_same_file(&self.output, input) {
                return Err(UserError::input(format!(
                    "output {}: this is {what}; writing the flow there would destroy it",
                    self.output.display()
                ))
                .hint("choose another output file"));
            }
        }
        Ok(())
    }
}
