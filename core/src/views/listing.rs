//! The listing (`pki ls`): each PKI's topology, tiers, expiries and overlap state, as a typed,
//! serializable document with a text rendering. Credential-free.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;

use crate::crypto::cert::Cert;
use crate::model::store::Store;
use crate::Error;

/// A certificate as `ls` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertSummary {
    /// Subject DN.
    pub subject: String,
    /// notAfter (RFC 3339).
    pub not_after: String,
    /// Whole days from now to notAfter (negative: expired).
    pub days_left: i64,
    /// SHA-256 fingerprint.
    pub fingerprint: String,
    /// Past notAfter.
    pub expired: bool,
}

impl CertSummary {
    /// Summarises a certificate at `now`.
    pub fn of(cert: &Cert, now: OffsetDateTime) -> CertSummary {
        CertSummary {
            subject: cert.subject(),
            not_after: crate::model::time::format_rfc3339(cert.not_after()),
            days_left: (cert.not_after() - now).whole_days(),
            fingerprint: cert.fingerprint(),
            expired: cert.not_after() < now,
        }
    }
}

/// Overlap state of a PKI.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OverlapSummary {
    /// A root overlap is in progress (previous roots present).
    pub root_overlap: bool,
    /// When it started.
    pub root_overlap_started: Option<String>,
    /// The root-rotation phase: stable, overlap or switched.
    pub phase: crate::pki::tiers::RootPhase,
    /// When `--root --switch` is allowed (two-tier, overlap phase).
    pub switch_allowed_at: Option<String>,
    /// When `--root --switch` happened.
    pub switched_at: Option<String>,
    /// From when `--root --finalize` is allowed without --force.
    pub finalize_allowed_at: Option<String>,
    /// Retired roots still trusted.
    pub previous_roots: Vec<CertSummary>,
    /// Retired intermediate certificates still in bundles, per scope.
    pub previous_intermediates: BTreeMap<String, Vec<CertSummary>>,
}

/// One PKI as `ls` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PkiSummary {
    /// Name.
    pub name: String,
    /// two-tier or root-only.
    pub topology: &'static str,
    /// Key algorithm.
    pub algorithm: &'static str,
    /// Tiers present: "root", "intermediate:<scope>"…
    pub tiers: Vec<String>,
    /// The root.
    pub root: CertSummary,
    /// Intermediates by scope.
    pub intermediates: BTreeMap<String, CertSummary>,
    /// Overlap state.
    pub overlap: OverlapSummary,
    /// Revoked certificates.
    pub revoked: Vec<RevokedSummary>,
    /// Revoked leaves (`pki revoke-leaf`), as stored.
    pub revoked_leaves: Vec<crate::model::store::RevokedLeaf>,
    /// The PKI's default leaf lifetime (`pki add --leaf-ttl`), if set.
    pub leaf_ttl: Option<String>,
}

/// A revoked certificate as the listing shows it (every field present; `serial` null in
/// records from before root CRLs).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokedSummary {
    /// SHA-256 of its DER, lowercase hex.
    pub fingerprint: String,
    /// The scope it served.
    pub scope: String,
    /// Its subject.
    pub subject: String,
    /// When it was revoked (RFC 3339).
    pub revoked_at: String,
    /// Its serial, lowercase hex, when recorded.
    pub serial: Option<String>,
}

/// `inforge pki ls`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    /// Environment.
    pub env: String,
    /// The time the listing was computed for.
    pub now: String,
    /// PKIs by name order.
    pub pkis: Vec<PkiSummary>,
}

/// Builds the listing (credential-free: certificates only).
pub fn listing(store: &Store, env: &str, now: OffsetDateTime) -> Result<Listing, Error> {
    let mut pkis = Vec::new();
    for (name, pki) in &store.pkis {
        let root = Cert::from_pem(pki.root.cert.as_str(), &format!("pkis.{name}.root.cert"))?;
        let mut tiers = vec!["root".to_string()];
        let mut intermediates = BTreeMap::new();
        for (scope, e) in &pki.intermediates {
            let c = Cert::from_pem(e.cert.as_str(), &format!("pkis.{name}.intermediates.{scope}.cert"))?;
            tiers.push(format!("intermediate:{scope}"));
            intermediates.insert(scope.clone(), CertSummary::of(&c, now));
        }
        let previous_roots = pki
            .previous_roots
            .iter()
            .enumerate()
            .map(|(i, e)| {
                Cert::from_pem(e.cert.as_str(), &format!("pkis.{name}.previousRoots[{i}].cert"))
                    .map(|c| CertSummary::of(&c, now))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut previous_intermediates = BTreeMap::new();
        for (scope, certs) in &pki.previous_intermediates {
            let mut v = Vec::new();
            for (i, b) in certs.iter().enumerate() {
                let c = Cert::from_pem(b.as_str(), &format!("pkis.{name}.previousIntermediates.{scope}[{i}]"))?;
                v.push(CertSummary::of(&c, now));
            }
            previous_intermediates.insert(scope.clone(), v);
        }
        pkis.push(PkiSummary {
            name: name.clone(),
            topology: pki.topology.name(),
            algorithm: pki.algorithm.name(),
            tiers,
            root: CertSummary::of(&root, now),
            intermediates,
            overlap: OverlapSummary {
                root_overlap: !pki.previous_roots.is_empty(),
                root_overlap_started: pki.root_overlap_started.clone(),
                phase: crate::pki::tiers::root_phase(pki),
                switch_allowed_at: match crate::pki::tiers::root_phase(pki) {
                    crate::pki::tiers::RootPhase::Overlap => {
                        crate::pki::tiers::switch_allowed_at_pki(pki, name)?.map(crate::model::time::format_rfc3339)
                    }
                    _ => None,
                },
                switched_at: pki.root_switched_at.clone(),
                finalize_allowed_at: crate::pki::tiers::finalize_allowed_at(store, name)?
                    .map(crate::model::time::format_rfc3339),
                previous_roots,
                previous_intermediates,
            },
            revoked: pki
                .revoked
                .iter()
                .map(|r| RevokedSummary {
                    fingerprint: r.fingerprint.clone(),
                    scope: r.scope.clone(),
                    subject: r.subject.clone(),
                    revoked_at: r.revoked_at.clone(),
                    serial: r.serial.clone(),
                })
                .collect(),
            revoked_leaves: pki.revoked_leaves.clone(),
            leaf_ttl: pki.leaf_ttl.clone(),
        });
    }
    Ok(Listing { env: env.to_string(), now: crate::model::time::format_rfc3339(now), pkis })
}

fn expiry(c: &CertSummary) -> String {
    if c.expired {
        format!("EXPIRED {} ({} days ago)", c.not_after, -c.days_left)
    } else {
        format!("expires {} ({} days)", c.not_after, c.days_left)
    }
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pkis.is_empty() {
            return writeln!(
                f,
                "{}: no PKIs yet (add one with `inforge pki add {}`, its name and `--topology two-tier`)",
                self.env, self.env
            );
        }
        for p in &self.pkis {
            writeln!(f, "{}  {}  {}", p.name, p.topology, p.algorithm)?;
            writeln!(f, "  root                     {}", expiry(&p.root))?;
            for (scope, c) in &p.intermediates {
                writeln!(f, "  intermediate {:<12}{}", scope, expiry(c))?;
            }
            if p.topology == "two-tier" && p.intermediates.is_empty() {
                writeln!(
                    f,
                    "  intermediates            none yet (`inforge pki intermediate {} {}` and `global` or a region)",
                    self.env, p.name
                )?;
            }
            if p.overlap.root_overlap {
                let next = match (&p.overlap.switch_allowed_at, &p.overlap.switched_at) {
                    (Some(at), _) => format!("phase overlap (previous root's path first); switch from {at}"),
                    (None, Some(at)) => format!(
                        "phase switched at {at} (new root's path first); finalize from {}",
                        p.overlap.finalize_allowed_at.as_deref().unwrap_or("now")
                    ),
                    (None, None) => {
                        format!("finalize from {}", p.overlap.finalize_allowed_at.as_deref().unwrap_or("now"))
                    }
                };
                writeln!(
                    f,
                    "  overlap                  root rotation since {} ({} previous root(s)); {next}",
                    p.overlap.root_overlap_started.as_deref().unwrap_or("unknown"),
                    p.overlap.previous_roots.len(),
                )?;
            }
            for (scope, v) in &p.overlap.previous_intermediates {
                writeln!(f, "  previous {:<16}{} previous intermediate(s) still in bundles", scope, v.len())?;
            }
            for r in &p.revoked {
                let short: String = r.fingerprint.chars().take(16).collect();
                writeln!(f, "  revoked {:<17}{short}… at {}", r.scope, r.revoked_at)?;
            }
            if let Some(t) = &p.leaf_ttl {
                writeln!(f, "  leaf lifetime            {t} (pki add --leaf-ttl; a service's own leafTtl wins)")?;
            }
            for r in &p.revoked_leaves {
                writeln!(f, "  revoked leaf             {} ({}) at {}", r.serial, r.reason.name(), r.revoked_at)?;
            }
        }
        Ok(())
    }
}
