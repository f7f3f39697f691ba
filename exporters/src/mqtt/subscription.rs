//! The subscribing side shared by the alert collector and the reference stack: with a clean
//! session, (re)subscribe on every connection; say "ready" once the broker has acknowledged
//! every topic (so nothing published afterwards is missed), or report the first connection
//! error; once running, back off briefly after an error while rumqttc reconnects.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use rumqttc::{Client, ConnectionError, Event, Packet, QoS};

use super::publisher::LiveError;

/// How long a subscriber waits for the broker to confirm its subscriptions.
pub const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Subscription state for one client's event loop.
pub struct Subscription {
    client: Client,
    topics: Vec<String>,
    acknowledged: usize,
    ready: Option<Sender<Result<(), String>>>,
}

impl Subscription {
    /// The state, and where readiness (or the first error) is reported.
    pub fn new(client: Client, topics: Vec<String>) -> (Self, Receiver<Result<(), String>>) {
        let (tx, rx) = channel();
        let s = Self {
            client,
            topics,
            acknowledged: 0,
            ready: Some(tx),
        };
        (s, rx)
    }

    /// Handles the subscription side of one event of the loop.
    pub fn handle(&mut self, ev: &Result<Event, ConnectionError>) {
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                for t in &self.topics {
                    let _ = self.client.try_subscribe(t.as_str(), QoS::AtLeastOnce);
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                self.acknowledged += 1;
                if self.acknowledged == self.topics.len()
                    && let Some(tx) = self.ready.take()
                {
                    let _ = tx.send(Ok(()));
                }
            }
            Err(e) => match self.ready.take() {
                Some(tx) => {
                    let _ = tx.send(Err(e.to_string()));
                }
                // Running: the broker went away; rumqttc reconnects on the next poll.
                None => std::thread::sleep(Duration::from_millis(100)),
            },
            Ok(_) => {}
        }
    }
}

/// Waits until `rx` says the subscriptions are in place; on failure calls `stop` and returns
/// a connect error naming `url`.
pub fn await_ready(
    rx: &Receiver<Result<(), String>>,
    url: &str,
    stop: impl FnOnce(),
) -> Result<(), LiveError> {
    let why = match rx.recv_timeout(SUBSCRIBE_TIMEOUT) {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(why)) => why,
        Err(_) => "no subscription acknowledgement".into(),
    };
    stop();
    Err(LiveError::Connect {
        url: url.to_string(),
        why,
    })
}

/// Connects once with a clean session under `o`'s client id, which ends that client's
/// persistent session at the broker (no queue left behind for a client that will not
/// return).
pub fn end_session(mut o: rumqttc::MqttOptions) {
    o.set_clean_session(true);
    let (client, mut conn) = Client::new(o, 4);
    for ev in conn.iter().take(8) {
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                let _ = client.disconnect();
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => break,
            _ => {}
        }
    }
}
