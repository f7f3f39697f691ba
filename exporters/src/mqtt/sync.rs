//! Virtual time shared with the system under test: the clock topic and lockstep.
//!
//! Like ROS's `/clock` with `use_sim_time`: every sync interval of simulation time, after that
//! interval's telemetry has been handed to the publisher (in the same queue, so it leaves
//! after them), the twin publishes a clock message (wire v1, retained) on
//! `<prefix>/<site>/sim/clock`:
//!
//! ```json
//! {"type":"clock","v":1,"tick":299,"sim_time":"2026-03-02T00:04:59Z","step_ms":1000,
//!  "telemetry":5231,"sync":"lockstep"}
//! ```
//!
//! `telemetry` counts the telemetry messages published before it (since the run began): MQTT
//! orders messages per connection only, and the twin publishes over one connection per
//! gateway, so a system that wants to know it has everything up to the clock waits until it
//! has received that many (each `(device, seq)` once). `waveforms` and `chart` (present when
//! not zero) count the waveform frames and the chart's rounds likewise.
//!
//! With `--sync lockstep` the twin then waits, before it simulates further, for the system's
//! acknowledgement on `<prefix>/<site>/sim/ack`:
//!
//! ```json
//! {"type":"clock_ack","tick":299,"alerts":17}
//! ```
//!
//! meaning "I have processed everything up to tick 299, and have published 17 alerts in all".
//! `alerts` is optional: with it, the twin also waits until that many alerts have arrived, so
//! every alert is stamped with the clock it answered, whatever the broker's ordering. A
//! system that has not acknowledged within the sync timeout is recorded as stalled (a
//! [`Stall`]) and the run goes on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wardtwin_sim::time::{SimMillis, format_iso_ms};

use super::publisher::{LiveError, OutMsg, Publisher};

/// How the system under test's time is coupled to the twin's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// The system runs on its own (wall) clock; no clock messages.
    Free,
    /// The twin publishes its clock; it does not wait for the system.
    Clock,
    /// The twin publishes its clock and waits for the system's acknowledgement.
    Lockstep,
}

impl SyncMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Clock => "clock",
            Self::Lockstep => "lockstep",
        }
    }
}

/// The clock topic of a site.
pub fn clock_topic(prefix: &str, site: &str) -> String {
    format!("{prefix}/{site}/sim/clock")
}

/// The acknowledgement topic of a site.
pub fn ack_topic(prefix: &str, site: &str) -> String {
    format!("{prefix}/{site}/sim/ack")
}

/// The acknowledgement topic that goes with a clock topic (`None` if it is not one).
pub fn ack_topic_of(clock_topic: &str) -> Option<String> {
    clock_topic
        .strip_suffix("/sim/clock")
        .map(|base| format!("{base}/sim/ack"))
}

/// A clock message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockMsg {
    #[serde(rename = "type")]
    pub kind: String,
    pub v: u32,
    pub tick: u64,
    pub sim_time: String,
    pub step_ms: i64,
    /// Telemetry messages published before this clock message.
    pub telemetry: u64,
    /// Waveform frames published before it (absent when none: a run without waveforms).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub waveforms: u64,
    /// Chart rounds published before it (`--fhir-topic`; absent when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub chart: u64,
    pub sync: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ClockMsg {
    pub fn decode(payload: &[u8]) -> Option<Self> {
        let m: Self = serde_json::from_slice(payload).ok()?;
        (m.kind == "clock").then_some(m)
    }
}

/// An acknowledgement from the system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckMsg {
    pub tick: u64,
    /// Alerts the system has published in all, if it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<u64>,
}

/// The payload of an acknowledgement.
pub fn encode_ack(tick: u64, alerts: Option<u64>) -> String {
    let mut v = serde_json::json!({ "type": "clock_ack", "tick": tick });
    if let Some(a) = alerts {
        v["alerts"] = a.into();
    }
    v.to_string()
}

/// A sync point at which the system under test did not acknowledge in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stall {
    pub tick: u64,
    pub sim_time: String,
    /// The last tick it had acknowledged, if any.
    pub acknowledged: Option<u64>,
    /// Alerts it had promised that had not arrived.
    pub alerts_missing: u64,
}

#[derive(Debug, Default)]
struct Acks {
    /// The highest tick acknowledged.
    tick: Option<u64>,
    /// Alerts the system says it has published.
    promised: u64,
    /// Alerts that have arrived.
    alerts: u64,
    /// Acknowledgements that could not be read, or of a tick not yet published.
    malformed: u64,
    /// The latest tick whose clock was published (`None` before the first: an
    /// acknowledgement then is not this run's).
    published: Option<u64>,
}

/// Where the alert collector reports acknowledgements and alerts, and where the twin waits
/// for them.
#[derive(Debug, Clone, Default)]
pub struct SyncPoint(Arc<(Mutex<Acks>, Condvar)>);

impl SyncPoint {
    fn acks(&self) -> MutexGuard<'_, Acks> {
        self.0.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An alert arrived.
    pub fn on_alert(&self) {
        self.acks().alerts += 1;
        self.0.1.notify_all();
    }

    /// The clock of `tick` is being published.
    fn publishing(&self, tick: u64) {
        let mut a = self.acks();
        a.published = Some(a.published.map_or(tick, |p| p.max(tick)));
    }

    /// An acknowledgement arrived.
    pub fn on_ack(&self, payload: &[u8]) {
        let mut a = self.acks();
        match serde_json::from_slice::<AckMsg>(payload) {
            // An acknowledgement of a tick not yet published is not this run's.
            Ok(m) if a.published.is_some_and(|p| m.tick <= p) => {
                a.tick = Some(a.tick.map_or(m.tick, |t| t.max(m.tick)));
                if let Some(n) = m.alerts {
                    a.promised = a.promised.max(n);
                }
            }
            _ => a.malformed += 1,
        }
        drop(a);
        self.0.1.notify_all();
    }

    /// Acknowledgements that could not be used.
    pub fn malformed(&self) -> u64 {
        self.acks().malformed
    }

    /// Waits until `tick` is acknowledged and every promised alert has arrived, or `timeout`.
    fn wait(&self, tick: u64, timeout: Duration) -> Result<(), Stall> {
        let a = self.acks();
        let done = |a: &mut Acks| a.tick.is_some_and(|t| t >= tick) && a.alerts >= a.promised;
        let (mut a, _) = self
            .0
            .1
            .wait_timeout_while(a, timeout, |a| !done(a))
            .unwrap_or_else(|p| p.into_inner());
        if done(&mut a) {
            Ok(())
        } else {
            Err(Stall {
                tick,
                sim_time: String::new(),
                acknowledged: a.tick,
                alerts_missing: a.promised.saturating_sub(a.alerts),
            })
        }
    }
}

/// The twin's side: publishes the clock, and in lockstep waits for the system.
pub struct SimClockOut {
    mode: SyncMode,
    topic: Arc<str>,
    epoch_ms: SimMillis,
    step_ms: i64,
    /// Ticks between clock messages.
    every: u64,
    timeout: Duration,
    point: SyncPoint,
    /// Simulation time of the latest clock published (what alerts are stamped with).
    now: Arc<AtomicI64>,
    stalls: Vec<Stall>,
    published: u64,
    /// Stalls in a row; at [`GIVE_UP_AFTER`] the twin stops waiting.
    in_a_row: u32,
    /// The tick at which the twin stopped waiting for a system that no longer answers.
    gave_up_at: Option<u64>,
    /// The broker is down (a drill): the clock cannot reach the system, so it is not waited
    /// for.
    unreachable: bool,
    /// Sync points not waited for because the broker was down.
    skipped: u64,
}

/// Consecutive stalls after which the twin stops waiting (a system that died would otherwise
/// cost the timeout at every sync point of the run); the clock is still published.
pub const GIVE_UP_AFTER: u32 = 3;

impl SimClockOut {
    /// A clock on `topic` every `interval_ms` of simulation time (at least one step).
    pub fn new(
        mode: SyncMode,
        topic: String,
        epoch_ms: SimMillis,
        step_ms: i64,
        interval_ms: i64,
        timeout: Duration,
        point: SyncPoint,
    ) -> Self {
        Self {
            mode,
            topic: topic.into(),
            epoch_ms,
            step_ms,
            every: (interval_ms / step_ms.max(1)).max(1) as u64,
            timeout,
            point,
            now: Arc::new(AtomicI64::new(epoch_ms)),
            stalls: Vec::new(),
            published: 0,
            in_a_row: 0,
            gave_up_at: None,
            unreachable: false,
            skipped: 0,
        }
    }

    /// Whether the broker is down for everybody now (a drill's broker outage): lockstep then
    /// publishes its clock (it waits in the spool) without waiting for an answer.
    pub fn set_unreachable(&mut self, down: bool) {
        self.unreachable = down;
    }

    pub fn mode(&self) -> SyncMode {
        self.mode
    }

    /// The simulation time of the latest clock published (the epoch before the first).
    pub fn now_handle(&self) -> Arc<AtomicI64> {
        Arc::clone(&self.now)
    }

    /// Before simulating tick `k` (ticks `0..k` done): at a sync point, publishes the clock of
    /// tick `k - 1` and, in lockstep, waits for the system. `last` forces a sync point (the
    /// end of the run).
    pub fn before_tick(
        &mut self,
        publisher: &ClockSender,
        k: u64,
        last: bool,
    ) -> Result<(), LiveError> {
        if self.mode == SyncMode::Free || k == 0 || !(last || k.is_multiple_of(self.every)) {
            return Ok(());
        }
        let tick = k - 1;
        let sim_ms = self.epoch_ms + tick as i64 * self.step_ms;
        let msg = ClockMsg {
            kind: "clock".into(),
            v: 1,
            tick,
            sim_time: format_iso_ms(sim_ms),
            step_ms: self.step_ms,
            telemetry: publisher.telemetry(),
            waveforms: publisher.waveforms(),
            chart: publisher.chart(),
            sync: self.mode.name().into(),
        };
        let payload = serde_json::to_string(&msg).expect("a clock message serialises");
        self.now.store(sim_ms, Ordering::Release);
        self.point.publishing(tick);
        publisher.send(OutMsg {
            conn: 0,
            topic: Arc::clone(&self.topic),
            payload: bytes::Bytes::from(payload.into_bytes()),
            retain: true,
            ledger: None,
            chart: false,
            offset_ms: sim_ms - self.epoch_ms,
        })?;
        self.published += 1;
        if self.mode == SyncMode::Lockstep && self.unreachable {
            self.skipped += 1;
        } else if self.mode == SyncMode::Lockstep && self.gave_up_at.is_none() {
            match self.point.wait(tick, self.timeout) {
                Ok(()) => self.in_a_row = 0,
                Err(mut s) => {
                    s.sim_time = format_iso_ms(sim_ms);
                    self.stalls.push(s);
                    self.in_a_row += 1;
                    if self.in_a_row >= GIVE_UP_AFTER {
                        self.gave_up_at = Some(tick);
                        crate::errln!(
                            "warning: the system under test has not acknowledged {GIVE_UP_AFTER} \
                             sync points in a row; the run goes on without waiting for it \
                             (the scorecard will say the run is invalid)"
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// Clock messages published.
    pub fn published(&self) -> u64 {
        self.published
    }

    /// Sync points at which the system did not acknowledge in time.
    pub fn stalls(&self) -> &[Stall] {
        &self.stalls
    }

    /// What `sync.json` in the run folder says: the mode, the interval, the clocks published,
    /// unusable acknowledgements and every stall.
    pub fn record(&self) -> serde_json::Value {
        serde_json::json!({
            "sync": self.mode,
            "interval_ms": self.every as i64 * self.step_ms,
            "timeout_ms": self.timeout.as_millis() as u64,
            "clocks": self.published,
            "unusable_acks": self.point.malformed(),
            "gave_up_at_tick": self.gave_up_at,
            "not_waited_broker_down": self.skipped,
            "stalls": self.stalls,
        })
    }
}

/// Sends clock messages through the publisher's queue (after the telemetry handed to it
/// before), and counts the telemetry handed over.
#[derive(Clone)]
pub struct ClockSender {
    tx: super::publisher::BatchSender,
    telemetry: Arc<AtomicU64>,
    waveforms: Arc<AtomicU64>,
    chart: Arc<AtomicU64>,
    /// The publisher's own connection (not a gateway's: a ward's link going down must not
    /// hold up the clock).
    conn: u32,
}

impl ClockSender {
    pub fn new(p: &Publisher) -> Option<Self> {
        Some(Self {
            tx: p.batch_sender()?,
            telemetry: p.telemetry_counter(),
            waveforms: p.waveform_counter(),
            chart: p.chart_counter(),
            conn: p.control(),
        })
    }

    fn telemetry(&self) -> u64 {
        self.telemetry.load(Ordering::Acquire)
    }

    fn waveforms(&self) -> u64 {
        self.waveforms.load(Ordering::Acquire)
    }

    fn chart(&self) -> u64 {
        self.chart.load(Ordering::Acquire)
    }

    fn send(&self, mut m: OutMsg) -> Result<(), LiveError> {
        m.conn = self.conn;
        self.tx.send(vec![m])
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
        let start = wall_now();
        let mut last = (self.echoed.load(Ordering::Acquire), start);
        // The echo arrives on the collector's thread; nothing to wait on but its counter.
        while self.lag(offset_ms) > AUTO_LAG_MS {
            std::thread::sleep(Duration::from_micros(200));
            let now = wall_now();
            let e = self.echoed.load(Ordering::Acquire);
            if e != last.0 {
                last = (e, now);
            } else if now.duration_since(last.1) >= AUTO_PATIENCE {
                self.gave_up = true;
                crate::errln!(
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

// Waiting on the wall clock for a system outside the simulation (edge, not the model).
#[allow(clippy::disallowed_methods)]
fn wall_now() -> std::time::Instant {
    std::time::Instant::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acknowledgement_counts_only_for_a_published_tick_and_waits_for_promised_alerts() {
        let p = SyncPoint::default();
        // Before any clock: not this run's.
        p.on_ack(encode_ack(5, None).as_bytes());
        assert_eq!(p.malformed(), 1);
        p.publishing(9);
        p.on_ack(b"{not json");
        p.on_ack(encode_ack(10, None).as_bytes());
        assert_eq!(p.malformed(), 3);
        let short = Duration::from_millis(1);
        assert!(p.wait(9, short).is_err());
        p.on_ack(encode_ack(9, Some(2)).as_bytes());
        let s = p
            .wait(9, short)
            .expect_err("two alerts promised, none arrived");
        assert_eq!((s.acknowledged, s.alerts_missing), (Some(9), 2));
        p.on_alert();
        p.on_alert();
        assert!(p.wait(9, short).is_ok());
        assert!(
            p.wait(3, short).is_ok(),
            "a later acknowledgement covers earlier ticks"
        );
    }

    #[test]
    fn clock_messages_round_trip() {
        let m = ClockMsg {
            kind: "clock".into(),
            v: 1,
            tick: 299,
            sim_time: "2026-03-02T00:04:59.000Z".into(),
            step_ms: 1000,
            telemetry: 5231,
            waveforms: 0,
            chart: 0,
            sync: "lockstep".into(),
        };
        assert!(!serde_json::to_string(&m).unwrap().contains("waveforms"));
        let with = ClockMsg {
            waveforms: 900,
            chart: 12,
            ..m.clone()
        };
        let text = serde_json::to_string(&with).unwrap();
        crate::wire::schemas::WireSchemas::load()
            .check(text.as_bytes())
            .expect("a valid clock message with waveforms and chart rounds");
        assert_eq!(ClockMsg::decode(text.as_bytes()), Some(with));
        let s = serde_json::to_string(&m).expect("serialises");
        let schemas = crate::wire::schemas::WireSchemas::load();
        schemas.check(s.as_bytes()).expect("a valid clock message");
        schemas
            .check(encode_ack(3, Some(4)).as_bytes())
            .expect("a valid acknowledgement");
        schemas
            .check(encode_ack(3, None).as_bytes())
            .expect("a valid acknowledgement without alerts");
        assert_eq!(ClockMsg::decode(s.as_bytes()), Some(m));
        assert_eq!(ClockMsg::decode(b"{\"type\":\"alert\"}"), None);
        assert_eq!(
            ack_topic_of(&clock_topic("dt/wardtwin", "site")),
            Some(ack_topic("dt/wardtwin", "site"))
        );
        assert_eq!(ack_topic_of("dt/wardtwin/site/map"), None);
        let a: AckMsg = serde_json::from_str(&encode_ack(3, Some(4))).expect("an ack");
        assert_eq!(
            a,
            AckMsg {
                tick: 3,
                alerts: Some(4)
            }
        );
    }
}
