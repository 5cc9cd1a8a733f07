//! A pasted leaf chain checked against a scope's bundle (`check_leaf`).

use serde::Serialize;
use time::OffsetDateTime;

use super::*;
use crate::crypto::cert::Cert;
use crate::error::InspectError;
use crate::mesh::{self, SpiffeId};
use crate::model::config::Project;
use crate::model::store::{Store, Topology};
use crate::model::time::format_rfc3339;
use crate::Error;

/// One check of a pasted leaf.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafFinding {
    /// Stable name of the check.
    pub check: &'static str,
    /// Passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The verdict on a pasted leaf chain against a scope's bundle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafCheck {
    /// Every check passed.
    pub ok: bool,
    /// The scope whose bundle was used.
    pub scope: String,
    /// The PKI whose bundle member issued the leaf, if any.
    pub pki: Option<String>,
    /// The leaf's SPIFFE ID, if it has exactly one.
    pub spiffe_id: Option<String>,
    /// The leaf's details.
    pub leaf: CertView,
    /// The issuing bundle member's fingerprint.
    pub issuer_fingerprint: Option<String>,
    /// Each check in order.
    pub checks: Vec<LeafFinding>,
}

/// The certificates of pasted PEM (`what` names it in errors), at least one. A pasted key is
/// named for what it is (and its text never repeated), not "cert-invalid … post-encapsulation
/// boundary" with a hint about the store.
pub(crate) fn pasted_certs(pem: &str, what: &str) -> Result<Vec<Cert>, Error> {
    if pem.contains("PRIVATE KEY-----") && !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(InspectError::KeyNotChain { what: what.into() }.into());
    }
    let certs = crate::crypto::cert::parse_bundle(pem, what)?;
    if certs.is_empty() {
        return Err(
            crate::error::CertError::Parse { location: what.into(), reason: "no certificate found".into() }.into()
        );
    }
    Ok(certs)
}

/// Checks a leaf chain (leaf first, as `cert.pem`) against `scope`'s bundle of every two-tier
/// PKI (the bundle renew writes): signed by a member, valid at `now`, not a CA, and claiming
/// only its issuer's scope ([`mesh::peer_identity`]). `scope` defaults to the leaf's own.
pub fn check_leaf(
    store: &Store,
    project: &Project,
    env: &str,
    chain_pem: &str,
    scope: Option<&str>,
    now: OffsetDateTime,
) -> Result<LeafCheck, Error> {
    let certs = pasted_certs(chain_pem, "the pasted chain")?;
    let leaf = &certs[0];
    let uris = leaf.uri_sans();
    let id = match uris.as_slice() {
        [one] => SpiffeId::parse(one).ok(),
        _ => None,
    };
    let scope = match (scope.filter(|s| !s.is_empty()), &id) {
        // A scope the caller asked for must exist: an unknown one is an input error, not a
        // leaf that fails its checks.
        (Some(s), _) => {
            crate::pki::tiers::check_scope(project, s)?;
            s.to_string()
        }
        (None, Some(id)) => id.scope.clone(),
        (None, None) => return Err(InspectError::NoScope { reason: "the leaf has no single SPIFFE ID".into() }.into()),
    };
    let mut checks = Vec::new();
    let mut push = |check, ok, detail: String| checks.push(LeafFinding { check, ok, detail });
    push(
        "spiffe-id",
        id.is_some(),
        match &id {
            Some(i) => format!("{i}"),
            None => format!("expected exactly one SPIFFE URI SAN, found {:?}", uris),
        },
    );
    let mut issuer: Option<(String, Cert)> = None;
    let mut bundle_problems = Vec::new();
    for (name, pki) in &store.pkis {
        if pki.topology != Topology::TwoTier {
            continue;
        }
        match mesh::scope_bundle(store, project, env, name, &scope) {
            Ok(bundle) => {
                if let Some(m) = bundle
                    .into_iter()
                    .find(|m| leaf.issuer() == m.subject() && leaf.verify_signed_by(m, "leaf").is_ok())
                {
                    issuer = Some((name.clone(), m));
                    break;
                }
            }
            Err(e) => bundle_problems.push(format!("{name}: {e}")),
        }
    }
    push(
        "issued-by-bundle",
        issuer.is_some(),
        match &issuer {
            Some((name, m)) => format!("signed by {} ({name}, in {scope}'s bundle)", m.subject()),
            None if bundle_problems.is_empty() => {
                format!("no certificate in {scope}'s bundle signed it (issuer {})", leaf.issuer())
            }
            None => format!("no certificate in {scope}'s bundle signed it; {}", bundle_problems.join("; ")),
        },
    );
    push(
        "valid-now",
        leaf.is_valid_at(now),
        format!("valid {} to {}", format_rfc3339(leaf.not_before()), format_rfc3339(leaf.not_after())),
    );
    let is_ca = leaf.basic_constraints().map(|(_, ca, _)| ca).unwrap_or(false);
    push("not-a-ca", !is_ca, if is_ca { "the leaf is a CA".into() } else { "CA:false".into() });
    if let Some((_, m)) = &issuer {
        let pair = format!("{}{}", leaf.pem(), m.pem());
        let r = mesh::peer_identity(&pair);
        push(
            "claims-issuer-scope",
            r.is_ok(),
            match r {
                Ok(id) => format!("{} is served by its issuer", id.scope),
                Err(d) => d.to_string(),
            },
        );
        push("issuer-valid-now", m.is_valid_at(now), format!("issuer valid until {}", format_rfc3339(m.not_after())));
    }
    let ok = checks.iter().all(|c| c.ok);
    Ok(LeafCheck {
        ok,
        scope,
        pki: issuer.as_ref().map(|(n, _)| n.clone()),
        spiffe_id: id.map(|i| i.to_string()),
        leaf: CertView::of(leaf, Role::Leaf, None, "the pasted chain[0]", now),
        issuer_fingerprint: issuer.map(|(_, m)| m.fingerprint()),
        checks,
    })
}
