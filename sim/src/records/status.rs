//! What a device says about itself besides its readings: its status messages.

use serde::{Deserialize, Serialize};

use super::{DeviceEventKind, DeviceIx, ObsStatus, Reading};
use crate::time::SimMillis;

/// The battery state a device reports in its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatteryLevel {
    Ok,
    Low,
    Depleted,
}

impl BatteryLevel {
    pub fn name(self) -> &'static str {
        match self {
            BatteryLevel::Ok => "ok",
            BatteryLevel::Low => "low",
            BatteryLevel::Depleted => "depleted",
        }
    }
}

/// Why a device sent a status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusReason {
    /// The device's first report of the run.
    Online,
    /// Every status interval (`--status-interval`, default 5 min of simulation time).
    Periodic,
    /// The signal state changed (probe off, back on).
    SignalChange,
    /// A device event the device can know ([`DeviceEventKind::device_knows`]).
    Event(DeviceEventKind),
}

impl StatusReason {
    pub fn name(self) -> &'static str {
        match self {
            StatusReason::Online => "online",
            StatusReason::Periodic => "periodic",
            StatusReason::SignalChange => "signal_change",
            StatusReason::Event(k) => k.name(),
        }
    }
}

/// A device's status message: what it says about itself, and why now. An emission like a
/// reading (its fate is in the ledger, kind `status`), numbered per device from 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatusReport {
    pub device: DeviceIx,
    pub seq: u32,
    /// When the device said it (the reading or event that prompted it).
    pub sim_ms: SimMillis,
    /// The device's own clock then.
    pub device_ms: SimMillis,
    /// When it went upstream (with the reading that prompted it, or at the event).
    pub forwarded_ms: SimMillis,
    pub battery_pct: f32,
    pub battery: BatteryLevel,
    /// The first non-ok status of its last reading (`ok` if none).
    pub signal: ObsStatus,
    pub reason: StatusReason,
}

impl Reading {
    /// What a status message says about the signal: the first non-ok status of the reading.
    pub fn signal(&self) -> ObsStatus {
        self.observations()
            .iter()
            .map(|o| o.status)
            .find(|s| *s != ObsStatus::Ok)
            .unwrap_or(ObsStatus::Ok)
    }
}
