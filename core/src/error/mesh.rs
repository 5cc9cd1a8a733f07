//! The mesh area's failures (moved out of `mesh::mod` so the error module depends on no area).

use crate::error::remedy::{Coded, Op, Opt, Remedy, Step};
use crate::remedy;

/// A mesh refusal.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// A service's `pki:` names no PKI in the store.
    #[error("service {service:?}: `pki: {pki}` names no PKI in {store}")]
    PkiMissing {
        /// The service.
        service: String,
        /// Its pki.
        pki: String,
        /// The store path.
        store: String,
        /// The environment.
        env: String,
    },
    /// A service's `pki:` names a root-only PKI.
    #[error("service {service:?}: `pki: {pki}` is a root-only PKI; meshes need a two-tier PKI")]
    PkiRootOnly {
        /// The service.
        service: String,
        /// Its pki.
        pki: String,
    },
    /// A regional service resolves to no region.
    #[error("regional service {service:?} resolves to no region, so it would get no leaf")]
    NoRegions {
        /// The service.
        service: String,
    },
    /// A service lists a region twice.
    #[error("service {service:?} lists region {region:?} more than once")]
    RegionDuplicate {
        /// The service.
        service: String,
        /// The region.
        region: String,
    },
    /// Services join a mesh but the environment has no store.
    #[error("environment {env:?} has no PKI store, but services join a mesh: {services}")]
    NoStore {
        /// The environment.
        env: String,
        /// The services, comma separated.
        services: String,
        /// The meshes they join (their `pki:`), in config order.
        meshes: Vec<String>,
    },
    /// A service's `leafTtl` is not a duration from 1h to 90d.
    #[error("services.{service}.leafTtl {value:?} {problem}")]
    LeafTtl {
        /// The service.
        service: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A mesh service has no `scope:`.
    #[error("service {service:?} has `pki:` but no `scope:` (global or regional)")]
    ScopeMissing {
        /// The service.
        service: String,
    },
    /// A service's region is not in regions.yaml.
    #[error("service {service:?}: region {region:?} is not in regions.yaml")]
    RegionUnknown {
        /// The service.
        service: String,
        /// The region.
        region: String,
    },
    /// The mesh has no intermediate for a scope a service needs.
    #[error("service {service:?} needs an intermediate for scope {scope:?} in {pki:?}, which has none")]
    NoIntermediate {
        /// The service.
        service: String,
        /// The PKI.
        pki: String,
        /// The scope.
        scope: String,
    },
    /// `bundle --scope` on a root-only PKI or unknown scope.
    #[error("{pki:?} has no bundle for scope {scope:?}: {problem}")]
    NoBundle {
        /// The PKI.
        pki: String,
        /// The scope.
        scope: String,
        /// Why.
        problem: String,
    },
    /// The intermediate a leaf would be minted from is expired or not yet valid.
    #[error("the {scope:?} intermediate of {pki:?} is not valid at {now} (valid {not_before} to {not_after})")]
    IssuerNotValid {
        /// PKI.
        pki: String,
        /// Scope.
        scope: String,
        /// The time of the command.
        now: String,
        /// notBefore.
        not_before: String,
        /// notAfter.
        not_after: String,
    },
    /// A SPIFFE ID could not be parsed.
    #[error("{id:?} is not an inforge SPIFFE ID: spiffe://, the trust domain, then environment, scope and service")]
    BadSpiffeId {
        /// The rejected ID.
        id: String,
    },
}

impl Coded for MeshError {
    fn code(&self) -> &'static str {
        match self {
            MeshError::PkiMissing { .. } => "service-pki-missing",
            MeshError::PkiRootOnly { .. } => "service-pki-root-only",
            MeshError::NoRegions { .. } => "service-no-regions",
            MeshError::RegionDuplicate { .. } => "service-region-duplicate",
            MeshError::NoStore { .. } => "store-missing",
            MeshError::ScopeMissing { .. } => "service-scope-missing",
            MeshError::LeafTtl { .. } => "leaf-ttl-invalid",
            MeshError::RegionUnknown { .. } => "service-region-unknown",
            MeshError::NoIntermediate { .. } => "service-scope-no-intermediate",
            MeshError::NoBundle { .. } => "bundle-unavailable",
            MeshError::BadSpiffeId { .. } => "spiffe-id-invalid",
            MeshError::IssuerNotValid { .. } => "intermediate-not-valid",
        }
    }
    fn remedy(&self) -> Remedy {
        match self {
            MeshError::PkiMissing { env, pki, .. } => {
                remedy!["create it with `", Step::new(Op::AddTwoTier).env(env).pki(pki), "`, or fix the name"]
            }
            MeshError::PkiRootOnly { .. } => {
                "point the service at a two-tier mesh; root-only roots belong to online issuers".into()
            }
            MeshError::ScopeMissing { service } => {
                format!("add `scope: global` or `scope: regional` to services.{service}").into()
            }
            MeshError::LeafTtl { service, .. } => {
                format!("write services.{service}.leafTtl as a number and a unit from 1h to 90d, e.g. 24h or 30d")
                    .into()
            }
            MeshError::RegionUnknown { .. } => "add the region to regions.yaml, or remove it from the service".into(),
            MeshError::NoRegions { .. } => "add regions to regions.yaml (or to the service's `regions:`)".into(),
            MeshError::RegionDuplicate { service, .. } => {
                format!("list each region once in services.{service}.regions").into()
            }
            MeshError::NoStore { env, meshes, .. } => {
                let mut r = remedy!["run `", Step::new(Op::Init).env(env), "`"];
                for m in meshes {
                    r.0.extend(remedy![", then `", Step::new(Op::AddTwoTier).env(env).pki(m), "`"].0);
                }
                r.0.push(" and its intermediates".into());
                r
            }
            MeshError::NoIntermediate { pki, scope, .. } => {
                remedy!["mint it offline: ", Step::new(Op::Intermediate).pki(pki).scope(scope)]
            }
            MeshError::NoBundle { .. } => {
                remedy!["use ", Opt::Scope, " with a scope that has an intermediate, or ", Opt::Roots]
            }
            MeshError::BadSpiffeId { .. } => "pass the URI SAN of a leaf minted by inforge".into(),
            MeshError::IssuerNotValid { pki, scope, .. } => remedy![
                "roll it from the cold root: ",
                Step::new(Op::RotateIntermediate).pki(pki).scope(scope),
                " (check ",
                Opt::Now,
                " and the clock too)"
            ],
        }
    }
}
