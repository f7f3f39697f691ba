//! `cargo run --release -p wardtwin-benches --bin scale`: how the cost of a simulated bed-hour
//! changes with the size of the hospital.
//!
//! The same total of bed-hours (6,000 by default) is spread over hospitals of 250, 1,000, 4,000
//! and 8,000 beds (24 h, 6 h, 1 h 30 min and 45 min of simulated time). Each hospital is built
//! like `hospital-1000-24h`: wards of 40 beds in rooms of 4, a vaccine fridge and a gateway per
//! ward, two RTLS tags per bed, one deterioration per ward. Recording goes to a counting sink
//! (no file I/O: the end-to-end figure with Parquet output is `wardtwin run`). If the cost per
//! bed-hour is flat, the simulation grows no faster than the hospital.
//!
//! Options: `--beds 250,1000,4000,8000`, `--bed-hours 6000`, `--reps 1` (the fastest of the
//! repetitions is reported), `--threads N`.

// A benchmark measures wall time by definition; the simulation never sees it.
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;
use std::time::Instant;

use wardtwin_sim::{CountingSink, Sim, Sinks};
use wardtwin_twins::{BuildOptions, build_app};

/// A hospital of `beds` beds (rounded up to whole wards of 40) simulated for `minutes`.
fn scenario(beds: u32, minutes: u32) -> String {
    let wards = beds.div_ceil(40).max(1);
    let mut s = format!(
        "[scenario]\nname = \"scale-{beds}\"\nepoch = 2026-03-02T00:00:00Z\n\
         duration = \"{minutes}m\"\nseed = 1000\nstep = \"1s\"\ntruth_interval = \"1m\"\n\n\
         [rtls]\nassets_per_bed = 1.6\nstaff_per_bed = 0.4\n\n\
         [population]\noccupancy = 1.0\noxygen = 0.1\n\
         conditions = {{ copd = 0.08, diabetes = 0.2, heart_failure = 0.06, hypertension = 0.3 }}\n"
    );
    let kinds = ["sepsis", "respiratory_failure", "haemorrhage"];
    for w in 1..=wards {
        let _ = write!(
            s,
            "\n[[ward]]\nid = \"H{w:03}\"\nbeds = 40\nbeds_per_room = 4\nfridges = 1\n"
        );
    }
    for w in 1..=wards {
        let at = (w * 37) % minutes.max(1);
        let _ = write!(
            s,
            "\n[[event]]\nat = \"{at}m\"\nbed = \"H{w:03}-{:02}\"\nkind = \"{}\"\n",
            (w * 7) % 40 + 1,
            kinds[(w % 3) as usize]
        );
    }
    s
}

struct Args {
    beds: Vec<u32>,
    bed_hours: u32,
    reps: usize,
    threads: Option<usize>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        beds: vec![250, 1000, 4000, 8000],
        bed_hours: 6000,
        reps: 1,
        threads: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--beds" => {
                a.beds = value()?
                    .split(',')
                    .map(|b| b.trim().parse().map_err(|e| format!("--beds: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--bed-hours" => a.bed_hours = value()?.parse().map_err(|e| format!("{e}"))?,
            "--reps" => a.reps = value()?.parse().map_err(|e| format!("{e}"))?,
            "--threads" => a.threads = Some(value()?.parse().map_err(|e| format!("{e}"))?),
            "--bench" => {} // passed by `cargo bench`
            other => return Err(format!("unknown option {other}")),
        }
    }
    if a.beds.contains(&0) || a.bed_hours == 0 || a.reps == 0 {
        return Err("beds, bed-hours and reps must be positive".into());
    }
    Ok(a)
}

fn main() {
    let a = args().unwrap_or_else(|e| {
        eprintln!("scale: {e}");
        std::process::exit(2)
    });
    println!(
        "| beds | devices | simulated | build | run (best of {}) | readings | per bed-hour | per step |",
        a.reps
    );
    println!("|---|---|---|---|---|---|---|---|");
    for &beds in &a.beds {
        let minutes = (u64::from(a.bed_hours) * 60 / u64::from(beds)).max(1) as u32;
        let text = scenario(beds, minutes);
        let sc = wardtwin_scenarios::parse(&text, "scale.toml").unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        });
        let mut best = f64::INFINITY;
        let mut build_s = 0.0;
        let mut readings = 0;
        let mut devices = 0;
        let mut ticks = 0;
        for _ in 0..a.reps {
            let t0 = Instant::now();
            let opts = BuildOptions {
                threads: a.threads,
                ..BuildOptions::default()
            };
            let (mut app, dir) = build_app(&sc, &opts);
            let sink = CountingSink::default();
            app.insert_resource(Sinks::new(vec![Box::new(sink.clone())]));
            let mut sim = Sim::new(app);
            build_s = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            sim.run(u64::MAX, |_, _| {});
            ticks = sim.ticks_done();
            sim.finish().expect("counting sink");
            best = best.min(t1.elapsed().as_secs_f64());
            let c = sink.counts.lock().expect("counts");
            readings = c.of::<wardtwin_sim::records::Forwarded>();
            devices = dir.devices.len();
        }
        let bed_hours = f64::from(beds.div_ceil(40) * 40) * f64::from(minutes) / 60.0;
        println!(
            "| {} | {devices} | {minutes} min | {build_s:.2} s | {best:.2} s | {:.2} M | {:.2} ms | {:.0} µs |",
            beds.div_ceil(40) * 40,
            readings as f64 / 1e6,
            best * 1e3 / bed_hours,
            best * 1e6 / ticks.max(1) as f64,
        );
    }
}
