//! The drill section: for each fault of the run, what the receiving side got, lost and got
//! late, how soon the system under test noticed, and what became of the clinical conditions
//! that were going on meanwhile (docs/scoring.md, "Drills").
//!
//! A fault affects the devices of its ward (all but RTLS tags, which move between wards), or
//! its one device, or (a broker outage or restart) every device of the site. Its window runs from its start to its heal (the run's end if it never
//! healed). Figures:
//!
//! - **emissions** of the affected devices measured inside the window: delivered on time,
//!   delivered late (forwarded after they were measured: backfilled), lost (by fate);
//!   **backfill completeness** = delivered (on time or late) / produced; **time to backfill**
//!   of each late delivery forwarded after the heal = forwarded − heal (p50, p90, max);
//! - at the consumer, from the ingestion echo when the system sends one: **duplicates** and
//!   **out-of-order** arrivals of the affected devices' readings;
//! - **time to detect** = the arrival of the system's first silence alert
//!   (`monitoring_lost`, `data_gap`, `gateway_offline`; for a battery wave also
//!   `low_battery`) naming an affected device, patient or bed, or the fault's gateway, from the
//!   fault's start to 5 min after its heal, minus the fault's start; 0 if the system was
//!   already raising the gateway's `gateway_offline` when the fault began (a power loss
//!   during an uplink outage). Each fault has the class a good system raises (`expected`): a whole
//!   gateway silenced is `gateway_offline` (every gateway, for the broker), receivers down and
//!   a device out of coverage are `data_gap`, flattened batteries are `monitoring_lost`; a
//!   clock step or drift, interference and a degraded uplink silence nothing and expect none;
//! - **clinical conditions** of affected patients that were going on during the window:
//!   detected before the heal, detected only after it (late because of the fault), missed.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use wardtwin_sim::records::Fate;
use wardtwin_sim::time::SimMillis;

use crate::matcher::{AlertOutcome, ConditionOutcome, Matching};
use crate::model::{Emission, Entity, EntityKind, Fault, Inputs};
use crate::scorecard::{percentile, ratio};
use crate::taxonomy;

/// How long after a heal a system's silence alert still counts as detecting the fault.
pub const DETECT_AFTER_HEAL_MS: i64 = 5 * 60_000;
/// The HTML timeline's margins around a fault's window.
const TIMELINE_BEFORE_MS: i64 = 10 * 60_000;
const TIMELINE_AFTER_MS: i64 = 20 * 60_000;
/// At most this many one-minute bins per fault timeline.
const TIMELINE_BINS: usize = 360;

/// The class a good system raises for a fault of `kind`, if any.
pub fn expected_class(kind: &str) -> Option<&'static str> {
    match kind {
        "uplink_outage" | "uplink_flapping" | "gateway_crash" | "gateway_power_loss"
        | "broker_outage" | "broker_restart" => Some("gateway_offline"),
        "wifi_outage" | "out_of_coverage" => Some("data_gap"),
        "battery_wave" => Some("monitoring_lost"),
        _ => None,
    }
}

/// For each condition of the ledger (in order): whether it is a clinical condition that went
/// on while its patient's data could not arrive: a `data_gap` of one of their devices, or
/// their ward's `gateway_offline`, overlapping it.
pub fn during_outage(inputs: &Inputs) -> Vec<bool> {
    let ward_of: HashMap<&str, &str> = inputs
        .directory
        .iter()
        .filter_map(|e| Some((e.id.as_str(), e.ward.as_deref()?)))
        .collect();
    // (patient or ward, onset, end) of every silence the ledger derived.
    let mut by_patient: HashMap<&str, Vec<(i64, i64)>> = HashMap::new();
    let mut by_ward: HashMap<&str, Vec<(i64, i64)>> = HashMap::new();
    for c in &inputs.conditions {
        let span = (c.onset_ms, c.end_ms.unwrap_or(i64::MAX));
        match c.class.as_str() {
            "data_gap" => {
                if let Some(p) = c.patient.as_deref() {
                    by_patient.entry(p).or_default().push(span);
                }
            }
            "gateway_offline" => {
                if let Some(w) = ward_of.get(c.subject.as_str()) {
                    by_ward.entry(w).or_default().push(span);
                }
            }
            _ => {}
        }
    }
    let overlaps = |spans: Option<&Vec<(i64, i64)>>, c: &crate::model::Condition| {
        let end = c.end_ms.unwrap_or(i64::MAX);
        spans.is_some_and(|v| v.iter().any(|&(s, e)| s < end && e > c.onset_ms))
    };
    inputs
        .conditions
        .iter()
        .map(|c| {
            let clinical = taxonomy::class(&c.class).is_some_and(|s| s.domain == "clinical");
            let Some(p) = c.patient.as_deref().filter(|_| clinical) else {
                return false;
            };
            overlaps(by_patient.get(p), c)
                || ward_of.get(p).is_some_and(|w| overlaps(by_ward.get(w), c))
        })
        .collect()
}

/// Whether a fault of `kind` is the whole site's (the broker's).
pub fn site_wide(kind: &str) -> bool {
    wardtwin_sim::records::FaultKind::from_name(kind).is_some_and(|k| k.site_wide())
}

/// Clinical conditions of affected patients that were going on during a fault.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DuringFault {
    pub conditions: u64,
    /// Detected before the heal.
    pub detected_in_time: u64,
    /// Detected only after the heal: late because of the fault.
    pub detected_late: u64,
    pub missed: u64,
    /// Their condition ids (conditions.parquet).
    pub ids: Vec<u32>,
}

/// One minute of a fault's timeline: readings of the affected devices that reached the
/// broker in it, on time and late.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bin {
    pub minute_ms: SimMillis,
    pub on_time: u64,
    pub late: u64,
}

/// One fault, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultScore {
    /// The fault, as recorded.
    #[serde(flatten)]
    pub fault: Fault,
    /// The class a good system raises.
    pub expected: Option<&'static str>,
    pub devices: u64,
    pub patients: u64,
    /// Telemetry the affected devices measured inside the window.
    pub produced: u64,
    pub on_time: u64,
    pub late: u64,
    /// Lost, by fate (`radio_lost`, `spool_lost`, `buffer_dropped`, `unsent`, …).
    pub lost: BTreeMap<String, u64>,
    pub backfill_completeness: Option<f64>,
    pub backfill_p50_ms: Option<i64>,
    pub backfill_p90_ms: Option<i64>,
    pub backfill_max_ms: Option<i64>,
    /// From the ingestion echo (`None` without one).
    pub duplicates: Option<u64>,
    pub out_of_order: Option<u64>,
    pub time_to_detect_ms: Option<i64>,
    /// The alert that detected it: its line in `alerts.jsonl` and its class.
    pub detected_by: Option<(usize, String)>,
    pub clinical: DuringFault,
    pub timeline: Vec<Bin>,
    /// Arrivals of the system's silence alerts about the affected devices in the timeline.
    pub alerts_ms: Vec<SimMillis>,
}

/// Time-to-detect figures over the faults that expect one class (or all).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DetectScore {
    /// `all`, or the expected class.
    pub class: String,
    pub faults: u64,
    pub undetected: u64,
    pub time_to_detect_p50_ms: Option<i64>,
    pub time_to_detect_p90_ms: Option<i64>,
    pub time_to_detect_max_ms: Option<i64>,
}

/// The drill section of a scorecard.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DrillSection {
    pub faults: Vec<FaultScore>,
    /// Over every fault: delivered / produced.
    pub backfill_completeness: Option<f64>,
    pub backfill_p90_ms: Option<i64>,
    /// `all` first, then each expected class.
    pub detection: Vec<DetectScore>,
    pub conditions_during: u64,
    pub conditions_detected_late: u64,
    pub conditions_missed: u64,
}

impl DrillSection {
    /// The detection figures of `class` (`None`: over every fault that expects one).
    pub fn detection_of(&self, class: Option<&str>) -> Option<&DetectScore> {
        let name = class.unwrap_or("all");
        self.detection.iter().find(|d| d.class == name)
    }
}

fn delivered(f: Fate) -> bool {
    matches!(
        f,
        Fate::Delivered | Fate::DeliveredLate | Fate::Acknowledged | Fate::Sent
    )
}

/// The ids a fault concerns: affected devices, their patients and beds, and its gateway.
struct Affected<'a> {
    devices: HashSet<&'a str>,
    ids: HashSet<&'a str>,
    patients: HashSet<&'a str>,
}

/// Whether fault `f` affects directory entry `e`: a device of its ward (not an RTLS tag, which
/// moves between wards), or its one device. The run-folder loader keeps the ledger rows of
/// exactly these devices.
pub fn affects(f: &Fault, e: &Entity) -> bool {
    let tag = e
        .device_kind
        .as_deref()
        .is_some_and(|k| k == "asset_tag" || k == "staff_badge");
    if e.kind != EntityKind::Device || tag {
        return false;
    }
    match (&f.device, &f.ward) {
        (Some(d), _) => &e.id == d,
        (None, Some(w)) => e.ward.as_ref() == Some(w),
        // The broker's: every device's data ends there.
        (None, None) => site_wide(&f.kind),
    }
}

fn affected<'a>(inputs: &'a Inputs, f: &'a Fault) -> Affected<'a> {
    let mut a = Affected {
        devices: HashSet::new(),
        ids: HashSet::new(),
        patients: HashSet::new(),
    };
    for e in &inputs.directory {
        if affects(f, e) {
            a.devices.insert(e.id.as_str());
            a.ids.insert(e.id.as_str());
            if let Some(p) = &e.patient {
                a.patients.insert(p.as_str());
                a.ids.insert(p.as_str());
            }
            if let Some(b) = &e.bed {
                a.ids.insert(b.as_str());
            }
        }
    }
    if let Some(g) = &f.gateway {
        a.ids.insert(g.as_str());
    }
    a
}

/// The drill section, if the run had faults.
pub fn drill(inputs: &Inputs, m: &Matching) -> Option<DrillSection> {
    let d = inputs.drill.as_ref()?;
    if d.faults.is_empty() {
        return None;
    }
    let run_end = inputs.run.end_ms;
    let mut by_device: HashMap<&str, Vec<&Emission>> = HashMap::new();
    for e in &d.emissions {
        by_device.entry(e.device.as_str()).or_default().push(e);
    }
    let mut all_backfill: Vec<i64> = Vec::new();
    let faults: Vec<FaultScore> = d
        .faults
        .iter()
        .map(|f| {
            let (score, backfill) = fault_score(inputs, m, f, &by_device, run_end);
            all_backfill.extend(backfill);
            score
        })
        .collect();
    let (mut produced, mut ok) = (0, 0);
    for f in &faults {
        produced += f.produced;
        ok += f.on_time + f.late;
    }
    all_backfill.sort_unstable();
    let mut detection = vec![detect_score(
        "all",
        faults.iter().filter(|f| f.expected.is_some()),
    )];
    for class in taxonomy::SILENCE {
        let of: Vec<&FaultScore> = faults
            .iter()
            .filter(|f| f.expected == Some(class))
            .collect();
        if !of.is_empty() {
            detection.push(detect_score(class, of.into_iter()));
        }
    }
    let during: u64 = faults.iter().map(|f| f.clinical.conditions).sum();
    Some(DrillSection {
        backfill_completeness: ratio(ok, produced),
        backfill_p90_ms: percentile(&all_backfill, 90.0),
        detection,
        conditions_during: during,
        conditions_detected_late: faults.iter().map(|f| f.clinical.detected_late).sum(),
        conditions_missed: faults.iter().map(|f| f.clinical.missed).sum(),
        faults,
    })
}

fn detect_score<'a>(class: &str, faults: impl Iterator<Item = &'a FaultScore>) -> DetectScore {
    let mut s = DetectScore {
        class: class.to_string(),
        ..Default::default()
    };
    let mut t = Vec::new();
    for f in faults {
        s.faults += 1;
        match f.time_to_detect_ms {
            Some(v) => t.push(v),
            None => s.undetected += 1,
        }
    }
    t.sort_unstable();
    s.time_to_detect_p50_ms = percentile(&t, 50.0);
    s.time_to_detect_p90_ms = percentile(&t, 90.0);
    s.time_to_detect_max_ms = t.last().copied();
    s
}

fn fault_score(
    inputs: &Inputs,
    m: &Matching,
    f: &Fault,
    by_device: &HashMap<&str, Vec<&Emission>>,
    run_end: SimMillis,
) -> (FaultScore, Vec<i64>) {
    let heal = f.end_ms.unwrap_or(run_end);
    let a = affected(inputs, f);
    let mut s = FaultScore {
        fault: f.clone(),
        expected: expected_class(&f.kind),
        devices: a.devices.len() as u64,
        patients: a.patients.len() as u64,
        produced: 0,
        on_time: 0,
        late: 0,
        lost: BTreeMap::new(),
        backfill_completeness: None,
        backfill_p50_ms: None,
        backfill_p90_ms: None,
        backfill_max_ms: None,
        duplicates: None,
        out_of_order: None,
        time_to_detect_ms: None,
        detected_by: None,
        clinical: DuringFault::default(),
        timeline: Vec::new(),
        alerts_ms: Vec::new(),
    };
    // Emissions, and the timeline of arrivals.
    let t0 = (f.start_ms - TIMELINE_BEFORE_MS).max(inputs.run.epoch_ms);
    let t1 = (heal + TIMELINE_AFTER_MS).min(run_end);
    let bins = (((t1 - t0).max(0) / 60_000) as usize + 1).min(TIMELINE_BINS);
    s.timeline = (0..bins)
        .map(|i| Bin {
            minute_ms: t0 + i as i64 * 60_000,
            on_time: 0,
            late: 0,
        })
        .collect();
    let mut backfill = Vec::new();
    let mut devices: Vec<&&str> = a.devices.iter().collect();
    devices.sort();
    for dev in devices {
        for e in by_device.get(*dev).into_iter().flatten() {
            let fw = e.forwarded_ms.filter(|_| delivered(e.fate));
            if let Some(fw) = fw
                && fw >= t0
                && fw < t1
            {
                let i = ((fw - t0) / 60_000) as usize;
                if let Some(b) = s.timeline.get_mut(i) {
                    if fw > e.sim_ms {
                        b.late += 1;
                    } else {
                        b.on_time += 1;
                    }
                }
            }
            if e.sim_ms < f.start_ms || e.sim_ms >= heal {
                continue;
            }
            s.produced += 1;
            match fw {
                Some(fw) if fw > e.sim_ms => {
                    s.late += 1;
                    if fw >= heal {
                        backfill.push(fw - heal);
                    }
                }
                Some(_) => s.on_time += 1,
                None => *s.lost.entry(e.fate.name().to_string()).or_default() += 1,
            }
        }
    }
    backfill.sort_unstable();
    s.backfill_completeness = ratio(s.on_time + s.late, s.produced);
    s.backfill_p50_ms = percentile(&backfill, 50.0);
    s.backfill_p90_ms = percentile(&backfill, 90.0);
    s.backfill_max_ms = backfill.last().copied();

    // At the consumer.
    if let Some((echo, _)) = &inputs.echo {
        let (mut dup, mut ooo) = (0, 0);
        let mut seen: HashSet<(&str, u32)> = HashSet::new();
        let mut newest: HashMap<&str, u32> = HashMap::new();
        let mut order: Vec<usize> = (0..echo.echoes.len()).collect();
        order.sort_by_key(|&i| echo.echoes[i].arrival_ms);
        for i in order {
            let e = &echo.echoes[i];
            if !a.devices.contains(e.device.as_str())
                || e.arrival_ms < f.start_ms
                || e.arrival_ms >= t1
            {
                continue;
            }
            if !seen.insert((e.device.as_str(), e.seq)) {
                dup += 1;
                continue;
            }
            let n = newest.entry(e.device.as_str()).or_insert(e.seq);
            if e.seq < *n {
                ooo += 1;
            }
            *n = (*n).max(e.seq);
        }
        s.duplicates = Some(dup);
        s.out_of_order = Some(ooo);
    }

    // The system's silence alerts about it.
    let mut order: Vec<usize> = (0..inputs.alerts.len()).collect();
    order.sort_by_key(|&i| (inputs.alerts[i].arrival_ms, inputs.alerts[i].line));
    for i in order {
        let rec = &inputs.alerts[i];
        let Ok(alert) = &rec.alert else { continue };
        if !detects(&f.kind, &alert.class) {
            continue;
        }
        let about = a.ids.contains(alert.subject.as_str())
            || alert.device.as_deref().is_some_and(|d| a.ids.contains(d));
        if !about {
            continue;
        }
        if rec.arrival_ms >= t0 && rec.arrival_ms < t1 && s.alerts_ms.len() < 1_000 {
            s.alerts_ms.push(rec.arrival_ms);
        }
        if s.expected.is_none() || s.time_to_detect_ms.is_some() {
            continue;
        }
        if rec.arrival_ms >= f.start_ms && rec.arrival_ms <= heal + DETECT_AFTER_HEAL_MS {
            s.time_to_detect_ms = Some(rec.arrival_ms - f.start_ms);
            s.detected_by = Some((rec.line, alert.class.clone()));
        } else if rec.arrival_ms < f.start_ms && still_silent(inputs, m, i, f) {
            // The system was already in alarm for a silence still going on when this fault
            // began (a power loss during an uplink outage): it knew at once.
            s.time_to_detect_ms = Some(0);
            s.detected_by = Some((rec.line, alert.class.clone()));
        }
    }

    // Clinical conditions going on meanwhile.
    for (c, outcome) in inputs.conditions.iter().zip(&m.conditions) {
        let clinical = taxonomy::class(&c.class).is_some_and(|s| s.domain == "clinical");
        let mine = c.patient.as_deref().is_some_and(|p| a.patients.contains(p));
        let overlaps = c.onset_ms < heal && c.end_ms.is_none_or(|e| e > f.start_ms);
        if !(clinical && mine && overlaps) {
            continue;
        }
        let cl = &mut s.clinical;
        match outcome {
            ConditionOutcome::Detected(det) if det.arrival_ms < heal => cl.detected_in_time += 1,
            ConditionOutcome::Detected(_) => cl.detected_late += 1,
            ConditionOutcome::Missed => cl.missed += 1,
            ConditionOutcome::Unknown | ConditionOutcome::Transient => continue,
        }
        cl.conditions += 1;
        cl.ids.push(c.id);
    }
    (s, backfill)
}

/// Whether an alert of `class` can tell the system noticed a fault of `kind`: a silence
/// alert, or for a battery wave also the low-battery warning that comes first.
pub fn detects(kind: &str, class: &str) -> bool {
    taxonomy::SILENCE.contains(&class) || kind == "battery_wave" && class == "low_battery"
}

/// Whether alert `i` detected (or repeated) the gateway-offline condition of fault `f`'s
/// gateway, still going on when `f` began (a power loss during an uplink outage).
fn still_silent(inputs: &Inputs, m: &Matching, i: usize, f: &Fault) -> bool {
    let t = f.start_ms;
    let going_on = |c: usize| {
        let c = &inputs.conditions[c];
        c.class == "gateway_offline"
            && f.gateway.as_ref() == Some(&c.subject)
            && c.onset_ms <= t
            && c.end_ms.is_none_or(|e| e > t)
    };
    match &m.alerts[i] {
        AlertOutcome::Detection(cs) => cs.iter().any(|&c| going_on(c)),
        AlertOutcome::Repeat(c) => going_on(*c),
        _ => false,
    }
}
