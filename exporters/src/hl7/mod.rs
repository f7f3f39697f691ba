//! HL7 v2 alarm intake (`wardtwin run --alerts-hl7 ADDR`): a system under test that speaks IHE
//! PCD ACM (`ORU^R40` over MLLP) instead of alert JSON. Each connection's frames are parsed and
//! mapped to alert v1 ([`acm`]); every accepted alarm is logged in the run folder's
//! `alerts.jsonl` as the alert v1 it maps to, stamped with the run's clock like an alert from
//! MQTT, so the scorer sees no difference. A malformed message gets an HL7 NACK (`AE`/`AR`
//! with an ERR segment) and is logged as rejected (the scorecard lists it); never a crash.
//! Later messages about an alarm already logged (its phase `continue`, `end`, an
//! acknowledgement) are acknowledged and counted as updates, not as new alerts.
//!
//! Counts go to `hl7.json` in the run folder.

pub mod acm;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wardtwin_sim::time::SimMillis;

use crate::mqtt::CollectorReport;
use crate::runfolder::ALERTS_LOG;
use crate::wire::alerts::{MessageLog, encode_alert};

/// The intake's counts in the run folder.
pub const HL7_LOG: &str = "hl7.json";
/// MLLP frame: start block, end block, carriage return.
const SB: u8 = 0x0b;
const EB: u8 = 0x1c;
const CR: u8 = 0x0d;
/// The largest message taken (1 MiB): a frame that grows past it closes its connection.
pub const MAX_MESSAGE: usize = 1 << 20;
/// Connections served at once; more are closed as they come (counted as refused).
pub const MAX_CONNECTIONS: usize = 256;
/// The topic the log gives HL7 arrivals.
const TOPIC: &str = "hl7/ORU^R40";

/// What the intake counted.
#[derive(Debug, Default)]
struct Counts {
    connections: AtomicU64,
    messages: AtomicU64,
    alerts: AtomicU64,
    updates: AtomicU64,
    rejected: AtomicU64,
    /// Bytes outside any frame, and frames over [`MAX_MESSAGE`].
    garbage: AtomicU64,
    /// Connections closed at once: [`MAX_CONNECTIONS`] were open.
    refused_connections: AtomicU64,
}

struct Shared {
    log: Mutex<Option<MessageLog>>,
    seen: Mutex<HashSet<String>>,
    counts: Counts,
    stop: AtomicBool,
    clock: Box<dyn Fn() -> SimMillis + Send + Sync>,
}

/// A running intake.
pub struct Hl7Intake {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<Vec<JoinHandle<()>>>>,
    dir: PathBuf,
}

impl Hl7Intake {
    /// Listens on `addr` (port 0: a free one) and logs into `dir`'s `alerts.jsonl`; `clock`
    /// stamps arrivals in simulation time.
    pub fn start(
        addr: SocketAddr,
        dir: &Path,
        clock: impl Fn() -> SimMillis + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).map_err(|e| {
            std::io::Error::new(e.kind(), format!("--alerts-hl7 {addr}: cannot listen: {e}"))
        })?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            log: Mutex::new(Some(MessageLog::create(&dir.join(ALERTS_LOG))?)),
            seen: Mutex::new(HashSet::new()),
            counts: Counts::default(),
            stop: AtomicBool::new(false),
            clock: Box::new(clock),
        });
        let s = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name("hl7-accept".into())
            .spawn(move || accept(listener, s))?;
        Ok(Self {
            addr,
            shared,
            acceptor: Some(acceptor),
            dir: dir.to_path_buf(),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Alerts logged so far.
    pub fn alerts(&self) -> u64 {
        self.shared.counts.alerts.load(Ordering::Relaxed)
    }

    /// Stops taking messages once `enough(alerts so far)` holds, or none has arrived for
    /// `quiet`, or after `limit` (as the MQTT collector does); then closes the connections,
    /// finishes the log and writes `hl7.json`.
    pub fn finish(
        mut self,
        enough: impl Fn(u64) -> bool,
        quiet: Duration,
        limit: Duration,
    ) -> std::io::Result<CollectorReport> {
        let c = &self.shared.counts;
        let cut_off = crate::mqtt::collector::wait_until_quiet(
            || c.messages.load(Ordering::Relaxed),
            || enough(c.alerts.load(Ordering::Relaxed)),
            quiet,
            limit,
        );
        self.shared.stop.store(true, Ordering::Release);
        if let Some(a) = self.acceptor.take()
            && let Ok(conns) = a.join()
        {
            for h in conns {
                let _ = h.join();
            }
        }
        let log = self
            .shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(l) = log {
            l.finish()?;
        }
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let record = serde_json::json!({
            "listen": self.addr.to_string(),
            "connections": load(&c.connections),
            "messages": load(&c.messages),
            "alerts": load(&c.alerts),
            "updates": load(&c.updates),
            "rejected": load(&c.rejected),
            "garbage": load(&c.garbage),
            "refused_connections": load(&c.refused_connections),
            "cut_off": cut_off,
        });
        std::fs::write(self.dir.join(HL7_LOG), format!("{record:#}\n"))?;
        Ok(CollectorReport {
            alerts: load(&c.alerts),
            echoes: 0,
            cut_off,
        })
    }
}

fn accept(listener: TcpListener, shared: Arc<Shared>) -> Vec<JoinHandle<()>> {
    let mut conns = Vec::new();
    while !shared.stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, _)) => {
                // Finished connections are joined as others come (a client that connects once
                // per message must not pile up threads).
                let (done, open): (Vec<_>, Vec<_>) = conns
                    .into_iter()
                    .partition(|h: &JoinHandle<()>| h.is_finished());
                for h in done {
                    let _ = h.join();
                }
                conns = open;
                if conns.len() >= MAX_CONNECTIONS {
                    shared
                        .counts
                        .refused_connections
                        .fetch_add(1, Ordering::Relaxed);
                    drop(stream);
                    continue;
                }
                shared.counts.connections.fetch_add(1, Ordering::Relaxed);
                let s = Arc::clone(&shared);
                if let Ok(h) = std::thread::Builder::new()
                    .name("hl7-conn".into())
                    .spawn(move || serve(stream, s))
                {
                    conns.push(h);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    conns
}

/// One connection: frames in, acknowledgements out, until the peer closes or the intake stops.
fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if shared.stop.load(Ordering::Acquire) {
                    return;
                }
                continue;
            }
            Err(_) => return,
        }
        // Every complete frame in the buffer.
        loop {
            let Some(start) = buf.iter().position(|&b| b == SB) else {
                // Nothing framed: bytes outside any frame are garbage.
                if !buf.is_empty() {
                    shared.counts.garbage.fetch_add(1, Ordering::Relaxed);
                    buf.clear();
                }
                break;
            };
            if start > 0 {
                shared.counts.garbage.fetch_add(1, Ordering::Relaxed);
                buf.drain(..start);
            }
            let Some(end) = buf.windows(2).position(|w| w == [EB, CR]) else {
                if buf.len() > MAX_MESSAGE {
                    // A frame that never ends: the connection goes.
                    shared.counts.garbage.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                break;
            };
            let frame: Vec<u8> = buf[1..end].to_vec();
            buf.drain(..end + 2);
            let reply = handle(&frame, &shared);
            let mut out = Vec::with_capacity(reply.len() + 3);
            out.push(SB);
            out.extend_from_slice(reply.as_bytes());
            out.extend_from_slice(&[EB, CR]);
            if stream.write_all(&out).is_err() {
                return;
            }
        }
    }
}

/// Handles one message; returns its acknowledgement.
fn handle(frame: &[u8], shared: &Shared) -> String {
    let now = (shared.clock)();
    shared.counts.messages.fetch_add(1, Ordering::Relaxed);
    let log = |payload: &[u8]| {
        if let Some(l) = shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            // Each line flushed: the log is what is scored, even if the run is killed.
            let _ = l.append(now, TOPIC, payload).and_then(|()| l.flush());
        }
    };
    let reject = |header: &acm::Header, r: acm::Refusal, text: &str| {
        shared.counts.rejected.fetch_add(1, Ordering::Relaxed);
        let excerpt: String = text
            .chars()
            .take(200)
            .collect::<String>()
            .replace('\r', "\\r");
        log(format!("HL7 {} {} ({}): {excerpt}", r.ack, r.code, r.why).as_bytes());
        acm::ack(header, now, Some(&r))
    };
    let Ok(text) = std::str::from_utf8(frame) else {
        let r = acm::Refusal {
            code: 102,
            why: "the message is not UTF-8".into(),
            ack: "AE",
        };
        let lossy = String::from_utf8_lossy(frame).into_owned();
        let header = acm::Message::parse(&lossy)
            .map(|m| m.header())
            .unwrap_or_default();
        return reject(&header, r, &lossy);
    };
    let parsed = acm::Message::parse(text);
    let header = parsed.as_ref().map(|m| m.header()).unwrap_or_default();
    match parsed.and_then(|m| acm::acm_of(&m)) {
        Err(r) => reject(&header, r, text),
        Ok(a) => {
            let new = shared
                .seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(a.alert.alert_id.clone());
            if new {
                shared.counts.alerts.fetch_add(1, Ordering::Relaxed);
                let mut evidence = serde_json::json!({"hl7": {
                    "control_id": a.header.control_id,
                    "sending_app": a.header.sending_app,
                }});
                if let Some(p) = &a.phase {
                    evidence["hl7"]["phase"] = serde_json::json!(p);
                }
                log(encode_alert(&a.alert, &a.text, evidence).as_bytes());
            } else {
                shared.counts.updates.fetch_add(1, Ordering::Relaxed);
            }
            acm::ack(&a.header, now, None)
        }
    }
}

#[cfg(test)]
mod tests;
