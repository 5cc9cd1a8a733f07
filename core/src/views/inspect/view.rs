//! Every certificate of a store, with its details and marks (`inspect_store`).

use std::collections::BTreeSet;

use serde::Serialize;
use time::OffsetDateTime;

use super::*;
use crate::crypto::cert::Cert;
use crate::crypto::profile::LEAF_DAYS;
use crate::model::store::{Pki, Revoked, Store};
use crate::model::time::format_rfc3339;
use crate::Coded;

/// Which slot of a PKI a certificate fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The current root.
    Root,
    /// A retired root still trusted during a root overlap.
    PreviousRoot,
    /// A scope's current intermediate.
    Intermediate,
    /// A retired intermediate still in its scope's bundles (or revoked).
    PreviousIntermediate,
    /// A leaf (X509-SVID) checked against a bundle (`check_leaf`); never part of a store.
    Leaf,
}

/// One certificate with everything a reviewer asks about.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertView {
    /// Its slot.
    pub role: Role,
    /// The scope it serves (intermediates).
    pub scope: Option<String>,
    /// Dotted path in the store, e.g. `pkis.mesh.intermediates.global`.
    pub location: String,
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// Subject key identifier, hex.
    pub subject_key_id: Option<String>,
    /// Authority key identifier, hex.
    pub authority_key_id: Option<String>,
    /// URI SANs.
    pub uri_sans: Vec<String>,
    /// DNS SANs.
    pub dns_sans: Vec<String>,
    /// notBefore (RFC 3339).
    pub not_before: String,
    /// notAfter (RFC 3339).
    pub not_after: String,
    /// Whole days from now to notAfter (negative: expired).
    pub days_left: i64,
    /// Past notAfter.
    pub expired: bool,
    /// SHA-256 of the DER, lowercase hex.
    pub fingerprint: String,
    /// Key algorithm (`ecdsa-p256`…), if one inforge knows.
    pub algorithm: Option<&'static str>,
    /// Basic constraints cA.
    pub is_ca: bool,
    /// Basic constraints pathLenConstraint.
    pub path_len: Option<u8>,
    /// Recorded as compromised (it never enters a bundle again).
    pub revoked: Option<Revoked>,
    /// The certificate as PEM (public), for a download.
    pub pem: String,
}

impl CertView {
    /// Details of a parsed certificate at `now`.
    pub fn of(cert: &Cert, role: Role, scope: Option<&str>, location: &str, now: OffsetDateTime) -> CertView {
        let bc = cert.basic_constraints();
        CertView {
            role,
            scope: scope.map(str::to_string),
            location: location.to_string(),
            subject: cert.subject(),
            issuer: cert.issuer(),
            serial: cert.serial_hex(),
            subject_key_id: cert.subject_key_id(),
            authority_key_id: cert.authority_key_id(),
            uri_sans: cert.uri_sans(),
            dns_sans: cert.dns_sans(),
            not_before: format_rfc3339(cert.not_before()),
            not_after: format_rfc3339(cert.not_after()),
            days_left: (cert.not_after() - now).whole_days(),
            expired: cert.not_after() < now,
            fingerprint: cert.fingerprint(),
            algorithm: cert.key_algorithm().map(|a| a.name()),
            is_ca: bc.map(|(_, ca, _)| ca).unwrap_or(false),
            path_len: bc.and_then(|(_, _, p)| p),
            revoked: None,
            pem: cert.pem(),
        }
    }
}

/// A certificate the inspector could not read (shown, not fatal: the rest still displays).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unreadable {
    /// Dotted path in the store.
    pub location: String,
    /// Error code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

/// One PKI as the inspector shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PkiView {
    /// Name.
    pub name: String,
    /// two-tier or root-only.
    pub topology: &'static str,
    /// Key algorithm of every tier.
    pub algorithm: &'static str,
    /// Every certificate: root, previous roots, then per scope the current intermediate and
    /// its previous ones.
    pub certs: Vec<CertView>,
    /// A root overlap is in progress.
    pub root_overlap: bool,
    /// When it started.
    pub root_overlap_started: Option<String>,
    /// The root-rotation phase: stable, overlap (previous root's path first in chains) or
    /// switched (new root's path first).
    pub root_phase: crate::pki::tiers::RootPhase,
    /// When `rotate --root --switch` happened.
    pub root_switched_at: Option<String>,
    /// Revoked certificates.
    pub revoked: Vec<Revoked>,
    /// Certificates that could not be read.
    pub unreadable: Vec<Unreadable>,
}

/// The whole store as the inspector shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreView {
    /// Store format version.
    pub version: u32,
    /// The offline operator's recipient.
    pub root_recipient: String,
    /// The CI recipient.
    pub recipient: String,
    /// The environment the certificates name, if they agree on one.
    pub env: Option<String>,
    /// The time the view was computed for.
    pub now: String,
    /// The default leaf lifetime (days): the horizon an intermediate must outlive.
    pub leaf_days: i64,
    /// PKIs by name.
    pub pkis: Vec<PkiView>,
}

/// Any PEM certificates or bundle, outside a store (the inspector's paste box, like `step
/// certificate inspect`): each certificate's details at `now`, in the order given. The role
/// says what the certificate is: a self-issued CA is a `root`, another CA an `intermediate`,
/// anything else a `leaf`. A pasted private key is refused by name, its text never repeated.
pub fn inspect_pem(pem: &str, now: OffsetDateTime) -> Result<Vec<CertView>, crate::Error> {
    let certs = super::leaf::pasted_certs(pem, "the pasted PEM")?;
    Ok(certs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ca = c.basic_constraints().is_some_and(|(_, ca, _)| ca);
            let role = match (ca, c.subject() == c.issuer()) {
                (true, true) => Role::Root,
                (true, false) => Role::Intermediate,
                (false, _) => Role::Leaf,
            };
            CertView::of(c, role, None, &format!("pasted[{i}]"), now)
        })
        .collect())
}

pub(crate) fn revoked_of<'a>(pki: &'a Pki, fingerprint: &str) -> Option<&'a Revoked> {
    pki.revoked.iter().find(|r| r.fingerprint == fingerprint)
}

/// The store as a tree of certificate details at `now`. Unreadable certificates are listed,
/// not fatal.
pub fn inspect_store(store: &Store, now: OffsetDateTime) -> StoreView {
    let pkis = store
        .pkis
        .iter()
        .map(|(name, pki)| {
            let mut certs = Vec::new();
            let mut unreadable = Vec::new();
            let mut add =
                |pem: &str, role: Role, scope: Option<&str>, location: String| match Cert::from_pem(pem, &location) {
                    Ok(c) => {
                        let mut v = CertView::of(&c, role, scope, &location, now);
                        v.revoked = revoked_of(pki, &v.fingerprint).cloned();
                        certs.push(v);
                    }
                    Err(e) => unreadable.push(Unreadable { location, code: e.code(), message: e.to_string() }),
                };
            add(pki.root.cert.as_str(), Role::Root, None, format!("pkis.{name}.root"));
            for (i, e) in pki.previous_roots.iter().enumerate() {
                add(e.cert.as_str(), Role::PreviousRoot, None, format!("pkis.{name}.previousRoots[{i}]"));
            }
            let scopes: BTreeSet<&String> = pki.intermediates.keys().chain(pki.previous_intermediates.keys()).collect();
            for scope in scopes {
                if let Some(e) = pki.intermediates.get(scope) {
                    add(e.cert.as_str(), Role::Intermediate, Some(scope), format!("pkis.{name}.intermediates.{scope}"));
                }
                for (i, b) in pki.previous_intermediates.get(scope).into_iter().flatten().enumerate() {
                    let loc = format!("pkis.{name}.previousIntermediates.{scope}[{i}]");
                    add(b.as_str(), Role::PreviousIntermediate, Some(scope), loc);
                }
            }
            PkiView {
                name: name.clone(),
                topology: pki.topology.name(),
                algorithm: pki.algorithm.name(),
                certs,
                root_overlap: !pki.previous_roots.is_empty(),
                root_overlap_started: pki.root_overlap_started.clone(),
                root_phase: crate::pki::tiers::root_phase(pki),
                root_switched_at: pki.root_switched_at.clone(),
                revoked: pki.revoked.clone(),
                unreadable,
            }
        })
        .collect();
    StoreView {
        version: store.version,
        root_recipient: store.root_recipient.clone(),
        recipient: store.recipient.clone(),
        env: store_env(store),
        now: format_rfc3339(now),
        leaf_days: LEAF_DAYS,
        pkis,
    }
}
