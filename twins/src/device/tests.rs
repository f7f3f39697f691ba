//! Device model tests: cadence, sequence, clocks, artifacts, batteries, independence.

use std::collections::BTreeMap;
use wardtwin_sim::conditions::ConditionRecord;
use wardtwin_sim::records::{ArtifactRecord, DeviceEvent, Forwarded, TruthVitals};

use wardtwin_sim::records::{
    ArtifactKind, DeviceEventKind, DeviceKind, Metric, ObsStatus, Origin, Reading,
};
use wardtwin_sim::{MemorySink, Sim, Sinks};

use super::params::LOW_BATTERY_PCT;
use super::{Battery, Device};
use crate::testkit::{library, run_to_memory, small};
use crate::{BuildOptions, build_app};

fn readings_of<'a>(
    rec: &'a [Forwarded],
    dir: &wardtwin_sim::Directory,
    id: &str,
) -> Vec<&'a Reading> {
    rec.iter()
        .filter(|r| dir.device(r.device).id == id)
        .map(|r| &r.reading)
        .collect()
}

#[test]
fn each_device_reports_on_its_cadence_with_contiguous_sequence_numbers() {
    let (rec, dir) = run_to_memory(&small(2, "2h", ""));
    let mut per_device: BTreeMap<_, Vec<&Reading>> = BTreeMap::new();
    for r in rec.get::<Forwarded>() {
        per_device.entry(r.device).or_default().push(r);
    }
    assert_eq!(
        per_device.len(),
        9,
        "2 beds x 4 devices, and the ward gateway's own status"
    );
    for (ix, rs) in per_device {
        let info = dir.device(ix);
        let interval = wardtwin_scenarios::default_interval_ms(info.kind);
        assert_eq!(rs.len() as i64, 2 * 3_600_000 / interval, "{}", info.id);
        for (i, w) in rs.windows(2).enumerate() {
            assert_eq!(w[1].seq, w[0].seq + 1, "{} seq", info.id);
            assert_eq!(
                w[1].sim_ms - w[0].sim_ms,
                interval,
                "{} reading {i}",
                info.id
            );
        }
        assert_eq!(rs[0].seq, 0);
        // The device's clock is off by seconds, not minutes, and drifts slowly.
        for r in &rs {
            assert!(
                (r.device_ms - r.sim_ms).abs() < 10_000,
                "{} clock off by {} ms",
                info.id,
                r.device_ms - r.sim_ms
            );
        }
        assert_eq!(rs[0].observations().len(), info.kind.metrics().len());
    }
}

#[test]
fn readings_are_noisy_integers_near_the_truth() {
    let (rec, dir) = run_to_memory(&small(
        1,
        "1h",
        "[artifacts]\nmotion_per_device_day = 0\nprobe_off_per_device_day = 0\n",
    ));
    let truth_hr: Vec<f64> = rec
        .get::<TruthVitals>()
        .iter()
        .map(|t| f64::from(t.heart_rate))
        .collect();
    let hr: Vec<f32> = readings_of(rec.get::<Forwarded>(), &dir, "ecg-W1-01")
        .iter()
        .map(|r| r.obs[0].value.unwrap())
        .collect();
    assert!(
        hr.iter().all(|v| v.fract() == 0.0),
        "HR is reported in whole beats"
    );
    let mean_hr = hr.iter().map(|v| f64::from(*v)).sum::<f64>() / hr.len() as f64;
    let mean_truth = truth_hr.iter().sum::<f64>() / truth_hr.len() as f64;
    assert!(
        (mean_hr - mean_truth).abs() < 5.0,
        "device {mean_hr:.1} vs truth {mean_truth:.1}"
    );
    let temps: Vec<f32> = readings_of(rec.get::<Forwarded>(), &dir, "temp-W1-01")
        .iter()
        .map(|r| r.obs[0].value.unwrap())
        .collect();
    assert!(
        temps
            .iter()
            .all(|t| ((t * 10.0).round() - t * 10.0).abs() < 1e-3),
        "temperature in tenths"
    );
    let bp = readings_of(rec.get::<Forwarded>(), &dir, "nibp-W1-01");
    for r in bp {
        let (s, d, m) = (
            r.obs[0].value.unwrap(),
            r.obs[1].value.unwrap(),
            r.obs[2].value.unwrap(),
        );
        assert!(s > d && m > d && m < s, "BP {s}/{d} ({m})");
        assert_eq!(r.obs[2].metric, Metric::MeanArterial);
    }
}

#[test]
fn probe_off_removes_values_and_flags_them_and_is_recorded_as_a_non_event() {
    let s = library("quickstart");
    let (rec, dir) = run_to_memory(&s);
    let start = s.epoch_ms + 11 * 3_600_000;
    let end = start + 25 * 60_000;
    let spo2 = readings_of(rec.get::<Forwarded>(), &dir, "spo2-W1-12");
    let inside: Vec<_> = spo2
        .iter()
        .filter(|r| r.sim_ms >= start && r.sim_ms < end)
        .collect();
    assert_eq!(inside.len(), 100, "25 min of 15-s readings");
    for r in &inside {
        for o in r.observations() {
            assert_eq!((o.value, o.status), (None, ObsStatus::ProbeOff));
        }
    }
    let art = rec
        .get::<ArtifactRecord>()
        .iter()
        .find(|a| dir.device(a.device).id == "spo2-W1-12" && a.origin == Origin::Scheduled)
        .expect("recorded");
    assert_eq!(
        (art.kind, art.start_ms, art.end_ms),
        (ArtifactKind::ProbeOff, start, end)
    );
    assert!(
        rec.get::<ArtifactRecord>()
            .iter()
            .any(|a| a.origin == Origin::Random),
        "random artifacts are recorded too"
    );
}

#[test]
fn motion_artifact_fakes_a_desaturation_without_a_flag() {
    let s = small(
        1,
        "1h",
        "[artifacts]\nmotion_per_device_day = 0\nprobe_off_per_device_day = 0\n\n[[event]]\nat = \"30m\"\nbed = \"W1-01\"\nkind = \"motion_artifact\"\ndevice = \"pulse_oximeter\"\nduration = \"5m\"\n",
    );
    let (rec, dir) = run_to_memory(&s);
    let t0 = s.epoch_ms + 30 * 60_000;
    let true_spo2 = rec
        .get::<TruthVitals>()
        .iter()
        .filter(|t| t.sim_ms >= t0 && t.sim_ms < t0 + 300_000)
        .map(|t| t.spo2)
        .fold(f32::MAX, f32::min);
    let during: Vec<_> = readings_of(rec.get::<Forwarded>(), &dir, "spo2-W1-01")
        .into_iter()
        .filter(|r| r.sim_ms >= t0 && r.sim_ms < t0 + 300_000)
        .collect();
    assert_eq!(during.len(), 20);
    for r in during {
        assert_eq!(r.obs[0].status, ObsStatus::Ok, "motion is not flagged");
        assert!(
            r.obs[0].value.unwrap() <= true_spo2 - 2.0,
            "SpO2 {:?} vs true {true_spo2}",
            r.obs[0].value
        );
    }
}

/// Plugin test: a battery set to nearly empty runs out, is recorded, and the device goes silent.
#[test]
fn a_flat_battery_is_recorded_and_silences_the_device() {
    let s = small(1, "10m", "");
    let (mut app, dir) = build_app(&s, &BuildOptions::default());
    let sink = MemorySink::default();
    app.insert_resource(Sinks::new(vec![Box::new(sink.clone())]));
    let ecg = dir
        .devices
        .iter()
        .position(|d| d.kind == DeviceKind::EcgPatch)
        .unwrap();
    {
        let world = app.world_mut();
        let mut q = world.query::<(&Device, &mut Battery)>();
        for (d, mut b) in q.iter_mut(world) {
            if d.ix.0 as usize == ecg {
                // 2 minutes of charge left.
                b.pct = b.drain_per_ms * 120_000.0;
            }
        }
    }
    let mut sim = Sim::new(app);
    for _ in 0..600 {
        sim.step();
    }
    let rec = sink.take();
    let events: Vec<_> = rec
        .get::<DeviceEvent>()
        .iter()
        .filter(|e| e.device.0 as usize == ecg)
        .map(|e| (e.kind, (e.sim_ms - s.epoch_ms) / 1000))
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], (DeviceEventKind::BatteryLow, 0));
    assert_eq!(events[1].0, DeviceEventKind::BatteryDepleted);
    let died_s = events[1].1;
    assert!((119..=121).contains(&died_s), "died at {died_s} s");
    let last = rec
        .get::<Forwarded>()
        .iter()
        .filter(|r| r.device.0 as usize == ecg)
        .map(|r| (r.sim_ms - s.epoch_ms) / 1000)
        .max()
        .unwrap();
    assert!(
        last < died_s,
        "reading at {last} s after death at {died_s} s"
    );
    assert!(
        rec.get::<Forwarded>()
            .iter()
            .filter(|r| r.device.0 as usize == ecg)
            .all(|r| r.obs[0].status == ObsStatus::LowBattery)
    );
}

/// Adding a device to the kit does not change any other device's readings.
#[test]
fn adding_a_device_changes_no_other_device() {
    let one = "[kit.k]\ndevices = [{ kind = \"ecg_patch\" }]\n[population]\nkit = \"k\"\n";
    let two = "[kit.k]\ndevices = [{ kind = \"ecg_patch\" }, { kind = \"pulse_oximeter\" }]\n[population]\nkit = \"k\"\n";
    let (a, da) = run_to_memory(&small(2, "1h", one));
    let (b, db) = run_to_memory(&small(2, "1h", two));
    let ecg = |rec: &[Forwarded],
               dir: &wardtwin_sim::Directory|
     -> Vec<(String, u32, i64, Vec<Option<f32>>)> {
        rec.iter()
            .filter(|r| dir.device(r.device).kind == DeviceKind::EcgPatch)
            .map(|r| {
                (
                    dir.device(r.device).id.clone(),
                    r.seq,
                    r.device_ms,
                    r.observations().iter().map(|o| o.value).collect(),
                )
            })
            .collect()
    };
    assert!(!ecg(a.get::<Forwarded>(), &da).is_empty());
    assert_eq!(
        ecg(a.get::<Forwarded>(), &da),
        ecg(b.get::<Forwarded>(), &db)
    );
}

/// A ward with the bedside devices beyond vital signs: CGMs for diabetics, pumps for some,
/// bed-exit sensors for fall-risk patients.
fn bedside(extra: &str) -> wardtwin_scenarios::Scenario {
    small(
        8,
        "12h",
        &format!(
            "[population]\nconditions = {{ diabetes = 0.5 }}\nfall_risk = 0.5\nkit = \"care\"\n\
             [incidents]\nhypos_per_diabetic_day = 0\nbed_exits_per_night = 0\nocclusions_per_pump_day = 0\ncompression_lows_per_night = 0\n\
             [kit.care]\ndevices = [\n  {{ kind = \"pulse_oximeter\" }},\n  {{ kind = \"cgm\", only = \"diabetes\" }},\n  \
             {{ kind = \"infusion_pump\", share = 0.5 }},\n  {{ kind = \"bed_exit_sensor\", only = \"fall_risk\" }},\n]\n\
             [[patient]]\nbed = \"W1-02\"\nconditions = [\"diabetes\"]\nfall_risk = true\n\
             [[patient]]\nbed = \"W1-05\"\nconditions = []\nfall_risk = false\n{extra}"
        ),
    )
}

#[test]
fn kit_devices_go_to_the_patients_they_are_for() {
    let s = bedside("");
    let (_, dir) = run_to_memory(&s);
    let has = |id: &str| dir.devices.iter().any(|d| d.id == id);
    assert!(has("cgm-W1-02") && has("bedx-W1-02"));
    assert!(!has("cgm-W1-05") && !has("bedx-W1-05"));
    let pumps = dir
        .devices
        .iter()
        .filter(|d| d.kind == DeviceKind::InfusionPump)
        .count();
    assert!((1..8).contains(&pumps), "a share of the patients: {pumps}");
    // The share is drawn per device: the same patients get pumps in a bigger ward.
    let (_, dir2) = run_to_memory(&small(
        8,
        "1h",
        "[kit.p]\ndevices = [{ kind = \"infusion_pump\", share = 0.5 }]\n[population]\nkit = \"p\"\n",
    ));
    let ids = |d: &wardtwin_sim::Directory| {
        d.devices
            .iter()
            .filter(|d| d.kind == DeviceKind::InfusionPump)
            .map(|d| d.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&dir), ids(&dir2));
}

#[test]
fn a_cgm_follows_a_hypo_late_and_a_compression_low_fakes_one() {
    let s = bedside(
        "[[event]]\nat = \"2h\"\nbed = \"W1-02\"\nkind = \"hypoglycaemia\"\n\
         [[event]]\nat = \"8h\"\nbed = \"W1-02\"\nkind = \"compression_low\"\ndevice = \"cgm\"\nduration = \"40m\"\n",
    );
    let (rec, dir) = run_to_memory(&s);
    let p = dir.patients.iter().position(|p| p.id == "P-W1-02").unwrap() as u32;
    let hypo: Vec<_> = rec
        .get::<ConditionRecord>()
        .iter()
        .filter(|c| c.class == wardtwin_sim::conditions::ConditionClass::Hypoglycaemia)
        .collect();
    assert_eq!(hypo.len(), 2, "levels 1 and 2: {hypo:?}");
    assert!(hypo.iter().all(|c| c.subject
        == wardtwin_sim::conditions::Subject::Patient(wardtwin_sim::records::PatientIx(p))));
    let onset = hypo.iter().map(|c| c.onset_ms).min().unwrap();
    let cgm = readings_of(rec.get::<Forwarded>(), &dir, "cgm-W1-02");
    assert!(cgm.iter().all(|r| r.obs[0].metric == Metric::Glucose));
    let first_low = cgm
        .iter()
        .find(|r| r.obs[0].value.is_some_and(|v| v < 3.9))
        .expect("the CGM sees the hypo");
    assert!(
        first_low.sim_ms > onset,
        "interstitial glucose lags: CGM low at {} after true onset {}",
        first_low.sim_ms,
        onset
    );
    // During the compression low the CGM reads well under the truth.
    let at = s.epoch_ms + 8 * 3_600_000;
    let during: Vec<_> = cgm
        .iter()
        .filter(|r| r.sim_ms >= at && r.sim_ms < at + 40 * 60_000)
        .collect();
    let truth_at = |t: i64| {
        rec.get::<TruthVitals>()
            .iter()
            .find(|x| x.patient.0 == p && x.sim_ms == t - t.rem_euclid(60_000))
            .and_then(|x| x.glucose_mmol)
            .unwrap()
    };
    assert!(during.len() >= 7);
    for r in &during {
        let truth = truth_at(r.sim_ms);
        assert!(
            r.obs[0].value.unwrap() < truth - 0.8,
            "compression at {}: read {:?}, true {truth}",
            r.sim_ms,
            r.obs[0].value
        );
    }
    assert!(
        rec.get::<ArtifactRecord>()
            .iter()
            .any(|a| a.kind == ArtifactKind::CompressionLow && a.origin == Origin::Scheduled)
    );
    // Non-diabetics without a CGM have no glucose in the ground truth.
    let p5 = dir.patients.iter().position(|p| p.id == "P-W1-05").unwrap() as u32;
    assert!(
        rec.get::<TruthVitals>()
            .iter()
            .filter(|t| t.patient.0 == p5)
            .all(|t| t.glucose_mmol.is_none())
    );
}

#[test]
fn an_occluded_pump_alarms_and_a_bed_exit_is_reported_at_once() {
    let s = bedside(
        "[[event]]\nat = \"1h\"\nbed = \"W1-02\"\nkind = \"pump_occlusion\"\nduration = \"10m\"\n\
         [[event]]\nat = \"3h00m30s\"\nbed = \"W1-02\"\nkind = \"bed_exit\"\nduration = \"5m\"\n",
    );
    let (rec, dir) = run_to_memory(&s);
    let pump = readings_of(rec.get::<Forwarded>(), &dir, "pump-W1-02");
    let occluded: Vec<_> = pump
        .iter()
        .filter(|r| r.obs[0].status == ObsStatus::Occlusion)
        .collect();
    assert!((9..=11).contains(&occluded.len()), "{}", occluded.len());
    let vols: Vec<f32> = occluded.iter().map(|r| r.obs[1].value.unwrap()).collect();
    assert!(
        vols.windows(2).all(|w| w[0] == w[1]),
        "nothing infused: {vols:?}"
    );
    use wardtwin_sim::conditions::ConditionClass as C;
    let occ: Vec<_> = rec
        .get::<ConditionRecord>()
        .iter()
        .filter(|c| c.class == C::PumpOcclusion)
        .collect();
    assert_eq!(occ.len(), 1);
    assert_eq!(occ[0].end_ms.unwrap() - occ[0].onset_ms, 10 * 60_000);

    let bed = readings_of(rec.get::<Forwarded>(), &dir, "bedx-W1-02");
    let exit_at = s.epoch_ms + 3 * 3_600_000 + 30_000;
    let at_exit = bed
        .iter()
        .find(|r| r.sim_ms == exit_at)
        .expect("reported the moment the patient left the bed, not at the next heartbeat");
    assert_eq!(at_exit.obs[0].value, Some(0.0));
    let back = bed
        .iter()
        .find(|r| r.sim_ms == exit_at + 5 * 60_000)
        .expect("and the moment they were back");
    assert_eq!(back.obs[0].value, Some(1.0));
    let exits: Vec<_> = rec
        .get::<ConditionRecord>()
        .iter()
        .filter(|c| c.class == C::BedExit)
        .collect();
    assert_eq!(exits.len(), 1);
    assert_eq!(exits[0].onset_ms, exit_at);
    assert!(
        rec.get::<DeviceEvent>()
            .iter()
            .any(|e| e.kind == DeviceEventKind::BedExited && e.sim_ms == exit_at)
    );
    // Sequence numbers stay contiguous with the extra reports.
    assert!(bed.windows(2).all(|w| w[1].seq == w[0].seq + 1));
}

/// Hardening issue: a BP cuff's battery_low status carried its previous hourly reading's `ts`
/// and battery, up to 45 min before the event. Every device event is stamped with the device's
/// clock at the event and the battery then.
#[test]
fn hardening_device_events_carry_the_events_own_time_and_battery() {
    let s = small(1, "3h", "");
    let (mut app, dir) = build_app(&s, &BuildOptions::default());
    let sink = MemorySink::default();
    app.insert_resource(Sinks::new(vec![Box::new(sink.clone())]));
    let cuff = dir
        .devices
        .iter()
        .position(|d| d.kind == DeviceKind::BpCuff)
        .unwrap();
    let clock_at = |app: &mut bevy_app::App, t: i64| {
        let world = app.world_mut();
        let mut q = world.query::<&Device>();
        q.iter(world)
            .find(|d| d.ix.0 as usize == cuff)
            .map(|d| d.device_time(t, s.epoch_ms))
            .unwrap()
    };
    {
        let world = app.world_mut();
        let mut q = world.query::<(&Device, &mut Battery)>();
        for (d, mut b) in q.iter_mut(world) {
            if d.ix.0 as usize == cuff {
                // Low in 100 minutes: long after the first hourly reading, before the next.
                b.pct = LOW_BATTERY_PCT + b.drain_per_ms * 100.0 * 60_000.0;
            }
        }
    }
    let mut sim = Sim::new(app);
    for _ in 0..(3 * 3600) {
        sim.step();
    }
    let rec = sink.take();
    let low = rec
        .get::<DeviceEvent>()
        .iter()
        .find(|e| e.device.0 as usize == cuff && e.kind == DeviceEventKind::BatteryLow)
        .copied()
        .expect("the cuff's battery ran low");
    let minutes = (low.sim_ms - s.epoch_ms) / 60_000;
    assert!((99..=101).contains(&minutes), "low after {minutes} min");
    assert_eq!(low.device_ms, clock_at(&mut sim.app, low.sim_ms));
    let pct = low.battery_pct.expect("a cuff has a battery");
    assert!(
        (f64::from(pct) - LOW_BATTERY_PCT).abs() < 0.01,
        "battery {pct} at the event, threshold {LOW_BATTERY_PCT}"
    );
    // The last reading before it was long before, with more charge.
    let before = rec
        .get::<Forwarded>()
        .iter()
        .filter(|r| r.device.0 as usize == cuff && r.sim_ms <= low.sim_ms)
        .max_by_key(|r| r.sim_ms)
        .unwrap();
    assert!(low.sim_ms - before.sim_ms > 30 * 60_000);
    assert!(before.battery_pct > pct);
}

/// The truth of `patient` at `t`, linear between truth samples (a minute apart).
fn truth_at(truth: &[&TruthVitals], t: i64, f: fn(&TruthVitals) -> f32) -> Option<f64> {
    let k = truth.iter().position(|x| x.sim_ms > t)?;
    let (a, b) = (truth.get(k.checked_sub(1)?)?, truth[k]);
    let x = (t - a.sim_ms) as f64 / (b.sim_ms - a.sim_ms) as f64;
    Some(f64::from(f(a)) + (f64::from(f(b)) - f64::from(f(a))) * x)
}

fn correlation(pairs: &[(f64, f64)]) -> f64 {
    let sxy: f64 = pairs.iter().map(|(a, b)| a * b).sum();
    let sxx: f64 = pairs.iter().map(|(a, _)| a * a).sum();
    let syy: f64 = pairs.iter().map(|(_, b)| b * b).sum();
    sxy / (sxx * syy).sqrt()
}

/// An oximeter's numeric is an average: consecutive SpO2 readings (15 s apart) share most of
/// their error, so they correlate strongly (before the averaging model: 0.36–0.42, noise SD
/// above the truth's own), while the error stays within the device's accuracy.
#[test]
fn consecutive_spo2_readings_share_their_error() {
    let (rec, dir) = run_to_memory(&small(
        6,
        "6h",
        "[artifacts]\nmotion_per_device_day = 0\nprobe_off_per_device_day = 0\ndevice_failures = 0\n",
    ));
    let mut pairs = Vec::new();
    let mut errors = Vec::new();
    for p in 0..6 {
        let bed = format!("W1-{:02}", p + 1);
        let truth: Vec<&TruthVitals> = rec
            .get::<TruthVitals>()
            .iter()
            .filter(|t| dir.patient(t.patient).id == format!("P-{bed}"))
            .collect();
        let spo2: Vec<(i64, f64)> =
            readings_of(rec.get::<Forwarded>(), &dir, &format!("spo2-{bed}"))
                .iter()
                .map(|r| (r.sim_ms, f64::from(r.obs[0].value.unwrap())))
                .collect();
        let mean = spo2.iter().map(|x| x.1).sum::<f64>() / spo2.len() as f64;
        for w in spo2.windows(2) {
            pairs.push((w[0].1 - mean, w[1].1 - mean));
        }
        let err: Vec<f64> = spo2
            .iter()
            .filter_map(|(t, v)| Some(v - truth_at(&truth, *t, |x| x.spo2)?))
            .collect();
        let m = err.iter().sum::<f64>() / err.len() as f64;
        errors.extend(err.iter().map(|e| e - m));
    }
    let r = correlation(&pairs);
    assert!(r > 0.6, "lag-1 correlation {r:.2}");
    let sd = (errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64).sqrt();
    assert!(
        (0.4..1.2).contains(&sd),
        "error SD around each device's bias {sd:.2}"
    );
}

/// A ward of CGM wearers for a day: MARD against blood glucose within the published range
/// (7.5–14 %: G7 8.2 %, Libre 3 7.8 %, inpatients 12.8 %), larger in relative terms below
/// 3.9 mmol/L; sensors warming up after a change and signal losses blank readings, each covered
/// by its artifact in the ground truth.
#[test]
fn cgm_accuracy_and_failures_match_published_figures() {
    let s = small(
        40,
        "24h",
        "[population]\nconditions = { diabetes = 1.0 }\nkit = \"cgm\"\n\
         [kit.cgm]\ndevices = [{ kind = \"cgm\" }]\n\
         [incidents]\nhypos_per_diabetic_day = 0.5\ncompression_lows_per_night = 0\n",
    );
    let (rec, dir) = run_to_memory(&s);
    let mut rel = Vec::new();
    let mut rel_low = Vec::new();
    let (mut blank, mut total) = (0, 0);
    let arts = rec.get::<ArtifactRecord>();
    for (i, d) in dir.devices.iter().enumerate() {
        if d.kind != DeviceKind::Cgm {
            continue;
        }
        let p = d.patient.unwrap();
        let truth: Vec<&TruthVitals> = rec
            .get::<TruthVitals>()
            .iter()
            .filter(|t| t.patient == p)
            .collect();
        for r in readings_of(rec.get::<Forwarded>(), &dir, &d.id) {
            total += 1;
            let o = r.obs[0];
            let Some(v) = o.value else {
                blank += 1;
                let covered = arts.iter().any(|a| {
                    a.device.0 as usize == i
                        && a.start_ms <= r.sim_ms
                        && r.sim_ms < a.end_ms
                        && matches!(a.kind, ArtifactKind::WarmUp | ArtifactKind::SignalLoss)
                });
                assert!(covered, "{} blank at {} with no artifact", d.id, r.sim_ms);
                assert!(matches!(
                    o.status,
                    ObsStatus::WarmUp | ObsStatus::SensorFault
                ));
                continue;
            };
            let Some(g) = truth_at(&truth, r.sim_ms, |x| x.glucose_mmol.unwrap()) else {
                continue;
            };
            let e = (f64::from(v) - g).abs() / g;
            rel.push(e);
            if g < 3.9 {
                rel_low.push(e);
            }
        }
    }
    let mard = rel.iter().sum::<f64>() / rel.len() as f64;
    assert!((0.075..=0.14).contains(&mard), "MARD {mard:.3}");
    assert!(rel_low.len() > 20, "{} readings below 3.9", rel_low.len());
    let mard_low = rel_low.iter().sum::<f64>() / rel_low.len() as f64;
    assert!(
        mard_low > mard,
        "MARD below 3.9 mmol/L {mard_low:.3} vs {mard:.3}"
    );
    let share = blank as f64 / total as f64;
    assert!((0.003..0.12).contains(&share), "{blank} of {total} blank");
    let kinds: std::collections::BTreeSet<_> = arts
        .iter()
        .filter(|a| matches!(a.kind, ArtifactKind::WarmUp | ArtifactKind::SignalLoss))
        .map(|a| a.kind)
        .collect();
    assert_eq!(
        kinds.len(),
        2,
        "both warm-ups and signal losses in 40 sensor-days"
    );
}

/// Cuffs fail 1–10 % of their measurements (`cuff_error`, no value, a `cuff_failure` in the
/// ground truth), temperature patches come off (`sensor_off`) and lose skin contact (reading
/// low, unflagged), oximeters lose the pulse (`low_perfusion`); `device_failures = 0` turns
/// all of it off.
#[test]
fn cuffs_patches_and_oximeters_fail_at_their_rates() {
    let ward = |extra: &str| {
        small(
            60,
            "24h",
            &format!(
                "[artifacts]\nmotion_per_device_day = 0\nprobe_off_per_device_day = 0\n{extra}\n\
                 [kit.standard]\ndevices = [\n  {{ kind = \"pulse_oximeter\", interval = \"1m\" }},\n  \
                 {{ kind = \"temp_patch\" }},\n  {{ kind = \"bp_cuff\", interval = \"30m\" }},\n]\n"
            ),
        )
    };
    let (rec, dir) = run_to_memory(&ward(""));
    let arts = rec.get::<ArtifactRecord>();
    let covered = |dev: u32, t: i64, kind: ArtifactKind| {
        arts.iter()
            .any(|a| a.device.0 == dev && a.kind == kind && a.start_ms <= t && t < a.end_ms)
    };
    let mut count: BTreeMap<(DeviceKind, ObsStatus), usize> = BTreeMap::new();
    let mut per_kind: BTreeMap<DeviceKind, usize> = BTreeMap::new();
    for f in rec.get::<Forwarded>() {
        let kind = dir.device(f.device).kind;
        let o = f.reading.obs[0];
        *per_kind.entry(kind).or_default() += 1;
        *count.entry((kind, o.status)).or_default() += 1;
        let expect = match o.status {
            ObsStatus::CuffError => Some(ArtifactKind::CuffFailure),
            ObsStatus::SensorOff => Some(ArtifactKind::ProbeOff),
            ObsStatus::LowPerfusion => Some(ArtifactKind::LowPerfusion),
            _ => None,
        };
        if let Some(k) = expect {
            assert!(o.value.is_none());
            assert!(
                covered(f.device.0, f.reading.sim_ms, k),
                "{:?} uncovered",
                o.status
            );
        }
    }
    let share = |k: DeviceKind, s: ObsStatus| {
        count.get(&(k, s)).copied().unwrap_or(0) as f64 / per_kind[&k] as f64
    };
    let cuff = share(DeviceKind::BpCuff, ObsStatus::CuffError);
    assert!((0.01..0.1).contains(&cuff), "cuff errors {cuff:.3}");
    assert!(share(DeviceKind::PulseOximeter, ObsStatus::LowPerfusion) > 0.0);
    let per_day = |k: ArtifactKind| arts.iter().filter(|a| a.kind == k).count() as f64 / 60.0;
    let patch = per_day(ArtifactKind::ProbeOff) + per_day(ArtifactKind::SkinContactLoss);
    assert!(
        (0.05..0.6).contains(&patch),
        "patch faults per device-day {patch:.2}"
    );
    assert!(per_day(ArtifactKind::Reinflation) > 0.0);
    // A patch off the skin reads low, unflagged.
    let truth = rec.get::<TruthVitals>();
    let mut drops = Vec::new();
    for f in rec.get::<Forwarded>() {
        let d = dir.device(f.device);
        let r = &f.reading;
        if d.kind == DeviceKind::TempPatch
            && covered(f.device.0, r.sim_ms, ArtifactKind::SkinContactLoss)
            && r.obs[0].status == ObsStatus::Ok
        {
            let t = truth
                .iter()
                .rfind(|t| Some(t.patient) == d.patient && t.sim_ms <= r.sim_ms)
                .unwrap();
            drops.push(f64::from(t.temp_c) - f64::from(r.obs[0].value.unwrap()));
        }
    }
    assert!(!drops.is_empty());
    let mean = drops.iter().sum::<f64>() / drops.len() as f64;
    assert!(
        (0.6..3.2).contains(&mean),
        "a loose patch reads {mean:.2} °C low"
    );
    // Off: no failure of any kind.
    let (rec, _) = run_to_memory(&ward("device_failures = 0"));
    assert!(rec.get::<ArtifactRecord>().is_empty());
    assert!(
        rec.get::<Forwarded>()
            .iter()
            .all(|f| f.reading.obs[0].status == ObsStatus::Ok
                || f.reading.obs[0].status == ObsStatus::LowBattery)
    );
}
