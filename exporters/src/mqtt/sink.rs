//! [`LiveSink`]: the run folder plus the live stream.
//!
//! Every table still goes to Parquet; readings are also encoded as wire payloads and handed to
//! the [`Publisher`], and the emission ledger is filled with the fates the publisher decides
//! (in the order they become known).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wardtwin_sim::records::{DeviceEvent, DeviceEventKind, EmissionFate, Forwarded, ObsStatus};
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{Batch, RecordSink, SinkError, SinkReport};

use super::options::{ConnectionMode, LiveOptions};
use super::publisher::{LiveReport, OutMsg, Publisher};
use crate::ParquetSink;
use crate::wire::{BatteryState, DeviceStatus, StatusReason, WireDirectory, signal_of};

#[derive(Debug, Clone, Copy)]
struct DevState {
    last_status_ms: Option<SimMillis>,
    signal: ObsStatus,
    battery: BatteryState,
    battery_pct: f32,
    device_ms: SimMillis,
}

/// Writes the run folder and publishes the stream.
pub struct LiveSink {
    parquet: ParquetSink,
    publisher: Publisher,
    wire: Arc<WireDirectory>,
    mode: ConnectionMode,
    epoch_ms: SimMillis,
    status_interval_ms: i64,
    drain: Duration,
    devices: Vec<DevState>,
    buf: String,
    /// Payloads of one batch share one allocation (split off as `Bytes`), so neither thread
    /// allocates or frees per message.
    arena: bytes::BytesMut,
    fates: Vec<EmissionFate>,
    report: Arc<Mutex<Option<LiveReport>>>,
    /// The retained site map goes out with the first batch.
    map_sent: bool,
}

impl LiveSink {
    /// Writes through `parquet` and publishes through `publisher` (started with `opts`);
    /// `epoch_ms` is the scenario's epoch (offsets for pacing are taken from it).
    pub fn new(
        parquet: ParquetSink,
        publisher: Publisher,
        wire: Arc<WireDirectory>,
        opts: &LiveOptions,
        epoch_ms: SimMillis,
    ) -> Self {
        let n = wire.devices.len();
        Self {
            parquet,
            publisher,
            wire,
            mode: opts.connection,
            epoch_ms,
            status_interval_ms: opts.status_interval_ms.max(1),
            drain: opts.drain_timeout,
            devices: vec![
                DevState {
                    last_status_ms: None,
                    signal: ObsStatus::Ok,
                    battery: BatteryState::Ok,
                    battery_pct: 100.0,
                    device_ms: epoch_ms,
                };
                n
            ],
            buf: String::with_capacity(512),
            arena: bytes::BytesMut::new(),
            fates: Vec::new(),
            report: Arc::new(Mutex::new(None)),
            map_sent: false,
        }
    }

    /// Live figures while the run goes on.
    pub fn stats(&self) -> super::publisher::LiveStats {
        self.publisher.stats()
    }

    /// Where the live report appears once the sink has finished.
    pub fn report_handle(&self) -> Arc<Mutex<Option<LiveReport>>> {
        Arc::clone(&self.report)
    }

    fn conn_of(&self, device: u32) -> u32 {
        match self.mode {
            ConnectionMode::PerGateway => self.wire.devices[device as usize].gateway as u32,
            ConnectionMode::PerDevice => device,
        }
    }

    fn status_msg(&mut self, device: u32, sim_ms: SimMillis, reason: StatusReason) -> OutMsg {
        let d = self.devices[device as usize];
        self.wire.device_status(
            &DeviceStatus {
                device,
                device_ms: d.device_ms,
                battery_pct: d.battery_pct,
                battery: d.battery,
                signal: d.signal,
                reason,
            },
            &mut self.buf,
        );
        OutMsg {
            conn: self.conn_of(device),
            topic: Arc::clone(&self.wire.devices[device as usize].status_topic),
            payload: self.take_payload(),
            retain: true,
            ledger: None,
            offset_ms: sim_ms - self.epoch_ms,
        }
    }

    /// The payload just encoded into `buf`, as a slice of the batch's arena.
    fn take_payload(&mut self) -> bytes::Bytes {
        if self.arena.capacity() - self.arena.len() < self.buf.len() {
            self.arena = bytes::BytesMut::with_capacity((64 * 1024).max(self.buf.len()));
        }
        self.arena.extend_from_slice(self.buf.as_bytes());
        self.arena.split().freeze()
    }

    /// Moves the fates decided so far into the ledger table.
    fn drain_fates(&mut self) -> Result<(), SinkError> {
        self.publisher.take_fates(&mut self.fates);
        if !self.fates.is_empty() {
            self.parquet.write(Batch::new(&self.fates))?;
            self.fates.clear();
        }
        Ok(())
    }

    /// Publishes a tick's forwarded readings, with the status messages they cause.
    fn readings(&mut self, rows: &[Forwarded]) -> Result<(), SinkError> {
        let mut batch = Vec::with_capacity(rows.len() + 4);
        if !self.map_sent {
            self.map_sent = true;
            self.buf.clear();
            self.buf.push_str(&self.wire.site_map);
            batch.push(OutMsg {
                conn: 0,
                topic: Arc::clone(&self.wire.site_map_topic),
                payload: self.take_payload(),
                retain: true,
                ledger: None,
                offset_ms: 0,
            });
        }
        for r in rows {
            let dev = r.device.0;
            let signal = signal_of(r);
            let reason = {
                let st = &mut self.devices[dev as usize];
                st.battery_pct = r.battery_pct;
                st.device_ms = r.device_ms;
                let reason = match st.last_status_ms {
                    None => Some(StatusReason::Online),
                    Some(_) if signal != st.signal => Some(StatusReason::SignalChange),
                    Some(t) if r.sim_ms - t >= self.status_interval_ms => {
                        Some(StatusReason::Periodic)
                    }
                    Some(_) => None,
                };
                st.signal = signal;
                if reason.is_some() {
                    st.last_status_ms = Some(r.sim_ms);
                }
                reason
            };
            self.wire.telemetry(r, &mut self.buf);
            batch.push(OutMsg {
                conn: self.conn_of(dev),
                topic: Arc::clone(&self.wire.devices[dev as usize].telemetry_topic),
                payload: self.take_payload(),
                retain: false,
                ledger: Some((r.device, r.seq, r.sim_ms, r.forwarded_ms)),
                // Paced by when its gateway forwarded it (later than its measurement if it
                // waited in the gateway's spool).
                offset_ms: r.forwarded_ms - self.epoch_ms,
            });
            if let Some(reason) = reason {
                let m = self.status_msg(dev, r.sim_ms, reason);
                batch.push(m);
            }
        }
        if let Some(t) = rows.iter().map(|r| r.forwarded_ms).max() {
            self.publisher.set_sim_now(t);
        }
        self.publisher.send(batch)?;
        self.drain_fates()
    }

    /// Publishes the status messages of a tick's device events (those the device can know).
    fn device_events(&mut self, rows: &[DeviceEvent]) -> Result<(), SinkError> {
        let mut batch = Vec::with_capacity(rows.len());
        for e in rows.iter().filter(|e| e.kind.device_knows()) {
            let st = &mut self.devices[e.device.0 as usize];
            st.battery = match e.kind {
                DeviceEventKind::BatteryLow => BatteryState::Low,
                DeviceEventKind::BatteryDepleted => BatteryState::Depleted,
                _ => st.battery,
            };
            // The event's own time and battery, not the last reading's (which can be up to an
            // interval older: a BP cuff reads hourly).
            st.device_ms = e.device_ms;
            if let Some(pct) = e.battery_pct {
                st.battery_pct = pct;
            }
            if e.kind == DeviceEventKind::BatteryDepleted {
                st.battery_pct = 0.0;
            }
            st.last_status_ms = Some(e.sim_ms);
            let m = self.status_msg(e.device.0, e.sim_ms, StatusReason::Event(e.kind));
            batch.push(m);
        }
        self.publisher.send(batch)?;
        Ok(())
    }
}

impl RecordSink for LiveSink {
    /// Every kind goes to the run folder; readings and device events are published too. A
    /// live run records fates itself: fates that reach here (a gateway's radio and spool
    /// losses) pass through to the ledger.
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        self.parquet.write(batch)?;
        if let Some(rows) = batch.get::<Forwarded>() {
            self.readings(rows)
        } else if let Some(rows) = batch.get::<DeviceEvent>() {
            self.device_events(rows)
        } else {
            Ok(())
        }
    }
    fn finish(&mut self) -> Result<SinkReport, SinkError> {
        let report = self.publisher.finish(self.drain)?;
        self.drain_fates()?;
        *self.report.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
        self.parquet.finish()
    }
}
