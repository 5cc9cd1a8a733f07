//! The store inspector's decisions (the browser page and the npm package, SPEC §9): a store
//! as a tree of certificates with their details, the regional trust matrix, checking a pasted
//! leaf chain against a scope's bundle, validation without `inforge.yaml`, and the diff of two
//! store versions (what a pull request changes). Credential-free: certificates only; every
//! trust decision is the one `renew` and `bundle` make ([`mesh::scope_bundle`],
//! [`mesh::authorize`], [`mesh::peer_identity`]), never a re-implementation.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::OffsetDateTime;

use crate::crypto::cert::Cert;
use crate::crypto::profile::LEAF_DAYS;
use crate::error::InspectError;
use crate::mesh::{self, SpiffeId, GLOBAL};
use crate::model::config::{Environment, Project, ProjectConfig, Provider};
use crate::model::store::{Pki, Revoked, Store, Topology};
use crate::model::time::format_rfc3339;
use crate::views::validate::Report;
use crate::{Coded, Error};

/// Which slot of a PKI a certificate fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The current root.
    Root,
    /// A retired root still trusted during a root overlap.
    PreviousRoot,
    /// A scope's current intermediate.
    Intermediate,
    /// A retired intermediate still in its scope's bundles (or revoked).
    PreviousIntermediate,
}

/// One certificate with everything a reviewer asks about.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertView {
    /// Its slot.
    pub role: Role,
    /// The scope it serves (intermediates).
    pub scope: Option<String>,
    /// Dotted path in the store, e.g. `pkis.mesh.intermediates.global`.
    pub location: String,
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// Subject key identifier, hex.
    pub subject_key_id: Option<String>,
    /// Authority key identifier, hex.
    pub authority_key_id: Option<String>,
    /// URI SANs.
    pub uri_sans: Vec<String>,
    /// DNS SANs.
    pub dns_sans: Vec<String>,
    /// notBefore (RFC 3339).
    pub not_before: String,
    /// notAfter (RFC 3339).
    pub not_after: String,
    /// Whole days from now to notAfter (negative: expired).
    pub days_left: i64,
    /// Past notAfter.
    pub expired: bool,
    /// SHA-256 of the DER, lowercase hex.
    pub fingerprint: String,
    /// Key algorithm (`ecdsa-p256`…), if one inforge knows.
    pub algorithm: Option<&'static str>,
    /// Basic constraints cA.
    pub is_ca: bool,
    /// Basic constraints pathLenConstraint.
    pub path_len: Option<u8>,
    /// Recorded as compromised (it never enters a bundle again).
    pub revoked: Option<Revoked>,
}

impl CertView {
    /// Details of a parsed certificate at `now`.
    pub fn of(cert: &Cert, role: Role, scope: Option<&str>, location: &str, now: OffsetDateTime) -> CertView {
        let bc = cert.basic_constraints();
        CertView {
            role,
            scope: scope.map(str::to_string),
            location: location.to_string(),
            subject: cert.subject(),
            issuer: cert.issuer(),
            serial: cert.serial_hex(),
            subject_key_id: cert.subject_key_id(),
            authority_key_id: cert.authority_key_id(),
            uri_sans: cert.uri_sans(),
            dns_sans: cert.dns_sans(),
            not_before: format_rfc3339(cert.not_before()),
            not_after: format_rfc3339(cert.not_after()),
            days_left: (cert.not_after() - now).whole_days(),
            expired: cert.not_after() < now,
            fingerprint: cert.fingerprint(),
            algorithm: cert.key_algorithm().map(|a| a.name()),
            is_ca: bc.map(|(_, ca, _)| ca).unwrap_or(false),
            path_len: bc.and_then(|(_, _, p)| p),
            revoked: None,
        }
    }
}

/// A certificate the inspector could not read (shown, not fatal: the rest still displays).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unreadable {
    /// Dotted path in the store.
    pub location: String,
    /// Error code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

/// One PKI as the inspector shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PkiView {
    /// Name.
    pub name: String,
    /// two-tier or root-only.
    pub topology: &'static str,
    /// Key algorithm of every tier.
    pub algorithm: &'static str,
    /// Every certificate: root, previous roots, then per scope the current intermediate and
    /// its previous ones.
    pub certs: Vec<CertView>,
    /// A root overlap is in progress.
    pub root_overlap: bool,
    /// When it started.
    pub root_overlap_started: Option<String>,
    /// The root-rotation phase: stable, overlap (previous root's path first in chains) or
    /// switched (new root's path first).
    pub root_phase: crate::pki::tiers::RootPhase,
    /// When `rotate --root --switch` happened.
    pub root_switched_at: Option<String>,
    /// Revoked certificates.
    pub revoked: Vec<Revoked>,
    /// Certificates that could not be read.
    pub unreadable: Vec<Unreadable>,
}

/// The whole store as the inspector shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreView {
    /// Store format version.
    pub version: u32,
    /// The offline operator's recipient.
    pub root_recipient: String,
    /// The CI recipient.
    pub recipient: String,
    /// The environment the certificates name, if they agree on one.
    pub env: Option<String>,
    /// The time the view was computed for.
    pub now: String,
    /// The default leaf lifetime (days): the horizon an intermediate must outlive.
    pub leaf_days: i64,
    /// PKIs by name.
    pub pkis: Vec<PkiView>,
}

fn revoked_of<'a>(pki: &'a Pki, fingerprint: &str) -> Option<&'a Revoked> {
    pki.revoked.iter().find(|r| r.fingerprint == fingerprint)
}

/// The store as a tree of certificate details at `now`. Unreadable certificates are listed,
/// not fatal.
pub fn inspect_store(store: &Store, now: OffsetDateTime) -> StoreView {
    let pkis = store
        .pkis
        .iter()
        .map(|(name, pki)| {
            let mut certs = Vec::new();
            let mut unreadable = Vec::new();
            let mut add =
                |pem: &str, role: Role, scope: Option<&str>, location: String| match Cert::from_pem(pem, &location) {
                    Ok(c) => {
                        let mut v = CertView::of(&c, role, scope, &location, now);
                        v.revoked = revoked_of(pki, &v.fingerprint).cloned();
                        certs.push(v);
                    }
                    Err(e) => unreadable.push(Unreadable { location, code: e.code(), message: e.to_string() }),
                };
            add(pki.root.cert.as_str(), Role::Root, None, format!("pkis.{name}.root"));
            for (i, e) in pki.previous_roots.iter().enumerate() {
                add(e.cert.as_str(), Role::PreviousRoot, None, format!("pkis.{name}.previousRoots[{i}]"));
            }
            let scopes: BTreeSet<&String> = pki.intermediates.keys().chain(pki.previous_intermediates.keys()).collect();
            for scope in scopes {
                if let Some(e) = pki.intermediates.get(scope) {
                    add(e.cert.as_str(), Role::Intermediate, Some(scope), format!("pkis.{name}.intermediates.{scope}"));
                }
                for (i, b) in pki.previous_intermediates.get(scope).into_iter().flatten().enumerate() {
                    let loc = format!("pkis.{name}.previousIntermediates.{scope}[{i}]");
                    add(b.as_str(), Role::PreviousIntermediate, Some(scope), loc);
                }
            }
            PkiView {
                name: name.clone(),
                topology: pki.topology.name(),
                algorithm: pki.algorithm.name(),
                certs,
                root_overlap: !pki.previous_roots.is_empty(),
                root_overlap_started: pki.root_overlap_started.clone(),
                root_phase: crate::pki::tiers::root_phase(pki),
                root_switched_at: pki.root_switched_at.clone(),
                revoked: pki.revoked.clone(),
                unreadable,
            }
        })
        .collect();
    StoreView {
        version: store.version,
        root_recipient: store.root_recipient.clone(),
        recipient: store.recipient.clone(),
        env: store_env(store),
        now: format_rfc3339(now),
        leaf_days: LEAF_DAYS,
        pkis,
    }
}

/// The environment every root's subject names (`<pki> <env> root CA <kid>`), if they agree.
pub fn store_env(store: &Store) -> Option<String> {
    let envs: BTreeSet<String> = store
        .pkis
        .values()
        .filter_map(|p| Cert::from_pem(p.root.cert.as_str(), "root").ok()?.common_name())
        .filter_map(|cn| match cn.split(' ').collect::<Vec<_>>().as_slice() {
            [_, env, "root", "CA", _] => Some(env.to_string()),
            _ => None,
        })
        .collect();
    match envs.len() {
        1 => envs.into_iter().next(),
        _ => None,
    }
}

/// The environment to check: the one given, else the one the store's roots name, else the only
/// one `inforge.yaml` declares.
pub fn resolve_env(given: Option<&str>, store: Option<&Store>, project: Option<&Project>) -> Result<String, Error> {
    if let Some(e) = given.filter(|e| !e.is_empty()) {
        crate::model::names::check_segment("environment", e)?;
        return Ok(e.to_string());
    }
    if let Some(e) = store.and_then(store_env) {
        return Ok(e);
    }
    let reason = match project.map(|p| p.config.environments.keys().collect::<Vec<_>>()) {
        Some(envs) if envs.len() == 1 => return Ok(envs[0].clone()),
        Some(envs) => format!("inforge.yaml declares {} environments and the store names none", envs.len()),
        None => "the store's certificates name none and no inforge.yaml was given".into(),
    };
    Err(InspectError::EnvUnknown { reason }.into())
}

/// Without `inforge.yaml`, the project the store implies: `env` declared, no services, and
/// the regions of `regions.yaml` or else every region the store has an intermediate for (so
/// nothing is reported inactive that the missing file might have declared).
fn implied_project(store: Option<&Store>, regions_yaml: Option<&str>, env: &str) -> Result<Project, Error> {
    let regions = match regions_yaml {
        Some(t) => Project::parse("baseDomain: inspector.invalid\n", Some(t))?.regions,
        None => {
            let scopes: BTreeSet<&String> =
                store.into_iter().flat_map(|s| s.pkis.values()).flat_map(|p| p.intermediates.keys()).collect();
            scopes.into_iter().filter(|s| *s != GLOBAL).cloned().collect()
        }
    };
    let environments =
        BTreeMap::from([(env.to_string(), Environment { provider: Provider::Dir { path: ".".into() } })]);
    Ok(Project {
        config: ProjectConfig { base_domain: "inspector.invalid".into(), environments, services: BTreeMap::new() },
        regions,
    })
}

/// The inspector's inputs resolved once: `inforge.yaml` parsed when given, the environment
/// ([`resolve_env`]) and the project (the config's, or the one the store implies). Every
/// inspector view that needs a project goes through here.
pub fn resolve(
    config: Option<&str>,
    regions: Option<&str>,
    store: &Store,
    env: Option<&str>,
) -> Result<(Project, String), Error> {
    let project = config.map(|c| Project::parse(c, regions)).transpose()?;
    let env = resolve_env(env, Some(store), project.as_ref())?;
    let project = match project {
        Some(p) => p,
        None => project_or_implied(None, regions, Some(store), &env)?,
    };
    Ok((project, env))
}

/// The project from the given texts, or the one the store implies when `inforge.yaml` is absent.
pub fn project_or_implied(
    inforge_yaml: Option<&str>,
    regions_yaml: Option<&str>,
    store: Option<&Store>,
    env: &str,
) -> Result<Project, Error> {
    match inforge_yaml {
        Some(c) => Ok(Project::parse(c, regions_yaml)?),
        None => implied_project(store, regions_yaml, env),
    }
}

/// `validate` for the inspector: with `inforge.yaml`, exactly the CLI's
/// [`validate_texts`](crate::views::validate::validate_texts); without it, the store's own checks
/// (chains, profiles, expiry, overlap) against the project it implies. `env` as
/// [`resolve_env`].
pub fn validate(
    inforge_yaml: Option<&str>,
    regions_yaml: Option<&str>,
    store_yaml: Option<&str>,
    env: Option<&str>,
    now: OffsetDateTime,
) -> Result<Report, Error> {
    let path_env = env.unwrap_or("prd");
    let store = store_yaml.map(|t| Store::parse(&crate::model::store::store_path(path_env), t));
    let parsed = store.as_ref().and_then(|s| s.as_ref().ok());
    let project = inforge_yaml.and_then(|c| Project::parse_schema(c, regions_yaml).ok());
    let env = match (resolve_env(env, parsed, project.as_ref()), inforge_yaml) {
        (Ok(e), _) => e,
        // A config that does not parse is itself the finding: report it under any name.
        (Err(_), Some(_)) if project.is_none() => "prd".into(),
        (Err(e), _) if parsed.is_some() || inforge_yaml.is_some() => return Err(e),
        // No config and an unreadable store: the store's own error is the finding.
        (Err(_), _) => path_env.into(),
    };
    if let Some(c) = inforge_yaml {
        return Ok(crate::views::validate::validate_texts(c, regions_yaml, store_yaml, &env, now));
    }
    let Some(store_yaml) = store_yaml else {
        return Err(InspectError::EnvUnknown { reason: "neither a store nor inforge.yaml was given".into() }.into());
    };
    match Store::parse(&crate::model::store::store_path(&env), store_yaml) {
        Ok(store) => {
            let project = implied_project(Some(&store), regions_yaml, &env)?;
            Ok(crate::views::validate::validate(&project, Some(&store), &env, now))
        }
        // The same diagnostic the CLI gives for an unreadable store (via a minimal config).
        Err(_) => {
            let cfg = format!(
                "baseDomain: inspector.invalid\nenvironments: {{{env}: {{provider: {{kind: dir, path: .}}}}}}\n"
            );
            let mut r = crate::views::validate::validate_texts(&cfg, regions_yaml, Some(store_yaml), &env, now);
            r.diagnostics.retain(|d| d.file != "inforge.yaml");
            Ok(r)
        }
    }
}

/// One cell of the trust matrix: does the row scope's bundle carry the column scope's
/// intermediates?
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustCell {
    /// The column scope (whose intermediates).
    pub scope: String,
    /// The row's bundle carries at least one of them.
    pub trusted: bool,
    /// Fingerprints of the column scope's certificates in the row's bundle.
    pub fingerprints: Vec<String>,
}

/// One row: a scope's bundle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustRow {
    /// The scope whose bundle this is.
    pub scope: String,
    /// Why there is no bundle (code, message), e.g. the scope has no intermediate yet.
    pub error: Option<Unreadable>,
    /// One cell per matrix scope.
    pub cells: Vec<TrustCell>,
}

/// The trust matrix of one two-tier PKI.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PkiTrust {
    /// PKI name.
    pub name: String,
    /// One row per scope.
    pub rows: Vec<TrustRow>,
}

/// The boundary rule between two scopes (by authorization on SPIFFE IDs).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoundaryCell {
    /// Caller's scope.
    pub caller: String,
    /// Callee's scope.
    pub callee: String,
    /// Whether the call is authorized.
    pub allowed: bool,
    /// Why (the rule that decided).
    pub reason: String,
}

/// Who trusts whom: per two-tier PKI the scope bundles (the handshake), and the boundary rule
/// (authorization) for every pair of scopes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustMatrix {
    /// The environment.
    pub env: String,
    /// The scopes: `global` then the regions.
    pub scopes: Vec<String>,
    /// Per two-tier PKI.
    pub pkis: Vec<PkiTrust>,
    /// Caller scope × callee scope.
    pub boundary: Vec<BoundaryCell>,
}

/// The trust matrix, built from [`mesh::scope_bundle`] (the bundles renew writes) and
/// [`mesh::authorize`].
pub fn trust_matrix(store: &Store, project: &Project, env: &str) -> TrustMatrix {
    let scopes: Vec<String> = std::iter::once(GLOBAL.to_string()).chain(project.regions.iter().cloned()).collect();
    let mut pkis = Vec::new();
    for (name, pki) in &store.pkis {
        if pki.topology != Topology::TwoTier {
            continue;
        }
        // Which scope each certificate serves, by fingerprint.
        let mut scope_of: BTreeMap<String, String> = BTreeMap::new();
        for (s, e) in &pki.intermediates {
            if let Ok(c) = Cert::from_pem(e.cert.as_str(), s) {
                scope_of.insert(c.fingerprint(), s.clone());
            }
        }
        for (s, v) in &pki.previous_intermediates {
            for b in v {
                if let Ok(c) = Cert::from_pem(b.as_str(), s) {
                    scope_of.insert(c.fingerprint(), s.clone());
                }
            }
        }
        let rows = scopes
            .iter()
            .map(|row| match mesh::scope_bundle(store, project, env, name, row) {
                Ok(bundle) => {
                    let fps: Vec<String> = bundle.iter().map(Cert::fingerprint).collect();
                    let cells = scopes
                        .iter()
                        .map(|col| {
                            let f: Vec<String> =
                                fps.iter().filter(|f| scope_of.get(*f) == Some(col)).cloned().collect();
                            TrustCell { scope: col.clone(), trusted: !f.is_empty(), fingerprints: f }
                        })
                        .collect();
                    TrustRow { scope: row.clone(), error: None, cells }
                }
                Err(e) => TrustRow {
                    scope: row.clone(),
                    error: Some(Unreadable {
                        location: format!("pkis.{name}.intermediates.{row}"),
                        code: e.code(),
                        message: e.to_string(),
                    }),
                    cells: Vec::new(),
                },
            })
            .collect();
        pkis.push(PkiTrust { name: name.clone(), rows });
    }
    let td = &project.config.base_domain;
    let mut boundary = Vec::new();
    for caller in &scopes {
        for callee in &scopes {
            let r =
                mesh::authorize(&SpiffeId::new(td, env, caller, "caller"), &SpiffeId::new(td, env, callee, "callee"));
            boundary.push(BoundaryCell {
                caller: caller.clone(),
                callee: callee.clone(),
                allowed: r.is_ok(),
                // Worded per scope pair: the placeholder services' IDs would only distract.
                reason: match r {
                    Ok(()) if caller == callee => "intra-scope calls are allowed".into(),
                    Ok(()) => format!("{caller}→global is allowed"),
                    Err(mesh::Denied::GlobalToRegion { .. }) => {
                        format!("global→{callee} is refused by authorization on the peer's SPIFFE scope")
                    }
                    Err(d) => d.to_string(),
                },
            });
        }
    }
    TrustMatrix { env: env.to_string(), scopes, pkis, boundary }
}

/// The boundary rule for two SPIFFE IDs (a pasted pair).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// Whether the caller may call the callee.
    pub allowed: bool,
    /// Why.
    pub reason: String,
}

/// [`mesh::authorize`] on two ID strings; a malformed ID is an error (`spiffe-id-invalid`).
pub fn authorize_ids(caller: &str, callee: &str) -> Result<Authorization, Error> {
    let (a, b) = (SpiffeId::parse(caller.trim())?, SpiffeId::parse(callee.trim())?);
    Ok(match mesh::authorize(&a, &b) {
        Ok(()) => Authorization {
            allowed: true,
            reason: format!("{} → {} is within the regional boundary", a.scope, b.scope),
        },
        Err(d) => Authorization { allowed: false, reason: d.to_string() },
    })
}

/// One check of a pasted leaf.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafFinding {
    /// Stable name of the check.
    pub check: &'static str,
    /// Passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The verdict on a pasted leaf chain against a scope's bundle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafCheck {
    /// Every check passed.
    pub ok: bool,
    /// The scope whose bundle was used.
    pub scope: String,
    /// The PKI whose bundle member issued the leaf, if any.
    pub pki: Option<String>,
    /// The leaf's SPIFFE ID, if it has exactly one.
    pub spiffe_id: Option<String>,
    /// The leaf's details.
    pub leaf: CertView,
    /// The issuing bundle member's fingerprint.
    pub issuer_fingerprint: Option<String>,
    /// Each check in order.
    pub checks: Vec<LeafFinding>,
}

/// Checks a leaf chain (leaf first, as `cert.pem`) against `scope`'s bundle of every two-tier
/// PKI (the bundle renew writes): signed by a member, valid at `now`, not a CA, and claiming
/// only its issuer's scope ([`mesh::peer_identity`]). `scope` defaults to the leaf's own.
pub fn check_leaf(
    store: &Store,
    project: &Project,
    env: &str,
    chain_pem: &str,
    scope: Option<&str>,
    now: OffsetDateTime,
) -> Result<LeafCheck, Error> {
    let certs = crate::crypto::cert::parse_bundle(chain_pem, "the pasted chain")?;
    let Some(leaf) = certs.first() else {
        return Err(crate::error::CertError::Parse {
            location: "the pasted chain".into(),
            reason: "no certificate found".into(),
        }
        .into());
    };
    let uris = leaf.uri_sans();
    let id = match uris.as_slice() {
        [one] => SpiffeId::parse(one).ok(),
        _ => None,
    };
    let scope = match (scope.filter(|s| !s.is_empty()), &id) {
        (Some(s), _) => s.to_string(),
        (None, Some(id)) => id.scope.clone(),
        (None, None) => return Err(InspectError::NoScope { reason: "the leaf has no single SPIFFE ID".into() }.into()),
    };
    let mut checks = Vec::new();
    let mut push = |check, ok, detail: String| checks.push(LeafFinding { check, ok, detail });
    push(
        "spiffe-id",
        id.is_some(),
        match &id {
            Some(i) => format!("{i}"),
            None => format!("expected exactly one SPIFFE URI SAN, found {:?}", uris),
        },
    );
    let mut issuer: Option<(String, Cert)> = None;
    let mut bundle_problems = Vec::new();
    for (name, pki) in &store.pkis {
        if pki.topology != Topology::TwoTier {
            continue;
        }
        match mesh::scope_bundle(store, project, env, name, &scope) {
            Ok(bundle) => {
                if let Some(m) = bundle
                    .into_iter()
                    .find(|m| leaf.issuer() == m.subject() && leaf.verify_signed_by(m, "leaf").is_ok())
                {
                    issuer = Some((name.clone(), m));
                    break;
                }
            }
            Err(e) => bundle_problems.push(format!("{name}: {e}")),
        }
    }
    push(
        "issued-by-bundle",
        issuer.is_some(),
        match &issuer {
            Some((name, m)) => format!("signed by {} ({name}, in {scope}'s bundle)", m.subject()),
            None if bundle_problems.is_empty() => {
                format!("no certificate in {scope}'s bundle signed it (issuer {})", leaf.issuer())
            }
            None => format!("no certificate in {scope}'s bundle signed it; {}", bundle_problems.join("; ")),
        },
    );
    push(
        "valid-now",
        leaf.is_valid_at(now),
        format!("valid {} to {}", format_rfc3339(leaf.not_before()), format_rfc3339(leaf.not_after())),
    );
    let is_ca = leaf.basic_constraints().map(|(_, ca, _)| ca).unwrap_or(false);
    push("not-a-ca", !is_ca, if is_ca { "the leaf is a CA".into() } else { "CA:false".into() });
    if let Some((_, m)) = &issuer {
        let pair = format!("{}{}", leaf.pem(), m.pem());
        let r = mesh::peer_identity(&pair);
        push(
            "claims-issuer-scope",
            r.is_ok(),
            match r {
                Ok(id) => format!("{} is served by its issuer", id.scope),
                Err(d) => d.to_string(),
            },
        );
        push("issuer-valid-now", m.is_valid_at(now), format!("issuer valid until {}", format_rfc3339(m.not_after())));
    }
    let ok = checks.iter().all(|c| c.ok);
    Ok(LeafCheck {
        ok,
        scope,
        pki: issuer.as_ref().map(|(n, _)| n.clone()),
        spiffe_id: id.map(|i| i.to_string()),
        leaf: CertView::of(leaf, Role::Intermediate, None, "the pasted chain[0]", now),
        issuer_fingerprint: issuer.map(|(_, m)| m.fingerprint()),
        checks,
    })
}

/// What a change does to one certificate slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A PKI appeared.
    PkiAdded,
    /// A PKI disappeared.
    PkiRemoved,
    /// A scope got its first intermediate.
    IntermediateMinted,
    /// A scope's intermediate was replaced and the old one kept in its bundles (planned roll).
    IntermediateRotated,
    /// A scope's intermediate was replaced and the old one revoked (recovery).
    IntermediateRecovered,
    /// A scope's intermediate was replaced with no overlap and no revocation.
    IntermediateReplaced,
    /// A scope's intermediate disappeared.
    IntermediateRemoved,
    /// A retired intermediate left the bundles.
    PreviousIntermediateDropped,
    /// A new root with the old one kept as previous: a root overlap started.
    RootOverlapStarted,
    /// Chains switched to the new root's path first (`rotate --root --switch`).
    RootSwitched,
    /// A previous root was dropped: the overlap was finalized.
    RootFinalized,
    /// The root was replaced with no overlap.
    RootReplaced,
    /// A certificate was recorded as revoked.
    Revoked,
    /// The CI or offline recipient changed.
    RecipientChanged,
}

/// One change between two store versions.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// PKI name (empty for store-wide changes).
    pub pki: String,
    /// Scope, for intermediates.
    pub scope: Option<String>,
    /// Subject of the certificate concerned (the new one when there is one).
    pub subject: String,
    /// Fingerprint before.
    pub before: Option<String>,
    /// Fingerprint after.
    pub after: Option<String>,
}

/// What changed between two versions of a store.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreDiff {
    /// Changes, PKI by PKI.
    pub changes: Vec<Change>,
    /// Nothing a reviewer must look at changed.
    pub unchanged: bool,
}

/// Fingerprint and subject of a PEM (an unreadable one is named, not fatal).
fn fp(pem: &str) -> (String, String) {
    match Cert::from_pem(pem, "diff") {
        Ok(c) => (c.fingerprint(), c.subject()),
        Err(e) => (format!("unreadable ({})", e.code()), "(unreadable certificate)".into()),
    }
}

/// The changes from `before` to `after`, by certificate fingerprint.
pub fn diff_stores(before: &Store, after: &Store) -> StoreDiff {
    let mut changes = Vec::new();
    let mut ch = |kind, pki: &str, scope: Option<&str>, subject: String, b: Option<String>, a: Option<String>| {
        changes.push(Change { kind, pki: pki.into(), scope: scope.map(str::to_string), subject, before: b, after: a })
    };
    for (field, b, a) in [
        ("rootRecipient", &before.root_recipient, &after.root_recipient),
        ("recipient", &before.recipient, &after.recipient),
    ] {
        if !crate::crypto::custody::same_recipient(b, a) {
            ch(ChangeKind::RecipientChanged, "", None, field.into(), Some(b.clone()), Some(a.clone()));
        }
    }
    let names: BTreeSet<&String> = before.pkis.keys().chain(after.pkis.keys()).collect();
    for name in names {
        let (b, a) = match (before.pkis.get(name), after.pkis.get(name)) {
            (None, Some(a)) => {
                let (f, s) = fp(a.root.cert.as_str());
                ch(ChangeKind::PkiAdded, name, None, s, None, Some(f));
                for (scope, e) in &a.intermediates {
                    let (f, s) = fp(e.cert.as_str());
                    ch(ChangeKind::IntermediateMinted, name, Some(scope), s, None, Some(f));
                }
                continue;
            }
            (Some(b), None) => {
                let (f, s) = fp(b.root.cert.as_str());
                ch(ChangeKind::PkiRemoved, name, None, s, Some(f), None);
                continue;
            }
            (Some(b), Some(a)) => (b, a),
            (None, None) => continue,
        };
        // Roots.
        let (rb, _) = fp(b.root.cert.as_str());
        let (ra, sa) = fp(a.root.cert.as_str());
        let prev_a: Vec<(String, String)> = a.previous_roots.iter().map(|e| fp(e.cert.as_str())).collect();
        if rb != ra {
            let kind = if prev_a.iter().any(|(f, _)| *f == rb) {
                ChangeKind::RootOverlapStarted
            } else {
                ChangeKind::RootReplaced
            };
            ch(kind, name, None, sa.clone(), Some(rb.clone()), Some(ra.clone()));
        }
        if b.root_switched_at.is_none() && a.root_switched_at.is_some() {
            ch(ChangeKind::RootSwitched, name, None, sa, None, Some(ra.clone()));
        }
        for e in &b.previous_roots {
            let (f, s) = fp(e.cert.as_str());
            if !prev_a.iter().any(|(g, _)| *g == f) {
                ch(ChangeKind::RootFinalized, name, None, s, Some(f), Some(ra.clone()));
            }
        }
        // Revocations first, so a replaced intermediate can be told recovered from rotated.
        let revoked_a: BTreeSet<&str> = a.revoked.iter().map(|r| r.fingerprint.as_str()).collect();
        // Intermediates.
        let scopes: BTreeSet<&String> = b.intermediates.keys().chain(a.intermediates.keys()).collect();
        for scope in scopes {
            match (b.intermediates.get(scope), a.intermediates.get(scope)) {
                (None, Some(e)) => {
                    let (f, s) = fp(e.cert.as_str());
                    ch(ChangeKind::IntermediateMinted, name, Some(scope), s, None, Some(f));
                }
                (Some(e), None) => {
                    let (f, s) = fp(e.cert.as_str());
                    ch(ChangeKind::IntermediateRemoved, name, Some(scope), s, Some(f), None);
                }
                (Some(eb), Some(ea)) => {
                    let ((fb, _), (fa, sa)) = (fp(eb.cert.as_str()), fp(ea.cert.as_str()));
                    if fb != fa {
                        let kept =
                            a.previous_intermediates.get(scope).into_iter().flatten().any(|p| fp(p.as_str()).0 == fb);
                        let kind = if revoked_a.contains(fb.as_str()) {
                            ChangeKind::IntermediateRecovered
                        } else if kept {
                            ChangeKind::IntermediateRotated
                        } else {
                            ChangeKind::IntermediateReplaced
                        };
                        ch(kind, name, Some(scope), sa, Some(fb), Some(fa));
                    }
                }
                (None, None) => {}
            }
        }
        // Retired intermediates that left the bundles.
        for (scope, v) in &b.previous_intermediates {
            for p in v {
                let (f, s) = fp(p.as_str());
                let still = a.previous_intermediates.get(scope).into_iter().flatten().any(|q| fp(q.as_str()).0 == f);
                if !still && !revoked_a.contains(f.as_str()) {
                    ch(ChangeKind::PreviousIntermediateDropped, name, Some(scope), s, Some(f), None);
                }
            }
        }
        for r in &a.revoked {
            if !b.revoked.iter().any(|q| q.fingerprint == r.fingerprint) {
                ch(ChangeKind::Revoked, name, Some(&r.scope), r.subject.clone(), Some(r.fingerprint.clone()), None);
            }
        }
    }
    let unchanged = changes.is_empty();
    StoreDiff { changes, unchanged }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::custody::tests::{identity, TestSealer};
    use crate::crypto::custody::{Custodian, Identity};
    use crate::crypto::effects::Effects;
    use rand_chacha::rand_core::SeedableRng;

    const CFG: &str = "baseDomain: w.example\nenvironments: {prd: {provider: {kind: dir, path: p}}}\nservices:\n  api: {pki: mesh, scope: global}\n  web: {pki: mesh, scope: regional}\n";
    const REGIONS: &str = "regions: [us-east-1, eu-west-1]\n";

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap()
    }

    fn fixture() -> (Store, Project, Identity, Identity) {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let (root_id, ci) = (identity(Custodian::OfflineRoot), identity(Custodian::Ci));
        let project = Project::parse(CFG, Some(REGIONS)).unwrap();
        let mut store = Store::new(root_id.recipient(), ci.recipient());
        let mut fx = Effects { now: now(), rng: &mut rng, sealer: &mut TestSealer };
        let alg = crate::crypto::keys::Algorithm::EcdsaP256;
        crate::pki::lifecycle::add_pki(&mut store, "prd", "mesh", Topology::TwoTier, alg, &mut fx).unwrap();
        crate::pki::lifecycle::add_pki(&mut store, "prd", "daemon", Topology::RootOnly, alg, &mut fx).unwrap();
        for scope in ["global", "us-east-1", "eu-west-1"] {
            crate::pki::lifecycle::add_intermediate(&mut store, &project, "prd", "mesh", scope, &root_id, &mut fx)
                .unwrap();
        }
        (store, project, root_id, ci)
    }

    #[test]
    fn view_has_every_certificate_with_details() {
        let (store, ..) = fixture();
        let v = inspect_store(&store, now());
        assert_eq!(v.env.as_deref(), Some("prd"));
        let mesh = v.pkis.iter().find(|p| p.name == "mesh").unwrap();
        assert_eq!(mesh.certs.len(), 4);
        let root = &mesh.certs[0];
        assert_eq!(root.role, Role::Root);
        assert!(root.is_ca && root.subject_key_id.is_some() && root.fingerprint.len() == 64);
        let g = mesh.certs.iter().find(|c| c.scope.as_deref() == Some("global")).unwrap();
        assert_eq!(g.role, Role::Intermediate);
        assert_eq!(g.authority_key_id, root.subject_key_id);
        assert_eq!(g.path_len, Some(0));
        assert_eq!(g.algorithm, Some("ecdsa-p256"));
        assert!(mesh.unreadable.is_empty());
    }

    #[test]
    fn env_comes_from_input_store_or_config() {
        let (store, project, ..) = fixture();
        assert_eq!(resolve_env(Some("stg"), Some(&store), None).unwrap(), "stg");
        assert_eq!(resolve_env(None, Some(&store), None).unwrap(), "prd");
        assert_eq!(resolve_env(None, None, Some(&project)).unwrap(), "prd");
        let two = Project::parse(
            "baseDomain: w.example\nenvironments: {a: {provider: {kind: dir, path: p}}, b: {provider: {kind: dir, path: p}}}\n",
            None,
        )
        .unwrap();
        assert_eq!(resolve_env(None, None, Some(&two)).unwrap_err().code(), "env-unknown");
        assert_eq!(resolve_env(Some("../x"), None, None).unwrap_err().code(), "name-invalid");
    }

    #[test]
    fn matrix_follows_the_bundles_and_the_boundary() {
        let (store, project, ..) = fixture();
        let m = trust_matrix(&store, &project, "prd");
        assert_eq!(m.scopes, vec!["global", "us-east-1", "eu-west-1"]);
        let mesh = &m.pkis[0];
        let row = |s: &str| mesh.rows.iter().find(|r| r.scope == s).unwrap();
        let trusted = |r: &str, c: &str| row(r).cells.iter().find(|x| x.scope == c).unwrap().trusted;
        assert!(trusted("global", "us-east-1") && trusted("global", "eu-west-1") && trusted("us-east-1", "global"));
        assert!(!trusted("us-east-1", "eu-west-1") && !trusted("eu-west-1", "us-east-1"));
        let b = |a: &str, c: &str| m.boundary.iter().find(|x| x.caller == a && x.callee == c).unwrap().allowed;
        assert!(b("us-east-1", "global") && b("global", "global") && b("us-east-1", "us-east-1"));
        assert!(!b("global", "us-east-1") && !b("us-east-1", "eu-west-1"));
        let reason =
            |a: &str, c: &str| m.boundary.iter().find(|x| x.caller == a && x.callee == c).unwrap().reason.clone();
        assert_eq!(
            reason("global", "eu-west-1"),
            "global→eu-west-1 is refused by authorization on the peer's SPIFFE scope"
        );
        assert!(reason("us-east-1", "eu-west-1").contains("cross-region"), "{}", reason("us-east-1", "eu-west-1"));
        // A scope without an intermediate has an error row, not a panic.
        let p2 = Project::parse(CFG, Some("regions: [us-east-1, eu-west-1, ap-south-1]\n")).unwrap();
        let m2 = trust_matrix(&store, &p2, "prd");
        let r = m2.pkis[0].rows.iter().find(|r| r.scope == "ap-south-1").unwrap();
        assert_eq!(r.error.as_ref().unwrap().code, "bundle-unavailable");
    }

    #[test]
    fn leaf_checks_against_the_scope_bundle() {
        let (store, project, _, ci) = fixture();
        let targets = mesh::targets(&project, &store, "prd", &mesh::Filter::default()).unwrap();
        let issuers = mesh::open_issuers(&store, &project, "prd", &targets, &ci, now()).unwrap();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
        let web = targets.iter().find(|t| t.service == "web" && t.scope == "us-east-1").unwrap();
        let leaf = mesh::mint(web, &issuers[&("mesh".into(), "us-east-1".into())], None, now(), &mut rng).unwrap();
        let ok = check_leaf(&store, &project, "prd", &leaf.cert_pem, None, now()).unwrap();
        assert!(ok.ok, "{:?}", ok.checks);
        assert_eq!((ok.scope.as_str(), ok.pki.as_deref()), ("us-east-1", Some("mesh")));
        // Against eu-west-1's bundle the us-east-1 leaf is not trusted (cross-region).
        let eu = check_leaf(&store, &project, "prd", &leaf.cert_pem, Some("eu-west-1"), now()).unwrap();
        assert!(!eu.ok);
        assert!(eu.checks.iter().any(|c| c.check == "issued-by-bundle" && !c.ok));
        // Expired by the time of the check.
        let late =
            check_leaf(&store, &project, "prd", &leaf.cert_pem, None, now() + time::Duration::days(400)).unwrap();
        assert!(late.checks.iter().any(|c| c.check == "valid-now" && !c.ok));
        assert_eq!(check_leaf(&store, &project, "prd", "garbage", None, now()).unwrap_err().code(), "cert-invalid");
    }

    #[test]
    fn diff_names_rotations_recoveries_and_new_pkis() {
        let (before, project, root_id, _) = fixture();
        let mut after = before.clone();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let mut fx = Effects { now: now(), rng: &mut rng, sealer: &mut TestSealer };
        crate::pki::rotate::rotate_intermediate(&mut after, &project, "prd", "mesh", "us-east-1", &root_id, &mut fx)
            .unwrap();
        crate::pki::rotate::recover_intermediate(&mut after, &project, "prd", "mesh", "eu-west-1", &root_id, &mut fx)
            .unwrap();
        let alg = crate::crypto::keys::Algorithm::Ed25519;
        crate::pki::lifecycle::add_pki(&mut after, "prd", "extra", Topology::RootOnly, alg, &mut fx).unwrap();
        let d = diff_stores(&before, &after);
        let kinds: Vec<(ChangeKind, Option<&str>)> = d.changes.iter().map(|c| (c.kind, c.scope.as_deref())).collect();
        assert!(kinds.contains(&(ChangeKind::IntermediateRotated, Some("us-east-1"))), "{kinds:?}");
        assert!(kinds.contains(&(ChangeKind::IntermediateRecovered, Some("eu-west-1"))), "{kinds:?}");
        assert!(kinds.contains(&(ChangeKind::Revoked, Some("eu-west-1"))), "{kinds:?}");
        assert!(kinds.contains(&(ChangeKind::PkiAdded, None)), "{kinds:?}");
        let rot = d.changes.iter().find(|c| c.kind == ChangeKind::IntermediateRotated).unwrap();
        assert_ne!(rot.before, rot.after);
        assert!(diff_stores(&before, &before).unchanged);
        // Root overlap then finalize.
        let mut overlap = before.clone();
        crate::pki::rotate::rotate_root(&mut overlap, "prd", "mesh", &root_id, None, &mut fx).unwrap();
        let d = diff_stores(&before, &overlap);
        assert!(d.changes.iter().any(|c| c.kind == ChangeKind::RootOverlapStarted), "{:?}", d.changes);
        let mut switched = overlap.clone();
        crate::pki::rotate::switch_root(&mut switched, "mesh", true, now()).unwrap();
        let d = diff_stores(&overlap, &switched);
        assert_eq!(d.changes.iter().map(|c| c.kind).collect::<Vec<_>>(), vec![ChangeKind::RootSwitched]);
        assert_eq!(inspect_store_phase(&switched), crate::pki::tiers::RootPhase::Switched);
        let mut finalized = switched.clone();
        crate::pki::rotate::finalize_root(&mut finalized, "mesh", &root_id, true, now()).unwrap();
        let d = diff_stores(&switched, &finalized);
        let kinds: Vec<ChangeKind> = d.changes.iter().map(|c| c.kind).collect();
        assert!(kinds.contains(&ChangeKind::RootFinalized), "{kinds:?}");
        assert!(!kinds.contains(&ChangeKind::RootReplaced), "{kinds:?}");
    }

    fn inspect_store_phase(store: &Store) -> crate::pki::tiers::RootPhase {
        crate::pki::tiers::root_phase(&store.pkis["mesh"])
    }

    #[test]
    fn validate_without_config_checks_the_store_and_with_config_is_the_cli_s() {
        let (store, ..) = fixture();
        let yaml = store.to_yaml();
        let r = validate(None, None, Some(&yaml), None, now()).unwrap();
        assert!(r.ok, "{:?}", r.codes());
        let late = validate(None, None, Some(&yaml), None, now() + time::Duration::days(3660)).unwrap();
        assert!(late.codes().contains(&"cert-expired"), "{:?}", late.codes());
        let cli = crate::views::validate::validate_texts(CFG, Some(REGIONS), Some(&yaml), "prd", now());
        let ours = validate(Some(CFG), Some(REGIONS), Some(&yaml), None, now()).unwrap();
        assert_eq!(cli.codes(), ours.codes());
        // Garbage store without config: the CLI's store-invalid finding.
        assert_eq!(
            validate(None, None, Some("\u{0}\u{1}garbage"), None, now()).unwrap().codes(),
            vec!["store-invalid"]
        );
        // Config without a store: store-missing.
        assert!(validate(Some(CFG), Some(REGIONS), None, None, now()).unwrap().codes().contains(&"store-missing"));
    }

    #[test]
    fn authorize_ids_words_the_rule() {
        let a = authorize_ids("spiffe://w.example/prd/us-east-1/web", "spiffe://w.example/prd/global/api").unwrap();
        assert!(a.allowed);
        let b = authorize_ids("spiffe://w.example/prd/global/api", "spiffe://w.example/prd/us-east-1/web").unwrap();
        assert!(!b.allowed && b.reason.contains("global"));
        assert_eq!(authorize_ids("nope", "spiffe://w.example/prd/global/api").unwrap_err().code(), "spiffe-id-invalid");
    }
}
