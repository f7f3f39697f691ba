//! The MQTT thread: connections, spools, acknowledgements and the fate of every emission.
//!
//! The simulation thread hands one batch of encoded messages per tick through a bounded
//! channel ([`Publisher::send`]; if the channel is full the simulation waits). On the MQTT
//! thread a dispatcher puts each message on its connection's spool. Each connection feeds
//! rumqttc at most `window` messages at a time and mirrors what rumqttc holds:
//!
//! - `submitted`: handed to rumqttc, not yet written (rumqttc writes in order);
//! - `inflight`: written at QoS 1, by packet id, waiting for PUBACK.
//!
//! When a connection drops, rumqttc would keep unacknowledged messages only if the broker
//! still had the session, and otherwise clears them (DOMAIN.md section 7). So the connection
//! takes everything back from rumqttc (`EventLoop::clean`, then clearing its pending queue)
//! and puts it, oldest first, at the front of its own spool; after the reconnect it resends in
//! order. A message written before the drop and resent after may reach a subscriber twice
//! (at-least-once): consumers dedupe on (device, seq), and the ledger counts the attempts.
//!
//! Every telemetry message ends with a fate in the ledger: `acknowledged` (QoS 1 PUBACK),
//! `sent` (QoS 0, written to the socket), and at the end of the run `unacknowledged` (written,
//! no PUBACK before the drain timeout) or `unsent` (still spooled).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS,
    TlsConfiguration, Transport,
};
use tokio::sync::{Notify, mpsc};
use tokio_rustls::rustls;
use wardtwin_sim::records::{DeviceIx, EmissionFate, EmissionKind, Fate};
use wardtwin_sim::time::SimMillis;

use super::options::{ConnectionMode, LiveOptions, OptionsError, Speed, TlsFiles};
use super::stats::Histogram;
use crate::wire::{GatewayReason, WireDirectory};

mod client;
mod connection;
mod event_loop;
mod ledger;
mod pacer;
#[cfg(test)]
mod tests;

pub use client::{client_options, open_files_limit, tls_config};
use connection::*;
use event_loop::*;
pub use ledger::LiveStats;
use ledger::*;
pub use pacer::Pacer;

/// Messages rumqttc may hold per connection (channel + written-unacknowledged).
const WINDOW: usize = 1024;
/// rumqttc's own in-flight limit: twice the window, so packet ids never collide while the
/// broker acknowledges in order.
const RUMQTTC_INFLIGHT: u16 = 2048;
/// Batches (ticks) that may wait between the simulation and the MQTT thread.
const CHANNEL_BATCHES: usize = 16;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Why the live transport failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Options(#[from] OptionsError),
    #[error("cannot connect to {url}: {why}")]
    Connect { url: String, why: String },
    #[error("the MQTT thread stopped unexpectedly")]
    ThreadGone,
    #[error("cannot start the MQTT thread: {0}")]
    Spawn(std::io::Error),
    #[error(
        "{connections} connections need as many sockets, but this process may open only {limit} files: raise it (ulimit -n) or use --connection per-gateway"
    )]
    TooManyConnections { connections: usize, limit: u64 },
}

/// One message for the broker, as the simulation thread encodes it.
#[derive(Debug, Clone)]
pub struct OutMsg {
    /// Connection index (gateway, or device in per-device mode; [`Publisher::control`] for
    /// the twin's own messages).
    pub conn: u32,
    pub topic: Arc<str>,
    /// Shared with rumqttc without a copy (and kept for a resend).
    pub payload: bytes::Bytes,
    pub retain: bool,
    /// An emission of the twin (a reading or a device's status): its ledger entry. The
    /// transport's own messages (gateway status, the site map) have none.
    pub ledger: Option<LedgerKey>,
    /// A round of the chart (`--fhir-topic`): counted, and its losses reported, outside the
    /// ledger (the chart is the EHR's, not a device's emission).
    pub chart: bool,
    /// Simulation time since the epoch (for lateness).
    pub offset_ms: i64,
}

/// Which emission a message carries, for its ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerKey {
    pub device: DeviceIx,
    pub kind: EmissionKind,
    pub seq: u32,
    /// When it was measured (or said).
    pub sim_ms: SimMillis,
    /// When its gateway forwarded it.
    pub forwarded_ms: SimMillis,
}

impl LedgerKey {
    fn telemetry(&self) -> bool {
        self.kind == EmissionKind::Telemetry
    }
}

struct Msg {
    id: u64,
    out: OutMsg,
    attempts: u8,
    lateness_us: Option<i64>,
}

/// What the MQTT side reports at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LiveReport {
    pub connections: usize,
    /// Telemetry emissions by fate.
    pub acknowledged: u64,
    pub sent: u64,
    pub unacknowledged: u64,
    pub unsent: u64,
    /// Never written, dropped from a full spool while the broker was unreachable.
    pub dropped: u64,
    /// Status messages (device and gateway) published.
    pub status_messages: u64,
    /// FHIR copies of readings (`--fhir-topic`) published, and those the broker never
    /// confirmed (unacknowledged, unsent or dropped).
    pub fhir_messages: u64,
    pub fhir_lost: u64,
    /// Chart rounds (`--fhir-topic`) published as FHIR Bundles, and those the broker never
    /// confirmed.
    pub chart_messages: u64,
    pub chart_lost: u64,
    /// Messages published outside the ledger: the site map, the lockstep clock, waveform
    /// frames.
    pub stream_messages: u64,
    /// Writes beyond the first (resends after reconnects).
    pub resent: u64,
    pub reconnects: u64,
    /// Most messages waiting in the spools at once.
    pub max_queue_depth: u64,
    /// Times the simulation waited because the spools were full.
    pub spool_full_waits: u64,
    /// Lateness of first writes, milliseconds (paced runs).
    pub lateness_p50_ms: Option<f64>,
    pub lateness_p99_ms: Option<f64>,
    pub lateness_max_ms: Option<f64>,
    /// Last connection error seen, if any.
    pub last_error: Option<String>,
}

impl LiveReport {
    /// Telemetry the broker never confirmed: unacknowledged, unsent or dropped.
    pub fn lost(&self) -> u64 {
        self.unacknowledged + self.unsent + self.dropped
    }

    /// The `delivered` gate's figure (scoring::gates): delivered / handed to the transport.
    pub fn delivered_ratio(&self) -> Option<f64> {
        wardtwin_scoring::gates::delivered_ratio(|f| match f {
            Fate::Acknowledged => self.acknowledged,
            Fate::Sent => self.sent,
            Fate::Unacknowledged => self.unacknowledged,
            Fate::Unsent => self.unsent,
            Fate::Dropped => self.dropped,
            _ => 0,
        })
    }
}

/// The live publisher: owns the MQTT thread.
pub struct Publisher {
    tx: Option<mpsc::Sender<Cmd>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    connections: usize,
    /// Telemetry messages handed over so far (the clock message says how many went before it).
    telemetry: Arc<AtomicU64>,
    /// Waveform frames handed over so far (likewise).
    waveforms: Arc<AtomicU64>,
    /// Chart rounds handed over so far (likewise).
    chart: Arc<AtomicU64>,
}

/// Hands batches to the publisher's queue from elsewhere (the clock of [`super::sync`]),
/// behind what was handed over before.
#[derive(Clone)]
pub struct BatchSender(mpsc::Sender<Cmd>, Arc<Shared>);

impl BatchSender {
    pub fn send(&self, batch: Vec<OutMsg>) -> Result<(), LiveError> {
        self.0
            .blocking_send(Cmd::Batch(batch))
            .map_err(|_| LiveError::ThreadGone)?;
        self.1.batches_sent.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

enum Cmd {
    Batch(Vec<OutMsg>),
    Finish(Duration),
}

impl Publisher {
    /// Connects every connection (failing fast if the broker cannot be reached) and starts
    /// the MQTT thread.
    pub fn start(
        opts: &LiveOptions,
        wire: Arc<WireDirectory>,
        pacer: Pacer,
    ) -> Result<Self, LiveError> {
        let tls = if opts.broker.tls {
            Some(tls_config(&opts.tls)?)
        } else {
            if opts.tls != TlsFiles::default() {
                return Err(OptionsError::Tls(
                    "--ca/--cert/--key need an mqtts:// broker URL".to_string(),
                )
                .into());
            }
            None
        };
        let qos = if opts.qos == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let links = match opts.connection {
            ConnectionMode::PerGateway => wire.gateways.len(),
            ConnectionMode::PerDevice => wire.devices.len(),
        };
        // One more: the twin's own connection (the site map, the simulation clock), so a
        // gateway's link going down does not hold them up.
        let n = links + 1;
        if let Some(limit) = open_files_limit()
            && n as u64 + 64 > limit
        {
            return Err(LiveError::TooManyConnections {
                connections: n,
                limit,
            });
        }
        let shared = Arc::new(Shared {
            totals: Mutex::new(Totals::default()),
            progress: Notify::new(),
            wake_at: AtomicU64::new(0),
            sim_now_ms: AtomicI64::new(0),
            wire_ms: AtomicI64::new(i64::MIN),
            finishing: std::sync::atomic::AtomicBool::new(false),
            loss_lines: AtomicU64::new(0),
            conns: OnceLock::new(),
            batches_sent: AtomicU64::new(0),
            batches_dispatched: AtomicU64::new(0),
        });
        let mut loops = Vec::with_capacity(n);
        let mut conns = Vec::with_capacity(n);
        for i in 0..n {
            let (letter, will) = match opts.connection {
                _ if i == links => ('x', None),
                ConnectionMode::PerGateway => (
                    'g',
                    Some(LastWill::new(
                        wire.gateways[i].status_topic.to_string(),
                        wire.gateway_status(i, false, GatewayReason::ConnectionLost, None),
                        QoS::AtLeastOnce,
                        true,
                    )),
                ),
                ConnectionMode::PerDevice => (
                    'd',
                    Some(LastWill::new(
                        wire.devices[i].status_topic.to_string(),
                        wire.device_will(i as u32),
                        QoS::AtLeastOnce,
                        true,
                    )),
                ),
            };
            let client_id = if i == links {
                format!("{}x", opts.client_id_prefix)
            } else {
                format!("{}{letter}{i}", opts.client_id_prefix)
            };
            let mut mo = MqttOptions::new(client_id, opts.broker.host.clone(), opts.broker.port);
            mo.set_keep_alive(opts.keep_alive)
                .set_clean_session(true)
                .set_inflight(RUMQTTC_INFLIGHT)
                .set_request_channel_capacity(WINDOW + 8)
                .set_max_packet_size(1 << 20, 1 << 20);
            if let Some(will) = will {
                mo.set_last_will(will);
            }
            if let Some(c) = &opts.credentials {
                mo.set_credentials(c.username.clone(), c.password.clone());
            }
            if let Some(cfg) = &tls {
                mo.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                    Arc::clone(cfg),
                )));
            }
            let (client, mut el) = AsyncClient::new(mo, WINDOW + 8);
            el.network_options
                .set_connection_timeout(CONNECT_TIMEOUT.as_secs());
            // A clock message must not wait for Nagle's algorithm (40 ms against a delayed
            // acknowledgement); without a shared clock, Nagle's batching is worth more.
            el.network_options.set_tcp_nodelay(opts.low_latency);
            loops.push(el);
            conns.push(Arc::new(Mutex::new(Conn {
                client,
                qos,
                backlog: VecDeque::new(),
                submitted: VecDeque::new(),
                inflight: (0..=RUMQTTC_INFLIGHT).map(|_| None).collect(),
                inflight_count: 0,
                collided: None,
                connected: false,
                closing: false,
            })));
        }
        let _ = shared.conns.set(conns.clone());
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let ctx = Ctx {
            shared: Arc::clone(&shared),
            pacer,
            wire,
            mode: opts.connection,
            control: links,
            max_spool: opts.max_spool.max(WINDOW) as u64,
            connected_limit: (n * WINDOW).max(4096) as u64,
        };
        let thread = std::thread::Builder::new()
            .name("mqtt".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("cannot start the MQTT runtime: {e}")));
                        return;
                    }
                };
                rt.block_on(run(ctx, conns, loops, rx, ready_tx));
            })
            .map_err(LiveError::Spawn)?;
        let mut publisher = Self {
            tx: Some(tx),
            shared,
            thread: Some(thread),
            connections: links,
            telemetry: Arc::new(AtomicU64::new(0)),
            waveforms: Arc::new(AtomicU64::new(0)),
            chart: Arc::new(AtomicU64::new(0)),
        };
        for _ in 0..n {
            match ready_rx.recv_timeout(CONNECT_TIMEOUT + Duration::from_secs(2)) {
                Ok(Ok(())) => {}
                Ok(Err(why)) => {
                    publisher.abort();
                    return Err(LiveError::Connect {
                        url: opts.broker.to_string(),
                        why,
                    });
                }
                Err(_) => {
                    publisher.abort();
                    return Err(LiveError::Connect {
                        url: opts.broker.to_string(),
                        why: "timed out".into(),
                    });
                }
            }
        }
        Ok(publisher)
    }

    /// The connections that carry the twin's emissions (one per gateway or per device); the
    /// twin's own connection comes on top.
    pub fn connections(&self) -> usize {
        self.connections
    }

    /// The twin's own connection (the site map, the simulation clock).
    pub fn control(&self) -> u32 {
        self.connections as u32
    }

    /// The client id of connection `conn` (the fault proxy cuts by client id).
    pub fn client_id(opts: &LiveOptions, conn: usize, control: bool) -> String {
        let letter = match opts.connection {
            _ if control => return format!("{}x", opts.client_id_prefix),
            ConnectionMode::PerGateway => 'g',
            ConnectionMode::PerDevice => 'd',
        };
        format!("{}{letter}{conn}", opts.client_id_prefix)
    }

    /// A handle for watching the publisher while the run goes on (progress display).
    pub fn stats(&self) -> LiveStats {
        LiveStats(Arc::clone(&self.shared))
    }

    /// Stops the MQTT thread without draining.
    fn abort(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// The current simulation time, for status messages the MQTT side makes (gateway online).
    pub fn set_sim_now(&self, ms: SimMillis) {
        self.shared.sim_now_ms.store(ms, Ordering::Relaxed);
    }

    /// Hands one batch to the MQTT thread; waits while its channel is full.
    pub fn send(&self, batch: Vec<OutMsg>) -> Result<(), LiveError> {
        if batch.is_empty() {
            return Ok(());
        }
        let telemetry = batch
            .iter()
            .filter(|m| m.ledger.is_some_and(|l| l.kind == EmissionKind::Telemetry))
            .count() as u64;
        let tx = self.tx.as_ref().ok_or(LiveError::ThreadGone)?;
        tx.blocking_send(Cmd::Batch(batch))
            .map_err(|_| LiveError::ThreadGone)?;
        self.shared.batches_sent.fetch_add(1, Ordering::AcqRel);
        self.telemetry.fetch_add(telemetry, Ordering::AcqRel);
        Ok(())
    }

    /// A sender into this publisher's queue (`None` once it is finishing).
    pub fn batch_sender(&self) -> Option<BatchSender> {
        self.tx
            .clone()
            .map(|tx| BatchSender(tx, Arc::clone(&self.shared)))
    }

    /// Telemetry messages handed over so far.
    pub fn telemetry_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.telemetry)
    }

    /// Hands a batch of waveform frames over (counted for the clock message).
    pub fn send_waveforms(&self, batch: Vec<OutMsg>) -> Result<(), LiveError> {
        let n = batch.len() as u64;
        self.send(batch)?;
        self.waveforms.fetch_add(n, Ordering::AcqRel);
        Ok(())
    }

    /// Waveform frames handed over so far.
    pub fn waveform_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.waveforms)
    }

    /// Hands a batch of chart rounds over (counted for the clock message).
    pub fn send_chart(&self, batch: Vec<OutMsg>) -> Result<(), LiveError> {
        let n = batch.len() as u64;
        self.send(batch)?;
        self.chart.fetch_add(n, Ordering::AcqRel);
        Ok(())
    }

    /// Chart rounds handed over so far.
    pub fn chart_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.chart)
    }

    /// Fates decided since the last call (completion order).
    pub fn take_fates(&self, into: &mut Vec<EmissionFate>) {
        let mut t = self.shared.totals();
        into.append(&mut t.fates);
    }

    /// Messages handed over and not yet final.
    pub fn outstanding(&self) -> u64 {
        self.shared.totals().outstanding
    }

    /// Waits (up to `drain`) for every outstanding message, closes the connections cleanly
    /// (gateways announce `offline`), and gives every message still open its fate.
    pub fn finish(&mut self, drain: Duration) -> Result<LiveReport, LiveError> {
        let tx = self.tx.take().ok_or(LiveError::ThreadGone)?;
        self.shared.finishing.store(true, Ordering::Relaxed);
        self.shared.progress.notify_one();
        tx.blocking_send(Cmd::Finish(drain))
            .map_err(|_| LiveError::ThreadGone)?;
        drop(tx);
        self.thread
            .take()
            .ok_or(LiveError::ThreadGone)?
            .join()
            .map_err(|_| LiveError::ThreadGone)?;
        let t = self.shared.totals();
        let ms = |us: Option<u64>| us.map(|v| v as f64 / 1000.0);
        Ok(LiveReport {
            connections: self.connections,
            acknowledged: t.acknowledged,
            sent: t.sent,
            unacknowledged: t.unacknowledged,
            unsent: t.unsent,
            dropped: t.dropped,
            status_messages: t.status_messages,
            fhir_messages: t.fhir_messages,
            fhir_lost: t.fhir_lost,
            chart_messages: t.chart_messages,
            chart_lost: t.chart_lost,
            stream_messages: t.unledgered,
            resent: t.resent,
            reconnects: t.reconnects,
            max_queue_depth: t.max_depth,
            spool_full_waits: t.spool_full_waits,
            lateness_p50_ms: ms(t.lateness.quantile(0.5)),
            lateness_p99_ms: ms(t.lateness.quantile(0.99)),
            lateness_max_ms: ms(t.lateness.max()),
            last_error: t.last_error.clone(),
        })
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.abort();
    }
}
