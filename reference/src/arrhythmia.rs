//! The reference stack's arrhythmia detector: a simple, honest one on the ECG waveform frames
//! (wire v1 `waveform`, signal `ecg_ii`), the kind a central station runs, with the kind of
//! mistakes they make.
//!
//! - **QRS detection** after Pan & Tompkins (IEEE TBME 1985, 32:230): a 5–15 Hz band-pass (a
//!   difference of moving averages), derivative, squaring, a 150 ms moving-window integral, and
//!   an adaptive threshold between running signal and noise peaks, with a 250 ms refractory
//!   period. Each beat's QRS width is measured on the raw signal (time beyond half its height).
//! - **Rules**, evaluated every frame:
//!   - *asystole*: no QRS for 4 s (a lead off's flat line looks just like it);
//!   - *ventricular flutter/fibrillation*: 4 s in which the signal is busy (more than 40 % of
//!     samples beyond a fifth of the window's largest excursion: the threshold-crossing count of
//!     Arafat et al. 2009) with no narrow QRS, and over 0.2 mV (motion noise can do this);
//!   - *ventricular tachycardia*: 5 wide (over 60 ms at half height) beats in a row at over 100 /min;
//!   - *extreme tachycardia*: 17 narrow beats averaging over 140 /min;
//!   - *extreme bradycardia*: 5 beats averaging under 40 /min;
//!   - *atrial fibrillation*: over the last 60 narrow beats, RR intervals irregular (a
//!     coefficient of variation over 0.12 and successive differences over 10 % of the mean:
//!     the irregularly irregular rhythm; a wide beat and the intervals beside it are left out).
//! - An alarm is raised once when its rule starts holding and may be raised again after the
//!   rule has not held for 30 s.

use std::collections::VecDeque;

use wardtwin_scoring::model::Priority;
use wardtwin_sim::time::SimMillis;

use crate::policy::AlertOut;

const HZ: f64 = 250.0;
const MS_PER_SAMPLE: f64 = 1000.0 / HZ;
/// Samples kept for the rules (8 s).
const KEEP: usize = 8 * 250;
/// A QRS wider than this at half its height is ventricular (a normal one is ~25 ms there).
const WIDE_MS: f64 = 60.0;
/// Samples after an R in which no other can be (250 ms: up to 240 /min).
const REFRACTORY: u64 = 62;
/// Re-arm an alarm after its rule has not held for this long.
const REARM_MS: i64 = 30_000;

/// Which alarms, in the order they are checked.
const CLASSES: [(&str, Priority); 6] = [
    ("asystole", Priority::High),
    ("ventricular_flutter_fib", Priority::High),
    ("ventricular_tachycardia", Priority::High),
    ("extreme_tachycardia", Priority::High),
    ("extreme_bradycardia", Priority::High),
    ("atrial_fibrillation", Priority::Medium),
];

/// One detected beat: its R sample and QRS width (ms).
#[derive(Debug, Clone, Copy)]
struct Qrs {
    sample: u64,
    width_ms: f64,
}

/// One ECG stream's detector (a device's `ecg_ii` frames).
#[derive(Debug)]
pub struct Detector {
    device: String,
    subject: String,
    /// The epoch of sample 0 (from the first frame's time and index).
    epoch_ms: SimMillis,
    /// The next sample expected; a gap resets the detector.
    next: Option<u64>,
    last_seq: Option<u64>,
    /// Raw samples (mV) and the integrated signal, newest last, with the index of the first.
    raw: VecDeque<f64>,
    integ: VecDeque<f64>,
    base: u64,
    /// Filter state: running sums for the moving averages, the last band-passed value.
    hist: VecDeque<f64>,
    last_band: f64,
    sq: VecDeque<f64>,
    sq_sum: f64,
    /// Pan-Tompkins running peaks.
    spk: f64,
    npk: f64,
    /// The integral's current peak candidate (sample, value) and when the last QRS was.
    cand: Option<(u64, f64)>,
    last_qrs: Option<u64>,
    beats: VecDeque<Qrs>,
    /// Per class: since when its rule holds, whether it has alarmed, when it last held.
    state: [(Option<u64>, bool, Option<u64>); 6],
    started: Option<u64>,
}

impl Detector {
    pub fn new(device: &str, subject: &str) -> Self {
        Self {
            device: device.to_string(),
            subject: subject.to_string(),
            epoch_ms: 0,
            next: None,
            last_seq: None,
            raw: VecDeque::new(),
            integ: VecDeque::new(),
            base: 0,
            hist: VecDeque::new(),
            last_band: 0.0,
            sq: VecDeque::new(),
            sq_sum: 0.0,
            spk: 0.0,
            npk: 0.0,
            cand: None,
            last_qrs: None,
            beats: VecDeque::new(),
            state: [(None, false, None); 6],
            started: None,
        }
    }

    fn reset(&mut self, first: u64) {
        let (device, subject, epoch) = (
            std::mem::take(&mut self.device),
            std::mem::take(&mut self.subject),
            self.epoch_ms,
        );
        *self = Self::new(&device, &subject);
        self.epoch_ms = epoch;
        self.base = first;
        self.started = Some(first);
    }

    /// Feeds one frame (`seq`, its first sample's index and time, samples in mV); pushes the
    /// alarms it raises. Old or repeated frames are ignored; a gap starts the detector again.
    pub fn frame(
        &mut self,
        seq: u64,
        first: u64,
        ts_ms: SimMillis,
        data: &[f64],
        out: &mut Vec<AlertOut>,
    ) {
        if self.last_seq.is_some_and(|s| seq <= s) {
            return;
        }
        self.last_seq = Some(seq);
        self.epoch_ms = ts_ms - (first as f64 * MS_PER_SAMPLE).round() as i64;
        if self.next != Some(first) {
            self.reset(first);
        }
        self.next = Some(first + data.len() as u64);
        for &x in data {
            self.sample(x);
        }
        while self.raw.len() > KEEP {
            self.raw.pop_front();
            self.integ.pop_front();
            self.base += 1;
        }
        while self.beats.len() > 80 {
            self.beats.pop_front();
        }
        self.rules(out);
    }

    /// One sample through the Pan-Tompkins chain.
    fn sample(&mut self, x: f64) {
        let n = self.base + self.raw.len() as u64;
        self.raw.push_back(x);
        // Band-pass: a 5-sample (20 ms) mean minus a 25-sample (100 ms) mean, centred.
        self.hist.push_back(x);
        if self.hist.len() > 25 {
            self.hist.pop_front();
        }
        let long = self.hist.iter().sum::<f64>() / self.hist.len() as f64;
        let short =
            self.hist.iter().rev().take(5).sum::<f64>() / 5.0_f64.min(self.hist.len() as f64);
        let band = short - long;
        let d = band - self.last_band;
        self.last_band = band;
        let s = d * d;
        self.sq.push_back(s);
        self.sq_sum += s;
        // A 150 ms window.
        if self.sq.len() > 38 {
            self.sq_sum -= self.sq.pop_front().unwrap_or(0.0);
        }
        let v = self.sq_sum.max(0.0) / self.sq.len() as f64;
        self.integ.push_back(v);
        // Learning: the first 2 s set the signal peak.
        let since = n - self.started.unwrap_or(0);
        if since < 500 {
            self.spk = self.spk.max(v);
            self.npk = 0.1 * self.spk;
            return;
        }
        let threshold = self.npk + 0.25 * (self.spk - self.npk);
        let refractory = self.last_qrs.is_some_and(|q| n < q + REFRACTORY);
        match self.cand {
            Some((_, cv)) if v > cv => self.cand = Some((n, v)),
            Some((c, cv)) if n - c > 20 || v < 0.5 * cv => {
                // The integral's peak has passed: a QRS or noise.
                self.cand = None;
                // The R is the raw signal's extreme within 150 ms before the peak; within
                // 250 ms of the last R it is that beat's T or S wave (refractory).
                let r = self.r_peak(c);
                if cv > threshold && self.last_qrs.is_none_or(|q| r >= q + REFRACTORY) {
                    self.spk = 0.125 * cv + 0.875 * self.spk;
                    self.last_qrs = Some(r);
                    let width = self.width_ms(r);
                    self.beats.push_back(Qrs {
                        sample: r,
                        width_ms: width,
                    });
                } else {
                    self.npk = 0.125 * cv + 0.875 * self.npk;
                }
            }
            None if v > threshold && !refractory => self.cand = Some((n, v)),
            _ => {}
        }
    }

    fn at(&self, sample: u64) -> Option<f64> {
        let i = sample.checked_sub(self.base)? as usize;
        self.raw.get(i).copied()
    }

    /// The sample of largest absolute deflection in the 250 ms before `c` (a wide QRS's
    /// integral peaks late), after the last beat's refractory period.
    fn r_peak(&self, c: u64) -> u64 {
        let mean = self.local_mean(c);
        let from = c
            .saturating_sub(62)
            .max(self.last_qrs.map_or(0, |q| q + REFRACTORY));
        (from.min(c)..=c)
            .filter_map(|s| self.at(s).map(|v| (s, (v - mean).abs())))
            .fold((c, -1.0), |a, b| if b.1 > a.1 { b } else { a })
            .0
    }

    /// The mean of the raw signal over the 400 ms around `s` (the baseline there).
    fn local_mean(&self, s: u64) -> f64 {
        let v: Vec<f64> = (s.saturating_sub(50)..s + 50)
            .filter_map(|t| self.at(t))
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    }

    /// Time around R that the signal stays beyond half of R's deflection (ms).
    fn width_ms(&self, r: u64) -> f64 {
        let mean = self.local_mean(r);
        let Some(peak) = self.at(r).map(|v| v - mean) else {
            return 0.0;
        };
        let beyond = |s: u64| {
            self.at(s)
                .is_some_and(|v| (v - mean) * peak.signum() > 0.5 * peak.abs())
        };
        let mut lo = r;
        while lo > r.saturating_sub(50) && beyond(lo - 1) {
            lo -= 1;
        }
        let mut hi = r;
        while hi < r + 50 && beyond(hi + 1) {
            hi += 1;
        }
        (hi - lo + 1) as f64 * MS_PER_SAMPLE
    }

    /// Whether each rule holds now, and since which sample its evidence goes back.
    fn evaluate(&self) -> [Option<u64>; 6] {
        let now = self.base + self.raw.len() as u64;
        let mut held = [None; 6];
        let start = self.started.unwrap_or(0);
        if now < start + 4 * 250 {
            return held;
        }
        let last_beat = self.beats.back().map(|b| b.sample).unwrap_or(start);
        // VF: each of the last 4 seconds busy, large, with no narrow QRS in them.
        let busy = (1..=4).all(|k| {
            let from = now - k * 250;
            let w: Vec<f64> = (from..from + 250).filter_map(|s| self.at(s)).collect();
            if w.len() < 250 {
                return false;
            }
            let m = w.iter().sum::<f64>() / w.len() as f64;
            let big = w.iter().map(|v| (v - m).abs()).fold(0.0, f64::max);
            let ptp = w.iter().cloned().fold(f64::MIN, f64::max)
                - w.iter().cloned().fold(f64::MAX, f64::min);
            let crossing = w.iter().filter(|v| (*v - m).abs() > 0.2 * big).count();
            ptp > 0.2 && crossing as f64 > 0.4 * w.len() as f64
        });
        let narrow_recent = self
            .beats
            .iter()
            .any(|b| b.sample + 4 * 250 >= now && b.width_ms <= WIDE_MS);
        if busy && !narrow_recent {
            held[1] = Some(now - 4 * 250);
        }
        // Asystole: no QRS for 4 s (and not VF).
        if held[1].is_none() && now - last_beat >= 4 * 250 {
            held[0] = Some(last_beat.max(start));
        }
        let beats: Vec<&Qrs> = self.beats.iter().collect();
        let rr = |i: usize| (beats[i].sample - beats[i - 1].sample) as f64 * MS_PER_SAMPLE;
        // Runs over the most recent beats (the newest must be within 2 s).
        let fresh = beats.last().is_some_and(|b| b.sample + 500 >= now);
        // VT: the last 5 beats wide and over 100 /min.
        if fresh && beats.len() > 5 {
            let from = beats.len() - 5;
            held[2] = (from..beats.len())
                .all(|i| beats[i].width_ms > WIDE_MS && rr(i) < 600.0)
                .then(|| beats[from - 1].sample);
        }
        // The rate alarms average the intervals (as a monitor's heart rate does), so an
        // irregular AF at 150 /min is extreme tachycardia even when some intervals are long.
        let mean_rr = |n: usize| -> Option<(f64, u64)> {
            if !fresh || beats.len() <= n {
                return None;
            }
            let from = beats.len() - n;
            let m = (from..beats.len()).map(rr).sum::<f64>() / n as f64;
            Some((m, beats[from - 1].sample))
        };
        if held[2].is_none() {
            let narrow =
                (beats.len().saturating_sub(17)..beats.len()).all(|i| beats[i].width_ms <= WIDE_MS);
            held[3] = mean_rr(17)
                .filter(|(m, _)| narrow && *m < 60_000.0 / 140.0)
                .map(|(_, from)| from);
        }
        held[4] = mean_rr(5)
            .filter(|(m, _)| *m > 1500.0)
            .map(|(_, from)| from);
        // AF: the last 60 intervals between narrow beats, none beside a wide one.
        if fresh && beats.len() > 61 && held[1].is_none() && held[2].is_none() {
            let from = beats.len() - 61;
            let rrs: Vec<f64> = (from + 1..beats.len())
                .filter(|&i| {
                    beats[i].width_ms <= WIDE_MS
                        && beats[i - 1].width_ms <= WIDE_MS
                        && beats.get(i + 1).is_none_or(|b| b.width_ms <= WIDE_MS)
                })
                .map(rr)
                .collect();
            if rrs.len() >= 40 {
                let m = rrs.iter().sum::<f64>() / rrs.len() as f64;
                let sd =
                    (rrs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / rrs.len() as f64).sqrt();
                let succ = rrs.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>()
                    / (rrs.len() - 1) as f64;
                if sd / m > 0.12 && succ / m > 0.1 {
                    held[5] = Some(beats[from].sample);
                }
            }
        }
        held
    }

    fn rules(&mut self, out: &mut Vec<AlertOut>) {
        let now = self.base + self.raw.len() as u64;
        let held = self.evaluate();
        for (k, (class, priority)) in CLASSES.iter().enumerate() {
            let (since, alarmed, last) = &mut self.state[k];
            match held[k] {
                Some(from) => {
                    since.get_or_insert(from);
                    *last = Some(now);
                    if !*alarmed {
                        *alarmed = true;
                        let began = since.unwrap_or(from);
                        out.push(AlertOut {
                            subject: self.device.clone(),
                            class,
                            priority: *priority,
                            began_ms: self.epoch_ms + (began as f64 * MS_PER_SAMPLE).round() as i64,
                            device: Some(self.device.clone()),
                            text: format!("{class} on {} (ECG)", self.subject),
                        });
                    }
                }
                None => {
                    *since = None;
                    if last.is_some_and(|l| (now - l) as f64 * MS_PER_SAMPLE >= REARM_MS as f64) {
                        *alarmed = false;
                        *last = None;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardtwin_sim::records::{ArtifactKind, Rhythm};
    use wardtwin_sim::rng::stream;
    use wardtwin_twins::waveform::{BeatClock, Hrv, State, synthesize};

    /// Runs `segments` of (rhythm, rate, artifact, seconds) through the synthesiser and the
    /// detector, one-second frames; returns (class, began seconds, raised seconds).
    fn detect(
        segments: &[(Rhythm, f64, Option<ArtifactKind>, u32)],
    ) -> Vec<(&'static str, f64, f64)> {
        let mut clock = BeatClock::new(stream(3, "P-T", "waveform"), Hrv::default());
        let mut d = Detector::new("ecg-t", "P-T");
        let mut out = Vec::new();
        let mut got = Vec::new();
        let mut seq = 0;
        for &(rhythm, hr, artifact, secs) in segments {
            let st = State {
                rhythm,
                ecg_artifact: artifact,
                ..State::sinus(hr, 15.0)
            };
            for _ in 0..secs {
                let s = synthesize(&mut clock, &st, 1.0);
                let data: Vec<f64> = s.ecg.iter().map(|v| f64::from(*v)).collect();
                let ts = (s.first[0] as f64 * 4.0) as i64;
                d.frame(seq, s.first[0], ts, &data, &mut out);
                for a in out.drain(..) {
                    got.push((a.class, a.began_ms as f64 / 1000.0, seq as f64 + 1.0));
                }
                seq += 1;
            }
        }
        got
    }

    #[test]
    fn sinus_raises_nothing() {
        let got = detect(&[(Rhythm::Sinus, 75.0, None, 300)]);
        assert!(got.is_empty(), "{got:?}");
        let got = detect(&[(Rhythm::Sinus, 110.0, None, 300)]);
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn each_arrhythmia_is_caught_soon_after_its_onset() {
        let cases = [
            (Rhythm::Asystole, 0.0, "asystole"),
            (
                Rhythm::VentricularFibrillation,
                0.0,
                "ventricular_flutter_fib",
            ),
            (
                Rhythm::VentricularTachycardia,
                180.0,
                "ventricular_tachycardia",
            ),
            (Rhythm::Sinus, 155.0, "extreme_tachycardia"),
            (Rhythm::SecondDegreeBlock, 34.0, "extreme_bradycardia"),
            (Rhythm::AtrialFibrillation, 110.0, "atrial_fibrillation"),
        ];
        for (rhythm, hr, class) in cases {
            let got = detect(&[(Rhythm::Sinus, 75.0, None, 60), (rhythm, hr, None, 120)]);
            let hit = got.iter().find(|g| g.0 == class);
            let Some(hit) = hit else {
                panic!("{class}: {got:?}");
            };
            let limit = if class == "atrial_fibrillation" {
                90.0
            } else {
                15.0
            };
            assert!(
                hit.2 >= 60.0 && hit.2 <= 60.0 + limit,
                "{class} raised at {}: {got:?}",
                hit.2
            );
            assert!(
                got.iter().all(|g| g.0 == class || g.2 > 60.0),
                "{class}: nothing before the onset: {got:?}"
            );
        }
    }

    /// The artifacts fool it, as they fool central stations: a lead off is asystole, motion
    /// on the electrodes makes beats of noise (CinC 2015's false alarms).
    #[test]
    fn a_lead_off_and_motion_raise_false_alarms() {
        let got = detect(&[
            (Rhythm::Sinus, 75.0, None, 60),
            (Rhythm::Sinus, 75.0, Some(ArtifactKind::ProbeOff), 30),
        ]);
        assert!(got.iter().any(|g| g.0 == "asystole"), "{got:?}");
        let got = detect(&[
            (Rhythm::Sinus, 75.0, None, 60),
            (Rhythm::Sinus, 75.0, Some(ArtifactKind::Motion), 120),
        ]);
        assert!(
            got.iter().any(|g| g.2 > 60.0),
            "motion fooled nothing: {got:?}"
        );
    }

    /// A gap in the frames starts it again; a repeated frame is ignored.
    #[test]
    fn gaps_and_repeats_do_not_confuse_it() {
        let mut clock = BeatClock::new(stream(4, "P-G", "waveform"), Hrv::default());
        let mut d = Detector::new("ecg-g", "P-G");
        let mut out = Vec::new();
        let st = State::sinus(75.0, 15.0);
        for seq in 0..120u64 {
            let s = synthesize(&mut clock, &st, 1.0);
            let data: Vec<f64> = s.ecg.iter().map(|v| f64::from(*v)).collect();
            let ts = (s.first[0] as f64 * 4.0) as i64;
            if seq % 17 == 5 {
                continue; // lost
            }
            d.frame(seq, s.first[0], ts, &data, &mut out);
            d.frame(seq, s.first[0], ts, &data, &mut out);
        }
        assert!(
            out.is_empty(),
            "{:?}",
            out.iter().map(|a| a.class).collect::<Vec<_>>()
        );
    }
}
