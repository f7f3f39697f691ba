//! `[[fridge]]` entries and each ward's `fridges = N`.

use super::*;

/// `[[fridge]]` entries and each ward's `fridges = N`, in that order; ids are unique.
pub(super) fn fridges(
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

pub(super) fn valid_fridge_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 24
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
