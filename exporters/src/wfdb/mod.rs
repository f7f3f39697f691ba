//! WFDB records, as PhysioNet's tools read them: a header (`.hea`), a signal file (`.dat`,
//! format 16: little-endian 16-bit samples, frames interleaved, several samples per frame for
//! a faster signal), and annotation files in the MIT format (`.atr`: beat symbols `N`, `V`,
//! `A`, …; rhythm changes as `+` with their aux text `(N`, `(AFIB`, …). Groundwork of the
//! heart-rhythms issue: the writer and its checks (tests/suite read them back with the `wfdb`
//! Python package); the twin does not write waveforms yet.
//!
//! Formats: PhysioNet WFDB documentation, header(5), signal(5) format 16, annot(5) MIT format.

use std::io::{self, Write};
use std::path::Path;

#[cfg(test)]
mod tests;

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
        "!" => 31,
        _ => return None,
    })
}

const SKIP: u16 = 59;
const AUX: u16 = 63;

/// Writes annotation file `name.ext` in `dir` (MIT format), annotations in sample order.
pub fn write_annotations(dir: &Path, name: &str, ext: &str, anns: &[Annotation]) -> io::Result<()> {
    let mut b: Vec<u8> = Vec::new();
    let word =
        |b: &mut Vec<u8>, code: u16, i: u16| b.extend_from_slice(&((code << 10) | i).to_le_bytes());
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
        let delta = a.sample - last;
        last = a.sample;
        if delta > 1023 {
            // SKIP, then the interval as a 32-bit number, high 16 bits first (PDP-11 order).
            let d = u32::try_from(delta).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "annotation interval over 2^32")
            })?;
            word(&mut b, SKIP, 0);
            b.extend_from_slice(&((d >> 16) as u16).to_le_bytes());
            b.extend_from_slice(&((d & 0xffff) as u16).to_le_bytes());
            word(&mut b, c, 0);
        } else {
            word(&mut b, c, delta as u16);
        }
        if let Some(aux) = &a.aux {
            let bytes = aux.as_bytes();
            let n = bytes.len().min(255);
            word(&mut b, AUX, n as u16);
            b.extend_from_slice(&bytes[..n]);
            if n % 2 == 1 {
                b.push(0);
            }
        }
    }
    b.extend_from_slice(&[0, 0]);
    std::fs::write(dir.join(format!("{name}.{ext}")), b)
}
