//! Photoplethysmogram: one pulse per perfusing beat, its foot a pulse transit time after the R
//! peak (shorter at higher pressure: ~250 ms at 120 mmHg), a systolic peak and a smaller
//! dicrotic wave, amplitude 1 at full perfusion. A beat that does not perfuse makes no pulse.

use super::Beat;

/// Pulse transit time (ms) from R peak to the pulse's foot at the finger, for a systolic
/// pressure: ~250 ms at 120 mmHg, ~1.5 ms shorter per mmHg above, within 150–400 ms.
pub fn transit_ms(systolic: f64) -> f64 {
    (250.0 - 1.5 * (systolic - 120.0)).clamp(150.0, 400.0)
}

/// `n` samples at `hz` of the pulse (amplitude 1) from `beats` (in time order, ms from the
/// first sample), transit `ptt` ms; a sliding index keeps each sample to the beats in reach.
pub fn render(beats: &[Beat], n: usize, hz: f64, ptt: f64) -> Vec<f64> {
    render_from(beats, 0.0, n, hz, ptt)
}

/// [`render`] with the first sample at `t0` ms.
pub fn render_from(beats: &[Beat], t0: f64, n: usize, hz: f64, ptt: f64) -> Vec<f64> {
    let mut first = 0;
    (0..n)
        .map(|i| {
            let t = t0 + i as f64 * 1000.0 / hz;
            while first < beats.len() && beats[first].r_ms + ptt < t - 900.0 {
                first += 1;
            }
            at(t, &beats[first..], ptt)
        })
        .collect()
}

/// The pulse at `t` (ms) from `beats` (from the first that can reach `t`).
fn at(t: f64, beats: &[Beat], ptt: f64) -> f64 {
    let mut v = 0.0;
    for b in beats {
        let dt = t - b.r_ms - ptt;
        if dt < -100.0 {
            break;
        }
        if dt > 900.0 || !b.perfusing {
            continue;
        }
        let systolic = (dt - 130.0) / 70.0;
        let dicrotic = (dt - 380.0) / 90.0;
        v += b.kind.pulse()
            * ((-0.5 * systolic * systolic).exp() + 0.35 * (-0.5 * dicrotic * dicrotic).exp());
    }
    v
}
