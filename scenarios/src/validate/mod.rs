//! From the raw TOML to a [`Scenario`]: resolve references, fill defaults, and reject what cannot
//! be simulated, each time with the place in the file and what was expected.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;
use toml::value::{Datetime, Offset};
use wardtwin_sim::records::{ArtifactKind, Deterioration, DeviceKind, Recovery, Rhythm, Variant};
use wardtwin_sim::time::{self, DAY_MS, MINUTE_MS, SECOND_MS, format_duration};

use crate::error::{Located, ScenarioError};
use crate::model::*;
use crate::schema::*;

mod events;
mod fridges;
mod rtls;
mod site;

use events::event;
use fridges::fridges;
use rtls::{rtls, unique_subject_ids};
use site::site_layout;

/// Upper bounds on what a scenario may ask for: generous for any real hospital, and small enough
/// that a typo (a floor 1e308 m wide, a run of 10^11 days) is an error instead of a machine
/// brought to its knees. Documented in docs/scenarios.md#limits.
pub mod limits {
    use wardtwin_sim::time::DAY_MS;

    /// A scenario file's size.
    pub const FILE_BYTES: u64 = 16 << 20;
    /// Simulated time of one run.
    pub const DURATION_MS: i64 = 366 * DAY_MS;
    /// Beds across the whole site.
    pub const BEDS: usize = 100_000;
    /// Wards in a site.
    pub const WARDS: usize = 1_000;
    /// Timeline events.
    pub const EVENTS: usize = 100_000;
    /// A floor-plan coordinate, a space's width or height, in metres (a site fits in 10 km).
    pub const COORD_M: f64 = 10_000.0;
    /// Down phases of one `uplink_flapping` event.
    pub const FLAPS: usize = 100_000;
    /// An `uplink_degraded` event's latency and jitter, each (messages in transit are held
    /// until they arrive: an hour of a ward's traffic at most).
    pub const UPLINK_DELAY_MS: i64 = 60 * 60_000;
    /// A `clock_drift` event's drift, ppm either way (a clock a tenth too fast or slow).
    pub const DRIFT_PPM: f64 = 100_000.0;
    /// A `radio_interference` event's extra loss, dB (100 dB silences any radio).
    pub const ATTENUATION_DB: f64 = 100.0;
    /// An `uplink_degraded` event's bandwidth, messages per second.
    pub const UPLINK_RATE: f64 = 1e6;
    /// Readings a device can keep on board (`buffer`): 14 days of 1-s readings.
    pub const DEVICE_BUFFER: usize = 1_209_600;
    /// Explicit `[[space]]` and `[[receiver]]` entries, each.
    pub const PLAN_ENTRIES: usize = 100_000;
    /// The earliest and latest epoch year: every time of a run must fit `YYYY-MM-DDThh:mm:ss.sssZ`.
    pub const FIRST_YEAR: i64 = 1970;
    pub const LAST_YEAR: i64 = 9999;

    /// Whether a run of `duration_ms` from `epoch_ms` is within the limits (also for
    /// `run --duration`): at most [`DURATION_MS`], and over by the end of [`LAST_YEAR`].
    pub fn check_run(epoch_ms: i64, duration_ms: i64) -> Result<(), String> {
        use wardtwin_sim::time::{days_from_civil, format_duration, format_iso_ms};
        if duration_ms > DURATION_MS {
            return Err(format!(
                "duration {} is longer than the {} a run may last",
                format_duration(duration_ms),
                format_duration(DURATION_MS)
            ));
        }
        let last_ms = days_from_civil(LAST_YEAR + 1, 1, 1) * DAY_MS - 1;
        if epoch_ms.saturating_add(duration_ms) > last_ms {
            return Err(format!(
                "the run would end after {}: timestamps are written as YYYY-MM-DDThh:mm:ss.sssZ",
                format_iso_ms(last_ms)
            ));
        }
        Ok(())
    }
}

/// Where errors point.
pub(crate) struct Ctx<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Ctx<'_> {
    pub fn err(&self, span: Range<usize>, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid(Box::new(Located::at(self.file, self.text, Some(span), msg)))
    }

    fn duration(&self, s: &Spanned<String>, what: &str) -> Result<i64, ScenarioError> {
        time::parse_duration(s.get_ref()).map_err(|e| self.err(s.span(), format!("{what}: {e}")))
    }

    fn positive_duration(&self, s: &Spanned<String>, what: &str) -> Result<i64, ScenarioError> {
        let v = self.duration(s, what)?;
        if v <= 0 {
            return Err(self.err(s.span(), format!("{what} must be longer than zero")));
        }
        Ok(v)
    }

    /// A device's reporting interval: a whole number of steps (default: the kind's).
    fn interval(
        &self,
        s: &Option<Spanned<String>>,
        kind: DeviceKind,
        step_ms: i64,
    ) -> Result<i64, ScenarioError> {
        let Some(s) = s else {
            return Ok(default_interval_ms(kind).max(step_ms));
        };
        let v = self.positive_duration(s, "interval")?;
        if v < step_ms || v % step_ms != 0 {
            return Err(self.err(
                s.span(),
                format!(
                    "interval must be a whole number of steps of {}",
                    format_duration(step_ms)
                ),
            ));
        }
        Ok(v)
    }

    /// A rate, 0 to 1000.
    fn rate(
        &self,
        v: &Option<Spanned<f64>>,
        default: f64,
        what: &str,
    ) -> Result<f64, ScenarioError> {
        match v {
            Some(v) if !(0.0..=1000.0).contains(v.get_ref()) => {
                Err(self.err(v.span(), format!("{what} must be 0 to 1000")))
            }
            Some(v) => Ok(*v.get_ref()),
            None => Ok(default),
        }
    }

    fn fraction(&self, v: &Spanned<f64>, what: &str) -> Result<f64, ScenarioError> {
        let x = *v.get_ref();
        if !(0.0..=1.0).contains(&x) {
            return Err(self.err(
                v.span(),
                format!("{what} must be a fraction from 0 to 1, found {x}"),
            ));
        }
        Ok(x)
    }
}

/// `[chart]`: the rounds' compliance, each figure defaulting to [`ChartCompliance::default`].
fn chart(ctx: &Ctx, c: &RawChart) -> Result<ChartCompliance, ScenarioError> {
    let d = ChartCompliance::default();
    let fraction = |v: &Option<Spanned<f64>>, default: f64, what: &str| {
        v.as_ref().map_or(Ok(default), |v| ctx.fraction(v, what))
    };
    // A delay of zero is allowed (a ward that is always on time); a day at most.
    let delay = |v: &Option<Spanned<String>>, default: f64, what: &str| match v {
        None => Ok(default),
        Some(s) => {
            let ms = ctx.duration(s, what)?;
            if !(0..=DAY_MS).contains(&ms) {
                return Err(ctx.err(s.span(), format!("{what} must be from 0 to 24h")));
            }
            Ok(ms as f64)
        }
    };
    let hour = |v: &Option<Spanned<String>>, default: f64, what: &str| match v {
        None => Ok(default),
        Some(s) => {
            let t = s.get_ref();
            let parsed = t.split_once(':').and_then(|(h, m)| {
                let (h, m) = (h.parse::<u8>().ok()?, m.parse::<u8>().ok()?);
                (t.len() == 5 && h < 24 && m < 60).then_some(f64::from(h) + f64::from(m) / 60.0)
            });
            parsed.ok_or_else(|| {
                ctx.err(
                    s.span(),
                    format!(
                        "{what}: expected a local time \"HH:MM\" (00:00 to 23:59), found {t:?}"
                    ),
                )
            })
        }
    };
    Ok(ChartCompliance {
        night_from_h: hour(&c.night_from, d.night_from_h, "night_from")?,
        night_to_h: hour(&c.night_to, d.night_to_h, "night_to")?,
        missed_day: fraction(&c.missed_day, d.missed_day, "missed_day")?,
        missed_night: fraction(&c.missed_night, d.missed_night, "missed_night")?,
        delay_day_ms: delay(&c.delay_day, d.delay_day_ms, "delay_day")?,
        delay_night_ms: delay(&c.delay_night, d.delay_night_ms, "delay_night")?,
        habitual_rr: fraction(&c.habitual_rr, d.habitual_rr, "habitual_rr")?,
    })
}

/// The epoch as ms since the Unix epoch; it must carry a date, a time and a UTC offset.
fn epoch_ms(ctx: &Ctx, e: &Spanned<Datetime>) -> Result<i64, ScenarioError> {
    let dt = e.get_ref();
    let (Some(d), Some(t), Some(off)) = (dt.date, dt.time, dt.offset) else {
        return Err(ctx.err(
            e.span(),
            "epoch must be a full date-time with a UTC offset, e.g. 2026-03-02T00:00:00Z",
        ));
    };
    let offset_min = match off {
        Offset::Z => 0,
        Offset::Custom { minutes } => i64::from(minutes),
    };
    if !(limits::FIRST_YEAR..=limits::LAST_YEAR).contains(&i64::from(d.year)) {
        return Err(ctx.err(
            e.span(),
            format!(
                "epoch year {} is outside {}..={}",
                d.year,
                limits::FIRST_YEAR,
                limits::LAST_YEAR
            ),
        ));
    }
    let days = time::days_from_civil(i64::from(d.year), u32::from(d.month), u32::from(d.day));
    Ok(days * DAY_MS
        + i64::from(t.hour) * 3_600_000
        + i64::from(t.minute) * MINUTE_MS
        + i64::from(t.second.unwrap_or(0)) * SECOND_MS
        + i64::from(t.nanosecond.unwrap_or(0) / 1_000_000)
        - offset_min * MINUTE_MS)
}

fn bed_of(
    ctx: &Ctx,
    beds: &[Bed],
    wards: &[Ward],
    s: &Spanned<String>,
) -> Result<usize, ScenarioError> {
    // `W1-07`: the ward, then the bed's number in it (no scan of every bed).
    let id = s.get_ref().as_str();
    id.rsplit_once('-')
        .and_then(|(ward, n)| {
            let w = wards.iter().find(|w| w.id == ward)?;
            let n: usize = n.parse().ok()?;
            let b = *w.beds.get(n.checked_sub(1)?)?;
            (beds[b].id == id).then_some(b)
        })
        .ok_or_else(|| {
            let hint = wards
                .iter()
                .filter_map(|w| {
                    Some(format!(
                        "{}..{}",
                        beds[*w.beds.first()?].id,
                        beds[*w.beds.last()?].id
                    ))
                })
                .collect::<Vec<_>>()
                .join(", ");
            ctx.err(
                s.span(),
                format!(
                    "no bed `{}` in this scenario: expected one of {hint}",
                    s.get_ref()
                ),
            )
        })
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn default_kits() -> BTreeMap<String, Kit> {
    let devices = [
        DeviceKind::EcgPatch,
        DeviceKind::PulseOximeter,
        DeviceKind::TempPatch,
        DeviceKind::BpCuff,
    ]
    .into_iter()
    .map(|kind| DeviceSpec {
        kind,
        interval_ms: default_interval_ms(kind),
        only: None,
        share: 1.0,
        buffer: None,
    })
    .collect();
    BTreeMap::from([(
        "standard".to_string(),
        Kit {
            devices,
            waveforms: false,
        },
    )])
}

pub(crate) fn resolve(
    ctx: &Ctx,
    raw: RawScenario,
    origin: &str,
    sha256: String,
) -> Result<Scenario, ScenarioError> {
    let meta = &raw.scenario;
    let name = meta.name.get_ref().clone();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ctx.err(
            meta.name.span(),
            "scenario name must be letters, digits, '-' or '_' (it names the run folder)",
        ));
    }
    let epoch_ms = epoch_ms(ctx, &meta.epoch)?;
    let duration_ms = ctx.positive_duration(&meta.duration, "duration")?;
    if let Err(e) = limits::check_run(epoch_ms, duration_ms) {
        // Too long: the duration's fault; ending after year 9999: the epoch's.
        let span = if duration_ms > limits::DURATION_MS {
            meta.duration.span()
        } else {
            meta.epoch.span()
        };
        return Err(ctx.err(span, e));
    }
    let step_ms = match &meta.step {
        Some(s) => ctx.positive_duration(s, "step")?,
        None => SECOND_MS,
    };
    if duration_ms % step_ms != 0 {
        return Err(ctx.err(
            meta.duration.span(),
            format!(
                "duration {} is not a whole number of steps of {}",
                format_duration(duration_ms),
                format_duration(step_ms)
            ),
        ));
    }
    let truth_interval_ms = match &meta.truth_interval {
        Some(s) => {
            let v = ctx.positive_duration(s, "truth_interval")?;
            if v % step_ms != 0 {
                return Err(ctx.err(
                    s.span(),
                    format!(
                        "truth_interval must be a whole number of steps of {}",
                        format_duration(step_ms)
                    ),
                ));
            }
            v
        }
        None => MINUTE_MS.max(step_ms),
    };
    let utc_offset_hours = match &raw.site.utc_offset_hours {
        Some(v) if !(-14.0..=14.0).contains(v.get_ref()) => {
            return Err(ctx.err(v.span(), "utc_offset_hours must be between -14 and 14"));
        }
        Some(v) => *v.get_ref(),
        None => 0.0,
    };

    // Wards and beds.
    if raw.wards.get_ref().is_empty() {
        return Err(ctx.err(raw.wards.span(), "expected at least one [[ward]]"));
    }
    let mut wards = Vec::new();
    let mut beds = Vec::new();
    if raw.wards.get_ref().len() > limits::WARDS {
        return Err(ctx.err(
            raw.wards.span(),
            format!("a site has at most {} wards", limits::WARDS),
        ));
    }
    let mut seen = BTreeSet::new();
    for w in raw.wards.get_ref() {
        let id = w.id.get_ref();
        if !valid_id(id) {
            return Err(ctx.err(
                w.id.span(),
                "ward id must be 1-16 letters, digits or '_' (it is part of bed and device ids)",
            ));
        }
        if !seen.insert(id.clone()) {
            return Err(ctx.err(w.id.span(), format!("ward `{id}` is defined twice")));
        }
        let n = *w.beds.get_ref();
        if !(1..=10_000).contains(&n) {
            return Err(ctx.err(
                w.beds.span(),
                format!("a ward has 1 to 10000 beds, found {n}"),
            ));
        }
        let per_room = match &w.beds_per_room {
            Some(v) if *v.get_ref() == 0 => {
                return Err(ctx.err(v.span(), "beds_per_room must be at least 1"));
            }
            Some(v) => *v.get_ref(),
            None => 1,
        };
        if beds.len() + n as usize > limits::BEDS {
            return Err(ctx.err(
                w.beds.span(),
                format!("a site has at most {} beds", limits::BEDS),
            ));
        }
        let width = if n >= 100 { 3 } else { 2 };
        let mut ward_beds = Vec::new();
        for b in 1..=n {
            ward_beds.push(beds.len());
            beds.push(Bed {
                id: format!("{id}-{b:0width$}"),
                ward: wards.len(),
                room: format!("{id}-R{}", (b - 1) / per_room + 1),
            });
        }
        wards.push(Ward {
            id: id.clone(),
            name: w.name.clone(),
            beds: ward_beds,
        });
    }
    // Kits.
    let mut kits = default_kits();
    for (kname, k) in &raw.kits {
        if k.devices.get_ref().is_empty() {
            return Err(ctx.err(k.devices.span(), format!("kit `{kname}` has no devices")));
        }
        let mut devices = Vec::new();
        let mut kinds = BTreeSet::new();
        for d in k.devices.get_ref() {
            let kind = *d.kind.get_ref();
            if !kind.on_patient() {
                return Err(ctx.err(
                    d.kind.span(),
                    format!(
                        "{} is not worn by patients: fridges are [[fridge]], tags come from [rtls], gateways are generated",
                        kind.name()
                    ),
                ));
            }
            if !kinds.insert(kind) {
                return Err(ctx.err(
                    d.kind.span(),
                    format!("kit `{kname}` lists {} twice", kind.name()),
                ));
            }
            let interval_ms = ctx.interval(&d.interval, kind, step_ms)?;
            let only = match &d.only {
                Some(o) => Some(
                    Only::ALL
                        .into_iter()
                        .find(|x| x.name() == o.get_ref())
                        .ok_or_else(|| {
                            ctx.err(
                                o.span(),
                                format!(
                                    "unknown `only = \"{}\"`: expected one of {}",
                                    o.get_ref(),
                                    Only::ALL.map(|x| x.name()).join(", ")
                                ),
                            )
                        })?,
                ),
                None => None,
            };
            let share = match &d.share {
                Some(v) => ctx.fraction(v, "share")?,
                None => 1.0,
            };
            let buffer = match &d.buffer {
                Some(v) if (0..=limits::DEVICE_BUFFER as i64).contains(v.get_ref()) => {
                    Some(*v.get_ref() as usize)
                }
                Some(v) => {
                    return Err(ctx.err(
                        v.span(),
                        format!(
                            "`buffer` is a number of readings from 0 to {}",
                            limits::DEVICE_BUFFER
                        ),
                    ));
                }
                None => None,
            };
            devices.push(DeviceSpec {
                kind,
                interval_ms,
                only,
                share,
                buffer,
            });
        }
        let waveforms = k.waveforms.as_ref().is_some_and(|w| *w.get_ref());
        if waveforms
            && !devices
                .iter()
                .any(|d| matches!(d.kind, DeviceKind::EcgPatch | DeviceKind::PulseOximeter))
        {
            let span = k.waveforms.as_ref().map(|w| w.span()).unwrap_or_default();
            return Err(ctx.err(
                span,
                format!("kit `{kname}` streams waveforms but has no ecg_patch or pulse_oximeter"),
            ));
        }
        kits.insert(kname.clone(), Kit { devices, waveforms });
    }
    let kit_name = |s: &Spanned<String>| -> Result<String, ScenarioError> {
        if kits.contains_key(s.get_ref()) {
            Ok(s.get_ref().clone())
        } else {
            Err(ctx.err(
                s.span(),
                format!(
                    "no kit `{}`: expected one of {}",
                    s.get_ref(),
                    kits.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    };

    // Population.
    let p = &raw.population;
    let occupancy = match &p.occupancy {
        Some(v) => ctx.fraction(v, "occupancy")?,
        None => 1.0,
    };
    let oxygen = match &p.oxygen {
        Some(v) => ctx.fraction(v, "oxygen")?,
        None => 0.0,
    };
    let kit = match &p.kit {
        Some(s) => kit_name(s)?,
        None => "standard".to_string(),
    };
    let age = match &p.age {
        Some(a) => {
            let r = a.get_ref();
            if !(r.min < r.max && r.sd >= 0.0 && r.min >= 16.0 && r.max <= 120.0) {
                return Err(ctx.err(
                    a.span(),
                    "age needs 16 <= min < max <= 120 and sd >= 0 (adult wards)",
                ));
            }
            AgeDist {
                mean: r.mean,
                sd: r.sd,
                min: r.min,
                max: r.max,
            }
        }
        None => AgeDist {
            mean: 66.0,
            sd: 17.0,
            min: 18.0,
            max: 100.0,
        },
    };
    let acuity = match &p.acuity {
        Some(a) => {
            let r = a.get_ref();
            let v = [r.low, r.medium, r.high];
            if v.iter().any(|x| !(0.0..=1.0).contains(x))
                || ((v.iter().sum::<f64>()) - 1.0).abs() > 1e-6
            {
                return Err(ctx.err(
                    a.span(),
                    "acuity fractions low, medium, high must each be 0..1 and sum to 1",
                ));
            }
            v
        }
        None => [0.6, 0.3, 0.1],
    };
    let mut conditions = BTreeMap::new();
    let c = &p.conditions;
    for (cond, v) in [
        (Condition::Copd, &c.copd),
        (Condition::Diabetes, &c.diabetes),
        (Condition::HeartFailure, &c.heart_failure),
        (Condition::Hypertension, &c.hypertension),
        (Condition::AtrialFibrillation, &c.atrial_fibrillation),
        (Condition::Dementia, &c.dementia),
    ] {
        if let Some(v) = v {
            conditions.insert(cond, ctx.fraction(v, cond.name())?);
        }
    }
    let count = match (&p.count, &p.occupancy) {
        (Some(c), Some(_)) => {
            return Err(ctx.err(c.span(), "give either `count` or `occupancy`, not both"));
        }
        (Some(c), None) if *c.get_ref() as usize > beds.len() => {
            return Err(ctx.err(
                c.span(),
                format!(
                    "count {} is more than the {} beds of this scenario",
                    c.get_ref(),
                    beds.len()
                ),
            ));
        }
        (Some(c), None) => Some((*c.get_ref() as usize, c.span())),
        (None, _) => None,
    };
    let fall_risk = match &p.fall_risk {
        Some(v) => ctx.fraction(v, "fall_risk")?,
        None => 0.0,
    };
    let population = Population {
        fall_risk,
        occupancy,
        count: count.as_ref().map(|c| c.0),
        kit,
        age,
        acuity,
        oxygen,
        conditions,
    };

    // Explicit patients.
    let mut patients = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for rp in &raw.patients {
        let bed = bed_of(ctx, &beds, &wards, &rp.bed)?;
        if patients.contains_key(&bed) {
            return Err(ctx.err(
                rp.bed.span(),
                format!("bed `{}` already has a [[patient]]", rp.bed.get_ref()),
            ));
        }
        if let Some(id) = &rp.id {
            if id.get_ref().is_empty()
                || id.get_ref().len() > 32
                || !id
                    .get_ref()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ctx.err(
                    id.span(),
                    "patient id must be 1-32 letters, digits, '-' or '_'",
                ));
            }
            if !ids.insert(id.get_ref().clone()) {
                return Err(ctx.err(
                    id.span(),
                    format!("patient id `{}` is used twice", id.get_ref()),
                ));
            }
        }
        if let Some(a) = &rp.age
            && !(16.0..=120.0).contains(a.get_ref())
        {
            return Err(ctx.err(a.span(), "age must be 16 to 120"));
        }
        if let Some(s) = &rp.spo2_scale
            && !matches!(s.get_ref(), 1 | 2)
        {
            return Err(ctx.err(
                s.span(),
                format!("spo2_scale is 1 or 2 (NEWS2), found {}", s.get_ref()),
            ));
        }
        let kit = rp.kit.as_ref().map(kit_name).transpose()?;
        patients.insert(
            bed,
            PatientSpec {
                id: rp.id.as_ref().map(|s| s.get_ref().clone()),
                age: rp.age.as_ref().map(|a| *a.get_ref()),
                acuity: rp.acuity,
                conditions: rp.conditions.clone(),
                oxygen: rp.oxygen,
                spo2_scale: rp.spo2_scale.as_ref().map(|s| *s.get_ref()),
                kit,
                fall_risk: rp.fall_risk,
            },
        );
    }

    // Random artifact rates.
    let a = &raw.artifacts;
    let rate = |v: &Option<Spanned<f64>>, default: f64, what: &str| -> Result<f64, ScenarioError> {
        match v {
            Some(v) if !(0.0..=1000.0).contains(v.get_ref()) => Err(ctx.err(
                v.span(),
                format!("{what} must be 0 to 1000 per device per day"),
            )),
            Some(v) => Ok(*v.get_ref()),
            None => Ok(default),
        }
    };
    let mean =
        |v: &Option<Spanned<String>>, default: i64, what: &str| -> Result<i64, ScenarioError> {
            v.as_ref()
                .map_or(Ok(default), |s| ctx.positive_duration(s, what))
        };
    let artifacts = ArtifactRates {
        motion_per_device_day: rate(&a.motion_per_device_day, 2.0, "motion_per_device_day")?,
        probe_off_per_device_day: rate(
            &a.probe_off_per_device_day,
            0.3,
            "probe_off_per_device_day",
        )?,
        motion_mean_ms: mean(&a.motion_duration, 90 * SECOND_MS, "motion_duration")?,
        probe_off_mean_ms: mean(&a.probe_off_duration, 15 * MINUTE_MS, "probe_off_duration")?,
        devices: a
            .devices
            .clone()
            .unwrap_or_else(|| vec![DeviceKind::EcgPatch, DeviceKind::PulseOximeter]),
        device_failures: match &a.device_failures {
            Some(v) if !(0.0..=100.0).contains(v.get_ref()) => {
                return Err(ctx.err(
                    v.span(),
                    "device_failures multiplies the published failure rates: 0 to 100",
                ));
            }
            Some(v) => *v.get_ref(),
            None => 1.0,
        },
    };

    let mut scenario = Scenario {
        name,
        description: meta.description.trim().to_string(),
        origin: origin.to_string(),
        sha256,
        epoch_ms,
        duration_ms,
        step_ms,
        truth_interval_ms,
        seed: meta.seed,
        site: Site {
            name: raw.site.name.clone(),
            utc_offset_hours,
        },
        wards,
        beds,
        population,
        patients,
        kits,
        artifacts,
        events: Vec::new(),
        fridges: Vec::new(),
        incidents: Incidents::default(),
        chart: ChartCompliance::default(),
        layout: Layout::default(),
        rtls: Rtls::default(),
        assets: Vec::new(),
        staff: Vec::new(),
        radio: Radio::default(),
        gateways: GatewayParams::default(),
        gates: Vec::new(),
        chronic_dont_care: match &raw.scoring.chronic {
            None => false,
            Some(c) => match c.get_ref().as_str() {
                "score" => false,
                "dont_care" => true,
                other => {
                    return Err(ctx.err(
                        c.span(),
                        format!("chronic = {other:?}: expected \"score\" or \"dont_care\""),
                    ));
                }
            },
        },
    };

    for g in &raw.scoring.gates {
        let gate = wardtwin_scoring::gates::parse(g.get_ref()).map_err(|e| {
            // The offset is in the decoded string: map it back through quotes and escapes.
            let at = crate::text::string_offset(ctx.text, g.span(), e.offset);
            ctx.err(at..at + 1, format!("gate {:?}: {}", g.get_ref(), e.message))
        })?;
        scenario.gates.push(gate.text);
    }

    scenario.fridges = fridges(ctx, &raw, &scenario.wards, step_ms)?;
    scenario.layout = site_layout(ctx, &raw, &scenario)?;
    rtls(ctx, &raw, &mut scenario)?;
    scenario.chart = chart(ctx, &raw.chart)?;
    let i = &raw.incidents;
    let d = Incidents::default();
    scenario.incidents = Incidents {
        hypos_per_diabetic_day: ctx.rate(
            &i.hypos_per_diabetic_day,
            d.hypos_per_diabetic_day,
            "hypos_per_diabetic_day",
        )?,
        bed_exits_per_night: ctx.rate(
            &i.bed_exits_per_night,
            d.bed_exits_per_night,
            "bed_exits_per_night",
        )?,
        occlusions_per_pump_day: ctx.rate(
            &i.occlusions_per_pump_day,
            d.occlusions_per_pump_day,
            "occlusions_per_pump_day",
        )?,
        compression_lows_per_night: ctx.rate(
            &i.compression_lows_per_night,
            d.compression_lows_per_night,
            "compression_lows_per_night",
        )?,
        deteriorations_per_patient_day: match &i.deteriorations_per_patient_day {
            // Each episode is evaluated every step: a handful a day is a very sick ward.
            Some(v) if !(0.0..=5.0).contains(v.get_ref()) => {
                return Err(ctx.err(v.span(), "deteriorations_per_patient_day must be 0 to 5"));
            }
            Some(v) => *v.get_ref(),
            None => d.deteriorations_per_patient_day,
        },
        paroxysmal_af_per_patient_day: match &i.paroxysmal_af_per_patient_day {
            Some(v) if !(0.0..=5.0).contains(v.get_ref()) => {
                return Err(ctx.err(v.span(), "paroxysmal_af_per_patient_day must be 0 to 5"));
            }
            Some(v) => *v.get_ref(),
            None => d.paroxysmal_af_per_patient_day,
        },
    };

    // Timeline.
    if raw.events.len() > limits::EVENTS {
        return Err(ctx.err(
            raw.events[limits::EVENTS].at.span(),
            format!("a scenario has at most {} events", limits::EVENTS),
        ));
    }
    for ev in &raw.events {
        let at_ms = ctx.duration(&ev.at, "at")?;
        if at_ms >= duration_ms {
            return Err(ctx.err(ev.at.span(), format!(
                "event at {} is not inside the run: the run lasts {} (events are offsets from the epoch)",
                format_duration(at_ms), format_duration(duration_ms))));
        }
        let event = event(ctx, &scenario, ev, at_ms)?;
        scenario.events.push(event);
    }
    unique_subject_ids(ctx, &raw, &scenario)?;
    if let Some((n, span)) = count {
        let pinned = scenario.pinned_beds().len();
        if n < pinned {
            return Err(ctx.err(
                span,
                format!(
                    "count {n} is less than the {pinned} beds that have a [[patient]] or an event"
                ),
            ));
        }
    }
    Ok(scenario)
}
