//! The reference stack's alerting policies: pure functions of decoded telemetry (no MQTT, no
//! ground truth). Time is the telemetry's own: device timestamps, and "now" is the newest one
//! seen.
//!
//! - **naive**: every reading against default monitor limits (DOMAIN.md §3: untuned defaults),
//!   an alarm each time a value crosses a limit, a technical alarm on every probe-off. This is
//!   what produces alarm fatigue.
//! - **news2**: NEWS2 from the latest readings (median of the last 5 per parameter to reject
//!   motion spikes), alerting only on a band that persists (3 min for NEWS2, 60 s for
//!   desaturation, 30 s for extreme rates); re-armed after the band has cleared for 15 min.
//!   Consciousness and oxygen are not on the wire: it assumes alert, on air, SpO2 scale 1.

use std::collections::{BTreeMap, VecDeque};

use wardtwin_scoring::model::Priority;
use wardtwin_sim::news2::{Acvpu, News2, News2Inputs, Spo2Scale};
use wardtwin_sim::time::SimMillis;

/// One decoded telemetry message.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingIn {
    pub device: String,
    pub patient: Option<String>,
    pub ts_ms: SimMillis,
    pub battery_pct: f64,
    /// `(name, value, status)` per observation.
    pub obs: Vec<(String, Option<f64>, String)>,
}

/// An alert the policy raises.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertOut {
    pub subject: String,
    pub class: &'static str,
    pub priority: Priority,
    pub began_ms: SimMillis,
    pub device: Option<String>,
    pub text: String,
}

/// Which policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Naive,
    News2,
}

impl PolicyKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "naive" => Some(PolicyKind::Naive),
            "news2" => Some(PolicyKind::News2),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Naive => "naive",
            PolicyKind::News2 => "news2",
        }
    }
}

const S: i64 = 1_000;
const MIN: i64 = 60 * S;
/// Default monitor limits `(metric, low, high)` (typical factory defaults: HR 50/120,
/// RR 8/30, SpO2 90, NBP systolic 90/160, temperature 35/38.5).
const LIMITS: &[(&str, f64, f64)] = &[
    ("heart_rate", 50.0, 120.0),
    ("pulse_rate", 50.0, 120.0),
    ("resp_rate", 8.0, 30.0),
    ("spo2", 90.0, f64::INFINITY),
    ("bp_systolic", 90.0, 160.0),
    ("body_temp", 35.0, 38.5),
];
const LOW_BATTERY_PCT: f64 = 10.0;

/// Per-device technical state, shared by both policies.
#[derive(Debug, Default)]
struct DeviceState {
    patient: Option<String>,
    last_ts: Option<SimMillis>,
    last_value_ts: Option<SimMillis>,
    /// Smallest gap seen between two messages: the device's cadence.
    cadence_ms: Option<i64>,
    lost_alerted: bool,
    battery_alerted: bool,
}

/// A band that must persist before it alerts, and clear for a while before it re-arms.
#[derive(Debug, Default, Clone, Copy)]
struct Persist {
    since: Option<SimMillis>,
    alerted: bool,
    cleared_since: Option<SimMillis>,
}

impl Persist {
    /// Feeds one evaluation; returns the band's start when it should alert now.
    fn update(
        &mut self,
        now: SimMillis,
        holds: bool,
        hold_ms: i64,
        rearm_ms: i64,
    ) -> Option<SimMillis> {
        if holds {
            self.cleared_since = None;
            let since = *self.since.get_or_insert(now);
            if !self.alerted && now - since >= hold_ms {
                self.alerted = true;
                return Some(since);
            }
        } else {
            self.since = None;
            let c = *self.cleared_since.get_or_insert(now);
            if now - c >= rearm_ms {
                self.alerted = false;
            }
        }
        None
    }
}

#[derive(Debug, Default)]
struct PatientState {
    /// Last 5 values per parameter.
    recent: BTreeMap<&'static str, VecDeque<f64>>,
    bands: [Persist; 7],
}

fn median(v: &VecDeque<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s: Vec<f64> = v.iter().copied().collect();
    s.sort_by(f64::total_cmp);
    Some(s[s.len() / 2])
}

/// A policy's state over the whole ward.
#[derive(Debug)]
pub struct Policy {
    kind: PolicyKind,
    now_ms: SimMillis,
    devices: BTreeMap<String, DeviceState>,
    patients: BTreeMap<String, PatientState>,
    /// Naive: metrics currently past a limit, by (device, metric).
    naive_in_alarm: BTreeMap<(String, String), bool>,
}

fn param(name: &str) -> Option<&'static str> {
    Some(match name {
        "heart_rate" => "hr",
        "pulse_rate" => "pulse",
        "resp_rate" => "rr",
        "spo2" => "spo2",
        "bp_systolic" => "sbp",
        "body_temp" => "temp",
        _ => return None,
    })
}

impl Policy {
    pub fn new(kind: PolicyKind) -> Self {
        Self {
            kind,
            now_ms: i64::MIN,
            devices: BTreeMap::new(),
            patients: BTreeMap::new(),
            naive_in_alarm: BTreeMap::new(),
        }
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// Feeds one reading; pushes the alerts it raises.
    pub fn on_reading(&mut self, r: &ReadingIn, out: &mut Vec<AlertOut>) {
        self.now_ms = self.now_ms.max(r.ts_ms);
        let d = self.devices.entry(r.device.clone()).or_default();
        d.patient = r.patient.clone();
        if let Some(last) = d.last_ts {
            let gap = r.ts_ms - last;
            if gap > 0 {
                d.cadence_ms = Some(d.cadence_ms.map_or(gap, |c| c.min(gap)));
            }
        }
        d.last_ts = Some(r.ts_ms);
        let has_value = r.obs.iter().any(|o| o.1.is_some());
        if has_value {
            d.last_value_ts = Some(r.ts_ms);
            d.lost_alerted = false;
        }
        let subject = r.patient.clone().unwrap_or_else(|| r.device.clone());
        let technical = |class, priority, text: String| AlertOut {
            subject: subject.clone(),
            class,
            priority,
            began_ms: r.ts_ms,
            device: Some(r.device.clone()),
            text,
        };
        let low = r.battery_pct <= LOW_BATTERY_PCT || r.obs.iter().any(|o| o.2 == "low_battery");
        if low && !d.battery_alerted {
            d.battery_alerted = true;
            out.push(technical(
                "low_battery",
                Priority::Low,
                format!("battery {:.0} %", r.battery_pct),
            ));
        }
        match self.kind {
            PolicyKind::Naive => {
                if !has_value && !d.lost_alerted {
                    // Untuned: a technical alarm on the first probe-off reading.
                    d.lost_alerted = true;
                    let status = r.obs.first().map_or("", |o| o.2.as_str());
                    out.push(technical(
                        "monitoring_lost",
                        Priority::Medium,
                        status.to_string(),
                    ));
                }
                self.naive(r, &subject, out);
            }
            PolicyKind::News2 => {
                if let Some(p) = &r.patient {
                    let st = self.patients.entry(p.clone()).or_default();
                    for (name, v, _) in &r.obs {
                        if let (Some(k), Some(v)) = (param(name), v) {
                            let q = st.recent.entry(k).or_default();
                            if q.len() == 5 {
                                q.pop_front();
                            }
                            q.push_back(*v);
                        }
                    }
                    Self::news2(st, p, r.ts_ms, out);
                }
            }
        }
    }

    fn naive(&mut self, r: &ReadingIn, subject: &str, out: &mut Vec<AlertOut>) {
        for (name, v, _) in &r.obs {
            let (Some(&(_, lo, hi)), Some(v)) = (LIMITS.iter().find(|l| l.0 == name), v) else {
                continue;
            };
            let past = *v < lo || *v > hi;
            let key = (r.device.clone(), name.clone());
            let was = self.naive_in_alarm.insert(key, past).unwrap_or(false);
            if past && !was {
                let hr = name == "heart_rate" || name == "pulse_rate";
                let (class, priority) = match name.as_str() {
                    "spo2" if *v < 85.0 => ("desaturation", Priority::High),
                    "spo2" => ("desaturation", Priority::Medium),
                    _ if hr && *v > 140.0 => ("extreme_tachycardia", Priority::High),
                    _ if hr && *v < 40.0 => ("extreme_bradycardia", Priority::High),
                    _ => ("deterioration", Priority::Medium),
                };
                let limit = if *v < lo { lo } else { hi };
                let cmp = if *v < lo { "<" } else { ">" };
                out.push(AlertOut {
                    subject: subject.to_string(),
                    class,
                    priority,
                    began_ms: r.ts_ms,
                    device: Some(r.device.clone()),
                    text: format!("{name} {v}{cmp}{limit}"),
                });
            }
        }
    }

    fn news2(st: &mut PatientState, patient: &str, now: SimMillis, out: &mut Vec<AlertOut>) {
        let m = |k: &str| st.recent.get(k).and_then(median);
        let hr = m("hr").or(m("pulse"));
        let (Some(rr), Some(spo2), Some(hr)) = (m("rr"), m("spo2"), hr) else {
            return;
        };
        let news2 = News2::score(&News2Inputs {
            resp_rate: rr,
            spo2,
            scale: Spo2Scale::Scale1,
            on_oxygen: false,
            systolic: m("sbp").unwrap_or(120.0),
            pulse: hr,
            consciousness: Acvpu::Alert,
            temp_c: m("temp").unwrap_or(37.0),
        });
        let total = news2.total;
        let checks: [(bool, i64, &'static str, Priority, String); 7] = [
            (
                total >= 5 || news2.max_single() == 3,
                3 * MIN,
                "deterioration",
                Priority::Low,
                format!("NEWS2 {total} (single parameter 3)"),
            ),
            (
                total >= 5,
                3 * MIN,
                "deterioration",
                Priority::Medium,
                format!("NEWS2 {total}>=5"),
            ),
            (
                total >= 7,
                3 * MIN,
                "deterioration",
                Priority::High,
                format!("NEWS2 {total}>=7"),
            ),
            (
                spo2 < 90.0,
                MIN,
                "desaturation",
                Priority::Medium,
                format!("SpO2 {spo2}<90"),
            ),
            (
                spo2 < 85.0,
                MIN,
                "desaturation",
                Priority::High,
                format!("SpO2 {spo2}<85"),
            ),
            (
                hr > 140.0,
                30 * S,
                "extreme_tachycardia",
                Priority::High,
                format!("HR {hr}>140"),
            ),
            (
                hr < 40.0,
                30 * S,
                "extreme_bradycardia",
                Priority::High,
                format!("HR {hr}<40"),
            ),
        ];
        for (band, (holds, hold, class, priority, text)) in st.bands.iter_mut().zip(checks) {
            if let Some(since) = band.update(now, holds, hold, 15 * MIN) {
                out.push(AlertOut {
                    subject: patient.to_string(),
                    class,
                    priority,
                    began_ms: since,
                    device: None,
                    text,
                });
            }
        }
    }

    /// Checks for silent devices at the stack's clock (the newest telemetry time seen): a device
    /// with no value for 2 × its cadence + 60 s raises monitoring lost once (news2 policy; the
    /// naive one alarms on the probe-off reading itself).
    pub fn tick(&mut self, out: &mut Vec<AlertOut>) {
        let now = self.now_ms;
        if self.kind != PolicyKind::News2 {
            return;
        }
        for (id, d) in &mut self.devices {
            let (Some(cadence), Some(last)) = (d.cadence_ms, d.last_value_ts.or(d.last_ts)) else {
                continue;
            };
            let lost_at = last + 2 * cadence + MIN;
            if now > lost_at && !d.lost_alerted {
                d.lost_alerted = true;
                out.push(AlertOut {
                    subject: d.patient.clone().unwrap_or_else(|| id.clone()),
                    class: "monitoring_lost",
                    priority: Priority::Medium,
                    began_ms: lost_at,
                    device: Some(id.clone()),
                    text: format!("no value for {} s", (now - last) / S),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(device: &str, ts: i64, obs: &[(&str, Option<f64>)]) -> ReadingIn {
        ReadingIn {
            device: device.into(),
            patient: Some("P1".into()),
            ts_ms: ts,
            battery_pct: 80.0,
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
}
