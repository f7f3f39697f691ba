//! Table tests of the matcher and the figures, on a small hand-made run: one patient on one bed
//! with an oximeter, one desaturation condition, one motion artifact.

use wardtwin_sim::conditions::Severity;

use crate::gates;
use crate::matcher::{AlertOutcome, ConditionOutcome, Rejection, match_alerts};
use crate::model::*;
use crate::scorecard::{percentile, score};

const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;

fn run() -> RunInfo {
    RunInfo {
        scenario: "table".into(),
        seed: 1,
        epoch_ms: 0,
        end_ms: DAY,
        step_ms: 1000,
        beds: 1,
        patients: 1,
    }
}

fn entity(kind: EntityKind, id: &str) -> Entity {
    Entity {
        kind,
        id: id.into(),
        patient: (kind != EntityKind::Bed).then(|| "P1".to_string()),
        bed: Some("B1".into()),
        ward: Some("W1".into()),
        device_kind: (kind == EntityKind::Device).then(|| "pulse_oximeter".to_string()),
    }
}

/// Desaturation 10:00–10:20, low battery from 20:00 on the oximeter, a motion artifact 14:00–14:01.
fn inputs(alerts: Vec<(i64, Result<Alert, String>)>) -> Inputs {
    Inputs {
        run: run(),
        directory: vec![
            entity(EntityKind::Bed, "B1"),
            entity(EntityKind::Patient, "P1"),
            entity(EntityKind::Device, "spo2-B1"),
        ],
        conditions: vec![
            Condition {
                id: 0,
                class: "desaturation".into(),
                severity: Severity::Medium,
                subject: "P1".into(),
                patient: Some("P1".into()),
                device: None,
                onset_ms: 600 * MIN,
                end_ms: Some(620 * MIN),
                transient: false,
            },
            Condition {
                id: 1,
                class: "low_battery".into(),
                severity: Severity::Low,
                subject: "spo2-B1".into(),
                patient: Some("P1".into()),
                device: Some("spo2-B1".into()),
                onset_ms: 1200 * MIN,
                end_ms: None,
                transient: false,
            },
            Condition {
                id: 2,
                class: "deterioration".into(),
                severity: Severity::Low,
                subject: "P1".into(),
                patient: Some("P1".into()),
                device: None,
                onset_ms: 300 * MIN,
                end_ms: Some(302 * MIN),
                transient: true,
            },
        ],
        artifacts: vec![Artifact {
            device: "spo2-B1".into(),
            device_kind: "pulse_oximeter".into(),
            patient: Some("P1".into()),
            kind: "motion".into(),
            start_ms: 840 * MIN,
            end_ms: 841 * MIN,
        }],
        alerts: alerts
            .into_iter()
            .enumerate()
            .map(|(i, (t, alert))| Received {
                line: i + 1,
                arrival_ms: t,
                alert,
                excerpt: String::new(),
            })
            .collect(),
        fates: vec![(wardtwin_sim::records::Fate::Delivered, 10)],
        echo: None,
        collection_cut_off: false,
        sync: None,
        broker_discards: None,
        drill: None,
    }
}

fn alert(subject: &str, class: &str, began: i64) -> Result<Alert, String> {
    Ok(Alert {
        alert_id: format!("a-{class}-{began}"),
        subject: subject.into(),
        class: class.into(),
        priority: Priority::Medium,
        began_ms: began,
        device: None,
    })
}

/// One alert against the run: what it is, and what the desaturation became.
fn one(t: i64, a: Result<Alert, String>) -> (AlertOutcome, ConditionOutcome) {
    let m = match_alerts(&inputs(vec![(t, a)]));
    (m.alerts[0].clone(), m.conditions[0])
}

#[test]
fn matcher_table() {
    let desat_onset = 600 * MIN;
    let s = 1000;
    // (case, arrival, alert, expected alert outcome, desaturation detected?)
    type Case = (&'static str, i64, Result<Alert, String>, AlertOutcome, bool);
    let cases: Vec<Case> = vec![
        (
            "true positive",
            desat_onset + 20 * s,
            alert("P1", "desaturation", desat_onset + 10 * s),
            AlertOutcome::Detection(vec![0]),
            true,
        ),
        (
            "true positive by bed id",
            desat_onset + 20 * s,
            alert("B1", "desaturation", desat_onset),
            AlertOutcome::Detection(vec![0]),
            true,
        ),
        (
            "true positive by device id",
            desat_onset + 20 * s,
            alert("spo2-B1", "desaturation", desat_onset),
            AlertOutcome::Detection(vec![0]),
            true,
        ),
        (
            "late but within 2 min of the end",
            620 * MIN + 119 * s,
            alert("P1", "desaturation", 620 * MIN),
            AlertOutcome::Detection(vec![0]),
            true,
        ),
        (
            "too late",
            620 * MIN + 121 * s,
            alert("P1", "desaturation", 620 * MIN),
            AlertOutcome::False(None),
            false,
        ),
        (
            "early within 30 s",
            desat_onset - 30 * s,
            alert("P1", "desaturation", desat_onset - 40 * s),
            AlertOutcome::Detection(vec![0]),
            true,
        ),
        (
            "too early",
            desat_onset - 31 * s,
            alert("P1", "desaturation", desat_onset - 40 * s),
            AlertOutcome::False(None),
            false,
        ),
        (
            "wrong class",
            desat_onset + 20 * s,
            alert("P1", "extreme_tachycardia", desat_onset),
            AlertOutcome::False(None),
            false,
        ),
        (
            "false, during a motion artifact that mimics it",
            840 * MIN + 30 * s,
            alert("P1", "desaturation", 840 * MIN),
            AlertOutcome::False(Some(0)),
            false,
        ),
        (
            "false, during an artifact that cannot mimic it",
            840 * MIN + 30 * s,
            alert("P1", "monitoring_lost", 840 * MIN),
            AlertOutcome::False(None),
            false,
        ),
        (
            "inside a transient condition only",
            301 * MIN,
            alert("P1", "deterioration", 300 * MIN),
            AlertOutcome::DontCare(2),
            false,
        ),
        (
            "malformed",
            desat_onset + 20 * s,
            Err("missing field `subject`".into()),
            AlertOutcome::Rejected(Rejection::Malformed, "missing field `subject`".into()),
            false,
        ),
    ];
    for (name, t, a, want, detected) in cases {
        let (got, cond) = one(t, a);
        assert_eq!(got, want, "{name}");
        assert_eq!(
            matches!(cond, ConditionOutcome::Detected(_)),
            detected,
            "{name}: {cond:?}"
        );
    }
}

#[test]
fn unknown_subjects_classes_and_devices_are_rejected_with_a_reason() {
    let t = 600 * MIN;
    for (a, why, says) in [
        (
            alert("P9", "desaturation", t),
            Rejection::UnknownSubject,
            "P9",
        ),
        (
            alert("P1", "asset_teleported", t),
            Rejection::UnknownClass,
            "asset_teleported",
        ),
        (
            Ok(Alert {
                device: Some("ecg-Z".into()),
                ..alert("P1", "desaturation", t).unwrap()
            }),
            Rejection::UnknownSubject,
            "ecg-Z",
        ),
    ] {
        match one(t, a).0 {
            AlertOutcome::Rejected(r, msg) => {
                assert_eq!(r, why);
                assert!(msg.contains(says), "{msg}");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}

#[test]
fn the_first_match_detects_and_later_ones_are_repeats() {
    let t = 600 * MIN;
    let m = match_alerts(&inputs(vec![
        (t + 90_000, alert("P1", "desaturation", t + 5_000)),
        (t + 30_000, alert("P1", "desaturation", t)),
    ]));
    // Arrival order decides, not line order.
    assert_eq!(m.alerts[1], AlertOutcome::Detection(vec![0]));
    assert_eq!(m.alerts[0], AlertOutcome::Repeat(0));
    match m.conditions[0] {
        ConditionOutcome::Detected(d) => assert_eq!(d.arrival_ms, t + 30_000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_device_condition_matches_the_device_or_its_patient_and_unknown_is_not_missed() {
    let t = 1200 * MIN + MIN;
    let m = match_alerts(&inputs(vec![(t, alert("P1", "low_battery", t))]));
    assert_eq!(m.alerts[0], AlertOutcome::Detection(vec![1]));
    // A silent system: the desaturation is missed; a low battery 30 min before the end of the run
    // (less than its 1 h late tolerance) would be unknown.
    let mut i = inputs(vec![]);
    i.conditions[1].onset_ms = DAY - 30 * MIN;
    let m = match_alerts(&i);
    assert_eq!(m.conditions[0], ConditionOutcome::Missed);
    assert_eq!(m.conditions[1], ConditionOutcome::Unknown);
    assert_eq!(m.conditions[2], ConditionOutcome::Transient);
}

#[test]
fn figures_follow_their_definitions() {
    let t = 600 * MIN;
    let card = score(&inputs(vec![
        (t + 60_000, alert("P1", "desaturation", t + 15_000)),
        (t + 120_000, alert("P1", "desaturation", t + 15_000)),
        (840 * MIN + 10_000, alert("P1", "desaturation", 840 * MIN)),
        (900 * MIN, alert("P1", "desaturation", 900 * MIN)),
        (900 * MIN, Err("not JSON".into())),
    ]));
    let d = card
        .classes
        .iter()
        .find(|c| c.class == "desaturation")
        .unwrap();
    assert_eq!((d.conditions, d.detected, d.missed), (1, 1, 0));
    assert_eq!(
        (d.alerts, d.true_alerts, d.repeats, d.false_alerts),
        (4, 1, 1, 2)
    );
    assert_eq!(d.false_during_artifact, 1);
    assert_eq!(d.sensitivity, Some(1.0));
    assert_eq!(d.ppv, Some(0.5));
    assert_eq!(d.false_alerts_per_bed_day, 2.0);
    assert_eq!(d.alerts_per_bed_day, 4.0);
    assert_eq!(d.latency_p50_ms, Some(60_000));
    assert_eq!(d.condition_delay_p50_ms, Some(15_000));
    assert_eq!(d.signal_delay_p50_ms, Some(45_000));
    // The artifact mimicked desaturation and an alert fell for it: no true negative.
    assert_eq!((d.artifacts, d.true_negatives), (1, 0));
    // PhysioNet: TP 1, TN 0, FP 2, FN 0.
    assert_eq!(d.physionet_score, Some(0.3333));
    assert_eq!(card.intake.received, 5);
    assert_eq!(card.intake.malformed, 1);
    // The low battery was missed; the transient deterioration is not counted.
    assert_eq!((card.overall.conditions, card.overall.missed), (2, 1));
    assert_eq!(card.overall.transient, 1);
    assert_eq!(card.patients[0].false_alerts, 2);
}

#[test]
fn percentiles_are_nearest_rank() {
    let v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    assert_eq!(percentile(&v, 50.0), Some(5));
    assert_eq!(percentile(&v, 90.0), Some(9));
    assert_eq!(percentile(&v, 100.0), Some(10));
    assert_eq!(percentile(&[], 50.0), None);
}

#[test]
fn gates_parse_evaluate_and_fail_closed() {
    let t = 600 * MIN;
    let mut card = score(&inputs(vec![(t + 60_000, alert("P1", "desaturation", t))]));
    let gates: Vec<gates::Gate> = [
        "sensitivity.desaturation >= 0.9",
        "false_alerts_per_bed_day <= 2",
        "latency_p90.desaturation <= \"1m\"",
        "latency_p90.desaturation.medium < 30s",
        "sensitivity.extreme_tachycardia >= 0.5",
    ]
    .iter()
    .map(|g| gates::parse(g).unwrap())
    .collect();
    gates::apply(&mut card, &gates);
    let passed: Vec<bool> = card.gates.iter().map(|g| g.passed).collect();
    assert_eq!(passed, vec![true, true, true, false, false]);
    assert_eq!(card.gates[3].detail, "1m <= 30s".replace("<=", "<"));
    assert!(card.gates[4].detail.contains("no value"));
    assert!(!card.passed);
}

#[test]
fn bad_gates_say_where_and_what_was_expected() {
    for (g, at, says) in [
        ("sensitivty >= 0.9", 0, "unknown metric"),
        ("sensitivity.deterioraton >= 0.9", 12, "unknown class"),
        (
            "sensitivity.deterioration.severe >= 0.9",
            26,
            "unknown severity",
        ),
        ("latency_p90 <= 15", 15, "duration"),
        ("sensitivity >= 1.5", 15, "ratio"),
        ("sensitivity 0.9", 15, "expected a comparison"),
        ("ppv.desaturation.high >= 0.5", 17, "no per-severity"),
    ] {
        let e = gates::parse(g).unwrap_err();
        assert_eq!(e.offset, at, "{g}: {e}");
        assert!(e.message.contains(says), "{g}: {e}");
    }
}

/// Hardening issue: a low-priority alert detected the low and medium tiers that opened in the
/// same step, and the later medium alert became a repeat. Now an alert detects a tier only if
/// its priority reaches that tier.
#[test]
fn hardening_priority_is_judged_an_alert_detects_only_tiers_its_priority_reaches() {
    let t = 300 * MIN;
    let tiers = |alerts| {
        let mut i = inputs(alerts);
        i.conditions.truncate(2);
        for (id, sev) in [(2, Severity::Low), (3, Severity::Medium)] {
            i.conditions.push(Condition {
                id,
                class: "deterioration".into(),
                severity: sev,
                subject: "P1".into(),
                patient: Some("P1".into()),
                device: None,
                onset_ms: t,
                end_ms: Some(t + 60 * MIN),
                transient: false,
            });
        }
        i
    };
    let with = |p: Priority, at: i64| {
        let mut a = alert("P1", "deterioration", at).unwrap();
        a.priority = p;
        a.alert_id = format!("{}-{at}", p.name());
        (at, Ok(a))
    };
    // Low first: it detects the low tier only; the medium alert after it detects the medium tier.
    let m = match_alerts(&tiers(vec![
        with(Priority::Low, t + MIN),
        with(Priority::Medium, t + 5 * MIN),
    ]));
    assert_eq!(m.alerts[0], AlertOutcome::Detection(vec![2]));
    assert_eq!(m.alerts[1], AlertOutcome::Detection(vec![3]));
    // A medium alert detects both nested tiers at once; a later low one is a repeat.
    let m = match_alerts(&tiers(vec![
        with(Priority::Medium, t + MIN),
        with(Priority::Low, t + 5 * MIN),
    ]));
    assert_eq!(m.alerts[0], AlertOutcome::Detection(vec![2, 3]));
    assert_eq!(m.alerts[1], AlertOutcome::Repeat(2));
    // Only low alerts: the medium tier is missed.
    let m = match_alerts(&tiers(vec![
        with(Priority::Low, t + MIN),
        with(Priority::Low, t + 2 * MIN),
    ]));
    assert_eq!(m.conditions[3], ConditionOutcome::Missed);
    assert_eq!(m.alerts[1], AlertOutcome::Repeat(2));
    // A low alert for a medium-only condition is under-prioritised: not a detection, not false.
    let mut a = alert("P1", "desaturation", 600 * MIN).unwrap();
    a.priority = Priority::Low;
    let i = inputs(vec![(600 * MIN + MIN, Ok(a))]);
    let m = match_alerts(&i);
    assert_eq!(m.alerts[0], AlertOutcome::UnderPrioritised(0));
    assert_eq!(m.conditions[0], ConditionOutcome::Missed);
    let card = score(&i);
    assert_eq!(card.overall.under_prioritised, 1);
    assert_eq!(card.overall.false_alerts, 0);
}

/// Groundwork issue: `scorecard.json` listed every condition but the transient ones. They are
/// listed too, as `dont_care`, and still counted apart from `conditions`.
#[test]
fn transient_conditions_are_listed_as_dont_care() {
    let mut i = inputs(vec![]);
    let card = score(&i);
    assert_eq!(card.conditions.len(), i.conditions.len());
    let transient: Vec<_> = card
        .conditions
        .iter()
        .filter(|r| r.outcome == "dont_care")
        .collect();
    assert_eq!(transient.len(), 1);
    assert_eq!(transient[0].onset_ms, 300 * MIN);
    assert_eq!(card.overall.transient, 1);
    assert!(card.warnings.is_empty());
    i.collection_cut_off = true;
    assert_eq!(score(&i).warnings.len(), 1);
}

/// Time-and-delivery issue: a run whose system was not fed everything, in time, is invalid;
/// the lag is counted from when the telemetry left the twin (a spooled reading's wait in a
/// scheduled outage is the twin's), and lockstep stalls make it invalid too.
#[test]
fn a_short_or_late_echo_or_a_stall_makes_the_run_invalid() {
    use wardtwin_sim::records::Fate;
    let emission = |seq: u32, sim_ms: i64, forwarded_ms: i64| Emission {
        device: "spo2-B1".into(),
        seq,
        sim_ms,
        forwarded_ms: Some(forwarded_ms),
        fate: Fate::Delivered,
        sink: "file".into(),
    };
    let echo = |seq: u32, arrival_ms: i64| Echo {
        device: "spo2-B1".into(),
        seq,
        arrival_ms,
    };
    let with = |echoes: Vec<Echo>, sync: Option<SyncSummary>| {
        let mut i = inputs(Vec::new());
        // Seq 2 waited 20 min in a spool (a scheduled outage) and was forwarded at 30 min.
        let emissions = vec![
            emission(1, 0, 0),
            emission(2, 10 * MIN, 30 * MIN),
            emission(3, 40 * MIN, 40 * MIN),
        ];
        i.echo = Some((
            EchoStream {
                echoes,
                malformed: 0,
            },
            emissions,
        ));
        i.sync = sync;
        score(&i).validity
    };
    // Everything, each within seconds of leaving the twin: valid, although seq 2 is 20 min
    // after its measurement.
    let v = with(
        vec![echo(1, 5_000), echo(2, 30 * MIN + 5_000), echo(3, 40 * MIN)],
        None,
    );
    assert!(v.valid, "{v:?}");
    assert_eq!((v.completeness, v.lag_max_ms), (Some(1.0), Some(5_000)));
    assert_eq!(v.sync, "free");
    // One never ingested.
    let v = with(vec![echo(1, 5_000), echo(3, 40 * MIN)], None);
    assert!(
        !v.valid && v.causes[0].contains("ingested 2 of the 3"),
        "{v:?}"
    );
    // Ingested 2 min after it left the twin.
    let v = with(
        vec![echo(1, 5_000), echo(2, 32 * MIN), echo(3, 40 * MIN)],
        None,
    );
    assert!(!v.valid && v.causes[0].contains("2m behind"), "{v:?}");
    // A stall.
    let stalled = SyncSummary {
        mode: "lockstep".into(),
        clocks: 10,
        stalls: 1,
        first_stall: Some("2026-03-02T00:04:59.000Z".into()),
    };
    let v = with(
        vec![echo(1, 5_000), echo(2, 30 * MIN), echo(3, 40 * MIN)],
        Some(stalled),
    );
    assert!(!v.valid && v.stalls == 1, "{v:?}");
    assert!(v.causes[0].contains("stalled at 1 of 10"), "{v:?}");
    assert_eq!(v.sync, "lockstep");
    // The embedded broker discarded for a subscriber that fell behind.
    let mut i = inputs(Vec::new());
    i.broker_discards = Some((2, vec!["wtsut sut/#".into()]));
    let v = score(&i).validity;
    assert!(
        !v.valid && v.causes[0].contains("(2 time(s); wtsut sut/#)"),
        "{v:?}"
    );
    i.broker_discards = Some((0, Vec::new()));
    assert!(score(&i).validity.valid);
    // No echo: unknown completeness, which alone cannot make a run invalid.
    let v = score(&inputs(Vec::new())).validity;
    assert!(v.valid && v.completeness.is_none(), "{v:?}");
}
