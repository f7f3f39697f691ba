//! WFDB records written as a run goes: [`StreamRecord`] appends frames and annotations to its
//! files in bounded buffers (opened, appended and closed on each flush, so a ward of 1,000
//! records never holds 2,000 files open), and writes the header when it is finished.
//! [`WaveformSink`] is the run's sink: one record per tapped patient under `waveforms/`, named
//! by bed (`W1-03.hea`, `.dat`, `.atr`).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wardtwin_sim::records::{PatientIx, WaveFrame};
use wardtwin_sim::time::format_iso_ms;
use wardtwin_sim::{Batch, Directory, RecordSink, SinkError, SinkReport};

use super::{AUX, SKIP, adc, code};

/// One signal's layout in a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalSpec {
    pub name: &'static str,
    pub units: &'static str,
    /// ADC units per physical unit.
    pub gain: f64,
    pub per_frame: usize,
}

/// The twin's records: ECG lead II (250 Hz, 1 µV resolution), pleth (125 Hz), impedance
/// respiration (62.5 Hz), in frames of 62.5 Hz.
pub const SIGNALS: [SignalSpec; 3] = [
    SignalSpec {
        name: "ECG II",
        units: "mV",
        gain: 1000.0,
        per_frame: 4,
    },
    SignalSpec {
        name: "PLETH",
        units: "NU",
        gain: 1000.0,
        per_frame: 2,
    },
    SignalSpec {
        name: "RESP",
        units: "Ohm",
        gain: 1000.0,
        per_frame: 1,
    },
];
/// Frames per second of [`SIGNALS`].
pub const FRAME_HZ: f64 = 62.5;
/// Annotation times are ECG samples: the annotation file says so first (WFDB's high-resolution
/// convention, a note `## time resolution: 250` at sample 0, which `wfdb.rdann` reads as `fs`).
pub const ANNOTATION_HZ: f64 = 250.0;

/// Bytes a record buffers per file before it appends them.
const FLUSH_BYTES: usize = 32 * 1024;

/// A record being written.
#[derive(Debug)]
pub struct StreamRecord {
    dir: PathBuf,
    name: String,
    specs: Vec<SignalSpec>,
    frame_hz: f64,
    /// Samples of each signal not yet in a whole frame.
    pending: Vec<std::collections::VecDeque<i16>>,
    frames: u64,
    checksums: Vec<i16>,
    first: Vec<Option<i16>>,
    dat: Vec<u8>,
    atr: Vec<u8>,
    last_ann: u64,
    /// `HH:MM:SS.mmm DD/MM/YYYY` of sample 0.
    base: String,
}

fn append(path: &Path, bytes: &mut Vec<u8>) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(bytes)?;
    bytes.clear();
    Ok(())
}

/// One MIT annotation word (and its SKIP and aux) for `code` `delta` samples after the last.
pub(super) fn encode(b: &mut Vec<u8>, delta: u64, code: u16, aux: Option<&str>) -> io::Result<()> {
    let word =
        |b: &mut Vec<u8>, code: u16, i: u16| b.extend_from_slice(&((code << 10) | i).to_le_bytes());
    if delta > 1023 {
        // SKIP, then the interval as a 32-bit number, high 16 bits first (PDP-11 order).
        let d = u32::try_from(delta).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "annotation interval over 2^32")
        })?;
        word(b, SKIP, 0);
        b.extend_from_slice(&((d >> 16) as u16).to_le_bytes());
        b.extend_from_slice(&((d & 0xffff) as u16).to_le_bytes());
        word(b, code, 0);
    } else {
        word(b, code, delta as u16);
    }
    if let Some(aux) = aux {
        let bytes = aux.as_bytes();
        let n = bytes.len().min(255);
        word(b, AUX, n as u16);
        b.extend_from_slice(&bytes[..n]);
        if n % 2 == 1 {
            b.push(0);
        }
    }
    Ok(())
}

impl StreamRecord {
    /// Starts record `name` in `dir` (replacing one of that name) at `epoch_ms`.
    pub fn create(
        dir: &Path,
        name: &str,
        frame_hz: f64,
        specs: &[SignalSpec],
        epoch_ms: i64,
    ) -> io::Result<Self> {
        for ext in ["dat", "atr", "hea"] {
            match std::fs::remove_file(dir.join(format!("{name}.{ext}"))) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let iso = format_iso_ms(epoch_ms);
        // 2026-03-02T08:00:00.000Z -> 08:00:00.000 02/03/2026
        let base = format!(
            "{} {}/{}/{}",
            &iso[11..23],
            &iso[8..10],
            &iso[5..7],
            &iso[0..4]
        );
        let mut r = Self {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            specs: specs.to_vec(),
            frame_hz,
            pending: vec![Default::default(); specs.len()],
            frames: 0,
            checksums: vec![0; specs.len()],
            first: vec![None; specs.len()],
            dat: Vec::new(),
            atr: Vec::new(),
            last_ann: 0,
            base,
        };
        let note = format!("## time resolution: {ANNOTATION_HZ}");
        encode(&mut r.atr, 0, code("\"").unwrap_or(22), Some(&note))?;
        Ok(r)
    }

    /// Appends samples of signal `k` (physical units; NaN is WFDB's "no value").
    pub fn push(&mut self, k: usize, samples: &[f32]) -> io::Result<()> {
        let gain = self.specs[k].gain;
        let p = &mut self.pending[k];
        p.extend(samples.iter().map(|v| adc(*v, gain)));
        if self.first[k].is_none() {
            self.first[k] = p.front().copied();
        }
        self.write_frames()
    }

    fn write_frames(&mut self) -> io::Result<()> {
        while self
            .pending
            .iter()
            .zip(&self.specs)
            .all(|(p, s)| p.len() >= s.per_frame)
        {
            for (k, s) in self.specs.iter().enumerate() {
                for _ in 0..s.per_frame {
                    let v = self.pending[k].pop_front().unwrap_or(i16::MIN);
                    self.checksums[k] = self.checksums[k].wrapping_add(v);
                    self.dat.extend_from_slice(&v.to_le_bytes());
                }
            }
            self.frames += 1;
        }
        if self.dat.len() >= FLUSH_BYTES {
            append(&self.dir.join(format!("{}.dat", self.name)), &mut self.dat)?;
        }
        Ok(())
    }

    /// Annotates `sample` (annotation resolution) with `symbol` and `aux`; in sample order.
    pub fn annotate(&mut self, sample: u64, symbol: &str, aux: Option<&str>) -> io::Result<()> {
        let c = code(symbol).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no MIT code for annotation symbol {symbol:?}"),
            )
        })?;
        if sample < self.last_ann {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("annotation at {sample} after one at {}", self.last_ann),
            ));
        }
        encode(&mut self.atr, sample - self.last_ann, c, aux)?;
        self.last_ann = sample;
        if self.atr.len() >= FLUSH_BYTES {
            append(&self.dir.join(format!("{}.atr", self.name)), &mut self.atr)?;
        }
        Ok(())
    }

    /// Writes what is buffered and the header; returns the frames written (a last partial
    /// frame, under one frame interval, is dropped).
    pub fn finish(mut self) -> io::Result<u64> {
        append(&self.dir.join(format!("{}.dat", self.name)), &mut self.dat)?;
        self.atr.extend_from_slice(&[0, 0]);
        append(&self.dir.join(format!("{}.atr", self.name)), &mut self.atr)?;
        if self.frames == 0 {
            // An empty signal file still exists, so the header's file is there.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(format!("{}.dat", self.name)))?;
        }
        let mut hea = format!(
            "{} {} {} {} {}\n",
            self.name,
            self.specs.len(),
            self.frame_hz,
            self.frames,
            self.base
        );
        for (k, s) in self.specs.iter().enumerate() {
            let fmt = if s.per_frame > 1 {
                format!("16x{}", s.per_frame)
            } else {
                "16".to_string()
            };
            hea.push_str(&format!(
                "{}.dat {fmt} {}(0)/{} 16 0 {} {} 0 {}\n",
                self.name,
                s.gain,
                s.units,
                self.first[k].unwrap_or(0),
                self.checksums[k],
                s.name
            ));
        }
        hea.push_str("# wardtwin: synthetic ECG lead II, pleth and impedance respiration; ");
        hea.push_str("annotations in atr at 250 Hz (beats and rhythm changes)\n");
        std::fs::write(self.dir.join(format!("{}.hea", self.name)), hea)?;
        Ok(self.frames)
    }
}

/// The run's waveform sink: a WFDB record per tapped patient under `dir` (`waveforms/`).
pub struct WaveformSink {
    dir: PathBuf,
    directory: Arc<Directory>,
    epoch_ms: i64,
    /// The patients whose records it writes (others' frames are for the wire only).
    only: std::collections::BTreeSet<PatientIx>,
    records: BTreeMap<PatientIx, StreamRecord>,
}

impl WaveformSink {
    /// A sink writing the records of `patients` into `dir` (created).
    pub fn create(
        dir: &Path,
        directory: Arc<Directory>,
        epoch_ms: i64,
        patients: &[PatientIx],
    ) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            directory,
            epoch_ms,
            only: patients.iter().copied().collect(),
            records: BTreeMap::new(),
        })
    }

    fn frame(&mut self, f: &WaveFrame) -> io::Result<()> {
        let r = match self.records.entry(f.patient) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                let name = &self.directory.bed_of_patient(f.patient).id;
                v.insert(StreamRecord::create(
                    &self.dir,
                    name,
                    FRAME_HZ,
                    &SIGNALS,
                    self.epoch_ms,
                )?)
            }
        };
        if let Some(label) = f.rhythm {
            r.annotate(f.first[0], "+", Some(label))?;
        }
        for (sample, symbol) in &f.beats {
            r.annotate(*sample, symbol, None)?;
        }
        r.push(0, &f.ecg)?;
        r.push(1, &f.pleth)?;
        r.push(2, &f.resp)
    }
}

impl RecordSink for WaveformSink {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        if let Some(frames) = batch.get::<WaveFrame>() {
            for f in frames {
                if !self.only.contains(&f.patient) {
                    continue;
                }
                self.frame(f).map_err(|e| {
                    format!("cannot write waveforms into {}: {e}", self.dir.display())
                })?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<SinkReport, SinkError> {
        let mut frames = 0;
        for (_, r) in std::mem::take(&mut self.records) {
            frames += r
                .finish()
                .map_err(|e| format!("cannot write waveforms into {}: {e}", self.dir.display()))?;
        }
        // One entry for the folder: its frames (62.5 a second per record).
        Ok(SinkReport {
            tables: vec![("waveforms".to_string(), frames)],
        })
    }
}
