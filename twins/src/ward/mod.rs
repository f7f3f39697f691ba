//! The ward: turns a [`Scenario`] into a world of patients and devices.
//!
//! Everything drawn here comes from streams keyed by stable ids (bed, patient, device), so the
//! patient in bed W1-07 is the same person whatever else the scenario holds, and adding a
//! device does not change another device's numbers.

use std::collections::BTreeMap;

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::{Distribution, Normal, StandardNormal};
use wardtwin_scenarios::{Acuity, Condition, EventKind, Scenario};
use wardtwin_sim::news2::{Acvpu, Spo2Scale};
use wardtwin_sim::records::{
    ArtifactKind, ArtifactRecord, BedIx, DeviceIx, DeviceKind, EpisodeRecord, Origin, PatientIx,
};
use wardtwin_sim::rng::{SimRng, stream};
use wardtwin_sim::{ArtifactRecorded, BedInfo, DeviceInfo, Directory, PatientInfo};

use crate::device::{ArtifactWindow, Battery, Device, params as dparams};
use crate::patient::params::*;
use crate::patient::{
    ClinicalConditions, Episode, Episodes, Patient, Physiology, PhysiologyStep, TrueVitals, compose,
};

/// A patient as admitted: who they are, drawn from the population or pinned by the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    pub bed: usize,
    pub id: String,
    pub age: f64,
    pub acuity: Acuity,
    pub conditions: Vec<Condition>,
    pub on_oxygen: bool,
    pub scale: Spo2Scale,
    pub kit: String,
}

/// Who is in which bed. Each bed draws from its own stream.
pub fn admissions(s: &Scenario, seed: u64) -> Vec<Admission> {
    let pinned = s.pinned_beds();
    let pop = &s.population;
    // Each bed's stream: its first draw decides occupancy (below `occupancy`, or among the
    // `count` lowest); the rest of the stream draws the patient.
    let mut rngs: Vec<SimRng> = s
        .beds
        .iter()
        .map(|b| stream(seed, &b.id, "admission"))
        .collect();
    let first: Vec<f64> = rngs.iter_mut().map(|r| r.random::<f64>()).collect();
    let occupied: Vec<bool> = match pop.count {
        None => s
            .beds
            .iter()
            .enumerate()
            .map(|(bi, _)| pinned.contains(&bi) || first[bi] < pop.occupancy)
            .collect(),
        Some(n) => {
            let mut free: Vec<(f64, usize)> = (0..s.beds.len())
                .filter(|bi| !pinned.contains(bi))
                .map(|bi| (first[bi], bi))
                .collect();
            free.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut occ: Vec<bool> = (0..s.beds.len()).map(|bi| pinned.contains(&bi)).collect();
            for &(_, bi) in free.iter().take(n.saturating_sub(pinned.len())) {
                occ[bi] = true;
            }
            occ
        }
    };
    let mut out = Vec::new();
    for (bi, bed) in s.beds.iter().enumerate() {
        if !occupied[bi] {
            continue;
        }
        let rng = &mut rngs[bi];
        let spec = s.patients.get(&bi).cloned().unwrap_or_default();
        let age_draw = pop.age.mean + pop.age.sd * rng.sample::<f64, _>(StandardNormal);
        let age = spec
            .age
            .unwrap_or(age_draw.clamp(pop.age.min, pop.age.max).round());
        let u = rng.random::<f64>();
        let acuity_draw = if u < pop.acuity[0] {
            Acuity::Low
        } else if u < pop.acuity[0] + pop.acuity[1] {
            Acuity::Medium
        } else {
            Acuity::High
        };
        let cond_draw: Vec<Condition> = Condition::ALL
            .into_iter()
            .filter(|c| {
                let p = pop.conditions.get(c).copied().unwrap_or(0.0);
                rng.random::<f64>() < p
            })
            .collect();
        let oxygen_draw = rng.random::<f64>() < pop.oxygen;
        let conditions = spec.conditions.clone().unwrap_or(cond_draw);
        let copd = conditions.contains(&Condition::Copd);
        let scale = match spec.spo2_scale {
            Some(2) => Spo2Scale::Scale2,
            Some(_) => Spo2Scale::Scale1,
            None if copd => Spo2Scale::Scale2,
            None => Spo2Scale::Scale1,
        };
        out.push(Admission {
            bed: bi,
            id: spec.id.clone().unwrap_or_else(|| format!("P-{}", bed.id)),
            age,
            acuity: spec.acuity.unwrap_or(acuity_draw),
            conditions,
            on_oxygen: spec.oxygen.unwrap_or(oxygen_draw),
            scale,
            kit: spec.kit.clone().unwrap_or_else(|| pop.kit.clone()),
        });
    }
    out
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

fn draw_artifacts(
    s: &Scenario,
    seed: u64,
    device_id: &str,
    kind: DeviceKind,
) -> Vec<ArtifactWindow> {
    let rates = &s.artifacts;
    if !rates.devices.contains(&kind) {
        return Vec::new();
    }
    let mut rng = stream(seed, device_id, "artifacts");
    let mut out = Vec::new();
    let days = s.duration_ms as f64 / 86_400_000.0;
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
        if per_day <= 0.0 {
            continue;
        }
        // Poisson process: exponential gaps with mean 1/rate.
        let mean_gap_ms = 86_400_000.0 / per_day;
        let mut t = 0.0;
        loop {
            t += -mean_gap_ms * (1.0 - rng.random::<f64>()).ln();
            if t >= days * 86_400_000.0 {
                break;
            }
            let dur = (-(mean_ms as f64) * (1.0 - rng.random::<f64>()).ln()) as i64;
            let dur = dur.clamp(dparams::ARTIFACT_MIN_MS, dparams::ARTIFACT_MAX_MS);
            let start = s.epoch_ms + t as i64;
            out.push(ArtifactWindow {
                kind: akind,
                start_ms: start,
                end_ms: (start + dur).min(s.epoch_ms + s.duration_ms),
            });
        }
    }
    out
}

/// Spawns the scenario's patients and devices into `world` and inserts the [`Directory`] and
/// the [`PhysiologyStep`]. Returns the directory.
pub fn spawn(world: &mut World, s: &Scenario, seed: u64) -> Directory {
    let admissions = admissions(s, seed);
    // Directory order: sorted by stable id.
    let mut bed_order: Vec<usize> = (0..s.beds.len()).collect();
    bed_order.sort_by(|a, b| s.beds[*a].id.cmp(&s.beds[*b].id));
    let mut bed_ix = vec![BedIx(0); s.beds.len()];
    let mut dir = Directory::default();
    for (i, &b) in bed_order.iter().enumerate() {
        bed_ix[b] = BedIx(i as u32);
        let bed = &s.beds[b];
        dir.beds.push(BedInfo {
            id: bed.id.clone(),
            ward: s.wards[bed.ward].id.clone(),
            room: bed.room.clone(),
        });
    }
    let mut adm_sorted: Vec<&Admission> = admissions.iter().collect();
    adm_sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut patient_ix = BTreeMap::new();
    for (i, a) in adm_sorted.iter().enumerate() {
        patient_ix.insert(a.bed, PatientIx(i as u32));
        dir.patients.push(PatientInfo {
            id: a.id.clone(),
            bed: bed_ix[a.bed],
        });
    }
    struct DeviceDraft {
        id: String,
        kind: DeviceKind,
        interval_ms: i64,
        bed: usize,
    }
    let mut drafts: Vec<DeviceDraft> = Vec::new();
    for a in &admissions {
        for d in &s.kits[&a.kit].devices {
            drafts.push(DeviceDraft {
                id: format!("{}-{}", d.kind.id_prefix(), s.beds[a.bed].id),
                kind: d.kind,
                interval_ms: d.interval_ms,
                bed: a.bed,
            });
        }
    }
    drafts.sort_by(|a, b| a.id.cmp(&b.id));
    for d in &drafts {
        dir.devices.push(DeviceInfo {
            id: d.id.clone(),
            kind: d.kind,
            patient: patient_ix.get(&d.bed).copied(),
            bed: Some(bed_ix[d.bed]),
        });
    }

    let mut step = PhysiologyStep::new(s.step_ms, s.site.utc_offset_hours, s.truth_interval_ms);
    step.patients = admissions.len();
    // Patients, with their episodes (numbered in timeline order).
    let mut episodes: BTreeMap<usize, Vec<Episode>> = BTreeMap::new();
    let mut scheduled_artifacts: BTreeMap<(usize, DeviceKind), Vec<ArtifactWindow>> =
        BTreeMap::new();
    for (n, ev) in s.events.iter().enumerate() {
        let at = s.epoch_ms + ev.at_ms;
        match &ev.kind {
            EventKind::Deterioration {
                condition,
                develop_ms,
                resolve_after_ms,
                severity,
            } => {
                let record = EpisodeRecord {
                    id: n as u32,
                    patient: patient_ix[&ev.bed],
                    kind: *condition,
                    onset_ms: at,
                    develop_ms: *develop_ms,
                    news2_ge5_ms: None,
                    news2_ge7_ms: None,
                    peak_news2: 0,
                    resolve_ms: resolve_after_ms.map(|r| at + r),
                    end_ms: None,
                };
                episodes
                    .entry(ev.bed)
                    .or_default()
                    .push(Episode::new(record, *severity));
            }
            EventKind::Artifact {
                kind,
                device,
                duration_ms,
            } => {
                scheduled_artifacts
                    .entry((ev.bed, *device))
                    .or_default()
                    .push(ArtifactWindow {
                        kind: *kind,
                        start_ms: at,
                        end_ms: (at + duration_ms).min(s.epoch_ms + s.duration_ms),
                    });
            }
        }
    }
    let mut patient_entity = BTreeMap::new();
    for a in &admissions {
        let ix = patient_ix[&a.bed];
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
        if let Some(eps) = episodes.remove(&a.bed) {
            e.insert(Episodes(eps));
        }
        patient_entity.insert(a.bed, e.id());
    }
    // Devices.
    let mut artifact_records = Vec::new();
    for (i, d) in drafts.iter().enumerate() {
        let ix = DeviceIx(i as u32);
        let mut rng = stream(seed, &d.id, "device");
        let interval_steps = d.interval_ms / s.step_ms;
        let phase_ms = rng.random_range(0..interval_steps.max(1)) * s.step_ms;
        let spec = dparams::battery(d.kind);
        let pct =
            spec.initial_pct.0 + (spec.initial_pct.1 - spec.initial_pct.0) * rng.random::<f64>();
        let clock_offset_ms = dparams::CLOCK_OFFSET_SD_MS * rng.sample::<f64, _>(StandardNormal);
        let drift_ppm = dparams::CLOCK_DRIFT_SD_PPM * rng.sample::<f64, _>(StandardNormal);
        let mut bias = [0.0; 3];
        for (slot, m) in d.kind.metrics().iter().enumerate() {
            let sd = dparams::measurement(*m).bias_sd;
            bias[slot] = Normal::new(0.0, sd.max(1e-12))
                .map(|n| n.sample(&mut rng))
                .unwrap_or(0.0);
        }
        let random = draw_artifacts(s, seed, &d.id, d.kind);
        let scheduled = scheduled_artifacts
            .get(&(d.bed, d.kind))
            .map_or(&[][..], Vec::as_slice);
        let tagged = random
            .iter()
            .map(|w| (w, Origin::Random))
            .chain(scheduled.iter().map(|w| (w, Origin::Scheduled)));
        artifact_records.extend(tagged.map(|(w, origin)| ArtifactRecord {
            device: ix,
            kind: w.kind,
            start_ms: w.start_ms,
            end_ms: w.end_ms,
            origin,
        }));
        let mut artifacts = random;
        artifacts.extend_from_slice(scheduled);
        artifacts.sort_by_key(|w| (w.start_ms, w.end_ms));
        world.spawn((
            Device {
                ix,
                kind: d.kind,
                patient: patient_entity[&d.bed],
                interval_ms: d.interval_ms,
                next_due_ms: s.epoch_ms + phase_ms,
                seq: 0,
                clock_offset_ms,
                drift_ppm,
                bias,
                rng: stream(seed, &d.id, "noise"),
                artifacts,
                last_value_ms: s.epoch_ms,
            },
            Battery {
                pct,
                drain_per_ms: 100.0 / (spec.capacity_h * 3_600_000.0),
                low_since_ms: None,
                depleted: false,
            },
        ));
    }
    world.write_message_batch(artifact_records.into_iter().map(ArtifactRecorded));
    world.insert_resource(step);
    world.insert_resource(dir.clone());
    dir
}
