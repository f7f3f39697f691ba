//! # wardtwin-viz: the trainer's visual ward (optional)
//!
//! Will hold Bevy rendering and the egui trainer view (beds, patients, alarms, tags, fridges;
//! live event injection). Until that work lands it is a stub that depends only on the engine
//! core, so CI keeps it building. It is built in its own cargo invocation: building it with the
//! headless crates would unify Bevy's rendering features into them (docs/architecture.md).

pub use wardtwin_sim as sim;
