use wardtwin_scenarios::{Point, Radio};
use wardtwin_sim::records::PositionRecord;
use wardtwin_sim::records::{DeviceKind, Fate, Forwarded};

use super::mean_rssi;
use crate::testkit::{run_to_memory, run_to_memory_with, small};
use wardtwin_sim::{Directory, Recorded};

#[test]
fn rssi_falls_with_distance_and_walls_as_configured() {
    let radio = Radio {
        p1m_dbm: -59.0,
        exponent: 2.2,
        wall_loss_db: 6.0,
        ..Radio::default()
    };
    let at = Point { x_m: 0.0, y_m: 0.0 };
    let p = |d: f64| Point { x_m: d, y_m: 0.0 };
    assert!((mean_rssi(&radio, &at, 0, &p(1.0), 0) + 59.0).abs() < 1e-9);
    assert!(
        (mean_rssi(&radio, &at, 0, &p(10.0), 0) + 81.0).abs() < 1e-9,
        "-22 dB a decade"
    );
    assert!((mean_rssi(&radio, &at, 0, &p(100.0), 0) + 103.0).abs() < 1e-9);
    assert!(
        (mean_rssi(&radio, &at, 0, &p(10.0), 1) + 87.0).abs() < 1e-9,
        "a wall"
    );
}

/// A parked asset's RSSI at its room's receiver: the model's mean, the configured shadowing.
#[test]
fn a_tags_reported_rssi_has_the_models_mean_and_shadowing() {
    let s = small(
        4,
        "6h",
        "[rtls]\nassets_per_bed = 1\nmoves_per_asset_day = 0\nwanders_per_asset_day = 0\nlosses_per_asset_day = 0\nreport_interval = \"10s\"\n\
         [radio]\nshadowing_sd_db = 2.5\n",
    );
    let (rec, dir) = run_to_memory(&s);
    let tag = dir
        .devices
        .iter()
        .position(|d| d.kind == DeviceKind::AssetTag)
        .unwrap();
    let pos = rec
        .get::<PositionRecord>()
        .iter()
        .find(|p| p.device.0 as usize == tag)
        .unwrap();
    let rx = dir
        .receivers
        .iter()
        .position(|r| r.space == pos.space)
        .unwrap();
    let mut v = Vec::new();
    for r in rec
        .get::<Forwarded>()
        .iter()
        .filter(|r| r.device.0 as usize == tag)
    {
        for o in r
            .observations()
            .iter()
            .filter(|o| usize::from(o.source) == rx)
        {
            v.push(f64::from(o.value.unwrap()));
        }
    }
    let n = v.len() as f64;
    assert!(n > 2000.0, "heard at its own room's receiver: {n}");
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let r = &dir.receivers[rx];
    let expected = mean_rssi(
        &s.radio,
        &Point {
            x_m: f64::from(pos.x_m),
            y_m: f64::from(pos.y_m),
        },
        0,
        &Point {
            x_m: f64::from(r.x_m),
            y_m: f64::from(r.y_m),
        },
        0,
    );
    assert!(
        (mean - expected).abs() < 0.3,
        "mean {mean} vs model {expected}"
    );
    // Reports are whole dB: rounding adds 1/12 dB² of variance.
    assert!(
        (sd - (2.5f64.powi(2) + 1.0 / 12.0).sqrt()).abs() < 0.2,
        "sd {sd}"
    );
}

/// An uplink outage fills the spool; a full spool drops by its policy; the rest arrives late.
#[test]
fn a_full_spool_drops_what_the_policy_says() {
    for (policy, keeps_newest) in [("drop_oldest", true), ("drop_newest", false)] {
        let s = small(
            4,
            "2h",
            &format!(
                "[gateways]\nspool_limit = 200\ndrop_policy = \"{policy}\"\nforward_rate = 50\n\
                 [[event]]\nat = \"30m\"\nward = \"W1\"\nkind = \"uplink_outage\"\nduration = \"20m\"\n"
            ),
        );
        let (rec, _) = run_to_memory(&s);
        let start = s.epoch_ms + 30 * 60_000;
        let end = start + 20 * 60_000;
        let during: Vec<_> = crate::testkit::telemetry_fates(&rec)
            .into_iter()
            .filter(|f| f.sim_ms >= start && f.sim_ms < end)
            .collect();
        let dropped: Vec<_> = during
            .iter()
            .filter(|f| f.fate == Fate::SpoolDropped)
            .collect();
        let late: Vec<_> = during
            .iter()
            .filter(|f| f.fate == Fate::DeliveredLate)
            .collect();
        assert_eq!(late.len(), 200, "{policy}: the spool's worth arrives");
        assert_eq!(
            dropped.len(),
            during.len() - 200,
            "{policy}: the rest is dropped"
        );
        assert!(late.iter().all(|f| f.forwarded_ms.unwrap() >= end));
        // 200 messages at 50 per second: drained within 4 s of the uplink coming back.
        assert!(late.iter().all(|f| f.forwarded_ms.unwrap() < end + 5_000));
        let newest_dropped = dropped.iter().map(|f| f.sim_ms).max().unwrap();
        let oldest_kept = late.iter().map(|f| f.sim_ms).min().unwrap();
        if keeps_newest {
            assert!(newest_dropped <= oldest_kept, "{policy}: the oldest went");
        } else {
            let newest_kept = late.iter().map(|f| f.sim_ms).max().unwrap();
            let oldest_dropped = dropped.iter().map(|f| f.sim_ms).min().unwrap();
            assert!(newest_kept <= oldest_dropped, "{policy}: the newest went");
        }
        // Nothing before or after the outage waited.
        assert!(
            crate::testkit::telemetry_fates(&rec)
                .iter()
                .filter(|f| f.sim_ms < start - 1_000 || f.sim_ms > end + 10_000)
                .all(|f| f.fate == Fate::Delivered)
        );
        // The telemetry is what went upstream: no dropped emission in it.
        let dropped_keys: std::collections::BTreeSet<_> =
            dropped.iter().map(|f| (f.device, f.seq)).collect();
        assert!(
            rec.get::<Forwarded>()
                .iter()
                .all(|r| !dropped_keys.contains(&(r.device, r.seq)))
        );
    }
}

/// A room with no receiver of its own, far down an explicit corridor: the oximeter's
/// transmissions are lost as often as the path-loss model says.
#[test]
fn radio_loss_follows_distance_as_the_model_says() {
    let s = small(
        1,
        "12h",
        "[[space]]\nid = \"W1-COR\"\nward = \"W1\"\nkind = \"corridor\"\nrect = [0, 6, 40, 3]\nconnects = [\"MAIN\"]\n\
         [[space]]\nid = \"W1-R1\"\nward = \"W1\"\nkind = \"room\"\nrect = [34, 0, 6, 6]\nconnects = [\"W1-COR\"]\n\
         [[receiver]]\nspace = \"W1-COR\"\nat = [20, 7.5]\n\
         [radio]\nretries = 0\nshadowing_sd_db = 4\n\
         [kit.one]\ndevices = [{ kind = \"pulse_oximeter\" }]\n[population]\nkit = \"one\"\n",
    );
    let (rec, dir) = run_to_memory(&s);
    let ox = dir
        .devices
        .iter()
        .position(|d| d.kind == DeviceKind::PulseOximeter)
        .unwrap() as u32;
    let fates: Vec<_> = crate::testkit::telemetry_fates(&rec)
        .into_iter()
        .filter(|f| f.device.0 == ox)
        .collect();
    let lost = fates.iter().filter(|f| f.fate == Fate::RadioLost).count() as f64;
    let p = lost / fates.len() as f64;
    // The bed stands at the room's middle (37, 3); the receiver at (20, 7.5), through a wall.
    let mean = mean_rssi(
        &s.radio,
        &Point {
            x_m: 37.0,
            y_m: 3.0,
        },
        1,
        &Point {
            x_m: 20.0,
            y_m: 7.5,
        },
        0,
    );
    let z = (s.radio.sensitivity_dbm - mean) / 4.0;
    let expected = 0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2));
    let n = fates.len() as f64;
    let tolerance = 4.0 * (expected * (1.0 - expected) / n).sqrt();
    assert!(
        (p - expected).abs() < tolerance,
        "lost {p:.3}, model {expected:.3} (mean RSSI {mean:.1} dBm, n {n})"
    );
    assert!(
        expected > 0.05 && expected < 0.95,
        "the test exercises the model: {expected}"
    );
}

/// Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

/// Without the gateway plugin the engine forwards every reading as it is emitted: telemetry is
/// still recorded (nothing used to be), each reading delivered at its own time.
#[test]
fn without_the_gateway_plugin_every_reading_is_forwarded_and_delivered_at_once() {
    use bevy_app::PluginGroup;
    let s = small(2, "30m", "");
    let (with, with_dir) = run_to_memory(&s);
    let (without, without_dir) = run_to_memory_with(
        &s,
        crate::TwinPlugins.build().disable::<super::GatewayPlugin>(),
    );
    let readings = without.get::<Forwarded>();
    assert!(
        !readings.is_empty(),
        "telemetry is recorded without gateways"
    );
    assert!(readings.iter().all(|r| r.forwarded_ms == r.sim_ms));
    let fates = crate::testkit::telemetry_fates(&without);
    assert_eq!(fates.len(), readings.len());
    assert!(fates.iter().all(|f| f.fate == Fate::Delivered));
    // Nothing is lost on the way with a healthy gateway either: the same readings, but for
    // the gateways' own, which went with them.
    let keys = |rec: &Recorded, dir: &Directory| {
        let mut k: Vec<_> = rec
            .get::<Forwarded>()
            .iter()
            .map(|r| (dir.devices[r.device.0 as usize].clone(), r.seq, r.sim_ms))
            .filter(|(d, _, _)| d.kind != DeviceKind::EdgeGateway)
            .map(|(d, seq, t)| (d.id, seq, t))
            .collect();
        k.sort();
        k
    };
    assert!(
        without_dir
            .devices
            .iter()
            .all(|d| d.kind != DeviceKind::EdgeGateway)
    );
    assert_eq!(keys(&with, &with_dir), keys(&without, &without_dir));
}
