//! Same scenario + seed → byte-identical outputs, whatever the thread count.

use std::path::Path;

use super::support::{read_parquet, run_scenario, str_values, temp_dir};

/// The names of `files`.
fn file_names(files: &[(String, Vec<u8>)]) -> Vec<&str> {
    files.iter().map(|(n, _)| n.as_str()).collect()
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("run folder")
        .map(|e| e.expect("entry").path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn same_seed_gives_byte_identical_files_whatever_the_thread_count() {
    let tmp = temp_dir("determinism");
    let runs = [
        ("threads-1", "1"),
        ("threads-2", "2"),
        ("threads-2-again", "2"),
    ];
    for (name, threads) in runs {
        run_scenario(
            "quickstart",
            &tmp.path().join(name),
            &["--seed", "7", "--threads", threads],
        );
    }
    let reference = files_of(&tmp.path().join("threads-1"));
    let names: Vec<&str> = reference.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "artifacts.parquet",
            "charted.parquet",
            "conditions.parquet",
            "device_events.parquet",
            "device_status.parquet",
            "directory.parquet",
            "emissions.parquet",
            "episodes.parquet",
            "excursions.parquet",
            "faults.parquet",
            "manifest.json",
            "positions.parquet",
            "rhythms.parquet",
            "telemetry.parquet",
            "truth_vitals.parquet"
        ]
    );
    for (name, _) in &runs[1..] {
        let other = files_of(&tmp.path().join(name));
        // Hardening issue: zipping alone let a missing file pass.
        assert_eq!(
            file_names(&other),
            file_names(&reference),
            "files of {name}"
        );
        for ((fa, a), (fb, b)) in reference.iter().zip(&other) {
            assert_eq!(fa, fb);
            assert!(
                a == b,
                "{fa} differs between --threads 1 and {name} (seed 7). Re-run: \
                 wardtwin run quickstart --seed 7 --threads 1 --out a && \
                 wardtwin run quickstart --seed 7 --threads 2 --out b && cmp a/{fa} b/{fa}"
            );
        }
    }
}

#[test]
fn another_seed_gives_other_numbers() {
    let tmp = temp_dir("seeds");
    run_scenario("ward-baseline-24h", &tmp.path().join("a"), &["--seed", "1"]);
    run_scenario("ward-baseline-24h", &tmp.path().join("b"), &["--seed", "2"]);
    let a = std::fs::read(tmp.path().join("a/truth_vitals.parquet")).unwrap();
    let b = std::fs::read(tmp.path().join("b/truth_vitals.parquet")).unwrap();
    assert_ne!(a, b);
}

/// Above `PARALLEL_FROM` patients the step runs in parallel: the files must not change. The
/// ward has everything on: CGMs, pumps, bed-exit sensors, fridges with faults, tracked
/// equipment and staff, an uplink outage that fills the gateway's spool (and a crash that
/// loses it), every other fault, and frequent random incidents of every kind.
#[test]
fn parallel_stepping_gives_the_same_files_as_serial() {
    let tmp = temp_dir("parallel");
    let scenario = tmp.path().join("big-ward.toml");
    let beds = wardtwin_twins::patient::PARALLEL_FROM + 44;
    std::fs::write(
        &scenario,
        format!(
            "[scenario]\nname = \"big-ward\"\nepoch = 2026-03-02T00:00:00Z\nduration = \"90m\"\nseed = 5\n\n\
             [[ward]]\nid = \"B\"\nbeds = {beds}\nfridges = 2\n\n[artifacts]\nmotion_per_device_day = 20\n\n\
             [population]\nconditions = {{ diabetes = 0.3 }}\nfall_risk = 0.2\nkit = \"all\"\n\
             [kit.all]\ndevices = [{{ kind = \"ecg_patch\" }}, {{ kind = \"pulse_oximeter\" }}, \
             {{ kind = \"cgm\", only = \"diabetes\" }}, {{ kind = \"infusion_pump\", share = 0.3 }}, \
             {{ kind = \"bed_exit_sensor\", only = \"fall_risk\" }}]\n\
             [incidents]\nhypos_per_diabetic_day = 5\nbed_exits_per_night = 5\nocclusions_per_pump_day = 20\n\
             compression_lows_per_night = 3\n\
             [[event]]\nat = \"10m\"\nbed = \"B-007\"\nkind = \"haemorrhage\"\ndevelop = \"30m\"\n\
             [[event]]\nat = \"20m\"\nfridge = \"B-F1\"\nkind = \"door_open\"\nduration = \"3m\"\n\
             [[event]]\nat = \"30m\"\nfridge = \"B-F1\"\nkind = \"compressor_failure\"\n\
             [[event]]\nat = \"5m\"\nfridge = \"B-F2\"\nkind = \"door_open\"\nduration = \"1h\"\n\
             [rtls]\nassets_per_bed = 0.5\nstaff_per_bed = 0.2\nmoves_per_asset_day = 20\n\
             [[event]]\nat = \"10m\"\nasset = \"B-IVP01\"\nkind = \"asset_wander\"\nto = \"EXIT\"\n\
             [[event]]\nat = \"20m\"\nstaff = \"B-N01\"\nkind = \"duress\"\n\
             [[event]]\nat = \"40m\"\nward = \"B\"\nkind = \"uplink_outage\"\nduration = \"10m\"\n\
             [[event]]\nat = \"12m\"\nward = \"B\"\nkind = \"wifi_outage\"\nduration = \"6m\"\n\
             [[event]]\nat = \"20m\"\nward = \"B\"\nkind = \"uplink_flapping\"\nduration = \"10m\"\nperiod = \"2m\"\n\
             [[event]]\nat = \"45m\"\nward = \"B\"\nkind = \"gateway_crash\"\n\
             [[event]]\nat = \"55m\"\nward = \"B\"\nkind = \"battery_wave\"\nduration = \"10m\"\nshare = 0.3\n\
             [[event]]\nat = \"70m\"\nward = \"B\"\nkind = \"clock_step\"\nstep = \"-30m\"\n\
             [[event]]\nat = \"24m\"\nward = \"B\"\nkind = \"uplink_degraded\"\nduration = \"10m\"\n\
             latency = \"20s\"\njitter = \"15s\"\nloss = 0.1\nbandwidth = 40.0\n\
             [[event]]\nat = \"80m\"\nkind = \"broker_restart\"\nduration = \"2m\"\n\
             [[event]]\nat = \"30m\"\nward = \"B\"\nkind = \"radio_interference\"\nduration = \"10m\"\nattenuation = 25.0\n\
             [[event]]\nat = \"35m\"\nbed = \"B-003\"\ndevice = \"pulse_oximeter\"\nkind = \"out_of_coverage\"\nduration = \"10m\"\n\
             [[event]]\nat = \"50m\"\nward = \"B\"\nkind = \"clock_drift\"\ndrift = 2000.0\n"
        ),
    )
    .unwrap();
    let s = scenario.to_str().unwrap();
    run_scenario(s, &tmp.path().join("serial"), &["--threads", "1"]);
    run_scenario(s, &tmp.path().join("parallel"), &["--threads", "2"]);
    let a = files_of(&tmp.path().join("serial"));
    let b = files_of(&tmp.path().join("parallel"));
    assert_eq!(a.len(), 15);
    assert_eq!(
        file_names(&b),
        file_names(&a),
        "the same files, serial and parallel"
    );
    for ((fa, a), (_, b)) in a.iter().zip(&b) {
        assert!(
            a == b,
            "{fa} differs between serial and parallel stepping ({beds} beds, seed 5)"
        );
    }
    // Everything was on: each kind of condition happened.
    let cond = read_parquet(tmp.path().join("serial/conditions.parquet"));
    let classes: std::collections::BTreeSet<String> =
        str_values(&cond, "class").into_iter().collect();
    for class in [
        "deterioration",
        "hypoglycaemia",
        "pump_occlusion",
        "bed_exit",
        "cold_chain_excursion",
        "asset_zone_breach",
        "asset_missing",
        "duress",
        "data_gap",
        "gateway_offline",
    ] {
        assert!(classes.contains(class), "no {class} in {classes:?}");
    }
    // One row per fault, in timeline order.
    let faults = read_parquet(tmp.path().join("serial/faults.parquet"));
    assert_eq!(
        str_values(&faults, "kind"),
        [
            "uplink_outage",
            "wifi_outage",
            "uplink_flapping",
            "gateway_crash",
            "battery_wave",
            "clock_step",
            "uplink_degraded",
            "broker_restart",
            "radio_interference",
            "out_of_coverage",
            "clock_drift"
        ]
    );
}
