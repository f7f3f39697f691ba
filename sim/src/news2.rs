//! NEWS2 (Royal College of Physicians, 2017), the twin's ground-truth deterioration score.
//!
//! The chart is kept as data: each parameter is a list of bands `(upper bound inclusive, score)`
//! checked in ascending order, exactly as the RCP chart prints them. Inputs are rounded to the
//! chart's resolution first (whole numbers; temperature to 0.1 °C), so a true heart rate of
//! 90.4 /min scores like a charted 90 and 90.6 like a charted 91.
//!
//! Every band edge is tested below; implementations in the wild get them wrong.

use serde::{Deserialize, Serialize};

/// A band list: `(upper bound inclusive, score)`, ascending; the last bound is `f64::INFINITY`.
pub type Bands = &'static [(f64, u8)];

/// Respiration rate, breaths /min: ≤8 → 3, 9–11 → 1, 12–20 → 0, 21–24 → 2, ≥25 → 3.
pub const RESP_RATE: Bands = &[
    (8.0, 3),
    (11.0, 1),
    (20.0, 0),
    (24.0, 2),
    (f64::INFINITY, 3),
];
/// SpO2 scale 1, %: ≤91 → 3, 92–93 → 2, 94–95 → 1, ≥96 → 0.
pub const SPO2_SCALE_1: Bands = &[(91.0, 3), (93.0, 2), (95.0, 1), (f64::INFINITY, 0)];
/// SpO2 scale 2 on air, %: ≤83 → 3, 84–85 → 2, 86–87 → 1, ≥88 → 0.
pub const SPO2_SCALE_2_AIR: Bands = &[(83.0, 3), (85.0, 2), (87.0, 1), (f64::INFINITY, 0)];
/// SpO2 scale 2 on oxygen, %: as on air up to 92, then 93–94 → 1, 95–96 → 2, ≥97 → 3.
pub const SPO2_SCALE_2_OXYGEN: Bands = &[
    (83.0, 3),
    (85.0, 2),
    (87.0, 1),
    (92.0, 0),
    (94.0, 1),
    (96.0, 2),
    (f64::INFINITY, 3),
];
/// Systolic blood pressure, mmHg: ≤90 → 3, 91–100 → 2, 101–110 → 1, 111–219 → 0, ≥220 → 3.
pub const SYSTOLIC_BP: Bands = &[
    (90.0, 3),
    (100.0, 2),
    (110.0, 1),
    (219.0, 0),
    (f64::INFINITY, 3),
];
/// Pulse, /min: ≤40 → 3, 41–50 → 1, 51–90 → 0, 91–110 → 1, 111–130 → 2, ≥131 → 3.
pub const PULSE: Bands = &[
    (40.0, 3),
    (50.0, 1),
    (90.0, 0),
    (110.0, 1),
    (130.0, 2),
    (f64::INFINITY, 3),
];
/// Temperature, °C: ≤35.0 → 3, 35.1–36.0 → 1, 36.1–38.0 → 0, 38.1–39.0 → 1, ≥39.1 → 2.
pub const TEMPERATURE: Bands = &[
    (35.0, 3),
    (36.0, 1),
    (38.0, 0),
    (39.0, 1),
    (f64::INFINITY, 2),
];
/// Supplemental oxygen scores 2, air 0.
pub const OXYGEN_SCORE: u8 = 2;
/// Any consciousness other than Alert (new confusion, voice, pain, unresponsive) scores 3.
pub const NOT_ALERT_SCORE: u8 = 3;

/// Level of consciousness on the ACVPU scale.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[repr(u8)]
pub enum Acvpu {
    #[default]
    Alert = 0,
    /// New confusion.
    Confused = 1,
    Voice = 2,
    Pain = 3,
    Unresponsive = 4,
}

impl Acvpu {
    pub fn letter(self) -> &'static str {
        ["A", "C", "V", "P", "U"][self as usize]
    }
}

/// Which SpO2 scale applies (scale 2 only for confirmed hypercapnic respiratory failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Spo2Scale {
    #[default]
    Scale1,
    Scale2,
}

impl Spo2Scale {
    pub fn number(self) -> u8 {
        match self {
            Spo2Scale::Scale1 => 1,
            Spo2Scale::Scale2 => 2,
        }
    }
}

/// The observations NEWS2 is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct News2Inputs {
    pub resp_rate: f64,
    pub spo2: f64,
    pub scale: Spo2Scale,
    pub on_oxygen: bool,
    pub systolic: f64,
    pub pulse: f64,
    pub consciousness: Acvpu,
    pub temp_c: f64,
}

/// NEWS2 sub-scores and total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct News2 {
    pub resp_rate: u8,
    pub spo2: u8,
    pub air_or_oxygen: u8,
    pub systolic: u8,
    pub pulse: u8,
    pub consciousness: u8,
    pub temperature: u8,
    pub total: u8,
}

/// The clinical response a NEWS2 result calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Response {
    /// 0: routine, observe at least 12-hourly.
    Routine,
    /// 1–4: low, 4–6-hourly.
    Low,
    /// A 3 in any single parameter (total below 5): low-medium, hourly, inform the medical team.
    LowMedium,
    /// 5–6: urgent, hourly, assessment within 1 h.
    Urgent,
    /// 7 or more: emergency, continuous monitoring, critical-care assessment within 30 min.
    Emergency,
}

/// Score of a charted `value` (already at the chart's resolution) in `bands`.
pub fn band_score(bands: Bands, value: f64) -> u8 {
    band_score_rounded(bands, value, 0.0)
}

/// Score in `bands` of `value` as it would be charted, rounded half-up to a resolution whose
/// half is `half`: for a positive value, `round(value) <= upper` exactly when
/// `value < upper + half`. Comparing against the shifted edge avoids a rounding call per
/// parameter per patient per step (it showed in profiles).
pub fn band_score_rounded(bands: Bands, value: f64, half: f64) -> u8 {
    for &(upper, score) in bands {
        if (half == 0.0 && value <= upper) || value < upper + half {
            return score;
        }
    }
    bands.last().map_or(0, |b| b.1)
}

/// Half of a whole number.
const WHOLE: f64 = 0.5;
/// Half of 0.1 °C.
const TENTH: f64 = 0.05;

impl News2 {
    /// Scores a set of observations.
    pub fn score(i: &News2Inputs) -> News2 {
        let spo2_bands = match (i.scale, i.on_oxygen) {
            (Spo2Scale::Scale1, _) => SPO2_SCALE_1,
            (Spo2Scale::Scale2, false) => SPO2_SCALE_2_AIR,
            (Spo2Scale::Scale2, true) => SPO2_SCALE_2_OXYGEN,
        };
        let mut n = News2 {
            resp_rate: band_score_rounded(RESP_RATE, i.resp_rate, WHOLE),
            spo2: band_score_rounded(spo2_bands, i.spo2, WHOLE),
            air_or_oxygen: if i.on_oxygen { OXYGEN_SCORE } else { 0 },
            systolic: band_score_rounded(SYSTOLIC_BP, i.systolic, WHOLE),
            pulse: band_score_rounded(PULSE, i.pulse, WHOLE),
            consciousness: if i.consciousness == Acvpu::Alert {
                0
            } else {
                NOT_ALERT_SCORE
            },
            temperature: band_score_rounded(TEMPERATURE, i.temp_c, TENTH),
            total: 0,
        };
        n.total = n.resp_rate
            + n.spo2
            + n.air_or_oxygen
            + n.systolic
            + n.pulse
            + n.consciousness
            + n.temperature;
        n
    }

    /// The highest single-parameter score.
    pub fn max_single(&self) -> u8 {
        [
            self.resp_rate,
            self.spo2,
            self.air_or_oxygen,
            self.systolic,
            self.pulse,
            self.consciousness,
            self.temperature,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// The response band.
    pub fn response(&self) -> Response {
        match self.total {
            7.. => Response::Emergency,
            5..=6 => Response::Urgent,
            _ if self.max_single() == 3 => Response::LowMedium,
            1.. => Response::Low,
            0 => Response::Routine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every band edge of every parameter: (value, expected score).
    #[test]
    #[rustfmt::skip]
    fn every_band_edge_scores_as_the_chart_says() {
        let cases: &[(Bands, &[(f64, u8)])] = &[
            (RESP_RATE, &[(0.0, 3), (8.0, 3), (9.0, 1), (11.0, 1), (12.0, 0), (20.0, 0), (21.0, 2), (24.0, 2), (25.0, 3), (60.0, 3)]),
            (SPO2_SCALE_1, &[(50.0, 3), (91.0, 3), (92.0, 2), (93.0, 2), (94.0, 1), (95.0, 1), (96.0, 0), (100.0, 0)]),
            (SPO2_SCALE_2_AIR, &[(83.0, 3), (84.0, 2), (85.0, 2), (86.0, 1), (87.0, 1), (88.0, 0), (92.0, 0), (93.0, 0), (100.0, 0)]),
            (SPO2_SCALE_2_OXYGEN, &[(83.0, 3), (84.0, 2), (85.0, 2), (86.0, 1), (87.0, 1), (88.0, 0), (92.0, 0), (93.0, 1), (94.0, 1), (95.0, 2), (96.0, 2), (97.0, 3), (100.0, 3)]),
            (SYSTOLIC_BP, &[(60.0, 3), (90.0, 3), (91.0, 2), (100.0, 2), (101.0, 1), (110.0, 1), (111.0, 0), (219.0, 0), (220.0, 3)]),
            (PULSE, &[(30.0, 3), (40.0, 3), (41.0, 1), (50.0, 1), (51.0, 0), (90.0, 0), (91.0, 1), (110.0, 1), (111.0, 2), (130.0, 2), (131.0, 3)]),
            (TEMPERATURE, &[(34.0, 3), (35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2), (41.0, 2)]),
        ];
        for (bands, edges) in cases {
            for &(v, want) in *edges {
                assert_eq!(band_score(bands, v), want, "value {v} in {bands:?}");
            }
        }
    }

    /// The shifted-edge comparison gives exactly what rounding then charting gives.
    #[test]
    fn scoring_continuous_values_equals_rounding_then_charting() {
        let mut v = 20.0;
        while v < 240.0 {
            for bands in [
                RESP_RATE,
                SPO2_SCALE_1,
                SPO2_SCALE_2_OXYGEN,
                SYSTOLIC_BP,
                PULSE,
            ] {
                assert_eq!(
                    band_score_rounded(bands, v, WHOLE),
                    band_score(bands, v.round()),
                    "{v}"
                );
            }
            v += 0.0137;
        }
        let mut t = 33.0;
        while t < 41.0 {
            let charted = (t * 10.0_f64).round() / 10.0;
            // Skip values within float noise of an exact half-tenth.
            if ((t * 10.0) - (t * 10.0).floor() - 0.5).abs() > 1e-9 {
                assert_eq!(
                    band_score_rounded(TEMPERATURE, t, TENTH),
                    band_score(TEMPERATURE, charted),
                    "{t}"
                );
            }
            t += 0.00731;
        }
    }

    fn normal() -> News2Inputs {
        News2Inputs {
            resp_rate: 16.0,
            spo2: 97.0,
            scale: Spo2Scale::Scale1,
            on_oxygen: false,
            systolic: 125.0,
            pulse: 75.0,
            consciousness: Acvpu::Alert,
            temp_c: 36.8,
        }
    }

    #[test]
    fn a_healthy_adult_on_air_scores_zero() {
        let n = News2::score(&normal());
        assert_eq!(n, News2::default());
        assert_eq!(n.response(), Response::Routine);
    }

    #[test]
    fn continuous_values_round_to_the_chart_resolution() {
        let mut i = normal();
        i.pulse = 90.4;
        assert_eq!(News2::score(&i).pulse, 0);
        i.pulse = 90.6;
        assert_eq!(News2::score(&i).pulse, 1);
        i.temp_c = 38.04;
        assert_eq!(News2::score(&i).temperature, 0);
        i.temp_c = 38.06;
        assert_eq!(News2::score(&i).temperature, 1);
    }

    #[test]
    fn oxygen_consciousness_and_scale_two_follow_the_chart() {
        let mut i = normal();
        i.on_oxygen = true;
        assert_eq!(News2::score(&i).air_or_oxygen, 2);
        // Scale 2 on oxygen: 97 % scores 3 (over-oxygenation risk); on air it scores 0.
        i.scale = Spo2Scale::Scale2;
        assert_eq!(News2::score(&i).spo2, 3);
        i.on_oxygen = false;
        assert_eq!(News2::score(&i).spo2, 0);
        for c in [
            Acvpu::Confused,
            Acvpu::Voice,
            Acvpu::Pain,
            Acvpu::Unresponsive,
        ] {
            i.consciousness = c;
            assert_eq!(News2::score(&i).consciousness, 3, "{c:?}");
        }
    }

    #[test]
    fn response_bands_follow_total_and_single_three() {
        let mut i = normal();
        i.resp_rate = 25.0; // 3 alone: low-medium
        let n = News2::score(&i);
        assert_eq!((n.total, n.response()), (3, Response::LowMedium));
        i.resp_rate = 22.0; // 2
        i.pulse = 95.0; // 1
        let n = News2::score(&i);
        assert_eq!((n.total, n.response()), (3, Response::Low));
        i.systolic = 105.0; // 1
        i.temp_c = 38.5; // 1
        let n = News2::score(&i);
        assert_eq!((n.total, n.response()), (5, Response::Urgent));
        i.on_oxygen = true; // 2
        let n = News2::score(&i);
        assert_eq!((n.total, n.response()), (7, Response::Emergency));
    }
}
