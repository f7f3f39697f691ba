"""Sends IHE PCD ACM alarms (HL7 v2 ORU^R40) over MLLP with python-hl7's own client, as an
alarm manager would, and says what came back.

Usage: python3 send_acm.py PORT < cases.json

cases.json is a list of cases. Each is either an alarm to build, {"alarm": {...}}, or raw
bytes, {"raw_hex": "..."} (a malformed message). An alarm has:
- id: OBR-3, the alarm's identifier;
- event: OBX-5 of the MDC_EVT_ALARM observation, e.g. "196674^MDC_EVT_LO^MDC";
- priority: PH, PM or PL;
- began: ISO 8601 UTC, sent as an HL7 timestamp;
- optional: patient, bed, device, source (a watched parameter's OBX-3), phase, type,
  message_type (MSH-9), control_id.

It prints one JSON object: {"acks": [{"code": MSA-1, "control_id": MSA-2, "error": ERR-3}],
"expected": [alert v1 objects of the alarms the mapping must accept, in sending order]}.
Whether an alarm is expected to be accepted is the case's "accept" (default true).
"""
import json
import sys
from datetime import datetime, timezone

import hl7
from hl7.client import MLLPClient


def hl7_time(iso):
    t = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return t.strftime("%Y%m%d%H%M%S.") + f"{t.microsecond // 1000:03d}+0000"


def build(a, n):
    control = a.get("control_id", f"MSG{n:04d}")
    msg_type = a.get("message_type", "ORU^R40^ORU_R40")
    pid = f"PID|||{a['patient']}^^^WARDTWIN^PI" if a.get("patient") else "PID|||"
    pv1 = f"PV1||I|^^{a['bed']}" if a.get("bed") else "PV1||I"
    device = f"{a['device']}^^0012210000000002^EUI-64" if a.get("device") else ""
    flags = "~".join(f for f in [a["priority"], a.get("type", "SP")] if f)
    segments = [
        "MSH|^~\\&|PYACM^0012210000000001^EUI-64|TESTLAB|WARDTWIN|WARDTWIN|"
        f"{hl7_time(a['began'])}||{msg_type}|{control}|P|2.6|||AL|NE||UNICODE UTF-8|||"
        "IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO",
        pid,
        pv1,
        f"OBR|1||{a['id']}^PYACM|196616^MDC_EVT_ALARM^MDC|||{hl7_time(a['began'])}",
        f"OBX|1|CWE|196616^MDC_EVT_ALARM^MDC|1.1.9.1|{a['event']}|||{flags}|||F|||"
        f"{a.get('began_hl7', hl7_time(a['began']))}||||{device}",
        f"OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.1.9.3|{a.get('phase', 'start')}||||||F",
        "OBX|3|ST|68482^MDC_ATTR_ALARM_STATE^MDC|1.1.9.4|active||||||F",
    ]
    if a.get("source"):
        segments.append(f"OBX|4|NM|{a['source']}|1.1.9.2|1||||||F")
    return "\r".join(segments) + "\r"


def main():
    port = int(sys.argv[1])
    cases = json.load(sys.stdin)
    acks, expected = [], []
    client = MLLPClient("127.0.0.1", port)
    try:
        for n, case in enumerate(cases, 1):
            if "raw_hex" in case:
                payload = bytes.fromhex(case["raw_hex"])
                reply = client.send(b"\x0b" + payload + b"\x1c\x0d")
                reply = reply.decode("utf-8", "replace").strip("\x0b\x1c\r")
            else:
                a = case["alarm"]
                reply = client.send_message(build(a, n))
                reply = reply.decode("utf-8") if isinstance(reply, bytes) else reply
                reply = reply.strip("\x0b\x1c\r")
                if case.get("accept", True) and case.get("new", True):
                    alert = {
                        "v": 1,
                        "type": "alert",
                        "alert_id": a["id"],
                        "subject": a.get("patient") or a.get("bed") or a.get("device"),
                        "class": case["class"],
                        "priority": {"PH": "high", "PM": "medium", "PL": "low"}[a["priority"]],
                        "began": a["began"],
                    }
                    if a.get("device"):
                        alert["device"] = a["device"]
                    expected.append(alert)
            parsed = hl7.parse(reply)
            msa = parsed.segment("MSA")
            try:
                err = str(parsed.segment("ERR")[3])
            except KeyError:
                err = None
            acks.append({"code": str(msa[1]), "control_id": str(msa[2]), "error": err})
    finally:
        client.close()
    json.dump({"acks": acks, "expected": expected}, sys.stdout)


if __name__ == "__main__":
    main()
