//! `wardtwin`: the command-line program (its orchestration is the `wardtwin` library).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wardtwin::{export, outln, realism, run, score, stdout_closed};

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
    /// List the drill library: each drill, what it rehearses, its faults and its gates.
    Drills,
    /// Score a run folder against its ground truth (alerts from its alerts.jsonl or --alerts);
    /// writes scorecard.{json,md,html} and junit.xml into it. Exit code 1 if a gate fails.
    Score(score::ScoreArgs),
    /// How realistic a run is: its patients' baselines, NEWS2 distribution, device errors and
    /// failures, and deterioration phenotypes against published ward figures; writes
    /// realism.{json,md}. With --check, exit code 1 if a figure is out of its range.
    Realism(realism::RealismArgs),
    /// A reference system under test: reads the twin's MQTT telemetry, publishes alerts.
    ReferenceStack(score::ReferenceArgs),
    /// Export a run folder in another format (`fhir`: FHIR R4 bulk NDJSON).
    #[command(subcommand)]
    Export(export::ExportCommand),
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
        Command::Realism(args) => realism::realism(&args),
        Command::ReferenceStack(args) => ok(score::reference_stack(&args)),
        Command::Export(cmd) => ok(export::export_cmd(&cmd)),
        Command::Validate { files } => ok(validate(&files)),
        Command::Scenarios => {
            scenarios();
            Ok(run::Outcome::Done)
        }
        Command::Drills => {
            drills();
            Ok(run::Outcome::Done)
        }
    };
    match result {
        Ok(run::Outcome::Done) => ExitCode::SUCCESS,
        Ok(run::Outcome::GateFailed) => ExitCode::from(GATE_FAILED),
        Ok(run::Outcome::DeliveryShort | run::Outcome::Invalid) => ExitCode::from(INVALID_RUN),
        Ok(run::Outcome::Interrupted) => ExitCode::from(INTERRUPTED),
        Err(e) => {
            wardtwin_exporters::errln!("error: {e:#}");
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
                wardtwin_exporters::errln!("{e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} scenario(s) invalid", files.len());
    }
    Ok(())
}

/// The built-in drills (scenarios with faults), with their faults and gates.
fn drills() {
    use wardtwin_sim::time::{format_duration, format_iso_ms};
    outln!(
        "Drills (wardtwin run NAME --live --with-reference-stack news2; docs/scenarios.md#drills):"
    );
    for s in wardtwin_scenarios::library() {
        let faults: Vec<_> = s.events.iter().filter(|e| e.kind.is_fault()).collect();
        if faults.is_empty() || stdout_closed() {
            continue;
        }
        outln!(
            "  {:<22} {} beds, {}: {}",
            s.name,
            s.beds.len(),
            format_duration(s.duration_ms),
            s.description
        );
        for e in faults {
            let at = format_iso_ms(s.epoch_ms + e.at_ms);
            let target = match e.target {
                wardtwin_scenarios::Target::Ward(w) => s.wards[w].id.clone(),
                wardtwin_scenarios::Target::Bed(b) => s.beds[b].id.clone(),
                wardtwin_scenarios::Target::Site => "site".to_string(),
                _ => String::new(),
            };
            outln!(
                "      fault  {} {target} at {}",
                fault_name(&e.kind),
                &at[11..16]
            );
        }
        for g in &s.gates {
            outln!("      gate   {g}");
        }
    }
}

fn fault_name(k: &wardtwin_scenarios::EventKind) -> String {
    use wardtwin_scenarios::EventKind as K;
    use wardtwin_sim::time::format_duration as d;
    match k {
        K::UplinkOutage { duration_ms } => format!("uplink_outage {}", d(*duration_ms)),
        K::UplinkFlapping {
            duration_ms,
            period_ms,
        } => format!(
            "uplink_flapping {} (every {})",
            d(*duration_ms),
            d(*period_ms)
        ),
        K::WifiOutage { duration_ms } => format!("wifi_outage {}", d(*duration_ms)),
        K::GatewayDown {
            cause,
            duration_ms,
            persistent_spool,
        } => format!(
            "{} {} (spool {})",
            cause.name(),
            d(*duration_ms),
            if *persistent_spool {
                "persistent"
            } else {
                "volatile"
            }
        ),
        K::UplinkDegraded { duration_ms, how } => {
            format!("uplink_degraded {} ({how})", d(*duration_ms))
        }
        K::BrokerDown {
            restart,
            duration_ms,
            persistence,
        } => format!(
            "{} {} ({})",
            if *restart {
                "broker_restart"
            } else {
                "broker_outage"
            },
            d(*duration_ms),
            if *persistence {
                "persistent"
            } else {
                "no persistence"
            }
        ),
        K::ClockDrift { ppm, device } => format!(
            "clock_drift {ppm:+} ppm{}",
            device.map_or(String::new(), |k| format!(" ({})", k.name()))
        ),
        K::RadioInterference {
            duration_ms,
            attenuation_db,
        } => format!(
            "radio_interference {} (+{attenuation_db} dB)",
            d(*duration_ms)
        ),
        K::OutOfCoverage {
            duration_ms,
            device,
        } => format!("out_of_coverage {} ({})", d(*duration_ms), device.name()),
        K::BatteryWave { duration_ms, share } => {
            format!("battery_wave {} (share {share})", d(*duration_ms))
        }
        K::ClockStep { step_ms, device } => format!(
            "clock_step {}{}{}",
            if *step_ms < 0 { "-" } else { "+" },
            d(step_ms.abs()),
            device.map_or(String::new(), |k| format!(" ({})", k.name()))
        ),
        _ => String::new(),
    }
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
