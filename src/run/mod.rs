//! `wardtwin run`: simulate a scenario into a run folder.
//!
//! [`run`] is the outline: load and check the scenario, start the live side ([`live`]), build
//! the world and its sinks, step it ([`stepping`]), write the manifest and the summary
//! ([`summary`]), then judge delivery and collect and score what the system under test sent
//! ([`delivery`]).

mod args;
mod delivery;
mod live;
mod stepping;
mod summary;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wardtwin_exporters::mqtt::{AutoRate, Speed};
use wardtwin_exporters::runfolder;
use wardtwin_exporters::wfdb::WaveformSink;
use wardtwin_exporters::{DEFAULT_CHUNK_ROWS, ParquetSink};
use wardtwin_scenarios::Scenario;
use wardtwin_sim::records::PatientIx;
use wardtwin_sim::time::{format_duration, format_iso_ms, parse_duration};
use wardtwin_sim::{Sim, Sinks};
use wardtwin_twins::{BuildOptions, Waveforms, build_app};

/// Where a run's WFDB records go, in its folder.
pub const WAVEFORMS_DIR: &str = "waveforms";

pub use args::{BrokerSecurity, RunArgs};
use delivery::{Delivery, delivery_verdict};
pub use summary::manifest;

fn prepare_out(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create run folder {}", out.display()))?;
    // A previous run of the same scenario and seed is replaced, file by file.
    for t in wardtwin_exporters::table_names() {
        let _ = std::fs::remove_file(out.join(format!("{t}.parquet")));
    }
    let _ = std::fs::remove_file(out.join("manifest.json"));
    let _ = std::fs::remove_dir_all(out.join(WAVEFORMS_DIR));
    for f in [
        runfolder::ALERTS_LOG,
        runfolder::ECHO_LOG,
        runfolder::COLLECTION_LOG,
        runfolder::SYNC_LOG,
        runfolder::BROKER_LOG,
        wardtwin_exporters::hl7::HL7_LOG,
    ]
    .into_iter()
    .chain(wardtwin_exporters::report::FILES)
    {
        let _ = std::fs::remove_file(out.join(f));
    }
    Ok(())
}

/// How a run ended (main turns it into the exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; every gate passed.
    Done,
    /// A gate failed.
    GateFailed,
    /// A live run lost telemetry that neither `--allow-loss` nor a `delivered` gate accepts.
    DeliveryShort,
    /// The system under test was not fed what the scenario meant it to get (its echo is
    /// short, or it stalled in lockstep): the scorecard does not grade it.
    Invalid,
    /// SIGINT/SIGTERM: stopped early, what was simulated is kept (`"complete": false`).
    Interrupted,
}

/// The scenario with `--fault` and `--duration` applied.
fn load_scenario(args: &RunArgs) -> Result<Scenario> {
    let mut scenario = wardtwin_scenarios::load_with_faults(&args.scenario, &args.fault)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(d) = &args.duration {
        let ms = parse_duration(d).map_err(|e| anyhow::anyhow!("--duration {d:?}: {e}"))?;
        anyhow::ensure!(
            ms >= scenario.step_ms,
            "--duration {d:?}: at least one step ({})",
            format_duration(scenario.step_ms)
        );
        wardtwin_scenarios::limits::check_run(scenario.epoch_ms, ms)
            .map_err(|e| anyhow::anyhow!("--duration {d:?}: {e}"))?;
        scenario.duration_ms = ms;
    }
    Ok(scenario)
}

/// Runs a scenario.
pub fn run(args: &RunArgs) -> Result<Outcome> {
    let stop = crate::signals::StopFlag::install()?;
    let mut scenario = load_scenario(args)?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-{seed}", scenario.name)));
    if let Some(n) = args.threads {
        anyhow::ensure!(n >= 1, "--threads must be at least 1");
    }
    let alerts_topic = args.live.alerts_topic();
    anyhow::ensure!(
        args.live.enabled()
            || (alerts_topic.is_none()
                && args.live.alerts_hl7.is_none()
                && !args.live.fhir_topic
                && args.live.echo_topic.is_none()
                && args.live.sync.is_none()
                && !args.live.clock_topic),
        "--alerts-topic, --alerts-hl7, --fhir-topic, --echo-topic, --with-reference-stack, \
         --sync and --clock-topic need a live run (--live or --broker URL)"
    );
    anyhow::ensure!(
        args.live.alerts_hl7.is_none() || alerts_topic.is_none(),
        "--alerts-hl7 and --alerts-topic (or --with-reference-stack) both fill alerts.jsonl: \
         take the system's alerts one way"
    );
    let grace = parse_duration(&args.live.alerts_grace)
        .map_err(|e| anyhow::anyhow!("--alerts-grace {:?}: {e}", args.live.alerts_grace))?;
    let grace = Duration::from_millis(grace.max(0) as u64);
    let status_interval_ms = args::duration_flag("--status-interval", &args.status_interval, 1)?;
    anyhow::ensure!(
        args.live.speed != "auto" || (alerts_topic.is_some() && args.live.echo_topic().is_some()),
        "--speed auto paces the run to what the system under test ingests, measured by its \
         ingestion echo: it needs --alerts-topic and --echo-topic (or --with-reference-stack)"
    );
    let waveforms = args
        .waveforms
        .as_deref()
        .map(Waveforms::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--waveforms: {e}"))?;
    let live = live::broker(&args.live, &scenario, seed)?;
    prepare_out(&out)?;

    // The system under test's side: subscribed before the first telemetry leaves.
    let mut sut = live::sut_side(&args.live, &live, &alerts_topic, &scenario, &out)?;

    // Wall time is reported, never fed to the model.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let opts = BuildOptions {
        seed: Some(seed),
        threads: args.threads,
        live_transport: live.is_some(),
        status_interval_ms: Some(status_interval_ms),
    };
    let (mut app, dir) = build_app(&scenario, &opts);
    // Files for the beds asked; on the wire, those and (live) every patient whose kit says
    // `waveforms = true`.
    let files: Vec<PatientIx> = match &waveforms {
        Some(w) => w
            .patients(&dir)
            .map_err(|e| anyhow::anyhow!("--waveforms: {e}"))?,
        None => Vec::new(),
    };
    let mut tap: std::collections::BTreeSet<PatientIx> = files.iter().copied().collect();
    if live.is_some() {
        tap.extend((0..dir.patients.len() as u32).map(PatientIx).filter(|p| {
            let bed = &dir.bed_of_patient(*p).id;
            scenario
                .beds
                .iter()
                .position(|b| &b.id == bed)
                .is_some_and(|b| scenario.kit_of_bed(b).waveforms)
        }));
    }
    if !tap.is_empty() {
        let which: Vec<PatientIx> = tap.iter().copied().collect();
        wardtwin_twins::waveform::tap(app.world_mut(), Some(&which));
    }
    let dir = Arc::new(dir);
    let sink = ParquetSink::create(&out, Arc::clone(&dir), DEFAULT_CHUNK_ROWS)
        .with_context(|| format!("cannot write into {}", out.display()))?;
    let mut wired = live::sinks(
        sink,
        &live,
        &dir,
        &scenario,
        &sut.wire_clock,
        args.live.fhir_topic,
    )?;
    if !files.is_empty() {
        let wdir = out.join(WAVEFORMS_DIR);
        let w = WaveformSink::create(&wdir, Arc::clone(&dir), scenario.epoch_ms, &files)
            .with_context(|| format!("cannot write into {}", wdir.display()))?;
        wired.sinks.push(Box::new(w));
    }
    app.insert_resource(Sinks::new(wired.sinks));
    let mut sim = Sim::new(app);

    let mut auto = match (&wired.pacer, &wired.handed, &sut.collector) {
        (Some(p), Some(h), Some(c)) if p.speed() == Speed::Auto => {
            Some(AutoRate::new(Arc::clone(h), c.echo_counter()))
        }
        _ => None,
    };
    stepping::step_all(
        &mut sim,
        &scenario,
        args.quiet,
        stepping::Pacing {
            pacer: wired.pacer.as_ref(),
            live_stats: wired.live_stats.as_ref(),
            clock: sut.clock.as_mut().zip(wired.clock_sender.as_ref()),
            auto: auto.as_mut(),
            proxy: live
                .as_ref()
                .and_then(|l| l.proxy.as_ref())
                .map(|p| &p.proxy),
        },
        &stop,
    );
    if let Some(a) = &auto {
        outln!(
            "speed auto: waited {:.1} s of wall time for the system's ingestion echo{}",
            a.waited.as_secs_f64(),
            if a.gave_up {
                " (then stopped waiting: it did not move)"
            } else {
                ""
            }
        );
    }
    // The clock's queue handle goes before the publisher finishes.
    drop(wired.clock_sender);
    if let Some(c) = &sut.clock {
        live::report_sync(c, &out)?;
    }
    let interrupted = stop.raised();
    if interrupted {
        sim.truncate();
        wardtwin_exporters::errln!(
            "interrupted at {} (simulated {} of {}): finishing the files with what was simulated; \
             press Ctrl-C again to quit at once",
            format_iso_ms(sim.clock().end_ms()),
            format_duration(sim.clock().duration_ms()),
            format_duration(scenario.duration_ms)
        );
        scenario.duration_ms = sim.clock().duration_ms();
    }
    let episodes = wardtwin_twins::episode_lines(sim.app.world_mut());
    let faults = wardtwin_twins::fault_lines(sim.app.world_mut());
    let reports = sim
        .finish()
        .map_err(|e| anyhow::anyhow!("writing {} failed: {e}", out.display()))?;
    let wall = started.elapsed();

    let manifest = summary::manifest(
        &out,
        &reports,
        &scenario,
        seed,
        interrupted,
        &dir,
        "wardtwin",
        live::live_manifest(&live, &wired.live_report),
    )?;
    summary::print(
        &manifest,
        &out,
        &scenario,
        &dir,
        &[
            ("episode", &episodes, "episodes"),
            ("fault", &faults, "faults"),
        ],
        wall,
        interrupted,
    );
    let delivery = manifest.live.as_ref().map_or(Delivery::Complete, |l| {
        delivery_verdict(&l.report, &scenario.gates, args.live.allow_loss)
    });
    let intake = match (sut.collector, sut.hl7) {
        (Some(c), _) => Some(delivery::Intake::Mqtt(Box::new(c))),
        (None, Some(h)) => Some(delivery::Intake::Hl7(h)),
        (None, None) => None,
    };
    let Some(collector) = intake else {
        return Ok(match delivery {
            _ if interrupted => Outcome::Interrupted,
            Delivery::Short => Outcome::DeliveryShort,
            Delivery::GateFailed => Outcome::GateFailed,
            Delivery::Complete | Delivery::Accepted => Outcome::Done,
        });
    };
    // The run is over and the gateways have said goodbye; collect what is still coming.
    delivery::collect_and_score(
        delivery::Receivers {
            collector,
            reference: sut.reference,
            embedded: live.as_ref().and_then(|l| l.embedded.as_ref()),
        },
        grace,
        &out,
        args.quiet,
        delivery,
        interrupted,
    )
}
