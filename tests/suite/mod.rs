mod cli;
mod determinism;
mod drills;
mod live;
mod outputs;
mod realism;
mod scoring;
pub mod support;
mod sync;
