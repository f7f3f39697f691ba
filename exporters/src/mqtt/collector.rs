//! The alert collector: subscribes to the system under test's alerts topic (and, optionally, its
//! ingestion echo topic) and logs every message as it arrives, stamped in simulation time by the
//! run's clock (the newest telemetry written to the broker: what the system could have seen).
//! Logs: `alerts.jsonl` and `ingested.jsonl` in the run folder ([`crate::wire::alerts::MessageLog`]).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rumqttc::{Client, Event, Packet};
use wardtwin_sim::time::SimMillis;

use super::options::LiveOptions;
use super::publisher::{LiveError, client_options};
use super::subscription::{Subscription, await_ready};
use super::sync::SyncPoint;
use crate::runfolder::{ALERTS_LOG, COLLECTION_LOG, ECHO_LOG};
use crate::wire::alerts::MessageLog;

/// The largest MQTT packet there is (remaining length 268,435,455 plus the fixed header).
pub const MQTT_MAX_PACKET: usize = 268_435_455 + 5;

/// What the collector logged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectorReport {
    pub alerts: u64,
    pub echoes: u64,
    /// Collection stopped at its time limit while messages were still arriving: the system
    /// under test may have sent more than was scored.
    pub cut_off: bool,
}

/// Shown each alert as it is logged (its arrival in simulation time and its payload, as it
/// came): the visual ward puts a system's alerts on its central station.
pub type AlertTap = Box<dyn FnMut(SimMillis, &[u8]) + Send>;

/// A running collector.
pub struct Collector {
    client: Client,
    /// To end the persistent session at the broker when collection is over.
    session: Option<rumqttc::MqttOptions>,
    thread: Option<JoinHandle<std::io::Result<CollectorReport>>>,
    alerts: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
    /// Telemetry messages the system has echoed (items of its echo messages).
    echoed: Arc<AtomicU64>,
    /// Set when collection ends: a connection error then ends the loop (a broker that is gone
    /// for good would otherwise be retried for ever, and the disconnect never sent).
    stopping: Arc<AtomicBool>,
    /// The run folder.
    dir: std::path::PathBuf,
}

impl Collector {
    /// Connects, subscribes (waiting for the broker's confirmation, so no alert is missed) and
    /// starts logging into `dir`. `clock` gives the simulation time to stamp arrivals with.
    /// With `sync` (the acknowledgement topic and the run's sync point), it also takes the
    /// system's clock acknowledgements and reports them and every alert to the sync point.
    /// `tap`, if given, is shown every alert once it is logged.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        opts: &LiveOptions,
        client_id: String,
        alerts_topic: &str,
        echo_topic: Option<&str>,
        sync: Option<(String, SyncPoint)>,
        dir: &Path,
        clock: impl Fn() -> SimMillis + Send + 'static,
        mut tap: Option<AlertTap>,
    ) -> Result<Self, LiveError> {
        let connect = |why: String| LiveError::Connect {
            url: opts.broker.to_string(),
            why,
        };
        let mut mo = client_options(opts, client_id).map_err(|e| connect(e.to_string()))?;
        // Nothing the broker delivers may cost the connection (an alert over rumqttc's default
        // 1 MiB used to drop it, and with it every alert published during the reconnect): take
        // packets up to MQTT's own limit (the log keeps only the size of those over
        // MAX_PAYLOAD_BYTES), and keep a persistent session under this run's fixed client id,
        // subscribed at QoS 1, so that the broker holds QoS 1 alerts across a reconnect.
        mo.set_clean_session(false)
            .set_max_packet_size(MQTT_MAX_PACKET, 1 << 20);
        let mut alerts_log =
            MessageLog::create(&dir.join(ALERTS_LOG)).map_err(|e| connect(e.to_string()))?;
        let mut echo_log = match echo_topic {
            Some(_) => {
                Some(MessageLog::create(&dir.join(ECHO_LOG)).map_err(|e| connect(e.to_string()))?)
            }
            None => None,
        };
        let mut cleanup = mo.clone();
        cleanup.set_clean_session(true);
        let (client, mut conn) = Client::new(mo, 64);
        // Acknowledgements are waited for: no Nagle delay.
        conn.eventloop.network_options.set_tcp_nodelay(true);
        let (ack_topic, point) = match sync {
            Some((t, p)) => (Some(t), Some(p)),
            None => (None, None),
        };
        let topics: Vec<String> = std::iter::once(alerts_topic.to_string())
            .chain(echo_topic.map(str::to_string))
            .chain(ack_topic.clone())
            .collect();
        let alerts_topic = alerts_topic.to_string();
        let (mut sub, ready) = Subscription::new(client.clone(), topics);
        let alerts = Arc::new(AtomicU64::new(0));
        let received = Arc::new(AtomicU64::new(0));
        let echoed = Arc::new(AtomicU64::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let (a, r, ec, stop) = (
            Arc::clone(&alerts),
            Arc::clone(&received),
            Arc::clone(&echoed),
            Arc::clone(&stopping),
        );
        let thread = std::thread::Builder::new()
            .name("alert-collector".into())
            .spawn(move || {
                for ev in conn.iter() {
                    if ev.is_err() && stop.load(Ordering::Acquire) {
                        break;
                    }
                    sub.handle(&ev);
                    match ev {
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            let t = clock();
                            if p.topic == alerts_topic {
                                alerts_log.append(t, &p.topic, &p.payload)?;
                                a.fetch_add(1, Ordering::Relaxed);
                                if let Some(tap) = tap.as_mut() {
                                    tap(t, &p.payload);
                                }
                                if let Some(sp) = &point {
                                    sp.on_alert();
                                }
                            } else if ack_topic.as_deref() == Some(&*p.topic) {
                                if let Some(sp) = &point
                                    && !p.retain
                                {
                                    sp.on_ack(&p.payload);
                                }
                                continue;
                            } else if let Some(log) = echo_log.as_mut() {
                                log.append(t, &p.topic, &p.payload)?;
                                ec.fetch_add(echo_items(&p.payload), Ordering::Release);
                            }
                            r.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                        _ => {}
                    }
                }
                let alerts = alerts_log.finish()?;
                let echoes = match echo_log {
                    Some(l) => l.finish()?,
                    None => 0,
                };
                Ok(CollectorReport {
                    alerts,
                    echoes,
                    cut_off: false,
                })
            })
            .map_err(|e| connect(e.to_string()))?;
        let mut c = Self {
            client,
            session: Some(cleanup),
            thread: Some(thread),
            alerts,
            received,
            echoed,
            stopping,
            dir: dir.to_path_buf(),
        };
        await_ready(&ready, &opts.broker.to_string(), || c.abort())?;
        Ok(c)
    }

    /// Telemetry messages the system has echoed so far (for `--speed auto`).
    pub fn echo_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.echoed)
    }

    /// Alerts logged so far.
    pub fn alerts(&self) -> u64 {
        self.alerts.load(Ordering::Relaxed)
    }

    fn abort(&mut self) {
        let _ = self.client.disconnect();
        self.thread.take();
    }

    /// Stops collecting once `enough(alerts so far)` holds, or nothing has arrived for `quiet`,
    /// or after `limit`; then flushes the logs, and records in `collection.json` how it
    /// ended ([`COLLECTION_LOG`]: whether it was cut off while messages were still arriving).
    pub fn finish(
        mut self,
        enough: impl Fn(u64) -> bool,
        quiet: Duration,
        limit: Duration,
    ) -> std::io::Result<CollectorReport> {
        let cut_off = wait_until_quiet(
            || self.received.load(Ordering::Relaxed),
            || enough(self.alerts()),
            quiet,
            limit,
        );
        self.stopping.store(true, Ordering::Release);
        let _ = self.client.disconnect();
        let report = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(std::io::Error::other("the alert collector thread failed")),
        };
        if let Some(o) = self.session.take() {
            super::subscription::end_session(o);
        }
        let mut report = report?;
        report.cut_off = cut_off;
        let record = serde_json::json!({
            "alerts": report.alerts,
            "echoes": report.echoes,
            "cut_off": cut_off,
            "quiet_ms": quiet.as_millis() as u64,
            "limit_ms": limit.as_millis() as u64,
        });
        std::fs::write(self.dir.join(COLLECTION_LOG), format!("{record}\n"))?;
        Ok(report)
    }
}

/// Waits until `enough()` holds, or `received()` has not moved for `quiet`, or `limit` has
/// passed; returns whether it was cut off (messages were still arriving, and not enough).
pub(crate) fn wait_until_quiet(
    received: impl Fn() -> u64,
    enough: impl Fn() -> bool,
    quiet: Duration,
    limit: Duration,
) -> bool {
    // Waiting on the wall clock for a system outside the simulation (edge, not the model).
    #[allow(clippy::disallowed_methods)]
    let now = std::time::Instant::now;
    let start = now();
    let mut last = (received(), now());
    let mut went_quiet = false;
    while !enough() && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(10));
        let n = received();
        if n != last.0 {
            last = (n, now());
        } else if last.1.elapsed() >= quiet {
            went_quiet = true;
            break;
        }
    }
    !went_quiet && !enough()
}

/// How many telemetry messages an echo message acknowledges: an array's items, or one.
fn echo_items(payload: &[u8]) -> u64 {
    match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(serde_json::Value::Array(items)) => items.len() as u64,
        Ok(_) => 1,
        Err(_) => 0,
    }
}
