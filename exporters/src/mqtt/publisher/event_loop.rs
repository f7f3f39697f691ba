//! The MQTT thread: dispatching batches to connections, driving rumqttc, recording fates.

use super::*;

pub(super) struct Ctx {
    pub(super) shared: Arc<Shared>,
    pub(super) pacer: Pacer,
    pub(super) wire: Arc<WireDirectory>,
    pub(super) mode: ConnectionMode,
    /// The twin's own connection (after the gateways' or devices').
    pub(super) control: usize,
    pub(super) max_spool: u64,
    /// The spool limit while every connection is up.
    pub(super) connected_limit: u64,
}

impl Ctx {
    /// A gateway status message for connection `ix` (retained, outside the ledger), counted as
    /// outstanding until it is written.
    pub(super) fn gateway_msg(
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
                chart: false,
                offset_ms: 0,
            },
            attempts: 0,
            lateness_us: None,
        }
    }
}

impl Ctx {
    /// The retained site map, on the twin's own connection, counted as outstanding until it
    /// is written.
    pub(super) fn site_map_msg(&self) -> Msg {
        self.shared.totals().outstanding += 1;
        Msg {
            id: 0,
            out: OutMsg {
                conn: self.control as u32,
                topic: Arc::clone(&self.wire.site_map_topic),
                payload: self.wire.site_map.clone().into_bytes().into(),
                retain: true,
                ledger: None,
                chart: false,
                offset_ms: 0,
            },
            attempts: 0,
            lateness_us: None,
        }
    }
}

/// Connection losses said on the terminal, one line each, before the rest are only counted.
const LOSS_LINES: u64 = 8;

pub(super) fn lock(c: &Mutex<Conn>) -> MutexGuard<'_, Conn> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) async fn run(
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
                ctx.shared.batches_dispatched.fetch_add(1, Ordering::AcqRel);
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
pub(super) fn drop_oldest_while_away(ctx: &Ctx, conns: &[Arc<Mutex<Conn>>]) -> bool {
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

pub(super) async fn wait_until(ctx: &Ctx, deadline: tokio::time::Instant, done: impl Fn() -> bool) {
    while !done() {
        if tokio::time::timeout_at(deadline, ctx.shared.progress.notified())
            .await
            .is_err()
        {
            return;
        }
    }
}

pub(super) async fn finish(
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
        for (i, c) in conns.iter().enumerate().take(ctx.control) {
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

pub(super) async fn connection(
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
                let reconnect = ever_connected;
                if ever_connected {
                    ctx.shared.totals().reconnects += 1;
                }
                ever_connected = true;
                if let Some(r) = ready.take() {
                    let _ = r.send(Ok(()));
                }
                let mut c = lock(&conn);
                c.connected = true;
                if ix == ctx.control {
                    if reconnect && !c.closing {
                        // A broker restarted without persistence has forgotten the retained
                        // site map: say it again (retained; harmless if it remembered).
                        c.backlog.push_front(ctx.site_map_msg());
                    }
                } else if ctx.mode == ConnectionMode::PerGateway && !c.closing {
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
                    let telemetry = m.out.ledger.filter(LedgerKey::telemetry);
                    if let Some(k) = telemetry {
                        ctx.shared
                            .wire_ms
                            .fetch_max(k.forwarded_ms, Ordering::Relaxed);
                    }
                    m.lateness_us = ctx.pacer.lateness_us(m.out.offset_ms);
                    if let (Some(l), Some(_)) = (m.lateness_us, telemetry) {
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
                        // A broker outage drops every connection at once (thousands, per
                        // device): say the first few; the summary counts the reconnects.
                        let said = ctx.shared.loss_lines.fetch_add(1, Ordering::Relaxed);
                        if said < LOSS_LINES {
                            crate::errln!(
                                "wardtwin: MQTT connection {} lost ({e}); reconnecting, {} message(s) spooled",
                                ix,
                                c.backlog.len()
                            );
                        } else if said == LOSS_LINES {
                            crate::errln!(
                                "wardtwin: more MQTT connections lost; the run's summary counts the reconnects"
                            );
                        }
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
