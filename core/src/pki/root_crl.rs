//! The roots' CRLs (`rootCrls` in the store): signed offline, at every ceremony that opens the
//! cold root, listing the intermediates revoked by a recovery. Renew serves them in every
//! set's `crl.pem` beside the intermediates' CRLs, so consumers that check the whole chain
//! (OpenSSL `-crl_check_all`, nginx's `ssl_crl`) find a CRL for every CA, and consumers
//! anchored on the root learn that a recovered intermediate is revoked.
//!
//! thisUpdate is the ceremony's time, the CRL number its Unix seconds (so it only grows),
//! nextUpdate a year later (capped to the root's end): `validate` warns 30 days before, and
//! `pki root-crl` re-signs without any other change.

use time::{Duration, OffsetDateTime};

use crate::crypto::cert::Cert;
use crate::crypto::crl::{parse_crls, sign_crl, CrlEntry, CrlTimes};
use crate::crypto::custody::Identity;
use crate::crypto::keys::PrivateKey;
use crate::model::limits::ROOT_CRL_DAYS;
use crate::model::store::{Block, Pki, RevocationReason, Store, Topology};
use crate::pki::tiers::get_pki;
use crate::Error;

/// The CRL of one root of `pki`, listing every revoked intermediate whose serial is recorded.
pub fn root_crl(pki: &Pki, name: &str, root: &Cert, key: &PrivateKey, now: OffsetDateTime) -> Result<String, Error> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let entries: Vec<CrlEntry> = pki
        .revoked
        .iter()
        .filter_map(|r| {
            let at = crate::model::time::parse_rfc3339("", &r.revoked_at).ok()?.min(now);
            Some(CrlEntry { serial: r.serial.clone()?, revoked_at: at, reason: RevocationReason::KeyCompromise })
        })
        .collect();
    let next_update = (now + Duration::days(ROOT_CRL_DAYS)).min(root.not_after()).max(now + Duration::hours(1));
    let times = CrlTimes { this_update: now, next_update, number: u64::try_from(now.unix_timestamp()).unwrap_or(0) };
    Ok(sign_crl((root, key), &entries, times, &format!("the CRL of pkis.{name}'s root"))?)
}

/// Re-signs the CRLs of a two-tier PKI's roots with `root_identity` (the current root and
/// each previous root still valid) and drops the CRLs of roots the PKI no longer has. A
/// root-only PKI is left alone (its root belongs to its online issuer).
pub fn resign_root_crls(
    store: &mut Store,
    name: &str,
    root_identity: &Identity,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let pki = get_pki(store, name)?;
    if pki.topology == Topology::RootOnly {
        return Ok(());
    }
    let mut roots = vec![(format!("pkis.{name}.root"), &pki.root)];
    roots.extend(pki.previous_roots.iter().enumerate().map(|(i, e)| (format!("pkis.{name}.previousRoots[{i}]"), e)));
    let mut crls = Vec::new();
    for (loc, e) in roots {
        let cert = Cert::from_pem(e.cert.as_str(), &format!("{loc}.cert"))?;
        if cert.not_after() <= now {
            continue;
        }
        let key = root_identity.open_key(e.key.as_str(), &cert, &format!("{loc}.key"))?;
        crls.push(Block::new(root_crl(pki, name, &cert, &key, now)?));
    }
    if let Some(p) = store.pkis.get_mut(name) {
        p.root_crls = crls;
    }
    store.version = store.required_version();
    Ok(())
}

/// Keeps only the CRLs of roots the PKI still has (after `--finalize` dropped the previous
/// roots): no identity needed.
pub fn prune_root_crls(pki: &mut Pki) {
    let roots: Vec<Cert> = std::iter::once(&pki.root)
        .chain(&pki.previous_roots)
        .filter_map(|e| Cert::from_pem(e.cert.as_str(), "root").ok())
        .collect();
    pki.root_crls.retain(|b| {
        parse_crls(b.as_str(), "rootCrls").is_ok_and(|c| c.iter().all(|crl| roots.iter().any(|r| crl.is_signed_by(r))))
    });
}

/// The roots' CRLs as served in `crl.pem` (concatenated PEM).
pub fn served(pki: &Pki) -> String {
    pki.root_crls.iter().map(Block::as_str).collect()
}
