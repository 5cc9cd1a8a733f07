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

/// An age X25519 identity held in memory for one command.
pub struct Identity {
    inner: age::x25519::Identity,
    custodian: Custodian,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({:?}, {})", self.custodian, self.recipient())
    }
}

impl Identity {
    /// Parses an identity given as `source_name` (a variable, file or argument; `None`: not
    /// given). Accepts an age identity file's content: comment lines are skipped.
    pub fn parse(custodian: Custodian, source_name: &str, value: Option<&str>) -> Result<Identity, crate::Error> {
        let value = value.map(str::trim).filter(|v| !v.is_empty());
        let value = value.ok_or(CustodyError::IdentityMissing { custodian })?;
        let line = value.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
        let inner = line
            .parse::<age::x25519::Identity>()
            .map_err(|_| CustodyError::IdentityInvalid { custodian, source_name: source_name.to_string() })?;
        Ok(Identity { inner, custodian })
    }

    /// Wraps an identity the shell just generated.
    pub fn from_age(inner: age::x25519::Identity, custodian: Custodian) -> Identity {
        Identity { inner, custodian }
    }

    /// The public recipient of this identity.
    pub fn recipient(&self) -> String {
        self.inner.to_public().to_string()
    }

    /// Which custodian this identity was loaded as.
    pub fn custodian(&self) -> Custodian {
        self.custodian
    }

    /// Fails unless this identity is the one the store names for its custodian.
    /// Recipients are compared canonically (bech32 is case-insensitive: `AGE1…` and `age1…`
    /// are the same key).
    pub fn expect_recipient(&self, expected: &str) -> Result<(), crate::Error> {
        if same_recipient(&self.recipient(), expected) {
            Ok(())
        } else {
            Err(CustodyError::IdentityWrong {
                custodian: self.custodian,
                field: self.custodian.store_field(),
                expected: expected.trim().to_string(),
            }
            .into())
        }
    }

    /// Decrypts armored age ciphertext. `location` names it in errors.
    pub fn open(&self, armored: &str, location: &str) -> Result<Zeroizing<Vec<u8>>, crate::Error> {
        age::decrypt(&self.inner, armored.as_bytes())
            .map(Zeroizing::new)
            .map_err(|e| CustodyError::Decrypt { location: location.to_string(), reason: e.to_string() }.into())
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

    /// The age identity string. Only for `inforge pki init`, which prints it once on purpose.
    pub fn reveal(&self) -> Zeroizing<String> {
        use age::secrecy::ExposeSecret;
        Zeroizing::new(self.inner.to_string().expose_secret().to_string())
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
        let ct = TestSealer.seal(&a.recipient(), b"secret", "x").unwrap();
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
        let text = format!("# created: now\n# public key: {}\n{}\n", good.recipient(), &*good.reveal());
        assert_eq!(Identity::parse(Custodian::Ci, "f", Some(&text)).unwrap().recipient(), good.recipient());
        assert!(good.expect_recipient(&identity(Custodian::Ci).recipient()).is_err());
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
        let upper = good.recipient().to_ascii_uppercase();
        assert!(same_recipient(&good.recipient(), &upper));
        assert!(good.expect_recipient(&upper).is_ok());
        assert!(!same_recipient(&good.recipient(), &identity(Custodian::Ci).recipient()));
    }
}
