//! `manifest.json`: what a run folder holds and how it was made. It holds nothing that varies
//! between two runs of the same scenario and seed (no wall-clock times, no thread counts), so
//! it is byte-identical too.

use serde::Serialize;

/// Format tag of a run folder.
pub const RUN_FORMAT: &str = "wardtwin-run/v1";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Manifest {
    pub format: &'static str,
    pub program: Program,
    pub scenario: ScenarioRef,
    pub seed: u64,
    /// `false` when the run was interrupted (SIGINT/SIGTERM): `end` and `duration_ms` are then
    /// what was simulated, and every file holds exactly that.
    pub complete: bool,
    pub epoch: String,
    pub end: String,
    pub duration_ms: i64,
    pub step_ms: i64,
    pub truth_interval_ms: i64,
    pub beds: usize,
    pub patients: usize,
    pub devices: usize,
    pub files: Vec<FileEntry>,
    /// The scenario's gates (`[scoring] gates`), so `wardtwin score` judges a run as it was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<String>,
    /// `[scoring] chronic = "dont_care"`: written only then (`wardtwin score` reads its absence
    /// as "score").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chronic: Option<&'static str>,
    /// Live runs only: where the stream went and how it fared. Wall-clock figures in here
    /// (lateness) vary between runs; everything else in the manifest does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveManifest>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LiveManifest {
    /// Broker URL (never credentials).
    pub broker: String,
    pub embedded: bool,
    /// What the fault proxy did, if the drill's link cuts went through one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_proxy: Option<crate::mqtt::ProxyStats>,
    pub qos: u8,
    pub connection: &'static str,
    pub speed: String,
    pub topic_prefix: String,
    #[serde(flatten)]
    pub report: crate::mqtt::LiveReport,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Program {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScenarioRef {
    pub name: String,
    pub origin: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileEntry {
    pub table: String,
    pub path: String,
    pub rows: u64,
}

impl Manifest {
    /// Writes the manifest as pretty JSON.
    pub fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        let mut text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        text.push('\n');
        std::fs::write(path, text)
    }
}
