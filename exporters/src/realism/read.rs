//! Reads what the realism report needs from a run folder.

use std::collections::HashMap;
use std::path::Path;

use polars_core::prelude::*;

use super::{EpisodeIn, Inputs, ReadingIn, TruthRow, VITALS};
use crate::runfolder::{RunFolderError, for_each_slice, read_header, read_table};

const SUBSCORES: [&str; 7] = [
    "news2_resp_rate",
    "news2_spo2",
    "news2_air_or_oxygen",
    "news2_systolic",
    "news2_pulse",
    "news2_consciousness",
    "news2_temperature",
];

/// The metrics whose readings are compared with the truth.
const METRICS: [&str; 8] = [
    "heart_rate",
    "resp_rate",
    "spo2",
    "pulse_rate",
    "body_temp",
    "bp_systolic",
    "bp_diastolic",
    "glucose",
];

fn bad(dir: &Path, table: &str, col: &str, e: PolarsError) -> RunFolderError {
    RunFolderError::Invalid {
        path: dir.join(format!("{table}.parquet")),
        message: format!("column `{col}`: {e}"),
    }
}

/// Reads run folder `dir`.
pub fn read_inputs(dir: &Path) -> Result<Inputs, RunFolderError> {
    let header = read_header(dir)?;
    let mut inp = Inputs {
        scenario: header.run.scenario.clone(),
        seed: header.run.seed,
        start_ms: header.run.epoch_ms,
        end_ms: header.run.end_ms,
        truth_interval_ms: header.truth_interval_ms,
        ..Inputs::default()
    };
    let mut patient_ix: HashMap<String, usize> = HashMap::new();

    // True vitals, grouped per patient (rows are in time order).
    {
        let t = "truth_vitals";
        let mut cols = vec!["sim_time", "patient_id", "news2_total", "glucose_mmol"];
        cols.extend(VITALS);
        cols.extend(SUBSCORES);
        let df = read_table(dir, t, &cols)?;
        let e = |c: &str, x| bad(dir, t, c, x);
        let time = df.column("sim_time").and_then(|c| c.datetime().cloned());
        let time = time.map_err(|x| e("sim_time", x))?;
        let time: Vec<Option<i64>> = time.physical().iter().collect();
        let pid = df.column("patient_id").map_err(|x| e("patient_id", x))?;
        let pid = pid.str().map_err(|x| e("patient_id", x))?;
        let f32s = |c: &str| -> Result<Vec<Option<f32>>, RunFolderError> {
            let col = df.column(c).map_err(|x| e(c, x))?;
            Ok(col.f32().map_err(|x| e(c, x))?.iter().collect())
        };
        let i32s = |c: &str| -> Result<Vec<Option<i32>>, RunFolderError> {
            let col = df.column(c).map_err(|x| e(c, x))?;
            Ok(col.i32().map_err(|x| e(c, x))?.iter().collect())
        };
        let v: Vec<Vec<Option<f32>>> = VITALS.iter().map(|c| f32s(c)).collect::<Result<_, _>>()?;
        let glucose = f32s("glucose_mmol")?;
        let news2 = i32s("news2_total")?;
        let subs: Vec<Vec<Option<i32>>> = SUBSCORES
            .iter()
            .map(|c| i32s(c))
            .collect::<Result<_, _>>()?;
        for (i, p) in pid.iter().enumerate() {
            let (Some(p), Some(t)) = (p, time[i]) else {
                continue;
            };
            let n = patient_ix.len();
            let ix = *patient_ix.entry(p.to_string()).or_insert(n);
            if ix == inp.truth.len() {
                inp.truth.push(Vec::new());
            }
            let mut vals = [f32::NAN; 6];
            for (k, col) in v.iter().enumerate() {
                vals[k] = col[i].unwrap_or(f32::NAN);
            }
            inp.truth[ix].push(TruthRow {
                t,
                v: vals,
                news2: news2[i].unwrap_or(0),
                single3: subs.iter().any(|s| s[i] == Some(3)),
                glucose: glucose[i],
            });
        }
    }

    // Episodes.
    {
        let t = "episodes";
        let df = read_table(
            dir,
            t,
            &[
                "patient_id",
                "kind",
                "onset_time",
                "develop_ms",
                "peak_news2",
                "resolve_time",
                "end_time",
            ],
        )?;
        let c = crate::runfolder::Cols::new(&df, dir, t);
        let (pid, kind, onset, develop, peak, resolve, end) = (
            c.str("patient_id")?,
            c.str("kind")?,
            c.time("onset_time")?,
            c.i64("develop_ms")?,
            c.i32("peak_news2")?,
            c.time("resolve_time")?,
            c.time("end_time")?,
        );
        for i in 0..df.height() {
            let (Some(p), Some(kind), Some(onset), Some(develop)) =
                (pid[i].as_ref(), kind[i].as_ref(), onset[i], develop[i])
            else {
                continue;
            };
            let Some(&patient) = patient_ix.get(p) else {
                continue;
            };
            inp.episodes.push(EpisodeIn {
                patient,
                kind: kind.clone(),
                onset,
                develop_ms: develop,
                peak_news2: peak[i].unwrap_or(0),
                resolve: resolve[i],
                end: end[i],
            });
        }
    }

    // Devices of each kind, and artifacts.
    let mut artifact_windows: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    {
        let df = read_table(dir, "directory", &["kind", "device_kind"])?;
        let c = crate::runfolder::Cols::new(&df, dir, "directory");
        let (kind, dk) = (c.str("kind")?, c.str("device_kind")?);
        for (k, d) in kind.iter().zip(&dk) {
            if k.as_deref() == Some("device")
                && let Some(d) = d
            {
                *inp.devices.entry(d.clone()).or_default() += 1;
            }
        }
        let df = read_table(
            dir,
            "artifacts",
            &["device_id", "device_kind", "kind", "start_time", "end_time"],
        )?;
        let c = crate::runfolder::Cols::new(&df, dir, "artifacts");
        let (dev, dk, kind) = (c.str("device_id")?, c.str("device_kind")?, c.str("kind")?);
        let (start, end) = (c.time("start_time")?, c.time("end_time")?);
        for i in 0..df.height() {
            if let (Some(d), Some(k)) = (&dk[i], &kind[i]) {
                *inp.artifacts.entry((d.clone(), k.clone())).or_default() += 1;
            }
            if let (Some(d), Some(s), Some(e)) = (&dev[i], start[i], end[i]) {
                artifact_windows.entry(d.clone()).or_default().push((s, e));
            }
        }
    }

    inp.artifact_windows = artifact_windows;

    // Telemetry of the vital-signs and glucose metrics, a slice of rows at a time (a week of
    // a thousand beds is hundreds of millions of rows): each reading goes into its device's
    // running sums and is dropped.
    {
        let t = "telemetry";
        let cols = [
            "sim_time",
            "device_id",
            "device_kind",
            "patient_id",
            "metric",
            "value",
            "status",
        ];
        for_each_slice(dir, t, &cols, |df| {
            let e = |c: &str, x| bad(dir, t, c, x);
            let s = |c: &str| -> Result<StringChunked, RunFolderError> {
                let col = df.column(c).map_err(|x| e(c, x))?;
                Ok(col.str().map_err(|x| e(c, x))?.clone())
            };
            let (dev, kind, pid, metric, status) = (
                s("device_id")?,
                s("device_kind")?,
                s("patient_id")?,
                s("metric")?,
                s("status")?,
            );
            let time = df.column("sim_time").and_then(|c| c.datetime().cloned());
            let time = time.map_err(|x| e("sim_time", x))?;
            let value = df.column("value").map_err(|x| e("value", x))?;
            let value = value.f64().map_err(|x| e("value", x))?;
            let it = dev
                .iter()
                .zip(kind.iter())
                .zip(pid.iter())
                .zip(metric.iter())
                .zip(status.iter())
                .zip(time.physical().iter())
                .zip(value.iter());
            for ((((((d, k), p), m), st), time), v) in it {
                let (Some(d), Some(k), Some(m), Some(st), Some(time)) = (d, k, m, st, time) else {
                    continue;
                };
                let Some(&metric) = METRICS.iter().find(|x| **x == m) else {
                    continue;
                };
                inp.add_reading(ReadingIn {
                    device: d,
                    device_kind: k,
                    patient: p.and_then(|p| patient_ix.get(p).copied()),
                    metric,
                    t: time,
                    value: v.map(|v| v as f32),
                    status: st,
                });
            }
            Ok(())
        })?;
    }
    Ok(inp)
}
