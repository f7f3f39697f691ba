//! Beat timing. Sinus rhythm: each RR interval is the state's mean interval modulated by
//! respiratory sinus arrhythmia (a sine of the breathing phase at the beat: the high-frequency
//! band) and by a slow mean-reverting process of ~10 s (the low-frequency band, Mayer waves at
//! ~0.1 Hz), their powers in the ratio ECGSYN uses by default (LF/HF 0.5, McSharry et al.
//! 2003). Atrial fibrillation: intervals drawn independently around the mean, log-normal with a
//! coefficient of variation of ~0.2 (AF RR CV 0.15–0.3, Tateno & Glass 2001, Med Biol Eng
//! Comput 39:664), so the rhythm is irregularly irregular and does not follow breathing.

use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use wardtwin_sim::records::Rhythm;
use wardtwin_sim::rng::SimRng;

/// Heart-rate variability of sinus rhythm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hrv {
    /// SDNN as a share of the mean RR interval (0.045: ~36 ms at 75 /min, within the 20–50 ms
    /// of short-term recordings in adult inpatients).
    pub sdnn_share: f64,
    /// LF/HF power ratio.
    pub lf_hf: f64,
    /// Time constant of the LF process, ms.
    pub lf_tau_ms: f64,
}

impl Default for Hrv {
    fn default() -> Self {
        Self {
            sdnn_share: 0.045,
            lf_hf: 0.5,
            lf_tau_ms: 10_000.0,
        }
    }
}

/// Coefficient of variation of RR intervals in atrial fibrillation.
pub const AF_RR_CV: f64 = 0.2;
/// Coefficient of variation of RR intervals in ventricular tachycardia (monomorphic VT is
/// regular: a few per cent).
pub const VT_RR_CV: f64 = 0.03;

/// A patient's beat clock: its variability state, and where the next beat falls.
#[derive(Debug, Clone)]
pub struct BeatClock {
    rng: SimRng,
    pub hrv: Hrv,
    /// The LF process, in SD units.
    lf: f64,
    /// The next R peak, ms from the start of the next window.
    pub next_r_ms: f64,
    /// The last R peak before the next window (≤ 0) and its kind, if any.
    pub prev_r_ms: Option<(f64, super::BeatKind)>,
    /// The kind of the beat at `next_r_ms`.
    pub next_kind: super::BeatKind,
    /// An interval already decided (a premature ventricular beat's compensatory pause).
    pending_ms: Option<f64>,
    /// Time synthesised so far (for the breathing phase), ms.
    pub elapsed_ms: f64,
    /// Phase of the fibrillatory waves (drawn once: windows join up).
    pub f_phase: f64,
    /// The sample noise's own stream (so splitting a window differently draws the same noise).
    pub(crate) noise_rng: SimRng,
    /// Motion noise states (ECG, pleth), AR(1).
    pub(crate) motion: [f64; 2],
}

impl BeatClock {
    pub fn new(mut rng: SimRng, hrv: Hrv) -> Self {
        let lf = rng.sample(StandardNormal);
        let first = 1000.0 * rng.random::<f64>();
        let f_phase = std::f64::consts::TAU * rng.random::<f64>();
        let noise_rng = SimRng::seed_from_u64(rng.random());
        Self {
            f_phase,
            noise_rng,
            motion: [0.0; 2],
            rng,
            hrv,
            lf,
            next_r_ms: first,
            prev_r_ms: None,
            next_kind: super::BeatKind::Normal,
            pending_ms: None,
            elapsed_ms: 0.0,
        }
    }

    /// The interval to the next beat and its kind, for `state`'s rate, rhythm and ectopy, at
    /// breathing phase `resp_phase`. A premature ventricular beat comes at 60 % of the interval
    /// and is followed by a full compensatory pause (the two intervals add up to two normal
    /// ones); a premature atrial beat comes at 75 % and resets the sinus node (no pause). In
    /// AF there are no atrial premature beats. Ectopy draws only when its rate is not zero, so
    /// a clock without it draws what it always drew.
    pub fn next_beat(&mut self, state: &super::State, resp_phase: f64) -> (f64, super::BeatKind) {
        use super::BeatKind;
        let normal = self.next_rr(state.heart_rate, resp_phase, state.rhythm);
        if state.rhythm == Rhythm::VentricularTachycardia {
            self.pending_ms = None;
            return (normal, BeatKind::Ventricular);
        }
        if let Some(pause) = self.pending_ms.take() {
            return (pause, BeatKind::Normal);
        }
        let pac = if state.rhythm == Rhythm::Sinus {
            state.pac_per_min
        } else {
            0.0
        };
        if state.pvc_per_min <= 0.0 && pac <= 0.0 {
            return (normal, BeatKind::Normal);
        }
        let per_beat = |per_min: f64| (per_min / state.heart_rate.max(10.0)).clamp(0.0, 0.5);
        let u: f64 = self.rng.random();
        if u < per_beat(state.pvc_per_min) {
            let coupling = 0.6 * normal;
            self.pending_ms = Some(2.0 * normal - coupling);
            (coupling, BeatKind::Ventricular)
        } else if u < per_beat(state.pvc_per_min) + per_beat(pac) {
            (0.75 * normal, BeatKind::Atrial)
        } else {
            (normal, BeatKind::Normal)
        }
    }

    /// The interval to the next beat (ms) at heart rate `hr` (/min) for a beat at breathing
    /// phase `resp_phase` (radians).
    pub fn next_rr(&mut self, hr: f64, resp_phase: f64, rhythm: Rhythm) -> f64 {
        let mean = 60_000.0 / hr.clamp(10.0, 350.0);
        match rhythm {
            Rhythm::Sinus | Rhythm::SecondDegreeBlock => {
                let h = &self.hrv;
                // Variance split: HF (a sine: variance A²/2) and LF in the ratio lf_hf.
                let var = h.sdnn_share * h.sdnn_share;
                let hf_amp = (2.0 * var / (1.0 + h.lf_hf)).sqrt();
                let lf_sd = (var * h.lf_hf / (1.0 + h.lf_hf)).sqrt();
                let phi = (-mean / h.lf_tau_ms).exp();
                let z: f64 = self.rng.sample(StandardNormal);
                self.lf = self.lf * phi + (1.0 - phi * phi).sqrt() * z;
                // RR lengthens on expiration (phase π to 2π of a sine that rises on inspiration).
                mean * (1.0 - hf_amp * resp_phase.sin() + lf_sd * self.lf)
            }
            Rhythm::AtrialFibrillation => {
                let s = (1.0 + AF_RR_CV * AF_RR_CV).ln().sqrt();
                let z: f64 = self.rng.sample(StandardNormal);
                // Log-normal with mean `mean` and CV AF_RR_CV; at least 250 ms (refractory).
                (mean * (s * z - s * s / 2.0).exp()).max(250.0)
            }
            Rhythm::VentricularTachycardia => {
                let z: f64 = self.rng.sample(StandardNormal);
                (mean * (1.0 + VT_RR_CV * z)).max(180.0)
            }
            // No beats: the caller does not ask (a second, should it).
            Rhythm::VentricularFibrillation | Rhythm::Asystole => 1000.0,
        }
    }
}
