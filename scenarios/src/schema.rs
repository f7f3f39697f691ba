//! The TOML schema as written by users (see docs/scenarios.md). Every struct denies unknown
//! keys; values that a later check may reject keep their span for the error message.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;
use toml::value::Datetime;
use wardtwin_sim::records::DeviceKind;

/// A chronic condition that shapes a patient's baselines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// COPD with hypercapnic respiratory failure: NEWS2 SpO2 scale 2, target 88–92 %.
    Copd,
    Diabetes,
    HeartFailure,
    Hypertension,
    /// Permanent atrial fibrillation: a faster, more variable heart rate, rate-controlled in
    /// most and not in some.
    AtrialFibrillation,
    /// Dementia: confusion that comes and goes through the day (worse in the evening), charted
    /// as C on ACVPU.
    Dementia,
}

impl Condition {
    pub const ALL: [Condition; 6] = [
        Condition::Copd,
        Condition::Diabetes,
        Condition::HeartFailure,
        Condition::Hypertension,
        Condition::AtrialFibrillation,
        Condition::Dementia,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Condition::Copd => "copd",
            Condition::Diabetes => "diabetes",
            Condition::HeartFailure => "heart_failure",
            Condition::Hypertension => "hypertension",
            Condition::AtrialFibrillation => "atrial_fibrillation",
            Condition::Dementia => "dementia",
        }
    }
}

/// How unwell a patient is at baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Acuity {
    Low,
    Medium,
    High,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub scenario: RawMeta,
    #[serde(default)]
    pub site: RawSite,
    #[serde(rename = "ward")]
    pub wards: Spanned<Vec<RawWard>>,
    #[serde(default)]
    pub population: RawPopulation,
    #[serde(default, rename = "patient")]
    pub patients: Vec<RawPatient>,
    #[serde(default, rename = "kit")]
    pub kits: BTreeMap<String, RawKit>,
    #[serde(default)]
    pub artifacts: RawArtifacts,
    #[serde(default, rename = "event")]
    pub events: Vec<RawEvent>,
    #[serde(default, rename = "fridge")]
    pub fridges: Vec<RawFridge>,
    #[serde(default)]
    pub incidents: RawIncidents,
    #[serde(default)]
    pub chart: RawChart,
    #[serde(default)]
    pub rtls: RawRtls,
    #[serde(default)]
    pub radio: RawRadio,
    #[serde(default)]
    pub gateways: RawGateways,
    #[serde(default, rename = "space")]
    pub spaces: Vec<RawSpace>,
    #[serde(default, rename = "receiver")]
    pub receivers: Vec<RawReceiver>,
    #[serde(default)]
    pub scoring: RawScoring,
}

/// `[[fridge]]`: a vaccine fridge or freezer with its data logger.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFridge {
    pub id: Spanned<String>,
    pub ward: Spanned<String>,
    /// `fridge` (2-8 °C, default) or `freezer` (-50 to -15 °C).
    pub kind: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub room_temp: Option<Spanned<f64>>,
    pub door_openings_per_day: Option<Spanned<f64>>,
    /// Time between defrost cycles, or `"none"`.
    pub defrost_every: Option<Spanned<String>>,
    pub ballast: Option<Spanned<f64>>,
}

/// `[incidents]`: rates of random incidents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIncidents {
    pub hypos_per_diabetic_day: Option<Spanned<f64>>,
    pub bed_exits_per_night: Option<Spanned<f64>>,
    pub occlusions_per_pump_day: Option<Spanned<f64>>,
    pub compression_lows_per_night: Option<Spanned<f64>>,
    pub deteriorations_per_patient_day: Option<Spanned<f64>>,
    pub paroxysmal_af_per_patient_day: Option<Spanned<f64>>,
}

/// `[chart]`: the nurses' observation rounds' compliance (docs/chart.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChart {
    /// Fractions of rounds missed, by day and at night.
    pub missed_day: Option<Spanned<f64>>,
    pub missed_night: Option<Spanned<f64>>,
    /// Mean delay of a round done (`"15m"`), by day and at night.
    pub delay_day: Option<Spanned<String>>,
    pub delay_night: Option<Spanned<String>>,
    /// When night begins and ends, local `"HH:MM"`.
    pub night_from: Option<Spanned<String>>,
    pub night_to: Option<Spanned<String>>,
    /// Fraction of normal-looking respiratory rates charted as 18 without counting.
    pub habitual_rr: Option<Spanned<f64>>,
}

/// `[scoring]`: how a run of this scenario is judged.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScoring {
    /// Gates, e.g. `"sensitivity.deterioration >= 0.9"` (see docs/scoring.md).
    #[serde(default)]
    pub gates: Vec<Spanned<String>>,
    /// `score` (default) or `dont_care`: whether a deterioration condition outside every
    /// episode (a chronically abnormal patient's NEWS2) is scored.
    pub chronic: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeta {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: String,
    /// Start of simulated time: a TOML offset date-time, e.g. `2026-03-02T00:00:00Z`.
    pub epoch: Spanned<Datetime>,
    pub duration: Spanned<String>,
    pub seed: u64,
    pub step: Option<Spanned<String>>,
    pub truth_interval: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    #[serde(default)]
    pub name: String,
    /// Local time offset from UTC in hours, for circadian rhythms (default 0).
    pub utc_offset_hours: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWard {
    pub id: Spanned<String>,
    #[serde(default)]
    pub name: String,
    pub beds: Spanned<u32>,
    pub beds_per_room: Option<Spanned<u32>>,
    /// Vaccine fridges with default settings (`<ward>-F1`, `<ward>-F2`, …).
    pub fridges: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAge {
    pub mean: f64,
    pub sd: f64,
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAcuityMix {
    pub low: f64,
    pub medium: f64,
    pub high: f64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConditionMix {
    pub copd: Option<Spanned<f64>>,
    pub diabetes: Option<Spanned<f64>>,
    pub heart_failure: Option<Spanned<f64>>,
    pub hypertension: Option<Spanned<f64>>,
    pub atrial_fibrillation: Option<Spanned<f64>>,
    pub dementia: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPopulation {
    pub occupancy: Option<Spanned<f64>>,
    /// Exactly this many occupied beds (instead of `occupancy`).
    pub count: Option<Spanned<u32>>,
    pub kit: Option<Spanned<String>>,
    pub age: Option<Spanned<RawAge>>,
    pub acuity: Option<Spanned<RawAcuityMix>>,
    /// Fraction of patients on supplemental oxygen.
    pub oxygen: Option<Spanned<f64>>,
    #[serde(default)]
    pub conditions: RawConditionMix,
    /// Fraction of patients at risk of falling.
    pub fall_risk: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPatient {
    pub bed: Spanned<String>,
    pub id: Option<Spanned<String>>,
    pub age: Option<Spanned<f64>>,
    pub acuity: Option<Acuity>,
    pub conditions: Option<Vec<Condition>>,
    pub oxygen: Option<bool>,
    pub spo2_scale: Option<Spanned<u8>>,
    pub kit: Option<Spanned<String>>,
    pub fall_risk: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKit {
    pub devices: Spanned<Vec<RawDevice>>,
    /// Live runs stream these patients' waveforms (ECG, pleth, respiration) on the wire.
    pub waveforms: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    pub kind: Spanned<DeviceKind>,
    pub interval: Option<Spanned<String>>,
    /// `diabetes` or `fall_risk`: only those patients wear it.
    pub only: Option<Spanned<String>>,
    /// Fraction of (eligible) patients who get one.
    pub share: Option<Spanned<f64>>,
    /// Readings kept on board while out of coverage (default: the kind's).
    pub buffer: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArtifacts {
    pub motion_per_device_day: Option<Spanned<f64>>,
    pub probe_off_per_device_day: Option<Spanned<f64>>,
    pub motion_duration: Option<Spanned<String>>,
    pub probe_off_duration: Option<Spanned<String>>,
    /// Device kinds that get random artifacts (default: ecg_patch, pulse_oximeter).
    pub devices: Option<Vec<DeviceKind>>,
    /// Multiplier of every device kind's own failure rates (default 1).
    pub device_failures: Option<Spanned<f64>>,
}

/// One timeline entry. The fields allowed depend on `kind`, checked after parsing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    pub at: Spanned<String>,
    pub bed: Option<Spanned<String>>,
    pub fridge: Option<Spanned<String>>,
    pub ward: Option<Spanned<String>>,
    pub asset: Option<Spanned<String>>,
    pub staff: Option<Spanned<String>>,
    /// `asset_wander`: where it ends up (a ward id, or `EXIT`).
    pub to: Option<Spanned<String>>,
    pub kind: Spanned<String>,
    pub develop: Option<Spanned<String>>,
    pub resolve_after: Option<Spanned<String>>,
    pub severity: Option<Spanned<f64>>,
    /// Deteriorations: which vitals lead (`febrile`, `hypothermic`, `beta_blocked`, …).
    pub variant: Option<Spanned<String>>,
    /// Deteriorations with `resolve_after`: `full` or `partial`.
    pub recovery: Option<Spanned<String>>,
    /// Deteriorations with `resolve_after`: a relapse begins this long after treatment.
    pub relapse_after: Option<Spanned<String>>,
    pub device: Option<Spanned<DeviceKind>>,
    pub duration: Option<Spanned<String>>,
    /// `uplink_flapping`: how long each down (and each up) lasts.
    pub period: Option<Spanned<String>>,
    /// `gateway_crash`, `gateway_power_loss`: `persistent` or `volatile` (the default).
    pub spool: Option<Spanned<String>>,
    /// `battery_wave`: the share of the ward's battery devices that go flat.
    pub share: Option<Spanned<f64>>,
    /// `clock_step`: how far the clocks jump, signed (`"-5m"`, `"+1h"`).
    pub step: Option<Spanned<String>>,
    /// `uplink_degraded`: added delay, its jitter, the share of messages lost, and the
    /// messages per second the uplink carries.
    pub latency: Option<Spanned<String>>,
    pub jitter: Option<Spanned<String>>,
    pub loss: Option<Spanned<f64>>,
    pub bandwidth: Option<Spanned<f64>>,
    /// `clock_drift`: the extra drift, parts per million, signed.
    pub drift: Option<Spanned<f64>>,
    /// `radio_interference`: the extra loss on the ward's receivers, dB.
    pub attenuation: Option<Spanned<f64>>,
    /// `broker_outage`, `broker_restart`: whether the broker keeps retained messages and
    /// sessions (default false).
    pub persistence: Option<Spanned<bool>>,
    /// Rhythms: the ventricular rate, /min; `pvcs`: premature beats per minute.
    pub rate: Option<Spanned<f64>>,
    /// `vt`, `vf`, `asystole`: what follows, `sinus` (the default) or `arrest`.
    pub then: Option<Spanned<String>>,
    /// `vt`: its length in beats instead of a duration (a run of 3 or 4 is a PVC run).
    pub beats: Option<Spanned<i64>>,
}

/// `[[space]]`: one space of an explicit ward floor plan.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpace {
    pub id: Spanned<String>,
    pub ward: Spanned<String>,
    pub kind: Spanned<String>,
    /// `[x, y, width, height]`, metres.
    pub rect: Spanned<Vec<f64>>,
    pub zone: Option<String>,
    /// Spaces it opens onto (`MAIN` is the site's main corridor).
    #[serde(default)]
    pub connects: Vec<Spanned<String>>,
}

/// `[[receiver]]`: an RTLS receiver (or UWB anchor) in an explicit floor plan.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReceiver {
    pub id: Option<Spanned<String>>,
    pub space: Spanned<String>,
    /// `[x, y]`, metres (default: the centre of the space).
    pub at: Option<Spanned<Vec<f64>>>,
}

/// `[rtls]`: tracked equipment and staff.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRtls {
    pub assets_per_bed: Option<Spanned<f64>>,
    pub staff_per_bed: Option<Spanned<f64>>,
    /// `ble` (RSSI at receivers) or `uwb` (positions).
    pub mode: Option<Spanned<String>>,
    pub report_interval: Option<Spanned<String>>,
    pub wanders_per_asset_day: Option<Spanned<f64>>,
    pub losses_per_asset_day: Option<Spanned<f64>>,
    pub duress_per_staff_day: Option<Spanned<f64>>,
    pub moves_per_asset_day: Option<Spanned<f64>>,
}

/// `[radio]`: the log-distance path-loss model (DOMAIN.md section 5).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRadio {
    pub p1m_dbm: Option<Spanned<f64>>,
    pub exponent: Option<Spanned<f64>>,
    pub shadowing_sd_db: Option<Spanned<f64>>,
    pub wall_loss_db: Option<Spanned<f64>>,
    pub sensitivity_dbm: Option<Spanned<f64>>,
    pub retries: Option<Spanned<u32>>,
}

/// `[gateways]`: each ward's edge gateway.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateways {
    pub spool_limit: Option<Spanned<u32>>,
    /// `drop_oldest` or `drop_newest`.
    pub drop_policy: Option<Spanned<String>>,
    /// Messages per second a gateway forwards when draining a backlog.
    pub forward_rate: Option<Spanned<f64>>,
    pub status_interval: Option<Spanned<String>>,
}
