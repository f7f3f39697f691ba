//! From the raw TOML to a [`Scenario`]: resolve references, fill defaults, and reject what cannot
//! be simulated, each time with the place in the file and what was expected.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;
use toml::value::{Datetime, Offset};
use wardtwin_sim::records::{ArtifactKind, Deterioration, DeviceKind};
use wardtwin_sim::time::{self, DAY_MS, MINUTE_MS, SECOND_MS, format_duration};

use crate::error::{Located, ScenarioError};
use crate::model::*;
use crate::schema::*;

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
    })
    .collect();
    BTreeMap::from([("standard".to_string(), Kit { devices })])
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
            devices.push(DeviceSpec {
                kind,
                interval_ms,
                only,
                share,
            });
        }
        kits.insert(kname.clone(), Kit { devices });
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
        layout: Layout::default(),
        rtls: Rtls::default(),
        assets: Vec::new(),
        staff: Vec::new(),
        radio: Radio::default(),
        gateways: GatewayParams::default(),
        gates: Vec::new(),
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

/// `[[fridge]]` entries and each ward's `fridges = N`, in that order; ids are unique.
fn fridges(
    ctx: &Ctx,
    raw: &RawScenario,
    wards: &[Ward],
    step_ms: i64,
) -> Result<Vec<FridgeSpec>, ScenarioError> {
    let default = |id: String, ward: usize| FridgeSpec {
        id,
        ward,
        kind: StorageKind::Fridge,
        interval_ms: default_interval_ms(DeviceKind::FridgeLogger).max(step_ms),
        room_c: 22.0,
        door_openings_per_day: 8.0,
        defrost_every_ms: Some(8 * 3_600_000),
        ballast: 1.0,
    };
    let mut out: Vec<FridgeSpec> = Vec::new();
    let mut ids = BTreeSet::new();
    for f in &raw.fridges {
        let id = f.id.get_ref();
        if !valid_fridge_id(id) {
            return Err(ctx.err(
                f.id.span(),
                "fridge id must be 1-24 letters, digits, '-' or '_' (it names the logger device)",
            ));
        }
        if !ids.insert(id.clone()) {
            return Err(ctx.err(f.id.span(), format!("fridge `{id}` is defined twice")));
        }
        let ward = wards
            .iter()
            .position(|w| &w.id == f.ward.get_ref())
            .ok_or_else(|| {
                ctx.err(
                    f.ward.span(),
                    format!(
                        "no ward `{}`: expected one of {}",
                        f.ward.get_ref(),
                        wards
                            .iter()
                            .map(|w| w.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        let mut spec = default(id.clone(), ward);
        if let Some(k) = &f.kind {
            spec.kind = StorageKind::ALL
                .into_iter()
                .find(|x| x.name() == k.get_ref())
                .ok_or_else(|| {
                    ctx.err(
                        k.span(),
                        format!(
                            "unknown fridge kind `{}`: expected fridge or freezer",
                            k.get_ref()
                        ),
                    )
                })?;
        }
        spec.interval_ms = ctx.interval(&f.interval, DeviceKind::FridgeLogger, step_ms)?;
        if let Some(t) = &f.room_temp {
            if !(0.0..=45.0).contains(t.get_ref()) {
                return Err(ctx.err(t.span(), "room_temp must be 0 to 45 (degrees C)"));
            }
            spec.room_c = *t.get_ref();
        }
        spec.door_openings_per_day =
            ctx.rate(&f.door_openings_per_day, 8.0, "door_openings_per_day")?;
        if let Some(d) = &f.defrost_every {
            spec.defrost_every_ms = if d.get_ref() == "none" {
                None
            } else {
                Some(ctx.positive_duration(d, "defrost_every")?)
            };
        }
        if let Some(b) = &f.ballast {
            if !(0.2..=10.0).contains(b.get_ref()) {
                return Err(ctx.err(b.span(), "ballast must be 0.2 to 10 (1 = an ordinary load)"));
            }
            spec.ballast = *b.get_ref();
        }
        out.push(spec);
    }
    for (wi, w) in raw.wards.get_ref().iter().enumerate() {
        let Some(n) = &w.fridges else { continue };
        if *n.get_ref() > 100 {
            return Err(ctx.err(n.span(), "a ward has at most 100 fridges"));
        }
        for k in 1..=*n.get_ref() {
            let id = format!("{}-F{k}", wards[wi].id);
            if !ids.insert(id.clone()) {
                return Err(ctx.err(
                    n.span(),
                    format!("fridge `{id}` is also defined by a [[fridge]]"),
                ));
            }
            out.push(default(id, wi));
        }
    }
    Ok(out)
}

fn valid_fridge_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 24
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One `[[event]]`: its kind decides what it targets (a bed or a fridge) and which fields apply.
fn event(
    ctx: &Ctx,
    scenario: &Scenario,
    ev: &RawEvent,
    at_ms: i64,
) -> Result<Event, ScenarioError> {
    let kind_str = ev.kind.get_ref().as_str();
    let forbid = |field: Option<Range<usize>>, name: &str| -> Result<(), ScenarioError> {
        match field {
            Some(span) => Err(ctx.err(
                span,
                format!("`{name}` does not apply to a `{kind_str}` event"),
            )),
            None => Ok(()),
        }
    };
    let span = |f: &Option<Spanned<String>>| f.as_ref().map(|d| d.span());
    let severity = |default: f64| -> Result<f64, ScenarioError> {
        match &ev.severity {
            Some(v) if !(*v.get_ref() > 0.0 && *v.get_ref() <= 2.0) => Err(ctx.err(
                v.span(),
                "severity must be more than 0 and at most 2 (1 = textbook)",
            )),
            Some(v) => Ok(*v.get_ref()),
            None => Ok(default),
        }
    };
    let needs_duration = || -> Result<i64, ScenarioError> {
        let Some(duration) = &ev.duration else {
            return Err(ctx.err(
                ev.kind.span(),
                format!("a `{kind_str}` event needs `duration = \"...\"`, e.g. \"2m\""),
            ));
        };
        ctx.positive_duration(duration, "duration")
    };

    let other_targets = |allowed: &str| -> Result<(), ScenarioError> {
        for (name, f) in [
            ("bed", &ev.bed),
            ("fridge", &ev.fridge),
            ("ward", &ev.ward),
            ("asset", &ev.asset),
            ("staff", &ev.staff),
        ] {
            if name != allowed {
                forbid(span(f), name)?;
            }
        }
        for (name, f) in [
            ("develop", &ev.develop),
            ("resolve_after", &ev.resolve_after),
        ] {
            forbid(span(f), name)?;
        }
        forbid(ev.severity.as_ref().map(|v| v.span()), "severity")?;
        forbid(ev.device.as_ref().map(|v| v.span()), "device")
    };
    let needs =
        |f: &Option<Spanned<String>>, what: &str| -> Result<Spanned<String>, ScenarioError> {
            f.clone().ok_or_else(|| {
                ctx.err(
                    ev.kind.span(),
                    format!("a `{kind_str}` event needs `{what} = \"...\"`"),
                )
            })
        };
    match kind_str {
        "uplink_outage" => {
            other_targets("ward")?;
            forbid(span(&ev.to), "to")?;
            let w = needs(&ev.ward, "ward")?;
            let ward = scenario
                .wards
                .iter()
                .position(|x| &x.id == w.get_ref())
                .ok_or_else(|| ctx.err(w.span(), format!("no ward `{}`", w.get_ref())))?;
            return Ok(Event {
                at_ms,
                target: Target::Ward(ward),
                kind: EventKind::UplinkOutage {
                    duration_ms: needs_duration()?,
                },
            });
        }
        "asset_wander" => {
            other_targets("asset")?;
            forbid(span(&ev.duration), "duration")?;
            let a = needs(&ev.asset, "asset")?;
            let asset = scenario
                .assets
                .iter()
                .position(|x| &x.id == a.get_ref())
                .ok_or_else(|| {
                    let some: Vec<&str> = scenario
                        .assets
                        .iter()
                        .take(5)
                        .map(|x| x.id.as_str())
                        .collect();
                    ctx.err(
                        a.span(),
                        format!(
                            "no asset `{}` (assets come from [rtls] assets_per_bed; e.g. {})",
                            a.get_ref(),
                            if some.is_empty() {
                                "none in this scenario".to_string()
                            } else {
                                some.join(", ")
                            }
                        ),
                    )
                })?;
            let to = needs(&ev.to, "to")?;
            let to_ward = if to.get_ref() == "EXIT" {
                None
            } else {
                Some(
                    scenario
                        .wards
                        .iter()
                        .position(|x| &x.id == to.get_ref())
                        .ok_or_else(|| {
                            ctx.err(
                                to.span(),
                                format!("`to` is a ward id or EXIT, found `{}`", to.get_ref()),
                            )
                        })?,
                )
            };
            return Ok(Event {
                at_ms,
                target: Target::Asset(asset),
                kind: EventKind::AssetWander { to: to_ward },
            });
        }
        "duress" => {
            other_targets("staff")?;
            forbid(span(&ev.to), "to")?;
            forbid(span(&ev.duration), "duration")?;
            let st = needs(&ev.staff, "staff")?;
            let staff = scenario
                .staff
                .iter()
                .position(|x| &x.id == st.get_ref())
                .ok_or_else(|| {
                    ctx.err(
                        st.span(),
                        format!(
                            "no staff `{}` (staff come from [rtls] staff_per_bed)",
                            st.get_ref()
                        ),
                    )
                })?;
            return Ok(Event {
                at_ms,
                target: Target::Staff(staff),
                kind: EventKind::Duress,
            });
        }
        _ => {}
    }
    forbid(span(&ev.ward), "ward")?;
    forbid(span(&ev.asset), "asset")?;
    forbid(span(&ev.staff), "staff")?;
    forbid(span(&ev.to), "to")?;

    if let Some(fault) = FridgeFault::ALL.into_iter().find(|f| f.name() == kind_str) {
        forbid(span(&ev.bed), "bed")?;
        forbid(span(&ev.develop), "develop")?;
        forbid(span(&ev.resolve_after), "resolve_after")?;
        forbid(ev.severity.as_ref().map(|v| v.span()), "severity")?;
        forbid(ev.device.as_ref().map(|v| v.span()), "device")?;
        let ids = || {
            scenario
                .fridges
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(f) = &ev.fridge else {
            return Err(ctx.err(
                ev.kind.span(),
                format!(
                    "a `{kind_str}` event needs `fridge = \"...\"` (one of: {})",
                    ids()
                ),
            ));
        };
        let fridge = scenario
            .fridges
            .iter()
            .position(|x| &x.id == f.get_ref())
            .ok_or_else(|| {
                ctx.err(
                    f.span(),
                    format!("no fridge `{}`: expected one of: {}", f.get_ref(), ids()),
                )
            })?;
        let duration_ms = if fault.needs_duration() {
            Some(needs_duration()?)
        } else {
            ev.duration
                .as_ref()
                .map(|d| ctx.positive_duration(d, "duration"))
                .transpose()?
        };
        return Ok(Event {
            at_ms,
            target: Target::Fridge(fridge),
            kind: EventKind::Fridge { fault, duration_ms },
        });
    }

    forbid(span(&ev.fridge), "fridge")?;
    let Some(bed_s) = &ev.bed else {
        return Err(ctx.err(
            ev.kind.span(),
            format!("a `{kind_str}` event needs `bed = \"...\"`"),
        ));
    };
    let bed = bed_of(ctx, &scenario.beds, &scenario.wards, bed_s)?;
    let kit = scenario.kit_of_bed(bed);
    let wears = |device: &Spanned<DeviceKind>| -> Result<(), ScenarioError> {
        if kit.devices.iter().any(|d| d.kind == *device.get_ref()) {
            return Ok(());
        }
        Err(ctx.err(
            device.span(),
            format!(
                "the patient in bed `{}` wears no {}: their kit has {}",
                bed_s.get_ref(),
                device.get_ref().name(),
                kit.devices
                    .iter()
                    .map(|d| d.kind.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    };
    let kind = if let Some(condition) = Deterioration::from_name(kind_str) {
        forbid(ev.device.as_ref().map(|d| d.span()), "device")?;
        forbid(span(&ev.duration), "duration")?;
        let develop_ms = match &ev.develop {
            Some(s) => ctx.positive_duration(s, "develop")?,
            None => default_develop_ms(condition),
        };
        let resolve_after_ms = ev
            .resolve_after
            .as_ref()
            .map(|s| ctx.positive_duration(s, "resolve_after"))
            .transpose()?;
        EventKind::Deterioration {
            condition,
            develop_ms,
            resolve_after_ms,
            severity: severity(1.0)?,
        }
    } else if kind_str == "hypoglycaemia" {
        forbid(ev.device.as_ref().map(|d| d.span()), "device")?;
        forbid(span(&ev.duration), "duration")?;
        let develop_ms = match &ev.develop {
            Some(s) => ctx.positive_duration(s, "develop")?,
            None => 45 * MINUTE_MS,
        };
        let resolve_after_ms = match &ev.resolve_after {
            Some(s) => ctx.positive_duration(s, "resolve_after")?,
            None => develop_ms + 45 * MINUTE_MS,
        };
        EventKind::Hypoglycaemia {
            develop_ms,
            resolve_after_ms,
            severity: severity(1.0)?,
        }
    } else if kind_str == "pump_occlusion" || kind_str == "bed_exit" {
        forbid(span(&ev.develop), "develop")?;
        forbid(span(&ev.resolve_after), "resolve_after")?;
        forbid(ev.severity.as_ref().map(|v| v.span()), "severity")?;
        forbid(ev.device.as_ref().map(|d| d.span()), "device")?;
        let duration_ms = needs_duration()?;
        if kind_str == "pump_occlusion" {
            if !kit
                .devices
                .iter()
                .any(|d| d.kind == DeviceKind::InfusionPump)
            {
                return Err(ctx.err(
                    bed_s.span(),
                    format!(
                        "the patient in bed `{}` has no infusion_pump in their kit",
                        bed_s.get_ref()
                    ),
                ));
            }
            EventKind::PumpOcclusion { duration_ms }
        } else {
            EventKind::BedExit { duration_ms }
        }
    } else if let Some(kind) = [
        ArtifactKind::Motion,
        ArtifactKind::ProbeOff,
        ArtifactKind::CompressionLow,
    ]
    .into_iter()
    .find(|k| format!("{}_artifact", k.name()) == kind_str || k.name() == kind_str)
    {
        forbid(span(&ev.develop), "develop")?;
        forbid(span(&ev.resolve_after), "resolve_after")?;
        forbid(ev.severity.as_ref().map(|d| d.span()), "severity")?;
        let Some(device) = &ev.device else {
            return Err(ctx.err(
                ev.kind.span(),
                format!(
                    "a `{kind_str}` event needs `device = \"...\"` (one of {})",
                    DeviceKind::ALL
                        .into_iter()
                        .filter(|k| k.on_patient())
                        .map(|k| k.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if kind == ArtifactKind::CompressionLow && *device.get_ref() != DeviceKind::Cgm {
            return Err(ctx.err(device.span(), "a compression low happens to a cgm only"));
        }
        let duration_ms = needs_duration()?;
        wears(device)?;
        EventKind::Artifact {
            kind,
            device: *device.get_ref(),
            duration_ms,
        }
    } else {
        let mut expected: Vec<&str> = Deterioration::ALL.iter().map(|d| d.name()).collect();
        expected.extend([
            "hypoglycaemia",
            "pump_occlusion",
            "bed_exit",
            "motion_artifact",
            "probe_off",
            "compression_low",
        ]);
        expected.extend(FridgeFault::ALL.map(|f| f.name()));
        expected.extend(["uplink_outage", "asset_wander", "duress"]);
        return Err(ctx.err(
            ev.kind.span(),
            format!(
                "unknown event kind `{kind_str}`: expected one of {}",
                expected.join(", ")
            ),
        ));
    };
    Ok(Event {
        at_ms,
        target: Target::Bed(bed),
        kind,
    })
}

/// The site plan: explicit `[[space]]`s for the wards that give them, a generated plan for the
/// others (placed east of everything explicit), the main corridor joining them, and the way out.
fn site_layout(ctx: &Ctx, raw: &RawScenario, s: &Scenario) -> Result<Layout, ScenarioError> {
    use crate::layout::*;
    let mut layout = Layout::default();
    let ward_of = |name: &Spanned<String>| {
        s.wards
            .iter()
            .position(|w| &w.id == name.get_ref())
            .ok_or_else(|| {
                ctx.err(
                    name.span(),
                    format!(
                        "no ward `{}`: expected one of {}",
                        name.get_ref(),
                        s.wards
                            .iter()
                            .map(|w| w.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    };
    // Explicit spaces.
    for (n, span) in [
        (
            raw.spaces.len(),
            raw.spaces.get(limits::PLAN_ENTRIES).map(|x| x.id.span()),
        ),
        (
            raw.receivers.len(),
            raw.receivers
                .get(limits::PLAN_ENTRIES)
                .map(|x| x.space.span()),
        ),
    ] {
        if let (true, Some(span)) = (n > limits::PLAN_ENTRIES, span) {
            return Err(ctx.err(
                span,
                format!(
                    "a plan has at most {} spaces and {} receivers",
                    limits::PLAN_ENTRIES,
                    limits::PLAN_ENTRIES
                ),
            ));
        }
    }
    let mut explicit = vec![false; s.wards.len()];
    let mut max_x: f64 = 0.0;
    for rs in &raw.spaces {
        let ward = ward_of(&rs.ward)?;
        explicit[ward] = true;
        let id = rs.id.get_ref();
        if !valid_fridge_id(id) || id == "MAIN" || id == "EXIT" {
            return Err(ctx.err(
                rs.id.span(),
                "space id must be 1-24 letters, digits, '-' or '_', and not MAIN or EXIT",
            ));
        }
        if layout.space_index(id).is_some() {
            return Err(ctx.err(rs.id.span(), format!("space `{id}` is defined twice")));
        }
        let kind = SpaceKind::from_name(rs.kind.get_ref()).ok_or_else(|| {
            ctx.err(
                rs.kind.span(),
                format!(
                    "unknown space kind `{}`: expected one of room, corridor, station, equipment, utility",
                    rs.kind.get_ref()
                ),
            )
        })?;
        if matches!(kind, SpaceKind::Lobby | SpaceKind::Outside) {
            return Err(ctx.err(
                rs.kind.span(),
                "a ward's space is a room, corridor, station, equipment or utility space",
            ));
        }
        let r = rs.rect.get_ref();
        if r.len() != 4
            || r[2] <= 0.0
            || r[3] <= 0.0
            || !r.iter().all(|v| v.abs() <= limits::COORD_M)
        {
            return Err(ctx.err(
                rs.rect.span(),
                format!(
                    "rect is [x, y, width, height] in metres, width and height above zero, each at most {} m",
                    limits::COORD_M
                ),
            ));
        }
        max_x = max_x.max(r[0] + r[2]);
        layout.spaces.push(Space {
            id: id.clone(),
            ward: Some(ward),
            kind,
            zone: rs.zone.clone().unwrap_or_else(|| s.wards[ward].id.clone()),
            rect: Rect {
                x_m: r[0],
                y_m: r[1],
                w_m: r[2],
                h_m: r[3],
            },
            neighbours: Vec::new(),
        });
    }
    // Generated wards.
    let mut x0 = if raw.spaces.is_empty() {
        0.0
    } else {
        max_x + WARD_GAP_M
    };
    let mut gateways = vec![None; s.wards.len()];
    let mut generated_receivers = Vec::new();
    for (wi, w) in s.wards.iter().enumerate() {
        if explicit[wi] {
            continue;
        }
        let rooms: BTreeSet<&str> = w.beds.iter().map(|b| s.beds[*b].room.as_str()).collect();
        let offset = layout.spaces.len();
        let (spaces, receivers, gw, len) = generate_ward(wi, &w.id, rooms.len(), x0, offset);
        layout.spaces.extend(spaces);
        generated_receivers.extend(receivers);
        gateways[wi] = Some(gw);
        x0 += len + WARD_GAP_M;
    }
    // The main corridor along the south of every ward, and the way out west of it.
    let width = x0.max(max_x).max(WARD_GAP_M);
    let main = layout.spaces.len();
    layout.spaces.push(Space {
        id: "MAIN".into(),
        ward: None,
        kind: SpaceKind::Lobby,
        zone: "SITE".into(),
        rect: Rect {
            x_m: 0.0,
            y_m: -4.0,
            w_m: width,
            h_m: 4.0,
        },
        neighbours: Vec::new(),
    });
    let exit = layout.spaces.len();
    layout.spaces.push(Space {
        id: "EXIT".into(),
        ward: None,
        kind: SpaceKind::Outside,
        zone: "OUTSIDE".into(),
        rect: Rect {
            x_m: -70.0,
            y_m: -20.0,
            w_m: 30.0,
            h_m: 30.0,
        },
        neighbours: Vec::new(),
    });
    layout.connect(main, exit);
    for i in 0..main {
        if layout.spaces[i].kind == SpaceKind::Corridor
            && !explicit[layout.spaces[i].ward.unwrap_or(0)]
        {
            layout.connect(i, main);
        }
    }
    // Explicit connections.
    for rs in &raw.spaces {
        let a = layout.space_index(rs.id.get_ref()).expect("added above");
        for c in &rs.connects {
            let b = layout.space_index(c.get_ref()).ok_or_else(|| {
                ctx.err(
                    c.span(),
                    format!("no space `{}` to connect to", c.get_ref()),
                )
            })?;
            layout.connect(a, b);
        }
    }
    // Receivers: explicit ones, else one at the centre of each explicit space; and MAIN's.
    let mut with_explicit_receivers = BTreeSet::new();
    for rr in &raw.receivers {
        let space = layout.space_index(rr.space.get_ref()).ok_or_else(|| {
            ctx.err(
                rr.space.span(),
                format!("no space `{}`", rr.space.get_ref()),
            )
        })?;
        let rect = layout.spaces[space].rect;
        let at = match &rr.at {
            Some(a) => {
                let v = a.get_ref();
                if v.len() != 2 || !v.iter().all(|x| x.abs() <= limits::COORD_M) {
                    return Err(ctx.err(
                        a.span(),
                        format!("at is [x, y] in metres, each at most {} m", limits::COORD_M),
                    ));
                }
                Point {
                    x_m: v[0],
                    y_m: v[1],
                }
            }
            None => rect.center(),
        };
        with_explicit_receivers.insert(layout.spaces[space].ward);
        let id = rr.id.as_ref().map_or_else(
            || {
                format!(
                    "rx-{}-{}",
                    layout.spaces[space].id,
                    layout.receivers.len() + 1
                )
            },
            |i| i.get_ref().clone(),
        );
        layout.receivers.push(Receiver { id, space, at });
    }
    for (i, sp) in layout.spaces.iter().enumerate().take(main) {
        let ward = sp.ward;
        if ward.is_some_and(|w| explicit[w]) && !with_explicit_receivers.contains(&ward) {
            layout.receivers.push(Receiver {
                id: format!("rx-{}", sp.id),
                space: i,
                at: sp.rect.center(),
            });
        }
    }
    layout.receivers.extend(generated_receivers);
    let k = (width / 15.0).ceil().max(1.0) as usize;
    for j in 0..k {
        layout.receivers.push(Receiver {
            id: format!("rx-MAIN{}", j + 1),
            space: main,
            at: layout.spaces[main]
                .rect
                .at((j as f64 + 0.5) / k as f64, 0.5),
        });
    }
    let mut ids = BTreeSet::new();
    for r in &layout.receivers {
        if !ids.insert(r.id.as_str()) {
            return Err(ctx.err(
                raw.receivers.first().map_or(0..0, |r| r.space.span()),
                format!("receiver id `{}` is used twice", r.id),
            ));
        }
    }
    // Gateways of explicit wards: at their station (else corridor, else first space).
    for (wi, w) in s.wards.iter().enumerate() {
        if gateways[wi].is_some() {
            continue;
        }
        let pick = [SpaceKind::Station, SpaceKind::Corridor]
            .into_iter()
            .find_map(|k| layout.of_kind(wi, k).next())
            .or_else(|| layout.spaces.iter().position(|sp| sp.ward == Some(wi)))
            .ok_or_else(|| ctx.err(raw.wards.span(), format!("ward `{}` has no space", w.id)))?;
        gateways[wi] = Some((pick, layout.spaces[pick].rect.center()));
    }
    layout.gateways = gateways
        .into_iter()
        .map(|g| g.expect("every ward"))
        .collect();
    // Beds in their rooms.
    let mut room_beds: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (bi, b) in s.beds.iter().enumerate() {
        room_beds.entry(b.room.as_str()).or_default().push(bi);
    }
    layout.beds = vec![(0, Point { x_m: 0.0, y_m: 0.0 }); s.beds.len()];
    for (room, beds) in &room_beds {
        let Some(space) = layout.space_index(room) else {
            let w = &s.wards[s.beds[beds[0]].ward];
            let span = raw.wards.get_ref()[s.beds[beds[0]].ward].beds.span();
            return Err(ctx.err(
                span,
                format!(
                    "ward `{}` has an explicit floor plan but no room `{room}` for bed {}",
                    w.id, s.beds[beds[0]].id
                ),
            ));
        };
        for (bi, p) in beds
            .iter()
            .zip(bed_positions(&layout.spaces[space].rect, beds.len()))
        {
            layout.beds[*bi] = (space, p);
        }
    }
    // Fridges in the clean utility (else the station, else by the gateway), side by side.
    let mut per_space: BTreeMap<usize, usize> = BTreeMap::new();
    for f in &s.fridges {
        let space = [SpaceKind::Utility, SpaceKind::Station]
            .into_iter()
            .find_map(|k| layout.of_kind(f.ward, k).next())
            .unwrap_or(layout.gateways[f.ward].0);
        let n = per_space.entry(space).or_default();
        let rect = layout.spaces[space].rect;
        let at = rect.at((0.15 + 0.2 * *n as f64).min(0.95), 0.85);
        *n += 1;
        layout.fridges.push((space, at));
    }
    Ok(layout)
}

/// `[rtls]`, `[radio]`, `[gateways]`, and each ward's assets and staff.
fn rtls(ctx: &Ctx, raw: &RawScenario, s: &mut Scenario) -> Result<(), ScenarioError> {
    let r = &raw.rtls;
    let d = Rtls::default();
    let per_bed = |v: &Option<Spanned<f64>>, what: &str| -> Result<f64, ScenarioError> {
        match v {
            Some(x) if !(0.0..=10.0).contains(x.get_ref()) => {
                Err(ctx.err(x.span(), format!("{what} must be 0 to 10")))
            }
            Some(x) => Ok(*x.get_ref()),
            None => Ok(0.0),
        }
    };
    s.rtls = Rtls {
        assets_per_bed: per_bed(&r.assets_per_bed, "assets_per_bed")?,
        staff_per_bed: per_bed(&r.staff_per_bed, "staff_per_bed")?,
        mode: match &r.mode {
            None => RtlsMode::Ble,
            Some(m) => match m.get_ref().as_str() {
                "ble" => RtlsMode::Ble,
                "uwb" => RtlsMode::Uwb,
                other => {
                    return Err(ctx.err(
                        m.span(),
                        format!("unknown rtls mode `{other}`: expected ble or uwb"),
                    ));
                }
            },
        },
        report_interval_ms: ctx.interval(&r.report_interval, DeviceKind::AssetTag, s.step_ms)?,
        moves_per_asset_day: ctx.rate(
            &r.moves_per_asset_day,
            d.moves_per_asset_day,
            "moves_per_asset_day",
        )?,
        wanders_per_asset_day: ctx.rate(
            &r.wanders_per_asset_day,
            d.wanders_per_asset_day,
            "wanders_per_asset_day",
        )?,
        losses_per_asset_day: ctx.rate(
            &r.losses_per_asset_day,
            d.losses_per_asset_day,
            "losses_per_asset_day",
        )?,
        duress_per_staff_day: ctx.rate(
            &r.duress_per_staff_day,
            d.duress_per_staff_day,
            "duress_per_staff_day",
        )?,
    };
    let rd = &raw.radio;
    let dr = Radio::default();
    let num =
        |v: &Option<Spanned<f64>>, def: f64, range: std::ops::RangeInclusive<f64>, what: &str| {
            match v {
                Some(x) if !range.contains(x.get_ref()) => Err(ctx.err(
                    x.span(),
                    format!("{what} must be {} to {}", range.start(), range.end()),
                )),
                Some(x) => Ok(*x.get_ref()),
                None => Ok(def),
            }
        };
    s.radio = Radio {
        p1m_dbm: num(&rd.p1m_dbm, dr.p1m_dbm, -100.0..=0.0, "p1m_dbm")?,
        exponent: num(&rd.exponent, dr.exponent, 1.5..=6.0, "exponent")?,
        shadowing_sd_db: num(
            &rd.shadowing_sd_db,
            dr.shadowing_sd_db,
            0.0..=15.0,
            "shadowing_sd_db",
        )?,
        wall_loss_db: num(
            &rd.wall_loss_db,
            dr.wall_loss_db,
            0.0..=40.0,
            "wall_loss_db",
        )?,
        sensitivity_dbm: num(
            &rd.sensitivity_dbm,
            dr.sensitivity_dbm,
            -130.0..=-40.0,
            "sensitivity_dbm",
        )?,
        retries: match &rd.retries {
            Some(x) if *x.get_ref() > 10 => {
                return Err(ctx.err(x.span(), "retries must be 0 to 10"));
            }
            Some(x) => *x.get_ref(),
            None => dr.retries,
        },
    };
    let g = &raw.gateways;
    let dg = GatewayParams::default();
    s.gateways = GatewayParams {
        spool_limit: match &g.spool_limit {
            Some(x) if *x.get_ref() == 0 => {
                return Err(ctx.err(x.span(), "spool_limit must be at least 1 message"));
            }
            Some(x) => *x.get_ref() as usize,
            None => dg.spool_limit,
        },
        drop_policy: match &g.drop_policy {
            None => dg.drop_policy,
            Some(p) => DropPolicy::ALL
                .into_iter()
                .find(|x| x.name() == p.get_ref())
                .ok_or_else(|| {
                    ctx.err(
                        p.span(),
                        format!(
                            "unknown drop_policy `{}`: expected drop_oldest or drop_newest",
                            p.get_ref()
                        ),
                    )
                })?,
        },
        forward_rate_per_s: num(
            &g.forward_rate,
            dg.forward_rate_per_s,
            1.0..=1_000_000.0,
            "forward_rate",
        )?,
        status_interval_ms: ctx.interval(&g.status_interval, DeviceKind::EdgeGateway, s.step_ms)?,
    };
    // Each ward's assets (in the mix, largest remainders first) and staff.
    for (wi, w) in s.wards.iter().enumerate() {
        let n = (s.rtls.assets_per_bed * w.beds.len() as f64).round() as usize;
        let mut counts: Vec<(AssetKind, usize, f64)> = AssetKind::MIX
            .iter()
            .map(|(k, share)| {
                let exact = share * n as f64;
                (*k, exact.floor() as usize, exact - exact.floor())
            })
            .collect();
        let mut left = n - counts.iter().map(|c| c.1).sum::<usize>();
        let mut order: Vec<usize> = (0..counts.len()).collect();
        order.sort_by(|a, b| counts[*b].2.total_cmp(&counts[*a].2).then(a.cmp(b)));
        for i in order {
            if left == 0 {
                break;
            }
            counts[i].1 += 1;
            left -= 1;
        }
        for (kind, count, _) in counts {
            for k in 1..=count {
                s.assets.push(AssetSpec {
                    id: format!("{}-{}{k:02}", w.id, kind.prefix()),
                    kind,
                    ward: wi,
                    permitted_zones: vec![w.id.clone()],
                });
            }
        }
        let staff = (s.rtls.staff_per_bed * w.beds.len() as f64).round() as usize;
        for k in 1..=staff {
            s.staff.push(StaffSpec {
                id: format!("{}-N{k:02}", w.id),
                ward: wi,
            });
        }
    }
    Ok(())
}

/// Alerts name a patient, a bed or a device by id, so no id may name two things: an explicit
/// patient id must not be a bed id, another patient's (default `P-<bed>`) id, or a device id;
/// and a bed id must not be a device id (a ward called `fridge` next to a fridge `01`). Device
/// ids are `<kind prefix>-<bed, fridge, ward, asset or staff id>`.
fn unique_subject_ids(ctx: &Ctx, raw: &RawScenario, s: &Scenario) -> Result<(), ScenarioError> {
    let ward_span = |w: usize| raw.wards.get_ref()[w].id.span();
    // Every bed, fridge, ward, asset and staff id by what its device's id is built on, and
    // where it comes from.
    let fridge_span = |id: &str, ward: usize| {
        raw.fridges
            .iter()
            .find(|f| f.id.get_ref() == id)
            .map(|f| f.id.span())
            .or_else(|| raw.wards.get_ref()[ward].fridges.as_ref().map(|f| f.span()))
            .unwrap_or_else(|| ward_span(ward))
    };
    // Ids a device id can be built on, by kind of owner, with where each is defined.
    let bed_ix: BTreeMap<&str, usize> = s
        .beds
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.as_str(), i))
        .collect();
    let fridges: BTreeMap<&str, usize> =
        s.fridges.iter().map(|f| (f.id.as_str(), f.ward)).collect();
    let wards: BTreeMap<&str, usize> = s
        .wards
        .iter()
        .enumerate()
        .map(|(i, w)| (w.id.as_str(), i))
        .collect();
    let assets: BTreeMap<&str, usize> = s.assets.iter().map(|a| (a.id.as_str(), a.ward)).collect();
    let staff: BTreeMap<&str, usize> = s.staff.iter().map(|a| (a.id.as_str(), a.ward)).collect();
    let device_of = |id: &str| -> Option<(String, Range<usize>)> {
        let (prefix, rest) = id.split_once('-')?;
        let kind = DeviceKind::ALL
            .into_iter()
            .find(|k| k.id_prefix() == prefix)?;
        let found = match kind {
            k if k.on_patient() => bed_ix.get(rest).map(|&b| ward_span(s.beds[b].ward)),
            DeviceKind::FridgeLogger => fridges.get(rest).map(|&w| fridge_span(rest, w)),
            DeviceKind::EdgeGateway => wards.get(rest).map(|&w| ward_span(w)),
            DeviceKind::AssetTag => assets.get(rest).map(|&w| ward_span(w)),
            DeviceKind::StaffBadge => staff.get(rest).map(|&w| ward_span(w)),
            _ => None,
        }?;
        Some((format!("the {} device `{id}`", kind.name()), found))
    };
    let clash = |span: Range<usize>, what: &str, id: &str, other: String, at: Range<usize>| {
        let o = Located::at(ctx.file, ctx.text, Some(at), "");
        ctx.err(
            span,
            format!(
                "{what} `{id}` is also {other} (defined at {}:{}:{}): alerts name patients, beds and devices by id, so ids must differ",
                o.file, o.line, o.column
            ),
        )
    };
    for b in &s.beds {
        if let Some((other, at)) = device_of(&b.id) {
            return Err(clash(ward_span(b.ward), "bed", &b.id, other, at));
        }
    }
    let explicit: BTreeMap<usize, &Spanned<String>> = raw
        .patients
        .iter()
        .filter_map(|p| Some((*bed_ix.get(p.bed.get_ref().as_str())?, p.id.as_ref()?)))
        .collect();
    for (&bed, id) in &explicit {
        let name = id.get_ref().as_str();
        if let Some(&b) = bed_ix.get(name) {
            return Err(clash(
                id.span(),
                "patient id",
                name,
                format!("the bed `{name}`"),
                ward_span(s.beds[b].ward),
            ));
        }
        if let Some((other, at)) = device_of(name) {
            return Err(clash(id.span(), "patient id", name, other, at));
        }
        if let Some(b) = name
            .strip_prefix("P-")
            .and_then(|rest| bed_ix.get(rest).copied())
            .filter(|b| *b != bed && !explicit.contains_key(b))
        {
            return Err(clash(
                id.span(),
                "patient id",
                name,
                format!("the default id of the patient in bed `{}`", s.beds[b].id),
                ward_span(s.beds[b].ward),
            ));
        }
    }
    Ok(())
}
