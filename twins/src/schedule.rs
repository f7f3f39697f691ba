//! Random incidents, drawn a simulated day at a time.
//!
//! Artifacts, hypoglycaemia, bed exits, occlusions, fridge door openings, equipment trips and
//! duress presses are Poisson processes over the run. Drawing a whole run up front made memory
//! grow with its length (and every step scan all the past); here each twin holds at most the
//! current and the next day: the world is built with days 0 and 1, and when day `d` begins the
//! twins draw day `d + 1` ([`day_to_draw`], in [`SimSet::Plan`](wardtwin_sim::SimSet)) and drop
//! what is over. Each day draws from its own stream, keyed by (run seed, stable id,
//! `purpose/day`), so a day's incidents do not depend on any other day's, or on when they were
//! drawn. A Poisson process restarted at each midnight (UTC of the run) is the same process.
//!
//! Scheduled incidents (the scenario's timeline) are few (at most `limits::EVENTS`) and are
//! placed when the world is built.

use std::sync::Arc;

use bevy_ecs::prelude::*;
use rand::RngExt;
use wardtwin_scenarios::{FridgeSpec, Scenario};
use wardtwin_sim::SimClock;
use wardtwin_sim::records::{ArtifactKind, DeviceKind, Origin};
use wardtwin_sim::rng::{SimRng, stream};
use wardtwin_sim::time::{DAY_MS, HOUR_MS, MINUTE_MS, SimMillis};

use crate::Window;
use crate::device::{ArtifactWindow, params as dparams};
use crate::patient::glucose::Hypo;
use crate::rtls::Trip;

/// What the daily draws need: the scenario and the run's seed.
#[derive(Resource, Clone)]
pub struct Plan {
    pub scenario: Arc<Scenario>,
    pub seed: u64,
}

/// The index of a fridge, asset or staff member in the scenario's lists (what its day-ahead
/// draws are keyed on), kept on its entity so no draw has to look it up by name.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecIx(pub usize);

/// Local hours of the night and of the working day.
pub const NIGHT_H: (f64, f64) = (22.0, 6.0);
pub const DAY_H: (f64, f64) = (7.0, 20.0);

/// Days of the run (the last may be partial).
pub fn days(s: &Scenario) -> i64 {
    (s.duration_ms + DAY_MS - 1) / DAY_MS
}

/// The days drawn when the world is built.
pub fn first_days(s: &Scenario) -> std::ops::Range<i64> {
    0..days(s).min(2)
}

/// The day to draw at this tick: `d + 1` on the first tick of day `d` (d ≥ 1), if the run has
/// it.
pub fn day_to_draw(clock: &SimClock) -> Option<i64> {
    day_to_draw_at(clock.tick(), clock.step_ms(), clock.duration_ms())
}

/// [`day_to_draw`] at tick `tick` of steps of `step_ms` in a run of `duration_ms`.
pub fn day_to_draw_at(tick: u64, step_ms: i64, duration_ms: i64) -> Option<i64> {
    let t = tick as i64 * step_ms;
    if tick == 0 || t / DAY_MS == (t - step_ms) / DAY_MS {
        return None;
    }
    let next = t / DAY_MS + 1;
    (next * DAY_MS < duration_ms).then_some(next)
}

/// The stream of `purpose` for `id` on day `day`.
pub fn day_stream(seed: u64, id: &str, purpose: &str, day: i64) -> SimRng {
    stream(seed, id, &format!("{purpose}/day{day}"))
}

/// Times of a Poisson process of `per_window` events per local window `[from_h, to_h)` (which
/// may wrap midnight; `(0, 24)` is the whole day), falling in day `day` of the run.
pub fn poisson_in_day(
    s: &Scenario,
    rng: &mut SimRng,
    per_window: f64,
    (from_h, to_h): (f64, f64),
    day: i64,
) -> Vec<SimMillis> {
    let window_h = match (to_h - from_h).rem_euclid(24.0) {
        0.0 => 24.0,
        w => w,
    };
    let mut out = Vec::new();
    if per_window <= 0.0 {
        return out;
    }
    let per_day = per_window * 24.0 / window_h;
    let mean_gap_ms = DAY_MS as f64 / per_day;
    let offset_ms = (s.site.utc_offset_hours * 3_600_000.0) as i64;
    let end = ((day + 1) * DAY_MS).min(s.duration_ms) as f64;
    let mut t = (day * DAY_MS) as f64;
    loop {
        t += -mean_gap_ms * (1.0 - rng.random::<f64>()).ln();
        if t >= end {
            return out;
        }
        let at = s.epoch_ms + t as i64;
        let local_h = (at + offset_ms).rem_euclid(DAY_MS) as f64 / 3_600_000.0;
        if (local_h - from_h).rem_euclid(24.0) < window_h {
            out.push(at);
        }
    }
}

/// A uniform draw in `[lo, hi)`.
pub fn uniform(rng: &mut impl RngExt, (lo, hi): (f64, f64)) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// An exponential duration with mean `mean_ms`, clamped.
pub fn exp_duration(rng: &mut SimRng, mean_ms: f64, (lo, hi): (i64, i64)) -> i64 {
    ((-mean_ms * (1.0 - rng.random::<f64>()).ln()) as i64).clamp(lo, hi)
}

/// When a device reads: its first reading and its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub first_ms: SimMillis,
    pub interval_ms: i64,
}

/// A worn device's random artifacts starting in day `day`: motion and probe-off (for the kinds
/// `[artifacts] devices` lists), a CGM's compression lows at night and its sensor warm-ups, and
/// the kind's own failure modes ([`dparams::FAILURES`], scaled by `device_failures`; a
/// per-reading failure falls on a reading of `cadence`). Each part draws from its own stream.
pub fn artifacts(
    s: &Scenario,
    seed: u64,
    device_id: &str,
    kind: DeviceKind,
    cadence: Cadence,
    day: i64,
) -> Vec<ArtifactWindow> {
    let end = s.epoch_ms + s.duration_ms;
    let mut out = Vec::new();
    if kind == DeviceKind::Cgm {
        let mut rng = day_stream(seed, device_id, "compression", day);
        let (lo, hi) = dparams::COMPRESSION_LOW_MS;
        let per_night = s.incidents.compression_lows_per_night;
        out.extend(
            poisson_in_day(s, &mut rng, per_night, NIGHT_H, day)
                .into_iter()
                .map(|start_ms| ArtifactWindow {
                    kind: ArtifactKind::CompressionLow,
                    start_ms,
                    end_ms: (start_ms + rng.random_range(lo..=hi)).min(end),
                }),
        );
        out.extend(cgm_warm_ups(s, seed, device_id, day));
    }
    let rates = &s.artifacts;
    if rates.devices.contains(&kind) {
        let mut rng = day_stream(seed, device_id, "artifacts", day);
        for (akind, per_day, mean_ms) in [
            (
                ArtifactKind::Motion,
                rates.motion_per_device_day,
                rates.motion_mean_ms,
            ),
            (
                ArtifactKind::ProbeOff,
                rates.probe_off_per_device_day,
                rates.probe_off_mean_ms,
            ),
        ] {
            let range = (dparams::ARTIFACT_MIN_MS, dparams::ARTIFACT_MAX_MS);
            for start_ms in poisson_in_day(s, &mut rng, per_day, (0.0, 24.0), day) {
                out.push(ArtifactWindow {
                    kind: akind,
                    start_ms,
                    end_ms: (start_ms + exp_duration(&mut rng, mean_ms as f64, range)).min(end),
                });
            }
        }
    }
    let scale = rates.device_failures;
    for f in dparams::FAILURES.iter().filter(|f| f.device == kind) {
        let mut rng = day_stream(seed, device_id, f.artifact.name(), day);
        let rate = f.rate * scale;
        if rate <= 0.0 {
            continue;
        }
        let starts: Vec<SimMillis> = if f.per_reading {
            readings_in_day(s, cadence, day)
                .filter(|_| rng.random::<f64>() < rate)
                .collect()
        } else {
            poisson_in_day(s, &mut rng, rate, (0.0, 24.0), day)
        };
        for start_ms in starts {
            let len = exp_duration(&mut rng, f.mean_ms as f64, f.range_ms);
            out.push(ArtifactWindow {
                kind: f.artifact,
                start_ms,
                end_ms: (start_ms + len).min(end),
            });
        }
    }
    out.sort_by_key(|w| (w.start_ms, w.end_ms, w.kind));
    out
}

/// The reading times of `cadence` in day `day` of the run.
fn readings_in_day(s: &Scenario, c: Cadence, day: i64) -> impl Iterator<Item = SimMillis> {
    let from = s.epoch_ms + day * DAY_MS;
    let to = (from + DAY_MS).min(s.epoch_ms + s.duration_ms);
    let step = c.interval_ms.max(1);
    let k0 = ((from - c.first_ms).max(0) + step - 1) / step;
    (k0..)
        .map(move |k| c.first_ms + k * step)
        .take_while(move |t| *t < to)
}

/// A CGM's sensor changes in day `day` (its age when the run starts is drawn once, uniform
/// over the sensor's life): each new sensor warms up before it reads.
fn cgm_warm_ups(s: &Scenario, seed: u64, device_id: &str, day: i64) -> Vec<ArtifactWindow> {
    let life = dparams::CGM_SENSOR_LIFE_MS;
    let age = (stream(seed, device_id, "cgm_sensor").random::<f64>() * life as f64) as i64;
    let from = s.epoch_ms + day * DAY_MS;
    let to = (from + DAY_MS).min(s.epoch_ms + s.duration_ms);
    let first = s.epoch_ms + (life - age);
    let k0 = ((from - first).max(0) + life - 1) / life;
    (k0..)
        .map(|k| first + k * life)
        .take_while(|t| *t < to)
        .map(|t| ArtifactWindow {
            kind: ArtifactKind::WarmUp,
            start_ms: t,
            end_ms: (t + dparams::CGM_WARM_UP_MS).min(s.epoch_ms + s.duration_ms),
        })
        .collect()
}

/// A monitored diabetic's random hypoglycaemic episodes beginning in day `day`.
pub fn hypos(s: &Scenario, seed: u64, patient: &str, day: i64) -> Vec<Hypo> {
    let mut rng = day_stream(seed, patient, "hypos", day);
    let per_day = s.incidents.hypos_per_diabetic_day;
    poisson_in_day(s, &mut rng, per_day, (0.0, 24.0), day)
        .into_iter()
        .map(|onset_ms| {
            let develop_ms = rng.random_range(30..=60) * MINUTE_MS;
            Hypo {
                onset_ms,
                develop_ms,
                treat_ms: onset_ms + develop_ms + rng.random_range(20..=50) * MINUTE_MS,
                nadir_mmol: rng.random_range(2.3..3.5),
                origin: Origin::Random,
            }
        })
        .collect()
}

/// A fall-risk patient's random times out of bed beginning in day `day` (at night).
pub fn bed_exits(s: &Scenario, seed: u64, patient: &str, day: i64) -> Vec<Window> {
    let mut rng = day_stream(seed, patient, "bed_exits", day);
    let end = s.epoch_ms + s.duration_ms;
    poisson_in_day(s, &mut rng, s.incidents.bed_exits_per_night, NIGHT_H, day)
        .into_iter()
        .map(|start_ms| Window {
            start_ms,
            end_ms: (start_ms + exp_duration(&mut rng, 240_000.0, (30_000, 1_200_000))).min(end),
        })
        .collect()
}

/// A pump's random occlusions beginning in day `day`.
pub fn occlusions(s: &Scenario, seed: u64, device: &str, day: i64) -> Vec<Window> {
    let mut rng = day_stream(seed, device, "occlusions", day);
    let end = s.epoch_ms + s.duration_ms;
    let (lo, hi) = crate::device::infusion::OCCLUSION_MS;
    let per_day = s.incidents.occlusions_per_pump_day;
    poisson_in_day(s, &mut rng, per_day, (0.0, 24.0), day)
        .into_iter()
        .map(|start_ms| Window {
            start_ms,
            end_ms: (start_ms + rng.random_range(lo..=hi)).min(end),
        })
        .collect()
}

/// A fridge's random door openings in day `day` (working hours): mostly under a minute.
pub fn door_openings(s: &Scenario, seed: u64, f: &FridgeSpec, day: i64) -> Vec<Window> {
    let mut rng = day_stream(seed, &f.id, "doors", day);
    let end = s.epoch_ms + s.duration_ms;
    poisson_in_day(s, &mut rng, f.door_openings_per_day, DAY_H, day)
        .into_iter()
        .map(|start_ms| Window {
            start_ms,
            end_ms: (start_ms + exp_duration(&mut rng, 40_000.0, (10_000, 180_000))).min(end),
        })
        .collect()
}

/// An asset's random trips in day `day`: used in a patient room (1-6 h), taken to another ward
/// (2-8 h), taken out of the building (for good).
pub fn trips(s: &Scenario, seed: u64, a: usize, day: i64) -> Vec<Trip> {
    let spec = &s.assets[a];
    let l = &s.layout;
    let mut rng = day_stream(seed, &spec.id, "trips", day);
    let rooms: Vec<usize> = l
        .of_kind(spec.ward, wardtwin_scenarios::SpaceKind::Room)
        .collect();
    let other_wards: Vec<usize> = (0..s.wards.len()).filter(|w| *w != spec.ward).collect();
    let exit = l.exit();
    let r = &s.rtls;
    let mut out = Vec::new();
    for at in poisson_in_day(s, &mut rng, r.moves_per_asset_day, (0.0, 24.0), day) {
        if let Some(&to) = pick(&mut rng, &rooms) {
            let dwell = rng.random_range(HOUR_MS..=6 * HOUR_MS);
            out.push(Trip {
                depart_ms: at,
                to,
                dwell_ms: Some(dwell),
            });
        }
    }
    for at in poisson_in_day(s, &mut rng, r.wanders_per_asset_day, (0.0, 24.0), day) {
        if let Some(&w) = pick(&mut rng, &other_wards) {
            let dwell = rng.random_range(2 * HOUR_MS..=8 * HOUR_MS);
            out.push(Trip {
                depart_ms: at,
                to: base_of(s, w),
                dwell_ms: Some(dwell),
            });
        }
    }
    for at in poisson_in_day(s, &mut rng, r.losses_per_asset_day, (0.0, 24.0), day) {
        out.push(Trip {
            depart_ms: at,
            to: exit,
            dwell_ms: None,
        });
    }
    out.sort();
    out
}

/// A staff member's random duress presses in day `day`.
pub fn presses(s: &Scenario, seed: u64, k: usize, day: i64) -> Vec<SimMillis> {
    let mut rng = day_stream(seed, &s.staff[k].id, "duress", day);
    poisson_in_day(s, &mut rng, s.rtls.duress_per_staff_day, (0.0, 24.0), day)
}

fn pick<'a, T>(rng: &mut SimRng, v: &'a [T]) -> Option<&'a T> {
    (!v.is_empty()).then(|| &v[rng.random_range(0..v.len())])
}

/// Where a ward's equipment is kept: its first equipment room (else its station, else the
/// gateway's space).
pub fn base_of(s: &Scenario, ward: usize) -> usize {
    use wardtwin_scenarios::SpaceKind;
    let l = &s.layout;
    l.of_kind(ward, SpaceKind::Equipment)
        .next()
        .or_else(|| l.of_kind(ward, SpaceKind::Station).next())
        .unwrap_or(l.gateways[ward].0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_drawn_when_the_day_before_it_begins() {
        let drawn = |step: i64, duration: i64| -> Vec<i64> {
            (0..(duration / step) as u64)
                .filter_map(|k| day_to_draw_at(k, step, duration))
                .collect()
        };
        assert_eq!(drawn(1_000, 3 * DAY_MS), vec![2]);
        // A step that does not divide a day still draws each day once; a partial last day too.
        assert_eq!(drawn(7_000, 5 * DAY_MS), vec![2, 3, 4]);
        assert_eq!(drawn(1_000, 3 * DAY_MS + HOUR_MS), vec![2, 3]);
        assert_eq!(drawn(1_000, DAY_MS), Vec::<i64>::new());
    }

    /// Hardening issue: every random schedule was drawn for the whole run when the world was
    /// built, so memory grew with the run's length (and every step scanned the past). Over a
    /// 4-day run with frequent incidents, a device, a fridge and a patient hold at most what
    /// two days bring, yet every day has its incidents.
    #[test]
    fn hardening_schedules_hold_a_day_or_two_whatever_the_run_length() {
        use crate::coldchain::Fridge;
        use crate::device::Device;
        use crate::patient::mobility::BedPresence;
        use crate::{BuildOptions, build_app};
        use wardtwin_sim::{MemorySink, Sim, Sinks};

        let text = "[scenario]\nname = \"t\"\nepoch = 2026-03-02T00:00:00Z\nduration = \"4d\"\n\
                    seed = 3\nstep = \"5s\"\n[[ward]]\nid = \"W1\"\nbeds = 2\nfridges = 1\n\
                    [population]\nfall_risk = 1.0\n\
                    [artifacts]\nmotion_per_device_day = 40\nprobe_off_per_device_day = 10\n\
                    [incidents]\nbed_exits_per_night = 20\n[[fridge]]\nid = \"F9\"\nward = \"W1\"\n\
                    door_openings_per_day = 60\n";
        let s = wardtwin_scenarios::parse(text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
        let (mut app, _) = build_app(&s, &BuildOptions::default());
        let sink = MemorySink::default();
        app.insert_resource(Sinks::new(vec![Box::new(sink.clone())]));
        let mut sim = Sim::new(app);
        let (mut held_artifacts, mut held_doors, mut held_exits) = (0, 0, 0);
        let ticks_per_hour = (HOUR_MS / s.step_ms) as u64;
        for k in 0..sim.clock().total_ticks() {
            sim.step();
            if k % ticks_per_hour != 0 {
                continue;
            }
            let w = sim.app.world_mut();
            held_artifacts = w
                .query::<&Device>()
                .iter(w)
                .map(|d| d.artifacts.len())
                .max()
                .unwrap_or(0)
                .max(held_artifacts);
            held_doors = w
                .query::<&Fridge>()
                .iter(w)
                .map(|f| f.faults.doors.len())
                .max()
                .unwrap_or(0)
                .max(held_doors);
            held_exits = w
                .query::<&BedPresence>()
                .iter(w)
                .map(|b| b.exits.len())
                .max()
                .unwrap_or(0)
                .max(held_exits);
        }
        sim.finish().expect("memory sink");
        let rec = sink.take();
        // Recorded artifacts: every day has its share (~50 per worn device and 60 doors).
        for day in 0..4 {
            let (from, to) = (s.epoch_ms + day * DAY_MS, s.epoch_ms + (day + 1) * DAY_MS);
            let n = rec
                .get::<wardtwin_sim::records::ArtifactRecord>()
                .iter()
                .filter(|a| (from..to).contains(&a.start_ms))
                .count();
            assert!(n > 150, "day {day}: {n} artifacts recorded");
        }
        // Two days' worth at most, far from the four days recorded.
        assert!(
            held_artifacts <= 140,
            "a device held {held_artifacts} windows"
        );
        assert!(
            held_doors <= 150,
            "a fridge held {held_doors} door openings"
        );
        assert!(held_exits <= 50, "a patient held {held_exits} bed exits");
    }
}
