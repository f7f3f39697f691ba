//! `wardtwin`: the command-line program.
//!
//! Orchestration only: scenario → app → sinks → summary. The model lives in `twins`, the engine
//! in `sim`, file formats in `exporters`.

/// `println!` that survives a closed stdout (`wardtwin run … | head -3`): once a write fails
/// with a broken pipe, output stops quietly and the work goes on (a run still writes its files).
macro_rules! outln {
    () => {
        $crate::stdout_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::stdout_line(format_args!($($arg)*))
    };
}

mod run;
mod score;
mod signals;

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "wardtwin",
    version,
    about = "Digital twin and testbench for hospital IoT"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario and write a run folder (telemetry, ground truth, manifest).
    Run(Box<run::RunArgs>),
    /// Check scenario files; report every problem with file:line:column.
    Validate {
        /// Scenario files (or built-in names).
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// List the built-in scenario library.
    Scenarios,
    /// Score a run folder against its ground truth (alerts from its alerts.jsonl or --alerts);
    /// writes scorecard.{json,md,html} and junit.xml into it. Exit code 1 if a gate fails.
    Score(score::ScoreArgs),
    /// A reference system under test: reads the twin's MQTT telemetry, publishes alerts.
    ReferenceStack(score::ReferenceArgs),
}

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

/// Exit codes: 0 done (every gate passed), 1 a gate failed, 2 an error (or a usage error,
/// from clap), 3 an invalid run: the system under test was not fed (a live run lost telemetry
/// that neither `--allow-loss` nor a `delivered` gate accepts, the system's echo is short, or
/// it stalled in lockstep), 130 interrupted (SIGINT/SIGTERM; the run folder holds what was
/// simulated).
const GATE_FAILED: u8 = 1;
const ERROR: u8 = 2;
const INVALID_RUN: u8 = 3;
const INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ok = |r: anyhow::Result<()>| r.map(|()| run::Outcome::Done);
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Score(args) => score::score(&args),
        Command::ReferenceStack(args) => ok(score::reference_stack(&args)),
        Command::Validate { files } => ok(validate(&files)),
        Command::Scenarios => {
            scenarios();
            Ok(run::Outcome::Done)
        }
    };
    match result {
        Ok(run::Outcome::Done) => ExitCode::SUCCESS,
        Ok(run::Outcome::GateFailed) => ExitCode::from(GATE_FAILED),
        Ok(run::Outcome::DeliveryShort | run::Outcome::Invalid) => ExitCode::from(INVALID_RUN),
        Ok(run::Outcome::Interrupted) => ExitCode::from(INTERRUPTED),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(ERROR)
        }
    }
}

fn validate(files: &[String]) -> anyhow::Result<()> {
    let mut failed = 0;
    for f in files {
        match wardtwin_scenarios::load(f) {
            Ok(s) => outln!(
                "{f}: ok ({}: {} wards, {} beds, {} events, {})",
                s.name,
                s.wards.len(),
                s.beds.len(),
                s.events.len(),
                wardtwin_sim::time::format_duration(s.duration_ms)
            ),
            Err(e) => {
                eprintln!("{e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} scenario(s) invalid", files.len());
    }
    Ok(())
}

fn scenarios() {
    outln!("Built-in scenarios (also under scenarios/library/):");
    for s in wardtwin_scenarios::library() {
        if stdout_closed() {
            return;
        }
        outln!(
            "  {:<20} {:>5} beds  {:>4}  {}",
            s.name,
            s.beds.len(),
            wardtwin_sim::time::format_duration(s.duration_ms),
            s.description
        );
    }
}
