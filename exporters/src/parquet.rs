//! The Parquet run sink: every record table streamed to `<table>.parquet` in bounded memory.
//!
//! The simulation thread appends compact rows to per-table buffers; a full buffer (a chunk) is
//! moved through a bounded channel to a writer thread, which resolves ids, builds the
//! DataFrame and writes it as one row group. At most [`CHANNEL_CHUNKS`] chunks wait in the
//! channel, so memory stays bounded however long the run; if the writer falls behind, the
//! simulation waits. Files are written as `*.parquet.partial` and renamed when complete, so a
//! run that dies leaves no file that looks finished.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use polars_core::prelude::*;
use polars_io::parquet::write::{BatchedWriter, ParquetCompression, ParquetWriter};
use wardtwin_sim::conditions::ConditionRecord;
use wardtwin_sim::records::{
    ArtifactRecord, DeviceEvent, EmissionFate, EpisodeRecord, ExcursionRecord, PositionRecord,
    Reading, TruthVitals,
};
use wardtwin_sim::{Directory, RecordSink, SinkError, SinkReport};

use crate::tables::{self, ObsRow};

/// Rows per chunk (and so per row group) of the large tables.
pub const DEFAULT_CHUNK_ROWS: usize = 256 * 1024;
/// Chunks that may wait for the writer thread.
pub const CHANNEL_CHUNKS: usize = 3;

/// The tables of a run folder, in the order the manifest lists them.
pub const TABLES: [&str; 10] = [
    "telemetry",
    "emissions",
    "truth_vitals",
    "episodes",
    "artifacts",
    "device_events",
    "conditions",
    "directory",
    "excursions",
    "positions",
];

/// Why writing a run failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode table {table}: {source}")]
    Polars {
        table: &'static str,
        #[source]
        source: PolarsError,
    },
    #[error("the Parquet writer thread stopped unexpectedly")]
    WriterGone,
}

enum Chunk {
    Telemetry(Vec<ObsRow>),
    Emissions(Vec<EmissionFate>),
    Truth(Vec<TruthVitals>),
    Episodes(Vec<EpisodeRecord>),
    Artifacts(Vec<ArtifactRecord>),
    Events(Vec<DeviceEvent>),
    Conditions(Vec<ConditionRecord>),
    Excursions(Vec<ExcursionRecord>),
    Positions(Vec<PositionRecord>),
}

struct TableFile {
    table: &'static str,
    partial: PathBuf,
    done: PathBuf,
    writer: BatchedWriter<File>,
    rows: u64,
}

impl TableFile {
    fn create(dir: &Path, table: &'static str, schema: &Schema) -> Result<Self, ExportError> {
        let done = dir.join(format!("{table}.parquet"));
        let partial = dir.join(format!("{table}.parquet.partial"));
        let file = File::create(&partial).map_err(|source| ExportError::Io {
            path: partial.clone(),
            source,
        })?;
        let writer = ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .batched(schema)
            .map_err(|source| ExportError::Polars { table, source })?;
        Ok(Self {
            table,
            partial,
            done,
            writer,
            rows: 0,
        })
    }

    fn write(&mut self, df: PolarsResult<DataFrame>) -> Result<(), ExportError> {
        let table = self.table;
        let df = df.map_err(|source| ExportError::Polars { table, source })?;
        self.rows += df.height() as u64;
        self.writer
            .write_batch(&df)
            .map_err(|source| ExportError::Polars { table, source })
    }

    fn finish(self) -> Result<(&'static str, u64), ExportError> {
        let table = self.table;
        self.writer
            .finish()
            .map_err(|source| ExportError::Polars { table, source })?;
        std::fs::rename(&self.partial, &self.done).map_err(|source| ExportError::Io {
            path: self.done.clone(),
            source,
        })?;
        Ok((self.table, self.rows))
    }
}

/// What the writer thread returns: rows written per table.
type WriterResult = Result<Vec<(String, u64)>, ExportError>;

fn writer_thread(out: PathBuf, dir: Arc<Directory>, rx: Receiver<Chunk>) -> WriterResult {
    let d = &*dir;
    let schema = |df: PolarsResult<DataFrame>, table| {
        df.map(|f| f.schema().as_ref().clone())
            .map_err(|source| ExportError::Polars { table, source })
    };
    let mut files = [
        TableFile::create(
            &out,
            TABLES[0],
            &schema(tables::telemetry_frame(&[], d), TABLES[0])?,
        )?,
        TableFile::create(
            &out,
            TABLES[1],
            &schema(tables::emissions_frame(&[], d), TABLES[1])?,
        )?,
        TableFile::create(
            &out,
            TABLES[2],
            &schema(tables::truth_frame(&[], d), TABLES[2])?,
        )?,
        TableFile::create(
            &out,
            TABLES[3],
            &schema(tables::episodes_frame(&[], d), TABLES[3])?,
        )?,
        TableFile::create(
            &out,
            TABLES[4],
            &schema(tables::artifacts_frame(&[], d), TABLES[4])?,
        )?,
        TableFile::create(
            &out,
            TABLES[5],
            &schema(tables::device_events_frame(&[], d), TABLES[5])?,
        )?,
        TableFile::create(
            &out,
            TABLES[6],
            &schema(tables::conditions_frame(&[], d), TABLES[6])?,
        )?,
        TableFile::create(
            &out,
            TABLES[7],
            &schema(tables::directory_frame(&Directory::default()), TABLES[7])?,
        )?,
        TableFile::create(
            &out,
            TABLES[8],
            &schema(tables::excursions_frame(&[], d), TABLES[8])?,
        )?,
        TableFile::create(
            &out,
            TABLES[9],
            &schema(tables::positions_frame(&[], d), TABLES[9])?,
        )?,
    ];
    // The directory is known from the start: written once.
    files[7].write(tables::directory_frame(d))?;
    for chunk in rx {
        match chunk {
            Chunk::Telemetry(rows) => files[0].write(tables::telemetry_frame(&rows, d))?,
            Chunk::Emissions(rows) => files[1].write(tables::emissions_frame(&rows, d))?,
            Chunk::Truth(rows) => files[2].write(tables::truth_frame(&rows, d))?,
            Chunk::Episodes(rows) => files[3].write(tables::episodes_frame(&rows, d))?,
            Chunk::Artifacts(rows) => files[4].write(tables::artifacts_frame(&rows, d))?,
            Chunk::Events(rows) => files[5].write(tables::device_events_frame(&rows, d))?,
            Chunk::Conditions(rows) => files[6].write(tables::conditions_frame(&rows, d))?,
            Chunk::Excursions(rows) => files[8].write(tables::excursions_frame(&rows, d))?,
            Chunk::Positions(rows) => files[9].write(tables::positions_frame(&rows, d))?,
        }
    }
    files
        .into_iter()
        .map(|f| f.finish().map(|(t, n)| (t.to_string(), n)))
        .collect()
}

/// Streams every record table of a run to Parquet files in one folder.
pub struct ParquetSink {
    tx: Option<SyncSender<Chunk>>,
    handle: Option<JoinHandle<WriterResult>>,
    chunk_rows: usize,
    obs: Vec<ObsRow>,
    fates: Vec<EmissionFate>,
    truth: Vec<TruthVitals>,
    episodes: Vec<EpisodeRecord>,
    artifacts: Vec<ArtifactRecord>,
    events: Vec<DeviceEvent>,
    conditions: Vec<ConditionRecord>,
    excursions: Vec<ExcursionRecord>,
    positions: Vec<PositionRecord>,
}

impl ParquetSink {
    /// Starts writing into `out` (which must exist).
    pub fn create(out: &Path, dir: Arc<Directory>, chunk_rows: usize) -> Result<Self, ExportError> {
        let (tx, rx) = sync_channel(CHANNEL_CHUNKS);
        let out = out.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("parquet-writer".into())
            .spawn(move || writer_thread(out, dir, rx))
            .map_err(|source| ExportError::Io {
                path: PathBuf::from("<writer thread>"),
                source,
            })?;
        let chunk_rows = chunk_rows.max(1);
        Ok(Self {
            tx: Some(tx),
            handle: Some(handle),
            chunk_rows,
            obs: Vec::with_capacity(chunk_rows),
            fates: Vec::new(),
            truth: Vec::new(),
            episodes: Vec::new(),
            artifacts: Vec::new(),
            events: Vec::new(),
            conditions: Vec::new(),
            excursions: Vec::new(),
            positions: Vec::new(),
        })
    }

    /// Sends a chunk; if the writer thread has stopped, collects its error.
    fn send(&mut self, chunk: Chunk) -> Result<(), SinkError> {
        let sent = self
            .tx
            .as_ref()
            .map(|tx| tx.send(chunk).is_ok())
            .unwrap_or(false);
        if sent {
            return Ok(());
        }
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(Err(e))) => Err(Box::new(e)),
            _ => Err(Box::new(ExportError::WriterGone)),
        }
    }

    fn flush_full(&mut self, force: bool) -> Result<(), SinkError> {
        let n = if force { 1 } else { self.chunk_rows };
        if self.obs.len() >= n {
            let rows = std::mem::replace(&mut self.obs, Vec::with_capacity(self.chunk_rows));
            self.send(Chunk::Telemetry(rows))?;
        }
        macro_rules! flush {
            ($field:ident, $variant:ident) => {
                if self.$field.len() >= n {
                    let rows = std::mem::take(&mut self.$field);
                    self.send(Chunk::$variant(rows))?;
                }
            };
        }
        flush!(fates, Emissions);
        flush!(truth, Truth);
        // Episodes are few (one per scheduled deterioration): kept to the end, in id order.
        if force && !self.episodes.is_empty() {
            let mut rows = std::mem::take(&mut self.episodes);
            rows.sort_by_key(|e| e.id);
            self.send(Chunk::Episodes(rows))?;
        }
        flush!(artifacts, Artifacts);
        flush!(events, Events);
        flush!(positions, Positions);
        // Conditions are few (they are events, not samples) and arrive as each ends: kept to
        // the end and written in onset order, which gives each its id.
        if force && !self.conditions.is_empty() {
            let mut rows = std::mem::take(&mut self.conditions);
            rows.sort_by_key(|c| (c.onset_ms, c.subject, c.class, c.severity, c.end_ms));
            self.send(Chunk::Conditions(rows))?;
        }
        // Excursions are few too: written at the end in start order.
        if force && !self.excursions.is_empty() {
            let mut rows = std::mem::take(&mut self.excursions);
            rows.sort_by_key(|e| (e.start_ms, e.device, e.measure));
            self.send(Chunk::Excursions(rows))?;
        }
        Ok(())
    }
}

impl RecordSink for ParquetSink {
    fn readings(&mut self, rows: &[Reading]) -> Result<(), SinkError> {
        for r in rows {
            for o in r.observations() {
                self.obs.push(ObsRow {
                    device: r.device.0,
                    seq: r.seq,
                    sim_ms: r.sim_ms,
                    device_ms: r.device_ms,
                    value: o.value,
                    battery_pct: r.battery_pct,
                    metric: o.metric,
                    status: o.status,
                    source: o.source,
                });
            }
        }
        self.flush_full(false)
    }
    fn fates(&mut self, rows: &[EmissionFate]) -> Result<(), SinkError> {
        self.fates.extend_from_slice(rows);
        self.flush_full(false)
    }
    fn truth(&mut self, rows: &[TruthVitals]) -> Result<(), SinkError> {
        self.truth.extend_from_slice(rows);
        self.flush_full(false)
    }
    fn episodes(&mut self, rows: &[EpisodeRecord]) -> Result<(), SinkError> {
        self.episodes.extend_from_slice(rows);
        self.flush_full(false)
    }
    fn artifacts(&mut self, rows: &[ArtifactRecord]) -> Result<(), SinkError> {
        self.artifacts.extend_from_slice(rows);
        self.flush_full(false)
    }
    fn device_events(&mut self, rows: &[DeviceEvent]) -> Result<(), SinkError> {
        self.events.extend_from_slice(rows);
        self.flush_full(false)
    }
    fn conditions(&mut self, rows: &[ConditionRecord]) -> Result<(), SinkError> {
        self.conditions.extend_from_slice(rows);
        Ok(())
    }
    fn excursions(&mut self, rows: &[ExcursionRecord]) -> Result<(), SinkError> {
        self.excursions.extend_from_slice(rows);
        Ok(())
    }
    fn positions(&mut self, rows: &[PositionRecord]) -> Result<(), SinkError> {
        self.positions.extend_from_slice(rows);
        self.flush_full(false)
    }
    fn finish(&mut self) -> Result<SinkReport, SinkError> {
        self.flush_full(true)?;
        self.tx = None; // closes the channel: the writer finishes its files.
        let handle = self
            .handle
            .take()
            .ok_or_else(|| Box::new(ExportError::WriterGone) as SinkError)?;
        match handle.join() {
            Ok(Ok(tables)) => Ok(SinkReport { tables }),
            Ok(Err(e)) => Err(Box::new(e)),
            Err(_) => Err(Box::new(ExportError::WriterGone)),
        }
    }
}

#[cfg(test)]
mod tests {
    use polars_io::SerReader;
    use polars_io::parquet::read::ParquetReader;
    use wardtwin_sim::records::{
        DeviceIx, DeviceKind, MAX_OBS, Metric, NO_SOURCE, ObsStatus, Observation,
    };
    use wardtwin_sim::{BedInfo, DeviceInfo, PatientInfo};

    use super::*;

    fn directory() -> Directory {
        Directory {
            spaces: Vec::new(),
            receivers: Vec::new(),
            beds: vec![BedInfo {
                id: "W1-01".into(),
                ward: "W1".into(),
                room: "W1-R1".into(),
            }],
            patients: vec![PatientInfo {
                id: "P-W1-01".into(),
                bed: wardtwin_sim::records::BedIx(0),
            }],
            devices: vec![DeviceInfo {
                id: "ecg-W1-01".into(),
                kind: DeviceKind::EcgPatch,
                patient: Some(wardtwin_sim::records::PatientIx(0)),
                bed: Some(wardtwin_sim::records::BedIx(0)),
                ward: "W1".into(),
            }],
        }
    }

    fn reading(seq: u32) -> Reading {
        let mut obs = [Observation {
            metric: Metric::HeartRate,
            value: Some(70.0 + (seq % 7) as f32),
            status: ObsStatus::Ok,
            source: NO_SOURCE,
        }; MAX_OBS];
        obs[1] = Observation {
            metric: Metric::RespRate,
            value: None,
            status: ObsStatus::LeadOff,
            source: NO_SOURCE,
        };
        Reading {
            device: DeviceIx(0),
            seq,
            sim_ms: i64::from(seq) * 15_000,
            device_ms: i64::from(seq) * 15_000 + 3,
            battery_pct: 80.0,
            len: 2,
            obs,
            forwarded_ms: i64::from(seq) * 15_000,
        }
    }

    /// A long run is streamed: with 1,000-row chunks, 20,000 observations arrive as 20 row groups,
    /// never as one frame; and every row reads back as written.
    #[test]
    fn telemetry_streams_in_row_groups_of_the_chunk_size_and_reads_back_exactly() {
        let tmp = tempfile::tempdir().unwrap();
        let mut sink = ParquetSink::create(tmp.path(), Arc::new(directory()), 1_000).unwrap();
        let readings: Vec<Reading> = (0..10_000).map(reading).collect();
        for batch in readings.chunks(7) {
            sink.readings(batch).unwrap();
        }
        let report = sink.finish().unwrap();
        assert_eq!(report.tables[0], ("telemetry".to_string(), 20_000));
        let mut reader =
            ParquetReader::new(File::open(tmp.path().join("telemetry.parquet")).unwrap());
        assert_eq!(reader.get_metadata().unwrap().row_groups.len(), 20);
        let df = reader.finish().unwrap();
        assert_eq!(df.height(), 20_000);
        let hr = df
            .column("value")
            .unwrap()
            .f64()
            .unwrap()
            .get(2 * 9_999)
            .unwrap();
        assert_eq!(hr, 70.0 + (9_999 % 7) as f64);
        assert_eq!(df.column("value").unwrap().f64().unwrap().get(1), None);
        assert_eq!(
            df.column("status").unwrap().str().unwrap().get(1),
            Some("lead_off")
        );
        assert_eq!(
            df.column("patient_id").unwrap().str().unwrap().get(0),
            Some("P-W1-01")
        );
        // Every table exists, even the empty ones, and nothing is left half-written.
        for t in TABLES {
            assert!(tmp.path().join(format!("{t}.parquet")).is_file(), "{t}");
            assert!(
                !tmp.path().join(format!("{t}.parquet.partial")).exists(),
                "{t}"
            );
        }
    }

    /// A folder that cannot be written is an error naming the path, not a panic.
    #[test]
    fn an_unwritable_folder_is_reported_with_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("does/not/exist");
        let mut sink = ParquetSink::create(&missing, Arc::new(directory()), 10).unwrap();
        let first = sink.readings(&(0..100).map(reading).collect::<Vec<_>>());
        let err = match first {
            Err(e) => e,
            Ok(()) => sink.finish().unwrap_err(),
        };
        assert!(err.to_string().contains("does/not/exist"), "{err}");
    }
}
