//! After the run: what its delivery means for the exit code, and collecting and scoring what
//! the system under test sent.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use wardtwin_exporters::hl7::Hl7Intake;
use wardtwin_exporters::mqtt::{Collector, EmbeddedBroker};
use wardtwin_reference::ReferenceStack;

use super::Outcome;

/// The system under test's side at the end of a run: the alert collector, the in-process
/// reference stack if any, and the embedded broker if the run started one.
/// Where the system under test's alerts come in.
pub(super) enum Intake {
    /// Alert v1 on an MQTT topic.
    Mqtt(Box<Collector>),
    /// IHE PCD ACM over MLLP (`--alerts-hl7`).
    Hl7(Hl7Intake),
}

impl Intake {
    fn finish(
        self,
        enough: impl Fn(u64) -> bool,
        quiet: Duration,
        limit: Duration,
    ) -> std::io::Result<wardtwin_exporters::mqtt::CollectorReport> {
        match self {
            Intake::Mqtt(c) => c.finish(enough, quiet, limit),
            Intake::Hl7(h) => h.finish(enough, quiet, limit),
        }
    }
}

pub(super) struct Receivers<'a> {
    pub collector: Intake,
    pub reference: Option<ReferenceStack>,
    pub embedded: Option<&'a EmbeddedBroker>,
}

/// Collects what is still coming from the system under test, then scores the run folder.
pub(super) fn collect_and_score(
    Receivers {
        collector,
        reference,
        embedded,
    }: Receivers<'_>,
    grace: Duration,
    out: &Path,
    quiet: bool,
    delivery: Delivery,
    interrupted: bool,
) -> Result<Outcome> {
    // The run is over and the gateways have said goodbye; collect what is still coming.
    let published = reference.map(|r| r.join(REFERENCE_LIMIT).alerts);
    let collected = collector
        .finish(
            |n| published.is_some_and(|p| n >= p),
            if published.is_some() {
                REFERENCE_LIMIT
            } else {
                grace
            },
            if published.is_some() {
                REFERENCE_LIMIT
            } else {
                grace * 5
            },
        )
        .with_context(|| format!("cannot write the alerts log in {}", out.display()))?;
    if let Some(p) = published
        && collected.alerts < p
    {
        wardtwin_exporters::errln!(
            "warning: the reference stack published {p} alerts, {} arrived",
            collected.alerts
        );
    }
    if collected.cut_off {
        wardtwin_exporters::errln!(
            "warning: alerts were still arriving when collection ended (after {}); some may not \
             be scored: raise --alerts-grace",
            wardtwin_sim::time::format_duration(grace.as_millis() as i64 * 5)
        );
    }
    if let Some(b) = embedded {
        // Alerts are pushed every second: give the last one time to arrive.
        let d = b.wait_for_discards(Duration::from_millis(1100));
        let path = out.join(wardtwin_exporters::runfolder::BROKER_LOG);
        let text = serde_json::to_string_pretty(&d).expect("discards serialise");
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let card = crate::score::score_run(out, out, None, &[])?;
    outln!(
        "  collected     {} alerts, {} echoes",
        collected.alerts,
        collected.echoes
    );
    crate::score::print_summary(&card, out, quiet);
    Ok(match delivery {
        _ if interrupted => Outcome::Interrupted,
        // A `delivered` gate is in the scorecard's verdict already.
        Delivery::Short => Outcome::DeliveryShort,
        _ if !card.validity.valid => Outcome::Invalid,
        _ if !card.passed => Outcome::GateFailed,
        _ => Outcome::Done,
    })
}

/// What a live run's delivery means for its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Delivery {
    /// Nothing lost.
    Complete,
    /// Lost, but `--allow-loss` or the `delivered` gates accept it.
    Accepted,
    /// Lost, and a `delivered` gate failed.
    GateFailed,
    /// Lost, and nothing accepts it.
    Short,
}

/// Says prominently (stderr) when telemetry was lost, and whether that is accepted.
pub(super) fn delivery_verdict(
    r: &wardtwin_exporters::mqtt::LiveReport,
    gates: &[String],
    allow_loss: bool,
) -> Delivery {
    let lost = r.lost();
    if r.fhir_lost > 0 {
        wardtwin_exporters::errln!(
            "\nWARNING: {} of {} FHIR copies of readings (--fhir-topic) never reached the broker",
            r.fhir_lost,
            r.fhir_messages.max(r.fhir_lost)
        );
    }
    if r.chart_lost > 0 {
        wardtwin_exporters::errln!(
            "\nWARNING: {} of {} rounds of the chart (--fhir-topic) never reached the broker",
            r.chart_lost,
            r.chart_messages.max(r.chart_lost)
        );
    }
    // FHIR lost with every reading delivered (with readings lost too, the verdict below says
    // it for both).
    if (r.fhir_lost > 0 || r.chart_lost > 0) && lost == 0 {
        if allow_loss {
            wardtwin_exporters::errln!("         accepted: --allow-loss");
            return Delivery::Accepted;
        }
        wardtwin_exporters::errln!("         exit code 3: pass --allow-loss to accept it");
        return Delivery::Short;
    }
    if lost == 0 {
        return Delivery::Complete;
    }
    let total = r.acknowledged + r.sent + lost;
    wardtwin_exporters::errln!(
        "\nWARNING: delivery fell short: {lost} of {total} telemetry messages never reached the broker \
         ({} unacknowledged, {} unsent, {} dropped){}",
        r.unacknowledged,
        r.unsent,
        r.dropped,
        r.last_error
            .as_ref()
            .map_or(String::new(), |e| format!("; last error: {e}"))
    );
    let delivered: Vec<_> = gates
        .iter()
        .filter_map(|g| wardtwin_scoring::gates::parse(g).ok())
        .filter(|g| g.metric == "delivered")
        .collect();
    if allow_loss {
        wardtwin_exporters::errln!("         accepted: --allow-loss");
        return Delivery::Accepted;
    }
    if delivered.is_empty() {
        wardtwin_exporters::errln!(
            "         exit code 3: pass --allow-loss, or gate it in the scenario (delivered >= 0.95)"
        );
        return Delivery::Short;
    }
    let ratio = r.delivered_ratio().unwrap_or(0.0);
    let failed: Vec<&str> = delivered
        .iter()
        .filter(|g| !g.op_holds(ratio))
        .map(|g| g.text.as_str())
        .collect();
    if failed.is_empty() {
        wardtwin_exporters::errln!(
            "         accepted by the scenario's gates (delivered {ratio:.4})"
        );
        Delivery::Accepted
    } else {
        wardtwin_exporters::errln!(
            "         gate failed: {} (delivered {ratio:.4})",
            failed.join(", ")
        );
        Delivery::GateFailed
    }
}

/// How long the end of a run waits for the in-process reference stack to finish.
pub(super) const REFERENCE_LIMIT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;
    use wardtwin_exporters::mqtt::LiveReport;

    fn report(acknowledged: u64, dropped: u64) -> LiveReport {
        LiveReport {
            acknowledged,
            dropped,
            ..LiveReport::default()
        }
    }

    /// Hardening issue: a live run whose broker never came back exited 0. Loss decides the exit
    /// code unless --allow-loss or a `delivered` gate accepts it.
    #[test]
    fn hardening_lost_telemetry_fails_the_run_unless_accepted() {
        let gate = |g: &str| vec![g.to_string()];
        assert_eq!(
            delivery_verdict(&report(100, 0), &[], false),
            Delivery::Complete
        );
        assert_eq!(
            delivery_verdict(&report(42, 58), &[], false),
            Delivery::Short
        );
        assert_eq!(
            delivery_verdict(&report(42, 58), &[], true),
            Delivery::Accepted
        );
        let ok = gate("delivered >= 0.95");
        assert_eq!(
            delivery_verdict(&report(96, 4), &ok, false),
            Delivery::Accepted
        );
        assert_eq!(
            delivery_verdict(&report(42, 58), &ok, false),
            Delivery::GateFailed
        );
        // Other gates do not accept loss.
        let other = gate("sensitivity >= 0.5");
        assert_eq!(
            delivery_verdict(&report(96, 4), &other, false),
            Delivery::Short
        );
    }

    /// A FHIR copy or a chart round the broker never confirmed is loss too.
    #[test]
    fn lost_fhir_bundles_and_chart_rounds_fail_the_run_unless_accepted() {
        for r in [
            LiveReport {
                fhir_messages: 10,
                fhir_lost: 1,
                ..report(100, 0)
            },
            LiveReport {
                chart_messages: 10,
                chart_lost: 1,
                ..report(100, 0)
            },
        ] {
            assert_eq!(delivery_verdict(&r, &[], false), Delivery::Short);
            assert_eq!(delivery_verdict(&r, &[], true), Delivery::Accepted);
        }
    }
}
