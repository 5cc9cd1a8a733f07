//! `inforge store diff`: the change review. [`diff_stores`] names each change; the review adds
//! what a reviewer must know around it: which trust bundles change (so which hosts get new
//! trust on the next renew), who must act next and from when (what `--plan` knows), and what
//! looks wrong (a key re-sealed without its certificate, a revoked certificate back in use, a
//! custody change, a root or intermediate replaced with no overlap).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::crypto::cert::Cert;
use crate::crypto::custody::same_recipient;
use crate::error::{Op, Step};
use crate::model::store::{Pki, Store, Topology};
use crate::model::time::format_rfc3339;
use crate::views::inspect::{diff_stores, fp, Change, ChangeKind};
use crate::views::show::{sealed_digest, short};

/// A trust bundle whose content changes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleChange {
    /// The PKI.
    pub pki: String,
    /// The scope whose `bundle.pem` changes, or `None` for the roots bundle (`pki bundle --roots`).
    pub scope: Option<String>,
}

/// Something someone must do after the change lands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NextStep {
    /// The operation (each frontend words it).
    pub step: Step,
    /// Not before this time (RFC 3339), when a phase has a minimum age.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Why.
    pub why: String,
}

/// Something in the change a reviewer should question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewWarning {
    /// Stable code.
    pub code: &'static str,
    /// The PKI (empty for store-wide).
    pub pki: String,
    /// The slot (`root`, `intermediate <scope>`, `recipient`…).
    pub slot: String,
    /// What is wrong.
    pub message: String,
}

/// The review of one change between two store versions.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    /// What changed ([`diff_stores`]).
    pub changes: Vec<Change>,
    /// Bundles whose content changes.
    pub bundles: Vec<BundleChange>,
    /// Who acts next.
    pub next: Vec<NextStep>,
    /// What looks wrong.
    pub warnings: Vec<ReviewWarning>,
    /// Nothing a reviewer must look at changed (no change, no warning).
    pub unchanged: bool,
}

/// The fingerprints each scope's bundle trusts ([`crate::mesh::trusted_scopes_in`] over the
/// store's own scopes, minus revoked), and the roots bundle under `None`.
fn bundles_of(pki: &Pki) -> BTreeMap<Option<String>, BTreeSet<String>> {
    let revoked: BTreeSet<&str> = pki.revoked.iter().map(|r| r.fingerprint.as_str()).collect();
    let regions: BTreeSet<&String> =
        pki.intermediates.keys().chain(pki.previous_intermediates.keys()).filter(|s| *s != "global").collect();
    let regions: Vec<String> = regions.into_iter().cloned().collect();
    let mut out = BTreeMap::new();
    let mut roots: BTreeSet<String> = BTreeSet::from([fp(pki.root.cert.as_str()).0]);
    roots.extend(pki.previous_roots.iter().map(|e| fp(e.cert.as_str()).0).filter(|f| !revoked.contains(f.as_str())));
    out.insert(None, roots);
    if pki.topology == Topology::RootOnly {
        return out;
    }
    for scope in pki.intermediates.keys() {
        let mut set = BTreeSet::new();
        for s in crate::mesh::trusted_scopes_in(&regions, scope) {
            set.extend(pki.intermediates.get(&s).map(|e| fp(e.cert.as_str()).0));
            set.extend(
                pki.previous_intermediates
                    .get(&s)
                    .into_iter()
                    .flatten()
                    .map(|b| fp(b.as_str()).0)
                    .filter(|f| !revoked.contains(f.as_str())),
            );
        }
        out.insert(Some(scope.clone()), set);
    }
    out
}

fn when(t: Result<Option<time::OffsetDateTime>, crate::Error>) -> Option<String> {
    t.ok().flatten().map(format_rfc3339)
}

/// Reviews the change from `before` to `after`; `env` fills the next steps' commands.
pub fn review(before: &Store, after: &Store, env: Option<&str>) -> Review {
    let diff = diff_stores(before, after);
    let step = |op: Op, pki: &str| {
        let s = Step::new(op).pki(pki);
        match env {
            Some(e) => s.env(e),
            None => s,
        }
    };
    let mut next: Vec<NextStep> = Vec::new();
    // One entry per step: the first reason given (the most specific) stands.
    let mut add = |n: NextStep| {
        if !next.iter().any(|m| m.step == n.step && m.from == n.from) {
            next.push(n);
        }
    };
    let mut warnings = Vec::new();
    let mut warn = |code, pki: &str, slot: String, message: String| {
        warnings.push(ReviewWarning { code, pki: pki.into(), slot, message })
    };
    for c in &diff.changes {
        let pki = c.pki.as_str();
        let after_pki = after.pkis.get(pki);
        match c.kind {
            ChangeKind::PkiAdded => {
                if after_pki.is_some_and(|p| p.topology == Topology::TwoTier && p.intermediates.is_empty()) {
                    add(NextStep {
                        step: step(Op::Intermediate, pki).scope("global"),
                        from: None,
                        why: "a two-tier PKI issues nothing until each scope has an intermediate (offline)".into(),
                    });
                }
            }
            ChangeKind::IntermediateMinted
            | ChangeKind::IntermediateRotated
            | ChangeKind::IntermediateResigned
            | ChangeKind::IntermediateReplaced
            | ChangeKind::PreviousIntermediateDropped
            | ChangeKind::RootFinalized
            | ChangeKind::Revoked => add(NextStep {
                step: step(Op::Renew, pki),
                from: None,
                why: "hosts get the new leaves and bundles only from a renew (CI)".into(),
            }),
            ChangeKind::LeafRevoked => add(NextStep {
                step: step(Op::Renew, pki),
                from: None,
                why: "the CRLs in every set's crl.pem list the leaf only from the next renew (CI), which also \
                      replaces it"
                    .into(),
            }),
            ChangeKind::IntermediateRecovered => add(NextStep {
                step: step(Op::Renew, pki),
                from: None,
                why: "now: until a renew, the revoked intermediate's leaves and the bundles that trust it stay in \
                      the provider"
                    .into(),
            }),
            ChangeKind::RootOverlapStarted => {
                add(NextStep {
                    step: step(Op::Renew, pki),
                    from: None,
                    why: "the bundles carry both roots' intermediates from the next renew".into(),
                });
                if let Some(p) = after_pki {
                    add(NextStep {
                        step: step(Op::SwitchRoot, pki),
                        from: when(crate::pki::tiers::switch_allowed_at_pki(p, pki)),
                        why: "once root-anchoring consumers trust both roots".into(),
                    });
                }
            }
            ChangeKind::RootSwitched => {
                add(NextStep {
                    step: step(Op::Renew, pki),
                    from: None,
                    why: "chains put the new root's path first from the next renew".into(),
                });
                if let Some(p) = after_pki {
                    add(NextStep {
                        step: step(Op::FinalizeRoot, pki),
                        from: when(crate::pki::tiers::finalize_allowed_at_pki(p, pki)),
                        why: "once every host serves the switched chain".into(),
                    });
                }
            }
            ChangeKind::RootReplaced => warn(
                "root-replaced-without-overlap",
                pki,
                "root".into(),
                "the root was replaced without a dual-root overlap: consumers that trust only the old root fail at \
                 once"
                    .into(),
            ),
            ChangeKind::RecipientChanged | ChangeKind::QuorumChanged => warn(
                "custody-changed",
                "",
                c.subject.clone(),
                format!("custody changed ({}): confirm the new holder with the custodians before merging", c.subject),
            ),
            ChangeKind::PkiRemoved | ChangeKind::IntermediateRemoved => {}
        }
        if c.kind == ChangeKind::IntermediateReplaced {
            warn(
                "intermediate-replaced-without-overlap",
                pki,
                format!("intermediate {}", c.scope.as_deref().unwrap_or("")),
                "the old intermediate was neither kept in the bundles nor revoked: its leaves fail until renewed"
                    .into(),
            );
        }
    }
    let mut bundles = Vec::new();
    let names: BTreeSet<&String> = before.pkis.keys().chain(after.pkis.keys()).collect();
    for name in names {
        let (b, a) = (before.pkis.get(name).map(bundles_of), after.pkis.get(name).map(bundles_of));
        let (b, a) = (b.unwrap_or_default(), a.unwrap_or_default());
        let keys: BTreeSet<&Option<String>> = b.keys().chain(a.keys()).collect();
        for k in keys {
            if b.get(k) != a.get(k) {
                bundles.push(BundleChange { pki: name.clone(), scope: k.clone() });
            }
        }
        if let (Some(pb), Some(pa)) = (before.pkis.get(name), after.pkis.get(name)) {
            key_without_cert(before, after, name, pb, pa, &mut warn);
            // A revoked certificate must never be trusted again, nor leave the list.
            let revoked_b: BTreeSet<&str> = pb.revoked.iter().map(|r| r.fingerprint.as_str()).collect();
            let in_use: BTreeSet<String> = pa
                .intermediates
                .values()
                .map(|e| fp(e.cert.as_str()).0)
                .chain(pa.previous_intermediates.values().flatten().map(|b| fp(b.as_str()).0))
                .collect();
            for r in &pb.revoked {
                if !pa.revoked.iter().any(|q| q.fingerprint == r.fingerprint) {
                    warn(
                        "revocation-removed",
                        name,
                        format!("revoked {}", short(&r.fingerprint)),
                        format!("{} is no longer recorded as revoked", r.subject),
                    );
                }
            }
            for f in &in_use {
                if revoked_b.contains(f.as_str()) {
                    warn(
                        "revoked-reappears",
                        name,
                        format!("revoked {}", short(f)),
                        "a certificate revoked before this change is in use again".into(),
                    );
                }
            }
        }
    }
    let unchanged = diff.changes.is_empty() && warnings.is_empty();
    Review { changes: diff.changes, bundles, next, warnings, unchanged }
}

/// A key whose ciphertext changed while its certificate and its custodian's recipient did not:
/// either the key was swapped for another (the certificate would no longer match it), or it was
/// re-sealed for no reason a reviewer can see.
fn key_without_cert(
    before: &Store,
    after: &Store,
    name: &str,
    pb: &Pki,
    pa: &Pki,
    warn: &mut impl FnMut(&'static str, &str, String, String),
) {
    let ci_same = same_recipient(&before.recipient, &after.recipient);
    let root_same =
        same_recipient(&before.root_recipient, &after.root_recipient) && before.root_quorum == after.root_quorum;
    let root_same = if pa.topology == Topology::RootOnly { ci_same } else { root_same };
    let mut slots = vec![("root".to_string(), &pb.root, &pa.root, root_same)];
    for (scope, eb) in &pb.intermediates {
        if let Some(ea) = pa.intermediates.get(scope) {
            slots.push((format!("intermediate {scope}"), eb, ea, ci_same));
        }
    }
    for (slot, eb, ea, same_custody) in slots {
        if same_custody && eb.cert == ea.cert && sealed_digest(&eb.key) != sealed_digest(&ea.key) {
            let subject = Cert::from_pem(ea.cert.as_str(), "review").map(|c| c.subject()).unwrap_or_default();
            warn(
                "key-changed-without-certificate",
                name,
                slot,
                format!(
                    "the sealed key of {subject} changed but its certificate and its custodian did not: a swapped \
                     key no longer matches its certificate, and a re-seal needs a reason"
                ),
            );
        }
    }
}
