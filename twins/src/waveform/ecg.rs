//! ECG lead II as a sum of Gaussian waves around each R peak (P, Q, R, S, T), the form of
//! ECGSYN (McSharry et al. 2003) with its default amplitudes' proportions, written in time:
//! the QRS keeps its width whatever the rate, and the T wave moves with the QT interval,
//! which follows Bazett (QT ∝ √RR; ~400 ms at 60 /min). Without P waves (atrial
//! fibrillation) a fibrillatory baseline of ~0.05 mV at ~6 Hz replaces them.

use super::Beat;

/// One wave: its offset from the R peak (ms, at RR 1,000 ms), its width (SD, ms), amplitude
/// (mV), and whether it moves with the QT interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wave {
    pub offset_ms: f64,
    pub width_ms: f64,
    pub mv: f64,
    pub with_qt: bool,
}

/// P, Q, R, S, T: PR ~160 ms, QRS ~90 ms, QT ~400 ms at 60 /min; R 1.0 mV.
pub const WAVES: [Wave; 5] = [
    Wave {
        offset_ms: -170.0,
        width_ms: 25.0,
        mv: 0.15,
        with_qt: false,
    },
    Wave {
        offset_ms: -28.0,
        width_ms: 9.0,
        mv: -0.12,
        with_qt: false,
    },
    Wave {
        offset_ms: 0.0,
        width_ms: 10.0,
        mv: 1.0,
        with_qt: false,
    },
    Wave {
        offset_ms: 28.0,
        width_ms: 10.0,
        mv: -0.25,
        with_qt: false,
    },
    Wave {
        offset_ms: 280.0,
        width_ms: 55.0,
        mv: 0.3,
        with_qt: true,
    },
];

/// `n` samples at `hz` of the ECG (mV) from `beats` (in time order, ms from the first
/// sample); `p_waves`: sinus (with P waves) or not. Each sample sums the beats within reach
/// (400 ms before their R to 800 ms after), found with a sliding index.
pub fn render(beats: &[Beat], n: usize, hz: f64, p_waves: bool) -> Vec<f64> {
    let mut first = 0;
    (0..n)
        .map(|i| {
            let t = i as f64 * 1000.0 / hz;
            while first < beats.len() && beats[first].r_ms < t - 800.0 {
                first += 1;
            }
            at(t, &beats[first..], p_waves)
        })
        .collect()
}

/// A premature ventricular beat: no P, a wide tall QRS (~140 ms), a deep S, a discordant T.
pub const VENTRICULAR: [Wave; 3] = [
    Wave {
        offset_ms: 0.0,
        width_ms: 40.0,
        mv: 1.4,
        with_qt: false,
    },
    Wave {
        offset_ms: 70.0,
        width_ms: 30.0,
        mv: -0.6,
        with_qt: false,
    },
    Wave {
        offset_ms: 320.0,
        width_ms: 60.0,
        mv: -0.4,
        with_qt: true,
    },
];

/// The ECG (mV) at `t` (ms) from `beats` (from the first that can reach `t`).
fn at(t: f64, beats: &[Beat], p_waves: bool) -> f64 {
    let mut v = 0.0;
    for (k, b) in beats.iter().enumerate() {
        let dt = t - b.r_ms;
        if dt < -400.0 {
            break;
        }
        if dt > 800.0 {
            continue;
        }
        // The RR interval this beat ends (for QT): to the next beat.
        let rr = beats
            .get(k + 1)
            .map_or(1000.0, |n| n.r_ms - b.r_ms)
            .clamp(250.0, 2500.0);
        let qt = (rr / 1000.0).sqrt();
        let waves: &[Wave] = match b.kind {
            super::BeatKind::Ventricular => &VENTRICULAR,
            _ => &WAVES,
        };
        for (i, w) in waves.iter().enumerate() {
            let normal_shape = b.kind != super::BeatKind::Ventricular;
            if normal_shape && i == 0 && !p_waves {
                continue;
            }
            // A premature atrial beat's P comes early, closer to its QRS.
            let w = if normal_shape && i == 0 && b.kind == super::BeatKind::Atrial {
                &Wave {
                    offset_ms: -120.0,
                    mv: 0.1,
                    ..*w
                }
            } else {
                w
            };
            let (mu, sd) = if w.with_qt {
                (w.offset_ms * qt, w.width_ms * qt)
            } else {
                (w.offset_ms, w.width_ms)
            };
            let x = (dt - mu) / sd;
            v += w.mv * (-0.5 * x * x).exp();
        }
    }
    v
}

/// Fibrillatory waves of atrial fibrillation (mV) at `t` (ms).
pub fn fibrillation(t: f64, phase: f64) -> f64 {
    let s = t / 1000.0;
    0.05 * (std::f64::consts::TAU * 6.0 * s + phase + 0.8 * (std::f64::consts::TAU * 0.7 * s).sin())
        .sin()
}
