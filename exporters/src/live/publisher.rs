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
use wardtwin_sim::records::{DeviceIx, EmissionFate, Fate};
use wardtwin_sim::time::SimMillis;

use super::options::{ConnectionMode, LiveOptions, OptionsError, Speed, TlsFiles};
use super::stats::Histogram;
use crate::wire::{GatewayReason, WireDirectory};

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

/// The soft limit on open files (Linux /proc/self/limits), if known.
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

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

    /// Waits until simulation offset `offset_ms` (since the epoch) is due. `Speed::Max` never
    /// waits.
    pub fn wait(&self, offset_ms: i64) {
        let start = self.start();
        if let Speed::Paced(s) = self.speed {
            let due = start + Duration::from_secs_f64(offset_ms.max(0) as f64 / 1000.0 / s);
            let now = Self::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
    }

    /// How late (µs) it is now for simulation offset `offset_ms`; `None` at `Speed::Max`.
    fn lateness_us(&self, offset_ms: i64) -> Option<i64> {
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

/// One message for the broker, as the simulation thread encodes it.
#[derive(Debug, Clone)]
pub struct OutMsg {
    /// Connection index (gateway, or device in per-device mode).
    pub conn: u32,
    pub topic: Arc<str>,
    /// Shared with rumqttc without a copy (and kept for a resend).
    pub payload: bytes::Bytes,
    pub retain: bool,
    /// A telemetry emission: its ledger key. Status messages have none.
    /// `(device, seq, measured, forwarded by its gateway)`.
    pub ledger: Option<(DeviceIx, u32, SimMillis, SimMillis)>,
    /// Simulation time since the epoch (for lateness).
    pub offset_ms: i64,
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
            "acknowledged" => self.acknowledged,
            "sent" => self.sent,
            "unacknowledged" => self.unacknowledged,
            "unsent" => self.unsent,
            "dropped" => self.dropped,
            _ => 0,
        })
    }
}

#[derive(Default)]
struct Totals {
    fates: Vec<EmissionFate>,
    lateness: Histogram,
    acknowledged: u64,
    sent: u64,
    unacknowledged: u64,
    unsent: u64,
    dropped: u64,
    status_messages: u64,
    resent: u64,
    reconnects: u64,
    outstanding: u64,
    max_depth: u64,
    spool_full_waits: u64,
    last_error: Option<String>,
}

struct Shared {
    totals: Mutex<Totals>,
    /// Signalled when `outstanding` falls to `wake_at` or below (hysteresis: waking the
    /// dispatcher on every acknowledgement would cost more than the message).
    progress: Notify,
    wake_at: AtomicU64,
    sim_now_ms: AtomicI64,
    /// Simulation time of the newest telemetry written to a broker connection: the run's clock
    /// as a system under test can see it (alert arrivals are stamped with it).
    wire_ms: AtomicI64,
    /// The run is ending: stop applying backpressure, so the end is reached and the drain
    /// timeout decides (a broker that accepts connections but never acknowledges cannot
    /// hang the run).
    finishing: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn totals(&self) -> MutexGuard<'_, Totals> {
        self.totals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the final fate of a message.
    fn finalize(&self, m: Msg, fate: Fate) {
        let mut t = self.totals();
        t.outstanding -= 1;
        if let Some((device, seq, sim_ms, forwarded_ms)) = m.out.ledger {
            match fate {
                Fate::Acknowledged => t.acknowledged += 1,
                Fate::Sent => t.sent += 1,
                Fate::Unacknowledged => t.unacknowledged += 1,
                Fate::Dropped => t.dropped += 1,
                _ => t.unsent += 1,
            }
            t.fates.push(EmissionFate {
                device,
                seq,
                sim_ms,
                fate,
                sink: "mqtt",
                forwarded_ms: Some(forwarded_ms),
                attempts: m.attempts,
                lateness_us: m.lateness_us,
            });
        } else if m.attempts > 0 {
            t.status_messages += 1;
        }
        let wake = t.outstanding <= self.wake_at.load(Ordering::Relaxed);
        drop(t);
        if wake {
            self.progress.notify_one();
        }
    }
}

/// One connection's spool and its mirror of what rumqttc holds.
struct Conn {
    client: AsyncClient,
    qos: QoS,
    backlog: VecDeque<Msg>,
    submitted: VecDeque<Msg>,
    inflight: Vec<Option<Msg>>,
    inflight_count: usize,
    collided: Option<Msg>,
    connected: bool,
    closing: bool,
}

impl Conn {
    fn held(&self) -> usize {
        self.submitted.len() + self.inflight_count + usize::from(self.collided.is_some())
    }

    /// Hands spooled messages to rumqttc, oldest first, up to the window. Nothing while
    /// disconnected: the spool keeps them (where a full spool can drop the oldest).
    fn pump(&mut self) {
        if !self.connected {
            return;
        }
        while self.held() < WINDOW {
            let Some(m) = self.backlog.pop_front() else {
                break;
            };
            // `publish_bytes` shares the payload (no copy). Its channel has room for the
            // whole window, so the send completes on the first poll.
            let send = self.client.publish_bytes(
                m.out.topic.to_string(),
                self.qos,
                m.out.retain,
                m.out.payload.clone(),
            );
            let mut send = std::pin::pin!(send);
            let r = send
                .as_mut()
                .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
            if !matches!(r, std::task::Poll::Ready(Ok(()))) {
                // Only a closed event loop refuses.
                self.backlog.push_front(m);
                break;
            }
            self.submitted.push_back(m);
        }
    }

    /// The connection dropped: take back everything rumqttc held, oldest first.
    fn requeue(&mut self) {
        let mut back: Vec<Msg> = self.inflight.iter_mut().filter_map(Option::take).collect();
        back.extend(self.collided.take());
        back.sort_by_key(|m| m.id);
        back.extend(self.submitted.drain(..));
        self.inflight_count = 0;
        for m in back.into_iter().rev() {
            self.backlog.push_front(m);
        }
    }
}

/// Live figures of a running publisher.
#[derive(Clone)]
pub struct LiveStats(Arc<Shared>);

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
    /// Simulation time of the newest telemetry written to the broker (`None` before the first).
    pub fn wire_ms(&self) -> Option<SimMillis> {
        let t = self.0.wire_ms.load(Ordering::Relaxed);
        (t != i64::MIN).then_some(t)
    }
}

/// The live publisher: owns the MQTT thread.
pub struct Publisher {
    tx: Option<mpsc::Sender<Cmd>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    connections: usize,
}

enum Cmd {
    Batch(Vec<OutMsg>),
    Finish(Duration),
}

/// A client's MQTT options for the broker in `opts`: credentials and TLS as configured, clean
/// session, 30 s keep-alive. Used by the collector and the reference stack (the publisher sets
/// more, per connection).
pub fn client_options(opts: &LiveOptions, client_id: String) -> Result<MqttOptions, OptionsError> {
    let mut mo = MqttOptions::new(client_id, opts.broker.host.clone(), opts.broker.port);
    mo.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_inflight(1000);
    if let Some(c) = &opts.credentials {
        mo.set_credentials(c.username.clone(), c.password.clone());
    }
    if opts.broker.tls {
        mo.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            tls_config(&opts.tls)?,
        )));
    }
    Ok(mo)
}

/// Builds the rustls client configuration (ring provider).
pub fn tls_config(files: &TlsFiles) -> Result<Arc<rustls::ClientConfig>, OptionsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls = |what: &str, e: &dyn std::fmt::Display| OptionsError::Tls(format!("{what}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    match &files.ca {
        Some(ca) => {
            let certs = CertificateDer::pem_file_iter(ca)
                .map_err(|e| tls(&ca.display().to_string(), &e))?;
            for c in certs {
                let c = c.map_err(|e| tls(&ca.display().to_string(), &e))?;
                roots
                    .add(c)
                    .map_err(|e| tls(&ca.display().to_string(), &e))?;
            }
            if roots.is_empty() {
                return Err(OptionsError::Tls(format!(
                    "{}: no certificate in the file",
                    ca.display()
                )));
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls("protocol versions", &e))?
        .with_root_certificates(roots);
    let config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| tls(&cert.display().to_string(), &e))?
                .collect::<Result<_, _>>()
                .map_err(|e| tls(&cert.display().to_string(), &e))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| tls(&key.display().to_string(), &e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| tls("client certificate", &e))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(OptionsError::Tls(
                "--cert and --key go together".to_string(),
            ));
        }
    };
    Ok(Arc::new(config))
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
        let n = match opts.connection {
            ConnectionMode::PerGateway => wire.gateways.len(),
            ConnectionMode::PerDevice => wire.devices.len(),
        };
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
        });
        let mut loops = Vec::with_capacity(n);
        let mut conns = Vec::with_capacity(n);
        for i in 0..n {
            let (letter, will) = match opts.connection {
                ConnectionMode::PerGateway => (
                    'g',
                    LastWill::new(
                        wire.gateways[i].status_topic.to_string(),
                        wire.gateway_status(i, false, GatewayReason::ConnectionLost, None),
                        QoS::AtLeastOnce,
                        true,
                    ),
                ),
                ConnectionMode::PerDevice => (
                    'd',
                    LastWill::new(
                        wire.devices[i].status_topic.to_string(),
                        wire.device_will(i as u32),
                        QoS::AtLeastOnce,
                        true,
                    ),
                ),
            };
            let mut mo = MqttOptions::new(
                format!("{}{letter}{i}", opts.client_id_prefix),
                opts.broker.host.clone(),
                opts.broker.port,
            );
            mo.set_keep_alive(opts.keep_alive)
                .set_clean_session(true)
                .set_inflight(RUMQTTC_INFLIGHT)
                .set_request_channel_capacity(WINDOW + 8)
                .set_max_packet_size(1 << 20, 1 << 20)
                .set_last_will(will);
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
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let ctx = Ctx {
            shared: Arc::clone(&shared),
            pacer,
            wire,
            mode: opts.connection,
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
            connections: n,
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

    pub fn connections(&self) -> usize {
        self.connections
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
        let tx = self.tx.as_ref().ok_or(LiveError::ThreadGone)?;
        tx.blocking_send(Cmd::Batch(batch))
            .map_err(|_| LiveError::ThreadGone)
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

struct Ctx {
    shared: Arc<Shared>,
    pacer: Pacer,
    wire: Arc<WireDirectory>,
    mode: ConnectionMode,
    max_spool: u64,
    /// The spool limit while every connection is up.
    connected_limit: u64,
}

impl Ctx {
    /// A gateway status message for connection `ix` (retained, outside the ledger), counted as
    /// outstanding until it is written.
    fn gateway_msg(
        &self,
        ix: usize,
        id: u64,
        online: bool,
        reason: GatewayReason,
        now_ms: SimMillis,
    ) -> Msg {
        let payload = self.wire.gateway_status(ix, online, reason, Some(now_ms));
        self.shared.totals().outstanding += 1;
        Msg {
            id,
            out: OutMsg {
                conn: ix as u32,
                topic: Arc::clone(&self.wire.gateways[ix].status_topic),
                payload: payload.into_bytes().into(),
                retain: true,
                ledger: None,
                offset_ms: 0,
            },
            attempts: 0,
            lateness_us: None,
        }
    }
}

fn lock(c: &Mutex<Conn>) -> MutexGuard<'_, Conn> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

async fn run(
    ctx: Ctx,
    conns: Vec<Arc<Mutex<Conn>>>,
    loops: Vec<EventLoop>,
    mut rx: mpsc::Receiver<Cmd>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let ctx = Arc::new(ctx);
    let mut tasks = Vec::with_capacity(conns.len());
    for (i, el) in loops.into_iter().enumerate() {
        tasks.push(tokio::spawn(connection(
            i,
            el,
            Arc::clone(&conns[i]),
            Arc::clone(&ctx),
            ready.clone(),
        )));
    }
    drop(ready);
    let mut next_id = 0u64;
    let mut touched: Vec<u32> = Vec::new();
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Cmd::Batch(batch) => {
                // Bounded spools. Past the limit, a broker that is there but slow gets
                // backpressure: the simulation waits (blocked on the channel meanwhile) and
                // the run reports it. A broker that is away cannot drain anything: like a
                // real gateway whose buffer is full, the oldest spooled messages of
                // disconnected connections are dropped, each recorded as `dropped`.
                // While every connection is up, a much smaller limit applies: running far
                // ahead of the broker only churns memory (measured at --speed max, QoS 1:
                // 76 k msg/s with 200,000 spooled, 102 k with 5,000).
                let mut waited = false;
                loop {
                    let outstanding = ctx.shared.totals().outstanding;
                    let all_up = conns.iter().all(|c| lock(c).connected);
                    let limit = if all_up {
                        ctx.max_spool.min(ctx.connected_limit)
                    } else {
                        ctx.max_spool
                    };
                    if outstanding < limit || ctx.shared.finishing.load(Ordering::Relaxed) {
                        break;
                    }
                    if drop_oldest_while_away(&ctx, &conns) {
                        continue;
                    }
                    waited = true;
                    ctx.shared
                        .wake_at
                        .store(limit - limit / 4, Ordering::Relaxed);
                    let _ = tokio::time::timeout(
                        Duration::from_millis(200),
                        ctx.shared.progress.notified(),
                    )
                    .await;
                    ctx.shared.wake_at.store(0, Ordering::Relaxed);
                }
                {
                    let mut t = ctx.shared.totals();
                    t.spool_full_waits += u64::from(waited);
                    t.outstanding += batch.len() as u64;
                    t.max_depth = t.max_depth.max(t.outstanding);
                }
                touched.clear();
                for out in batch {
                    let c = out.conn;
                    next_id += 1;
                    lock(&conns[c as usize]).backlog.push_back(Msg {
                        id: next_id,
                        out,
                        attempts: 0,
                        lateness_us: None,
                    });
                    if touched.last() != Some(&c) {
                        touched.push(c);
                    }
                }
                for c in &touched {
                    lock(&conns[*c as usize]).pump();
                }
            }
            Cmd::Finish(drain) => {
                finish(&ctx, &conns, &mut tasks, drain, &mut next_id).await;
                return;
            }
        }
    }
    // The sender went away without Finish: an aborted run. Returning drops the tasks.
}

/// Drops the oldest spooled messages of disconnected connections until the spools are back
/// under 90 % of the limit. Returns whether anything was dropped.
fn drop_oldest_while_away(ctx: &Ctx, conns: &[Arc<Mutex<Conn>>]) -> bool {
    let target = ctx.max_spool - ctx.max_spool / 10;
    let mut dropped = false;
    for c in conns {
        let mut c = lock(c);
        if c.connected {
            continue;
        }
        while ctx.shared.totals().outstanding > target {
            let Some(m) = c.backlog.pop_front() else {
                break;
            };
            // Written before the connection died but never acknowledged: it may have
            // arrived. Only what was never written is certainly lost.
            let fate = if m.attempts > 0 {
                Fate::Unacknowledged
            } else {
                Fate::Dropped
            };
            ctx.shared.finalize(m, fate);
            dropped = true;
        }
    }
    dropped
}

async fn wait_until(ctx: &Ctx, deadline: tokio::time::Instant, done: impl Fn() -> bool) {
    while !done() {
        if tokio::time::timeout_at(deadline, ctx.shared.progress.notified())
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn finish(
    ctx: &Arc<Ctx>,
    conns: &[Arc<Mutex<Conn>>],
    tasks: &mut [tokio::task::JoinHandle<()>],
    drain: Duration,
    next_id: &mut u64,
) {
    let deadline = tokio::time::Instant::now() + drain;
    wait_until(ctx, deadline, || ctx.shared.totals().outstanding == 0).await;
    // Gateways say goodbye (retained), so the broker does not publish their wills.
    let any_connected = conns.iter().any(|c| lock(c).connected);
    if ctx.mode == ConnectionMode::PerGateway && any_connected {
        let now = ctx.shared.sim_now_ms.load(Ordering::Relaxed);
        for (i, c) in conns.iter().enumerate() {
            *next_id += 1;
            let m = ctx.gateway_msg(i, *next_id, false, GatewayReason::Shutdown, now);
            let mut c = lock(c);
            c.backlog.push_back(m);
            c.pump();
        }
        let short = tokio::time::Instant::now() + Duration::from_secs(2);
        wait_until(ctx, short.min(deadline + Duration::from_secs(2)), || {
            ctx.shared.totals().outstanding == 0
        })
        .await;
    }
    for c in conns {
        let mut c = lock(c);
        c.closing = true;
        let _ = c.client.try_disconnect();
    }
    let close = tokio::time::Instant::now() + Duration::from_secs(2);
    for t in tasks.iter_mut() {
        if tokio::time::timeout_at(close, &mut *t).await.is_err() {
            t.abort();
        }
    }
    // Whatever is still open gets its fate.
    for c in conns {
        let mut c = lock(c);
        c.requeue();
        for m in c.backlog.drain(..) {
            let fate = if m.attempts > 0 {
                Fate::Unacknowledged
            } else {
                Fate::Unsent
            };
            ctx.shared.finalize(m, fate);
        }
    }
}

async fn connection(
    ix: usize,
    mut el: EventLoop,
    conn: Arc<Mutex<Conn>>,
    ctx: Arc<Ctx>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let mut ready = Some(ready);
    let mut ever_connected = false;
    let mut backoff = BACKOFF_MIN;
    loop {
        let ev = el.poll().await;
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = BACKOFF_MIN;
                if ever_connected {
                    ctx.shared.totals().reconnects += 1;
                }
                ever_connected = true;
                if let Some(r) = ready.take() {
                    let _ = r.send(Ok(()));
                }
                let mut c = lock(&conn);
                c.connected = true;
                if ctx.mode == ConnectionMode::PerGateway && !c.closing {
                    // Announce the gateway first (retained; replaces a will the broker may
                    // have published while it was away).
                    let now_ms = ctx.shared.sim_now_ms.load(Ordering::Relaxed);
                    let m = ctx.gateway_msg(ix, 0, true, GatewayReason::Connected, now_ms);
                    c.backlog.push_front(m);
                }
                c.pump();
            }
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                let mut c = lock(&conn);
                let m = match c.collided.take() {
                    Some(m) => Some(m),
                    None => c.submitted.pop_front(),
                };
                let Some(mut m) = m else { continue };
                if m.attempts == 0 {
                    if let Some((_, _, _, forwarded_ms)) = m.out.ledger {
                        ctx.shared
                            .wire_ms
                            .fetch_max(forwarded_ms, Ordering::Relaxed);
                    }
                    m.lateness_us = ctx.pacer.lateness_us(m.out.offset_ms);
                    if let (Some(l), Some(_)) = (m.lateness_us, m.out.ledger) {
                        ctx.shared.totals().lateness.record(l.max(0) as u64);
                    }
                } else {
                    ctx.shared.totals().resent += 1;
                }
                m.attempts = m.attempts.saturating_add(1);
                if c.qos == QoS::AtMostOnce {
                    ctx.shared.finalize(m, Fate::Sent);
                    c.pump();
                } else {
                    let slot = usize::from(pkid);
                    if let Some(old) = c.inflight[slot].replace(m) {
                        // Cannot happen while the broker acknowledges in order; keep it.
                        c.backlog.push_front(old);
                    } else {
                        c.inflight_count += 1;
                    }
                }
            }
            Ok(Event::Outgoing(Outgoing::AwaitAck(_))) => {
                let mut c = lock(&conn);
                c.collided = c.submitted.pop_front();
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                let mut c = lock(&conn);
                if let Some(m) = c
                    .inflight
                    .get_mut(usize::from(ack.pkid))
                    .and_then(Option::take)
                {
                    c.inflight_count -= 1;
                    ctx.shared.finalize(m, Fate::Acknowledged);
                }
                c.pump();
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                if lock(&conn).closing {
                    return;
                }
            }
            Ok(_) => {}
            Err(ConnectionError::RequestsDone) => return,
            Err(e) => {
                // Take everything back from rumqttc: it would drop it on a new session.
                el.clean();
                el.pending.clear();
                el.state.events.clear();
                let closing = {
                    let mut c = lock(&conn);
                    let was = c.connected;
                    c.connected = false;
                    c.requeue();
                    if was {
                        eprintln!(
                            "wardtwin: MQTT connection {} lost ({e}); reconnecting, {} message(s) spooled",
                            ix,
                            c.backlog.len()
                        );
                    }
                    c.closing
                };
                ctx.shared.totals().last_error = Some(e.to_string());
                if !ever_connected && let Some(r) = ready.take() {
                    let _ = r.send(Err(e.to_string()));
                    return;
                }
                if closing {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_files_limit_is_read_from_proc() {
        let limit = open_files_limit().expect("Linux /proc/self/limits");
        assert!(limit >= 64, "{limit}");
    }

    #[test]
    fn pacing_maps_simulation_offsets_to_wall_time_and_max_never_waits() {
        let p = Pacer::new(Speed::Paced(1000.0));
        p.wait(0);
        // 50 simulated seconds at 1000x: 50 ms of wall time.
        p.wait(50_000);
        // `wait` never returns before the offset is due.
        let late = p.lateness_us(50_000).expect("paced");
        assert!(late >= 0, "{late}");
        // Not yet due: negative lateness.
        assert!(p.lateness_us(10_000_000).unwrap() < 0);
        let max = Pacer::new(Speed::Max);
        max.wait(i64::MAX / 2_000);
        assert_eq!(max.lateness_us(1_000), None);
    }
}
