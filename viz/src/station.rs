//! The central station and the instructor's controls, in egui: the clock bar, a tile per bed
//! (HR, SpO2, RR, BP with its time, temperature, NEWS2, the alarm in IEC 60601-1-8 colours and
//! markers), the selected bed's ECG and pleth sweeping at 25 mm/s in simulation time, the
//! alarm list with acknowledge and silence, the trainee's escalation, the instructor's
//! injections, and labels and picking over the floor plan.

use bevy_egui::egui::{self, Color32, Pos2, RichText, Stroke, Vec2};
use wardtwin_scoring::model::Priority as AlertPriority;
use wardtwin_sim::time::format_iso_ms;

use crate::UiState;
use crate::inject::{Injection, Params, Target};
use crate::live::{Command, Status};
use crate::model::{Priority, Vital, WardModel, inop_text, short_kind};
use crate::scene::{Plan, ViewXf, mover_position};
use crate::trainee::{CLASSES, Escalation};

/// Logical pixels per millimetre at 96 dpi: a strip sweeps at 25 mm/s.
const PX_PER_MM: f32 = 96.0 / 25.4;
const SWEEP_MM_PER_S: f32 = 25.0;
/// ECG gain: 10 mm/mV.
const ECG_MM_PER_MV: f32 = 10.0;

pub fn colour(p: Priority) -> Color32 {
    match p {
        Priority::High => Color32::from_rgb(237, 28, 36),
        Priority::Medium | Priority::Low => Color32::from_rgb(250, 204, 20),
        Priority::Inop => Color32::from_rgb(26, 204, 230),
        Priority::None => Color32::from_rgb(40, 44, 52),
    }
}

fn vital_colour(v: Vital) -> Color32 {
    match v {
        Vital::Hr => Color32::from_rgb(80, 230, 100),
        Vital::Spo2 => Color32::from_rgb(90, 220, 240),
        Vital::Rr => Color32::from_rgb(250, 230, 90),
        Vital::Sys | Vital::Dia => Color32::from_rgb(250, 120, 120),
        Vital::Temp => Color32::from_rgb(230, 230, 230),
    }
}

fn hhmm(ms: i64) -> String {
    format_iso_ms(ms)[11..16].to_string()
}

fn fmt(v: Option<f32>, digits: usize) -> String {
    match v {
        Some(x) => format!("{x:.digits$}"),
        None => "---".into(),
    }
}

/// Everything the UI draws this frame. Returns the commands for the session.
pub fn draw(
    ctx: &egui::Context,
    m: &WardModel,
    status: &Status,
    plan: &Plan,
    xf: &mut ViewXf,
    ui: &mut UiState,
) -> Vec<Command> {
    let mut out = Vec::new();
    ui.map = crate::ShotMap {
        sim_time: format_iso_ms(m.now_ms),
        selected: ui.selected.map(|b| m.beds[b].id.clone()),
        ..crate::ShotMap::default()
    };
    ctx.set_theme(egui::Theme::Dark);
    let mut root = egui::Ui::new(
        ctx.clone(),
        "root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    clock_bar(&mut root, m, status, ui, &mut out);
    if ui.replay.is_some() {
        timeline(&mut root, m, ui, &mut out);
    }
    egui::Panel::right("station")
        .resizable(false)
        .exact_size(ui.station_width)
        .frame(
            egui::Frame::new()
                .fill(Color32::from_rgb(12, 14, 18))
                .inner_margin(6.0),
        )
        .show(&mut root, |p| station(p, m, status, ui, &mut out));
    if ui.replay.is_none() {
        egui::Panel::bottom("instructor")
            .resizable(false)
            .frame(
                egui::Frame::new()
                    .fill(Color32::from_rgb(22, 24, 30))
                    .inner_margin(6.0),
            )
            .show(&mut root, |p| instructor(p, m, status, ui, &mut out));
    }
    // What is left is the floor plan's.
    let free = root.available_rect_before_wrap();
    if free != xf.free {
        xf.free = free;
    }
    ui.map.plan = crate::corners(free);
    let b = plan.bounds;
    ui.map.plan_bounds = crate::corners(egui::Rect::from_min_max(
        xf.to_screen(b.min.x, b.min.y),
        xf.to_screen(b.max.x, b.max.y),
    ));
    if xf.fit {
        if ui.first_view {
            let ward = ui.selected.and_then(|b| {
                plan.wards
                    .iter()
                    .position(|(n, _)| n.split(' ').next() == Some(m.beds[b].ward.as_str()))
            });
            crate::scene::first_view(xf, plan, ward);
            ui.first_view = false;
        } else {
            crate::scene::fit(xf, plan);
        }
        xf.fit = false;
    }
    plan_overlay(ctx, &mut root, free, m, plan, xf, ui, &mut out);
    out
}

fn clock_bar(
    root: &mut egui::Ui,
    m: &WardModel,
    st: &Status,
    ui: &mut UiState,
    out: &mut Vec<Command>,
) {
    egui::Panel::top("clock")
        .resizable(false)
        .frame(
            egui::Frame::new()
                .fill(Color32::from_rgb(28, 30, 38))
                .inner_margin(4.0),
        )
        .show(root, |p| {
            p.horizontal(|h| {
                let day = (m.now_ms - m.epoch_ms) / 86_400_000 + 1;
                h.label(
                    RichText::new(format!(
                        "{}  day {day}  {}",
                        m.scenario_name,
                        &format_iso_ms(m.now_ms)[11..19]
                    ))
                    .monospace()
                    .size(16.0)
                    .color(Color32::WHITE),
                );
                h.separator();
                let label = if st.paused { "▶ run" } else { "⏸ pause" };
                if h.button(label).clicked() {
                    out.push(Command::Pause(!st.paused));
                }
                if h.add_enabled(st.paused, egui::Button::new("step"))
                    .clicked()
                {
                    out.push(Command::Step);
                }
                for (name, v) in [
                    ("1×", 1.0),
                    ("10×", 10.0),
                    ("60×", 60.0),
                    ("max", f64::INFINITY),
                ] {
                    if h.selectable_label(st.speed == v, name).clicked() {
                        out.push(Command::Speed(v));
                    }
                }
                h.separator();
                h.checkbox(&mut ui.truth, "truth (instructor)");
                h.separator();
                if st.catching_up {
                    h.label(RichText::new("applying injection…").color(Color32::YELLOW));
                } else if st.finished {
                    h.label("session over");
                }
                let done = st.ticks_done as f32 / st.total_ticks.max(1) as f32;
                h.add(egui::ProgressBar::new(done).desired_width(120.0));
                if let Some(e) = &st.error {
                    h.label(RichText::new(e).color(Color32::RED));
                }
            });
        });
}

/// A replay's timeline: the run from start to end with its episodes (orange), conditions
/// (yellow), faults (violet) and alerts (cyan) marked; click or drag to go there.
fn timeline(root: &mut egui::Ui, m: &WardModel, ui: &UiState, out: &mut Vec<Command>) {
    let marks = ui.replay.as_deref().unwrap_or(&[]);
    egui::Panel::top("timeline")
        .resizable(false)
        .frame(
            egui::Frame::new()
                .fill(Color32::from_rgb(20, 22, 28))
                .inner_margin(4.0),
        )
        .show(root, |p| {
            let w = p.available_width();
            let (rect, resp) =
                p.allocate_exact_size(Vec2::new(w, 30.0), egui::Sense::click_and_drag());
            let painter = p.painter_at(rect);
            painter.rect_filled(rect, 2.0, Color32::from_rgb(34, 36, 44));
            let span = (m.end_ms - m.epoch_ms).max(1) as f32;
            let x_of = |t: i64| rect.left() + (t - m.epoch_ms) as f32 / span * rect.width();
            for (i, mk) in marks.iter().enumerate() {
                let (c, y0, y1) = match mk.kind {
                    crate::replay::MarkKind::Episode => {
                        (Color32::from_rgb(255, 150, 40), 0.0, 0.35)
                    }
                    crate::replay::MarkKind::Condition => {
                        (Color32::from_rgb(240, 210, 60), 0.35, 0.6)
                    }
                    crate::replay::MarkKind::Fault => (Color32::from_rgb(170, 110, 255), 0.6, 0.8),
                    crate::replay::MarkKind::Alert => (Color32::from_rgb(40, 210, 240), 0.8, 1.0),
                };
                let x0 = x_of(mk.at_ms);
                let x1 = mk.end_ms.map_or(x0 + 2.0, |e| x_of(e).max(x0 + 2.0));
                let r = egui::Rect::from_min_max(
                    Pos2::new(x0, rect.top() + y0 * rect.height()),
                    Pos2::new(x1, rect.top() + y1 * rect.height()),
                );
                painter.rect_filled(r, 0.0, c.gamma_multiply(if i % 2 == 0 { 0.9 } else { 0.7 }));
            }
            let x = x_of(m.now_ms);
            painter.line_segment(
                [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
                Stroke::new(2.0, Color32::WHITE),
            );
            if let Some(pos) = resp.interact_pointer_pos()
                && (resp.clicked() || resp.dragged())
            {
                let f = ((pos.x - rect.left()) / rect.width()).clamp(0.0, 1.0);
                out.push(Command::Seek((f * span) as i64));
            }
            if let Some(pos) = resp.hover_pos() {
                let t = m.epoch_ms + ((pos.x - rect.left()) / rect.width() * span) as i64;
                let near: Vec<&str> = marks
                    .iter()
                    .filter(|mk| {
                        (mk.at_ms - t).abs() < (span / w * 4.0) as i64
                            || mk.end_ms.is_some_and(|e| mk.at_ms <= t && t < e)
                    })
                    .take(8)
                    .map(|mk| mk.text.as_str())
                    .collect();
                resp.on_hover_text(format!(
                    "{}\n{}",
                    &format_iso_ms(t)[11..16],
                    near.join("\n")
                ));
            }
        });
}

/// The central station: the selected bed, the alarm list, then every bed's tile.
fn station(p: &mut egui::Ui, m: &WardModel, st: &Status, ui: &mut UiState, out: &mut Vec<Command>) {
    if let Some(b) = ui.selected {
        selected_bed(p, m, st, b, ui, out);
        p.separator();
    }
    alarm_list(p, m, ui);
    p.separator();
    let cols = ((p.available_width() + 4.0) / (TILE.x + 4.0))
        .floor()
        .max(1.0) as usize;
    // Only the rows in sight are laid out and drawn (192 beds are 64 rows).
    let occupied: Vec<usize> = (0..m.beds.len())
        .filter(|&b| m.beds[b].patient.is_some())
        .collect();
    let rows = occupied.len().div_ceil(cols);
    egui::ScrollArea::vertical()
        .id_salt("tiles")
        .show_rows(p, TILE.y, rows, |s, range| {
            for row in range {
                s.horizontal(|h| {
                    h.spacing_mut().item_spacing = Vec2::splat(4.0);
                    for &b in occupied.iter().skip(row * cols).take(cols) {
                        if tile(h, m, b, ui).clicked() {
                            ui.selected = Some(b);
                            out.push(Command::Select(m.beds[b].patient));
                        }
                    }
                });
            }
        });
}

const TILE: Vec2 = Vec2::new(172.0, 84.0);

/// One bed's tile, as a central station shows it.
fn tile(g: &mut egui::Ui, m: &WardModel, b: usize, ui: &mut UiState) -> egui::Response {
    let bed = &m.beds[b];
    let (p, text) = m.bed_alarm(b, ui.truth);
    let (rect, resp) = g.allocate_exact_size(TILE, egui::Sense::click());
    let painter = g.painter_at(rect);
    let acked = ui.acked.get(&b).is_some_and(|a| *a == p);
    let head = egui::Rect::from_min_size(rect.min, Vec2::new(rect.width(), 18.0));
    painter.rect_filled(rect, 3.0, Color32::from_rgb(18, 20, 26));
    painter.rect_filled(head, 3.0, colour(p));
    // Tiles scrolled out of sight are not in the map.
    if ui.screenshot && g.clip_rect().contains_rect(rect) {
        ui.map.tiles.insert(
            bed.id.clone(),
            crate::TileMap {
                head: crate::corners(head),
                tile: crate::corners(rect),
                priority: p.name(),
                text: text.clone(),
                values: Default::default(),
            },
        );
    }
    if ui.selected == Some(b) {
        painter.rect_stroke(
            rect,
            3.0,
            Stroke::new(2.0, Color32::WHITE),
            egui::StrokeKind::Inside,
        );
    }
    let head_text = if p == Priority::None {
        Color32::from_gray(220)
    } else {
        Color32::BLACK
    };
    let marker = if acked {
        format!("{} ack", p.marker())
    } else {
        p.marker().to_string()
    };
    painter.text(
        head.left_center() + Vec2::new(4.0, 0.0),
        egui::Align2::LEFT_CENTER,
        {
            // The NEWS2 is on the right; what is left of the header holds ~22 characters.
            let head_line = format!(
                "{} {marker} {}",
                bed.id,
                text.strip_prefix("NEWS2 ").map_or(text.as_str(), |_| "")
            );
            match head_line.char_indices().nth(22) {
                Some((i, _)) => format!("{}…", &head_line[..i]),
                None => head_line,
            }
        },
        egui::FontId::proportional(12.0),
        head_text,
    );
    let font = egui::FontId::monospace(15.0);
    let small = egui::FontId::proportional(10.0);
    let row = |i: usize, j: usize, label: &str, value: String, c: Color32| {
        let at = rect.min + Vec2::new(4.0 + j as f32 * 56.0, 22.0 + i as f32 * 30.0);
        painter.text(
            at,
            egui::Align2::LEFT_TOP,
            label,
            small.clone(),
            Color32::from_gray(150),
        );
        painter.text(
            at + Vec2::new(0.0, 10.0),
            egui::Align2::LEFT_TOP,
            value,
            font.clone(),
            c,
        );
    };
    let v = |x: Vital| bed.value(x, ui.truth);
    let shown = [
        ("hr", fmt(v(Vital::Hr), 0)),
        ("spo2", fmt(v(Vital::Spo2), 0)),
        ("rr", fmt(v(Vital::Rr), 0)),
        (
            "nibp",
            format!("{}/{}", fmt(v(Vital::Sys), 0), fmt(v(Vital::Dia), 0)),
        ),
        ("temp", fmt(v(Vital::Temp), 1)),
    ];
    if let Some(t) = ui.map.tiles.get_mut(&bed.id) {
        t.values = shown.iter().map(|(k, s)| (*k, s.clone())).collect();
    }
    let hr_label = if !ui.truth && bed.measured(Vital::Hr).is_some_and(|m| m.from_pulse) {
        "PR"
    } else {
        "HR"
    };
    row(
        0,
        0,
        hr_label,
        fmt(v(Vital::Hr), 0),
        vital_colour(Vital::Hr),
    );
    row(
        0,
        1,
        "SpO2",
        fmt(v(Vital::Spo2), 0),
        vital_colour(Vital::Spo2),
    );
    row(0, 2, "RR", fmt(v(Vital::Rr), 0), vital_colour(Vital::Rr));
    let bp_time = if ui.truth {
        String::new()
    } else {
        bed.measured(Vital::Sys)
            .map_or(String::new(), |s| format!(" {}", hhmm(s.at_ms)))
    };
    row(
        1,
        0,
        &format!("NIBP{bp_time}"),
        format!("{}/{}", fmt(v(Vital::Sys), 0), fmt(v(Vital::Dia), 0)),
        vital_colour(Vital::Sys),
    );
    row(
        1,
        2,
        "T °C",
        fmt(v(Vital::Temp), 1),
        vital_colour(Vital::Temp),
    );
    let news = if ui.truth {
        bed.news2_truth()
    } else {
        bed.news2_measured()
    };
    painter.text(
        head.right_center() + Vec2::new(-4.0, 0.0),
        egui::Align2::RIGHT_CENTER,
        news.map_or("N -".into(), |n| format!("N {}", n.total)),
        egui::FontId::monospace(12.0),
        head_text,
    );
    // The system under test's alert on this bed, as a badge.
    if let Some(a) = m.stack_alert_for(b) {
        let pr = Priority::of_alert(a.priority);
        let badge = egui::Rect::from_min_size(
            rect.right_bottom() + Vec2::new(-22.0, -16.0),
            Vec2::new(18.0, 13.0),
        );
        painter.rect_filled(badge, 2.0, colour(pr));
        painter.text(
            badge.center(),
            egui::Align2::CENTER_CENTER,
            "SUT",
            egui::FontId::proportional(8.0),
            Color32::BLACK,
        );
    }
    resp
}

fn alarm_list(p: &mut egui::Ui, m: &WardModel, ui: &mut UiState) {
    let mut alarms: Vec<(Priority, usize, String)> = (0..m.beds.len())
        .map(|b| {
            let (pr, t) = m.bed_alarm(b, ui.truth);
            (pr, b, t)
        })
        .filter(|(pr, _, _)| *pr != Priority::None)
        .collect();
    alarms.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    p.horizontal(|h| {
        h.label(RichText::new(format!("Alarms ({})", alarms.len())).strong());
        let silenced = ui.silenced_until.is_some_and(|t| t > m.now_ms);
        let label = if silenced {
            format!(
                "audio paused until {}",
                hhmm(ui.silenced_until.unwrap_or(0))
            )
        } else {
            "silence 2 min".into()
        };
        if h.button(label).clicked() {
            ui.silenced_until = Some(m.now_ms + 120_000);
        }
    });
    if !m.stack_alerts.is_empty() || m.sut_rejected > 0 {
        p.horizontal(|h| {
            h.label(RichText::new(format!("Systems' alerts ({})", m.stack_alerts.len())).strong());
            if m.sut_rejected > 0 {
                h.label(
                    RichText::new(format!("{} not alert v1", m.sut_rejected))
                        .color(Color32::from_rgb(0, 200, 220)),
                );
            }
        });
        egui::ScrollArea::vertical()
            .id_salt("stack-alarms")
            .max_height(72.0)
            .show(p, |s| {
                for a in m.stack_alerts.iter().rev().take(30) {
                    let pr = Priority::of_alert(a.priority);
                    s.horizontal(|h| {
                        h.label(
                            RichText::new(format!("{:4}", pr.marker()))
                                .monospace()
                                .background_color(colour(pr))
                                .color(Color32::BLACK),
                        );
                        h.label(format!(
                            "{} {} {} {}: {}",
                            hhmm(a.at_ms),
                            a.from.tag(),
                            a.subject,
                            a.class,
                            a.text
                        ));
                    });
                }
            });
    }
    egui::ScrollArea::vertical()
        .id_salt("alarms")
        .max_height(96.0)
        .show(p, |s| {
            for (pr, b, text) in alarms.iter().take(50) {
                s.horizontal(|h| {
                    h.label(
                        RichText::new(format!("{:4}", pr.marker()))
                            .monospace()
                            .background_color(colour(*pr))
                            .color(Color32::BLACK),
                    );
                    if h.link(format!("{} {text}", m.beds[*b].id)).clicked() {
                        ui.selected = Some(*b);
                        ui.pending_select = true;
                    }
                    let acked = ui.acked.get(b).is_some_and(|a| a == pr);
                    if !acked && h.small_button("ack").clicked() {
                        ui.acked.insert(*b, *pr);
                    }
                });
            }
        });
}

/// The selected bed: big numbers, waveforms, and the trainee's escalation.
fn selected_bed(
    p: &mut egui::Ui,
    m: &WardModel,
    st: &Status,
    b: usize,
    ui: &mut UiState,
    out: &mut Vec<Command>,
) {
    let bed = &m.beds[b];
    let (pr, text) = m.bed_alarm(b, ui.truth);
    p.horizontal(|h| {
        h.label(
            RichText::new(format!(
                "{}  {}  {}",
                bed.id,
                bed.patient_id.as_deref().unwrap_or("empty"),
                if ui.truth { "TRUTH" } else { "monitor" }
            ))
            .strong()
            .size(15.0),
        );
        if pr != Priority::None {
            h.label(
                RichText::new(format!(" {} {text} ", pr.marker()))
                    .background_color(colour(pr))
                    .color(Color32::BLACK),
            );
        }
        if ui.truth {
            h.label(format!("rhythm: {}", bed.rhythm.name()));
        }
    });
    // The strips: ECG II and pleth, in simulation time.
    let w = p.available_width();
    let window_s = w / (SWEEP_MM_PER_S * PX_PER_MM);
    let data_end = m.wave.end_ms();
    let t_rel = ((st.paced_ms - m.epoch_ms) as f64).min(data_end);
    let have = m.wave.patient.is_some() && m.wave.patient == bed.patient && !m.wave.ecg.is_empty();
    for (signal, name, c, h) in [
        (0usize, "II", vital_colour(Vital::Hr), 70.0f32),
        (1, "Pleth", vital_colour(Vital::Spo2), 44.0),
    ] {
        let (rect, _) = p.allocate_exact_size(Vec2::new(w, h), egui::Sense::hover());
        if signal == 0 {
            ui.map.ecg_strip = Some(crate::corners(rect));
        }
        let painter = p.painter_at(rect);
        painter.rect_filled(rect, 0.0, Color32::BLACK);
        painter.text(
            rect.left_top() + Vec2::new(3.0, 2.0),
            egui::Align2::LEFT_TOP,
            name,
            egui::FontId::proportional(10.0),
            c,
        );
        if !have {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                if ui.replay.is_some() {
                    "no waveforms in a replay"
                } else {
                    "waveform starting…"
                },
                egui::FontId::proportional(11.0),
                Color32::from_gray(120),
            );
            continue;
        }
        sweep(&painter, rect, m, signal, t_rel, window_s as f64, c);
    }
    // Numbers, large.
    p.horizontal(|h| {
        for v in [Vital::Hr, Vital::Spo2, Vital::Rr, Vital::Temp] {
            let val = bed.value(v, ui.truth);
            let d = if v == Vital::Temp { 1 } else { 0 };
            h.label(
                RichText::new(fmt(val, d))
                    .monospace()
                    .size(24.0)
                    .color(vital_colour(v)),
            );
            h.add_space(6.0);
        }
        let sys = bed.value(Vital::Sys, ui.truth);
        let dia = bed.value(Vital::Dia, ui.truth);
        h.label(
            RichText::new(format!("{}/{}", fmt(sys, 0), fmt(dia, 0)))
                .monospace()
                .size(20.0)
                .color(vital_colour(Vital::Sys)),
        );
    });
    if let Some((k, inop)) = m.bed_inop(b) {
        p.label(
            RichText::new(format!("INOP {} {}", inop_text(inop), short_kind(k)))
                .color(colour(Priority::Inop)),
        );
    }
    // The trainee escalates (not in a replay: what happened is written).
    if ui.replay.is_some() {
        return;
    }
    p.horizontal(|h| {
        h.label("escalate:");
        egui::ComboBox::from_id_salt("esc-class")
            .selected_text(CLASSES[ui.esc_class].0)
            .show_ui(h, |c| {
                for (i, (label, _)) in CLASSES.iter().enumerate() {
                    c.selectable_value(&mut ui.esc_class, i, *label);
                }
            });
        egui::ComboBox::from_id_salt("esc-prio")
            .selected_text(ui.esc_priority.name())
            .show_ui(h, |c| {
                for pr in AlertPriority::ALL {
                    c.selectable_value(&mut ui.esc_priority, pr, pr.name());
                }
            });
        if h.button("escalate").clicked()
            && let Some(pid) = &bed.patient_id
        {
            out.push(Command::Escalate(Escalation {
                subject: pid.clone(),
                class: CLASSES[ui.esc_class].1.to_string(),
                priority: ui.esc_priority,
                device: None,
                note: format!("{} escalated from the central station ({text})", bed.id),
            }));
        }
    });
}

/// A sweeping strip: samples of the last `window_s` before `t_rel` (ms since the epoch), drawn
/// where the sweep put them, with an erase gap ahead of the cursor.
fn sweep(
    painter: &egui::Painter,
    rect: egui::Rect,
    m: &WardModel,
    signal: usize,
    t_rel: f64,
    window_s: f64,
    c: Color32,
) {
    let win_ms = window_s * 1000.0;
    let gap_ms = 250.0;
    let samples = m.wave.window(signal, t_rel - win_ms + gap_ms, t_rel);
    if samples.is_empty() {
        return;
    }
    let (lo, hi) = if signal == 0 {
        let half = rect.height() / 2.0 / (ECG_MM_PER_MV * PX_PER_MM);
        (-f64::from(half) + 0.2, f64::from(half) + 0.2)
    } else {
        let (mut lo, mut hi) = (f64::MAX, f64::MIN);
        for (_, v) in &samples {
            lo = lo.min(f64::from(*v));
            hi = hi.max(f64::from(*v));
        }
        let pad = ((hi - lo) * 0.1).max(1e-3);
        (lo - pad, hi + pad)
    };
    let x_of = |t: f64| rect.left() + ((t.rem_euclid(win_ms)) / win_ms) as f32 * rect.width();
    let y_of = |v: f32| {
        let f = ((f64::from(v) - lo) / (hi - lo)).clamp(0.0, 1.0) as f32;
        rect.bottom() - f * rect.height()
    };
    // One point per pixel column at most (min/max kept so spikes survive).
    let mut line: Vec<Pos2> = Vec::with_capacity(rect.width() as usize * 2);
    let mut last_x = f32::NEG_INFINITY;
    let mut col: Option<(f32, f32, f32)> = None;
    let flush = |line: &mut Vec<Pos2>, col: &Option<(f32, f32, f32)>| {
        if let Some((x, a, b)) = col {
            line.push(Pos2::new(*x, *a));
            if (a - b).abs() > 0.5 {
                line.push(Pos2::new(*x, *b));
            }
        }
    };
    for (t, v) in samples {
        let x = x_of(t);
        let y = y_of(v);
        if x < last_x {
            // The sweep wrapped: a new line from the left edge.
            flush(&mut line, &col);
            col = None;
            if line.len() > 1 {
                painter.add(egui::Shape::line(
                    std::mem::take(&mut line),
                    Stroke::new(1.4, c),
                ));
            }
            line.clear();
        }
        last_x = x;
        match &mut col {
            Some((cx, a, b)) if x.floor() == cx.floor() => {
                *a = a.min(y);
                *b = b.max(y);
            }
            _ => {
                flush(&mut line, &col);
                col = Some((x, y, y));
            }
        }
    }
    flush(&mut line, &col);
    if line.len() > 1 {
        painter.add(egui::Shape::line(line, Stroke::new(1.4, c)));
    }
}

/// The instructor's bar: an injection and its target, and the session's log.
fn instructor(
    p: &mut egui::Ui,
    m: &WardModel,
    st: &Status,
    ui: &mut UiState,
    out: &mut Vec<Command>,
) {
    let menu = Injection::menu();
    p.horizontal(|h| {
        h.label(RichText::new("Instructor").strong());
        egui::ComboBox::from_id_salt("inj-kind")
            .width(200.0)
            .selected_text(menu[ui.inj_kind.min(menu.len() - 1)].0.clone())
            .show_ui(h, |c| {
                for (i, (label, _)) in menu.iter().enumerate() {
                    c.selectable_value(&mut ui.inj_kind, i, label);
                }
            });
        let inj = menu[ui.inj_kind.min(menu.len() - 1)].1;
        let targets: Vec<String> = match inj.target_kind() {
            Target::Bed => m
                .beds
                .iter()
                .filter(|b| b.patient.is_some())
                .map(|b| b.id.clone())
                .collect(),
            Target::Fridge => m.fridges.iter().map(|f| f.id.clone()).collect(),
            Target::Ward => m.gateways.iter().map(|g| g.ward.clone()).collect(),
            Target::Staff => ui.staff.clone(),
            Target::Asset => ui.assets.clone(),
        };
        if inj.target_kind() == Target::Bed
            && let Some(b) = ui.selected
            && ui.inj_follow
        {
            ui.inj_target = m.beds[b].id.clone();
        }
        if !targets.contains(&ui.inj_target) {
            ui.inj_target = targets.first().cloned().unwrap_or_default();
        }
        egui::ComboBox::from_id_salt("inj-target")
            .selected_text(ui.inj_target.clone())
            .show_ui(h, |c| {
                for t in &targets {
                    if c.selectable_label(&ui.inj_target == t, t).clicked() {
                        ui.inj_target = t.clone();
                        ui.inj_follow = false;
                    }
                }
            });
        match inj {
            Injection::Deterioration(_) => {
                h.label("develops over");
                h.add(egui::TextEdit::singleline(&mut ui.inj_develop).desired_width(40.0));
            }
            Injection::Compressor | Injection::Duress | Injection::AssetWander => {}
            _ => {
                h.label("for");
                h.add(egui::TextEdit::singleline(&mut ui.inj_duration).desired_width(40.0));
            }
        }
        let params = Params {
            target: ui.inj_target.clone(),
            duration: ui.inj_duration.trim().to_string(),
            develop: ui.inj_develop.trim().to_string(),
        };
        let ready = !st.catching_up && !st.finished && !targets.is_empty();
        if h.add_enabled(ready, egui::Button::new("inject")).clicked() {
            match inj.toml(&params) {
                Ok(toml) => out.push(Command::Inject {
                    label: inj.label(&params),
                    toml,
                }),
                Err(e) => ui.local_log.push(format!("not injected: {e}")),
            }
        }
    });
    let last: Vec<&String> = st
        .log
        .iter()
        .chain(ui.local_log.iter())
        .rev()
        .take(2)
        .collect();
    for l in last {
        p.label(RichText::new(l).small().color(Color32::from_gray(190)));
    }
}

/// Labels over the floor plan, picking with the mouse, panning and zooming.
#[allow(clippy::too_many_arguments)]
fn plan_overlay(
    ctx: &egui::Context,
    root: &mut egui::Ui,
    free: egui::Rect,
    m: &WardModel,
    plan: &Plan,
    xf: &mut ViewXf,
    ui: &mut UiState,
    out: &mut Vec<Command>,
) {
    let resp = root.allocate_rect(free, egui::Sense::click_and_drag());
    if resp.dragged() {
        let d = resp.drag_delta();
        xf.centre.x -= d.x / xf.px_per_m;
        xf.centre.y -= d.y / xf.px_per_m;
    }
    if resp.hovered() {
        let scroll = ctx.input(|i| i.smooth_scroll_delta.y);
        if scroll != 0.0 {
            let f = (1.0 + scroll * 0.002).clamp(0.5, 2.0);
            if let Some(pos) = resp.hover_pos() {
                let before = xf.to_plan(pos);
                xf.px_per_m = (xf.px_per_m * f).clamp(0.5, 200.0);
                let after = xf.to_plan(pos);
                xf.centre += before - after;
            }
        }
    }
    if resp.double_clicked() {
        xf.fit = true;
    }
    if resp.clicked()
        && let Some(pos) = resp.interact_pointer_pos()
    {
        let at = xf.to_plan(pos);
        let near = |p: bevy::math::Vec2| p.distance(at);
        let bed = plan
            .beds
            .iter()
            .enumerate()
            .map(|(i, p)| (near(*p), Pick::Bed(i)));
        let fr = plan
            .fridges
            .iter()
            .enumerate()
            .map(|(i, p)| (near(*p), Pick::Fridge(i)));
        let gw = plan
            .gateways
            .iter()
            .enumerate()
            .map(|(i, p)| (near(*p), Pick::Gateway(i)));
        let mv = (0..m.movers.len()).filter_map(|i| {
            mover_position(m, plan, i, ui.truth).map(|p| (near(p), Pick::Mover(i)))
        });
        let best = bed
            .chain(fr)
            .chain(gw)
            .chain(mv)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .filter(|(d, _)| *d < 2.5);
        ui.picked = best.map(|(_, p)| p);
        if let Some((_, Pick::Bed(b))) = best {
            ui.selected = Some(b);
            out.push(Command::Select(m.beds[b].patient));
        }
    }
    let painter = ctx
        .layer_painter(egui::LayerId::new(
            egui::Order::Background,
            egui::Id::new("plan-labels"),
        ))
        .with_clip_rect(free);
    let small = egui::FontId::proportional((xf.px_per_m * 0.8).clamp(8.0, 13.0));
    for (name, r) in &plan.wards {
        if r.is_positive() {
            // The ward's name where it fits over the ward, else its id.
            let px = r.width() * xf.px_per_m;
            let label = if px > name.chars().count() as f32 * 7.5 {
                name.as_str()
            } else {
                name.split(' ').next().unwrap_or(name)
            };
            painter.text(
                xf.to_screen(r.min.x, r.min.y) + Vec2::new(2.0, -2.0),
                egui::Align2::LEFT_BOTTOM,
                label,
                egui::FontId::proportional(13.0),
                Color32::from_gray(200),
            );
        }
    }
    // Fridge and gateway labels where they can be read.
    if xf.px_per_m < 6.0 {
        if let Some(pick) = ui.picked {
            inspector(ctx, m, pick, ui);
        }
        return;
    }
    // Bed numbers where there is room for them (beds stand about 2 m apart).
    if xf.px_per_m >= 9.0 {
        let f = egui::FontId::proportional((xf.px_per_m * 0.7).clamp(7.0, 12.0));
        for (b, p) in plan.beds.iter().enumerate() {
            let id = &m.beds[b].id;
            let short = id.rsplit('-').next().unwrap_or(id);
            painter.text(
                xf.to_screen(p.x, p.y + 1.05),
                egui::Align2::CENTER_TOP,
                short,
                f.clone(),
                Color32::from_gray(170),
            );
        }
    }
    for (f, p) in plan.fridges.iter().enumerate() {
        let fr = &m.fridges[f];
        painter.text(
            xf.to_screen(p.x, p.y + 0.7),
            egui::Align2::CENTER_TOP,
            format!("{} {} °C", fr.id, fmt(fr.product_c, 1)),
            small.clone(),
            if fr.excursion {
                Color32::RED
            } else {
                Color32::from_rgb(160, 200, 255)
            },
        );
    }
    for (g, p) in plan.gateways.iter().enumerate() {
        let gw = &m.gateways[g];
        let faults: Vec<&str> = m
            .faults
            .iter()
            .filter(|f| f.gateway.is_some_and(|d| Some(d.0 as usize) == gw.device))
            .map(|f| f.kind.name())
            .collect();
        let text = format!(
            "GW {}{}{}",
            if gw.uplink_up { "up" } else { "UPLINK DOWN" },
            gw.spool_depth
                .filter(|d| *d > 0.0)
                .map_or(String::new(), |d| format!(" spool {d:.0}")),
            if faults.is_empty() {
                String::new()
            } else {
                format!(" [{}]", faults.join(", "))
            }
        );
        painter.text(
            xf.to_screen(p.x, p.y - 0.7),
            egui::Align2::CENTER_BOTTOM,
            text,
            small.clone(),
            if gw.uplink_up && faults.is_empty() {
                Color32::from_rgb(120, 230, 140)
            } else {
                Color32::from_rgb(255, 90, 90)
            },
        );
    }
    if let Some(pick) = ui.picked {
        inspector(ctx, m, pick, ui);
    }
}

/// What was clicked on the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Bed(usize),
    Fridge(usize),
    Gateway(usize),
    Mover(usize),
}

fn inspector(ctx: &egui::Context, m: &WardModel, pick: Pick, ui: &mut UiState) {
    let mut open = true;
    egui::Window::new("inspect")
        .open(&mut open)
        .default_pos(ui_inspector_pos(ctx))
        .resizable(false)
        .show(ctx, |w| match pick {
            Pick::Bed(b) => {
                let bed = &m.beds[b];
                w.label(format!(
                    "bed {} (room {}, ward {})",
                    bed.id, bed.room, bed.ward
                ));
                w.label(format!(
                    "patient {}",
                    bed.patient_id.as_deref().unwrap_or("none")
                ));
                for &d in &bed.devices {
                    let dv = &m.devices[d];
                    w.label(format!(
                        "{} battery {} {}{}{}",
                        dv.id,
                        dv.battery_pct.map_or("-".into(), |p| format!("{p:.0} %")),
                        dv.inop.map_or("", |s| s.name()),
                        if dv.out_of_coverage {
                            " out of coverage"
                        } else {
                            ""
                        },
                        if dv.battery_flat { " FLAT" } else { "" },
                    ));
                }
            }
            Pick::Fridge(f) => {
                let fr = &m.fridges[f];
                w.label(format!("fridge {}", fr.id));
                w.label(format!(
                    "product {} °C, air {} °C",
                    fmt(fr.product_c, 1),
                    fmt(fr.air_c, 1)
                ));
                w.label(format!(
                    "door {}, compressor {}, power {}",
                    if fr.door_open { "OPEN" } else { "closed" },
                    if fr.compressor_failed { "FAILED" } else { "ok" },
                    if fr.power_lost { "LOST" } else { "ok" }
                ));
            }
            Pick::Gateway(g) => {
                let gw = &m.gateways[g];
                w.label(format!("gateway of ward {}", gw.ward));
                w.label(format!(
                    "uplink {}, spool {} held, {} dropped",
                    if gw.uplink_up { "up" } else { "DOWN" },
                    fmt(gw.spool_depth, 0),
                    fmt(gw.spool_dropped, 0)
                ));
            }
            Pick::Mover(i) => {
                let mv = &m.movers[i];
                let dv = &m.devices[mv.device];
                w.label(format!(
                    "{} ({})",
                    dv.id,
                    if mv.staff { "staff" } else { "asset" }
                ));
                w.label(format!(
                    "battery {}{}",
                    dv.battery_pct.map_or("-".into(), |p| format!("{p:.0} %")),
                    if mv.duress { "  DURESS" } else { "" }
                ));
                if ui.truth
                    && let Some((x, y)) = mv.at
                {
                    w.label(format!("true position {x:.1}, {y:.1} m"));
                }
            }
        });
    if !open {
        ui.picked = None;
    }
}

fn ui_inspector_pos(ctx: &egui::Context) -> Pos2 {
    ctx.viewport_rect().left_top() + Vec2::new(12.0, 40.0)
}
