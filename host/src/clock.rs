//! The clock, or `INFORGE_NOW` (RFC 3339) for rehearsals and tests, checked against the range
//! certificates can express.

use inforge_core::error::TimeError;
use time::OffsetDateTime;

/// The command's time.
pub fn now() -> Result<OffsetDateTime, inforge_core::Error> {
    let mut source = "INFORGE_NOW";
    let t = match std::env::var_os("INFORGE_NOW") {
        Some(v) => {
            let v = v
                .into_string()
                .map_err(|_| TimeError::Invalid { source_name: "INFORGE_NOW".into(), value: "(not UTF-8)".into() })?;
            inforge_core::model::time::parse_rfc3339("INFORGE_NOW", &v)?
        }
        None => {
            source = "the system clock";
            let t = OffsetDateTime::now_utc();
            t.replace_nanosecond(0).unwrap_or(t)
        }
    };
    inforge_core::model::time::check_now(source, t)
}
