//! The testbench end to end: oracle, silent and delayed systems scored against a real run's
//! ground truth; the reference stack through the embedded broker with passing and failing
//! gates; offline re-scoring byte for byte.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use super::support::*;

/// The ground truth's conditions (`conditions.parquet`) as `(subject, class, severity, onset_ms,
/// transient)`.
fn conditions(run: &Path) -> Vec<(String, String, String, i64, bool)> {
    let df = read_parquet(run.join("conditions.parquet"));
    let s = |c: &str| -> Vec<String> {
        df.column(c)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap().to_string())
            .collect()
    };
    let onset: Vec<i64> = time_values(&df, "onset_time")
        .into_iter()
        .map(|v| v.unwrap())
        .collect();
    let transient: Vec<bool> = df
        .column("transient")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect();
    let (subject, class, severity) = (s("subject_id"), s("class"), s("severity"));
    (0..df.height())
        .map(|i| {
            (
                subject[i].clone(),
                class[i].clone(),
                severity[i].clone(),
                onset[i],
                transient[i],
            )
        })
        .collect()
}

fn iso(ms: i64) -> String {
    wardtwin_sim::time::format_iso_ms(ms)
}

/// An alerts file in the run-folder log format: one alert per non-transient condition, arriving
/// `delay_ms` after its onset and claiming the true onset as its start.
fn oracle(run: &Path, file: &Path, delay_ms: i64, extra_lines: &[&str]) {
    let mut f = std::fs::File::create(file).unwrap();
    for (i, (subject, class, severity, onset, transient)) in conditions(run).into_iter().enumerate()
    {
        if transient {
            continue;
        }
        let alert = json!({"v": 1, "type": "alert", "alert_id": format!("oracle-{i}"),
            "subject": subject, "class": class, "priority": severity, "began": iso(onset)});
        let line = json!({"arrival": iso(onset + delay_ms), "topic": "oracle",
            "payload": alert.to_string()});
        writeln!(f, "{line}").unwrap();
    }
    for l in extra_lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn scorecard(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("scorecard.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn score(run: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "score",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    wardtwin(&args)
}

fn overall(card: &Value, k: &str) -> Value {
    card["overall"][k].clone()
}

#[test]
fn an_oracle_scores_sensitivity_one_with_no_false_alerts_and_malformed_lines_are_listed() {
    let run = quickstart_run();
    let tmp = temp_dir("oracle");
    let file = tmp.path().join("oracle.jsonl");
    let unknown = json!({"arrival": "2026-03-02T01:00:00.000Z", "payload":
        {"v":1,"type":"alert","alert_id":"x","subject":"P-NOBODY","class":"deterioration",
         "priority":"high","began":"2026-03-02T01:00:00.000Z"}})
    .to_string();
    oracle(
        run,
        &file,
        0,
        &[
            "{broken",
            "{\"arrival\":\"2026-03-02T01:00:00.000Z\",\"payload\":\"{}\"}",
            &unknown,
        ],
    );
    let o = score(run, tmp.path(), &["--alerts", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let card = scorecard(tmp.path());
    let conditions = overall(&card, "conditions").as_u64().unwrap();
    assert!(conditions >= 5, "quickstart has conditions: {conditions}");
    assert_eq!(overall(&card, "detected").as_u64(), Some(conditions));
    assert_eq!(overall(&card, "sensitivity"), json!(1.0));
    assert_eq!(overall(&card, "false_alerts"), json!(0));
    assert_eq!(overall(&card, "ppv"), json!(1.0));
    assert_eq!(overall(&card, "latency_max_ms"), json!(0));
    // Every class the oracle alerted on scores perfectly, deterioration included.
    let det = card["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "deterioration")
        .unwrap();
    assert_eq!(det["sensitivity"], json!(1.0));
    // Broken lines are counted and listed, not fatal.
    let intake = &card["intake"];
    assert_eq!(intake["malformed"], json!(2));
    assert_eq!(intake["unknown_subject"], json!(1));
    let listed: Vec<&str> = intake["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["malformed", "malformed", "unknown_subject"]);
    for f in ["scorecard.md", "scorecard.html", "junit.xml"] {
        assert!(tmp.path().join(f).is_file(), "{f}");
    }
    let html = std::fs::read_to_string(tmp.path().join("scorecard.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("<polyline"),
        "plots drawn"
    );
}

#[test]
fn a_silent_system_detects_nothing_and_a_failing_gate_exits_1_with_a_junit_failure() {
    let run = quickstart_run();
    let tmp = temp_dir("silent");
    let empty = tmp.path().join("none.jsonl");
    std::fs::write(&empty, "").unwrap();
    let o = score(
        run,
        tmp.path(),
        &[
            "--alerts",
            empty.to_str().unwrap(),
            "--gate",
            "sensitivity >= 0.5",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let card = scorecard(tmp.path());
    assert_eq!(overall(&card, "detected"), json!(0));
    assert_eq!(overall(&card, "sensitivity"), json!(0.0));
    assert_eq!(overall(&card, "alerts"), json!(0));
    assert_eq!(card["passed"], json!(false));
    // The added gate is the last test case, and it failed (quickstart's own gates fail too).
    let gates = card["gates"].as_array().unwrap();
    assert_eq!(gates.last().unwrap()["gate"], json!("sensitivity >= 0.5"));
    assert_eq!(gates.last().unwrap()["passed"], json!(false));
    let junit = std::fs::read_to_string(tmp.path().join("junit.xml")).unwrap();
    let failed = gates.iter().filter(|g| g["passed"] == json!(false)).count();
    assert!(junit.contains(&format!("failures=\"{failed}\"")), "{junit}");
    assert!(
        junit.contains("name=\"sensitivity &gt;= 0.5\"><failure"),
        "{junit}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAIL sensitivity >= 0.5"));
}

#[test]
fn an_oracle_delayed_by_60_s_shows_60_s_latency_within_one_step() {
    let run = quickstart_run();
    let tmp = temp_dir("delayed");
    let file = tmp.path().join("delayed.jsonl");
    oracle(run, &file, 60_000, &[]);
    let o = score(run, tmp.path(), &["--alerts", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let card = scorecard(tmp.path());
    let step = card["run"]["step_ms"].as_i64().unwrap();
    for k in ["latency_p50_ms", "latency_p90_ms", "latency_max_ms"] {
        let l = overall(&card, k).as_i64().unwrap();
        assert!((l - 60_000).abs() <= step, "{k} = {l}");
    }
    // The oracle claims the true onset: the whole delay is signal generation.
    assert_eq!(overall(&card, "condition_delay_p50_ms"), json!(0));
    assert_eq!(overall(&card, "signal_delay_p50_ms"), json!(60_000));
    assert_eq!(overall(&card, "sensitivity"), json!(1.0));
}

/// A small ward where one patient deteriorates fast, with gates written in the scenario.
fn gated_scenario(dir: &Path, gates: &[&str]) -> std::path::PathBuf {
    let gates: Vec<String> = gates.iter().map(|g| format!("'{g}'")).collect();
    let text = format!(
        r#"[scenario]
name = "gated"
epoch = 2026-03-02T00:00:00Z
duration = "3h"
seed = 11

[[ward]]
id = "W1"
beds = 6

[[event]]
at = "00:20"
bed = "W1-02"
kind = "sepsis"
develop = "1h"

[scoring]
chronic = "dont_care"
gates = [{}]
"#,
        gates.join(", ")
    );
    let path = dir.join("gated.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `scenario` live with the news2 reference stack (and its ingestion echo) into `out`,
/// expecting exit code `code`; returns stdout, the scorecard and junit.xml.
fn live_scored(scenario: &Path, out: &Path, code: i32) -> (String, Value, String) {
    let o = run_unchecked(
        scenario.to_str().unwrap(),
        out,
        &[
            "--live",
            "--with-reference-stack",
            "news2",
            "--echo-topic",
            "sut/ingested",
            "--speed",
            "1800",
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{stdout}\n{stderr}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    (stdout, scorecard(out), junit)
}

#[test]
fn the_reference_stack_through_the_embedded_broker_passes_and_fails_gates_and_rescores_identically()
{
    let tmp = temp_dir("e2e-score");
    let pass = gated_scenario(
        tmp.path(),
        &[
            "sensitivity.deterioration >= 0.9",
            "latency_p90.deterioration <= \"45m\"",
        ],
    );
    let out = tmp.path().join("pass");
    let (stdout, card, junit) = live_scored(&pass, &out, 0);
    assert!(stdout.contains("scorecard"), "{stdout}");
    assert_eq!(card["passed"], json!(true));
    assert_eq!(card["gates"].as_array().unwrap().len(), 2);
    let det = card["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "deterioration")
        .unwrap();
    assert!(det["detected"].as_u64().unwrap() >= 2, "{det}");
    // Every alert the stack published arrived and is well-formed; the echo covers the run.
    assert!(card["intake"]["received"].as_u64().unwrap() >= 2);
    assert_eq!(card["intake"]["scored"], card["intake"]["received"]);
    let ingestion = &card["ingestion"];
    assert_eq!(ingestion["completeness"], json!(1.0), "{ingestion}");
    assert_eq!(ingestion["unknown"], json!(0));
    assert!(
        junit.contains("failures=\"0\"") && junit.contains("sensitivity.deterioration"),
        "{junit}"
    );

    // Offline, from the recorded files: the same bytes.
    let first = std::fs::read(out.join("scorecard.json")).unwrap();
    std::fs::remove_file(out.join("scorecard.json")).unwrap();
    let o = wardtwin(&["score", out.to_str().unwrap(), "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(out.join("scorecard.json")).unwrap(), first);

    // A gate the stack cannot meet fails the run with exit code 1.
    let fail = gated_scenario(
        tmp.path(),
        &["false_alerts_per_bed_day <= 0", "alerts_per_bed_day <= 0"],
    );
    let (stdout, card, junit) = live_scored(&fail, &tmp.path().join("fail"), 1);
    assert!(stdout.contains("FAIL alerts_per_bed_day"), "{stdout}");
    assert_eq!(card["passed"], json!(false));
    assert_eq!(card["gates"][1]["passed"], json!(false));
    assert!(junit.contains("<failure"), "{junit}");
}

/// The vendor's path: a separate system (here the naive reference stack, its own process)
/// listens to a mosquitto the harness starts; the twin runs against that broker with
/// `--alerts-topic` and scores what the system publishes. The stack stops by itself when the
/// twin's gateways say goodbye.
#[test]
fn an_external_system_on_mosquitto_is_scored_from_its_alerts_topic() {
    use wardtwin_exporters::mqtt::mosquitto::{Mosquitto, MosquittoConfig};
    let tmp = temp_dir("external");
    let broker = Mosquitto::start(tmp.path(), MosquittoConfig::default()).expect("mosquitto");
    let (mut stack, lines) = external_reference_stack(&broker.url(), "naive", "acme/alerts", &[]);

    let scenario = gated_scenario(tmp.path(), &["sensitivity.deterioration >= 0.5"]);
    let out = tmp.path().join("run");
    let o = run_unchecked(
        scenario.to_str().unwrap(),
        &out,
        &[
            "--broker",
            &broker.url(),
            "--alerts-topic",
            "acme/alerts",
            "--speed",
            "1800",
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The stack saw every gateway shut down and exited on its own, reporting what it sent.
    assert!(stack.wait().unwrap().success());
    let report = lines
        .map(|l| l.unwrap())
        .find(|l| l.contains("alerts"))
        .unwrap();
    let card = scorecard(&out);
    let published: u64 = report
        .rsplit(", ")
        .next()
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    assert!(published > 0, "{report}");
    assert_eq!(
        card["intake"]["received"].as_u64(),
        Some(published),
        "{report}"
    );
    assert!(
        card["overall"]["false_alerts"].as_u64().unwrap() > 0,
        "naive alarms falsely"
    );
    assert_eq!(card["passed"], json!(true));
    assert_eq!(card["warnings"], json!([]), "collection ended quietly");
}

/// Groundwork issue: collection used to end silently at its limit. A system still sending
/// alerts when the grace runs out gets a warning on the terminal, in `collection.json` and in
/// the scorecard (which `wardtwin score` reproduces from the run folder).
#[test]
fn alerts_still_arriving_when_collection_ends_are_warned_about() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use wardtwin_exporters::mqtt::mosquitto::{Mosquitto, MosquittoConfig};
    let tmp = temp_dir("cut-off");
    let broker = Mosquitto::start(tmp.path(), MosquittoConfig::default()).expect("mosquitto");
    // A system that never stops alerting: one alert every 20 ms until the test is over.
    let stop = Arc::new(AtomicBool::new(false));
    let mut o = rumqttc::MqttOptions::new("flood", "127.0.0.1", broker.port());
    o.set_keep_alive(std::time::Duration::from_secs(30));
    let (client, mut conn) = rumqttc::Client::new(o, 64);
    let net = std::thread::spawn(move || {
        for ev in conn.iter() {
            if ev.is_err() {
                break;
            }
        }
    });
    let flood = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let alert = json!({"v": 1, "type": "alert", "alert_id": format!("f-{n}"),
                    "subject": "P-W1-01", "class": "deterioration", "priority": "high",
                    "began": "2026-03-02T00:00:00.000Z"});
                let _ = client.publish(
                    "acme/alerts",
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    alert.to_string(),
                );
                n += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = client.disconnect();
        })
    };
    let scenario = gated_scenario(tmp.path(), &[]);
    let out = tmp.path().join("run");
    let o = run_unchecked(
        scenario.to_str().unwrap(),
        &out,
        &[
            "--broker",
            &broker.url(),
            "--alerts-topic",
            "acme/alerts",
            "--speed",
            "max",
            "--alerts-grace",
            "200ms",
        ],
    );
    stop.store(true, Ordering::Relaxed);
    flood.join().unwrap();
    net.join().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("still arriving"), "{stderr}");
    let collection: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("collection.json")).unwrap())
            .unwrap();
    assert_eq!(collection["cut_off"], json!(true), "{collection}");
    let card = scorecard(&out);
    let warnings = card["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{card}");
    assert!(warnings[0].as_str().unwrap().contains("--alerts-grace"));
    assert!(
        std::fs::read_to_string(out.join("scorecard.md"))
            .unwrap()
            .contains("**Warning:**")
    );
}

/// Every class beyond vital signs flows from the twin through the broker to the reference
/// stack and into the scorecard, with no special case in the matcher: a fridge door left ajar,
/// a pump occlusion, a night-time bed exit, a hypoglycaemia, a pump taken to the other ward, a
/// ventilator taken out of the building, a duress call, in one world. The stack places tags
/// from the retained site map.
#[test]
fn the_reference_stack_catches_every_class_beyond_vital_signs_end_to_end() {
    let tmp = temp_dir("e2e-bedside");
    let scenario = tmp.path().join("bedside.toml");
    std::fs::write(
        &scenario,
        r#"[scenario]
name = "bedside"
epoch = 2026-03-02T00:00:00Z
duration = "5h"
seed = 12

[[ward]]
id = "W1"
beds = 4

[[ward]]
id = "W2"
beds = 2

[rtls]
assets_per_bed = 1
staff_per_bed = 0.5
moves_per_asset_day = 0
wanders_per_asset_day = 0
losses_per_asset_day = 0
duress_per_staff_day = 0

[population]
kit = "care"
conditions = { diabetes = 0.0 }

[incidents]
hypos_per_diabetic_day = 0
bed_exits_per_night = 0
occlusions_per_pump_day = 0
compression_lows_per_night = 0

[kit.care]
devices = [
  { kind = "pulse_oximeter" },
  { kind = "cgm", only = "diabetes" },
  { kind = "infusion_pump", share = 0.0 },
  { kind = "bed_exit_sensor", only = "fall_risk" },
]

[[patient]]
bed = "W1-01"
conditions = ["diabetes"]
fall_risk = true

[[fridge]]
id = "W1-VAC"
ward = "W1"
door_openings_per_day = 0

[[event]]
at = "00:40"
fridge = "W1-VAC"
kind = "door_open"
duration = "70m"

[[event]]
at = "01:00"
bed = "W1-01"
kind = "hypoglycaemia"

[[event]]
at = "02:10"
bed = "W1-01"
kind = "pump_occlusion"
duration = "8m"

[[event]]
at = "03:00"
bed = "W1-01"
kind = "bed_exit"
duration = "4m"

[[event]]
at = "00:30"
asset = "W1-IVP01"
kind = "asset_wander"
to = "W2"

[[event]]
at = "01:00"
asset = "W1-VEN01"
kind = "asset_wander"
to = "EXIT"

[[event]]
at = "03:30"
staff = "W1-N01"
kind = "duress"

[scoring]
gates = [
  "sensitivity.cold_chain_excursion >= 1",
  "sensitivity.pump_occlusion >= 1",
  "sensitivity.bed_exit >= 1",
  "sensitivity.hypoglycaemia >= 1",
  "sensitivity.asset_zone_breach >= 1",
  "sensitivity.asset_missing >= 1",
  "sensitivity.duress >= 1",
]
"#,
    )
    .unwrap();
    let out = tmp.path().join("run");
    let (stdout, card, junit) = live_scored(&scenario, &out, 0);
    assert_eq!(card["passed"], json!(true), "{stdout}");
    for class in [
        "cold_chain_excursion",
        "pump_occlusion",
        "bed_exit",
        "hypoglycaemia",
        "asset_zone_breach",
        "asset_missing",
        "duress",
    ] {
        let c = card["classes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["class"] == class)
            .unwrap();
        assert!(c["conditions"].as_u64().unwrap() >= 1, "{c}");
        assert_eq!(c["missed"], json!(0), "{c}");
    }
    assert!(junit.contains("failures=\"0\""), "{junit}");
    // The fridge's logger is on no patient: its condition is about the device itself.
    let fridge = conditions(&out)
        .into_iter()
        .find(|c| c.1 == "cold_chain_excursion")
        .unwrap();
    assert_eq!(fridge.0, "fridge-W1-VAC");
    // The ground truth lists the excursion with its peak, and the door as a non-event.
    let exc = read_parquet(out.join("excursions.parquet"));
    let measures = str_values(&exc, "measure");
    assert!(measures.iter().any(|m| m == "air") && measures.iter().any(|m| m == "product"));
    let arts = read_parquet(out.join("artifacts.parquet"));
    assert!(
        arts.column("kind")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .any(|k| k == Some("door_open"))
    );
    // The tags' true positions are in the ground truth; the ventilator ends outside.
    let pos = read_parquet(out.join("positions.parquet"));
    let dev = pos.column("device_id").unwrap().str().unwrap().clone();
    let zone = pos.column("zone_id").unwrap().str().unwrap().clone();
    let last_zone = (0..pos.height())
        .rev()
        .find(|i| dev.get(*i) == Some("tag-W1-VEN01"))
        .and_then(|i| zone.get(i));
    assert_eq!(last_zone, Some("OUTSIDE"));
}

/// Groundwork issue: the ledger gained a `kind` column when status messages became emissions.
/// A run folder written before that (every ledger row a reading) still scores, with the same
/// delivery figures as its telemetry ledger.
#[test]
fn a_run_folder_from_before_status_emissions_still_scores() {
    use polars_core::prelude::*;
    use polars_io::parquet::write::ParquetWriter;
    let tmp = temp_dir("old-ledger");
    let run = tmp.path().join("run");
    for entry in std::fs::read_dir(quickstart_run()).unwrap() {
        let e = entry.unwrap();
        std::fs::copy(e.path(), run_file(&run, &e.file_name())).unwrap();
    }
    // A silent system: the scenario's gates may fail (exit 1), but scoring works (not 2).
    let fresh = score(&run, &tmp.path().join("fresh"), &[]);
    assert_ne!(
        fresh.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );
    // The older ledger: readings only, no `kind`.
    let df = read_parquet(run.join("emissions.parquet"));
    let keep = df.column("kind").unwrap().str().unwrap().equal("telemetry");
    let mut old = df.filter(&keep).unwrap().drop("kind").unwrap();
    let file = std::fs::File::create(run.join("emissions.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut old).unwrap();
    let aged = score(&run, &tmp.path().join("aged"), &[]);
    assert_eq!(
        aged.status.code(),
        fresh.status.code(),
        "{}",
        String::from_utf8_lossy(&aged.stderr)
    );
    let (a, b) = (
        scorecard(&tmp.path().join("fresh")),
        scorecard(&tmp.path().join("aged")),
    );
    assert_eq!(a["delivery"], b["delivery"]);
    assert_eq!(a["overall"], b["overall"]);
}

fn run_file(run: &Path, name: &std::ffi::OsStr) -> std::path::PathBuf {
    std::fs::create_dir_all(run).unwrap();
    run.join(name)
}

/// `[scoring] chronic = "dont_care"` (written to the manifest) makes the deterioration
/// conditions that did not begin during an episode don't care, and only those; without it
/// (`score`, the default) a silent system misses them.
#[test]
fn chronic_dont_care_spares_only_the_conditions_outside_episodes() {
    let tmp = temp_dir("chronic");
    let scenario = gated_scenario(tmp.path(), &[]);
    let out = tmp.path().join("run");
    super::support::run_scenario(scenario.to_str().unwrap(), &out, &[]);
    let manifest = super::support::read_manifest(&out);
    assert_eq!(manifest["chronic"], json!("dont_care"));
    let silent = tmp.path().join("silent.jsonl");
    std::fs::write(&silent, "").unwrap();
    let outcomes = |card: &Value| -> Vec<(String, String)> {
        card["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["class"] == "deterioration")
            .map(|c| {
                (
                    c["subject"].as_str().unwrap().to_string(),
                    c["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let o = score(
        &out,
        &tmp.path().join("a"),
        &["--alerts", silent.to_str().unwrap()],
    );
    assert!(
        o.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let spared = outcomes(&scorecard(&tmp.path().join("a")));
    // The septic patient's conditions are missed; everyone else's are don't care.
    assert!(
        spared.iter().any(|(p, o)| p == "P-W1-02" && o == "missed"),
        "{spared:?}"
    );
    assert!(
        spared
            .iter()
            .all(|(p, o)| p == "P-W1-02" || o == "dont_care"),
        "{spared:?}"
    );
    // The same run judged with chronic conditions scored.
    let mut m = manifest.clone();
    m.as_object_mut().unwrap().remove("chronic");
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
    let o = score(
        &out,
        &tmp.path().join("b"),
        &["--alerts", silent.to_str().unwrap()],
    );
    assert!(o.status.code().is_some());
    let scored = outcomes(&scorecard(&tmp.path().join("b")));
    assert_eq!(spared.len(), scored.len());
    let chronic = spared
        .iter()
        .zip(&scored)
        .filter(|(a, b)| a.0 != "P-W1-02" && a.1 == "dont_care" && b.1 == "missed")
        .count();
    let elsewhere = scored.iter().filter(|(p, _)| p != "P-W1-02").count();
    assert!(
        elsewhere > 0,
        "six beds for three hours: someone is chronically abnormal"
    );
    assert!(
        chronic > 0 && chronic <= elsewhere,
        "{spared:?}\n{scored:?}"
    );
}
