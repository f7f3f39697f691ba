//! `[rtls]`, `[radio]`, `[gateways]`, each ward's assets and staff, and unique subject ids.

use super::*;

/// `[rtls]`, `[radio]`, `[gateways]`, and each ward's assets and staff.
pub(super) fn rtls(ctx: &Ctx, raw: &RawScenario, s: &mut Scenario) -> Result<(), ScenarioError> {
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
pub(super) fn unique_subject_ids(
    ctx: &Ctx,
    raw: &RawScenario,
    s: &Scenario,
) -> Result<(), ScenarioError> {
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
