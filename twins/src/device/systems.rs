//! Device systems: drain batteries, run infusions, plan artifacts, stamp events (sampling is
//! in `sampling`, sensing in `sense` and in each kind's own module).

use bevy_ecs::prelude::*;
use wardtwin_sim::conditions::{
    ConditionClass, ConditionRecord, Severity, Subject, monitoring_lost_after,
};
use wardtwin_sim::records::{ArtifactRecord, DeviceEvent, DeviceEventKind, Origin};
use wardtwin_sim::records::{DeviceIx, DeviceKind};
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{ArtifactRecorded, ConditionRecorded, DeviceEventOccurred, Directory, SimClock};

use crate::schedule::{self, Plan};

use super::infusion::Infusion;
use super::params::{BATTERY_SAG_MS, LOW_BATTERY_PCT};
use super::{Battery, Device};

pub(super) fn technical(
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
        if b.flat_at_ms.is_some_and(|t| t <= now) {
            // A battery wave: the cell sags to the low threshold at once, then to empty
            // within BATTERY_SAG_MS.
            b.flat_at_ms = None;
            b.pct = b.pct.min(LOW_BATTERY_PCT);
            b.drain_per_ms = b.drain_per_ms.max(LOW_BATTERY_PCT / BATTERY_SAG_MS as f64);
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
            let cadence = schedule::Cadence {
                first_ms: d.next_due_ms,
                interval_ms: d.interval_ms,
            };
            let new = schedule::artifacts(s, seed, &info.id, d.kind, cadence, day);
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
        // A tag's silence is the radio's; a gateway's is its ward's (`gateway_offline`).
        if device.kind.is_tag() || device.kind == DeviceKind::EdgeGateway {
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
