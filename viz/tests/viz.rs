//! The visual ward end to end: a real offscreen screenshot whose pixels are checked, an
//! instructor's injection that `wardtwin run` reproduces byte for byte from the saved
//! session, and a trainee's escalation that `wardtwin score` scores.
//!
//! The `wardtwin` binary is the one the headless build put in the same target folder (CI
//! builds and tests the headless workspace first); the screenshot needs a Vulkan driver
//! (Mesa's lavapipe where there is no GPU; `.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The headless `wardtwin` binary next to this test's target folder.
fn wardtwin() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = dir.join("wardtwin");
    assert!(
        bin.is_file(),
        "{} is missing: build the headless workspace first (cargo build)",
        bin.display()
    );
    bin
}

fn viz() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wardtwin-viz"));
    // Vulkan loaders want a runtime dir; a CI container may have none.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    c
}

/// Where the tests keep what they produce (screenshots are build artefacts).
fn out_dir(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("viz-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("output folder");
    dir
}

fn run_ok(mut c: Command) -> String {
    let out = c.output().expect("runs");
    assert!(
        out.status.success(),
        "{c:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A pixel of an RGBA8 picture.
struct Picture {
    w: u32,
    h: u32,
    px: Vec<u8>,
}

impl Picture {
    fn read(path: &Path) -> Self {
        let img = image::open(path).expect("a PNG").to_rgba8();
        Self {
            w: img.width(),
            h: img.height(),
            px: img.into_raw(),
        }
    }
    fn at(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.w + x) * 4) as usize;
        [self.px[i], self.px[i + 1], self.px[i + 2]]
    }
    /// Pixels of a rectangle (logical = physical pixels offscreen) that pass `f`.
    fn count(&self, r: [f32; 4], f: impl Fn([u8; 3]) -> bool) -> (usize, usize) {
        let (x0, y0) = (r[0].max(0.0) as u32, r[1].max(0.0) as u32);
        let (x1, y1) = ((r[2] as u32).min(self.w), (r[3] as u32).min(self.h));
        let mut n = 0;
        let mut total = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                total += 1;
                if f(self.at(x, y)) {
                    n += 1;
                }
            }
        }
        (n, total)
    }
    /// Rows of a rectangle that hold at least one pixel passing `f`.
    fn rows(&self, r: [f32; 4], f: impl Fn([u8; 3]) -> bool) -> usize {
        let (x0, y0) = (r[0].max(0.0) as u32, r[1].max(0.0) as u32);
        let (x1, y1) = ((r[2] as u32).min(self.w), (r[3] as u32).min(self.h));
        (y0..y1)
            .filter(|&y| (x0..x1).any(|x| f(self.at(x, y))))
            .count()
    }
}

fn red(c: [u8; 3]) -> bool {
    c[0] > 180 && c[1] < 80 && c[2] < 80
}
fn green_trace(c: [u8; 3]) -> bool {
    c[1] > 150 && c[0] < 140 && c[2] < 160
}

fn rect(v: &serde_json::Value) -> [f32; 4] {
    let a = v.as_array().expect("a rect");
    [0, 1, 2, 3].map(|i| a[i].as_f64().expect("number") as f32)
}

#[test]
fn a_screenshot_at_10_30_shows_the_septic_patient_red_the_plan_and_a_waveform() {
    let dir = out_dir("screenshot");
    let png = dir.join("ward.png");
    let mut c = viz();
    c.args(["quickstart", "--screenshot"])
        .arg(&png)
        .args([
            "--at", "10:30", "--size", "1280x800", "--select", "W1-07", "--out",
        ])
        .arg(dir.join("session"));
    run_ok(c);
    check_quickstart_at_10_30(&png);
}

/// The same picture taken of a real window, on an X server (Xvfb, which `.ci/run` installs).
#[test]
fn a_window_screenshot_shows_the_same_ward() {
    let dir = out_dir("window");
    let png = dir.join("ward.png");
    let mut c = Command::new("xvfb-run");
    c.args(["-a", "-s", "-screen 0 1400x900x24"])
        .arg(env!("CARGO_BIN_EXE_wardtwin-viz"))
        .args(["quickstart", "--window", "--screenshot"])
        .arg(&png)
        .args([
            "--at", "10:30", "--size", "1280x800", "--select", "W1-07", "--out",
        ])
        .arg(dir.join("session"));
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    run_ok(c);
    check_quickstart_at_10_30(&png);
    // It was a window: without a display the same command is refused (an error, no panic).
    let out = viz()
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .args(["quickstart", "--window", "--screenshot"])
        .arg(dir.join("none.png"))
        .args(["--at", "00:01", "--out"])
        .arg(dir.join("none"))
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no display"));
    assert!(!dir.join("none.png").exists());
}

/// quickstart at 10:30 with W1-07 selected: its tile red, no other tile without a high alarm
/// red, the plan drawn where the app says, an ECG trace in the strip.
fn check_quickstart_at_10_30(png: &Path) {
    let mut map_path = png.as_os_str().to_owned();
    map_path.push(".json");
    let pic = Picture::read(png);
    assert_eq!((pic.w, pic.h), (1280, 800));
    // Where the app drew what (its own account), checked against the pixels.
    let map: serde_json::Value = serde_json::from_slice(
        &std::fs::read(PathBuf::from(map_path)).expect("the screenshot's map"),
    )
    .expect("JSON");
    let tiles = map["tiles"].as_object().expect("tiles");
    let septic = rect(&tiles["W1-07"]["head"]);
    let (n, total) = pic.count(septic, red);
    assert!(
        n * 2 > total,
        "W1-07's tile head is red: {n} of {total} pixels"
    );
    let mut calm = 0;
    for (bed, t) in tiles {
        let p = t["priority"].as_str().expect("priority");
        let (n, total) = pic.count(rect(&t["head"]), red);
        if p != "high" {
            assert!(n * 10 < total, "{bed} ({p}) is not red: {n} of {total}");
            calm += 1;
        }
    }
    assert!(
        calm >= 10,
        "most of the visible ward is not in high alarm: {calm}"
    );
    // The floor plan: where the app says it drew the plan, inside the plan's area, the
    // pixels are mostly not the background colour.
    let area = rect(&map["plan"]);
    let plan = rect(&map["plan_bounds"]);
    assert!(
        plan[0] >= area[0] - 1.0 && plan[2] <= area[2] + 1.0 && plan[2] - plan[0] > 300.0,
        "the plan fills its area's width: {plan:?} in {area:?}"
    );
    let bg = [13u8, 15, 18];
    let (drawn, total) = pic.count(plan, |c| c.iter().zip(bg).any(|(a, b)| a.abs_diff(b) > 6));
    assert!(
        drawn * 10 > total * 7,
        "the plan is drawn: {drawn} of {total} pixels"
    );
    // The selected bed's ECG: green trace pixels over many rows (a waveform, not a line).
    let strip = rect(&map["ecg_strip"]);
    let (trace, _) = pic.count(strip, green_trace);
    let rows = pic.rows(strip, green_trace);
    assert!(trace > 300, "ECG trace pixels: {trace}");
    assert!(rows > 15, "the ECG spans {rows} rows");
}

/// quickstart cut to 3 hours: a session runs it in seconds.
fn short_quickstart(dir: &Path) -> PathBuf {
    let text = wardtwin_scenarios::LIBRARY
        .iter()
        .find(|(n, _)| *n == "quickstart")
        .expect("quickstart")
        .1
        .replace("duration = \"24h\"", "duration = \"3h\"");
    // Without its gates: the trainee is scored, not judged.
    let text = match text.find("\n[scoring]") {
        Some(i) => format!("{}\n[scoring]\nchronic = \"dont_care\"\n", &text[..i]),
        None => text,
    };
    // Events past 3 h are outside the run: keep the first two (06:30 and later are dropped).
    let mut kept = String::new();
    for block in text.split("\n[[event]]") {
        if kept.is_empty() {
            kept.push_str(block);
            continue;
        }
        let at = block
            .lines()
            .find_map(|l| l.strip_prefix("at = \""))
            .and_then(|l| l.split('"').next())
            .unwrap_or("99:00");
        let h: u32 = at.split(':').next().unwrap_or("99").parse().unwrap_or(99);
        if h < 3 {
            kept.push_str("\n[[event]]");
            kept.push_str(block);
        } else if let Some(rest) = block.find("\n[scoring]") {
            kept.push_str(&block[rest..]);
        }
    }
    let path = dir.join("quickstart-3h.toml");
    std::fs::write(&path, kept).expect("scenario");
    path
}

fn tables(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("run folder")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .map(|p| {
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect();
    v.sort();
    v
}

/// Injects a sepsis over 1 h on `bed` (by the session's command channel).
fn inject_sepsis(tx: &std::sync::mpsc::Sender<wardtwin_viz::live::Command>, bed: &str) {
    let inj =
        wardtwin_viz::inject::Injection::Deterioration(wardtwin_viz::inject::Deterioration::Sepsis);
    let params = sepsis_params(bed);
    tx.send(wardtwin_viz::live::Command::Inject {
        label: inj.label(&params),
        toml: inj.toml(&params).expect("toml"),
    })
    .expect("send");
}

fn sepsis_params(bed: &str) -> wardtwin_viz::inject::Params {
    wardtwin_viz::inject::Params {
        target: bed.into(),
        duration: "20m".into(),
        develop: "1h".into(),
    }
}

/// `wardtwin run` on the session's `session.toml` writes the same tables, byte for byte.
fn assert_reruns_byte_for_byte(session: &Path, rerun: &Path) {
    let mut c = Command::new(wardtwin());
    c.arg("run")
        .arg(session.join("session.toml"))
        .arg("--quiet")
        .arg("--out")
        .arg(rerun);
    run_ok(c);
    let (a, b) = (tables(session), tables(rerun));
    assert!(
        a.len() >= 8,
        "tables: {:?}",
        a.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    assert_eq!(
        a.iter().map(|t| &t.0).collect::<Vec<_>>(),
        b.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs between the session and its rerun");
    }
}

/// A session of the 3-h quickstart in `dir` (its folder `dir/session`), stepping at full
/// speed to 00:30, where it pauses.
fn session_at_00_30(
    dir: &Path,
    stack: Option<wardtwin_reference::PolicyKind>,
    live: Option<wardtwin_viz::publish::LiveConfig>,
) -> (wardtwin_viz::live::Handle, PathBuf) {
    let scenario = short_quickstart(dir);
    let session = dir.join("session");
    let h = wardtwin_viz::live::start(wardtwin_viz::live::SessionConfig {
        text: std::fs::read_to_string(&scenario).expect("text"),
        label: scenario.display().to_string(),
        seed: None,
        out: session.clone(),
        speed: f64::INFINITY,
        paused: false,
        threads: None,
        stop_at_ms: Some(30 * 60_000),
        stack,
        live,
    })
    .expect("starts");
    h.wait_until_stopped().expect("reaches 00:30");
    (h, session)
}

#[test]
fn an_injected_event_reruns_headless_byte_for_byte_and_an_escalation_is_scored() {
    use wardtwin_viz::live::Command as C;
    let dir = out_dir("inject");
    let (h, session) = session_at_00_30(&dir, Some(wardtwin_reference::PolicyKind::News2), None);
    // The instructor starts a sepsis on W1-20 at 00:30, and pulls W1-05's oximeter probe.
    inject_sepsis(&h.tx, "W1-20");
    let probe = wardtwin_viz::inject::Injection::ProbeOff(wardtwin_viz::inject::Probe::Oximeter);
    let p2 = sepsis_params("W1-05");
    h.tx.send(C::Inject {
        label: probe.label(&p2),
        toml: probe.toml(&p2).expect("toml"),
    })
    .expect("send");
    // An injection the scenario refuses is reported, and the session goes on.
    h.tx.send(C::Inject {
        label: "nonsense".into(),
        toml: "bed = \"W1-99\"\nkind = \"sepsis\"\ndevelop = \"1h\"\n".into(),
    })
    .expect("send");
    // At 02:00 the trainee escalates W1-20's deterioration.
    h.tx.send(C::RunUntil(120 * 60_000)).expect("send");
    h.wait_for(120 * 60_000).expect("reaches 02:00");
    h.tx.send(C::Escalate(wardtwin_viz::trainee::Escalation {
        subject: "P-W1-20".into(),
        class: "deterioration".into(),
        priority: wardtwin_scoring::model::Priority::High,
        device: None,
        note: "looks septic".into(),
    }))
    .expect("send");
    // Run on (the 02:00 stop is spent): to the end, where the session pauses.
    h.tx.send(C::Pause(false)).expect("send");
    h.wait_for(3 * 3_600_000).expect("runs to the end");
    assert_eq!(h.shared.status().ticks_done, 3 * 3_600);
    let log = h.shared.status().log.clone();
    assert!(
        log.iter()
            .any(|l| l.contains("injection refused") && l.contains("W1-99")),
        "{log:?}"
    );
    assert_eq!(
        log.iter().filter(|l| l.contains(": injected ")).count(),
        2,
        "{log:?}"
    );
    h.finish().expect("finishes");

    // The saved session has both events, at 00:30.
    let saved = std::fs::read_to_string(session.join("session.toml")).expect("session.toml");
    assert_eq!(saved.matches("at = \"30m\"").count(), 2, "{saved}");
    // `wardtwin run` on it writes the same ground truth and telemetry, byte for byte.
    assert_reruns_byte_for_byte(&session, &dir.join("rerun"));
    // The injected sepsis is in the ground truth.
    let episodes =
        wardtwin_exporters::runfolder::read_table(&session, "episodes", &["bed_id", "kind"])
            .expect("episodes");
    let beds = wardtwin_exporters::runfolder::Cols::new(&episodes, &session, "episodes")
        .str("bed_id")
        .expect("bed_id");
    assert!(
        beds.iter().any(|b| b.as_deref() == Some("W1-20")),
        "{beds:?}"
    );

    // The reference stack on the central station was fed the same telemetry: its log holds
    // alerts v1 only, among them the injected sepsis (its log restarted with the rebuilt twin).
    let stack =
        wardtwin_exporters::wire::alerts::read_alert_log(&session.join("reference-alerts.jsonl"))
            .expect("reference-alerts.jsonl");
    assert!(!stack.is_empty());
    assert!(stack.iter().all(|r| r.alert.is_ok()), "{stack:?}");
    assert!(
        stack.iter().any(|r| r
            .alert
            .as_ref()
            .is_ok_and(|a| a.subject == "P-W1-20" && a.class == "deterioration")),
        "the stack caught the injected sepsis"
    );
    assert!(
        stack.windows(2).all(|w| w[0].arrival_ms <= w[1].arrival_ms),
        "one pass, in time order"
    );

    // The escalation is an alert in the run folder, and `wardtwin score` scores it.
    let alerts = std::fs::read_to_string(session.join("alerts.jsonl")).expect("alerts.jsonl");
    assert_eq!(alerts.lines().count(), 1, "{alerts}");
    // The session scored itself at its end; `wardtwin score` gives the same card.
    let own = std::fs::read(session.join("scorecard.json")).expect("the session's scorecard");
    let mut c = Command::new(wardtwin());
    c.arg("score").arg(&session).arg("--quiet");
    run_ok(c);
    assert!(
        own == std::fs::read(session.join("scorecard.json")).expect("scorecard.json"),
        "re-scoring the session gives a byte-identical scorecard.json"
    );
    let card: serde_json::Value = serde_json::from_slice(
        &std::fs::read(session.join("scorecard.json")).expect("scorecard.json"),
    )
    .expect("JSON");
    let text = card.to_string();
    assert!(text.contains("deterioration"), "{text}");
    assert_eq!(card["overall"]["alerts"].as_u64(), Some(1), "{text}");
    // The debrief lists the injection, the truth and the escalation, judged.
    let debrief = std::fs::read_to_string(session.join("debrief.html")).expect("debrief.html");
    assert!(
        debrief.contains("injected sepsis over 1h on W1-20"),
        "{debrief}"
    );
    assert!(
        debrief.contains("escalated P-W1-20 deterioration (high)"),
        "{debrief}"
    );
    assert!(
        debrief.contains("true: caught deterioration of P-W1-20"),
        "{debrief}"
    );
    assert_eq!(
        card["overall"]["true_alerts"].as_u64(),
        Some(1),
        "the escalation matched the injected sepsis: {text}"
    );
}

/// The latest value of `metric` from `device` measured before `t` (ms since the Unix epoch),
/// read from telemetry.parquet with polars.
fn latest(run: &Path, device: &str, metric: &str, t: i64) -> Option<Option<f64>> {
    use wardtwin_exporters::runfolder::{Cols, read_table};
    let df = read_table(
        run,
        "telemetry",
        &["sim_time", "device_id", "metric", "value"],
    )
    .expect("telemetry");
    let c = Cols::new(&df, run, "telemetry");
    let (st, d, m, v) = (
        c.time("sim_time").expect("sim_time"),
        c.str("device_id").expect("device_id"),
        c.str("metric").expect("metric"),
        c.f64("value").expect("value"),
    );
    let mut best: Option<(i64, Option<f64>)> = None;
    for i in 0..df.height() {
        if d[i].as_deref() == Some(device)
            && m[i].as_deref() == Some(metric)
            && let Some(at) = st[i]
            && at < t
            && best.is_none_or(|(b, _)| at >= b)
        {
            best = Some((at, v[i]));
        }
    }
    best.map(|(_, v)| v)
}

#[test]
fn a_replay_shows_at_time_t_what_the_parquet_files_hold_at_t() {
    let dir = out_dir("replay");
    let run = dir.join("run");
    let mut c = Command::new(wardtwin());
    c.args(["run", "quickstart", "--duration", "2h", "--quiet", "--out"])
        .arg(&run);
    run_ok(c);
    let png = dir.join("replay.png");
    let mut c = viz();
    c.arg(&run)
        .arg("--screenshot")
        .arg(&png)
        .args(["--at", "01:30", "--select", "W1-03"]);
    run_ok(c);
    let map: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("replay.png.json")).expect("the screenshot's map"),
    )
    .expect("JSON");
    assert_eq!(map["sim_time"], "2026-03-02T01:30:00.000Z");
    let t = wardtwin_sim::time::parse_iso_ms("2026-03-02T01:30:00.000Z").expect("a time");
    let tiles = map["tiles"].as_object().expect("tiles");
    assert!(tiles.len() >= 10, "visible tiles: {}", tiles.len());
    let shown = |v: Option<Option<f64>>, digits: usize| match v.flatten() {
        Some(x) => format!("{:.*}", digits, x as f32),
        None => "---".into(),
    };
    for (bed, tile) in tiles {
        let values = &tile["values"];
        let spo2 = latest(&run, &format!("spo2-{bed}"), "spo2", t);
        assert_eq!(values["spo2"], shown(spo2, 0), "{bed} SpO2");
        let temp = latest(&run, &format!("temp-{bed}"), "body_temp", t);
        assert_eq!(values["temp"], shown(temp, 1), "{bed} temperature");
        let sys = latest(&run, &format!("nibp-{bed}"), "bp_systolic", t);
        let dia = latest(&run, &format!("nibp-{bed}"), "bp_diastolic", t);
        assert_eq!(
            values["nibp"],
            format!("{}/{}", shown(sys, 0), shown(dia, 0)),
            "{bed} NIBP"
        );
    }
    // The replay draws the run's own plan and a timeline; nothing is written into the run.
    assert!(!run.join("session.toml").exists());
}

/// A `wardtwin reference-stack` of its own process on `broker`, once it is subscribed (it
/// prints its banner then): the system under test.
fn external_stack(broker: &str, alerts_topic: &str) -> std::process::Child {
    use std::io::BufRead;
    let mut stack = Command::new(wardtwin())
        .args([
            "reference-stack",
            "--broker",
            broker,
            "--policy",
            "news2",
            "--alerts-topic",
            alerts_topic,
            "--until-shutdown",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the reference stack starts");
    let mut lines = std::io::BufReader::new(stack.stdout.take().expect("piped")).lines();
    let banner = lines.next().expect("a banner").expect("utf-8");
    assert!(banner.starts_with("reference stack (news2)"), "{banner}");
    // The rest of its output is read so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    stack
}

/// When each valid alert of a log arrived.
fn valid_arrivals(log: &[wardtwin_scoring::model::Received]) -> Vec<i64> {
    log.iter()
        .filter(|r| r.alert.is_ok())
        .map(|r| r.arrival_ms)
        .collect()
}

/// Publishes `payload` on `topic` (QoS 1, acknowledged) and disconnects.
fn publish_once(port: u16, topic: &str, payload: &[u8]) {
    let mut o = rumqttc::MqttOptions::new("viz-test-garbage", "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(5));
    let (client, mut conn) = rumqttc::Client::new(o, 8);
    client
        .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload.to_vec())
        .expect("queued");
    for ev in conn.iter() {
        match ev.expect("the broker is up") {
            rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) => break,
            _ => continue,
        }
    }
    let _ = client.disconnect();
}

use std::time::Duration;

#[test]
fn a_system_under_test_over_mqtt_is_on_the_station_and_scored_and_injections_publish_nothing_twice()
{
    use wardtwin_exporters::mqtt::mosquitto::{Mosquitto, MosquittoConfig};
    use wardtwin_exporters::mqtt::{BrokerUrl, LiveOptions};
    use wardtwin_exporters::runfolder::{Cols, read_table};
    use wardtwin_viz::live::Command as C;
    let dir = out_dir("sut");
    // The broker: mosquitto on a loopback port; the system under test: the reference stack in
    // its own process, subscribed before the session publishes.
    std::fs::create_dir_all(dir.join("broker")).expect("broker folder");
    let broker = Mosquitto::start(&dir.join("broker"), MosquittoConfig::default())
        .expect("mosquitto (.ci/run installs it)");
    let mut sut = external_stack(&broker.url(), "sut/alerts");
    let mut opts = LiveOptions::new(BrokerUrl::parse(&broker.url()).expect("url"));
    opts.client_id_prefix = "vizsut".into();
    let live = wardtwin_viz::publish::LiveConfig {
        opts,
        embedded: false,
        alerts_topic: Some("sut/alerts".into()),
    };
    let (h, session) = session_at_00_30(&dir, None, Some(live));
    // Something on the alerts topic that is not an alert: counted, not a crash.
    publish_once(
        broker.port(),
        "sut/alerts",
        b"{\"v\":1,\"type\":\"alert\" \xff garbage",
    );
    // The instructor starts a sepsis on W1-20: the twin is rebuilt and catches up to 00:30
    // without publishing again what it had published.
    inject_sepsis(&h.tx, "W1-20");
    h.tx.send(C::Pause(false)).expect("send");
    h.wait_for(3 * 3_600_000).expect("runs to the end");
    let shared = std::sync::Arc::clone(&h.shared);
    h.finish().expect("finishes");
    // The system saw the gateways' goodbyes and stopped by itself.
    assert!(sut.wait().expect("the stack ends").success());

    // Every reading and status message the twin forwarded was published once, and the broker
    // acknowledged it: the live ledger has one row per row of telemetry.parquet and
    // device_status.parquet, unique by (device, kind, seq).
    let live = session.join("live");
    let fates = read_table(&live, "emissions", &["device_id", "kind", "seq", "fate"])
        .expect("live/emissions.parquet");
    let c = Cols::new(&fates, &live, "emissions");
    let (dev, kind, seq, fate) = (
        c.str("device_id").expect("device_id"),
        c.str("kind").expect("kind"),
        c.u32("seq").expect("seq"),
        c.str("fate").expect("fate"),
    );
    let mut keys = std::collections::BTreeSet::new();
    for i in 0..fates.height() {
        assert_eq!(fate[i].as_deref(), Some("acknowledged"), "row {i}");
        assert!(
            keys.insert((dev[i].clone(), kind[i].clone(), seq[i])),
            "published twice: {:?} {:?} {:?}",
            dev[i],
            kind[i],
            seq[i]
        );
    }
    // What the twin forwarded: readings (a row per observation in telemetry.parquet) and
    // status messages, by (device, seq).
    let forwarded = |t: &str| {
        let df =
            read_table(&session, t, &["device_id", "seq"]).unwrap_or_else(|e| panic!("{t}: {e}"));
        let c = Cols::new(&df, &session, t);
        let (d, s) = (
            c.str("device_id").expect("device"),
            c.u32("seq").expect("seq"),
        );
        d.into_iter()
            .zip(s)
            .collect::<std::collections::BTreeSet<_>>()
    };
    let published = |k: &str| {
        keys.iter()
            .filter(|x| x.1.as_deref() == Some(k))
            .map(|x| (x.0.clone(), x.2))
            .collect::<std::collections::BTreeSet<_>>()
    };
    let readings = forwarded("telemetry");
    assert!(readings.len() > 10_000, "{}", readings.len());
    assert!(
        published("telemetry") == readings,
        "every reading published once"
    );
    assert!(
        published("status") == forwarded("device_status"),
        "every status message published once"
    );
    let telemetry = readings.len();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(session.join("manifest.json")).expect("manifest.json"),
    )
    .expect("JSON");
    assert_eq!(
        manifest["live"]["acknowledged"].as_u64(),
        Some(telemetry as u64),
        "{manifest}"
    );
    assert_eq!(manifest["live"]["unacknowledged"].as_u64(), Some(0));

    // The system's alerts are on the central station as they arrived, logged, and scored: it
    // caught the injected sepsis, and the garbage is one rejected message.
    let log = wardtwin_exporters::wire::alerts::read_alert_log(&live.join("alerts.jsonl"))
        .expect("live/alerts.jsonl");
    let valid: Vec<_> = log.iter().filter_map(|r| r.alert.as_ref().ok()).collect();
    assert_eq!(log.len() - valid.len(), 1, "the garbage message is logged");
    assert!(
        valid
            .iter()
            .any(|a| a.subject == "P-W1-20" && a.class == "deterioration"),
        "the system caught the injected sepsis: {valid:?}"
    );
    {
        let m = shared.model();
        assert_eq!(m.sut_rejected, 1);
        let shown: Vec<_> = m
            .stack_alerts
            .iter()
            .filter(|a| a.from == wardtwin_viz::model::AlertFrom::Sut)
            .collect();
        assert_eq!(
            shown.len(),
            valid
                .len()
                .min(wardtwin_viz::model::WardModel::STACK_ALERTS)
        );
        assert!(shown.iter().any(|a| a.subject == "P-W1-20"));
    }
    // A replay of the session's folder lists them on the station as they arrived.
    let rec = wardtwin_viz::replay::Recording::read(&session).expect("replay");
    let last = valid_arrivals(&log).last().copied().expect("an alert");
    let replayed = rec.model_at(last + 1);
    let sut: Vec<_> = replayed
        .stack_alerts
        .iter()
        .filter(|a| a.from == wardtwin_viz::model::AlertFrom::Sut)
        .map(|a| (a.at_ms, a.subject.clone()))
        .collect();
    let logged: Vec<_> = log
        .iter()
        .filter_map(|r| {
            r.alert
                .as_ref()
                .ok()
                .map(|a| (r.arrival_ms, a.subject.clone()))
        })
        .collect();
    let keep = logged
        .len()
        .min(wardtwin_viz::model::WardModel::STACK_ALERTS);
    assert_eq!(sut, logged[logged.len() - keep..]);
    let card: serde_json::Value = serde_json::from_slice(
        &std::fs::read(live.join("scorecard.json")).expect("live/scorecard.json"),
    )
    .expect("JSON");
    assert_eq!(
        card["overall"]["alerts"].as_u64(),
        Some(valid.len() as u64),
        "{card}"
    );
    assert!(card["overall"]["true_alerts"].as_u64() >= Some(1), "{card}");
    // `wardtwin score` on the folder with the system's log gives the same card.
    let own = std::fs::read(live.join("scorecard.json")).expect("scorecard.json");
    let rescored = dir.join("rescored");
    let mut c = Command::new(wardtwin());
    c.arg("score")
        .arg(&session)
        .arg("--alerts")
        .arg(live.join("alerts.jsonl"))
        .arg("--out")
        .arg(&rescored)
        .arg("--quiet");
    run_ok(c);
    assert!(own == std::fs::read(rescored.join("scorecard.json")).expect("rescored"));

    // Live or not, the session's tables are those of a file run of session.toml.
    assert_reruns_byte_for_byte(&session, &dir.join("rerun"));
}
