//! The operations layer: one function per user-facing operation, the only entry points the
//! frontends call. Each takes data (the repo's file texts, identities through a [`Keyring`],
//! [`Effects`]) and returns a typed, serializable result; the shell reads inputs before and
//! writes outputs after. An operation that changes the store returns the new [`Store`] in a
//! [`Changed`]; the shell writes it (atomically) only if its text differs.
//!
//! Identities are asked of the [`Keyring`] only after every argument check passed, so a bad
//! argument is reported before anyone is asked for the offline key, and an operation asks only
//! for the custodian it needs.
//!
//! `renew` returns a [`RenewPlan`] (targets and opened issuers) that a shell mints from in
//! parallel with [`RenewPlan::mint`]: threads stay in the shell.

use crate::crypto::custody::{Custodian, Identity};
use crate::error::PkiError;
use crate::model::config::Project;
use crate::model::store::{store_path, Store};
use crate::Error;

mod custody;
mod merge;
mod read;
mod renew;
mod revocation;
mod rotation;
mod setup;

pub use custody::*;
pub use merge::*;
pub use read::*;
pub use renew::*;
pub use revocation::*;
pub use rotation::*;
pub use setup::*;

/// The infra repo's files, as text, for one environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct RepoFiles<'a> {
    /// `inforge.yaml`.
    pub inforge_yaml: &'a str,
    /// `regions.yaml`, if present.
    pub regions_yaml: Option<&'a str>,
    /// `resources/<env>/pki.enc.yaml`, if present.
    pub store: Option<&'a str>,
    /// `resources/<env>/secrets.enc.yaml`, if present (only its `recipient:` is read).
    pub secret_store: Option<&'a str>,
}

/// Where identities come from: the shell's environment variables and files, Python keyword
/// arguments… Asked only when an operation needs one.
pub trait Keyring {
    /// The identities given for `custodian`, one per source (the custodians of a quorum give
    /// one file each), with plugin identities already resolved; `identity-missing` /
    /// `identity-invalid` when there is none or one is unusable.
    fn identities(&mut self, custodian: Custodian) -> Result<Vec<Identity>, Error>;
}

/// The identity an operation acts as for `custodian`, checked against the store: under quorum
/// custody of the offline root, rebuilt in memory from the custodians' shares
/// ([`crate::crypto::quorum::rebuild`]); else every given identity, as one.
pub fn unlock(keyring: &mut dyn Keyring, custodian: Custodian, store: &Store) -> Result<Identity, Error> {
    let mut sources = keyring.identities(custodian)?;
    if sources.is_empty() {
        return Err(crate::error::CustodyError::IdentityMissing { custodian }.into());
    }
    let id = match (custodian, &store.root_quorum) {
        (Custodian::OfflineRoot, Some(q)) => crate::crypto::quorum::rebuild(&sources, q, &store.root_recipient)?,
        _ => {
            let first = sources.remove(0);
            first.merge(sources)
        }
    };
    let expected = match custodian {
        Custodian::OfflineRoot => &store.root_recipient,
        Custodian::Ci => &store.recipient,
    };
    id.expect_recipient(expected)?;
    // Possession is proven up front by a native key matching the recipient. A plugin-only
    // identity cannot be matched without decrypting, and a rebuilt quorum identity matches
    // whatever `rootRecipient` the store names, even one a store writer replaced together with
    // the quorum: both must open a key the store holds for this custodian, and that key must
    // belong to its committed certificate (commands like `rotate --root` decrypt nothing else).
    let quorum = custodian == Custodian::OfflineRoot && store.root_quorum.is_some();
    if quorum || !id.holds_native(expected) {
        if let Some((_, location, entry)) =
            crate::views::custody::sealed_keys(store).into_iter().find(|k| k.0 == custodian)
        {
            let cert = crate::crypto::cert::Cert::from_pem(entry.cert.as_str(), &location)?;
            id.open_key(entry.key.as_str(), &cert, &location).map_err(|_| {
                crate::error::CustodyError::CustodyInconsistent { custodian, location: location.clone() }
            })?;
        }
    }
    Ok(id)
}

/// One environment of a loaded repo.
#[derive(Debug, Clone)]
pub struct Env {
    /// `inforge.yaml` + `regions.yaml` (shared: a host may keep the parse of a big config for
    /// the rest of the process).
    pub project: std::sync::Arc<Project>,
    /// The environment's name (checked and declared).
    pub name: String,
    /// The store, if the environment has one.
    pub store: Option<Store>,
    /// The secret store's CI recipient, if it names one.
    pub secret_store_recipient: Option<String>,
}

impl Env {
    /// Parses the config, checks the environment's name and declaration, and parses the
    /// store and the secret store's recipient when present.
    pub fn load(files: &RepoFiles<'_>, env: &str) -> Result<Env, Error> {
        let project = Project::parse(files.inforge_yaml, files.regions_yaml)?;
        Self::load_parsed(project.into(), files, env)
    }

    /// [`Env::load`] with the config already parsed by [`Project::parse`] from `files`'
    /// `inforge.yaml` and `regions.yaml` (a host that keeps checked configs between runs,
    /// [`crate::model::config_cache`]); the rest is checked as in [`Env::load`].
    pub fn load_parsed(project: std::sync::Arc<Project>, files: &RepoFiles<'_>, env: &str) -> Result<Env, Error> {
        crate::model::names::check_segment("environment", env)?;
        project.environment(env)?;
        let store = files.store.map(|t| Store::parse(&store_path(env), t)).transpose()?;
        let secrets = format!("resources/{env}/secrets.enc.yaml");
        let secret_store_recipient = files
            .secret_store
            .map(|t| crate::model::config::secret_store_recipient(&secrets, t))
            .transpose()?
            .flatten();
        Ok(Env { project, name: env.to_string(), store, secret_store_recipient })
    }

    /// The store, or `store-missing`.
    pub fn store(&self) -> Result<&Store, Error> {
        self.store
            .as_ref()
            .ok_or_else(|| PkiError::StoreMissing { env: self.name.clone(), path: store_path(&self.name) }.into())
    }

    fn store_mut(&self) -> Result<Store, Error> {
        let s = self.store()?.clone();
        Ok(s)
    }
}

/// Checks an environment name before a shell builds a path from it (`resources/<env>/…`).
pub fn check_env_name(env: &str) -> Result<(), Error> {
    Ok(crate::model::names::check_segment("environment", env)?)
}

/// An operation's new store and its report.
#[derive(Debug)]
pub struct Changed<T> {
    /// The store to write.
    pub store: Store,
    /// What happened.
    pub report: T,
}

#[cfg(test)]
mod tests;
