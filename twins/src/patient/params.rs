//! Physiology parameters, kept as data. Sources: DOMAIN.md section 1 (normal ward values and
//! within-patient variability); deterioration signatures follow the clinical pictures in the
//! RCP NEWS2 report and surviving-sepsis descriptions (tachycardia, tachypnoea, fever,
//! hypotension, late hypoxaemia and confusion).

use wardtwin_sim::records::Deterioration;

/// Index of each true vital in the state arrays.
pub const HR: usize = 0;
pub const RR: usize = 1;
pub const SPO2: usize = 2;
pub const TEMP: usize = 3;
pub const SBP: usize = 4;
pub const DBP: usize = 5;
/// A shared "arousal" factor (pain, anxiety, activity) that moves HR, RR and BP together.
pub const AROUSAL: usize = 6;
pub const N_STATE: usize = 7;

/// Mean-reverting (Ornstein–Uhlenbeck) variability of each state variable: stationary SD in the
/// vital's unit, and time constant in seconds.
pub const OU_SD: [f64; N_STATE] = [4.5, 1.0, 0.6, 0.10, 4.5, 3.0, 1.0];
pub const OU_TAU_S: [f64; N_STATE] = [900.0, 600.0, 300.0, 3600.0, 1200.0, 1200.0, 600.0];
/// How much one SD of arousal moves each vital.
pub const AROUSAL_GAIN: [f64; 6] = [3.0, 0.8, 0.0, 0.0, 3.0, 1.5];

/// Circadian amplitude (half the peak-to-peak swing) and local hour of the peak. Temperature
/// swings ~0.5 °C, lowest early morning; HR and BP dip at night.
pub const CIRCADIAN: [(f64, f64); 6] = [
    (4.0, 15.0),  // HR /min
    (0.5, 15.0),  // RR /min
    (0.0, 0.0),   // SpO2
    (0.25, 18.0), // temperature °C
    (5.0, 14.0),  // systolic mmHg
    (3.0, 14.0),  // diastolic mmHg
];

/// Hard physiological limits of the true values.
pub const LIMITS: [(f64, f64); 6] = [
    (25.0, 220.0),
    (4.0, 60.0),
    (50.0, 100.0),
    (32.0, 42.5),
    (45.0, 240.0),
    (20.0, 140.0),
];

/// The full effect of a deterioration on the vitals (added at severity 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effect {
    pub kind: Deterioration,
    /// Change of HR, RR, SpO2, temperature, systolic, diastolic at full severity.
    pub delta: [f64; 6],
    /// SpO2 falls as `severity^exponent`: late in sepsis, early in respiratory failure.
    pub spo2_exponent: f64,
    /// Severity from which the patient is newly confused (C on ACVPU).
    pub confused_at: f64,
    /// Severity from which the patient responds to voice only (V).
    pub voice_at: f64,
}

pub const EFFECTS: [Effect; 3] = [
    Effect {
        kind: Deterioration::Sepsis,
        delta: [40.0, 11.0, -5.0, 2.2, -42.0, -22.0],
        spo2_exponent: 2.5,
        confused_at: 0.85,
        voice_at: 1.4,
    },
    Effect {
        kind: Deterioration::RespiratoryFailure,
        delta: [28.0, 15.0, -12.0, 0.3, 8.0, 4.0],
        spo2_exponent: 1.2,
        confused_at: 0.92,
        voice_at: 1.5,
    },
    Effect {
        kind: Deterioration::Haemorrhage,
        delta: [48.0, 7.0, -2.0, -0.4, -50.0, -28.0],
        spo2_exponent: 2.0,
        confused_at: 0.9,
        voice_at: 1.4,
    },
];

pub fn effect_of(kind: Deterioration) -> &'static Effect {
    EFFECTS
        .iter()
        .find(|e| e.kind == kind)
        .expect("every deterioration has an effect")
}

/// Population baseline of a stable adult ward patient: mean and SD across patients, and the
/// clamp range (DOMAIN.md section 1 normal ranges).
/// Acuity and chronic conditions shift the mean; the clamp keeps a stable patient typical.
pub const BASELINE: [(f64, f64, f64, f64); 6] = [
    (78.0, 8.0, 62.0, 94.0),     // HR
    (15.5, 1.6, 13.5, 18.5),     // RR
    (97.2, 0.9, 95.6, 99.2),     // SpO2 (scale 1)
    (36.8, 0.22, 36.35, 37.2),   // temperature
    (124.0, 10.0, 116.0, 138.0), // systolic
    (75.0, 6.0, 67.0, 88.0),     // diastolic
];

/// SpO2 baseline of a scale-2 (hypercapnic COPD) patient: target 88–92 %.
pub const BASELINE_SPO2_SCALE_2: (f64, f64, f64, f64) = (90.5, 1.0, 88.8, 92.2);

/// Baseline NEWS2 above which a drawn "stable" patient is redrawn: stable ward patients sit in
/// the low band (RCP: 0–4), mostly 0–2 on air; oxygen adds its 2.
pub const MAX_BASELINE_NEWS2_AIR: u8 = 2;
pub const MAX_BASELINE_NEWS2_OXYGEN: u8 = 3;
