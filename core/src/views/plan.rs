//! `--plan` for every rotation and for recovery: what the command would change in the store
//! and the provider, which bundles and chains change, and who must act next and when —
//! computed from the store alone, so planning needs no identity and writes nothing.
//!
//! Store changes are named at the granularity a reviewer reads a diff: `pkis.<pki>.<field>`,
//! and `pkis.<pki>.intermediates.<scope>` / `pkis.<pki>.previousIntermediates.<scope>` for
//! the per-scope maps. The scenarios run each plan, then the command, and compare.

use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;

use crate::crypto::cert::Cert;
use crate::crypto::custody::Custodian;
use crate::mesh::{trusted_scopes, Filter};
use crate::model::config::Project;
use crate::model::store::{Store, Topology};
use crate::pki::tiers::{get_pki, root_phase, RootPhase};
use crate::{Coded, Error, Wording};

/// The command being planned.
#[derive(Debug, Clone)]
pub enum Planned {
    /// `rotate --leaf [--service S]`.
    Leaf {
        /// Only this service.
        service: Option<String>,
    },
    /// `rotate --intermediate <scope>`.
    Intermediate {
        /// Scope.
        scope: String,
    },
    /// `rotate --root`.
    Root {
        /// `--min-overlap-days`.
        min_overlap_days: Option<u32>,
    },
    /// `rotate --root --switch`.
    Switch {
        /// `--force`.
        force: bool,
    },
    /// `rotate --root --finalize`.
    Finalize {
        /// `--force`.
        force: bool,
    },
    /// `recover-intermediate <scope>`.
    Recover {
        /// Scope.
        scope: String,
    },
}

/// One store change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct StoreChange {
    /// Dotted path.
    pub path: String,
    /// `add`, `replace` or `remove`.
    pub change: &'static str,
}

/// One provider set the command writes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ProviderChange {
    /// Service.
    pub service: String,
    /// Scope.
    pub scope: String,
    /// `set` (leaf, key and bundle) or `bundle` (bundle only).
    pub what: &'static str,
}

/// Who acts next.
#[derive(Debug, Clone, Serialize)]
pub struct NextStep {
    /// `operator` (offline root), `ci`, `hosts`, `consumers` (root-anchored) or `anyone`.
    pub who: &'static str,
    /// What to do.
    pub what: String,
    /// From when (RFC 3339), if it must wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

/// Why the command would be refused now.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    /// Error code.
    pub code: &'static str,
    /// Message.
    pub message: String,
    /// Hint, in the frontend's words.
    pub hint: String,
}

/// A plan.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The command, e.g. `rotate --intermediate us-east-1`.
    pub command: String,
    /// PKI.
    pub pki: String,
    /// The identity the command itself needs (`null`: none).
    pub needs: Option<Custodian>,
    /// Set when the command would be refused now (then nothing below would happen).
    pub refused: Option<Refusal>,
    /// Store changes, sorted.
    pub store: Vec<StoreChange>,
    /// Provider sets the command itself writes, sorted.
    pub provider: Vec<ProviderChange>,
    /// Scopes whose bundle changes (now, or at the next renew).
    pub bundles: Vec<String>,
    /// Scopes whose `cert.pem` chains change at the next renew.
    pub chains: Vec<String>,
    /// The root phase before and after.
    pub phase: (RootPhase, RootPhase),
    /// Who acts next, in order.
    pub next: Vec<NextStep>,
}

impl Plan {
    /// Marks the plan refused: nothing it lists would happen, so the changes, the next steps
    /// and the phase change are dropped. Used for the refusals the core finds and for the
    /// ones a shell adds from what it read (finalize's fleet gate reads the provider).
    pub fn refuse(&mut self, refusal: Refusal) {
        self.refused = Some(refusal);
        self.store.clear();
        self.provider.clear();
        self.bundles.clear();
        self.chains.clear();
        self.next.clear();
        self.phase.1 = self.phase.0;
    }
}

fn change(store: &mut Vec<StoreChange>, path: String, change: &'static str) {
    store.push(StoreChange { path, change });
}

/// An offline ceremony of a two-tier PKI re-signs its roots' CRLs (format version 2). With
/// `same_content` (no new root, no new revocation), CRLs signed in the same second are the same
/// bytes (deterministic signatures): then nothing changes.
fn root_crls_resigned(
    p: &mut Vec<StoreChange>,
    store: &Store,
    pki: &crate::model::store::Pki,
    at: &str,
    same_content: bool,
    now: OffsetDateTime,
) {
    if pki.topology != Topology::TwoTier {
        return;
    }
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let unchanged = same_content
        && !pki.root_crls.is_empty()
        && pki.root_crls.iter().all(|b| {
            crate::crypto::crl::parse_crls(b.as_str(), "rootCrls")
                .is_ok_and(|c| c.iter().all(|crl| crl.this_update() == now))
        });
    if unchanged {
        return;
    }
    change(p, format!("{at}.rootCrls"), if pki.root_crls.is_empty() { "add" } else { "replace" });
    if store.required_version() < 2 {
        change(p, "version".into(), "replace");
    }
}

fn exists_or(present: bool) -> &'static str {
    if present {
        "replace"
    } else {
        "add"
    }
}

/// Scopes whose bundle carries `scope`'s intermediates.
fn carriers(project: &Project, scopes: &[String], scope: &str) -> Vec<String> {
    scopes.iter().filter(|s| trusted_scopes(project, s).iter().any(|t| t == scope)).cloned().collect()
}

/// Plans `what` for `name` at `now`, worded for a frontend (`w`).
pub fn plan(
    project: &Project,
    store: &Store,
    env: &str,
    name: &str,
    what: &Planned,
    now: OffsetDateTime,
    w: &dyn Wording,
) -> Result<Plan, Error> {
    let pki = get_pki(store, name)?;
    let at = format!("pkis.{name}");
    let scopes: Vec<String> = pki.intermediates.keys().cloned().collect();
    let before = root_phase(pki);
    let ts = crate::model::time::format_rfc3339;
    let mut p = Plan {
        command: String::new(),
        pki: name.into(),
        needs: None,
        refused: None,
        store: Vec::new(),
        provider: Vec::new(),
        bundles: Vec::new(),
        chains: Vec::new(),
        phase: (before, before),
        next: Vec::new(),
    };
    let renew_step = |why: String| NextStep { who: "ci", what: format!("inforge pki renew {env}: {why}"), when: None };
    let hosts_step = NextStep {
        who: "hosts",
        what: "re-project (daily timer, or at once: each service's renew unit, `systemctl start` on its `-renew.service`; --watch units do it themselves)".into(),
        when: None,
    };
    let check: Result<(), Error> = match what {
        Planned::Leaf { service } => {
            p.command = match service {
                Some(s) => format!("rotate --leaf --service {s}"),
                None => "rotate --leaf".into(),
            };
            p.needs = Some(Custodian::Ci);
            let filter = Filter { service: service.as_deref(), pki: Some(name), scopes: None };
            let targets = crate::mesh::targets(project, store, env, &filter);
            match targets {
                Ok(targets) => {
                    for t in targets {
                        p.provider.push(ProviderChange { service: t.service, scope: t.scope, what: "set" });
                    }
                    p.next.push(hosts_step.clone());
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        Planned::Intermediate { scope } => {
            p.command = format!("rotate --intermediate {scope}");
            p.needs = Some(Custodian::OfflineRoot);
            let ok = crate::pki::rotate::check_intermediate_rotation(store, project, name, scope);
            if ok.is_ok() {
                change(&mut p.store, format!("{at}.intermediates.{scope}"), "replace");
                let prev = pki.previous_intermediates.contains_key(scope);
                change(&mut p.store, format!("{at}.previousIntermediates.{scope}"), exists_or(prev));
                root_crls_resigned(&mut p.store, store, pki, &at, true, now);
                p.bundles = carriers(project, &scopes, scope);
                p.chains = vec![scope.clone()];
                p.next.push(renew_step(format!(
                    "re-mints {scope}'s leaves from the new intermediate and refreshes the bundles of {}",
                    p.bundles.join(", ")
                )));
                p.next.push(hosts_step.clone());
            }
            ok
        }
        Planned::Recover { scope } => {
            p.command = format!("recover-intermediate {scope}");
            p.needs = Some(Custodian::OfflineRoot);
            let ok = crate::pki::rotate::check_intermediate_rotation(store, project, name, scope);
            if ok.is_ok() {
                change(&mut p.store, format!("{at}.intermediates.{scope}"), "replace");
                if pki.previous_intermediates.contains_key(scope) {
                    change(&mut p.store, format!("{at}.previousIntermediates.{scope}"), "remove");
                }
                change(&mut p.store, format!("{at}.revoked"), exists_or(!pki.revoked.is_empty()));
                root_crls_resigned(&mut p.store, store, pki, &at, false, now);
                p.bundles = carriers(project, &scopes, scope);
                p.chains = vec![scope.clone()];
                let filter = Filter { service: None, pki: Some(name), scopes: None };
                for t in crate::mesh::targets(project, store, env, &filter)? {
                    if &t.scope == scope {
                        p.provider.push(ProviderChange { service: t.service, scope: t.scope, what: "set" });
                    } else if p.bundles.contains(&t.scope) {
                        p.provider.push(ProviderChange { service: t.service, scope: t.scope, what: "bundle" });
                    }
                }
                p.next.push(NextStep {
                    who: "hosts",
                    what: "re-project at once: --watch units do within seconds; timer units need `systemctl start` on each service's `-renew.service`, fleet-wide".into(),
                    when: None,
                });
            }
            ok
        }
        Planned::Root { min_overlap_days } => {
            p.command = "rotate --root".into();
            // The operator authorises every root rotation, root-only ones included.
            p.needs = Some(Custodian::OfflineRoot);
            let ok = crate::pki::rotate::check_root_rotation(store, name).and_then(|_| match min_overlap_days {
                Some(d) => crate::pki::tiers::check_overlap_days("the minimum overlap (days)", *d),
                None => Ok(()),
            });
            if ok.is_ok() {
                change(&mut p.store, format!("{at}.root"), "replace");
                change(&mut p.store, format!("{at}.previousRoots"), "add");
                change(&mut p.store, format!("{at}.rootOverlapStarted"), "add");
                change(&mut p.store, format!("{at}.rootOverlapMinDays"), "add");
                for s in &scopes {
                    change(&mut p.store, format!("{at}.intermediates.{s}"), "replace");
                    let prev = pki.previous_intermediates.contains_key(s);
                    change(&mut p.store, format!("{at}.previousIntermediates.{s}"), exists_or(prev));
                }
                root_crls_resigned(&mut p.store, store, pki, &at, false, now);
                p.bundles = scopes.clone();
                p.chains = scopes.clone();
                p.phase.1 = RootPhase::Overlap;
                let days = i64::from(min_overlap_days.unwrap_or(crate::model::limits::DEFAULT_MIN_OVERLAP_DAYS));
                let next = crate::model::time::add_days("the overlap", now, days)?;
                p.next.push(NextStep {
                    who: "consumers",
                    what: format!("take the bundle with both roots: inforge pki bundle {env} {name} --roots"),
                    when: None,
                });
                if pki.topology == Topology::TwoTier {
                    p.next.push(renew_step("chains carry the previous root's path first, then the new".into()));
                    p.next.push(NextStep {
                        who: "anyone",
                        what: format!(
                            "inforge pki rotate {env} {name} --root --switch, once consumers trust both roots"
                        ),
                        when: Some(ts(next)),
                    });
                } else {
                    p.next.push(NextStep {
                        who: "operator",
                        what: format!("inforge pki rotate {env} {name} --root --finalize"),
                        when: Some(ts(next)),
                    });
                }
            }
            ok
        }
        Planned::Switch { force } => {
            p.command = "rotate --root --switch".into();
            let ok = crate::pki::rotate::check_switch(store, name, *force, now);
            if ok.is_ok() {
                change(&mut p.store, format!("{at}.rootSwitchedAt"), "add");
                p.chains = scopes.clone();
                p.phase.1 = RootPhase::Switched;
                let fin = crate::model::time::add_days(
                    "the switch",
                    now,
                    i64::from(crate::model::limits::DEFAULT_MIN_SWITCH_DAYS),
                )?;
                p.next.push(renew_step("chains put the new root's path first".into()));
                p.next.push(hosts_step.clone());
                p.next.push(NextStep {
                    who: "operator",
                    what: format!("inforge pki rotate {env} {name} --root --finalize, once `inforge pki status {env}` shows every set switched"),
                    when: Some(ts(fin)),
                });
            }
            ok
        }
        Planned::Finalize { force } => {
            p.command = "rotate --root --finalize".into();
            p.needs = Some(Custodian::OfflineRoot);
            let ok = crate::pki::rotate::check_finalize(store, name, *force, now);
            if ok.is_ok() {
                change(&mut p.store, format!("{at}.previousRoots"), "remove");
                change(&mut p.store, format!("{at}.rootOverlapStarted"), "remove");
                change(&mut p.store, format!("{at}.rootOverlapMinDays"), "remove");
                if pki.root_switched_at.is_some() {
                    change(&mut p.store, format!("{at}.rootSwitchedAt"), "remove");
                }
                // The previous roots' CRLs go with them.
                let current = Cert::from_pem(pki.root.cert.as_str(), "root").ok();
                let kept = pki
                    .root_crls
                    .iter()
                    .filter(|b| {
                        crate::crypto::crl::parse_crls(b.as_str(), "rootCrls")
                            .is_ok_and(|c| c.iter().all(|crl| current.as_ref().is_some_and(|r| crl.is_signed_by(r))))
                    })
                    .count();
                if kept < pki.root_crls.len() {
                    change(&mut p.store, format!("{at}.rootCrls"), if kept == 0 { "remove" } else { "replace" });
                }
                let finalized = if pki.root_finalized_at.is_some() { "replace" } else { "add" };
                change(&mut p.store, format!("{at}.rootFinalizedAt"), finalized);
                if store.required_version() < 2 {
                    change(&mut p.store, "version".into(), "replace");
                }
                for (s, certs) in &pki.previous_intermediates {
                    let current =
                        pki.intermediates.get(s).and_then(|e| Cert::from_pem(e.cert.as_str(), "current").ok());
                    let twins = certs
                        .iter()
                        .filter(|b| {
                            Cert::from_pem(b.as_str(), "previous")
                                .ok()
                                .zip(current.as_ref())
                                .is_some_and(|(c, cur)| c.public_key_bytes() == cur.public_key_bytes())
                        })
                        .count();
                    if twins == certs.len() {
                        change(&mut p.store, format!("{at}.previousIntermediates.{s}"), "remove");
                    } else if twins > 0 {
                        change(&mut p.store, format!("{at}.previousIntermediates.{s}"), "replace");
                    }
                    if twins > 0 {
                        p.bundles.push(s.clone());
                    }
                }
                p.bundles = scopes
                    .iter()
                    .filter(|s| p.bundles.iter().any(|b| trusted_scopes(project, s).contains(b)))
                    .cloned()
                    .collect();
                p.chains = if pki.topology == Topology::TwoTier { scopes.clone() } else { Vec::new() };
                p.phase.1 = RootPhase::Stable;
                if pki.topology == Topology::TwoTier {
                    p.next.push(renew_step("chains carry the new root's path alone".into()));
                }
                p.next.push(NextStep {
                    who: "consumers",
                    what: format!("drop the previous root: inforge pki bundle {env} {name} --roots"),
                    when: None,
                });
            }
            ok
        }
    };
    if let Err(e) = check {
        p.refuse(Refusal { code: e.code(), message: e.to_string(), hint: e.remedy().render(w) });
    }
    p.store.sort();
    p.provider.sort();
    p.bundles.sort();
    p.chains.sort();
    Ok(p)
}

impl Plan {
    /// The plan as text, with the identity it needs in a frontend's words.
    pub fn text(&self, w: &dyn Wording) -> String {
        PlanText(self, w).to_string()
    }
}

struct PlanText<'a>(&'a Plan, &'a dyn Wording);

impl fmt::Display for PlanText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "plan: {} {} (nothing written)", self.0.command, self.0.pki)?;
        if let Some(r) = &self.0.refused {
            writeln!(f, "  refused now: error[{}]: {}", r.code, r.message)?;
            return writeln!(f, "  hint: {}", r.hint);
        }
        writeln!(f, "  needs: {}", self.0.needs.map_or_else(|| "no identity".to_string(), |c| self.1.identity(c)))?;
        if self.0.phase.0 != self.0.phase.1 {
            writeln!(f, "  root phase: {} → {}", self.0.phase.0.name(), self.0.phase.1.name())?;
        }
        if self.0.store.is_empty() {
            writeln!(f, "  store: unchanged")?;
        }
        for c in &self.0.store {
            writeln!(f, "  store: {:<8} {}", c.change, c.path)?;
        }
        if self.0.provider.is_empty() {
            writeln!(f, "  provider: nothing written by this command")?;
        }
        for c in &self.0.provider {
            writeln!(f, "  provider: {:<7} {}/{}", c.what, c.service, c.scope)?;
        }
        if !self.0.bundles.is_empty() {
            writeln!(f, "  bundles change: {}", self.0.bundles.join(", "))?;
        }
        if !self.0.chains.is_empty() {
            writeln!(f, "  chains change at the next renew: {}", self.0.chains.join(", "))?;
        }
        for (i, n) in self.0.next.iter().enumerate() {
            let when = n.when.as_deref().map(|w| format!(" (from {w})")).unwrap_or_default();
            writeln!(f, "  next {}: {}: {}{when}", i + 1, n.who, n.what)?;
        }
        Ok(())
    }
}
