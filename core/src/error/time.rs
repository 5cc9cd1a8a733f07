//! The time area's failures (moved out of `model::time` so the error module depends on no area).

use crate::error::remedy::{Coded, Opt, Remedy};
use crate::model::limits::{MAX_YEAR, MIN_YEAR};
use crate::remedy;

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

impl Coded for TimeError {
    fn code(&self) -> &'static str {
        "time-invalid"
    }
    fn remedy(&self) -> Remedy {
        remedy![
            "use an RFC 3339 timestamp such as 2026-11-22T10:00:00Z, between ",
            MIN_YEAR.to_string(),
            " and ",
            MAX_YEAR.to_string(),
            " (check ",
            Opt::Now,
            " and the clock)"
        ]
    }
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

impl Coded for DurationError {
    fn code(&self) -> &'static str {
        "duration-invalid"
    }
    fn remedy(&self) -> Remedy {
        "write a whole number and one unit: d (days), h, m or s, e.g. 30d".into()
    }
}
