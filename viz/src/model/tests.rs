use wardtwin_sim::news2::Acvpu;
use wardtwin_sim::records::{
    DeviceIx, Forwarded, Metric, ObsStatus, PatientIx, Reading, Rhythm, TruthVitals, WaveFrame,
};

use super::*;

fn scenario() -> (Scenario, Directory) {
    let text = wardtwin_scenarios::LIBRARY
        .iter()
        .find(|(n, _)| *n == "quickstart")
        .expect("quickstart")
        .1;
    let s = wardtwin_scenarios::parse(text, "quickstart").expect("parses");
    let opts = wardtwin_twins::BuildOptions::default();
    let (_, dir) = wardtwin_twins::build_app(&s, &opts);
    (s, dir)
}

fn device(dir: &Directory, id: &str) -> DeviceIx {
    DeviceIx(dir.devices.iter().position(|d| d.id == id).expect(id) as u32)
}

fn reading(dev: DeviceIx, at: i64, obs: &[(Metric, Option<f32>, ObsStatus)]) -> Forwarded {
    let (o, len) = Reading::pack(obs);
    Forwarded {
        reading: Reading {
            device: dev,
            seq: 0,
            sim_ms: at,
            device_ms: at,
            battery_pct: 80.0,
            len,
            obs: o,
        },
        forwarded_ms: at,
    }
}

fn bed(m: &WardModel, id: &str) -> usize {
    m.beds.iter().position(|b| b.id == id).expect(id)
}

/// A stable patient's full set of measured vitals.
fn measure_all(m: &mut WardModel, dir: &Directory, bed_id: &str, at: i64, v: [f32; 6]) {
    let ok = ObsStatus::Ok;
    m.apply_reading(&reading(
        device(dir, &format!("ecg-{bed_id}")),
        at,
        &[
            (Metric::HeartRate, Some(v[0]), ok),
            (Metric::RespRate, Some(v[2]), ok),
        ],
    ));
    m.apply_reading(&reading(
        device(dir, &format!("spo2-{bed_id}")),
        at,
        &[
            (Metric::Spo2, Some(v[1]), ok),
            (Metric::PulseRate, Some(v[0] + 3.0), ok),
        ],
    ));
    m.apply_reading(&reading(
        device(dir, &format!("nibp-{bed_id}")),
        at,
        &[
            (Metric::Systolic, Some(v[3]), ok),
            (Metric::Diastolic, Some(v[4]), ok),
        ],
    ));
    m.apply_reading(&reading(
        device(dir, &format!("temp-{bed_id}")),
        at,
        &[(Metric::BodyTemp, Some(v[5]), ok)],
    ));
}

#[test]
fn measured_values_and_the_monitors_news2() {
    let (s, dir) = scenario();
    let mut m = WardModel::new(&s, &dir);
    let b = bed(&m, "W1-07");
    assert!(m.beds[b].news2_measured().is_none(), "nothing measured yet");
    let t0 = s.epoch_ms + 60_000;
    measure_all(
        &mut m,
        &dir,
        "W1-07",
        t0,
        [75.0, 97.0, 16.0, 125.0, 75.0, 37.0],
    );
    m.advance(t0 + 1_000);
    let bs = &m.beds[b];
    assert_eq!(
        bs.value(Vital::Hr, false),
        Some(75.0),
        "the ECG's rate, not the pulse"
    );
    assert!(!bs.measured(Vital::Hr).expect("hr").from_pulse);
    assert_eq!(bs.news2_measured().map(|n| n.total), Some(0));
    assert_eq!(m.bed_alarm(b, false).0, Priority::None);

    // Septic numbers: NEWS2 >= 7 is a high-priority alarm.
    let t1 = t0 + 15_000;
    measure_all(
        &mut m,
        &dir,
        "W1-07",
        t1,
        [125.0, 91.0, 26.0, 95.0, 55.0, 39.3],
    );
    m.advance(t1 + 1_000);
    let n = m.beds[b].news2_measured().expect("news2").total;
    assert!(n >= 7, "NEWS2 {n}");
    let (p, text) = m.bed_alarm(b, false);
    assert_eq!(p, Priority::High);
    assert!(text.contains("NEWS2"), "{text}");
}

#[test]
fn a_probe_off_is_a_technical_alarm_and_the_truth_view_ignores_it() {
    let (s, dir) = scenario();
    let mut m = WardModel::new(&s, &dir);
    let b = bed(&m, "W1-12");
    let t0 = s.epoch_ms + 60_000;
    measure_all(
        &mut m,
        &dir,
        "W1-12",
        t0,
        [75.0, 97.0, 16.0, 125.0, 75.0, 37.0],
    );
    m.apply_reading(&reading(
        device(&dir, "spo2-W1-12"),
        t0 + 15_000,
        &[(Metric::Spo2, None, ObsStatus::ProbeOff)],
    ));
    m.advance(t0 + 16_000);
    let (p, text) = m.bed_alarm(b, false);
    assert_eq!(p, Priority::Inop);
    assert!(text.contains("PROBE OFF"), "{text}");
    m.apply_truth(&TruthVitals {
        patient: m.beds[b].patient.expect("occupied"),
        sim_ms: t0,
        heart_rate: 75.0,
        resp_rate: 16.0,
        spo2: 97.0,
        temp_c: 37.0,
        systolic: 125.0,
        diastolic: 75.0,
        consciousness: Acvpu::Alert,
        on_oxygen: false,
        scale: wardtwin_sim::news2::Spo2Scale::Scale1,
        news2: wardtwin_sim::news2::News2::default(),
        glucose_mmol: None,
    });
    assert_eq!(m.bed_alarm(b, true).0, Priority::None);
}

#[test]
fn a_silent_device_is_no_signal_and_a_lethal_rhythm_is_high_in_the_truth() {
    let (s, dir) = scenario();
    let mut m = WardModel::new(&s, &dir);
    let b = bed(&m, "W1-03");
    let t0 = s.epoch_ms + 60_000;
    measure_all(
        &mut m,
        &dir,
        "W1-03",
        t0,
        [75.0, 97.0, 16.0, 125.0, 75.0, 37.0],
    );
    measure_all(
        &mut m,
        &dir,
        "W1-03",
        t0 + 15_000,
        [75.0, 97.0, 16.0, 125.0, 75.0, 37.0],
    );
    m.advance(t0 + 16_000);
    assert_eq!(m.bed_alarm(b, false).0, Priority::None);
    m.advance(t0 + 15_000 + 4 * 15_000);
    let (p, text) = m.bed_alarm(b, false);
    assert_eq!(p, Priority::Inop, "{text}");
    assert!(text.contains("NO SIGNAL"), "{text}");
    let p3 = m.beds[b].patient.expect("occupied");
    m.set_rhythms([(p3, Rhythm::VentricularFibrillation)]);
    assert_eq!(m.bed_alarm(b, true), (Priority::High, "VFIB".to_string()));
}

#[test]
fn the_wave_strip_keeps_the_last_seconds_and_restarts_on_a_gap() {
    let p = PatientIx(3);
    let mut w = WaveStrip {
        patient: Some(p),
        ..WaveStrip::default()
    };
    let frame = |first: u64, n: usize| WaveFrame {
        patient: p,
        sim_ms: 0,
        first: [first, first / 2, first / 4],
        ecg: (0..n).map(|i| (first + i as u64) as f32).collect(),
        pleth: vec![0.5; n / 2],
        resp: vec![0.0; n / 4],
        beats: Vec::new(),
        rhythm: None,
    };
    for s in 0..20u64 {
        w.apply(&frame(s * 250, 250));
    }
    assert_eq!(w.ecg.len(), 12 * 250, "12 s kept");
    assert_eq!(w.ecg_first, 8 * 250);
    assert_eq!(w.end_ms(), 20_000.0);
    let win = w.window(0, 19_000.0, 20_000.0);
    assert_eq!(win.len(), 250);
    assert_eq!(win[0], (19_000.0, 19.0 * 250.0));
    // Before what is held: nothing.
    assert!(w.window(0, 0.0, 5_000.0).is_empty());
    // Another patient's frames are not kept; a gap starts afresh.
    let mut other = frame(20 * 250, 250);
    other.patient = PatientIx(4);
    w.apply(&other);
    assert_eq!(w.end_ms(), 20_000.0);
    w.apply(&frame(40 * 250, 250));
    assert_eq!((w.ecg_first, w.ecg.len()), (40 * 250, 250));
}
