//! age encryption with OS randomness (the core cannot draw it itself): the one production
//! [`Sealer`]. Native X25519 recipients are sealed in process; a plugin recipient
//! (`age1yubikey1…`) through its plugin program on `PATH`.

use inforge_core::crypto::custody::{plugin_name, Sealer};
use inforge_core::error::CustodyError;

/// Seals to an age recipient, armored.
pub struct AgeSealer;

impl Sealer for AgeSealer {
    fn seal(&mut self, recipient: &str, plaintext: &[u8], location: &str) -> Result<String, inforge_core::Error> {
        let err = |reason: String| CustodyError::Seal { location: location.to_string(), reason };
        if let Ok(r) = recipient.trim().parse::<age::x25519::Recipient>() {
            return Ok(age::encrypt_and_armor(&r, plaintext).map_err(|e| err(e.to_string()))?);
        }
        let plugin = plugin_name(recipient).ok_or_else(|| err("not an age recipient".into()))?;
        let parsed: age::plugin::Recipient = recipient.trim().parse().map_err(|e: &str| err(e.to_string()))?;
        let p =
            age::plugin::RecipientPluginV1::new(&plugin, &[parsed], &[], crate::keyring::PluginUi).map_err(|_| {
                CustodyError::PluginMissing {
                    plugin: plugin.clone(),
                    source_name: format!("the recipient {}", recipient.trim()),
                }
            })?;
        Ok(age::encrypt_and_armor(&p, plaintext).map_err(|e| err(e.to_string()))?)
    }
}

/// A fresh offline root identity (OS randomness), for `init` and `rekey --root`.
pub fn generate_root_identity() -> inforge_core::crypto::custody::Identity {
    inforge_core::crypto::custody::Identity::from_age(
        age::x25519::Identity::generate(),
        inforge_core::crypto::custody::Custodian::OfflineRoot,
    )
}
