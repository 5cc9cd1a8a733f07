//! Foundation: init, add, intermediate, ls; custody; chains; bad input.

use crate::support::*;

#[test]
fn init_prints_the_root_identity_alone_on_stdout_and_refuses_to_overwrite() {
    let mut r = Repo::new();
    let run = r.init();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout must be the identity alone: {:?}", run.stdout);
    assert!(lines[0].starts_with("AGE-SECRET-KEY-1"));
    assert!(!run.stderr.contains("AGE-SECRET-KEY"), "identity must not go to stderr");
    let store = r.store_text();
    assert!(store.starts_with("# managed by `inforge pki` — do not edit by hand\n"));
    assert_eq!(field(&store, &["recipient"]), r.ci_recipient, "CI recipient comes from the secret store");
    // The printed identity is the store's root recipient, checked with age-keygen -y.
    let out = tool("age-keygen").arg("-y").arg(&r.root_file).output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), field(&store, &["rootRecipient"]));
    r.fails_unchanged(&["pki", "init", "prd"], None, "store-exists", "already exists");
}

#[test]
fn init_recipient_precedence_flag_then_secret_store_then_ci_identity() {
    // --recipient wins over the secret store.
    let r = Repo::new();
    let other = Repo::new();
    r.cmd(&["pki", "init", "prd", "--recipient", &other.ci_recipient], &[]).ok();
    assert_eq!(field(&r.store_text(), &["recipient"]), other.ci_recipient);
    // No secret store: derived from INFORGE_SECRETS_KEY.
    let r = Repo::new();
    std::fs::remove_file(r.dir.join("resources/prd/secrets.enc.yaml")).unwrap();
    r.cmd(&["pki", "init", "prd"], &[("INFORGE_SECRETS_KEY", &r.ci)]).ok();
    assert_eq!(field(&r.store_text(), &["recipient"]), r.ci_recipient);
    // Nothing at all: a clear error, no store created.
    let r = Repo::new();
    std::fs::remove_file(r.dir.join("resources/prd/secrets.enc.yaml")).unwrap();
    r.cmd(&["pki", "init", "prd"], &[]).fails("recipient-missing", "no CI recipient");
    assert!(!r.store_path().exists());
    // A bad --recipient.
    r.cmd(&["pki", "init", "prd", "--recipient", "age1nope"], &[]).fails("recipient-invalid", "\"age1nope\"");
    assert!(!r.store_path().exists());
    // An undeclared environment.
    r.cmd(&["pki", "init", "stg", "--recipient", &r.ci_recipient], &[]).fails("environment-unknown", "\"stg\"");
}

#[test]
fn quickstart_builds_the_store_and_lists_it() {
    let r = Repo::initialized();
    let text = r.run(&["pki", "ls", "prd"]).ok().stdout;
    for needle in [
        "wardnet-mesh  two-tier  ecdsa-p256",
        "daemon-ca  root-only",
        "intermediate global",
        "intermediate us-east-1",
        "intermediate eu-west-1",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let json: serde_json::Value = serde_json::from_str(&r.run(&["pki", "ls", "prd", "--json"]).ok().stdout).unwrap();
    let mesh = json["pkis"].as_array().unwrap().iter().find(|p| p["name"] == "wardnet-mesh").unwrap();
    assert_eq!(
        mesh["tiers"],
        serde_json::json!(["root", "intermediate:eu-west-1", "intermediate:global", "intermediate:us-east-1"])
    );
    // The real clock: a second may pass between minting and listing (3652 days less a second
    // is 3651 whole days).
    assert!([3651, 3652].contains(&mesh["root"]["daysLeft"].as_i64().unwrap()), "{}", mesh["root"]);
    assert!([1825, 1826].contains(&mesh["intermediates"]["global"]["daysLeft"].as_i64().unwrap()));
    assert_eq!(mesh["overlap"]["rootOverlap"], false);
    // ls is read-only and needs no identity.
    let before = r.store();
    r.cmd(&["pki", "ls", "prd"], &[]).ok();
    assert_eq!(r.store(), before);
}

#[test]
fn custody_checked_with_the_age_cli() {
    let r = Repo::initialized();
    let s = r.store_text();
    let scratch = r.tmp.path();
    let root_key = field(&s, &["pkis", "wardnet-mesh", "root", "key"]);
    // The cold root opens with the offline identity and never with CI's.
    let pem = age_decrypt(&r.root_file, &root_key, scratch).expect("offline identity opens the root key");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(age_decrypt(&r.ci_file, &root_key, scratch).is_none(), "CI must not open a cold root key");
    // Intermediates and the root-only root open with CI, not with the offline identity.
    for path in [
        vec!["pkis", "wardnet-mesh", "intermediates", "global", "key"],
        vec!["pkis", "wardnet-mesh", "intermediates", "us-east-1", "key"],
        vec!["pkis", "daemon-ca", "root", "key"],
    ] {
        let ct = field(&s, &path);
        let pem = age_decrypt(&r.ci_file, &ct, scratch).unwrap_or_else(|| panic!("CI opens {path:?}"));
        assert!(age_decrypt(&r.root_file, &ct, scratch).is_none());
        // The key matches its certificate (openssl computes both public keys).
        let mut cert_path = path.clone();
        *cert_path.last_mut().unwrap() = "cert";
        write(scratch, "k.pem", &pem);
        write(scratch, "c.pem", &field(&s, &cert_path));
        let (ok1, from_key) = openssl(&["pkey", "-in", "k.pem", "-pubout"], scratch);
        let (ok2, from_cert) = openssl(&["x509", "-in", "c.pem", "-noout", "-pubkey"], scratch);
        assert!(ok1 && ok2);
        assert_eq!(from_key, from_cert, "{path:?}: key does not match certificate");
    }
    // No plaintext key anywhere in the store.
    assert!(!s.contains("PRIVATE KEY"));
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_refused() {
    let r = Repo::initialized();
    r.run(&["pki", "add", "prd", "other-mesh", "--topology", "two-tier"]).ok();
    // Swap the two cold roots' ciphertexts: each still decrypts, but to the wrong key.
    let s = r.store_text();
    let a = field(&s, &["pkis", "wardnet-mesh", "root", "key"]);
    let b = field(&s, &["pkis", "other-mesh", "root", "key"]);
    let indent = |t: &str| t.lines().map(|l| format!("        {l}\n")).collect::<String>();
    let swapped = s.replace(&indent(&a), "@A@").replace(&indent(&b), &indent(&a)).replace("@A@", &indent(&b));
    assert_ne!(swapped, s);
    std::fs::write(r.store_path(), &swapped).unwrap();
    r.fails_unchanged(
        &["pki", "intermediate", "prd", "other-mesh", "global"],
        None,
        "key-mismatch",
        "pkis.other-mesh.root.key does not match its certificate",
    );
}

#[test]
fn intermediates_verify_against_their_root_with_openssl_for_every_algorithm() {
    let r = Repo::initialized();
    for alg in ["ecdsa-p384", "ed25519"] {
        let name = format!("mesh-{alg}");
        r.run(&["pki", "add", "prd", &name, "--topology", "two-tier", "--algorithm", alg]).ok();
        r.run(&["pki", "intermediate", "prd", &name, "global"]).ok();
    }
    let s = r.store_text();
    let d = r.tmp.path();
    for (name, scopes) in [
        ("wardnet-mesh", vec!["global", "us-east-1", "eu-west-1"]),
        ("mesh-ecdsa-p384", vec!["global"]),
        ("mesh-ed25519", vec!["global"]),
    ] {
        write(d, "root.pem", &field(&s, &["pkis", name, "root", "cert"]));
        let (ok, text) = openssl(&["x509", "-in", "root.pem", "-noout", "-text"], d);
        assert!(ok && text.contains("CA:TRUE, pathlen:1"), "{name} root profile:\n{text}");
        assert!(text.contains("Key Usage: critical") && text.contains("Certificate Sign, CRL Sign"), "{text}");
        for scope in scopes {
            write(d, "int.pem", &field(&s, &["pkis", name, "intermediates", scope, "cert"]));
            let (ok, out) = openssl(&["verify", "-x509_strict", "-CAfile", "root.pem", "int.pem"], d);
            assert!(ok, "{name}/{scope}: {out}");
            let (_, text) = openssl(&["x509", "-in", "int.pem", "-noout", "-text"], d);
            assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
            assert!(text.contains("Authority Key Identifier"), "{text}");
        }
    }
    // The check can fail: an intermediate does not verify against another PKI's root.
    write(d, "root.pem", &field(&s, &["pkis", "mesh-ed25519", "root", "cert"]));
    write(d, "int.pem", &field(&s, &["pkis", "wardnet-mesh", "intermediates", "global", "cert"]));
    assert!(!openssl(&["verify", "-CAfile", "root.pem", "int.pem"], d).0);
    // The root-only root is a pathLen 0 CA.
    write(d, "daemon.pem", &field(&s, &["pkis", "daemon-ca", "root", "cert"]));
    let (_, text) = openssl(&["x509", "-in", "daemon.pem", "-noout", "-text"], d);
    assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
}

#[test]
fn intermediates_verify_against_their_root_with_webpki() {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, UnixTime};
    let r = Repo::initialized();
    let s = r.store_text();
    let der = |pem: &str| CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let root = der(&field(&s, &["pkis", "wardnet-mesh", "root", "cert"]));
    let other_root = der(&field(&s, &["pkis", "daemon-ca", "root", "cert"]));
    for scope in ["global", "us-east-1", "eu-west-1"] {
        let int_pem = field(&s, &["pkis", "wardnet-mesh", "intermediates", scope, "cert"]);
        // Sign a throwaway leaf with the intermediate key (decrypted by the age CLI, signed by
        // rcgen+ring), then let webpki build and check root → intermediate → leaf.
        let key_pem =
            age_decrypt(&r.ci_file, &field(&s, &["pkis", "wardnet-mesh", "intermediates", scope, "key"]), r.tmp.path())
                .unwrap();
        let key = rcgen::KeyPair::from_pem(&key_pem).unwrap();
        let issuer = rcgen::Issuer::from_ca_cert_pem(&int_pem, key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["probe.internal".to_string()]).unwrap();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = params.signed_by(&leaf_key, &issuer).unwrap();
        let ee = webpki::EndEntityCert::try_from(leaf.der()).unwrap();
        let verify = |anchor: &CertificateDer<'_>| {
            let ta = webpki::anchor_from_trusted_cert(anchor).unwrap();
            ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &[ta],
                &[der(&int_pem)],
                UnixTime::now(),
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
            .map(|_| ())
        };
        verify(&root).unwrap_or_else(|e| panic!("{scope}: webpki rejected the chain: {e:?}"));
        assert!(verify(&other_root).is_err(), "{scope}: must not verify against another root");
    }
}

// ---- bad input: one test each; clear message + hint, exit 1, store byte-identical ----

#[test]
fn bad_input_malformed_yaml() {
    let r = Repo::initialized();
    let mut s = r.store_text();
    s.push_str("pkis: [unclosed\n");
    std::fs::write(r.store_path(), &s).unwrap();
    r.fails_unchanged(
        &["pki", "ls", "prd"],
        None,
        "store-invalid",
        "resources/prd/pki.enc.yaml is not a valid PKI store",
    );
}

#[test]
fn bad_input_unknown_field() {
    let r = Repo::initialized();
    let s = r.store_text().replacen("    topology: two-tier\n", "    topology: two-tier\n    colour: blue\n", 1);
    std::fs::write(r.store_path(), &s).unwrap();
    r.fails_unchanged(&["pki", "add", "prd", "x", "--topology", "two-tier"], None, "store-invalid", "colour");
}

#[test]
fn bad_input_unknown_field_in_inforge_yaml() {
    let r = Repo::initialized();
    let cfg = std::fs::read_to_string(r.dir.join("inforge.yaml")).unwrap().replace("scope: global", "scpoe: global");
    std::fs::write(r.dir.join("inforge.yaml"), cfg).unwrap();
    r.fails_unchanged(&["pki", "ls", "prd"], None, "config-invalid", "scpoe");
}

#[test]
fn bad_input_missing_store() {
    let r = Repo::new();
    r.run(&["pki", "ls", "prd"]).fails("store-missing", "resources/prd/pki.enc.yaml");
    r.run(&["pki", "add", "prd", "m", "--topology", "two-tier"]).fails("store-missing", "inforge pki init prd");
    assert!(!r.store_path().exists());
}

#[test]
fn bad_input_unknown_pki() {
    let r = Repo::initialized();
    r.fails_unchanged(&["pki", "intermediate", "prd", "nope", "global"], None, "pki-unknown", "no PKI named \"nope\"");
}

#[test]
fn bad_input_unknown_scope() {
    let r = Repo::initialized();
    r.fails_unchanged(
        &["pki", "intermediate", "prd", "wardnet-mesh", "ap-south-1"],
        None,
        "scope-unknown",
        "us-east-1, eu-west-1",
    );
}

#[test]
fn bad_input_root_only_given_an_intermediate() {
    let r = Repo::initialized();
    r.fails_unchanged(&["pki", "intermediate", "prd", "daemon-ca", "global"], None, "pki-root-only", "root-only");
}

#[test]
fn bad_input_existing_scope_points_to_rotate() {
    let r = Repo::initialized();
    r.fails_unchanged(&["pki", "intermediate", "prd", "wardnet-mesh", "global"], None, "scope-exists", "already has")
        .stderr
        .contains("rotate")
        .then_some(())
        .expect("hint names rotate");
}

#[test]
fn bad_input_duplicate_add() {
    let r = Repo::initialized();
    r.fails_unchanged(
        &["pki", "add", "prd", "wardnet-mesh", "--topology", "root-only"],
        None,
        "pki-exists",
        "already exists",
    );
}

#[test]
fn bad_input_missing_identity() {
    let r = Repo::initialized();
    r.fails_unchanged(
        &["pki", "intermediate", "prd", "wardnet-mesh", "global-2"],
        Some(&[]),
        "scope-unknown",
        "global-2",
    );
    r.run(&["pki", "add", "prd", "m2", "--topology", "two-tier"]).ok();
    r.fails_unchanged(
        &["pki", "intermediate", "prd", "m2", "global"],
        Some(&[("INFORGE_SECRETS_KEY", &r.ci)]),
        "identity-missing",
        "hint: set INFORGE_PKI_ROOT_KEY to",
    );
}

#[test]
fn bad_input_wrong_identity() {
    let r = Repo::initialized();
    r.run(&["pki", "add", "prd", "m2", "--topology", "two-tier"]).ok();
    // The CI identity in the root variable: valid age identity, wrong custodian.
    let run = r.fails_unchanged(
        &["pki", "intermediate", "prd", "m2", "global"],
        Some(&[("INFORGE_PKI_ROOT_KEY", &r.ci)]),
        "identity-wrong",
        "offline root identity given is not the one of this store's rootRecipient",
    );
    assert!(!run.stderr.contains(&r.ci));
    // Garbage in the variable.
    r.fails_unchanged(
        &["pki", "intermediate", "prd", "m2", "global"],
        Some(&[("INFORGE_PKI_ROOT_KEY", "hunter2")]),
        "identity-invalid",
        "INFORGE_PKI_ROOT_KEY does not hold",
    );
}

#[test]
fn bad_input_garbage_inforge_now() {
    let r = Repo::initialized();
    let env = [("INFORGE_PKI_ROOT_KEY", r.root.as_deref().unwrap()), ("INFORGE_NOW", "next tuesday")];
    r.fails_unchanged(
        &["pki", "add", "prd", "m3", "--topology", "two-tier"],
        Some(&env),
        "time-invalid",
        "INFORGE_NOW is not an RFC 3339 timestamp",
    );
}

#[test]
fn bad_names_are_rejected_with_the_rule() {
    let r = Repo::initialized();
    r.fails_unchanged(
        &["pki", "add", "prd", "a/b", "--topology", "two-tier"],
        None,
        "name-invalid",
        "PKI name \"a/b\"",
    );
    r.fails_unchanged(&["pki", "ls", ".."], None, "name-invalid", "environment \"..\"");
}

#[test]
fn usage_errors_exit_2() {
    let r = Repo::initialized();
    let run = r.run(&["pki", "add", "prd", "x", "--topology", "three-tier"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = r.run(&["pki", "frobnicate"]);
    assert_eq!(run.code, 2);
    assert_eq!(r.run(&["--help"]).code, 0);
}

#[test]
fn inforge_now_drives_validity() {
    let mut r = Repo::new();
    r.now = Some("2030-01-01T00:00:00Z".into());
    r.init();
    r.run(&["pki", "add", "prd", "m", "--topology", "two-tier"]).ok();
    let s = r.store_text();
    write(r.tmp.path(), "root.pem", &field(&s, &["pkis", "m", "root", "cert"]));
    let (_, out) = openssl(&["x509", "-in", "root.pem", "-noout", "-startdate", "-enddate"], r.tmp.path());
    assert!(out.contains("notBefore=Dec 31 23:55:00 2029 GMT"), "{out}");
    assert!(out.contains("notAfter=Jan  1 00:00:00 2040 GMT"), "{out}");
}

#[test]
fn init_refuses_to_print_the_identity_into_the_void() {
    for redirect in ["exec 1>&-", "exec 1>/dev/null"] {
        let r = Repo::new();
        let script = format!("{redirect}; exec \"$0\" -C \"$1\" pki init prd",);
        let out = tool("bash").args(["-c", &script, BIN, r.dir.to_str().unwrap()]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{redirect}: {stderr}");
        assert!(stderr.contains("error[stdout-discarded]"), "{stderr}");
        assert!(!r.store_path().exists(), "{redirect}: no store without the identity");
    }
}
