//! The chart as FHIR R4: a nurse's observation round (docs/chart.md) as the Observations an EHR
//! would hold, published live (`--fhir-topic`: one transaction Bundle per round on the ward's
//! `…/<ward>/chart/fhir` topic) and exported (`Observation.ndjson`).
//!
//! A round charts:
//!
//! | Observation | code | value |
//! |---|---|---|
//! | pulse | LOINC 8867-4 | `/min` |
//! | respiratory rate | LOINC 9279-1 | `/min` |
//! | SpO2 | LOINC 2708-6, 59408-5 | `%` |
//! | temperature | LOINC 8310-5 | `Cel` |
//! | blood pressure | LOINC 85354-9, components 8480-6 and 8462-4 | `mm[Hg]` |
//!
//! (each vital sign also with the MDC code of its quantity, as the export codes readings)
//! | consciousness | LOINC 67775-7 (level of responsiveness) | `urn:wardtwin:acvpu` A/C/V/P/U, SNOMED CT for A, V, P, U |
//! | oxygen | `urn:wardtwin:chart` `supplemental-oxygen` | boolean |
//! | SpO2 scale in use | `urn:wardtwin:chart` `spo2-scale` | integer 1 or 2 |
//! | NEWS2 | `urn:wardtwin:chart` `news2-total` | integer |
//!
//! Every one is a patient's (`subject`, with the patient's identifier beside the reference;
//! `encounter`), `effectiveDateTime` the round's time, with
//! an identifier `urn:wardtwin:chart` `<patient>/<time ms>/<item>` for a conditional create.
//! A missed round charts nothing.

use serde_json::{Value, json};
use wardtwin_sim::news2::Acvpu;
use wardtwin_sim::records::{ChartRecord, ChartValues, Metric};

use super::json::{LOINC, OBS_CATEGORY, UCUM, WT_PATIENT};
use std::path::Path;

use super::{BP_PANEL, Codes, FhirError, Pipe, fhir_id, iso};
use crate::runfolder::{Cols, read_table};
use crate::wire::codes;

/// The chart's own codes (what no standard code we know of names), and its identifiers.
pub const WT_CHART: &str = "urn:wardtwin:chart";
/// ACVPU letters.
pub const WT_ACVPU: &str = "urn:wardtwin:acvpu";
/// LOINC's level of responsiveness.
pub const LOINC_RESPONSIVENESS: &str = "67775-7";
const SNOMED: &str = "http://snomed.info/sct";

/// SNOMED CT findings for A, V, P and U (new confusion has none in the AVPU value sets).
fn snomed_avpu(a: Acvpu) -> Option<(&'static str, &'static str)> {
    Some(match a {
        Acvpu::Alert => ("248234008", "Mentally alert"),
        Acvpu::Confused => return None,
        Acvpu::Voice => ("300202002", "Response to voice"),
        Acvpu::Pain => ("450847001", "Responds to pain"),
        Acvpu::Unresponsive => ("422768004", "Unresponsive"),
    })
}

fn acvpu_text(a: Acvpu) -> &'static str {
    match a {
        Acvpu::Alert => "alert",
        Acvpu::Confused => "new confusion",
        Acvpu::Voice => "responds to voice",
        Acvpu::Pain => "responds to pain",
        Acvpu::Unresponsive => "unresponsive",
    }
}

/// A charted round, as its patient and values.
pub struct Round<'a> {
    /// The patient's id (`W1-03`), and its FHIR id.
    pub patient: &'a str,
    pub patient_fid: &'a str,
    pub charted_ms: i64,
    pub values: &'a ChartValues,
    pub news2: u8,
    pub scale: u8,
}

impl<'a> Round<'a> {
    /// The round of `r`, or `None` if it was missed.
    pub fn of(r: &'a ChartRecord, patient: &'a str, patient_fid: &'a str) -> Option<Self> {
        let (values, news2) = r.charted.as_ref()?;
        Some(Self {
            patient,
            patient_fid,
            charted_ms: r.charted_ms?,
            values,
            news2: news2.total,
            scale: r.scale.number(),
        })
    }

    /// Its Observations, with the identifier each carries.
    pub fn observations(&self) -> Vec<(String, Value)> {
        let v = self.values;
        let when = iso(self.charted_ms);
        let base = |item: &str, category: &str, code: Value| -> (String, Value) {
            let ident = format!("{}/{}/{item}", self.patient, self.charted_ms);
            let id = fhir_id(&format!(
                "chart.{}.{}.{item}",
                self.patient, self.charted_ms
            ));
            (
                ident.clone(),
                json!({
                    "resourceType": "Observation",
                    "id": id,
                    "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST", "display": "test health data"}]},
                    "identifier": [{"system": WT_CHART, "value": ident}],
                    "status": "final",
                    "category": [{"coding": [{"system": OBS_CATEGORY, "code": category}]}],
                    "code": code,
                    "subject": {
                        "reference": format!("Patient/{}", self.patient_fid),
                        "identifier": {"system": WT_PATIENT, "value": self.patient},
                    },
                    "encounter": {"reference": format!("Encounter/enc-{}", self.patient_fid)},
                    "effectiveDateTime": when,
                    "method": {"text": "nurse observation round"},
                }),
            )
        };
        let loinc = |codes: &[&str], text: &str| {
            json!({
                "coding": codes.iter().map(|c| json!({"system": LOINC, "code": c})).collect::<Vec<_>>(),
                "text": text,
            })
        };
        let qty = |m: Metric, value: f32| {
            let u = codes::ucum(m);
            json!({"value": round1(value), "unit": u, "system": UCUM, "code": u})
        };
        let local = |code: &str, text: &str| json!({"coding": [{"system": WT_CHART, "code": code}], "text": text});
        // The codings the export gives each metric (LOINC, with the MDC code of the quantity).
        let codings = Codes::get();
        let coded = |m: Metric| json!({"coding": codings.code.get(&m).map(|c| &c.codings), "text": m.name()});
        let mut out = Vec::with_capacity(9);
        let vital = |item: &str, m: Metric, value: f32| {
            let (ident, mut o) = base(item, "vital-signs", coded(m));
            o["valueQuantity"] = qty(m, value);
            (ident, o)
        };
        out.push(vital("heart_rate", Metric::PulseRate, v.heart_rate));
        out.push(vital("resp_rate", Metric::RespRate, v.resp_rate));
        out.push(vital("spo2", Metric::Spo2, v.spo2));
        out.push(vital("body_temp", Metric::BodyTemp, v.temp_c));
        let (ident, mut bp) = base(
            "blood_pressure",
            "vital-signs",
            json!({"coding": BP_PANEL, "text": "blood pressure panel"}),
        );
        bp["component"] = json!([
            {"code": coded(Metric::Systolic), "valueQuantity": qty(Metric::Systolic, v.systolic)},
            {"code": coded(Metric::Diastolic), "valueQuantity": qty(Metric::Diastolic, v.diastolic)},
        ]);
        out.push((ident, bp));
        let a = v.consciousness;
        let mut coding = vec![json!({"system": WT_ACVPU, "code": a.letter()})];
        if let Some((code, display)) = snomed_avpu(a) {
            coding.push(json!({"system": SNOMED, "code": code, "display": display}));
        }
        let (ident, mut c) = base(
            "consciousness",
            "exam",
            loinc(&[LOINC_RESPONSIVENESS], "consciousness (ACVPU)"),
        );
        c["valueCodeableConcept"] = json!({"coding": coding, "text": acvpu_text(a)});
        out.push((ident, c));
        let (ident, mut o2) = base(
            "supplemental_oxygen",
            "therapy",
            local("supplemental-oxygen", "on supplemental oxygen"),
        );
        o2["valueBoolean"] = json!(v.on_oxygen);
        out.push((ident, o2));
        let (ident, mut scale) = base(
            "spo2_scale",
            "survey",
            local("spo2-scale", "NEWS2 SpO2 scale in use"),
        );
        scale["valueInteger"] = json!(self.scale);
        out.push((ident, scale));
        let (ident, mut score) = base("news2", "survey", local("news2-total", "NEWS2 total"));
        score["valueInteger"] = json!(self.news2);
        out.push((ident, score));
        out
    }

    /// A transaction Bundle of its Observations (conditional creates) into `out` (cleared).
    pub fn bundle(&self, out: &mut Vec<u8>) {
        out.clear();
        let entries: Vec<Value> = self
            .observations()
            .into_iter()
            .map(|(ident, o)| {
                json!({
                    "resource": o,
                    "request": {
                        "method": "POST",
                        "url": "Observation",
                        "ifNoneExist": format!("identifier={WT_CHART}|{ident}"),
                    },
                })
            })
            .collect();
        let b = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        // A Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &b);
    }
}

/// The chart's rounds (charted.parquet) as Observations, after the readings'. A run folder
/// written before the chart existed has none. Rounds are few (one per patient every 30 min
/// to 12 h), so one buffer per 4,096 rounds is plenty.
pub(super) fn export_rounds(run: &Path, f: &mut Pipe) -> Result<(), FhirError> {
    if !run.join("charted.parquet").exists() {
        return Ok(());
    }
    let df = read_table(
        run,
        "charted",
        &[
            "charted_time",
            "patient_id",
            "spo2_scale",
            "charted_heart_rate",
            "charted_resp_rate",
            "charted_spo2",
            "charted_temp_c",
            "charted_systolic",
            "charted_diastolic",
            "charted_consciousness",
            "on_oxygen",
            "charted_news2",
        ],
    )?;
    let c = Cols::new(&df, run, "charted");
    let (when, patient, scale) = (
        c.time("charted_time")?,
        c.str("patient_id")?,
        c.i32("spo2_scale")?,
    );
    let vitals = [
        c.f32("charted_heart_rate")?,
        c.f32("charted_resp_rate")?,
        c.f32("charted_spo2")?,
        c.f32("charted_temp_c")?,
        c.f32("charted_systolic")?,
        c.f32("charted_diastolic")?,
    ];
    let (acvpu, oxygen, news2) = (
        c.str("charted_consciousness")?,
        c.bool("on_oxygen")?,
        c.i32("charted_news2")?,
    );
    let bad = |i: usize, what: &str| {
        FhirError::Invalid(format!(
            "{}: row {i}: {what}",
            run.join("charted.parquet").display()
        ))
    };
    let mut buf = f.buffer();
    let mut n = 0;
    for i in 0..df.height() {
        // A missed round charted nothing.
        let (Some(t), Some(p)) = (when[i], patient[i].as_deref()) else {
            continue;
        };
        let v: Vec<f32> = vitals.iter().filter_map(|col| col[i]).collect();
        let (&[hr, rr, spo2, temp, sbp, dbp], Some(a), Some(o2), Some(score), Some(sc)) = (
            v.as_slice(),
            acvpu[i].as_deref().and_then(acvpu_of),
            oxygen[i],
            news2[i].and_then(|x| u8::try_from(x).ok()),
            scale[i].and_then(|x| u8::try_from(x).ok()),
        ) else {
            return Err(bad(i, "a charted round without all its values"));
        };
        let values = ChartValues {
            heart_rate: hr,
            resp_rate: rr,
            spo2,
            temp_c: temp,
            systolic: sbp,
            diastolic: dbp,
            consciousness: a,
            on_oxygen: o2,
        };
        let fid = fhir_id(p);
        let round = Round {
            patient: p,
            patient_fid: &fid,
            charted_ms: t,
            values: &values,
            news2: score,
            scale: sc,
        };
        for (_, o) in round.observations() {
            // A Value into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut buf, &o);
            buf.push(b'\n');
            n += 1;
        }
        if n >= 9 * 4096 {
            f.send(std::mem::replace(&mut buf, f.buffer()), n)?;
            n = 0;
        }
    }
    if n > 0 {
        f.send(buf, n)?;
    }
    Ok(())
}

fn acvpu_of(letter: &str) -> Option<Acvpu> {
    [
        Acvpu::Alert,
        Acvpu::Confused,
        Acvpu::Voice,
        Acvpu::Pain,
        Acvpu::Unresponsive,
    ]
    .into_iter()
    .find(|a| a.letter() == letter)
}

/// A charted value as the chart shows it (no float noise: 37.1, not 37.099998).
fn round1(v: f32) -> f64 {
    (f64::from(v) * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardtwin_sim::news2::Spo2Scale;

    fn values(a: Acvpu) -> ChartValues {
        ChartValues {
            heart_rate: 112.0,
            resp_rate: 24.0,
            spo2: 93.0,
            temp_c: 38.4,
            systolic: 98.0,
            diastolic: 61.0,
            consciousness: a,
            on_oxygen: true,
        }
    }

    #[test]
    fn a_round_is_nine_observations_with_acvpu_and_oxygen_coded() {
        let v = values(Acvpu::Confused);
        let r = Round {
            patient: "W1-03",
            patient_fid: "W1-03",
            charted_ms: 1_000,
            values: &v,
            news2: 9,
            scale: Spo2Scale::Scale1.number(),
        };
        let obs = r.observations();
        assert_eq!(obs.len(), 9);
        let by = |code: &str| {
            obs.iter()
                .map(|o| &o.1)
                .find(|o| o["code"]["coding"][0]["code"] == code)
                .unwrap_or_else(|| panic!("no {code}"))
        };
        assert_eq!(
            by("67775-7")["valueCodeableConcept"]["coding"][0]["code"],
            "C"
        );
        assert_eq!(by("supplemental-oxygen")["valueBoolean"], true);
        assert_eq!(by("news2-total")["valueInteger"], 9);
        assert_eq!(by("8310-5")["valueQuantity"]["value"], 38.4);
        assert_eq!(
            by("85354-9")["component"][1]["valueQuantity"]["value"],
            61.0
        );
        let idents: std::collections::BTreeSet<_> = obs.iter().map(|o| &o.0).collect();
        assert_eq!(idents.len(), 9, "each its own identifier");
        // Voice has a SNOMED finding beside the letter.
        let v = values(Acvpu::Voice);
        let r = Round { values: &v, ..r };
        let obs = r.observations();
        let c = &obs[5].1["valueCodeableConcept"]["coding"];
        assert_eq!(
            (c[0]["code"].as_str(), c[1]["code"].as_str()),
            (Some("V"), Some("300202002"))
        );
        let mut buf = Vec::new();
        r.bundle(&mut buf);
        let b: Value = serde_json::from_slice(&buf).expect("JSON");
        assert_eq!(b["entry"].as_array().map(Vec::len), Some(9));
        assert!(
            b["entry"][0]["request"]["ifNoneExist"]
                .as_str()
                .is_some_and(|q| q.starts_with("identifier=urn:wardtwin:chart|W1-03/1000/"))
        );
    }
}
