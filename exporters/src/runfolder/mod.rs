//! The run folder: what a run writes ([`parquet`], [`tables`], [`manifest`]) and reading it
//! back for scoring: the ground truth tables, the manifest, and what the system under test
//! sent (`alerts.jsonl`, `ingested.jsonl`), into [`wardtwin_scoring`] inputs.

pub mod manifest;
pub mod parquet;
pub mod tables;

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use polars_core::prelude::*;
use polars_io::SerReader;
use polars_io::parquet::read::ParquetReader;
use wardtwin_scoring::model::{
    Artifact, Condition, DrillInputs, Emission, Entity, EntityKind, Fault, Inputs, RunInfo,
};
use wardtwin_sim::conditions::Severity;
use wardtwin_sim::records::{Degradation, EmissionKind, Fate};
use wardtwin_sim::time::{format_duration, parse_iso_ms};

/// File names in a run folder.
pub const ALERTS_LOG: &str = "alerts.jsonl";
pub const ECHO_LOG: &str = "ingested.jsonl";
/// How alert collection ended (live runs that collect alerts): `{"cut_off": bool, …}`.
pub const COLLECTION_LOG: &str = "collection.json";
/// How the system under test's time was coupled to the twin's, and its stalls
/// ([`crate::mqtt::sync`]); written by live runs that publish the clock.
pub const SYNC_LOG: &str = "sync.json";
/// What the embedded broker discarded for subscribers that fell behind
/// ([`crate::mqtt::embedded::Discards`]); written by live runs on it that collect alerts.
pub const BROKER_LOG: &str = "broker.json";

/// Why a run folder cannot be scored.
#[derive(Debug, thiserror::Error)]
pub enum RunFolderError {
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Polars {
        path: PathBuf,
        #[source]
        source: PolarsError,
    },
}

fn invalid(path: &Path, message: impl Into<String>) -> RunFolderError {
    RunFolderError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// What the manifest says that scoring needs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunHeader {
    pub run: RunInfo,
    pub truth_interval_ms: i64,
    /// Gates written in the scenario.
    pub gates: Vec<String>,
    /// The scenario's `[scoring] chronic = "dont_care"`.
    pub chronic_dont_care: bool,
}

/// Reads `manifest.json`.
pub fn read_header(dir: &Path) -> Result<RunHeader, RunFolderError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|source| RunFolderError::Io {
        path: path.clone(),
        source,
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(&path, format!("not JSON: {e}")))?;
    let field = |k: &str| v.get(k).ok_or_else(|| invalid(&path, format!("no `{k}`")));
    let int = |k: &str| -> Result<i64, RunFolderError> {
        field(k)?
            .as_i64()
            .ok_or_else(|| invalid(&path, format!("`{k}` is not an integer")))
    };
    let time = |k: &str| -> Result<i64, RunFolderError> {
        field(k)?
            .as_str()
            .and_then(parse_iso_ms)
            .ok_or_else(|| invalid(&path, format!("`{k}` is not an ISO 8601 time")))
    };
    let gates = match v.get("gates") {
        None => Vec::new(),
        Some(g) => g
            .as_array()
            .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_string)).collect())
            .ok_or_else(|| invalid(&path, "`gates` is not a list of strings"))?,
    };
    Ok(RunHeader {
        run: RunInfo {
            scenario: field("scenario")?
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or_default()
                .to_string(),
            seed: int("seed")? as u64,
            epoch_ms: time("epoch")?,
            end_ms: time("end")?,
            step_ms: int("step_ms")?,
            beds: int("beds")? as usize,
            patients: int("patients")? as usize,
        },
        truth_interval_ms: int("truth_interval_ms")?,
        gates,
        chronic_dont_care: v.get("chronic").and_then(|c| c.as_str()) == Some("dont_care"),
    })
}

/// Reads columns of a Parquet table of the run.
pub fn read_table(dir: &Path, table: &str, columns: &[&str]) -> Result<DataFrame, RunFolderError> {
    let path = dir.join(format!("{table}.parquet"));
    let file = File::open(&path).map_err(|source| RunFolderError::Io {
        path: path.clone(),
        source,
    })?;
    ParquetReader::new(file)
        .with_columns(Some(columns.iter().map(|c| c.to_string()).collect()))
        .finish()
        .map_err(|source| RunFolderError::Polars { path, source })
}

/// Rows of a table read at a time by [`for_each_slice`]: a big run's telemetry is hundreds of
/// millions of rows, never held at once.
pub const SLICE_ROWS: usize = 1 << 20;

/// Reads columns of a Parquet table of the run [`SLICE_ROWS`] rows at a time, in file order,
/// handing each slice to `f`.
pub fn for_each_slice(
    dir: &Path,
    table: &str,
    columns: &[&str],
    mut f: impl FnMut(&DataFrame) -> Result<(), RunFolderError>,
) -> Result<(), RunFolderError> {
    let path = dir.join(format!("{table}.parquet"));
    let open = || {
        File::open(&path).map_err(|source| RunFolderError::Io {
            path: path.clone(),
            source,
        })
    };
    let polars = |source| RunFolderError::Polars {
        path: path.clone(),
        source,
    };
    let rows = ParquetReader::new(open()?).num_rows().map_err(polars)?;
    let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    for offset in (0..rows).step_by(SLICE_ROWS) {
        let df = ParquetReader::new(open()?)
            .with_columns(Some(columns.clone()))
            .with_slice(Some((offset, SLICE_ROWS)))
            .finish()
            .map_err(polars)?;
        f(&df)?;
    }
    Ok(())
}

/// Column accessors that name the table and column in their errors.
pub struct Cols<'a> {
    df: &'a DataFrame,
    path: PathBuf,
}

impl<'a> Cols<'a> {
    pub fn new(df: &'a DataFrame, dir: &Path, table: &str) -> Self {
        Self {
            df,
            path: dir.join(format!("{table}.parquet")),
        }
    }
    pub fn err(&self, col: &str, e: PolarsError) -> RunFolderError {
        invalid(&self.path, format!("column `{col}`: {e}"))
    }
    pub fn str(&self, col: &str) -> Result<Vec<Option<String>>, RunFolderError> {
        let c = self.df.column(col).map_err(|e| self.err(col, e))?;
        let s = c.str().map_err(|e| self.err(col, e))?;
        Ok(s.iter().map(|x| x.map(str::to_string)).collect())
    }
    pub fn time(&self, col: &str) -> Result<Vec<Option<i64>>, RunFolderError> {
        let c = self.df.column(col).map_err(|e| self.err(col, e))?;
        let t = c.datetime().map_err(|e| self.err(col, e))?;
        Ok(t.physical().iter().collect())
    }
    pub fn u32(&self, col: &str) -> Result<Vec<Option<u32>>, RunFolderError> {
        let c = self.df.column(col).map_err(|e| self.err(col, e))?;
        Ok(c.u32().map_err(|e| self.err(col, e))?.iter().collect())
    }
    pub fn i32(&self, col: &str) -> Result<Vec<Option<i32>>, RunFolderError> {
        let c = self.df.column(col).map_err(|e| self.err(col, e))?;
        Ok(c.i32().map_err(|e| self.err(col, e))?.iter().collect())
    }
    pub fn i64(&self, col: &str) -> Result<Vec<Option<i64>>, RunFolderError> {
        let c = self.df.column(col).map_err(|e| self.err(col, e))?;
        Ok(c.i64().map_err(|e| self.err(col, e))?.iter().collect())
    }
    pub fn f64(&self, col: &str) -> Result<Vec<Option<f64>>, RunFolderError> {
        let c = self.df.column(col).map_err(|e| self.err(col, e))?;
        Ok(c.f64().map_err(|e| self.err(col, e))?.iter().collect())
    }
    pub fn f32(&self, col: &str) -> Result<Vec<Option<f32>>, RunFolderError> {
        let c = self.df.column(col).map_err(|e| self.err(col, e))?;
        Ok(c.f32().map_err(|e| self.err(col, e))?.iter().collect())
    }
    pub fn bool(&self, col: &str) -> Result<Vec<Option<bool>>, RunFolderError> {
        let c = self.df.column(col).map_err(|e| self.err(col, e))?;
        Ok(c.bool().map_err(|e| self.err(col, e))?.iter().collect())
    }
    fn required<T>(&self, col: &str, v: Option<T>) -> Result<T, RunFolderError> {
        v.ok_or_else(|| invalid(&self.path, format!("column `{col}` has a null")))
    }
}

fn directory(dir: &Path) -> Result<Vec<Entity>, RunFolderError> {
    let df = read_table(
        dir,
        "directory",
        &[
            "kind",
            "id",
            "patient_id",
            "bed_id",
            "ward_id",
            "device_kind",
        ],
    )?;
    let c = Cols::new(&df, dir, "directory");
    let (kind, id, patient, bed) = (
        c.str("kind")?,
        c.str("id")?,
        c.str("patient_id")?,
        c.str("bed_id")?,
    );
    let (ward, device_kind) = (c.str("ward_id")?, c.str("device_kind")?);
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let kind = match c.required("kind", kind[i].as_deref())? {
            "bed" => EntityKind::Bed,
            "patient" => EntityKind::Patient,
            "device" => EntityKind::Device,
            // The site plan: not something an alert names.
            "space" | "receiver" => continue,
            other => return Err(invalid(&c.path, format!("unknown kind {other:?}"))),
        };
        out.push(Entity {
            kind,
            id: c.required("id", id[i].clone())?,
            patient: patient[i].clone(),
            bed: bed[i].clone(),
            ward: ward[i].clone(),
            device_kind: device_kind[i].clone(),
        });
    }
    Ok(out)
}

/// The drill's ground truth (`faults.parquet`); a run folder written before faults were
/// recorded has none.
fn faults(dir: &Path) -> Result<Vec<Fault>, RunFolderError> {
    if !dir.join("faults.parquet").is_file() {
        return Ok(Vec::new());
    }
    let cols = [
        "fault_id",
        "kind",
        "ward_id",
        "gateway_id",
        "device_id",
        "start_time",
        "end_time",
        "period_ms",
        "spool",
        "share",
        "step_ms",
        "latency_ms",
        "jitter_ms",
        "loss",
        "bandwidth_per_s",
        "persistence",
        "attenuation_db",
        "drift_ppm",
    ];
    let df = read_table(dir, "faults", &cols)?;
    let c = Cols::new(&df, dir, "faults");
    let (id, kind, ward) = (c.u32("fault_id")?, c.str("kind")?, c.str("ward_id")?);
    let (gateway, device) = (c.str("gateway_id")?, c.str("device_id")?);
    let (start, end) = (c.time("start_time")?, c.time("end_time")?);
    let (period, step) = (c.i64("period_ms")?, c.i64("step_ms")?);
    let (spool, share) = (c.str("spool")?, c.f64("share")?);
    let (latency, jitter) = (c.i64("latency_ms")?, c.i64("jitter_ms")?);
    let (loss, bandwidth) = (c.f64("loss")?, c.f64("bandwidth_per_s")?);
    let persistence = c.str("persistence")?;
    let attenuation = c.f64("attenuation_db")?;
    let drift = c.f64("drift_ppm")?;
    (0..df.height())
        .map(|i| {
            let signed = |v: i64| {
                let d = format_duration(v.abs());
                if v < 0 {
                    format!("-{d}")
                } else {
                    format!("+{d}")
                }
            };
            let degraded = Degradation {
                latency_ms: latency[i].unwrap_or(0),
                jitter_ms: jitter[i].unwrap_or(0),
                loss: loss[i].unwrap_or(0.0),
                bandwidth: bandwidth[i],
            }
            .to_string();
            let parameter = match (period[i], &spool[i], share[i], step[i], &persistence[i]) {
                (Some(p), ..) => Some(format!("period {}", format_duration(p))),
                (_, Some(sp), ..) => Some(format!("spool {sp}")),
                (_, _, Some(sh), ..) => Some(format!("share {sh}")),
                (_, _, _, Some(st), _) => Some(format!("step {}", signed(st))),
                (.., Some(p)) => Some(format!("persistence {p}")),
                _ if attenuation[i].is_some() => {
                    attenuation[i].map(|a| format!("attenuation {a} dB"))
                }
                _ if drift[i].is_some() => drift[i].map(|d| format!("drift {d:+} ppm")),
                _ if !degraded.is_empty() => Some(degraded),
                _ => None,
            };
            Ok(Fault {
                id: c.required("fault_id", id[i])?,
                kind: c.required("kind", kind[i].clone())?,
                ward: ward[i].clone(),
                gateway: gateway[i].clone(),
                device: device[i].clone(),
                start_ms: c.required("start_time", start[i])?,
                end_ms: end[i],
                parameter,
            })
        })
        .collect()
}

fn conditions(dir: &Path) -> Result<Vec<Condition>, RunFolderError> {
    let cols = [
        "condition_id",
        "class",
        "severity",
        "subject_id",
        "patient_id",
        "device_id",
        "onset_time",
        "end_time",
        "transient",
    ];
    let df = read_table(dir, "conditions", &cols)?;
    let c = Cols::new(&df, dir, "conditions");
    let (id, class, sev) = (c.u32("condition_id")?, c.str("class")?, c.str("severity")?);
    let (subject, patient, device) = (
        c.str("subject_id")?,
        c.str("patient_id")?,
        c.str("device_id")?,
    );
    let (onset, end, transient) = (
        c.time("onset_time")?,
        c.time("end_time")?,
        c.bool("transient")?,
    );
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let s = c.required("severity", sev[i].as_deref())?;
        out.push(Condition {
            id: c.required("condition_id", id[i])?,
            class: c.required("class", class[i].clone())?,
            severity: Severity::from_name(s)
                .ok_or_else(|| invalid(&c.path, format!("unknown severity {s:?}")))?,
            subject: c.required("subject_id", subject[i].clone())?,
            patient: patient[i].clone(),
            device: device[i].clone(),
            onset_ms: c.required("onset_time", onset[i])?,
            end_ms: end[i],
            transient: c.required("transient", transient[i])?,
        });
    }
    Ok(out)
}

/// `[scoring] chronic = "dont_care"`: a deterioration condition that did not begin during an
/// episode of its patient (`episodes.parquet`: from its onset until it ended) is don't care,
/// like a transient one: it was the patient's own state, not the episode's doing (a spell
/// already open at an episode's onset included; the episode's worse tiers open their own).
fn chronic_dont_care(dir: &Path, conditions: &mut [Condition]) -> Result<(), RunFolderError> {
    let df = read_table(dir, "episodes", &["patient_id", "onset_time", "end_time"])?;
    let c = Cols::new(&df, dir, "episodes");
    let (patient, onset, end) = (
        c.str("patient_id")?,
        c.time("onset_time")?,
        c.time("end_time")?,
    );
    let mut episodes: std::collections::HashMap<String, Vec<(i64, Option<i64>)>> =
        std::collections::HashMap::new();
    for i in 0..df.height() {
        let p = c.required("patient_id", patient[i].clone())?;
        let o = c.required("onset_time", onset[i])?;
        episodes.entry(p).or_default().push((o, end[i]));
    }
    for cond in conditions.iter_mut().filter(|c| c.class == "deterioration") {
        let during = cond
            .patient
            .as_ref()
            .and_then(|p| episodes.get(p))
            .is_some_and(|eps| {
                eps.iter()
                    .any(|&(o, e)| cond.onset_ms >= o && e.is_none_or(|e| cond.onset_ms < e))
            });
        if !during {
            cond.transient = true;
        }
    }
    Ok(())
}

fn artifacts(dir: &Path) -> Result<Vec<Artifact>, RunFolderError> {
    let cols = [
        "device_id",
        "device_kind",
        "patient_id",
        "kind",
        "start_time",
        "end_time",
    ];
    let df = read_table(dir, "artifacts", &cols)?;
    let c = Cols::new(&df, dir, "artifacts");
    let (device, dkind, patient) = (
        c.str("device_id")?,
        c.str("device_kind")?,
        c.str("patient_id")?,
    );
    let (kind, start, end) = (c.str("kind")?, c.time("start_time")?, c.time("end_time")?);
    (0..df.height())
        .map(|i| {
            Ok(Artifact {
                device: c.required("device_id", device[i].clone())?,
                device_kind: c.required("device_kind", dkind[i].clone())?,
                patient: patient[i].clone(),
                kind: c.required("kind", kind[i].clone())?,
                start_ms: c.required("start_time", start[i])?,
                end_ms: c.required("end_time", end[i])?,
            })
        })
        .collect()
}

/// Emission counts by fate, and (when asked) the emissions themselves.
type Ledger = (Vec<(Fate, u64)>, Vec<Emission>);

/// Which of the ledger's telemetry rows to keep as [`Emission`]s (the counts are always of all).
enum Keep<'a> {
    None,
    All,
    /// Only these devices' (a drill's affected devices).
    Devices(&'a HashSet<String>),
}

/// The ledger's telemetry counts by fate, and the rows `keep` asks for. String columns are
/// read in place: a 1,000-bed day has 18 M rows, and a `String` per row and column took 7 GB.
fn emissions(dir: &Path, keep: Keep<'_>) -> Result<Ledger, RunFolderError> {
    let with_rows = !matches!(keep, Keep::None);
    let cols: &[&str] = if with_rows {
        &[
            "device_id",
            "kind",
            "seq",
            "sim_time",
            "forwarded_time",
            "fate",
            "sink",
        ]
    } else {
        &["kind", "fate"]
    };
    // A run folder written before status messages were emissions has no `kind`: every row of
    // its ledger is a reading.
    let (df, has_kind) = match read_table(dir, "emissions", cols) {
        Ok(df) => (df, true),
        Err(e) => {
            let older: Vec<&str> = cols.iter().copied().filter(|c| *c != "kind").collect();
            (read_table(dir, "emissions", &older).map_err(|_| e)?, false)
        }
    };
    let c = Cols::new(&df, dir, "emissions");
    let strs = |name: &str| -> Result<&StringChunked, RunFolderError> {
        let col = df.column(name).map_err(|e| c.err(name, e))?;
        col.str().map_err(|e| c.err(name, e))
    };
    let fates = strs("fate")?;
    let kinds = if has_kind { Some(strs("kind")?) } else { None };
    let (mut devices, mut sinks, mut seqs, mut sims, mut fwds) = (None, None, None, None, None);
    if with_rows {
        let col = |name: &str| df.column(name).map_err(|e| c.err(name, e));
        let time = |name: &str| -> Result<&Int64Chunked, RunFolderError> {
            Ok(col(name)?
                .datetime()
                .map_err(|e| c.err(name, e))?
                .physical())
        };
        devices = Some(strs("device_id")?);
        sinks = Some(strs("sink")?);
        seqs = Some(col("seq")?.u32().map_err(|e| c.err("seq", e))?);
        sims = Some(time("sim_time")?);
        fwds = Some(time("forwarded_time")?);
    }
    let mut counts: std::collections::BTreeMap<Fate, u64> = Default::default();
    let mut rows = Vec::new();
    let mut kind_iter = kinds.map(|k| k.iter());
    let mut device_iter = devices.map(|d| d.iter());
    let mut sink_iter = sinks.map(|s| s.iter());
    let mut seq_iter = seqs.map(|s| s.iter());
    let mut sim_iter = sims.map(|s| s.iter());
    let mut fwd_iter = fwds.map(|s| s.iter());
    for fate in fates.iter() {
        let kind = match kind_iter.as_mut() {
            Some(it) => it.next().flatten(),
            None => Some(EmissionKind::Telemetry.name()),
        };
        let device = device_iter.as_mut().and_then(|it| it.next().flatten());
        let sink = sink_iter.as_mut().and_then(|it| it.next().flatten());
        let seq = seq_iter.as_mut().and_then(|it| it.next().flatten());
        let sim = sim_iter.as_mut().and_then(|it| it.next().flatten());
        let fwd = fwd_iter.as_mut().and_then(|it| it.next().flatten());
        let kind = kind.ok_or_else(|| invalid(&c.path, "column `kind` has a null"))?;
        let kind = EmissionKind::from_name(kind)
            .ok_or_else(|| invalid(&c.path, format!("unknown emission kind `{kind}`")))?;
        // The telemetry's ledger (status messages have fates too, but scoring judges telemetry).
        if kind != EmissionKind::Telemetry {
            continue;
        }
        let fate = fate
            .map(|name| {
                Fate::from_name(name)
                    .ok_or_else(|| invalid(&c.path, format!("unknown fate `{name}`")))
            })
            .transpose()?;
        if let Some(f) = fate {
            *counts.entry(f).or_default() += 1;
        }
        let wanted = match &keep {
            Keep::None => false,
            Keep::All => true,
            Keep::Devices(set) => device.is_some_and(|d| set.contains(d)),
        };
        if wanted {
            rows.push(Emission {
                device: c.required("device_id", device.map(str::to_string))?,
                seq: c.required("seq", seq)?,
                sim_ms: c.required("sim_time", sim)?,
                forwarded_ms: fwd,
                fate: c.required("fate", fate)?,
                sink: sink.unwrap_or_default().to_string(),
            });
        }
    }
    Ok((counts.into_iter().collect(), rows))
}

/// Reads everything scoring needs from run folder `dir`; alerts from `alerts` (default: the
/// folder's `alerts.jsonl`). A run with no alerts log is scored as a silent system.
pub fn load_inputs(
    dir: &Path,
    alerts: Option<&Path>,
) -> Result<(RunHeader, Inputs), RunFolderError> {
    let header = read_header(dir)?;
    let alerts_path = alerts.map_or_else(|| dir.join(ALERTS_LOG), Path::to_path_buf);
    let received = if alerts.is_some() || alerts_path.is_file() {
        crate::wire::alerts::read_alert_log(&alerts_path).map_err(|source| RunFolderError::Io {
            path: alerts_path.clone(),
            source,
        })?
    } else {
        Vec::new()
    };
    let echo_path = dir.join(ECHO_LOG);
    let echo = if echo_path.is_file() {
        Some(
            crate::wire::alerts::read_echo_log(&echo_path).map_err(|source| {
                RunFolderError::Io {
                    path: echo_path.clone(),
                    source,
                }
            })?,
        )
    } else {
        None
    };
    let faults = faults(dir)?;
    let directory = directory(dir)?;
    // The drill section needs the rows of the devices its faults affect; the ingestion
    // figures need every row.
    let affected = affected_devices(&directory, &faults);
    let keep = if echo.is_some() {
        Keep::All
    } else if !faults.is_empty() {
        Keep::Devices(&affected)
    } else {
        Keep::None
    };
    let (fates, mut rows) = emissions(dir, keep)?;
    let drill = (!faults.is_empty()).then(|| DrillInputs {
        faults,
        emissions: if echo.is_some() {
            rows.iter()
                .filter(|e| affected.contains(&e.device))
                .cloned()
                .collect()
        } else {
            std::mem::take(&mut rows)
        },
    });
    // Collection cut off while alerts were still arriving (only the run's own alerts log).
    let collection_cut_off = alerts.is_none()
        && std::fs::read_to_string(dir.join(COLLECTION_LOG))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("cut_off").and_then(serde_json::Value::as_bool))
            .unwrap_or(false);
    let mut conditions = conditions(dir)?;
    if header.chronic_dont_care {
        chronic_dont_care(dir, &mut conditions)?;
    }
    let inputs = Inputs {
        run: header.run.clone(),
        directory,
        conditions,
        artifacts: artifacts(dir)?,
        alerts: received,
        fates,
        echo: echo.map(|e| (e, rows)),
        collection_cut_off,
        sync: sync_summary(dir),
        broker_discards: broker_discards(dir),
        drill,
    };
    Ok((header, inputs))
}

/// The devices any fault affects (`scoring::drill::affects`): the drill section's rows.
fn affected_devices(directory: &[Entity], faults: &[Fault]) -> HashSet<String> {
    directory
        .iter()
        .filter(|e| {
            faults
                .iter()
                .any(|f| wardtwin_scoring::drill::affects(f, e))
        })
        .map(|e| e.id.clone())
        .collect()
}

/// What `broker.json` says the embedded broker discarded: (cursor jumps, "client filter"s).
fn broker_discards(dir: &Path) -> Option<(u64, Vec<String>)> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(BROKER_LOG)).ok()?).ok()?;
    let jumps = v.get("cursor_jumps")?.as_u64()?;
    let subs = v
        .get("subscriptions")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| Some(format!("{} {}", p.get(0)?.as_str()?, p.get(1)?.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    Some((jumps, subs))
}

/// What `sync.json` says (absent when the run did not publish its clock).
fn sync_summary(dir: &Path) -> Option<wardtwin_scoring::model::SyncSummary> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(SYNC_LOG)).ok()?).ok()?;
    let stalls = v.get("stalls").and_then(serde_json::Value::as_array);
    Some(wardtwin_scoring::model::SyncSummary {
        mode: v.get("sync")?.as_str()?.to_string(),
        clocks: v
            .get("clocks")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
        stalls: stalls.map_or(0, |s| s.len() as u64),
        first_stall: stalls
            .and_then(|s| s.first())
            .and_then(|s| s.get("sim_time"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
    })
}

/// True NEWS2 of the given patients over time (`truth_vitals.parquet`), for the timeline plots.
pub fn news2_series(
    dir: &Path,
    patients: &[String],
) -> Result<std::collections::BTreeMap<String, Vec<(i64, i32)>>, RunFolderError> {
    let df = read_table(
        dir,
        "truth_vitals",
        &["sim_time", "patient_id", "news2_total"],
    )?;
    let c = Cols::new(&df, dir, "truth_vitals");
    let (t, p, n) = (
        c.time("sim_time")?,
        c.str("patient_id")?,
        c.i32("news2_total")?,
    );
    let mut out: std::collections::BTreeMap<String, Vec<(i64, i32)>> =
        patients.iter().map(|p| (p.clone(), Vec::new())).collect();
    for i in 0..df.height() {
        if let (Some(t), Some(p), Some(n)) = (t[i], p[i].as_ref(), n[i])
            && let Some(v) = out.get_mut(p)
        {
            v.push((t, n));
        }
    }
    Ok(out)
}
