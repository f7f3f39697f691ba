//! Pacing: simulation time to the wall clock (outside the model).

use super::*;

/// Maps simulation time to the wall clock. The clock starts at the first [`Pacer::wait`].
#[derive(Debug, Clone)]
pub struct Pacer {
    speed: Speed,
    start: Arc<OnceLock<Instant>>,
}

impl Pacer {
    pub fn new(speed: Speed) -> Self {
        Self {
            speed,
            start: Arc::new(OnceLock::new()),
        }
    }

    pub fn speed(&self) -> Speed {
        self.speed
    }

    // Wall time at the edge of the simulation: pacing only, never fed to the model.
    #[allow(clippy::disallowed_methods)]
    fn now() -> Instant {
        Instant::now()
    }

    fn start(&self) -> Instant {
        *self.start.get_or_init(Self::now)
    }

    /// When simulation offset `offset_ms` is due; `None` at `Speed::Max`.
    fn due(&self, offset_ms: i64) -> Option<Instant> {
        let start = self.start();
        match self.speed {
            Speed::Paced(s) => {
                Some(start + Duration::from_secs_f64(offset_ms.max(0) as f64 / 1000.0 / s))
            }
            // `--speed auto` is paced by the system's echo ([`AutoRate`]), not the clock.
            Speed::Max | Speed::Auto => None,
        }
    }

    /// Waits until simulation offset `offset_ms` (since the epoch) is due. `Speed::Max` never
    /// waits.
    pub fn wait(&self, offset_ms: i64) {
        if let Some(due) = self.due(offset_ms) {
            let now = Self::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
    }

    /// How late (µs) it is now for simulation offset `offset_ms`; `None` unless paced at a
    /// fixed speed.
    pub(super) fn lateness_us(&self, offset_ms: i64) -> Option<i64> {
        let Speed::Paced(s) = self.speed else {
            return None;
        };
        let elapsed = Self::now()
            .saturating_duration_since(self.start())
            .as_micros() as i64;
        let scheduled = (offset_ms as f64 * 1000.0 / s) as i64;
        Some(elapsed - scheduled)
    }
}

/// `--speed auto`: as fast as the system under test ingests. A window, like TCP's flow control:
/// before each tick the run waits while the system's ingestion echo is more than
/// [`AUTO_LAG_MS`] of simulation time behind the telemetry handed to the publisher (a rate
/// controller alone overshoots: at thousands of times real time, a tenth of a second of wall
/// time is minutes of simulation). A system that stops echoing for [`AUTO_PATIENCE`] is left
/// behind (the run goes on as at `--speed max`, and its echo will show it).
pub struct AutoRate {
    handed: Arc<AtomicU64>,
    echoed: Arc<AtomicU64>,
    /// (simulation offset, telemetry handed over before it), not yet all echoed.
    pending: VecDeque<(i64, u64)>,
    /// The offset up to which the system has echoed everything.
    reached_ms: i64,
    /// Wall time spent waiting for the system, and whether it was given up on.
    pub waited: Duration,
    pub gave_up: bool,
}

/// How far (simulation time) `--speed auto` lets the system's echo fall behind: well inside
/// what the scorer grades (`MAX_LAG_MS`, 1 min), and above the few seconds a system may batch
/// its echo.
pub const AUTO_LAG_MS: i64 = 20_000;
/// How long `--speed auto` waits for an echo that does not move before it stops waiting.
pub const AUTO_PATIENCE: Duration = Duration::from_secs(30);

impl AutoRate {
    pub fn new(handed: Arc<AtomicU64>, echoed: Arc<AtomicU64>) -> Self {
        Self {
            handed,
            echoed,
            pending: VecDeque::new(),
            reached_ms: 0,
            waited: Duration::ZERO,
            gave_up: false,
        }
    }

    /// How far the echo is behind `offset_ms` now.
    fn lag(&mut self, offset_ms: i64) -> i64 {
        let echoed = self.echoed.load(Ordering::Acquire);
        while let Some(&(t, n)) = self.pending.front() {
            if n > echoed {
                break;
            }
            self.reached_ms = t;
            self.pending.pop_front();
        }
        if self.pending.is_empty() {
            0
        } else {
            offset_ms - self.reached_ms
        }
    }

    /// Before the tick at `offset_ms`: notes what was handed over by then, and waits while the
    /// system's echo is too far behind.
    pub fn adjust(&mut self, offset_ms: i64) {
        let handed = self.handed.load(Ordering::Acquire);
        if self.pending.back().is_none_or(|b| b.1 != handed) {
            self.pending.push_back((offset_ms, handed));
        }
        if self.gave_up || self.lag(offset_ms) <= AUTO_LAG_MS {
            return;
        }
        let start = Pacer::now();
        let mut last = (self.echoed.load(Ordering::Acquire), start);
        // The echo arrives on the collector's thread; nothing to wait on but its counter.
        while self.lag(offset_ms) > AUTO_LAG_MS {
            std::thread::sleep(Duration::from_micros(200));
            let now = Pacer::now();
            let e = self.echoed.load(Ordering::Acquire);
            if e != last.0 {
                last = (e, now);
            } else if now.duration_since(last.1) >= AUTO_PATIENCE {
                self.gave_up = true;
                eprintln!(
                    "warning: --speed auto: the system's ingestion echo has not moved for {} s; \
                     the run goes on without waiting for it",
                    AUTO_PATIENCE.as_secs()
                );
                break;
            }
        }
        self.waited += start.elapsed();
    }
}
