//! Where records go: the [`Record`] kinds and the [`RecordSink`] boundary.
//!
//! A record kind declares itself once: a plain-data type implementing [`Record`] (its table
//! name and the stable key the recorder sorts a tick's rows by). The engine carries it in a
//! message and registers it in one list (`engine::record_kinds`); a sink receives each tick's
//! rows of each kind as a [`Batch`] and takes out the kinds it knows with [`Batch::get`]. A new
//! kind is one new type plus its table in `exporters`: no sink method, no per-kind plumbing.
//!
//! [`CountingSink`] is the no-I/O sink used by benchmarks and tests; [`MemorySink`] keeps every
//! row for tests.

use std::any::Any;
use std::collections::BTreeMap;

use crate::conditions::ConditionRecord;
use crate::conditions::{ConditionClass, Severity, Subject};
use crate::records::{
    ArtifactKind, ArtifactRecord, DeviceEvent, DeviceEventKind, DeviceIx, EmissionFate,
    EmissionKind, EpisodeRecord, ExcursionRecord, FaultRecord, Forwarded, Measure, PatientIx,
    PositionRecord, RhythmRecord, StatusReport, TruthVitals, WaveFrame,
};

/// Error from a sink: the sink says what failed and why.
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Row counts a sink reports when it finishes, by table name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkReport {
    pub tables: Vec<(String, u64)>,
}

/// A kind of recorded row.
pub trait Record: Clone + Send + Sync + 'static {
    /// The output table it goes to (`telemetry`, `emissions`, …; docs/outputs.md).
    const TABLE: &'static str;
    /// The stable order of one tick's rows (nothing unordered reaches an output).
    type Key: Ord;
    fn key(&self) -> Self::Key;
}

impl Record for Forwarded {
    const TABLE: &'static str = "telemetry";
    type Key = (DeviceIx, u32);
    fn key(&self) -> Self::Key {
        (self.device, self.seq)
    }
}
impl Record for EmissionFate {
    const TABLE: &'static str = "emissions";
    type Key = (DeviceIx, EmissionKind, u32);
    fn key(&self) -> Self::Key {
        (self.device, self.kind, self.seq)
    }
}
impl Record for StatusReport {
    const TABLE: &'static str = "device_status";
    type Key = (DeviceIx, u32);
    fn key(&self) -> Self::Key {
        (self.device, self.seq)
    }
}
impl Record for TruthVitals {
    const TABLE: &'static str = "truth_vitals";
    type Key = (i64, PatientIx);
    fn key(&self) -> Self::Key {
        (self.sim_ms, self.patient)
    }
}
impl Record for EpisodeRecord {
    const TABLE: &'static str = "episodes";
    type Key = u32;
    fn key(&self) -> Self::Key {
        self.id
    }
}
impl Record for ArtifactRecord {
    const TABLE: &'static str = "artifacts";
    type Key = (DeviceIx, i64, ArtifactKind, i64);
    fn key(&self) -> Self::Key {
        (self.device, self.start_ms, self.kind, self.end_ms)
    }
}
impl Record for DeviceEvent {
    const TABLE: &'static str = "device_events";
    type Key = (DeviceIx, i64, DeviceEventKind);
    fn key(&self) -> Self::Key {
        (self.device, self.sim_ms, self.kind)
    }
}
impl Record for ConditionRecord {
    const TABLE: &'static str = "conditions";
    type Key = (Subject, ConditionClass, Severity, i64);
    fn key(&self) -> Self::Key {
        (self.subject, self.class, self.severity, self.onset_ms)
    }
}
impl Record for ExcursionRecord {
    const TABLE: &'static str = "excursions";
    type Key = (DeviceIx, Measure, i64);
    fn key(&self) -> Self::Key {
        (self.device, self.measure, self.start_ms)
    }
}
impl Record for FaultRecord {
    const TABLE: &'static str = "faults";
    type Key = u32;
    fn key(&self) -> Self::Key {
        self.id
    }
}
impl Record for crate::records::ChartRecord {
    const TABLE: &'static str = "charted";
    type Key = (i64, PatientIx);
    fn key(&self) -> Self::Key {
        (self.charted_ms.unwrap_or(self.due_ms), self.patient)
    }
}
impl Record for RhythmRecord {
    const TABLE: &'static str = "rhythms";
    type Key = u32;
    fn key(&self) -> Self::Key {
        self.id
    }
}
impl Record for WaveFrame {
    const TABLE: &'static str = "waveforms";
    type Key = PatientIx;
    fn key(&self) -> Self::Key {
        self.patient
    }
}
impl Record for PositionRecord {
    const TABLE: &'static str = "positions";
    type Key = (i64, DeviceIx);
    fn key(&self) -> Self::Key {
        (self.sim_ms, self.device)
    }
}

/// One tick's rows of one record kind, in stable order, with the kind erased so that one sink
/// method takes every kind.
#[derive(Clone, Copy)]
pub struct Batch<'a> {
    table: &'static str,
    len: usize,
    /// A `Vec<R>` of the kind's type.
    rows: &'a dyn Any,
    /// Appends `rows` to a store of the same kind (`extend::<R>`).
    extend: fn(&dyn Any, &mut Option<Box<dyn Any + Send>>),
}

fn extend<R: Record>(rows: &dyn Any, into: &mut Option<Box<dyn Any + Send>>) {
    let Some(rows) = rows.downcast_ref::<Vec<R>>() else {
        return;
    };
    match into.as_mut().and_then(|b| b.downcast_mut::<Vec<R>>()) {
        Some(v) => v.extend_from_slice(rows),
        None => *into = Some(Box::new(rows.clone())),
    }
}

impl<'a> Batch<'a> {
    /// The rows of `rows` (a buffer of kind `R`).
    pub fn new<R: Record>(rows: &'a Vec<R>) -> Self {
        Self {
            table: R::TABLE,
            len: rows.len(),
            rows,
            extend: extend::<R>,
        }
    }
    /// The rows, if they are of kind `R`.
    pub fn get<R: Record>(&self) -> Option<&'a [R]> {
        self.rows.downcast_ref::<Vec<R>>().map(Vec::as_slice)
    }
    /// The table this kind goes to.
    pub fn table(&self) -> &'static str {
        self.table
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Appends the rows to `store`, a type-erased `Vec` of the same kind (created if `None`):
    /// how a sink keeps kinds it does not know by name.
    pub fn extend_into(&self, store: &mut Option<Box<dyn Any + Send>>) {
        (self.extend)(self.rows, store);
    }
}

/// A consumer of recorded rows. Every batch arrives in a deterministic order: within a tick,
/// kinds in the order the engine registered them, rows sorted by [`Record::key`].
pub trait RecordSink: Send + Sync + 'static {
    /// One tick's rows of one kind (never empty). A sink ignores kinds it does not keep.
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError>;
    /// Flushes everything; called once, after the last tick.
    fn finish(&mut self) -> Result<SinkReport, SinkError>;
}

/// Counts rows and keeps a running digest of what it saw (FNV-1a over the values), with no I/O.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Rows seen, by table name.
    pub rows: BTreeMap<&'static str, u64>,
    /// Observations inside the readings.
    pub observations: u64,
    /// Over readings and true vitals, in the order they came.
    pub digest: u64,
}

impl Counts {
    /// Rows seen of kind `R`.
    pub fn of<R: Record>(&self) -> u64 {
        self.rows.get(R::TABLE).copied().unwrap_or(0)
    }
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
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        let mut c = self.counts.lock().expect("counts lock");
        *c.rows.entry(batch.table()).or_default() += batch.len() as u64;
        if let Some(rows) = batch.get::<Forwarded>() {
            for r in rows {
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
        } else if let Some(rows) = batch.get::<TruthVitals>() {
            for t in rows {
                let mut h = fnv(c.digest, &t.patient.0.to_le_bytes());
                h = fnv(h, &t.heart_rate.to_bits().to_le_bytes());
                h = fnv(h, &t.spo2.to_bits().to_le_bytes());
                c.digest = fnv(h, &[t.news2.total]);
            }
        }
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

/// The rows a [`MemorySink`] kept, by kind.
#[derive(Debug, Default)]
pub struct Recorded {
    kinds: BTreeMap<&'static str, Option<Box<dyn Any + Send>>>,
}

impl Recorded {
    /// Every row of kind `R`, in the order recorded (empty if none came).
    pub fn get<R: Record>(&self) -> &[R] {
        self.kinds
            .get(R::TABLE)
            .and_then(|rows| rows.as_ref()?.downcast_ref::<Vec<R>>())
            .map_or(&[], Vec::as_slice)
    }
    /// Takes every row of kind `R` out.
    pub fn take<R: Record>(&mut self) -> Vec<R> {
        self.kinds
            .get_mut(R::TABLE)
            .and_then(|rows| rows.as_mut()?.downcast_mut::<Vec<R>>())
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

impl MemorySink {
    /// What was recorded so far (the sink starts empty again).
    pub fn take(&self) -> Recorded {
        std::mem::take(&mut *self.rows.lock().expect("rows lock"))
    }
}

impl RecordSink for MemorySink {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        let mut rec = self.rows.lock().expect("rows lock");
        batch.extend_into(rec.kinds.entry(batch.table()).or_default());
        Ok(())
    }
    fn finish(&mut self) -> Result<SinkReport, SinkError> {
        Ok(SinkReport::default())
    }
}
