//! `wardtwin run … --alerts-hl7 ADDR`: a system under test that sends IHE PCD ACM alarms
//! (HL7 v2 ORU^R40 over MLLP). The alarms come from an independent client (python-hl7's
//! MLLPClient, `tests/hl7/send_acm.py`), malformed ones included; each gets its ACK or NACK,
//! and the scorecard is byte-identical to the one the equivalent alert v1 JSON gives.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;

use super::support::{temp_dir, wardtwin};

/// quickstart's first hour without its gates: scored, not judged.
fn scenario(dir: &Path) -> String {
    let text = wardtwin_scenarios::LIBRARY
        .iter()
        .find(|(n, _)| *n == "quickstart")
        .expect("quickstart")
        .1;
    let cut = text.find("\n[scoring]").expect("[scoring]");
    let path = dir.join("quickstart-ungated.toml");
    std::fs::write(
        &path,
        format!("{}\n[scoring]\nchronic = \"dont_care\"\n", &text[..cut]),
    )
    .expect("scenario");
    path.to_string_lossy().into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The cases the client sends: accepted alarms, an update, and malformed messages.
fn cases() -> serde_json::Value {
    let alarm = |id: &str, event: &str, priority: &str, began: &str| json!({"id": id, "event": event, "priority": priority, "began": began});
    let mut desat = alarm(
        "A-1",
        "196674^MDC_EVT_LO^MDC",
        "PH",
        "2026-03-02T00:20:00.000Z",
    );
    desat["patient"] = json!("P-W1-05");
    desat["device"] = json!("spo2-W1-05");
    desat["source"] = json!("150456^MDC_PULS_OXIM_SAT_O2^MDC");
    let mut asystole = alarm(
        "A-2",
        "0^MDC_EVT_ECG_ASYSTOLE^MDC",
        "PH",
        "2026-03-02T00:25:30.500Z",
    );
    asystole["bed"] = json!("W1-03");
    let mut lead = alarm(
        "A-3",
        "196680^MDC_EVT_LEAD_OFF^MDC",
        "PL",
        "2026-03-02T00:30:00.000Z",
    );
    lead["device"] = json!("ecg-W1-11");
    lead["type"] = json!("ST");
    let mut named = alarm(
        "A-4",
        "deterioration^deterioration^WARDTWIN",
        "PM",
        "2026-03-02T00:31:00.000Z",
    );
    named["patient"] = json!("P-W1-07");
    // The same alarm again, ending: an update, acknowledged, not a new alert.
    let mut end = desat.clone();
    end["phase"] = json!("end");
    let mut wrong_type = named.clone();
    wrong_type["id"] = json!("B-1");
    wrong_type["message_type"] = json!("ORU^R01^ORU_R01");
    let mut bad_time = named.clone();
    bad_time["id"] = json!("B-2");
    bad_time["began_hl7"] = json!("yesterday");
    let mut unknown = named.clone();
    unknown["id"] = json!("B-3");
    unknown["event"] = json!("0^MDC_EVT_SOMETHING_ELSE^MDC");
    let mut nobody = alarm(
        "B-4",
        "0^MDC_EVT_ECG_V_TACHY^MDC",
        "PH",
        "2026-03-02T00:35:00.000Z",
    );
    nobody["type"] = json!("SP");
    json!([
        {"alarm": desat, "class": "desaturation"},
        {"alarm": asystole, "class": "asystole"},
        {"alarm": lead, "class": "monitoring_lost"},
        {"alarm": named, "class": "deterioration"},
        {"alarm": end, "class": "desaturation", "new": false},
        {"alarm": wrong_type, "accept": false},
        {"alarm": bad_time, "accept": false},
        {"alarm": unknown, "accept": false},
        {"alarm": nobody, "accept": false},
        // Not HL7 at all, and not UTF-8.
        {"raw_hex": "6e6f7420686c37"},
        {"raw_hex": "4d53487c5e7e5c267cff"},
    ])
}

#[test]
fn acm_alarms_over_mllp_are_acknowledged_and_scored_as_their_json_equivalents() {
    let dir = temp_dir("hl7");
    let out = dir.path().join("run");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut run = Command::new(env!("CARGO_BIN_EXE_wardtwin"))
        .args(["run", &scenario(dir.path()), "--duration", "1h", "--live"])
        .args([
            "--speed",
            "600",
            "--alerts-hl7",
            &addr,
            "--alerts-grace",
            "1s",
        ])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wardtwin runs");
    // It says when it listens (before the first telemetry leaves).
    let mut lines = BufReader::new(run.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the run ended before listening: {seen:?}"))
            .expect("utf-8");
        let listening = line.contains("taking HL7 v2 alarms") && line.contains(&addr);
        seen.push(line);
        if listening {
            break;
        }
    }
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    // A frame of garbage bytes outside MLLP first: ignored, the connection stays usable.
    let mut raw = std::net::TcpStream::connect(&addr).expect("connects");
    raw.write_all(b"\x00\x01 not a frame ").expect("write");
    let nack = b"\x0bMSH|^~\\&|X|Y|||20260302000000||ORU^R01|C1|P|2.6\r\x1c\x0d";
    raw.write_all(nack).expect("write");
    let mut reply = [0u8; 512];
    let n = raw.read(&mut reply).expect("an answer");
    let reply = String::from_utf8_lossy(&reply[..n]).into_owned();
    assert!(reply.contains("MSA|AR|C1"), "{reply:?}");
    drop(raw);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hl7/send_acm.py");
    let mut client = Command::new("python3")
        .arg(&script)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (with hl7: .ci/run installs it)");
    let cases = cases();
    client
        .stdin
        .take()
        .expect("stdin")
        .write_all(cases.to_string().as_bytes())
        .expect("cases");
    let sent = client.wait_with_output().expect("the client ends");
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let sent: serde_json::Value = serde_json::from_slice(&sent.stdout).expect("JSON");
    let acks: Vec<&str> = sent["acks"]
        .as_array()
        .expect("acks")
        .iter()
        .map(|a| a["code"].as_str().expect("MSA-1"))
        .collect();
    assert_eq!(
        acks,
        [
            "AA", "AA", "AA", "AA", "AA", "AR", "AE", "AE", "AE", "AR", "AE"
        ],
        "{sent}"
    );
    let errors: Vec<&str> = sent["acks"]
        .as_array()
        .expect("acks")
        .iter()
        .filter_map(|a| a["error"].as_str())
        .collect();
    assert!(errors.iter().any(|e| e.starts_with("200")), "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with("103")), "{errors:?}");

    let output = run.wait_with_output().expect("the run ends");
    let stdout = rest.join().expect("stdout");
    assert!(
        output.status.success(),
        "{stdout:?}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // alerts.jsonl: the 4 alarms as alerts v1, and the 7 refused messages (the garbage
    // connection's and the client's 6), not the update.
    let log = wardtwin_exporters::wire::alerts::read_alert_log(&out.join("alerts.jsonl"))
        .expect("alerts.jsonl");
    let valid: Vec<_> = log.iter().filter(|r| r.alert.is_ok()).collect();
    assert_eq!(valid.len(), 4, "{log:?}");
    assert_eq!(log.len() - valid.len(), 7, "{log:?}");
    let counts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("hl7.json")).expect("hl7.json"))
            .expect("JSON");
    assert_eq!(counts["alerts"], 4, "{counts}");
    assert_eq!(counts["updates"], 1, "{counts}");
    assert_eq!(counts["rejected"], 7, "{counts}");
    assert_eq!(counts["messages"], 12, "{counts}");
    assert!(counts["garbage"].as_u64() >= Some(1), "{counts}");
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("scorecard.json")).expect("scorecard"))
            .expect("JSON");
    assert_eq!(card["overall"]["alerts"], 4, "{card}");

    // The same alerts as alert v1 JSON (made by the client from what it sent), at the same
    // arrivals, with the same refused lines: the same scorecard, byte for byte.
    let expected = sent["expected"].as_array().expect("expected");
    assert_eq!(expected.len(), 4);
    // Field by field, each logged alert is the JSON the client made of what it sent.
    for (rec, want) in valid.iter().zip(expected) {
        let want = wardtwin_exporters::wire::alerts::parse_alert(want.to_string().as_bytes())
            .expect("the client's JSON is an alert v1");
        assert_eq!(rec.alert.as_ref().ok(), Some(&want));
    }
    let text = std::fs::read_to_string(out.join("alerts.jsonl")).expect("alerts.jsonl");
    let mut json_alerts = expected.iter();
    let mut lines = Vec::new();
    for (line, rec) in text.lines().zip(&log) {
        if rec.alert.is_ok() {
            let mut v: serde_json::Value = serde_json::from_str(line).expect("line");
            v["payload"] = json!(json_alerts.next().expect("an alert").to_string());
            v["topic"] = json!("acme/alerts");
            lines.push(v.to_string());
        } else {
            lines.push(line.to_string());
        }
    }
    let equivalent = dir.path().join("equivalent.jsonl");
    std::fs::write(&equivalent, lines.join("\n") + "\n").expect("write");
    let rescored = dir.path().join("rescored");
    let o = wardtwin(&[
        "score",
        out.to_str().expect("utf-8"),
        "--alerts",
        equivalent.to_str().expect("utf-8"),
        "--out",
        rescored.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read(out.join("scorecard.json")).expect("scorecard")
            == std::fs::read(rescored.join("scorecard.json")).expect("rescored"),
        "the HL7 alarms and their JSON equivalents score differently"
    );
}

#[test]
fn alerts_hl7_needs_a_live_run_and_excludes_an_alerts_topic() {
    let dir = temp_dir("hl7-flags");
    let out = dir.path().join("run");
    let o = wardtwin(&[
        "run",
        "quickstart",
        "--alerts-hl7",
        "127.0.0.1:0",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("need a live run"));
    let o = wardtwin(&[
        "run",
        "quickstart",
        "--live",
        "--alerts-hl7",
        "127.0.0.1:0",
        "--alerts-topic",
        "a/b",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("one way"));
}
