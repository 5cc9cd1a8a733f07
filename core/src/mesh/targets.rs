//! Which leaves exist: `readiness` (the mesh-readiness rules: `targets` refuses the first,
//! validate reports all, same codes) and `targets` (one `LeafTarget` per mesh service per scope).

use serde::Serialize;

use super::identity::*;
use crate::error::{ConfigError, MeshError};
use crate::model::config::{Project, ScopeKind};
use crate::model::store::{store_path, Store, Topology};
use crate::pki::tiers::get_pki;
use crate::Error;

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
    /// The service's `leafTtl` (`None`: the profile's 90 days).
    #[serde(skip)]
    pub ttl: Option<time::Duration>,
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

/// A PKI's default leaf lifetime (`pki add --leaf-ttl`), if it has one.
pub fn pki_leaf_ttl(store: &Store, pki: &str) -> Option<time::Duration> {
    let v = store.pkis.get(pki)?.leaf_ttl.as_deref()?;
    crate::model::config::parse_leaf_ttl(v).ok()
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
        if let Err(e) = svc.leaf_ttl(name) {
            found(e);
        }
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
pub fn targets(project: &Project, store: &Store, env: &str, filter: &Filter<'_>) -> Result<Vec<LeafTarget>, Error> {
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
                // Checked by readiness above; else the PKI's default (checked when parsed).
                ttl: svc.leaf_ttl(name).ok().flatten().or_else(|| pki_leaf_ttl(store, pki_name)),
            });
        }
    }
    Ok(out)
}
