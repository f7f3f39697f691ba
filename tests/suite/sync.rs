//! Time between the twin and the system under test: the clock topic, lockstep with the
//! in-process reference stack and with an external system on mosquitto, exact scores at any
//! speed.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use wardtwin_exporters::mqtt::mosquitto::{Mosquitto, MosquittoConfig};

use super::support::*;

/// Six beds for 1 h 30 min, a sepsis that develops over 15 min from 00:02: alerts early.
fn scenario(dir: &Path) -> PathBuf {
    let text = r#"[scenario]
name = "synced"
epoch = 2026-03-02T00:00:00Z
duration = "1h30m"
seed = 11

[[ward]]
id = "W1"
beds = 6

[[event]]
at = "00:02"
bed = "W1-02"
kind = "sepsis"
develop = "15m"
"#;
    let path = dir.join("synced.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn read(run: &Path, file: &str) -> Vec<u8> {
    std::fs::read(run.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", run.display()))
}

/// `wardtwin run SCENARIO --quiet --out OUT` with `extra`, which must exit 0; its stdout.
fn run_ok(scenario: &Path, out: &Path, extra: &[&str]) -> String {
    let o = run_scenario(scenario.to_str().unwrap(), out, extra);
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The in-process reference stack is lock-stepped by default: at `--speed max` it gets the
/// same alerts, stamped the same, as at a paced speed, and on a rerun; nothing it was sent is
/// missing from its echo.
#[test]
fn the_in_process_stack_scores_byte_identically_at_speed_max_paced_and_on_a_rerun() {
    let tmp = temp_dir("sync-inproc");
    let scenario = scenario(tmp.path());
    let run = |name: &str, speed: &str| {
        let out = tmp.path().join(name);
        let stdout = run_ok(
            &scenario,
            &out,
            &[
                "--live",
                "--with-reference-stack",
                "news2",
                "--echo-topic",
                "sut/ingested",
                "--speed",
                speed,
            ],
        );
        assert!(stdout.contains("sync: lockstep"), "{stdout}");
        out
    };
    let max = run("max", "max");
    let paced = run("paced", "3600");
    let again = run("again", "max");
    let card: Value = serde_json::from_slice(&read(&max, "scorecard.json")).unwrap();
    assert!(
        card["intake"]["received"].as_u64().unwrap() >= 2,
        "the stack alerted: {card}"
    );
    assert_eq!(card["ingestion"]["completeness"], json!(1.0));
    assert_eq!(card["validity"]["valid"], json!(true));
    // The embedded broker said what it discarded: nothing, lock-stepped.
    let broker: Value = serde_json::from_slice(&read(&max, "broker.json")).unwrap();
    assert_eq!(broker["cursor_jumps"], json!(0), "{broker}");
    for other in [&paced, &again] {
        for f in ["alerts.jsonl", "ingested.jsonl", "scorecard.json"] {
            assert!(
                read(&max, f) == read(other, f),
                "{f} differs between {} and {}",
                max.display(),
                other.display()
            );
        }
    }
    // Arrivals are stamped on sync points: every 5 s of simulation time, the last second of
    // each (ticks 4, 9, 14, ...).
    for line in String::from_utf8(read(&max, "alerts.jsonl"))
        .unwrap()
        .lines()
    {
        let v: Value = serde_json::from_str(line).unwrap();
        let arrival = v["arrival"].as_str().unwrap();
        let second: u32 = arrival[17..19].parse().unwrap();
        assert_eq!(second % 5, 4, "{arrival}");
        assert!(arrival.ends_with(".000Z"), "{arrival}");
    }
}

/// What a subscriber saw of the clock topic: every clock message (not the retained one) and
/// the number of telemetry messages before each.
fn watch_clock(port: u16) -> (Client, std::sync::mpsc::Receiver<(Value, u64)>) {
    let mut o = MqttOptions::new("wtclockwatch", "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut conn) = Client::new(o, 100);
    let (tx, rx) = channel();
    let (ready_tx, ready_rx) = channel();
    let sub = client.clone();
    std::thread::spawn(move || {
        let mut telemetry = 0u64;
        for ev in conn.iter() {
            match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = sub.try_subscribe("dt/wardtwin/#", QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = ready_tx.send(());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if p.topic.ends_with("/telemetry") {
                        telemetry += 1;
                    } else if p.topic.ends_with("/sim/clock") && !p.retain {
                        let v: Value = serde_json::from_slice(&p.payload).expect("json");
                        if tx.send((v, telemetry)).is_err() {
                            return;
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("subscribed");
    (client, rx)
}

/// `--clock-topic`: the clock never goes backwards, names the simulation time of its tick,
/// comes every sync interval, and counts the telemetry published before it (the last one:
/// every reading of the run). It is a valid wire v1 payload.
#[test]
fn the_clock_topic_never_goes_backwards_and_counts_the_telemetry_before_it() {
    let tmp = temp_dir("sync-clock");
    let broker = Mosquitto::start(tmp.path(), MosquittoConfig::default()).expect("mosquitto");
    let (_client, clocks) = watch_clock(broker.port());
    let scenario = scenario(tmp.path());
    let out = tmp.path().join("run");
    let stdout = run_ok(
        &scenario,
        &out,
        &[
            "--broker",
            &broker.url(),
            "--clock-topic",
            "--sync-interval",
            "1m",
            "--duration",
            "30m",
            "--speed",
            "max",
        ],
    );
    assert!(stdout.contains("sync: clock"), "{stdout}");
    // One row per observation: count the readings, (device, seq).
    let df = read_parquet(out.join("telemetry.parquet"));
    let dev = df.column("device_id").unwrap().str().unwrap().clone();
    let seq = df.column("seq").unwrap().u32().unwrap().clone();
    let readings = (0..df.height())
        .map(|i| (dev.get(i).unwrap().to_string(), seq.get(i).unwrap()))
        .collect::<std::collections::HashSet<_>>()
        .len() as u64;
    let schemas = wardtwin_exporters::wire::schemas::WireSchemas::load();
    let epoch = wardtwin_sim::time::parse_iso_ms("2026-03-02T00:00:00.000Z").unwrap();
    let mut got: Vec<(Value, u64)> = Vec::new();
    while got.last().is_none_or(|(c, _)| c["tick"] != json!(1799)) {
        match clocks.recv_timeout(Duration::from_secs(20)) {
            Ok(c) => got.push(c),
            Err(RecvTimeoutError::Timeout) => panic!("no clock for 20 s; got {got:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("watcher ended; got {got:?}"),
        }
    }
    // Every minute (ticks 59, 119, ..., 1799) and nothing else.
    let ticks: Vec<u64> = got
        .iter()
        .map(|(c, _)| c["tick"].as_u64().unwrap())
        .collect();
    assert_eq!(ticks, (1..=30).map(|m| m * 60 - 1).collect::<Vec<_>>());
    let mut last_count = 0;
    for (c, _) in &got {
        schemas
            .check(c.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{c}: {e}"));
        let tick = c["tick"].as_i64().unwrap();
        let t = wardtwin_sim::time::parse_iso_ms(c["sim_time"].as_str().unwrap()).unwrap();
        assert_eq!(t, epoch + tick * 1000, "{c}");
        assert_eq!(c["sync"], json!("clock"));
        let count = c["telemetry"].as_u64().unwrap();
        assert!(count >= last_count, "the count went backwards: {c}");
        // The clock has a connection of its own (a ward's link going down must not hold it
        // up): MQTT orders nothing between connections, so what a subscriber has seen when
        // the clock arrives may be more or less than its count; the count is what to wait for.
        last_count = count;
    }
    assert_eq!(last_count, readings, "the last clock counts every reading");
}

/// The vendor's path in lockstep: a separate system (the reference stack with `--lockstep`,
/// its own process) on mosquitto acknowledges each clock; its scorecard is byte-identical at
/// `--speed max` and `--speed 60`.
#[test]
fn an_external_lockstep_system_on_mosquitto_scores_identically_at_max_and_60x() {
    let tmp = temp_dir("sync-external");
    let config = MosquittoConfig {
        nodelay: true,
        ..MosquittoConfig::default()
    };
    let broker = Mosquitto::start(tmp.path(), config).expect("mosquitto");
    let scenario = scenario(tmp.path());
    let run = |name: &str, speed: &str| {
        let (mut stack, _) =
            external_reference_stack(&broker.url(), "news2", "acme/alerts", &["--lockstep"]);
        let out = tmp.path().join(name);
        let stdout = run_ok(
            &scenario,
            &out,
            &[
                "--broker",
                &broker.url(),
                "--alerts-topic",
                "acme/alerts",
                "--sync",
                "lockstep",
                "--sync-interval",
                "10s",
                "--duration",
                "20m",
                "--speed",
                speed,
            ],
        );
        assert!(stdout.contains("sync: lockstep"), "{stdout}");
        assert!(stack.wait().unwrap().success());
        out
    };
    let max = run("max", "max");
    let slow = run("slow", "60");
    let card: Value = serde_json::from_slice(&read(&max, "scorecard.json")).unwrap();
    assert!(
        card["intake"]["received"].as_u64().unwrap() >= 1,
        "the system alerted: {card}"
    );
    for f in ["alerts.jsonl", "scorecard.json"] {
        assert!(read(&max, f) == read(&slow, f), "{f} differs");
    }
}

/// A system that never acknowledges: a sync point waits `--sync-timeout` and is recorded as a
/// stall in `sync.json`; after three in a row the twin stops waiting, and the run warns, goes
/// on to the end, and is invalid.
#[test]
fn a_system_that_never_acknowledges_stalls_three_sync_points_then_is_left_behind() {
    let tmp = temp_dir("sync-stall");
    let scenario = scenario(tmp.path());
    let out = tmp.path().join("run");
    let o = run_unchecked(
        scenario.to_str().unwrap(),
        &out,
        &[
            "--live",
            "--alerts-topic",
            "acme/alerts",
            "--sync",
            "lockstep",
            "--sync-interval",
            "10m",
            "--sync-timeout",
            "50ms",
            "--duration",
            "50m",
            "--speed",
            "max",
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "an invalid run: {stderr}");
    assert!(stderr.contains("stalled at 3 of 5 sync points"), "{stderr}");
    assert!(
        stderr.contains("has not acknowledged 3 sync points in a row"),
        "{stderr}"
    );
    let record: Value = serde_json::from_slice(&read(&out, "sync.json")).unwrap();
    assert_eq!(record["sync"], json!("lockstep"));
    assert_eq!(record["clocks"], json!(5));
    // Three in a row, then the twin stops waiting (the clock still goes out).
    let stalls = record["stalls"].as_array().unwrap();
    let ticks: Vec<u64> = stalls.iter().map(|s| s["tick"].as_u64().unwrap()).collect();
    assert_eq!(ticks, [599, 1199, 1799]);
    assert_eq!(record["gave_up_at_tick"], json!(1799));
    assert_eq!(stalls[0]["sim_time"], json!("2026-03-02T00:09:59.000Z"));
    assert_eq!(stalls[0]["acknowledged"], Value::Null);
    // The run itself is complete.
    assert_eq!(read_manifest(&out)["complete"], json!(true));
}

/// A system too slow for `--speed max` without lockstep, on a broker that (like mosquitto's
/// defaults) queues only so much per client: the broker discards what the system cannot take,
/// the system's echo shows it, and the run is invalid (exit code 3, validity in the scorecard
/// and the JUnit), not graded.
#[test]
fn a_slow_system_without_lockstep_makes_an_invalid_run_not_a_graded_one() {
    let tmp = temp_dir("sync-slow");
    let (o, out) = run_against_a_slow_system(tmp.path(), "max");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("INVALID RUN"), "{stdout}");
    assert!(
        stderr.contains("invalid run: the system ingested"),
        "{stderr}"
    );
    let card: Value = serde_json::from_slice(&read(&out, "scorecard.json")).unwrap();
    let v = &card["validity"];
    assert_eq!(v["valid"], json!(false), "{v}");
    assert_eq!(v["sync"], json!("free"));
    let completeness = v["completeness"].as_f64().unwrap();
    assert!(completeness < 0.9, "{v}");
    assert_eq!(card["ingestion"]["completeness"], v["completeness"]);
    let junit = String::from_utf8(read(&out, "junit.xml")).unwrap();
    assert!(
        junit.contains("errors=\"1\"") && junit.contains("<error message=\"invalid run\">"),
        "{junit}"
    );
    // `wardtwin score` says the same from the run folder.
    let o = wardtwin(&["score", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(3));
}

/// One hour of the scenario at `speed`, without lockstep, against a [`SlowSystem`] on a
/// mosquitto that queues at most 50 messages per client; the output and the run folder.
fn run_against_a_slow_system(dir: &Path, speed: &str) -> (std::process::Output, PathBuf) {
    let config = MosquittoConfig {
        max_queued: Some(50),
        ..MosquittoConfig::default()
    };
    let broker = Mosquitto::start(dir, config).expect("mosquitto");
    let system = SlowSystem::start(broker.port());
    let scenario = scenario(dir);
    let out = dir.join("run");
    let o = run_unchecked(
        scenario.to_str().unwrap(),
        &out,
        &[
            "--broker",
            &broker.url(),
            "--alerts-topic",
            "acme/alerts",
            "--echo-topic",
            "acme/ingested",
            "--duration",
            "1h",
            "--speed",
            speed,
        ],
    );
    system.stop();
    (o, out)
}

/// A system under test that takes 2 ms per telemetry message and echoes each one it ingested
/// on `acme/ingested`.
struct SlowSystem {
    client: Client,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl SlowSystem {
    fn start(port: u16) -> Self {
        use std::sync::atomic::Ordering;
        let mut o = MqttOptions::new("wtslowsut", "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut conn) = Client::new(o, 1000);
        let (ready_tx, ready_rx) = channel();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        let echo = client.clone();
        let thread = std::thread::spawn(move || {
            for ev in conn.iter() {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                match ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = echo.try_subscribe("dt/wardtwin/+/+/+/telemetry", QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        // The slowness under test, not a wait for an event.
                        std::thread::sleep(Duration::from_millis(2));
                        let v: Value = serde_json::from_slice(&p.payload).expect("telemetry");
                        let item = json!({"device": v["device"], "seq": v["seq"]});
                        let _ = echo.try_publish(
                            "acme/ingested",
                            QoS::AtLeastOnce,
                            false,
                            item.to_string(),
                        );
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("subscribed");
        Self {
            client,
            stop,
            thread,
        }
    }

    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.client.disconnect();
        let _ = self.thread.join();
    }
}

/// `--speed auto` paces the run to the same slow system's echo: nothing is discarded, it lags
/// well under what the scorer grades, and the run is valid (where `--speed max` was not).
#[test]
fn speed_auto_paces_a_slow_system_into_a_valid_run() {
    let tmp = temp_dir("sync-auto");
    let (o, out) = run_against_a_slow_system(tmp.path(), "auto");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("speed auto:"), "{stdout}");
    let card: Value = serde_json::from_slice(&read(&out, "scorecard.json")).unwrap();
    let v = &card["validity"];
    assert_eq!(v["valid"], json!(true), "{v}");
    assert_eq!(v["completeness"], json!(1.0), "{v}");
    assert!(v["lag_p99_ms"].as_i64().unwrap() <= 60_000, "{v}");
}

/// The clock and lockstep flags are refused, with a reason, where they cannot work.
#[test]
fn sync_flags_without_a_live_run_or_a_system_are_refused_with_the_reason() {
    let tmp = temp_dir("sync-flags");
    let out = tmp.path().join("run");
    for (args, expected) in [
        (&["--sync", "lockstep"][..], "need a live run"),
        (&["--clock-topic"][..], "need a live run"),
        (
            &["--live", "--sync", "lockstep"][..],
            "--sync lockstep needs a system under test",
        ),
        (
            &["--live", "--clock-topic", "--sync-interval", "0s"][..],
            "at least 1000 ms",
        ),
        (
            &["--live", "--alerts-topic", "a/b", "--speed", "auto"][..],
            "--speed auto paces the run",
        ),
    ] {
        let o = run_unchecked("quickstart", &out, args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
