//! The reference stack's alerting policies: pure functions of decoded telemetry (no MQTT, no
//! ground truth). Time is the telemetry's own: device timestamps, and "now" is the newest one
//! seen, except for **silence**, which news2 judges by arrival: the stack's clock (the twin's
//! `sim/clock` when lock-stepped, [`Policy::set_clock`]), so a device whose clock steps an hour
//! back is not an hour silent.
//!
//! **Silence (news2).** A ward whose devices (its gateway's own status included) have all been
//! silent for `2 × the shortest cadence + 60 s` raises `gateway_offline` once, on the
//! gateway's status device (`edge-<ward>`), high priority; while a ward is silent (nothing
//! from it for `2 × the shortest cadence`), its devices' own silences are its gateway's and
//! raise nothing. A device with no value for `2 × its cadence + 60 s` while its ward is heard
//! raises `monitoring_lost`. The naive policy alarms on the probe-off reading itself and never
//! on silence (the usual failure: a silent outage).
//!
//! - **naive**: every reading against default monitor limits (DOMAIN.md §3: untuned defaults),
//!   an alarm each time a value crosses a limit, a technical alarm on every probe-off. This is
//!   what produces alarm fatigue.
//! - **news2**: NEWS2 from the latest readings (median of the last 5 per parameter to reject
//!   motion spikes), alerting only on a band that persists (3 min for NEWS2, 60 s for
//!   desaturation, 30 s for extreme rates); re-armed after the band has cleared for 15 min.
//!   Consciousness, oxygen and the SpO2 scale come from the nurses' chart when the twin
//!   publishes it (`--fhir-topic`: FHIR Observations on `<prefix>/<site>/<ward>/chart/fhir`;
//!   the last round's values stand until the next); without it, it assumes alert, on air,
//!   SpO2 scale 1. A vital sign no wearable measures comes from the chart too.
//!
//! Beyond vital signs (the same simple rules in both, stricter in news2):
//!
//! - **pumps and bed-exit sensors**: both policies trust the device's own decision and alert
//!   at once on `occlusion` and on `bed_occupied` 0;
//! - **CGM**: naive alarms on every reading crossing 3.9 (3.0) mmol/L; news2 wants it to
//!   persist 5 min (two readings) and re-arms after 30 min;
//! - **fridge loggers**: naive alarms on the air or the product leaving 2-8 °C (every door
//!   opening); news2 watches the product only, for 10 min. The range is the freezer's
//!   (-50 to -15 °C) when the first product reading is below -5 °C.

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
    /// RTLS: the receiver of the first observation that names one (the strongest).
    pub receiver: Option<String>,
    /// The ward whose gateway carried it.
    pub ward: Option<String>,
}

/// The site map (retained on `<prefix>/<site>/site/map`), as the policies use it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteMap {
    /// Receiver id → the zone of its space.
    pub receiver_zone: BTreeMap<String, String>,
    /// Asset tag → the zones it is permitted in.
    pub assets: BTreeMap<String, Vec<String>>,
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
    /// The device's cadence: the median of the last gaps between its messages (a sensor that
    /// also reports changes at once, like a bed-exit sensor, sends some short gaps).
    cadence_ms: Option<i64>,
    gaps: VecDeque<i64>,
    lost_alerted: bool,
    battery_alerted: bool,
    /// Fridge loggers: whether it is a freezer (decided on the first product reading).
    freezer: Option<bool>,
    /// news2: hypoglycaemia levels 1 and 2, the product out of range, an asset out of zone.
    bands: [Persist; 4],
    /// An asset tag (it goes missing, not lost).
    asset: bool,
    /// Any RTLS tag (its silence is the radio's, not a monitoring loss).
    tag: bool,
    ward: Option<String>,
    /// When its last message, and its last value, arrived (the stack's clock).
    last_arrival: Option<SimMillis>,
    last_value_arrival: Option<SimMillis>,
}

/// A ward as the silence checks see it.
#[derive(Debug, Default)]
struct WardState {
    last_arrival: Option<SimMillis>,
    /// The shortest cadence among its devices.
    cadence_ms: Option<i64>,
    /// Its gateway's status device (the one reporting `spool_depth`).
    gateway: Option<String>,
    offline_alerted: bool,
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
    /// The last round of the chart, if one has been seen.
    chart: Option<ChartIn>,
}

/// One round of the nurses' chart, as the stack reads it from the EHR's FHIR Observations
/// (`<prefix>/<site>/<ward>/chart/fhir`): what NEWS2 needs that no wearable reports, and the
/// manual vital signs. A value the round did not chart is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChartIn {
    pub charted_ms: SimMillis,
    pub consciousness: Option<Acvpu>,
    pub on_oxygen: Option<bool>,
    pub scale: Option<Spo2Scale>,
    pub resp_rate: Option<f64>,
    pub spo2: Option<f64>,
    pub pulse: Option<f64>,
    pub systolic: Option<f64>,
    pub temp_c: Option<f64>,
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
    /// Metrics currently past a limit (naive), and device alarms going on (both), by
    /// (device, metric or alarm).
    in_alarm: BTreeMap<(String, String), bool>,
    site: SiteMap,
    /// The stack's clock (arrival time), if it has one; else `now_ms`.
    clock_ms: Option<SimMillis>,
    wards: BTreeMap<String, WardState>,
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
            in_alarm: BTreeMap::new(),
            site: SiteMap::default(),
            clock_ms: None,
            wards: BTreeMap::new(),
        }
    }

    /// The stack's clock: what arrives from now on arrived at `ms` (the twin's `sim/clock`).
    pub fn set_clock(&mut self, ms: SimMillis) {
        self.clock_ms = Some(self.clock_ms.map_or(ms, |c| c.max(ms)));
    }

    /// Arrival time: the stack's clock, or the newest telemetry time without one.
    fn arrival(&self) -> SimMillis {
        self.clock_ms.unwrap_or(self.now_ms)
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The site map arrived (a location engine needs it to place tags).
    pub fn set_site_map(&mut self, map: SiteMap) {
        self.site = map;
    }

    /// Feeds one reading; pushes the alerts it raises.
    pub fn on_reading(&mut self, r: &ReadingIn, out: &mut Vec<AlertOut>) {
        self.now_ms = self.now_ms.max(r.ts_ms);
        let arrival = self.arrival();
        let d = self.devices.entry(r.device.clone()).or_default();
        d.patient = r.patient.clone();
        d.ward = r.ward.clone();
        d.last_arrival = Some(arrival);
        if let Some(last) = d.last_ts {
            let gap = r.ts_ms - last;
            if gap > 0 {
                if d.gaps.len() == 9 {
                    d.gaps.pop_front();
                }
                d.gaps.push_back(gap);
                let mut g: Vec<i64> = d.gaps.iter().copied().collect();
                g.sort_unstable();
                d.cadence_ms = Some(g[g.len() / 2]);
            }
        }
        d.last_ts = Some(r.ts_ms);
        let has_value = r.obs.iter().any(|o| o.1.is_some());
        d.asset = self.site.assets.contains_key(&r.device);
        d.tag = r
            .obs
            .iter()
            .any(|o| matches!(o.0.as_str(), "rssi" | "position_x" | "duress_button"));
        if has_value {
            d.last_value_ts = Some(r.ts_ms);
            d.last_value_arrival = Some(arrival);
            d.lost_alerted = false;
        }
        if let Some(w) = &r.ward {
            let ward = self.wards.entry(w.clone()).or_default();
            ward.last_arrival = Some(arrival);
            ward.offline_alerted = false;
            if let Some(c) = d.cadence_ms.filter(|_| !d.tag) {
                ward.cadence_ms = Some(ward.cadence_ms.map_or(c, |w| w.min(c)));
            }
            if r.obs.iter().any(|o| o.0 == "spool_depth") {
                ward.gateway = Some(r.device.clone());
            }
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
                self.bedside(r, &subject, out);
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
                self.bedside(r, &subject, out);
            }
        }
    }

    /// A round of the chart for `patient` (news2 reads it; naive ignores it). An older round
    /// than the one it has (a resend, or out of order) changes nothing.
    pub fn on_chart(&mut self, patient: &str, c: ChartIn, out: &mut Vec<AlertOut>) {
        if self.kind != PolicyKind::News2 {
            return;
        }
        let st = self.patients.entry(patient.to_string()).or_default();
        if st.chart.is_some_and(|old| old.charted_ms >= c.charted_ms) {
            return;
        }
        st.chart = Some(c);
        // The round's time is the newest the stack knows of for this patient.
        let now = self.now_ms.max(c.charted_ms);
        Self::news2(st, patient, now, out);
    }

    /// Pumps, bed-exit sensors, CGMs, fridge loggers and tags (see the module doc).
    fn bedside(&mut self, r: &ReadingIn, subject: &str, out: &mut Vec<AlertOut>) {
        let naive = self.kind == PolicyKind::Naive;
        // Room-level location: the zone of the strongest receiver.
        if let (Some(permitted), Some(zone)) = (
            self.site.assets.get(&r.device),
            r.receiver
                .as_ref()
                .and_then(|rx| self.site.receiver_zone.get(rx)),
        ) {
            let out_of_zone = !permitted.contains(zone);
            let began = if naive {
                let key = (r.device.clone(), "zone".to_string());
                let was = self.in_alarm.insert(key, out_of_zone).unwrap_or(false);
                (out_of_zone && !was).then_some(r.ts_ms)
            } else {
                let d = self.devices.get_mut(&r.device).expect("seen above");
                d.bands[3].update(r.ts_ms, out_of_zone, 2 * MIN, 30 * MIN)
            };
            if let Some(began) = began {
                out.push(AlertOut {
                    subject: subject.to_string(),
                    class: "asset_zone_breach",
                    priority: Priority::Medium,
                    began_ms: began,
                    device: Some(r.device.clone()),
                    text: format!("in zone {zone}, permitted {}", permitted.join(",")),
                });
            }
        }
        let alert = |class, priority, began_ms, text: String| AlertOut {
            subject: subject.to_string(),
            class,
            priority,
            began_ms,
            device: Some(r.device.clone()),
            text,
        };
        for (name, v, status) in &r.obs {
            // The device's own alarms, on their onset.
            let own = match name.as_str() {
                "infusion_rate" => Some(("pump_occlusion", status == "occlusion")),
                "bed_occupied" => Some(("bed_exit", *v == Some(0.0))),
                "duress_button" => Some(("duress", *v == Some(1.0))),
                _ => None,
            };
            if let Some((class, on)) = own {
                let key = (r.device.clone(), class.to_string());
                let was = self.in_alarm.insert(key, on).unwrap_or(false);
                if on && !was {
                    out.push(alert(
                        class,
                        Priority::High,
                        r.ts_ms,
                        format!("{name} {status}"),
                    ));
                }
                continue;
            }
            let Some(v) = *v else { continue };
            let d = self.devices.get_mut(&r.device).expect("seen above");
            let checks: Vec<(usize, bool, &'static str, Priority, String)> = match name.as_str() {
                "glucose" => vec![
                    (
                        0,
                        v < 3.9,
                        "hypoglycaemia",
                        Priority::Medium,
                        format!("glucose {v}<3.9"),
                    ),
                    (
                        1,
                        v < 3.0,
                        "hypoglycaemia",
                        Priority::High,
                        format!("glucose {v}<3.0"),
                    ),
                ],
                "product_temp" | "air_temp" if naive || name == "product_temp" => {
                    let freezer = *d.freezer.get_or_insert(v < -5.0);
                    let (lo, hi) = if freezer { (-50.0, -15.0) } else { (2.0, 8.0) };
                    vec![(
                        2,
                        v < lo || v > hi,
                        "cold_chain_excursion",
                        Priority::Medium,
                        format!("{name} {v} outside {lo}..{hi}"),
                    )]
                }
                _ => Vec::new(),
            };
            for (band, holds, class, priority, text) in checks {
                let began = if naive {
                    let key = (r.device.clone(), format!("{name}/{band}"));
                    let was = self.in_alarm.insert(key, holds).unwrap_or(false);
                    (holds && !was).then_some(r.ts_ms)
                } else {
                    let hold = if band == 2 { 10 * MIN } else { 5 * MIN };
                    d.bands[band].update(r.ts_ms, holds, hold, 30 * MIN)
                };
                if let Some(began) = began {
                    out.push(alert(class, priority, began, text));
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
            let was = self.in_alarm.insert(key, past).unwrap_or(false);
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
        let chart = st.chart.unwrap_or_default();
        // The wearables' values; a parameter no wearable measures comes from the chart.
        let hr = m("hr").or(m("pulse")).or(chart.pulse);
        let (Some(rr), Some(spo2), Some(hr)) =
            (m("rr").or(chart.resp_rate), m("spo2").or(chart.spo2), hr)
        else {
            return;
        };
        // Consciousness, oxygen and the SpO2 scale only the chart knows: without it, alert,
        // on air, scale 1.
        let news2 = News2::score(&News2Inputs {
            resp_rate: rr,
            spo2,
            scale: chart.scale.unwrap_or(Spo2Scale::Scale1),
            on_oxygen: chart.on_oxygen.unwrap_or(false),
            systolic: m("sbp").or(chart.systolic).unwrap_or(120.0),
            pulse: hr,
            consciousness: chart.consciousness.unwrap_or(Acvpu::Alert),
            temp_c: m("temp").or(chart.temp_c).unwrap_or(37.0),
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
        // Asset tags nobody hears: missing (naive after 5 min, news2 after 30).
        let missing_after = match self.kind {
            PolicyKind::Naive => 5 * MIN,
            PolicyKind::News2 => 30 * MIN,
        };
        for (id, d) in self.devices.iter_mut().filter(|(_, d)| d.asset) {
            // news2: the last known zone stands while a tag is silent (it was last heard out of
            // its zone, and has not been heard back in).
            if self.kind == PolicyKind::News2
                && d.bands[3].since.is_some()
                && let Some(began) = d.bands[3].update(now, true, 2 * MIN, 30 * MIN)
            {
                out.push(AlertOut {
                    subject: id.clone(),
                    class: "asset_zone_breach",
                    priority: Priority::Medium,
                    began_ms: began,
                    device: Some(id.clone()),
                    text: "last heard out of its zone".into(),
                });
            }
            let Some(last) = d.last_ts else { continue };
            if now - last > missing_after && !d.lost_alerted {
                d.lost_alerted = true;
                out.push(AlertOut {
                    subject: id.clone(),
                    class: "asset_missing",
                    priority: Priority::Low,
                    began_ms: last + missing_after,
                    device: Some(id.clone()),
                    text: format!("not heard for {} min", (now - last) / MIN),
                });
            }
        }
        if self.kind != PolicyKind::News2 {
            return;
        }
        // Silence is judged by arrival.
        let now = self.arrival();
        let mut silent_wards = std::collections::BTreeSet::new();
        for (name, w) in &mut self.wards {
            let (Some(last), Some(cadence)) = (w.last_arrival, w.cadence_ms) else {
                continue;
            };
            if now - last > 2 * cadence {
                silent_wards.insert(name.clone());
            }
            let offline_at = last + 2 * cadence + MIN;
            if now > offline_at && !w.offline_alerted {
                w.offline_alerted = true;
                let gateway = w.gateway.clone().unwrap_or_else(|| format!("edge-{name}"));
                out.push(AlertOut {
                    subject: gateway.clone(),
                    class: "gateway_offline",
                    priority: Priority::High,
                    began_ms: offline_at,
                    device: Some(gateway),
                    text: format!("nothing from ward {name} for {} s", (now - last) / S),
                });
            }
        }
        for (id, d) in self.devices.iter_mut().filter(|(_, d)| !d.tag) {
            if d.ward.as_ref().is_some_and(|w| silent_wards.contains(w)) {
                // The whole ward is silent: its gateway's silence, not this device's.
                continue;
            }
            let (Some(cadence), Some(last)) =
                (d.cadence_ms, d.last_value_arrival.or(d.last_arrival))
            else {
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
mod tests;
