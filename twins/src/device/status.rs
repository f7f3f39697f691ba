//! Status messages: what each device says about itself (battery, signal) besides its readings.
//!
//! A device sends one when it first reports, when its signal changes (a probe comes off or
//! back), every status interval, and at each event it can know (battery low or empty, a pump's
//! occlusion, a gateway's uplink). Each is an emission with its own per-device sequence
//! number, recorded in `device_status` and given a fate in the ledger like a reading (kind
//! `status`). It goes upstream with the reading that prompted it, or at its event.

use bevy_ecs::prelude::*;
use wardtwin_sim::records::{
    BatteryLevel, DeviceEventKind, DeviceIx, ObsStatus, StatusReason, StatusReport,
};
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{DeviceEventOccurred, Directory, ReadingForwarded, StatusEmitted};

/// Simulation time between a device's periodic status messages.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusInterval(pub i64);

impl Default for StatusInterval {
    fn default() -> Self {
        Self(5 * wardtwin_sim::time::MINUTE_MS)
    }
}

/// What a device last said about itself.
#[derive(Debug, Clone, Copy)]
struct Said {
    seq: u32,
    last_ms: Option<SimMillis>,
    signal: ObsStatus,
    battery: BatteryLevel,
    battery_pct: f32,
}

/// Per device (by dense index), what it last said.
#[derive(Resource, Default)]
pub(super) struct StatusBook {
    devices: Vec<Said>,
    /// This tick's known events, sorted (reused).
    events: Vec<wardtwin_sim::records::DeviceEvent>,
}

impl Said {
    /// The next status message, said now: numbered, and remembered as the last.
    fn report(
        &mut self,
        device: DeviceIx,
        sim_ms: SimMillis,
        device_ms: SimMillis,
        forwarded_ms: SimMillis,
        reason: StatusReason,
    ) -> StatusEmitted {
        self.last_ms = Some(sim_ms);
        let seq = self.seq;
        self.seq += 1;
        StatusEmitted(StatusReport {
            device,
            seq,
            sim_ms,
            device_ms,
            forwarded_ms,
            battery_pct: self.battery_pct,
            battery: self.battery,
            signal: self.signal,
            reason,
        })
    }
}

impl StatusBook {
    fn said(&mut self, ix: usize) -> &mut Said {
        if self.devices.len() <= ix {
            self.devices.resize(
                ix + 1,
                Said {
                    seq: 0,
                    last_ms: None,
                    signal: ObsStatus::Ok,
                    battery: BatteryLevel::Ok,
                    battery_pct: 100.0,
                },
            );
        }
        &mut self.devices[ix]
    }
}

/// After the gateways forwarded this tick's readings and every event is stamped: the status
/// messages they prompt, readings first (in device and sequence order), then events.
pub(super) fn report_status(
    interval: Res<StatusInterval>,
    dir: Option<Res<Directory>>,
    mut book: ResMut<StatusBook>,
    mut forwarded: MessageReader<ReadingForwarded>,
    mut events: MessageReader<DeviceEventOccurred>,
    mut out: MessageWriter<StatusEmitted>,
) {
    let book = &mut *book;
    if book.devices.is_empty()
        && let Some(dir) = dir
    {
        book.said(dir.devices.len().saturating_sub(1));
    }
    // In message order: the gateways forward in a deterministic order, and a device's readings
    // in sequence order (the recorder sorts the statuses for the outputs).
    for ReadingForwarded(r) in forwarded.read() {
        let signal = r.signal();
        let every = interval.0.max(1);
        let said = book.said(r.device.0 as usize);
        said.battery_pct = r.battery_pct;
        let reason = match said.last_ms {
            None => Some(StatusReason::Online),
            Some(_) if signal != said.signal => Some(StatusReason::SignalChange),
            Some(t) if r.sim_ms - t >= every => Some(StatusReason::Periodic),
            Some(_) => None,
        };
        said.signal = signal;
        if let Some(reason) = reason {
            out.write(said.report(r.device, r.sim_ms, r.device_ms, r.forwarded_ms, reason));
        }
    }
    let mut known = std::mem::take(&mut book.events);
    known.clear();
    known.extend(events.read().map(|m| m.0).filter(|e| e.kind.device_knows()));
    known.sort_unstable_by_key(|e| (e.device, e.sim_ms, e.kind));
    for e in &known {
        let said = book.said(e.device.0 as usize);
        said.battery = match e.kind {
            DeviceEventKind::BatteryLow => BatteryLevel::Low,
            DeviceEventKind::BatteryDepleted => BatteryLevel::Depleted,
            _ => said.battery,
        };
        // The event's own battery, not the last reading's (which can be up to an interval
        // older: a BP cuff reads hourly).
        if let Some(pct) = e.battery_pct {
            said.battery_pct = pct;
        }
        if e.kind == DeviceEventKind::BatteryDepleted {
            said.battery_pct = 0.0;
        }
        let reason = StatusReason::Event(e.kind);
        out.write(said.report(e.device, e.sim_ms, e.device_ms, e.sim_ms, reason));
    }
    book.events = known;
}
