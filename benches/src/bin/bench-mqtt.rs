//! `cargo run --release -p wardtwin-benches --bin bench-mqtt`: what `wardtwin run … --speed max` delivers to a real mosquitto, side
//! by side with a minimal raw rumqttc publisher sending the same payloads to the same broker
//! (the practical limit of the machine), at QoS 0 and QoS 1.
//!
//! Delivery is counted at a subscriber (acknowledged to the publisher does not mean delivered;
//! DOMAIN.md section 7). A phase's rate is the telemetry messages received divided by the time
//! from the first to the last one received. The wardtwin phases run the real program (a child
//! process: simulation, Parquet files, wire encoding, MQTT); the first one's payloads are
//! captured and replayed by the raw publisher.
//!
//! The program it runs is `wardtwin` next to this binary (build it first: `cargo build
//! --release`), or `--wardtwin PATH`.

// A benchmark measures wall time by definition; the simulation never sees it.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rumqttc::{AsyncClient, Client, Event, MqttOptions, Packet, QoS};
use wardtwin_exporters::mqtt::mosquitto::{Mosquitto, MosquittoConfig};

/// Prints a line; a closed stdout (`| head`) ends the output quietly.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

#[derive(clap::Parser, Debug)]
#[command(
    name = "bench-mqtt",
    about = "MQTT delivery of `wardtwin run --speed max` vs a raw rumqttc publisher (mosquitto)"
)]
pub struct BenchMqttArgs {
    /// The wardtwin program to benchmark [default: `wardtwin` next to this binary].
    #[arg(long)]
    pub wardtwin: Option<PathBuf>,
    /// Scenario to publish.
    #[arg(default_value = "hospital-1000-24h")]
    pub scenario: String,
    /// How much of it to run (it is all held in memory for the raw publisher).
    #[arg(long, default_value = "1h")]
    pub duration: String,
    /// Working folder [default: a temporary folder].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Repetitions of each phase (after one uncounted warm-up run); medians are reported.
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
}

/// Extra attempts at a phase whose delivery was incomplete.
const RETRIES: usize = 2;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Captured (topic, payload) pairs.
type Captured = Vec<(String, Vec<u8>)>;

/// What a subscriber saw: telemetry count, first and last arrival, captured messages.
struct Seen {
    n: usize,
    first: Option<Instant>,
    last: Option<Instant>,
    kept: Captured,
}

/// A counting subscriber on `#`.
struct Counter {
    rx: Receiver<(Instant, String, Vec<u8>)>,
    _client: Client,
}

impl Counter {
    fn connect(port: u16, qos: QoS) -> Result<Self> {
        let mut o = MqttOptions::new(format!("wtbenchsub{}", qos as u8), "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(60))
            .set_max_packet_size(1 << 20, 1 << 20)
            .set_inflight(1000);
        let (client, mut conn) = Client::new(o, 100);
        client.subscribe("dt/#", qos)?;
        let (tx, rx) = channel();
        let (ready_tx, ready_rx) = channel();
        std::thread::spawn(move || {
            for ev in conn.iter() {
                match ev {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx
                            .send((Instant::now(), p.topic.clone(), p.payload.to_vec()))
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .context("subscriber did not get its SUBACK")?;
        Ok(Self {
            rx,
            _client: client,
        })
    }

    /// Receives until `expected` telemetry messages arrived, or 3 s of silence after the
    /// publisher is done. Returns (count, first, last) and, if asked, the messages.
    fn collect(&self, expected: Option<usize>, keep: bool, done: &mut dyn FnMut() -> bool) -> Seen {
        let (mut n, mut first, mut last, mut kept) = (0, None, None, Vec::new());
        loop {
            match self.rx.recv_timeout(Duration::from_secs(3)) {
                Ok((t, topic, payload)) => {
                    if !topic.ends_with("/telemetry") {
                        continue;
                    }
                    n += 1;
                    first.get_or_insert(t);
                    last = Some(t);
                    if keep {
                        kept.push((topic, payload));
                    }
                    if expected == Some(n) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) if done() => break,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        Seen {
            n,
            first,
            last,
            kept,
        }
    }
}

fn rate(n: usize, first: Option<Instant>, last: Option<Instant>) -> f64 {
    match (first, last) {
        (Some(a), Some(b)) if b > a => (n.saturating_sub(1)) as f64 / (b - a).as_secs_f64(),
        _ => 0.0,
    }
}

/// Runs the real program against the broker; returns telemetry messages received.
fn wardtwin_phase(
    args: &BenchMqttArgs,
    url: &str,
    out: &std::path::Path,
    qos: QoS,
    counter: &Counter,
    keep: bool,
) -> Result<(usize, f64, Captured)> {
    let exe = match &args.wardtwin {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("wardtwin"),
    };
    anyhow::ensure!(
        exe.is_file(),
        "{} not found: build it first (cargo build --release) or pass --wardtwin PATH",
        exe.display()
    );
    let mut child = Command::new(exe)
        .args(["run", &args.scenario, "--quiet", "--speed", "max"])
        .args(["--duration", &args.duration, "--broker", url])
        .args(["--qos", if qos == QoS::AtMostOnce { "0" } else { "1" }])
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let mut status = None;
    let mut done = || {
        if status.is_none() {
            status = child.try_wait().ok().flatten();
        }
        status.is_some()
    };
    let seen = counter.collect(None, keep, &mut done);
    let s = match status {
        Some(s) => s,
        None => child.wait()?,
    };
    anyhow::ensure!(s.success(), "wardtwin run failed: {s}");
    Ok((seen.n, rate(seen.n, seen.first, seen.last), seen.kept))
}

/// The raw publisher: one rumqttc connection per ward (as wardtwin's gateways), each
/// publishing its share of the payloads in order, as fast as rumqttc goes.
fn raw_phase(
    port: u16,
    qos: QoS,
    msgs: &[(String, Vec<u8>)],
    counter: &Counter,
) -> Result<(usize, f64)> {
    let mut by_ward: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for (t, p) in msgs {
        let ward = t.split('/').nth(3).unwrap_or("").to_string();
        by_ward
            .entry(ward)
            .or_default()
            .push((t.clone(), p.clone()));
    }
    let total = msgs.len();
    let publisher = std::thread::spawn(move || -> Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let mut tasks = Vec::new();
            for (i, (_, msgs)) in by_ward.into_iter().enumerate() {
                let mut o = MqttOptions::new(format!("wtbenchraw{i}"), "127.0.0.1", port);
                o.set_keep_alive(Duration::from_secs(60))
                    .set_inflight(1024)
                    .set_max_packet_size(1 << 20, 1 << 20);
                let (client, mut el) = AsyncClient::new(o, 1024);
                let n = msgs.len();
                let poll = tokio::spawn(async move {
                    let (mut written, mut acked) = (0, 0);
                    loop {
                        match el.poll().await {
                            Ok(Event::Outgoing(rumqttc::Outgoing::Publish(_))) => written += 1,
                            Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                            Ok(_) => {}
                            Err(e) => return Err(anyhow::anyhow!("raw publisher: {e}")),
                        }
                        let finished = if qos == QoS::AtMostOnce {
                            written >= n
                        } else {
                            acked >= n
                        };
                        if finished {
                            return Ok(());
                        }
                    }
                });
                let send = tokio::spawn(async move {
                    for (t, p) in msgs {
                        client.publish(t, qos, false, p).await?;
                    }
                    Ok::<_, rumqttc::ClientError>(())
                });
                tasks.push((poll, send));
            }
            for (poll, send) in tasks {
                send.await??;
                poll.await??;
            }
            Ok(())
        })
    });
    let mut finished = || publisher.is_finished();
    let seen = counter.collect(Some(total), false, &mut finished);
    publisher
        .join()
        .map_err(|_| anyhow::anyhow!("raw publisher panicked"))??;
    Ok((seen.n, rate(seen.n, seen.first, seen.last)))
}

fn main() -> Result<()> {
    use clap::Parser as _;
    bench_mqtt(&BenchMqttArgs::parse())
}

fn bench_mqtt(args: &BenchMqttArgs) -> Result<()> {
    let tmp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = std::env::temp_dir().join(format!("wardtwin-bench-mqtt-{}", std::process::id()));
            std::fs::create_dir_all(&tmp)?;
            tmp.clone()
        }
    };
    let broker = Mosquitto::start(&dir, MosquittoConfig::default())
        .context("starting mosquitto (apt-get install mosquitto)")?;
    let url = broker.url();
    outln!(
        "bench-mqtt: {} for {}, mosquitto on {url}, one subscriber counting",
        args.scenario,
        args.duration
    );
    let mut rows = Vec::new();
    let mut captured: Captured = Vec::new();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        let counter = Counter::connect(broker.port(), qos)?;
        let out = dir.join(format!("run-qos{}", qos as u8));
        if captured.is_empty() {
            // A first run, not counted: it captures the payloads for the raw publisher and
            // warms the broker (topic tree, retained messages) for everything that follows.
            let (n, rate, kept) = wardtwin_phase(args, &url, &out, qos, &counter, true)?;
            outln!("  warm-up: wardtwin {n} msgs at {rate:.0} msg/s (not counted)");
            captured = kept;
        }
        let expected = captured.len();
        // A phase whose delivery is incomplete is no measurement: it is retried (and said so),
        // and fails the benchmark after RETRIES attempts; it never enters a median.
        let complete = |what: &str, got: usize, rep: usize, attempt: usize| -> Result<bool> {
            if got == expected {
                return Ok(true);
            }
            eprintln!(
                "  QoS {} run {}: {what} delivered {got} of {expected} messages: incomplete, {}",
                qos as u8,
                rep + 1,
                if attempt < RETRIES {
                    "retrying"
                } else {
                    "giving up"
                }
            );
            anyhow::ensure!(
                attempt < RETRIES,
                "bench-mqtt failed: {what} delivered {got} of {expected} messages at QoS {} after {} attempts",
                qos as u8,
                RETRIES + 1
            );
            Ok(false)
        };
        let (mut w, mut r, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..args.reps.max(1) {
            // Alternate which publisher goes first, so neither always meets the broker as
            // the other left it.
            let raw_first = rep % 2 == 1;
            let mut attempt = 0;
            let (rate, raw) = loop {
                let mut raw_result = None;
                if raw_first {
                    raw_result = Some(raw_phase(broker.port(), qos, &captured, &counter)?);
                }
                let (n, rate, _) = wardtwin_phase(args, &url, &out, qos, &counter, false)?;
                let (m, raw) = match raw_result {
                    Some(x) => x,
                    None => raw_phase(broker.port(), qos, &captured, &counter)?,
                };
                let ok = complete("wardtwin", n, rep, attempt)?
                    & complete("raw rumqttc", m, rep, attempt)?;
                if ok {
                    break (rate, raw);
                }
                attempt += 1;
            };
            outln!(
                "  QoS {} run {}{}: wardtwin {expected} msgs at {rate:.0} msg/s; raw rumqttc at {raw:.0} msg/s; {:.0} %",
                qos as u8,
                rep + 1,
                if raw_first { " (raw first)" } else { "" },
                100.0 * rate / raw
            );
            w.push(rate);
            r.push(raw);
            ratios.push(rate / raw);
        }
        let (wn, rn) = (expected, expected);
        rows.push((qos as u8, wn, median(w), rn, median(r), median(ratios)));
    }
    outln!();
    outln!(
        "Median of {} runs each (ratio: median of the paired runs' ratios):",
        args.reps.max(1)
    );
    outln!("| QoS | wardtwin run --speed max | raw rumqttc publisher | ratio |");
    outln!("|---|---|---|---|");
    for (q, wn, wr, rn, rr, ratio) in rows {
        outln!(
            "| {q} | {wr:.0} msg/s ({wn} msgs) | {rr:.0} msg/s ({rn} msgs) | {:.0} % |",
            100.0 * ratio
        );
    }
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
