mod cli;
mod determinism;
mod live;
mod outputs;
pub mod support;
