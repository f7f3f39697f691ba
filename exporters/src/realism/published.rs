//! The published figures the realism report checks a run against, kept as data with their
//! sources (`docs/realism.md` explains each). A range is what a run of a general adult ward
//! should fall in; where a study reports one number, the range is that number with the margin a
//! day of a few dozen patients needs, and the note says so.

/// One figure: the accepted range of a statistic and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure {
    /// The statistic's key in `realism.json`'s `checks`.
    pub key: &'static str,
    pub what: &'static str,
    pub lo: f64,
    pub hi: f64,
    pub source: &'static str,
}

const fn fig(
    key: &'static str,
    what: &'static str,
    lo: f64,
    hi: f64,
    source: &'static str,
) -> Figure {
    Figure {
        key,
        what,
        lo,
        hi,
        source,
    }
}

/// Stable patients averaging a systolic above 140 mmHg: ward populations are ~30 % hypertensive
/// and fewer than half of treated hypertensives are controlled (NHANES 2017–18: 44 % control),
/// so roughly 10–20 % of stable ward patients run above 140.
pub const SBP_ABOVE_140: Figure = fig(
    "baseline.sbp_above_140",
    "stable patients whose mean systolic is above 140 mmHg",
    0.05,
    0.35,
    "hypertension prevalence ~30 %, control <50 % (NHANES 2017-18)",
);

/// Stable patients averaging a heart rate above 100: chronic AF with rate 100–110, heart
/// failure, pain and anaemia keep a minority of ward patients tachycardic.
pub const HR_ABOVE_100: Figure = fig(
    "baseline.hr_above_100",
    "stable patients whose mean heart rate is above 100 /min",
    0.02,
    0.15,
    "AF prevalence in medical inpatients 10-15 %, a third rate-uncontrolled",
);

/// NEWS2 3–4 across ward observation sets: 15.1 % of 942,000 sets (Jarvis et al. 2015,
/// Resuscitation 87:75-80, Portsmouth, all adult inpatient areas).
pub const NEWS2_3_4: Figure = fig(
    "news2.share_3_4",
    "observation sets (truth samples of patients outside an episode) scoring 3-4",
    0.08,
    0.25,
    "Jarvis et al. 2015, Resuscitation 87:75-80: 15.1 %",
);

/// NEWS2 ≥ 5 across ward observation sets. General wards: 5–10 % (Scott et al. 2019, EMJ
/// 36:287: 8 % of ED attendances ≥5; COPD wards 32 %, BMJ Open Resp Res 2019 NEWS vs local EWS
/// in COPD: 22 % 5–6 and 10.5 % ≥7); a ward of ~10 % COPD patients lands at 4–12 %.
pub const NEWS2_GE5: Figure = fig(
    "news2.share_ge5",
    "observation sets scoring 5 or more",
    0.03,
    0.14,
    "Scott et al. 2019 EMJ 36:287 (8 %); COPD 32 % (BMJ Open Resp Res 2019)",
);

/// NEWS2 ≥ 7 across ward observation sets: 10.5 % in COPD patients, a few per cent overall.
pub const NEWS2_GE7: Figure = fig(
    "news2.share_ge7",
    "observation sets scoring 7 or more",
    0.005,
    0.05,
    "COPD 10.5 % (BMJ Open Resp Res 2019); general wards 1-3 %",
);

/// Autocorrelation of the true vitals: real HR, RR and SpO2 move over minutes to hours, not
/// second to second (e-folding time of the within-patient series).
pub const ACF_MIN: Figure = fig(
    "autocorrelation.min_e_folding_min",
    "shortest e-folding time of true HR, RR and SpO2 (median over patients), minutes",
    3.0,
    600.0,
    "vital-sign series are autocorrelated over minutes (DOMAIN.md section 1)",
);

/// Consecutive SpO2 numerics of one oximeter (15 s apart): an oximeter averages over 4–16 s
/// (Masimo default 8 s) and its error moves slowly with perfusion and position, so consecutive
/// numerics correlate strongly.
pub const SPO2_LAG1: Figure = fig(
    "devices.spo2_lag1_correlation",
    "correlation of consecutive SpO2 readings of one oximeter (device mean removed)",
    0.6,
    1.0,
    "oximeter averaging 4-16 s (Masimo SET 8 s default)",
);

/// CGM accuracy against blood glucose: MARD 7.8–9.1 % for current sensors in outpatient
/// studies (Dexcom G7 8.2 % arm, FreeStyle Libre 3 7.8 %), 10–13 % in hospitalised patients
/// (Dexcom G6 in non-ICU inpatients, Galindo et al. 2020: MARD 12.8 %).
pub const CGM_MARD: Figure = fig(
    "devices.cgm_mard",
    "CGM mean absolute relative difference from true blood glucose",
    0.075,
    0.14,
    "G7 8.2 %, Libre 3 7.8 % (labels); inpatients 12.8 % (Galindo 2020)",
);

/// CGM readings without a value (warm-up, signal loss, sensor off): sensor warm-up is 30 min
/// (G7) to 1 h (Libre 3) each 10–14 days, signal-loss gaps are a few per cent of readings.
pub const CGM_NOT_OK: Figure = fig(
    "devices.cgm_not_ok",
    "CGM readings whose status is not ok",
    0.005,
    0.12,
    "warm-up 30-60 min per 10-14 days; signal loss 1-5 % of readings",
);

/// Oscillometric cuff readings that fail (no value, `cuff_error`): 2–5 % on general wards,
/// more with movement and arrhythmia.
pub const CUFF_ERROR: Figure = fig(
    "devices.cuff_error",
    "BP cuff readings that failed (status cuff_error)",
    0.01,
    0.10,
    "NIBP measurement failures 2-5 % on wards",
);

/// Temperature patches that come off or lose skin contact, per device-day: adhesive wearables
/// report 5–20 % detachments over a multi-day wear.
pub const TEMP_PATCH_FAULTS: Figure = fig(
    "devices.temp_patch_faults_per_day",
    "temperature-patch detachments and skin-contact losses per device-day",
    0.02,
    0.5,
    "adhesive patches: 5-20 % detach over a 3-7 day wear",
);

/// Spread of a deterioration's effect between episodes of the same kind: the change in HR at
/// full development differs from patient to patient by more than ±5 /min (SD).
pub const PHENOTYPE_HR_SD: Figure = fig(
    "episodes.hr_change_sd",
    "SD between episodes of one kind of the HR change at full development, /min",
    5.0,
    60.0,
    "septic and bleeding patients differ: hypothermic sepsis, beta-blockade, compensation",
);

/// Septic patients who are hypothermic rather than febrile: 9–35 % in published cohorts
/// (Kushimoto et al. 2013, Crit Care 17:R271: 10-20 % of severe sepsis).
pub const SEPSIS_HYPOTHERMIC: Figure = fig(
    "episodes.sepsis_hypothermic",
    "sepsis episodes whose temperature falls rather than rises",
    0.05,
    0.40,
    "Kushimoto et al. 2013, Crit Care 17:R271 (10-20 %)",
);

/// Every figure, in report order.
pub const ALL: [Figure; 14] = [
    SBP_ABOVE_140,
    HR_ABOVE_100,
    NEWS2_3_4,
    NEWS2_GE5,
    NEWS2_GE7,
    ACF_MIN,
    SPO2_LAG1,
    CGM_MARD,
    CGM_NOT_OK,
    CUFF_ERROR,
    TEMP_PATCH_FAULTS,
    PHENOTYPE_HR_SD,
    SEPSIS_HYPOTHERMIC,
    BASELINE_PILEUP,
];

/// No pile-up at a bound: besides the highest and the lowest themselves, few stable patients'
/// mean systolic lies within 4 mmHg of the population's extremes. A clamp piles patients up
/// there (the old baseline put a third of them at its 138 mmHg bound); a smooth population's
/// extremes are sparse (a normal sample of 28 has 1-3 others there, of 200 a few).
pub const BASELINE_PILEUP: Figure = fig(
    "baseline.sbp_edge_share",
    "other stable patients with a mean systolic within 4 mmHg of the highest or lowest",
    0.0,
    0.15,
    "a population without clamps has no spike at a bound",
);
