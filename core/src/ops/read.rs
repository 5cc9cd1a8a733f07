//! Operations that read only: `status_targets`, `status`, `status_metrics`, `ls`, `validate`, `units`,
//! and the store-file views for git (`show_store`, `review_stores`).

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
    crate::mesh::units::units(&env.project, env.store.as_ref(), &env.name, service, opts)
}

/// `inforge store show`: the secret-free rendering of one store file (no `inforge.yaml`
/// needed). `file` names it in errors.
pub fn show_store(file: &str, text: &str) -> Result<String, Error> {
    Ok(crate::views::show::show(&Store::parse(file, text)?))
}

/// `inforge store show --check`: whether a store file is exactly what inforge would write for
/// it (hand edits and merges by text leave it otherwise). Errors when it is not a store.
pub fn store_is_canonical(file: &str, text: &str) -> Result<bool, Error> {
    Ok(Store::parse(file, text)?.to_yaml() == text)
}

/// `inforge store diff`: the change review between two versions of a store file. An empty
/// text is an absent file (the store was created or deleted): it is compared as the other
/// version with no PKI. `env` fills the next steps' commands.
pub fn review_stores(
    old: (&str, &str),
    new: (&str, &str),
    env: Option<&str>,
) -> Result<crate::views::review::Review, Error> {
    if let Some(env) = env {
        check_env_name(env)?;
    }
    let parse = |(file, text): (&str, &str)| -> Result<Option<Store>, Error> {
        if text.trim().is_empty() {
            Ok(None)
        } else {
            Ok(Some(Store::parse(file, text)?))
        }
    };
    let (before, after) = match (parse(old)?, parse(new)?) {
        (Some(b), Some(a)) => (b, a),
        (None, Some(a)) => (Store { pkis: Default::default(), ..a.clone() }, a),
        (Some(b), None) => (b.clone(), Store { pkis: Default::default(), ..b }),
        (None, None) => {
            let empty = Store::new(String::new(), String::new());
            (empty.clone(), empty)
        }
    };
    Ok(crate::views::review::review(&before, &after, env))
}

/// The leaf check (the inspector's and the npm package's `checkLeaf`) for a repo's
/// environment: the chain against `scope`'s bundle (default: the leaf's own scope).
pub fn check_leaf(
    env: &Env,
    chain_pem: &str,
    scope: Option<&str>,
    now: OffsetDateTime,
) -> Result<crate::views::inspect::LeafCheck, Error> {
    crate::model::time::check_now("the time", now)?;
    crate::views::inspect::check_leaf(env.store()?, &env.project, &env.name, chain_pem, scope, now)
}

/// Which scope's bundle trusts which scope's intermediates, and the boundary rule per pair
/// (the inspector's and the npm package's `trustMatrix`), for a repo's environment.
pub fn trust_matrix(env: &Env) -> Result<crate::views::inspect::TrustMatrix, Error> {
    Ok(crate::views::inspect::trust_matrix(env.store()?, &env.project, &env.name))
}
