//! The classes the scorer knows, and how each is judged: tolerance windows and which recorded
//! artifacts can mimic it. This is data: a new class (cold chain, RTLS, gateways) is a new row
//! here and a new producer in the twin, not a change to the matcher.
//!
//! Tolerances (docs/scoring.md): an alert matches a condition if it arrives between
//! `onset - early_ms` and `end + late_ms` (the run's end for a condition still going).
//! `early_ms` accepts a system that decides a little before the truth does (it measures noisy
//! devices, and may use a tighter threshold); `late_ms` accepts one that decides after the
//! condition is over (averaging, hold-off, a slow pipeline), within reason.

use serde::Serialize;

const S: i64 = 1_000;
const MIN: i64 = 60 * S;
const HOUR: i64 = 60 * MIN;

/// How one class is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClassSpec {
    pub name: &'static str,
    /// `clinical` (IHE ACM source SP) or `technical` (ST).
    pub domain: &'static str,
    pub early_ms: i64,
    pub late_ms: i64,
    /// Artifacts that can make a system believe in this class: `(device_kind, artifact kind)`;
    /// `*` matches any.
    #[serde(skip)]
    pub mimicked_by: &'static [(&'static str, &'static str)],
}

impl ClassSpec {
    /// Whether an artifact of `kind` on a `device_kind` can mimic this class.
    pub fn mimicked(&self, device_kind: &str, kind: &str) -> bool {
        self.mimicked_by
            .iter()
            .any(|&(d, k)| (d == "*" || d == device_kind) && (k == "*" || k == kind))
    }
}

/// Motion anywhere, or a temperature patch reading low off the skin: both can push a NEWS2.
const MOTION_ANY: &[(&str, &str)] = &[("*", "motion"), ("temp_patch", "skin_contact_loss")];

/// Every class the scorer knows. Tolerances: deterioration ±minutes (NEWS2 is charted, not a
/// beat-to-beat alarm); desaturation and arrhythmia rates in seconds (ANSI/AAMI EC13 allows
/// 10 s for the rate alarms; we allow 10 s early and 60 s late); technical conditions in minutes
/// (a system may use a shorter silence than the twin's 2 × cadence + 60 s); low battery in hours
/// (a system may warn at 15 % where the twin says 10 %).
pub const CLASSES: &[ClassSpec] = &[
    ClassSpec {
        name: "deterioration",
        domain: "clinical",
        early_ms: 15 * MIN,
        late_ms: 30 * MIN,
        mimicked_by: MOTION_ANY,
    },
    ClassSpec {
        name: "desaturation",
        domain: "clinical",
        early_ms: 30 * S,
        late_ms: 2 * MIN,
        mimicked_by: &[("pulse_oximeter", "motion")],
    },
    ClassSpec {
        name: "extreme_tachycardia",
        domain: "clinical",
        early_ms: 10 * S,
        late_ms: MIN,
        mimicked_by: &[("pulse_oximeter", "motion"), ("ecg_patch", "motion")],
    },
    ClassSpec {
        name: "extreme_bradycardia",
        domain: "clinical",
        early_ms: 10 * S,
        late_ms: MIN,
        mimicked_by: &[("pulse_oximeter", "motion"), ("ecg_patch", "motion")],
    },
    ClassSpec {
        name: "monitoring_lost",
        domain: "technical",
        early_ms: 2 * MIN,
        late_ms: 5 * MIN,
        // Anything that blanks a device's value for a while: a probe off, low perfusion, a
        // CGM's warm-up or signal loss, a failed cuff measurement.
        mimicked_by: &[
            ("*", "probe_off"),
            ("pulse_oximeter", "low_perfusion"),
            ("cgm", "warm_up"),
            ("cgm", "signal_loss"),
            ("bp_cuff", "cuff_failure"),
        ],
    },
    ClassSpec {
        name: "low_battery",
        domain: "technical",
        early_ms: 6 * HOUR,
        late_ms: HOUR,
        mimicked_by: &[],
    },
    // The product lags the air: a system that alarms on air temperature (or on a logger's
    // ±0.5 °C error near a limit) may decide well before the product is out; loggers read every
    // 5-30 min, so it may decide one or two readings late. Door openings spike the air.
    ClassSpec {
        name: "cold_chain_excursion",
        domain: "technical",
        early_ms: HOUR,
        late_ms: 45 * MIN,
        mimicked_by: &[("fridge_logger", "door_open")],
    },
    // CGM lags blood glucose by 5-15 min and reads every 5 min; a system may alarm on a
    // predicted low. Compression lows fake one.
    ClassSpec {
        name: "hypoglycaemia",
        domain: "clinical",
        early_ms: 20 * MIN,
        late_ms: 30 * MIN,
        mimicked_by: &[("cgm", "compression_low")],
    },
    // Pumps report their occlusion alarm in their next status (every minute or so).
    ClassSpec {
        name: "pump_occlusion",
        domain: "technical",
        early_ms: 30 * S,
        late_ms: 3 * MIN,
        mimicked_by: &[],
    },
    // Bed-exit alarms are meant to be fast (a fall takes seconds); a sensor reporting every
    // few seconds, and a minute's grace for the pipeline.
    ClassSpec {
        name: "bed_exit",
        domain: "clinical",
        early_ms: 10 * S,
        late_ms: MIN,
        mimicked_by: &[],
    },
    // Room-level RTLS decides from a few 30-s reports; the twin asks for 2 min outside.
    ClassSpec {
        name: "asset_zone_breach",
        domain: "technical",
        early_ms: 2 * MIN,
        late_ms: 5 * MIN,
        mimicked_by: &[],
    },
    // A system may call an asset missing after 20 min unheard (the twin says 30).
    ClassSpec {
        name: "asset_missing",
        domain: "technical",
        early_ms: 10 * MIN,
        late_ms: 15 * MIN,
        mimicked_by: &[],
    },
    // A duress call must reach someone at once.
    ClassSpec {
        name: "duress",
        domain: "clinical",
        early_ms: 10 * S,
        late_ms: MIN,
        mimicked_by: &[],
    },
    // What the receiving side could know (derived from the delivery ledger): a system decides
    // from silence, like monitoring lost, so the same windows.
    ClassSpec {
        name: "data_gap",
        domain: "technical",
        early_ms: 2 * MIN,
        late_ms: 5 * MIN,
        mimicked_by: &[],
    },
    ClassSpec {
        name: "gateway_offline",
        domain: "technical",
        early_ms: 2 * MIN,
        late_ms: 5 * MIN,
        mimicked_by: &[],
    },
    // The lethal arrhythmias (PhysioNet/CinC 2015 classes): ANSI/AAMI EC13 asks for the alarm
    // within 10 s of the condition; a detector needs 4 s of evidence, so 10 s early (the
    // rhythm's onset is on the step grid) and 30 s late for the pipeline. A lead off is a flat
    // line (asystole to a naive detector); motion on the electrodes makes large noise in the
    // band of VF and VT (the false alarms CinC 2015 was about).
    ClassSpec {
        name: "asystole",
        domain: "clinical",
        early_ms: 10 * S,
        late_ms: 30 * S,
        mimicked_by: &[("ecg_patch", "probe_off"), ("ecg_patch", "motion")],
    },
    ClassSpec {
        name: "ventricular_tachycardia",
        domain: "clinical",
        early_ms: 10 * S,
        late_ms: 30 * S,
        mimicked_by: &[("ecg_patch", "motion")],
    },
    ClassSpec {
        name: "ventricular_flutter_fib",
        domain: "clinical",
        early_ms: 10 * S,
        late_ms: 30 * S,
        mimicked_by: &[("ecg_patch", "motion")],
    },
    // AF detectors judge RR irregularity over 30 s to 2 min windows: 30 s early, 5 min late.
    // Noise on the electrodes makes the detected intervals irregular.
    ClassSpec {
        name: "atrial_fibrillation",
        domain: "clinical",
        early_ms: 30 * S,
        late_ms: 5 * MIN,
        mimicked_by: &[("ecg_patch", "motion")],
    },
];

/// The arrhythmia classes of PhysioNet/CinC 2015, scored with its formula in the scorecard.
pub const CINC_CLASSES: [&str; 5] = [
    "asystole",
    "extreme_bradycardia",
    "extreme_tachycardia",
    "ventricular_tachycardia",
    "ventricular_flutter_fib",
];

/// The silence classes: from the receiving side a device that stopped measuring, one whose
/// data stopped arriving and a gateway gone quiet look alike, so an alert of any of them
/// answers a condition of any of them on its subject (docs/scoring.md, "Silence").
pub const SILENCE: [&str; 3] = ["monitoring_lost", "data_gap", "gateway_offline"];

/// Whether an alert of class `alert` can detect a condition of class `condition`.
pub fn answers(alert: &str, condition: &str) -> bool {
    alert == condition || SILENCE.contains(&alert) && SILENCE.contains(&condition)
}

/// The spec of `name`, if the scorer knows it.
pub fn class(name: &str) -> Option<&'static ClassSpec> {
    CLASSES.iter().find(|c| c.name == name)
}

/// The names of every class, for error messages.
pub fn class_names() -> Vec<&'static str> {
    CLASSES.iter().map(|c| c.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every class the twin produces has a spec (else the scorer would reject its alerts).
    #[test]
    fn every_class_the_twin_produces_is_known_to_the_scorer() {
        for c in wardtwin_sim::conditions::ConditionClass::ALL {
            assert!(class(c.name()).is_some(), "{}", c.name());
        }
    }

    #[test]
    fn the_silence_classes_answer_each_other_and_nothing_else() {
        for a in SILENCE {
            for c in SILENCE {
                assert!(answers(a, c), "{a} -> {c}");
            }
            assert!(!answers(a, "deterioration"));
            assert!(!answers("deterioration", a));
        }
        assert!(answers("desaturation", "desaturation"));
        assert!(!answers("desaturation", "deterioration"));
    }

    #[test]
    fn artifacts_mimic_the_classes_they_can_fake() {
        let desat = class("desaturation").unwrap();
        assert!(desat.mimicked("pulse_oximeter", "motion"));
        assert!(!desat.mimicked("ecg_patch", "motion"));
        assert!(!desat.mimicked("pulse_oximeter", "probe_off"));
        assert!(
            class("monitoring_lost")
                .unwrap()
                .mimicked("bp_cuff", "probe_off")
        );
    }
}
