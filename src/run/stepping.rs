//! Stepping a run: the progress bar, pacing to the wall clock (outside the model), and the
//! first SIGINT/SIGTERM, which stops before the next tick.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use wardtwin_exporters::mqtt::{LiveStats, Pacer, Speed};
use wardtwin_scenarios::Scenario;
use wardtwin_sim::Sim;
use wardtwin_sim::time::format_iso_ms;

use crate::signals::StopFlag;

/// Runs every tick (or until `stop` is raised), paced by `pacer` if there is one.
pub(super) fn step_all(
    sim: &mut Sim,
    scenario: &Scenario,
    quiet: bool,
    pacer: &Option<Pacer>,
    live_stats: &Option<LiveStats>,
    stop: &StopFlag,
) {
    let total = sim.clock().total_ticks();
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:40}] {percent:>3}% sim {elapsed_precise} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(format!("{} ({} beds)", scenario.name, scenario.beds.len()));
    bar.enable_steady_tick(Duration::from_millis(200));
    let epoch = scenario.epoch_ms;
    let step = scenario.step_ms;
    let every = match pacer {
        Some(p) if p.speed() != Speed::Max => 1,
        _ => (600_000 / step).max(1) as u64,
    };
    let pace = |k: u64| {
        if stop.raised() {
            return false;
        }
        if let Some(p) = pacer {
            p.wait(k as i64 * step);
        }
        !stop.raised()
    };
    sim.run_with(every, pace, |done, _| {
        bar.set_position(done);
        let live = live_stats.as_ref().map_or(String::new(), |s| {
            format!(
                " | mqtt {} done, {} queued, {} reconnects",
                s.done(),
                s.queued(),
                s.reconnects()
            )
        });
        bar.set_message(format!(
            "{} {}{live}",
            scenario.name,
            &format_iso_ms(epoch + done as i64 * step)[..16]
        ));
    });
    bar.finish_and_clear();
}
