//! The store inspector's decisions (the browser page and the npm package, SPEC §9): a store
//! as a tree of certificates with their details, the regional trust matrix, checking a pasted
//! leaf chain against a scope's bundle, validation without `inforge.yaml`, and the diff of two
//! store versions (what a pull request changes). Credential-free: certificates only; every
//! trust decision is the one `renew` and `bundle` make ([`mesh::scope_bundle`],
//! [`mesh::authorize`], [`mesh::peer_identity`]), never a re-implementation.

mod diff;
mod env;
mod leaf;
mod matrix;
mod view;

pub use diff::*;
pub use env::*;
pub use leaf::*;
pub use matrix::*;
pub use view::*;

#[cfg(test)]
mod tests {

    use time::OffsetDateTime;

    use super::*;
    use crate::crypto::custody::tests::{identity, TestSealer};
    use crate::crypto::custody::{Custodian, Identity};
    use crate::crypto::effects::Effects;
    use crate::mesh;
    use crate::model::config::Project;
    use crate::model::store::{Store, Topology};
    use crate::Coded;
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
        let mut store = Store::new(root_id.recipient().unwrap(), ci.recipient().unwrap());
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
    fn history_classifies_each_version_and_reads_past_an_unreadable_one() {
        use crate::views::history::{history, Revision};
        let (store, ..) = fixture();
        let empty = Store::new(store.root_recipient.clone(), store.recipient.clone());
        let (t0, t1, bad) = (empty.to_yaml(), store.to_yaml(), "pkis: [".to_string());
        let rewritten = format!("{t1}\n");
        let rev = |b: Option<&String>, a: Option<&String>| Revision {
            commit: Some("c0ffee".into()),
            author: "Ada".into(),
            time: 1_790_000_000,
            before: b.cloned(),
            after: a.cloned(),
            ..Revision::default()
        };
        let revs = [
            rev(None, Some(&t0)),
            rev(Some(&t0), Some(&bad)),
            rev(Some(&bad), Some(&t1)),
            rev(Some(&t1), Some(&rewritten)),
            rev(Some(&rewritten), None),
        ];
        let h = history("prd", &revs);
        let kinds: Vec<String> = h.events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(
            kinds,
            [
                "store-created",
                "store-unreadable",
                "pki-added",
                "pki-added",
                "intermediate-minted",
                "intermediate-minted",
                "intermediate-minted",
                "store-rewritten",
                "store-deleted"
            ]
        );
        assert!(h.events[1].subject.starts_with("store-"), "{}", h.events[1].subject);
        assert_eq!(h.events[0].date.as_deref(), Some("2026-09-21T14:13:20Z"));
        assert!(h.events.iter().all(|e| e.author == "Ada" && e.commit.as_deref() == Some("c0ffee")));
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
        // One misplaced intermediate marks the cells of the bundles that would carry it, and
        // only those: eu-west-1's row stays decided.
        let mut bad = store.clone();
        let mesh_pki = bad.pkis.get_mut("mesh").unwrap();
        mesh_pki.intermediates.get_mut("us-east-1").unwrap().cert = mesh_pki.intermediates["eu-west-1"].cert.clone();
        let m3 = trust_matrix(&bad, &project, "prd");
        let cell = |r: &str, c: &str| {
            m3.pkis[0].rows.iter().find(|x| x.scope == r).unwrap().cells.iter().find(|x| x.scope == c).unwrap().clone()
        };
        for r in ["global", "us-east-1"] {
            assert!(cell(r, "us-east-1").error.is_some(), "{r}: the bad slot is marked");
            assert!(cell(r, "global").trusted && cell(r, "global").error.is_none(), "{r}: the rest is decided");
        }
        assert!(cell("eu-west-1", "eu-west-1").trusted && cell("eu-west-1", "global").trusted);
        assert!(m3.pkis[0].rows.iter().all(|r| r.error.is_none()));
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
        let key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
        let e = check_leaf(&store, &project, "prd", key, None, now()).unwrap_err();
        assert_eq!(e.code(), "chain-is-a-key");
        assert!(!e.to_string().contains("MC4C") && !e.remedy().render(&crate::error::Plain).contains("restore"));
        // The checked leaf is a leaf; an unknown scope is an input error, not a failed check.
        assert_eq!(ok.leaf.role, Role::Leaf);
        let unknown = check_leaf(&store, &project, "prd", &leaf.cert_pem, Some("mars-1"), now()).unwrap_err();
        assert_eq!(unknown.code(), "scope-unknown");
        // The paste box: any PEM, outside the store, each certificate named for what it is.
        let pasted = format!("{}{}", leaf.cert_pem, store.pkis["mesh"].root.cert.as_str());
        let views = inspect_pem(&pasted, now()).unwrap();
        let roles: Vec<Role> = views.iter().map(|v| v.role).collect();
        assert_eq!(roles, [Role::Leaf, Role::Intermediate, Role::Root]);
        assert_eq!(views[0].uri_sans, ok.leaf.uri_sans);
        assert_eq!(views[0].fingerprint, ok.leaf.fingerprint);
        assert_eq!(views[2].subject, views[2].issuer);
        let e = inspect_pem(key, now()).unwrap_err();
        assert_eq!(e.code(), "chain-is-a-key");
        assert!(!e.to_string().contains("MC4C"));
        assert_eq!(inspect_pem("", now()).unwrap_err().code(), "cert-invalid");
        assert_eq!(inspect_pem("garbage", now()).unwrap_err().code(), "cert-invalid");
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
        // Each intermediate is re-signed by the new root with its key kept: not a roll.
        let resigned = d.changes.iter().filter(|c| c.kind == ChangeKind::IntermediateResigned).count();
        assert_eq!(resigned, overlap.pkis["mesh"].intermediates.len(), "{:?}", d.changes);
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

    /// The peer-check corpus (tests/corpus/peers), the same cases the Python and WASM
    /// frontends run.
    #[test]
    fn authorize_chain_answers_the_peer_corpus() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../../../tests/corpus/peers/cases.json")).unwrap();
        let file = |name: &str| -> String {
            match name {
                "web-us-east-1.pem" => include_str!("../../../../tests/corpus/peers/web-us-east-1.pem"),
                "web-eu-west-1.pem" => include_str!("../../../../tests/corpus/peers/web-eu-west-1.pem"),
                "api-global.pem" => include_str!("../../../../tests/corpus/peers/api-global.pem"),
                "forged-global-by-us-east-1.pem" => {
                    include_str!("../../../../tests/corpus/peers/forged-global-by-us-east-1.pem")
                }
                other => panic!("no fixture {other}"),
            }
            .to_string()
        };
        for c in &cases {
            let spec = c["chain"].as_str().unwrap();
            let chain = match spec.strip_prefix("LEAF_ONLY:") {
                Some(f) => {
                    let text = file(f);
                    let end = text.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----\n".len();
                    text[..end].to_string()
                }
                None => file(spec),
            };
            let got = authorize_chain(&chain, c["callee"].as_str().unwrap());
            match c.get("error") {
                Some(code) => assert_eq!(got.unwrap_err().code(), code.as_str().unwrap(), "{}", c["name"]),
                None => {
                    let a = got.unwrap();
                    assert_eq!(a.allowed, c["allowed"].as_bool().unwrap(), "{}: {}", c["name"], a.reason);
                    assert_eq!(a.caller.as_deref(), c["caller"].as_str(), "{}", c["name"]);
                }
            }
        }
        // On IDs alone, the forgery's claim would pass: only the chain tells.
        assert!(
            authorize_ids("spiffe://wardnet.example/prd/global/api-twin", "spiffe://wardnet.example/prd/global/api")
                .unwrap()
                .allowed
        );
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
