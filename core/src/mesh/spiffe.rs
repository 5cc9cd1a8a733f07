//! SPIFFE trust bundles (SPIFFE Trust Domain and Bundle, §4): the JWKS form of a scope's or a
//! PKI's root bundle that SPIRE federation, Envoy's SPIFFE validator and go-spiffe read. One
//! JWK per certificate, `use: "x509-svid"`, its public key parameters and exactly one `x5c`
//! (the certificate's DER); no `kid` (that is for JWT-SVID keys).
//!
//! `spiffe_sequence` is derived from the store, so anyone computing it from the same store gets
//! the same number: the latest event, in Unix seconds, that shaped this bundle's content. The
//! events are the issuance of each certificate in it (notBefore plus the profile's backdating),
//! the revocation of a certificate of a scope it trusts (`revoked[].revokedAt`), and the last
//! root finalize of the PKI (`rootFinalizedAt`), which removes certificates. Every operation
//! that changes a bundle adds one of these at its own time, so the sequence grows with every
//! change, stays put while the bundle does not, and never goes back while clocks go forward.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use serde::Serialize;

use crate::crypto::cert::Cert;
use crate::crypto::keys::Algorithm;
use crate::crypto::profile::BACKDATE;
use crate::error::CertError;
use crate::model::store::Pki;
use crate::Error;

/// How often a consumer that polls a published copy of the bundle should re-read it, in
/// seconds. Bundles change only on rotations and recoveries, which keep the old anchors for at
/// least a day of overlap; an hour keeps federation well inside that.
pub const REFRESH_HINT_SECONDS: u64 = 3600;

#[derive(Serialize)]
struct Jwk {
    #[serde(rename = "use")]
    use_: &'static str,
    kty: &'static str,
    crv: &'static str,
    x: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    x5c: [String; 1],
}

#[derive(Serialize)]
struct Bundle {
    keys: Vec<Jwk>,
    spiffe_sequence: u64,
    spiffe_refresh_hint: u64,
}

fn jwk(cert: &Cert) -> Result<Jwk, Error> {
    let bad = |reason: &str| CertError::Parse { location: cert.subject(), reason: reason.into() };
    let key = cert.public_key_bytes();
    let (kty, crv, x, y) = match cert.key_algorithm() {
        Some(Algorithm::EcdsaP256) | Some(Algorithm::EcdsaP384) => {
            // SEC1 uncompressed point: 0x04 || X || Y.
            let n = (key.len().saturating_sub(1)) / 2;
            if key.first() != Some(&4) || key.len() != 1 + 2 * n || n == 0 {
                return Err(bad("its EC public key is not an uncompressed point").into());
            }
            let crv = if cert.key_algorithm() == Some(Algorithm::EcdsaP256) { "P-256" } else { "P-384" };
            ("EC", crv, &key[1..1 + n], Some(&key[1 + n..]))
        }
        Some(Algorithm::Ed25519) => ("OKP", "Ed25519", key, None),
        None => return Err(bad("its key algorithm has no JWK form here").into()),
    };
    Ok(Jwk {
        use_: "x509-svid",
        kty,
        crv,
        x: Base64UrlUnpadded::encode_string(x),
        y: y.map(Base64UrlUnpadded::encode_string),
        x5c: [Base64::encode_string(cert.der())],
    })
}

/// The SPIFFE bundle JWKS of `certs` (pretty JSON, one trailing newline).
pub fn spiffe_bundle(certs: &[Cert], sequence: u64) -> Result<String, Error> {
    let keys = certs.iter().map(jwk).collect::<Result<Vec<_>, _>>()?;
    let b = Bundle { keys, spiffe_sequence: sequence, spiffe_refresh_hint: REFRESH_HINT_SECONDS };
    Ok(format!("{}\n", serde_json::to_string_pretty(&b).unwrap_or_default()))
}

fn seconds(t: time::OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp()).unwrap_or(0)
}

/// The sequence of a bundle holding `certs` of `pki`, whose scopes are `scopes` (None: the
/// root bundle, which no scope revocation changes).
pub fn sequence(pki: &Pki, certs: &[Cert], scopes: Option<&[String]>) -> u64 {
    let issued = certs.iter().map(|c| seconds(c.not_before() + BACKDATE));
    let revoked = pki
        .revoked
        .iter()
        .filter(|r| scopes.is_some_and(|s| s.contains(&r.scope)))
        .filter_map(|r| crate::model::time::parse_rfc3339("", &r.revoked_at).ok())
        .map(seconds);
    let finalized =
        pki.root_finalized_at.as_deref().and_then(|t| crate::model::time::parse_rfc3339("", t).ok()).map(seconds);
    issued.chain(revoked).chain(finalized).max().unwrap_or(0)
}
