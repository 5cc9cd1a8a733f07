//! Private keys: generation from a caller-supplied RNG, PKCS#8 PEM in and out, and signing
//! for rcgen. Pure-Rust RustCrypto keys (p256, p384, ed25519-dalek) so that randomness is a
//! parameter and signing is deterministic (RFC 6979 / Ed25519) with no hidden OS RNG.

use crate::error::KeyError;
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
    pub const NAMES: [&'static str; 3] = crate::model::limits::ALGORITHM_NAMES;

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

enum Inner {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    /// A key whose secret the core drew and whose signing a [`KeyBackend`] does.
    Backend {
        algorithm: Algorithm,
        secret: Zeroizing<Vec<u8>>,
        signer: Box<dyn BackendSigner>,
    },
}

/// Turns a secret the core drew from its RNG into a signer: the seam for a fast native
/// implementation (the host crate's aws-lc-rs) while the WASM build and the core's
/// deterministic tests use the pure-Rust one ([`PURE_RUST`]). The secret, the public key, the
/// PKCS#8 bytes and therefore the store never depend on the backend; only who computes the
/// public point and the signatures does.
pub trait KeyBackend: Send + Sync {
    /// A name for reports and benchmarks.
    fn name(&self) -> &'static str;
    /// A signer for `secret` (the P-256/P-384 scalar, big-endian, or the Ed25519 seed), or
    /// `None` if this backend does not handle `algorithm` (the pure-Rust code is used).
    fn signer(&self, algorithm: Algorithm, secret: &[u8]) -> Option<Box<dyn BackendSigner>>;
}

/// A backend's key, ready to sign.
pub trait BackendSigner: Send + Sync {
    /// Raw subjectPublicKey bytes (SEC1 uncompressed point, or the 32-byte Ed25519 key).
    fn public_key(&self) -> Vec<u8>;
    /// The signature of `msg` as X.509 carries it (DER ECDSA-Sig-Value, raw Ed25519).
    fn sign(&self, msg: &[u8]) -> Option<Vec<u8>>;
}

/// An ECDSA signature check a native shell can do faster than RustCrypto (AWS-LC: about 8×
/// for P-256, measured in `benches/core.rs`). Installed once per process with
/// [`install_verifier`], like rustls's process-default crypto provider: a verifier changes
/// only how fast a check runs, never its verdict (`host/src/backend.rs` tests that it agrees
/// with RustCrypto on valid, tampered and malformed input), so results stay a pure function of
/// the input.
pub trait SignatureVerifier: Send + Sync {
    /// A name for reports and benchmarks.
    fn name(&self) -> &'static str;
    /// Whether `sig` (DER ECDSA-Sig-Value) is `msg`'s signature under `public_key` (SEC1
    /// point) with ECDSA on `curve` and its hash (SHA-256 for P-256, SHA-384 for P-384).
    /// `None`: this verifier does not handle the curve (RustCrypto is used).
    fn verify_ecdsa(&self, curve: Algorithm, public_key: &[u8], msg: &[u8], sig: &[u8]) -> Option<bool>;
}

static VERIFIER: std::sync::OnceLock<&'static dyn SignatureVerifier> = std::sync::OnceLock::new();

/// Installs the process's ECDSA verifier; `false` if one is already installed (the first
/// stays). Without one, RustCrypto verifies (the WASM build, the core's own tests).
pub fn install_verifier(v: &'static dyn SignatureVerifier) -> bool {
    VERIFIER.set(v).is_ok()
}

/// The installed verifier, if any.
pub(crate) fn verifier() -> Option<&'static dyn SignatureVerifier> {
    VERIFIER.get().copied()
}

/// The pure-Rust backend (RustCrypto): declines everything, so keys stay RustCrypto keys.
pub struct PureRust;

impl KeyBackend for PureRust {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }
    fn signer(&self, _: Algorithm, _: &[u8]) -> Option<Box<dyn BackendSigner>> {
        None
    }
}

/// The pure-Rust backend, as a static for plans and tests.
pub static PURE_RUST: PureRust = PureRust;

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

    /// Generates a fresh key from the caller's RNG — the same draw as [`PrivateKey::generate`],
    /// so the same RNG state gives the same key — and hands the secret to `backend`.
    pub fn generate_with(algorithm: Algorithm, rng: &mut impl CryptoRngCore, backend: &dyn KeyBackend) -> PrivateKey {
        let secret: Zeroizing<Vec<u8>> = Zeroizing::new(match algorithm {
            Algorithm::EcdsaP256 => p256::NonZeroScalar::random(&mut *rng).to_bytes().to_vec(),
            Algorithm::EcdsaP384 => p384::NonZeroScalar::random(&mut *rng).to_bytes().to_vec(),
            Algorithm::Ed25519 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(seed.as_mut());
                seed.to_vec()
            }
        });
        Self::from_secret(algorithm, secret, backend)
    }

    /// The same key with its signing done by `backend` (e.g. an intermediate key decrypted
    /// from the store, about to sign thousands of leaves). `None` if the backend declines or
    /// disagrees about the public key (then keep using this one).
    pub fn to_backend(&self, backend: &dyn KeyBackend) -> Option<PrivateKey> {
        let algorithm = self.algorithm();
        let secret = Zeroizing::new(match &self.inner {
            Inner::P256(k) => k.to_bytes().to_vec(),
            Inner::P384(k) => k.to_bytes().to_vec(),
            Inner::Ed25519(k) => k.to_bytes().to_vec(),
            Inner::Backend { .. } => return None,
        });
        let other = Self::from_secret(algorithm, secret, backend);
        (matches!(other.inner, Inner::Backend { .. }) && other.public == self.public).then_some(other)
    }

    /// Whether a backend (not RustCrypto) signs with this key.
    pub fn is_backend(&self) -> bool {
        matches!(self.inner, Inner::Backend { .. })
    }

    fn from_secret(algorithm: Algorithm, secret: Zeroizing<Vec<u8>>, backend: &dyn KeyBackend) -> PrivateKey {
        if let Some(signer) = backend.signer(algorithm, &secret) {
            let public = signer.public_key();
            return PrivateKey { inner: Inner::Backend { algorithm, secret, signer }, public };
        }
        // The secret came from a scalar or seed draw just above, so it is always valid.
        let inner = match algorithm {
            Algorithm::EcdsaP256 => p256::ecdsa::SigningKey::from_slice(&secret).map(Inner::P256).ok(),
            Algorithm::EcdsaP384 => p384::ecdsa::SigningKey::from_slice(&secret).map(Inner::P384).ok(),
            Algorithm::Ed25519 => <[u8; 32]>::try_from(secret.as_slice())
                .ok()
                .map(|s| Inner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&s))),
        };
        match inner {
            Some(i) => Self::from_inner(i),
            // Unreachable for drawn secrets; a fresh pure key keeps the type total.
            None => Self::from_inner(Inner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]))),
        }
    }

    fn from_inner(inner: Inner) -> PrivateKey {
        let public = match &inner {
            Inner::P256(k) => k.verifying_key().to_encoded_point(false).as_bytes().to_vec(),
            Inner::P384(k) => k.verifying_key().to_encoded_point(false).as_bytes().to_vec(),
            Inner::Ed25519(k) => k.verifying_key().to_bytes().to_vec(),
            Inner::Backend { signer, .. } => signer.public_key(),
        };
        PrivateKey { inner, public }
    }

    /// Parses a PKCS#8 PEM private key; `location` names it in errors.
    pub fn from_pkcs8_pem(pem: &str, location: &str) -> Result<PrivateKey, KeyError> {
        // Whitespace around the block (an editor's extra trailing newline) is not part of the
        // key: openssl accepts it, and so does `cert.pem`'s reader.
        let pem = pem.trim();
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
            Inner::Backend { algorithm: Algorithm::EcdsaP256, secret, .. } => {
                ec_pkcs8_pem(secret, &self.public, p256::NistP256::OID)
            }
            Inner::Backend { algorithm: Algorithm::EcdsaP384, secret, .. } => {
                ec_pkcs8_pem(secret, &self.public, p384::NistP384::OID)
            }
            Inner::Backend { algorithm: Algorithm::Ed25519, secret, .. } => {
                match <[u8; 32]>::try_from(secret.as_slice()) {
                    Ok(seed) => {
                        let seed = Zeroizing::new(seed);
                        ed25519_dalek::pkcs8::KeypairBytes { secret_key: *seed, public_key: None }
                            .to_pkcs8_pem(LineEnding::LF)
                    }
                    Err(_) => Ok(Zeroizing::new(String::new())),
                }
            }
        };
        // Encoding an in-memory, valid key cannot fail; an empty string would fail loudly at
        // the next parse rather than leak anything.
        r.unwrap_or_else(|_| Zeroizing::new(String::new()))
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> Algorithm {
        match &self.inner {
            Inner::P256(_) => Algorithm::EcdsaP256,
            Inner::P384(_) => Algorithm::EcdsaP384,
            Inner::Ed25519(_) => Algorithm::Ed25519,
            Inner::Backend { algorithm, .. } => *algorithm,
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

/// An ECDSA secret as an RFC 5915 `ECPrivateKey` with the curve named and no public key:
/// the form a native backend (AWS-LC) imports, computing the point itself. `None` for
/// Ed25519 (a seed needs no wrapping).
pub fn ec_private_key_der(algorithm: Algorithm, secret: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    use der::Encode;
    let curve = match algorithm {
        Algorithm::EcdsaP256 => p256::NistP256::OID,
        Algorithm::EcdsaP384 => p384::NistP384::OID,
        Algorithm::Ed25519 => return None,
    };
    let key = sec1::EcPrivateKey {
        private_key: secret,
        parameters: Some(sec1::EcParameters::NamedCurve(curve)),
        public_key: None,
    };
    key.to_der().ok().map(Zeroizing::new)
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
            Inner::Backend { signer, .. } => signer.sign(msg).ok_or(rcgen::Error::RemoteKeyError)?,
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
