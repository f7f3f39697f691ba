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
}
