//! The run folder as a user reads it: Parquet files written by polars, read back by polars.

use polars_core::prelude::*;

use super::support::{quickstart_run, read_parquet, str_values, time_values};

fn strs(df: &DataFrame, col: &str) -> Vec<Option<String>> {
    df.column(col)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect()
}

#[test]
fn the_manifest_describes_every_file_with_its_row_count() {
    let run = quickstart_run();
    let m = super::support::read_manifest(run);
    assert_eq!(m["format"], "wardtwin-run/v1");
    assert_eq!(m["scenario"]["name"], "quickstart");
    assert_eq!(m["scenario"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(m["seed"], 7);
    assert_eq!(m["epoch"], "2026-03-02T00:00:00.000Z");
    assert_eq!(
        (
            m["beds"].as_u64(),
            m["patients"].as_u64(),
            m["devices"].as_u64()
        ),
        (Some(24), Some(24), Some(97)),
        "96 bedside devices and the ward gateway's status device"
    );
    let files = m["files"].as_array().unwrap();
    assert_eq!(files.len(), 14);
    for f in files {
        let df = read_parquet(run.join(f["path"].as_str().unwrap()));
        assert_eq!(
            df.height() as u64,
            f["rows"].as_u64().unwrap(),
            "{}",
            f["path"]
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(run)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn telemetry_rows_carry_codes_units_and_statuses() {
    let df = read_parquet(quickstart_run().join("telemetry.parquet"));
    let names: Vec<&str> = df
        .get_column_names()
        .into_iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "sim_time",
            "device_time",
            "device_id",
            "device_kind",
            "patient_id",
            "bed_id",
            "seq",
            "metric",
            "loinc",
            "mdc_code",
            "value",
            "unit",
            "status",
            "receiver_id",
            "battery_pct"
        ]
    );
    assert!(matches!(
        df.column("sim_time").unwrap().dtype(),
        DataType::Datetime(TimeUnit::Milliseconds, Some(_))
    ));
    let metric = strs(&df, "metric");
    let loinc = strs(&df, "loinc");
    let unit = strs(&df, "unit");
    let status = strs(&df, "status");
    let value = df.column("value").unwrap().f64().unwrap().clone();
    let expected = [
        ("heart_rate", "8867-4", "/min"),
        ("resp_rate", "9279-1", "/min"),
        ("spo2", "59408-5", "%"),
        ("body_temp", "8310-5", "Cel"),
        ("bp_systolic", "8480-6", "mm[Hg]"),
    ];
    for (m, l, u) in expected {
        let i = metric
            .iter()
            .position(|x| x.as_deref() == Some(m))
            .unwrap_or_else(|| panic!("no {m} rows"));
        assert_eq!(
            (loinc[i].as_deref(), unit[i].as_deref()),
            (Some(l), Some(u)),
            "{m}"
        );
    }
    // A value is missing exactly when the device says its sensor is off.
    let mut off = 0;
    for (i, v) in value.iter().enumerate() {
        let st = status[i].as_deref().unwrap();
        let detached = matches!(
            st,
            "probe_off"
                | "lead_off"
                | "sensor_off"
                | "cuff_error"
                | "low_perfusion"
                | "warm_up"
                | "sensor_fault"
        );
        assert_eq!(v.is_none(), detached, "row {i}: value {v:?} status {st}");
        off += usize::from(detached);
    }
    assert!(
        off >= 100,
        "the scheduled 25-min probe-off alone gives 200 rows, got {off}"
    );
    // Device clocks are not the simulation clock.
    let sim = time_values(&df, "sim_time");
    let dev = time_values(&df, "device_time");
    let differ = sim.iter().zip(dev.iter()).filter(|(a, b)| a != b).count();
    assert!(differ > df.height() / 2);
}

#[test]
fn ground_truth_shows_the_deterioration_and_the_artifacts() {
    let run = quickstart_run();
    let eps = read_parquet(run.join("episodes.parquet"));
    assert_eq!(eps.height(), 2);
    assert_eq!(
        strs(&eps, "kind"),
        [Some("sepsis".into()), Some("respiratory_failure".into())]
    );
    assert_eq!(
        strs(&eps, "bed_id"),
        [Some("W1-07".into()), Some("W1-15".into())]
    );
    let ge5 = time_values(&eps, "news2_ge5_time");
    let onset = time_values(&eps, "onset_time");
    for (g, o) in ge5.into_iter().zip(onset) {
        let (g, o) = (g.expect("reached 5"), o.unwrap());
        assert!(g >= o && g - o <= 4 * 3_600_000);
    }
    // Each episode's phenotype, as drawn.
    let sev = eps.column("severity").unwrap().f32().unwrap().clone();
    assert!(
        sev.iter()
            .all(|v| v.is_some_and(|v| (0.4..=2.0).contains(&v)))
    );
    let variants = strs(&eps, "variant");
    assert!(
        ["febrile", "tachypnoea_first", "hypothermic"].contains(&variants[0].as_deref().unwrap())
    );
    assert!(["tachycardic", "beta_blocked"].contains(&variants[1].as_deref().unwrap()));
    // Sepsis is untreated in quickstart; respiratory failure is treated.
    let recovery = strs(&eps, "recovery");
    assert_eq!(recovery[0], None);
    assert!(["full", "partial"].contains(&recovery[1].as_deref().unwrap()));
    let relapse = eps.column("relapse_of").unwrap().u32().unwrap().clone();
    assert!(relapse.iter().all(|r| r.is_none()));
    let truth = read_parquet(run.join("truth_vitals.parquet"));
    assert_eq!(truth.height(), 24 * 1440);
    let total = truth.column("news2_total").unwrap().i32().unwrap().clone();
    let bed = strs(&truth, "bed_id");
    let max_w107 = bed
        .iter()
        .zip(total.iter())
        .filter(|(b, _)| b.as_deref() == Some("W1-07"))
        .filter_map(|(_, t)| t)
        .max()
        .unwrap();
    assert!(max_w107 >= 7);
    let art = read_parquet(run.join("artifacts.parquet"));
    let origins = strs(&art, "origin");
    assert_eq!(
        origins
            .iter()
            .filter(|o| o.as_deref() == Some("scheduled"))
            .count(),
        2
    );
    let fates = read_parquet(run.join("emissions.parquet"));
    assert!(
        strs(&fates, "fate")
            .iter()
            .all(|f| f.as_deref() == Some("delivered"))
    );
}

/// Groundwork issue: status messages were invented by the live sink, with no fate and no row.
/// They are emissions of the devices: a `device_status` row each, numbered per device from 0,
/// and a ledger row (kind `status`) like every reading, in file runs too.
#[test]
fn status_messages_are_emissions_with_rows_and_fates() {
    let run = quickstart_run();
    let st = read_parquet(run.join("device_status.parquet"));
    assert!(st.height() > 0);
    let dev = str_values(&st, "device_id");
    let seq = st.column("seq").unwrap().u32().unwrap().clone();
    let reason = str_values(&st, "reason");
    let mut per_device: std::collections::BTreeMap<&str, Vec<(u32, &str)>> = Default::default();
    for i in 0..st.height() {
        per_device
            .entry(dev[i].as_str())
            .or_default()
            .push((seq.get(i).unwrap(), reason[i].as_str()));
    }
    for (d, rows) in &per_device {
        let seqs: Vec<u32> = rows.iter().map(|r| r.0).collect();
        assert_eq!(seqs, (0..rows.len() as u32).collect::<Vec<_>>(), "{d}");
        assert_eq!(rows[0].1, "online", "{d}: first status");
    }
    assert!(reason.iter().any(|r| r == "periodic"));
    let em = read_parquet(run.join("emissions.parquet"));
    let kind = str_values(&em, "kind");
    let fate = str_values(&em, "fate");
    let status_rows = kind.iter().filter(|k| *k == "status").count();
    assert_eq!(status_rows, st.height(), "a ledger row per status message");
    assert!(
        kind.iter()
            .zip(&fate)
            .filter(|(k, _)| *k == "status")
            .all(|(_, f)| f == "delivered")
    );
    let telemetry = read_parquet(run.join("telemetry.parquet"));
    let readings: std::collections::BTreeSet<(String, u32)> = str_values(&telemetry, "device_id")
        .into_iter()
        .zip(
            telemetry
                .column("seq")
                .unwrap()
                .u32()
                .unwrap()
                .iter()
                .map(|s| s.unwrap()),
        )
        .collect();
    assert_eq!(
        kind.iter().filter(|k| *k == "telemetry").count(),
        readings.len(),
        "the telemetry ledger is unchanged: a row per reading"
    );
}
