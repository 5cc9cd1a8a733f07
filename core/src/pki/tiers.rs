//! Shared facts about a PKI in a [`Store`]: lookups, the custody of its root, sealing a new
//! key, when its root overlap may end, and the checks every CA tier must pass before it is
//! used or trusted ([`check_root`], [`check_intermediate`], [`check_bundle_member`]).
//!
//! The lifecycle writes live in [`crate::pki::lifecycle`] and [`crate::pki::rotate`], the listing in
//! [`crate::views::listing`]; all of them build on this module, which imports none of them.

use std::collections::BTreeSet;

use serde::Serialize;
use time::OffsetDateTime;
use x509_cert::ext::pkix::KeyUsages;

use crate::crypto::cert::Cert;
use crate::crypto::custody::{Custodian, Identity, Sealer};
use crate::crypto::keys::PrivateKey;
use crate::crypto::profile::CaTier;
use crate::error::PkiError;
use crate::model::config::Project;
use crate::model::limits::{DEFAULT_MIN_OVERLAP_DAYS, DEFAULT_MIN_SWITCH_DAYS, MAX_OVERLAP_DAYS};
use crate::model::store::{Block, Pki, Store, Topology};
use crate::Error;

/// Looks up a PKI by name.
pub fn get_pki<'s>(store: &'s Store, name: &str) -> Result<&'s Pki, Error> {
    store.pkis.get(name).ok_or_else(|| unknown(store, name).into())
}

fn unknown(store: &Store, name: &str) -> PkiError {
    let known: Vec<&str> = store.pkis.keys().map(String::as_str).collect();
    PkiError::UnknownPki {
        name: name.to_string(),
        known: if known.is_empty() { "none".into() } else { known.join(", ") },
    }
}

/// Seals a freshly generated key to `recipient` (PKCS#8 PEM inside age armor).
pub fn seal_key(sealer: &mut dyn Sealer, recipient: &str, key: &PrivateKey, location: &str) -> Result<Block, Error> {
    let pem = key.to_pkcs8_pem();
    Ok(Block::new(sealer.seal(recipient, pem.as_bytes(), location)?))
}

/// Checks that `scope` is `global` or an active region.
pub fn check_scope(project: &Project, scope: &str) -> Result<(), Error> {
    crate::model::names::check_segment("scope", scope)?;
    if project.is_scope(scope) {
        Ok(())
    } else {
        let regions = if project.regions.is_empty() { "none".into() } else { project.regions.join(", ") };
        Err(PkiError::UnknownScope { scope: scope.to_string(), regions }.into())
    }
}

/// Decrypts a two-tier PKI's cold root key with the offline identity (checked against the
/// store's `rootRecipient` and against the root certificate).
pub fn open_root(store: &Store, name: &str, root_identity: &Identity) -> Result<(Cert, PrivateKey), Error> {
    let pki = get_pki(store, name)?;
    let (custodian, recipient) = match pki.topology {
        Topology::TwoTier => (Custodian::OfflineRoot, &store.root_recipient),
        Topology::RootOnly => (Custodian::Ci, &store.recipient),
    };
    debug_assert_eq!(root_identity.custodian(), custodian);
    root_identity.expect_recipient(recipient)?;
    let cert = Cert::from_pem(pki.root.cert.as_str(), &format!("pkis.{name}.root.cert"))?;
    let key = root_identity.open_key(pki.root.key.as_str(), &cert, &format!("pkis.{name}.root.key"))?;
    Ok((cert, key))
}

/// The custodian that holds a PKI's root key.
pub fn root_custodian(store: &Store, name: &str) -> Result<Custodian, Error> {
    Ok(match get_pki(store, name)?.topology {
        Topology::TwoTier => Custodian::OfflineRoot,
        Topology::RootOnly => Custodian::Ci,
    })
}

/// The recorded minimum overlap of a PKI's open root rotation, bounded.
pub fn overlap_min_days(pki: &Pki, name: &str) -> Result<u32, Error> {
    let days = pki.root_overlap_min_days.unwrap_or(DEFAULT_MIN_OVERLAP_DAYS);
    check_overlap_days(&format!("pkis.{name}.rootOverlapMinDays"), days)?;
    Ok(days)
}

/// Checks a minimum-overlap number (from the command line or the store).
pub fn check_overlap_days(field: &str, days: u32) -> Result<(), Error> {
    if days > MAX_OVERLAP_DAYS {
        return Err(PkiError::OutOfRange {
            field: field.to_string(),
            value: u64::from(days),
            min: 0,
            max: u64::from(MAX_OVERLAP_DAYS),
        }
        .into());
    }
    Ok(())
}

/// Where a PKI is in a root rotation. Each phase is a store state (`ls`, `validate` and
/// the inspector show it) and fixes the order of the chain after a leaf in `cert.pem`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RootPhase {
    /// No rotation: one root; the chain is the intermediate.
    Stable,
    /// `rotate --root`: both roots distributed; the chain keeps the previous root's path
    /// first (intermediate re-signed by the previous root, then by the new one).
    Overlap,
    /// `rotate --root --switch`: the chain puts the new root's path first.
    Switched,
}

impl RootPhase {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            RootPhase::Stable => "stable",
            RootPhase::Overlap => "overlap",
            RootPhase::Switched => "switched",
        }
    }
}

/// The PKI's root-rotation phase.
pub fn root_phase(pki: &Pki) -> RootPhase {
    match (pki.previous_roots.is_empty(), &pki.root_switched_at) {
        (true, _) => RootPhase::Stable,
        (false, None) => RootPhase::Overlap,
        (false, Some(_)) => RootPhase::Switched,
    }
}

fn overlap_started(pki: &Pki, name: &str) -> Result<Option<(String, OffsetDateTime)>, Error> {
    let Some(since) = &pki.root_overlap_started else {
        return Ok(None);
    };
    let field = format!("pkis.{name}.rootOverlapStarted");
    Ok(Some((field.clone(), crate::model::time::parse_rfc3339(&field, since)?)))
}

/// When `--root --switch` is allowed: once the roots bundle with both roots has been out for
/// the overlap's minimum (`rootOverlapMinDays`). `None`: no overlap, or a root-only PKI (no
/// chains to switch). Checked arithmetic: a far-future start or a huge minimum is an error.
pub fn switch_allowed_at_pki(pki: &Pki, name: &str) -> Result<Option<OffsetDateTime>, Error> {
    if pki.topology == crate::model::store::Topology::RootOnly || pki.previous_roots.is_empty() {
        return Ok(None);
    }
    let Some((field, since)) = overlap_started(pki, name)? else {
        return Ok(None);
    };
    crate::model::time::add_days(&field, since, i64::from(overlap_min_days(pki, name)?)).map(Some)
}

/// When a PKI's open root overlap may be finalized (`None`: no overlap, or a two-tier PKI
/// that has not switched yet).
pub fn finalize_allowed_at(store: &Store, name: &str) -> Result<Option<OffsetDateTime>, Error> {
    finalize_allowed_at_pki(get_pki(store, name)?, name)
}

/// [`finalize_allowed_at`] for a PKI already looked up: two-tier, [`DEFAULT_MIN_SWITCH_DAYS`]
/// after the switch; root-only (nothing to switch), the overlap's minimum after its start.
pub fn finalize_allowed_at_pki(pki: &Pki, name: &str) -> Result<Option<OffsetDateTime>, Error> {
    if pki.previous_roots.is_empty() && pki.root_overlap_started.is_none() {
        return Ok(None);
    }
    if pki.topology == crate::model::store::Topology::TwoTier {
        let Some(t) = &pki.root_switched_at else {
            return Ok(None);
        };
        let field = format!("pkis.{name}.rootSwitchedAt");
        let at = crate::model::time::parse_rfc3339(&field, t)?;
        return crate::model::time::add_days(&field, at, i64::from(DEFAULT_MIN_SWITCH_DAYS)).map(Some);
    }
    let Some((field, since)) = overlap_started(pki, name)? else {
        return Ok(None);
    };
    crate::model::time::add_days(&field, since, i64::from(overlap_min_days(pki, name)?)).map(Some)
}

fn tier_name(tier: CaTier) -> &'static str {
    match tier {
        CaTier::TwoTierRoot | CaTier::RootOnly => "root",
        CaTier::Intermediate => "intermediate",
    }
}

/// Profile checks of one CA certificate: critical CA:true with the tier's pathLen, critical
/// keyCertSign+cRLSign, and the PKI's algorithm. Every problem, in order.
pub fn check_profile(cert: &Cert, tier: CaTier, pki: &Pki, location: &str) -> Vec<Error> {
    let mut out = Vec::new();
    let problem = |p: String| -> Error {
        PkiError::Profile { location: location.to_string(), tier: tier_name(tier), problem: p }.into()
    };
    let want = tier.path_len();
    match cert.basic_constraints() {
        Some((true, true, Some(n))) if n == want => {}
        other => out.push(problem(format!(
            "basic constraints are {}; this tier needs critical CA:true with pathLen {want}",
            describe_bc(other)
        ))),
    }
    let ku_ok = matches!(cert.key_usage(), Some((true, _)))
        && cert.has_key_usage(KeyUsages::KeyCertSign)
        && cert.has_key_usage(KeyUsages::CRLSign);
    if !ku_ok {
        out.push(problem("key usage must be critical and include keyCertSign and cRLSign".into()));
    }
    if cert.key_algorithm() != Some(pki.algorithm) {
        let found = cert.key_algorithm().map(|a| a.name()).unwrap_or("unsupported");
        out.push(problem(format!("its key algorithm is {found}, the PKI's is {}", pki.algorithm)));
    }
    out
}

fn describe_bc(bc: Option<(bool, bool, Option<u8>)>) -> String {
    match bc {
        None => "absent".into(),
        Some((critical, ca, len)) => format!(
            "{}CA:{}{}",
            if critical { "critical " } else { "non-critical " },
            if ca { "true" } else { "false" },
            len.map(|n| format!(" pathLen {n}")).unwrap_or_default()
        ),
    }
}

/// The checks of a PKI's current root that need no key: self-signed and its tier's profile.
pub fn check_root(pki: &Pki, name: &str, root: &Cert) -> Vec<Error> {
    let location = format!("pkis.{name}.root");
    let tier = match pki.topology {
        Topology::TwoTier => CaTier::TwoTierRoot,
        Topology::RootOnly => CaTier::RootOnly,
    };
    let mut out = check_profile(root, tier, pki, &location);
    if root.verify_signed_by(root, &location).is_err() {
        out.push(PkiError::RootNotSelfSigned { location }.into());
    }
    out
}

/// Whether `cert`'s subject is an intermediate of this PKI, environment and scope (the
/// subject inforge's profile gives it; it also says which key it certifies).
fn subject_matches(cert: &Cert, name: &str, env: &str, scope: &str) -> bool {
    let expected = format!(
        "{name} {env} {scope} intermediate CA {}",
        crate::crypto::profile::short_key_id(cert.public_key_bytes())
    );
    cert.common_name().as_deref() == Some(expected.as_str())
}

fn revoked(pki: &Pki) -> BTreeSet<&str> {
    pki.revoked.iter().map(|r| r.fingerprint.as_str()).collect()
}

/// Everything that must hold before a scope's current intermediate signs a leaf or enters a
/// bundle, checked against the root certificate only (no key): signed by the current root,
/// the intermediate profile (pathLen 0, not self-signed), the PKI's algorithm, a subject for
/// this PKI, environment and scope, and not revoked. Every problem, in order; renew stops at
/// the first, validate reports them all.
pub fn check_intermediate(pki: &Pki, name: &str, env: &str, scope: &str, cert: &Cert, root: &Cert) -> Vec<Error> {
    let location = format!("pkis.{name}.intermediates.{scope}");
    let mut out = Vec::new();
    if cert.verify_signed_by(root, &location).is_err() || cert.der() == root.der() {
        out.push(
            PkiError::NotSignedByRoot { location: location.clone(), pki: name.into(), scope: scope.into() }.into(),
        );
    }
    out.extend(check_profile(cert, CaTier::Intermediate, pki, &location));
    out.extend(check_slot(pki, name, env, scope, &location, cert, "current"));
    out
}

/// What every intermediate in a scope's slot must be, current or previous: a subject naming
/// this PKI, environment, scope and key, and not revoked (`how` says where it was found).
fn check_slot(
    pki: &Pki,
    name: &str,
    env: &str,
    scope: &str,
    location: &str,
    cert: &Cert,
    how: &'static str,
) -> Vec<Error> {
    let mut out = Vec::new();
    if !subject_matches(cert, name, env, scope) {
        out.push(
            PkiError::ScopeMismatch {
                location: location.to_string(),
                subject: cert.subject(),
                pki: name.into(),
                env: env.into(),
                scope: scope.into(),
            }
            .into(),
        );
    }
    if revoked(pki).contains(cert.fingerprint().as_str()) {
        out.push(
            PkiError::RevokedInUse { location: location.to_string(), how, pki: name.into(), scope: scope.into() }
                .into(),
        );
    }
    out
}

/// What a previous intermediate must be to stay in a scope's bundle: the intermediate profile
/// (a self-signed or pathLen-1 certificate never enters a bundle), a subject for this scope,
/// and not revoked. (Its signature may be from a root already finalized away, so it is not
/// required to verify against a root in the store; validate warns about that.)
pub fn check_bundle_member(pki: &Pki, name: &str, env: &str, scope: &str, location: &str, cert: &Cert) -> Vec<Error> {
    let mut out = check_profile(cert, CaTier::Intermediate, pki, location);
    if cert.verify_signed_by(cert, location).is_ok() {
        out.push(
            PkiError::Profile {
                location: location.to_string(),
                tier: "intermediate",
                problem: "it is self-signed (a root): roots never enter a scope bundle".into(),
            }
            .into(),
        );
    }
    out.extend(check_slot(pki, name, env, scope, location, cert, "listed as previous (it would be trusted)"));
    out
}

/// The first problem of a check, as a result.
pub fn first(problems: Vec<Error>) -> Result<(), Error> {
    match problems.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Fails unless the store's two custodians differ. Recipients are compared canonically
/// (bech32 is case-insensitive), so `AGE1…` cannot pass for a different key than `age1…`.
pub fn check_custodians(store: &Store) -> Result<(), Error> {
    if crate::crypto::custody::same_recipient(&store.root_recipient, &store.recipient) {
        return Err(PkiError::SameCustodian { recipient: store.recipient.clone() }.into());
    }
    if let Some(q) = &store.root_quorum {
        if q.shares.iter().any(|s| crate::crypto::custody::same_recipient(&s.custodian, &store.recipient)) {
            return Err(PkiError::SameCustodian { recipient: store.recipient.clone() }.into());
        }
    }
    Ok(())
}
