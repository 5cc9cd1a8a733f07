//! What a host decides about a fetched leaf set before it projects it (SPEC §7).
//!
//! `inforge-bootstrap` has no store, no infra repo and no identity: all it can check is that
//! the set it fetched from the provider is internally sound and meant for it. [`verify_set`]
//! is that check — the key belongs to the leaf, the leaf is this service's in this scope and
//! claims only the scope its intermediate serves, the leaf chains to a member of the bundle,
//! no CRL of its issuer in `crl.pem` lists it, and both are valid now. [`decide`] says whether the runtime directory must change. A set
//! that fails verification is never projected, so a tampered or half-written provider entry
//! leaves the host on its last good leaf.

use serde::Serialize;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::crypto::cert::{parse_bundle, Cert};
use crate::crypto::keys::PrivateKey;
use crate::error::ProjectionError;
use crate::mesh::{peer_identity, SpiffeId};
use crate::Error;

/// The files of one service+scope, as a provider holds them.
#[derive(Clone)]
pub struct SetTexts {
    /// `cert.pem`: the leaf, then its intermediate(s).
    pub cert: String,
    /// `key.pem`: the leaf's PKCS#8 key (secret).
    pub key: Zeroizing<String>,
    /// `bundle.pem`: the scope's trust bundle.
    pub bundle: String,
    /// `bundle.spiffe.json`: the bundle as a SPIFFE bundle JWKS; empty in a set written before
    /// inforge wrote it.
    pub spiffe: String,
    /// `crl.pem`: the CRLs of the intermediates the bundle trusts; empty in a set written
    /// before inforge signed CRLs.
    pub crl: String,
}

impl std::fmt::Debug for SetTexts {
    // Never print the key, not even in a debug dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetTexts")
            .field("cert", &self.cert)
            .field("key", &"<redacted>")
            .field("bundle", &self.bundle)
            .field("spiffe", &self.spiffe)
            .field("crl", &self.crl)
            .finish()
    }
}

/// What a verified set holds, for reports (`inforge-bootstrap --json`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Projected {
    /// The leaf's SPIFFE ID.
    pub spiffe_id: String,
    /// The leaf's serial, hex.
    pub serial: String,
    /// The leaf's notAfter, RFC 3339.
    pub not_after: String,
    /// The SHA-256 fingerprint of the leaf.
    pub fingerprint: String,
    /// The subject of the bundle member that issued the leaf.
    pub issuer: String,
}

/// Checks a fetched set before it may be projected for `service` in `scope` at `now`.
pub fn verify_set(service: &str, scope: &str, set: &SetTexts, now: OffsetDateTime) -> Result<Projected, Error> {
    Ok(verify_whole(service, scope, set, now)?)
}

/// The checks, typed as the projection area's own failure.
fn verify_whole(service: &str, scope: &str, set: &SetTexts, now: OffsetDateTime) -> Result<Projected, ProjectionError> {
    let malformed = |file: &'static str, detail: String| ProjectionError::Malformed {
        service: service.into(),
        scope: scope.into(),
        file,
        detail,
    };
    let chain = parse_bundle(&set.cert, "cert.pem").map_err(|e| malformed("cert.pem", e.to_string()))?;
    let Some(leaf) = chain.first() else {
        return Err(malformed("cert.pem", "no certificate".into()));
    };
    if chain.len() < 2 {
        return Err(malformed("cert.pem", "the leaf comes without its intermediate".into()));
    }
    if matches!(leaf.basic_constraints(), Some((_, true, _))) {
        return Err(malformed("cert.pem", "the first certificate is a CA, not a leaf".into()));
    }
    let key = PrivateKey::from_pkcs8_pem(&set.key, "key.pem")
        .map_err(|_| malformed("key.pem", "not a PKCS#8 PEM private key".into()))?;
    if key.public_key_bytes() != leaf.public_key_bytes() {
        return Err(ProjectionError::KeyMismatch { service: service.into(), scope: scope.into() });
    }
    // The leaf must be this service's in this scope, and claim the scope of the intermediate
    // that issued it (the same rule peers apply after the handshake).
    let wrong = |found: String| ProjectionError::WrongIdentity { service: service.into(), scope: scope.into(), found };
    let id: SpiffeId = peer_identity(&set.cert).map_err(|d| wrong(d.to_string()))?;
    if id.service != service || id.scope != scope {
        return Err(wrong(format!("it is {id}")));
    }
    let bundle = parse_bundle(&set.bundle, "bundle.pem").map_err(|e| malformed("bundle.pem", e.to_string()))?;
    if bundle.is_empty() {
        return Err(malformed("bundle.pem", "no certificate".into()));
    }
    let issuer: &Cert = bundle
        .iter()
        .find(|b| leaf.verify_signed_by(b, "cert.pem").is_ok())
        .ok_or_else(|| ProjectionError::Untrusted { service: service.into(), scope: scope.into() })?;
    // The chain a peer is shown must work too: cert.pem's next certificate issued the leaf.
    if leaf.verify_signed_by(&chain[1], "cert.pem").is_err() {
        return Err(malformed("cert.pem", "the second certificate did not issue the leaf".into()));
    }
    // The SPIFFE form, when present, must hold exactly bundle.pem's certificates.
    if !set.spiffe.is_empty()
        && spiffe_certs(&set.spiffe).as_deref()
            != Some(&bundle.iter().map(|c| c.der().to_vec()).collect::<Vec<_>>()[..])
    {
        return Err(malformed("bundle.spiffe.json", "it is not a SPIFFE bundle of bundle.pem's certificates".into()));
    }
    // The leaf's issuer's CRL must not list it. A CRL of an intermediate no longer in the
    // bundle (a recovery refreshed the bundle; the next renew re-signs the CRLs) decides
    // nothing: consumers ignore it too.
    let crls = crate::crypto::crl::parse_crls(&set.crl, "crl.pem").map_err(|e| malformed("crl.pem", e.to_string()))?;
    for crl in &crls {
        if crl.is_signed_by(issuer) && crl.lists(&leaf.serial_hex()) {
            return Err(ProjectionError::Revoked {
                service: service.into(),
                scope: scope.into(),
                serial: leaf.serial_hex(),
            });
        }
    }
    for c in [leaf, issuer] {
        if !c.is_valid_at(now) {
            return Err(ProjectionError::NotValidNow {
                service: service.into(),
                scope: scope.into(),
                when: crate::model::time::format_rfc3339(now),
                from: crate::model::time::format_rfc3339(c.not_before()),
                until: crate::model::time::format_rfc3339(c.not_after()),
            });
        }
    }
    Ok(Projected {
        spiffe_id: id.to_string(),
        serial: leaf.serial_hex(),
        not_after: crate::model::time::format_rfc3339(leaf.not_after()),
        fingerprint: leaf.fingerprint(),
        issuer: issuer.subject(),
    })
}

/// The DER of each `x5c` of a SPIFFE bundle JWKS, in order (None if it is not one).
fn spiffe_certs(json: &str) -> Option<Vec<Vec<u8>>> {
    use base64ct::{Base64, Encoding};
    let doc: serde_json::Value = serde_json::from_str(json).ok()?;
    doc.get("keys")?
        .as_array()?
        .iter()
        .map(|k| match k.get("x5c")?.as_array()?.as_slice() {
            [one] if k.get("use")?.as_str()? == "x509-svid" => Base64::decode_vec(one.as_str()?).ok(),
            _ => None,
        })
        .collect()
}

/// What the host does with a verified set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The runtime directory already holds exactly this set: touch nothing, run nothing.
    Unchanged,
    /// Replace the runtime directory's files, then reload (or restart) the service once.
    Replace,
}

/// Whether the runtime directory (holding `current`, if anything) must change to `fetched`.
/// Byte equality of all four files: a new bundle alone (an intermediate rolled elsewhere) or
/// a new CRL alone (a leaf revoked elsewhere) is a change the service must load too.
pub fn decide(current: Option<&SetTexts>, fetched: &SetTexts) -> Action {
    match current {
        Some(c)
            if c.cert == fetched.cert
                && *c.key == *fetched.key
                && c.bundle == fetched.bundle
                && c.spiffe == fetched.spiffe
                && c.crl == fetched.crl =>
        {
            Action::Unchanged
        }
        _ => Action::Replace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::{mint, Minted};
    use crate::Coded;
    use rand_chacha::rand_core::SeedableRng;

    /// api (global) and web (us-east-1) leaves from one mesh.
    fn minted(now: OffsetDateTime) -> (Minted, Minted) {
        let (targets, issuers) = crate::mesh::tests::two_scope_mesh(now, 21);
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(22);
        let mut leaf = |svc: &str| {
            let t = targets.iter().find(|t| t.service == svc).unwrap();
            mint(t, &issuers[&("mesh".into(), t.scope.clone())], None, now, &mut rng).unwrap()
        };
        (leaf("api"), leaf("web"))
    }

    fn set(m: &Minted) -> SetTexts {
        SetTexts {
            cert: m.cert_pem.clone(),
            key: m.key_pem.clone(),
            bundle: m.bundle_pem.to_string(),
            spiffe: m.spiffe_json.to_string(),
            crl: m.crl_pem.to_string(),
        }
    }

    #[test]
    fn a_sound_set_verifies_and_each_fault_has_its_code() {
        let now = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        let (api, web) = minted(now);
        let good = set(&api);
        let p = verify_set("api", "global", &good, now).unwrap();
        assert_eq!(p.spiffe_id, "spiffe://w.example/prd/global/api");
        assert!(p.issuer.contains("prd global intermediate CA"), "{}", p.issuer);

        let code = |s: &SetTexts, svc: &str, scope: &str, at: OffsetDateTime| {
            verify_set(svc, scope, s, at).unwrap_err().code()
        };
        let mut bad = good.clone();
        bad.key = web.key_pem.clone();
        assert_eq!(code(&bad, "api", "global", now), "set-key-mismatch");
        // Another service's whole, sound set under this service's name.
        assert_eq!(code(&set(&web), "api", "global", now), "set-wrong-identity");
        assert_eq!(code(&good, "api", "us-east-1", now), "set-wrong-identity");
        // The message reads as a sentence whatever the leaf is (hardening L10).
        let msg = verify_set("api", "global", &set(&web), now).unwrap_err().to_string();
        assert!(
            msg.ends_with("not this service's leaf in this scope: it is spiffe://w.example/prd/us-east-1/web"),
            "{msg}"
        );
        let mut orphan = good.clone();
        // api's leaf beside web's (us-east-1) intermediate: a chain without the leaf's issuer.
        let leaf = crate::crypto::cert::parse_bundle(&api.cert_pem, "t").unwrap()[0].pem();
        let other = crate::crypto::cert::parse_bundle(&web.cert_pem, "t").unwrap()[1].pem();
        orphan.cert = format!("{leaf}{other}");
        let msg = verify_set("api", "global", &orphan, now).unwrap_err().to_string();
        assert!(msg.contains("(spiffe://w.example/prd/global/api) comes without its issuer in the chain"), "{msg}");
        assert!(!msg.contains("issued by \"no issuer"), "{msg}");
        // The region's bundle trusts {us-east-1, global}; the global bundle trusts both too,
        // so an untrusted leaf needs a bundle without its issuer: web's leaf against a bundle
        // holding only the global intermediate.
        let mut untrusted = set(&web);
        let global_int = crate::crypto::cert::parse_bundle(&api.cert_pem, "t").unwrap()[1].pem();
        untrusted.bundle = global_int;
        assert_eq!(code(&untrusted, "web", "us-east-1", now), "set-untrusted");
        let later = now + time::Duration::days(400);
        assert_eq!(code(&good, "api", "global", later), "set-not-valid-now");
        let mut leaf_only = good.clone();
        leaf_only.cert = api.leaf().unwrap().pem();
        assert_eq!(code(&leaf_only, "api", "global", now), "set-malformed");
        // bundle.spiffe.json must be the JWKS of bundle.pem's certificates.
        assert!(good.spiffe.contains("x509-svid"));
        for spiffe in ["{}", "not json", &set(&web).spiffe.replace("x509-svid", "jwt-svid")] {
            let mut bad = good.clone();
            bad.spiffe = spiffe.to_string();
            assert_eq!(code(&bad, "api", "global", now), "set-malformed", "{spiffe}");
        }
        let mut garbage = good.clone();
        garbage.key = Zeroizing::new("not a key".into());
        let e = verify_set("api", "global", &garbage, now).unwrap_err();
        assert_eq!(e.code(), "set-malformed");
        assert!(!format!("{e} {garbage:?}").contains("not a key"), "keys never reach messages or debug output");
    }

    #[test]
    fn a_leaf_its_issuers_crl_lists_is_refused() {
        let now = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        let (targets, issuers) = crate::mesh::tests::two_scope_mesh(now, 21);
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(23);
        let t = targets.iter().find(|t| t.service == "web").unwrap();
        let (own, global) = (&issuers[&("mesh".into(), t.scope.clone())], &issuers[&("mesh".into(), "global".into())]);
        let web = mint(t, own, None, now, &mut rng).unwrap();
        let mut s = set(&web);
        assert!(!s.crl.is_empty(), "renew serves CRLs with every set");
        verify_set("web", "us-east-1", &s, now).unwrap();
        let serial = web.issued.serial_hex.clone();
        let times =
            crate::crypto::crl::CrlTimes { this_update: now, next_update: now + time::Duration::days(7), number: 1 };
        let entry = |serial: &str| crate::crypto::crl::CrlEntry {
            serial: serial.into(),
            revoked_at: now,
            reason: crate::model::store::RevocationReason::KeyCompromise,
        };
        let sign = |issuer: &crate::mesh::ScopeIssuer, serial: &str| {
            crate::crypto::crl::sign_crl((&issuer.cert, &issuer.key), &[entry(serial)], times, "t").unwrap()
        };
        // Listed by its own issuer: refused, naming the serial.
        s.crl = sign(own, &serial);
        let e = verify_set("web", "us-east-1", &s, now).unwrap_err();
        assert_eq!(e.code(), "set-revoked");
        assert!(e.to_string().contains(&serial), "{e}");
        // The same serial on another intermediate's CRL revokes nothing of this issuer's.
        s.crl = sign(global, &serial);
        verify_set("web", "us-east-1", &s, now).unwrap();
        // A CRL no bundle member signed (an intermediate a recovery removed) decides nothing,
        // even if it lists the serial.
        let stranger = crate::mesh::tests::two_scope_mesh(now, 99).1;
        s.crl = sign(&stranger[&("mesh".into(), "us-east-1".into())], &serial);
        verify_set("web", "us-east-1", &s, now).unwrap();
        s.crl = "-----BEGIN X509 CRL-----\nMII=\n-----END X509 CRL-----\n".into();
        assert_eq!(verify_set("web", "us-east-1", &s, now).unwrap_err().code(), "set-malformed");
    }

    #[test]
    fn decide_compares_all_four_files() {
        let now = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        let (api, _) = minted(now);
        let s = set(&api);
        assert_eq!(decide(None, &s), Action::Replace);
        assert_eq!(decide(Some(&s), &s), Action::Unchanged);
        let mut new_bundle = s.clone();
        new_bundle.bundle.push('\n');
        assert_eq!(decide(Some(&s), &new_bundle), Action::Replace, "a bundle-only change is a change");
        let mut new_crl = s.clone();
        new_crl.crl.push('\n');
        assert_eq!(decide(Some(&s), &new_crl), Action::Replace, "a CRL-only change is a change");
    }
}
