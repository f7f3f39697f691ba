//! [`LiveSink`]: the run folder plus the live stream.
//!
//! Every table still goes to Parquet; readings and device status messages (the twin's
//! emissions) are also encoded as wire payloads and handed to the [`Publisher`], and the
//! emission ledger is filled with the fates the publisher decides (in the order they become
//! known).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wardtwin_sim::records::{
    ChartRecord, EmissionFate, EmissionKind, Forwarded, StatusReport, WaveFrame,
};
use wardtwin_sim::time::SimMillis;
use wardtwin_sim::{Batch, RecordSink, SinkError, SinkReport};

use super::options::{ConnectionMode, LiveOptions};
use super::publisher::{LedgerKey, LiveReport, OutMsg, Publisher};
use crate::ParquetSink;
use crate::wire::WireDirectory;

/// Writes the run folder and publishes the stream. The records and the publisher's fates go to
/// `S` (the run folder's [`ParquetSink`]; the visual ward's sessions give it a ledger of their
/// own).
pub struct LiveSink<S: RecordSink = ParquetSink> {
    parquet: S,
    publisher: Publisher,
    wire: Arc<WireDirectory>,
    mode: ConnectionMode,
    epoch_ms: SimMillis,
    /// The scenario's step (a waveform frame's sequence number is its step's).
    step_ms: i64,
    drain: Duration,
    buf: String,
    /// Payloads of one batch share one allocation (split off as `Bytes`), so neither thread
    /// allocates or frees per message.
    arena: bytes::BytesMut,
    fates: Vec<EmissionFate>,
    report: Arc<Mutex<Option<LiveReport>>>,
    /// The retained site map goes out with the first batch.
    map_sent: bool,
    /// Each reading's FHIR copy too (`--fhir-topic`), and its buffer.
    fhir: Option<crate::fhir::LiveFhir>,
    fhir_buf: Vec<u8>,
}

impl<S: RecordSink> LiveSink<S> {
    /// Writes through `parquet` and publishes through `publisher` (started with `opts`);
    /// `epoch_ms` is the scenario's epoch (offsets for pacing are taken from it).
    pub fn new(
        parquet: S,
        publisher: Publisher,
        wire: Arc<WireDirectory>,
        opts: &LiveOptions,
        epoch_ms: SimMillis,
    ) -> Self {
        Self {
            parquet,
            publisher,
            wire,
            mode: opts.connection,
            epoch_ms,
            step_ms: 1000,
            drain: opts.drain_timeout,
            buf: String::with_capacity(512),
            arena: bytes::BytesMut::new(),
            fates: Vec::new(),
            report: Arc::new(Mutex::new(None)),
            map_sent: false,
            fhir: None,
            fhir_buf: Vec::new(),
        }
    }

    /// Also publishes each reading as FHIR R4: a transaction Bundle of its Observations on the
    /// device's `…/fhir` topic, with a ledger entry of its own (kind `fhir`); and each round of
    /// the chart as a Bundle on its ward's `…/chart/fhir` topic (counted, outside the ledger).
    pub fn with_fhir(mut self, dir: &wardtwin_sim::Directory) -> Self {
        self.fhir = Some(crate::fhir::LiveFhir::new(dir));
        self
    }

    /// The scenario's step (default 1 s).
    pub fn with_step(mut self, step_ms: i64) -> Self {
        self.step_ms = step_ms;
        self
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

    /// The payload just encoded into `buf`, as a slice of the batch's arena.
    fn take_payload(&mut self) -> bytes::Bytes {
        let buf = std::mem::take(&mut self.buf);
        let b = self.in_arena(buf.as_bytes());
        self.buf = buf;
        b
    }

    /// `bytes`, copied into the batch's arena.
    fn in_arena(&mut self, bytes: &[u8]) -> bytes::Bytes {
        if self.arena.capacity() - self.arena.len() < bytes.len() {
            self.arena = bytes::BytesMut::with_capacity((64 * 1024).max(bytes.len()));
        }
        self.arena.extend_from_slice(bytes);
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
                conn: self.publisher.control(),
                topic: Arc::clone(&self.wire.site_map_topic),
                payload: self.take_payload(),
                retain: true,
                ledger: None,
                chart: false,
                offset_ms: 0,
            });
        }
        for r in rows {
            let dev = r.device.0;
            self.wire.telemetry(r, &mut self.buf);
            batch.push(OutMsg {
                conn: self.conn_of(dev),
                topic: Arc::clone(&self.wire.devices[dev as usize].telemetry_topic),
                payload: self.take_payload(),
                retain: false,
                ledger: Some(LedgerKey {
                    device: r.device,
                    kind: EmissionKind::Telemetry,
                    seq: r.seq,
                    sim_ms: r.sim_ms,
                    forwarded_ms: r.forwarded_ms,
                }),
                chart: false,
                // Paced by when its gateway forwarded it (later than its measurement if it
                // waited in the gateway's spool).
                offset_ms: r.forwarded_ms - self.epoch_ms,
            });
            let mut fb = std::mem::take(&mut self.fhir_buf);
            if let Some(fhir) = self.fhir.as_mut()
                && fhir.bundle(r, &mut fb)
            {
                let payload = self.in_arena(&fb);
                batch.push(OutMsg {
                    conn: self.conn_of(dev),
                    topic: Arc::clone(&self.wire.devices[dev as usize].fhir_topic),
                    payload,
                    retain: false,
                    ledger: Some(LedgerKey {
                        device: r.device,
                        kind: EmissionKind::Fhir,
                        seq: r.seq,
                        sim_ms: r.sim_ms,
                        forwarded_ms: r.forwarded_ms,
                    }),
                    chart: false,
                    offset_ms: r.forwarded_ms - self.epoch_ms,
                });
            }
            self.fhir_buf = fb;
        }
        if let Some(t) = rows.iter().map(|r| r.forwarded_ms).max() {
            self.publisher.set_sim_now(t);
        }
        self.publisher.send(batch)?;
        self.drain_fates()
    }

    /// Publishes a tick's device status messages (retained: the last one is what a newcomer
    /// sees), each with its ledger entry.
    fn statuses(&mut self, rows: &[StatusReport]) -> Result<(), SinkError> {
        let mut batch = Vec::with_capacity(rows.len());
        for s in rows {
            self.wire.device_status(s, &mut self.buf);
            let dev = s.device.0;
            batch.push(OutMsg {
                conn: self.conn_of(dev),
                topic: Arc::clone(&self.wire.devices[dev as usize].status_topic),
                payload: self.take_payload(),
                retain: true,
                ledger: Some(LedgerKey {
                    device: s.device,
                    kind: EmissionKind::Status,
                    seq: s.seq,
                    sim_ms: s.sim_ms,
                    forwarded_ms: s.forwarded_ms,
                }),
                chart: false,
                offset_ms: s.sim_ms - self.epoch_ms,
            });
        }
        self.publisher.send(batch)?;
        self.drain_fates()
    }
}

impl<S: RecordSink> LiveSink<S> {
    /// Publishes the chart's rounds (`--fhir-topic`): each charted round as a transaction
    /// Bundle on its ward's chart topic, over the twin's own connection (the EHR is not behind
    /// a ward's gateway). A missed round charts nothing.
    fn chart(&mut self, rows: &[ChartRecord]) -> Result<(), SinkError> {
        let Some(fhir) = self.fhir.take() else {
            return Ok(());
        };
        let mut batch = Vec::new();
        let mut buf = std::mem::take(&mut self.fhir_buf);
        for r in rows {
            let Some(charted_ms) = fhir.chart_bundle(r, &mut buf) else {
                continue;
            };
            let payload = self.in_arena(&buf);
            batch.push(OutMsg {
                conn: self.publisher.control(),
                topic: Arc::clone(&self.wire.chart_topics[r.patient.0 as usize]),
                payload,
                retain: false,
                ledger: None,
                chart: true,
                offset_ms: charted_ms - self.epoch_ms,
            });
        }
        self.fhir_buf = buf;
        self.fhir = Some(fhir);
        if batch.is_empty() {
            return Ok(());
        }
        self.publisher.send_chart(batch)?;
        Ok(())
    }

    /// Publishes a step's waveform frames: each signal on the waveform topic of the device that
    /// measures it (a patient without that device has none on the wire), QoS as configured,
    /// not retained. Frames are a stream beside the emissions: they are not in the ledger.
    fn waveforms(&mut self, rows: &[WaveFrame]) -> Result<(), SinkError> {
        let mut batch = Vec::with_capacity(rows.len() * 3);
        for f in rows {
            let devices = self.wire.waveform_devices[f.patient.0 as usize];
            let seq = ((f.sim_ms - self.epoch_ms) / self.step_ms.max(1)) as u64;
            for (k, sig) in crate::wire::WAVE_SIGNALS.iter().enumerate() {
                let Some(dev) = devices[sig.5] else {
                    continue;
                };
                self.wire
                    .waveform(dev, f, k, self.epoch_ms, seq, &mut self.buf);
                batch.push(OutMsg {
                    conn: self.conn_of(dev),
                    topic: Arc::clone(&self.wire.devices[dev as usize].waveform_topic),
                    payload: self.take_payload(),
                    retain: false,
                    ledger: None,
                    chart: false,
                    offset_ms: f.sim_ms - self.epoch_ms,
                });
            }
        }
        self.publisher.send_waveforms(batch)?;
        Ok(())
    }
}

impl<S: RecordSink> RecordSink for LiveSink<S> {
    /// Every kind goes to the run folder; readings and status messages are published too. A
    /// live run records fates itself: fates that reach here (a gateway's radio and spool
    /// losses) pass through to the ledger.
    fn write(&mut self, batch: Batch<'_>) -> Result<(), SinkError> {
        self.parquet.write(batch)?;
        if let Some(rows) = batch.get::<Forwarded>() {
            self.readings(rows)
        } else if let Some(rows) = batch.get::<StatusReport>() {
            self.statuses(rows)
        } else if let Some(rows) = batch.get::<WaveFrame>() {
            self.waveforms(rows)
        } else if let Some(rows) = batch.get::<ChartRecord>() {
            self.chart(rows)
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
