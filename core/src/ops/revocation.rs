//! `pki revoke-leaf`: records a leaf's revocation in the store. Needs no identity: the record
//! is a reviewable change, and the CRLs are signed by the next `renew`, which holds the
//! intermediates' keys.

use serde::Serialize;
use time::OffsetDateTime;

use super::*;
use crate::model::store::{normalize_serial, serial_value, RevocationReason, RevokedLeaf, Topology};
use crate::pki::tiers::get_pki;
use crate::Error;

/// What `revoke-leaf` recorded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafRevoked {
    /// PKI.
    pub pki: String,
    /// The serial as stored.
    pub serial: String,
    /// Why.
    pub reason: String,
    /// When (RFC 3339).
    pub revoked_at: String,
    /// Until when the CRLs list it (RFC 3339): by then every leaf minted before it has expired.
    pub listed_until: String,
}

/// `pki revoke-leaf`: records `serial` (as typed: hex, colons allowed) as revoked in PKI
/// `name` at `now`. Refuses a root-only PKI, a serial that is not one, one already recorded,
/// and the serial of one of the PKI's own CAs (those have their own procedures).
pub fn revoke_leaf(
    env: &Env,
    name: &str,
    serial: &str,
    reason: RevocationReason,
    now: OffsetDateTime,
) -> Result<Changed<LeafRevoked>, Error> {
    let mut store = env.store_mut()?;
    crate::model::time::check_now("the time", now)?;
    let pki = get_pki(&store, name)?;
    if pki.topology == Topology::RootOnly {
        return Err(PkiError::RootOnly { name: name.into() }.into());
    }
    let serial = normalize_serial(serial).ok_or_else(|| PkiError::SerialInvalid { serial: serial.into() })?;
    if let Some(r) = pki.revoked_leaves.iter().find(|r| serial_value(&r.serial) == serial_value(&serial)) {
        return Err(PkiError::LeafAlreadyRevoked { pki: name.into(), serial, at: r.revoked_at.clone() }.into());
    }
    if let Some((what, scope)) = crate::mesh::revocation::ca_with_serial(pki, &serial) {
        return Err(PkiError::SerialIsCa { pki: name.into(), serial, what, scope }.into());
    }
    let revoked_at = crate::model::time::format_rfc3339(now);
    let listed_until =
        crate::model::time::format_rfc3339(now + time::Duration::days(crate::model::limits::LEAF_DAYS + 1));
    let record = RevokedLeaf { serial: serial.clone(), reason, revoked_at: revoked_at.clone() };
    if let Some(p) = store.pkis.get_mut(name) {
        p.revoked_leaves.push(record);
    }
    store.version = store.required_version();
    let report = LeafRevoked { pki: name.into(), serial, reason: reason.name().into(), revoked_at, listed_until };
    Ok(Changed { store, report })
}
