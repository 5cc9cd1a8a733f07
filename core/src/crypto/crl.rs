//! Certificate revocation lists: signing one per intermediate (rcgen, RFC 5280 §5 profile:
//! version 2, authority key identifier, CRL number, nextUpdate) and reading them back
//! (x509-cert) to check a leaf against the CRLs served with it.

use der::{Decode, Encode};
use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use time::OffsetDateTime;
use x509_cert::crl::CertificateList;

use crate::crypto::cert::{hex, Cert};
use crate::crypto::keys::PrivateKey;
use crate::error::CertError;
use crate::model::store::RevocationReason;

/// One revoked certificate as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlEntry {
    /// Serial number, lowercase hex (big-endian bytes).
    pub serial: String,
    /// When it was revoked.
    pub revoked_at: OffsetDateTime,
    /// Why.
    pub reason: RevocationReason,
}

/// What a CRL says about its own validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrlTimes {
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate: consumers that check CRLs refuse it after this.
    pub next_update: OffsetDateTime,
    /// The CRL number (monotonic per issuer).
    pub number: u64,
}

fn reason_code(r: RevocationReason) -> rcgen::RevocationReason {
    match r {
        RevocationReason::Unspecified => rcgen::RevocationReason::Unspecified,
        RevocationReason::KeyCompromise => rcgen::RevocationReason::KeyCompromise,
        RevocationReason::AffiliationChanged => rcgen::RevocationReason::AffiliationChanged,
        RevocationReason::Superseded => rcgen::RevocationReason::Superseded,
        RevocationReason::CessationOfOperation => rcgen::RevocationReason::CessationOfOperation,
    }
}

fn serial_bytes(hex_serial: &str) -> Option<Vec<u8>> {
    (0..hex_serial.len())
        .step_by(2)
        .map(|i| hex_serial.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// Signs `issuer`'s CRL listing `entries`, as PEM (`X509 CRL`, LF line endings). Signatures
/// are deterministic (RFC 6979 ECDSA, Ed25519), so equal inputs give equal bytes and an
/// unchanged CRL is not rewritten.
pub fn sign_crl(
    issuer: (&Cert, &PrivateKey),
    entries: &[CrlEntry],
    times: CrlTimes,
    what: &str,
) -> Result<String, CertError> {
    let err = |reason: String| CertError::Issue { what: what.to_string(), reason };
    let revoked_certs = entries
        .iter()
        .map(|e| {
            let serial = serial_bytes(&e.serial).ok_or_else(|| err(format!("serial {:?} is not hex", e.serial)))?;
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial),
                revocation_time: e.revoked_at,
                reason_code: Some(reason_code(e.reason)),
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>, CertError>>()?;
    let ski = issuer.0.subject_key_id_bytes().ok_or_else(|| err("issuer has no subject key identifier".into()))?;
    let params = CertificateRevocationListParams {
        this_update: times.this_update,
        next_update: times.next_update,
        crl_number: SerialNumber::from_slice(&times.number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::PreSpecified(ski),
    };
    let iss = crate::crypto::profile::issuer_of(issuer.0, issuer.1, what)?;
    let crl = params.signed_by(&iss).map_err(|e| err(e.to_string()))?;
    der::pem::encode_string("X509 CRL", der::pem::LineEnding::LF, crl.der()).map_err(|e| err(e.to_string()))
}

/// A parsed CRL.
#[derive(Debug, Clone)]
pub struct Crl {
    inner: CertificateList,
}

impl Crl {
    /// Whether `ca` is this CRL's issuer by name and signature.
    pub fn is_signed_by(&self, ca: &Cert) -> bool {
        if &self.inner.tbs_cert_list.issuer != crate::crypto::cert::subject_name(ca) {
            return false;
        }
        let Ok(tbs) = self.inner.tbs_cert_list.to_der() else { return false };
        let Some(sig) = self.inner.signature.as_bytes() else { return false };
        crate::crypto::cert::verify_signature(self.inner.signature_algorithm.oid, &tbs, sig, ca)
    }

    /// Whether the certificate with this serial (hex) is listed.
    pub fn lists(&self, serial_hex: &str) -> bool {
        let want = crate::model::store::serial_value(serial_hex);
        self.revoked_serials().iter().any(|s| crate::model::store::serial_value(s) == want)
    }

    /// The listed serials, lowercase hex.
    pub fn revoked_serials(&self) -> Vec<String> {
        let list = self.inner.tbs_cert_list.revoked_certificates.as_deref().unwrap_or_default();
        list.iter().map(|r| hex(r.serial_number.as_bytes())).collect()
    }

    /// thisUpdate.
    pub fn this_update(&self) -> OffsetDateTime {
        crate::crypto::cert::to_time(self.inner.tbs_cert_list.this_update)
    }

    /// nextUpdate (None if absent, which inforge never writes).
    pub fn next_update(&self) -> Option<OffsetDateTime> {
        self.inner.tbs_cert_list.next_update.map(crate::crypto::cert::to_time)
    }
}

/// Splits PEM text into CRLs (blocks separated by whitespace only); empty text is no CRL.
pub fn parse_crls(pem: &str, location: &str) -> Result<Vec<Crl>, CertError> {
    const END: &str = "-----END X509 CRL-----";
    let err = |reason: String| CertError::Parse { location: location.to_string(), reason };
    let mut out = Vec::new();
    let mut rest = pem.trim_start();
    while !rest.is_empty() {
        let at = rest.find(END).ok_or_else(|| err("a PEM block without its -----END X509 CRL----- line".into()))?;
        let (block, after) = rest.split_at(at + END.len());
        let (label, der) = der::pem::decode_vec(block.as_bytes()).map_err(|e| err(e.to_string()))?;
        if label != "X509 CRL" {
            return Err(err(format!("PEM type label `{label}` where an X509 CRL belongs")));
        }
        let inner = CertificateList::from_der(&der).map_err(|e| err(e.to_string()))?;
        out.push(Crl { inner });
        rest = after.trim_start();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::Algorithm;
    use crate::crypto::profile::{self, CaTier};
    use rand_chacha::rand_core::SeedableRng;

    fn at(s: &str) -> OffsetDateTime {
        crate::model::time::parse_rfc3339("t", s).unwrap()
    }

    #[test]
    fn a_signed_crl_reads_back_and_verifies_only_against_its_issuer() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        for alg in [Algorithm::EcdsaP256, Algorithm::EcdsaP384, Algorithm::Ed25519] {
            let now = at("2026-12-04T09:00:00Z");
            let rk = PrivateKey::generate(alg, &mut rng);
            let root = profile::issue_root("m", "prd", CaTier::TwoTierRoot, &rk, now, &mut rng).unwrap();
            let ik = PrivateKey::generate(alg, &mut rng);
            let int =
                profile::issue_intermediate("m", "prd", "global", &ik.public(), (&root, &rk), now, &mut rng).unwrap();
            let entries = vec![
                CrlEntry { serial: "0a1b2c".into(), revoked_at: now, reason: RevocationReason::KeyCompromise },
                CrlEntry { serial: "7f".into(), revoked_at: now, reason: RevocationReason::Superseded },
            ];
            let times = CrlTimes { this_update: now, next_update: now + time::Duration::days(7), number: 42 };
            let pem = sign_crl((&int, &ik), &entries, times, "crl").unwrap();
            assert_eq!(pem, sign_crl((&int, &ik), &entries, times, "crl").unwrap(), "deterministic ({alg:?})");
            let crls = parse_crls(&format!("{pem}\n{pem}"), "crl.pem").unwrap();
            assert_eq!(crls.len(), 2);
            let c = &crls[0];
            assert!(c.is_signed_by(&int), "{alg:?}");
            assert!(!c.is_signed_by(&root), "the root's name differs");
            assert!(c.lists("0a1b2c") && c.lists("000a1b2c") && c.lists("7f") && !c.lists("0a1b2d"));
            assert_eq!(c.this_update(), now);
            assert_eq!(c.next_update(), Some(now + time::Duration::days(7)));
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_crls("", "crl.pem").unwrap().is_empty());
        for bad in [
            "-----BEGIN X509 CRL-----\nMII=\n-----END X509 CRL-----\n",
            "-----BEGIN CERTIFICATE-----\nMII=\n-----END X509 CRL-----\n",
            "-----BEGIN X509 CRL-----\nMII=\n",
        ] {
            assert!(parse_crls(bad, "crl.pem").is_err(), "{bad}");
        }
    }
}
