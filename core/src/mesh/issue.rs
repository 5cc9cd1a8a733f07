//! Minting: `check_issuer` (every issuer checked against its root before use), `open_issuers`
//! (decrypts exactly the intermediate keys the targets need, each checked against its
//! certificate) and `mint` (key, X509-SVID, chain, bundle).

use std::collections::BTreeMap;
use std::fmt;

use rand_core::CryptoRngCore;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use super::bundles::*;
use super::targets::*;
use crate::crypto::cert::Cert;
use crate::crypto::custody::Identity;
use crate::crypto::keys::{Algorithm, PrivateKey};
use crate::crypto::profile::{self, LeafSpec};
use crate::error::{CertError, MeshError};
use crate::model::config::Project;
use crate::model::store::{Pki, Store};
use crate::pki::tiers::{self as tiers, get_pki};
use crate::Error;

/// A scope's decrypted intermediate, ready to sign, with the scope's bundle.
pub struct ScopeIssuer {
    /// Intermediate certificate.
    pub cert: Cert,
    /// The chain that follows a leaf in `cert.pem`: the intermediate, preceded during a root
    /// overlap by its twin signed by the previous root (same key and subject), so
    /// root-anchoring consumers still on the previous root can build a path.
    pub chain: String,
    /// Its key (checked against the certificate).
    pub key: PrivateKey,
    /// The PKI's algorithm (leaves use it too).
    pub algorithm: Algorithm,
    /// The scope's trust bundle (PEM), shared by every leaf minted from it.
    pub bundle: std::sync::Arc<str>,
    /// The earliest end among the certificates of `chain`: a leaf never outlives a certificate
    /// served with it (during an overlap a previous root's twin can end before the intermediate).
    pub chain_end: OffsetDateTime,
    /// `bundle.spiffe.json`: the same bundle as a SPIFFE bundle JWKS.
    pub spiffe: std::sync::Arc<str>,
    /// `crl.pem` for the scope's sets: the CRL of every current intermediate the bundle trusts
    /// whose key this command holds ([`open_issuers`] opens them all; a recovery, holding only
    /// the fresh key, signs its own).
    pub crl: std::sync::Arc<str>,
    /// This intermediate's own CRL (a part of `crl`).
    pub(crate) own_crl: std::sync::Arc<str>,
}

/// The earliest notAfter among a chain's certificates (`fallback` when it holds none).
fn chain_end(chain: &str, fallback: OffsetDateTime) -> Result<OffsetDateTime, Error> {
    let certs = crate::crypto::cert::parse_bundle(chain, "the chain")?;
    Ok(certs.iter().map(Cert::not_after).min().unwrap_or(fallback))
}

/// Checks everything about a scope's issuer that needs no key, against the root
/// certificate: the root's own profile, the intermediate (signature, profile, algorithm,
/// scope, not revoked), its validity at `now`, and every member of the scope's bundle.
/// Returns the intermediate certificate and the scope's bundle.
pub fn check_issuer(
    store: &Store,
    project: &Project,
    env: &str,
    name: &str,
    scope: &str,
    now: OffsetDateTime,
) -> Result<(Cert, Vec<Cert>), Error> {
    let pki = get_pki(store, name)?;
    let root = Cert::from_pem(pki.root.cert.as_str(), &format!("pkis.{name}.root.cert"))?;
    tiers::first(tiers::check_root(pki, name, &root))?;
    let e = pki.intermediates.get(scope).ok_or_else(|| MeshError::NoBundle {
        pki: name.into(),
        scope: scope.into(),
        problem: "the scope has no intermediate yet".into(),
    })?;
    let cert = Cert::from_pem(e.cert.as_str(), &format!("pkis.{name}.intermediates.{scope}.cert"))?;
    tiers::first(tiers::check_intermediate(pki, name, env, scope, &cert, &root))?;
    if !cert.is_valid_at(now) {
        return Err(MeshError::IssuerNotValid {
            pki: name.into(),
            scope: scope.into(),
            now: crate::model::time::format_rfc3339(now),
            not_before: crate::model::time::format_rfc3339(cert.not_before()),
            not_after: crate::model::time::format_rfc3339(cert.not_after()),
        }
        .into());
    }
    let bundle = scope_bundle(store, project, env, name, scope)?;
    Ok((cert, bundle))
}

/// The chain that follows a leaf in `cert.pem`, by root phase: stable, the intermediate;
/// overlap, the intermediate's twins (same key, signed by a previous root) first, then the
/// intermediate; switched, the intermediate first, then its twins.
fn chain_of(pki: &Pki, name: &str, scope: &str, cert: &Cert) -> Result<String, Error> {
    let revoked = revoked_set(pki);
    // OpenSSL and GnuTLS take the first matching issuer without backtracking. During the
    // overlap consumers not yet updated anchor on the previous root (updated ones trust both),
    // so the previous root's path goes first; after `--switch` consumers may trust only the
    // new root, so its path goes first and the twins stay only for stragglers.
    let switched = crate::pki::tiers::root_phase(pki) == crate::pki::tiers::RootPhase::Switched;
    let mut chain = String::new();
    if switched {
        chain.push_str(&cert.pem());
    }
    let previous = pki.previous_intermediates.get(scope).into_iter().flatten();
    for (i, b) in previous.enumerate() {
        let loc = format!("pkis.{name}.previousIntermediates.{scope}[{i}]");
        let c = Cert::from_pem(b.as_str(), &loc)?;
        if c.public_key_bytes() == cert.public_key_bytes() && !revoked.contains(c.fingerprint().as_str()) {
            chain.push_str(&c.pem());
        }
    }
    if !switched {
        chain.push_str(&cert.pem());
    }
    Ok(chain)
}

/// Builds a scope's issuer from an intermediate key already in memory (checked against the
/// certificate), e.g. the fresh key of a recovery.
pub fn issuer_with_key(
    store: &Store,
    project: &Project,
    env: &str,
    name: &str,
    scope: &str,
    key: PrivateKey,
    now: OffsetDateTime,
) -> Result<ScopeIssuer, Error> {
    let (cert, bundle) = check_issuer(store, project, env, name, scope, now)?;
    if key.public_key_bytes() != cert.public_key_bytes() {
        return Err(crate::error::CustodyError::KeyMismatch {
            location: format!("pkis.{name}.intermediates.{scope}.key"),
        }
        .into());
    }
    let pki = get_pki(store, name)?;
    let chain = chain_of(pki, name, scope, &cert)?;
    let chain_end = chain_end(&chain, cert.not_after())?;
    let own_crl: std::sync::Arc<str> = super::revocation::intermediate_crl(pki, name, scope, &cert, &key, now)?.into();
    let crl = format!("{}{own_crl}", crate::pki::root_crl::served(pki)).into();
    let spiffe = scope_spiffe(pki, project, scope, &bundle)?.into();
    Ok(ScopeIssuer {
        algorithm: pki.algorithm,
        cert,
        key,
        chain,
        bundle: pem_bundle(&bundle).into(),
        spiffe,
        chain_end,
        crl,
        own_crl,
    })
}

/// Decrypts exactly the intermediates `targets` need, with the CI identity (checked against
/// the store's `recipient`), after [`check_issuer`] passed for each: the targets' own, and
/// those of the other scopes their bundles trust, which sign the CRLs served with the sets
/// (an intermediate no longer valid signs none: no leaf of it verifies anyway). Never touches
/// a root key.
pub fn open_issuers(
    store: &Store,
    project: &Project,
    env: &str,
    targets: &[LeafTarget],
    ci: &Identity,
    now: OffsetDateTime,
) -> Result<BTreeMap<(String, String), ScopeIssuer>, Error> {
    ci.expect_recipient(&store.recipient)?;
    let open = |pki_name: &str, scope: &str| -> Result<(Cert, PrivateKey), Error> {
        let (cert, _) = check_issuer(store, project, env, pki_name, scope, now)?;
        let e = &get_pki(store, pki_name)?.intermediates[scope];
        let key = ci.open_key(e.key.as_str(), &cert, &format!("pkis.{pki_name}.intermediates.{scope}.key"))?;
        Ok((cert, key))
    };
    let mut out = BTreeMap::new();
    for t in targets {
        let k = (t.pki.clone(), t.scope.clone());
        if out.contains_key(&k) {
            continue;
        }
        let (_, key) = open(&t.pki, &t.scope)?;
        let issuer = issuer_with_key(store, project, env, &t.pki, &t.scope, key, now)?;
        out.insert(k, issuer);
    }
    // Each scope's CRL once, signed by its own issuer or a key opened just for it.
    let mut crls: BTreeMap<(String, String), Option<std::sync::Arc<str>>> = BTreeMap::new();
    for (pki_name, scope) in out.keys() {
        let pki = get_pki(store, pki_name)?;
        for s in trusted_scopes(project, scope) {
            let k = (pki_name.clone(), s.clone());
            if crls.contains_key(&k) || !pki.intermediates.contains_key(&s) {
                continue;
            }
            let crl = match out.get(&k) {
                Some(issuer) => Some(issuer.own_crl.clone()),
                None => match open(pki_name, &s) {
                    Ok((cert, key)) => {
                        Some(super::revocation::intermediate_crl(pki, pki_name, &s, &cert, &key, now)?.into())
                    }
                    Err(Error::Mesh(MeshError::IssuerNotValid { .. })) => None,
                    Err(e) => return Err(e),
                },
            };
            crls.insert(k, crl);
        }
    }
    for ((pki_name, scope), issuer) in out.iter_mut() {
        // The roots' CRLs first (signed offline, kept in the store), then each trusted
        // intermediate's.
        let mut text = crate::pki::root_crl::served(get_pki(store, pki_name)?);
        for s in trusted_scopes(project, scope) {
            if let Some(Some(c)) = crls.get(&(pki_name.clone(), s)) {
                text.push_str(c);
            }
        }
        issuer.crl = text.into();
    }
    Ok(out)
}

/// A minted leaf and the files the provider receives.
pub struct Minted {
    /// What was minted.
    pub target: LeafTarget,
    /// `cert.pem`: the leaf then its intermediate (and, during a root overlap, its re-signed
    /// twin).
    pub cert_pem: String,
    /// `key.pem`: PKCS#8 PEM (secret).
    pub key_pem: Zeroizing<String>,
    /// `bundle.pem`: the scope's trust bundle (one allocation per scope, not per leaf).
    pub bundle_pem: std::sync::Arc<str>,
    /// `bundle.spiffe.json`: the bundle as a SPIFFE bundle JWKS (one allocation per scope).
    pub spiffe_json: std::sync::Arc<str>,
    /// `crl.pem`: the CRLs of the intermediates the bundle trusts (one allocation per scope).
    pub crl_pem: std::sync::Arc<str>,
    /// The leaf's DER and the fields reports use ([`Minted::leaf`] parses it).
    pub issued: profile::IssuedLeaf,
}

impl Minted {
    /// The leaf, parsed (on demand: a renew's report needs only [`Minted::issued`]).
    pub fn leaf(&self) -> Result<Cert, Error> {
        Ok(Cert::from_der(&self.issued.der, "leaf")?)
    }
}

impl fmt::Debug for Minted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Minted({}, key <redacted>)", self.target.spiffe_id)
    }
}

/// Mints one leaf from its scope's issuer (the same core for renew, rotate --leaf and release
/// mints). `ttl` defaults to [`profile::LEAF_DAYS`] and is capped to the intermediate.
pub fn mint(
    target: &LeafTarget,
    issuer: &ScopeIssuer,
    ttl: Option<Duration>,
    now: OffsetDateTime,
    rng: &mut impl CryptoRngCore,
) -> Result<Minted, Error> {
    mint_with(target, issuer, ttl, now, rng, &crate::crypto::keys::PURE_RUST)
}

/// [`mint`] with the leaf key's public point and signatures computed by `backend` (the
/// secret still comes from `rng`; see [`crate::crypto::keys::KeyBackend`]).
pub fn mint_with(
    target: &LeafTarget,
    issuer: &ScopeIssuer,
    ttl: Option<Duration>,
    now: OffsetDateTime,
    rng: &mut impl CryptoRngCore,
    backend: &dyn crate::crypto::keys::KeyBackend,
) -> Result<Minted, Error> {
    let key = PrivateKey::generate_with(issuer.algorithm, rng, backend);
    let mut ttl = ttl.unwrap_or(Duration::days(profile::LEAF_DAYS));
    // Nothing served with the leaf may end before it: a previous root's twin in the chain can
    // end before the intermediate that signs (the profile caps only by the signer).
    let by_chain = issuer.chain_end > now && now + ttl > issuer.chain_end;
    if by_chain {
        ttl = issuer.chain_end - now;
    }
    let spec = LeafSpec {
        spiffe_id: target.spiffe_id.clone(),
        service: target.service.clone(),
        dns_names: target.dns_names.clone(),
        ttl,
    };
    let mut issued = profile::issue_leaf_der(&spec, &key, (&issuer.cert, &issuer.key), now, rng)?;
    issued.capped |= by_chain;
    let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &issued.der)
        .map_err(|e| CertError::Issue { what: format!("leaf {}", target.spiffe_id), reason: e.to_string() })?;
    Ok(Minted {
        target: target.clone(),
        cert_pem: format!("{pem}{}", issuer.chain),
        key_pem: key.to_pkcs8_pem(),
        bundle_pem: issuer.bundle.clone(),
        spiffe_json: issuer.spiffe.clone(),
        crl_pem: issuer.crl.clone(),
        issued,
    })
}
