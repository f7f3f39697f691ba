//! Faults: what a drill does to the hospital's devices and network, and what the receiving
//! side could know of it.
//!
//! **The plan.** A scenario's fault events ([`EventKind::is_fault`]) become [`FaultRecord`]s
//! (the drill's ground truth, `faults.parquet`), recorded in `SimSet::Faults` the step each
//! fault begins, and the mechanisms they drive, each where it acts: a ward's uplink outages,
//! flapping, degradation, receivers down and gateway crashes or power losses are the gateway's
//! (a broker outage or restart is every gateway's uplink down)
//! ([`WardFaults`], read by `gateway`); battery waves and clock steps are the devices'
//! ([`DeviceFaults`], applied when they are spawned). Physiology never asks whether the
//! network is up.
//!
//! **What the receiving side could know** ([`gaps`]): conditions derived from what reached
//! the broker, not from what the devices did: `data_gap` per device and `gateway_offline` per
//! ward gateway.

pub mod gaps;

use std::collections::BTreeMap;

use bevy_app::{App, Plugin, Update};
use bevy_ecs::prelude::*;
use rand::RngExt;
use wardtwin_scenarios::{EventKind, GatewayDownCause, Scenario, Target};
use wardtwin_sim::records::{
    Degradation, DeviceIx, DeviceKind, FaultKind, FaultParam, FaultRecord,
};
use wardtwin_sim::rng::{SimRng, stream};
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{FaultRecorded, SimClock, SimSet};

use crate::Window;

/// A ward's network faults, as its gateway applies them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WardFaults {
    /// Uplink down (outages and the down halves of flapping), merged.
    pub uplink: Vec<Window>,
    /// Its receivers down.
    pub wifi: Vec<Window>,
    /// The gateway itself down (crash and reboot, power loss), with whether its spool
    /// survives.
    pub down: Vec<(Window, bool)>,
    /// Interference on its receivers: the extra loss (dB), sorted.
    pub interference: Vec<(Window, f64)>,
    /// Its uplink degraded (latency, jitter, loss, bandwidth), sorted.
    pub degraded: Vec<(Window, Degradation)>,
    /// The draws of its degraded uplink (which message is lost, each one's delay): a stream
    /// of its own, so a fault elsewhere changes nothing here.
    pub uplink_rng: Option<SimRng>,
}

/// What faults do to one device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceFaults {
    /// A battery wave flattens it at this moment.
    pub flat_at_ms: Option<SimMillis>,
    /// Clock steps: from when, by how much (ms, signed).
    pub clock_steps: Vec<(SimMillis, i64)>,
    /// Carried out of coverage: no receiver hears it.
    pub away: Vec<Window>,
    /// Clock drifts beyond spec: from when, how much more (ppm, signed).
    pub clock_drifts: Vec<(SimMillis, f64)>,
}

/// The run's faults, in timeline order, and how far recording has got.
#[derive(Resource, Debug, Default)]
pub struct FaultPlan {
    pub records: Vec<FaultRecord>,
    next: usize,
}

/// Everything the scenario's faults do, worked out before the run: the records, each ward's
/// network faults, and each device's.
pub struct Planned {
    pub plan: FaultPlan,
    pub wards: Vec<WardFaults>,
    pub devices: BTreeMap<DeviceIx, DeviceFaults>,
}

/// A device as the fault plan needs it: its index, id, kind and ward, and whether it runs on
/// a battery that a wave can flatten (the devices patients wear or have at the bedside).
pub struct PlanDevice<'a> {
    pub ix: DeviceIx,
    pub id: &'a str,
    pub kind: DeviceKind,
    pub ward: usize,
    pub bed: Option<usize>,
}

/// Works out the scenario's faults for the spawned `devices` (sorted by index).
pub fn plan(s: &Scenario, seed: u64, devices: &[PlanDevice]) -> Planned {
    let end_ms = s.epoch_ms + s.duration_ms;
    let mut wards = vec![WardFaults::default(); s.wards.len()];
    let mut per_device: BTreeMap<DeviceIx, DeviceFaults> = BTreeMap::new();
    let mut records = Vec::new();
    let gateway_of = |w: usize| {
        devices
            .iter()
            .find(|d| d.kind == DeviceKind::EdgeGateway && d.ward == w)
            .map(|d| d.ix)
    };
    for (n, ev) in s.events.iter().enumerate() {
        if !ev.kind.is_fault() {
            continue;
        }
        let at = s.epoch_ms + ev.at_ms;
        let window = |d: i64| Window {
            start_ms: at,
            end_ms: (at + d).min(end_ms),
        };
        let heal = |d: i64| (at + d <= end_ms).then_some(at + d);
        let (ward, bed) = match ev.target {
            Target::Ward(w) => (Some(w), None),
            Target::Bed(b) => (None, Some(b)),
            _ => (None, None),
        };
        let ward_id = |w: usize| s.wards[w].id.as_str();
        // The devices a clock fault hits: a ward's (not its gateway), or one bed's of a kind.
        let clock_targets = |device: Option<DeviceKind>| -> Vec<DeviceIx> {
            match (ward, bed, device) {
                (Some(w), _, _) => devices
                    .iter()
                    .filter(|d| d.ward == w && d.kind != DeviceKind::EdgeGateway)
                    .map(|d| d.ix)
                    .collect(),
                (None, Some(b), Some(k)) => devices
                    .iter()
                    .filter(|d| d.bed == Some(b) && d.kind == k)
                    .map(|d| d.ix)
                    .collect(),
                _ => Vec::new(),
            }
        };
        let mut record = FaultRecord {
            id: n as u32,
            kind: FaultKind::UplinkOutage,
            gateway: ward.and_then(gateway_of),
            device: None,
            start_ms: at,
            end_ms: None,
            param: FaultParam::None,
        };
        match ev.kind {
            EventKind::UplinkOutage { duration_ms } => {
                let w = ward.expect("validated: a ward");
                wards[w].uplink.extend(cut_windows(ev, at, end_ms));
                record.end_ms = heal(duration_ms);
            }
            EventKind::UplinkFlapping {
                duration_ms,
                period_ms,
            } => {
                let w = ward.expect("validated: a ward");
                wards[w].uplink.extend(cut_windows(ev, at, end_ms));
                record.kind = FaultKind::UplinkFlapping;
                record.end_ms = heal(duration_ms);
                record.param = FaultParam::PeriodMs(period_ms);
            }
            EventKind::UplinkDegraded { duration_ms, how } => {
                let w = ward.expect("validated: a ward");
                wards[w].degraded.push((window(duration_ms), how));
                wards[w].uplink_rng.get_or_insert_with(|| {
                    stream(seed, &format!("edge-{}", ward_id(w)), "uplink_degraded")
                });
                record.kind = FaultKind::UplinkDegraded;
                record.end_ms = heal(duration_ms);
                record.param = FaultParam::Degraded(how);
            }
            EventKind::BrokerDown {
                restart,
                duration_ms,
                persistence,
            } => {
                // Every gateway's uplink ends at the broker.
                for w in &mut wards {
                    w.uplink.extend(cut_windows(ev, at, end_ms));
                }
                record.kind = if restart {
                    FaultKind::BrokerRestart
                } else {
                    FaultKind::BrokerOutage
                };
                record.end_ms = heal(duration_ms);
                record.param = FaultParam::Persistence(persistence);
            }
            EventKind::RadioInterference {
                duration_ms,
                attenuation_db,
            } => {
                let w = ward.expect("validated: a ward");
                wards[w]
                    .interference
                    .push((window(duration_ms), attenuation_db));
                record.kind = FaultKind::RadioInterference;
                record.end_ms = heal(duration_ms);
                record.param = FaultParam::AttenuationDb(attenuation_db);
            }
            EventKind::OutOfCoverage {
                duration_ms,
                device,
            } => {
                let b = bed.expect("validated: a bed");
                let hit = devices
                    .iter()
                    .find(|d| d.bed == Some(b) && d.kind == device)
                    .map(|d| d.ix);
                if let Some(ix) = hit {
                    per_device
                        .entry(ix)
                        .or_default()
                        .away
                        .push(window(duration_ms));
                }
                record.kind = FaultKind::OutOfCoverage;
                record.device = hit;
                record.end_ms = heal(duration_ms);
            }
            EventKind::WifiOutage { duration_ms } => {
                let w = ward.expect("validated: a ward");
                wards[w].wifi.push(window(duration_ms));
                record.kind = FaultKind::WifiOutage;
                record.end_ms = heal(duration_ms);
            }
            EventKind::GatewayDown {
                cause,
                duration_ms,
                persistent_spool,
            } => {
                let w = ward.expect("validated: a ward");
                let down = cut_windows(ev, at, end_ms);
                wards[w]
                    .down
                    .extend(down.into_iter().map(|d| (d, persistent_spool)));
                record.kind = match cause {
                    GatewayDownCause::Crash => FaultKind::GatewayCrash,
                    GatewayDownCause::PowerLoss => FaultKind::GatewayPowerLoss,
                };
                record.end_ms = heal(duration_ms);
                record.param = FaultParam::PersistentSpool(persistent_spool);
            }
            EventKind::BatteryWave { duration_ms, share } => {
                let w = ward.expect("validated: a ward");
                for d in devices.iter().filter(|d| d.ward == w && d.bed.is_some()) {
                    let mut rng = stream(seed, d.id, &format!("battery_wave/{n}"));
                    if rng.random::<f64>() < share {
                        let at_ms = at + (rng.random::<f64>() * duration_ms as f64) as i64;
                        let f = per_device.entry(d.ix).or_default();
                        f.flat_at_ms = Some(f.flat_at_ms.map_or(at_ms, |t| t.min(at_ms)));
                    }
                }
                record.kind = FaultKind::BatteryWave;
                record.end_ms = heal(duration_ms);
                record.param = FaultParam::Share(share);
            }
            EventKind::ClockStep { device, .. } | EventKind::ClockDrift { device, .. } => {
                let hit = clock_targets(device);
                if bed.is_some() {
                    record.device = hit.first().copied();
                }
                for ix in hit {
                    let f = per_device.entry(ix).or_default();
                    match ev.kind {
                        EventKind::ClockStep { step_ms, .. } => f.clock_steps.push((at, step_ms)),
                        EventKind::ClockDrift { ppm, .. } => f.clock_drifts.push((at, ppm)),
                        _ => {}
                    }
                }
                // A step is instantaneous (its end is its start); a drift goes on, with no
                // heal within the run.
                (record.kind, record.end_ms, record.param) = match ev.kind {
                    EventKind::ClockStep { step_ms, .. } => {
                        (FaultKind::ClockStep, Some(at), FaultParam::StepMs(step_ms))
                    }
                    EventKind::ClockDrift { ppm, .. } => {
                        (FaultKind::ClockDrift, None, FaultParam::DriftPpm(ppm))
                    }
                    _ => continue,
                };
            }
            _ => continue,
        }
        records.push(record);
    }
    for w in &mut wards {
        w.uplink = Window::merged(std::mem::take(&mut w.uplink));
        w.wifi = Window::merged(std::mem::take(&mut w.wifi));
        w.down.sort_by_key(|(w, _)| *w);
        w.degraded.sort_by_key(|(w, _)| *w);
        w.interference.sort_by_key(|(w, _)| *w);
    }
    records.sort_by_key(|r| (r.start_ms, r.id));
    Planned {
        plan: FaultPlan { records, next: 0 },
        wards,
        devices: per_device,
    }
}

/// The windows in which a fault cuts a link to the broker (the uplink down, flapping's down
/// halves, the gateway down, the broker down), clipped to the run's end; none for the faults
/// that cut nothing.
fn cut_windows(ev: &wardtwin_scenarios::Event, at: SimMillis, end_ms: SimMillis) -> Vec<Window> {
    let window = |d: i64| Window {
        start_ms: at,
        end_ms: (at + d).min(end_ms),
    };
    match ev.kind {
        EventKind::UplinkOutage { duration_ms }
        | EventKind::GatewayDown { duration_ms, .. }
        | EventKind::BrokerDown { duration_ms, .. } => vec![window(duration_ms)],
        EventKind::UplinkFlapping {
            duration_ms,
            period_ms,
        } => {
            let stop = (at + duration_ms).min(end_ms);
            let mut out = Vec::new();
            let mut t = at;
            while t < stop {
                out.push(Window {
                    start_ms: t,
                    end_ms: (t + period_ms).min(stop),
                });
                t = t.saturating_add(period_ms.saturating_mul(2));
            }
            out
        }
        _ => Vec::new(),
    }
}

/// Where a fault cuts the live transport: a ward gateway's link (its uplink, or the gateway
/// itself down) or, with `ward` `None`, everybody's (the broker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkCut {
    pub ward: Option<usize>,
    pub window: Window,
}

/// The scenario's cuts of links to the broker, which a live run makes happen for real (the
/// fault proxy, `exporters::mqtt::proxy`): the same windows the gateways spool through.
pub fn link_cuts(s: &Scenario) -> Vec<LinkCut> {
    let end_ms = s.epoch_ms + s.duration_ms;
    let mut out = Vec::new();
    for ev in s.events.iter().filter(|e| e.kind.is_fault()) {
        let ward = match ev.target {
            Target::Ward(w) => Some(w),
            Target::Site => None,
            _ => continue,
        };
        let at = s.epoch_ms + ev.at_ms;
        out.extend(
            cut_windows(ev, at, end_ms)
                .into_iter()
                .filter(|w| w.start_ms < w.end_ms)
                .map(|window| LinkCut { ward, window }),
        );
    }
    out
}

/// Records each fault the step it begins.
fn record_faults(
    clock: Res<SimClock>,
    mut plan: ResMut<FaultPlan>,
    mut out: MessageWriter<FaultRecorded>,
) {
    let now = clock.now_ms();
    let plan = &mut *plan;
    while let Some(r) = plan.records.get(plan.next).filter(|r| r.start_ms <= now) {
        out.write(FaultRecorded(*r));
        plan.next += 1;
    }
}

/// The faults' systems: at the end of the run, last of the twins' (the gap ledger records
/// once every other twin has flushed).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultSystems;

/// Records the faults, and derives what the receiving side could know ([`gaps`]).
pub struct FaultsPlugin;

impl Plugin for FaultsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<FaultPlan>()
            .add_systems(Update, record_faults.in_set(SimSet::Faults));
        gaps::build(app);
    }
}

#[cfg(test)]
mod tests;
