//! Private keys: generation from a caller-supplied RNG, PKCS#8 PEM in and out, and signing
//! for rcgen. Pure-Rust RustCrypto keys (p256, p384, ed25519-dalek) so that randomness is a
//! parameter and signing is deterministic (RFC 6979 / Ed25519) with no hidden OS RNG.

use std::fmt;
use std::str::FromStr;

use p256::pkcs8::{AssociatedOid, DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Signature algorithm (and key type) of a PKI. Every tier of a PKI uses the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256 (the default: universally supported, fast).
    #[default]
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
}

impl Algorithm {
    /// Every algorithm name accepted by `--algorithm`.
    pub const NAMES: [&'static str; 3] = ["ecdsa-p256", "ecdsa-p384", "ed25519"];

    /// The name used in the store and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256 => "ecdsa-p256",
            Algorithm::EcdsaP384 => "ecdsa-p384",
            Algorithm::Ed25519 => "ed25519",
        }
    }

    fn rcgen(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            Algorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Algorithm::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Algorithm::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        match s {
            "ecdsa-p256" => Ok(Algorithm::EcdsaP256),
            "ecdsa-p384" => Ok(Algorithm::EcdsaP384),
            "ed25519" => Ok(Algorithm::Ed25519),
            other => Err(KeyError::UnknownAlgorithm(other.to_string()).into()),
        }
    }
}

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

impl crate::Coded for KeyError {
    fn code(&self) -> &'static str {
        match self {
            KeyError::UnknownAlgorithm(_) => "algorithm-unknown",
            KeyError::Unparseable { .. } => "key-unparseable",
        }
    }
    fn remedy(&self) -> crate::error::Remedy {
        let text: String = {
            match self {
                KeyError::UnknownAlgorithm(_) => format!("use one of: {}", Algorithm::NAMES.join(", ")),
                KeyError::Unparseable { .. } => {
                    "the store was edited by hand or corrupted: restore pki.enc.yaml from git".into()
                }
            }
        };
        text.into()
    }
}

enum Inner {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A private key. Its `Debug` never prints the secret; its memory is zeroized on drop by the
/// underlying RustCrypto types.
pub struct PrivateKey {
    inner: Inner,
    /// Raw subjectPublicKey bytes (SEC1 uncompressed point, or the 32-byte Ed25519 key).
    public: Vec<u8>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, <redacted>)", self.algorithm())
    }
}

impl PrivateKey {
    /// Generates a fresh key from the caller's RNG.
    pub fn generate(algorithm: Algorithm, rng: &mut impl CryptoRngCore) -> PrivateKey {
        let inner = match algorithm {
            Algorithm::EcdsaP256 => Inner::P256(p256::ecdsa::SigningKey::random(rng)),
            Algorithm::EcdsaP384 => Inner::P384(p384::ecdsa::SigningKey::random(rng)),
            Algorithm::Ed25519 => Inner::Ed25519(ed25519_dalek::SigningKey::generate(rng)),
        };
        Self::from_inner(inner)
    }

    fn from_inner(inner: Inner) -> PrivateKey {
        let public = match &inner {
            Inner::P256(k) => k.verifying_key().to_encoded_point(false).as_bytes().to_vec(),
            Inner::P384(k) => k.verifying_key().to_encoded_point(false).as_bytes().to_vec(),
            Inner::Ed25519(k) => k.verifying_key().to_bytes().to_vec(),
        };
        PrivateKey { inner, public }
    }

    /// Parses a PKCS#8 PEM private key; `location` names it in errors.
    pub fn from_pkcs8_pem(pem: &str, location: &str) -> Result<PrivateKey, crate::Error> {
        Ok(Self::from_pkcs8_pem_area(pem, location)?)
    }

    /// [`from_pkcs8_pem`] with the area's own error type.
    pub(crate) fn from_pkcs8_pem_area(pem: &str, location: &str) -> Result<PrivateKey, KeyError> {
        let inner = if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            Inner::P256(k)
        } else if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            Inner::P384(k)
        } else if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            Inner::Ed25519(k)
        } else {
            return Err(KeyError::Unparseable { location: location.to_string() });
        };
        Ok(Self::from_inner(inner))
    }

    /// The key as PKCS#8 PEM (v1 for Ed25519, which OpenSSL 3.0 reads), LF line endings.
    /// ECDSA keys are encoded from the public point already held, byte for byte what
    /// RustCrypto's own encoder writes (a test proves it) without recomputing the point, which
    /// was a third of the cost of minting a P-256 leaf.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        let r = match &self.inner {
            Inner::P256(k) => ec_pkcs8_pem(&k.to_bytes(), &self.public, p256::NistP256::OID),
            Inner::P384(k) => ec_pkcs8_pem(&k.to_bytes(), &self.public, p384::NistP384::OID),
            Inner::Ed25519(k) => ed25519_dalek::pkcs8::KeypairBytes { secret_key: k.to_bytes(), public_key: None }
                .to_pkcs8_pem(LineEnding::LF),
        };
        // Encoding an in-memory, valid key cannot fail; an empty string would fail loudly at
        // the next parse rather than leak anything.
        r.unwrap_or_else(|_| Zeroizing::new(String::new()))
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            Inner::P256(_) => Algorithm::EcdsaP256,
            Inner::P384(_) => Algorithm::EcdsaP384,
            Inner::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    /// Raw subjectPublicKey bytes, as they appear in a certificate's SPKI bit string.
    pub fn public_key_bytes(&self) -> &[u8] {
        &self.public
    }
}

/// PKCS#8 `PrivateKeyInfo` (id-ecPublicKey, the curve's OID) around a SEC1 `ECPrivateKey`
/// holding the scalar and the uncompressed public point, as PEM.
fn ec_pkcs8_pem(scalar: &[u8], public: &[u8], curve: der::asn1::ObjectIdentifier) -> pkcs8::Result<Zeroizing<String>> {
    use der::{Encode, EncodePem};
    use p256::elliptic_curve::ALGORITHM_OID;
    let scalar = Zeroizing::new(scalar.to_vec());
    let ec = Zeroizing::new(
        sec1::EcPrivateKey { private_key: &scalar, parameters: None, public_key: Some(public) }.to_der()?,
    );
    let algorithm = pkcs8::AlgorithmIdentifierRef { oid: ALGORITHM_OID, parameters: Some((&curve).into()) };
    let info = pkcs8::PrivateKeyInfo::new(algorithm, &ec);
    Ok(Zeroizing::new(info.to_pem(pkcs8::LineEnding::LF)?))
}

/// A public key alone: what re-signing a certificate for an existing key needs (root rotation
/// re-signs intermediates without decrypting their keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: Algorithm,
    bytes: Vec<u8>,
}

impl PublicKey {
    /// From a certificate's algorithm and subjectPublicKey bytes.
    pub fn new(algorithm: Algorithm, bytes: Vec<u8>) -> PublicKey {
        PublicKey { algorithm, bytes }
    }
    /// Raw subjectPublicKey bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl rcgen::PublicKeyData for PublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.bytes
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm.rcgen()
    }
}

impl PrivateKey {
    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey { algorithm: self.algorithm(), bytes: self.public.clone() }
    }
}

impl rcgen::PublicKeyData for PrivateKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        PrivateKey::algorithm(self).rcgen()
    }
}

impl rcgen::SigningKey for PrivateKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        use signature::Signer;
        let sig = match &self.inner {
            Inner::P256(k) => {
                let s: p256::ecdsa::Signature = k.try_sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)?;
                s.to_der().as_bytes().to_vec()
            }
            Inner::P384(k) => {
                let s: p384::ecdsa::Signature = k.try_sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)?;
                s.to_der().as_bytes().to_vec()
            }
            Inner::Ed25519(k) => k.try_sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)?.to_bytes().to_vec(),
        };
        Ok(sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn pem_round_trip_every_algorithm() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        for alg in [Algorithm::EcdsaP256, Algorithm::EcdsaP384, Algorithm::Ed25519] {
            let k = PrivateKey::generate(alg, &mut rng);
            let pem = k.to_pkcs8_pem();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
            let back = PrivateKey::from_pkcs8_pem(&pem, "test").unwrap();
            assert_eq!(back.algorithm(), alg);
            assert_eq!(back.public_key_bytes(), k.public_key_bytes());
            assert!(!format!("{k:?}").contains("BEGIN"));
        }
    }

    #[test]
    fn ecdsa_pkcs8_is_byte_identical_to_rustcrypto_s_own_encoder() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        for _ in 0..50 {
            let k = PrivateKey::generate(Algorithm::EcdsaP256, &mut rng);
            let Inner::P256(inner) = &k.inner else { unreachable!() };
            assert_eq!(*k.to_pkcs8_pem(), *inner.to_pkcs8_pem(LineEnding::LF).unwrap());
            let k = PrivateKey::generate(Algorithm::EcdsaP384, &mut rng);
            let Inner::P384(inner) = &k.inner else { unreachable!() };
            assert_eq!(*k.to_pkcs8_pem(), *inner.to_pkcs8_pem(LineEnding::LF).unwrap());
        }
    }

    #[test]
    fn garbage_is_refused() {
        let e = PrivateKey::from_pkcs8_pem("nope", "pkis.x.root.key").unwrap_err();
        assert!(e.to_string().contains("pkis.x.root.key"));
    }

    #[test]
    fn algorithm_names_round_trip() {
        for n in Algorithm::NAMES {
            assert_eq!(n.parse::<Algorithm>().unwrap().name(), n);
        }
        assert!("rsa".parse::<Algorithm>().is_err());
    }
}
