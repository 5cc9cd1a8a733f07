//! SPIFFE IDs and the regional boundary rule: `SpiffeId`, `authorize` (services embed it after the
//! handshake) and `authorize_peer` (a leaf may claim only its issuing intermediate's scope).

use std::fmt;

use serde::Serialize;

use crate::error::MeshError;
use crate::Error;

/// The scope name every mesh has.
pub const GLOBAL: &str = "global";

/// A parsed inforge SPIFFE ID: `spiffe://<trust-domain>/<env>/<scope>/<service>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpiffeId {
    /// Trust domain (baseDomain).
    pub trust_domain: String,
    /// Environment.
    pub env: String,
    /// `global` or a region.
    pub scope: String,
    /// Service.
    pub service: String,
}

impl SpiffeId {
    /// Builds an ID.
    pub fn new(trust_domain: &str, env: &str, scope: &str, service: &str) -> SpiffeId {
        SpiffeId { trust_domain: trust_domain.into(), env: env.into(), scope: scope.into(), service: service.into() }
    }

    /// Parses an ID, checking the SPIFFE naming rules of every part.
    pub fn parse(id: &str) -> Result<SpiffeId, Error> {
        let bad = || MeshError::BadSpiffeId { id: id.to_string() };
        let rest = id.strip_prefix("spiffe://").ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let [td, env, scope, service] = parts[..] else {
            return Err(bad().into());
        };
        crate::model::names::check_trust_domain("trust domain", td).map_err(|_| bad())?;
        for p in [env, scope, service] {
            crate::model::names::check_segment("path segment", p).map_err(|_| bad())?;
        }
        Ok(SpiffeId::new(td, env, scope, service))
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spiffe://{}/{}/{}/{}", self.trust_domain, self.env, self.scope, self.service)
    }
}

/// Why the boundary refuses a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Different trust domain or environment.
    #[error("{caller} and {callee} are in different trust domains or environments")]
    Foreign {
        /// Caller ID.
        caller: String,
        /// Callee ID.
        callee: String,
    },
    /// Region A calling region B.
    #[error("cross-region call from {caller_scope} to {callee_scope} is outside the regional boundary")]
    CrossRegion {
        /// Caller's region.
        caller_scope: String,
        /// Callee's region.
        callee_scope: String,
    },
    /// A global service calling into a region.
    #[error("global service {caller} may not call regional service {callee}: global→region is refused")]
    GlobalToRegion {
        /// Caller ID.
        caller: String,
        /// Callee ID.
        callee: String,
    },
    /// The peer's leaf claims a scope its issuing intermediate does not serve (a leaf minted
    /// with another scope's intermediate key), or its chain is not an inforge chain.
    #[error("{}", issuer_scope_text(claimed, issuer))]
    IssuerScope {
        /// The SPIFFE ID the leaf claims (or "no SPIFFE ID").
        claimed: String,
        /// The issuing certificate's subject (or "no issuer in the chain").
        issuer: String,
    },
}

/// What [`Denied::IssuerScope`] says when the chain has no issuer of the leaf at all.
const NO_ISSUER: &str = "no issuer in the chain";

fn issuer_scope_text(claimed: &str, issuer: &str) -> String {
    if issuer == NO_ISSUER {
        format!("the peer's leaf ({claimed}) comes without its issuer in the chain")
    } else {
        format!("the peer's leaf claims {claimed} but was issued by {issuer:?}, which does not serve that scope")
    }
}

/// The peer's identity as the mesh vouches for it, from the chain it presented (leaf first,
/// as in `cert.pem`), after the TLS handshake verified that chain against a scope bundle.
///
/// A bundle can trust several scopes' intermediates (`global` trusts every region), and RFC
/// 5280 URI name constraints cannot pin an intermediate to a SPIFFE path, so a leaf minted with
/// a leaked *regional* intermediate key could claim a `global` ID and still pass the
/// handshake. This closes that: the leaf's SPIFFE ID must name the environment and scope of
/// the intermediate that issued it (its subject, `<pki> <env> <scope> intermediate CA <kid>`,
/// which renew checks against the root).
pub fn peer_identity(chain_pem: &str) -> Result<SpiffeId, Denied> {
    let deny = |claimed: &str, issuer: &str| Denied::IssuerScope { claimed: claimed.into(), issuer: issuer.into() };
    let certs =
        crate::crypto::cert::parse_bundle(chain_pem, "peer chain").map_err(|_| deny("no SPIFFE ID", NO_ISSUER))?;
    let Some((leaf, rest)) = certs.split_first() else {
        return Err(deny("no SPIFFE ID", NO_ISSUER));
    };
    let uris = leaf.uri_sans();
    let id = match uris.as_slice() {
        [one] => SpiffeId::parse(one).map_err(|_| deny(one, NO_ISSUER))?,
        _ => return Err(deny("no single SPIFFE ID", NO_ISSUER)),
    };
    let issuer = rest
        .iter()
        .find(|c| c.subject() == leaf.issuer() && leaf.verify_signed_by(c, "peer").is_ok())
        .ok_or_else(|| deny(&id.to_string(), NO_ISSUER))?;
    let cn = issuer.common_name().unwrap_or_default();
    let parts: Vec<&str> = cn.split(' ').collect();
    match parts.as_slice() {
        [_, env, scope, "intermediate", "CA", _] if *env == id.env && *scope == id.scope => Ok(id),
        _ => Err(deny(&id.to_string(), &issuer.subject())),
    }
}

/// [`authorize`] for a caller known by the chain it presented: [`peer_identity`], then the
/// boundary rule. What a service embeds after the handshake.
pub fn authorize_peer(caller_chain_pem: &str, callee: &SpiffeId) -> Result<SpiffeId, Denied> {
    let caller = peer_identity(caller_chain_pem)?;
    authorize(&caller, callee)?;
    Ok(caller)
}

/// The regional boundary rule, for services to embed after the TLS handshake: intra-region,
/// region→global and global→global are allowed; cross-region and global→region are refused.
/// (Cross-region already fails in the handshake; this is defence in depth.)
pub fn authorize(caller: &SpiffeId, callee: &SpiffeId) -> Result<(), Denied> {
    if caller.trust_domain != callee.trust_domain || caller.env != callee.env {
        return Err(Denied::Foreign { caller: caller.to_string(), callee: callee.to_string() });
    }
    match (caller.scope.as_str(), callee.scope.as_str()) {
        (a, b) if a == b => Ok(()),
        (_, GLOBAL) => Ok(()),
        (GLOBAL, _) => Err(Denied::GlobalToRegion { caller: caller.to_string(), callee: callee.to_string() }),
        (a, b) => Err(Denied::CrossRegion { caller_scope: a.into(), callee_scope: b.into() }),
    }
}
