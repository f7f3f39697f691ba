//! Running the real `wardtwin` binary and reading its Parquet output back with polars.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polars_core::prelude::*;
use polars_io::SerReader;
use polars_io::parquet::read::ParquetReader;

pub fn wardtwin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wardtwin"))
        .args(args)
        .output()
        .expect("wardtwin runs")
}

/// `wardtwin run SCENARIO --quiet --out OUT` with `extra`, whatever its exit code.
pub fn run_unchecked(scenario: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        scenario,
        "--quiet",
        "--out",
        out.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    wardtwin(&args)
}

/// A drill's first 4 hours on the broker at `url`, the news2 reference stack lock-stepped in
/// process, as fast as it goes; panics with the output if the run fails.
pub fn drill_with_news2(scenario: &str, out: &Path, url: &str) -> Output {
    run_scenario(
        scenario,
        out,
        &[
            "--duration",
            "4h",
            "--broker",
            url,
            "--with-reference-stack",
            "news2",
            "--speed",
            "max",
        ],
    )
}

/// Runs `wardtwin run` and panics with its output if it fails.
pub fn run_scenario(scenario: &str, out: &Path, extra: &[&str]) -> Output {
    let o = run_unchecked(scenario, out, extra);
    assert!(
        o.status.success(),
        "wardtwin run {scenario} {} failed:\n{}\n{}",
        extra.join(" "),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

pub fn read_parquet(path: impl AsRef<Path>) -> DataFrame {
    let path = path.as_ref();
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(f)
        .finish()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The non-null values of a string column.
pub fn str_values(df: &DataFrame, column: &str) -> Vec<String> {
    df.column(column)
        .unwrap_or_else(|e| panic!("{column}: {e}"))
        .str()
        .unwrap_or_else(|e| panic!("{column}: {e}"))
        .iter()
        .flatten()
        .map(str::to_string)
        .collect()
}

/// A datetime column as ms since the Unix epoch (`None` for nulls).
pub fn time_values(df: &DataFrame, column: &str) -> Vec<Option<i64>> {
    df.column(column)
        .unwrap_or_else(|e| panic!("{column}: {e}"))
        .datetime()
        .unwrap_or_else(|e| panic!("{column}: {e}"))
        .physical()
        .iter()
        .collect()
}

/// The rounds a run's chart says were charted (charted.parquet, read with polars):
/// (patient, time) -> (pulse, ACVPU letter). Missed rounds are not in it.
pub fn charted_rounds(run: &Path) -> std::collections::BTreeMap<(String, i64), (f64, String)> {
    let df = read_parquet(run.join("charted.parquet"));
    let when = time_values(&df, "charted_time");
    let column = |name: &str| df.column(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let patient = column("patient_id").str().expect("patient_id");
    let hr = column("charted_heart_rate")
        .f32()
        .expect("charted_heart_rate");
    let avpu = column("charted_consciousness")
        .str()
        .expect("charted_consciousness");
    when.iter()
        .enumerate()
        .filter_map(|(i, t)| {
            Some((
                (patient.get(i)?.to_string(), (*t)?),
                (f64::from(hr.get(i)?), avpu.get(i)?.to_string()),
            ))
        })
        .collect()
}

/// A run folder's `manifest.json`.
pub fn read_manifest(run: &Path) -> serde_json::Value {
    let path = run.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wardtwin-{name}-"))
        .tempdir()
        .expect("tempdir")
}

/// A run of quickstart shared by the output tests (made once per test binary).
pub fn quickstart_run() -> &'static PathBuf {
    static RUN: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    &RUN.get_or_init(|| {
        let dir = temp_dir("quickstart");
        let out = dir.path().join("run");
        run_scenario("quickstart", &out, &[]);
        (dir, out)
    })
    .1
}

/// A `wardtwin reference-stack` of its own process on `broker` (`--until-shutdown`, plus
/// `extra`), once it has printed its banner (it is subscribed then); and the rest of its
/// standard output.
pub fn external_reference_stack(
    broker: &str,
    policy: &str,
    alerts_topic: &str,
    extra: &[&str],
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::BufRead;
    let mut stack = Command::new(env!("CARGO_BIN_EXE_wardtwin"))
        .args([
            "reference-stack",
            "--broker",
            broker,
            "--policy",
            policy,
            "--alerts-topic",
            alerts_topic,
            "--until-shutdown",
        ])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("reference stack starts");
    let mut lines = std::io::BufReader::new(stack.stdout.take().expect("piped")).lines();
    let banner = lines.next().expect("a banner").expect("utf-8");
    assert!(
        banner.starts_with(&format!("reference stack ({policy})")),
        "{banner}"
    );
    (stack, lines)
}

/// Runs a Python `script` (PhysioNet's `wfdb` and numpy available: .ci/run installs them) with
/// `arg` and reads the JSON it prints; panics with its stderr if it fails.
pub fn python_json(script: &str, arg: &Path) -> serde_json::Value {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(arg)
        .output()
        .expect("python3 (with wfdb: .ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}
