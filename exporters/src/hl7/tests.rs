use super::acm::{EVENTS, LIMITS, ack, parse_acm, parse_dtm};
use wardtwin_scoring::model::Priority;
use wardtwin_sim::time::parse_iso_ms;

/// An ACM alarm as a vendor's gateway sends it (IHE PCD TF-2 ORU^R40 shape).
fn acm(event: &str, flags: &str, extra: &str) -> String {
    [
        "MSH|^~\\&|ACME_AM^0012210000000001^EUI-64|ACME|WARDTWIN|WARDTWIN|20260302080705+0000||ORU^R40^ORU_R40|MSG0001|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO",
        "PID|||P-W1-07^^^WARDTWIN^PI||Synthetic^Patient",
        "PV1||I|W1^R07^W1-07",
        "OBR|1|PLC1|AL-0001^ACME_AM|196616^MDC_EVT_ALARM^MDC|||20260302080700+0000",
        &format!(
            "OBX|1|CWE|196616^MDC_EVT_ALARM^MDC|1.1.9.1|{event}|||{flags}|||F|||20260302080700.250+0000||||spo2-W1-07^^0012210000000002^EUI-64"
        ),
        "OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.1.9.3|start||||||F",
        "OBX|3|ST|68482^MDC_ATTR_ALARM_STATE^MDC|1.1.9.4|active||||||F",
        "OBX|4|ST|68546^MDC_ATTR_ALERT_TEXT^MDC|1.1.9.8|SpO2 low 84 \\F\\ check probe||||||F",
        extra,
    ]
    .iter()
    .filter(|s| !s.is_empty())
    .map(|s| format!("{s}\r"))
    .collect()
}

#[test]
fn a_desaturation_limit_alarm_maps_to_an_alert_v1() {
    let msg = acm(
        "196674^MDC_EVT_LO^MDC",
        "L~PH~SP",
        "OBX|5|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.9.2|84|262688^MDC_DIM_PERCENT^MDC|90-100|||F",
    );
    let a = parse_acm(&msg).expect("accepted");
    assert_eq!(a.alert.alert_id, "AL-0001");
    assert_eq!(a.alert.subject, "P-W1-07");
    assert_eq!(a.alert.class, "desaturation");
    assert_eq!(a.alert.priority, Priority::High);
    assert_eq!(a.alert.device.as_deref(), Some("spo2-W1-07"));
    // OBX-14 of the event, to the millisecond, in UTC.
    assert_eq!(
        Some(a.alert.began_ms),
        parse_iso_ms("2026-03-02T08:07:00.250Z")
    );
    assert_eq!(a.phase.as_deref(), Some("start"));
    assert_eq!(a.text, "SpO2 low 84 | check probe");
    assert_eq!(a.header.control_id, "MSG0001");
    assert_eq!(a.header.sending_app, "ACME_AM");
}

#[test]
fn every_event_of_the_table_and_every_limit_maps_to_its_class() {
    for (name, class) in EVENTS {
        let a = parse_acm(&acm(&format!("0^{name}^MDC"), "PM~ST", "")).expect(name);
        assert_eq!(a.alert.class, class, "{name}");
        assert_eq!(a.alert.priority, Priority::Medium);
    }
    for (code, name, hi, lo) in LIMITS {
        for (event, want) in [("MDC_EVT_HI", hi), ("MDC_EVT_LO", lo)] {
            let source = format!("OBX|5|NM|{code}^{name}^MDC|1.1.9.2|1||||||F");
            let r = parse_acm(&acm(&format!("0^{event}^MDC"), "PL", &source));
            match want {
                Some(c) => assert_eq!(r.expect(name).alert.class, c, "{name} {event}"),
                None => assert_eq!(r.expect_err(name).code, 103, "{name} {event}"),
            }
        }
    }
    // The scorer's own class names, in any coding system.
    let a = parse_acm(&acm("deterioration^deterioration^WARDTWIN", "PH", "")).expect("named");
    assert_eq!(a.alert.class, "deterioration");
    // MDC_ATTR_ALARM_PRIORITY wins over nothing, and PN is low.
    let a = parse_acm(&acm(
        "0^MDC_EVT_BATT_LO^MDC",
        "",
        "OBX|6|ST|68484^MDC_ATTR_ALARM_PRIORITY^MDC|1.1.9.6|PN||||||F",
    ))
    .expect("priority attribute");
    assert_eq!(a.alert.priority, Priority::Low);
}

#[test]
fn the_subject_falls_back_to_the_bed_then_the_device() {
    let msg = acm("0^MDC_EVT_LEAD_OFF^MDC", "PL~ST", "");
    let no_pid = msg.replace("PID|||P-W1-07^^^WARDTWIN^PI||Synthetic^Patient", "PID|||");
    assert_eq!(parse_acm(&no_pid).expect("bed").alert.subject, "W1-07");
    let no_bed = no_pid.replace("PV1||I|W1^R07^W1-07", "PV1||I");
    assert_eq!(
        parse_acm(&no_bed).expect("device").alert.subject,
        "spo2-W1-07"
    );
    let nothing = no_bed.replace("spo2-W1-07^^0012210000000002^EUI-64", "");
    assert_eq!(parse_acm(&nothing).expect_err("no subject").code, 101);
}

#[test]
fn broken_messages_are_refused_with_a_reason_and_an_hl7_code() {
    let good = acm("0^MDC_EVT_ECG_ASYSTOLE^MDC", "PH~SP", "");
    assert!(parse_acm(&good).is_ok());
    let cases: Vec<(String, u16, &str)> = vec![
        ("garbage \u{1}\u{2}".into(), 100, "AR"),
        (String::new(), 100, "AR"),
        (
            good.replace("ORU^R40^ORU_R40", "ORU^R01^ORU_R01"),
            200,
            "AR",
        ),
        (good.replace("|MSG0001|", "||"), 101, "AE"),
        (
            good.replace("AL-0001^ACME_AM", "").replace("PLC1", ""),
            101,
            "AE",
        ),
        (
            good.replace("0^MDC_EVT_ECG_ASYSTOLE^MDC", "0^MDC_EVT_SOMETHING^MDC"),
            103,
            "AE",
        ),
        (good.replace("PH~SP", "SP"), 101, "AE"),
        (good.replace("PH~SP", "P9"), 101, "AE"),
        (
            good.replace("20260302080700.250+0000", "yesterday"),
            102,
            "AE",
        ),
        (
            good.replace("20260302080700.250+0000", "20260231080700"),
            102,
            "AE",
        ),
        (
            good.replace(
                "OBX|1|CWE|196616^MDC_EVT_ALARM^MDC",
                "OBX|1|CWE|1^OTHER^MDC",
            ),
            101,
            "AE",
        ),
    ];
    for (msg, code, kind) in cases {
        let r = parse_acm(&msg).expect_err(&msg);
        assert_eq!((r.code, r.ack), (code, kind), "{msg:?}: {}", r.why);
        assert!(!r.why.is_empty());
    }
}

#[test]
fn hl7_timestamps_parse_with_their_offset_and_precision() {
    let t = |s: &str| parse_iso_ms(s).expect("iso");
    assert_eq!(
        parse_dtm("20260302080700"),
        Some(t("2026-03-02T08:07:00.000Z"))
    );
    assert_eq!(
        parse_dtm("20260302080700.1234+0100"),
        Some(t("2026-03-02T07:07:00.123Z"))
    );
    assert_eq!(
        parse_dtm("20260302080700-0530"),
        Some(t("2026-03-02T13:37:00.000Z"))
    );
    assert_eq!(
        parse_dtm("202603020807"),
        Some(t("2026-03-02T08:07:00.000Z"))
    );
    assert_eq!(parse_dtm("2026"), Some(t("2026-01-01T00:00:00.000Z")));
    for bad in [
        "",
        "2026030208070",
        "20261302080700",
        "20260230080700",
        "20260302250700",
        "20260302080700.",
        "20260302080700.12345",
        "20260302080700+01",
        "20260302080700+2500",
        "２０２６",
        "20260302080700+0100garbage",
    ] {
        assert_eq!(parse_dtm(bad), None, "{bad:?}");
    }
}

#[test]
fn acknowledgements_echo_the_control_id_and_say_why_they_refuse() {
    let a = parse_acm(&acm("0^MDC_EVT_ECG_V_TACHY^MDC", "PH~SP", "")).expect("ok");
    let t = parse_iso_ms("2026-03-02T08:07:01.000Z").expect("iso");
    let ok = ack(&a.header, t, None);
    assert!(ok.starts_with("MSH|^~\\&|WARDTWIN|WARDTWIN|ACME_AM|ACME|20260302080701.000+0000||ACK^R40^ACK|ACKMSG0001|P|2.6\r"), "{ok}");
    assert!(ok.ends_with("MSA|AA|MSG0001\r"), "{ok}");
    let bad = acm("0^MDC_EVT_NOPE^MDC", "PH", "");
    let r = parse_acm(&bad).expect_err("unknown");
    let nack = ack(&a.header, t, Some(&r));
    assert!(nack.contains("\rMSA|AE|MSG0001\r"), "{nack}");
    assert!(
        nack.contains(
            "ERR|||103^Table value not found^HL70357|E||||alarm event 0\\S\\MDC_EVT_NOPE"
        ),
        "{nack}"
    );
}
