//! The mesh: which leaves exist, who trusts whom, and the regional boundary.
//!
//! - [`plan`] resolves inforge.yaml + regions.yaml into one [`LeafTarget`] per mesh service per
//!   scope, refusing anything `validate` would flag as an error for those services.
//! - [`scope_bundle`] assembles a scope's trust bundle: the intermediates (current and, during
//!   an overlap, previous) of the scopes it trusts. A region trusts {itself, global}; `global`
//!   trusts {every region, global}. No root, no revoked certificate, ever.
//! - [`authorize`] is the boundary rule services embed: given caller and callee SPIFFE IDs it
//!   says whether the call is allowed, or why not.
//! - [`open_issuers`] + [`mint`] are the minting core shared by `renew`, `rotate --leaf` and
//!   release-time mints.

pub mod projection;
pub mod units;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rand_core::CryptoRngCore;
use serde::Serialize;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::crypto::cert::Cert;
use crate::crypto::custody::Identity;
use crate::crypto::keys::{Algorithm, PrivateKey};
use crate::crypto::profile::{self, LeafSpec};
use crate::error::{CertError, ConfigError, MeshError};
use crate::model::config::{Project, ScopeKind};
use crate::model::store::{store_path, Pki, Store, Topology};
use crate::pki::tiers::{self as tiers, get_pki};
use crate::Error;

/// The scope name every mesh has.
pub const GLOBAL: &str = "global";

/// A parsed inforge SPIFFE ID: `spiffe://<trust-domain>/<env>/<scope>/<service>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpiffeId {
    /// Trust domain (baseDomain).
    pub trust_domain: String,
    /// Environment.
    pub env: String,
    /// `global` or a region.
    pub scope: String,
    /// Service.
    pub service: String,
}

impl SpiffeId {
    /// Builds an ID.
    pub fn new(trust_domain: &str, env: &str, scope: &str, service: &str) -> SpiffeId {
        SpiffeId { trust_domain: trust_domain.into(), env: env.into(), scope: scope.into(), service: service.into() }
    }

    /// Parses an ID, checking the SPIFFE naming rules of every part.
    pub fn parse(id: &str) -> Result<SpiffeId, Error> {
        let bad = || MeshError::BadSpiffeId { id: id.to_string() };
        let rest = id.strip_prefix("spiffe://").ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let [td, env, scope, service] = parts[..] else {
            return Err(bad().into());
        };
        crate::model::names::check_trust_domain("trust domain", td).map_err(|_| bad())?;
        for p in [env, scope, service] {
            crate::model::names::check_segment("path segment", p).map_err(|_| bad())?;
        }
        Ok(SpiffeId::new(td, env, scope, service))
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spiffe://{}/{}/{}/{}", self.trust_domain, self.env, self.scope, self.service)
    }
}

/// Why the boundary refuses a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Different trust domain or environment.
    #[error("{caller} and {callee} are in different trust domains or environments")]
    Foreign {
        /// Caller ID.
        caller: String,
        /// Callee ID.
        callee: String,
    },
    /// Region A calling region B.
    #[error("cross-region call from {caller_scope} to {callee_scope} is outside the regional boundary")]
    CrossRegion {
        /// Caller's region.
        caller_scope: String,
        /// Callee's region.
        callee_scope: String,
    },
    /// A global service calling into a region.
    #[error("global service {caller} may not call regional service {callee}: global→region is refused")]
    GlobalToRegion {
        /// Caller ID.
        caller: String,
        /// Callee ID.
        callee: String,
    },
    /// The peer's leaf claims a scope its issuing intermediate does not serve (a leaf minted
    /// with another scope's intermediate key), or its chain is not an inforge chain.
    #[error("the peer's leaf claims {claimed} but was issued by {issuer:?}, which does not serve that scope")]
    IssuerScope {
        /// The SPIFFE ID the leaf claims (or "no SPIFFE ID").
        claimed: String,
        /// The issuing certificate's subject (or "no issuer in the chain").
        issuer: String,
    },
}

/// The peer's identity as the mesh vouches for it, from the chain it presented (leaf first,
/// as in `cert.pem`), after the TLS handshake verified that chain against a scope bundle.
///
/// A bundle can trust several scopes' intermediates (`global` trusts every region), and RFC
/// 5280 URI name constraints cannot pin an intermediate to a SPIFFE path, so a leaf minted with
/// a leaked *regional* intermediate key could claim a `global` ID and still pass the
/// handshake. This closes that: the leaf's SPIFFE ID must name the environment and scope of
/// the intermediate that issued it (its subject, `<pki> <env> <scope> intermediate CA <kid>`,
/// which renew checks against the root).
pub fn peer_identity(chain_pem: &str) -> Result<SpiffeId, Denied> {
    let deny = |claimed: &str, issuer: &str| Denied::IssuerScope { claimed: claimed.into(), issuer: issuer.into() };
    let certs = crate::crypto::cert::parse_bundle_area(chain_pem, "peer chain")
        .map_err(|_| deny("no SPIFFE ID", "no issuer in the chain"))?;
    let Some((leaf, rest)) = certs.split_first() else {
        return Err(deny("no SPIFFE ID", "no issuer in the chain"));
    };
    let uris = leaf.uri_sans();
    let id = match uris.as_slice() {
        [one] => SpiffeId::parse(one).map_err(|_| deny(one, "no issuer in the chain"))?,
        _ => return Err(deny("no single SPIFFE ID", "no issuer in the chain")),
    };
    let issuer = rest
        .iter()
        .find(|c| c.subject() == leaf.issuer() && leaf.verify_signed_by_area(c, "peer").is_ok())
        .ok_or_else(|| deny(&id.to_string(), "no issuer in the chain"))?;
    let cn = issuer.common_name().unwrap_or_default();
    let parts: Vec<&str> = cn.split(' ').collect();
    match parts.as_slice() {
        [_, env, scope, "intermediate", "CA", _] if *env == id.env && *scope == id.scope => Ok(id),
        _ => Err(deny(&id.to_string(), &issuer.subject())),
    }
}

/// [`authorize`] for a caller known by the chain it presented: [`peer_identity`], then the
/// boundary rule. What a service embeds after the handshake.
pub fn authorize_peer(caller_chain_pem: &str, callee: &SpiffeId) -> Result<SpiffeId, Denied> {
    let caller = peer_identity(caller_chain_pem)?;
    authorize(&caller, callee)?;
    Ok(caller)
}

/// The regional boundary rule, for services to embed after the TLS handshake: intra-region,
/// region→global and global→global are allowed; cross-region and global→region are refused.
/// (Cross-region already fails in the handshake; this is defence in depth.)
pub fn authorize(caller: &SpiffeId, callee: &SpiffeId) -> Result<(), Denied> {
    if caller.trust_domain != callee.trust_domain || caller.env != callee.env {
        return Err(Denied::Foreign { caller: caller.to_string(), callee: callee.to_string() });
    }
    match (caller.scope.as_str(), callee.scope.as_str()) {
        (a, b) if a == b => Ok(()),
        (_, GLOBAL) => Ok(()),
        (GLOBAL, _) => Err(Denied::GlobalToRegion { caller: caller.to_string(), callee: callee.to_string() }),
        (a, b) => Err(Denied::CrossRegion { caller_scope: a.into(), callee_scope: b.into() }),
    }
}

/// The scopes whose intermediates a scope's bundle carries: a region trusts {itself, global};
/// `global` trusts {global, every region}.
///
/// The relation is symmetric, so this is also the set of scopes whose bundles carry `scope`:
/// recovery re-mints exactly these scopes' leaves so their hosts get new bundles at once.
pub fn trusted_scopes(project: &Project, scope: &str) -> Vec<String> {
    if scope == GLOBAL {
        std::iter::once(GLOBAL.to_string()).chain(project.regions.iter().cloned()).collect()
    } else {
        vec![scope.to_string(), GLOBAL.to_string()]
    }
}

fn revoked_set(pki: &Pki) -> BTreeSet<&str> {
    pki.revoked.iter().map(|r| r.fingerprint.as_str()).collect()
}

/// A scope's trust bundle: current + previous intermediates of every trusted scope, minus
/// revoked certificates. Every member is checked first: a current intermediate against the
/// root ([`tiers::check_intermediate`]), a previous one against its slot
/// ([`tiers::check_bundle_member`]); a bundle is a trust decision, so a bad member is an
/// error, never silently dropped. Errors if the scope itself has no intermediate.
pub fn scope_bundle(store: &Store, project: &Project, env: &str, name: &str, scope: &str) -> Result<Vec<Cert>, Error> {
    let pki = get_pki(store, name)?;
    let no = |problem: &str| MeshError::NoBundle { pki: name.into(), scope: scope.into(), problem: problem.into() };
    if pki.topology == Topology::RootOnly {
        return Err(no("it is root-only (use the root bundle)").into());
    }
    tiers::check_scope(project, scope)?;
    if !pki.intermediates.contains_key(scope) {
        return Err(no("the scope has no intermediate yet").into());
    }
    let root = Cert::from_pem(pki.root.cert.as_str(), &format!("pkis.{name}.root.cert"))?;
    let revoked = revoked_set(pki);
    let mut out: Vec<Cert> = Vec::new();
    for s in trusted_scopes(project, scope) {
        if let Some(e) = pki.intermediates.get(&s) {
            let c = Cert::from_pem(e.cert.as_str(), &format!("pkis.{name}.intermediates.{s}.cert"))?;
            tiers::first(tiers::check_intermediate(pki, name, env, &s, &c, &root))?;
            if !out.iter().any(|o| o.der() == c.der()) {
                out.push(c);
            }
        }
        for (i, b) in pki.previous_intermediates.get(&s).into_iter().flatten().enumerate() {
            let loc = format!("pkis.{name}.previousIntermediates.{s}[{i}]");
            let c = Cert::from_pem(b.as_str(), &loc)?;
            if revoked.contains(c.fingerprint().as_str()) {
                continue;
            }
            tiers::first(tiers::check_bundle_member(pki, name, env, &s, &loc, &c))?;
            if !out.iter().any(|o| o.der() == c.der()) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// The root bundle for root-anchoring consumers: the current root and, during an overlap,
/// the previous one(s).
pub fn root_bundle(store: &Store, name: &str) -> Result<Vec<Cert>, Error> {
    let pki = get_pki(store, name)?;
    let revoked = revoked_set(pki);
    let mut out = vec![Cert::from_pem(pki.root.cert.as_str(), &format!("pkis.{name}.root.cert"))?];
    for (i, e) in pki.previous_roots.iter().enumerate() {
        let c = Cert::from_pem(e.cert.as_str(), &format!("pkis.{name}.previousRoots[{i}].cert"))?;
        if !revoked.contains(c.fingerprint().as_str()) {
            out.push(c);
        }
    }
    Ok(out)
}

/// Concatenated PEM.
pub fn pem_bundle(certs: &[Cert]) -> String {
    certs.iter().map(Cert::pem).collect()
}

/// One leaf to mint.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafTarget {
    /// Service name.
    pub service: String,
    /// Mesh (two-tier PKI) name.
    pub pki: String,
    /// Scope.
    pub scope: String,
    /// SPIFFE ID.
    pub spiffe_id: String,
    /// Extra DNS SANs.
    pub dns_names: Vec<String>,
}

/// Which leaves to plan: all by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    /// Only this service (the release-time mint, `--service`).
    pub service: Option<&'a str>,
    /// Only services of this mesh (`rotate <name> --leaf`).
    pub pki: Option<&'a str>,
    /// Only leaves in these scopes (recovery re-mints the scopes that trust the new one).
    pub scopes: Option<&'a [String]>,
}

impl<'a> Filter<'a> {
    /// Just one service, or everything.
    pub fn service(service: Option<&'a str>) -> Filter<'a> {
        Filter { service, ..Filter::default() }
    }
}

/// Why a mesh service cannot get its leaves: one readiness rule broken.
#[derive(Debug)]
pub struct Finding {
    /// The service (`None`: the environment as a whole, e.g. no store).
    pub service: Option<String>,
    /// What is wrong, with its code and remedy.
    pub error: Error,
}

/// The mesh services a filter selects, with their `pki:`, in service order.
fn selected<'p>(
    project: &'p Project,
    filter: &'p Filter<'_>,
) -> impl Iterator<Item = (&'p String, &'p crate::model::config::Service, &'p String)> + 'p {
    project.config.services.iter().filter_map(move |(name, svc)| {
        let pki = svc.pki.as_ref()?;
        let wanted = filter.service.is_none_or(|o| o == name) && filter.pki.is_none_or(|p| p == pki);
        wanted.then_some((name, svc, pki))
    })
}

/// The mesh-readiness rules, one set for `renew` (which stops at the first finding) and
/// `validate` (which reports them all, with the same codes): for each selected mesh service,
/// a `scope:`, known and distinct regions, a two-tier PKI in the store, and an intermediate
/// for each of its scopes. `store` is `None` when the environment has no store yet.
pub fn readiness(project: &Project, store: Option<&Store>, env: &str, filter: &Filter<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut needs_store = Vec::new();
    let mut meshes: Vec<&str> = Vec::new();
    for (name, svc, pki_name) in selected(project, filter) {
        let mut found = |e: Error| out.push(Finding { service: Some(name.clone()), error: e });
        let Some(kind) = svc.scope else {
            found(MeshError::ScopeMissing { service: name.clone() }.into());
            continue;
        };
        let scopes = project.service_scopes(svc);
        if kind == ScopeKind::Regional && scopes.is_empty() {
            found(MeshError::NoRegions { service: name.clone() }.into());
        }
        let mut known = Vec::new();
        for s in scopes {
            if kind == ScopeKind::Regional && !project.regions.contains(&s) {
                found(MeshError::RegionUnknown { service: name.clone(), region: s }.into());
            } else if known.contains(&s) {
                found(MeshError::RegionDuplicate { service: name.clone(), region: s }.into());
            } else {
                known.push(s);
            }
        }
        let Some(store) = store else {
            needs_store.push(name.as_str());
            if !meshes.contains(&pki_name.as_str()) {
                meshes.push(pki_name.as_str());
            }
            continue;
        };
        match store.pkis.get(pki_name) {
            None => found(
                MeshError::PkiMissing {
                    service: name.clone(),
                    pki: pki_name.clone(),
                    store: store_path(env),
                    env: env.to_string(),
                }
                .into(),
            ),
            Some(p) if p.topology == Topology::RootOnly => {
                found(MeshError::PkiRootOnly { service: name.clone(), pki: pki_name.clone() }.into())
            }
            Some(p) => {
                for scope in known {
                    if filter.scopes.is_some_and(|ss| !ss.contains(&scope)) {
                        continue;
                    }
                    if !p.intermediates.contains_key(&scope) {
                        found(MeshError::NoIntermediate { service: name.clone(), pki: pki_name.clone(), scope }.into());
                    }
                }
            }
        }
    }
    if !needs_store.is_empty() {
        out.push(Finding {
            service: None,
            error: MeshError::NoStore {
                env: env.to_string(),
                services: needs_store.join(", "),
                meshes: meshes.iter().map(|m| m.to_string()).collect(),
            }
            .into(),
        });
    }
    out
}

/// Resolves the leaves `renew` mints: one per mesh service per scope, in service then scope
/// order, narrowed by `filter`. Refuses, before anything is decrypted, the first
/// [`readiness`] finding of the selected services.
pub fn plan(project: &Project, store: &Store, env: &str, filter: &Filter<'_>) -> Result<Vec<LeafTarget>, Error> {
    if let Some(p) = filter.pki {
        get_pki(store, p)?;
    }
    if let Some(s) = filter.service {
        let svc =
            project.config.services.get(s).ok_or_else(|| ConfigError::UnknownService { service: s.to_string() })?;
        if svc.pki.is_none() {
            return Err(ConfigError::NotInMesh { service: s.to_string() }.into());
        }
    }
    if let Some(f) = readiness(project, Some(store), env, filter).into_iter().next() {
        return Err(f.error);
    }
    let mut out = Vec::new();
    for (name, svc, pki_name) in selected(project, filter) {
        for scope in project.service_scopes(svc) {
            if filter.scopes.is_some_and(|ss| !ss.contains(&scope)) {
                continue;
            }
            out.push(LeafTarget {
                service: name.clone(),
                pki: pki_name.clone(),
                spiffe_id: SpiffeId::new(&project.config.base_domain, env, &scope, name).to_string(),
                scope,
                dns_names: svc.dns_names.clone(),
            });
        }
    }
    Ok(out)
}

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
    Ok(ScopeIssuer { algorithm: pki.algorithm, cert, key, chain, bundle: pem_bundle(&bundle).into() })
}

/// Decrypts exactly the intermediates `targets` need, with the CI identity (checked against
/// the store's `recipient`), after [`check_issuer`] passed for each. Never touches a root key.
pub fn open_issuers(
    store: &Store,
    project: &Project,
    env: &str,
    targets: &[LeafTarget],
    ci: &Identity,
    now: OffsetDateTime,
) -> Result<BTreeMap<(String, String), ScopeIssuer>, Error> {
    ci.expect_recipient(&store.recipient)?;
    let mut out = BTreeMap::new();
    for t in targets {
        let k = (t.pki.clone(), t.scope.clone());
        if out.contains_key(&k) {
            continue;
        }
        let (cert, _) = check_issuer(store, project, env, &t.pki, &t.scope, now)?;
        let pki = get_pki(store, &t.pki)?;
        let e = &pki.intermediates[&t.scope];
        let key = ci.open_key(e.key.as_str(), &cert, &format!("pkis.{}.intermediates.{}.key", t.pki, t.scope))?;
        let issuer = issuer_with_key(store, project, env, &t.pki, &t.scope, key, now)?;
        out.insert(k, issuer);
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
    /// The leaf's DER and the fields reports use ([`Minted::leaf`] parses it).
    pub issued: profile::IssuedLeaf,
}

impl Minted {
    /// The leaf, parsed (on demand: a renew's report needs only [`Minted::issued`]).
    pub fn leaf(&self) -> Result<Cert, Error> {
        Cert::from_der(&self.issued.der, "leaf")
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
    let spec = LeafSpec {
        spiffe_id: target.spiffe_id.clone(),
        service: target.service.clone(),
        dns_names: target.dns_names.clone(),
        ttl: ttl.unwrap_or(Duration::days(profile::LEAF_DAYS)),
    };
    let issued = profile::issue_leaf_der(&spec, &key, (&issuer.cert, &issuer.key), now, rng)?;
    let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &issued.der)
        .map_err(|e| CertError::Issue { what: format!("leaf {}", target.spiffe_id), reason: e.to_string() })?;
    Ok(Minted {
        target: target.clone(),
        cert_pem: format!("{pem}{}", issuer.chain),
        key_pem: key.to_pkcs8_pem(),
        bundle_pem: issuer.bundle.clone(),
        issued,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn id(s: &str) -> SpiffeId {
        SpiffeId::parse(s).unwrap()
    }

    #[test]
    fn boundary_rule() {
        let g = id("spiffe://w.example/prd/global/api");
        let g2 = id("spiffe://w.example/prd/global/auth");
        let us = id("spiffe://w.example/prd/us-east-1/web");
        let us2 = id("spiffe://w.example/prd/us-east-1/worker");
        let eu = id("spiffe://w.example/prd/eu-west-1/web");
        assert!(authorize(&us, &us2).is_ok(), "intra-region");
        assert!(authorize(&us, &g).is_ok(), "region→global");
        assert!(authorize(&g, &g2).is_ok(), "global→global");
        assert!(matches!(authorize(&us, &eu), Err(Denied::CrossRegion { .. })));
        assert!(matches!(authorize(&g, &us), Err(Denied::GlobalToRegion { .. })));
        let stg = id("spiffe://w.example/stg/us-east-1/web");
        assert!(matches!(authorize(&stg, &us), Err(Denied::Foreign { .. })));
    }

    #[test]
    fn spiffe_ids_parse_strictly() {
        assert_eq!(id("spiffe://w.example/prd/global/api").to_string(), "spiffe://w.example/prd/global/api");
        for bad in [
            "https://w.example/prd/global/api",
            "spiffe://w.example/prd/api",
            "spiffe://W.example/prd/global/api",
            "spiffe://w.example/prd/global/api/x",
            "spiffe://w.example/prd/../api",
        ] {
            assert!(SpiffeId::parse(bad).is_err(), "{bad}");
        }
    }

    /// A leaked regional intermediate key can mint a leaf that claims `global` and passes a
    /// global bundle; `authorize` on IDs alone would allow it, `authorize_peer` does not.
    /// A two-scope mesh (api in `global`, web in `us-east-1`) at `now`, its leaf targets and
    /// opened issuers: the fixture of the mesh and projection tests.
    pub(crate) fn two_scope_mesh(
        now: OffsetDateTime,
        seed: u64,
    ) -> (Vec<LeafTarget>, BTreeMap<(String, String), ScopeIssuer>) {
        use crate::crypto::custody::tests::{identity, TestSealer};
        use crate::crypto::custody::Custodian;
        use crate::crypto::effects::Effects;
        use rand_chacha::rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let (root_id, ci) = (identity(Custodian::OfflineRoot), identity(Custodian::Ci));
        let cfg = "baseDomain: w.example\nenvironments: {prd: {provider: {kind: dir, path: p}}}\nservices:\n  api: {pki: mesh, scope: global}\n  web: {pki: mesh, scope: regional}\n";
        let project = Project::parse(cfg, Some("regions: [us-east-1]\n")).unwrap();
        let mut store = Store::new(root_id.recipient(), ci.recipient());
        let mut fx = Effects { now, rng: &mut rng, sealer: &mut TestSealer };
        let alg = crate::crypto::keys::Algorithm::EcdsaP256;
        crate::pki::lifecycle::add_pki(&mut store, "prd", "mesh", Topology::TwoTier, alg, &mut fx).unwrap();
        for scope in ["global", "us-east-1"] {
            crate::pki::lifecycle::add_intermediate(&mut store, &project, "prd", "mesh", scope, &root_id, &mut fx)
                .unwrap();
        }
        let targets = plan(&project, &store, "prd", &Filter::default()).unwrap();
        let issuers = open_issuers(&store, &project, "prd", &targets, &ci, now).unwrap();
        (targets, issuers)
    }

    #[test]
    fn a_leaf_may_only_claim_its_issuer_s_scope() {
        use rand_chacha::rand_core::SeedableRng;
        let now = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        let (targets, issuers) = two_scope_mesh(now, 9);
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(10);
        let api = targets.iter().find(|t| t.service == "api").unwrap();
        let web = targets.iter().find(|t| t.service == "web").unwrap();
        let good = mint(web, &issuers[&("mesh".into(), "us-east-1".into())], None, now, &mut rng).unwrap();
        let api_id = SpiffeId::parse(&api.spiffe_id).unwrap();
        assert_eq!(authorize_peer(&good.cert_pem, &api_id).unwrap().to_string(), web.spiffe_id);
        // The forgery: us-east-1's key signs a leaf claiming global/api-twin.
        let us = &issuers[&("mesh".into(), "us-east-1".into())];
        let forged_target = LeafTarget { spiffe_id: "spiffe://w.example/prd/global/api-twin".into(), ..web.clone() };
        let forged = mint(&forged_target, us, None, now, &mut rng).unwrap();
        let claimed = SpiffeId::parse(&forged_target.spiffe_id).unwrap();
        assert!(authorize(&claimed, &api_id).is_ok(), "on IDs alone the forgery passes");
        assert!(matches!(authorize_peer(&forged.cert_pem, &api_id), Err(Denied::IssuerScope { .. })));
        assert!(matches!(peer_identity("garbage"), Err(Denied::IssuerScope { .. })));
        // A leaf without its issuer in the chain is refused too.
        assert!(peer_identity(&good.leaf().unwrap().pem()).is_err());
    }

    #[test]
    fn trusted_scopes_follow_the_boundary() {
        let p = Project::parse("baseDomain: w.example\n", Some("regions: [us-east-1, eu-west-1]\n")).unwrap();
        assert_eq!(trusted_scopes(&p, "global"), vec!["global", "us-east-1", "eu-west-1"]);
        assert_eq!(trusted_scopes(&p, "eu-west-1"), vec!["eu-west-1", "global"]);
    }
}
