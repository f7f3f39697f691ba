//! Ward gateways and the radio between devices and them.
//!
//! **Radio.** A device reaches its ward's gateway through the RTLS receivers, which double as
//! its access points (they are wired to the gateway). A transmission is heard by a receiver if
//! `RSSI = P1m − 10·n·log10(d) − walls + X ≥ sensitivity`, with `X ~ N(0, σ)` drawn per
//! transmission and `walls` one wall loss when the receiver is in another space
//! (`[radio]`, defaults from DOMAIN.md section 5). Each device knows its three best receivers
//! (by mean RSSI, from where it stands); a device with a connection retries `retries` times;
//! a tag's advert is heard by whichever receivers hear it (that is its payload), never
//! retried. A transmission nobody hears is `radio_lost` in the ledger. A draw is skipped when
//! the link margin is over 8 σ (it cannot fail; the result is the same).
//!
//! **Gateway.** Each ward's gateway spools what its receivers hear (a bounded store-and-forward
//! queue of `spool_limit` messages) and forwards it upstream while its uplink is up, at most
//! `forward_rate` messages per second, oldest first: a reading forwarded after its emission's
//! step was `delivered_late`. A full spool drops by its policy: `drop_oldest` (the default:
//! keep the freshest data) or `drop_newest`; the victim is `spool_dropped`. Messages still
//! spooled at the end are `unsent`. The gateway reports its own status (spool depth, drops so
//! far, uplink) as an `edge_gateway` device, through its own spool.
//!
//! **Faults** ([`crate::faults`]): an `uplink_outage` (and each down half of an
//! `uplink_flapping`) takes the uplink down; a `wifi_outage` takes the ward's receivers down
//! (what only they would have heard is `radio_lost`, or kept in the device's onboard buffer); a
//! `radio_interference` takes `attenuation` dB off every transmission to the ward's receivers;
//! a device `out_of_coverage` reaches no receiver; an `uplink_degraded` fault acts on what its
//! gateway forwards, like netem on its link: each message arrives `latency` ± `jitter`
//! (uniform) later, so messages overtake each other when the jitter exceeds their spacing; a
//! share `loss` never arrives (`uplink_lost`); a `bandwidth` caps the messages per second (a
//! token bucket one step deep; the rest wait in the spool); messages still on the way when the
//! run ends are `unsent`. A broker outage or restart takes every gateway's uplink down. A
//! `gateway_crash` or `gateway_power_loss` stops the gateway: its receivers pass nothing on, it
//! forwards nothing and reports nothing, and a volatile spool is lost (`spool_lost`).
//! Devices with an onboard buffer (`buffer` in the kit) keep what nobody heard and upload it,
//! in order, when a receiver hears them again; a full buffer drops its oldest
//! (`buffer_dropped`), and what is still buffered at the end is `unsent`.

mod systems;

/// Spawns ward `w`'s gateway, whose own status device is `device`, with its faults.
pub(crate) fn spawn_gateway(
    world: &mut bevy_ecs::world::World,
    s: &wardtwin_scenarios::Scenario,
    w: usize,
    device: DeviceIx,
    faults: WardFaults,
) -> bevy_ecs::entity::Entity {
    let g = &s.gateways;
    world
        .spawn(Gateway {
            ward: w,
            device,
            spool: std::collections::VecDeque::new(),
            spool_limit: g.spool_limit,
            policy: g.drop_policy,
            forward_per_step: ((g.forward_rate_per_s * s.step_ms as f64 / 1000.0).ceil() as usize)
                .max(1),
            outages: Window::merged(faults.uplink),
            uplink_up: true,
            dropped: 0,
            wifi: faults.wifi,
            interference: faults.interference,
            down: faults.down,
            powered: true,
            degraded: faults.degraded,
            uplink_rng: faults.uplink_rng,
            credit: 0.0,
            transit: std::collections::BinaryHeap::new(),
            sent: 0,
        })
        .id()
}
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use bevy_app::{App, Plugin, Update};
use bevy_ecs::prelude::*;
use wardtwin_scenarios::{DropPolicy, Layout, Point, Radio};
use wardtwin_sim::records::{DeviceIx, Reading};
use wardtwin_sim::rng::SimRng;
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{DirectUplink, FileTransport, ForwardedByPlugin, SimEnd, SimSet};

use crate::Window;
use crate::faults::WardFaults;
use wardtwin_sim::records::Degradation;

/// Mean RSSI of a transmission from `at` (in space `from_space`) to a receiver at `rx` (in
/// `rx_space`), dBm.
pub fn mean_rssi(radio: &Radio, at: &Point, from_space: usize, rx: &Point, rx_space: usize) -> f64 {
    let d = at.distance_m(rx).max(0.5);
    let walls = if from_space == rx_space {
        0.0
    } else {
        radio.wall_loss_db
    };
    radio.p1m_dbm - 10.0 * radio.exponent * d.log10() - walls
}

/// The site as the radio sees it: receivers, their gateways, and for each space the receivers
/// a transmitter there may reach (its own and its neighbours').
#[derive(Resource, Debug, Clone)]
pub struct Site {
    pub layout: Layout,
    pub radio: Radio,
    /// Gateway (ward index) of each receiver.
    pub receiver_gateway: Vec<usize>,
    /// Receivers reachable from each space.
    pub reachable: Vec<Vec<u16>>,
    /// The space of each device that stays put (a patient's devices: their bed's room), by
    /// dense device index; `None` for tags and gateways.
    pub device_space: Vec<Option<usize>>,
}

impl Site {
    pub fn new(layout: Layout, radio: Radio) -> Self {
        let wards = layout.gateways.len().max(1);
        let receiver_gateway = layout
            .receivers
            .iter()
            .map(|r| match layout.spaces[r.space].ward {
                Some(w) => w,
                // A site receiver is wired to the gateway nearest to it.
                None => (0..layout.gateways.len())
                    .min_by(|a, b| {
                        let da = layout.gateways[*a].1.distance_m(&r.at);
                        let db = layout.gateways[*b].1.distance_m(&r.at);
                        da.total_cmp(&db).then(a.cmp(b))
                    })
                    .unwrap_or(0)
                    .min(wards - 1),
            })
            .collect();
        let reachable = (0..layout.spaces.len())
            .map(|s| {
                layout
                    .receivers
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.space == s || layout.spaces[s].neighbours.contains(&r.space))
                    .map(|(i, _)| i as u16)
                    .collect()
            })
            .collect();
        Self {
            layout,
            radio,
            receiver_gateway,
            reachable,
            device_space: Vec::new(),
        }
    }

    /// Mean RSSI at each receiver reachable from `at` in `space`.
    fn reachable_rssi<'a>(
        &'a self,
        at: &'a Point,
        space: usize,
    ) -> impl Iterator<Item = (u16, f64)> + 'a {
        self.reachable[space].iter().map(move |&r| {
            let rx = &self.layout.receivers[usize::from(r)];
            (r, mean_rssi(&self.radio, at, space, &rx.at, rx.space))
        })
    }

    /// The (up to three) best receivers from `at` in `space`, by mean RSSI, best first.
    pub fn best_receivers(&self, at: &Point, space: usize) -> Receivers {
        let mut c: Vec<(u16, f32)> = self
            .reachable_rssi(at, space)
            .map(|(r, rssi)| (r, rssi as f32))
            .collect();
        c.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut best = Receivers::default();
        for (slot, r) in best.best.iter_mut().zip(c) {
            *slot = r;
            best.n += 1;
        }
        best
    }

    /// Whether a transmitter at `at` in `space` is in range of any receiver (mean RSSI at or
    /// over the sensitivity): the truth behind "missing".
    pub fn covered(&self, at: &Point, space: usize) -> bool {
        self.reachable_rssi(at, space)
            .any(|(_, rssi)| rssi >= self.radio.sensitivity_dbm)
    }
}

/// A device's best receivers (up to three), with their mean RSSI in dBm, best first. Kept
/// inline: every reading looks at them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Receivers {
    best: [(u16, f32); 3],
    n: u8,
}

impl Receivers {
    pub fn as_slice(&self) -> &[(u16, f32)] {
        &self.best[..usize::from(self.n)]
    }
}

/// How a device reaches its gateway.
#[derive(Debug, Clone)]
pub enum Link {
    /// The gateway itself (its own status): straight into its spool.
    Wired { gateway: usize },
    /// A device with a connection: its best receivers, with their mean RSSI.
    Radio { receivers: Receivers },
    /// A tag: the receivers that heard its advert are in the reading.
    Tag,
}

/// A device's link and its radio stream, side by side (both are read for every reading),
/// with its onboard buffer: readings no receiver heard, kept (up to `buffer_cap`, oldest
/// dropped first) and uploaded, in order, the next time a receiver hears it. Most devices
/// have none (`buffer_cap` 0: what nobody hears is lost).
#[derive(Debug, Clone)]
pub struct DeviceLink {
    pub link: Link,
    pub rng: SimRng,
    pub buffer_cap: usize,
    pub buffer: VecDeque<Reading>,
    /// Carried out of coverage (an `out_of_coverage` fault): nobody hears it then.
    pub away: Vec<Window>,
}

/// Every device's link and radio stream, by dense device index.
#[derive(Resource, Debug, Default)]
pub struct Links {
    pub devices: Vec<DeviceLink>,
}

/// A ward's edge gateway.
#[derive(Component, Debug)]
pub struct Gateway {
    /// Ward index (the gateway's index).
    pub ward: usize,
    /// Its own status device.
    pub device: DeviceIx,
    pub spool: VecDeque<Reading>,
    pub spool_limit: usize,
    pub policy: DropPolicy,
    /// Messages it may forward per step when draining.
    pub forward_per_step: usize,
    pub outages: Vec<Window>,
    pub uplink_up: bool,
    /// Messages dropped from a full spool so far.
    pub dropped: u64,
    /// Its receivers down (merged windows).
    pub wifi: Vec<Window>,
    /// Interference on its receivers: the extra loss (dB), sorted.
    pub interference: Vec<(Window, f64)>,
    /// The gateway down (crash and reboot, power loss), and whether its spool survives.
    pub down: Vec<(Window, bool)>,
    /// Whether it is running (not crashed, not without power).
    pub powered: bool,
    /// Its uplink degraded (latency, jitter, loss, bandwidth), sorted, and the stream of
    /// its draws.
    pub degraded: Vec<(Window, Degradation)>,
    pub uplink_rng: Option<SimRng>,
    /// Messages a bandwidth-capped uplink may still send (a token bucket, one step deep).
    pub credit: f64,
    /// Messages on a slow uplink, not yet arrived: the earliest arrival first.
    pub transit: std::collections::BinaryHeap<std::cmp::Reverse<InTransit>>,
    /// Messages put on a slow uplink so far (their order among equal arrivals).
    pub sent: u64,
}

/// A message on a slow uplink: it arrives at `arrive_ms`.
#[derive(Debug, Clone, Copy)]
pub struct InTransit {
    pub arrive_ms: SimMillis,
    pub order: u64,
    pub reading: Reading,
}

impl PartialEq for InTransit {
    fn eq(&self, other: &Self) -> bool {
        (self.arrive_ms, self.order) == (other.arrive_ms, other.order)
    }
}
impl Eq for InTransit {}
impl PartialOrd for InTransit {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InTransit {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.arrive_ms, self.order).cmp(&(other.arrive_ms, other.order))
    }
}

impl Gateway {
    /// The down window it is in at `t`, if any.
    pub fn down_at(&self, t: SimMillis) -> Option<&(Window, bool)> {
        self.down
            .iter()
            .take_while(|(w, _)| w.start_ms <= t)
            .find(|(w, _)| w.contains(t))
    }

    /// The extra loss on its receivers at `t` (interference), dB.
    pub fn attenuation_at(&self, t: SimMillis) -> f64 {
        self.interference
            .iter()
            .take_while(|(w, _)| w.start_ms <= t)
            .filter(|(w, _)| w.contains(t))
            .map(|(_, db)| db)
            .sum()
    }

    /// The degradation of its uplink at `t`, if any.
    pub fn degraded_at(&self, t: SimMillis) -> Option<Degradation> {
        self.degraded
            .iter()
            .take_while(|(w, _)| w.start_ms <= t)
            .find(|(w, _)| w.contains(t))
            .map(|(_, d)| *d)
    }

    /// Whether its receivers pass on what they hear at `t` (they are up, and so is it).
    pub fn receiving(&self, t: SimMillis) -> bool {
        self.powered
            && !self
                .wifi
                .iter()
                .take_while(|w| w.start_ms <= t)
                .any(|w| w.contains(t))
    }

    /// Spools `r`; returns the reading the policy dropped, if the spool was full.
    pub fn spool(&mut self, r: Reading) -> Option<Reading> {
        if self.spool.len() < self.spool_limit {
            self.spool.push_back(r);
            return None;
        }
        self.dropped += 1;
        match self.policy {
            DropPolicy::DropOldest => {
                let victim = self.spool.pop_front();
                self.spool.push_back(r);
                victim
            }
            DropPolicy::DropNewest => Some(r),
        }
    }
}

/// The gateway systems: route this step's emissions over the radio into spools, then forward.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GatewaySystems;

/// Ward gateways and the radio.
pub struct GatewayPlugin;

impl Plugin for GatewayPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ForwardedByPlugin>()
            .configure_sets(
                Update,
                GatewaySystems
                    .in_set(SimSet::Transport)
                    .after(DirectUplink)
                    .before(FileTransport),
            )
            .add_systems(
                Update,
                (systems::route, systems::forward)
                    .chain()
                    .in_set(GatewaySystems),
            )
            .configure_sets(SimEnd, GatewaySystems.in_set(SimSet::Dynamics))
            .add_systems(SimEnd, systems::flush_spools.in_set(GatewaySystems));
        crate::device::sampling::sensing(app, systems::sense_self);
    }
}
