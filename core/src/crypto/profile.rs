//! Certificate profiles and issuing (rcgen). One function per tier, each enforcing its profile:
//!
//! | tier | CA | pathLen | key usage (critical) | default lifetime |
//! |---|---|---|---|---|
//! | two-tier root | yes | 1 | keyCertSign, cRLSign | 10 years |
//! | intermediate | yes | 0 | keyCertSign, cRLSign | 5 years, capped to the root |
//! | root-only root | yes | 0 | keyCertSign, cRLSign | 10 years |
//! | leaf (X509-SVID) | no | – | digitalSignature; EKU serverAuth+clientAuth | 90 days, capped to the intermediate |
//!
//! Serials (16 bytes: 126 random bits, positive and fixed-length) and key identifiers (RFC 7093 method 1) are set here because
//! rcgen without a crypto backend leaves them to us.

use rand_core::CryptoRngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyIdMethod, KeyUsagePurpose, SanType, SerialNumber,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::crypto::cert::{hex, AttrValue, Cert};
use crate::crypto::keys::{PrivateKey, PublicKey};
use crate::error::CertError;

/// Default lifetime of a root, in days (10 years).
pub const ROOT_DAYS: i64 = 3652;
/// Default lifetime of an intermediate, in days (5 years).
pub const INTERMEDIATE_DAYS: i64 = 1826;
/// Default lifetime of a leaf, in days.
pub const LEAF_DAYS: i64 = crate::model::limits::LEAF_DAYS;
/// notBefore is backdated this much to absorb clock skew between hosts.
pub const BACKDATE: Duration = Duration::minutes(5);

/// Which CA tier a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaTier {
    /// The cold root of a two-tier mesh (pathLen 1).
    TwoTierRoot,
    /// The single root of a root-only PKI, handed to an online issuer (pathLen 0).
    RootOnly,
    /// A per-scope intermediate (pathLen 0).
    Intermediate,
}

impl CaTier {
    /// The pathLenConstraint this tier's profile requires.
    pub fn path_len(self) -> u8 {
        match self {
            CaTier::TwoTierRoot => 1,
            CaTier::RootOnly | CaTier::Intermediate => 0,
        }
    }
}

fn key_id(public: &[u8]) -> Vec<u8> {
    Sha256::digest(public)[..20].to_vec()
}

fn serial(rng: &mut impl CryptoRngCore) -> SerialNumber {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    // Positive and full length: clear the sign bit, set the next one.
    b[0] = (b[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&b)
}

fn base_params(cn: String, key: &[u8], rng: &mut impl CryptoRngCore) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "inforge");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.serial_number = Some(serial(rng));
    p.key_identifier_method = KeyIdMethod::PreSpecified(key_id(key));
    p
}

fn ca_params(cn: String, tier: CaTier, key: &[u8], rng: &mut impl CryptoRngCore) -> CertificateParams {
    let mut p = base_params(cn, key, rng);
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(tier.path_len()));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn issue_err(what: &str) -> impl Fn(rcgen::Error) -> CertError + '_ {
    move |e| CertError::Issue { what: what.to_string(), reason: e.to_string() }
}

/// Short key id used in subject names, so each key generation has a distinct, greppable name.
pub fn short_key_id(public: &[u8]) -> String {
    hex(&key_id(public)[..4])
}

/// Issues a self-signed root for `tier` (two-tier root or root-only root).
pub fn issue_root(
    pki: &str,
    env: &str,
    tier: CaTier,
    key: &PrivateKey,
    now: OffsetDateTime,
    rng: &mut impl CryptoRngCore,
) -> Result<Cert, crate::Error> {
    let cn = format!("{pki} {env} root CA {}", short_key_id(key.public_key_bytes()));
    let mut p = ca_params(cn, tier, key.public_key_bytes(), rng);
    p.not_before = now - BACKDATE;
    p.not_after = now + Duration::days(ROOT_DAYS);
    let c = p.self_signed(key).map_err(issue_err("root"))?;
    Ok(Cert::from_der(c.der(), "new root")?)
}

/// Issues a scope's intermediate for a fresh key, signed by `root`. Its lifetime is capped to
/// the root's.
pub fn issue_intermediate(
    pki: &str,
    env: &str,
    scope: &str,
    key: &PublicKey,
    root: (&Cert, &PrivateKey),
    now: OffsetDateTime,
    rng: &mut impl CryptoRngCore,
) -> Result<Cert, crate::Error> {
    issue_intermediate_until(pki, env, scope, key, root, now, None, rng)
}

/// [`issue_intermediate`], ending no later than `until`: a re-signed intermediate (a root
/// overlap's twin, over an existing key) keeps its key's end of life, so a key's life never
/// grows with each root rotation.
#[allow(clippy::too_many_arguments)] // the tier's facts, each distinct; a struct would only rename them
pub fn issue_intermediate_until(
    pki: &str,
    env: &str,
    scope: &str,
    key: &PublicKey,
    root: (&Cert, &PrivateKey),
    now: OffsetDateTime,
    until: Option<OffsetDateTime>,
    rng: &mut impl CryptoRngCore,
) -> Result<Cert, crate::Error> {
    let cn = format!("{pki} {env} {scope} intermediate CA {}", short_key_id(key.bytes()));
    let mut p = ca_params(cn, CaTier::Intermediate, key.bytes(), rng);
    p.use_authority_key_identifier_extension = true;
    p.not_before = (now - BACKDATE).max(root.0.not_before());
    let end = (now + Duration::days(INTERMEDIATE_DAYS)).min(root.0.not_after());
    p.not_after = until.map_or(end, |u| end.min(u));
    sign_with(p, key, root, "intermediate")
}

/// What a leaf (X509-SVID) says about its service.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// `spiffe://<baseDomain>/<env>/<scope>/<service>`: the only URI SAN.
    pub spiffe_id: String,
    /// The service name (subject CN).
    pub service: String,
    /// Extra DNS SANs.
    pub dns_names: Vec<String>,
    /// Requested lifetime; capped to the issuer's notAfter.
    pub ttl: Duration,
}

/// Issues a leaf SVID for `spec` signed by a scope intermediate.
pub fn issue_leaf(
    spec: &LeafSpec,
    key: &PrivateKey,
    issuer: (&Cert, &PrivateKey),
    now: OffsetDateTime,
    rng: &mut impl CryptoRngCore,
) -> Result<Cert, crate::Error> {
    let leaf = issue_leaf_der(spec, key, issuer, now, rng)?;
    Ok(Cert::from_der(&leaf.der, "leaf")?)
}

/// A leaf as issued: its DER and the fields reports need, known from what was signed, so a
/// renew need not parse back each of its 20k leaves (measured: 18% of a mint).
#[derive(Debug, Clone)]
pub struct IssuedLeaf {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The serial number, lowercase hex (as [`Cert::serial_hex`]).
    pub serial_hex: String,
    /// notBefore, whole seconds, UTC.
    pub not_before: OffsetDateTime,
    /// notAfter, whole seconds, UTC.
    pub not_after: OffsetDateTime,
    /// The issuer's end of life cut the leaf short of the lifetime asked for (it ends with its
    /// intermediate): renew, mint and status say so, since only an intermediate roll fixes it.
    pub capped: bool,
}

/// [`issue_leaf`] without parsing the result back.
pub fn issue_leaf_der(
    spec: &LeafSpec,
    key: &PrivateKey,
    issuer: (&Cert, &PrivateKey),
    now: OffsetDateTime,
    rng: &mut impl CryptoRngCore,
) -> Result<IssuedLeaf, crate::Error> {
    let err = |reason: String| CertError::Issue { what: format!("leaf {}", spec.spiffe_id), reason };
    let mut p = base_params(spec.service.clone(), key.public_key_bytes(), rng);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    p.use_authority_key_identifier_extension = true;
    let uri = rcgen::string::Ia5String::try_from(spec.spiffe_id.clone()).map_err(|e| err(e.to_string()))?;
    p.subject_alt_names.push(SanType::URI(uri));
    for d in &spec.dns_names {
        let d = rcgen::string::Ia5String::try_from(d.clone()).map_err(|e| err(e.to_string()))?;
        p.subject_alt_names.push(SanType::DnsName(d));
    }
    // X.509 times are whole seconds: truncate here so the values reported are the encoded ones.
    let second = |t: OffsetDateTime| t.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(t);
    p.not_before = second((now - BACKDATE).max(issuer.0.not_before()));
    p.not_after = second((now + spec.ttl).min(issuer.0.not_after()));
    let capped = second(now + spec.ttl) > p.not_after;
    let (not_before, not_after) = (p.not_before, p.not_after);
    let serial_hex = p.serial_number.as_ref().map(|s| hex(s.as_ref())).unwrap_or_default();
    let iss = issuer_of(issuer.0, issuer.1, "leaf")?;
    let c = p.signed_by(key, &iss).map_err(issue_err("leaf"))?;
    Ok(IssuedLeaf { der: c.der().to_vec(), serial_hex, not_before, not_after, capped })
}

fn sign_with(
    params: CertificateParams,
    key: &impl rcgen::PublicKeyData,
    issuer: (&Cert, &PrivateKey),
    what: &str,
) -> Result<Cert, crate::Error> {
    let iss = issuer_of(issuer.0, issuer.1, what)?;
    let c = params.signed_by(key, &iss).map_err(issue_err(what))?;
    Ok(Cert::from_der(c.der(), what)?)
}

/// Rebuilds an rcgen issuer from a CA certificate: its exact subject name (so the child's
/// issuer field matches byte for byte), its subject key identifier and its key usages.
/// (rcgen's own `from_ca_cert_der` needs x509-parser with a ring-backed verifier.)
pub(crate) fn issuer_of<'a>(
    ca: &Cert,
    key: &'a PrivateKey,
    what: &str,
) -> Result<Issuer<'a, &'a PrivateKey>, CertError> {
    let err = |reason: String| CertError::Issue { what: what.to_string(), reason };
    let mut dn = DistinguishedName::new();
    for (oid, value) in ca.subject_attributes() {
        let ty = match oid.as_str() {
            "2.5.4.3" => DnType::CommonName,
            "2.5.4.10" => DnType::OrganizationName,
            "2.5.4.11" => DnType::OrganizationalUnitName,
            "2.5.4.6" => DnType::CountryName,
            "2.5.4.7" => DnType::LocalityName,
            "2.5.4.8" => DnType::StateOrProvinceName,
            other => DnType::CustomDnType(
                other.split('.').map(|a| a.parse::<u64>().map_err(|e| err(e.to_string()))).collect::<Result<_, _>>()?,
            ),
        };
        let value = match value {
            AttrValue::Utf8(s) => DnValue::Utf8String(s),
            AttrValue::Printable(s) => {
                DnValue::PrintableString(rcgen::string::PrintableString::try_from(s).map_err(|e| err(e.to_string()))?)
            }
            AttrValue::Ia5(s) => {
                DnValue::Ia5String(rcgen::string::Ia5String::try_from(s).map_err(|e| err(e.to_string()))?)
            }
            AttrValue::Other => return Err(err("issuer subject uses an unsupported string type".into())),
        };
        dn.push(ty, value);
    }
    let ski = ca.subject_key_id_bytes().ok_or_else(|| err("issuer has no subject key identifier".into()))?;
    let mut p = CertificateParams::default();
    p.distinguished_name = dn;
    p.key_identifier_method = KeyIdMethod::PreSpecified(ski);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(Issuer::new(p, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::Algorithm;
    use rand_chacha::rand_core::SeedableRng;
    use x509_cert::ext::pkix::KeyUsages;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap()
    }

    #[test]
    fn profiles_hold_for_every_algorithm() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for alg in [Algorithm::EcdsaP256, Algorithm::EcdsaP384, Algorithm::Ed25519] {
            let rk = PrivateKey::generate(alg, &mut rng);
            let root = issue_root("mesh", "prd", CaTier::TwoTierRoot, &rk, now(), &mut rng).unwrap();
            assert_eq!(root.basic_constraints(), Some((true, true, Some(1))));
            let (crit, _) = root.key_usage().unwrap();
            assert!(crit);
            assert!(root.has_key_usage(KeyUsages::KeyCertSign) && root.has_key_usage(KeyUsages::CRLSign));
            root.verify_signed_by(&root, "root").unwrap();

            let ik = PrivateKey::generate(alg, &mut rng);
            let int = issue_intermediate("mesh", "prd", "global", &ik.public(), (&root, &rk), now(), &mut rng).unwrap();
            assert_eq!(int.basic_constraints(), Some((true, true, Some(0))));
            int.verify_signed_by(&root, "int").unwrap();
            assert_eq!(int.authority_key_id(), root.subject_key_id());
            assert!(int.not_after() <= root.not_after());
            assert_eq!(int.public_key_bytes(), ik.public_key_bytes());

            let lk = PrivateKey::generate(alg, &mut rng);
            let spec = LeafSpec {
                spiffe_id: "spiffe://wardnet.example/prd/global/api".into(),
                service: "api".into(),
                dns_names: vec!["api.internal".into()],
                ttl: Duration::days(LEAF_DAYS),
            };
            let leaf = issue_leaf(&spec, &lk, (&int, &ik), now(), &mut rng).unwrap();
            leaf.verify_signed_by(&int, "leaf").unwrap();
            assert!(leaf.verify_signed_by(&root, "leaf").is_err());
            assert_eq!(leaf.basic_constraints().map(|b| b.1), Some(false));
            assert_eq!(leaf.uri_sans(), vec![spec.spiffe_id.clone()]);
            assert_eq!(leaf.dns_sans(), vec!["api.internal".to_string()]);
        }
    }

    /// What a renew reports without parsing its leaves equals what the parsed leaf says,
    /// also when `now` has a fraction of a second (X.509 drops it) and when the issuer caps
    /// the lifetime.
    #[test]
    fn an_issued_leaf_reports_what_its_certificate_says() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let rk = PrivateKey::generate(Algorithm::EcdsaP256, &mut rng);
        let root = issue_root("m", "e", CaTier::TwoTierRoot, &rk, now(), &mut rng).unwrap();
        let ik = PrivateKey::generate(Algorithm::EcdsaP256, &mut rng);
        let int = issue_intermediate("m", "e", "global", &ik.public(), (&root, &rk), now(), &mut rng).unwrap();
        let spec = LeafSpec {
            spiffe_id: "spiffe://wardnet.example/e/global/api".into(),
            service: "api".into(),
            dns_names: vec![],
            ttl: Duration::days(LEAF_DAYS),
        };
        for (i, at) in [now(), now() + Duration::nanoseconds(999_999_999), int.not_after() - Duration::days(3)]
            .into_iter()
            .enumerate()
        {
            for _ in 0..20 {
                let lk = PrivateKey::generate(Algorithm::EcdsaP256, &mut rng);
                let issued = issue_leaf_der(&spec, &lk, (&int, &ik), at, &mut rng).unwrap();
                let leaf = Cert::from_der(&issued.der, "leaf").unwrap();
                assert_eq!(issued.serial_hex, leaf.serial_hex(), "case {i}");
                assert_eq!(issued.not_before, leaf.not_before(), "case {i}");
                assert_eq!(issued.not_after, leaf.not_after(), "case {i}");
                leaf.verify_signed_by(&int, "leaf").unwrap();
            }
        }
    }

    #[test]
    fn lifetimes_are_capped_by_the_issuer() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let rk = PrivateKey::generate(Algorithm::EcdsaP256, &mut rng);
        let root = issue_root("m", "e", CaTier::TwoTierRoot, &rk, now(), &mut rng).unwrap();
        let later = now() + Duration::days(ROOT_DAYS - 10);
        let ik = PrivateKey::generate(Algorithm::EcdsaP256, &mut rng);
        let int = issue_intermediate("m", "e", "global", &ik.public(), (&root, &rk), later, &mut rng).unwrap();
        assert_eq!(int.not_after(), root.not_after());
    }
}
