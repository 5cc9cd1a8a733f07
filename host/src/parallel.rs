//! The one place the host crate spreads work across cores (threads are the shell's business,
//! never the core's): minting a renew plan and the `dir` provider's swaps.

use crate::HostError;

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
                    let mut rng = crate::rng();
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

/// Runs `f` over `items` in contiguous chunks, one per core; the first error wins.
pub fn on_cores<T: Sync>(items: &[T], f: impl Fn(&T) -> Result<(), HostError> + Sync) -> Result<(), HostError> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if items.len() < 64 || threads == 1 {
        return items.iter().try_for_each(&f);
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items.chunks(chunk).map(|part| s.spawn(move || part.iter().try_for_each(f))).collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().unwrap_or_else(|_| Err(HostError::Internal("a provider thread stopped".into()))))
    })
}
