//! What a live run connects to and how.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why live options were refused.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error(
        "broker URL {0:?}: expected mqtt://host[:port] or mqtts://host[:port] (default ports 1883, 8883)"
    )]
    Url(String),
    #[error(
        "broker URL must not carry credentials: set WARDTWIN_MQTT_USERNAME / WARDTWIN_MQTT_PASSWORD or use --credentials FILE"
    )]
    CredentialsInUrl,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    Credentials { path: PathBuf, why: &'static str },
    #[error("{0} is set but {1} is not: set both or neither")]
    HalfCredentials(&'static str, &'static str),
    #[error(
        "--speed {0:?}: expected a positive number (1 = real time, 60 = an hour a minute), max or auto"
    )]
    Speed(String),
    #[error("TLS: {0}")]
    Tls(String),
}

/// `mqtt://host:port` or `mqtts://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl BrokerUrl {
    pub fn parse(s: &str) -> Result<Self, OptionsError> {
        let bad = || OptionsError::Url(s.to_string());
        let (tls, rest) = if let Some(r) = s.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(bad());
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('@') {
            return Err(OptionsError::CredentialsInUrl);
        }
        if rest.is_empty() || rest.contains('/') {
            return Err(bad());
        }
        let default_port = if tls { 8883 } else { 1883 };
        // [v6]:port, host:port, host
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if after.is_empty() => default_port,
                None => return Err(bad()),
            };
            (h.to_string(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
                None => (rest.to_string(), default_port),
            }
        };
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(Self { tls, host, port })
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// Username and password for the broker. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Environment variables the credentials may come from.
pub const USERNAME_ENV: &str = "WARDTWIN_MQTT_USERNAME";
pub const PASSWORD_ENV: &str = "WARDTWIN_MQTT_PASSWORD";

impl Credentials {
    /// From a file: the username on the first line, the password on the second.
    pub fn from_file(path: &Path) -> Result<Self, OptionsError> {
        let text = std::fs::read_to_string(path).map_err(|source| OptionsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut lines = text.lines();
        let username = lines.next().unwrap_or("").trim().to_string();
        let password = lines
            .next()
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_string();
        let path = path.to_path_buf();
        if username.is_empty() {
            return Err(OptionsError::Credentials {
                path,
                why: "expected the username on line 1 and the password on line 2; line 1 is empty",
            });
        }
        if password.is_empty() {
            return Err(OptionsError::Credentials {
                path,
                why: "expected the password on line 2",
            });
        }
        Ok(Self { username, password })
    }

    /// From [`USERNAME_ENV`] and [`PASSWORD_ENV`] through `get` (`std::env::var` in the
    /// program); `None` if neither is set.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, OptionsError> {
        match (get(USERNAME_ENV), get(PASSWORD_ENV)) {
            (None, None) => Ok(None),
            (Some(username), Some(password)) => Ok(Some(Self { username, password })),
            (Some(_), None) => Err(OptionsError::HalfCredentials(USERNAME_ENV, PASSWORD_ENV)),
            (None, Some(_)) => Err(OptionsError::HalfCredentials(PASSWORD_ENV, USERNAME_ENV)),
        }
    }
}

/// TLS files: the CA that signed the broker's certificate (else the system's roots), and an
/// optional client certificate and key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// How devices reach the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectionMode {
    /// One connection per ward gateway, with a will announcing the gateway's death.
    #[default]
    PerGateway,
    /// One connection per device (brokers that enforce device identities).
    PerDevice,
}

impl ConnectionMode {
    pub fn name(self) -> &'static str {
        match self {
            ConnectionMode::PerGateway => "per-gateway",
            ConnectionMode::PerDevice => "per-device",
        }
    }
}

/// How simulation time maps to the wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// `n` simulated seconds per wall second (1 = real time).
    Paced(f64),
    /// As fast as the broker accepts.
    Max,
    /// As fast as the system under test ingests (its echo), adaptively.
    Auto,
}

impl Speed {
    pub fn parse(s: &str) -> Result<Self, OptionsError> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        if s == "auto" {
            return Ok(Speed::Auto);
        }
        match s.parse::<f64>() {
            Ok(n) if n.is_finite() && n > 0.0 => Ok(Speed::Paced(n)),
            _ => Err(OptionsError::Speed(s.to_string())),
        }
    }
    pub fn name(self) -> String {
        match self {
            Speed::Paced(n) => format!("{n}"),
            Speed::Max => "max".into(),
            Speed::Auto => "auto".into(),
        }
    }
}

/// Everything a live run needs to know about its broker.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub broker: BrokerUrl,
    pub tls: TlsFiles,
    pub credentials: Option<Credentials>,
    /// 0 or 1.
    pub qos: u8,
    pub connection: ConnectionMode,
    pub speed: Speed,
    /// Topic prefix (`dt/wardtwin`).
    pub prefix: String,
    /// Client ids are this plus `g<n>` / `d<n>`: at most 23 alphanumerics in all.
    pub client_id_prefix: String,
    /// How long the end of a run waits for outstanding acknowledgements.
    pub drain_timeout: Duration,
    /// Messages waiting in the spools (all connections) before the simulation is made to wait.
    pub max_spool: usize,
    pub keep_alive: Duration,
    /// TCP_NODELAY on the publishing connections: for runs that share their clock with the
    /// system under test (a clock message must not wait for Nagle's algorithm); off otherwise,
    /// where it costs throughput.
    pub low_latency: bool,
}

impl LiveOptions {
    /// Defaults for `broker`.
    pub fn new(broker: BrokerUrl) -> Self {
        Self {
            broker,
            tls: TlsFiles::default(),
            credentials: None,
            qos: 1,
            connection: ConnectionMode::PerGateway,
            speed: Speed::Paced(1.0),
            prefix: crate::wire::DEFAULT_PREFIX.to_string(),
            client_id_prefix: "wt".to_string(),
            drain_timeout: Duration::from_secs(30),
            max_spool: 200_000,
            keep_alive: Duration::from_secs(30),
            low_latency: false,
        }
    }
}

/// A client-id prefix for a run: `wt` + 6 hex digits of a hash of what identifies the run and
/// this process (two runs on one broker must not take over each other's sessions).
pub fn client_id_prefix(scenario: &str, seed: u64, pid: u32) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in scenario
        .bytes()
        .chain(seed.to_le_bytes())
        .chain(pid.to_le_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("wt{:06x}", h & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse_with_default_ports_and_refuse_credentials() {
        let u = BrokerUrl::parse("mqtt://127.0.0.1:1884").unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port), (false, "127.0.0.1", 1884));
        assert_eq!(BrokerUrl::parse("mqtts://broker").unwrap().port, 8883);
        assert_eq!(BrokerUrl::parse("mqtt://broker/").unwrap().port, 1883);
        let v6 = BrokerUrl::parse("mqtt://[::1]:1999").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 1999));
        assert_eq!(v6.to_string(), "mqtt://[::1]:1999");
        assert!(matches!(
            BrokerUrl::parse("mqtt://user:secret@broker"),
            Err(OptionsError::CredentialsInUrl)
        ));
        for bad in [
            "tcp://x",
            "mqtt://",
            "mqtt://x:port",
            "mqtt://x:0",
            "mqtt://x/y",
        ] {
            assert!(
                matches!(BrokerUrl::parse(bad), Err(OptionsError::Url(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn credentials_come_from_a_file_or_both_variables_and_never_show() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("creds");
        std::fs::write(&f, "gateway\ns3cr3t-pass\n").unwrap();
        let c = Credentials::from_file(&f).unwrap();
        assert_eq!(c.username, "gateway");
        assert_eq!(c.password, "s3cr3t-pass");
        assert!(!format!("{c:?}").contains("s3cr3t"));
        std::fs::write(&f, "gateway\n").unwrap();
        let e = Credentials::from_file(&f).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");

        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Credentials::from_env(env(&[])).unwrap(), None);
        let both = Credentials::from_env(env(&[(USERNAME_ENV, "u"), (PASSWORD_ENV, "p")]))
            .unwrap()
            .unwrap();
        assert_eq!((both.username.as_str(), both.password.as_str()), ("u", "p"));
        assert!(Credentials::from_env(env(&[(USERNAME_ENV, "u")])).is_err());
    }

    #[test]
    fn speeds_and_client_ids() {
        assert_eq!(Speed::parse("max").unwrap(), Speed::Max);
        assert_eq!(Speed::parse("60").unwrap(), Speed::Paced(60.0));
        for bad in ["0", "-1", "fast", "inf", "NaN"] {
            assert!(Speed::parse(bad).is_err(), "{bad}");
        }
        let p = client_id_prefix("hospital-1000-24h", 42, 12345);
        assert_eq!(p.len(), 8);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
        // With the longest suffix (`d` + a device index) it stays within 23 characters.
        assert!(format!("{p}d{}", u32::MAX).len() <= 23);
    }
}
