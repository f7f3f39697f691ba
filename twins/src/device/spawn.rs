//! Spawning a device: its phase, battery, clock offset and drift, calibration biases and the
//! first days' random artifacts, all from streams keyed by its id.

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::{Distribution, Normal, StandardNormal};
use wardtwin_scenarios::Scenario;
use wardtwin_sim::records::{ArtifactRecord, DeviceIx, DeviceKind, Origin};
use wardtwin_sim::rng::stream;

use super::infusion::Infusion;
use super::{ArtifactWindow, Battery, Device, params};
use crate::Window;
use crate::schedule;

/// What the ward decided about a device before it is spawned.
pub(crate) struct DeviceSpec<'a> {
    pub ix: DeviceIx,
    pub id: &'a str,
    pub kind: DeviceKind,
    pub interval_ms: i64,
    /// Worn by a patient (random artifacts are drawn only for those).
    pub worn: bool,
}

/// Spawns the device `d` reading `subject`, with its scheduled artifacts and (a pump) its
/// scheduled occlusions; every artifact is recorded in `records`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_device(
    world: &mut World,
    s: &Scenario,
    seed: u64,
    d: &DeviceSpec,
    subject: Entity,
    scheduled: &[ArtifactWindow],
    occlusions: Option<Vec<Window>>,
    records: &mut Vec<ArtifactRecord>,
) {
    let ix = d.ix;
    let mut rng = stream(seed, d.id, "device");
    let interval_steps = d.interval_ms / s.step_ms;
    let phase_ms = rng.random_range(0..interval_steps.max(1)) * s.step_ms;
    let spec = params::battery(d.kind);
    let pct = spec.initial_pct.0 + (spec.initial_pct.1 - spec.initial_pct.0) * rng.random::<f64>();
    let clock_offset_ms = params::CLOCK_OFFSET_SD_MS * rng.sample::<f64, _>(StandardNormal);
    let drift_ppm = params::CLOCK_DRIFT_SD_PPM * rng.sample::<f64, _>(StandardNormal);
    let mut bias = [0.0; 3];
    for (slot, m) in d.kind.metrics().iter().enumerate() {
        let sd = params::measurement(*m).bias_sd;
        bias[slot] = Normal::new(0.0, sd.max(1e-12))
            .map(|n| n.sample(&mut rng))
            .unwrap_or(0.0);
    }
    let cadence = schedule::Cadence {
        first_ms: s.epoch_ms + phase_ms,
        interval_ms: d.interval_ms,
    };
    let random: Vec<ArtifactWindow> = if d.worn {
        schedule::first_days(s)
            .flat_map(|day| schedule::artifacts(s, seed, d.id, d.kind, cadence, day))
            .collect()
    } else {
        Vec::new()
    };
    let tagged = random
        .iter()
        .map(|w| (w, Origin::Random))
        .chain(scheduled.iter().map(|w| (w, Origin::Scheduled)));
    records.extend(tagged.map(|(w, origin)| ArtifactRecord {
        device: ix,
        kind: w.kind,
        start_ms: w.start_ms,
        end_ms: w.end_ms,
        origin,
    }));
    let mut artifacts = random;
    artifacts.extend_from_slice(scheduled);
    artifacts.sort_by_key(|w| (w.start_ms, w.end_ms));
    let mut entity = world.spawn_empty();
    if let Some(mut all) = occlusions {
        all.extend(
            schedule::first_days(s).flat_map(|day| schedule::occlusions(s, seed, d.id, day)),
        );
        entity.insert(Infusion::new(ix, stream(seed, d.id, "infusion"), all));
    }
    entity.insert((
        Device {
            ix,
            kind: d.kind,
            subject,
            interval_ms: d.interval_ms,
            next_due_ms: s.epoch_ms + phase_ms,
            seq: 0,
            clock_offset_ms,
            drift_ppm,
            bias,
            noise: [0.0; 3],
            last_read_ms: None,
            rng: stream(seed, d.id, "noise"),
            artifacts,
            last_value_ms: s.epoch_ms,
            clock_steps: Vec::new(),
            clock_drifts: Vec::new(),
        },
        Battery {
            pct,
            drain_per_ms: 100.0 / (spec.capacity_h * 3_600_000.0),
            low_since_ms: None,
            depleted: false,
            flat_at_ms: None,
        },
    ));
}
