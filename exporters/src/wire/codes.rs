//! Interoperability codes of each metric (DOMAIN.md section 6): LOINC, IEEE 11073 MDC, UCUM.
//! The wire and the telemetry table carry them; the simulation does not need them.

use wardtwin_sim::records::Metric;

/// LOINC code, where one exists. Pulse rate from an oximeter shares heart rate's LOINC
/// (8867-4); the MDC code tells them apart. Glucose uses the moles/volume code (14743-9,
/// mmol/L; DOMAIN.md section 6). Pump, bed and fridge quantities have no LOINC observation
/// code we know of: `None` (the wire says `null`).
pub fn loinc(m: Metric) -> Option<&'static str> {
    Some(match m {
        Metric::HeartRate | Metric::PulseRate => "8867-4",
        Metric::RespRate => "9279-1",
        Metric::Spo2 => "59408-5",
        Metric::BodyTemp => "8310-5",
        Metric::Systolic => "8480-6",
        Metric::Diastolic => "8462-4",
        Metric::MeanArterial => "8478-0",
        Metric::Glucose => "14743-9",
        _ => return None,
    })
}

/// IEEE 11073 MDC code (system `urn:iso:std:iso:11073:10101`), where one exists
/// (`MDC_FLOW_FLUID_PUMP` for the infusion rate; `None` for quantities with no code).
pub fn mdc(m: Metric) -> Option<u32> {
    Some(match m {
        Metric::HeartRate => 147_842,
        Metric::PulseRate => 149_530,
        Metric::RespRate => 151_562,
        Metric::Spo2 => 150_456,
        Metric::BodyTemp => 150_364,
        Metric::Systolic => 150_021,
        Metric::Diastolic => 150_022,
        Metric::MeanArterial => 150_023,
        Metric::Glucose => 160_184,
        Metric::InfusionRate => 157_784,
        _ => return None,
    })
}

/// UCUM unit.
pub fn ucum(m: Metric) -> &'static str {
    match m {
        Metric::HeartRate | Metric::PulseRate | Metric::RespRate => "/min",
        Metric::Spo2 => "%",
        Metric::BodyTemp => "Cel",
        Metric::Systolic | Metric::Diastolic | Metric::MeanArterial => "mm[Hg]",
        Metric::Glucose => "mmol/L",
        Metric::InfusionRate => "mL/h",
        Metric::VolumeRemaining => "mL",
        Metric::BedOccupied => "1",
        Metric::AirTemp | Metric::ProductTemp => "Cel",
        Metric::Rssi => "dB[mW]",
        Metric::PositionX | Metric::PositionY => "m",
        Metric::DuressButton | Metric::Uplink => "1",
        Metric::SpoolDepth | Metric::SpoolDropped => "{message}",
    }
}
