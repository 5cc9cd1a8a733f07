//! Hardening: forged or misplaced tiers, custody, concurrent writers, bounded numbers and
//! time, bad files. Each attack is refused with a clear error, exit 1, and the store and the
//! provider byte-identical; the forged material is made with openssl and sealed with the
//! `age` CLI (anyone can encrypt to a recipient).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::*;

const NOW: &str = "2026-11-22T12:00:00Z";

fn mesh() -> Repo {
    Repo::initialized_at(Some(NOW))
}

fn provider(r: &Repo) -> PathBuf {
    r.tmp.path().join("provider-prd")
}

fn ci(r: &Repo) -> [(&'static str, &str); 1] {
    [("INFORGE_SECRETS_KEY", r.ci.as_str())]
}

/// Rewrites the store through a generic YAML tree (JSON is YAML), as an attacker with
/// write access to the repo would.
fn edit_store(r: &Repo, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_saphyr::from_str(&r.store_text()).unwrap();
    f(&mut v);
    std::fs::write(r.store_path(), serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn validate_codes(r: &Repo) -> Vec<String> {
    let run = r.cmd(&["validate", "prd", "--json"], &[]);
    let v: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("validate --json: {}", run.stderr));
    v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

/// renew refuses: exit 1, the code, provider unchanged; validate reports the same code.
#[track_caller]
fn renew_refuses(r: &Repo, code: &str) {
    let p = provider(r);
    let before = snapshot(&p);
    r.fails_unchanged(&["pki", "renew", "prd"], Some(&ci(r)), code, "");
    assert_eq!(snapshot(&p), before, "provider changed by a refused renew");
    let codes = validate_codes(r);
    assert!(codes.iter().any(|c| c == code), "validate does not report {code}: {codes:?}");
}

/// An openssl-made CA (not from our root) with its key sealed to `recipient` by the age CLI.
fn forged_ca(r: &Repo, cn: &str) -> (String, String) {
    let d = r.tmp.path();
    let (ok, out) = openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "evil.key",
            "-out",
            "evil.pem",
            "-days",
            "365",
            "-subj",
            &format!("/O=inforge/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        d,
    );
    assert!(ok, "{out}");
    let sealed = tool("age").args(["-a", "-r", &r.ci_recipient]).arg(d.join("evil.key")).output().unwrap();
    assert!(sealed.status.success());
    (std::fs::read_to_string(d.join("evil.pem")).unwrap(), String::from_utf8(sealed.stdout).unwrap())
}

#[test]
fn renew_refuses_an_intermediate_not_signed_by_the_root() {
    let r = mesh();
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    let cn = {
        let v: Value = serde_saphyr::from_str(&r.store_text()).unwrap();
        let pem = v["pkis"]["wardnet-mesh"]["intermediates"]["global"]["cert"].as_str().unwrap().to_string();
        let f = write(r.tmp.path(), "g.pem", &pem);
        let (_, subj) =
            openssl(&["x509", "-in", f.to_str().unwrap(), "-noout", "-subject", "-nameopt", "multiline"], r.tmp.path());
        subj.lines().find(|l| l.contains("commonName")).unwrap().split(" = ").nth(1).unwrap().trim().to_string()
    };
    let (cert, key) = forged_ca(&r, &cn);
    edit_store(&r, |v| {
        v["pkis"]["wardnet-mesh"]["intermediates"]["global"] = serde_json::json!({"cert": cert, "key": key});
    });
    renew_refuses(&r, "intermediate-signature");
    r.fails_unchanged(
        &["pki", "bundle", "prd", "wardnet-mesh", "--scope", "us-east-1"],
        Some(&[]),
        "intermediate-signature",
        "",
    );
}

#[test]
fn renew_refuses_the_root_in_an_intermediate_slot() {
    let r = mesh();
    edit_store(&r, |v| {
        let root = v["pkis"]["wardnet-mesh"]["root"].clone();
        v["pkis"]["wardnet-mesh"]["intermediates"]["us-east-1"] = root;
    });
    renew_refuses(&r, "intermediate-signature");
}

#[test]
fn renew_refuses_swapped_scopes() {
    let r = mesh();
    edit_store(&r, |v| {
        let ints = &mut v["pkis"]["wardnet-mesh"]["intermediates"];
        let g = ints["global"].clone();
        ints["global"] = ints["us-east-1"].clone();
        ints["us-east-1"] = g;
    });
    renew_refuses(&r, "intermediate-scope-mismatch");
}

#[test]
fn a_root_never_enters_a_scope_bundle() {
    let r = mesh();
    edit_store(&r, |v| {
        let root = v["pkis"]["wardnet-mesh"]["root"]["cert"].clone();
        v["pkis"]["wardnet-mesh"]["previousIntermediates"] = serde_json::json!({"us-east-1": [root]});
    });
    renew_refuses(&r, "profile-violation");
    r.fails_unchanged(
        &["pki", "bundle", "prd", "wardnet-mesh", "--scope", "us-east-1"],
        Some(&[]),
        "profile-violation",
        "",
    );
}

#[test]
fn renew_refuses_a_tier_of_another_pki() {
    let r = mesh();
    r.run(&["pki", "add", "prd", "other", "--topology", "two-tier"]).ok();
    r.run(&["pki", "intermediate", "prd", "other", "global"]).ok();
    edit_store(&r, |v| {
        let theirs = v["pkis"]["other"]["intermediates"]["global"].clone();
        v["pkis"]["wardnet-mesh"]["intermediates"]["global"] = theirs;
    });
    renew_refuses(&r, "intermediate-signature");
}

#[test]
fn recipients_compare_canonically() {
    let r = mesh();
    // An upper-cased rootRecipient equal to recipient: the cold root would be sealed to CI.
    edit_store(&r, |v| {
        let upper = v["recipient"].as_str().unwrap().to_ascii_uppercase();
        v["rootRecipient"] = Value::String(upper);
    });
    let before = r.store();
    let run = r.cmd(&["pki", "add", "prd", "m2", "--topology", "two-tier"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("error[store-invalid]") || run.stderr.contains("error[custodians-same]"),
        "{}",
        run.stderr
    );
    assert_eq!(r.store(), before);
    let v = r.cmd(&["validate", "prd"], &[]);
    assert_eq!(v.code, 1, "validate must fail: {}", v.stdout);
}

#[test]
fn numbers_and_times_are_bounded_never_a_panic() {
    let r = mesh();
    r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--root", "--min-overlap-days", "4294967295"],
        None,
        "number-out-of-range",
        "4294967295",
    );
    // The same number planted in the store: ls, validate and finalize say so, never panic.
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--root"]).ok();
    edit_store(&r, |v| v["pkis"]["wardnet-mesh"]["rootOverlapMinDays"] = Value::from(4294967295u64));
    for args in
        [vec!["pki", "ls", "prd"], vec!["pki", "rotate", "prd", "wardnet-mesh", "--root", "--finalize", "--force"]]
    {
        let run = r.run(&args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(run.stderr.contains("error["), "{}", run.stderr);
    }
    let v = r.cmd(&["validate", "prd"], &[]);
    assert!(!v.stderr.contains("panicked") && v.code == 1, "{}{}", v.stdout, v.stderr);

    // INFORGE_NOW outside what certificates can express: time-invalid, nothing written.
    let r = mesh();
    for now in ["9995-06-01T00:00:00Z", "0000-01-01T00:00:00Z", "1970-01-01T00:00:00Z"] {
        let mut env = vec![("INFORGE_NOW", now)];
        if let Some(root) = &r.root {
            env.push(("INFORGE_PKI_ROOT_KEY", root));
        }
        env.push(("INFORGE_SECRETS_KEY", &r.ci));
        for args in [
            vec!["pki", "add", "prd", "late", "--topology", "two-tier"],
            vec!["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "global"],
            vec!["pki", "renew", "prd"],
        ] {
            let before = r.store();
            let run = Repo::cmd(&r, &args, &env);
            assert_eq!(run.code, 1, "{now} {args:?}: {}", run.stderr);
            assert!(run.stderr.contains("error[time-invalid]"), "{now} {args:?}: {}", run.stderr);
            assert!(!run.stderr.contains("restore pki.enc.yaml"), "blames the store: {}", run.stderr);
            assert_eq!(r.store(), before);
        }
    }
}

#[test]
fn validate_refuses_what_renew_cannot_write() {
    let r = mesh();
    let cfg = std::fs::read_to_string(r.dir.join("inforge.yaml")).unwrap();
    std::fs::write(r.dir.join("inforge.yaml"), cfg.replace("regions: [us-east-1]", "regions: [us-east-1, us-east-1]"))
        .unwrap();
    renew_refuses(&r, "service-region-duplicate");
}

/// The same fault gives the same code from renew (its first problem) and validate (all).
#[test]
fn renew_and_validate_report_the_same_code_for_the_same_fault() {
    let cases: [(&str, &str, &str); 5] = [
        (
            "pki: wardnet-mesh\n    scope: global\n    reload",
            "pki: nope\n    scope: global\n    reload",
            "service-pki-missing",
        ),
        (
            "pki: wardnet-mesh\n    scope: global\n    reload",
            "pki: daemon-ca\n    scope: global\n    reload",
            "service-pki-root-only",
        ),
        ("regions: [us-east-1]", "regions: [mars-1]", "service-region-unknown"),
        (
            "  billing:\n    pki: wardnet-mesh\n    scope: global\n",
            "  billing:\n    pki: wardnet-mesh\n",
            "service-scope-missing",
        ),
        ("regions: [us-east-1]", "regions: []", "service-no-regions"),
    ];
    for (from, to, code) in cases {
        let r = mesh();
        let cfg = std::fs::read_to_string(r.dir.join("inforge.yaml")).unwrap();
        assert!(cfg.contains(from), "{from}");
        std::fs::write(r.dir.join("inforge.yaml"), cfg.replacen(from, to, 1)).unwrap();
        let renew = r.cmd(&["pki", "renew", "prd"], &ci(&r));
        assert!(renew.stderr.contains(&format!("error[{code}]")), "renew for {code}: {}", renew.stderr);
        assert!(validate_codes(&r).contains(&code.to_string()), "validate for {code}");
    }
    // A scope without an intermediate.
    let r = Repo::initialized_at(Some(NOW));
    let mut r2 = Repo::new();
    r2.now = Some(NOW.into());
    r2.init();
    r2.run(&["pki", "add", "prd", "wardnet-mesh", "--topology", "two-tier"]).ok();
    r2.run(&["pki", "intermediate", "prd", "wardnet-mesh", "global"]).ok();
    let renew = r2.cmd(&["pki", "renew", "prd"], &ci(&r2));
    assert!(renew.stderr.contains("error[service-scope-no-intermediate]"), "{}", renew.stderr);
    assert!(validate_codes(&r2).contains(&"service-scope-no-intermediate".to_string()));
    drop(r);
}

#[test]
fn concurrent_renews_never_break_the_provider() {
    let r = mesh();
    let p = provider(&r);
    for _round in 0..5 {
        let children: Vec<_> = (0..3)
            .map(|_| {
                let mut c = std::process::Command::new(BIN);
                c.arg("-C").arg(&r.dir).args(["pki", "renew", "prd"]);
                c.env_remove("INFORGE_PKI_ROOT_KEY").env("INFORGE_SECRETS_KEY", &r.ci).env("INFORGE_NOW", NOW);
                c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
                c.spawn().unwrap()
            })
            .collect();
        for ch in children {
            let out = ch.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        for (svc, scope) in [("api", "global"), ("web", "us-east-1"), ("web", "eu-west-1"), ("worker", "us-east-1")] {
            let link = p.join(svc).join("mtls").join(scope);
            for f in ["cert.pem", "key.pem", "bundle.pem"] {
                assert!(link.join(f).is_file(), "{svc}/{scope}/{f} dangles after concurrent renews");
            }
            // The set is consistent: the key matches the leaf.
            let (_, a) = openssl(&["x509", "-in", link.join("cert.pem").to_str().unwrap(), "-noout", "-pubkey"], &p);
            let (_, b) = openssl(&["pkey", "-in", link.join("key.pem").to_str().unwrap(), "-pubout"], &p);
            assert_eq!(a, b, "{svc}/{scope}: key does not match leaf");
        }
    }
}

#[test]
fn concurrent_rotations_lose_nothing() {
    let r = mesh();
    let children: Vec<_> = ["global", "us-east-1", "eu-west-1"]
        .iter()
        .map(|scope| {
            let mut c = std::process::Command::new(BIN);
            c.arg("-C").arg(&r.dir).args(["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", scope]);
            c.env("INFORGE_PKI_ROOT_KEY", r.root.as_ref().unwrap()).env_remove("INFORGE_SECRETS_KEY");
            c.env("INFORGE_NOW", NOW).stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for ch in children {
        let out = ch.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let v: Value = serde_saphyr::from_str(&r.store_text()).unwrap();
    for scope in ["global", "us-east-1", "eu-west-1"] {
        let prev = v["pkis"]["wardnet-mesh"]["previousIntermediates"][scope].as_array();
        assert_eq!(prev.map(Vec::len), Some(1), "the {scope} rotation was lost");
    }
}

#[test]
fn bad_files_get_clear_errors() {
    let r = mesh();
    // A store that is a symlink is written through, the link kept.
    let real = r.tmp.path().join("real-store.yaml");
    std::fs::rename(r.store_path(), &real).unwrap();
    std::os::unix::fs::symlink(&real, r.store_path()).unwrap();
    r.run(&["pki", "add", "prd", "via-link", "--topology", "root-only"]).ok();
    assert!(std::fs::symlink_metadata(r.store_path()).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(&real).unwrap().contains("via-link"));
    // /dev/zero as the store: bounded read, clear error.
    std::fs::remove_file(r.store_path()).unwrap();
    std::os::unix::fs::symlink("/dev/zero", r.store_path()).unwrap();
    r.cmd(&["pki", "ls", "prd"], &[]).fails("file-too-large", "larger than");
    // A non-UTF-8 store.
    std::fs::remove_file(r.store_path()).unwrap();
    std::fs::write(r.store_path(), b"\xff\xfe not yaml").unwrap();
    r.cmd(&["pki", "ls", "prd"], &[]).fails("file-not-utf8", "not UTF-8");
    // A provider path that is a file.
    let r = mesh();
    std::fs::remove_dir_all(provider(&r)).unwrap();
    std::fs::write(provider(&r), "").unwrap();
    r.fails_unchanged(&["pki", "renew", "prd"], Some(&ci(&r)), "provider-not-dir", "not a directory");
}

#[test]
fn identities_come_from_a_variable_or_a_file_never_both() {
    let r = mesh();
    let file = r.ci_file.to_str().unwrap();
    r.cmd(&["pki", "renew", "prd"], &[("INFORGE_SECRETS_KEY_FILE", file)]).ok();
    r.fails_unchanged(
        &["pki", "renew", "prd"],
        Some(&[("INFORGE_SECRETS_KEY_FILE", file), ("INFORGE_SECRETS_KEY", &r.ci)]),
        "identity-ambiguous",
        "INFORGE_SECRETS_KEY_FILE",
    );
    // renew never reads the root identity: a poisoned one changes nothing.
    r.cmd(&["pki", "renew", "prd"], &[("INFORGE_SECRETS_KEY", &r.ci), ("INFORGE_PKI_ROOT_KEY", "poison")]).ok();
    r.cmd(&["pki", "renew", "prd"], &[("INFORGE_SECRETS_KEY", &r.ci), ("INFORGE_PKI_ROOT_KEY_FILE", "/nonexistent")])
        .ok();
}

#[test]
fn the_offline_ceremony_refuses_a_tampered_ci_recipient() {
    let r = mesh();
    let other = Repo::new();
    edit_store(&r, |v| v["recipient"] = Value::String(other.ci_recipient.clone()));
    for args in [
        vec!["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "global"],
        vec!["pki", "add", "prd", "m2", "--topology", "root-only"],
        vec!["pki", "rotate", "prd", "daemon-ca", "--root"],
    ] {
        r.fails_unchanged(&args, None, "recipient-mismatch", &other.ci_recipient);
    }
    assert!(validate_codes(&r).contains(&"recipient-mismatch".to_string()), "validate reads the secret store too");
}

/// Every provider set resolves and its key matches its leaf (checked with openssl).
fn provider_sets_whole(p: &Path) {
    for (svc, scope) in
        [("api", "global"), ("billing", "global"), ("web", "us-east-1"), ("web", "eu-west-1"), ("worker", "us-east-1")]
    {
        let link = p.join(svc).join("mtls").join(scope);
        let (_, a) = openssl(&["x509", "-in", link.join("cert.pem").to_str().unwrap(), "-noout", "-pubkey"], p);
        let (_, b) = openssl(&["pkey", "-in", link.join("key.pem").to_str().unwrap(), "-pubout"], p);
        assert!(!a.is_empty() && a == b, "{svc}/{scope}: set is torn");
        assert!(link.join("bundle.pem").is_file());
    }
}

/// Hardening L8: the slot layout survives what a writer of the provider directory can plant.
/// A regular file at a standby link's name is cleared (renews of the scope never get stuck
/// on it), and a scope link spelled `.global@0/` (the live slot, another spelling) is
/// recognised, so renew never rewrites the live generation in place under its readers.
#[test]
fn odd_entries_in_the_slot_layout_neither_block_renew_nor_rewrite_the_live_generation() {
    let r = mesh();
    let p = provider(&r);
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    let mtls = p.join("api").join("mtls");
    assert_eq!(std::fs::read_link(mtls.join("global")).unwrap(), Path::new(".global@0"));
    // A regular file where the next slot's standby link goes.
    std::fs::write(mtls.join(".global@link-1"), "planted").unwrap();
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    assert_eq!(std::fs::read_link(mtls.join("global")).unwrap(), Path::new(".global@1"));
    // The live link re-spelled with a trailing slash: the next renew must treat slot 1 as
    // live and leave its files as they are.
    std::fs::remove_file(mtls.join("global")).unwrap();
    std::os::unix::fs::symlink(".global@1/", mtls.join("global")).unwrap();
    let live = std::fs::read(mtls.join(".global@1/cert.pem")).unwrap();
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    assert_eq!(
        std::fs::read(mtls.join(".global@1/cert.pem")).unwrap(),
        live,
        "the live generation was rewritten in place"
    );
    assert_eq!(std::fs::read_link(mtls.join("global")).unwrap(), Path::new(".global@2"));
    provider_sets_whole(&p);
}

/// Hardening L10: with stdout on a full disk, renew still writes the provider, then fails
/// saying the renew itself succeeded, so nobody re-runs it (or a recovery) believing it failed.
#[test]
fn a_renew_whose_report_cannot_be_printed_says_the_renew_succeeded() {
    let r = mesh();
    let p = provider(&r);
    let mut c = std::process::Command::new(BIN);
    c.arg("-C").arg(&r.dir).args(["pki", "renew", "prd"]).env("INFORGE_NOW", NOW);
    c.env_remove("INFORGE_PKI_ROOT_KEY").env("INFORGE_SECRETS_KEY", &r.ci);
    c.stdout(std::fs::File::options().write(true).open("/dev/full").unwrap());
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the renew itself succeeded: 5 leaves were written"), "{err}");
    provider_sets_whole(&p);
}

/// The reader never sees a torn set (hardening round 2, "Also build" 3): a host-like reader
/// fetches and verifies every set in a loop while renews, an intermediate roll with its
/// bundle refresh, and a compromise recovery rewrite the `dir` provider.
#[test]
fn a_reader_never_sees_a_torn_set_while_renews_rotations_and_recoveries_run() {
    let r = mesh();
    let p = provider(&r);
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    let now = inforge_core::model::time::parse_rfc3339("now", NOW).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let dir = inforge_host::provider::DirProvider { root: p.clone() };
    let reader = torn_set_reader(Box::new(dir), now, stop.clone());
    for _ in 0..3 {
        r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    }
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "us-east-1"]).ok();
    r.cmd(&["pki", "renew", "prd", "--bundles-only"], &[]).ok();
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    r.run(&["pki", "recover-intermediate", "prd", "wardnet-mesh", "eu-west-1"]).ok();
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, torn) = reader.join().unwrap();
    assert!(torn.is_empty(), "{} of {reads} reads were torn: {:?}", torn.len(), &torn[..torn.len().min(5)]);
    assert!(reads >= 20, "the reader ran only {reads} reads");
    eprintln!("torn-set reader (dir): {reads} reads, 0 torn");
}

/// A first write that fails part-way (here: a regular file where one service's directory
/// goes) leaves the provider as it was: the sets staged before the failure go, and so do the
/// directories and standby links the write made for them.
#[test]
fn a_failed_first_write_leaves_the_provider_as_it_was() {
    let r = mesh();
    let p = provider(&r);
    std::fs::write(p.join("worker"), "not a directory").unwrap();
    let entries = || {
        let mut names: Vec<String> =
            std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    let (before, names) = (snapshot(&p), entries());
    let run = r.cmd(&["pki", "renew", "prd"], &ci(&r));
    assert_ne!(run.code, 0, "renew wrote through a file at a service's directory");
    assert!(run.stderr.contains("worker"), "the error does not name the obstacle: {}", run.stderr);
    assert_eq!(snapshot(&p), before, "the provider's files changed");
    assert_eq!(entries(), names, "a failed first write left directories behind");
    // Once the obstacle is gone, the same renew writes every set.
    std::fs::remove_file(p.join("worker")).unwrap();
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    provider_sets_whole(&p);
    // A later write that fails: the standby link it made for the next slot (a scope's second
    // write makes `.<scope>@link-1`) goes again with the slot it staged.
    assert!(std::fs::symlink_metadata(p.join("api/mtls/.global@link-1")).is_err());
    std::fs::rename(p.join("worker"), r.tmp.path().join("worker-aside")).unwrap();
    std::fs::write(p.join("worker"), "not a directory").unwrap();
    let before = snapshot(&p);
    assert_ne!(r.cmd(&["pki", "renew", "prd"], &ci(&r)).code, 0);
    assert_eq!(snapshot(&p), before, "a failed write changed the provider");
    assert!(
        std::fs::symlink_metadata(p.join("api/mtls/.global@link-1")).is_err(),
        "the standby link the failed write made is still there"
    );
}

/// A crash (the fault hook aborts the process) at each point of a provider write leaves every
/// set old or new, never torn, and nothing that breaks the next run.
#[test]
fn a_crash_at_any_provider_step_leaves_every_set_whole() {
    let r = mesh();
    let p = provider(&r);
    // The first write into an empty provider (every `<service>/mtls` made by the write itself,
    // which then skips looking for and tidying old entries) killed midway: the next write
    // finds its leftovers as an ordinary write would, and leaves one slot, linked.
    let mut env = ci(&r).to_vec();
    env.push(("INFORGE_TEST_FAULT", "provider-mid-files"));
    assert_ne!(r.cmd(&["pki", "renew", "prd"], &env).code, 0, "the fault hook did not fire on the first write");
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    let mut names: Vec<String> = std::fs::read_dir(p.join("web/mtls"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".us-east-1@") || n == "us-east-1")
        .collect();
    names.sort();
    assert_eq!(names, [".us-east-1@0", "us-east-1"], "a first write killed midway left stale entries");
    provider_sets_whole(&p);
    for point in ["provider-mid-files", "provider-before-swap", "provider-mid-swap", "provider-mid-exchange"] {
        let mut env = ci(&r).to_vec();
        env.push(("INFORGE_TEST_FAULT", point));
        let run = r.cmd(&["pki", "renew", "prd"], &env);
        assert_ne!(run.code, 0, "{point}: the fault hook did not fire");
        provider_sets_whole(&p);
        r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
        provider_sets_whole(&p);
    }
    // After a good run, a scope holds its three slots and the two standby links, each link
    // named for the slot it points at: nothing a killed run left is stale or mislabelled.
    for _ in 0..3 {
        r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
        let mut names: Vec<String> = std::fs::read_dir(p.join("web/mtls"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".us-east-1@"))
            .collect();
        names.sort();
        let current = std::fs::read_link(p.join("web/mtls/us-east-1")).unwrap();
        let current = current.to_str().unwrap().strip_prefix(".us-east-1@").unwrap().to_string();
        let mut want = vec![".us-east-1@0".to_string(), ".us-east-1@1".into(), ".us-east-1@2".into()];
        want.extend(["0", "1", "2"].iter().filter(|k| **k != current).map(|k| format!(".us-east-1@link-{k}")));
        want.sort();
        assert_eq!(names, want, "stale or missing staging entries");
        for k in ["0", "1", "2"].iter().filter(|k| **k != current) {
            let t = std::fs::read_link(p.join(format!("web/mtls/.us-east-1@link-{k}"))).unwrap();
            assert_eq!(t, std::path::Path::new(&format!(".us-east-1@{k}")), "standby link mislabelled");
        }
    }
}

#[test]
fn a_crash_during_a_store_write_leaves_the_old_store_and_no_trap() {
    let r = mesh();
    let before = r.store();
    let mut env = vec![("INFORGE_TEST_FAULT", "store-before-rename")];
    env.push(("INFORGE_PKI_ROOT_KEY", r.root.as_deref().unwrap()));
    let run = r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "global"], &env);
    assert_ne!(run.code, 0);
    assert_eq!(r.store(), before, "the store is torn or new after a crash before the rename");
    let temps = || {
        std::fs::read_dir(r.dir.join("resources/prd"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".tmp-"))
            .count()
    };
    assert_eq!(temps(), 1, "the killed writer's temp file is expected to remain until the next write");
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "global"]).ok();
    assert_eq!(temps(), 0, "the next writer removes stale temp files");
    assert_ne!(r.store(), before);
}

/// One identity per operation: recovery runs on the offline workstation with the root identity
/// alone, re-mints the scope from the fresh key in memory, and refreshes the other bundles.
#[test]
fn recovery_needs_only_the_offline_identity() {
    let r = mesh();
    let p = provider(&r);
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    let api_before = std::fs::read(p.join("api/mtls/global/cert.pem")).unwrap();
    let bundle_before = std::fs::read(p.join("api/mtls/global/bundle.pem")).unwrap();
    let web_before = std::fs::read(p.join("web/mtls/us-east-1/cert.pem")).unwrap();
    let root = r.root.clone().unwrap();
    r.cmd(&["pki", "recover-intermediate", "prd", "wardnet-mesh", "us-east-1"], &[("INFORGE_PKI_ROOT_KEY", &root)])
        .ok();
    provider_sets_whole(&p);
    assert_ne!(std::fs::read(p.join("web/mtls/us-east-1/cert.pem")).unwrap(), web_before, "scope re-minted");
    assert_eq!(std::fs::read(p.join("api/mtls/global/cert.pem")).unwrap(), api_before, "global leaf kept");
    assert_ne!(std::fs::read(p.join("api/mtls/global/bundle.pem")).unwrap(), bundle_before, "global bundle refreshed");
    // The new us-east-1 leaf verifies against the refreshed global bundle (openssl).
    let at = crate::tls::epoch(NOW).to_string();
    let (ok, out) = openssl(
        &[
            "verify",
            "-attime",
            &at,
            "-partial_chain",
            "-CAfile",
            "api/mtls/global/bundle.pem",
            "-untrusted",
            "web/mtls/us-east-1/cert.pem",
            "web/mtls/us-east-1/cert.pem",
        ],
        &p,
    );
    assert!(ok, "{out}");
    // A provider this workstation cannot reach: the store is written, CI is told to renew.
    let r = mesh();
    std::fs::remove_dir_all(provider(&r)).unwrap();
    let before = r.store();
    let run = r.cmd(
        &["pki", "recover-intermediate", "prd", "wardnet-mesh", "global"],
        &[("INFORGE_PKI_ROOT_KEY", r.root.as_deref().unwrap())],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("inforge pki renew prd` in CI now"), "{}", run.stderr);
    assert_ne!(r.store(), before, "the recovery itself is committed to the store");
}

/// A second writer waits a bounded time for the first, then fails with `busy`, changing
/// nothing. The first writer is simulated by util-linux `flock` holding the same lock.
#[test]
fn a_writer_that_cannot_get_the_lock_fails_busy_and_changes_nothing() {
    let r = mesh();
    let p = provider(&r);
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    for (dir, args, env) in [
        (r.dir.join("resources/prd"), vec!["pki", "add", "prd", "m2", "--topology", "two-tier"], vec![]),
        (p.clone(), vec!["pki", "renew", "prd"], vec![("INFORGE_SECRETS_KEY", r.ci.as_str())]),
    ] {
        let mut holder = tool("flock").arg("-o").arg(&dir).args(["sleep", "5"]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let before = (r.store(), snapshot(&p));
        let mut env = env;
        env.push(("INFORGE_LOCK_WAIT", "1"));
        r.cmd(&args, &env).fails("busy", "another inforge command is writing");
        assert!((r.store(), snapshot(&p)) == before, "{args:?} changed something while refused");
        holder.kill().unwrap();
        holder.wait().unwrap();
        r.cmd(&args, &env).ok();
    }
}

// ---- A root writer in a directory another user can write (hardening issue H3, H4, M4) ----

/// `inforge` killed after `secs` (a FIFO must never block it): exit 137 is the kill.
fn run_bounded(r: &Repo, args: &[&str], env: &[(&str, &str)], secs: u32) -> Run {
    let mut c = std::process::Command::new(tool_path("timeout"));
    c.args(["-s", "KILL", &secs.to_string()]).arg(BIN).arg("-C").arg(&r.dir).args(args);
    c.env_remove("INFORGE_SECRETS_KEY").env_remove("INFORGE_PKI_ROOT_KEY").env("INFORGE_NOW", NOW);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let run = Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert!(run.code != 137 && run.code != -1, "{args:?} blocked for {secs} s and was killed\n{}", run.stderr);
    run
}

fn tool_path(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not installed"))
}

/// Every regular file under `dir` (links not followed): (path, mode, uid, bytes).
fn regular_files(dir: &Path) -> Vec<(PathBuf, u32, u32, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            out.extend(regular_files(&p));
        } else if m.is_file() {
            out.push((p.clone(), m.mode() & 0o7777, m.uid(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// H3: `nobody`, able to write the current slot, replaces `cert.pem` by a link to the CI
/// identity file (0600). `renew --bundles-only` (run by root, credential-free) used to copy
/// it into the next generation's 0644 `cert.pem`; now the link is refused with a clear error
/// and nothing changes. A regular file that is not what its name says is refused too.
#[test]
fn a_planted_link_in_the_current_slot_is_refused_never_copied() {
    let r = mesh();
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    let p = provider(&r);
    let slot = p.join("api/mtls/global").canonicalize().unwrap();
    hand_to_nobody(r.tmp.path(), &slot);
    let cert = slot.join("cert.pem");
    as_nobody(&format!("rm -f {c} && ln -s {id} {c}", c = cert.display(), id = r.ci_file.display())).ok();
    let before = snapshot(&p);
    let run = r.cmd(&["pki", "renew", "prd", "--bundles-only"], &[]).fails("io", "symbolic link");
    assert!(run.stderr.contains("remove it"), "the error says how to fix it:\n{}", run.stderr);
    assert_eq!(snapshot(&p), before, "a refused refresh changes nothing");
    let files = regular_files(&p);
    let leaked = files.iter().find(|f| String::from_utf8_lossy(&f.3).contains("AGE-SECRET-KEY"));
    assert!(
        leaked.is_none(),
        "the CI identity was copied into {}",
        leaked.map(|f| f.0.display().to_string()).unwrap_or_default()
    );
    // A regular file that is not PEM certificates (or a key that is not a PKCS#8 key) is not
    // carried into the next generation either.
    as_nobody(&format!("rm -f {c} && echo not-a-certificate > {c}", c = cert.display())).ok();
    let before = snapshot(&p);
    r.cmd(&["pki", "renew", "prd", "--bundles-only"], &[]).fails("io", "not PEM certificates");
    assert_eq!(snapshot(&p), before);
}

/// H4: a slot made group-writable (here 0777) lets `nobody` put its own 0600, single-link
/// `key.pem` in the spare slot. The next renew used to write the new key into that file in
/// place, so `nobody` read it; now a file not owned by the writer is unlinked and created
/// fresh (root-owned, 0600). Slot and set directories are 0755 even under umask 002.
#[test]
fn a_key_file_owned_by_another_user_is_replaced_never_written_into() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let r = mesh();
    let p = provider(&r);
    // Two renews under umask 002 (slots 0 and 1 made then), one more as usual: current 2.
    for umask in ["002", "002", "022"] {
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &format!("umask {umask} && exec \"$0\" \"$@\""), BIN, "-C"])
            .arg(&r.dir)
            .args(["pki", "renew", "prd"])
            .env_remove("INFORGE_PKI_ROOT_KEY")
            .env("INFORGE_SECRETS_KEY", &r.ci)
            .env("INFORGE_NOW", NOW)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let spare = p.join("api/mtls/.global@0");
    assert!(std::fs::read_link(p.join("api/mtls/global")).unwrap().ends_with(".global@2"));
    std::fs::set_permissions(&spare, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(r.tmp.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let key = spare.join("key.pem");
    as_nobody(&format!("rm -f {k} && touch {k} && chmod 600 {k}", k = key.display())).ok();
    assert_eq!(std::fs::metadata(&key).unwrap().uid(), 65534);
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    assert!(std::fs::read_link(p.join("api/mtls/global")).unwrap().ends_with(".global@0"));
    let m = std::fs::symlink_metadata(&key).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o777), (0, 0o600), "key.pem is root's, 0600");
    assert!(std::fs::read_to_string(&key).unwrap().contains("PRIVATE KEY"));
    let stolen = as_nobody(&format!("cat {}", key.display()));
    assert!(stolen.code != 0 && !stolen.stdout.contains("PRIVATE KEY"), "nobody read the new key");
    // The directories made under umask 002, and the slot left 0777, are 0755.
    for d in [p.join("api"), p.join("api/mtls"), p.join("api/mtls/.global@0"), p.join("api/mtls/.global@1")] {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "{} is {mode:o}", d.display());
    }
}

/// M4: a FIFO as `cert.pem` in the spare slot used to block renew forever, holding the
/// provider lock; now it is replaced by a regular file. A FIFO as `key.pem` in the current
/// slot (a read) is refused at once with a clear error.
#[test]
fn a_fifo_in_a_slot_never_blocks_renew() {
    let r = mesh();
    let p = provider(&r);
    for _ in 0..3 {
        r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    }
    let spare = p.join("api/mtls/.global@0");
    std::fs::remove_file(spare.join("cert.pem")).unwrap();
    assert!(tool("mkfifo").arg(spare.join("cert.pem")).status().unwrap().success());
    run_bounded(&r, &["pki", "renew", "prd"], &ci(&r), 10).ok();
    let m = std::fs::symlink_metadata(spare.join("cert.pem")).unwrap();
    assert!(m.is_file(), "cert.pem is a regular file again");
    let current = p.join("api/mtls/global").canonicalize().unwrap();
    assert_eq!(current, spare);
    std::fs::remove_file(current.join("key.pem")).unwrap();
    assert!(tool("mkfifo").arg(current.join("key.pem")).status().unwrap().success());
    let before = snapshot_no_fifo(&p);
    run_bounded(&r, &["pki", "renew", "prd", "--bundles-only"], &[], 10).fails("io", "not a regular file");
    assert_eq!(snapshot_no_fifo(&p), before);
}

/// [`snapshot`] without opening FIFOs (reading one would block the test itself).
fn snapshot_no_fifo(dir: &Path) -> Vec<(PathBuf, u32, u32, Vec<u8>)> {
    let mut files = regular_files(dir);
    files.sort();
    files
}

/// M3: an identity pasted where a recipient belongs (`--recipient`, the secret store's
/// `recipient:`, the store's `rootRecipient:`) is a secret: it never reaches stderr or
/// validate's JSON and SARIF, and the refused init writes no store.
#[test]
fn an_identity_given_as_a_recipient_is_never_printed() {
    let r = Repo::new();
    let run = r.cmd(&["pki", "init", "prd", "--recipient", &r.ci], &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("error[recipient-invalid]") && run.stderr.contains("not shown"), "{}", run.stderr);
    assert!(!leaks_identity(&run.stderr) && !leaks_identity(&run.stdout), "{}", run.stderr);
    assert!(!r.dir.join("resources/prd/pki.enc.yaml").exists(), "the refused init left a store");
    // The identity in the secret store's `recipient:`.
    std::fs::write(r.dir.join("resources/prd/secrets.enc.yaml"), format!("recipient: {}\nsecrets: {{}}\n", r.ci))
        .unwrap();
    let run = r.cmd(&["pki", "init", "prd"], &[]);
    assert!(run.stderr.contains("recipient-invalid") && !leaks_identity(&run.stderr), "{}", run.stderr);
    // The identity as the store's rootRecipient: validate reports it in every format, unshown.
    let mut r = Repo::initialized();
    let store = r.store_text();
    let root_recipient =
        store.lines().find_map(|l| l.strip_prefix("rootRecipient: ")).unwrap().trim_matches('"').to_string();
    std::fs::write(r.dir.join("resources/prd/pki.enc.yaml"), store.replace(&root_recipient, &r.ci)).unwrap();
    r.now = None;
    for format in ["text", "json", "sarif"] {
        let run = r.cmd(&["validate", "prd", "--format", format], &[]);
        assert_eq!(run.code, 1, "{format}");
        assert!(run.stdout.contains("not shown"), "{format}: {}", run.stdout);
        assert!(!leaks_identity(&run.stdout) && !leaks_identity(&run.stderr), "{format}: {}", run.stdout);
    }
}

/// M2: a renew that planned from the store, then waited for the provider lock while a
/// recovery replaced the store, must not write leaves from what the recovery revoked. The
/// race made deterministic: the lock is held while the renew starts and while the store
/// changes; once the lock frees, the renew re-checks the store and stops.
#[test]
fn a_renew_that_waited_for_the_provider_never_writes_from_a_stale_store() {
    let r = mesh();
    let p = provider(&r);
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
    let mut holder = tool("flock").arg("-o").arg(&p).args(["sleep", "4"]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let before = snapshot(&p);
    let mut c = std::process::Command::new(BIN);
    c.arg("-C").arg(&r.dir).args(["pki", "renew", "prd"]);
    c.env_remove("INFORGE_PKI_ROOT_KEY").env("INFORGE_SECRETS_KEY", &r.ci).env("INFORGE_NOW", NOW);
    c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    let renew = c.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    // Meanwhile the offline operator recovers eu-west-1: the store changes (its provider half
    // waits for the same lock, so it is run after the renew here).
    let store_before = r.store_text();
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "eu-west-1"]).ok();
    assert_ne!(r.store_text(), store_before);
    holder.wait().unwrap();
    let out = renew.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error[store-changed]") && err.contains("nothing was written"), "{err}");
    assert!(err.contains("inforge pki renew prd"), "{err}");
    assert!(snapshot(&p) == before, "the stale renew wrote to the provider");
    // Run again, it plans from the new store.
    r.cmd(&["pki", "renew", "prd"], &ci(&r)).ok();
}
