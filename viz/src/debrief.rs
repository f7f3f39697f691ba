//! The session's debrief page (`debrief.html` in its run folder): the session's timeline with
//! the instructor's injections and the trainee's escalations over the truth (the conditions
//! the scorer judged, each detected or missed, and how late), and the trainee's figures. Written
//! at the end of a session in which the trainee escalated; the scorecard beside it has the
//! rest (per-class figures, NEWS2 plots).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use wardtwin_scoring::Scorecard;
use wardtwin_sim::time::{SimMillis, format_duration, format_iso_ms};

/// The debrief page's file name.
pub const DEBRIEF: &str = "debrief.html";

/// One escalation, as the debrief lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalated {
    /// Its line in alerts.jsonl (1-based).
    pub line: usize,
    pub at_ms: SimMillis,
    pub subject: String,
    pub class: String,
    pub priority: &'static str,
}

/// One row of the timeline.
struct Row {
    at_ms: SimMillis,
    who: &'static str,
    what: String,
    outcome: String,
    colour: &'static str,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes `debrief.html` into `out`.
pub fn write(
    out: &Path,
    card: &Scorecard,
    epoch_ms: SimMillis,
    end_ms: SimMillis,
    injected: &[(SimMillis, String)],
    escalated: &[Escalated],
) -> Result<()> {
    let mut rows = Vec::new();
    for (at, label) in injected {
        rows.push(Row {
            at_ms: *at,
            who: "instructor",
            what: format!("injected {label}"),
            outcome: String::new(),
            colour: "#a070ff",
        });
    }
    for c in card
        .conditions
        .iter()
        .filter(|c| c.outcome == "detected" || c.outcome == "missed")
    {
        rows.push(Row {
            at_ms: c.onset_ms,
            who: "truth",
            what: format!(
                "{} ({}) of {} {}",
                c.class,
                c.severity,
                c.patient.as_deref().unwrap_or(&c.subject),
                c.end_ms.map_or("to the end".into(), |e| format!(
                    "for {}",
                    format_duration(e - c.onset_ms)
                ))
            ),
            outcome: match (c.outcome, c.latency_ms) {
                ("detected", Some(l)) => format!(
                    "escalated after {} (line {})",
                    format_duration(l.max(0)),
                    c.alert_line.unwrap_or(0)
                ),
                ("detected", None) => "escalated".into(),
                _ => "missed".into(),
            },
            colour: if c.outcome == "detected" {
                "#3c3"
            } else {
                "#e33"
            },
        });
    }
    for e in escalated {
        let hit = card
            .conditions
            .iter()
            .find(|c| c.alert_line == Some(e.line) && c.outcome == "detected");
        rows.push(Row {
            at_ms: e.at_ms,
            who: "trainee",
            what: format!("escalated {} {} ({})", e.subject, e.class, e.priority),
            outcome: match hit {
                Some(c) => format!("true: caught {} of {}", c.class, c.subject),
                None => "no condition it was the first to catch (a false call, or a repeat)".into(),
            },
            colour: if hit.is_some() { "#3cf" } else { "#fa3" },
        });
    }
    rows.sort_by(|a, b| a.at_ms.cmp(&b.at_ms).then(a.who.cmp(b.who)));

    let o = &card.overall;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>debrief: {name}</title>\
         <style>body{{font-family:sans-serif;background:#111;color:#ddd;margin:2em}}\
         td,th{{padding:2px 8px;text-align:left}}tr:nth-child(even){{background:#1a1a1a}}\
         .k{{font-family:monospace}}</style></head><body>\
         <h1>Debrief: {name} (seed {seed})</h1>\
         <p>Session {from} to {to}. The trainee escalated {n} time(s): {t} true, {f} false; \
         sensitivity {sens}, latency p50 {p50}, p90 {p90}. The scorecard: \
         <a href=\"scorecard.html\">scorecard.html</a>.</p>",
        name = esc(&card.run.scenario),
        seed = card.run.seed,
        from = &format_iso_ms(epoch_ms)[..16],
        to = &format_iso_ms(end_ms)[..16],
        n = escalated.len(),
        t = o.true_alerts,
        f = o.false_alerts,
        sens = o.sensitivity.map_or("n/a".into(), |s| format!("{s:.2}")),
        p50 = o
            .latency_p50_ms
            .map_or("n/a".into(), |l| format_duration(l.max(0))),
        p90 = o
            .latency_p90_ms
            .map_or("n/a".into(), |l| format_duration(l.max(0))),
    );
    // The timeline as a strip: truth, instructor and trainee rows.
    let span = (end_ms - epoch_ms).max(1) as f64;
    let x = |t: SimMillis| 10.0 + 980.0 * ((t - epoch_ms) as f64 / span).clamp(0.0, 1.0);
    let _ = write!(
        h,
        "<svg width=\"1000\" height=\"90\" style=\"background:#222\">\
         <text x=\"10\" y=\"14\" fill=\"#999\" font-size=\"11\">truth</text>\
         <text x=\"10\" y=\"46\" fill=\"#999\" font-size=\"11\">instructor</text>\
         <text x=\"10\" y=\"76\" fill=\"#999\" font-size=\"11\">trainee</text>"
    );
    for r in &rows {
        let y = match r.who {
            "truth" => 18,
            "instructor" => 50,
            _ => 80,
        };
        let _ = write!(
            h,
            "<rect x=\"{:.1}\" y=\"{}\" width=\"3\" height=\"8\" fill=\"{}\"><title>{} {}</title></rect>",
            x(r.at_ms),
            y,
            r.colour,
            &format_iso_ms(r.at_ms)[11..19],
            esc(&r.what)
        );
    }
    h.push_str("</svg><table><tr><th>time</th><th>who</th><th>what</th><th>outcome</th></tr>");
    for r in &rows {
        let _ = write!(
            h,
            "<tr><td class=\"k\">{}</td><td style=\"color:{}\">{}</td><td>{}</td><td>{}</td></tr>",
            &format_iso_ms(r.at_ms)[11..19],
            r.colour,
            r.who,
            esc(&r.what),
            esc(&r.outcome)
        );
    }
    h.push_str("</table></body></html>\n");
    let path = out.join(DEBRIEF);
    std::fs::write(&path, h).with_context(|| format!("cannot write {}", path.display()))
}
