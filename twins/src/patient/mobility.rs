//! Whether a fall-risk patient is in bed.
//!
//! A fall-risk patient gets out of bed now and then, mostly at night (to the toilet, confused):
//! random exits come from the scenario's `bed_exits_per_night` (22:00-06:00 local), lasting
//! minutes; scheduled ones from `bed_exit` events. Each exit is a [`BED_EXIT_TIER`] condition
//! in the ground truth, and what a bed-exit sensor under the patient reports.

use bevy_ecs::prelude::*;
use wardtwin_sim::conditions::{BED_EXIT_TIER, ConditionRecord, Subject, TierSpell};
use wardtwin_sim::records::{DeviceIx, PatientIx};
use wardtwin_sim::time::SimMillis;

pub use crate::Window;

/// A fall-risk patient's presence in bed.
#[derive(Component, Debug, Clone)]
pub struct BedPresence {
    pub in_bed: bool,
    /// When it last changed (the sensor reports a change at once).
    pub changed_ms: SimMillis,
    /// Times out of bed, sorted, not overlapping.
    pub exits: Vec<Window>,
    /// The bed-exit sensor under the patient, if any (its event log records the changes).
    pub sensor: Option<DeviceIx>,
    /// Whether random exits are drawn for it, a day ahead (a fall-risk patient).
    pub random_exits: bool,
    next: usize,
    spell: TierSpell,
}

impl BedPresence {
    /// `exits` may overlap (a random exit and a scheduled one): they are merged.
    pub fn new(patient: PatientIx, sensor: Option<DeviceIx>, exits: Vec<Window>) -> Self {
        Self {
            in_bed: true,
            changed_ms: SimMillis::MIN,
            exits: Window::merged(exits),
            sensor,
            random_exits: false,
            next: 0,
            spell: TierSpell::new(&BED_EXIT_TIER, Subject::Patient(patient)),
        }
    }

    /// Adds the next day's random exits (dropping those over).
    pub fn plan(&mut self, new: Vec<Window>) {
        Window::extend_merged(&mut self.exits, &mut self.next, new);
    }

    /// One step at `now`: returns whether the patient got out of (`Some(false)`) or back into
    /// (`Some(true)`) bed; pushes a bed-exit condition that ended onto `out`.
    pub fn step(&mut self, now: SimMillis, out: &mut Vec<ConditionRecord>) -> Option<bool> {
        while self.next < self.exits.len() && self.exits[self.next].end_ms <= now {
            self.next += 1;
        }
        let in_bed = self.exits.get(self.next).is_none_or(|e| now < e.start_ms);
        let changed = (in_bed != self.in_bed).then_some(in_bed);
        if changed.is_some() {
            self.in_bed = in_bed;
            self.changed_ms = now;
        }
        if let Some(c) = self.spell.update(now, !in_bed) {
            out.push(c);
        }
        changed
    }

    /// At the end of the run: the exit still going, if any.
    pub fn flush(&self) -> Option<ConditionRecord> {
        self.spell.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardtwin_sim::conditions::ConditionClass;

    #[test]
    fn an_exit_is_one_condition_from_leaving_the_bed_to_coming_back() {
        let mut b = BedPresence::new(
            PatientIx(4),
            None,
            vec![
                Window {
                    start_ms: 10_000,
                    end_ms: 70_000,
                },
                Window {
                    start_ms: 60_000,
                    end_ms: 100_000,
                },
            ],
        );
        let mut out = Vec::new();
        let mut changes = Vec::new();
        for s in 0..200 {
            if let Some(c) = b.step(s * 1000, &mut out) {
                changes.push((s, c));
            }
        }
        assert_eq!(changes, vec![(10, false), (100, true)], "overlaps merge");
        assert_eq!(out.len(), 1);
        let c = out[0];
        assert_eq!(c.class, ConditionClass::BedExit);
        assert_eq!((c.onset_ms, c.end_ms), (10_000, Some(100_000)));
        assert_eq!(c.subject, Subject::Patient(PatientIx(4)));
    }
}
