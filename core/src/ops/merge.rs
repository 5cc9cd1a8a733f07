//! `inforge store merge`: a three-way merge of two stores at the level of the store's model,
//! for git's merge driver (`%O %A %B %P`).
//!
//! The unit of merging is a **slot**: the store's custody (CI recipient, offline root
//! recipient, root quorum), and per PKI its root group (root, previous roots, the overlap's
//! timestamps, topology, algorithm), each scope's intermediate with the scope's retired
//! intermediates, and each revocation. A slot changed on one branch takes that branch's
//! version; changed the same way on both, that version; changed differently on both, it is a
//! conflict. Two more rules keep the result coherent:
//! - a re-key (a custody slot changed on one branch) conflicts with any key the other branch
//!   sealed anew to that custodian's old recipient: the merge would carry a key nobody can open
//!   with the new identity;
//! - the merged store must pass the store's own checks (it parses back to itself, custodians
//!   differ, every root and intermediate passes its tier's checks, every retired intermediate
//!   may be trusted); if not, that is a conflict too. So the result is never a store with
//!   conflict markers, and never one that fails to load or validate.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::crypto::cert::Cert;
use crate::crypto::custody::{same_recipient, Custodian};
use crate::model::store::{Entry, Pki, Store, Topology};
use crate::views::show::short;
use crate::{Coded, Error};

/// One slot both branches changed differently (or a rule the merge would break).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    /// The PKI (empty for the store's custody).
    pub pki: String,
    /// The slot: `root`, `intermediate <scope>`, `revoked <fingerprint>`, `recipient`,
    /// `rootRecipient`, `rootQuorum`, `pki` (the whole PKI) or `store` (the merged result).
    pub slot: String,
    /// Why it cannot be merged.
    pub reason: String,
}

/// The merge's outcome.
#[derive(Debug, Clone)]
pub enum Merged {
    /// Every change merged: the store to write, and its canonical text.
    Clean {
        /// The merged store.
        store: Box<Store>,
        /// Its canonical text (what the driver writes to `%A`).
        text: String,
    },
    /// At least one slot conflicts; nothing should be written.
    Conflicts(Vec<Conflict>),
}

/// Three-way choice for one slot: `Ok` with the merged value, `Err(())` on a conflict.
fn pick<T: PartialEq + Clone>(base: Option<&T>, ours: Option<&T>, theirs: Option<&T>) -> Result<Option<T>, ()> {
    if ours == theirs || base == theirs {
        Ok(ours.cloned())
    } else if base == ours {
        Ok(theirs.cloned())
    } else {
        Err(())
    }
}

/// A PKI's root group: what changes together when the root rotates.
#[derive(Debug, Clone, PartialEq)]
struct RootGroup<'a> {
    topology: Topology,
    algorithm: crate::crypto::keys::Algorithm,
    root: &'a Entry,
    previous_roots: &'a [Entry],
    started: &'a Option<String>,
    min_days: &'a Option<u32>,
    switched: &'a Option<String>,
    finalized: &'a Option<String>,
}

fn root_group(p: &Pki) -> RootGroup<'_> {
    RootGroup {
        topology: p.topology,
        algorithm: p.algorithm,
        root: &p.root,
        previous_roots: &p.previous_roots,
        started: &p.root_overlap_started,
        min_days: &p.root_overlap_min_days,
        switched: &p.root_switched_at,
        finalized: &p.root_finalized_at,
    }
}

/// One scope's slot: its intermediate and its retired intermediates.
type ScopeSlot<'a> = (Option<&'a Entry>, Option<&'a Vec<crate::model::store::Block>>);

fn scope_slot<'a>(p: &'a Pki, scope: &str) -> ScopeSlot<'a> {
    (p.intermediates.get(scope), p.previous_intermediates.get(scope))
}

fn fingerprint(pem: &str) -> String {
    Cert::from_pem(pem, "merge").map(|c| c.fingerprint()).unwrap_or_else(|e| format!("unreadable ({})", e.code()))
}

struct Merge<'a> {
    base: Option<&'a Store>,
    conflicts: Vec<Conflict>,
}

impl Merge<'_> {
    fn conflict(&mut self, pki: &str, slot: impl Into<String>, reason: impl Into<String>) {
        self.conflicts.push(Conflict { pki: pki.into(), slot: slot.into(), reason: reason.into() });
    }

    fn base_pki(&self, name: &str) -> Option<&Pki> {
        self.base.and_then(|b| b.pkis.get(name))
    }

    /// Merges a PKI both branches changed differently, slot by slot.
    fn pki(&mut self, name: &str, base: Option<&Pki>, ours: &Pki, theirs: &Pki) -> Pki {
        let mut merged = ours.clone();
        // The root group.
        let (b, o, t) = (base.map(root_group), root_group(ours), root_group(theirs));
        match pick(b.as_ref(), Some(&o), Some(&t)) {
            Ok(Some(g)) => {
                let src = if g == o { ours } else { theirs };
                merged.topology = src.topology;
                merged.algorithm = src.algorithm;
                merged.root = src.root.clone();
                merged.previous_roots = src.previous_roots.clone();
                merged.root_overlap_started = src.root_overlap_started.clone();
                merged.root_overlap_min_days = src.root_overlap_min_days;
                merged.root_switched_at = src.root_switched_at.clone();
                merged.root_finalized_at = src.root_finalized_at.clone();
            }
            Ok(None) => {}
            Err(()) => {
                let what = |p: &Pki| {
                    format!(
                        "root {} ({})",
                        short(&fingerprint(p.root.cert.as_str())),
                        crate::pki::tiers::root_phase(p).name()
                    )
                };
                self.conflict(
                    name,
                    "root",
                    format!("changed on both branches: ours has {}, theirs {}", what(ours), what(theirs)),
                );
            }
        }
        // Each scope.
        let scopes: BTreeSet<&String> = ours
            .intermediates
            .keys()
            .chain(ours.previous_intermediates.keys())
            .chain(theirs.intermediates.keys())
            .chain(theirs.previous_intermediates.keys())
            .chain(base.into_iter().flat_map(|b| b.intermediates.keys().chain(b.previous_intermediates.keys())))
            .collect();
        for scope in scopes {
            let (b, o, t) = (base.map(|b| scope_slot(b, scope)), scope_slot(ours, scope), scope_slot(theirs, scope));
            match pick(b.as_ref(), Some(&o), Some(&t)) {
                Ok(Some((entry, previous))) => {
                    match entry {
                        Some(e) => merged.intermediates.insert(scope.clone(), e.clone()),
                        None => merged.intermediates.remove(scope),
                    };
                    match previous {
                        Some(v) => merged.previous_intermediates.insert(scope.clone(), v.clone()),
                        None => merged.previous_intermediates.remove(scope),
                    };
                }
                Ok(None) => {}
                Err(()) => {
                    let what = |s: &ScopeSlot<'_>| match s.0 {
                        Some(e) => format!("intermediate {}", short(&fingerprint(e.cert.as_str()))),
                        None => "no intermediate".to_string(),
                    };
                    self.conflict(
                        name,
                        format!("intermediate {scope}"),
                        format!("changed on both branches: ours has {}, theirs {}", what(&o), what(&t)),
                    );
                }
            }
        }
        // The roots' CRLs: each ceremony re-signs them all, so the later signing wins.
        if ours.root_crls != theirs.root_crls {
            merged.root_crls = match pick(base.map(|b| &b.root_crls), Some(&ours.root_crls), Some(&theirs.root_crls)) {
                Ok(Some(v)) => v,
                _ => latest_root_crls(&ours.root_crls, &theirs.root_crls),
            };
        }
        match pick(base.map(|b| &b.leaf_ttl), Some(&ours.leaf_ttl), Some(&theirs.leaf_ttl)) {
            Ok(Some(v)) => merged.leaf_ttl = v,
            Ok(None) => {}
            Err(()) => self.conflict(name, "leafTtl", "changed differently on both branches"),
        }
        // Revocations, one slot per fingerprint (leaves: per serial); kept in ours' order,
        // then theirs' new ones.
        merged.revoked =
            self.records(name, "revoked", base.map(|p| &p.revoked[..]), &ours.revoked, &theirs.revoked, |r| {
                r.fingerprint.clone()
            });
        merged.revoked_leaves = self.records(
            name,
            "revoked leaf",
            base.map(|p| &p.revoked_leaves[..]),
            &ours.revoked_leaves,
            &theirs.revoked_leaves,
            |r| crate::model::store::serial_value(&r.serial).to_string(),
        );
        merged
    }

    /// Merges a list of records, one slot per `key`; kept in ours' order, then theirs' new
    /// ones. A record changed differently on both branches is a conflict.
    fn records<T: Clone + PartialEq>(
        &mut self,
        name: &str,
        what: &str,
        base: Option<&[T]>,
        ours: &[T],
        theirs: &[T],
        key: impl Fn(&T) -> String,
    ) -> Vec<T> {
        let by_key = |p: &[T]| -> BTreeMap<String, T> { p.iter().map(|r| (key(r), r.clone())).collect() };
        let (rb, ro, rt) = (by_key(base.unwrap_or_default()), by_key(ours), by_key(theirs));
        let mut order: Vec<String> = ours.iter().map(&key).collect();
        order.extend(theirs.iter().map(&key).filter(|f| !ro.contains_key(f)));
        order.extend(rb.keys().filter(|f| !ro.contains_key(*f) && !rt.contains_key(*f)).cloned());
        let mut out = Vec::new();
        for k in order {
            match pick(rb.get(&k), ro.get(&k), rt.get(&k)) {
                Ok(Some(r)) => out.push(r),
                Ok(None) => {}
                Err(()) => {
                    self.conflict(name, format!("{what} {}", short(&k)), "recorded differently on both branches")
                }
            }
        }
        out
    }
}

/// Of two signings of the roots' CRLs, the later one (by the CRLs' latest thisUpdate).
fn latest_root_crls(
    ours: &[crate::model::store::Block],
    theirs: &[crate::model::store::Block],
) -> Vec<crate::model::store::Block> {
    let latest = |v: &[crate::model::store::Block]| {
        v.iter()
            .filter_map(|b| crate::crypto::crl::parse_crls(b.as_str(), "rootCrls").ok())
            .flatten()
            .map(|c| c.this_update())
            .max()
    };
    if latest(theirs) > latest(ours) {
        theirs.to_vec()
    } else {
        ours.to_vec()
    }
}

/// Every sealed key of a store with its custodian and a label naming its slot.
fn sealed_keys(store: &Store) -> Vec<(Custodian, String, String, &str)> {
    let mut out = Vec::new();
    for (name, p) in &store.pkis {
        let root = match p.topology {
            Topology::TwoTier => Custodian::OfflineRoot,
            Topology::RootOnly => Custodian::Ci,
        };
        out.push((root, name.clone(), "root".to_string(), p.root.key.as_str()));
        for (i, e) in p.previous_roots.iter().enumerate() {
            out.push((root, name.clone(), format!("previous root {i}"), e.key.as_str()));
        }
        for (scope, e) in &p.intermediates {
            out.push((Custodian::Ci, name.clone(), format!("intermediate {scope}"), e.key.as_str()));
        }
    }
    out
}

/// The custody slots: CI recipient, offline root recipient, quorum.
fn custody_changed(base: Option<&Store>, side: &Store, custodian: Custodian) -> bool {
    let Some(base) = base else { return false };
    match custodian {
        Custodian::Ci => !same_recipient(&base.recipient, &side.recipient),
        Custodian::OfflineRoot => {
            !same_recipient(&base.root_recipient, &side.root_recipient) || base.root_quorum != side.root_quorum
        }
    }
}

/// The merged store's own checks (it must load and validate as a store).
fn check_merged(store: &Store, env: Option<&str>) -> Vec<Conflict> {
    let mut out = Vec::new();
    let mut bad = |pki: &str, slot: String, e: &Error| {
        out.push(Conflict {
            pki: pki.to_string(),
            slot,
            reason: format!("the merged store would not validate: {e} ({})", e.code()),
        })
    };
    let text = store.to_yaml();
    match Store::parse("merged store", &text) {
        Ok(back) if back == *store => {}
        Ok(_) => bad(
            "",
            "store".into(),
            &Error::Store(crate::error::StoreError::Invalid {
                file: "merged store".into(),
                location: "(whole file)".into(),
                problem: "does not read back as what was merged".into(),
            }),
        ),
        Err(e) => bad("", "store".into(), &e.into()),
    }
    if let Err(e) = crate::pki::tiers::check_custodians(store) {
        bad("", "store".into(), &e);
    }
    for (name, p) in &store.pkis {
        let root = match Cert::from_pem(p.root.cert.as_str(), &format!("pkis.{name}.root.cert")) {
            Ok(c) => c,
            Err(e) => {
                bad(name, "root".into(), &e.into());
                continue;
            }
        };
        for e in crate::pki::tiers::check_root(p, name, &root) {
            bad(name, "root".into(), &e);
        }
        for (scope, entry) in &p.intermediates {
            let loc = format!("pkis.{name}.intermediates.{scope}.cert");
            match Cert::from_pem(entry.cert.as_str(), &loc) {
                Err(e) => bad(name, format!("intermediate {scope}"), &e.into()),
                Ok(c) => match env {
                    Some(env) => {
                        for e in crate::pki::tiers::check_intermediate(p, name, env, scope, &c, &root) {
                            bad(name, format!("intermediate {scope}"), &e);
                        }
                    }
                    // Without the environment's name the subject cannot be checked; the
                    // signature still must be the root's.
                    None => {
                        if let Err(e) = c.verify_signed_by(&root, &loc) {
                            bad(name, format!("intermediate {scope}"), &e.into());
                        }
                    }
                },
            }
        }
        if let Some(env) = env {
            for (scope, certs) in &p.previous_intermediates {
                for (i, b) in certs.iter().enumerate() {
                    let loc = format!("pkis.{name}.previousIntermediates.{scope}[{i}]");
                    match Cert::from_pem(b.as_str(), &loc) {
                        Err(e) => bad(name, format!("intermediate {scope}"), &e.into()),
                        Ok(c) => {
                            for e in crate::pki::tiers::check_bundle_member(p, name, env, scope, &loc, &c) {
                                bad(name, format!("intermediate {scope}"), &e);
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// `inforge store merge`: merges `ours` and `theirs` against their common ancestor `base`
/// (`None` or empty: both branches added the file). `env` (from the store's path, `%P`) lets
/// the intermediates' subjects be checked too. Errors only when an input does not parse.
pub fn merge_stores(base: Option<&str>, ours: &str, theirs: &str, env: Option<&str>) -> Result<Merged, Error> {
    let base = match base {
        Some(t) if !t.trim().is_empty() => Some(Store::parse("base (%O)", t)?),
        _ => None,
    };
    let ours_s = Store::parse("ours (%A)", ours)?;
    let theirs_s = Store::parse("theirs (%B)", theirs)?;
    let mut m = Merge { base: base.as_ref(), conflicts: Vec::new() };
    let mut merged = ours_s.clone();

    // Custody.
    let b = base.as_ref();
    // No conflict on `version`: a store is written at the oldest format that holds it, so the
    // merged store's follows from what it holds.
    match pick(b.map(|s| &s.recipient), Some(&ours_s.recipient), Some(&theirs_s.recipient)) {
        Ok(v) => merged.recipient = v.unwrap_or_default(),
        Err(()) => m.conflict("", "recipient", "the CI recipient was changed on both branches"),
    }
    let root_custody = |s: &Store| (s.root_recipient.clone(), s.root_quorum.clone());
    match pick(b.map(root_custody).as_ref(), Some(&root_custody(&ours_s)), Some(&root_custody(&theirs_s))) {
        Ok(Some((r, q))) => {
            merged.root_recipient = r;
            merged.root_quorum = q;
        }
        Ok(None) => {}
        Err(()) => m.conflict("", "rootRecipient", "the offline root's custody was changed on both branches"),
    }

    // PKIs.
    let names: BTreeSet<&String> = ours_s.pkis.keys().chain(theirs_s.pkis.keys()).collect();
    for name in names {
        let bp = m.base_pki(name).cloned();
        let (op, tp) = (ours_s.pkis.get(name), theirs_s.pkis.get(name));
        match pick(bp.as_ref(), op, tp) {
            Ok(Some(p)) => {
                merged.pkis.insert(name.clone(), p);
            }
            Ok(None) => {
                merged.pkis.remove(name);
            }
            Err(()) => match (op, tp) {
                (Some(o), Some(t)) if bp.is_some() => {
                    let p = m.pki(name, bp.as_ref(), o, t);
                    merged.pkis.insert(name.clone(), p);
                }
                (Some(_), Some(_)) => m.conflict(name, "pki", "added on both branches, differently"),
                _ => m.conflict(name, "pki", "removed on one branch and changed on the other"),
            },
        }
    }

    // A re-key on one branch against keys the other branch sealed to the old recipient.
    let base_keys: BTreeSet<&str> = b.map(|s| sealed_keys(s).into_iter().map(|k| k.3).collect()).unwrap_or_default();
    let merged_keys: BTreeSet<String> = sealed_keys(&merged).into_iter().map(|k| k.3.to_string()).collect();
    for (rekeyed, other, side) in [(&ours_s, &theirs_s, "theirs"), (&theirs_s, &ours_s, "ours")] {
        for custodian in [Custodian::Ci, Custodian::OfflineRoot] {
            if !custody_changed(b, rekeyed, custodian) || custody_changed(b, other, custodian) {
                continue;
            }
            let who = if custodian == Custodian::Ci { "CI" } else { "offline root" };
            for (c, pki, slot, key) in sealed_keys(other) {
                if c == custodian && !base_keys.contains(key) && merged_keys.contains(key) {
                    m.conflict(
                        &pki,
                        slot,
                        format!(
                            "{side} sealed this key to the previous {who} recipient, while the other branch \
                             re-keyed that custodian"
                        ),
                    );
                }
            }
        }
    }

    if !m.conflicts.is_empty() {
        return Ok(Merged::Conflicts(m.conflicts));
    }
    let problems = check_merged(&merged, env);
    if !problems.is_empty() {
        return Ok(Merged::Conflicts(problems));
    }
    merged.version = merged.required_version();
    let text = merged.to_yaml();
    Ok(Merged::Clean { store: Box::new(merged), text })
}
