//! What the scorer reads: the run's ground truth and what the system under test sent, as plain
//! typed values. `exporters` fills them from the run folder (Parquet, JSONL); tests build them
//! directly. Times are simulation milliseconds since the Unix epoch.

use serde::Serialize;
use wardtwin_sim::conditions::Severity;
use wardtwin_sim::records::Fate;
use wardtwin_sim::time::SimMillis;

/// The run being scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    pub scenario: String,
    pub seed: u64,
    pub epoch_ms: SimMillis,
    pub end_ms: SimMillis,
    pub step_ms: i64,
    pub beds: usize,
    pub patients: usize,
}

impl RunInfo {
    /// Bed-days of monitoring: the denominator of every "per bed per day" figure.
    pub fn bed_days(&self) -> f64 {
        self.beds as f64 * (self.end_ms - self.epoch_ms) as f64 / 86_400_000.0
    }
}

/// What kind of thing an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Bed,
    Patient,
    Device,
}

/// One row of the run's directory: a bed, patient or device, and what it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub kind: EntityKind,
    pub id: String,
    pub patient: Option<String>,
    pub bed: Option<String>,
    /// Its ward (beds, patients, devices).
    pub ward: Option<String>,
    /// A device's kind (`ecg_patch`, `edge_gateway`, …).
    pub device_kind: Option<String>,
}

/// One alertable condition from the ledger (`conditions.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub id: u32,
    pub class: String,
    pub severity: Severity,
    /// A patient id or a device id (see `device`).
    pub subject: String,
    /// The patient concerned (for a device condition, the patient wearing it).
    pub patient: Option<String>,
    /// For a device condition, the device (= `subject`).
    pub device: Option<String>,
    pub onset_ms: SimMillis,
    /// `None`: still going when the run ended.
    pub end_ms: Option<SimMillis>,
    /// Shorter than its rule's minimum: "don't care".
    pub transient: bool,
}

/// A recorded non-event: an interval in which a device did not reflect its patient.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub device: String,
    pub device_kind: String,
    pub patient: Option<String>,
    /// `motion` or `probe_off`.
    pub kind: String,
    pub start_ms: SimMillis,
    pub end_ms: SimMillis,
}

/// How the reason of an alert rejected for its size begins (`Received::alert` errors).
pub const OVERSIZE: &str = "oversize";

/// Alert priority (IEC 60601-1-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];
    pub fn name(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }
    /// The priority a condition of `severity` calls for.
    pub fn for_severity(severity: Severity) -> Self {
        match severity {
            Severity::Low => Priority::Low,
            Severity::Medium => Priority::Medium,
            Severity::High => Priority::High,
        }
    }
}

/// A well-formed alert from the system under test (schema v1, docs/wire-schema.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub alert_id: String,
    /// A patient, bed or device id.
    pub subject: String,
    pub class: String,
    pub priority: Priority,
    /// When the system says the condition began (its alarm-condition decision).
    pub began_ms: SimMillis,
    pub device: Option<String>,
}

/// One message received on the alerts topic (or one line of an alerts file), in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Position in the recorded stream (1-based line of `alerts.jsonl`).
    pub line: usize,
    /// Arrival, stamped in simulation time by the run's clock.
    pub arrival_ms: SimMillis,
    /// The alert, or why it was not one.
    pub alert: Result<Alert, String>,
    /// The first characters of the payload, for the scorecard's lists.
    pub excerpt: String,
}

/// One ingestion echo: the system under test says it ingested `(device, seq)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    pub device: String,
    pub seq: u32,
    pub arrival_ms: SimMillis,
}

/// One emission from the twin's ledger (for ingestion figures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emission {
    pub device: String,
    pub seq: u32,
    pub sim_ms: SimMillis,
    /// When it left the twin (its gateway forwarded it; later than `sim_ms` if it waited in a
    /// spool during a scheduled outage); `None` if it never did.
    pub forwarded_ms: Option<SimMillis>,
    pub fate: Fate,
    /// Where it went or was lost (`file`, `mqtt`, `radio`, `device`, `gateway`).
    pub sink: String,
}

/// One fault from the drill's ground truth (`faults.parquet`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    pub id: u32,
    /// `wifi_outage`, `uplink_outage`, … (docs/scenarios.md).
    pub kind: String,
    pub ward: Option<String>,
    /// The ward's gateway (its status device id), for a fault of a ward.
    pub gateway: Option<String>,
    /// The one device, for a fault of a device.
    pub device: Option<String>,
    pub start_ms: SimMillis,
    /// The heal; `None` if the run ended first.
    pub end_ms: Option<SimMillis>,
    /// Its shaping parameter, as text (`period 2m`, `spool volatile`, `share 0.3`, `step -1h`).
    pub parameter: Option<String>,
}

/// What the drill section is computed from: the faults, and the ledger's telemetry emissions.
#[derive(Debug, Clone, Default)]
pub struct DrillInputs {
    pub faults: Vec<Fault>,
    pub emissions: Vec<Emission>,
}

/// Malformed echo lines, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EchoStream {
    pub echoes: Vec<Echo>,
    pub malformed: u64,
}

/// Everything the scorer needs.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub run: RunInfo,
    pub directory: Vec<Entity>,
    pub conditions: Vec<Condition>,
    pub artifacts: Vec<Artifact>,
    pub alerts: Vec<Received>,
    /// Emission counts by fate, from the ledger.
    pub fates: Vec<(Fate, u64)>,
    /// Ingestion echo, if the system sent one; with the ledger's emissions to compare to.
    pub echo: Option<(EchoStream, Vec<Emission>)>,
    /// Alert collection stopped at its limit while alerts were still arriving.
    pub collection_cut_off: bool,
    /// How the system's time was coupled to the twin's (`sync.json`), if the run published
    /// its clock.
    pub sync: Option<SyncSummary>,
    /// What the run's embedded broker discarded for subscribers that fell behind (`broker.json`):
    /// (times, "client filter" of each subscription concerned).
    pub broker_discards: Option<(u64, Vec<String>)>,
    /// The run's faults and the emissions to judge them by; `None`: no faults (no drill
    /// section).
    pub drill: Option<DrillInputs>,
}

/// What a run's `sync.json` says about lockstep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// `clock` or `lockstep`.
    pub mode: String,
    /// Clock messages published (sync points).
    pub clocks: u64,
    /// Sync points at which the system did not acknowledge in time.
    pub stalls: u64,
    /// Simulation time of the first stall.
    pub first_stall: Option<String>,
}
