//! The cert area's failures (moved out of `crypto::cert` so the error module depends on no area).

use crate::error::remedy::{Coded, Remedy};

/// A certificate could not be parsed, issued or verified.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// Not a PEM X.509 certificate.
    #[error("{location} is not a valid PEM certificate: {reason}")]
    Parse {
        /// Where the certificate is.
        location: String,
        /// Why.
        reason: String,
    },
    /// rcgen refused to issue.
    #[error("cannot issue {what}: {reason}")]
    Issue {
        /// What was being issued.
        what: String,
        /// Why.
        reason: String,
    },
    /// The signature does not verify against the issuer's key.
    #[error("{location} is not signed by {issuer}")]
    BadSignature {
        /// The certificate.
        location: String,
        /// The supposed issuer.
        issuer: String,
    },
}

impl Coded for CertError {
    fn code(&self) -> &'static str {
        match self {
            CertError::Parse { .. } => "cert-invalid",
            CertError::Issue { .. } => "issue-failed",
            CertError::BadSignature { .. } => "signature-invalid",
        }
    }
    fn remedy(&self) -> Remedy {
        let text: String = {
            match self {
                CertError::Parse { .. } | CertError::BadSignature { .. } => {
                    "the store was edited by hand or corrupted: restore pki.enc.yaml from git".into()
                }
                CertError::Issue { .. } => "this is a bug in inforge; please report it".into(),
            }
        };
        text.into()
    }
}
