//! A deterioration's phenotype: how one episode shows in one patient. Drawn per episode from
//! its own stream (keyed by the patient and the episode), or pinned by the scenario: its
//! development time, severity, variant (which vitals lead, which way temperature goes), the
//! per-vital spread, the confusion thresholds, and what treatment achieves.

use rand::RngExt;
use rand_distr::StandardNormal;
use wardtwin_sim::records::{Deterioration, Recovery, Variant};
use wardtwin_sim::rng::SimRng;

use super::params::*;

/// One episode's phenotype.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phenotype {
    pub variant: Variant,
    /// Multiplier of the variant's effect.
    pub severity: f64,
    /// Change of each vital at severity 1, after this episode's own spread.
    pub delta: [f64; 6],
    /// How early each vital moves (see [`VariantEffect::lead`]).
    pub lead: [f64; 6],
    pub confused_at: f64,
    pub voice_at: f64,
    /// What treatment achieves (`None`: not treated in the run).
    pub recovery: Option<Recovery>,
    /// The share of the effect a recovery leaves (0 for a full one).
    pub residual: f64,
}

/// What the scenario pinned.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pins {
    pub develop_ms: Option<i64>,
    pub severity: Option<f64>,
    pub variant: Option<Variant>,
    pub recovery: Option<Recovery>,
}

fn log_normal(rng: &mut SimRng, sd: f64, (lo, hi): (f64, f64)) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    (sd * z).exp().clamp(lo, hi)
}

/// Draws an episode of `kind`: its development time and phenotype. Every draw is made whether
/// or not it is pinned, so pinning one part does not change the others.
pub fn draw(rng: &mut SimRng, kind: Deterioration, treated: bool, pins: Pins) -> (i64, Phenotype) {
    let (lo, hi) = develop_range_ms(kind);
    let u: f64 = rng.random();
    let develop = (lo as f64 * (hi as f64 / lo as f64).powf(u)).round() as i64;
    let severity = log_normal(rng, SEVERITY_LOG_SD, SEVERITY_RANGE);
    let u: f64 = rng.random();
    let mut acc = 0.0;
    let of_kind = VARIANTS.iter().filter(|v| v.variant.kind() == kind);
    let drawn = of_kind
        .clone()
        .find(|v| {
            acc += v.share;
            u < acc
        })
        .or_else(|| of_kind.clone().next_back())
        .expect("every kind has a variant");
    let effect = pins.variant.map_or(drawn, variant_effect);
    let mut delta = effect.delta;
    for d in &mut delta {
        *d *= log_normal(rng, DELTA_LOG_SD, DELTA_RANGE);
    }
    let zc: f64 = rng.sample(StandardNormal);
    let shift = (CONFUSION_SD * zc).clamp(-0.2, 0.2);
    let partial = rng.random::<f64>() < PARTIAL_RECOVERY;
    let residual_draw = crate::schedule::uniform(rng, RESIDUAL_RANGE);
    let recovery = treated.then(|| {
        pins.recovery.unwrap_or(if partial {
            Recovery::Partial
        } else {
            Recovery::Full
        })
    });
    let phenotype = Phenotype {
        variant: effect.variant,
        severity: pins.severity.unwrap_or(severity),
        delta,
        lead: effect.lead,
        confused_at: effect.confused_at + shift,
        voice_at: effect.voice_at + shift,
        recovery,
        residual: if recovery == Some(Recovery::Partial) {
            residual_draw
        } else {
            0.0
        },
    };
    (pins.develop_ms.unwrap_or(develop), phenotype)
}
