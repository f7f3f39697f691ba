//! The command line: errors a user sees, the library listing.

use super::support::{temp_dir, wardtwin};

#[test]
fn validate_reports_file_line_column_and_what_was_expected() {
    let tmp = temp_dir("validate");
    let path = tmp.path().join("broken.toml");
    let text =
        wardtwin_scenarios_text().replace("develop = \"4h\"", "develop = \"4h\"\nsevrity = 2");
    std::fs::write(&path, text.as_bytes()).unwrap();
    let line = text.lines().position(|l| l.starts_with("sevrity")).unwrap() + 1;
    let o = wardtwin(&["validate", path.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let want = format!(
        "{}:{line}:1: unknown field `sevrity`, expected one of",
        path.display()
    );
    assert!(err.contains(&want), "stderr:\n{err}\nwanted: {want}");
    assert!(
        err.contains("sevrity = 2") && err.contains('^'),
        "code frame missing:\n{err}"
    );
}

#[test]
fn validate_accepts_the_library_files() {
    let root = env!("CARGO_MANIFEST_DIR");
    let files: Vec<String> = ["quickstart", "ward-baseline-24h", "hospital-1000-24h"]
        .iter()
        .map(|n| format!("{root}/scenarios/library/{n}.toml"))
        .collect();
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let o = wardtwin(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).matches(": ok (").count(),
        3
    );
}

#[test]
fn run_of_an_unknown_scenario_names_the_library() {
    let o = wardtwin(&["run", "no-such-scenario", "--quiet"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no scenario `no-such-scenario`") && err.contains("quickstart"),
        "{err}"
    );
}

#[test]
fn scenarios_lists_the_library() {
    let o = wardtwin(&["scenarios"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for name in ["quickstart", "ward-baseline-24h", "hospital-1000-24h"] {
        assert!(out.contains(name), "{out}");
    }
}

fn wardtwin_scenarios_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/library/quickstart.toml"
    ))
    .unwrap()
}

#[test]
fn duration_runs_part_of_a_scenario_and_episodes_after_it_never_happened() {
    let dir = temp_dir("duration");
    let out = dir.path().join("run");
    // quickstart's deteriorations begin at 06:30 and 14:00: the first 7 hours hold one.
    let o = super::support::run_scenario("quickstart", &out, &["--duration", "7h"]);
    let m = super::support::read_manifest(&out);
    assert_eq!(m["duration_ms"], 7 * 3_600_000);
    assert_eq!(m["end"], "2026-03-02T07:00:00.000Z");
    let episodes = super::support::read_parquet(out.join("episodes.parquet"));
    assert_eq!(episodes.height(), 1, "only the sepsis began before 07:00");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("sepsis in W1-07"), "{stdout}");
    assert!(!stdout.contains("respiratory_failure"), "{stdout}");
    let bad = wardtwin(&["run", "quickstart", "--duration", "0s"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--duration"));
    // Hardening issue: the scenario's limits hold for --duration too.
    let bad = wardtwin(&["run", "quickstart", "--duration", "106751991167d"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("longer than the 366d"), "{err}");
}

/// Hardening issue: `wardtwin scenarios | head -1` and `wardtwin run … | head -3` exited 101
/// ("failed printing to stdout"). A reader that went away stops the output, quietly; a run
/// still writes its files.
#[test]
fn hardening_a_closed_stdout_is_not_a_panic() {
    let closed = || {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        writer
    };
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_wardtwin"))
        .arg("scenarios")
        .stdout(closed())
        .output()
        .expect("wardtwin runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    let dir = temp_dir("broken-pipe");
    let out = dir.path().join("run");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_wardtwin"))
        .args(["run", "quickstart", "--quiet", "--duration", "1h", "--out"])
        .arg(&out)
        .stdout(closed())
        .output()
        .expect("wardtwin runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(super::support::read_manifest(&out)["complete"], true);
    // `… 2>&1 | head`: stderr closed too, in a live drill whose fault proxy drops every
    // connection (the MQTT thread says so on stderr): it used to exit 101.
    let out = dir.path().join("drill");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_wardtwin"))
        .args([
            "run",
            "quickstart",
            "--quiet",
            "--duration",
            "30m",
            "--fault",
            "broker restart 1m at 10m",
            "--live",
            "--speed",
            "max",
            "--out",
        ])
        .arg(&out)
        .stdout(closed())
        .stderr(closed())
        .status()
        .expect("wardtwin runs");
    assert_eq!(o.code(), Some(0));
    let m = super::support::read_manifest(&out);
    assert_eq!(m["complete"], true);
    assert!(
        m["live"]["fault_proxy"]["connections_cut"]
            .as_u64()
            .unwrap()
            >= 2,
        "{m}"
    );
}

/// Hardening issue: SIGINT/SIGTERM ended the program within 20 ms, with no message, leaving
/// `*.parquet.partial` files and no manifest. The first signal stops stepping and keeps what was
/// simulated, in files that read back, under a manifest marked incomplete.
#[test]
fn hardening_sigint_and_sigterm_keep_what_was_simulated() {
    use std::io::{BufRead, BufReader};
    for signal in ["INT", "TERM"] {
        let dir = temp_dir("interrupt");
        let out = dir.path().join("run");
        // Real time, live to the embedded broker: the run cannot end by itself first.
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wardtwin"))
            .args(["run", "quickstart", "--quiet", "--live", "--out"])
            .arg(&out)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("wardtwin starts");
        // Wait for the event that says it is publishing.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            if line.expect("stdout").starts_with("publishing:") {
                break;
            }
        }
        let kill = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(kill.success());
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let o = child.wait_with_output().expect("wardtwin ends");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "SIG{signal}: {err}");
        assert!(err.contains("interrupted at 2026-03-02T00:"), "{err}");
        assert!(
            rest.iter().any(|l| l.contains("interrupted   kept")),
            "{rest:?}"
        );
        let m = super::support::read_manifest(&out);
        assert_eq!(m["complete"], false, "{m}");
        let kept = m["duration_ms"].as_i64().unwrap();
        assert!(kept < 24 * 3_600_000, "{m}");
        let names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".partial")), "{names:?}");
        // Every table reads back, and holds only what was simulated.
        let truth = super::support::read_parquet(out.join("truth_vitals.parquet"));
        let times = super::support::time_values(&truth, "sim_time");
        let end = super::support::time_values(
            &super::support::read_parquet(out.join("telemetry.parquet")),
            "sim_time",
        )
        .into_iter()
        .flatten()
        .max();
        let epoch = 1_772_409_600_000_i64;
        assert!(
            times.iter().flatten().all(|t| *t < epoch + kept.max(1)),
            "{m}"
        );
        assert!(end.is_none_or(|t| t < epoch + kept.max(1)), "{m}");
    }
}
