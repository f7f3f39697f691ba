//! The site plan: explicit `[[space]]`s, generated wards, the corridor and the way out.

use super::fridges::valid_fridge_id;
use super::*;

/// The site plan: explicit `[[space]]`s for the wards that give them, a generated plan for the
/// others (placed east of everything explicit), the main corridor joining them, and the way out.
pub(super) fn site_layout(
    ctx: &Ctx,
    raw: &RawScenario,
    s: &Scenario,
) -> Result<Layout, ScenarioError> {
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
