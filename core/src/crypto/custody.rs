//! Key custody: age identities and recipients, unsealing keys from the store and checking them
//! against their certificates, and the [`Sealer`] seam for encryption.
//!
//! Decryption is pure (identity + ciphertext → plaintext) and lives here. Encryption needs
//! fresh randomness that age draws itself, so it is injected by the shell as a [`Sealer`].

use std::fmt;

use zeroize::Zeroizing;

use crate::crypto::keys::PrivateKey;
use crate::error::CustodyError;
pub use crate::model::custodian::Custodian;

/// A custodian's identity held in memory for one command: what one source (a variable, a
/// file, an argument) gave. An identity file may hold several identities: native age X25519
/// ones (`AGE-SECRET-KEY-1…`) and plugin ones (`AGE-PLUGIN-…`, hardware keys). The core parses
/// the native ones; a plugin identity runs a program, so the shell resolves it
/// ([`Identity::take_plugin_lines`], [`Identity::add_external`]) before the core uses it.
pub struct Identity {
    custodian: Custodian,
    source: String,
    native: Vec<age::x25519::Identity>,
    plugin_lines: Vec<Zeroizing<String>>,
    external: Vec<Box<dyn age::Identity + Send + Sync>>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let recipients: Vec<String> = self.native.iter().map(|i| i.to_public().to_string()).collect();
        write!(
            f,
            "Identity({:?}, {}, {recipients:?}, {} plugin)",
            self.custodian,
            self.source,
            self.plugin_lines.len() + self.external.len()
        )
    }
}

impl Identity {
    /// Parses an identity given as `source_name` (a variable, file or argument; `None`: not
    /// given). Accepts an age identity file's content: comment (`#`) and blank lines are
    /// skipped; every other line must be an identity (`AGE-SECRET-KEY-1…` or `AGE-PLUGIN-…`).
    pub fn parse(custodian: Custodian, source_name: &str, value: Option<&str>) -> Result<Identity, crate::Error> {
        let value = value.map(str::trim).filter(|v| !v.is_empty());
        let value = value.ok_or(CustodyError::IdentityMissing { custodian })?;
        let mut id = Identity {
            custodian,
            source: source_name.to_string(),
            native: Vec::new(),
            plugin_lines: Vec::new(),
            external: Vec::new(),
        };
        for (n, line) in value.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Ok(native) = line.parse::<age::x25519::Identity>() {
                id.native.push(native);
            } else if line.get(..11).is_some_and(|p| p.eq_ignore_ascii_case("AGE-PLUGIN-")) {
                id.plugin_lines.push(Zeroizing::new(line.to_string()));
            } else {
                let source_name = if value.lines().count() > 1 {
                    format!("{source_name}, line {}", n + 1)
                } else {
                    source_name.into()
                };
                return Err(CustodyError::IdentityInvalid { custodian, source_name }.into());
            }
        }
        if id.native.is_empty() && id.plugin_lines.is_empty() {
            return Err(CustodyError::IdentityInvalid { custodian, source_name: source_name.to_string() }.into());
        }
        Ok(id)
    }

    /// Wraps an identity the shell just generated.
    pub fn from_age(inner: age::x25519::Identity, custodian: Custodian) -> Identity {
        Identity {
            custodian,
            source: "a generated identity".into(),
            native: vec![inner],
            plugin_lines: Vec::new(),
            external: Vec::new(),
        }
    }

    /// The `AGE-PLUGIN-…` lines this identity was given, for the shell to resolve into
    /// identities backed by their plugin programs.
    pub fn take_plugin_lines(&mut self) -> Vec<Zeroizing<String>> {
        std::mem::take(&mut self.plugin_lines)
    }

    /// Adds an identity the shell built (a plugin's).
    pub fn add_external(&mut self, identity: Box<dyn age::Identity + Send + Sync>) {
        self.external.push(identity);
    }

    /// Folds the identities of several sources into one (age's `-i a -i b`).
    pub fn merge(mut self, others: Vec<Identity>) -> Identity {
        for o in others {
            self.source = format!("{}, {}", self.source, o.source);
            self.native.extend(o.native);
            self.plugin_lines.extend(o.plugin_lines);
            self.external.extend(o.external);
        }
        self
    }

    /// The public recipient of this identity's (first) native key; `None` when it holds only
    /// plugin identities, whose recipients only their plugins know.
    pub fn recipient(&self) -> Option<String> {
        self.native.first().map(|i| i.to_public().to_string())
    }

    /// Which custodian this identity was loaded as.
    pub fn custodian(&self) -> Custodian {
        self.custodian
    }

    /// Where it came from (a variable, a file), for messages.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether one of this identity's native keys is `expected` (proof of possession without
    /// decrypting anything).
    pub fn holds_native(&self, expected: &str) -> bool {
        self.native.iter().any(|n| same_recipient(&n.to_public().to_string(), expected))
    }

    /// Fails unless this identity is the one the store names for its custodian: one of its
    /// native keys must be `expected`. An identity holding plugin keys passes when no native
    /// key matches, since only decryption can tell (and every decrypted key is checked against
    /// its certificate). Recipients are compared canonically (bech32 is case-insensitive:
    /// `AGE1…` and `age1…` are the same key).
    pub fn expect_recipient(&self, expected: &str) -> Result<(), crate::Error> {
        if self.native.iter().any(|n| same_recipient(&n.to_public().to_string(), expected))
            || !self.external.is_empty()
            || !self.plugin_lines.is_empty()
        {
            return Ok(());
        }
        Err(CustodyError::IdentityWrong {
            custodian: self.custodian,
            field: self.custodian.store_field(),
            expected: expected.trim().to_string(),
        }
        .into())
    }

    /// Decrypts armored age ciphertext. `location` names it in errors.
    pub fn open(&self, armored: &str, location: &str) -> Result<Zeroizing<Vec<u8>>, crate::Error> {
        self.try_open(armored)
            .map_err(|e| CustodyError::Decrypt { location: location.to_string(), reason: e.to_string() }.into())
    }

    /// Decrypts with every key this identity holds; age's own error on failure
    /// (`NoMatchingKeys` when none of them is a recipient of the file).
    pub fn try_open(&self, armored: &str) -> Result<Zeroizing<Vec<u8>>, age::DecryptError> {
        use std::io::Read;
        let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(armored.as_bytes()))?;
        let keys = self
            .native
            .iter()
            .map(|i| i as &dyn age::Identity)
            .chain(self.external.iter().map(|b| b.as_ref() as &dyn age::Identity));
        let mut reader = decryptor.decrypt(keys)?;
        let mut out = Zeroizing::new(Vec::new());
        reader.read_to_end(&mut out)?;
        Ok(out)
    }

    /// Decrypts a PKCS#8 key and checks it against the certificate's public key before use.
    pub fn open_key(
        &self,
        armored: &str,
        cert: &crate::crypto::cert::Cert,
        location: &str,
    ) -> Result<PrivateKey, crate::Error> {
        let plain = self.open(armored, location)?;
        let pem = std::str::from_utf8(&plain)
            .map_err(|_| crate::error::KeyError::Unparseable { location: location.to_string() })?;
        let key = PrivateKey::from_pkcs8_pem(pem, location)?;
        if key.public_key_bytes() != cert.public_key_bytes() {
            return Err(CustodyError::KeyMismatch { location: location.to_string() }.into());
        }
        Ok(key)
    }

    /// The (first native) age identity string. Only for `inforge pki init`, which prints a
    /// single-custodian root identity once on purpose, and for splitting it into shares.
    pub fn reveal(&self) -> Zeroizing<String> {
        use age::secrecy::ExposeSecret;
        Zeroizing::new(self.native.first().map(|i| i.to_string().expose_secret().to_string()).unwrap_or_default())
    }
}

/// Parses and normalises an age X25519 recipient; `field` names it in errors.
pub fn parse_recipient(field: &str, value: &str) -> Result<String, crate::Error> {
    value.trim().parse::<age::x25519::Recipient>().map(|r| r.to_string()).map_err(|_| {
        // An identity pasted where a recipient belongs is a secret: never echo it (bech32 is
        // case-insensitive, and a plugin identity is a secret too).
        let upper = value.to_ascii_uppercase();
        let secret = upper.contains("AGE-SECRET-KEY-") || upper.contains("AGE-PLUGIN-");
        let value = if secret { String::new() } else { value.to_string() };
        CustodyError::RecipientInvalid { field: field.to_string(), value, secret }.into()
    })
}

/// Parses a custodian's recipient: an age X25519 recipient (`age1…`) or a plugin's
/// (`age1<plugin>1…`, e.g. `age1yubikey1…`, sealed through that plugin's program by the
/// shell). Returns it in canonical (lowercase) form; `field` names it in errors.
pub fn parse_custodian_recipient(field: &str, value: &str) -> Result<String, crate::Error> {
    if let Ok(native) = parse_recipient(field, value) {
        return Ok(native);
    }
    match plugin_name(value) {
        Some(_) => Ok(value.trim().to_ascii_lowercase()),
        None => Err(parse_recipient(field, value).unwrap_err()),
    }
}

/// The plugin a recipient belongs to (`yubikey` for `age1yubikey1…`), or `None` for a native
/// X25519 recipient or anything that is not a well-formed bech32 age recipient.
pub fn plugin_name(recipient: &str) -> Option<String> {
    let t = recipient.trim().to_ascii_lowercase();
    let (hrp, _data) = bech32::decode(&t).ok()?;
    let name = hrp.as_str().strip_prefix("age1")?;
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "+-._".contains(c));
    ok.then(|| name.to_string())
}

/// Whether two recipient strings name the same key. bech32 is case-insensitive, so a
/// recipient is compared in its canonical (parsed, lowercase) form; unparseable strings are
/// compared as lowercase text.
pub fn same_recipient(a: &str, b: &str) -> bool {
    fn canon(s: &str) -> String {
        let t = s.trim();
        t.to_ascii_lowercase()
            .parse::<age::x25519::Recipient>()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| t.to_ascii_lowercase())
    }
    canon(a) == canon(b)
}

/// Encrypts plaintext to one age recipient, armored. Injected by the shell because age draws
/// fresh randomness from the OS for every file it writes.
pub trait Sealer {
    /// Encrypts `plaintext` to `recipient` (an `age1…` string), returning ASCII armor.
    fn seal(&mut self, recipient: &str, plaintext: &[u8], location: &str) -> Result<String, crate::Error>;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A test sealer backed by the real age library (tests may use OS randomness).
    pub struct TestSealer;
    impl Sealer for TestSealer {
        fn seal(&mut self, recipient: &str, plaintext: &[u8], location: &str) -> Result<String, crate::Error> {
            let r: age::x25519::Recipient = recipient
                .parse()
                .map_err(|_| CustodyError::Seal { location: location.into(), reason: "bad recipient".into() })?;
            #[allow(clippy::disallowed_methods)]
            age::encrypt_and_armor(&r, plaintext)
                .map_err(|e| CustodyError::Seal { location: location.into(), reason: e.to_string() }.into())
        }
    }

    #[allow(clippy::disallowed_methods)]
    pub fn identity(c: Custodian) -> Identity {
        Identity::from_age(age::x25519::Identity::generate(), c)
    }

    #[test]
    fn seal_open_round_trip_and_wrong_identity() {
        let a = identity(Custodian::Ci);
        let b = identity(Custodian::OfflineRoot);
        let ct = TestSealer.seal(&a.recipient().unwrap(), b"secret", "x").unwrap();
        assert!(ct.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert_eq!(&a.open(&ct, "x").unwrap()[..], b"secret");
        let e = b.open(&ct, "pkis.m.root.key").unwrap_err();
        assert_eq!(crate::Coded::code(&e), "decrypt-failed");
        assert!(!e.to_string().contains("secret"));
    }

    #[test]
    fn identity_parse_errors_name_the_source_and_hide_the_value() {
        let e = Identity::parse(Custodian::Ci, "INFORGE_SECRETS_KEY", None).unwrap_err();
        assert_eq!(crate::Coded::code(&e), "identity-missing");
        assert!(crate::Coded::remedy(&e).0.contains(&crate::error::Part::Identity(Custodian::Ci)));
        let e = Identity::parse(Custodian::OfflineRoot, "INFORGE_PKI_ROOT_KEY", Some("AGE-SECRET-KEY-1NOTAKEY"))
            .unwrap_err();
        assert!(e.to_string().contains("INFORGE_PKI_ROOT_KEY"));
        assert!(!e.to_string().contains("NOTAKEY"));
        let good = identity(Custodian::Ci);
        let text = format!("# created: now\n# public key: {}\n{}\n", good.recipient().unwrap(), &*good.reveal());
        assert_eq!(
            Identity::parse(Custodian::Ci, "f", Some(&text)).unwrap().recipient().unwrap(),
            good.recipient().unwrap()
        );
        assert!(good.expect_recipient(&identity(Custodian::Ci).recipient().unwrap()).is_err());
    }

    #[test]
    fn an_identity_given_as_a_recipient_is_never_echoed() {
        let id = identity(Custodian::Ci);
        for text in [id.reveal().to_string(), id.reveal().to_ascii_lowercase()] {
            let e = parse_recipient("--recipient", &text).unwrap_err();
            assert_eq!(crate::Coded::code(&e), "recipient-invalid");
            let shown = format!("{e} {}", crate::Coded::remedy(&e).render(&crate::error::Plain));
            assert!(!shown.to_ascii_uppercase().contains("AGE-SECRET-KEY-"), "{shown}");
            assert!(shown.contains("not shown") && shown.contains("age-keygen -y"), "{shown}");
        }
        // A public value is still quoted, so a typo is visible.
        let e = parse_recipient("recipient", "age1typo").unwrap_err();
        assert!(e.to_string().contains("\"age1typo\""));
    }

    #[test]
    fn recipients_compare_canonically() {
        let good = identity(Custodian::Ci);
        let upper = good.recipient().unwrap().to_ascii_uppercase();
        assert!(same_recipient(&good.recipient().unwrap(), &upper));
        assert!(good.expect_recipient(&upper).is_ok());
        assert!(!same_recipient(&good.recipient().unwrap(), &identity(Custodian::Ci).recipient().unwrap()));
    }
}
