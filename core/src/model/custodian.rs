//! The two custodians of a store's keys: a leaf of the module graph (errors name them too).
//! How a frontend asks for a custodian's identity (an environment variable, a keyword
//! argument) is that frontend's business, never the core's.

/// Which of the two custodians a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Custodian {
    /// The offline operator: cold two-tier root keys.
    OfflineRoot,
    /// CI: intermediate keys and root-only issuer keys.
    Ci,
}

impl Custodian {
    /// The store field naming this custodian's recipient.
    pub fn store_field(self) -> &'static str {
        match self {
            Custodian::OfflineRoot => "rootRecipient",
            Custodian::Ci => "recipient",
        }
    }
    /// Short name for messages.
    pub fn short(self) -> &'static str {
        match self {
            Custodian::OfflineRoot => "offline root",
            Custodian::Ci => "CI",
        }
    }
    /// What this identity is, for remedies.
    pub fn describe(self) -> &'static str {
        match self {
            Custodian::OfflineRoot => "the offline root identity printed when the store was created (keep it off CI)",
            Custodian::Ci => "the CI identity of the secret store",
        }
    }
}
