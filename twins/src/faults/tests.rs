//! Each fault mechanism produces the fates the model says, and the gap ledger says what the
//! receiving side could know.

use wardtwin_sim::conditions::{ConditionClass, ConditionRecord};
use wardtwin_sim::records::{
    DeviceEvent, DeviceEventKind, DeviceKind, EmissionFate, Fate, FaultKind, FaultRecord, Forwarded,
};
use wardtwin_sim::{Directory, Recorded};

use crate::testkit::{run_to_memory, small, telemetry_fates};

const MIN: i64 = 60_000;
/// The test scenarios' epoch, 2026-03-02T00:00:00Z.
const EPOCH: i64 = 1_772_409_600_000;

fn device_of(dir: &Directory, kind: DeviceKind) -> Vec<u32> {
    dir.devices
        .iter()
        .enumerate()
        .filter(|(_, d)| d.kind == kind)
        .map(|(i, _)| i as u32)
        .collect()
}

fn fates_of(rec: &Recorded, devices: &[u32]) -> Vec<EmissionFate> {
    telemetry_fates(rec)
        .into_iter()
        .filter(|f| devices.contains(&f.device.0))
        .collect()
}

fn conditions(rec: &Recorded, class: ConditionClass) -> Vec<ConditionRecord> {
    rec.get::<ConditionRecord>()
        .iter()
        .filter(|c| c.class == class)
        .copied()
        .collect()
}

/// Two beds of an ECG patch (buffers) and an oximeter (streams); the ward's receivers down
/// 30-40 min.
fn wifi_run(buffer: Option<u32>) -> (Recorded, Directory) {
    let ecg = match buffer {
        Some(n) => format!("{{ kind = \"ecg_patch\", interval = \"15s\", buffer = {n} }}"),
        None => "{ kind = \"ecg_patch\", interval = \"15s\" }".to_string(),
    };
    let s = small(
        2,
        "1h",
        &format!(
            "[kit.k]\ndevices = [{ecg}, {{ kind = \"pulse_oximeter\", interval = \"15s\" }}]\n\
             [population]\nkit = \"k\"\n\
             [[event]]\nat = \"30m\"\nward = \"W1\"\nkind = \"wifi_outage\"\nduration = \"10m\"\n"
        ),
    );
    run_to_memory(&s)
}

#[test]
fn a_wifi_outage_loses_the_streaming_devices_readings_and_backfills_the_buffering_ones_in_order() {
    let (rec, dir) = wifi_run(None);
    let (start, end) = (EPOCH + 30 * MIN, EPOCH + 40 * MIN);
    let during = |f: &&EmissionFate| f.sim_ms >= start && f.sim_ms < end;
    let ox = fates_of(&rec, &device_of(&dir, DeviceKind::PulseOximeter));
    let ox_during: Vec<_> = ox.iter().filter(during).collect();
    assert_eq!(ox_during.len(), 2 * 40, "two oximeters, 10 min at 15 s");
    assert!(
        ox_during.iter().all(|f| f.fate == Fate::RadioLost),
        "an oximeter keeps nothing"
    );
    let ecg = fates_of(&rec, &device_of(&dir, DeviceKind::EcgPatch));
    let ecg_during: Vec<_> = ecg.iter().filter(during).collect();
    assert_eq!(ecg_during.len(), 2 * 40);
    assert!(
        ecg_during
            .iter()
            .all(|f| f.fate == Fate::DeliveredLate && f.forwarded_ms.unwrap() >= end),
        "every buffered reading arrives after the heal"
    );
    // In order: each patch's backfill is forwarded by sequence.
    for d in device_of(&dir, DeviceKind::EcgPatch) {
        let mut sent: Vec<(i64, u32)> = rec
            .get::<Forwarded>()
            .iter()
            .filter(|r| r.device.0 == d)
            .map(|r| (r.forwarded_ms, r.seq))
            .collect();
        sent.sort();
        assert!(
            sent.windows(2).all(|w| w[0].1 < w[1].1),
            "in sequence order"
        );
    }
    // Outside the outage (after the backfill), nothing waits.
    assert!(
        ox.iter()
            .chain(&ecg)
            .filter(|f| f.sim_ms < start - 1_000 || f.sim_ms >= end + MIN)
            .all(|f| f.fate == Fate::Delivered)
    );
    // The ledger: a data gap per device (the gateway's own status kept arriving: no
    // gateway_offline), each from its last arrival + allowance to its first after the heal.
    let gaps = conditions(&rec, ConditionClass::DataGap);
    assert_eq!(gaps.len(), 4, "{gaps:?}");
    assert!(gaps.iter().all(|g| !g.transient));
    assert!(gaps.iter().all(|g| {
        g.onset_ms > start && g.onset_ms <= start + 90_000 && g.end_ms.unwrap() >= end
    }));
    assert!(conditions(&rec, ConditionClass::GatewayOffline).is_empty());
    // The fault itself.
    let faults = rec.get::<FaultRecord>();
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0].kind, FaultKind::WifiOutage);
    assert_eq!((faults[0].start_ms, faults[0].end_ms), (start, Some(end)));
}

#[test]
fn a_full_onboard_buffer_drops_its_oldest() {
    let (rec, dir) = wifi_run(Some(10));
    let (start, end) = (EPOCH + 30 * MIN, EPOCH + 40 * MIN);
    for d in device_of(&dir, DeviceKind::EcgPatch) {
        let during: Vec<_> = fates_of(&rec, &[d])
            .into_iter()
            .filter(|f| f.sim_ms >= start && f.sim_ms < end)
            .collect();
        let dropped: Vec<_> = during
            .iter()
            .filter(|f| f.fate == Fate::BufferDropped)
            .collect();
        let late: Vec<_> = during
            .iter()
            .filter(|f| f.fate == Fate::DeliveredLate)
            .collect();
        assert_eq!(
            (dropped.len(), late.len()),
            (30, 10),
            "a buffer of 10 keeps 10"
        );
        let newest_dropped = dropped.iter().map(|f| f.seq).max().unwrap();
        assert!(
            late.iter().all(|f| f.seq > newest_dropped),
            "the oldest went"
        );
    }
}

/// W1's uplink down 20-40 min; its gateway without power 30-35 min.
fn power_run(spool: &str) -> (Recorded, Directory) {
    let s = small(
        3,
        "1h",
        &format!(
            "[[event]]\nat = \"20m\"\nward = \"W1\"\nkind = \"uplink_outage\"\nduration = \"20m\"\n\
             [[event]]\nat = \"30m\"\nward = \"W1\"\nkind = \"gateway_power_loss\"\nduration = \"5m\"\nspool = \"{spool}\"\n"
        ),
    );
    run_to_memory(&s)
}

#[test]
fn a_volatile_spool_is_lost_with_the_power_and_a_persistent_one_survives() {
    let (off, on) = (EPOCH + 30 * MIN, EPOCH + 35 * MIN);
    let (rec, _) = power_run("volatile");
    let fates = telemetry_fates(&rec);
    let lost: Vec<_> = fates.iter().filter(|f| f.fate == Fate::SpoolLost).collect();
    // What was spooled when the power went: everything heard from the uplink's loss until then.
    assert!(!lost.is_empty());
    assert!(
        lost.iter()
            .all(|f| f.sim_ms >= EPOCH + 20 * MIN - 1_000 && f.sim_ms < off)
    );
    let spooled = fates
        .iter()
        .filter(|f| f.sim_ms >= EPOCH + 20 * MIN && f.sim_ms < off)
        .filter(|f| f.fate != Fate::RadioLost)
        .count();
    assert!(lost.len() >= spooled, "{} of {spooled}", lost.len());
    // While it was down, nobody took the streaming devices' readings.
    assert!(
        fates
            .iter()
            .filter(|f| f.sim_ms >= off && f.sim_ms < on)
            .all(|f| matches!(f.fate, Fate::RadioLost | Fate::DeliveredLate))
    );
    let (rec, dir) = power_run("persistent");
    let fates = telemetry_fates(&rec);
    assert!(fates.iter().all(|f| f.fate != Fate::SpoolLost));
    assert!(
        fates
            .iter()
            .filter(|f| f.sim_ms >= EPOCH + 20 * MIN && f.sim_ms < off)
            .all(|f| matches!(f.fate, Fate::DeliveredLate | Fate::RadioLost))
    );
    // The whole ward was silent: one gateway_offline, the devices' gaps inside it transient.
    let offline = conditions(&rec, ConditionClass::GatewayOffline);
    assert_eq!(offline.len(), 1, "{offline:?}");
    let o = offline[0];
    assert!(o.onset_ms > EPOCH + 20 * MIN && o.onset_ms < EPOCH + 22 * MIN);
    assert!(o.end_ms.unwrap() >= EPOCH + 40 * MIN);
    let gaps = conditions(&rec, ConditionClass::DataGap);
    assert!(!gaps.is_empty());
    assert!(gaps.iter().all(|g| g.transient), "{gaps:?}");
    // The gateway's own silence is not a monitoring loss.
    let gw = wardtwin_sim::conditions::Subject::Device(wardtwin_sim::records::DeviceIx(
        device_of(&dir, DeviceKind::EdgeGateway)[0],
    ));
    assert!(
        conditions(&rec, ConditionClass::MonitoringLost)
            .iter()
            .all(|c| c.subject != gw)
    );
}

#[test]
fn flapping_takes_the_uplink_down_every_other_period() {
    let s = small(
        2,
        "2h",
        "[[event]]\nat = \"30m\"\nward = \"W1\"\nkind = \"uplink_flapping\"\nduration = \"40m\"\nperiod = \"5m\"\n",
    );
    let (rec, _) = run_to_memory(&s);
    let lost: Vec<i64> = rec
        .get::<DeviceEvent>()
        .iter()
        .filter(|e| e.kind == DeviceEventKind::UplinkLost)
        .map(|e| e.sim_ms)
        .collect();
    let expected: Vec<i64> = (0..4).map(|k| EPOCH + (30 + 10 * k) * MIN).collect();
    assert_eq!(lost, expected);
    let offline = conditions(&rec, ConditionClass::GatewayOffline);
    assert_eq!(offline.len(), 4, "one per drop of 5 min: {offline:?}");
    assert!(telemetry_fates(&rec).iter().all(|f| matches!(
        f.fate,
        Fate::Delivered | Fate::DeliveredLate | Fate::RadioLost
    )));
}

#[test]
fn a_battery_wave_flattens_its_share_within_the_window() {
    let s = small(
        20,
        "2h",
        "[[event]]\nat = \"30m\"\nward = \"W1\"\nkind = \"battery_wave\"\nduration = \"10m\"\nshare = 0.5\n",
    );
    let (rec, dir) = run_to_memory(&s);
    let worn = dir.devices.iter().filter(|d| d.bed.is_some()).count();
    let flat: Vec<&DeviceEvent> = rec
        .get::<DeviceEvent>()
        .iter()
        .filter(|e| e.kind == DeviceEventKind::BatteryDepleted)
        .collect();
    let share = flat.len() as f64 / worn as f64;
    assert!((0.3..0.7).contains(&share), "{} of {worn}", flat.len());
    // Each sags to empty within 10 min of failing, and fails inside the window.
    assert!(
        flat.iter()
            .all(|e| e.sim_ms >= EPOCH + 30 * MIN && e.sim_ms <= EPOCH + 51 * MIN)
    );
    // Each is a real loss of monitoring, and never a data gap (nothing was emitted).
    let lost: std::collections::BTreeSet<_> = conditions(&rec, ConditionClass::MonitoringLost)
        .iter()
        .map(|c| c.subject)
        .collect();
    // (A cuff reads hourly: its loss is not due before the run ends.)
    for e in flat
        .iter()
        .filter(|e| dir.devices[e.device.0 as usize].kind != DeviceKind::BpCuff)
    {
        assert!(
            lost.contains(&wardtwin_sim::conditions::Subject::Device(e.device)),
            "{e:?}"
        );
    }
    assert!(conditions(&rec, ConditionClass::DataGap).is_empty());
}

#[test]
fn a_clock_step_moves_device_time_and_nothing_else() {
    let base = "[kit.k]\ndevices = [{ kind = \"pulse_oximeter\", interval = \"15s\" }]\n[population]\nkit = \"k\"\n";
    let (plain, _) = run_to_memory(&small(2, "1h", base));
    let (stepped, dir) = run_to_memory(&small(
        2,
        "1h",
        &format!(
            "{base}[[event]]\nat = \"20m\"\nbed = \"W1-01\"\nkind = \"clock_step\"\ndevice = \"pulse_oximeter\"\nstep = \"-1h\"\n"
        ),
    ));
    let hit = dir
        .devices
        .iter()
        .position(|d| d.id == "spo2-W1-01")
        .unwrap() as u32;
    let (a, b) = (plain.get::<Forwarded>(), stepped.get::<Forwarded>());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        let shift = if y.device.0 == hit && y.sim_ms >= EPOCH + 20 * MIN {
            -60 * MIN
        } else {
            0
        };
        assert_eq!(y.device_ms, x.device_ms + shift);
        assert_eq!((y.sim_ms, y.obs), (x.sim_ms, x.obs));
    }
    assert!(conditions(&stepped, ConditionClass::DataGap).is_empty());
}

/// Two oximeters at 15 s; ward W1's uplink degraded 30-50 min by `how`.
fn degraded_run(how: &str) -> (Recorded, Directory) {
    let s = small(
        2,
        "2h",
        &format!(
            "[kit.k]\ndevices = [{{ kind = \"pulse_oximeter\", interval = \"15s\" }}]\n\
             [population]\nkit = \"k\"\n\
             [[event]]\nat = \"30m\"\nward = \"W1\"\nkind = \"uplink_degraded\"\nduration = \"20m\"\n{how}\n"
        ),
    );
    run_to_memory(&s)
}

#[test]
fn a_degraded_uplink_delays_each_message_within_its_jitter_loses_its_share_and_reorders() {
    let (rec, dir) = degraded_run("latency = \"2m\"\njitter = \"90s\"\nloss = 0.2");
    let (start, end) = (EPOCH + 30 * MIN, EPOCH + 50 * MIN);
    let ox = fates_of(&rec, &device_of(&dir, DeviceKind::PulseOximeter));
    // Every reading has exactly one fate.
    let mut keys: Vec<_> = ox.iter().map(|f| (f.device, f.seq)).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), ox.len());
    // Sent during the window (forwarded the step they were measured: the spool is empty).
    let sent: Vec<_> = ox
        .iter()
        .filter(|f| f.sim_ms >= start && f.sim_ms < end)
        .collect();
    assert_eq!(sent.len(), 2 * 80);
    let lost = sent.iter().filter(|f| f.fate == Fate::UplinkLost).count();
    assert!(
        (16..=48).contains(&lost),
        "about a fifth of 160 lost, got {lost}"
    );
    assert!(
        sent.iter()
            .filter(|f| f.fate == Fate::UplinkLost)
            .all(|f| f.sink == "uplink" && f.forwarded_ms.is_none())
    );
    for f in sent.iter().filter(|f| f.fate != Fate::UplinkLost) {
        let delay = f.forwarded_ms.expect("delivered") - f.sim_ms;
        assert_eq!(f.fate, Fate::DeliveredLate);
        assert!(
            (30_000..=210_000).contains(&delay),
            "2 min ± 90 s, got {delay} ms"
        );
    }
    // With 90 s of jitter and 15 s between readings, some overtake others.
    let mut reordered = 0;
    for d in device_of(&dir, DeviceKind::PulseOximeter) {
        let seqs: Vec<u32> = rec
            .get::<Forwarded>()
            .iter()
            .filter(|r| r.device.0 == d)
            .map(|r| r.seq)
            .collect();
        reordered += seqs.windows(2).filter(|w| w[1] < w[0]).count();
    }
    assert!(reordered > 0, "jitter beyond the spacing reorders");
    // Outside the window (and its last arrivals), nothing is touched.
    assert!(
        ox.iter()
            .filter(|f| f.sim_ms < start || f.sim_ms >= end + 4 * MIN)
            .all(|f| f.fate == Fate::Delivered)
    );
    let faults = rec.get::<FaultRecord>();
    assert_eq!(faults[0].kind, FaultKind::UplinkDegraded);
    assert_eq!(
        faults[0].param,
        wardtwin_sim::records::FaultParam::Degraded(wardtwin_sim::records::Degradation {
            latency_ms: 120_000,
            jitter_ms: 90_000,
            loss: 0.2,
            bandwidth: None
        })
    );
}

#[test]
fn a_bandwidth_cap_holds_the_excess_in_the_spool_and_loses_nothing() {
    // Two oximeters at 15 s and the gateway's own status: about 0.15 messages per second,
    // through an uplink that carries 0.05.
    let (rec, dir) = degraded_run("bandwidth = 0.05");
    let (start, end) = (EPOCH + 30 * MIN, EPOCH + 50 * MIN);
    let through = rec
        .get::<Forwarded>()
        .iter()
        .filter(|r| r.forwarded_ms >= start && r.forwarded_ms < end)
        .count();
    assert!(
        (55..=61).contains(&through),
        "20 min at 0.05/s is 60 messages, got {through}"
    );
    let ox = fates_of(&rec, &device_of(&dir, DeviceKind::PulseOximeter));
    assert!(
        ox.iter()
            .all(|f| matches!(f.fate, Fate::Delivered | Fate::DeliveredLate))
    );
    let late = ox.iter().filter(|f| f.fate == Fate::DeliveredLate).count();
    assert!(late > 60, "the excess waited: {late}");
    // The backlog drains after the heal.
    assert!(
        ox.iter()
            .filter(|f| f.sim_ms >= end + 10 * MIN)
            .all(|f| f.fate == Fate::Delivered)
    );
}

#[test]
fn a_broker_outage_spools_every_wards_data_and_takes_every_gateway_offline() {
    let s = small(
        2,
        "2h",
        "[[ward]]\nid = \"W2\"\nbeds = 2\n\
         [kit.k]\ndevices = [{ kind = \"pulse_oximeter\", interval = \"15s\" }]\n\
         [population]\nkit = \"k\"\n\
         [[event]]\nat = \"30m\"\nkind = \"broker_restart\"\nduration = \"10m\"\n",
    );
    let (rec, dir) = run_to_memory(&s);
    let (start, end) = (EPOCH + 30 * MIN, EPOCH + 40 * MIN);
    let ox = fates_of(&rec, &device_of(&dir, DeviceKind::PulseOximeter));
    let during: Vec<_> = ox
        .iter()
        .filter(|f| f.sim_ms >= start && f.sim_ms < end)
        .collect();
    assert_eq!(during.len(), 4 * 40, "both wards' oximeters");
    assert!(
        during
            .iter()
            .all(|f| f.fate == Fate::DeliveredLate && f.forwarded_ms.unwrap() >= end),
        "spooled by their gateways, forwarded after the restart"
    );
    let offline = conditions(&rec, ConditionClass::GatewayOffline);
    assert_eq!(offline.len(), 2, "one per ward: {offline:?}");
    let faults = rec.get::<FaultRecord>();
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0].kind, FaultKind::BrokerRestart);
    assert_eq!((faults[0].gateway, faults[0].device), (None, None));
    assert_eq!(
        faults[0].param,
        wardtwin_sim::records::FaultParam::Persistence(false)
    );
}

/// Two beds of an oximeter and an ECG patch at 15 s, with `event` added.
fn radio_run(event: &str) -> (Recorded, Directory) {
    let s = small(
        2,
        "1h",
        &format!(
            "[kit.k]\ndevices = [{{ kind = \"ecg_patch\", interval = \"15s\" }}, \
             {{ kind = \"pulse_oximeter\", interval = \"15s\" }}]\n\
             [population]\nkit = \"k\"\n{event}"
        ),
    );
    run_to_memory(&s)
}

#[test]
fn interference_loses_readings_on_the_radio_inside_its_window_only() {
    let (start, end) = (EPOCH + 20 * MIN, EPOCH + 40 * MIN);
    let lost_in = |rec: &Recorded, dir: &Directory, inside: bool| {
        fates_of(rec, &device_of(dir, DeviceKind::PulseOximeter))
            .iter()
            .filter(|f| (start..end).contains(&f.sim_ms) == inside)
            .filter(|f| f.fate == Fate::RadioLost)
            .count()
    };
    let (quiet, dir) = radio_run("");
    let (noisy, dir2) = radio_run(
        "[[event]]\nat = \"20m\"\nward = \"W1\"\nkind = \"radio_interference\"\nduration = \"20m\"\nattenuation = 45.0\n",
    );
    assert!(
        lost_in(&noisy, &dir2, true) > lost_in(&quiet, &dir, true) + 20,
        "45 dB more loss: {} lost, {} without",
        lost_in(&noisy, &dir2, true),
        lost_in(&quiet, &dir, true)
    );
    assert_eq!(
        lost_in(&noisy, &dir2, false),
        lost_in(&quiet, &dir, false),
        "nothing changes outside the window"
    );
    let f = noisy.get::<FaultRecord>();
    assert_eq!(f[0].kind, FaultKind::RadioInterference);
    assert_eq!(
        f[0].param,
        wardtwin_sim::records::FaultParam::AttenuationDb(45.0)
    );
}

#[test]
fn a_device_carried_out_of_coverage_is_heard_by_nobody_and_only_it() {
    let (rec, dir) = radio_run(
        "[[event]]\nat = \"20m\"\nbed = \"W1-01\"\ndevice = \"pulse_oximeter\"\nkind = \"out_of_coverage\"\nduration = \"15m\"\n\
         [[event]]\nat = \"20m\"\nbed = \"W1-01\"\ndevice = \"ecg_patch\"\nkind = \"out_of_coverage\"\nduration = \"15m\"\n",
    );
    let (start, end) = (EPOCH + 20 * MIN, EPOCH + 35 * MIN);
    let id = |ix: u32| dir.devices[ix as usize].id.clone();
    let ox = device_of(&dir, DeviceKind::PulseOximeter);
    let away_ox: Vec<u32> = ox
        .iter()
        .copied()
        .filter(|&d| id(d).contains("W1-01"))
        .collect();
    let during = |f: &&EmissionFate| (start..end).contains(&f.sim_ms);
    let gone = fates_of(&rec, &away_ox);
    assert_eq!(gone.iter().filter(during).count(), 60);
    assert!(
        gone.iter()
            .filter(during)
            .all(|f| f.fate == Fate::RadioLost)
    );
    // The patch kept its readings and uploaded them when it came back.
    let ecg: Vec<u32> = device_of(&dir, DeviceKind::EcgPatch)
        .into_iter()
        .filter(|&d| id(d).contains("W1-01"))
        .collect();
    assert!(
        fates_of(&rec, &ecg)
            .iter()
            .filter(during)
            .all(|f| f.fate == Fate::DeliveredLate && f.forwarded_ms.unwrap() >= end)
    );
    // The other bed's oximeter is untouched.
    let other: Vec<u32> = ox
        .iter()
        .copied()
        .filter(|d| !away_ox.contains(d))
        .collect();
    assert!(
        fates_of(&rec, &other)
            .iter()
            .filter(during)
            .all(|f| f.fate == Fate::Delivered)
    );
    // A data gap for each device carried away, and no gateway offline.
    let gaps = conditions(&rec, ConditionClass::DataGap);
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    assert!(conditions(&rec, ConditionClass::GatewayOffline).is_empty());
    let f = rec.get::<FaultRecord>();
    assert_eq!(f[0].kind, FaultKind::OutOfCoverage);
    assert_eq!(f[0].device.map(|d| d.0), away_ox.first().copied());
}

#[test]
fn a_clock_drift_grows_the_device_time_error_from_its_start_and_nothing_else() {
    let base = "[kit.k]\ndevices = [{ kind = \"pulse_oximeter\", interval = \"15s\" }]\n[population]\nkit = \"k\"\n";
    let (plain, _) = run_to_memory(&small(2, "1h", base));
    let (drifted, dir) = run_to_memory(&small(
        2,
        "1h",
        &format!(
            "{base}[[event]]\nat = \"20m\"\nward = \"W1\"\nkind = \"clock_drift\"\ndrift = 5000.0\n"
        ),
    ));
    let gateway = dir
        .devices
        .iter()
        .position(|d| d.kind == DeviceKind::EdgeGateway)
        .unwrap() as u32;
    let (a, b) = (plain.get::<Forwarded>(), drifted.get::<Forwarded>());
    assert_eq!(a.len(), b.len());
    let start = EPOCH + 20 * MIN;
    for (x, y) in a.iter().zip(b) {
        // 5,000 ppm: 5 ms more per second since 00:20 (the gateway's own clock keeps its time).
        let extra = if y.sim_ms >= start && y.device.0 != gateway {
            ((y.sim_ms - start) as f64 * 5e-3) as i64
        } else {
            0
        };
        assert!(
            (y.device_ms - x.device_ms - extra).abs() <= 1,
            "{} at {}: {} vs {}",
            y.device.0,
            y.sim_ms,
            y.device_ms,
            x.device_ms
        );
        assert_eq!((y.sim_ms, y.obs), (x.sim_ms, x.obs));
    }
    let f = drifted.get::<FaultRecord>();
    assert_eq!((f[0].kind, f[0].end_ms), (FaultKind::ClockDrift, None));
    assert!(conditions(&drifted, ConditionClass::DataGap).is_empty());
}
