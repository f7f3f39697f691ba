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
    Acuity, Condition, EventKind, FridgeFault, Only, Scenario, SpaceKind, Target,
};
use wardtwin_sim::news2::{Acvpu, Spo2Scale};
use wardtwin_sim::records::{
    ArtifactKind, ArtifactRecord, BedIx, DeviceIx, DeviceKind, EpisodeRecord, Origin, PatientIx,
};
use wardtwin_sim::rng::{SimRng, stream};
use wardtwin_sim::time::{MINUTE_MS, SimMillis};
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
use crate::schedule;

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
            let random = diabetic && cgm;
            if random {
                all.extend(
                    schedule::first_days(s).flat_map(|d| schedule::hypos(s, seed, &a.id, d)),
                );
            }
            all.sort_by_key(|h| h.onset_ms);
            let rng = stream(seed, &a.id, "glucose");
            let mut g = Glycaemia::new(ix, diabetic, rng, all);
            g.random_hypos = random;
            e.insert(g);
        }
        let scheduled_exits = exits.remove(&a.bed).unwrap_or_default();
        if a.fall_risk || !scheduled_exits.is_empty() {
            let mut all = scheduled_exits;
            if a.fall_risk {
                all.extend(
                    schedule::first_days(s).flat_map(|d| schedule::bed_exits(s, seed, &a.id, d)),
                );
            }
            let sensor = device_ix(a.bed, DeviceKind::BedExitSensor);
            let mut b = BedPresence::new(ix, sensor, all);
            b.random_exits = a.fall_risk;
            e.insert(b);
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
        let random: Vec<ArtifactWindow> = match d.owner {
            Owner::Bed(_) => schedule::first_days(s)
                .flat_map(|day| schedule::artifacts(s, seed, &d.id, d.kind, day))
                .collect(),
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
                let random_doors: Vec<Window> = schedule::first_days(s)
                    .flat_map(|day| schedule::door_openings(s, seed, spec, day))
                    .collect();
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
                    .spawn((
                        Fridge::new(
                            spec.kind,
                            ix,
                            spec.room_c,
                            spec.ballast,
                            spec.defrost_every_ms,
                            faults,
                        ),
                        schedule::SpecIx(f),
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
                world
                    .spawn((asset_mover(s, seed, a, ix, trips), schedule::SpecIx(a)))
                    .id()
            }
            Owner::Staff(k) => {
                let presses = duress_presses(s, seed, k, scheduled_duress.remove(&k));
                world
                    .spawn((staff_mover(s, seed, k, ix, presses), schedule::SpecIx(k)))
                    .id()
            }
        };
        let mut entity = world.spawn_empty();
        if d.kind == DeviceKind::InfusionPump {
            let bed = d.bed().expect("a pump is on a patient");
            let mut all = occlusions.remove(&bed).unwrap_or_default();
            all.extend(
                schedule::first_days(s).flat_map(|day| schedule::occlusions(s, seed, &d.id, day)),
            );
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
    world.insert_resource(schedule::Plan {
        scenario: std::sync::Arc::new(s.clone()),
        seed,
    });
    dir
}

/// An asset's trips of the first days (the rest are drawn a day ahead, [`crate::schedule`]) and
/// the scenario's `asset_wander`s (for good).
fn asset_trips(
    s: &Scenario,
    seed: u64,
    a: usize,
    scheduled: Option<Vec<(SimMillis, Option<usize>)>>,
) -> Vec<Trip> {
    let exit = s.layout.space_index("EXIT").expect("every layout has EXIT");
    let mut trips: Vec<Trip> = schedule::first_days(s)
        .flat_map(|day| schedule::trips(s, seed, a, day))
        .collect();
    for (at, to) in scheduled.unwrap_or_default() {
        let to = to.map_or(exit, |w| schedule::base_of(s, w));
        trips.push(Trip {
            depart_ms: at,
            to,
            dwell_ms: None,
        });
    }
    trips.sort();
    trips
}

/// A staff member's duress presses: random (`duress_per_staff_day`, the first days) and
/// scheduled.
fn duress_presses(
    s: &Scenario,
    seed: u64,
    k: usize,
    scheduled: Option<Vec<SimMillis>>,
) -> Vec<SimMillis> {
    let mut v: Vec<SimMillis> = schedule::first_days(s)
        .flat_map(|day| schedule::presses(s, seed, k, day))
        .collect();
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
        schedule::base_of(s, spec.ward),
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
