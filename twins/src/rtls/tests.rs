use wardtwin_sim::conditions::ConditionRecord;
use wardtwin_sim::conditions::{ConditionClass, Subject};
use wardtwin_sim::records::{DeviceEvent, Forwarded, PositionRecord};
use wardtwin_sim::records::{DeviceEventKind, DeviceIx, DeviceKind, Fate, Metric};

use crate::testkit::{run_to_memory, small};

const QUIET: &str = "moves_per_asset_day = 0\nwanders_per_asset_day = 0\nlosses_per_asset_day = 0\nduress_per_staff_day = 0\n";

/// Two wards: equipment and staff on both, nothing random.
fn two_wards(extra: &str) -> wardtwin_scenarios::Scenario {
    small(
        8,
        "6h",
        &format!(
            "[[ward]]\nid = \"W2\"\nbeds = 8\n[rtls]\nassets_per_bed = 0.5\nstaff_per_bed = 0.25\n{QUIET}{extra}"
        ),
    )
}

fn ix(dir: &wardtwin_sim::Directory, id: &str) -> DeviceIx {
    DeviceIx(
        dir.devices
            .iter()
            .position(|d| d.id == id)
            .unwrap_or_else(|| panic!("{id}")) as u32,
    )
}

#[test]
fn an_asset_taken_to_another_ward_breaches_its_zone_and_the_receivers_follow_it() {
    let s = two_wards(
        "[[event]]\nat = \"1h\"\nasset = \"W1-IVP01\"\nkind = \"asset_wander\"\nto = \"W2\"\n",
    );
    let (rec, dir) = run_to_memory(&s);
    let tag = ix(&dir, "tag-W1-IVP01");
    let breach: Vec<_> = rec
        .get::<ConditionRecord>()
        .iter()
        .filter(|c| c.class == ConditionClass::AssetZoneBreach)
        .collect();
    assert_eq!(breach.len(), 1, "{breach:?}");
    assert_eq!(breach[0].subject, Subject::Device(tag));
    let at = s.epoch_ms + 3_600_000;
    assert!(breach[0].onset_ms > at && breach[0].onset_ms < at + 5 * 60_000);
    assert_eq!(breach[0].end_ms, None, "left there");
    assert!(
        rec.get::<DeviceEvent>()
            .iter()
            .any(|e| e.device == tag && e.kind == DeviceEventKind::ZoneLeft)
    );
    // Its true position ends in W2's equipment room, and W2's receivers hear it.
    let last = rec
        .get::<PositionRecord>()
        .iter()
        .rev()
        .find(|p| p.device == tag)
        .unwrap();
    assert_eq!(dir.spaces[last.space as usize].id, "W2-EQP");
    let heard_by: Vec<&str> = rec
        .get::<Forwarded>()
        .iter()
        .rev()
        .filter(|r| r.device == tag)
        .take(10)
        .map(|r| dir.receivers[usize::from(r.obs[0].source)].id.as_str())
        .collect();
    assert!(heard_by.iter().all(|r| r.contains("W2")), "{heard_by:?}");
    // The other assets stayed home: no other breach.
    assert!(breach.iter().all(|c| c.subject == Subject::Device(tag)));
}

#[test]
fn an_asset_taken_outside_goes_unheard_and_is_missing_after_30_min() {
    let s = two_wards(
        "[[event]]\nat = \"1h\"\nasset = \"W1-WCH01\"\nkind = \"asset_wander\"\nto = \"EXIT\"\n",
    );
    let (rec, dir) = run_to_memory(&s);
    let tag = ix(&dir, "tag-W1-WCH01");
    let missing: Vec<_> = rec
        .get::<ConditionRecord>()
        .iter()
        .filter(|c| c.class == ConditionClass::AssetMissing)
        .collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].subject, Subject::Device(tag));
    // Out of range from some point after leaving; missing exactly 30 min later.
    let last_heard = crate::testkit::telemetry_fates(&rec)
        .iter()
        .filter(|f| f.device == tag && f.fate != Fate::RadioLost)
        .map(|f| f.sim_ms)
        .max()
        .unwrap();
    let lag = missing[0].onset_ms - last_heard;
    assert!(
        (30 * 60_000..31 * 60_000 + 30_000).contains(&lag),
        "missing {lag} ms after it was last heard"
    );
    let lost = crate::testkit::telemetry_fates(&rec)
        .iter()
        .filter(|f| f.device == tag && f.fate == Fate::RadioLost)
        .count();
    assert!(lost > 300, "its adverts are lost on the radio: {lost}");
    // Outside is a zone breach too.
    assert!(
        rec.get::<ConditionRecord>().iter().any(
            |c| c.class == ConditionClass::AssetZoneBreach && c.subject == Subject::Device(tag)
        )
    );
}

#[test]
fn a_duress_call_is_reported_at_once_and_lasts_until_a_colleague_arrives() {
    let s = two_wards("[[event]]\nat = \"2h00m07s\"\nstaff = \"W1-N01\"\nkind = \"duress\"\n");
    let (rec, dir) = run_to_memory(&s);
    let badge = ix(&dir, "badge-W1-N01");
    let at = s.epoch_ms + 2 * 3_600_000 + 7_000;
    let pressed = rec
        .get::<Forwarded>()
        .iter()
        .find(|r| r.device == badge && r.sim_ms == at)
        .expect("reported the moment it was pressed");
    assert_eq!(pressed.obs[0].metric, Metric::DuressButton);
    assert_eq!(pressed.obs[0].value, Some(1.0));
    let d: Vec<_> = rec
        .get::<ConditionRecord>()
        .iter()
        .filter(|c| c.class == ConditionClass::Duress)
        .collect();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].onset_ms, at);
    let answered = d[0].end_ms.expect("answered");
    assert!(
        answered > at && answered < at + 5 * 60_000,
        "{}",
        answered - at
    );
    // The one who came is the other W1 nurse, standing in the caller's space at that moment.
    let answer_ev = rec
        .get::<DeviceEvent>()
        .iter()
        .find(|e| e.kind == DeviceEventKind::DuressAnswered)
        .unwrap();
    assert_eq!(answer_ev.sim_ms, answered);
}

#[test]
fn staff_go_to_a_bed_exit() {
    let s = small(
        8,
        "3h",
        &format!(
            "[rtls]\nstaff_per_bed = 0.25\n{QUIET}\
             [kit.k]\ndevices = [{{ kind = \"bed_exit_sensor\" }}]\n[population]\nkit = \"k\"\n\
             [[event]]\nat = \"2h\"\nbed = \"W1-08\"\nkind = \"bed_exit\"\nduration = \"10m\"\n"
        ),
    );
    let (rec, dir) = run_to_memory(&s);
    let room = dir.spaces.iter().position(|sp| sp.id == "W1-R8").unwrap() as u32;
    let at = s.epoch_ms + 2 * 3_600_000;
    let staff: Vec<u32> = dir
        .devices
        .iter()
        .enumerate()
        .filter(|(_, d)| d.kind == DeviceKind::StaffBadge)
        .map(|(i, _)| i as u32)
        .collect();
    let someone_there = rec.get::<PositionRecord>().iter().any(|p| {
        staff.contains(&p.device.0)
            && p.space == room
            && p.sim_ms > at
            && p.sim_ms < at + 10 * 60_000
    });
    assert!(
        someone_there,
        "a nurse reached W1-R8 within 10 min of the bed exit"
    );
}

#[test]
fn uwb_tags_report_positions_within_their_error() {
    let s = small(
        4,
        "2h",
        &format!("[rtls]\nmode = \"uwb\"\nassets_per_bed = 1\n{QUIET}"),
    );
    let (rec, dir) = run_to_memory(&s);
    let tags: Vec<u32> = dir
        .devices
        .iter()
        .enumerate()
        .filter(|(_, d)| d.kind == DeviceKind::AssetTag)
        .map(|(i, _)| i as u32)
        .collect();
    let truth = |d: u32| {
        rec.get::<PositionRecord>()
            .iter()
            .find(|p| p.device.0 == d)
            .unwrap()
    };
    let mut sq = 0.0;
    let mut n = 0.0;
    for r in rec
        .get::<Forwarded>()
        .iter()
        .filter(|r| tags.contains(&r.device.0))
    {
        assert_eq!(r.obs[0].metric, Metric::PositionX);
        let t = truth(r.device.0);
        sq += f64::from(r.obs[0].value.unwrap() - t.x_m).powi(2);
        n += 1.0;
    }
    let rms = (sq / n).sqrt();
    // Parked in the equipment room, which has an anchor: line of sight, 0.2 m.
    assert!(
        (0.15..0.25).contains(&rms),
        "x error {rms} m over {n} reports"
    );
}

/// Presses come out in time order, once each, including those added for a later day.
#[test]
fn duress_presses_are_taken_in_order_once() {
    let mut p = super::Presses::new(vec![30, 10]);
    assert!(!p.take_due(9));
    assert!(p.take_due(10));
    assert!(!p.take_due(10), "each press once");
    p.extend([20, 50]);
    assert_eq!(p.len(), 3);
    assert!(p.take_due(25), "the added 20 comes before 30");
    assert!(p.take_due(30));
    assert!(!p.take_due(49));
    assert!(p.take_due(1_000));
    assert!(p.is_empty() && !p.take_due(i64::MAX));
}
