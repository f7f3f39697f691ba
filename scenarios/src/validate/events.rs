//! `[[event]]`: what each event kind targets and which fields apply.

use super::*;

/// One `[[event]]`: its kind decides what it targets (a bed or a fridge) and which fields apply.
pub(super) fn event(
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
    // The fields only some faults take.
    // (field, where it is, the kinds it applies to)
    type FaultField<'a> = (&'a str, Option<Range<usize>>, &'a [&'a str]);
    const DETERIORATIONS: &[&str] = &["sepsis", "respiratory_failure", "haemorrhage"];
    const RATED: &[&str] = &["afib", "vt", "heart_block", "pvcs"];
    const ARRESTS: &[&str] = &["vt", "vf", "asystole"];
    let fault_fields: [FaultField; 17] = [
        ("rate", ev.rate.as_ref().map(|v| v.span()), RATED),
        ("then", span(&ev.then), ARRESTS),
        ("beats", ev.beats.as_ref().map(|v| v.span()), &["vt"]),
        ("variant", span(&ev.variant), DETERIORATIONS),
        ("recovery", span(&ev.recovery), DETERIORATIONS),
        ("relapse_after", span(&ev.relapse_after), DETERIORATIONS),
        (
            "drift",
            ev.drift.as_ref().map(|v| v.span()),
            &["clock_drift"],
        ),
        (
            "attenuation",
            ev.attenuation.as_ref().map(|v| v.span()),
            &["radio_interference"],
        ),
        ("period", span(&ev.period), &["uplink_flapping"]),
        ("latency", span(&ev.latency), &["uplink_degraded"]),
        ("jitter", span(&ev.jitter), &["uplink_degraded"]),
        (
            "loss",
            ev.loss.as_ref().map(|v| v.span()),
            &["uplink_degraded"],
        ),
        (
            "bandwidth",
            ev.bandwidth.as_ref().map(|v| v.span()),
            &["uplink_degraded"],
        ),
        (
            "persistence",
            ev.persistence.as_ref().map(|v| v.span()),
            &["broker_outage", "broker_restart"],
        ),
        (
            "spool",
            span(&ev.spool),
            &["gateway_crash", "gateway_power_loss"],
        ),
        (
            "share",
            ev.share.as_ref().map(|v| v.span()),
            &["battery_wave"],
        ),
        ("step", span(&ev.step), &["clock_step"]),
    ];
    for (name, field, kinds) in fault_fields {
        if !kinds.contains(&kind_str) {
            forbid(field, name)?;
        }
    }
    let ward_of = |w: &Spanned<String>| -> Result<usize, ScenarioError> {
        scenario
            .wards
            .iter()
            .position(|x| &x.id == w.get_ref())
            .ok_or_else(|| {
                ctx.err(
                    w.span(),
                    format!(
                        "no ward `{}`: expected one of: {}",
                        w.get_ref(),
                        id_list(scenario.wards.iter().map(|x| x.id.as_str()))
                    ),
                )
            })
    };
    // A device on a bed: the bed, and the device its patient wears (`needs` says what for).
    let worn = |b: &Spanned<String>, needs: &str| -> Result<(usize, DeviceKind), ScenarioError> {
        let bed = bed_of(ctx, &scenario.beds, &scenario.wards, b)?;
        let Some(device) = &ev.device else {
            return Err(ctx.err(ev.kind.span(), format!("{needs} needs `device = \"...\"`")));
        };
        let kit = scenario.kit_of_bed(bed);
        if !kit.devices.iter().any(|d| d.kind == *device.get_ref()) {
            return Err(ctx.err(
                device.span(),
                format!(
                    "the patient in bed `{}` wears no {}",
                    b.get_ref(),
                    device.get_ref().name()
                ),
            ));
        }
        Ok((bed, *device.get_ref()))
    };
    // The fields a device fault on a bed never takes.
    let device_fault_fields = || -> Result<(), ScenarioError> {
        for (name, f) in [
            ("fridge", &ev.fridge),
            ("asset", &ev.asset),
            ("staff", &ev.staff),
            ("to", &ev.to),
            ("develop", &ev.develop),
            ("resolve_after", &ev.resolve_after),
        ] {
            forbid(span(f), name)?;
        }
        forbid(ev.severity.as_ref().map(|v| v.span()), "severity")
    };
    if kind_str == "out_of_coverage" {
        device_fault_fields()?;
        forbid(span(&ev.ward), "ward")?;
        let (bed, device) = worn(
            &needs(&ev.bed, "bed")?,
            "an `out_of_coverage` event (the device carried away)",
        )?;
        return Ok(Event {
            at_ms,
            target: Target::Bed(bed),
            kind: EventKind::OutOfCoverage {
                duration_ms: needs_duration()?,
                device,
            },
        });
    }
    if matches!(kind_str, "clock_step" | "clock_drift") {
        // The clock fault, for the device kind it hits (`None`: a ward's devices).
        let clock: Box<dyn Fn(Option<DeviceKind>) -> EventKind> = if kind_str == "clock_step" {
            let Some(step) = &ev.step else {
                return Err(ctx.err(
                    ev.kind.span(),
                    "a `clock_step` event needs `step = \"...\"`, signed, e.g. \"-5m\" or \"+1h\"",
                ));
            };
            let step_ms = signed_duration(ctx, step)?;
            Box::new(move |device| EventKind::ClockStep { step_ms, device })
        } else {
            let ppm = match &ev.drift {
                Some(v) if v.get_ref().abs() <= limits::DRIFT_PPM && *v.get_ref() != 0.0 => {
                    *v.get_ref()
                }
                Some(v) => {
                    return Err(ctx.err(
                        v.span(),
                        format!(
                            "`drift` is the extra drift in ppm, signed, not zero, at most {} either way",
                            limits::DRIFT_PPM
                        ),
                    ));
                }
                None => {
                    return Err(ctx.err(
                        ev.kind.span(),
                        "a `clock_drift` event needs `drift = ...` (ppm, signed, e.g. 500.0)",
                    ));
                }
            };
            Box::new(move |device| EventKind::ClockDrift { ppm, device })
        };
        forbid(span(&ev.duration), "duration")?;
        device_fault_fields()?;
        return match (&ev.ward, &ev.bed) {
            (Some(w), None) => {
                forbid(ev.device.as_ref().map(|d| d.span()), "device")?;
                Ok(Event {
                    at_ms,
                    target: Target::Ward(ward_of(w)?),
                    kind: clock(None),
                })
            }
            (None, Some(b)) => {
                let (bed, device) = worn(
                    b,
                    &format!("a `{kind_str}` on a bed (the device whose clock it is)"),
                )?;
                Ok(Event {
                    at_ms,
                    target: Target::Bed(bed),
                    kind: clock(Some(device)),
                })
            }
            (Some(w), Some(_)) => Err(ctx.err(
                w.span(),
                format!("a `{kind_str}` targets a ward or a bed's device, not both"),
            )),
            (None, None) => Err(ctx.err(
                ev.kind.span(),
                format!(
                    "a `{kind_str}` event needs `ward = \"...\"` or `bed = \"...\"` with `device`"
                ),
            )),
        };
    }
    if matches!(kind_str, "broker_outage" | "broker_restart") {
        other_targets("")?;
        forbid(span(&ev.to), "to")?;
        let restart = kind_str == "broker_restart";
        let duration_ms = match (&ev.duration, restart) {
            // A broker's restart: mosquitto is back within seconds, a clustered broker's
            // node within about half a minute.
            (None, true) => 30_000,
            _ => needs_duration()?,
        };
        return Ok(Event {
            at_ms,
            target: Target::Site,
            kind: EventKind::BrokerDown {
                restart,
                duration_ms,
                persistence: ev.persistence.as_ref().is_some_and(|v| *v.get_ref()),
            },
        });
    }
    let ward_fault = [
        "uplink_outage",
        "uplink_degraded",
        "uplink_flapping",
        "radio_interference",
        "wifi_outage",
        "gateway_crash",
        "gateway_power_loss",
        "battery_wave",
    ];
    if ward_fault.contains(&kind_str) {
        other_targets("ward")?;
        forbid(span(&ev.to), "to")?;
        let ward = ward_of(&needs(&ev.ward, "ward")?)?;
        let kind = match kind_str {
            "uplink_outage" => EventKind::UplinkOutage {
                duration_ms: needs_duration()?,
            },
            "uplink_flapping" => {
                let Some(period) = &ev.period else {
                    return Err(ctx.err(
                        ev.kind.span(),
                        "an `uplink_flapping` event needs `period = \"...\"`: how long each down (and up) lasts, e.g. \"2m\"",
                    ));
                };
                let duration_ms = needs_duration()?;
                let period_ms = ctx.positive_duration(period, "period")?;
                if period_ms < scenario.step_ms {
                    return Err(ctx.err(
                        period.span(),
                        format!(
                            "`period` must be at least one step ({})",
                            time::format_duration(scenario.step_ms)
                        ),
                    ));
                }
                if duration_ms / period_ms.saturating_mul(2) > limits::FLAPS as i64 {
                    return Err(ctx.err(
                        period.span(),
                        format!(
                            "an `uplink_flapping` event flaps at most {} times: lengthen `period` or shorten `duration`",
                            limits::FLAPS
                        ),
                    ));
                }
                EventKind::UplinkFlapping {
                    duration_ms,
                    period_ms,
                }
            }
            "wifi_outage" => EventKind::WifiOutage {
                duration_ms: needs_duration()?,
            },
            "uplink_degraded" => degraded(ctx, ev, needs_duration()?)?,
            "radio_interference" => {
                let duration_ms = needs_duration()?;
                let attenuation_db = match &ev.attenuation {
                    Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= limits::ATTENUATION_DB => {
                        *v.get_ref()
                    }
                    Some(v) => {
                        return Err(ctx.err(
                            v.span(),
                            format!(
                                "`attenuation` is the extra loss in dB: more than 0 and at most {}",
                                limits::ATTENUATION_DB
                            ),
                        ));
                    }
                    None => {
                        return Err(ctx.err(
                            ev.kind.span(),
                            "a `radio_interference` event needs `attenuation = ...` (extra loss in dB, e.g. 15.0)",
                        ));
                    }
                };
                EventKind::RadioInterference {
                    duration_ms,
                    attenuation_db,
                }
            }
            "gateway_crash" | "gateway_power_loss" => {
                let cause = if kind_str == "gateway_crash" {
                    GatewayDownCause::Crash
                } else {
                    GatewayDownCause::PowerLoss
                };
                let duration_ms = match (&ev.duration, cause) {
                    (None, GatewayDownCause::Crash) => 2 * MINUTE_MS,
                    _ => needs_duration()?,
                };
                let persistent_spool = match &ev.spool {
                    None => false,
                    Some(v) => match v.get_ref().as_str() {
                        "persistent" => true,
                        "volatile" => false,
                        other => {
                            return Err(ctx.err(
                                v.span(),
                                format!(
                                    "`spool` is \"persistent\" or \"volatile\", found {other:?}"
                                ),
                            ));
                        }
                    },
                };
                EventKind::GatewayDown {
                    cause,
                    duration_ms,
                    persistent_spool,
                }
            }
            _ => {
                let share = match &ev.share {
                    None => 0.5,
                    Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= 1.0 => *v.get_ref(),
                    Some(v) => {
                        return Err(ctx.err(
                            v.span(),
                            "`share` is more than 0 and at most 1 (the fraction of the ward's battery devices)",
                        ));
                    }
                };
                EventKind::BatteryWave {
                    duration_ms: needs_duration()?,
                    share,
                }
            }
        };
        return Ok(Event {
            at_ms,
            target: Target::Ward(ward),
            kind,
        });
    }
    match kind_str {
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
        let ids = || id_list(scenario.fridges.iter().map(|f| f.id.as_str()));
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
    let kind = if let Some(rhythm) = Rhythm::from_event_name(kind_str) {
        forbid(ev.device.as_ref().map(|d| d.span()), "device")?;
        forbid(span(&ev.develop), "develop")?;
        forbid(span(&ev.resolve_after), "resolve_after")?;
        forbid(ev.severity.as_ref().map(|v| v.span()), "severity")?;
        // Plausible ventricular rates: AF's response, VT's (CinC: over 100), a 2:1 block's.
        let (lo, hi) = match rhythm {
            Rhythm::AtrialFibrillation => (50.0, 220.0),
            Rhythm::VentricularTachycardia => (101.0, 300.0),
            _ => (15.0, 60.0),
        };
        let rate = match &ev.rate {
            Some(r) if !(lo..=hi).contains(r.get_ref()) => {
                return Err(ctx.err(
                    r.span(),
                    format!("a `{kind_str}` rate is {lo} to {hi} /min"),
                ));
            }
            r => r.as_ref().map(|r| *r.get_ref()),
        };
        let arrest = match &ev.then {
            None => false,
            Some(t) => match t.get_ref().as_str() {
                "sinus" => false,
                "arrest" => true,
                other => {
                    return Err(ctx.err(
                        t.span(),
                        format!("`then` is `sinus` or `arrest`, found `{other}`"),
                    ));
                }
            },
        };
        let duration_ms = match (&ev.beats, &ev.duration) {
            (Some(b), Some(_)) => {
                return Err(ctx.err(b.span(), "give `beats` or `duration`, not both"));
            }
            (Some(b), None) => {
                if !(1..=10_000).contains(b.get_ref()) {
                    return Err(ctx.err(b.span(), "`beats` is 1 to 10000"));
                }
                // At the rate given, or the middle of VT's drawn range.
                let rate = rate.unwrap_or(180.0);
                Some((*b.get_ref() as f64 * 60_000.0 / rate).round() as i64)
            }
            (None, Some(d)) => Some(ctx.positive_duration(d, "duration")?),
            (None, None) => None,
        };
        if duration_ms.is_none() && arrest {
            return Err(ctx.err(
                ev.kind.span(),
                format!("`then = \"arrest\"` follows the `{kind_str}`: give its `duration`"),
            ));
        }
        EventKind::Rhythm {
            rhythm,
            duration_ms,
            rate,
            arrest,
        }
    } else if kind_str == "pvcs" {
        forbid(ev.device.as_ref().map(|d| d.span()), "device")?;
        forbid(span(&ev.develop), "develop")?;
        forbid(span(&ev.resolve_after), "resolve_after")?;
        forbid(ev.severity.as_ref().map(|v| v.span()), "severity")?;
        let per_min = match &ev.rate {
            None => {
                return Err(ctx.err(
                    ev.kind.span(),
                    "a `pvcs` event needs `rate = ...` (premature beats per minute)",
                ));
            }
            Some(r) if !(*r.get_ref() > 0.0 && *r.get_ref() <= 30.0) => {
                return Err(ctx.err(r.span(), "`pvcs` rate is more than 0 and at most 30 /min"));
            }
            Some(r) => *r.get_ref(),
        };
        EventKind::Ectopy {
            per_min,
            duration_ms: needs_duration()?,
        }
    } else if let Some(condition) = Deterioration::from_name(kind_str) {
        forbid(ev.device.as_ref().map(|d| d.span()), "device")?;
        forbid(span(&ev.duration), "duration")?;
        let develop_ms = ev
            .develop
            .as_ref()
            .map(|s| ctx.positive_duration(s, "develop"))
            .transpose()?;
        let resolve_after_ms = ev
            .resolve_after
            .as_ref()
            .map(|s| ctx.positive_duration(s, "resolve_after"))
            .transpose()?;
        let variant = match &ev.variant {
            None => None,
            Some(v) => {
                let of_kind: Vec<&str> = Variant::ALL
                    .iter()
                    .filter(|x| x.kind() == condition)
                    .map(|x| x.name())
                    .collect();
                match Variant::from_name(v.get_ref()) {
                    Some(x) if x.kind() == condition => Some(x),
                    _ => {
                        return Err(ctx.err(
                            v.span(),
                            format!(
                                "no {} variant `{}`: expected one of: {}",
                                condition.name(),
                                v.get_ref(),
                                of_kind.join(", ")
                            ),
                        ));
                    }
                }
            }
        };
        let treated_only = |f: &Option<Spanned<String>>, name: &str| match (f, resolve_after_ms) {
            (Some(f), None) => Err(ctx.err(
                f.span(),
                format!("`{name}` needs `resolve_after`: it says what treatment achieves"),
            )),
            _ => Ok(()),
        };
        treated_only(&ev.recovery, "recovery")?;
        treated_only(&ev.relapse_after, "relapse_after")?;
        let recovery = match &ev.recovery {
            None => None,
            Some(r) => Some(Recovery::from_name(r.get_ref()).ok_or_else(|| {
                ctx.err(
                    r.span(),
                    format!(
                        "no recovery `{}`: expected `full` or `partial`",
                        r.get_ref()
                    ),
                )
            })?),
        };
        let relapse_after_ms = ev
            .relapse_after
            .as_ref()
            .map(|s| ctx.positive_duration(s, "relapse_after"))
            .transpose()?;
        EventKind::Deterioration {
            condition,
            develop_ms,
            resolve_after_ms,
            severity: ev.severity.as_ref().map(|_| severity(1.0)).transpose()?,
            variant,
            recovery,
            relapse_after_ms,
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
        expected.extend(
            Rhythm::ALL
                .iter()
                .filter(|r| **r != Rhythm::Sinus)
                .map(|r| r.event_name()),
        );
        expected.extend([
            "pvcs",
            "hypoglycaemia",
            "pump_occlusion",
            "bed_exit",
            "motion_artifact",
            "probe_off",
            "compression_low",
        ]);
        expected.extend(FridgeFault::ALL.map(|f| f.name()));
        expected.extend([
            "uplink_outage",
            "uplink_flapping",
            "uplink_degraded",
            "radio_interference",
            "out_of_coverage",
            "wifi_outage",
            "gateway_crash",
            "gateway_power_loss",
            "battery_wave",
            "clock_step",
            "clock_drift",
            "broker_outage",
            "broker_restart",
            "asset_wander",
            "duress",
        ]);
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

/// A signed duration (`"-5m"`, `"+1h"`, `"90s"`), not zero.
fn signed_duration(ctx: &Ctx, s: &Spanned<String>) -> Result<i64, ScenarioError> {
    let text = s.get_ref().trim();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let v = time::parse_duration(rest).map_err(|e| ctx.err(s.span(), format!("step: {e}")))?;
    if v == 0 {
        return Err(ctx.err(s.span(), "step must not be zero"));
    }
    if v > limits::DURATION_MS {
        return Err(ctx.err(
            s.span(),
            format!(
                "step: at most {} either way",
                time::format_duration(limits::DURATION_MS)
            ),
        ));
    }
    Ok(sign * v)
}

/// Ids for an error message: `W1, W2, W3`.
fn id_list<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    ids.collect::<Vec<_>>().join(", ")
}

/// An `uplink_degraded` event's shape: at least one of latency, jitter, loss and bandwidth.
fn degraded(ctx: &Ctx, ev: &RawEvent, duration_ms: i64) -> Result<EventKind, ScenarioError> {
    let delay = |f: &Option<Spanned<String>>, name: &str| -> Result<i64, ScenarioError> {
        let Some(v) = f else { return Ok(0) };
        let ms = ctx.duration(v, name)?;
        if !(0..=limits::UPLINK_DELAY_MS).contains(&ms) {
            return Err(ctx.err(
                v.span(),
                format!(
                    "`{name}` is from 0 to {}",
                    time::format_duration(limits::UPLINK_DELAY_MS)
                ),
            ));
        }
        Ok(ms)
    };
    let latency_ms = delay(&ev.latency, "latency")?;
    let jitter_ms = delay(&ev.jitter, "jitter")?;
    let loss = match &ev.loss {
        None => 0.0,
        Some(v) if (0.0..=1.0).contains(v.get_ref()) => *v.get_ref(),
        Some(v) => {
            return Err(ctx.err(
                v.span(),
                "`loss` is from 0 to 1 (the share of messages the uplink loses)",
            ));
        }
    };
    let bandwidth = match &ev.bandwidth {
        None => None,
        Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= limits::UPLINK_RATE => Some(*v.get_ref()),
        Some(v) => {
            return Err(ctx.err(
                v.span(),
                format!(
                    "`bandwidth` is the messages per second the uplink carries: more than 0 \
                     and at most {}",
                    limits::UPLINK_RATE
                ),
            ));
        }
    };
    if latency_ms == 0 && jitter_ms == 0 && loss == 0.0 && bandwidth.is_none() {
        return Err(ctx.err(
            ev.kind.span(),
            "an `uplink_degraded` event needs at least one of `latency`, `jitter`, `loss`, `bandwidth`",
        ));
    }
    Ok(EventKind::UplinkDegraded {
        duration_ms,
        how: wardtwin_sim::records::Degradation {
            latency_ms,
            jitter_ms,
            loss,
            bandwidth,
        },
    })
}
