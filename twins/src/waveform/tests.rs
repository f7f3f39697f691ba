//! Waveform synthesis against the properties the heart-rhythms issue asks of it.

use wardtwin_sim::rng::stream;

use super::*;
use wardtwin_sim::records::ArtifactKind;

fn state(hr: f64, rhythm: Rhythm) -> State {
    State {
        rhythm,
        ..State::sinus(hr, 15.0)
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

/// Ventricular tachycardia: every beat ventricular, regular, at the state's rate.
#[test]
fn vt_is_a_regular_run_of_ventricular_beats_at_its_rate() {
    let mut clock = BeatClock::new(stream(7, "P-7", "beats"), Hrv::default());
    let s = synthesize(
        &mut clock,
        &state(180.0, Rhythm::VentricularTachycardia),
        60.0,
    );
    // The first beat was decided before (the clock draws one beat ahead).
    assert!(s.beats[1..].iter().all(|b| b.kind == BeatKind::Ventricular));
    let rr: Vec<f64> = s.beats.windows(2).map(|w| w[1].r_ms - w[0].r_ms).collect();
    let (m, sd) = mean_sd(&rr);
    assert!(
        (60_000.0 / m - 180.0).abs() < 3.0,
        "rate {:.1}",
        60_000.0 / m
    );
    assert!(sd / m < 0.05, "VT CV {:.3}", sd / m);
}

/// VF and asystole: no beats, and a flat pleth (no pulse); VF's ECG undulates at 4-7 Hz with
/// no QRS, asystole's stays within the noise.
#[test]
fn vf_and_asystole_have_no_beats_and_no_pulse() {
    let mut clock = BeatClock::new(stream(8, "P-8", "beats"), Hrv::default());
    let _ = synthesize(&mut clock, &state(80.0, Rhythm::Sinus), 5.0);
    let vf = synthesize(
        &mut clock,
        &state(0.0, Rhythm::VentricularFibrillation),
        20.0,
    );
    assert!(vf.beats.is_empty());
    assert!(vf.pleth.iter().all(|v| *v == 0.0), "VF has no pulse");
    let (lo, hi) = vf
        .ecg
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    assert!(hi - lo > 0.4 && hi < 0.7, "VF amplitude {lo}..{hi} mV");
    // Zero crossings of the mean-removed signal: 4-7 Hz is 8-14 a second.
    let m = vf.ecg.iter().sum::<f32>() / vf.ecg.len() as f32;
    let crossings = vf
        .ecg
        .windows(2)
        .filter(|w| (w[0] - m).signum() != (w[1] - m).signum())
        .count() as f64
        / 20.0;
    assert!((7.0..16.0).contains(&crossings), "{crossings} crossings/s");
    let asys = synthesize(&mut clock, &state(0.0, Rhythm::Asystole), 10.0);
    assert!(asys.beats.is_empty());
    assert!(asys.pleth.iter().all(|v| *v == 0.0));
    assert!(asys.ecg.iter().all(|v| v.abs() < 0.12), "asystole is flat");
    // The heart starts again within a second.
    let back = synthesize(&mut clock, &state(80.0, Rhythm::Sinus), 2.0);
    assert!(back.beats.first().is_some_and(|b| b.r_ms < 1000.0));
}

/// A 2:1 block: two P waves per QRS, the blocked one halfway between.
#[test]
fn second_degree_block_has_two_p_waves_per_qrs() {
    let mut clock = BeatClock::new(stream(9, "P-9", "beats"), Hrv::default());
    let s = synthesize(&mut clock, &state(36.0, Rhythm::SecondDegreeBlock), 30.0);
    let mut blocked = Vec::new();
    for w in s.beats.windows(2) {
        let t = w[1].r_ms - 170.0 - (w[1].r_ms - w[0].r_ms) / 2.0;
        let i = (t * ECG_HZ / 1000.0).round() as usize;
        blocked.push(f64::from(s.ecg[i]));
    }
    let mean = blocked.iter().sum::<f64>() / blocked.len() as f64;
    assert!((0.1..0.22).contains(&mean), "blocked P {mean:.3} mV");
}

/// Artifacts act on the waveforms: a lead off flattens the ECG, motion on the electrodes
/// makes large noise in VF's band, motion on the probe corrupts the pleth, a probe off
/// flattens it.
#[test]
fn artifacts_corrupt_the_waveforms() {
    let mut clock = BeatClock::new(stream(10, "P-10", "beats"), Hrv::default());
    let st = state(75.0, Rhythm::Sinus);
    let off = synthesize(
        &mut clock,
        &State {
            ecg_artifact: Some(ArtifactKind::ProbeOff),
            pleth_artifact: Some(ArtifactKind::ProbeOff),
            ..st
        },
        5.0,
    );
    assert!(off.ecg.iter().all(|v| *v == 0.0));
    assert!(off.pleth.iter().all(|v| *v == 0.0));
    assert!(!off.beats.is_empty(), "the heart beats on under a lead off");
    let clean = synthesize(&mut clock, &st, 20.0);
    let moving = synthesize(
        &mut clock,
        &State {
            ecg_artifact: Some(ArtifactKind::Motion),
            pleth_artifact: Some(ArtifactKind::Motion),
            ..st
        },
        20.0,
    );
    let sd = |x: &[f32]| {
        let v: Vec<f64> = x.iter().map(|v| f64::from(*v)).collect();
        mean_sd(&v).1
    };
    assert!(sd(&moving.ecg) > 1.5 * sd(&clean.ecg), "ECG motion");
    assert!(sd(&moving.pleth) > 1.5 * sd(&clean.pleth), "pleth motion");
}

/// Windows of any length hold the samples whose time falls inside them: 62.5 Hz in 1-s
/// windows alternates 63 and 62 samples and adds up.
#[test]
fn sample_ranges_join_at_any_rate() {
    let mut clock = BeatClock::new(stream(11, "P-11", "beats"), Hrv::default());
    let st = state(75.0, Rhythm::Sinus);
    let mut n = [0u64; 3];
    for k in 0..10 {
        let s = synthesize(&mut clock, &st, 1.0);
        assert_eq!(s.first, n, "window {k}");
        n[0] += s.ecg.len() as u64;
        n[1] += s.pleth.len() as u64;
        n[2] += s.resp.len() as u64;
    }
    assert_eq!(n, [2500, 1250, 625]);
}
