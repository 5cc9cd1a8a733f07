//! Which scope's bundle trusts which scope's intermediates, with the boundary rule per pair
//! (`trust_matrix`), and the rule for two SPIFFE IDs (`authorize_ids`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::*;
use crate::crypto::cert::Cert;
use crate::mesh::{self, SpiffeId, GLOBAL};
use crate::model::config::Project;
use crate::model::store::{Store, Topology};
use crate::{Coded, Error};

/// One cell of the trust matrix: does the row scope's bundle carry the column scope's
/// intermediates?
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustCell {
    /// The column scope (whose intermediates).
    pub scope: String,
    /// The row's bundle carries at least one of them.
    pub trusted: bool,
    /// Fingerprints of the column scope's certificates in the row's bundle.
    pub fingerprints: Vec<String>,
    /// Why this scope's intermediates cannot be trusted here (a member fails its checks);
    /// `None` when the cell is decided.
    pub error: Option<Unreadable>,
}

/// One row: a scope's bundle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustRow {
    /// The scope whose bundle this is.
    pub scope: String,
    /// Why there is no bundle (code, message), e.g. the scope has no intermediate yet.
    pub error: Option<Unreadable>,
    /// One cell per matrix scope.
    pub cells: Vec<TrustCell>,
}

/// The trust matrix of one two-tier PKI.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PkiTrust {
    /// PKI name.
    pub name: String,
    /// One row per scope.
    pub rows: Vec<TrustRow>,
}

/// The boundary rule between two scopes (by authorization on SPIFFE IDs).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoundaryCell {
    /// Caller's scope.
    pub caller: String,
    /// Callee's scope.
    pub callee: String,
    /// Whether the call is authorized.
    pub allowed: bool,
    /// Why (the rule that decided).
    pub reason: String,
}

/// Who trusts whom: per two-tier PKI the scope bundles (the handshake), and the boundary rule
/// (authorization) for every pair of scopes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustMatrix {
    /// The environment.
    pub env: String,
    /// The scopes: `global` then the regions.
    pub scopes: Vec<String>,
    /// Per two-tier PKI.
    pub pkis: Vec<PkiTrust>,
    /// Caller scope × callee scope.
    pub boundary: Vec<BoundaryCell>,
}

/// The trust matrix, built from [`mesh::scope_bundle`] (the bundles renew writes) and
/// [`mesh::authorize`].
pub fn trust_matrix(store: &Store, project: &Project, env: &str) -> TrustMatrix {
    let scopes: Vec<String> = std::iter::once(GLOBAL.to_string()).chain(project.regions.iter().cloned()).collect();
    let mut pkis = Vec::new();
    for (name, pki) in &store.pkis {
        if pki.topology != Topology::TwoTier {
            continue;
        }
        // Each cell on its own: a bad intermediate marks the cells of the bundles that would
        // carry it, not every row of the matrix.
        let members: BTreeMap<&String, Result<Vec<String>, Unreadable>> = scopes
            .iter()
            .map(|col| {
                let m = mesh::scope_members(store, env, name, col)
                    .map(|certs| certs.iter().map(Cert::fingerprint).collect())
                    .map_err(|e| Unreadable {
                        location: format!("pkis.{name}.intermediates.{col}"),
                        code: e.code(),
                        message: e.to_string(),
                    });
                (col, m)
            })
            .collect();
        let rows = scopes
            .iter()
            .map(|row| {
                // A scope with no intermediate has no bundle at all (renew writes none).
                if let Err(e) = mesh::scope_bundle(store, project, env, name, row) {
                    if !pki.intermediates.contains_key(row) {
                        return TrustRow {
                            scope: row.clone(),
                            error: Some(Unreadable {
                                location: format!("pkis.{name}.intermediates.{row}"),
                                code: e.code(),
                                message: e.to_string(),
                            }),
                            cells: Vec::new(),
                        };
                    }
                }
                let trusted = mesh::trusted_scopes(project, row);
                let cells = scopes
                    .iter()
                    .map(|col| {
                        if !trusted.contains(col) {
                            return TrustCell { scope: col.clone(), trusted: false, fingerprints: vec![], error: None };
                        }
                        match &members[col] {
                            Ok(f) => TrustCell {
                                scope: col.clone(),
                                trusted: !f.is_empty(),
                                fingerprints: f.clone(),
                                error: None,
                            },
                            Err(u) => TrustCell {
                                scope: col.clone(),
                                trusted: false,
                                fingerprints: vec![],
                                error: Some(u.clone()),
                            },
                        }
                    })
                    .collect();
                TrustRow { scope: row.clone(), error: None, cells }
            })
            .collect();
        pkis.push(PkiTrust { name: name.clone(), rows });
    }
    let td = &project.config.base_domain;
    let mut boundary = Vec::new();
    for caller in &scopes {
        for callee in &scopes {
            let r =
                mesh::authorize(&SpiffeId::new(td, env, caller, "caller"), &SpiffeId::new(td, env, callee, "callee"));
            boundary.push(BoundaryCell {
                caller: caller.clone(),
                callee: callee.clone(),
                allowed: r.is_ok(),
                // Worded per scope pair: the placeholder services' IDs would only distract.
                reason: match r {
                    Ok(()) if caller == callee => "intra-scope calls are allowed".into(),
                    Ok(()) => format!("{caller}→global is allowed"),
                    Err(mesh::Denied::GlobalToRegion { .. }) => {
                        format!("global→{callee} is refused by authorization on the peer's SPIFFE scope")
                    }
                    Err(d) => d.to_string(),
                },
            });
        }
    }
    TrustMatrix { env: env.to_string(), scopes, pkis, boundary }
}

/// The boundary rule for two SPIFFE IDs (a pasted pair).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    /// Whether the caller may call the callee.
    pub allowed: bool,
    /// Why.
    pub reason: String,
    /// The caller's SPIFFE ID as the mesh vouches for it: the given ID for [`authorize_ids`];
    /// for [`authorize_chain`], the leaf's, once its issuer serves the scope it claims (else
    /// `None`).
    pub caller: Option<String>,
}

/// [`mesh::authorize`] on two ID strings; a malformed ID is an error (`spiffe-id-invalid`).
pub fn authorize_ids(caller: &str, callee: &str) -> Result<Authorization, Error> {
    let (a, b) = (SpiffeId::parse(caller.trim())?, SpiffeId::parse(callee.trim())?);
    Ok(match mesh::authorize(&a, &b) {
        Ok(()) => Authorization {
            allowed: true,
            reason: format!("{} → {} is within the regional boundary", a.scope, b.scope),
            caller: Some(a.to_string()),
        },
        Err(d) => Authorization { allowed: false, reason: d.to_string(), caller: Some(a.to_string()) },
    })
}

/// [`mesh::authorize_peer`] for a caller known by the chain it presented after the TLS
/// handshake (leaf first, then its intermediate, as in `cert.pem`): the leaf may claim only
/// its issuing intermediate's scope, then the boundary rule. What a service embeds; a
/// malformed callee ID is an error (`spiffe-id-invalid`), a bad chain a refusal.
pub fn authorize_chain(chain_pem: &str, callee: &str) -> Result<Authorization, Error> {
    let callee = SpiffeId::parse(callee.trim())?;
    Ok(match mesh::authorize_peer(chain_pem, &callee) {
        Ok(caller) => Authorization {
            allowed: true,
            reason: format!("{} → {} is within the regional boundary", caller.scope, callee.scope),
            caller: Some(caller.to_string()),
        },
        Err(d) => {
            // The chain's identity may be sound and the boundary the refusal.
            let caller = mesh::peer_identity(chain_pem).ok().map(|c| c.to_string());
            Authorization { allowed: false, reason: d.to_string(), caller }
        }
    })
}
