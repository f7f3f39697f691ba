//! Stepping a run: the progress bar, pacing to the wall clock (outside the model), and the
//! first SIGINT/SIGTERM, which stops before the next tick.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use wardtwin_exporters::mqtt::{
    AutoRate, ClockSender, FaultProxy, LiveStats, Pacer, SimClockOut, Speed,
};
use wardtwin_scenarios::Scenario;
use wardtwin_sim::Sim;
use wardtwin_sim::time::format_iso_ms;

use crate::signals::StopFlag;

/// The simulation clock shared with the system under test, and how to send it.
pub(super) type SharedClock<'a> = Option<(&'a mut SimClockOut, &'a ClockSender)>;

/// What paces a live run: the wall clock (`pacer`), the shared simulation clock, and
/// `--speed auto`'s rate; and the live figures for the progress bar.
#[derive(Default)]
pub(super) struct Pacing<'a> {
    pub pacer: Option<&'a Pacer>,
    pub live_stats: Option<&'a LiveStats>,
    pub clock: SharedClock<'a>,
    pub auto: Option<&'a mut AutoRate>,
    /// The fault proxy, told where the simulation is (it cuts links on the drill's schedule).
    pub proxy: Option<&'a FaultProxy>,
}

/// Runs every tick (or until `stop` is raised), paced by the pacer if there is one, publishing
/// the simulation clock at its sync points (and in lockstep waiting for the system there).
pub(super) fn step_all(
    sim: &mut Sim,
    scenario: &Scenario,
    quiet: bool,
    pacing: Pacing<'_>,
    stop: &StopFlag,
) {
    let Pacing {
        pacer,
        live_stats,
        mut clock,
        mut auto,
        proxy,
    } = pacing;
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
    let sync = |k: u64, clock: &mut SharedClock<'_>| {
        if let Some((c, tx)) = clock
            && let Err(e) = c.before_tick(tx, k, k == total)
        {
            wardtwin_exporters::errln!("warning: the simulation clock could not be published: {e}");
            *clock = None;
        }
    };
    let pace = |k: u64| {
        if stop.raised() {
            return false;
        }
        if let Some(px) = proxy {
            let now = epoch + k as i64 * step;
            // What the model delivered before the cut reaches the broker before it.
            if px.begins_by(now)
                && let Some(s) = live_stats
                && !s.wait_connected_drained(Duration::from_secs(10))
            {
                wardtwin_exporters::errln!(
                    "warning: the broker did not take what was sent before the drill's cut at {} \
                     within 10 s; cutting anyway (it is resent after the reconnect)",
                    format_iso_ms(now)
                );
            }
            px.advance(now);
            if let Some((c, _)) = clock.as_mut() {
                // While the broker is down the clock cannot reach the system: not a stall.
                c.set_unreachable(px.site_cut());
            }
        }
        sync(k, &mut clock);
        if let Some(a) = auto.as_mut() {
            a.adjust(k as i64 * step);
        }
        if let Some(p) = pacer {
            p.wait(k as i64 * step);
        }
        !stop.raised()
    };
    sim.run_with(every, pace, |done, _| {
        bar.set_position(done);
        let live = live_stats.map_or(String::new(), |s| {
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
    if !stop.raised() && sim.ticks_done() == total {
        // The end of the run is a sync point: the system has everything before it finishes.
        sync(total, &mut clock);
    }
    bar.finish_and_clear();
}
