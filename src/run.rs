//! `wardtwin run`: simulate a scenario into a run folder.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use wardtwin_exporters::live::options::client_id_prefix;
use wardtwin_exporters::live::{
    BrokerUrl, Collector, ConnectionMode, Credentials, EmbeddedBroker, LiveOptions, LiveSink,
    LiveStats, Pacer, Publisher, Speed, TlsFiles,
};
use wardtwin_exporters::manifest::{
    FileEntry, LiveManifest, Manifest, Program, RUN_FORMAT, ScenarioRef,
};
use wardtwin_exporters::reference::{ReferenceConfig, ReferenceStack};
use wardtwin_exporters::runfolder;
use wardtwin_exporters::wire::WireDirectory;
use wardtwin_exporters::{DEFAULT_CHUNK_ROWS, ParquetSink};
use wardtwin_sim::time::{format_duration, format_iso_ms, parse_duration};
use wardtwin_sim::{Sim, Sinks};
use wardtwin_twins::{BuildOptions, build_app};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// A built-in scenario name (see `wardtwin scenarios`) or a path to a scenario file.
    pub scenario: String,
    /// Overrides the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Runs only this much of the scenario (e.g. 1h); events after it do not happen.
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
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
    #[command(flatten)]
    pub live: LiveArgs,
}

/// Live publishing to an MQTT broker.
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Live (MQTT)")]
pub struct LiveArgs {
    /// Publish live. Without --broker, starts an embedded broker on loopback and prints its URL.
    #[arg(long)]
    pub live: bool,
    /// Publish to this broker: mqtt://host[:port] or mqtts://host[:port] (implies --live).
    /// Credentials come from WARDTWIN_MQTT_USERNAME / WARDTWIN_MQTT_PASSWORD or --credentials.
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Where the embedded broker listens [default: 127.0.0.1 on a free port].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub security: BrokerSecurity,
    /// MQTT QoS for telemetry: 0 or 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub qos: u8,
    /// One MQTT connection per ward gateway, or one per device.
    #[arg(long, value_enum, default_value_t = Connection::PerGateway)]
    pub connection: Connection,
    /// Simulated seconds per wall second: 1 (real time), N, or max.
    #[arg(long, default_value = "1")]
    pub speed: String,
    /// Topic prefix, at most 3 lowercase levels.
    #[arg(long, default_value = wardtwin_exporters::wire::DEFAULT_PREFIX)]
    pub topic_prefix: String,
    /// How long the end of a run waits for outstanding acknowledgements (e.g. 30s, 2m).
    #[arg(long, default_value = "30s")]
    pub drain_timeout: String,
    /// Simulation time between periodic device status messages (they are also sent on every
    /// signal change and battery event).
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub status_interval: String,
    /// Collect alerts a system under test publishes on this topic, and score them at the end
    /// (scorecard.json/md/html, junit.xml; exit code 1 if a gate fails).
    #[arg(long, value_name = "TOPIC")]
    pub alerts_topic: Option<String>,
    /// Collect the system's ingestion echo ((device, seq) it ingested) from this topic.
    #[arg(long, value_name = "TOPIC")]
    pub echo_topic: Option<String>,
    /// Run the reference stack (naive or news2) in process as the system under test; alerts
    /// are collected on --alerts-topic (default sut/alerts).
    #[arg(long, value_name = "POLICY", num_args = 0..=1, default_missing_value = "news2")]
    pub with_reference_stack: Option<crate::score::Policy>,
    /// After the run, how long to keep collecting alerts once none arrives (e.g. 2s). With
    /// --with-reference-stack the run waits for every alert it published instead.
    #[arg(long, default_value = "2s", value_name = "DURATION")]
    pub alerts_grace: String,
    /// Messages the publisher's spools may hold while connections are down; past it the oldest
    /// of disconnected connections are dropped (recorded). While all are up, the simulation
    /// waits much earlier (1,024 per connection).
    #[arg(long, default_value_t = 200_000)]
    pub spool_limit: usize,
    /// Exit 0 even if telemetry was lost on its way to the broker (unacknowledged, unsent or
    /// dropped). Without it such a run exits 3, unless a scenario gate on `delivered` decides.
    #[arg(long)]
    pub allow_loss: bool,
}

/// TLS files and credentials for a broker connection (never a password on the command line).
#[derive(clap::Args, Debug)]
pub struct BrokerSecurity {
    /// CA certificate (PEM) for mqtts:// [default: the system's roots].
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mqtts://, with --key.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM), with --cert.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// File with the username on line 1 and the password on line 2.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
}

impl BrokerSecurity {
    /// Live options for `broker` with these TLS files, and credentials from --credentials or
    /// the environment.
    pub fn options(&self, broker: BrokerUrl) -> Result<LiveOptions> {
        let mut o = LiveOptions::new(broker);
        o.tls = TlsFiles {
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        };
        o.credentials = match &self.credentials {
            Some(f) => Some(Credentials::from_file(f)?),
            None => Credentials::from_env(|k| std::env::var(k).ok())?,
        };
        Ok(o)
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    PerGateway,
    PerDevice,
}

impl LiveArgs {
    fn enabled(&self) -> bool {
        self.live || self.broker.is_some()
    }

    /// The topic alerts are collected from, if this run collects alerts.
    fn alerts_topic(&self) -> Option<String> {
        match (&self.alerts_topic, self.with_reference_stack) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(_)) => Some(crate::score::DEFAULT_ALERTS_TOPIC.to_string()),
            (None, None) => None,
        }
    }

    /// Live options for a run; credentials from the environment or --credentials.
    fn options(&self, broker: BrokerUrl, client_ids: String) -> Result<LiveOptions> {
        let mut o = self.security.options(broker)?;
        o.qos = self.qos;
        o.connection = match self.connection {
            Connection::PerGateway => ConnectionMode::PerGateway,
            Connection::PerDevice => ConnectionMode::PerDevice,
        };
        o.speed = Speed::parse(&self.speed)?;
        wardtwin_exporters::wire::check_prefix(&self.topic_prefix)?;
        o.prefix = self.topic_prefix.clone();
        o.client_id_prefix = client_ids;
        let drain = parse_duration(&self.drain_timeout)
            .map_err(|e| anyhow::anyhow!("--drain-timeout {:?}: {e}", self.drain_timeout))?;
        o.drain_timeout = Duration::from_millis(drain.max(0) as u64);
        o.max_spool = self.spool_limit;
        o.status_interval_ms = parse_duration(&self.status_interval)
            .map_err(|e| anyhow::anyhow!("--status-interval {:?}: {e}", self.status_interval))?;
        Ok(o)
    }
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
    for t in wardtwin_exporters::table_names() {
        let _ = std::fs::remove_file(out.join(format!("{t}.parquet")));
    }
    let _ = std::fs::remove_file(out.join("manifest.json"));
    for f in [runfolder::ALERTS_LOG, runfolder::ECHO_LOG]
        .into_iter()
        .chain(wardtwin_exporters::scorecard::FILES)
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
    /// SIGINT/SIGTERM: stopped early, what was simulated is kept (`"complete": false`).
    Interrupted,
}

/// Runs a scenario.
pub fn run(args: &RunArgs) -> Result<Outcome> {
    let stop = crate::signals::StopFlag::install()?;
    let mut scenario =
        wardtwin_scenarios::load(&args.scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
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
        args.live.enabled() || (alerts_topic.is_none() && args.live.echo_topic.is_none()),
        "--alerts-topic, --echo-topic and --with-reference-stack need a live run (--live or --broker URL)"
    );
    let grace = parse_duration(&args.live.alerts_grace)
        .map_err(|e| anyhow::anyhow!("--alerts-grace {:?}: {e}", args.live.alerts_grace))?;
    let grace = Duration::from_millis(grace.max(0) as u64);
    let live = if args.live.enabled() {
        let (url, embedded) = match &args.live.broker {
            Some(u) => (BrokerUrl::parse(u)?, None),
            None => {
                let b = EmbeddedBroker::start(args.live.listen)?;
                (BrokerUrl::parse(&b.url())?, Some(b))
            }
        };
        let ids = client_id_prefix(&scenario.name, seed, std::process::id());
        Some((args.live.options(url, ids)?, embedded))
    } else {
        None
    };
    prepare_out(&out)?;

    // The system under test's side: subscribed before the first telemetry leaves.
    let wire_clock: Arc<OnceLock<LiveStats>> = Arc::new(OnceLock::new());
    let mut reference = None;
    let mut collector = None;
    if let (Some((o, _)), Some(topic)) = (&live, &alerts_topic) {
        if let Some(policy) = args.live.with_reference_stack {
            let cfg = ReferenceConfig {
                policy: policy.kind(),
                prefix: o.prefix.clone(),
                alerts_topic: topic.clone(),
                echo_topic: args.live.echo_topic.clone(),
                until_shutdown: true,
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
        let clock = Arc::clone(&wire_clock);
        let epoch = scenario.epoch_ms;
        collector = Some(Collector::start(
            o,
            format!("{}c", o.client_id_prefix),
            topic,
            args.live.echo_topic.as_deref(),
            &out,
            move || clock.get().and_then(LiveStats::wire_ms).unwrap_or(epoch),
        )?);
        outln!("collecting alerts from {topic}");
    }

    // Wall time is reported, never fed to the model.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let opts = BuildOptions {
        seed: Some(seed),
        threads: args.threads,
        live_transport: live.is_some(),
    };
    let (mut app, dir) = build_app(&scenario, &opts);
    let dir = Arc::new(dir);
    let sink = ParquetSink::create(&out, Arc::clone(&dir), DEFAULT_CHUNK_ROWS)
        .with_context(|| format!("cannot write into {}", out.display()))?;
    let mut pacer = None;
    let mut live_report = None;
    let mut live_stats = None;
    match &live {
        None => app.insert_resource(Sinks::new(vec![Box::new(sink)])),
        Some((o, embedded)) => {
            let wire = Arc::new(WireDirectory::new(&dir, &o.prefix, &scenario.site.name)?);
            let p = Pacer::new(o.speed);
            let publisher = Publisher::start(o, Arc::clone(&wire), p.clone())?;
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
            app.insert_resource(Sinks::new(vec![Box::new(sink)]))
        }
    };
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
    let every = match &pacer {
        Some(p) if p.speed() != Speed::Max => 1,
        _ => (600_000 / step).max(1) as u64,
    };
    let pace = |k: u64| {
        if stop.raised() {
            return false;
        }
        if let Some(p) = &pacer {
            p.wait(k as i64 * step);
        }
        !stop.raised()
    };
    sim.run_with(every, pace, |done, _| {
        bar.set_position(done);
        let live = live_stats.as_ref().map_or(String::new(), |s| {
            format!(
                " | mqtt {} done, {} queued, {} reconnects",
                s.done(),
                s.queued(),
                s.reconnects()
            )
        });
        bar.set_message(format!(
            "{} {}{live}",
            scenario.name,
            &format_iso_ms(epoch + done as i64 * step)[..16]
        ));
    });
    bar.finish_and_clear();
    let interrupted = stop.raised();
    if interrupted {
        sim.truncate();
        eprintln!(
            "interrupted at {} (simulated {} of {}): finishing the files with what was simulated; \
             press Ctrl-C again to quit at once",
            format_iso_ms(sim.clock().end_ms()),
            format_duration(sim.clock().duration_ms()),
            format_duration(scenario.duration_ms)
        );
        scenario.duration_ms = sim.clock().duration_ms();
    }
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
        live: live.as_ref().map(|(o, embedded)| LiveManifest {
            broker: o.broker.to_string(),
            embedded: embedded.is_some(),
            qos: o.qos,
            connection: o.connection.name(),
            speed: o.speed.name(),
            topic_prefix: o.prefix.clone(),
            report: live_report
                .as_ref()
                .and_then(|r| r.lock().ok().and_then(|g| g.clone()))
                .unwrap_or_default(),
        }),
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
        "  readings      {emissions} ({} observations)",
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
    for line in episodes.iter().take(SHOWN) {
        outln!("  episode       {line}");
    }
    if episodes.len() > SHOWN {
        outln!(
            "  episode       ... and {} more (episodes.parquet)",
            episodes.len() - SHOWN
        );
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
            "  fates         {} acknowledged, {} sent (QoS 0), {} unacknowledged, {} unsent, {} dropped; {} status messages",
            r.acknowledged,
            r.sent,
            r.unacknowledged,
            r.unsent,
            r.dropped,
            r.status_messages
        );
        outln!(
            "  delivery      {:.0} msg/s; {} reconnects, {} resent, max queue depth {}, spool-full waits {}",
            (r.acknowledged + r.sent + r.status_messages) as f64 / secs,
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
    let delivery = manifest.live.as_ref().map_or(Delivery::Complete, |l| {
        delivery_verdict(&l.report, &scenario.gates, args.live.allow_loss)
    });
    let Some(collector) = collector else {
        return Ok(match delivery {
            _ if interrupted => Outcome::Interrupted,
            Delivery::Short => Outcome::DeliveryShort,
            Delivery::GateFailed => Outcome::GateFailed,
            Delivery::Complete | Delivery::Accepted => Outcome::Done,
        });
    };
    // The run is over and the gateways have said goodbye; collect what is still coming.
    let published = reference.map(|r| r.join(REFERENCE_LIMIT).alerts);
    let collected = collector
        .finish(
            |n| published.is_some_and(|p| n >= p),
            if published.is_some() {
                REFERENCE_LIMIT
            } else {
                grace
            },
            if published.is_some() {
                REFERENCE_LIMIT
            } else {
                grace * 5
            },
        )
        .with_context(|| format!("cannot write the alerts log in {}", out.display()))?;
    if let Some(p) = published
        && collected.alerts < p
    {
        eprintln!(
            "warning: the reference stack published {p} alerts, {} arrived",
            collected.alerts
        );
    }
    let card = crate::score::score_run(&out, &out, None, &[])?;
    outln!(
        "  collected     {} alerts, {} echoes",
        collected.alerts,
        collected.echoes
    );
    crate::score::print_summary(&card, &out, args.quiet);
    Ok(match delivery {
        _ if interrupted => Outcome::Interrupted,
        // A `delivered` gate is in the scorecard's verdict already.
        Delivery::Short => Outcome::DeliveryShort,
        _ if !card.passed => Outcome::GateFailed,
        _ => Outcome::Done,
    })
}

/// What a live run's delivery means for its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Nothing lost.
    Complete,
    /// Lost, but `--allow-loss` or the `delivered` gates accept it.
    Accepted,
    /// Lost, and a `delivered` gate failed.
    GateFailed,
    /// Lost, and nothing accepts it.
    Short,
}

/// Says prominently (stderr) when telemetry was lost, and whether that is accepted.
fn delivery_verdict(
    r: &wardtwin_exporters::live::LiveReport,
    gates: &[String],
    allow_loss: bool,
) -> Delivery {
    let lost = r.lost();
    if lost == 0 {
        return Delivery::Complete;
    }
    let total = r.acknowledged + r.sent + lost;
    eprintln!(
        "\nWARNING: delivery fell short: {lost} of {total} telemetry messages never reached the broker \
         ({} unacknowledged, {} unsent, {} dropped){}",
        r.unacknowledged,
        r.unsent,
        r.dropped,
        r.last_error
            .as_ref()
            .map_or(String::new(), |e| format!("; last error: {e}"))
    );
    let delivered: Vec<_> = gates
        .iter()
        .filter_map(|g| wardtwin_scoring::gates::parse(g).ok())
        .filter(|g| g.metric == "delivered")
        .collect();
    if allow_loss {
        eprintln!("         accepted: --allow-loss");
        return Delivery::Accepted;
    }
    if delivered.is_empty() {
        eprintln!(
            "         exit code 3: pass --allow-loss, or gate it in the scenario (delivered >= 0.95)"
        );
        return Delivery::Short;
    }
    let ratio = r.delivered_ratio().unwrap_or(0.0);
    let failed: Vec<&str> = delivered
        .iter()
        .filter(|g| !g.op_holds(ratio))
        .map(|g| g.text.as_str())
        .collect();
    if failed.is_empty() {
        eprintln!("         accepted by the scenario's gates (delivered {ratio:.4})");
        Delivery::Accepted
    } else {
        eprintln!(
            "         gate failed: {} (delivered {ratio:.4})",
            failed.join(", ")
        );
        Delivery::GateFailed
    }
}

/// How long the end of a run waits for the in-process reference stack to finish.
const REFERENCE_LIMIT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;
    use wardtwin_exporters::live::LiveReport;

    fn report(acknowledged: u64, dropped: u64) -> LiveReport {
        LiveReport {
            acknowledged,
            dropped,
            ..LiveReport::default()
        }
    }

    /// Hardening issue: a live run whose broker never came back exited 0. Loss decides the exit
    /// code unless --allow-loss or a `delivered` gate accepts it.
    #[test]
    fn hardening_lost_telemetry_fails_the_run_unless_accepted() {
        let gate = |g: &str| vec![g.to_string()];
        assert_eq!(
            delivery_verdict(&report(100, 0), &[], false),
            Delivery::Complete
        );
        assert_eq!(
            delivery_verdict(&report(42, 58), &[], false),
            Delivery::Short
        );
        assert_eq!(
            delivery_verdict(&report(42, 58), &[], true),
            Delivery::Accepted
        );
        let ok = gate("delivered >= 0.95");
        assert_eq!(
            delivery_verdict(&report(96, 4), &ok, false),
            Delivery::Accepted
        );
        assert_eq!(
            delivery_verdict(&report(42, 58), &ok, false),
            Delivery::GateFailed
        );
        // Other gates do not accept loss.
        let other = gate("sensitivity >= 0.5");
        assert_eq!(
            delivery_verdict(&report(96, 4), &other, false),
            Delivery::Short
        );
    }
}
