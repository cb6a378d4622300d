//! RFC 3339 timestamps to Unix seconds and back, for the `exp`, `nbf` and
//! `iat` claims.
//!
//! We parse by hand rather than pull in a date crate: the grammar is small,
//! the input is untrusted (it comes out of a token, even if a signed one),
//! and the only thing the server needs is a Unix second to compare with the
//! clock. Every byte access goes through `get`, so no input can panic.

use crate::clock::{civil_from_days, days_from_civil};

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|z|+HH:MM|-HH:MM)` to Unix seconds.
///
/// The separator may be `T` or `t`. Any offset is accepted and folded in, so
/// `2030-01-01T00:00:00Z` and `2030-01-01T05:30:00+05:30` give the same
/// second. Fractional digits are dropped (rounding toward the past, which
/// ends a session early rather than late). Second `60` (a leap second, which
/// RFC 3339 allows) counts as the first second of the next minute.
///
/// Returns `None` for anything else: a missing or extra character, a month
/// outside 1..=12, a day the month does not have (leap years included), an
/// hour above 23, a minute above 59, a second above 60, an offset above
/// 23:59, or a missing zone.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    byte_is(b, 4, b'-')?;
    let month = digits(b, 5, 2)?;
    byte_is(b, 7, b'-')?;
    let day = digits(b, 8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't')) {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    byte_is(b, 13, b':')?;
    let minute = digits(b, 14, 2)?;
    byte_is(b, 16, b':')?;
    let second = digits(b, 17, 2)?;

    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }

    // Optional fraction: a dot and at least one digit.
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
    }

    // The zone, which must end the string.
    let offset_secs = match b.get(at) {
        Some(b'Z' | b'z') if b.len() == at + 1 => 0,
        Some(&sign @ (b'+' | b'-')) if b.len() == at + 6 => {
            let oh = digits(b, at + 1, 2)?;
            byte_is(b, at + 3, b':')?;
            let om = digits(b, at + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i64::from(oh) * 3600 + i64::from(om) * 60;
            if sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => return None,
    };

    let days = days_from_civil(i64::from(year), month, day);
    let local = days * DAY + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    // `+05:30` means local time is ahead of UTC, so UTC is local minus it.
    Some(local - offset_secs)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`, the form we mint.
///
/// Returns `None` outside years 0000..=9999, which four digits cannot hold
/// and which [`parse_rfc3339`] would refuse anyway.
pub fn format_rfc3339(unix_secs: i64) -> Option<String> {
    let days = unix_secs.div_euclid(DAY);
    let secs = unix_secs.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    ))
}

/// Reads exactly `n` ASCII digits at `at`; `None` if any is missing or not a
/// digit (so `+1` or ` 1` never slip through as a number).
fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let end = at.checked_add(n)?;
    b.get(at..end)?.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// `Some(())` if byte `at` is `want`.
fn byte_is(b: &[u8], at: usize, want: u8) -> Option<()> {
    (b.get(at) == Some(&want)).then_some(())
}

fn is_leap(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_forms() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01t00:00:00z"), Some(0));
        assert_eq!(parse_rfc3339("2030-01-01T00:00:00Z"), Some(1_893_456_000));
        assert_eq!(
            parse_rfc3339("2030-01-01T00:00:00+00:00"),
            Some(1_893_456_000)
        );
        assert_eq!(
            parse_rfc3339("2030-01-01T00:00:00-00:00"),
            Some(1_893_456_000)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1));
    }

    #[test]
    fn offsets_fold_into_utc() {
        // 2030-01-01T05:30:00Z
        let utc = 1_893_456_000 + 5 * 3600 + 30 * 60;
        assert_eq!(parse_rfc3339("2030-01-01T00:00:00-05:30"), Some(utc));
        assert_eq!(parse_rfc3339("2030-01-01T11:00:00+05:30"), Some(utc));
        assert_eq!(parse_rfc3339("2030-01-02T05:29:00+23:59"), Some(utc));
    }

    #[test]
    fn fractions_are_dropped() {
        assert_eq!(
            parse_rfc3339("2030-01-01T00:00:00.999999999Z"),
            Some(1_893_456_000)
        );
        assert_eq!(
            parse_rfc3339("2030-01-01T00:00:00.5+00:00"),
            Some(1_893_456_000)
        );
        assert_eq!(parse_rfc3339("2030-01-01T00:00:00.Z"), None);
        assert_eq!(parse_rfc3339("2030-01-01T00:00:00.1.2Z"), None);
    }

    #[test]
    fn leap_years() {
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_rfc3339("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("1900-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-04-31T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-12-31T23:59:59Z"), Some(1_735_689_599));
    }

    #[test]
    fn leap_second_rolls_over() {
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z"),
            parse_rfc3339("2017-01-01T00:00:00Z")
        );
    }

    #[test]
    fn bad_input_is_refused() {
        for bad in [
            "",
            "2030",
            "2030-01-01",
            "2030-01-01T00:00:00",
            "2030-01-01 00:00:00Z",
            "2030-1-01T00:00:00Z",
            "2030-00-01T00:00:00Z",
            "2030-13-01T00:00:00Z",
            "2030-01-00T00:00:00Z",
            "2030-01-32T00:00:00Z",
            "2030-01-01T24:00:00Z",
            "2030-01-01T00:60:00Z",
            "2030-01-01T00:00:61Z",
            "2030-01-01T00:00:00+24:00",
            "2030-01-01T00:00:00+05:60",
            "2030-01-01T00:00:00+0530",
            "2030-01-01T00:00:00+05:30x",
            "2030-01-01T00:00:00Zx",
            "2030-01-01T00:00:00UTC",
            "+030-01-01T00:00:00Z",
            "2030-01-01T00:00:0Z",
            "２030-01-01T00:00:00Z",
            "2030-01-01T00:00:00\u{0}Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_prefix_of_a_valid_stamp_is_refused_without_panic() {
        let s = "2030-01-01T00:00:00.123+05:30";
        for end in 0..s.len() {
            assert_eq!(parse_rfc3339(&s[..end]), None, "{:?}", &s[..end]);
        }
        assert!(parse_rfc3339(s).is_some());
    }

    #[test]
    fn format_round_trips() {
        assert_eq!(format_rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            format_rfc3339(1_709_164_800 + 3661).as_deref(),
            Some("2024-02-29T01:01:01Z")
        );
        assert_eq!(format_rfc3339(-1).as_deref(), Some("1969-12-31T23:59:59Z"));
        for t in [
            0,
            1,
            951_782_400,
            1_893_456_000,
            253_402_300_799,
            -62_167_219_200,
        ] {
            let s = format_rfc3339(t).unwrap();
            assert_eq!(parse_rfc3339(&s), Some(t), "{s}");
        }
        assert_eq!(format_rfc3339(253_402_300_800), None); // year 10000
        assert_eq!(format_rfc3339(-62_167_219_201), None); // year -1
        assert_eq!(format_rfc3339(i64::MAX), None);
        assert_eq!(format_rfc3339(i64::MIN), None);
    }
}
