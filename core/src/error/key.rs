//! The key area's failures (moved out of `crypto::keys` so the error module depends on no area).

use crate::error::remedy::{Coded, Remedy};
use crate::model::limits::ALGORITHM_NAMES;

/// A private key could not be generated, parsed or used. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Unknown algorithm name.
    #[error("unknown algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// The decrypted plaintext is not a PKCS#8 private key we support.
    #[error("{location} does not hold a PKCS#8 ecdsa-p256, ecdsa-p384 or ed25519 private key")]
    Unparseable {
        /// Store location of the key.
        location: String,
    },
}

impl Coded for KeyError {
    fn code(&self) -> &'static str {
        match self {
            KeyError::UnknownAlgorithm(_) => "algorithm-unknown",
            KeyError::Unparseable { .. } => "key-unparseable",
        }
    }
    fn remedy(&self) -> Remedy {
        let text: String = {
            match self {
                KeyError::UnknownAlgorithm(_) => format!("use one of: {}", ALGORITHM_NAMES.join(", ")),
                KeyError::Unparseable { .. } => {
                    "the store was edited by hand or corrupted: restore pki.enc.yaml from git".into()
                }
            }
        };
        text.into()
    }
}
