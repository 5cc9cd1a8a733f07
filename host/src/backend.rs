//! The native key backend: AWS-LC (aws-lc-rs) behind the core's [`KeyBackend`] seam.
//!
//! The core still draws every secret from its RNG; AWS-LC imports it (an RFC 5915 key
//! without its public point, which AWS-LC computes; an Ed25519 seed), then computes the
//! public key and signs. ECDSA nonces come from AWS-LC's own OS-seeded generator. The keys
//! and PKCS#8 bytes are the pure-Rust backend's, byte for byte (`tests` below, against
//! RustCrypto; signatures verify across). AWS-LC is built without its CPU-jitter entropy
//! source (`.cargo/config.toml`): its generator, used here only for ECDSA nonces, is seeded
//! from the OS.
//!
//! It is also the process's ECDSA verifier ([`install`]), which makes `validate` and every
//! issuer check several times faster; the verdicts are RustCrypto's (tested below).

use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use inforge_core::crypto::keys::{ec_private_key_der, Algorithm, BackendSigner, KeyBackend, SignatureVerifier};

/// AWS-LC.
pub struct AwsLc;

/// The backend the native frontends mint with.
pub static AWS_LC: AwsLc = AwsLc;

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

struct Signer(Pair);

impl BackendSigner for Signer {
    fn public_key(&self) -> Vec<u8> {
        match &self.0 {
            Pair::Ecdsa(k) => k.public_key().as_ref().to_vec(),
            Pair::Ed25519(k) => k.public_key().as_ref().to_vec(),
        }
    }

    fn sign(&self, msg: &[u8]) -> Option<Vec<u8>> {
        match &self.0 {
            Pair::Ecdsa(k) => k.sign(&aws_lc_rs::rand::SystemRandom::new(), msg).ok().map(|s| s.as_ref().to_vec()),
            Pair::Ed25519(k) => Some(k.sign(msg).as_ref().to_vec()),
        }
    }
}

impl KeyBackend for AwsLc {
    fn name(&self) -> &'static str {
        "aws-lc"
    }

    fn signer(&self, algorithm: Algorithm, secret: &[u8]) -> Option<Box<dyn BackendSigner>> {
        let pair = match algorithm {
            Algorithm::EcdsaP256 | Algorithm::EcdsaP384 => {
                let alg = if algorithm == Algorithm::EcdsaP256 {
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING
                } else {
                    &signature::ECDSA_P384_SHA384_ASN1_SIGNING
                };
                let der = ec_private_key_der(algorithm, secret)?;
                Pair::Ecdsa(EcdsaKeyPair::from_private_key_der(alg, &der).ok()?)
            }
            Algorithm::Ed25519 => Pair::Ed25519(Ed25519KeyPair::from_seed_unchecked(secret).ok()?),
        };
        Some(Box::new(Signer(pair)))
    }
}

impl SignatureVerifier for AwsLc {
    fn name(&self) -> &'static str {
        "aws-lc"
    }

    fn verify_ecdsa(&self, curve: Algorithm, public_key: &[u8], msg: &[u8], sig: &[u8]) -> Option<bool> {
        let alg: &dyn signature::VerificationAlgorithm = match curve {
            Algorithm::EcdsaP256 => &signature::ECDSA_P256_SHA256_ASN1,
            Algorithm::EcdsaP384 => &signature::ECDSA_P384_SHA384_ASN1,
            Algorithm::Ed25519 => return None,
        };
        Some(signature::UnparsedPublicKey::new(alg, public_key).verify(msg, sig).is_ok())
    }
}

/// Installs AWS-LC as the process's ECDSA verifier (idempotent). Every native frontend calls
/// it once at start.
pub fn install() {
    let _ = inforge_core::crypto::keys::install_verifier(&AWS_LC);
}

#[cfg(test)]
mod tests {
    use super::*;
    use inforge_core::crypto::keys::{PrivateKey, PURE_RUST};
    use rand_core::{RngCore, SeedableRng};

    /// Same seed → same public key and PKCS#8 bytes from both backends, for 200 keys per
    /// algorithm; each key's signature verifies with the other implementation.
    #[test]
    fn backends_agree_and_signatures_verify_across() {
        use rcgen::SigningKey;
        for alg in [Algorithm::EcdsaP256, Algorithm::EcdsaP384, Algorithm::Ed25519] {
            for seed in 0..200u64 {
                let mut a = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
                let mut b = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
                let pure = PrivateKey::generate_with(alg, &mut a, &PURE_RUST);
                let fast = PrivateKey::generate_with(alg, &mut b, &AWS_LC);
                assert!(fast.is_backend() && !pure.is_backend());
                assert_eq!(pure.public_key_bytes(), fast.public_key_bytes(), "{alg:?} seed {seed}");
                assert_eq!(*pure.to_pkcs8_pem(), *fast.to_pkcs8_pem(), "{alg:?} seed {seed}");
                // The old constructor draws the same key too.
                let mut c = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
                assert_eq!(PrivateKey::generate(alg, &mut c).public_key_bytes(), pure.public_key_bytes());
                assert_eq!(a.next_u64(), b.next_u64(), "both consumed the same randomness");
                if seed % 20 == 0 {
                    let mut msg = [0u8; 64];
                    a.fill_bytes(&mut msg);
                    let vk_alg: &dyn signature::VerificationAlgorithm = match alg {
                        Algorithm::EcdsaP256 => &signature::ECDSA_P256_SHA256_ASN1,
                        Algorithm::EcdsaP384 => &signature::ECDSA_P384_SHA384_ASN1,
                        Algorithm::Ed25519 => &signature::ED25519,
                    };
                    // RustCrypto's signature, checked by AWS-LC …
                    let s1 = pure.sign(&msg).unwrap();
                    signature::UnparsedPublicKey::new(vk_alg, fast.public_key_bytes()).verify(&msg, &s1).unwrap();
                    // … and AWS-LC's, checked by AWS-LC and by RustCrypto (through the PKCS#8
                    // round trip into a pure key).
                    let s2 = fast.sign(&msg).unwrap();
                    signature::UnparsedPublicKey::new(vk_alg, pure.public_key_bytes()).verify(&msg, &s2).unwrap();
                    verify_rustcrypto(alg, pure.public_key_bytes(), &msg, &s2);
                }
            }
        }
    }

    fn rustcrypto_verdict(alg: Algorithm, public: &[u8], msg: &[u8], sig: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier;
        match alg {
            Algorithm::EcdsaP256 => {
                let (Ok(vk), Ok(s)) =
                    (p256::ecdsa::VerifyingKey::from_sec1_bytes(public), p256::ecdsa::Signature::from_der(sig))
                else {
                    return false;
                };
                vk.verify(msg, &s).is_ok()
            }
            Algorithm::EcdsaP384 => {
                let (Ok(vk), Ok(s)) =
                    (p384::ecdsa::VerifyingKey::from_sec1_bytes(public), p384::ecdsa::Signature::from_der(sig))
                else {
                    return false;
                };
                vk.verify(msg, &s).is_ok()
            }
            Algorithm::Ed25519 => {
                let (Ok(k), Ok(s)) = (<[u8; 32]>::try_from(public), ed25519_dalek::Signature::from_slice(sig)) else {
                    return false;
                };
                ed25519_dalek::VerifyingKey::from_bytes(&k).is_ok_and(|vk| vk.verify_strict(msg, &s).is_ok())
            }
        }
    }

    fn verify_rustcrypto(alg: Algorithm, public: &[u8], msg: &[u8], sig: &[u8]) {
        assert!(rustcrypto_verdict(alg, public, msg, sig), "{alg:?}: RustCrypto rejects the signature");
    }

    #[test]
    fn the_aws_lc_verifier_agrees_with_rustcrypto() {
        use rcgen::SigningKey;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let (mut valid, mut rejected) = (0, 0);
        for alg in [Algorithm::EcdsaP256, Algorithm::EcdsaP384] {
            for i in 0..300usize {
                let k = PrivateKey::generate(alg, &mut rng);
                let mut msg = vec![0u8; 1 + i % 200];
                rng.fill_bytes(&mut msg);
                let sig = k.sign(&msg).unwrap();
                let mut public = k.public_key_bytes().to_vec();
                let (mut m, mut s) = (msg.clone(), sig.clone());
                match i % 4 {
                    0 => {}
                    1 => {
                        let at = i % m.len();
                        m[at] ^= 1 << (i % 8);
                    }
                    2 => {
                        let at = i % s.len();
                        s[at] ^= 1 << (i % 8);
                    }
                    _ => {
                        let at = 1 + i % (public.len() - 1);
                        public[at] ^= 1 << (i % 8);
                    }
                }
                let want = rustcrypto_verdict(alg, &public, &m, &s);
                let got = AWS_LC.verify_ecdsa(alg, &public, &m, &s);
                assert_eq!(got, Some(want), "{alg:?} case {i}");
                if want {
                    valid += 1;
                } else {
                    rejected += 1;
                }
            }
        }
        assert!(valid >= 150 && rejected >= 400, "both verdicts exercised: {valid} valid, {rejected} rejected");
        assert_eq!(AWS_LC.verify_ecdsa(Algorithm::Ed25519, &[0; 32], b"m", &[0; 64]), None);
    }

    #[test]
    fn an_existing_key_moves_to_the_backend_unchanged() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let k = PrivateKey::generate(Algorithm::EcdsaP256, &mut rng);
        let moved = k.to_backend(&AWS_LC).unwrap();
        assert_eq!(k.public_key_bytes(), moved.public_key_bytes());
        assert_eq!(*k.to_pkcs8_pem(), *moved.to_pkcs8_pem());
        assert!(moved.to_backend(&AWS_LC).is_none(), "already on a backend");
        assert!(k.to_backend(&PURE_RUST).is_none());
    }
}
