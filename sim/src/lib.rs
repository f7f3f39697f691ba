//! # wardtwin-sim: the engine core
//!
//! What every other crate stands on, and nothing about wards, wires or files:
//!
//! - [`time`]: simulation time (ms since the Unix epoch, UTC), durations, ISO 8601. The model is
//!   handed time; it never reads the wall clock.
//! - [`rng`]: seeded random streams keyed by (run seed, stable id, purpose).
//! - [`news2`]: the NEWS2 chart as data, and scoring.
//! - [`conditions`]: the alertable-conditions ledger (what a system under test should alert on)
//!   and the rules that produce it.
//! - [`records`]: what is recorded (readings, emission fates, true vitals, episodes, artifacts,
//!   device events), indexed by dense handles that the [`Directory`] maps to stable ids.
//! - [`sink`]: the [`RecordSink`] boundary the recorder writes to.
//! - `engine` (feature `ecs`, default): the Bevy plugin: fixed-step [`SimClock`], the chained
//!   [`SimSet`]s, per-tick messages, the recorder, and [`Sim`], the stepping loop.
//!
//! Without the `ecs` feature the crate is plain data and pure functions, so `scoring` can read
//! the same records without linking Bevy.

pub mod conditions;
pub mod directory;
pub mod news2;
pub mod records;
pub mod rng;
pub mod sink;
pub mod time;

#[cfg(feature = "ecs")]
pub mod engine;

pub use directory::{BedInfo, DeviceInfo, Directory, PatientInfo, ReceiverInfo, SpaceInfo};
pub use sink::{
    Batch, CountingSink, Counts, MemorySink, Record, RecordSink, Recorded, SinkError, SinkReport,
};

#[cfg(feature = "ecs")]
pub use engine::{
    ArtifactRecorded, Carries, Charted, ConditionRecorded, DeviceEventOccurred, DirectUplink,
    EmissionFated, EpisodeClosed, ExcursionRecorded, FaultRecorded, FileTransport,
    ForwardedByPlugin, PositionSampled, ReadingEmitted, ReadingForwarded, RecordApp,
    RhythmRecorded, RunSeed, Sim, SimClock, SimEnd, SimPlugin, SimSet, Sinks, StatusEmitted,
    TruthSampled, WaveformFramed,
};
