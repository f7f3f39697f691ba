//! The drill section and silence matching, on a hand-made outage: ward W1 (a patient P1 with an
//! oximeter, the gateway's status device `edge-W1`), its Wi-Fi down 10:00-10:20, and a
//! deterioration of P1 from 10:05.

use wardtwin_sim::conditions::Severity;
use wardtwin_sim::records::Fate;

use crate::gates;
use crate::matcher::{AlertOutcome, ConditionOutcome, match_alerts};
use crate::model::*;
use crate::scorecard::score;

const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;
const START: i64 = 600 * MIN;
const HEAL: i64 = 620 * MIN;

fn device(id: &str, kind: &str, patient: Option<&str>) -> Entity {
    Entity {
        kind: EntityKind::Device,
        id: id.into(),
        patient: patient.map(str::to_string),
        bed: patient.map(|_| "B1".to_string()),
        ward: Some("W1".into()),
        device_kind: Some(kind.into()),
    }
}

fn condition(id: u32, class: &str, subject: &str, onset: i64, end: i64) -> Condition {
    let device = (class != "deterioration").then(|| subject.to_string());
    Condition {
        id,
        class: class.into(),
        severity: Severity::Medium,
        subject: subject.into(),
        patient: Some("P1".into()),
        device,
        onset_ms: onset,
        end_ms: Some(end),
        transient: false,
    }
}

/// The oximeter reads every 15 s; during the outage its readings are lost, except the last
/// two minutes', which it could not have kept (it has no buffer): all lost. The data gap runs
/// from 10:01:30 (last arrival 10:00 + 90 s) to the first arrival after the heal.
fn drill_inputs(alerts: Vec<(i64, &str, &str)>) -> Inputs {
    let emissions: Vec<Emission> = (0..(DAY / 15_000) as u32)
        .filter(|&k| (k as i64 * 15_000) >= 590 * MIN && (k as i64 * 15_000) < 640 * MIN)
        .map(|k| {
            let t = k as i64 * 15_000;
            let lost = (START..HEAL).contains(&t);
            Emission {
                device: "spo2-B1".into(),
                seq: k,
                sim_ms: t,
                forwarded_ms: (!lost).then_some(t),
                fate: if lost {
                    Fate::RadioLost
                } else {
                    Fate::Delivered
                },
                sink: if lost { "radio" } else { "file" }.into(),
            }
        })
        .collect();
    Inputs {
        run: RunInfo {
            scenario: "drill".into(),
            seed: 1,
            epoch_ms: 0,
            end_ms: DAY,
            step_ms: 1000,
            beds: 1,
            patients: 1,
        },
        directory: vec![
            Entity {
                kind: EntityKind::Patient,
                id: "P1".into(),
                patient: Some("P1".into()),
                bed: Some("B1".into()),
                ward: Some("W1".into()),
                device_kind: None,
            },
            device("spo2-B1", "pulse_oximeter", Some("P1")),
            device("edge-W1", "edge_gateway", None),
        ],
        conditions: vec![
            condition(0, "data_gap", "spo2-B1", START + 90_000 - 15_000, HEAL),
            condition(1, "deterioration", "P1", 605 * MIN, 700 * MIN),
        ],
        artifacts: Vec::new(),
        alerts: alerts
            .into_iter()
            .enumerate()
            .map(|(i, (t, subject, class))| Received {
                line: i + 1,
                arrival_ms: t,
                alert: Ok(Alert {
                    alert_id: format!("a{i}"),
                    subject: subject.into(),
                    class: class.into(),
                    priority: Priority::Medium,
                    began_ms: t,
                    device: None,
                }),
                excerpt: String::new(),
            })
            .collect(),
        fates: vec![(Fate::Delivered, 100)],
        echo: None,
        collection_cut_off: false,
        sync: None,
        broker_discards: None,
        drill: Some(DrillInputs {
            faults: vec![Fault {
                id: 0,
                kind: "wifi_outage".into(),
                ward: Some("W1".into()),
                gateway: Some("edge-W1".into()),
                device: None,
                start_ms: START,
                end_ms: Some(HEAL),
                parameter: None,
            }],
            emissions,
        }),
    }
}

#[test]
fn a_monitoring_lost_alert_during_an_outage_is_a_true_data_gap_detection() {
    let i = drill_inputs(vec![(START + 2 * MIN, "P1", "monitoring_lost")]);
    let m = match_alerts(&i);
    assert_eq!(m.alerts[0], AlertOutcome::Detection(vec![0]));
    assert!(matches!(m.conditions[0], ConditionOutcome::Detected(_)));
    let card = score(&i);
    let gap = card.classes.iter().find(|c| c.class == "data_gap").unwrap();
    assert_eq!((gap.detected, gap.missed), (1, 0));
    assert_eq!(card.overall.false_alerts, 0);
}

#[test]
fn the_silence_classes_answer_each_other_but_not_other_subjects() {
    // A gateway_offline alert naming the oximeter answers its data gap; one naming the gateway
    // does not (a data gap is the device's), and is false here (no gateway_offline condition).
    let i = drill_inputs(vec![
        (START + 2 * MIN, "edge-W1", "gateway_offline"),
        (START + 3 * MIN, "spo2-B1", "gateway_offline"),
    ]);
    let m = match_alerts(&i);
    assert_eq!(m.alerts[0], AlertOutcome::False(None));
    assert_eq!(m.alerts[1], AlertOutcome::Detection(vec![0]));
}

#[test]
fn an_oracle_alerting_at_the_fault_start_scores_time_to_detect_zero() {
    let i = drill_inputs(vec![(START, "spo2-B1", "data_gap")]);
    let mut card = score(&i);
    let d = card.drill.as_ref().unwrap();
    let f = &d.faults[0];
    assert_eq!(f.time_to_detect_ms, Some(0));
    assert_eq!(f.expected, Some("data_gap"));
    assert_eq!(f.detected_by, Some((1, "data_gap".into())));
    // What the ledger says: 80 readings measured in the 20 min, all lost on the radio.
    assert_eq!((f.produced, f.on_time, f.late), (80, 0, 0));
    assert_eq!(f.lost.get("radio_lost"), Some(&80));
    assert_eq!(f.backfill_completeness, Some(0.0));
    // The oximeter and the gateway's own status device are the ward's.
    assert_eq!((f.devices, f.patients), (2, 1));
    let g: Vec<_> = [
        "time_to_detect_p90.data_gap <= \"1m\"",
        "time_to_detect_max <= \"0s\"",
        "undetected_faults <= 0",
        "backfill_completeness >= 0.5",
    ]
    .iter()
    .map(|t| gates::parse(t).unwrap())
    .collect();
    gates::apply(&mut card, &g);
    let passed: Vec<bool> = card.gates.iter().map(|g| g.passed).collect();
    assert_eq!(passed, [true, true, true, false]);
}

#[test]
fn a_silent_system_misses_every_drill_condition_and_fails_its_gates() {
    let i = drill_inputs(Vec::new());
    let mut card = score(&i);
    let d = card.drill.as_ref().unwrap();
    assert_eq!(d.faults[0].time_to_detect_ms, None);
    let all = d.detection_of(None).unwrap();
    assert_eq!((all.faults, all.undetected), (1, 1));
    // The deterioration went on during the fault and nobody caught it.
    assert_eq!(d.faults[0].clinical.missed, 1);
    assert_eq!(d.conditions_missed, 1);
    let g = [gates::parse("time_to_detect_p90 <= \"10m\"").unwrap()];
    gates::apply(&mut card, &g);
    assert!(!card.gates[0].passed);
    assert!(
        card.gates[0].detail.contains("never detected"),
        "{}",
        card.gates[0].detail
    );
    let gap = card.classes.iter().find(|c| c.class == "data_gap").unwrap();
    assert_eq!(gap.missed, 1);
}

#[test]
fn a_clinical_condition_caught_only_after_the_heal_is_late_because_of_the_fault() {
    let i = drill_inputs(vec![
        (START + 2 * MIN, "P1", "monitoring_lost"),
        (HEAL + 3 * MIN, "P1", "deterioration"),
    ]);
    let card = score(&i);
    let c = &card.drill.as_ref().unwrap().faults[0].clinical;
    assert_eq!(
        (c.conditions, c.detected_in_time, c.detected_late, c.missed),
        (1, 0, 1, 0)
    );
    assert_eq!(c.ids, [1]);
}

#[test]
fn a_run_without_faults_has_no_drill_section() {
    let mut i = drill_inputs(Vec::new());
    i.drill = None;
    let card = score(&i);
    assert!(card.drill.is_none());
    let json = serde_json::to_string(&card).unwrap();
    assert!(!json.contains("\"drill\":"));
    let mut card = card;
    gates::apply(
        &mut card,
        &[gates::parse("backfill_completeness >= 0.9").unwrap()],
    );
    assert!(
        !card.gates[0].passed,
        "no drill: the gate has no value and fails"
    );
}

#[test]
fn a_clinical_condition_overlapping_its_patients_data_gap_is_flagged_during_outage() {
    let i = drill_inputs(Vec::new());
    let card = score(&i);
    let row = |id: u32| card.conditions.iter().find(|r| r.id == id).unwrap();
    // The deterioration (10:05-11:40) overlaps the oximeter's gap (10:01:15-10:20).
    assert!(row(1).during_outage);
    assert!(!row(0).during_outage, "a data gap is not clinical");
    // Moved after the gap, it is not.
    let mut later = drill_inputs(Vec::new());
    later.conditions[1].onset_ms = HEAL + MIN;
    assert!(!score(&later).conditions.iter().any(|r| r.during_outage));
    // A gateway offline of the patient's ward counts too.
    let mut ward = drill_inputs(Vec::new());
    ward.conditions[0] = condition(0, "gateway_offline", "edge-W1", START, HEAL);
    ward.conditions[0].patient = None;
    assert!(
        score(&ward)
            .conditions
            .iter()
            .any(|r| r.id == 1 && r.during_outage)
    );
}

#[test]
fn a_broker_fault_affects_every_device_of_the_site_and_expects_gateway_offline() {
    let mut i = drill_inputs(vec![(START + MIN, "edge-W1", "gateway_offline")]);
    // A second ward's device, which a ward fault of W1 would not touch.
    let mut other = device("spo2-B2", "pulse_oximeter", None);
    other.ward = Some("W2".into());
    i.directory.push(other);
    let drill = i.drill.as_mut().unwrap();
    drill.faults[0] = Fault {
        id: 0,
        kind: "broker_restart".into(),
        ward: None,
        gateway: None,
        device: None,
        start_ms: START,
        end_ms: Some(HEAL),
        parameter: Some("persistence none".into()),
    };
    let card = score(&i);
    let f = &card.drill.as_ref().unwrap().faults[0];
    assert_eq!(f.expected, Some("gateway_offline"));
    assert_eq!(f.devices, 3, "both wards' devices and the gateway");
    assert_eq!(f.time_to_detect_ms, Some(MIN));
    // A degraded uplink expects no alert: its figures are the late and the lost.
    assert_eq!(crate::drill::expected_class("uplink_degraded"), None);
    assert!(crate::drill::site_wide("broker_outage"));
    assert!(!crate::drill::site_wide("uplink_outage"));
}
