//! `wardtwin realism`: the report a vendor reads, from real run folders.

use serde_json::Value;

use super::support::{quickstart_run, temp_dir, wardtwin};

fn report(dir: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("realism.json")).unwrap()).unwrap()
}

/// On quickstart the report finds what the model promises, every published figure it can judge
/// passes (`--check` exits 0), and its NEWS2 bands are a distribution.
#[test]
fn the_realism_report_checks_a_run_against_published_figures() {
    let run = quickstart_run();
    let tmp = temp_dir("realism");
    let out = tmp.path().join("r");
    let o = wardtwin(&[
        "realism",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--check",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("## Checks against published figures"),
        "{stdout}"
    );
    assert!(out.join("realism.md").is_file());
    let r = report(&out);
    assert_eq!(r["patients"], 24);
    let n = &r["news2"];
    let sum: f64 = [
        "share_0",
        "share_1_2",
        "share_3_4",
        "share_5_6",
        "share_ge7",
    ]
    .iter()
    .map(|k| n[k].as_f64().unwrap())
    .sum();
    assert!((sum - 1.0).abs() < 1e-9, "{n}");
    let checks = r["checks"].as_array().unwrap();
    assert!(checks.len() >= 14);
    let verdict = |key: &str| {
        checks
            .iter()
            .find(|c| c["key"] == key)
            .unwrap_or_else(|| panic!("{key}"))["verdict"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for key in [
        "news2.share_3_4",
        "news2.share_ge5",
        "devices.spo2_lag1_correlation",
        "devices.cuff_error",
        "devices.temp_patch_faults_per_day",
        "baseline.sbp_edge_share",
    ] {
        assert_eq!(verdict(key), "pass", "{key}");
    }
    // No CGM in quickstart's kit for most patients: judged only where there is one.
    assert!(checks.iter().all(|c| c["verdict"] != "fail"));
}

/// Several runs pool into one population; a folder that is not a run is an error (exit 2)
/// that names it.
#[test]
fn realism_pools_runs_and_refuses_what_is_not_a_run() {
    let run = quickstart_run();
    let tmp = temp_dir("realism-pool");
    let out = tmp.path().join("pool");
    let o = wardtwin(&[
        "realism",
        run.to_str().unwrap(),
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = report(&out);
    assert_eq!(r["patients"], 48);
    assert!(r["scenario"].as_str().unwrap().contains(" + "));
    let o = wardtwin(&["realism", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is not a run folder"), "{err}");
}
