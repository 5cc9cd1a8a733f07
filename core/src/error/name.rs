//! The name area's failures (moved out of `model::names` so the error module depends on no area).

use crate::error::remedy::{Coded, Remedy};

/// A name breaks the SPIFFE naming rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Not a valid SPIFFE path segment.
    #[error(
        "{field} {value:?} is not a valid name: use 1 to 128 letters, digits, '.', '_' and '-' (not starting with '-', and not '.' or '..')"
    )]
    Segment {
        /// Which field or argument holds the name.
        field: String,
        /// The rejected value.
        value: String,
    },
    /// A name listed twice where each must be unique.
    #[error("{field} {value:?} is listed more than once")]
    Duplicate {
        /// Which list.
        field: String,
        /// The repeated value.
        value: String,
    },
    /// A name reserved by inforge.
    #[error("{field} {value:?} is reserved")]
    Reserved {
        /// Which field.
        field: String,
        /// The reserved value.
        value: String,
    },
    /// Not a valid DNS name.
    #[error("{field} {value:?} is not a valid DNS name: use dot-separated labels of letters, digits and '-' (1–63 characters each, no leading or trailing '-')")]
    Dns {
        /// Which field.
        field: String,
        /// The rejected value.
        value: String,
    },
    /// Not a valid SPIFFE trust domain.
    #[error(
        "{field} {value:?} is not a valid SPIFFE trust domain: use only lowercase letters, digits, '.', '_' and '-'"
    )]
    TrustDomain {
        /// Which field holds the name.
        field: String,
        /// The rejected value.
        value: String,
    },
}

impl Coded for NameError {
    fn code(&self) -> &'static str {
        match self {
            NameError::Segment { .. } => "name-invalid",
            NameError::TrustDomain { .. } => "trust-domain-invalid",
            NameError::Reserved { .. } => "name-reserved",
            NameError::Duplicate { .. } => "name-duplicate",
            NameError::Dns { .. } => "dns-name-invalid",
        }
    }
    fn remedy(&self) -> Remedy {
        let text: String = {
            match self {
                NameError::Segment { field, .. } => {
                    format!("rename {field} to match [A-Za-z0-9._-]+ (SPIFFE path segment rules)")
                }
                NameError::TrustDomain { field, .. } => {
                    format!("set {field} to a lowercase domain such as wardnet.example")
                }
                NameError::Reserved { value, .. } => {
                    format!("{value:?} is the global scope, not a region: remove it from regions.yaml (every mesh has `global`)")
                }
                NameError::Dns { field, .. } => format!("fix {field}; for example api.internal"),
                NameError::Duplicate { field, .. } => format!("list each entry of {field} once"),
            }
        };
        text.into()
    }
}
