//! The store area's failures (moved out of `model::store` so the error module depends on no area).

use crate::error::remedy::{Coded, Remedy};
use crate::model::limits::{FORMAT_VERSION, MIN_FORMAT_VERSION};

/// The store is malformed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// YAML syntax or schema error (unknown fields included).
    #[error("{file} is not a valid PKI store: {detail}")]
    Yaml {
        /// The store path.
        file: String,
        /// The parser's message, with location.
        detail: String,
    },
    /// A field holds something it must not.
    #[error("{file}: {location} {problem}")]
    Invalid {
        /// The store path.
        file: String,
        /// Dotted path of the field.
        location: String,
        /// What is wrong.
        problem: String,
    },
    /// Written by a newer inforge.
    #[error("{file} has format version {found}; this inforge reads versions {MIN_FORMAT_VERSION} to {FORMAT_VERSION}")]
    Version {
        /// The store path.
        file: String,
        /// The version found.
        found: u32,
    },
}

impl Coded for StoreError {
    fn code(&self) -> &'static str {
        match self {
            StoreError::Yaml { .. } => "store-invalid",
            StoreError::Invalid { .. } => "store-invalid",
            StoreError::Version { .. } => "store-version",
        }
    }
    fn remedy(&self) -> Remedy {
        let text: String = {
            match self {
                StoreError::Yaml { file, .. } | StoreError::Invalid { file, .. } => {
                    format!("the store is managed by `inforge pki`: restore it from git (`git checkout -- {file}`) rather than editing it")
                }
                StoreError::Version { .. } => "upgrade inforge".into(),
            }
        };
        text.into()
    }
}
