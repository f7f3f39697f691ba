//! Alert intake, schema v1 (docs/wire-schema.md#alerts): what a system under test publishes,
//! and the run folder's record of what arrived (`alerts.jsonl`, `ingested.jsonl`).
//!
//! An alert is one JSON object:
//!
//! ```json
//! {"v":1,"type":"alert","alert_id":"a-17","subject":"P-W1-07","class":"deterioration",
//!  "priority":"high","began":"2026-03-02T08:07:00.000Z","device":"spo2-W1-07",
//!  "text":"NEWS2 7","evidence":{"news2":7}}
//! ```
//!
//! Each message received is logged as one line, in arrival order, with its arrival stamped in
//! simulation time and the payload kept verbatim, so that a malformed alert is recorded (and
//! re-scored offline) exactly as it came: `{"arrival":"…","topic":"…","payload":"…"}`. For a
//! hand-written file the payload may also be the alert object itself.

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use wardtwin_scoring::model::{Alert, Echo, EchoStream, Priority, Received};
use wardtwin_sim::time::{SimMillis, format_iso_ms, parse_iso_ms};

/// Characters of a payload kept in the scorecard's list of rejected alerts.
const EXCERPT: usize = 160;

/// The largest alert or echo payload logged and scored (64 KiB): a larger message is logged as
/// its size only and counted as rejected (`oversize`). The collector itself accepts whatever the
/// broker delivers, up to MQTT's own limit.
pub const MAX_PAYLOAD_BYTES: usize = 64 << 10;

/// How an oversize rejection's message begins (scoring counts these apart from malformed ones).
pub use wardtwin_scoring::model::OVERSIZE;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertV1 {
    v: u32,
    #[serde(rename = "type")]
    kind: String,
    alert_id: String,
    subject: String,
    class: String,
    priority: String,
    began: String,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    text: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    evidence: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Parses one alert payload; the error says what is wrong with it.
pub fn parse_alert(payload: &[u8]) -> Result<Alert, String> {
    let a: AlertV1 =
        serde_json::from_slice(payload).map_err(|e| format!("not an alert v1: {e}"))?;
    if a.v != 1 {
        return Err(format!("unsupported version v={} (expected 1)", a.v));
    }
    if a.kind != "alert" {
        return Err(format!("type is {:?}, expected \"alert\"", a.kind));
    }
    for (field, value) in [
        ("alert_id", &a.alert_id),
        ("subject", &a.subject),
        ("class", &a.class),
    ] {
        if value.is_empty() {
            return Err(format!("{field} is empty"));
        }
    }
    let priority = Priority::from_name(&a.priority)
        .ok_or_else(|| format!("priority {:?} is not high, medium or low", a.priority))?;
    let began_ms = parse_iso_ms(&a.began).ok_or_else(|| {
        format!(
            "began {:?} is not ISO 8601 UTC (2026-03-02T08:00:00.000Z)",
            a.began
        )
    })?;
    Ok(Alert {
        alert_id: a.alert_id,
        subject: a.subject,
        class: a.class,
        priority,
        began_ms,
        device: a.device,
    })
}

/// Encodes an alert as schema v1 (the reference stack's output).
pub fn encode_alert(a: &Alert, text: &str, evidence: serde_json::Value) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        v: u32,
        #[serde(rename = "type")]
        kind: &'a str,
        alert_id: &'a str,
        subject: &'a str,
        class: &'a str,
        priority: &'a str,
        began: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        device: Option<&'a str>,
        text: &'a str,
        evidence: serde_json::Value,
    }
    serde_json::to_string(&Out {
        v: 1,
        kind: "alert",
        alert_id: &a.alert_id,
        subject: &a.subject,
        class: &a.class,
        priority: a.priority.name(),
        began: format_iso_ms(a.began_ms),
        device: a.device.as_deref(),
        text,
        evidence,
    })
    .expect("an alert serialises")
}

/// One ingestion echo: `{"device":"spo2-W1-07","seq":41}`, or an array of them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EchoV1 {
    device: String,
    seq: u32,
}

/// Parses an echo payload (one object or an array); `None` if malformed.
pub fn parse_echo(payload: &[u8]) -> Option<Vec<(String, u32)>> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(EchoV1),
        Many(Vec<EchoV1>),
    }
    let v: OneOrMany = serde_json::from_slice(payload).ok()?;
    Some(match v {
        OneOrMany::One(e) => vec![(e.device, e.seq)],
        OneOrMany::Many(v) => v.into_iter().map(|e| (e.device, e.seq)).collect(),
    })
}

/// Encodes an echo of what was ingested.
pub fn encode_echo(items: &[(&str, u32)]) -> String {
    let v: Vec<serde_json::Value> = items
        .iter()
        .map(|(d, s)| serde_json::json!({"device": d, "seq": s}))
        .collect();
    serde_json::Value::Array(v).to_string()
}

#[derive(Serialize)]
struct LogLine<'a> {
    arrival: String,
    topic: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<String>,
    /// The payload's size, for a payload over [`MAX_PAYLOAD_BYTES`] (not kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    oversize: Option<usize>,
}

/// Appends received messages to a JSONL log, one line each, as they arrive.
pub struct MessageLog {
    out: std::io::BufWriter<std::fs::File>,
    lines: u64,
}

impl MessageLog {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            out: std::io::BufWriter::new(std::fs::File::create(path)?),
            lines: 0,
        })
    }

    pub fn append(
        &mut self,
        arrival_ms: SimMillis,
        topic: &str,
        payload: &[u8],
    ) -> std::io::Result<()> {
        let big = payload.len() > MAX_PAYLOAD_BYTES;
        let line = LogLine {
            arrival: format_iso_ms(arrival_ms),
            topic,
            payload: (!big).then(|| String::from_utf8_lossy(payload).into_owned()),
            oversize: big.then_some(payload.len()),
        };
        serde_json::to_writer(&mut self.out, &line)?;
        self.out.write_all(b"\n")?;
        self.lines += 1;
        Ok(())
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Writes what is buffered (a log whose lines must survive the program being killed).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    pub fn finish(mut self) -> std::io::Result<u64> {
        self.out.flush()?;
        Ok(self.lines)
    }
}

/// One line of a log, read back: arrival and the payload bytes.
fn read_line(line: &str) -> Result<(SimMillis, Vec<u8>), String> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not a JSON line: {e}"))?;
    let arrival = v
        .get("arrival")
        .and_then(|a| a.as_str())
        .ok_or("no \"arrival\" time")?;
    let arrival =
        parse_iso_ms(arrival).ok_or_else(|| format!("arrival {arrival:?} is not ISO 8601 UTC"))?;
    if let Some(n) = v.get("oversize").and_then(serde_json::Value::as_u64) {
        return Err(format!(
            "{OVERSIZE}: {n} bytes, more than the {MAX_PAYLOAD_BYTES}-byte limit of an alert"
        ));
    }
    let payload = match v.get("payload") {
        Some(serde_json::Value::String(s)) => s.clone().into_bytes(),
        Some(o @ serde_json::Value::Object(_)) => o.to_string().into_bytes(),
        _ => return Err("no \"payload\" (a string, or the alert object)".into()),
    };
    Ok((arrival, payload))
}

/// The arrival of a log line, if it has one.
fn read_arrival(line: &str) -> Option<SimMillis> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    parse_iso_ms(v.get("arrival")?.as_str()?)
}

fn excerpt(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    match s.char_indices().nth(EXCERPT) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.into_owned(),
    }
}

/// Reads an alerts log (`alerts.jsonl` or a hand-written file of the same shape). A line that
/// cannot be read is a malformed alert (arrival 0), never an error: the scorecard lists it.
pub fn read_alert_log(path: &Path) -> std::io::Result<Vec<Received>> {
    let file = std::fs::File::open(path)?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let (arrival_ms, alert, ex) = match read_line(&line) {
            Ok((t, payload)) => (t, parse_alert(&payload), excerpt(&payload)),
            // Oversize: its arrival is known, the payload was not kept.
            Err(e) if e.starts_with(OVERSIZE) => (
                read_arrival(&line).unwrap_or(0),
                Err(e),
                excerpt(line.as_bytes()),
            ),
            Err(e) => (
                0,
                Err(format!("line {}: {e}", i + 1)),
                excerpt(line.as_bytes()),
            ),
        };
        out.push(Received {
            line: i + 1,
            arrival_ms,
            alert,
            excerpt: ex,
        });
    }
    Ok(out)
}

/// Reads an ingestion echo log (`ingested.jsonl`).
pub fn read_echo_log(path: &Path) -> std::io::Result<EchoStream> {
    let file = std::fs::File::open(path)?;
    let mut out = EchoStream::default();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        match read_line(&line)
            .ok()
            .and_then(|(t, p)| Some((t, parse_echo(&p)?)))
        {
            Some((t, items)) => out
                .echoes
                .extend(items.into_iter().map(|(device, seq)| Echo {
                    device,
                    seq,
                    arrival_ms: t,
                })),
            None => out.malformed += 1,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> serde_json::Value {
        serde_json::json!({"v":1,"type":"alert","alert_id":"a-1","subject":"P-W1-07",
            "class":"deterioration","priority":"high","began":"2026-03-02T08:07:00.000Z"})
    }

    #[test]
    fn a_v1_alert_parses_and_round_trips() {
        let a = parse_alert(ok().to_string().as_bytes()).unwrap();
        assert_eq!(a.priority, Priority::High);
        assert_eq!(
            a.began_ms,
            parse_iso_ms("2026-03-02T08:07:00.000Z").unwrap()
        );
        let text = encode_alert(&a, "NEWS2 7", serde_json::json!({"news2": 7}));
        assert_eq!(parse_alert(text.as_bytes()).unwrap(), a);
    }

    #[test]
    fn malformed_alerts_say_what_is_wrong() {
        let with = |k: &str, v: serde_json::Value| {
            let mut o = ok();
            o[k] = v;
            o.to_string()
        };
        let mut missing = ok();
        missing.as_object_mut().unwrap().remove("subject");
        for (payload, says) in [
            ("{not json".to_string(), "not an alert"),
            (missing.to_string(), "subject"),
            (with("priority", "urgent".into()), "priority"),
            (with("began", "yesterday".into()), "began"),
            (with("v", 2.into()), "version"),
            (with("type", "telemetry".into()), "type"),
            (with("colour", "red".into()), "colour"),
            (with("alert_id", "".into()), "alert_id is empty"),
        ] {
            let e = parse_alert(payload.as_bytes()).unwrap_err();
            assert!(e.contains(says), "{payload}: {e}");
        }
    }

    #[test]
    fn the_log_keeps_payloads_verbatim_and_bad_lines_become_malformed_alerts() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("alerts.jsonl");
        let mut log = MessageLog::create(&path).unwrap();
        log.append(60_000, "sut/alerts", ok().to_string().as_bytes())
            .unwrap();
        log.append(61_000, "sut/alerts", b"\xff garbage").unwrap();
        assert_eq!(log.finish().unwrap(), 2);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"arrival\": 5}\n");
        std::fs::write(&path, text).unwrap();
        let got = read_alert_log(&path).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].arrival_ms, 60_000);
        assert!(got[0].alert.is_ok());
        assert!(got[1].alert.as_ref().unwrap_err().contains("not an alert"));
        assert!(got[2].alert.as_ref().unwrap_err().starts_with("line 3"));
    }

    #[test]
    fn echoes_are_one_or_many() {
        assert_eq!(
            parse_echo(br#"{"device":"d","seq":3}"#),
            Some(vec![("d".into(), 3)])
        );
        assert_eq!(
            parse_echo(encode_echo(&[("a", 1), ("b", 2)]).as_bytes()).map(|v| v.len()),
            Some(2)
        );
        assert_eq!(parse_echo(b"[1,2]"), None);
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;
    use crate::wire::schemas::WireSchemas;

    /// What the reference stack publishes validates against docs/schemas/alert.v1.schema.json,
    /// and the schema rejects what the parser rejects.
    #[test]
    fn encoded_alerts_validate_against_the_published_schema() {
        let schemas = WireSchemas::load();
        let a = Alert {
            alert_id: "ref-news2-1".into(),
            subject: "P-W1-07".into(),
            class: "deterioration".into(),
            priority: Priority::Medium,
            began_ms: 1_772_438_816_000,
            device: Some("spo2-W1-07".into()),
        };
        let text = encode_alert(&a, "NEWS2 5>=5", serde_json::json!({"policy": "news2"}));
        schemas.check(text.as_bytes()).unwrap();
        let bad = text.replace("\"medium\"", "\"urgent\"");
        assert!(schemas.check(bad.as_bytes()).is_err());
        assert!(parse_alert(bad.as_bytes()).is_err());
        // Every class the scorer knows is in the schema's list (they cannot drift apart).
        for class in wardtwin_scoring::taxonomy::class_names() {
            let a = Alert {
                class: class.into(),
                ..a.clone()
            };
            let text = encode_alert(&a, "", serde_json::json!({}));
            schemas
                .check(text.as_bytes())
                .unwrap_or_else(|e| panic!("{class}: {e:?}"));
        }
    }
}
