//! age encryption with OS randomness (the core cannot draw it itself): the one production
//! [`Sealer`].

use inforge_core::crypto::custody::Sealer;
use inforge_core::error::CustodyError;

/// Seals to an age X25519 recipient, armored.
pub struct AgeSealer;

impl Sealer for AgeSealer {
    fn seal(&mut self, recipient: &str, plaintext: &[u8], location: &str) -> Result<String, inforge_core::Error> {
        let err = |reason: String| CustodyError::Seal { location: location.to_string(), reason };
        let r: age::x25519::Recipient = recipient.trim().parse().map_err(|e: &str| err(e.to_string()))?;
        Ok(age::encrypt_and_armor(&r, plaintext).map_err(|e| err(e.to_string()))?)
    }
}

/// A fresh offline root identity (OS randomness), for `init`.
pub fn generate_root_identity() -> inforge_core::crypto::custody::Identity {
    inforge_core::crypto::custody::Identity::from_age(
        age::x25519::Identity::generate(),
        inforge_core::crypto::custody::Custodian::OfflineRoot,
    )
}
