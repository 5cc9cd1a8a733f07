//! A renew's shell half, shared by every native frontend.

use crate::parallel::mint_each;
use crate::provider;
use crate::HostError;

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
    mint_and_write_checked(plan, provider, progress, &|| Ok(()))
}

/// [`mint_and_write`], with `still_current` called once the batch holds the provider (for
/// `dir`, its lock) and before anything is minted: a renew that planned from a store which a
/// concurrent rotation or recovery has since replaced stops there
/// ([`crate::repo::Repo::check_store`]), so it can never put back leaves from an intermediate
/// that recovery revoked while it waited.
pub fn mint_and_write_checked(
    plan: &inforge_core::ops::RenewPlan,
    provider: &mut dyn provider::Provider,
    progress: &(dyn Fn() + Sync),
    still_current: &dyn Fn() -> Result<(), HostError>,
) -> Result<inforge_core::ops::RenewReport, HostError> {
    let started = std::time::Instant::now();
    let info = provider.info();
    if plan.targets.is_empty() {
        return Ok(inforge_core::ops::RenewReport::new(&plan.env, info, Vec::new(), Vec::new(), 0));
    }
    let batch = provider.begin()?;
    still_current()?;
    let leaves = mint_each(plan, progress, &|i, m| {
        batch.stage(
            i,
            &provider::SetFiles {
                service: &m.target.service,
                scope: &m.target.scope,
                cert: &m.cert_pem,
                key: &m.key_pem,
                bundle: &m.bundle_pem,
                spiffe: &m.spiffe_json,
                crl: &m.crl_pem,
            },
        )?;
        Ok(inforge_core::ops::LeafReport::of(&m))
    })?;
    let dirs = batch.commit()?;
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(inforge_core::ops::RenewReport::new(&plan.env, info, leaves, dirs, elapsed))
}
