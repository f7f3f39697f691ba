//! Wire format v1: MQTT topics and JSON payloads (documented in `docs/wire-schema.md`, one JSON
//! Schema per payload kind under `docs/schemas/`).
//!
//! Topics run general to specific, lowercase, at most 7 levels (DOMAIN.md section 7):
//!
//! ```text
//! <prefix>/<site>/<ward>/<device-id>/telemetry     device readings        (QoS 0|1, not retained)
//! <prefix>/<site>/<ward>/<device-id>/status        device status          (retained)
//! <prefix>/<site>/<ward>/<gateway-id>/status       gateway status, will   (retained)
//! ```
//!
//! Everything a payload says that does not change (ids, kind, topics) is rendered once per
//! device in a [`WireDirectory`]; encoding a reading only appends the moving parts to a reused
//! buffer.

use std::fmt::Write as _;
use std::sync::Arc;

use wardtwin_sim::Directory;
use wardtwin_sim::records::{ObsStatus, Reading, StatusReport};
use wardtwin_sim::time::{SimMillis, write_iso_ms};

use crate::runfolder::tables::displayed;

/// The payload version every message carries as `"v"`.
pub const WIRE_VERSION: u32 = 1;
/// Default topic prefix.
pub const DEFAULT_PREFIX: &str = "dt/wardtwin";
/// Topic levels the prefix may use (the rest of the topic takes 4; the total stays ≤ 7).
pub const MAX_PREFIX_LEVELS: usize = 3;

/// Why a topic prefix was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrefixError {
    #[error("topic prefix is empty")]
    Empty,
    #[error(
        "topic prefix {0:?} has {1} levels; at most {MAX_PREFIX_LEVELS} (topics stay within 7)"
    )]
    TooDeep(String, usize),
    #[error(
        "topic prefix {0:?}: levels must be non-empty, lowercase a-z, 0-9, '-' or '_' (no wildcards, no leading '/')"
    )]
    BadLevel(String),
}

/// Checks a topic prefix (`dt/wardtwin`).
pub fn check_prefix(prefix: &str) -> Result<(), PrefixError> {
    if prefix.is_empty() {
        return Err(PrefixError::Empty);
    }
    let levels: Vec<&str> = prefix.split('/').collect();
    let ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    if !levels.iter().all(|l| ok(l)) {
        return Err(PrefixError::BadLevel(prefix.to_string()));
    }
    if levels.len() > MAX_PREFIX_LEVELS {
        return Err(PrefixError::TooDeep(prefix.to_string(), levels.len()));
    }
    Ok(())
}

/// A topic level from an id or a name: lowercase; anything but a-z, 0-9, '-' and '_' becomes
/// '-' (so `St. Elsewhere General` → `st-elsewhere-general`, `W1` → `w1`).
pub fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "x".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The gateway id of a ward (`gw-w1`).
pub fn gateway_id(ward: &str) -> String {
    format!("gw-{}", slug(ward))
}

/// JSON string literal (quotes and escapes).
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One gateway: a ward's edge box, the devices it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct WireGateway {
    pub id: String,
    pub ward: String,
    pub status_topic: Arc<str>,
    /// Devices behind it (dense device indices).
    pub devices: Vec<u32>,
}

/// One device's fixed wire parts.
#[derive(Debug, Clone, PartialEq)]
pub struct WireDevice {
    pub telemetry_topic: Arc<str>,
    pub status_topic: Arc<str>,
    /// Waveform frames (a run with `--waveforms`): ECG patches and oximeters only.
    pub waveform_topic: Arc<str>,
    /// Its readings as FHIR R4 (`--fhir-topic`): a transaction Bundle per reading.
    pub fhir_topic: Arc<str>,
    /// Index into [`WireDirectory::gateways`].
    pub gateway: usize,
    /// `"device":…,"device_kind":…,"patient":…,"bed":…,"ward":…,"gateway":…` (no braces).
    ids_json: String,
}

/// Topics and the fixed JSON of every device and gateway of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct WireDirectory {
    pub prefix: String,
    pub site: String,
    pub devices: Vec<WireDevice>,
    pub gateways: Vec<WireGateway>,
    /// Each RTLS receiver's id, as a JSON string literal.
    receivers: Vec<String>,
    /// The site map (retained): its topic and payload.
    pub site_map_topic: Arc<str>,
    pub site_map: String,
    /// Per patient: the devices that carry its waveforms (ECG patch, oximeter).
    pub waveform_devices: Vec<[Option<u32>; 2]>,
    /// Per patient: its ward's chart topic (`<prefix>/<site>/<ward>/chart/fhir`; the
    /// chart's rounds as FHIR Bundles, `--fhir-topic`).
    pub chart_topics: Vec<Arc<str>>,
}

/// The waveform signals on the wire, in [`wardtwin_sim::records::WaveFrame`]'s order: name,
/// unit, MDC code (IEEE 11073-10101), sample period (ms), factor (physical units per integer
/// of `data`), and which device carries it (0: the ECG patch, 1: the oximeter).
pub const WAVE_SIGNALS: [(&str, &str, u32, u32, f64, usize); 3] = [
    ("ecg_ii", "mV", 131_330, 4, 0.001, 0),
    ("pleth", "1", 150_452, 8, 0.001, 1),
    ("resp_impedance", "Ohm", 151_808, 16, 0.001, 0),
];

impl WireDirectory {
    /// Renders topics for `dir` under `prefix` (checked with [`check_prefix`]) and `site` (any
    /// name; slugged).
    pub fn new(dir: &Directory, prefix: &str, site: &str) -> Result<Self, PrefixError> {
        check_prefix(prefix)?;
        let site = slug(site);
        let mut gateways: Vec<WireGateway> = Vec::new();
        let mut devices = Vec::with_capacity(dir.devices.len());
        for (ix, d) in dir.devices.iter().enumerate() {
            let bed = d.bed.map(|b| dir.bed(b));
            let ward = d.ward.as_str();
            let gw = match gateways.iter().position(|g| g.ward == ward) {
                Some(g) => g,
                None => {
                    let id = gateway_id(ward);
                    gateways.push(WireGateway {
                        status_topic: format!("{prefix}/{site}/{}/{id}/status", slug(ward)).into(),
                        id,
                        ward: ward.to_string(),
                        devices: Vec::new(),
                    });
                    gateways.len() - 1
                }
            };
            gateways[gw].devices.push(ix as u32);
            let base = format!("{prefix}/{site}/{}/{}", slug(ward), slug(&d.id));
            let mut ids = String::new();
            ids.push_str("\"device\":");
            json_str(&mut ids, &d.id);
            ids.push_str(",\"device_kind\":");
            json_str(&mut ids, d.kind.name());
            ids.push_str(",\"patient\":");
            match d.patient {
                Some(p) => json_str(&mut ids, &dir.patient(p).id),
                None => ids.push_str("null"),
            }
            ids.push_str(",\"bed\":");
            match bed {
                Some(b) => json_str(&mut ids, &b.id),
                None => ids.push_str("null"),
            }
            ids.push_str(",\"ward\":");
            json_str(&mut ids, ward);
            ids.push_str(",\"gateway\":");
            json_str(&mut ids, &gateways[gw].id);
            devices.push(WireDevice {
                telemetry_topic: format!("{base}/telemetry").into(),
                status_topic: format!("{base}/status").into(),
                waveform_topic: format!("{base}/waveform").into(),
                fhir_topic: format!("{base}/fhir").into(),
                gateway: gw,
                ids_json: ids,
            });
        }
        let receivers = dir
            .receivers
            .iter()
            .map(|r| {
                let mut q = String::new();
                json_str(&mut q, &r.id);
                q
            })
            .collect();
        let site_map_topic = format!("{prefix}/{site}/site/map").into();
        let site_map = site_map(dir, &site);
        let mut waveform_devices = vec![[None, None]; dir.patients.len()];
        for (ix, d) in dir.devices.iter().enumerate() {
            let slot = match d.kind {
                wardtwin_sim::records::DeviceKind::EcgPatch => 0,
                wardtwin_sim::records::DeviceKind::PulseOximeter => 1,
                _ => continue,
            };
            if let Some(p) = d.patient {
                waveform_devices[p.0 as usize][slot].get_or_insert(ix as u32);
            }
        }
        let mut ward_topics: Vec<(&str, Arc<str>)> = Vec::new();
        let chart_topics = dir
            .patients
            .iter()
            .map(|p| {
                let ward = dir.bed(p.bed).ward.as_str();
                if let Some((_, t)) = ward_topics.iter().find(|(w, _)| *w == ward) {
                    return Arc::clone(t);
                }
                let t: Arc<str> = format!("{prefix}/{site}/{}/chart/fhir", slug(ward)).into();
                ward_topics.push((ward, Arc::clone(&t)));
                t
            })
            .collect();
        Ok(Self {
            prefix: prefix.to_string(),
            site,
            chart_topics,
            devices,
            gateways,
            receivers,
            site_map_topic,
            site_map,
            waveform_devices,
        })
    }

    /// The waveform payload of signal `k` ([`WAVE_SIGNALS`]) of frame `f`, carried by `device`,
    /// into `out` (cleared first): FHIR `SampledData`'s shape (origin, period, factor, data),
    /// with the time of its first sample, its index since the run began, and a sequence number
    /// (the step's).
    pub fn waveform(
        &self,
        device: u32,
        f: &wardtwin_sim::records::WaveFrame,
        k: usize,
        epoch_ms: SimMillis,
        seq: u64,
        out: &mut String,
    ) {
        out.clear();
        let (name, unit, mdc, period, factor, _) = WAVE_SIGNALS[k];
        let d = &self.devices[device as usize];
        let first = f.first[k];
        let _ = write!(out, "{{\"v\":{WIRE_VERSION},\"type\":\"waveform\",");
        out.push_str(&d.ids_json);
        let _ = write!(
            out,
            ",\"signal\":\"{name}\",\"mdc\":{mdc},\"unit\":\"{unit}\",\"seq\":{seq},\"ts\":\""
        );
        write_iso_ms(out, epoch_ms + first as i64 * i64::from(period));
        let _ = write!(
            out,
            "\",\"first_sample\":{first},\"period_ms\":{period},\"origin\":0,\"factor\":{factor},\"data\":["
        );
        let samples = match k {
            0 => &f.ecg,
            1 => &f.pleth,
            _ => &f.resp,
        };
        for (i, v) in samples.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if v.is_finite() {
                let _ = write!(out, "{}", (f64::from(*v) / factor).round() as i64);
            } else {
                out.push_str("null");
            }
        }
        out.push_str("]}");
    }

    /// The telemetry payload of `r`, into `out` (cleared first).
    pub fn telemetry(&self, r: &Reading, out: &mut String) {
        out.clear();
        let d = &self.devices[r.device.0 as usize];
        let _ = write!(out, "{{\"v\":{WIRE_VERSION},\"type\":\"telemetry\",");
        out.push_str(&d.ids_json);
        let _ = write!(out, ",\"seq\":{},\"ts\":\"", r.seq);
        write_iso_ms(out, r.device_ms);
        let _ = write!(
            out,
            "\",\"battery_pct\":{},\"status\":\"{}\",\"obs\":[",
            battery(r.battery_pct),
            r.signal().name()
        );
        for (i, o) in r.observations().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let m = o.metric;
            let _ = write!(out, "{{\"name\":\"{}\",\"loinc\":", m.name());
            match codes::loinc(m) {
                Some(code) => {
                    let _ = write!(out, "\"{code}\"");
                }
                None => out.push_str("null"),
            }
            out.push_str(",\"mdc\":");
            match codes::mdc(m) {
                Some(code) => {
                    let _ = write!(out, "{code}");
                }
                None => out.push_str("null"),
            }
            out.push_str(",\"value\":");
            // A value that is not a finite number is no measurement: `null`, and a status that
            // says so if the observation claimed to be fine.
            let value = o.value.map(displayed).filter(|v| v.is_finite());
            let status = match (o.value, value, o.status) {
                (Some(_), None, ObsStatus::Ok) => ObsStatus::SensorFault,
                (_, _, s) => s,
            };
            match value {
                Some(v) => {
                    let _ = write!(out, "{v}");
                }
                None => out.push_str("null"),
            }
            let _ = write!(
                out,
                ",\"unit\":\"{}\",\"status\":\"{}\"",
                codes::ucum(m),
                status.name()
            );
            if let Some(rx) = self.receivers.get(usize::from(o.source)) {
                out.push_str(",\"receiver\":");
                out.push_str(rx);
            }
            out.push('}');
        }
        out.push_str("]}");
    }

    /// A device status payload (`state` online), into `out`.
    pub fn device_status(&self, s: &StatusReport, out: &mut String) {
        out.clear();
        let d = &self.devices[s.device.0 as usize];
        let _ = write!(out, "{{\"v\":{WIRE_VERSION},\"type\":\"device_status\",");
        out.push_str(&d.ids_json);
        out.push_str(",\"state\":\"online\",\"ts\":\"");
        write_iso_ms(out, s.device_ms);
        let _ = write!(
            out,
            "\",\"battery_pct\":{},\"battery\":\"{}\",\"signal\":\"{}\",\"reason\":\"{}\"}}",
            battery(s.battery_pct),
            s.battery.name(),
            s.signal.name(),
            s.reason.name()
        );
    }

    /// The will of a device's own connection: `state` offline, reason `connection_lost`.
    pub fn device_will(&self, device: u32) -> String {
        let d = &self.devices[device as usize];
        format!(
            "{{\"v\":{WIRE_VERSION},\"type\":\"device_status\",{},\"state\":\"offline\",\"reason\":\"connection_lost\"}}",
            d.ids_json
        )
    }

    /// A gateway status payload. `ts` is `None` for the will (the broker sends it, later).
    pub fn gateway_status(
        &self,
        gateway: usize,
        online: bool,
        reason: GatewayReason,
        ts: Option<SimMillis>,
    ) -> String {
        let g = &self.gateways[gateway];
        let mut out = format!("{{\"v\":{WIRE_VERSION},\"type\":\"gateway_status\",\"gateway\":");
        json_str(&mut out, &g.id);
        out.push_str(",\"site\":");
        json_str(&mut out, &self.site);
        out.push_str(",\"ward\":");
        json_str(&mut out, &g.ward);
        let _ = write!(
            out,
            ",\"state\":\"{}\",\"devices\":{}",
            if online { "online" } else { "offline" },
            g.devices.len()
        );
        if let Some(t) = ts {
            out.push_str(",\"ts\":\"");
            write_iso_ms(&mut out, t);
            out.push('"');
        }
        let _ = write!(out, ",\"reason\":\"{}\"}}", reason.name());
        out
    }
}

/// The site map payload: spaces and their zones, receivers and where they hang, and each tag
/// with the zones its asset is permitted in (its home ward's), so a location engine can work.
fn site_map(dir: &Directory, site: &str) -> String {
    let mut out = format!("{{\"v\":{WIRE_VERSION},\"type\":\"site_map\",\"site\":");
    json_str(&mut out, site);
    out.push_str(",\"spaces\":[");
    for (i, sp) in dir.spaces.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        json_str(&mut out, &sp.id);
        out.push_str(",\"ward\":");
        match &sp.ward {
            Some(w) => json_str(&mut out, w),
            None => out.push_str("null"),
        }
        out.push_str(",\"zone\":");
        json_str(&mut out, &sp.zone);
        let _ = write!(out, ",\"kind\":\"{}\"}}", sp.kind);
    }
    out.push_str("],\"receivers\":[");
    for (i, r) in dir.receivers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        json_str(&mut out, &r.id);
        out.push_str(",\"space\":");
        json_str(&mut out, &dir.spaces[r.space as usize].id);
        let _ = write!(
            out,
            ",\"x_m\":{},\"y_m\":{}}}",
            displayed(r.x_m),
            displayed(r.y_m)
        );
    }
    out.push_str("],\"tags\":[");
    let tags = dir.devices.iter().filter(|d| d.kind.is_tag());
    for (i, d) in tags.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"device\":");
        json_str(&mut out, &d.id);
        let _ = write!(out, ",\"device_kind\":\"{}\",\"ward\":", d.kind.name());
        json_str(&mut out, &d.ward);
        out.push_str(",\"permitted_zones\":[");
        json_str(&mut out, &d.ward);
        out.push_str("]}");
    }
    out.push_str("]}");
    out
}

/// Battery as reported: one decimal, 0 to 100; `null` if the model produced something that is
/// not a number (never a non-JSON `NaN`).
fn battery(pct: f32) -> Finite {
    Finite(((f64::from(pct) * 10.0).round() / 10.0).clamp(0.0, 100.0))
}

/// A number as JSON: itself when finite, else `null` (JSON has no NaN or infinity).
struct Finite(f64);

impl std::fmt::Display for Finite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_finite() {
            write!(f, "{}", self.0)
        } else {
            f.write_str("null")
        }
    }
}

/// Why a gateway status was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayReason {
    /// Connected (or reconnected) to the broker.
    Connected,
    /// The run ended and the gateway disconnected cleanly.
    Shutdown,
    /// The broker published the gateway's will: its connection died.
    ConnectionLost,
}

impl GatewayReason {
    pub fn name(self) -> &'static str {
        match self {
            GatewayReason::Connected => "connected",
            GatewayReason::Shutdown => "shutdown",
            GatewayReason::ConnectionLost => "connection_lost",
        }
    }
}

pub mod alerts;
pub mod codes;

#[cfg(test)]
mod tests;

/// The JSON Schemas of wire format v1 (`docs/schemas/`), compiled, for checking payloads.
#[cfg(any(test, feature = "schema-check"))]
pub mod schemas {
    /// Schema texts by payload `type`.
    pub const SOURCES: [(&str, &str); 8] = [
        (
            "telemetry",
            include_str!("../../../docs/schemas/telemetry.v1.schema.json"),
        ),
        (
            "device_status",
            include_str!("../../../docs/schemas/device-status.v1.schema.json"),
        ),
        (
            "gateway_status",
            include_str!("../../../docs/schemas/gateway-status.v1.schema.json"),
        ),
        (
            "alert",
            include_str!("../../../docs/schemas/alert.v1.schema.json"),
        ),
        (
            "site_map",
            include_str!("../../../docs/schemas/site-map.v1.schema.json"),
        ),
        (
            "clock",
            include_str!("../../../docs/schemas/clock.v1.schema.json"),
        ),
        (
            "clock_ack",
            include_str!("../../../docs/schemas/clock-ack.v1.schema.json"),
        ),
        (
            "waveform",
            include_str!("../../../docs/schemas/waveform.v1.schema.json"),
        ),
    ];

    /// Every v1 schema, compiled.
    pub struct WireSchemas {
        schemas: boon::Schemas,
        index: Vec<(&'static str, boon::SchemaIndex)>,
    }

    impl WireSchemas {
        pub fn load() -> Self {
            let mut schemas = boon::Schemas::new();
            let mut compiler = boon::Compiler::new();
            let mut index = Vec::new();
            for (kind, text) in SOURCES {
                let value: serde_json::Value =
                    serde_json::from_str(text).unwrap_or_else(|e| panic!("{kind} schema: {e}"));
                let url = format!("file:///wardtwin/{kind}.json");
                compiler
                    .add_resource(&url, value)
                    .unwrap_or_else(|e| panic!("{kind} schema: {e}"));
                let ix = compiler
                    .compile(&url, &mut schemas)
                    .unwrap_or_else(|e| panic!("{kind} schema: {e}"));
                index.push((kind, ix));
            }
            Self { schemas, index }
        }

        /// Checks one payload against the schema its `type` names; says why it is invalid.
        pub fn check(&self, payload: &[u8]) -> Result<(), String> {
            let value: serde_json::Value =
                serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
            let kind = value
                .get("type")
                .and_then(|t| t.as_str())
                .ok_or("no \"type\" field")?;
            let ix = self
                .index
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, ix)| *ix)
                .ok_or_else(|| format!("unknown payload type {kind:?}"))?;
            self.schemas
                .validate(&value, ix)
                .map_err(|e| format!("{kind}: {e:#}"))
        }
    }
}
