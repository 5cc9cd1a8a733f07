//! `pki custody`: who holds what, from the store alone (SPEC §10). Needs no identity.

use serde::Serialize;

use crate::crypto::custody::{plugin_name, same_recipient};
use crate::model::custodian::Custodian;
use crate::model::store::{Entry, Store, Topology};

/// Who holds the store's keys.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CustodyView {
    /// The environment.
    pub env: String,
    /// The CI custodian.
    pub ci: Holder,
    /// The offline root custodian (one person, or a quorum).
    pub root: Holder,
    /// What re-sealing cannot undo (shown by every frontend beside a re-key).
    pub note: &'static str,
}

/// One custodian role and the keys sealed to it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    /// `ci` or `offline-root`.
    pub custodian: Custodian,
    /// The recipient the keys are sealed to.
    pub recipient: String,
    /// For CI: the secret store's `recipient:`, when the repo has one and it differs (then
    /// `pki rekey --ci` is due).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_store_recipient: Option<String>,
    /// For the offline root under quorum custody: the policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum: Option<QuorumView>,
    /// Store locations of the keys sealed to `recipient`.
    pub seals: Vec<String>,
}

/// A quorum as `pki custody` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct QuorumView {
    /// Shares needed to rebuild the root identity.
    pub threshold: u32,
    /// One entry per share.
    pub custodians: Vec<ShareHolder>,
}

/// The holder of one share.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ShareHolder {
    /// The custodian's recipient.
    pub recipient: String,
    /// `x25519`, or the plugin that holds it (`yubikey` for `age1yubikey1…`).
    pub kind: String,
    /// Where the share lives in the store.
    pub location: String,
}

/// What re-sealing cannot do, said wherever custody is shown or changed.
pub const RESEAL_NOTE: &str = "re-sealing changes who can open the store from now on, not the keys: git history keeps every old ciphertext, so after a leaked identity also rotate every tier it sealed";

/// Every sealed private key in the store, with its custodian and store location.
pub fn sealed_keys(store: &Store) -> Vec<(Custodian, String, &Entry)> {
    let mut out = Vec::new();
    for (name, pki) in &store.pkis {
        let root_holder = match pki.topology {
            Topology::TwoTier => Custodian::OfflineRoot,
            Topology::RootOnly => Custodian::Ci,
        };
        out.push((root_holder, format!("pkis.{name}.root.key"), &pki.root));
        for (i, e) in pki.previous_roots.iter().enumerate() {
            out.push((root_holder, format!("pkis.{name}.previousRoots[{i}].key"), e));
        }
        for (scope, e) in &pki.intermediates {
            out.push((Custodian::Ci, format!("pkis.{name}.intermediates.{scope}.key"), e));
        }
    }
    out
}

/// The custody view of a store.
pub fn custody(store: &Store, env: &str, secret_store_recipient: Option<&str>) -> CustodyView {
    let keys = sealed_keys(store);
    let seals = |c: Custodian| keys.iter().filter(|k| k.0 == c).map(|k| k.1.clone()).collect::<Vec<_>>();
    let quorum = store.root_quorum.as_ref().map(|q| QuorumView {
        threshold: q.threshold,
        custodians: q
            .shares
            .iter()
            .enumerate()
            .map(|(i, s)| ShareHolder {
                recipient: s.custodian.clone(),
                kind: plugin_name(&s.custodian).unwrap_or_else(|| "x25519".into()),
                location: format!("rootQuorum.shares[{i}]"),
            })
            .collect(),
    });
    CustodyView {
        env: env.to_string(),
        ci: Holder {
            custodian: Custodian::Ci,
            recipient: store.recipient.clone(),
            secret_store_recipient: secret_store_recipient
                .filter(|r| !same_recipient(r, &store.recipient))
                .map(str::to_string),
            quorum: None,
            seals: seals(Custodian::Ci),
        },
        root: Holder {
            custodian: Custodian::OfflineRoot,
            recipient: store.root_recipient.clone(),
            secret_store_recipient: None,
            quorum,
            seals: seals(Custodian::OfflineRoot),
        },
        note: RESEAL_NOTE,
    }
}

impl CustodyView {
    /// The view as text (the CLI's default output).
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "custody of {}:", self.env);
        let _ = writeln!(s, "  CI: {}", self.ci.recipient);
        if let Some(r) = &self.ci.secret_store_recipient {
            let _ = writeln!(s, "    the secret store names {r}: re-key with `inforge pki rekey {} --ci`", self.env);
        }
        for k in &self.ci.seals {
            let _ = writeln!(s, "    seals {k}");
        }
        match &self.root.quorum {
            None => {
                let _ = writeln!(s, "  offline root: {} (one identity)", self.root.recipient);
            }
            Some(q) => {
                let _ = writeln!(
                    s,
                    "  offline root: {} (quorum: any {} of {} custodians)",
                    self.root.recipient,
                    q.threshold,
                    q.custodians.len()
                );
                for (i, c) in q.custodians.iter().enumerate() {
                    let _ = writeln!(s, "    custodian {}: {} ({})", i + 1, c.recipient, c.kind);
                }
            }
        }
        for k in &self.root.seals {
            let _ = writeln!(s, "    seals {k}");
        }
        s
    }
}
