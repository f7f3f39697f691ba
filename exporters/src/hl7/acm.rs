//! IHE PCD Alarm Communication Management (ACM): an `ORU^R40` alarm message parsed and mapped
//! to alert intake v1 (docs/hl7.md has the mapping table).

use wardtwin_scoring::model::{Alert, Priority};
use wardtwin_sim::time::SimMillis;

/// Why a message was refused: an HL7 error code (table 0357) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 100 segment sequence, 101 required field missing, 102 data type error, 103 table value
    /// not found, 200 unsupported message type.
    pub code: u16,
    pub why: String,
    /// `AR` (the message itself is not one we take) or `AE` (its content is wrong).
    pub ack: &'static str,
}

fn refuse(code: u16, why: impl Into<String>) -> Refusal {
    Refusal {
        code,
        why: why.into(),
        ack: if code == 200 || code == 100 {
            "AR"
        } else {
            "AE"
        },
    }
}

/// A parsed message: its segments' fields, split with the message's own delimiters.
pub struct Message<'a> {
    segments: Vec<Vec<&'a str>>,
    /// Component and repetition separators, escape character (MSH-2).
    component: char,
    repetition: char,
    escape: char,
    subcomponent: char,
}

/// The header fields an acknowledgement echoes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub sending_app: String,
    pub sending_facility: String,
    pub control_id: String,
    pub version: String,
}

impl<'a> Message<'a> {
    /// Splits `text` (segments separated by CR; LF and CRLF are taken too).
    pub fn parse(text: &'a str) -> Result<Self, Refusal> {
        let text = text.trim_start_matches(['\r', '\n']);
        if !text.starts_with("MSH") || text.len() < 8 {
            return Err(refuse(
                100,
                "the message does not begin with an MSH segment",
            ));
        }
        let b = text.as_bytes();
        let field = b[3] as char;
        let enc: Vec<char> = text[4..]
            .chars()
            .take_while(|c| *c != field)
            .take(4)
            .collect();
        if enc.len() < 4 || field.is_alphanumeric() {
            return Err(refuse(
                102,
                "MSH-1/MSH-2: the field separator and the four encoding characters are missing",
            ));
        }
        let segments: Vec<Vec<&str>> = text
            .split(['\r', '\n'])
            .filter(|s| !s.is_empty())
            .map(|s| {
                let mut f: Vec<&str> = s.split(field).collect();
                if f.first() == Some(&"MSH") {
                    // MSH-1 is the separator itself: MSH fields are numbered from it.
                    f.insert(1, "");
                }
                f
            })
            .collect();
        Ok(Self {
            segments,
            component: enc[0],
            repetition: enc[1],
            escape: enc[2],
            subcomponent: enc[3],
        })
    }

    fn segs(&self, name: &str) -> impl Iterator<Item = &Vec<&'a str>> + '_ {
        let name = name.to_string();
        self.segments
            .iter()
            .filter(move |s| s.first().is_some_and(|n| *n == name))
    }

    /// Field `i` of the first `name` segment ("" when absent).
    fn field(&self, name: &str, i: usize) -> &'a str {
        self.segs(name)
            .next()
            .and_then(|s| s.get(i).copied())
            .unwrap_or("")
    }

    /// Component `c` (1-based) of the first repetition of `field`, unescaped.
    pub fn component(&self, field: &str, c: usize) -> String {
        let first = field.split(self.repetition).next().unwrap_or("");
        let comp = first.split(self.component).nth(c - 1).unwrap_or("");
        let comp = comp.split(self.subcomponent).next().unwrap_or("");
        self.unescape(comp)
    }

    /// HL7 escape sequences (`\F\` `\S\` `\T\` `\R\` `\E\`) back to their characters.
    fn unescape(&self, s: &str) -> String {
        let e = self.escape;
        if !s.contains(e) {
            return s.to_string();
        }
        let mut out = String::with_capacity(s.len());
        let mut parts = s.split(e);
        out.push_str(parts.next().unwrap_or(""));
        let mut inside = true;
        for p in parts {
            if inside {
                match p {
                    "F" => out.push('|'),
                    "S" => out.push(self.component),
                    "T" => out.push(self.subcomponent),
                    "R" => out.push(self.repetition),
                    "E" => out.push(e),
                    other => out.push_str(other),
                }
            } else {
                out.push_str(p);
            }
            inside = !inside;
        }
        out
    }

    pub fn header(&self) -> Header {
        Header {
            sending_app: self.component(self.field("MSH", 3), 1),
            sending_facility: self.component(self.field("MSH", 4), 1),
            control_id: self.component(self.field("MSH", 10), 1),
            version: self.component(self.field("MSH", 12), 1),
        }
    }
}

/// An ACM alarm, as the message says it.
#[derive(Debug, Clone, PartialEq)]
pub struct Acm {
    pub header: Header,
    pub alert: Alert,
    /// MDC_ATTR_EVENT_PHASE (`start`, `continue`, `end`, …), if given.
    pub phase: Option<String>,
    /// MDC_ATTR_ALERT_TEXT, if given.
    pub text: String,
}

/// Whether an OBX-3 identifier is the MDC code `code` / `mnemonic`.
fn is(m: &Message<'_>, id: &str, code: &str, mnemonic: &str) -> bool {
    m.component(id, 1) == code || m.component(id, 2).eq_ignore_ascii_case(mnemonic)
}

/// An HL7 DTM (`YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]`) as ms since the Unix epoch; no offset
/// means UTC.
pub fn parse_dtm(s: &str) -> Option<SimMillis> {
    let s = s.trim();
    let (body, offset_min) = match s.find(['+', '-']) {
        Some(i) => {
            let z = &s[i + 1..];
            if z.len() != 4 || !z.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let h: i64 = z[..2].parse().ok()?;
            let mi: i64 = z[2..].parse().ok()?;
            if h > 14 || mi > 59 {
                return None;
            }
            let sign = if s.as_bytes()[i] == b'-' { -1 } else { 1 };
            (&s[..i], sign * (h * 60 + mi))
        }
        None => (s, 0),
    };
    let (digits, frac) = match body.split_once('.') {
        Some((d, f)) => (d, Some(f)),
        None => (body, None),
    };
    if !matches!(digits.len(), 4 | 6 | 8 | 10 | 12 | 14)
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let num = |a: usize, b: usize, default: i64| -> i64 {
        digits
            .get(a..b)
            .and_then(|x| x.parse().ok())
            .unwrap_or(default)
    };
    let (y, mo, d, h, mi, sec) = (
        num(0, 4, 0),
        num(4, 6, 1),
        num(6, 8, 1),
        num(8, 10, 0),
        num(10, 12, 0),
        num(12, 14, 0),
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let ms = match frac {
        Some(f) if f.is_empty() || f.len() > 4 || !f.bytes().all(|b| b.is_ascii_digit()) => {
            return None;
        }
        Some(f) => {
            let padded = format!("{f:0<3}");
            padded[..3].parse::<i64>().ok()?
        }
        None => 0,
    };
    let iso = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}.{ms:03}Z");
    let t = wardtwin_sim::time::parse_iso_ms(&iso)?;
    // The day must exist (no 31 February).
    (wardtwin_sim::time::format_iso_ms(t) == iso).then_some(t - offset_min * 60_000)
}

/// The scorer's alert classes: an event identified by one of these names (any coding system)
/// is that class.
pub const CLASSES: [&str; 19] = [
    "deterioration",
    "desaturation",
    "extreme_tachycardia",
    "extreme_bradycardia",
    "monitoring_lost",
    "low_battery",
    "cold_chain_excursion",
    "hypoglycaemia",
    "pump_occlusion",
    "bed_exit",
    "asset_zone_breach",
    "asset_missing",
    "duress",
    "data_gap",
    "gateway_offline",
    "asystole",
    "ventricular_tachycardia",
    "ventricular_flutter_fib",
    "atrial_fibrillation",
];

/// MDC alarm events with a class of their own (mnemonic, class).
pub const EVENTS: [(&str, &str); 14] = [
    ("MDC_EVT_ECG_ASYSTOLE", "asystole"),
    ("MDC_EVT_ECG_V_FIB", "ventricular_flutter_fib"),
    ("MDC_EVT_ECG_V_FIB_TACHY", "ventricular_flutter_fib"),
    ("MDC_EVT_ECG_V_FLUTTER", "ventricular_flutter_fib"),
    ("MDC_EVT_ECG_V_TACHY", "ventricular_tachycardia"),
    ("MDC_EVT_ECG_ATR_FIB", "atrial_fibrillation"),
    ("MDC_EVT_ECG_TACHY_EXTREME", "extreme_tachycardia"),
    ("MDC_EVT_ECG_BRADY_EXTREME", "extreme_bradycardia"),
    ("MDC_EVT_LEAD_OFF", "monitoring_lost"),
    ("MDC_EVT_LEAD_DISCONN", "monitoring_lost"),
    ("MDC_EVT_PROBE_DISCONN", "monitoring_lost"),
    ("MDC_EVT_SENSOR_DISCONN", "monitoring_lost"),
    ("MDC_EVT_BATT_LO", "low_battery"),
    ("MDC_EVT_PUMP_OCCL", "pump_occlusion"),
];

/// Limit alarms (`MDC_EVT_HI` / `MDC_EVT_LO`) by the parameter they watch (its MDC code or
/// mnemonic): (code, mnemonic, class when high, class when low).
pub const LIMITS: [(&str, &str, Option<&str>, Option<&str>); 5] = [
    ("150456", "MDC_PULS_OXIM_SAT_O2", None, Some("desaturation")),
    (
        "147842",
        "MDC_ECG_HEART_RATE",
        Some("extreme_tachycardia"),
        Some("extreme_bradycardia"),
    ),
    (
        "149530",
        "MDC_PULS_OXIM_PULS_RATE",
        Some("extreme_tachycardia"),
        Some("extreme_bradycardia"),
    ),
    ("160184", "MDC_CONC_GLU_GEN", None, Some("hypoglycaemia")),
    (
        "151562",
        "MDC_RESP_RATE",
        Some("deterioration"),
        Some("deterioration"),
    ),
];

/// Parses an `ORU^R40` and maps it to an alert v1 (`arrival` stamps nothing here: the alert's
/// `began` is the message's own start time).
pub fn parse_acm(text: &str) -> Result<Acm, Refusal> {
    acm_of(&Message::parse(text)?)
}

/// [`parse_acm`] of a message already split (its header is then at hand for a refusal's ACK).
pub fn acm_of(m: &Message<'_>) -> Result<Acm, Refusal> {
    let header = m.header();
    let kind = m.field("MSH", 9);
    let (k1, k2) = (m.component(kind, 1), m.component(kind, 2));
    if k1 != "ORU" || k2 != "R40" {
        return Err(refuse(
            200,
            format!("MSH-9 is {k1}^{k2}: only ORU^R40 (IHE PCD ACM alarms) is taken here"),
        ));
    }
    if header.control_id.is_empty() {
        return Err(refuse(101, "MSH-10 (message control id) is empty"));
    }
    if m.segs("OBR").next().is_none() {
        return Err(refuse(101, "no OBR segment"));
    }
    // The alarm's identifier: OBR-3 (filler order number), else OBR-2.
    let alert_id = [3, 2]
        .into_iter()
        .map(|i| m.component(m.field("OBR", i), 1))
        .find(|s| !s.is_empty())
        .ok_or_else(|| refuse(101, "OBR-3 (the alarm's identifier) is empty"))?;
    let obx: Vec<&Vec<&str>> = m.segs("OBX").collect();
    fn get<'s>(o: &[&'s str], i: usize) -> &'s str {
        o.get(i).copied().unwrap_or("")
    }
    let event = obx
        .iter()
        .find(|o| is(m, get(o, 3), "196616", "MDC_EVT_ALARM"))
        .ok_or_else(|| refuse(101, "no OBX with 196616^MDC_EVT_ALARM (the alarm event)"))?;
    let ev = get(event, 5);
    let (ev_code, ev_name) = (m.component(ev, 1), m.component(ev, 2));
    if ev_code.is_empty() && ev_name.is_empty() {
        return Err(refuse(
            101,
            "OBX-5 of the MDC_EVT_ALARM observation (the event) is empty",
        ));
    }
    // Attribute observations, by MDC code or mnemonic.
    let attr = |code: &str, name: &str| {
        obx.iter()
            .find(|o| is(m, get(o, 3), code, name))
            .map(|o| m.component(get(o, 5), 1))
            .filter(|v| !v.is_empty())
    };
    let phase = attr("68481", "MDC_ATTR_EVENT_PHASE");
    let text = obx
        .iter()
        .find(|o| is(m, get(o, 3), "68546", "MDC_ATTR_ALERT_TEXT"))
        .map(|o| m.unescape(get(o, 5)))
        .unwrap_or_default();
    // Priority: MDC_ATTR_ALARM_PRIORITY, else a PH/PM/PL/PN flag in the event's OBX-8.
    let flags: Vec<String> = get(event, 8)
        .split(m.repetition)
        .map(|f| m.unescape(f))
        .collect();
    let prio = attr("68484", "MDC_ATTR_ALARM_PRIORITY")
        .or_else(|| {
            flags
                .iter()
                .find(|f| matches!(f.as_str(), "PH" | "PM" | "PL" | "PN"))
                .cloned()
        })
        .ok_or_else(|| {
            refuse(
                101,
                "no priority: MDC_ATTR_ALARM_PRIORITY or a PH/PM/PL/PN flag in OBX-8",
            )
        })?;
    let priority = match prio.as_str() {
        "PH" => Priority::High,
        "PM" => Priority::Medium,
        "PL" | "PN" => Priority::Low,
        other => {
            return Err(refuse(
                103,
                format!("priority {other:?} is not PH, PM, PL or PN"),
            ));
        }
    };
    // The class: a scorer class named as the event, an MDC event of the table, or a limit
    // alarm on a parameter of the table.
    let named = [&ev_code, &ev_name]
        .into_iter()
        .find_map(|n| CLASSES.iter().find(|c| c.eq_ignore_ascii_case(n)).copied());
    let listed = EVENTS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&ev_name))
        .map(|(_, c)| *c);
    let limit = || {
        let high = ev_name.eq_ignore_ascii_case("MDC_EVT_HI");
        let low = ev_name.eq_ignore_ascii_case("MDC_EVT_LO");
        if !high && !low {
            return None;
        }
        // The watched parameter: an OBX with one of the table's parameters (ACM's "source"
        // observation), or MDC_ATTR_ALERT_SOURCE naming it.
        let source = attr("68480", "MDC_ATTR_ALERT_SOURCE");
        LIMITS.iter().find_map(|(code, name, hi, lo)| {
            let watched = obx.iter().any(|o| is(m, get(o, 3), code, name))
                || source
                    .as_deref()
                    .is_some_and(|s| s == *code || s.eq_ignore_ascii_case(name));
            if watched {
                if high { *hi } else { *lo }
            } else {
                None
            }
        })
    };
    let class = named.or(listed).or_else(limit).ok_or_else(|| {
        refuse(
            103,
            format!(
                "alarm event {ev_code}^{ev_name} has no class here: name the event with the \
                 scorer's class (e.g. deterioration^deterioration^WARDTWIN), or see the mapping \
                 table in docs/hl7.md"
            ),
        )
    })?;
    // The subject: PID-3 (patient), else the bed of PV1-3, else the device of OBX-18.
    let device = Some(m.component(get(event, 18), 1)).filter(|d| !d.is_empty());
    let subject = Some(m.component(m.field("PID", 3), 1))
        .filter(|s| !s.is_empty())
        .or_else(|| Some(m.component(m.field("PV1", 3), 3)).filter(|s| !s.is_empty()))
        .or_else(|| device.clone())
        .ok_or_else(|| {
            refuse(
                101,
                "no subject: PID-3 (patient), PV1-3.3 (bed) and OBX-18 (device) are empty",
            )
        })?;
    // When it began: the event's OBX-14, else OBR-7, else MSH-7.
    let (when, which) = [
        (get(event, 14), "OBX-14"),
        (m.field("OBR", 7), "OBR-7"),
        (m.field("MSH", 7), "MSH-7"),
    ]
    .into_iter()
    .map(|(f, w)| (m.component(f, 1), w))
    .find(|(f, _)| !f.is_empty())
    .ok_or_else(|| refuse(101, "no start time: OBX-14, OBR-7 and MSH-7 are empty"))?;
    let began_ms = parse_dtm(&when).ok_or_else(|| {
        refuse(
            102,
            format!("{which} {when:?} is not an HL7 timestamp (YYYYMMDDHHMMSS[.SSS][+ZZZZ])"),
        )
    })?;
    Ok(Acm {
        header,
        alert: Alert {
            alert_id,
            subject,
            class: class.to_string(),
            priority,
            began_ms,
            device,
        },
        phase,
        text,
    })
}

/// Escapes text for an HL7 field (`|^~\&` and line breaks).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '~' => out.push_str("\\R\\"),
            '\\' => out.push_str("\\E\\"),
            '&' => out.push_str("\\T\\"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An HL7 timestamp of `t` (UTC).
pub fn dtm(t: SimMillis) -> String {
    let iso = wardtwin_sim::time::format_iso_ms(t);
    // 2026-03-02T08:07:00.000Z -> 20260302080700.000+0000
    let digits: String = iso[..19].chars().filter(char::is_ascii_digit).collect();
    format!("{digits}.{}+0000", &iso[20..23])
}

/// The acknowledgement of a message: `AA`, or `AE`/`AR` with an ERR segment saying why.
pub fn ack(header: &Header, now: SimMillis, refusal: Option<&Refusal>) -> String {
    let version = if header.version.is_empty() {
        "2.6"
    } else {
        &header.version
    };
    let mut s = format!(
        "MSH|^~\\&|WARDTWIN|WARDTWIN|{}|{}|{}||ACK^R40^ACK|ACK{}|P|{}\r",
        escape(&header.sending_app),
        escape(&header.sending_facility),
        dtm(now),
        escape(&header.control_id),
        escape(version),
    );
    match refusal {
        None => s.push_str(&format!("MSA|AA|{}\r", escape(&header.control_id))),
        Some(r) => {
            s.push_str(&format!(
                "MSA|{}|{}\rERR|||{}^{}^HL70357|E||||{}\r",
                r.ack,
                escape(&header.control_id),
                r.code,
                match r.code {
                    100 => "Segment sequence error",
                    101 => "Required field missing",
                    102 => "Data type error",
                    103 => "Table value not found",
                    200 => "Unsupported message type",
                    _ => "Application internal error",
                },
                escape(&r.why)
            ));
        }
    }
    s
}
