//! Drills end to end: a drill run through mosquitto with the reference stack, its drill section
//! checked against the ledger read back independently, the offline re-score byte-identical;
//! the drill library and ad-hoc faults from the command line.

use std::collections::BTreeSet;

use wardtwin_exporters::mqtt::mosquitto::{Mosquitto, MosquittoConfig};

use super::support::{
    drill_with_news2, read_parquet, run_scenario, run_unchecked, str_values, temp_dir, time_values,
    wardtwin,
};

const MIN: i64 = 60_000;

/// The Wi-Fi drill's first 4 hours (its outage is 03:00-03:20) through mosquitto, with the
/// news2 stack lock-stepped in process.
#[test]
fn a_drill_through_mosquitto_scores_what_the_ledger_says_and_rescores_byte_identically() {
    let dir = temp_dir("drill-mosquitto");
    let broker = Mosquitto::start(dir.path(), MosquittoConfig::default()).expect("mosquitto");
    let out = dir.path().join("run");
    drill_with_news2("drill-ward-wifi-night", &out, &broker.url());
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("scorecard.json")).unwrap()).unwrap();
    let fault = &card["drill"]["faults"][0];
    assert_eq!(fault["kind"], "wifi_outage");

    // The ledger, read back with polars: W2's devices (not the tags), telemetry measured in the
    // window, and what became of it.
    let directory = read_parquet(out.join("directory.parquet"));
    let kinds = str_values(&directory, "kind");
    let ids = str_values(&directory, "id");
    let wards = directory.column("ward_id").unwrap().str().unwrap().clone();
    let w2: BTreeSet<String> = (0..directory.height())
        .filter(|&i| kinds[i] == "device" && wards.get(i) == Some("W2"))
        .map(|i| ids[i].clone())
        .collect();
    assert_eq!(fault["devices"].as_u64().unwrap() as usize, w2.len());
    let start = fault["start_ms"].as_i64().unwrap();
    let end = fault["end_ms"].as_i64().unwrap();
    assert_eq!(end - start, 20 * MIN);
    let em = read_parquet(out.join("emissions.parquet"));
    let (dev, kind, fate) = (
        str_values(&em, "device_id"),
        str_values(&em, "kind"),
        str_values(&em, "fate"),
    );
    let (sim, fwd) = (
        time_values(&em, "sim_time"),
        time_values(&em, "forwarded_time"),
    );
    let (mut produced, mut late, mut on_time, mut lost) = (0, 0, 0, 0);
    for i in 0..em.height() {
        let t = sim[i].unwrap();
        if kind[i] != "telemetry" || !w2.contains(&dev[i]) || t < start || t >= end {
            continue;
        }
        produced += 1;
        match (fate[i].as_str(), fwd[i]) {
            ("acknowledged", Some(f)) if f > t => late += 1,
            ("acknowledged", Some(_)) => on_time += 1,
            _ => lost += 1,
        }
    }
    assert_eq!(fault["produced"].as_u64().unwrap(), produced);
    assert_eq!(fault["late"].as_u64().unwrap(), late);
    assert_eq!(fault["on_time"].as_u64().unwrap(), on_time);
    let lost_card: u64 = fault["lost"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(lost_card, lost);
    // The ECG patches kept theirs; the oximeters could not.
    assert!(late > 0 && lost > 0, "late {late}, lost {lost}");
    // The stack noticed within minutes, and was right to.
    let ttd = fault["time_to_detect_ms"].as_i64().expect("detected");
    assert!(ttd <= 3 * MIN, "{ttd}");
    let gap = card["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "data_gap")
        .unwrap();
    assert!(gap["detected"].as_u64().unwrap() > 0);

    // The sepsis went on while W2's data could not arrive: flagged; nothing else is.
    let flagged: Vec<&serde_json::Value> = card["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["during_outage"] == true)
        .collect();
    assert!(!flagged.is_empty());
    assert!(
        flagged
            .iter()
            .all(|c| c["patient"].as_str().is_some_and(|p| p.contains("W2"))
                && c["onset_ms"].as_i64().unwrap() < end),
        "{flagged:?}"
    );

    // Offline, the same scorecard byte for byte.
    let before = std::fs::read(out.join("scorecard.json")).unwrap();
    let o = wardtwin(&["score", out.to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(std::fs::read(out.join("scorecard.json")).unwrap(), before);
    let report = String::from_utf8_lossy(&o.stdout);
    assert!(
        report.contains("drill       #1 wifi_outage W2 03:00-03:20: 49 devices"),
        "{report}"
    );
}

#[test]
fn drills_lists_the_drill_library_with_faults_and_gates() {
    let o = wardtwin(&["drills"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for name in [
        "drill-ward-wifi-night",
        "drill-gateway-power",
        "drill-flapping-uplink",
        "drill-battery-wave",
        "drill-clock-step",
        "drill-broker-restart",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    assert!(
        text.contains("fault  wifi_outage 20m W2 at 03:00"),
        "{text}"
    );
    assert!(
        text.contains("gate   time_to_detect_p90.data_gap"),
        "{text}"
    );
    assert!(
        text.contains("fault  broker_restart 3m (no persistence) site at 03:00"),
        "{text}"
    );
    // The scenarios without faults are not drills.
    assert!(!text.contains("quickstart"), "{text}");
}

#[test]
fn an_ad_hoc_fault_joins_the_timeline_and_a_bad_one_is_refused_with_what_was_expected() {
    let dir = temp_dir("adhoc-fault");
    let out = dir.path().join("run");
    let o = run_scenario(
        "quickstart",
        &out,
        &[
            "--duration",
            "1h",
            "--fault",
            "uplink W1 down 10m at 20m",
            "--fault",
            "clock W1-03 pulse_oximeter step -5m at 30m",
        ],
    );
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.contains("  fault         uplink_outage W1 00:20-00:30\n")
            && summary.contains("  fault         clock_step spo2-W1-03 00:30\n"),
        "{summary}"
    );
    let faults = read_parquet(out.join("faults.parquet"));
    assert_eq!(str_values(&faults, "kind"), ["uplink_outage", "clock_step"]);
    assert_eq!(str_values(&faults, "device_id"), ["spo2-W1-03"]);
    let cond = read_parquet(out.join("conditions.parquet"));
    assert!(str_values(&cond, "class").contains(&"gateway_offline".to_string()));

    for (spec, says) in [
        ("uplink W9 down 10m at 20m", "no ward `W9`"),
        ("uplink W1 sideways at 20m", "expected one of"),
        ("wifi W1 down 10m at 30h", "not inside the run"),
    ] {
        let o = run_unchecked("quickstart", &out, &["--fault", spec]);
        assert_eq!(o.status.code(), Some(2), "{spec}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{spec}: {err}");
    }
}
