//! The mesh: which leaves exist, who trusts whom, and the regional boundary.
//!
//! - [`targets`] resolves inforge.yaml + regions.yaml into one [`LeafTarget`] per mesh service per
//!   scope, refusing anything `validate` would flag as an error for those services.
//! - [`scope_bundle`] assembles a scope's trust bundle: the intermediates (current and, during
//!   an overlap, previous) of the scopes it trusts. A region trusts {itself, global}; `global`
//!   trusts {every region, global}. No root, no revoked certificate, ever.
//! - [`authorize`] is the boundary rule services embed: given caller and callee SPIFFE IDs it
//!   says whether the call is allowed, or why not.
//! - [`open_issuers`] + [`mint`] are the minting core shared by `renew`, `rotate --leaf` and
//!   release-time mints.

mod bundles;
mod identity;
mod issue;
pub mod projection;
pub mod revocation;
pub mod spiffe;
mod targets;
pub mod units;

pub use bundles::{
    pem_bundle, root_bundle, root_spiffe, scope_bundle, scope_members, scope_spiffe, trusted_scopes, trusted_scopes_in,
};
pub use identity::{authorize, authorize_peer, peer_identity, Denied, SpiffeId, GLOBAL};
pub use issue::{check_issuer, issuer_with_key, mint, mint_with, open_issuers, Minted, ScopeIssuer};
pub use targets::{readiness, targets, Filter, Finding, LeafTarget};

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use time::OffsetDateTime;

    use super::*;
    use crate::model::config::Project;
    use crate::model::store::{Store, Topology};

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
        let mut store = Store::new(root_id.recipient().unwrap(), ci.recipient().unwrap());
        let mut fx = Effects { now, rng: &mut rng, sealer: &mut TestSealer };
        let alg = crate::crypto::keys::Algorithm::EcdsaP256;
        crate::pki::lifecycle::add_pki(&mut store, "prd", "mesh", Topology::TwoTier, alg, &mut fx).unwrap();
        for scope in ["global", "us-east-1"] {
            crate::pki::lifecycle::add_intermediate(&mut store, &project, "prd", "mesh", scope, &root_id, &mut fx)
                .unwrap();
        }
        let targets = targets(&project, &store, "prd", &Filter::default()).unwrap();
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
