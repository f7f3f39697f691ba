//! `wardtwin-viz`: the trainer's visual ward (see the crate's docs and the README).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = wardtwin_viz::Args::parse();
    match wardtwin_viz::run(args) {
        Ok(wardtwin_viz::Outcome::Done) => ExitCode::SUCCESS,
        // As `wardtwin run`: interrupted, the files finished with what was simulated.
        Ok(wardtwin_viz::Outcome::Interrupted) => ExitCode::from(130),
        // As `wardtwin run`: published telemetry the broker never confirmed.
        Ok(wardtwin_viz::Outcome::DeliveryShort) => ExitCode::from(3),
        // As `wardtwin`: 2 is an error (clap's usage errors too).
        Err(e) => {
            eprintln!("wardtwin-viz: {e:#}");
            ExitCode::from(2)
        }
    }
}
