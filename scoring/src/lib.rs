//! # wardtwin-scoring: ground truth vs what the system under test did
//!
//! Pure functions, no Bevy, no network client, no file format: `exporters` reads a run folder
//! into [`model::Inputs`] and renders the [`Scorecard`]; tests build inputs directly.
//!
//! - [`taxonomy`]: the classes of alertable condition and how each is judged (tolerance
//!   windows, which artifacts can mimic it). Data: new classes are new rows.
//! - [`matcher`]: alerts to conditions by subject and class within tolerance windows; first
//!   match detects, later ones repeat; false alerts during an artifact are attributed to it.
//! - [`scorecard`]: sensitivity, PPV, false alerts per bed per day, latency, the IEC 60601-1-8
//!   delays, the PhysioNet/CinC 2015 score, per patient and per class.
//! - [`drill`]: per fault of the run, what was delivered, late and lost, how soon the system
//!   noticed, and the clinical conditions meanwhile.
//! - [`gates`]: thresholds on those figures that decide a run's exit code.
//!
//! The rules are written out in `docs/scoring.md`.

pub mod drill;
#[cfg(test)]
mod drill_tests;
pub mod gates;
pub mod matcher;
pub mod model;
pub mod scorecard;
pub mod taxonomy;
#[cfg(test)]
mod tests;

pub use gates::{Gate, GateError, GateResult};
pub use model::{
    Alert, Artifact, Condition, Entity, EntityKind, Inputs, Priority, Received, RunInfo,
};
pub use scorecard::{Scorecard, score};
