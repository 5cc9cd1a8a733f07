//! The PKI store, `resources/<env>/pki.enc.yaml` (SPEC §2): model, strict parsing and a
//! canonical writer, so that loading and saving an unchanged store gives the same bytes.
//!
//! Canonical form: the header comment, then fields in declaration order, maps sorted by key
//! (BTreeMap), PEM and age armor as `|` literal blocks each ending in exactly one newline,
//! empty optional sections omitted.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::crypto::keys::Algorithm;
use crate::error::StoreError;
use crate::model::names::check_segment;

/// The first line of every store inforge writes.
pub const HEADER: &str = "# managed by `inforge pki` — do not edit by hand\n";
pub use crate::model::limits::{FORMAT_VERSION, MAX_CUSTODIANS, MIN_FORMAT_VERSION};

/// Where an environment's store lives, relative to the repo root.
pub fn store_path(env: &str) -> String {
    format!("resources/{env}/pki.enc.yaml")
}

/// A PEM or age-armor block, stored as a YAML literal block. Always ends in one newline.
#[derive(Clone, PartialEq, Eq)]
pub struct Block(String);

impl Block {
    /// Normalises line endings and the trailing newline.
    pub fn new(text: impl AsRef<str>) -> Block {
        let t = text.as_ref().replace("\r\n", "\n");
        Block(format!("{}\n", t.trim_end()))
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Blocks are public PEM or ciphertext, but keep debug output short.
        write!(f, "Block({} bytes)", self.0.len())
    }
}

impl Serialize for Block {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_saphyr::LitStr(&self.0).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Block {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Block::new(String::deserialize(d)?))
    }
}

/// Two-tier mesh or root-only issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// Cold root + one intermediate per scope; leaves minted by `renew`.
    TwoTier,
    /// One root, handed to an online issuer; no leaves.
    RootOnly,
}

impl Topology {
    /// The name used in the store and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Topology::TwoTier => "two-tier",
            Topology::RootOnly => "root-only",
        }
    }
}

/// A certificate with its encrypted private key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Plaintext PEM certificate.
    pub cert: Block,
    /// age-armored PKCS#8 PEM private key.
    pub key: Block,
}

/// A certificate recorded as compromised: it never enters a bundle again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Revoked {
    /// SHA-256 of the certificate DER, lowercase hex.
    pub fingerprint: String,
    /// The scope it served.
    pub scope: String,
    /// Its subject, for humans.
    pub subject: String,
    /// When it was revoked (RFC 3339).
    pub revoked_at: String,
    /// Its serial, lowercase hex (format version 2): what the root's CRL lists. Records from
    /// before inforge signed root CRLs have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
}

/// Why a leaf was revoked: the RFC 5280 reason codes that apply to an end-entity certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    /// No reason given (code 0).
    Unspecified,
    /// The leaf's key leaked or may have (code 1): the default.
    KeyCompromise,
    /// The service changed owner or purpose (code 3).
    AffiliationChanged,
    /// Replaced by a newer leaf (code 4).
    Superseded,
    /// The service is gone (code 5).
    CessationOfOperation,
}

impl RevocationReason {
    /// Every reason, by its store and command-line name.
    pub const ALL: [(RevocationReason, &'static str); 5] = [
        (RevocationReason::Unspecified, "unspecified"),
        (RevocationReason::KeyCompromise, "keyCompromise"),
        (RevocationReason::AffiliationChanged, "affiliationChanged"),
        (RevocationReason::Superseded, "superseded"),
        (RevocationReason::CessationOfOperation, "cessationOfOperation"),
    ];
    /// The store and command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(r, _)| *r == self).map_or("unspecified", |(_, n)| n)
    }
    /// The reason named `name` (as in the store).
    pub fn from_name(name: &str) -> Option<RevocationReason> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(r, _)| *r)
    }
}

/// A leaf recorded as revoked (`pki revoke-leaf`): renew lists it in its intermediate's CRL
/// until every leaf minted before the revocation has expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RevokedLeaf {
    /// The leaf's serial number: lowercase hex, no separators, as `renew --json` reports it.
    pub serial: String,
    /// Why.
    pub reason: RevocationReason,
    /// When it was recorded (RFC 3339): the CRL entry's revocationDate.
    pub revoked_at: String,
}

/// One PKI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Pki {
    /// two-tier or root-only.
    pub topology: Topology,
    /// Key algorithm of every tier.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// The root (cold for two-tier: key to rootRecipient; CI for root-only).
    pub root: Entry,
    /// Per-scope intermediates (two-tier only), keys to the CI recipient.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub intermediates: BTreeMap<String, Entry>,
    /// During a root overlap: the retired root(s), dropped by `--root --finalize`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_roots: Vec<Entry>,
    /// Retired intermediate certificates per scope, still trusted in bundles (public).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub previous_intermediates: BTreeMap<String, Vec<Block>>,
    /// When the current root overlap started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_overlap_started: Option<String>,
    /// Minimum age of the root overlap before `--root --switch` (days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_overlap_min_days: Option<u32>,
    /// When `--root --switch` put the new root's path first in leaf chains (RFC 3339); only
    /// during a two-tier root overlap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_switched_at: Option<String>,
    /// Compromised certificates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<Revoked>,
    /// Revoked leaves (format version 2), in the order they were recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_leaves: Vec<RevokedLeaf>,
    /// The lifetime of this PKI's leaves for services without their own `leafTtl` (format
    /// version 2; `1h` to `90d`; absent: 90 days). Set by `pki add --leaf-ttl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_ttl: Option<String>,
    /// CRLs signed by the roots (format version 2): the current root's and, during an overlap,
    /// the previous roots', re-signed at every offline ceremony that opens them and by
    /// `pki root-crl`. They list the revoked intermediates; renew serves them in `crl.pem`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub root_crls: Vec<Block>,
    /// When the last root overlap was finalized (format version 2; RFC 3339): the time of the
    /// last change that only removed certificates, for the SPIFFE bundles' sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_finalized_at: Option<String>,
}

/// M-of-N custody of the offline root identity (docs/store-format.md, "rootQuorum").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Quorum {
    /// How many shares rebuild the identity (1 ≤ threshold ≤ shares).
    pub threshold: u32,
    /// One share per custodian, in the order the custodians were given.
    pub shares: Vec<SealedShare>,
}

/// One custodian's share of the offline root identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedShare {
    /// The custodian's age recipient (X25519 or a plugin's, e.g. `age1yubikey1…`).
    pub custodian: String,
    /// Integrity check of the share (public): lowercase hex SHA-256 over a label, the
    /// store's `rootRecipient` and the share, so a wrong share is named without trying subsets.
    pub check: String,
    /// The share, age-armored to `custodian`.
    pub share: Block,
}

/// The whole store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Store {
    /// Store format version.
    #[serde(default = "default_version")]
    pub version: u32,
    /// The offline operator's age recipient (cold two-tier root keys).
    pub root_recipient: String,
    /// Quorum custody of the offline root identity (SPEC §10): the identity behind
    /// `rootRecipient` split into shares, each sealed to one custodian. Absent when one person
    /// holds the whole identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_quorum: Option<Quorum>,
    /// The CI age recipient (intermediate and root-only keys).
    pub recipient: String,
    /// PKIs by name.
    #[serde(default)]
    pub pkis: BTreeMap<String, Pki>,
}

fn default_version() -> u32 {
    // A store without `version:` predates format 2.
    MIN_FORMAT_VERSION
}

const CERT_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const AGE_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";

impl Store {
    /// A new, empty store.
    pub fn new(root_recipient: String, recipient: String) -> Store {
        Store { version: MIN_FORMAT_VERSION, root_recipient, root_quorum: None, recipient, pkis: BTreeMap::new() }
    }

    /// Parses and checks a store; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Store, StoreError> {
        // Read the version first, leniently, so a newer store says "upgrade" rather than
        // failing on the fields it added.
        #[derive(Deserialize)]
        struct Head {
            #[serde(default)]
            version: Option<u32>,
        }
        if let Ok(Head { version: Some(v) }) = serde_saphyr::from_str::<Head>(text) {
            if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&v) {
                return Err(StoreError::Version { file: file.to_string(), found: v });
            }
        }
        let store: Store = serde_saphyr::from_str(text)
            .map_err(|e| StoreError::Yaml { file: file.to_string(), detail: e.to_string() })?;
        store.check(file)?;
        Ok(store)
    }

    fn check(&self, file: &str) -> Result<(), StoreError> {
        let invalid =
            |location: String, problem: String| StoreError::Invalid { file: file.to_string(), location, problem };
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&self.version) {
            return Err(StoreError::Version { file: file.to_string(), found: self.version });
        }
        if self.version < self.required_version() {
            return Err(invalid(
                "version".into(),
                format!(
                    "is {}, but revokedLeaves, rootFinalizedAt and leafTtl need format version {}",
                    self.version,
                    self.required_version()
                ),
            ));
        }
        for (field, v) in [("rootRecipient", &self.root_recipient), ("recipient", &self.recipient)] {
            crate::crypto::custody::parse_recipient(field, v).map_err(|e| invalid(field.into(), e.to_string()))?;
        }
        if crate::crypto::custody::same_recipient(&self.root_recipient, &self.recipient) {
            return Err(invalid(
                "rootRecipient".into(),
                "equals recipient: the offline root and CI must be different custodians".into(),
            ));
        }
        if let Some(q) = &self.root_quorum {
            let n = q.shares.len();
            if q.threshold == 0 || q.threshold as usize > n || n > MAX_CUSTODIANS {
                return Err(invalid(
                    "rootQuorum".into(),
                    format!("threshold {} of {n} shares: need 1 ≤ threshold ≤ shares ≤ {MAX_CUSTODIANS}", q.threshold),
                ));
            }
            let mut seen = Vec::new();
            for (i, share) in q.shares.iter().enumerate() {
                let at = format!("rootQuorum.shares[{i}]");
                let custodian = crate::crypto::custody::parse_custodian_recipient("custodian", &share.custodian)
                    .map_err(|e| invalid(format!("{at}.custodian"), e.to_string()))?;
                if seen.contains(&custodian) {
                    return Err(invalid(format!("{at}.custodian"), "names a custodian twice".into()));
                }
                seen.push(custodian);
                if share.check.len() != 64
                    || !share.check.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(invalid(format!("{at}.check"), "must be 64 lowercase hex digits (a SHA-256)".into()));
                }
                if !share.share.0.starts_with(AGE_BEGIN) {
                    return Err(invalid(format!("{at}.share"), "must be age armored ciphertext".into()));
                }
            }
        }
        let cert = |loc: String, b: &Block| {
            if b.0.starts_with(CERT_BEGIN) {
                Ok(())
            } else {
                Err(invalid(loc, "must be a PEM certificate".into()))
            }
        };
        let key = |loc: String, b: &Block| {
            if b.0.starts_with(AGE_BEGIN) {
                Ok(())
            } else {
                Err(invalid(loc, "must be age armored ciphertext (never a plaintext key)".into()))
            }
        };
        for (name, pki) in &self.pkis {
            let at = format!("pkis.{name}");
            check_segment("PKI name", name).map_err(|e| invalid(at.clone(), e.to_string()))?;
            cert(format!("{at}.root.cert"), &pki.root.cert)?;
            key(format!("{at}.root.key"), &pki.root.key)?;
            for (i, e) in pki.previous_roots.iter().enumerate() {
                cert(format!("{at}.previousRoots[{i}].cert"), &e.cert)?;
                key(format!("{at}.previousRoots[{i}].key"), &e.key)?;
            }
            if pki.topology == Topology::RootOnly && !pki.intermediates.is_empty() {
                return Err(invalid(
                    format!("{at}.intermediates"),
                    "must be absent: a root-only PKI has no intermediates".into(),
                ));
            }
            for (scope, e) in &pki.intermediates {
                check_segment("scope", scope).map_err(|err| invalid(format!("{at}.intermediates"), err.to_string()))?;
                cert(format!("{at}.intermediates.{scope}.cert"), &e.cert)?;
                key(format!("{at}.intermediates.{scope}.key"), &e.key)?;
            }
            for (scope, certs) in &pki.previous_intermediates {
                check_segment("scope", scope)
                    .map_err(|err| invalid(format!("{at}.previousIntermediates"), err.to_string()))?;
                for (i, c) in certs.iter().enumerate() {
                    cert(format!("{at}.previousIntermediates.{scope}[{i}]"), c)?;
                }
            }
            if pki.topology == Topology::RootOnly && !pki.previous_intermediates.is_empty() {
                return Err(invalid(
                    format!("{at}.previousIntermediates"),
                    "must be absent: a root-only PKI has no intermediates".into(),
                ));
            }
            for (i, r) in pki.revoked.iter().enumerate() {
                let rat = format!("{at}.revoked[{i}]");
                if r.fingerprint.len() != 64
                    || !r.fingerprint.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    return Err(invalid(
                        format!("{rat}.fingerprint"),
                        "must be a lowercase hex SHA-256 (64 characters)".into(),
                    ));
                }
                check_segment("scope", &r.scope).map_err(|e| invalid(format!("{rat}.scope"), e.to_string()))?;
                crate::model::time::parse_rfc3339(&format!("{rat}.revokedAt"), &r.revoked_at)
                    .map_err(|e| invalid(format!("{rat}.revokedAt"), e.to_string()))?;
                if let Some(s) = &r.serial {
                    if normalize_serial(s).as_deref() != Some(s.as_str()) {
                        return Err(invalid(
                            format!("{rat}.serial"),
                            format!("{s:?} is not a serial number in lowercase hex"),
                        ));
                    }
                }
            }
            check_revoked_leaves(pki, &at).map_err(|(loc, problem)| invalid(loc, problem))?;
            for (i, b) in pki.root_crls.iter().enumerate() {
                if !b.0.starts_with("-----BEGIN X509 CRL-----") {
                    return Err(invalid(format!("{at}.rootCrls[{i}]"), "must be a PEM CRL".into()));
                }
            }
            if pki.topology == Topology::RootOnly && !pki.root_crls.is_empty() {
                return Err(invalid(
                    format!("{at}.rootCrls"),
                    "must be absent: a root-only root is its issuer's".into(),
                ));
            }
            if let Some(v) = &pki.leaf_ttl {
                if pki.topology == Topology::RootOnly {
                    return Err(invalid(
                        format!("{at}.leafTtl"),
                        "must be absent: a root-only PKI's leaves come from its online issuer".into(),
                    ));
                }
                crate::model::config::parse_leaf_ttl(v)
                    .map_err(|problem| invalid(format!("{at}.leafTtl"), format!("{v:?} {problem}")))?;
            }
            if let Some(t) = &pki.root_finalized_at {
                crate::model::time::parse_rfc3339("", t).map_err(|_| {
                    invalid(format!("{at}.rootFinalizedAt"), format!("is not an RFC 3339 timestamp: {t:?}"))
                })?;
            }
            if let Some(t) = &pki.root_overlap_started {
                crate::model::time::parse_rfc3339("", t).map_err(|_| {
                    invalid(format!("{at}.rootOverlapStarted"), format!("is not an RFC 3339 timestamp: {t:?}"))
                })?;
            }
            if let Some(t) = &pki.root_switched_at {
                let switched = crate::model::time::parse_rfc3339("", t).map_err(|_| {
                    invalid(format!("{at}.rootSwitchedAt"), format!("is not an RFC 3339 timestamp: {t:?}"))
                })?;
                // An impossible timeline: the switch cannot precede the overlap it belongs to
                // (a forged one would let finalize run right after `rotate --root`).
                let started =
                    pki.root_overlap_started.as_deref().and_then(|s| crate::model::time::parse_rfc3339("", s).ok());
                if started.is_some_and(|s| switched < s) {
                    return Err(invalid(
                        format!("{at}.rootSwitchedAt"),
                        format!("{t} is before rootOverlapStarted: a switch comes after the overlap starts"),
                    ));
                }
                if pki.previous_roots.is_empty() || pki.topology == Topology::RootOnly {
                    return Err(invalid(
                        format!("{at}.rootSwitchedAt"),
                        "must be absent outside a two-tier root overlap".into(),
                    ));
                }
            }
            if let Some(d) = pki.root_overlap_min_days {
                if d > crate::model::limits::MAX_OVERLAP_DAYS {
                    return Err(invalid(
                        format!("{at}.rootOverlapMinDays"),
                        format!(
                            "is {d}, more than the {} days inforge accepts",
                            crate::model::limits::MAX_OVERLAP_DAYS
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The oldest format version that can hold this store: 2 once a leaf is revoked, else 1,
    /// so stores that use no newer field stay readable by older inforge versions.
    pub fn required_version(&self) -> u32 {
        if self.pkis.values().any(|p| {
            !p.revoked_leaves.is_empty()
                || p.root_finalized_at.is_some()
                || p.leaf_ttl.is_some()
                || !p.root_crls.is_empty()
                || p.revoked.iter().any(|r| r.serial.is_some())
        }) {
            2
        } else {
            MIN_FORMAT_VERSION
        }
    }

    /// The canonical text of the store, written at the oldest version that holds it.
    pub fn to_yaml(&self) -> String {
        let body = if self.version == self.required_version() {
            serde_saphyr::to_string(self).unwrap_or_default()
        } else {
            let mut s = self.clone();
            s.version = self.required_version();
            serde_saphyr::to_string(&s).unwrap_or_default()
        };
        format!("{HEADER}{body}")
    }
}

/// Normalises a serial number as typed (`0A:1b…`, `0x0a1b…`) to the stored form: lowercase
/// hex, no separators, an even number of digits. None when it is not a serial inforge could
/// have issued (1 to 20 bytes, RFC 5280 §4.1.2.2, and not zero).
pub fn normalize_serial(text: &str) -> Option<String> {
    let t = text.trim();
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    let mut hex: String = t.chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if hex.len() % 2 == 1 {
        hex.insert(0, '0');
    }
    if hex.len() > 40 || hex.bytes().all(|b| b == b'0') {
        return None;
    }
    Some(hex)
}

/// The serial's value without leading zero bytes: two spellings of one serial compare equal.
pub fn serial_value(hex: &str) -> &str {
    let v = hex.trim_start_matches('0');
    if v.is_empty() {
        "0"
    } else {
        v
    }
}

fn check_revoked_leaves(pki: &Pki, at: &str) -> Result<(), (String, String)> {
    if pki.topology == Topology::RootOnly && !pki.revoked_leaves.is_empty() {
        return Err((
            format!("{at}.revokedLeaves"),
            "must be absent: a root-only PKI's leaves come from its online issuer, not inforge".into(),
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, r) in pki.revoked_leaves.iter().enumerate() {
        let rat = format!("{at}.revokedLeaves[{i}]");
        if normalize_serial(&r.serial).as_deref() != Some(r.serial.as_str()) {
            return Err((
                format!("{rat}.serial"),
                format!("{:?} is not a serial number in lowercase hex (1 to 20 bytes, not zero)", r.serial),
            ));
        }
        let v = serial_value(&r.serial);
        if seen.contains(&v) {
            return Err((format!("{rat}.serial"), format!("{} is recorded twice", r.serial)));
        }
        seen.push(v);
        crate::model::time::parse_rfc3339("", &r.revoked_at)
            .map_err(|_| (format!("{rat}.revokedAt"), format!("is not an RFC 3339 timestamp: {:?}", r.revoked_at)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn sample() -> Store {
        let cert = Block::new("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
        let key = Block::new("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n");
        let e = Entry { cert: cert.clone(), key };
        let mut s = Store::new(
            "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".into(),
            "age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg".into(),
        );
        let mut p = Pki {
            topology: Topology::TwoTier,
            algorithm: Algorithm::EcdsaP256,
            root: e.clone(),
            intermediates: BTreeMap::new(),
            previous_roots: vec![],
            previous_intermediates: BTreeMap::new(),
            root_overlap_started: None,
            root_overlap_min_days: None,
            root_switched_at: None,
            revoked: vec![],
            revoked_leaves: vec![],
            leaf_ttl: None,
            root_crls: vec![],
            root_finalized_at: None,
        };
        p.intermediates.insert("us-east-1".into(), e.clone());
        p.intermediates.insert("global".into(), e.clone());
        p.previous_intermediates.insert("global".into(), vec![cert]);
        s.pkis.insert("wardnet-mesh".into(), p);
        s
    }

    #[test]
    fn canonical_round_trip_is_byte_identical() {
        let text = sample().to_yaml();
        assert!(text.starts_with(HEADER));
        assert!(text.contains("\n    root:\n      cert: |\n        -----BEGIN CERTIFICATE-----\n"), "{text}");
        let back = Store::parse("s", &text).unwrap();
        assert_eq!(back, sample());
        assert_eq!(back.to_yaml(), text);
        let empty = Store::new(sample().root_recipient, sample().recipient).to_yaml();
        assert_eq!(Store::parse("s", &empty).unwrap().to_yaml(), empty);
    }

    #[test]
    fn unknown_fields_and_plaintext_keys_are_refused() {
        let text = sample().to_yaml();
        let e = Store::parse("s", &text.replace("topology:", "colour: red\n    topology:")).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let e =
            Store::parse("s", &text.replacen("-----BEGIN AGE ENCRYPTED FILE-----", "-----BEGIN PRIVATE KEY-----", 1))
                .unwrap_err();
        assert!(e.to_string().contains("root.key"), "{e}");
        let e = Store::parse("s", &text.replace("version: 1", "version: 3\nnewField: x")).unwrap_err();
        assert_eq!(crate::Coded::code(&e), "store-version", "{e}");
        let e = Store::parse("s", "rootRecipient: [").unwrap_err();
        assert_eq!(crate::Coded::code(&e), "store-invalid");
    }
}

#[cfg(test)]
mod revoked_leaves {
    use super::*;

    fn with(records: Vec<RevokedLeaf>) -> Store {
        let mut s = Store::parse("s", &super::tests_sample_yaml()).unwrap();
        s.pkis.get_mut("wardnet-mesh").unwrap().revoked_leaves = records;
        s
    }

    fn leaf(serial: &str) -> RevokedLeaf {
        RevokedLeaf {
            serial: serial.into(),
            reason: RevocationReason::KeyCompromise,
            revoked_at: "2026-12-04T09:00:00Z".into(),
        }
    }

    #[test]
    fn a_store_is_written_at_the_oldest_version_that_holds_it() {
        let plain = with(vec![]).to_yaml();
        assert!(plain.contains("\nversion: 1\n"), "{plain}");
        let text = with(vec![leaf("0a1b")]).to_yaml();
        assert!(text.contains("\nversion: 2\n"), "{text}");
        assert!(text.contains("revokedLeaves:\n    - serial: 0a1b\n      reason: keyCompromise\n"), "{text}");
        let back = Store::parse("s", &text).unwrap();
        assert_eq!(back.to_yaml(), text);
        assert_eq!(back.version, 2);
        // A version-1 store cannot claim a field that needs version 2.
        let e = Store::parse("s", &text.replace("\nversion: 2\n", "\nversion: 1\n")).unwrap_err();
        assert!(e.to_string().contains("need format version 2"), "{e}");
    }

    #[test]
    fn bad_records_are_named() {
        for (records, needle) in [
            (vec![leaf("0A1B")], "revokedLeaves[0].serial"),
            (vec![leaf("00")], "revokedLeaves[0].serial"),
            (vec![leaf(&"ab".repeat(21))], "revokedLeaves[0].serial"),
            (vec![leaf("0a1b"), leaf("a1b")], "revokedLeaves[1].serial"),
            (vec![RevokedLeaf { revoked_at: "yesterday".into(), ..leaf("01") }], "revokedLeaves[0].revokedAt"),
        ] {
            let e = Store::parse("s", &with(records).to_yaml()).unwrap_err();
            assert!(e.to_string().contains(needle), "{needle}: {e}");
        }
        let bad_reason = with(vec![leaf("01")]).to_yaml().replace("keyCompromise", "lost");
        assert!(Store::parse("s", &bad_reason).is_err());
    }

    #[test]
    fn serials_normalise_as_typed() {
        assert_eq!(normalize_serial("0A:1B:ff").as_deref(), Some("0a1bff"));
        assert_eq!(normalize_serial("0xabc").as_deref(), Some("0abc"));
        assert_eq!(normalize_serial(" 7 ").as_deref(), Some("07"));
        for bad in ["", "0", "00:00", "xyz", "12 34", &"f".repeat(41)] {
            assert_eq!(normalize_serial(bad), None, "{bad:?}");
        }
        assert_eq!(serial_value("000a1b"), serial_value("0a1b"));
    }
}

/// A small store's text for other modules' tests (the `tests` module's sample).
#[cfg(test)]
pub(crate) fn tests_sample_yaml() -> String {
    tests::sample().to_yaml()
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    const R1: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    const R2: &str = "age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg";

    fn block(kind: &'static str) -> impl Strategy<Value = Block> {
        proptest::collection::vec("[A-Za-z0-9+/]{1,64}", 1..6).prop_map(move |lines| {
            Block::new(format!("-----BEGIN {kind}-----\n{}\n-----END {kind}-----", lines.join("\n")))
        })
    }

    fn entry() -> impl Strategy<Value = Entry> {
        (block("CERTIFICATE"), block("AGE ENCRYPTED FILE")).prop_map(|(cert, key)| Entry { cert, key })
    }

    fn pki() -> impl Strategy<Value = Pki> {
        (
            entry(),
            proptest::collection::btree_map("[A-Za-z0-9_][A-Za-z0-9._-]{0,12}", entry(), 0..4),
            proptest::collection::btree_map(
                "[a-z][a-z0-9-]{0,8}",
                proptest::collection::vec(block("CERTIFICATE"), 1..3),
                0..3,
            ),
            any::<bool>(),
        )
            .prop_map(|(root, intermediates, previous_intermediates, overlap)| Pki {
                topology: Topology::TwoTier,
                algorithm: Algorithm::EcdsaP384,
                root: root.clone(),
                intermediates,
                previous_roots: if overlap { vec![root] } else { vec![] },
                previous_intermediates,
                root_overlap_started: overlap.then(|| "2027-01-01T00:00:00Z".to_string()),
                root_overlap_min_days: overlap.then_some(30),
                root_switched_at: None,
                revoked: vec![],
                revoked_leaves: vec![],
                leaf_ttl: None,
                root_crls: vec![],
                root_finalized_at: None,
            })
    }

    proptest! {
        /// Any store we write parses back to itself, and writing it again gives the same bytes.
        #[test]
        fn canonical_round_trip(pkis in proptest::collection::btree_map("[A-Za-z0-9_][A-Za-z0-9._-]{0,12}", pki(), 0..3)) {
            let mut s = Store::new(R1.into(), R2.into());
            s.pkis = pkis;
            let text = s.to_yaml();
            let back = Store::parse("s", &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&back, &s);
            prop_assert_eq!(back.to_yaml(), text);
        }

        /// The parsers never panic, whatever the input.
        #[test]
        fn parsers_never_panic(text in "\\PC{0,400}") {
            let _ = Store::parse("s", &text);
            let _ = crate::model::config::Project::parse(&text, Some(&text));
            let _ = crate::views::validate::validate_texts(&text, None, Some(&text), "prd", time::OffsetDateTime::UNIX_EPOCH);
        }
    }
}
