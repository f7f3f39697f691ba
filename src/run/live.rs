//! The live side of a run: the broker (embedded or given), the system under test's side
//! (reference stack, alert collector) subscribed before the first telemetry leaves, and the
//! sinks that write the run folder and publish.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use wardtwin_exporters::ParquetSink;
use wardtwin_exporters::mqtt::options::client_id_prefix;
use wardtwin_exporters::mqtt::sync::{ack_topic, clock_topic};
use wardtwin_exporters::mqtt::{
    BrokerUrl, ClockSender, Collector, EmbeddedBroker, LiveOptions, LiveReport, LiveSink,
    LiveStats, Pacer, Publisher, SimClockOut, SyncMode, SyncPoint,
};
use wardtwin_exporters::wire::{WireDirectory, slug};
use wardtwin_reference::{ReferenceConfig, ReferenceStack};
use wardtwin_scenarios::Scenario;
use wardtwin_sim::{Directory, RecordSink};

use super::args::LiveArgs;

/// The broker a live run publishes to: its options, and the embedded broker if there is one.
pub(super) type Broker = (LiveOptions, Option<EmbeddedBroker>);

/// Connects to `--broker`, or starts the embedded broker (`--live`); `None` for a file run.
pub(super) fn broker(args: &LiveArgs, scenario: &Scenario, seed: u64) -> Result<Option<Broker>> {
    if !args.enabled() {
        return Ok(None);
    }
    let (url, embedded) = match &args.broker {
        Some(u) => (BrokerUrl::parse(u)?, None),
        None => {
            let b = EmbeddedBroker::start(args.listen)?;
            (BrokerUrl::parse(&b.url())?, Some(b))
        }
    };
    let ids = client_id_prefix(&scenario.name, seed, std::process::id());
    Ok(Some((args.options(url, ids)?, embedded)))
}

/// The system under test's side of a run.
pub(super) struct SutSide {
    /// The live figures, once the publisher exists (the collector stamps alerts with them).
    pub wire_clock: Arc<OnceLock<LiveStats>>,
    pub reference: Option<ReferenceStack>,
    pub collector: Option<Collector>,
    /// The simulation clock shared with the system (`--sync clock|lockstep`).
    pub clock: Option<SimClockOut>,
}

/// Starts the reference stack (if asked) and the alert collector (if alerts are collected).
pub(super) fn sut_side(
    args: &LiveArgs,
    live: &Option<Broker>,
    alerts_topic: &Option<String>,
    scenario: &Scenario,
    out: &Path,
) -> Result<SutSide> {
    let wire_clock: Arc<OnceLock<LiveStats>> = Arc::new(OnceLock::new());
    let mut reference = None;
    let mut collector = None;
    let mode = args.sync_mode();
    let mut clock = None;
    let point = SyncPoint::default();
    if let Some((o, _)) = live
        && mode != SyncMode::Free
    {
        anyhow::ensure!(
            mode != SyncMode::Lockstep || alerts_topic.is_some(),
            "--sync lockstep needs a system under test: --alerts-topic TOPIC (its \
             acknowledgements are collected with its alerts) or --with-reference-stack"
        );
        let (interval, timeout) = args.sync_timing(scenario.step_ms)?;
        let site = slug(&scenario.site.name);
        clock = Some(SimClockOut::new(
            mode,
            clock_topic(&o.prefix, &site),
            scenario.epoch_ms,
            scenario.step_ms,
            interval,
            timeout,
            point.clone(),
        ));
        outln!(
            "sync: {} (clock on {} every {}{})",
            mode.name(),
            clock_topic(&o.prefix, &site),
            wardtwin_sim::time::format_duration(interval),
            if mode == SyncMode::Lockstep {
                format!(", acknowledgements on {}", ack_topic(&o.prefix, &site))
            } else {
                String::new()
            }
        );
    }
    if let (Some((o, _)), Some(topic)) = (live, alerts_topic) {
        if let Some(policy) = args.with_reference_stack {
            let cfg = ReferenceConfig {
                policy: policy.kind(),
                prefix: o.prefix.clone(),
                alerts_topic: topic.clone(),
                echo_topic: args.echo_topic(),
                until_shutdown: true,
                lockstep: mode == SyncMode::Lockstep,
            };
            reference = Some(ReferenceStack::start(
                o,
                format!("{}r", o.client_id_prefix),
                cfg,
            )?);
            outln!(
                "reference stack: {} policy, alerts on {topic}",
                policy.kind().name()
            );
        }
        let wire = Arc::clone(&wire_clock);
        let epoch = scenario.epoch_ms;
        // In lockstep an arrival is stamped with the clock it answers; otherwise with the
        // newest telemetry on the wire.
        let synced = clock
            .as_ref()
            .filter(|c| c.mode() == SyncMode::Lockstep)
            .map(SimClockOut::now_handle);
        let ack = synced
            .as_ref()
            .map(|_| (ack_topic(&o.prefix, &slug(&scenario.site.name)), point));
        collector = Some(Collector::start(
            o,
            format!("{}c", o.client_id_prefix),
            topic,
            args.echo_topic().as_deref(),
            ack,
            out,
            move || match &synced {
                Some(now) => now.load(Ordering::Acquire),
                None => wire.get().and_then(LiveStats::wire_ms).unwrap_or(epoch),
            },
        )?);
        outln!("collecting alerts from {topic}");
    }

    Ok(SutSide {
        wire_clock,
        reference,
        collector,
        clock,
    })
}

/// The sinks of a run and what the runner needs from them.
pub(super) struct Wired {
    pub sinks: Vec<Box<dyn RecordSink>>,
    pub pacer: Option<Pacer>,
    pub live_report: Option<Arc<std::sync::Mutex<Option<LiveReport>>>>,
    pub live_stats: Option<LiveStats>,
    /// Sends clock messages behind the telemetry.
    pub clock_sender: Option<ClockSender>,
    /// Telemetry handed to the publisher so far (for `--speed auto`).
    pub handed: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// The file sink alone, or wrapped in the live sink that publishes.
pub(super) fn sinks(
    sink: ParquetSink,
    live: &Option<Broker>,
    dir: &Directory,
    scenario: &Scenario,
    wire_clock: &OnceLock<LiveStats>,
) -> Result<Wired> {
    let mut pacer = None;
    let mut live_report = None;
    let mut live_stats = None;
    let mut clock_sender = None;
    let mut handed = None;
    let sinks = match live {
        None => Vec::<Box<dyn RecordSink>>::from([Box::new(sink) as Box<dyn RecordSink>]),
        Some((o, embedded)) => {
            let wire = Arc::new(WireDirectory::new(dir, &o.prefix, &scenario.site.name)?);
            let p = Pacer::new(o.speed);
            let publisher = Publisher::start(o, Arc::clone(&wire), p.clone())?;
            clock_sender = ClockSender::new(&publisher);
            handed = Some(publisher.telemetry_counter());
            match embedded {
                Some(_) => outln!(
                    "broker: {} (embedded; watch with: mosquitto_sub -h {} -p {} -t '{}/#' -v)",
                    o.broker,
                    o.broker.host,
                    o.broker.port,
                    o.prefix
                ),
                None => outln!("broker: {}", o.broker),
            }
            outln!(
                "publishing: {} connection(s) {}, QoS {}, speed {}, topics {}/{}/...",
                publisher.connections(),
                o.connection.name(),
                o.qos,
                o.speed.name(),
                o.prefix,
                wire.site
            );
            let sink = LiveSink::new(sink, publisher, wire, o, scenario.epoch_ms);
            live_report = Some(sink.report_handle());
            live_stats = Some(sink.stats());
            let _ = wire_clock.set(sink.stats());
            pacer = Some(p);
            vec![Box::new(sink) as Box<dyn RecordSink>]
        }
    };
    Ok(Wired {
        sinks,
        pacer,
        live_report,
        live_stats,
        clock_sender,
        handed,
    })
}

/// Writes `sync.json` into the run folder, and warns when the system stalled in lockstep (its
/// alerts after a stall are no longer stamped with the clock they answered).
pub(super) fn report_sync(clock: &SimClockOut, out: &Path) -> Result<()> {
    let path = out.join(wardtwin_exporters::runfolder::SYNC_LOG);
    std::fs::write(&path, format!("{:#}\n", clock.record()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    if let Some(first) = clock.stalls().first() {
        eprintln!(
            "\nWARNING: the system under test stalled at {} of {} sync points (first at {}, \
             acknowledged up to tick {}, {} alert(s) it announced missing); see {}",
            clock.stalls().len(),
            clock.published(),
            first.sim_time,
            first
                .acknowledged
                .map_or_else(|| "none".to_string(), |t| t.to_string()),
            first.alerts_missing,
            path.display()
        );
    }
    Ok(())
}
