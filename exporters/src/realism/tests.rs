//! The report's statistics on inputs whose answers are known.

use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

use super::*;

const MIN: i64 = 60_000;

fn rng() -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(3)
}

/// `n` patients, a day each at 1-min samples; systolic mean drawn by `sbp`, AR(1) around it
/// with time constant `tau_min`.
fn ward(
    n: usize,
    tau_min: f64,
    mut sbp: impl FnMut(&mut rand_chacha::ChaCha8Rng) -> f64,
) -> Inputs {
    let mut r = rng();
    let phi = (-1.0 / tau_min).exp();
    let truth = (0..n)
        .map(|_| {
            let base = sbp(&mut r);
            let mut x = 0.0f64;
            (0..1440)
                .map(|k| {
                    let z: f64 = r.sample(StandardNormal);
                    x = x * phi + (1.0 - phi * phi).sqrt() * z;
                    TruthRow {
                        t: k * MIN,
                        v: [
                            (75.0 + 4.0 * x) as f32,
                            (16.0 + x) as f32,
                            (97.0 + 0.5 * x) as f32,
                            36.8,
                            (base + 3.0 * x) as f32,
                            75.0,
                        ],
                        news2: (k % 10) as i32,
                        single3: false,
                        glucose: Some(8.0),
                    }
                })
                .collect()
        })
        .collect();
    Inputs {
        scenario: "test".into(),
        start_ms: 0,
        end_ms: 1440 * MIN,
        truth_interval_ms: MIN,
        truth,
        ..Inputs::default()
    }
}

fn check<'a>(r: &'a Report, key: &str) -> &'a Check {
    r.checks.iter().find(|c| c.key == key).expect("check")
}

#[test]
fn a_clamped_baseline_fails_the_pileup_check_and_a_smooth_one_passes() {
    let smooth = compute(&ward(200, 15.0, |r| {
        128.0 + 14.0 * r.sample::<f64, _>(StandardNormal)
    }));
    let clamped = compute(&ward(200, 15.0, |r| {
        (128.0f64 + 14.0 * r.sample::<f64, _>(StandardNormal)).clamp(116.0, 138.0)
    }));
    let key = published::BASELINE_PILEUP.key;
    assert_eq!(
        check(&smooth, key).verdict,
        "pass",
        "{:?}",
        check(&smooth, key)
    );
    assert_eq!(
        check(&clamped, key).verdict,
        "fail",
        "{:?}",
        check(&clamped, key)
    );
    // And nobody above 140 in the clamped ward.
    assert_eq!(
        check(&clamped, published::SBP_ABOVE_140.key).value,
        Some(0.0)
    );
}

#[test]
fn the_e_folding_time_of_an_ar1_series_is_its_time_constant() {
    let r = compute(&ward(40, 20.0, |_| 125.0));
    let hr = r.vitals.iter().find(|v| v.vital == "heart_rate").unwrap();
    let fold = hr.e_folding_min.unwrap();
    assert!((14.0..=27.0).contains(&fold), "{fold}");
}

#[test]
fn news2_bands_are_shares_of_observation_sets_outside_episodes() {
    let mut inp = ward(2, 10.0, |_| 125.0);
    // Patient 1 is in an episode the whole day: its sets do not count.
    inp.episodes.push(EpisodeIn {
        patient: 1,
        kind: "sepsis".into(),
        onset: 0,
        develop_ms: 60 * MIN,
        peak_news2: 9,
        resolve: None,
        end: None,
    });
    let r = compute(&inp);
    assert_eq!(r.news2.sets, 1440);
    // news2 = k mod 10: 0 one in ten, 1–2 two, 3–4 two, 5–6 two, 7–9 three.
    assert!((r.news2.share_0 - 0.1).abs() < 1e-9);
    assert!((r.news2.share_3_4 - 0.2).abs() < 1e-9);
    assert!((r.news2.share_ge7 - 0.3).abs() < 1e-9);
    assert_eq!(r.stable_patients, 1);
}

#[test]
fn device_error_mard_and_the_correlation_of_consecutive_readings() {
    let mut inp = ward(1, 30.0, |_| 125.0);
    inp.devices.insert("cgm".into(), 1);
    inp.devices.insert("pulse_oximeter".into(), 1);
    // A CGM reading 10 % high every 5 min; two of its readings without a value.
    for k in 0..288 {
        let (value, status) = if k < 2 {
            (None, "warm_up")
        } else {
            (Some(8.8f32), "ok")
        };
        inp.add_reading(ReadingIn {
            device: "cgm-1",
            device_kind: "cgm",
            patient: Some(0),
            metric: "glucose",
            t: k * 5 * MIN,
            value,
            status,
        });
    }
    // An oximeter whose readings are the truth plus white noise: consecutive readings barely
    // correlate beyond what the truth itself does. A reading inside an artifact is not the
    // device's error.
    inp.artifact_windows
        .insert("spo2-1".into(), vec![(100 * MIN, 110 * MIN)]);
    let mut r = rng();
    for k in 0..1440 {
        let truth = f64::from(inp.truth[0][k as usize].v[2]);
        let noise: f64 = r.sample(StandardNormal);
        let off = (100..110).contains(&k);
        inp.add_reading(ReadingIn {
            device: "spo2-1",
            device_kind: "pulse_oximeter",
            patient: Some(0),
            metric: "spo2",
            t: k * MIN,
            value: Some((truth + 3.0 * noise - if off { 40.0 } else { 0.0 }) as f32),
            status: "ok",
        });
    }
    let rep = compute(&inp);
    let mard = check(&rep, published::CGM_MARD.key).value.unwrap();
    assert!((mard - 0.1).abs() < 1e-6, "{mard}");
    let not_ok = check(&rep, published::CGM_NOT_OK.key).value.unwrap();
    assert!((not_ok - 2.0 / 288.0).abs() < 1e-9);
    let lag1 = check(&rep, published::SPO2_LAG1.key);
    assert_eq!(lag1.verdict, "fail", "{lag1:?}");
    let sd = rep
        .metrics
        .iter()
        .find(|m| m.metric == "spo2")
        .unwrap()
        .error_sd
        .unwrap();
    assert!((2.7..3.3).contains(&sd), "{sd}");
}

#[test]
fn phenotype_spread_is_measured_per_kind() {
    let mut inp = ward(6, 30.0, |_| 125.0);
    // Each patient's HR rises by 20 + 10 k from onset at 06:00 over an hour.
    for (k, rows) in inp.truth.iter_mut().enumerate() {
        for r in rows.iter_mut().filter(|r| r.t >= 360 * MIN) {
            let x = ((r.t - 360 * MIN) as f64 / (60 * MIN) as f64).min(1.0);
            r.v[0] += ((20.0 + 10.0 * k as f64) * x) as f32;
        }
        inp.episodes.push(EpisodeIn {
            patient: k,
            kind: "sepsis".into(),
            onset: 360 * MIN,
            develop_ms: 60 * MIN,
            peak_news2: 8,
            resolve: None,
            end: None,
        });
    }
    let r = compute(&inp);
    let sepsis = &r.episodes[0];
    assert_eq!(sepsis.episodes, 6);
    let hr = &sepsis.change["heart_rate"];
    // 18.7 from the design, plus the noise of each patient's own variability.
    assert!((15.0..26.0).contains(&hr.sd), "{hr:?}");
    assert!(check(&r, published::PHENOTYPE_HR_SD.key).verdict == "pass");
}
