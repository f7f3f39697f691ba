//! Device parameters, kept as data. Accuracy figures are of the order manufacturers state
//! (pulse oximetry ±2 % SpO2 (1 SD ≈ 1–2), ECG-derived HR ±2 /min, oscillometric NIBP
//! ±5 mmHg mean error with ≤8 mmHg SD per ISO 81060-2, clinical thermometers ±0.1–0.3 °C).

use wardtwin_sim::records::{ArtifactKind, DeviceKind, Metric};

/// How a device measures one quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Per-reading noise, SD.
    pub noise_sd: f64,
    /// Per-device calibration bias, SD across devices.
    pub bias_sd: f64,
    /// Reporting resolution (1 for integers, 0.1 for temperature).
    pub resolution: f64,
    /// Time constant of the noise, seconds: 0 for independent noise per reading; more for a
    /// device that averages (an oximeter's numeric is a moving average, so consecutive
    /// numerics share most of their error).
    pub noise_tau_s: f64,
    /// Display range of the device.
    pub min: f64,
    pub max: f64,
}

pub fn measurement(metric: Metric) -> Measurement {
    let m = |noise_sd, bias_sd, resolution, min, max| Measurement {
        noise_sd,
        bias_sd,
        resolution,
        noise_tau_s: 0.0,
        min,
        max,
    };
    let averaged = |tau: f64, m: Measurement| Measurement {
        noise_tau_s: tau,
        ..m
    };
    match metric {
        Metric::HeartRate => m(1.5, 1.0, 1.0, 20.0, 300.0),
        Metric::RespRate => m(1.2, 0.8, 1.0, 3.0, 70.0),
        // An oximeter averages over 4-16 s (Masimo SET default 8 s) and its error moves with
        // perfusion and probe position over tens of seconds: an error process of 40 s, SD
        // 0.7 (with the ±1 device bias, within the ±2 % ARMS of ISO 80601-2-61).
        Metric::Spo2 => averaged(40.0, m(0.7, 1.0, 1.0, 50.0, 100.0)),
        Metric::PulseRate => averaged(10.0, m(2.0, 1.0, 1.0, 20.0, 300.0)),
        Metric::BodyTemp => m(0.08, 0.12, 0.1, 30.0, 43.0),
        Metric::Systolic => m(4.0, 3.0, 1.0, 40.0, 260.0),
        Metric::Diastolic => m(3.0, 3.0, 1.0, 20.0, 200.0),
        // Computed by the cuff from its own systolic and diastolic.
        Metric::MeanArterial => m(0.0, 0.0, 1.0, 30.0, 220.0),
        // CGMs: noise and bias are *relative* (a share of the reading), plus an absolute
        // floor ([`CGM_ABS_NOISE_SD`]) that dominates in hypoglycaemia: a sensor's own bias (SD
        // 5 %) and an error that moves over 20 min (SD 9 %) give a MARD of ~9-10 % against
        // blood glucose with the interstitial lag (G7 8.2 %, Libre 3 7.8 %; in hospital
        // 10-13 %, Galindo et al. 2020); range 2.2-22.2 mmol/L (40-400 mg/dL).
        Metric::Glucose => averaged(1_200.0, m(0.09, 0.05, 0.1, 2.2, 22.2)),
        // A pump reports what it is programmed to do, exactly.
        Metric::InfusionRate => m(0.0, 0.0, 0.1, 0.0, 999.0),
        Metric::VolumeRemaining => m(0.0, 0.0, 1.0, 0.0, 9_999.0),
        Metric::BedOccupied => m(0.0, 0.0, 1.0, 0.0, 1.0),
        // Data loggers: ±0.5 °C accuracy (DOMAIN.md section 4), 0.1 °C resolution.
        Metric::AirTemp | Metric::ProductTemp => m(0.05, 0.2, 0.1, -90.0, 60.0),
        // Computed by the RTLS model itself (shadowing, position error): no extra noise.
        Metric::Rssi => m(0.0, 0.0, 1.0, -130.0, 0.0),
        Metric::PositionX | Metric::PositionY => m(0.0, 0.0, 0.01, -1.0e6, 1.0e6),
        Metric::DuressButton | Metric::Uplink => m(0.0, 0.0, 1.0, 0.0, 1.0),
        Metric::SpoolDepth | Metric::SpoolDropped => m(0.0, 0.0, 1.0, 0.0, 1.0e9),
    }
}

/// Battery: hours of use from full, and the range of the charge when the run starts (disposable
/// patches start fuller than shared rechargeable devices).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatterySpec {
    pub capacity_h: f64,
    pub initial_pct: (f64, f64),
}

/// A battery wave's cell (a bad batch): once it fails it sags to the low-battery threshold at
/// once and is empty this long after.
pub const BATTERY_SAG_MS: i64 = 10 * 60_000;

/// Readings a device of `kind` keeps on board while no receiver hears it, uploading them when
/// one does again (the kit's `buffer` overrides it). Most bedside devices stream and keep
/// nothing; the ones built to be worn away from a receiver store:
/// - ECG patch: patches like the Zio store the whole wear (14 days); the twin keeps 14 days of
///   its readings at a 1 s cadence;
/// - CGM: the transmitter backfills up to 24 h of 5-min readings (Dexcom G7; G6: 3 h);
/// - fridge logger: a data logger stores weeks of readings (WHO PQS E006 loggers: 60 days
///   or more), here 30 days at 1 min;
/// - pulse oximeter, BP cuff, temperature patch, pump, bed-exit sensor, tags: none.
pub fn onboard_buffer(kind: DeviceKind) -> usize {
    match kind {
        DeviceKind::EcgPatch => 14 * 86_400,
        DeviceKind::Cgm => 288,
        DeviceKind::FridgeLogger => 30 * 1_440,
        DeviceKind::PulseOximeter
        | DeviceKind::BpCuff
        | DeviceKind::TempPatch
        | DeviceKind::InfusionPump
        | DeviceKind::BedExitSensor
        | DeviceKind::AssetTag
        | DeviceKind::StaffBadge
        | DeviceKind::EdgeGateway => 0,
    }
}

pub fn battery(kind: DeviceKind) -> BatterySpec {
    match kind {
        // A 7-day disposable patch.
        DeviceKind::EcgPatch => BatterySpec {
            capacity_h: 168.0,
            initial_pct: (55.0, 100.0),
        },
        // Wrist-worn oximeter, recharged between patients.
        DeviceKind::PulseOximeter => BatterySpec {
            capacity_h: 96.0,
            initial_pct: (25.0, 100.0),
        },
        DeviceKind::BpCuff => BatterySpec {
            capacity_h: 72.0,
            initial_pct: (30.0, 100.0),
        },
        DeviceKind::TempPatch => BatterySpec {
            capacity_h: 336.0,
            initial_pct: (60.0, 100.0),
        },
        // A 14-day sensor.
        DeviceKind::Cgm => BatterySpec {
            capacity_h: 336.0,
            initial_pct: (30.0, 100.0),
        },
        // On mains; the battery only backs it up.
        DeviceKind::InfusionPump | DeviceKind::BedExitSensor => BatterySpec {
            capacity_h: 100_000.0,
            initial_pct: (90.0, 100.0),
        },
        // A logger's battery lasts a year or more; so does a tag's coin cell.
        DeviceKind::FridgeLogger | DeviceKind::AssetTag | DeviceKind::StaffBadge => BatterySpec {
            capacity_h: 8_760.0,
            initial_pct: (40.0, 100.0),
        },
        // On mains.
        DeviceKind::EdgeGateway => BatterySpec {
            capacity_h: 1.0e9,
            initial_pct: (100.0, 100.0),
        },
    }
}

/// Battery level at which a device reports low battery.
pub const LOW_BATTERY_PCT: f64 = 10.0;

/// Device clocks: offset at the start of the run (SD, ms) and drift (SD, parts per million).
/// Bedside devices are NTP-synchronised to within seconds; wearables drift by tens of ppm.
pub const CLOCK_OFFSET_SD_MS: f64 = 2_000.0;
pub const CLOCK_DRIFT_SD_PPM: f64 = 20.0;

/// Motion artifact: how far a reading is thrown off. False desaturation of 4–15 points on
/// SpO2; false tachycardia (ECG noise counted as beats) of 1.3–2× on HR.
pub const MOTION_SPO2_DROP: (f64, f64) = (4.0, 15.0);
pub const MOTION_PULSE_RISE: (f64, f64) = (15.0, 60.0);
pub const MOTION_HR_FACTOR: (f64, f64) = (1.3, 2.0);
pub const MOTION_RR_RISE: (f64, f64) = (4.0, 14.0);
pub const MOTION_BP_ERROR: (f64, f64) = (10.0, 35.0);

/// Shortest and longest random artifact.
pub const ARTIFACT_MIN_MS: i64 = 10_000;
pub const ARTIFACT_MAX_MS: i64 = 4 * 3_600_000;

/// A CGM's absolute noise (mmol/L), on top of its relative error: accuracy in the hypoglycaemic
/// range is given in mmol/L (±0.8 mmol/L, 15 mg/dL, ISO 15197-style agreement), not %.
pub const CGM_ABS_NOISE_SD: f64 = 0.2;

/// A CGM sensor's life and warm-up after insertion (Dexcom G7: 10 days, 30 min warm-up;
/// Libre 3: 14 days, 60 min). A sensor's age when the run starts is uniform over its life.
pub const CGM_SENSOR_LIFE_MS: i64 = 10 * 86_400_000;
pub const CGM_WARM_UP_MS: i64 = 30 * 60_000;

/// A temperature patch that lost skin contact reads this much low (°C): its edge lifts and it
/// reads between skin and room temperature.
pub const SKIN_CONTACT_DROP: (f64, f64) = (0.8, 3.0);

/// A device kind's own failure mode, random at a rate per device-day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Failure {
    pub device: DeviceKind,
    pub artifact: ArtifactKind,
    /// Per device-day (or, for [`Failure::per_reading`], the share of readings).
    pub rate: f64,
    pub per_reading: bool,
    /// Mean duration (exponential) and its bounds, ms.
    pub mean_ms: i64,
    pub range_ms: (i64, i64),
}

const MIN: i64 = 60_000;

/// Every device kind's documented failure modes (scaled by the scenario's
/// `[artifacts] device_failures`). Rates are published or defensible figures:
/// - **cuff**: oscillometric measurements that fail (motion, a loose cuff, arrhythmia) and
///   give `cuff_error`: 2-5 % on wards; inflating a second time before a reading: ~5 %;
/// - **temperature patch**: adhesive wearables come off in 5-20 % of multi-day wears (a
///   detachment, `sensor_off`, until a nurse re-applies it) and lose skin contact at an edge
///   more often (reads low, unflagged);
/// - **oximeter**: low perfusion (cold hands, vasoconstriction) blanks the numeric with a
///   "Low Perf" INOP for minutes, about once every two days per patient;
/// - **CGM**: signal loss ("???" or "signal loss" alarms) of tens of minutes a few times a
///   week; its warm-up after a sensor change is scheduled from its life
///   ([`CGM_SENSOR_LIFE_MS`]).
pub const FAILURES: [Failure; 6] = [
    Failure {
        device: DeviceKind::BpCuff,
        artifact: ArtifactKind::CuffFailure,
        rate: 0.035,
        per_reading: true,
        mean_ms: 2 * MIN,
        range_ms: (2 * MIN, 2 * MIN),
    },
    Failure {
        device: DeviceKind::BpCuff,
        artifact: ArtifactKind::Reinflation,
        rate: 0.05,
        per_reading: true,
        mean_ms: MIN,
        range_ms: (MIN, MIN),
    },
    Failure {
        device: DeviceKind::TempPatch,
        artifact: ArtifactKind::ProbeOff,
        rate: 0.05,
        per_reading: false,
        mean_ms: 3 * 60 * MIN,
        range_ms: (10 * MIN, 12 * 60 * MIN),
    },
    Failure {
        device: DeviceKind::TempPatch,
        artifact: ArtifactKind::SkinContactLoss,
        rate: 0.2,
        per_reading: false,
        mean_ms: 40 * MIN,
        range_ms: (10 * MIN, 4 * 60 * MIN),
    },
    Failure {
        device: DeviceKind::PulseOximeter,
        artifact: ArtifactKind::LowPerfusion,
        rate: 0.5,
        per_reading: false,
        mean_ms: 5 * MIN,
        range_ms: (MIN / 2, 60 * MIN),
    },
    Failure {
        device: DeviceKind::Cgm,
        artifact: ArtifactKind::SignalLoss,
        rate: 0.3,
        per_reading: false,
        mean_ms: 30 * MIN,
        range_ms: (5 * MIN, 3 * 60 * MIN),
    },
];

/// CGM compression low: how far the reading falls (mmol/L), and how long it lasts.
pub const COMPRESSION_LOW_DROP: (f64, f64) = (1.5, 3.5);
pub const COMPRESSION_LOW_MS: (i64, i64) = (20 * 60_000, 60 * 60_000);
