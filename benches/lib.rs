//! Fixtures for the benchmarks: an in-memory mesh with many services (no IO).
#![allow(clippy::disallowed_methods)]

use inforge_core::config::Project;
use inforge_core::custody::{Custodian, CustodyError, Identity, Sealer};
use inforge_core::keys::Algorithm;
use inforge_core::pki::{add_intermediate, add_pki, Effects};
use inforge_core::store::{Store, Topology};
use rand_chacha::rand_core::SeedableRng;

/// age sealing for fixtures (benchmarks may use OS randomness).
pub struct BenchSealer;
impl Sealer for BenchSealer {
    fn seal(&mut self, recipient: &str, plaintext: &[u8], location: &str) -> Result<String, CustodyError> {
        let r: age::x25519::Recipient = recipient
            .parse()
            .map_err(|_| CustodyError::Seal { location: location.into(), reason: "recipient".into() })?;
        age::encrypt_and_armor(&r, plaintext)
            .map_err(|e| CustodyError::Seal { location: location.into(), reason: e.to_string() })
    }
}

/// A mesh with `services` regional services over `regions` regions, plus the identities.
pub struct Fixture {
    pub project: Project,
    pub store: Store,
    pub ci: Identity,
    pub now: time::OffsetDateTime,
}

pub fn fixture(services: usize, regions: usize, algorithm: Algorithm) -> Fixture {
    let regions: Vec<String> = (0..regions).map(|i| format!("region-{i}")).collect();
    let mut cfg =
        String::from("baseDomain: bench.example\nenvironments: {prd: {provider: {kind: dir, path: p}}}\nservices:\n");
    for i in 0..services {
        cfg.push_str(&format!("  svc-{i}: {{pki: mesh, scope: regional}}\n"));
    }
    let project = Project::parse(&cfg, Some(&format!("regions: [{}]\n", regions.join(", ")))).unwrap();
    let root = Identity::from_age(age::x25519::Identity::generate(), Custodian::OfflineRoot);
    let ci = Identity::from_age(age::x25519::Identity::generate(), Custodian::Ci);
    let now = time::OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let mut store = Store::new(root.recipient(), ci.recipient());
    let mut fx = Effects { now, rng: &mut rng, sealer: &mut BenchSealer };
    add_pki(&mut store, "prd", "mesh", Topology::TwoTier, algorithm, &mut fx).unwrap();
    for scope in std::iter::once("global".to_string()).chain(regions) {
        add_intermediate(&mut store, &project, "prd", "mesh", &scope, &root, &mut fx).unwrap();
    }
    Fixture { project, store, ci, now }
}
