//! `wardtwin`: the command-line program.
//!
//! Orchestration only: scenario → app → sinks → summary. The model lives in `twins`, the engine
//! in `sim`, file formats in `exporters`.

mod bench;
mod run;

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
    /// Benchmark: MQTT delivery of `run --speed max` vs a raw rumqttc publisher (mosquitto).
    BenchMqtt(bench::BenchMqttArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Validate { files } => validate(&files),
        Command::BenchMqtt(args) => bench::bench_mqtt(&args),
        Command::Scenarios => {
            scenarios();
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
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
