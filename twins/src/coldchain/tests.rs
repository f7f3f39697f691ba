use wardtwin_scenarios::StorageKind;
use wardtwin_sim::conditions::ConditionRecord;
use wardtwin_sim::conditions::{ConditionClass, Subject};
use wardtwin_sim::records::{
    ArtifactKind, DeviceEventKind, DeviceIx, Forwarded, Measure, Metric, ObsStatus,
};
use wardtwin_sim::records::{ArtifactRecord, DeviceEvent};

use super::*;
use crate::testkit::{run_to_memory, small};

/// Hours from a compressor failure until the product passes 8 °C, by integrating the model
/// alone (no ECS, no logger), for a fridge at steady state.
fn hours_to_8c(ballast: f64) -> f64 {
    let mut f = Fridge::new(
        StorageKind::Fridge,
        DeviceIx(0),
        22.0,
        ballast,
        None,
        Faults::default(),
    );
    for _ in 0..(6 * 3600) {
        f.integrate(1.0);
    }
    f.compressor_failed = true;
    let mut s = 0;
    while f.product_c <= 8.0 {
        f.integrate(1.0);
        s += 1;
    }
    s as f64 / 3600.0
}

#[test]
fn cycling_keeps_air_and_product_in_range_with_the_product_steadier() {
    let mut f = Fridge::new(
        StorageKind::Fridge,
        DeviceIx(0),
        22.0,
        1.0,
        None,
        Faults::default(),
    );
    let (mut air_lo, mut air_hi, mut p_lo, mut p_hi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    let mut starts = 0;
    let mut was_on = false;
    for s in 0..(12 * 3600) {
        f.integrate(1.0);
        if s > 3600 {
            air_lo = air_lo.min(f.air_c);
            air_hi = air_hi.max(f.air_c);
            p_lo = p_lo.min(f.product_c);
            p_hi = p_hi.max(f.product_c);
            starts += usize::from(f.compressor_on && !was_on);
        }
        was_on = f.compressor_on;
    }
    assert!(air_lo >= 2.9 && air_hi <= 5.6, "air {air_lo}..{air_hi}");
    assert!(p_hi - p_lo < 0.5, "product steady: {p_lo}..{p_hi}");
    assert!(
        (10..=60).contains(&starts),
        "compressor cycles: {starts} in 11 h"
    );
}

#[test]
fn a_dead_compressor_takes_the_product_past_8c_when_the_model_says() {
    let expected_h = hours_to_8c(1.0);
    assert!(
        (3.0..6.0).contains(&expected_h),
        "a fridge in a 22 C room warms past 8 C in hours: {expected_h}"
    );
    assert!(hours_to_8c(3.0) > 2.0 * expected_h, "ballast slows it");

    let s = small(
        1,
        "12h",
        "[[fridge]]\nid = \"VAC\"\nward = \"W1\"\ndoor_openings_per_day = 0\ndefrost_every = \"none\"\n\
         [[event]]\nat = \"6h\"\nfridge = \"VAC\"\nkind = \"compressor_failure\"\n",
    );
    let (rec, dir) = run_to_memory(&s);
    let logger = DeviceIx(
        dir.devices
            .iter()
            .position(|d| d.id == "fridge-VAC")
            .expect("logger in the directory") as u32,
    );
    assert_eq!(dir.devices[logger.0 as usize].ward, "W1");
    let cond: Vec<_> = rec
        .get::<ConditionRecord>()
        .iter()
        .filter(|c| c.class == ConditionClass::ColdChainExcursion)
        .collect();
    assert_eq!(cond.len(), 1, "{cond:?}");
    assert_eq!(cond[0].subject, Subject::Device(logger));
    let after_h = (cond[0].onset_ms - s.epoch_ms - 6 * 3_600_000) as f64 / 3_600_000.0;
    assert!(
        (after_h - expected_h).abs() < 0.05,
        "crossed {after_h} h after the failure; the model says {expected_h} h"
    );
    assert_eq!(cond[0].end_ms, None, "never repaired");
    let product: Vec<_> = rec
        .get::<ExcursionRecord>()
        .iter()
        .filter(|e| e.measure == Measure::Product)
        .collect();
    assert_eq!(product.len(), 1);
    assert_eq!(product[0].start_ms, cond[0].onset_ms);
    assert!(
        product[0].high && product[0].peak_c > 8.5,
        "{:?}",
        product[0]
    );
    assert!(
        rec.get::<DeviceEvent>()
            .iter()
            .any(|e| e.kind == DeviceEventKind::CompressorFailed && e.device == logger)
    );
    // The logger saw it: its last product reading is warm, within its accuracy.
    let last = rec
        .get::<Forwarded>()
        .iter()
        .rev()
        .find(|r| r.device == logger)
        .expect("logger readings");
    let p = last.obs[1];
    assert_eq!(p.metric, Metric::ProductTemp);
    assert!(
        (p.value.unwrap() - product[0].peak_c).abs() < 1.0,
        "{p:?} vs {}",
        product[0].peak_c
    );
}

#[test]
fn a_door_opening_spikes_the_air_but_not_the_product() {
    let s = small(
        1,
        "3h",
        "[[fridge]]\nid = \"VAC\"\nward = \"W1\"\ndoor_openings_per_day = 0\ndefrost_every = \"none\"\n\
         [[event]]\nat = \"2h\"\nfridge = \"VAC\"\nkind = \"door_open\"\nduration = \"1m\"\n",
    );
    let (rec, _) = run_to_memory(&s);
    let air: Vec<_> = rec
        .get::<ExcursionRecord>()
        .iter()
        .filter(|e| e.measure == Measure::Air)
        .collect();
    assert_eq!(air.len(), 1, "{:?}", rec.get::<ExcursionRecord>());
    assert!(air[0].peak_c > 10.0, "{:?}", air[0]);
    assert!(air[0].start_ms >= s.epoch_ms + 2 * 3_600_000);
    assert!(
        rec.get::<ExcursionRecord>()
            .iter()
            .all(|e| e.measure == Measure::Air)
    );
    assert!(
        rec.get::<ConditionRecord>()
            .iter()
            .all(|c| c.class != ConditionClass::ColdChainExcursion),
        "the product stayed in range"
    );
    let doors: Vec<_> = rec
        .get::<ArtifactRecord>()
        .iter()
        .filter(|a| a.kind == ArtifactKind::DoorOpen)
        .collect();
    assert_eq!(doors.len(), 1);
    assert_eq!(doors[0].end_ms - doors[0].start_ms, 60_000);
}

#[test]
fn a_failed_probe_reports_a_fault_and_the_logger_counts_as_lost() {
    let s = small(
        1,
        "2h",
        "[[fridge]]\nid = \"VAC\"\nward = \"W1\"\n\
         [[event]]\nat = \"30m\"\nfridge = \"VAC\"\nkind = \"probe_failure\"\nduration = \"40m\"\n",
    );
    let (rec, dir) = run_to_memory(&s);
    let logger = dir
        .devices
        .iter()
        .position(|d| d.id == "fridge-VAC")
        .unwrap() as u32;
    let faults = rec
        .get::<Forwarded>()
        .iter()
        .filter(|r| r.device.0 == logger && r.obs[0].status == ObsStatus::SensorFault)
        .count();
    assert!((7..=9).contains(&faults), "8 readings in 40 min: {faults}");
    let lost: Vec<_> = rec
        .get::<ConditionRecord>()
        .iter()
        .filter(|c| c.class == ConditionClass::MonitoringLost)
        .collect();
    assert_eq!(lost.len(), 1);
    // Lost 2 x 5 min + 60 s after the last good value; back at the first after replacement.
    assert!(lost[0].end_ms.unwrap() >= s.epoch_ms + 70 * 60_000);
}

#[test]
fn a_freezer_is_judged_on_its_own_range() {
    let s = small(
        1,
        "8h",
        "[[fridge]]\nid = \"FRZ\"\nward = \"W1\"\nkind = \"freezer\"\n\
         [[event]]\nat = \"1h\"\nfridge = \"FRZ\"\nkind = \"power_outage\"\nduration = \"6h\"\n",
    );
    let (rec, _) = run_to_memory(&s);
    let c: Vec<_> = rec
        .get::<ConditionRecord>()
        .iter()
        .filter(|c| c.class == ConditionClass::ColdChainExcursion)
        .collect();
    assert_eq!(c.len(), 1, "{c:?}");
    let e = rec
        .get::<ExcursionRecord>()
        .iter()
        .find(|e| e.measure == Measure::Product)
        .unwrap();
    assert!(e.high && e.peak_c > -15.0);
    assert!(e.start_ms > s.epoch_ms + 3_600_000);
}
