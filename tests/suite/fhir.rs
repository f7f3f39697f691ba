//! `wardtwin export fhir`: every reading of telemetry.parquet (read with polars) comes back once
//! as an Observation with its value, unit, device time and device; the vital-signs profile's
//! rules hold; an independent validator (FHIR.js, npm `fhir`: `tests/fhir/`) accepts every
//! sampled resource and rejects broken ones; the files are byte-identical whatever the
//! thread count.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use wardtwin_sim::time::format_iso_ms;

use super::support::{read_parquet, run_scenario, temp_dir, wardtwin};

/// A run and its FHIR export.
struct Exported {
    _dir: tempfile::TempDir,
    run: PathBuf,
    fhir: PathBuf,
}

fn export(name: &str, scenario: &str, duration: &str) -> Exported {
    let dir = temp_dir(name);
    let run = dir.path().join("run");
    run_scenario(scenario, &run, &["--duration", duration]);
    let fhir = dir.path().join("fhir");
    let o = wardtwin(&[
        "export",
        "fhir",
        run.to_str().expect("utf-8"),
        "--out",
        fhir.to_str().expect("utf-8"),
        "--truth",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Exported {
        _dir: dir,
        run,
        fhir,
    }
}

/// Quickstart's first 12 h (W1-07's sepsis, probes off, the fridge).
fn quickstart() -> &'static Exported {
    static E: std::sync::OnceLock<Exported> = std::sync::OnceLock::new();
    E.get_or_init(|| export("fhir-quickstart", "quickstart", "12h"))
}

/// hospital-day's first 30 min (every device kind: CGMs, pumps, bed sensors).
fn hospital() -> &'static Exported {
    static E: std::sync::OnceLock<Exported> = std::sync::OnceLock::new();
    E.get_or_init(|| export("fhir-hospital", "hospital-day", "30m"))
}

/// Each resource of `kind`, one line at a time (a big file is never held parsed).
fn each(fhir: &Path, kind: &str, mut f: impl FnMut(serde_json::Value)) {
    use std::io::BufRead;
    let file = std::fs::File::open(fhir.join(format!("{kind}.ndjson")))
        .unwrap_or_else(|e| panic!("{kind}.ndjson: {e}"));
    for line in std::io::BufReader::new(file).lines() {
        f(serde_json::from_str(&line.expect("utf-8")).expect("one resource per line"));
    }
}

/// The metrics the export carries (RTLS and gateway metrics are not clinical observations).
pub(super) const EXPORTED: [&str; 14] = [
    "heart_rate",
    "pulse_rate",
    "resp_rate",
    "spo2",
    "body_temp",
    "bp_systolic",
    "bp_diastolic",
    "bp_mean",
    "glucose",
    "infusion_rate",
    "volume_remaining",
    "bed_occupied",
    "air_temp",
    "product_temp",
];

/// A reading's observation as telemetry.parquet holds it.
#[derive(Debug)]
struct Expected {
    value: Option<f64>,
    unit: String,
    device_time: String,
    status: String,
}

fn telemetry(run: &Path) -> HashMap<(String, u32, String), Expected> {
    let df = read_parquet(run.join("telemetry.parquet"));
    let s = |c: &str| {
        df.column(c)
            .expect(c)
            .str()
            .expect(c)
            .iter()
            .map(|v| v.expect("not null").to_string())
            .collect::<Vec<_>>()
    };
    let (dev, metric, unit, status) = (s("device_id"), s("metric"), s("unit"), s("status"));
    let seq: Vec<u32> = df
        .column("seq")
        .expect("seq")
        .u32()
        .expect("u32")
        .iter()
        .map(|v| v.expect("seq"))
        .collect();
    let value: Vec<Option<f64>> = df
        .column("value")
        .expect("value")
        .f64()
        .expect("f64")
        .iter()
        .collect();
    let t: Vec<i64> = df
        .column("device_time")
        .expect("device_time")
        .datetime()
        .expect("datetime")
        .physical()
        .iter()
        .map(|v| v.expect("time"))
        .collect();
    let mut m = HashMap::new();
    for i in 0..df.height() {
        if !EXPORTED.contains(&metric[i].as_str()) {
            continue;
        }
        let old = m.insert(
            (dev[i].clone(), seq[i], metric[i].clone()),
            Expected {
                value: value[i],
                unit: unit[i].clone(),
                device_time: format_iso_ms(t[i]),
                status: status[i].clone(),
            },
        );
        assert!(old.is_none(), "one row per (device, seq, metric)");
    }
    m
}

/// Checks one observation (or a panel's component) against the row it came from.
fn check(
    expected: &mut HashMap<(String, u32, String), Expected>,
    key: (String, u32, String),
    o: &serde_json::Value,
    part: &serde_json::Value,
) {
    let e = expected
        .remove(&key)
        .unwrap_or_else(|| panic!("{key:?}: not in telemetry.parquet, or exported twice"));
    assert_eq!(o["device"]["reference"], format!("Device/{}", key.0));
    assert_eq!(o["effectiveDateTime"], e.device_time.as_str(), "{key:?}");
    match e.value {
        Some(v) => {
            let q = &part["valueQuantity"];
            assert_eq!(q["value"].as_f64(), Some(v), "{key:?}");
            assert_eq!(q["code"], e.unit.as_str(), "{key:?}");
            assert_eq!(q["system"], "http://unitsofmeasure.org");
        }
        None => {
            assert!(part.get("valueQuantity").is_none(), "{key:?}");
            let reason = &part["dataAbsentReason"]["coding"][0];
            assert_eq!(
                reason["system"],
                "http://terminology.hl7.org/CodeSystem/data-absent-reason"
            );
            let want = match e.status.as_str() {
                "warm_up" => "temp-unknown",
                "occlusion" | "infusion_complete" => "not-applicable",
                _ => "error",
            };
            assert_eq!(reason["code"], want, "{key:?} {}", e.status);
        }
    }
    if e.status != "ok" {
        assert_eq!(
            o["note"][0]["text"],
            format!("device status: {}", e.status).as_str()
        );
    }
}

fn round_trip(e: &Exported) -> usize {
    let mut expected = telemetry(&e.run);
    let total = expected.len();
    let mut absent = 0;
    each(&e.fhir, "Observation", |o| {
        // The chart's rounds have their own test.
        if o["identifier"][0]["system"] == "urn:wardtwin:chart" {
            return;
        }
        let ident = o["identifier"][0]["value"].as_str().expect("identifier");
        assert_eq!(o["identifier"][0]["system"], "urn:wardtwin:emission");
        let parts: Vec<&str> = ident.rsplitn(3, '/').collect();
        let (metric, seq, dev) = (parts[0], parts[1], parts[2]);
        if metric == "battery_pct" {
            return;
        }
        let seq: u32 = seq.parse().expect("seq");
        if metric == "blood_pressure" {
            let comps = o["component"].as_array().expect("components");
            for c in comps {
                let m = c["code"]["text"].as_str().expect("component text");
                absent += usize::from(c.get("dataAbsentReason").is_some());
                check(&mut expected, (dev.into(), seq, m.into()), &o, c);
            }
        } else {
            absent += usize::from(o.get("dataAbsentReason").is_some());
            check(&mut expected, (dev.into(), seq, metric.into()), &o, &o);
        }
    });
    assert!(
        expected.is_empty(),
        "{} of {total} readings not exported, e.g. {:?}",
        expected.len(),
        expected.iter().next()
    );
    absent
}

#[test]
fn every_reading_comes_back_once_with_its_value_unit_time_and_device() {
    let absent = round_trip(quickstart());
    assert!(absent > 50, "probe-off and lead-off readings: {absent}");
    // Every device kind of the hospital.
    round_trip(hospital());
    let mut kinds = std::collections::BTreeSet::new();
    each(&hospital().fhir, "Observation", |o| {
        let text = o["code"]["text"].as_str().unwrap_or_default().to_string();
        // The fridge's probe is an observation of the fridge logger, not of a patient.
        if text == "product_temp" {
            assert!(
                o["subject"]["reference"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("Device/"))
            );
        }
        kinds.insert(text);
    });
    for m in ["glucose", "infusion_rate", "bed_occupied", "product_temp"] {
        assert!(kinds.contains(m), "{m} is exported: {kinds:?}");
    }
}

#[test]
fn each_status_message_gives_its_battery_level() {
    let e = quickstart();
    let df = read_parquet(e.run.join("device_status.parquet"));
    let with = df
        .column("battery_pct")
        .expect("battery_pct")
        .f32()
        .expect("f32")
        .iter()
        .flatten()
        .count();
    let mut battery = 0;
    each(&e.fhir, "Observation", |o| {
        if o["code"]["coding"][0]["code"] == "battery_pct" {
            battery += 1;
            assert!(
                o["valueQuantity"]["code"] == "%"
                    && o["subject"] == o["device"]
                    && o.get("category").is_none(),
                "{o}"
            );
        }
    });
    assert_eq!(battery, with);
}

/// The vital-signs profile (FHIR R4, http://hl7.org/fhir/StructureDefinition/vitalsigns and
/// its children): the LOINC code and UCUM unit each vital sign must carry.
const PROFILE: [(&str, &str, &str); 6] = [
    ("heart_rate", "8867-4", "/min"),
    ("pulse_rate", "8867-4", "/min"),
    ("resp_rate", "9279-1", "/min"),
    ("spo2", "2708-6", "%"),
    ("body_temp", "8310-5", "Cel"),
    ("blood pressure panel", "85354-9", ""),
];

fn loinc_codes(code: &serde_json::Value) -> Vec<&str> {
    code["coding"]
        .as_array()
        .expect("coding")
        .iter()
        .filter(|c| c["system"] == "http://loinc.org")
        .filter_map(|c| c["code"].as_str())
        .collect()
}

#[test]
fn vital_signs_follow_the_r4_vital_signs_profile() {
    let mut seen = HashMap::new();
    each(&quickstart().fhir, "Observation", |o| {
        if o["category"][0]["coding"][0]["code"] != "vital-signs" {
            return;
        }
        assert_eq!(
            o["category"][0]["coding"][0]["system"],
            "http://terminology.hl7.org/CodeSystem/observation-category"
        );
        assert_eq!(o["status"], "final");
        assert!(
            o["subject"]["reference"]
                .as_str()
                .is_some_and(|s| s.starts_with("Patient/")),
            "{o}"
        );
        assert!(o["effectiveDateTime"].is_string());
        let text = o["code"]["text"].as_str().expect("text");
        let (_, loinc, unit) = PROFILE
            .iter()
            .find(|p| p.0 == text)
            .unwrap_or_else(|| panic!("{text} is not a vital sign of the profile"));
        assert!(loinc_codes(&o["code"]).contains(loinc), "{o}");
        // Every vital sign carries its IEEE 11073 MDC coding too (device observations).
        assert!(
            o["code"]["coding"]
                .as_array()
                .expect("coding")
                .iter()
                .any(|c| c["system"] == "urn:iso:std:iso:11073:10101")
        );
        *seen.entry(text.to_string()).or_insert(0) += 1;
        if *loinc == "85354-9" {
            // Blood pressure: no value of its own, a systolic and a diastolic component.
            assert!(o.get("valueQuantity").is_none());
            let comps = o["component"].as_array().expect("components");
            let codes: Vec<&str> = comps.iter().flat_map(|c| loinc_codes(&c["code"])).collect();
            assert!(
                codes.contains(&"8480-6") && codes.contains(&"8462-4"),
                "{o}"
            );
            for c in comps {
                match c.get("valueQuantity") {
                    Some(q) => assert_eq!(q["code"], "mm[Hg]"),
                    None => assert!(c.get("dataAbsentReason").is_some(), "{o}"),
                }
            }
        } else {
            match o.get("valueQuantity") {
                Some(q) => {
                    assert_eq!(q["system"], "http://unitsofmeasure.org");
                    assert_eq!(q["code"], *unit, "{o}");
                }
                None => assert!(o.get("dataAbsentReason").is_some(), "{o}"),
            }
        }
    });
    for (name, _, _) in PROFILE {
        assert!(
            seen.get(name).copied().unwrap_or(0) > 10,
            "{name}: {seen:?}"
        );
    }
}

/// Runs FHIR.js on `files`; its JSON answer.
pub(super) fn validate(files: &[&Path]) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fhir");
    assert!(
        root.join("node_modules/fhir").is_dir(),
        "the validator is not installed: npm ci --prefix tests/fhir (.ci/run does)"
    );
    let out = Command::new("node")
        .arg(root.join("validate.js"))
        .args(files)
        .output()
        .expect("node (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the validator prints JSON")
}

/// The resource types other than Observation (validated whole).
const OTHER_TYPES: [&str; 6] = [
    "Location",
    "Patient",
    "Encounter",
    "Device",
    "Flag",
    "DetectedIssue",
];

#[test]
fn an_independent_validator_accepts_every_sampled_resource_and_rejects_broken_ones() {
    let dir = temp_dir("fhir-validate");
    let mut files = Vec::new();
    let mut observations = 0;
    for e in [quickstart(), hospital()] {
        for kind in OTHER_TYPES {
            files.push(e.fhir.join(format!("{kind}.ndjson")));
        }
        // Observations: every one that is not a plain reading (panels, absent values, notes,
        // batteries, non-vital kinds), and every 50th of the rest.
        let mut sample: Vec<String> = Vec::new();
        let mut i = 0;
        each(&e.fhir, "Observation", |o| {
            if i % 50 == 0
                || o.get("component").is_some()
                || o.get("dataAbsentReason").is_some()
                || o.get("note").is_some()
                || o["category"][0]["coding"][0]["code"] != "vital-signs"
            {
                sample.push(o.to_string());
            }
            i += 1;
        });
        observations += sample.len();
        let path = dir
            .path()
            .join(format!("observations-{}.ndjson", files.len()));
        std::fs::write(&path, sample.join("\n")).expect("sample");
        files.push(path);
    }
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let r = validate(&refs);
    assert_eq!(r["invalid"], serde_json::json!([]), "{r}");
    assert_eq!(
        r["checked"]["Observation"].as_u64(),
        Some(observations as u64)
    );
    for kind in OTHER_TYPES {
        assert!(r["checked"][kind].as_u64() > Some(0), "{kind}: {r}");
    }

    // The validator can fail: each broken copy of a valid Observation is rejected.
    let mut good = None;
    each(&quickstart().fhir, "Observation", |o| {
        good.get_or_insert(o);
    });
    let good = good.expect("an observation");
    type Break = Box<dyn Fn(&mut serde_json::Value)>;
    let broken: Vec<(&str, Break)> = vec![
        (
            "no status",
            Box::new(|o| {
                o.as_object_mut().expect("object").remove("status");
            }),
        ),
        (
            "a status outside its value set",
            Box::new(|o| o["status"] = "bogus".into()),
        ),
        (
            "no code",
            Box::new(|o| {
                o.as_object_mut().expect("object").remove("code");
            }),
        ),
        (
            "a date that is not one",
            Box::new(|o| o["effectiveDateTime"] = "yesterday".into()),
        ),
        (
            "a value that is not a number",
            Box::new(|o| o["valueQuantity"]["value"] = "72 bpm".into()),
        ),
        (
            "an unknown element",
            Box::new(|o| o["heartRate"] = 72.into()),
        ),
        (
            "a reference as a string",
            Box::new(|o| o["subject"] = "P-W1-05".into()),
        ),
    ];
    let path = dir.path().join("broken.ndjson");
    let lines: Vec<String> = broken
        .iter()
        .map(|(_, f)| {
            let mut o = good.clone();
            f(&mut o);
            o.to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n")).expect("broken");
    let r = validate(&[&path]);
    let rejected: Vec<u64> = r["invalid"]
        .as_array()
        .expect("invalid")
        .iter()
        .filter_map(|i| i["line"].as_u64())
        .collect();
    for (i, (what, _)) in broken.iter().enumerate() {
        assert!(
            rejected.contains(&(i as u64 + 1)),
            "{what} was accepted: {r}"
        );
    }
}

#[test]
fn the_export_is_byte_identical_whatever_the_thread_count_and_has_its_bulk_manifest() {
    let e = hospital();
    let other = temp_dir("fhir-threads");
    let one = other.path().join("one");
    let o = Command::new(env!("CARGO_BIN_EXE_wardtwin"))
        .env("RAYON_NUM_THREADS", "1")
        .args(["export", "fhir", "--quiet", "--truth", "--out"])
        .arg(&one)
        .arg(&e.run)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(e.fhir.join("manifest.json")).expect("manifest.json"),
    )
    .expect("JSON");
    let outputs = manifest["output"].as_array().expect("output");
    assert_eq!(outputs.len(), 7, "{manifest}");
    assert_eq!(manifest["requiresAccessToken"], false);
    assert!(manifest["transactionTime"].is_string());
    for out in outputs {
        let file = out["url"].as_str().expect("url");
        let a = std::fs::read(e.fhir.join(file)).expect("file");
        let b = std::fs::read(one.join(file)).expect("file");
        assert!(a == b, "{file} differs with one thread");
        let lines = a.iter().filter(|&&c| c == b'\n').count() as u64;
        assert_eq!(out["count"].as_u64(), Some(lines), "{file}");
    }
}

#[test]
fn a_folder_that_is_not_a_run_is_an_error_with_exit_2() {
    let dir = temp_dir("fhir-bad");
    let o = wardtwin(&["export", "fhir", dir.path().to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("manifest.json"), "{err}");
}

/// Every round the nurses charted (charted.parquet) is exported once as its nine Observations,
/// with the values charted; a missed round exports nothing.
#[test]
fn every_charted_round_comes_back_as_its_nine_observations() {
    let e = quickstart();
    let expected: HashMap<(String, String), (f64, String)> = super::support::charted_rounds(&e.run)
        .into_iter()
        .map(|((p, t), v)| ((p, t.to_string()), v))
        .collect();
    assert!(expected.len() > 20, "{} rounds", expected.len());
    let mut items: HashMap<(String, String), Vec<String>> = HashMap::new();
    let mut got: HashMap<(String, String), (f64, String)> = HashMap::new();
    each(&e.fhir, "Observation", |o| {
        if o["identifier"][0]["system"] != "urn:wardtwin:chart" {
            return;
        }
        let ident = o["identifier"][0]["value"].as_str().expect("identifier");
        let mut parts = ident.rsplitn(3, '/');
        let (item, t, p) = (
            parts.next().unwrap().to_string(),
            parts.next().unwrap().to_string(),
            parts.next().unwrap().to_string(),
        );
        assert_eq!(o["subject"]["identifier"]["value"], p.as_str(), "{o}");
        let key = (p, t);
        let entry = got.entry(key.clone()).or_insert((f64::NAN, String::new()));
        match item.as_str() {
            "heart_rate" => entry.0 = o["valueQuantity"]["value"].as_f64().expect("pulse"),
            "consciousness" => {
                entry.1 = o["valueCodeableConcept"]["coding"][0]["code"]
                    .as_str()
                    .expect("ACVPU")
                    .to_string()
            }
            _ => {}
        }
        items.entry(key).or_default().push(item);
    });
    assert_eq!(got, expected, "every charted round, with its values");
    for (k, v) in &items {
        let mut v = v.clone();
        v.sort();
        v.dedup();
        assert_eq!(v.len(), 9, "{k:?}: {v:?}");
    }
}
