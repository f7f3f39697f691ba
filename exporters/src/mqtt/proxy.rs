//! The fault proxy: an in-process TCP proxy on loopback between MQTT clients and a broker, that
//! cuts and refuses connections on the drill's schedule (simulation time), so a drill's
//! network faults happen to the live transport for real with any broker, without root, netem
//! or Kubernetes (like Toxiproxy's `reset_peer`/`timeout` toxics, scheduled).
//!
//! Each client connection is proxied byte for byte; the proxy reads only the client's MQTT
//! CONNECT packet, for its client id, which decides which cuts apply to it. A [`Cut`] has a
//! window and a scope (every client, or a set of client ids). When the simulation reaches a
//! cut's start ([`FaultProxy::advance`]), the proxy closes the matching connections at once,
//! without an MQTT DISCONNECT: the broker sees the connection drop (and publishes the client's
//! will), the client sees its socket close and reconnects. Until the window ends, a matching
//! client that connects is accepted and closed as soon as it has said who it is (a broker
//! that is down, or a link that is cut, looks the same from the client).
//!
//! A run at `--speed max` advances the proxy in coarse steps: a window passed between two
//! advances still cuts its connections (once), but refuses nobody.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use wardtwin_sim::time::SimMillis;

/// Which clients a cut applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every client (the broker is down).
    All,
    /// These client ids (a ward gateway's connection, or its devices').
    Clients(HashSet<String>),
}

impl Scope {
    fn matches(&self, client_id: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Clients(ids) => ids.contains(client_id),
        }
    }
}

/// A scheduled cut: from `start_ms` until `end_ms` (simulation time), `scope`'s connections
/// are closed and refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub start_ms: SimMillis,
    pub end_ms: SimMillis,
    pub scope: Scope,
}

/// What the proxy did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProxyStats {
    /// Client connections proxied.
    pub accepted: u64,
    /// Cuts that began.
    pub cuts: u64,
    /// Open connections closed by a cut.
    pub connections_cut: u64,
    /// Connections refused (closed after their CONNECT) inside a cut.
    pub refused: u64,
}

#[derive(Default)]
struct State {
    cuts: Vec<Cut>,
    /// Cuts before this one (by start) have begun.
    next: usize,
    /// Cuts that have begun and not ended, as of `now`.
    active: Vec<usize>,
    now: Option<SimMillis>,
    conns: HashMap<u64, (String, Arc<Notify>)>,
    next_conn: u64,
    stats: ProxyStats,
}

impl State {
    fn blocked(&self, client_id: &str) -> bool {
        let Some(now) = self.now else { return false };
        self.active.iter().any(|&i| {
            let c = &self.cuts[i];
            c.start_ms <= now && now < c.end_ms && c.scope.matches(client_id)
        })
    }
}

struct Shared {
    state: Mutex<State>,
    stop: Notify,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why the proxy did not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("the fault proxy cannot listen on loopback: {0}")]
    Listen(std::io::Error),
    #[error("cannot start the fault proxy's thread or runtime: {0}")]
    Thread(std::io::Error),
}

/// A running fault proxy.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// How long a client may take to send its CONNECT.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);
/// The largest CONNECT read (a will message can be large; rumqttc's packets are at most 1 MiB).
const MAX_CONNECT: usize = 1 << 20;

impl FaultProxy {
    /// Listens on 127.0.0.1 (a free port) and proxies each client to `upstream_host:port`.
    pub fn start(upstream_host: &str, upstream_port: u16) -> Result<Self, ProxyError> {
        let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(ProxyError::Listen)?;
        let addr = std_listener.local_addr().map_err(ProxyError::Listen)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            stop: Notify::new(),
        });
        let upstream = (upstream_host.to_string(), upstream_port);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ProxyError::Thread)?;
        let listener = {
            let _in_runtime = rt.enter();
            TcpListener::from_std(std_listener).map_err(ProxyError::Listen)?
        };
        let sh = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                rt.block_on(async move {
                    loop {
                        tokio::select! {
                            _ = sh.stop.notified() => return,
                            accepted = listener.accept() => match accepted {
                                Ok((client, _)) => {
                                    tokio::spawn(serve(client, upstream.clone(), Arc::clone(&sh)));
                                }
                                // Out of file descriptors: retried shortly, not in a busy loop.
                                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                            },
                        }
                    }
                });
            })
            .map_err(ProxyError::Thread)?;
        Ok(Self {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The schedule (replaces any earlier one; sorted here by start).
    pub fn set_cuts(&self, mut cuts: Vec<Cut>) {
        cuts.sort_by_key(|c| (c.start_ms, c.end_ms));
        let mut s = self.shared.state();
        s.cuts = cuts;
        s.next = 0;
        s.active.clear();
    }

    /// The simulation has reached `now_ms`: cuts that began since the last call close their
    /// connections; cuts that ended stop refusing.
    pub fn advance(&self, now_ms: SimMillis) {
        let mut s = self.shared.state();
        let s = &mut *s;
        s.now = Some(now_ms);
        s.active.retain(|&i| s.cuts[i].end_ms > now_ms);
        while s.next < s.cuts.len() && s.cuts[s.next].start_ms <= now_ms {
            let i = s.next;
            s.next += 1;
            s.stats.cuts += 1;
            let scope = &s.cuts[i].scope;
            for (id, kill) in s.conns.values() {
                if scope.matches(id) {
                    kill.notify_one();
                }
            }
            if s.cuts[i].end_ms > now_ms {
                s.active.push(i);
            }
        }
    }

    /// Whether a cut not yet begun begins by `now_ms` (the next [`FaultProxy::advance`]
    /// will close connections).
    pub fn begins_by(&self, now_ms: SimMillis) -> bool {
        let s = self.shared.state();
        s.cuts.get(s.next).is_some_and(|c| c.start_ms <= now_ms)
    }

    /// Whether every client is cut off now (the broker is down): nothing the twin publishes
    /// can reach the system under test.
    pub fn site_cut(&self) -> bool {
        let s = self.shared.state();
        let Some(now) = s.now else { return false };
        s.active.iter().any(|&i| {
            let c = &s.cuts[i];
            c.scope == Scope::All && c.start_ms <= now && now < c.end_ms
        })
    }

    pub fn stats(&self) -> ProxyStats {
        self.shared.state().stats
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.notify_one();
        for (_, kill) in self.shared.state().conns.values() {
            kill.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One client: its CONNECT, then bytes both ways until either side closes or a cut.
async fn serve(mut client: TcpStream, upstream: (String, u16), sh: Arc<Shared>) {
    let _ = client.set_nodelay(true);
    let Ok(Ok((connect, client_id))) =
        tokio::time::timeout(CONNECT_WITHIN, read_connect(&mut client)).await
    else {
        return;
    };
    let (conn, kill) = {
        let mut s = sh.state();
        if s.blocked(&client_id) {
            s.stats.refused += 1;
            return;
        }
        s.stats.accepted += 1;
        s.next_conn += 1;
        let n = s.next_conn;
        let kill = Arc::new(Notify::new());
        s.conns.insert(n, (client_id, Arc::clone(&kill)));
        (n, kill)
    };
    if let Ok(mut up) = TcpStream::connect((upstream.0.as_str(), upstream.1)).await {
        let _ = up.set_nodelay(true);
        if up.write_all(&connect).await.is_ok() {
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut up) => {}
                _ = kill.notified() => {
                    sh.state().stats.connections_cut += 1;
                }
            }
        }
    }
    sh.state().conns.remove(&conn);
    // Dropping both sockets closes them without an MQTT DISCONNECT.
}

/// Reads the client's first packet, which must be an MQTT CONNECT, and its client id.
async fn read_connect(s: &mut TcpStream) -> std::io::Result<(Vec<u8>, String)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut packet = vec![0u8; 1];
    s.read_exact(&mut packet).await?;
    if packet[0] != 0x10 {
        return Err(bad("not an MQTT CONNECT"));
    }
    // Remaining length: up to four 7-bit groups.
    let mut len = 0usize;
    for i in 0..4 {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await?;
        packet.push(b[0]);
        len |= usize::from(b[0] & 0x7f) << (7 * i);
        if b[0] & 0x80 == 0 {
            break;
        }
        if i == 3 {
            return Err(bad("malformed remaining length"));
        }
    }
    if len > MAX_CONNECT {
        return Err(bad("CONNECT too large"));
    }
    let head = packet.len();
    packet.resize(head + len, 0);
    s.read_exact(&mut packet[head..]).await?;
    let id = client_id(&packet[head..]).ok_or_else(|| bad("malformed CONNECT"))?;
    Ok((packet, id))
}

/// The client id in a CONNECT's variable header and payload (MQTT 3.1.1 and 5).
fn client_id(body: &[u8]) -> Option<String> {
    let u16_at = |i: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *body.get(i)?,
            *body.get(i + 1)?,
        ])))
    };
    let name_len = u16_at(0)?;
    let mut i = 2 + name_len;
    let level = *body.get(i)?;
    // Level, flags, keep-alive.
    i += 4;
    if level == 5 {
        // Properties: a variable byte integer length, then the properties.
        let mut len = 0usize;
        for k in 0..4 {
            let b = *body.get(i)?;
            i += 1;
            len |= usize::from(b & 0x7f) << (7 * k);
            if b & 0x80 == 0 {
                break;
            }
        }
        i += len;
    }
    let id_len = u16_at(i)?;
    let id = body.get(i + 2..i + 2 + id_len)?;
    String::from_utf8(id.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_body(level: u8, id: &str) -> Vec<u8> {
        let mut b = vec![0, 4];
        b.extend_from_slice(b"MQTT");
        b.extend_from_slice(&[level, 0x02, 0, 30]);
        if level == 5 {
            b.extend_from_slice(&[3, 0x21, 0, 10]);
        }
        b.extend_from_slice(&(id.len() as u16).to_be_bytes());
        b.extend_from_slice(id.as_bytes());
        b
    }

    #[test]
    fn the_client_id_is_read_from_mqtt_3_and_5_connects_and_garbage_is_refused() {
        assert_eq!(client_id(&connect_body(4, "wt-g3")), Some("wt-g3".into()));
        assert_eq!(client_id(&connect_body(5, "wt-g3")), Some("wt-g3".into()));
        assert_eq!(client_id(&connect_body(4, "")), Some(String::new()));
        let body = connect_body(4, "wt-g3");
        for cut in 0..body.len() - 1 {
            assert_eq!(client_id(&body[..cut]), None, "truncated at {cut}");
        }
        assert_eq!(client_id(&[0xff; 64]), None);
    }

    /// A client through the proxy: waits for the next event that `pick` accepts.
    fn next<T>(
        conn: &mut rumqttc::Connection,
        mut pick: impl FnMut(&Result<rumqttc::Event, rumqttc::ConnectionError>) -> Option<T>,
    ) -> T {
        loop {
            let ev = conn
                .recv_timeout(Duration::from_secs(10))
                .expect("an event within 10 s");
            if let Some(t) = pick(&ev) {
                return t;
            }
        }
    }

    fn client(proxy: &FaultProxy, id: &str) -> (rumqttc::Client, rumqttc::Connection) {
        let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", proxy.addr().port());
        o.set_keep_alive(Duration::from_secs(30));
        rumqttc::Client::new(o, 16)
    }

    fn connack(ev: &Result<rumqttc::Event, rumqttc::ConnectionError>) -> Option<()> {
        matches!(
            ev,
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)))
        )
        .then_some(())
    }

    #[test]
    fn a_cut_closes_its_clients_connections_refuses_them_until_it_ends_and_spares_the_rest() {
        let broker = crate::mqtt::EmbeddedBroker::start(None).expect("embedded broker");
        let p = FaultProxy::start("127.0.0.1", broker.addr().port()).expect("a proxy");
        p.set_cuts(vec![Cut {
            start_ms: 100,
            end_ms: 200,
            scope: Scope::Clients(HashSet::from(["gw1".to_string()])),
        }]);
        p.advance(0);
        let (_c1, mut n1) = client(&p, "gw1");
        let (c2, mut n2) = client(&p, "gw2");
        next(&mut n1, connack);
        next(&mut n2, connack);
        p.advance(150);
        // gw1's connection is closed under it; each attempt to come back is refused.
        next(&mut n1, |ev| ev.is_err().then_some(()));
        next(&mut n1, |ev| ev.is_err().then_some(()));
        assert!(p.stats().refused >= 1, "{:?}", p.stats());
        // gw2 is untouched: a QoS 1 publish is acknowledged.
        c2.publish("t/x", rumqttc::QoS::AtLeastOnce, false, "hi")
            .expect("queued");
        next(&mut n2, |ev| match ev {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => Some(()),
            Err(e) => panic!("gw2 lost its connection: {e}"),
            _ => None,
        });
        p.advance(200);
        next(&mut n1, connack);
        let s = p.stats();
        assert_eq!((s.cuts, s.connections_cut, s.accepted), (1, 1, 3), "{s:?}");
    }

    #[test]
    fn a_cut_blocks_its_scope_only_inside_its_window() {
        let p = FaultProxy::start("127.0.0.1", 1).expect("a proxy");
        p.set_cuts(vec![
            Cut {
                start_ms: 100,
                end_ms: 200,
                scope: Scope::Clients(HashSet::from(["g1".to_string()])),
            },
            Cut {
                start_ms: 300,
                end_ms: 400,
                scope: Scope::All,
            },
        ]);
        let blocked = |id: &str| p.shared.state().blocked(id);
        assert!(!blocked("g1"), "nothing before the first advance");
        p.advance(150);
        assert!(blocked("g1") && !blocked("g2") && !p.site_cut());
        p.advance(200);
        assert!(!blocked("g1"), "the window is half-open");
        p.advance(350);
        assert!(blocked("g2") && p.site_cut());
        p.advance(1_000);
        assert!(!blocked("g2") && !p.site_cut());
        assert_eq!(p.stats().cuts, 2);
    }
}
