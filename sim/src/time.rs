//! Simulation time.
//!
//! The model never reads the wall clock: it is handed time. Simulation time is an `i64` count of
//! milliseconds since the Unix epoch, UTC ([`SimMillis`]); a run starts at its scenario's epoch and
//! moves in fixed steps. Pacing to the wall clock, when wanted, is the runner's job.

use std::fmt::Write as _;

/// Milliseconds since 1970-01-01T00:00:00Z. Simulation time, never wall-clock time.
pub type SimMillis = i64;

/// Milliseconds in common units.
pub const SECOND_MS: i64 = 1_000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Formats simulation time as ISO 8601 UTC with millisecond precision:
/// `2026-03-02T06:30:00.000Z`.
pub fn format_iso_ms(t: SimMillis) -> String {
    let mut s = String::with_capacity(24);
    write_iso_ms(&mut s, t);
    s
}

/// Appends the ISO 8601 form of `t` to `out` (no allocation when `out` has room).
pub fn write_iso_ms(out: &mut String, t: SimMillis) {
    let days = t.div_euclid(DAY_MS);
    let ms_of_day = t.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    let h = ms_of_day / HOUR_MS;
    let mi = (ms_of_day / MINUTE_MS) % 60;
    let s = (ms_of_day / SECOND_MS) % 60;
    let ms = ms_of_day % SECOND_MS;
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z");
}

/// Parses ISO 8601 UTC as [`format_iso_ms`] writes it (`2026-03-02T06:30:00.000Z`); the
/// fraction may have 0 to 3 digits, and the zone must be `Z`. `None` if it is anything else.
pub fn parse_iso_ms(s: &str) -> Option<SimMillis> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit())).then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = &s[19..s.len() - 1];
    let ms = match frac.strip_prefix('.') {
        None if frac.is_empty() => 0,
        Some(f) if (1..=3).contains(&f.len()) => {
            num(20..20 + f.len())? * 10_i64.pow(3 - f.len() as u32)
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    if civil_from_days(days) != (y, mo as u32, d as u32) {
        return None;
    }
    Some(days * DAY_MS + h * HOUR_MS + mi * MINUTE_MS + sec * SECOND_MS + ms)
}

/// Error from [`parse_duration`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a duration: expected e.g. \"90s\", \"15m\", \"6h30m\", \"1d\", \"250ms\" or \"06:30\" (hh:mm[:ss])"
)]
pub struct DurationError {
    pub input: String,
}

/// Parses a duration: a sequence of `<integer><unit>` with units `d`, `h`, `m`, `s`, `ms`
/// (`"6h30m"`, `"90s"`, `"1d 2h"`), or a clock-style `hh:mm[:ss]` (`"06:30"` = 6 h 30 min).
pub fn parse_duration(input: &str) -> Result<i64, DurationError> {
    let err = || DurationError {
        input: input.to_string(),
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err());
    }
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(err());
        }
        let mut nums = [0i64; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            nums[i] = p.parse().map_err(|_| err())?;
        }
        if nums[1] >= 60 || nums[2] >= 60 {
            return Err(err());
        }
        // `h:mm[:ss]`; an hour count too large for milliseconds is an error, not a wrap.
        return nums[0]
            .checked_mul(HOUR_MS)
            .and_then(|h| h.checked_add(nums[1] * MINUTE_MS + nums[2] * SECOND_MS))
            .ok_or_else(err);
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(err());
        }
        let n: i64 = s[start..i].parse().map_err(|_| err())?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = match &s[ustart..i] {
            "d" => DAY_MS,
            "h" => HOUR_MS,
            "m" | "min" => MINUTE_MS,
            "s" => SECOND_MS,
            "ms" => 1,
            _ => return Err(err()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(err)?;
    }
    Ok(total)
}

/// Formats a duration compactly (`"6h30m"`, `"90s"` → `"1m30s"`, `"0s"`).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms.abs();
    if ms < 0 {
        out.push('-');
    }
    for (unit, name) in [
        (DAY_MS, "d"),
        (HOUR_MS, "h"),
        (MINUTE_MS, "m"),
        (SECOND_MS, "s"),
        (1, "ms"),
    ] {
        if rest >= unit {
            let _ = write!(out, "{}{}", rest / unit, name);
            rest %= unit;
        }
    }
    out
}

#[cfg(test)]
mod iso_tests {
    use super::*;

    #[test]
    fn iso_round_trips_and_rejects_what_it_cannot_read() {
        for t in [0, 1_772_431_800_123, 951_782_400_000 - 1] {
            assert_eq!(parse_iso_ms(&format_iso_ms(t)), Some(t));
        }
        assert_eq!(parse_iso_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_iso_ms("1970-01-01T00:00:01.5Z"), Some(1500));
        for bad in [
            "",
            "2026-03-02",
            "2026-03-02T06:30:00.000",
            "2026-03-02T06:30:00.000+01:00",
            "2026-02-30T06:30:00Z",
            "2026-03-02T24:00:00Z",
            "2026-03-02T06:30:00.1234Z",
            "2026-03-02T06:3x:00Z",
        ] {
            assert_eq!(parse_iso_ms(bad), None, "{bad}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_covers_leap_years_and_negative_days() {
        for days in [-800_000, -1, 0, 1, 10_957, 19_782, 20_514, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(civil_from_days(20_514), (2026, 3, 2));
    }

    #[test]
    fn iso_format_is_utc_with_milliseconds() {
        let t = days_from_civil(2026, 3, 2) * DAY_MS + 6 * HOUR_MS + 30 * MINUTE_MS + 5_042;
        assert_eq!(format_iso_ms(t), "2026-03-02T06:30:05.042Z");
        assert_eq!(format_iso_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn durations_parse_in_every_documented_form() {
        assert_eq!(parse_duration("6h30m"), Ok(6 * HOUR_MS + 30 * MINUTE_MS));
        assert_eq!(parse_duration("06:30"), Ok(6 * HOUR_MS + 30 * MINUTE_MS));
        assert_eq!(parse_duration("00:00:15"), Ok(15 * SECOND_MS));
        assert_eq!(parse_duration("1d 2h"), Ok(DAY_MS + 2 * HOUR_MS));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("90s"), Ok(90 * SECOND_MS));
        for bad in ["", "6x", "h", "1.5h", "06:75", "1:2:3:4", "-5m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
    }

    /// Hardening issue: `144115188075855896:00` wrapped silently to one day.
    #[test]
    fn durations_that_overflow_are_errors_not_wraps() {
        for bad in [
            "144115188075855896:00",
            "9223372036854775807:00:00",
            "106751991167301d",
            "9223372036854775807ms 1ms",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn durations_format_back() {
        assert_eq!(format_duration(6 * HOUR_MS + 30 * MINUTE_MS), "6h30m");
        assert_eq!(format_duration(90 * SECOND_MS), "1m30s");
        assert_eq!(
            parse_duration(&format_duration(123_456_789)),
            Ok(123_456_789)
        );
    }
}
