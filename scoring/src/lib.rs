//! # wardtwin-scoring: ground truth vs what the system under test did
//!
//! Pure functions over recorded run folders: no Bevy, no network client. Filled by the testbench
//! work (matching alerts to alertable conditions, sensitivity, PPV, latency, false alerts per
//! bed per day); today an empty crate that fixes its place in the dependency graph.
