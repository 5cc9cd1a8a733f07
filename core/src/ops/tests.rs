//! In-process tests of the operations layer, through the same calls the frontends make, with
//! a seeded RNG and fixed times (the test kit below). The scenarios in `tests/scenarios/` run
//! the same flows through the binary and check them with openssl, age and rustls; these run in
//! milliseconds and reach the decisions directly.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::crypto::cert::Cert;
use crate::crypto::custody::tests::TestSealer;
use crate::crypto::custody::{Custodian, Identity};
use crate::crypto::effects::Effects;
use crate::crypto::keys::Algorithm;
use crate::mesh::projection::SetTexts;
use crate::mesh::LeafTarget;
use crate::model::store::Topology;
use crate::pki::tiers::RootPhase;
use crate::views::plan::Planned;
use crate::views::status::Fetched;
use crate::Coded;

const CONFIG: &str = include_str!("../../../examples/infra/inforge.yaml");
const REGIONS: &str = include_str!("../../../examples/infra/regions.yaml");
const MESH: &str = "wardnet-mesh";

/// The test kit: the example repo's config, one environment, both custodians' identities
/// (held as text so the keyring can hand out a fresh `Identity` each time), a seeded RNG and
/// a clock the test moves.
struct Kit {
    env: Env,
    ci: String,
    root: String,
    rng: ChaCha20Rng,
    sealer: TestSealer,
    now: OffsetDateTime,
}

/// Minted leaves as the provider would hand them back: one held set per target.
fn held(minted: &[crate::mesh::Minted]) -> Vec<(LeafTarget, Fetched)> {
    minted
        .iter()
        .map(|m| {
            let set = SetTexts {
                cert: m.cert_pem.clone(),
                key: m.key_pem.clone(),
                bundle: m.bundle_pem.to_string(),
                spiffe: m.spiffe_json.to_string(),
                crl: m.crl_pem.to_string(),
            };
            (m.target.clone(), Fetched::Held(set))
        })
        .collect()
}

/// The effects an operation that creates keys takes, from the kit's fields (so the kit's
/// environment and identities stay borrowable beside them).
macro_rules! fx {
    ($kit:expr) => {
        &mut Effects { now: $kit.now, rng: &mut $kit.rng, sealer: &mut $kit.sealer }
    };
}

/// Both identities (an operator workstation that also holds CI's, as in the tests' repos).
macro_rules! both {
    ($kit:expr) => {
        &mut Ring { ci: Some(&$kit.ci), root: Some(&$kit.root) }
    };
}

/// The keyring a frontend would build: both identities, or only the one a posture has.
struct Ring<'a> {
    ci: Option<&'a str>,
    root: Option<&'a str>,
}

impl Keyring for Ring<'_> {
    fn identities(&mut self, c: Custodian) -> Result<Vec<Identity>, Error> {
        let text = match c {
            Custodian::Ci => self.ci,
            Custodian::OfflineRoot => self.root,
        };
        Ok(vec![Identity::parse(c, "test keyring", text)?])
    }
}

/// An offline-only keyring that owns its identity text.
struct OwnedRing(String);

impl Keyring for OwnedRing {
    fn identities(&mut self, c: Custodian) -> Result<Vec<Identity>, Error> {
        let text = (c == Custodian::OfflineRoot).then_some(self.0.as_str());
        Ok(vec![Identity::parse(c, "test keyring", text)?])
    }
}

impl Kit {
    /// A store with the two-tier mesh and an intermediate for `global` and each region.
    fn mesh() -> Kit {
        let files = RepoFiles { inforge_yaml: CONFIG, regions_yaml: Some(REGIONS), store: None, secret_store: None };
        let env = Env::load(&files, "prd").unwrap();
        let ci = crate::crypto::custody::tests::identity(Custodian::Ci).reveal().to_string();
        let root = crate::crypto::custody::tests::identity(Custodian::OfflineRoot);
        let mut kit = Kit {
            env,
            ci,
            root: root.reveal().to_string(),
            rng: ChaCha20Rng::seed_from_u64(7),
            sealer: TestSealer,
            now: OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap(),
        };
        let ci = kit.ci.clone();
        let init = init(&kit.env, None, &mut Ring { ci: Some(&ci), root: None }, RootCustody::Single(&root), fx!(kit))
            .unwrap();
        kit.env.store = Some(init.store);
        let added = add(&kit.env, MESH, Topology::TwoTier, Algorithm::EcdsaP256, None, fx!(kit)).unwrap();
        kit.env.store = Some(added.store);
        for scope in ["global", "us-east-1", "eu-west-1"] {
            let minted = intermediate(&kit.env, MESH, scope, both!(kit), fx!(kit)).unwrap();
            kit.env.store = Some(minted.store);
        }
        kit
    }

    fn offline(&self) -> Ring<'_> {
        Ring { ci: None, root: Some(&self.root) }
    }

    /// The offline identity alone, owned (beside a mutable borrow of the kit's RNG).
    fn offline_owned(&self) -> OwnedRing {
        OwnedRing(self.root.clone())
    }

    fn ci_only(&self) -> Ring<'_> {
        Ring { ci: Some(&self.ci), root: None }
    }

    /// Every set a renew would write now, as the provider would hand them back.
    fn renewed(&mut self) -> Vec<(LeafTarget, Fetched)> {
        let plan =
            renew(&self.env, &RenewRequest::default(), &mut Ring { ci: Some(&self.ci), root: None }, self.now).unwrap();
        held(&plan.mint_all(&mut self.rng).unwrap())
    }

    fn later(&mut self, days: i64) {
        self.now += Duration::days(days);
    }
}

#[test]
fn renew_mints_one_verified_leaf_per_service_and_scope_and_asks_only_ci() {
    let mut kit = Kit::mesh();
    // The offline identity alone cannot renew: renew asks for the CI identity only.
    let refused = renew(&kit.env, &RenewRequest::default(), &mut kit.offline(), kit.now).unwrap_err();
    assert_eq!(refused.code(), "identity-missing");
    let sets = kit.renewed();
    let names: Vec<String> = sets.iter().map(|(t, _)| format!("{}/{}", t.service, t.scope)).collect();
    assert_eq!(names, ["api/global", "billing/global", "web/us-east-1", "web/eu-west-1", "worker/us-east-1"]);
    let report = status(&kit.env, &sets, kit.now, Duration::days(30)).unwrap();
    assert!(report.ok, "{:?}", report.sets.iter().map(|s| &s.problems).collect::<Vec<_>>());
    assert!(report.sets.iter().all(|s| s.chain_phase == Some(RootPhase::Stable) && s.days_left == Some(90)));
    // Within a 91-day horizon every leaf is expiring.
    let tight = status(&kit.env, &sets, kit.now, Duration::days(91)).unwrap();
    assert_eq!(tight.problem_sets, 5);
    assert!(tight.sets.iter().all(|s| s.problems.iter().any(|p| p.code == "leaf-expiring")));
}

#[test]
fn status_reports_missing_and_unreadable_sets_and_keeps_judging_the_rest() {
    let mut kit = Kit::mesh();
    let mut sets = kit.renewed();
    sets[0].1 = Fetched::Missing;
    sets[1].1 = Fetched::Unreadable("file-not-utf8: bundle.pem is not UTF-8".into());
    let report = status(&kit.env, &sets, kit.now, Duration::ZERO).unwrap();
    assert_eq!(report.problem_sets, 2);
    assert_eq!(report.sets[0].problems[0].code, "set-missing");
    assert_eq!(report.sets[1].problems[0].code, "set-unreadable");
    assert!(report.sets[1].present);
    assert!(report.sets[2..].iter().all(|s| s.problems.is_empty()));
}

#[test]
fn an_intermediate_roll_keeps_the_old_one_in_its_scope_bundle() {
    let mut kit = Kit::mesh();
    let before =
        crate::mesh::scope_bundle(kit.env.store().unwrap(), &kit.env.project, "prd", MESH, "us-east-1").unwrap().len();
    let rolled = rotate_intermediate(&kit.env, MESH, "us-east-1", both!(kit), fx!(kit)).unwrap();
    kit.env.store = Some(rolled.store);
    let after =
        crate::mesh::scope_bundle(kit.env.store().unwrap(), &kit.env.project, "prd", MESH, "us-east-1").unwrap();
    assert_eq!(after.len(), before + 1, "the previous us-east-1 intermediate stays trusted until it expires");
    // Leaves minted after the roll come from the new intermediate and verify.
    let sets = kit.renewed();
    assert!(status(&kit.env, &sets, kit.now, Duration::ZERO).unwrap().ok);
}

#[test]
fn a_root_rotation_goes_through_its_three_phases_and_the_fleet_gate() {
    let mut kit = Kit::mesh();
    let before_rotation = kit.renewed();
    let rotated = rotate_root(&kit.env, MESH, None, &mut Ring { ci: None, root: Some(&kit.root) }, fx!(kit)).unwrap();
    kit.env.store = Some(rotated.store);
    // The switch waits for the overlap's minimum (30 days by default).
    let early = switch_root(&kit.env, MESH, false, kit.now).unwrap_err();
    assert_eq!(early.code(), "switch-too-early");
    let plan = plan(&kit.env, MESH, &Planned::Finalize { force: false }, kit.now, &crate::error::Plain).unwrap();
    assert!(plan.refused.is_some(), "finalize is refused before the switch");
    kit.later(31);
    let switched = switch_root(&kit.env, MESH, false, kit.now).unwrap();
    kit.env.store = Some(switched.store);
    kit.later(8);
    check_finalize(&kit.env, MESH, false, kit.now).unwrap();
    // The fleet gate: sets written before the switch are refused, and so is a provider that
    // cannot be read at all; a missing or unreadable set is never taken as switched.
    let targets = fleet_targets(&kit.env, MESH, false).unwrap().unwrap();
    assert_eq!(targets.len(), 5);
    let stale = check_fleet(&kit.env, MESH, Ok(&before_rotation), kit.now).unwrap_err();
    assert_eq!(stale.code(), "fleet-not-switched");
    let blind = check_fleet(&kit.env, MESH, Err("provider-unreachable: etcd is down".into()), kit.now).unwrap_err();
    assert_eq!(blind.code(), "fleet-unknown");
    assert!(blind.to_string().contains("etcd is down"));
    // Status says whether the switch's promise holds yet: not with the sets from before it.
    let stale_report = status(&kit.env, &before_rotation, kit.now, Duration::ZERO).unwrap();
    assert_eq!(stale_report.new_root_only_safe.get(MESH), Some(&false));
    assert!(stale_report.to_string().contains("5 of 5 sets do not serve the switched chain yet"), "{stale_report}");
    let mut fresh = kit.renewed();
    let fresh_report = status(&kit.env, &fresh, kit.now, Duration::ZERO).unwrap();
    assert_eq!(fresh_report.new_root_only_safe.get(MESH), Some(&true));
    assert!(fresh_report.to_string().contains("consumers that trust only the new root are safe"));
    check_fleet(&kit.env, MESH, Ok(&fresh), kit.now).unwrap();
    fresh[3].1 = Fetched::Unreadable("a FIFO".into());
    assert_eq!(check_fleet(&kit.env, MESH, Ok(&fresh), kit.now).unwrap_err().code(), "fleet-not-switched");
    fresh[3].1 = Fetched::Missing;
    assert_eq!(check_fleet(&kit.env, MESH, Ok(&fresh), kit.now).unwrap_err().code(), "fleet-not-switched");
    // --force skips the fleet check; finalize needs the offline identity, never CI's.
    assert!(fleet_targets(&kit.env, MESH, true).unwrap().is_none());
    let no_root = finalize_root(&kit.env, MESH, false, &mut kit.ci_only(), kit.now).unwrap_err();
    assert_eq!(no_root.code(), "identity-missing");
    let done = finalize_root(&kit.env, MESH, false, &mut kit.offline(), kit.now).unwrap();
    kit.env.store = Some(done.store);
    assert!(kit.env.store().unwrap().pkis[MESH].previous_roots.is_empty());
    let after = kit.renewed();
    assert!(status(&kit.env, &after, kit.now, Duration::ZERO).unwrap().ok);
}

#[test]
fn recovery_revokes_the_intermediate_and_remints_only_its_scope() {
    let mut kit = Kit::mesh();
    let before = kit.renewed();
    let (recovered, recovery) = recover_intermediate(&kit.env, MESH, "eu-west-1", both!(kit), fx!(kit)).unwrap();
    kit.env.store = Some(recovered.store);
    let scopes: Vec<&str> = recovery.plan.targets.iter().map(|t| t.scope.as_str()).collect();
    assert_eq!(scopes, ["eu-west-1"]);
    // The old eu-west-1 leaf now names a revoked issuer; the others are untouched.
    let report = status(&kit.env, &before, kit.now, Duration::ZERO).unwrap();
    let eu = report.sets.iter().find(|s| s.scope == "eu-west-1").unwrap();
    assert!(eu.problems.iter().any(|p| p.code.contains("revoked")), "{:?}", eu.problems);
    // Regional sets elsewhere are untouched; `global` trusts every region, so its bundles are
    // stale until the recovery's bundle refresh rewrites them (which it lists).
    for s in report.sets.iter().filter(|s| s.scope != "eu-west-1") {
        let codes: Vec<&str> = s.problems.iter().map(|p| p.code).collect();
        let expected: &[&str] = if s.scope == "global" { &["bundle-stale"] } else { &[] };
        assert_eq!(codes, expected, "{}/{}", s.service, s.scope);
    }
    let refreshed: Vec<&str> = recovery.bundles.iter().map(|b| b.scope.as_str()).collect();
    assert!(refreshed.contains(&"global") && !refreshed.contains(&"eu-west-1"), "{refreshed:?}");
}

#[test]
fn an_impossible_root_timeline_is_refused_when_the_store_is_read() {
    // L7: a rootSwitchedAt before rootOverlapStarted would let finalize run right after
    // `rotate --root`; the store's parser refuses it (so validate and every command do).
    let mut kit = Kit::mesh();
    let rotated = rotate_root(&kit.env, MESH, None, &mut kit.offline_owned(), fx!(kit)).unwrap();
    let mut store = rotated.store;
    let pki = store.pkis.get_mut(MESH).unwrap();
    let started = crate::model::time::parse_rfc3339("t", pki.root_overlap_started.as_deref().unwrap()).unwrap();
    pki.root_switched_at = Some(crate::model::time::format_rfc3339(started - Duration::hours(1)));
    let e = crate::model::store::Store::parse("pki.enc.yaml", &store.to_yaml()).unwrap_err();
    assert!(e.to_string().contains("before rootOverlapStarted"), "{e}");
    // The same switch an hour after the start is a (forced) timeline the store allows.
    let pki = store.pkis.get_mut(MESH).unwrap();
    pki.root_switched_at = Some(crate::model::time::format_rfc3339(started + Duration::hours(1)));
    crate::model::store::Store::parse("pki.enc.yaml", &store.to_yaml()).unwrap();
}

#[test]
fn a_switch_without_an_overlap_says_switch() {
    // L10: `--switch` with no overlap named the wrong phase ("to finalize").
    let kit = Kit::mesh();
    let e = switch_root(&kit.env, MESH, false, kit.now).unwrap_err();
    assert_eq!(e.code(), "overlap-none");
    assert!(e.to_string().contains("no root overlap to switch"), "{e}");
}

/// Several identity sources for one custodian (the files of `INFORGE_PKI_ROOT_KEY_FILE=a:b`).
struct Sources(Vec<String>, Custodian);

impl Keyring for Sources {
    fn identities(&mut self, c: Custodian) -> Result<Vec<Identity>, Error> {
        if c != self.1 || self.0.is_empty() {
            return Err(crate::error::CustodyError::IdentityMissing { custodian: c }.into());
        }
        self.0.iter().enumerate().map(|(i, t)| Identity::parse(c, &format!("file{i}"), Some(t))).collect()
    }
}

fn fresh(c: Custodian) -> String {
    crate::crypto::custody::tests::identity(c).reveal().to_string()
}

fn recipient_of(identity: &str) -> String {
    Identity::parse(Custodian::Ci, "t", Some(identity)).unwrap().recipient().unwrap()
}

/// Whether `identity` opens any ciphertext in the store (keys and shares).
fn opens_anything(store: &Store, identity: &str) -> bool {
    let id = Identity::parse(Custodian::OfflineRoot, "t", Some(identity)).unwrap();
    let keys = crate::views::custody::sealed_keys(store).into_iter().map(|k| k.2.key.as_str().to_string());
    let shares = store.root_quorum.iter().flat_map(|q| q.shares.iter().map(|s| s.share.as_str().to_string()));
    keys.chain(shares).collect::<Vec<_>>().iter().any(|ct| id.try_open(ct).is_ok())
}

#[test]
fn a_quorum_root_signs_with_two_of_three_and_refuses_one() {
    let mut kit = Kit::mesh();
    let custodians: Vec<String> = (0..3).map(|_| fresh(Custodian::OfflineRoot)).collect();
    let recipients: Vec<String> = custodians.iter().map(|c| recipient_of(c)).collect();
    let new_root = crate::crypto::custody::tests::identity(Custodian::OfflineRoot);
    let holder =
        NewRootHolder::Quorum(RootCustody::Quorum { identity: &new_root, threshold: 2, custodians: &recipients });
    // The plan opens nothing and needs no identity.
    let planned = rekey_root(&kit.env, holder, &mut Sources(vec![], Custodian::OfflineRoot), fx!(kit), true).unwrap();
    assert!(planned.report.planned && planned.report.resealed == ["pkis.wardnet-mesh.root.key"]);
    assert_eq!(&planned.store, kit.env.store().unwrap());
    let rekeyed = rekey_root(&kit.env, holder, &mut kit.offline_owned(), fx!(kit), false).unwrap();
    assert_eq!(rekeyed.report.to.quorum.as_ref().unwrap().threshold, 2);
    kit.env.store = Some(rekeyed.store);
    let store = kit.env.store().unwrap().clone();
    // The old single root identity opens nothing the store holds now; no custodian alone does.
    assert!(!opens_anything(&store, &kit.root));
    for c in &custodians {
        let id = Identity::parse(Custodian::OfflineRoot, "t", Some(c)).unwrap();
        assert!(id.try_open(store.pkis[MESH].root.key.as_str()).is_err());
    }
    // Round trip through the store's text: the policy survives a write and a read.
    assert_eq!(Store::parse("s", &store.to_yaml()).unwrap(), store);
    // 2 of 3 sign a roll of the us-east-1 intermediate; 1 of 3 is refused, naming the others.
    let two = Sources(vec![custodians[0].clone(), custodians[2].clone()], Custodian::OfflineRoot);
    let rolled = rotate_intermediate(&kit.env, MESH, "us-east-1", &mut { two }, fx!(kit)).unwrap();
    let one = Sources(vec![custodians[1].clone()], Custodian::OfflineRoot);
    let e = rotate_intermediate(&kit.env, MESH, "us-east-1", &mut { one }, fx!(kit)).unwrap_err();
    assert_eq!(e.code(), "quorum-not-met");
    assert!(e.to_string().contains(&recipients[0]) && e.to_string().contains(&recipients[2]), "{e}");
    kit.env.store = Some(rolled.store);
    let sets = kit.renewed();
    assert!(status(&kit.env, &sets, kit.now, Duration::ZERO).unwrap().ok);
    // Back to one person: quorum → single, opened by two custodians.
    let single = fresh(Custodian::OfflineRoot);
    let r = recipient_of(&single);
    let two = Sources(vec![custodians[1].clone(), custodians[0].clone()], Custodian::OfflineRoot);
    let back = rekey_root(&kit.env, NewRootHolder::Recipient(&r), &mut { two }, fx!(kit), false).unwrap();
    assert!(back.store.root_quorum.is_none() && back.store.root_recipient == r);
    for c in &custodians {
        assert!(!opens_anything(&back.store, c), "an old share holder opens nothing after the re-key");
    }
    kit.env.store = Some(back.store);
    kit.root = single;
    assert!(rotate_intermediate(&kit.env, MESH, "global", &mut kit.offline_owned(), fx!(kit)).is_ok());
}

#[test]
fn rekey_ci_follows_the_secret_store_and_the_old_identity_is_refused() {
    let mut kit = Kit::mesh();
    let new_ci = fresh(Custodian::Ci);
    // Nothing to do while the secret store still names the current recipient.
    kit.env.secret_store_recipient = Some(recipient_of(&kit.ci));
    let same = rekey_ci(&kit.env, &mut Sources(vec![kit.ci.clone()], Custodian::Ci), fx!(kit), false).unwrap();
    assert!(same.report.unchanged && same.report.resealed.is_empty());
    kit.env.secret_store_recipient = Some(recipient_of(&new_ci));
    // Until the re-key, everything that seals refuses with recipient-mismatch.
    let e = rotate_intermediate(&kit.env, MESH, "global", both!(kit), fx!(kit)).unwrap_err();
    assert_eq!(e.code(), "recipient-mismatch");
    // The new identity cannot open the old keys, so the re-key needs the old one.
    let mut wrong = Sources(vec![new_ci.clone()], Custodian::Ci);
    assert_eq!(rekey_ci(&kit.env, &mut wrong, fx!(kit), false).unwrap_err().code(), "identity-wrong");
    let rekeyed = rekey_ci(&kit.env, &mut Sources(vec![kit.ci.clone()], Custodian::Ci), fx!(kit), false).unwrap();
    assert_eq!(rekeyed.report.resealed.len(), 3, "{:?}", rekeyed.report.resealed);
    let old_ci = std::mem::replace(&mut kit.ci, new_ci);
    kit.env.store = Some(rekeyed.store);
    assert!(!opens_anything(kit.env.store().unwrap(), &old_ci));
    // renew works with the new identity; the old one is refused before anything is opened.
    let sets = kit.renewed();
    assert!(status(&kit.env, &sets, kit.now, Duration::ZERO).unwrap().ok);
    let mut old = Sources(vec![old_ci], Custodian::Ci);
    let e = renew(&kit.env, &RenewRequest::default(), &mut old, kit.now).unwrap_err();
    assert_eq!(e.code(), "identity-wrong");
    // The root-held key was not touched.
    assert!(opens_anything(kit.env.store().unwrap(), &kit.root));
}

#[test]
fn a_quorum_store_is_created_with_no_secret_in_its_report() {
    let mut kit = Kit::mesh();
    let files = RepoFiles { inforge_yaml: CONFIG, regions_yaml: Some(REGIONS), store: None, secret_store: None };
    let env = Env::load(&files, "prd").unwrap();
    let custodians: Vec<String> = (0..2).map(|_| fresh(Custodian::OfflineRoot)).map(|c| recipient_of(&c)).collect();
    let root = crate::crypto::custody::tests::identity(Custodian::OfflineRoot);
    let custody = RootCustody::Quorum { identity: &root, threshold: 3, custodians: &custodians };
    let ci = kit.ci.clone();
    let e = init(&env, None, &mut Ring { ci: Some(&ci), root: None }, custody, fx!(kit)).unwrap_err();
    assert_eq!(e.code(), "quorum-invalid");
    let custody = RootCustody::Quorum { identity: &root, threshold: 2, custodians: &custodians };
    let made = init(&env, None, &mut Ring { ci: Some(&ci), root: None }, custody, fx!(kit)).unwrap();
    let text = serde_json::to_string(&made.report).unwrap() + &made.store.to_yaml();
    assert!(!text.to_ascii_uppercase().contains("AGE-SECRET-KEY"), "{text}");
    assert_eq!(made.report.quorum.unwrap().custodians, custodians);
    let view = crate::views::custody::custody(&made.store, "prd", None);
    assert_eq!(view.root.quorum.unwrap().custodians.len(), 2);
}

/// The kit's mesh moved to a 2-of-3 quorum; returns the custodians' identity texts.
fn quorum_kit() -> (Kit, Vec<String>) {
    let mut kit = Kit::mesh();
    let custodians: Vec<String> = (0..3).map(|_| fresh(Custodian::OfflineRoot)).collect();
    let recipients: Vec<String> = custodians.iter().map(|c| recipient_of(c)).collect();
    let new_root = crate::crypto::custody::tests::identity(Custodian::OfflineRoot);
    let holder =
        NewRootHolder::Quorum(RootCustody::Quorum { identity: &new_root, threshold: 2, custodians: &recipients });
    let rekeyed = rekey_root(&kit.env, holder, &mut kit.offline_owned(), fx!(kit), false).unwrap();
    kit.env.store = Some(rekeyed.store);
    (kit, custodians)
}

#[test]
fn a_store_writer_cannot_swap_in_a_quorum_of_their_own_or_lower_the_threshold() {
    let (mut kit, custodians) = quorum_kit();
    let recipients: Vec<String> = custodians.iter().map(|c| recipient_of(c)).collect();
    let two = || Sources(vec![custodians[0].clone(), custodians[1].clone()], Custodian::OfflineRoot);
    // A consistent replacement: the attacker's own root identity, split to the same custodians
    // with valid checks. The custodians rebuild it, but it opens no root key of the store.
    let attacker = crate::crypto::custody::tests::identity(Custodian::OfflineRoot);
    let mut forged = kit.env.store().unwrap().clone();
    forged.root_quorum =
        Some(crate::crypto::quorum::split(&attacker, 2, &recipients, &mut kit.rng, &mut kit.sealer).unwrap());
    forged.root_recipient = attacker.recipient().unwrap();
    let mut env = kit.env.clone();
    env.store = Some(forged);
    let e = rotate_root(&env, MESH, None, &mut two(), fx!(kit)).unwrap_err();
    assert_eq!(e.code(), "custody-inconsistent", "{e}");
    assert!(e.to_string().contains("pkis.wardnet-mesh.root.key"));
    // The threshold lowered to 1: one custodian's share rebuilds nothing usable.
    let mut lowered = kit.env.store().unwrap().clone();
    lowered.root_quorum.as_mut().unwrap().threshold = 1;
    let mut env = kit.env.clone();
    env.store = Some(lowered);
    let one = Sources(vec![custodians[2].clone()], Custodian::OfflineRoot);
    let e = rotate_intermediate(&env, MESH, "global", &mut { one }, fx!(kit)).unwrap_err();
    assert!(["identity-wrong", "custody-inconsistent"].contains(&e.code()), "{e}");
    // The genuine quorum still works.
    assert!(rotate_root(&kit.env, MESH, None, &mut two(), fx!(kit)).is_ok());
}

#[test]
fn a_plugin_only_identity_must_open_a_root_key_to_authorise() {
    let mut kit = Kit::mesh();
    // An identity file with only a plugin line: the core cannot match it to rootRecipient, so
    // it must prove possession by opening the root key; an unresolved plugin opens nothing.
    struct PluginOnly;
    impl Keyring for PluginOnly {
        fn identities(&mut self, c: Custodian) -> Result<Vec<Identity>, Error> {
            let line = "AGE-PLUGIN-INFORGETEST-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQSX3ZH2";
            Ok(vec![Identity::parse(c, "plugin.txt", Some(line))?])
        }
    }
    let e = rotate_root(&kit.env, MESH, None, &mut PluginOnly, fx!(kit)).unwrap_err();
    assert_eq!(e.code(), "custody-inconsistent", "{e}");
}

#[test]
fn rekey_between_quorums_and_the_refusals_that_keep_keys_reachable() {
    let (mut kit, old) = quorum_kit();
    let store = kit.env.store().unwrap().clone();
    // "To" the quorum's own recipient would leave the keys sealed to an identity nobody holds.
    let own = store.root_recipient.clone();
    let two = || Sources(vec![old[0].clone(), old[2].clone()], Custodian::OfflineRoot);
    let e = rekey_root(&kit.env, NewRootHolder::Recipient(&own), &mut two(), fx!(kit), false).unwrap_err();
    assert_eq!(e.code(), "quorum-invalid", "{e}");
    // Quorum → quorum with new custodians: a new identity; the old shares open nothing.
    let new: Vec<String> = (0..2).map(|_| fresh(Custodian::OfflineRoot)).collect();
    let recipients: Vec<String> = new.iter().map(|c| recipient_of(c)).collect();
    let identity = crate::crypto::custody::tests::identity(Custodian::OfflineRoot);
    let holder =
        NewRootHolder::Quorum(RootCustody::Quorum { identity: &identity, threshold: 2, custodians: &recipients });
    let moved = rekey_root(&kit.env, holder, &mut two(), fx!(kit), false).unwrap();
    assert_ne!(moved.store.root_recipient, own);
    for c in &old {
        assert!(!opens_anything(&moved.store, c));
    }
    kit.env.store = Some(moved.store);
    let both_new = Sources(new.clone(), Custodian::OfflineRoot);
    assert!(rotate_intermediate(&kit.env, MESH, "global", &mut { both_new }, fx!(kit)).is_ok());
    // A custodian can never become the CI recipient, and the plan says so too.
    kit.env.secret_store_recipient = Some(recipients[0].clone());
    for plan in [true, false] {
        let e = rekey_ci(&kit.env, &mut Sources(vec![kit.ci.clone()], Custodian::Ci), fx!(kit), plan).unwrap_err();
        assert_eq!(e.code(), "quorum-invalid", "plan={plan}: {e}");
    }
    // No recipient in the secret store: say where the new one goes.
    kit.env.secret_store_recipient = None;
    let e = rekey_ci(&kit.env, &mut Sources(vec![kit.ci.clone()], Custodian::Ci), fx!(kit), false).unwrap_err();
    assert_eq!(e.code(), "recipient-missing");
    assert!(e.remedy().render(&crate::error::Plain).contains("secrets.enc.yaml"));
}

#[test]
fn the_store_parser_enforces_the_quorum_rules() {
    let (kit, _) = quorum_kit();
    let text = kit.env.store().unwrap().to_yaml();
    let good = Store::parse("s", &text).unwrap();
    let q = good.root_quorum.as_ref().unwrap();
    let first = q.shares[0].custodian.clone();
    let second = q.shares[1].custodian.clone();
    for (bad, needle) in [
        (text.replace("threshold: 2", "threshold: 0"), "threshold 0 of 3"),
        (text.replace("threshold: 2", "threshold: 4"), "threshold 4 of 3"),
        (text.replacen(&second, &first, 1), "names a custodian twice"),
        (text.replacen(&q.shares[1].check, &"Z".repeat(64), 1), "64 lowercase hex"),
    ] {
        let e = Store::parse("s", &bad).unwrap_err();
        assert!(e.to_string().contains(needle), "{needle}: {e}");
    }
    // The CI recipient as a custodian parses, and every operation's custodian check refuses it.
    let ci_custodian = Store::parse("s", &text.replacen(&second, &recipient_of(&kit.ci), 1)).unwrap();
    let e = crate::pki::tiers::check_custodians(&ci_custodian).unwrap_err();
    assert_eq!(e.code(), "custodians-same", "{e}");
}

/// The store of a kit as text, and the kit moved on to a store changed by `f`.
fn branch(kit: &mut Kit, f: impl FnOnce(&mut Kit) -> Store) -> String {
    let base = kit.env.store.clone();
    let changed = f(kit);
    kit.env.store = base;
    changed.to_yaml()
}

fn merged(base: &str, ours: &str, theirs: &str) -> Merged {
    merge_stores(Some(base), ours, theirs, Some("prd")).unwrap()
}

#[test]
fn independent_changes_merge_and_the_result_validates_and_renews() {
    let mut kit = Kit::mesh();
    let base = kit.env.store().unwrap().to_yaml();
    let ours = branch(&mut kit, |k| {
        add(&k.env, "daemon-ca", Topology::RootOnly, Algorithm::Ed25519, None, fx!(k)).unwrap().store
    });
    let theirs = branch(&mut kit, |k| {
        let ring = &mut Ring { ci: Some(&k.ci), root: Some(&k.root) };
        rotate_intermediate(&k.env, MESH, "us-east-1", ring, fx!(k)).unwrap().store
    });
    let Merged::Clean { store, text } = merged(&base, &ours, &theirs) else { panic!("expected a clean merge") };
    assert!(store.pkis.contains_key("daemon-ca"));
    let theirs_store = Store::parse("t", &theirs).unwrap();
    assert_eq!(store.pkis[MESH], theirs_store.pkis[MESH], "the rotation came through whole");
    assert_eq!(Store::parse("m", &text).unwrap().to_yaml(), text, "written canonically");
    // Either order gives the same store.
    let Merged::Clean { text: swapped, .. } = merged(&base, &theirs, &ours) else { panic!() };
    assert_eq!(swapped, text);
    // One side unchanged: the other side, byte for byte.
    let Merged::Clean { text: same, .. } = merged(&base, &base, &theirs) else { panic!() };
    assert_eq!(same, theirs);
    // The merged store validates and renews.
    let report = crate::views::validate::validate(&kit.env.project, Some(&store), "prd", kit.now);
    assert!(!report.diagnostics.iter().any(|d| d.severity == crate::views::validate::Severity::Error), "{report:?}");
    kit.env.store = Some(*store);
    let sets = kit.renewed();
    assert!(status(&kit.env, &sets, kit.now, Duration::ZERO).unwrap().ok);
}

#[test]
fn a_recovery_beside_a_rotation_merges_and_two_rotations_of_one_slot_conflict() {
    let mut kit = Kit::mesh();
    let base = kit.env.store().unwrap().to_yaml();
    let rotate = |k: &mut Kit, scope: &str| {
        let ring = &mut Ring { ci: Some(&k.ci), root: Some(&k.root) };
        rotate_intermediate(&k.env, MESH, scope, ring, fx!(k)).unwrap().store
    };
    let ours = branch(&mut kit, |k| rotate(k, "us-east-1"));
    let theirs = branch(&mut kit, |k| {
        let ring = &mut Ring { ci: Some(&k.ci), root: Some(&k.root) };
        recover_intermediate(&k.env, MESH, "eu-west-1", ring, fx!(k)).unwrap().0.store
    });
    let Merged::Clean { store, .. } = merged(&base, &ours, &theirs) else { panic!("expected a clean merge") };
    assert_eq!(store.pkis[MESH].revoked.len(), 1, "the recovery's revocation is kept");
    assert!(store.pkis[MESH].previous_intermediates.contains_key("us-east-1"), "the roll's overlap is kept");

    let again = branch(&mut kit, |k| rotate(k, "us-east-1"));
    let Merged::Conflicts(c) = merged(&base, &ours, &again) else { panic!("two rolls of one slot must conflict") };
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!((c[0].pki.as_str(), c[0].slot.as_str()), (MESH, "intermediate us-east-1"));
    // A root rotation re-signs every scope: it conflicts with a roll of any of them.
    let root = branch(&mut kit, |k| {
        rotate_root(&k.env, MESH, None, &mut Ring { ci: None, root: Some(&k.root) }, fx!(k)).unwrap().store
    });
    let Merged::Conflicts(c) = merged(&base, &root, &ours) else { panic!("root rotation vs roll must conflict") };
    assert!(c.iter().any(|c| c.slot == "intermediate us-east-1"), "{c:?}");
}

#[test]
fn a_rekey_conflicts_with_keys_the_other_branch_sealed_to_the_old_recipient() {
    let mut kit = Kit::mesh();
    let base = kit.env.store().unwrap().to_yaml();
    let mut rekeyed = Store::parse("b", &base).unwrap();
    rekeyed.recipient = "age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg".into();
    let ours = rekeyed.to_yaml();
    let theirs = branch(&mut kit, |k| {
        let ring = &mut Ring { ci: Some(&k.ci), root: Some(&k.root) };
        rotate_intermediate(&k.env, MESH, "global", ring, fx!(k)).unwrap().store
    });
    let Merged::Conflicts(c) = merged(&base, &ours, &theirs) else { panic!("expected a conflict") };
    assert_eq!(c[0].slot, "intermediate global", "{c:?}");
    assert!(c[0].reason.contains("re-keyed"), "{c:?}");
    // Garbage in one input is an error, not a merge.
    assert_eq!(merge_stores(Some(&base), "version: [", &theirs, None).unwrap_err().code(), "store-invalid");
}

#[test]
fn the_review_names_bundles_next_steps_and_what_looks_wrong() {
    let mut kit = Kit::mesh();
    let before = kit.env.store().unwrap().clone();
    let rolled = {
        let ring = &mut Ring { ci: Some(&kit.ci), root: Some(&kit.root) };
        rotate_intermediate(&kit.env, MESH, "us-east-1", ring, fx!(kit)).unwrap().store
    };
    let r = crate::views::review::review(&before, &rolled, Some("prd"));
    assert_eq!(r.changes.len(), 1);
    assert_eq!(r.changes[0].kind, crate::views::inspect::ChangeKind::IntermediateRotated);
    let scopes: Vec<Option<&str>> = r.bundles.iter().map(|b| b.scope.as_deref()).collect();
    assert_eq!(scopes, [Some("global"), Some("us-east-1")], "a region's roll changes its bundle and global's");
    assert_eq!(r.next.len(), 1);
    assert_eq!(r.next[0].step.op, crate::error::Op::Renew);
    assert!(r.warnings.is_empty());

    // A root rotation: renew now, switch from the overlap's minimum.
    let rotated =
        rotate_root(&kit.env, MESH, None, &mut Ring { ci: None, root: Some(&kit.root) }, fx!(kit)).unwrap().store;
    let r = crate::views::review::review(&before, &rotated, Some("prd"));
    let switch = r.next.iter().find(|n| n.step.op == crate::error::Op::SwitchRoot).expect("switch step");
    let min = crate::model::time::format_rfc3339(kit.now + Duration::days(30));
    assert_eq!(switch.from.as_deref(), Some(min.as_str()));
    assert!(r.bundles.iter().any(|b| b.scope.is_none()), "the roots bundle changes");

    // A key swapped under an unchanged certificate.
    let mut swapped = before.clone();
    let p = swapped.pkis.get_mut(MESH).unwrap();
    p.intermediates.get_mut("us-east-1").unwrap().key = p.intermediates["global"].key.clone();
    let r = crate::views::review::review(&before, &swapped, None);
    assert!(r.changes.is_empty());
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.warnings[0].code, "key-changed-without-certificate");
    assert_eq!(r.warnings[0].slot, "intermediate us-east-1");
    assert!(!r.unchanged);
}

#[test]
fn a_leaf_cut_short_by_its_intermediate_is_reported_by_renew_and_status() {
    let mut kit = Kit::mesh();
    // 30 days before the intermediates end: a 90-day leaf would outlive them.
    let end = Cert::from_pem(kit.env.store().unwrap().pkis[MESH].intermediates["global"].cert.as_str(), "t")
        .unwrap()
        .not_after();
    kit.now = end - Duration::days(30);
    let plan = renew(&kit.env, &RenewRequest::default(), &mut kit.ci_only(), kit.now).unwrap();
    let minted = plan.mint_all(&mut kit.rng).unwrap();
    assert!(
        minted.iter().all(|m| m.issued.capped && m.issued.not_after <= end),
        "every leaf ends with its intermediate"
    );
    let report = LeafReport::of(&minted[0]);
    assert!(report.capped);
    let sets = held(&minted);
    let st = status(&kit.env, &sets, kit.now, Duration::days(7)).unwrap();
    assert!(st.sets.iter().all(|s| s.problems.iter().any(|p| p.code == "leaf-capped")), "{:?}", st.sets[0].problems);
    // A full-length leaf is not capped.
    kit.now = end - Duration::days(1000);
    let plan = renew(&kit.env, &RenewRequest::default(), &mut kit.ci_only(), kit.now).unwrap();
    assert!(plan.mint_all(&mut kit.rng).unwrap().iter().all(|m| !m.issued.capped));
}

#[test]
fn a_re_signed_intermediate_keeps_its_key_s_end_of_life() {
    let mut kit = Kit::mesh();
    let before = kit.env.store().unwrap().pkis[MESH].clone();
    kit.later(400);
    let rotated = rotate_root(&kit.env, MESH, None, &mut kit.offline_owned(), fx!(kit)).unwrap().store;
    for (scope, e) in &rotated.pkis[MESH].intermediates {
        let twin = Cert::from_pem(e.cert.as_str(), "twin").unwrap();
        let old = Cert::from_pem(before.intermediates[scope].cert.as_str(), "old").unwrap();
        assert_eq!(twin.public_key_bytes(), old.public_key_bytes(), "{scope}: same key");
        assert_eq!(twin.not_after(), old.not_after(), "{scope}: a root rotation does not extend a key's life");
        assert!(twin.not_before() > old.not_before());
    }
}

#[test]
fn a_service_s_leaf_ttl_sets_its_leaves_lifetime_status_horizon_and_timer() {
    let mut kit = Kit::mesh();
    let with_ttl = |ttl: &str| {
        let cfg = CONFIG.replace(
            "  web:\n    pki: wardnet-mesh\n",
            &format!("  web:\n    leafTtl: {ttl}\n    pki: wardnet-mesh\n"),
        );
        assert_ne!(cfg, CONFIG, "the example's web service is where the test expects it");
        Project::parse(&cfg, Some(REGIONS)).unwrap()
    };
    kit.env.project = with_ttl("24h").into();
    let plan = renew(&kit.env, &RenewRequest::default(), &mut kit.ci_only(), kit.now).unwrap();
    let minted = plan.mint_all(&mut kit.rng).unwrap();
    for m in &minted {
        let life = m.issued.not_after - m.issued.not_before;
        let want = if m.target.service == "web" { Duration::hours(24) } else { Duration::days(90) };
        assert_eq!(life, want + crate::crypto::profile::BACKDATE, "{}", m.target.spiffe_id);
        assert!(!m.issued.capped);
    }
    let sets = held(&minted);
    // Fresh 24h leaves are not "expiring" under the default 7-day horizon…
    assert!(status(&kit.env, &sets, kit.now, Duration::days(7)).unwrap().ok);
    // …until the last third of their life.
    let late = status(&kit.env, &sets, kit.now + Duration::hours(17), Duration::days(7)).unwrap();
    let expiring: Vec<&str> = late
        .sets
        .iter()
        .filter(|s| s.problems.iter().any(|p| p.code == "leaf-expiring"))
        .map(|s| s.service.as_str())
        .collect();
    assert_eq!(expiring, ["web", "web"]);
    // The hosts' timer runs three times per lifetime.
    let opts = crate::mesh::units::UnitOptions {
        scope: Some("us-east-1".into()),
        bootstrap_bin: "/usr/local/bin/inforge-bootstrap".into(),
        provider_dir: "/srv/provider".into(),
        etcd_tls_dir: "/etc/inforge/etcd".into(),
        watch: false,
        metrics_dir: None,
    };
    let u = units(&kit.env, "web", &opts).unwrap();
    let timer = &u.files.iter().find(|f| f.path.ends_with(".timer")).unwrap().contents;
    assert!(timer.contains("OnUnitActiveSec=28800s") && !timer.contains("OnCalendar=daily"), "{timer}");
    // Out of bounds: refused by renew and reported by validate, naming the field.
    kit.env.project = with_ttl("200d").into();
    let refused = renew(&kit.env, &RenewRequest::default(), &mut kit.ci_only(), kit.now).unwrap_err();
    assert_eq!(refused.code(), "leaf-ttl-invalid");
    assert!(refused.to_string().contains("services.web.leafTtl"), "{refused}");
    kit.env.project = with_ttl("30m").into();
    assert_eq!(
        renew(&kit.env, &RenewRequest::default(), &mut kit.ci_only(), kit.now).unwrap_err().code(),
        "leaf-ttl-invalid"
    );
}

#[test]
fn a_recovery_during_a_root_overlap_keeps_every_promise_of_the_phases() {
    let mut kit = Kit::mesh();
    let rotated = rotate_root(&kit.env, MESH, None, &mut Ring { ci: None, root: Some(&kit.root) }, fx!(kit)).unwrap();
    kit.env.store = Some(rotated.store);
    kit.later(2);
    let (recovered, _) = recover_intermediate(&kit.env, MESH, "eu-west-1", both!(kit), fx!(kit)).unwrap();
    kit.env.store = Some(recovered.store);
    let pki = &kit.env.store().unwrap().pkis[MESH];
    // The fresh key has a twin from the previous root, ending with it.
    let fresh = Cert::from_pem(pki.intermediates["eu-west-1"].cert.as_str(), "fresh").unwrap();
    let twins = &pki.previous_intermediates["eu-west-1"];
    assert_eq!(twins.len(), 1);
    let twin = Cert::from_pem(twins[0].as_str(), "twin").unwrap();
    let old_root = Cert::from_pem(pki.previous_roots[0].cert.as_str(), "old root").unwrap();
    twin.verify_signed_by(&old_root, "twin").unwrap();
    assert_eq!(twin.public_key_bytes(), fresh.public_key_bytes());
    assert_eq!(twin.not_after(), fresh.not_after());
    // Renewed sets are judged right in the overlap and after the switch, and finalize needs no
    // --force (it was refused with fleet-not-switched before).
    let sets = kit.renewed();
    let overlap = status(&kit.env, &sets, kit.now, Duration::ZERO).unwrap();
    assert!(overlap.ok, "{:?}", overlap.sets.iter().map(|s| (&s.scope, &s.problems)).collect::<Vec<_>>());
    let eu = overlap.sets.iter().find(|s| s.scope == "eu-west-1").unwrap();
    assert_eq!(eu.chain_phase, Some(RootPhase::Overlap));
    kit.later(31);
    let switched = switch_root(&kit.env, MESH, false, kit.now).unwrap();
    kit.env.store = Some(switched.store);
    let sets = kit.renewed();
    let after = status(&kit.env, &sets, kit.now, Duration::ZERO).unwrap();
    assert!(after.ok && after.new_root_only_safe[MESH], "{after}");
    kit.later(8);
    check_fleet(&kit.env, MESH, Ok(&sets), kit.now).unwrap();
    let done = finalize_root(&kit.env, MESH, false, &mut kit.offline(), kit.now).unwrap();
    assert!(!done.store.pkis[MESH].previous_intermediates.contains_key("eu-west-1"), "the twin goes with its root");
}

#[test]
fn a_leaf_never_outlives_a_certificate_served_in_its_chain() {
    let mut kit = Kit::mesh();
    // Intermediates rolled late in the first root's life end with it; a root rotation, then a
    // recovery: the recovered scope's twin (signed by the old root) ends within 90 days.
    kit.later(1800);
    for scope in ["global", "us-east-1", "eu-west-1"] {
        let rolled = rotate_intermediate(&kit.env, MESH, scope, both!(kit), fx!(kit)).unwrap();
        kit.env.store = Some(rolled.store);
    }
    kit.later(1800);
    let rotated = rotate_root(&kit.env, MESH, None, &mut Ring { ci: None, root: Some(&kit.root) }, fx!(kit)).unwrap();
    kit.env.store = Some(rotated.store);
    let (recovered, _) = recover_intermediate(&kit.env, MESH, "eu-west-1", both!(kit), fx!(kit)).unwrap();
    kit.env.store = Some(recovered.store);
    let pki = &kit.env.store().unwrap().pkis[MESH];
    let old_end = Cert::from_pem(pki.previous_roots[0].cert.as_str(), "old").unwrap().not_after();
    let fresh_end = Cert::from_pem(pki.intermediates["eu-west-1"].cert.as_str(), "fresh").unwrap().not_after();
    assert!(old_end < kit.now + Duration::days(90) && fresh_end > kit.now + Duration::days(90));
    let plan = renew(&kit.env, &RenewRequest::default(), &mut kit.ci_only(), kit.now).unwrap();
    let minted = plan.mint_all(&mut kit.rng).unwrap();
    let eu: Vec<_> = minted.iter().filter(|m| m.target.scope == "eu-west-1").collect();
    assert!(!eu.is_empty());
    for m in eu {
        assert!(m.issued.not_after <= old_end, "the leaf outlives the old-root twin in its chain");
        assert!(m.issued.capped);
    }
}

#[test]
fn a_revoked_leaf_is_listed_by_the_next_renews_crls_refused_by_hosts_and_reported() {
    use crate::model::store::RevocationReason;
    let mut kit = Kit::mesh();
    let before = kit.renewed();
    let Fetched::Held(web) = &before[2].1 else { panic!() };
    let leaf = crate::crypto::cert::parse_bundle(&web.cert, "t").unwrap().remove(0);
    // Every set carries one CRL per current intermediate its bundle trusts, none listing it.
    let crls = crate::crypto::crl::parse_crls(&web.crl, "crl.pem").unwrap();
    assert_eq!(crls.len(), 3, "the root's, then us-east-1's and global's (us-east-1 trusts itself and global)");
    let Fetched::Held(api) = &before[0].1 else { panic!() };
    assert_eq!(crate::crypto::crl::parse_crls(&api.crl, "crl.pem").unwrap().len(), 4, "the root's and every scope's");
    assert!(status(&kit.env, &before, kit.now, Duration::ZERO).unwrap().ok);

    // Recorded with no identity, as typed by an operator (upper case, colons).
    let typed: String = leaf
        .serial_hex()
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c))
        .collect::<Vec<_>>()
        .join(":");
    kit.later(1);
    let changed = revoke_leaf(&kit.env, MESH, &typed, RevocationReason::KeyCompromise, kit.now).unwrap();
    assert_eq!(changed.report.serial, leaf.serial_hex());
    assert_eq!(changed.store.version, 2);
    let text = changed.store.to_yaml();
    // The pull request's review names it and asks for a renew.
    let review = review_stores(("old", &kit.env.store().unwrap().to_yaml()), ("new", &text), Some("prd")).unwrap();
    let kinds: Vec<_> = review.changes.iter().map(|c| (c.kind, c.before.clone())).collect();
    assert_eq!(kinds, [(crate::views::inspect::ChangeKind::LeafRevoked, Some(leaf.serial_hex()))]);
    assert!(review.next.iter().any(|n| n.step.op == crate::error::Op::Renew), "{:?}", review.next);
    kit.env.store = Some(crate::model::store::Store::parse("s", &text).unwrap());
    // Twice is refused, and so is a CA's serial or a root-only PKI.
    let again = revoke_leaf(&kit.env, MESH, &leaf.serial_hex(), RevocationReason::Superseded, kit.now).unwrap_err();
    assert_eq!(again.code(), "leaf-already-revoked");
    let int = crate::crypto::cert::parse_bundle(&web.cert, "t").unwrap().remove(1);
    let ca = revoke_leaf(&kit.env, MESH, &int.serial_hex(), RevocationReason::KeyCompromise, kit.now).unwrap_err();
    assert_eq!(ca.code(), "serial-is-ca");
    assert!(ca.to_string().contains("us-east-1 intermediate"), "{ca}");
    assert_eq!(
        revoke_leaf(&kit.env, MESH, "zz", RevocationReason::KeyCompromise, kit.now).unwrap_err().code(),
        "serial-invalid"
    );

    // The fleet before the next renew: the set still serves it, and its CRLs are behind.
    let st = status(&kit.env, &before, kit.now, Duration::ZERO).unwrap();
    let codes: Vec<&str> = st.sets[2].problems.iter().map(|p| p.code).collect();
    assert_eq!(codes, ["leaf-revoked", "crl-stale"]);
    assert!(st.sets[0].problems.iter().any(|p| p.code == "crl-stale"), "every set's CRLs are behind");
    let (_, metrics) = status_metrics(&kit.env, &before, kit.now, Duration::ZERO).unwrap();
    assert!(metrics.contains("inforge_status_problems{env=\"prd\",code=\"leaf-revoked\"} 1"), "{metrics}");

    // The next renew lists it on every CRL it serves; the old leaf with the new CRLs is refused.
    let after = kit.renewed();
    let Fetched::Held(new_web) = &after[2].1 else { panic!() };
    let root = Cert::from_pem(kit.env.store().unwrap().pkis[MESH].root.cert.as_str(), "root").unwrap();
    for c in crate::crypto::crl::parse_crls(&new_web.crl, "crl.pem").unwrap() {
        // Every intermediate's CRL lists the leaf; the root's lists intermediates only.
        assert_eq!(c.lists(&leaf.serial_hex()), !c.is_signed_by(&root));
    }
    let mut old_with_new_crl = web.clone();
    old_with_new_crl.crl = new_web.crl.clone();
    old_with_new_crl.bundle = new_web.bundle.clone();
    let refused = crate::mesh::projection::verify_set("web", "us-east-1", &old_with_new_crl, kit.now).unwrap_err();
    assert_eq!(refused.code(), "set-revoked");
    crate::mesh::projection::verify_set("web", "us-east-1", new_web, kit.now).unwrap();
    assert!(status(&kit.env, &after, kit.now, Duration::ZERO).unwrap().ok);

    // A week without a renew: the CRLs pass their nextUpdate.
    kit.later(8);
    let st = status(&kit.env, &after, kit.now, Duration::ZERO).unwrap();
    assert!(st.sets.iter().all(|s| s.problems.iter().any(|p| p.code == "crl-expired")));
    // After a leaf's longest lifetime, the revocation drops out of the CRLs.
    kit.later(90);
    let late = kit.renewed();
    let Fetched::Held(late_web) = &late[2].1 else { panic!() };
    assert!(crate::crypto::crl::parse_crls(&late_web.crl, "crl.pem")
        .unwrap()
        .iter()
        .all(|c| !c.lists(&leaf.serial_hex())));
}

#[test]
fn spiffe_bundles_hold_the_pem_bundle_and_their_sequence_moves_only_with_their_content() {
    use base64ct::{Base64, Base64UrlUnpadded, Encoding};
    let mut kit = Kit::mesh();
    let doc = |kit: &Kit, which: Which<'_>| -> serde_json::Value {
        serde_json::from_str(&bundle_as(&kit.env, MESH, which, BundleFormat::Spiffe).unwrap()).unwrap()
    };
    let seq = |d: &serde_json::Value| d["spiffe_sequence"].as_u64().unwrap();
    // The JWKS holds exactly bundle.pem's certificates, each as one x509-svid key whose
    // coordinates are the certificate's public key.
    let us = doc(&kit, Which::Scope("us-east-1"));
    let pem =
        crate::crypto::cert::parse_bundle(&bundle(&kit.env, MESH, Which::Scope("us-east-1")).unwrap(), "b").unwrap();
    let keys = us["keys"].as_array().unwrap();
    assert_eq!(keys.len(), pem.len());
    for (k, c) in keys.iter().zip(&pem) {
        assert_eq!(
            (k["use"].as_str(), k["kty"].as_str(), k["crv"].as_str()),
            (Some("x509-svid"), Some("EC"), Some("P-256"))
        );
        assert!(k.get("kid").is_none());
        let x5c = k["x5c"].as_array().unwrap();
        assert_eq!(x5c.len(), 1);
        assert_eq!(Base64::decode_vec(x5c[0].as_str().unwrap()).unwrap(), c.der());
        let point = [
            &[4u8][..],
            &Base64UrlUnpadded::decode_vec(k["x"].as_str().unwrap()).unwrap(),
            &Base64UrlUnpadded::decode_vec(k["y"].as_str().unwrap()).unwrap(),
        ]
        .concat();
        assert_eq!(point, c.public_key_bytes());
    }
    assert_eq!(us["spiffe_refresh_hint"], 3600);
    let (us0, global0, roots0) = (seq(&us), seq(&doc(&kit, Which::Scope("global"))), seq(&doc(&kit, Which::Roots)));
    assert!(us0 > 0 && roots0 > 0 && roots0 <= us0);

    // A roll of eu-west-1 changes global's bundle (it trusts every region), not us-east-1's.
    kit.later(2);
    let rolled = rotate_intermediate(&kit.env, MESH, "eu-west-1", both!(kit), fx!(kit)).unwrap();
    kit.env.store = Some(rolled.store);
    assert_eq!(doc(&kit, Which::Scope("us-east-1")), us, "an unchanged bundle keeps its bytes and sequence");
    let global1 = seq(&doc(&kit, Which::Scope("global")));
    assert!(global1 > global0);
    assert_eq!(seq(&doc(&kit, Which::Roots)), roots0);
    // A recovery of eu-west-1: the same, again.
    kit.later(1);
    let (recovered, _) = recover_intermediate(&kit.env, MESH, "eu-west-1", both!(kit), fx!(kit)).unwrap();
    kit.env.store = Some(recovered.store);
    assert_eq!(seq(&doc(&kit, Which::Scope("us-east-1"))), us0);
    let global2 = seq(&doc(&kit, Which::Scope("global")));
    assert!(global2 > global1);
    // A root rotation adds the new root and every intermediate's twin; its finalize only
    // removes certificates, and still moves every sequence forward (rootFinalizedAt).
    kit.later(1);
    let rotated = rotate_root(&kit.env, MESH, None, &mut kit.offline_owned(), fx!(kit)).unwrap();
    kit.env.store = Some(rotated.store);
    let (us3, roots3) = (seq(&doc(&kit, Which::Scope("us-east-1"))), seq(&doc(&kit, Which::Roots)));
    assert!(us3 > us0 && roots3 > roots0);
    assert_eq!(doc(&kit, Which::Roots)["keys"].as_array().unwrap().len(), 2);
    kit.later(40);
    kit.env.store = Some(switch_root(&kit.env, MESH, false, kit.now).unwrap().store);
    assert_eq!(seq(&doc(&kit, Which::Scope("us-east-1"))), us3, "the switch reorders chains, not bundles");
    kit.later(8);
    let done = finalize_root(&kit.env, MESH, true, &mut kit.offline(), kit.now).unwrap();
    kit.env.store = Some(crate::model::store::Store::parse("s", &done.store.to_yaml()).unwrap());
    assert_eq!(kit.env.store().unwrap().version, 2, "rootFinalizedAt needs format 2");
    assert!(seq(&doc(&kit, Which::Scope("us-east-1"))) > us3);
    assert!(seq(&doc(&kit, Which::Roots)) > roots3);
    assert_eq!(doc(&kit, Which::Roots)["keys"].as_array().unwrap().len(), 1);
}

#[test]
fn a_pki_s_leaf_ttl_is_the_default_for_services_without_their_own() {
    let files = RepoFiles { inforge_yaml: CONFIG, regions_yaml: Some(REGIONS), store: None, secret_store: None };
    let mut kit = Kit::mesh();
    // `pki add --leaf-ttl`: bounds and topology are checked before any key is made.
    for (topology, ttl, needle) in [
        (Topology::TwoTier, "200d", "longer than 90d"),
        (Topology::TwoTier, "30m", "shorter than 1h"),
        (Topology::TwoTier, "soon", "not a number"),
        (Topology::RootOnly, "24h", "only to a two-tier PKI"),
    ] {
        let e = add(&kit.env, "other", topology, Algorithm::EcdsaP256, Some(ttl), fx!(kit)).unwrap_err();
        assert_eq!(e.code(), "leaf-ttl-invalid");
        assert!(e.to_string().contains(needle), "{e}");
    }
    let added = add(&kit.env, "edge", Topology::TwoTier, Algorithm::EcdsaP256, Some("48h"), fx!(kit)).unwrap();
    let text = added.store.to_yaml();
    assert!(text.contains("\n    leafTtl: 48h\n") && text.contains("\nversion: 2\n"), "{text}");
    let back = crate::model::store::Store::parse("s", &text).unwrap();
    assert!(crate::model::store::Store::parse("s", &text.replace("leafTtl: 48h", "leafTtl: 91d"))
        .unwrap_err()
        .to_string()
        .contains("pkis.edge.leafTtl"));
    assert_eq!(back.pkis["edge"].leaf_ttl.as_deref(), Some("48h"));
    // The mesh's default: 48h for every service but web, whose own leafTtl (24h) wins.
    let mut store = kit.env.store().unwrap().clone();
    store.pkis.get_mut(MESH).unwrap().leaf_ttl = Some("48h".into());
    kit.env = Env::load(&RepoFiles { store: Some(&store.to_yaml()), ..files }, "prd").unwrap();
    kit.env.project = Project::parse(
        &CONFIG.replace("  web:\n    pki: wardnet-mesh\n", "  web:\n    leafTtl: 24h\n    pki: wardnet-mesh\n"),
        Some(REGIONS),
    )
    .unwrap()
    .into();
    let minted =
        renew(&kit.env, &RenewRequest::default(), &mut kit.ci_only(), kit.now).unwrap().mint_all(&mut kit.rng).unwrap();
    for m in &minted {
        let want = if m.target.service == "web" { Duration::hours(24) } else { Duration::hours(48) };
        assert_eq!(
            m.issued.not_after - m.issued.not_before,
            want + crate::crypto::profile::BACKDATE,
            "{}",
            m.target.spiffe_id
        );
    }
    assert!(status(&kit.env, &held(&minted), kit.now, Duration::days(7)).unwrap().ok);
    // The hosts' timer follows the default too: every 16 h for api's 48 h leaves.
    let opts = crate::mesh::units::UnitOptions {
        scope: None,
        bootstrap_bin: "/usr/local/bin/inforge-bootstrap".into(),
        provider_dir: "/srv/provider".into(),
        etcd_tls_dir: "/etc/inforge/etcd".into(),
        watch: false,
        metrics_dir: None,
    };
    let u = units(&kit.env, "api", &opts).unwrap();
    let timer = &u.files.iter().find(|f| f.path.ends_with(".timer")).unwrap().contents;
    assert!(timer.contains("OnUnitActiveSec=57600s") && timer.contains("(leafTtl 48h)"), "{timer}");
}
