//! The Bevy engine: fixed-step clock, declared schedule, per-tick messages, the recorder.
//!
//! One `App::update()` is one fixed step of simulation time. Systems live in the chained
//! [`SimSet`]s of the `Update` schedule:
//!
//! `Clock → Faults → Dynamics → Sensing → Emission → Transport → Record`
//!
//! Per-tick facts move as messages named as past-tense facts ([`ReadingEmitted`],
//! [`TruthSampled`], …). The recorder, last in the tick, sorts each message kind by stable index
//! and hands the rows to every [`RecordSink`]. At the end of a run the [`SimEnd`] schedule lets
//! plugins flush what is still open (an episode still going), then records once more.

use bevy_app::{
    App, AppExit, Plugin, TaskPoolOptions, TaskPoolPlugin, TaskPoolThreadAssignmentPolicy, Update,
};
use bevy_ecs::message::{Message, MessageCursor, MessageReader, MessageWriter, Messages};
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{ScheduleLabel, Schedules, SingleThreadedExecutor};

use crate::conditions::ConditionRecord;
use crate::records::{
    ArtifactRecord, DeviceEvent, EmissionFate, EmissionKind, EpisodeRecord, ExcursionRecord, Fate,
    FaultRecord, Forwarded, PositionRecord, Reading, RhythmRecord, StatusReport, TruthVitals,
    WaveFrame,
};
use crate::sink::{Batch, Record, RecordSink, SinkError, SinkReport};
use crate::time::SimMillis;

/// The stages of one tick, run in this order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimSet {
    /// Advance the clock.
    Clock,
    /// Random incidents of the day ahead are drawn when a day begins (twins' schedules hold
    /// a day or two, never the whole run).
    Plan,
    /// Fault mechanisms decide what is broken this tick (later: outages, broker restarts).
    Faults,
    /// True state evolves (physiology, batteries).
    Dynamics,
    /// Devices measure the true state.
    Sensing,
    /// Devices turn measurements into emissions.
    Emission,
    /// Transports decide each emission's fate.
    Transport,
    /// Everything recorded this tick goes to the sinks, in stable order.
    Record,
}

/// Runs once after the last tick, so plugins can flush state that is still open.
#[derive(ScheduleLabel, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SimEnd;

/// Simulation time. Tick `k` covers the instant `epoch + k·step`.
#[derive(Resource, Debug, Clone, PartialEq, Eq)]
pub struct SimClock {
    epoch_ms: SimMillis,
    step_ms: i64,
    duration_ms: i64,
    tick: u64,
    started: bool,
}

impl SimClock {
    pub fn new(epoch_ms: SimMillis, step_ms: i64, duration_ms: i64) -> Self {
        assert!(step_ms > 0, "step must be positive");
        Self {
            epoch_ms,
            step_ms,
            duration_ms,
            tick: 0,
            started: false,
        }
    }
    pub fn epoch_ms(&self) -> SimMillis {
        self.epoch_ms
    }
    pub fn step_ms(&self) -> i64 {
        self.step_ms
    }
    pub fn duration_ms(&self) -> i64 {
        self.duration_ms
    }
    /// Number of ticks in the run.
    pub fn total_ticks(&self) -> u64 {
        (self.duration_ms / self.step_ms) as u64
    }
    /// The current tick (0 for the first).
    pub fn tick(&self) -> u64 {
        self.tick
    }
    /// Current simulation time.
    pub fn now_ms(&self) -> SimMillis {
        self.epoch_ms + self.tick as i64 * self.step_ms
    }
    /// Time since the epoch.
    pub fn elapsed_ms(&self) -> i64 {
        self.tick as i64 * self.step_ms
    }
    /// End of the run (exclusive).
    pub fn end_ms(&self) -> SimMillis {
        self.epoch_ms + self.duration_ms
    }
    fn advance(&mut self) {
        if self.started {
            self.tick += 1;
        } else {
            self.started = true;
        }
    }
}

/// The run seed every stream derives from.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSeed(pub u64);

/// A device emitted a reading (it is now on the radio, on its way to a gateway).
#[derive(Message, Debug, Clone, Copy)]
pub struct ReadingEmitted(pub Reading);
/// A reading went upstream (its gateway forwarded it): what the outputs and the wire get.
#[derive(Message, Debug, Clone, Copy)]
pub struct ReadingForwarded(pub Forwarded);

/// Present when a plugin forwards emissions itself (the gateway twin: radio, spool, uplink).
/// Without one, the engine forwards every reading upstream the moment it is emitted, so a run
/// with no gateways still records its telemetry.
#[derive(Resource, Debug, Clone, Copy, Default)]
pub struct ForwardedByPlugin;

/// The engine's own forwarder (runs only without a [`ForwardedByPlugin`]); a forwarding
/// plugin orders its systems after it.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DirectUplink;

/// The file transport (runs without a live one): every forwarded reading reaches the file
/// sink. Gateways run before it, in [`SimSet::Transport`].
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileTransport;
/// A device sent a status message (it went upstream with the reading or event that prompted
/// it).
#[derive(Message, Debug, Clone, Copy)]
pub struct StatusEmitted(pub StatusReport);
/// A transport decided an emission's fate.
#[derive(Message, Debug, Clone, Copy)]
pub struct EmissionFated(pub EmissionFate);
/// A patient's true vitals were sampled for the ground truth.
#[derive(Message, Debug, Clone, Copy)]
pub struct TruthSampled(pub TruthVitals);
/// A deterioration episode is over (or the run ended while it went on).
#[derive(Message, Debug, Clone, Copy)]
pub struct EpisodeClosed(pub EpisodeRecord);
/// An artifact interval was recorded (a non-event for the scorer).
#[derive(Message, Debug, Clone, Copy)]
pub struct ArtifactRecorded(pub ArtifactRecord);
/// Something happened to a device (battery low, battery depleted).
#[derive(Message, Debug, Clone, Copy)]
pub struct DeviceEventOccurred(pub DeviceEvent);
/// An alertable condition is over (or the run ended while it went on).
#[derive(Message, Debug, Clone, Copy)]
pub struct ConditionRecorded(pub ConditionRecord);

/// A fridge's temperature excursion is over (or the run ended while it went on).
#[derive(Message, Debug, Clone, Copy)]
pub struct ExcursionRecorded(pub ExcursionRecord);

/// A fault of the devices or network began (its record says when it heals).
#[derive(Message, Debug, Clone, Copy)]
pub struct FaultRecorded(pub FaultRecord);

/// A spell of a heart rhythm other than sinus is over (or the run ended while it went on).
#[derive(Message, Debug, Clone, Copy)]
pub struct RhythmRecorded(pub RhythmRecord);

/// A nurse's observation round was charted (or missed).
#[derive(Message, Debug, Clone, Copy)]
pub struct Charted(pub crate::records::ChartRecord);

/// A step of a patient's waveforms was synthesised (only with `--waveforms`).
#[derive(Message, Debug, Clone)]
pub struct WaveformFramed(pub WaveFrame);

impl Carries for WaveformFramed {
    type Row = WaveFrame;
    fn row(&self) -> WaveFrame {
        self.0.clone()
    }
}

/// A tag's true position was sampled for the ground truth.
#[derive(Message, Debug, Clone, Copy)]
pub struct PositionSampled(pub PositionRecord);

/// The sinks of a run; the first sink error stops recording and is reported by [`Sim::finish`].
#[derive(Resource, Default)]
pub struct Sinks {
    sinks: Vec<Box<dyn RecordSink>>,
    error: Option<SinkError>,
}

impl Sinks {
    pub fn new(sinks: Vec<Box<dyn RecordSink>>) -> Self {
        Self { sinks, error: None }
    }
    pub fn push(&mut self, sink: Box<dyn RecordSink>) {
        self.sinks.push(sink);
    }
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
    fn each(&mut self, mut f: impl FnMut(&mut dyn RecordSink) -> Result<(), SinkError>) {
        if self.error.is_some() {
            return;
        }
        for s in &mut self.sinks {
            if let Err(e) = f(s.as_mut()) {
                self.error = Some(e);
                return;
            }
        }
    }
}

/// Engine configuration.
#[derive(Debug, Clone)]
pub struct SimPlugin {
    pub epoch_ms: SimMillis,
    pub step_ms: i64,
    pub duration_ms: i64,
    pub seed: u64,
    /// Worker threads for Bevy's compute pool; `None`: one per core.
    pub threads: Option<usize>,
    /// Every emission goes to the file sink and its fate is recorded as `delivered` at once.
    /// Off when a live transport (MQTT) records the fates itself, as they become known.
    pub file_transport: bool,
}

impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<TaskPoolPlugin>() {
            app.add_plugins(TaskPoolPlugin {
                task_pool_options: compute_pool_options(self.threads),
            });
        }
        app.insert_resource(SimClock::new(self.epoch_ms, self.step_ms, self.duration_ms))
            .insert_resource(RunSeed(self.seed))
            .init_resource::<Sinks>()
            .init_resource::<Recorder>()
            .add_message::<ReadingEmitted>();
        record_kinds(app);
        app.configure_sets(
            Update,
            (
                SimSet::Clock,
                SimSet::Plan,
                SimSet::Faults,
                SimSet::Dynamics,
                SimSet::Sensing,
                SimSet::Emission,
                SimSet::Transport,
                SimSet::Record,
            )
                .chain(),
        )
        .configure_sets(SimEnd, (SimSet::Dynamics, SimSet::Record).chain())
        .add_systems(Update, advance_clock.in_set(SimSet::Clock))
        .add_systems(Update, record.in_set(SimSet::Record))
        .add_systems(SimEnd, record.in_set(SimSet::Record));
        app.configure_sets(Update, FileTransport.in_set(SimSet::Transport))
            .configure_sets(
                Update,
                DirectUplink.in_set(SimSet::Transport).before(FileTransport),
            )
            .add_systems(
                Update,
                forward_directly
                    .in_set(DirectUplink)
                    .run_if(not(resource_exists::<ForwardedByPlugin>)),
            );
        if self.file_transport {
            app.add_systems(Update, deliver_to_file.in_set(FileTransport));
        }
    }
}

/// Task pools for a headless simulation: the compute pool (used by `par_iter`) gets every
/// thread asked for; by default one per core but one, which is left to the output writer
/// thread (on 2 cores, a parallel step measured slower end to end than a serial one because
/// the Parquet writer lost its core). Bevy's default split would give the IO and
/// async-compute pools a quarter each; they idle here and keep one thread each.
pub fn compute_pool_options(threads: Option<usize>) -> TaskPoolOptions {
    let compute = threads
        .unwrap_or_else(|| bevy_tasks::available_parallelism().saturating_sub(1))
        .max(1);
    let one = |percent| TaskPoolThreadAssignmentPolicy {
        min_threads: 1,
        max_threads: 1,
        percent,
        on_thread_spawn: None,
        on_thread_destroy: None,
    };
    TaskPoolOptions {
        min_total_threads: compute + 2,
        max_total_threads: compute + 2,
        io: one(0.0),
        async_compute: one(0.0),
        compute: TaskPoolThreadAssignmentPolicy {
            min_threads: compute,
            max_threads: compute,
            ..one(1.0)
        },
    }
}

fn advance_clock(mut clock: ResMut<SimClock>) {
    clock.advance();
}

/// No plugin forwards emissions: every reading goes upstream as it is emitted.
fn forward_directly(
    clock: Res<SimClock>,
    mut emitted: MessageReader<ReadingEmitted>,
    mut forwarded: MessageWriter<ReadingForwarded>,
) {
    let now = clock.now_ms();
    forwarded.write_batch(emitted.read().map(|m| {
        ReadingForwarded(Forwarded {
            reading: m.0,
            forwarded_ms: now,
        })
    }));
}

/// The file transport: every reading a gateway forwarded reaches the file sink; late if it
/// waited in the gateway's spool.
fn deliver_to_file(
    mut forwarded: MessageReader<ReadingForwarded>,
    mut statuses: MessageReader<StatusEmitted>,
    mut fated: MessageWriter<EmissionFated>,
) {
    fated.write_batch(statuses.read().map(|StatusEmitted(s)| {
        EmissionFated(EmissionFate {
            device: s.device,
            kind: EmissionKind::Status,
            seq: s.seq,
            sim_ms: s.sim_ms,
            fate: Fate::Delivered,
            sink: "file",
            forwarded_ms: Some(s.forwarded_ms),
            attempts: 0,
            lateness_us: None,
        })
    }));
    fated.write_batch(forwarded.read().map(|ReadingForwarded(r)| {
        EmissionFated(EmissionFate {
            device: r.device,
            kind: EmissionKind::Telemetry,
            seq: r.seq,
            sim_ms: r.sim_ms,
            fate: if r.forwarded_ms > r.sim_ms {
                Fate::DeliveredLate
            } else {
                Fate::Delivered
            },
            sink: "file",
            forwarded_ms: Some(r.forwarded_ms),
            attempts: 0,
            lateness_us: None,
        })
    }));
}

/// A message that carries one record kind to the recorder.
pub trait Carries: Message {
    type Row: Record;
    fn row(&self) -> Self::Row;
}

macro_rules! carries {
    ($($msg:ty => $row:ty),* $(,)?) => {$(
        impl Carries for $msg {
            type Row = $row;
            fn row(&self) -> $row {
                self.0
            }
        }
    )*};
}

carries! {
    ReadingForwarded => Forwarded,
    StatusEmitted => StatusReport,
    EmissionFated => EmissionFate,
    TruthSampled => TruthVitals,
    EpisodeClosed => EpisodeRecord,
    ArtifactRecorded => ArtifactRecord,
    DeviceEventOccurred => DeviceEvent,
    ConditionRecorded => ConditionRecord,
    ExcursionRecorded => ExcursionRecord,
    PositionSampled => PositionRecord,
    FaultRecorded => FaultRecord,
    RhythmRecorded => RhythmRecord,
    Charted => crate::records::ChartRecord,
}

/// The record kinds of a run, in the order the recorder hands them to the sinks each tick.
/// This is the one list: a plugin that brings a new kind registers it with
/// [`RecordApp::add_record`] (after these).
fn record_kinds(app: &mut App) {
    app.add_record::<ReadingForwarded>()
        .add_record::<StatusEmitted>()
        .add_record::<EmissionFated>()
        .add_record::<TruthSampled>()
        .add_record::<EpisodeClosed>()
        .add_record::<ArtifactRecorded>()
        .add_record::<DeviceEventOccurred>()
        .add_record::<ConditionRecorded>()
        .add_record::<ExcursionRecorded>()
        .add_record::<PositionSampled>()
        .add_record::<FaultRecorded>()
        .add_record::<RhythmRecorded>()
        .add_record::<Charted>()
        .add_record::<WaveformFramed>();
}

/// Registering a record kind: its message, and a place in the recorder.
pub trait RecordApp {
    /// Adds message `M` and records every `M` written, as rows of `M::Row`.
    fn add_record<M: Carries>(&mut self) -> &mut Self;
}

impl RecordApp for App {
    fn add_record<M: Carries>(&mut self) -> &mut Self {
        self.add_message::<M>();
        self.world_mut()
            .get_resource_or_init::<Recorder>()
            .kinds
            .push(Box::new(KindRecorder::<M> {
                cursor: MessageCursor::default(),
                buf: Vec::new(),
            }));
        self
    }
}

/// The recorder's state: per kind, a cursor (shared by every instance of the recorder, the
/// tick's and [`SimEnd`]'s, so nothing is recorded twice) and a buffer it reuses, so recording
/// allocates nothing in steady state.
#[derive(Resource, Default)]
struct Recorder {
    kinds: Vec<Box<dyn ErasedKind>>,
}

trait ErasedKind: Send + Sync {
    /// Reads the unread messages into the buffer, in stable order.
    fn collect(&mut self, world: &World);
    fn batch(&self) -> Option<Batch<'_>>;
}

struct KindRecorder<M: Carries> {
    cursor: MessageCursor<M>,
    buf: Vec<M::Row>,
}

impl<M: Carries> ErasedKind for KindRecorder<M> {
    fn collect(&mut self, world: &World) {
        self.buf.clear();
        if let Some(messages) = world.get_resource::<Messages<M>>() {
            self.buf.extend(self.cursor.read(messages).map(M::row));
            self.buf.sort_unstable_by_key(Record::key);
        }
    }
    fn batch(&self) -> Option<Batch<'_>> {
        (!self.buf.is_empty()).then(|| Batch::new(&self.buf))
    }
}

/// Last in the tick: every kind's rows, sorted, to every sink.
fn record(world: &mut World) {
    world.resource_scope(|world, mut recorder: Mut<Recorder>| {
        world.resource_scope(|world, mut sinks: Mut<Sinks>| {
            for kind in &mut recorder.kinds {
                kind.collect(world);
                if let Some(batch) = kind.batch() {
                    sinks.each(|s| s.write(batch));
                }
            }
        });
    });
}

/// A ready-to-run simulation: the app plus the stepping loop.
pub struct Sim {
    pub app: App,
}

impl Sim {
    /// Wraps a fully built app. Every schedule gets the single-threaded executor: systems in a
    /// tick are chained anyway and parallelism lives inside systems (`par_iter`), while the
    /// multi-threaded executor would wake the compute pool for a few trivial systems in
    /// `First`/`Last` on every one of ~10^5 ticks (measured: ~45 us of thread switching per tick).
    pub fn new(mut app: App) -> Self {
        for (_, schedule) in app.world_mut().resource_mut::<Schedules>().iter_mut() {
            schedule.set_executor(SingleThreadedExecutor::new());
        }
        Self { app }
    }

    pub fn clock(&self) -> &SimClock {
        self.app.world().resource::<SimClock>()
    }

    /// Runs one tick.
    pub fn step(&mut self) {
        self.app.update();
    }

    /// Runs every remaining tick, calling `progress(done, total)` every `every` ticks.
    /// Stops early if a sink fails.
    pub fn run(&mut self, every: u64, progress: impl FnMut(u64, u64)) {
        self.run_with(every, |_| true, progress);
    }

    /// [`Sim::run`], calling `before_tick(k)` before tick `k` runs (a live run paces itself to
    /// the wall clock there; the simulation itself never sees the wall clock). If it returns
    /// `false`, the run stops before tick `k` (an interrupted run keeps what it simulated).
    pub fn run_with(
        &mut self,
        every: u64,
        mut before_tick: impl FnMut(u64) -> bool,
        mut progress: impl FnMut(u64, u64),
    ) {
        let total = self.clock().total_ticks();
        let mut done = self.ticks_done();
        while done < total {
            if !before_tick(done) {
                progress(done, total);
                return;
            }
            self.app.update();
            done += 1;
            if done.is_multiple_of(every.max(1)) || done == total {
                progress(done, total);
                if self.app.world().resource::<Sinks>().failed() {
                    return;
                }
            }
            if let Some(AppExit::Error(_)) = self.app.should_exit() {
                return;
            }
        }
    }

    /// Ends the run where it is (an interrupted run): the clock's duration becomes the ticks
    /// simulated so far, so [`SimEnd`] flushes state as of now and [`SimClock::end_ms`] is the
    /// simulated end.
    pub fn truncate(&mut self) {
        let done = self.ticks_done() as i64;
        let mut c = self.app.world_mut().resource_mut::<SimClock>();
        c.duration_ms = done * c.step_ms;
    }

    /// Ticks already simulated.
    pub fn ticks_done(&self) -> u64 {
        let c = self.clock();
        if c.started { c.tick + 1 } else { 0 }
    }

    /// Flushes open state ([`SimEnd`]) and finishes every sink.
    pub fn finish(mut self) -> Result<Vec<SinkReport>, SinkError> {
        self.app.world_mut().run_schedule(SimEnd);
        let mut sinks = std::mem::take(&mut *self.app.world_mut().resource_mut::<Sinks>());
        if let Some(e) = sinks.error.take() {
            return Err(e);
        }
        sinks.sinks.iter_mut().map(|s| s.finish()).collect()
    }
}
