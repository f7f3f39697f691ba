//! Device systems: drain batteries, then sample and emit.

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use wardtwin_sim::conditions::{
    ConditionClass, ConditionRecord, Severity, Subject, monitoring_lost_after,
};
use wardtwin_sim::records::DeviceIx;
use wardtwin_sim::records::{
    ArtifactKind, DeviceEvent, DeviceEventKind, DeviceKind, MAX_OBS, Metric, NO_SOURCE, ObsStatus,
    Observation, Reading,
};
use wardtwin_sim::records::{ArtifactRecord, Origin};
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{
    ArtifactRecorded, ConditionRecorded, DeviceEventOccurred, Directory, ReadingEmitted, SimClock,
};

use crate::schedule::{self, Plan};

use super::infusion::{Infusion, PumpState};
use super::params::{self, LOW_BATTERY_PCT};
use super::{Battery, Device};
use crate::coldchain::Fridge;
use crate::gateway::{Gateway, Site};
use crate::patient::TrueVitals;
use crate::patient::glucose::Glycaemia;
use crate::patient::mobility::BedPresence;
use crate::patient::params as vitals;
use crate::rtls::{Mover, RtlsParams};

fn technical(
    class: ConditionClass,
    severity: Severity,
    device: DeviceIx,
    onset_ms: SimMillis,
    end_ms: Option<SimMillis>,
) -> ConditionRecorded {
    ConditionRecorded(ConditionRecord {
        class,
        severity,
        subject: Subject::Device(device),
        onset_ms,
        end_ms,
        transient: false,
    })
}

/// Drains every battery by one step; reports low battery and depletion once each, and the
/// low-battery condition when the battery is empty.
pub(super) fn drain_batteries(
    clock: Res<SimClock>,
    mut q: Query<(&Device, &mut Battery)>,
    mut events: MessageWriter<DeviceEventOccurred>,
    mut conditions: MessageWriter<ConditionRecorded>,
) {
    let step = clock.step_ms() as f64;
    let now = clock.now_ms();
    for (device, mut b) in &mut q {
        if b.depleted {
            continue;
        }
        b.pct = (b.pct - b.drain_per_ms * step).max(0.0);
        if b.pct <= LOW_BATTERY_PCT && b.low_since_ms.is_none() {
            b.low_since_ms = Some(now);
            events.write(DeviceEventOccurred(DeviceEvent {
                device: device.ix,
                sim_ms: now,
                device_ms: now,
                battery_pct: None,
                kind: DeviceEventKind::BatteryLow,
            }));
        }
        if b.pct <= 0.0 {
            b.depleted = true;
            events.write(DeviceEventOccurred(DeviceEvent {
                device: device.ix,
                sim_ms: now,
                device_ms: now,
                battery_pct: None,
                kind: DeviceEventKind::BatteryDepleted,
            }));
            let low = b.low_since_ms.unwrap_or(now);
            conditions.write(technical(
                ConditionClass::LowBattery,
                Severity::Low,
                device.ix,
                low,
                Some(now),
            ));
        }
    }
}

/// When a day begins, draws the next day's random artifacts of every worn device (recorded as
/// they are drawn) and the occlusions of every pump ([`crate::schedule`]).
pub(crate) fn plan_devices(
    clock: Res<SimClock>,
    plan: Res<Plan>,
    dir: Res<Directory>,
    mut q: Query<(&mut Device, Option<&mut Infusion>)>,
    mut records: MessageWriter<ArtifactRecorded>,
) {
    let Some(day) = schedule::day_to_draw(&clock) else {
        return;
    };
    let (s, seed, now) = (&*plan.scenario, plan.seed, clock.now_ms());
    for (mut d, inf) in &mut q {
        let info = dir.device(d.ix);
        if info.bed.is_some() {
            let new = schedule::artifacts(s, seed, &info.id, d.kind, day);
            let ix = d.ix;
            records.write_batch(new.iter().map(|w| {
                ArtifactRecorded(ArtifactRecord {
                    device: ix,
                    kind: w.kind,
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                    origin: Origin::Random,
                })
            }));
            d.plan_artifacts(now, &new);
        }
        if let Some(mut inf) = inf {
            inf.plan(schedule::occlusions(s, seed, &info.id, day));
        }
    }
}

/// Stamps each device event of the tick with the device's own clock and its battery at that
/// moment, so that a status message about the event reports the event's time and battery (not
/// those of the device's last reading, up to an interval earlier).
pub(super) fn stamp_device_events(
    clock: Res<SimClock>,
    mut events: MessageMutator<DeviceEventOccurred>,
    devices: Query<(Entity, &Device, Option<&Battery>)>,
    mut by_ix: Local<Vec<Option<Entity>>>,
) {
    let epoch = clock.epoch_ms();
    for DeviceEventOccurred(e) in events.read() {
        let ix = e.device.0 as usize;
        if by_ix.get(ix).copied().flatten().is_none() {
            // Devices are spawned before the first tick; index them once.
            by_ix.clear();
            for (ent, d, _) in &devices {
                let i = d.ix.0 as usize;
                if by_ix.len() <= i {
                    by_ix.resize(i + 1, None);
                }
                by_ix[i] = Some(ent);
            }
        }
        let Some((_, d, b)) = by_ix
            .get(ix)
            .copied()
            .flatten()
            .and_then(|ent| devices.get(ent).ok())
        else {
            continue;
        };
        e.device_ms = d.device_time(e.sim_ms, epoch);
        e.battery_pct = b.map(|b| b.pct as f32);
    }
}

fn uniform(rng: &mut impl RngExt, (lo, hi): (f64, f64)) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

fn quantise(m: &params::Measurement, v: f64) -> f64 {
    ((v / m.resolution).round() * m.resolution).clamp(m.min, m.max)
}

/// The truth a metric measures.
fn true_value(metric: Metric, tv: &TrueVitals) -> f64 {
    match metric {
        Metric::HeartRate | Metric::PulseRate => tv.v[vitals::HR],
        Metric::RespRate => tv.v[vitals::RR],
        Metric::Spo2 => tv.v[vitals::SPO2],
        Metric::BodyTemp => tv.v[vitals::TEMP],
        Metric::Systolic => tv.v[vitals::SBP],
        Metric::Diastolic => tv.v[vitals::DBP],
        Metric::MeanArterial => (tv.v[vitals::SBP] + 2.0 * tv.v[vitals::DBP]) / 3.0,
        _ => f64::NAN,
    }
}

/// What a device reads of `truth` in `slot`: plus its bias and noise, at its resolution.
fn read(device: &mut Device, slot: usize, metric: Metric, truth: f64) -> f64 {
    let m = params::measurement(metric);
    if m.noise_sd == 0.0 && m.bias_sd == 0.0 {
        return quantise(&m, truth);
    }
    let noise: f64 = device.rng.sample(StandardNormal);
    quantise(&m, truth + device.bias[slot] + noise * m.noise_sd)
}

/// What a vital-signs device reports for `metric` given the truth, its bias and any motion
/// artifact.
fn measure(device: &mut Device, slot: usize, metric: Metric, tv: &TrueVitals, motion: bool) -> f64 {
    let m = params::measurement(metric);
    let noise: f64 = device.rng.sample(StandardNormal);
    let mut v = true_value(metric, tv) + device.bias[slot] + noise * m.noise_sd;
    if motion {
        let rng = &mut device.rng;
        v = match metric {
            Metric::Spo2 => v - uniform(rng, params::MOTION_SPO2_DROP),
            Metric::PulseRate => v + uniform(rng, params::MOTION_PULSE_RISE),
            Metric::HeartRate => v * uniform(rng, params::MOTION_HR_FACTOR),
            Metric::RespRate => v + uniform(rng, params::MOTION_RR_RISE),
            Metric::Systolic | Metric::Diastolic => {
                let e = uniform(rng, params::MOTION_BP_ERROR);
                if rng.random::<bool>() { v + e } else { v - e }
            }
            _ => v,
        };
    }
    quantise(&m, v)
}

const EMPTY: [Observation; MAX_OBS] = [Observation {
    metric: Metric::HeartRate,
    value: None,
    status: ObsStatus::Ok,
    source: NO_SOURCE,
}; MAX_OBS];

fn ok(metric: Metric, value: f64) -> Observation {
    Observation {
        metric,
        value: Some(value as f32),
        status: ObsStatus::Ok,
        source: NO_SOURCE,
    }
}

/// A vital-signs device (ECG patch, oximeter, cuff, temperature patch).
fn sense_vitals(
    device: &mut Device,
    tv: &TrueVitals,
    artifact: Option<ArtifactKind>,
    obs: &mut [Observation; MAX_OBS],
) {
    let kind = device.kind;
    let motion = artifact == Some(ArtifactKind::Motion);
    for (slot, &metric) in kind.metrics().iter().enumerate() {
        obs[slot] = match artifact {
            Some(ArtifactKind::ProbeOff) => Observation {
                metric,
                value: None,
                status: kind.detached_status(),
                source: NO_SOURCE,
            },
            _ if metric == Metric::MeanArterial => {
                // The cuff derives MAP from what it measured.
                let s = obs[0].value.unwrap_or(0.0) as f64;
                let d = obs[1].value.unwrap_or(0.0) as f64;
                ok(metric, ((s + 2.0 * d) / 3.0).round())
            }
            _ => ok(metric, measure(device, slot, metric, tv, motion)),
        };
    }
    if kind == DeviceKind::BpCuff {
        // A cuff never reports diastolic above systolic.
        if let (Some(s), Some(d)) = (obs[0].value, obs[1].value)
            && d >= s
        {
            obs[1].value = Some(s - 10.0);
        }
    }
}

/// A CGM: interstitial glucose; a compression low pulls the reading down, unflagged.
fn sense_cgm(
    device: &mut Device,
    g: &Glycaemia,
    artifact: Option<ArtifactKind>,
    obs: &mut [Observation; MAX_OBS],
) {
    obs[0] = match artifact {
        Some(ArtifactKind::ProbeOff) => Observation {
            metric: Metric::Glucose,
            value: None,
            status: ObsStatus::SensorOff,
            source: NO_SOURCE,
        },
        Some(ArtifactKind::CompressionLow) => {
            let drop = uniform(&mut device.rng, params::COMPRESSION_LOW_DROP);
            ok(
                Metric::Glucose,
                read(device, 0, Metric::Glucose, g.interstitial_mmol - drop),
            )
        }
        _ => ok(
            Metric::Glucose,
            read(device, 0, Metric::Glucose, g.interstitial_mmol),
        ),
    };
}

/// An infusion pump: programmed rate (status says occluded or complete) and volume left.
fn sense_pump(inf: &Infusion, obs: &mut [Observation; MAX_OBS]) {
    let (rate, status) = match inf.state {
        PumpState::Running => (inf.rate_ml_h, ObsStatus::Ok),
        PumpState::Occluded => (inf.rate_ml_h, ObsStatus::Occlusion),
        PumpState::Complete => (0.0, ObsStatus::InfusionComplete),
    };
    let rate_m = params::measurement(Metric::InfusionRate);
    obs[0] = Observation {
        status,
        ..ok(Metric::InfusionRate, quantise(&rate_m, rate))
    };
    let vol_m = params::measurement(Metric::VolumeRemaining);
    obs[1] = ok(
        Metric::VolumeRemaining,
        quantise(&vol_m, inf.remaining_ml.ceil()),
    );
}

/// A fridge's logger: air and product; a failed probe reports a fault and no values.
fn sense_fridge(device: &mut Device, f: &Fridge, obs: &mut [Observation; MAX_OBS]) {
    for (slot, (metric, truth)) in [
        (Metric::AirTemp, f.air_c),
        (Metric::ProductTemp, f.product_c),
    ]
    .into_iter()
    .enumerate()
    {
        obs[slot] = if f.probe_failed {
            Observation {
                metric,
                value: None,
                status: ObsStatus::SensorFault,
                source: NO_SOURCE,
            }
        } else {
            ok(metric, read(device, slot, metric, truth))
        };
    }
}

type PatientTruth<'a> = (
    &'a TrueVitals,
    Option<&'a Glycaemia>,
    Option<&'a BedPresence>,
);

/// When each device is next due, as a timing wheel of ticks, so that a step visits only the
/// devices due in it instead of checking every device (at 8,000 beds, ~48,000 checks a step for
/// a few hundred emissions). Slot `k % len` holds the devices due at tick `k`; the wheel is
/// longer than the longest interval, so a device is never more than one turn ahead (a longer
/// wait goes to `later`, sorted, and enters the wheel when its turn comes). Bed-exit sensors
/// and duress badges also report a change the moment it happens: they are few, and checked
/// every step instead.
#[derive(Resource, Default)]
pub struct DueQueue {
    wheel: Vec<Vec<(DeviceIx, Entity)>>,
    /// Devices due more than a turn ahead: (tick, device, entity), soonest last.
    later: Vec<(u64, DeviceIx, Entity)>,
    /// Devices that report changes, in device order.
    watched: Vec<Entity>,
    built: bool,
    /// This step's due devices (reused).
    due: Vec<(DeviceIx, Entity)>,
}

/// Longest wheel: a day of 1 s ticks; longer waits go to `later`.
const MAX_WHEEL: u64 = 86_400;

impl DueQueue {
    /// The first tick at or after which `due_ms` has come (never before `after`).
    fn tick_of(clock: &SimClock, due_ms: SimMillis, after: u64) -> u64 {
        let since = (due_ms - clock.epoch_ms()).max(0) as u64;
        since.div_ceil(clock.step_ms() as u64).max(after)
    }

    fn insert(&mut self, now_tick: u64, tick: u64, ix: DeviceIx, e: Entity) {
        let len = self.wheel.len() as u64;
        if tick - now_tick < len {
            self.wheel[(tick % len) as usize].push((ix, e));
        } else {
            let at = self.later.partition_point(|l| (l.0, l.1) > (tick, ix));
            self.later.insert(at, (tick, ix, e));
        }
    }

    /// Takes the devices due at tick `k` into `self.due`.
    fn take_due(&mut self, k: u64) {
        let len = self.wheel.len() as u64;
        while let Some(&(t, ix, e)) = self.later.last() {
            if t - k >= len {
                break;
            }
            self.later.pop();
            self.wheel[(t % len) as usize].push((ix, e));
        }
        let slot = &mut self.wheel[(k % len) as usize];
        self.due.clear();
        self.due.append(slot);
    }
}

/// What every device reads from, for one step.
struct Step<'a, 'w, 's> {
    now: SimMillis,
    epoch: SimMillis,
    site: &'a Site,
    rtls: &'a RtlsParams,
    patients: &'a Query<'w, 's, PatientTruth<'static>>,
    fridges: &'a Query<'w, 's, &'static Fridge>,
    gateways: &'a Query<'w, 's, &'static Gateway>,
    movers: &'a Query<'w, 's, &'static Mover>,
}

/// Every device that is due reads its subject (a patient, its own infusion, a fridge) and
/// emits one reading; a bed-exit sensor also reports a change the moment it happens. A value
/// after a silence longer than the cadence allows closes a monitoring-lost condition.
#[allow(clippy::too_many_arguments)]
pub(super) fn sample_and_emit(
    clock: Res<SimClock>,
    site: Res<Site>,
    rtls: Res<RtlsParams>,
    mut queue: ResMut<DueQueue>,
    mut devices: Query<(Entity, &mut Device, &Battery, Option<&Infusion>)>,
    patients: Query<PatientTruth<'static>>,
    fridges: Query<&'static Fridge>,
    gateways: Query<&'static Gateway>,
    movers: Query<&'static Mover>,
    mut out: MessageWriter<ReadingEmitted>,
    mut conditions: MessageWriter<ConditionRecorded>,
    mut heard: Local<Vec<(f64, u16, bool)>>,
) {
    let now = clock.now_ms();
    let q = &mut *queue;
    let k = clock.tick();
    if !q.built {
        // Devices are spawned before the first tick: queued once, in device order.
        q.built = true;
        let mut all: Vec<(DeviceIx, Entity, SimMillis, i64, bool)> = devices
            .iter()
            .map(|(e, d, _, _)| {
                let watched = matches!(d.kind, DeviceKind::BedExitSensor | DeviceKind::StaffBadge);
                (d.ix, e, d.next_due_ms, d.interval_ms, watched)
            })
            .collect();
        all.sort_unstable_by_key(|d| d.0);
        let longest = all.iter().map(|d| d.3).max().unwrap_or(0).max(0) as u64;
        let turn = (longest.div_ceil(clock.step_ms() as u64) + 2).min(MAX_WHEEL);
        q.wheel = vec![Vec::new(); turn as usize];
        for (ix, e, due, _, watched) in all {
            if watched {
                q.watched.push(e);
            } else {
                let t = DueQueue::tick_of(&clock, due, k);
                q.insert(k, t, ix, e);
            }
        }
    }
    let w = Step {
        now,
        epoch: clock.epoch_ms(),
        site: &site,
        rtls: &rtls,
        patients: &patients,
        fridges: &fridges,
        gateways: &gateways,
        movers: &movers,
    };
    q.take_due(k);
    let due = std::mem::take(&mut q.due);
    for &(ix, e) in &due {
        let Ok((_, mut device, battery, infusion)) = devices.get_mut(e) else {
            continue;
        };
        sample_one(
            &w,
            &mut device,
            battery,
            infusion,
            true,
            &mut out,
            &mut conditions,
            &mut heard,
        );
        let next = DueQueue::tick_of(&clock, device.next_due_ms, k + 1);
        q.insert(k, next, ix, e);
    }
    q.due = due;
    for &e in &q.watched {
        let Ok((_, mut device, battery, infusion)) = devices.get_mut(e) else {
            continue;
        };
        let due = device.next_due_ms <= now;
        // A bed-exit sensor and a duress button also report a change at once.
        let changed = match device.kind {
            DeviceKind::BedExitSensor => patients
                .get(device.subject)
                .ok()
                .and_then(|p| p.2)
                .is_some_and(|b| b.changed_ms == now),
            DeviceKind::StaffBadge => movers
                .get(device.subject)
                .is_ok_and(|m| m.duress_changed_ms == now),
            _ => false,
        };
        if due || changed {
            sample_one(
                &w,
                &mut device,
                battery,
                infusion,
                due,
                &mut out,
                &mut conditions,
                &mut heard,
            );
        }
    }
}

/// One device reads its subject and emits (`due`: on its cadence, which it then advances).
#[allow(clippy::too_many_arguments)]
fn sample_one(
    w: &Step,
    device: &mut Device,
    battery: &Battery,
    infusion: Option<&Infusion>,
    due: bool,
    out: &mut MessageWriter<ReadingEmitted>,
    conditions: &mut MessageWriter<ConditionRecorded>,
    heard: &mut Vec<(f64, u16, bool)>,
) {
    let (now, epoch) = (w.now, w.epoch);
    if due {
        device.next_due_ms += device.interval_ms;
    }
    if battery.depleted {
        return;
    }
    let artifact = device.artifact_at(now);
    let mut obs = EMPTY;
    let subject = device.subject;
    let full = device.kind.metrics().len();
    let patients = w.patients;
    let len = match device.kind {
        DeviceKind::EcgPatch
        | DeviceKind::PulseOximeter
        | DeviceKind::BpCuff
        | DeviceKind::TempPatch => patients
            .get(subject)
            .ok()
            .map(|(tv, _, _)| sense_vitals(device, tv, artifact, &mut obs)),
        DeviceKind::Cgm => patients
            .get(subject)
            .ok()
            .and_then(|p| p.1)
            .map(|g| sense_cgm(device, g, artifact, &mut obs)),
        DeviceKind::BedExitSensor => patients.get(subject).ok().and_then(|p| p.2).map(|b| {
            obs[0] = ok(Metric::BedOccupied, if b.in_bed { 1.0 } else { 0.0 });
        }),
        DeviceKind::InfusionPump => infusion.map(|i| sense_pump(i, &mut obs)),
        DeviceKind::FridgeLogger => w
            .fridges
            .get(subject)
            .ok()
            .map(|f| sense_fridge(device, f, &mut obs)),
        DeviceKind::EdgeGateway => w.gateways.get(subject).ok().map(|g| {
            obs[0] = ok(Metric::SpoolDepth, g.spool.len() as f64);
            obs[1] = ok(Metric::SpoolDropped, g.dropped as f64);
            obs[2] = ok(Metric::Uplink, if g.uplink_up { 1.0 } else { 0.0 });
        }),
        DeviceKind::AssetTag | DeviceKind::StaffBadge => {
            let Ok(m) = w.movers.get(subject) else {
                return;
            };
            let n = crate::rtls::sense_tag(device, m, w.site, w.rtls.mode, &mut obs, heard);
            out.write(emit(device, battery, now, epoch, n, obs));
            // A tag's silence is the radio's (missing), not a monitoring loss.
            return;
        }
    }
    .map(|()| full);
    let Some(len) = len else { return };
    if battery.pct <= LOW_BATTERY_PCT {
        for o in obs[..len].iter_mut().filter(|o| o.status == ObsStatus::Ok) {
            o.status = ObsStatus::LowBattery;
        }
    }
    if obs[..len].iter().any(|o| o.value.is_some()) {
        let lost_at = device.last_value_ms + monitoring_lost_after(device.interval_ms);
        if now > lost_at {
            conditions.write(technical(
                ConditionClass::MonitoringLost,
                Severity::Medium,
                device.ix,
                lost_at,
                Some(now),
            ));
        }
        device.last_value_ms = now;
    }
    out.write(emit(device, battery, now, epoch, len, obs));
}

/// The next emission of `device`: its sequence number, its own clock, its battery.
fn emit(
    device: &mut Device,
    battery: &Battery,
    now: SimMillis,
    epoch: SimMillis,
    len: usize,
    obs: [Observation; MAX_OBS],
) -> ReadingEmitted {
    let seq = device.seq;
    device.seq += 1;
    ReadingEmitted(Reading {
        device: device.ix,
        seq,
        sim_ms: now,
        device_ms: device.device_time(now, epoch),
        battery_pct: battery.pct as f32,
        len: len as u8,
        obs,
    })
}

/// Steps every infusion pump's infusion; records its events and the occlusions that ended.
pub(super) fn run_infusions(
    clock: Res<SimClock>,
    mut q: Query<(&Device, &mut Infusion)>,
    mut events: MessageWriter<DeviceEventOccurred>,
    mut conditions: MessageWriter<ConditionRecorded>,
    mut ended: Local<Vec<ConditionRecord>>,
) {
    let now = clock.now_ms();
    let step = clock.step_ms();
    for (device, mut inf) in &mut q {
        if let Some(kind) = inf.step(now, step, &mut ended) {
            events.write(DeviceEventOccurred(DeviceEvent {
                device: device.ix,
                sim_ms: now,
                device_ms: now,
                battery_pct: None,
                kind,
            }));
        }
    }
    conditions.write_batch(ended.drain(..).map(ConditionRecorded));
}

/// At the end of the run: the technical conditions still going (a device silent for too long,
/// a low battery not yet empty).
pub(super) fn flush_open_conditions(
    clock: Res<SimClock>,
    q: Query<(&Device, &Battery, Option<&Infusion>)>,
    mut conditions: MessageWriter<ConditionRecorded>,
) {
    let end = clock.end_ms();
    for (device, b, inf) in &q {
        if let Some(c) = inf.and_then(Infusion::flush) {
            conditions.write(ConditionRecorded(c));
        }
        if device.kind.is_tag() {
            continue;
        }
        let lost_at = device.last_value_ms + monitoring_lost_after(device.interval_ms);
        if lost_at < end {
            conditions.write(technical(
                ConditionClass::MonitoringLost,
                Severity::Medium,
                device.ix,
                lost_at,
                None,
            ));
        }
        if let (Some(low), false) = (b.low_since_ms, b.depleted) {
            conditions.write(technical(
                ConditionClass::LowBattery,
                Severity::Low,
                device.ix,
                low,
                None,
            ));
        }
    }
}
