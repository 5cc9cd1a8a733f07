//! PKI lifecycle operations on a [`Store`]: add a PKI, mint an intermediate, list.
//!
//! Every operation mutates an in-memory store and either succeeds completely or returns an
//! error before the shell writes anything, so a failed command leaves the file untouched.

use std::collections::BTreeMap;
use std::fmt;

use rand_core::CryptoRngCore;
use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::Cert;
use crate::config::Project;
use crate::custody::{Custodian, Identity, Sealer};
use crate::keys::{Algorithm, PrivateKey};
use crate::profile::{self, CaTier};
use crate::store::{Block, Entry, Pki, Store, Topology};
use crate::Error;

/// A PKI operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// No store yet.
    #[error("no PKI store for environment {env:?} at {path}")]
    StoreMissing {
        /// Environment.
        env: String,
        /// Expected path.
        path: String,
    },
    /// `init` on an existing store.
    #[error("a PKI store already exists at {path}")]
    StoreExists {
        /// Its path.
        path: String,
    },
    /// `init` found no CI recipient.
    #[error("no CI recipient: no --recipient, no `recipient:` in {secrets_path}, and INFORGE_SECRETS_KEY is not set")]
    NoRecipient {
        /// The secret store path consulted.
        secrets_path: String,
    },
    /// Unknown PKI name.
    #[error("no PKI named {name:?} in the store (known: {known})")]
    UnknownPki {
        /// Asked for.
        name: String,
        /// Known names, comma separated.
        known: String,
    },
    /// `add` of an existing name.
    #[error("a PKI named {name:?} already exists")]
    DuplicatePki {
        /// The name.
        name: String,
    },
    /// Intermediates asked of a root-only PKI.
    #[error("{name:?} is a root-only PKI: it has no intermediates")]
    RootOnly {
        /// The PKI.
        name: String,
    },
    /// Scope not global or in regions.yaml.
    #[error("{scope:?} is not a scope: use `global` or a region of regions.yaml ({regions})")]
    UnknownScope {
        /// Asked for.
        scope: String,
        /// Active regions.
        regions: String,
    },
    /// `intermediate` for a scope that already has one.
    #[error("{name:?} already has an intermediate for scope {scope:?}")]
    ScopeExists {
        /// The PKI.
        name: String,
        /// The scope.
        scope: String,
    },
}

impl crate::Coded for PkiError {
    fn code(&self) -> &'static str {
        match self {
            PkiError::StoreMissing { .. } => "store-missing",
            PkiError::StoreExists { .. } => "store-exists",
            PkiError::NoRecipient { .. } => "recipient-missing",
            PkiError::UnknownPki { .. } => "pki-unknown",
            PkiError::DuplicatePki { .. } => "pki-exists",
            PkiError::RootOnly { .. } => "pki-root-only",
            PkiError::UnknownScope { .. } => "scope-unknown",
            PkiError::ScopeExists { .. } => "scope-exists",
        }
    }
    fn hint(&self) -> String {
        match self {
            PkiError::StoreMissing { env, .. } => {
                format!("run `inforge pki init {env}` first (or check -C and the environment name)")
            }
            PkiError::StoreExists { .. } => {
                "the store is never overwritten; to start over, delete it deliberately (git rm) and run init again"
                    .into()
            }
            PkiError::NoRecipient { .. } => {
                "pass --recipient age1…, or export INFORGE_SECRETS_KEY with the CI identity".into()
            }
            PkiError::UnknownPki { .. } => "check the name, or create it with `inforge pki add`".into(),
            PkiError::DuplicatePki { .. } => "choose another name; to replace its keys use `inforge pki rotate`".into(),
            PkiError::RootOnly { .. } => {
                "root-only roots are handed to an online issuer; add a two-tier PKI for a mesh".into()
            }
            PkiError::UnknownScope { .. } => "add the region to regions.yaml first, or check the spelling".into(),
            PkiError::ScopeExists { name, scope } => {
                format!("to replace it use `inforge pki rotate <env> {name} --intermediate {scope}`")
            }
        }
    }
}

/// Looks up a PKI by name.
pub fn get_pki<'s>(store: &'s Store, name: &str) -> Result<&'s Pki, PkiError> {
    store.pkis.get(name).ok_or_else(|| unknown(store, name))
}

fn unknown(store: &Store, name: &str) -> PkiError {
    let known: Vec<&str> = store.pkis.keys().map(String::as_str).collect();
    PkiError::UnknownPki {
        name: name.to_string(),
        known: if known.is_empty() { "none".into() } else { known.join(", ") },
    }
}

/// What an operation that creates keys draws from outside the core: the time, randomness, and
/// sealing (age draws its own entropy, so the shell provides an encrypter).
pub struct Effects<'a, R> {
    /// The command's time (the clock or `INFORGE_NOW`).
    pub now: OffsetDateTime,
    /// Randomness for keys and serials.
    pub rng: &'a mut R,
    /// Encryption to age recipients.
    pub sealer: &'a mut dyn Sealer,
}

/// Seals a freshly generated key to `recipient`.
pub(crate) fn seal_key(
    sealer: &mut dyn Sealer,
    recipient: &str,
    key: &PrivateKey,
    location: &str,
) -> Result<Block, Error> {
    let pem = key.to_pkcs8_pem();
    Ok(Block::new(sealer.seal(recipient, pem.as_bytes(), location)?))
}

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
    crate::names::check_segment("PKI name", name)?;
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
            revoked: Vec::new(),
        },
    );
    Ok(())
}

/// Checks that `scope` is `global` or an active region.
pub fn check_scope(project: &Project, scope: &str) -> Result<(), Error> {
    crate::names::check_segment("scope", scope)?;
    if project.is_scope(scope) {
        Ok(())
    } else {
        let regions = if project.regions.is_empty() { "none".into() } else { project.regions.join(", ") };
        Err(PkiError::UnknownScope { scope: scope.to_string(), regions }.into())
    }
}

/// Decrypts a two-tier PKI's cold root key with the offline identity (checked against the
/// store's `rootRecipient` and against the root certificate).
pub fn open_root(store: &Store, name: &str, root_identity: &Identity) -> Result<(Cert, PrivateKey), Error> {
    let pki = get_pki(store, name)?;
    let (custodian, recipient) = match pki.topology {
        Topology::TwoTier => (Custodian::OfflineRoot, &store.root_recipient),
        Topology::RootOnly => (Custodian::Ci, &store.recipient),
    };
    debug_assert_eq!(root_identity.custodian(), custodian);
    root_identity.expect_recipient(recipient)?;
    let cert = Cert::from_pem(pki.root.cert.as_str(), &format!("pkis.{name}.root.cert"))?;
    let key = root_identity.open_key(pki.root.key.as_str(), &cert, &format!("pkis.{name}.root.key"))?;
    Ok((cert, key))
}

/// The custodian that holds a PKI's root key.
pub fn root_custodian(store: &Store, name: &str) -> Result<Custodian, PkiError> {
    Ok(match get_pki(store, name)?.topology {
        Topology::TwoTier => Custodian::OfflineRoot,
        Topology::RootOnly => Custodian::Ci,
    })
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
    let algorithm = get_pki(store, name)?.algorithm;
    let key = PrivateKey::generate(algorithm, &mut *fx.rng);
    let cert =
        profile::issue_intermediate(name, env, scope, &key.public(), (&root_cert, &root_key), fx.now, &mut *fx.rng)?;
    let recipient = store.recipient.clone();
    let sealed = seal_key(fx.sealer, &recipient, &key, &format!("pkis.{name}.intermediates.{scope}.key"))?;
    let pki =
        store.pkis.get_mut(name).ok_or_else(|| PkiError::UnknownPki { name: name.into(), known: String::new() })?;
    pki.intermediates.insert(scope.to_string(), Entry { cert: Block::new(cert.pem()), key: sealed });
    Ok(())
}

/// A certificate as `ls` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertSummary {
    /// Subject DN.
    pub subject: String,
    /// notAfter (RFC 3339).
    pub not_after: String,
    /// Whole days from now to notAfter (negative: expired).
    pub days_left: i64,
    /// SHA-256 fingerprint.
    pub fingerprint: String,
    /// Past notAfter.
    pub expired: bool,
}

impl CertSummary {
    /// Summarises a certificate at `now`.
    pub fn of(cert: &Cert, now: OffsetDateTime) -> CertSummary {
        CertSummary {
            subject: cert.subject(),
            not_after: crate::time::format_rfc3339(cert.not_after()),
            days_left: (cert.not_after() - now).whole_days(),
            fingerprint: cert.fingerprint(),
            expired: cert.not_after() < now,
        }
    }
}

/// Overlap state of a PKI.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OverlapSummary {
    /// A root overlap is in progress (previous roots present).
    pub root_overlap: bool,
    /// When it started.
    pub root_overlap_started: Option<String>,
    /// From when `--root --finalize` is allowed without --force.
    pub finalize_allowed_at: Option<String>,
    /// Retired roots still trusted.
    pub previous_roots: Vec<CertSummary>,
    /// Retired intermediate certificates still in bundles, per scope.
    pub previous_intermediates: BTreeMap<String, Vec<CertSummary>>,
}

/// One PKI as `ls` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PkiSummary {
    /// Name.
    pub name: String,
    /// two-tier or root-only.
    pub topology: &'static str,
    /// Key algorithm.
    pub algorithm: &'static str,
    /// Tiers present: "root", "intermediate:<scope>"…
    pub tiers: Vec<String>,
    /// The root.
    pub root: CertSummary,
    /// Intermediates by scope.
    pub intermediates: BTreeMap<String, CertSummary>,
    /// Overlap state.
    pub overlap: OverlapSummary,
    /// Revoked certificates.
    pub revoked: Vec<crate::store::Revoked>,
}

/// `inforge pki ls`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    /// Environment.
    pub env: String,
    /// The time the listing was computed for.
    pub now: String,
    /// PKIs by name order.
    pub pkis: Vec<PkiSummary>,
}

/// Builds the listing (credential-free: certificates only).
pub fn listing(store: &Store, env: &str, now: OffsetDateTime) -> Result<Listing, Error> {
    let mut pkis = Vec::new();
    for (name, pki) in &store.pkis {
        let root = Cert::from_pem(pki.root.cert.as_str(), &format!("pkis.{name}.root.cert"))?;
        let mut tiers = vec!["root".to_string()];
        let mut intermediates = BTreeMap::new();
        for (scope, e) in &pki.intermediates {
            let c = Cert::from_pem(e.cert.as_str(), &format!("pkis.{name}.intermediates.{scope}.cert"))?;
            tiers.push(format!("intermediate:{scope}"));
            intermediates.insert(scope.clone(), CertSummary::of(&c, now));
        }
        let previous_roots = pki
            .previous_roots
            .iter()
            .enumerate()
            .map(|(i, e)| {
                Cert::from_pem(e.cert.as_str(), &format!("pkis.{name}.previousRoots[{i}].cert"))
                    .map(|c| CertSummary::of(&c, now))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut previous_intermediates = BTreeMap::new();
        for (scope, certs) in &pki.previous_intermediates {
            let mut v = Vec::new();
            for (i, b) in certs.iter().enumerate() {
                let c = Cert::from_pem(b.as_str(), &format!("pkis.{name}.previousIntermediates.{scope}[{i}]"))?;
                v.push(CertSummary::of(&c, now));
            }
            previous_intermediates.insert(scope.clone(), v);
        }
        pkis.push(PkiSummary {
            name: name.clone(),
            topology: pki.topology.name(),
            algorithm: pki.algorithm.name(),
            tiers,
            root: CertSummary::of(&root, now),
            intermediates,
            overlap: OverlapSummary {
                root_overlap: !pki.previous_roots.is_empty(),
                root_overlap_started: pki.root_overlap_started.clone(),
                finalize_allowed_at: crate::rotate::finalize_allowed_at(store, name)?.map(crate::time::format_rfc3339),
                previous_roots,
                previous_intermediates,
            },
            revoked: pki.revoked.clone(),
        });
    }
    Ok(Listing { env: env.to_string(), now: crate::time::format_rfc3339(now), pkis })
}

fn expiry(c: &CertSummary) -> String {
    if c.expired {
        format!("EXPIRED {} ({} days ago)", c.not_after, -c.days_left)
    } else {
        format!("expires {} ({} days)", c.not_after, c.days_left)
    }
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pkis.is_empty() {
            return writeln!(
                f,
                "{}: no PKIs yet (add one with `inforge pki add {} <name> --topology two-tier`)",
                self.env, self.env
            );
        }
        for p in &self.pkis {
            writeln!(f, "{}  {}  {}", p.name, p.topology, p.algorithm)?;
            writeln!(f, "  root                     {}", expiry(&p.root))?;
            for (scope, c) in &p.intermediates {
                writeln!(f, "  intermediate {:<12}{}", scope, expiry(c))?;
            }
            if p.topology == "two-tier" && p.intermediates.is_empty() {
                writeln!(
                    f,
                    "  intermediates            none yet (`inforge pki intermediate {} {} <scope>`)",
                    self.env, p.name
                )?;
            }
            if p.overlap.root_overlap {
                writeln!(
                    f,
                    "  overlap                  root rotation since {} ({} previous root(s)); finalize from {}",
                    p.overlap.root_overlap_started.as_deref().unwrap_or("unknown"),
                    p.overlap.previous_roots.len(),
                    p.overlap.finalize_allowed_at.as_deref().unwrap_or("now")
                )?;
            }
            for (scope, v) in &p.overlap.previous_intermediates {
                writeln!(f, "  previous {:<16}{} previous intermediate(s) still in bundles", scope, v.len())?;
            }
            for r in &p.revoked {
                let short: String = r.fingerprint.chars().take(16).collect();
                writeln!(f, "  revoked {:<17}{short}… at {}", r.scope, r.revoked_at)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::tests::{identity, TestSealer};
    use rand_chacha::rand_core::SeedableRng;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap()
    }

    #[test]
    fn lifecycle_custody_and_refusals() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let root_id = identity(Custodian::OfflineRoot);
        let ci = identity(Custodian::Ci);
        let project = Project::parse("baseDomain: w.example\n", Some("regions: [us-east-1]\n")).unwrap();
        let mut s = Store::new(root_id.recipient(), ci.recipient());
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
