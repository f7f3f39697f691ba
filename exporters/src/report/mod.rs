//! Rendering a [`Scorecard`]: `scorecard.json` (machine-readable, byte-identical for the same
//! inputs), `scorecard.md`, `scorecard.html` (self-contained, with inline SVG plots: per-patient
//! timelines of true NEWS2 with conditions and alerts, and a latency histogram) and `junit.xml`
//! (one test case per gate, for CI). A run with faults gets a drill section ([`drill`]).

mod drill;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use wardtwin_scoring::Scorecard;
use wardtwin_scoring::scorecard::ClassScore;
use wardtwin_sim::time::{format_duration, format_iso_ms};

/// The files [`write_all`] writes.
pub const FILES: [&str; 4] = [
    "scorecard.json",
    "scorecard.md",
    "scorecard.html",
    "junit.xml",
];

/// Patients drawn as timelines in the HTML (those with the most conditions and false alerts).
pub const TIMELINES: usize = 12;

/// What the HTML draws besides the card: true NEWS2 per patient (one timeline each; normally
/// for [`timeline_patients`]), and each alert's arrival.
#[derive(Debug, Clone, Default)]
pub struct Plots {
    pub news2: BTreeMap<String, Vec<(i64, i32)>>,
    /// `(patient, arrival, class, outcome)` of scored alerts.
    pub alerts: Vec<(String, i64, String, &'static str)>,
}

fn ratio(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |x| format!("{x:.3}"))
}

fn dur(v: Option<i64>) -> String {
    match v {
        None => "n/a".into(),
        Some(ms) if ms < 0 => format!("-{}", format_duration(-ms)),
        Some(ms) => format_duration(ms),
    }
}

/// The card as pretty JSON (what `scorecard.json` holds).
pub fn to_json(card: &Scorecard) -> String {
    let mut s = serde_json::to_string_pretty(card).expect("a scorecard serialises");
    s.push('\n');
    s
}

/// The patients worth a timeline: most conditions and false alerts first.
pub fn timeline_patients(card: &Scorecard) -> Vec<String> {
    let mut p: Vec<_> = card
        .patients
        .iter()
        .filter(|p| p.conditions + p.false_alerts > 0)
        .collect();
    p.sort_by(|a, b| {
        (b.conditions + b.false_alerts)
            .cmp(&(a.conditions + a.false_alerts))
            .then(a.patient.cmp(&b.patient))
    });
    p.into_iter()
        .take(TIMELINES)
        .map(|p| p.patient.clone())
        .collect()
}

/// Writes every scorecard file into `dir`.
pub fn write_all(dir: &Path, card: &Scorecard, plots: &Plots) -> std::io::Result<()> {
    std::fs::write(dir.join(FILES[0]), to_json(card))?;
    std::fs::write(dir.join(FILES[1]), markdown(card))?;
    std::fs::write(dir.join(FILES[2]), html(card, plots))?;
    std::fs::write(dir.join(FILES[3]), junit(card))
}

/// The headline, for the terminal.
pub fn summary_lines(card: &Scorecard) -> Vec<String> {
    let o = &card.overall;
    let mut out = vec![
        format!(
            "scorecard     {} conditions: {} detected, {} missed, {} unknown; sensitivity {}, PPV {}",
            o.conditions,
            o.detected,
            o.missed,
            o.unknown,
            ratio(o.sensitivity),
            ratio(o.ppv)
        ),
        format!(
            "  alerts      {} scored ({} rejected); {:.2} per bed per day, {:.2} false; latency p50 {}, p90 {}",
            card.intake.scored,
            card.intake.received - card.intake.scored,
            o.alerts_per_bed_day,
            o.false_alerts_per_bed_day,
            dur(o.latency_p50_ms),
            dur(o.latency_p90_ms)
        ),
    ];
    for c in card.classes.iter().filter(|c| c.conditions + c.alerts > 0) {
        out.push(format!(
            "  {:<22} sens {:>5}  ppv {:>5}  false/bed/day {:>7.2}  p90 {}",
            c.class,
            ratio(c.sensitivity),
            ratio(c.ppv),
            c.false_alerts_per_bed_day,
            dur(c.latency_p90_ms)
        ));
    }
    if let Some(d) = &card.drill {
        out.extend(drill::summary_lines(d));
    }
    if let Some(c) = &card.cinc {
        out.push(format!(
            "  CinC 2015   score {} (TP {}, TN {}, FP {}, FN {}); best real-time entry in 2015: {:.4}",
            ratio(c.overall.score),
            c.overall.tp,
            c.overall.tn,
            c.overall.fp,
            c.overall.fn_,
            c.published_best_realtime
        ));
    }
    for g in &card.gates {
        out.push(format!(
            "  gate        {} {}: {}",
            if g.passed { "PASS" } else { "FAIL" },
            g.gate,
            g.detail
        ));
    }
    out
}

const CLASS_HEADER: &str = "| class | conditions | detected | missed | unknown | sensitivity | PPV | alerts/bed/day | false/bed/day | latency p50 / p90 / max | PhysioNet |\n|---|---|---|---|---|---|---|---|---|---|---|\n";

fn class_row(c: &ClassScore) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {} / {} / {} | {} |\n",
        c.class,
        c.conditions,
        c.detected,
        c.missed,
        c.unknown,
        ratio(c.sensitivity),
        ratio(c.ppv),
        c.alerts_per_bed_day,
        c.false_alerts_per_bed_day,
        dur(c.latency_p50_ms),
        dur(c.latency_p90_ms),
        dur(c.latency_max_ms),
        ratio(c.physionet_score)
    )
}

/// `scorecard.md`.
pub fn markdown(card: &Scorecard) -> String {
    let r = &card.run;
    let mut s = String::new();
    let _ = writeln!(s, "# Scorecard: {} (seed {})\n", r.scenario, r.seed);
    let _ = writeln!(
        s,
        "{} to {}, {} beds, {} bed-days. Verdict: **{}**.\n",
        format_iso_ms(r.epoch_ms),
        format_iso_ms(r.end_ms),
        r.beds,
        card.bed_days,
        if card.passed { "pass" } else { "FAIL" }
    );
    for w in &card.warnings {
        let _ = writeln!(s, "**Warning:** {w}.\n");
    }
    if !card.gates.is_empty() {
        s.push_str("## Gates\n\n| gate | result | figure |\n|---|---|---|\n");
        for g in &card.gates {
            let verdict = if g.passed { "pass" } else { "**FAIL**" };
            let _ = writeln!(s, "| `{}` | {verdict} | {} |", g.gate, g.detail);
        }
        s.push('\n');
    }
    drill::markdown(card, &mut s);
    s.push_str("## By class\n\n");
    s.push_str(CLASS_HEADER);
    for c in card.classes.iter().chain(std::iter::once(&card.overall)) {
        s.push_str(&class_row(c));
    }
    if let Some(c) = &card.cinc {
        s.push_str(
            "\n## Arrhythmias (PhysioNet/CinC 2015)\n\n\
             Score (TP + TN) / (TP + TN + FP + 5·FN): TN are the recorded artifacts that could \
             mimic the class and that no alert of it fell for.\n\n\
             | class | TP | TN | FP | FN | score |\n|---|---|---|---|---|---|\n",
        );
        for r in c.classes.iter().chain(std::iter::once(&c.overall)) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                r.class,
                r.tp,
                r.tn,
                r.fp,
                r.fn_,
                ratio(r.score)
            );
        }
        let _ = writeln!(
            s,
            "\nThe challenge's best real-time entry scored {:.2} (of 100).",
            100.0 * c.published_best_realtime
        );
    }
    s.push_str("\n## Alerts\n\n| class | alerts | true | repeats | under-prioritised | false | of which during an artifact | don't care | artifacts resisted |\n|---|---|---|---|---|---|---|---|---|\n");
    for c in card.classes.iter().chain(std::iter::once(&card.overall)) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} of {} |",
            c.class,
            c.alerts,
            c.true_alerts,
            c.repeats,
            c.under_prioritised,
            c.false_alerts,
            c.false_during_artifact,
            c.dont_care,
            c.true_negatives,
            c.artifacts
        );
    }
    let o = &card.overall;
    let _ = writeln!(
        s,
        "\n## Delays (IEC 60601-1-8)\n\n| | p50 | p90 |\n|---|---|---|\n| alarm condition delay (stated start − true onset) | {} | {} |\n| alarm signal generation delay (arrival − stated start) | {} | {} |\n\nPriority as the condition's severity calls for: {} of detections.\n",
        dur(o.condition_delay_p50_ms),
        dur(o.condition_delay_p90_ms),
        dur(o.signal_delay_p50_ms),
        dur(o.signal_delay_p90_ms),
        ratio(o.priority_agreement)
    );
    let i = &card.intake;
    let _ = writeln!(
        s,
        "## Intake\n\n{} received, {} scored; rejected: {} malformed, {} oversize, {} unknown class, {} unknown subject; {} reused an alert id.\n",
        i.received,
        i.scored,
        i.malformed,
        i.oversize,
        i.unknown_class,
        i.unknown_subject,
        i.duplicate_ids
    );
    if !i.rejected.is_empty() {
        s.push_str("| line | reason | message |\n|---|---|---|\n");
        for r in &i.rejected {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                r.line,
                r.reason,
                r.message.replace('|', "\\|")
            );
        }
        s.push('\n');
    }
    s.push_str("## Delivery (the twin's ledger)\n\n| fate | emissions |\n|---|---|\n");
    for (fate, n) in &card.delivery {
        let _ = writeln!(s, "| {fate} | {n} |");
    }
    if let Some(g) = &card.ingestion {
        let _ = writeln!(
            s,
            "\n## Ingestion echo\n\n{} of {} emissions echoed (completeness {}), {} duplicates, {} unknown, {} malformed; ingest delay p50 {}, p90 {}, max {}.",
            g.echoed_unique,
            g.expected,
            ratio(g.completeness),
            g.duplicates,
            g.unknown,
            g.malformed,
            dur(g.ingest_delay_p50_ms),
            dur(g.ingest_delay_p90_ms),
            dur(g.ingest_delay_max_ms)
        );
    }
    s.push_str("\n## Per patient\n\n| patient | bed | conditions | detected | missed | unknown | alerts | false | during artifact | sensitivity | PPV |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for p in card.patients.iter().filter(|p| p.conditions + p.alerts > 0) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            p.patient,
            p.bed.as_deref().unwrap_or(""),
            p.conditions,
            p.detected,
            p.missed,
            p.unknown,
            p.alerts,
            p.false_alerts,
            p.false_during_artifact,
            ratio(p.sensitivity),
            ratio(p.ppv)
        );
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Markdown tables to HTML tables (the Markdown is the content; HTML adds the plots).
fn md_to_html(md: &str) -> String {
    let mut out = String::new();
    let mut in_table = false;
    for line in md.lines() {
        if line.starts_with('|') {
            if line.starts_with("|---") {
                continue;
            }
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
            if !in_table {
                out.push_str("<table><tr>");
                for c in &cells {
                    let _ = write!(out, "<th>{}</th>", esc(c.trim()));
                }
                out.push_str("</tr>\n");
                in_table = true;
            } else {
                out.push_str("<tr>");
                for c in &cells {
                    let _ = write!(out, "<td>{}</td>", esc(c.trim()).replace("**", ""));
                }
                out.push_str("</tr>\n");
            }
            continue;
        }
        if in_table {
            out.push_str("</table>\n");
            in_table = false;
        }
        if let Some(h) = line.strip_prefix("## ") {
            let _ = writeln!(out, "<h2>{}</h2>", esc(h));
        } else if let Some(h) = line.strip_prefix("# ") {
            let _ = writeln!(out, "<h1>{}</h1>", esc(h));
        } else if !line.is_empty() {
            let _ = writeln!(out, "<p>{}</p>", esc(line).replace("**", ""));
        }
    }
    if in_table {
        out.push_str("</table>\n");
    }
    out
}

fn colour(class: &str) -> &'static str {
    match class {
        "deterioration" => "#d62728",
        "desaturation" => "#1f77b4",
        "extreme_tachycardia" | "extreme_bradycardia" => "#9467bd",
        "monitoring_lost" => "#17becf",
        "low_battery" => "#bcbd22",
        _ => "#7f7f7f",
    }
}

/// One patient's timeline: true NEWS2 (line), conditions (bands by class), alerts (ticks:
/// filled = detection or repeat, hollow = false).
fn timeline_svg(card: &Scorecard, plots: &Plots, patient: &str) -> String {
    let (w, h, left, top, bottom) = (900.0, 150.0, 40.0, 10.0, 30.0);
    let (t0, t1) = (card.run.epoch_ms as f64, card.run.end_ms as f64);
    let x = |t: i64| left + (t as f64 - t0) / (t1 - t0).max(1.0) * (w - left - 10.0);
    let plot_h = h - top - bottom;
    let y = |n: f64| top + plot_h - n / 20.0 * plot_h;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\"><title>{}</title>",
        esc(patient)
    );
    for (n, label) in [(0.0, "0"), (5.0, "5"), (7.0, "7"), (20.0, "20")] {
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"4\" y=\"{:.1}\" font-size=\"10\">{label}</text>",
            w - 10.0,
            y(n),
            y(n),
            y(n) + 3.0
        );
    }
    // Conditions: one band per class and tier, stacked under the axis.
    for c in card
        .conditions
        .iter()
        .filter(|c| c.patient.as_deref() == Some(patient))
    {
        let (x0, x1) = (x(c.onset_ms), x(c.end_ms.unwrap_or(card.run.end_ms)));
        let tier = match c.severity.as_str() {
            "high" => 2.0,
            "medium" => 1.0,
            _ => 0.0,
        };
        let _ = write!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"4\" fill=\"{}\" opacity=\"0.8\"><title>{} {} {}{}</title></rect>",
            h - bottom + 4.0 + tier * 5.0,
            (x1 - x0).max(1.0),
            colour(&c.class),
            c.class,
            c.severity,
            c.outcome,
            if c.during_outage {
                " (during an outage of its data)"
            } else {
                ""
            }
        );
    }
    if let Some(series) = plots.news2.get(patient) {
        let pts: Vec<String> = series
            .iter()
            .map(|(t, n)| format!("{:.1},{:.1}", x(*t), y(f64::from(*n))))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"#333\" stroke-width=\"1\" points=\"{}\"/>",
            pts.join(" ")
        );
    }
    for (_, t, class, outcome) in plots.alerts.iter().filter(|a| a.0 == patient) {
        let fill = if *outcome == "false" {
            "none"
        } else {
            colour(class)
        };
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{fill}\" stroke=\"{}\"><title>{class} {outcome} {}</title></circle>",
            x(*t),
            top + 4.0,
            colour(class),
            format_iso_ms(*t)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{}\" font-size=\"10\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text></svg>",
        h - 2.0,
        &format_iso_ms(card.run.epoch_ms)[..16],
        w - 10.0,
        h - 2.0,
        &format_iso_ms(card.run.end_ms)[..16]
    );
    s
}

/// Histogram of detection latencies (all classes), 20 bins from 0 to the maximum.
fn latency_svg(card: &Scorecard) -> String {
    let lat: Vec<i64> = card
        .conditions
        .iter()
        .filter_map(|c| c.latency_ms)
        .collect();
    let (w, h, left, bottom) = (600.0, 200.0, 40.0, 30.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\"><title>detection latency</title>"
    );
    let Some(&max) = lat.iter().max() else {
        s.push_str("<text x=\"10\" y=\"20\">no detections</text></svg>");
        return s;
    };
    const BINS: usize = 20;
    let width = (max / BINS as i64).max(1000);
    let mut counts = [0u64; BINS];
    for l in &lat {
        counts[((l / width) as usize).min(BINS - 1)] += 1;
    }
    let top = *counts.iter().max().unwrap_or(&1) as f64;
    let bw = (w - left - 10.0) / BINS as f64;
    for (i, n) in counts.iter().enumerate() {
        let bh = *n as f64 / top * (h - bottom - 10.0);
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#1f77b4\"><title>{} to {}: {n}</title></rect>",
            left + i as f64 * bw,
            h - bottom - bh,
            bw - 1.0,
            format_duration(i as i64 * width),
            format_duration((i as i64 + 1) * width)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{}\" font-size=\"10\">0</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text><text x=\"4\" y=\"12\" font-size=\"10\">{}</text></svg>",
        h - 10.0,
        w - 10.0,
        h - 10.0,
        format_duration(width * BINS as i64),
        top
    );
    s
}

/// `scorecard.html`: the Markdown's content as HTML, plus the plots.
pub fn html(card: &Scorecard, plots: &Plots) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>wardtwin scorecard</title><style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}</style></head><body>\n",
    );
    s.push_str(&md_to_html(&markdown(card)));
    s.push_str("<h2>Detection latency</h2>\n");
    s.push_str(&latency_svg(card));
    drill::html(card, &mut s);
    s.push_str("\n<h2>Timelines</h2>\n<p>True NEWS2 (line, 0–20), conditions (bands under the axis: low, medium, high tiers), alerts (dots: filled = matched a condition, hollow = false).</p>\n");
    for p in plots.news2.keys() {
        let _ = writeln!(s, "<h3>{}</h3>", esc(p));
        s.push_str(&timeline_svg(card, plots, p));
        s.push('\n');
    }
    s.push_str("</body></html>\n");
    s
}

/// `junit.xml`: one test case per gate (a run with no gates has one passing case).
pub fn junit(card: &Scorecard) -> String {
    let failures = card.gates.iter().filter(|g| !g.passed).count();
    let errors = usize::from(!card.validity.valid);
    let tests = card.gates.len().max(1) + errors;
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"wardtwin\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n<testsuite name=\"scorecard {}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n",
        esc(&card.run.scenario)
    );
    // An invalid run is an error of the testbench's setup, not a failure of the system.
    if !card.validity.valid {
        let causes = card.validity.causes.join("; ");
        let _ = writeln!(
            s,
            "<testcase classname=\"wardtwin.validity\" name=\"the system under test was fed\"><error message=\"invalid run\">{}</error></testcase>",
            esc(&causes)
        );
    }
    if card.gates.is_empty() {
        s.push_str("<testcase classname=\"wardtwin.gates\" name=\"no gates\"/>\n");
    }
    for g in &card.gates {
        let _ = write!(
            s,
            "<testcase classname=\"wardtwin.gates\" name=\"{}\"",
            esc(&g.gate)
        );
        if g.passed {
            s.push_str("/>\n");
        } else {
            let _ = writeln!(
                s,
                "><failure message=\"{}\">{}</failure></testcase>",
                esc(&g.detail),
                esc(&g.detail)
            );
        }
    }
    s.push_str("</testsuite>\n</testsuites>\n");
    s
}
