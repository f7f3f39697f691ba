//! The FHIR R4 data types the export writes, as borrowed serde structs (no `serde_json::Value`
//! per resource: a big run is tens of millions of Observations).

use serde::ser::{Serialize, SerializeMap, Serializer};

/// UCUM's code system.
pub const UCUM: &str = "http://unitsofmeasure.org";
/// LOINC.
pub const LOINC: &str = "http://loinc.org";
/// IEEE 11073-10101 (MDC).
pub const MDC: &str = "urn:iso:std:iso:11073:10101";
/// HL7's observation categories.
pub const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
/// HL7's data-absent reasons.
pub const DATA_ABSENT: &str = "http://terminology.hl7.org/CodeSystem/data-absent-reason";
/// HL7's location physical types.
pub const LOCATION_TYPE: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";
/// HL7 v3 ActCode (encounter class).
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
/// HL7 v3 ActReason: `HTEST`, test health data (every resource here is synthetic).
pub const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
/// wardtwin's own codes, for what no standard code system we know of names: metrics without a
/// LOINC or MDC code, device kinds, ground-truth classes.
pub const WT_METRIC: &str = "urn:wardtwin:metric";
pub const WT_DEVICE_KIND: &str = "urn:wardtwin:device-kind";
pub const WT_TRUTH: &str = "urn:wardtwin:truth";
/// Identifier systems: a device's emissions (`device/seq`), devices, patients.
pub const WT_EMISSION: &str = "urn:wardtwin:emission";
pub const WT_DEVICE: &str = "urn:wardtwin:device";
pub const WT_PATIENT: &str = "urn:wardtwin:patient";

#[derive(serde::Serialize, Clone, Copy)]
pub struct Coding<'a> {
    pub system: &'a str,
    pub code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<&'a str>,
}

impl<'a> Coding<'a> {
    pub fn new(system: &'a str, code: &'a str) -> Self {
        Self {
            system,
            code,
            display: None,
        }
    }
}

#[derive(serde::Serialize)]
pub struct Concept<'a> {
    pub coding: &'a [Coding<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
}

/// `{"reference": "Type/id"}` (`Ref("Patient/", id)`), written without building the string.
#[derive(Clone, Copy)]
pub struct Ref<'a>(pub &'static str, pub &'a str);

impl Serialize for Ref<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Path<'b>(&'static str, &'b str);
        impl std::fmt::Display for Path<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}{}", self.0, self.1)
            }
        }
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("reference", &Collect(Path(self.0, self.1)))?;
        m.end()
    }
}

/// Serializes a `Display` as a string.
pub struct Collect<T>(pub T);

impl<T: std::fmt::Display> Serialize for Collect<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[derive(serde::Serialize)]
pub struct Identifier<'a> {
    pub system: &'a str,
    pub value: &'a str,
}

#[derive(serde::Serialize)]
pub struct Quantity<'a> {
    pub value: f64,
    pub unit: &'a str,
    pub system: &'a str,
    pub code: &'a str,
}

/// `meta.security`: HTEST (synthetic data), and optionally a tag.
#[derive(serde::Serialize)]
pub struct Meta<'a> {
    pub security: [Coding<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<[Coding<'a>; 1]>,
}

pub const SYNTHETIC: Meta<'static> = Meta {
    security: [Coding {
        system: ACT_REASON,
        code: "HTEST",
        display: Some("test health data"),
    }],
    tag: None,
};

#[derive(serde::Serialize)]
pub struct Annotation<'a> {
    pub text: &'a str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Component<'a> {
    pub code: Concept<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Quantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_absent_reason: Option<Concept<'a>>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation<'a> {
    pub resource_type: &'static str,
    pub id: &'a str,
    pub meta: &'a Meta<'a>,
    pub identifier: [Identifier<'a>; 1],
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<[Concept<'a>; 1]>,
    pub code: Concept<'a>,
    pub subject: Ref<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encounter: Option<Ref<'a>>,
    pub effective_date_time: &'a str,
    pub issued: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_quantity: Option<Quantity<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_absent_reason: Option<Concept<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<[Annotation<'a>; 1]>,
    pub device: Ref<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub component: Vec<Component<'a>>,
}
