use wardtwin_sim::records::{
    BatteryLevel, BedIx, DeviceEventKind, DeviceIx, DeviceKind, Metric, ObsStatus, PatientIx,
    StatusReason, StatusReport,
};
use wardtwin_sim::{BedInfo, DeviceInfo, PatientInfo};

use super::schemas::WireSchemas;
use super::*;

fn directory() -> Directory {
    Directory {
        spaces: Vec::new(),
        receivers: Vec::new(),
        beds: vec![BedInfo {
            id: "W1-07".into(),
            ward: "W1".into(),
            room: "W1-R2".into(),
        }],
        patients: vec![PatientInfo {
            id: "P-W1-07".into(),
            bed: BedIx(0),
        }],
        devices: vec![
            DeviceInfo {
                id: "nibp-W1-07".into(),
                kind: DeviceKind::BpCuff,
                patient: Some(PatientIx(0)),
                bed: Some(BedIx(0)),
                ward: "W1".into(),
            },
            DeviceInfo {
                id: "spo2-W1-07".into(),
                kind: DeviceKind::PulseOximeter,
                patient: Some(PatientIx(0)),
                bed: Some(BedIx(0)),
                ward: "W1".into(),
            },
            DeviceInfo {
                id: "spare \"spo2\"".into(),
                kind: DeviceKind::PulseOximeter,
                patient: None,
                bed: None,
                ward: "site".into(),
            },
        ],
    }
}

fn reading(device: u32, obs: &[(Metric, Option<f32>, ObsStatus)]) -> Reading {
    let (o, len) = Reading::pack(obs);
    Reading {
        device: DeviceIx(device),
        seq: 41,
        sim_ms: 1_772_438_400_000,
        device_ms: 1_772_438_401_234,
        battery_pct: 87.46,
        len,
        obs: o,
    }
}

#[test]
fn topics_are_lowercase_general_to_specific_and_within_seven_levels() {
    let w = WireDirectory::new(&directory(), DEFAULT_PREFIX, "St. Elsewhere General").unwrap();
    assert_eq!(
        &*w.devices[0].telemetry_topic,
        "dt/wardtwin/st-elsewhere-general/w1/nibp-w1-07/telemetry"
    );
    assert_eq!(
        &*w.devices[1].status_topic,
        "dt/wardtwin/st-elsewhere-general/w1/spo2-w1-07/status"
    );
    assert_eq!(
        &*w.gateways[0].status_topic,
        "dt/wardtwin/st-elsewhere-general/w1/gw-w1/status"
    );
    // The device on no bed rides the site gateway.
    assert_eq!(w.gateways[1].id, "gw-site");
    assert_eq!(w.gateways[0].devices, vec![0, 1]);
    let deepest = WireDirectory::new(&directory(), "a/b/c", "s").unwrap();
    for d in &deepest.devices {
        for t in [&d.telemetry_topic, &d.status_topic] {
            assert!(t.split('/').count() <= 7, "{t}");
            assert!(t.len() <= 256);
            assert_eq!(t.to_lowercase(), t.to_string());
        }
    }
}

#[test]
fn bad_prefixes_are_refused_with_the_reason() {
    assert_eq!(check_prefix(""), Err(PrefixError::Empty));
    assert!(matches!(
        check_prefix("a/b/c/d"),
        Err(PrefixError::TooDeep(_, 4))
    ));
    for bad in ["Dt/x", "dt/+", "dt/#", "/dt", "dt//x", "dt/x y"] {
        assert!(
            matches!(check_prefix(bad), Err(PrefixError::BadLevel(_))),
            "{bad}"
        );
    }
    assert_eq!(check_prefix("hospital-1/dt_v1"), Ok(()));
}

#[test]
fn telemetry_payload_carries_ids_device_clock_codes_units_and_status() {
    let w = WireDirectory::new(&directory(), DEFAULT_PREFIX, "site").unwrap();
    let r = reading(
        0,
        &[
            (Metric::Systolic, Some(121.0), ObsStatus::Ok),
            (Metric::Diastolic, Some(79.0), ObsStatus::Ok),
            (Metric::MeanArterial, Some(93.0), ObsStatus::Ok),
        ],
    );
    let mut buf = String::new();
    w.telemetry(&r, &mut buf);
    let v: serde_json::Value = serde_json::from_str(&buf).unwrap();
    assert_eq!(v["v"], 1);
    assert_eq!(v["type"], "telemetry");
    assert_eq!(v["device"], "nibp-W1-07");
    assert_eq!(v["device_kind"], "bp_cuff");
    assert_eq!(v["patient"], "P-W1-07");
    assert_eq!(v["bed"], "W1-07");
    assert_eq!(v["ward"], "W1");
    assert_eq!(v["gateway"], "gw-w1");
    assert_eq!(v["seq"], 41);
    // The device's clock, not the simulation's (1.234 s apart here).
    assert_eq!(v["ts"], "2026-03-02T08:00:01.234Z");
    assert_eq!(v["battery_pct"], 87.5);
    assert_eq!(v["status"], "ok");
    let obs = v["obs"].as_array().unwrap();
    assert_eq!(obs.len(), 3);
    assert_eq!(obs[0]["loinc"], "8480-6");
    assert_eq!(obs[0]["mdc"], 150_021);
    assert_eq!(obs[0]["unit"], "mm[Hg]");
    assert_eq!(obs[0]["value"], 121.0);
    WireSchemas::load().check(buf.as_bytes()).unwrap();
}

#[test]
fn a_detached_probe_reports_null_values_and_its_status() {
    let w = WireDirectory::new(&directory(), DEFAULT_PREFIX, "site").unwrap();
    let r = reading(
        1,
        &[
            (Metric::Spo2, None, ObsStatus::ProbeOff),
            (Metric::PulseRate, None, ObsStatus::ProbeOff),
        ],
    );
    let mut buf = String::new();
    w.telemetry(&r, &mut buf);
    let v: serde_json::Value = serde_json::from_str(&buf).unwrap();
    assert_eq!(v["status"], "probe_off");
    assert!(v["obs"][0]["value"].is_null());
    assert_eq!(v["obs"][1]["loinc"], "8867-4");
    assert_eq!(v["obs"][1]["mdc"], 149_530);
    WireSchemas::load().check(buf.as_bytes()).unwrap();
}

#[test]
fn every_payload_kind_validates_and_odd_ids_are_escaped() {
    let schemas = WireSchemas::load();
    let w = WireDirectory::new(&directory(), DEFAULT_PREFIX, "site").unwrap();
    let mut buf = String::new();
    w.telemetry(
        &reading(2, &[(Metric::Spo2, Some(97.0), ObsStatus::Ok)]),
        &mut buf,
    );
    schemas.check(buf.as_bytes()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&buf).unwrap();
    assert_eq!(v["device"], "spare \"spo2\"");
    assert!(v["patient"].is_null());
    for reason in [
        StatusReason::Online,
        StatusReason::Periodic,
        StatusReason::SignalChange,
        StatusReason::Event(DeviceEventKind::BatteryLow),
        StatusReason::Event(DeviceEventKind::BatteryDepleted),
    ] {
        w.device_status(&status(9.96, ObsStatus::ProbeOff, reason), &mut buf);
        schemas.check(buf.as_bytes()).unwrap();
    }
    schemas.check(w.device_will(1).as_bytes()).unwrap();
    for (online, reason, ts) in [
        (true, GatewayReason::Connected, Some(1_772_438_400_000)),
        (false, GatewayReason::Shutdown, Some(1_772_438_400_000)),
        (false, GatewayReason::ConnectionLost, None),
    ] {
        let g = w.gateway_status(0, online, reason, ts);
        schemas.check(g.as_bytes()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&g).unwrap();
        assert_eq!(v["devices"], 2);
    }
}

#[test]
fn the_schemas_reject_what_a_consumer_could_not_use() {
    let schemas = WireSchemas::load();
    let w = WireDirectory::new(&directory(), DEFAULT_PREFIX, "site").unwrap();
    let mut buf = String::new();
    w.telemetry(
        &reading(1, &[(Metric::Spo2, Some(97.0), ObsStatus::Ok)]),
        &mut buf,
    );
    let good: serde_json::Value = serde_json::from_str(&buf).unwrap();
    let broken = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        schemas.check(v.to_string().as_bytes())
    };
    assert!(
        broken(&|v| {
            v.as_object_mut().unwrap().remove("seq");
        })
        .is_err()
    );
    assert!(broken(&|v| v["ts"] = "2026-03-02 08:00:01".into()).is_err());
    assert!(broken(&|v| v["obs"][0]["unit"] = "percent".into()).is_err());
    assert!(broken(&|v| v["extra"] = 1.into()).is_err());
    // A gateway will that claims to be online is refused.
    let mut will: serde_json::Value =
        serde_json::from_str(&w.gateway_status(0, false, GatewayReason::ConnectionLost, None))
            .unwrap();
    will["state"] = "online".into();
    assert!(schemas.check(will.to_string().as_bytes()).is_err());
    assert!(schemas.check(b"{\"type\":\"mystery\"}").is_err());
    assert!(schemas.check(b"not json").is_err());
}

#[test]
fn every_device_kind_metric_and_status_validates_with_null_codes_where_none_exist() {
    let schemas = WireSchemas::load();
    let mut dir = directory();
    dir.devices = DeviceKind::ALL
        .iter()
        .map(|k| DeviceInfo {
            id: format!("{}-x", k.id_prefix()),
            kind: *k,
            patient: k.on_patient().then_some(PatientIx(0)),
            bed: k.on_patient().then_some(BedIx(0)),
            ward: "W1".into(),
        })
        .collect();
    let w = WireDirectory::new(&dir, DEFAULT_PREFIX, "site").unwrap();
    let mut buf = String::new();
    for (i, k) in DeviceKind::ALL.iter().enumerate() {
        for status in ObsStatus::ALL {
            let obs: Vec<_> = k
                .metrics()
                .iter()
                .map(|m| (*m, Some(1.5), status))
                .collect();
            w.telemetry(&reading(i as u32, &obs), &mut buf);
            schemas
                .check(buf.as_bytes())
                .unwrap_or_else(|e| panic!("{k:?} {status:?}: {e}\n{buf}"));
            let v: serde_json::Value = serde_json::from_str(&buf).unwrap();
            assert_eq!(v["device_kind"], k.name());
            for (o, m) in v["obs"].as_array().unwrap().iter().zip(k.metrics()) {
                assert_eq!(
                    o["loinc"],
                    serde_json::json!(super::codes::loinc(*m)),
                    "{m:?}"
                );
                assert_eq!(o["mdc"], serde_json::json!(super::codes::mdc(*m)), "{m:?}");
                assert_eq!(o["unit"], super::codes::ucum(*m));
            }
        }
    }
    // A fridge logger is on no patient and no bed, but in a ward.
    let fridge = DeviceKind::ALL
        .iter()
        .position(|k| *k == DeviceKind::FridgeLogger)
        .unwrap();
    w.telemetry(
        &reading(
            fridge as u32,
            &[(Metric::AirTemp, Some(4.2), ObsStatus::Ok)],
        ),
        &mut buf,
    );
    let v: serde_json::Value = serde_json::from_str(&buf).unwrap();
    assert_eq!(
        (&v["patient"], &v["bed"], &v["ward"]),
        (
            &serde_json::Value::Null,
            &serde_json::Value::Null,
            &serde_json::json!("W1")
        )
    );
}

/// Hardening issue: `"value":NaN` reached the wire. Whatever the model hands the encoder, every
/// payload is JSON that validates: a value that is not finite is `null` with a status that says
/// the sensor failed, a battery that is not finite is `null`.
#[test]
fn hardening_non_finite_numbers_never_reach_the_wire() {
    let schemas = WireSchemas::load();
    let w = WireDirectory::new(&directory(), DEFAULT_PREFIX, "site").unwrap();
    let mut buf = String::new();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX] {
        let mut r = reading(
            2,
            &[
                (Metric::Spo2, Some(bad), ObsStatus::Ok),
                (Metric::PulseRate, Some(bad), ObsStatus::ProbeOff),
            ],
        );
        r.battery_pct = bad;
        w.telemetry(&r, &mut buf);
        let v: serde_json::Value =
            serde_json::from_str(&buf).unwrap_or_else(|e| panic!("{buf}: {e}"));
        schemas.check(buf.as_bytes()).unwrap();
        if bad.is_finite() {
            assert!(v["obs"][0]["value"].is_number(), "{buf}");
            continue;
        }
        assert!(v["obs"][0]["value"].is_null(), "{buf}");
        assert_eq!(v["obs"][0]["status"], "sensor_fault", "{buf}");
        assert_eq!(v["obs"][1]["status"], "probe_off", "{buf}");
        w.device_status(
            &status(bad, ObsStatus::Ok, StatusReason::Periodic),
            &mut buf,
        );
        serde_json::from_str::<serde_json::Value>(&buf).unwrap_or_else(|e| panic!("{buf}: {e}"));
        schemas.check(buf.as_bytes()).unwrap();
    }
}

fn status(battery_pct: f32, signal: ObsStatus, reason: StatusReason) -> StatusReport {
    StatusReport {
        device: DeviceIx(1),
        seq: 0,
        sim_ms: 1_772_438_400_000,
        device_ms: 1_772_438_400_000,
        forwarded_ms: 1_772_438_400_000,
        battery_pct,
        battery: BatteryLevel::Low,
        signal,
        reason,
    }
}

/// A waveform frame: each signal on its device's waveform topic, SampledData-shaped, valid
/// against its schema; the samples scale back to the physical values; NaN goes as null.
#[test]
fn waveform_frames_validate_and_scale_back() {
    let dir = directory();
    let wire = WireDirectory::new(&dir, DEFAULT_PREFIX, "Example General").unwrap();
    // The oximeter carries the patient's pleth (there is no ECG patch here).
    assert_eq!(wire.waveform_devices[0], [None, Some(1)]);
    let f = wardtwin_sim::records::WaveFrame {
        patient: PatientIx(0),
        sim_ms: 1_000,
        first: [250, 125, 62],
        ecg: vec![0.0; 250],
        pleth: (0..125)
            .map(|i| i as f32 / 100.0)
            .chain([f32::NAN])
            .collect(),
        resp: vec![0.5; 63],
        beats: Vec::new(),
        rhythm: None,
    };
    let mut out = String::new();
    wire.waveform(1, &f, 1, 0, 1, &mut out);
    WireSchemas::load()
        .check(out.as_bytes())
        .unwrap_or_else(|e| panic!("{e}\n{out}"));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["signal"], "pleth");
    assert_eq!(v["ts"], "1970-01-01T00:00:01.000Z");
    assert_eq!(v["first_sample"], 125);
    let data = v["data"].as_array().unwrap();
    assert!((data[42].as_f64().unwrap() * v["factor"].as_f64().unwrap() - 0.42).abs() < 1e-9);
    assert!(data[125].is_null());
    assert!(
        wire.devices[1]
            .waveform_topic
            .ends_with("/w1/spo2-w1-07/waveform")
    );
}
