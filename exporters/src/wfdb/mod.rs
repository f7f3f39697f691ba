//! WFDB records, as PhysioNet's tools read them: a header (`.hea`), a signal file (`.dat`,
//! format 16: little-endian 16-bit samples, frames interleaved, several samples per frame for
//! a faster signal), and annotation files in the MIT format (`.atr`: beat symbols `N`, `V`,
//! `A`, …; rhythm changes as `+` with their aux text `(N`, `(AFIB`, …). Tests read them
//! back with PhysioNet's `wfdb` Python package (tests/suite/wfdb.rs).
//!
//! Runs write them with [`WaveformSink`] (`--waveforms`), streaming.
//!
//! Formats: PhysioNet WFDB documentation, header(5), signal(5) format 16, annot(5) MIT format.

use std::io::{self, Write};
use std::path::Path;

mod stream;
#[cfg(test)]
mod tests;

pub use stream::{ANNOTATION_HZ, FRAME_HZ, SIGNALS, SignalSpec, StreamRecord, WaveformSink};

/// One signal of a record.
#[derive(Debug, Clone, Copy)]
pub struct Signal<'a> {
    /// Description, e.g. `ECG II`.
    pub name: &'a str,
    /// Physical units, e.g. `mV`.
    pub units: &'a str,
    /// ADC units per physical unit.
    pub gain: f64,
    /// Samples of this signal in each frame (its rate over the frame rate).
    pub per_frame: usize,
    pub samples: &'a [f32],
}

/// The ADC value of `v` at `gain`, within 16 bits (-32768 is WFDB's "no value").
fn adc(v: f32, gain: f64) -> i16 {
    if !v.is_finite() {
        return i16::MIN;
    }
    (f64::from(v) * gain).round().clamp(-32767.0, 32767.0) as i16
}

/// Writes record `name` in `dir`: `name.hea` and `name.dat`, `frames` frames at `frame_hz`.
/// Each signal must have `frames × per_frame` samples.
pub fn write_record(
    dir: &Path,
    name: &str,
    frame_hz: f64,
    frames: usize,
    signals: &[Signal],
) -> io::Result<()> {
    for s in signals {
        if s.samples.len() != frames * s.per_frame || s.per_frame == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "signal {:?}: {} samples, expected {} frames x {}",
                    s.name,
                    s.samples.len(),
                    frames,
                    s.per_frame
                ),
            ));
        }
    }
    let dat = format!("{name}.dat");
    let mut out = io::BufWriter::new(std::fs::File::create(dir.join(&dat))?);
    let mut checksums = vec![0i16; signals.len()];
    for f in 0..frames {
        for (k, s) in signals.iter().enumerate() {
            for j in 0..s.per_frame {
                let v = adc(s.samples[f * s.per_frame + j], s.gain);
                checksums[k] = checksums[k].wrapping_add(v);
                out.write_all(&v.to_le_bytes())?;
            }
        }
    }
    out.flush()?;
    let mut hea = format!("{name} {} {frame_hz} {frames}\n", signals.len());
    for (k, s) in signals.iter().enumerate() {
        let fmt = if s.per_frame > 1 {
            format!("16x{}", s.per_frame)
        } else {
            "16".to_string()
        };
        let first = s.samples.first().map_or(0, |v| adc(*v, s.gain));
        hea.push_str(&format!(
            "{dat} {fmt} {}(0)/{} 16 0 {first} {} 0 {}\n",
            s.gain, s.units, checksums[k], s.name
        ));
    }
    std::fs::write(dir.join(format!("{name}.hea")), hea)
}

/// One annotation: its sample (at the frame rate times the annotated signal's samples per
/// frame: for a single-rate record, the sample number), its symbol, and aux text.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub sample: u64,
    pub symbol: &'static str,
    pub aux: Option<String>,
}

/// MIT annotation codes of the symbols the twin writes (annot(5), ecgcodes.h).
pub fn code(symbol: &str) -> Option<u16> {
    Some(match symbol {
        "N" => 1,
        "L" => 2,
        "R" => 3,
        "A" => 8,
        "V" => 5,
        "F" => 6,
        "Q" => 13,
        "~" => 14,
        "|" => 16,
        "+" => 28,
        "\"" => 22,
        "!" => 31,
        _ => return None,
    })
}

const SKIP: u16 = 59;
const AUX: u16 = 63;

/// Writes annotation file `name.ext` in `dir` (MIT format), annotations in sample order;
/// with `resolution_hz`, first the note that says the samples' rate (for a multi-frequency
/// record, whose frames are slower than the annotated signal).
pub fn write_annotations(
    dir: &Path,
    name: &str,
    ext: &str,
    resolution_hz: Option<f64>,
    anns: &[Annotation],
) -> io::Result<()> {
    let mut b: Vec<u8> = Vec::new();
    if let Some(hz) = resolution_hz {
        stream::encode(&mut b, 0, 22, Some(&format!("## time resolution: {hz}")))?;
    }
    let mut last = 0u64;
    for a in anns {
        let Some(c) = code(a.symbol) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no MIT code for annotation symbol {:?}", a.symbol),
            ));
        };
        if a.sample < last {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "annotations must be in sample order",
            ));
        }
        stream::encode(&mut b, a.sample - last, c, a.aux.as_deref())?;
        last = a.sample;
    }
    b.extend_from_slice(&[0, 0]);
    std::fs::write(dir.join(format!("{name}.{ext}")), b)
}
