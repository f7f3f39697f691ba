mod cli;
mod determinism;
mod drills;
mod live;
mod outputs;
mod scoring;
pub mod support;
mod sync;
