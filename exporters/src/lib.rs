//! # wardtwin-exporters: the only crate that knows output formats
//!
//! - [`parquet`]: the run sink that streams telemetry and ground truth to Parquet files in
//!   bounded memory (schemas: [`tables`], documented in `docs/outputs.md`).
//! - [`manifest`]: `manifest.json`, what a run folder holds and how it was made.
//! - [`wire`] and [`live`]: MQTT topics and payloads (v1), and the live publisher.
//! - [`alerts`]: alert intake schema v1 and the run folder's logs of what a system under test
//!   sent; [`runfolder`] reads a run folder back for scoring; [`scorecard`] renders a
//!   [`wardtwin_scoring::Scorecard`] as JSON, Markdown, HTML and JUnit XML.
//! - [`reference`]: the reference stack, a system under test that sees only the wire.
//!
//! Nothing else in the workspace knows a column name or a file layout.

pub mod alerts;
pub mod live;
pub mod manifest;
pub mod parquet;
pub mod reference;
pub mod runfolder;
pub mod scorecard;
pub mod tables;
pub mod wire;

pub use manifest::Manifest;
pub use parquet::{DEFAULT_CHUNK_ROWS, ExportError, ParquetSink, table_names};
