//! The view's model of the ward: what the central station and the floor plan show, fed by the
//! same records every other sink gets (a live run's [`ViewSink`](crate::live::ViewSink), a
//! replay's Parquet tables), and nothing else. No Bevy, no egui: plain data, tested on its own.
//!
//! Two views of each bed: **measured**, what the devices delivered (the telemetry that left the
//! gateways, with its statuses and artifacts), and **truth**, the patient's true vitals at the
//! last truth sample. The monitor's NEWS2 is scored from the measured values (consciousness
//! "alert" unless charted otherwise: the wearables do not report it; oxygen from the chart).

use std::collections::{BTreeMap, VecDeque};

use wardtwin_scenarios::{Scenario, SpaceKind};
use wardtwin_sim::Directory;
use wardtwin_sim::news2::{Acvpu, News2, News2Inputs, Spo2Scale};
use wardtwin_sim::records::{
    DeviceEvent, DeviceEventKind, DeviceIx, DeviceKind, EmissionFate, Fate, FaultRecord, Forwarded,
    Metric, ObsStatus, PatientIx, PositionRecord, Rhythm, RhythmRecord, TruthVitals, WaveFrame,
};
use wardtwin_sim::time::SimMillis;

/// A vital the central station shows, in tile order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Vital {
    Hr,
    Spo2,
    Rr,
    Sys,
    Dia,
    Temp,
}

impl Vital {
    pub const ALL: [Vital; 6] = [
        Vital::Hr,
        Vital::Spo2,
        Vital::Rr,
        Vital::Sys,
        Vital::Dia,
        Vital::Temp,
    ];
    fn ix(self) -> usize {
        self as usize
    }
    /// Which vital a metric of a device kind is (a pulse oximeter's pulse rate stands in for
    /// the heart rate only when no ECG reports one).
    fn of(metric: Metric) -> Option<Vital> {
        Some(match metric {
            Metric::HeartRate | Metric::PulseRate => Vital::Hr,
            Metric::Spo2 => Vital::Spo2,
            Metric::RespRate => Vital::Rr,
            Metric::Systolic => Vital::Sys,
            Metric::Diastolic => Vital::Dia,
            Metric::BodyTemp => Vital::Temp,
            _ => return None,
        })
    }
}

/// One measured value: the value (none when the device could not measure), its status, and
/// when it was taken (simulation time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub value: Option<f32>,
    pub status: ObsStatus,
    pub at_ms: SimMillis,
    /// From a pulse oximeter's pulse rate (not an ECG's heart rate).
    pub from_pulse: bool,
}

/// IEC 60601-1-8 alarm priorities, with the technical condition ("INOP") apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Nothing to alarm.
    None,
    /// Technical: the monitoring cannot be trusted (cyan).
    Inop,
    /// Low priority (cyan or yellow, `*`).
    Low,
    /// Medium priority (yellow, `**`).
    Medium,
    /// High priority (red, `***`).
    High,
}

impl Priority {
    /// The priority an alert v1 asks for, as the station shows it.
    pub fn of_alert(p: wardtwin_scoring::model::Priority) -> Self {
        match p {
            wardtwin_scoring::model::Priority::High => Priority::High,
            wardtwin_scoring::model::Priority::Medium => Priority::Medium,
            wardtwin_scoring::model::Priority::Low => Priority::Low,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
            Priority::Inop => "inop",
            Priority::None => "none",
        }
    }

    /// The IEC 60601-1-8 marker.
    pub fn marker(self) -> &'static str {
        match self {
            Priority::High => "***",
            Priority::Medium => "**",
            Priority::Low => "*",
            Priority::Inop => "INOP",
            Priority::None => "",
        }
    }
}

/// A device's state as the view knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceState {
    pub ix: DeviceIx,
    pub kind: DeviceKind,
    pub id: String,
    pub battery_pct: Option<f32>,
    pub battery_flat: bool,
    /// The last status that was not `ok` (probe off, lead off, ...), while it lasts.
    pub inop: Option<ObsStatus>,
    /// The last emission's radio did not reach a receiver.
    pub out_of_coverage: bool,
    /// The last reading delivered.
    pub last_ms: Option<SimMillis>,
    /// The gap between its last two readings: what "late" means for it.
    pub interval_ms: Option<i64>,
}

impl DeviceState {
    /// Nothing arrived for three intervals (or ever, two minutes into the run).
    pub fn silent(&self, now: SimMillis, start: SimMillis) -> bool {
        match (self.last_ms, self.interval_ms) {
            (Some(last), Some(iv)) => now - last > 3 * iv.max(1_000),
            (Some(last), None) => now - last > 600_000,
            (None, _) => now - start > 120_000,
        }
    }
}

/// A bed and what its monitor shows.
#[derive(Debug, Clone, PartialEq)]
pub struct BedState {
    pub id: String,
    pub ward: String,
    pub room: String,
    pub patient: Option<PatientIx>,
    pub patient_id: Option<String>,
    pub measured: [Option<Measured>; 6],
    pub truth: Option<TruthVitals>,
    /// The true rhythm, from the rhythms table (sinus when no spell is under way).
    pub rhythm: Rhythm,
    /// The bed's devices (indices into [`WardModel::devices`]).
    pub devices: Vec<usize>,
    /// On oxygen and the SpO2 scale, from the chart (the last truth sample).
    pub on_oxygen: bool,
    pub scale: Spo2Scale,
}

impl BedState {
    /// The monitor's NEWS2 from the measured values: none until every vital but
    /// consciousness has been measured once.
    pub fn news2_measured(&self) -> Option<News2> {
        let v = |x: Vital| self.measured[x.ix()].and_then(|m| m.value).map(f64::from);
        Some(News2::score(&News2Inputs {
            resp_rate: v(Vital::Rr)?,
            spo2: v(Vital::Spo2)?,
            scale: self.scale,
            on_oxygen: self.on_oxygen,
            systolic: v(Vital::Sys)?,
            pulse: v(Vital::Hr)?,
            consciousness: self.truth.map_or(Acvpu::Alert, |t| t.consciousness),
            temp_c: v(Vital::Temp)?,
        }))
    }

    /// NEWS2 of the true vitals.
    pub fn news2_truth(&self) -> Option<News2> {
        self.truth.map(|t| t.news2)
    }

    /// A value as the tile shows it: measured, or the truth.
    pub fn value(&self, v: Vital, truth: bool) -> Option<f32> {
        if truth {
            let t = self.truth?;
            return Some(match v {
                Vital::Hr => t.heart_rate,
                Vital::Spo2 => t.spo2,
                Vital::Rr => t.resp_rate,
                Vital::Sys => t.systolic,
                Vital::Dia => t.diastolic,
                Vital::Temp => t.temp_c,
            });
        }
        self.measured[v.ix()].and_then(|m| m.value)
    }

    pub fn measured(&self, v: Vital) -> Option<&Measured> {
        self.measured[v.ix()].as_ref()
    }
}

/// An RTLS tag or staff badge.
#[derive(Debug, Clone, PartialEq)]
pub struct MoverState {
    pub device: usize,
    pub staff: bool,
    /// True position (x, y in metres) and when.
    pub at: Option<(f32, f32)>,
    /// The space the tag is in (the truth).
    pub space: Option<u32>,
    /// The receiver that heard it loudest last (room-level BLE location).
    pub heard_by: Option<u16>,
    /// The last positions, oldest first (the trail).
    pub trail: VecDeque<(f32, f32)>,
    pub duress: bool,
}

/// A vaccine fridge.
#[derive(Debug, Clone, PartialEq)]
pub struct FridgeState {
    pub id: String,
    pub device: Option<usize>,
    pub air_c: Option<f32>,
    pub product_c: Option<f32>,
    pub door_open: bool,
    pub compressor_failed: bool,
    pub power_lost: bool,
    /// Product outside 2–8 °C (a freezer: above -15 °C).
    pub excursion: bool,
    pub freezer: bool,
}

/// A ward's edge gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayState {
    pub ward: String,
    pub device: Option<usize>,
    pub spool_depth: Option<f32>,
    pub spool_dropped: Option<f32>,
    pub uplink_up: bool,
}

/// The selected patient's waveforms: the last [`WaveStrip::SECONDS`] of ECG and pleth by
/// absolute sample index, so a strip is drawn from simulation time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WaveStrip {
    pub patient: Option<PatientIx>,
    /// (first sample index, samples) of ECG at 250 Hz.
    pub ecg: VecDeque<f32>,
    pub ecg_first: u64,
    pub pleth: VecDeque<f32>,
    pub pleth_first: u64,
}

impl WaveStrip {
    /// Seconds kept.
    pub const SECONDS: u64 = 12;
    pub const ECG_HZ: f64 = 250.0;
    pub const PLETH_HZ: f64 = 125.0;

    fn push(buf: &mut VecDeque<f32>, first: &mut u64, at: u64, data: &[f32], keep: usize) {
        if buf.is_empty() || at != *first + buf.len() as u64 {
            // A gap (a new patient, a restart): start afresh.
            buf.clear();
            *first = at;
        }
        buf.extend(data.iter().copied());
        while buf.len() > keep {
            buf.pop_front();
            *first += 1;
        }
    }

    fn apply(&mut self, f: &WaveFrame) {
        if self.patient != Some(f.patient) {
            return;
        }
        let (ecg_keep, pleth_keep) = (
            (Self::SECONDS as f64 * Self::ECG_HZ) as usize,
            (Self::SECONDS as f64 * Self::PLETH_HZ) as usize,
        );
        Self::push(
            &mut self.ecg,
            &mut self.ecg_first,
            f.first[0],
            &f.ecg,
            ecg_keep,
        );
        Self::push(
            &mut self.pleth,
            &mut self.pleth_first,
            f.first[1],
            &f.pleth,
            pleth_keep,
        );
    }

    /// Samples of `signal` (0 ECG, 1 pleth) covering simulation time `[from, to)` since the
    /// epoch (ms), `None` where nothing is held.
    pub fn window(&self, signal: usize, from_ms: f64, to_ms: f64) -> Vec<(f64, f32)> {
        let (buf, first, hz) = match signal {
            0 => (&self.ecg, self.ecg_first, Self::ECG_HZ),
            _ => (&self.pleth, self.pleth_first, Self::PLETH_HZ),
        };
        let lo = ((from_ms.max(0.0) / 1000.0) * hz).floor() as u64;
        let hi = ((to_ms.max(0.0) / 1000.0) * hz).ceil() as u64;
        (lo.max(first)..hi.min(first + buf.len() as u64))
            .map(|i| (i as f64 * 1000.0 / hz, buf[(i - first) as usize]))
            .collect()
    }

    /// Simulation time (ms since the epoch) up to which samples are held.
    pub fn end_ms(&self) -> f64 {
        (self.ecg_first + self.ecg.len() as u64) as f64 * 1000.0 / Self::ECG_HZ
    }
}

/// Which system raised an alert shown on the central station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFrom {
    /// The reference stack's policy, in-process (`--with-reference-stack`).
    Reference,
    /// A system under test, over MQTT (`--alerts-topic`).
    Sut,
}

impl AlertFrom {
    /// The short tag the station's alert list shows.
    pub fn tag(self) -> &'static str {
        match self {
            AlertFrom::Reference => "ref",
            AlertFrom::Sut => "SUT",
        }
    }
}

/// An alert a system raised (the reference stack, or a system under test over MQTT).
#[derive(Debug, Clone, PartialEq)]
pub struct StackAlert {
    /// When it arrived (simulation time).
    pub at_ms: SimMillis,
    pub subject: String,
    pub class: String,
    pub priority: wardtwin_scoring::model::Priority,
    pub text: String,
    pub from: AlertFrom,
}

/// The view's whole model.
#[derive(Debug, Clone)]
pub struct WardModel {
    pub scenario_name: String,
    pub epoch_ms: SimMillis,
    pub step_ms: i64,
    pub end_ms: SimMillis,
    /// The end of the last step applied.
    pub now_ms: SimMillis,
    pub beds: Vec<BedState>,
    pub devices: Vec<DeviceState>,
    pub movers: Vec<MoverState>,
    pub fridges: Vec<FridgeState>,
    pub gateways: Vec<GatewayState>,
    /// Faults under way (ground truth, shown where they act).
    pub faults: Vec<FaultRecord>,
    pub wave: WaveStrip,
    /// The newest alerts of the system on the central station, oldest first.
    pub stack_alerts: VecDeque<StackAlert>,
    /// Messages on the system under test's alerts topic that are not alerts v1 (counted, and
    /// logged as they came; the scorecard lists them).
    pub sut_rejected: u64,
    /// The device's owner: (bed, fridge, gateway, mover) index.
    owner: Vec<Owner>,
    bed_of_patient: Vec<Option<usize>>,
    /// Rhythm spells by patient, still open.
    rhythms: BTreeMap<PatientIx, Rhythm>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Owner {
    Bed(usize),
    Fridge(usize),
    Gateway(usize),
    Mover(usize),
    None,
}

impl WardModel {
    /// Trail length of a mover, in positions.
    pub const TRAIL: usize = 12;

    /// An empty model of `scenario`'s hospital as `dir` names it. Beds are in the scenario's
    /// order (the floor plan's).
    pub fn new(scenario: &Scenario, dir: &Directory) -> Self {
        let mut devices = Vec::with_capacity(dir.devices.len());
        let mut owner = vec![Owner::None; dir.devices.len()];
        let bed_ix: BTreeMap<&str, usize> = scenario
            .beds
            .iter()
            .enumerate()
            .map(|(i, b)| (b.id.as_str(), i))
            .collect();
        let mut beds: Vec<BedState> = scenario
            .beds
            .iter()
            .map(|b| BedState {
                id: b.id.clone(),
                ward: scenario.wards[b.ward].id.clone(),
                room: b.room.clone(),
                patient: None,
                patient_id: None,
                measured: [None; 6],
                truth: None,
                rhythm: Rhythm::Sinus,
                devices: Vec::new(),
                on_oxygen: false,
                scale: Spo2Scale::Scale1,
            })
            .collect();
        let mut bed_of_patient = vec![None; dir.patients.len()];
        for (p, info) in dir.patients.iter().enumerate() {
            if let Some(&b) = bed_ix.get(dir.bed(info.bed).id.as_str()) {
                beds[b].patient = Some(PatientIx(p as u32));
                beds[b].patient_id = Some(info.id.clone());
                bed_of_patient[p] = Some(b);
            }
        }
        let mut fridges: Vec<FridgeState> = scenario
            .fridges
            .iter()
            .map(|f| FridgeState {
                id: f.id.clone(),
                device: None,
                air_c: None,
                product_c: None,
                door_open: false,
                compressor_failed: false,
                power_lost: false,
                excursion: false,
                freezer: format!("{:?}", f.kind).to_lowercase().contains("freezer"),
            })
            .collect();
        let mut gateways: Vec<GatewayState> = scenario
            .wards
            .iter()
            .map(|w| GatewayState {
                ward: w.id.clone(),
                device: None,
                spool_depth: None,
                spool_dropped: None,
                uplink_up: true,
            })
            .collect();
        let mut movers = Vec::new();
        for (i, d) in dir.devices.iter().enumerate() {
            devices.push(DeviceState {
                ix: DeviceIx(i as u32),
                kind: d.kind,
                id: d.id.clone(),
                battery_pct: None,
                battery_flat: false,
                inop: None,
                out_of_coverage: false,
                last_ms: None,
                interval_ms: None,
            });
            let of =
                d.id.strip_prefix(d.kind.id_prefix())
                    .and_then(|s| s.strip_prefix('-'))
                    .unwrap_or("");
            owner[i] = match d.kind {
                DeviceKind::FridgeLogger => fridges
                    .iter()
                    .position(|f| f.id == of)
                    .map_or(Owner::None, Owner::Fridge),
                DeviceKind::EdgeGateway => gateways
                    .iter()
                    .position(|g| g.ward == of)
                    .map_or(Owner::None, Owner::Gateway),
                DeviceKind::AssetTag | DeviceKind::StaffBadge => {
                    movers.push(MoverState {
                        device: i,
                        staff: d.kind == DeviceKind::StaffBadge,
                        at: None,
                        space: None,
                        heard_by: None,
                        trail: VecDeque::new(),
                        duress: false,
                    });
                    Owner::Mover(movers.len() - 1)
                }
                _ => d
                    .bed
                    .and_then(|b| bed_ix.get(dir.bed(b).id.as_str()).copied())
                    .map_or(Owner::None, Owner::Bed),
            };
            match owner[i] {
                Owner::Bed(b) => beds[b].devices.push(i),
                Owner::Fridge(f) => fridges[f].device = Some(i),
                Owner::Gateway(g) => gateways[g].device = Some(i),
                _ => {}
            }
        }
        Self {
            scenario_name: scenario.name.clone(),
            epoch_ms: scenario.epoch_ms,
            step_ms: scenario.step_ms,
            end_ms: scenario.epoch_ms + scenario.duration_ms,
            now_ms: scenario.epoch_ms,
            beds,
            devices,
            movers,
            fridges,
            gateways,
            faults: Vec::new(),
            wave: WaveStrip::default(),
            stack_alerts: VecDeque::new(),
            sut_rejected: 0,
            owner,
            bed_of_patient,
            rhythms: BTreeMap::new(),
        }
    }

    /// The bed a patient lies in.
    pub fn bed_of(&self, p: PatientIx) -> Option<usize> {
        self.bed_of_patient.get(p.0 as usize).copied().flatten()
    }

    /// A reading that left a gateway (telemetry).
    pub fn apply_reading(&mut self, f: &Forwarded) {
        let r = &f.reading;
        let d = r.device.0 as usize;
        let Some(dev) = self.devices.get_mut(d) else {
            return;
        };
        if let Some(last) = dev.last_ms
            && r.sim_ms > last
        {
            dev.interval_ms = Some(r.sim_ms - last);
        }
        dev.last_ms = Some(dev.last_ms.map_or(r.sim_ms, |l| l.max(r.sim_ms)));
        dev.battery_pct = Some(r.battery_pct);
        dev.battery_flat = false;
        dev.out_of_coverage = false;
        let bad = r
            .observations()
            .iter()
            .map(|o| o.status)
            .find(|s| !matches!(s, ObsStatus::Ok | ObsStatus::LowBattery));
        dev.inop = bad;
        let kind = dev.kind;
        match self.owner[d] {
            Owner::Bed(b) => {
                let bed = &mut self.beds[b];
                for o in r.observations() {
                    let Some(v) = Vital::of(o.metric) else {
                        continue;
                    };
                    let from_pulse = o.metric == Metric::PulseRate;
                    // An ECG's heart rate wins over an oximeter's pulse rate while it lasts.
                    if from_pulse
                        && let Some(m) = bed.measured[v.ix()]
                        && !m.from_pulse
                        && m.value.is_some()
                        && r.sim_ms - m.at_ms < 60_000
                    {
                        continue;
                    }
                    bed.measured[v.ix()] = Some(Measured {
                        value: o.value.filter(|x| x.is_finite()),
                        status: o.status,
                        at_ms: r.sim_ms,
                        from_pulse,
                    });
                }
                let _ = kind;
            }
            Owner::Fridge(i) => {
                let fr = &mut self.fridges[i];
                for o in r.observations() {
                    match o.metric {
                        Metric::AirTemp => fr.air_c = o.value,
                        Metric::ProductTemp => {
                            fr.product_c = o.value;
                            if let Some(c) = o.value {
                                fr.excursion = if fr.freezer {
                                    c > -15.0
                                } else {
                                    !(2.0..=8.0).contains(&c)
                                };
                            }
                        }
                        _ => {}
                    }
                }
            }
            Owner::Gateway(i) => {
                let g = &mut self.gateways[i];
                for o in r.observations() {
                    match o.metric {
                        Metric::SpoolDepth => g.spool_depth = o.value,
                        Metric::SpoolDropped => g.spool_dropped = o.value,
                        Metric::Uplink => g.uplink_up = o.value.is_none_or(|v| v > 0.5),
                        _ => {}
                    }
                }
            }
            Owner::Mover(i) => {
                let m = &mut self.movers[i];
                let mut best: Option<(f32, u16)> = None;
                for o in r.observations() {
                    match o.metric {
                        Metric::Rssi => {
                            if let Some(v) = o.value
                                && best.is_none_or(|(b, _)| v > b)
                            {
                                best = Some((v, o.source));
                            }
                        }
                        Metric::DuressButton => m.duress = o.value.is_some_and(|v| v > 0.5),
                        _ => {}
                    }
                }
                if let Some((_, rx)) = best {
                    m.heard_by = Some(rx);
                }
            }
            Owner::None => {}
        }
    }

    /// A true-vitals sample.
    pub fn apply_truth(&mut self, t: &TruthVitals) {
        if let Some(b) = self.bed_of(t.patient) {
            let bed = &mut self.beds[b];
            bed.truth = Some(*t);
            bed.on_oxygen = t.on_oxygen;
            bed.scale = t.scale;
        }
    }

    /// An emission's fate: a radio loss means the device is out of its receivers' reach.
    pub fn apply_fate(&mut self, f: &EmissionFate) {
        if let Some(d) = self.devices.get_mut(f.device.0 as usize) {
            d.out_of_coverage = f.fate == Fate::RadioLost;
        }
    }

    pub fn apply_event(&mut self, e: &DeviceEvent) {
        let d = e.device.0 as usize;
        if let Some(dev) = self.devices.get_mut(d) {
            match e.kind {
                DeviceEventKind::BatteryDepleted => dev.battery_flat = true,
                DeviceEventKind::BatteryLow => dev.battery_pct = e.battery_pct.or(dev.battery_pct),
                _ => {}
            }
        }
        match self.owner.get(d).copied() {
            Some(Owner::Fridge(i)) => {
                let f = &mut self.fridges[i];
                match e.kind {
                    DeviceEventKind::DoorOpened => f.door_open = true,
                    DeviceEventKind::DoorClosed => f.door_open = false,
                    DeviceEventKind::CompressorFailed => f.compressor_failed = true,
                    DeviceEventKind::CompressorRepaired => f.compressor_failed = false,
                    DeviceEventKind::PowerLost => f.power_lost = true,
                    DeviceEventKind::PowerRestored => f.power_lost = false,
                    _ => {}
                }
            }
            Some(Owner::Gateway(i)) => match e.kind {
                DeviceEventKind::UplinkLost => self.gateways[i].uplink_up = false,
                DeviceEventKind::UplinkRestored => self.gateways[i].uplink_up = true,
                _ => {}
            },
            Some(Owner::Mover(i)) => match e.kind {
                DeviceEventKind::DuressPressed => self.movers[i].duress = true,
                DeviceEventKind::DuressAnswered => self.movers[i].duress = false,
                _ => {}
            },
            _ => {}
        }
    }

    pub fn apply_position(&mut self, p: &PositionRecord) {
        if let Some(Owner::Mover(i)) = self.owner.get(p.device.0 as usize).copied() {
            let m = &mut self.movers[i];
            let at = (p.x_m, p.y_m);
            if m.at != Some(at) {
                if let Some(prev) = m.at {
                    m.trail.push_back(prev);
                    while m.trail.len() > Self::TRAIL {
                        m.trail.pop_front();
                    }
                }
                m.at = Some(at);
            }
            m.space = Some(p.space);
        }
    }

    pub fn apply_rhythm(&mut self, r: &RhythmRecord) {
        // The rhythms table is written when a spell ends, or at the end of the run: a spell
        // is under way while the view's time is inside it.
        let now = self.now_ms;
        if r.onset_ms <= now && r.end_ms.is_none_or(|e| e > now) {
            self.rhythms.insert(r.patient, r.rhythm);
        }
        self.refresh_rhythms();
    }

    fn refresh_rhythms(&mut self) {
        for b in &mut self.beds {
            b.rhythm = b
                .patient
                .and_then(|p| self.rhythms.get(&p).copied())
                .unwrap_or(Rhythm::Sinus);
        }
    }

    /// Sets the current rhythm of each patient (a live run knows it from the twin).
    pub fn set_rhythms(&mut self, now: impl IntoIterator<Item = (PatientIx, Rhythm)>) {
        self.rhythms = now
            .into_iter()
            .filter(|(_, r)| *r != Rhythm::Sinus)
            .collect();
        self.refresh_rhythms();
    }

    pub fn apply_fault(&mut self, f: &FaultRecord) {
        self.faults.push(*f);
    }

    pub fn apply_wave(&mut self, f: &WaveFrame) {
        self.wave.apply(f);
    }

    /// The step that ends at `end_ms` is applied: faults over by then are dropped.
    pub fn advance(&mut self, end_ms: SimMillis) {
        self.now_ms = end_ms;
        self.faults.retain(|f| f.end_ms.is_none_or(|e| e > end_ms));
    }

    /// Alerts the station keeps.
    pub const STACK_ALERTS: usize = 200;

    /// An alert of the system on the central station.
    pub fn push_stack_alert(&mut self, a: StackAlert) {
        self.stack_alerts.push_back(a);
        while self.stack_alerts.len() > Self::STACK_ALERTS {
            self.stack_alerts.pop_front();
        }
    }

    /// Takes over what a system under test sent (alerts over MQTT arrive once; a rebuilt
    /// twin's model must not lose them). The reference stack's are not kept: its policy is
    /// fed afresh with the rebuilt twin.
    pub fn keep_sut_alerts(&mut self, old: &WardModel) {
        self.stack_alerts = old
            .stack_alerts
            .iter()
            .filter(|a| a.from == AlertFrom::Sut)
            .cloned()
            .collect();
        self.sut_rejected = old.sut_rejected;
    }

    /// The newest alert of the system about bed `b` (its patient, the bed, or one of its
    /// devices) in the last 30 minutes.
    pub fn stack_alert_for(&self, b: usize) -> Option<&StackAlert> {
        let bed = &self.beds[b];
        self.stack_alerts.iter().rev().find(|a| {
            self.now_ms - a.at_ms <= 30 * 60_000
                && (Some(&a.subject) == bed.patient_id.as_ref()
                    || a.subject == bed.id
                    || bed.devices.iter().any(|&d| self.devices[d].id == a.subject))
        })
    }

    /// Selects whose waveforms are kept.
    pub fn select_wave(&mut self, p: Option<PatientIx>) {
        if self.wave.patient != p {
            self.wave = WaveStrip {
                patient: p,
                ..WaveStrip::default()
            };
        }
    }

    /// The bed's alarm as the central station raises it, and its text. `truth` judges the true
    /// vitals instead of the measured ones (the instructor's view).
    pub fn bed_alarm(&self, b: usize, truth: bool) -> (Priority, String) {
        let bed = &self.beds[b];
        if bed.patient.is_none() {
            return (Priority::None, String::new());
        }
        let lethal = match bed.rhythm {
            Rhythm::Asystole => Some("ASYSTOLE"),
            Rhythm::VentricularFibrillation => Some("VFIB"),
            Rhythm::VentricularTachycardia => Some("VTACH"),
            _ => None,
        };
        if truth && let Some(l) = lethal {
            return (Priority::High, l.to_string());
        }
        let news = if truth {
            bed.news2_truth()
        } else {
            bed.news2_measured()
        };
        let spo2 = bed.value(Vital::Spo2, truth);
        if let Some(n) = news {
            if n.total >= 7 {
                return (Priority::High, format!("NEWS2 {}", n.total));
            }
            if spo2.is_some_and(|s| s < 85.0) {
                return (Priority::High, "SpO2 LOW".into());
            }
        }
        if !truth && let Some((d, s)) = self.bed_inop(b) {
            return (
                Priority::Inop,
                format!("{} {}", inop_text(s), short_kind(d)),
            );
        }
        match news {
            Some(n) if n.total >= 5 => (Priority::Medium, format!("NEWS2 {}", n.total)),
            Some(n) if n.max_single() >= 3 => {
                (Priority::Low, format!("NEWS2 {} (3 in one)", n.total))
            }
            _ => (Priority::None, String::new()),
        }
    }

    /// The first technical condition of a bed's devices: (device kind, what).
    pub fn bed_inop(&self, b: usize) -> Option<(DeviceKind, InopKind)> {
        let start = self.epoch_ms;
        self.beds[b].devices.iter().find_map(|&d| {
            let dev = &self.devices[d];
            let what = if dev.battery_flat {
                InopKind::BatteryFlat
            } else if let Some(s) = dev.inop {
                InopKind::Status(s)
            } else if dev.out_of_coverage {
                InopKind::OutOfCoverage
            } else if dev.kind != DeviceKind::BpCuff && dev.silent(self.now_ms, start) {
                InopKind::NoSignal
            } else if dev.battery_pct.is_some_and(|p| p < 10.0) {
                InopKind::BatteryLow
            } else {
                return None;
            };
            Some((dev.kind, what))
        })
    }
}

/// A technical condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InopKind {
    Status(ObsStatus),
    BatteryLow,
    BatteryFlat,
    OutOfCoverage,
    NoSignal,
}

/// What a central station writes for a technical condition.
pub fn inop_text(k: InopKind) -> &'static str {
    match k {
        InopKind::Status(ObsStatus::LeadOff) => "LEADS OFF",
        InopKind::Status(ObsStatus::ProbeOff) => "PROBE OFF",
        InopKind::Status(ObsStatus::SensorOff) => "SENSOR OFF",
        InopKind::Status(ObsStatus::CuffError) => "CUFF ERR",
        InopKind::Status(ObsStatus::LowPerfusion) => "LOW PERF",
        InopKind::Status(ObsStatus::SensorFault) => "SENSOR FAULT",
        InopKind::Status(ObsStatus::WarmUp) => "WARM UP",
        InopKind::Status(_) => "CHECK",
        InopKind::BatteryLow => "BATT LOW",
        InopKind::BatteryFlat => "BATT FLAT",
        InopKind::OutOfCoverage => "NO COVERAGE",
        InopKind::NoSignal => "NO SIGNAL",
    }
}

/// A device kind in a few letters.
pub fn short_kind(k: DeviceKind) -> &'static str {
    match k {
        DeviceKind::EcgPatch => "ECG",
        DeviceKind::PulseOximeter => "SpO2",
        DeviceKind::BpCuff => "NIBP",
        DeviceKind::TempPatch => "TEMP",
        DeviceKind::Cgm => "CGM",
        DeviceKind::InfusionPump => "PUMP",
        DeviceKind::BedExitSensor => "BEDX",
        DeviceKind::FridgeLogger => "FRIDGE",
        DeviceKind::AssetTag => "TAG",
        DeviceKind::StaffBadge => "BADGE",
        DeviceKind::EdgeGateway => "GW",
    }
}

/// Whether a space kind is drawn as a room (filled) or a passage.
pub fn is_room(k: SpaceKind) -> bool {
    !matches!(k, SpaceKind::Corridor | SpaceKind::Lobby)
}

#[cfg(test)]
mod tests;
