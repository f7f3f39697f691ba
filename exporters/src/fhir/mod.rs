//! FHIR R4 bulk export of a run folder (docs/fhir.md): `application/fhir+ndjson`, one file per
//! resource type, one resource per line, and the bulk-data manifest (`manifest.json`).
//!
//! - `Location`: the site, its wards, rooms and beds, each `partOf` the one above.
//! - `Patient`: synthetic (`meta.security` HTEST), with stable ids.
//! - `Encounter`: each patient's admission, in its bed.
//! - `Device`: every device, its kind coded, a synthetic serial, the patient it is on.
//! - `Observation`: every reading of a patient's device and of a fridge logger, and each status
//!   message's battery level. Vital signs follow the R4 vital-signs profile: category
//!   `vital-signs`, LOINC plus MDC codings, UCUM `valueQuantity`, the device's clock as
//!   `effectiveDateTime`, blood pressure as one panel with its components, `dataAbsentReason`
//!   when the device reported no value. Each carries an `identifier` (device, sequence, metric)
//!   a server can de-duplicate on with a conditional create. Then each charted round of the
//!   nurses' chart (charted.parquet) as its nine Observations ([`chart`]).
//! - With `truth`: the ground truth, as `Flag` (deterioration episodes) and `DetectedIssue`
//!   (conditions), tagged as such.
//!
//! The telemetry is read a slice at a time and written as it is read: memory stays bounded
//! whatever the run's size; each slice is serialized on every core, in order, so the files are
//! byte-identical whatever the thread count. RTLS (tag RSSI, positions, duress) and gateway
//! metrics are not exported: they are not clinical observations.

mod chart;
mod json;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars_core::prelude::DataFrame;
use rayon::prelude::*;
use serde_json::json;
use wardtwin_sim::records::{Metric, ObsStatus};
use wardtwin_sim::time::write_iso_ms;

pub use chart::{Round as ChartRound, WT_ACVPU, WT_CHART};
use json::{
    Annotation, Coding, Component, Concept, Identifier, Meta, Observation, Quantity, Ref, SYNTHETIC,
};
pub use json::{DATA_ABSENT, LOINC, MDC, UCUM, WT_EMISSION, WT_METRIC};

use crate::runfolder::{RunFolderError, for_each_slice, read_header, read_table};
use crate::wire::codes;

/// What to export, and how the manifest describes it.
#[derive(Debug, Clone)]
pub struct FhirOptions {
    /// The site's name (the root `Location`).
    pub site_name: String,
    /// Also the ground truth (`Flag`, `DetectedIssue`).
    pub truth: bool,
    /// The manifest's `request` (what was asked).
    pub request: String,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct FhirReport {
    /// Resources per type, in the manifest's order.
    pub files: Vec<(&'static str, u64)>,
}

impl FhirReport {
    pub fn resources(&self) -> u64 {
        self.files.iter().map(|f| f.1).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FhirError {
    #[error(transparent)]
    RunFolder(#[from] RunFolderError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The manifest's name in the output folder.
pub const MANIFEST: &str = "manifest.json";
/// The NDJSON files' MIME type.
pub const NDJSON: &str = "application/fhir+ndjson";

/// A FHIR id (`[A-Za-z0-9-.]{1,64}`) for a wardtwin id: kept when it is one; otherwise each
/// other byte written as `.xHH` (so two ids never meet), and a long one cut and hashed.
pub fn fhir_id(id: &str) -> String {
    let mut s = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            s.push(b as char);
        } else {
            s.push_str(&format!(".x{b:02X}"));
        }
    }
    if s.is_empty() {
        s.push_str(".x");
    }
    if s.len() > 64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in id.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        s.truncate(47);
        s.push_str(&format!(".{h:016x}"));
    }
    s
}

/// One NDJSON output file.
struct Ndjson {
    w: BufWriter<File>,
    path: PathBuf,
    count: u64,
}

impl Ndjson {
    fn create(out: &Path, kind: &str) -> Result<Self, FhirError> {
        let path = out.join(format!("{kind}.ndjson"));
        let f = File::create(&path).map_err(|source| FhirError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            w: BufWriter::with_capacity(1 << 20, f),
            path,
            count: 0,
        })
    }
    fn io(&self, source: std::io::Error) -> FhirError {
        FhirError::Io {
            path: self.path.clone(),
            source,
        }
    }
    fn value(&mut self, v: &serde_json::Value) -> Result<(), FhirError> {
        serde_json::to_writer(&mut self.w, v).map_err(|e| self.io(e.into()))?;
        self.w.write_all(b"\n").map_err(|e| self.io(e))?;
        self.count += 1;
        Ok(())
    }
    fn lines(&mut self, bytes: &[u8], n: u64) -> Result<(), FhirError> {
        self.w.write_all(bytes).map_err(|e| self.io(e))?;
        self.count += n;
        Ok(())
    }
    fn finish(mut self) -> Result<u64, FhirError> {
        self.w.flush().map_err(|e| self.io(e))?;
        let f = self.w.get_ref();
        f.sync_data().map_err(|e| self.io(e))?;
        Ok(self.count)
    }
}

/// Writes serialized pieces on a thread of its own, so the disk's time overlaps the
/// serializing, and hands their buffers back for reuse (no fresh pages per piece).
struct Pipe {
    tx: Option<std::sync::mpsc::SyncSender<(Vec<u8>, u64)>>,
    back: std::sync::mpsc::Receiver<Vec<u8>>,
    handle: Option<std::thread::JoinHandle<Result<Ndjson, FhirError>>>,
}

impl Pipe {
    fn start(f: Ndjson) -> Result<Self, FhirError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, u64)>(8);
        let (btx, back) = std::sync::mpsc::channel();
        let path = f.path.clone();
        let handle = std::thread::Builder::new()
            .name("fhir-writer".into())
            .spawn(move || {
                let mut f = f;
                for (mut buf, n) in rx {
                    f.lines(&buf, n)?;
                    buf.clear();
                    let _ = btx.send(buf);
                }
                Ok(f)
            })
            .map_err(|source| FhirError::Io { path, source })?;
        Ok(Self {
            tx: Some(tx),
            back,
            handle: Some(handle),
        })
    }

    /// An empty buffer (one the writer is done with, if any).
    fn buffer(&self) -> Vec<u8> {
        self.back.try_recv().unwrap_or_default()
    }

    fn send(&mut self, buf: Vec<u8>, n: u64) -> Result<(), FhirError> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send((buf, n)).is_ok());
        if sent {
            return Ok(());
        }
        // The writer stopped: its error says why.
        self.tx = None;
        match self.handle.take().map(std::thread::JoinHandle::join) {
            Some(Ok(Err(e))) => Err(e),
            _ => Err(FhirError::Invalid("the FHIR writer thread stopped".into())),
        }
    }

    fn finish(mut self) -> Result<Ndjson, FhirError> {
        self.tx = None;
        match self.handle.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(FhirError::Invalid("the FHIR writer thread stopped".into())),
        }
    }
}

/// A reading's FHIR copy on the wire (`--fhir-topic`): a transaction Bundle of its
/// Observations, each a conditional create on its identifier, exactly as the export writes
/// them (docs/fhir.md).
pub struct LiveFhir {
    dir: Dir,
    rows: Vec<Row>,
}

impl LiveFhir {
    pub fn new(d: &wardtwin_sim::Directory) -> Self {
        let patients: Vec<(String, String)> = d
            .patients
            .iter()
            .map(|p| (p.id.clone(), d.bed(p.bed).id.clone()))
            .collect();
        let devices: Vec<Dev> = d
            .devices
            .iter()
            .map(|dv| Dev {
                id: dv.id.clone(),
                fid: fhir_id(&dv.id),
                kind: dv.kind.name().to_string(),
                patient: dv.patient.map(|p| p.0 as usize),
                bed: dv.bed.map(|b| d.bed(b).id.clone()),
                ward: Some(dv.ward.clone()),
            })
            .collect();
        Self {
            dir: Dir {
                beds: Vec::new(),
                patient_fid: patients.iter().map(|p| fhir_id(&p.0)).collect(),
                patients,
                device_ix: HashMap::new(),
                devices,
                spaces: Vec::new(),
            },
            rows: Vec::new(),
        }
    }

    /// Writes `f`'s Bundle into `out` (cleared first); `false` when none of its metrics is
    /// exported (RTLS, gateway metrics): nothing to send.
    pub fn bundle(&mut self, f: &wardtwin_sim::records::Forwarded, out: &mut Vec<u8>) -> bool {
        self.rows.clear();
        self.rows.extend(f.observations().iter().map(|o| {
            Row {
                dev: f.device.0,
                seq: f.seq,
                metric: o.metric,
                status: o.status,
                value: o
                    .value
                    .map(crate::runfolder::tables::displayed)
                    .filter(|v| v.is_finite()),
                sim_ms: f.sim_ms,
                device_ms: f.device_ms,
            }
        }));
        out.clear();
        if self.rows.is_empty() || (f.device.0 as usize) >= self.dir.devices.len() {
            return false;
        }
        let mut w = Writer::new(&self.dir, 0, false);
        w.bundle = true;
        w.out = std::mem::take(out);
        w.out.extend_from_slice(
            b"{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[",
        );
        reading(&mut w, &self.rows);
        w.out.extend_from_slice(b"]}");
        let n = w.n;
        *out = w.out;
        n > 0
    }
}

impl LiveFhir {
    /// Writes the Bundle of charted round `r` into `out` (docs/chart.md); its time, or `None`
    /// for a missed round (nothing charted, nothing to send).
    pub fn chart_bundle(
        &self,
        r: &wardtwin_sim::records::ChartRecord,
        out: &mut Vec<u8>,
    ) -> Option<i64> {
        let ix = r.patient.0 as usize;
        let (id, _) = self.dir.patients.get(ix)?;
        let round = ChartRound::of(r, id, &self.dir.patient_fid[ix])?;
        round.bundle(out);
        Some(round.charted_ms)
    }
}

/// A device as the export needs it.
struct Dev {
    id: String,
    fid: String,
    kind: String,
    patient: Option<usize>,
    bed: Option<String>,
    ward: Option<String>,
}

/// The run's directory, read back.
struct Dir {
    beds: Vec<(String, String, String)>,
    patients: Vec<(String, String)>,
    patient_fid: Vec<String>,
    devices: Vec<Dev>,
    device_ix: HashMap<String, u32>,
    /// Spaces: id, kind, ward.
    spaces: Vec<(String, String, Option<String>)>,
}

fn read_dir(run: &Path) -> Result<Dir, FhirError> {
    let df = read_table(
        run,
        "directory",
        &[
            "kind",
            "id",
            "device_kind",
            "patient_id",
            "bed_id",
            "ward_id",
            "space_id",
        ],
    )?;
    let c = crate::runfolder::Cols::new(&df, run, "directory");
    let (kind, id, dk, pid, bed, ward, space) = (
        c.str("kind")?,
        c.str("id")?,
        c.str("device_kind")?,
        c.str("patient_id")?,
        c.str("bed_id")?,
        c.str("ward_id")?,
        c.str("space_id")?,
    );
    let mut d = Dir {
        beds: Vec::new(),
        patients: Vec::new(),
        patient_fid: Vec::new(),
        devices: Vec::new(),
        device_ix: HashMap::new(),
        spaces: Vec::new(),
    };
    let need = |v: &Option<String>, what: &str| {
        v.clone().ok_or_else(|| {
            FhirError::Invalid(format!(
                "{}: a row without its {what}",
                run.join("directory.parquet").display()
            ))
        })
    };
    for i in 0..df.height() {
        match kind[i].as_deref() {
            Some("bed") => d.beds.push((
                need(&id[i], "id")?,
                need(&ward[i], "ward_id")?,
                need(&space[i], "space_id")?,
            )),
            Some("patient") => d
                .patients
                .push((need(&id[i], "id")?, need(&bed[i], "bed_id")?)),
            Some("space") => d.spaces.push((
                need(&id[i], "id")?,
                dk[i].clone().unwrap_or_default(),
                ward[i].clone(),
            )),
            _ => {}
        }
    }
    let pix: HashMap<&str, usize> = d
        .patients
        .iter()
        .enumerate()
        .map(|(i, p)| (p.0.as_str(), i))
        .collect();
    let mut devices = Vec::new();
    for i in 0..df.height() {
        if kind[i].as_deref() == Some("device") {
            let id = need(&id[i], "id")?;
            devices.push(Dev {
                fid: fhir_id(&id),
                id,
                kind: dk[i].clone().unwrap_or_default(),
                patient: pid[i].as_deref().and_then(|p| pix.get(p).copied()),
                bed: bed[i].clone(),
                ward: ward[i].clone(),
            });
        }
    }
    d.patient_fid = d.patients.iter().map(|p| fhir_id(&p.0)).collect();
    d.device_ix = devices
        .iter()
        .enumerate()
        .map(|(i, dv)| (dv.id.clone(), i as u32))
        .collect();
    d.devices = devices;
    Ok(d)
}

fn iso(t: i64) -> String {
    let mut s = String::with_capacity(24);
    write_iso_ms(&mut s, t);
    s
}

/// Exports run folder `run` into `out` (created if needed; the files it writes are replaced).
pub fn export(run: &Path, out: &Path, opts: &FhirOptions) -> Result<FhirReport, FhirError> {
    let header = read_header(run)?;
    let dir = read_dir(run)?;
    std::fs::create_dir_all(out).map_err(|source| FhirError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    // The manifest is written last: until then, a folder without one is an export not done
    // (a previous export's manifest would vouch for files being replaced).
    match std::fs::remove_file(out.join(MANIFEST)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(FhirError::Io {
                path: out.join(MANIFEST),
                source: e,
            });
        }
        _ => {}
    }
    let (epoch, end) = (iso(header.run.epoch_ms), iso(header.run.end_ms));
    let mut report = FhirReport::default();
    report
        .files
        .push(("Location", locations(out, &dir, &opts.site_name)?));
    report.files.push(("Patient", patients(out, &dir)?));
    report
        .files
        .push(("Encounter", encounters(out, &dir, &epoch)?));
    report.files.push(("Device", devices(out, &dir)?));
    let mut obs = Pipe::start(Ndjson::create(out, "Observation")?)?;
    let streamed = telemetry(run, &dir, &mut obs)
        .and_then(|()| batteries(run, &dir, &mut obs))
        .and_then(|()| chart::export_rounds(run, &mut obs));
    // A failed send already carries the writer's error (a full disk, say).
    let written = obs.finish();
    streamed?;
    report.files.push(("Observation", written?.finish()?));
    if opts.truth {
        report.files.push(("Flag", flags(run, &dir, out)?));
        report
            .files
            .push(("DetectedIssue", detected_issues(run, &dir, out)?));
    }
    let manifest = json!({
        "transactionTime": end,
        "request": opts.request,
        "requiresAccessToken": false,
        "output": report.files.iter().map(|(t, n)| json!({
            "type": t,
            "url": format!("{t}.ndjson"),
            "count": n,
        })).collect::<Vec<_>>(),
        "error": [],
    });
    let path = out.join(MANIFEST);
    std::fs::write(
        &path,
        format!(
            "{}\n",
            serde_json::to_string_pretty(&manifest).unwrap_or_default()
        ),
    )
    .map_err(|source| FhirError::Io { path, source })?;
    Ok(report)
}

fn location_type(code: &str) -> serde_json::Value {
    json!({"coding": [{"system": json::LOCATION_TYPE, "code": code}]})
}

/// The site, its wards, the rooms (every space of the layout), the beds.
fn locations(out: &Path, d: &Dir, site: &str) -> Result<u64, FhirError> {
    let mut f = Ndjson::create(out, "Location")?;
    let site_id = "site";
    f.value(&json!({
        "resourceType": "Location", "id": site_id, "meta": SYNTHETIC_JSON(),
        "status": "active", "name": site, "mode": "instance",
        "physicalType": location_type("si"),
    }))?;
    let mut wards: Vec<&str> = d
        .beds
        .iter()
        .map(|b| b.1.as_str())
        .chain(d.spaces.iter().filter_map(|s| s.2.as_deref()))
        .collect();
    wards.sort_unstable();
    wards.dedup();
    for w in &wards {
        f.value(&json!({
            "resourceType": "Location", "id": fhir_id(&format!("ward-{w}")), "meta": SYNTHETIC_JSON(),
            "status": "active", "name": w, "mode": "instance",
            "physicalType": location_type("wa"),
            "partOf": {"reference": format!("Location/{site_id}")},
        }))?;
    }
    for (id, kind, ward) in &d.spaces {
        let parent = match ward {
            Some(w) => fhir_id(&format!("ward-{w}")),
            None => site_id.to_string(),
        };
        let t = if kind == "corridor" { "co" } else { "ro" };
        f.value(&json!({
            "resourceType": "Location", "id": fhir_id(&format!("space-{id}")), "meta": SYNTHETIC_JSON(),
            "status": "active", "name": id, "description": kind, "mode": "instance",
            "physicalType": location_type(t),
            "partOf": {"reference": format!("Location/{parent}")},
        }))?;
    }
    let spaces: std::collections::HashSet<&str> = d.spaces.iter().map(|s| s.0.as_str()).collect();
    for (id, ward, room) in &d.beds {
        let parent = if spaces.contains(room.as_str()) {
            fhir_id(&format!("space-{room}"))
        } else {
            fhir_id(&format!("ward-{ward}"))
        };
        f.value(&json!({
            "resourceType": "Location", "id": fhir_id(&format!("bed-{id}")), "meta": SYNTHETIC_JSON(),
            "status": "active", "name": id, "mode": "instance",
            "physicalType": location_type("bd"),
            "partOf": {"reference": format!("Location/{parent}")},
        }))?;
    }
    f.finish()
}

#[allow(non_snake_case)]
fn SYNTHETIC_JSON() -> serde_json::Value {
    serde_json::to_value(SYNTHETIC).unwrap_or_default()
}

fn patients(out: &Path, d: &Dir) -> Result<u64, FhirError> {
    let mut f = Ndjson::create(out, "Patient")?;
    for (i, (id, _)) in d.patients.iter().enumerate() {
        f.value(&json!({
            "resourceType": "Patient", "id": d.patient_fid[i], "meta": SYNTHETIC_JSON(),
            "identifier": [{"system": json::WT_PATIENT, "value": id}],
            "active": true,
        }))?;
    }
    f.finish()
}

fn encounters(out: &Path, d: &Dir, epoch: &str) -> Result<u64, FhirError> {
    let mut f = Ndjson::create(out, "Encounter")?;
    for (i, (_, bed)) in d.patients.iter().enumerate() {
        let p = &d.patient_fid[i];
        f.value(&json!({
            "resourceType": "Encounter", "id": format!("enc-{p}"), "meta": SYNTHETIC_JSON(),
            "status": "in-progress",
            "class": {"system": json::ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
            "subject": {"reference": format!("Patient/{p}")},
            "period": {"start": epoch},
            "location": [{
                "location": {"reference": format!("Location/{}", fhir_id(&format!("bed-{bed}")))},
                "status": "active",
            }],
        }))?;
    }
    f.finish()
}

/// A synthetic serial number: stable, from the device's id.
fn serial(id: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("WT{h:08X}")
}

fn devices(out: &Path, d: &Dir) -> Result<u64, FhirError> {
    let mut f = Ndjson::create(out, "Device")?;
    for dv in &d.devices {
        let mut v = json!({
            "resourceType": "Device", "id": dv.fid, "meta": SYNTHETIC_JSON(),
            "identifier": [{"system": json::WT_DEVICE, "value": dv.id}],
            "status": "active",
            "serialNumber": serial(&dv.id),
            "deviceName": [{"name": dv.id, "type": "user-friendly-name"}],
            "type": {"coding": [{"system": json::WT_DEVICE_KIND, "code": dv.kind}], "text": dv.kind},
        });
        if let Some(p) = dv.patient {
            v["patient"] = json!({"reference": format!("Patient/{}", d.patient_fid[p])});
        }
        let at = match (&dv.bed, &dv.ward) {
            (Some(b), _) => Some(fhir_id(&format!("bed-{b}"))),
            (None, Some(w)) if !w.is_empty() => Some(fhir_id(&format!("ward-{w}"))),
            _ => None,
        };
        if let Some(l) = at {
            v["location"] = json!({"reference": format!("Location/{l}")});
        }
        f.value(&v)?;
    }
    f.finish()
}

/// How an exported metric is coded.
struct MetricCode {
    codings: Vec<Coding<'static>>,
    category: Option<&'static str>,
    /// The id's and identifier's suffix.
    slug: String,
}

/// The codings of `m`, or `None` when it is not exported.
fn metric_code(m: Metric) -> Option<MetricCode> {
    let category = match m {
        Metric::HeartRate
        | Metric::PulseRate
        | Metric::RespRate
        | Metric::Spo2
        | Metric::BodyTemp
        | Metric::Systolic
        | Metric::Diastolic
        | Metric::MeanArterial => Some("vital-signs"),
        Metric::Glucose => Some("laboratory"),
        Metric::InfusionRate | Metric::VolumeRemaining => Some("therapy"),
        Metric::BedOccupied | Metric::AirTemp | Metric::ProductTemp => None,
        _ => return None,
    };
    let mut codings = Vec::new();
    // The vital-signs profile's oxygen saturation code, beside pulse oximetry's own.
    if m == Metric::Spo2 {
        codings.push(Coding::new(LOINC, "2708-6"));
    }
    if let Some(l) = codes::loinc(m) {
        codings.push(Coding::new(LOINC, l));
    }
    if let Some(c) = codes::mdc(m) {
        let code: &'static str = Box::leak(c.to_string().into_boxed_str());
        codings.push(Coding::new(MDC, code));
    }
    if codings.is_empty() {
        codings.push(Coding::new(WT_METRIC, m.name()));
    }
    Some(MetricCode {
        codings,
        category,
        slug: m.name().replace('_', "-"),
    })
}

/// The blood-pressure panel's codings (LOINC 85354-9, MDC 150020).
const BP_PANEL: [Coding<'static>; 2] = [
    Coding {
        system: LOINC,
        code: "85354-9",
        display: None,
    },
    Coding {
        system: MDC,
        code: "150020",
        display: None,
    },
];

/// Why a device gave no value (HL7 data-absent-reason), as the coding the Observation carries.
fn absent_reason(s: ObsStatus) -> &'static [Coding<'static>] {
    const fn reason(code: &'static str) -> [Coding<'static>; 1] {
        [Coding {
            system: DATA_ABSENT,
            code,
            display: None,
        }]
    }
    const TEMP_UNKNOWN: [Coding<'static>; 1] = reason("temp-unknown");
    const NOT_APPLICABLE: [Coding<'static>; 1] = reason("not-applicable");
    const UNKNOWN: [Coding<'static>; 1] = reason("unknown");
    const ERROR: [Coding<'static>; 1] = reason("error");
    match s {
        ObsStatus::WarmUp => &TEMP_UNKNOWN,
        ObsStatus::Occlusion | ObsStatus::InfusionComplete => &NOT_APPLICABLE,
        ObsStatus::Ok => &UNKNOWN,
        _ => &ERROR,
    }
}

/// One observation row of telemetry.parquet.
#[derive(Clone, Copy)]
struct Row {
    dev: u32,
    seq: u32,
    metric: Metric,
    status: ObsStatus,
    value: Option<f64>,
    sim_ms: i64,
    device_ms: i64,
}

/// Lookup tables shared by the workers.
struct Codes {
    metric: HashMap<&'static str, Metric>,
    status: HashMap<&'static str, ObsStatus>,
    code: HashMap<Metric, MetricCode>,
    status_note: HashMap<ObsStatus, String>,
}

impl Codes {
    /// The tables, made once (the MDC codes' text lives as long as the program).
    fn get() -> &'static Codes {
        static CODES: std::sync::OnceLock<Codes> = std::sync::OnceLock::new();
        CODES.get_or_init(Codes::new)
    }

    fn new() -> Self {
        Self {
            metric: Metric::ALL.iter().map(|m| (m.name(), *m)).collect(),
            status: ObsStatus::ALL.iter().map(|s| (s.name(), *s)).collect(),
            code: Metric::ALL
                .iter()
                .filter_map(|m| metric_code(*m).map(|c| (*m, c)))
                .collect(),
            status_note: ObsStatus::ALL
                .iter()
                .map(|s| (*s, format!("device status: {}", s.name())))
                .collect(),
        }
    }
}

fn rows_of(df: &DataFrame, run: &Path, d: &Dir, codes: &Codes) -> Result<Vec<Row>, FhirError> {
    let path = run.join("telemetry.parquet");
    let bad = |what: String| FhirError::Invalid(format!("{}: {what}", path.display()));
    let col = |n: &str| df.column(n).map_err(|e| bad(format!("column {n}: {e}")));
    let dev = col("device_id")?.str().map_err(|e| bad(e.to_string()))?;
    let seq = col("seq")?.u32().map_err(|e| bad(e.to_string()))?;
    let metric = col("metric")?.str().map_err(|e| bad(e.to_string()))?;
    let status = col("status")?.str().map_err(|e| bad(e.to_string()))?;
    let value = col("value")?.f64().map_err(|e| bad(e.to_string()))?;
    let sim = col("sim_time")?
        .datetime()
        .map_err(|e| bad(e.to_string()))?
        .physical();
    let devt = col("device_time")?
        .datetime()
        .map_err(|e| bad(e.to_string()))?
        .physical();
    let mut out = Vec::with_capacity(df.height());
    let mut last: Option<(&str, u32)> = None;
    for (i, (((((d_id, s), m), st), v), (t, dt))) in dev
        .iter()
        .zip(seq.iter())
        .zip(metric.iter())
        .zip(status.iter())
        .zip(value.iter())
        .zip(sim.iter().zip(devt.iter()))
        .enumerate()
    {
        let (Some(d_id), Some(s), Some(m), Some(st), Some(t), Some(dt)) = (d_id, s, m, st, t, dt)
        else {
            return Err(bad(format!("row {i} has a null where a value is required")));
        };
        let dix = match last {
            Some((name, ix)) if name == d_id => ix,
            _ => {
                let ix = *d
                    .device_ix
                    .get(d_id)
                    .ok_or_else(|| bad(format!("device {d_id:?} is not in the directory")))?;
                last = Some((d_id, ix));
                ix
            }
        };
        out.push(Row {
            dev: dix,
            seq: s,
            metric: *codes
                .metric
                .get(m)
                .ok_or_else(|| bad(format!("unknown metric {m:?}")))?,
            status: *codes
                .status
                .get(st)
                .ok_or_else(|| bad(format!("unknown status {st:?}")))?,
            value: v.filter(|x| x.is_finite()),
            sim_ms: t,
            device_ms: dt,
        });
    }
    Ok(out)
}

/// Rows per piece of a slice that one core serializes.
const PIECE_ROWS: usize = 16 * 1024;

/// Streams telemetry.parquet into Observations.
fn telemetry(run: &Path, d: &Dir, f: &mut Pipe) -> Result<(), FhirError> {
    let codes = Codes::get();
    let mut pending: Vec<Row> = Vec::new();
    let mut failed: Option<FhirError> = None;
    for_each_slice(
        run,
        "telemetry",
        &[
            "sim_time",
            "device_time",
            "device_id",
            "seq",
            "metric",
            "value",
            "status",
        ],
        |df| {
            let rows = match rows_of(df, run, d, codes) {
                Ok(r) => r,
                Err(e) => {
                    failed = Some(e);
                    return Ok(());
                }
            };
            if failed.is_some() {
                return Ok(());
            }
            pending.extend(rows);
            // The last reading may go on in the next slice: kept back.
            let cut = last_group_start(&pending);
            let tail = pending.split_off(cut);
            if let Err(e) = write_rows(&pending, d, f) {
                failed = Some(e);
            }
            pending = tail;
            Ok(())
        },
    )?;
    if let Some(e) = failed {
        return Err(e);
    }
    write_rows(&pending, d, f)
}

fn same_reading(a: &Row, b: &Row) -> bool {
    a.dev == b.dev && a.seq == b.seq
}

fn last_group_start(rows: &[Row]) -> usize {
    let Some(last) = rows.last() else {
        return 0;
    };
    let mut i = rows.len() - 1;
    while i > 0 && same_reading(&rows[i - 1], last) {
        i -= 1;
    }
    i
}

/// Serializes `rows` (whole readings) on every core, in order, and writes them.
fn write_rows(rows: &[Row], d: &Dir, f: &mut Pipe) -> Result<(), FhirError> {
    let mut bounds = vec![0];
    let mut at = PIECE_ROWS;
    while at < rows.len() {
        while at < rows.len() && same_reading(&rows[at - 1], &rows[at]) {
            at += 1;
        }
        if at < rows.len() {
            bounds.push(at);
        }
        at += PIECE_ROWS;
    }
    bounds.push(rows.len());
    // A few pieces per core at a time: the serialized text waiting to be written stays small.
    let batch = 2 * rayon::current_num_threads().max(1);
    for group in bounds.windows(2).collect::<Vec<_>>().chunks(batch) {
        let jobs: Vec<(&[usize], Vec<u8>)> = group.iter().map(|w| (*w, f.buffer())).collect();
        let pieces: Vec<(Vec<u8>, u64)> = jobs
            .into_par_iter()
            .map(|(w, buf)| serialize(&rows[w[0]..w[1]], d, buf))
            .collect();
        for (bytes, n) in pieces {
            f.send(bytes, n)?;
        }
    }
    Ok(())
}

/// Per-reading state while serializing.
struct Writer<'a> {
    d: &'a Dir,
    codes: &'a Codes,
    out: Vec<u8>,
    n: u64,
    id: String,
    ident: String,
    effective: String,
    issued: String,
    /// The Observations are of the device itself (its battery), not of its patient.
    of_device: bool,
    /// Entries of a transaction Bundle (the live copy) instead of NDJSON lines.
    bundle: bool,
}

impl<'a> Writer<'a> {
    fn new(d: &'a Dir, capacity: usize, of_device: bool) -> Self {
        Self {
            d,
            codes: Codes::get(),
            out: Vec::with_capacity(capacity),
            n: 0,
            id: String::new(),
            ident: String::new(),
            effective: String::new(),
            issued: String::new(),
            of_device,
            bundle: false,
        }
    }

    fn times(&mut self, r: &Row) {
        self.effective.clear();
        write_iso_ms(&mut self.effective, r.device_ms);
        self.issued.clear();
        write_iso_ms(&mut self.issued, r.sim_ms);
    }

    fn quantity(m: Metric, v: Option<f64>) -> Option<Quantity<'static>> {
        let u = codes::ucum(m);
        v.map(|value| Quantity {
            value,
            unit: u,
            system: UCUM,
            code: u,
        })
    }

    /// Writes one Observation.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        r: &Row,
        code: Concept<'_>,
        category: Option<&'static str>,
        value: Option<Quantity<'_>>,
        absent: Option<&[Coding<'_>]>,
        note: Option<&str>,
        component: Vec<Component<'_>>,
    ) {
        let dev = &self.d.devices[r.dev as usize];
        let patient = dev
            .patient
            .filter(|_| !self.of_device)
            .map(|p| self.d.patient_fid[p].as_str());
        let encounter = patient.map(|p| Ref("Encounter/enc-", p));
        let cat_coding;
        let category = match category {
            Some(c) => {
                cat_coding = [Coding::new(json::OBS_CATEGORY, c)];
                Some([Concept {
                    coding: &cat_coding,
                    text: None,
                }])
            }
            None => None,
        };
        let meta: &Meta = &SYNTHETIC;
        let o = Observation {
            resource_type: "Observation",
            id: &self.id,
            meta,
            identifier: [Identifier {
                system: WT_EMISSION,
                value: &self.ident,
            }],
            status: "final",
            category,
            code,
            subject: match patient {
                Some(p) => Ref("Patient/", p),
                None => Ref("Device/", &dev.fid),
            },
            encounter,
            effective_date_time: &self.effective,
            issued: &self.issued,
            value_quantity: value,
            data_absent_reason: absent.map(|a| Concept {
                coding: a,
                text: None,
            }),
            note: note.map(|t| [Annotation { text: t }]),
            device: Ref("Device/", &dev.fid),
            component,
        };
        if self.bundle {
            if self.n > 0 {
                self.out.push(b',');
            }
            self.out.extend_from_slice(b"{\"resource\":");
        }
        // Serializing borrowed strings and numbers into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.out, &o);
        if self.bundle {
            // A conditional create: a server that has it already keeps one.
            self.out.extend_from_slice(
                b",\"request\":{\"method\":\"POST\",\"url\":\"Observation\",\"ifNoneExist\":",
            );
            let query = format!("identifier={WT_EMISSION}|{}", self.ident);
            let _ = serde_json::to_writer(&mut self.out, &query);
            self.out.extend_from_slice(b"}}");
        } else {
            self.out.push(b'\n');
        }
        self.n += 1;
    }
}

fn serialize(rows: &[Row], d: &Dir, buf: Vec<u8>) -> (Vec<u8>, u64) {
    let mut w = Writer::new(d, 0, false);
    w.out = buf;
    w.out.reserve(rows.len() * 700);
    let mut start = 0;
    while start < rows.len() {
        let mut end = start + 1;
        while end < rows.len() && same_reading(&rows[start], &rows[end]) {
            end += 1;
        }
        reading(&mut w, &rows[start..end]);
        start = end;
    }
    (w.out, w.n)
}

fn is_bp(m: Metric) -> bool {
    matches!(
        m,
        Metric::Systolic | Metric::Diastolic | Metric::MeanArterial
    )
}

/// The Observations of one reading: one per exported metric, blood pressure as one panel.
fn reading(w: &mut Writer<'_>, rows: &[Row]) {
    let codes = w.codes;
    // Borrowed from the directory, not from the writer: no copies per reading.
    let d = w.d;
    let dev = &d.devices[rows[0].dev as usize];
    let (dev_fid, dev_name) = (dev.fid.as_str(), dev.id.as_str());
    for r in rows {
        if is_bp(r.metric) {
            continue;
        }
        let Some(mc) = codes.code.get(&r.metric) else {
            continue;
        };
        w.id.clear();
        let _ = write!(w.id, "{dev_fid}.{}.{}", r.seq, mc.slug);
        w.ident.clear();
        let _ = write!(w.ident, "{dev_name}/{}/{}", r.seq, r.metric.name());
        w.times(r);
        let value = Writer::quantity(r.metric, r.value);
        let absent = value.is_none().then(|| absent_reason(r.status));
        let note = (r.status != ObsStatus::Ok).then(|| codes.status_note[&r.status].as_str());
        w.emit(
            r,
            Concept {
                coding: &mc.codings,
                text: Some(r.metric.name()),
            },
            mc.category,
            value,
            absent,
            note,
            Vec::new(),
        );
    }
    // Blood pressure: one panel, its components in the order the device sent them.
    let mut bp = rows.iter().filter(|r| is_bp(r.metric)).peekable();
    if let Some(&first) = bp.peek() {
        let mut worst = None;
        let components: Vec<Component> = bp
            .map(|r| {
                if r.status != ObsStatus::Ok {
                    worst.get_or_insert(r.status);
                }
                let value = Writer::quantity(r.metric, r.value);
                Component {
                    code: Concept {
                        coding: &codes.code[&r.metric].codings,
                        text: Some(r.metric.name()),
                    },
                    data_absent_reason: value.is_none().then(|| Concept {
                        coding: absent_reason(r.status),
                        text: None,
                    }),
                    value_quantity: value,
                }
            })
            .collect();
        w.id.clear();
        let _ = write!(w.id, "{dev_fid}.{}.bp", first.seq);
        w.ident.clear();
        let _ = write!(w.ident, "{dev_name}/{}/blood_pressure", first.seq);
        w.times(first);
        let note = worst.map(|s| codes.status_note[&s].as_str());
        w.emit(
            first,
            Concept {
                coding: &BP_PANEL,
                text: Some("blood pressure panel"),
            },
            Some("vital-signs"),
            None,
            None,
            note,
            components,
        );
    }
}

/// Each status message's battery level, as an Observation of the device.
fn batteries(run: &Path, d: &Dir, f: &mut Pipe) -> Result<(), FhirError> {
    let coding = [Coding::new(WT_METRIC, "battery_pct")];
    let mut failed = None;
    let path = run.join("device_status.parquet");
    for_each_slice(
        run,
        "device_status",
        &["sim_time", "device_time", "device_id", "seq", "battery_pct"],
        |df| {
            let c = crate::runfolder::Cols::new(df, run, "device_status");
            let (t, dt, dev, seq, pct) = (
                c.time("sim_time")?,
                c.time("device_time")?,
                c.str("device_id")?,
                c.u32("seq")?,
                c.f32("battery_pct")?,
            );
            let mut w = Writer::new(d, 0, true);
            w.out = f.buffer();
            for i in 0..df.height() {
                // Sent a piece at a time: the text waiting to be written stays small.
                if w.n as usize >= PIECE_ROWS {
                    let out = std::mem::replace(&mut w.out, f.buffer());
                    if let Err(e) = f.send(out, std::mem::take(&mut w.n)) {
                        failed = Some(e);
                        return Ok(());
                    }
                }
                let (Some(t), Some(dt), Some(dev), Some(seq), Some(p)) =
                    (t[i], dt[i], dev[i].as_deref(), seq[i], pct[i])
                else {
                    continue;
                };
                let Some(&ix) = d.device_ix.get(dev) else {
                    failed = Some(FhirError::Invalid(format!(
                        "{}: device {dev:?} is not in the directory",
                        path.display()
                    )));
                    return Ok(());
                };
                let r = Row {
                    dev: ix,
                    seq,
                    metric: Metric::HeartRate,
                    status: ObsStatus::Ok,
                    value: Some(f64::from(p)),
                    sim_ms: t,
                    device_ms: dt,
                };
                let fid = &d.devices[ix as usize].fid;
                w.id.clear();
                let _ = write!(w.id, "{fid}.status.{seq}.battery");
                w.ident.clear();
                let _ = write!(w.ident, "{dev}/status/{seq}/battery_pct");
                w.times(&r);
                w.emit(
                    &r,
                    Concept {
                        coding: &coding,
                        text: Some("battery level"),
                    },
                    None,
                    Some(Quantity {
                        value: (f64::from(p) * 10.0).round() / 10.0,
                        unit: "%",
                        system: UCUM,
                        code: "%",
                    }),
                    None,
                    None,
                    Vec::new(),
                );
            }
            if let Err(e) = f.send(w.out, w.n) {
                failed = Some(e);
            }
            Ok(())
        },
    )?;
    failed.map_or(Ok(()), Err)
}

/// The ground-truth tag on truth resources.
fn truth_meta() -> serde_json::Value {
    let mut m = SYNTHETIC_JSON();
    m["tag"] = json!([{"system": json::WT_TRUTH, "code": "ground-truth",
        "display": "what really happened in the simulation (not a finding of any system)"}]);
    m
}

/// Deterioration episodes as Flags on their patients.
fn flags(run: &Path, d: &Dir, out: &Path) -> Result<u64, FhirError> {
    let mut f = Ndjson::create(out, "Flag")?;
    let df = read_table(
        run,
        "episodes",
        &["episode_id", "patient_id", "kind", "onset_time", "end_time"],
    )?;
    let c = crate::runfolder::Cols::new(&df, run, "episodes");
    let (id, p, k, o, e) = (
        c.u32("episode_id")?,
        c.str("patient_id")?,
        c.str("kind")?,
        c.time("onset_time")?,
        c.time("end_time")?,
    );
    for i in 0..df.height() {
        let (Some(id), Some(p), Some(k), Some(o)) = (id[i], p[i].as_deref(), k[i].as_deref(), o[i])
        else {
            continue;
        };
        let mut period = json!({"start": iso(o)});
        if let Some(e) = e[i] {
            period["end"] = json!(iso(e));
        }
        f.value(&json!({
            "resourceType": "Flag", "id": format!("episode-{id}"), "meta": truth_meta(),
            "status": if e[i].is_some() { "inactive" } else { "active" },
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/flag-category",
                "code": "clinical", "display": "Clinical"}]}],
            "code": {"coding": [{"system": json::WT_TRUTH, "code": k}], "text": format!("deterioration: {k}")},
            "subject": {"reference": format!("Patient/{}", fhir_id(p))},
            "period": period,
        }))?;
    }
    let _ = d;
    f.finish()
}

/// Conditions (what a system should alert on) as DetectedIssues.
fn detected_issues(run: &Path, d: &Dir, out: &Path) -> Result<u64, FhirError> {
    let mut f = Ndjson::create(out, "DetectedIssue")?;
    let df = read_table(
        run,
        "conditions",
        &[
            "condition_id",
            "class",
            "severity",
            "subject_kind",
            "subject_id",
            "onset_time",
            "end_time",
        ],
    )?;
    let c = crate::runfolder::Cols::new(&df, run, "conditions");
    let (id, cl, sev, sk, sid, o, e) = (
        c.u32("condition_id")?,
        c.str("class")?,
        c.str("severity")?,
        c.str("subject_kind")?,
        c.str("subject_id")?,
        c.time("onset_time")?,
        c.time("end_time")?,
    );
    for i in 0..df.height() {
        let (Some(id), Some(cl), Some(sk), Some(sid), Some(o)) = (
            id[i],
            cl[i].as_deref(),
            sk[i].as_deref(),
            sid[i].as_deref(),
            o[i],
        ) else {
            continue;
        };
        let severity = match sev[i].as_deref() {
            Some("high") => "high",
            Some("medium") => "moderate",
            _ => "low",
        };
        let mut v = json!({
            "resourceType": "DetectedIssue", "id": format!("condition-{id}"), "meta": truth_meta(),
            "status": "final",
            "code": {"coding": [{"system": json::WT_TRUTH, "code": cl}], "text": cl},
            "severity": severity,
            "identifiedDateTime": iso(o),
            "detail": match e[i] {
                Some(e) => format!("{cl} from {} to {}", iso(o), iso(e)),
                None => format!("{cl} from {} to the end of the run", iso(o)),
            },
        });
        if sk == "patient" {
            v["patient"] = json!({"reference": format!("Patient/{}", fhir_id(sid))});
        } else if d.device_ix.contains_key(sid) {
            v["implicated"] = json!([{"reference": format!("Device/{}", fhir_id(sid))}]);
        }
        f.value(&v)?;
    }
    f.finish()
}
