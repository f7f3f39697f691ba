//! The end of a run: `manifest.json`, and the summary on the terminal.

use std::path::Path;

use anyhow::{Context, Result};
use wardtwin_exporters::runfolder::manifest::{
    FileEntry, LiveManifest, Manifest, Program, RUN_FORMAT, ScenarioRef,
};
use wardtwin_scenarios::Scenario;
use wardtwin_sim::time::{format_duration, format_iso_ms};
use wardtwin_sim::{Directory, SinkReport};

/// Peak resident memory of this process, from /proc (Linux).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// What the run wrote, as `manifest.json` says it (written into `out`): `program` is the
/// program that ran it (`wardtwin`, or `wardtwin-viz` for a trainer's session), `live` what
/// became of the live stream.
#[allow(clippy::too_many_arguments)]
pub fn manifest(
    out: &Path,
    reports: &[SinkReport],
    scenario: &Scenario,
    seed: u64,
    interrupted: bool,
    dir: &Directory,
    program: &'static str,
    live: Option<LiveManifest>,
) -> Result<Manifest> {
    let mut files = Vec::new();
    for r in reports {
        for (table, rows) in &r.tables {
            files.push(FileEntry {
                table: table.clone(),
                // WFDB records (one per tapped bed) are a folder; `rows` counts their frames.
                path: if table == super::WAVEFORMS_DIR {
                    format!("{table}/")
                } else {
                    format!("{table}.parquet")
                },
                rows: *rows,
            });
        }
    }
    let manifest = Manifest {
        format: RUN_FORMAT,
        program: Program {
            name: program,
            version: env!("CARGO_PKG_VERSION"),
        },
        scenario: ScenarioRef {
            name: scenario.name.clone(),
            origin: scenario.origin.clone(),
            sha256: scenario.sha256.clone(),
        },
        seed,
        complete: !interrupted,
        epoch: format_iso_ms(scenario.epoch_ms),
        end: format_iso_ms(scenario.epoch_ms + scenario.duration_ms),
        duration_ms: scenario.duration_ms,
        step_ms: scenario.step_ms,
        truth_interval_ms: scenario.truth_interval_ms,
        beds: dir.beds.len(),
        patients: dir.patients.len(),
        devices: dir.devices.len(),
        files,
        gates: scenario.gates.clone(),
        chronic: scenario.chronic_dont_care.then_some("dont_care"),
        live,
    };
    manifest
        .write(&out.join("manifest.json"))
        .with_context(|| format!("cannot write {}/manifest.json", out.display()))?;
    Ok(manifest)
}

/// The run's summary: what was simulated, how fast, and what became of the live stream.
pub(super) fn print(
    manifest: &Manifest,
    out: &Path,
    scenario: &Scenario,
    dir: &Directory,
    // (label, lines, their table): the episodes and the faults of the run.
    truth: &[(&str, &Vec<String>, &str)],
    wall: std::time::Duration,
    interrupted: bool,
) {
    let seed = manifest.seed;
    let rows_of = |t: &str| {
        manifest
            .files
            .iter()
            .find(|f| f.table == t)
            .map_or(0, |f| f.rows)
    };

    // The ledger has a row per emission: every reading and every status message.
    let statuses = rows_of("device_status");
    let emissions = rows_of("emissions").saturating_sub(statuses);
    let secs = wall.as_secs_f64();
    let speed = scenario.duration_ms as f64 / 1000.0 / secs;
    outln!(
        "wardtwin run {} (seed {seed}) -> {}",
        scenario.name,
        out.display()
    );
    outln!(
        "  simulated     {} from {}",
        format_duration(scenario.duration_ms),
        manifest.epoch
    );
    outln!(
        "  patients      {} in {} beds, {} devices",
        dir.patients.len(),
        dir.beds.len(),
        dir.devices.len()
    );
    outln!(
        "  readings      {emissions} ({} observations), {statuses} status messages",
        rows_of("telemetry")
    );
    outln!(
        "  ground truth  {} vitals rows, {} episodes, {} artifacts, {} device events",
        rows_of("truth_vitals"),
        rows_of("episodes"),
        rows_of("artifacts"),
        rows_of("device_events")
    );
    const SHOWN: usize = 8;
    for (label, lines, table) in truth {
        for line in lines.iter().take(SHOWN) {
            outln!("  {label:<13} {line}");
        }
        if lines.len() > SHOWN {
            outln!(
                "  {label:<13} ... and {} more ({table}.parquet)",
                lines.len() - SHOWN
            );
        }
    }
    outln!("  wall time     {secs:.2} s ({speed:.0}x real time)");
    outln!(
        "  throughput    {:.0} readings/s, {:.0} observations/s",
        emissions as f64 / secs,
        rows_of("telemetry") as f64 / secs
    );
    if let Some(l) = &manifest.live {
        let r = &l.report;
        outln!(
            "  live          {} via {} ({} connection(s) {}, QoS {}, speed {})",
            r.acknowledged + r.sent + r.unacknowledged + r.unsent + r.dropped,
            l.broker,
            r.connections,
            l.connection,
            l.qos,
            l.speed
        );
        outln!(
            "  fates         {} acknowledged, {} sent (QoS 0), {} unacknowledged, {} unsent, {} dropped; {} status messages; {} outside the ledger (site map, clock, waveform frames)",
            r.acknowledged,
            r.sent,
            r.unacknowledged,
            r.unsent,
            r.dropped,
            r.status_messages,
            r.stream_messages
        );
        if r.fhir_messages + r.fhir_lost + r.chart_messages + r.chart_lost > 0 {
            outln!(
                "  FHIR          {} reading Bundles ({} lost), {} chart rounds ({} lost)",
                r.fhir_messages,
                r.fhir_lost,
                r.chart_messages,
                r.chart_lost
            );
        }
        outln!(
            "  delivery      {:.0} msg/s; {} reconnects, {} resent, max queue depth {}, spool-full waits {}",
            (r.acknowledged
                + r.sent
                + r.status_messages
                + r.stream_messages
                + r.fhir_messages
                + r.chart_messages) as f64
                / secs,
            r.reconnects,
            r.resent,
            r.max_queue_depth,
            r.spool_full_waits
        );
        if let (Some(p50), Some(p99), Some(max)) =
            (r.lateness_p50_ms, r.lateness_p99_ms, r.lateness_max_ms)
        {
            outln!("  lateness      p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms");
        }
        if let Some(p) = &l.fault_proxy {
            outln!(
                "  fault proxy   {} link cut(s) began: {} connection(s) cut, {} refused while cut",
                p.cuts,
                p.connections_cut,
                p.refused
            );
        }
        if let Some(e) = &r.last_error {
            outln!("  last error    {e}");
        }
    }
    if let Some(peak) = peak_rss_bytes() {
        outln!("  peak memory   {:.0} MiB", peak as f64 / (1024.0 * 1024.0));
    }
    if interrupted {
        outln!(
            "  interrupted   kept {} of simulated time; manifest.json says \"complete\": false",
            format_duration(scenario.duration_ms)
        );
    }
}
