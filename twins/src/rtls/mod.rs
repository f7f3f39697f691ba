//! RTLS: tracked equipment and staff moving along the floor plan, and what their tags report.
//!
//! **Movement.** Everyone walks the graph of spaces (`scenarios::layout`) from space centre
//! to space centre at walking pace (staff 1.2 m/s, equipment pushed at 0.8 m/s). Where they
//! are is the truth: position (site metres) and space, hence zone.
//!
//! - **Equipment** lives in its ward's equipment room. It is taken to a patient room in use
//!   (`moves_per_asset_day`, for 1-6 h) and brought back; now and then taken to another ward
//!   and left there for 2-8 h before a porter returns it (`wanders_per_asset_day`: a zone
//!   breach), or taken out of the building (`losses_per_asset_day`: out of every receiver's
//!   range, then missing). `asset_wander` events do the same on cue (and it stays).
//! - **Staff** wait at the nurses' station, do rounds of their rooms every 60-120 min (2-5
//!   min in each), answer the ward's device alarms (a bed exit, a pump occlusion: the nearest
//!   free colleague goes to the room) and duress calls: whoever presses the button (randomly,
//!   `duress_per_staff_day`, or a `duress` event) stays put until the nearest colleague
//!   reaches them.
//!
//! **Tags** report every `report_interval`: BLE tags the RSSI at the receivers that heard
//! them (up to three, strongest first; [`crate::gateway::mean_rssi`] plus shadowing), UWB
//! tags a position with an error of 0.2 m (an anchor in the same space: line of sight) or
//! 0.75 m (DOMAIN.md section 5). A badge also reports its duress button, at once when pressed.
//!
//! **Ground truth:** positions every truth interval (`positions.parquet`), and the conditions
//! [`ZONE_BREACH_TIER`] (an asset outside its home ward's zone for 2 min or more),
//! [`ASSET_MISSING_TIER`] (out of every receiver's range for 30 min) and [`DURESS_TIER`] (from
//! the press until a colleague arrives).

pub(crate) mod spawn;
mod systems;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use bevy_app::{App, Plugin, Update};
use bevy_ecs::prelude::*;
use wardtwin_scenarios::{Point, RtlsMode};
use wardtwin_sim::conditions::{
    ASSET_MISSING_AFTER_MS, ASSET_MISSING_TIER, DURESS_TIER, Subject, TierSpell, ZONE_BREACH_TIER,
};
use wardtwin_sim::records::{DeviceIx, MAX_OBS, Metric, NO_SOURCE, ObsStatus, Observation};
use wardtwin_sim::rng::SimRng;
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{SimEnd, SimSet};

/// Walking pace, m/s.
pub const STAFF_SPEED_M_S: f64 = 1.2;
pub const ASSET_SPEED_M_S: f64 = 0.8;
/// UWB position error (1 SD per axis), m: an anchor in the same space, and not.
pub const UWB_LOS_SD_M: f64 = 0.2;
pub const UWB_NLOS_SD_M: f64 = 0.75;
/// A duress call nobody can answer (a lone staff member) is answered by security this late.
pub const SECURITY_RESPONSE_MS: i64 = 5 * 60_000;

/// RTLS settings the systems need.
#[derive(Resource, Debug, Clone, Copy)]
pub struct RtlsParams {
    pub mode: RtlsMode,
    /// Ticks between ground-truth position samples.
    pub truth_every: u64,
}

/// What a mover does once it gets where it is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Wait this long, then carry on.
    Wait(i64),
    /// Stay for good.
    Stay,
}

/// A planned trip: leave at `depart_ms` for `to`, stay `dwell_ms` (then go home), or for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Trip {
    pub depart_ms: SimMillis,
    pub to: usize,
    pub dwell_ms: Option<i64>,
}

/// Who moves.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    Asset { permitted: Vec<String> },
    Staff { rooms: Vec<usize> },
}

/// Something (equipment) or someone (staff) that moves, with a tag.
#[derive(Component, Debug)]
#[require(Quiet)]
pub struct Mover {
    pub role: Role,
    pub tag: DeviceIx,
    pub ward: usize,
    /// Where it belongs: the equipment room, or the nurses' station.
    pub base: usize,
    /// The space it is in now, and where.
    pub space: usize,
    pub pos: Point,
    pub speed_m_s: f64,
    /// Spaces still to pass (front: the next one), and the point to stop at in the last.
    pub route: VecDeque<usize>,
    pub target: Point,
    pub on_arrival: Arrival,
    /// When it may do the next thing (it is waiting somewhere until then).
    pub busy_until: SimMillis,
    /// Stays where it is for good (an asset left outside, or left on cue).
    pub stays: bool,
    /// Planned trips, by departure (front: the next).
    pub trips: VecDeque<Trip>,
    /// Staff: rooms still to visit on this round, with the time to spend in each.
    pub itinerary: VecDeque<(usize, i64)>,
    /// Staff: when the next round starts.
    pub next_round_ms: SimMillis,
    /// Badge: the duress button is pressed (until answered), and when it last changed.
    pub duress: bool,
    pub duress_changed_ms: SimMillis,
    /// Duress presses still to come.
    pub presses: Presses,
    /// Answering a colleague's duress call (the caller's badge).
    pub answering: Option<DeviceIx>,
    /// A duress call nobody could answer: security arrives then.
    pub security_at: Option<SimMillis>,
    /// Outside its permitted zones (assets).
    pub out_of_zone: bool,
    /// Out of every receiver's range since then.
    pub uncovered_since: Option<SimMillis>,
    pub rng: SimRng,
    pub spells: Spells,
}

/// Until when a mover standing still has nothing to do: no decision, no press, no condition that
/// can change (`SimMillis::MIN`: look at it every step). Every mover is visited every step; a
/// quiet one costs a look at this instead of at its whole [`Mover`], which at thousands of
/// movers no longer fits in cache. Recomputed whenever the mover is looked at; anything else
/// that changes a mover marks it changed (Bevy change detection) or resets this.
#[derive(Component, Debug, Clone, Copy)]
pub struct Quiet {
    pub until_ms: SimMillis,
}

impl Default for Quiet {
    fn default() -> Self {
        Self {
            until_ms: SimMillis::MIN,
        }
    }
}

impl Quiet {
    /// Until when `m`, as it is now, has nothing to do.
    pub fn of(m: &Mover) -> Self {
        let every_step = Self::default();
        if m.moving() || m.duress || m.spells.duress.is_open() {
            return every_step;
        }
        let mut until = m.presses.next().unwrap_or(SimMillis::MAX);
        if !m.stays {
            until = until.min(m.busy_until);
        }
        if let Role::Asset { .. } = m.role {
            if m.out_of_zone || m.spells.zone.is_open() || m.spells.missing.is_open() {
                return every_step;
            }
            if let Some(t) = m.uncovered_since {
                until = until.min(t.saturating_add(ASSET_MISSING_AFTER_MS));
            }
        }
        Self { until_ms: until }
    }
}

/// A badge's duress presses still to come, sorted. The next one is kept beside the queue: every
/// mover is looked at every step, and reading the queue's heap storage for each would be a
/// cache miss per mover per step in a large hospital.
#[derive(Debug, Clone, Default)]
pub struct Presses {
    queue: VecDeque<SimMillis>,
    next: Option<SimMillis>,
}

impl Presses {
    pub fn new(mut presses: Vec<SimMillis>) -> Self {
        presses.sort_unstable();
        let queue = VecDeque::from(presses);
        Self {
            next: queue.front().copied(),
            queue,
        }
    }

    /// Takes the next press if it has come by `now`.
    pub fn take_due(&mut self, now: SimMillis) -> bool {
        if self.next.is_none_or(|t| t > now) {
            return false;
        }
        self.queue.pop_front();
        self.next = self.queue.front().copied();
        true
    }

    /// Adds presses (another day's).
    pub fn extend(&mut self, more: impl IntoIterator<Item = SimMillis>) {
        self.queue.extend(more);
        self.queue.make_contiguous().sort_unstable();
        self.next = self.queue.front().copied();
    }

    /// When the next press comes.
    pub fn next(&self) -> Option<SimMillis> {
        self.next
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// The conditions a mover can be in.
#[derive(Debug)]
pub struct Spells {
    pub zone: TierSpell,
    pub missing: TierSpell,
    pub duress: TierSpell,
}

impl Spells {
    pub fn new(tag: DeviceIx) -> Self {
        let s = Subject::Device(tag);
        Self {
            zone: TierSpell::new(&ZONE_BREACH_TIER, s),
            missing: TierSpell::new(&ASSET_MISSING_TIER, s),
            duress: TierSpell::new(&DURESS_TIER, s),
        }
    }
}

impl Mover {
    pub fn is_staff(&self) -> bool {
        matches!(self.role, Role::Staff { .. })
    }
    pub fn moving(&self) -> bool {
        !self.route.is_empty()
    }
}

/// What a tag reports now, into `obs`; returns how many observations (0: nobody heard it).
/// `heard` is scratch space (RSSI, receiver, same space), reused between calls.
pub fn sense_tag(
    device: &mut crate::device::Device,
    m: &Mover,
    site: &crate::gateway::Site,
    mode: RtlsMode,
    obs: &mut [Observation; MAX_OBS],
    heard: &mut Vec<(f64, u16, bool)>,
) -> usize {
    use rand_distr::{Distribution, Normal};
    let radio = &site.radio;
    let badge = m.is_staff();
    let mut n = 0;
    if badge {
        obs[0] = Observation {
            metric: Metric::DuressButton,
            value: Some(if m.duress { 1.0 } else { 0.0 }),
            status: ObsStatus::Ok,
            source: NO_SOURCE,
        };
        n = 1;
    }
    let noise = Normal::new(0.0, radio.shadowing_sd_db.max(1e-9)).expect("sd > 0");
    heard.clear();
    for &rx in &site.reachable[m.space] {
        let r = &site.layout.receivers[usize::from(rx)];
        let mean = crate::gateway::mean_rssi(radio, &m.pos, m.space, &r.at, r.space);
        let rssi = mean + noise.sample(&mut device.rng);
        if rssi >= radio.sensitivity_dbm {
            heard.push((rssi, rx, r.space == m.space));
        }
    }
    if heard.is_empty() {
        return 0;
    }
    heard.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    match mode {
        RtlsMode::Ble => {
            for &(rssi, rx, _) in heard.iter().take(MAX_OBS - n) {
                obs[n] = Observation {
                    metric: Metric::Rssi,
                    value: Some(rssi.round() as f32),
                    status: ObsStatus::Ok,
                    source: rx,
                };
                n += 1;
            }
        }
        RtlsMode::Uwb => {
            let los = heard.iter().any(|h| h.2);
            let sd = if los { UWB_LOS_SD_M } else { UWB_NLOS_SD_M };
            let err = Normal::new(0.0, sd).expect("sd > 0");
            let best = heard[0].1;
            for (metric, v) in [
                (Metric::PositionX, m.pos.x_m),
                (Metric::PositionY, m.pos.y_m),
            ] {
                let e: f64 = err.sample(&mut device.rng);
                obs[n] = Observation {
                    metric,
                    value: Some(((v + e) * 100.0).round() as f32 / 100.0),
                    status: ObsStatus::Ok,
                    source: best,
                };
                n += 1;
            }
        }
    }
    n
}

/// The RTLS systems: decide, move, track conditions, sample positions.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtlsSystems;

/// Tracked equipment and staff.
pub struct RtlsPlugin;

impl Plugin for RtlsPlugin {
    fn build(&self, app: &mut App) {
        app.configure_sets(
            Update,
            RtlsSystems
                .in_set(SimSet::Dynamics)
                .after(crate::coldchain::ColdChainSystems),
        )
        .add_systems(Update, systems::plan_movers.in_set(SimSet::Plan))
        .add_systems(
            Update,
            (systems::respond_to_alarms, systems::move_people_and_things)
                .chain()
                .in_set(RtlsSystems),
        )
        .configure_sets(
            SimEnd,
            RtlsSystems
                .in_set(SimSet::Dynamics)
                .after(crate::coldchain::ColdChainSystems),
        )
        .add_systems(SimEnd, systems::flush_rtls.in_set(RtlsSystems));
        crate::device::sampling::sensing(app, systems::sense_tags);
    }
}
