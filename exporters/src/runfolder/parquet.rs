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
use wardtwin_sim::{Batch, Directory, RecordSink, SinkError, SinkReport};

use crate::runfolder::tables;

/// Rows per chunk (and so per row group) of the large tables.
pub const DEFAULT_CHUNK_ROWS: usize = 256 * 1024;
/// Chunks that may wait for the writer thread.
pub const CHANNEL_CHUNKS: usize = 3;

/// The tables of a run folder, in the order the manifest lists them: every record kind's
/// table ([`tables::all`]), then the directory.
pub fn table_names() -> Vec<&'static str> {
    tables::all()
        .iter()
        .map(|t| t.table())
        .chain([tables::DIRECTORY])
        .collect()
}

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

/// A chunk of one table's rows, as a job for the writer thread: the table's index and the
/// conversion to a frame (ids are resolved there, off the simulation thread).
type Chunk = (usize, tables::FrameJob);

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

fn writer_thread(
    out: PathBuf,
    dir: Arc<Directory>,
    schemas: Vec<(&'static str, tables::FrameJob)>,
    with_directory: bool,
    rx: Receiver<Chunk>,
) -> WriterResult {
    let d = &*dir;
    let schema = |df: PolarsResult<DataFrame>, table| {
        df.map(|f| f.schema().as_ref().clone())
            .map_err(|source| ExportError::Polars { table, source })
    };
    let mut files = Vec::with_capacity(schemas.len() + 1);
    for (table, empty) in schemas {
        files.push(TableFile::create(&out, table, &schema(empty(d), table)?)?);
    }
    // The directory is known from the start: written once.
    if with_directory {
        let mut directory = TableFile::create(
            &out,
            tables::DIRECTORY,
            &schema(tables::directory_frame(d), tables::DIRECTORY)?,
        )?;
        directory.write(tables::directory_frame(d))?;
        files.push(directory);
    }
    for (ix, job) in rx {
        files[ix].write(job(d))?;
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
    /// One buffer per table, in [`tables::all`] order.
    buffers: Vec<Box<dyn tables::Buffer>>,
}

impl ParquetSink {
    /// Starts writing into `out` (which must exist).
    pub fn create(out: &Path, dir: Arc<Directory>, chunk_rows: usize) -> Result<Self, ExportError> {
        Self::start(out, dir, chunk_rows, None)
    }

    /// Starts writing only the tables named in `only` into `out` (which must exist): the
    /// records of other kinds, and the directory, are not kept.
    pub fn create_only(
        out: &Path,
        dir: Arc<Directory>,
        chunk_rows: usize,
        only: &[&str],
    ) -> Result<Self, ExportError> {
        Self::start(out, dir, chunk_rows, Some(only))
    }

    fn start(
        out: &Path,
        dir: Arc<Directory>,
        chunk_rows: usize,
        only: Option<&[&str]>,
    ) -> Result<Self, ExportError> {
        let (tx, rx) = sync_channel(CHANNEL_CHUNKS);
        let out = out.to_path_buf();
        let chunk_rows = chunk_rows.max(1);
        let mut buffers = tables::all();
        if let Some(only) = only {
            buffers.retain(|b| only.contains(&b.table()));
        }
        let schemas = buffers.iter().map(|b| (b.table(), b.empty())).collect();
        let with_directory = only.is_none_or(|o| o.contains(&tables::DIRECTORY));
        let handle = std::thread::Builder::new()
            .name("parquet-writer".into())
            .spawn(move || writer_thread(out, dir, schemas, with_directory, rx))
            .map_err(|source| ExportError::Io {
                path: PathBuf::from("<writer thread>"),
                source,
            })?;
        Ok(Self {
            tx: Some(tx),
            handle: Some(handle),
            chunk_rows,
            buffers,
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

    /// Sends table `ix`'s buffer if it holds a full chunk (or anything, with `force`).
    fn flush(&mut self, ix: usize, force: bool) -> Result<(), SinkError> {
        if let Some(job) = self.buffers[ix].take(force, self.chunk_rows) {
            self.send((ix, job))?;
        }
        Ok(())
    }
}

impl RecordSink for ParquetSink {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        let Some(ix) = self.buffers.iter().position(|b| b.table() == batch.table()) else {
            return Ok(()); // a kind with no table of its own
        };
        self.buffers[ix].push(&batch, self.chunk_rows);
        self.flush(ix, false)
    }
    fn finish(&mut self) -> Result<SinkReport, SinkError> {
        for ix in 0..self.buffers.len() {
            self.flush(ix, true)?;
        }
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
        DeviceIx, DeviceKind, Forwarded, MAX_OBS, Metric, NO_SOURCE, ObsStatus, Observation,
        Reading,
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

    fn reading(seq: u32) -> Forwarded {
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
        Forwarded {
            reading: Reading {
                device: DeviceIx(0),
                seq,
                sim_ms: i64::from(seq) * 15_000,
                device_ms: i64::from(seq) * 15_000 + 3,
                battery_pct: 80.0,
                len: 2,
                obs,
            },
            forwarded_ms: i64::from(seq) * 15_000,
        }
    }

    /// A long run is streamed: with 1,000-row chunks, 20,000 observations arrive as 20 row groups,
    /// never as one frame; and every row reads back as written.
    #[test]
    fn telemetry_streams_in_row_groups_of_the_chunk_size_and_reads_back_exactly() {
        let tmp = tempfile::tempdir().unwrap();
        let mut sink = ParquetSink::create(tmp.path(), Arc::new(directory()), 1_000).unwrap();
        let readings: Vec<Forwarded> = (0..10_000).map(reading).collect();
        for batch in readings.chunks(7) {
            sink.write(Batch::new(&batch.to_vec())).unwrap();
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
        for t in table_names() {
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
        let first = sink.write(Batch::new(&(0..100).map(reading).collect::<Vec<_>>()));
        let err = match first {
            Err(e) => e,
            Ok(()) => sink.finish().unwrap_err(),
        };
        assert!(err.to_string().contains("does/not/exist"), "{err}");
    }
}
