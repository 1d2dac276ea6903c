//! Riding out a ComfyUI restart: a call whose server stopped answering waits for it
//! (`/system_stats` polled with a growing pause, each wait a note, cancellable) up to the
//! backend's reconnect limit, then fails for good with what to do.

use std::time::{Duration, Instant};

use super::ComfyBackend;
use super::client::Client;
use crate::error::{Result, UserError};
use crate::generate::{CallProgress, CancelToken};

/// How waiting for a server ended.
pub(super) enum Wait {
    /// It answered again after being down: try the call again.
    Back,
    /// It answered at once: it is up, so the failure was not a restart.
    Up,
    /// It did not answer before the wait was over.
    Gone,
}

impl ComfyBackend {
    /// The final error after waiting in vain for a server: not retried again (the wait was
    /// the retry), with what to do.
    pub(super) fn gave_up(&self, mut e: UserError, started: Instant) -> UserError {
        e.message = format!(
            "{} (waited {} s for a server to come back)",
            e.message,
            started.elapsed().as_secs()
        );
        e.suggestions = vec![format!(
            "start the server or check its address, then render again: finished calls are kept (the wait is {} s; longer with --reconnect-timeout in a terminal, or Reconnect wait in the studio)",
            self.reconnect.as_secs()
        )];
        e.retryable = false;
        e
    }

    /// Waits for one of the servers `failed_on` to answer again, polling `/system_stats`
    /// with a growing pause (0.5 s doubling to 5 s) until `until`. Each wait is reported as
    /// a note; `Err` when cancelled.
    pub(super) fn wait_for_server(
        &self,
        failed_on: &[usize],
        progress: &mut dyn FnMut(CallProgress),
        cancel: &CancelToken,
        started: Instant,
        until: Instant,
    ) -> Result<Wait> {
        let clients: Vec<(usize, Client)> = {
            let servers = self.lock();
            failed_on
                .iter()
                .map(|&i| (i, servers[i].client.clone()))
                .collect()
        };
        let mut pause = Duration::from_millis(500);
        let mut first = true;
        loop {
            for (i, client) in &clients {
                if self.runtime.block_on(client.system_stats()).is_ok() {
                    let mut servers = self.lock();
                    servers[*i].healthy = true;
                    servers[*i].last_error = None;
                    return Ok(if first { Wait::Up } else { Wait::Back });
                }
            }
            first = false;
            let now = Instant::now();
            if now >= until {
                return Ok(Wait::Gone);
            }
            let names: Vec<&str> = clients.iter().map(|(_, c)| c.base.as_str()).collect();
            progress(CallProgress {
                fraction: 0.0,
                step: None,
                note: Some(format!(
                    "ComfyUI {} is not answering; waiting for it to come back ({} s of {} s)",
                    names.join(", "),
                    (now - started).as_secs(),
                    (until - started).as_secs()
                )),
            });
            let wake = (now + pause).min(until);
            while Instant::now() < wake {
                if cancel.is_cancelled() {
                    return Err(UserError::cancelled());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
}
