//! Rotation and compromise recovery: every pair that could talk keeps talking through planned
//! rotations (real TLS), a compromised intermediate is refused everywhere after recovery, and
//! failed or interrupted rotations leave the store as it was.

use std::path::{Path, PathBuf};

use crate::support::*;
use crate::tls::{openssl_handshake, rustls_handshake, Svid};

const T0: &str = "2026-11-22T12:00:00Z";

fn mesh() -> Repo {
    let r = Repo::initialized_at(Some(T0));
    r.run(&["pki", "renew", "prd"]).ok();
    r
}

fn provider(r: &Repo) -> PathBuf {
    r.tmp.path().join("provider-prd")
}

/// A host's copy of its service material (what the bootstrapper projects into tmpfs):
/// `leaf` files from one fetch, `bundle` from another.
fn host(r: &Repo, name: &str, leaf_from: &Path, bundle_from: &Path) -> Svid {
    let d = r.tmp.path().join("hosts").join(name);
    std::fs::create_dir_all(&d).unwrap();
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(leaf_from.join(f), d.join(f)).unwrap();
    }
    std::fs::copy(bundle_from.join("bundle.pem"), d.join("bundle.pem")).unwrap();
    Svid { dir: d }
}

/// Snapshot of a service+scope as the provider holds it now.
fn fetch(r: &Repo, name: &str, svc: &str, scope: &str) -> PathBuf {
    let src = std::fs::canonicalize(provider(r).join(svc).join("mtls").join(scope)).unwrap();
    let d = r.tmp.path().join("fetched").join(name);
    std::fs::create_dir_all(&d).unwrap();
    for f in ["cert.pem", "key.pem", "bundle.pem"] {
        std::fs::copy(src.join(f), d.join(f)).unwrap();
    }
    d
}

#[track_caller]
fn talk(r: &Repo, a: &Svid, b: &Svid) {
    for (c, s) in [(a, b), (b, a)] {
        rustls_handshake(now(r), c, s).unwrap_or_else(|e| panic!("{:?} → {:?} must handshake: {e}", c.dir, s.dir));
    }
}

fn now(r: &Repo) -> &str {
    r.now.as_deref().unwrap_or(T0)
}

fn entry(store: &str, path: &[&str]) -> String {
    field(store, path)
}

#[test]
fn planned_intermediate_roll_keeps_every_pair_talking() {
    let mut r = mesh();
    let before = r.store_text();
    let a0 = fetch(&r, "web-a0", "web", "us-east-1");
    let b0 = fetch(&r, "worker-b0", "worker", "us-east-1");
    let g0 = fetch(&r, "api-g0", "api", "global");

    r.now = Some("2027-01-10T12:00:00Z".into());
    let root = r.root.clone().unwrap();
    r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "us-east-1"], &[("INFORGE_PKI_ROOT_KEY", &root)])
        .ok();
    let after = r.store_text();
    // Only us-east-1 changed: every other scope's material and the root are byte-identical.
    for p in [
        vec!["pkis", "wardnet-mesh", "root", "cert"],
        vec!["pkis", "wardnet-mesh", "root", "key"],
        vec!["pkis", "wardnet-mesh", "intermediates", "global", "cert"],
        vec!["pkis", "wardnet-mesh", "intermediates", "global", "key"],
        vec!["pkis", "wardnet-mesh", "intermediates", "eu-west-1", "cert"],
        vec!["pkis", "wardnet-mesh", "intermediates", "eu-west-1", "key"],
        vec!["pkis", "daemon-ca", "root", "key"],
    ] {
        assert_eq!(entry(&before, &p), entry(&after, &p), "{p:?} changed");
    }
    let old_int = entry(&before, &["pkis", "wardnet-mesh", "intermediates", "us-east-1", "cert"]);
    assert_ne!(old_int, entry(&after, &["pkis", "wardnet-mesh", "intermediates", "us-east-1", "cert"]));
    assert_eq!(entry(&after, &["pkis", "wardnet-mesh", "previousIntermediates", "us-east-1", "0"]), old_int);
    let ls = r.run(&["pki", "ls", "prd"]).ok().stdout;
    assert!(ls.contains("previous us-east-1"), "{ls}");

    // Step 1: bundles only (credential-free). Leaves and keys are untouched.
    let run = r.cmd(&["pki", "renew", "prd", "--bundles-only"], &[]).ok();
    assert!(run.stderr.contains("refreshed 5 bundles"), "{}", run.stderr);
    let a1 = fetch(&r, "web-a1", "web", "us-east-1");
    assert_eq!(std::fs::read(a0.join("cert.pem")).unwrap(), std::fs::read(a1.join("cert.pem")).unwrap());
    assert_eq!(std::fs::read(a1.join("bundle.pem")).unwrap().windows(11).filter(|w| w == b"BEGIN CERTI").count(), 3);
    let g1 = fetch(&r, "api-g1", "api", "global");
    // Mid-rollout: hosts on old bundles and hosts on new bundles, all with old leaves.
    talk(&r, &host(&r, "A0", &a0, &a0), &host(&r, "B1", &b0, &a1));
    talk(&r, &host(&r, "G0", &g0, &g0), &host(&r, "A1", &a0, &a1));

    // Step 2: new leaves. Old leaves (with refreshed bundles) and new leaves talk both ways.
    r.run(&["pki", "renew", "prd"]).ok();
    let a2 = fetch(&r, "web-a2", "web", "us-east-1");
    let b2 = fetch(&r, "worker-b2", "worker", "us-east-1");
    assert_ne!(std::fs::read(a1.join("cert.pem")).unwrap(), std::fs::read(a2.join("cert.pem")).unwrap());
    let new_a = host(&r, "A2", &a2, &a2);
    talk(&r, &host(&r, "B1b", &b0, &a1), &new_a);
    talk(&r, &host(&r, "G1", &g0, &g1), &new_a);
    talk(&r, &new_a, &host(&r, "B2", &b2, &b2));
    let (ok, out) = openssl_handshake(now(&r), &host(&r, "B1c", &b0, &b2), &new_a);
    assert!(ok, "openssl old leaf → new leaf:\n{out}");
    // The control that shows why step 1 comes first: a host still on the old bundle cannot
    // verify a new leaf.
    assert!(rustls_handshake(now(&r), &host(&r, "A0b", &a0, &a0), &new_a).is_err());
    // validate is clean throughout.
    r.cmd(&["validate", "prd"], &[]).ok();
}

#[test]
fn root_rotation_overlap_and_finalize() {
    let mut r = mesh();
    let before = r.store_text();
    let old_root = entry(&before, &["pkis", "wardnet-mesh", "root", "cert"]);
    let w0 = fetch(&r, "web0", "web", "us-east-1");
    let g0 = fetch(&r, "api0", "api", "global");
    let root = r.root.clone().unwrap();
    let op = [("INFORGE_PKI_ROOT_KEY", root.as_str())];

    r.now = Some("2027-01-10T12:00:00Z".into());
    r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--root"], &op).ok();
    let s = r.store_text();
    assert_ne!(entry(&s, &["pkis", "wardnet-mesh", "root", "cert"]), old_root);
    assert_eq!(entry(&s, &["pkis", "wardnet-mesh", "previousRoots", "0", "cert"]), old_root);
    assert_eq!(s.matches("rootOverlapStarted: \"2027-01-10T12:00:00Z\"").count(), 1, "{s}");
    for scope in ["global", "us-east-1", "eu-west-1"] {
        // Intermediate keys preserved (ciphertext untouched), certificates re-signed.
        let k = ["pkis", "wardnet-mesh", "intermediates", scope, "key"];
        assert_eq!(entry(&before, &k), entry(&s, &k), "{scope} key must be preserved");
        let d = r.tmp.path();
        write(d, "new-root.pem", &entry(&s, &["pkis", "wardnet-mesh", "root", "cert"]));
        write(d, "int.pem", &entry(&s, &["pkis", "wardnet-mesh", "intermediates", scope, "cert"]));
        assert!(
            openssl(
                &["verify", "-attime", &crate::tls::epoch(now(&r)).to_string(), "-CAfile", "new-root.pem", "int.pem"],
                d
            )
            .0,
            "{scope} re-signed by the new root"
        );
    }
    // The new root key is cold: it opens with the offline identity only.
    let key = entry(&s, &["pkis", "wardnet-mesh", "root", "key"]);
    assert!(age_decrypt(&r.root_file, &key, r.tmp.path()).is_some());
    assert!(age_decrypt(&r.ci_file, &key, r.tmp.path()).is_none());
    // Root-anchoring consumers get both roots during the overlap.
    let roots = r.cmd(&["pki", "bundle", "prd", "wardnet-mesh", "--roots"], &[]).ok().stdout;
    assert_eq!(roots.matches("BEGIN CERTIFICATE").count(), 2);
    let ls = r.run(&["pki", "ls", "prd"]).ok().stdout;
    assert!(ls.contains("phase overlap (previous root's path first); switch from 2027-02-09T12:00:00Z"), "{ls}");

    // Mesh services are undisturbed: old leaves still talk, and new leaves talk to old ones.
    r.run(&["pki", "renew", "prd"]).ok();
    let w1 = fetch(&r, "web1", "web", "us-east-1");
    let g1 = fetch(&r, "api1", "api", "global");
    talk(&r, &host(&r, "W0", &w0, &w0), &host(&r, "G0", &g0, &g0));
    talk(&r, &host(&r, "W0b", &w0, &w0), &host(&r, "W1", &w1, &w1));
    talk(&r, &host(&r, "G0b", &g0, &g0), &host(&r, "G1", &g1, &g1));
    // During the overlap cert.pem carries both chains (the previous root's twin first), so a
    // consumer still anchored on the old root, or on both, verifies a new leaf.
    let cert = std::fs::read_to_string(w1.join("cert.pem")).unwrap();
    assert_eq!(cert.matches("BEGIN CERTIFICATE").count(), 3, "leaf + twin + intermediate");
    let d = w1.as_path();
    write(d, "old-root.pem", &old_root);
    write(d, "both-roots.pem", &roots);
    let at = crate::tls::epoch(now(&r)).to_string();
    for anchor in ["old-root.pem", "both-roots.pem"] {
        let (ok, out) =
            openssl(&["verify", "-attime", &at, "-CAfile", anchor, "-untrusted", "cert.pem", "cert.pem"], d);
        assert!(ok, "{anchor}: {out}");
    }

    // Finalize refuses before the switch; the switch refuses while the overlap is young, says
    // when, and changes nothing.
    r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--root", "--finalize"],
        Some(&op),
        "switch-missing",
        "not switched",
    );
    let run = r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--root", "--switch"],
        Some(&[]),
        "switch-too-early",
        "allowed from 2027-02-09T12:00:00Z",
    );
    assert!(run.stderr.contains("--force"));
    r.now = Some("2027-02-10T12:00:00Z".into());
    let v = r.cmd(&["validate", "prd"], &[]).ok().stdout;
    assert!(v.contains("warning[root-overlap-switchable] pkis.wardnet-mesh.previousRoots"), "{v}");
    // The switch needs no identity: it only orders the chains renew writes.
    r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--root", "--switch"], &[]).ok();
    assert!(r.store_text().contains("rootSwitchedAt: \"2027-02-10T12:00:00Z\""));
    r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--root", "--finalize"],
        Some(&op),
        "switch-too-young",
        "allowed from 2027-02-17T12:00:00Z",
    );
    // After the switch a renewed chain starts with the new root's path: a consumer anchored on
    // the new root alone verifies it with OpenSSL (which takes the first candidate issuer).
    r.run(&["pki", "renew", "prd", "--service", "web"]).ok();
    let w_sw = fetch(&r, "web-sw", "web", "us-east-1");
    write(&w_sw, "new-root.pem", &entry(&r.store_text(), &["pkis", "wardnet-mesh", "root", "cert"]));
    let at = crate::tls::epoch(now(&r)).to_string();
    let (ok, out) =
        openssl(&["verify", "-attime", &at, "-CAfile", "new-root.pem", "-untrusted", "cert.pem", "cert.pem"], &w_sw);
    assert!(ok, "switched chain, new root only: {out}");
    // The fleet gate: api's set still carries the overlap-era chain.
    r.now = Some("2027-02-18T12:00:00Z".into());
    let run = r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--root", "--finalize"],
        Some(&op),
        "fleet-not-switched",
        "still carry a chain from before the switch",
    );
    assert!(run.stderr.contains("api/global") || run.stderr.contains("billing/global"), "{}", run.stderr);
    r.run(&["pki", "renew", "prd"]).ok();
    r.cmd(&["pki", "status", "prd"], &[]).ok();
    // M1: a set the provider cannot read is never taken as switched. One bundle gets a byte
    // that is not UTF-8: status reports that set (and keeps judging the others), and finalize
    // is refused (it used to warn "time gate alone" and finalize).
    let bundle = provider(&r).join("web/mtls/us-east-1/bundle.pem");
    let mut bytes = std::fs::read(&bundle).unwrap();
    bytes.push(0xff);
    std::fs::write(&bundle, &bytes).unwrap();
    let st = r.cmd(&["pki", "status", "prd", "--json"], &[]);
    assert_ne!(st.code, 0);
    assert!(st.stdout.contains("set-unreadable") && st.stdout.contains("\"service\": \"api\""), "{}", st.stdout);
    let run = r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--root", "--finalize"],
        Some(&op),
        "fleet-not-switched",
        "web/us-east-1",
    );
    assert!(!run.stderr.contains("time gate alone"), "{}", run.stderr);
    r.run(&["pki", "renew", "prd"]).ok();
    r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--root", "--finalize"], &op).ok();
    let f = r.store_text();
    assert!(!f.contains("previousRoots") && !f.contains("rootOverlapStarted"), "{f}");
    assert_eq!(
        r.cmd(&["pki", "bundle", "prd", "wardnet-mesh", "--roots"], &[]).ok().stdout.matches("BEGIN").count(),
        1
    );
    // After finalize, mesh services keep talking (old and new leaves alike).
    r.run(&["pki", "renew", "prd"]).ok();
    let w2 = fetch(&r, "web2", "web", "us-east-1");
    // New leaves now chain to the new root alone.
    write(&w2, "new-root.pem", &entry(&f, &["pkis", "wardnet-mesh", "root", "cert"]));
    let at = crate::tls::epoch(now(&r)).to_string();
    let (ok, out) =
        openssl(&["verify", "-attime", &at, "-CAfile", "new-root.pem", "-untrusted", "cert.pem", "cert.pem"], &w2);
    assert!(ok, "{out}");
    let g2 = fetch(&r, "api2", "api", "global");
    talk(&r, &host(&r, "W2", &w2, &w2), &host(&r, "G2", &g2, &g2));
    talk(&r, &host(&r, "W0c", &w0, &w2), &host(&r, "G2b", &g2, &g2));
    let (ok, out) = openssl_handshake(now(&r), &host(&r, "W2o", &w2, &w2), &host(&r, "G2o", &g2, &g2));
    assert!(ok, "{out}");
    r.cmd(&["validate", "prd"], &[]).ok();
    // A second overlap can start now.
    r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--root"], &op).ok();
    r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--root"],
        Some(&op),
        "overlap-open",
        "already in a root overlap",
    );
}

#[test]
fn root_only_pkis_rotate_with_the_same_overlap() {
    let r = mesh();
    let root = r.root.clone().unwrap();
    let op = [("INFORGE_PKI_ROOT_KEY", root.as_str())];
    r.cmd(&["pki", "rotate", "prd", "daemon-ca", "--root", "--min-overlap-days", "7"], &op).ok();
    let s = r.store_text();
    // The new issuer root goes to CI (the online issuer), not to the offline recipient.
    let key = entry(&s, &["pkis", "daemon-ca", "root", "key"]);
    assert!(age_decrypt(&r.ci_file, &key, r.tmp.path()).is_some());
    assert_eq!(r.cmd(&["pki", "bundle", "prd", "daemon-ca", "--roots"], &[]).ok().stdout.matches("BEGIN").count(), 2);
    assert!(s.contains("rootOverlapMinDays: 7"));
    r.fails_unchanged(
        &["pki", "rotate", "prd", "daemon-ca", "--root", "--finalize"],
        Some(&op),
        "overlap-too-young",
        "7 days",
    );
    r.cmd(&["pki", "rotate", "prd", "daemon-ca", "--root", "--finalize", "--force"], &op).ok();
    assert_eq!(r.cmd(&["pki", "bundle", "prd", "daemon-ca", "--roots"], &[]).ok().stdout.matches("BEGIN").count(), 1);
}

#[test]
fn recovery_refuses_the_compromised_leaf_everywhere_and_leaves_other_regions_alone() {
    let mut r = mesh();
    let before = r.store_text();
    let eu_before: Vec<Vec<u8>> = ["cert.pem", "key.pem", "bundle.pem"]
        .iter()
        .map(|f| std::fs::read(provider(&r).join("web/mtls/eu-west-1").join(f)).unwrap())
        .collect();
    let stolen = fetch(&r, "stolen", "web", "us-east-1");
    r.now = Some("2027-01-10T12:00:00Z".into());
    let run = r.run(&["pki", "recover-intermediate", "prd", "wardnet-mesh", "us-east-1"]).ok();
    let old_fp = {
        let d = r.tmp.path();
        write(d, "old-int.pem", &entry(&before, &["pkis", "wardnet-mesh", "intermediates", "us-east-1", "cert"]));
        let (_, fp) = openssl(&["x509", "-in", "old-int.pem", "-noout", "-fingerprint", "-sha256"], d);
        fp.trim().split('=').nth(1).unwrap().replace(':', "").to_lowercase()
    };
    assert!(run.stderr.contains(&format!("revoked {old_fp}")), "{}", run.stderr);
    let s = r.store_text();
    assert_eq!(entry(&s, &["pkis", "wardnet-mesh", "revoked", "0", "fingerprint"]), old_fp);
    assert_eq!(entry(&s, &["pkis", "wardnet-mesh", "revoked", "0", "revokedAt"]), "2027-01-10T12:00:00Z");
    assert!(!s.contains("previousIntermediates"), "no overlap after a compromise");
    // Other regions' material is byte-identical, in the store and at the provider.
    for p in [
        ["pkis", "wardnet-mesh", "intermediates", "eu-west-1", "cert"],
        ["pkis", "wardnet-mesh", "intermediates", "eu-west-1", "key"],
    ] {
        assert_eq!(entry(&before, &p), entry(&s, &p));
    }
    for (i, f) in ["cert.pem", "key.pem", "bundle.pem"].iter().enumerate() {
        assert_eq!(std::fs::read(provider(&r).join("web/mtls/eu-west-1").join(f)).unwrap(), eu_before[i], "{f}");
    }
    // The compromised intermediate's leaf is refused by every bundle in the mesh.
    let p = provider(&r);
    for (svc, scope) in
        [("api", "global"), ("billing", "global"), ("web", "us-east-1"), ("web", "eu-west-1"), ("worker", "us-east-1")]
    {
        let bundle = p.join(svc).join("mtls").join(scope).join("bundle.pem");
        let at = crate::tls::epoch(now(&r)).to_string();
        let (ok, _) = openssl(
            &[
                "verify",
                "-attime",
                &at,
                "-partial_chain",
                "-CAfile",
                bundle.to_str().unwrap(),
                "-untrusted",
                "cert.pem",
                "cert.pem",
            ],
            &stolen,
        );
        assert!(!ok, "{svc}/{scope} bundle still accepts the compromised leaf");
        let server = Svid::at(&p, svc, scope);
        assert!(
            rustls_handshake(now(&r), &host(&r, &format!("thief-{svc}-{scope}"), &stolen, &stolen), &server).is_err()
        );
    }
    // The scope's leaves were re-minted as part of the recovery, and the mesh talks.
    let fresh = fetch(&r, "fresh", "web", "us-east-1");
    assert_ne!(std::fs::read(fresh.join("cert.pem")).unwrap(), std::fs::read(stolen.join("cert.pem")).unwrap());
    talk(&r, &Svid::at(&p, "web", "us-east-1"), &Svid::at(&p, "worker", "us-east-1"));
    talk(&r, &Svid::at(&p, "web", "us-east-1"), &Svid::at(&p, "api", "global"));
    talk(&r, &Svid::at(&p, "web", "eu-west-1"), &Svid::at(&p, "api", "global"));
    // bundle never returns it; ls and validate show the state.
    let b = r.cmd(&["pki", "bundle", "prd", "wardnet-mesh", "--scope", "global"], &[]).ok().stdout;
    assert!(!b.contains(
        entry(&before, &["pkis", "wardnet-mesh", "intermediates", "us-east-1", "cert"]).lines().nth(1).unwrap()
    ));
    assert!(r.run(&["pki", "ls", "prd"]).ok().stdout.contains("revoked us-east-1"));
    r.cmd(&["validate", "prd"], &[]).ok();
    // validate flags any trace of it: put the revoked certificate back as "previous".
    let old = entry(&before, &["pkis", "wardnet-mesh", "intermediates", "us-east-1", "cert"]);
    let block: String = old.lines().map(|l| format!("        {l}\n")).collect();
    let tampered = s.replacen(
        "    revoked:\n",
        &format!("    previousIntermediates:\n      us-east-1:\n      - |\n{block}    revoked:\n"),
        1,
    );
    std::fs::write(r.store_path(), tampered).unwrap();
    let run = r.cmd(&["validate", "prd"], &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("error[revoked-in-use] pkis.wardnet-mesh.previousIntermediates.us-east-1[0]"),
        "{}",
        run.stdout
    );
    // ... and bundles still exclude it.
    let b = r.cmd(&["pki", "bundle", "prd", "wardnet-mesh", "--scope", "us-east-1"], &[]).ok().stdout;
    assert!(!b.contains(old.lines().nth(1).unwrap()));
}

#[test]
fn recovery_after_a_root_rotation_revokes_the_re_signed_twin_too() {
    let r = mesh();
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--root"]).ok();
    r.run(&["pki", "recover-intermediate", "prd", "wardnet-mesh", "global"]).ok();
    let s = r.store_text();
    assert_eq!(s.matches("fingerprint:").count(), 2, "current + re-signed twin:\n{s}");
    // Global is in every bundle: every scope's leaves were re-minted and the mesh talks.
    let p = provider(&r);
    talk(&r, &Svid::at(&p, "web", "eu-west-1"), &Svid::at(&p, "api", "global"));
    talk(&r, &Svid::at(&p, "web", "us-east-1"), &Svid::at(&p, "billing", "global"));
}

#[test]
fn rotate_leaf_re_mints_one_mesh() {
    let r = mesh();
    let before = std::fs::read(provider(&r).join("api/mtls/global/cert.pem")).unwrap();
    let web_before = std::fs::read(provider(&r).join("web/mtls/us-east-1/cert.pem")).unwrap();
    r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--leaf", "--service", "api"], &[("INFORGE_SECRETS_KEY", &r.ci)])
        .ok();
    assert_ne!(std::fs::read(provider(&r).join("api/mtls/global/cert.pem")).unwrap(), before);
    assert_eq!(std::fs::read(provider(&r).join("web/mtls/us-east-1/cert.pem")).unwrap(), web_before);
}

// ---- failures leave the store as it was ----

#[test]
fn failed_rotations_change_nothing() {
    let r = mesh();
    let ci = [("INFORGE_SECRETS_KEY", r.ci.as_str())];
    r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "global"],
        Some(&ci),
        "identity-missing",
        "hint: set INFORGE_PKI_ROOT_KEY to",
    );
    r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "mars"],
        None,
        "scope-unknown",
        "\"mars\"",
    );
    r.fails_unchanged(
        &["pki", "rotate", "prd", "daemon-ca", "--intermediate", "global"],
        None,
        "pki-root-only",
        "root-only",
    );
    r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--root"],
        Some(&ci),
        "identity-missing",
        "INFORGE_PKI_ROOT_KEY",
    );
    r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--root", "--finalize"],
        None,
        "overlap-none",
        "no root overlap",
    );
    // Recovery is an offline operation: the CI identity alone cannot do it.
    r.fails_unchanged(
        &["pki", "recover-intermediate", "prd", "wardnet-mesh", "us-east-1"],
        Some(&[("INFORGE_SECRETS_KEY", &r.ci)]),
        "identity-missing",
        "hint: set INFORGE_PKI_ROOT_KEY to",
    );
    r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "global"],
        Some(&[("INFORGE_PKI_ROOT_KEY", &r.ci)]),
        "identity-wrong",
        "rootRecipient",
    );
    let run = r.run(&["pki", "rotate", "prd", "wardnet-mesh"]);
    assert_eq!(run.code, 2, "a tier is required: {}", run.stderr);
}

#[test]
fn interrupted_rotations_leave_a_whole_store() {
    // Kill `rotate --intermediate` at staggered moments: the store is always either the old
    // file or a complete new one (atomic rename), never a torn write.
    let r = mesh();
    for i in 0..12u64 {
        let before = r.store();
        let mut c = std::process::Command::new(BIN);
        c.arg("-C").arg(&r.dir).args(["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "us-east-1"]);
        c.env("INFORGE_PKI_ROOT_KEY", r.root.as_deref().unwrap()).env("INFORGE_NOW", T0);
        c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_micros(i * 700));
        let _ = child.kill();
        let _ = child.wait();
        let after = r.store();
        if after != before {
            assert!(String::from_utf8(after).unwrap().starts_with("# managed by `inforge pki`"));
        }
        r.cmd(&["validate", "prd"], &[]).ok();
    }
}
