mod cli;
mod determinism;
mod live;
mod outputs;
mod scoring;
pub mod support;
mod sync;
