//! `--with-reference-stack naive|news2`: the reference stack's alerting policy on the central
//! station. It is fed in-process with the telemetry that left the gateways (each reading as
//! the wire would carry it: device clock, metric names, statuses, receiver, ward), so its
//! alarms show on the station as a system under test would raise them, without a broker.
//! Its alerts are logged in `reference-alerts.jsonl` (alert v1, arrival in simulation time),
//! which `wardtwin score RUN --alerts reference-alerts.jsonl` scores.

use std::path::Path;
use std::sync::Arc;

use wardtwin_exporters::wire::alerts::{MessageLog, encode_alert};
use wardtwin_reference::{Policy, PolicyKind, ReadingIn};
use wardtwin_scoring::model::Alert;
use wardtwin_sim::records::Forwarded;
use wardtwin_sim::{Batch, Directory, RecordSink, SinkError, SinkReport};

use crate::live::Shared;
use crate::model::StackAlert;

/// The reference stack's alerts, in the session's run folder.
pub const STACK_LOG: &str = "reference-alerts.jsonl";
/// The policy's silence checks run at most once per this much telemetry time (as the stack's).
const TICK_MS: i64 = 5_000;

/// The policy as a sink.
pub struct StackSink {
    policy: Policy,
    dir: Arc<Directory>,
    shared: Arc<Shared>,
    log: Option<MessageLog>,
    count: u32,
    last_tick: i64,
}

impl StackSink {
    /// A fresh policy of `kind`, logging into `out` (the log is started afresh).
    pub fn new(
        kind: PolicyKind,
        dir: Arc<Directory>,
        shared: Arc<Shared>,
        out: &Path,
    ) -> std::io::Result<Self> {
        Ok(Self {
            policy: Policy::new(kind),
            dir,
            shared,
            log: Some(MessageLog::create(&out.join(STACK_LOG))?),
            count: 0,
            last_tick: i64::MIN,
        })
    }

    fn reading(&self, f: &Forwarded) -> ReadingIn {
        let r = &f.reading;
        let d = self.dir.device(r.device);
        let receivers = &self.dir.receivers;
        ReadingIn {
            device: d.id.clone(),
            patient: d.patient.map(|p| self.dir.patient(p).id.clone()),
            ts_ms: r.device_ms,
            battery_pct: f64::from(r.battery_pct),
            obs: r
                .observations()
                .iter()
                .map(|o| {
                    (
                        o.metric.name().to_string(),
                        o.value.map(f64::from),
                        o.status.name().to_string(),
                    )
                })
                .collect(),
            receiver: r
                .observations()
                .iter()
                .find_map(|o| receivers.get(usize::from(o.source)).map(|x| x.id.clone())),
            ward: Some(d.ward.clone()),
        }
    }
}

impl RecordSink for StackSink {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        let Some(rows) = batch.get::<Forwarded>() else {
            return Ok(());
        };
        let mut out = Vec::new();
        let mut arrivals = Vec::new();
        for f in rows {
            let r = self.reading(f);
            let before = out.len();
            self.policy.set_clock(f.forwarded_ms);
            self.policy.on_reading(&r, &mut out);
            if f.forwarded_ms.saturating_sub(self.last_tick) >= TICK_MS {
                self.last_tick = f.forwarded_ms;
                self.policy.tick(&mut out);
            }
            arrivals.extend(std::iter::repeat_n(f.forwarded_ms, out.len() - before));
        }
        if out.is_empty() {
            return Ok(());
        }
        let mut m = self.shared.model();
        for (a, at) in out.into_iter().zip(arrivals) {
            self.count += 1;
            let alert = Alert {
                alert_id: format!("ref-{}", self.count),
                subject: a.subject.clone(),
                class: a.class.to_string(),
                priority: a.priority,
                began_ms: a.began_ms,
                device: a.device.clone(),
            };
            if let Some(log) = &mut self.log {
                let payload = encode_alert(&alert, &a.text, serde_json::json!({}));
                log.append(at, "reference/alerts", payload.as_bytes())?;
            }
            m.push_stack_alert(StackAlert {
                at_ms: at,
                subject: a.subject,
                class: a.class.to_string(),
                priority: a.priority,
                text: a.text,
                from: crate::model::AlertFrom::Reference,
            });
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<SinkReport, SinkError> {
        if let Some(log) = self.log.take() {
            log.finish()?;
        }
        Ok(SinkReport::default())
    }
}
