//! `wardtwin`: the command-line program's library: the orchestration behind `wardtwin run`,
//! `score`, `realism` and `reference-stack`, so that other front ends (the visual ward,
//! `wardtwin-viz`) write run folders and scorecards exactly as the command line does.
//!
//! Orchestration only: scenario → app → sinks → summary. The model lives in `twins`, the engine
//! in `sim`, file formats in `exporters`.

/// `println!` that survives a closed stdout (`wardtwin run … | head -3`): once a write fails
/// with a broken pipe, output stops quietly and the work goes on (a run still writes its files).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::stdout_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::stdout_line(format_args!($($arg)*))
    };
}

pub mod export;
pub mod realism;
pub mod run;
pub mod score;
pub mod signals;

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes one line to stdout; after a broken pipe, nothing more (see [`outln!`]).
pub fn stdout_line(args: std::fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| out.write_all(b"\n"));
    if let Err(e) = written.and_then(|()| out.flush()) {
        // The reader went away (`| head`), or stdout is gone: stop printing, quietly.
        let _ = e;
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Whether stdout's reader has gone away.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}
