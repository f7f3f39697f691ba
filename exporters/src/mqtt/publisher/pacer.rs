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
