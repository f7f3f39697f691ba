//! Waveform synthesis (docs/rhythms.md). Beat timing from the patient's ventricular rate and
//! rhythm, with heart-rate variability and respiratory sinus arrhythmia ([`rr`]), and premature
//! ventricular and atrial beats at a rate per minute; an ECG lead II
//! as a sum of Gaussian waves around each R peak, the form of
//! McSharry et al.'s ECGSYN (IEEE TBME 2003, 50:289) written in time rather than phase
//! ([`ecg`]); a photoplethysmogram with one pulse per perfusing beat after the pulse transit
//! time ([`pleth`]); impedance respiration at the breathing rate ([`resp`]).
//!
//! Everything here is a pure function of its inputs and a seeded stream, so a patient's
//! waveforms are deterministic. [`WaveformPlugin`] runs it for the patients a run taps
//! (`--waveforms`), from the state that drives their numbers.

pub mod ecg;
pub mod pleth;
mod plugin;
pub mod resp;
pub mod rr;
#[cfg(test)]
mod tests;

use rand::RngExt;
use rand_distr::StandardNormal;
use wardtwin_sim::records::ArtifactKind;
pub use wardtwin_sim::records::Rhythm;

pub use plugin::{WaveTap, WaveformPlugin, tap};
pub use rr::{BeatClock, Hrv};

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
    /// Index of each signal's first sample (ECG, pleth, respiration) since the clock began.
    pub first: [u64; 3],
}

/// The patient's state over a window, held constant (the simulation steps it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct State {
    /// Ventricular rate, /min.
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
    /// What is wrong with the ECG electrodes (`motion`: muscle and motion noise, which can
    /// look like VF; `probe_off`: a lead off, a flat line) and with the oximeter's probe
    /// (`motion`: a corrupted pulse; `probe_off`: none).
    pub ecg_artifact: Option<ArtifactKind>,
    pub pleth_artifact: Option<ArtifactKind>,
}

impl State {
    /// Sinus rhythm at `heart_rate`, breathing at `resp_rate`, well perfused, no ectopy, no
    /// artifact.
    pub fn sinus(heart_rate: f64, resp_rate: f64) -> Self {
        Self {
            heart_rate,
            resp_rate,
            rhythm: Rhythm::Sinus,
            perfusion: 1.0,
            systolic: 120.0,
            pvc_per_min: 0.0,
            pac_per_min: 0.0,
            ecg_artifact: None,
            pleth_artifact: None,
        }
    }
}

/// ECG noise (mV): baseline wander with breathing, mains hum (50 Hz), and muscle (EMG) noise.
pub const WANDER_MV: f64 = 0.05;
pub const MAINS_MV: f64 = 0.01;
pub const EMG_MV: f64 = 0.01;
/// Motion on the ECG electrodes: AR(1) noise of this SD (mV) and pole (at 250 Hz: a band of a
/// few hertz, the band of VF) — the artifact that fakes VF and VT alarms (CinC 2015).
pub const ECG_MOTION: (f64, f64) = (0.35, 0.93);
/// Motion on the oximeter's probe: AR(1) noise of this SD (pulse units) and pole (at 125 Hz).
pub const PLETH_MOTION: (f64, f64) = (0.6, 0.95);

/// Sample indices `[first, end)` at `hz` of the samples in `[start_ms, start_ms + span_ms)`:
/// sample `i` is at `i × 1000 / hz` ms, so windows of any length join up sample for sample.
pub fn sample_range(start_ms: f64, span_ms: f64, hz: f64) -> (u64, u64) {
    let first = (start_ms * hz / 1000.0 - 1e-9).ceil().max(0.0) as u64;
    let end = ((start_ms + span_ms) * hz / 1000.0 - 1e-9).ceil().max(0.0) as u64;
    (first, end)
}

/// Synthesises the next `seconds` of ECG, pleth and respiration for `state`: beats from
/// `clock` (which carries its variability state and time across windows, so windows join up),
/// each wave summed over the beats near each sample. Sample `i` of a signal lies at
/// `i / hz` from the clock's start, so a window holds the samples whose time falls inside
/// it ([`sample_range`]); [`Signals::first`] says where it starts.
pub fn synthesize(clock: &mut BeatClock, state: &State, seconds: f64) -> Signals {
    let span_ms = seconds * 1000.0;
    let start_ms = clock.elapsed_ms;
    let breath_ms = 60_000.0 / state.resp_rate.max(1.0);
    let perfusing = state.perfusion > 0.0 && state.rhythm.perfusing();
    let beating = !matches!(
        state.rhythm,
        Rhythm::VentricularFibrillation | Rhythm::Asystole
    );
    // The last beat before the window (its T wave and pulse reach into it), the window's
    // beats, and the next one (its P wave may begin inside it).
    let mut beats: Vec<Beat> = Vec::new();
    // The beat the clock drew ahead takes the rhythm it falls in: every beat of a VT is
    // ventricular, and none is after it (unless it was a premature beat).
    if state.rhythm == Rhythm::VentricularTachycardia {
        clock.next_kind = BeatKind::Ventricular;
    } else if clock.next_kind == BeatKind::Ventricular && state.pvc_per_min <= 0.0 {
        clock.next_kind = BeatKind::Normal;
    }
    if beating {
        beats.extend(clock.prev_r_ms.map(|(r_ms, kind)| Beat {
            r_ms,
            kind,
            perfusing,
        }));
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
        beats.push(Beat {
            r_ms: t,
            kind: clock.next_kind,
            perfusing,
        });
    } else {
        // No ventricular activity: when it comes back, its first beat is within a second.
        clock.prev_r_ms = None;
        clock.next_r_ms = clock.next_r_ms.rem_euclid(1000.0);
        clock.next_kind = BeatKind::Normal;
    }
    clock.elapsed_ms += span_ms;
    let grid = |hz: f64| {
        let (a, b) = sample_range(start_ms, span_ms, hz);
        (a, (b - a) as usize, a as f64 * 1000.0 / hz - start_ms)
    };

    let (e0, en, et0) = grid(ECG_HZ);
    let af = state.rhythm == Rhythm::AtrialFibrillation;
    let p_waves = matches!(state.rhythm, Rhythm::Sinus | Rhythm::SecondDegreeBlock);
    let block = state.rhythm == Rhythm::SecondDegreeBlock;
    let mut ecg = if beating {
        ecg::render_from(&beats, et0, en, ECG_HZ, p_waves, block)
    } else {
        vec![0.0; en]
    };
    let lead_off = state.ecg_artifact == Some(ArtifactKind::ProbeOff);
    let ecg_motion = state.ecg_artifact == Some(ArtifactKind::Motion);
    let (m_sd, m_pole) = ECG_MOTION;
    for (i, v) in ecg.iter_mut().enumerate() {
        let t = (e0 + i as u64) as f64 * 1000.0 / ECG_HZ;
        let emg: f64 = clock.noise_rng.sample(StandardNormal);
        if lead_off {
            // A lead off: the amplifier's flat line.
            *v = 0.0;
            continue;
        }
        let rhythm_wave = match state.rhythm {
            _ if af => ecg::fibrillation(t, clock.f_phase),
            Rhythm::VentricularFibrillation => ecg::ventricular_fibrillation(t, clock.f_phase),
            _ => 0.0,
        };
        let secs = t / 1000.0;
        let wander = WANDER_MV * (std::f64::consts::TAU * t / breath_ms).sin();
        let mains = MAINS_MV * (std::f64::consts::TAU * 50.0 * secs).sin();
        if ecg_motion {
            let z: f64 = clock.noise_rng.sample(StandardNormal);
            clock.motion[0] = m_pole * clock.motion[0] + (1.0 - m_pole * m_pole).sqrt() * m_sd * z;
        }
        let motion = if ecg_motion { clock.motion[0] } else { 0.0 };
        *v += rhythm_wave + wander + mains + EMG_MV * emg + motion;
    }

    let (_, pn, pt0) = grid(PLETH_HZ);
    let ptt = pleth::transit_ms(state.systolic);
    let mut pleth = pleth::render_from(&beats, pt0, pn, PLETH_HZ, ptt);
    for v in &mut pleth {
        *v *= state.perfusion;
    }
    match state.pleth_artifact {
        Some(ArtifactKind::ProbeOff) => pleth.iter_mut().for_each(|v| *v = 0.0),
        Some(ArtifactKind::Motion) => {
            let (sd, pole) = PLETH_MOTION;
            for v in &mut pleth {
                let z: f64 = clock.noise_rng.sample(StandardNormal);
                clock.motion[1] = pole * clock.motion[1] + (1.0 - pole * pole).sqrt() * sd * z;
                *v += clock.motion[1];
            }
        }
        _ => {}
    }

    let (r0, rn, _) = grid(RESP_HZ);
    // Apnoea (a rate under 1 /min): flat.
    let resp = (0..rn)
        .map(|i| {
            let t = (r0 + i as u64) as f64 * 1000.0 / RESP_HZ;
            if state.resp_rate < 1.0 {
                0.0
            } else {
                resp::at(t, breath_ms) as f32
            }
        })
        .collect();
    beats.retain(|b| b.r_ms >= 0.0 && b.r_ms < span_ms);
    Signals {
        ecg: ecg.into_iter().map(|v| v as f32).collect(),
        pleth: pleth.into_iter().map(|v| v as f32).collect(),
        resp,
        beats,
        first: [e0, grid(PLETH_HZ).0, r0],
    }
}
