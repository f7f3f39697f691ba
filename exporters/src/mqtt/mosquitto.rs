//! A real mosquitto for tests and benchmarks: started from a generated config on a free
//! loopback port, restartable on the same port, optionally requiring TLS client certificates.
//!
//! Readiness is an event, not a guess: the harness reads mosquitto's log until it says it is
//! running; a port taken by someone else makes this mosquitto exit instead, and the harness
//! tries another port. The generated config raises the per-client queue limits: mosquitto's
//! defaults silently drop QoS 1 messages it has already acknowledged to the publisher when a
//! subscriber's queue is full (DOMAIN.md section 7). `MosquittoConfig::nodelay` sets
//! `set_tcp_nodelay` for lock-stepped runs.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

/// Files of a test PKI: a CA, a server certificate for 127.0.0.1/localhost, a client
/// certificate.
#[derive(Debug, Clone)]
pub struct TestPki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// How to configure the broker.
#[derive(Debug, Clone, Default)]
pub struct MosquittoConfig {
    /// Keep sessions and queued messages across a restart (saved on SIGTERM).
    pub persistence: bool,
    /// TLS only, with a client certificate signed by the PKI's CA.
    pub tls: Option<TestPki>,
    /// No anonymous access: this one user (written with `mosquitto_passwd`).
    pub user: Option<(String, String)>,
    /// `set_tcp_nodelay`: for lock-stepped runs, a round trip per sync point that Nagle's
    /// algorithm on the broker otherwise holds for 40 ms about once in three; it costs
    /// throughput (bench-mqtt: ~40 % of the broker's fan-out), so it is off by default.
    pub nodelay: bool,
    /// Queue at most this many QoS 1 messages per client (mosquitto then discards for a slow
    /// subscriber, as its defaults do); unlimited when `None`.
    pub max_queued: Option<u32>,
}

/// A running mosquitto.
pub struct Mosquitto {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    config: MosquittoConfig,
    log: Option<Receiver<String>>,
}

fn run(cmd: &mut Command) -> std::io::Result<()> {
    let out = cmd.output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

impl TestPki {
    /// Generates a CA, a server and a client certificate (P-256) with the `openssl` command.
    pub fn generate(dir: &Path) -> std::io::Result<Self> {
        let p = |f: &str| dir.join(f);
        let ossl = || {
            let mut c = Command::new("openssl");
            c.current_dir(dir);
            c
        };
        let key = |name: &str| -> std::io::Result<()> {
            run(ossl().args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                name,
            ]))
        };
        key("ca.key")?;
        run(ossl().args([
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=wardtwin test CA",
        ]))?;
        for (name, cn, ext) in [
            (
                "server",
                "localhost",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
            ),
            ("client", "wt-gateway", "extendedKeyUsage=clientAuth\n"),
        ] {
            key(&format!("{name}.key"))?;
            std::fs::write(p(&format!("{name}.ext")), ext)?;
            run(ossl().args([
                "req",
                "-new",
                "-key",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={cn}"),
            ]))?;
            run(ossl().args([
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ]))?;
        }
        Ok(Self {
            ca: p("ca.pem"),
            server_cert: p("server.pem"),
            server_key: p("server.key"),
            client_cert: p("client.pem"),
            client_key: p("client.key"),
        })
    }
}

/// The mosquitto binary: on `PATH`, or Debian's `/usr/sbin/mosquitto`.
pub fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("mosquitto"))
        .find(|p| p.is_file())
}

/// Whether this process runs as root (Linux: real uid 0 in /proc/self/status).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn free_port() -> std::io::Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

impl Mosquitto {
    /// Starts mosquitto with its config, persistence and log under `dir`.
    pub fn start(dir: &Path, config: MosquittoConfig) -> std::io::Result<Self> {
        let mut last = None;
        for _ in 0..5 {
            let mut m = Self {
                child: None,
                port: free_port()?,
                dir: dir.to_path_buf(),
                config: config.clone(),
                log: None,
            };
            match m.spawn() {
                Ok(()) => return Ok(m),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("mosquitto did not start")))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:<port>` (or `mqtts://`).
    pub fn url(&self) -> String {
        let scheme = if self.config.tls.is_some() {
            "mqtts"
        } else {
            "mqtt"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn write_config(&self) -> std::io::Result<PathBuf> {
        let mut c = format!(
            "# generated by wardtwin's test harness\n\
             {user}\n\
             per_listener_settings false\n\
             listener {port} 127.0.0.1\n\
             log_dest stderr\n\
             log_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
             connection_messages false\n\
             max_queued_messages {queued}\n\
             max_inflight_messages {inflight}\n\
             max_queued_bytes 0\n\
             max_keepalive 600\n\
             set_tcp_nodelay {nodelay}\n",
            port = self.port,
            queued = self.config.max_queued.unwrap_or(0),
            nodelay = self.config.nodelay,
            // Unlimited in flight would never queue (and never discard).
            inflight = if self.config.max_queued.is_some() {
                20
            } else {
                0
            },
            // As root, mosquitto would drop to user `mosquitto`, which cannot read the
            // test's private files or write its persistence file: stay root.
            user = if running_as_root() { "user root" } else { "" }
        );
        match &self.config.tls {
            Some(pki) => c.push_str(&format!(
                "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n\
                 use_identity_as_username true\nallow_anonymous false\n",
                pki.ca.display(),
                pki.server_cert.display(),
                pki.server_key.display()
            )),
            None if self.config.user.is_none() => c.push_str("allow_anonymous true\n"),
            None => {}
        }
        if let Some((user, password)) = &self.config.user {
            let file = self.dir.join("passwd");
            std::fs::write(&file, "")?;
            run(Command::new("mosquitto_passwd")
                .arg("-b")
                .arg(&file)
                .arg(user)
                .arg(password))?;
            c.push_str(&format!(
                "allow_anonymous false\npassword_file {}\n",
                file.display()
            ));
        }
        if self.config.persistence {
            c.push_str(&format!(
                "persistence true\npersistence_location {}/\nautosave_interval 0\n",
                self.dir.display()
            ));
        }
        let path = self.dir.join("mosquitto.conf");
        std::fs::write(&path, c)?;
        Ok(path)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let bin = binary().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "mosquitto not found (apt-get install mosquitto; .ci/run installs it)",
            )
        })?;
        let conf = self.write_config()?;
        let mut child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Keep draining even when nobody listens, so mosquitto never blocks on stderr.
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(line) => {
                    let running = line.contains(" running");
                    seen.push(line);
                    if running {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(std::io::Error::other(format!(
                        "mosquitto on port {} did not start:\n{}",
                        self.port,
                        seen.join("\n")
                    )));
                }
            }
        }
        self.child = Some(child);
        self.log = Some(rx);
        Ok(())
    }

    /// Stops mosquitto gracefully (SIGTERM: it saves its persistence file) and waits for it.
    pub fn stop(&mut self) -> std::io::Result<()> {
        if let Some(mut child) = self.child.take() {
            run(Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string()))?;
            child.wait()?;
        }
        Ok(())
    }

    /// Stops and starts it again on the same port.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop()?;
        self.spawn()
    }

    /// Writes the persistence database now (SIGUSR1) and waits until mosquitto says so: what is
    /// in it (sessions, subscriptions) survives even a SIGKILL.
    pub fn save(&mut self) -> std::io::Result<()> {
        let Some(child) = &self.child else {
            return Err(std::io::Error::other("mosquitto is not running"));
        };
        run(Command::new("kill")
            .arg("-USR1")
            .arg(child.id().to_string()))?;
        let rx = self
            .log
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no log"))?;
        loop {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(line) if line.contains("Saving in-memory database") => return Ok(()),
                Ok(_) => {}
                Err(_) => return Err(std::io::Error::other("mosquitto did not save")),
            }
        }
    }

    /// Kills it (SIGKILL: no goodbye, nothing saved since the last [`Mosquitto::save`]) and
    /// starts it again on the same port.
    pub fn kill_and_restart(&mut self) -> std::io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        self.spawn()
    }

    /// Log lines so far (after the start-up lines).
    pub fn log_lines(&self) -> Vec<String> {
        self.log
            .as_ref()
            .map(|rx| rx.try_iter().collect())
            .unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
