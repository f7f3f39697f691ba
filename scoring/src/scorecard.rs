//! From matched alerts to figures: the [`Scorecard`] (docs/scoring.md defines every figure).
//!
//! Per class, per severity tier and overall: sensitivity, positive predictive value, false and
//! all alerts per bed per day, detection latency p50/p90/max, the two IEC 60601-1-8 delays, the
//! PhysioNet/CinC 2015 score; a per-patient table (AAMI EC57 style); what the intake rejected;
//! what the transport lost; and, if the system echoed what it ingested, completeness.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use wardtwin_sim::conditions::Severity;

use crate::gates::GateResult;
use crate::matcher::{AlertOutcome, ConditionOutcome, Matching, Rejection, match_alerts};
use crate::model::{Inputs, Priority, RunInfo};
use crate::taxonomy::{self, ClassSpec};

/// The scorecard's format name.
pub const FORMAT: &str = "wardtwin-scorecard/v1";
/// Rejected alerts listed one by one (the rest are counted).
pub const LISTED: usize = 100;

/// Figures of one class (or of all classes: `class = "all"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClassScore {
    pub class: String,
    pub domain: String,
    /// Conditions that count: detected + missed + unknown.
    pub conditions: u64,
    pub detected: u64,
    pub missed: u64,
    pub unknown: u64,
    /// Too short to be expected ("don't care"); not in any figure.
    pub transient: u64,
    /// Scored alerts of this class (rejected ones are in the intake section).
    pub alerts: u64,
    /// Alerts that detected at least one condition.
    pub true_alerts: u64,
    /// Alerts that matched only conditions already detected.
    pub repeats: u64,
    /// Alerts that matched conditions whose tier their priority did not reach.
    pub under_prioritised: u64,
    /// Alerts inside the window of a transient condition only.
    pub dont_care: u64,
    pub false_alerts: u64,
    /// Of the false alerts, those attributed to a recorded artifact.
    pub false_during_artifact: u64,
    /// Recorded artifacts that could mimic this class, and those no alert of it fell for.
    pub artifacts: u64,
    pub true_negatives: u64,
    pub sensitivity: Option<f64>,
    pub ppv: Option<f64>,
    pub alerts_per_bed_day: f64,
    pub false_alerts_per_bed_day: f64,
    /// `(TP + TN) / (TP + TN + FP + 5·FN)`.
    pub physionet_score: Option<f64>,
    /// Detection latency: first detecting alert's arrival minus the true onset (0 if earlier).
    pub latency_p50_ms: Option<i64>,
    pub latency_p90_ms: Option<i64>,
    pub latency_max_ms: Option<i64>,
    /// Alarm condition delay: the system's stated start minus the true onset.
    pub condition_delay_p50_ms: Option<i64>,
    pub condition_delay_p90_ms: Option<i64>,
    /// Alarm signal generation delay: arrival minus the system's stated start.
    pub signal_delay_p50_ms: Option<i64>,
    pub signal_delay_p90_ms: Option<i64>,
    /// Detections whose alert priority is the one the condition's severity calls for.
    pub priority_agreement: Option<f64>,
    /// The same condition figures per severity tier.
    pub by_severity: Vec<TierScore>,
}

/// Condition-side figures of one severity tier of a class.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TierScore {
    pub severity: String,
    pub conditions: u64,
    pub detected: u64,
    pub missed: u64,
    pub unknown: u64,
    pub transient: u64,
    pub sensitivity: Option<f64>,
    pub latency_p50_ms: Option<i64>,
    pub latency_p90_ms: Option<i64>,
    pub latency_max_ms: Option<i64>,
}

/// One row of the per-patient table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PatientScore {
    pub patient: String,
    pub bed: Option<String>,
    pub conditions: u64,
    pub detected: u64,
    pub missed: u64,
    pub unknown: u64,
    pub alerts: u64,
    pub false_alerts: u64,
    pub false_during_artifact: u64,
    pub sensitivity: Option<f64>,
    pub ppv: Option<f64>,
}

/// One condition and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConditionRow {
    pub id: u32,
    pub class: String,
    pub severity: String,
    pub subject: String,
    pub patient: Option<String>,
    pub onset_ms: i64,
    pub end_ms: Option<i64>,
    /// `detected`, `missed`, `unknown`, or `dont_care` (a transient condition: real, shorter
    /// than its rule's minimum, not expected to be alerted on).
    pub outcome: &'static str,
    /// The detecting alert's line in the alerts stream.
    pub alert_line: Option<usize>,
    pub latency_ms: Option<i64>,
    /// A clinical condition going on while its patient's data could not arrive (a data gap
    /// of one of their devices, or their ward's gateway offline, in the ledger): its latency
    /// is the outage's as much as the system's.
    pub during_outage: bool,
}

/// One rejected alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedAlert {
    pub line: usize,
    pub arrival_ms: i64,
    pub reason: &'static str,
    pub message: String,
    pub excerpt: String,
}

/// What came in on the alerts topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Intake {
    pub received: u64,
    pub scored: u64,
    pub malformed: u64,
    /// Payloads over the intake's size limit (64 KiB), logged as their size only.
    pub oversize: u64,
    pub unknown_class: u64,
    pub unknown_subject: u64,
    /// Alerts reusing an `alert_id` already seen (each is still scored).
    pub duplicate_ids: u64,
    /// The first [`LISTED`] rejected alerts.
    pub rejected: Vec<RejectedAlert>,
}

/// Ingestion echo figures: what the system says it ingested against what the twin sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ingestion {
    /// Emissions that left the twin (not `unsent` or `dropped`).
    pub expected: u64,
    pub echoed_unique: u64,
    pub duplicates: u64,
    /// Echoes of a (device, seq) the twin never emitted.
    pub unknown: u64,
    pub malformed: u64,
    pub completeness: Option<f64>,
    pub ingest_delay_p50_ms: Option<i64>,
    pub ingest_delay_p90_ms: Option<i64>,
    pub ingest_delay_max_ms: Option<i64>,
}

/// Whether a run can grade its system under test (docs/scoring.md, "Invalid runs"): loss or
/// lag between the twin and the system that the scenario did not schedule makes it invalid.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Validity {
    pub valid: bool,
    /// `free`, `clock` or `lockstep`.
    pub sync: String,
    /// Telemetry that left the twin and that the system says it ingested (its echo); `None`
    /// without an echo: unknown.
    pub completeness: Option<f64>,
    /// Ingestion lag (echo arrival − measurement, simulation time).
    pub lag_p50_ms: Option<i64>,
    pub lag_p99_ms: Option<i64>,
    pub lag_max_ms: Option<i64>,
    /// Lockstep sync points at which the system did not acknowledge in time.
    pub stalls: u64,
    /// Why the run is invalid (empty when valid).
    pub causes: Vec<String>,
}

/// The PhysioNet/CinC 2015 challenge's score, `(TP + TN) / (TP + TN + FP + 5·FN)`: TP the
/// conditions detected, FN those missed, FP the false alerts, TN the recorded artifacts that
/// could mimic the class and that no alert of it fell for (the false alarms a good system
/// suppresses).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cinc {
    /// `[class, TP, TN, FP, FN, score]` per class, in the challenge's order.
    pub classes: Vec<CincClass>,
    pub overall: CincClass,
    /// The challenge's best real-time entry, for comparison (Plesinger et al. 2015).
    pub published_best_realtime: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CincClass {
    pub class: String,
    pub tp: u64,
    pub tn: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// `None` with nothing to score.
    pub score: Option<f64>,
}

impl CincClass {
    fn of(class: &str, tp: u64, tn: u64, fp: u64, fn_: u64) -> Self {
        Self {
            class: class.to_string(),
            tp,
            tn,
            fp,
            fn_,
            score: ratio(tp + tn, tp + tn + fp + 5 * fn_),
        }
    }
}

/// The best real-time score of PhysioNet/CinC 2015 (81.39 of 100).
pub const CINC_BEST_REALTIME: f64 = 0.8139;

/// The CinC section, if the run has any of its classes' conditions or alerts.
fn cinc(classes: &[ClassScore]) -> Option<Cinc> {
    let rows: Vec<&ClassScore> = taxonomy::CINC_CLASSES
        .iter()
        .filter_map(|n| classes.iter().find(|c| c.class == *n))
        .collect();
    if rows
        .iter()
        .all(|c| c.conditions == 0 && c.alerts == 0 && c.transient == 0)
    {
        return None;
    }
    let per: Vec<CincClass> = rows
        .iter()
        .map(|c| {
            CincClass::of(
                &c.class,
                c.detected,
                c.true_negatives,
                c.false_alerts,
                c.missed,
            )
        })
        .collect();
    let sum = |f: fn(&CincClass) -> u64| per.iter().map(f).sum::<u64>();
    let overall = CincClass::of(
        "all",
        sum(|c| c.tp),
        sum(|c| c.tn),
        sum(|c| c.fp),
        sum(|c| c.fn_),
    );
    Some(Cinc {
        classes: per,
        overall,
        published_best_realtime: CINC_BEST_REALTIME,
    })
}

/// The scorecard (docs/scoring.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    pub format: &'static str,
    pub run: RunInfo,
    pub bed_days: f64,
    pub overall: ClassScore,
    pub classes: Vec<ClassScore>,
    pub patients: Vec<PatientScore>,
    pub conditions: Vec<ConditionRow>,
    pub intake: Intake,
    /// Emissions by fate (the twin's ledger): what the transport delivered and lost.
    pub delivery: BTreeMap<String, u64>,
    pub ingestion: Option<Ingestion>,
    /// Whether the system was fed what the scenario meant it to get: the figures above grade
    /// the system only when `validity.valid` holds.
    pub validity: Validity,
    pub tolerances: Vec<ClassSpec>,
    /// Runs with faults: each fault judged (docs/scoring.md, "Drills").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drill: Option<crate::drill::DrillSection>,
    /// Runs with arrhythmias (or arrhythmia alerts): the PhysioNet/CinC 2015 score of each of
    /// its five classes and over them all (docs/scoring.md, "Arrhythmias").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cinc: Option<Cinc>,
    pub gates: Vec<GateResult>,
    /// Every gate passed (true when there are none).
    pub passed: bool,
    /// What the reader must know before trusting the figures.
    pub warnings: Vec<String>,
}

/// The warning when alert collection was cut off.
pub const CUT_OFF_WARNING: &str = "alert collection ended at its time limit while alerts were still arriving: \
     the system under test may have sent alerts that were not scored (raise --alerts-grace)";

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Ratios are rounded to 4 decimals: enough for any gate, stable to read.
pub fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| round4(num as f64 / den as f64))
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[derive(Default)]
struct Acc {
    score: ClassScore,
    latency: Vec<i64>,
    condition_delay: Vec<i64>,
    signal_delay: Vec<i64>,
    priority_ok: u64,
    tiers: BTreeMap<Severity, (TierScore, Vec<i64>)>,
}

impl Acc {
    fn finish(mut self, bed_days: f64) -> ClassScore {
        let s = &mut self.score;
        for v in [
            &mut self.latency,
            &mut self.condition_delay,
            &mut self.signal_delay,
        ] {
            v.sort_unstable();
        }
        s.sensitivity = ratio(s.detected, s.detected + s.missed);
        let matched = s.true_alerts + s.repeats + s.under_prioritised;
        s.ppv = ratio(matched, matched + s.false_alerts);
        let per_day = |n: u64| {
            if bed_days > 0.0 {
                round4(n as f64 / bed_days)
            } else {
                0.0
            }
        };
        s.alerts_per_bed_day = per_day(s.alerts);
        s.false_alerts_per_bed_day = per_day(s.false_alerts);
        let (tp, tn, fp, fn_) = (s.detected, s.true_negatives, s.false_alerts, s.missed);
        s.physionet_score = ratio(tp + tn, tp + tn + fp + 5 * fn_);
        s.latency_p50_ms = percentile(&self.latency, 50.0);
        s.latency_p90_ms = percentile(&self.latency, 90.0);
        s.latency_max_ms = self.latency.last().copied();
        s.condition_delay_p50_ms = percentile(&self.condition_delay, 50.0);
        s.condition_delay_p90_ms = percentile(&self.condition_delay, 90.0);
        s.signal_delay_p50_ms = percentile(&self.signal_delay, 50.0);
        s.signal_delay_p90_ms = percentile(&self.signal_delay, 90.0);
        s.priority_agreement = ratio(self.priority_ok, s.detected);
        s.by_severity = self
            .tiers
            .into_values()
            .map(|(mut t, mut lat)| {
                lat.sort_unstable();
                t.sensitivity = ratio(t.detected, t.detected + t.missed);
                t.latency_p50_ms = percentile(&lat, 50.0);
                t.latency_p90_ms = percentile(&lat, 90.0);
                t.latency_max_ms = lat.last().copied();
                t
            })
            .collect();
        self.score
    }
}

/// Scores `inputs`; gates are evaluated separately ([`crate::gates::apply`]).
pub fn score(inputs: &Inputs) -> Scorecard {
    let m = match_alerts(inputs);
    score_matched(inputs, &m)
}

/// [`score`] with a matching already made.
pub fn score_matched(inputs: &Inputs, m: &Matching) -> Scorecard {
    let bed_days = inputs.run.bed_days();
    let mut classes: BTreeMap<&str, Acc> = BTreeMap::new();
    let mut all = Acc::default();
    let mut patients: BTreeMap<String, PatientScore> = BTreeMap::new();
    for e in &inputs.directory {
        if e.kind == crate::model::EntityKind::Patient {
            patients.insert(
                e.id.clone(),
                PatientScore {
                    patient: e.id.clone(),
                    bed: e.bed.clone(),
                    ..Default::default()
                },
            );
        }
    }
    let spec_of = |class: &str| taxonomy::class(class);
    let mut rows = Vec::new();
    let outage = crate::drill::during_outage(inputs);

    // Conditions.
    for (c, outcome) in inputs.conditions.iter().zip(&m.conditions) {
        let acc = classes
            .entry(spec_of(&c.class).map_or("", |s| s.name))
            .or_default();
        let p = c.patient.as_ref().and_then(|p| patients.get_mut(p));
        for a in [&mut *acc, &mut all] {
            let (tier, lat) = a.tiers.entry(c.severity).or_default();
            tier.severity = c.severity.name().to_string();
            match outcome {
                ConditionOutcome::Transient => {
                    a.score.transient += 1;
                    tier.transient += 1;
                }
                ConditionOutcome::Missed => {
                    a.score.missed += 1;
                    tier.missed += 1;
                }
                ConditionOutcome::Unknown => {
                    a.score.unknown += 1;
                    tier.unknown += 1;
                }
                ConditionOutcome::Detected(d) => {
                    a.score.detected += 1;
                    tier.detected += 1;
                    let latency = (d.arrival_ms - c.onset_ms).max(0);
                    a.latency.push(latency);
                    lat.push(latency);
                    a.condition_delay.push(d.began_ms - c.onset_ms);
                    a.signal_delay.push(d.arrival_ms - d.began_ms);
                    if d.priority == Priority::for_severity(c.severity) {
                        a.priority_ok += 1;
                    }
                }
            }
            if !matches!(outcome, ConditionOutcome::Transient) {
                a.score.conditions += 1;
                tier.conditions += 1;
            }
        }
        if let Some(p) = p {
            match outcome {
                ConditionOutcome::Detected(_) => p.detected += 1,
                ConditionOutcome::Missed => p.missed += 1,
                ConditionOutcome::Unknown => p.unknown += 1,
                ConditionOutcome::Transient => {}
            }
            if !matches!(outcome, ConditionOutcome::Transient) {
                p.conditions += 1;
            }
        }
        let (name, line, latency) = match outcome {
            ConditionOutcome::Transient => ("dont_care", None, None),
            ConditionOutcome::Missed => ("missed", None, None),
            ConditionOutcome::Unknown => ("unknown", None, None),
            ConditionOutcome::Detected(d) => (
                "detected",
                Some(inputs.alerts[d.alert].line),
                Some((d.arrival_ms - c.onset_ms).max(0)),
            ),
        };
        rows.push(ConditionRow {
            id: c.id,
            class: c.class.clone(),
            severity: c.severity.name().to_string(),
            subject: c.subject.clone(),
            patient: c.patient.clone(),
            onset_ms: c.onset_ms,
            end_ms: c.end_ms,
            outcome: name,
            alert_line: line,
            latency_ms: latency,
            during_outage: outage[rows.len()],
        });
    }

    // Alerts.
    let mut intake = Intake {
        received: inputs.alerts.len() as u64,
        ..Default::default()
    };
    let mut ids = HashSet::new();
    let mut attributed: HashMap<usize, HashSet<&str>> = HashMap::new();
    for (i, (rec, outcome)) in inputs.alerts.iter().zip(&m.alerts).enumerate() {
        if let AlertOutcome::Rejected(why, message) = outcome {
            match why {
                Rejection::Malformed => intake.malformed += 1,
                Rejection::Oversize => intake.oversize += 1,
                Rejection::UnknownClass => intake.unknown_class += 1,
                Rejection::UnknownSubject => intake.unknown_subject += 1,
            }
            if intake.rejected.len() < LISTED {
                intake.rejected.push(RejectedAlert {
                    line: rec.line,
                    arrival_ms: rec.arrival_ms,
                    reason: why.name(),
                    message: message.clone(),
                    excerpt: rec.excerpt.clone(),
                });
            }
            continue;
        }
        let Ok(alert) = &rec.alert else { continue };
        intake.scored += 1;
        if !ids.insert(alert.alert_id.as_str()) {
            intake.duplicate_ids += 1;
        }
        let acc = classes
            .entry(spec_of(&alert.class).map_or("", |s| s.name))
            .or_default();
        let p = m.alert_patients[i]
            .as_ref()
            .and_then(|p| patients.get_mut(p));
        for a in [&mut *acc, &mut all] {
            let s = &mut a.score;
            s.alerts += 1;
            match outcome {
                AlertOutcome::Detection(_) => s.true_alerts += 1,
                AlertOutcome::Repeat(_) => s.repeats += 1,
                AlertOutcome::UnderPrioritised(_) => s.under_prioritised += 1,
                AlertOutcome::DontCare(_) => s.dont_care += 1,
                AlertOutcome::False(art) => {
                    s.false_alerts += 1;
                    if art.is_some() {
                        s.false_during_artifact += 1;
                    }
                }
                AlertOutcome::Rejected(..) => {}
            }
        }
        if let Some(p) = p {
            p.alerts += 1;
            if let AlertOutcome::False(art) = outcome {
                p.false_alerts += 1;
                p.false_during_artifact += u64::from(art.is_some());
            }
        }
        if let AlertOutcome::False(Some(a)) = outcome {
            attributed
                .entry(*a)
                .or_default()
                .insert(alert.class.as_str());
        }
    }

    // Artifacts: true negatives are artifacts no alert of the class fell for.
    for (i, art) in inputs.artifacts.iter().enumerate() {
        let fell = attributed.get(&i);
        let mut any = false;
        for spec in taxonomy::CLASSES {
            if spec.mimicked(&art.device_kind, &art.kind) {
                any = true;
                let acc = classes.entry(spec.name).or_default();
                acc.score.artifacts += 1;
                if !fell.is_some_and(|f| f.contains(spec.name)) {
                    acc.score.true_negatives += 1;
                }
            }
        }
        if any {
            all.score.artifacts += 1;
            if fell.is_none() {
                all.score.true_negatives += 1;
            }
        }
    }

    // Every known class gets a row, in taxonomy order, even with nothing in it.
    let classes: Vec<ClassScore> = taxonomy::CLASSES
        .iter()
        .map(|spec| {
            let mut acc = classes.remove(spec.name).unwrap_or_default();
            acc.score.class = spec.name.to_string();
            acc.score.domain = spec.domain.to_string();
            acc.finish(bed_days)
        })
        .collect();
    all.score.class = "all".into();
    all.score.domain = "all".into();
    let overall = all.finish(bed_days);
    let patients = patients
        .into_values()
        .map(|mut p| {
            p.sensitivity = ratio(p.detected, p.detected + p.missed);
            p.ppv = ratio(p.alerts - p.false_alerts, p.alerts);
            p
        })
        .collect();

    let ingested = inputs
        .echo
        .as_ref()
        .map(|(e, em)| ingestion_with_lags(e, em));
    let mut delivery: BTreeMap<String, u64> = BTreeMap::new();
    for (fate, n) in &inputs.fates {
        *delivery.entry(fate.name().to_string()).or_default() += n;
    }
    let cinc = cinc(&classes);
    Scorecard {
        cinc,
        format: FORMAT,
        run: inputs.run.clone(),
        bed_days: round4(bed_days),
        overall,
        classes,
        patients,
        conditions: rows,
        intake,
        delivery,
        validity: validity(inputs, ingested.as_ref()),
        ingestion: ingested.map(|(i, _)| i),
        tolerances: taxonomy::CLASSES.to_vec(),
        drill: crate::drill::drill(inputs, m),
        gates: Vec::new(),
        passed: true,
        warnings: if inputs.collection_cut_off {
            vec![CUT_OFF_WARNING.to_string()]
        } else {
            Vec::new()
        },
    }
}

/// The largest ingestion lag (p99, simulation time) a graded run may have: past it, the
/// system's detection latencies are the harness's backlog, not its own. A lock-stepped system
/// lags at most one sync interval.
pub const MAX_LAG_MS: i64 = 60_000;

/// Whether the system was fed: its echo covers everything that left the twin, promptly, and it
/// kept up with lockstep.
fn validity(inputs: &Inputs, ingested: Option<&(Ingestion, Vec<i64>)>) -> Validity {
    let mut v = Validity {
        sync: inputs
            .sync
            .as_ref()
            .map_or_else(|| "free".to_string(), |s| s.mode.clone()),
        ..Validity::default()
    };
    if let Some((ing, lags)) = ingested {
        v.completeness = ing.completeness;
        v.lag_p50_ms = percentile(lags, 50.0);
        v.lag_p99_ms = percentile(lags, 99.0);
        v.lag_max_ms = lags.last().copied();
        if ing.echoed_unique < ing.expected {
            v.causes.push(format!(
                "the system ingested {} of the {} telemetry messages that left the twin \
                 (completeness {}): the rest was lost between the twin and the system (a broker \
                 discarding for a slow subscriber, or the system dropping), which no scenario \
                 fault scheduled; couple it with --sync lockstep, or run slower",
                ing.echoed_unique,
                ing.expected,
                ing.completeness
                    .map_or("-".to_string(), |c| format!("{c:.4}"))
            ));
        }
    }
    if let Some(p99) = v.lag_p99_ms.filter(|l| *l > MAX_LAG_MS) {
        v.causes.push(format!(
            "the system ingested telemetry up to {} behind the twin (p99 of the lag after it \
             left the twin; at most {} is graded): at this speed its latencies would be the \
             harness's backlog, not its own; couple it with --sync lockstep, or run slower",
            wardtwin_sim::time::format_duration(p99),
            wardtwin_sim::time::format_duration(MAX_LAG_MS)
        ));
    }
    if let Some((jumps, subs)) = inputs.broker_discards.as_ref().filter(|d| d.0 > 0) {
        v.causes.push(format!(
            "the embedded broker discarded messages for a subscriber that fell behind ({jumps} \
             time(s); {}): couple the system with --sync lockstep, or run slower",
            subs.join(", ")
        ));
    }
    if let Some(s) = inputs.sync.as_ref().filter(|s| s.stalls > 0) {
        v.stalls = s.stalls;
        v.causes.push(format!(
            "the system stalled at {} of {} lockstep sync points (first at {}): its alerts \
             after a stall are not stamped with the clock they answered (sync.json)",
            s.stalls,
            s.clocks,
            s.first_stall.as_deref().unwrap_or("?")
        ));
    }
    v.valid = v.causes.is_empty();
    v
}

/// Ingestion figures, and every unique echo's lag behind the moment its telemetry left the
/// twin (sorted): a scheduled outage's spool time is the twin's, not the lag's.
fn ingestion_with_lags(
    echo: &crate::model::EchoStream,
    emissions: &[crate::model::Emission],
) -> (Ingestion, Vec<i64>) {
    // What left the twin towards the system: not lost on the radio, in a gateway or a spool.

    let sent: HashMap<(&str, u32), (i64, i64)> = emissions
        .iter()
        .map(|e| {
            let left = e.forwarded_ms.unwrap_or(e.sim_ms);
            ((e.device.as_str(), e.seq), (e.sim_ms, left))
        })
        .collect();
    let expected = emissions.iter().filter(|e| e.fate.left_the_twin()).count() as u64;
    let mut seen = HashSet::new();
    let mut delays = Vec::new();
    let mut lags = Vec::new();
    let mut out = Ingestion {
        expected,
        malformed: echo.malformed,
        ..Default::default()
    };
    for e in &echo.echoes {
        let key = (e.device.as_str(), e.seq);
        match sent.get(&key) {
            None => out.unknown += 1,
            Some((t, left)) => {
                if seen.insert(key) {
                    out.echoed_unique += 1;
                    delays.push(e.arrival_ms - t);
                    lags.push(e.arrival_ms - left);
                } else {
                    out.duplicates += 1;
                }
            }
        }
    }
    delays.sort_unstable();
    out.completeness = ratio(out.echoed_unique, expected);
    out.ingest_delay_p50_ms = percentile(&delays, 50.0);
    out.ingest_delay_p90_ms = percentile(&delays, 90.0);
    out.ingest_delay_max_ms = delays.last().copied();
    lags.sort_unstable();
    (out, lags)
}
