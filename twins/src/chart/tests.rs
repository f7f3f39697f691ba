use std::collections::BTreeMap;

use wardtwin_sim::news2::{News2, Response};
use wardtwin_sim::records::{ChartRecord, PatientIx};

use super::interval_ms;
use crate::testkit::{run_to_memory, small};
use wardtwin_scenarios::ChartCompliance;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn news2(total: u8, single_three: bool) -> News2 {
    News2 {
        resp_rate: if single_three { 3 } else { total.min(2) },
        total,
        ..News2::default()
    }
}

#[test]
fn the_round_interval_follows_the_news2_response_table() {
    // (score, a 3 in one parameter, response, interval): RCP 2017, DOMAIN.md §2.
    let table = [
        (0, false, Response::Routine, 12 * HOUR),
        (1, false, Response::Low, 4 * HOUR),
        (4, false, Response::Low, 4 * HOUR),
        (3, true, Response::LowMedium, HOUR),
        (4, true, Response::LowMedium, HOUR),
        (5, false, Response::Urgent, HOUR),
        (6, true, Response::Urgent, HOUR),
        (7, false, Response::Emergency, 30 * MIN),
        (12, true, Response::Emergency, 30 * MIN),
    ];
    for (total, three, response, interval) in table {
        let n = news2(total, three);
        assert_eq!(n.response(), response, "{total} {three}");
        assert_eq!(interval_ms(&n), interval, "{total} {three}");
    }
}

fn by_patient(rounds: &[ChartRecord]) -> BTreeMap<PatientIx, Vec<ChartRecord>> {
    let mut m: BTreeMap<PatientIx, Vec<ChartRecord>> = BTreeMap::new();
    for r in rounds {
        m.entry(r.patient).or_default().push(*r);
    }
    m
}

#[test]
fn rounds_follow_the_last_charted_score_late_by_day_and_sometimes_missed_at_night() {
    // A sepsis in W1-01 from 06:00 over 2 h: its charted NEWS2 calls for hourly rounds.
    let s = small(
        30,
        "3d",
        "[[event]]\nat = \"6h\"\nbed = \"W1-01\"\nkind = \"sepsis\"\ndevelop = \"2h\"\n\
         severity = 1.0\n",
    );
    let (rec, _) = run_to_memory(&s);
    let rounds = rec.get::<ChartRecord>().to_vec();
    let patients = by_patient(&rounds);
    assert_eq!(patients.len(), 30, "every patient is charted");
    let (mut day, mut night) = ((0u32, 0u32), (0u32, 0u32));
    for rs in patients.values() {
        for w in rs.windows(2) {
            // Each round is the one the previous planned.
            assert_eq!(w[1].due_ms, w[0].next_due_ms);
        }
        for r in rs {
            // The next round is due one interval of the score in charge after this one: the
            // charted score (from when it was charted), or after a missed round the last one.
            match (r.charted_ms, r.charted) {
                (Some(t), Some((_, n))) => {
                    assert_eq!(r.next_due_ms - t, interval_ms(&n));
                    let late = t - r.due_ms;
                    assert!(late >= 0, "{late}");
                }
                (None, None) => assert!(r.next_due_ms > r.due_ms),
                _ => panic!("a round is charted with its values or missed without: {r:?}"),
            }
            let local_h = (r.due_ms.rem_euclid(24 * HOUR)) / HOUR;
            let counter = if !(8..22).contains(&local_h) {
                &mut night
            } else {
                &mut day
            };
            counter.0 += 1;
            counter.1 += u32::from(r.charted_ms.is_none());
        }
    }
    let rate = |(n, missed): (u32, u32)| f64::from(missed) / f64::from(n.max(1));
    assert!(night.0 > 100 && day.0 > 100, "{day:?} {night:?}");
    assert!(
        (rate(night) - ChartCompliance::default().missed_night).abs() < 0.06,
        "night: {night:?}"
    );
    assert!(rate(day) < 0.06, "day: {day:?}");

    // The septic patient: once a round charts NEWS2 >= 5, the next is due an hour later.
    let septic = &patients[&PatientIx(0)];
    let urgent = septic
        .iter()
        .find(|r| r.charted.is_some_and(|(_, n)| n.total >= 5))
        .expect("a round charts the sepsis");
    assert!(urgent.next_due_ms - urgent.charted_ms.unwrap_or(0) <= HOUR);
}

#[test]
fn charted_values_are_manual_measurements_of_the_truth() {
    let (rec, _) = run_to_memory(&small(30, "2d", ""));
    let mut habitual = 0;
    let mut counted = 0;
    for r in rec.get::<ChartRecord>() {
        let Some((c, n)) = r.charted else { continue };
        let t = &r.truth;
        // Pulse and RR counted over 30 s: even numbers (or the habitual 18).
        assert_eq!(c.heart_rate % 2.0, 0.0, "{c:?}");
        assert_eq!(c.resp_rate % 2.0, 0.0, "{c:?}");
        assert!((c.heart_rate - t.heart_rate).abs() <= 12.0, "{c:?} {t:?}");
        assert!(
            (c.spo2 - t.spo2).abs() <= 6.0 && c.spo2 <= 100.0,
            "{c:?} {t:?}"
        );
        assert!((c.temp_c - t.temp_c).abs() <= 1.2, "{c:?} {t:?}");
        assert!((c.systolic - t.systolic).abs() <= 30.0, "{c:?} {t:?}");
        // Consciousness and oxygen as they are at the round.
        assert_eq!(c.consciousness, t.consciousness);
        assert_eq!(c.on_oxygen, t.on_oxygen);
        assert_eq!(n, super::news2_of(&c, &patient_like(r)));
        if (12.0..=20.0).contains(&t.resp_rate) {
            counted += 1;
            habitual += u32::from(c.resp_rate == 18.0 && (t.resp_rate - 18.0).abs() > 3.0);
        }
    }
    assert!(counted > 80, "{counted}");
    // Some normal-looking rates are charted as 18 without counting.
    assert!(habitual > 0, "{habitual} of {counted}");
}

/// The patient as NEWS2 needs it (its scale) for a round.
fn patient_like(r: &ChartRecord) -> crate::patient::Patient {
    crate::patient::Patient {
        ix: r.patient,
        scale: r.scale,
        on_oxygen: r.truth.on_oxygen,
    }
}

#[test]
fn the_scenario_sets_the_compliance() {
    // Never missed, never late: every round charted at its due minute.
    let punctual = small(
        10,
        "1d",
        "[chart]\nmissed_day = 0\nmissed_night = 0\ndelay_day = \"0s\"\ndelay_night = \"0s\"\n",
    );
    let (rec, _) = run_to_memory(&punctual);
    let rounds = rec.get::<ChartRecord>();
    assert!(rounds.len() > 20, "{} rounds", rounds.len());
    for r in rounds {
        let at = r.charted_ms.expect("no round missed");
        // Rounds are looked at once a minute.
        assert!((0..MIN).contains(&(at - r.due_ms)), "{r:?}");
    }
    // A night shift that misses every round, from 20:00 to 06:00.
    let nights = small(
        10,
        "2d",
        "[chart]\nmissed_day = 0\nmissed_night = 1\nnight_from = \"20:00\"\nnight_to = \"06:00\"\n",
    );
    let (rec, _) = run_to_memory(&nights);
    let rounds = rec.get::<ChartRecord>();
    let hour = |t: i64| (t.rem_euclid(24 * HOUR)) / HOUR;
    let (mut night, mut day) = (0, 0);
    for r in rounds {
        let h = hour(r.due_ms);
        if !(6..20).contains(&h) {
            night += 1;
            assert_eq!(r.charted_ms, None, "due at {h}h: {r:?}");
        } else {
            day += 1;
            assert!(r.charted_ms.is_some(), "due at {h}h: {r:?}");
        }
    }
    assert!(night > 5 && day > 5, "{night} night, {day} day rounds");
}
