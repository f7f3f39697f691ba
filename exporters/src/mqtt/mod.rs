//! Live transport: publish a run's telemetry to a real MQTT broker, paced to the wall clock or
//! as fast as the broker accepts, with a spool that survives reconnects.
//!
//! - [`options`]: broker URL, TLS files, credentials (environment or file, never argv), QoS,
//!   connection mode, pacing.
//! - [`publisher`]: the MQTT thread: one connection per gateway (or per device), a spool per
//!   connection, the fate of every emission.
//! - [`sink`]: [`LiveSink`], the record sink that encodes wire payloads and feeds the publisher,
//!   and writes the run folder through a [`ParquetSink`](crate::ParquetSink).
//! - [`collector`]: logs what a system under test publishes (alerts, ingestion echo), stamped
//!   in simulation time.
//! - [`embedded`]: an in-process broker (rumqttd) on loopback for `--live`.
//! - [`proxy`]: the fault proxy: a TCP proxy on loopback that cuts and refuses connections on
//!   a drill's schedule, so its network faults happen to the live transport for real.
//! - `mosquitto` (feature `test-support`): starts a real mosquitto on a free loopback port, for
//!   tests and benchmarks; not API for users.
//! - [`stats`]: lateness histogram.
//! - [`subscription`]: the subscribing side shared by the collector and the reference stack.
//! - [`sync`]: virtual time shared with the system under test: the clock topic, lockstep, and
//!   `--speed auto`'s window on the system's ingestion echo.
//!
//! Wall-clock time is used here, at the edge, to pace and to measure lateness; the
//! simulation never sees it.

pub mod collector;
pub mod embedded;
#[cfg(feature = "test-support")]
pub mod mosquitto;
pub mod options;
pub mod proxy;
pub mod publisher;
pub mod sink;
pub mod stats;
pub mod subscription;
pub mod sync;

pub use collector::{AlertTap, Collector, CollectorReport};
pub use embedded::EmbeddedBroker;
pub use options::{BrokerUrl, ConnectionMode, Credentials, LiveOptions, Speed, TlsFiles};
pub use proxy::{Cut, FaultProxy, ProxyStats, Scope};
pub use publisher::{LiveReport, LiveStats, Pacer, Publisher};
pub use sink::LiveSink;
pub use sync::{AutoRate, ClockSender, SimClockOut, SyncMode, SyncPoint};
