//! `wayfarer cache list|clear`: the flow-field and call-output caches.

use wayfarer::UserError;
use wayfarer::render;

/// List or clear the caches (flow fields, finished call outputs).
#[derive(clap::Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    action: Option<CacheAction>,
}

/// What to do with the caches.
#[derive(Clone, Copy, clap::Subcommand)]
enum CacheAction {
    /// List what the caches hold (the default).
    List,
    /// Remove everything the caches hold.
    Clear,
}

impl CacheArgs {
    /// Lists or clears the caches.
    pub fn run(self) -> Result<(), UserError> {
        let no_dir = || {
            UserError::input("cache: no per-user cache folder (no home folder)")
                .hint("set HOME or XDG_CACHE_HOME")
        };
        let flows = wayfarer::flow::FlowCache::user().ok_or_else(no_dir)?;
        let calls = render::CallCache::user();
        if let Some(CacheAction::Clear) = self.action {
            let n = flows.clear()?;
            println!("removed {n} flow field(s) from {}", flows.dir().display());
            if let Some(c) = &calls {
                let n = c.clear()?;
                println!("removed {n} call output(s) from {}", c.dir().display());
            }
            return Ok(());
        }
        let mut caches = vec![("flow field(s)", flows.dir().to_path_buf(), flows.list()?)];
        if let Some(c) = &calls {
            caches.push(("call output(s)", c.dir().to_path_buf(), c.list()?));
        }
        for (what, dir, entries) in caches {
            let total: u64 = entries.iter().map(|e| e.bytes).sum();
            println!(
                "{}: {} {what}, {:.1} MiB",
                dir.display(),
                entries.len(),
                total as f64 / f64::from(1 << 20)
            );
            for e in entries {
                println!(
                    "  {}  {:>10} bytes  used {} s ago",
                    e.name, e.bytes, e.idle_secs
                );
            }
        }
        Ok(())
    }
}
