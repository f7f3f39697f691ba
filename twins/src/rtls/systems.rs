//! RTLS systems: staff answer alarms, everyone moves, conditions are tracked, positions sampled.

use std::collections::BTreeMap;

use bevy_ecs::prelude::*;
use rand::RngExt;
use wardtwin_scenarios::Point;
use wardtwin_sim::conditions::{ASSET_MISSING_AFTER_MS, ConditionRecord};
use wardtwin_sim::records::{DeviceEvent, DeviceEventKind, DeviceIx, PositionRecord};
use wardtwin_sim::time::{MINUTE_MS, SimMillis};
use wardtwin_sim::{ConditionRecorded, DeviceEventOccurred, PositionSampled, SimClock};

use super::{Arrival, Mover, Quiet, Role, RtlsParams, SECURITY_RESPONSE_MS};
use crate::device::sampling::{Sampler, Sensed};
use crate::gateway::Site;
use wardtwin_sim::records::DeviceKind;

/// Sends `m` to `to`, stopping at `target` in it.
fn go(site: &Site, m: &mut Mover, to: usize, target: Point, on_arrival: Arrival) {
    let path = site.layout.path(m.space, to);
    m.route = path.into_iter().skip(1).collect();
    m.target = target;
    m.on_arrival = on_arrival;
    if m.route.is_empty() {
        // Already in that space: walk to the spot.
        m.route.push_back(to);
    }
}

/// A spot in `space` for `m` (staff stand near the middle; equipment along a wall).
fn spot(site: &Site, m: &mut Mover, space: usize) -> Point {
    let r = site.layout.spaces[space].rect;
    let (fx, fy) = (m.rng.random_range(0.2..0.8), m.rng.random_range(0.2..0.8));
    r.at(fx, fy)
}

/// Hops between two spaces (for "nearest").
fn hops(site: &Site, a: usize, b: usize) -> usize {
    site.layout.path(a, b).len()
}

/// Staff answer the ward's device alarms: the nearest free colleague goes to the room.
pub(super) fn respond_to_alarms(
    site: Res<Site>,
    mut events: MessageReader<DeviceEventOccurred>,
    mut movers: Query<&mut Mover>,
) {
    for e in events.read() {
        if !matches!(
            e.0.kind,
            DeviceEventKind::BedExited | DeviceEventKind::Occluded
        ) {
            continue;
        }
        let Some(room) = site
            .device_space
            .get(e.0.device.0 as usize)
            .copied()
            .flatten()
        else {
            continue;
        };
        let ward = site.layout.spaces[room].ward;
        let best = movers
            .iter()
            .filter(|m| m.is_staff() && Some(m.ward) == ward && !m.duress && m.answering.is_none())
            .map(|m| (hops(&site, m.space, room), m.tag))
            .min();
        let Some((_, tag)) = best else { continue };
        let mut m = movers
            .iter_mut()
            .find(|m| m.tag == tag)
            .expect("just found");
        m.itinerary.clear();
        let target = spot(&site, &mut m, room);
        go(&site, &mut m, room, target, Arrival::Wait(5 * MINUTE_MS));
    }
}

/// What happened to one mover this step that others must know.
pub(super) enum Effect {
    Pressed(DeviceIx),
    Arrived { answering: DeviceIx, space: usize },
}

/// Decides, moves and tracks every mover; then applies duress calls and answers.
#[allow(clippy::too_many_arguments)]
pub(super) fn move_people_and_things(
    clock: Res<SimClock>,
    site: Res<Site>,
    params: Res<RtlsParams>,
    mut movers: Query<(&mut Mover, &mut Quiet)>,
    mut events: MessageWriter<DeviceEventOccurred>,
    mut conditions: MessageWriter<ConditionRecorded>,
    mut positions: MessageWriter<PositionSampled>,
    mut effects: Local<Vec<Effect>>,
    mut ended: Local<Vec<ConditionRecord>>,
) {
    let now = clock.now_ms();
    let dt_s = clock.step_ms() as f64 / 1000.0;
    let sample = clock.tick().is_multiple_of(params.truth_every.max(1));
    let event = |device, kind| {
        DeviceEventOccurred(DeviceEvent {
            device,
            sim_ms: now,
            device_ms: now,
            battery_pct: None,
            kind,
        })
    };
    let position = |m: &Mover| {
        PositionSampled(PositionRecord {
            device: m.tag,
            sim_ms: now,
            x_m: m.pos.x_m as f32,
            y_m: m.pos.y_m as f32,
            space: m.space as u32,
        })
    };
    for (mut m, mut quiet) in &mut movers {
        // Nothing to do for a mover standing still until its next decision, press or change
        // of condition, unless another system changed it.
        if !m.is_changed() && now < quiet.until_ms {
            if sample {
                positions.write(position(&m));
            }
            continue;
        }
        let m = &mut *m;
        let was_space = m.space;
        let moved = m.moving();
        if moved {
            walk(&site, m, now, dt_s);
            if !m.moving()
                && let Some(tag) = m.answering
            {
                effects.push(Effect::Arrived {
                    answering: tag,
                    space: m.space,
                });
            }
        } else if now >= m.busy_until && !m.stays && !m.duress {
            decide(&site, m, now);
        }
        // Duress presses.
        // (A press while the button is already pressed is used up all the same.)
        if m.presses.take_due(now) && !m.duress {
            m.duress = true;
            m.duress_changed_ms = now;
            m.route.clear();
            m.itinerary.clear();
            events.write(event(m.tag, DeviceEventKind::DuressPressed));
            effects.push(Effect::Pressed(m.tag));
        }
        if m.duress && m.security_at.is_some_and(|t| now >= t) {
            m.security_at = None;
            answer(m, now, &mut events);
        }
        if m.duress || m.spells.duress.is_open() {
            ended.extend(m.spells.duress.update(now, m.duress));
        }
        // Assets: zone and coverage, re-evaluated when they move.
        let changed = moved || m.space != was_space;
        if let Role::Asset { permitted } = &m.role {
            if changed {
                let zone = &site.layout.spaces[m.space].zone;
                let out = !permitted.iter().any(|z| z == zone);
                if out != m.out_of_zone {
                    m.out_of_zone = out;
                    let kind = if out {
                        DeviceEventKind::ZoneLeft
                    } else {
                        DeviceEventKind::ZoneReturned
                    };
                    events.write(event(m.tag, kind));
                }
            }
            if m.out_of_zone || m.spells.zone.is_open() {
                ended.extend(m.spells.zone.update(now, m.out_of_zone));
            }
            if changed {
                let covered = site.covered(&m.pos, m.space);
                m.uncovered_since = if covered {
                    None
                } else {
                    Some(m.uncovered_since.unwrap_or(now))
                };
            }
            let missing = m
                .uncovered_since
                .is_some_and(|t| now - t >= ASSET_MISSING_AFTER_MS);
            if missing || m.spells.missing.is_open() {
                ended.extend(m.spells.missing.update(now, missing));
            }
        }
        if sample {
            positions.write(position(m));
        }
        *quiet = Quiet::of(m);
    }
    // Duress calls reach the nearest colleague; an answer ends the call.
    if !effects.is_empty() {
        let mut by_tag: BTreeMap<DeviceIx, (usize, usize, bool)> = BTreeMap::new();
        for (m, _) in &movers {
            by_tag.insert(m.tag, (m.ward, m.space, m.is_staff() && !m.duress));
        }
        for e in effects.drain(..) {
            match e {
                Effect::Pressed(caller) => {
                    let (ward, space, _) = by_tag[&caller];
                    let best = by_tag
                        .iter()
                        .filter(|(t, (w, _, free))| **t != caller && *w == ward && *free)
                        .map(|(t, (_, s, _))| (hops(&site, *s, space), *t))
                        .min();
                    match best {
                        Some((_, responder)) => {
                            let (mut r, mut quiet) =
                                movers.iter_mut().find(|(m, _)| m.tag == responder).unwrap();
                            *quiet = Quiet::default();
                            r.itinerary.clear();
                            r.answering = Some(caller);
                            let target = site.layout.spaces[space].rect.center();
                            go(&site, &mut r, space, target, Arrival::Wait(5 * MINUTE_MS));
                            by_tag.get_mut(&responder).expect("known").2 = false;
                        }
                        None => {
                            let (mut c, mut quiet) =
                                movers.iter_mut().find(|(m, _)| m.tag == caller).unwrap();
                            *quiet = Quiet::default();
                            c.security_at = Some(now + SECURITY_RESPONSE_MS);
                        }
                    }
                }
                Effect::Arrived { answering, space } => {
                    let (mut c, mut quiet) =
                        movers.iter_mut().find(|(m, _)| m.tag == answering).unwrap();
                    *quiet = Quiet::default();
                    if c.duress && c.space == space {
                        answer(&mut c, now, &mut events);
                        if let Some(x) = c.spells.duress.update(now, false) {
                            ended.push(x);
                        }
                    }
                    if let Some((mut r, mut quiet)) = movers
                        .iter_mut()
                        .find(|(m, _)| m.answering == Some(answering))
                    {
                        *quiet = Quiet::default();
                        r.answering = None;
                    }
                }
            }
        }
    }
    conditions.write_batch(ended.drain(..).map(ConditionRecorded));
}

fn answer(m: &mut Mover, now: SimMillis, events: &mut MessageWriter<DeviceEventOccurred>) {
    m.duress = false;
    m.duress_changed_ms = now;
    m.busy_until = now + 5 * MINUTE_MS;
    events.write(DeviceEventOccurred(DeviceEvent {
        device: m.tag,
        sim_ms: now,
        device_ms: now,
        battery_pct: None,
        kind: DeviceEventKind::DuressAnswered,
    }));
}

/// One step along the route.
fn walk(site: &Site, m: &mut Mover, now: SimMillis, dt_s: f64) {
    let mut left = m.speed_m_s * dt_s;
    while left > 0.0 {
        let Some(&next) = m.route.front() else { break };
        let last = m.route.len() == 1;
        let way = if last {
            m.target
        } else {
            site.layout.spaces[next].rect.center()
        };
        if m.space != next && site.layout.spaces[next].rect.contains(&m.pos) {
            m.space = next;
        }
        let d = m.pos.distance_m(&way);
        if d <= left {
            m.pos = way;
            m.space = next;
            m.route.pop_front();
            left -= d;
            if last {
                match m.on_arrival {
                    Arrival::Wait(ms) => m.busy_until = now + ms,
                    Arrival::Stay => m.stays = true,
                }
            }
        } else {
            m.pos.x_m += (way.x_m - m.pos.x_m) * left / d;
            m.pos.y_m += (way.y_m - m.pos.y_m) * left / d;
            left = 0.0;
        }
    }
}

/// What a mover standing idle does next.
fn decide(site: &Site, m: &mut Mover, now: SimMillis) {
    match &m.role {
        Role::Staff { rooms } => {
            if let Some((room, dwell)) = m.itinerary.pop_front() {
                let target = spot(site, m, room);
                go(site, m, room, target, Arrival::Wait(dwell));
            } else if now >= m.next_round_ms && !rooms.is_empty() {
                let rooms = rooms.clone();
                for room in rooms {
                    let dwell = m.rng.random_range(2 * MINUTE_MS..=5 * MINUTE_MS);
                    m.itinerary.push_back((room, dwell));
                }
                m.next_round_ms = now + m.rng.random_range(60 * MINUTE_MS..=120 * MINUTE_MS);
            } else if m.space != m.base {
                let base = m.base;
                let target = spot(site, m, base);
                go(site, m, base, target, Arrival::Wait(0));
            } else {
                m.busy_until = m.next_round_ms;
            }
        }
        Role::Asset { .. } => {
            // Routine trips that fell due while it was busy elsewhere are skipped; one for good
            // (taken away, lost) happens as soon as it is free.
            let busy_until = m.busy_until;
            m.trips
                .retain(|t| t.dwell_ms.is_none() || t.depart_ms >= busy_until);
            if let Some(t) = m.trips.front().copied().filter(|t| t.depart_ms <= now) {
                m.trips.pop_front();
                let target = spot(site, m, t.to);
                let on_arrival = t.dwell_ms.map_or(Arrival::Stay, Arrival::Wait);
                go(site, m, t.to, target, on_arrival);
            } else if m.space != m.base {
                let base = m.base;
                let target = spot(site, m, base);
                go(site, m, base, target, Arrival::Wait(0));
            } else {
                m.busy_until = m.trips.front().map_or(SimMillis::MAX, |t| t.depart_ms);
            }
        }
    }
}

/// At the end of the run: conditions still going.
pub(super) fn flush_rtls(q: Query<&Mover>, mut out: MessageWriter<ConditionRecorded>) {
    for m in &q {
        let s = &m.spells;
        out.write_batch(
            [s.zone.flush(), s.missing.flush(), s.duress.flush()]
                .into_iter()
                .flatten()
                .map(ConditionRecorded),
        );
    }
}

/// When a day begins, draws the next day's random trips of every asset and duress presses of
/// every staff member ([`crate::schedule`]).
pub(super) fn plan_movers(
    clock: Res<SimClock>,
    plan: Res<crate::schedule::Plan>,
    mut q: Query<(&mut Mover, &crate::schedule::SpecIx)>,
) {
    use crate::schedule;
    let Some(day) = schedule::day_to_draw(&clock) else {
        return;
    };
    let (s, seed) = (&*plan.scenario, plan.seed);
    for (mut m, &schedule::SpecIx(ix)) in &mut q {
        if matches!(m.role, Role::Staff { .. }) {
            m.presses.extend(schedule::presses(s, seed, ix, day));
            continue;
        }
        // An asset idle at its base waits for its next trip: keep it waiting for the earliest
        // one once the new ones are in.
        let waiting_for = m.trips.front().map_or(SimMillis::MAX, |t| t.depart_ms);
        let idle = m.busy_until == waiting_for;
        m.trips.extend(schedule::trips(s, seed, ix, day));
        m.trips.make_contiguous().sort();
        if idle {
            m.busy_until = m.trips.front().map_or(SimMillis::MAX, |t| t.depart_ms);
        }
    }
}

/// Every due tag and badge beacons (a badge also the moment its duress button changes): the
/// receivers that heard it, or its position.
pub(super) fn sense_tags(
    mut sampler: Sampler,
    site: Res<Site>,
    params: Res<RtlsParams>,
    movers: Query<&Mover>,
    mut heard: Local<Vec<(f64, u16, bool)>>,
) {
    sampler.sample(
        &[DeviceKind::AssetTag, DeviceKind::StaffBadge],
        |_, device, _, obs| {
            let Ok(m) = movers.get(device.subject) else {
                return Sensed::Nothing;
            };
            Sensed::Beacon(super::sense_tag(
                device,
                m,
                &site,
                params.mode,
                obs,
                &mut heard,
            ))
        },
    );
}
