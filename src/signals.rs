//! SIGINT and SIGTERM: the first asks the run to stop stepping and keep what it simulated (the
//! files are finished and the manifest says `"complete": false`); a second exits at once
//! (status 130), for a shutdown that hangs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};

/// Set by the first SIGINT/SIGTERM.
#[derive(Clone)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Installs the handlers.
    pub fn install() -> Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            // Order matters: the shutdown is armed by the flag the first signal sets.
            signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&flag))
                .context("installing the signal handlers")?;
            signal_hook::flag::register(sig, Arc::clone(&flag))
                .context("installing the signal handlers")?;
        }
        Ok(Self(flag))
    }

    pub fn raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
