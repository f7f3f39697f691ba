//! Patient model tests: realism against DOMAIN.md, deterioration, independence of streams.

use std::collections::BTreeMap;
use wardtwin_sim::conditions::ConditionRecord;
use wardtwin_sim::records::{EpisodeRecord, Forwarded};

use bevy_app::PluginGroup;
use wardtwin_sim::news2::Spo2Scale;
use wardtwin_sim::records::{Deterioration, PatientIx, TruthVitals};
use wardtwin_sim::{MemorySink, Sim, Sinks};

use crate::testkit::{library, run_to_memory, small};
use crate::{DevicePlugin, TwinPlugins};

fn by_patient(truth: &[TruthVitals]) -> BTreeMap<PatientIx, Vec<&TruthVitals>> {
    let mut m: BTreeMap<PatientIx, Vec<&TruthVitals>> = BTreeMap::new();
    for t in truth {
        m.entry(t.patient).or_default().push(t);
    }
    m
}

fn mean_sd(xs: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = xs.clone().count() as f64;
    let mean = xs.clone().sum::<f64>() / n;
    let var = xs.map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// On the stable ward, each patient's 24-h mean of every vital is in the DOMAIN.md typical range,
/// and its spread is plausible (HR SD within a patient ~5–8 /min over hours).
#[test]
fn stable_ward_vitals_fall_in_domain_ranges() {
    let (rec, dir) = run_to_memory(&library("ward-baseline-24h"));
    let patients = by_patient(rec.get::<TruthVitals>());
    assert_eq!(patients.len(), 28);
    for (ix, rows) in &patients {
        let id = &dir.patient(*ix).id;
        assert_eq!(rows.len(), 1440, "{id}: one truth row a minute for 24 h");
        let col = |f: fn(&TruthVitals) -> f32| rows.iter().map(move |t| f64::from(f(t)));
        // (vital, (mean, SD) over the day, allowed mean range, allowed SD range)
        type Check<'a> = (&'a str, (f64, f64), (f64, f64), (f64, f64));
        let checks: [Check; 5] = [
            (
                "heart rate",
                mean_sd(col(|t| t.heart_rate)),
                (60.0, 100.0),
                (3.0, 10.0),
            ),
            (
                "resp rate",
                mean_sd(col(|t| t.resp_rate)),
                (12.0, 20.0),
                (0.5, 2.5),
            ),
            (
                "temperature",
                mean_sd(col(|t| t.temp_c)),
                (36.1, 37.5),
                (0.08, 0.4),
            ),
            (
                "systolic",
                mean_sd(col(|t| t.systolic)),
                (110.0, 140.0),
                (3.0, 12.0),
            ),
            (
                "diastolic",
                mean_sd(col(|t| t.diastolic)),
                (65.0, 90.0),
                (2.0, 9.0),
            ),
        ];
        for (name, (mean, sd), (lo, hi), (slo, shi)) in checks {
            assert!(
                (lo..=hi).contains(&mean),
                "{id}: {name} mean {mean:.1} outside {lo}..{hi}"
            );
            assert!(
                (slo..=shi).contains(&sd),
                "{id}: {name} SD {sd:.2} outside {slo}..{shi}"
            );
        }
        let (spo2, spo2_sd) = mean_sd(col(|t| t.spo2));
        let range = if rows[0].scale == Spo2Scale::Scale2 {
            88.0..=92.5
        } else {
            95.0..=99.0
        };
        assert!(
            range.contains(&spo2),
            "{id}: SpO2 mean {spo2:.1} outside {range:?}"
        );
        assert!(spo2_sd < 1.5, "{id}: SpO2 SD {spo2_sd:.2}");
    }
}

/// Stable patients spend under 1 % of the time at NEWS2 ≥ 5 (ward-wide), and none is
/// persistently there.
#[test]
fn stable_patients_rarely_score_five() {
    let (rec, dir) = run_to_memory(&library("ward-baseline-24h"));
    let high = rec
        .get::<TruthVitals>()
        .iter()
        .filter(|t| t.news2.total >= 5)
        .count();
    let frac = high as f64 / rec.get::<TruthVitals>().len() as f64;
    assert!(
        frac < 0.01,
        "{:.2} % of stable patient-minutes at NEWS2 >= 5",
        frac * 100.0
    );
    for (ix, rows) in by_patient(rec.get::<TruthVitals>()) {
        let f = rows.iter().filter(|t| t.news2.total >= 5).count() as f64 / rows.len() as f64;
        assert!(
            f < 0.05,
            "{}: {:.1} % of the day at NEWS2 >= 5",
            dir.patient(ix).id,
            f * 100.0
        );
    }
    assert!(rec.get::<EpisodeRecord>().is_empty());
}

/// In quickstart each scheduled deterioration reaches NEWS2 ≥ 5 within its development window
/// and ≥ 7 later, and no stable patient reaches 5.
#[test]
fn quickstart_deteriorations_reach_five_in_their_window_and_stable_patients_do_not() {
    let scenario = library("quickstart");
    let (mut rec, dir) = run_to_memory(&scenario);
    let mut episodes = rec.take::<EpisodeRecord>();
    episodes.sort_by_key(|e| e.id);
    assert_eq!(episodes.len(), 2);
    let kinds: Vec<_> = episodes.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [Deterioration::Sepsis, Deterioration::RespiratoryFailure]
    );
    for e in &episodes {
        let who = &dir.patient(e.patient).id;
        let ge5 = e
            .news2_ge5_ms
            .unwrap_or_else(|| panic!("{who}: {:?} never reached NEWS2 5", e.kind));
        assert!(
            ge5 >= e.onset_ms && ge5 <= e.onset_ms + e.develop_ms,
            "{who}: NEWS2 5 at {} min after onset",
            (ge5 - e.onset_ms) / 60_000
        );
        assert!(
            e.news2_ge7_ms.is_some_and(|t| t >= ge5),
            "{who}: never reached 7"
        );
        assert!(e.peak_news2 >= 7);
    }
    // Respiratory failure is treated after 6 h and resolves within the run; sepsis goes on.
    assert!(episodes[1].end_ms.is_some());
    assert!(episodes[0].end_ms.is_none());
    let deteriorating: Vec<PatientIx> = episodes.iter().map(|e| e.patient).collect();
    for (ix, rows) in by_patient(rec.get::<TruthVitals>()) {
        if deteriorating.contains(&ix) {
            continue;
        }
        let max = rows.iter().map(|t| t.news2.total).max().unwrap_or(0);
        assert!(max < 5, "stable {} reached NEWS2 {max}", dir.patient(ix).id);
    }
}

/// Each condition moves the vitals the way it should at full development.
#[test]
fn each_condition_has_its_signature() {
    for (kind, check) in [
        (
            "sepsis",
            (|b: &TruthVitals, a: &TruthVitals| {
                a.heart_rate > b.heart_rate + 25.0
                    && a.resp_rate > b.resp_rate + 7.0
                    && a.temp_c > b.temp_c + 1.5
                    && a.systolic < b.systolic - 25.0
            }) as fn(&TruthVitals, &TruthVitals) -> bool,
        ),
        ("respiratory_failure", |b, a| {
            a.resp_rate > b.resp_rate + 10.0
                && a.spo2 < b.spo2 - 8.0
                && a.heart_rate > b.heart_rate + 15.0
        }),
        ("haemorrhage", |b, a| {
            a.systolic < b.systolic - 35.0 && a.heart_rate > b.heart_rate + 30.0
        }),
    ] {
        let s = small(
            1,
            "4h",
            &format!(
                "[[event]]\nat = \"1h\"\nbed = \"W1-01\"\nkind = \"{kind}\"\ndevelop = \"1h\"\n"
            ),
        );
        let (rec, _) = run_to_memory(&s);
        let before = &rec.get::<TruthVitals>()[59];
        let after = &rec.get::<TruthVitals>()[179];
        assert!(
            check(before, after),
            "{kind}: before {before:?}\nafter {after:?}"
        );
        assert!(
            after.news2.total >= 7,
            "{kind}: NEWS2 {}",
            after.news2.total
        );
    }
}

/// Adding a patient (a bed) does not change any other patient's numbers.
#[test]
fn adding_a_patient_changes_no_other_patient() {
    let (a, dir_a) = run_to_memory(&small(3, "2h", ""));
    let (b, dir_b) = run_to_memory(&small(4, "2h", ""));
    let keep = |r: &[TruthVitals], dir: &wardtwin_sim::Directory| -> Vec<(String, i64, u32, u32)> {
        r.iter()
            .filter(|t| dir.patient(t.patient).id != "P-W1-04")
            .map(|t| {
                (
                    dir.patient(t.patient).id.clone(),
                    t.sim_ms,
                    t.heart_rate.to_bits(),
                    t.spo2.to_bits(),
                )
            })
            .collect()
    };
    assert_eq!(
        keep(a.get::<TruthVitals>(), &dir_a),
        keep(b.get::<TruthVitals>(), &dir_b)
    );
}

/// Plugin test: only the patient plugin (devices off), time driven step by step.
#[test]
fn patient_plugin_alone_samples_truth_on_its_cadence() {
    let s = small(2, "1h", "");
    let mut app = bevy_app::App::new();
    app.add_plugins(wardtwin_sim::SimPlugin {
        epoch_ms: s.epoch_ms,
        step_ms: s.step_ms,
        duration_ms: s.duration_ms,
        seed: 1,
        threads: Some(1),
        file_transport: true,
    })
    .add_plugins(TwinPlugins.build().disable::<DevicePlugin>());
    let kinds = crate::ward::Kinds::of(&app);
    crate::ward::spawn(app.world_mut(), &s, 1, kinds);
    let sink = MemorySink::default();
    app.insert_resource(Sinks::new(vec![Box::new(sink.clone())]));
    let mut sim = Sim::new(app);
    for _ in 0..121 {
        sim.step();
    }
    let rec = sink.take();
    assert!(rec.get::<Forwarded>().is_empty(), "devices are off");
    // Ticks 0, 60 and 120 (one a minute), two patients each.
    let times: Vec<i64> = rec
        .get::<TruthVitals>()
        .iter()
        .map(|t| (t.sim_ms - s.epoch_ms) / 1000)
        .collect();
    assert_eq!(times, [0, 0, 60, 60, 120, 120]);
}

/// `count` occupies exactly that many beds, pinned beds first; the patients it admits are the
/// same people `occupancy = 1` would have put in those beds.
#[test]
fn population_count_admits_exactly_that_many() {
    let s = small(
        10,
        "1s",
        "[population]\ncount = 4\n\n[[patient]]\nbed = \"W1-09\"\n",
    );
    let adm = crate::ward::admissions(&s, 3);
    assert_eq!(adm.len(), 4);
    assert!(adm.iter().any(|a| a.bed == 8));
    let full = crate::ward::admissions(&small(10, "1s", "[[patient]]\nbed = \"W1-09\"\n"), 3);
    for a in &adm {
        assert!(full.contains(a), "{a:?}");
    }
}

/// The conditions ledger agrees with the episodes: each deteriorating patient has a
/// non-transient NEWS2 ≥ 5 condition whose onset is the episode's first NEWS2 ≥ 5, and one for
/// ≥ 7 likewise; stable patients have no scored deterioration condition.
#[test]
fn quickstart_conditions_ledger_matches_the_episodes() {
    use wardtwin_sim::conditions::{ConditionClass, Severity, Subject};
    let (rec, dir) = run_to_memory(&library("quickstart"));
    let det = |p: PatientIx, sev: Severity| {
        rec.get::<ConditionRecord>()
            .iter()
            .filter(|c| {
                c.class == ConditionClass::Deterioration
                    && c.severity == sev
                    && c.subject == Subject::Patient(p)
                    && !c.transient
            })
            .map(|c| c.onset_ms)
            .collect::<Vec<_>>()
    };
    for e in rec.get::<EpisodeRecord>() {
        let who = &dir.patient(e.patient).id;
        assert_eq!(
            det(e.patient, Severity::Medium).first(),
            e.news2_ge5_ms.as_ref(),
            "{who}"
        );
        assert_eq!(
            det(e.patient, Severity::High).first(),
            e.news2_ge7_ms.as_ref(),
            "{who}"
        );
        // The low-medium tier starts no later than NEWS2 5.
        assert!(
            det(e.patient, Severity::Low)[0] <= e.news2_ge5_ms.unwrap(),
            "{who}"
        );
    }
    let deteriorating: Vec<PatientIx> = rec
        .get::<EpisodeRecord>()
        .iter()
        .map(|e| e.patient)
        .collect();
    for (i, p) in dir.patients.iter().enumerate() {
        let ix = PatientIx(i as u32);
        if !deteriorating.contains(&ix) {
            for sev in [Severity::Medium, Severity::High] {
                assert!(det(ix, sev).is_empty(), "stable {} has {sev:?}", p.id);
            }
        }
    }
    // Every condition begins inside the run, and ends after it begins.
    for c in rec.get::<ConditionRecord>() {
        assert!(
            c.onset_ms >= 0 && c.end_ms.is_none_or(|e| e > c.onset_ms),
            "{c:?}"
        );
    }
}
