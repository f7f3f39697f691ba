//! The shared ledger: totals, fates decided so far, and the live figures read while the run goes on.

use super::*;

#[derive(Default)]
pub(super) struct Totals {
    pub(super) fates: Vec<EmissionFate>,
    pub(super) lateness: Histogram,
    pub(super) acknowledged: u64,
    pub(super) sent: u64,
    pub(super) unacknowledged: u64,
    pub(super) unsent: u64,
    pub(super) dropped: u64,
    pub(super) status_messages: u64,
    /// FHIR copies of readings (`--fhir-topic`): written at least once, and never confirmed.
    pub(super) fhir_messages: u64,
    pub(super) fhir_lost: u64,
    /// Chart rounds (`--fhir-topic`): written at least once, and never confirmed.
    pub(super) chart_messages: u64,
    pub(super) chart_lost: u64,
    pub(super) unledgered: u64,
    pub(super) resent: u64,
    pub(super) reconnects: u64,
    pub(super) outstanding: u64,
    pub(super) max_depth: u64,
    pub(super) spool_full_waits: u64,
    pub(super) last_error: Option<String>,
}

pub(super) struct Shared {
    pub(super) totals: Mutex<Totals>,
    /// Signalled when `outstanding` falls to `wake_at` or below (hysteresis: waking the
    /// dispatcher on every acknowledgement would cost more than the message).
    pub(super) progress: Notify,
    pub(super) wake_at: AtomicU64,
    pub(super) sim_now_ms: AtomicI64,
    /// Simulation time of the newest telemetry written to a broker connection: the run's clock
    /// as a system under test can see it (alert arrivals are stamped with it).
    pub(super) wire_ms: AtomicI64,
    /// The run is ending: stop applying backpressure, so the end is reached and the drain
    /// timeout decides (a broker that accepts connections but never acknowledges cannot
    /// hang the run).
    pub(super) finishing: std::sync::atomic::AtomicBool,
    /// Connection losses said on the terminal so far.
    pub(super) loss_lines: AtomicU64,
    /// The connections (for [`LiveStats::wait_connected_drained`]).
    pub(super) conns: OnceLock<Vec<Arc<Mutex<Conn>>>>,
    /// Batches handed to the MQTT thread, and those it has put on their connections' spools.
    pub(super) batches_sent: AtomicU64,
    pub(super) batches_dispatched: AtomicU64,
}

impl Shared {
    pub(super) fn totals(&self) -> MutexGuard<'_, Totals> {
        self.totals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the final fate of a message.
    pub(super) fn finalize(&self, m: Msg, fate: Fate) {
        let mut t = self.totals();
        t.outstanding -= 1;
        if let Some(k) = m.out.ledger {
            if k.telemetry() {
                match fate {
                    Fate::Acknowledged => t.acknowledged += 1,
                    Fate::Sent => t.sent += 1,
                    Fate::Unacknowledged => t.unacknowledged += 1,
                    Fate::Dropped => t.dropped += 1,
                    _ => t.unsent += 1,
                }
            } else if k.kind == EmissionKind::Fhir {
                if m.attempts > 0 {
                    t.fhir_messages += 1;
                }
                if !matches!(fate, Fate::Acknowledged | Fate::Sent) {
                    t.fhir_lost += 1;
                }
            } else if m.attempts > 0 {
                t.status_messages += 1;
            }
            t.fates.push(EmissionFate {
                device: k.device,
                kind: k.kind,
                seq: k.seq,
                sim_ms: k.sim_ms,
                fate,
                sink: "mqtt",
                forwarded_ms: Some(k.forwarded_ms),
                attempts: m.attempts,
                lateness_us: m.lateness_us,
            });
        } else if m.out.chart {
            if m.attempts > 0 {
                t.chart_messages += 1;
            }
            if !matches!(fate, Fate::Acknowledged | Fate::Sent) {
                t.chart_lost += 1;
            }
        } else if m.attempts > 0 {
            t.unledgered += 1;
        }
        let wake = t.outstanding <= self.wake_at.load(Ordering::Relaxed);
        drop(t);
        if wake {
            self.progress.notify_one();
        }
    }
}

/// Live figures of a running publisher.
#[derive(Clone)]
pub struct LiveStats(pub(super) Arc<Shared>);

impl LiveStats {
    /// Messages handed over and not yet final (spooled, in flight).
    pub fn queued(&self) -> u64 {
        self.0.totals().outstanding
    }
    pub fn reconnects(&self) -> u64 {
        self.0.totals().reconnects
    }
    /// Telemetry messages with a final fate so far.
    pub fn done(&self) -> u64 {
        let t = self.0.totals();
        t.acknowledged + t.sent + t.unacknowledged + t.unsent + t.dropped
    }
    /// Waits (up to `limit`) until every connected connection has nothing spooled or in
    /// flight: what was handed over has reached the broker. Before a drill cuts links, so the
    /// cut falls after what the model delivered before it (a disconnected connection cannot
    /// drain and is not waited for). Returns whether it drained.
    pub fn wait_connected_drained(&self, limit: Duration) -> bool {
        let Some(conns) = self.0.conns.get() else {
            return true;
        };
        let drained = || {
            let sh = &self.0;
            sh.batches_dispatched.load(Ordering::Acquire) >= sh.batches_sent.load(Ordering::Acquire)
                && conns.iter().all(|c| {
                    let c = c.lock().unwrap_or_else(|p| p.into_inner());
                    !c.connected || (c.backlog.is_empty() && c.held() == 0)
                })
        };
        // The connections drain on the MQTT thread; nothing to wait on but their state.
        #[allow(clippy::disallowed_methods)]
        let start = Instant::now();
        while !drained() {
            if start.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        true
    }

    /// Simulation time of the newest telemetry written to the broker (`None` before the first).
    pub fn wire_ms(&self) -> Option<SimMillis> {
        let t = self.0.wire_ms.load(Ordering::Relaxed);
        (t != i64::MIN).then_some(t)
    }
}
