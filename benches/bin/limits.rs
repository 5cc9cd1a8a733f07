//! `inforge-limits`: the two reference points of `benches/compare.sh`, measured by the same
//! code production runs.
//!
//! - `mint-only <repo> <env>`: the core's renew into memory — `ops::renew` with the CI
//!   identity from `INFORGE_SECRETS_KEY`, the AWS-LC backend, minted across every core by
//!   `inforge_host::mint_parallel` — with no provider write. Prints `{"leaves", "seconds"}`.
//! - `primitive [seconds]`: the crypto limit: P-256 keygen + one signature over a 400-byte
//!   message per iteration with the backend inforge mints with, on one thread. Prints
//!   `{"perCore", "cores"}`.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use inforge_core::crypto::keys::{Algorithm, PrivateKey};
use inforge_core::ops::{self, RenewRequest};
use inforge_host::backend::AWS_LC;
use inforge_host::keyring::HostKeyring;
use inforge_host::repo::Repo;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("mint-only") if args.len() == 3 => mint_only(&args[1], &args[2]),
        Some("primitive") => primitive(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1.0)),
        _ => {
            eprintln!("usage: inforge-limits mint-only <repo> <env> | primitive [seconds]");
            std::process::exit(2);
        }
    }
}

fn mint_only(repo: &str, env: &str) {
    // Like for like with `inforge pki renew`, which keeps a big config's checked parse.
    inforge_host::config_cache::enable();
    let repo = Repo::open(std::path::Path::new(repo)).expect("repo");
    let loaded = repo.load(env).expect("env");
    let now = inforge_host::clock::now().expect("now");
    let started = Instant::now();
    let plan = ops::renew(&loaded.env, &RenewRequest::default(), &mut HostKeyring::from_env(), now)
        .expect("renew plan")
        .with_backend(&AWS_LC);
    let minted = inforge_host::mint_parallel(&plan, &|| {}).expect("mint");
    let secs = started.elapsed().as_secs_f64();
    println!("{{\"leaves\": {}, \"seconds\": {secs:.4}}}", minted.len());
}

fn primitive(seconds: f64) {
    use rcgen::SigningKey;
    let mut rng = inforge_host::rng();
    let msg = [7u8; 400];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        let k = PrivateKey::generate_with(Algorithm::EcdsaP256, &mut rng, &AWS_LC);
        std::hint::black_box(k.sign(&msg).expect("sign"));
        n += 1;
    }
    let per_core = n as f64 / started.elapsed().as_secs_f64();
    let cores = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
    println!("{{\"perCore\": {per_core:.1}, \"cores\": {cores}}}");
}
