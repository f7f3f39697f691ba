//! Matching alerts to conditions (AAMI EC57 style: detections against reference events inside
//! tolerance windows). Rules, in the order they apply to each alert (taken in arrival order):
//!
//! 1. an alert that is not well-formed, names a class the scorer does not know, or a subject
//!    (patient, bed or device id) that is not in the run is **rejected**: counted and listed,
//!    never matched;
//! 2. it **detects** every condition of its class (or, for the silence classes, of any
//!    silence class: [`taxonomy::answers`]) and subject whose tolerance window holds its
//!    arrival and that no earlier alert detected (nested tiers can be detected together),
//!    **and whose severity tier its priority reaches** (a low-priority alert detects a low
//!    tier, not a medium or high one: a system is judged on escalating);
//! 3. if all such conditions were already detected, it is a **repeat**;
//! 4. if it matched conditions only by class, subject and time, and its priority is below the
//!    tier of every one not yet detected, it is **under-prioritised**: neither a detection nor
//!    false;
//! 5. if it falls only in the window of a transient condition, it is **don't care**;
//! 6. otherwise it is **false**; a false alert inside the window of an artifact on the same
//!    patient's devices that can mimic its class is **attributed** to that artifact.
//!
//! A condition nobody detected is **missed**, unless the run ended before the system had its
//! tolerance window after the onset: then it is **unknown**. Transient conditions are neither.

use std::collections::HashMap;

use wardtwin_sim::time::SimMillis;

use crate::model::{Alert, Condition, EntityKind, Inputs, Priority};
use crate::taxonomy::{self, ClassSpec};

/// Why an alert was not scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rejection {
    Malformed,
    /// Larger than the intake's payload limit (logged as its size only).
    Oversize,
    UnknownClass,
    UnknownSubject,
}

impl Rejection {
    pub fn name(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::Oversize => "oversize",
            Rejection::UnknownClass => "unknown_class",
            Rejection::UnknownSubject => "unknown_subject",
        }
    }
}

/// What one received alert turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertOutcome {
    Rejected(Rejection, String),
    /// Detected these conditions (indices into the inputs' conditions).
    Detection(Vec<usize>),
    /// Matched only conditions already detected.
    Repeat(usize),
    /// Matched conditions, but its priority is below the tier of those not yet detected.
    UnderPrioritised(usize),
    /// Matched only a transient condition.
    DontCare(usize),
    /// Matched nothing; attributed to this artifact (index), if any.
    False(Option<usize>),
}

/// The first alert that detected a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    /// Index of the alert in the inputs' alerts.
    pub alert: usize,
    pub arrival_ms: SimMillis,
    pub began_ms: SimMillis,
    pub priority: Priority,
}

/// What became of one condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionOutcome {
    Detected(Detection),
    Missed,
    Unknown,
    Transient,
}

/// The matcher's verdicts, index-aligned with the inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Matching {
    pub alerts: Vec<AlertOutcome>,
    pub conditions: Vec<ConditionOutcome>,
    /// Resolved patient of each alert (for per-patient tables), if any.
    pub alert_patients: Vec<Option<String>>,
}

/// An alert's subject, resolved through the run's directory.
struct Resolved {
    patient: Option<String>,
    device: Option<String>,
}

struct Directory<'a> {
    kinds: HashMap<&'a str, EntityKind>,
    /// Patient of a patient id, of a bed id (its occupant) and of a device id (its wearer).
    patient_of: HashMap<&'a str, &'a str>,
}

impl<'a> Directory<'a> {
    fn new(inputs: &'a Inputs) -> Self {
        let mut kinds = HashMap::new();
        let mut patient_of = HashMap::new();
        for e in &inputs.directory {
            kinds.insert(e.id.as_str(), e.kind);
            match e.kind {
                EntityKind::Patient => {
                    patient_of.insert(e.id.as_str(), e.id.as_str());
                    if let Some(b) = &e.bed {
                        patient_of.insert(b.as_str(), e.id.as_str());
                    }
                }
                EntityKind::Device => {
                    if let Some(p) = &e.patient {
                        patient_of.insert(e.id.as_str(), p.as_str());
                    }
                }
                EntityKind::Bed => {}
            }
        }
        Self { kinds, patient_of }
    }

    fn resolve(&self, a: &Alert) -> Result<Resolved, String> {
        let Some(kind) = self.kinds.get(a.subject.as_str()) else {
            return Err(format!(
                "subject {:?} is no patient, bed or device of this run",
                a.subject
            ));
        };
        let mut device = (*kind == EntityKind::Device).then(|| a.subject.clone());
        if let Some(d) = &a.device {
            if self.kinds.get(d.as_str()) != Some(&EntityKind::Device) {
                return Err(format!("device {d:?} is not a device of this run"));
            }
            device = Some(d.clone());
        }
        Ok(Resolved {
            patient: self
                .patient_of
                .get(a.subject.as_str())
                .map(|p| p.to_string()),
            device,
        })
    }
}

/// The tolerance window of a condition under `spec`, given when the run ended.
pub fn window(spec: &ClassSpec, c: &Condition, run_end: SimMillis) -> (SimMillis, SimMillis) {
    (
        c.onset_ms - spec.early_ms,
        c.end_ms.unwrap_or(run_end) + spec.late_ms,
    )
}

fn subject_matches(c: &Condition, r: &Resolved) -> bool {
    match (&c.device, &r.device) {
        (Some(cd), Some(ad)) => cd == ad,
        // A device condition, an alert naming only the patient: any of the patient's devices.
        (Some(_), None) => c.patient.is_some() && c.patient == r.patient,
        (None, _) => c.patient.is_some() && c.patient == r.patient,
    }
}

/// Matches every alert to conditions and artifacts (see the module doc).
pub fn match_alerts(inputs: &Inputs) -> Matching {
    let run_end = inputs.run.end_ms;
    let dir = Directory::new(inputs);
    // Conditions and artifacts by patient (or subject, for a device on nobody).
    let mut by_patient: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in inputs.conditions.iter().enumerate() {
        let key = c.patient.as_deref().unwrap_or(&c.subject);
        by_patient.entry(key).or_default().push(i);
    }
    let mut artifacts_by_patient: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, a) in inputs.artifacts.iter().enumerate() {
        let key = a.patient.as_deref().unwrap_or(&a.device);
        artifacts_by_patient.entry(key).or_default().push(i);
    }
    let mut order: Vec<usize> = (0..inputs.alerts.len()).collect();
    order.sort_by_key(|&i| (inputs.alerts[i].arrival_ms, inputs.alerts[i].line));

    let mut detected: Vec<Option<Detection>> = vec![None; inputs.conditions.len()];
    let mut outcomes = vec![AlertOutcome::False(None); inputs.alerts.len()];
    let mut alert_patients = vec![None; inputs.alerts.len()];
    for i in order {
        let rec = &inputs.alerts[i];
        let alert = match &rec.alert {
            Ok(a) => a,
            Err(why) => {
                let r = if why.starts_with(crate::model::OVERSIZE) {
                    Rejection::Oversize
                } else {
                    Rejection::Malformed
                };
                outcomes[i] = AlertOutcome::Rejected(r, why.clone());
                continue;
            }
        };
        let Some(spec) = taxonomy::class(&alert.class) else {
            outcomes[i] = AlertOutcome::Rejected(
                Rejection::UnknownClass,
                format!(
                    "class {:?} is not one of: {}",
                    alert.class,
                    taxonomy::class_names().join(", ")
                ),
            );
            continue;
        };
        let resolved = match dir.resolve(alert) {
            Ok(r) => r,
            Err(why) => {
                outcomes[i] = AlertOutcome::Rejected(Rejection::UnknownSubject, why);
                continue;
            }
        };
        alert_patients[i] = resolved.patient.clone();
        let key = resolved
            .patient
            .as_deref()
            .or(resolved.device.as_deref())
            .unwrap_or(&alert.subject);
        let t = rec.arrival_ms;
        let candidates: Vec<usize> = by_patient
            .get(key)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&c| {
                let cond = &inputs.conditions[c];
                if !taxonomy::answers(&alert.class, &cond.class) {
                    return false;
                }
                let spec = taxonomy::class(&cond.class).unwrap_or(spec);
                let (lo, hi) = window(spec, cond, run_end);
                lo <= t && t <= hi && subject_matches(cond, &resolved)
            })
            .collect();
        let scored = || {
            candidates
                .iter()
                .copied()
                .filter(|&c| !inputs.conditions[c].transient)
        };
        let reaches =
            |c: usize| alert.priority >= Priority::for_severity(inputs.conditions[c].severity);
        let fresh: Vec<usize> = scored()
            .filter(|&c| detected[c].is_none() && reaches(c))
            .collect();
        outcomes[i] = if !fresh.is_empty() {
            for &c in &fresh {
                detected[c] = Some(Detection {
                    alert: i,
                    arrival_ms: t,
                    began_ms: alert.began_ms,
                    priority: alert.priority,
                });
            }
            AlertOutcome::Detection(fresh)
        } else if let Some(c) = scored().find(|&c| detected[c].is_some() && reaches(c)) {
            AlertOutcome::Repeat(c)
        } else if let Some(c) = scored().next() {
            AlertOutcome::UnderPrioritised(c)
        } else if let Some(&c) = candidates.first() {
            AlertOutcome::DontCare(c)
        } else {
            let artifact = artifacts_by_patient
                .get(key)
                .into_iter()
                .flatten()
                .copied()
                .find(|&a| {
                    let art = &inputs.artifacts[a];
                    spec.mimicked(&art.device_kind, &art.kind)
                        && resolved.device.as_ref().is_none_or(|d| {
                            // An alert naming a device is only excused by that device's artifact.
                            *d == art.device
                        })
                        && art.start_ms - spec.early_ms <= t
                        && t <= art.end_ms + spec.late_ms
                });
            AlertOutcome::False(artifact)
        };
    }
    let conditions = inputs
        .conditions
        .iter()
        .zip(&detected)
        .map(|(c, d)| match d {
            _ if c.transient => ConditionOutcome::Transient,
            Some(d) => ConditionOutcome::Detected(*d),
            None => {
                let late = taxonomy::class(&c.class).map_or(0, |s| s.late_ms);
                if c.onset_ms + late > run_end {
                    ConditionOutcome::Unknown
                } else {
                    ConditionOutcome::Missed
                }
            }
        })
        .collect();
    Matching {
        alerts: outcomes,
        conditions,
        alert_patients,
    }
}
