//! Gates: pass/fail thresholds on scorecard figures, written in a scenario, that decide the exit
//! code of a run (so a CI pipeline fails when a score drops).
//!
//! Syntax: `METRIC[.CLASS[.SEVERITY]] OP VALUE`, e.g. `sensitivity.deterioration >= 0.9`,
//! `false_alerts_per_bed_day <= 2`, `latency_p90.deterioration.high <= "15m"`. Without a class
//! the figure is the overall one. OP is one of `>=`, `<=`, `>`, `<`, `==`. Latencies take a
//! duration (`"90s"`, `15m`), everything else a number. A gate whose figure has no value (a
//! sensitivity with no conditions to detect) fails: a gate that cannot be checked does not pass.

use serde::Serialize;
use wardtwin_sim::records::Fate;
use wardtwin_sim::time::{format_duration, parse_duration};

use crate::scorecard::{ClassScore, Scorecard, TierScore};
use crate::taxonomy;

/// The kind of value a metric has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ratio,
    Number,
    Duration,
}

/// `(name, kind, per class, per severity tier, description)`.
const METRICS: &[(&str, Kind, bool, bool, &str)] = &[
    (
        "sensitivity",
        Kind::Ratio,
        true,
        true,
        "detected / (detected + missed)",
    ),
    (
        "ppv",
        Kind::Ratio,
        true,
        false,
        "alerts matching a condition / scored alerts",
    ),
    (
        "false_alerts_per_bed_day",
        Kind::Number,
        true,
        false,
        "false alerts per bed per day",
    ),
    (
        "alerts_per_bed_day",
        Kind::Number,
        true,
        false,
        "scored alerts per bed per day",
    ),
    (
        "physionet_score",
        Kind::Ratio,
        true,
        false,
        "(TP+TN)/(TP+TN+FP+5 FN)",
    ),
    (
        "latency_p50",
        Kind::Duration,
        true,
        true,
        "median detection latency",
    ),
    (
        "latency_p90",
        Kind::Duration,
        true,
        true,
        "90th percentile detection latency",
    ),
    (
        "latency_max",
        Kind::Duration,
        true,
        true,
        "worst detection latency",
    ),
    (
        "cinc_score",
        Kind::Ratio,
        false,
        false,
        "PhysioNet/CinC 2015 score over its five arrhythmia classes; no value without them",
    ),
    ("missed", Kind::Number, true, true, "conditions missed"),
    ("false_alerts", Kind::Number, true, false, "false alerts"),
    (
        "rejected_alerts",
        Kind::Number,
        false,
        false,
        "malformed, oversize, unknown-class and unknown-subject alerts",
    ),
    (
        "completeness",
        Kind::Ratio,
        false,
        false,
        "ingestion echo: unique (device, seq) echoed / emitted",
    ),
    (
        "delivered",
        Kind::Ratio,
        false,
        false,
        "live runs: telemetry the broker took (acknowledged, or sent at QoS 0) / telemetry handed to the transport",
    ),
    (
        "backfill_completeness",
        Kind::Ratio,
        false,
        false,
        "drills: telemetry measured during the faults that was delivered, on time or late / produced",
    ),
    (
        "time_to_detect_p50",
        Kind::Duration,
        true,
        false,
        "drills: median time from a fault's start to the system's first silence alert (class: the faults expecting it); no value if a fault went undetected",
    ),
    (
        "time_to_detect_p90",
        Kind::Duration,
        true,
        false,
        "drills: 90th percentile time to detect",
    ),
    (
        "time_to_detect_max",
        Kind::Duration,
        true,
        false,
        "drills: worst time to detect",
    ),
    (
        "undetected_faults",
        Kind::Number,
        true,
        false,
        "drills: faults the system raised no silence alert for",
    ),
    (
        "conditions_detected_late",
        Kind::Number,
        false,
        false,
        "drills: clinical conditions during a fault detected only after its heal",
    ),
];

/// The `delivered` figure from counts by fate: telemetry a live transport took / telemetry
/// handed to it; `None` when nothing went to a live transport.
pub fn delivered_ratio(count: impl Fn(Fate) -> u64) -> Option<f64> {
    let live = Fate::ALL.into_iter().filter(|f| f.live());
    let total: u64 = live.clone().map(&count).sum();
    let ok: u64 = live.filter(|f| f.delivered_live()).map(&count).sum();
    (total > 0).then(|| ok as f64 / total as f64)
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "==")]
    Eq,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Ge => a >= b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Lt => a < b,
            Op::Eq => a == b,
        }
    }
}

/// A parsed gate.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub text: String,
    pub metric: &'static str,
    kind: Kind,
    pub class: Option<String>,
    pub severity: Option<String>,
    pub op: Op,
    /// The threshold; durations in ms.
    pub value: f64,
}

/// A gate that does not parse: where in its text, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GateError {
    /// Byte offset in the gate's text.
    pub offset: usize,
    pub message: String,
}

fn err(offset: usize, message: impl Into<String>) -> GateError {
    GateError {
        offset,
        message: message.into(),
    }
}

/// Parses one gate.
pub fn parse(text: &str) -> Result<Gate, GateError> {
    let lead = text.len() - text.trim_start().len();
    let body = text.trim();
    let ops = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("==", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
    ];
    let Some((at, sym, op)) = body.char_indices().find_map(|(i, _)| {
        ops.iter()
            .find(|(s, _)| body[i..].starts_with(s))
            .map(|(s, o)| (i, *s, *o))
    }) else {
        return Err(err(
            lead + body.len(),
            "expected a comparison: METRIC[.CLASS[.SEVERITY]] (>= | <= | > | < | ==) VALUE",
        ));
    };
    let lhs = body[..at].trim_end();
    let mut parts = lhs.split('.');
    let name = parts.next().unwrap_or("");
    let Some(&(metric, kind, per_class, per_tier, _)) = METRICS.iter().find(|m| m.0 == name) else {
        let names: Vec<&str> = METRICS.iter().map(|m| m.0).collect();
        return Err(err(
            lead,
            format!(
                "unknown metric {name:?}; expected one of: {}",
                names.join(", ")
            ),
        ));
    };
    let class = parts.next().map(str::to_string);
    let severity = parts.next().map(str::to_string);
    let class_at = lead + name.len() + 1;
    if let Some(c) = &class {
        if !per_class {
            return Err(err(class_at, format!("{metric} has no per-class figure")));
        }
        if taxonomy::class(c).is_none() {
            return Err(err(
                class_at,
                format!(
                    "unknown class {c:?}; expected one of: {}",
                    taxonomy::class_names().join(", ")
                ),
            ));
        }
    }
    if let Some(s) = &severity {
        let at = class_at + class.as_ref().map_or(0, |c| c.len() + 1);
        if !per_tier {
            return Err(err(at, format!("{metric} has no per-severity figure")));
        }
        if !["low", "medium", "high"].contains(&s.as_str()) {
            return Err(err(
                at,
                format!("unknown severity {s:?}; expected low, medium or high"),
            ));
        }
    }
    if parts.next().is_some() {
        return Err(err(lead, "expected at most METRIC.CLASS.SEVERITY"));
    }
    let rhs_at = lead + at + sym.len();
    let raw = body[at + sym.len()..].trim();
    let rhs_at =
        rhs_at + (body[at + sym.len()..].len() - body[at + sym.len()..].trim_start().len());
    let unquoted = raw.trim_matches('"');
    let value = match kind {
        Kind::Duration => parse_duration(unquoted).map(|ms| ms as f64).map_err(|e| {
            err(
                rhs_at,
                format!("{metric} takes a duration like \"15m\": {e}"),
            )
        })?,
        Kind::Ratio | Kind::Number => unquoted
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| err(rhs_at, format!("{metric} takes a number, not {raw:?}")))?,
    };
    if kind == Kind::Ratio && !(0.0..=1.0).contains(&value) {
        return Err(err(
            rhs_at,
            format!("{metric} is a ratio: expected a number from 0 to 1"),
        ));
    }
    Ok(Gate {
        text: body.to_string(),
        metric,
        kind,
        class,
        severity,
        op,
        value,
    })
}

impl Gate {
    /// Whether the gate holds for the figure `actual`.
    pub fn op_holds(&self, actual: f64) -> bool {
        self.op.holds(actual, self.value)
    }
}

/// The verdict on one gate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    pub gate: String,
    pub passed: bool,
    /// The figure (durations in ms); `None` if it has no value.
    pub actual: Option<f64>,
    /// `0.95 >= 0.9`, or why it could not be checked.
    pub detail: String,
}

fn class_figure(c: &ClassScore, metric: &str) -> Option<f64> {
    let ms = |v: Option<i64>| v.map(|x| x as f64);
    match metric {
        "sensitivity" => c.sensitivity,
        "ppv" => c.ppv,
        "false_alerts_per_bed_day" => Some(c.false_alerts_per_bed_day),
        "alerts_per_bed_day" => Some(c.alerts_per_bed_day),
        "physionet_score" => c.physionet_score,
        "latency_p50" => ms(c.latency_p50_ms),
        "latency_p90" => ms(c.latency_p90_ms),
        "latency_max" => ms(c.latency_max_ms),
        "missed" => Some(c.missed as f64),
        "false_alerts" => Some(c.false_alerts as f64),
        _ => None,
    }
}

fn tier_figure(t: &TierScore, metric: &str) -> Option<f64> {
    let ms = |v: Option<i64>| v.map(|x| x as f64);
    match metric {
        "sensitivity" => t.sensitivity,
        "latency_p50" => ms(t.latency_p50_ms),
        "latency_p90" => ms(t.latency_p90_ms),
        "latency_max" => ms(t.latency_max_ms),
        "missed" => Some(t.missed as f64),
        _ => None,
    }
}

/// The figure a gate looks at.
pub fn figure(card: &Scorecard, g: &Gate) -> Option<f64> {
    match g.metric {
        "rejected_alerts" => {
            let i = &card.intake;
            return Some((i.malformed + i.oversize + i.unknown_class + i.unknown_subject) as f64);
        }
        "completeness" => return card.ingestion.as_ref().and_then(|i| i.completeness),
        "delivered" => {
            return delivered_ratio(|f| card.delivery.get(f.name()).copied().unwrap_or(0));
        }
        "backfill_completeness" => return card.drill.as_ref()?.backfill_completeness,
        "cinc_score" => return card.cinc.as_ref()?.overall.score,
        "conditions_detected_late" => {
            return Some(card.drill.as_ref()?.conditions_detected_late as f64);
        }
        "time_to_detect_p50" | "time_to_detect_p90" | "time_to_detect_max"
        | "undetected_faults" => {
            let d = card.drill.as_ref()?.detection_of(g.class.as_deref())?;
            if g.metric == "undetected_faults" {
                return Some(d.undetected as f64);
            }
            if d.undetected > 0 {
                return None;
            }
            let v = match g.metric {
                "time_to_detect_p50" => d.time_to_detect_p50_ms,
                "time_to_detect_p90" => d.time_to_detect_p90_ms,
                _ => d.time_to_detect_max_ms,
            };
            return v.map(|x| x as f64);
        }
        _ => {}
    }
    let class = match &g.class {
        None => &card.overall,
        Some(c) => card.classes.iter().find(|s| &s.class == c)?,
    };
    match &g.severity {
        None => class_figure(class, g.metric),
        Some(s) => class
            .by_severity
            .iter()
            .find(|t| &t.severity == s)
            .and_then(|t| tier_figure(t, g.metric)),
    }
}

/// Why a gate's figure has no value.
fn no_value(card: &Scorecard, g: &Gate) -> String {
    if g.metric.starts_with("time_to_detect") {
        let undetected = card
            .drill
            .as_ref()
            .and_then(|d| d.detection_of(g.class.as_deref()))
            .map_or(0, |d| d.undetected);
        if undetected > 0 {
            return format!("no value: {undetected} fault(s) never detected");
        }
    }
    "no value: nothing to measure it on".to_string()
}

fn show(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Duration => format_duration(v as i64),
        _ => format!("{v}"),
    }
}

/// Evaluates `gates` against the scorecard and records the verdicts in it.
pub fn apply(card: &mut Scorecard, gates: &[Gate]) {
    card.gates = gates
        .iter()
        .map(|g| {
            let actual = figure(card, g);
            let (passed, detail) = match actual {
                None => (false, no_value(card, g)),
                Some(a) => {
                    let ok = g.op.holds(a, g.value);
                    let (a, sym, b) = (show(g.kind, a), g.op.symbol(), show(g.kind, g.value));
                    (ok, format!("{a} {sym} {b}"))
                }
            };
            GateResult {
                gate: g.text.clone(),
                passed,
                actual,
                detail,
            }
        })
        .collect();
    card.passed = card.gates.iter().all(|g| g.passed);
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Eq => "==",
        }
    }
}

/// The metrics gates can use, with what they mean (for docs and errors).
pub fn metric_names() -> Vec<(&'static str, &'static str)> {
    METRICS.iter().map(|m| (m.0, m.4)).collect()
}
