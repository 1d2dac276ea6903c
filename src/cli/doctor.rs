//! `wayfarer doctor`: what Wayfarer finds on this machine, and ComfyUI server tests.

use std::path::PathBuf;
use std::time::Duration;

use wayfarer::generate;
use wayfarer::{UserError, doctor};

use super::support::whole;

/// Report what Wayfarer finds on this machine: libav, ONNX Runtime, wgpu, folders.
#[derive(clap::Args)]
pub struct DoctorArgs {
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Test a ComfyUI server without spending GPU time (reachability, device, node
    /// classes and model files of the template, a model-free round trip); repeatable.
    #[arg(long = "server", value_name = "URL")]
    servers: Vec<String>,
    /// Template whose node classes and model files --server checks (default: the
    /// shipped Wan VACE template).
    #[arg(long)]
    template: Option<PathBuf>,
    /// Longest one HTTP request of the server test may take, in seconds (1 to 86400).
    #[arg(long, default_value_t = 30, value_parser = whole::<1, 86_400>)]
    request_timeout: u64,
}

impl DoctorArgs {
    /// Prints the machine report, or tests the servers given.
    pub fn run(self) -> Result<(), UserError> {
        if !self.servers.is_empty() {
            return self.test_servers();
        }
        let report = doctor::run();
        if self.json {
            match serde_json::to_string_pretty(&report) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("error: cannot print the report: {e}"),
            }
        } else {
            println!("{report}");
        }
        Ok(())
    }

    /// Each server's connection test; a failed check is an error (exit 2).
    fn test_servers(&self) -> Result<(), UserError> {
        let mut failed = 0;
        let mut reports = Vec::new();
        for server in &self.servers {
            let report = generate::comfy::test_connection(
                server,
                self.template.as_deref(),
                Duration::from_secs(self.request_timeout.max(1)),
            )?;
            if !report.passed() {
                failed += 1;
            }
            if !self.json {
                println!("ComfyUI server {server}:");
                print!("{report}");
            }
            reports.push(serde_json::json!({
                "server": server,
                "passed": report.passed(),
                "items": report.items
            }));
        }
        if self.json {
            println!("{}", serde_json::Value::Array(reports));
        }
        if failed > 0 {
            return Err(UserError::input(format!(
                "{failed} of {} server(s) failed a check (see above)",
                self.servers.len()
            ))
            .hint("each FAIL line has its own hint"));
        }
        println!("All checks passed on {} server(s).", self.servers.len());
        Ok(())
    }
}
