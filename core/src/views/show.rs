//! `inforge store show`: a store as a reviewer reads it. Deterministic and secret-free: one
//! line per fact (subject, serial, fingerprint, validity, algorithm, custodian; revocations;
//! root phase; custody policy), no ciphertext, so git's `textconv` turns a store's diff into
//! words (`git diff`, `git log -p`) and a changed line is a changed fact.
//!
//! A sealed key is shown as a short SHA-256 of its ciphertext: ciphertext is public (it is in
//! the repo), and a key re-sealed or replaced without its certificate must show in a diff.

use std::fmt::Write;

use sha2::{Digest, Sha256};

use crate::crypto::cert::{hex, Cert};
use crate::crypto::custody::Custodian;
use crate::model::store::{Block, Entry, Pki, Store, Topology};
use crate::model::time::format_rfc3339;
use crate::Coded;

/// The first 16 characters of a fingerprint or digest, for a line a human reads (by
/// characters: a hand-edited store may hold anything there).
pub fn short(text: &str) -> String {
    text.chars().take(16).collect()
}

/// The first 16 hex digits of the SHA-256 of a sealed key's armored ciphertext.
pub fn sealed_digest(key: &Block) -> String {
    short(&hex(&Sha256::digest(key.as_str().trim().as_bytes())))
}

fn custodian_name(c: Custodian) -> &'static str {
    match c {
        Custodian::OfflineRoot => "offline root",
        Custodian::Ci => "CI",
    }
}

/// Who a PKI's root key is sealed to.
fn root_custodian(pki: &Pki) -> Custodian {
    match pki.topology {
        Topology::TwoTier => Custodian::OfflineRoot,
        Topology::RootOnly => Custodian::Ci,
    }
}

fn cert_lines(out: &mut String, indent: &str, pem: &str) {
    match Cert::from_pem(pem, "store show") {
        Ok(c) => {
            let _ = writeln!(out, "{indent}subject: {}", c.subject());
            let _ = writeln!(out, "{indent}issuer: {}", c.issuer());
            let _ = writeln!(out, "{indent}serial: {}", c.serial_hex());
            let _ = writeln!(out, "{indent}sha256: {}", c.fingerprint());
            let _ =
                writeln!(out, "{indent}valid: {} .. {}", format_rfc3339(c.not_before()), format_rfc3339(c.not_after()));
            let alg = c.key_algorithm().map(|a| a.name()).unwrap_or("unknown");
            let _ = writeln!(out, "{indent}algorithm: {alg}");
        }
        // A broken certificate is a fact too: say so instead of failing the whole rendering.
        Err(e) => {
            let _ = writeln!(out, "{indent}unreadable certificate ({}): {e}", e.code());
        }
    }
}

fn entry_lines(out: &mut String, indent: &str, e: &Entry, custodian: Custodian) {
    cert_lines(out, indent, e.cert.as_str());
    let _ = writeln!(
        out,
        "{indent}key: sealed to the {} identity (ciphertext sha256 {})",
        custodian_name(custodian),
        sealed_digest(&e.key)
    );
}

/// The rendering of a parsed store.
pub fn show(store: &Store) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "inforge store, format {}", store.version);
    let _ = writeln!(out, "custody:");
    let _ = writeln!(out, "  CI recipient: {}", store.recipient);
    let _ = writeln!(out, "  offline root recipient: {}", store.root_recipient);
    match &store.root_quorum {
        None => {
            let _ = writeln!(out, "  offline root held by: one holder");
        }
        Some(q) => {
            let _ = writeln!(out, "  offline root held by: any {} of {} custodians", q.threshold, q.shares.len());
            for s in &q.shares {
                let _ = writeln!(
                    out,
                    "    custodian {} (share check {}, share sha256 {})",
                    s.custodian,
                    short(&s.check),
                    sealed_digest(&s.share)
                );
            }
        }
    }
    for (name, pki) in &store.pkis {
        let _ = writeln!(out);
        let _ = writeln!(out, "pki {name}: {}, {}", pki.topology.name(), pki.algorithm.name());
        let phase = crate::pki::tiers::root_phase(pki);
        let _ = writeln!(out, "  root phase: {}", phase.name());
        if let Some(s) = &pki.root_overlap_started {
            let _ = writeln!(out, "  root overlap started: {s}");
        }
        if let Some(d) = pki.root_overlap_min_days {
            let _ = writeln!(out, "  root overlap minimum: {d} days");
        }
        if let Some(s) = &pki.root_switched_at {
            let _ = writeln!(out, "  root switched: {s}");
        }
        let _ = writeln!(out, "  root:");
        entry_lines(&mut out, "    ", &pki.root, root_custodian(pki));
        for (i, e) in pki.previous_roots.iter().enumerate() {
            let _ = writeln!(out, "  previous root {i}:");
            entry_lines(&mut out, "    ", e, root_custodian(pki));
        }
        for (scope, e) in &pki.intermediates {
            let _ = writeln!(out, "  intermediate {scope}:");
            entry_lines(&mut out, "    ", e, Custodian::Ci);
        }
        for (scope, certs) in &pki.previous_intermediates {
            for (i, c) in certs.iter().enumerate() {
                let _ = writeln!(out, "  previous intermediate {scope} {i} (certificate only, kept in bundles):");
                cert_lines(&mut out, "    ", c.as_str());
            }
        }
        for r in &pki.revoked {
            let _ = writeln!(out, "  revoked {}: scope {}, {}, at {}", r.fingerprint, r.scope, r.subject, r.revoked_at);
            if let Some(serial) = &r.serial {
                let _ = writeln!(out, "    serial {serial}");
            }
        }
        if let Some(t) = &pki.leaf_ttl {
            let _ = writeln!(out, "  leaf lifetime (default): {t}");
        }
        if let Some(t) = &pki.root_finalized_at {
            let _ = writeln!(out, "  last root finalize: {t}");
        }
        for r in &pki.revoked_leaves {
            let _ = writeln!(out, "  revoked leaf {}: {}, at {}", r.serial, r.reason.name(), r.revoked_at);
        }
        for (i, b) in pki.root_crls.iter().enumerate() {
            match crate::crypto::crl::parse_crls(b.as_str(), "rootCrls") {
                Ok(crls) => {
                    for c in crls {
                        let _ = writeln!(
                            out,
                            "  root CRL {i}: this update {}, next update {}, {} revoked",
                            format_rfc3339(c.this_update()),
                            c.next_update().map(format_rfc3339).unwrap_or_default(),
                            c.revoked_serials().len()
                        );
                    }
                }
                Err(e) => {
                    let _ = writeln!(out, "  root CRL {i}: unreadable ({})", e.code());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_is_named_by_digest_never_shown() {
        let key =
            Block::new("-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24\n-----END AGE ENCRYPTED FILE-----\n");
        let mut store = Store::new("age1root".into(), "age1ci".into());
        store.pkis.insert(
            "m".into(),
            Pki {
                topology: Topology::RootOnly,
                algorithm: Default::default(),
                root: Entry { cert: Block::new("-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----"), key },
                intermediates: Default::default(),
                previous_roots: vec![],
                previous_intermediates: Default::default(),
                root_overlap_started: None,
                root_overlap_min_days: None,
                root_switched_at: None,
                revoked: vec![],
                revoked_leaves: vec![],
                leaf_ttl: None,
                root_crls: vec![],
                root_finalized_at: None,
            },
        );
        let text = show(&store);
        assert!(!text.contains("YWdl"), "{text}");
        assert!(text.contains("key: sealed to the CI identity (ciphertext sha256 "), "{text}");
        // The broken certificate is named, the rendering goes on.
        assert!(text.contains("unreadable certificate (cert-invalid)"), "{text}");
        assert_eq!(show(&store), text, "deterministic");
    }
}
