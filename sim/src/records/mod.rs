//! What the twin records: telemetry readings as devices emit them, and the ground truth.
//!
//! These are plain data, indexed by dense integer handles ([`PatientIx`], [`DeviceIx`], [`BedIx`])
//! that the [`Directory`](crate::Directory) maps to stable string ids. Only `exporters` turns
//! them into a wire or file format.

use serde::{Deserialize, Serialize};

mod faults;
mod status;

pub use faults::{Degradation, FaultKind, FaultParam, FaultRecord};
pub use status::{BatteryLevel, StatusReason, StatusReport};

use crate::news2::{Acvpu, News2, Spo2Scale};
use crate::time::SimMillis;

/// Dense index of a bed in the [`Directory`](crate::Directory) (stable-id order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BedIx(pub u32);
/// Dense index of a patient in the [`Directory`](crate::Directory) (stable-id order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PatientIx(pub u32);
/// Dense index of a device in the [`Directory`](crate::Directory) (stable-id order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DeviceIx(pub u32);

/// The kinds of device the twin models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// Wearable ECG patch: heart rate and respiratory rate (impedance-derived).
    EcgPatch,
    /// Pulse oximeter: SpO2 and pulse rate.
    PulseOximeter,
    /// Automatic blood-pressure cuff: intermittent systolic / diastolic / mean.
    BpCuff,
    /// Skin temperature patch, core-calibrated.
    TempPatch,
    /// Continuous glucose monitor (interstitial glucose, every 5 min).
    Cgm,
    /// Infusion pump: rate, volume remaining, and its state (running, occluded, complete).
    InfusionPump,
    /// Bed-exit (pressure-mat) sensor under a fall-risk patient.
    BedExitSensor,
    /// Temperature data logger of a vaccine fridge or freezer: air and buffered-probe
    /// (product) temperature.
    FridgeLogger,
    /// BLE (or UWB) tag on a piece of equipment: the receivers that heard it, with RSSI (or
    /// its position).
    AssetTag,
    /// A staff member's badge: like an asset tag, with a duress button.
    StaffBadge,
    /// A ward's edge gateway: its own status (spool depth, drops, uplink).
    EdgeGateway,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 11] = [
        DeviceKind::EcgPatch,
        DeviceKind::PulseOximeter,
        DeviceKind::BpCuff,
        DeviceKind::TempPatch,
        DeviceKind::Cgm,
        DeviceKind::InfusionPump,
        DeviceKind::BedExitSensor,
        DeviceKind::FridgeLogger,
        DeviceKind::AssetTag,
        DeviceKind::StaffBadge,
        DeviceKind::EdgeGateway,
    ];

    /// The name used in scenarios and outputs (`ecg_patch`).
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::EcgPatch => "ecg_patch",
            DeviceKind::PulseOximeter => "pulse_oximeter",
            DeviceKind::BpCuff => "bp_cuff",
            DeviceKind::TempPatch => "temp_patch",
            DeviceKind::Cgm => "cgm",
            DeviceKind::InfusionPump => "infusion_pump",
            DeviceKind::BedExitSensor => "bed_exit_sensor",
            DeviceKind::FridgeLogger => "fridge_logger",
            DeviceKind::AssetTag => "asset_tag",
            DeviceKind::StaffBadge => "staff_badge",
            DeviceKind::EdgeGateway => "edge_gateway",
        }
    }

    /// Short prefix for device ids (`ecg-W1-07`).
    pub fn id_prefix(self) -> &'static str {
        match self {
            DeviceKind::EcgPatch => "ecg",
            DeviceKind::PulseOximeter => "spo2",
            DeviceKind::BpCuff => "nibp",
            DeviceKind::TempPatch => "temp",
            DeviceKind::Cgm => "cgm",
            DeviceKind::InfusionPump => "pump",
            DeviceKind::BedExitSensor => "bedx",
            DeviceKind::FridgeLogger => "fridge",
            DeviceKind::AssetTag => "tag",
            DeviceKind::StaffBadge => "badge",
            DeviceKind::EdgeGateway => "edge",
        }
    }

    pub fn from_name(s: &str) -> Option<DeviceKind> {
        DeviceKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// What the device measures, in the order it reports them.
    pub fn metrics(self) -> &'static [Metric] {
        match self {
            DeviceKind::EcgPatch => &[Metric::HeartRate, Metric::RespRate],
            DeviceKind::PulseOximeter => &[Metric::Spo2, Metric::PulseRate],
            DeviceKind::BpCuff => &[Metric::Systolic, Metric::Diastolic, Metric::MeanArterial],
            DeviceKind::TempPatch => &[Metric::BodyTemp],
            DeviceKind::Cgm => &[Metric::Glucose],
            DeviceKind::InfusionPump => &[Metric::InfusionRate, Metric::VolumeRemaining],
            DeviceKind::BedExitSensor => &[Metric::BedOccupied],
            DeviceKind::FridgeLogger => &[Metric::AirTemp, Metric::ProductTemp],
            // Up to three receivers that heard the advert (UWB: the position).
            DeviceKind::AssetTag => &[Metric::Rssi, Metric::Rssi, Metric::Rssi],
            DeviceKind::StaffBadge => &[Metric::DuressButton, Metric::Rssi, Metric::Rssi],
            DeviceKind::EdgeGateway => &[Metric::SpoolDepth, Metric::SpoolDropped, Metric::Uplink],
        }
    }

    /// Whether the device is worn by (or attached to) a patient.
    pub fn on_patient(self) -> bool {
        !matches!(
            self,
            DeviceKind::FridgeLogger
                | DeviceKind::AssetTag
                | DeviceKind::StaffBadge
                | DeviceKind::EdgeGateway
        )
    }

    /// Whether it is located by RTLS (and moves).
    pub fn is_tag(self) -> bool {
        matches!(self, DeviceKind::AssetTag | DeviceKind::StaffBadge)
    }

    /// The status a device reports when its sensor is detached.
    pub fn detached_status(self) -> ObsStatus {
        match self {
            DeviceKind::EcgPatch => ObsStatus::LeadOff,
            DeviceKind::PulseOximeter => ObsStatus::ProbeOff,
            DeviceKind::BpCuff => ObsStatus::CuffError,
            DeviceKind::TempPatch | DeviceKind::Cgm | DeviceKind::BedExitSensor => {
                ObsStatus::SensorOff
            }
            DeviceKind::InfusionPump
            | DeviceKind::FridgeLogger
            | DeviceKind::AssetTag
            | DeviceKind::StaffBadge
            | DeviceKind::EdgeGateway => ObsStatus::SensorFault,
        }
    }
}

/// A measured quantity. Its interoperability codes (LOINC, MDC, UCUM) are the wire's business:
/// `exporters::wire::codes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Metric {
    HeartRate,
    RespRate,
    Spo2,
    PulseRate,
    BodyTemp,
    Systolic,
    Diastolic,
    MeanArterial,
    /// Interstitial glucose (CGM), mmol/L.
    Glucose,
    /// Infusion rate, mL/h.
    InfusionRate,
    /// Volume still to be infused, mL.
    VolumeRemaining,
    /// Bed occupied (1) or empty (0).
    BedOccupied,
    /// Fridge air temperature, °C.
    AirTemp,
    /// Fridge product temperature (buffered probe), °C.
    ProductTemp,
    /// Received signal strength of a tag's advert at one receiver, dBm.
    Rssi,
    /// UWB position, east, m (site plan).
    PositionX,
    /// UWB position, north, m (site plan).
    PositionY,
    /// A badge's duress button: 1 pressed, 0 not.
    DuressButton,
    /// A gateway's store-and-forward spool: messages waiting.
    SpoolDepth,
    /// A gateway's spool: messages dropped so far (full spool).
    SpoolDropped,
    /// A gateway's uplink: 1 up, 0 down.
    Uplink,
}

impl Metric {
    pub const ALL: [Metric; 21] = [
        Metric::HeartRate,
        Metric::RespRate,
        Metric::Spo2,
        Metric::PulseRate,
        Metric::BodyTemp,
        Metric::Systolic,
        Metric::Diastolic,
        Metric::MeanArterial,
        Metric::Glucose,
        Metric::InfusionRate,
        Metric::VolumeRemaining,
        Metric::BedOccupied,
        Metric::AirTemp,
        Metric::ProductTemp,
        Metric::Rssi,
        Metric::PositionX,
        Metric::PositionY,
        Metric::DuressButton,
        Metric::SpoolDepth,
        Metric::SpoolDropped,
        Metric::Uplink,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::HeartRate => "heart_rate",
            Metric::RespRate => "resp_rate",
            Metric::Spo2 => "spo2",
            Metric::PulseRate => "pulse_rate",
            Metric::BodyTemp => "body_temp",
            Metric::Systolic => "bp_systolic",
            Metric::Diastolic => "bp_diastolic",
            Metric::MeanArterial => "bp_mean",
            Metric::Glucose => "glucose",
            Metric::InfusionRate => "infusion_rate",
            Metric::VolumeRemaining => "volume_remaining",
            Metric::BedOccupied => "bed_occupied",
            Metric::AirTemp => "air_temp",
            Metric::ProductTemp => "product_temp",
            Metric::Rssi => "rssi",
            Metric::PositionX => "position_x",
            Metric::PositionY => "position_y",
            Metric::DuressButton => "duress_button",
            Metric::SpoolDepth => "spool_depth",
            Metric::SpoolDropped => "spool_dropped",
            Metric::Uplink => "uplink",
        }
    }
}

/// Status a device attaches to an observation. Devices only report what they can know: a
/// detached probe is known; a motion artifact is not (that is what makes alarms false).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ObsStatus {
    Ok,
    LeadOff,
    ProbeOff,
    SensorOff,
    CuffError,
    LowBattery,
    /// The sensor reports a fault (a failed fridge probe; a pump's own sensor fault).
    SensorFault,
    /// Infusion pump: downstream occlusion alarm; nothing is infused.
    Occlusion,
    /// Infusion pump: the volume to be infused is done.
    InfusionComplete,
    /// Pulse oximeter: no usable pulse signal ("Low Perf").
    LowPerfusion,
    /// CGM: a new sensor warming up.
    WarmUp,
}

impl ObsStatus {
    pub const ALL: [ObsStatus; 11] = [
        ObsStatus::Ok,
        ObsStatus::LeadOff,
        ObsStatus::ProbeOff,
        ObsStatus::SensorOff,
        ObsStatus::CuffError,
        ObsStatus::LowBattery,
        ObsStatus::SensorFault,
        ObsStatus::Occlusion,
        ObsStatus::InfusionComplete,
        ObsStatus::LowPerfusion,
        ObsStatus::WarmUp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ObsStatus::Ok => "ok",
            ObsStatus::LeadOff => "lead_off",
            ObsStatus::ProbeOff => "probe_off",
            ObsStatus::SensorOff => "sensor_off",
            ObsStatus::CuffError => "cuff_error",
            ObsStatus::LowBattery => "low_battery",
            ObsStatus::SensorFault => "sensor_fault",
            ObsStatus::Occlusion => "occlusion",
            ObsStatus::InfusionComplete => "infusion_complete",
            ObsStatus::LowPerfusion => "low_perfusion",
            ObsStatus::WarmUp => "warm_up",
        }
    }
}

/// One observation inside a reading. `value` is `None` when the device reports no value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub metric: Metric,
    pub value: Option<f32>,
    pub status: ObsStatus,
    /// The receiver an RSSI was measured at (index into the directory's receivers), else
    /// [`NO_SOURCE`].
    pub source: u16,
}

/// [`Observation::source`] of an observation not tied to a receiver.
pub const NO_SOURCE: u16 = u16::MAX;

/// Most observations any device reports at once (the BP cuff's three).
pub const MAX_OBS: usize = 3;

/// One emission of a device: what it measured at one moment, as it reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub device: DeviceIx,
    /// Per-device sequence number, from 0, +1 per emission.
    pub seq: u32,
    /// Simulation time of the measurement (the truth's clock).
    pub sim_ms: SimMillis,
    /// The device's own timestamp: simulation time plus the device's clock offset and drift.
    pub device_ms: SimMillis,
    pub battery_pct: f32,
    pub len: u8,
    pub obs: [Observation; MAX_OBS],
}

impl Reading {
    pub fn observations(&self) -> &[Observation] {
        &self.obs[..usize::from(self.len)]
    }

    /// The observations `(metric, value, status)` as an emission's array (at most
    /// [`MAX_OBS`]; the rest empty) and their count: for readings built by hand (tests, tools).
    pub fn pack(obs: &[(Metric, Option<f32>, ObsStatus)]) -> ([Observation; MAX_OBS], u8) {
        let mut o = [Observation {
            metric: Metric::HeartRate,
            value: None,
            status: ObsStatus::Ok,
            source: NO_SOURCE,
        }; MAX_OBS];
        for (slot, (metric, value, status)) in o.iter_mut().zip(obs) {
            *slot = Observation {
                metric: *metric,
                value: *value,
                status: *status,
                source: NO_SOURCE,
            };
        }
        (o, obs.len().min(MAX_OBS) as u8)
    }
}

/// A reading as it went upstream: what the telemetry table and the wire get. The forwarding
/// time is the gateway's (later than the measurement if the reading waited in its spool); a
/// run without gateways forwards every reading as it is emitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forwarded {
    pub reading: Reading,
    pub forwarded_ms: SimMillis,
}

impl std::ops::Deref for Forwarded {
    type Target = Reading;
    fn deref(&self) -> &Reading {
        &self.reading
    }
}

/// What happened to an emission on its way out. The transport names are the ledger's
/// vocabulary: a file sink delivers; a live transport's receiver acknowledges (or the message
/// was only written, with no acknowledgement to wait for); the radio and the gateways lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Written to the file sink (runs without a live transport) as soon as it was emitted.
    Delivered,
    /// Written to the file sink after waiting in its gateway's spool (the uplink was down, or
    /// a backlog was draining): `forwarded_ms` says when.
    DeliveredLate,
    /// No receiver heard it (distance, walls, a tag out of range).
    RadioLost,
    /// Its gateway's spool was full and the drop policy chose it.
    SpoolDropped,
    /// A live transport with acknowledgements: its receiver acknowledged it (MQTT QoS 1:
    /// the broker's PUBACK).
    Acknowledged,
    /// A live transport without acknowledgements: written to the connection; whether it
    /// arrived is not observable (MQTT QoS 0).
    Sent,
    /// Written to the live transport at least once, but no acknowledgement came before the run
    /// ended.
    Unacknowledged,
    /// Still spooled when the run ended (in the live transport, or in its gateway): never
    /// written upstream.
    Unsent,
    /// Lost on the way (radio, full spool).
    Dropped,
    /// Its gateway crashed or lost power while it was spooled, and the spool was volatile.
    SpoolLost,
    /// The device kept it in its onboard buffer while no receiver heard it, and the buffer
    /// overflowed (oldest first).
    BufferDropped,
    /// Its gateway sent it over a lossy uplink (an `uplink_degraded` fault) and it never
    /// arrived.
    UplinkLost,
}

impl Fate {
    pub const ALL: [Fate; 12] = [
        Fate::Delivered,
        Fate::DeliveredLate,
        Fate::RadioLost,
        Fate::SpoolDropped,
        Fate::Acknowledged,
        Fate::Sent,
        Fate::Unacknowledged,
        Fate::Unsent,
        Fate::Dropped,
        Fate::SpoolLost,
        Fate::BufferDropped,
        Fate::UplinkLost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fate::Delivered => "delivered",
            Fate::DeliveredLate => "delivered_late",
            Fate::RadioLost => "radio_lost",
            Fate::SpoolDropped => "spool_dropped",
            Fate::Acknowledged => "acknowledged",
            Fate::Sent => "sent",
            Fate::Unacknowledged => "unacknowledged",
            Fate::Unsent => "unsent",
            Fate::Dropped => "dropped",
            Fate::SpoolLost => "spool_lost",
            Fate::BufferDropped => "buffer_dropped",
            Fate::UplinkLost => "uplink_lost",
        }
    }

    pub fn from_name(s: &str) -> Option<Fate> {
        Fate::ALL.into_iter().find(|f| f.name() == s)
    }

    /// A fate a live transport decides: the emission was handed to it.
    pub fn live(self) -> bool {
        matches!(
            self,
            Fate::Acknowledged | Fate::Sent | Fate::Unacknowledged | Fate::Unsent | Fate::Dropped
        )
    }

    /// Handed to a live transport and taken by it (acknowledged, or written where there is no
    /// acknowledgement to wait for): what the `delivered` figure counts.
    pub fn delivered_live(self) -> bool {
        matches!(self, Fate::Acknowledged | Fate::Sent)
    }

    /// It left the twin towards the system under test (not lost on the radio, in a gateway,
    /// or still in a spool).
    pub fn left_the_twin(self) -> bool {
        !matches!(
            self,
            Fate::Unsent
                | Fate::Dropped
                | Fate::RadioLost
                | Fate::SpoolDropped
                | Fate::SpoolLost
                | Fate::BufferDropped
                | Fate::UplinkLost
        )
    }
}

/// What an emission is: a reading (telemetry) or a device's status message. Each kind numbers
/// its emissions on its own, so a ledger entry is keyed by (device, kind, seq).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmissionKind {
    Telemetry,
    Status,
    /// A reading's FHIR copy (`--fhir-topic`): the same (device, seq) as its telemetry.
    Fhir,
}

impl EmissionKind {
    pub fn name(self) -> &'static str {
        match self {
            EmissionKind::Telemetry => "telemetry",
            EmissionKind::Status => "status",
            EmissionKind::Fhir => "fhir",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        [
            EmissionKind::Telemetry,
            EmissionKind::Status,
            EmissionKind::Fhir,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

/// The ledger entry of one emission.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmissionFate {
    pub device: DeviceIx,
    pub kind: EmissionKind,
    pub seq: u32,
    pub sim_ms: SimMillis,
    pub fate: Fate,
    /// Where it went (`"file"`, `"mqtt"`), or where it was lost (`"radio"`, `"gateway"`).
    pub sink: &'static str,
    /// When its gateway forwarded it upstream; `None` if it never was.
    pub forwarded_ms: Option<SimMillis>,
    /// How many times it was written to a broker connection (0 for the file sink; more than 1
    /// after a reconnect resent it).
    pub attempts: u8,
    /// Live runs in a paced mode: how late (wall clock, microseconds) its first write left
    /// compared with its scheduled wall time. Not deterministic; `None` otherwise.
    pub lateness_us: Option<i64>,
}

/// True vitals of one patient at one moment, with NEWS2 computed from them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TruthVitals {
    pub patient: PatientIx,
    pub sim_ms: SimMillis,
    pub heart_rate: f32,
    pub resp_rate: f32,
    pub spo2: f32,
    pub temp_c: f32,
    pub systolic: f32,
    pub diastolic: f32,
    pub consciousness: Acvpu,
    pub on_oxygen: bool,
    pub scale: Spo2Scale,
    pub news2: News2,
    /// True blood glucose, mmol/L, for patients who have it tracked (diabetics, CGM wearers).
    pub glucose_mmol: Option<f32>,
}

/// What a nurse's observation round measures (charted, or true at that moment).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartValues {
    pub heart_rate: f32,
    pub resp_rate: f32,
    pub spo2: f32,
    pub temp_c: f32,
    pub systolic: f32,
    pub diastolic: f32,
    pub consciousness: Acvpu,
    pub on_oxygen: bool,
}

/// A nurse's observation round for one patient: the chart (`charted.parquet`). What NEWS2
/// depends on that no wearable reports (consciousness, oxygen) is charted only here, and only
/// when a round happens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartRecord {
    pub patient: PatientIx,
    /// When the round was due (the NEWS2 frequency of the last charted score).
    pub due_ms: SimMillis,
    /// When the nurse charted it; `None`: the round was missed.
    pub charted_ms: Option<SimMillis>,
    /// The true values at the round (at its due time if missed).
    pub truth: ChartValues,
    pub news2_true: News2,
    /// What was charted (manual measurements), and its NEWS2.
    pub charted: Option<(ChartValues, News2)>,
    pub scale: Spo2Scale,
    /// When the next round is due.
    pub next_due_ms: SimMillis,
}

/// Clinical deterioration kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deterioration {
    Sepsis,
    RespiratoryFailure,
    Haemorrhage,
}

impl Deterioration {
    pub const ALL: [Deterioration; 3] = [
        Deterioration::Sepsis,
        Deterioration::RespiratoryFailure,
        Deterioration::Haemorrhage,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Deterioration::Sepsis => "sepsis",
            Deterioration::RespiratoryFailure => "respiratory_failure",
            Deterioration::Haemorrhage => "haemorrhage",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// How a deterioration shows in one patient: which vitals lead and which way they go. Drawn
/// per episode from the kind's mix (`twins::patient::params::PHENOTYPES`), or pinned by the
/// scenario's `variant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Sepsis: fever, tachycardia, tachypnoea, then hypotension; hypoxaemia late.
    Febrile,
    /// Sepsis whose first sign is the respiratory rate; fever and hypotension follow.
    TachypnoeaFirst,
    /// Sepsis with a falling temperature (a minority, with worse outcomes).
    Hypothermic,
    /// Respiratory failure with the expected tachycardia.
    Tachycardic,
    /// Respiratory failure in a beta-blocked patient: the heart rate barely rises.
    BetaBlocked,
    /// Haemorrhage compensated by tachycardia: the blood pressure holds until it does not.
    Compensated,
    /// Haemorrhage in an older or beta-blocked patient: little tachycardia, early hypotension.
    EarlyHypotension,
}

impl Variant {
    pub const ALL: [Variant; 7] = [
        Variant::Febrile,
        Variant::TachypnoeaFirst,
        Variant::Hypothermic,
        Variant::Tachycardic,
        Variant::BetaBlocked,
        Variant::Compensated,
        Variant::EarlyHypotension,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Variant::Febrile => "febrile",
            Variant::TachypnoeaFirst => "tachypnoea_first",
            Variant::Hypothermic => "hypothermic",
            Variant::Tachycardic => "tachycardic",
            Variant::BetaBlocked => "beta_blocked",
            Variant::Compensated => "compensated",
            Variant::EarlyHypotension => "early_hypotension",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
    /// The deterioration a variant belongs to.
    pub fn kind(self) -> Deterioration {
        match self {
            Variant::Febrile | Variant::TachypnoeaFirst | Variant::Hypothermic => {
                Deterioration::Sepsis
            }
            Variant::Tachycardic | Variant::BetaBlocked => Deterioration::RespiratoryFailure,
            Variant::Compensated | Variant::EarlyHypotension => Deterioration::Haemorrhage,
        }
    }
}

/// What treatment achieves: the condition goes away, or settles at part of its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    Full,
    Partial,
}

impl Recovery {
    pub const ALL: [Recovery; 2] = [Recovery::Full, Recovery::Partial];
    pub fn name(self) -> &'static str {
        match self {
            Recovery::Full => "full",
            Recovery::Partial => "partial",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// A deterioration episode as it really happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpisodeRecord {
    /// Stable episode number (scenario timeline order; a relapse numbers after every event).
    pub id: u32,
    pub patient: PatientIx,
    pub kind: Deterioration,
    /// Multiplier of the variant's full effect (drawn per episode, or the scenario's).
    pub severity: f32,
    pub variant: Variant,
    /// What treatment achieves; `None` when the episode is not treated in the run.
    pub recovery: Option<Recovery>,
    /// The episode this one is a relapse of.
    pub relapse_of: Option<u32>,
    pub onset_ms: SimMillis,
    /// How long the condition takes to develop fully.
    pub develop_ms: i64,
    /// First time the true NEWS2 reached 5 at or after onset.
    pub news2_ge5_ms: Option<SimMillis>,
    /// First time the true NEWS2 reached 7 at or after onset.
    pub news2_ge7_ms: Option<SimMillis>,
    pub peak_news2: u8,
    /// When treatment began to reverse it, if the scenario says so.
    pub resolve_ms: Option<SimMillis>,
    /// When it was over (severity back under 5 %); `None` if still going at the end of the run.
    pub end_ms: Option<SimMillis>,
}

/// A heart rhythm: the ground truth of the ECG (`twins::patient::rhythm`, docs/rhythms.md).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Rhythm {
    /// Sinus rhythm (bradycardia, normal or tachycardia by its rate).
    #[default]
    Sinus,
    /// Irregularly irregular ventricular response, no P waves.
    AtrialFibrillation,
    /// Wide-complex ventricular rhythm over 100 /min; a weak pulse.
    VentricularTachycardia,
    /// Ventricular flutter or fibrillation: no QRS, no pulse.
    VentricularFibrillation,
    /// No ventricular activity at all: no pulse.
    Asystole,
    /// Second-degree atrioventricular block (2:1): every other P wave is not conducted, the
    /// ventricular rate is half the sinus rate.
    SecondDegreeBlock,
}

impl Rhythm {
    pub const ALL: [Rhythm; 6] = [
        Rhythm::Sinus,
        Rhythm::AtrialFibrillation,
        Rhythm::VentricularTachycardia,
        Rhythm::VentricularFibrillation,
        Rhythm::Asystole,
        Rhythm::SecondDegreeBlock,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Rhythm::Sinus => "sinus",
            Rhythm::AtrialFibrillation => "atrial_fibrillation",
            Rhythm::VentricularTachycardia => "ventricular_tachycardia",
            Rhythm::VentricularFibrillation => "ventricular_fibrillation",
            Rhythm::Asystole => "asystole",
            Rhythm::SecondDegreeBlock => "second_degree_block",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
    /// The scenario event that starts it (`kind = "afib"`, …; none for sinus).
    pub fn event_name(self) -> &'static str {
        match self {
            Rhythm::Sinus => "sinus",
            Rhythm::AtrialFibrillation => "afib",
            Rhythm::VentricularTachycardia => "vt",
            Rhythm::VentricularFibrillation => "vf",
            Rhythm::Asystole => "asystole",
            Rhythm::SecondDegreeBlock => "heart_block",
        }
    }
    pub fn from_event_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| *k != Rhythm::Sinus && k.event_name() == s)
    }
    /// The MIT-BIH rhythm label (the aux text of a `+` annotation) at ventricular rate `rate`:
    /// `(N`, `(SBR` under 60 /min, `(AFIB`, `(VT`, `(VFL`, `(ASYS` (as the MIT-BIH Malignant
    /// Ventricular Ectopy Database writes it), `(BII`.
    pub fn mit_label(self, rate: f64) -> &'static str {
        match self {
            Rhythm::Sinus if rate < 60.0 => "(SBR",
            Rhythm::Sinus => "(N",
            Rhythm::AtrialFibrillation => "(AFIB",
            Rhythm::VentricularTachycardia => "(VT",
            Rhythm::VentricularFibrillation => "(VFL",
            Rhythm::Asystole => "(ASYS",
            Rhythm::SecondDegreeBlock => "(BII",
        }
    }
    /// Whether the heart ejects blood (a pulse the oximeter and the cuff can find).
    pub fn perfusing(self) -> bool {
        !matches!(self, Rhythm::VentricularFibrillation | Rhythm::Asystole)
    }
    /// Whether it is a ventricular arrhythmia or arrest (its own alarm classes: the rate
    /// alarms do not count it).
    pub fn lethal(self) -> bool {
        matches!(
            self,
            Rhythm::VentricularTachycardia | Rhythm::VentricularFibrillation | Rhythm::Asystole
        )
    }
}

/// A spell of one rhythm other than sinus, as it really was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RhythmRecord {
    /// Stable number: the timeline's first (scenario order), then the random ones.
    pub id: u32,
    pub patient: PatientIx,
    pub rhythm: Rhythm,
    pub onset_ms: SimMillis,
    /// First moment it was over; `None` if it still went on when the run ended.
    pub end_ms: Option<SimMillis>,
    /// Ventricular rate, /min (0 without a pulse; the mean for atrial fibrillation).
    pub rate: f32,
    /// Scheduled in the timeline, drawn at random, or the patient's known permanent rhythm
    /// (`chronic`: present before the run began).
    pub origin: RhythmOrigin,
    /// The spell this one follows on from (VT degenerating into VF, VF into asystole).
    pub follows: Option<u32>,
}

/// One step of a patient's waveforms (a run with `--waveforms`): ECG lead II (mV, 250 Hz),
/// pleth (125 Hz), impedance respiration (62.5 Hz), each from its sample `first` since the
/// run began, and the beats and rhythm changes under them (ground truth).
#[derive(Debug, Clone, PartialEq)]
pub struct WaveFrame {
    pub patient: PatientIx,
    /// Start of the step.
    pub sim_ms: SimMillis,
    /// Index of the first sample of each signal (ECG, pleth, respiration).
    pub first: [u64; 3],
    pub ecg: Vec<f32>,
    pub pleth: Vec<f32>,
    pub resp: Vec<f32>,
    /// Each beat: the ECG sample of its R peak, its PhysioNet symbol (`N`, `V`, `A`).
    pub beats: Vec<(u64, &'static str)>,
    /// The rhythm's MIT label (`(N`, `(AFIB`, …) when it changed at this frame's first ECG
    /// sample (and in the first frame).
    pub rhythm: Option<&'static str>,
}

/// Where a rhythm spell came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RhythmOrigin {
    Scheduled,
    Random,
    Chronic,
}

impl RhythmOrigin {
    pub fn name(self) -> &'static str {
        match self {
            RhythmOrigin::Scheduled => "scheduled",
            RhythmOrigin::Random => "random",
            RhythmOrigin::Chronic => "chronic",
        }
    }
}

/// Artifact kinds: things that make a device report something other than the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    /// Movement corrupts the signal: false desaturation, false tachycardia. Unflagged.
    Motion,
    /// Probe or lead detached (a temperature patch come off): no value, and a status flag.
    ProbeOff,
    /// CGM compression low: lying on the sensor squeezes interstitial fluid away and the
    /// reading falls by several mmol/L while blood glucose does not. Unflagged.
    CompressionLow,
    /// Fridge door open: the air temperature spikes while the product (buffered probe) barely
    /// moves. A non-event for the cold chain unless the product leaves its range.
    DoorOpen,
    /// A BP cuff's measurement fails (movement, a loose cuff, an arrhythmia): no value,
    /// `cuff_error`.
    CuffFailure,
    /// A BP cuff inflates a second time before it reads: the value is fine, the battery pays.
    Reinflation,
    /// A temperature patch loses skin contact at an edge: it reads low, unflagged.
    SkinContactLoss,
    /// The oximeter finds no usable pulse (cold hands, vasoconstriction): no value,
    /// `low_perfusion`.
    LowPerfusion,
    /// A new CGM sensor warms up after insertion: no value, `warm_up`.
    WarmUp,
    /// A CGM sensor's signal is unusable (Dexcom "???", Libre "signal loss"): no value,
    /// `sensor_fault`.
    SignalLoss,
}

impl ArtifactKind {
    pub const ALL: [ArtifactKind; 10] = [
        ArtifactKind::Motion,
        ArtifactKind::ProbeOff,
        ArtifactKind::CompressionLow,
        ArtifactKind::DoorOpen,
        ArtifactKind::CuffFailure,
        ArtifactKind::Reinflation,
        ArtifactKind::SkinContactLoss,
        ArtifactKind::LowPerfusion,
        ArtifactKind::WarmUp,
        ArtifactKind::SignalLoss,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ArtifactKind::Motion => "motion",
            ArtifactKind::ProbeOff => "probe_off",
            ArtifactKind::CompressionLow => "compression_low",
            ArtifactKind::DoorOpen => "door_open",
            ArtifactKind::CuffFailure => "cuff_failure",
            ArtifactKind::Reinflation => "reinflation",
            ArtifactKind::SkinContactLoss => "skin_contact_loss",
            ArtifactKind::LowPerfusion => "low_perfusion",
            ArtifactKind::WarmUp => "warm_up",
            ArtifactKind::SignalLoss => "signal_loss",
        }
    }
    /// The status a reading carries during the artifact, when it has no value (`None`: the
    /// reading has a value, however wrong).
    pub fn no_value_status(self, device: DeviceKind) -> Option<ObsStatus> {
        match self {
            ArtifactKind::ProbeOff => Some(device.detached_status()),
            ArtifactKind::CuffFailure => Some(ObsStatus::CuffError),
            ArtifactKind::LowPerfusion => Some(ObsStatus::LowPerfusion),
            ArtifactKind::WarmUp => Some(ObsStatus::WarmUp),
            ArtifactKind::SignalLoss => Some(ObsStatus::SensorFault),
            ArtifactKind::Motion
            | ArtifactKind::CompressionLow
            | ArtifactKind::DoorOpen
            | ArtifactKind::Reinflation
            | ArtifactKind::SkinContactLoss => None,
        }
    }
}

/// Whether an artifact was written in the scenario or drawn at random from its rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Scheduled,
    Random,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Scheduled => "scheduled",
            Origin::Random => "random",
        }
    }
}

/// A recorded non-event: an interval in which a device's output did not reflect the patient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArtifactRecord {
    pub device: DeviceIx,
    pub kind: ArtifactKind,
    pub start_ms: SimMillis,
    pub end_ms: SimMillis,
    pub origin: Origin,
}

/// Things that happen to devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceEventKind {
    /// Battery fell to the low-battery threshold (10 %).
    BatteryLow,
    /// Battery empty: the device stops emitting.
    BatteryDepleted,
    /// Infusion pump: an occlusion began.
    Occluded,
    /// Infusion pump: an occlusion was cleared (the infusion runs again).
    OcclusionCleared,
    /// Infusion pump: the volume to be infused is done.
    InfusionCompleted,
    /// Infusion pump: a new bag was hung and the infusion started.
    InfusionStarted,
    /// Bed-exit sensor: the patient got out of bed.
    BedExited,
    /// Bed-exit sensor: the patient is back in bed.
    BedReturned,
    /// Fridge logger: the door was opened.
    DoorOpened,
    /// Fridge logger: the door was closed.
    DoorClosed,
    /// Fridge logger: a defrost cycle began.
    DefrostStarted,
    /// Fridge logger: the compressor failed (it no longer runs).
    CompressorFailed,
    /// Fridge logger: the compressor was repaired.
    CompressorRepaired,
    /// Fridge logger: mains power was lost.
    PowerLost,
    /// Fridge logger: mains power came back.
    PowerRestored,
    /// Fridge logger: the temperature probe failed.
    ProbeFailed,
    /// Fridge logger: the temperature probe was replaced.
    ProbeReplaced,
    /// Gateway: its uplink went down (it spools).
    UplinkLost,
    /// Gateway: its uplink is back (it drains its spool).
    UplinkRestored,
    /// Badge: the duress button was pressed.
    DuressPressed,
    /// Badge: a colleague reached the caller (the duress call is answered).
    DuressAnswered,
    /// Asset tag: the asset left its permitted zones.
    ZoneLeft,
    /// Asset tag: the asset is back in its permitted zones.
    ZoneReturned,
}

impl DeviceEventKind {
    pub const ALL: [DeviceEventKind; 23] = [
        DeviceEventKind::BatteryLow,
        DeviceEventKind::BatteryDepleted,
        DeviceEventKind::Occluded,
        DeviceEventKind::OcclusionCleared,
        DeviceEventKind::InfusionCompleted,
        DeviceEventKind::InfusionStarted,
        DeviceEventKind::BedExited,
        DeviceEventKind::BedReturned,
        DeviceEventKind::DoorOpened,
        DeviceEventKind::DoorClosed,
        DeviceEventKind::DefrostStarted,
        DeviceEventKind::CompressorFailed,
        DeviceEventKind::CompressorRepaired,
        DeviceEventKind::PowerLost,
        DeviceEventKind::PowerRestored,
        DeviceEventKind::ProbeFailed,
        DeviceEventKind::ProbeReplaced,
        DeviceEventKind::UplinkLost,
        DeviceEventKind::UplinkRestored,
        DeviceEventKind::DuressPressed,
        DeviceEventKind::DuressAnswered,
        DeviceEventKind::ZoneLeft,
        DeviceEventKind::ZoneReturned,
    ];

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Whether the device itself can tell (and so may report it in a status message). A
    /// fridge logger cannot see its compressor, its door or the mains: those are ground truth
    /// only.
    pub fn device_knows(self) -> bool {
        !matches!(
            self,
            DeviceEventKind::DoorOpened
                | DeviceEventKind::DoorClosed
                | DeviceEventKind::DefrostStarted
                | DeviceEventKind::CompressorFailed
                | DeviceEventKind::CompressorRepaired
                | DeviceEventKind::PowerLost
                | DeviceEventKind::PowerRestored
                | DeviceEventKind::ProbeFailed
                | DeviceEventKind::ProbeReplaced
                | DeviceEventKind::DuressAnswered
                | DeviceEventKind::ZoneLeft
                | DeviceEventKind::ZoneReturned
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            DeviceEventKind::BatteryLow => "battery_low",
            DeviceEventKind::BatteryDepleted => "battery_depleted",
            DeviceEventKind::Occluded => "occluded",
            DeviceEventKind::OcclusionCleared => "occlusion_cleared",
            DeviceEventKind::InfusionCompleted => "infusion_completed",
            DeviceEventKind::InfusionStarted => "infusion_started",
            DeviceEventKind::BedExited => "bed_exited",
            DeviceEventKind::BedReturned => "bed_returned",
            DeviceEventKind::DoorOpened => "door_opened",
            DeviceEventKind::DoorClosed => "door_closed",
            DeviceEventKind::DefrostStarted => "defrost_started",
            DeviceEventKind::CompressorFailed => "compressor_failed",
            DeviceEventKind::CompressorRepaired => "compressor_repaired",
            DeviceEventKind::PowerLost => "power_lost",
            DeviceEventKind::PowerRestored => "power_restored",
            DeviceEventKind::ProbeFailed => "probe_failed",
            DeviceEventKind::ProbeReplaced => "probe_replaced",
            DeviceEventKind::UplinkLost => "uplink_lost",
            DeviceEventKind::UplinkRestored => "uplink_restored",
            DeviceEventKind::DuressPressed => "duress_pressed",
            DeviceEventKind::DuressAnswered => "duress_answered",
            DeviceEventKind::ZoneLeft => "zone_left",
            DeviceEventKind::ZoneReturned => "zone_returned",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceEvent {
    pub device: DeviceIx,
    pub sim_ms: SimMillis,
    pub kind: DeviceEventKind,
    /// The device's own clock at the event, and its battery then (`None`: no battery), as a
    /// status message about the event reports them. Producers write `sim_ms` and `None`; the
    /// device twin stamps both before the event is recorded.
    pub device_ms: SimMillis,
    pub battery_pct: Option<f32>,
}

/// Which fridge temperature an excursion is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// The cabinet air: spikes with every door opening.
    Air,
    /// The product, as the buffered (glycol) probe sees it: what the cold chain is about.
    Product,
}

impl Measure {
    pub fn name(self) -> &'static str {
        match self {
            Measure::Air => "air",
            Measure::Product => "product",
        }
    }
}

/// A temperature excursion of a fridge or freezer, as it really was: any time outside the
/// storage range (DOMAIN.md section 4), for the air or the product.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExcursionRecord {
    /// The fridge's logger.
    pub device: DeviceIx,
    pub measure: Measure,
    /// Above the range (`true`) or below it.
    pub high: bool,
    pub start_ms: SimMillis,
    /// `None`: still outside the range when the run ended.
    pub end_ms: Option<SimMillis>,
    /// The warmest (or coldest) true temperature during the excursion, °C.
    pub peak_c: f32,
}

/// Where a tag really was, for the ground truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionRecord {
    pub device: DeviceIx,
    pub sim_ms: SimMillis,
    /// Site plan, metres.
    pub x_m: f32,
    pub y_m: f32,
    /// Index into the directory's spaces.
    pub space: u32,
}
