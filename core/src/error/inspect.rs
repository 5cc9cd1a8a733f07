//! The inspect area's failures (moved out of `views::inspect` so the error module depends on no area).

use crate::error::remedy::{Coded, Opt, Remedy};
use crate::remedy;

/// What the inspector could not decide from its inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    /// Neither the input, the store's certificates nor `inforge.yaml` names one environment.
    #[error("cannot tell which environment to check: {reason}")]
    EnvUnknown {
        /// Why not (e.g. "inforge.yaml declares 2 environments").
        reason: String,
    },
    /// A private key was given where a certificate chain belongs (its text is never echoed).
    #[error("{what} is a private key, not a certificate chain")]
    KeyNotChain {
        /// What was given (e.g. "the pasted chain").
        what: String,
    },
    /// A scope to check a leaf against was neither given nor named by the leaf.
    #[error("no scope to check the leaf against: {reason}")]
    NoScope {
        /// Why not.
        reason: String,
    },
}

impl Coded for InspectError {
    fn code(&self) -> &'static str {
        match self {
            InspectError::EnvUnknown { .. } => "env-unknown",
            InspectError::NoScope { .. } => "leaf-scope-unknown",
            InspectError::KeyNotChain { .. } => "chain-is-a-key",
        }
    }
    fn remedy(&self) -> Remedy {
        match self {
            InspectError::EnvUnknown { .. } => {
                remedy!["name the environment (the `env` input), or load its inforge.yaml"]
            }
            InspectError::NoScope { .. } => remedy!["name the bundle's scope (", Opt::Scope, ")"],
            InspectError::KeyNotChain { .. } => remedy![
                "give the service's cert.pem (its certificate chain, leaf first), never key.pem: a private key should not leave its host"
            ],
        }
    }
}
