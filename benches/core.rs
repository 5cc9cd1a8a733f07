//! criterion benchmarks: minting one leaf per algorithm, a whole renew, the store round trip,
//! and validation. Run: `cargo bench -p inforge-benches`.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use inforge_benches::fixture;
use inforge_core::keys::Algorithm;
use inforge_core::ops::{self, RenewRequest};
use rand_chacha::rand_core::SeedableRng;

/// One leaf per algorithm and key backend: RustCrypto (the core's default, the WASM build's)
/// and AWS-LC (what the CLI and Python mint with).
fn mint_one_leaf(c: &mut Criterion) {
    let mut g = c.benchmark_group("mint_leaf");
    for alg in [Algorithm::EcdsaP256, Algorithm::EcdsaP384, Algorithm::Ed25519] {
        let f = fixture(1, 1, alg);
        for native in [false, true] {
            let plan = ops::renew(&f.env(), &RenewRequest::default(), &mut f.keyring(), f.now).unwrap();
            let plan = if native { plan.with_backend(&inforge_host::backend::AWS_LC) } else { plan };
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
            g.bench_function(BenchmarkId::new(alg.name(), plan.backend()), |b| {
                b.iter(|| plan.mint(&plan.targets[0], &mut rng).unwrap())
            });
        }
    }
    g.finish();
}

fn renew_mesh(c: &mut Criterion) {
    let mut g = c.benchmark_group("renew");
    g.sample_size(10);
    for services in [10usize, 100] {
        let f = fixture(services, 3, Algorithm::EcdsaP256);
        g.throughput(Throughput::Elements((services * 3) as u64));
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let env = f.env();
        g.bench_function(BenchmarkId::new("sequential", services * 3), |b| {
            b.iter(|| {
                let plan = ops::renew(&env, &RenewRequest::default(), &mut f.keyring(), f.now).unwrap();
                plan.mint_all(&mut rng).unwrap()
            })
        });
    }
    g.finish();
}

fn store_round_trip_and_validate(c: &mut Criterion) {
    let f = fixture(50, 20, Algorithm::EcdsaP256);
    let text = f.store.to_yaml();
    c.bench_function("store/parse+write (21 intermediates)", |b| {
        b.iter(|| inforge_core::store::Store::parse("bench", &text).unwrap().to_yaml())
    });
    c.bench_function("validate (50 services, 21 intermediates)", |b| {
        b.iter(|| inforge_core::validate::validate(&f.project, Some(&f.store), "prd", f.now))
    });
}

criterion_group!(benches, mint_one_leaf, renew_mesh, store_round_trip_and_validate);
criterion_main!(benches);
