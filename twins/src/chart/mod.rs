//! The chart: nurses' observation rounds (docs/chart.md).
//!
//! A real NEWS2 needs what no wearable reports: consciousness (ACVPU) and whether the patient
//! is on oxygen. In a hospital they come from the nurse's observation round, charted in the
//! EHR, at the frequency NEWS2 prescribes for the patient's last charted score (RCP 2017;
//! DOMAIN.md §2):
//!
//! | last charted NEWS2 | response | next round |
//! |---|---|---|
//! | 0 | routine | 12 h |
//! | 1–4 | low | 4 h |
//! | a 3 in one parameter (total under 5) | low-medium | 1 h |
//! | 5–6 | urgent | 1 h |
//! | 7+ | emergency (continuous monitoring) | 30 min |
//!
//! Rounds are late, and at night some are missed ([`Compliance`]: the scenario's `[chart]`). A round charts manual
//! measurements (pulse palpated and RR counted over 30 s, so even numbers; a habitual "18" for
//! a normal-looking RR; a spot-check SpO2; a tympanic temperature; a manual cuff) and the true
//! consciousness and oxygen at that moment: new confusion is charted only when a round sees it.
//! Each round (or missed round) is a [`ChartRecord`] with the true and the charted values.

use bevy_app::{App, Plugin, Update};
use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use wardtwin_scenarios::ChartCompliance;
use wardtwin_sim::news2::{News2, News2Inputs, Response};
use wardtwin_sim::records::{ChartRecord, ChartValues};
use wardtwin_sim::rng::SimRng;
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{Charted, Directory, RunSeed, SimClock, SimSet};

use crate::patient::params::{DBP, HR, RR, SBP, SPO2, TEMP};
use crate::patient::{Patient, PatientSystems, PhysiologyStep, TrueVitals};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// How often NEWS2 says to observe, by the response its score calls for.
pub fn interval_ms(n: &News2) -> i64 {
    match n.response() {
        Response::Routine => 12 * HOUR,
        Response::Low => 4 * HOUR,
        Response::LowMedium | Response::Urgent => HOUR,
        Response::Emergency => 30 * MIN,
    }
}

/// How well rounds keep their times: the scenario's `[chart]` (defaults in
/// [`ChartCompliance::default`]), a resource of the world.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct Compliance(pub ChartCompliance);

/// A patient's place in the round.
#[derive(Component, Debug, Clone)]
pub struct ChartState {
    rng: SimRng,
    /// When the next round is due.
    due_ms: SimMillis,
    /// When the nurse will do it; `None`: it will be missed.
    act_ms: Option<SimMillis>,
    /// The last charted NEWS2 (none before the first round: the admission's, taken as true).
    last: News2,
}

impl ChartState {
    /// Decides whether the round due at `due` happens, and when.
    fn plan(&mut self, due: SimMillis, utc_offset_ms: i64, interval: i64, c: &ChartCompliance) {
        self.due_ms = due;
        let local_h = (due + utc_offset_ms).rem_euclid(24 * HOUR) as f64 / HOUR as f64;
        let night = if c.night_from_h > c.night_to_h {
            local_h >= c.night_from_h || local_h < c.night_to_h
        } else {
            (c.night_from_h..c.night_to_h).contains(&local_h)
        };
        let (missed, mean) = if night {
            (c.missed_night, c.delay_night_ms)
        } else {
            (c.missed_day, c.delay_day_ms)
        };
        let u: f64 = self.rng.random();
        let e: f64 = self.rng.random();
        self.act_ms = (u >= missed).then(|| {
            let delay = (-mean * (1.0 - e).ln()).min(interval as f64 / 2.0);
            due + delay as i64
        });
    }
}

/// The manual measurements of a round: what the nurse charts of the true values.
pub fn measure(truth: &ChartValues, rng: &mut SimRng, c: &ChartCompliance) -> ChartValues {
    let mut n = |sd: f64| -> f64 { sd * rng.sample::<f64, _>(StandardNormal) };
    let even = |x: f64| (2.0 * (x / 2.0).round()).max(0.0);
    let hr = even(f64::from(truth.heart_rate) + n(2.0));
    let rr_counted = even(f64::from(truth.resp_rate) + n(1.0));
    let spo2 = (f64::from(truth.spo2) + n(1.0)).round().clamp(0.0, 100.0);
    let temp = ((f64::from(truth.temp_c) + n(0.2)) * 10.0).round() / 10.0;
    let sbp = (f64::from(truth.systolic) + n(5.0)).round().max(0.0);
    let dbp = (f64::from(truth.diastolic) + n(4.0)).round().max(0.0);
    let habit: f64 = rng.random();
    let rr = if (12.0..=20.0).contains(&truth.resp_rate) && habit < c.habitual_rr {
        18.0
    } else {
        rr_counted
    };
    ChartValues {
        heart_rate: hr as f32,
        resp_rate: rr as f32,
        spo2: spo2 as f32,
        temp_c: temp as f32,
        systolic: sbp as f32,
        diastolic: dbp as f32,
        consciousness: truth.consciousness,
        on_oxygen: truth.on_oxygen,
    }
}

/// NEWS2 of chart values.
pub fn news2_of(v: &ChartValues, p: &Patient) -> News2 {
    News2::score(&News2Inputs {
        resp_rate: f64::from(v.resp_rate),
        spo2: f64::from(v.spo2),
        scale: p.scale,
        on_oxygen: v.on_oxygen,
        systolic: f64::from(v.systolic),
        pulse: f64::from(v.heart_rate),
        consciousness: v.consciousness,
        temp_c: f64::from(v.temp_c),
    })
}

fn truth_of(tv: &TrueVitals, p: &Patient) -> ChartValues {
    ChartValues {
        heart_rate: tv.v[HR] as f32,
        resp_rate: tv.v[RR] as f32,
        spo2: tv.v[SPO2] as f32,
        temp_c: tv.v[TEMP] as f32,
        systolic: tv.v[SBP] as f32,
        diastolic: tv.v[DBP] as f32,
        consciousness: tv.consciousness,
        on_oxygen: p.on_oxygen,
    }
}

/// Each step: rounds due now are charted (or missed), and the next is planned.
#[allow(clippy::too_many_arguments)]
fn chart_rounds(
    mut commands: Commands,
    clock: Res<SimClock>,
    step: Option<Res<PhysiologyStep>>,
    seed: Res<RunSeed>,
    dir: Option<Res<Directory>>,
    compliance: Option<Res<Compliance>>,
    mut q: Query<(Entity, &Patient, &TrueVitals, Option<&mut ChartState>)>,
    mut out: MessageWriter<Charted>,
) {
    let (Some(step), Some(dir)) = (step, dir) else {
        return;
    };
    let now = clock.now_ms();
    let offset = step.utc_offset_ms;
    let c = &compliance.map(|c| c.0).unwrap_or_default();
    for (e, p, tv, state) in &mut q {
        let Some(mut s) = state else {
            // Admitted before the run: the first round falls anywhere in the interval its
            // score calls for (rounds are staggered).
            let last = tv.news2(p);
            let id = &dir.patient(p.ix).id;
            let mut rng = wardtwin_sim::rng::stream(seed.0, id, "chart");
            let interval = interval_ms(&last);
            let first = now + (rng.random::<f64>() * interval as f64) as i64;
            let mut s = ChartState {
                rng,
                due_ms: first,
                act_ms: None,
                last,
            };
            s.plan(first, offset, interval, c);
            commands.entity(e).insert(s);
            continue;
        };
        let at = s.act_ms.unwrap_or(s.due_ms);
        if at > now {
            continue;
        }
        let truth = truth_of(tv, p);
        let news2_true = tv.news2(p);
        let due = s.due_ms;
        let charted = s.act_ms.map(|_| {
            let v = measure(&truth, &mut s.rng, c);
            (v, news2_of(&v, p))
        });
        // A missed round leaves the last charted score in charge.
        let (next_from, last) = match charted {
            Some((_, n)) => (now, n),
            None => (due, s.last),
        };
        let interval = interval_ms(&last);
        let next = next_from + interval;
        s.last = last;
        s.plan(next, offset, interval, c);
        out.write(Charted(ChartRecord {
            patient: p.ix,
            due_ms: due,
            charted_ms: charted.map(|_| now),
            truth,
            news2_true,
            charted,
            scale: p.scale,
            next_due_ms: next,
        }));
    }
}

/// Rounds are looked at once a simulated minute (a chart records minutes): the run pays for
/// the system a sixtieth of the steps.
fn on_the_minute(clock: Res<SimClock>) -> bool {
    clock.elapsed_ms().rem_euclid(MIN) < clock.step_ms()
}

/// Nurses' observation rounds for every patient.
pub struct ChartPlugin;

impl Plugin for ChartPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            chart_rounds
                .run_if(on_the_minute)
                .in_set(SimSet::Dynamics)
                .after(PatientSystems),
        );
    }
}

#[cfg(test)]
mod tests;
