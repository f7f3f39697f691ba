//! Devices: what patients wear, and what they report.
//!
//! A device samples its patient's [`TrueVitals`](crate::patient::TrueVitals) every `interval`
//! (phase drawn per device), and reports what a real device would: the true value plus a
//! per-device calibration bias and per-reading noise, rounded to the device's resolution and
//! clamped to its display range ([`params::measurement`]). Each emission carries a per-device
//! sequence number, the device's own timestamp (sim time + clock offset + drift), and its
//! battery level. Batteries drain; at 10 % the device flags low battery, at 0 it goes silent.
//!
//! Artifacts (scheduled in the scenario or drawn from its rates) corrupt readings:
//! **motion** throws values off with no flag (false desaturation, false tachycardia);
//! **probe off** removes the value and sets a status (`lead_off`, `probe_off`, …). Every
//! artifact is recorded in the ground truth as a non-event.
//!
//! Devices also record their technical conditions
//! ([`wardtwin_sim::conditions`]): **monitoring lost** when a device has produced no value for
//! longer than its cadence allows, and **low battery** from the threshold until it is empty.
//!
//! When each device is next due is kept in `due`; what every device does the same way when it
//! samples is [`sampling`]; what a device reads of its subject is sensed by the twin that owns
//! the kind (`sense` for the worn and bedside devices here, and `coldchain`, `gateway`,
//! `rtls` for theirs).

mod due;
pub mod infusion;
pub mod params;
mod plugin;
pub mod sampling;
pub(crate) mod sense;
pub(crate) mod spawn;
pub mod status;
mod systems;
#[cfg(test)]
mod tests;

use bevy_ecs::prelude::*;
use wardtwin_sim::records::{ArtifactKind, DeviceIx, DeviceKind, MAX_OBS};
use wardtwin_sim::rng::SimRng;
use wardtwin_sim::time::SimMillis;

pub(crate) use plugin::plan_devices;
pub use plugin::{DevicePlugin, DeviceSystems};

/// One artifact interval on a device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArtifactWindow {
    pub kind: ArtifactKind,
    pub start_ms: SimMillis,
    pub end_ms: SimMillis,
}

/// A device worn by a patient.
#[derive(Component, Debug, Clone)]
pub struct Device {
    pub ix: DeviceIx,
    pub kind: DeviceKind,
    /// What it measures: the patient entity (worn devices), or the fridge entity (loggers);
    /// an infusion pump reads its own [`Infusion`](infusion::Infusion).
    pub subject: Entity,
    pub interval_ms: i64,
    pub next_due_ms: SimMillis,
    /// Sequence number of the next emission.
    pub seq: u32,
    pub clock_offset_ms: f64,
    pub drift_ppm: f64,
    /// Calibration bias of each reported metric, in the metric's unit (a CGM's: relative).
    pub bias: [f64; MAX_OBS],
    /// The state of each metric's noise process, in SD units (for a device that averages:
    /// [`params::Measurement::noise_tau_s`]).
    pub noise: [f64; MAX_OBS],
    /// When it last read its subject.
    pub last_read_ms: Option<SimMillis>,
    pub rng: SimRng,
    /// Artifact windows not yet over, and the next day's, sorted by start.
    pub artifacts: Vec<ArtifactWindow>,
    /// When it last produced a value (the run's start before its first): for the
    /// monitoring-lost condition.
    pub last_value_ms: SimMillis,
    /// Clock steps (a `clock_step` fault): from when, by how much (ms, signed).
    pub clock_steps: Vec<(SimMillis, i64)>,
    /// Drift beyond spec (a `clock_drift` fault): from when, how much more (ppm).
    pub clock_drifts: Vec<(SimMillis, f64)>,
}

/// A device's battery.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct Battery {
    pub pct: f64,
    /// Percentage points per millisecond of use.
    pub drain_per_ms: f64,
    /// When it reached the low-battery threshold (the low-battery condition's onset).
    pub low_since_ms: Option<SimMillis>,
    pub depleted: bool,
    /// A battery wave (a fault) flattens it at this moment.
    pub flat_at_ms: Option<SimMillis>,
}

impl Device {
    /// The artifact active at `t`, if any (one that blanks the value wins over one that
    /// corrupts it; among those, the first to start).
    pub fn artifact_at(&self, t: SimMillis) -> Option<ArtifactKind> {
        let mut best: Option<ArtifactKind> = None;
        for a in self
            .artifacts
            .iter()
            .take_while(|a| a.start_ms <= t)
            .filter(|a| t < a.end_ms)
        {
            let blanks = |k: ArtifactKind| k.no_value_status(self.kind).is_some();
            if best.is_none_or(|b| blanks(a.kind) && !blanks(b)) {
                best = Some(a.kind);
            }
        }
        best
    }

    /// Adds the next day's random artifacts (dropping those over by `now`).
    pub fn plan_artifacts(&mut self, now: SimMillis, new: &[ArtifactWindow]) {
        self.artifacts.retain(|w| w.end_ms > now);
        self.artifacts.extend_from_slice(new);
        self.artifacts.sort_by_key(|w| (w.start_ms, w.end_ms));
    }

    /// The device's own clock at simulation time `t`.
    pub fn device_time(&self, t: SimMillis, epoch_ms: SimMillis) -> SimMillis {
        let drift = (t - epoch_ms) as f64 * self.drift_ppm * 1e-6
            + self
                .clock_drifts
                .iter()
                .filter(|(at, _)| *at <= t)
                .map(|(at, ppm)| (t - at) as f64 * ppm * 1e-6)
                .sum::<f64>();
        let stepped: i64 = self
            .clock_steps
            .iter()
            .filter(|(at, _)| *at <= t)
            .map(|(_, by)| by)
            .sum();
        t + (self.clock_offset_ms + drift).round() as i64 + stepped
    }
}
