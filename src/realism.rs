//! `wardtwin realism RUN`: how realistic a run's patients and devices are, against published
//! ward figures ([`wardtwin_exporters::realism`]); `realism.json` and `realism.md` in the run
//! folder (or `--out`), the Markdown on the terminal.

use std::path::PathBuf;

use anyhow::{Context, Result};
use wardtwin_exporters::realism;

#[derive(clap::Args, Debug)]
pub struct RealismArgs {
    /// Run folders (written by `wardtwin run`); several are pooled into one population (runs of
    /// the same length: device-days are counted on the first run's).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Where to write realism.json and realism.md [default: the first run folder].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Exit with code 1 if a check fails (for CI).
    #[arg(long)]
    pub check: bool,
    /// Only the checks on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn realism(args: &RealismArgs) -> Result<crate::run::Outcome> {
    let mut runs = Vec::new();
    for run in &args.runs {
        anyhow::ensure!(
            run.join("manifest.json").is_file(),
            "{} is not a run folder (no manifest.json)",
            run.display()
        );
        runs.push(realism::read_inputs(run)?);
    }
    let report = realism::compute(&realism::Inputs::pool(runs));
    let out = args.out.as_deref().unwrap_or(&args.runs[0]);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let md = realism::to_markdown(&report);
    for (name, text) in [
        ("realism.json", report.to_json()),
        ("realism.md", md.clone()),
    ] {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.quiet {
        for c in &report.checks {
            let v = c.value.map_or("n/a".into(), |v| format!("{v:.3}"));
            outln!(
                "{:<4} {:<40} {v} (published {}–{})",
                c.verdict,
                c.key,
                c.lo,
                c.hi
            );
        }
    } else {
        for line in md.lines() {
            outln!("{line}");
        }
    }
    let failed: Vec<&str> = report.failed().map(|c| c.key).collect();
    if !failed.is_empty() {
        wardtwin_exporters::errln!(
            "realism: {} check(s) outside the published range: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(if args.check && !failed.is_empty() {
        crate::run::Outcome::GateFailed
    } else {
        crate::run::Outcome::Done
    })
}
