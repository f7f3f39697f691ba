//! Waveform synthesis: the groundwork of the heart-rhythms issue. Beat timing from the
//! patient's heart rate, with heart-rate variability and respiratory sinus arrhythmia
//! ([`rr`]), and premature ventricular and atrial beats at a rate per minute; an ECG lead II
//! as a sum of Gaussian waves around each R peak, the form of
//! McSharry et al.'s ECGSYN (IEEE TBME 2003, 50:289) written in time rather than phase
//! ([`ecg`]); a photoplethysmogram with one pulse per perfusing beat after the pulse transit
//! time ([`pleth`]); impedance respiration at the breathing rate ([`resp`]).
//!
//! Everything here is a pure function of its inputs and a seeded stream, so a patient's
//! waveforms are deterministic. Nothing is wired to the simulation or its outputs yet.

pub mod ecg;
pub mod pleth;
pub mod resp;
pub mod rr;
#[cfg(test)]
mod tests;

pub use rr::{BeatClock, Hrv, Rhythm};

/// Sample rates (Hz): ECG 250, pleth 125, respiration 62.5 (PhysioNet/CinC 2015 and common
/// monitor exports).
pub const ECG_HZ: f64 = 250.0;
pub const PLETH_HZ: f64 = 125.0;
pub const RESP_HZ: f64 = 62.5;

/// Where a beat starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BeatKind {
    /// From the sinus node (or conducted AF).
    #[default]
    Normal,
    /// A premature ventricular beat: early, wide QRS, no P, discordant T, a weak pulse, a full
    /// compensatory pause.
    Ventricular,
    /// A premature atrial beat: early, an early P, a normal QRS, no compensatory pause.
    Atrial,
}

impl BeatKind {
    /// Its PhysioNet annotation symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            BeatKind::Normal => "N",
            BeatKind::Ventricular => "V",
            BeatKind::Atrial => "A",
        }
    }
    /// Its pulse, as a share of a normal beat's (a premature beat fills the ventricle less).
    pub fn pulse(self) -> f64 {
        match self {
            BeatKind::Normal => 1.0,
            BeatKind::Ventricular => 0.4,
            BeatKind::Atrial => 0.8,
        }
    }
}

/// One beat: when its R peak falls (ms from the window's start), where it starts, and whether
/// it perfuses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beat {
    pub r_ms: f64,
    pub kind: BeatKind,
    pub perfusing: bool,
}

/// A window of the three signals and the beats under them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    /// mV.
    pub ecg: Vec<f32>,
    /// Arbitrary units, 0 to the perfusion amplitude.
    pub pleth: Vec<f32>,
    /// Ohms of impedance change around the baseline.
    pub resp: Vec<f32>,
    pub beats: Vec<Beat>,
}

/// The patient's state over a window, held constant (the simulation steps it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct State {
    pub heart_rate: f64,
    pub resp_rate: f64,
    pub rhythm: Rhythm,
    /// Pulse amplitude, 0 (no perfusion) to 1.
    pub perfusion: f64,
    /// Systolic pressure (mmHg): sets the pulse transit time.
    pub systolic: f64,
    /// Premature ventricular and atrial beats per minute (0: none).
    pub pvc_per_min: f64,
    pub pac_per_min: f64,
}

/// Synthesises the next `seconds` of ECG, pleth and respiration for `state`: beats from
/// `clock` (which carries its variability state and time across windows, so windows join up),
/// each wave summed over the beats near each sample.
pub fn synthesize(clock: &mut BeatClock, state: &State, seconds: f64) -> Signals {
    let span_ms = seconds * 1000.0;
    let start_ms = clock.elapsed_ms;
    let breath_ms = 60_000.0 / state.resp_rate.max(1.0);
    let perfusing = state.perfusion > 0.0;
    // The last beat before the window (its T wave and pulse reach into it), the window's
    // beats, and the next one (its P wave may begin inside it).
    let mut beats: Vec<Beat> = clock
        .prev_r_ms
        .map(|(r_ms, kind)| Beat {
            r_ms,
            kind,
            perfusing,
        })
        .into_iter()
        .collect();
    let mut t = clock.next_r_ms;
    while t < span_ms {
        beats.push(Beat {
            r_ms: t,
            kind: clock.next_kind,
            perfusing,
        });
        let phase = std::f64::consts::TAU * ((clock.elapsed_ms + t) / breath_ms).fract();
        let (rr, kind) = clock.next_beat(state, phase);
        clock.next_kind = kind;
        t += rr;
    }
    clock.prev_r_ms = beats.last().map(|b| (b.r_ms - span_ms, b.kind));
    clock.next_r_ms = t - span_ms;
    clock.elapsed_ms += span_ms;
    beats.push(Beat {
        r_ms: t,
        kind: clock.next_kind,
        perfusing,
    });
    let af = state.rhythm == Rhythm::AtrialFibrillation;
    let ecg = ecg::render(&beats, (seconds * ECG_HZ) as usize, ECG_HZ, !af)
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let t = start_ms + i as f64 * 1000.0 / ECG_HZ;
            (v + if af {
                ecg::fibrillation(t, clock.f_phase)
            } else {
                0.0
            }) as f32
        })
        .collect();
    let ptt = pleth::transit_ms(state.systolic);
    let pleth = pleth::render(&beats, (seconds * PLETH_HZ) as usize, PLETH_HZ, ptt)
        .into_iter()
        .map(|v| (state.perfusion * v) as f32)
        .collect();
    let resp = (0..(seconds * RESP_HZ) as usize)
        .map(|i| resp::at(start_ms + i as f64 * 1000.0 / RESP_HZ, breath_ms) as f32)
        .collect();
    beats.retain(|b| b.r_ms >= 0.0 && b.r_ms < span_ms);
    Signals {
        ecg,
        pleth,
        resp,
        beats,
    }
}
