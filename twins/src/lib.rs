//! # wardtwin-twins: the things being simulated
//!
//! One Bevy plugin per twin kind, each in its own module (`mod.rs`: what is modelled, units,
//! components; `plugin.rs`: registration; `systems.rs`; tests):
//!
//! - [`patient`]: true physiology (baselines, circadian rhythm, mean-reverting variability)
//!   and deterioration (sepsis, respiratory failure, haemorrhage); NEWS2 ground truth.
//! - [`device`]: ECG patch, pulse oximeter, BP cuff, temperature patch: cadence, noise, bias,
//!   resolution, clock offset and drift, battery, motion and probe-off artifacts.
//!   Patients also have blood glucose (diabetics, CGM wearers) and, if at risk of falling,
//!   get out of bed.
//! - [`coldchain`]: vaccine fridges and freezers: thermal model, doors, defrost, compressor
//!   failure, power outage, probe failure, excursions.
//! - [`device`]: also CGMs, infusion pumps (with their infusions and occlusions), bed-exit
//!   sensors and fridge loggers.
//! - [`ward`]: turns a scenario into a world: admissions, baselines, kits, fridges, the
//!   directory.
//!
//! Twins know nothing about files, MQTT or wire formats: they emit messages
//! (`ReadingEmitted`, `TruthSampled`, …) that the engine records.

pub mod chart;
pub mod coldchain;
pub mod device;
pub mod faults;
pub mod gateway;
pub mod patient;
pub mod rtls;
pub mod schedule;
pub mod ward;
pub mod waveform;

#[cfg(test)]
mod testkit;

use bevy_app::{App, PluginGroup, PluginGroupBuilder};
use wardtwin_scenarios::Scenario;
use wardtwin_sim::{Directory, SimPlugin};

pub use coldchain::ColdChainPlugin;
pub use device::DevicePlugin;
pub use faults::FaultsPlugin;
pub use gateway::GatewayPlugin;
pub use patient::PatientPlugin;
pub use rtls::RtlsPlugin;

/// An interval of simulation time, `[start, end)`: a door open, an occlusion, a time out of
/// bed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    pub start_ms: wardtwin_sim::time::SimMillis,
    pub end_ms: wardtwin_sim::time::SimMillis,
}

impl Window {
    pub fn contains(&self, t: wardtwin_sim::time::SimMillis) -> bool {
        self.start_ms <= t && t < self.end_ms
    }

    /// `windows` sorted, with overlapping ones merged (a random and a scheduled occlusion
    /// that overlap are one).
    pub fn merged(mut windows: Vec<Window>) -> Vec<Window> {
        windows.sort();
        let mut out: Vec<Window> = Vec::with_capacity(windows.len());
        for w in windows {
            match out.last_mut() {
                Some(last) if w.start_ms <= last.end_ms => last.end_ms = last.end_ms.max(w.end_ms),
                _ => out.push(w),
            }
        }
        out
    }

    /// Drops the windows before `next` (over), adds `new`, and merges again; `next` is then 0.
    /// How a twin takes the next day's draw ([`schedule`]) without keeping the past.
    pub fn extend_merged(list: &mut Vec<Window>, next: &mut usize, new: Vec<Window>) {
        list.drain(..(*next).min(list.len()));
        *next = 0;
        list.extend(new);
        *list = Window::merged(std::mem::take(list));
    }

    /// Drops the windows over by `now`, adds `new`, and sorts (overlaps kept).
    pub fn extend_sorted(
        list: &mut Vec<Window>,
        now: wardtwin_sim::time::SimMillis,
        new: Vec<Window>,
    ) {
        list.retain(|w| w.end_ms > now);
        list.extend(new);
        list.sort();
    }
}

/// Every twin plugin. Tests can turn one kind off:
/// `TwinPlugins.build().disable::<DevicePlugin>()`.
pub struct TwinPlugins;

impl PluginGroup for TwinPlugins {
    fn build(self) -> PluginGroupBuilder {
        PluginGroupBuilder::start::<Self>()
            .add(PatientPlugin)
            .add(chart::ChartPlugin)
            .add(ColdChainPlugin)
            .add(RtlsPlugin)
            .add(DevicePlugin)
            .add(GatewayPlugin)
            .add(FaultsPlugin)
            .add(waveform::WaveformPlugin)
    }
}

/// Which patients' waveforms a run synthesises (`--waveforms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waveforms {
    All,
    /// Bed ids (`W1-03`).
    Beds(Vec<String>),
}

impl Waveforms {
    /// `all`, or a comma-separated list of bed ids.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "all" {
            return Ok(Waveforms::All);
        }
        let beds: Vec<String> = s
            .split(',')
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .collect();
        if beds.is_empty() {
            return Err(
                "expected `all` or a comma-separated list of beds, e.g. W1-03,W1-07".into(),
            );
        }
        Ok(Waveforms::Beds(beds))
    }

    /// The patients of `dir` it selects, or which bed is unknown or empty.
    pub fn patients(
        &self,
        dir: &Directory,
    ) -> Result<Vec<wardtwin_sim::records::PatientIx>, String> {
        use wardtwin_sim::records::PatientIx;
        let all = || (0..dir.patients.len() as u32).map(PatientIx);
        match self {
            Waveforms::All => Ok(all().collect()),
            Waveforms::Beds(beds) => beds
                .iter()
                .map(|b| {
                    if !dir.beds.iter().any(|x| &x.id == b) {
                        let some: Vec<&str> =
                            dir.beds.iter().take(4).map(|x| x.id.as_str()).collect();
                        return Err(format!("no bed `{b}` (beds are like {})", some.join(", ")));
                    }
                    all()
                        .find(|p| &dir.bed_of_patient(*p).id == b)
                        .ok_or_else(|| format!("bed `{b}` is empty: no waveforms to record"))
                })
                .collect(),
        }
    }
}

/// Options a run may override.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Worker threads for the compute pool (`None`: one per core).
    pub threads: Option<usize>,
    /// A live transport records emission fates itself (see `SimPlugin::file_transport`).
    pub live_transport: bool,
    /// Simulation time between a device's periodic status messages (`None`: 5 min).
    pub status_interval_ms: Option<i64>,
}

/// Builds the app for `scenario`: engine, every twin plugin, and the spawned ward.
pub fn build_app(scenario: &Scenario, opts: &BuildOptions) -> (App, Directory) {
    build_app_with(scenario, opts, TwinPlugins.build())
}

/// [`build_app`] with a chosen set of twin plugins (`TwinPlugins.build().disable::<…>()`).
pub fn build_app_with(
    scenario: &Scenario,
    opts: &BuildOptions,
    twins: PluginGroupBuilder,
) -> (App, Directory) {
    let seed = opts.seed.unwrap_or(scenario.seed);
    let mut app = App::new();
    app.add_plugins(SimPlugin {
        epoch_ms: scenario.epoch_ms,
        step_ms: scenario.step_ms,
        duration_ms: scenario.duration_ms,
        seed,
        threads: opts.threads,
        file_transport: !opts.live_transport,
    })
    .add_plugins(twins);
    if let Some(ms) = opts.status_interval_ms {
        app.insert_resource(device::status::StatusInterval(ms));
    }
    let kinds = ward::Kinds::of(&app);
    let dir = ward::spawn(app.world_mut(), scenario, seed, kinds);
    (app, dir)
}

/// One line per deterioration episode: kind, bed, onset, and when true NEWS2 reached 5 and 7.
pub fn episode_lines(world: &mut bevy_ecs::world::World) -> Vec<String> {
    use wardtwin_sim::time::{format_duration, format_iso_ms};
    let Some(dir) = world.get_resource::<Directory>().cloned() else {
        return Vec::new();
    };
    let end = world
        .get_resource::<wardtwin_sim::SimClock>()
        .map_or(i64::MAX, |c| c.end_ms());
    let mut q = world.query::<&patient::Episodes>();
    let mut eps: Vec<_> = q
        .iter(world)
        .flat_map(|e| e.0.iter().map(|e| e.record))
        .filter(|r| r.onset_ms < end)
        .collect();
    eps.sort_by_key(|r| r.id);
    let after = |t: Option<i64>, onset: i64| {
        t.map_or("never".to_string(), |t| {
            format!("+{}", format_duration(t - onset))
        })
    };
    eps.iter()
        .map(|r| {
            format!(
                "{} in {}: onset {}, NEWS2>=5 {}, >=7 {}, peak {} ({}, severity {:.2}, over {}{})",
                r.kind.name(),
                dir.bed_of_patient(r.patient).id,
                &format_iso_ms(r.onset_ms)[11..16],
                after(r.news2_ge5_ms, r.onset_ms),
                after(r.news2_ge7_ms, r.onset_ms),
                r.peak_news2,
                r.variant.name(),
                r.severity,
                // Drawn development times are in ms: the summary shows whole seconds.
                format_duration(r.develop_ms / 1000 * 1000),
                r.recovery
                    .map_or(String::new(), |x| format!(", {} recovery", x.name()))
            )
        })
        .collect()
}

/// One line per fault that began in the run: kind, where, and its window.
pub fn fault_lines(world: &mut bevy_ecs::world::World) -> Vec<String> {
    use wardtwin_sim::time::format_iso_ms;
    let (Some(dir), Some(plan)) = (
        world.get_resource::<Directory>(),
        world.get_resource::<faults::FaultPlan>(),
    ) else {
        return Vec::new();
    };
    let end = world
        .get_resource::<wardtwin_sim::SimClock>()
        .map_or(i64::MAX, |c| c.end_ms());
    let clock = |t: i64| format_iso_ms(t)[11..16].to_string();
    plan.records
        .iter()
        .filter(|f| f.start_ms < end)
        .map(|f| {
            let at = match (f.device, f.gateway) {
                (Some(d), _) => dir.device(d).id.clone(),
                (None, Some(g)) => dir.device(g).ward.clone(),
                (None, None) if f.kind.site_wide() => "site".to_string(),
                (None, None) => String::new(),
            };
            let window = match f.end_ms {
                Some(e) if e == f.start_ms => clock(e),
                Some(e) if e <= end => format!("{}-{}", clock(f.start_ms), clock(e)),
                _ => format!("{}-end", clock(f.start_ms)),
            };
            format!("{} {at} {window}", f.kind.name())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use bevy_app::Update;
    use bevy_ecs::schedule::{LogLevel, ScheduleBuildSettings, ScheduleLabel};
    use wardtwin_sim::SimEnd;

    use super::*;

    /// Every system is ordered against every other it conflicts with: results cannot depend on
    /// the executor's choice of order.
    #[test]
    fn the_schedule_has_no_order_ambiguities() {
        let (mut app, _) = build_app(&testkit::library("quickstart"), &BuildOptions::default());
        for label in [Update.intern(), SimEnd.intern()] {
            app.edit_schedule(label, |s| {
                s.set_build_settings(ScheduleBuildSettings {
                    ambiguity_detection: LogLevel::Error,
                    ..Default::default()
                });
            });
            app.world_mut().schedule_scope(label, |world, schedule| {
                if let Err(e) = schedule.initialize(world) {
                    panic!("{label:?}: {}", e.to_string(schedule.graph(), world));
                }
            });
        }
    }

    /// A small golden digest of everything a scenario records (values, statuses, sequence
    /// numbers, device clocks). It changes when the model changes. If that change is intended,
    /// re-bless: run `cargo test -p wardtwin-twins golden`, paste the printed digest into
    /// `GOLDEN`, and say why in the commit message.
    #[test]
    fn golden_digest_of_a_small_scenario() {
        let s = testkit::small(
            3,
            "2h",
            "[[event]]\nat = \"30m\"\nbed = \"W1-02\"\nkind = \"haemorrhage\"\n",
        );
        let (mut app, _) = build_app(&s, &BuildOptions::default());
        let sink = wardtwin_sim::CountingSink::default();
        app.insert_resource(wardtwin_sim::Sinks::new(vec![Box::new(sink.clone())]));
        let mut sim = wardtwin_sim::Sim::new(app);
        sim.run(u64::MAX, |_, _| {});
        sim.finish().expect("counting sink");
        let c = sink.counts.lock().expect("counts").clone();
        // 3 beds of ECG, oximeter, temperature, cuff; the ward gateway's status every minute.
        assert_eq!(
            c.of::<wardtwin_sim::records::Forwarded>(),
            3 * (480 + 480 + 60 + 2) + 120
        );
        assert_eq!(
            c.digest, GOLDEN,
            "model output changed: digest is now {:#x} (re-bless instructions above this test)",
            c.digest
        );
    }
    const GOLDEN: u64 = 0xd37f_5854_3a70_e179;

    /// Turning a twin plugin off removes its kind: not spawned, not in the directory, nothing
    /// recorded about it; the other kinds are unchanged.
    #[test]
    fn turning_a_twin_plugin_off_removes_its_kind() {
        use wardtwin_sim::records::{DeviceKind, ExcursionRecord, Forwarded, PositionRecord};
        let s = testkit::small(
            3,
            "10m",
            "[[fridge]]\nid = \"VAC\"\nward = \"W1\"\n[rtls]\nassets_per_bed = 1\nstaff_per_bed = 0.5\n",
        );
        let kinds = |dir: &Directory| -> std::collections::BTreeSet<DeviceKind> {
            dir.devices.iter().map(|d| d.kind).collect()
        };
        let read_by = |rec: &wardtwin_sim::Recorded, dir: &Directory| {
            rec.get::<Forwarded>()
                .iter()
                .map(|r| dir.devices[r.device.0 as usize].kind)
                .collect::<std::collections::BTreeSet<_>>()
        };
        let (all, all_dir) = testkit::run_to_memory(&s);
        let everything = kinds(&all_dir);
        for k in [
            DeviceKind::FridgeLogger,
            DeviceKind::AssetTag,
            DeviceKind::StaffBadge,
        ] {
            assert!(everything.contains(&k), "{k:?}");
        }
        assert!(!all.get::<PositionRecord>().is_empty());
        let without = |plugins: PluginGroupBuilder| testkit::run_to_memory_with(&s, plugins);

        let (rec, dir) = without(TwinPlugins.build().disable::<ColdChainPlugin>());
        let mut expected = everything.clone();
        expected.remove(&DeviceKind::FridgeLogger);
        assert_eq!(kinds(&dir), expected, "no fridge logger");
        let mut heard = read_by(&all, &all_dir);
        heard.remove(&DeviceKind::FridgeLogger);
        assert_eq!(read_by(&rec, &dir), heard);
        assert!(rec.get::<ExcursionRecord>().is_empty());
        assert_eq!(dir.patients, all_dir.patients);

        let (rec, dir) = without(TwinPlugins.build().disable::<RtlsPlugin>());
        let mut expected = everything.clone();
        expected.remove(&DeviceKind::AssetTag);
        expected.remove(&DeviceKind::StaffBadge);
        assert_eq!(kinds(&dir), expected, "no tags or badges");
        let mut heard = read_by(&all, &all_dir);
        heard.remove(&DeviceKind::AssetTag);
        heard.remove(&DeviceKind::StaffBadge);
        assert_eq!(read_by(&rec, &dir), heard);
        assert!(rec.get::<PositionRecord>().is_empty());

        // Devices off: the patients' ground truth only.
        let (rec, dir) = without(TwinPlugins.build().disable::<DevicePlugin>());
        assert!(dir.devices.is_empty());
        assert!(rec.get::<Forwarded>().is_empty());
        assert_eq!(
            rec.get::<wardtwin_sim::records::TruthVitals>().len(),
            all.get::<wardtwin_sim::records::TruthVitals>().len()
        );

        // Patients off: no patients and nothing worn; fridges and tags still report.
        let (rec, dir) = without(TwinPlugins.build().disable::<PatientPlugin>());
        assert!(dir.patients.is_empty());
        assert!(dir.devices.iter().all(|d| d.bed.is_none()));
        assert!(rec.get::<wardtwin_sim::records::TruthVitals>().is_empty());
        assert!(read_by(&rec, &dir).contains(&DeviceKind::FridgeLogger));
    }
}
