//! Rotations and recovery: `rotate_intermediate`, `rotate_root`, `switch_root`, the finalize gate (`check_finalize`, `fleet_targets`, `check_fleet`), `finalize_root`, `recover_intermediate`, and `plan` (`--plan` for each).

use std::collections::BTreeMap;

use rand_core::CryptoRngCore;
use serde::Serialize;
use time::OffsetDateTime;

use super::*;
use crate::crypto::cert::Cert;
use crate::crypto::custody::Custodian;
use crate::crypto::effects::Effects;
use crate::mesh::{self};
use crate::model::store::{Revoked, Topology};
use crate::pki::tiers::{self};
use crate::Error;

/// `rotate --intermediate`: a planned roll of one scope (offline identity).
pub fn rotate_intermediate(
    env: &Env,
    name: &str,
    scope: &str,
    keyring: &mut dyn Keyring,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<Changed<IntermediateMinted>, Error> {
    let mut store = env.store_mut()?;
    crate::pki::rotate::check_intermediate_rotation(&store, &env.project, name, scope)?;
    before_sealing(env, &store, fx.now)?;
    let root_id = unlock(keyring, Custodian::OfflineRoot, &store)?;
    crate::pki::rotate::rotate_intermediate(&mut store, &env.project, &env.name, name, scope, &root_id, fx)?;
    crate::pki::root_crl::resign_root_crls(&mut store, name, &root_id, fx.now)?;
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
    let operator = unlock(keyring, Custodian::OfflineRoot, &store)?;
    crate::pki::rotate::rotate_root(&mut store, &env.name, name, &operator, min_overlap_days, fx)?;
    crate::pki::root_crl::resign_root_crls(&mut store, name, &operator, fx.now)?;
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
    let operator = unlock(keyring, Custodian::OfflineRoot, &store)?;
    let done = crate::pki::rotate::finalize_root(&mut store, name, &operator, force, now)?;
    if let Some(p) = store.pkis.get_mut(name) {
        crate::pki::root_crl::prune_root_crls(p);
    }
    store.version = store.required_version();
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
    let root_id = unlock(keyring, Custodian::OfflineRoot, &store)?;
    let (revoked, fresh) =
        crate::pki::rotate::recover_intermediate(&mut store, &env.project, &env.name, name, scope, &root_id, fx)?;
    crate::pki::root_crl::resign_root_crls(&mut store, name, &root_id, fx.now)?;
    let issuer = mesh::issuer_with_key(&store, &env.project, &env.name, name, scope, fresh, fx.now)?;
    let remint = RenewRequest { service: None, pki: Some(name.into()), scopes: Some(vec![scope.to_string()]) };
    let targets = mesh::targets(&env.project, &store, &env.name, &filter(&remint))?;
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

/// What `pki root-crl` signed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RootCrlsSigned {
    /// PKI.
    pub pki: String,
    /// CRLs signed (the current root's, and each previous root's during an overlap).
    pub crls: usize,
    /// Revoked intermediates they list.
    pub revoked: usize,
    /// Their nextUpdate (RFC 3339): sign again before it.
    pub next_update: String,
}

/// `pki root-crl`: re-signs the CRLs of a two-tier PKI's roots (offline identity), with no
/// other change: before their nextUpdate, or to list intermediates revoked before inforge
/// signed root CRLs.
pub fn root_crl(
    env: &Env,
    name: &str,
    keyring: &mut dyn Keyring,
    now: OffsetDateTime,
) -> Result<Changed<RootCrlsSigned>, Error> {
    let mut store = env.store_mut()?;
    crate::model::time::check_now("the time", now)?;
    if tiers::get_pki(&store, name)?.topology == Topology::RootOnly {
        return Err(crate::error::PkiError::RootOnly { name: name.into() }.into());
    }
    tiers::check_custodians(&store)?;
    let root_id = unlock(keyring, Custodian::OfflineRoot, &store)?;
    crate::pki::root_crl::resign_root_crls(&mut store, name, &root_id, now)?;
    let p = tiers::get_pki(&store, name)?;
    let next = p
        .root_crls
        .iter()
        .filter_map(|b| crate::crypto::crl::parse_crls(b.as_str(), "rootCrls").ok())
        .flatten()
        .filter_map(|c| c.next_update())
        .min();
    let report = RootCrlsSigned {
        pki: name.into(),
        crls: p.root_crls.len(),
        revoked: p.revoked.iter().filter(|r| r.serial.is_some()).count(),
        next_update: next.map(crate::model::time::format_rfc3339).unwrap_or_default(),
    };
    Ok(Changed { store, report })
}
