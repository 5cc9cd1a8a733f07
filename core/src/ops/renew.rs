//! `renew` (a [`RenewPlan`] the shell mints from in parallel), its reports, `bundles_only` and `bundle`.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::CryptoRngCore;
use serde::Serialize;
use time::OffsetDateTime;

use super::*;
use crate::crypto::custody::Custodian;
use crate::mesh::{self, Filter, LeafTarget, Minted, ScopeIssuer};
use crate::pki::tiers::{self};
use crate::Error;

/// Which leaves a renew mints.
#[derive(Debug, Clone, Default)]
pub struct RenewRequest {
    /// Only this service (the release-time mint).
    pub service: Option<String>,
    /// Only this mesh (`rotate --leaf`).
    pub pki: Option<String>,
    /// Only these scopes (recovery).
    pub scopes: Option<Vec<String>>,
}

/// Everything a shell needs to mint a renew's leaves, possibly in parallel: the targets and
/// their opened, checked issuers.
pub struct RenewPlan {
    /// The environment.
    pub env: String,
    /// The leaves, in service then scope order.
    pub targets: Vec<LeafTarget>,
    pub(crate) issuers: BTreeMap<(String, String), ScopeIssuer>,
    pub(crate) now: OffsetDateTime,
    pub(crate) backend: &'static dyn crate::crypto::keys::KeyBackend,
}

impl std::fmt::Debug for RenewPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RenewPlan({} targets, {} issuers)", self.targets.len(), self.issuers.len())
    }
}

impl RenewPlan {
    /// The plan with every leaf key and signature computed by `backend` (the host's native
    /// one); the issuers' keys move to it too. Same keys and bytes, faster.
    pub fn with_backend(mut self, backend: &'static dyn crate::crypto::keys::KeyBackend) -> RenewPlan {
        for issuer in self.issuers.values_mut() {
            if let Some(k) = issuer.key.to_backend(backend) {
                issuer.key = k;
            }
        }
        self.backend = backend;
        self
    }

    /// The backend minting uses.
    pub fn backend(&self) -> &'static str {
        self.backend.name()
    }

    /// Mints one target's leaf (call from any thread; each thread brings its own RNG).
    pub fn mint(&self, target: &LeafTarget, rng: &mut impl CryptoRngCore) -> Result<Minted, Error> {
        let issuer = self.issuers.get(&(target.pki.clone(), target.scope.clone())).ok_or_else(|| {
            crate::error::MeshError::NoBundle {
                pki: target.pki.clone(),
                scope: target.scope.clone(),
                problem: "it is not part of this renew".into(),
            }
        })?;
        mesh::mint_with(target, issuer, target.ttl, self.now, rng, self.backend)
    }

    /// Mints every target in order on this thread.
    pub fn mint_all(&self, rng: &mut impl CryptoRngCore) -> Result<Vec<Minted>, Error> {
        self.targets.iter().map(|t| self.mint(t, rng)).collect()
    }
}

pub(crate) fn filter(req: &RenewRequest) -> Filter<'_> {
    Filter { service: req.service.as_deref(), pki: req.pki.as_deref(), scopes: req.scopes.as_deref() }
}

/// `pki renew` (and `rotate --leaf`): plans the leaves, refusing the first readiness
/// problem, then opens exactly the intermediates they need with the CI identity, each checked
/// against its root first. Decrypts no root key.
pub fn renew(
    env: &Env,
    req: &RenewRequest,
    keyring: &mut dyn Keyring,
    now: OffsetDateTime,
) -> Result<RenewPlan, Error> {
    let store = env.store()?;
    tiers::check_custodians(store)?;
    crate::model::time::check_now("the time", now)?;
    let targets = mesh::targets(&env.project, store, &env.name, &filter(req))?;
    // Check every issuer before asking for the identity: a forged tier is refused even
    // without credentials, and nothing is decrypted for a renew that cannot happen.
    let scopes: BTreeSet<(&str, &str)> = targets.iter().map(|t| (t.pki.as_str(), t.scope.as_str())).collect();
    for (p, s) in &scopes {
        mesh::check_issuer(store, &env.project, &env.name, p, s, now)?;
    }
    if targets.is_empty() {
        return Ok(RenewPlan {
            env: env.name.clone(),
            targets,
            issuers: BTreeMap::new(),
            now,
            backend: &crate::crypto::keys::PURE_RUST,
        });
    }
    let ci = unlock(keyring, Custodian::Ci, store)?;
    let issuers = mesh::open_issuers(store, &env.project, &env.name, &targets, &ci, now)?;
    Ok(RenewPlan { env: env.name.clone(), targets, issuers, now, backend: &crate::crypto::keys::PURE_RUST })
}

/// One leaf as a renew report shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafReport {
    /// Service.
    pub service: String,
    /// PKI.
    pub pki: String,
    /// Scope.
    pub scope: String,
    /// SPIFFE ID.
    pub spiffe_id: String,
    /// Serial, hex.
    pub serial: String,
    /// notAfter (RFC 3339).
    pub not_after: String,
    /// notAfter as a time, for frontends with a native time type.
    #[serde(skip)]
    pub not_after_time: OffsetDateTime,
    /// The intermediate's end of life cut the leaf short of its lifetime (it ends with its
    /// intermediate): roll that intermediate.
    pub capped: bool,
    /// Where the provider put it.
    pub dir: String,
}

impl LeafReport {
    /// A minted leaf as the report shows it; `dir` is filled in once the provider has it.
    pub fn of(m: &Minted) -> LeafReport {
        LeafReport {
            service: m.target.service.clone(),
            pki: m.target.pki.clone(),
            scope: m.target.scope.clone(),
            spiffe_id: m.target.spiffe_id.clone(),
            serial: m.issued.serial_hex.clone(),
            not_after: crate::model::time::format_rfc3339(m.issued.not_after),
            not_after_time: m.issued.not_after,
            capped: m.issued.capped,
            dir: String::new(),
        }
    }
}

/// The provider a renew wrote to.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderInfo {
    /// `dir` or `etcd`.
    pub kind: String,
    /// Its path or prefix.
    pub path: String,
}

/// What a renew wrote (`renew --json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewReport {
    /// Environment.
    pub env: String,
    /// The provider.
    pub provider: ProviderInfo,
    /// Every leaf.
    pub leaves: Vec<LeafReport>,
    /// Distinct services.
    pub services: usize,
    /// Wall time of the command, measured by the shell.
    pub elapsed_ms: u64,
}

impl RenewReport {
    /// The report of minted leaves ([`LeafReport::of`]) and where the provider put each.
    pub fn new(
        env: &str,
        provider: ProviderInfo,
        mut leaves: Vec<LeafReport>,
        dirs: Vec<String>,
        elapsed_ms: u64,
    ) -> RenewReport {
        for (l, d) in leaves.iter_mut().zip(dirs) {
            l.dir = d;
        }
        let services = leaves.iter().map(|l| l.service.as_str()).collect::<BTreeSet<&str>>().len();
        RenewReport { env: env.into(), provider, leaves, services, elapsed_ms }
    }
}

/// One service+scope whose bundle `renew --bundles-only` rewrites.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleRefresh {
    /// Service.
    pub service: String,
    /// Scope.
    pub scope: String,
    /// The new `bundle.pem`.
    pub bundle_pem: String,
    /// The new `bundle.spiffe.json`.
    pub spiffe_json: String,
}

/// `renew --bundles-only`: the bundle every planned leaf's set should carry now.
/// Credential-free (bundles are public).
pub fn bundles_only(env: &Env, req: &RenewRequest) -> Result<Vec<BundleRefresh>, Error> {
    let store = env.store()?;
    let targets = mesh::targets(&env.project, store, &env.name, &filter(req))?;
    let mut cache: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    let mut out = Vec::new();
    for t in targets {
        let key = (t.pki.clone(), t.scope.clone());
        if !cache.contains_key(&key) {
            let b = mesh::scope_bundle(store, &env.project, &env.name, &t.pki, &t.scope)?;
            let spiffe = mesh::scope_spiffe(tiers::get_pki(store, &t.pki)?, &env.project, &t.scope, &b)?;
            cache.insert(key.clone(), (mesh::pem_bundle(&b), spiffe));
        }
        let (bundle_pem, spiffe_json) = cache[&key].clone();
        out.push(BundleRefresh { service: t.service, scope: t.scope, bundle_pem, spiffe_json });
    }
    Ok(out)
}

/// Which bundle `pki bundle` prints.
#[derive(Debug, Clone)]
pub enum Which<'a> {
    /// A scope's bundle (what its services trust).
    Scope(&'a str),
    /// The root bundle for root-anchoring consumers.
    Roots,
}

/// How `pki bundle` writes a bundle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BundleFormat {
    /// Concatenated PEM certificates (`bundle.pem`).
    #[default]
    Pem,
    /// The SPIFFE bundle JWKS (`bundle.spiffe.json`).
    Spiffe,
}

/// `pki bundle`: a PEM trust bundle. Credential-free.
pub fn bundle(env: &Env, name: &str, which: Which<'_>) -> Result<String, Error> {
    bundle_as(env, name, which, BundleFormat::Pem)
}

/// `pki bundle --format`: a trust bundle as PEM or as a SPIFFE bundle JWKS. Credential-free.
pub fn bundle_as(env: &Env, name: &str, which: Which<'_>, format: BundleFormat) -> Result<String, Error> {
    let store = env.store()?;
    let certs = match which {
        Which::Scope(s) => mesh::scope_bundle(store, &env.project, &env.name, name, s)?,
        Which::Roots => mesh::root_bundle(store, name)?,
    };
    match (format, which) {
        (BundleFormat::Pem, _) => Ok(mesh::pem_bundle(&certs)),
        (BundleFormat::Spiffe, Which::Scope(s)) => {
            mesh::scope_spiffe(tiers::get_pki(store, name)?, &env.project, s, &certs)
        }
        (BundleFormat::Spiffe, Which::Roots) => mesh::root_spiffe(tiers::get_pki(store, name)?, &certs),
    }
}
