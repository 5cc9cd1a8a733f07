//! Operations that read only: `status_targets`, `status`, `status_metrics`, `ls`, `validate`, `units`.

use time::OffsetDateTime;

use super::*;
use crate::views::listing::Listing;
use crate::views::validate::Report;
use crate::Error;

/// `inforge pki status`: the targets whose sets to fetch (the sets renew writes).
pub fn status_targets(env: &Env) -> Result<Vec<crate::mesh::LeafTarget>, Error> {
    crate::mesh::targets(&env.project, env.store()?, &env.name, &crate::mesh::Filter::default())
}

/// `inforge pki status`: judges the fetched sets against the store.
pub fn status(
    env: &Env,
    fetched: &[(crate::mesh::LeafTarget, crate::views::status::Fetched)],
    now: OffsetDateTime,
    within: time::Duration,
) -> Result<crate::views::status::StatusReport, Error> {
    crate::model::time::check_now("the time", now)?;
    Ok(crate::views::status::status(&env.project, env.store()?, &env.name, fetched, now, within))
}

/// `inforge pki status --format prometheus`: the report and its text exposition (every
/// certificate in the store, every leaf the provider holds, problems, root phases).
pub fn status_metrics(
    env: &Env,
    fetched: &[(crate::mesh::LeafTarget, crate::views::status::Fetched)],
    now: OffsetDateTime,
    within: time::Duration,
) -> Result<(crate::views::status::StatusReport, String), Error> {
    let report = status(env, fetched, now, within)?;
    let text = crate::views::metrics::status_exposition(env.store()?, &report, now)?;
    Ok((report, text))
}

/// `inforge pki history`: the store's audit trail from the versions the shell read from git,
/// each classified like the inspector's change review.
pub fn history(
    env: &str,
    revisions: &[crate::views::history::Revision],
) -> Result<crate::views::history::History, Error> {
    check_env_name(env)?;
    Ok(crate::views::history::history(env, revisions))
}

/// `pki ls`: the listing. Credential-free.
pub fn ls(env: &Env, now: OffsetDateTime) -> Result<Listing, Error> {
    crate::views::listing::listing(env.store()?, &env.name, now)
}

/// `validate`: every finding, from the files as they are (parse failures become findings),
/// including a CI recipient that differs between the store and the secret store.
/// Credential-free.
pub fn validate(files: &RepoFiles<'_>, env: &str, now: OffsetDateTime) -> Report {
    crate::views::validate::validate_texts_with_secrets(
        files.inforge_yaml,
        files.regions_yaml,
        files.store,
        files.secret_store,
        env,
        now,
    )
}

/// `inforge pki units`: the systemd pieces that project one service's leaf on its hosts. Needs
/// no store and no identity.
pub fn units(
    env: &Env,
    service: &str,
    opts: &crate::mesh::units::UnitOptions,
) -> Result<crate::mesh::units::Units, Error> {
    crate::mesh::units::units(&env.project, &env.name, service, opts)
}
