//! # wardtwin-exporters: the only crate that knows output formats
//!
//! Six rooms, one concern each:
//!
//! - [`runfolder`]: the run folder. [`ParquetSink`] streams every record table to Parquet in
//!   bounded memory ([`runfolder::tables`]: which record fills which table, and its columns,
//!   documented in `docs/outputs.md`); [`runfolder::manifest`] writes `manifest.json`; the
//!   module itself reads a run folder back for scoring.
//! - [`wire`]: wire format v1: telemetry and status payloads, topics, the site map,
//!   [`wire::alerts`] (alert intake schema and the logs of what a system under test sent),
//!   and the JSON Schemas (`schema-check` feature).
//! - [`mqtt`]: the live transport: client options, the publisher (pacer, ledger,
//!   connections), the live sink, the collector, subscriptions, the embedded broker; with the
//!   `test-support` feature, a mosquitto harness for tests and benchmarks.
//! - [`report`]: a [`wardtwin_scoring::Scorecard`] as JSON, Markdown, HTML and JUnit XML.
//! - [`realism`]: the realism report of a run folder against published ward figures.
//! - [`wfdb`]: PhysioNet WFDB records and annotation files (waveforms, beats, rhythms).
//!
//! Nothing else in the workspace knows a column name, a topic or a file layout. The reference
//! alerting stack is a system under test and lives in its own crate (`wardtwin-reference`),
//! which sees only the wire.

/// `eprintln!` that never panics: a closed stderr (`wardtwin run … 2>&1 | head`) loses the
/// line instead of killing the thread that wanted to say it.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod fhir;
pub mod hl7;
pub mod mqtt;
pub mod realism;
pub mod report;
pub mod runfolder;
pub mod wfdb;
pub mod wire;

pub use runfolder::manifest::Manifest;
pub use runfolder::parquet::{DEFAULT_CHUNK_ROWS, ExportError, ParquetSink, table_names};
