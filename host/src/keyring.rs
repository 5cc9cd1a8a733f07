//! Identities for the core's [`Keyring`]: given explicitly (Python's `secrets_key=`), else from
//! the environment: `INFORGE_SECRETS_KEY` / `INFORGE_PKI_ROOT_KEY`, or the file named by
//! `INFORGE_SECRETS_KEY_FILE` / `INFORGE_PKI_ROOT_KEY_FILE` (as sops' `SOPS_AGE_KEY_FILE`).
//! Setting both forms is an error. A variable is read only when an operation asks for that
//! custodian, so `renew` never reads `INFORGE_PKI_ROOT_KEY`.

use std::path::Path;

use inforge_core::crypto::custody::{Custodian, Identity};
use inforge_core::error::CustodyError;
use inforge_core::ops::Keyring;
use zeroize::Zeroizing;

/// The environment variable the native frontends read a custodian's identity from (the
/// host's words: the core names custodians, never variables).
pub fn env_var(c: Custodian) -> &'static str {
    match c {
        Custodian::OfflineRoot => "INFORGE_PKI_ROOT_KEY",
        Custodian::Ci => "INFORGE_SECRETS_KEY",
    }
}

/// The file variable for a custodian.
pub fn file_var(c: Custodian) -> &'static str {
    match c {
        Custodian::OfflineRoot => "INFORGE_PKI_ROOT_KEY_FILE",
        Custodian::Ci => "INFORGE_SECRETS_KEY_FILE",
    }
}

/// A keyring over explicit values and the process environment.
#[derive(Default)]
pub struct HostKeyring {
    /// The CI identity given explicitly (takes precedence over the environment).
    pub secrets_key: Option<Zeroizing<String>>,
    /// The offline root identity given explicitly.
    pub root_key: Option<Zeroizing<String>>,
    /// Name of the explicit source in messages (e.g. `secrets_key`).
    pub explicit_names: (&'static str, &'static str),
}

impl HostKeyring {
    /// The environment only (the CLI).
    pub fn from_env() -> HostKeyring {
        HostKeyring::default()
    }
}

fn env_text(c: Custodian, var: &str) -> Result<Option<Zeroizing<String>>, inforge_core::Error> {
    match std::env::var_os(var) {
        None => Ok(None),
        Some(v) => match v.into_string() {
            Ok(s) => Ok(Some(Zeroizing::new(s))),
            Err(_) => Err(CustodyError::IdentityUnreadable {
                custodian: c,
                source_name: var.to_string(),
                reason: "it is not UTF-8".into(),
            }
            .into()),
        },
    }
}

impl Keyring for HostKeyring {
    fn identity(&mut self, c: Custodian) -> Result<Identity, inforge_core::Error> {
        let explicit = match c {
            Custodian::Ci => self.secrets_key.as_ref(),
            Custodian::OfflineRoot => self.root_key.as_ref(),
        };
        if let Some(v) = explicit {
            let name = match c {
                Custodian::Ci => self.explicit_names.0,
                Custodian::OfflineRoot => self.explicit_names.1,
            };
            return Identity::parse(c, name, Some(v));
        }
        let var = env_var(c);
        let fvar = file_var(c);
        let value = env_text(c, var)?;
        let file = env_text(c, fvar)?;
        match (value, file) {
            (Some(_), Some(_)) => {
                Err(CustodyError::IdentityAmbiguous { custodian: c, first: var.into(), second: fvar.into() }.into())
            }
            (Some(v), None) => Identity::parse(c, var, Some(&v)),
            (None, Some(path)) => {
                let p = Path::new(path.as_str());
                let text = crate::fsio::read_text(p).map_err(|e| CustodyError::IdentityUnreadable {
                    custodian: c,
                    source_name: format!("{fvar} ({})", p.display()),
                    reason: e.message(),
                })?;
                let text = Zeroizing::new(text);
                Identity::parse(c, &format!("the file {} ({fvar})", p.display()), Some(&text))
            }
            (None, None) => Identity::parse(c, var, None),
        }
    }
}
