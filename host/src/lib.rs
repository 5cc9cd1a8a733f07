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
    mint_each(plan, progress, &|_, m| Ok(m))
}

/// Mints every target of a plan across the machine's cores and hands each leaf, with its
/// index in the plan, to `then` on the thread that minted it; returns `then`'s results in
/// plan order. The first error stops every thread at its next leaf.
pub fn mint_each<T: Send>(
    plan: &inforge_core::ops::RenewPlan,
    progress: &(dyn Fn() + Sync),
    then: &(dyn Fn(usize, inforge_core::mesh::Minted) -> Result<T, HostError> + Sync),
) -> Result<Vec<T>, HostError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let targets = &plan.targets;
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(targets.len());
    let chunk = targets.len().div_ceil(threads);
    let failed = AtomicBool::new(false);
    let failed = &failed;
    let results: Vec<Result<Vec<T>, HostError>> = std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                s.spawn(move || {
                    let mut rng = rng();
                    let mut out = Vec::with_capacity(part.len());
                    for (i, t) in part.iter().enumerate() {
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        let r = plan.mint(t, &mut rng).map_err(HostError::from).and_then(|m| then(c * chunk + i, m));
                        match r {
                            Ok(x) => out.push(x),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                        progress();
                    }
                    Ok(out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new()))).collect()
    });
    let mut out = Vec::with_capacity(targets.len());
    let mut stopped = false;
    for r in results {
        match r {
            Ok(part) => out.extend(part),
            Err(e) => return Err(e),
        }
        stopped |= failed.load(Ordering::Relaxed);
    }
    if stopped || out.len() != targets.len() {
        // A minting thread panicked (a bug), or stopped for another's error reported above:
        // never a partial result.
        return Err(HostError::Internal("a minting thread stopped early".into()));
    }
    Ok(out)
}

/// A renew's shell half, shared by every native frontend: opens a provider batch, mints the
/// plan across cores and stages each set as soon as it is minted (on the thread that minted
/// it, so minting and the provider's filesystem work overlap and no key outlives its set),
/// then commits: every service+scope is replaced as a set. Returns the typed report
/// (`renew --json`). A failure before the commit leaves the provider's visible names as
/// they were.
pub fn mint_and_write(
    plan: &inforge_core::ops::RenewPlan,
    provider: &mut dyn provider::Provider,
    progress: &(dyn Fn() + Sync),
) -> Result<inforge_core::ops::RenewReport, HostError> {
    let started = std::time::Instant::now();
    let info = provider.info();
    if plan.targets.is_empty() {
        return Ok(inforge_core::ops::RenewReport::new(&plan.env, info, Vec::new(), Vec::new(), 0));
    }
    let batch = provider.begin()?;
    let leaves = mint_each(plan, progress, &|i, m| {
        batch.stage(
            i,
            &provider::SetFiles {
                service: &m.target.service,
                scope: &m.target.scope,
                cert: &m.cert_pem,
                key: &m.key_pem,
                bundle: &m.bundle_pem,
            },
        )?;
        Ok(inforge_core::ops::LeafReport::of(&m))
    })?;
    let dirs = batch.commit()?;
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(inforge_core::ops::RenewReport::new(&plan.env, info, leaves, dirs, elapsed))
}
