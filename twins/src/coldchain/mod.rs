//! Cold chain: vaccine fridges and freezers, and their data loggers (DOMAIN.md section 4).
//!
//! **Thermal model** (°C, per second, explicit Euler at the simulation step):
//!
//! ```text
//! d(air)/dt     = (room − air)/τ_leak + (product − air)/τ_air←product
//!               + door·(room − air)/τ_door − compressor·cooling + defrost·heating
//! d(product)/dt = (air − product)/(τ_product · ballast)
//! ```
//!
//! The air is a small thermal mass that the compressor, the door and the defrost heater move
//! fast; the product (vaccines, as the logger's glycol-buffered probe sees them) is a large
//! mass that follows the air slowly. So a door opening spikes the air by several degrees and
//! moves the product by tenths ([`params`]: a minute open takes the air from 4.5 to ~13 °C
//! and the product to ~4.9 °C). The compressor cycles with hysteresis on the air temperature
//! (a fridge cuts in at 5.5 °C and out at 3 °C). When cooling stops (compressor failure, power
//! outage) everything drifts towards the room, more slowly with more ballast: a fridge in a
//! 22 °C room passes 8 °C about 4 h after its compressor dies (ballast 1).
//!
//! **Faults**, from the scenario's timeline: door openings (scheduled, and random ones in the
//! day from `door_openings_per_day`), a door left ajar (a long opening), compressor failure,
//! power outage, probe failure (the logger reports `sensor_fault` and no values), and
//! automatic defrost cycles.
//!
//! **Ground truth:** every air and product excursion outside the storage range (start, end,
//! peak; `excursions.parquet`), the fridge's events (`device_events`, on its logger), door
//! openings as non-events for the product (`artifacts`, kind `door_open`), and the alertable
//! [`COLD_CHAIN_TIER`] condition: the product outside its range.
//!
//! The logger is an ordinary [`Device`](crate::device::Device) (kind `fridge_logger`) whose
//! subject is the fridge: cadence, ±0.5 °C accuracy, clock, battery.

pub(crate) mod spawn;
mod systems;
#[cfg(test)]
mod tests;

use bevy_app::{App, Plugin, Update};
use bevy_ecs::prelude::*;
use wardtwin_scenarios::StorageKind;
use wardtwin_sim::conditions::{COLD_CHAIN_TIER, Subject, TierSpell};
use wardtwin_sim::records::{DeviceIx, ExcursionRecord, Measure};
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{SimEnd, SimSet};

/// Thermal parameters, kept as data.
pub mod params {
    use wardtwin_scenarios::StorageKind;

    /// Air relaxing to the room through the cabinet walls, door shut, s.
    pub const TAU_LEAK_S: f64 = 2.5 * 3600.0;
    /// Air relaxing to the product, s.
    pub const TAU_AIR_PRODUCT_S: f64 = 15.0 * 60.0;
    /// Product (buffered probe) following the air, s, times the ballast.
    pub const TAU_PRODUCT_S: f64 = 90.0 * 60.0;
    /// Air relaxing to the room while the door is open, s.
    pub const TAU_DOOR_S: f64 = 90.0;
    /// A defrost cycle: compressor off and the heater on, this long.
    pub const DEFROST_MS: i64 = 20 * 60_000;
    /// Defrost heater, °C/s on the air.
    pub const DEFROST_HEAT_C_S: f64 = 0.004;

    /// How a kind of cabinet is controlled.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Control {
        /// The compressor starts at this air temperature…
        pub cut_in_c: f64,
        /// …and stops at this one.
        pub cut_out_c: f64,
        /// Cooling while it runs, °C/s on the air.
        pub cooling_c_s: f64,
        /// Where air and product start.
        pub start_c: f64,
    }

    pub fn control(kind: StorageKind) -> Control {
        match kind {
            StorageKind::Fridge => Control {
                cut_in_c: 5.5,
                cut_out_c: 3.0,
                cooling_c_s: 0.012,
                start_c: 4.5,
            },
            StorageKind::Freezer => Control {
                cut_in_c: -18.0,
                cut_out_c: -22.0,
                cooling_c_s: 0.035,
                start_c: -20.0,
            },
        }
    }
}

pub use crate::Window;

/// What is wrong with a fridge, over the run (each list sorted by start).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    pub doors: Vec<Window>,
    pub compressor: Vec<Window>,
    pub power: Vec<Window>,
    pub probe: Vec<Window>,
}

/// An excursion going on: its start and its peak so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenExcursion {
    pub high: bool,
    pub start_ms: SimMillis,
    pub peak_c: f64,
}

/// A fridge or freezer.
#[derive(Component, Debug, Clone)]
pub struct Fridge {
    pub kind: StorageKind,
    /// Its logger.
    pub logger: DeviceIx,
    pub room_c: f64,
    pub ballast: f64,
    pub control: params::Control,
    pub defrost_every_ms: Option<i64>,
    pub air_c: f64,
    pub product_c: f64,
    pub compressor_on: bool,
    pub door_open: bool,
    pub defrosting: bool,
    pub compressor_failed: bool,
    pub power_lost: bool,
    pub probe_failed: bool,
    pub faults: Faults,
    /// Open air and product excursions.
    pub excursions: [Option<OpenExcursion>; 2],
    pub spell: TierSpell,
}

impl Fridge {
    pub fn new(
        kind: StorageKind,
        logger: DeviceIx,
        room_c: f64,
        ballast: f64,
        defrost_every_ms: Option<i64>,
        faults: Faults,
    ) -> Self {
        let control = params::control(kind);
        Self {
            kind,
            logger,
            room_c,
            ballast,
            control,
            defrost_every_ms,
            air_c: control.start_c,
            product_c: control.start_c,
            compressor_on: false,
            door_open: false,
            defrosting: false,
            compressor_failed: false,
            power_lost: false,
            probe_failed: false,
            faults,
            excursions: [None, None],
            spell: TierSpell::new(&COLD_CHAIN_TIER, Subject::Device(logger)),
        }
    }

    /// Whether the compressor is cooling now.
    pub fn cooling(&self) -> bool {
        self.compressor_on && !self.compressor_failed && !self.power_lost && !self.defrosting
    }

    /// One Euler step of `dt_s` seconds.
    pub fn integrate(&mut self, dt_s: f64) {
        use params::*;
        let air = self.air_c;
        let product = self.product_c;
        let mut d_air = (self.room_c - air) / TAU_LEAK_S + (product - air) / TAU_AIR_PRODUCT_S;
        if self.door_open {
            d_air += (self.room_c - air) / TAU_DOOR_S;
        }
        if self.cooling() {
            d_air -= self.control.cooling_c_s;
        }
        if self.defrosting && !self.power_lost {
            d_air += DEFROST_HEAT_C_S;
        }
        let d_product = (air - product) / (TAU_PRODUCT_S * self.ballast);
        self.air_c += d_air * dt_s;
        self.product_c += d_product * dt_s;
        // The thermostat: hysteresis on the air.
        if self.air_c >= self.control.cut_in_c {
            self.compressor_on = true;
        } else if self.air_c <= self.control.cut_out_c {
            self.compressor_on = false;
        }
    }

    /// Tracks the air and product excursions at `now`; returns the ones that ended.
    pub fn track_excursions(&mut self, now: SimMillis) -> impl Iterator<Item = ExcursionRecord> {
        let (lo, hi) = self.kind.range_c();
        let logger = self.logger;
        let mut ended = [None, None];
        for (i, (measure, t)) in [
            (Measure::Air, self.air_c),
            (Measure::Product, self.product_c),
        ]
        .into_iter()
        .enumerate()
        {
            let outside = (t > hi).then_some(true).or((t < lo).then_some(false));
            let slot = &mut self.excursions[i];
            match (slot.as_mut(), outside) {
                (Some(open), Some(high)) if open.high == high => {
                    open.peak_c = if high {
                        open.peak_c.max(t)
                    } else {
                        open.peak_c.min(t)
                    };
                }
                (Some(open), _) => {
                    ended[i] = Some(excursion(logger, measure, open, Some(now)));
                    *slot = outside.map(|high| OpenExcursion {
                        high,
                        start_ms: now,
                        peak_c: t,
                    });
                }
                (None, Some(high)) => {
                    *slot = Some(OpenExcursion {
                        high,
                        start_ms: now,
                        peak_c: t,
                    });
                }
                (None, None) => {}
            }
        }
        ended.into_iter().flatten()
    }

    /// Whether the product is outside its storage range.
    pub fn product_out_of_range(&self) -> bool {
        let (lo, hi) = self.kind.range_c();
        !(lo..=hi).contains(&self.product_c)
    }
}

fn excursion(
    device: DeviceIx,
    measure: Measure,
    open: &OpenExcursion,
    end_ms: Option<SimMillis>,
) -> ExcursionRecord {
    ExcursionRecord {
        device,
        measure,
        high: open.high,
        start_ms: open.start_ms,
        end_ms,
        peak_c: open.peak_c as f32,
    }
}

/// The cold-chain systems (dynamics: faults, thermal step, ground truth).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColdChainSystems;

/// Fridges and freezers.
pub struct ColdChainPlugin;

impl Plugin for ColdChainPlugin {
    fn build(&self, app: &mut App) {
        app.configure_sets(
            Update,
            ColdChainSystems
                .in_set(SimSet::Dynamics)
                .after(crate::patient::PatientSystems),
        )
        .add_systems(Update, systems::step_fridges.in_set(ColdChainSystems))
        // After the devices': both record artifacts.
        .add_systems(
            Update,
            systems::plan_fridges
                .in_set(SimSet::Plan)
                .after(crate::device::plan_devices),
        )
        .configure_sets(
            SimEnd,
            ColdChainSystems
                .in_set(SimSet::Dynamics)
                .after(crate::patient::PatientSystems),
        )
        .add_systems(SimEnd, systems::flush_fridges.in_set(ColdChainSystems));
        crate::device::sampling::sensing(app, systems::sense_loggers);
    }
}
