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
    /// A ward gateway's uplink is slow, lossy or narrow (latency, jitter, loss, bandwidth).
    UplinkDegraded,
    /// The broker is down: every gateway's uplink ends there.
    BrokerOutage,
    /// The broker restarts (down for its boot time).
    BrokerRestart,
    /// Interference raises the radio loss in a ward.
    RadioInterference,
    /// One device is carried out of coverage.
    OutOfCoverage,
    /// Device clocks drift beyond their spec.
    ClockDrift,
}

impl FaultKind {
    pub const ALL: [FaultKind; 13] = [
        FaultKind::UplinkOutage,
        FaultKind::UplinkFlapping,
        FaultKind::WifiOutage,
        FaultKind::GatewayCrash,
        FaultKind::GatewayPowerLoss,
        FaultKind::BatteryWave,
        FaultKind::ClockStep,
        FaultKind::UplinkDegraded,
        FaultKind::BrokerOutage,
        FaultKind::BrokerRestart,
        FaultKind::RadioInterference,
        FaultKind::OutOfCoverage,
        FaultKind::ClockDrift,
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
            FaultKind::UplinkDegraded => "uplink_degraded",
            FaultKind::BrokerOutage => "broker_outage",
            FaultKind::BrokerRestart => "broker_restart",
            FaultKind::RadioInterference => "radio_interference",
            FaultKind::OutOfCoverage => "out_of_coverage",
            FaultKind::ClockDrift => "clock_drift",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
    /// Whether the fault stops data from reaching the broker (so a data gap is its expected
    /// symptom, and time to detect is judged on it). A degraded uplink and interference slow
    /// and thin the data; they silence nothing by themselves.
    pub fn silences(self) -> bool {
        !matches!(
            self,
            FaultKind::ClockStep
                | FaultKind::ClockDrift
                | FaultKind::UplinkDegraded
                | FaultKind::RadioInterference
        )
    }
    /// Whether the fault is the whole site's (the broker), not a ward's or a device's.
    pub fn site_wide(self) -> bool {
        matches!(self, FaultKind::BrokerOutage | FaultKind::BrokerRestart)
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
    /// Degraded uplink: how.
    Degraded(Degradation),
    /// Broker down or restarting: whether it keeps retained messages and sessions.
    Persistence(bool),
    /// Interference: the extra loss, dB.
    AttenuationDb(f64),
    /// Clock drift: the extra drift, ppm (signed).
    DriftPpm(f64),
}

/// What a degraded uplink does to each message a gateway forwards (netem's delay, jitter,
/// loss and rate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Degradation {
    /// Added delay, ms.
    pub latency_ms: i64,
    /// The delay varies by up to this much either way (uniform), ms.
    pub jitter_ms: i64,
    /// The share of messages lost, 0-1.
    pub loss: f64,
    /// Messages per second the uplink carries (`None`: the gateway's usual rate).
    pub bandwidth: Option<f64>,
}

impl std::fmt::Display for Degradation {
    /// `latency 2m, jitter 1m30s, loss 0.05, bandwidth 20/s` (what is set).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = crate::time::format_duration;
        let parts = [
            (self.latency_ms > 0).then(|| format!("latency {}", d(self.latency_ms))),
            (self.jitter_ms > 0).then(|| format!("jitter {}", d(self.jitter_ms))),
            (self.loss > 0.0).then(|| format!("loss {}", self.loss)),
            self.bandwidth.map(|b| format!("bandwidth {b}/s")),
        ];
        let parts: Vec<String> = parts.into_iter().flatten().collect();
        f.write_str(&parts.join(", "))
    }
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
