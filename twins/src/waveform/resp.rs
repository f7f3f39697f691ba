//! Impedance respiration: a breath every `breath_ms`, inspiration a third of it and
//! expiration two thirds (I:E 1:2), 1 ohm from trough to peak.

/// The impedance change (ohms, 0 at end-expiration) at `t` (ms).
pub fn at(t: f64, breath_ms: f64) -> f64 {
    let x = (t / breath_ms).fract();
    // Rise over the first third, fall over the rest: a cosine on a warped phase.
    let phase = if x < 1.0 / 3.0 {
        x * 1.5
    } else {
        0.5 + (x - 1.0 / 3.0) * 0.75
    };
    0.5 * (1.0 - (std::f64::consts::TAU * phase).cos())
}
