//! The validated scenario: what the twin is built from. All times in ms; all references resolved
//! to indices; defaults filled in.

use std::collections::BTreeMap;

use wardtwin_sim::records::{ArtifactKind, Deterioration, DeviceKind};
use wardtwin_sim::time::SimMillis;

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
    /// `[scoring] gates`, each checked by the scorer's parser (docs/scoring.md).
    pub gates: Vec<String>,
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct Kit {
    pub devices: Vec<DeviceSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSpec {
    pub kind: DeviceKind,
    pub interval_ms: i64,
}

/// Default report interval of each device kind (DOMAIN.md section 1: wearable numerics are
/// reported every few seconds to a minute; temperature patches every 1–5 min; cuffs every
/// 15 min to 4 h).
pub fn default_interval_ms(kind: DeviceKind) -> i64 {
    match kind {
        DeviceKind::EcgPatch | DeviceKind::PulseOximeter => 15_000,
        DeviceKind::TempPatch => 120_000,
        DeviceKind::BpCuff => 3_600_000,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactRates {
    pub motion_per_device_day: f64,
    pub probe_off_per_device_day: f64,
    pub motion_mean_ms: i64,
    pub probe_off_mean_ms: i64,
    pub devices: Vec<DeviceKind>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Offset from the epoch.
    pub at_ms: i64,
    /// Index into [`Scenario::beds`].
    pub bed: usize,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    Deterioration {
        condition: Deterioration,
        develop_ms: i64,
        /// Treatment starts this long after onset, and the condition reverses.
        resolve_after_ms: Option<i64>,
        /// Multiplier of the condition's full effect (1 = textbook).
        severity: f64,
    },
    Artifact {
        kind: ArtifactKind,
        device: DeviceKind,
        duration_ms: i64,
    },
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
            .chain(self.events.iter().map(|e| e.bed))
            .collect()
    }
}
