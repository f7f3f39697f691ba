//! The ward: turns a [`Scenario`] into a world of patients and devices.
//!
//! Everything drawn here comes from streams keyed by stable ids (bed, patient, device), so the
//! patient in bed W1-07 is the same person whatever else the scenario holds, and adding a
//! device does not change another device's numbers.

use std::collections::BTreeMap;

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use wardtwin_scenarios::{Acuity, Condition, EventKind, FridgeFault, Only, Scenario, Target};
use wardtwin_sim::news2::Spo2Scale;
use wardtwin_sim::records::{
    BedIx, DeviceIx, DeviceKind, EpisodeRecord, Origin, PatientIx, Rhythm, RhythmOrigin,
    RhythmRecord,
};
use wardtwin_sim::rng::{SimRng, stream};
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{
    ArtifactRecorded, BedInfo, DeviceInfo, Directory, PatientInfo, ReceiverInfo, SpaceInfo,
};

use crate::Window;
use crate::coldchain::Faults;
use crate::coldchain::spawn::spawn_fridge;
use crate::device::ArtifactWindow;
use crate::device::spawn::{DeviceSpec, spawn_device};
use crate::faults::gaps::{DeliveryGaps, Watched};
use crate::faults::{DeviceFaults, PlanDevice};
use crate::gateway::{DeviceLink, Link, Links, Site, spawn_gateway};
use crate::patient::glucose::Hypo;
use crate::patient::params::{
    COPD_ON_OXYGEN, COPD_SCALE_2, RANDOM_KINDS, RANDOM_RELAPSE, RANDOM_RELAPSE_AFTER_MS,
    RANDOM_TREAT_AFTER_MS, RANDOM_TREATED, RELAPSE_DEVELOP, RELAPSE_SEVERITY,
};
use crate::patient::phenotype::{self, Pins};
use crate::patient::rhythm::{self, HeartRhythm, Spell};
use crate::patient::spawn::{PatientPlan, spawn_patient};
use crate::patient::{Episode, PhysiologyStep};
use crate::rtls::RtlsParams;
use crate::rtls::spawn::{asset_mover, asset_trips, duress_presses, staff_mover};
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

/// A relapse of `first` (the same illness again, a little milder and faster, treated after the
/// same delay), beginning `after_ms` after its treatment began.
fn relapse_of(
    rng: &mut SimRng,
    first: &EpisodeRecord,
    phenotype: &phenotype::Phenotype,
    treat_ms: i64,
    after_ms: i64,
    id: u32,
) -> Episode {
    let onset = first.onset_ms + treat_ms + after_ms;
    let sev = schedule::uniform(rng, RELAPSE_SEVERITY);
    let dev = ((first.develop_ms as f64) * schedule::uniform(rng, RELAPSE_DEVELOP)) as i64;
    let pins = Pins {
        develop_ms: Some(dev.max(60_000)),
        severity: Some(phenotype.severity * sev),
        variant: Some(phenotype.variant),
        recovery: None,
    };
    let (develop_ms, again) = phenotype::draw(rng, first.kind, true, pins);
    let record = EpisodeRecord {
        id,
        onset_ms: onset,
        develop_ms,
        resolve_ms: Some(onset + treat_ms),
        relapse_of: Some(first.id),
        ..*first
    };
    Episode::new(record, again)
}

/// The spells a rhythm event starts at `at`: the rhythm for its duration, and with `arrest`
/// what it degenerates into (VT into VF, VF into asystole, which lasts). Rates not given are
/// drawn from `rng` (the event's own stream).
#[allow(clippy::too_many_arguments)]
fn rhythm_spells(
    s: &Scenario,
    rng: &mut SimRng,
    patient: PatientIx,
    at: SimMillis,
    rhythm: Rhythm,
    duration_ms: Option<i64>,
    rate: Option<f64>,
    arrest: bool,
    next_id: &mut u32,
) -> Vec<Spell> {
    let drawn = match rhythm {
        Rhythm::VentricularTachycardia => schedule::uniform(rng, rhythm::VT_RATE),
        Rhythm::AtrialFibrillation => schedule::uniform(rng, rhythm::AF_RATE),
        // A 2:1 block halves the sinus rate as it goes.
        _ => 0.0,
    };
    let mut out = Vec::new();
    let mut push = |r: Rhythm, onset: SimMillis, end: Option<SimMillis>, rate: f64, follows| {
        let id = *next_id;
        *next_id += 1;
        let record = RhythmRecord {
            id,
            patient,
            rhythm: r,
            onset_ms: onset,
            end_ms: end,
            rate: rate as f32,
            origin: RhythmOrigin::Scheduled,
            follows,
        };
        out.push(Spell::on_grid(record, s.epoch_ms, s.step_ms));
        id
    };
    let end = duration_ms.map(|d| at + d);
    if arrest && rhythm == Rhythm::Asystole {
        push(rhythm, at, None, 0.0, None);
        return out;
    }
    let first = push(rhythm, at, end, rate.unwrap_or(drawn), None);
    if let (true, Some(end)) = (arrest, end) {
        if rhythm == Rhythm::VentricularTachycardia {
            // VF for a few minutes, then asystole.
            let vf = push(
                Rhythm::VentricularFibrillation,
                end,
                Some(end + 4 * 60_000),
                0.0,
                Some(first),
            );
            push(Rhythm::Asystole, end + 4 * 60_000, None, 0.0, Some(vf));
        } else {
            push(Rhythm::Asystole, end, None, 0.0, Some(first));
        }
    }
    out
}

/// A random deterioration beginning at `onset` (and its relapse, if it draws one): its kind,
/// whether and when it is treated, and its phenotype all drawn ([`RANDOM_KINDS`] and the rest).
fn random_episode(
    rng: &mut SimRng,
    patient: PatientIx,
    onset: SimMillis,
    next_id: &mut u32,
) -> Vec<Episode> {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    let kind = RANDOM_KINDS
        .iter()
        .find(|(_, share)| {
            acc += share;
            u < acc
        })
        .map_or(RANDOM_KINDS[0].0, |k| k.0);
    let treated = rng.random::<f64>() < RANDOM_TREATED;
    let treat_ms = rng.random_range(RANDOM_TREAT_AFTER_MS.0..=RANDOM_TREAT_AFTER_MS.1);
    let relapses = rng.random::<f64>() < RANDOM_RELAPSE;
    let relapse_ms = rng.random_range(RANDOM_RELAPSE_AFTER_MS.0..=RANDOM_RELAPSE_AFTER_MS.1);
    let (develop_ms, phenotype) = phenotype::draw(rng, kind, treated, Pins::default());
    let record = EpisodeRecord {
        id: *next_id,
        patient,
        kind,
        onset_ms: onset,
        develop_ms,
        news2_ge5_ms: None,
        news2_ge7_ms: None,
        peak_news2: 0,
        resolve_ms: treated.then_some(onset + treat_ms),
        end_ms: None,
        severity: 1.0,
        variant: phenotype.variant,
        recovery: None,
        relapse_of: None,
    };
    *next_id += 1;
    let first = Episode::new(record, phenotype);
    let mut out = vec![first.clone()];
    if treated && relapses {
        out.push(relapse_of(
            rng,
            &first.record,
            &phenotype,
            treat_ms,
            relapse_ms,
            *next_id,
        ));
        *next_id += 1;
    }
    out
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
        // Own stream: charting COPD on scale 1 or 2 changed no other draw.
        let scale_2 = stream(seed, &bed.id, "spo2_scale").random::<f64>() < COPD_SCALE_2;
        let copd_oxygen = stream(seed, &bed.id, "copd_oxygen").random::<f64>() < COPD_ON_OXYGEN;
        let scale = match spec.spo2_scale {
            Some(2) => Spo2Scale::Scale2,
            Some(_) => Spo2Scale::Scale1,
            None if copd && scale_2 => Spo2Scale::Scale2,
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
            on_oxygen: spec.oxygen.unwrap_or(oxygen_draw || (copd && copd_oxygen)),
            scale,
            kit: spec.kit.clone().unwrap_or_else(|| pop.kit.clone()),
        });
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
    /// Readings it keeps on board while nobody hears it.
    buffer: usize,
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
                buffer: d
                    .buffer
                    .unwrap_or_else(|| crate::device::params::onboard_buffer(d.kind)),
            });
        }
    }
    let mut add = |owner, kind: DeviceKind, of: &str, interval_ms| {
        drafts.push(DeviceDraft {
            id: format!("{}-{of}", kind.id_prefix()),
            kind,
            interval_ms,
            owner,
            buffer: crate::device::params::onboard_buffer(kind),
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

/// Which twin kinds a run has: a kind whose plugin is off is not spawned, and is not in the
/// directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds {
    /// Patients, and the devices they wear.
    pub patients: bool,
    /// Every device. Fridges, gateways and RTLS movers are known through their devices
    /// (loggers, gateway self-reports, tags) and go with them.
    pub devices: bool,
    pub fridges: bool,
    pub gateways: bool,
    pub rtls: bool,
}

impl Kinds {
    pub const ALL: Kinds = Kinds {
        patients: true,
        devices: true,
        fridges: true,
        gateways: true,
        rtls: true,
    };

    /// The kinds whose plugins `app` has.
    pub fn of(app: &bevy_app::App) -> Kinds {
        Kinds {
            patients: app.is_plugin_added::<crate::PatientPlugin>(),
            devices: app.is_plugin_added::<crate::DevicePlugin>(),
            fridges: app.is_plugin_added::<crate::ColdChainPlugin>(),
            gateways: app.is_plugin_added::<crate::GatewayPlugin>(),
            rtls: app.is_plugin_added::<crate::RtlsPlugin>(),
        }
    }

    /// Whether a device on `owner` is spawned.
    fn spawns(&self, owner: Owner) -> bool {
        self.devices
            && match owner {
                Owner::Bed(_) => self.patients,
                Owner::Fridge(_) => self.fridges,
                Owner::Gateway(_) => self.gateways,
                Owner::Asset(_) | Owner::Staff(_) => self.rtls,
            }
    }
}

pub fn spawn(world: &mut World, s: &Scenario, seed: u64, kinds: Kinds) -> Directory {
    let admissions = if kinds.patients {
        admissions(s, seed)
    } else {
        Vec::new()
    };
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
    let mut drafts = device_drafts(s, seed, &admissions);
    drafts.retain(|d| kinds.spawns(d.owner));
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
    let by_bed: BTreeMap<(usize, DeviceKind), DeviceIx> = drafts
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some(((d.bed()?, d.kind), DeviceIx(i as u32))))
        .collect();
    let device_ix = |bed: usize, kind: DeviceKind| by_bed.get(&(bed, kind)).copied();
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
        links.devices.push(DeviceLink {
            link,
            rng: stream(seed, &d.id, "radio"),
            buffer_cap: d.buffer,
            buffer: std::collections::VecDeque::new(),
            away: Vec::new(),
        });
    }

    let mut step = PhysiologyStep::new(s.step_ms, s.site.utc_offset_hours, s.truth_interval_ms);
    step.patients = admissions.len();
    // Patients, with their episodes (numbered in timeline order).
    let mut episodes: BTreeMap<usize, Vec<Episode>> = BTreeMap::new();
    let mut relapses = 0usize;
    let mut spells: BTreeMap<usize, Vec<Spell>> = BTreeMap::new();
    let mut ectopy: BTreeMap<usize, Vec<(Window, f64)>> = BTreeMap::new();
    let mut next_spell = 0u32;
    let admissions_by_bed: BTreeMap<usize, &Admission> =
        admissions.iter().map(|a| (a.bed, a)).collect();
    let mut scheduled_artifacts: BTreeMap<(usize, DeviceKind), Vec<ArtifactWindow>> =
        BTreeMap::new();
    let mut hypos: BTreeMap<usize, Vec<Hypo>> = BTreeMap::new();
    let mut exits: BTreeMap<usize, Vec<Window>> = BTreeMap::new();
    let mut occlusions: BTreeMap<usize, Vec<Window>> = BTreeMap::new();
    let mut fridge_faults: Vec<Faults> = vec![Faults::default(); s.fridges.len()];
    let mut scheduled_doors: Vec<Vec<Window>> = vec![Vec::new(); s.fridges.len()];
    let mut scheduled_wanders: BTreeMap<usize, Vec<(SimMillis, Option<usize>)>> = BTreeMap::new();
    let mut scheduled_duress: BTreeMap<usize, Vec<SimMillis>> = BTreeMap::new();
    let end_ms = s.epoch_ms + s.duration_ms;
    for (n, ev) in s.events.iter().enumerate() {
        let at = s.epoch_ms + ev.at_ms;
        let until = |d: Option<i64>| d.map_or(end_ms, |d| (at + d).min(end_ms));
        let bed = match ev.target {
            Target::Bed(b) => b,
            // Faults of a ward's network and devices, and of the broker: `faults::plan`.
            Target::Ward(_) | Target::Site => continue,
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
                variant,
                recovery,
                relapse_after_ms,
            } => {
                let pins = Pins {
                    develop_ms: *develop_ms,
                    severity: *severity,
                    variant: *variant,
                    recovery: *recovery,
                };
                let patient = patient_ix[&bed];
                let pid = &admissions_by_bed[&bed].id;
                let mut rng = stream(seed, pid, &format!("episode-{n}"));
                let treated = resolve_after_ms.is_some();
                let (develop_ms, phenotype) = phenotype::draw(&mut rng, *condition, treated, pins);
                let record = EpisodeRecord {
                    id: n as u32,
                    patient,
                    kind: *condition,
                    onset_ms: at,
                    develop_ms,
                    news2_ge5_ms: None,
                    news2_ge7_ms: None,
                    peak_news2: 0,
                    resolve_ms: resolve_after_ms.map(|r| at + r),
                    end_ms: None,
                    severity: 1.0,
                    variant: phenotype.variant,
                    recovery: None,
                    relapse_of: None,
                };
                let list = episodes.entry(bed).or_default();
                list.push(Episode::new(record, phenotype));
                // A pinned relapse, numbered after every event of the timeline.
                if let (Some(relapse), Some(treat)) = (relapse_after_ms, resolve_after_ms) {
                    let id = (s.events.len() + relapses) as u32;
                    relapses += 1;
                    let again = relapse_of(&mut rng, &record, &phenotype, *treat, *relapse, id);
                    list.push(again);
                }
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
            EventKind::Rhythm {
                rhythm,
                duration_ms,
                rate,
                arrest,
            } => {
                let mut rng = stream(seed, &format!("event-{n}"), "rhythm");
                let chain = rhythm_spells(
                    s,
                    &mut rng,
                    patient_ix[&bed],
                    at,
                    *rhythm,
                    *duration_ms,
                    *rate,
                    *arrest,
                    &mut next_spell,
                );
                spells.entry(bed).or_default().extend(chain);
            }
            EventKind::Ectopy {
                per_min,
                duration_ms,
            } => ectopy.entry(bed).or_default().push((
                Window {
                    start_ms: at,
                    end_ms: until(Some(*duration_ms)),
                },
                *per_min,
            )),
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
            // Faults: `faults::plan`.
            EventKind::Fridge { .. }
            | EventKind::UplinkOutage { .. }
            | EventKind::UplinkFlapping { .. }
            | EventKind::UplinkDegraded { .. }
            | EventKind::BrokerDown { .. }
            | EventKind::RadioInterference { .. }
            | EventKind::OutOfCoverage { .. }
            | EventKind::WifiOutage { .. }
            | EventKind::GatewayDown { .. }
            | EventKind::BatteryWave { .. }
            | EventKind::ClockStep { .. }
            | EventKind::ClockDrift { .. }
            | EventKind::AssetWander { .. }
            | EventKind::Duress => {}
        }
    }
    // Random deteriorations (`[incidents] deteriorations_per_patient_day`), numbered after the
    // timeline's events and relapses, patient by patient in bed order.
    let rate = s.incidents.deteriorations_per_patient_day;
    if rate > 0.0 {
        let mut next_id = (s.events.len() + relapses) as u32;
        for a in &admissions {
            for day in 0..schedule::days(s) {
                let mut rng = schedule::day_stream(seed, &a.id, "deteriorations", day);
                for onset in schedule::poisson_in_day(s, &mut rng, rate, (0.0, 24.0), day) {
                    let drawn = random_episode(&mut rng, patient_ix[&a.bed], onset, &mut next_id);
                    episodes.entry(a.bed).or_default().extend(drawn);
                }
            }
        }
    }
    // Random paroxysms of AF (`[incidents] paroxysmal_af_per_patient_day`), numbered after the
    // timeline's spells; then each permanent AF, present from the start.
    let af_rate = s.incidents.paroxysmal_af_per_patient_day;
    for a in &admissions {
        if af_rate <= 0.0 || a.conditions.contains(&Condition::AtrialFibrillation) {
            continue;
        }
        for day in 0..schedule::days(s) {
            let mut rng = schedule::day_stream(seed, &a.id, "paroxysmal_af", day);
            for onset in schedule::poisson_in_day(s, &mut rng, af_rate, (0.0, 24.0), day) {
                let len = schedule::exp_duration(&mut rng, rhythm::AF_MEAN_MS, rhythm::AF_RANGE_MS);
                let rate = schedule::uniform(&mut rng, rhythm::AF_RATE);
                let record = RhythmRecord {
                    id: next_spell,
                    patient: patient_ix[&a.bed],
                    rhythm: Rhythm::AtrialFibrillation,
                    onset_ms: onset,
                    end_ms: Some(onset + len),
                    rate: rate as f32,
                    origin: RhythmOrigin::Random,
                    follows: None,
                };
                next_spell += 1;
                let spell = Spell::on_grid(record, s.epoch_ms, s.step_ms);
                spells.entry(a.bed).or_default().push(spell);
            }
        }
    }
    let mut hearts: BTreeMap<usize, HeartRhythm> = BTreeMap::new();
    let mut chronic_spells: BTreeMap<usize, u32> = BTreeMap::new();
    for a in &admissions {
        let chronic = a.conditions.contains(&Condition::AtrialFibrillation);
        let list = spells.remove(&a.bed).unwrap_or_default();
        // Permanent AF is a spell from the start, numbered last; the patient's physiology
        // carries it (no rhythm component needed for it alone, so such a ward steps as fast).
        if chronic {
            chronic_spells.insert(a.bed, next_spell);
            next_spell += 1;
        }
        // A patient has a heart-rhythm component when the scenario gives them a spell or a
        // burst, or has random paroxysms (a scenario without rhythms steps as it did).
        let bursts = ectopy.remove(&a.bed).unwrap_or_default();
        if list.is_empty() && bursts.is_empty() && af_rate <= 0.0 {
            continue;
        }
        let mut rng = stream(seed, &a.id, "rhythm");
        let mut h = HeartRhythm::new(stream(seed, &a.id, "rhythm-scatter"), list, chronic);
        if rng.random::<f64>() < rhythm::PVC_SHARE {
            h.pvc_per_min = schedule::uniform(&mut rng, rhythm::PVC_RATE);
        }
        if rng.random::<f64>() < rhythm::PAC_SHARE {
            h.pac_per_min = schedule::uniform(&mut rng, rhythm::PAC_RATE);
        }
        h.ectopy = bursts;
        hearts.insert(a.bed, h);
    }
    let mut patient_entity = BTreeMap::new();
    for a in &admissions {
        let plan = PatientPlan {
            heart: hearts.remove(&a.bed),
            chronic_af: chronic_spells.get(&a.bed).copied(),
            episodes: episodes.remove(&a.bed),
            hypos: hypos.remove(&a.bed).unwrap_or_default(),
            exits: exits.remove(&a.bed).unwrap_or_default(),
            cgm: device_ix(a.bed, DeviceKind::Cgm).is_some(),
            bed_exit_sensor: device_ix(a.bed, DeviceKind::BedExitSensor),
        };
        let e = spawn_patient(world, s, seed, a, patient_ix[&a.bed], plan);
        patient_entity.insert(a.bed, e);
    }
    // Devices, each with its subject (a patient, or the fridge, gateway or mover it is on).
    let plan_devices: Vec<PlanDevice> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| PlanDevice {
            ix: DeviceIx(i as u32),
            id: &d.id,
            kind: d.kind,
            ward: d.ward(s),
            bed: d.bed(),
        })
        .collect();
    let mut faults = crate::faults::plan(s, seed, &plan_devices);
    let mut artifact_records = Vec::new();
    for (i, d) in drafts.iter().enumerate() {
        let ix = DeviceIx(i as u32);
        let subject = match d.owner {
            Owner::Bed(b) => patient_entity[&b],
            Owner::Fridge(f) => spawn_fridge(
                world,
                s,
                seed,
                f,
                ix,
                std::mem::take(&mut fridge_faults[f]),
                &scheduled_doors[f],
                &mut artifact_records,
            ),
            Owner::Gateway(w) => {
                spawn_gateway(world, s, w, ix, std::mem::take(&mut faults.wards[w]))
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
        let bed = d.bed();
        let draft = DeviceSpec {
            ix,
            id: &d.id,
            kind: d.kind,
            interval_ms: d.interval_ms,
            worn: bed.is_some(),
        };
        let scheduled = bed
            .and_then(|b| scheduled_artifacts.get(&(b, d.kind)))
            .map_or(&[][..], Vec::as_slice);
        let occluded = match (d.kind, bed) {
            (DeviceKind::InfusionPump, Some(b)) => Some(occlusions.remove(&b).unwrap_or_default()),
            _ => None,
        };
        spawn_device(
            world,
            s,
            seed,
            &draft,
            subject,
            scheduled,
            occluded,
            &mut artifact_records,
        );
    }
    world.write_message_batch(artifact_records.into_iter().map(ArtifactRecorded));
    apply_device_faults(world, &faults.devices, &mut links);
    world.insert_resource(faults.plan);
    world.insert_resource(delivery_gaps(s, &drafts));
    world.insert_resource(site);
    world.insert_resource(links);
    world.insert_resource(RtlsParams {
        mode: s.rtls.mode,
        truth_every: step.truth_every,
    });
    world.insert_resource(step);
    world.insert_resource(dir.clone());
    world.insert_resource(crate::chart::Compliance(s.chart));
    world.insert_resource(schedule::Plan {
        scenario: std::sync::Arc::new(s.clone()),
        seed,
    });
    dir
}

/// Battery waves, clock steps and trips out of coverage, on the devices they hit.
fn apply_device_faults(
    world: &mut World,
    faults: &BTreeMap<DeviceIx, DeviceFaults>,
    links: &mut Links,
) {
    if faults.is_empty() {
        return;
    }
    for (ix, f) in faults {
        if let Some(l) = links.devices.get_mut(ix.0 as usize) {
            l.away = Window::merged(f.away.clone());
        }
    }
    let mut q = world.query::<(&mut crate::device::Device, &mut crate::device::Battery)>();
    for (mut d, mut b) in q.iter_mut(world) {
        if let Some(f) = faults.get(&d.ix) {
            b.flat_at_ms = f.flat_at_ms;
            d.clock_steps = f.clock_steps.clone();
            d.clock_drifts = f.clock_drifts.clone();
        }
    }
}

/// The gap ledger: every device but the RTLS tags, with its allowance and its ward's gateway.
fn delivery_gaps(s: &Scenario, drafts: &[DeviceDraft]) -> DeliveryGaps {
    let gateway_of: BTreeMap<usize, DeviceIx> = drafts
        .iter()
        .enumerate()
        .filter(|(_, d)| d.kind == DeviceKind::EdgeGateway)
        .map(|(i, d)| (d.ward(s), DeviceIx(i as u32)))
        .collect();
    let tag = |d: &DeviceDraft| matches!(d.kind, DeviceKind::AssetTag | DeviceKind::StaffBadge);
    // A ward is silent once nothing has come from it for its fastest device's allowance.
    let mut fastest: BTreeMap<usize, i64> = BTreeMap::new();
    for d in drafts.iter().filter(|d| !tag(d)) {
        let f = fastest.entry(d.ward(s)).or_insert(d.interval_ms);
        *f = (*f).min(d.interval_ms);
    }
    let watched = drafts
        .iter()
        .map(|d| {
            if tag(d) {
                return None;
            }
            let ward = d.ward(s);
            let is_gateway = d.kind == DeviceKind::EdgeGateway;
            let interval = if is_gateway {
                fastest.get(&ward).copied().unwrap_or(d.interval_ms)
            } else {
                d.interval_ms
            };
            Some(Watched {
                allowed_ms: DeliveryGaps::allowance(interval),
                gateway: *gateway_of.get(&ward)?,
                is_gateway,
            })
        })
        .collect();
    DeliveryGaps::new(watched, s.epoch_ms)
}
