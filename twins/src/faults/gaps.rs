//! What the receiving side could know: gaps in what reached the broker.
//!
//! From the readings that left the gateways (`ReadingForwarded`: what the broker received,
//! when), per device: a **data gap** is a silence longer than `2 × cadence + 60 s` (the
//! monitoring-lost allowance) while the device went on emitting, from the moment the
//! allowance ran out until the next reading arrived; a whole ward gone silent (nothing from
//! any device its gateway carries, the gateway's own status included) for longer than
//! `2 × the shortest cadence among them + 60 s` is **gateway offline**, on the gateway's
//! status device. A device's gap that began while its whole gateway was offline is recorded as
//! transient: the gateway condition is the one to alert on, and per-device alerts then are
//! neither right nor wrong (docs/scoring.md).
//!
//! RTLS tags are not watched: a tag nobody hears is the `asset_missing` condition's subject.
//! Gaps are collected as they close and recorded when the run ends, when every gateway's
//! silences are known.

use bevy_app::{App, Update};
use bevy_ecs::prelude::*;
use wardtwin_sim::conditions::{
    ConditionClass, ConditionRecord, Severity, Subject, monitoring_lost_after,
};
use wardtwin_sim::records::DeviceIx;
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{
    ConditionRecorded, DirectUplink, FileTransport, ReadingForwarded, SimClock, SimEnd, SimSet,
};

use crate::device::Device;
use crate::gateway::GatewaySystems;

/// One device as the gap ledger watches it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Watched {
    /// Silence allowed before a gap begins (a gateway: its whole ward's silence).
    pub allowed_ms: i64,
    /// The status device of its home ward's gateway (itself, for a gateway).
    pub gateway: DeviceIx,
    pub is_gateway: bool,
}

/// A silence longer than allowed: from the last arrival to the next (`None`: the run ended).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Gap {
    device: DeviceIx,
    from_ms: SimMillis,
    until_ms: Option<SimMillis>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    last_ms: SimMillis,
    /// Highest sequence number that arrived.
    last_seq: Option<u32>,
}

/// The per-device arrival ledger and the gaps found so far.
#[derive(Resource, Debug, Default)]
pub struct DeliveryGaps {
    watched: Vec<Option<Watched>>,
    seen: Vec<Seen>,
    gaps: Vec<Gap>,
}

impl DeliveryGaps {
    /// Watches each device (by dense index; `None`: not watched) from `epoch_ms`.
    pub fn new(watched: Vec<Option<Watched>>, epoch_ms: SimMillis) -> Self {
        let seen = vec![
            Seen {
                last_ms: epoch_ms,
                last_seq: None,
            };
            watched.len()
        ];
        Self {
            watched,
            seen,
            gaps: Vec::new(),
        }
    }

    /// The allowance of a device reporting every `interval_ms`.
    pub fn allowance(interval_ms: i64) -> i64 {
        monitoring_lost_after(interval_ms)
    }
}

/// Every reading that went upstream this step: a silence longer than allowed is a gap.
fn track(mut ledger: ResMut<DeliveryGaps>, mut forwarded: MessageReader<ReadingForwarded>) {
    let ledger = &mut *ledger;
    for ReadingForwarded(r) in forwarded.read() {
        let i = r.device.0 as usize;
        let Some(Some(w)) = ledger.watched.get(i) else {
            continue;
        };
        let w = *w;
        // The device's own arrivals (a gateway's own status counts for its ward, below).
        if !w.is_gateway {
            arrive(ledger, i, w.allowed_ms, r.forwarded_ms, Some(r.seq));
        }
        // Its ward's: anything its gateway carries.
        let g = w.gateway.0 as usize;
        if let Some(Some(gw)) = ledger.watched.get(g) {
            let allowed = gw.allowed_ms;
            let seq = w.is_gateway.then_some(r.seq);
            arrive(ledger, g, allowed, r.forwarded_ms, seq);
        }
    }
}

/// Something from watched slot `i` arrived at `at`.
fn arrive(ledger: &mut DeliveryGaps, i: usize, allowed_ms: i64, at: SimMillis, seq: Option<u32>) {
    let seen = &mut ledger.seen[i];
    if at - seen.last_ms > allowed_ms {
        ledger.gaps.push(Gap {
            device: DeviceIx(i as u32),
            from_ms: seen.last_ms,
            until_ms: Some(at),
        });
    }
    seen.last_ms = seen.last_ms.max(at);
    if let Some(seq) = seq {
        seen.last_seq = Some(seen.last_seq.map_or(seq, |s| s.max(seq)));
    }
}

/// At the end: the silences still going (of devices that emitted since their last arrival,
/// and of gateways), then every gap as a condition.
fn finish(
    clock: Res<SimClock>,
    mut ledger: ResMut<DeliveryGaps>,
    devices: Query<&Device>,
    mut out: MessageWriter<ConditionRecorded>,
) {
    let now = clock.now_ms();
    let ledger = &mut *ledger;
    let mut next_seq = vec![0u32; ledger.watched.len()];
    for d in &devices {
        if let Some(slot) = next_seq.get_mut(d.ix.0 as usize) {
            *slot = d.seq;
        }
    }
    for (i, w) in ledger.watched.iter().enumerate() {
        let Some(w) = w else { continue };
        let seen = ledger.seen[i];
        let emitted_since = next_seq[i] > seen.last_seq.map_or(0, |s| s + 1);
        if now - seen.last_ms > w.allowed_ms && (w.is_gateway || emitted_since) {
            ledger.gaps.push(Gap {
                device: DeviceIx(i as u32),
                from_ms: seen.last_ms,
                until_ms: None,
            });
        }
    }
    let offline: Vec<&Gap> = ledger
        .gaps
        .iter()
        .filter(|g| ledger.watched[g.device.0 as usize].is_some_and(|w| w.is_gateway))
        .collect();
    let records: Vec<ConditionRecorded> = ledger
        .gaps
        .iter()
        .map(|g| {
            let w = ledger.watched[g.device.0 as usize].expect("watched");
            let onset_ms = g.from_ms + w.allowed_ms;
            let subsumed = !w.is_gateway
                && offline.iter().any(|o| {
                    o.device == w.gateway
                        && o.from_ms <= onset_ms
                        && o.until_ms.is_none_or(|u| onset_ms < u)
                });
            ConditionRecorded(ConditionRecord {
                class: if w.is_gateway {
                    ConditionClass::GatewayOffline
                } else {
                    ConditionClass::DataGap
                },
                severity: if w.is_gateway {
                    Severity::High
                } else {
                    Severity::Medium
                },
                subject: Subject::Device(g.device),
                onset_ms,
                end_ms: g.until_ms,
                transient: subsumed,
            })
        })
        .collect();
    ledger.gaps.clear();
    out.write_batch(records);
}

pub(super) fn build(app: &mut App) {
    app.init_resource::<DeliveryGaps>()
        .add_systems(
            Update,
            track
                .in_set(SimSet::Transport)
                .after(DirectUplink)
                .after(GatewaySystems)
                .before(FileTransport),
        )
        .configure_sets(
            SimEnd,
            super::FaultSystems
                .in_set(SimSet::Dynamics)
                .after(GatewaySystems)
                .after(crate::patient::PatientSystems)
                .after(crate::coldchain::ColdChainSystems)
                .after(crate::rtls::RtlsSystems),
        )
        .add_systems(SimEnd, finish.in_set(super::FaultSystems));
}
