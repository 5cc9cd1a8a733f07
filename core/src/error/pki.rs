//! The pki area's failures (moved out of `pki::tiers` so the error module depends on no area).

use crate::error::remedy::{Coded, Op, Opt, Remedy, Step};
use crate::model::custodian::Custodian;
use crate::remedy;

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
    #[error("no CI recipient: none was given, {secrets_path} has no `recipient:`, and no CI identity was given")]
    NoRecipient {
        /// The secret store path consulted.
        secrets_path: String,
    },
    /// `revoke-leaf` was given something that is not a serial number.
    #[error("{serial:?} is not a certificate serial number (hex, 1 to 20 bytes, not zero)")]
    SerialInvalid {
        /// What was given.
        serial: String,
    },
    /// `revoke-leaf` on a serial already recorded.
    #[error("leaf {serial} of {pki:?} is already revoked (recorded {at})")]
    LeafAlreadyRevoked {
        /// PKI.
        pki: String,
        /// The serial.
        serial: String,
        /// When it was recorded.
        at: String,
    },
    /// `revoke-leaf` on the serial of one of the PKI's CAs.
    #[error("{serial} is the serial of {what} of {pki:?}, not of a leaf")]
    SerialIsCa {
        /// PKI.
        pki: String,
        /// The serial.
        serial: String,
        /// Which CA (`the root`, `the us-east-1 intermediate`, …).
        what: String,
        /// The CA's scope when it is an intermediate.
        scope: Option<String>,
    },
    /// `pki add --leaf-ttl` is not a lifetime from 1h to 90d, or was given for a root-only PKI.
    #[error("--leaf-ttl {value:?} for {pki:?} {problem}")]
    LeafTtl {
        /// PKI.
        pki: String,
        /// What was given.
        value: String,
        /// What is wrong with it.
        problem: String,
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
    /// A CA certificate breaks its tier's profile.
    #[error("{location} breaks the {tier} profile: {problem}")]
    Profile {
        /// Store location.
        location: String,
        /// The tier ("root", "intermediate").
        tier: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// An intermediate does not verify against its PKI's current root.
    #[error("{location} does not verify against the current root of {pki:?}")]
    NotSignedByRoot {
        /// Store location.
        location: String,
        /// PKI.
        pki: String,
        /// Scope.
        scope: String,
    },
    /// A root certificate is not self-signed.
    #[error("{location} is not self-signed")]
    RootNotSelfSigned {
        /// Store location.
        location: String,
    },
    /// An intermediate's subject names another PKI, environment or scope than its slot.
    #[error("{location} has subject {subject:?}, which is not an intermediate of {pki:?} {env:?} for scope {scope:?}")]
    ScopeMismatch {
        /// Store location.
        location: String,
        /// Its subject.
        subject: String,
        /// PKI of the slot.
        pki: String,
        /// Environment.
        env: String,
        /// Scope of the slot.
        scope: String,
    },
    /// A certificate recorded as revoked is still current or still trusted.
    #[error("{location} is recorded as revoked but is still {how}")]
    RevokedInUse {
        /// Store location.
        location: String,
        /// "current" or "listed as previous (it would be trusted)".
        how: &'static str,
        /// PKI.
        pki: String,
        /// Scope.
        scope: String,
    },
    /// `rootRecipient` and `recipient` name the same key.
    #[error("rootRecipient and recipient are the same key ({recipient}): the cold root would be sealed to CI")]
    SameCustodian {
        /// The recipient.
        recipient: String,
    },
    /// A number in the store or the command is out of the range inforge accepts.
    #[error("{field} is {value}, outside the accepted range {min}..={max}")]
    OutOfRange {
        /// Which number.
        field: String,
        /// Its value.
        value: u64,
        /// Lowest accepted.
        min: u64,
        /// Highest accepted.
        max: u64,
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

impl Coded for PkiError {
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
            PkiError::Profile { .. } => "profile-violation",
            PkiError::NotSignedByRoot { .. } => "intermediate-signature",
            PkiError::RootNotSelfSigned { .. } => "root-not-self-signed",
            PkiError::ScopeMismatch { .. } => "intermediate-scope-mismatch",
            PkiError::RevokedInUse { .. } => "revoked-in-use",
            PkiError::OutOfRange { .. } => "number-out-of-range",
            PkiError::SameCustodian { .. } => "custodians-same",
            PkiError::SerialInvalid { .. } => "serial-invalid",
            PkiError::LeafAlreadyRevoked { .. } => "leaf-already-revoked",
            PkiError::SerialIsCa { .. } => "serial-is-ca",
            PkiError::LeafTtl { .. } => "leaf-ttl-invalid",
        }
    }
    fn remedy(&self) -> Remedy {
        match self {
            PkiError::StoreMissing { env, .. } => remedy![
                "run `",
                Step::new(Op::Init).env(env),
                "` first (or check ",
                Opt::RepoDir,
                " and the environment name)"
            ],
            PkiError::StoreExists { .. } => {
                "the store is never overwritten; to start over, delete it deliberately (git rm) and run init again"
                    .into()
            }
            PkiError::NoRecipient { .. } => {
                remedy!["pass ", Opt::Recipient, ", or give ", Custodian::Ci, " with the CI identity"]
            }
            PkiError::UnknownPki { name, .. } => {
                remedy!["check the name, or create it with `", Step::new(Op::Add).pki(name), "`"]
            }
            PkiError::DuplicatePki { name } => {
                remedy!["choose another name; to replace its keys use `", Step::new(Op::RotateRoot).pki(name), "`"]
            }
            PkiError::RootOnly { .. } => {
                "root-only roots are handed to an online issuer; add a two-tier PKI for a mesh".into()
            }
            PkiError::UnknownScope { .. } => "add the region to regions.yaml first, or check the spelling".into(),
            PkiError::ScopeExists { name, scope } => {
                remedy!["to replace it use `", Step::new(Op::RotateIntermediate).pki(name).scope(scope), "`"]
            }
            PkiError::Profile { .. } | PkiError::RootNotSelfSigned { .. } => {
                "this certificate was not issued by inforge's profile: restore the store from git, or re-mint the tier (docs/runbooks/)".into()
            }
            PkiError::NotSignedByRoot { pki, scope, .. } => remedy![
                "this intermediate was not issued by the cold root (or the store was edited): restore the store from git, or re-mint it with `",
                Step::new(Op::RotateIntermediate).pki(pki).scope(scope),
                "`"
            ],
            PkiError::ScopeMismatch { .. } => {
                "an intermediate was moved to another scope's slot: restore the store from git (a scope must only ever hold its own intermediate)".into()
            }
            PkiError::RevokedInUse { pki, scope, how, .. } => {
                if *how == "current" {
                    remedy!["replace it: `", Step::new(Op::RecoverIntermediate).pki(pki).scope(scope), "`"]
                } else {
                    "remove it: restore the store from the recover-intermediate commit".into()
                }
            }
            PkiError::SameCustodian { .. } => {
                "restore pki.enc.yaml from git: the offline root and CI must be different age identities".into()
            }
            PkiError::LeafTtl { .. } => {
                "give a number and a unit from 1h to 90d, e.g. 24h or 30d, and only for a two-tier PKI".into()
            }
            PkiError::SerialInvalid { .. } => {
                "give the leaf's serial in hex, as `renew --json` (serial) or `openssl x509 -noout -serial -in cert.pem` print it".into()
            }
            PkiError::LeafAlreadyRevoked { .. } => remedy![
                "nothing to record: every CRL renew signs lists it; run `",
                Step::new(Op::Renew),
                "` if hosts do not have it yet"
            ],
            PkiError::SerialIsCa { pki, scope: Some(scope), .. } => remedy![
                "a compromised intermediate is replaced and revoked whole: `",
                Step::new(Op::RecoverIntermediate).pki(pki).scope(scope),
                "`"
            ],
            PkiError::SerialIsCa { pki, .. } => {
                remedy!["a compromised root is replaced by a root rotation: `", Step::new(Op::RotateRoot).pki(pki), "`"]
            }
            PkiError::OutOfRange { min, max, .. } => {
                format!("use a value from {min} to {max} (if the store holds it, restore the store from git)").into()
            }
        }
    }
}
