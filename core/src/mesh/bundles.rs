//! Trust bundles: a scope trusts {itself, global} (a region) or {every region, global}
//! (`global`); `scope_bundle` holds their intermediates (current and, in an overlap, previous),
//! never a root or a revoked certificate; `root_bundle` for root-anchoring consumers.

use std::collections::BTreeSet;

use super::identity::*;
use crate::crypto::cert::Cert;
use crate::error::MeshError;
use crate::model::config::Project;
use crate::model::store::{Pki, Store, Topology};
use crate::pki::tiers::{self as tiers, get_pki};
use crate::Error;

/// The scopes whose intermediates a scope's bundle carries: a region trusts {itself, global};
/// `global` trusts {global, every region}.
///
/// The relation is symmetric, so this is also the set of scopes whose bundles carry `scope`:
/// recovery re-mints exactly these scopes' leaves so their hosts get new bundles at once.
pub fn trusted_scopes(project: &Project, scope: &str) -> Vec<String> {
    trusted_scopes_in(&project.regions, scope)
}

/// [`trusted_scopes`] over a list of regions (the change review knows only the store's scopes).
pub fn trusted_scopes_in(regions: &[String], scope: &str) -> Vec<String> {
    if scope == GLOBAL {
        std::iter::once(GLOBAL.to_string()).chain(regions.iter().cloned()).collect()
    } else {
        vec![scope.to_string(), GLOBAL.to_string()]
    }
}

pub(crate) fn revoked_set(pki: &Pki) -> BTreeSet<&str> {
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
    let mut out: Vec<Cert> = Vec::new();
    for s in trusted_scopes(project, scope) {
        for c in scope_members(store, env, name, &s)? {
            if !out.iter().any(|o| o.der() == c.der()) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// What one scope contributes to the bundles that trust it: its current intermediate (checked
/// against the root) and its previous ones that are not revoked (checked against their slot).
/// A bad member is an error, never silently dropped. Empty when the scope has none.
pub fn scope_members(store: &Store, env: &str, name: &str, scope: &str) -> Result<Vec<Cert>, Error> {
    let pki = get_pki(store, name)?;
    let root = Cert::from_pem(pki.root.cert.as_str(), &format!("pkis.{name}.root.cert"))?;
    let revoked = revoked_set(pki);
    let mut out: Vec<Cert> = Vec::new();
    if let Some(e) = pki.intermediates.get(scope) {
        let c = Cert::from_pem(e.cert.as_str(), &format!("pkis.{name}.intermediates.{scope}.cert"))?;
        tiers::first(tiers::check_intermediate(pki, name, env, scope, &c, &root))?;
        out.push(c);
    }
    for (i, b) in pki.previous_intermediates.get(scope).into_iter().flatten().enumerate() {
        let loc = format!("pkis.{name}.previousIntermediates.{scope}[{i}]");
        let c = Cert::from_pem(b.as_str(), &loc)?;
        if revoked.contains(c.fingerprint().as_str()) {
            continue;
        }
        tiers::first(tiers::check_bundle_member(pki, name, env, scope, &loc, &c))?;
        if !out.iter().any(|o| o.der() == c.der()) {
            out.push(c);
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

/// A scope's bundle (`certs`, from [`scope_bundle`]) as a SPIFFE bundle JWKS.
pub fn scope_spiffe(pki: &Pki, project: &Project, scope: &str, certs: &[Cert]) -> Result<String, Error> {
    let scopes = trusted_scopes(project, scope);
    super::spiffe::spiffe_bundle(certs, super::spiffe::sequence(pki, certs, Some(&scopes)))
}

/// The root bundle (`certs`, from [`root_bundle`]) as a SPIFFE bundle JWKS.
pub fn root_spiffe(pki: &Pki, certs: &[Cert]) -> Result<String, Error> {
    super::spiffe::spiffe_bundle(certs, super::spiffe::sequence(pki, certs, None))
}

/// Concatenated PEM.
pub fn pem_bundle(certs: &[Cert]) -> String {
    certs.iter().map(Cert::pem).collect()
}
