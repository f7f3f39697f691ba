//! Replay of a run folder: its Parquet tables read back (polars), the view's model rebuilt as of
//! any simulation time, played at a speed or scrubbed on a timeline marked with the run's
//! episodes, conditions, faults and alerts.
//!
//! The model at time T is what the files hold up to T: every reading measured before T (in
//! file order, which is the order the gateways forwarded them), the last truth sample, the
//! positions, device events and faults begun, the rhythm spells under way. Seeking back
//! rebuilds the model from the start (a 24-bed day in tens of milliseconds).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wardtwin_exporters::runfolder::{Cols, for_each_slice, read_table};
use wardtwin_scenarios::Scenario;
use wardtwin_sim::Directory;
use wardtwin_sim::news2::{Acvpu, News2, Spo2Scale};
use wardtwin_sim::records::{
    DeviceEvent, DeviceEventKind, DeviceIx, Forwarded, Metric, NO_SOURCE, ObsStatus, PatientIx,
    PositionRecord, Reading, Rhythm, TruthVitals,
};
use wardtwin_sim::time::SimMillis;

use crate::live::{Command, Shared, Status};
use crate::model::{AlertFrom, StackAlert, WardModel};

/// Something worth a mark on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub at_ms: SimMillis,
    pub end_ms: Option<SimMillis>,
    pub kind: MarkKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    Episode,
    Condition,
    Fault,
    Alert,
}

/// One observation of the telemetry, compactly (a replay holds all of them).
#[derive(Debug, Clone, Copy)]
struct ObsRow {
    at_ms: SimMillis,
    device: u32,
    seq: u32,
    /// NaN: no value.
    value: f32,
    battery: f32,
    source: u16,
    /// Index into `Metric::ALL`.
    metric: u8,
    /// Index into `ObsStatus::ALL`.
    status: u8,
}

impl ObsRow {
    /// As the reading of one observation the model applies.
    fn forwarded(&self) -> Forwarded {
        let value = (!self.value.is_nan()).then_some(self.value);
        let (mut obs, len) = Reading::pack(&[(
            Metric::ALL[usize::from(self.metric)],
            value,
            ObsStatus::ALL[usize::from(self.status)],
        )]);
        obs[0].source = self.source;
        Forwarded {
            reading: Reading {
                device: DeviceIx(self.device),
                seq: self.seq,
                sim_ms: self.at_ms,
                device_ms: self.at_ms,
                battery_pct: self.battery,
                len,
                obs,
            },
            forwarded_ms: self.at_ms,
        }
    }
}

/// What a run folder holds, in time order, ready to be applied.
pub struct Recording {
    pub scenario: Scenario,
    pub dir: Directory,
    /// Every observation of telemetry.parquet, in time order.
    readings: Vec<ObsRow>,
    truth: Vec<TruthVitals>,
    positions: Vec<PositionRecord>,
    events: Vec<DeviceEvent>,
    /// Rhythm spells: patient, rhythm, onset, end.
    rhythms: Vec<(PatientIx, Rhythm, SimMillis, Option<SimMillis>)>,
    pub marks: Vec<Mark>,
    /// The systems' alerts, in arrival order, for the central station.
    alerts: Vec<StackAlert>,
}

fn must<T>(v: Option<T>, what: &str) -> Result<T> {
    v.ok_or_else(|| anyhow::anyhow!("a null {what}"))
}

/// The scenario a run folder was made from: its `session.toml` (a trainer's session), or the
/// scenario its manifest names (a library name, or a file that must still be there).
fn scenario_of(run: &Path) -> Result<(Scenario, u64, usize)> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).with_context(|| {
            format!("{} is not a run folder (no manifest.json)", run.display())
        })?)
        .with_context(|| format!("{}/manifest.json is not JSON", run.display()))?;
    let seed = manifest["seed"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("manifest.json: no seed"))?;
    let devices = manifest["devices"].as_u64().unwrap_or(0) as usize;
    let session = run.join(crate::live::SESSION_FILE);
    let scenario = if session.is_file() {
        wardtwin_scenarios::load(&session.to_string_lossy()).map_err(|e| anyhow::anyhow!("{e}"))?
    } else {
        let origin = manifest["scenario"]["origin"].as_str().unwrap_or("");
        let name = origin.split(" (with").next().unwrap_or(origin);
        let name = name.strip_prefix("library:").unwrap_or(name);
        wardtwin_scenarios::load(name).map_err(|e| {
            anyhow::anyhow!("the run's scenario {origin:?} cannot be loaded to draw its plan: {e}")
        })?
    };
    Ok((scenario, seed, devices))
}

impl Recording {
    /// Reads a run folder.
    pub fn read(run: &Path) -> Result<Self> {
        let (scenario, seed, devices) = scenario_of(run)?;
        // The directory is the twin's: rebuilt from the scenario and seed.
        let opts = wardtwin_twins::BuildOptions {
            seed: Some(seed),
            ..Default::default()
        };
        let (_, dir) = wardtwin_twins::build_app(&scenario, &opts);
        anyhow::ensure!(
            devices == 0 || dir.devices.len() == devices,
            "the scenario now makes {} devices, the run had {devices}: it changed since the run",
            dir.devices.len()
        );
        let device_ix = |id: &str| -> Option<DeviceIx> {
            dir.devices
                .binary_search_by(|d| d.id.as_str().cmp(id))
                .ok()
                .map(|i| DeviceIx(i as u32))
        };
        let patient_ix = |id: &str| -> Option<PatientIx> {
            dir.patients
                .binary_search_by(|p| p.id.as_str().cmp(id))
                .ok()
                .map(|i| PatientIx(i as u32))
        };

        // Telemetry a slice at a time, each observation kept as a compact row (32 bytes: a
        // 192-bed day is 6.5 M of them).
        let receivers: Vec<&str> = dir.receivers.iter().map(|r| r.id.as_str()).collect();
        let mut readings = Vec::new();
        let columns = [
            "sim_time",
            "device_id",
            "seq",
            "metric",
            "value",
            "status",
            "receiver_id",
            "battery_pct",
        ];
        for_each_slice(run, "telemetry", &columns, |df| {
            let c = Cols::new(df, run, "telemetry");
            let (t, dev, seq, metric, value, status, rx, batt) = (
                c.time("sim_time")?,
                c.str("device_id")?,
                c.u32("seq")?,
                c.str("metric")?,
                c.f64("value")?,
                c.str("status")?,
                c.str("receiver_id")?,
                c.f32("battery_pct")?,
            );
            readings.reserve(df.height());
            for i in 0..df.height() {
                let (Some(d), Some(m), Some(at)) = (
                    dev[i].as_deref().and_then(device_ix),
                    metric[i]
                        .as_deref()
                        .and_then(|n| Metric::ALL.into_iter().position(|m| m.name() == n)),
                    t[i],
                ) else {
                    continue;
                };
                readings.push(ObsRow {
                    at_ms: at,
                    device: d.0,
                    seq: seq[i].unwrap_or(0),
                    value: value[i].map_or(f32::NAN, |v| v as f32),
                    battery: batt[i].unwrap_or(100.0),
                    source: rx[i]
                        .as_deref()
                        .and_then(|r| receivers.iter().position(|x| *x == r))
                        .map_or(NO_SOURCE, |p| p as u16),
                    metric: m as u8,
                    status: status[i]
                        .as_deref()
                        .and_then(|n| ObsStatus::ALL.into_iter().position(|s| s.name() == n))
                        .unwrap_or(0) as u8,
                });
            }
            Ok(())
        })?;

        let vitals = wardtwin_exporters::realism::VITALS;
        let mut columns = vec!["sim_time", "patient_id"];
        columns.extend(vitals);
        columns.extend(["consciousness", "on_oxygen", "spo2_scale", "news2_total"]);
        let df = read_table(run, "truth_vitals", &columns)?;
        let c = Cols::new(&df, run, "truth_vitals");
        let (tt, pid) = (c.time("sim_time")?, c.str("patient_id")?);
        let cols: Vec<Vec<Option<f32>>> =
            vitals.iter().map(|n| c.f32(n)).collect::<Result<_, _>>()?;
        let (acvpu, oxy, scale, news) = (
            c.str("consciousness")?,
            c.bool("on_oxygen")?,
            c.i32("spo2_scale")?,
            c.i32("news2_total")?,
        );
        let mut truth = Vec::with_capacity(df.height());
        for i in 0..df.height() {
            let Some(p) = pid[i].as_deref().and_then(patient_ix) else {
                continue;
            };
            let v = |k: usize| cols[k][i].unwrap_or(f32::NAN);
            truth.push(TruthVitals {
                patient: p,
                sim_ms: must(tt[i], "sim_time")?,
                heart_rate: v(0),
                resp_rate: v(1),
                spo2: v(2),
                temp_c: v(3),
                systolic: v(4),
                diastolic: v(5),
                consciousness: match acvpu[i].as_deref() {
                    Some("C") => Acvpu::Confused,
                    Some("V") => Acvpu::Voice,
                    Some("P") => Acvpu::Pain,
                    Some("U") => Acvpu::Unresponsive,
                    _ => Acvpu::Alert,
                },
                on_oxygen: oxy[i].unwrap_or(false),
                scale: if scale[i] == Some(2) {
                    Spo2Scale::Scale2
                } else {
                    Spo2Scale::Scale1
                },
                news2: News2 {
                    total: news[i].unwrap_or(0).clamp(0, 20) as u8,
                    ..News2::default()
                },
                glucose_mmol: None,
            });
        }

        let mut positions = Vec::new();
        if run.join("positions.parquet").is_file() {
            let df = read_table(
                run,
                "positions",
                &["sim_time", "device_id", "x_m", "y_m", "space_id"],
            )?;
            let c = Cols::new(&df, run, "positions");
            let (pt, pd, x, y, sp) = (
                c.time("sim_time")?,
                c.str("device_id")?,
                c.f32("x_m")?,
                c.f32("y_m")?,
                c.str("space_id")?,
            );
            for i in 0..df.height() {
                let Some(d) = pd[i].as_deref().and_then(device_ix) else {
                    continue;
                };
                positions.push(PositionRecord {
                    device: d,
                    sim_ms: must(pt[i], "sim_time")?,
                    x_m: x[i].unwrap_or(0.0),
                    y_m: y[i].unwrap_or(0.0),
                    space: sp[i]
                        .as_deref()
                        .and_then(|s| dir.spaces.iter().position(|x| x.id == s))
                        .unwrap_or(0) as u32,
                });
            }
        }

        let mut events = Vec::new();
        let df = read_table(run, "device_events", &["sim_time", "device_id", "event"])?;
        let c = Cols::new(&df, run, "device_events");
        let (et, ed, ek) = (c.time("sim_time")?, c.str("device_id")?, c.str("event")?);
        for i in 0..df.height() {
            let (Some(d), Some(k)) = (
                ed[i].as_deref().and_then(device_ix),
                ek[i].as_deref().and_then(DeviceEventKind::from_name),
            ) else {
                continue;
            };
            let at = must(et[i], "sim_time")?;
            events.push(DeviceEvent {
                device: d,
                sim_ms: at,
                kind: k,
                device_ms: at,
                battery_pct: None,
            });
        }

        let mut rhythms = Vec::new();
        if run.join("rhythms.parquet").is_file() {
            let df = read_table(
                run,
                "rhythms",
                &["patient_id", "rhythm", "onset_time", "end_time"],
            )?;
            let c = Cols::new(&df, run, "rhythms");
            let (rp, rr, ro, re) = (
                c.str("patient_id")?,
                c.str("rhythm")?,
                c.time("onset_time")?,
                c.time("end_time")?,
            );
            for i in 0..df.height() {
                if let (Some(p), Some(r), Some(o)) = (
                    rp[i].as_deref().and_then(patient_ix),
                    rr[i].as_deref().and_then(Rhythm::from_name),
                    ro[i],
                ) {
                    rhythms.push((p, r, o, re[i]));
                }
            }
        }

        let marks = marks(run)?;
        let alerts = system_alerts(run)?;
        readings.sort_by_key(|r| r.at_ms);
        truth.sort_by_key(|t| t.sim_ms);
        positions.sort_by_key(|p| p.sim_ms);
        events.sort_by_key(|e| e.sim_ms);
        Ok(Self {
            scenario,
            dir,
            readings,
            truth,
            positions,
            events,
            rhythms,
            marks,
            alerts,
        })
    }

    /// The model as of `t` (everything before it applied).
    pub fn model_at(&self, t: SimMillis) -> WardModel {
        let mut m = WardModel::new(&self.scenario, &self.dir);
        self.apply(&mut m, i64::MIN, t);
        m
    }

    /// Applies what happened in `[from, to)` and moves the model's time to `to`.
    pub fn apply(&self, m: &mut WardModel, from: SimMillis, to: SimMillis) {
        let range = |ts: &dyn Fn(usize) -> SimMillis, n: usize| {
            let lo = partition(n, |i| ts(i) < from);
            let hi = partition(n, |i| ts(i) < to);
            lo..hi
        };
        for i in range(&|i| self.readings[i].at_ms, self.readings.len()) {
            m.apply_reading(&self.readings[i].forwarded());
        }
        for i in range(&|i| self.truth[i].sim_ms, self.truth.len()) {
            m.apply_truth(&self.truth[i]);
        }
        for i in range(&|i| self.positions[i].sim_ms, self.positions.len()) {
            m.apply_position(&self.positions[i]);
        }
        for i in range(&|i| self.events[i].sim_ms, self.events.len()) {
            m.apply_event(&self.events[i]);
        }
        for i in range(&|i| self.alerts[i].at_ms, self.alerts.len()) {
            m.push_stack_alert(self.alerts[i].clone());
        }
        m.advance(to);
        m.set_rhythms(
            self.rhythms
                .iter()
                .filter(|(_, _, o, e)| *o < to && e.is_none_or(|e| e >= to))
                .map(|(p, r, _, _)| (*p, *r)),
        );
    }
}

/// The first index in `0..n` where `pred` is false (pred is true then false along the range).
fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The logs of the systems whose alerts the central station lists: a session's system under
/// test (`live/alerts.jsonl`) and reference stack (`reference-alerts.jsonl`); a `wardtwin run`
/// folder's `alerts.jsonl` (in a session's folder, that is the trainee's, which the station
/// does not list).
fn alert_logs(run: &Path) -> Vec<(PathBuf, AlertFrom)> {
    let log = wardtwin_exporters::runfolder::ALERTS_LOG;
    let mut logs = vec![
        (run.join(crate::publish::LIVE_DIR).join(log), AlertFrom::Sut),
        (run.join(crate::stack::STACK_LOG), AlertFrom::Reference),
    ];
    if !run.join(crate::live::SESSION_FILE).is_file() {
        logs.push((run.join(log), AlertFrom::Sut));
    }
    logs.retain(|(p, _)| p.is_file());
    logs
}

/// The systems' alerts (valid ones), by arrival.
fn system_alerts(run: &Path) -> Result<Vec<StackAlert>> {
    let mut out = Vec::new();
    for (path, from) in alert_logs(run) {
        let log = wardtwin_exporters::wire::alerts::read_alert_log(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        out.extend(log.into_iter().filter_map(|r| {
            r.alert.ok().map(|a| StackAlert {
                at_ms: r.arrival_ms,
                subject: a.subject,
                class: a.class,
                priority: a.priority,
                text: String::new(),
                from,
            })
        }));
    }
    out.sort_by_key(|a| a.at_ms);
    Ok(out)
}

/// The timeline's marks: episodes, conditions, faults, and the alerts in `alerts.jsonl` and
/// the systems' logs.
fn marks(run: &Path) -> Result<Vec<Mark>> {
    let mut marks = Vec::new();
    let df = read_table(
        run,
        "episodes",
        &["bed_id", "kind", "onset_time", "end_time"],
    )?;
    let c = Cols::new(&df, run, "episodes");
    let (b, k, o, e) = (
        c.str("bed_id")?,
        c.str("kind")?,
        c.time("onset_time")?,
        c.time("end_time")?,
    );
    for i in 0..df.height() {
        if let Some(at) = o[i] {
            marks.push(Mark {
                at_ms: at,
                end_ms: e[i],
                kind: MarkKind::Episode,
                text: format!(
                    "{} {}",
                    k[i].as_deref().unwrap_or("episode"),
                    b[i].as_deref().unwrap_or("")
                ),
            });
        }
    }
    let df = read_table(
        run,
        "conditions",
        &["class", "subject_id", "onset_time", "end_time", "transient"],
    )?;
    let c = Cols::new(&df, run, "conditions");
    let (cl, s, o, e, tr) = (
        c.str("class")?,
        c.str("subject_id")?,
        c.time("onset_time")?,
        c.time("end_time")?,
        c.bool("transient")?,
    );
    for i in 0..df.height() {
        if tr[i] == Some(true) {
            continue;
        }
        if let Some(at) = o[i] {
            marks.push(Mark {
                at_ms: at,
                end_ms: e[i],
                kind: MarkKind::Condition,
                text: format!(
                    "{} {}",
                    cl[i].as_deref().unwrap_or(""),
                    s[i].as_deref().unwrap_or("")
                ),
            });
        }
    }
    if run.join("faults.parquet").is_file() {
        let df = read_table(run, "faults", &["kind", "start_time", "end_time"])?;
        let c = Cols::new(&df, run, "faults");
        let (k, o, e) = (c.str("kind")?, c.time("start_time")?, c.time("end_time")?);
        for i in 0..df.height() {
            if let Some(at) = o[i] {
                marks.push(Mark {
                    at_ms: at,
                    end_ms: e[i],
                    kind: MarkKind::Fault,
                    text: k[i].clone().unwrap_or_default(),
                });
            }
        }
    }
    let mut logs: Vec<(PathBuf, &str)> = alert_logs(run)
        .into_iter()
        .map(|(p, from)| (p, from.tag()))
        .collect();
    let own = run.join(wardtwin_exporters::runfolder::ALERTS_LOG);
    if own.is_file() && run.join(crate::live::SESSION_FILE).is_file() {
        logs.push((own, "trainee"));
    }
    for (path, who) in logs {
        for r in wardtwin_exporters::wire::alerts::read_alert_log(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
        {
            if let Ok(a) = r.alert {
                marks.push(Mark {
                    at_ms: r.arrival_ms,
                    end_ms: None,
                    kind: MarkKind::Alert,
                    text: format!(
                        "{who} alert {} {} ({})",
                        a.class,
                        a.subject,
                        a.priority.name()
                    ),
                });
            }
        }
    }
    marks.sort_by(|a, b| a.at_ms.cmp(&b.at_ms).then(a.text.cmp(&b.text)));
    Ok(marks)
}

/// A replay running: its thread plays or seeks on command.
pub struct ReplayHandle {
    pub shared: Arc<Shared>,
    pub tx: Sender<Command>,
    thread: Option<JoinHandle<()>>,
    pub scenario: Scenario,
    pub marks: Vec<Mark>,
}

impl ReplayHandle {
    pub fn finish(mut self) {
        let _ = self.tx.send(Command::Quit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the replay of a run folder read with [`Recording::read`] at `at_ms` (since the
/// epoch), paused or playing.
pub fn start(rec: Recording, at_ms: i64, speed: f64, paused: bool) -> Result<ReplayHandle> {
    let s = &rec.scenario;
    let (epoch, end, step) = (s.epoch_ms, s.epoch_ms + s.duration_ms, s.step_ms);
    let t0 = (epoch + at_ms.max(0)).min(end);
    let model = rec.model_at(t0);
    let shared = Arc::new(Shared {
        model: Mutex::new(model),
        status: Mutex::new(Status {
            paused,
            speed,
            ticks_done: ((t0 - epoch) / step) as u64,
            total_ticks: (s.duration_ms / step) as u64,
            paced_ms: t0,
            replay: true,
            ..Status::default()
        }),
    });
    let (tx, rx) = channel();
    let scenario = rec.scenario.clone();
    let marks = rec.marks.clone();
    let sh = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("wardtwin-replay".into())
        .spawn(move || play(rec, sh, rx, t0))
        .context("cannot start the replay thread")?;
    Ok(ReplayHandle {
        shared,
        tx,
        thread: Some(thread),
        scenario,
        marks,
    })
}

/// The replay's loop: time moves at the speed while playing; a seek rebuilds the model.
fn play(rec: Recording, shared: Arc<Shared>, rx: Receiver<Command>, t0: SimMillis) {
    let s = &rec.scenario;
    let (epoch, end, step) = (s.epoch_ms, s.epoch_ms + s.duration_ms, s.step_ms);
    let mut t = t0;
    #[allow(clippy::disallowed_methods)]
    let mut last = Instant::now();
    loop {
        let cmd = match rx.recv_timeout(Duration::from_millis(15)) {
            Ok(c) => Some(c),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let wall = now.duration_since(last).as_secs_f64();
        last = now;
        let (paused, speed) = {
            let st = shared.status();
            (st.paused, st.speed)
        };
        let mut to = t;
        match cmd {
            Some(Command::Quit) => return,
            Some(Command::Pause(p)) => shared.status().paused = p,
            Some(Command::Speed(v)) => shared.status().speed = v,
            Some(Command::Step) => to = (t + step).min(end),
            Some(Command::Seek(ms)) => to = (epoch + ms).clamp(epoch, end),
            Some(Command::RunUntil(ms)) => {
                to = (epoch + ms).clamp(epoch, end);
                shared.status().paused = true;
            }
            Some(Command::Select(_) | Command::Inject { .. } | Command::Escalate(_)) => {}
            None if !paused => {
                let dt = if speed.is_finite() {
                    (wall * speed * 1000.0) as i64
                } else {
                    3_600_000
                };
                to = (t + dt).min(end);
            }
            None => {}
        }
        if to != t {
            if to > t {
                rec.apply(&mut shared.model(), t, to);
            } else {
                *shared.model() = rec.model_at(to);
            }
            t = to;
            let mut st = shared.status();
            st.ticks_done = ((t - epoch) / step) as u64;
            st.paced_ms = t;
            if t >= end {
                st.paused = true;
            }
        }
    }
}

/// Whether a path is a run folder (it has a manifest).
pub fn is_run_folder(p: &Path) -> bool {
    p.is_dir() && p.join("manifest.json").is_file()
}

/// The time a replay starts at by default: the run's first episode, or its start.
pub fn default_start(marks: &[Mark], epoch: SimMillis) -> i64 {
    marks
        .iter()
        .find(|m| m.kind == MarkKind::Episode)
        .map_or(0, |m| (m.at_ms - epoch).max(0))
}
