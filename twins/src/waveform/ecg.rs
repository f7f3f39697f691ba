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
    render_from(beats, 0.0, n, hz, p_waves, false)
}

/// [`render`] with the first sample at `t0` ms; `dropped_p`: a 2:1 block, whose P waves come
/// twice per QRS (the one halfway between two QRS complexes is not conducted).
pub fn render_from(
    beats: &[Beat],
    t0: f64,
    n: usize,
    hz: f64,
    p_waves: bool,
    dropped_p: bool,
) -> Vec<f64> {
    let mut first = 0;
    (0..n)
        .map(|i| {
            let t = t0 + i as f64 * 1000.0 / hz;
            while first < beats.len() && beats[first].r_ms < t - 800.0 {
                first += 1;
            }
            let mut v = at(t, &beats[first..], p_waves);
            if dropped_p {
                v += blocked_p(t, &beats[first.saturating_sub(1)..]);
            }
            v
        })
        .collect()
}

/// The non-conducted P waves of a 2:1 block at `t`: one halfway between each pair of beats.
fn blocked_p(t: f64, beats: &[Beat]) -> f64 {
    let p = &WAVES[0];
    beats
        .windows(2)
        .map(|w| {
            let centre = w[1].r_ms + p.offset_ms - (w[1].r_ms - w[0].r_ms) / 2.0;
            let x = (t - centre) / p.width_ms;
            p.mv * (-0.5 * x * x).exp()
        })
        .sum()
}

/// Ventricular fibrillation (mV) at `t` (ms): coarse, chaotic undulations of 4–6 Hz and
/// ~0.5 mV peak to peak, with no QRS (three incommensurate waves, their sum's amplitude
/// waxing and waning).
pub fn ventricular_fibrillation(t: f64, phase: f64) -> f64 {
    use std::f64::consts::TAU;
    let s = t / 1000.0;
    let envelope = 0.75 + 0.25 * (TAU * 0.23 * s + phase).sin();
    envelope
        * (0.22 * (TAU * 4.3 * s + phase).sin()
            + 0.14 * (TAU * 5.4 * s + 2.1 * phase + 0.6 * (TAU * 0.4 * s).sin()).sin()
            + 0.09 * (TAU * 6.6 * s + 3.3 * phase).sin())
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
            // Beyond 7 SD a wave is under 1e-10 of its height: not worth an exp.
            if x.abs() < 7.0 {
                v += w.mv * (-0.5 * x * x).exp();
            }
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
