//! The embedded broker: rumqttd in process, on a loopback port, for `--live` without a broker.
//!
//! rumqttd keeps every topic's messages in in-memory segments; it is configured with small
//! ones (4 × 4 MiB per topic filter) so memory stays bounded on long runs. A subscriber that
//! falls more than that behind loses the oldest messages, as with any bounded broker.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use rumqttd::{Broker, Config, ConnectionSettings, Notification, RouterConfig, ServerSettings};

/// A running embedded broker.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

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
                max_segment_size: 4 << 20,
                max_segment_count: 4,
                ..RouterConfig::default()
            },
            v4: Some(v4),
            ..Config::default()
        };
        let mut broker = Broker::new(config);
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
                    eprintln!("wardtwin: embedded broker stopped: {e}");
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
        Ok(Self { addr })
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
