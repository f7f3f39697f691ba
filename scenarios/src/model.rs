//! The validated scenario: what the twin is built from. All times in ms; all references resolved
//! to indices; defaults filled in.

use std::collections::BTreeMap;

use wardtwin_sim::records::{ArtifactKind, Deterioration, DeviceKind, Recovery, Variant};
use wardtwin_sim::time::SimMillis;

pub use crate::layout::{Layout, Point, Receiver, Rect, Space, SpaceKind};
pub use crate::schema::{Acuity, Condition};

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Where it came from: a path, or `library:<name>`.
    pub origin: String,
    /// SHA-256 of the source text, hex.
    pub sha256: String,
    pub epoch_ms: SimMillis,
    pub duration_ms: i64,
    pub step_ms: i64,
    pub truth_interval_ms: i64,
    pub seed: u64,
    pub site: Site,
    pub wards: Vec<Ward>,
    /// Every bed, in scenario order (ward by ward).
    pub beds: Vec<Bed>,
    pub population: Population,
    /// Explicit patients, by bed index.
    pub patients: BTreeMap<usize, PatientSpec>,
    pub kits: BTreeMap<String, Kit>,
    pub artifacts: ArtifactRates,
    pub events: Vec<Event>,
    /// Vaccine fridges and freezers, ward by ward.
    pub fridges: Vec<FridgeSpec>,
    /// Rates of the things that happen at random to patients and devices.
    pub incidents: Incidents,
    /// The nurses' observation rounds (`[chart]`).
    pub chart: ChartCompliance,
    /// The site plan: every ward's spaces, receivers and gateway; where beds and fridges are.
    pub layout: Layout,
    /// Tracked equipment and staff.
    pub rtls: Rtls,
    pub assets: Vec<AssetSpec>,
    pub staff: Vec<StaffSpec>,
    pub radio: Radio,
    pub gateways: GatewayParams,
    /// `[scoring] gates`, each checked by the scorer's parser (docs/scoring.md).
    pub gates: Vec<String>,
    /// `[scoring] chronic = "dont_care"`: deterioration conditions that began outside every
    /// episode of their patient are neither detected nor missed (a drill about outages judges
    /// the deteriorations its timeline wrote, not the ward's chronically abnormal patients).
    pub chronic_dont_care: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub name: String,
    pub utc_offset_hours: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ward {
    pub id: String,
    pub name: String,
    /// Indices into [`Scenario::beds`].
    pub beds: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bed {
    /// `W1-07`
    pub id: String,
    pub ward: usize,
    /// `W1-R2`
    pub room: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgeDist {
    pub mean: f64,
    pub sd: f64,
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    /// Probability that a bed with no explicit patient and no event is occupied.
    pub occupancy: f64,
    /// Exactly this many occupied beds, if given (then `occupancy` is unused).
    pub count: Option<usize>,
    pub kit: String,
    pub age: AgeDist,
    /// Probabilities of low, medium, high acuity (sum 1).
    pub acuity: [f64; 3],
    pub oxygen: f64,
    /// Prevalence of each condition.
    pub conditions: BTreeMap<Condition, f64>,
    /// Fraction of patients at risk of falling (they get a bed-exit sensor if their kit says
    /// `only = "fall_risk"`, and get out of bed at night).
    pub fall_risk: f64,
}

/// Rates of random incidents (each drawn from its own stream, so adding one changes no other).
#[derive(Debug, Clone, PartialEq)]
pub struct Incidents {
    /// Hypoglycaemic episodes per diabetic patient per day.
    pub hypos_per_diabetic_day: f64,
    /// Times a fall-risk patient gets out of bed per night (22:00-06:00 local).
    pub bed_exits_per_night: f64,
    /// Occlusions per infusion pump per day.
    pub occlusions_per_pump_day: f64,
    /// CGM compression lows per CGM per night.
    pub compression_lows_per_night: f64,
    /// Random deterioration episodes per patient per day (0: only the timeline's).
    pub deteriorations_per_patient_day: f64,
    /// Random paroxysmal atrial fibrillation episodes per patient per day (0: none).
    pub paroxysmal_af_per_patient_day: f64,
}

impl Default for Incidents {
    fn default() -> Self {
        Self {
            hypos_per_diabetic_day: 0.1,
            bed_exits_per_night: 1.0,
            occlusions_per_pump_day: 0.5,
            compression_lows_per_night: 0.3,
            deteriorations_per_patient_day: 0.0,
            paroxysmal_af_per_patient_day: 0.0,
        }
    }
}

/// `[chart]`: how well the nurses' observation rounds keep their times (docs/chart.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartCompliance {
    /// Night, local hours: from `night_from_h` to `night_to_h` (it may wrap past midnight).
    pub night_from_h: f64,
    pub night_to_h: f64,
    /// Probability that a round due then is missed.
    pub missed_day: f64,
    pub missed_night: f64,
    /// Mean delay of a round done (exponential), ms; never more than half the interval.
    pub delay_day_ms: f64,
    pub delay_night_ms: f64,
    /// Probability that a normal-looking respiratory rate (12-20) is charted as 18 without
    /// counting.
    pub habitual_rr: f64,
}

/// The defaults: audits of ward observations find rounds often late and night rounds
/// skipped; these are the model's assumptions, not a published figure.
impl Default for ChartCompliance {
    fn default() -> Self {
        Self {
            night_from_h: 22.0,
            night_to_h: 8.0,
            missed_day: 0.02,
            missed_night: 0.15,
            delay_day_ms: 15.0 * 60_000.0,
            delay_night_ms: 40.0 * 60_000.0,
            habitual_rr: 0.25,
        }
    }
}

/// A fridge (2-8 °C) or a freezer (-50 to -15 °C) (DOMAIN.md section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StorageKind {
    Fridge,
    Freezer,
}

impl StorageKind {
    pub const ALL: [StorageKind; 2] = [StorageKind::Fridge, StorageKind::Freezer];
    pub fn name(self) -> &'static str {
        match self {
            StorageKind::Fridge => "fridge",
            StorageKind::Freezer => "freezer",
        }
    }
    /// The storage range, °C.
    pub fn range_c(self) -> (f64, f64) {
        match self {
            StorageKind::Fridge => (2.0, 8.0),
            StorageKind::Freezer => (-50.0, -15.0),
        }
    }
}

/// One vaccine fridge or freezer and its data logger.
#[derive(Debug, Clone, PartialEq)]
pub struct FridgeSpec {
    /// `W1-VAC`; its logger is the device `fridge-W1-VAC`.
    pub id: String,
    /// Index into [`Scenario::wards`].
    pub ward: usize,
    pub kind: StorageKind,
    /// The logger's reading interval.
    pub interval_ms: i64,
    /// Temperature of the room it stands in, °C.
    pub room_c: f64,
    /// Random door openings per day (staff taking vaccines out), mostly in the day.
    pub door_openings_per_day: f64,
    /// Time between automatic defrost cycles (`None`: no defrost).
    pub defrost_every_ms: Option<i64>,
    /// Thermal ballast (water bottles, stock): multiplies how slowly the product warms when
    /// cooling stops (1 = an ordinary load).
    pub ballast: f64,
}

/// What the scenario pins down about one patient; the rest is drawn from the population.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatientSpec {
    pub id: Option<String>,
    pub age: Option<f64>,
    pub acuity: Option<Acuity>,
    pub conditions: Option<Vec<Condition>>,
    pub oxygen: Option<bool>,
    pub spo2_scale: Option<u8>,
    pub kit: Option<String>,
    pub fall_risk: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Kit {
    pub devices: Vec<DeviceSpec>,
    /// `waveforms = true`: a live run streams the waveforms of the patients wearing this kit
    /// (files need `--waveforms`).
    pub waveforms: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSpec {
    pub kind: DeviceKind,
    pub interval_ms: i64,
    /// Only patients who have this (`only = "diabetes"`, `"fall_risk"`) wear it.
    pub only: Option<Only>,
    /// The fraction of (eligible) patients who get one (`share = 0.3`; default 1).
    pub share: f64,
    /// How many readings it can keep on board while no receiver hears it, uploading them when
    /// one does again (`buffer = 288`; default: the kind's, docs/scenarios.md).
    pub buffer: Option<usize>,
}

/// Which patients a kit device is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Only {
    Diabetes,
    FallRisk,
}

impl Only {
    pub const ALL: [Only; 2] = [Only::Diabetes, Only::FallRisk];
    pub fn name(self) -> &'static str {
        match self {
            Only::Diabetes => "diabetes",
            Only::FallRisk => "fall_risk",
        }
    }
}

/// Default report interval of each device kind (DOMAIN.md section 1: wearable numerics are
/// reported every few seconds to a minute; temperature patches every 1–5 min; cuffs every
/// 15 min to 4 h. CGMs read every 5 min; pumps report their status every minute; a bed-exit
/// sensor sends a heartbeat every minute and reports a change at once; fridge loggers read
/// every 5 min, inside DOMAIN.md section 4's 15-30 min).
pub fn default_interval_ms(kind: DeviceKind) -> i64 {
    match kind {
        DeviceKind::EcgPatch | DeviceKind::PulseOximeter => 15_000,
        DeviceKind::TempPatch => 120_000,
        DeviceKind::BpCuff => 3_600_000,
        DeviceKind::Cgm | DeviceKind::FridgeLogger => 300_000,
        DeviceKind::InfusionPump | DeviceKind::BedExitSensor | DeviceKind::EdgeGateway => 60_000,
        DeviceKind::AssetTag | DeviceKind::StaffBadge => 30_000,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactRates {
    pub motion_per_device_day: f64,
    pub probe_off_per_device_day: f64,
    pub motion_mean_ms: i64,
    pub probe_off_mean_ms: i64,
    pub devices: Vec<DeviceKind>,
    /// Multiplier of every device kind's own failure rates (failed cuff measurements, patches
    /// coming off, low perfusion, CGM signal loss; `twins::device::params::FAILURES`): 1 is
    /// the published rates, 0 turns them off.
    pub device_failures: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Offset from the epoch.
    pub at_ms: i64,
    pub target: Target,
    pub kind: EventKind,
}

/// What an event happens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// Index into [`Scenario::beds`]: the patient in it, or one of their devices.
    Bed(usize),
    /// Index into [`Scenario::fridges`].
    Fridge(usize),
    /// Index into [`Scenario::wards`] (its gateway).
    Ward(usize),
    /// Index into [`Scenario::assets`].
    Asset(usize),
    /// Index into [`Scenario::staff`].
    Staff(usize),
    /// The whole site (a broker fault: every gateway's uplink ends there).
    Site,
}

impl Event {
    /// The bed, for a patient event.
    pub fn bed(&self) -> Option<usize> {
        match self.target {
            Target::Bed(b) => Some(b),
            _ => None,
        }
    }
}

/// Things that happen to a fridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FridgeFault {
    /// The door is open (a scheduled opening, or left ajar).
    DoorOpen,
    /// The compressor stops working (until repaired, if a duration is given).
    CompressorFailure,
    /// Mains power is lost for a while.
    PowerOutage,
    /// The logger's temperature probe fails (until replaced, if a duration is given).
    ProbeFailure,
}

impl FridgeFault {
    pub const ALL: [FridgeFault; 4] = [
        FridgeFault::DoorOpen,
        FridgeFault::CompressorFailure,
        FridgeFault::PowerOutage,
        FridgeFault::ProbeFailure,
    ];
    /// The event kind in scenarios.
    pub fn name(self) -> &'static str {
        match self {
            FridgeFault::DoorOpen => "door_open",
            FridgeFault::CompressorFailure => "compressor_failure",
            FridgeFault::PowerOutage => "power_outage",
            FridgeFault::ProbeFailure => "probe_failure",
        }
    }
    /// Whether the event must say how long it lasts.
    pub fn needs_duration(self) -> bool {
        matches!(self, FridgeFault::DoorOpen | FridgeFault::PowerOutage)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A deterioration. What the scenario leaves out is drawn per episode from the patient's
    /// stream (`twins::patient::phenotype`): development time, severity, variant, recovery.
    Deterioration {
        condition: Deterioration,
        /// Time to full development (`None`: drawn from the kind's range).
        develop_ms: Option<i64>,
        /// Treatment starts this long after onset, and the condition reverses.
        resolve_after_ms: Option<i64>,
        /// Multiplier of the variant's full effect (1 = textbook; `None`: drawn).
        severity: Option<f64>,
        /// Which vitals lead and which way they go (`None`: drawn from the kind's mix).
        variant: Option<Variant>,
        /// What treatment achieves (`None`: drawn); only with `resolve_after_ms`.
        recovery: Option<Recovery>,
        /// A relapse begins this long after treatment started; only with `resolve_after_ms`.
        relapse_after_ms: Option<i64>,
    },
    Artifact {
        kind: ArtifactKind,
        device: DeviceKind,
        duration_ms: i64,
    },
    /// Blood glucose falls to a nadir over `develop_ms`, and recovers once treated.
    Hypoglycaemia {
        develop_ms: i64,
        /// Treatment (glucose) starts this long after onset.
        resolve_after_ms: i64,
        /// 1 = a nadir of 2.6 mmol/L (level 2); 0.5 = 3.1 mmol/L; at most 2.
        severity: f64,
    },
    /// The heart goes into `rhythm` (`afib`, `vt`, `vf`, `asystole`, `heart_block`) for
    /// `duration_ms` (`None`: to the end of the run), then back to sinus; or, with `arrest`,
    /// it degenerates instead (VT into VF, VF into asystole, which lasts).
    Rhythm {
        rhythm: wardtwin_sim::records::Rhythm,
        duration_ms: Option<i64>,
        /// Ventricular rate, /min (`None`: drawn; AF: the rate it reaches).
        rate: Option<f64>,
        arrest: bool,
    },
    /// Premature ventricular beats at `per_min` for `duration_ms` (a burst of ectopy).
    Ectopy { per_min: f64, duration_ms: i64 },
    /// The patient's infusion pump occludes until a nurse clears it.
    PumpOcclusion { duration_ms: i64 },
    /// The patient gets out of bed for a while.
    BedExit { duration_ms: i64 },
    /// Something happens to a fridge (`None`: until the end of the run).
    Fridge {
        fault: FridgeFault,
        duration_ms: Option<i64>,
    },
    /// A ward gateway's uplink is down: it spools what it receives.
    UplinkOutage { duration_ms: i64 },
    /// A ward gateway's uplink goes down for `period_ms`, up for `period_ms`, and so on, for
    /// `duration_ms` (flapping).
    UplinkFlapping { duration_ms: i64, period_ms: i64 },
    /// A ward gateway's uplink is degraded, like netem on its link: each message it forwards
    /// arrives `latency_ms` ± `jitter_ms` later (so messages can overtake each other), is lost
    /// with probability `loss`, and the uplink carries at most `bandwidth` messages per second
    /// (the rest wait in its spool).
    UplinkDegraded {
        duration_ms: i64,
        how: wardtwin_sim::records::Degradation,
    },
    /// The broker is unreachable: down for `duration_ms`, or restarting (`restart`: the
    /// duration is its boot time). Every gateway's uplink ends there, so every gateway spools;
    /// `persistence` says whether the broker keeps retained messages and sessions across it.
    BrokerDown {
        restart: bool,
        duration_ms: i64,
        persistence: bool,
    },
    /// Interference in a ward: every transmission to its receivers loses `attenuation_db` more
    /// (a microwave, a neighbouring network on the same channel, a metal trolley park).
    RadioInterference {
        duration_ms: i64,
        attenuation_db: f64,
    },
    /// One device is carried out of coverage (the patient goes to the garden or for a scan):
    /// no receiver hears it.
    OutOfCoverage {
        duration_ms: i64,
        device: DeviceKind,
    },
    /// A ward's Wi-Fi/BLE receivers are down: its devices reach no receiver (those with an
    /// onboard buffer keep their readings and upload them when a receiver hears them again).
    WifiOutage { duration_ms: i64 },
    /// A ward gateway is down (a crash and its reboot, or a power loss): it receives nothing
    /// and forwards nothing; its spool survives only if it is persistent.
    GatewayDown {
        cause: GatewayDownCause,
        duration_ms: i64,
        persistent_spool: bool,
    },
    /// A share of a ward's battery-powered devices go flat, each at a moment drawn within
    /// `duration_ms` (a batch of devices charged together, dying together).
    BatteryWave { duration_ms: i64, share: f64 },
    /// Devices' clocks jump by `step_ms` (an NTP failure or a bad time source): a whole ward's
    /// devices (ward target) or one device (bed target with `device`).
    ClockStep {
        step_ms: i64,
        device: Option<DeviceKind>,
    },
    /// Devices' clocks start to drift by `ppm` more than their own (beyond spec: a failing
    /// oscillator, a clock that lost its time source), from the event on: a ward's devices or
    /// one device.
    ClockDrift {
        ppm: f64,
        device: Option<DeviceKind>,
    },
    /// An asset is taken away (to another ward's equipment room, or out of the building:
    /// `to` is a ward index, or `None` for outside) and left there.
    AssetWander { to: Option<usize> },
    /// A staff member presses their duress button.
    Duress,
}

/// Why a gateway is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GatewayDownCause {
    /// It crashed and reboots (the event's duration is the reboot time; default 2 min).
    Crash,
    /// It lost power until the event's duration is over.
    PowerLoss,
}

impl GatewayDownCause {
    pub fn name(self) -> &'static str {
        match self {
            GatewayDownCause::Crash => "gateway_crash",
            GatewayDownCause::PowerLoss => "gateway_power_loss",
        }
    }
}

impl EventKind {
    /// Whether this event is a fault of the hospital's devices or network (recorded in
    /// `faults.parquet` and judged in the scorecard's drill section).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            EventKind::UplinkOutage { .. }
                | EventKind::UplinkFlapping { .. }
                | EventKind::UplinkDegraded { .. }
                | EventKind::BrokerDown { .. }
                | EventKind::RadioInterference { .. }
                | EventKind::OutOfCoverage { .. }
                | EventKind::WifiOutage { .. }
                | EventKind::GatewayDown { .. }
                | EventKind::BatteryWave { .. }
                | EventKind::ClockStep { .. }
                | EventKind::ClockDrift { .. }
        )
    }
}

/// How tags are located.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtlsMode {
    /// BLE: the receivers that heard an advert report its RSSI.
    Ble,
    /// UWB: anchors compute a position (10-30 cm with line of sight, 50-100 cm without).
    Uwb,
}

/// `[rtls]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rtls {
    pub assets_per_bed: f64,
    pub staff_per_bed: f64,
    pub mode: RtlsMode,
    /// Tags report (receivers aggregate adverts) this often.
    pub report_interval_ms: i64,
    /// Times an asset is used (wheeled to a patient room, later back) per day.
    pub moves_per_asset_day: f64,
    /// Times an asset is taken to another ward and left there, per asset per day.
    pub wanders_per_asset_day: f64,
    /// Times an asset is taken out of the building, per asset per day.
    pub losses_per_asset_day: f64,
    pub duress_per_staff_day: f64,
}

impl Default for Rtls {
    fn default() -> Self {
        Self {
            assets_per_bed: 0.0,
            staff_per_bed: 0.0,
            mode: RtlsMode::Ble,
            report_interval_ms: 30_000,
            moves_per_asset_day: 3.0,
            wanders_per_asset_day: 0.02,
            losses_per_asset_day: 0.002,
            duress_per_staff_day: 0.005,
        }
    }
}

/// Kinds of tracked equipment (DOMAIN.md section 5 users ask "where is it now").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AssetKind {
    InfusionPump,
    Wheelchair,
    Ventilator,
    BladderScanner,
    EcgMachine,
}

impl AssetKind {
    /// The mix of a ward's equipment, by share.
    pub const MIX: [(AssetKind, f64); 5] = [
        (AssetKind::InfusionPump, 0.45),
        (AssetKind::Wheelchair, 0.3),
        (AssetKind::Ventilator, 0.1),
        (AssetKind::BladderScanner, 0.05),
        (AssetKind::EcgMachine, 0.1),
    ];
    pub fn name(self) -> &'static str {
        match self {
            AssetKind::InfusionPump => "infusion_pump",
            AssetKind::Wheelchair => "wheelchair",
            AssetKind::Ventilator => "ventilator",
            AssetKind::BladderScanner => "bladder_scanner",
            AssetKind::EcgMachine => "ecg_machine",
        }
    }
    /// Id prefix (`W1-IVP03`).
    pub fn prefix(self) -> &'static str {
        match self {
            AssetKind::InfusionPump => "IVP",
            AssetKind::Wheelchair => "WCH",
            AssetKind::Ventilator => "VEN",
            AssetKind::BladderScanner => "BSC",
            AssetKind::EcgMachine => "ECG",
        }
    }
}

/// One tracked asset.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetSpec {
    /// `W1-IVP03`; its tag is the device `tag-W1-IVP03`.
    pub id: String,
    pub kind: AssetKind,
    /// Its home ward (index): it is permitted in that ward's zone.
    pub ward: usize,
    pub permitted_zones: Vec<String>,
}

/// One staff member with a badge.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffSpec {
    /// `W1-N02`; the badge is the device `badge-W1-N02`.
    pub id: String,
    pub ward: usize,
}

/// `[radio]`: the log-distance path-loss model `RSSI(d) = P1m − 10·n·log10(d) − walls + X`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Radio {
    pub p1m_dbm: f64,
    pub exponent: f64,
    pub shadowing_sd_db: f64,
    /// Loss through the wall between two spaces.
    pub wall_loss_db: f64,
    /// Weakest signal a receiver decodes.
    pub sensitivity_dbm: f64,
    /// Retransmissions of a device with a connection (not tags' adverts).
    pub retries: u32,
}

impl Default for Radio {
    fn default() -> Self {
        Self {
            p1m_dbm: -59.0,
            exponent: 2.5,
            shadowing_sd_db: 3.0,
            wall_loss_db: 5.0,
            sensitivity_dbm: -95.0,
            retries: 2,
        }
    }
}

/// What a gateway does when its spool is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropPolicy {
    /// Drop the oldest message to make room (keep the freshest data).
    DropOldest,
    /// Refuse the new message (keep the history).
    DropNewest,
}

impl DropPolicy {
    pub const ALL: [DropPolicy; 2] = [DropPolicy::DropOldest, DropPolicy::DropNewest];
    pub fn name(self) -> &'static str {
        match self {
            DropPolicy::DropOldest => "drop_oldest",
            DropPolicy::DropNewest => "drop_newest",
        }
    }
}

/// `[gateways]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GatewayParams {
    pub spool_limit: usize,
    pub drop_policy: DropPolicy,
    pub forward_rate_per_s: f64,
    pub status_interval_ms: i64,
}

impl Default for GatewayParams {
    fn default() -> Self {
        Self {
            spool_limit: 10_000,
            drop_policy: DropPolicy::DropOldest,
            forward_rate_per_s: 200.0,
            status_interval_ms: 60_000,
        }
    }
}

/// Default time a deterioration takes to develop fully.
pub fn default_develop_ms(d: Deterioration) -> i64 {
    match d {
        Deterioration::Sepsis => 4 * 3_600_000,
        Deterioration::RespiratoryFailure => 3 * 3_600_000,
        Deterioration::Haemorrhage => 3_600_000,
    }
}

impl Scenario {
    pub fn bed_index(&self, id: &str) -> Option<usize> {
        self.beds.iter().position(|b| b.id == id)
    }

    /// The kit of the patient in `bed` (explicit, else the population's).
    pub fn kit_of_bed(&self, bed: usize) -> &Kit {
        let name = self
            .patients
            .get(&bed)
            .and_then(|p| p.kit.as_deref())
            .unwrap_or(&self.population.kit);
        &self.kits[name]
    }

    /// Beds that are occupied whatever the draw: explicit patients and beds with events.
    pub fn pinned_beds(&self) -> std::collections::BTreeSet<usize> {
        self.patients
            .keys()
            .copied()
            .chain(self.events.iter().filter_map(Event::bed))
            .collect()
    }
}
