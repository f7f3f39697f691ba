//! Device systems: drain batteries, then sample and emit.

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use wardtwin_sim::conditions::{
    ConditionClass, ConditionRecord, Severity, Subject, monitoring_lost_after,
};
use wardtwin_sim::records::DeviceIx;
use wardtwin_sim::records::{
    ArtifactKind, DeviceEvent, DeviceEventKind, DeviceKind, MAX_OBS, Metric, ObsStatus,
    Observation, Reading,
};
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{ConditionRecorded, DeviceEventOccurred, ReadingEmitted, SimClock};

use super::params::{self, LOW_BATTERY_PCT};
use super::{Battery, Device};
use crate::patient::TrueVitals;
use crate::patient::params as vitals;

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
                kind: DeviceEventKind::BatteryLow,
            }));
        }
        if b.pct <= 0.0 {
            b.depleted = true;
            events.write(DeviceEventOccurred(DeviceEvent {
                device: device.ix,
                sim_ms: now,
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
    }
}

/// What a device reports for `metric` given the truth, its bias and any motion artifact.
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
            Metric::BodyTemp | Metric::MeanArterial => v,
        };
    }
    quantise(&m, v)
}

/// Every device that is due samples its patient and emits one reading. A value after a silence
/// longer than the cadence allows closes a monitoring-lost condition.
pub(super) fn sample_and_emit(
    clock: Res<SimClock>,
    mut devices: Query<(&mut Device, &Battery)>,
    patients: Query<&TrueVitals>,
    mut out: MessageWriter<ReadingEmitted>,
    mut conditions: MessageWriter<ConditionRecorded>,
) {
    let now = clock.now_ms();
    let epoch = clock.epoch_ms();
    for (mut device, battery) in &mut devices {
        if device.next_due_ms > now {
            continue;
        }
        device.next_due_ms += device.interval_ms;
        if battery.depleted {
            continue;
        }
        let Ok(tv) = patients.get(device.patient) else {
            continue;
        };
        let artifact = device.artifact_at(now);
        let low = battery.pct <= LOW_BATTERY_PCT;
        let kind = device.kind;
        let metrics = kind.metrics();
        let mut obs = [Observation {
            metric: Metric::HeartRate,
            value: None,
            status: ObsStatus::Ok,
        }; MAX_OBS];
        let motion = artifact == Some(ArtifactKind::Motion);
        for (slot, &metric) in metrics.iter().enumerate() {
            let (value, status) = match artifact {
                Some(ArtifactKind::ProbeOff) => (None, kind.detached_status()),
                _ if metric == Metric::MeanArterial => {
                    // The cuff derives MAP from what it measured.
                    let s = obs[0].value.unwrap_or(0.0) as f64;
                    let d = obs[1].value.unwrap_or(0.0) as f64;
                    (Some(((s + 2.0 * d) / 3.0).round() as f32), ObsStatus::Ok)
                }
                _ => (
                    Some(measure(&mut device, slot, metric, tv, motion) as f32),
                    ObsStatus::Ok,
                ),
            };
            let status = if low && status == ObsStatus::Ok {
                ObsStatus::LowBattery
            } else {
                status
            };
            obs[slot] = Observation {
                metric,
                value,
                status,
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
        if obs[..metrics.len()].iter().any(|o| o.value.is_some()) {
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
        let seq = device.seq;
        device.seq += 1;
        out.write(ReadingEmitted(Reading {
            device: device.ix,
            seq,
            sim_ms: now,
            device_ms: device.device_time(now, epoch),
            battery_pct: battery.pct as f32,
            len: metrics.len() as u8,
            obs,
        }));
    }
}

/// At the end of the run: the technical conditions still going (a device silent for too long,
/// a low battery not yet empty).
pub(super) fn flush_open_conditions(
    clock: Res<SimClock>,
    q: Query<(&Device, &Battery)>,
    mut conditions: MessageWriter<ConditionRecorded>,
) {
    let end = clock.end_ms();
    for (device, b) in &q {
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
