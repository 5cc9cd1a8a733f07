//! Reading certificates (x509-cert) and verifying their signatures (RustCrypto).
//!
//! Issuing lives in [`crate::crypto::profile`]; this module is the read side used by listings,
//! custody checks, bundles and validation.

use der::{Decode, Encode, Tagged};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_cert::ext::pkix::{
    name::GeneralName, AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
    SubjectKeyIdentifier,
};
use x509_cert::Certificate;

use crate::crypto::keys::Algorithm;
use crate::error::CertError;

const OID_ECDSA_SHA256: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ED25519: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_EC_PUBLIC_KEY: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// id-kp-serverAuth.
pub const OID_SERVER_AUTH: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
/// id-kp-clientAuth.
pub const OID_CLIENT_AUTH: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// A distinguished-name attribute value, by string type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// UTF8String.
    Utf8(String),
    /// PrintableString.
    Printable(String),
    /// IA5String.
    Ia5(String),
    /// Any other string type.
    Other,
}

/// A parsed certificate with the accessors inforge needs.
#[derive(Clone, Debug)]
pub struct Cert {
    inner: Certificate,
    der: Vec<u8>,
}

impl Cert {
    /// Parses one PEM certificate; `location` names it in errors.
    pub fn from_pem(pem: &str, location: &str) -> Result<Cert, CertError> {
        let der = pem_block(pem.trim(), location)?;
        Cert::from_der(&der, location)
    }

    /// Parses one DER certificate.
    pub fn from_der(der: &[u8], location: &str) -> Result<Cert, CertError> {
        let inner = Certificate::from_der(der)
            .map_err(|e| CertError::Parse { location: location.to_string(), reason: e.to_string() })?;
        Ok(Cert { inner, der: der.to_vec() })
    }

    /// DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM with LF line endings and a trailing newline.
    pub fn pem(&self) -> String {
        der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &self.der).unwrap_or_default()
    }

    /// Subject distinguished name (RFC 4514 string).
    pub fn subject(&self) -> String {
        self.inner.tbs_certificate.subject.to_string()
    }

    /// Issuer distinguished name (RFC 4514 string).
    pub fn issuer(&self) -> String {
        self.inner.tbs_certificate.issuer.to_string()
    }

    /// Serial number, lowercase hex.
    pub fn serial_hex(&self) -> String {
        hex(self.inner.tbs_certificate.serial_number.as_bytes())
    }

    /// SHA-256 fingerprint of the DER, lowercase hex (what `revoked:` records).
    pub fn fingerprint(&self) -> String {
        hex(&Sha256::digest(&self.der))
    }

    /// Start of validity.
    pub fn not_before(&self) -> OffsetDateTime {
        to_time(self.inner.tbs_certificate.validity.not_before)
    }

    /// End of validity.
    pub fn not_after(&self) -> OffsetDateTime {
        to_time(self.inner.tbs_certificate.validity.not_after)
    }

    /// Raw subjectPublicKey bytes.
    pub fn public_key_bytes(&self) -> &[u8] {
        self.inner.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes()
    }

    /// The public key, if its algorithm is one inforge issues.
    pub fn public_key(&self) -> Option<crate::crypto::keys::PublicKey> {
        Some(crate::crypto::keys::PublicKey::new(self.key_algorithm()?, self.public_key_bytes().to_vec()))
    }

    /// The key algorithm, if it is one inforge issues.
    pub fn key_algorithm(&self) -> Option<Algorithm> {
        let spki = &self.inner.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid == OID_ED25519 {
            return Some(Algorithm::Ed25519);
        }
        if spki.algorithm.oid != OID_EC_PUBLIC_KEY {
            return None;
        }
        let curve = spki.algorithm.parameters.as_ref()?.decode_as::<der::asn1::ObjectIdentifier>().ok()?;
        match curve {
            c if c == OID_P256 => Some(Algorithm::EcdsaP256),
            c if c == OID_P384 => Some(Algorithm::EcdsaP384),
            _ => None,
        }
    }

    /// Basic constraints: (critical, cA, pathLenConstraint); `None` if absent or unreadable.
    pub fn basic_constraints(&self) -> Option<(bool, bool, Option<u8>)> {
        let (crit, bc) = self.inner.tbs_certificate.get::<BasicConstraints>().ok()??;
        Some((crit, bc.ca, bc.path_len_constraint))
    }

    /// Key usage: (critical, flags); `None` if absent or unreadable.
    pub fn key_usage(&self) -> Option<(bool, KeyUsage)> {
        self.inner.tbs_certificate.get::<KeyUsage>().ok()?
    }

    /// Whether key usage contains `flag`.
    pub fn has_key_usage(&self, flag: KeyUsages) -> bool {
        self.key_usage().map(|(_, ku)| ku.0.contains(flag)).unwrap_or(false)
    }

    /// Extended key usage OIDs (empty if absent).
    pub fn extended_key_usage(&self) -> Vec<der::asn1::ObjectIdentifier> {
        match self.inner.tbs_certificate.get::<ExtendedKeyUsage>() {
            Ok(Some((_, eku))) => eku.0,
            _ => Vec::new(),
        }
    }

    /// Subject key identifier, hex.
    pub fn subject_key_id(&self) -> Option<String> {
        let (_, ski) = self.inner.tbs_certificate.get::<SubjectKeyIdentifier>().ok()??;
        Some(hex(ski.0.as_bytes()))
    }

    /// Subject key identifier bytes.
    pub fn subject_key_id_bytes(&self) -> Option<Vec<u8>> {
        let (_, ski) = self.inner.tbs_certificate.get::<SubjectKeyIdentifier>().ok()??;
        Some(ski.0.as_bytes().to_vec())
    }

    /// The subject's attributes in order: (dotted OID, value).
    pub fn subject_attributes(&self) -> Vec<(String, AttrValue)> {
        let mut out = Vec::new();
        for rdn in self.inner.tbs_certificate.subject.0.iter() {
            for atv in rdn.0.iter() {
                let text = || String::from_utf8(atv.value.value().to_vec()).unwrap_or_default();
                let v = match atv.value.tag() {
                    der::Tag::Utf8String => AttrValue::Utf8(text()),
                    der::Tag::PrintableString => AttrValue::Printable(text()),
                    der::Tag::Ia5String => AttrValue::Ia5(text()),
                    _ => AttrValue::Other,
                };
                out.push((atv.oid.to_string(), v));
            }
        }
        out
    }

    /// The subject's (last) common name, if it has one as a string.
    pub fn common_name(&self) -> Option<String> {
        self.subject_attributes().into_iter().rev().find(|(oid, _)| oid == "2.5.4.3").and_then(|(_, v)| match v {
            AttrValue::Utf8(s) | AttrValue::Printable(s) | AttrValue::Ia5(s) => Some(s),
            AttrValue::Other => None,
        })
    }

    /// Authority key identifier, hex.
    pub fn authority_key_id(&self) -> Option<String> {
        let (_, aki) = self.inner.tbs_certificate.get::<AuthorityKeyIdentifier>().ok()??;
        aki.key_identifier.map(|k| hex(k.as_bytes()))
    }

    /// URI subject alternative names.
    pub fn uri_sans(&self) -> Vec<String> {
        self.sans(|g| match g {
            GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
            _ => None,
        })
    }

    /// DNS subject alternative names.
    pub fn dns_sans(&self) -> Vec<String> {
        self.sans(|g| match g {
            GeneralName::DnsName(d) => Some(d.to_string()),
            _ => None,
        })
    }

    /// Number of subject alternative names of any kind.
    pub fn san_count(&self) -> usize {
        self.sans(|_| Some(())).len()
    }

    fn sans<T>(&self, pick: impl Fn(&GeneralName) -> Option<T>) -> Vec<T> {
        match self.inner.tbs_certificate.get::<SubjectAltName>() {
            Ok(Some((_, san))) => san.0.iter().filter_map(pick).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether `now` is within the validity period.
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.not_before() <= now && now <= self.not_after()
    }

    /// Verifies this certificate's signature with `issuer`'s public key (and that the issuer
    /// name matches). Uses RustCrypto verifiers; tests cross-check with webpki and openssl.
    pub fn verify_signed_by(&self, issuer: &Cert, location: &str) -> Result<(), CertError> {
        let bad = || CertError::BadSignature { location: location.to_string(), issuer: issuer.subject() };
        if self.inner.tbs_certificate.issuer != issuer.inner.tbs_certificate.subject {
            return Err(bad());
        }
        let tbs = self.inner.tbs_certificate.to_der().map_err(|_| bad())?;
        let ok = verify_signature(self.inner.signature_algorithm.oid, &tbs, self.inner.signature.raw_bytes(), issuer);
        if ok {
            Ok(())
        } else {
            Err(bad())
        }
    }
}

/// Whether `sig` over `tbs` (a certificate's or a CRL's signed part) verifies with `issuer`'s
/// public key under signature algorithm `oid`.
pub(crate) fn verify_signature(oid: der::asn1::ObjectIdentifier, tbs: &[u8], sig: &[u8], issuer: &Cert) -> bool {
    let key = issuer.public_key_bytes();
    let curve = match oid {
        o if o == OID_ECDSA_SHA256 => Some(crate::crypto::keys::Algorithm::EcdsaP256),
        o if o == OID_ECDSA_SHA384 => Some(crate::crypto::keys::Algorithm::EcdsaP384),
        _ => None,
    };
    if let Some(fast) = curve.zip(crate::crypto::keys::verifier()).and_then(|(c, v)| v.verify_ecdsa(c, key, tbs, sig)) {
        return fast;
    }
    match oid {
        oid if oid == OID_ECDSA_SHA256 => {
            use p256::ecdsa::signature::Verifier;
            let (Ok(vk), Ok(s)) =
                (p256::ecdsa::VerifyingKey::from_sec1_bytes(key), p256::ecdsa::Signature::from_der(sig))
            else {
                return false;
            };
            vk.verify(tbs, &s).is_ok()
        }
        oid if oid == OID_ECDSA_SHA384 => {
            use p384::ecdsa::signature::Verifier;
            let (Ok(vk), Ok(s)) =
                (p384::ecdsa::VerifyingKey::from_sec1_bytes(key), p384::ecdsa::Signature::from_der(sig))
            else {
                return false;
            };
            vk.verify(tbs, &s).is_ok()
        }
        oid if oid == OID_ED25519 => {
            let Ok(k) = <[u8; 32]>::try_from(key) else { return false };
            let (Ok(vk), Ok(s)) =
                (ed25519_dalek::VerifyingKey::from_bytes(&k), ed25519_dalek::Signature::from_slice(sig))
            else {
                return false;
            };
            vk.verify_strict(tbs, &s).is_ok()
        }
        _ => false,
    }
}

/// The subject name of a certificate, DER, for matching a CRL's issuer byte for byte.
pub(crate) fn subject_name(cert: &Cert) -> &x509_cert::name::Name {
    &cert.inner.tbs_certificate.subject
}

/// One PEM `CERTIFICATE` block to DER. Decoded whole by pem-rfc7468 (`der::pem::decode_vec`),
/// never by der's streaming `PemReader` (which `Certificate::from_pem` and `load_pem_chain`
/// use): on a body cut inside the DER length ("MII=") that reader loops forever (der 0.7.10,
/// found by the `fetched_set` fuzz target), and a hostile set or store must never hang a
/// command, the bootstrapper or the browser inspector.
fn pem_block(block: &str, location: &str) -> Result<Vec<u8>, CertError> {
    let err = |reason: String| CertError::Parse { location: location.to_string(), reason };
    let (label, der) = der::pem::decode_vec(block.as_bytes()).map_err(|e| err(e.to_string()))?;
    if label != "CERTIFICATE" {
        return Err(err(format!("PEM type label `{label}` where a CERTIFICATE belongs")));
    }
    Ok(der)
}

/// Splits a PEM bundle into certificates: blocks separated by whitespace only, as RFC 7468
/// writes them (text before, between or after the blocks is an error, as it was).
pub fn parse_bundle(pem: &str, location: &str) -> Result<Vec<Cert>, CertError> {
    const END: &str = "-----END CERTIFICATE-----";
    let mut certs = Vec::new();
    let mut rest = pem.trim_start();
    while !rest.is_empty() {
        let Some(at) = rest.find(END) else {
            return Err(CertError::Parse {
                location: location.to_string(),
                reason: "a PEM block without its -----END CERTIFICATE----- line".into(),
            });
        };
        let (block, after) = rest.split_at(at + END.len());
        certs.push(Cert::from_der(&pem_block(block, location)?, location)?);
        rest = after.trim_start();
    }
    Ok(certs)
}

pub(crate) fn to_time(t: x509_cert::time::Time) -> OffsetDateTime {
    let secs = t.to_unix_duration().as_secs();
    OffsetDateTime::from_unix_timestamp(secs as i64).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PEM body cut after its DER length's first bytes ("MII=" decodes to 0x30 0x82): der
    /// 0.7's streaming PemReader looped forever on it (found by the `fetched_set` fuzz target:
    /// a hostile provider set hung the bootstrapper, `pki status` and `validate`). Both entry
    /// points must refuse it at once.
    #[test]
    fn a_truncated_pem_body_is_an_error_not_a_hang() {
        let pem = "-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n";
        assert!(parse_bundle(pem, "cert.pem").is_err());
        assert!(Cert::from_pem(pem, "cert.pem").is_err());
        assert!(parse_bundle(&format!("{pem}lc"), "cert.pem").is_err());
    }
}
