//! Patient model tests: realism against DOMAIN.md, deterioration, independence of streams.

use std::collections::BTreeMap;
use wardtwin_sim::conditions::ConditionRecord;
use wardtwin_sim::records::{EpisodeRecord, Forwarded};

use bevy_app::PluginGroup;
use wardtwin_sim::records::{Deterioration, PatientIx, TruthVitals};
use wardtwin_sim::{MemorySink, Sim, Sinks};

use super::params::BASELINE;
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

/// NEWS2 bands over truth samples: (0–2, 3–4, 5–6, ≥ 7, a single 3 under 5) as shares.
fn news2_shares(truth: &[TruthVitals]) -> [f64; 5] {
    let mut n = [0usize; 5];
    for t in truth {
        let total = t.news2.total;
        let b = match total {
            0..=2 => 0,
            3..=4 => 1,
            5..=6 => 2,
            _ => 3,
        };
        n[b] += 1;
        let s = &t.news2;
        let parts = [
            s.resp_rate,
            s.spo2,
            s.air_or_oxygen,
            s.systolic,
            s.pulse,
            s.consciousness,
            s.temperature,
        ];
        if total < 5 && parts.contains(&3) {
            n[4] += 1;
        }
    }
    n.map(|x| x as f64 / truth.len().max(1) as f64)
}

/// The baseline ward, three seeds pooled (84 patient-days): the population means and each
/// patient's own spread are those of a ward (DOMAIN.md section 1), and NEWS2 over observation
/// sets falls in the published ranges (docs/realism.md): 3–4 in 8–25 % (Jarvis et al. 2015:
/// 15.1 %), ≥ 5 in 3–14 %, ≥ 7 in 0.5–5 %, a single 3 under 5 in 1–8 % (Jarvis: 3.8 %). Stable
/// wards carry chronically abnormal patients: some reach 7 without any episode.
#[test]
fn baseline_ward_matches_published_ward_figures() {
    let mut truth = Vec::new();
    let mut means: Vec<[f64; 6]> = Vec::new();
    let mut within_hr = Vec::new();
    let mut reached_7 = 0;
    for seed in [11, 12, 13] {
        let mut s = library("ward-baseline-24h");
        s.seed = seed;
        let (rec, _) = run_to_memory(&s);
        assert!(rec.get::<EpisodeRecord>().is_empty());
        for rows in by_patient(rec.get::<TruthVitals>()).values() {
            let col = |f: fn(&TruthVitals) -> f32| rows.iter().map(move |t| f64::from(f(t)));
            means.push([
                mean_sd(col(|t| t.heart_rate)).0,
                mean_sd(col(|t| t.resp_rate)).0,
                mean_sd(col(|t| t.spo2)).0,
                mean_sd(col(|t| t.temp_c)).0,
                mean_sd(col(|t| t.systolic)).0,
                mean_sd(col(|t| t.diastolic)).0,
            ]);
            within_hr.push(mean_sd(col(|t| t.heart_rate)).1);
            reached_7 += usize::from(rows.iter().any(|t| t.news2.total >= 7));
        }
        truth.extend_from_slice(rec.get::<TruthVitals>());
    }
    assert_eq!(means.len(), 84);
    // (vital, population mean range)
    let ranges = [
        ("heart rate", 72.0, 92.0),
        ("resp rate", 14.5, 19.0),
        ("SpO2", 93.5, 97.5),
        ("temperature", 36.5, 37.1),
        ("systolic", 115.0, 138.0),
        ("diastolic", 65.0, 82.0),
    ];
    for (i, (name, lo, hi)) in ranges.iter().enumerate() {
        let m = means.iter().map(|v| v[i]).sum::<f64>() / means.len() as f64;
        assert!((lo..=hi).contains(&&m), "{name}: population mean {m:.1}");
    }
    within_hr.sort_by(f64::total_cmp);
    let median = within_hr[within_hr.len() / 2];
    assert!(
        (4.0..=9.0).contains(&median),
        "HR SD within a patient {median:.1}"
    );
    let [low, mid, high, top, single3] = news2_shares(&truth);
    assert!((0.55..0.9).contains(&low), "0-2: {low:.3}");
    assert!((0.08..=0.25).contains(&mid), "3-4: {mid:.3}");
    assert!(
        (0.03..=0.14).contains(&(high + top)),
        ">=5: {:.3}",
        high + top
    );
    assert!((0.005..=0.05).contains(&top), ">=7: {top:.3}");
    assert!((0.01..=0.08).contains(&single3), "a single 3: {single3:.3}");
    assert!(reached_7 >= 2, "{reached_7} stable patients reached 7");
}

/// Baselines are drawn from truncated normals, not clamped: over 4,000 admissions no 2-unit
/// bin of systolic or heart rate holds more than a smooth population's peak allows (the old
/// clamps put 35 % of patients in the systolic bin under 138), the extremes are thin, and the
/// shares outside the normal range are a ward's (hypertensives above 140, fast AF above 100).
#[test]
fn baseline_population_has_no_spike_at_a_bound() {
    let s = small(
        4000,
        "1s",
        "[population]\nage = { mean = 70, sd = 14, min = 18, max = 98 }\n\
         conditions = { copd = 0.1, hypertension = 0.35, heart_failure = 0.08, \
         atrial_fibrillation = 0.12, dementia = 0.2 }\n",
    );
    let adm = crate::ward::admissions(&s, 9);
    let b: Vec<[f64; 6]> = adm
        .iter()
        .map(|a| {
            let mut rng = wardtwin_sim::rng::stream(9, &a.id, "baseline");
            super::spawn::draw_baseline(a, &mut rng)
        })
        .collect();
    for (i, name, bin) in [(4, "systolic", 2.0), (0, "heart rate", 2.0)] {
        let x: Vec<f64> = b.iter().map(|v| v[i]).collect();
        let (m, sd) = mean_sd(x.iter().copied());
        let mut bins: BTreeMap<i64, usize> = BTreeMap::new();
        for v in &x {
            *bins.entry((v / bin).floor() as i64).or_default() += 1;
        }
        let peak = *bins.values().max().unwrap() as f64 / x.len() as f64;
        let smooth = bin / (sd * std::f64::consts::TAU.sqrt());
        assert!(
            peak < 1.3 * smooth,
            "{name}: a bin holds {peak:.3}, smooth {smooth:.3}"
        );
        let (lo, hi) = (BASELINE[i].2, BASELINE[i].3);
        let edge = x
            .iter()
            .filter(|v| **v < lo + bin || **v > hi - bin)
            .count();
        assert!(
            (edge as f64) < 0.01 * x.len() as f64,
            "{name}: {edge} at the bounds (mean {m:.1})"
        );
    }
    let share =
        |i: usize, above: f64| b.iter().filter(|v| v[i] > above).count() as f64 / b.len() as f64;
    let sbp140 = share(4, 140.0);
    assert!(
        (0.08..0.35).contains(&sbp140),
        "systolic > 140: {sbp140:.3}"
    );
    // Before AF's own shift (applied at spawn): baseline alone.
    let hr100 = share(0, 100.0);
    assert!((0.01..0.12).contains(&hr100), "HR > 100: {hr100:.3}");
}

/// In quickstart each scheduled deterioration reaches NEWS2 ≥ 5 within its development window
/// and ≥ 7 later, above anything the patient scored before it began.
#[test]
fn quickstart_deteriorations_reach_five_in_their_window() {
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
    let truth = by_patient(rec.get::<TruthVitals>());
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
        let before = truth[&e.patient]
            .iter()
            .filter(|t| t.sim_ms < e.onset_ms)
            .map(|t| t.news2.total)
            .max()
            .unwrap_or(0);
        assert!(
            e.peak_news2 >= 7 && e.peak_news2 > before,
            "{who}: {before} before"
        );
    }
    // Respiratory failure is treated after 6 h and resolves within the run; sepsis goes on.
    assert!(episodes[1].end_ms.is_some());
    assert!(episodes[0].end_ms.is_none());
}

/// One patient's true vitals through one episode of `kind` and `variant` at severity 1, from
/// 1 h into a run of `duration`.
fn one_episode(kind: &str, variant: &str, develop: &str, duration: &str) -> Vec<TruthVitals> {
    let s = small(
        1,
        duration,
        &format!(
            "[[event]]\nat = \"1h\"\nbed = \"W1-01\"\nkind = \"{kind}\"\ndevelop = \"{develop}\"\n\
             severity = 1.0\nvariant = \"{variant}\"\n"
        ),
    );
    run_to_memory(&s).0.get::<TruthVitals>().to_vec()
}

/// Each condition moves the vitals the way it should at full development.
#[test]
fn each_condition_has_its_signature() {
    for (kind, variant, check) in [
        (
            "sepsis",
            "febrile",
            (|b: &TruthVitals, a: &TruthVitals| {
                a.heart_rate > b.heart_rate + 25.0
                    && a.resp_rate > b.resp_rate + 7.0
                    && a.temp_c > b.temp_c + 1.5
                    && a.systolic < b.systolic - 25.0
            }) as fn(&TruthVitals, &TruthVitals) -> bool,
        ),
        ("respiratory_failure", "tachycardic", |b, a| {
            a.resp_rate > b.resp_rate + 10.0
                && a.spo2 < b.spo2 - 8.0
                && a.heart_rate > b.heart_rate + 15.0
        }),
        ("haemorrhage", "compensated", |b, a| {
            a.systolic < b.systolic - 35.0 && a.heart_rate > b.heart_rate + 30.0
        }),
    ] {
        let truth = one_episode(kind, variant, "1h", "4h");
        let (before, after) = (&truth[59], &truth[179]);
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
/// non-transient NEWS2 ≥ 5 condition going at the episode's first NEWS2 ≥ 5 (begun then, or
/// already going: a chronically abnormal patient may score 5 before the episode), and one for
/// ≥ 7 likewise.
#[test]
fn quickstart_conditions_ledger_matches_the_episodes() {
    use wardtwin_sim::conditions::{ConditionClass, Severity, Subject};
    let (rec, dir) = run_to_memory(&library("quickstart"));
    let going_at = |p: PatientIx, sev: Severity, t: i64| {
        rec.get::<ConditionRecord>().iter().any(|c| {
            c.class == ConditionClass::Deterioration
                && c.severity == sev
                && c.subject == Subject::Patient(p)
                && !c.transient
                && c.onset_ms <= t
                && c.end_ms.is_none_or(|e| e > t)
        })
    };
    for e in rec.get::<EpisodeRecord>() {
        let who = &dir.patient(e.patient).id;
        let ge5 = e.news2_ge5_ms.expect("reaches 5");
        let ge7 = e.news2_ge7_ms.expect("reaches 7");
        assert!(going_at(e.patient, Severity::Medium, ge5), "{who}");
        assert!(going_at(e.patient, Severity::High, ge7), "{who}");
        // The low-medium tier is going by NEWS2 5 too.
        assert!(going_at(e.patient, Severity::Low, ge5), "{who}");
    }
    // Every condition begins inside the run, and ends after it begins.
    for c in rec.get::<ConditionRecord>() {
        assert!(
            c.onset_ms >= 0 && c.end_ms.is_none_or(|e| e > c.onset_ms),
            "{c:?}"
        );
    }
}

/// Episodes of one kind differ: drawn phenotypes spread their severity, development time and
/// each vital's change (the old model gave every sepsis HR +40–44 and temperature +2.2); a
/// minority of septic patients are hypothermic (Kushimoto et al. 2013: 10–20 %), a quarter of
/// respiratory failures barely raise the heart rate (beta-blockade), and about 30 % of treated
/// episodes recover partly.
#[test]
fn phenotypes_differ_between_episodes() {
    use super::phenotype::{Pins, draw};
    use wardtwin_sim::records::{Recovery, Variant};
    for kind in Deterioration::ALL {
        let drawn: Vec<(i64, super::phenotype::Phenotype)> = (0..600)
            .map(|i| {
                let mut rng = wardtwin_sim::rng::stream(5, &format!("P-{i}"), "episode-0");
                draw(&mut rng, kind, true, Pins::default())
            })
            .collect();
        let change =
            |v: usize| -> Vec<f64> { drawn.iter().map(|(_, p)| p.delta[v] * p.severity).collect() };
        let (_, hr_sd) = mean_sd(change(0).into_iter());
        assert!(hr_sd > 5.0, "{kind:?}: HR change SD {hr_sd:.1}");
        if kind != Deterioration::RespiratoryFailure {
            let (_, sbp_sd) = mean_sd(change(4).into_iter());
            assert!(sbp_sd > 5.0, "{kind:?}: systolic change SD {sbp_sd:.1}");
        }
        let (lo, hi) = super::params::develop_range_ms(kind);
        let dev: Vec<f64> = drawn.iter().map(|(d, _)| *d as f64).collect();
        assert!(dev.iter().all(|d| (lo as f64..=hi as f64).contains(d)));
        let (_, dev_sd) = mean_sd(dev.into_iter());
        assert!(
            dev_sd > 0.15 * lo as f64,
            "{kind:?}: development SD {dev_sd:.0} ms"
        );
        let partial = drawn
            .iter()
            .filter(|(_, p)| p.recovery == Some(Recovery::Partial))
            .count() as f64
            / 600.0;
        assert!(
            (0.2..0.4).contains(&partial),
            "{kind:?}: partial {partial:.2}"
        );
        let share =
            |v: Variant| drawn.iter().filter(|(_, p)| p.variant == v).count() as f64 / 600.0;
        match kind {
            Deterioration::Sepsis => {
                let hypo = share(Variant::Hypothermic);
                assert!((0.08..0.25).contains(&hypo), "hypothermic {hypo:.2}");
                let falling = change(3).iter().filter(|t| **t < 0.0).count() as f64 / 600.0;
                assert!(
                    (hypo - falling).abs() < 1e-9,
                    "temperature falls only when hypothermic"
                );
            }
            Deterioration::RespiratoryFailure => {
                let bb = share(Variant::BetaBlocked);
                assert!((0.15..0.35).contains(&bb), "beta-blocked {bb:.2}");
            }
            Deterioration::Haemorrhage => {
                let c = share(Variant::Compensated);
                assert!((0.6..0.8).contains(&c), "compensated {c:.2}");
            }
        }
    }
    // Pins win, and pinning one thing changes nothing else that was drawn.
    let mut a = wardtwin_sim::rng::stream(5, "P-1", "episode-0");
    let mut b = wardtwin_sim::rng::stream(5, "P-1", "episode-0");
    let free = draw(&mut a, Deterioration::Sepsis, true, Pins::default());
    let pins = Pins {
        variant: Some(Variant::Hypothermic),
        severity: Some(1.5),
        develop_ms: Some(3_600_000),
        recovery: Some(Recovery::Partial),
    };
    let pinned = draw(&mut b, Deterioration::Sepsis, true, pins);
    assert_eq!(pinned.0, 3_600_000);
    assert_eq!(pinned.1.variant, Variant::Hypothermic);
    assert_eq!(pinned.1.severity, 1.5);
    assert_eq!(pinned.1.recovery, Some(Recovery::Partial));
    assert!(pinned.1.residual > 0.0);
    // The same per-episode spread, applied to the pinned variant.
    let base = |v: Variant| super::params::variant_effect(v);
    let shift = |p: &super::phenotype::Phenotype| p.confused_at - base(p.variant).confused_at;
    assert!((shift(&free.1) - shift(&pinned.1)).abs() < 1e-12);
    for i in 0..6 {
        let k = |p: &super::phenotype::Phenotype| p.delta[i] / base(p.variant).delta[i];
        assert!((k(&free.1) - k(&pinned.1)).abs() < 1e-12, "vital {i}");
    }
}

/// A compensated haemorrhage holds its blood pressure while the heart rate climbs, then loses
/// it; a tachypnoea-first sepsis raises the respiratory rate before the heart rate.
#[test]
fn variants_lead_with_their_own_vitals() {
    let run = |kind: &str, variant: &str| one_episode(kind, variant, "2h", "6h");
    // Minute 60 is onset, 120 halfway, 180 full development.
    let bleed = run("haemorrhage", "compensated");
    let (b, half, full) = (&bleed[55], &bleed[120], &bleed[180]);
    let hr_half = (half.heart_rate - b.heart_rate) / (full.heart_rate - b.heart_rate);
    let sbp_half = (half.systolic - b.systolic) / (full.systolic - b.systolic);
    assert!(
        hr_half > 0.45,
        "HR at half development: {hr_half:.2} of its rise"
    );
    assert!(
        sbp_half < 0.3,
        "systolic at half development: {sbp_half:.2} of its fall"
    );
    let sepsis = run("sepsis", "tachypnoea_first");
    let (b, early, full) = (&sepsis[55], &sepsis[90], &sepsis[180]);
    let rr = (early.resp_rate - b.resp_rate) / (full.resp_rate - b.resp_rate);
    let hr = (early.heart_rate - b.heart_rate) / (full.heart_rate - b.heart_rate);
    assert!(
        rr > hr + 0.15,
        "RR {rr:.2} of its rise, HR {hr:.2}, a quarter in"
    );
}

/// A partial recovery ends the episode but leaves part of its effect (the same patient with a
/// full recovery, every other draw the same, is the control); a pinned relapse comes back as a
/// new episode that names the first.
#[test]
fn partial_recovery_leaves_a_residual_and_a_relapse_names_its_episode() {
    let scenario = |recovery: &str| {
        small(
            1,
            "20h",
            &format!(
                "[[event]]\nat = \"1h\"\nbed = \"W1-01\"\nkind = \"sepsis\"\ndevelop = \"2h\"\n\
                 severity = 1.0\nvariant = \"febrile\"\nresolve_after = \"3h\"\n\
                 recovery = \"{recovery}\"\nrelapse_after = \"9h\"\n"
            ),
        )
    };
    let (mut rec, _) = run_to_memory(&scenario("partial"));
    let (full, _) = run_to_memory(&scenario("full"));
    let mut eps = rec.take::<EpisodeRecord>();
    eps.sort_by_key(|e| e.id);
    assert_eq!(eps.len(), 2, "{eps:?}");
    let (first, relapse) = (&eps[0], &eps[1]);
    assert_eq!(
        first.recovery,
        Some(wardtwin_sim::records::Recovery::Partial)
    );
    let end = first.end_ms.expect("the first episode settles");
    assert_eq!(relapse.relapse_of, Some(first.id));
    assert_eq!(relapse.onset_ms, first.onset_ms + 12 * 3_600_000);
    assert!(relapse.severity <= first.severity && relapse.severity > 0.5 * first.severity);
    let at = |truth: &[TruthVitals], ms: i64| *truth.iter().find(|t| t.sim_ms >= ms).unwrap();
    let t = end + 3_600_000;
    assert!(t < relapse.onset_ms);
    let (p, f) = (
        at(rec.get::<TruthVitals>(), t),
        at(full.get::<TruthVitals>(), t),
    );
    assert!(
        p.temp_c > f.temp_c + 0.2 && p.heart_rate > f.heart_rate + 3.0,
        "partial {p:?}\nfull {f:?}"
    );
}

/// Dementia: half the patients with it are confused for hours each evening (charted C), and
/// only then.
#[test]
fn dementia_confusion_comes_in_the_evening() {
    let s = small(20, "24h", "[population]\nconditions = { dementia = 1.0 }\n");
    let (rec, dir) = run_to_memory(&s);
    let mut confused = 0;
    for (ix, rows) in by_patient(rec.get::<TruthVitals>()) {
        let hours: Vec<f64> = rows
            .iter()
            .filter(|t| t.consciousness == wardtwin_sim::news2::Acvpu::Confused)
            .map(|t| ((t.sim_ms - s.epoch_ms) % 86_400_000) as f64 / 3_600_000.0)
            .collect();
        if hours.is_empty() {
            continue;
        }
        confused += 1;
        let n = hours.len() as f64 / 60.0;
        assert!((1.9..=7.1).contains(&n), "{}: {n:.1} h", dir.patient(ix).id);
        assert!(
            hours.iter().all(|h| *h >= 15.0 || *h < 3.0),
            "{}: confused at {hours:?}",
            dir.patient(ix).id
        );
    }
    assert!((4..=16).contains(&confused), "{confused} of 20 sundown");
}

/// `[incidents] deteriorations_per_patient_day` draws episodes the timeline did not write:
/// their kind, whether and when they are treated, their phenotype and an occasional relapse,
/// numbered after the timeline's; none at the default rate (the golden digest holds that).
#[test]
fn random_deteriorations_draw_everything_the_timeline_would_pin() {
    let s = small(
        20,
        "24h",
        "[incidents]\ndeteriorations_per_patient_day = 1.0\n\n[[event]]\nat = \"2h\"\nbed = \"W1-01\"\nkind = \"haemorrhage\"\n",
    );
    let (mut rec, _) = run_to_memory(&s);
    let mut eps = rec.take::<EpisodeRecord>();
    eps.sort_by_key(|e| e.id);
    let random: Vec<&EpisodeRecord> = eps.iter().filter(|e| e.id >= 1).collect();
    assert!(
        (8..=40).contains(&random.len()),
        "{} random episodes",
        random.len()
    );
    assert_eq!(eps[0].id, 0, "the timeline's episode keeps its number");
    let ids: std::collections::BTreeSet<u32> = eps.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), eps.len(), "unique ids");
    let kinds: std::collections::BTreeSet<_> = random.iter().map(|e| e.kind).collect();
    assert!(kinds.len() >= 2, "{kinds:?}");
    assert!(random.iter().any(|e| e.resolve_ms.is_some()));
    assert!(
        random
            .iter()
            .all(|e| e.recovery.is_some() == e.resolve_ms.is_some())
    );
    let dev: std::collections::BTreeSet<i64> = random.iter().map(|e| e.develop_ms).collect();
    assert!(dev.len() > random.len() / 2, "development times differ");
    for e in &random {
        assert!(e.onset_ms >= s.epoch_ms && e.onset_ms < s.epoch_ms + s.duration_ms);
        if let Some(first) = e.relapse_of {
            let f = eps
                .iter()
                .find(|x| x.id == first)
                .expect("relapse of a recorded episode");
            assert_eq!(
                (f.patient, f.kind, f.variant),
                (e.patient, e.kind, e.variant)
            );
            assert!(e.onset_ms > f.resolve_ms.unwrap());
        }
    }
}
