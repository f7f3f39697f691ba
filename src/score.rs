//! `wardtwin score`: score a run folder offline (the same function a live run calls at its end,
//! so re-scoring gives a byte-identical `scorecard.json`); and `wardtwin reference-stack`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use wardtwin_exporters::mqtt::BrokerUrl;
use wardtwin_exporters::report::{self as render, Plots};
use wardtwin_exporters::runfolder::{self, ALERTS_LOG};
use wardtwin_reference::{PolicyKind, ReferenceConfig, ReferenceStack};
use wardtwin_scoring::Scorecard;
use wardtwin_scoring::matcher::{AlertOutcome, match_alerts};

/// Default topic a system under test publishes alerts on.
pub const DEFAULT_ALERTS_TOPIC: &str = "sut/alerts";
/// Where the in-process reference stack echoes what it ingested.
pub const DEFAULT_ECHO_TOPIC: &str = "sut/ingested";

#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// A run folder (written by `wardtwin run`).
    pub run: PathBuf,
    /// Alerts to score, as JSONL (default: the run folder's alerts.jsonl; see docs/scoring.md).
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// An extra gate, e.g. "sensitivity.deterioration >= 0.9" (repeatable; added to the
    /// scenario's).
    #[arg(long = "gate", value_name = "GATE")]
    pub gates: Vec<String>,
    /// Where to write the scorecard files [default: the run folder].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No per-class summary on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Scores run folder `dir` and writes the scorecard files into `out`.
pub fn score_run(
    dir: &Path,
    out: &Path,
    alerts: Option<&Path>,
    extra_gates: &[String],
) -> Result<Scorecard> {
    let (header, inputs) = runfolder::load_inputs(dir, alerts)?;
    let gates = header
        .gates
        .iter()
        .chain(extra_gates)
        .map(|g| wardtwin_scoring::gates::parse(g).map_err(|e| anyhow::anyhow!("gate {g:?}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let matching = match_alerts(&inputs);
    let mut card = wardtwin_scoring::scorecard::score_matched(&inputs, &matching);
    wardtwin_scoring::gates::apply(&mut card, &gates);

    let mut plots = Plots::default();
    for ((rec, outcome), patient) in inputs
        .alerts
        .iter()
        .zip(&matching.alerts)
        .zip(&matching.alert_patients)
    {
        let (Some(p), Ok(a)) = (patient, &rec.alert) else {
            continue;
        };
        let what = match outcome {
            AlertOutcome::False(_) => "false",
            AlertOutcome::Detection(_) => "detection",
            AlertOutcome::Repeat(_) => "repeat",
            AlertOutcome::UnderPrioritised(_) => "under-prioritised",
            AlertOutcome::DontCare(_) => "don't care",
            AlertOutcome::Rejected(..) => continue,
        };
        plots
            .alerts
            .push((p.clone(), rec.arrival_ms, a.class.clone(), what));
    }
    plots.news2 = runfolder::news2_series(dir, &render::timeline_patients(&card))?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    render::write_all(out, &card, &plots)
        .with_context(|| format!("cannot write the scorecard into {}", out.display()))?;
    Ok(card)
}

/// Prints the scorecard's headline and where the files are.
pub fn print_summary(card: &Scorecard, dir: &Path, quiet: bool) {
    let lines = render::summary_lines(card);
    let shown = if quiet { 2 } else { lines.len() };
    for l in lines.iter().take(shown) {
        outln!("{l}");
    }
    if quiet {
        for l in lines.iter().filter(|l| l.contains("gate ")) {
            outln!("{l}");
        }
    }
    outln!(
        "  files       {}/{{{}}}",
        dir.display(),
        render::FILES.join(",")
    );
    for w in &card.warnings {
        wardtwin_exporters::errln!("warning: {w}");
    }
    if !card.validity.valid {
        for c in &card.validity.causes {
            wardtwin_exporters::errln!("invalid run: {c}");
        }
        outln!(
            "  verdict     INVALID RUN: the system under test was not fed everything, in time; \
             the figures above do not grade it (exit code 3)"
        );
    } else if !card.passed {
        let failed = card.gates.iter().filter(|g| !g.passed).count();
        outln!(
            "  verdict     FAILED: {failed} of {} gate(s)",
            card.gates.len()
        );
    }
}

pub fn score(args: &ScoreArgs) -> Result<crate::run::Outcome> {
    anyhow::ensure!(
        args.run.join("manifest.json").is_file(),
        "{} is not a run folder (no manifest.json)",
        args.run.display()
    );
    if args.alerts.is_none() && !args.run.join(ALERTS_LOG).is_file() {
        wardtwin_exporters::errln!(
            "note: {} has no {ALERTS_LOG}: scoring it as a silent system (pass --alerts FILE)",
            args.run.display()
        );
    }
    let out = args.out.as_deref().unwrap_or(&args.run);
    let card = score_run(&args.run, out, args.alerts.as_deref(), &args.gates)?;
    outln!("wardtwin score {}", args.run.display());
    print_summary(&card, out, args.quiet);
    Ok(if !card.validity.valid {
        crate::run::Outcome::Invalid
    } else if card.passed {
        crate::run::Outcome::Done
    } else {
        crate::run::Outcome::GateFailed
    })
}

#[derive(clap::Args, Debug)]
pub struct ReferenceArgs {
    /// The broker the twin publishes to: mqtt://host[:port] or mqtts://host[:port].
    /// Credentials come from WARDTWIN_MQTT_USERNAME / WARDTWIN_MQTT_PASSWORD or --credentials.
    #[arg(long, value_name = "URL")]
    pub broker: String,
    /// naive: every reading against default monitor limits; news2: NEWS2 with persistence and
    /// artifact filtering.
    #[arg(long, value_enum, default_value_t = Policy::News2)]
    pub policy: Policy,
    /// The twin's topic prefix.
    #[arg(long, default_value = wardtwin_exporters::wire::DEFAULT_PREFIX)]
    pub topic_prefix: String,
    /// Where to publish alerts.
    #[arg(long, default_value = DEFAULT_ALERTS_TOPIC)]
    pub alerts_topic: String,
    /// Also publish what was ingested, as (device, seq), on this topic.
    #[arg(long, value_name = "TOPIC")]
    pub echo_topic: Option<String>,
    /// Exit once every gateway has shut down (the end of the twin's run).
    #[arg(long)]
    pub until_shutdown: bool,
    /// Follow the twin's clock in lockstep (`wardtwin run ... --sync lockstep`): hold telemetry
    /// until the clock message that covers it, process it in a fixed order, then acknowledge
    /// (docs/wire-v1.md, "Simulation clock").
    #[arg(long)]
    pub lockstep: bool,
    #[command(flatten)]
    pub security: crate::run::BrokerSecurity,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Naive,
    News2,
}

impl Policy {
    pub fn kind(self) -> PolicyKind {
        match self {
            Policy::Naive => PolicyKind::Naive,
            Policy::News2 => PolicyKind::News2,
        }
    }
}

pub fn reference_stack(args: &ReferenceArgs) -> Result<()> {
    let o = args.security.options(BrokerUrl::parse(&args.broker)?)?;
    let cfg = ReferenceConfig {
        policy: args.policy.kind(),
        prefix: args.topic_prefix.clone(),
        alerts_topic: args.alerts_topic.clone(),
        echo_topic: args.echo_topic.clone(),
        until_shutdown: args.until_shutdown,
        lockstep: args.lockstep,
    };
    let id = format!(
        "wtref{}{:x}",
        args.policy.kind().name(),
        std::process::id() & 0xffff
    );
    let stack = ReferenceStack::start(&o, id, cfg)?;
    outln!(
        "reference stack ({}) on {}: telemetry {}/+/+/+/telemetry -> alerts {}",
        args.policy.kind().name(),
        o.broker,
        args.topic_prefix,
        args.alerts_topic
    );
    let r = stack.join(Duration::MAX);
    outln!(
        "reference stack: {} readings ({} duplicates, {} malformed), {} chart rounds, {} alerts; {} reconnects ({} without the session)",
        r.readings,
        r.duplicates,
        r.malformed,
        r.chart_rounds,
        r.alerts,
        r.reconnects,
        r.sessions_lost
    );
    Ok(())
}
