//! The realism report as Markdown (`realism.md`, and the terminal).

use std::fmt::Write as _;

use super::Report;

fn num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "n/a".into()
    }
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1} %", v * 100.0)
    } else {
        "n/a".into()
    }
}

/// The report as Markdown.
pub fn to_markdown(r: &Report) -> String {
    let mut s = String::new();
    let title = if r.scenario.contains(" + ") {
        r.scenario.clone()
    } else {
        format!("{} (seed {})", r.scenario, r.seed)
    };
    let _ = writeln!(
        s,
        "# Realism: {title}\n\n{} patients ({} never in an episode), {} patient-days.\n",
        r.patients,
        r.stable_patients,
        num(r.patient_days, 1)
    );
    s.push_str("## Checks against published figures\n\n");
    s.push_str("| check | run | published range | source | verdict |\n|---|---|---|---|---|\n");
    for c in &r.checks {
        let v = c.value.map_or("n/a".into(), |v| num(v, 3));
        let _ = writeln!(
            s,
            "| {} | {} | {}–{} | {} | {} |",
            c.what,
            v,
            num(c.lo, 3),
            num(c.hi, 3),
            c.source,
            c.verdict
        );
    }
    s.push_str(
        "\n## Baselines of stable patients (per-patient means)\n\n\
         | vital | patients | mean | SD | p5 | p50 | p95 | min | max | most crowded bin | below / above normal | within-patient SD | e-folding |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for v in &r.vitals {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} of {} | {} / {} | {} | {} |",
            v.vital,
            v.patients,
            num(v.mean, 1),
            num(v.sd, 2),
            num(v.p5, 1),
            num(v.p50, 1),
            num(v.p95, 1),
            num(v.min, 1),
            num(v.max, 1),
            pct(v.max_bin_share),
            v.bin,
            pct(v.share_below_normal),
            pct(v.share_above_normal),
            num(v.within_sd, 2),
            v.e_folding_min
                .map_or("n/a".into(), |m| format!("{} min", num(m, 0)))
        );
    }
    let n = &r.news2;
    let _ = writeln!(
        s,
        "\n## NEWS2 over observation sets outside episodes\n\n\
         {} sets (truth samples) of {} patients; {} patients reached 5, {} reached 7.\n\n\
         | 0 | 1–2 | 3–4 | 5–6 | ≥7 | a single 3, under 5 |\n|---|---|---|---|---|---|\n\
         | {} | {} | {} | {} | {} | {} |",
        n.sets,
        n.patients,
        n.patients_reaching_5,
        n.patients_reaching_7,
        pct(n.share_0),
        pct(n.share_1_2),
        pct(n.share_3_4),
        pct(n.share_5_6),
        pct(n.share_ge7),
        pct(n.share_single3_under5)
    );
    s.push_str(
        "\n## Device readings against the truth\n\n\
         | device | metric | readings | with value | bias | error SD | mean abs error | MARD | lag-1 correlation | truth SD (within) |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let opt = |v: Option<f64>, d: usize| v.map_or("n/a".into(), |v| num(v, d));
    for m in &r.metrics {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.device_kind,
            m.metric,
            m.readings,
            m.with_value,
            opt(m.bias, 2),
            opt(m.error_sd, 2),
            opt(m.mean_abs_error, 2),
            m.mard.map_or("".into(), pct),
            opt(m.lag1_correlation, 2),
            opt(m.truth_within_sd, 2)
        );
    }
    s.push_str(
        "\n## Device statuses and artifacts\n\n\
         | device | devices | device-days | readings | statuses | artifacts per device-day |\n\
         |---|---|---|---|---|---|\n",
    );
    for k in &r.device_kinds {
        let status: Vec<String> = k
            .status
            .iter()
            .map(|(st, v)| format!("{st} {}", pct(*v)))
            .collect();
        let arts: Vec<String> = k
            .artifacts_per_day
            .iter()
            .map(|(a, v)| format!("{a} {}", num(*v, 2)))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            k.device_kind,
            k.devices,
            num(k.device_days, 1),
            k.readings,
            status.join(", "),
            arts.join(", ")
        );
    }
    if !r.episodes.is_empty() {
        s.push_str(
            "\n## Deterioration phenotypes (change at full development, mean ± SD [min, max])\n\n\
             | kind | episodes | HR | RR | SpO2 | temperature | systolic | develop (min) | peak NEWS2 | temperature falling |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
        );
        for e in &r.episodes {
            let c = |v: &str, d: usize| {
                let x = &e.change[v];
                format!(
                    "{} ± {} [{}, {}]",
                    num(x.mean, d),
                    num(x.sd, d),
                    num(x.min, d),
                    num(x.max, d)
                )
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} – {} | {} – {} | {} |",
                e.kind,
                e.episodes,
                c("heart_rate", 0),
                c("resp_rate", 0),
                c("spo2", 1),
                c("temp_c", 2),
                c("systolic", 0),
                num(e.develop_min.min, 0),
                num(e.develop_min.max, 0),
                num(e.peak_news2.min, 0),
                num(e.peak_news2.max, 0),
                pct(e.share_temp_falling)
            );
        }
    }
    s
}
