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
}

impl crate::Coded for TimeError {
    fn code(&self) -> &'static str {
        "time-invalid"
    }
    fn hint(&self) -> String {
        "use an RFC 3339 timestamp such as 2026-11-22T10:00:00Z".into()
    }
}

/// Parses an RFC 3339 timestamp, naming `source_name` in the error.
pub fn parse_rfc3339(source_name: &str, value: &str) -> Result<OffsetDateTime, TimeError> {
    OffsetDateTime::parse(value.trim(), &Rfc3339)
        .map_err(|_| TimeError::Invalid { source_name: source_name.to_string(), value: value.to_string() })
}

/// Formats a timestamp as RFC 3339 in UTC, to the second.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(::time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}
