//! What a change between two store versions does, by fingerprint (`diff_stores`).

use std::collections::BTreeSet;

use serde::Serialize;

use crate::crypto::cert::Cert;
use crate::model::store::Store;
use crate::Coded;

/// What a change does to one certificate slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A PKI appeared.
    PkiAdded,
    /// A PKI disappeared.
    PkiRemoved,
    /// A scope got its first intermediate.
    IntermediateMinted,
    /// A scope's intermediate was replaced and the old one kept in its bundles (planned roll).
    IntermediateRotated,
    /// A scope's intermediate was replaced and the old one revoked (recovery).
    IntermediateRecovered,
    /// A scope's intermediate was replaced with no overlap and no revocation.
    IntermediateReplaced,
    /// A scope's intermediate was re-signed by a new root, keeping its key (a root overlap's
    /// twin: leaves and their keys are undisturbed).
    IntermediateResigned,
    /// A scope's intermediate disappeared.
    IntermediateRemoved,
    /// A retired intermediate left the bundles.
    PreviousIntermediateDropped,
    /// A new root with the old one kept as previous: a root overlap started.
    RootOverlapStarted,
    /// Chains switched to the new root's path first (`rotate --root --switch`).
    RootSwitched,
    /// A previous root was dropped: the overlap was finalized.
    RootFinalized,
    /// The root was replaced with no overlap.
    RootReplaced,
    /// A certificate was recorded as revoked.
    Revoked,
    /// A leaf was recorded as revoked (`pki revoke-leaf`): `before` is its serial.
    LeafRevoked,
    /// The CI or offline recipient changed.
    RecipientChanged,
    /// The offline root's quorum changed (threshold, custodians, or shares re-dealt).
    QuorumChanged,
}

/// One change between two store versions.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// PKI name (empty for store-wide changes).
    pub pki: String,
    /// Scope, for intermediates.
    pub scope: Option<String>,
    /// Subject of the certificate concerned (the new one when there is one).
    pub subject: String,
    /// Fingerprint before.
    pub before: Option<String>,
    /// Fingerprint after.
    pub after: Option<String>,
}

/// What changed between two versions of a store.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreDiff {
    /// Changes, PKI by PKI.
    pub changes: Vec<Change>,
    /// Nothing a reviewer must look at changed.
    pub unchanged: bool,
}

/// Fingerprint and subject of a PEM (an unreadable one is named, not fatal).
pub(crate) fn fp(pem: &str) -> (String, String) {
    match Cert::from_pem(pem, "diff") {
        Ok(c) => (c.fingerprint(), c.subject()),
        Err(e) => (format!("unreadable ({})", e.code()), "(unreadable certificate)".into()),
    }
}

/// Both certificates parse and carry the same public key.
fn same_key(a: &str, b: &str) -> bool {
    match (Cert::from_pem(a, "diff"), Cert::from_pem(b, "diff")) {
        (Ok(a), Ok(b)) => a.public_key_bytes() == b.public_key_bytes(),
        _ => false,
    }
}

/// The changes from `before` to `after`, by certificate fingerprint.
pub fn diff_stores(before: &Store, after: &Store) -> StoreDiff {
    let mut changes = Vec::new();
    let mut ch = |kind, pki: &str, scope: Option<&str>, subject: String, b: Option<String>, a: Option<String>| {
        changes.push(Change { kind, pki: pki.into(), scope: scope.map(str::to_string), subject, before: b, after: a })
    };
    for (field, b, a) in [
        ("rootRecipient", &before.root_recipient, &after.root_recipient),
        ("recipient", &before.recipient, &after.recipient),
    ] {
        if !crate::crypto::custody::same_recipient(b, a) {
            ch(ChangeKind::RecipientChanged, "", None, field.into(), Some(b.clone()), Some(a.clone()));
        }
    }
    if before.root_quorum != after.root_quorum {
        let policy = |q: &Option<crate::model::store::Quorum>| {
            q.as_ref().map(|q| {
                format!("{} of {}: {}", q.threshold, q.shares.len(), {
                    let who: Vec<&str> = q.shares.iter().map(|s| s.custodian.as_str()).collect();
                    who.join(", ")
                })
            })
        };
        ch(
            ChangeKind::QuorumChanged,
            "",
            None,
            "rootQuorum".into(),
            policy(&before.root_quorum),
            policy(&after.root_quorum),
        );
    }
    let names: BTreeSet<&String> = before.pkis.keys().chain(after.pkis.keys()).collect();
    for name in names {
        let (b, a) = match (before.pkis.get(name), after.pkis.get(name)) {
            (None, Some(a)) => {
                let (f, s) = fp(a.root.cert.as_str());
                ch(ChangeKind::PkiAdded, name, None, s, None, Some(f));
                for (scope, e) in &a.intermediates {
                    let (f, s) = fp(e.cert.as_str());
                    ch(ChangeKind::IntermediateMinted, name, Some(scope), s, None, Some(f));
                }
                continue;
            }
            (Some(b), None) => {
                let (f, s) = fp(b.root.cert.as_str());
                ch(ChangeKind::PkiRemoved, name, None, s, Some(f), None);
                continue;
            }
            (Some(b), Some(a)) => (b, a),
            (None, None) => continue,
        };
        // Roots.
        let (rb, _) = fp(b.root.cert.as_str());
        let (ra, sa) = fp(a.root.cert.as_str());
        let prev_a: Vec<(String, String)> = a.previous_roots.iter().map(|e| fp(e.cert.as_str())).collect();
        if rb != ra {
            let kind = if prev_a.iter().any(|(f, _)| *f == rb) {
                ChangeKind::RootOverlapStarted
            } else {
                ChangeKind::RootReplaced
            };
            ch(kind, name, None, sa.clone(), Some(rb.clone()), Some(ra.clone()));
        }
        if b.root_switched_at.is_none() && a.root_switched_at.is_some() {
            ch(ChangeKind::RootSwitched, name, None, sa, None, Some(ra.clone()));
        }
        for e in &b.previous_roots {
            let (f, s) = fp(e.cert.as_str());
            if !prev_a.iter().any(|(g, _)| *g == f) {
                ch(ChangeKind::RootFinalized, name, None, s, Some(f), Some(ra.clone()));
            }
        }
        // Revocations first, so a replaced intermediate can be told recovered from rotated.
        let revoked_a: BTreeSet<&str> = a.revoked.iter().map(|r| r.fingerprint.as_str()).collect();
        // Intermediates.
        let scopes: BTreeSet<&String> = b.intermediates.keys().chain(a.intermediates.keys()).collect();
        for scope in scopes {
            match (b.intermediates.get(scope), a.intermediates.get(scope)) {
                (None, Some(e)) => {
                    let (f, s) = fp(e.cert.as_str());
                    ch(ChangeKind::IntermediateMinted, name, Some(scope), s, None, Some(f));
                }
                (Some(e), None) => {
                    let (f, s) = fp(e.cert.as_str());
                    ch(ChangeKind::IntermediateRemoved, name, Some(scope), s, Some(f), None);
                }
                (Some(eb), Some(ea)) => {
                    let ((fb, _), (fa, sa)) = (fp(eb.cert.as_str()), fp(ea.cert.as_str()));
                    if fb != fa {
                        let kept =
                            a.previous_intermediates.get(scope).into_iter().flatten().any(|p| fp(p.as_str()).0 == fb);
                        let kind = if revoked_a.contains(fb.as_str()) {
                            ChangeKind::IntermediateRecovered
                        } else if ra != rb && same_key(eb.cert.as_str(), ea.cert.as_str()) {
                            ChangeKind::IntermediateResigned
                        } else if kept {
                            ChangeKind::IntermediateRotated
                        } else {
                            ChangeKind::IntermediateReplaced
                        };
                        ch(kind, name, Some(scope), sa, Some(fb), Some(fa));
                    }
                }
                (None, None) => {}
            }
        }
        // Retired intermediates that left the bundles.
        for (scope, v) in &b.previous_intermediates {
            for p in v {
                let (f, s) = fp(p.as_str());
                let still = a.previous_intermediates.get(scope).into_iter().flatten().any(|q| fp(q.as_str()).0 == f);
                if !still && !revoked_a.contains(f.as_str()) {
                    ch(ChangeKind::PreviousIntermediateDropped, name, Some(scope), s, Some(f), None);
                }
            }
        }
        for r in &a.revoked {
            if !b.revoked.iter().any(|q| q.fingerprint == r.fingerprint) {
                ch(ChangeKind::Revoked, name, Some(&r.scope), r.subject.clone(), Some(r.fingerprint.clone()), None);
            }
        }
        for r in &a.revoked_leaves {
            let v = crate::model::store::serial_value(&r.serial);
            if !b.revoked_leaves.iter().any(|q| crate::model::store::serial_value(&q.serial) == v) {
                let what = format!("leaf {} ({})", r.serial, r.reason.name());
                ch(ChangeKind::LeafRevoked, name, None, what, Some(r.serial.clone()), None);
            }
        }
    }
    let unchanged = changes.is_empty();
    StoreDiff { changes, unchanged }
}
