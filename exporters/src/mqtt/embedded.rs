//! The embedded broker: rumqttd in process, on a loopback port, for `--live` without a broker.
//!
//! rumqttd keeps every topic's messages in in-memory segments; it is configured with small
//! ones (4 × 4 MiB per topic filter) so memory stays bounded on long runs. A subscriber that
//! falls more than that behind loses the oldest messages, as with any bounded broker: never
//! silently. rumqttd reports each such jump of a subscriber's read cursor as an alert, pushed
//! every second; [`EmbeddedBroker::discards`] counts them, and the run writes them into the
//! run folder (`broker.json`), where the scorer makes the run invalid.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use std::sync::{Arc, Mutex};

use rumqttd::{
    Broker, Config, ConnectionSettings, MetricSettings, MetricType, Notification, RouterConfig,
    ServerSettings,
};

/// A running embedded broker.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
    discards: Arc<(Mutex<Discards>, std::sync::Condvar)>,
}

/// Where the embedded broker discarded messages for a subscriber that fell behind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Discards {
    /// Times a subscriber's read cursor jumped past messages it had not read.
    pub cursor_jumps: u64,
    /// Which subscriptions: (client id, topic filter), each once, in the order seen.
    pub subscriptions: Vec<(String, String)>,
}

/// rumqttd's metric settings (their field is private: built from their serde form).
fn push_every(seconds: u64) -> MetricSettings {
    serde_json::from_value(serde_json::json!({ "push_interval": seconds }))
        .expect("rumqttd's metric settings")
}

/// Segment size and count of the embedded broker's per-filter logs.
const SEGMENT_BYTES: usize = 4 << 20;
const SEGMENTS: usize = 4;

/// Why the embedded broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot find a free port on {0}: {1}")]
    Port(IpAddr, std::io::Error),
    #[error("cannot start the embedded broker thread: {0}")]
    Thread(std::io::Error),
    #[error("the embedded broker did not come up on {0}: {1}")]
    NotUp(SocketAddr, String),
}

impl EmbeddedBroker {
    /// Starts rumqttd on `listen` (default 127.0.0.1 and a free port) and checks that the
    /// broker answering there is this one (a probe message must reach its in-process link).
    pub fn start(listen: Option<SocketAddr>) -> Result<Self, EmbeddedError> {
        Self::start_with(listen, SEGMENT_BYTES)
    }

    /// [`EmbeddedBroker::start`] with segments of `segment_bytes` (tests make them small).
    fn start_with(listen: Option<SocketAddr>, segment_bytes: usize) -> Result<Self, EmbeddedError> {
        let addr = match listen {
            Some(a) if a.port() != 0 => a,
            other => {
                let ip = other.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |a| a.ip());
                let l = TcpListener::bind((ip, 0)).map_err(|e| EmbeddedError::Port(ip, e))?;
                let a = l.local_addr().map_err(|e| EmbeddedError::Port(ip, e))?;
                drop(l);
                a
            }
        };
        let mut v4 = HashMap::new();
        v4.insert(
            "1".to_string(),
            ServerSettings {
                name: "wardtwin-v4".into(),
                listen: addr,
                tls: None,
                next_connection_delay_ms: 0,
                connections: ConnectionSettings {
                    connection_timeout_ms: 60_000,
                    max_payload_size: 1 << 20,
                    max_inflight_count: 1000,
                    auth: None,
                    external_auth: None,
                    dynamic_filters: true,
                },
            },
        );
        let config = Config {
            id: 0,
            router: RouterConfig {
                max_connections: 20_000,
                max_outgoing_packet_count: 1000,
                max_segment_size: segment_bytes,
                max_segment_count: SEGMENTS,
                ..RouterConfig::default()
            },
            v4: Some(v4),
            // Alerts (cursor jumps: messages discarded for a slow subscriber) every second.
            // rumqttd's timer unwraps both intervals whichever is set: meters get one too
            // (nobody listens to them).
            metrics: Some(HashMap::from([
                (MetricType::Alerts, push_every(1)),
                (MetricType::Meters, push_every(60)),
            ])),
            ..Config::default()
        };
        let mut broker = Broker::new(config);
        let discards = Arc::new((Mutex::new(Discards::default()), std::sync::Condvar::new()));
        let alerts = broker
            .alerts()
            .map_err(|e| EmbeddedError::NotUp(addr, e.to_string()))?;
        let seen = Arc::clone(&discards);
        std::thread::Builder::new()
            .name("embedded-broker-alerts".into())
            .spawn(move || {
                while let Ok(batch) = alerts.router_rx.recv() {
                    let mut d = seen.0.lock().unwrap_or_else(|p| p.into_inner());
                    for a in batch {
                        if a.kind.name() == "cursor_jump" {
                            d.cursor_jumps += 1;
                            // "Filter: <filter>, Lost: <n>"
                            let text = a.kind.description();
                            let filter = text
                                .strip_prefix("Filter: ")
                                .and_then(|t| t.rsplit_once(", Lost: "))
                                .map_or(text.as_str(), |(f, _)| f)
                                .to_string();
                            let key = (a.client_id, filter);
                            if !d.subscriptions.contains(&key) {
                                d.subscriptions.push(key);
                            }
                        }
                    }
                    drop(d);
                    seen.1.notify_all();
                }
            })
            .map_err(EmbeddedError::Thread)?;
        let nonce = format!("{}-{addr}", std::process::id());
        let probe_topic = format!("wardtwin/probe/{}", std::process::id());
        let (mut link_tx, mut link_rx) = broker
            .link("wardtwin-probe")
            .map_err(|e| EmbeddedError::NotUp(addr, e.to_string()))?;
        link_tx
            .subscribe(probe_topic.clone())
            .map_err(|e| EmbeddedError::NotUp(addr, e.to_string()))?;
        std::thread::Builder::new()
            .name("embedded-broker".into())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    crate::errln!("wardtwin: embedded broker stopped: {e}");
                }
            })
            .map_err(EmbeddedError::Thread)?;
        probe(addr, &probe_topic, &nonce).map_err(|e| EmbeddedError::NotUp(addr, e))?;
        // The probe went through a broker on `addr`; it must be ours.
        #[allow(clippy::disallowed_methods)]
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match link_rx.recv_deadline(deadline) {
                Ok(Some(Notification::Forward(f))) if f.publish.payload == nonce.as_bytes() => {
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(EmbeddedError::NotUp(
                        addr,
                        format!("another broker answers on this port ({e})"),
                    ));
                }
            }
        }
        Ok(Self { addr, discards })
    }

    /// What the broker has discarded for subscribers that fell behind, so far (reported within
    /// a second of happening).
    pub fn discards(&self) -> Discards {
        self.discards
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits up to `timeout` for a first discard; what has been discarded by then.
    pub fn wait_for_discards(&self, timeout: Duration) -> Discards {
        let d = self.discards.0.lock().unwrap_or_else(|p| p.into_inner());
        let (d, _) = self
            .discards
            .1
            .wait_timeout_while(d, timeout, |d| d.cursor_jumps == 0)
            .unwrap_or_else(|p| p.into_inner());
        d.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `mqtt://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}

/// Publishes `nonce` to `topic` at QoS 1 through a TCP client, retrying until the listener is
/// up (it binds on its own thread).
fn probe(addr: SocketAddr, topic: &str, nonce: &str) -> Result<(), String> {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new("wardtwinprobe", addr.ip().to_string(), addr.port());
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut conn) = Client::new(opts, 10);
    client
        .publish(topic, QoS::AtLeastOnce, false, nonce.as_bytes().to_vec())
        .map_err(|e| e.to_string())?;
    let mut failures = 0;
    loop {
        match conn.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => {
                let _ = client.disconnect();
                return Ok(());
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                failures += 1;
                if failures > 100 {
                    return Err(e.to_string());
                }
                // The listener thread has not bound yet.
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("{e:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

    /// A subscriber that stops reading while far more than the broker's segments hold is
    /// published: the broker discards the oldest for it, and says so.
    #[test]
    fn a_subscriber_that_falls_behind_is_reported_not_silently_dropped() {
        let broker = EmbeddedBroker::start_with(None, 64 << 10).expect("broker");
        let port = broker.addr().port();
        let mut o = MqttOptions::new("wtlaggard", "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(30));
        let (sub, mut sub_conn) = Client::new(o, 10);
        sub.subscribe("load/#", QoS::AtLeastOnce)
            .expect("subscribe");
        // Connected and subscribed; then it stops reading (and acknowledging).
        for ev in sub_conn.iter() {
            if let Ok(Event::Incoming(Packet::SubAck(_))) = ev {
                break;
            }
        }
        let mut o = MqttOptions::new("wtloader", "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(30));
        let (publisher, mut pub_conn) = Client::new(o, 100);
        let payload = vec![b'x'; 1024];
        let n = 4_000;
        std::thread::spawn(move || {
            for _ in 0..n {
                publisher
                    .publish("load/t", QoS::AtLeastOnce, false, payload.clone())
                    .expect("publish");
            }
        });
        let mut acked = 0;
        for ev in pub_conn.iter() {
            if let Ok(Event::Incoming(Packet::PubAck(_))) = ev {
                acked += 1;
                if acked == n {
                    break;
                }
            }
        }
        assert_eq!(broker.discards(), Discards::default(), "nothing read yet");
        // The subscriber reads again: its cursor is behind what the broker still holds.
        std::thread::spawn(move || for _ in sub_conn.iter() {});
        let d = broker.wait_for_discards(Duration::from_secs(20));
        assert!(d.cursor_jumps > 0, "{d:?}");
        assert_eq!(
            d.subscriptions,
            [("wtlaggard".to_string(), "load/#".to_string())]
        );
    }
}
