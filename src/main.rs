//! `wardtwin`: the command-line program.
//!
//! Orchestration only: scenario → app → sinks → summary. The model lives in `twins`, the engine
//! in `sim`, file formats in `exporters`.

mod bench;
mod run;
mod score;

use std::process::ExitCode;

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
    /// Benchmark: MQTT delivery of `run --speed max` vs a raw rumqttc publisher (mosquitto).
    BenchMqtt(bench::BenchMqttArgs),
}

/// Exit codes: 0 done (every gate passed), 1 a gate failed, 2 an error (or a usage error,
/// from clap).
const GATE_FAILED: u8 = 1;
const ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ok = |r: anyhow::Result<()>| r.map(|()| true);
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Score(args) => score::score(&args),
        Command::ReferenceStack(args) => ok(score::reference_stack(&args)),
        Command::Validate { files } => ok(validate(&files)),
        Command::BenchMqtt(args) => ok(bench::bench_mqtt(&args)),
        Command::Scenarios => {
            scenarios();
            Ok(true)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(GATE_FAILED),
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
            Ok(s) => println!(
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
    println!("Built-in scenarios (also under scenarios/library/):");
    for s in wardtwin_scenarios::library() {
        println!(
            "  {:<20} {:>5} beds  {:>4}  {}",
            s.name,
            s.beds.len(),
            wardtwin_sim::time::format_duration(s.duration_ms),
            s.description
        );
    }
}
