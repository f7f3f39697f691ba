//! What every device does the same way when it samples, whatever it measures.
//!
//! Each twin kind senses its own devices: `device` the worn and bedside ones (vital signs, CGM,
//! infusion pump, bed-exit sensor), `coldchain` the fridge loggers, `gateway` its own status,
//! `rtls` the tags and badges. A sensing system takes this step's devices of its kinds from a
//! [`Sampler`] and fills in the observations from the device's subject; the sampler does the
//! rest: the cadence, a flat battery, artifacts, the low-battery flag, the monitoring-lost
//! condition after a silence, the sequence number, the device's clock, and the reading.
//!
//! `collect_due` runs first in the step's emission: it takes the devices due on their cadence
//! and those woken by a change from the `DueQueue` and sorts them by kind. Sensing systems
//! are registered with [`sensing`]; they touch disjoint devices, and what they emit is sorted
//! before it is routed or recorded, so their order does not matter.

use bevy_app::{App, Update};
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::ScheduleConfigs;
use bevy_ecs::system::{ScheduleSystem, SystemParam};
use wardtwin_sim::conditions::{ConditionClass, Severity, monitoring_lost_after};
use wardtwin_sim::records::{
    ArtifactKind, DeviceKind, MAX_OBS, Metric, NO_SOURCE, ObsStatus, Observation, Reading,
};
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{ConditionRecorded, DeviceEventOccurred, ReadingEmitted, SimClock, SimSet};

use super::due::{self, DueQueue};
use super::params::LOW_BATTERY_PCT;
use super::plugin::DeviceSystems;
use super::{Battery, Device};

/// No observation yet (what a sensing function starts from).
pub const EMPTY: [Observation; MAX_OBS] = [Observation {
    metric: Metric::HeartRate,
    value: None,
    status: ObsStatus::Ok,
    source: NO_SOURCE,
}; MAX_OBS];

/// A valid observation of `value`.
pub fn ok(metric: Metric, value: f64) -> Observation {
    Observation {
        metric,
        value: Some(value as f32),
        status: ObsStatus::Ok,
        source: NO_SOURCE,
    }
}

/// What a sensing function made of its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensed {
    /// A reading of every metric of the device's kind: flagged on a low battery, and a value
    /// after too long a silence ends a monitoring-lost condition.
    Reading,
    /// A radio beacon of `n` observations (tags and badges): its silence is the radio's, not a
    /// monitoring loss.
    Beacon(usize),
    /// Its subject is gone: nothing is emitted.
    Nothing,
}

/// This step's devices for the sensing systems, and what sampling shares.
#[derive(SystemParam)]
pub struct Sampler<'w, 's> {
    clock: Res<'w, SimClock>,
    queue: ResMut<'w, DueQueue>,
    devices: Query<'w, 's, (&'static mut Device, &'static Battery)>,
    out: MessageWriter<'w, ReadingEmitted>,
    conditions: MessageWriter<'w, ConditionRecorded>,
}

impl Sampler<'_, '_> {
    /// This step's simulation time.
    pub fn now(&self) -> SimMillis {
        self.clock.now_ms()
    }

    /// Samples this step's devices of `kinds` (due on their cadence, or woken by a change of
    /// their subject), in the order they were queued: `sense(entity, device, artifact, obs)`
    /// fills `obs` from the device's subject.
    pub fn sample(
        &mut self,
        kinds: &[DeviceKind],
        mut sense: impl FnMut(
            Entity,
            &mut Device,
            Option<ArtifactKind>,
            &mut [Observation; MAX_OBS],
        ) -> Sensed,
    ) {
        let now = self.clock.now_ms();
        let epoch = self.clock.epoch_ms();
        let k = self.clock.tick();
        for &kind in kinds {
            let list = self.queue.take_kind(kind);
            for &(ix, e) in &list {
                let Ok((mut device, battery)) = self.devices.get_mut(e) else {
                    continue;
                };
                let device = &mut *device;
                // Due on its cadence (it advances), or only woken by a change.
                let due = device.next_due_ms <= now;
                if due {
                    device.next_due_ms += device.interval_ms;
                    let next = due::tick_of(&self.clock, device.next_due_ms, k + 1);
                    self.queue.requeue(k, next, ix, e);
                }
                if battery.depleted {
                    continue;
                }
                let artifact = device.artifact_at(now);
                let mut obs = EMPTY;
                let len = match sense(e, device, artifact, &mut obs) {
                    Sensed::Nothing => continue,
                    Sensed::Beacon(n) => {
                        self.out
                            .write(emit(device, battery, now, epoch, n.min(MAX_OBS), obs));
                        continue;
                    }
                    Sensed::Reading => device.kind.metrics().len(),
                };
                if battery.pct <= LOW_BATTERY_PCT {
                    for o in obs[..len].iter_mut().filter(|o| o.status == ObsStatus::Ok) {
                        o.status = ObsStatus::LowBattery;
                    }
                }
                if obs[..len].iter().any(|o| o.value.is_some()) {
                    let lost_at = device.last_value_ms + monitoring_lost_after(device.interval_ms);
                    // A gateway's own silence is its ward's (`gateway_offline`).
                    if now > lost_at && device.kind != DeviceKind::EdgeGateway {
                        self.conditions.write(super::systems::technical(
                            ConditionClass::MonitoringLost,
                            Severity::Medium,
                            device.ix,
                            lost_at,
                            Some(now),
                        ));
                    }
                    device.last_value_ms = now;
                }
                self.out.write(emit(device, battery, now, epoch, len, obs));
            }
            self.queue.give_back(kind, list);
        }
    }
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

/// First in the step's emission: this step's devices, due on their cadence or woken by a
/// change (a bed-exit sensor and a duress badge report a change at once: the change's event,
/// written in this step's dynamics, wakes them), sorted by kind for the sensing systems.
pub(super) fn collect_due(
    clock: Res<SimClock>,
    mut queue: ResMut<DueQueue>,
    devices: Query<(Entity, &Device)>,
    mut events: MessageReader<DeviceEventOccurred>,
) {
    let now = clock.now_ms();
    if !queue.is_built() {
        // Devices are spawned before the first tick.
        let all = devices
            .iter()
            .map(|(e, d)| (d.ix, e, d.next_due_ms, d.interval_ms, d.kind))
            .collect();
        queue.build(&clock, all);
    }
    let changes = events
        .read()
        .filter(|DeviceEventOccurred(e)| e.sim_ms == now)
        .map(|DeviceEventOccurred(e)| (e.device, e.kind));
    queue.collect(clock.tick(), changes);
}

/// Registers a sensing system: it runs after `collect_due`, in any order with the others.
pub fn sensing<M>(app: &mut App, system: impl IntoScheduleConfigs<ScheduleSystem, M>) {
    let system: ScheduleConfigs<ScheduleSystem> = system
        .into_configs()
        .in_set(DeviceSystems::Sense)
        .ambiguous_with(DeviceSystems::Sense);
    app.init_resource::<DueQueue>()
        .configure_sets(Update, DeviceSystems::Sense.in_set(SimSet::Emission))
        .add_systems(Update, system);
}
