//! The policies' tests: what each alerts on, and what it must not.
use super::*;

fn reading(device: &str, ts: i64, obs: &[(&str, Option<f64>)]) -> ReadingIn {
    ReadingIn {
        device: device.into(),
        patient: Some("P1".into()),
        ts_ms: ts,
        battery_pct: 80.0,
        receiver: None,
        ward: None,
        obs: obs
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    *v,
                    if v.is_some() { "ok" } else { "probe_off" }.to_string(),
                )
            })
            .collect(),
    }
}

#[test]
fn naive_alarms_on_every_crossing_news2_only_on_a_persistent_band() {
    let mut naive = Policy::new(PolicyKind::Naive);
    let mut news2 = Policy::new(PolicyKind::News2);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    // Two motion spikes of SpO2 (one reading each), then a real desaturation for 2 min.
    let spo2 = [
        97., 84., 97., 97., 83., 97., 97., 88., 87., 88., 87., 88., 88., 87., 88., 87.,
    ];
    for (i, v) in spo2.iter().enumerate() {
        let ts = i as i64 * 15 * S;
        for p in [&mut naive, &mut news2] {
            let out = if p.kind() == PolicyKind::Naive {
                &mut a
            } else {
                &mut b
            };
            p.on_reading(
                &reading(
                    "ecg",
                    ts,
                    &[("heart_rate", Some(80.0)), ("resp_rate", Some(16.0))],
                ),
                out,
            );
            p.on_reading(
                &reading(
                    "spo2",
                    ts,
                    &[("spo2", Some(*v)), ("pulse_rate", Some(80.0))],
                ),
                out,
            );
        }
    }
    let desats = |v: &[AlertOut]| v.iter().filter(|a| a.class == "desaturation").count();
    assert_eq!(desats(&a), 3, "naive: each crossing alarms");
    assert_eq!(desats(&b), 1, "news2: spikes filtered, the real one once");
    let d = b.iter().find(|a| a.class == "desaturation").unwrap();
    // The median of the last 5 first falls under 90 at the 9th reading (83 97 97 88 87).
    assert_eq!(d.began_ms, 8 * 15 * S);
}

#[test]
fn a_silent_device_raises_monitoring_lost_once() {
    let mut p = Policy::new(PolicyKind::News2);
    let mut out = Vec::new();
    for i in 0..4 {
        p.on_reading(
            &reading("spo2", i * 15 * S, &[("spo2", Some(97.0))]),
            &mut out,
        );
    }
    for i in 4..20 {
        p.on_reading(
            &reading("ecg", i * 15 * S, &[("heart_rate", Some(80.0))]),
            &mut out,
        );
        p.tick(&mut out);
    }
    let lost: Vec<_> = out
        .iter()
        .filter(|a| a.class == "monitoring_lost")
        .collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].device.as_deref(), Some("spo2"));
    assert_eq!(lost[0].began_ms, 3 * 15 * S + 2 * 15 * S + MIN);
}

fn logger(ts: i64, air: f64, product: f64) -> ReadingIn {
    ReadingIn {
        device: "fridge-VAC".into(),
        patient: None,
        ts_ms: ts,
        battery_pct: 80.0,
        receiver: None,
        ward: None,
        obs: vec![
            ("air_temp".into(), Some(air), "ok".into()),
            ("product_temp".into(), Some(product), "ok".into()),
        ],
    }
}

#[test]
fn a_door_opening_fools_naive_but_not_news2_which_waits_for_the_product() {
    let mut naive = Policy::new(PolicyKind::Naive);
    let mut news2 = Policy::new(PolicyKind::News2);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    // Door spike at 10 min (air only); the product leaves the range at 60 min.
    let series = [
        (4.5, 4.6),
        (4.4, 4.6),
        (12.0, 4.8),
        (5.0, 4.9),
        (5.5, 5.0),
        (9.0, 6.0),
        (10.0, 7.5),
        (11.0, 8.3),
        (11.5, 8.9),
        (12.0, 9.4),
        (12.5, 9.8),
    ];
    for (i, (air, product)) in series.iter().enumerate() {
        let r = logger(i as i64 * 5 * MIN, *air, *product);
        naive.on_reading(&r, &mut a);
        news2.on_reading(&r, &mut b);
    }
    let cc = |v: &[AlertOut]| -> Vec<i64> {
        v.iter()
            .filter(|x| x.class == "cold_chain_excursion")
            .map(|x| x.began_ms)
            .collect()
    };
    assert_eq!(
        cc(&a),
        vec![10 * MIN, 25 * MIN, 35 * MIN],
        "naive: the door, the air, then the product"
    );
    assert_eq!(
        cc(&b),
        vec![35 * MIN],
        "news2: the product, once it stayed out 10 min"
    );
    assert!(b.iter().all(|x| x.subject == "fridge-VAC"));
}

#[test]
fn pump_occlusions_and_bed_exits_alert_once_at_their_onset() {
    let mut p = Policy::new(PolicyKind::News2);
    let mut out = Vec::new();
    let pump = |ts, status: &str| ReadingIn {
        device: "pump-W1-01".into(),
        patient: Some("P1".into()),
        ts_ms: ts,
        battery_pct: 99.0,
        receiver: None,
        ward: None,
        obs: vec![
            ("infusion_rate".into(), Some(100.0), status.into()),
            ("volume_remaining".into(), Some(500.0), "ok".into()),
        ],
    };
    for (i, st) in ["ok", "occlusion", "occlusion", "ok", "occlusion"]
        .iter()
        .enumerate()
    {
        p.on_reading(&pump(i as i64 * MIN, st), &mut out);
    }
    let bed = |ts, v| reading("bedx-W1-01", ts, &[("bed_occupied", Some(v))]);
    for (i, v) in [1.0, 0.0, 0.0, 1.0].iter().enumerate() {
        p.on_reading(&bed(10 * MIN + i as i64 * S, *v), &mut out);
    }
    let got: Vec<_> = out.iter().map(|a| (a.class, a.began_ms)).collect();
    assert_eq!(
        got,
        vec![
            ("pump_occlusion", MIN),
            ("pump_occlusion", 4 * MIN),
            ("bed_exit", 10 * MIN + S)
        ]
    );
}

#[test]
fn a_tag_heard_in_another_zone_breaches_and_one_never_heard_goes_missing() {
    let map = SiteMap {
        receiver_zone: [
            ("rx-W1-EQP".to_string(), "W1".to_string()),
            ("rx-W2-EQP".to_string(), "W2".to_string()),
        ]
        .into(),
        assets: [
            ("tag-W1-IVP01".to_string(), vec!["W1".to_string()]),
            ("tag-W1-IVP02".to_string(), vec!["W1".to_string()]),
        ]
        .into(),
    };
    let tag = |id: &str, ts: i64, rx: &str| ReadingIn {
        device: id.into(),
        patient: None,
        ts_ms: ts,
        battery_pct: 90.0,
        obs: vec![("rssi".into(), Some(-70.0), "ok".into())],
        receiver: Some(rx.into()),
        ward: None,
    };
    let mut results = Vec::new();
    for kind in [PolicyKind::Naive, PolicyKind::News2] {
        let mut p = Policy::new(kind);
        p.set_site_map(map.clone());
        let mut out = Vec::new();
        p.on_reading(&tag("tag-W1-IVP02", 0, "rx-W1-EQP"), &mut out);
        for i in 0..80 {
            let rx = if i < 10 { "rx-W1-EQP" } else { "rx-W2-EQP" };
            p.on_reading(&tag("tag-W1-IVP01", i * 30 * S, rx), &mut out);
            p.tick(&mut out);
        }
        results.push(out);
    }
    let of = |v: &[AlertOut], class: &str| -> Vec<i64> {
        v.iter()
            .filter(|a| a.class == class)
            .map(|a| a.began_ms)
            .collect()
    };
    assert_eq!(
        of(&results[0], "asset_zone_breach"),
        vec![300 * S],
        "naive: at once"
    );
    assert_eq!(
        of(&results[1], "asset_zone_breach"),
        vec![300 * S],
        "news2: after 2 min"
    );
    assert!(results[1].iter().all(|a| a.subject.starts_with("tag-")));
    // IVP02 was heard once at 0 and never again.
    assert_eq!(
        of(&results[0], "asset_missing"),
        vec![5 * MIN],
        "naive: 5 min"
    );
    assert_eq!(
        of(&results[1], "asset_missing"),
        vec![30 * MIN],
        "news2: 30 min"
    );
    // A tag is never "monitoring lost".
    assert!(results[1].iter().all(|a| a.class != "monitoring_lost"));
}

/// Ward W1: two oximeters and the gateway's status device, every 15 s (the gateway every
/// minute), delivered at the stack's clock `clock` (lock-stepped).
fn ward_reading(device: &str, ts: i64) -> ReadingIn {
    let mut r = if device.starts_with("edge") {
        reading(device, ts, &[("spool_depth", Some(0.0))])
    } else {
        reading(device, ts, &[("spo2", Some(97.0))])
    };
    r.ward = Some("W1".into());
    r.patient = (!device.starts_with("edge")).then(|| format!("P-{device}"));
    r
}

/// Feeds W1 from `from` to `to` (s), every 5 s a clock; `heard(device, t)` says who arrives.
fn feed(
    p: &mut Policy,
    out: &mut Vec<AlertOut>,
    from: i64,
    to: i64,
    heard: impl Fn(&str, i64) -> bool,
) {
    for t in (from..to).step_by(5) {
        p.set_clock(t * S);
        for (d, every) in [("ox1", 15), ("ox2", 15), ("edge-W1", 60)] {
            if t % every == 0 && heard(d, t) {
                p.on_reading(&ward_reading(d, t * S), out);
            }
        }
        p.tick(out);
    }
}

#[test]
fn a_silent_ward_raises_gateway_offline_once_and_nothing_per_device() {
    let mut p = Policy::new(PolicyKind::News2);
    let mut out = Vec::new();
    // 10 min of everything, then 10 min of nothing (the uplink is down), then everything.
    feed(&mut p, &mut out, 0, 1200, |_, t| !(600..1200).contains(&t));
    feed(&mut p, &mut out, 1200, 1500, |_, _| true);
    let classes: Vec<&str> = out.iter().map(|a| a.class).collect();
    assert_eq!(classes, ["gateway_offline"], "{out:?}");
    assert_eq!(out[0].subject, "edge-W1");
    assert_eq!(out[0].priority, Priority::High);
    // Last arrival at 585 s, shortest cadence 15 s: silent past 585 + 30 + 60 s.
    assert_eq!(out[0].began_ms, (585 + 30 + 60) * S);
    // A second outage alerts again (it re-armed when data came back).
    feed(&mut p, &mut out, 1500, 2200, |_, t| t < 1800);
    assert_eq!(out.len(), 2);
}

#[test]
fn one_silent_device_in_a_ward_that_is_heard_is_monitoring_lost() {
    let mut p = Policy::new(PolicyKind::News2);
    let mut out = Vec::new();
    feed(&mut p, &mut out, 0, 1200, |d, t| d != "ox1" || t < 600);
    let classes: Vec<&str> = out.iter().map(|a| a.class).collect();
    assert_eq!(classes, ["monitoring_lost"], "{out:?}");
    assert_eq!(out[0].device.as_deref(), Some("ox1"));
}

#[test]
fn a_clock_stepped_back_an_hour_is_not_silence() {
    let mut p = Policy::new(PolicyKind::News2);
    let mut out = Vec::new();
    // ox1's clock steps back an hour at 600 s; its readings still arrive every 15 s.
    for t in (0..2400).step_by(5) {
        p.set_clock(t * S);
        for (d, every) in [("ox1", 15), ("ox2", 15), ("edge-W1", 60)] {
            if t % every == 0 {
                let ts = if d == "ox1" && t >= 600 { t - 3600 } else { t };
                p.on_reading(&ward_reading(d, ts * S), &mut out);
            }
        }
        p.tick(&mut out);
    }
    assert!(out.is_empty(), "{out:?}");
}

/// NEWS2 3 from the wearables alone (RR 21: 2, HR 95: 1), for `minutes`.
fn feed_news2_3(p: &mut Policy, from_min: i64, minutes: i64, out: &mut Vec<AlertOut>) {
    for i in from_min * 4..(from_min + minutes) * 4 {
        let ts = i * 15 * S;
        p.on_reading(
            &reading(
                "ecg",
                ts,
                &[("heart_rate", Some(95.0)), ("resp_rate", Some(21.0))],
            ),
            out,
        );
        p.on_reading(&reading("spo2", ts, &[("spo2", Some(96.0))]), out);
    }
}

fn chart(at: i64, c: Acvpu, oxygen: bool, scale: Spo2Scale) -> ChartIn {
    ChartIn {
        charted_ms: at,
        consciousness: Some(c),
        on_oxygen: Some(oxygen),
        scale: Some(scale),
        ..ChartIn::default()
    }
}

#[test]
fn news2_reads_consciousness_and_oxygen_from_the_chart() {
    let (mut blind, mut charted) = (
        Policy::new(PolicyKind::News2),
        Policy::new(PolicyKind::News2),
    );
    let (mut a, mut b) = (Vec::new(), Vec::new());
    feed_news2_3(&mut blind, 0, 10, &mut a);
    feed_news2_3(&mut charted, 0, 2, &mut b);
    // The round at 2 min charts new confusion (3) on oxygen (2): NEWS2 3 + 5 = 8.
    charted.on_chart(
        "P1",
        chart(2 * MIN, Acvpu::Confused, true, Spo2Scale::Scale1),
        &mut b,
    );
    feed_news2_3(&mut charted, 2, 8, &mut b);
    assert!(
        a.iter().all(|x| x.class != "deterioration"),
        "the wearables alone score 3: {a:?}"
    );
    let high = b
        .iter()
        .find(|x| x.class == "deterioration" && x.priority == Priority::High)
        .expect("the chart makes it 8");
    assert_eq!(high.text, "NEWS2 8>=7");
    assert_eq!(high.began_ms, 2 * MIN, "from the round on");
    // An older round (a resend) changes nothing; naive ignores the chart.
    let n = b.len();
    charted.on_chart(
        "P1",
        chart(MIN, Acvpu::Alert, false, Spo2Scale::Scale1),
        &mut b,
    );
    feed_news2_3(&mut charted, 10, 1, &mut b);
    assert_eq!(b.len(), n);
    let mut naive = Policy::new(PolicyKind::Naive);
    let n = a.len();
    naive.on_chart(
        "P1",
        chart(0, Acvpu::Unresponsive, true, Spo2Scale::Scale1),
        &mut a,
    );
    assert_eq!(a.len(), n);
}

#[test]
fn a_charted_scale_2_does_not_score_a_target_saturation_of_89() {
    let mut alerts = Vec::new();
    for scale in [Spo2Scale::Scale1, Spo2Scale::Scale2] {
        let mut p = Policy::new(PolicyKind::News2);
        let mut out = Vec::new();
        p.on_chart("P1", chart(0, Acvpu::Alert, false, scale), &mut out);
        for i in 0..40 {
            let ts = i * 15 * S;
            p.on_reading(
                &reading(
                    "spo2",
                    ts,
                    &[("spo2", Some(89.0)), ("pulse_rate", Some(80.0))],
                ),
                &mut out,
            );
            p.on_reading(&reading("ecg", ts, &[("resp_rate", Some(16.0))]), &mut out);
        }
        alerts.push(out.iter().filter(|x| x.class == "deterioration").count());
    }
    // Scale 1: SpO2 89 scores 3 (a single parameter 3); scale 2 on air: 88-92 scores 0.
    assert_eq!(alerts, vec![1, 0]);
}
