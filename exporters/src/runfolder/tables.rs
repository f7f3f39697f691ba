//! Every output table (schemas in docs/outputs.md): which record kind fills it, and how its
//! rows become columns.
//!
//! A record kind's table is one [`Table`] impl (its buffered row, whether it is streamed or
//! held to the end, its `*_frame` function) plus one line in [`all`]. Each `*_frame` function
//! turns a chunk of rows into a DataFrame; called with an empty slice it gives the table's
//! schema. Ids are resolved through the [`Directory`] there, on the writer thread, so the
//! simulation thread only moves compact rows.

use polars_core::prelude::*;
use wardtwin_sim::conditions::{ConditionRecord, Subject, rule_of};
use wardtwin_sim::records::{
    ArtifactRecord, DeviceEvent, DeviceIx, EmissionFate, EpisodeRecord, ExcursionRecord,
    FaultParam, FaultRecord, Forwarded, Metric, NO_SOURCE, ObsStatus, PositionRecord, RhythmRecord,
    StatusReport, TruthVitals,
};
use wardtwin_sim::{Batch, Directory, Record};

use crate::wire::codes;

/// The directory table: not a record kind (it is known before the first tick).
pub const DIRECTORY: &str = "directory";

/// Work for the writer thread: one chunk's frame, built from rows moved into it.
pub type FrameJob = Box<dyn FnOnce(&Directory) -> PolarsResult<DataFrame> + Send>;

/// How a record kind fills its table.
pub trait Table: Record {
    /// What the simulation thread buffers per record (a reading is one row per observation).
    type Row: Copy + Send + Sync + 'static;
    /// Few rows that arrive as each ends: kept to the end of the run and written at once, in
    /// [`Table::final_order`]. Otherwise streamed in chunks.
    const HELD: bool = false;
    /// Keep a chunk's worth of room allocated (the one table that fills every tick).
    const PREALLOCATE: bool = false;
    fn rows(records: &[Self], out: &mut Vec<Self::Row>);
    fn frame(rows: &[Self::Row], dir: &Directory) -> PolarsResult<DataFrame>;
    /// The order a held table is written in.
    fn final_order(_rows: &mut [Self::Row]) {}
}

/// The tables of the record kinds, in manifest order. A new kind's table is one line here.
pub fn all() -> Vec<Box<dyn Buffer>> {
    vec![
        buffer::<Forwarded>(),
        buffer::<StatusReport>(),
        buffer::<EmissionFate>(),
        buffer::<TruthVitals>(),
        buffer::<EpisodeRecord>(),
        buffer::<ArtifactRecord>(),
        buffer::<DeviceEvent>(),
        buffer::<ConditionRecord>(),
        buffer::<ExcursionRecord>(),
        buffer::<PositionRecord>(),
        buffer::<FaultRecord>(),
        buffer::<RhythmRecord>(),
        buffer::<wardtwin_sim::records::ChartRecord>(),
    ]
}

/// One table's rows on the simulation thread, waiting to fill a chunk.
pub trait Buffer: Send + Sync {
    fn table(&self) -> &'static str;
    /// A job that builds the table's empty frame (its schema).
    fn empty(&self) -> FrameJob;
    /// Takes the rows of `batch` if it is this table's kind.
    fn push(&mut self, batch: &Batch<'_>, chunk_rows: usize);
    /// The buffered rows as a job, if a chunk is due (any rows at all with `force`, held
    /// tables only then).
    fn take(&mut self, force: bool, chunk_rows: usize) -> Option<FrameJob>;
}

struct Rows<T: Table>(Vec<T::Row>);

fn buffer<T: Table>() -> Box<dyn Buffer> {
    Box::new(Rows::<T>(Vec::new()))
}

impl<T: Table> Buffer for Rows<T> {
    fn table(&self) -> &'static str {
        T::TABLE
    }
    fn empty(&self) -> FrameJob {
        Box::new(|d| T::frame(&[], d))
    }
    fn push(&mut self, batch: &Batch<'_>, chunk_rows: usize) {
        if let Some(records) = batch.get::<T>() {
            if T::PREALLOCATE && self.0.capacity() == 0 {
                self.0.reserve(chunk_rows);
            }
            T::rows(records, &mut self.0);
        }
    }
    fn take(&mut self, force: bool, chunk_rows: usize) -> Option<FrameJob> {
        let due = if T::HELD || force {
            force && !self.0.is_empty()
        } else {
            self.0.len() >= chunk_rows
        };
        if !due {
            return None;
        }
        let mut rows = std::mem::take(&mut self.0);
        T::final_order(&mut rows);
        Some(Box::new(move |d| T::frame(&rows, d)))
    }
}

/// A table whose row is the record itself.
macro_rules! table {
    ($ty:ty, $frame:ident $(, held: $order:expr)?) => {
        impl Table for $ty {
            type Row = $ty;
            $(const HELD: bool = true;
            fn final_order(rows: &mut [$ty]) {
                rows.sort_by_key($order);
            })?
            fn rows(records: &[$ty], out: &mut Vec<$ty>) {
                out.extend_from_slice(records);
            }
            fn frame(rows: &[$ty], dir: &Directory) -> PolarsResult<DataFrame> {
                $frame(rows, dir)
            }
        }
    };
}

impl Table for Forwarded {
    type Row = ObsRow;
    const PREALLOCATE: bool = true;
    fn rows(records: &[Forwarded], out: &mut Vec<ObsRow>) {
        for r in records {
            out.extend(r.observations().iter().map(|o| ObsRow {
                device: r.device.0,
                seq: r.seq,
                sim_ms: r.sim_ms,
                device_ms: r.device_ms,
                value: o.value,
                battery_pct: r.battery_pct,
                metric: o.metric,
                status: o.status,
                source: o.source,
            }));
        }
    }
    fn frame(rows: &[ObsRow], dir: &Directory) -> PolarsResult<DataFrame> {
        telemetry_frame(rows, dir)
    }
}
table!(EmissionFate, emissions_frame);
table!(StatusReport, device_status_frame);
table!(TruthVitals, truth_frame);
table!(wardtwin_sim::records::ChartRecord, chart_frame);
// Episodes are few (one per scheduled deterioration): written at the end, in id order.
table!(EpisodeRecord, episodes_frame, held: |e: &EpisodeRecord| e.id);
// Rhythm spells are few: written at the end, in id order.
table!(RhythmRecord, rhythms_frame, held: |r: &RhythmRecord| r.id);
table!(ArtifactRecord, artifacts_frame);
table!(DeviceEvent, device_events_frame);
// Conditions are few (they are events, not samples) and arrive as each ends: written at the
// end in onset order, which gives each its id.
table!(ConditionRecord, conditions_frame, held: |c: &ConditionRecord| (
    c.onset_ms, c.subject, c.class, c.severity, c.end_ms
));
// Excursions are few too: written at the end in start order.
table!(ExcursionRecord, excursions_frame, held: |e: &ExcursionRecord| (
    e.start_ms, e.device, e.measure
));
table!(PositionRecord, positions_frame);
// Faults are few (one per scheduled fault): written at the end, in id order.
table!(FaultRecord, faults_frame, held: |f: &FaultRecord| f.id);

/// One observation row of the telemetry table, as the sim thread buffers it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObsRow {
    pub device: u32,
    pub seq: u32,
    pub sim_ms: i64,
    pub device_ms: i64,
    pub value: Option<f32>,
    pub battery_pct: f32,
    pub metric: Metric,
    pub status: ObsStatus,
    /// The receiver (RSSI, UWB), else `NO_SOURCE`.
    pub source: u16,
}

fn s(name: &str) -> PlSmallStr {
    PlSmallStr::from_str(name)
}

fn strings<'a>(name: &str, it: impl Iterator<Item = &'a str>) -> Column {
    StringChunked::from_iter_values(s(name), it).into_column()
}

fn opt_strings<'a>(name: &str, it: impl Iterator<Item = Option<&'a str>>) -> Column {
    StringChunked::from_iter_options(s(name), it).into_column()
}

fn times(name: &str, it: impl Iterator<Item = i64>) -> Column {
    Int64Chunked::from_iter_values(s(name), it)
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_column()
}

fn opt_times(name: &str, it: impl Iterator<Item = Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(s(name), it)
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_column()
}

fn u32s(name: &str, it: impl Iterator<Item = u32>) -> Column {
    UInt32Chunked::from_iter_values(s(name), it).into_column()
}

fn i32s(name: &str, it: impl Iterator<Item = i32>) -> Column {
    Int32Chunked::from_iter_values(s(name), it).into_column()
}

fn opt_i64s(name: &str, it: impl Iterator<Item = Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(s(name), it).into_column()
}

fn opt_f64s(name: &str, it: impl Iterator<Item = Option<f64>>) -> Column {
    Float64Chunked::from_iter_options(s(name), it).into_column()
}

fn f32s(name: &str, it: impl Iterator<Item = f32>) -> Column {
    Float32Chunked::from_iter_values(s(name), it).into_column()
}

/// `device_id`: the stable id of each dense device index.
fn device_ids(dir: &Directory, devices: impl Iterator<Item = DeviceIx>) -> Column {
    strings("device_id", devices.map(|d| dir.device(d).id.as_str()))
}

/// The four columns that say which device and whose: `device_id`, `device_kind`,
/// `patient_id`, `bed_id`.
fn device_columns(dir: &Directory, devices: &[DeviceIx]) -> [Column; 4] {
    let dev = |d: &DeviceIx| dir.device(*d);
    [
        strings("device_id", devices.iter().map(|d| dev(d).id.as_str())),
        strings("device_kind", devices.iter().map(|d| dev(d).kind.name())),
        opt_strings(
            "patient_id",
            devices
                .iter()
                .map(|d| dev(d).patient.map(|p| dir.patient(p).id.as_str())),
        ),
        opt_strings(
            "bed_id",
            devices
                .iter()
                .map(|d| dev(d).bed.map(|b| dir.bed(b).id.as_str())),
        ),
    ]
}

fn frame(height: usize, cols: Vec<Column>) -> PolarsResult<DataFrame> {
    DataFrame::new(height, cols)
}

/// Device-reported values are exact at their resolution; carry them as the nearest f64 of the
/// decimal the device displayed (36.7, not 36.70000076).
pub(crate) fn displayed(v: f32) -> f64 {
    (f64::from(v) * 100.0).round() / 100.0
}

pub fn telemetry_frame(rows: &[ObsRow], dir: &Directory) -> PolarsResult<DataFrame> {
    let devices: Vec<DeviceIx> = rows.iter().map(|r| DeviceIx(r.device)).collect();
    let mut cols = vec![
        times("sim_time", rows.iter().map(|r| r.sim_ms)),
        times("device_time", rows.iter().map(|r| r.device_ms)),
    ];
    cols.extend(device_columns(dir, &devices));
    cols.extend([
        u32s("seq", rows.iter().map(|r| r.seq)),
        strings("metric", rows.iter().map(|r| r.metric.name())),
        opt_strings("loinc", rows.iter().map(|r| codes::loinc(r.metric))),
        UInt32Chunked::from_iter_options(s("mdc_code"), rows.iter().map(|r| codes::mdc(r.metric)))
            .into_column(),
        Float64Chunked::from_iter_options(s("value"), rows.iter().map(|r| r.value.map(displayed)))
            .into_column(),
        strings("unit", rows.iter().map(|r| codes::ucum(r.metric))),
        strings("status", rows.iter().map(|r| r.status.name())),
        opt_strings(
            "receiver_id",
            rows.iter().map(|r| {
                (r.source != NO_SOURCE).then(|| dir.receivers[usize::from(r.source)].id.as_str())
            }),
        ),
        f32s(
            "battery_pct",
            rows.iter().map(|r| (r.battery_pct * 10.0).round() / 10.0),
        ),
    ]);
    frame(rows.len(), cols)
}

pub fn emissions_frame(rows: &[EmissionFate], dir: &Directory) -> PolarsResult<DataFrame> {
    frame(
        rows.len(),
        vec![
            times("sim_time", rows.iter().map(|r| r.sim_ms)),
            device_ids(dir, rows.iter().map(|r| r.device)),
            strings("kind", rows.iter().map(|r| r.kind.name())),
            u32s("seq", rows.iter().map(|r| r.seq)),
            strings("fate", rows.iter().map(|r| r.fate.name())),
            strings("sink", rows.iter().map(|r| r.sink)),
            opt_times("forwarded_time", rows.iter().map(|r| r.forwarded_ms)),
            u32s("attempts", rows.iter().map(|r| u32::from(r.attempts))),
            Float64Chunked::from_iter_options(
                s("lateness_ms"),
                rows.iter()
                    .map(|r| r.lateness_us.map(|us| us as f64 / 1000.0)),
            )
            .into_column(),
        ],
    )
}

/// Device status messages, as the devices sent them.
pub fn device_status_frame(rows: &[StatusReport], dir: &Directory) -> PolarsResult<DataFrame> {
    frame(
        rows.len(),
        vec![
            times("sim_time", rows.iter().map(|r| r.sim_ms)),
            times("device_time", rows.iter().map(|r| r.device_ms)),
            device_ids(dir, rows.iter().map(|r| r.device)),
            u32s("seq", rows.iter().map(|r| r.seq)),
            strings("reason", rows.iter().map(|r| r.reason.name())),
            strings("signal", rows.iter().map(|r| r.signal.name())),
            strings("battery", rows.iter().map(|r| r.battery.name())),
            Float32Chunked::from_iter_values(
                s("battery_pct"),
                rows.iter().map(|r| {
                    if r.battery_pct.is_finite() {
                        (r.battery_pct * 10.0).round() / 10.0
                    } else {
                        f32::NAN
                    }
                }),
            )
            .into_column(),
            times("forwarded_time", rows.iter().map(|r| r.forwarded_ms)),
        ],
    )
}

pub fn truth_frame(rows: &[TruthVitals], dir: &Directory) -> PolarsResult<DataFrame> {
    let n = |f: fn(&TruthVitals) -> u8| rows.iter().map(move |r| i32::from(f(r)));
    frame(
        rows.len(),
        vec![
            times("sim_time", rows.iter().map(|r| r.sim_ms)),
            strings(
                "patient_id",
                rows.iter().map(|r| dir.patient(r.patient).id.as_str()),
            ),
            strings(
                "bed_id",
                rows.iter()
                    .map(|r| dir.bed_of_patient(r.patient).id.as_str()),
            ),
            f32s("heart_rate", rows.iter().map(|r| r.heart_rate)),
            f32s("resp_rate", rows.iter().map(|r| r.resp_rate)),
            f32s("spo2", rows.iter().map(|r| r.spo2)),
            f32s("temp_c", rows.iter().map(|r| r.temp_c)),
            f32s("systolic", rows.iter().map(|r| r.systolic)),
            f32s("diastolic", rows.iter().map(|r| r.diastolic)),
            Float32Chunked::from_iter_options(
                s("glucose_mmol"),
                rows.iter().map(|r| r.glucose_mmol),
            )
            .into_column(),
            strings(
                "consciousness",
                rows.iter().map(|r| r.consciousness.letter()),
            ),
            BooleanChunked::from_iter_values(s("on_oxygen"), rows.iter().map(|r| r.on_oxygen))
                .into_column(),
            i32s(
                "spo2_scale",
                rows.iter().map(|r| i32::from(r.scale.number())),
            ),
            i32s("news2_total", n(|r| r.news2.total)),
            i32s("news2_resp_rate", n(|r| r.news2.resp_rate)),
            i32s("news2_spo2", n(|r| r.news2.spo2)),
            i32s("news2_air_or_oxygen", n(|r| r.news2.air_or_oxygen)),
            i32s("news2_systolic", n(|r| r.news2.systolic)),
            i32s("news2_pulse", n(|r| r.news2.pulse)),
            i32s("news2_consciousness", n(|r| r.news2.consciousness)),
            i32s("news2_temperature", n(|r| r.news2.temperature)),
        ],
    )
}

/// The chart: each nurse's round with the true and the charted values (docs/outputs.md).
pub fn chart_frame(
    rows: &[wardtwin_sim::records::ChartRecord],
    dir: &Directory,
) -> PolarsResult<DataFrame> {
    use wardtwin_sim::records::ChartValues;
    let [patient, bed] = patient_columns(dir, rows.iter().map(|r| r.patient));
    let truth =
        |name: &str, f: fn(&ChartValues) -> f32| f32s(name, rows.iter().map(move |r| f(&r.truth)));
    let charted = |name: &str, f: fn(&ChartValues) -> f32| {
        Float32Chunked::from_iter_options(
            s(name),
            rows.iter().map(move |r| r.charted.map(|(c, _)| f(&c))),
        )
        .into_column()
    };
    let mut cols = vec![
        times("due_time", rows.iter().map(|r| r.due_ms)),
        opt_times("charted_time", rows.iter().map(|r| r.charted_ms)),
        patient,
        bed,
        BooleanChunked::from_iter_values(s("missed"), rows.iter().map(|r| r.charted_ms.is_none()))
            .into_column(),
        opt_i64s(
            "late_ms",
            rows.iter().map(|r| r.charted_ms.map(|c| c - r.due_ms)),
        ),
        i32s(
            "spo2_scale",
            rows.iter().map(|r| i32::from(r.scale.number())),
        ),
    ];
    type Vital = (&'static str, fn(&ChartValues) -> f32);
    let vitals: [Vital; 6] = [
        ("heart_rate", |v| v.heart_rate),
        ("resp_rate", |v| v.resp_rate),
        ("spo2", |v| v.spo2),
        ("temp_c", |v| v.temp_c),
        ("systolic", |v| v.systolic),
        ("diastolic", |v| v.diastolic),
    ];
    for (name, f) in vitals {
        cols.push(truth(&format!("true_{name}"), f));
        cols.push(charted(&format!("charted_{name}"), f));
    }
    cols.extend([
        strings(
            "true_consciousness",
            rows.iter().map(|r| r.truth.consciousness.letter()),
        ),
        opt_strings(
            "charted_consciousness",
            rows.iter()
                .map(|r| r.charted.map(|(c, _)| c.consciousness.letter())),
        ),
        BooleanChunked::from_iter_values(s("on_oxygen"), rows.iter().map(|r| r.truth.on_oxygen))
            .into_column(),
        i32s(
            "true_news2",
            rows.iter().map(|r| i32::from(r.news2_true.total)),
        ),
        Int32Chunked::from_iter_options(
            s("charted_news2"),
            rows.iter()
                .map(|r| r.charted.map(|(_, n)| i32::from(n.total))),
        )
        .into_column(),
        times("next_due_time", rows.iter().map(|r| r.next_due_ms)),
    ]);
    frame(rows.len(), cols)
}

/// `patient_id` and `bed_id` of the patients of a table's rows.
fn patient_columns(
    dir: &Directory,
    patients: impl Iterator<Item = wardtwin_sim::records::PatientIx> + Clone,
) -> [Column; 2] {
    [
        strings(
            "patient_id",
            patients.clone().map(|p| dir.patient(p).id.as_str()),
        ),
        strings(
            "bed_id",
            patients.map(|p| dir.bed_of_patient(p).id.as_str()),
        ),
    ]
}

pub fn episodes_frame(rows: &[EpisodeRecord], dir: &Directory) -> PolarsResult<DataFrame> {
    let [patient, bed] = patient_columns(dir, rows.iter().map(|r| r.patient));
    frame(
        rows.len(),
        vec![
            u32s("episode_id", rows.iter().map(|r| r.id)),
            patient,
            bed,
            strings("kind", rows.iter().map(|r| r.kind.name())),
            times("onset_time", rows.iter().map(|r| r.onset_ms)),
            Int64Chunked::from_iter_values(s("develop_ms"), rows.iter().map(|r| r.develop_ms))
                .into_column(),
            opt_times("news2_ge5_time", rows.iter().map(|r| r.news2_ge5_ms)),
            opt_times("news2_ge7_time", rows.iter().map(|r| r.news2_ge7_ms)),
            i32s("peak_news2", rows.iter().map(|r| i32::from(r.peak_news2))),
            opt_times("resolve_time", rows.iter().map(|r| r.resolve_ms)),
            opt_times("end_time", rows.iter().map(|r| r.end_ms)),
            f32s("severity", rows.iter().map(|r| r.severity)),
            strings("variant", rows.iter().map(|r| r.variant.name())),
            opt_strings(
                "recovery",
                rows.iter().map(|r| r.recovery.map(|x| x.name())),
            ),
            UInt32Chunked::from_iter_options(s("relapse_of"), rows.iter().map(|r| r.relapse_of))
                .into_column(),
        ],
    )
}

pub fn rhythms_frame(rows: &[RhythmRecord], dir: &Directory) -> PolarsResult<DataFrame> {
    let [patient, bed] = patient_columns(dir, rows.iter().map(|r| r.patient));
    frame(
        rows.len(),
        vec![
            u32s("rhythm_id", rows.iter().map(|r| r.id)),
            patient,
            bed,
            strings("rhythm", rows.iter().map(|r| r.rhythm.name())),
            strings(
                "mit_label",
                rows.iter().map(|r| r.rhythm.mit_label(f64::from(r.rate))),
            ),
            times("onset_time", rows.iter().map(|r| r.onset_ms)),
            opt_times("end_time", rows.iter().map(|r| r.end_ms)),
            f32s("rate", rows.iter().map(|r| r.rate)),
            strings("origin", rows.iter().map(|r| r.origin.name())),
            UInt32Chunked::from_iter_options(s("follows"), rows.iter().map(|r| r.follows))
                .into_column(),
        ],
    )
}

pub fn artifacts_frame(rows: &[ArtifactRecord], dir: &Directory) -> PolarsResult<DataFrame> {
    let devices: Vec<DeviceIx> = rows.iter().map(|r| r.device).collect();
    let mut cols = device_columns(dir, &devices).to_vec();
    cols.extend([
        strings("kind", rows.iter().map(|r| r.kind.name())),
        times("start_time", rows.iter().map(|r| r.start_ms)),
        times("end_time", rows.iter().map(|r| r.end_ms)),
        strings("origin", rows.iter().map(|r| r.origin.name())),
    ]);
    frame(rows.len(), cols)
}

pub fn device_events_frame(rows: &[DeviceEvent], dir: &Directory) -> PolarsResult<DataFrame> {
    frame(
        rows.len(),
        vec![
            times("sim_time", rows.iter().map(|r| r.sim_ms)),
            device_ids(dir, rows.iter().map(|r| r.device)),
            strings("event", rows.iter().map(|r| r.kind.name())),
        ],
    )
}

/// The alertable-conditions ledger; `rows` sorted, their position is their `condition_id`.
pub fn conditions_frame(rows: &[ConditionRecord], dir: &Directory) -> PolarsResult<DataFrame> {
    let patient = |c: &ConditionRecord| match c.subject {
        Subject::Patient(p) => Some(p),
        Subject::Device(d) => dir.device(d).patient,
    };
    let device = |c: &ConditionRecord| match c.subject {
        Subject::Patient(_) => None,
        Subject::Device(d) => Some(dir.device(d).id.as_str()),
    };
    frame(
        rows.len(),
        vec![
            u32s("condition_id", 0..rows.len() as u32),
            strings("class", rows.iter().map(|r| r.class.name())),
            strings("severity", rows.iter().map(|r| r.severity.name())),
            strings(
                "subject_kind",
                rows.iter().map(|r| match r.subject {
                    Subject::Patient(_) => "patient",
                    Subject::Device(_) => "device",
                }),
            ),
            strings(
                "subject_id",
                rows.iter().map(|r| match r.subject {
                    Subject::Patient(p) => dir.patient(p).id.as_str(),
                    Subject::Device(d) => dir.device(d).id.as_str(),
                }),
            ),
            opt_strings(
                "patient_id",
                rows.iter()
                    .map(|r| patient(r).map(|p| dir.patient(p).id.as_str())),
            ),
            opt_strings(
                "bed_id",
                rows.iter()
                    .map(|r| patient(r).map(|p| dir.bed_of_patient(p).id.as_str())),
            ),
            opt_strings("device_id", rows.iter().map(device)),
            times("onset_time", rows.iter().map(|r| r.onset_ms)),
            opt_times("end_time", rows.iter().map(|r| r.end_ms)),
            BooleanChunked::from_iter_values(s("transient"), rows.iter().map(|r| r.transient))
                .into_column(),
            strings("rule", rows.iter().map(|r| rule_of(r.class, r.severity))),
        ],
    )
}

/// Every bed, patient and device of the run, with what links them: the scorer resolves an
/// alert's subject (a patient, bed or device id) through it.
pub fn directory_frame(dir: &Directory) -> PolarsResult<DataFrame> {
    #[derive(Default)]
    struct Row<'a> {
        kind: &'a str,
        id: &'a str,
        device_kind: Option<&'a str>,
        patient: Option<&'a str>,
        bed: Option<&'a str>,
        ward: Option<&'a str>,
        space: Option<&'a str>,
        zone: Option<&'a str>,
        x_m: Option<f32>,
        y_m: Option<f32>,
    }
    let beds = dir.beds.iter().map(|b| Row {
        kind: "bed",
        id: &b.id,
        bed: Some(&b.id),
        ward: Some(&b.ward),
        space: Some(&b.room),
        ..Row::default()
    });
    let patients = dir.patients.iter().map(|p| {
        let b = dir.bed(p.bed);
        Row {
            kind: "patient",
            id: &p.id,
            patient: Some(&p.id),
            bed: Some(&b.id),
            ward: Some(&b.ward),
            ..Row::default()
        }
    });
    let devices = dir.devices.iter().map(|d| Row {
        kind: "device",
        id: &d.id,
        device_kind: Some(d.kind.name()),
        patient: d.patient.map(|p| dir.patient(p).id.as_str()),
        bed: d.bed.map(|b| dir.bed(b).id.as_str()),
        ward: Some(d.ward.as_str()),
        ..Row::default()
    });
    let spaces = dir.spaces.iter().map(|sp| Row {
        kind: "space",
        id: &sp.id,
        device_kind: Some(sp.kind),
        ward: sp.ward.as_deref(),
        space: Some(&sp.id),
        zone: Some(&sp.zone),
        ..Row::default()
    });
    let receivers = dir.receivers.iter().map(|r| {
        let sp = &dir.spaces[r.space as usize];
        Row {
            kind: "receiver",
            id: &r.id,
            ward: sp.ward.as_deref(),
            space: Some(&sp.id),
            zone: Some(&sp.zone),
            x_m: Some(r.x_m),
            y_m: Some(r.y_m),
            ..Row::default()
        }
    });
    let rows: Vec<Row> = beds
        .chain(patients)
        .chain(devices)
        .chain(spaces)
        .chain(receivers)
        .collect();
    frame(
        rows.len(),
        vec![
            strings("kind", rows.iter().map(|r| r.kind)),
            strings("id", rows.iter().map(|r| r.id)),
            opt_strings("device_kind", rows.iter().map(|r| r.device_kind)),
            opt_strings("patient_id", rows.iter().map(|r| r.patient)),
            opt_strings("bed_id", rows.iter().map(|r| r.bed)),
            opt_strings("ward_id", rows.iter().map(|r| r.ward)),
            opt_strings("space_id", rows.iter().map(|r| r.space)),
            opt_strings("zone_id", rows.iter().map(|r| r.zone)),
            Float32Chunked::from_iter_options(s("x_m"), rows.iter().map(|r| r.x_m)).into_column(),
            Float32Chunked::from_iter_options(s("y_m"), rows.iter().map(|r| r.y_m)).into_column(),
        ],
    )
}

pub fn positions_frame(rows: &[PositionRecord], dir: &Directory) -> PolarsResult<DataFrame> {
    let space = |r: &PositionRecord| &dir.spaces[r.space as usize];
    frame(
        rows.len(),
        vec![
            times("sim_time", rows.iter().map(|r| r.sim_ms)),
            device_ids(dir, rows.iter().map(|r| r.device)),
            f32s("x_m", rows.iter().map(|r| (r.x_m * 100.0).round() / 100.0)),
            f32s("y_m", rows.iter().map(|r| (r.y_m * 100.0).round() / 100.0)),
            strings("space_id", rows.iter().map(|r| space(r).id.as_str())),
            strings("zone_id", rows.iter().map(|r| space(r).zone.as_str())),
            opt_strings("ward_id", rows.iter().map(|r| space(r).ward.as_deref())),
        ],
    )
}

pub fn excursions_frame(rows: &[ExcursionRecord], dir: &Directory) -> PolarsResult<DataFrame> {
    let devices: Vec<DeviceIx> = rows.iter().map(|r| r.device).collect();
    frame(
        rows.len(),
        vec![
            device_ids(dir, devices.iter().copied()),
            strings(
                "ward_id",
                devices.iter().map(|d| dir.device(*d).ward.as_str()),
            ),
            strings("measure", rows.iter().map(|r| r.measure.name())),
            strings(
                "direction",
                rows.iter().map(|r| if r.high { "high" } else { "low" }),
            ),
            times("start_time", rows.iter().map(|r| r.start_ms)),
            opt_times("end_time", rows.iter().map(|r| r.end_ms)),
            f32s(
                "peak_c",
                rows.iter().map(|r| (r.peak_c * 100.0).round() / 100.0),
            ),
        ],
    )
}

/// The drill's ground truth: every fault, where it acted, from when until its heal.
pub fn faults_frame(rows: &[FaultRecord], dir: &Directory) -> PolarsResult<DataFrame> {
    let id = |d: Option<DeviceIx>| d.map(|d| dir.device(d).id.as_str());
    let ward = |f: &FaultRecord| f.gateway.or(f.device).map(|d| dir.device(d).ward.as_str());
    let param = |f: &FaultRecord| f.param;
    frame(
        rows.len(),
        vec![
            u32s("fault_id", rows.iter().map(|r| r.id)),
            strings("kind", rows.iter().map(|r| r.kind.name())),
            opt_strings("ward_id", rows.iter().map(ward)),
            opt_strings("gateway_id", rows.iter().map(|r| id(r.gateway))),
            opt_strings("device_id", rows.iter().map(|r| id(r.device))),
            times("start_time", rows.iter().map(|r| r.start_ms)),
            opt_times("end_time", rows.iter().map(|r| r.end_ms)),
            opt_i64s(
                "period_ms",
                rows.iter().map(|r| match param(r) {
                    FaultParam::PeriodMs(v) => Some(v),
                    _ => None,
                }),
            ),
            opt_strings(
                "spool",
                rows.iter().map(|r| match param(r) {
                    FaultParam::PersistentSpool(true) => Some("persistent"),
                    FaultParam::PersistentSpool(false) => Some("volatile"),
                    _ => None,
                }),
            ),
            opt_f64s(
                "share",
                rows.iter().map(|r| match param(r) {
                    FaultParam::Share(v) => Some(v),
                    _ => None,
                }),
            ),
            opt_i64s(
                "step_ms",
                rows.iter().map(|r| match param(r) {
                    FaultParam::StepMs(v) => Some(v),
                    _ => None,
                }),
            ),
            opt_i64s(
                "latency_ms",
                rows.iter().map(|r| match param(r) {
                    FaultParam::Degraded(d) => Some(d.latency_ms),
                    _ => None,
                }),
            ),
            opt_i64s(
                "jitter_ms",
                rows.iter().map(|r| match param(r) {
                    FaultParam::Degraded(d) => Some(d.jitter_ms),
                    _ => None,
                }),
            ),
            opt_f64s(
                "loss",
                rows.iter().map(|r| match param(r) {
                    FaultParam::Degraded(d) => Some(d.loss),
                    _ => None,
                }),
            ),
            opt_f64s(
                "bandwidth_per_s",
                rows.iter().map(|r| match param(r) {
                    FaultParam::Degraded(d) => d.bandwidth,
                    _ => None,
                }),
            ),
            opt_f64s(
                "attenuation_db",
                rows.iter().map(|r| match param(r) {
                    FaultParam::AttenuationDb(v) => Some(v),
                    _ => None,
                }),
            ),
            opt_f64s(
                "drift_ppm",
                rows.iter().map(|r| match param(r) {
                    FaultParam::DriftPpm(v) => Some(v),
                    _ => None,
                }),
            ),
            opt_strings(
                "persistence",
                rows.iter().map(|r| match param(r) {
                    FaultParam::Persistence(true) => Some("persistent"),
                    FaultParam::Persistence(false) => Some("none"),
                    _ => None,
                }),
            ),
        ],
    )
}
