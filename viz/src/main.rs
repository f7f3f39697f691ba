//! `wardtwin-viz`: the trainer's visual ward (see the crate's docs and the README).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = wardtwin_viz::Args::parse();
    match wardtwin_viz::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wardtwin-viz: {e:#}");
            ExitCode::FAILURE
        }
    }
}
