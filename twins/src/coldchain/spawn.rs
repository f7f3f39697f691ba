//! Spawning a fridge: its faults from the timeline, its door openings (random for the first
//! days, and scheduled), each recorded as a door-open artifact of its logger.

use bevy_ecs::prelude::*;
use wardtwin_scenarios::Scenario;
use wardtwin_sim::records::{ArtifactKind, ArtifactRecord, DeviceIx, Origin};

use super::{Faults, Fridge};
use crate::Window;
use crate::schedule;

/// Spawns fridge `f` of the scenario, logged by device `logger`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_fridge(
    world: &mut World,
    s: &Scenario,
    seed: u64,
    f: usize,
    logger: DeviceIx,
    mut faults: Faults,
    scheduled_doors: &[Window],
    records: &mut Vec<ArtifactRecord>,
) -> Entity {
    let spec = &s.fridges[f];
    let random_doors: Vec<Window> = schedule::first_days(s)
        .flat_map(|day| schedule::door_openings(s, seed, spec, day))
        .collect();
    for (w, origin) in random_doors
        .iter()
        .map(|w| (w, Origin::Random))
        .chain(scheduled_doors.iter().map(|w| (w, Origin::Scheduled)))
    {
        records.push(ArtifactRecord {
            device: logger,
            kind: ArtifactKind::DoorOpen,
            start_ms: w.start_ms,
            end_ms: w.end_ms,
            origin,
        });
    }
    faults.doors = random_doors;
    faults.doors.extend_from_slice(scheduled_doors);
    for list in [
        &mut faults.doors,
        &mut faults.compressor,
        &mut faults.power,
        &mut faults.probe,
    ] {
        list.sort();
    }
    world
        .spawn((
            Fridge::new(
                spec.kind,
                logger,
                spec.room_c,
                spec.ballast,
                spec.defrost_every_ms,
                faults,
            ),
            schedule::SpecIx(f),
        ))
        .id()
}
