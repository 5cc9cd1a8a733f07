//! Rotation and compromise recovery, per tier (seed 000/001 semantics):
//!
//! - leaves: re-minting is rotation (see [`crate::mesh`]);
//! - intermediates, planned: [`rotate_intermediate`] mints a fresh key from the cold root and
//!   keeps the old certificate in `previousIntermediates` so bundles trust both until every
//!   leaf is re-minted;
//! - intermediates, compromised: [`recover_intermediate`] mints a fresh key with no overlap and
//!   records every certificate of the compromised key as revoked, so none enters a bundle again;
//! - roots: [`rotate_root`] starts a dual-root overlap (new root; every intermediate re-signed
//!   keeping its key), [`finalize_root`] ends it once it is old enough.

use rand_core::CryptoRngCore;
use time::OffsetDateTime;

use crate::crypto::cert::Cert;
use crate::crypto::custody::Identity;
use crate::crypto::effects::Effects;
use crate::crypto::keys::PrivateKey;
use crate::crypto::profile::{self, CaTier};
use crate::error::RotateError;
use crate::model::config::Project;
pub use crate::model::limits::DEFAULT_MIN_OVERLAP_DAYS;
use crate::model::store::{Block, Entry, Revoked, Store, Topology};
use crate::pki::lifecycle::fresh_intermediate;
use crate::pki::tiers::{check_overlap_days, check_scope, finalize_allowed_at, get_pki, open_root, seal_key};
use crate::Error;

fn two_tier_scope(store: &Store, project: &Project, name: &str, scope: &str) -> Result<(), Error> {
    let pki = get_pki(store, name)?;
    if pki.topology == Topology::RootOnly {
        return Err(crate::error::PkiError::RootOnly { name: name.into() }.into());
    }
    check_scope(project, scope)?;
    if !pki.intermediates.contains_key(scope) {
        return Err(RotateError::NothingToRotate { pki: name.into(), scope: scope.into() }.into());
    }
    Ok(())
}

/// Checks `rotate --intermediate` / `recover-intermediate` arguments before any identity.
pub fn check_intermediate_rotation(store: &Store, project: &Project, name: &str, scope: &str) -> Result<(), Error> {
    two_tier_scope(store, project, name, scope)
}

/// `rotate --intermediate <scope>`: a planned roll. Fresh key signed by the cold root; the old
/// certificate joins `previousIntermediates[scope]` (expired ones are dropped), so the scope's
/// bundles carry old and new until every leaf is re-minted. Other scopes are untouched.
pub fn rotate_intermediate(
    store: &mut Store,
    project: &Project,
    env: &str,
    name: &str,
    scope: &str,
    root_identity: &Identity,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<(), Error> {
    two_tier_scope(store, project, name, scope)?;
    let (root_cert, root_key) = open_root(store, name, root_identity)?;
    let (entry, _) = fresh_intermediate(store, env, name, scope, (&root_cert, &root_key), fx)?;
    let pki = store
        .pkis
        .get_mut(name)
        .ok_or_else(|| crate::error::PkiError::UnknownPki { name: name.into(), known: String::new() })?;
    let old = pki.intermediates.insert(scope.to_string(), entry);
    let prev = pki.previous_intermediates.entry(scope.to_string()).or_default();
    prev.retain(|b| Cert::from_pem(b.as_str(), "previous").map(|c| c.not_after() >= fx.now).unwrap_or(false));
    if let Some(old) = old {
        prev.push(old.cert);
    }
    Ok(())
}

/// `recover-intermediate <scope>`: compromise recovery. A fresh key with no overlap; every
/// certificate of the compromised key (current, and previous ones such as root-rotation
/// re-signs) is recorded as revoked and dropped, and no previous intermediate of the scope
/// stays in its bundles — except, during a root overlap, the fresh key's own twins signed by
/// the previous roots (so old-root-anchored consumers keep verifying the scope). Returns the revocation records and the fresh key (still in memory,
/// so the offline workstation can re-mint the scope's leaves without the CI identity).
pub fn recover_intermediate(
    store: &mut Store,
    project: &Project,
    env: &str,
    name: &str,
    scope: &str,
    root_identity: &Identity,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<(Vec<Revoked>, PrivateKey), Error> {
    two_tier_scope(store, project, name, scope)?;
    let (root_cert, root_key) = open_root(store, name, root_identity)?;
    let pki = get_pki(store, name)?;
    let current =
        Cert::from_pem(pki.intermediates[scope].cert.as_str(), &format!("pkis.{name}.intermediates.{scope}.cert"))?;
    let compromised_key = current.public_key_bytes().to_vec();
    let mut revoked = vec![current];
    for (i, b) in pki.previous_intermediates.get(scope).into_iter().flatten().enumerate() {
        let c = Cert::from_pem(b.as_str(), &format!("pkis.{name}.previousIntermediates.{scope}[{i}]"))?;
        if c.public_key_bytes() == compromised_key.as_slice() {
            revoked.push(c);
        }
    }
    let (entry, fresh_key) = fresh_intermediate(store, env, name, scope, (&root_cert, &root_key), fx)?;
    // During a two-tier root overlap, consumers still anchored on the previous root must keep
    // verifying the recovered scope: the fresh key gets a twin from each previous root still
    // valid, as a root rotation gives every other scope (the overlap's chain puts it first).
    // Without it the scope's chain carried only the new root's path until the overlap ended,
    // and `pki status` called its sets stale in every phase.
    let mut twins = Vec::new();
    let pki = get_pki(store, name)?;
    if pki.topology == Topology::TwoTier {
        let fresh_cert = Cert::from_pem(entry.cert.as_str(), &format!("pkis.{name}.intermediates.{scope}.cert"))?;
        for (i, prev) in pki.previous_roots.iter().enumerate() {
            let loc = format!("pkis.{name}.previousRoots[{i}]");
            let prev_cert = Cert::from_pem(prev.cert.as_str(), &format!("{loc}.cert"))?;
            if prev_cert.not_after() <= fx.now {
                continue;
            }
            let prev_key = root_identity.open_key(prev.key.as_str(), &prev_cert, &format!("{loc}.key"))?;
            let twin = profile::issue_intermediate_until(
                name,
                env,
                scope,
                &fresh_key.public(),
                (&prev_cert, &prev_key),
                fx.now,
                Some(fresh_cert.not_after()),
                &mut *fx.rng,
            )?;
            twins.push(Block::new(twin.pem()));
        }
    }
    let at = crate::model::time::format_rfc3339(fx.now);
    let records: Vec<Revoked> = revoked
        .iter()
        .map(|c| Revoked {
            fingerprint: c.fingerprint(),
            scope: scope.to_string(),
            subject: c.subject(),
            revoked_at: at.clone(),
            serial: Some(c.serial_hex()),
        })
        .collect();
    let pki = store
        .pkis
        .get_mut(name)
        .ok_or_else(|| crate::error::PkiError::UnknownPki { name: name.into(), known: String::new() })?;
    pki.intermediates.insert(scope.to_string(), entry);
    pki.previous_intermediates.remove(scope);
    if !twins.is_empty() {
        pki.previous_intermediates.insert(scope.to_string(), twins);
    }
    for r in &records {
        if !pki.revoked.iter().any(|x| x.fingerprint == r.fingerprint) {
            pki.revoked.push(r.clone());
        }
    }
    Ok((records, fresh_key))
}

/// Checks `rotate --root` arguments before any identity.
pub fn check_root_rotation(store: &Store, name: &str) -> Result<(), Error> {
    let pki = get_pki(store, name)?;
    if !pki.previous_roots.is_empty() {
        return Err(RotateError::OverlapOpen {
            pki: name.into(),
            since: pki.root_overlap_started.clone().unwrap_or_else(|| "unknown".into()),
        }
        .into());
    }
    Ok(())
}

/// `rotate --root`: starts a dual-root overlap. A new root key (sealed like the old one:
/// offline recipient for two-tier, CI for root-only); every intermediate re-signed by the new
/// root keeping its key (its ciphertext is untouched) and its end of life, the old certificates kept in
/// `previousIntermediates`; the old root (cert and sealed key, unopened) moves to
/// `previousRoots`. The offline identity authorises the operation (checked against
/// `rootRecipient`); no existing key is decrypted.
pub fn rotate_root(
    store: &mut Store,
    env: &str,
    name: &str,
    operator: &Identity,
    min_overlap_days: Option<u32>,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<(), Error> {
    check_root_rotation(store, name)?;
    if let Some(days) = min_overlap_days {
        check_overlap_days("the minimum overlap (days)", days)?;
    }
    operator.expect_recipient(&store.root_recipient)?;
    let pki = get_pki(store, name)?;
    let (tier, recipient) = match pki.topology {
        Topology::TwoTier => (CaTier::TwoTierRoot, store.root_recipient.clone()),
        Topology::RootOnly => (CaTier::RootOnly, store.recipient.clone()),
    };
    let key = PrivateKey::generate(pki.algorithm, &mut *fx.rng);
    let root = profile::issue_root(name, env, tier, &key, fx.now, &mut *fx.rng)?;
    let mut resigned = Vec::new();
    for (scope, e) in &pki.intermediates {
        let loc = format!("pkis.{name}.intermediates.{scope}.cert");
        let old = Cert::from_pem(e.cert.as_str(), &loc)?;
        let public = old.public_key().ok_or_else(|| crate::error::CertError::Parse {
            location: loc.clone(),
            reason: "unsupported key algorithm".into(),
        })?;
        // The twin keeps the key's end of life (the old certificate's), not a fresh one.
        let until = Some(old.not_after());
        let new =
            profile::issue_intermediate_until(name, env, scope, &public, (&root, &key), fx.now, until, &mut *fx.rng)?;
        resigned.push((scope.clone(), Block::new(new.pem())));
    }
    let sealed = seal_key(fx.sealer, &recipient, &key, &format!("pkis.{name}.root.key"))?;
    let pki = store
        .pkis
        .get_mut(name)
        .ok_or_else(|| crate::error::PkiError::UnknownPki { name: name.into(), known: String::new() })?;
    for (scope, cert) in resigned {
        if let Some(e) = pki.intermediates.get_mut(&scope) {
            let old = std::mem::replace(&mut e.cert, cert);
            pki.previous_intermediates.entry(scope).or_default().push(old);
        }
    }
    let old_root = std::mem::replace(&mut pki.root, Entry { cert: Block::new(root.pem()), key: sealed });
    pki.previous_roots.push(old_root);
    pki.root_overlap_started = Some(crate::model::time::format_rfc3339(fx.now));
    pki.root_overlap_min_days = Some(min_overlap_days.unwrap_or(DEFAULT_MIN_OVERLAP_DAYS));
    Ok(())
}

/// What `--finalize` removed.
#[derive(Debug, Clone, Default)]
pub struct Finalized {
    /// Previous roots dropped.
    pub roots: usize,
    /// Re-signed previous intermediate certificates dropped.
    pub intermediates: usize,
}

/// Checks `rotate --root --switch` (no identity needed: it changes only the order of the
/// chains renew writes): a two-tier overlap is open, not yet switched, and the roots bundle
/// has been out for the overlap's minimum (unless `force`).
pub fn check_switch(store: &Store, name: &str, force: bool, now: OffsetDateTime) -> Result<(), Error> {
    let pki = get_pki(store, name)?;
    if pki.previous_roots.is_empty() {
        return Err(RotateError::NoOverlap { pki: name.into(), phase: "switch" }.into());
    }
    if pki.topology == Topology::RootOnly {
        return Err(RotateError::SwitchNotApplicable { pki: name.into() }.into());
    }
    if let Some(since) = &pki.root_switched_at {
        return Err(RotateError::AlreadySwitched { pki: name.into(), since: since.clone() }.into());
    }
    if let Some(allowed) = crate::pki::tiers::switch_allowed_at_pki(pki, name)? {
        if now < allowed && !force {
            return Err(RotateError::SwitchTooEarly {
                pki: name.into(),
                since: pki.root_overlap_started.clone().unwrap_or_default(),
                min_days: crate::pki::tiers::overlap_min_days(pki, name)?,
                allowed_at: crate::model::time::format_rfc3339(allowed),
            }
            .into());
        }
    }
    Ok(())
}

/// `rotate --root --switch`: from now on renew writes chains with the new root's path first.
pub fn switch_root(store: &mut Store, name: &str, force: bool, now: OffsetDateTime) -> Result<(), Error> {
    check_switch(store, name, force, now)?;
    let pki = store
        .pkis
        .get_mut(name)
        .ok_or_else(|| crate::error::PkiError::UnknownPki { name: name.into(), known: String::new() })?;
    pki.root_switched_at = Some(crate::model::time::format_rfc3339(now));
    Ok(())
}

/// Checks `rotate --root --finalize` before any identity: an overlap is open; a two-tier PKI
/// has switched, long enough ago for hosts to re-project; a root-only PKI's overlap has run its
/// minimum. `force` overrides the phase and the ages (the CLI says what it risks).
pub fn check_finalize(store: &Store, name: &str, force: bool, now: OffsetDateTime) -> Result<(), Error> {
    let pki = get_pki(store, name)?;
    if pki.previous_roots.is_empty() {
        return Err(RotateError::NoOverlap { pki: name.into(), phase: "finalize" }.into());
    }
    if force {
        return Ok(());
    }
    if pki.topology == Topology::TwoTier && pki.root_switched_at.is_none() {
        return Err(RotateError::NotSwitched { pki: name.into() }.into());
    }
    if let Some(allowed) = finalize_allowed_at(store, name)? {
        if now < allowed {
            return Err(match &pki.root_switched_at {
                Some(since) => RotateError::SwitchTooYoung {
                    pki: name.into(),
                    since: since.clone(),
                    min_days: crate::model::limits::DEFAULT_MIN_SWITCH_DAYS,
                    allowed_at: crate::model::time::format_rfc3339(allowed),
                },
                None => RotateError::OverlapTooYoung {
                    pki: name.into(),
                    since: pki.root_overlap_started.clone().unwrap_or_default(),
                    min_days: crate::pki::tiers::overlap_min_days(pki, name)?,
                    allowed_at: crate::model::time::format_rfc3339(allowed),
                },
            }
            .into());
        }
    }
    Ok(())
}

/// `rotate --root --finalize`: ends the overlap. Refuses while it is younger than its minimum
/// unless `force`. Drops the previous roots and the previous intermediate certificates that
/// merely re-signed a current key (those from planned intermediate rolls stay until expiry).
pub fn finalize_root(
    store: &mut Store,
    name: &str,
    operator: &Identity,
    force: bool,
    now: OffsetDateTime,
) -> Result<Finalized, Error> {
    check_finalize(store, name, force, now)?;
    let pki = get_pki(store, name)?;
    operator.expect_recipient(&store.root_recipient)?;
    let mut current_keys = std::collections::BTreeMap::new();
    for (scope, e) in &pki.intermediates {
        let c = Cert::from_pem(e.cert.as_str(), &format!("pkis.{name}.intermediates.{scope}.cert"))?;
        current_keys.insert(scope.clone(), c.public_key_bytes().to_vec());
    }
    let pki = store
        .pkis
        .get_mut(name)
        .ok_or_else(|| crate::error::PkiError::UnknownPki { name: name.into(), known: String::new() })?;
    let mut out = Finalized { roots: pki.previous_roots.len(), intermediates: 0 };
    pki.previous_roots.clear();
    pki.root_finalized_at = Some(crate::model::time::format_rfc3339(now));
    // (`version` follows in `ops::finalize_root`, once the PKI borrow ends.)
    pki.root_overlap_started = None;
    pki.root_overlap_min_days = None;
    pki.root_switched_at = None;
    for (scope, certs) in pki.previous_intermediates.iter_mut() {
        let before = certs.len();
        certs.retain(|b| match (Cert::from_pem(b.as_str(), "previous"), current_keys.get(scope)) {
            (Ok(c), Some(k)) => c.public_key_bytes() != k.as_slice(),
            _ => true,
        });
        out.intermediates += before - certs.len();
    }
    pki.previous_intermediates.retain(|_, v| !v.is_empty());
    Ok(out)
}
