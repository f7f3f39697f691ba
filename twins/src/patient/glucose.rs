//! Blood glucose, for patients who have it tracked (diabetics, and anyone wearing a CGM).
//!
//! True blood glucose (mmol/L) is `baseline + meals + variability`, pulled towards a nadir
//! during a hypoglycaemic episode:
//!
//! - **baseline**: diabetic inpatients run high (mean 8.5 mmol/L), others near 5.6;
//! - **meals** at 08:00, 12:30 and 18:00 local time: a rise peaking about an hour later and
//!   fading over hours (larger for diabetics);
//! - **variability**: a mean-reverting process (time constant 2 h);
//! - **hypoglycaemia**: the weight of the episode rises smoothly from onset to 1 over its
//!   development, holds until treatment, then falls with a 10-minute time constant (oral or IV
//!   glucose acts fast): `blood = (1 - w)·normal + w·nadir`.
//!
//! Interstitial glucose, which a CGM measures, follows blood glucose with a first-order lag of
//! [`INTERSTITIAL_LAG_MS`]. The ground truth records blood glucose and the hypoglycaemia
//! conditions ([`HYPOGLYCAEMIA_TIERS`]) are judged on it.

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use wardtwin_sim::conditions::{ConditionRecord, HYPOGLYCAEMIA_TIERS, Subject, TierSpell};
use wardtwin_sim::records::{Origin, PatientIx};
use wardtwin_sim::rng::SimRng;
use wardtwin_sim::time::{HOUR_MS, MINUTE_MS, SimMillis};

/// Interstitial glucose lags blood glucose by 5-15 min; a first-order lag of 8 min.
pub const INTERSTITIAL_LAG_MS: f64 = 8.0 * MINUTE_MS as f64;
/// Variability time constant.
pub const OU_TAU_MS: f64 = 2.0 * HOUR_MS as f64;
/// Meal times, local hours.
pub const MEALS_H: [f64; 3] = [8.0, 12.5, 18.0];
/// How fast treatment brings glucose back.
pub const TREATMENT_TAU_MS: f64 = 10.0 * MINUTE_MS as f64;

/// Outside episodes, glucose does not go below this (softly).
pub const FLOOR_MMOL: f64 = 4.0;

/// One hypoglycaemic episode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hypo {
    pub onset_ms: SimMillis,
    pub develop_ms: i64,
    /// When treatment starts.
    pub treat_ms: SimMillis,
    pub nadir_mmol: f64,
    pub origin: Origin,
}

impl Hypo {
    /// Weight of the episode at `t` (0 outside it).
    pub fn weight(&self, t: SimMillis) -> f64 {
        if t < self.onset_ms {
            return 0.0;
        }
        let x = ((t - self.onset_ms) as f64 / self.develop_ms as f64).clamp(0.0, 1.0);
        let rise = x * x * (3.0 - 2.0 * x);
        if t < self.treat_ms {
            return rise;
        }
        let x = ((self.treat_ms - self.onset_ms) as f64 / self.develop_ms as f64).clamp(0.0, 1.0);
        let at_treat = x * x * (3.0 - 2.0 * x);
        at_treat * (-((t - self.treat_ms) as f64) / TREATMENT_TAU_MS).exp()
    }

    /// The nadir of a scheduled episode of `severity` (1: 2.6 mmol/L, level 2).
    pub fn nadir_for(severity: f64) -> f64 {
        (3.6 - severity).max(1.2)
    }
}

/// A patient's glucose state.
#[derive(Component, Debug, Clone)]
pub struct Glycaemia {
    pub diabetic: bool,
    pub baseline_mmol: f64,
    /// Variability, in SD units.
    pub ou: f64,
    pub ou_sd_mmol: f64,
    /// Meal rise at its peak, mmol/L.
    pub meal_mmol: f64,
    pub rng: SimRng,
    /// True blood glucose now.
    pub blood_mmol: f64,
    /// Interstitial glucose now (what a CGM measures).
    pub interstitial_mmol: f64,
    /// Episodes, by onset: those not over, and the next day's.
    pub hypos: Vec<Hypo>,
    /// Whether random episodes are drawn for it, a day ahead (a diabetic wearing a CGM).
    pub random_hypos: bool,
    pub spells: [TierSpell; 2],
}

impl Glycaemia {
    /// A patient's glucose, drawn from `rng` (which the state keeps for its variability).
    pub fn new(patient: PatientIx, diabetic: bool, mut rng: SimRng, hypos: Vec<Hypo>) -> Self {
        let z: f64 = rng.sample(StandardNormal);
        let (baseline_mmol, ou_sd_mmol, meal_mmol) = if diabetic {
            ((8.5 + 1.5 * z).clamp(5.5, 13.0), 1.4, 3.0)
        } else {
            ((5.6 + 0.5 * z).clamp(4.4, 7.0), 0.4, 1.2)
        };
        let ou: f64 = rng.sample(StandardNormal);
        let blood = (baseline_mmol + ou * ou_sd_mmol).max(3.0);
        let subject = Subject::Patient(patient);
        Self {
            diabetic,
            baseline_mmol,
            ou,
            ou_sd_mmol,
            meal_mmol,
            rng,
            blood_mmol: blood,
            interstitial_mmol: blood,
            hypos,
            random_hypos: false,
            spells: [
                TierSpell::new(&HYPOGLYCAEMIA_TIERS[0], subject),
                TierSpell::new(&HYPOGLYCAEMIA_TIERS[1], subject),
            ],
        }
    }

    /// Adds the next day's random episodes, dropping those whose weight has decayed below
    /// 1e-9 (20 treatment time constants after treatment began).
    pub fn plan(&mut self, now: SimMillis, new: Vec<Hypo>) {
        let over = |h: &Hypo| h.treat_ms + (20.0 * TREATMENT_TAU_MS) as i64 <= now;
        self.hypos.retain(|h| !over(h));
        self.hypos.extend(new);
        self.hypos.sort_by_key(|h| h.onset_ms);
    }

    /// One step of `step_ms` ending at `now` (`local_h`: local time of day, hours). Pushes the
    /// hypoglycaemia conditions that ended onto `out`.
    pub fn step(
        &mut self,
        now: SimMillis,
        step_ms: i64,
        local_h: f64,
        out: &mut Vec<ConditionRecord>,
    ) {
        let dt = step_ms as f64;
        let phi = (-dt / OU_TAU_MS).exp();
        let z: f64 = self.rng.sample(StandardNormal);
        self.ou = phi * self.ou + (1.0 - phi * phi).sqrt() * z;
        let meals: f64 = MEALS_H
            .iter()
            .map(|m| meal_curve((local_h - m).rem_euclid(24.0)))
            .sum();
        let normal = self.baseline_mmol + self.ou * self.ou_sd_mmol + self.meal_mmol * meals;
        let w = self
            .hypos
            .iter()
            .take_while(|h| h.onset_ms <= now)
            .map(|h| (h.weight(now), h.nadir_mmol))
            .fold(
                (0.0, 0.0),
                |acc, (w, n)| if w > acc.0 { (w, n) } else { acc },
            );
        // Outside an episode glucose stays above 4 mmol/L (a soft floor): every hypoglycaemia
        // in the ground truth comes from an episode the ledger can name.
        let normal = FLOOR_MMOL + 0.4 * (1.0 + ((normal - FLOOR_MMOL) / 0.4).exp()).ln();
        self.blood_mmol = ((1.0 - w.0) * normal + w.0 * w.1).clamp(1.1, 33.0);
        self.interstitial_mmol +=
            (self.blood_mmol - self.interstitial_mmol) * (dt / INTERSTITIAL_LAG_MS).min(1.0);
        let g = self.blood_mmol;
        for (spell, limit) in self.spells.iter_mut().zip([3.9, 3.0]) {
            if let Some(c) = spell.update(now, g < limit) {
                out.push(c);
            }
        }
    }
}

/// A meal's rise, `hours` after it (0 before, peaking at 1 h, fading over ~3 h).
fn meal_curve(hours: f64) -> f64 {
    if hours > 8.0 {
        return 0.0;
    }
    (hours / 1.0) * (1.0 - hours / 1.0).exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardtwin_sim::conditions::{ConditionClass, Severity};
    use wardtwin_sim::rng::stream;

    #[test]
    fn a_hypo_pulls_glucose_to_its_nadir_and_treatment_brings_it_back() {
        let h = Hypo {
            onset_ms: 0,
            develop_ms: 45 * MINUTE_MS,
            treat_ms: 90 * MINUTE_MS,
            nadir_mmol: 2.6,
            origin: Origin::Scheduled,
        };
        let mut g = Glycaemia::new(PatientIx(0), true, stream(1, "P", "glucose"), vec![h]);
        let mut out = Vec::new();
        let mut min = f64::MAX;
        let mut at_80 = 0.0;
        for s in 0..(4 * 3600) {
            g.step(s * 1000, 1000, 3.0, &mut out);
            min = min.min(g.blood_mmol);
            if s == 80 * 60 {
                at_80 = g.blood_mmol;
            }
        }
        assert!((at_80 - 2.6).abs() < 0.05, "held at the nadir: {at_80}");
        assert!(min >= 2.55, "never below the nadir: {min}");
        assert!(g.blood_mmol > 5.0, "recovered: {}", g.blood_mmol);
        let mut classes: Vec<_> = out.iter().map(|c| (c.class, c.severity)).collect();
        classes.sort();
        assert_eq!(
            classes,
            vec![
                (ConditionClass::Hypoglycaemia, Severity::Medium),
                (ConditionClass::Hypoglycaemia, Severity::High),
            ]
        );
        // Level 1 starts before level 2 and ends after it.
        let l1 = out.iter().find(|c| c.severity == Severity::Medium).unwrap();
        let l2 = out.iter().find(|c| c.severity == Severity::High).unwrap();
        assert!(l1.onset_ms < l2.onset_ms && l1.end_ms > l2.end_ms);
        assert!(!l1.transient && !l2.transient);
    }

    #[test]
    fn interstitial_glucose_lags_blood_glucose() {
        let h = Hypo {
            onset_ms: 0,
            develop_ms: 20 * MINUTE_MS,
            treat_ms: 60 * MINUTE_MS,
            nadir_mmol: 2.5,
            origin: Origin::Scheduled,
        };
        let mut g = Glycaemia::new(PatientIx(0), false, stream(2, "P", "glucose"), vec![h]);
        let mut out = Vec::new();
        for s in 0..(15 * 60) {
            g.step(s * 1000, 1000, 3.0, &mut out);
        }
        assert!(
            g.interstitial_mmol > g.blood_mmol + 0.3,
            "falling: interstitial {} stays above blood {}",
            g.interstitial_mmol,
            g.blood_mmol
        );
    }
}
