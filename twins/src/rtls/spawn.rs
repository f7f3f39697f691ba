//! Spawning the RTLS twin's movers: tracked equipment (with its trips) and staff (with their
//! rounds and duress presses), each from its own stream.

use rand::RngExt;
use wardtwin_scenarios::{Scenario, SpaceKind};
use wardtwin_sim::records::DeviceIx;
use wardtwin_sim::rng::{SimRng, stream};
use wardtwin_sim::time::{MINUTE_MS, SimMillis};

use super::{Arrival, Mover, Role, Spells, Trip};
use crate::schedule;

/// An asset's trips of the first days (the rest are drawn a day ahead, [`crate::schedule`]) and
/// the scenario's `asset_wander`s (for good).
pub(crate) fn asset_trips(
    s: &Scenario,
    seed: u64,
    a: usize,
    scheduled: Option<Vec<(SimMillis, Option<usize>)>>,
) -> Vec<Trip> {
    let exit = s.layout.exit();
    let mut trips: Vec<Trip> = schedule::first_days(s)
        .flat_map(|day| schedule::trips(s, seed, a, day))
        .collect();
    for (at, to) in scheduled.unwrap_or_default() {
        let to = to.map_or(exit, |w| schedule::base_of(s, w));
        trips.push(Trip {
            depart_ms: at,
            to,
            dwell_ms: None,
        });
    }
    trips.sort();
    trips
}

/// A staff member's duress presses: random (`duress_per_staff_day`, the first days) and
/// scheduled.
pub(crate) fn duress_presses(
    s: &Scenario,
    seed: u64,
    k: usize,
    scheduled: Option<Vec<SimMillis>>,
) -> Vec<SimMillis> {
    let mut v: Vec<SimMillis> = schedule::first_days(s)
        .flat_map(|day| schedule::presses(s, seed, k, day))
        .collect();
    v.extend(scheduled.unwrap_or_default());
    v.sort();
    v
}

fn mover(
    s: &Scenario,
    role: Role,
    tag: DeviceIx,
    ward: usize,
    base: usize,
    mut rng: SimRng,
    speed_m_s: f64,
) -> Mover {
    let r = s.layout.spaces[base].rect;
    let pos = r.at(rng.random_range(0.2..0.8), rng.random_range(0.2..0.8));
    Mover {
        role,
        tag,
        ward,
        base,
        space: base,
        pos,
        speed_m_s,
        route: std::collections::VecDeque::new(),
        target: pos,
        on_arrival: Arrival::Wait(0),
        busy_until: s.epoch_ms,
        stays: false,
        trips: std::collections::VecDeque::new(),
        itinerary: std::collections::VecDeque::new(),
        next_round_ms: s.epoch_ms,
        duress: false,
        duress_changed_ms: SimMillis::MIN,
        presses: super::Presses::default(),
        answering: None,
        security_at: None,
        out_of_zone: false,
        uncovered_since: None,
        rng,
        spells: Spells::new(tag),
    }
}

pub(crate) fn asset_mover(
    s: &Scenario,
    seed: u64,
    a: usize,
    tag: DeviceIx,
    trips: Vec<Trip>,
) -> Mover {
    let spec = &s.assets[a];
    let role = Role::Asset {
        permitted: spec.permitted_zones.clone(),
    };
    let rng = stream(seed, &spec.id, "moves");
    let mut m = mover(
        s,
        role,
        tag,
        spec.ward,
        schedule::base_of(s, spec.ward),
        rng,
        crate::rtls::ASSET_SPEED_M_S,
    );
    m.trips = trips.into();
    m
}

pub(crate) fn staff_mover(
    s: &Scenario,
    seed: u64,
    k: usize,
    tag: DeviceIx,
    presses: Vec<SimMillis>,
) -> Mover {
    let spec = &s.staff[k];
    let l = &s.layout;
    let mates: Vec<usize> = (0..s.staff.len())
        .filter(|j| s.staff[*j].ward == spec.ward)
        .collect();
    let me = mates.iter().position(|j| *j == k).unwrap_or(0);
    let rooms: Vec<usize> = l
        .of_kind(spec.ward, SpaceKind::Room)
        .enumerate()
        .filter(|(i, _)| i % mates.len().max(1) == me)
        .map(|(_, r)| r)
        .collect();
    let base = l
        .of_kind(spec.ward, SpaceKind::Station)
        .next()
        .unwrap_or(l.gateways[spec.ward].0);
    let mut rng = stream(seed, &spec.id, "moves");
    let first_round = s.epoch_ms + rng.random_range(0..=60 * MINUTE_MS);
    let mut m = mover(
        s,
        Role::Staff { rooms },
        tag,
        spec.ward,
        base,
        rng,
        crate::rtls::STAFF_SPEED_M_S,
    );
    m.next_round_ms = first_round;
    m.presses = super::Presses::new(presses);
    m
}
