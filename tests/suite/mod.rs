mod cli;
mod determinism;
mod outputs;
pub mod support;
