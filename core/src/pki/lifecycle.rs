//! Lifecycle writes on a [`Store`]: add a PKI ([`add_pki`]) and mint a scope's intermediate
//! ([`add_intermediate`]). Each mutates an in-memory store and either succeeds completely or
//! returns an error before the shell writes anything, so a failed command leaves the file
//! untouched.

use std::collections::BTreeMap;

use rand_core::CryptoRngCore;

use crate::crypto::cert::Cert;
use crate::crypto::custody::Identity;
use crate::crypto::effects::Effects;
use crate::crypto::keys::{Algorithm, PrivateKey};
use crate::crypto::profile::{self, CaTier};
use crate::error::PkiError;
use crate::model::config::Project;
use crate::model::store::{Block, Entry, Pki, Store, Topology};
use crate::pki::tiers::{check_scope, get_pki, open_root, seal_key};
use crate::Error;

/// `inforge pki add`: generates a root and records it. A two-tier root is cold (sealed to
/// `rootRecipient`); a root-only root is handed to an online issuer (sealed to CI).
pub fn add_pki(
    store: &mut Store,
    env: &str,
    name: &str,
    topology: Topology,
    algorithm: Algorithm,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<(), Error> {
    crate::model::names::check_segment("PKI name", name)?;
    if store.pkis.contains_key(name) {
        return Err(PkiError::DuplicatePki { name: name.to_string() }.into());
    }
    let (tier, recipient) = match topology {
        Topology::TwoTier => (CaTier::TwoTierRoot, store.root_recipient.clone()),
        Topology::RootOnly => (CaTier::RootOnly, store.recipient.clone()),
    };
    let key = PrivateKey::generate(algorithm, &mut *fx.rng);
    let cert = profile::issue_root(name, env, tier, &key, fx.now, &mut *fx.rng)?;
    let sealed = seal_key(fx.sealer, &recipient, &key, &format!("pkis.{name}.root.key"))?;
    store.pkis.insert(
        name.to_string(),
        Pki {
            topology,
            algorithm,
            root: Entry { cert: Block::new(cert.pem()), key: sealed },
            intermediates: BTreeMap::new(),
            previous_roots: Vec::new(),
            previous_intermediates: BTreeMap::new(),
            root_overlap_started: None,
            root_overlap_min_days: None,
            root_switched_at: None,
            revoked: Vec::new(),
            revoked_leaves: Vec::new(),
            leaf_ttl: None,
            root_crls: vec![],
            root_finalized_at: None,
        },
    );
    Ok(())
}

/// Checks everything `intermediate` needs except the identity, so that argument errors are
/// reported before asking for the offline key.
pub fn check_new_intermediate(store: &Store, project: &Project, name: &str, scope: &str) -> Result<(), Error> {
    let pki = get_pki(store, name)?;
    if pki.topology == Topology::RootOnly {
        return Err(PkiError::RootOnly { name: name.to_string() }.into());
    }
    check_scope(project, scope)?;
    if pki.intermediates.contains_key(scope) {
        return Err(PkiError::ScopeExists { name: name.to_string(), scope: scope.to_string() }.into());
    }
    Ok(())
}

/// `inforge pki intermediate`: mints a scope's intermediate, signed by the cold root. Its key
/// is sealed to the CI recipient.
pub fn add_intermediate(
    store: &mut Store,
    project: &Project,
    env: &str,
    name: &str,
    scope: &str,
    root_identity: &Identity,
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<(), Error> {
    check_new_intermediate(store, project, name, scope)?;
    let (root_cert, root_key) = open_root(store, name, root_identity)?;
    let (entry, _) = fresh_intermediate(store, env, name, scope, (&root_cert, &root_key), fx)?;
    let pki =
        store.pkis.get_mut(name).ok_or_else(|| PkiError::UnknownPki { name: name.into(), known: String::new() })?;
    pki.intermediates.insert(scope.to_string(), entry);
    Ok(())
}

/// A fresh intermediate for `scope` signed by `root`: a new key from the RNG, its certificate,
/// and the key sealed to the CI recipient. Returns the store entry and the key (still in
/// memory, for recovery's re-mint). Shared by `intermediate`, rotation and recovery.
pub fn fresh_intermediate(
    store: &Store,
    env: &str,
    name: &str,
    scope: &str,
    root: (&Cert, &PrivateKey),
    fx: &mut Effects<'_, impl CryptoRngCore>,
) -> Result<(Entry, PrivateKey), Error> {
    let algorithm = get_pki(store, name)?.algorithm;
    let key = PrivateKey::generate(algorithm, &mut *fx.rng);
    let cert = profile::issue_intermediate(name, env, scope, &key.public(), root, fx.now, &mut *fx.rng)?;
    let sealed = seal_key(fx.sealer, &store.recipient, &key, &format!("pkis.{name}.intermediates.{scope}.key"))?;
    Ok((Entry { cert: Block::new(cert.pem()), key: sealed }, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::custody::tests::{identity, TestSealer};
    use crate::crypto::custody::Custodian;
    use crate::views::listing::listing;
    use rand_chacha::rand_core::SeedableRng;
    use time::OffsetDateTime;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap()
    }

    #[test]
    fn lifecycle_custody_and_refusals() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let root_id = identity(Custodian::OfflineRoot);
        let ci = identity(Custodian::Ci);
        let project = Project::parse("baseDomain: w.example\n", Some("regions: [us-east-1]\n")).unwrap();
        let mut s = Store::new(root_id.recipient().unwrap(), ci.recipient().unwrap());
        add_pki(
            &mut s,
            "prd",
            "mesh",
            Topology::TwoTier,
            Algorithm::EcdsaP256,
            &mut Effects { now: now(), rng: &mut rng, sealer: &mut TestSealer },
        )
        .unwrap();
        add_pki(
            &mut s,
            "prd",
            "daemon",
            Topology::RootOnly,
            Algorithm::Ed25519,
            &mut Effects { now: now(), rng: &mut rng, sealer: &mut TestSealer },
        )
        .unwrap();
        add_intermediate(
            &mut s,
            &project,
            "prd",
            "mesh",
            "global",
            &root_id,
            &mut Effects { now: now(), rng: &mut rng, sealer: &mut TestSealer },
        )
        .unwrap();

        // Custody: cold root only opens with the offline identity; CI keys with CI.
        let root_cert = Cert::from_pem(s.pkis["mesh"].root.cert.as_str(), "r").unwrap();
        assert!(root_id.open_key(s.pkis["mesh"].root.key.as_str(), &root_cert, "r").is_ok());
        assert!(ci.open(s.pkis["mesh"].root.key.as_str(), "r").is_err());
        let int = &s.pkis["mesh"].intermediates["global"];
        let int_cert = Cert::from_pem(int.cert.as_str(), "i").unwrap();
        assert!(ci.open_key(int.key.as_str(), &int_cert, "i").is_ok());
        int_cert.verify_signed_by(&root_cert, "i").unwrap();
        let daemon_cert = Cert::from_pem(s.pkis["daemon"].root.cert.as_str(), "d").unwrap();
        assert!(ci.open_key(s.pkis["daemon"].root.key.as_str(), &daemon_cert, "d").is_ok());
        // A key that does not match its certificate is refused.
        let e = ci.open_key(int.key.as_str(), &root_cert, "pkis.mesh.intermediates.global.key").unwrap_err();
        assert_eq!(crate::Coded::code(&e), "key-mismatch");

        let before = s.clone();
        let code = |r: Result<(), Error>| crate::Coded::code(&r.unwrap_err());
        assert_eq!(
            code(add_pki(
                &mut s,
                "prd",
                "mesh",
                Topology::TwoTier,
                Algorithm::EcdsaP256,
                &mut Effects { now: now(), rng: &mut rng, sealer: &mut TestSealer }
            )),
            "pki-exists"
        );
        assert_eq!(
            code(add_intermediate(
                &mut s,
                &project,
                "prd",
                "mesh",
                "global",
                &root_id,
                &mut Effects { now: now(), rng: &mut rng, sealer: &mut TestSealer }
            )),
            "scope-exists"
        );
        assert_eq!(
            code(add_intermediate(
                &mut s,
                &project,
                "prd",
                "mesh",
                "mars",
                &root_id,
                &mut Effects { now: now(), rng: &mut rng, sealer: &mut TestSealer }
            )),
            "scope-unknown"
        );
        assert_eq!(
            code(add_intermediate(
                &mut s,
                &project,
                "prd",
                "daemon",
                "global",
                &ci,
                &mut Effects { now: now(), rng: &mut rng, sealer: &mut TestSealer }
            )),
            "pki-root-only"
        );
        assert_eq!(
            code(add_intermediate(
                &mut s,
                &project,
                "prd",
                "nope",
                "global",
                &root_id,
                &mut Effects { now: now(), rng: &mut rng, sealer: &mut TestSealer }
            )),
            "pki-unknown"
        );
        let wrong = identity(Custodian::OfflineRoot);
        assert_eq!(
            code(add_intermediate(
                &mut s,
                &project,
                "prd",
                "mesh",
                "us-east-1",
                &wrong,
                &mut Effects { now: now(), rng: &mut rng, sealer: &mut TestSealer }
            )),
            "identity-wrong"
        );
        assert_eq!(s, before, "failed operations must not change the store");

        let l = listing(&s, "prd", now()).unwrap();
        assert_eq!(l.pkis.len(), 2);
        assert_eq!(l.pkis[1].tiers, vec!["root", "intermediate:global"]);
        assert!(l.to_string().contains("intermediate global"));
        assert_eq!(Store::parse("s", &s.to_yaml()).unwrap(), s);
    }
}
