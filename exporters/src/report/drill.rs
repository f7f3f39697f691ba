//! The drill section of a scorecard, rendered: a line per fault for the terminal, a table for
//! Markdown, and per fault an SVG timeline of what reached the broker (on time and late) with
//! the fault's window and the system's silence alerts.

use std::fmt::Write as _;

use wardtwin_scoring::Scorecard;
use wardtwin_scoring::drill::{DrillSection, FaultScore};
use wardtwin_sim::time::{format_duration, format_iso_ms};

use super::{dur, esc, ratio};

fn clock(ms: i64) -> String {
    format_iso_ms(ms)[11..16].to_string()
}

fn window(f: &FaultScore) -> String {
    match f.fault.end_ms {
        Some(e) if e == f.fault.start_ms => clock(f.fault.start_ms),
        Some(e) => format!("{}-{}", clock(f.fault.start_ms), clock(e)),
        None => format!("{}-end", clock(f.fault.start_ms)),
    }
}

fn target(f: &FaultScore) -> String {
    f.fault
        .device
        .clone()
        .or_else(|| f.fault.ward.clone())
        .unwrap_or_else(|| {
            if wardtwin_scoring::drill::site_wide(&f.fault.kind) {
                "site".into()
            } else {
                String::new()
            }
        })
}

fn lost(f: &FaultScore) -> String {
    let n: u64 = f.lost.values().sum();
    if n == 0 {
        return "0 lost".into();
    }
    let by: Vec<String> = f.lost.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!("{n} lost ({})", by.join(", "))
}

fn detected(f: &FaultScore) -> String {
    match (&f.time_to_detect_ms, &f.detected_by, f.expected) {
        (Some(t), Some((_, class)), _) => format!("detected after {} ({class})", dur(Some(*t))),
        (_, _, Some(expected)) => format!("NOT detected (expected {expected})"),
        _ => "no detection expected".into(),
    }
}

/// One terminal line per fault, and the totals.
pub fn summary_lines(d: &DrillSection) -> Vec<String> {
    let mut out = Vec::new();
    for f in &d.faults {
        let c = &f.clinical;
        out.push(format!(
            "  drill       #{} {} {} {}: {} devices; {} measured: {} on time, {} late (backfill p90 {}), {}; {}; clinical {}: {} in time, {} late, {} missed",
            f.fault.id,
            f.fault.kind,
            target(f),
            window(f),
            f.devices,
            f.produced,
            f.on_time,
            f.late,
            dur(f.backfill_p90_ms),
            lost(f),
            detected(f),
            c.conditions,
            c.detected_in_time,
            c.detected_late,
            c.missed
        ));
    }
    if let Some(all) = d.detection_of(None) {
        out.push(format!(
            "  drills      backfill completeness {}; time to detect p50 {} p90 {} max {}, {} of {} undetected; {} clinical conditions detected late, {} missed",
            ratio(d.backfill_completeness),
            dur(all.time_to_detect_p50_ms),
            dur(all.time_to_detect_p90_ms),
            dur(all.time_to_detect_max_ms),
            all.undetected,
            all.faults,
            d.conditions_detected_late,
            d.conditions_missed
        ));
    }
    out
}

/// The Markdown section.
pub fn markdown(card: &Scorecard, s: &mut String) {
    let Some(d) = &card.drill else { return };
    s.push_str("## Drill\n\n");
    let _ = writeln!(
        s,
        "Backfill completeness {} (late deliveries: p90 {} after the heal); {} clinical conditions during faults, {} detected only after the heal, {} missed.\n",
        ratio(d.backfill_completeness),
        dur(d.backfill_p90_ms),
        d.conditions_during,
        d.conditions_detected_late,
        d.conditions_missed
    );
    s.push_str("| expected class | faults | undetected | time to detect p50 / p90 / max |\n|---|---|---|---|\n");
    for t in &d.detection {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} / {} / {} |",
            t.class,
            t.faults,
            t.undetected,
            dur(t.time_to_detect_p50_ms),
            dur(t.time_to_detect_p90_ms),
            dur(t.time_to_detect_max_ms)
        );
    }
    s.push_str("\n| fault | kind | where | window | parameter | devices | patients | measured | on time | late | lost | backfill | backfill p50 / p90 / max | dup / out of order | time to detect | clinical: in time / late / missed |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for f in &d.faults {
        let c = &f.clinical;
        let consumer = match (f.duplicates, f.out_of_order) {
            (Some(d), Some(o)) => format!("{d} / {o}"),
            _ => "n/a".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} / {} | {} | {} | {} / {} / {} |",
            f.fault.id,
            f.fault.kind,
            target(f),
            window(f),
            f.fault.parameter.as_deref().unwrap_or(""),
            f.devices,
            f.patients,
            f.produced,
            f.on_time,
            f.late,
            lost(f),
            ratio(f.backfill_completeness),
            dur(f.backfill_p50_ms),
            dur(f.backfill_p90_ms),
            dur(f.backfill_max_ms),
            consumer,
            detected(f),
            c.detected_in_time,
            c.detected_late,
            c.missed
        );
    }
    s.push('\n');
}

/// A fault's timeline: readings of the affected devices reaching the broker per minute (on
/// time: blue, late: amber, stacked), the fault's window shaded, the system's silence alerts
/// as red ticks.
pub fn timeline_svg(f: &FaultScore) -> String {
    let (w, h, left, bottom) = (900.0, 180.0, 40.0, 28.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\"><title>fault {} {}: readings reaching the broker per minute</title>",
        f.fault.id,
        esc(&f.fault.kind)
    );
    let (Some(first), Some(last)) = (f.timeline.first(), f.timeline.last()) else {
        s.push_str("<text x=\"10\" y=\"20\">no timeline</text></svg>");
        return s;
    };
    let t0 = first.minute_ms;
    let t1 = last.minute_ms + 60_000;
    let x = |t: i64| left + (t - t0) as f64 / (t1 - t0).max(1) as f64 * (w - left - 10.0);
    let top = f
        .timeline
        .iter()
        .map(|b| b.on_time + b.late)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let plot_h = h - bottom - 10.0;
    let end = f.fault.end_ms.unwrap_or(t1).min(t1);
    let _ = write!(
        s,
        "<rect x=\"{:.1}\" y=\"10\" width=\"{:.1}\" height=\"{plot_h:.1}\" fill=\"#fde0dc\"><title>fault window {}</title></rect>",
        x(f.fault.start_ms),
        (x(end) - x(f.fault.start_ms)).max(1.0),
        window(f)
    );
    let bw = (w - left - 10.0) / f.timeline.len() as f64;
    for b in &f.timeline {
        let bx = x(b.minute_ms);
        let on = b.on_time as f64 / top * plot_h;
        let late = b.late as f64 / top * plot_h;
        let base = h - bottom;
        let _ = write!(
            s,
            "<rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{on:.1}\" fill=\"#1f77b4\"><title>{}: {} on time</title></rect><rect x=\"{bx:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{late:.1}\" fill=\"#ff9f1c\"><title>{}: {} late</title></rect>",
            base - on,
            (bw - 0.5).max(0.5),
            clock(b.minute_ms),
            b.on_time,
            base - on - late,
            (bw - 0.5).max(0.5),
            clock(b.minute_ms),
            b.late
        );
    }
    for a in &f.alerts_ms {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"10\" y2=\"{1:.1}\" stroke=\"#d62728\" stroke-width=\"1\"><title>silence alert {2}</title></line>",
            x(*a),
            h - bottom,
            clock(*a)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{}\" font-size=\"10\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text><text x=\"4\" y=\"14\" font-size=\"10\">{top}</text></svg>",
        h - 10.0,
        clock(t0),
        w - 10.0,
        h - 10.0,
        clock(t1)
    );
    s
}

/// The HTML section: one timeline per fault.
pub fn html(card: &Scorecard, s: &mut String) {
    let Some(d) = &card.drill else { return };
    s.push_str("<h2>Drill timelines</h2>\n<p>Readings of the affected devices reaching the broker per minute (blue: on time, amber: late, backfilled), the fault's window (shaded) and the system's silence alerts (red).</p>\n");
    for f in &d.faults {
        let _ = writeln!(
            s,
            "<h3>Fault {}: {} {} {} ({})</h3>",
            f.fault.id,
            esc(&f.fault.kind),
            esc(&target(f)),
            window(f),
            esc(&format_duration(
                f.fault.end_ms.unwrap_or(f.fault.start_ms) - f.fault.start_ms
            ))
        );
        s.push_str(&timeline_svg(f));
        s.push('\n');
    }
}
