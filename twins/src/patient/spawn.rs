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
    /// The heart's rhythm spells and ectopy, when the scenario has any rhythm.
    pub heart: Option<super::rhythm::HeartRhythm>,
    /// Permanent atrial fibrillation: its spell's id.
    pub chronic_af: Option<u32>,
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
    let chronic = draw_chronic(a, &mut stream(seed, &a.id, "chronic"));
    let mut b = baseline;
    b[HR] += chronic.hr_shift;
    let ph = Physiology {
        rng: stream(seed, &a.id, "physiology"),
        baseline: b,
        ou,
        sd_scale: chronic.sd_scale,
        sundowning: chronic.sundowning,
        chronic_af: plan.chronic_af,
    };
    let mut tv: TrueVitals = compose(&ph, &[0.0; 6], &[0.0; 6], Acvpu::Alert);
    if ph.chronic_af.is_some() {
        tv.rhythm = wardtwin_sim::records::Rhythm::AtrialFibrillation;
    }
    let mut e = world.spawn((patient, ph, tv, ClinicalConditions::default()));
    if let Some(eps) = plan.episodes {
        e.insert(Episodes(eps));
    }
    if let Some(heart) = plan.heart {
        e.insert(heart);
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

/// A patient's chronic conditions beyond the baseline shifts: atrial fibrillation's rate and
/// variability, dementia's daily confusion.
struct Chronic {
    hr_shift: f64,
    sd_scale: [f64; 6],
    sundowning: Option<(f64, f64)>,
}

fn draw_chronic(a: &Admission, rng: &mut SimRng) -> Chronic {
    let mut c = Chronic {
        hr_shift: 0.0,
        sd_scale: [1.0; 6],
        sundowning: None,
    };
    // Every draw is made for everyone, so adding a condition changes no other draw.
    let uncontrolled = rng.random::<f64>() < AF_UNCONTROLLED;
    let z: f64 = rng.sample(StandardNormal);
    let sundowns = rng.random::<f64>() < DEMENTIA_SUNDOWNING;
    let start = schedule::uniform(rng, SUNDOWN_START_H);
    let hours = schedule::uniform(rng, SUNDOWN_HOURS);
    if a.conditions.contains(&Condition::AtrialFibrillation) {
        let (mean, sd) = if uncontrolled {
            AF_HR_SHIFT_UNCONTROLLED
        } else {
            AF_HR_SHIFT_CONTROLLED
        };
        c.hr_shift = mean + sd * z;
        c.sd_scale[HR] = AF_HR_VARIABILITY;
    }
    if a.conditions.contains(&Condition::Dementia) && sundowns {
        c.sundowning = Some((start, hours));
    }
    c
}

/// Draws a patient's baseline from the population ([`BASELINE`]), shifted by acuity, age and
/// chronic conditions: each vital a normal truncated at its bounds of plausibility (redrawn,
/// never clamped), the diastolic correlated with the systolic. No redraw on NEWS2: real wards
/// carry chronically abnormal patients, and their scores are part of the truth.
pub(crate) fn draw_baseline(a: &Admission, rng: &mut SimRng) -> [f64; 6] {
    let acuity_shift: [f64; 6] = match a.acuity {
        Acuity::Low => [0.0; 6],
        Acuity::Medium => [4.0, 0.7, -0.4, 0.05, -2.0, -1.0],
        Acuity::High => [8.0, 1.4, -0.8, 0.1, -4.0, -2.0],
    };
    let mut cond_shift = [0.0; 6];
    for c in &a.conditions {
        let d: [f64; 6] = match c {
            Condition::HeartFailure => [5.0, 1.5, -1.0, 0.0, -4.0, -2.0],
            Condition::Hypertension => [
                0.0,
                0.0,
                0.0,
                0.0,
                HYPERTENSION_SHIFT.0,
                HYPERTENSION_SHIFT.1,
            ],
            Condition::Copd => [4.0, 2.0, 0.0, 0.0, 0.0, 0.0],
            Condition::Diabetes => [2.0, 0.0, 0.0, 0.0, 3.0, 1.0],
            Condition::AtrialFibrillation | Condition::Dementia => [0.0; 6],
        };
        for i in 0..6 {
            cond_shift[i] += d[i];
        }
    }
    let copd = a.conditions.contains(&Condition::Copd);
    let age_sbp = 0.25 * (a.age - 60.0);
    let mut b = [0.0; 6];
    let mut z_sbp = 0.0;
    for i in 0..6 {
        let (mean, sd, lo, hi) = if i == SPO2 && (copd || a.scale == Spo2Scale::Scale2) {
            BASELINE_SPO2_COPD
        } else {
            BASELINE[i]
        };
        let centre = mean + acuity_shift[i] + cond_shift[i] + if i == SBP { age_sbp } else { 0.0 };
        // A truncated normal: redraw outside the bounds (20 tries cover any sane shift).
        let mut v = centre;
        for _ in 0..20 {
            let z: f64 = rng.sample(StandardNormal);
            let z = if i == DBP {
                SBP_DBP_CORRELATION * z_sbp + (1.0 - SBP_DBP_CORRELATION.powi(2)).sqrt() * z
            } else {
                z
            };
            v = centre + sd * z;
            if i == SBP {
                z_sbp = z;
            }
            if (lo..=hi).contains(&v) {
                break;
            }
        }
        b[i] = v.clamp(lo, hi);
    }
    b
}
