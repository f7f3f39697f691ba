//! Infusion pumps: the infusion a pump delivers, and its occlusions.
//!
//! A pump runs a bag at a programmed rate (mL/h) until it is empty (`infusion_complete`); a
//! nurse hangs a new bag 10-40 min later. An occlusion (a kinked line, a closed clamp) stops
//! delivery until a nurse clears it: the pump alarms, the ground truth records a
//! [`PUMP_OCCLUSION_TIER`] condition, and its event log says `occluded` / `occlusion_cleared`.
//! Occlusions come from `pump_occlusion` events and from the scenario's
//! `occlusions_per_pump_day`.

use bevy_ecs::prelude::*;
use rand::RngExt;
use wardtwin_sim::conditions::{ConditionRecord, PUMP_OCCLUSION_TIER, Subject, TierSpell};
use wardtwin_sim::records::{DeviceEventKind, DeviceIx};
use wardtwin_sim::rng::SimRng;
use wardtwin_sim::time::{MINUTE_MS, SimMillis};

/// Programmed rates a pump is drawn from, mL/h (a litre over 24, 12 and 8 h, and common
/// drug and fluid rates).
pub const RATES_ML_H: [f64; 6] = [42.0, 63.0, 83.0, 100.0, 125.0, 167.0];
/// Bag volume, mL.
pub const BAG_ML: f64 = 1000.0;
/// A new bag is hung this long after the last one finished (uniform).
pub const BAG_CHANGE_MS: (i64, i64) = (10 * MINUTE_MS, 40 * MINUTE_MS);
/// A random occlusion is cleared after this long (uniform).
pub const OCCLUSION_MS: (i64, i64) = (2 * MINUTE_MS, 12 * MINUTE_MS);

/// What the pump is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpState {
    Running,
    Occluded,
    Complete,
}

pub use crate::Window;

/// The infusion of one pump.
#[derive(Component, Debug, Clone)]
pub struct Infusion {
    pub rate_ml_h: f64,
    pub remaining_ml: f64,
    pub state: PumpState,
    /// Occlusions, sorted, not overlapping.
    pub occlusions: Vec<Window>,
    /// When the next bag is hung (while complete).
    pub next_bag_ms: SimMillis,
    next: usize,
    rng: SimRng,
    spell: TierSpell,
}

impl Infusion {
    pub fn new(device: DeviceIx, mut rng: SimRng, occlusions: Vec<Window>) -> Self {
        let rate_ml_h = RATES_ML_H[rng.random_range(0..RATES_ML_H.len())];
        let remaining_ml = (BAG_ML * rng.random_range(0.1..1.0)).round();
        Self {
            rate_ml_h,
            remaining_ml,
            state: PumpState::Running,
            occlusions: Window::merged(occlusions),
            next_bag_ms: SimMillis::MAX,
            next: 0,
            rng,
            spell: TierSpell::new(&PUMP_OCCLUSION_TIER, Subject::Device(device)),
        }
    }

    /// Adds the next day's random occlusions (dropping those over).
    pub fn plan(&mut self, new: Vec<Window>) {
        Window::extend_merged(&mut self.occlusions, &mut self.next, new);
    }

    /// One step of `step_ms` at `now`. Returns what happened to the pump, if anything, and
    /// pushes an occlusion condition that ended onto `out`.
    pub fn step(
        &mut self,
        now: SimMillis,
        step_ms: i64,
        out: &mut Vec<ConditionRecord>,
    ) -> Option<DeviceEventKind> {
        while self.next < self.occlusions.len() && self.occlusions[self.next].end_ms <= now {
            self.next += 1;
        }
        let occluded = self
            .occlusions
            .get(self.next)
            .is_some_and(|o| o.start_ms <= now);
        let mut event = None;
        match (self.state, occluded) {
            (PumpState::Occluded, false) => {
                self.state = if self.remaining_ml > 0.0 {
                    PumpState::Running
                } else {
                    PumpState::Complete
                };
                event = Some(DeviceEventKind::OcclusionCleared);
            }
            (PumpState::Running, true) => {
                self.state = PumpState::Occluded;
                event = Some(DeviceEventKind::Occluded);
            }
            (PumpState::Complete, _) if now >= self.next_bag_ms => {
                self.remaining_ml = BAG_ML;
                self.next_bag_ms = SimMillis::MAX;
                self.state = PumpState::Running;
                event = Some(DeviceEventKind::InfusionStarted);
            }
            (PumpState::Running, false) => {
                self.remaining_ml -= self.rate_ml_h * step_ms as f64 / 3_600_000.0;
                if self.remaining_ml <= 0.0 {
                    self.remaining_ml = 0.0;
                    self.state = PumpState::Complete;
                    let wait = self.rng.random_range(BAG_CHANGE_MS.0..=BAG_CHANGE_MS.1);
                    self.next_bag_ms = now + wait;
                    event = Some(DeviceEventKind::InfusionCompleted);
                }
            }
            _ => {}
        }
        if let Some(c) = self.spell.update(now, self.state == PumpState::Occluded) {
            out.push(c);
        }
        event
    }

    /// At the end of the run: the occlusion still going, if any.
    pub fn flush(&self) -> Option<ConditionRecord> {
        self.spell.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardtwin_sim::conditions::ConditionClass;
    use wardtwin_sim::rng::stream;

    #[test]
    fn an_occlusion_stops_delivery_and_is_one_condition_until_cleared() {
        let occ = Window {
            start_ms: 60_000,
            end_ms: 360_000,
        };
        let mut inf = Infusion::new(DeviceIx(2), stream(3, "pump", "infusion"), vec![occ]);
        inf.remaining_ml = 900.0;
        let mut out = Vec::new();
        let mut events = Vec::new();
        let mut at_occlusion = 0.0;
        for s in 0..600 {
            if let Some(e) = inf.step(s * 1000, 1000, &mut out) {
                events.push((s, e));
            }
            if s == 60 {
                at_occlusion = inf.remaining_ml;
            }
            if s == 359 {
                assert_eq!(
                    inf.remaining_ml, at_occlusion,
                    "nothing infused while occluded"
                );
            }
        }
        assert_eq!(
            events,
            vec![
                (60, DeviceEventKind::Occluded),
                (360, DeviceEventKind::OcclusionCleared)
            ]
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].class, ConditionClass::PumpOcclusion);
        assert_eq!((out[0].onset_ms, out[0].end_ms), (60_000, Some(360_000)));
        assert_eq!(out[0].subject, Subject::Device(DeviceIx(2)));
    }

    #[test]
    fn an_empty_bag_completes_and_a_new_one_is_hung() {
        let mut inf = Infusion::new(DeviceIx(0), stream(4, "pump", "infusion"), vec![]);
        inf.rate_ml_h = 120.0;
        inf.remaining_ml = 2.0; // one minute
        let mut out = Vec::new();
        let mut events = Vec::new();
        for s in 0..(60 * 60) {
            if let Some(e) = inf.step(s * 1000, 1000, &mut out) {
                events.push((s, e));
            }
        }
        assert_eq!(events[0], (59, DeviceEventKind::InfusionCompleted));
        let (restart, e) = events[1];
        assert_eq!(e, DeviceEventKind::InfusionStarted);
        assert!((59 + 600..=59 + 2400).contains(&restart), "{restart}");
        assert!(out.is_empty(), "completion is not an occlusion");
    }
}
