//! Heart rhythms end to end: the cardiac-ward scenario's rhythm spells as ground truth, the
//! arrhythmia conditions, the numbers they move, and the WFDB records of `--waveforms` read
//! back with PhysioNet's own `wfdb` package; byte-identical across thread counts, and the same
//! ground truth with or without waveforms.

use std::path::Path;

use serde_json::Value;

use super::support::*;

/// `(bed, rhythm, onset_ms, end_ms, origin)` of `rhythms.parquet`.
fn rhythms(run: &Path) -> Vec<(String, String, i64, Option<i64>, String)> {
    let df = read_parquet(run.join("rhythms.parquet"));
    let (bed, rhythm, origin) = (
        str_values(&df, "bed_id"),
        str_values(&df, "rhythm"),
        str_values(&df, "origin"),
    );
    let onset = time_values(&df, "onset_time");
    let end = time_values(&df, "end_time");
    (0..df.height())
        .map(|i| {
            (
                bed[i].clone(),
                rhythm[i].clone(),
                onset[i].unwrap(),
                end[i],
                origin[i].clone(),
            )
        })
        .collect()
}

const EPOCH: i64 = 1_772_409_600_000; // 2026-03-02T00:00:00Z
const H: i64 = 3_600_000;
const MIN: i64 = 60_000;

/// wfdb's view of a record, reduced in Python to what the test checks: the header's figures,
/// every annotation, and per second the ECG's range and the pleth's peak.
fn wfdb_view(record: &Path) -> Value {
    let script = r#"
import sys, json, wfdb, numpy as np
r = wfdb.rdrecord(sys.argv[1], smooth_frames=False)
a = wfdb.rdann(sys.argv[1], 'atr')
ecg, pleth = r.e_p_signal[0], r.e_p_signal[1]
secs = len(ecg) // 250
print(json.dumps({
  'fs': r.fs, 'frames': r.sig_len, 'spf': [int(x) for x in r.samps_per_frame],
  'base': str(r.base_time), 'ann_fs': a.fs, 'n_ecg': len(ecg), 'n_pleth': len(pleth),
  'samples': [int(x) for x in a.sample], 'symbols': list(a.symbol),
  'aux': list(a.aux_note),
  'ecg_range': [float(np.ptp(ecg[i*250:(i+1)*250])) for i in range(secs)],
  'pleth_max': [float(np.max(pleth[i*125:(i+1)*125])) for i in range(secs)],
}))
"#;
    python_json(script, record)
}

/// The first 5½ hours of cardiac-ward with W1-03's and W1-14's waveforms: W1-03's paroxysm of
/// AF (03:10 for 2 h) and W1-14's VF (04:00 for 3 min) are spells of the ground truth and
/// conditions; in the records, AF's beats come irregularly with no P waves and an `(AFIB`
/// rhythm annotation, VF has no beats, a flat pleth and a `(VFL` annotation, and the
/// oximeter's SpO2 goes invalid in it.
#[test]
fn cardiac_ward_rhythms_are_ground_truth_and_their_waveforms_read_back_with_wfdb() {
    let tmp = temp_dir("cardiac");
    let run = tmp.path().join("cw");
    run_scenario(
        "cardiac-ward",
        &run,
        &["--duration", "5h30m", "--waveforms", "W1-03,W1-14"],
    );
    let spells = rhythms(&run);
    let af = spells
        .iter()
        .find(|s| s.0 == "W1-03" && s.1 == "atrial_fibrillation" && s.4 == "scheduled")
        .expect("W1-03's AF");
    assert_eq!(
        (af.2, af.3),
        (EPOCH + 3 * H + 10 * MIN, Some(EPOCH + 5 * H + 10 * MIN))
    );
    let vf = spells
        .iter()
        .find(|s| s.0 == "W1-14" && s.1 == "ventricular_fibrillation")
        .expect("W1-14's VF");
    assert_eq!((vf.2, vf.3), (EPOCH + 4 * H, Some(EPOCH + 4 * H + 3 * MIN)));

    // The conditions: VF for 3 min (not transient), new AF.
    let df = read_parquet(run.join("conditions.parquet"));
    let class = str_values(&df, "class");
    let subject = str_values(&df, "subject_id");
    let onset = time_values(&df, "onset_time");
    let find = |c: &str, t: i64| {
        (0..df.height())
            .any(|i| class[i] == c && onset[i] == Some(t) && subject[i].starts_with('P'))
    };
    assert!(find("ventricular_flutter_fib", EPOCH + 4 * H), "{class:?}");
    assert!(
        find("atrial_fibrillation", EPOCH + 3 * H + 10 * MIN),
        "{class:?}"
    );

    // In VF, the oximeter on W1-14 reports no SpO2 (low perfusion), and did before it.
    let tel = read_parquet(run.join("telemetry.parquet"));
    let dev = str_values(&tel, "device_id");
    let metric = str_values(&tel, "metric");
    let status = str_values(&tel, "status");
    let t = time_values(&tel, "sim_time");
    let in_vf = |i: usize| t[i].is_some_and(|t| t >= vf.2 + 20_000 && t < vf.3.unwrap());
    let spo2: Vec<usize> = (0..tel.height())
        .filter(|&i| dev[i].contains("W1-14") && metric[i] == "spo2")
        .collect();
    assert!(spo2.iter().filter(|&&i| in_vf(i)).count() >= 5);
    assert!(
        spo2.iter()
            .filter(|&&i| in_vf(i))
            .all(|&i| status[i] == "low_perfusion"),
        "SpO2 in VF"
    );
    assert!(spo2.iter().any(|&i| !in_vf(i) && status[i] == "ok"));

    // The records, as wfdb reads them.
    let hours = 5.5;
    let vfr = wfdb_view(&run.join("waveforms/W1-14"));
    assert_eq!(vfr["fs"], serde_json::json!(62.5));
    assert_eq!(vfr["spf"], serde_json::json!([4, 2, 1]));
    assert_eq!(vfr["ann_fs"].as_f64(), Some(250.0));
    assert_eq!(vfr["base"], serde_json::json!("00:00:00"));
    assert_eq!(vfr["frames"].as_u64(), Some((hours * 3600.0 * 62.5) as u64));
    assert_eq!(vfr["n_ecg"].as_u64(), Some((hours * 3600.0 * 250.0) as u64));
    let samples: Vec<i64> = serde_json::from_value(vfr["samples"].clone()).unwrap();
    let symbols: Vec<String> = serde_json::from_value(vfr["symbols"].clone()).unwrap();
    let aux: Vec<String> = serde_json::from_value(vfr["aux"].clone()).unwrap();
    let vf_start = 4 * 3600 * 250;
    let vf_end = vf_start + 180 * 250;
    let labels: Vec<(i64, &str)> = (0..samples.len())
        .filter(|&i| symbols[i] == "+")
        .map(|i| (samples[i], aux[i].trim_end_matches('\0')))
        .collect();
    assert!(labels.contains(&(vf_start, "(VFL")), "{labels:?}");
    assert!(
        labels
            .iter()
            .any(|(s, l)| *s == vf_end && (*l == "(N" || *l == "(SBR")),
        "{labels:?}"
    );
    let beats_in_vf = (0..samples.len())
        .filter(|&i| symbols[i] != "+" && samples[i] >= vf_start && samples[i] < vf_end)
        .count();
    assert_eq!(beats_in_vf, 0, "no beats in VF");
    let beats = (0..samples.len()).filter(|&i| symbols[i] == "N").count() as f64;
    let rate = beats / (hours * 60.0 - 3.0);
    assert!((40.0..130.0).contains(&rate), "{rate} beats/min");
    let ecg_range: Vec<f64> = serde_json::from_value(vfr["ecg_range"].clone()).unwrap();
    let pleth_max: Vec<f64> = serde_json::from_value(vfr["pleth_max"].clone()).unwrap();
    let vf_secs = 4 * 3600 + 5..4 * 3600 + 175;
    assert!(
        vf_secs.clone().all(|s| pleth_max[s] < 0.01),
        "VF has no pulse"
    );
    assert!(vf_secs.clone().all(|s| ecg_range[s] > 0.2), "VF undulates");
    assert!(pleth_max[3600] > 0.2, "a pulse before");

    // W1-03: AF beats are irregular (RR CV in AF's range), sinus beats before are not.
    let afr = wfdb_view(&run.join("waveforms/W1-03"));
    let samples: Vec<i64> = serde_json::from_value(afr["samples"].clone()).unwrap();
    let symbols: Vec<String> = serde_json::from_value(afr["symbols"].clone()).unwrap();
    let aux: Vec<String> = serde_json::from_value(afr["aux"].clone()).unwrap();
    let af_start = (3 * 3600 + 600) * 250;
    assert!(
        (0..samples.len())
            .any(|i| samples[i] == af_start && aux[i].trim_end_matches('\0') == "(AFIB")
    );
    let cv = |from: i64, to: i64| {
        let r: Vec<f64> = (0..samples.len())
            .filter(|&i| symbols[i] == "N" && samples[i] >= from && samples[i] < to)
            .map(|i| samples[i] as f64 * 4.0)
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| w[1] - w[0])
            .collect();
        let m = r.iter().sum::<f64>() / r.len() as f64;
        (r.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / r.len() as f64).sqrt() / m
    };
    let in_af = cv(af_start + 60 * 250, af_start + 3600 * 250);
    let before = cv(af_start - 3600 * 250, af_start - 60 * 250);
    assert!((0.12..0.35).contains(&in_af), "AF RR CV {in_af:.3}");
    assert!(before < 0.1, "sinus RR CV {before:.3}");

    // An oracle that alerts every arrhythmia condition at its onset scores CinC 1.0.
    let file = tmp.path().join("oracle.jsonl");
    let mut lines = String::new();
    for i in 0..df.height() {
        let transient = df
            .column("transient")
            .unwrap()
            .bool()
            .unwrap()
            .get(i)
            .unwrap();
        if transient {
            continue;
        }
        let alert = serde_json::json!({"v": 1, "type": "alert", "alert_id": format!("o-{i}"),
            "subject": subject[i], "class": class[i],
            "priority": str_values(&df, "severity")[i], "began": iso(onset[i].unwrap())});
        let line = serde_json::json!({"arrival": iso(onset[i].unwrap()), "topic": "oracle",
            "payload": alert.to_string()});
        lines.push_str(&format!("{line}\n"));
    }
    std::fs::write(&file, lines).unwrap();
    let scored = tmp.path().join("scored");
    let score = |gate: &str| {
        wardtwin(&[
            "score",
            run.to_str().unwrap(),
            "--alerts",
            file.to_str().unwrap(),
            "--out",
            scored.to_str().unwrap(),
            "--gate",
            gate,
        ])
    };
    // A gate on the CinC score fails when it should and passes at 1.0. (The scenario's own
    // gates are judged too: those of classes this part of the day lacks have no value.)
    let gate_passed = |gate: &str| {
        let o = score(gate);
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let card: Value =
            serde_json::from_str(&std::fs::read_to_string(scored.join("scorecard.json")).unwrap())
                .unwrap();
        card["gates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["gate"] == gate)
            .unwrap_or_else(|| panic!("{gate}: {}", card["gates"]))["passed"]
            .as_bool()
            .unwrap()
    };
    assert!(!gate_passed("cinc_score > 1"));
    assert!(gate_passed("cinc_score >= 1"));
    let card: Value =
        serde_json::from_str(&std::fs::read_to_string(scored.join("scorecard.json")).unwrap())
            .unwrap();
    let cinc = &card["cinc"];
    assert_eq!(cinc["overall"]["score"], serde_json::json!(1.0), "{cinc}");
    assert!(cinc["overall"]["tp"].as_u64().unwrap() >= 1, "{cinc}");
    let md = std::fs::read_to_string(scored.join("scorecard.md")).unwrap();
    assert!(md.contains("## Arrhythmias (PhysioNet/CinC 2015)"), "{md}");
}

fn iso(ms: i64) -> String {
    wardtwin_sim::time::format_iso_ms(ms)
}

/// With waveforms: the WFDB files are byte-identical whatever the thread count, and every
/// ground-truth and telemetry file is byte-identical to a run without them.
#[test]
fn waveforms_are_deterministic_and_change_no_other_output() {
    let tmp = temp_dir("cardiac-det");
    let dirs = ["none", "t1", "t2"];
    for (name, extra) in [
        ("none", vec!["--threads", "2"]),
        ("t1", vec!["--threads", "1", "--waveforms", "all"]),
        ("t2", vec!["--threads", "2", "--waveforms", "all"]),
    ] {
        let mut args = vec!["--duration", "30m"];
        args.extend(extra);
        run_scenario("cardiac-ward", &tmp.path().join(name), &args);
    }
    let listing = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let w1 = tmp.path().join("t1/waveforms");
    let names = listing(&w1);
    assert_eq!(names.len(), 16 * 3, "{names:?}");
    assert_eq!(names, listing(&tmp.path().join("t2/waveforms")));
    for n in &names {
        let a = std::fs::read(w1.join(n)).unwrap();
        let b = std::fs::read(tmp.path().join("t2/waveforms").join(n)).unwrap();
        assert!(a == b, "waveforms/{n} differs between --threads 1 and 2");
    }
    for f in listing(&tmp.path().join(dirs[0])) {
        if f == "manifest.json" {
            continue;
        }
        let a = std::fs::read(tmp.path().join("none").join(&f)).unwrap();
        let b = std::fs::read(tmp.path().join("t1").join(&f)).unwrap();
        assert!(a == b, "{f} differs with --waveforms");
    }
    let m = read_manifest(&tmp.path().join("t1"));
    let entry = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["table"] == "waveforms")
        .expect("manifest lists the waveforms");
    assert_eq!(entry["path"], "waveforms/");
    assert_eq!(entry["rows"].as_u64(), Some(16 * 30 * 60 * 125 / 2));
}

/// Live: the waveform frames on the wire (ECG II, pleth, respiration, each on its device's
/// `waveform` topic), and the reference stack's arrhythmia detector on them: it catches a VF
/// and an asystole with arrest, and falls for a lead off (a flat line: a false asystole the
/// scorecard attributes to the artifact). Scored with the CinC 2015 formula.
#[test]
fn the_reference_stack_catches_arrhythmias_on_the_wire_and_falls_for_a_lead_off() {
    let tmp = temp_dir("cardiac-live");
    let scenario = tmp.path().join("arrest.toml");
    std::fs::write(
        &scenario,
        "[scenario]\nname = \"arrest\"\nepoch = 2026-03-02T00:00:00Z\nduration = \"20m\"\nseed = 3\n\n\
         [[ward]]\nid = \"W1\"\nbeds = 3\n\n[population]\nkit = \"tele\"\n\
         [kit.tele]\nwaveforms = true\ndevices = [{ kind = \"ecg_patch\", interval = \"5s\" }, \
         { kind = \"pulse_oximeter\", interval = \"15s\" }]\n\
         [artifacts]\nmotion_per_device_day = 0\nprobe_off_per_device_day = 0\ndevice_failures = 0\n\
         [[event]]\nat = \"5m\"\nbed = \"W1-01\"\nkind = \"vf\"\nduration = \"2m\"\n\
         [[event]]\nat = \"12m\"\nbed = \"W1-02\"\nkind = \"asystole\"\nduration = \"1m\"\nthen = \"arrest\"\n\
         [[event]]\nat = \"8m\"\nbed = \"W1-03\"\nkind = \"probe_off\"\ndevice = \"ecg_patch\"\nduration = \"1m\"\n",
    )
    .unwrap();
    let out = tmp.path().join("run");
    run_scenario(
        scenario.to_str().unwrap(),
        &out,
        &[
            "--live",
            "--with-reference-stack",
            "news2",
            "--speed",
            "max",
        ],
    );
    let card: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("scorecard.json")).unwrap())
            .unwrap();
    let class = |name: &str| {
        card["classes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["class"] == name)
            .unwrap()
            .clone()
    };
    let vf = class("ventricular_flutter_fib");
    assert_eq!(
        (vf["conditions"].as_u64(), vf["detected"].as_u64()),
        (Some(1), Some(1)),
        "{vf}"
    );
    assert!(vf["latency_max_ms"].as_i64().unwrap() <= 15_000, "{vf}");
    let asys = class("asystole");
    assert_eq!(
        (asys["conditions"].as_u64(), asys["detected"].as_u64()),
        (Some(1), Some(1)),
        "{asys}"
    );
    assert!(
        asys["false_alerts"].as_u64().unwrap() >= 1,
        "the lead off: {asys}"
    );
    assert!(
        asys["false_during_artifact"].as_u64() == asys["false_alerts"].as_u64(),
        "false asystole is the lead off's: {asys}"
    );
    let cinc = &card["cinc"]["overall"];
    assert_eq!(cinc["fn"], serde_json::json!(0), "{cinc}");
    // Lock-stepped, frames included: the same alerts, stamped the same, in another run.
    let again = tmp.path().join("again");
    run_scenario(
        scenario.to_str().unwrap(),
        &again,
        &[
            "--live",
            "--with-reference-stack",
            "news2",
            "--speed",
            "max",
        ],
    );
    let alerts = |d: &Path| std::fs::read_to_string(d.join("alerts.jsonl")).unwrap();
    assert_eq!(
        alerts(&out),
        alerts(&again),
        "the same alerts in another run"
    );
    let m = read_manifest(&out);
    let stream = m["live"]["stream_messages"].as_u64().unwrap();
    // 3 patients x 3 signals x 1,200 steps, the site map, and the lockstep clock (every 5 s,
    // and at the start and the end).
    let frames = 3 * 3 * 1200;
    assert!(
        (frames + 1 + 1200 / 5..=frames + 1 + 1200 / 5 + 2).contains(&stream),
        "{}",
        m["live"]
    );
}

/// Bad `--waveforms` input is refused before anything runs, saying what was expected.
#[test]
fn bad_waveform_beds_are_refused_with_a_clear_error() {
    let tmp = temp_dir("cardiac-bad");
    for (arg, says) in [
        ("W9-99", "no bed `W9-99`"),
        (",,", "expected `all` or a comma-separated list"),
        ("W1-03,Ω", "no bed `Ω`"),
    ] {
        let o = run_unchecked("cardiac-ward", &tmp.path().join("x"), &["--waveforms", arg]);
        assert!(!o.status.success(), "{arg}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{arg}: {err}");
    }
}
