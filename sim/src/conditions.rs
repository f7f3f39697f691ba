//! Alertable conditions: the ground truth of what a system under test should alert on.
//!
//! A condition is an interval in which something was really wrong with a subject (a patient or
//! a device): `class`, `severity`, `onset`, `end`. The rules that produce them are data
//! ([`CLINICAL_TIERS`], [`MONITORING_LOST_GRACE_MS`]) and are documented, rule by rule, in
//! `docs/scoring.md`.
//!
//! Clinical conditions come from the **true** vitals, evaluated every step, through a
//! [`Spell`]: a spell begins the first step its criterion holds and ends when the criterion has
//! not held for `clear_ms` (its end is the first step it stopped holding), so a value that
//! flickers around a threshold makes one condition, not fifty. A spell shorter than `min_ms` is
//! recorded as **transient**: it really happened, but no alerting system is expected to catch
//! it, so the scorer treats it as "don't care" (an alert inside is neither true nor false).
//!
//! Tiers of one class nest (NEWS2 ≥ 7 lies inside NEWS2 ≥ 5): each tier is its own condition,
//! so a system is judged on escalation too.
//!
//! Nothing here knows how conditions are scored; the scorer matches them to alerts by subject
//! and class name, so a new class (cold chain, RTLS, gateways) is a new producer and a new
//! name, not a change to the scorer.

use serde::{Deserialize, Serialize};

use crate::news2::{News2, Spo2Scale};
use crate::records::{DeviceIx, PatientIx, Rhythm, RhythmOrigin, RhythmRecord};
use crate::time::SimMillis;

/// How bad a condition is; maps to the IEC 60601-1-8 alarm priorities a system should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Low, Severity::Medium, Severity::High];
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// The classes the twin produces today. The scorer only sees their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionClass {
    /// NEWS2 response band (true vitals): low-medium (a single parameter scores 3), urgent (≥ 5),
    /// emergency (≥ 7).
    Deterioration,
    /// True SpO2 below the desaturation threshold of the patient's SpO2 scale.
    Desaturation,
    /// True ventricular rate above 140 /min for 17 beats (PhysioNet/CinC 2015), in a rhythm
    /// that is not ventricular tachycardia (that is its own class).
    ExtremeTachycardia,
    /// True ventricular rate below 40 /min for 5 beats (PhysioNet/CinC 2015), with a pulse
    /// (asystole and fibrillation are their own classes).
    ExtremeBradycardia,
    /// A device produced no value for longer than its cadence allows (dead battery, probe off).
    MonitoringLost,
    /// A device's battery is at or under the low-battery threshold.
    LowBattery,
    /// A fridge's or freezer's product temperature is outside its storage range.
    ColdChainExcursion,
    /// True blood glucose under 3.9 mmol/L (level 1) or 3.0 mmol/L (level 2).
    Hypoglycaemia,
    /// An infusion pump is occluded: nothing is being infused.
    PumpOcclusion,
    /// A fall-risk patient is out of bed.
    BedExit,
    /// A tracked asset is outside the zones it is permitted in.
    AssetZoneBreach,
    /// A tracked asset has been out of every receiver's range for too long.
    AssetMissing,
    /// A staff member pressed their badge's duress button.
    Duress,
    /// A device's data stopped reaching the broker for longer than its cadence allows, while
    /// the device went on producing it (derived from the delivery ledger: what the receiving
    /// side could know).
    DataGap,
    /// Nothing from a ward gateway (its own status included) reached the broker for longer
    /// than its cadence allows.
    GatewayOffline,
    /// No QRS for at least 4 s (PhysioNet/CinC 2015): asystole.
    Asystole,
    /// 5 or more ventricular beats at over 100 /min (PhysioNet/CinC 2015).
    VentricularTachycardia,
    /// A fibrillatory, flutter or oscillatory waveform for at least 4 s (PhysioNet/CinC 2015).
    VentricularFlutterFib,
    /// New-onset atrial fibrillation lasting at least 30 s (the ESC 2020 definition of an
    /// episode); a patient's known permanent AF is recorded but not alertable.
    AtrialFibrillation,
}

impl ConditionClass {
    pub const ALL: [ConditionClass; 19] = [
        ConditionClass::Deterioration,
        ConditionClass::Desaturation,
        ConditionClass::ExtremeTachycardia,
        ConditionClass::ExtremeBradycardia,
        ConditionClass::MonitoringLost,
        ConditionClass::LowBattery,
        ConditionClass::ColdChainExcursion,
        ConditionClass::Hypoglycaemia,
        ConditionClass::PumpOcclusion,
        ConditionClass::BedExit,
        ConditionClass::AssetZoneBreach,
        ConditionClass::AssetMissing,
        ConditionClass::Duress,
        ConditionClass::DataGap,
        ConditionClass::GatewayOffline,
        ConditionClass::Asystole,
        ConditionClass::VentricularTachycardia,
        ConditionClass::VentricularFlutterFib,
        ConditionClass::AtrialFibrillation,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ConditionClass::Deterioration => "deterioration",
            ConditionClass::Desaturation => "desaturation",
            ConditionClass::ExtremeTachycardia => "extreme_tachycardia",
            ConditionClass::ExtremeBradycardia => "extreme_bradycardia",
            ConditionClass::MonitoringLost => "monitoring_lost",
            ConditionClass::LowBattery => "low_battery",
            ConditionClass::ColdChainExcursion => "cold_chain_excursion",
            ConditionClass::Hypoglycaemia => "hypoglycaemia",
            ConditionClass::PumpOcclusion => "pump_occlusion",
            ConditionClass::BedExit => "bed_exit",
            ConditionClass::AssetZoneBreach => "asset_zone_breach",
            ConditionClass::AssetMissing => "asset_missing",
            ConditionClass::Duress => "duress",
            ConditionClass::DataGap => "data_gap",
            ConditionClass::GatewayOffline => "gateway_offline",
            ConditionClass::Asystole => "asystole",
            ConditionClass::VentricularTachycardia => "ventricular_tachycardia",
            ConditionClass::VentricularFlutterFib => "ventricular_flutter_fib",
            ConditionClass::AtrialFibrillation => "atrial_fibrillation",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// Who a condition is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    Patient(PatientIx),
    Device(DeviceIx),
}

/// One alertable condition, as it really was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConditionRecord {
    pub class: ConditionClass,
    pub severity: Severity,
    pub subject: Subject,
    pub onset_ms: SimMillis,
    /// First moment it no longer held; `None` if it still held when the run ended.
    pub end_ms: Option<SimMillis>,
    /// Shorter than its rule's minimum: real, but not expected to be alerted on.
    pub transient: bool,
}

/// One tier of a clinical class: what must hold, how long, and how long it must stop holding
/// before the condition is over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    pub class: ConditionClass,
    pub severity: Severity,
    /// Spells shorter than this are transient.
    pub min_ms: i64,
    /// The criterion must stop holding this long for the condition to end.
    pub clear_ms: i64,
    /// The rule, as documented.
    pub rule: &'static str,
}

const MIN: i64 = 60_000;

/// The clinical tiers, in the order [`ClinicalTracker`] evaluates them.
///
/// Sources: NEWS2 bands and responses (RCP 2017, DOMAIN.md §2); extreme tachycardia and
/// bradycardia (PhysioNet/CinC 2015, DOMAIN.md §3); SpO2 90 % is the common default low limit
/// and 85 % marks severe hypoxaemia (scale 2 patients, who target 88–92 %, are judged 5 points
/// lower). Minimum durations: 5 min for NEWS2 (a charted observation set takes minutes), 60 s
/// for desaturation (monitors' SpO2 averaging and hold-off); the arrhythmia rates need the
/// PhysioNet definitions' 17 beats over 140 /min (7.3 s) and 5 beats under 40 /min (7.5 s),
/// and do not count a ventricular tachycardia, fibrillation or asystole (their own classes,
/// [`rhythm_condition`]): one definition each.
pub const CLINICAL_TIERS: [Tier; 7] = [
    Tier {
        class: ConditionClass::Deterioration,
        severity: Severity::Low,
        min_ms: 5 * MIN,
        clear_ms: 15 * MIN,
        rule: "NEWS2 response low-medium or worse: a single parameter scores 3, or total >= 5",
    },
    Tier {
        class: ConditionClass::Deterioration,
        severity: Severity::Medium,
        min_ms: 5 * MIN,
        clear_ms: 15 * MIN,
        rule: "NEWS2 total >= 5 (urgent response)",
    },
    Tier {
        class: ConditionClass::Deterioration,
        severity: Severity::High,
        min_ms: 5 * MIN,
        clear_ms: 15 * MIN,
        rule: "NEWS2 total >= 7 (emergency response)",
    },
    Tier {
        class: ConditionClass::Desaturation,
        severity: Severity::Medium,
        min_ms: MIN,
        clear_ms: MIN,
        rule: "true SpO2 < 90 % (scale 2: < 85 %)",
    },
    Tier {
        class: ConditionClass::Desaturation,
        severity: Severity::High,
        min_ms: MIN,
        clear_ms: MIN,
        rule: "true SpO2 < 85 % (scale 2: < 80 %)",
    },
    Tier {
        class: ConditionClass::ExtremeTachycardia,
        severity: Severity::High,
        min_ms: 17 * 60_000 / 140,
        clear_ms: 30_000,
        rule: "true ventricular rate > 140 /min for 17 beats, not in ventricular tachycardia",
    },
    Tier {
        class: ConditionClass::ExtremeBradycardia,
        severity: Severity::High,
        min_ms: 5 * 60_000 / 40,
        clear_ms: 30_000,
        rule: "true ventricular rate < 40 /min for 5 beats, with a pulse (not asystole or \
               fibrillation)",
    },
];

/// Minimum length of a new atrial fibrillation episode (ESC 2020: 30 s).
pub const AF_MIN_MS: i64 = 30_000;
/// Minimum length of asystole and of ventricular flutter/fibrillation (PhysioNet/CinC 2015: 4 s).
pub const ARREST_MIN_MS: i64 = 4_000;

/// The alertable condition a rhythm spell is, by the PhysioNet/CinC 2015 definitions (and the
/// ESC's for atrial fibrillation): asystole and ventricular flutter/fibrillation for 4 s,
/// ventricular tachycardia for 5 beats at its rate, atrial fibrillation for 30 s; shorter is
/// transient, and so is a patient's known permanent AF (`chronic`: a system is not expected to
/// alarm on it, nor wrong to). Second-degree block has no class of its own: its slow rate is
/// extreme bradycardia when under 40 /min.
pub fn rhythm_condition(r: &RhythmRecord) -> Option<ConditionRecord> {
    let (class, severity, min_ms) = match r.rhythm {
        Rhythm::Sinus | Rhythm::SecondDegreeBlock => return None,
        Rhythm::AtrialFibrillation => (
            ConditionClass::AtrialFibrillation,
            Severity::Medium,
            AF_MIN_MS,
        ),
        Rhythm::VentricularTachycardia => (
            ConditionClass::VentricularTachycardia,
            Severity::High,
            (5.0 * 60_000.0 / f64::from(r.rate).max(1.0)).round() as i64,
        ),
        Rhythm::VentricularFibrillation => (
            ConditionClass::VentricularFlutterFib,
            Severity::High,
            ARREST_MIN_MS,
        ),
        Rhythm::Asystole => (ConditionClass::Asystole, Severity::High, ARREST_MIN_MS),
    };
    let short = r.end_ms.is_some_and(|e| e - r.onset_ms < min_ms);
    Some(ConditionRecord {
        class,
        severity,
        subject: Subject::Patient(r.patient),
        onset_ms: r.onset_ms,
        end_ms: r.end_ms,
        transient: short || r.origin == RhythmOrigin::Chronic,
    })
}

/// Hypoglycaemia from the true blood glucose (International Hypoglycaemia Study Group levels;
/// a CGM "event" lasts at least 15 min, the international consensus on CGM metrics).
pub const HYPOGLYCAEMIA_TIERS: [Tier; 2] = [
    Tier {
        class: ConditionClass::Hypoglycaemia,
        severity: Severity::Medium,
        min_ms: 15 * MIN,
        clear_ms: 15 * MIN,
        rule: "true blood glucose < 3.9 mmol/L (level 1 hypoglycaemia)",
    },
    Tier {
        class: ConditionClass::Hypoglycaemia,
        severity: Severity::High,
        min_ms: 15 * MIN,
        clear_ms: 15 * MIN,
        rule: "true blood glucose < 3.0 mmol/L (level 2 hypoglycaemia)",
    },
];

/// A product-temperature excursion (DOMAIN.md section 4: any time outside the range is an
/// excursion; the condition asks for 15 min, as a logger reading every 5-15 min cannot see a
/// shorter one, and the product's lag makes shorter ones rare).
pub const COLD_CHAIN_TIER: Tier = Tier {
    class: ConditionClass::ColdChainExcursion,
    severity: Severity::Medium,
    min_ms: 15 * MIN,
    clear_ms: 10 * MIN,
    rule: "product (buffered-probe) temperature outside the storage range: fridge 2-8 C, freezer -50 to -15 C",
};

/// An infusion pump's occlusion, from its onset until it is cleared.
pub const PUMP_OCCLUSION_TIER: Tier = Tier {
    class: ConditionClass::PumpOcclusion,
    severity: Severity::High,
    min_ms: 30_000,
    clear_ms: 0,
    rule: "infusion pump occluded (nothing infused) until the occlusion is cleared",
};

/// A fall-risk patient out of bed, from leaving it until back in it.
pub const BED_EXIT_TIER: Tier = Tier {
    class: ConditionClass::BedExit,
    severity: Severity::High,
    min_ms: 10_000,
    clear_ms: 0,
    rule: "fall-risk patient out of bed",
};

/// An asset in a zone it is not permitted in (being wheeled through another ward's corridor
/// for a minute is not a breach).
pub const ZONE_BREACH_TIER: Tier = Tier {
    class: ConditionClass::AssetZoneBreach,
    severity: Severity::Medium,
    min_ms: 2 * MIN,
    clear_ms: 2 * MIN,
    rule: "asset outside its permitted zones (its home ward) for 2 min or more",
};

/// How long an asset may be out of every receiver's range before it is missing.
pub const ASSET_MISSING_AFTER_MS: i64 = 30 * MIN;

/// An asset nobody can hear: onset once it has been out of range for
/// [`ASSET_MISSING_AFTER_MS`], end when it is back in range.
pub const ASSET_MISSING_TIER: Tier = Tier {
    class: ConditionClass::AssetMissing,
    severity: Severity::Low,
    min_ms: 0,
    clear_ms: 0,
    rule: "asset out of every receiver's range (mean RSSI under the receivers' sensitivity) for 30 min or more",
};

/// A duress call, from the press until a colleague reaches the caller.
pub const DURESS_TIER: Tier = Tier {
    class: ConditionClass::Duress,
    severity: Severity::High,
    min_ms: 0,
    clear_ms: 0,
    rule: "staff duress button pressed, until a colleague arrives",
};

/// Every tier with a spell rule, clinical first.
pub fn tiers() -> impl Iterator<Item = &'static Tier> {
    CLINICAL_TIERS
        .iter()
        .chain(HYPOGLYCAEMIA_TIERS.iter())
        .chain([
            &COLD_CHAIN_TIER,
            &PUMP_OCCLUSION_TIER,
            &BED_EXIT_TIER,
            &ZONE_BREACH_TIER,
            &ASSET_MISSING_TIER,
            &DURESS_TIER,
        ])
}

/// How often NEWS2 tiers are evaluated for a patient with none open and no episode under way.
pub const NEWS2_IDLE_EVERY_MS: i64 = 5_000;

/// Desaturation thresholds (medium, high) by SpO2 scale, in %.
pub fn desaturation_thresholds(scale: Spo2Scale) -> (f64, f64) {
    match scale {
        Spo2Scale::Scale1 => (90.0, 85.0),
        Spo2Scale::Scale2 => (85.0, 80.0),
    }
}

/// A device is "lost" once it has produced no value for `2 × cadence + this` (so a 15 s
/// oximeter is lost after 90 s of silence or probe-off; a 30-min cuff after 61 min).
pub const MONITORING_LOST_GRACE_MS: i64 = 60_000;
/// The monitoring-lost rule, as documented.
pub const MONITORING_LOST_RULE: &str =
    "no value from the device for longer than 2 x its cadence + 60 s (dead battery, probe off)";
/// The low-battery rule, as documented.
pub const LOW_BATTERY_RULE: &str = "battery at or under 10 % (until it is empty)";

/// The data-gap rule, as documented.
pub const DATA_GAP_RULE: &str = "no reading from the device reached the broker for longer than 2 x its cadence + 60 s while it went on emitting (radio, gateway or uplink fault); transient while its whole gateway was offline";
/// The gateway-offline rule, as documented.
pub const GATEWAY_OFFLINE_RULE: &str = "nothing from the ward gateway, its own status included, reached the broker for longer than 2 x its status cadence + 60 s";

/// The documented rule behind a condition of `class` and `severity`.
pub fn rule_of(class: ConditionClass, severity: Severity) -> &'static str {
    match class {
        ConditionClass::MonitoringLost => MONITORING_LOST_RULE,
        ConditionClass::LowBattery => LOW_BATTERY_RULE,
        ConditionClass::DataGap => DATA_GAP_RULE,
        ConditionClass::GatewayOffline => GATEWAY_OFFLINE_RULE,
        ConditionClass::Asystole => {
            "a spell of asystole (no QRS) of at least 4 s (PhysioNet/CinC 2015)"
        }
        ConditionClass::VentricularTachycardia => {
            "a spell of ventricular tachycardia of at least 5 beats over 100 /min (PhysioNet/CinC 2015)"
        }
        ConditionClass::VentricularFlutterFib => {
            "a spell of ventricular flutter or fibrillation of at least 4 s (PhysioNet/CinC 2015)"
        }
        ConditionClass::AtrialFibrillation => {
            "a new spell of atrial fibrillation of at least 30 s (ESC 2020); permanent AF is transient"
        }
        _ => tiers()
            .find(|t| t.class == class && t.severity == severity)
            .map_or("", |t| t.rule),
    }
}

/// How long a device may go without a value before it counts as lost.
pub fn monitoring_lost_after(cadence_ms: i64) -> i64 {
    2 * cadence_ms + MONITORING_LOST_GRACE_MS
}

/// A spell of a criterion, with hysteresis.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spell {
    onset: Option<SimMillis>,
    /// First step at which it stopped holding, since it last held.
    cleared_at: Option<SimMillis>,
}

impl Spell {
    /// Feeds one step; returns `(onset, end)` when the spell is over.
    #[inline]
    pub fn update(
        &mut self,
        now: SimMillis,
        holds: bool,
        clear_ms: i64,
    ) -> Option<(SimMillis, SimMillis)> {
        match (self.onset, holds) {
            (None, true) => {
                self.onset = Some(now);
                self.cleared_at = None;
                None
            }
            (None, false) => None,
            (Some(_), true) => {
                self.cleared_at = None;
                None
            }
            (Some(onset), false) => {
                let cleared = *self.cleared_at.get_or_insert(now);
                if now - cleared >= clear_ms {
                    self.onset = None;
                    self.cleared_at = None;
                    Some((onset, cleared))
                } else {
                    None
                }
            }
        }
    }

    /// At the end of the run: `(onset, end)` of a spell still open. It ended if it had stopped
    /// holding (not yet long enough to be sure); otherwise it is still going.
    pub fn flush(&self) -> Option<(SimMillis, Option<SimMillis>)> {
        self.onset.map(|o| (o, self.cleared_at))
    }
}

/// The clinical condition tracker of one patient: one [`Spell`] per [`CLINICAL_TIERS`] entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClinicalTracker {
    spells: [Spell; CLINICAL_TIERS.len()],
    /// Spells open (a fast path: most patients, most steps, have none and meet no criterion).
    open: u8,
}

/// What the clinical criteria look at, from the patient's true state.
#[derive(Debug, Clone, Copy)]
pub struct ClinicalState {
    /// `None` when not scored this step (see [`ClinicalTracker::needs_news2`]): the NEWS2
    /// tiers then do not hold.
    pub news2: Option<News2>,
    pub heart_rate: f64,
    pub spo2: f64,
    pub scale: Spo2Scale,
    /// The heart's rhythm: the rate tiers do not count a ventricular arrhythmia or arrest.
    pub rhythm: Rhythm,
}

impl ClinicalTracker {
    /// Whether each tier's criterion holds.
    fn criteria(s: &ClinicalState) -> [bool; CLINICAL_TIERS.len()] {
        let (total, single3) = s
            .news2
            .map_or((0, false), |n| (n.total, n.max_single() == 3));
        let (desat, severe) = desaturation_thresholds(s.scale);
        [
            total >= 5 || single3,
            total >= 5,
            total >= 7,
            s.spo2 < desat,
            s.spo2 < severe,
            s.heart_rate > 140.0 && !s.rhythm.lethal(),
            s.heart_rate < 40.0 && !s.rhythm.lethal(),
        ]
    }

    /// Feeds one step of `patient`; pushes the conditions that ended onto `out` and says
    /// whether it did.
    #[inline]
    pub fn update(
        &mut self,
        patient: PatientIx,
        now: SimMillis,
        state: &ClinicalState,
        out: &mut Vec<ConditionRecord>,
    ) -> bool {
        let holds = Self::criteria(state);
        if self.open == 0 && !holds.contains(&true) {
            return false;
        }
        let mut ended = false;
        for (i, tier) in CLINICAL_TIERS.iter().enumerate() {
            if let Some((onset, end)) = self.spells[i].update(now, holds[i], tier.clear_ms) {
                out.push(tier.record(Subject::Patient(patient), onset, Some(end)));
                ended = true;
            }
        }
        self.open = self.spells.iter().filter(|s| s.onset.is_some()).count() as u8;
        ended
    }

    /// Whether any spell is open (a condition is going on).
    pub fn any_open(&self) -> bool {
        self.open > 0
    }

    /// Whether NEWS2 must be scored at `now`: every step while a NEWS2 tier is open, otherwise
    /// every [`NEWS2_IDLE_EVERY_MS`] (a patient whose NEWS2 is not being watched for an episode
    /// starts a spell within that much of the true onset). Scoring every patient every step
    /// cost ~8 % of a 1,000-bed run.
    pub fn needs_news2(&self, now: SimMillis, step_ms: i64) -> bool {
        self.spells[..3].iter().any(|s| s.onset.is_some())
            || now.rem_euclid(NEWS2_IDLE_EVERY_MS) < step_ms
    }

    /// At the end of the run: the conditions still open.
    pub fn flush(&self, patient: PatientIx, out: &mut Vec<ConditionRecord>) {
        for (i, tier) in CLINICAL_TIERS.iter().enumerate() {
            if let Some((onset, end)) = self.spells[i].flush() {
                out.push(tier.record(Subject::Patient(patient), onset, end));
            }
        }
    }
}

impl Tier {
    /// The condition of one spell of this tier about `subject`.
    pub fn record(
        &self,
        subject: Subject,
        onset: SimMillis,
        end: Option<SimMillis>,
    ) -> ConditionRecord {
        ConditionRecord {
            class: self.class,
            severity: self.severity,
            subject,
            onset_ms: onset,
            end_ms: end,
            // A spell still going at the end is not transient: it lasted as long as the run let it.
            transient: end.is_some_and(|e| e - onset < self.min_ms),
        }
    }
}

/// A [`Spell`] of one [`Tier`] about one subject: feeds it and records what ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierSpell {
    pub tier: &'static Tier,
    pub subject: Subject,
    spell: Spell,
}

impl TierSpell {
    pub fn new(tier: &'static Tier, subject: Subject) -> Self {
        Self {
            tier,
            subject,
            spell: Spell::default(),
        }
    }
    /// Feeds one step; the condition when one ended.
    #[inline]
    pub fn update(&mut self, now: SimMillis, holds: bool) -> Option<ConditionRecord> {
        self.spell
            .update(now, holds, self.tier.clear_ms)
            .map(|(onset, end)| self.tier.record(self.subject, onset, Some(end)))
    }
    /// At the end of the run: the condition still open, if any.
    pub fn flush(&self) -> Option<ConditionRecord> {
        self.spell
            .flush()
            .map(|(onset, end)| self.tier.record(self.subject, onset, end))
    }
    pub fn is_open(&self) -> bool {
        self.spell.onset.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::news2::{Acvpu, News2Inputs};

    fn state(news2_rr: f64, hr: f64, spo2: f64) -> ClinicalState {
        let news2 = News2::score(&News2Inputs {
            resp_rate: news2_rr,
            spo2: 97.0,
            scale: Spo2Scale::Scale1,
            on_oxygen: false,
            systolic: 120.0,
            pulse: 70.0,
            consciousness: Acvpu::Alert,
            temp_c: 37.0,
        });
        ClinicalState {
            news2: Some(news2),
            heart_rate: hr,
            spo2,
            scale: Spo2Scale::Scale1,
            rhythm: Rhythm::Sinus,
        }
    }

    #[test]
    fn a_spell_ends_at_the_first_step_it_stopped_holding_once_clear_long_enough() {
        let mut s = Spell::default();
        assert_eq!(s.update(0, true, 3), None);
        assert_eq!(s.update(1, false, 3), None);
        assert_eq!(s.update(2, true, 3), None, "a short gap does not end it");
        assert_eq!(s.update(3, false, 3), None);
        assert_eq!(s.update(5, false, 3), None);
        assert_eq!(s.update(6, false, 3), Some((0, 3)));
        assert_eq!(s.flush(), None);
        assert_eq!(s.update(7, true, 3), None);
        assert_eq!(s.flush(), Some((7, None)));
    }

    #[test]
    fn tiers_nest_and_short_spells_are_transient() {
        let mut t = ClinicalTracker::default();
        let mut out = Vec::new();
        let p = PatientIx(3);
        // RR 25 scores 3: low-medium only, for 2 minutes, then normal for 20 minutes.
        for s in 0..120 {
            t.update(p, s * 1000, &state(25.0, 70.0, 97.0), &mut out);
        }
        for s in 120..(120 + 20 * 60) {
            t.update(p, s * 1000, &state(16.0, 70.0, 97.0), &mut out);
        }
        assert_eq!(out.len(), 1);
        let c = out[0];
        assert_eq!(
            (c.class, c.severity, c.onset_ms, c.end_ms, c.transient),
            (
                ConditionClass::Deterioration,
                Severity::Low,
                0,
                Some(120_000),
                true
            )
        );
        assert!(!t.any_open());
    }

    #[test]
    fn an_open_condition_at_the_end_has_no_end_and_is_not_transient() {
        let mut t = ClinicalTracker::default();
        let mut out = Vec::new();
        for s in 0..20 {
            t.update(PatientIx(0), s * 1000, &state(16.0, 150.0, 80.0), &mut out);
        }
        assert!(out.is_empty());
        t.flush(PatientIx(0), &mut out);
        let got: Vec<_> = out.iter().map(|c| (c.class, c.severity)).collect();
        assert_eq!(
            got,
            vec![
                (ConditionClass::Desaturation, Severity::Medium),
                (ConditionClass::Desaturation, Severity::High),
                (ConditionClass::ExtremeTachycardia, Severity::High),
            ]
        );
        assert!(out.iter().all(|c| c.end_ms.is_none() && !c.transient));
    }
}
