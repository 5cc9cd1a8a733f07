//! The projection area's failures (moved out of `mesh::projection` so the error module depends on no area).

use crate::error::remedy::{Coded, Op, Remedy, Step};
use crate::remedy;

/// Why a fetched set must not be projected.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// A file of the set is missing or does not parse.
    #[error("{file} of {service}/{scope} is missing or malformed: {detail}")]
    Malformed {
        /// Service.
        service: String,
        /// Scope.
        scope: String,
        /// Which file.
        file: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// `key.pem` is not the leaf's key.
    #[error("key.pem of {service}/{scope} does not belong to the leaf in cert.pem")]
    KeyMismatch {
        /// Service.
        service: String,
        /// Scope.
        scope: String,
    },
    /// The leaf names another service or scope, or claims a scope its issuer does not serve.
    #[error("the leaf in {service}/{scope} is not this service's leaf in this scope: {found}")]
    WrongIdentity {
        /// Service.
        service: String,
        /// Scope.
        scope: String,
        /// What the leaf claims.
        found: String,
    },
    /// The leaf does not chain to any member of the bundle.
    #[error("the leaf in {service}/{scope} does not chain to any certificate of bundle.pem")]
    Untrusted {
        /// Service.
        service: String,
        /// Scope.
        scope: String,
    },
    /// A CRL of `crl.pem`, signed by the leaf's issuer, lists the leaf.
    #[error("the leaf in {service}/{scope} (serial {serial}) is revoked: its issuer's CRL in crl.pem lists it")]
    Revoked {
        /// Service.
        service: String,
        /// Scope.
        scope: String,
        /// The leaf's serial, hex.
        serial: String,
    },
    /// The leaf (or the bundle member it chains to) is not valid now.
    #[error("the leaf in {service}/{scope} is not valid now ({when}): it is valid {from} to {until}")]
    NotValidNow {
        /// Service.
        service: String,
        /// Scope.
        scope: String,
        /// Now, RFC 3339.
        when: String,
        /// notBefore.
        from: String,
        /// notAfter.
        until: String,
    },
}

impl Coded for ProjectionError {
    fn code(&self) -> &'static str {
        match self {
            ProjectionError::Malformed { .. } => "set-malformed",
            ProjectionError::KeyMismatch { .. } => "set-key-mismatch",
            ProjectionError::WrongIdentity { .. } => "set-wrong-identity",
            ProjectionError::Untrusted { .. } => "set-untrusted",
            ProjectionError::NotValidNow { .. } => "set-not-valid-now",
            ProjectionError::Revoked { .. } => "set-revoked",
        }
    }
    fn remedy(&self) -> Remedy {
        match self {
            ProjectionError::NotValidNow { .. } => remedy![
                "the provider holds an expired or future leaf: run `",
                Step::new(Op::Renew),
                "` from CI, and check this host's clock"
            ],
            ProjectionError::Revoked { .. } => remedy![
                "the provider still holds a leaf revoked with `pki revoke-leaf`: run `",
                Step::new(Op::Renew),
                "` from CI to mint its replacement (the host keeps serving its current set meanwhile)"
            ],
            _ => remedy![
                "the provider entry was not written whole by inforge: run `",
                Step::new(Op::Renew),
                "` from CI to rewrite it, and find what else writes to the provider"
            ],
        }
    }
}
