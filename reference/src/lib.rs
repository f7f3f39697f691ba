//! # wardtwin-reference: the reference alerting stack
//!
//! A small system under test that sees only the MQTT telemetry (never the
//! ground truth), decides alerts with a [`policy`], and publishes them in alert schema v1. It
//! shows what the scorecard says about a naive and a sensible alerting policy, and is the
//! system the end-to-end tests score.
//!
//! It subscribes to `<prefix>/+/+/+/telemetry` and `<prefix>/+/+/+/status` (and the site map,
//! waveform frames, the nurses' chart as FHIR on `<prefix>/+/+/chart/fhir`); de-duplicates on
//! (device, seq) (QoS 1 is at least once); optionally echoes what it ingested; and, when asked,
//! stops once every gateway it saw has said `shutdown` and its alerts are acknowledged.
//!
//! It is its own crate so that the boundary is proved, not promised: it depends on the wire
//! and MQTT rooms of `wardtwin-exporters` and on the scorer's alert model, never on the twins
//! or the ground truth.

pub mod arrhythmia;
pub mod policy;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rumqttc::{Client, Event, Packet, QoS};
use serde::Deserialize;
use wardtwin_scoring::model::Alert;
use wardtwin_sim::time::parse_iso_ms;

pub use policy::{AlertOut, ChartIn, Policy, PolicyKind, ReadingIn, SiteMap};
use wardtwin_exporters::mqtt::LiveOptions;
use wardtwin_exporters::mqtt::publisher::{LiveError, client_options};
use wardtwin_exporters::mqtt::subscription::{Subscription, await_ready, end_session};
use wardtwin_exporters::mqtt::sync::{ClockMsg, ack_topic_of, encode_ack};
use wardtwin_exporters::wire::alerts::{encode_alert, encode_echo};

/// Echoes are sent in batches of this many readings.
const ECHO_BATCH: usize = 256;
/// How long after the run's end the stack waits for its last alerts and echoes to be
/// acknowledged before it disconnects anyway.
const FINAL_ACKS_LIMIT: Duration = Duration::from_secs(10);
/// The policy's silence check runs at most once per this much telemetry time.
const TICK_MS: i64 = 5_000;

/// The sequence numbers of one device seen so far, within [`SeqWindow::SPAN`] of the newest
/// (like IPsec's anti-replay window): a resend is a duplicate, a reading that a slow uplink
/// let another overtake is not. Older than the span is taken for a duplicate.
#[derive(Debug, Clone)]
struct SeqWindow {
    newest: Option<u32>,
    bits: Box<[u64; SeqWindow::SPAN as usize / 64]>,
}

impl Default for SeqWindow {
    fn default() -> Self {
        Self {
            newest: None,
            bits: Box::new([0; SeqWindow::SPAN as usize / 64]),
        }
    }
}

impl SeqWindow {
    /// 4,096 readings: over an hour at one a second, 17 h at one every 15 s.
    const SPAN: u32 = 4096;

    fn bit(&mut self, seq: u32) -> (&mut u64, u64) {
        let i = (seq % Self::SPAN) as usize;
        (&mut self.bits[i / 64], 1 << (i % 64))
    }

    /// Whether `seq` is seen for the first time (and notes it).
    fn first_time(&mut self, seq: u32) -> bool {
        match self.newest {
            Some(n) if seq > n => {
                if seq - n >= Self::SPAN {
                    self.bits.fill(0);
                } else {
                    for s in n + 1..seq {
                        let (w, b) = self.bit(s);
                        *w &= !b;
                    }
                }
                self.newest = Some(seq);
            }
            Some(n) if n - seq >= Self::SPAN => return false,
            Some(_) => {
                let (w, b) = self.bit(seq);
                if *w & b != 0 {
                    return false;
                }
            }
            None => self.newest = Some(seq),
        }
        let (w, b) = self.bit(seq);
        *w |= b;
        true
    }
}

/// How the reference stack runs.
#[derive(Debug, Clone)]
pub struct ReferenceConfig {
    pub policy: PolicyKind,
    /// The twin's topic prefix (`dt/wardtwin`).
    pub prefix: String,
    pub alerts_topic: String,
    pub echo_topic: Option<String>,
    /// Stop once every gateway seen has shut down.
    pub until_shutdown: bool,
    /// Lock-stepped to the twin's clock ([`wardtwin_exporters::mqtt::sync`]): telemetry is
    /// held until the clock message that covers it, then processed in a fixed order
    /// (device time, device, sequence), the policy's silence check runs, alerts and echoes
    /// go out, and the clock is acknowledged with the number of alerts published. Its
    /// alerts then do not depend on how the broker interleaves the gateways' connections,
    /// nor on the speed of the run.
    pub lockstep: bool,
}

/// What the reference stack did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReferenceReport {
    pub readings: u64,
    pub duplicates: u64,
    pub malformed: u64,
    pub alerts: u64,
    /// Times it connected again after losing the broker.
    pub reconnects: u64,
    /// Of those, the times the broker had lost its session (restarted without persistence):
    /// what was published meanwhile never reached it.
    pub sessions_lost: u64,
    /// ECG waveform frames fed to the arrhythmia detectors.
    pub waveform_frames: u64,
    /// Chart Bundles read (`<prefix>/<site>/<ward>/chart/fhir`).
    pub chart_rounds: u64,
}

#[derive(Deserialize)]
struct TelemetryIn {
    device: String,
    patient: Option<String>,
    ward: Option<String>,
    seq: u32,
    ts: String,
    battery_pct: f64,
    obs: Vec<ObsIn>,
}

#[derive(Deserialize)]
struct ObsIn {
    name: String,
    value: Option<f64>,
    status: String,
    receiver: Option<String>,
}

#[derive(Deserialize)]
struct SiteMapIn {
    spaces: Vec<SpaceIn>,
    receivers: Vec<ReceiverIn>,
    tags: Vec<TagIn>,
}

#[derive(Deserialize)]
struct SpaceIn {
    id: String,
    zone: String,
}

#[derive(Deserialize)]
struct ReceiverIn {
    id: String,
    space: String,
}

#[derive(Deserialize)]
struct TagIn {
    device: String,
    device_kind: String,
    permitted_zones: Vec<String>,
}

/// The site map as the policies use it: each receiver's zone, each asset tag's permitted zones.
fn decode_site_map(payload: &[u8]) -> Option<SiteMap> {
    let m: SiteMapIn = serde_json::from_slice(payload).ok()?;
    let zone_of: BTreeMap<&str, &str> = m
        .spaces
        .iter()
        .map(|s| (s.id.as_str(), s.zone.as_str()))
        .collect();
    Some(SiteMap {
        receiver_zone: m
            .receivers
            .iter()
            .filter_map(|r| Some((r.id.clone(), zone_of.get(r.space.as_str())?.to_string())))
            .collect(),
        assets: m
            .tags
            .into_iter()
            .filter(|t| t.device_kind == "asset_tag")
            .map(|t| (t.device, t.permitted_zones))
            .collect(),
    })
}

#[derive(Deserialize)]
struct StatusIn {
    #[serde(rename = "type")]
    kind: String,
    gateway: Option<String>,
    state: String,
    reason: Option<String>,
}

fn decode(payload: &[u8]) -> Option<(ReadingIn, u32)> {
    let t: TelemetryIn = serde_json::from_slice(payload).ok()?;
    Some((
        ReadingIn {
            ts_ms: parse_iso_ms(&t.ts)?,
            device: t.device,
            patient: t.patient,
            battery_pct: t.battery_pct,
            receiver: t.obs.iter().find_map(|o| o.receiver.clone()),
            ward: t.ward,
            obs: t
                .obs
                .into_iter()
                .map(|o| (o.name, o.value, o.status))
                .collect(),
        },
        t.seq,
    ))
}

/// The rounds of a chart Bundle (FHIR R4 transaction or collection of Observations), per
/// patient: the patient is the subject's identifier, or the id its reference names. Codes it
/// reads: LOINC 8867-4 pulse, 9279-1 respiratory rate, 59408-5/2708-6 SpO2, 8310-5
/// temperature (Cel), 85354-9 the blood-pressure panel (8480-6 systolic), 67775-7 level of
/// responsiveness (`urn:wardtwin:acvpu` letters, or the SNOMED CT AVPU findings), and
/// `urn:wardtwin:chart` `supplemental-oxygen` and `spo2-scale`. `None` when it is not a
/// Bundle of Observations with a subject and a time.
pub fn decode_chart(payload: &[u8]) -> Option<Vec<(String, ChartIn)>> {
    use serde_json::Value;
    use wardtwin_sim::news2::{Acvpu, Spo2Scale};
    const LOINC: &str = "http://loinc.org";
    const CHART: &str = "urn:wardtwin:chart";
    let b: Value = serde_json::from_slice(payload).ok()?;
    if b["resourceType"] != "Bundle" {
        return None;
    }
    let mut rounds: BTreeMap<String, ChartIn> = BTreeMap::new();
    for e in b["entry"].as_array()? {
        let o = &e["resource"];
        if o["resourceType"] != "Observation" {
            return None;
        }
        let subject = &o["subject"];
        let patient = match subject["identifier"]["value"].as_str() {
            Some(p) => p,
            None => subject["reference"].as_str()?.strip_prefix("Patient/")?,
        };
        let ts = parse_iso_ms(o["effectiveDateTime"].as_str()?)?;
        let c = rounds.entry(patient.to_string()).or_insert(ChartIn {
            charted_ms: ts,
            ..ChartIn::default()
        });
        c.charted_ms = c.charted_ms.max(ts);
        let has = |v: &Value, system: &str, code: &str| {
            v["coding"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["system"] == system && c["code"] == code)
            })
        };
        let code = &o["code"];
        // A value in its unit and within what a body can show (a typo of 1e308 is not read).
        let q = |v: &Value, unit: &str, range: std::ops::RangeInclusive<f64>| {
            (v["code"] == unit)
                .then(|| v["value"].as_f64())
                .flatten()
                .filter(|x| range.contains(x))
        };
        let vq = &o["valueQuantity"];
        if has(code, LOINC, "8867-4") {
            c.pulse = q(vq, "/min", 0.0..=350.0);
        } else if has(code, LOINC, "9279-1") {
            c.resp_rate = q(vq, "/min", 0.0..=120.0);
        } else if has(code, LOINC, "59408-5") || has(code, LOINC, "2708-6") {
            c.spo2 = q(vq, "%", 0.0..=100.0);
        } else if has(code, LOINC, "8310-5") {
            c.temp_c = q(vq, "Cel", 20.0..=45.0);
        } else if has(code, LOINC, "85354-9") {
            c.systolic = o["component"].as_array().and_then(|cs| {
                cs.iter()
                    .find(|x| has(&x["code"], LOINC, "8480-6"))
                    .and_then(|x| q(&x["valueQuantity"], "mm[Hg]", 0.0..=350.0))
            });
        } else if has(code, LOINC, "67775-7") {
            let v = &o["valueCodeableConcept"];
            let snomed = |code: &str| has(v, "http://snomed.info/sct", code);
            let letter = |l: &str| has(v, "urn:wardtwin:acvpu", l);
            c.consciousness = if letter("A") || snomed("248234008") {
                Some(Acvpu::Alert)
            } else if letter("C") {
                Some(Acvpu::Confused)
            } else if letter("V") || snomed("300202002") || snomed("255373000") {
                Some(Acvpu::Voice)
            } else if letter("P") || snomed("450847001") {
                Some(Acvpu::Pain)
            } else if letter("U") || snomed("422768004") {
                Some(Acvpu::Unresponsive)
            } else {
                None
            };
        } else if has(code, CHART, "supplemental-oxygen") {
            c.on_oxygen = o["valueBoolean"].as_bool();
        } else if has(code, CHART, "spo2-scale") {
            c.scale = match o["valueInteger"].as_u64() {
                Some(1) => Some(Spo2Scale::Scale1),
                Some(2) => Some(Spo2Scale::Scale2),
                _ => None,
            };
        }
    }
    Some(rounds.into_iter().collect())
}

#[derive(Deserialize)]
struct WaveformIn {
    device: String,
    patient: Option<String>,
    signal: String,
    seq: u64,
    ts: String,
    first_sample: u64,
    factor: f64,
    data: Vec<Option<f64>>,
}

/// The stack's state between messages.
struct Stack {
    /// Per ECG patch, its arrhythmia detector (waveform frames).
    detectors: BTreeMap<String, arrhythmia::Detector>,
    /// Lockstep: ECG frames received since the last clock processed, and frames received in all.
    held_frames: Vec<(WaveformIn, i64)>,
    waveforms_received: u64,
    cfg: ReferenceConfig,
    policy: Policy,
    client: Client,
    /// Per device, the sequence numbers seen (QoS 1 is at least once, and a slow uplink
    /// reorders).
    seen: BTreeMap<String, SeqWindow>,
    echo: Vec<(String, u32)>,
    last_tick: i64,
    report: ReferenceReport,
    published: Arc<AtomicU64>,
    gateways_online: BTreeSet<String>,
    gateways_seen: bool,
    /// Every publish (alerts and echoes), to know when all are acknowledged.
    outgoing: u64,
    /// Lockstep: chart rounds received since the last clock processed, and how many in all.
    held_chart: Vec<(String, ChartIn)>,
    chart_received: u64,
    /// Lockstep: telemetry received since the last clock processed, and how much in all.
    held: Vec<(ReadingIn, u32)>,
    telemetry_received: u64,
    /// Lockstep: a clock whose telemetry has not all arrived yet (its topic, message).
    waiting: Option<(String, ClockMsg)>,
    /// Lockstep: the broker lost the session, so telemetry published meanwhile never comes:
    /// the next clock's count is taken as what has arrived.
    rebaseline: bool,
}

impl Stack {
    fn publish(&mut self, alerts: Vec<AlertOut>) {
        for a in alerts {
            self.report.alerts += 1;
            let alert = Alert {
                alert_id: format!("ref-{}-{}", self.policy.kind().name(), self.report.alerts),
                subject: a.subject,
                class: a.class.to_string(),
                priority: a.priority,
                began_ms: a.began_ms,
                device: a.device,
            };
            let evidence = serde_json::json!({ "policy": self.policy.kind().name() });
            let payload = encode_alert(&alert, &a.text, evidence);
            // Blocks while rumqttc's request queue is full: alerts are never dropped here.
            let _ = self.client.publish(
                self.cfg.alerts_topic.as_str(),
                QoS::AtLeastOnce,
                false,
                payload,
            );
            self.published.fetch_add(1, Ordering::Relaxed);
            self.outgoing += 1;
        }
    }

    fn flush_echo(&mut self) {
        if let (Some(topic), false) = (&self.cfg.echo_topic, self.echo.is_empty()) {
            let items: Vec<(&str, u32)> = self.echo.iter().map(|(d, s)| (d.as_str(), *s)).collect();
            let _ =
                self.client
                    .publish(topic.as_str(), QoS::AtLeastOnce, false, encode_echo(&items));
            self.outgoing += 1;
        }
        self.echo.clear();
    }

    /// A waveform frame: the ECG goes to its device's arrhythmia detector (lock-stepped: held
    /// until the clock that covers it, like telemetry, so alerts are reproducible).
    fn waveform(&mut self, payload: &[u8]) {
        self.waveforms_received += 1;
        let Ok(w) = serde_json::from_slice::<WaveformIn>(payload) else {
            self.report.malformed += 1;
            self.try_clock();
            return;
        };
        if w.signal == "ecg_ii" {
            match parse_iso_ms(&w.ts) {
                Some(ts) if w.factor.is_finite() => {
                    if self.cfg.lockstep {
                        self.held_frames.push((w, ts));
                    } else {
                        self.frame(w, ts);
                    }
                }
                _ => self.report.malformed += 1,
            }
        }
        if self.cfg.lockstep {
            self.try_clock();
        }
    }

    /// One ECG frame through its device's detector.
    fn frame(&mut self, w: WaveformIn, ts: i64) {
        self.report.waveform_frames += 1;
        // A sample that is not a number is 0 (a lead-off amplifier's flat line).
        let data: Vec<f64> = w
            .data
            .iter()
            .map(|v| v.unwrap_or(0.0) * w.factor)
            .map(|v| if v.is_finite() { v } else { 0.0 })
            .collect();
        let subject = w.patient.clone().unwrap_or_else(|| w.device.clone());
        let d = self
            .detectors
            .entry(w.device.clone())
            .or_insert_with(|| arrhythmia::Detector::new(&w.device, &subject));
        let mut out = Vec::new();
        d.frame(w.seq, w.first_sample, ts, &data, &mut out);
        self.publish(out);
    }

    /// A round of the chart (FHIR Bundle), held until its clock when lock-stepped.
    fn chart(&mut self, payload: &[u8]) {
        self.chart_received += 1;
        match decode_chart(payload) {
            Some(rounds) => {
                self.report.chart_rounds += 1;
                if self.cfg.lockstep {
                    self.held_chart.extend(rounds);
                } else {
                    let mut out = Vec::new();
                    for (p, c) in rounds {
                        self.policy.on_chart(&p, c, &mut out);
                    }
                    self.publish(out);
                }
            }
            None => self.report.malformed += 1,
        }
        if self.cfg.lockstep {
            self.try_clock();
        }
    }

    fn telemetry(&mut self, payload: &[u8]) {
        self.telemetry_received += 1;
        let Some((r, seq)) = decode(payload) else {
            self.report.malformed += 1;
            return;
        };
        if self.cfg.lockstep {
            self.held.push((r, seq));
            self.try_clock();
            return;
        }
        self.reading(r, seq);
    }

    /// Connected again after losing the broker: if it lost the session too, what was
    /// published meanwhile is gone, and waiting for it would stall the twin.
    fn reconnected(&mut self, session_present: bool) {
        self.report.reconnects += 1;
        if session_present {
            return;
        }
        self.report.sessions_lost += 1;
        if self.cfg.lockstep {
            if let Some((topic, c)) = self.waiting.take() {
                self.answer(&topic, &c);
            }
            self.rebaseline = true;
        }
    }

    /// Lockstep: a clock message from the twin (ignored when retained: an old run's).
    fn clock(&mut self, topic: &str, payload: &[u8], retained: bool) {
        if retained {
            return;
        }
        match ClockMsg::decode(payload) {
            Some(c) => {
                if std::mem::take(&mut self.rebaseline) {
                    self.telemetry_received = self.telemetry_received.max(c.telemetry);
                    self.waveforms_received = self.waveforms_received.max(c.waveforms);
                    self.chart_received = self.chart_received.max(c.chart);
                }
                // A newer clock while one still waits for telemetry that never came (lost at
                // QoS 0, or dropped): the twin has given up waiting; answer the old one with
                // what did arrive, rather than wait for ever.
                if let Some((stale_topic, stale)) = self.waiting.take() {
                    self.answer(&stale_topic, &stale);
                }
                self.waiting = Some((topic.to_string(), c));
                self.try_clock();
            }
            None => self.report.malformed += 1,
        }
    }

    /// Lockstep: once everything the waiting clock covers has arrived, answers it.
    fn try_clock(&mut self) {
        let (telemetry, waveforms, chart) = (
            self.telemetry_received,
            self.waveforms_received,
            self.chart_received,
        );
        if let Some((topic, c)) = self.waiting.take_if(|(_, c)| {
            telemetry >= c.telemetry && waveforms >= c.waveforms && chart >= c.chart
        }) {
            self.answer(&topic, &c);
        }
    }

    /// Lockstep: processes what is held, runs the silence checks, publishes alerts and echo,
    /// then acknowledges the clock of `tick` (received on `clock_topic`).
    fn answer(&mut self, clock_topic: &str, clock: &ClockMsg) {
        if let Some(ms) = parse_iso_ms(&clock.sim_time) {
            self.policy.set_clock(ms);
        }
        let tick = clock.tick;
        self.process_held();
        let mut out = Vec::new();
        self.policy.tick(&mut out);
        self.publish(out);
        self.flush_echo();
        if let Some(ack) = ack_topic_of(clock_topic) {
            let _ = self.client.publish(
                ack,
                QoS::AtLeastOnce,
                false,
                encode_ack(tick, Some(self.report.alerts)),
            );
            self.outgoing += 1;
        }
    }

    /// Lockstep: the telemetry held so far, in a fixed order.
    fn process_held(&mut self) {
        // The chart's rounds first, by time and patient.
        let mut rounds = std::mem::take(&mut self.held_chart);
        rounds.sort_by(|a, b| (a.1.charted_ms, &a.0).cmp(&(b.1.charted_ms, &b.0)));
        let mut out = Vec::new();
        for (p, c) in rounds {
            self.policy.on_chart(&p, c, &mut out);
        }
        self.publish(out);
        // Waveform frames first, per device in order (alerts from them in a fixed order).
        let mut frames = std::mem::take(&mut self.held_frames);
        frames.sort_by(|a, b| (&a.0.device, a.0.seq).cmp(&(&b.0.device, b.0.seq)));
        for (w, ts) in frames {
            self.frame(w, ts);
        }
        let mut held = std::mem::take(&mut self.held);
        held.sort_by(|a, b| (a.0.ts_ms, &a.0.device, a.1).cmp(&(b.0.ts_ms, &b.0.device, b.1)));
        for (r, seq) in held.drain(..) {
            self.reading(r, seq);
        }
        self.held = held;
    }

    fn reading(&mut self, r: ReadingIn, seq: u32) {
        let first = match self.seen.get_mut(&r.device) {
            Some(w) => w.first_time(seq),
            None => {
                let mut w = SeqWindow::default();
                w.first_time(seq);
                self.seen.insert(r.device.clone(), w);
                true
            }
        };
        if !first {
            self.report.duplicates += 1;
            return;
        }
        self.report.readings += 1;
        if self.cfg.echo_topic.is_some() {
            self.echo.push((r.device.clone(), seq));
            if self.echo.len() >= ECHO_BATCH {
                self.flush_echo();
            }
        }
        let mut out = Vec::new();
        self.policy.on_reading(&r, &mut out);
        if !self.cfg.lockstep && r.ts_ms.saturating_sub(self.last_tick) >= TICK_MS {
            self.last_tick = r.ts_ms;
            self.policy.tick(&mut out);
            // The echo is judged for its lag too: never hold it longer than a tick.
            self.flush_echo();
        }
        self.publish(out);
    }

    /// A gateway status; true when every gateway seen has shut down.
    fn status(&mut self, payload: &[u8], retained: bool) -> bool {
        let Ok(s) = serde_json::from_slice::<StatusIn>(payload) else {
            return false;
        };
        if s.kind != "gateway_status" || retained {
            return false;
        }
        let Some(g) = s.gateway else { return false };
        if s.state == "online" {
            self.gateways_seen = true;
            self.gateways_online.insert(g);
        } else if s.reason.as_deref() == Some("shutdown") {
            self.gateways_online.remove(&g);
        }
        self.gateways_seen && self.gateways_online.is_empty()
    }
}

/// A running reference stack.
pub struct ReferenceStack {
    client: Client,
    thread: Option<JoinHandle<ReferenceReport>>,
    published: Arc<AtomicU64>,
}

impl ReferenceStack {
    /// Connects and subscribes (waiting for the broker's confirmation), then runs on its own
    /// thread.
    pub fn start(
        opts: &LiveOptions,
        client_id: String,
        cfg: ReferenceConfig,
    ) -> Result<Self, LiveError> {
        let connect = |why: String| LiveError::Connect {
            url: opts.broker.to_string(),
            why,
        };
        let mut mo = client_options(opts, client_id).map_err(|e| connect(e.to_string()))?;
        // A persistent session: a broker that keeps it holds the telemetry published while
        // the stack reconnects (its QoS 1 subscriptions); one that lost it (restarted without
        // persistence) says so in its CONNACK. Ended when the stack stops.
        mo.set_clean_session(false);
        let session = mo.clone();
        let (client, mut conn) = Client::new(mo, 1024);
        // A lock-stepped twin waits for its acknowledgements: no Nagle delay.
        conn.eventloop.network_options.set_tcp_nodelay(true);
        let mut topics = vec![
            format!("{}/+/+/+/telemetry", cfg.prefix),
            format!("{}/+/+/+/status", cfg.prefix),
            format!("{}/+/site/map", cfg.prefix),
            format!("{}/+/+/+/waveform", cfg.prefix),
            format!("{}/+/+/chart/fhir", cfg.prefix),
        ];
        if cfg.lockstep {
            topics.push(format!("{}/+/sim/clock", cfg.prefix));
        }
        let published = Arc::new(AtomicU64::new(0));
        let (mut sub, ready) = Subscription::new(client.clone(), topics);
        let mut stack = Stack {
            detectors: BTreeMap::new(),
            held_frames: Vec::new(),
            waveforms_received: 0,
            policy: Policy::new(cfg.policy),
            cfg,
            client: client.clone(),
            seen: BTreeMap::new(),
            echo: Vec::new(),
            last_tick: i64::MIN,
            report: ReferenceReport::default(),
            published: Arc::clone(&published),
            gateways_online: BTreeSet::new(),
            gateways_seen: false,
            outgoing: 0,
            held_chart: Vec::new(),
            chart_received: 0,
            held: Vec::new(),
            telemetry_received: 0,
            waiting: None,
            rebaseline: false,
        };
        let thread = std::thread::Builder::new()
            .name("reference-stack".into())
            .spawn(move || {
                let mut acked = 0u64;
                let mut done = false;
                // When the run ended (wall time, edge: how long to wait for our last acks).
                #[allow(clippy::disallowed_methods)]
                let now = std::time::Instant::now;
                let mut done_at = None;
                let mut connected_before = false;
                loop {
                    let ev = match conn.recv_timeout(Duration::from_millis(500)) {
                        Ok(ev) => ev,
                        Err(rumqttc::RecvTimeoutError::Timeout) => {
                            // A broker that restarted without its session never acknowledges
                            // what was in flight then: do not wait for ever.
                            if done_at.is_some_and(|t: std::time::Instant| {
                                t.elapsed() >= FINAL_ACKS_LIMIT
                            }) {
                                let _ = stack.client.disconnect();
                            }
                            continue;
                        }
                        Err(rumqttc::RecvTimeoutError::Disconnected) => break,
                    };
                    sub.handle(&ev);
                    match ev {
                        Ok(Event::Incoming(Packet::ConnAck(ack)))
                            if std::mem::replace(&mut connected_before, true) =>
                        {
                            stack.reconnected(ack.session_present);
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            if p.topic.ends_with("/telemetry") {
                                stack.telemetry(&p.payload);
                            } else if p.topic.ends_with("/chart/fhir") {
                                stack.chart(&p.payload);
                            } else if p.topic.ends_with("/waveform") {
                                stack.waveform(&p.payload);
                            } else if p.topic.ends_with("/sim/clock") {
                                stack.clock(&p.topic, &p.payload, p.retain);
                            } else if p.topic.ends_with("/site/map") {
                                match decode_site_map(&p.payload) {
                                    Some(map) => stack.policy.set_site_map(map),
                                    None => stack.report.malformed += 1,
                                }
                            } else if stack.status(&p.payload, p.retain) && stack.cfg.until_shutdown
                            {
                                // What came after the last clock (the end of the run).
                                stack.process_held();
                                let mut out = Vec::new();
                                stack.policy.tick(&mut out);
                                stack.publish(out);
                                stack.flush_echo();
                                done = true;
                                done_at.get_or_insert_with(now);
                            }
                        }
                        Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                        Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                        _ => {}
                    }
                    // Every alert and echo acknowledged: nothing of ours is left in flight.
                    if done
                        && (acked >= stack.outgoing
                            || done_at.is_some_and(|t| t.elapsed() >= FINAL_ACKS_LIMIT))
                    {
                        let _ = stack.client.disconnect();
                    }
                }
                end_session(session);
                stack.report
            })
            .map_err(|e| connect(e.to_string()))?;
        let mut s = Self {
            client,
            thread: Some(thread),
            published,
        };
        await_ready(&ready, &opts.broker.to_string(), || s.stop())?;
        Ok(s)
    }

    /// Alerts published so far.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    fn stop(&mut self) {
        let _ = self.client.disconnect();
        self.thread.take();
    }

    /// Waits until the stack has stopped by itself (`until_shutdown`), or stops it after `limit`.
    pub fn join(mut self, limit: Duration) -> ReferenceReport {
        #[allow(clippy::disallowed_methods)]
        let start = std::time::Instant::now();
        let t = self.thread.take().expect("running");
        while !t.is_finished() && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.client.disconnect();
        t.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod seq_tests {
    use super::SeqWindow;

    #[test]
    fn a_resend_is_a_duplicate_and_a_reading_overtaken_on_the_way_is_not() {
        let mut w = SeqWindow::default();
        assert!(w.first_time(5));
        assert!(w.first_time(7), "6 is still on its way");
        assert!(w.first_time(6), "overtaken, not a duplicate");
        assert!(!w.first_time(6) && !w.first_time(7) && !w.first_time(5));
        assert!(w.first_time(4), "older than the first seen, never seen");
        // A jump past the span forgets the past: what is that old is taken for a duplicate.
        assert!(w.first_time(7 + SeqWindow::SPAN));
        assert!(!w.first_time(7), "older than the span");
        assert!(
            w.first_time(SeqWindow::SPAN + 6),
            "inside the span, never seen"
        );
        assert!(w.first_time(u32::MAX));
        assert!(
            !w.first_time(u32::MAX),
            "no overflow at the top of the range"
        );
    }
}

#[cfg(test)]
mod chart_tests {
    use super::decode_chart;
    use wardtwin_exporters::fhir::ChartRound;
    use wardtwin_sim::news2::{Acvpu, Spo2Scale};
    use wardtwin_sim::records::ChartValues;

    #[test]
    fn a_chart_bundle_reads_back_as_the_round_it_charts() {
        let v = ChartValues {
            heart_rate: 104.0,
            resp_rate: 26.0,
            spo2: 91.0,
            temp_c: 38.6,
            systolic: 95.0,
            diastolic: 58.0,
            consciousness: Acvpu::Pain,
            on_oxygen: true,
        };
        // A patient id that is not a FHIR id: the subject's identifier names it.
        let round = ChartRound {
            patient: "Zimmer-ä 3",
            patient_fid: "Zimmer-3",
            charted_ms: 1_772_409_600_000,
            values: &v,
            news2: 12,
            scale: 2,
        };
        let mut buf = Vec::new();
        round.bundle(&mut buf);
        let rounds = decode_chart(&buf).expect("a chart Bundle");
        assert_eq!(rounds.len(), 1);
        let (p, c) = &rounds[0];
        assert_eq!(p, "Zimmer-ä 3");
        assert_eq!(c.charted_ms, 1_772_409_600_000);
        assert_eq!(c.consciousness, Some(Acvpu::Pain));
        assert_eq!(c.on_oxygen, Some(true));
        assert_eq!(c.scale, Some(Spo2Scale::Scale2));
        assert_eq!(
            (c.pulse, c.resp_rate, c.spo2, c.temp_c, c.systolic),
            (Some(104.0), Some(26.0), Some(91.0), Some(38.6), Some(95.0))
        );
    }

    #[test]
    fn what_is_not_a_chart_bundle_is_refused_not_a_panic() {
        for bad in [
            &b"\xff\xfe garbage"[..],
            b"{}",
            b"[]",
            b"{\"resourceType\":\"Bundle\"}",
            b"{\"resourceType\":\"Bundle\",\"entry\":[{\"resource\":{\"resourceType\":\"Patient\"}}]}",
            b"{\"resourceType\":\"Bundle\",\"entry\":[{\"resource\":{\"resourceType\":\"Observation\",\
               \"subject\":{\"reference\":\"Patient/x\"},\"effectiveDateTime\":\"not a time\"}}]}",
        ] {
            assert_eq!(decode_chart(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        // A value in another unit, or out of every body's range (1e308), is not read.
        let odd = br#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation",
            "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-03-02T00:00:00Z",
            "code":{"coding":[{"system":"http://loinc.org","code":"8310-5"}]},
            "valueQuantity":{"value":100.4,"code":"[degF]"}}},
            {"resource":{"resourceType":"Observation","subject":{"reference":"Patient/p1"},
            "effectiveDateTime":"2026-03-02T00:00:00Z",
            "code":{"coding":[{"system":"http://loinc.org","code":"9279-1"}]},
            "valueQuantity":{"value":1e308,"code":"/min"}}}]}"#;
        let r = decode_chart(odd).expect("a Bundle");
        assert_eq!(r[0].0, "p1");
        assert_eq!((r[0].1.temp_c, r[0].1.resp_rate), (None, None));
    }
}
