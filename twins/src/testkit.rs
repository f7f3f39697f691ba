//! Helpers for the twins' tests: run a scenario into memory.

use wardtwin_scenarios::Scenario;
use wardtwin_sim::{Directory, MemorySink, Recorded, Sim, Sinks};

use bevy_app::{PluginGroup, PluginGroupBuilder};

use crate::{BuildOptions, TwinPlugins, build_app_with};

/// Runs `scenario` to its end and returns everything recorded, with the directory.
pub fn run_to_memory(scenario: &Scenario) -> (Recorded, Directory) {
    run_to_memory_with(scenario, TwinPlugins.build())
}

/// [`run_to_memory`] with a chosen set of twin plugins.
pub fn run_to_memory_with(scenario: &Scenario, twins: PluginGroupBuilder) -> (Recorded, Directory) {
    let (mut app, dir) = build_app_with(scenario, &BuildOptions::default(), twins);
    let sink = MemorySink::default();
    app.insert_resource(Sinks::new(vec![Box::new(sink.clone())]));
    let mut sim = Sim::new(app);
    sim.run(u64::MAX, |_, _| {});
    sim.finish().expect("memory sink cannot fail");
    (sink.take(), dir)
}

/// A small scenario: `beds` beds in ward W1, `duration` long, with `extra` TOML appended.
pub fn small(beds: u32, duration: &str, extra: &str) -> Scenario {
    let text = format!(
        "[scenario]\nname = \"t\"\nepoch = 2026-03-02T00:00:00Z\nduration = \"{duration}\"\nseed = 3\n\n[[ward]]\nid = \"W1\"\nbeds = {beds}\n{extra}"
    );
    wardtwin_scenarios::parse(&text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

pub fn library(name: &str) -> Scenario {
    wardtwin_scenarios::load(name).expect("library scenario")
}

/// The ledger rows of readings (status messages have their own).
pub fn telemetry_fates(rec: &Recorded) -> Vec<wardtwin_sim::records::EmissionFate> {
    rec.get::<wardtwin_sim::records::EmissionFate>()
        .iter()
        .filter(|f| f.kind == wardtwin_sim::records::EmissionKind::Telemetry)
        .copied()
        .collect()
}
