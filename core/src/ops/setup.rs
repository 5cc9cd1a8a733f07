//! Operations that create and grow a store: `init`, `add`, `intermediate`.

use rand_core::CryptoRngCore;
use serde::Serialize;
use time::OffsetDateTime;

use super::*;
use crate::crypto::cert::Cert;
use crate::crypto::custody::{parse_recipient, Custodian, Identity};
use crate::crypto::effects::Effects;
use crate::crypto::keys::Algorithm;
use crate::error::PkiError;
use crate::model::store::{store_path, Store, Topology};
use crate::pki::tiers::{self};
use crate::{Coded, Error};

/// Where `init` took the CI recipient from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecipientSource {
    /// Given explicitly.
    Argument,
    /// The secret store's `recipient:`.
    SecretStore,
    /// Derived from the CI identity.
    CiIdentity,
}

/// What `init` made.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Initialized {
    /// The environment.
    pub env: String,
    /// The CI recipient.
    pub recipient: String,
    /// Where it came from.
    pub recipient_source: RecipientSource,
    /// The offline root recipient.
    pub root_recipient: String,
}

/// `pki init`: a new store for `env`. The CI recipient is `recipient` if given, else the
/// secret store's, else the CI identity's (if the keyring has one); `root` is the offline root
/// identity the shell just generated (the core draws no OS randomness). Refuses an existing
/// store.
pub fn init(
    env: &Env,
    recipient: Option<&str>,
    keyring: &mut dyn Keyring,
    root: &Identity,
) -> Result<Changed<Initialized>, Error> {
    if env.store.is_some() {
        return Err(PkiError::StoreExists { path: store_path(&env.name) }.into());
    }
    let (recipient, source) = if let Some(r) = recipient {
        (parse_recipient("the given recipient", r)?, RecipientSource::Argument)
    } else if let Some(r) = &env.secret_store_recipient {
        (r.clone(), RecipientSource::SecretStore)
    } else {
        match keyring.identity(Custodian::Ci) {
            Ok(id) => (id.recipient(), RecipientSource::CiIdentity),
            Err(e) if e.code() == "identity-missing" => {
                return Err(
                    PkiError::NoRecipient { secrets_path: format!("resources/{}/secrets.enc.yaml", env.name) }.into()
                )
            }
            Err(e) => return Err(e),
        }
    };
    let store = Store::new(root.recipient(), recipient.clone());
    tiers::check_custodians(&store)?;
    Ok(Changed {
        report: Initialized {
            env: env.name.clone(),
            recipient,
            recipient_source: source,
            root_recipient: store.root_recipient.clone(),
        },
        store,
    })
}

/// What `add` made.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Added {
    /// PKI name.
    pub pki: String,
    /// Its topology.
    pub topology: Topology,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The recipient its root key was sealed to.
    pub sealed_to: String,
    /// The root's fingerprint.
    pub root_fingerprint: String,
}

/// `pki add`: a new PKI with its root. Needs no identity.
pub fn add(
    env: &Env,
    name: &str,
    topology: Topology,
    algorithm: Algorithm,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<Changed<Added>, Error> {
    let mut store = env.store_mut()?;
    before_sealing(env, &store, fx.now)?;
    crate::pki::lifecycle::add_pki(&mut store, &env.name, name, topology, algorithm, fx)?;
    let p = tiers::get_pki(&store, name)?;
    let root = Cert::from_pem(p.root.cert.as_str(), "new root")?;
    let sealed_to = match topology {
        Topology::TwoTier => store.root_recipient.clone(),
        Topology::RootOnly => store.recipient.clone(),
    };
    let report = Added { pki: name.into(), topology, algorithm, sealed_to, root_fingerprint: root.fingerprint() };
    Ok(Changed { store, report })
}

/// A CA certificate a command minted.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntermediateMinted {
    /// PKI.
    pub pki: String,
    /// Scope (intermediates).
    pub scope: Option<String>,
    /// Subject.
    pub subject: String,
    /// SHA-256 fingerprint.
    pub fingerprint: String,
    /// notAfter (RFC 3339).
    pub not_after: String,
    /// The recipient its key was sealed to.
    pub sealed_to: String,
}

pub(crate) fn minted_intermediate(store: &Store, name: &str, scope: &str) -> Result<IntermediateMinted, Error> {
    let p = tiers::get_pki(store, name)?;
    let c = Cert::from_pem(p.intermediates[scope].cert.as_str(), "new intermediate")?;
    Ok(IntermediateMinted {
        pki: name.into(),
        scope: Some(scope.into()),
        subject: c.subject(),
        fingerprint: c.fingerprint(),
        not_after: crate::model::time::format_rfc3339(c.not_after()),
        sealed_to: store.recipient.clone(),
    })
}

/// The offline ceremony seals new intermediate keys to the store's `recipient:`; when the
/// secret store names one too, they must agree (compared canonically), so a tampered store
/// cannot route a fresh key to someone else.
pub(crate) fn check_ci_recipient(env: &Env, store: &Store) -> Result<(), Error> {
    if let Some(r) = &env.secret_store_recipient {
        if !crate::crypto::custody::same_recipient(r, &store.recipient) {
            return Err(crate::error::CustodyError::RecipientMismatch {
                store: store.recipient.clone(),
                secret_store: r.clone(),
            }
            .into());
        }
    }
    Ok(())
}

/// What every operation that seals a new key checks first: two distinct custodians, the CI
/// recipient agreeing with the secret store's, and a time certificates can express.
pub(crate) fn before_sealing(env: &Env, store: &Store, now: OffsetDateTime) -> Result<(), Error> {
    tiers::check_custodians(store)?;
    check_ci_recipient(env, store)?;
    crate::model::time::check_now("the time", now)?;
    Ok(())
}

/// `pki intermediate`: mints a scope's intermediate from the cold root (offline identity).
pub fn intermediate(
    env: &Env,
    name: &str,
    scope: &str,
    keyring: &mut dyn Keyring,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<Changed<IntermediateMinted>, Error> {
    let mut store = env.store_mut()?;
    crate::pki::lifecycle::check_new_intermediate(&store, &env.project, name, scope)?;
    before_sealing(env, &store, fx.now)?;
    let root_id = keyring.identity(tiers::root_custodian(&store, name)?)?;
    crate::pki::lifecycle::add_intermediate(&mut store, &env.project, &env.name, name, scope, &root_id, fx)?;
    let report = minted_intermediate(&store, name, scope)?;
    Ok(Changed { store, report })
}
