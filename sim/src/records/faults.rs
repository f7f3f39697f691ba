//! Faults: what a drill does to the hospital's devices and network, as it really happened.
//!
//! Each fault is a mechanism at the transport boundary (a receiver, a device's radio or
//! battery or clock, a gateway, its uplink): it decides the fate of emissions and never
//! touches physiology. Its record is the drill's ground truth: what, where, from when, until
//! when (the heal), with the one parameter that shapes it.

use serde::{Deserialize, Serialize};

use super::DeviceIx;
use crate::time::SimMillis;

/// The fault vocabulary (docs/scenarios.md, "Faults and drills").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A ward gateway's uplink is down: it spools.
    UplinkOutage,
    /// A ward gateway's uplink goes down and up every period.
    UplinkFlapping,
    /// A ward's receivers (Wi-Fi access points, BLE receivers) are down.
    WifiOutage,
    /// A ward gateway crashed and reboots.
    GatewayCrash,
    /// A ward gateway lost power.
    GatewayPowerLoss,
    /// A share of a ward's battery devices go flat within the window.
    BatteryWave,
    /// Device clocks jump (NTP failure).
    ClockStep,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::UplinkOutage,
        FaultKind::UplinkFlapping,
        FaultKind::WifiOutage,
        FaultKind::GatewayCrash,
        FaultKind::GatewayPowerLoss,
        FaultKind::BatteryWave,
        FaultKind::ClockStep,
    ];
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::UplinkOutage => "uplink_outage",
            FaultKind::UplinkFlapping => "uplink_flapping",
            FaultKind::WifiOutage => "wifi_outage",
            FaultKind::GatewayCrash => "gateway_crash",
            FaultKind::GatewayPowerLoss => "gateway_power_loss",
            FaultKind::BatteryWave => "battery_wave",
            FaultKind::ClockStep => "clock_step",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
    /// Whether the fault stops data from reaching the broker (so a data gap is its expected
    /// symptom, and time to detect is judged on it).
    pub fn silences(self) -> bool {
        !matches!(self, FaultKind::ClockStep)
    }
}

/// The one parameter that shapes a fault.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultParam {
    None,
    /// Flapping: each down (and each up) lasts this long.
    PeriodMs(i64),
    /// Gateway down: whether its spool survives.
    PersistentSpool(bool),
    /// Battery wave: the share of the ward's battery devices.
    Share(f64),
    /// Clock step: how far the clocks jumped (signed).
    StepMs(i64),
}

/// One fault as it happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultRecord {
    /// Stable fault number (its event's place in the scenario timeline).
    pub id: u32,
    pub kind: FaultKind,
    /// The ward's gateway (its status device), for a fault of a ward.
    pub gateway: Option<DeviceIx>,
    /// The one device, for a fault of a device.
    pub device: Option<DeviceIx>,
    pub start_ms: SimMillis,
    /// When it healed; `None` if it never did within the run (a clock step is instantaneous:
    /// its end is its start).
    pub end_ms: Option<SimMillis>,
    pub param: FaultParam,
}
