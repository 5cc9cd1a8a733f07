//! Fixtures for the benchmarks: an in-memory mesh with many services (no IO).
#![allow(clippy::disallowed_methods)]

use inforge_core::crypto::custody::{Custodian, Identity};
use inforge_core::crypto::effects::Effects;
use inforge_core::crypto::keys::Algorithm;
use inforge_core::model::config::Project;
use inforge_core::model::store::{Store, Topology};
use inforge_core::ops::{Env, Keyring};
use inforge_core::pki::lifecycle::{add_intermediate, add_pki};
use inforge_host::seal::AgeSealer;
use rand_chacha::rand_core::SeedableRng;

/// A keyring holding the CI identity (as revealed text), for `ops::renew`.
pub struct CiKeyring(pub String);
impl Keyring for CiKeyring {
    fn identities(&mut self, c: Custodian) -> Result<Vec<Identity>, inforge_core::Error> {
        Ok(vec![Identity::parse(c, "bench", if c == Custodian::Ci { Some(&self.0) } else { None })?])
    }
}

/// A mesh with `services` regional services over `regions` regions, plus the identities.
pub struct Fixture {
    pub project: Project,
    /// `inforge.yaml` and `regions.yaml` as text (what `validate_texts` reads).
    pub config: String,
    pub regions_yaml: String,
    pub store: Store,
    pub ci: Identity,
    pub now: time::OffsetDateTime,
}

impl Fixture {
    /// The fixture as the operations layer sees it.
    pub fn env(&self) -> Env {
        Env {
            project: self.project.clone().into(),
            name: "prd".into(),
            store: Some(self.store.clone()),
            secret_store_recipient: None,
        }
    }
    /// A keyring with the CI identity.
    pub fn keyring(&self) -> CiKeyring {
        CiKeyring(self.ci.reveal().to_string())
    }
}

pub fn fixture(services: usize, regions: usize, algorithm: Algorithm) -> Fixture {
    build(&["mesh".to_string()], services, regions, algorithm)
}

/// `pkis` two-tier PKIs (each with `global` + `regions` intermediates) and `services` regional
/// services spread over them: the "100 PKIs against a 10k-service config" validate bench.
pub fn fixture_many(pkis: usize, services: usize, regions: usize) -> Fixture {
    let names: Vec<String> = (0..pkis).map(|p| format!("mesh-{p}")).collect();
    build(&names, services, regions, Algorithm::EcdsaP256)
}

/// Service `svc-i` joins `pkis[i % len]`; every PKI gets `global` and every region.
fn build(pkis: &[String], services: usize, regions: usize, algorithm: Algorithm) -> Fixture {
    let regions: Vec<String> = (0..regions).map(|i| format!("region-{i}")).collect();
    let mut config =
        String::from("baseDomain: bench.example\nenvironments: {prd: {provider: {kind: dir, path: p}}}\nservices:\n");
    for i in 0..services {
        config.push_str(&format!("  svc-{i}: {{pki: {}, scope: regional}}\n", pkis[i % pkis.len()]));
    }
    let regions_yaml = format!("regions: [{}]\n", regions.join(", "));
    let project = Project::parse(&config, Some(&regions_yaml)).unwrap();
    let root = Identity::from_age(age::x25519::Identity::generate(), Custodian::OfflineRoot);
    let ci = Identity::from_age(age::x25519::Identity::generate(), Custodian::Ci);
    let now = time::OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let mut store = Store::new(root.recipient().unwrap_or_default(), ci.recipient().unwrap_or_default());
    let mut fx = Effects { now, rng: &mut rng, sealer: &mut AgeSealer };
    for name in pkis {
        add_pki(&mut store, "prd", name, Topology::TwoTier, algorithm, &mut fx).unwrap();
        for scope in std::iter::once("global".to_string()).chain(regions.iter().cloned()) {
            add_intermediate(&mut store, &project, "prd", name, &scope, &root, &mut fx).unwrap();
        }
    }
    Fixture { project, config, regions_yaml, store, ci, now }
}
