//! Spawning a patient: baseline vitals drawn from the patient's own stream (redrawn while the
//! NEWS2 would be out of the stable band), the physiology processes in their stationary state,
//! the scheduled episodes, and blood glucose and bed presence for those who have them.

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use wardtwin_scenarios::{Acuity, Condition, Scenario};
use wardtwin_sim::news2::{Acvpu, Spo2Scale};
use wardtwin_sim::records::{DeviceIx, PatientIx};
use wardtwin_sim::rng::{SimRng, stream};

use super::glucose::{Glycaemia, Hypo};
use super::mobility::BedPresence;
use super::params::*;
use super::{ClinicalConditions, Episode, Episodes, Patient, Physiology, TrueVitals, compose};
use crate::Window;
use crate::schedule;
use crate::ward::Admission;

/// What the scenario's timeline and the patient's kit say about one patient.
pub(crate) struct PatientPlan {
    pub episodes: Option<Vec<Episode>>,
    pub hypos: Vec<Hypo>,
    pub exits: Vec<Window>,
    /// The patient wears a CGM.
    pub cgm: bool,
    /// The bed-exit sensor under the patient, if any.
    pub bed_exit_sensor: Option<DeviceIx>,
}

/// Spawns the patient admitted as `a`, with dense index `ix`.
pub(crate) fn spawn_patient(
    world: &mut World,
    s: &Scenario,
    seed: u64,
    a: &Admission,
    ix: PatientIx,
    plan: PatientPlan,
) -> Entity {
    let mut rng = stream(seed, &a.id, "baseline");
    let baseline = draw_baseline(a, &mut rng);
    let mut ou = [0.0; N_STATE];
    for o in &mut ou {
        // Start each process in its stationary distribution.
        *o = rng.sample(StandardNormal);
    }
    let patient = Patient {
        ix,
        scale: a.scale,
        on_oxygen: a.on_oxygen,
    };
    let ph = Physiology {
        rng: stream(seed, &a.id, "physiology"),
        baseline,
        ou,
    };
    let tv: TrueVitals = compose(&ph.baseline, &ph.ou, &[0.0; 6], &[0.0; 6], Acvpu::Alert);
    let mut e = world.spawn((patient, ph, tv, ClinicalConditions::default()));
    if let Some(eps) = plan.episodes {
        e.insert(Episodes(eps));
    }
    let diabetic = a.conditions.contains(&Condition::Diabetes);
    let cgm = plan.cgm;
    if diabetic || cgm || !plan.hypos.is_empty() {
        let mut all = plan.hypos;
        // Random hypos for monitored diabetics only: an unmonitored patient's would be
        // invisible to any system under test (schedule one to have it anyway).
        let random = diabetic && cgm;
        if random {
            all.extend(schedule::first_days(s).flat_map(|d| schedule::hypos(s, seed, &a.id, d)));
        }
        all.sort_by_key(|h| h.onset_ms);
        let rng = stream(seed, &a.id, "glucose");
        let mut g = Glycaemia::new(ix, diabetic, rng, all);
        g.random_hypos = random;
        e.insert(g);
    }
    if a.fall_risk || !plan.exits.is_empty() {
        let mut all = plan.exits;
        if a.fall_risk {
            all.extend(
                schedule::first_days(s).flat_map(|d| schedule::bed_exits(s, seed, &a.id, d)),
            );
        }
        let mut b = BedPresence::new(ix, plan.bed_exit_sensor, all);
        b.random_exits = a.fall_risk;
        e.insert(b);
    }
    e.id()
}

/// Draws a stable patient's baseline, redrawing while its NEWS2 would exceed
/// [`MAX_BASELINE_NEWS2_AIR`] (or `_OXYGEN`): stable ward patients sit in the low band.
fn draw_baseline(a: &Admission, rng: &mut SimRng) -> [f64; 6] {
    let acuity_shift: [f64; 6] = match a.acuity {
        Acuity::Low => [0.0; 6],
        Acuity::Medium => [4.0, 0.7, -0.4, 0.05, -2.0, -1.0],
        Acuity::High => [8.0, 1.4, -0.8, 0.1, -4.0, -2.0],
    };
    let mut cond_shift = [0.0; 6];
    for c in &a.conditions {
        let d: [f64; 6] = match c {
            Condition::HeartFailure => [5.0, 1.5, -1.0, 0.0, -4.0, -2.0],
            Condition::Hypertension => [0.0, 0.0, 0.0, 0.0, 15.0, 8.0],
            Condition::Copd => [4.0, 2.0, 0.0, 0.0, 0.0, 0.0],
            Condition::Diabetes => [2.0, 0.0, 0.0, 0.0, 3.0, 1.0],
        };
        for i in 0..6 {
            cond_shift[i] += d[i];
        }
    }
    let age_sbp = 0.25 * (a.age - 60.0);
    let patient = Patient {
        ix: PatientIx(0),
        scale: a.scale,
        on_oxygen: a.on_oxygen,
    };
    let mut best = [0.0; 6];
    for attempt in 0..50 {
        let mut b = [0.0; 6];
        for i in 0..6 {
            let (mean, sd, lo, hi) = if i == SPO2 && a.scale == Spo2Scale::Scale2 {
                BASELINE_SPO2_SCALE_2
            } else {
                BASELINE[i]
            };
            let z: f64 = rng.sample(StandardNormal);
            let shifted = mean
                + sd * z
                + acuity_shift[i]
                + cond_shift[i]
                + if i == SBP { age_sbp } else { 0.0 };
            b[i] = shifted.clamp(lo, hi);
        }
        best = b;
        let tv = compose(&b, &[0.0; N_STATE], &[0.0; 6], &[0.0; 6], Acvpu::Alert);
        let max = if a.on_oxygen {
            MAX_BASELINE_NEWS2_OXYGEN
        } else {
            MAX_BASELINE_NEWS2_AIR
        };
        if tv.news2(&patient).total <= max || attempt == 49 {
            break;
        }
    }
    best
}
