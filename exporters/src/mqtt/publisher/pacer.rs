//! Pacing: simulation time to the wall clock (outside the model).

use super::*;

/// Where `--speed auto` last changed its rate: from `wall` on, offset `offset_ms` onwards runs
/// at `rate` simulated seconds per wall second.
#[derive(Debug)]
struct Anchor {
    wall: Option<Instant>,
    offset_ms: i64,
    rate: f64,
    /// The furthest offset waited for so far (a new rate starts from there).
    reached_ms: i64,
}

/// Maps simulation time to the wall clock. The clock starts at the first [`Pacer::wait`].
#[derive(Debug, Clone)]
pub struct Pacer {
    speed: Speed,
    start: Arc<OnceLock<Instant>>,
    /// `--speed auto`: the current rate.
    auto: Arc<Mutex<Anchor>>,
}

/// The rate `--speed auto` starts from.
pub const AUTO_START_RATE: f64 = 60.0;

impl Pacer {
    pub fn new(speed: Speed) -> Self {
        Self {
            speed,
            start: Arc::new(OnceLock::new()),
            auto: Arc::new(Mutex::new(Anchor {
                wall: None,
                offset_ms: 0,
                rate: AUTO_START_RATE,
                reached_ms: 0,
            })),
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

    fn anchor(&self) -> MutexGuard<'_, Anchor> {
        self.auto.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When simulation offset `offset_ms` is due; `None` at `Speed::Max`.
    fn due(&self, offset_ms: i64) -> Option<Instant> {
        let start = self.start();
        match self.speed {
            Speed::Paced(s) => {
                Some(start + Duration::from_secs_f64(offset_ms.max(0) as f64 / 1000.0 / s))
            }
            Speed::Max => None,
            Speed::Auto => {
                let mut a = self.anchor();
                a.reached_ms = a.reached_ms.max(offset_ms);
                let wall = *a.wall.get_or_insert(start);
                let ahead = (offset_ms - a.offset_ms).max(0) as f64;
                Some(wall + Duration::from_secs_f64(ahead / 1000.0 / a.rate))
            }
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

    /// `--speed auto`: the current rate (simulated seconds per wall second).
    pub fn rate(&self) -> Option<f64> {
        (self.speed == Speed::Auto).then(|| self.anchor().rate)
    }

    /// `--speed auto`: runs at `rate` from the furthest offset reached so far, from now.
    pub fn set_rate(&self, rate: f64) {
        if self.speed != Speed::Auto || !rate.is_finite() || rate <= 0.0 {
            return;
        }
        let now = Self::now();
        let mut a = self.anchor();
        a.wall = Some(now);
        a.offset_ms = a.reached_ms;
        a.rate = rate;
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

/// `--speed auto`: paces the run to what the system under test ingests, like emqttb's
/// autorate. The lag is how far, in simulation time, the system's ingestion echo is behind the
/// telemetry handed to the publisher; above [`AUTO_LAG_MS`] the rate halves, below a quarter
/// of it the rate grows by a quarter (between 1x and 10^6x), at most every 100 ms of wall time.
pub struct AutoRate {
    pacer: Pacer,
    handed: Arc<AtomicU64>,
    echoed: Arc<AtomicU64>,
    /// (simulation offset, telemetry handed over before it), not yet all echoed.
    pending: VecDeque<(i64, u64)>,
    /// The offset up to which the system has echoed everything.
    reached_ms: i64,
    last: Option<Instant>,
    /// The lowest and highest rates used, for the summary.
    pub range: (f64, f64),
}

/// The lag (simulation time) `--speed auto` keeps the system under: well inside what the
/// scorer grades (`MAX_LAG_MS`, 1 min).
pub const AUTO_LAG_MS: i64 = 10_000;

impl AutoRate {
    pub fn new(pacer: Pacer, handed: Arc<AtomicU64>, echoed: Arc<AtomicU64>) -> Self {
        Self {
            pacer,
            handed,
            echoed,
            pending: VecDeque::new(),
            reached_ms: 0,
            last: None,
            range: (AUTO_START_RATE, AUTO_START_RATE),
        }
    }

    /// Before the tick at `offset_ms`: notes what was handed over by then, and adjusts the rate
    /// from the lag (at most every 100 ms).
    pub fn adjust(&mut self, offset_ms: i64) {
        let handed = self.handed.load(Ordering::Acquire);
        if self.pending.back().is_none_or(|b| b.1 != handed) {
            self.pending.push_back((offset_ms, handed));
        }
        let echoed = self.echoed.load(Ordering::Acquire);
        while let Some(&(t, n)) = self.pending.front() {
            if n > echoed {
                break;
            }
            self.reached_ms = t;
            self.pending.pop_front();
        }
        let now = Pacer::now();
        if self
            .last
            .is_some_and(|l| now.duration_since(l) < Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(now);
        let Some(rate) = self.pacer.rate() else {
            return;
        };
        let lag = if self.pending.is_empty() {
            0
        } else {
            offset_ms - self.reached_ms
        };
        let next = if lag > AUTO_LAG_MS {
            (rate * 0.5).max(1.0)
        } else if lag < AUTO_LAG_MS / 4 {
            (rate * 1.25).min(1e6)
        } else {
            rate
        };
        if next != rate {
            self.pacer.set_rate(next);
            self.range = (self.range.0.min(next), self.range.1.max(next));
        }
    }
}
