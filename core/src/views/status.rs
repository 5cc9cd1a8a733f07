//! `inforge pki status`: what the provider holds, set by set, judged against the store.
//!
//! For every mesh service and scope (the targets renew would write), the shell fetches the
//! set from the provider and [`status`] reports the leaf's serial, expiry, issuing
//! intermediate and chain phase, and every problem: a missing set, a key that is not the
//! leaf's, a leaf for another identity, a leaf from a revoked or rotated-away intermediate, a
//! chain from before the store's root phase, a stale bundle, a leaf expired or expiring within
//! the horizon. The finalize gate of a root rotation uses the same report
//! ([`crate::ops::check_fleet_switched`]).

use std::fmt;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::crypto::cert::{parse_bundle, Cert};
use crate::crypto::keys::PrivateKey;
use crate::mesh::projection::SetTexts;
use crate::mesh::LeafTarget;
use crate::model::config::Project;
use crate::model::store::Store;
use crate::pki::tiers::{root_phase, RootPhase};

/// One problem with a set.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// Stable code (docs/json.md lists them).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

/// Where the leaf's issuing intermediate stands in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IssuerState {
    /// The scope's current intermediate (or its twin: same key).
    Current,
    /// A previous intermediate of the scope (a planned roll happened since).
    Previous,
    /// A revoked intermediate.
    Revoked,
    /// No intermediate of this PKI and scope.
    Unknown,
}

/// One service+scope.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetStatus {
    /// Service.
    pub service: String,
    /// Scope.
    pub scope: String,
    /// The mesh PKI.
    pub pki: String,
    /// The SPIFFE ID the leaf must carry.
    pub spiffe_id: String,
    /// Whether the provider holds a set.
    pub present: bool,
    /// Leaf serial (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Leaf notAfter (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Whole days until notAfter (negative when expired).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    /// The issuing intermediate's subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Where that intermediate stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_state: Option<IssuerState>,
    /// The root phase `cert.pem`'s chain was written in (`None`: not a chain this store
    /// would write in any phase, e.g. a twin dropped by finalize).
    pub chain_phase: Option<RootPhase>,
    /// Problems, empty when the set is sound.
    pub problems: Vec<Problem>,
}

/// The whole environment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// Environment.
    pub env: String,
    /// The time judged at (RFC 3339).
    pub now: String,
    /// Expiry horizon in seconds: a leaf expiring sooner is a problem.
    pub within_seconds: i64,
    /// Each PKI in the mesh and its root phase.
    pub phases: std::collections::BTreeMap<String, RootPhase>,
    /// Per PKI in the switched phase: whether every set serves the switched chain, so that
    /// consumers that trust only the new root are safe (not before the hosts re-projected).
    pub new_root_only_safe: std::collections::BTreeMap<String, bool>,
    /// Every set, in plan order.
    pub sets: Vec<SetStatus>,
    /// Sets with at least one problem.
    pub problem_sets: usize,
    /// No problem anywhere.
    pub ok: bool,
}

/// What the provider gave for one set.
#[derive(Debug)]
pub enum Fetched {
    /// The set it holds.
    Held(SetTexts),
    /// It holds none.
    Missing,
    /// It could not be read (not UTF-8, too large, a planted special file, an etcd error):
    /// the reason, secret-free. Such a set counts as a problem and as not switched.
    Unreadable(String),
}

impl From<Option<SetTexts>> for Fetched {
    fn from(set: Option<SetTexts>) -> Fetched {
        set.map_or(Fetched::Missing, Fetched::Held)
    }
}

fn p(code: &'static str, message: impl Into<String>) -> Problem {
    Problem { code, message: message.into() }
}

/// Judges each fetched set (`None`: the provider holds none) against the store at `now`;
/// leaves expiring within `within` are problems.
pub fn status(
    project: &Project,
    store: &Store,
    env: &str,
    fetched: &[(LeafTarget, Fetched)],
    now: OffsetDateTime,
    within: Duration,
) -> StatusReport {
    let mut phases = std::collections::BTreeMap::new();
    let sets: Vec<SetStatus> = fetched
        .iter()
        .map(|(t, set)| {
            if let Some(pki) = store.pkis.get(&t.pki) {
                phases.insert(t.pki.clone(), root_phase(pki));
            }
            one(project, store, env, t, set, now, within)
        })
        .collect();
    let problem_sets = sets.iter().filter(|s| !s.problems.is_empty()).count();
    let new_root_only_safe = phases
        .iter()
        .filter(|(_, ph)| **ph == RootPhase::Switched)
        .map(|(pki, _)| {
            let mine = sets.iter().filter(|s| &s.pki == pki);
            (pki.clone(), mine.clone().count() > 0 && mine.clone().all(|s| s.chain_phase == Some(RootPhase::Switched)))
        })
        .collect();
    StatusReport {
        env: env.to_string(),
        now: crate::model::time::format_rfc3339(now),
        within_seconds: within.whole_seconds(),
        phases,
        new_root_only_safe,
        sets,
        problem_sets,
        ok: problem_sets == 0,
    }
}

fn one(
    project: &Project,
    store: &Store,
    env: &str,
    t: &LeafTarget,
    set: &Fetched,
    now: OffsetDateTime,
    within: Duration,
) -> SetStatus {
    let mut s = SetStatus {
        service: t.service.clone(),
        scope: t.scope.clone(),
        pki: t.pki.clone(),
        spiffe_id: t.spiffe_id.clone(),
        present: !matches!(set, Fetched::Missing),
        serial: None,
        not_after: None,
        days_left: None,
        issuer: None,
        issuer_state: None,
        chain_phase: None,
        problems: Vec::new(),
    };
    let set = match set {
        Fetched::Held(set) => set,
        Fetched::Missing => {
            s.problems.push(p("set-missing", "the provider holds no set: renew has not written it"));
            return s;
        }
        Fetched::Unreadable(why) => {
            s.problems.push(p("set-unreadable", format!("the provider's set cannot be read: {why}")));
            return s;
        }
    };
    let chain = match parse_bundle(&set.cert, "cert.pem") {
        Ok(c) if c.len() >= 2 => c,
        Ok(_) => {
            s.problems.push(p("set-malformed", "cert.pem lacks the leaf or its intermediate"));
            return s;
        }
        Err(e) => {
            s.problems.push(p("set-malformed", format!("cert.pem: {e}")));
            return s;
        }
    };
    let leaf = &chain[0];
    s.serial = Some(leaf.serial_hex());
    s.not_after = Some(crate::model::time::format_rfc3339(leaf.not_after()));
    s.days_left = Some((leaf.not_after() - now).whole_days());
    match PrivateKey::from_pkcs8_pem(&set.key, "key.pem") {
        Ok(k) if k.public_key_bytes() == leaf.public_key_bytes() => {}
        Ok(_) => s.problems.push(p("set-key-mismatch", "key.pem is not the leaf's key")),
        Err(_) => s.problems.push(p("set-malformed", "key.pem is not a PKCS#8 PEM private key")),
    }
    let uris = leaf.uri_sans();
    if uris.as_slice() != [t.spiffe_id.clone()] {
        s.problems.push(p("set-wrong-identity", format!("the leaf is {}, not {}", uris.join(", "), t.spiffe_id)));
    }
    if leaf.not_after() < now {
        s.problems.push(p(
            "leaf-expired",
            format!("the leaf expired at {}", crate::model::time::format_rfc3339(leaf.not_after())),
        ));
    } else if leaf.not_after() - now < t.ttl.map_or(within, |ttl| within.min(ttl / 3)) {
        // A short-lived leaf (`leafTtl`) is "expiring" only in the last third of its life, not
        // all its life long under the default 7-day horizon.
        s.problems.push(p(
            "leaf-expiring",
            format!("the leaf expires at {}, within the horizon", crate::model::time::format_rfc3339(leaf.not_after())),
        ));
    }
    let Some(pki) = store.pkis.get(&t.pki) else {
        return s;
    };
    let current = pki.intermediates.get(&t.scope).and_then(|e| Cert::from_pem(e.cert.as_str(), "intermediate").ok());
    let previous: Vec<Cert> = pki
        .previous_intermediates
        .get(&t.scope)
        .into_iter()
        .flatten()
        .filter_map(|b| Cert::from_pem(b.as_str(), "previous").ok())
        .collect();
    let revoked: Vec<&str> = pki.revoked.iter().map(|r| r.fingerprint.as_str()).collect();

    // The issuer, by the key that signed the leaf.
    let presented_issuer = chain[1..].iter().find(|c| leaf.verify_signed_by(c, "cert.pem").is_ok());
    s.issuer = presented_issuer.map(Cert::subject);
    let state = match (&current, presented_issuer) {
        (_, Some(c)) if revoked.contains(&c.fingerprint().as_str()) => IssuerState::Revoked,
        (Some(cur), _) if leaf.verify_signed_by(cur, "cert.pem").is_ok() => IssuerState::Current,
        _ if previous.iter().any(|c| leaf.verify_signed_by(c, "cert.pem").is_ok()) => IssuerState::Previous,
        _ => IssuerState::Unknown,
    };
    s.issuer_state = Some(state);
    // Cut short by its intermediate: the leaf ends with it, short of a full lifetime. Only a
    // roll of the intermediate fixes it (a renew mints the same short leaf again).
    if let Some(iss) = presented_issuer {
        let life = leaf.not_after() - leaf.not_before();
        let meant = t.ttl.unwrap_or(Duration::days(crate::crypto::profile::LEAF_DAYS));
        if leaf.not_after() >= iss.not_after() && life < meant {
            s.problems.push(p(
                "leaf-capped",
                format!(
                    "the leaf ends with its intermediate at {}: it lasts {} hours, not {}; roll the intermediate",
                    crate::model::time::format_rfc3339(leaf.not_after()),
                    life.whole_hours(),
                    meant.whole_hours()
                ),
            ));
        }
    }
    match state {
        IssuerState::Current => {}
        IssuerState::Revoked => {
            s.problems.push(p("leaf-revoked-issuer", "the leaf was issued by a revoked intermediate"))
        }
        IssuerState::Previous => s.problems.push(p(
            "leaf-rotated-issuer",
            "the leaf was issued by a previous intermediate of its scope (rotated away)",
        )),
        IssuerState::Unknown => s
            .problems
            .push(p("leaf-unknown-issuer", "the leaf was not issued by any intermediate of this PKI and scope")),
    }

    // The chain's phase: C = the current intermediate, T = its twin (same key, previous root).
    if let Some(cur) = &current {
        let kinds: Vec<char> = chain[1..]
            .iter()
            .map(|c| {
                if c.fingerprint() == cur.fingerprint() {
                    'C'
                } else if c.public_key_bytes() == cur.public_key_bytes()
                    && previous.iter().any(|pv| pv.fingerprint() == c.fingerprint())
                {
                    'T'
                } else {
                    'X'
                }
            })
            .collect();
        let twins = kinds.iter().filter(|k| **k == 'T').count();
        s.chain_phase = match kinds.as_slice() {
            ['C'] => Some(RootPhase::Stable),
            [.., 'C'] if twins == kinds.len() - 1 && twins > 0 => Some(RootPhase::Overlap),
            ['C', ..] if twins == kinds.len() - 1 && twins > 0 => Some(RootPhase::Switched),
            _ => None,
        };
        let expected = root_phase(pki);
        if state == IssuerState::Current && s.chain_phase != Some(expected) {
            let found = s.chain_phase.map(RootPhase::name).unwrap_or("no phase of this store");
            s.problems.push(p(
                "chain-phase-stale",
                format!("cert.pem's chain is from {found}, the PKI is in phase {}", expected.name()),
            ));
        }
    }

    // The bundle the scope should carry now.
    match crate::mesh::scope_bundle(store, project, env, &t.pki, &t.scope) {
        Ok(b) if crate::mesh::pem_bundle(&b) != set.bundle => {
            s.problems.push(p("bundle-stale", "bundle.pem differs from the scope's bundle in the store"))
        }
        _ => {}
    }
    let bundle = parse_bundle(&set.bundle, "bundle.pem").unwrap_or_default();
    revocation_problems(&mut s, pki, leaf, set, &bundle, now);
    s
}

/// A set serving a revoked leaf, and `crl.pem` missing, expired or behind the store.
fn revocation_problems(
    s: &mut SetStatus,
    pki: &crate::model::store::Pki,
    leaf: &Cert,
    set: &SetTexts,
    bundle: &[Cert],
    now: OffsetDateTime,
) {
    use crate::model::store::serial_value;
    let serial = leaf.serial_hex();
    if let Some(r) = pki.revoked_leaves.iter().find(|r| serial_value(&r.serial) == serial_value(&serial)) {
        s.problems.push(p(
            "leaf-revoked",
            format!("the set serves leaf {serial}, revoked at {}: renew replaces it", r.revoked_at),
        ));
    }
    if set.crl.trim().is_empty() {
        s.problems
            .push(p("crl-missing", "the set has no crl.pem (written before inforge signed CRLs): renew writes it"));
        return;
    }
    let crls = match crate::crypto::crl::parse_crls(&set.crl, "crl.pem") {
        Ok(c) => c,
        Err(e) => {
            s.problems.push(p("set-malformed", format!("crl.pem: {e}")));
            return;
        }
    };
    // The intermediates' CRLs, which renew re-signs; a root's (signed offline, a year long) is
    // validate's to watch (`root-crl-expiring`).
    let by_intermediates = crls.iter().filter(|c| bundle.iter().any(|b| c.is_signed_by(b)));
    if let Some(end) = by_intermediates.filter_map(|c| c.next_update()).filter(|n| *n <= now).min() {
        s.problems.push(p(
            "crl-expired",
            format!(
                "a CRL in crl.pem passed its nextUpdate at {}: consumers that check CRLs refuse peers; renew re-signs it",
                crate::model::time::format_rfc3339(end)
            ),
        ));
    }
    let missing: Vec<String> = crate::mesh::revocation::live_entries(pki, now)
        .into_iter()
        .filter(|e| !crls.iter().any(|c| c.lists(&e.serial)))
        .map(|e| e.serial)
        .collect();
    // Every current intermediate the served bundle trusts needs its CRL here: a consumer that
    // checks CRLs refuses that intermediate's leaves without one (e.g. after a recovery).
    let unsigned: Vec<String> = bundle
        .iter()
        .filter(|b| {
            pki.intermediates.values().any(|e| Cert::from_pem(e.cert.as_str(), "i").is_ok_and(|c| c.der() == b.der()))
        })
        .filter(|b| b.is_valid_at(now) && !crls.iter().any(|c| c.is_signed_by(b)))
        .map(Cert::subject)
        .collect();
    if !missing.is_empty() || !unsigned.is_empty() {
        let mut what = Vec::new();
        if !missing.is_empty() {
            what.push(format!("does not list revoked leaf {}", missing.join(", ")));
        }
        if !unsigned.is_empty() {
            what.push(format!("has no CRL of {}", unsigned.join(", ")));
        }
        s.problems.push(p("crl-stale", format!("crl.pem {}: renew re-signs the CRLs", what.join(" and "))));
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (pki, phase) in &self.phases {
            writeln!(f, "{pki}: root phase {}", phase.name())?;
            // The switch's promise holds only once every host serves the switched chain.
            match self.new_root_only_safe.get(pki) {
                Some(true) => writeln!(
                    f,
                    "{pki}: every set serves the switched chain: consumers that trust only the new root are safe"
                )?,
                Some(false) => {
                    let (n, m) = (
                        self.sets
                            .iter()
                            .filter(|s| &s.pki == pki && s.chain_phase != Some(RootPhase::Switched))
                            .count(),
                        self.sets.iter().filter(|s| &s.pki == pki).count(),
                    );
                    writeln!(
                        f,
                        "{pki}: {n} of {m} sets do not serve the switched chain yet: consumers that trust only the new \
                         root are not safe until they do"
                    )?
                }
                None => {}
            }
        }
        for s in &self.sets {
            let what = format!("{}/{}", s.service, s.scope);
            match (&s.serial, &s.not_after) {
                (Some(serial), Some(until)) => {
                    let short: String = serial.chars().take(12).collect();
                    let issuer = s.issuer_state.map(|i| format!("{i:?}").to_lowercase()).unwrap_or_default();
                    let chain = s.chain_phase.map(RootPhase::name).unwrap_or("?");
                    write!(
                        f,
                        "{what:<28} serial {short}…  until {until} ({} d)  issuer {issuer}  chain {chain}",
                        s.days_left.unwrap_or_default()
                    )?;
                }
                _ => write!(f, "{what:<28} no set")?,
            }
            if s.problems.is_empty() {
                writeln!(f, "  ok")?;
            } else {
                writeln!(f)?;
                for pr in &s.problems {
                    writeln!(f, "    problem[{}]: {}", pr.code, pr.message)?;
                }
            }
        }
        writeln!(f, "{} of {} sets with problems", self.problem_sets, self.sets.len())
    }
}
