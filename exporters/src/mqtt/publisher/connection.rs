//! One broker connection: its spool, what rumqttc holds, and taking it all back on a drop.

use super::*;

/// One connection's spool and its mirror of what rumqttc holds.
pub(super) struct Conn {
    pub(super) client: AsyncClient,
    pub(super) qos: QoS,
    pub(super) backlog: VecDeque<Msg>,
    pub(super) submitted: VecDeque<Msg>,
    pub(super) inflight: Vec<Option<Msg>>,
    pub(super) inflight_count: usize,
    pub(super) collided: Option<Msg>,
    pub(super) connected: bool,
    pub(super) closing: bool,
}

impl Conn {
    pub(super) fn held(&self) -> usize {
        self.submitted.len() + self.inflight_count + usize::from(self.collided.is_some())
    }

    /// Hands spooled messages to rumqttc, oldest first, up to the window. Nothing while
    /// disconnected: the spool keeps them (where a full spool can drop the oldest).
    pub(super) fn pump(&mut self) {
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
    pub(super) fn requeue(&mut self) {
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
