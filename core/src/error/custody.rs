//! The custody area's failures (moved out of `crypto::custody` so the error module depends on no area).

use crate::error::remedy::{Coded, Opt, Remedy};
use crate::model::custodian::Custodian;
use crate::remedy;

/// A failure of custody. Messages never contain identities, plaintext or key material.
#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    /// The operation needs this custodian's identity and none was given.
    #[error("this operation needs the {} identity and none was given", custodian.short())]
    IdentityMissing {
        /// Whose identity.
        custodian: Custodian,
    },
    /// The identity given does not hold an age identity.
    #[error("{source_name} does not hold an age identity (AGE-SECRET-KEY-1… or AGE-PLUGIN-…)")]
    IdentityInvalid {
        /// Whose identity.
        custodian: Custodian,
        /// Where it came from (a variable, a file, an argument), named by the frontend.
        source_name: String,
    },
    /// The identity was given in two ways at once (e.g. a variable and a file).
    #[error("the {} identity was given twice: as {first} and as {second}", custodian.short())]
    IdentityAmbiguous {
        /// Whose identity.
        custodian: Custodian,
        /// One source.
        first: String,
        /// The other.
        second: String,
    },
    /// The identity's source could not be read.
    #[error("cannot read the {} identity from {source_name}: {reason}", custodian.short())]
    IdentityUnreadable {
        /// Whose identity.
        custodian: Custodian,
        /// Where it was to come from.
        source_name: String,
        /// Why (never the value).
        reason: String,
    },
    /// The identity is valid but is not the store's recipient for this custodian.
    #[error("the {} identity given is not the one of this store's {field} ({expected})", custodian.short())]
    IdentityWrong {
        /// Whose identity.
        custodian: Custodian,
        /// The store field.
        field: &'static str,
        /// The recipient the store expects (public).
        expected: String,
    },
    /// A recipient string is not an age X25519 recipient.
    #[error("{field} {} is not an age X25519 recipient (age1…)", shown_recipient(value, *secret))]
    RecipientInvalid {
        /// Where the recipient came from.
        field: String,
        /// The rejected value (recipients are public); empty when `secret`.
        value: String,
        /// The value is an age identity (the secret half), so it is never shown.
        secret: bool,
    },
    /// Decryption failed.
    #[error("cannot decrypt {location}: {reason}")]
    Decrypt {
        /// Store location of the ciphertext.
        location: String,
        /// Why (from age; contains no secret).
        reason: String,
    },
    /// Encryption failed.
    #[error("cannot encrypt {location}: {reason}")]
    Seal {
        /// Store location being written.
        location: String,
        /// Why.
        reason: String,
    },
    /// The store's CI recipient differs from the secret store's.
    #[error("the store's `recipient:` ({store}) is not the secret store's ({secret_store}): new keys would be sealed to someone else")]
    RecipientMismatch {
        /// The PKI store's recipient.
        store: String,
        /// The secret store's recipient.
        secret_store: String,
    },
    /// Fewer custodians' shares opened than the quorum's threshold.
    #[error(
        "quorum not met: {opened} of the offline root's shares opened, {needed} needed (from {given} identity source{}); missing custodians: {}",
        if *given == 1 { "" } else { "s" },
        missing.join(", ")
    )]
    QuorumNotMet {
        /// Shares that opened.
        opened: usize,
        /// The threshold.
        needed: usize,
        /// Recipients of the custodians whose shares did not open.
        missing: Vec<String>,
        /// How many identity sources were given.
        given: usize,
    },
    /// A share opened but is not a share of this store's root identity.
    #[error("the root share of custodian {custodian}, opened with {source_name}, is invalid: {reason}")]
    ShareInvalid {
        /// The custodian's recipient (public).
        custodian: String,
        /// Which identity source opened it.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// A passphrase-protected identity file and no passphrase to open it.
    #[error("{source_name} is passphrase-protected and no passphrase was given for it")]
    PassphraseMissing {
        /// The identity file.
        source_name: String,
    },
    /// The passphrase does not open the identity file.
    #[error("the passphrase given does not open {source_name}")]
    PassphraseWrong {
        /// The identity file.
        source_name: String,
    },
    /// An `AGE-PLUGIN-…` identity or a plugin recipient whose program is not on PATH.
    #[error("{source_name} needs the age plugin program age-plugin-{plugin}, which is not on PATH")]
    PluginMissing {
        /// The plugin's name (`yubikey`).
        plugin: String,
        /// Where the identity or recipient came from.
        source_name: String,
    },
    /// `rekey --ci` was not given the identity the CI keys are sealed to now.
    #[error(
        "{}: re-sealing opens the CI keys with the previous CI identity, the one of the store's recipient ({recipient})",
        if *given { "the CI identity given is not the previous one" } else { "no CI identity was given" }
    )]
    PreviousCiIdentityNeeded {
        /// The store's current CI recipient.
        recipient: String,
        /// An identity was given (the wrong one).
        given: bool,
    },
    /// The identity (a rebuilt quorum, or plugin keys) does not open the custodian's keys.
    #[error(
        "the {} identity given does not open {location}, a key the store holds for it: the store's recipient and quorum do not belong to its keys",
        custodian.short()
    )]
    CustodyInconsistent {
        /// Whose identity.
        custodian: Custodian,
        /// The key tried.
        location: String,
    },
    /// The secret store names no CI recipient to re-key to.
    #[error("{secrets_path} names no `recipient:`: there is no new CI recipient to re-seal to")]
    SecretStoreRecipientMissing {
        /// The secret store consulted.
        secrets_path: String,
    },
    /// A quorum policy breaks a rule.
    #[error("invalid quorum: {problem}")]
    QuorumPolicyInvalid {
        /// Which rule, with the values.
        problem: String,
    },
    /// The decrypted key does not belong to the certificate it is stored with.
    #[error("the private key at {location} does not match its certificate's public key")]
    KeyMismatch {
        /// Store location of the key.
        location: String,
    },
}

impl Coded for CustodyError {
    fn code(&self) -> &'static str {
        match self {
            CustodyError::IdentityMissing { .. } => "identity-missing",
            CustodyError::IdentityInvalid { .. } => "identity-invalid",
            CustodyError::IdentityWrong { .. } => "identity-wrong",
            CustodyError::IdentityAmbiguous { .. } => "identity-ambiguous",
            CustodyError::IdentityUnreadable { .. } => "identity-unreadable",
            CustodyError::RecipientInvalid { .. } => "recipient-invalid",
            CustodyError::Decrypt { .. } => "decrypt-failed",
            CustodyError::Seal { .. } => "encrypt-failed",
            CustodyError::KeyMismatch { .. } => "key-mismatch",
            CustodyError::QuorumNotMet { .. } => "quorum-not-met",
            CustodyError::ShareInvalid { .. } => "share-invalid",
            CustodyError::QuorumPolicyInvalid { .. } => "quorum-invalid",
            CustodyError::PassphraseMissing { .. } => "passphrase-missing",
            CustodyError::CustodyInconsistent { .. } => "custody-inconsistent",
            CustodyError::SecretStoreRecipientMissing { .. } => "recipient-missing",
            CustodyError::PreviousCiIdentityNeeded { given: true, .. } => "identity-wrong",
            CustodyError::PreviousCiIdentityNeeded { given: false, .. } => "identity-missing",
            CustodyError::PassphraseWrong { .. } => "passphrase-wrong",
            CustodyError::PluginMissing { .. } => "plugin-missing",
            CustodyError::RecipientMismatch { .. } => "recipient-mismatch",
        }
    }
    fn remedy(&self) -> Remedy {
        match self {
            CustodyError::IdentityMissing { custodian } => {
                remedy!["set ", *custodian, " to ", custodian.describe()]
            }
            CustodyError::IdentityInvalid { custodian, .. } => remedy![
                "set ",
                *custodian,
                " to ",
                custodian.describe(),
                ": an age identity file (AGE-SECRET-KEY-1… or AGE-PLUGIN-… lines; `#` comments and blank lines allowed)"
            ],
            CustodyError::IdentityWrong { custodian, .. } => remedy![
                *custodian,
                " must be ",
                custodian.describe(),
                "; check you gave the identity for this environment"
            ],
            CustodyError::IdentityAmbiguous { .. } => "give the identity one way only".into(),
            CustodyError::IdentityUnreadable { custodian, .. } => {
                remedy!["make ", *custodian, " hold ", custodian.describe(), " as UTF-8 text"]
            }
            CustodyError::RecipientInvalid { secret: true, .. } => {
                "that is an identity, the secret half: give its recipient instead (`age-keygen -y` prints it), and treat the identity as exposed if it was ever committed or logged".into()
            }
            CustodyError::RecipientInvalid { .. } => {
                "give an age X25519 recipient such as the output of `age-keygen -y`".into()
            }
            CustodyError::Decrypt { .. } => {
                "the ciphertext is corrupt or was not encrypted to this identity: restore pki.enc.yaml from git".into()
            }
            CustodyError::Seal { .. } => "check the store's recipients".into(),
            CustodyError::RecipientMismatch { .. } => remedy![
                "if the CI identity was replaced, re-seal the store to it with `",
                crate::error::Step::new(crate::error::Op::RekeyCi),
                "` (with the previous CI identity); otherwise fix the secret store's `recipient:` or restore pki.enc.yaml from git"
            ],
            CustodyError::QuorumNotMet { needed, .. } => remedy![
                format!("bring at least {needed} custodians together and give one identity file each: "),
                Opt::CustodianFiles,
                "; nothing was changed"
            ],
            CustodyError::ShareInvalid { .. } => {
                "the store's rootQuorum was tampered with or mixed with another store's: restore pki.enc.yaml from git, and check that custodian's identity file".into()
            }
            CustodyError::PreviousCiIdentityNeeded { .. } => remedy![
                "set ",
                Custodian::Ci,
                " to the previous CI identity (the secret store already names the new one); nothing was changed"
            ],
            CustodyError::CustodyInconsistent { custodian, .. } => remedy![
                "check you gave the identities of this environment's ",
                custodian.short(),
                " custodian(s); if they are right, the store's rootRecipient/rootQuorum or recipient were replaced: restore pki.enc.yaml from git and review who changed them"
            ],
            CustodyError::SecretStoreRecipientMissing { secrets_path } => format!(
                "put the new CI recipient in {secrets_path} as `recipient:` (the secret store is the source of truth for it), then re-key"
            )
            .into(),
            CustodyError::PassphraseMissing { .. } => {
                remedy!["run it at a terminal to be asked, or name ", Opt::PassphraseFile, " (one passphrase per line)"]
            }
            CustodyError::PassphraseWrong { .. } => remedy![
                "give that file's passphrase (at the terminal, or in ",
                Opt::PassphraseFile,
                "); nothing was changed"
            ],
            CustodyError::PluginMissing { plugin, .. } => {
                format!("install age-plugin-{plugin} and put it on PATH (hardware identities need their plugin)").into()
            }
            CustodyError::QuorumPolicyInvalid { .. } => {
                "give N distinct custodian recipients (none of them the CI recipient) and a threshold M with 1 ≤ M ≤ N".into()
            }
            CustodyError::KeyMismatch { .. } => {
                "the store was tampered with or corrupted: restore pki.enc.yaml from git and do not use this key".into()
            }
        }
    }
}

/// A rejected recipient as shown in a message: quoted when it is public text, never when it
/// is an identity.
fn shown_recipient(value: &str, secret: bool) -> String {
    if secret {
        "(an age identity, not shown)".to_string()
    } else {
        format!("{value:?}")
    }
}
