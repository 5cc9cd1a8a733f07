//! Identities for the core's [`Keyring`] (SPEC §10): given explicitly (Python's
//! `secrets_key=`), else from the environment: `INFORGE_SECRETS_KEY` / `INFORGE_PKI_ROOT_KEY`,
//! or the files named by `INFORGE_SECRETS_KEY_FILE` / `INFORGE_PKI_ROOT_KEY_FILE` (as sops'
//! `SOPS_AGE_KEY_FILE`), several separated by `:` (one per quorum custodian). Setting both
//! forms is an error. A variable is read only when an operation asks for that custodian, so
//! `renew` never reads `INFORGE_PKI_ROOT_KEY`.
//!
//! Each source is an age identity file: comments, blank lines, several identities; native
//! (`AGE-SECRET-KEY-1…`) or plugin (`AGE-PLUGIN-…`, resolved here to the plugin program on
//! `PATH`). A file may be passphrase-protected (armored or binary age scrypt, as `age -p`
//! makes): its passphrase comes from the file named by `INFORGE_PASSPHRASE_FILE` when set
//! (line i for the i-th protected file, or its only line for all), else from the terminal
//! without echo.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use age::secrecy::SecretString;
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

/// The variable naming a file of passphrases for protected identity files.
pub const PASSPHRASE_FILE_VAR: &str = "INFORGE_PASSPHRASE_FILE";

/// A keyring over explicit values and the process environment.
#[derive(Default)]
pub struct HostKeyring {
    /// The CI identity given explicitly (takes precedence over the environment).
    pub secrets_key: Option<Zeroizing<String>>,
    /// The offline root identity given explicitly.
    pub root_key: Option<Zeroizing<String>>,
    /// Name of the explicit source in messages (e.g. `secrets_key`).
    pub explicit_names: (&'static str, &'static str),
    /// Passphrases handed out so far (the index of the next protected file).
    protected_seen: usize,
}

impl HostKeyring {
    /// The environment only (the CLI).
    pub fn from_env() -> HostKeyring {
        HostKeyring::default()
    }

    /// Explicit identities (each falls back to the environment when `None`), named in
    /// messages as `names` (Python: `("secrets_key", "root_key")`).
    pub fn explicit(
        secrets_key: Option<Zeroizing<String>>,
        root_key: Option<Zeroizing<String>>,
        names: (&'static str, &'static str),
    ) -> HostKeyring {
        HostKeyring { secrets_key, root_key, explicit_names: names, protected_seen: 0 }
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
    fn identities(&mut self, c: Custodian) -> Result<Vec<Identity>, inforge_core::Error> {
        let explicit = match c {
            Custodian::Ci => self.secrets_key.as_ref(),
            Custodian::OfflineRoot => self.root_key.as_ref(),
        };
        if let Some(v) = explicit {
            let name = match c {
                Custodian::Ci => self.explicit_names.0,
                Custodian::OfflineRoot => self.explicit_names.1,
            };
            return Ok(vec![resolve_plugins(Identity::parse(c, name, Some(v))?, name)?]);
        }
        let var = env_var(c);
        let fvar = file_var(c);
        let value = env_text(c, var)?;
        let files = env_text(c, fvar)?;
        match (value, files) {
            (Some(_), Some(_)) => {
                Err(CustodyError::IdentityAmbiguous { custodian: c, first: var.into(), second: fvar.into() }.into())
            }
            (Some(v), None) => Ok(vec![resolve_plugins(Identity::parse(c, var, Some(&v))?, var)?]),
            (None, Some(paths)) => {
                let mut out = Vec::new();
                for path in paths.split(':').filter(|p| !p.trim().is_empty()) {
                    out.push(self.read_file(c, Path::new(path), fvar)?);
                }
                if out.is_empty() {
                    return Err(CustodyError::IdentityMissing { custodian: c }.into());
                }
                Ok(out)
            }
            (None, None) => Ok(vec![Identity::parse(c, var, None)?]),
        }
    }
}

impl HostKeyring {
    /// One identity file: plain, or passphrase-protected; plugin identities resolved.
    fn read_file(&mut self, c: Custodian, p: &Path, fvar: &str) -> Result<Identity, inforge_core::Error> {
        let name = format!("the file {} ({fvar})", p.display());
        let unreadable = |reason: String| CustodyError::IdentityUnreadable {
            custodian: c,
            source_name: format!("{fvar} ({})", p.display()),
            reason,
        };
        let bytes = Zeroizing::new(crate::fsio::read_bytes(p).map_err(|e| unreadable(e.message()))?);
        let text = if is_age_file(&bytes) {
            self.unlock_protected(c, &bytes, &name)?
        } else {
            Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|_| unreadable("it is not UTF-8".into()))?)
        };
        resolve_plugins(Identity::parse(c, &name, Some(&text))?, &name)
    }

    /// Decrypts a passphrase-protected identity file in memory.
    fn unlock_protected(
        &mut self,
        c: Custodian,
        bytes: &[u8],
        name: &str,
    ) -> Result<Zeroizing<String>, inforge_core::Error> {
        let invalid = || CustodyError::IdentityInvalid { custodian: c, source_name: name.to_string() };
        let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(bytes)).map_err(|_| invalid())?;
        if !decryptor.is_scrypt() {
            // An age file encrypted to a recipient is not an identity file.
            return Err(invalid().into());
        }
        let passphrase = self.passphrase(c, name)?;
        let identity = age::scrypt::Identity::new(passphrase);
        let wrong = || CustodyError::PassphraseWrong { source_name: name.to_string() };
        let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).map_err(|_| wrong())?;
        let mut plain = Zeroizing::new(Vec::new());
        reader.read_to_end(&mut plain).map_err(|_| wrong())?;
        String::from_utf8(plain.to_vec()).map(Zeroizing::new).map_err(|_| invalid().into())
    }

    /// The passphrase for the next protected file.
    fn passphrase(&mut self, c: Custodian, name: &str) -> Result<SecretString, inforge_core::Error> {
        let index = self.protected_seen;
        self.protected_seen += 1;
        if let Some(path) = std::env::var_os(PASSPHRASE_FILE_VAR) {
            let p = Path::new(&path);
            let text = Zeroizing::new(crate::fsio::read_text(p).map_err(|e| CustodyError::IdentityUnreadable {
                custodian: c,
                source_name: format!("{PASSPHRASE_FILE_VAR} ({})", p.display()),
                reason: e.message(),
            })?);
            let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
            let line = if lines.len() == 1 { lines.first() } else { lines.get(index) };
            return match line {
                Some(l) if !l.is_empty() => Ok(SecretString::from(l.to_string())),
                _ => Err(CustodyError::PassphraseMissing { source_name: name.to_string() }.into()),
            };
        }
        // rpassword reads from /dev/tty with echo off; without a terminal it fails.
        match rpassword::prompt_password(format!("passphrase for {name}: ")) {
            Ok(p) if !p.is_empty() => Ok(SecretString::from(p)),
            _ => Err(CustodyError::PassphraseMissing { source_name: name.to_string() }.into()),
        }
    }
}

/// Whether bytes are an age file (armored or binary) rather than an identity file.
fn is_age_file(bytes: &[u8]) -> bool {
    let t = bytes.trim_ascii_start();
    t.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----") || t.starts_with(b"age-encryption.org/v1")
}

/// Turns an identity's `AGE-PLUGIN-…` lines into identities backed by their plugin programs
/// (one program per plugin name, found on `PATH`).
pub fn resolve_plugins(mut id: Identity, source_name: &str) -> Result<Identity, inforge_core::Error> {
    let lines = id.take_plugin_lines();
    let mut by_plugin: BTreeMap<String, Vec<age::plugin::Identity>> = BTreeMap::new();
    for line in lines {
        let parsed: age::plugin::Identity = line.parse().map_err(|_| CustodyError::IdentityInvalid {
            custodian: id.custodian(),
            source_name: source_name.to_string(),
        })?;
        by_plugin.entry(parsed.plugin().to_string()).or_default().push(parsed);
    }
    for (plugin, identities) in by_plugin {
        let resolved = age::plugin::IdentityPluginV1::new(&plugin, &identities, PluginUi).map_err(|_| {
            CustodyError::PluginMissing { plugin: plugin.clone(), source_name: source_name.to_string() }
        })?;
        id.add_external(Box::new(resolved));
    }
    Ok(id)
}

/// What a plugin may ask of the user: messages go to stderr ("touch your key"); a PIN is
/// asked on the terminal without echo; nothing is asked without one.
#[derive(Clone, Copy)]
pub struct PluginUi;

impl age::Callbacks for PluginUi {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }
    fn confirm(&self, _message: &str, _yes: &str, _no: Option<&str>) -> Option<bool> {
        None
    }
    fn request_public_string(&self, _description: &str) -> Option<String> {
        None
    }
    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        rpassword::prompt_password(format!("{description}: ")).ok().map(SecretString::from)
    }
}
