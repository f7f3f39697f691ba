//! The realism report (`wardtwin realism RUN`): how a run's patients and devices compare with
//! published ward data. It reads only the run folder (true vitals, episodes, telemetry,
//! artifacts, the directory), so it works on any run, old or new, and says the same thing
//! twice for the same folder.
//!
//! What it computes:
//! - **baselines**: each stable patient's (never in an episode) mean of every true vital, and
//!   the population's mean, spread, percentiles and most crowded bin (a clamp shows as a spike);
//! - **NEWS2** over observation sets: every truth sample of a patient outside an episode, in
//!   the RCP bands, and the sets with a single parameter scoring 3;
//! - **autocorrelation**: the e-folding time of each true vital, median over patients;
//! - **devices**: per metric, the error of the readings against the truth at their time
//!   (linear between truth samples); CGM MARD; the correlation of consecutive readings;
//!   per kind, the share of each status and each artifact's rate per device-day;
//! - **episodes**: per deterioration kind, the change of each vital at full development (or
//!   at treatment, if sooner) against the half hour before onset, its spread, development
//!   times and peak NEWS2.
//!
//! Each [`published`] figure becomes a check with its range and source.

pub mod published;
mod read;
mod render;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use wardtwin_sim::records::DeviceKind;

pub use read::read_inputs;
pub use render::to_markdown;

/// True vitals in the order of `truth_vitals.parquet`'s columns.
pub const VITALS: [&str; 6] = [
    "heart_rate",
    "resp_rate",
    "spo2",
    "temp_c",
    "systolic",
    "diastolic",
];
/// Histogram bin of each vital's per-patient means.
const BIN: [f64; 6] = [4.0, 1.0, 0.5, 0.1, 4.0, 4.0];
/// The normal range of a stable adult ward patient (DOMAIN.md section 1): a mean outside it is
/// counted below or above.
const NORMAL: [(f64, f64); 6] = [
    (60.0, 100.0),
    (12.0, 20.0),
    (95.0, 100.0),
    (36.1, 37.5),
    (110.0, 140.0),
    (65.0, 90.0),
];

/// One truth sample of one patient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TruthRow {
    pub t: i64,
    pub v: [f32; 6],
    pub news2: i32,
    /// Some parameter scores 3.
    pub single3: bool,
    pub glucose: Option<f32>,
}

/// One deterioration episode.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeIn {
    pub patient: usize,
    pub kind: String,
    pub onset: i64,
    pub develop_ms: i64,
    pub peak_news2: i32,
    pub resolve: Option<i64>,
    pub end: Option<i64>,
}

/// One reading of one metric of a device, as `telemetry.parquet` has it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadingIn<'a> {
    pub device: &'a str,
    pub device_kind: &'a str,
    pub patient: Option<usize>,
    pub metric: &'static str,
    pub t: i64,
    pub value: Option<f32>,
    pub status: &'a str,
}

/// Everything the report reads.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub scenario: String,
    pub seed: u64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub truth_interval_ms: i64,
    /// Per patient (index = position), its truth samples in time order.
    pub truth: Vec<Vec<TruthRow>>,
    pub episodes: Vec<EpisodeIn>,
    /// Per device and metric, what its readings add up to (fed one reading at a time by
    /// [`Inputs::add_reading`], so telemetry streams through in bounded memory).
    /// (A hash map: looked up once per telemetry row; the report walks it in device order.)
    pub readings: HashMap<String, BTreeMap<&'static str, DeviceAcc>>,
    /// Each device's artifact windows `[start, end)`: readings in them are not counted as
    /// the device's error (an artifact is its own record). Set before readings are added.
    pub artifact_windows: HashMap<String, Vec<(i64, i64)>>,
    /// Devices of each kind.
    pub devices: BTreeMap<String, usize>,
    /// `(device kind, artifact kind)` → how many.
    pub artifacts: BTreeMap<(String, String), usize>,
}

/// Population statistics of one vital's per-patient means.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VitalStats {
    pub vital: &'static str,
    pub patients: usize,
    pub mean: f64,
    pub sd: f64,
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
    pub min: f64,
    pub max: f64,
    /// Share of patients in the most crowded bin.
    pub max_bin_share: f64,
    /// Share of patients, besides the highest and the lowest, within one bin of either.
    pub edge_share: f64,
    /// Shares of patients whose mean is below and above the normal range.
    pub normal: (f64, f64),
    pub share_below_normal: f64,
    pub share_above_normal: f64,
    pub bin: f64,
    /// Mean within-patient SD.
    pub within_sd: f64,
    /// e-folding time of the within-patient series, minutes (median over patients).
    pub e_folding_min: Option<f64>,
}

/// NEWS2 over observation sets.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct News2Dist {
    pub sets: usize,
    pub share_0: f64,
    pub share_1_2: f64,
    pub share_3_4: f64,
    pub share_5_6: f64,
    pub share_ge7: f64,
    /// Sets under 5 with a single parameter scoring 3.
    pub share_single3_under5: f64,
    /// Patients outside episodes who ever reached 5 / 7.
    pub patients_reaching_5: usize,
    pub patients_reaching_7: usize,
    pub patients: usize,
}

/// One metric's readings against the truth.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricStats {
    pub device_kind: String,
    pub metric: String,
    pub readings: usize,
    pub with_value: usize,
    /// Mean of reading − truth.
    pub bias: Option<f64>,
    /// SD of reading − truth.
    pub error_sd: Option<f64>,
    pub mean_abs_error: Option<f64>,
    /// Mean |reading − truth| / truth (glucose: the MARD).
    pub mard: Option<f64>,
    /// Correlation of consecutive readings of one device, each device's mean removed.
    pub lag1_correlation: Option<f64>,
    /// Within-patient SD of the truth at the readings.
    pub truth_within_sd: Option<f64>,
}

/// One device kind's statuses and artifacts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KindStats {
    pub device_kind: String,
    pub devices: usize,
    pub device_days: f64,
    /// Readings of its first metric.
    pub readings: usize,
    /// Status → share of those readings.
    pub status: BTreeMap<String, f64>,
    /// Artifact kind → how many per device-day.
    pub artifacts_per_day: BTreeMap<String, f64>,
}

/// The spread of one vital's change across episodes of a kind.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub sd: f64,
    pub min: f64,
    pub max: f64,
}

/// Episodes of one deterioration kind.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhenotypeStats {
    pub kind: String,
    pub episodes: usize,
    /// Change of each vital (HR, RR, SpO2, temperature, systolic, diastolic) at full
    /// development, against the half hour before onset.
    pub change: BTreeMap<&'static str, Spread>,
    pub develop_min: Spread,
    pub peak_news2: Spread,
    /// Episodes whose temperature fell.
    pub share_temp_falling: f64,
}

/// A published figure and the run's value.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    pub key: &'static str,
    pub what: &'static str,
    pub value: Option<f64>,
    pub lo: f64,
    pub hi: f64,
    pub source: &'static str,
    /// `pass`, `fail`, or `n/a` (too little data in the run to say).
    pub verdict: &'static str,
}

/// The whole report (`realism.json`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub patients: usize,
    pub stable_patients: usize,
    pub patient_days: f64,
    pub vitals: Vec<VitalStats>,
    pub news2: News2Dist,
    pub metrics: Vec<MetricStats>,
    pub device_kinds: Vec<KindStats>,
    pub episodes: Vec<PhenotypeStats>,
    pub checks: Vec<Check>,
}

impl Inputs {
    /// Pools several runs into one population: their patients, episodes and devices side by
    /// side (a published figure is a population's; one small ward's day is a noisy sample).
    pub fn pool(runs: Vec<Inputs>) -> Inputs {
        let mut it = runs.into_iter();
        let Some(mut all) = it.next() else {
            return Inputs::default();
        };
        let mut names = vec![format!("{} (seed {})", all.scenario, all.seed)];
        for r in it {
            names.push(format!("{} (seed {})", r.scenario, r.seed));
            let offset = all.truth.len();
            all.truth.extend(r.truth);
            all.episodes.extend(r.episodes.into_iter().map(|mut e| {
                e.patient += offset;
                e
            }));
            // Device ids repeat between runs: keep them apart by run.
            let run = names.len() - 1;
            all.readings.extend(
                r.readings
                    .into_iter()
                    .map(|(d, accs)| (format!("{d}#{run}"), accs)),
            );
            for (k, n) in r.devices {
                *all.devices.entry(k).or_default() += n;
            }
            for (k, n) in r.artifacts {
                *all.artifacts.entry(k).or_default() += n;
            }
            // Device-days are devices × the run's length: runs of one length pool exactly;
            // of different lengths, the first run's length counts for all.
        }
        if names.len() > 1 {
            all.scenario = names.join(" + ");
        }
        all
    }
}

impl Report {
    /// Checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.verdict == "fail")
    }
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a report serialises");
        s.push('\n');
        s
    }
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    x.iter().sum::<f64>() / x.len() as f64
}

fn sd(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn spread(x: &[f64]) -> Spread {
    Spread {
        mean: mean(x),
        sd: sd(x),
        min: x.iter().copied().fold(f64::INFINITY, f64::min),
        max: x.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

/// Share of the most crowded `bin`-wide bin (bins aligned on multiples of `bin`).
fn max_bin_share(x: &[f64], bin: f64) -> f64 {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for v in x {
        *counts.entry((v / bin).floor() as i64).or_default() += 1;
    }
    counts.values().copied().max().unwrap_or(0) as f64 / x.len().max(1) as f64
}

/// Share of `sorted`, besides its first and last, within `bin` of either.
fn edge_share(sorted: &[f64], bin: f64) -> f64 {
    let (Some(lo), Some(hi)) = (sorted.first(), sorted.last()) else {
        return 0.0;
    };
    let n = sorted
        .iter()
        .filter(|v| **v < lo + bin || **v > hi - bin)
        .count();
    n.saturating_sub(2) as f64 / sorted.len() as f64
}

/// Lag (in samples) at which the autocorrelation of `x` first falls under 1/e, up to `max`.
fn e_folding(x: &[f64], max: usize) -> Option<usize> {
    let n = x.len();
    if n < 4 {
        return None;
    }
    let m = mean(x);
    let var: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    if var <= 0.0 {
        return None;
    }
    (1..=max.min(n - 2)).find(|&lag| {
        let c: f64 = (0..n - lag).map(|i| (x[i] - m) * (x[i + lag] - m)).sum();
        c / var < (-1.0f64).exp()
    })
}

/// Whether patient `p` is in an episode at `t` (from onset until it ended, or the run's end).
fn in_episode(eps: &[&EpisodeIn], t: i64) -> bool {
    eps.iter()
        .any(|e| t >= e.onset && e.end.is_none_or(|end| t < end))
}

/// A true quantity of patient rows `rows` at `t`, linear between samples (`value`: its value
/// in a sample, `None` where the sample has none).
fn interpolate(
    rows: &[TruthRow],
    t0: i64,
    dt: i64,
    t: i64,
    value: impl Fn(&TruthRow) -> Option<f64>,
) -> Option<f64> {
    if dt <= 0 {
        return None;
    }
    let k = usize::try_from((t - t0).div_euclid(dt)).ok()?;
    let a = rows.get(k)?;
    let va = value(a)?;
    let frac = (t - a.t) as f64 / dt as f64;
    match rows.get(k + 1).and_then(&value) {
        Some(vb) if frac > 0.0 => Some(va + (vb - va) * frac),
        _ => Some(va),
    }
}

/// The true value of vital `i` at `t`.
fn truth_at(rows: &[TruthRow], t0: i64, dt: i64, t: i64, i: usize) -> Option<f64> {
    interpolate(rows, t0, dt, t, |r| Some(f64::from(r.v[i])))
}

/// The vital a metric measures (index into [`VITALS`]), or `None` (glucose and the rest).
fn vital_of(metric: &str) -> Option<usize> {
    Some(match metric {
        "heart_rate" | "pulse_rate" => 0,
        "resp_rate" => 1,
        "spo2" => 2,
        "body_temp" => 3,
        "bp_systolic" => 4,
        "bp_diastolic" => 5,
        _ => return None,
    })
}

/// Patients whose truth is used for autocorrelation (the cost grows with lags × samples).
const ACF_PATIENTS: usize = 100;
/// Longest lag looked at, in samples.
const ACF_MAX_LAG: usize = 240;

/// Computes the report.
pub fn compute(inp: &Inputs) -> Report {
    let dt = inp.truth_interval_ms.max(1);
    let mut eps_of: Vec<Vec<&EpisodeIn>> = vec![Vec::new(); inp.truth.len()];
    for e in &inp.episodes {
        if let Some(v) = eps_of.get_mut(e.patient) {
            v.push(e);
        }
    }
    let stable: Vec<usize> = (0..inp.truth.len())
        .filter(|&p| eps_of[p].is_empty() && !inp.truth[p].is_empty())
        .collect();
    let days = (inp.end_ms - inp.start_ms) as f64 / 86_400_000.0;

    // Baselines and autocorrelation.
    let mut vitals = Vec::new();
    for (i, name) in VITALS.iter().enumerate() {
        let mut means = Vec::new();
        let mut within = Vec::new();
        let mut fold = Vec::new();
        for (n, &p) in stable.iter().enumerate() {
            let x: Vec<f64> = inp.truth[p].iter().map(|r| f64::from(r.v[i])).collect();
            means.push(mean(&x));
            within.push(sd(&x));
            if n < ACF_PATIENTS
                && let Some(lag) = e_folding(&x, ACF_MAX_LAG)
            {
                fold.push(lag as f64 * dt as f64 / 60_000.0);
            }
        }
        let mut sorted = means.clone();
        sorted.sort_by(f64::total_cmp);
        fold.sort_by(f64::total_cmp);
        vitals.push(VitalStats {
            vital: name,
            patients: means.len(),
            mean: mean(&means),
            sd: sd(&means),
            p5: quantile(&sorted, 0.05),
            p50: quantile(&sorted, 0.5),
            p95: quantile(&sorted, 0.95),
            min: sorted.first().copied().unwrap_or(f64::NAN),
            max: sorted.last().copied().unwrap_or(f64::NAN),
            max_bin_share: max_bin_share(&means, BIN[i]),
            edge_share: edge_share(&sorted, BIN[i]),
            normal: NORMAL[i],
            share_below_normal: means.iter().filter(|&&m| m < NORMAL[i].0).count() as f64
                / means.len().max(1) as f64,
            share_above_normal: means.iter().filter(|&&m| m > NORMAL[i].1).count() as f64
                / means.len().max(1) as f64,
            bin: BIN[i],
            within_sd: mean(&within),
            e_folding_min: (!fold.is_empty()).then(|| quantile(&fold, 0.5)),
        });
    }

    // NEWS2 over observation sets outside episodes.
    let mut bands = [0usize; 5];
    let mut single3 = 0usize;
    let (mut reach5, mut reach7, mut counted) = (0, 0, 0);
    for (p, rows) in inp.truth.iter().enumerate() {
        let (mut r5, mut r7, mut any) = (false, false, false);
        for r in rows.iter().filter(|r| !in_episode(&eps_of[p], r.t)) {
            any = true;
            let b = match r.news2 {
                0 => 0,
                1..=2 => 1,
                3..=4 => 2,
                5..=6 => 3,
                _ => 4,
            };
            bands[b] += 1;
            single3 += usize::from(r.single3 && r.news2 < 5);
            r5 |= r.news2 >= 5;
            r7 |= r.news2 >= 7;
        }
        reach5 += usize::from(r5);
        reach7 += usize::from(r7);
        counted += usize::from(any);
    }
    let sets: usize = bands.iter().sum();
    let share = |n: usize| n as f64 / sets.max(1) as f64;
    let news2 = News2Dist {
        sets,
        share_0: share(bands[0]),
        share_1_2: share(bands[1]),
        share_3_4: share(bands[2]),
        share_5_6: share(bands[3]),
        share_ge7: share(bands[4]),
        share_single3_under5: share(single3),
        patients_reaching_5: reach5,
        patients_reaching_7: reach7,
        patients: counted,
    };

    // Devices.
    let mut metrics: BTreeMap<(String, &'static str), Vec<&DeviceAcc>> = BTreeMap::new();
    let mut kinds: BTreeMap<String, (usize, BTreeMap<String, usize>)> = BTreeMap::new();
    let mut devices: Vec<(&String, &BTreeMap<&'static str, DeviceAcc>)> =
        inp.readings.iter().collect();
    devices.sort_by(|a, b| a.0.cmp(b.0));
    for (metric, acc) in devices.iter().flat_map(|(_, m)| m.iter()) {
        if *metric == first_metric_of(&acc.kind) {
            let k = kinds.entry(acc.kind.clone()).or_default();
            k.0 += acc.readings;
            for (st, n) in &acc.status {
                *k.1.entry(st.clone()).or_default() += n;
            }
        }
        metrics
            .entry((acc.kind.clone(), metric))
            .or_default()
            .push(acc);
    }
    let metrics: Vec<MetricStats> = metrics
        .into_iter()
        .filter_map(|((kind, metric), accs)| metric_stats(kind, metric, &accs))
        .collect();
    let mut device_kinds = Vec::new();
    for (kind, &n) in &inp.devices {
        let (readings, status) = kinds.remove(kind).unwrap_or_default();
        let device_days = n as f64 * days;
        let artifacts_per_day = inp
            .artifacts
            .iter()
            .filter(|((k, _), _)| k == kind)
            .map(|((_, a), &c)| (a.clone(), c as f64 / device_days.max(1e-9)))
            .collect();
        device_kinds.push(KindStats {
            device_kind: kind.clone(),
            devices: n,
            device_days,
            readings,
            status: status
                .into_iter()
                .map(|(s, c)| (s, c as f64 / readings.max(1) as f64))
                .collect(),
            artifacts_per_day,
        });
    }

    // Episodes.
    let mut by_kind: BTreeMap<&str, Vec<(&EpisodeIn, [f64; 6])>> = BTreeMap::new();
    for e in &inp.episodes {
        let Some(rows) = inp.truth.get(e.patient) else {
            continue;
        };
        let pre: Vec<&TruthRow> = rows
            .iter()
            .filter(|r| r.t < e.onset && r.t >= e.onset - 30 * 60_000)
            .collect();
        let full = e.onset + e.develop_ms;
        let at = e.resolve.map_or(full, |r| r.min(full));
        if pre.is_empty() || at > inp.end_ms {
            continue;
        }
        let t0 = rows[0].t;
        let mut change = [0.0; 6];
        for (i, c) in change.iter_mut().enumerate() {
            let base = pre.iter().map(|r| f64::from(r.v[i])).sum::<f64>() / pre.len() as f64;
            // The mean of the 10 minutes around full development.
            let around: Vec<f64> = (-5..=5)
                .filter_map(|k| truth_at(rows, t0, dt, at + k * 60_000, i))
                .collect();
            *c = mean(&around) - base;
        }
        by_kind
            .entry(e.kind.as_str())
            .or_default()
            .push((e, change));
    }
    let episodes: Vec<PhenotypeStats> = by_kind
        .into_iter()
        .map(|(kind, eps)| {
            let col = |i: usize| eps.iter().map(|(_, c)| c[i]).collect::<Vec<_>>();
            PhenotypeStats {
                kind: kind.to_string(),
                episodes: eps.len(),
                change: VITALS
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (*v, spread(&col(i))))
                    .collect(),
                develop_min: spread(
                    &eps.iter()
                        .map(|(e, _)| e.develop_ms as f64 / 60_000.0)
                        .collect::<Vec<_>>(),
                ),
                peak_news2: spread(
                    &eps.iter()
                        .map(|(e, _)| f64::from(e.peak_news2))
                        .collect::<Vec<_>>(),
                ),
                share_temp_falling: eps.iter().filter(|(_, c)| c[3] < 0.0).count() as f64
                    / eps.len() as f64,
            }
        })
        .collect();

    let mut report = Report {
        scenario: inp.scenario.clone(),
        seed: inp.seed,
        patients: inp.truth.iter().filter(|r| !r.is_empty()).count(),
        stable_patients: stable.len(),
        patient_days: inp.truth.iter().map(|r| r.len()).sum::<usize>() as f64 * dt as f64
            / 86_400_000.0,
        vitals,
        news2,
        metrics,
        device_kinds,
        episodes,
        checks: Vec::new(),
    };
    report.checks = checks(&report);
    report
}

/// The metric whose readings stand for a kind's readings (one per emission): its first.
fn first_metric_of(kind: &str) -> &'static str {
    DeviceKind::from_name(kind).map_or("", |k| k.metrics()[0].name())
}

/// What one device's readings of one metric add up to: counts, running sums of the error
/// against the truth, of the truth itself, and of consecutive pairs (for their correlation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceAcc {
    pub kind: String,
    pub readings: usize,
    pub with_value: usize,
    /// Readings by status.
    pub status: BTreeMap<String, usize>,
    /// Errors: n, Σe, Σe², Σ|e|; relative (glucose): n, Σ|e|/truth.
    err: [f64; 4],
    rel: [f64; 2],
    /// Truth at the readings: n, Σ, Σ².
    truth: [f64; 3],
    /// The last valid reading `(t, v)` and the shortest gap seen.
    last: Option<(i64, f64)>,
    min_gap: Option<i64>,
    /// Consecutive pairs: n, Σx, Σy, Σx², Σy², Σxy.
    pairs: [f64; 6],
}

impl Inputs {
    /// Adds one reading: its status, its error against the truth at its time (not inside one
    /// of the device's artifacts), and its pair with the device's previous reading if that is
    /// the one before it (readings arrive in forwarding order: a backfilled one is not paired).
    pub fn add_reading(&mut self, r: ReadingIn) {
        let dt = self.truth_interval_ms.max(1);
        // Looked up by reference: a new String only for a device's first reading.
        let per_metric = match self.readings.get_mut(r.device) {
            Some(m) => m,
            None => self.readings.entry(r.device.to_string()).or_default(),
        };
        let acc = per_metric.entry(r.metric).or_insert_with(|| DeviceAcc {
            kind: r.device_kind.to_string(),
            ..DeviceAcc::default()
        });
        acc.readings += 1;
        match acc.status.get_mut(r.status) {
            Some(c) => *c += 1,
            None => {
                acc.status.insert(r.status.to_string(), 1);
            }
        }
        let Some(v) = r.value else { return };
        acc.with_value += 1;
        let in_artifact = self
            .artifact_windows
            .get(r.device)
            .is_some_and(|w| w.iter().any(|&(a, b)| r.t >= a && r.t < b));
        if r.status != "ok" || in_artifact {
            acc.last = None;
            return;
        }
        let v = f64::from(v);
        let rows = r
            .patient
            .and_then(|p| self.truth.get(p))
            .filter(|x| !x.is_empty());
        if let Some(rows) = rows {
            let t0 = rows[0].t;
            let truth = match vital_of(r.metric) {
                Some(i) => truth_at(rows, t0, dt, r.t, i),
                None if r.metric == "glucose" => {
                    interpolate(rows, t0, dt, r.t, |x| x.glucose.map(f64::from))
                }
                None => None,
            };
            if let Some(tr) = truth {
                let e = v - tr;
                acc.err[0] += 1.0;
                acc.err[1] += e;
                acc.err[2] += e * e;
                acc.err[3] += e.abs();
                if r.metric == "glucose" && tr > 0.0 {
                    acc.rel[0] += 1.0;
                    acc.rel[1] += e.abs() / tr;
                }
                acc.truth[0] += 1.0;
                acc.truth[1] += tr;
                acc.truth[2] += tr * tr;
            }
        }
        if let Some((t_prev, v_prev)) = acc.last
            && r.t > t_prev
        {
            let gap = r.t - t_prev;
            let min = acc.min_gap.map_or(gap, |m| m.min(gap));
            acc.min_gap = Some(min);
            // Consecutive: no more than twice the device's shortest gap apart.
            if gap <= 2 * min {
                let p = &mut acc.pairs;
                p[0] += 1.0;
                p[1] += v_prev;
                p[2] += v;
                p[3] += v_prev * v_prev;
                p[4] += v * v;
                p[5] += v_prev * v;
            }
        }
        if acc.last.is_none_or(|(t_prev, _)| r.t > t_prev) {
            acc.last = Some((r.t, v));
        }
    }
}

/// One metric's statistics over the devices that report it.
fn metric_stats(kind: String, metric: &str, accs: &[&DeviceAcc]) -> Option<MetricStats> {
    let sum = |f: &dyn Fn(&DeviceAcc) -> f64| accs.iter().map(|a| f(a)).sum::<f64>();
    let readings = accs.iter().map(|a| a.readings).sum::<usize>();
    let n = sum(&|a| a.err[0]);
    if readings == 0 || n == 0.0 {
        return None;
    }
    let (se, sse, sabs) = (sum(&|a| a.err[1]), sum(&|a| a.err[2]), sum(&|a| a.err[3]));
    let bias = se / n;
    let var = ((sse - n * bias * bias) / (n - 1.0).max(1.0)).max(0.0);
    let rel_n = sum(&|a| a.rel[0]);
    // Each device's pairs around their own means, pooled.
    let (mut sxy, mut sxx, mut syy, mut pairs) = (0.0, 0.0, 0.0, 0.0);
    for a in accs {
        let [k, x, y, xx, yy, xy] = a.pairs;
        if k < 2.0 {
            continue;
        }
        pairs += k;
        sxy += xy - x * y / k;
        sxx += xx - x * x / k;
        syy += yy - y * y / k;
    }
    let corr = (pairs > 10.0 && sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt());
    let within: Vec<f64> = accs
        .iter()
        .filter(|a| a.truth[0] > 1.0)
        .map(|a| {
            let [k, s1, s2] = a.truth;
            ((s2 - s1 * s1 / k) / (k - 1.0)).max(0.0).sqrt()
        })
        .collect();
    Some(MetricStats {
        device_kind: kind,
        metric: metric.to_string(),
        readings,
        with_value: accs.iter().map(|a| a.with_value).sum(),
        bias: Some(bias),
        error_sd: Some(var.sqrt()),
        mean_abs_error: Some(sabs / n),
        mard: (rel_n > 0.0).then(|| sum(&|a| a.rel[1]) / rel_n),
        lag1_correlation: corr,
        truth_within_sd: (!within.is_empty()).then(|| mean(&within)),
    })
}

fn check(f: &published::Figure, value: Option<f64>) -> Check {
    let verdict = match value {
        None => "n/a",
        Some(v) if v >= f.lo && v <= f.hi => "pass",
        Some(_) => "fail",
    };
    Check {
        key: f.key,
        what: f.what,
        value,
        lo: f.lo,
        hi: f.hi,
        source: f.source,
        verdict,
    }
}

/// Too few to judge a share of patients.
const MIN_PATIENTS: usize = 20;
/// Too few episodes of a kind to judge their spread.
const MIN_EPISODES: usize = 3;

fn checks(r: &Report) -> Vec<Check> {
    use published::*;
    let stable_means = |_: usize| r.stable_patients >= MIN_PATIENTS;
    let vital = |name: &str| r.vitals.iter().find(|v| v.vital == name);
    let sbp = vital("systolic");
    let pileup = sbp.filter(|_| stable_means(0)).map(|s| s.edge_share);
    let kind = |k: &str| r.device_kinds.iter().find(|d| d.device_kind == k);
    let metric = |k: &str, m: &str| {
        r.metrics
            .iter()
            .find(|x| x.device_kind == k && x.metric == m)
    };
    let mut out = Vec::new();
    for f in published::ALL {
        let value = match f.key {
            k if k == SBP_ABOVE_140.key => stable_means(0).then(|| r.share_above("systolic")),
            k if k == HR_ABOVE_100.key => stable_means(0).then(|| r.share_above("heart_rate")),
            k if k == NEWS2_3_4.key => (r.news2.sets > 0).then_some(r.news2.share_3_4),
            k if k == NEWS2_GE5.key => {
                (r.news2.sets > 0).then_some(r.news2.share_5_6 + r.news2.share_ge7)
            }
            k if k == NEWS2_GE7.key => (r.news2.sets > 0).then_some(r.news2.share_ge7),
            k if k == ACF_MIN.key => ["heart_rate", "resp_rate", "spo2"]
                .iter()
                .filter_map(|v| vital(v).and_then(|v| v.e_folding_min))
                .reduce(f64::min),
            k if k == SPO2_LAG1.key => {
                metric("pulse_oximeter", "spo2").and_then(|m| m.lag1_correlation)
            }
            k if k == CGM_MARD.key => metric("cgm", "glucose").and_then(|m| m.mard),
            k if k == CGM_NOT_OK.key => kind("cgm")
                .filter(|k| k.readings > 0)
                .map(|k| 1.0 - k.status.get("ok").copied().unwrap_or(0.0)),
            k if k == CUFF_ERROR.key => kind("bp_cuff")
                .filter(|k| k.readings > 0)
                .map(|k| k.status.get("cuff_error").copied().unwrap_or(0.0)),
            k if k == TEMP_PATCH_FAULTS.key => {
                kind("temp_patch").filter(|k| k.device_days > 0.0).map(|k| {
                    ["probe_off", "skin_contact_loss"]
                        .iter()
                        .filter_map(|a| k.artifacts_per_day.get(*a))
                        .fold(0.0, |a, b| a + b)
                })
            }
            k if k == PHENOTYPE_HR_SD.key => r
                .episodes
                .iter()
                .filter(|e| e.episodes >= MIN_EPISODES)
                .map(|e| e.change["heart_rate"].sd)
                .reduce(f64::min),
            k if k == SEPSIS_HYPOTHERMIC.key => r
                .episodes
                .iter()
                .find(|e| e.kind == "sepsis" && e.episodes >= 10)
                .map(|e| e.share_temp_falling),
            k if k == BASELINE_PILEUP.key => pileup,
            _ => None,
        };
        out.push(check(&f, value));
    }
    out
}

impl Report {
    /// Share of stable patients whose mean `vital` is above its normal range.
    fn share_above(&self, vital: &str) -> f64 {
        self.vitals
            .iter()
            .find(|v| v.vital == vital)
            .map_or(0.0, |v| v.share_above_normal)
    }
}
