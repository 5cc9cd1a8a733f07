//! Time is a parameter: the shells read the clock (or `INFORGE_NOW`) and hand it in.

use ::time::format_description::well_known::Rfc3339;
use ::time::OffsetDateTime;

/// A timestamp could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum TimeError {
    /// The value is not an RFC 3339 timestamp.
    #[error("{source_name} is not an RFC 3339 timestamp: {value:?}")]
    Invalid {
        /// Where the value came from (an env var or a store field).
        source_name: String,
        /// The rejected value (timestamps are not secret).
        value: String,
    },
    /// A time, or a time plus a lifetime, falls outside what certificates can express.
    #[error("{source_name} {value} is outside the supported range (years {MIN_YEAR} to {MAX_YEAR})")]
    OutOfRange {
        /// Where the value came from.
        source_name: String,
        /// The time, formatted.
        value: String,
    },
}

/// Parses a duration such as `30d`, `12h`, `45m`, `90s` (one number, one unit; up to ten
/// years), e.g. `pki status --fail-within`.
pub fn parse_duration(source_name: &str, value: &str) -> Result<::time::Duration, crate::Error> {
    let v = value.trim();
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: i64 = num.parse().map_err(|_| DurationError { source_name: source_name.into(), value: value.into() })?;
    let secs = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" => Some(n),
        "" if n == 0 => Some(0),
        _ => None,
    }
    .ok_or_else(|| DurationError { source_name: source_name.into(), value: value.into() })?;
    if secs > 3_660 * 86_400 {
        return Err(DurationError { source_name: source_name.into(), value: value.into() }.into());
    }
    Ok(::time::Duration::seconds(secs))
}

/// A duration could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("{source_name} is not a duration such as 30d, 12h, 45m or 90s (at most 3660d): {value:?}")]
pub struct DurationError {
    /// Where it came from.
    pub source_name: String,
    /// The rejected value.
    pub value: String,
}

impl crate::Coded for DurationError {
    fn code(&self) -> &'static str {
        "duration-invalid"
    }
    fn remedy(&self) -> crate::error::Remedy {
        "write a whole number and one unit: d (days), h, m or s, e.g. 30d".into()
    }
}

/// The earliest year inforge works in: an earlier time is a clock that was never set (a
/// machine booted at the Unix epoch), not a rehearsal.
pub const MIN_YEAR: i32 = 2000;
/// The latest year inforge works in: a ten-year root minted then still ends before 9999, the
/// last year X.509 GeneralizedTime can hold.
pub const MAX_YEAR: i32 = 9980;

impl crate::Coded for TimeError {
    fn code(&self) -> &'static str {
        "time-invalid"
    }
    fn remedy(&self) -> crate::error::Remedy {
        crate::remedy![
            "use an RFC 3339 timestamp such as 2026-11-22T10:00:00Z, between ",
            MIN_YEAR.to_string(),
            " and ",
            MAX_YEAR.to_string(),
            " (check ",
            crate::error::Opt::Now,
            " and the clock)"
        ]
    }
}

/// Parses an RFC 3339 timestamp, naming `source_name` in the error.
pub fn parse_rfc3339(source_name: &str, value: &str) -> Result<OffsetDateTime, crate::Error> {
    OffsetDateTime::parse(value.trim(), &Rfc3339)
        .map_err(|_| TimeError::Invalid { source_name: source_name.to_string(), value: value.to_string() }.into())
}

/// Checks that an operation's time is in the range inforge works in ([`MIN_YEAR`] to
/// [`MAX_YEAR`]), so no lifetime arithmetic can leave what certificates can express.
pub fn check_now(source_name: &str, now: OffsetDateTime) -> Result<OffsetDateTime, crate::Error> {
    if now.year() < MIN_YEAR || now.year() > MAX_YEAR {
        return Err(TimeError::OutOfRange { source_name: source_name.to_string(), value: format_rfc3339(now) }.into());
    }
    Ok(now)
}

/// `t + days`, or an out-of-range error naming `source_name` (never a panic).
pub fn add_days(source_name: &str, t: OffsetDateTime, days: i64) -> Result<OffsetDateTime, crate::Error> {
    // Bounded before multiplying: `Duration::days` panics past i64 seconds.
    Some(days)
        .filter(|d| d.unsigned_abs() <= 10_000_000)
        .and_then(|d| t.checked_add(::time::Duration::days(d)))
        .filter(|r| r.year() <= MAX_YEAR + 20)
        .ok_or_else(|| TimeError::OutOfRange { source_name: source_name.to_string(), value: format_rfc3339(t) }.into())
}

/// Formats a timestamp as RFC 3339 in UTC, to the second.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(::time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}
