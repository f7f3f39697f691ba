//! # wardtwin-exporters: the only crate that knows output formats
//!
//! - [`parquet`]: the run sink that streams telemetry and ground truth to Parquet files in
//!   bounded memory (schemas: [`tables`], documented in `docs/outputs.md`).
//! - [`manifest`]: `manifest.json`, what a run folder holds and how it was made.
//!
//! Nothing else in the workspace knows a column name or a file layout.

pub mod live;
pub mod manifest;
pub mod parquet;
pub mod tables;
pub mod wire;

pub use manifest::Manifest;
pub use parquet::{DEFAULT_CHUNK_ROWS, ExportError, ParquetSink, TABLES};
