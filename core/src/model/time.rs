//! Time is a parameter: the shells read the clock (or `INFORGE_NOW`) and hand it in.

use crate::error::{DurationError, TimeError};
use crate::model::limits::{MAX_YEAR, MIN_YEAR};
use ::time::format_description::well_known::Rfc3339;
use ::time::OffsetDateTime;

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
