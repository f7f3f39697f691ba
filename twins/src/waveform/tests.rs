//! Waveform synthesis against the properties the heart-rhythms issue asks of it.

use wardtwin_sim::rng::stream;

use super::*;

fn state(hr: f64, rhythm: Rhythm) -> State {
    State {
        heart_rate: hr,
        resp_rate: 15.0,
        rhythm,
        perfusion: 1.0,
        systolic: 120.0,
        pvc_per_min: 0.0,
        pac_per_min: 0.0,
    }
}

/// `minutes` of beats in one-minute windows; their RR intervals (ms).
fn rr_series(hr: f64, rhythm: Rhythm, minutes: usize) -> Vec<f64> {
    let mut clock = BeatClock::new(stream(1, "P-1", "beats"), Hrv::default());
    let mut r = Vec::new();
    for m in 0..minutes {
        let s = synthesize(&mut clock, &state(hr, rhythm), 60.0);
        r.extend(s.beats.iter().map(|b| b.r_ms + 60_000.0 * m as f64));
    }
    r.windows(2).map(|w| w[1] - w[0]).collect()
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let v = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64;
    (m, v.sqrt())
}

/// Sinus rhythm: the mean rate is the state's within 1 /min and SDNN the configured one within
/// 10 %, at a slow, a normal and a fast rate.
#[test]
fn sinus_rr_has_the_rate_and_variability_the_state_says() {
    for hr in [55.0, 75.0, 120.0] {
        let rr = rr_series(hr, Rhythm::Sinus, 60);
        let (m, sd) = mean_sd(&rr);
        let rate = 60_000.0 / m;
        assert!((rate - hr).abs() < 1.0, "{hr}: mean rate {rate:.2}");
        let want = Hrv::default().sdnn_share * m;
        assert!(
            (sd - want).abs() < 0.1 * want,
            "{hr}: SDNN {sd:.1} ms, want {want:.1}"
        );
    }
}

/// Atrial fibrillation is irregularly irregular: the RR coefficient of variation is in the
/// published AF range (0.15–0.3) and sinus's is far below it; successive AF intervals do not
/// predict each other.
#[test]
fn af_is_irregularly_irregular_and_sinus_is_not() {
    let af = rr_series(100.0, Rhythm::AtrialFibrillation, 30);
    let sinus = rr_series(100.0, Rhythm::Sinus, 30);
    let cv = |x: &[f64]| {
        let (m, sd) = mean_sd(x);
        sd / m
    };
    assert!((0.15..0.3).contains(&cv(&af)), "AF CV {:.3}", cv(&af));
    assert!(cv(&sinus) < 0.08, "sinus CV {:.3}", cv(&sinus));
    let lag1 = |x: &[f64]| {
        let (m, _) = mean_sd(x);
        let num: f64 = x.windows(2).map(|w| (w[0] - m) * (w[1] - m)).sum();
        let den: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
        num / den
    };
    assert!(lag1(&af).abs() < 0.1, "AF lag-1 {:.2}", lag1(&af));
    assert!(lag1(&sinus) > 0.5, "sinus lag-1 {:.2}", lag1(&sinus));
}

/// The pleth has one pulse per perfusing beat, its peak the transit time plus the upstroke
/// after the R peak; no perfusion, no pulse. The ECG's R peaks stand at the beats, at 1 mV.
#[test]
fn one_pulse_per_perfusing_beat_after_its_transit_time() {
    let mut clock = BeatClock::new(stream(2, "P-2", "beats"), Hrv::default());
    let st = state(80.0, Rhythm::Sinus);
    let s = synthesize(&mut clock, &st, 30.0);
    assert_eq!(s.ecg.len(), 7500);
    assert_eq!(s.pleth.len(), 3750);
    assert_eq!(s.resp.len(), 1875);
    let ptt = pleth::transit_ms(st.systolic);
    // Local maxima of the pleth above half its height.
    let peaks: Vec<f64> = (1..s.pleth.len() - 1)
        .filter(|&i| {
            s.pleth[i] > 0.5 && s.pleth[i] >= s.pleth[i - 1] && s.pleth[i] > s.pleth[i + 1]
        })
        .map(|i| i as f64 * 1000.0 / PLETH_HZ)
        .collect();
    let expected: Vec<f64> = s
        .beats
        .iter()
        .map(|b| b.r_ms + ptt + 130.0)
        .filter(|t| *t < 30_000.0 - 10.0)
        .collect();
    assert_eq!(peaks.len(), expected.len(), "{peaks:?}\n{expected:?}");
    for (p, e) in peaks.iter().zip(&expected) {
        assert!(
            (p - e).abs() <= 2.0 * 1000.0 / PLETH_HZ,
            "pulse at {p}, expected {e}"
        );
    }
    for b in &s.beats {
        let i = (b.r_ms * ECG_HZ / 1000.0).round() as usize;
        if i < s.ecg.len() {
            let v = f64::from(s.ecg[i]);
            assert!((0.9..1.15).contains(&v), "R at {} ms: {v} mV", b.r_ms);
        }
    }
    let flat = synthesize(
        &mut clock,
        &State {
            perfusion: 0.0,
            ..st
        },
        10.0,
    );
    assert!(flat.pleth.iter().all(|v| *v == 0.0));
}

/// Windows join up: two 30-s windows give the beats one 60-s window gives, and the same seed
/// gives the same samples.
#[test]
fn windows_join_and_the_same_seed_gives_the_same_samples() {
    let st = state(70.0, Rhythm::Sinus);
    let run = |windows: &[f64]| {
        let mut clock = BeatClock::new(stream(3, "P-3", "beats"), Hrv::default());
        let mut beats = Vec::new();
        let mut ecg = Vec::new();
        let mut at = 0.0;
        for w in windows {
            let s = synthesize(&mut clock, &st, *w);
            beats.extend(s.beats.iter().map(|b| b.r_ms + at));
            ecg.extend(s.ecg);
            at += w * 1000.0;
        }
        (beats, ecg)
    };
    let (one, ecg_one) = run(&[60.0]);
    let (two, ecg_two) = run(&[30.0, 30.0]);
    assert_eq!(one.len(), two.len());
    for (a, b) in one.iter().zip(&two) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    // The seam: samples agree on both sides of it.
    for i in (7490..7510).filter(|i| *i < ecg_one.len()) {
        assert!((ecg_one[i] - ecg_two[i]).abs() < 1e-4, "sample {i}");
    }
    assert_eq!(run(&[60.0]).1, ecg_one);
}

/// Atrial fibrillation has no P waves: 170 ms before each R the sinus ECG stands at the P
/// wave's height, the AF one only at the fibrillatory waves' (around 0); and its fibrillatory
/// baseline joins up across windows.
#[test]
fn af_has_no_p_waves() {
    let p_height = |rhythm: Rhythm| {
        let mut clock = BeatClock::new(stream(4, "P-4", "beats"), Hrv::default());
        let s = synthesize(&mut clock, &state(70.0, rhythm), 60.0);
        let at: Vec<f64> = s
            .beats
            .iter()
            .filter_map(|b| {
                let i = ((b.r_ms - 170.0) * ECG_HZ / 1000.0).round();
                (i >= 0.0).then(|| s.ecg.get(i as usize).map(|v| f64::from(*v)))?
            })
            .collect();
        at.iter().sum::<f64>() / at.len() as f64
    };
    let sinus = p_height(Rhythm::Sinus);
    let af = p_height(Rhythm::AtrialFibrillation);
    assert!((0.12..0.2).contains(&sinus), "sinus P {sinus:.3} mV");
    assert!(af.abs() < 0.04, "AF at the P wave's place {af:.3} mV");
    let mut one = BeatClock::new(stream(5, "P-5", "beats"), Hrv::default());
    let mut two = one.clone();
    let st = state(90.0, Rhythm::AtrialFibrillation);
    let whole = synthesize(&mut one, &st, 20.0).ecg;
    let mut halves = synthesize(&mut two, &st, 10.0).ecg;
    halves.extend(synthesize(&mut two, &st, 10.0).ecg);
    for (i, (a, b)) in whole.iter().zip(&halves).enumerate() {
        assert!((a - b).abs() < 1e-4, "sample {i}: {a} vs {b}");
    }
}

/// Premature beats: at the rates asked, a ventricular one early with a full compensatory pause
/// and a wide QRS, an atrial one early with no pause.
#[test]
fn premature_beats_come_early_and_ventricular_ones_pause_and_are_wide() {
    let mut clock = BeatClock::new(stream(6, "P-6", "beats"), Hrv::default());
    let st = State {
        pvc_per_min: 6.0,
        pac_per_min: 3.0,
        ..state(75.0, Rhythm::Sinus)
    };
    let mut beats = Vec::new();
    let mut ecg = Vec::new();
    for m in 0..10 {
        let s = synthesize(&mut clock, &st, 60.0);
        beats.extend(
            s.beats
                .iter()
                .map(|b| (b.r_ms + 60_000.0 * f64::from(m), b.kind)),
        );
        ecg.extend(s.ecg);
    }
    let count = |k: BeatKind| beats.iter().filter(|b| b.1 == k).count();
    assert!(
        (35..=90).contains(&count(BeatKind::Ventricular)),
        "{} PVCs in 10 min",
        count(BeatKind::Ventricular)
    );
    assert!(
        (12..=50).contains(&count(BeatKind::Atrial)),
        "{} PACs in 10 min",
        count(BeatKind::Atrial)
    );
    let normal_rr = 800.0;
    let mut pac_pairs = Vec::new();
    for w in beats.windows(3) {
        let (pre, post) = (w[1].0 - w[0].0, w[2].0 - w[1].0);
        if w[0].1 != BeatKind::Normal || w[2].1 != BeatKind::Normal {
            continue;
        }
        match w[1].1 {
            BeatKind::Ventricular => {
                assert!(pre < 0.75 * normal_rr, "PVC coupling {pre:.0} ms");
                assert!(
                    ((pre + post) / (2.0 * normal_rr) - 1.0).abs() < 0.12,
                    "pause {pre:.0}+{post:.0}"
                );
            }
            BeatKind::Atrial => {
                assert!(pre < 0.85 * normal_rr, "PAC coupling {pre:.0} ms");
                pac_pairs.push(pre + post);
            }
            BeatKind::Normal => {}
        }
    }
    // No compensatory pause after a PAC: on average 1.75 normal intervals, not 2.
    let pac = pac_pairs.iter().sum::<f64>() / pac_pairs.len() as f64;
    assert!(
        pac < 1.85 * normal_rr,
        "PAC with its next interval {pac:.0} ms"
    );
    // QRS width at half its height: ~24 ms for a normal beat, ~90 ms for a PVC.
    let half_width = |r_ms: f64| {
        let i0 = (r_ms * ECG_HZ / 1000.0).round() as i64;
        let peak = f64::from(ecg[i0 as usize]);
        (i0 - 40..=i0 + 40)
            .filter(|i| {
                *i >= 0 && (*i as usize) < ecg.len() && f64::from(ecg[*i as usize]) > peak / 2.0
            })
            .count() as f64
            * 1000.0
            / ECG_HZ
    };
    let inner = |k: BeatKind| {
        beats
            .iter()
            .filter(|b| b.1 == k && b.0 > 500.0 && b.0 < 599_000.0)
            .map(|b| half_width(b.0))
            .collect::<Vec<_>>()
    };
    assert!(inner(BeatKind::Normal).iter().all(|w| *w < 40.0));
    assert!(
        inner(BeatKind::Ventricular).iter().all(|w| *w > 70.0),
        "{:?}",
        inner(BeatKind::Ventricular)
    );
}
