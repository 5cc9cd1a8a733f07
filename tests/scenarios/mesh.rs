//! The mesh: renew, bundles, the regional boundary (proved with real TLS), validate.

use std::path::PathBuf;

use crate::support::*;
use crate::tls::{openssl_handshake, rustls_handshake, Svid};

const NOW: &str = "2026-11-22T12:00:00Z";

fn mesh() -> Repo {
    Repo::initialized_at(Some(NOW))
}

fn provider(r: &Repo) -> PathBuf {
    r.tmp.path().join("provider-prd")
}

fn ci_only(r: &Repo) -> Vec<(&'static str, String)> {
    vec![("INFORGE_SECRETS_KEY", r.ci.clone())]
}

fn renew(r: &Repo, extra: &[&str]) -> Run {
    let env = ci_only(r);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut args = vec!["pki", "renew", "prd"];
    args.extend_from_slice(extra);
    r.cmd(&args, &env).ok()
}

/// The public key of `<set>/key.pem` and of `<set>/cert.pem`'s leaf, by openssl: equal when
/// the key belongs to the leaf (both files from one generation).
fn key_and_leaf_public_keys(dir: &std::path::Path, set: &str) -> (String, String) {
    let f = |n: &str| if set.is_empty() { n.to_string() } else { format!("{set}/{n}") };
    let (_, kp) = openssl(&["pkey", "-in", &f("key.pem"), "-pubout"], dir);
    let (_, cp) = openssl(&["x509", "-in", &f("cert.pem"), "-noout", "-pubkey"], dir);
    (kp, cp)
}

/// Three renews: every slot of every set exists (the provider's steady state).
fn renew_thrice(r: &Repo) {
    for _ in 0..3 {
        renew(r, &[]);
    }
}

const LEAVES: [(&str, &str); 5] =
    [("api", "global"), ("billing", "global"), ("web", "us-east-1"), ("web", "eu-west-1"), ("worker", "us-east-1")];

#[test]
fn renew_writes_leaves_keys_and_bundles_in_the_spec_layout() {
    let r = mesh();
    let run = renew(&r, &[]);
    assert!(run.stderr.contains("renewed 5 leaves for 4 services"), "{}", run.stderr);
    let p = provider(&r);
    assert!(!p.join("cron").exists(), "non-mesh services get nothing");
    let store = r.store_text();
    let int = |scope: &str| field(&store, &["pkis", "wardnet-mesh", "intermediates", scope, "cert"]);
    for (svc, scope) in LEAVES {
        let d = p.join(svc).join("mtls").join(scope);
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(d.join("key.pem")).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600, "{svc}/{scope} key.pem mode");
        let key = std::fs::read_to_string(d.join("key.pem")).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
        // cert.pem = leaf then its intermediate.
        let cert = std::fs::read_to_string(d.join("cert.pem")).unwrap();
        assert_eq!(cert.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(cert.ends_with(&int(scope)), "{svc}/{scope}: second cert is the scope intermediate");
        // OpenSSL accepts the leaf against its bundle with partial_chain, for both purposes.
        let dir = d.to_str().unwrap();
        let (ok, out) = openssl(
            &[
                "verify",
                "-partial_chain",
                "-purpose",
                "sslserver",
                "-CAfile",
                &format!("{dir}/bundle.pem"),
                &format!("{dir}/cert.pem"),
            ],
            &d,
        );
        assert!(ok, "{svc}/{scope}: {out}");
        let (ok, _) = openssl(
            &[
                "verify",
                "-partial_chain",
                "-purpose",
                "sslclient",
                "-CAfile",
                &format!("{dir}/bundle.pem"),
                &format!("{dir}/cert.pem"),
            ],
            &d,
        );
        assert!(ok);
        // The X509-SVID profile, read by openssl.
        let (_, text) = openssl(&["x509", "-in", "cert.pem", "-noout", "-text"], &d);
        let id = format!("URI:spiffe://wardnet.example/prd/{scope}/{svc}");
        assert_eq!(text.matches("URI:").count(), 1, "exactly one URI SAN:\n{text}");
        assert!(text.contains(&id), "{id} missing:\n{text}");
        assert!(text.contains("CA:FALSE"));
        assert!(text.contains("X509v3 Key Usage: critical\n                Digital Signature\n"), "{text}");
        assert!(text.contains("TLS Web Server Authentication, TLS Web Client Authentication"));
        assert_eq!(text.contains("DNS:api.internal"), svc == "api");
        let (_, dates) = openssl(&["x509", "-in", "cert.pem", "-noout", "-enddate"], &d);
        assert!(dates.contains("notAfter=Feb 20 12:00:00 2027 GMT"), "90 days from INFORGE_NOW: {dates}");
        // The key belongs to the leaf.
        let (kp, cp) = key_and_leaf_public_keys(&d, "");
        assert_eq!(kp, cp);
        // The bundle: the boundary, and never the root.
        let bundle = std::fs::read_to_string(d.join("bundle.pem")).unwrap();
        let expect: Vec<&str> =
            if scope == "global" { vec!["global", "us-east-1", "eu-west-1"] } else { vec![scope, "global"] };
        assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), expect.len(), "{svc}/{scope}");
        for s in ["global", "us-east-1", "eu-west-1"] {
            assert_eq!(bundle.contains(&int(s)), expect.contains(&s), "{svc}/{scope} bundle vs {s}");
        }
        assert!(
            !bundle.contains(&field(&store, &["pkis", "wardnet-mesh", "root", "cert"])),
            "no root in a scope bundle"
        );
    }
    // `bundle --scope` prints the same bundle renew wrote; `--roots` the root.
    let b = r.run(&["pki", "bundle", "prd", "wardnet-mesh", "--scope", "us-east-1"]).ok().stdout;
    assert_eq!(b, std::fs::read_to_string(p.join("web/mtls/us-east-1/bundle.pem")).unwrap());
    let roots = r.run(&["pki", "bundle", "prd", "wardnet-mesh", "--roots"]).ok().stdout;
    assert_eq!(roots, field(&store, &["pkis", "wardnet-mesh", "root", "cert"]));
}

#[test]
fn renew_never_touches_a_root_key() {
    let r = mesh();
    // Replace both root keys' ciphertext with garbage armor: renew must not notice.
    let s = r.store_text();
    let mut broken = s.clone();
    for pki in ["wardnet-mesh", "daemon-ca"] {
        let key = field(&s, &["pkis", pki, "root", "key"]);
        let body: Vec<&str> = key.lines().collect();
        let fake = format!("{}\n{}\n{}\n", body[0], "Z".repeat(64), body[body.len() - 1]);
        let indent = |t: &str| t.lines().map(|l| format!("        {l}\n")).collect::<String>();
        broken = broken.replace(&indent(&key), &indent(&fake));
    }
    assert_ne!(broken, s);
    std::fs::write(r.store_path(), &broken).unwrap();
    renew(&r, &[]);
    assert_eq!(r.store_text(), broken, "renew never writes the store");
}

#[test]
fn renew_service_mints_only_that_service_and_json_describes_it() {
    let r = mesh();
    let run = renew(&r, &["--service", "web", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let leaves = doc["leaves"].as_array().unwrap();
    assert_eq!(leaves.len(), 2);
    assert!(leaves.iter().all(|l| l["service"] == "web"));
    assert_eq!(leaves[0]["spiffeId"], "spiffe://wardnet.example/prd/us-east-1/web");
    assert_eq!(leaves[0]["notAfter"], "2027-02-20T12:00:00Z");
    let p = provider(&r);
    assert!(p.join("web/mtls/us-east-1/cert.pem").exists());
    assert!(!p.join("api").exists() && !p.join("worker").exists());
}

/// Release-time mint on a big config (issue 25): the second `renew --service` reads the
/// checked config from the cache instead of parsing the YAML; a changed config is parsed
/// again, with exactly the strict parse's error.
#[test]
fn a_big_config_is_parsed_once_and_kept_with_the_same_strictness() {
    let r = mesh();
    let cfg_path = r.dir.join("inforge.yaml");
    let mut cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let mut i = 0;
    while cfg.len() < 70 * 1024 {
        cfg.push_str(&format!("  extra-{i}: {{}}\n"));
        i += 1;
    }
    std::fs::write(&cfg_path, &cfg).unwrap();
    let cache = r.cache_dir();
    let entries = || -> Vec<PathBuf> {
        std::fs::read_dir(&cache).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default()
    };
    let first = renew(&r, &["--service", "web", "--json"]);
    let kept = entries();
    assert_eq!(kept.len(), 1, "{kept:?}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&kept[0]).unwrap().permissions().mode() & 0o777, 0o600);
    let modified = std::fs::metadata(&kept[0]).unwrap().modified().unwrap();
    let second = renew(&r, &["--service", "web", "--json"]);
    let ids = |run: &Run| {
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        doc["leaves"].as_array().unwrap().iter().map(|l| l["spiffeId"].to_string()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), ids(&second));
    assert_eq!(entries(), kept, "a hit writes no new entry");
    assert_eq!(std::fs::metadata(&kept[0]).unwrap().modified().unwrap(), modified);

    // A typo late in the file: a new key, so the full strict parse runs and refuses it, with
    // or without a cache, and nothing is written anywhere.
    std::fs::write(&cfg_path, format!("{cfg}  late: {{pki: wardnet-mesh, scpoe: global}}\n")).unwrap();
    let set = provider(&r).join("web/mtls/us-east-1/cert.pem");
    let before = std::fs::read(&set).unwrap();
    let env = ci_only(&r);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cached = r.fails_unchanged(&["pki", "renew", "prd", "--service", "web"], Some(&env), "config-invalid", "scpoe");
    let mut off = env.clone();
    off.push(("INFORGE_CACHE_DIR", "off"));
    let uncached =
        r.fails_unchanged(&["pki", "renew", "prd", "--service", "web"], Some(&off), "config-invalid", "scpoe");
    assert_eq!(cached.stderr, uncached.stderr);
    assert_eq!(std::fs::read(&set).unwrap(), before);
    assert_eq!(entries(), kept, "a refused config is never kept");
}

#[test]
fn renew_replaces_each_scope_as_a_consistent_set() {
    let r = mesh();
    let p = provider(&r);
    // A hand-made directory from before inforge managed the path is adopted.
    std::fs::create_dir_all(p.join("api/mtls/global")).unwrap();
    std::fs::write(p.join("api/mtls/global/cert.pem"), "old").unwrap();
    renew(&r, &[]);
    let first = std::fs::read(p.join("api/mtls/global/cert.pem")).unwrap();
    renew(&r, &[]);
    renew(&r, &[]);
    let d = p.join("api/mtls/global");
    let cert = std::fs::read(d.join("cert.pem")).unwrap();
    assert_ne!(cert, first, "a fresh leaf each run");
    let (kp, cp) = key_and_leaf_public_keys(&d, "");
    assert_eq!(kp, cp, "key and leaf from the same generation");
    // Three slots (current, previous, spare) and the adopted directory, which keeps the
    // hand-made file.
    let mut gens: Vec<String> = std::fs::read_dir(p.join("api/mtls"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".global@") && !n.contains("@link-"))
        .collect();
    gens.sort();
    assert_eq!(gens.len(), 4, "{gens:?}");
    assert_eq!(&gens[..3], [".global@0", ".global@1", ".global@2"]);
    assert!(gens[3].starts_with(".global@adopted-"));
    assert_eq!(std::fs::read(p.join("api/mtls").join(&gens[3]).join("cert.pem")).unwrap(), b"old");
}

/// The steady state of the dir provider: a renew replaces every set without creating or
/// freeing a single inode (slots and standby links are reused, files overwritten in place),
/// leaves the previous generation byte for byte as it was current, and still gives each set
/// a fresh leaf, its key and the scope's bundle, also after a rotation changes the bundle.
#[test]
fn a_steady_state_renew_reuses_every_inode_and_keeps_the_previous_generation() {
    use std::os::unix::fs::MetadataExt;
    let r = mesh();
    let p = provider(&r);
    renew_thrice(&r);
    let inodes = |dir: &std::path::Path| -> Vec<(String, u64)> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            v.push((name.clone(), std::fs::symlink_metadata(e.path()).unwrap().ino()));
            if e.file_type().unwrap().is_dir() {
                for f in ["cert.pem", "key.pem", "bundle.pem"] {
                    v.push((format!("{name}/{f}"), std::fs::symlink_metadata(e.path().join(f)).unwrap().ino()));
                }
            }
        }
        let mut inos: Vec<(String, u64)> = v;
        inos.sort();
        inos
    };
    let mtls = p.join("web/mtls");
    let set = |scope: &str| -> Vec<Vec<u8>> {
        ["cert.pem", "key.pem", "bundle.pem"].iter().map(|f| std::fs::read(mtls.join(scope).join(f)).unwrap()).collect()
    };
    for round in 0..4 {
        if round == 2 {
            r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "us-east-1"]).ok();
        }
        let before_inodes: std::collections::BTreeSet<u64> = inodes(&mtls).into_iter().map(|(_, i)| i).collect();
        let before_link = std::fs::read_link(mtls.join("us-east-1")).unwrap();
        let before = set("us-east-1");
        renew(&r, &[]);
        let after_inodes: std::collections::BTreeSet<u64> = inodes(&mtls).into_iter().map(|(_, i)| i).collect();
        assert_eq!(after_inodes, before_inodes, "round {round}: a steady-state renew created or freed an inode");
        let prev: Vec<Vec<u8>> = ["cert.pem", "key.pem", "bundle.pem"]
            .iter()
            .map(|f| std::fs::read(mtls.join(&before_link).join(f)).unwrap())
            .collect();
        assert_eq!(prev, before, "round {round}: the previous generation changed");
        let now = set("us-east-1");
        assert_ne!(now[0], before[0], "round {round}: no fresh leaf");
        let (kp, cp) = key_and_leaf_public_keys(&mtls, "us-east-1");
        assert_eq!(kp, cp, "round {round}: key and leaf from different generations");
        let bundle = r.run(&["pki", "bundle", "prd", "wardnet-mesh", "--scope", "us-east-1"]).ok().stdout;
        assert_eq!(String::from_utf8(now[2].clone()).unwrap(), bundle, "round {round}: stale bundle");
        let (ok, out) = openssl(
            &[
                "verify",
                "-attime",
                &crate::tls::epoch(NOW).to_string(),
                "-partial_chain",
                "-CAfile",
                "us-east-1/bundle.pem",
                "us-east-1/cert.pem",
            ],
            &mtls,
        );
        assert!(ok, "round {round}: {out}");
    }
}

/// A planted symlink in a spare slot (to a file outside the provider) is replaced, never
/// written through.
#[test]
fn a_planted_link_in_a_spare_slot_is_not_written_through() {
    let r = mesh();
    let p = provider(&r);
    renew_thrice(&r);
    let mtls = p.join("web/mtls");
    let current = std::fs::read_link(mtls.join("us-east-1")).unwrap();
    let k: u8 = current.to_str().unwrap().rsplit('@').next().unwrap().parse().unwrap();
    let spare = mtls.join(format!(".us-east-1@{}", (k + 1) % 3));
    let outside = r.tmp.path().join("outside.txt");
    std::fs::write(&outside, "keep me").unwrap();
    for f in ["cert.pem", "key.pem"] {
        std::fs::remove_file(spare.join(f)).unwrap();
        std::os::unix::fs::symlink(&outside, spare.join(f)).unwrap();
    }
    renew(&r, &[]);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me", "a write went through a planted link");
    for f in ["cert.pem", "key.pem"] {
        assert!(std::fs::symlink_metadata(mtls.join("us-east-1").join(f)).unwrap().file_type().is_file());
    }
    let (kp, cp) = key_and_leaf_public_keys(&mtls, "us-east-1");
    assert_eq!(kp, cp);
}

#[test]
fn intermediate_expiry_caps_the_leaf() {
    let mut r = mesh();
    // 1816 days after minting, the intermediate (1826 days) has 10 days left.
    r.now = Some("2031-11-12T12:00:00Z".into());
    renew(&r, &["--service", "api"]);
    let d = provider(&r).join("api/mtls/global");
    let (_, leaf) = openssl(&["x509", "-in", "cert.pem", "-noout", "-enddate"], &d);
    let int = field(&r.store_text(), &["pkis", "wardnet-mesh", "intermediates", "global", "cert"]);
    write(&d, "../int.pem", &int);
    let (_, i) = openssl(&["x509", "-in", "../int.pem", "-noout", "-enddate"], &d);
    assert_eq!(leaf, i, "leaf never outlives its intermediate");
}

// ---- the trust model, with real TLS ----

fn svids(r: &Repo) -> impl Fn(&str, &str) -> Svid + '_ {
    move |svc, scope| Svid::at(&provider(r), svc, scope)
}

#[test]
fn boundary_with_rustls() {
    let r = mesh();
    renew(&r, &[]);
    let s = svids(&r);
    let authz = |h: &crate::tls::Handshake| {
        let caller = inforge_core::mesh::SpiffeId::parse(&h.server_saw).unwrap();
        let callee = inforge_core::mesh::SpiffeId::parse(&h.client_saw).unwrap();
        inforge_core::mesh::authorize(&caller, &callee)
    };
    // intra-region, region→global, global→global: handshake and authorization pass.
    for (client, server) in [
        (s("worker", "us-east-1"), s("web", "us-east-1")),
        (s("web", "us-east-1"), s("api", "global")),
        (s("web", "eu-west-1"), s("billing", "global")),
        (s("api", "global"), s("billing", "global")),
    ] {
        let h = rustls_handshake(NOW, &client, &server)
            .unwrap_or_else(|e| panic!("{:?} → {:?}: {e}", client.dir, server.dir));
        authz(&h).unwrap();
    }
    // cross-region: the handshake itself fails.
    let e =
        rustls_handshake(NOW, &s("web", "us-east-1"), &s("web", "eu-west-1")).err().expect("cross-region must fail");
    assert!(format!("{e:?}").contains("Unknown") || format!("{e:?}").contains("Invalid"), "{e:?}");
    assert!(rustls_handshake(NOW, &s("web", "eu-west-1"), &s("worker", "us-east-1")).is_err());
    // global→region: the handshake passes (the region trusts global), authorization refuses.
    let h = rustls_handshake(NOW, &s("api", "global"), &s("web", "us-east-1")).expect("handshake passes");
    assert_eq!(h.server_saw, "spiffe://wardnet.example/prd/global/api");
    let denied = authz(&h).unwrap_err();
    assert!(denied.to_string().contains("global→region"), "{denied}");
}

#[test]
fn boundary_with_openssl() {
    let r = mesh();
    renew(&r, &[]);
    let s = svids(&r);
    for (client, server) in [
        (s("worker", "us-east-1"), s("web", "us-east-1")),
        (s("web", "us-east-1"), s("api", "global")),
        (s("api", "global"), s("billing", "global")),
        (s("api", "global"), s("web", "eu-west-1")), // global→region passes the handshake
    ] {
        let (ok, out) = openssl_handshake(NOW, &client, &server);
        assert!(ok, "{:?} → {:?} should handshake:\n{out}", client.dir, server.dir);
    }
    let (ok, out) = openssl_handshake(NOW, &s("web", "us-east-1"), &s("web", "eu-west-1"));
    assert!(!ok, "cross-region must fail the handshake:\n{out}");
}

// ---- renew bad input: clear error, exit 1, store and provider unchanged ----

fn renew_fails(r: &Repo, args: &[&str], env: &[(&str, &str)], code: &str, needle: &str) {
    let p = provider(r);
    let before = snapshot(&p);
    let mut full = vec!["pki", "renew", "prd"];
    full.extend_from_slice(args);
    r.fails_unchanged(&full, Some(env), code, needle);
    assert_eq!(snapshot(&p), before, "provider changed by a failed renew");
}

#[test]
fn renew_bad_input_unknown_service() {
    let r = mesh();
    renew_fails(&r, &["--service", "nope"], &[("INFORGE_SECRETS_KEY", &r.ci)], "service-unknown", "\"nope\"");
}

#[test]
fn renew_bad_input_service_without_pki() {
    let r = mesh();
    renew_fails(&r, &["--service", "cron"], &[("INFORGE_SECRETS_KEY", &r.ci)], "service-not-in-mesh", "\"cron\"");
}

#[test]
fn renew_bad_input_missing_provider_path() {
    let r = mesh();
    std::fs::remove_dir_all(provider(&r)).unwrap();
    r.fails_unchanged(
        &["pki", "renew", "prd"],
        Some(&[("INFORGE_SECRETS_KEY", &r.ci)]),
        "provider-missing",
        "provider-prd does not exist",
    );
    assert!(!provider(&r).exists(), "renew never creates the provider");
}

#[test]
fn renew_bad_input_corrupt_store() {
    let r = mesh();
    // Corrupt the intermediates' certificates (10-space indent: under intermediates.<scope>).
    let s = r
        .store_text()
        .replace("-----BEGIN CERTIFICATE-----\n          MII", "-----BEGIN CERTIFICATE-----\n          XXX");
    std::fs::write(r.store_path(), s).unwrap();
    renew_fails(&r, &[], &[("INFORGE_SECRETS_KEY", &r.ci)], "cert-invalid", "is not a valid PEM certificate");
}

#[test]
fn renew_bad_input_missing_and_wrong_ci_identity() {
    let r = mesh();
    renew_fails(&r, &[], &[], "identity-missing", "hint: set INFORGE_SECRETS_KEY to");
    let root = r.root.clone().unwrap();
    renew_fails(
        &r,
        &[],
        &[("INFORGE_SECRETS_KEY", &root)],
        "identity-wrong",
        "CI identity given is not the one of this store's recipient",
    );
}

#[test]
fn renew_bad_input_intermediate_key_does_not_match_its_certificate() {
    let r = mesh();
    let s = r.store_text();
    let a = field(&s, &["pkis", "wardnet-mesh", "intermediates", "us-east-1", "key"]);
    let b = field(&s, &["pkis", "wardnet-mesh", "intermediates", "global", "key"]);
    let indent = |t: &str| t.lines().map(|l| format!("          {l}\n")).collect::<String>();
    let swapped = s.replace(&indent(&a), "@A@").replace(&indent(&b), &indent(&a)).replace("@A@", &indent(&b));
    assert_ne!(swapped, s);
    std::fs::write(r.store_path(), &swapped).unwrap();
    renew_fails(&r, &[], &[("INFORGE_SECRETS_KEY", &r.ci)], "key-mismatch", "does not match its certificate");
}

// ---- validate: one test per finding ----

fn validate(r: &Repo) -> (i32, serde_json::Value) {
    let run = r.cmd(&["validate", "prd", "--json"], &[]);
    assert!(!run.stderr.contains("panicked"));
    (run.code, serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout)))
}

#[track_caller]
fn finds(r: &Repo, code: &str, subject: &str) {
    let (exit, doc) = validate(r);
    let hit = doc["diagnostics"].as_array().unwrap().iter().find(|d| d["code"] == code && d["subject"] == subject);
    let Some(d) = hit else { panic!("no {code} on {subject}:\n{doc:#}") };
    assert_eq!(d["severity"], "error");
    assert!(!d["message"].as_str().unwrap().is_empty() && !d["hint"].as_str().unwrap().is_empty());
    assert_eq!(exit, 1, "an error diagnostic fails validate");
}

fn edit_config(r: &Repo, from: &str, to: &str) {
    let p = r.dir.join("inforge.yaml");
    let s = std::fs::read_to_string(&p).unwrap();
    assert!(s.contains(from), "{from:?} not in inforge.yaml");
    std::fs::write(p, s.replacen(from, to, 1)).unwrap();
}

#[test]
fn validate_passes_on_the_example_and_needs_no_credentials() {
    let r = mesh();
    let (exit, doc) = validate(&r);
    assert_eq!(exit, 0, "{doc:#}");
    assert_eq!(doc["ok"], true);
    let text = r.cmd(&["validate", "prd"], &[]).ok().stdout;
    assert!(text.contains("0 error(s), 0 warning(s)"), "{text}");
}

#[test]
fn validate_catches_a_missing_pki() {
    let r = mesh();
    edit_config(&r, "  billing:\n    pki: wardnet-mesh", "  billing:\n    pki: wardnet-msh");
    finds(&r, "service-pki-missing", "services.billing");
}

#[test]
fn validate_catches_a_root_only_pki() {
    let r = mesh();
    edit_config(&r, "  billing:\n    pki: wardnet-mesh", "  billing:\n    pki: daemon-ca");
    finds(&r, "service-pki-root-only", "services.billing");
}

#[test]
fn validate_catches_a_scope_without_intermediate() {
    let mut r = Repo::new();
    r.now = Some(NOW.into());
    r.init();
    r.run(&["pki", "add", "prd", "wardnet-mesh", "--topology", "two-tier"]).ok();
    r.run(&["pki", "intermediate", "prd", "wardnet-mesh", "global"]).ok();
    r.run(&["pki", "intermediate", "prd", "wardnet-mesh", "us-east-1"]).ok();
    finds(&r, "service-scope-no-intermediate", "services.web");
    // renew refuses the same thing before decrypting anything.
    renew_fails(&r, &[], &[("INFORGE_SECRETS_KEY", &r.ci)], "service-scope-no-intermediate", "eu-west-1");
}

#[test]
fn validate_catches_a_region_not_in_regions_yaml() {
    let r = mesh();
    edit_config(&r, "regions: [us-east-1]", "regions: [us-east-1, ap-south-1]");
    finds(&r, "service-region-unknown", "services.worker");
}

#[test]
fn validate_catches_an_intermediate_that_does_not_verify_against_its_root() {
    let r = mesh();
    r.run(&["pki", "add", "prd", "other", "--topology", "two-tier"]).ok();
    r.run(&["pki", "intermediate", "prd", "other", "global"]).ok();
    let s = r.store_text();
    let mine = field(&s, &["pkis", "wardnet-mesh", "intermediates", "global", "cert"]);
    let theirs = field(&s, &["pkis", "other", "intermediates", "global", "cert"]);
    let indent = |t: &str| t.lines().map(|l| format!("          {l}\n")).collect::<String>();
    std::fs::write(r.store_path(), s.replacen(&indent(&mine), &indent(&theirs), 1)).unwrap();
    finds(&r, "intermediate-signature", "pkis.wardnet-mesh.intermediates.global");
}

#[test]
fn validate_catches_a_profile_violation() {
    let r = mesh();
    renew(&r, &["--service", "api"]);
    // Put a leaf (CA:false, digitalSignature) where the global intermediate belongs.
    let leaf = std::fs::read_to_string(provider(&r).join("api/mtls/global/cert.pem")).unwrap();
    let leaf = &leaf[..leaf.find("-----END CERTIFICATE-----").unwrap() + 26];
    let s = r.store_text();
    let int = field(&s, &["pkis", "wardnet-mesh", "intermediates", "global", "cert"]);
    let indent = |t: &str| t.lines().map(|l| format!("          {l}\n")).collect::<String>();
    std::fs::write(r.store_path(), s.replacen(&indent(&int), &indent(leaf), 1)).unwrap();
    finds(&r, "profile-violation", "pkis.wardnet-mesh.intermediates.global");
}

#[test]
fn validate_catches_an_intermediate_expiring_within_the_leaf_ttl() {
    let mut r = mesh();
    r.now = Some("2031-10-01T00:00:00Z".into());
    finds(&r, "intermediate-expiring", "pkis.wardnet-mesh.intermediates.eu-west-1");
}

#[test]
fn validate_catches_anything_already_expired() {
    let mut r = mesh();
    r.now = Some("2037-01-01T00:00:00Z".into());
    finds(&r, "cert-expired", "pkis.wardnet-mesh.root");
    finds(&r, "cert-expired", "pkis.wardnet-mesh.intermediates.global");
}

#[test]
fn validate_catches_a_root_expiring_before_its_intermediates() {
    let r = mesh();
    // Re-issue the root with OpenSSL: same key, same subject, but only 30 days of life. Every
    // intermediate still verifies; only the horizon is wrong.
    let s = r.store_text();
    let d = r.tmp.path();
    let key = age_decrypt(&r.root_file, &field(&s, &["pkis", "wardnet-mesh", "root", "key"]), d).unwrap();
    write(d, "rk.pem", &key);
    write(d, "old-root.pem", &field(&s, &["pkis", "wardnet-mesh", "root", "cert"]));
    let (_, subj) = openssl(&["x509", "-in", "old-root.pem", "-noout", "-subject", "-nameopt", "compat"], d);
    let subj = subj.trim().trim_start_matches("subject=").to_string();
    let (_, ski) = openssl(&["x509", "-in", "old-root.pem", "-noout", "-ext", "subjectKeyIdentifier"], d);
    let ski = ski.lines().nth(1).unwrap().trim().to_string();
    let (ok, out) = openssl(
        &[
            "req",
            "-x509",
            "-key",
            "rk.pem",
            "-days",
            "30",
            "-subj",
            &subj,
            "-utf8",
            "-out",
            "short-root.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE,pathlen:1",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-addext",
            &format!("subjectKeyIdentifier={ski}"),
        ],
        d,
    );
    assert!(ok, "{out}");
    let short = std::fs::read_to_string(d.join("short-root.pem")).unwrap();
    let root = field(&s, &["pkis", "wardnet-mesh", "root", "cert"]);
    let indent = |t: &str| t.lines().map(|l| format!("        {l}\n")).collect::<String>();
    std::fs::write(r.store_path(), s.replacen(&indent(&root), &indent(&short), 1)).unwrap();
    let (_, doc) = validate(&r);
    assert!(!doc["diagnostics"].as_array().unwrap().iter().any(|d| d["code"] == "intermediate-signature"), "{doc:#}");
    finds(&r, "root-expires-first", "pkis.wardnet-mesh.intermediates.global");
}

#[test]
fn validate_catches_names_that_break_the_spiffe_rules() {
    let r = mesh();
    edit_config(&r, "  cron: {}", "  \"cron job\": {}");
    let (exit, doc) = validate(&r);
    assert_eq!(exit, 1);
    let d = doc["diagnostics"].as_array().unwrap().iter().find(|d| d["code"] == "name-invalid").expect("name-invalid");
    assert!(d["message"].as_str().unwrap().contains("service name \"cron job\""), "{d}");
    edit_config(&r, "baseDomain: wardnet.example", "baseDomain: Wardnet.Example");
    let (_, doc) = validate(&r);
    assert!(doc["diagnostics"].as_array().unwrap().iter().any(|d| d["code"] == "trust-domain-invalid"));
}

#[test]
fn validate_emits_sarif_for_code_scanning() {
    let r = mesh();
    edit_config(&r, "  billing:\n    pki: wardnet-mesh", "  billing:\n    pki: wardnet-msh");
    let run = r.cmd(&["validate", "prd", "--format", "sarif"], &[]);
    assert_eq!(run.code, 1);
    let sarif: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let res = &sarif["runs"][0]["results"][0];
    assert_eq!(res["ruleId"], "service-pki-missing");
    assert_eq!(res["level"], "error");
    assert_eq!(res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "inforge.yaml");
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["name"], "inforge");
}

#[test]
fn renew_bad_input_expired_intermediate() {
    let mut r = mesh();
    r.now = Some("2032-01-01T00:00:00Z".into());
    renew_fails(
        &r,
        &[],
        &[("INFORGE_SECRETS_KEY", &r.ci)],
        "intermediate-not-valid",
        "is not valid at 2032-01-01T00:00:00Z",
    );
}

#[test]
fn dotted_scope_names_do_not_collide_in_the_provider() {
    let mut r = Repo::new();
    r.now = Some(NOW.into());
    std::fs::write(r.dir.join("regions.yaml"), "regions: [eu, eu.west]\n").unwrap();
    edit_config(&r, "    regions: [us-east-1]\n", "    regions: [eu]\n");
    r.init();
    r.run(&["pki", "add", "prd", "wardnet-mesh", "--topology", "two-tier"]).ok();
    for s in ["global", "eu", "eu.west"] {
        r.run(&["pki", "intermediate", "prd", "wardnet-mesh", s]).ok();
    }
    for _ in 0..3 {
        renew(&r, &[]);
    }
    for scope in ["eu", "eu.west"] {
        let d = provider(&r).join("web/mtls").join(scope);
        let (ok, out) = openssl(
            &[
                "verify",
                "-attime",
                &crate::tls::epoch(NOW).to_string(),
                "-partial_chain",
                "-CAfile",
                "bundle.pem",
                "cert.pem",
            ],
            &d,
        );
        assert!(ok, "{scope}: {out}");
    }
}
