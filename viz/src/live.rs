//! The live session: the twin stepping on its own thread, paced to the wall clock at the
//! chosen speed, writing a run folder like `wardtwin run` does, and feeding the view's
//! [`WardModel`] through a [`ViewSink`]. The view never waits for the simulation and the
//! simulation never waits for a frame: they share the model behind a mutex that each holds
//! for the length of one batch or one frame's copy.
//!
//! The instructor's injections are scenario events: an injection is an `[[event]]` added to
//! the session's timeline at the next step, and the twin is rebuilt from the amended scenario
//! and stepped (without pacing) back to where it was. So an injected event acts exactly as the
//! same event written in the scenario would, `session.toml` in the run folder reproduces the
//! session's ground truth byte for byte with `wardtwin run`, and nothing about the twin had
//! to learn to take events mid-run.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wardtwin_exporters::{DEFAULT_CHUNK_ROWS, ParquetSink};
use wardtwin_scenarios::Scenario;
use wardtwin_sim::records::{
    DeviceEvent, EmissionFate, FaultRecord, Forwarded, PatientIx, PositionRecord, RhythmRecord,
    TruthVitals, WaveFrame,
};
use wardtwin_sim::time::{SimMillis, format_iso_ms};
use wardtwin_sim::{Batch, RecordSink, Sim, SinkError, SinkReport, Sinks};
use wardtwin_twins::patient::{Patient, TrueVitals};
use wardtwin_twins::{BuildOptions, build_app};

use crate::model::WardModel;
use crate::publish::{LiveConfig, LiveSide};
use crate::trainee::{Escalation, TraineeLog};

/// The session's scenario with the injected events: `session.toml` in the run folder.
pub const SESSION_FILE: &str = "session.toml";
/// The status-message interval `wardtwin run` uses by default (a session must build the same
/// twin as `wardtwin run session.toml`).
pub const STATUS_INTERVAL_MS: i64 = 5 * 60_000;

/// How fast the session runs, in simulated seconds per wall second (`INFINITY`: as fast as
/// the twin steps).
pub type Speed = f64;

/// What the view asks of the session.
#[derive(Debug, Clone)]
pub enum Command {
    Pause(bool),
    /// One step (when paused).
    Step,
    Speed(Speed),
    /// Whose waveforms to synthesise and keep.
    Select(Option<PatientIx>),
    /// An instructor's event: the `[[event]]` TOML without its `at` (added at the next step).
    Inject {
        label: String,
        toml: String,
    },
    /// A trainee's escalation.
    Escalate(Escalation),
    /// Replay: jump to this simulation time (ms since the epoch).
    Seek(i64),
    /// Run (at the current speed) until this simulation time (ms since the epoch), then pause.
    RunUntil(i64),
    /// Finish the run folder and stop.
    Quit,
}

/// What the session tells the view.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub paused: bool,
    pub speed: Speed,
    pub ticks_done: u64,
    pub total_ticks: u64,
    /// Where the pacer is (simulation time the wall clock has reached): a strip drawn up to
    /// here sweeps smoothly and never runs ahead of the data.
    pub paced_ms: SimMillis,
    pub finished: bool,
    /// Rebuilding after an injection (catching up to where it was).
    pub catching_up: bool,
    /// What happened, newest last (injections, escalations, errors).
    pub log: Vec<String>,
    pub error: Option<String>,
    /// The last wall time one step took, in microseconds.
    pub step_us: u64,
    /// A replay of a run folder (no injections, no escalations).
    pub replay: bool,
    /// Published telemetry the broker never confirmed (set when a live session finishes).
    pub delivery_lost: u64,
    /// What the session's end reported (scorecards, delivery), for the command line.
    pub summary: Vec<String>,
}

/// What the view and the session share.
pub struct Shared {
    pub model: Mutex<WardModel>,
    pub status: Mutex<Status>,
}

impl Shared {
    pub fn model(&self) -> MutexGuard<'_, WardModel> {
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A sink that applies every record the view shows to the shared model.
pub struct ViewSink {
    shared: Arc<Shared>,
}

impl RecordSink for ViewSink {
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        let mut m = self.shared.model();
        if let Some(rows) = batch.get::<Forwarded>() {
            rows.iter().for_each(|r| m.apply_reading(r));
        } else if let Some(rows) = batch.get::<TruthVitals>() {
            rows.iter().for_each(|r| m.apply_truth(r));
        } else if let Some(rows) = batch.get::<EmissionFate>() {
            rows.iter().for_each(|r| m.apply_fate(r));
        } else if let Some(rows) = batch.get::<DeviceEvent>() {
            rows.iter().for_each(|r| m.apply_event(r));
        } else if let Some(rows) = batch.get::<PositionRecord>() {
            rows.iter().for_each(|r| m.apply_position(r));
        } else if let Some(rows) = batch.get::<FaultRecord>() {
            rows.iter().for_each(|r| m.apply_fault(r));
        } else if let Some(rows) = batch.get::<WaveFrame>() {
            rows.iter().for_each(|r| m.apply_wave(r));
        } else if let Some(rows) = batch.get::<RhythmRecord>() {
            rows.iter().for_each(|r| m.apply_rhythm(r));
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<SinkReport, SinkError> {
        Ok(SinkReport::default())
    }
}

/// How a session starts.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The scenario's TOML and the label its errors carry.
    pub text: String,
    pub label: String,
    pub seed: Option<u64>,
    pub out: PathBuf,
    pub speed: Speed,
    pub paused: bool,
    pub threads: Option<usize>,
    /// Stop stepping here (simulation time since the epoch, ms), e.g. for a screenshot.
    pub stop_at_ms: Option<i64>,
    /// The reference stack's policy on the central station (`--with-reference-stack`).
    pub stack: Option<wardtwin_reference::PolicyKind>,
    /// Publish to a broker, and collect a system under test's alerts (`--alerts-topic`).
    pub live: Option<LiveConfig>,
}

/// The session's own state, on its thread.
struct Session {
    cfg: SessionConfig,
    /// `[[event]]` blocks the instructor added, in order.
    injected: Vec<String>,
    /// When each was made, and what it was (for the debrief).
    injected_labels: Vec<(SimMillis, String)>,
    scenario: Scenario,
    seed: u64,
    sim: Sim,
    shared: Arc<Shared>,
    selected: Option<PatientIx>,
    tapped: Vec<PatientIx>,
    trainee: TraineeLog,
    /// The publisher and the alert collector, kept across rebuilds.
    live: Option<LiveSide>,
}

/// Parses the scenario text with the injected events.
fn parse(text: &str, label: &str, injected: &[String]) -> Result<Scenario> {
    let mut full = text.to_string();
    for ev in injected {
        full.push_str(ev);
    }
    let file = if injected.is_empty() {
        label.to_string()
    } else {
        format!("{label} (with injected events)")
    };
    wardtwin_scenarios::parse(&full, &file).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Builds the twin of `scenario` with its sinks: the run folder, the view, and (live) the
/// publisher, which the first build starts.
fn build(
    scenario: &Scenario,
    seed: u64,
    cfg: &SessionConfig,
    shared: &Arc<Shared>,
    live: &mut Option<LiveSide>,
) -> Result<Sim> {
    let opts = BuildOptions {
        seed: Some(seed),
        threads: cfg.threads,
        live_transport: false,
        status_interval_ms: Some(STATUS_INTERVAL_MS),
    };
    let (mut app, dir) = build_app(scenario, &opts);
    {
        let mut fresh = WardModel::new(scenario, &dir);
        let mut m = shared.model();
        fresh.keep_sut_alerts(&m);
        *m = fresh;
    }
    let dir = Arc::new(dir);
    for t in wardtwin_exporters::table_names() {
        let _ = std::fs::remove_file(cfg.out.join(format!("{t}.parquet")));
    }
    let _ = std::fs::remove_file(cfg.out.join("manifest.json"));
    let parquet = ParquetSink::create(&cfg.out, Arc::clone(&dir), DEFAULT_CHUNK_ROWS)
        .with_context(|| format!("cannot write into {}", cfg.out.display()))?;
    let view = ViewSink {
        shared: Arc::clone(shared),
    };
    let mut sinks: Vec<Box<dyn RecordSink>> = vec![Box::new(parquet), Box::new(view)];
    if let Some(kind) = cfg.stack {
        // A rebuilt twin feeds a fresh policy from the start: its log starts afresh too.
        let stack =
            crate::stack::StackSink::new(kind, Arc::clone(&dir), Arc::clone(shared), &cfg.out)
                .with_context(|| format!("cannot write into {}", cfg.out.display()))?;
        sinks.push(Box::new(stack));
    }
    if let (Some(lc), None) = (&cfg.live, &live) {
        *live = Some(LiveSide::start(lc, scenario, &dir, &cfg.out, shared)?);
    }
    if let Some(l) = live.as_ref() {
        sinks.push(Box::new(l.sink()));
    }
    app.insert_resource(Sinks::new(sinks));
    Ok(Sim::new(app))
}

impl Session {
    fn now_ms(&self) -> SimMillis {
        let c = self.sim.clock();
        c.epoch_ms() + self.sim.ticks_done() as i64 * c.step_ms()
    }

    /// One step, then the model is told where time is and which rhythms are under way.
    fn step(&mut self) {
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        self.sim.step();
        let end = self.now_ms();
        let world = self.sim.app.world_mut();
        let rhythms: Vec<(PatientIx, wardtwin_sim::records::Rhythm)> = world
            .query::<(&Patient, &TrueVitals)>()
            .iter(world)
            .map(|(p, v)| (p.ix, v.rhythm))
            .collect();
        {
            let mut m = self.shared.model();
            m.set_rhythms(rhythms);
            m.advance(end);
        }
        let mut s = self.shared.status();
        s.ticks_done = self.sim.ticks_done();
        s.step_us = t0.elapsed().as_micros() as u64;
    }

    fn select(&mut self, p: Option<PatientIx>) {
        self.selected = p;
        self.shared.model().select_wave(p);
        if let Some(p) = p {
            self.tap(p);
        }
    }

    /// Synthesises `p`'s waveforms from now on (once).
    fn tap(&mut self, p: PatientIx) {
        if !self.tapped.contains(&p) {
            wardtwin_twins::waveform::tap(self.sim.app.world_mut(), Some(&[p]));
            self.tapped.push(p);
        }
    }

    /// Adds an instructor's event at the next step and rebuilds the twin up to now.
    fn inject(&mut self, label: &str, toml: &str) -> Result<()> {
        let done = self.sim.ticks_done();
        let step = self.scenario.step_ms;
        let at = (done as i64) * step;
        let block = format!(
            "\n# injected by the instructor at {}: {label}\n[[event]]\nat = \"{}\"\n{toml}",
            format_iso_ms(self.scenario.epoch_ms + at),
            wardtwin_sim::time::format_duration(at)
        );
        let mut injected = self.injected.clone();
        injected.push(block);
        let scenario = parse(&self.cfg.text, &self.cfg.label, &injected)?;
        self.shared.status().catching_up = true;
        // The old twin goes first: its sinks are finished (their writer threads done with the
        // files), then the new twin's replace them, written from the start.
        let placeholder = Sim::new(bevy::app::App::new());
        let _ = std::mem::replace(&mut self.sim, placeholder).finish();
        // What the rebuilt twin emits up to now was published already.
        if let Some(l) = &self.live {
            l.set_publishing(false);
        }
        self.sim = build(
            &scenario,
            self.seed,
            &self.cfg,
            &self.shared,
            &mut self.live,
        )?;
        self.injected = injected;
        self.injected_labels
            .push((self.scenario.epoch_ms + at, label.to_string()));
        self.scenario = scenario;
        for p in std::mem::take(&mut self.tapped) {
            self.tap(p);
        }
        self.select(self.selected);
        while self.sim.ticks_done() < done {
            self.step();
        }
        if let Some(l) = &self.live {
            l.set_publishing(true);
        }
        self.save_session()?;
        self.shared.status().catching_up = false;
        Ok(())
    }

    /// What the broker confirmed, and the system under test's scorecard (in `live/`).
    fn report_live(&self, l: &crate::publish::LiveEnd) -> Result<()> {
        let r = &l.manifest.report;
        let mut lines = vec![format!(
            "published: {} reading(s) acknowledged, {} sent, {} lost",
            r.acknowledged,
            r.sent,
            r.lost()
        )];
        self.shared.status().delivery_lost = r.lost();
        if let Some(c) = &l.collected {
            let alerts = l.folder.join(wardtwin_exporters::runfolder::ALERTS_LOG);
            let card = wardtwin::score::score_run(&self.cfg.out, &l.folder, Some(&alerts), &[])?;
            lines.push(format!(
                "system under test: {} message(s){}, {} alert(s) scored, {} true, sensitivity {} \
                 ({})",
                c.alerts,
                if c.cut_off {
                    " (cut off: still arriving)"
                } else {
                    ""
                },
                card.overall.alerts,
                card.overall.true_alerts,
                card.overall
                    .sensitivity
                    .map_or("-".into(), |s| format!("{s:.2}")),
                l.folder.join("scorecard.json").display()
            ));
        }
        let mut st = self.shared.status();
        st.log.extend(lines.iter().cloned());
        st.summary.extend(lines);
        Ok(())
    }

    /// `session.toml`: the scenario with every injected event, which `wardtwin run` reruns.
    fn save_session(&self) -> Result<()> {
        let mut text = self.cfg.text.clone();
        for ev in &self.injected {
            text.push_str(ev);
        }
        let path = self.cfg.out.join(SESSION_FILE);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Finishes the run folder: the files, the manifest, the trainee's alerts and scorecard.
    fn finish(mut self) -> Result<()> {
        let complete = self.sim.ticks_done() == self.sim.clock().total_ticks();
        if !complete {
            self.sim.truncate();
            self.scenario.duration_ms = self.sim.clock().duration_ms();
        }
        let dir = self
            .sim
            .app
            .world()
            .resource::<wardtwin_sim::Directory>()
            .clone();
        self.save_session()?;
        let sim = std::mem::replace(&mut self.sim, Sim::new(bevy::app::App::new()));
        let reports = sim
            .finish()
            .map_err(|e| anyhow::anyhow!("writing {} failed: {e}", self.cfg.out.display()))?;
        let live = self.live.take().map(LiveSide::finish).transpose()?;
        wardtwin::run::manifest(
            &self.cfg.out,
            &reports,
            &self.scenario,
            self.seed,
            !complete,
            &dir,
            "wardtwin-viz",
            live.as_ref().map(|l| l.manifest.clone()),
        )?;
        if let Some(l) = &live {
            self.report_live(l)?;
        }
        self.trainee.finish()?;
        // The trainee's scorecard, as `wardtwin score` writes it.
        if self.trainee.count() > 0 {
            let card = wardtwin::score::score_run(&self.cfg.out, &self.cfg.out, None, &[])?;
            crate::debrief::write(
                &self.cfg.out,
                &card,
                self.scenario.epoch_ms,
                self.scenario.epoch_ms + self.scenario.duration_ms,
                &self.injected_labels,
                &self.trainee.escalated,
            )?;
            let line = format!(
                "trainee: {} of {} alert(s) true, sensitivity {} ({})",
                card.overall.true_alerts,
                card.overall.alerts,
                card.overall
                    .sensitivity
                    .map_or("-".into(), |s| format!("{s:.2}")),
                self.cfg.out.join("scorecard.json").display()
            );
            let mut st = self.shared.status();
            st.log.push(line.clone());
            st.summary.push(line);
        }
        Ok(())
    }
}

/// A running session: its thread, and the channel to it.
pub struct Handle {
    pub shared: Arc<Shared>,
    pub tx: Sender<Command>,
    thread: Option<JoinHandle<Result<()>>>,
    pub scenario: Scenario,
    pub out: PathBuf,
}

impl Handle {
    /// Asks the session to finish its files and waits for it.
    pub fn finish(mut self) -> Result<()> {
        let _ = self.tx.send(Command::Quit);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => anyhow::bail!("the simulation thread panicked"),
            None => Ok(()),
        }
    }

    /// Waits until the session has stepped to simulation time `at_ms` (since the epoch; or
    /// the end) and stopped there: after a [`Command::RunUntil`] of that time.
    pub fn wait_for(&self, at_ms: i64) -> Result<()> {
        let step = self.scenario.step_ms;
        let want = ((at_ms.max(0) + step - 1) / step) as u64;
        loop {
            {
                let s = self.shared.status();
                if let Some(e) = &s.error {
                    anyhow::bail!("{e}");
                }
                if s.finished
                    || (s.ticks_done >= want.min(s.total_ticks) && s.paused && !s.catching_up)
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the session has stopped stepping (paused at `stop_at`, or the end).
    pub fn wait_until_stopped(&self) -> Result<()> {
        loop {
            {
                let s = self.shared.status();
                if let Some(e) = &s.error {
                    anyhow::bail!("{e}");
                }
                if s.finished || (s.paused && !s.catching_up) {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts a session on its own thread (a Bevy app is not `Send`: the twin is built there).
pub fn start(cfg: SessionConfig) -> Result<Handle> {
    let scenario = parse(&cfg.text, &cfg.label, &[])?;
    let seed = cfg.seed.unwrap_or(scenario.seed);
    std::fs::create_dir_all(&cfg.out)
        .with_context(|| format!("cannot create run folder {}", cfg.out.display()))?;
    // Replaced by the built twin's model in build().
    let placeholder = WardModel::new(&scenario, &wardtwin_sim::Directory::default());
    let shared = Arc::new(Shared {
        model: Mutex::new(placeholder),
        status: Mutex::new(Status {
            paused: cfg.paused,
            speed: cfg.speed,
            paced_ms: scenario.epoch_ms,
            ..Status::default()
        }),
    });
    let (tx, rx) = channel();
    let (ready_tx, ready_rx) = channel::<Result<()>>();
    let out = cfg.out.clone();
    let s2 = Arc::clone(&shared);
    let sc = scenario.clone();
    let thread = std::thread::Builder::new()
        .name("wardtwin-sim".into())
        .spawn(move || {
            let mut live = None;
            let built = build(&sc, seed, &cfg, &s2, &mut live).and_then(|sim| {
                s2.status().total_ticks = sim.clock().total_ticks();
                let streamed = live.as_ref().map_or_else(Vec::new, LiveSide::streamed);
                let mut session = Session {
                    trainee: TraineeLog::new(&sc),
                    cfg,
                    injected: Vec::new(),
                    injected_labels: Vec::new(),
                    scenario: sc,
                    seed,
                    sim,
                    shared: Arc::clone(&s2),
                    selected: None,
                    tapped: Vec::new(),
                    live,
                };
                // The waveforms the wire carries (as `wardtwin run --live` streams them).
                for p in streamed {
                    session.tap(p);
                }
                session.save_session()?;
                Ok(session)
            });
            let session = match built {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    s
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    let _ = ready_tx.send(Err(e));
                    s2.status().error = Some(msg);
                    s2.status().finished = true;
                    return Ok(());
                }
            };
            let r = run(session, rx);
            if let Err(e) = &r {
                s2.status().error = Some(format!("{e:#}"));
            }
            s2.status().finished = true;
            r
        })
        .context("cannot start the simulation thread")?;
    ready_rx
        .recv()
        .map_err(|_| anyhow::anyhow!("the simulation thread ended before the twin was built"))??;
    Ok(Handle {
        shared,
        tx,
        thread: Some(thread),
        scenario,
        out,
    })
}

/// Where the pacer measures from: (wall instant, tick) at the last change of speed or pause.
struct Anchor {
    wall: Instant,
    tick: u64,
}

impl Anchor {
    fn now(tick: u64) -> Self {
        #[allow(clippy::disallowed_methods)]
        Self {
            wall: Instant::now(),
            tick,
        }
    }
}

/// The session's loop: commands, pacing, steps.
fn run(mut s: Session, rx: Receiver<Command>) -> Result<()> {
    let mut anchor = Anchor::now(0);
    let total = s.sim.clock().total_ticks();
    let step_ms = s.scenario.step_ms;
    let epoch = s.scenario.epoch_ms;
    let tick_of = |ms: i64| ((ms.max(0) + step_ms - 1) / step_ms) as u64;
    let mut stop_tick = s.cfg.stop_at_ms.map(tick_of);
    loop {
        let (paused, speed) = {
            let st = s.shared.status();
            (st.paused, st.speed)
        };
        let done = s.sim.ticks_done();
        if done >= total && !paused {
            // The end: the session waits, paused, to be closed.
            s.shared.status().paused = true;
            continue;
        }
        if stop_tick.is_some_and(|t| done >= t) {
            // Reached: paused here, and the stop is spent (running on goes on).
            stop_tick = None;
            s.shared.status().paused = true;
            continue;
        }
        // When is the next step due on the wall clock?
        let wait = if paused || done >= total {
            None
        } else if speed.is_finite() && speed > 0.0 {
            let due = anchor.wall
                + Duration::from_secs_f64(
                    (done - anchor.tick) as f64 * step_ms as f64 / 1000.0 / speed,
                );
            #[allow(clippy::disallowed_methods)]
            let now = Instant::now();
            Some(due.saturating_duration_since(now))
        } else {
            Some(Duration::ZERO)
        };
        // The pacer's position: the data never runs behind it (the step covering now is done).
        {
            #[allow(clippy::disallowed_methods)]
            let elapsed = anchor.wall.elapsed().as_secs_f64();
            let paced = if paused || !speed.is_finite() {
                epoch + done as i64 * step_ms
            } else {
                epoch + anchor.tick as i64 * step_ms + (elapsed * speed * 1000.0) as i64
            };
            s.shared.status().paced_ms = paced.min(epoch + done as i64 * step_ms);
        }
        let cmd = match wait {
            None => match rx.recv() {
                Ok(c) => Some(c),
                Err(_) => return s.finish(),
            },
            Some(d) if d.is_zero() => match rx.try_recv() {
                Ok(c) => Some(c),
                Err(std::sync::mpsc::TryRecvError::Empty) => None,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return s.finish(),
            },
            // Commands wake the wait; a 30 ms cap keeps the pacer's position fresh.
            Some(d) => match rx.recv_timeout(d.min(Duration::from_millis(30))) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => {
                    if d > Duration::from_millis(30) {
                        continue;
                    }
                    None
                }
                Err(RecvTimeoutError::Disconnected) => return s.finish(),
            },
        };
        match cmd {
            Some(Command::Quit) => return s.finish(),
            Some(Command::RunUntil(ms)) => {
                stop_tick = Some(tick_of(ms));
                s.shared.status().paused = false;
                anchor = Anchor::now(s.sim.ticks_done());
            }
            Some(Command::Pause(p)) => {
                s.shared.status().paused = p;
                anchor = Anchor::now(s.sim.ticks_done());
            }
            Some(Command::Step) => {
                if s.sim.ticks_done() < total {
                    s.step();
                }
                anchor = Anchor::now(s.sim.ticks_done());
            }
            Some(Command::Speed(v)) => {
                s.shared.status().speed = v;
                anchor = Anchor::now(s.sim.ticks_done());
            }
            Some(Command::Select(p)) => s.select(p),
            // A live session cannot go back in time.
            Some(Command::Seek(_)) => {}
            Some(Command::Inject { label, toml }) => {
                let msg = match s.inject(&label, &toml) {
                    Ok(()) => format!("{}: injected {label}", &format_iso_ms(s.now_ms())[11..19]),
                    Err(e) => {
                        s.shared.status().catching_up = false;
                        format!("injection refused: {e:#}")
                    }
                };
                s.shared.status().log.push(msg);
                anchor = Anchor::now(s.sim.ticks_done());
            }
            Some(Command::Escalate(e)) => {
                let now = s.now_ms();
                let msg = match s.trainee.escalate(&e, now, &s.cfg.out) {
                    Ok(m) => m,
                    Err(e) => format!("escalation not logged: {e:#}"),
                };
                s.shared.status().log.push(msg);
            }
            None => {
                if done < total && !paused {
                    s.step();
                    if s.sim.app.world().resource::<Sinks>().failed() {
                        // finish() reports the sink's error.
                        return s.finish();
                    }
                }
            }
        }
    }
}

/// The run folder a session writes by default.
pub fn default_out(scenario: &Scenario, seed: u64) -> PathBuf {
    Path::new("runs").join(format!("{}-{seed}-session", scenario.name))
}
