//! `wayfarer plan`: how a project is cut into generation calls.

use std::path::PathBuf;

use wayfarer::UserError;
use wayfarer::generate::BackendConfig;
use wayfarer::render;

use super::BackendKind;

/// Show how a project is cut into generation calls.
#[derive(clap::Args)]
pub struct PlanArgs {
    /// Project file (JSON).
    project: PathBuf,
    /// Treat fields of the project that Wayfarer does not know (typos) as errors (exit 2)
    /// instead of warnings.
    #[arg(long)]
    strict: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
    /// Backend whose measured cost law decides `auto` merges and the predicted times
    /// (as for `render`).
    #[arg(long, value_enum, default_value_t = BackendKind::Builtin)]
    backend: BackendKind,
    /// ComfyUI API-format workflow template (its cost law is its own).
    #[arg(long)]
    template: Option<PathBuf>,
    /// ONNX model manifest (TOML) for the onnx backend.
    #[arg(long)]
    model: Option<PathBuf>,
}

impl PlanArgs {
    /// Prints the plan.
    pub fn run(self) -> Result<(), UserError> {
        let config = BackendConfig {
            kind: self.backend.name().into(),
            template: self.template,
            model: self.model,
            ..BackendConfig::default()
        };
        let project = super::load_project(
            &self.project,
            super::Warnings {
                strict: self.strict,
                json: false,
            },
        )?;
        let plan = render::plan_for(&project, &config, render::CostStore::user().as_ref())?;
        if self.json {
            let text = serde_json::to_string_pretty(&plan.to_json()).map_err(|e| {
                UserError::new(
                    wayfarer::ErrorCategory::SystemResource,
                    format!("cannot print the plan: {e}"),
                )
            })?;
            println!("{text}");
        } else {
            print!("{plan}");
        }
        Ok(())
    }
}
