//! Cold-chain systems: apply the faults of this step, integrate, record the ground truth.

use bevy_ecs::prelude::*;
use wardtwin_sim::records::{ArtifactKind, ArtifactRecord, Origin};
use wardtwin_sim::records::{DeviceEvent, DeviceEventKind};
use wardtwin_sim::{
    ArtifactRecorded, ConditionRecorded, DeviceEventOccurred, ExcursionRecorded, SimClock,
};

use wardtwin_sim::records::{DeviceKind, MAX_OBS, Metric, NO_SOURCE, ObsStatus, Observation};

use crate::device::Device;
use crate::device::sampling::{Sampler, Sensed, ok};
use crate::device::sense::read;
use crate::schedule::{self, Plan};

use super::{Fridge, Window, excursion, params};

fn active(windows: &[Window], t: i64) -> bool {
    windows
        .iter()
        .take_while(|w| w.start_ms <= t)
        .any(|w| w.contains(t))
}

/// Sets `state` to `now_on`; on a change, the event of the new state.
fn switch(
    state: &mut bool,
    now_on: bool,
    on: DeviceEventKind,
    off: Option<DeviceEventKind>,
) -> Option<DeviceEventKind> {
    if *state == now_on {
        return None;
    }
    *state = now_on;
    if now_on { Some(on) } else { off }
}

pub(super) fn step_fridges(
    clock: Res<SimClock>,
    mut q: Query<&mut Fridge>,
    mut events: MessageWriter<DeviceEventOccurred>,
    mut excursions: MessageWriter<ExcursionRecorded>,
    mut conditions: MessageWriter<ConditionRecorded>,
) {
    let now = clock.now_ms();
    let elapsed = clock.elapsed_ms();
    let dt_s = clock.step_ms() as f64 / 1000.0;
    for mut f in &mut q {
        let f = &mut *f;
        let door = active(&f.faults.doors, now);
        let failed = active(&f.faults.compressor, now);
        let power_lost = active(&f.faults.power, now);
        let probe = active(&f.faults.probe, now);
        let defrost = f
            .defrost_every_ms
            .is_some_and(|every| elapsed > 0 && elapsed.rem_euclid(every) < params::DEFROST_MS);
        let changes = [
            switch(
                &mut f.door_open,
                door,
                DeviceEventKind::DoorOpened,
                Some(DeviceEventKind::DoorClosed),
            ),
            switch(
                &mut f.compressor_failed,
                failed,
                DeviceEventKind::CompressorFailed,
                Some(DeviceEventKind::CompressorRepaired),
            ),
            switch(
                &mut f.power_lost,
                power_lost,
                DeviceEventKind::PowerLost,
                Some(DeviceEventKind::PowerRestored),
            ),
            switch(
                &mut f.probe_failed,
                probe,
                DeviceEventKind::ProbeFailed,
                Some(DeviceEventKind::ProbeReplaced),
            ),
            switch(
                &mut f.defrosting,
                defrost,
                DeviceEventKind::DefrostStarted,
                None,
            ),
        ];
        let logger = f.logger;
        events.write_batch(changes.into_iter().flatten().map(|kind| {
            DeviceEventOccurred(DeviceEvent {
                device: logger,
                sim_ms: now,
                device_ms: now,
                battery_pct: None,
                kind,
            })
        }));
        f.integrate(dt_s);
        excursions.write_batch(f.track_excursions(now).map(ExcursionRecorded));
        let out = f.product_out_of_range();
        if let Some(c) = f.spell.update(now, out) {
            conditions.write(ConditionRecorded(c));
        }
    }
}

/// At the end of the run: excursions and the condition still going.
pub(super) fn flush_fridges(
    q: Query<&Fridge>,
    mut excursions: MessageWriter<ExcursionRecorded>,
    mut conditions: MessageWriter<ConditionRecorded>,
) {
    for f in &q {
        let measures = [
            wardtwin_sim::records::Measure::Air,
            wardtwin_sim::records::Measure::Product,
        ];
        for (open, measure) in f.excursions.iter().zip(measures) {
            if let Some(open) = open {
                excursions.write(ExcursionRecorded(excursion(f.logger, measure, open, None)));
            }
        }
        if let Some(c) = f.spell.flush() {
            conditions.write(ConditionRecorded(c));
        }
    }
}

/// When a day begins, draws the next day's random door openings of every fridge (recorded as
/// they are drawn), dropping those over ([`crate::schedule`]).
pub(super) fn plan_fridges(
    clock: Res<SimClock>,
    plan: Res<Plan>,
    mut q: Query<(&mut Fridge, &schedule::SpecIx)>,
    mut records: MessageWriter<ArtifactRecorded>,
) {
    let Some(day) = schedule::day_to_draw(&clock) else {
        return;
    };
    let (s, seed, now) = (&*plan.scenario, plan.seed, clock.now_ms());
    for (mut f, &schedule::SpecIx(spec)) in &mut q {
        let logger = f.logger;
        let new = schedule::door_openings(s, seed, &s.fridges[spec], day);
        records.write_batch(new.iter().map(|w| {
            ArtifactRecorded(ArtifactRecord {
                device: logger,
                kind: ArtifactKind::DoorOpen,
                start_ms: w.start_ms,
                end_ms: w.end_ms,
                origin: Origin::Random,
            })
        }));
        Window::extend_sorted(&mut f.faults.doors, now, new);
    }
}

/// Every due fridge logger reads its fridge.
pub(super) fn sense_loggers(mut sampler: Sampler, fridges: Query<&Fridge>) {
    sampler.sample(&[DeviceKind::FridgeLogger], |_, device, _, obs| {
        fridges
            .get(device.subject)
            .ok()
            .map_or(Sensed::Nothing, |f| {
                sense_fridge(device, f, obs);
                Sensed::Reading
            })
    });
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
