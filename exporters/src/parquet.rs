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
use wardtwin_sim::records::{
    ArtifactRecord, DeviceEvent, EmissionFate, EpisodeRecord, Reading, TruthVitals,
};
use wardtwin_sim::{Directory, RecordSink, SinkError, SinkReport};

use crate::tables::{self, ObsRow};

/// Rows per chunk (and so per row group) of the large tables.
pub const DEFAULT_CHUNK_ROWS: usize = 256 * 1024;
/// Chunks that may wait for the writer thread.
pub const CHANNEL_CHUNKS: usize = 3;

/// The tables of a run folder, in the order the manifest lists them.
pub const TABLES: [&str; 6] = [
    "telemetry",
    "emissions",
    "truth_vitals",
    "episodes",
    "artifacts",
    "device_events",
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

fn writer_thread(
    out: PathBuf,
    dir: Arc<Directory>,
    rx: Receiver<Chunk>,
) -> Result<Vec<(String, u64)>, ExportError> {
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
    ];
    for chunk in rx {
        match chunk {
            Chunk::Telemetry(rows) => files[0].write(tables::telemetry_frame(&rows, d))?,
            Chunk::Emissions(rows) => files[1].write(tables::emissions_frame(&rows, d))?,
            Chunk::Truth(rows) => files[2].write(tables::truth_frame(&rows, d))?,
            Chunk::Episodes(rows) => files[3].write(tables::episodes_frame(&rows, d))?,
            Chunk::Artifacts(rows) => files[4].write(tables::artifacts_frame(&rows, d))?,
            Chunk::Events(rows) => files[5].write(tables::device_events_frame(&rows, d))?,
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
    handle: Option<JoinHandle<Result<Vec<(String, u64)>, ExportError>>>,
    chunk_rows: usize,
    obs: Vec<ObsRow>,
    fates: Vec<EmissionFate>,
    truth: Vec<TruthVitals>,
    episodes: Vec<EpisodeRecord>,
    artifacts: Vec<ArtifactRecord>,
    events: Vec<DeviceEvent>,
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
