//! The trainee as a system under test: each escalation from the central station is an alert in
//! schema v1, logged in the run folder's `alerts.jsonl` exactly as a system's alerts arrive
//! over MQTT (arrival stamped in simulation time), so the session is scored by the same
//! scorer (`wardtwin score RUN`) with the same scorecard vendors get.

use std::path::Path;

use anyhow::{Context, Result};
use wardtwin_exporters::runfolder::ALERTS_LOG;
use wardtwin_exporters::wire::alerts::{MessageLog, encode_alert};
use wardtwin_scenarios::Scenario;
use wardtwin_scoring::model::{Alert, Priority};
use wardtwin_sim::time::{SimMillis, format_iso_ms};

/// The topic a trainee's alerts are logged under.
pub const TRAINEE_TOPIC: &str = "trainee/escalations";

/// What a trainee can escalate, as the alert class it is scored under.
pub const CLASSES: [(&str, &str); 10] = [
    ("deterioration", "deterioration"),
    ("desaturation", "desaturation"),
    ("arrhythmia: asystole", "asystole"),
    ("arrhythmia: VF", "ventricular_flutter_fib"),
    ("arrhythmia: VT", "ventricular_tachycardia"),
    ("arrhythmia: AF", "atrial_fibrillation"),
    ("tachycardia", "extreme_tachycardia"),
    ("bradycardia", "extreme_bradycardia"),
    ("monitoring lost", "monitoring_lost"),
    ("low battery", "low_battery"),
];

/// One escalation.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    /// Patient, bed or device id.
    pub subject: String,
    /// An alert class (docs/scoring.md).
    pub class: String,
    pub priority: Priority,
    pub device: Option<String>,
    /// What the trainee saw (free text, kept in the alert's `text`).
    pub note: String,
}

/// The session's escalations, written as they happen.
pub struct TraineeLog {
    log: Option<MessageLog>,
    count: u32,
    name: String,
    /// What was escalated, for the debrief.
    pub escalated: Vec<crate::debrief::Escalated>,
}

impl TraineeLog {
    pub fn new(scenario: &Scenario) -> Self {
        Self {
            log: None,
            count: 0,
            name: scenario.name.clone(),
            escalated: Vec::new(),
        }
    }

    /// Logs an escalation at simulation time `now`; returns the line for the session's log.
    pub fn escalate(&mut self, e: &Escalation, now: SimMillis, out: &Path) -> Result<String> {
        if self.log.is_none() {
            let path = out.join(ALERTS_LOG);
            self.log = Some(
                MessageLog::create(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            );
        }
        self.count += 1;
        let alert = Alert {
            alert_id: format!("trainee-{}-{}", self.name, self.count),
            subject: e.subject.clone(),
            class: e.class.clone(),
            priority: e.priority,
            began_ms: now,
            device: e.device.clone(),
        };
        let payload = encode_alert(&alert, &e.note, serde_json::json!({ "by": "trainee" }));
        let log = self.log.as_mut().expect("created above");
        // Flushed at once: an escalation survives the program being killed.
        log.append(now, TRAINEE_TOPIC, payload.as_bytes())
            .and_then(|()| log.flush())
            .context("cannot append to alerts.jsonl")?;
        self.escalated.push(crate::debrief::Escalated {
            line: self.count as usize,
            at_ms: now,
            subject: e.subject.clone(),
            class: e.class.clone(),
            priority: e.priority.name(),
        });
        Ok(format!(
            "{}: escalated {} {} ({})",
            &format_iso_ms(now)[11..19],
            e.subject,
            e.class,
            e.priority.name()
        ))
    }

    /// Escalations so far.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Flushes the log.
    pub fn finish(&mut self) -> Result<()> {
        if let Some(log) = self.log.take() {
            log.finish().context("cannot finish alerts.jsonl")?;
        }
        Ok(())
    }
}
