//! The live side of a run: the broker (embedded or given), the system under test's side
//! (reference stack, alert collector) subscribed before the first telemetry leaves, and the
//! sinks that write the run folder and publish.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result};
use wardtwin_exporters::ParquetSink;
use wardtwin_exporters::hl7::Hl7Intake;
use wardtwin_exporters::mqtt::options::client_id_prefix;
use wardtwin_exporters::mqtt::sync::{ack_topic, clock_topic};
use wardtwin_exporters::mqtt::{
    BrokerUrl, ClockSender, Collector, ConnectionMode, Cut, EmbeddedBroker, FaultProxy,
    LiveOptions, LiveReport, LiveSink, LiveStats, Pacer, Publisher, Scope, SimClockOut, SyncMode,
    SyncPoint,
};
use wardtwin_exporters::runfolder::manifest::LiveManifest;
use wardtwin_exporters::wire::{WireDirectory, slug};
use wardtwin_reference::{ReferenceConfig, ReferenceStack};
use wardtwin_scenarios::Scenario;
use wardtwin_sim::{Directory, RecordSink};

use super::args::{FaultProxyMode, LiveArgs};

/// The broker a live run publishes to: its options, the embedded broker if there is one, and
/// the fault proxy in front of it if the drill cuts links.
pub(super) struct Broker {
    pub opts: LiveOptions,
    pub embedded: Option<EmbeddedBroker>,
    pub proxy: Option<Proxied>,
}

/// The fault proxy, and the options that connect through it.
pub(super) struct Proxied {
    pub proxy: FaultProxy,
    pub opts: LiveOptions,
}

impl Broker {
    /// The options the twin's publisher and the in-process system under test connect with:
    /// through the fault proxy if there is one. (The alert collector, the measuring
    /// instrument, connects directly.)
    pub fn through(&self) -> &LiveOptions {
        self.proxy.as_ref().map_or(&self.opts, |p| &p.opts)
    }
}

/// What the manifest says of a live run's broker and stream.
pub(super) fn live_manifest(
    live: &Option<Broker>,
    report: &Option<Arc<Mutex<Option<LiveReport>>>>,
) -> Option<LiveManifest> {
    live.as_ref().map(|b| LiveManifest {
        broker: b.opts.broker.to_string(),
        embedded: b.embedded.is_some(),
        fault_proxy: b.proxy.as_ref().map(|p| p.proxy.stats()),
        qos: b.opts.qos,
        connection: b.opts.connection.name(),
        speed: b.opts.speed.name(),
        topic_prefix: b.opts.prefix.clone(),
        report: report
            .as_ref()
            .and_then(|r| r.lock().ok().and_then(|g| g.clone()))
            .unwrap_or_default(),
    })
}

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
    let opts = args.options(url, ids)?;
    let cuts = !wardtwin_twins::faults::link_cuts(scenario).is_empty();
    let proxy = match args.fault_proxy {
        FaultProxyMode::Off => None,
        FaultProxyMode::Auto if !cuts => None,
        FaultProxyMode::On | FaultProxyMode::Auto if opts.broker.tls => {
            anyhow::ensure!(
                args.fault_proxy != FaultProxyMode::On,
                "--fault-proxy on: the fault proxy cannot stand between the twin and an \
                 mqtts:// broker (the certificate names the broker, not the proxy); use \
                 --fault-proxy off (the faults then act in the simulation only)"
            );
            outln!(
                "fault proxy: not used with an mqtts:// broker: the drill's link faults act in \
                 the simulation only (the gateways spool), the connections stay up"
            );
            None
        }
        FaultProxyMode::On | FaultProxyMode::Auto => {
            let proxy = FaultProxy::start(&opts.broker.host, opts.broker.port)?;
            let mut through = opts.clone();
            through.broker = BrokerUrl {
                tls: false,
                host: proxy.addr().ip().to_string(),
                port: proxy.addr().port(),
            };
            Some(Proxied {
                proxy,
                opts: through,
            })
        }
    };
    Ok(Some(Broker {
        opts,
        embedded,
        proxy,
    }))
}

/// The proxy's schedule: each link cut of the scenario, as the client ids it closes (a ward's
/// gateway connection, or its devices'; everybody's for the broker).
fn proxy_cuts(scenario: &Scenario, wire: &WireDirectory, o: &LiveOptions) -> Vec<Cut> {
    wardtwin_twins::faults::link_cuts(scenario)
        .into_iter()
        .map(|c| {
            let scope = match c.ward {
                None => Scope::All,
                Some(w) => {
                    let ward = &scenario.wards[w].id;
                    let ids = wire
                        .gateways
                        .iter()
                        .enumerate()
                        .filter(|(_, g)| &g.ward == ward)
                        .flat_map(|(gi, g)| match o.connection {
                            ConnectionMode::PerGateway => vec![Publisher::client_id(o, gi, false)],
                            ConnectionMode::PerDevice => g
                                .devices
                                .iter()
                                .map(|&d| Publisher::client_id(o, d as usize, false))
                                .collect(),
                        })
                        .collect();
                    Scope::Clients(ids)
                }
            };
            Cut {
                start_ms: c.window.start_ms,
                end_ms: c.window.end_ms,
                scope,
            }
        })
        .collect()
}

/// The system under test's side of a run.
pub(super) struct SutSide {
    /// The live figures, once the publisher exists (the collector stamps alerts with them).
    pub wire_clock: Arc<OnceLock<LiveStats>>,
    pub reference: Option<ReferenceStack>,
    pub collector: Option<Collector>,
    /// The HL7 v2 alarm intake (`--alerts-hl7`), instead of the collector.
    pub hl7: Option<Hl7Intake>,
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
    if let Some(Broker { opts: o, .. }) = live
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
    if let (Some(b), Some(topic)) = (live, alerts_topic) {
        let o = &b.opts;
        if let Some(policy) = args.with_reference_stack {
            let cfg = ReferenceConfig {
                policy: policy.kind(),
                prefix: o.prefix.clone(),
                alerts_topic: topic.clone(),
                echo_topic: args.echo_topic(),
                until_shutdown: true,
                lockstep: mode == SyncMode::Lockstep,
            };
            // The system under test connects through the fault proxy: when the broker goes
            // down, it loses its connection too.
            reference = Some(ReferenceStack::start(
                b.through(),
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
            None,
        )?);
        outln!("collecting alerts from {topic}");
    }

    let hl7 = match (live, args.alerts_hl7) {
        (Some(_), Some(addr)) => {
            let wire = Arc::clone(&wire_clock);
            let epoch = scenario.epoch_ms;
            let intake = Hl7Intake::start(addr, out, move || {
                wire.get().and_then(LiveStats::wire_ms).unwrap_or(epoch)
            })
            .with_context(|| format!("cannot write the alerts log in {}", out.display()))?;
            outln!(
                "taking HL7 v2 alarms (IHE PCD ACM, ORU^R40 over MLLP) on {}",
                intake.addr()
            );
            Some(intake)
        }
        _ => None,
    };

    Ok(SutSide {
        wire_clock,
        reference,
        collector,
        hl7,
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
    fhir: bool,
) -> Result<Wired> {
    let mut pacer = None;
    let mut live_report = None;
    let mut live_stats = None;
    let mut clock_sender = None;
    let mut handed = None;
    let sinks = match live {
        None => Vec::<Box<dyn RecordSink>>::from([Box::new(sink) as Box<dyn RecordSink>]),
        Some(b) => {
            let (o, embedded) = (&b.opts, &b.embedded);
            let wire = Arc::new(WireDirectory::new(dir, &o.prefix, &scenario.site.name)?);
            let p = Pacer::new(o.speed);
            if b.proxy.is_some() {
                // Each connection through the proxy costs this process three sockets (the
                // client's, and the proxy's two ends).
                let n = match o.connection {
                    ConnectionMode::PerGateway => wire.gateways.len(),
                    ConnectionMode::PerDevice => wire.devices.len(),
                } as u64
                    + 1;
                if let Some(limit) = wardtwin_exporters::mqtt::publisher::open_files_limit() {
                    anyhow::ensure!(
                        3 * n + 64 <= limit,
                        "{n} connections through the fault proxy need {} sockets, but this process \
                         may open only {limit} files: raise it (ulimit -n), use --connection \
                         per-gateway, or --fault-proxy off",
                        3 * n + 64
                    );
                }
            }
            let publisher = Publisher::start(b.through(), Arc::clone(&wire), p.clone())?;
            if let Some(px) = &b.proxy {
                let cuts = proxy_cuts(scenario, &wire, &px.opts);
                outln!(
                    "fault proxy: {} -> {} ({} scheduled link cut(s))",
                    px.proxy.addr(),
                    o.broker,
                    cuts.len()
                );
                px.proxy.set_cuts(cuts);
            }
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
            let mut sink = LiveSink::new(sink, publisher, wire, o, scenario.epoch_ms)
                .with_step(scenario.step_ms);
            if fhir {
                sink = sink.with_fhir(dir);
                outln!(
                    "FHIR: each reading also as a transaction Bundle on {p}/{s}/<ward>/<device>/fhir, \
                     the chart's rounds on {p}/{s}/<ward>/chart/fhir",
                    p = o.prefix,
                    s = slug(&scenario.site.name)
                );
            }
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
        wardtwin_exporters::errln!(
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
