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

use super::due::{self, DueQueue};
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
    mut events: MessageReader<DeviceEventOccurred>,
    mut out: MessageWriter<ReadingEmitted>,
    mut conditions: MessageWriter<ConditionRecorded>,
    mut heard: Local<Vec<(f64, u16, bool)>>,
) {
    let now = clock.now_ms();
    let k = clock.tick();
    if !queue.is_built() {
        // Devices are spawned before the first tick.
        let all = devices
            .iter()
            .map(|(e, d, _, _)| (d.ix, e, d.next_due_ms, d.interval_ms, d.kind))
            .collect();
        queue.build(&clock, all);
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
    let due = queue.take_due(k);
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
        queue.requeue(k, due::tick_of(&clock, device.next_due_ms, k + 1), ix, e);
    }
    // A bed-exit sensor and a duress badge also report a change at once: the change's event
    // (written in this step's dynamics) wakes them.
    let changes = events
        .read()
        .filter(|DeviceEventOccurred(e)| e.sim_ms == now)
        .map(|DeviceEventOccurred(e)| (e.device, e.kind));
    let woken = queue.take_watching(k, changes);
    for &(ix, e) in &woken {
        let Ok((_, mut device, battery, infusion)) = devices.get_mut(e) else {
            continue;
        };
        let due = device.next_due_ms <= now;
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
        if due {
            queue.requeue(k, due::tick_of(&clock, device.next_due_ms, k + 1), ix, e);
        }
    }
    queue.done(due, woken);
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
