//! The ward: turns a [`Scenario`] into a world of patients and devices.
//!
//! Everything drawn here comes from streams keyed by stable ids (bed, patient, device), so the
//! patient in bed W1-07 is the same person whatever else the scenario holds, and adding a
//! device does not change another device's numbers.

use std::collections::BTreeMap;

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::{Distribution, Normal, StandardNormal};
use wardtwin_scenarios::{
    Acuity, Condition, EventKind, FridgeFault, FridgeSpec, Only, Scenario, SpaceKind, Target,
};
use wardtwin_sim::news2::{Acvpu, Spo2Scale};
use wardtwin_sim::records::{
    ArtifactKind, ArtifactRecord, BedIx, DeviceIx, DeviceKind, EpisodeRecord, Origin, PatientIx,
};
use wardtwin_sim::rng::{SimRng, stream};
use wardtwin_sim::time::{HOUR_MS, MINUTE_MS, SimMillis};
use wardtwin_sim::{
    ArtifactRecorded, BedInfo, DeviceInfo, Directory, PatientInfo, ReceiverInfo, SpaceInfo,
};

use crate::Window;
use crate::coldchain::{Faults, Fridge};
use crate::device::infusion::Infusion;
use crate::device::{ArtifactWindow, Battery, Device, params as dparams};
use crate::gateway::{Gateway, Link, Links, Site};
use crate::patient::glucose::{Glycaemia, Hypo};
use crate::patient::mobility::BedPresence;
use crate::patient::params::*;
use crate::patient::{
    ClinicalConditions, Episode, Episodes, Patient, Physiology, PhysiologyStep, TrueVitals, compose,
};
use crate::rtls::{Arrival, Mover, Role, RtlsParams, Spells, Trip};

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
    pub fall_risk: bool,
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
        // Own stream: adding fall risk changed no other draw.
        let fall_draw = stream(seed, &bed.id, "fall_risk").random::<f64>() < pop.fall_risk;
        out.push(Admission {
            fall_risk: spec.fall_risk.unwrap_or(fall_draw),
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
    if kind == DeviceKind::Cgm {
        let mut rng = stream(seed, device_id, "compression");
        let per_night = s.incidents.compression_lows_per_night;
        let end = s.epoch_ms + s.duration_ms;
        let (lo, hi) = dparams::COMPRESSION_LOW_MS;
        return poisson_in_hours(s, &mut rng, per_night, NIGHT_H)
            .into_iter()
            .map(|start_ms| ArtifactWindow {
                kind: ArtifactKind::CompressionLow,
                start_ms,
                end_ms: (start_ms + rng.random_range(lo..=hi)).min(end),
            })
            .collect();
    }
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

/// What a device belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// The patient in this bed wears it.
    Bed(usize),
    /// It logs this fridge.
    Fridge(usize),
    /// It is this ward's gateway.
    Gateway(usize),
    /// It is this asset's tag.
    Asset(usize),
    /// It is this staff member's badge.
    Staff(usize),
}

/// A device before it is spawned: its id decides its dense index.
struct DeviceDraft {
    id: String,
    kind: DeviceKind,
    interval_ms: i64,
    owner: Owner,
}

impl DeviceDraft {
    fn bed(&self) -> Option<usize> {
        match self.owner {
            Owner::Bed(b) => Some(b),
            _ => None,
        }
    }
    /// The ward it belongs to.
    fn ward(&self, s: &Scenario) -> usize {
        match self.owner {
            Owner::Bed(b) => s.beds[b].ward,
            Owner::Fridge(f) => s.fridges[f].ward,
            Owner::Gateway(w) => w,
            Owner::Asset(a) => s.assets[a].ward,
            Owner::Staff(k) => s.staff[k].ward,
        }
    }
}

/// Every device of the run, sorted by id: each patient's kit (a device marked `only` goes to
/// the patients who have that; one with a `share` to that fraction of them, drawn per device;
/// an event that needs a device forces it), and each fridge's logger.
fn device_drafts(s: &Scenario, seed: u64, admissions: &[Admission]) -> Vec<DeviceDraft> {
    let forced: std::collections::BTreeSet<(usize, DeviceKind)> = s
        .events
        .iter()
        .filter_map(|e| match (e.target, &e.kind) {
            (Target::Bed(b), EventKind::PumpOcclusion { .. }) => {
                Some((b, DeviceKind::InfusionPump))
            }
            (Target::Bed(b), EventKind::Artifact { device, .. }) => Some((b, *device)),
            _ => None,
        })
        .collect();
    let mut drafts = Vec::new();
    for a in admissions {
        for d in &s.kits[&a.kit].devices {
            let id = format!("{}-{}", d.kind.id_prefix(), s.beds[a.bed].id);
            let eligible = match d.only {
                None => true,
                Some(Only::Diabetes) => a.conditions.contains(&Condition::Diabetes),
                Some(Only::FallRisk) => a.fall_risk,
            };
            let drawn = d.share >= 1.0 || stream(seed, &id, "share").random::<f64>() < d.share;
            if !(forced.contains(&(a.bed, d.kind)) || eligible && drawn) {
                continue;
            }
            drafts.push(DeviceDraft {
                id,
                kind: d.kind,
                interval_ms: d.interval_ms,
                owner: Owner::Bed(a.bed),
            });
        }
    }
    let mut add = |owner, kind: DeviceKind, of: &str, interval_ms| {
        drafts.push(DeviceDraft {
            id: format!("{}-{of}", kind.id_prefix()),
            kind,
            interval_ms,
            owner,
        });
    };
    for (fi, f) in s.fridges.iter().enumerate() {
        add(
            Owner::Fridge(fi),
            DeviceKind::FridgeLogger,
            &f.id,
            f.interval_ms,
        );
    }
    for (wi, w) in s.wards.iter().enumerate() {
        let every = s.gateways.status_interval_ms;
        add(Owner::Gateway(wi), DeviceKind::EdgeGateway, &w.id, every);
    }
    let every = s.rtls.report_interval_ms;
    for (ai, a) in s.assets.iter().enumerate() {
        add(Owner::Asset(ai), DeviceKind::AssetTag, &a.id, every);
    }
    for (si, st) in s.staff.iter().enumerate() {
        add(Owner::Staff(si), DeviceKind::StaffBadge, &st.id, every);
    }
    drafts.sort_by(|a, b| a.id.cmp(&b.id));
    drafts
}

/// Times of a Poisson process of `per_day` over the run, kept only in the local hours
/// `[from_h, to_h)` (which may wrap midnight) at `per_window` per such window.
fn poisson_in_hours(
    s: &Scenario,
    rng: &mut SimRng,
    per_window: f64,
    (from_h, to_h): (f64, f64),
) -> Vec<SimMillis> {
    // `(0, 24)` is the whole day.
    let window_h = match (to_h - from_h).rem_euclid(24.0) {
        0.0 => 24.0,
        w => w,
    };
    if per_window <= 0.0 {
        return Vec::new();
    }
    let per_day = per_window * 24.0 / window_h;
    let mean_gap_ms = 86_400_000.0 / per_day;
    let offset_ms = (s.site.utc_offset_hours * 3_600_000.0) as i64;
    let mut out = Vec::new();
    let mut t = 0.0;
    loop {
        t += -mean_gap_ms * (1.0 - rng.random::<f64>()).ln();
        if t >= s.duration_ms as f64 {
            return out;
        }
        let at = s.epoch_ms + t as i64;
        let local_h = (at + offset_ms).rem_euclid(86_400_000) as f64 / 3_600_000.0;
        if (local_h - from_h).rem_euclid(24.0) < window_h {
            out.push(at);
        }
    }
}

/// An exponential duration with mean `mean_ms`, clamped.
fn exp_duration(rng: &mut SimRng, mean_ms: f64, (lo, hi): (i64, i64)) -> i64 {
    ((-mean_ms * (1.0 - rng.random::<f64>()).ln()) as i64).clamp(lo, hi)
}

const NIGHT_H: (f64, f64) = (22.0, 6.0);
const DAY_H: (f64, f64) = (7.0, 20.0);

/// A diabetic patient's random hypoglycaemic episodes (any time of day).
fn random_hypos(s: &Scenario, seed: u64, patient: &str) -> Vec<Hypo> {
    let mut rng = stream(seed, patient, "hypos");
    let times = poisson_in_hours(s, &mut rng, s.incidents.hypos_per_diabetic_day, (0.0, 24.0));
    times
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

/// A fall-risk patient's random times out of bed, at night.
fn random_bed_exits(s: &Scenario, seed: u64, patient: &str) -> Vec<Window> {
    let mut rng = stream(seed, patient, "bed_exits");
    let end = s.epoch_ms + s.duration_ms;
    poisson_in_hours(s, &mut rng, s.incidents.bed_exits_per_night, NIGHT_H)
        .into_iter()
        .map(|start_ms| Window {
            start_ms,
            end_ms: (start_ms + exp_duration(&mut rng, 240_000.0, (30_000, 1_200_000))).min(end),
        })
        .collect()
}

/// A pump's random occlusions.
fn random_occlusions(s: &Scenario, seed: u64, device: &str) -> Vec<Window> {
    let mut rng = stream(seed, device, "occlusions");
    let end = s.epoch_ms + s.duration_ms;
    let (lo, hi) = crate::device::infusion::OCCLUSION_MS;
    poisson_in_hours(
        s,
        &mut rng,
        s.incidents.occlusions_per_pump_day,
        (0.0, 24.0),
    )
    .into_iter()
    .map(|start_ms| Window {
        start_ms,
        end_ms: (start_ms + rng.random_range(lo..=hi)).min(end),
    })
    .collect()
}

/// A fridge's random door openings, in the day: mostly under a minute.
fn random_door_openings(s: &Scenario, seed: u64, f: &FridgeSpec) -> Vec<Window> {
    let mut rng = stream(seed, &f.id, "doors");
    let end = s.epoch_ms + s.duration_ms;
    poisson_in_hours(s, &mut rng, f.door_openings_per_day, DAY_H)
        .into_iter()
        .map(|start_ms| Window {
            start_ms,
            end_ms: (start_ms + exp_duration(&mut rng, 40_000.0, (10_000, 180_000))).min(end),
        })
        .collect()
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
    let drafts = device_drafts(s, seed, &admissions);
    for d in &drafts {
        let bed = d.bed().map(|b| bed_ix[b]);
        dir.devices.push(DeviceInfo {
            id: d.id.clone(),
            kind: d.kind,
            patient: d.bed().and_then(|b| patient_ix.get(&b).copied()),
            bed,
            ward: s.wards[d.ward(s)].id.clone(),
        });
    }
    let layout = &s.layout;
    dir.spaces = layout
        .spaces
        .iter()
        .map(|sp| SpaceInfo {
            id: sp.id.clone(),
            ward: sp.ward.map(|w| s.wards[w].id.clone()),
            zone: sp.zone.clone(),
            kind: sp.kind.name(),
        })
        .collect();
    dir.receivers = layout
        .receivers
        .iter()
        .map(|r| ReceiverInfo {
            id: r.id.clone(),
            space: r.space as u32,
            x_m: r.at.x_m as f32,
            y_m: r.at.y_m as f32,
        })
        .collect();
    let device_ix = |bed: usize, kind: DeviceKind| {
        drafts
            .iter()
            .position(|d| d.bed() == Some(bed) && d.kind == kind)
            .map(|i| DeviceIx(i as u32))
    };
    let mut site = Site::new(layout.clone(), s.radio);
    site.device_space = drafts
        .iter()
        .map(|d| d.bed().map(|b| layout.beds[b].0))
        .collect();
    let mut links = Links::default();
    for d in &drafts {
        let link = match d.owner {
            Owner::Bed(b) => {
                let (space, at) = layout.beds[b];
                Link::Radio {
                    receivers: site.best_receivers(&at, space),
                }
            }
            Owner::Fridge(f) => {
                let (space, at) = layout.fridges[f];
                Link::Radio {
                    receivers: site.best_receivers(&at, space),
                }
            }
            Owner::Gateway(w) => Link::Wired { gateway: w },
            Owner::Asset(_) | Owner::Staff(_) => Link::Tag,
        };
        links.links.push(link);
        links.rngs.push(stream(seed, &d.id, "radio"));
    }

    let mut step = PhysiologyStep::new(s.step_ms, s.site.utc_offset_hours, s.truth_interval_ms);
    step.patients = admissions.len();
    // Patients, with their episodes (numbered in timeline order).
    let mut episodes: BTreeMap<usize, Vec<Episode>> = BTreeMap::new();
    let mut scheduled_artifacts: BTreeMap<(usize, DeviceKind), Vec<ArtifactWindow>> =
        BTreeMap::new();
    let mut hypos: BTreeMap<usize, Vec<Hypo>> = BTreeMap::new();
    let mut exits: BTreeMap<usize, Vec<Window>> = BTreeMap::new();
    let mut occlusions: BTreeMap<usize, Vec<Window>> = BTreeMap::new();
    let mut fridge_faults: Vec<Faults> = vec![Faults::default(); s.fridges.len()];
    let mut scheduled_doors: Vec<Vec<Window>> = vec![Vec::new(); s.fridges.len()];
    let mut uplink_outages: BTreeMap<usize, Vec<Window>> = BTreeMap::new();
    let mut scheduled_wanders: BTreeMap<usize, Vec<(SimMillis, Option<usize>)>> = BTreeMap::new();
    let mut scheduled_duress: BTreeMap<usize, Vec<SimMillis>> = BTreeMap::new();
    let end_ms = s.epoch_ms + s.duration_ms;
    for (n, ev) in s.events.iter().enumerate() {
        let at = s.epoch_ms + ev.at_ms;
        let until = |d: Option<i64>| d.map_or(end_ms, |d| (at + d).min(end_ms));
        let bed = match ev.target {
            Target::Bed(b) => b,
            Target::Ward(w) => {
                if let EventKind::UplinkOutage { duration_ms } = ev.kind {
                    uplink_outages.entry(w).or_default().push(Window {
                        start_ms: at,
                        end_ms: until(Some(duration_ms)),
                    });
                }
                continue;
            }
            Target::Asset(a) => {
                if let EventKind::AssetWander { to } = ev.kind {
                    scheduled_wanders.entry(a).or_default().push((at, to));
                }
                continue;
            }
            Target::Staff(k) => {
                scheduled_duress.entry(k).or_default().push(at);
                continue;
            }
            Target::Fridge(f) => {
                if let EventKind::Fridge { fault, duration_ms } = ev.kind {
                    let w = Window {
                        start_ms: at,
                        end_ms: until(duration_ms),
                    };
                    let faults = &mut fridge_faults[f];
                    match fault {
                        FridgeFault::DoorOpen => scheduled_doors[f].push(w),
                        FridgeFault::CompressorFailure => faults.compressor.push(w),
                        FridgeFault::PowerOutage => faults.power.push(w),
                        FridgeFault::ProbeFailure => faults.probe.push(w),
                    }
                }
                continue;
            }
        };
        match &ev.kind {
            EventKind::Deterioration {
                condition,
                develop_ms,
                resolve_after_ms,
                severity,
            } => {
                let record = EpisodeRecord {
                    id: n as u32,
                    patient: patient_ix[&bed],
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
                    .entry(bed)
                    .or_default()
                    .push(Episode::new(record, *severity));
            }
            EventKind::Artifact {
                kind,
                device,
                duration_ms,
            } => {
                scheduled_artifacts
                    .entry((bed, *device))
                    .or_default()
                    .push(ArtifactWindow {
                        kind: *kind,
                        start_ms: at,
                        end_ms: (at + duration_ms).min(s.epoch_ms + s.duration_ms),
                    });
            }
            EventKind::Hypoglycaemia {
                develop_ms,
                resolve_after_ms,
                severity,
            } => hypos.entry(bed).or_default().push(Hypo {
                onset_ms: at,
                develop_ms: *develop_ms,
                treat_ms: at + resolve_after_ms,
                nadir_mmol: Hypo::nadir_for(*severity),
                origin: Origin::Scheduled,
            }),
            EventKind::PumpOcclusion { duration_ms } => {
                occlusions.entry(bed).or_default().push(Window {
                    start_ms: at,
                    end_ms: until(Some(*duration_ms)),
                })
            }
            EventKind::BedExit { duration_ms } => exits.entry(bed).or_default().push(Window {
                start_ms: at,
                end_ms: until(Some(*duration_ms)),
            }),
            EventKind::Fridge { .. }
            | EventKind::UplinkOutage { .. }
            | EventKind::AssetWander { .. }
            | EventKind::Duress => {}
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
        let diabetic = a.conditions.contains(&Condition::Diabetes);
        let scheduled_hypos = hypos.remove(&a.bed).unwrap_or_default();
        let cgm = device_ix(a.bed, DeviceKind::Cgm).is_some();
        if diabetic || cgm || !scheduled_hypos.is_empty() {
            let mut all = scheduled_hypos;
            // Random hypos for monitored diabetics only: an unmonitored patient's would be
            // invisible to any system under test (schedule one to have it anyway).
            if diabetic && cgm {
                all.extend(random_hypos(s, seed, &a.id));
            }
            all.sort_by_key(|h| h.onset_ms);
            let rng = stream(seed, &a.id, "glucose");
            e.insert(Glycaemia::new(ix, diabetic, rng, all));
        }
        let scheduled_exits = exits.remove(&a.bed).unwrap_or_default();
        if a.fall_risk || !scheduled_exits.is_empty() {
            let mut all = scheduled_exits;
            if a.fall_risk {
                all.extend(random_bed_exits(s, seed, &a.id));
            }
            let sensor = device_ix(a.bed, DeviceKind::BedExitSensor);
            e.insert(BedPresence::new(ix, sensor, all));
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
        let random = match d.owner {
            Owner::Bed(_) => draw_artifacts(s, seed, &d.id, d.kind),
            _ => Vec::new(),
        };
        let scheduled = d
            .bed()
            .and_then(|b| scheduled_artifacts.get(&(b, d.kind)))
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
        let subject = match d.owner {
            Owner::Bed(b) => patient_entity[&b],
            Owner::Fridge(f) => {
                let spec = &s.fridges[f];
                let mut faults = std::mem::take(&mut fridge_faults[f]);
                let random_doors = random_door_openings(s, seed, spec);
                for (w, origin) in random_doors
                    .iter()
                    .map(|w| (w, Origin::Random))
                    .chain(scheduled_doors[f].iter().map(|w| (w, Origin::Scheduled)))
                {
                    artifact_records.push(ArtifactRecord {
                        device: ix,
                        kind: ArtifactKind::DoorOpen,
                        start_ms: w.start_ms,
                        end_ms: w.end_ms,
                        origin,
                    });
                }
                faults.doors = random_doors;
                faults.doors.extend_from_slice(&scheduled_doors[f]);
                for list in [
                    &mut faults.doors,
                    &mut faults.compressor,
                    &mut faults.power,
                    &mut faults.probe,
                ] {
                    list.sort();
                }
                world
                    .spawn(Fridge::new(
                        spec.kind,
                        ix,
                        spec.room_c,
                        spec.ballast,
                        spec.defrost_every_ms,
                        faults,
                    ))
                    .id()
            }
            Owner::Gateway(w) => {
                let g = &s.gateways;
                let outages = uplink_outages.remove(&w).unwrap_or_default();
                world
                    .spawn(Gateway {
                        ward: w,
                        device: ix,
                        spool: std::collections::VecDeque::new(),
                        spool_limit: g.spool_limit,
                        policy: g.drop_policy,
                        forward_per_step:
                            ((g.forward_rate_per_s * s.step_ms as f64 / 1000.0).ceil() as usize)
                                .max(1),
                        outages: Window::merged(outages),
                        uplink_up: true,
                        dropped: 0,
                    })
                    .id()
            }
            Owner::Asset(a) => {
                let trips = asset_trips(s, seed, a, scheduled_wanders.remove(&a));
                world.spawn(asset_mover(s, seed, a, ix, trips)).id()
            }
            Owner::Staff(k) => {
                let presses = duress_presses(s, seed, k, scheduled_duress.remove(&k));
                world.spawn(staff_mover(s, seed, k, ix, presses)).id()
            }
        };
        let mut entity = world.spawn_empty();
        if d.kind == DeviceKind::InfusionPump {
            let bed = d.bed().expect("a pump is on a patient");
            let mut all = occlusions.remove(&bed).unwrap_or_default();
            all.extend(random_occlusions(s, seed, &d.id));
            entity.insert(Infusion::new(ix, stream(seed, &d.id, "infusion"), all));
        }
        entity.insert((
            Device {
                ix,
                kind: d.kind,
                subject,
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
    world.insert_resource(site);
    world.insert_resource(links);
    world.insert_resource(RtlsParams {
        mode: s.rtls.mode,
        truth_every: step.truth_every,
    });
    world.insert_resource(step);
    world.insert_resource(dir.clone());
    dir
}

/// An asset's trips over the run: used in a patient room (1-6 h), taken to another ward (2-8
/// h), taken out of the building (for good), and the scenario's `asset_wander`s (for good).
fn asset_trips(
    s: &Scenario,
    seed: u64,
    a: usize,
    scheduled: Option<Vec<(SimMillis, Option<usize>)>>,
) -> Vec<Trip> {
    let spec = &s.assets[a];
    let l = &s.layout;
    let mut rng = stream(seed, &spec.id, "trips");
    let rooms: Vec<usize> = l.of_kind(spec.ward, SpaceKind::Room).collect();
    let other_wards: Vec<usize> = (0..s.wards.len()).filter(|w| *w != spec.ward).collect();
    let exit = l.space_index("EXIT").expect("every layout has EXIT");
    let r = &s.rtls;
    let mut trips = Vec::new();
    for at in poisson_in_hours(s, &mut rng, r.moves_per_asset_day, (0.0, 24.0)) {
        if let Some(&to) = pick(&mut rng, &rooms) {
            let dwell = rng.random_range(HOUR_MS..=6 * HOUR_MS);
            trips.push(Trip {
                depart_ms: at,
                to,
                dwell_ms: Some(dwell),
            });
        }
    }
    for at in poisson_in_hours(s, &mut rng, r.wanders_per_asset_day, (0.0, 24.0)) {
        if let Some(&w) = pick(&mut rng, &other_wards) {
            let dwell = rng.random_range(2 * HOUR_MS..=8 * HOUR_MS);
            trips.push(Trip {
                depart_ms: at,
                to: base_of(s, w),
                dwell_ms: Some(dwell),
            });
        }
    }
    for at in poisson_in_hours(s, &mut rng, r.losses_per_asset_day, (0.0, 24.0)) {
        trips.push(Trip {
            depart_ms: at,
            to: exit,
            dwell_ms: None,
        });
    }
    for (at, to) in scheduled.unwrap_or_default() {
        let to = to.map_or(exit, |w| base_of(s, w));
        trips.push(Trip {
            depart_ms: at,
            to,
            dwell_ms: None,
        });
    }
    trips.sort();
    trips
}

fn pick<'a, T>(rng: &mut SimRng, v: &'a [T]) -> Option<&'a T> {
    (!v.is_empty()).then(|| &v[rng.random_range(0..v.len())])
}

/// Where a ward's equipment is kept: its first equipment room (else its station, else the
/// gateway's space).
fn base_of(s: &Scenario, ward: usize) -> usize {
    let l = &s.layout;
    l.of_kind(ward, SpaceKind::Equipment)
        .next()
        .or_else(|| l.of_kind(ward, SpaceKind::Station).next())
        .unwrap_or(l.gateways[ward].0)
}

/// A staff member's duress presses: random (`duress_per_staff_day`) and scheduled.
fn duress_presses(
    s: &Scenario,
    seed: u64,
    k: usize,
    scheduled: Option<Vec<SimMillis>>,
) -> Vec<SimMillis> {
    let mut rng = stream(seed, &s.staff[k].id, "duress");
    let mut v = poisson_in_hours(s, &mut rng, s.rtls.duress_per_staff_day, (0.0, 24.0));
    v.extend(scheduled.unwrap_or_default());
    v.sort();
    v
}

fn mover(
    s: &Scenario,
    role: Role,
    tag: DeviceIx,
    ward: usize,
    base: usize,
    mut rng: SimRng,
    speed_m_s: f64,
) -> Mover {
    let r = s.layout.spaces[base].rect;
    let pos = r.at(rng.random_range(0.2..0.8), rng.random_range(0.2..0.8));
    Mover {
        role,
        tag,
        ward,
        base,
        space: base,
        pos,
        speed_m_s,
        route: std::collections::VecDeque::new(),
        target: pos,
        on_arrival: Arrival::Wait(0),
        busy_until: s.epoch_ms,
        stays: false,
        trips: std::collections::VecDeque::new(),
        itinerary: std::collections::VecDeque::new(),
        next_round_ms: s.epoch_ms,
        duress: false,
        duress_changed_ms: SimMillis::MIN,
        presses: std::collections::VecDeque::new(),
        answering: None,
        security_at: None,
        out_of_zone: false,
        uncovered_since: None,
        rng,
        spells: Spells::new(tag),
    }
}

fn asset_mover(s: &Scenario, seed: u64, a: usize, tag: DeviceIx, trips: Vec<Trip>) -> Mover {
    let spec = &s.assets[a];
    let role = Role::Asset {
        permitted: spec.permitted_zones.clone(),
    };
    let rng = stream(seed, &spec.id, "moves");
    let mut m = mover(
        s,
        role,
        tag,
        spec.ward,
        base_of(s, spec.ward),
        rng,
        crate::rtls::ASSET_SPEED_M_S,
    );
    m.trips = trips.into();
    m
}

fn staff_mover(s: &Scenario, seed: u64, k: usize, tag: DeviceIx, presses: Vec<SimMillis>) -> Mover {
    let spec = &s.staff[k];
    let l = &s.layout;
    let mates: Vec<usize> = (0..s.staff.len())
        .filter(|j| s.staff[*j].ward == spec.ward)
        .collect();
    let me = mates.iter().position(|j| *j == k).unwrap_or(0);
    let rooms: Vec<usize> = l
        .of_kind(spec.ward, SpaceKind::Room)
        .enumerate()
        .filter(|(i, _)| i % mates.len().max(1) == me)
        .map(|(_, r)| r)
        .collect();
    let base = l
        .of_kind(spec.ward, SpaceKind::Station)
        .next()
        .unwrap_or(l.gateways[spec.ward].0);
    let mut rng = stream(seed, &spec.id, "moves");
    let first_round = s.epoch_ms + rng.random_range(0..=60 * MINUTE_MS);
    let mut m = mover(
        s,
        Role::Staff { rooms },
        tag,
        spec.ward,
        base,
        rng,
        crate::rtls::STAFF_SPEED_M_S,
    );
    m.next_round_ms = first_round;
    m.presses = presses.into();
    m
}
