//! The units area's failures (moved out of `mesh::units` so the error module depends on no area).

use crate::error::remedy::{Coded, Opt, Remedy};
use crate::remedy;

/// A refusal to write units.
#[derive(Debug, thiserror::Error)]
pub enum UnitsError {
    /// The service has several scopes and none was chosen.
    #[error("service {service:?} has leaves in several scopes ({scopes}); a host runs in one")]
    ScopeRequired {
        /// Service.
        service: String,
        /// Its scopes, comma separated.
        scopes: String,
    },
    /// The chosen scope is not one of the service's.
    #[error("service {service:?} has no leaf in scope {scope:?} (its scopes: {scopes})")]
    ScopeNotServed {
        /// Service.
        service: String,
        /// Scope asked for.
        scope: String,
        /// Its scopes, comma separated.
        scopes: String,
    },
    /// A value that would break the unit's syntax: a control character (a newline would add
    /// unit lines) or a leading '-' (an option to the bootstrapper).
    #[error("{field} {value:?} cannot go into a systemd unit: {why}")]
    BadValue {
        /// Which input.
        field: String,
        /// The value.
        value: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A path for the host is not absolute or has characters systemd would misread.
    #[error("{field} {value:?} must be an absolute path without whitespace, quotes or '%'")]
    BadPath {
        /// Which input.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

impl Coded for UnitsError {
    fn code(&self) -> &'static str {
        match self {
            UnitsError::ScopeRequired { .. } => "units-scope-required",
            UnitsError::ScopeNotServed { .. } => "units-scope-unknown",
            UnitsError::BadPath { .. } => "units-path-invalid",
            UnitsError::BadValue { .. } => "units-value-invalid",
        }
    }
    fn remedy(&self) -> Remedy {
        match self {
            UnitsError::ScopeRequired { scopes, .. } | UnitsError::ScopeNotServed { scopes, .. } => {
                remedy!["pass ", Opt::Scope, format!(" with the host's region: one of {scopes}")]
            }
            UnitsError::BadValue { field, .. } => {
                format!("fix {field}: one line of text (a YAML block scalar adds a trailing newline: use a plain or quoted string), not starting with '-'").into()
            }
            UnitsError::BadPath { .. } => "give an absolute path such as /usr/local/bin/inforge-bootstrap".into(),
        }
    }
}
