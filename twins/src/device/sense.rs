//! Sensing of the devices the device twin owns: vital-signs devices (ECG patch, oximeter,
//! cuff, temperature patch), CGMs, infusion pumps and bed-exit sensors. Noise, bias and
//! resolution ([`read`]) are shared with the other kinds' sensing (fridge loggers).

use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use wardtwin_sim::records::{
    ArtifactKind, DeviceKind, MAX_OBS, Metric, NO_SOURCE, ObsStatus, Observation,
};
use wardtwin_sim::time::SimMillis;

use super::Device;
use super::infusion::{Infusion, PumpState};
use super::params;
use super::sampling::{Sampler, Sensed, ok};
use crate::patient::TrueVitals;
use crate::patient::glucose::Glycaemia;
use crate::patient::mobility::BedPresence;
use crate::patient::params as vitals;
use crate::schedule::uniform;

/// The kinds sensed here.
const KINDS: [DeviceKind; 7] = [
    DeviceKind::EcgPatch,
    DeviceKind::PulseOximeter,
    DeviceKind::BpCuff,
    DeviceKind::TempPatch,
    DeviceKind::Cgm,
    DeviceKind::InfusionPump,
    DeviceKind::BedExitSensor,
];

type PatientTruth<'a> = (
    &'a TrueVitals,
    Option<&'a Glycaemia>,
    Option<&'a BedPresence>,
);

/// Every due device on a patient reads the patient (a pump its own infusion); a bed-exit
/// sensor also reports a change the moment it happens.
pub(super) fn sense_patients(
    mut sampler: Sampler,
    patients: Query<PatientTruth<'static>>,
    pumps: Query<&Infusion>,
) {
    let now = sampler.now();
    sampler.sample(&KINDS, |entity, device, artifact, obs| {
        let subject = device.subject;
        let sensed = match device.kind {
            DeviceKind::EcgPatch
            | DeviceKind::PulseOximeter
            | DeviceKind::BpCuff
            | DeviceKind::TempPatch => patients
                .get(subject)
                .ok()
                .map(|(tv, _, _)| sense_vitals(device, tv, artifact, obs, now)),
            DeviceKind::Cgm => patients
                .get(subject)
                .ok()
                .and_then(|p| p.1)
                .map(|g| sense_cgm(device, g, artifact, obs, now)),
            DeviceKind::BedExitSensor => patients.get(subject).ok().and_then(|p| p.2).map(|b| {
                obs[0] = ok(Metric::BedOccupied, if b.in_bed { 1.0 } else { 0.0 });
            }),
            DeviceKind::InfusionPump => pumps.get(entity).ok().map(|i| sense_pump(i, obs)),
            _ => None,
        };
        sensed.map_or(Sensed::Nothing, |()| Sensed::Reading)
    });
}

fn quantise(m: &params::Measurement, v: f64) -> f64 {
    ((v / m.resolution).round() * m.resolution).clamp(m.min, m.max)
}

/// The truth a metric measures.
fn true_value(metric: Metric, tv: &TrueVitals) -> f64 {
    match metric {
        Metric::HeartRate | Metric::PulseRate => tv.v[vitals::HR],
        Metric::RespRate => tv.v[vitals::RR],
        Metric::Spo2 => tv.v[vitals::SPO2],
        Metric::BodyTemp => tv.v[vitals::TEMP],
        Metric::Systolic => tv.v[vitals::SBP],
        Metric::Diastolic => tv.v[vitals::DBP],
        Metric::MeanArterial => (tv.v[vitals::SBP] + 2.0 * tv.v[vitals::DBP]) / 3.0,
        _ => f64::NAN,
    }
}

/// What a device reads of `truth` in `slot`: plus its bias and noise, at its resolution.
pub(crate) fn read(device: &mut Device, slot: usize, metric: Metric, truth: f64) -> f64 {
    let m = params::measurement(metric);
    if m.noise_sd == 0.0 && m.bias_sd == 0.0 {
        return quantise(&m, truth);
    }
    let noise: f64 = device.rng.sample(StandardNormal);
    quantise(&m, truth + device.bias[slot] + noise * m.noise_sd)
}

/// The next value of slot `slot`'s noise, in SD units: independent per reading, or (a device
/// that averages) an Ornstein-Uhlenbeck process of time constant `tau_s`, exact for the time
/// since the device last read.
fn noise(device: &mut Device, slot: usize, tau_s: f64, now: SimMillis) -> f64 {
    let z: f64 = device.rng.sample(StandardNormal);
    if tau_s <= 0.0 {
        return z;
    }
    let phi = match device.last_read_ms {
        Some(t) => (-((now - t) as f64 / 1000.0) / tau_s).exp(),
        None => 0.0,
    };
    let e = device.noise[slot] * phi + (1.0 - phi * phi).sqrt() * z;
    device.noise[slot] = e;
    e
}

/// What a vital-signs device reports for `metric` given the truth, its bias and any artifact
/// that corrupts the value.
fn measure(
    device: &mut Device,
    slot: usize,
    metric: Metric,
    tv: &TrueVitals,
    artifact: Option<ArtifactKind>,
    now: SimMillis,
) -> f64 {
    let m = params::measurement(metric);
    let e = noise(device, slot, m.noise_tau_s, now);
    let mut v = true_value(metric, tv) + device.bias[slot] + e * m.noise_sd;
    let rng = &mut device.rng;
    match artifact {
        Some(ArtifactKind::Motion) => {
            v = match metric {
                Metric::Spo2 => v - uniform(rng, params::MOTION_SPO2_DROP),
                Metric::PulseRate => v + uniform(rng, params::MOTION_PULSE_RISE),
                Metric::HeartRate => v * uniform(rng, params::MOTION_HR_FACTOR),
                Metric::RespRate => v + uniform(rng, params::MOTION_RR_RISE),
                Metric::Systolic | Metric::Diastolic => {
                    let e = uniform(rng, params::MOTION_BP_ERROR);
                    if rng.random::<bool>() { v + e } else { v - e }
                }
                _ => v,
            };
        }
        Some(ArtifactKind::SkinContactLoss) if metric == Metric::BodyTemp => {
            v -= uniform(rng, params::SKIN_CONTACT_DROP);
        }
        _ => {}
    }
    quantise(&m, v)
}

/// A vital-signs device (ECG patch, oximeter, cuff, temperature patch).
fn sense_vitals(
    device: &mut Device,
    tv: &TrueVitals,
    artifact: Option<ArtifactKind>,
    obs: &mut [Observation; MAX_OBS],
    now: SimMillis,
) {
    let kind = device.kind;
    // Without a pulse (VF, asystole) the oximeter finds none and the cuff no pressure.
    let pulseless = match kind {
        _ if tv.rhythm.perfusing() => None,
        DeviceKind::PulseOximeter => Some(ObsStatus::LowPerfusion),
        DeviceKind::BpCuff => Some(ObsStatus::CuffError),
        _ => None,
    };
    let blank = artifact.and_then(|a| a.no_value_status(kind)).or(pulseless);
    for (slot, &metric) in kind.metrics().iter().enumerate() {
        obs[slot] = match blank {
            Some(status) => Observation {
                metric,
                value: None,
                status,
                source: NO_SOURCE,
            },
            _ if metric == Metric::MeanArterial => {
                // The cuff derives MAP from what it measured.
                let s = obs[0].value.unwrap_or(0.0) as f64;
                let d = obs[1].value.unwrap_or(0.0) as f64;
                ok(metric, ((s + 2.0 * d) / 3.0).round())
            }
            _ => ok(metric, measure(device, slot, metric, tv, artifact, now)),
        };
    }
    device.last_read_ms = Some(now);
    if kind == DeviceKind::BpCuff {
        // A cuff never reports diastolic above systolic.
        if let (Some(s), Some(d)) = (obs[0].value, obs[1].value)
            && d >= s
        {
            obs[1].value = Some(s - 10.0);
        }
    }
}

/// A CGM: interstitial glucose with the sensor's relative bias, a slowly moving relative error
/// and an absolute floor ([`params::CGM_ABS_NOISE_SD`]); a compression low pulls the reading
/// down, unflagged; warm-up and signal loss blank it.
fn sense_cgm(
    device: &mut Device,
    g: &Glycaemia,
    artifact: Option<ArtifactKind>,
    obs: &mut [Observation; MAX_OBS],
    now: SimMillis,
) {
    if let Some(status) = artifact.and_then(|a| a.no_value_status(DeviceKind::Cgm)) {
        obs[0] = Observation {
            metric: Metric::Glucose,
            value: None,
            status,
            source: NO_SOURCE,
        };
        return;
    }
    let m = params::measurement(Metric::Glucose);
    let e = noise(device, 0, m.noise_tau_s, now);
    device.last_read_ms = Some(now);
    let floor: f64 = device.rng.sample(StandardNormal);
    let mut v = g.interstitial_mmol * (1.0 + device.bias[0]) * (1.0 + e * m.noise_sd)
        + floor * params::CGM_ABS_NOISE_SD;
    if artifact == Some(ArtifactKind::CompressionLow) {
        v -= uniform(&mut device.rng, params::COMPRESSION_LOW_DROP);
    }
    obs[0] = ok(Metric::Glucose, quantise(&m, v));
}

/// An infusion pump: programmed rate (status says occluded or complete) and volume left.
fn sense_pump(inf: &Infusion, obs: &mut [Observation; MAX_OBS]) {
    let (rate, status) = match inf.state {
        PumpState::Running => (inf.rate_ml_h, ObsStatus::Ok),
        PumpState::Occluded => (inf.rate_ml_h, ObsStatus::Occlusion),
        PumpState::Complete => (0.0, ObsStatus::InfusionComplete),
    };
    let rate_m = params::measurement(Metric::InfusionRate);
    obs[0] = Observation {
        status,
        ..ok(Metric::InfusionRate, quantise(&rate_m, rate))
    };
    let vol_m = params::measurement(Metric::VolumeRemaining);
    obs[1] = ok(
        Metric::VolumeRemaining,
        quantise(&vol_m, inf.remaining_ml.ceil()),
    );
}
