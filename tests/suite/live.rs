//! Live runs against real brokers on loopback: the embedded one (rumqttd) and a mosquitto the
//! harness starts from a generated config. A subscriber counts what really arrived.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use rumqttc::{Client, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use wardtwin_exporters::mqtt::mosquitto::{Mosquitto, MosquittoConfig, TestPki};
use wardtwin_exporters::mqtt::publisher::tls_config;
use wardtwin_exporters::mqtt::{EmbeddedBroker, TlsFiles};
use wardtwin_exporters::wire::schemas::WireSchemas;

use super::support::{
    charted_rounds, read_manifest, read_parquet, run_scenario, temp_dir, time_values,
};

/// Starts `wardtwin run SCENARIO --quiet --out OUT ARGS…` in the background.
fn spawn_run(scenario: &str, out: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_wardtwin"))
        .args(["run", scenario, "--quiet"])
        .args(args)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wardtwin starts")
}

/// Waits for a background run; fails the test with its output if the run failed.
fn finish_run(child: Child) {
    let output = child.wait_with_output().expect("wardtwin ends");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Two wards (two gateways), a few beds each, every device kind.
fn small_scenario(dir: &Path, duration: &str) -> String {
    let text = format!(
        r#"[scenario]
name = "live-small"
description = "Two small wards for the live tests."
epoch = 2026-03-02T00:00:00Z
duration = "{duration}"
seed = 11
step = "1s"
truth_interval = "1m"

[site]
name = "Test Site"
utc_offset_hours = 0

[[ward]]
id = "W1"
name = "One"
beds = 3
beds_per_room = 3

[[ward]]
id = "W2"
name = "Two"
beds = 2
beds_per_room = 2

[population]
occupancy = 1.0
kit = "standard"
age = {{ mean = 68, sd = 15, min = 18, max = 98 }}
acuity = {{ low = 0.6, medium = 0.3, high = 0.1 }}
oxygen = 0.1
conditions = {{ copd = 0.08 }}

[kit.standard]
devices = [
  {{ kind = "ecg_patch", interval = "15s" }},
  {{ kind = "pulse_oximeter", interval = "15s" }},
  {{ kind = "temp_patch", interval = "2m" }},
  {{ kind = "bp_cuff", interval = "30m" }},
]

[artifacts]
motion_per_device_day = 4.0
probe_off_per_device_day = 4.0
motion_duration = "90s"
probe_off_duration = "5m"
"#
    );
    let path = dir.join("live-small.toml");
    std::fs::write(&path, text).expect("scenario written");
    path.to_str().expect("utf-8").to_string()
}

/// One received message.
#[derive(Debug, Clone)]
struct Received {
    topic: String,
    payload: Vec<u8>,
    /// The broker's redelivery flag (it resends to a subscriber whose PUBACK it did not see).
    dup: bool,
}

/// What has arrived so far, kept up to date message by message.
#[derive(Debug, Default)]
struct Arrived {
    all: Vec<Received>,
    /// Distinct telemetry (device, seq) seen.
    telemetry: HashSet<(String, u32)>,
    /// Telemetry messages, duplicates included.
    telemetry_messages: usize,
    /// Telemetry seen again without the broker's redelivery flag: the publisher sent it twice.
    republished: usize,
}

impl Arrived {
    fn push(&mut self, m: Received) {
        if m.topic.ends_with("/telemetry") {
            let v: serde_json::Value = serde_json::from_slice(&m.payload).expect("json");
            let device = v["device"].as_str().expect("device").to_string();
            let fresh = self
                .telemetry
                .insert((device, v["seq"].as_u64().expect("seq") as u32));
            self.republished += usize::from(!fresh && !m.dup);
            self.telemetry_messages += 1;
        }
        self.all.push(m);
    }
}

/// A subscriber on `dt/wardtwin/#` at QoS 1 with a persistent session, in its own thread.
/// It reconnects (and resubscribes if the broker lost the session) until dropped.
struct Subscriber {
    rx: Receiver<Received>,
    got: Arrived,
    _client: Client,
}

impl Subscriber {
    fn connect(port: u16, tls: Option<&TlsFiles>) -> Self {
        Self::connect_as(port, tls, None)
    }

    fn connect_as(port: u16, tls: Option<&TlsFiles>, user: Option<(&str, &str)>) -> Self {
        let mut opts = MqttOptions::new("wttestsub", "127.0.0.1", port);
        if let Some((u, p)) = user {
            opts.set_credentials(u, p);
        }
        opts.set_keep_alive(Duration::from_secs(30))
            .set_clean_session(false)
            .set_max_packet_size(1 << 20, 1 << 20)
            .set_inflight(1000);
        if let Some(files) = tls {
            let cfg = tls_config(files).expect("tls config");
            opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(cfg)));
        }
        let (client, mut conn) = Client::new(opts, 100);
        let (tx, rx) = channel();
        let (subscribed_tx, subscribed_rx) = channel();
        let sub = client.clone();
        std::thread::spawn(move || {
            for ev in conn.iter() {
                match ev {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        if !ack.session_present {
                            let _ = sub.try_subscribe("dt/wardtwin/#", QoS::AtLeastOnce);
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = subscribed_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let m = Received {
                            topic: p.topic.clone(),
                            payload: p.payload.to_vec(),
                            dup: p.dup,
                        };
                        if tx.send(m).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    // The broker is restarting: back off a little before the next attempt.
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        subscribed_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("subscribed");
        Self {
            rx,
            got: Arrived::default(),
            _client: client,
        }
    }

    /// Receives until `done(received so far)` holds; fails after `limit` of silence.
    fn until(&mut self, limit: Duration, done: impl Fn(&Arrived) -> bool) {
        while !done(&self.got) {
            match self.rx.recv_timeout(limit) {
                Ok(m) => self.got.push(m),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no message for {limit:?}; received {} so far",
                    self.got.all.len()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!("subscriber thread ended"),
            }
        }
    }
}

/// Per-device sequence numbers as they arrived, every payload checked against the schemas.
fn telemetry_by_device(got: &[Received]) -> BTreeMap<String, Vec<u32>> {
    let schemas = WireSchemas::load();
    let mut by_device: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for m in got {
        if let Err(e) = schemas.check(&m.payload) {
            panic!("{}: {e}\n{}", m.topic, String::from_utf8_lossy(&m.payload));
        }
        if !m.topic.ends_with("/telemetry") {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&m.payload).expect("json");
        let device = v["device"].as_str().expect("device").to_string();
        assert!(
            m.topic.contains(&format!("/{}/", device.to_lowercase())),
            "{} carries {device}",
            m.topic
        );
        by_device
            .entry(device)
            .or_default()
            .push(v["seq"].as_u64().expect("seq") as u32);
    }
    by_device
}

/// The run's telemetry ledger: (device, seq) → fate.
fn ledger(run: &Path) -> BTreeMap<(String, u32), String> {
    ledger_of(run, "telemetry")
}

/// The ledger of one kind of emission (`telemetry`, `status`): (device, seq) → fate.
fn ledger_of(run: &Path, kind: &str) -> BTreeMap<(String, u32), String> {
    let df = read_parquet(run.join("emissions.parquet"));
    let dev = df.column("device_id").unwrap().str().unwrap().clone();
    let kinds = df.column("kind").unwrap().str().unwrap().clone();
    let seq = df.column("seq").unwrap().u32().unwrap().clone();
    let fate = df.column("fate").unwrap().str().unwrap().clone();
    let sink = df.column("sink").unwrap().str().unwrap().clone();
    let mut out = BTreeMap::new();
    for i in 0..df.height() {
        if kinds.get(i) != Some(kind) {
            continue;
        }
        assert_eq!(sink.get(i), Some("mqtt"));
        let key = (dev.get(i).unwrap().to_string(), seq.get(i).unwrap());
        assert!(
            out.insert(key.clone(), fate.get(i).unwrap().to_string())
                .is_none(),
            "{key:?} twice in the ledger"
        );
    }
    out
}

fn telemetry_keys(run: &Path) -> HashSet<(String, u32)> {
    let df = read_parquet(run.join("telemetry.parquet"));
    let dev = df.column("device_id").unwrap().str().unwrap().clone();
    let seq = df.column("seq").unwrap().u32().unwrap().clone();
    (0..df.height())
        .map(|i| (dev.get(i).unwrap().to_string(), seq.get(i).unwrap()))
        .collect()
}

/// Every emission was published, arrived exactly once per device in order, and is
/// acknowledged in the ledger.
fn assert_complete_in_order(run: &Path, sub: &mut Subscriber, fate: &str) {
    let emitted = telemetry_keys(run);
    let book = ledger(run);
    assert_eq!(book.len(), emitted.len(), "a ledger row per emission");
    assert!(
        book.values().all(|f| f == fate),
        "fates: {:?}",
        book.values().collect::<HashSet<_>>()
    );
    let n = emitted.len();
    sub.until(Duration::from_secs(30), |got| got.telemetry_messages >= n);
    let by_device = telemetry_by_device(&sub.got.all);
    let mut received = HashSet::new();
    for (device, seqs) in &by_device {
        let expected: Vec<u32> = (0..seqs.len() as u32).collect();
        assert_eq!(seqs, &expected, "{device}: complete and in order");
        received.extend(seqs.iter().map(|s| (device.clone(), *s)));
    }
    assert_eq!(received, emitted);
    // Device status messages are emissions too: each recorded one has its ledger row with
    // the same fate, and reached the subscriber.
    let statuses = read_parquet(run.join("device_status.parquet"));
    let status_book = ledger_of(run, "status");
    assert!(statuses.height() > 0, "devices send status messages");
    assert_eq!(
        status_book.len(),
        statuses.height(),
        "a ledger row per status"
    );
    assert!(status_book.values().all(|f| f == fate), "{status_book:?}");
    let is_device_status = |m: &Received| m.topic.ends_with("/status") && !m.topic.contains("/gw-");
    let n = statuses.height();
    sub.until(Duration::from_secs(30), |got| {
        got.all.iter().filter(|m| is_device_status(m)).count() >= n
    });
    assert_eq!(
        sub.got.all.iter().filter(|m| is_device_status(m)).count(),
        n,
        "every status message arrived once"
    );
}

#[test]
fn embedded_broker_delivers_every_message_complete_in_order_and_valid() {
    let dir = temp_dir("live-embedded");
    let scenario = small_scenario(dir.path(), "2h");
    let broker = EmbeddedBroker::start(None).expect("embedded broker");
    let mut sub = Subscriber::connect(broker.addr().port(), None);
    let out = dir.path().join("run");
    let url = broker.url();
    run_scenario(&scenario, &out, &["--broker", &url, "--speed", "max"]);
    assert_complete_in_order(&out, &mut sub, "acknowledged");
    // Two wards: two gateway connections, each announced online (retained).
    let m = read_manifest(&out);
    assert_eq!(m["live"]["connections"], 2);
    assert_eq!(m["live"]["qos"], 1);
    sub.until(Duration::from_secs(10), |got| {
        got.all
            .iter()
            .filter(|g| g.topic.contains("/gw-w") && g.payload.windows(8).any(|w| w == b"shutdown"))
            .count()
            == 2
    });
}

#[test]
fn live_flag_starts_an_embedded_broker_and_prints_a_url_a_user_can_subscribe_to() {
    let dir = temp_dir("live-flag");
    let scenario = small_scenario(dir.path(), "2h");
    let out = dir.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wardtwin"))
        .args(["run", &scenario, "--live", "--speed", "600", "--quiet"])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wardtwin starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let url = first
        .strip_prefix("broker: mqtt://")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("first line names the broker: {first}"));
    let port: u16 = url.rsplit(':').next().unwrap().parse().expect("port");
    assert!(url.starts_with("127.0.0.1:"), "loopback: {url}");
    let mut sub = Subscriber::connect(port, None);
    // The retained gateway status is there for a late subscriber, and telemetry flows.
    sub.until(Duration::from_secs(30), |got| {
        got.all.iter().any(|m| m.topic.ends_with("gw-w1/status")) && got.telemetry_messages >= 20
    });
    let by_device = telemetry_by_device(&sub.got.all);
    for (device, seqs) in by_device {
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "{device}: consecutive after subscribing: {seqs:?}"
        );
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(child.wait().expect("exit").success(), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("lateness")), "{rest:?}");
    let m = read_manifest(&out);
    assert_eq!(m["live"]["embedded"], true);
    assert!(m["live"]["lateness_p99_ms"].as_f64().is_some());
}

fn mosquitto_dir(name: &str) -> tempfile::TempDir {
    temp_dir(&format!("mosquitto-{name}"))
}

#[test]
fn mosquitto_receives_every_message_complete_in_order_and_valid_at_qos1() {
    let dir = mosquitto_dir("qos1");
    let broker = Mosquitto::start(dir.path(), MosquittoConfig::default()).expect("mosquitto");
    let mut sub = Subscriber::connect(broker.port(), None);
    let scenario = small_scenario(dir.path(), "3h");
    let out = dir.path().join("run");
    run_scenario(
        &scenario,
        &out,
        &["--broker", &broker.url(), "--speed", "max"],
    );
    assert_complete_in_order(&out, &mut sub, "acknowledged");
}

#[test]
fn per_device_connections_at_qos0_are_recorded_as_sent() {
    let dir = mosquitto_dir("qos0");
    let broker = Mosquitto::start(dir.path(), MosquittoConfig::default()).expect("mosquitto");
    let mut sub = Subscriber::connect(broker.port(), None);
    let scenario = small_scenario(dir.path(), "1h");
    let out = dir.path().join("run");
    let url = broker.url();
    let args = [
        "--broker",
        &url,
        "--speed",
        "max",
        "--qos",
        "0",
        "--connection",
        "per-device",
    ];
    run_scenario(&scenario, &out, &args);
    let m = read_manifest(&out);
    assert_eq!(
        m["live"]["connections"], 22,
        "5 beds x 4 devices, and each ward gateway's own status device"
    );
    assert_eq!(m["live"]["connection"], "per-device");
    // QoS 0 on loopback with no fault: nothing is lost, but the ledger can only say `sent`.
    assert_complete_in_order(&out, &mut sub, "sent");
}

/// Runs 3 h of the small scenario at 900x (12 s of wall time) against `broker`, and `restart`s
/// it once the subscriber has seen 300 messages (an event, not a time); telemetry must keep
/// coming after it, proof that it landed mid-run. Returns the run folder.
fn run_through_a_restart(
    dir: &Path,
    broker: &mut Mosquitto,
    sub: &mut Subscriber,
    restart: impl FnOnce(&mut Mosquitto) -> std::io::Result<()>,
) -> std::path::PathBuf {
    let scenario = small_scenario(dir, "3h");
    let out = dir.join("run");
    let child = spawn_run(
        &scenario,
        &out,
        &["--speed", "900", "--broker", &broker.url()],
    );
    sub.until(Duration::from_secs(30), |got| got.telemetry_messages >= 300);
    restart(broker).expect("mosquitto restarts");
    let again = sub.got.telemetry_messages;
    sub.until(Duration::from_secs(30), |got| {
        got.telemetry_messages >= again + 200
    });
    finish_run(child);
    out
}

/// After a run whose broker restarted: both gateways reconnected, every emission is
/// acknowledged in the end, and every acknowledged one reaches the subscriber (or the test
/// fails after 30 s of silence). Returns the acknowledged (device, seq).
fn survived_a_restart(out: &Path, sub: &mut Subscriber) -> HashSet<(String, u32)> {
    let live = read_manifest(out)["live"].clone();
    assert!(
        live["reconnects"].as_u64().unwrap() >= 2,
        "both gateways reconnected: {live}"
    );
    let book = ledger(out);
    let acked: HashSet<(String, u32)> = book
        .iter()
        .filter(|(_, f)| *f == "acknowledged")
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(
        acked.len(),
        book.len(),
        "everything acknowledged in the end: {live}"
    );
    sub.until(Duration::from_secs(30), |got| {
        acked.is_subset(&got.telemetry)
    });
    acked
}

#[test]
fn a_mosquitto_restart_mid_run_loses_nothing_that_was_recorded_as_delivered() {
    let dir = mosquitto_dir("restart");
    let config = MosquittoConfig {
        persistence: true,
        ..MosquittoConfig::default()
    };
    let mut broker = Mosquitto::start(dir.path(), config).expect("mosquitto");
    let mut sub = Subscriber::connect(broker.port(), None);
    let out = run_through_a_restart(dir.path(), &mut broker, &mut sub, Mosquitto::restart);
    survived_a_restart(&out, &mut sub);
    // In order per device, duplicates (resends after the restart) aside.
    for (device, seqs) in telemetry_by_device(&sub.got.all) {
        let mut firsts = Vec::new();
        let mut seen = HashSet::new();
        for s in seqs {
            if seen.insert(s) {
                firsts.push(s);
            }
        }
        let expected: Vec<u32> = (0..firsts.len() as u32).collect();
        assert_eq!(firsts, expected, "{device}");
    }
}

#[test]
fn tls_with_a_client_certificate_is_required_and_works() {
    let dir = mosquitto_dir("tls");
    let pki = TestPki::generate(dir.path()).expect("openssl makes a test PKI");
    let config = MosquittoConfig {
        tls: Some(pki.clone()),
        ..MosquittoConfig::default()
    };
    let broker = Mosquitto::start(dir.path(), config).expect("mosquitto with TLS");
    let files = TlsFiles {
        ca: Some(pki.ca.clone()),
        cert: Some(pki.client_cert.clone()),
        key: Some(pki.client_key.clone()),
    };
    let mut sub = Subscriber::connect(broker.port(), Some(&files));
    let scenario = small_scenario(dir.path(), "1h");
    let url = broker.url();
    assert!(url.starts_with("mqtts://"));
    let ca = pki.ca.to_str().unwrap();

    // Without a client certificate the broker refuses us, and the run says so.
    let refused = super::support::wardtwin(&[
        "run",
        &scenario,
        "--quiet",
        "--out",
        dir.path().join("refused").to_str().unwrap(),
        "--broker",
        &url,
        "--ca",
        ca,
        "--speed",
        "max",
    ]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains(&format!("cannot connect to {url}")), "{err}");

    let out = dir.path().join("run");
    let args = [
        "--broker",
        &url,
        "--ca",
        ca,
        "--cert",
        pki.client_cert.to_str().unwrap(),
        "--key",
        pki.client_key.to_str().unwrap(),
        "--speed",
        "max",
    ];
    run_scenario(&scenario, &out, &args);
    assert_complete_in_order(&out, &mut sub, "acknowledged");
}

#[test]
fn an_unreachable_broker_fails_fast_with_the_url_and_no_secret_in_the_output() {
    let dir = temp_dir("live-unreachable");
    let scenario = small_scenario(dir.path(), "1h");
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let o = Command::new(env!("CARGO_BIN_EXE_wardtwin"))
        .args(["run", &scenario, "--quiet", "--broker", &url])
        .arg("--out")
        .arg(dir.path().join("run"))
        .env("WARDTWIN_MQTT_USERNAME", "gateway")
        .env("WARDTWIN_MQTT_PASSWORD", "hunter2-secret")
        .output()
        .expect("runs");
    assert!(!o.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(all.contains(&format!("cannot connect to {url}")), "{all}");
    assert!(!all.contains("hunter2"), "{all}");
    // Credentials in the URL are refused outright.
    let o = super::support::wardtwin(&[
        "run",
        &scenario,
        "--broker",
        "mqtt://gateway:hunter2@127.0.0.1:1883",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("must not carry credentials"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn a_broker_that_stays_down_fills_the_spool_and_every_emission_still_gets_a_fate() {
    let dir = mosquitto_dir("outage");
    let mut broker = Mosquitto::start(dir.path(), MosquittoConfig::default()).expect("mosquitto");
    let mut sub = Subscriber::connect(broker.port(), None);
    let scenario = small_scenario(dir.path(), "3h");
    let out = dir.path().join("run");
    let url = broker.url();
    let args = [
        "--speed",
        "1800",
        "--broker",
        &url,
        "--spool-limit",
        "1000",
        "--drain-timeout",
        "1s",
        // An alert collector too: once the run is over it gives up on the gone broker (it
        // used to retry it for ever, and the run never ended).
        "--alerts-topic",
        "sut/alerts",
        "--alerts-grace",
        "1s",
    ];
    let child = spawn_run(&scenario, &out, &args);
    sub.until(Duration::from_secs(30), |got| got.telemetry_messages >= 300);
    broker.stop().expect("mosquitto stops");
    // The run goes on without a broker and ends on time (no hang on a full spool, nor in the
    // collector). Hardening issue: it used to exit 0; a run that lost telemetry says so and
    // exits 3.
    let output = child.wait_with_output().expect("wardtwin ends");
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{err}");
    assert!(err.contains("WARNING: delivery fell short"), "{err}");
    assert!(err.contains("--allow-loss"), "{err}");
    let book = ledger(&out);
    assert_eq!(
        book.keys().cloned().collect::<HashSet<_>>(),
        telemetry_keys(&out),
        "every emission has exactly one fate"
    );
    let count = |f: &str| book.values().filter(|v| *v == f).count() as u64;
    let live = &read_manifest(&out)["live"];
    assert!(count("dropped") > 0, "{live}");
    // What really arrived was never recorded as lost: a message written just before the broker
    // died may lack its PUBACK (`unacknowledged`), but it is never `dropped` or `unsent`.
    for key in &sub.got.telemetry {
        let fate = book[key].as_str();
        assert!(
            fate == "acknowledged" || fate == "unacknowledged",
            "{key:?} arrived but is recorded as {fate}"
        );
    }
    assert!(
        count("acknowledged") + count("unacknowledged") >= 300,
        "{live}"
    );
    assert_eq!(live["dropped"].as_u64(), Some(count("dropped")));
    assert_eq!(live["acknowledged"].as_u64(), Some(count("acknowledged")));
    // Dropped are the oldest spooled: per device, nothing acknowledged comes after a drop
    // (the broker never came back).
    let mut last_acked: BTreeMap<&str, u32> = BTreeMap::new();
    let mut first_dropped: BTreeMap<&str, u32> = BTreeMap::new();
    for ((d, s), f) in &book {
        if f == "acknowledged" {
            let e = last_acked.entry(d).or_insert(*s);
            *e = (*e).max(*s);
        } else if f == "dropped" {
            let e = first_dropped.entry(d).or_insert(*s);
            *e = (*e).min(*s);
        }
    }
    for (d, dropped) in first_dropped {
        if let Some(acked) = last_acked.get(d) {
            assert!(
                *acked < dropped,
                "{d}: acked {acked} after dropped {dropped}"
            );
        }
    }
}

#[test]
fn credentials_from_the_environment_or_a_file_open_a_broker_that_refuses_anonymous() {
    let dir = mosquitto_dir("auth");
    let config = MosquittoConfig {
        user: Some(("ward-gw".into(), "s3cret-pass".into())),
        ..MosquittoConfig::default()
    };
    let broker = Mosquitto::start(dir.path(), config).expect("mosquitto with a password file");
    let mut sub = Subscriber::connect_as(broker.port(), None, Some(("ward-gw", "s3cret-pass")));
    let scenario = small_scenario(dir.path(), "30m");
    let url = broker.url();
    let run = |out: &str, envs: &[(&str, &str)], extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wardtwin"));
        c.args([
            "run", &scenario, "--quiet", "--speed", "max", "--broker", &url,
        ])
        .args(extra)
        .arg("--out")
        .arg(dir.path().join(out))
        .env_remove("WARDTWIN_MQTT_USERNAME")
        .env_remove("WARDTWIN_MQTT_PASSWORD");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().expect("runs")
    };
    // Anonymous: refused, and the run says where.
    let o = run("anon", &[], &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("cannot connect to {url}")), "{err}");
    // From the environment.
    let o = run(
        "env",
        &[
            ("WARDTWIN_MQTT_USERNAME", "ward-gw"),
            ("WARDTWIN_MQTT_PASSWORD", "s3cret-pass"),
        ],
        &[],
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{all}");
    assert!(!all.contains("s3cret"), "the password never shows: {all}");
    assert!(
        !std::fs::read_to_string(dir.path().join("env/manifest.json"))
            .unwrap()
            .contains("s3cret")
    );
    assert_complete_in_order(&dir.path().join("env"), &mut sub, "acknowledged");
    // From a file; a wrong password is refused.
    let creds = dir.path().join("creds");
    std::fs::write(&creds, "ward-gw\nwrong\n").unwrap();
    let o = run("wrong", &[], &["--credentials", creds.to_str().unwrap()]);
    assert!(!o.status.success());
    std::fs::write(&creds, "ward-gw\ns3cret-pass\n").unwrap();
    let o = run("file", &[], &["--credentials", creds.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_gateway_that_dies_is_announced_by_its_will() {
    let dir = mosquitto_dir("will");
    let broker = Mosquitto::start(dir.path(), MosquittoConfig::default()).expect("mosquitto");
    let mut sub = Subscriber::connect(broker.port(), None);
    let scenario = small_scenario(dir.path(), "3h");
    let out = dir.path().join("run");
    let mut child = spawn_run(
        &scenario,
        &out,
        &["--speed", "600", "--broker", &broker.url()],
    );
    sub.until(Duration::from_secs(30), |got| got.telemetry_messages >= 50);
    // The gateways' process dies without a goodbye (power cut): the broker publishes the wills.
    child.kill().expect("killed");
    child.wait().expect("reaped");
    let schemas = WireSchemas::load();
    sub.until(Duration::from_secs(30), |got| {
        got.all
            .iter()
            .filter(|m| m.topic.contains("/gw-w") && m.topic.ends_with("/status"))
            .filter(|m| {
                let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                v["state"] == "offline" && v["reason"] == "connection_lost"
            })
            .count()
            == 2
    });
    for m in &sub.got.all {
        schemas.check(&m.payload).unwrap();
    }
}

/// An uplink outage on ward W1's gateway: its data waits in the gateway's spool and reaches
/// the broker when the uplink is back, complete and in order; the ledger says when each
/// message was forwarded. Nothing the model buffered is lost.
#[test]
fn an_uplink_outage_delays_a_wards_data_and_loses_none_of_it() {
    let dir = temp_dir("live-outage");
    let scenario = small_scenario(dir.path(), "1h");
    let mut text = std::fs::read_to_string(&scenario).unwrap();
    text.push_str(
        "\n[[event]]\nat = \"20m\"\nward = \"W1\"\nkind = \"uplink_outage\"\nduration = \"10m\"\n",
    );
    std::fs::write(&scenario, text).unwrap();
    let broker = EmbeddedBroker::start(None).expect("embedded broker");
    let mut sub = Subscriber::connect(broker.addr().port(), None);
    let out = dir.path().join("run");
    let url = broker.url();
    // The model's spool alone (the fault proxy would also cut the live connection, whose
    // resends may arrive twice: tests/suite/drills.rs).
    run_scenario(
        &scenario,
        &out,
        &["--broker", &url, "--speed", "max", "--fault-proxy", "off"],
    );
    assert_complete_in_order(&out, &mut sub, "acknowledged");
    let df = read_parquet(out.join("emissions.parquet"));
    let dev = df.column("device_id").unwrap().str().unwrap().clone();
    let kind = df.column("kind").unwrap().str().unwrap().clone();
    let sim = time_values(&df, "sim_time");
    let fwd = time_values(&df, "forwarded_time");
    let epoch = wardtwin_sim::time::parse_iso_ms("2026-03-02T00:00:00.000Z").unwrap();
    let (start, end) = (epoch + 20 * 60_000, epoch + 30 * 60_000);
    let mut held = 0;
    // Telemetry (a status about an event goes out at the event: the gateway spools readings).
    for i in (0..df.height()).filter(|i| kind.get(*i) == Some("telemetry")) {
        let (d, t, f) = (dev.get(i).unwrap(), sim[i].unwrap(), fwd[i].unwrap());
        let w1 = d.contains("W1");
        if w1 && (start..end).contains(&t) {
            held += 1;
            assert!(
                f >= end,
                "{d} at {t} forwarded at {f}, before the uplink came back"
            );
        } else if !w1 || t > end + 10_000 {
            assert_eq!(f, t, "{d} at {t}: not held");
        }
    }
    assert!(held > 100, "W1's 10 minutes were held: {held}");
}

/// Hardening issue, kept found: mosquitto SIGKILLed mid-run and restarted on the same port
/// (persistence on). No message the ledger records as acknowledged is missing at the
/// subscriber, and the duplicates it saw are resends the ledger counted.
#[test]
fn hardening_broker_sigkill_loses_no_acknowledged_message_and_duplicates_are_resends() {
    let dir = mosquitto_dir("sigkill");
    let config = MosquittoConfig {
        persistence: true,
        ..MosquittoConfig::default()
    };
    let mut broker = Mosquitto::start(dir.path(), config).expect("mosquitto");
    let mut sub = Subscriber::connect(broker.port(), None);
    // The subscriber's session is on disk: it outlives the kill, and the broker queues for it
    // what the twin publishes before it is back.
    broker.save().expect("mosquitto saves");
    let out = run_through_a_restart(
        dir.path(),
        &mut broker,
        &mut sub,
        Mosquitto::kill_and_restart,
    );
    let acked = survived_a_restart(&out, &mut sub);
    let m = read_manifest(&out);
    let live = &m["live"];
    let missing = acked.difference(&sub.got.telemetry).count();
    let duplicates = sub.got.telemetry_messages - sub.got.telemetry.len();
    let republished = sub.got.republished;
    let resent = live["resent"].as_u64().unwrap() as usize;
    eprintln!(
        "broker SIGKILL: {} acknowledged, {missing} missing at the subscriber, {duplicates} duplicates \
         ({republished} published twice, the rest redelivered by the broker), {resent} resent, {} reconnects",
        acked.len(),
        live["reconnects"]
    );
    assert_eq!(missing, 0);
    // Duplicates that the broker did not flag as its own redelivery came from the twin: each
    // is one of the resends the ledger counts.
    assert!(
        republished <= resent,
        "{republished} published twice but {resent} resends: {live}"
    );
}

/// Publishes `payloads` on `topic` at QoS 1 and waits for every PUBACK.
fn publish_all(port: u16, id: &str, topic: &str, payloads: &[Vec<u8>]) {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(8 << 20, 8 << 20);
    let (client, mut conn) = Client::new(o, payloads.len() + 8);
    for p in payloads {
        client
            .publish(topic, QoS::AtLeastOnce, false, p.clone())
            .expect("queued");
    }
    let mut acked = 0;
    for ev in conn.iter() {
        match ev {
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                acked += 1;
                if acked == payloads.len() {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => panic!("publishing alerts: {e}"),
        }
    }
    let _ = client.disconnect();
}

/// Hardening issue: an alert over 1 MiB dropped the collector's connection, was neither logged
/// nor counted, and every alert published during the reconnect was lost. Now: an oversize alert
/// is counted as rejected (`oversize`), the valid alerts right after it arrive, garbage is
/// counted, and alerts published while the collector reconnects after a broker restart are
/// held by its persistent session and arrive too.
#[test]
fn hardening_oversize_and_garbage_alerts_are_counted_and_nothing_is_lost_on_reconnect() {
    let dir = mosquitto_dir("alert-abuse");
    let config = MosquittoConfig {
        persistence: true,
        ..MosquittoConfig::default()
    };
    let mut broker = Mosquitto::start(dir.path(), config).expect("mosquitto");
    let scenario = small_scenario(dir.path(), "2h");
    let out = dir.path().join("run");
    let url = broker.url();
    let mut child = spawn_run(
        &scenario,
        &out,
        &[
            "--speed",
            "600",
            "--broker",
            &url,
            "--alerts-topic",
            "acme/alerts",
        ],
    );
    // The collector says when it is subscribed, then the publisher when it is connected: the
    // restart below must not race the first connection (which fails fast by design).
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in stdout.by_ref() {
        if line.expect("stdout").starts_with("publishing:") {
            break;
        }
    }
    let alert = |n: usize| {
        format!(
            r#"{{"v":1,"type":"alert","alert_id":"a-{n}","subject":"W1-01","class":"deterioration","priority":"high","began":"2026-03-02T00:10:00.000Z"}}"#
        )
        .into_bytes()
    };
    let mut first: Vec<Vec<u8>> = vec![vec![b'x'; 2 << 20]];
    first.extend((0..3).map(alert));
    first.extend((0..20).map(|i| vec![0xFF, 0x00, i as u8, b'{']));
    publish_all(broker.port(), "wtabuse1", "acme/alerts", &first);
    broker.restart().expect("mosquitto restarts");
    // Right after the restart, before the collector is back (it backs off): held for it.
    publish_all(
        broker.port(),
        "wtabuse2",
        "acme/alerts",
        &(3..6).map(alert).collect::<Vec<_>>(),
    );
    let rest: Vec<String> = stdout.map_while(Result::ok).collect();
    let output = child.wait_with_output().expect("wardtwin ends");
    assert!(
        output.status.code() == Some(0),
        "{}\n{}",
        rest.join("\n"),
        String::from_utf8_lossy(&output.stderr)
    );
    // At least once: a message the collector had not acknowledged when the broker went down
    // may come again after the restart (QoS 1), never not at all.
    let log = std::fs::read_to_string(out.join("alerts.jsonl")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines.len() >= 27,
        "every alert logged:\n{}",
        &log[..log.len().min(2000)]
    );
    assert!(lines[0].contains("\"oversize\":2097152"), "{}", lines[0]);
    let ids: std::collections::BTreeSet<String> = lines
        .iter()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            let p: serde_json::Value = serde_json::from_str(v["payload"].as_str()?).ok()?;
            Some(p["alert_id"].as_str()?.to_string())
        })
        .collect();
    assert_eq!(ids.len(), 6, "{ids:?}");
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("scorecard.json")).unwrap())
            .unwrap();
    let intake = &card["intake"];
    assert_eq!(
        intake["received"].as_u64(),
        Some(lines.len() as u64),
        "{intake}"
    );
    assert!(intake["oversize"].as_u64() >= Some(1), "{intake}");
    assert!(intake["malformed"].as_u64() >= Some(20), "{intake}");
    assert!(intake["scored"].as_u64() >= Some(6), "{intake}");
    eprintln!(
        "alert abuse: {} lines logged for 27 published; intake {intake}",
        lines.len()
    );
}

/// The broker-restart drill through mosquitto and the fault proxy, with the reference stack
/// as the system under test (behind the proxy too): at 03:00 the proxy drops every
/// connection. The twin's gateways are announced offline by their wills and online again,
/// the twin republishes its retained site map, every emission still has one fate and arrives
/// (a resend may arrive twice: only those the ledger counted as resent), and the system,
/// which reconnects on its own, still detects the sepsis and the outage.
#[test]
fn the_fault_proxy_cuts_the_live_transport_which_reconnects_and_accounts_for_every_fate() {
    let dir = mosquitto_dir("proxy");
    let broker = Mosquitto::start(dir.path(), MosquittoConfig::default()).expect("mosquitto");
    let mut sub = Subscriber::connect(broker.port(), None);
    let out = dir.path().join("run");
    let o = super::support::drill_with_news2("drill-broker-restart", &out, &broker.url());
    let stdout = String::from_utf8_lossy(&o.stdout);
    let m = read_manifest(&out);
    let proxy = &m["live"]["fault_proxy"];
    assert_eq!(proxy["cuts"], 1, "{proxy}");
    // Two gateways, the twin's own connection and the reference stack.
    assert!(proxy["connections_cut"].as_u64().unwrap() >= 4, "{proxy}");
    assert!(
        m["live"]["reconnects"].as_u64().unwrap() >= 3,
        "{}",
        m["live"]
    );

    // Every emission has one fate, acknowledged; each arrived, and anything that arrived
    // twice without the broker's redelivery flag was a resend.
    let book = ledger(&out);
    assert_eq!(book.len(), telemetry_keys(&out).len());
    assert!(book.values().all(|f| f == "acknowledged"), "{book:?}");
    let n = book.len();
    sub.until(Duration::from_secs(30), |got| got.telemetry.len() >= n);
    let resent = m["live"]["resent"].as_u64().unwrap() as usize;
    assert!(
        sub.got.republished <= resent,
        "{} republished, {resent} resent",
        sub.got.republished
    );

    // Each gateway's will, then its return; the site map said again after the reconnect.
    let status = |m: &Received| -> Option<(String, String)> {
        if !(m.topic.contains("/gw-w") && m.topic.ends_with("/status")) {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&m.payload).ok()?;
        Some((m.topic.clone(), format!("{}/{}", v["state"], v["reason"])))
    };
    sub.until(Duration::from_secs(30), |got| {
        got.all.iter().filter_map(status).count() >= 6
    });
    for gw in ["gw-w1", "gw-w2"] {
        let seen: Vec<String> = sub
            .got
            .all
            .iter()
            .filter_map(status)
            .filter(|(t, _)| t.contains(gw))
            .map(|(_, s)| s)
            .collect();
        let lost = seen
            .iter()
            .position(|s| s == "\"offline\"/\"connection_lost\"")
            .unwrap_or_else(|| panic!("{gw}: no will in {seen:?}"));
        assert!(
            seen[lost..].iter().any(|s| s == "\"online\"/\"connected\""),
            "{gw} back online after its will: {seen:?}"
        );
    }
    let maps = sub
        .got
        .all
        .iter()
        .filter(|m| m.topic.ends_with("/site/map"))
        .count();
    assert!(maps >= 2, "the site map again after the restart: {maps}");

    // The drill section: every device, nothing lost, detected; and the run's gates passed.
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("scorecard.json")).unwrap()).unwrap();
    let fault = &card["drill"]["faults"][0];
    assert_eq!(fault["kind"], "broker_restart");
    assert_eq!(fault["devices"], m["devices"]);
    assert_eq!(fault["backfill_completeness"], 1.0);
    assert!(fault["time_to_detect_ms"].as_i64().is_some(), "{fault}");
    assert!(
        stdout.contains("fault proxy   1 link cut(s) began"),
        "{stdout}"
    );
    // What the section counts is what the ledger says (read back with polars): telemetry
    // measured in the window, all of it late (spooled through the restart).
    let (start, end) = (
        fault["start_ms"].as_i64().unwrap(),
        fault["end_ms"].as_i64().unwrap(),
    );
    let em = read_parquet(out.join("emissions.parquet"));
    let kind = em.column("kind").unwrap().str().unwrap().clone();
    let sim = time_values(&em, "sim_time");
    let fwd = time_values(&em, "forwarded_time");
    let in_window: Vec<usize> = (0..em.height())
        .filter(|&i| kind.get(i) == Some("telemetry"))
        .filter(|&i| (start..end).contains(&sim[i].unwrap()))
        .collect();
    assert_eq!(
        fault["produced"].as_u64().unwrap() as usize,
        in_window.len()
    );
    let late = in_window.iter().filter(|&&i| fwd[i] > sim[i]).count();
    assert_eq!(fault["late"].as_u64().unwrap() as usize, late);
    assert_eq!(late, in_window.len(), "the gateways spooled through it");
    // Offline, the same scorecard byte for byte.
    let before = std::fs::read(out.join("scorecard.json")).unwrap();
    let o = super::support::wardtwin(&["score", out.to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(std::fs::read(out.join("scorecard.json")).unwrap(), before);
}

/// `--fhir-topic`: each reading of an exported metric also goes out as a FHIR transaction
/// Bundle on its device's `…/fhir` topic, once, with its own fate in the ledger; the bundles
/// are valid R4 (FHIR.js) and their entries are conditional creates on the readings'
/// identifiers.
#[test]
fn fhir_topic_sends_each_reading_as_a_transaction_bundle_with_its_own_fate() {
    let dir = mosquitto_dir("fhir");
    let broker = Mosquitto::start(dir.path(), MosquittoConfig::default()).expect("mosquitto");
    let mut sub = Subscriber::connect(broker.port(), None);
    let scenario = small_scenario(dir.path(), "1h");
    let out = dir.path().join("run");
    run_scenario(
        &scenario,
        &out,
        &["--broker", &broker.url(), "--speed", "max", "--fhir-topic"],
    );
    // The readings with a metric the FHIR export carries (not RTLS, not gateway metrics).
    let df = read_parquet(out.join("telemetry.parquet"));
    let dev = df.column("device_id").unwrap().str().unwrap().clone();
    let seq = df.column("seq").unwrap().u32().unwrap().clone();
    let metric = df.column("metric").unwrap().str().unwrap().clone();
    let expected: HashSet<(String, u32)> = (0..df.height())
        .filter(|&i| super::fhir::EXPORTED.contains(&metric.get(i).unwrap()))
        .map(|i| (dev.get(i).unwrap().to_string(), seq.get(i).unwrap()))
        .collect();
    assert!(expected.len() > 100, "{}", expected.len());
    let book = ledger_of(&out, "fhir");
    assert_eq!(
        book.keys().cloned().collect::<HashSet<_>>(),
        expected,
        "one FHIR copy per reading"
    );
    assert!(book.values().all(|f| f == "acknowledged"));
    let live = &read_manifest(&out)["live"];
    assert_eq!(
        live["fhir_messages"].as_u64(),
        Some(book.len() as u64),
        "{live}"
    );
    assert_eq!(live["fhir_lost"].as_u64(), Some(0), "{live}");

    let reading_bundle =
        |m: &&Received| m.topic.ends_with("/fhir") && !m.topic.ends_with("/chart/fhir");
    let fhir = |got: &Arrived| got.all.iter().filter(reading_bundle).count();
    sub.until(Duration::from_secs(30), |got| fhir(got) >= book.len());
    let mut seen = HashSet::new();
    let mut sample = Vec::new();
    for m in sub.got.all.iter().filter(reading_bundle) {
        let b: serde_json::Value = serde_json::from_slice(&m.payload).expect("JSON");
        assert_eq!(b["resourceType"], "Bundle");
        assert_eq!(b["type"], "transaction");
        let device = m.topic.rsplit('/').nth(1).expect("device").to_string();
        for e in b["entry"].as_array().expect("entries") {
            let ident = e["resource"]["identifier"][0]["value"]
                .as_str()
                .expect("id");
            // The topic carries the device's slug.
            assert!(
                ident.to_lowercase().starts_with(&format!("{device}/")),
                "{ident} on {}",
                m.topic
            );
            assert_eq!(e["request"]["method"], "POST");
            assert_eq!(e["request"]["url"], "Observation");
            assert_eq!(
                e["request"]["ifNoneExist"],
                format!("identifier=urn:wardtwin:emission|{ident}").as_str()
            );
            let mut parts = ident.split('/');
            let id = parts.next().expect("device").to_string();
            let seq: u32 = parts.next().expect("seq").parse().expect("seq");
            seen.insert((id, seq));
        }
        if sample.len() < 300 {
            sample.push(b.to_string());
        }
    }
    assert_eq!(seen, expected, "every copy arrived");
    let path = dir.path().join("bundles.ndjson");
    std::fs::write(&path, sample.join("\n")).expect("write");
    let r = super::fhir::validate(&[&path]);
    assert_eq!(r["invalid"], serde_json::json!([]), "{r}");
    assert_eq!(r["checked"]["Bundle"].as_u64(), Some(sample.len() as u64));
}

/// With `--fhir-topic`, every round the nurses charted goes out once as a transaction Bundle on
/// its ward's chart topic, with the values charted.parquet says were charted; a missed round
/// sends nothing; the clock counts the rounds (a lock-stepped system waits for them), the
/// manifest reports them, and the independent validator accepts every one.
#[test]
fn the_charts_rounds_go_out_as_fhir_bundles_counted_by_the_clock() {
    let dir = mosquitto_dir("chart");
    let broker = Mosquitto::start(dir.path(), MosquittoConfig::default()).expect("mosquitto");
    let mut sub = Subscriber::connect(broker.port(), None);
    let scenario = small_scenario(dir.path(), "6h");
    let out = dir.path().join("run");
    run_scenario(
        &scenario,
        &out,
        &[
            "--broker",
            &broker.url(),
            "--speed",
            "max",
            "--fhir-topic",
            "--sync",
            "clock",
            "--sync-interval",
            "1m",
        ],
    );
    let charted = charted_rounds(&out);
    assert!(charted.len() >= 3, "{} rounds charted", charted.len());
    let live = &read_manifest(&out)["live"];
    assert_eq!(
        live["chart_messages"].as_u64(),
        Some(charted.len() as u64),
        "{live}"
    );
    assert_eq!(live["chart_lost"].as_u64(), Some(0), "{live}");

    let on_chart = |got: &Arrived| {
        got.all
            .iter()
            .filter(|m| m.topic.ends_with("/chart/fhir"))
            .count()
    };
    sub.until(Duration::from_secs(30), |got| {
        on_chart(got) >= charted.len()
    });
    let mut seen = BTreeMap::new();
    let mut bundles = Vec::new();
    for m in sub
        .got
        .all
        .iter()
        .filter(|m| m.topic.ends_with("/chart/fhir"))
    {
        let ward = m.topic.split('/').nth(3).expect("ward");
        let b: serde_json::Value = serde_json::from_slice(&m.payload).expect("JSON");
        assert_eq!(b["type"], "transaction");
        let entries = b["entry"].as_array().expect("entries");
        assert_eq!(entries.len(), 9, "{b}");
        let o = &entries[0]["resource"];
        let p = o["subject"]["identifier"]["value"]
            .as_str()
            .expect("patient")
            .to_string();
        assert!(p.to_lowercase().contains(ward), "{p} on {}", m.topic);
        let t = wardtwin_sim::time::parse_iso_ms(o["effectiveDateTime"].as_str().unwrap()).unwrap();
        let value = |code: &str| {
            entries
                .iter()
                .map(|e| &e["resource"])
                .find(|r| r["code"]["coding"][0]["code"] == code)
                .unwrap_or_else(|| panic!("no {code} in {b}"))
                .clone()
        };
        let pulse = value("8867-4")["valueQuantity"]["value"].as_f64().unwrap();
        let letter = value("67775-7")["valueCodeableConcept"]["coding"][0]["code"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(seen.insert((p, t), (pulse, letter)).is_none(), "sent once");
        bundles.push(b.to_string());
    }
    assert_eq!(seen, charted, "every charted round, as charted");
    // The clock and the rounds share the twin's own connection, so they arrive in the order
    // they were sent: each clock counts the rounds before it.
    let (mut rounds, mut clocks) = (0u64, 0);
    for m in &sub.got.all {
        if m.topic.ends_with("/chart/fhir") {
            rounds += 1;
        } else if m.topic.ends_with("/sim/clock") {
            let c: serde_json::Value = serde_json::from_slice(&m.payload).expect("clock");
            assert_eq!(c["chart"].as_u64().unwrap_or(0), rounds, "{c}");
            clocks += 1;
        }
    }
    assert!(clocks >= 300, "{clocks} clocks");
    let path = dir.path().join("chart.ndjson");
    std::fs::write(&path, bundles.join("\n")).expect("write");
    let r = super::fhir::validate(&[&path]);
    assert_eq!(r["invalid"], serde_json::json!([]), "{r}");
    assert_eq!(r["checked"]["Bundle"].as_u64(), Some(bundles.len() as u64));
}
