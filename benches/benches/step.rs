//! Hot paths of the simulation: one fixed step of a whole hospital, NEWS2 scoring, and
//! waveform synthesis (samples per second of one patient's ECG, pleth and respiration).
//!
//! `cargo bench -p wardtwin-benches`. Inputs are the seeded library scenarios, so numbers are
//! comparable between commits. Recording goes to a counting sink (no file I/O here: the
//! end-to-end figure with Parquet output is `wardtwin run hospital-1000-24h`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wardtwin_sim::news2::{Acvpu, News2, News2Inputs, Spo2Scale};
use wardtwin_sim::{CountingSink, Sim, Sinks};
use wardtwin_twins::{BuildOptions, build_app};

fn sim_for(name: &str) -> Sim {
    let scenario = wardtwin_scenarios::load(name).expect("library scenario");
    let (mut app, _) = build_app(&scenario, &BuildOptions::default());
    app.insert_resource(Sinks::new(vec![Box::new(CountingSink::default())]));
    let mut sim = Sim::new(app);
    // Past start-up, into steady state.
    for _ in 0..120 {
        sim.step();
    }
    sim
}

fn step(c: &mut Criterion) {
    let mut g = c.benchmark_group("step");
    for name in ["quickstart", "hospital-1000-24h"] {
        let mut sim = sim_for(name);
        g.bench_function(name, |b| b.iter(|| sim.step()));
    }
    g.finish();
}

/// Ten seconds of one patient's waveforms (2,500 ECG, 1,250 pleth, 625 respiration samples),
/// sinus and AF: the throughput is samples per second.
fn waveforms(c: &mut Criterion) {
    use wardtwin_twins::waveform::{BeatClock, Hrv, Rhythm, State, synthesize};
    let mut g = c.benchmark_group("waveform");
    g.throughput(criterion::Throughput::Elements(4_375));
    for (name, rhythm) in [
        ("sinus-10s", Rhythm::Sinus),
        ("af-10s", Rhythm::AtrialFibrillation),
    ] {
        let mut clock =
            BeatClock::new(wardtwin_sim::rng::stream(1, "P-1", "beats"), Hrv::default());
        let state = State {
            rhythm,
            ..State::sinus(80.0, 16.0)
        };
        g.bench_function(name, |b| {
            b.iter(|| black_box(synthesize(&mut clock, &state, 10.0)))
        });
    }
    g.finish();
}

fn news2(c: &mut Criterion) {
    let inputs = News2Inputs {
        resp_rate: 22.4,
        spo2: 93.6,
        scale: Spo2Scale::Scale1,
        on_oxygen: true,
        systolic: 104.2,
        pulse: 112.7,
        consciousness: Acvpu::Alert,
        temp_c: 38.34,
    };
    c.bench_function("news2/score", |b| {
        b.iter(|| News2::score(black_box(&inputs)))
    });
}

criterion_group!(benches, step, news2, waveforms);
criterion_main!(benches);
