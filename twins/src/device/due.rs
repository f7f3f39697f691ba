//! Which devices are due in a step, without looking at the others.
//!
//! A device knows when it is next due; at 8,000 beds a step would otherwise check ~48,000
//! devices for a few hundred emissions, and each check is a cache miss once the devices no
//! longer fit in cache. Devices that also report a change the moment it happens (bed-exit
//! sensors, duress badges) are woken by the event that records the change, not by looking at
//! their subject every step.

use bevy_ecs::prelude::*;
use wardtwin_sim::SimClock;
use wardtwin_sim::records::{DeviceEventKind, DeviceIx, DeviceKind};
use wardtwin_sim::time::SimMillis;

/// Longest wheel: a day of 1 s ticks; longer waits go to `later`.
const MAX_WHEEL: u64 = 86_400;

/// A timing wheel of ticks. Slot `k % len` holds the devices due at tick `k`; the wheel is
/// longer than the longest interval, so a device is never more than one turn ahead (a longer
/// wait goes to `later`, sorted, and enters the wheel when its turn comes).
#[derive(Default)]
struct Wheel {
    slots: Vec<Vec<(DeviceIx, Entity)>>,
    /// Devices due more than a turn ahead: (tick, device, entity), soonest last.
    later: Vec<(u64, DeviceIx, Entity)>,
}

impl Wheel {
    fn new(turn: u64) -> Self {
        Self {
            slots: vec![Vec::new(); turn.max(1) as usize],
            later: Vec::new(),
        }
    }

    fn insert(&mut self, now_tick: u64, tick: u64, ix: DeviceIx, e: Entity) {
        let len = self.slots.len() as u64;
        if tick - now_tick < len {
            self.slots[(tick % len) as usize].push((ix, e));
        } else {
            let at = self.later.partition_point(|l| (l.0, l.1) > (tick, ix));
            self.later.insert(at, (tick, ix, e));
        }
    }

    /// Appends the devices due at tick `k` to `out` (in the order they were queued).
    fn take_due(&mut self, k: u64, out: &mut Vec<(DeviceIx, Entity)>) {
        let len = self.slots.len() as u64;
        while let Some(&(t, ix, e)) = self.later.last() {
            if t - k >= len {
                break;
            }
            self.later.pop();
            self.slots[(t % len) as usize].push((ix, e));
        }
        out.append(&mut self.slots[(k % len) as usize]);
    }
}

/// When each device is next due. Devices are queued once, before the first tick, in device
/// order, so the order of a step's emissions is the same from run to run.
#[derive(Resource, Default)]
pub struct DueQueue {
    built: bool,
    /// Devices that report on their cadence only.
    cadence: Wheel,
    /// Devices that also report a change at once (bed-exit sensors, duress badges).
    watching: Wheel,
    /// Each device's kind, and its entity if it is a watching one, by device index.
    kind_of: Vec<(DeviceKind, Option<Entity>)>,
    /// This step's devices, by kind (`DeviceKind as usize`), for the sensing systems.
    by_kind: Vec<Vec<(DeviceIx, Entity)>>,
    /// Scratch for one wheel's due devices (reused).
    scratch: Vec<(DeviceIx, Entity)>,
}

/// Whether a device of `kind` reports a change in its subject the moment it happens.
fn watches(kind: DeviceKind) -> bool {
    matches!(kind, DeviceKind::BedExitSensor | DeviceKind::StaffBadge)
}

/// Whether a device event is the change a watching device reports at once.
fn wakes(kind: DeviceEventKind) -> bool {
    matches!(
        kind,
        DeviceEventKind::BedExited
            | DeviceEventKind::BedReturned
            | DeviceEventKind::DuressPressed
            | DeviceEventKind::DuressAnswered
    )
}

/// The first tick at or after which `due_ms` has come (never before `after`).
pub(super) fn tick_of(clock: &SimClock, due_ms: SimMillis, after: u64) -> u64 {
    let since = (due_ms - clock.epoch_ms()).max(0) as u64;
    since.div_ceil(clock.step_ms() as u64).max(after)
}

impl DueQueue {
    pub(super) fn is_built(&self) -> bool {
        self.built
    }

    /// Queues every device, once: `(device, entity, next due, interval, kind)` in any order.
    pub(super) fn build(
        &mut self,
        clock: &SimClock,
        mut all: Vec<(DeviceIx, Entity, SimMillis, i64, DeviceKind)>,
    ) {
        self.built = true;
        let k = clock.tick();
        all.sort_unstable_by_key(|d| d.0);
        let longest = all.iter().map(|d| d.3).max().unwrap_or(0).max(0) as u64;
        let turn = (longest.div_ceil(clock.step_ms() as u64) + 2).min(MAX_WHEEL);
        self.cadence = Wheel::new(turn);
        self.watching = Wheel::new(turn);
        let len = all.last().map_or(0, |d| d.0.0 as usize + 1);
        self.kind_of = vec![(DeviceKind::EcgPatch, None); len];
        self.by_kind = vec![Vec::new(); DeviceKind::ALL.len()];
        for (ix, e, due, _, kind) in all {
            let t = tick_of(clock, due, k);
            let watching = watches(kind);
            self.kind_of[ix.0 as usize] = (kind, watching.then_some(e));
            if watching {
                self.watching.insert(k, t, ix, e);
            } else {
                self.cadence.insert(k, t, ix, e);
            }
        }
    }

    /// Sorts the devices of tick `k` by kind: those due on their cadence (in the order they
    /// were queued), then the watching ones due or woken by one of `events` (in device order,
    /// each once).
    pub(super) fn collect(
        &mut self,
        k: u64,
        events: impl Iterator<Item = (DeviceIx, DeviceEventKind)>,
    ) {
        for list in &mut self.by_kind {
            debug_assert!(list.is_empty(), "a kind's devices were not sampled");
            list.clear();
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        self.cadence.take_due(k, &mut scratch);
        self.file(&scratch);
        scratch.clear();
        self.watching.take_due(k, &mut scratch);
        for (ix, kind) in events {
            if wakes(kind)
                && let Some(&(_, Some(e))) = self.kind_of.get(ix.0 as usize)
            {
                scratch.push((ix, e));
            }
        }
        scratch.sort_unstable_by_key(|w| w.0);
        scratch.dedup_by_key(|w| w.0);
        self.file(&scratch);
        self.scratch = scratch;
    }

    fn file(&mut self, devices: &[(DeviceIx, Entity)]) {
        for &(ix, e) in devices {
            let kind = self.kind_of[ix.0 as usize].0;
            self.by_kind[kind as usize].push((ix, e));
        }
    }

    /// This step's devices of `kind`; give the list back with [`DueQueue::give_back`].
    pub(super) fn take_kind(&mut self, kind: DeviceKind) -> Vec<(DeviceIx, Entity)> {
        self.by_kind
            .get_mut(kind as usize)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Returns a list taken with [`DueQueue::take_kind`], sampled (its capacity is reused).
    pub(super) fn give_back(&mut self, kind: DeviceKind, mut list: Vec<(DeviceIx, Entity)>) {
        list.clear();
        if let Some(slot) = self.by_kind.get_mut(kind as usize) {
            *slot = list;
        }
    }

    /// Queues a device again for tick `tick` (its next due time).
    pub(super) fn requeue(&mut self, k: u64, tick: u64, ix: DeviceIx, e: Entity) {
        if self
            .kind_of
            .get(ix.0 as usize)
            .is_some_and(|k| k.1.is_some())
        {
            self.watching.insert(k, tick, ix, e);
        } else {
            self.cadence.insert(k, tick, ix, e);
        }
    }
}
