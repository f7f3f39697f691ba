//! The floor plan in Bevy 2D: spaces, beds coloured by their alarm, each bed's devices, RTLS
//! tags and staff with short trails, fridges, receivers and gateways. World units are metres
//! (plan y grows downwards on screen); the camera is placed so the plan fills the area the
//! egui panels leave free, and pans and zooms with the mouse.

use bevy::prelude::*;
use bevy_egui::egui;
use wardtwin_scenarios::{Scenario, SpaceKind};
use wardtwin_sim::records::DeviceKind;

use crate::model::{Priority, WardModel, is_room};
use crate::{Frame, UiState};

/// Where the plan is and how big: the world point at the free area's centre, and pixels per
/// metre.
#[derive(Resource, Debug, Clone, Copy)]
pub struct ViewXf {
    pub centre: Vec2,
    pub px_per_m: f32,
    /// The free area (logical pixels, egui's coordinates) the plan is drawn in.
    pub free: egui::Rect,
    /// Fit the plan again at the next frame.
    pub fit: bool,
}

impl Default for ViewXf {
    fn default() -> Self {
        Self {
            centre: Vec2::ZERO,
            px_per_m: 8.0,
            free: egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(640.0, 480.0)),
            fit: true,
        }
    }
}

impl ViewXf {
    /// Screen position (logical pixels) of a plan point (metres).
    pub fn to_screen(&self, x: f32, y: f32) -> egui::Pos2 {
        let c = self.free.center();
        egui::pos2(
            c.x + (x - self.centre.x) * self.px_per_m,
            c.y + (y - self.centre.y) * self.px_per_m,
        )
    }
    /// Plan point of a screen position.
    pub fn to_plan(&self, p: egui::Pos2) -> Vec2 {
        let c = self.free.center();
        Vec2::new(
            self.centre.x + (p.x - c.x) / self.px_per_m,
            self.centre.y + (p.y - c.y) / self.px_per_m,
        )
    }
}

fn rect(r: &wardtwin_scenarios::Rect) -> egui::Rect {
    egui::Rect::from_min_size(
        egui::pos2(r.x_m as f32, r.y_m as f32),
        egui::vec2(r.w_m as f32, r.h_m as f32),
    )
}

/// The plan's geometry, from the scenario's layout.
#[derive(Resource, Debug, Clone)]
pub struct Plan {
    pub spaces: Vec<(String, SpaceKind, egui::Rect)>,
    pub beds: Vec<Vec2>,
    pub fridges: Vec<Vec2>,
    pub gateways: Vec<Vec2>,
    pub receivers: Vec<Vec2>,
    pub bounds: egui::Rect,
    /// Each ward's name and the rectangle around its spaces.
    pub wards: Vec<(String, egui::Rect)>,
}

impl Plan {
    pub fn of(s: &Scenario) -> Self {
        let l = &s.layout;
        let p = |pt: &wardtwin_scenarios::Point| Vec2::new(pt.x_m as f32, pt.y_m as f32);
        let spaces: Vec<(String, SpaceKind, egui::Rect)> = l
            .spaces
            .iter()
            .map(|sp| (sp.id.clone(), sp.kind, rect(&sp.rect)))
            .collect();
        let mut bounds = egui::Rect::NOTHING;
        for (_, k, r) in &spaces {
            if *k != SpaceKind::Outside {
                bounds = bounds.union(*r);
            }
        }
        if !bounds.is_positive() {
            bounds = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(10.0, 10.0));
        }
        let wards = s
            .wards
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let mut r = egui::Rect::NOTHING;
                for sp in l.spaces.iter().filter(|sp| sp.ward == Some(i)) {
                    r = r.union(rect(&sp.rect));
                }
                (
                    if w.name.is_empty() {
                        w.id.clone()
                    } else {
                        format!("{} {}", w.id, w.name)
                    },
                    r,
                )
            })
            .collect();
        Self {
            spaces,
            beds: l.beds.iter().map(|(_, pt)| p(pt)).collect(),
            fridges: l.fridges.iter().map(|(_, pt)| p(pt)).collect(),
            gateways: l.gateways.iter().map(|(_, pt)| p(pt)).collect(),
            receivers: l.receivers.iter().map(|r| p(&r.at)).collect(),
            bounds,
            wards,
        }
    }
}

#[derive(Component)]
pub struct BedMark(pub usize);
#[derive(Component)]
pub struct DeviceMark(pub usize, pub usize);
#[derive(Component)]
pub struct FridgeMark(pub usize);
#[derive(Component)]
pub struct GatewayMark(pub usize);
#[derive(Component)]
pub struct MoverMark(pub usize);
#[derive(Component)]
pub struct TrailMark(pub usize, pub usize);
#[derive(Component)]
pub struct SelectMark;
/// The camera that draws the plan (egui has its own).
#[derive(Component)]
pub struct PlanCamera;

/// Plan y grows downwards on screen: world y is its negative.
fn world(p: Vec2, z: f32) -> Vec3 {
    Vec3::new(p.x, -p.y, z)
}

fn space_colour(k: SpaceKind) -> Color {
    match k {
        SpaceKind::Room => Color::srgb(0.16, 0.19, 0.24),
        SpaceKind::Corridor => Color::srgb(0.11, 0.12, 0.14),
        SpaceKind::Station => Color::srgb(0.13, 0.22, 0.34),
        SpaceKind::Equipment => Color::srgb(0.27, 0.21, 0.14),
        SpaceKind::Utility => Color::srgb(0.12, 0.26, 0.26),
        SpaceKind::Lobby => Color::srgb(0.14, 0.14, 0.15),
        _ => Color::srgb(0.08, 0.13, 0.08),
    }
}

/// The IEC 60601-1-8 colours: red high, yellow medium, cyan low and technical.
pub fn priority_colour(p: Priority) -> Color {
    match p {
        Priority::High => Color::srgb(0.93, 0.11, 0.14),
        Priority::Medium => Color::srgb(0.98, 0.80, 0.08),
        Priority::Low => Color::srgb(0.98, 0.80, 0.08),
        Priority::Inop => Color::srgb(0.10, 0.80, 0.90),
        Priority::None => Color::srgb(0.20, 0.62, 0.32),
    }
}

/// Spawns the plan's sprites.
pub fn spawn_plan(mut commands: Commands, plan: Res<Plan>, frame: Res<Frame>) {
    for (_, kind, r) in &plan.spaces {
        let c = Vec2::new(r.center().x, r.center().y);
        let size = Vec2::new(r.width(), r.height());
        // A darker rim, then the floor.
        commands.spawn((
            Sprite::from_color(Color::srgb(0.04, 0.05, 0.06), size),
            Transform::from_translation(world(c, 0.0)),
        ));
        let inset = if is_room(*kind) { 0.25 } else { 0.0 };
        commands.spawn((
            Sprite::from_color(
                space_colour(*kind),
                (size - Vec2::splat(2.0 * inset)).max(Vec2::splat(0.1)),
            ),
            Transform::from_translation(world(c, 0.1)),
        ));
    }
    for p in &plan.receivers {
        commands.spawn((
            Sprite::from_color(Color::srgb(0.45, 0.45, 0.5), Vec2::splat(0.35)),
            Transform::from_translation(world(*p, 0.5)),
        ));
    }
    let m = &frame.0;
    for (b, p) in plan.beds.iter().enumerate() {
        commands.spawn((
            Sprite::from_color(Color::srgb(0.3, 0.3, 0.3), Vec2::new(0.9, 1.9)),
            Transform::from_translation(world(*p, 1.0)),
            BedMark(b),
        ));
        if let Some(bed) = m.beds.get(b) {
            for (k, _) in bed.devices.iter().enumerate() {
                let off = Vec2::new(0.62, -0.8 + k as f32 * 0.4);
                commands.spawn((
                    Sprite::from_color(Color::srgb(0.3, 0.3, 0.3), Vec2::splat(0.28)),
                    Transform::from_translation(world(*p + off, 1.1)),
                    DeviceMark(b, k),
                ));
            }
        }
    }
    for (f, p) in plan.fridges.iter().enumerate() {
        commands.spawn((
            Sprite::from_color(Color::srgb(0.6, 0.8, 1.0), Vec2::new(1.0, 1.0)),
            Transform::from_translation(world(*p, 1.0)),
            FridgeMark(f),
        ));
    }
    for (g, p) in plan.gateways.iter().enumerate() {
        commands.spawn((
            Sprite::from_color(Color::srgb(0.3, 0.9, 0.4), Vec2::new(0.9, 0.9)),
            Transform::from_translation(world(*p, 1.2)),
            GatewayMark(g),
        ));
    }
    for i in 0..m.movers.len() {
        for k in 0..WardModel::TRAIL {
            commands.spawn((
                Sprite::from_color(Color::NONE, Vec2::splat(0.3)),
                Transform::from_translation(Vec3::new(0.0, 0.0, 2.0)),
                Visibility::Hidden,
                TrailMark(i, k),
            ));
        }
        commands.spawn((
            Sprite::from_color(Color::WHITE, Vec2::splat(0.6)),
            Transform::from_translation(Vec3::new(0.0, 0.0, 2.5)),
            Visibility::Hidden,
            MoverMark(i),
        ));
    }
    commands.spawn((
        Sprite::from_color(Color::srgba(1.0, 1.0, 1.0, 0.9), Vec2::new(1.3, 2.3)),
        Transform::from_translation(Vec3::new(0.0, 0.0, 0.9)),
        Visibility::Hidden,
        SelectMark,
    ));
}

/// Whether a high-priority alarm shows now (IEC 60601-1-8: a flashing visual signal, ~2 Hz;
/// steady in a screenshot).
fn blink_on(time: &Time, ui: &UiState) -> bool {
    (time.elapsed_secs() * 2.0).fract() < 0.5 || ui.screenshot
}

/// Beds coloured by their alarm, their devices by state, and the selection.
#[allow(clippy::type_complexity)]
pub fn update_beds(
    frame: Res<Frame>,
    ui: Res<UiState>,
    plan: Res<Plan>,
    time: Res<Time>,
    mut beds: Query<(&BedMark, &mut Sprite), Without<DeviceMark>>,
    mut devs: Query<(&DeviceMark, &mut Sprite), Without<BedMark>>,
    mut select: Query<(&mut Transform, &mut Visibility), With<SelectMark>>,
) {
    let blink = blink_on(&time, &ui);
    let m = &frame.0;
    for (b, mut s) in &mut beds {
        let (p, _) = m.bed_alarm(b.0, ui.truth);
        let occupied = m.beds.get(b.0).is_some_and(|x| x.patient.is_some());
        let mut c = if occupied {
            priority_colour(p)
        } else {
            Color::srgb(0.3, 0.3, 0.32)
        };
        // An acknowledged alarm stops flashing.
        if p == Priority::High && !blink && ui.acked.get(&b.0) != Some(&p) {
            c = c.darker(0.25);
        }
        s.color = c;
    }
    for (d, mut s) in &mut devs {
        let Some(&dev) = m.beds.get(d.0).and_then(|b| b.devices.get(d.1)) else {
            continue;
        };
        let dv = &m.devices[dev];
        s.color = if dv.battery_flat {
            Color::srgb(0.05, 0.05, 0.05)
        } else if dv.inop.is_some() || dv.out_of_coverage {
            priority_colour(Priority::Inop)
        } else if dv.kind != DeviceKind::BpCuff && dv.silent(m.now_ms, m.epoch_ms) {
            Color::srgb(0.45, 0.45, 0.45)
        } else if dv.battery_pct.is_some_and(|p| p < 20.0) {
            Color::srgb(1.0, 0.55, 0.1)
        } else {
            Color::srgb(0.75, 0.85, 0.8)
        };
    }
    if let Ok((mut t, mut v)) = select.single_mut() {
        match ui.selected.and_then(|b| plan.beds.get(b)) {
            Some(p) => {
                *v = Visibility::Visible;
                t.translation = world(*p, 0.9);
            }
            None => *v = Visibility::Hidden,
        }
    }
}

/// Fridges and gateways by state.
pub fn update_fixtures(
    frame: Res<Frame>,
    mut fridges: Query<(&FridgeMark, &mut Sprite), Without<GatewayMark>>,
    mut gws: Query<(&GatewayMark, &mut Sprite), Without<FridgeMark>>,
) {
    let m = &frame.0;
    for (f, mut s) in &mut fridges {
        if let Some(fr) = m.fridges.get(f.0) {
            s.color = if fr.excursion {
                priority_colour(Priority::High)
            } else if fr.door_open || fr.compressor_failed || fr.power_lost {
                priority_colour(Priority::Medium)
            } else {
                Color::srgb(0.6, 0.8, 1.0)
            };
        }
    }
    for (g, mut s) in &mut gws {
        if let Some(gw) = m.gateways.get(g.0) {
            s.color = if !gw.uplink_up {
                priority_colour(Priority::High)
            } else if gw.spool_depth.is_some_and(|d| d > 0.0) {
                priority_colour(Priority::Medium)
            } else {
                Color::srgb(0.3, 0.9, 0.4)
            };
        }
    }
}

/// Tags and staff where RTLS (or, for the instructor, the truth) puts them, with trails.
#[allow(clippy::type_complexity)]
pub fn update_movers(
    frame: Res<Frame>,
    ui: Res<UiState>,
    plan: Res<Plan>,
    time: Res<Time>,
    mut movers: Query<
        (&MoverMark, &mut Sprite, &mut Transform, &mut Visibility),
        Without<TrailMark>,
    >,
    mut trails: Query<
        (&TrailMark, &mut Sprite, &mut Transform, &mut Visibility),
        Without<MoverMark>,
    >,
) {
    let m = &frame.0;
    let blink = blink_on(&time, &ui);
    for (mk, mut s, mut t, mut v) in &mut movers {
        let Some(mv) = m.movers.get(mk.0) else {
            continue;
        };
        let at = mover_position(m, &plan, mk.0, ui.truth);
        match at {
            Some(p) => {
                *v = Visibility::Visible;
                t.translation = world(p, 2.5);
                s.color = if mv.duress && blink {
                    priority_colour(Priority::High)
                } else if mv.staff {
                    Color::srgb(0.85, 0.85, 1.0)
                } else {
                    Color::srgb(1.0, 0.6, 0.2)
                };
            }
            None => *v = Visibility::Hidden,
        }
    }
    for (tm, mut s, mut t, mut v) in &mut trails {
        let Some(mv) = m.movers.get(tm.0) else {
            continue;
        };
        // Trails follow true positions: the instructor's view only.
        let n = mv.trail.len();
        if ui.truth && tm.1 < n {
            let (x, y) = mv.trail[tm.1];
            *v = Visibility::Visible;
            t.translation = world(Vec2::new(x, y), 2.0);
            let a = 0.15 + 0.5 * (tm.1 + 1) as f32 / n as f32;
            s.color = if mv.staff {
                Color::srgba(0.85, 0.85, 1.0, a)
            } else {
                Color::srgba(1.0, 0.6, 0.2, a)
            };
        } else {
            *v = Visibility::Hidden;
        }
    }
}

/// Where a tag is drawn: its true position (the instructor's view), or room-level, the centre
/// of the space of the receiver that heard it loudest (what BLE RTLS knows).
pub fn mover_position(m: &WardModel, plan: &Plan, i: usize, truth: bool) -> Option<Vec2> {
    let mv = m.movers.get(i)?;
    if truth {
        return mv.at.map(|(x, y)| Vec2::new(x, y));
    }
    let rx = plan.receivers.get(mv.heard_by? as usize)?;
    let room = plan
        .spaces
        .iter()
        .find(|(_, _, r)| r.contains(egui::pos2(rx.x, rx.y)))?;
    // Spread the tags of one room a little, so they do not hide each other.
    let c = room.2.center();
    let k = (i % 7) as f32;
    Some(Vec2::new(c.x - 1.5 + 0.5 * k, c.y + 0.8))
}

/// Places the camera so the plan point `xf.centre` is at the free area's centre.
pub fn place_camera(
    xf: Res<ViewXf>,
    size: Res<crate::ScreenSize>,
    mut cams: Query<(&mut Transform, &mut Projection), With<PlanCamera>>,
) {
    let Ok((mut t, mut proj)) = cams.single_mut() else {
        return;
    };
    let screen_c = egui::pos2(size.0.x / 2.0, size.0.y / 2.0);
    // Camera2d's projection: one world unit per logical pixel at scale 1.
    // The world point at the screen's centre.
    let at = xf.to_plan(screen_c);
    t.translation = Vec3::new(at.x, -at.y, t.translation.z);
    if let Projection::Orthographic(o) = &mut *proj {
        o.scale = 1.0 / xf.px_per_m;
    }
}

/// Fits the plan into the free area.
pub fn fit(xf: &mut ViewXf, plan: &Plan) {
    fit_rect(xf, plan.bounds);
}

/// Fits a rectangle of the plan (metres) into the free area.
pub fn fit_rect(xf: &mut ViewXf, b: egui::Rect) {
    let w = (xf.free.width() - 20.0).max(50.0);
    let h = (xf.free.height() - 20.0).max(50.0);
    xf.px_per_m = (w / b.width()).min(h / b.height()).clamp(0.5, 200.0);
    xf.centre = Vec2::new(b.center().x, b.center().y);
}

/// The first view: the whole site if its beds can be told apart, else the ward of `bed` (a
/// site of six wards side by side is a thin strip at 1280×800; double-click shows it all).
pub fn first_view(xf: &mut ViewXf, plan: &Plan, ward_of_bed: Option<usize>) {
    fit(xf, plan);
    if xf.px_per_m >= 6.0 {
        return;
    }
    let ward = ward_of_bed.unwrap_or(0);
    if let Some((_, r)) = plan.wards.get(ward)
        && r.is_positive()
    {
        fit_rect(xf, r.expand(2.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(name: &str) -> Plan {
        let text = wardtwin_scenarios::LIBRARY
            .iter()
            .find(|(n, _)| *n == name)
            .expect(name)
            .1;
        Plan::of(&wardtwin_scenarios::parse(text, name).expect("parses"))
    }

    fn view() -> ViewXf {
        ViewXf {
            free: egui::Rect::from_min_size(egui::pos2(0.0, 30.0), egui::vec2(720.0, 730.0)),
            ..ViewXf::default()
        }
    }

    #[test]
    fn the_first_view_is_the_site_or_the_selected_beds_ward_when_the_site_is_too_wide() {
        // One ward: the whole site, legible.
        let p = plan("quickstart");
        let mut xf = view();
        first_view(&mut xf, &p, None);
        assert!(xf.px_per_m >= 6.0, "{}", xf.px_per_m);
        let site = xf.to_screen(p.bounds.min.x, p.bounds.min.y);
        assert!(xf.free.expand(1.0).contains(site), "the site is in sight");
        // Six wards side by side: the fifth ward, filling the width.
        let p = plan("hospital-day");
        let mut xf = view();
        fit(&mut xf, &p);
        assert!(
            xf.px_per_m < 6.0,
            "the whole site is too small: {}",
            xf.px_per_m
        );
        first_view(&mut xf, &p, Some(4));
        assert!(xf.px_per_m >= 6.0, "{}", xf.px_per_m);
        let ward = p.wards[4].1;
        assert!(
            ward.contains(egui::pos2(xf.centre.x, xf.centre.y)),
            "centred on W5"
        );
        let (a, b) = (
            xf.to_screen(ward.min.x, ward.min.y),
            xf.to_screen(ward.max.x, ward.max.y),
        );
        assert!(xf.free.expand(1.0).contains(a) && xf.free.expand(1.0).contains(b));
    }

    #[test]
    fn screen_and_plan_coordinates_are_inverse() {
        let mut xf = view();
        xf.centre = Vec2::new(40.0, 12.5);
        xf.px_per_m = 9.5;
        for (x, y) in [(0.0, 0.0), (40.0, 12.5), (-3.25, 77.0)] {
            let back = xf.to_plan(xf.to_screen(x, y));
            assert!(
                (back.x - x).abs() < 1e-3 && (back.y - y).abs() < 1e-3,
                "{back:?}"
            );
        }
    }
}
