//! criterion benchmarks: minting one leaf per algorithm, a whole renew, the store round trip,
//! and validation. Run: `cargo bench -p inforge-benches`.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use inforge_benches::{fixture, fixture_many};
use inforge_core::crypto::keys::Algorithm;
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

/// The core's renew at fleet scale (ecdsa-p256, 2 regions), 1k and 10k services: into memory
/// across the cores (mint-only), and into the dir provider (a temp directory) in its steady
/// state, minting and staging overlapped as the CLI does.
fn renew_at_scale(c: &mut Criterion) {
    let mut g = c.benchmark_group("renew_at_scale");
    g.sample_size(10);
    for services in [1_000usize, 10_000] {
        let f = fixture(services, 2, Algorithm::EcdsaP256);
        let env = f.env();
        g.throughput(Throughput::Elements((services * 2) as u64));
        g.bench_function(BenchmarkId::new("memory", services * 2), |b| {
            b.iter(|| {
                let plan = ops::renew(&env, &RenewRequest::default(), &mut f.keyring(), f.now)
                    .unwrap()
                    .with_backend(&inforge_host::backend::AWS_LC);
                inforge_host::mint_parallel(&plan, &|| {}).unwrap()
            })
        });
        let dir = std::env::temp_dir().join(format!("inforge-bench-provider-{services}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut provider = inforge_host::provider::DirProvider { root: dir.clone() };
        let renew = |provider: &mut inforge_host::provider::DirProvider| {
            let plan = ops::renew(&env, &RenewRequest::default(), &mut f.keyring(), f.now)
                .unwrap()
                .with_backend(&inforge_host::backend::AWS_LC);
            inforge_host::mint_and_write(&plan, provider, &|| {}).unwrap()
        };
        // The steady state (every slot exists, as after three renews): the daily case. The
        // first write into an empty provider is timed by benches/compare.sh.
        for _ in 0..3 {
            renew(&mut provider);
        }
        g.bench_function(BenchmarkId::new("dir-provider", services * 2), |b| b.iter(|| renew(&mut provider)));
        let _ = std::fs::remove_dir_all(&dir);
    }
    g.finish();
}

/// Load (parse config + store) and validate 100 PKIs against a 10k-service config.
fn validate_100_pkis(c: &mut Criterion) {
    let f = fixture_many(100, 10_000, 2);
    let store = f.store.to_yaml();
    let mut g = c.benchmark_group("validate");
    g.sample_size(10);
    // RustCrypto first: the AWS-LC verifier, once installed, stays for the process (as in
    // the CLI), so every later benchmark in this run verifies with it.
    g.bench_function("load+validate 100 PKIs, 10k services, rustcrypto", |b| {
        b.iter(|| {
            inforge_core::views::validate::validate_texts(&f.config, Some(&f.regions_yaml), Some(&store), "prd", f.now)
        })
    });
    inforge_host::backend::install();
    g.bench_function("load+validate 100 PKIs, 10k services, aws-lc", |b| {
        b.iter(|| {
            inforge_core::views::validate::validate_texts(&f.config, Some(&f.regions_yaml), Some(&store), "prd", f.now)
        })
    });
    g.finish();
}

fn store_round_trip_and_validate(c: &mut Criterion) {
    let f = fixture(50, 20, Algorithm::EcdsaP256);
    let text = f.store.to_yaml();
    c.bench_function("store/parse+write (21 intermediates)", |b| {
        b.iter(|| inforge_core::model::store::Store::parse("bench", &text).unwrap().to_yaml())
    });
    c.bench_function("validate (50 services, 21 intermediates)", |b| {
        b.iter(|| inforge_core::views::validate::validate(&f.project, Some(&f.store), "prd", f.now))
    });
}

criterion_group!(benches, mint_one_leaf, renew_mesh, renew_at_scale, validate_100_pkis, store_round_trip_and_validate);
criterion_main!(benches);
