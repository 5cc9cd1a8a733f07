//! The operations layer: one function per user-facing operation, the only entry points the
//! frontends call. Each takes data (the repo's file texts, identities through a [`Keyring`],
//! [`Effects`]) and returns a typed, serializable result; the shell reads inputs before and
//! writes outputs after. An operation that changes the store returns the new [`Store`] in a
//! [`Changed`]; the shell writes it (atomically) only if its text differs.
//!
//! Identities are asked of the [`Keyring`] only after every argument check passed, so a bad
//! argument is reported before anyone is asked for the offline key, and an operation asks only
//! for the custodian it needs.
//!
//! `renew` returns a [`RenewPlan`] (targets and opened issuers) that a shell mints from in
//! parallel with [`RenewPlan::mint`]: threads stay in the shell.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::CryptoRngCore;
use serde::Serialize;
use time::OffsetDateTime;

use crate::crypto::cert::Cert;
use crate::crypto::custody::{parse_recipient, Custodian, Identity};
use crate::crypto::effects::Effects;
use crate::crypto::keys::Algorithm;
use crate::error::PkiError;
use crate::mesh::{self, Filter, LeafTarget, Minted, ScopeIssuer};
use crate::model::config::Project;
use crate::model::store::{store_path, Revoked, Store, Topology};
use crate::pki::tiers::{self};
use crate::views::listing::Listing;
use crate::views::validate::Report;
use crate::{Coded, Error};

/// The infra repo's files, as text, for one environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct RepoFiles<'a> {
    /// `inforge.yaml`.
    pub inforge_yaml: &'a str,
    /// `regions.yaml`, if present.
    pub regions_yaml: Option<&'a str>,
    /// `resources/<env>/pki.enc.yaml`, if present.
    pub store: Option<&'a str>,
    /// `resources/<env>/secrets.enc.yaml`, if present (only its `recipient:` is read).
    pub secret_store: Option<&'a str>,
}

/// Where identities come from: the shell's environment variables and files, Python keyword
/// arguments… Asked only when an operation needs one.
pub trait Keyring {
    /// The identity of `custodian`, or `identity-missing` / `identity-invalid`.
    fn identity(&mut self, custodian: Custodian) -> Result<Identity, Error>;
}

/// One environment of a loaded repo.
#[derive(Debug, Clone)]
pub struct Env {
    /// `inforge.yaml` + `regions.yaml`.
    pub project: Project,
    /// The environment's name (checked and declared).
    pub name: String,
    /// The store, if the environment has one.
    pub store: Option<Store>,
    /// The secret store's CI recipient, if it names one.
    pub secret_store_recipient: Option<String>,
}

impl Env {
    /// Parses the config, checks the environment's name and declaration, and parses the
    /// store and the secret store's recipient when present.
    pub fn load(files: &RepoFiles<'_>, env: &str) -> Result<Env, Error> {
        let project = Project::parse(files.inforge_yaml, files.regions_yaml)?;
        crate::model::names::check_segment("environment", env)?;
        project.environment(env)?;
        let store = files.store.map(|t| Store::parse(&store_path(env), t)).transpose()?;
        let secrets = format!("resources/{env}/secrets.enc.yaml");
        let secret_store_recipient = files
            .secret_store
            .map(|t| crate::model::config::secret_store_recipient(&secrets, t))
            .transpose()?
            .flatten();
        Ok(Env { project, name: env.to_string(), store, secret_store_recipient })
    }

    /// The store, or `store-missing`.
    pub fn store(&self) -> Result<&Store, Error> {
        self.store
            .as_ref()
            .ok_or_else(|| PkiError::StoreMissing { env: self.name.clone(), path: store_path(&self.name) }.into())
    }

    fn store_mut(&self) -> Result<Store, Error> {
        let s = self.store()?.clone();
        Ok(s)
    }
}

/// Checks an environment name before a shell builds a path from it (`resources/<env>/…`).
pub fn check_env_name(env: &str) -> Result<(), Error> {
    crate::model::names::check_segment("environment", env)
}

/// An operation's new store and its report.
#[derive(Debug)]
pub struct Changed<T> {
    /// The store to write.
    pub store: Store,
    /// What happened.
    pub report: T,
}

/// Where `init` took the CI recipient from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecipientSource {
    /// Given explicitly.
    Argument,
    /// The secret store's `recipient:`.
    SecretStore,
    /// Derived from the CI identity.
    CiIdentity,
}

/// What `init` made.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Initialized {
    /// The environment.
    pub env: String,
    /// The CI recipient.
    pub recipient: String,
    /// Where it came from.
    pub recipient_source: RecipientSource,
    /// The offline root recipient.
    pub root_recipient: String,
}

/// `pki init`: a new store for `env`. The CI recipient is `recipient` if given, else the
/// secret store's, else the CI identity's (if the keyring has one); `root` is the offline root
/// identity the shell just generated (the core draws no OS randomness). Refuses an existing
/// store.
pub fn init(
    env: &Env,
    recipient: Option<&str>,
    keyring: &mut dyn Keyring,
    root: &Identity,
) -> Result<Changed<Initialized>, Error> {
    if env.store.is_some() {
        return Err(PkiError::StoreExists { path: store_path(&env.name) }.into());
    }
    let (recipient, source) = if let Some(r) = recipient {
        (parse_recipient("the given recipient", r)?, RecipientSource::Argument)
    } else if let Some(r) = &env.secret_store_recipient {
        (r.clone(), RecipientSource::SecretStore)
    } else {
        match keyring.identity(Custodian::Ci) {
            Ok(id) => (id.recipient(), RecipientSource::CiIdentity),
            Err(e) if e.code() == "identity-missing" => {
                return Err(
                    PkiError::NoRecipient { secrets_path: format!("resources/{}/secrets.enc.yaml", env.name) }.into()
                )
            }
            Err(e) => return Err(e),
        }
    };
    let store = Store::new(root.recipient(), recipient.clone());
    tiers::check_custodians(&store)?;
    Ok(Changed {
        report: Initialized {
            env: env.name.clone(),
            recipient,
            recipient_source: source,
            root_recipient: store.root_recipient.clone(),
        },
        store,
    })
}

/// What `add` made.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Added {
    /// PKI name.
    pub pki: String,
    /// Its topology.
    pub topology: Topology,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The recipient its root key was sealed to.
    pub sealed_to: String,
    /// The root's fingerprint.
    pub root_fingerprint: String,
}

/// `pki add`: a new PKI with its root. Needs no identity.
pub fn add(
    env: &Env,
    name: &str,
    topology: Topology,
    algorithm: Algorithm,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<Changed<Added>, Error> {
    let mut store = env.store_mut()?;
    before_sealing(env, &store, fx.now)?;
    crate::pki::lifecycle::add_pki(&mut store, &env.name, name, topology, algorithm, fx)?;
    let p = tiers::get_pki(&store, name)?;
    let root = Cert::from_pem(p.root.cert.as_str(), "new root")?;
    let sealed_to = match topology {
        Topology::TwoTier => store.root_recipient.clone(),
        Topology::RootOnly => store.recipient.clone(),
    };
    let report = Added { pki: name.into(), topology, algorithm, sealed_to, root_fingerprint: root.fingerprint() };
    Ok(Changed { store, report })
}

/// A CA certificate a command minted.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Minted1 {
    /// PKI.
    pub pki: String,
    /// Scope (intermediates).
    pub scope: Option<String>,
    /// Subject.
    pub subject: String,
    /// SHA-256 fingerprint.
    pub fingerprint: String,
    /// notAfter (RFC 3339).
    pub not_after: String,
    /// The recipient its key was sealed to.
    pub sealed_to: String,
}

fn minted_intermediate(store: &Store, name: &str, scope: &str) -> Result<Minted1, Error> {
    let p = tiers::get_pki(store, name)?;
    let c = Cert::from_pem(p.intermediates[scope].cert.as_str(), "new intermediate")?;
    Ok(Minted1 {
        pki: name.into(),
        scope: Some(scope.into()),
        subject: c.subject(),
        fingerprint: c.fingerprint(),
        not_after: crate::model::time::format_rfc3339(c.not_after()),
        sealed_to: store.recipient.clone(),
    })
}

/// The offline ceremony seals new intermediate keys to the store's `recipient:`; when the
/// secret store names one too, they must agree (compared canonically), so a tampered store
/// cannot route a fresh key to someone else.
fn check_ci_recipient(env: &Env, store: &Store) -> Result<(), Error> {
    if let Some(r) = &env.secret_store_recipient {
        if !crate::crypto::custody::same_recipient(r, &store.recipient) {
            return Err(crate::error::CustodyError::RecipientMismatch {
                store: store.recipient.clone(),
                secret_store: r.clone(),
            }
            .into());
        }
    }
    Ok(())
}

/// What every operation that seals a new key checks first: two distinct custodians, the CI
/// recipient agreeing with the secret store's, and a time certificates can express.
fn before_sealing(env: &Env, store: &Store, now: OffsetDateTime) -> Result<(), Error> {
    tiers::check_custodians(store)?;
    check_ci_recipient(env, store)?;
    crate::model::time::check_now("the time", now)?;
    Ok(())
}

/// `pki intermediate`: mints a scope's intermediate from the cold root (offline identity).
pub fn intermediate(
    env: &Env,
    name: &str,
    scope: &str,
    keyring: &mut dyn Keyring,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<Changed<Minted1>, Error> {
    let mut store = env.store_mut()?;
    crate::pki::lifecycle::check_new_intermediate(&store, &env.project, name, scope)?;
    before_sealing(env, &store, fx.now)?;
    let root_id = keyring.identity(tiers::root_custodian(&store, name)?)?;
    crate::pki::lifecycle::add_intermediate(&mut store, &env.project, &env.name, name, scope, &root_id, fx)?;
    let report = minted_intermediate(&store, name, scope)?;
    Ok(Changed { store, report })
}

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
    issuers: BTreeMap<(String, String), ScopeIssuer>,
    now: OffsetDateTime,
    backend: &'static dyn crate::crypto::keys::KeyBackend,
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
        mesh::mint_with(target, issuer, None, self.now, rng, self.backend)
    }

    /// Mints every target in order on this thread.
    pub fn mint_all(&self, rng: &mut impl CryptoRngCore) -> Result<Vec<Minted>, Error> {
        self.targets.iter().map(|t| self.mint(t, rng)).collect()
    }
}

fn filter(req: &RenewRequest) -> Filter<'_> {
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
    let targets = mesh::plan(&env.project, store, &env.name, &filter(req))?;
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
    let ci = keyring.identity(Custodian::Ci)?;
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
}

/// `renew --bundles-only`: the bundle every planned leaf's set should carry now.
/// Credential-free (bundles are public).
pub fn bundles_only(env: &Env, req: &RenewRequest) -> Result<Vec<BundleRefresh>, Error> {
    let store = env.store()?;
    let targets = mesh::plan(&env.project, store, &env.name, &filter(req))?;
    let mut cache: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut out = Vec::new();
    for t in targets {
        let key = (t.pki.clone(), t.scope.clone());
        if !cache.contains_key(&key) {
            let b = mesh::scope_bundle(store, &env.project, &env.name, &t.pki, &t.scope)?;
            cache.insert(key.clone(), mesh::pem_bundle(&b));
        }
        out.push(BundleRefresh { service: t.service, scope: t.scope, bundle_pem: cache[&key].clone() });
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

/// `pki bundle`: a PEM trust bundle. Credential-free.
pub fn bundle(env: &Env, name: &str, which: Which<'_>) -> Result<String, Error> {
    let store = env.store()?;
    let certs = match which {
        Which::Scope(s) => mesh::scope_bundle(store, &env.project, &env.name, name, s)?,
        Which::Roots => mesh::root_bundle(store, name)?,
    };
    Ok(mesh::pem_bundle(&certs))
}

/// `rotate --intermediate`: a planned roll of one scope (offline identity).
pub fn rotate_intermediate(
    env: &Env,
    name: &str,
    scope: &str,
    keyring: &mut dyn Keyring,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<Changed<Minted1>, Error> {
    let mut store = env.store_mut()?;
    crate::pki::rotate::check_intermediate_rotation(&store, &env.project, name, scope)?;
    before_sealing(env, &store, fx.now)?;
    let root_id = keyring.identity(Custodian::OfflineRoot)?;
    crate::pki::rotate::rotate_intermediate(&mut store, &env.project, &env.name, name, scope, &root_id, fx)?;
    let report = minted_intermediate(&store, name, scope)?;
    Ok(Changed { store, report })
}

/// What `rotate --root` did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RootRotated {
    /// PKI.
    pub pki: String,
    /// The new root's fingerprint.
    pub root_fingerprint: String,
    /// Intermediates re-signed (keeping their keys).
    pub resigned: Vec<String>,
    /// From when `--switch` is allowed (two-tier) or `--finalize` (root-only).
    pub switch_allowed_at: String,
    /// Whether the next phase is `--switch` (two-tier) rather than `--finalize` (root-only).
    pub switches: bool,
}

/// `rotate --root`: starts a dual-root overlap (offline identity; decrypts nothing).
pub fn rotate_root(
    env: &Env,
    name: &str,
    min_overlap_days: Option<u32>,
    keyring: &mut dyn Keyring,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<Changed<RootRotated>, Error> {
    let mut store = env.store_mut()?;
    crate::pki::rotate::check_root_rotation(&store, name)?;
    if let Some(d) = min_overlap_days {
        tiers::check_overlap_days("the minimum overlap (days)", d)?;
    }
    before_sealing(env, &store, fx.now)?;
    let operator = keyring.identity(Custodian::OfflineRoot)?;
    crate::pki::rotate::rotate_root(&mut store, &env.name, name, &operator, min_overlap_days, fx)?;
    let p = tiers::get_pki(&store, name)?;
    let root = Cert::from_pem(p.root.cert.as_str(), "new root")?;
    let report = RootRotated {
        pki: name.into(),
        root_fingerprint: root.fingerprint(),
        resigned: p.intermediates.keys().cloned().collect(),
        switches: p.topology == crate::model::store::Topology::TwoTier,
        switch_allowed_at: tiers::switch_allowed_at_pki(p, name)?
            .or(tiers::finalize_allowed_at_pki(p, name)?)
            .map(crate::model::time::format_rfc3339)
            .unwrap_or_default(),
    };
    Ok(Changed { store, report })
}

/// `--plan` for a rotation or a recovery: what it would do, from the store alone (no
/// identity, nothing written).
pub fn plan(
    env: &Env,
    name: &str,
    what: &crate::views::plan::Planned,
    now: OffsetDateTime,
    w: &dyn crate::Wording,
) -> Result<crate::views::plan::Plan, Error> {
    crate::model::time::check_now("the time", now)?;
    crate::views::plan::plan(&env.project, env.store()?, &env.name, name, what, now, w)
}

/// `inforge pki status`: the targets whose sets to fetch (the sets renew writes).
pub fn status_targets(env: &Env) -> Result<Vec<crate::mesh::LeafTarget>, Error> {
    crate::mesh::plan(&env.project, env.store()?, &env.name, &crate::mesh::Filter::default())
}

/// `inforge pki status`: judges the fetched sets against the store.
pub fn status(
    env: &Env,
    fetched: &[(crate::mesh::LeafTarget, crate::views::status::Fetched)],
    now: OffsetDateTime,
    within: time::Duration,
) -> Result<crate::views::status::StatusReport, Error> {
    crate::model::time::check_now("the time", now)?;
    Ok(crate::views::status::status(&env.project, env.store()?, &env.name, fetched, now, within))
}

/// What `rotate --root --switch` did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Switched {
    /// PKI.
    pub pki: String,
    /// When (RFC 3339).
    pub switched_at: String,
    /// From when `--finalize` is allowed.
    pub finalize_allowed_at: String,
}

/// `rotate --root --switch`: root rotation's middle phase. Needs no identity: it changes only
/// the order of the chains renew writes (the new root's path first).
pub fn switch_root(env: &Env, name: &str, force: bool, now: OffsetDateTime) -> Result<Changed<Switched>, Error> {
    let mut store = env.store_mut()?;
    crate::model::time::check_now("the time", now)?;
    crate::pki::rotate::switch_root(&mut store, name, force, now)?;
    let report = Switched {
        pki: name.into(),
        switched_at: crate::model::time::format_rfc3339(now),
        finalize_allowed_at: tiers::finalize_allowed_at(&store, name)?
            .map(crate::model::time::format_rfc3339)
            .unwrap_or_default(),
    };
    Ok(Changed { store, report })
}

/// The finalize gate's fleet half, step 1: the sets whose chains must already be switched,
/// or `None` when no fleet check applies (a root-only PKI, whose overlap has no switch; a
/// PKI not in the store, refused later; or `force`). The host fetches exactly these and
/// hands them to [`check_fleet`].
pub fn fleet_targets(env: &Env, name: &str, force: bool) -> Result<Option<Vec<crate::mesh::LeafTarget>>, Error> {
    let two_tier = env.store()?.pkis.get(name).is_some_and(|p| p.topology == Topology::TwoTier);
    if force || !two_tier {
        return Ok(None);
    }
    Ok(Some(status_targets(env)?.into_iter().filter(|t| t.pki == name).collect()))
}

/// The finalize gate's fleet half, step 2: refuses while any set of the PKI carries a chain
/// from before the switch, is missing or cannot be read (a set the host could not read is
/// never taken as switched), and when the provider could not be read at all (`fleet` is
/// `Err` with the reason): finalizing blind needs `--force`.
pub fn check_fleet(
    env: &Env,
    name: &str,
    fleet: Result<&[(crate::mesh::LeafTarget, crate::views::status::Fetched)], String>,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let fetched = match fleet {
        Ok(f) => f,
        Err(reason) => {
            return Err(
                crate::error::RotateError::FleetUnknown { pki: name.into(), reason, env: env.name.clone() }.into()
            )
        }
    };
    let report = status(env, fetched, now, time::Duration::ZERO)?;
    let sets: Vec<&crate::views::status::SetStatus> = report.sets.iter().filter(|s| s.pki == name).collect();
    let pending: Vec<String> = sets
        .iter()
        .filter(|s| s.chain_phase != Some(crate::pki::tiers::RootPhase::Switched))
        .map(|s| format!("{}/{}", s.service, s.scope))
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    Err(crate::error::RotateError::FleetNotSwitched {
        pki: name.into(),
        pending: pending.len(),
        total: sets.len(),
        examples: pending.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
        env: env.name.clone(),
    }
    .into())
}

/// Checks `rotate --root --finalize`'s phase and age gate before the fleet check and before
/// any identity.
pub fn check_finalize(env: &Env, name: &str, force: bool, now: OffsetDateTime) -> Result<(), Error> {
    crate::model::time::check_now("the time", now)?;
    crate::pki::rotate::check_finalize(env.store()?, name, force, now)
}

/// What `rotate --root --finalize` removed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finalized {
    /// PKI.
    pub pki: String,
    /// Previous roots dropped.
    pub roots: usize,
    /// Re-signed previous intermediate certificates dropped.
    pub intermediates: usize,
}

/// `rotate --root --finalize`: ends a root overlap (offline identity authorises it).
pub fn finalize_root(
    env: &Env,
    name: &str,
    force: bool,
    keyring: &mut dyn Keyring,
    now: OffsetDateTime,
) -> Result<Changed<Finalized>, Error> {
    let mut store = env.store_mut()?;
    crate::model::time::check_now("the time", now)?;
    crate::pki::rotate::check_finalize(&store, name, force, now)?;
    let operator = keyring.identity(Custodian::OfflineRoot)?;
    let done = crate::pki::rotate::finalize_root(&mut store, name, &operator, force, now)?;
    Ok(Changed { store, report: Finalized { pki: name.into(), roots: done.roots, intermediates: done.intermediates } })
}

/// What `recover-intermediate` did; the leaves to re-mint and the bundles to refresh follow.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recovered {
    /// PKI.
    pub pki: String,
    /// The recovered scope.
    pub scope: String,
    /// Revocation records added.
    pub revoked: Vec<Revoked>,
    /// The scope whose leaves are re-minted with the fresh key.
    pub remint_scope: String,
    /// Other scopes whose bundles carried the compromised key: their bundles are refreshed
    /// (their leaves, signed by other intermediates, stay valid).
    pub refresh_scopes: Vec<String>,
}

/// The provider work a recovery leaves to the shell.
pub struct Recovery {
    /// Leaves of the recovered scope, minted from the fresh key held in memory.
    pub plan: RenewPlan,
    /// The new bundle of every other service+scope that trusted the compromised key.
    pub bundles: Vec<BundleRefresh>,
}

/// `recover-intermediate`: compromise recovery of one scope, with the offline identity only
/// (one identity per operation). The fresh intermediate key is sealed to CI in the store and
/// also kept in memory to re-mint the scope's leaves; every other scope that trusted the
/// compromised key gets a refreshed bundle (credential-free). The shell writes the store
/// first, then the provider (or, if the provider is unreachable, tells CI to renew at once).
pub fn recover_intermediate(
    env: &Env,
    name: &str,
    scope: &str,
    keyring: &mut dyn Keyring,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<(Changed<Recovered>, Recovery), Error> {
    let mut store = env.store_mut()?;
    crate::pki::rotate::check_intermediate_rotation(&store, &env.project, name, scope)?;
    before_sealing(env, &store, fx.now)?;
    let root_id = keyring.identity(Custodian::OfflineRoot)?;
    let (revoked, fresh) =
        crate::pki::rotate::recover_intermediate(&mut store, &env.project, &env.name, name, scope, &root_id, fx)?;
    let issuer = mesh::issuer_with_key(&store, &env.project, &env.name, name, scope, fresh, fx.now)?;
    let remint = RenewRequest { service: None, pki: Some(name.into()), scopes: Some(vec![scope.to_string()]) };
    let targets = mesh::plan(&env.project, &store, &env.name, &filter(&remint))?;
    let mut issuers = BTreeMap::new();
    issuers.insert((name.to_string(), scope.to_string()), issuer);
    let plan =
        RenewPlan { env: env.name.clone(), targets, issuers, now: fx.now, backend: &crate::crypto::keys::PURE_RUST };
    let others: Vec<String> = mesh::trusted_scopes(&env.project, scope).into_iter().filter(|s| s != scope).collect();
    let refresh = RenewRequest { service: None, pki: Some(name.into()), scopes: Some(others.clone()) };
    let after = Env { store: Some(store.clone()), ..env.clone() };
    let bundles = bundles_only(&after, &refresh)?;
    let report = Recovered {
        pki: name.into(),
        scope: scope.into(),
        revoked,
        remint_scope: scope.into(),
        refresh_scopes: others,
    };
    Ok((Changed { store, report }, Recovery { plan, bundles }))
}

/// `pki ls`: the listing. Credential-free.
pub fn ls(env: &Env, now: OffsetDateTime) -> Result<Listing, Error> {
    crate::views::listing::listing(env.store()?, &env.name, now)
}

/// `validate`: every finding, from the files as they are (parse failures become findings),
/// including a CI recipient that differs between the store and the secret store.
/// Credential-free.
pub fn validate(files: &RepoFiles<'_>, env: &str, now: OffsetDateTime) -> Report {
    crate::views::validate::validate_texts_with_secrets(
        files.inforge_yaml,
        files.regions_yaml,
        files.store,
        files.secret_store,
        env,
        now,
    )
}

/// `inforge pki units`: the systemd pieces that project one service's leaf on its hosts. Needs
/// no store and no identity.
pub fn units(
    env: &Env,
    service: &str,
    opts: &crate::mesh::units::UnitOptions,
) -> Result<crate::mesh::units::Units, Error> {
    crate::mesh::units::units(&env.project, &env.name, service, opts)
}
