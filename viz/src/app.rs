//! Assembly: the command line, the session, and the Bevy app, in a window or offscreen (an
//! image render target with the egui context on its camera, for `--screenshot` and for
//! `--bench-frames` where there is no display).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bevy::app::ScheduleRunnerPlugin;
use bevy::asset::RenderAssetUsages;
use bevy::camera::RenderTarget;
use bevy::prelude::*;
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};
use bevy::window::{ExitCondition, PrimaryWindow};
use bevy::winit::WinitPlugin;
use bevy_egui::{
    EguiContexts, EguiGlobalSettings, EguiPlugin, EguiPrimaryContextPass, PrimaryEguiContext,
};
use wardtwin_sim::time::parse_duration;
// Lines on stdout go through `outln!`: `wardtwin-viz … | head` must not panic on a closed pipe.

use wardtwin_exporters::mqtt::{BrokerUrl, EmbeddedBroker};

use crate::live::{self, Command, SessionConfig, Shared};
use crate::model::Priority;
use crate::publish::LiveConfig;
use crate::scene::{self, Plan, ViewXf};
use crate::{Frame, FrameStatus, ScreenSize, ScreenshotSpec, UiState};

/// `wardtwin-viz SCENARIO|RUN [options]`
#[derive(clap::Parser, Debug)]
#[command(
    name = "wardtwin-viz",
    version,
    about = "wardtwin's visual ward for trainers"
)]
pub struct Args {
    /// A built-in scenario name (`wardtwin scenarios`), a scenario file, or a run folder to
    /// replay.
    pub source: String,
    /// Overrides the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulated seconds per wall second: 1, 10, 60, any number, or `max` [default: 1; a
    /// replay: 60].
    #[arg(long)]
    pub speed: Option<String>,
    /// The session's run folder [default: runs/<scenario>-<seed>-session].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads of the twin's compute pool.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Start paused.
    #[arg(long)]
    pub paused: bool,
    /// Start in the instructor's view (the truth instead of what the monitors show).
    #[arg(long)]
    pub truth: bool,
    /// Select this bed at the start (its waveforms on the central station).
    #[arg(long, value_name = "BED")]
    pub select: Option<String>,
    /// Render one picture offscreen (no window, no X server) and exit.
    #[arg(long, value_name = "FILE")]
    pub screenshot: Option<PathBuf>,
    /// Where to start: an offset from the epoch (`10:30`, `90m`). A session steps there at full
    /// speed and waits, paused; a replay opens there; a screenshot is taken there.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Take the screenshot of a real window (needs an X server, e.g. Xvfb) instead of
    /// rendering offscreen.
    #[arg(long, requires = "screenshot")]
    pub window: bool,
    /// The picture's size (logical pixels), `WIDTHxHEIGHT`.
    #[arg(long, value_name = "WxH", default_value = "1280x800")]
    pub size: String,
    /// The reference stack's policy (`naive` or `news2`) on the central station: its alarms
    /// in the alarm list and on the tiles, its alerts in reference-alerts.jsonl.
    #[arg(long, value_name = "POLICY")]
    pub with_reference_stack: Option<String>,
    /// Render this many frames, print the frame-time percentiles and exit (offscreen when
    /// there is no display).
    #[arg(long, value_name = "N")]
    pub bench_frames: Option<u32>,
    #[command(flatten)]
    pub live: LiveArgs,
}

/// A session's live side: the twin's telemetry on a broker, and a system under test's alerts
/// on the central station.
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Live (MQTT)")]
pub struct LiveArgs {
    /// Collect a system under test's alerts (alert v1) from this topic: listed on the central
    /// station as they arrive, logged in live/alerts.jsonl, scored when the session ends
    /// (live/scorecard.json). The twin's telemetry is published (on the embedded broker
    /// unless --broker).
    #[arg(long, value_name = "TOPIC")]
    pub alerts_topic: Option<String>,
    /// Publish the twin's telemetry (wire v1) on the embedded broker.
    #[arg(long)]
    pub live: bool,
    /// Publish to this broker instead (mqtt://host:port, or mqtts:// with --ca/--cert/--key).
    /// Credentials come from WARDTWIN_MQTT_USERNAME / WARDTWIN_MQTT_PASSWORD or --credentials.
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Where the embedded broker listens [default: 127.0.0.1 on a free port].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// MQTT QoS of the telemetry: 1 (acknowledged) or 0.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub qos: u8,
    /// Topic prefix of the telemetry.
    #[arg(long, default_value = wardtwin_exporters::wire::DEFAULT_PREFIX)]
    pub topic_prefix: String,
    #[command(flatten)]
    pub security: wardtwin::run::BrokerSecurity,
}

impl LiveArgs {
    fn enabled(&self) -> bool {
        self.live || self.broker.is_some() || self.alerts_topic.is_some()
    }

    /// The session's live configuration and the embedded broker it runs on (if it does).
    fn config(
        &self,
        scenario: &wardtwin_scenarios::Scenario,
        seed: u64,
    ) -> Result<Option<(LiveConfig, Option<EmbeddedBroker>)>> {
        if !self.enabled() {
            anyhow::ensure!(
                self.listen.is_none(),
                "--listen is where the embedded broker listens: add --live or --alerts-topic"
            );
            return Ok(None);
        }
        if let Some(t) = &self.alerts_topic {
            anyhow::ensure!(
                !t.is_empty() && !t.contains(['+', '#', '\0']),
                "--alerts-topic {t:?}: a topic name, without wildcards"
            );
        }
        let (url, embedded) = match &self.broker {
            Some(u) => {
                anyhow::ensure!(
                    self.listen.is_none(),
                    "--listen is for the embedded broker, not with --broker"
                );
                (BrokerUrl::parse(u)?, None)
            }
            None => {
                let b = EmbeddedBroker::start(self.listen)?;
                (BrokerUrl::parse(&b.url())?, Some(b))
            }
        };
        let mut opts = self.security.options(url)?;
        opts.qos = self.qos;
        wardtwin_exporters::wire::check_prefix(&self.topic_prefix)?;
        opts.prefix = self.topic_prefix.clone();
        opts.client_id_prefix = wardtwin_exporters::mqtt::options::client_id_prefix(
            &scenario.name,
            seed,
            std::process::id(),
        );
        let cfg = LiveConfig {
            opts,
            embedded: embedded.is_some(),
            alerts_topic: self.alerts_topic.clone(),
        };
        Ok(Some((cfg, embedded)))
    }
}

fn parse_speed(s: &str) -> Result<f64> {
    if s == "max" {
        return Ok(f64::INFINITY);
    }
    let v: f64 = s
        .trim_end_matches(['x', '×'])
        .parse()
        .map_err(|_| anyhow::anyhow!("--speed {s:?}: expected a number (1, 10, 60) or max"))?;
    anyhow::ensure!(
        v.is_finite() && v > 0.0 && v <= 1e6,
        "--speed {s:?}: more than 0 and at most 1e6, or max"
    );
    Ok(v)
}

fn parse_size(s: &str) -> Result<(u32, u32)> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| anyhow::anyhow!("--size {s:?}: expected WIDTHxHEIGHT, e.g. 1280x800"))?;
    let w: u32 = w
        .parse()
        .map_err(|_| anyhow::anyhow!("--size {s:?}: bad width"))?;
    let h: u32 = h
        .parse()
        .map_err(|_| anyhow::anyhow!("--size {s:?}: bad height"))?;
    anyhow::ensure!(
        (320..=8192).contains(&w) && (240..=8192).contains(&h),
        "--size {s:?}: 320x240 to 8192x8192"
    );
    Ok((w, h))
}

/// The scenario's text and its label, from a file or the library.
fn scenario_text(source: &str) -> Result<(String, String)> {
    let path = Path::new(source);
    if path.is_file() {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| anyhow::anyhow!("{source}: not UTF-8 text ({e})"))?;
        return Ok((text, source.to_string()));
    }
    if path.is_dir() {
        anyhow::bail!("{source} is a folder but not a run folder (it has no manifest.json)");
    }
    match wardtwin_scenarios::LIBRARY
        .iter()
        .find(|(n, _)| *n == source)
    {
        Some((n, t)) => Ok((t.to_string(), format!("library:{n}"))),
        None => {
            let names: Vec<&str> = wardtwin_scenarios::LIBRARY
                .iter()
                .map(|(n, _)| *n)
                .collect();
            anyhow::bail!(
                "{source:?} is neither a scenario file nor a built-in scenario ({})",
                names.join(", ")
            )
        }
    }
}

/// The session, for the view's systems.
#[derive(Resource)]
struct SessionRes {
    shared: Arc<Shared>,
    tx: Sender<Command>,
}

/// Frame times of `--bench-frames`.
#[derive(Resource)]
struct Bench {
    left: u32,
    last: Option<Instant>,
    /// Shared with the caller: `App::run` consumes the app's world.
    times_ms: Arc<std::sync::Mutex<Vec<f64>>>,
}

/// The screenshot's progress: frames rendered, and whether it was asked for.
#[derive(Resource, Default)]
struct Shot {
    frames: u32,
    requested: bool,
    path: PathBuf,
    image: Option<Handle<Image>>,
}

/// How a visual session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The window closed (or the screenshot or bench is done).
    Done,
    /// SIGINT/SIGTERM: the view closed and the session's files were finished with what was
    /// simulated (`"complete": false`).
    Interrupted,
    /// A live session's broker did not confirm all the telemetry it was handed (as `wardtwin
    /// run`: exit status 3); `live/emissions.parquet` says which.
    DeliveryShort,
}

/// Set by the first SIGINT/SIGTERM (a second one exits at once, status 130).
#[derive(Resource, Clone)]
struct Stop(wardtwin::signals::StopFlag);

fn stop_on_signal(stop: Res<Stop>, mut exit: MessageWriter<AppExit>) {
    if stop.0.raised() {
        exit.write(AppExit::Success);
    }
}

/// Runs the visual ward; returns when the window closes (or the screenshot or bench is done).
pub fn run(args: Args) -> Result<Outcome> {
    let stop = Stop(wardtwin::signals::StopFlag::install()?);
    let lost = if crate::replay::is_run_folder(Path::new(&args.source)) {
        run_replay(&args, stop.clone())?;
        0
    } else {
        run_session(&args, stop.clone())?
    };
    Ok(if stop.0.raised() {
        Outcome::Interrupted
    } else if lost > 0 {
        Outcome::DeliveryShort
    } else {
        Outcome::Done
    })
}

/// A live session of a scenario; returns the telemetry its broker did not confirm.
fn run_session(args: &Args, stop: Stop) -> Result<u64> {
    let (text, label) = scenario_text(&args.source)?;
    let speed = parse_speed(args.speed.as_deref().unwrap_or("1"))?;
    let stack = args
        .with_reference_stack
        .as_deref()
        .map(|p| {
            wardtwin_reference::PolicyKind::parse(p).ok_or_else(|| {
                anyhow::anyhow!("--with-reference-stack {p:?}: expected naive or news2")
            })
        })
        .transpose()?;
    let (width, height) = parse_size(&args.size)?;
    // Parsed once here for its name and seed (the session parses its own copy).
    let scenario = wardtwin_scenarios::parse(&text, &label).map_err(|e| anyhow::anyhow!("{e}"))?;
    let at_ms = at_of(args, &scenario)?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| live::default_out(&scenario, seed));
    let selected_bed = bed_of(args, &scenario)?;
    let shot = shot_of(args, width, height);
    let (live, _embedded) = args.live.config(&scenario, seed)?.unzip();
    if let Some(l) = &live {
        let o = &l.opts;
        eprintln!(
            "broker: {}{}; telemetry on {}/{}/...{}",
            o.broker,
            if l.embedded { " (embedded)" } else { "" },
            o.prefix,
            wardtwin_exporters::wire::slug(&scenario.site.name),
            l.alerts_topic
                .as_ref()
                .map_or(String::new(), |t| format!("; alerts collected from {t}"))
        );
    }
    // A screenshot steps as fast as it can to 15 s before its time (the waveform strip needs
    // that much), selects its bed, then steps to the time.
    let lead_ms = 15_000;
    let cfg = SessionConfig {
        text,
        label,
        seed: args.seed,
        out: out.clone(),
        speed: if shot.is_some() || at_ms.is_some() {
            f64::INFINITY
        } else {
            speed
        },
        paused: args.paused,
        threads: args.threads,
        stop_at_ms: match (&shot, at_ms) {
            (Some(_), at) => Some((at.unwrap_or(0) - lead_ms).max(0)),
            (None, Some(at)) => Some(at),
            (None, None) => None,
        },
        stack,
        live,
    };
    let handle = live::start(cfg)?;
    let mut ui = UiState::new(&scenario);
    ui.truth = args.truth;
    if shot.is_some() {
        handle.wait_until_stopped()?;
        let bed = selected_bed.or_else(|| most_urgent(&handle.shared));
        if let Some(b) = bed {
            ui.selected = Some(b);
            let p = handle.shared.model().beds[b].patient;
            let _ = handle.tx.send(Command::Select(p));
        }
        let _ = handle.tx.send(Command::RunUntil(at_ms.unwrap_or(0)));
        // RunUntil unpauses; wait for the session to stop again at the time.
        handle.wait_for(at_ms.unwrap_or(0))?;
        ui.screenshot = true;
    } else {
        if let Some(at) = at_ms {
            // Stepped there at full speed; it waits, paused, at the chosen speed.
            handle.wait_for(at)?;
            let _ = handle.tx.send(Command::Speed(speed));
        }
        if let Some(b) = selected_bed {
            ui.selected = Some(b);
            let p = handle.shared.model().beds[b].patient;
            let _ = handle.tx.send(Command::Select(p));
        }
    }
    let result = view(
        &scenario,
        (&handle.shared, &handle.tx),
        ui,
        (shot.as_ref(), args.bench_frames, (width, height)),
        stop,
    );
    let shared = Arc::clone(&handle.shared);
    let finished = handle.finish();
    result?;
    finished?;
    if let Some(s) = &shot {
        wardtwin::outln!("{}", s.path.display());
    }
    let status = shared.status();
    for line in &status.summary {
        eprintln!("{line}");
    }
    eprintln!("session folder: {}", out.display());
    if status.delivery_lost > 0 {
        eprintln!(
            "WARNING: the broker did not confirm {} published message(s): see {}",
            status.delivery_lost,
            out.join(crate::publish::LIVE_DIR)
                .join("emissions.parquet")
                .display()
        );
    }
    Ok(status.delivery_lost)
}

/// `--screenshot` with its size and `--window`.
fn shot_of(args: &Args, width: u32, height: u32) -> Option<ScreenshotSpec> {
    args.screenshot.as_ref().map(|p| ScreenshotSpec {
        path: p.clone(),
        width,
        height,
        window: args.window,
    })
}

/// `--at` as an offset from the epoch, inside the run.
fn at_of(args: &Args, scenario: &wardtwin_scenarios::Scenario) -> Result<Option<i64>> {
    let Some(a) = args.at.as_deref() else {
        return Ok(None);
    };
    let ms = parse_duration(a).map_err(|e| anyhow::anyhow!("--at {a:?}: {e}"))?;
    anyhow::ensure!(
        ms >= 0 && ms <= scenario.duration_ms,
        "--at {a:?}: the run lasts {}",
        wardtwin_sim::time::format_duration(scenario.duration_ms)
    );
    Ok(Some(ms))
}

/// `--select` as a bed index.
fn bed_of(args: &Args, scenario: &wardtwin_scenarios::Scenario) -> Result<Option<usize>> {
    match &args.select {
        Some(b) => Ok(Some(
            scenario
                .beds
                .iter()
                .position(|x| &x.id == b)
                .ok_or_else(|| anyhow::anyhow!("--select {b:?}: no such bed"))?,
        )),
        None => Ok(None),
    }
}

/// Replays a run folder: its files read back, scrubbed on a timeline.
fn run_replay(args: &Args, stop: Stop) -> Result<()> {
    anyhow::ensure!(
        args.seed.is_none()
            && args.out.is_none()
            && args.threads.is_none()
            && args.with_reference_stack.is_none()
            && !args.live.enabled(),
        "--seed, --out, --threads, --with-reference-stack, --live, --broker and --alerts-topic \
         are for a live session: a run folder is replayed as it was (its alerts are on the \
         timeline)"
    );
    let run = Path::new(&args.source);
    let speed = parse_speed(args.speed.as_deref().unwrap_or("60"))?;
    let (width, height) = parse_size(&args.size)?;
    let shot = shot_of(args, width, height);
    // Read once: the scenario and marks decide where it opens, then the replay takes it.
    let rec = crate::replay::Recording::read(run)?;
    let scenario = rec.scenario.clone();
    let at_ms = at_of(args, &scenario)?
        .unwrap_or_else(|| crate::replay::default_start(&rec.marks, scenario.epoch_ms));
    let handle = crate::replay::start(rec, at_ms, speed, args.paused || shot.is_some())?;
    let mut ui = UiState::new(&scenario);
    ui.truth = args.truth;
    ui.replay = Some(handle.marks.clone());
    ui.selected = bed_of(args, &scenario)?.or_else(|| most_urgent(&handle.shared));
    ui.screenshot = shot.is_some();
    let result = view(
        &scenario,
        (&handle.shared, &handle.tx),
        ui,
        (shot.as_ref(), args.bench_frames, (width, height)),
        stop,
    );
    handle.finish();
    result?;
    if let Some(s) = &shot {
        wardtwin::outln!("{}", s.path.display());
    }
    Ok(())
}

/// The bed with the most urgent alarm now (for a screenshot without `--select`).
fn most_urgent(shared: &Shared) -> Option<usize> {
    let m = shared.model();
    (0..m.beds.len())
        .filter(|b| m.beds[*b].patient.is_some())
        .max_by_key(|b| (m.bed_alarm(*b, false).0, std::cmp::Reverse(*b)))
        .filter(|b| m.bed_alarm(*b, false).0 > Priority::None)
}

/// The Bevy app: in a window, or offscreen for a screenshot or a bench without a display.
fn view(
    scenario: &wardtwin_scenarios::Scenario,
    (shared, tx): (&Arc<Shared>, &Sender<Command>),
    ui: UiState,
    (shot, bench, (width, height)): (Option<&ScreenshotSpec>, Option<u32>, (u32, u32)),
    stop: Stop,
) -> Result<()> {
    let offscreen = shot.is_some_and(|s| !s.window)
        || (shot.is_none()
            && bench.is_some()
            && std::env::var_os("DISPLAY").is_none()
            && std::env::var_os("WAYLAND_DISPLAY").is_none());
    let mut app = App::new();
    // The embedded broker's router logs every client it drops: noise on a trainer's terminal
    // (what the broker did is in the run folder's manifest).
    let log = bevy::log::LogPlugin {
        filter: format!("{},rumqttd=off", bevy::log::DEFAULT_FILTER),
        ..default()
    };
    if offscreen {
        app.add_plugins(
            DefaultPlugins
                .set(log)
                .set(WindowPlugin {
                    primary_window: None,
                    exit_condition: ExitCondition::DontExit,
                    close_when_requested: false,
                    ..default()
                })
                .disable::<WinitPlugin>(),
        )
        .add_plugins(ScheduleRunnerPlugin::run_loop(Duration::ZERO));
    } else {
        anyhow::ensure!(
            std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some(),
            "no display to open a window on (neither DISPLAY nor WAYLAND_DISPLAY is set): \
             --screenshot FILE and --bench-frames N render offscreen"
        );
        // winit panics when it cannot reach the display it was given: an error, not a crash.
        let window = Window {
            title: format!("wardtwin-viz: {}", scenario.name),
            resolution: (width, height).into(),
            ..default()
        };
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            app.add_plugins(DefaultPlugins.set(log).set(WindowPlugin {
                primary_window: Some(window),
                ..default()
            }));
        }));
        anyhow::ensure!(
            opened.is_ok(),
            "cannot open a window on the display (see the message above); --screenshot FILE \
             and --bench-frames N render offscreen"
        );
    }
    let first = shared.model().clone();
    app.add_plugins(EguiPlugin::default())
        .insert_resource(ClearColor(Color::srgb(0.05, 0.06, 0.07)))
        .insert_resource(Plan::of(scenario))
        .insert_resource(ViewXf::default())
        .insert_resource(ScreenSize(Vec2::new(width as f32, height as f32)))
        .insert_resource(Frame(first))
        .insert_resource(FrameStatus::default())
        .insert_resource(ui)
        .insert_resource(SessionRes {
            shared: Arc::clone(shared),
            tx: tx.clone(),
        })
        .add_systems(Startup, scene::spawn_plan)
        .add_systems(
            Update,
            (
                copy_frame,
                window_size,
                (
                    scene::update_beds,
                    scene::update_fixtures,
                    scene::update_movers,
                ),
                scene::place_camera,
            )
                .chain(),
        )
        .insert_resource(stop)
        .add_systems(Last, stop_on_signal)
        .add_systems(EguiPrimaryContextPass, ui_system);
    if offscreen {
        let spec = shot.cloned().unwrap_or(ScreenshotSpec {
            path: PathBuf::new(),
            width,
            height,
            window: false,
        });
        app.insert_resource(Shot {
            path: spec.path.clone(),
            ..default()
        })
        .add_systems(
            Startup,
            move |c: Commands,
                  e: ResMut<EguiGlobalSettings>,
                  i: ResMut<Assets<Image>>,
                  s: ResMut<Shot>| {
                offscreen_camera(c, e, i, s, spec.width, spec.height)
            },
        );
        if shot.is_some() {
            app.add_systems(Update, take_screenshot);
        }
    } else {
        app.add_systems(
            Startup,
            |mut commands: Commands, mut egui: ResMut<EguiGlobalSettings>| {
                egui.auto_create_primary_context = false;
                spawn_cameras(&mut commands, None);
            },
        );
        if let Some(s) = shot {
            app.insert_resource(Shot {
                path: s.path.clone(),
                ..default()
            })
            .add_systems(Update, take_screenshot);
        }
    }
    let times = Arc::new(std::sync::Mutex::new(Vec::new()));
    if let Some(n) = bench {
        app.insert_resource(Bench {
            left: n,
            last: None,
            times_ms: Arc::clone(&times),
        })
        .add_systems(Last, bench_frame);
    }
    app.run();
    if bench.is_some() {
        let t = times.lock().unwrap_or_else(|e| e.into_inner());
        report_bench(&t, scenario, shared);
    }
    if let Some(s) = shot
        && !s.path.is_file()
    {
        anyhow::bail!("the screenshot was not written to {}", s.path.display());
    }
    Ok(())
}

fn offscreen_camera(
    mut commands: Commands,
    mut egui: ResMut<EguiGlobalSettings>,
    mut images: ResMut<Assets<Image>>,
    mut shot: ResMut<Shot>,
    width: u32,
    height: u32,
) {
    egui.auto_create_primary_context = false;
    let mut image = Image::new_target_texture(width, height, TextureFormat::Rgba8UnormSrgb, None);
    image.asset_usage = RenderAssetUsages::default();
    image.texture_descriptor.usage |= TextureUsages::COPY_SRC;
    let handle = images.add(image);
    shot.image = Some(handle.clone());
    spawn_cameras(&mut commands, Some(RenderTarget::Image(handle.into())));
}

/// The plan's camera and, drawn after it on the same target, egui's. Neither multisamples:
/// flat sprites do not need it and a software renderer pays for every sample (hospital-day's
/// frame 30 -> 22 ms on lavapipe). egui has a camera of its own because with one camera
/// and no multisampling its pass clears what the sprites drew.
fn spawn_cameras(commands: &mut Commands, target: Option<RenderTarget>) {
    let plan = commands
        .spawn((Camera2d, Msaa::Off, scene::PlanCamera))
        .id();
    let ui = commands
        .spawn((
            Camera2d,
            Msaa::Off,
            Camera {
                order: 1,
                clear_color: ClearColorConfig::None,
                ..default()
            },
            bevy::camera::visibility::RenderLayers::none(),
            PrimaryEguiContext,
        ))
        .id();
    if let Some(t) = target {
        commands.entity(ui).insert(t.clone());
        commands.entity(plan).insert(t);
    }
}

/// Frames before the picture is taken: egui lays its panels out over the first frames and the
/// plan is fitted to what they leave.
const SETTLE_FRAMES: u32 = 6;

fn take_screenshot(mut commands: Commands, mut shot: ResMut<Shot>, ui: Res<UiState>) {
    shot.frames += 1;
    if shot.frames < SETTLE_FRAMES || shot.requested {
        return;
    }
    // Offscreen, the image the cameras draw into; else the window (once it has been drawn a
    // few more times: a window is mapped and sized over its first frames).
    let target = match shot.image.clone() {
        Some(image) => Screenshot::image(image),
        None if shot.frames < SETTLE_FRAMES * 4 => return,
        None => Screenshot::primary_window(),
    };
    shot.requested = true;
    if let Some(dir) = shot.path.parent()
        && !dir.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(dir);
    }
    // The map of the frame drawn last (frames are alike by now: nothing moves or blinks).
    let mut map_path = shot.path.clone().into_os_string();
    map_path.push(".json");
    if let Ok(json) = serde_json::to_string_pretty(&ui.map) {
        let _ = std::fs::write(PathBuf::from(map_path), json);
    }
    commands
        .spawn(target)
        .observe(save_to_disk(shot.path.clone()))
        .observe(
            |_: On<ScreenshotCaptured>, mut exit: MessageWriter<AppExit>| {
                exit.write(AppExit::Success);
            },
        );
}

fn copy_frame(session: Res<SessionRes>, mut frame: ResMut<Frame>, mut st: ResMut<FrameStatus>) {
    frame.0.clone_from(&session.shared.model());
    st.0.clone_from(&session.shared.status());
}

fn window_size(windows: Query<&Window, With<PrimaryWindow>>, mut size: ResMut<ScreenSize>) {
    if let Ok(w) = windows.single() {
        let s = Vec2::new(w.width(), w.height());
        if s != size.0 {
            size.0 = s;
        }
    }
}

fn ui_system(
    mut contexts: EguiContexts,
    frame: Res<Frame>,
    st: Res<FrameStatus>,
    plan: Res<Plan>,
    mut xf: ResMut<ViewXf>,
    mut ui: ResMut<UiState>,
    session: Res<SessionRes>,
) -> bevy::prelude::Result {
    let ctx = contexts.ctx_mut()?;
    let mut cmds = crate::station::draw(ctx, &frame.0, &st.0, &plan, &mut xf, &mut ui);
    if ui.pending_select {
        ui.pending_select = false;
        if let Some(b) = ui.selected {
            cmds.push(Command::Select(frame.0.beds[b].patient));
        }
    }
    for c in cmds {
        let _ = session.tx.send(c);
    }
    Ok(())
}

fn bench_frame(mut bench: ResMut<Bench>, mut exit: MessageWriter<AppExit>) {
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    if let Some(last) = bench.last {
        let ms = now.duration_since(last).as_secs_f64() * 1000.0;
        bench
            .times_ms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ms);
        bench.left = bench.left.saturating_sub(1);
    }
    bench.last = Some(now);
    if bench.left == 0 {
        exit.write(AppExit::Success);
    }
}

fn report_bench(times: &[f64], scenario: &wardtwin_scenarios::Scenario, shared: &Shared) {
    if times.is_empty() {
        return;
    }
    let mut t = times.to_vec();
    t.sort_by(f64::total_cmp);
    let q = |p: f64| t[((t.len() - 1) as f64 * p).round() as usize];
    let st = shared.status();
    let mean = t.iter().sum::<f64>() / t.len() as f64;
    wardtwin::outln!(
        "{} frames of {} ({} beds): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({:.0} fps mean); \
         simulation at {:.0} s simulated, last step {} us",
        t.len(),
        scenario.name,
        scenario.beds.len(),
        q(0.5),
        q(0.99),
        q(1.0),
        1000.0 / mean,
        (st.ticks_done as i64 * scenario.step_ms) as f64 / 1000.0,
        st.step_us
    );
}
