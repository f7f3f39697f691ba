//! Heart rhythms: which rhythm the heart is in, and what that does to the numbers.
//!
//! A patient's rhythm is sinus unless a spell of another one is under way: one the timeline
//! wrote (`kind = "afib"`, `"vt"`, `"vf"`, `"asystole"`, `"heart_block"`), a random paroxysm
//! of atrial fibrillation (`[incidents] paroxysmal_af_per_patient_day`), or the patient's
//! permanent AF (the `atrial_fibrillation` condition: present before the run began). Each
//! spell is ground truth (`rhythms.parquet`) and, by the PhysioNet/CinC 2015 definitions, an
//! alertable condition ([`wardtwin_sim::conditions::rhythm_condition`]).
//!
//! The rhythm moves the true vitals, so the numbers and the waveforms
//! ([`crate::waveform`]) never disagree:
//!
//! - **atrial fibrillation**: the ventricular rate goes to the spell's (a rapid response,
//!   100–150 /min, unless the scenario says), scattered beat to beat (a fast mean-reverting
//!   term of 8 % of the rate, τ 15 s: what an 8-beat average of intervals with a CV of 0.2
//!   shows); systolic falls 8 mmHg with the atrial kick lost;
//! - **ventricular tachycardia**: the rate is the spell's (150–220 /min drawn), a weak pulse:
//!   systolic and diastolic at 60 % and 65 %;
//! - **second-degree block (2:1)**: the ventricular rate is half the sinus rate; systolic −10;
//! - **ventricular fibrillation and asystole**: no pulse: rate 0, pressures 0, SpO2 falling
//!   to 40 % with a time constant of 90 s, gasping (4 /min) for a minute then apnoea,
//!   unresponsive after 10 s. The oximeter finds no pulse and the cuff no pressure
//!   (`twins::device::sense`).
//!
//! Random draws come from the patient's own `rhythm` stream (and a day stream per random
//! paroxysm), never from the physiology stream, so a scenario without rhythms draws exactly
//! what it drew before.

use rand::RngExt;
use rand_distr::StandardNormal;
use wardtwin_sim::conditions::{ConditionRecord, rhythm_condition};
use wardtwin_sim::news2::Acvpu;
use wardtwin_sim::records::{Rhythm, RhythmRecord};
use wardtwin_sim::rng::SimRng;
use wardtwin_sim::time::SimMillis;

use super::TrueVitals;
use super::params::{DBP, HR, RR, SBP, SPO2};
use crate::Window;

/// Drawn ventricular rate of a VT (/min).
pub const VT_RATE: (f64, f64) = (150.0, 220.0);
/// Drawn ventricular rate of a paroxysm of AF with rapid response (/min).
pub const AF_RATE: (f64, f64) = (100.0, 150.0);
/// Length of a random paroxysm of AF: exponential with this mean, within the range (ms).
pub const AF_MEAN_MS: f64 = 90.0 * 60_000.0;
pub const AF_RANGE_MS: (i64, i64) = (2 * 60_000, 12 * 3_600_000);
/// Beat-to-beat scatter of the AF rate: share of the rate, time constant (s).
pub const AF_SCATTER: (f64, f64) = (0.08, 15.0);
/// Premature beats in the population: share of patients with occasional PVCs and their rate
/// (/min), and the same for PACs (frequent in older inpatients; Holter studies find isolated
/// ectopy in most adults over 60).
pub const PVC_SHARE: f64 = 0.4;
pub const PVC_RATE: (f64, f64) = (0.1, 3.0);
pub const PAC_SHARE: f64 = 0.3;
pub const PAC_RATE: (f64, f64) = (0.1, 2.0);

/// One spell of a rhythm other than sinus.
#[derive(Debug, Clone)]
pub struct Spell {
    pub record: RhythmRecord,
    /// Scheduled end (the record's `end_ms` is what happened; the same unless the run ended).
    pub until_ms: Option<SimMillis>,
    reported: bool,
}

impl Spell {
    /// A spell of `record`, its onset and end put on the step grid of `epoch_ms` and `step_ms`
    /// (the nearest step, and at least one step long): the numbers and the waveforms change
    /// rhythm step by step, so the ground truth does too.
    pub fn on_grid(mut record: RhythmRecord, epoch_ms: SimMillis, step_ms: i64) -> Self {
        let snap = |t: SimMillis| {
            epoch_ms + ((t - epoch_ms) as f64 / step_ms as f64).round() as i64 * step_ms
        };
        record.onset_ms = snap(record.onset_ms);
        record.end_ms = record
            .end_ms
            .map(|e| snap(e).max(record.onset_ms + step_ms));
        Self::new(record)
    }

    pub fn new(record: RhythmRecord) -> Self {
        Self {
            until_ms: record.end_ms,
            record,
            reported: false,
        }
    }
    fn active(&self, t: SimMillis) -> bool {
        self.record.onset_ms <= t && self.until_ms.is_none_or(|e| t < e)
    }
}

/// A patient's rhythm: the spells (sorted by onset), premature beats, and where it is now.
#[derive(bevy_ecs::component::Component, Debug, Clone)]
pub struct HeartRhythm {
    pub spells: Vec<Spell>,
    /// Permanent atrial fibrillation: the rhythm between spells.
    pub chronic_af: bool,
    /// Background premature ventricular and atrial beats per minute.
    pub pvc_per_min: f64,
    pub pac_per_min: f64,
    /// Bursts of PVCs (`kind = "pvcs"`): window and rate.
    pub ectopy: Vec<(Window, f64)>,
    rng: SimRng,
    /// AF rate scatter, SD units.
    scatter: f64,
    /// When the pulse was lost, and the SpO2 then.
    arrest: Option<(SimMillis, f64)>,
    /// Spells over, waiting to be recorded.
    pub ended: Vec<RhythmRecord>,
    /// The rhythm at the last step.
    pub now: Rhythm,
}

impl HeartRhythm {
    pub fn new(rng: SimRng, mut spells: Vec<Spell>, chronic_af: bool) -> Self {
        spells.sort_by_key(|s| (s.record.onset_ms, s.record.id));
        Self {
            spells,
            chronic_af,
            pvc_per_min: 0.0,
            pac_per_min: 0.0,
            ectopy: Vec::new(),
            rng,
            scatter: 0.0,
            arrest: None,
            ended: Vec::new(),
            now: if chronic_af {
                Rhythm::AtrialFibrillation
            } else {
                Rhythm::Sinus
            },
        }
    }

    /// Premature ventricular beats per minute at `t` (the background, or a burst's).
    pub fn pvcs_at(&self, t: SimMillis) -> f64 {
        self.ectopy
            .iter()
            .filter(|(w, _)| w.contains(t))
            .map(|(_, r)| *r)
            .fold(self.pvc_per_min, f64::max)
    }

    /// One step at `now` (`dt_s` long): finds the rhythm, applies it to `tv` (composed from
    /// sinus physiology, `baseline_hr` the patient's), and pushes the spells that ended and
    /// their conditions. Returns whether anything ended.
    pub fn step(
        &mut self,
        now: SimMillis,
        dt_s: f64,
        baseline_hr: f64,
        tv: &mut TrueVitals,
        conditions: &mut Vec<ConditionRecord>,
    ) -> bool {
        let mut ended = false;
        for s in self.spells.iter_mut().filter(|s| !s.reported) {
            if s.until_ms.is_some_and(|e| now >= e) {
                s.reported = true;
                self.ended.push(s.record);
                conditions.extend(rhythm_condition(&s.record));
                ended = true;
            }
        }
        // The latest spell under way wins (a VT inside a paroxysm of AF); permanent AF (on the
        // patient's physiology, not a spell here) is what is left between them.
        let spell = self.spells.iter().rev().find(|s| s.active(now));
        let (rhythm, rate) = match spell {
            Some(s) => (s.record.rhythm, f64::from(s.record.rate)),
            None if self.chronic_af => (Rhythm::AtrialFibrillation, 0.0),
            None => (Rhythm::Sinus, 0.0),
        };
        self.now = rhythm;
        tv.rhythm = rhythm;
        if rhythm.perfusing() {
            self.arrest = None;
        }
        let v = &mut tv.v;
        match rhythm {
            Rhythm::Sinus => {}
            // Permanent AF's rate and scatter are in the patient's baseline and variability.
            Rhythm::AtrialFibrillation if spell.is_none() => {}
            Rhythm::AtrialFibrillation => {
                let (share, tau) = AF_SCATTER;
                let phi = (-dt_s / tau).exp();
                let z: f64 = self.rng.sample(StandardNormal);
                self.scatter = self.scatter * phi + (1.0 - phi * phi).sqrt() * z;
                let hr = rate + (v[HR] - baseline_hr);
                v[HR] = (hr * (1.0 + share * self.scatter)).max(40.0);
                v[SBP] -= 8.0;
                v[DBP] -= 4.0;
            }
            Rhythm::VentricularTachycardia => {
                v[HR] = rate;
                v[SBP] *= 0.6;
                v[DBP] *= 0.65;
            }
            Rhythm::SecondDegreeBlock => {
                v[HR] = if rate > 0.0 { rate } else { v[HR] / 2.0 };
                v[SBP] -= 10.0;
            }
            Rhythm::VentricularFibrillation | Rhythm::Asystole => {
                let (since, spo2) = *self.arrest.get_or_insert((now, v[SPO2]));
                let t_s = (now - since) as f64 / 1000.0;
                v[HR] = 0.0;
                v[SBP] = 0.0;
                v[DBP] = 0.0;
                v[SPO2] = 40.0 + (spo2 - 40.0) * (-t_s / 90.0).exp();
                v[RR] = if t_s < 60.0 { 4.0 } else { 0.0 };
                if t_s >= 10.0 {
                    tv.consciousness = Acvpu::Unresponsive;
                }
            }
        }
        ended
    }

    /// The spells under way when the run ended (`end`), recorded as still going; spells that
    /// would have begun after it never happened.
    pub fn flush(
        &self,
        end: SimMillis,
        out: &mut Vec<RhythmRecord>,
        conds: &mut Vec<ConditionRecord>,
    ) {
        for s in self
            .spells
            .iter()
            .filter(|s| !s.reported && s.record.onset_ms < end)
        {
            let mut r = s.record;
            r.end_ms = None;
            out.push(r);
            conds.extend(rhythm_condition(&r));
        }
    }
}
