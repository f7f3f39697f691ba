//! Gateway systems: radio → spool → upstream.

use bevy_ecs::prelude::*;
use rand_distr::{Distribution, Normal};
use wardtwin_sim::records::{
    DeviceEvent, DeviceEventKind, EmissionFate, EmissionKind, Fate, Forwarded, NO_SOURCE, Reading,
};
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{
    DeviceEventOccurred, EmissionFated, ReadingEmitted, ReadingForwarded, SimClock,
};

use wardtwin_sim::records::{DeviceKind, Metric};

use std::cmp::Reverse;

use rand::RngExt;

use super::{DeviceLink, Gateway, InTransit, Link, Links, Site};
use crate::device::sampling::{Sampler, Sensed, ok};

fn lost(r: &Reading, fate: Fate, sink: &'static str) -> EmissionFated {
    EmissionFated(EmissionFate {
        device: r.device,
        kind: EmissionKind::Telemetry,
        seq: r.seq,
        sim_ms: r.sim_ms,
        fate,
        sink,
        forwarded_ms: None,
        attempts: 0,
        lateness_us: None,
    })
}

/// Which gateway hears `r` (its ward index), or `None` if no receiver did. A receiver whose
/// gateway is not `receiving` (its Wi-Fi is down, or the gateway is) hears nothing; one under
/// interference hears `attenuation` dB less; a device carried out of coverage reaches nobody.
fn hear(site: &Site, links: &mut Links, ward: &WardRadio, r: &Reading) -> Option<usize> {
    let DeviceLink {
        link, rng, away, ..
    } = &mut links.devices[r.device.0 as usize];
    if !away.is_empty()
        && away
            .iter()
            .take_while(|w| w.start_ms <= r.sim_ms)
            .any(|w| w.contains(r.sim_ms))
    {
        return None;
    }
    let up = |gateway: usize| ward.receiving.get(gateway).copied().unwrap_or(true);
    let loss = |gateway: usize| ward.attenuation.get(gateway).copied().unwrap_or(0.0);
    match link {
        Link::Wired { gateway } => Some(*gateway),
        Link::Tag => r
            .observations()
            .iter()
            .filter(|o| o.source != NO_SOURCE)
            .map(|o| site.receiver_gateway[usize::from(o.source)])
            .find(|&g| up(g)),
        Link::Radio { receivers } => {
            let radio = &site.radio;
            let noise = Normal::new(0.0, radio.shadowing_sd_db.max(1e-9)).expect("sd > 0");
            for _ in 0..=radio.retries {
                for &(rx, mean) in receivers.as_slice() {
                    let gateway = site.receiver_gateway[usize::from(rx)];
                    if !up(gateway) {
                        continue;
                    }
                    let mean = f64::from(mean) - loss(gateway);
                    let heard = if mean - 8.0 * radio.shadowing_sd_db >= radio.sensitivity_dbm {
                        true
                    } else {
                        mean + noise.sample(rng) >= radio.sensitivity_dbm
                    };
                    if heard {
                        return Some(site.receiver_gateway[usize::from(rx)]);
                    }
                }
            }
            None
        }
    }
}

/// Each ward's receivers this step: whether they pass anything on, and the extra loss on
/// them (interference), by ward.
#[derive(Default)]
pub(super) struct WardRadio {
    receiving: Vec<bool>,
    attenuation: Vec<f64>,
}

/// Each gateway's power this step: a gateway going down loses a volatile spool; one coming
/// back starts empty-handed or with what its persistent spool kept. Then whether each one's
/// receivers pass anything on, and what interference costs them.
fn power(
    now: SimMillis,
    gateways: &mut Query<(Entity, &mut Gateway)>,
    fated: &mut MessageWriter<EmissionFated>,
    radio: &mut WardRadio,
) {
    radio.receiving.clear();
    radio.attenuation.clear();
    for (_, mut gw) in gateways.iter_mut() {
        let gw = &mut *gw;
        if radio.receiving.len() <= gw.ward {
            radio.receiving.resize(gw.ward + 1, true);
            radio.attenuation.resize(gw.ward + 1, 0.0);
        }
        if !gw.interference.is_empty() {
            radio.attenuation[gw.ward] = gw.attenuation_at(now);
        }
        if gw.down.is_empty() && gw.wifi.is_empty() {
            continue;
        }
        let down = gw.down_at(now).copied();
        match (gw.powered, down) {
            (true, Some((_, persistent))) => {
                gw.powered = false;
                if !persistent {
                    fated.write_batch(
                        gw.spool
                            .drain(..)
                            .map(|r| lost(&r, Fate::SpoolLost, "gateway")),
                    );
                }
            }
            (false, None) => gw.powered = true,
            _ => {}
        }
        radio.receiving[gw.ward] = gw.receiving(now);
    }
}

/// This step's emissions, in (device, seq) order: over the radio into their gateway's spool
/// (a buffering device's backlog first), or into the device's onboard buffer if nobody heard.
#[allow(clippy::too_many_arguments)]
pub(super) fn route(
    clock: Res<SimClock>,
    site: Res<Site>,
    mut links: ResMut<Links>,
    mut emitted: MessageReader<ReadingEmitted>,
    mut gateways: Query<(Entity, &mut Gateway)>,
    mut fated: MessageWriter<EmissionFated>,
    mut batch: Local<Vec<Reading>>,
    mut by_ward: Local<Vec<Entity>>,
    mut radio: Local<WardRadio>,
) {
    power(clock.now_ms(), &mut gateways, &mut fated, &mut radio);
    batch.clear();
    batch.extend(emitted.read().map(|m| m.0));
    if batch.is_empty() {
        return;
    }
    batch.sort_unstable_by_key(|r| (r.device, r.seq));
    if by_ward.is_empty() {
        let mut g: Vec<(usize, Entity)> = gateways.iter().map(|(e, g)| (g.ward, e)).collect();
        g.sort();
        by_ward.extend(g.into_iter().map(|(_, e)| e));
    }
    for r in batch.iter() {
        let heard = hear(&site, &mut links, &radio, r);
        let entity = heard.and_then(|w| by_ward.get(w).copied());
        let link = &mut links.devices[r.device.0 as usize];
        let Some(entity) = entity else {
            if link.buffer_cap == 0 {
                fated.write(lost(r, Fate::RadioLost, "radio"));
                continue;
            }
            if link.buffer.len() >= link.buffer_cap
                && let Some(victim) = link.buffer.pop_front()
            {
                fated.write(lost(&victim, Fate::BufferDropped, "device"));
            }
            link.buffer.push_back(*r);
            continue;
        };
        let (_, mut gw) = gateways.get_mut(entity).expect("gateway entity");
        for b in link.buffer.drain(..).chain(std::iter::once(*r)) {
            if let Some(victim) = gw.spool(b) {
                fated.write(lost(&victim, Fate::SpoolDropped, "gateway"));
            }
        }
    }
}

/// Every gateway whose uplink is up forwards its spool, oldest first, up to its rate (and
/// its degraded uplink's bandwidth); what a slow uplink carries arrives when its delay is
/// over, whatever became of the uplink or the gateway since.
pub(super) fn forward(
    clock: Res<SimClock>,
    mut gateways: Query<&mut Gateway>,
    mut out: MessageWriter<ReadingForwarded>,
    mut events: MessageWriter<DeviceEventOccurred>,
    mut fated: MessageWriter<EmissionFated>,
) {
    let now = clock.now_ms();
    for mut gw in &mut gateways {
        let gw = &mut *gw;
        arrivals(gw, now, &mut out);
        let up = !gw
            .outages
            .iter()
            .take_while(|w| w.start_ms <= now)
            .any(|w| w.contains(now));
        if up != gw.uplink_up {
            gw.uplink_up = up;
            events.write(DeviceEventOccurred(DeviceEvent {
                device: gw.device,
                sim_ms: now,
                device_ms: now,
                battery_pct: None,
                kind: if up {
                    DeviceEventKind::UplinkRestored
                } else {
                    DeviceEventKind::UplinkLost
                },
            }));
        }
        if !up || !gw.powered {
            continue;
        }
        let degrade = if gw.degraded.is_empty() {
            None
        } else {
            gw.degraded_at(now)
        };
        let Some(d) = degrade else {
            gw.credit = 0.0;
            let n = gw.spool.len().min(gw.forward_per_step);
            out.write_batch(gw.spool.drain(..n).map(|reading| {
                ReadingForwarded(Forwarded {
                    reading,
                    forwarded_ms: now,
                })
            }));
            continue;
        };
        let mut n = gw.spool.len().min(gw.forward_per_step);
        if let Some(rate) = d.bandwidth {
            let per_step = rate * clock.step_ms() as f64 / 1000.0;
            gw.credit = (gw.credit + per_step).min(per_step.max(1.0));
            n = n.min(gw.credit.floor() as usize);
            gw.credit -= n as f64;
        }
        for reading in (0..n).filter_map(|_| gw.spool.pop_front()) {
            let rng = gw
                .uplink_rng
                .as_mut()
                .expect("a degraded uplink has its stream");
            if d.loss > 0.0 && rng.random::<f64>() < d.loss {
                fated.write(lost(&reading, Fate::UplinkLost, "uplink"));
                continue;
            }
            let jitter = if d.jitter_ms > 0 {
                rng.random_range(-d.jitter_ms..=d.jitter_ms)
            } else {
                0
            };
            let delay = (d.latency_ms + jitter).max(0);
            if delay == 0 {
                out.write(ReadingForwarded(Forwarded {
                    reading,
                    forwarded_ms: now,
                }));
            } else {
                gw.sent += 1;
                gw.transit.push(Reverse(InTransit {
                    arrive_ms: now + delay,
                    order: gw.sent,
                    reading,
                }));
            }
        }
    }
}

/// What a slow uplink delivers by `now`, each at its arrival.
fn arrivals(gw: &mut Gateway, now: SimMillis, out: &mut MessageWriter<ReadingForwarded>) {
    while let Some(Reverse(m)) = gw.transit.peek().copied()
        && m.arrive_ms <= now
    {
        gw.transit.pop();
        out.write(ReadingForwarded(Forwarded {
            reading: m.reading,
            forwarded_ms: m.arrive_ms,
        }));
    }
}

/// At the end of the run: what is still spooled, or still in a device's buffer, never went
/// upstream.
pub(super) fn flush_spools(
    mut gateways: Query<&mut Gateway>,
    mut links: ResMut<Links>,
    mut fated: MessageWriter<EmissionFated>,
) {
    for mut gw in &mut gateways {
        fated.write_batch(
            gw.spool
                .drain(..)
                .map(|r| lost(&r, Fate::Unsent, "gateway")),
        );
        fated.write_batch(
            gw.transit
                .drain()
                .map(|Reverse(m)| lost(&m.reading, Fate::Unsent, "uplink")),
        );
    }
    for link in &mut links.devices {
        fated.write_batch(
            link.buffer
                .drain(..)
                .map(|r| lost(&r, Fate::Unsent, "device")),
        );
    }
}

/// Every due gateway reports its own state: spool depth, readings dropped, uplink.
pub(super) fn sense_self(mut sampler: Sampler, gateways: Query<&Gateway>) {
    sampler.sample(&[DeviceKind::EdgeGateway], |_, device, _, obs| {
        let Ok(g) = gateways.get(device.subject) else {
            return Sensed::Nothing;
        };
        if !g.powered {
            // Crashed, or without power: it reports nothing.
            return Sensed::Nothing;
        }
        obs[0] = ok(Metric::SpoolDepth, g.spool.len() as f64);
        obs[1] = ok(Metric::SpoolDropped, g.dropped as f64);
        obs[2] = ok(Metric::Uplink, if g.uplink_up { 1.0 } else { 0.0 });
        Sensed::Reading
    });
}
