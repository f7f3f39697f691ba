//! `wardtwin run`'s command line: the run, the live transport, broker security.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use wardtwin_exporters::mqtt::{
    BrokerUrl, ConnectionMode, Credentials, LiveOptions, Speed, SyncMode, TlsFiles,
};
use wardtwin_sim::time::parse_duration;

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
    /// Adds a fault to the scenario's timeline, for an ad-hoc drill (repeatable):
    /// `'uplink W2 down 20m at 03:00'`, `'wifi W1 down 10m at 2h'`,
    /// `'gateway W1 power 10m persistent at 09:50'`, … (docs/scenarios.md#ad-hoc-faults), or a
    /// file of `[[event]]`s.
    #[arg(long, value_name = "SPEC")]
    pub fault: Vec<String>,
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
    /// Simulation time between a device's periodic status messages (devices also send one when
    /// they first report, on every signal change and at every event they can know).
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub status_interval: String,
    /// Record these beds' waveforms (ECG II 250 Hz, pleth 125 Hz, respiration 62.5 Hz, with
    /// beat and rhythm annotations) as WFDB records under waveforms/: a comma-separated list
    /// of beds (W1-03,W1-07) or `all`. Ground truth and telemetry are the same without it.
    #[arg(long, value_name = "BEDS")]
    pub waveforms: Option<String>,
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
    /// Simulated seconds per wall second: 1 (real time), N, max, or auto (as fast as the system
    /// under test ingests, measured by its echo: needs --echo-topic or --with-reference-stack).
    #[arg(long, default_value = "1")]
    pub speed: String,
    /// Topic prefix, at most 3 lowercase levels.
    #[arg(long, default_value = wardtwin_exporters::wire::DEFAULT_PREFIX)]
    pub topic_prefix: String,
    /// How long the end of a run waits for outstanding acknowledgements (e.g. 30s, 2m).
    #[arg(long, default_value = "30s")]
    pub drain_timeout: String,
    /// Collect alerts a system under test publishes on this topic, and score them at the end
    /// (scorecard.json/md/html, junit.xml; exit code 1 if a gate fails).
    #[arg(long, value_name = "TOPIC")]
    pub alerts_topic: Option<String>,
    /// Take the system under test's alarms as HL7 v2 instead: IHE PCD ACM (ORU^R40) over MLLP,
    /// listening on ADDR (e.g. 127.0.0.1:2575). Each alarm is logged in alerts.jsonl as the
    /// alert v1 it maps to, and scored; a malformed message gets an HL7 NACK and is counted as
    /// rejected (docs/hl7.md).
    #[arg(long, value_name = "ADDR")]
    pub alerts_hl7: Option<std::net::SocketAddr>,
    /// Also publish each reading as FHIR R4: a transaction Bundle of its Observations
    /// (conditional creates on their identifiers) on the device's `…/fhir` topic, next to its
    /// wire v1 telemetry, each with its fate in the ledger; and each round of the nurses'
    /// chart as a Bundle on the ward's `…/chart/fhir` topic (docs/fhir.md, docs/chart.md).
    #[arg(long)]
    pub fhir_topic: bool,
    /// Collect the system's ingestion echo ((device, seq) it ingested) from this topic
    /// [default with --with-reference-stack: sut/ingested, so that the run knows whether the
    /// stack was fed everything].
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
    /// How the system under test's time is coupled to the twin's: `free` (its own wall
    /// clock), `clock` (the twin publishes its simulation time on <prefix>/<site>/sim/clock),
    /// `lockstep` (and waits for the system's acknowledgement on <prefix>/<site>/sim/ack
    /// before it simulates further). Default: lockstep with --with-reference-stack, clock with
    /// --clock-topic, free otherwise. See docs/scoring.md, "Time between twin and system".
    #[arg(long, value_enum)]
    pub sync: Option<Sync>,
    /// Publish the simulation clock (same as --sync clock, unless --sync says more).
    #[arg(long)]
    pub clock_topic: bool,
    /// Simulation time between clock messages (sync points), at least one step.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub sync_interval: String,
    /// Lockstep: how long to wait for the system's acknowledgement before the sync point is
    /// recorded as a stall and the run goes on.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub sync_timeout: String,
    /// Make the scenario's link faults (uplink outages and flapping, gateways down, the broker
    /// down or restarting) happen to the live transport for real, through an in-process TCP
    /// proxy on loopback that cuts and refuses the connections on the drill's schedule: `auto`
    /// (when the scenario has such faults and the broker URL is mqtt://), `on` (an error if it
    /// cannot be), `off` (the faults act in the simulation only).
    #[arg(long, value_enum, default_value_t = FaultProxyMode::Auto)]
    pub fault_proxy: FaultProxyMode,
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

/// A duration flag's value in ms, at least `min` ms: an error names the flag and the value.
pub(super) fn duration_flag(flag: &str, value: &str, min: i64) -> Result<i64> {
    let ms = parse_duration(value).map_err(|e| anyhow::anyhow!("{flag} {value:?}: {e}"))?;
    anyhow::ensure!(ms >= min, "{flag} {value:?}: at least {min} ms");
    Ok(ms)
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sync {
    Free,
    Clock,
    Lockstep,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultProxyMode {
    Auto,
    On,
    Off,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    PerGateway,
    PerDevice,
}

impl LiveArgs {
    pub(super) fn enabled(&self) -> bool {
        self.live || self.broker.is_some()
    }

    /// How the system under test's time is coupled to the twin's.
    pub(super) fn sync_mode(&self) -> SyncMode {
        match (self.sync, self.clock_topic, self.with_reference_stack) {
            (Some(Sync::Free), _, _) => SyncMode::Free,
            (Some(Sync::Clock), _, _) => SyncMode::Clock,
            (Some(Sync::Lockstep), _, _) | (None, _, Some(_)) => SyncMode::Lockstep,
            (None, true, None) => SyncMode::Clock,
            (None, false, None) => SyncMode::Free,
        }
    }

    /// The sync interval and timeout.
    pub(super) fn sync_timing(&self, step_ms: i64) -> Result<(i64, Duration)> {
        let interval = duration_flag("--sync-interval", &self.sync_interval, step_ms)?;
        let timeout = duration_flag("--sync-timeout", &self.sync_timeout, 1)?;
        Ok((interval, Duration::from_millis(timeout as u64)))
    }

    /// The ingestion echo's topic, if this run collects one.
    pub(super) fn echo_topic(&self) -> Option<String> {
        match (&self.echo_topic, self.with_reference_stack) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(_)) => Some(crate::score::DEFAULT_ECHO_TOPIC.to_string()),
            (None, None) => None,
        }
    }

    /// The topic alerts are collected from, if this run collects alerts.
    pub(super) fn alerts_topic(&self) -> Option<String> {
        match (&self.alerts_topic, self.with_reference_stack) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(_)) => Some(crate::score::DEFAULT_ALERTS_TOPIC.to_string()),
            (None, None) => None,
        }
    }

    /// Live options for a run; credentials from the environment or --credentials.
    pub(super) fn options(&self, broker: BrokerUrl, client_ids: String) -> Result<LiveOptions> {
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
        o.low_latency = self.sync_mode() != SyncMode::Free;
        Ok(o)
    }
}
