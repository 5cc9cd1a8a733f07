//! `inforge-host`: everything inforge's native frontends share around the IO-free core.
//!
//! The CLI, the Python module and the host bootstrapper link this crate; the WASM build does
//! not (a browser has no filesystem, environment or OS randomness). It decides nothing about
//! PKI: it reads the infra repo ([`repo`]), identities ([`keyring`]), the clock
//! ([`clock`]), OS randomness ([`rng`]), seals with age ([`seal`]), writes providers
//! ([`provider`]) and serialises writers ([`lock`]). Decisions are the core's `ops`.
#![forbid(unsafe_code)]
// Errors are the cold path and carry their context (paths, PKI and scope names) by value;
// boxing them would buy nothing measurable.
#![allow(clippy::result_large_err)]

pub mod backend;
pub mod clock;
pub mod error;
pub mod etcd;
pub mod keyring;
pub mod lock;
pub mod provider;
pub mod repo;
pub mod seal;

pub use error::HostError;

/// The OS random number generator, the one source of randomness handed to the core.
pub fn rng() -> rand_core::OsRng {
    rand_core::OsRng
}

/// Mints every target of a renew plan across the machine's cores; each thread draws from the
/// OS RNG. `progress` is called once per leaf minted (from any thread).
pub fn mint_parallel(
    plan: &inforge_core::ops::RenewPlan,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<inforge_core::mesh::Minted>, HostError> {
    let targets = &plan.targets;
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(targets.len());
    let chunk = targets.len().div_ceil(threads);
    let results: Vec<Result<Vec<inforge_core::mesh::Minted>, inforge_core::Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut rng = rng();
                    part.iter()
                        .map(|t| {
                            let m = plan.mint(t, &mut rng);
                            progress();
                            m
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new()))).collect()
    });
    let mut out = Vec::with_capacity(targets.len());
    for r in results {
        out.extend(r?);
    }
    if out.len() != targets.len() {
        // A minting thread panicked: a bug, never a partial write.
        return Err(HostError::Internal("a minting thread stopped early".into()));
    }
    Ok(out)
}

/// A renew's shell half, shared by every native frontend: mints the plan across cores and
/// replaces each service+scope as a set in the provider. Returns the leaves (for frontends
/// that show more than the report) and the typed report (`renew --json`).
pub fn mint_and_write(
    plan: &inforge_core::ops::RenewPlan,
    provider: &mut dyn provider::Provider,
    progress: &(dyn Fn() + Sync),
) -> Result<(Vec<inforge_core::mesh::Minted>, inforge_core::ops::RenewReport), HostError> {
    let started = std::time::Instant::now();
    let minted = mint_parallel(plan, progress)?;
    let sets: Vec<provider::SetFiles<'_>> = minted
        .iter()
        .map(|m| provider::SetFiles {
            service: &m.target.service,
            scope: &m.target.scope,
            cert: &m.cert_pem,
            key: &m.key_pem,
            bundle: &m.bundle_pem,
        })
        .collect();
    let dirs = provider.write_sets(&sets)?;
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let report = inforge_core::ops::RenewReport::new(&plan.env, provider.info(), &minted, &dirs, elapsed);
    Ok((minted, report))
}
