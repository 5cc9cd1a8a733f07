//! Leaf revocation: which recorded revocations a CRL still lists, the CRL's times and number,
//! and `crl.pem`, the CRLs served with a set (one per current intermediate its bundle trusts).
//!
//! The CRL number and thisUpdate derive from the store and the clock, never from a counter:
//! thisUpdate is the start of the current UTC day, or the latest revocation recorded since if
//! that is later, never after now; the number is thisUpdate in Unix seconds. So renews on one
//! day sign the same bytes (an unchanged `crl.pem` is not rewritten), a new revocation always
//! gets a higher number, and the number never goes back while clocks go forward.

use time::{Duration, OffsetDateTime, Time};

use crate::crypto::cert::Cert;
use crate::crypto::crl::{sign_crl, CrlEntry, CrlTimes};
use crate::crypto::keys::PrivateKey;
use crate::model::limits::{CRL_DAYS, LEAF_DAYS};
use crate::model::store::{serial_value, Pki};
use crate::Error;

/// The revocations a CRL signed at `now` lists: every recorded one except those no leaf can
/// still need, i.e. recorded more than a leaf's longest lifetime (plus a day of clock skew) ago:
/// every leaf minted before its revocation has expired by then.
pub fn live_entries(pki: &Pki, now: OffsetDateTime) -> Vec<CrlEntry> {
    let horizon = Duration::days(LEAF_DAYS + 1);
    pki.revoked_leaves
        .iter()
        .filter_map(|r| {
            let at = crate::model::time::parse_rfc3339("", &r.revoked_at).ok()?;
            // Never list a revocation dated after the CRL itself.
            let at = at.min(now);
            (at + horizon > now).then(|| CrlEntry { serial: r.serial.clone(), revoked_at: at, reason: r.reason })
        })
        .collect()
}

/// thisUpdate, nextUpdate and number of the CRLs signed at `now` (see the module docs).
pub fn crl_times(pki: &Pki, now: OffsetDateTime) -> CrlTimes {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let day = now.replace_time(Time::MIDNIGHT);
    let latest =
        pki.revoked_leaves.iter().filter_map(|r| crate::model::time::parse_rfc3339("", &r.revoked_at).ok()).max();
    let this_update = latest.map_or(day, |l| l.max(day)).min(now);
    CrlTimes {
        this_update,
        next_update: this_update + Duration::days(CRL_DAYS),
        number: u64::try_from(this_update.unix_timestamp()).unwrap_or(0),
    }
}

/// The CRL of one intermediate, PEM.
pub fn intermediate_crl(
    pki: &Pki,
    name: &str,
    scope: &str,
    cert: &Cert,
    key: &PrivateKey,
    now: OffsetDateTime,
) -> Result<String, Error> {
    let what = format!("the CRL of pkis.{name}.intermediates.{scope}");
    Ok(sign_crl((cert, key), &live_entries(pki, now), crl_times(pki, now), &what)?)
}

/// The CA of `pki` (root, intermediate, current or previous) whose serial is `serial`, as
/// (what it is, its scope if an intermediate): such a serial is not a leaf's.
pub fn ca_with_serial(pki: &Pki, serial: &str) -> Option<(String, Option<String>)> {
    let mut cas: Vec<(String, Option<String>, &str)> = vec![("the root".into(), None, pki.root.cert.as_str())];
    cas.extend(pki.previous_roots.iter().map(|e| ("a previous root".into(), None, e.cert.as_str())));
    for (scope, e) in &pki.intermediates {
        cas.push((format!("the {scope} intermediate"), Some(scope.clone()), e.cert.as_str()));
    }
    for (scope, certs) in &pki.previous_intermediates {
        cas.extend(certs.iter().map(|c| (format!("a previous {scope} intermediate"), Some(scope.clone()), c.as_str())));
    }
    cas.into_iter()
        .find(|(_, _, pem)| {
            Cert::from_pem(pem, "ca").is_ok_and(|c| serial_value(&c.serial_hex()) == serial_value(serial))
        })
        .map(|(what, scope, _)| (what, scope))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::store::{RevocationReason, RevokedLeaf};

    fn at(s: &str) -> OffsetDateTime {
        crate::model::time::parse_rfc3339("t", s).unwrap()
    }

    fn pki(records: &[(&str, &str)]) -> Pki {
        let mut s = crate::model::store::Store::parse("s", &crate::model::store::tests_sample_yaml()).unwrap();
        let mut p = s.pkis.remove("wardnet-mesh").unwrap();
        p.revoked_leaves = records
            .iter()
            .map(|(serial, when)| RevokedLeaf {
                serial: serial.to_string(),
                reason: RevocationReason::KeyCompromise,
                revoked_at: when.to_string(),
            })
            .collect();
        p
    }

    #[test]
    fn the_crl_number_only_goes_up() {
        let none = pki(&[]);
        let a = crl_times(&none, at("2026-12-04T09:00:00Z"));
        assert_eq!(a.this_update, at("2026-12-04T00:00:00Z"));
        assert_eq!(a.next_update, at("2026-12-11T00:00:00Z"));
        assert_eq!(crl_times(&none, at("2026-12-04T23:59:59Z")), a, "same day, same CRL");
        // A revocation recorded later that day raises the number at once.
        let one = pki(&[("0a", "2026-12-04T10:30:00Z")]);
        let b = crl_times(&one, at("2026-12-04T11:00:00Z"));
        assert_eq!(b.this_update, at("2026-12-04T10:30:00Z"));
        assert!(b.number > a.number);
        // A revocation stamped ahead of this clock (skew) never dates the CRL in the future.
        let c = crl_times(&one, at("2026-12-04T10:00:00Z"));
        assert_eq!(c.this_update, at("2026-12-04T10:00:00Z"));
        assert!(c.number < b.number && c.number > a.number);
        // The next day is later than any revocation of the day before.
        let d = crl_times(&one, at("2026-12-05T01:00:00Z"));
        assert!(d.number > b.number);
    }

    #[test]
    fn revocations_drop_out_once_every_leaf_they_could_cover_has_expired() {
        let p = pki(&[("0a", "2026-01-01T00:00:00Z"), ("0b", "2026-12-01T00:00:00Z")]);
        let serials = |now: &str| live_entries(&p, at(now)).into_iter().map(|e| e.serial).collect::<Vec<_>>();
        // One stamped ahead of the clock (skew) is listed at once, dated now.
        assert_eq!(serials("2026-01-02T00:00:00Z"), ["0a", "0b"]);
        assert_eq!(serials("2026-03-31T00:00:00Z"), ["0a", "0b"]);
        assert_eq!(serials("2026-04-02T00:00:00Z"), ["0b"]);
        assert_eq!(serials("2026-12-04T00:00:00Z"), ["0b"]);
    }
}
