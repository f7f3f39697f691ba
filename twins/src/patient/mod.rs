//! Patients: true physiology and deterioration.
//!
//! Each patient's true vitals are `baseline + circadian + variability + deterioration`:
//!
//! - **baseline**: drawn once per patient from the population (age, acuity, conditions), in
//!   the normal ward ranges of DOMAIN.md section 1; a stable patient's baseline NEWS2 is ≤ 3;
//! - **circadian**: a 24-h cosine per vital (temperature lowest early morning, HR/BP dipping
//!   at night), on the site's local time;
//! - **variability**: mean-reverting (Ornstein–Uhlenbeck) processes, exactly discretised for
//!   the step, plus a shared arousal factor that moves HR, RR and BP together;
//! - **deterioration**: each episode has a severity `s(t)` rising smoothly from 0 at onset to 1
//!   after its development time (times the scenario's severity), decaying after treatment; the
//!   condition's [`Effect`](params::Effect) scales with `s` and moves the vitals together.
//!
//! Units: HR, RR /min; SpO2 %; temperature °C; BP mmHg. NEWS2 is computed from the true values
//! ([`TrueVitals::news2`]) every step for patients in an episode (to time when it reaches 5
//! and 7) or with a NEWS2 condition open, every 5 s for everyone else, and at every truth
//! sample; it feeds the clinical alertable-conditions tracker ([`ClinicalConditions`]).

pub mod glucose;
pub mod mobility;
pub mod params;
pub mod phenotype;
mod plugin;
pub mod rhythm;
pub(crate) mod spawn;
mod systems;
#[cfg(test)]
mod tests;

use bevy_ecs::prelude::*;
use wardtwin_sim::conditions::{ClinicalTracker, ConditionRecord};
use wardtwin_sim::news2::{Acvpu, News2, News2Inputs, Spo2Scale};
use wardtwin_sim::records::{EpisodeRecord, PatientIx};
use wardtwin_sim::rng::SimRng;
use wardtwin_sim::time::SimMillis;

pub use plugin::{PatientPlugin, PatientSystems};
pub(crate) use systems::compose;
pub use systems::{PARALLEL_FROM, PhysiologyStep};

/// A patient in a bed.
#[derive(Component, Debug, Clone)]
pub struct Patient {
    pub ix: PatientIx,
    pub scale: Spo2Scale,
    pub on_oxygen: bool,
}

/// The hidden state behind a patient's vitals.
#[derive(Component, Debug, Clone)]
pub struct Physiology {
    pub rng: SimRng,
    /// Baseline HR, RR, SpO2, temperature, systolic, diastolic.
    pub baseline: [f64; 6],
    /// Variability states in SD units (see [`params::OU_SD`]).
    pub ou: [f64; params::N_STATE],
    /// Per-patient scale of each vital's variability (1; more for HR in atrial fibrillation).
    pub sd_scale: [f64; 6],
    /// Dementia with sundowning: confused from this local hour, for this many hours, daily.
    pub sundowning: Option<(f64, f64)>,
    /// Permanent atrial fibrillation (the rhythm between spells): its spell's id.
    pub chronic_af: Option<u32>,
}

/// The patient's true vitals now.
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct TrueVitals {
    /// HR, RR, SpO2, temperature, systolic, diastolic.
    pub v: [f64; 6],
    pub consciousness: Acvpu,
    /// The heart's rhythm ([`rhythm`]): VF and asystole have no pulse.
    pub rhythm: wardtwin_sim::records::Rhythm,
}

impl TrueVitals {
    /// NEWS2 of these vitals for `patient` (scale and oxygen are the patient's).
    pub fn news2(&self, patient: &Patient) -> News2 {
        News2::score(&News2Inputs {
            resp_rate: self.v[params::RR],
            spo2: self.v[params::SPO2],
            scale: patient.scale,
            on_oxygen: patient.on_oxygen,
            systolic: self.v[params::SBP],
            pulse: self.v[params::HR],
            consciousness: self.consciousness,
            temp_c: self.v[params::TEMP],
        })
    }

    pub fn heart_rate(&self) -> f64 {
        self.v[params::HR]
    }
    pub fn resp_rate(&self) -> f64 {
        self.v[params::RR]
    }
    pub fn spo2(&self) -> f64 {
        self.v[params::SPO2]
    }
    pub fn temp_c(&self) -> f64 {
        self.v[params::TEMP]
    }
    pub fn systolic(&self) -> f64 {
        self.v[params::SBP]
    }
    pub fn diastolic(&self) -> f64 {
        self.v[params::DBP]
    }
}

/// One deterioration of a patient, as it unfolds.
#[derive(Debug, Clone)]
pub struct Episode {
    pub record: EpisodeRecord,
    pub phenotype: phenotype::Phenotype,
    /// Progress when treatment started (for the decay).
    pub(crate) x_at_resolve: Option<f64>,
    /// Severity at the last step.
    pub(crate) last_s: f64,
    /// Over (settled after treatment). A partial recovery's residual still acts.
    pub(crate) closed: bool,
    /// Its record has been written.
    pub(crate) reported: bool,
}

impl Episode {
    /// An episode of `record` with `phenotype` (the record takes its severity, variant and
    /// recovery from it).
    pub fn new(mut record: EpisodeRecord, phenotype: phenotype::Phenotype) -> Self {
        record.severity = phenotype.severity as f32;
        record.variant = phenotype.variant;
        record.recovery = phenotype.recovery;
        Self {
            record,
            phenotype,
            x_at_resolve: None,
            last_s: 0.0,
            closed: false,
            reported: false,
        }
    }

    /// Progress at `t`, 0 before onset, 1 at full development; after treatment it decays
    /// towards the residual of a partial recovery (0 for a full one).
    pub fn progress_at(&mut self, t: SimMillis) -> f64 {
        let r = &self.record;
        if t < r.onset_ms {
            return 0.0;
        }
        let rise = |t: SimMillis| {
            let x = ((t - r.onset_ms) as f64 / r.develop_ms as f64).clamp(0.0, 1.0);
            x * x * (3.0 - 2.0 * x)
        };
        match r.resolve_ms {
            Some(res) if t >= res => {
                let x0 = *self.x_at_resolve.get_or_insert_with(|| rise(res));
                let floor = self.phenotype.residual.min(x0);
                // Treatment reverses it with a time constant of a third of its development.
                let tau = (r.develop_ms as f64 / 3.0).max(60_000.0);
                floor + (x0 - floor) * (-((t - res) as f64) / tau).exp()
            }
            _ => rise(t),
        }
    }

    /// Severity at `t`: the phenotype's severity times the progress.
    pub fn severity_at(&mut self, t: SimMillis) -> f64 {
        self.phenotype.severity * self.progress_at(t)
    }
}

/// A patient's alertable clinical conditions ([`wardtwin_sim::conditions`]), tracked every step
/// from the true vitals; `ended` holds the ones that ended this step until they are recorded.
#[derive(Component, Debug, Clone, Default)]
pub struct ClinicalConditions {
    pub tracker: ClinicalTracker,
    pub ended: Vec<ConditionRecord>,
}

/// A patient's deterioration episodes (only on patients who have any).
#[derive(Component, Debug, Clone, Default)]
pub struct Episodes(pub Vec<Episode>);
