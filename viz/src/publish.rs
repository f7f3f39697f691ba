//! A session's live side: the twin's telemetry published to an MQTT broker as `wardtwin run
//! --live` publishes it (wire v1: readings, device and gateway status, the site map, the
//! waveforms of kits that stream them), and a system under test's alerts collected from its
//! topic (`--alerts-topic`) onto the central station.
//!
//! The run folder's tables stay those of a file run (`wardtwin run session.toml` reproduces
//! them byte for byte, live or not). What is live goes into `live/`: `emissions.parquet` (the
//! broker's side of the ledger: each published reading and status message with its fate,
//! acknowledged, sent, unacknowledged, unsent or dropped), `alerts.jsonl` and
//! `collection.json` (the system's alerts as they arrived, stamped with the newest telemetry
//! on the wire), and the system's scorecard.
//!
//! The publisher outlives the twin: an injection rebuilds the twin and steps it back to where
//! it was, and what those catch-up steps emit was published already (the twin is
//! deterministic), so [`PublishSink`] passes nothing on while catching up.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result};
use wardtwin_exporters::mqtt::{
    AlertTap, Collector, CollectorReport, LiveOptions, LiveReport, LiveSink, Pacer, Publisher,
    Speed,
};
use wardtwin_exporters::runfolder::manifest::LiveManifest;
use wardtwin_exporters::runfolder::{ALERTS_LOG, COLLECTION_LOG};
use wardtwin_exporters::wire::WireDirectory;
use wardtwin_exporters::{DEFAULT_CHUNK_ROWS, ParquetSink};
use wardtwin_scenarios::Scenario;
use wardtwin_sim::records::{EmissionFate, Forwarded, PatientIx, StatusReport, WaveFrame};
use wardtwin_sim::{Batch, Directory, Record, RecordSink, SinkError, SinkReport};

use crate::live::Shared;
use crate::model::{AlertFrom, StackAlert};

/// The live side's folder in the run folder.
pub const LIVE_DIR: &str = "live";
/// How long the collector waits, once the session is over, for alerts still coming (after
/// this long with nothing arriving it stops; it never waits longer than [`COLLECT_LIMIT`]).
const COLLECT_QUIET: Duration = Duration::from_secs(2);
const COLLECT_LIMIT: Duration = Duration::from_secs(30);

/// How a session publishes.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The broker and how to talk to it (the publisher's speed is ignored: the session paces
    /// the twin, and what it emits is published at once).
    pub opts: LiveOptions,
    /// The broker is the embedded one.
    pub embedded: bool,
    /// The system under test's alerts topic.
    pub alerts_topic: Option<String>,
}

/// The session's publisher and collector, kept across the twin's rebuilds.
pub struct LiveSide {
    cfg: LiveConfig,
    sink: Arc<Mutex<LiveSink<ParquetSink>>>,
    publishing: Arc<AtomicBool>,
    report: Arc<Mutex<Option<LiveReport>>>,
    collector: Option<Collector>,
    /// Patients whose kit streams waveforms (the frames of other tapped patients, the bed the
    /// instructor selected, stay off the wire).
    streams: Arc<Vec<bool>>,
    folder: PathBuf,
}

/// What the live side did, once finished.
pub struct LiveEnd {
    pub manifest: LiveManifest,
    pub collected: Option<CollectorReport>,
    /// `live/`, where the system's alerts and scorecard are.
    pub folder: PathBuf,
}

impl LiveSide {
    /// Subscribes to the alerts topic (before the first telemetry leaves) and connects the
    /// publisher; `dir` is the twin's directory, `out` the run folder.
    pub fn start(
        cfg: &LiveConfig,
        scenario: &Scenario,
        dir: &Arc<Directory>,
        out: &Path,
        shared: &Arc<Shared>,
    ) -> Result<Self> {
        let folder = out.join(LIVE_DIR);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
        for f in [EmissionFate::TABLE, "directory"] {
            let _ = std::fs::remove_file(folder.join(format!("{f}.parquet")));
        }
        for f in [ALERTS_LOG, COLLECTION_LOG]
            .into_iter()
            .chain(wardtwin_exporters::report::FILES)
        {
            let _ = std::fs::remove_file(folder.join(f));
        }
        let mut opts = cfg.opts.clone();
        opts.speed = Speed::Max;
        let wire = Arc::new(
            WireDirectory::new(dir, &opts.prefix, &scenario.site.name)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        // The wire clock the collector stamps arrivals with exists once the publisher does;
        // the collector subscribes first, so it reads the clock through this cell.
        let wire_clock: Arc<std::sync::OnceLock<wardtwin_exporters::mqtt::LiveStats>> =
            Arc::default();
        let collector = match &cfg.alerts_topic {
            None => None,
            Some(topic) => {
                let clock = Arc::clone(&wire_clock);
                let epoch = scenario.epoch_ms;
                Some(Collector::start(
                    &opts,
                    format!("{}c", opts.client_id_prefix),
                    topic,
                    None,
                    None,
                    &folder,
                    move || clock.get().and_then(|s| s.wire_ms()).unwrap_or(epoch),
                    Some(tap(Arc::clone(shared))),
                )?)
            }
        };
        let publisher = Publisher::start(&opts, Arc::clone(&wire), Pacer::new(Speed::Max))?;
        let ledger = ParquetSink::create_only(
            &folder,
            Arc::clone(dir),
            DEFAULT_CHUNK_ROWS,
            &[EmissionFate::TABLE],
        )
        .with_context(|| format!("cannot write into {}", folder.display()))?;
        let sink = LiveSink::new(ledger, publisher, wire, &opts, scenario.epoch_ms)
            .with_step(scenario.step_ms);
        let _ = wire_clock.set(sink.stats());
        let report = sink.report_handle();
        let streams = (0..dir.patients.len() as u32)
            .map(|p| {
                let bed = &dir.bed_of_patient(PatientIx(p)).id;
                scenario
                    .beds
                    .iter()
                    .position(|b| &b.id == bed)
                    .is_some_and(|b| scenario.kit_of_bed(b).waveforms)
            })
            .collect();
        Ok(Self {
            cfg: cfg.clone(),
            sink: Arc::new(Mutex::new(sink)),
            publishing: Arc::new(AtomicBool::new(true)),
            report,
            collector,
            streams: Arc::new(streams),
            folder,
        })
    }

    /// Patients whose waveforms go on the wire (the twin must tap them).
    pub fn streamed(&self) -> Vec<PatientIx> {
        (0..self.streams.len() as u32)
            .filter(|&p| self.streams[p as usize])
            .map(PatientIx)
            .collect()
    }

    /// A sink for one twin: it publishes through this live side.
    pub fn sink(&self) -> PublishSink {
        PublishSink {
            inner: Arc::clone(&self.sink),
            on: Arc::clone(&self.publishing),
            streams: Arc::clone(&self.streams),
            frames: Vec::new(),
        }
    }

    /// Off while a rebuilt twin catches up (what it emits was published already).
    pub fn set_publishing(&self, on: bool) {
        self.publishing.store(on, Ordering::Release);
    }

    /// Drains the publisher (its fates into `live/emissions.parquet`, the gateways' goodbyes
    /// on the wire), then collects the alerts still coming.
    pub fn finish(self) -> Result<LiveEnd> {
        let finished = lock(&self.sink).finish();
        let report = self
            .report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default();
        let collected = self
            .collector
            .map(|c| c.finish(|_| false, COLLECT_QUIET, COLLECT_LIMIT))
            .transpose()
            .with_context(|| format!("cannot finish {}", self.folder.display()))?;
        finished.map_err(|e| anyhow::anyhow!("publishing failed: {e}"))?;
        let o = &self.cfg.opts;
        Ok(LiveEnd {
            manifest: LiveManifest {
                broker: o.broker.to_string(),
                embedded: self.cfg.embedded,
                fault_proxy: None,
                qos: o.qos,
                connection: o.connection.name(),
                speed: "session".to_string(),
                topic_prefix: o.prefix.clone(),
                report,
            },
            collected,
            folder: self.folder,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Puts each alert the collector logs on the central station; a message that is not an alert
/// v1 is counted.
fn tap(shared: Arc<Shared>) -> AlertTap {
    Box::new(move |at, payload| {
        let parsed = wardtwin_exporters::wire::alerts::parse_alert(payload);
        let text = serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_string))
            .unwrap_or_default();
        let mut m = shared.model();
        match parsed {
            Ok(a) => m.push_stack_alert(StackAlert {
                at_ms: at,
                subject: a.subject,
                class: a.class,
                priority: a.priority,
                text,
                from: AlertFrom::Sut,
            }),
            Err(_) => m.sut_rejected += 1,
        }
    })
}

/// Hands a twin's emissions to the live side: readings, status messages and the streamed
/// waveforms. The twin's own fates stay in the run folder's ledger; `live/emissions.parquet`
/// holds the publisher's.
pub struct PublishSink {
    inner: Arc<Mutex<LiveSink<ParquetSink>>>,
    on: Arc<AtomicBool>,
    streams: Arc<Vec<bool>>,
    frames: Vec<WaveFrame>,
}

impl RecordSink for PublishSink {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        if !self.on.load(Ordering::Acquire) {
            return Ok(());
        }
        if batch.get::<Forwarded>().is_some() || batch.get::<StatusReport>().is_some() {
            return lock(&self.inner).write(batch);
        }
        let Some(rows) = batch.get::<WaveFrame>() else {
            return Ok(());
        };
        let streams = &self.streams;
        let streamed = |f: &&WaveFrame| streams.get(f.patient.0 as usize) == Some(&true);
        if rows.iter().all(|f| streamed(&f)) {
            return lock(&self.inner).write(batch);
        }
        self.frames.clear();
        self.frames.extend(rows.iter().filter(streamed).cloned());
        if self.frames.is_empty() {
            return Ok(());
        }
        lock(&self.inner).write(Batch::new(&self.frames))
    }

    /// The publisher outlives this twin: [`LiveSide::finish`] finishes it.
    fn finish(&mut self) -> Result<SinkReport, SinkError> {
        Ok(SinkReport::default())
    }
}
