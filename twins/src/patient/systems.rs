//! Patient systems: evolve the true state, sample it for the ground truth, close episodes.

use std::sync::atomic::{AtomicBool, Ordering};

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use wardtwin_sim::conditions::ClinicalState;
use wardtwin_sim::news2::Acvpu;
use wardtwin_sim::records::{DeviceEvent, DeviceEventKind, TruthVitals};
use wardtwin_sim::time::{HOUR_MS, SimMillis};
use wardtwin_sim::{
    ConditionRecorded, DeviceEventOccurred, EpisodeClosed, RhythmRecorded, SimClock, TruthSampled,
};

use super::glucose::Glycaemia;
use super::mobility::BedPresence;
use super::params::*;
use super::rhythm::HeartRhythm;
use super::{ClinicalConditions, Episodes, Patient, Physiology, TrueVitals};
use crate::schedule::{self, Plan};

/// Per-step constants: exact OU discretisation for the step, circadian terms for this tick, and
/// the truth cadence.
#[derive(Resource, Debug)]
pub struct PhysiologyStep {
    /// `exp(-dt/τ)` per state variable.
    pub phi: [f64; N_STATE],
    /// `sqrt(1 - phi²)`: innovation scale in SD units.
    pub k: [f64; N_STATE],
    /// Local-time offset of the site, in ms.
    pub utc_offset_ms: i64,
    /// Ticks between ground-truth samples.
    pub truth_every: u64,
    /// Circadian term of each vital at the current tick.
    pub circadian: [f64; 6],
    /// Local time of day at the current tick, hours.
    pub local_h: f64,
    /// Patients in the world (decides serial or parallel stepping).
    pub patients: usize,
    pub step_ms: i64,
    /// Set when a patient's clinical condition ended this step (checked by the recorder
    /// system, so it does not visit every patient every step).
    pub conditions_ended: AtomicBool,
    /// Set when a spell of a heart rhythm ended this step.
    pub rhythms_ended: AtomicBool,
}

impl PhysiologyStep {
    pub fn new(step_ms: i64, utc_offset_hours: f64, truth_interval_ms: i64) -> Self {
        let dt = step_ms as f64 / 1000.0;
        let mut phi = [0.0; N_STATE];
        let mut k = [0.0; N_STATE];
        for i in 0..N_STATE {
            phi[i] = (-dt / OU_TAU_S[i]).exp();
            k[i] = (1.0 - phi[i] * phi[i]).sqrt();
        }
        Self {
            phi,
            k,
            utc_offset_ms: (utc_offset_hours * HOUR_MS as f64) as i64,
            truth_every: (truth_interval_ms / step_ms).max(1) as u64,
            circadian: [0.0; 6],
            local_h: 0.0,
            patients: 0,
            step_ms,
            conditions_ended: AtomicBool::new(false),
            rhythms_ended: AtomicBool::new(false),
        }
    }
}

/// Computes this tick's circadian terms once for every patient.
pub(super) fn update_circadian(clock: Res<SimClock>, mut step: ResMut<PhysiologyStep>) {
    let local_h =
        ((clock.now_ms() + step.utc_offset_ms).rem_euclid(24 * HOUR_MS)) as f64 / HOUR_MS as f64;
    step.local_h = local_h;
    for (i, (amp, peak_h)) in CIRCADIAN.iter().enumerate() {
        step.circadian[i] = amp * (std::f64::consts::TAU * (local_h - peak_h) / 24.0).cos();
    }
}

/// True vitals from a state (shared by the evolve system and spawning).
#[inline]
pub(crate) fn compose(
    ph: &Physiology,
    circadian: &[f64; 6],
    deltas: &[f64; 6],
    consciousness: Acvpu,
) -> TrueVitals {
    let (baseline, ou) = (&ph.baseline, &ph.ou);
    let mut v = [0.0; 6];
    for i in 0..6 {
        let x = baseline[i]
            + circadian[i]
            + ou[i] * OU_SD[i] * ph.sd_scale[i]
            + ou[AROUSAL] * AROUSAL_GAIN[i]
            + deltas[i];
        v[i] = x.clamp(LIMITS[i].0, LIMITS[i].1);
    }
    // Diastolic follows systolic's variability in part, and stays below it.
    v[DBP] = v[DBP].min(v[SBP] - 15.0);
    TrueVitals {
        v,
        consciousness,
        rhythm: wardtwin_sim::records::Rhythm::Sinus,
    }
}

/// Patients from which the step runs in parallel. Waking the compute pool costs tens of
/// microseconds a step; below this many patients the serial loop is faster (measured with the
/// `step` benchmark, docs/architecture.md).
pub const PARALLEL_FROM: usize = 256;

type PatientItem<'a> = (
    &'a Patient,
    &'a mut Physiology,
    &'a mut TrueVitals,
    &'a mut ClinicalConditions,
    Option<&'a mut Episodes>,
    Option<&'a mut HeartRhythm>,
);

/// Advances every patient by one step; in parallel for large wards. Each patient draws only
/// from its own stream, so the result does not depend on the path taken or the thread count.
pub(super) fn evolve(
    clock: Res<SimClock>,
    step: Res<PhysiologyStep>,
    mut patients: Query<PatientItem>,
) {
    let now = clock.now_ms();
    let step = &*step;
    if step.patients >= PARALLEL_FROM {
        patients
            .par_iter_mut()
            .for_each(|(p, mut ph, mut tv, mut cc, eps, hr)| {
                evolve_one(now, step, p, &mut ph, &mut tv, &mut cc, eps, hr);
            });
    } else {
        for (p, mut ph, mut tv, mut cc, eps, hr) in &mut patients {
            evolve_one(now, step, p, &mut ph, &mut tv, &mut cc, eps, hr);
        }
    }
}

/// Chronic confusion (dementia with sundowning): confused in the patient's daily window.
#[inline]
fn ph_confusion(ph: &Physiology, local_h: f64) -> Option<Acvpu> {
    let (start, hours) = ph.sundowning?;
    ((local_h - start).rem_euclid(24.0) < hours).then_some(Acvpu::Confused)
}

/// One patient, one step.
#[allow(clippy::too_many_arguments)]
fn evolve_one(
    now: SimMillis,
    step: &PhysiologyStep,
    patient: &Patient,
    ph: &mut Physiology,
    tv: &mut TrueVitals,
    conditions: &mut ClinicalConditions,
    mut episodes: Option<Mut<Episodes>>,
    heart: Option<Mut<HeartRhythm>>,
) {
    for i in 0..N_STATE {
        let z: f64 = ph.rng.sample(StandardNormal);
        ph.ou[i] = ph.ou[i] * step.phi[i] + step.k[i] * z;
    }
    let mut deltas = [0.0; 6];
    let mut consciousness = Acvpu::Alert;
    if let Some(eps) = episodes.as_deref_mut() {
        // A closed episode still acts if it left a residual (a partial recovery).
        for ep in eps
            .0
            .iter_mut()
            .filter(|e| !e.closed || e.phenotype.residual > 0.0)
        {
            let x = ep.progress_at(now);
            let ph = &ep.phenotype;
            let s = ph.severity * x;
            ep.last_s = s;
            if x <= 0.0 {
                continue;
            }
            for (i, d) in ph.delta.iter().enumerate() {
                deltas[i] += d * ph.severity * x.powf(ph.lead[i]);
            }
            let c = if s >= ph.voice_at {
                Acvpu::Voice
            } else if s >= ph.confused_at {
                Acvpu::Confused
            } else {
                Acvpu::Alert
            };
            consciousness = consciousness.max(c);
        }
    }
    if let Some(window) = ph_confusion(ph, step.local_h) {
        consciousness = consciousness.max(window);
    }
    *tv = compose(ph, &step.circadian, &deltas, consciousness);
    if ph.chronic_af.is_some() {
        tv.rhythm = wardtwin_sim::records::Rhythm::AtrialFibrillation;
    }
    let cc = conditions;
    if let Some(mut heart) = heart {
        let dt_s = step.step_ms as f64 / 1000.0;
        if heart.step(now, dt_s, ph.baseline[HR], tv, &mut cc.ended) {
            step.conditions_ended.store(true, Ordering::Relaxed);
            step.rhythms_ended.store(true, Ordering::Relaxed);
        }
    }
    let news2 = (episodes.is_some() || cc.tracker.needs_news2(now, step.step_ms))
        .then(|| tv.news2(patient));
    let state = ClinicalState {
        news2,
        heart_rate: tv.v[HR],
        spo2: tv.v[SPO2],
        scale: patient.scale,
        rhythm: tv.rhythm,
    };
    if cc.tracker.update(patient.ix, now, &state, &mut cc.ended) {
        step.conditions_ended.store(true, Ordering::Relaxed);
    }
    if let (Some(eps), Some(news2)) = (episodes.as_deref_mut(), news2) {
        let total = news2.total;
        for ep in eps
            .0
            .iter_mut()
            .filter(|e| !e.closed && now >= e.record.onset_ms)
        {
            let r = &mut ep.record;
            r.peak_news2 = r.peak_news2.max(total);
            if total >= 5 && r.news2_ge5_ms.is_none() {
                r.news2_ge5_ms = Some(now);
            }
            if total >= 7 && r.news2_ge7_ms.is_none() {
                r.news2_ge7_ms = Some(now);
            }
            // Over once treatment has brought it within 5 % of where it settles.
            let ph = &ep.phenotype;
            let settled = ph.severity * (ph.residual + 0.05);
            if r.resolve_ms.is_some_and(|res| now > res) && ep.last_s < settled {
                r.end_ms = Some(now);
                ep.closed = true;
            }
        }
    }
}

/// Records the clinical conditions that ended this step (only looks when one did).
pub(super) fn record_conditions(
    step: Res<PhysiologyStep>,
    mut q: Query<&mut ClinicalConditions>,
    mut out: MessageWriter<ConditionRecorded>,
) {
    if !step.conditions_ended.swap(false, Ordering::Relaxed) {
        return;
    }
    for mut cc in &mut q {
        if !cc.ended.is_empty() {
            out.write_batch(cc.ended.drain(..).map(ConditionRecorded));
        }
    }
}

/// Records the spells of heart rhythms that ended this step (only looks when one did).
pub(super) fn record_rhythms(
    step: Res<PhysiologyStep>,
    mut q: Query<&mut HeartRhythm>,
    mut out: MessageWriter<RhythmRecorded>,
) {
    if !step.rhythms_ended.swap(false, Ordering::Relaxed) {
        return;
    }
    for mut h in &mut q {
        if !h.ended.is_empty() {
            out.write_batch(h.ended.drain(..).map(RhythmRecorded));
        }
    }
}

/// At the end of the run, records the rhythm spells still going, and their conditions; and
/// each permanent AF, a spell from the start that never ended.
pub(super) fn flush_open_rhythms(
    clock: Res<SimClock>,
    q: Query<&HeartRhythm>,
    chronic: Query<(&Patient, &Physiology)>,
    mut out: MessageWriter<RhythmRecorded>,
    mut conds: MessageWriter<ConditionRecorded>,
) {
    let (mut open, mut c) = (Vec::new(), Vec::new());
    for h in &q {
        h.flush(clock.end_ms(), &mut open, &mut c);
    }
    for (p, ph) in &chronic {
        if let Some(id) = ph.chronic_af {
            let r = wardtwin_sim::records::RhythmRecord {
                id,
                patient: p.ix,
                rhythm: wardtwin_sim::records::Rhythm::AtrialFibrillation,
                onset_ms: clock.epoch_ms(),
                end_ms: None,
                rate: 0.0,
                origin: wardtwin_sim::records::RhythmOrigin::Chronic,
                follows: None,
            };
            open.push(r);
            c.extend(wardtwin_sim::conditions::rhythm_condition(&r));
        }
    }
    out.write_batch(open.into_iter().map(RhythmRecorded));
    conds.write_batch(c.into_iter().map(ConditionRecorded));
}

/// At the end of the run, records the clinical conditions still going.
pub(super) fn flush_open_conditions(
    q: Query<(&Patient, &ClinicalConditions)>,
    mut out: MessageWriter<ConditionRecorded>,
) {
    let mut open = Vec::new();
    for (p, cc) in &q {
        cc.tracker.flush(p.ix, &mut open);
    }
    out.write_batch(open.into_iter().map(ConditionRecorded));
}

/// Glucose moves slowly (a CGM reads every 5 min): it is stepped every 10 s.
pub const GLUCOSE_STEP_MS: i64 = 10_000;

/// Steps the blood glucose of every patient who has it tracked; records the hypoglycaemia
/// conditions that ended.
pub(super) fn evolve_glucose(
    clock: Res<SimClock>,
    step: Res<PhysiologyStep>,
    mut q: Query<&mut Glycaemia>,
    mut out: MessageWriter<ConditionRecorded>,
    mut ended: Local<Vec<wardtwin_sim::conditions::ConditionRecord>>,
) {
    let now = clock.now_ms();
    let dt = GLUCOSE_STEP_MS.max(step.step_ms);
    if now.rem_euclid(dt) >= step.step_ms {
        return;
    }
    for mut g in &mut q {
        g.step(now, dt, step.local_h, &mut ended);
    }
    out.write_batch(ended.drain(..).map(ConditionRecorded));
}

/// Fall-risk patients get out of bed and back; records the bed exits that ended, and tells
/// the bed-exit sensor's event log.
pub(super) fn move_patients(
    clock: Res<SimClock>,
    mut q: Query<&mut BedPresence>,
    mut out: MessageWriter<ConditionRecorded>,
    mut events: MessageWriter<DeviceEventOccurred>,
    mut ended: Local<Vec<wardtwin_sim::conditions::ConditionRecord>>,
) {
    let now = clock.now_ms();
    for mut b in &mut q {
        let Some(in_bed) = b.step(now, &mut ended) else {
            continue;
        };
        if let Some(device) = b.sensor {
            events.write(DeviceEventOccurred(DeviceEvent {
                device,
                sim_ms: now,
                device_ms: now,
                battery_pct: None,
                kind: if in_bed {
                    DeviceEventKind::BedReturned
                } else {
                    DeviceEventKind::BedExited
                },
            }));
        }
    }
    out.write_batch(ended.drain(..).map(ConditionRecorded));
}

/// At the end of the run: hypoglycaemia and bed exits still going.
pub(super) fn flush_open_care_conditions(
    glucose: Query<&Glycaemia>,
    beds: Query<&BedPresence>,
    mut out: MessageWriter<ConditionRecorded>,
) {
    let g = glucose
        .iter()
        .flat_map(|g| g.spells.iter().filter_map(|s| s.flush()));
    let b = beds.iter().filter_map(|b| b.flush());
    out.write_batch(g.chain(b).map(ConditionRecorded));
}

/// Every truth interval, records every patient's true vitals and NEWS2.
pub(super) fn sample_truth(
    clock: Res<SimClock>,
    step: Res<PhysiologyStep>,
    patients: Query<(&Patient, &TrueVitals, Option<&Glycaemia>)>,
    mut out: MessageWriter<TruthSampled>,
) {
    if !clock.tick().is_multiple_of(step.truth_every) {
        return;
    }
    let now = clock.now_ms();
    out.write_batch(patients.iter().map(|(p, tv, g)| {
        TruthSampled(TruthVitals {
            patient: p.ix,
            sim_ms: now,
            heart_rate: tv.v[HR] as f32,
            resp_rate: tv.v[RR] as f32,
            spo2: tv.v[SPO2] as f32,
            temp_c: tv.v[TEMP] as f32,
            systolic: tv.v[SBP] as f32,
            diastolic: tv.v[DBP] as f32,
            consciousness: tv.consciousness,
            on_oxygen: p.on_oxygen,
            scale: p.scale,
            news2: tv.news2(p),
            glucose_mmol: g.map(|g| g.blood_mmol as f32),
        })
    }));
}

/// Records episodes that ended this tick.
pub(super) fn close_episodes(mut q: Query<&mut Episodes>, mut out: MessageWriter<EpisodeClosed>) {
    for mut eps in &mut q {
        for ep in eps.0.iter_mut() {
            if ep.closed && !ep.reported {
                out.write(EpisodeClosed(ep.record));
                ep.reported = true;
            }
        }
    }
}

/// At the end of the run, records the episodes still going (no end). An episode scheduled
/// after the end (a run cut short with `--duration`) never happened and is not recorded.
pub(super) fn flush_open_episodes(
    q: Query<&Episodes>,
    clock: Res<SimClock>,
    mut out: MessageWriter<EpisodeClosed>,
) {
    let end = clock.end_ms();
    for eps in &q {
        for ep in eps
            .0
            .iter()
            .filter(|e| !e.closed && e.record.onset_ms < end)
        {
            out.write(EpisodeClosed(ep.record));
        }
    }
}

/// When a day begins, draws the next day's random hypoglycaemia (monitored diabetics) and bed
/// exits (fall-risk patients), dropping what is over ([`crate::schedule`]).
pub(super) fn plan_patients(
    clock: Res<SimClock>,
    plan: Res<Plan>,
    dir: Res<wardtwin_sim::Directory>,
    mut q: Query<(&Patient, Option<&mut Glycaemia>, Option<&mut BedPresence>)>,
) {
    let Some(day) = schedule::day_to_draw(&clock) else {
        return;
    };
    let (s, seed, now) = (&*plan.scenario, plan.seed, clock.now_ms());
    for (p, g, b) in &mut q {
        let id = &dir.patient(p.ix).id;
        if let Some(mut g) = g {
            let new = if g.random_hypos {
                schedule::hypos(s, seed, id, day)
            } else {
                Vec::new()
            };
            g.plan(now, new);
        }
        if let Some(mut b) = b
            && b.random_exits
        {
            b.plan(schedule::bed_exits(s, seed, id, day));
        }
    }
}
