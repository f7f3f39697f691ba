//! Where records go: the [`RecordSink`] boundary.
//!
//! The engine hands each tick's records to every sink, sorted by stable index, so nothing
//! unordered reaches an output. `exporters` implements file sinks; [`CountingSink`] is the
//! no-I/O sink used by benchmarks and tests.

use crate::conditions::ConditionRecord;
use crate::records::{
    ArtifactRecord, DeviceEvent, EmissionFate, EpisodeRecord, ExcursionRecord, PositionRecord,
    Reading, TruthVitals,
};

/// Error from a sink: the sink says what failed and why.
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Row counts a sink reports when it finishes, by table name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkReport {
    pub tables: Vec<(String, u64)>,
}

/// A consumer of recorded rows. Every method receives rows in a deterministic order.
pub trait RecordSink: Send + Sync + 'static {
    fn readings(&mut self, _rows: &[Reading]) -> Result<(), SinkError> {
        Ok(())
    }
    fn fates(&mut self, _rows: &[EmissionFate]) -> Result<(), SinkError> {
        Ok(())
    }
    fn truth(&mut self, _rows: &[TruthVitals]) -> Result<(), SinkError> {
        Ok(())
    }
    fn episodes(&mut self, _rows: &[EpisodeRecord]) -> Result<(), SinkError> {
        Ok(())
    }
    fn artifacts(&mut self, _rows: &[ArtifactRecord]) -> Result<(), SinkError> {
        Ok(())
    }
    fn device_events(&mut self, _rows: &[DeviceEvent]) -> Result<(), SinkError> {
        Ok(())
    }
    /// Alertable conditions, as each ends (or at the end of the run).
    fn conditions(&mut self, _rows: &[ConditionRecord]) -> Result<(), SinkError> {
        Ok(())
    }
    /// Fridge temperature excursions, as each ends (or at the end of the run).
    fn excursions(&mut self, _rows: &[ExcursionRecord]) -> Result<(), SinkError> {
        Ok(())
    }
    /// True positions of tags, every truth interval.
    fn positions(&mut self, _rows: &[PositionRecord]) -> Result<(), SinkError> {
        Ok(())
    }
    /// Flushes everything; called once, after the last tick.
    fn finish(&mut self) -> Result<SinkReport, SinkError>;
}

/// Counts rows and keeps a running digest of what it saw (FNV-1a over the values), with no I/O.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub readings: u64,
    pub observations: u64,
    pub fates: u64,
    pub truth: u64,
    pub episodes: u64,
    pub artifacts: u64,
    pub device_events: u64,
    pub conditions: u64,
    pub excursions: u64,
    pub positions: u64,
    pub digest: u64,
}

/// A sink that only counts (see [`Counts`]); clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct CountingSink {
    pub counts: std::sync::Arc<std::sync::Mutex<Counts>>,
}

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    if h == 0 {
        h = 0xcbf2_9ce4_8422_2325;
    }
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl RecordSink for CountingSink {
    fn readings(&mut self, rows: &[Reading]) -> Result<(), SinkError> {
        let mut c = self.counts.lock().expect("counts lock");
        for r in rows {
            c.readings += 1;
            c.observations += u64::from(r.len);
            let mut h = fnv(c.digest, &r.device.0.to_le_bytes());
            h = fnv(h, &r.seq.to_le_bytes());
            h = fnv(h, &r.device_ms.to_le_bytes());
            for o in r.observations() {
                h = fnv(h, &o.value.unwrap_or(f32::NAN).to_bits().to_le_bytes());
                h = fnv(h, &[o.status as u8]);
            }
            c.digest = h;
        }
        Ok(())
    }
    fn fates(&mut self, rows: &[EmissionFate]) -> Result<(), SinkError> {
        self.counts.lock().expect("counts lock").fates += rows.len() as u64;
        Ok(())
    }
    fn truth(&mut self, rows: &[TruthVitals]) -> Result<(), SinkError> {
        let mut c = self.counts.lock().expect("counts lock");
        for t in rows {
            c.truth += 1;
            let mut h = fnv(c.digest, &t.patient.0.to_le_bytes());
            h = fnv(h, &t.heart_rate.to_bits().to_le_bytes());
            h = fnv(h, &t.spo2.to_bits().to_le_bytes());
            c.digest = fnv(h, &[t.news2.total]);
        }
        Ok(())
    }
    fn episodes(&mut self, rows: &[EpisodeRecord]) -> Result<(), SinkError> {
        self.counts.lock().expect("counts lock").episodes += rows.len() as u64;
        Ok(())
    }
    fn artifacts(&mut self, rows: &[ArtifactRecord]) -> Result<(), SinkError> {
        self.counts.lock().expect("counts lock").artifacts += rows.len() as u64;
        Ok(())
    }
    fn device_events(&mut self, rows: &[DeviceEvent]) -> Result<(), SinkError> {
        self.counts.lock().expect("counts lock").device_events += rows.len() as u64;
        Ok(())
    }
    fn conditions(&mut self, rows: &[ConditionRecord]) -> Result<(), SinkError> {
        self.counts.lock().expect("counts lock").conditions += rows.len() as u64;
        Ok(())
    }
    fn excursions(&mut self, rows: &[ExcursionRecord]) -> Result<(), SinkError> {
        self.counts.lock().expect("counts lock").excursions += rows.len() as u64;
        Ok(())
    }
    fn positions(&mut self, rows: &[PositionRecord]) -> Result<(), SinkError> {
        self.counts.lock().expect("counts lock").positions += rows.len() as u64;
        Ok(())
    }
    fn finish(&mut self) -> Result<SinkReport, SinkError> {
        Ok(SinkReport::default())
    }
}

/// Everything recorded, kept in memory (for tests); clones share the rows.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    pub rows: std::sync::Arc<std::sync::Mutex<Recorded>>,
}

/// The rows a [`MemorySink`] kept.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub readings: Vec<Reading>,
    pub fates: Vec<EmissionFate>,
    pub truth: Vec<TruthVitals>,
    pub episodes: Vec<EpisodeRecord>,
    pub artifacts: Vec<ArtifactRecord>,
    pub device_events: Vec<DeviceEvent>,
    pub conditions: Vec<ConditionRecord>,
    pub excursions: Vec<ExcursionRecord>,
    pub positions: Vec<PositionRecord>,
}

impl MemorySink {
    /// A copy of what was recorded so far.
    pub fn take(&self) -> Recorded {
        std::mem::take(&mut *self.rows.lock().expect("rows lock"))
    }
}

impl RecordSink for MemorySink {
    fn readings(&mut self, rows: &[Reading]) -> Result<(), SinkError> {
        self.rows
            .lock()
            .expect("rows lock")
            .readings
            .extend_from_slice(rows);
        Ok(())
    }
    fn fates(&mut self, rows: &[EmissionFate]) -> Result<(), SinkError> {
        self.rows
            .lock()
            .expect("rows lock")
            .fates
            .extend_from_slice(rows);
        Ok(())
    }
    fn truth(&mut self, rows: &[TruthVitals]) -> Result<(), SinkError> {
        self.rows
            .lock()
            .expect("rows lock")
            .truth
            .extend_from_slice(rows);
        Ok(())
    }
    fn episodes(&mut self, rows: &[EpisodeRecord]) -> Result<(), SinkError> {
        self.rows
            .lock()
            .expect("rows lock")
            .episodes
            .extend_from_slice(rows);
        Ok(())
    }
    fn artifacts(&mut self, rows: &[ArtifactRecord]) -> Result<(), SinkError> {
        self.rows
            .lock()
            .expect("rows lock")
            .artifacts
            .extend_from_slice(rows);
        Ok(())
    }
    fn device_events(&mut self, rows: &[DeviceEvent]) -> Result<(), SinkError> {
        self.rows
            .lock()
            .expect("rows lock")
            .device_events
            .extend_from_slice(rows);
        Ok(())
    }
    fn conditions(&mut self, rows: &[ConditionRecord]) -> Result<(), SinkError> {
        self.rows
            .lock()
            .expect("rows lock")
            .conditions
            .extend_from_slice(rows);
        Ok(())
    }
    fn excursions(&mut self, rows: &[ExcursionRecord]) -> Result<(), SinkError> {
        self.rows
            .lock()
            .expect("rows lock")
            .excursions
            .extend_from_slice(rows);
        Ok(())
    }
    fn positions(&mut self, rows: &[PositionRecord]) -> Result<(), SinkError> {
        self.rows
            .lock()
            .expect("rows lock")
            .positions
            .extend_from_slice(rows);
        Ok(())
    }
    fn finish(&mut self) -> Result<SinkReport, SinkError> {
        Ok(SinkReport::default())
    }
}
