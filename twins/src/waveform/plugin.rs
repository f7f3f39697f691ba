//! Waveforms in a run: the patients chosen with `--waveforms` get a [`WaveTap`], and every step
//! each tapped patient's ECG, pleth and respiration are synthesised from the state that drives
//! the numbers (true vitals, rhythm, premature beats, and the artifacts of their ECG patch and
//! oximeter) and leave as a [`WaveformFramed`] message. A run without taps does no waveform
//! work at all (the system's query is empty), and tapping draws nothing from the streams the
//! rest of the twin uses, so ground truth and telemetry are the same with or without it.

use bevy_app::{App, Plugin, Update};
use bevy_ecs::prelude::*;
use wardtwin_sim::records::{DeviceKind, PatientIx, Rhythm, WaveFrame};
use wardtwin_sim::rng::stream;
use wardtwin_sim::{RunSeed, SimClock, SimSet, WaveformFramed};

use super::{BeatClock, ECG_HZ, Hrv, State, synthesize};
use crate::device::Device;
use crate::patient::rhythm::HeartRhythm;
use crate::patient::{Patient, TrueVitals, params};

/// Tapped patients from which synthesis runs in parallel.
const PARALLEL_FROM: usize = 8;

/// A patient whose waveforms are recorded: their beat clock, the devices whose artifacts act
/// on the waveforms, and the rhythm label last annotated.
#[derive(Component, Debug, Clone)]
pub struct WaveTap {
    clock: BeatClock,
    ecg: Option<Entity>,
    oximeter: Option<Entity>,
    label: Option<&'static str>,
    /// This step's frame, waiting to be written in patient order.
    frame: Option<WaveFrame>,
}

/// Synthesises the tapped patients' waveforms every step.
pub struct WaveformPlugin;

impl Plugin for WaveformPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            (synthesize_waveforms, write_frames)
                .chain()
                .in_set(SimSet::Emission)
                // It reads the devices' artifact windows, which their sensing keeps.
                .after(crate::device::DeviceSystems::Sense),
        );
    }
}

/// Taps the patients `which` (all when `None`) of a spawned world; returns how many.
pub fn tap(world: &mut World, which: Option<&[PatientIx]>) -> usize {
    let seed = world.resource::<RunSeed>().0;
    let mut devices: Vec<(Entity, Entity, DeviceKind)> = world
        .query::<(Entity, &Device)>()
        .iter(world)
        .filter(|(_, d)| matches!(d.kind, DeviceKind::EcgPatch | DeviceKind::PulseOximeter))
        .map(|(e, d)| (d.subject, e, d.kind))
        .collect();
    devices.sort_by_key(|(s, e, _)| (*s, *e));
    let dir = world.resource::<wardtwin_sim::Directory>().clone();
    let patients: Vec<(Entity, PatientIx)> = world
        .query::<(Entity, &Patient)>()
        .iter(world)
        .map(|(e, p)| (e, p.ix))
        .filter(|(_, ix)| which.is_none_or(|w| w.contains(ix)))
        .collect();
    for &(e, ix) in &patients {
        let find = |k: DeviceKind| {
            devices
                .iter()
                .find(|(s, _, kind)| *s == e && *kind == k)
                .map(|d| d.1)
        };
        let id = &dir.patient(ix).id;
        let tap = WaveTap {
            clock: BeatClock::new(stream(seed, id, "waveform"), Hrv::default()),
            ecg: find(DeviceKind::EcgPatch),
            oximeter: find(DeviceKind::PulseOximeter),
            label: None,
            frame: None,
        };
        world.entity_mut(e).insert(tap);
    }
    patients.len()
}

/// Pulse amplitude from the rhythm and systolic pressure: 0 without a pulse, 1 at 120 mmHg.
fn perfusion(tv: &TrueVitals) -> f64 {
    if !tv.rhythm.perfusing() {
        return 0.0;
    }
    ((tv.v[params::SBP] - 40.0) / 80.0).clamp(0.1, 1.3)
}

/// The MIT label for a rhythm at a rate, with 4 /min of hysteresis around sinus bradycardia's
/// 60 so a rate that hovers there does not flicker.
fn label(rhythm: Rhythm, rate: f64, last: Option<&'static str>) -> &'static str {
    match (rhythm, last) {
        (Rhythm::Sinus, Some("(SBR")) if rate < 62.0 => "(SBR",
        (Rhythm::Sinus, Some("(N")) if rate >= 58.0 => "(N",
        _ => rhythm.mit_label(rate),
    }
}

type TapItem<'a> = (
    &'a Patient,
    &'a TrueVitals,
    Option<&'a HeartRhythm>,
    &'a mut WaveTap,
);

fn synthesize_waveforms(clock: Res<SimClock>, mut taps: Query<TapItem>, devices: Query<&Device>) {
    let now = clock.now_ms();
    let seconds = clock.step_ms() as f64 / 1000.0;
    let artifact = |e: Option<Entity>| {
        e.and_then(|e| devices.get(e).ok())
            .and_then(|d| d.artifact_at(now))
    };
    let one =
        |(p, tv, heart, mut tap): (&Patient, &TrueVitals, Option<&HeartRhythm>, Mut<WaveTap>)| {
            let state = State {
                heart_rate: tv.v[params::HR],
                resp_rate: tv.v[params::RR],
                rhythm: tv.rhythm,
                perfusion: perfusion(tv),
                systolic: tv.v[params::SBP],
                pvc_per_min: heart.map_or(0.0, |h| h.pvcs_at(now)),
                pac_per_min: heart.map_or(0.0, |h| h.pac_per_min),
                ecg_artifact: artifact(tap.ecg),
                pleth_artifact: artifact(tap.oximeter),
            };
            let tap = &mut *tap;
            let s = synthesize(&mut tap.clock, &state, seconds);
            let new = label(tv.rhythm, state.heart_rate, tap.label);
            let changed = (tap.label != Some(new)).then_some(new);
            tap.label = Some(new);
            let ms_per_sample = 1000.0 / ECG_HZ;
            let window_ms = (now - clock.epoch_ms()) as f64;
            tap.frame = Some(WaveFrame {
                patient: p.ix,
                sim_ms: now,
                first: s.first,
                beats: s
                    .beats
                    .iter()
                    .map(|b| {
                        let sample = ((window_ms + b.r_ms) / ms_per_sample).round() as u64;
                        (sample.max(s.first[0]), b.kind.symbol())
                    })
                    .collect(),
                rhythm: changed,
                ecg: s.ecg,
                pleth: s.pleth,
                resp: s.resp,
            });
        };
    if taps.iter().count() >= PARALLEL_FROM {
        taps.par_iter_mut()
            .for_each(|(p, tv, h, tap)| one((p, tv, h, tap)));
    } else {
        for (p, tv, h, tap) in &mut taps {
            one((p, tv, h, tap));
        }
    }
}

/// Writes this step's frames (the recorder sorts them by patient).
fn write_frames(mut taps: Query<&mut WaveTap>, mut out: MessageWriter<WaveformFramed>) {
    for mut tap in &mut taps {
        if let Some(f) = tap.frame.take() {
            out.write(WaveformFramed(f));
        }
    }
}
