//! `wardtwin run`: simulate a scenario into a run folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use wardtwin_exporters::manifest::{FileEntry, Manifest, Program, RUN_FORMAT, ScenarioRef};
use wardtwin_exporters::{DEFAULT_CHUNK_ROWS, ParquetSink};
use wardtwin_sim::time::{format_duration, format_iso_ms};
use wardtwin_sim::{Sim, Sinks};
use wardtwin_twins::{BuildOptions, build_app};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A built-in scenario name (see `wardtwin scenarios`) or a path to a scenario file.
    pub scenario: String,
    /// Overrides the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run folder [default: runs/<scenario>-<seed>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Simulation worker threads (default: one per core but one, left to the output writer).
    /// Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Peak resident memory of this process, from /proc (Linux).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn prepare_out(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create run folder {}", out.display()))?;
    // A previous run of the same scenario and seed is replaced, file by file.
    for t in wardtwin_exporters::TABLES {
        let _ = std::fs::remove_file(out.join(format!("{t}.parquet")));
    }
    let _ = std::fs::remove_file(out.join("manifest.json"));
    Ok(())
}

pub fn run(args: &RunArgs) -> Result<()> {
    let scenario = wardtwin_scenarios::load(&args.scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-{seed}", scenario.name)));
    if let Some(n) = args.threads {
        anyhow::ensure!(n >= 1, "--threads must be at least 1");
    }
    prepare_out(&out)?;

    // Wall time is reported, never fed to the model.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let opts = BuildOptions {
        seed: Some(seed),
        threads: args.threads,
        live_transport: false,
    };
    let (mut app, dir) = build_app(&scenario, &opts);
    let dir = Arc::new(dir);
    let sink = ParquetSink::create(&out, Arc::clone(&dir), DEFAULT_CHUNK_ROWS)
        .with_context(|| format!("cannot write into {}", out.display()))?;
    app.insert_resource(Sinks::new(vec![Box::new(sink)]));
    let mut sim = Sim::new(app);

    let total = sim.clock().total_ticks();
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:40}] {percent:>3}% sim {elapsed_precise} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(format!("{} ({} beds)", scenario.name, scenario.beds.len()));
    bar.enable_steady_tick(Duration::from_millis(200));
    let epoch = scenario.epoch_ms;
    let step = scenario.step_ms;
    sim.run((600_000 / step).max(1) as u64, |done, _| {
        bar.set_position(done);
        bar.set_message(format!(
            "{} {}",
            scenario.name,
            &format_iso_ms(epoch + done as i64 * step)[..16]
        ));
    });
    bar.finish_and_clear();
    let episodes = wardtwin_twins::episode_lines(sim.app.world_mut());
    let reports = sim
        .finish()
        .map_err(|e| anyhow::anyhow!("writing {} failed: {e}", out.display()))?;
    let wall = started.elapsed();

    let mut files = Vec::new();
    for r in &reports {
        for (table, rows) in &r.tables {
            files.push(FileEntry {
                table: table.clone(),
                path: format!("{table}.parquet"),
                rows: *rows,
            });
        }
    }
    let manifest = Manifest {
        format: RUN_FORMAT,
        program: Program {
            name: "wardtwin",
            version: env!("CARGO_PKG_VERSION"),
        },
        scenario: ScenarioRef {
            name: scenario.name.clone(),
            origin: scenario.origin.clone(),
            sha256: scenario.sha256.clone(),
        },
        seed,
        epoch: format_iso_ms(scenario.epoch_ms),
        end: format_iso_ms(scenario.epoch_ms + scenario.duration_ms),
        duration_ms: scenario.duration_ms,
        step_ms: scenario.step_ms,
        truth_interval_ms: scenario.truth_interval_ms,
        beds: dir.beds.len(),
        patients: dir.patients.len(),
        devices: dir.devices.len(),
        files,
    };
    let rows_of = |t: &str| {
        manifest
            .files
            .iter()
            .find(|f| f.table == t)
            .map_or(0, |f| f.rows)
    };
    manifest
        .write(&out.join("manifest.json"))
        .with_context(|| format!("cannot write {}/manifest.json", out.display()))?;

    let emissions = rows_of("emissions");
    let secs = wall.as_secs_f64();
    let speed = scenario.duration_ms as f64 / 1000.0 / secs;
    println!(
        "wardtwin run {} (seed {seed}) -> {}",
        scenario.name,
        out.display()
    );
    println!(
        "  simulated     {} from {}",
        format_duration(scenario.duration_ms),
        manifest.epoch
    );
    println!(
        "  patients      {} in {} beds, {} devices",
        dir.patients.len(),
        dir.beds.len(),
        dir.devices.len()
    );
    println!(
        "  readings      {emissions} ({} observations)",
        rows_of("telemetry")
    );
    println!(
        "  ground truth  {} vitals rows, {} episodes, {} artifacts, {} device events",
        rows_of("truth_vitals"),
        rows_of("episodes"),
        rows_of("artifacts"),
        rows_of("device_events")
    );
    const SHOWN: usize = 8;
    for line in episodes.iter().take(SHOWN) {
        println!("  episode       {line}");
    }
    if episodes.len() > SHOWN {
        println!(
            "  episode       ... and {} more (episodes.parquet)",
            episodes.len() - SHOWN
        );
    }
    println!("  wall time     {secs:.2} s ({speed:.0}x real time)");
    println!(
        "  throughput    {:.0} readings/s, {:.0} observations/s",
        emissions as f64 / secs,
        rows_of("telemetry") as f64 / secs
    );
    if let Some(peak) = peak_rss_bytes() {
        println!("  peak memory   {:.0} MiB", peak as f64 / (1024.0 * 1024.0));
    }
    Ok(())
}
