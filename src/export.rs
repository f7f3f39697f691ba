//! `wardtwin export`: a run folder in another format. `fhir`: FHIR R4 bulk data
//! (`exporters::fhir`, docs/fhir.md).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use wardtwin_exporters::fhir::{FhirOptions, export};

/// `wardtwin export FORMAT RUN`
#[derive(clap::Subcommand, Debug)]
pub enum ExportCommand {
    /// FHIR R4 bulk data: application/fhir+ndjson, one file per resource type (Location,
    /// Patient, Encounter, Device, Observation; Flag and DetectedIssue with --truth), and the
    /// bulk-data manifest (manifest.json).
    Fhir(FhirArgs),
}

#[derive(clap::Args, Debug)]
pub struct FhirArgs {
    /// The run folder.
    pub run: PathBuf,
    /// Where the NDJSON files go [default: RUN/fhir].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also the ground truth, labelled as such: deterioration episodes as Flag, conditions as
    /// DetectedIssue (a truth-labelled dataset).
    #[arg(long)]
    pub truth: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The site's name: from the run's scenario when it can be loaded (its `session.toml`, or the
/// scenario its manifest names), else the scenario's name.
fn site_name(run: &Path) -> Result<String> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).with_context(|| {
            format!("{} is not a run folder (no manifest.json)", run.display())
        })?)
        .with_context(|| format!("{}/manifest.json is not JSON", run.display()))?;
    let name = manifest["scenario"]["name"]
        .as_str()
        .unwrap_or("site")
        .to_string();
    let session = run.join("session.toml");
    let origin = manifest["scenario"]["origin"].as_str().unwrap_or("");
    let source = if session.is_file() {
        session.to_string_lossy().into_owned()
    } else {
        let o = origin.split(" (with").next().unwrap_or(origin);
        o.strip_prefix("library:").unwrap_or(o).to_string()
    };
    Ok(wardtwin_scenarios::load(&source).map_or(name, |s| s.site.name))
}

pub fn export_cmd(cmd: &ExportCommand) -> Result<()> {
    let ExportCommand::Fhir(a) = cmd;
    let out = a.out.clone().unwrap_or_else(|| a.run.join("fhir"));
    let opts = FhirOptions {
        site_name: site_name(&a.run)?,
        truth: a.truth,
        request: format!(
            "wardtwin export fhir {}{}",
            a.run.display(),
            if a.truth { " --truth" } else { "" }
        ),
    };
    // Wall time is reported, never fed to the model.
    #[allow(clippy::disallowed_methods)]
    let t0 = Instant::now();
    let report = export(&a.run, &out, &opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    let secs = t0.elapsed().as_secs_f64();
    if !a.quiet {
        for (t, n) in &report.files {
            outln!("{t:>14}: {n}");
        }
        outln!(
            "{} resources in {:.1} s ({:.0} resources/s) -> {}",
            report.resources(),
            secs,
            report.resources() as f64 / secs.max(1e-9),
            out.display()
        );
    }
    Ok(())
}
