//! Physiology parameters, kept as data. Sources: DOMAIN.md section 1 (normal ward values and
//! within-patient variability); deterioration signatures follow the clinical pictures in the
//! RCP NEWS2 report and surviving-sepsis descriptions (tachycardia, tachypnoea, fever,
//! hypotension, late hypoxaemia and confusion).

use wardtwin_sim::records::{Deterioration, Variant};

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

/// How one variant of a deterioration moves the vitals at severity 1: the change of HR, RR,
/// SpO2, temperature, systolic, diastolic, and how early each moves. A vital follows
/// `progress^lead` (progress 0 → 1 over the development time): under 1 it leads, over 1 it
/// lags (SpO2 falls late in sepsis; a compensated haemorrhage holds its pressure, then loses
/// it).
///
/// Sources: the clinical pictures of the RCP NEWS2 report (2017) and Surviving Sepsis
/// (tachycardia, tachypnoea, fever or hypothermia, hypotension, late hypoxaemia, confusion);
/// hypothermic sepsis in 10–20 % of severe sepsis (Kushimoto et al. 2013, Crit Care 17:R271);
/// tachypnoea as the earliest sign of deterioration (Cretikos et al. 2008, MJA 188:657);
/// haemorrhage classes (ATLS: HR rises from class II, blood pressure falls from class III) and
/// blunted tachycardia under beta-blockade or in old age.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VariantEffect {
    pub variant: Variant,
    /// Share of the kind's episodes that show this variant.
    pub share: f64,
    pub delta: [f64; 6],
    pub lead: [f64; 6],
    /// Severity from which the patient is newly confused (C on ACVPU), and responds to voice
    /// only (V).
    pub confused_at: f64,
    pub voice_at: f64,
}

const fn variant(
    variant: Variant,
    share: f64,
    delta: [f64; 6],
    lead: [f64; 6],
    confused_at: f64,
    voice_at: f64,
) -> VariantEffect {
    VariantEffect {
        variant,
        share,
        delta,
        lead,
        confused_at,
        voice_at,
    }
}

/// Every variant: within a kind, the shares sum to 1.
pub const VARIANTS: [VariantEffect; 7] = [
    variant(
        Variant::Febrile,
        0.65,
        [40.0, 11.0, -5.0, 2.2, -42.0, -22.0],
        [1.0, 1.0, 2.5, 0.9, 1.2, 1.2],
        0.85,
        1.4,
    ),
    variant(
        Variant::TachypnoeaFirst,
        0.20,
        [36.0, 13.0, -6.0, 1.8, -40.0, -20.0],
        [1.4, 0.5, 2.0, 1.5, 1.6, 1.6],
        0.85,
        1.4,
    ),
    variant(
        Variant::Hypothermic,
        0.15,
        [30.0, 10.0, -5.0, -1.6, -48.0, -25.0],
        [1.0, 1.0, 2.5, 1.0, 1.0, 1.0],
        0.75,
        1.3,
    ),
    variant(
        Variant::Tachycardic,
        0.75,
        [28.0, 15.0, -12.0, 0.3, 8.0, 4.0],
        [1.0, 0.9, 1.2, 1.0, 1.0, 1.0],
        0.92,
        1.5,
    ),
    variant(
        Variant::BetaBlocked,
        0.25,
        [6.0, 14.0, -12.0, 0.3, 4.0, 2.0],
        [1.0, 0.9, 1.2, 1.0, 1.0, 1.0],
        0.92,
        1.5,
    ),
    variant(
        Variant::Compensated,
        0.70,
        [50.0, 7.0, -2.0, -0.4, -55.0, -30.0],
        [0.7, 1.0, 2.0, 1.0, 3.0, 3.0],
        0.9,
        1.4,
    ),
    variant(
        Variant::EarlyHypotension,
        0.30,
        [15.0, 6.0, -2.0, -0.4, -48.0, -26.0],
        [1.0, 1.0, 2.0, 1.0, 0.8, 0.8],
        0.85,
        1.4,
    ),
];

pub fn variant_effect(v: Variant) -> &'static VariantEffect {
    VARIANTS
        .iter()
        .find(|e| e.variant == v)
        .expect("every variant has an effect")
}

/// Development time of a deterioration drawn per episode: log-uniform between these. Sepsis
/// develops over hours (2–8 h), respiratory failure over 1–6 h, an acute bleed in 20 min to
/// 3 h (RCP NEWS2 report; the scenario's `develop` pins it).
pub fn develop_range_ms(kind: Deterioration) -> (i64, i64) {
    const H: i64 = 3_600_000;
    match kind {
        Deterioration::Sepsis => (2 * H, 8 * H),
        Deterioration::RespiratoryFailure => (H, 6 * H),
        Deterioration::Haemorrhage => (H / 3, 3 * H),
    }
}

/// Random deteriorations (`[incidents] deteriorations_per_patient_day`): the share of each
/// kind (sepsis is the commonest cause of ward deterioration, then respiratory failure, then
/// bleeding), the share treated within the run, when treatment starts after onset, and the
/// share of treated episodes that relapse, and when (ms).
pub const RANDOM_KINDS: [(Deterioration, f64); 3] = [
    (Deterioration::Sepsis, 0.5),
    (Deterioration::RespiratoryFailure, 0.3),
    (Deterioration::Haemorrhage, 0.2),
];
pub const RANDOM_TREATED: f64 = 0.85;
pub const RANDOM_TREAT_AFTER_MS: (i64, i64) = (3_600_000, 4 * 3_600_000);
pub const RANDOM_RELAPSE: f64 = 0.1;
pub const RANDOM_RELAPSE_AFTER_MS: (i64, i64) = (6 * 3_600_000, 48 * 3_600_000);

/// Severity drawn per episode: log-normal around 1 (the textbook picture), SD of its log, and
/// its bounds (the scenario's `severity` allows up to 2).
pub const SEVERITY_LOG_SD: f64 = 0.25;
pub const SEVERITY_RANGE: (f64, f64) = (0.45, 1.8);
/// Per-episode spread of each vital's change: a log-normal multiplier with this SD of its log,
/// bounded, so two septic patients of the same variant and severity still differ.
pub const DELTA_LOG_SD: f64 = 0.2;
pub const DELTA_RANGE: (f64, f64) = (0.5, 1.7);
/// Spread of the confusion thresholds between episodes (SD).
pub const CONFUSION_SD: f64 = 0.08;
/// Treated episodes that recover only partly (the rest recover fully), and the share of the
/// effect a partial recovery leaves (drawn uniformly).
pub const PARTIAL_RECOVERY: f64 = 0.3;
pub const RESIDUAL_RANGE: (f64, f64) = (0.15, 0.4);
/// A relapse (pinned by `relapse_after`): its severity and development time as shares of the
/// first episode's (drawn uniformly).
pub const RELAPSE_SEVERITY: (f64, f64) = (0.6, 1.0);
pub const RELAPSE_DEVELOP: (f64, f64) = (0.5, 1.0);

/// Population baseline of an adult ward patient: mean and SD across patients, and the bounds of
/// plausibility outside which a draw is redrawn (a truncated normal, not a clamp: no patient
/// piles up at a bound). Acuity and chronic conditions shift the mean.
///
/// Sources: DOMAIN.md section 1 normal ranges for the centre; the spreads are those of ward
/// observation sets, where a stable patient's own average is often outside the textbook normal
/// range (Jarvis et al. 2015: 15 % of ward observation sets score NEWS 3–4; inpatient systolic
/// SD ~18–20 mmHg; hypertension is uncontrolled in more than half (NHANES 2017-18)).
pub const BASELINE: [(f64, f64, f64, f64); 6] = [
    (80.0, 10.0, 48.0, 128.0),  // HR
    (16.4, 1.8, 11.0, 28.0),    // RR
    (96.4, 1.3, 90.0, 99.6),    // SpO2 (scale 1)
    (36.8, 0.3, 35.6, 38.0),    // temperature
    (120.0, 16.0, 84.0, 195.0), // systolic
    (72.0, 9.0, 42.0, 115.0),   // diastolic
];
/// Correlation of a patient's diastolic with their systolic baseline.
pub const SBP_DBP_CORRELATION: f64 = 0.6;

/// SpO2 baseline of a COPD patient (either NEWS2 scale): their usual saturation is 88–92 %
/// (BTS oxygen guideline target for hypercapnic patients), whatever scale the ward charts
/// them on.
pub const BASELINE_SPO2_COPD: (f64, f64, f64, f64) = (90.5, 1.4, 85.5, 95.0);

/// COPD patients charted on SpO2 scale 2 (the rest on scale 1, where their usual 88–92 %
/// scores 3): scale 2 is for confirmed hypercapnic respiratory failure, which about half of
/// COPD inpatients have; audits find scale 2 used in a minority (BMJ Open Resp Res 2019,
/// NEWS vs local EWS in COPD: 22 % of sets scored 5–6 and 10.5 % ≥7 on scale 1).
pub const COPD_SCALE_2: f64 = 0.5;

/// COPD patients on supplemental oxygen (on top of the population's `oxygen` share): about
/// half of COPD inpatients get controlled oxygen (BTS emergency oxygen audits).
pub const COPD_ON_OXYGEN: f64 = 0.5;

/// Hypertension's shift of the systolic and diastolic baseline: treated hypertensives average
/// ~10-15 mmHg above normotensives on the ward.
pub const HYPERTENSION_SHIFT: (f64, f64) = (12.0, 6.0);

/// Chronic atrial fibrillation: most are rate-controlled (HR up ~5), about a third are not (HR
/// up ~25, a resting rate of 100–115); either way the rate varies more (ESC 2020 AF
/// guideline: lenient rate control under 110).
pub const AF_UNCONTROLLED: f64 = 0.35;
pub const AF_HR_SHIFT_CONTROLLED: (f64, f64) = (5.0, 5.0);
pub const AF_HR_SHIFT_UNCONTROLLED: (f64, f64) = (25.0, 7.0);
pub const AF_HR_VARIABILITY: f64 = 1.8;

/// Dementia: the share of patients who are confused for part of each day (sundowning: worse
/// from the late afternoon; delirium superimposed on dementia in inpatients with
/// dementia: 22–89 %, Fick et al. 2002, JAGS 50:1723), when it starts (local hour) and how
/// long it lasts.
pub const DEMENTIA_SUNDOWNING: f64 = 0.5;
pub const SUNDOWN_START_H: (f64, f64) = (15.0, 20.0);
pub const SUNDOWN_HOURS: (f64, f64) = (2.0, 7.0);
