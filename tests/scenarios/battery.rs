//! The bad-input battery: many distinct broken inputs (store, config, arguments,
//! environment), each through the real binary. Every one must give exit 1, `error[<code>]`
//! with a hint, no panic, no leaked identity or key, and leave the store, the config and the
//! provider byte-identical.

use std::path::PathBuf;

use crate::support::*;

const NOW: &str = "2026-11-22T12:00:00Z";

/// What a case breaks before it runs.
enum Break {
    Nothing,
    /// Replace a repo file's text (`from` → `to`; `from` empty: the whole file).
    File(&'static str, &'static str, &'static str),
    /// Replace a repo file's bytes.
    Bytes(&'static str, &'static [u8]),
    /// Replace a store field (path) with a YAML value.
    Field(&'static [&'static str], &'static str),
}

struct Case {
    name: &'static str,
    brk: Break,
    args: &'static [&'static str],
    /// Identity variables: "ci", "root", "both", or "none", or a literal `VAR=value` override.
    env: &'static [&'static str],
    code: &'static str,
}

const STORE: &str = "resources/prd/pki.enc.yaml";

fn cases() -> Vec<Case> {
    use Break::*;
    let renew: &[&str] = &["pki", "renew", "prd"];
    let ls: &[&str] = &["pki", "ls", "prd"];
    let ci: &[&str] = &["ci"];
    let root: &[&str] = &["root"];
    let none: &[&str] = &[];
    vec![
        // The store.
        Case { name: "empty store", brk: File(STORE, "", ""), args: ls, env: none, code: "store-invalid" },
        Case { name: "not a store", brk: File(STORE, "", "nope: 1\n"), args: ls, env: none, code: "store-invalid" },
        Case { name: "newer store", brk: File(STORE, "version: 2", "version: 99"), args: ls, env: none, code: "store-version" },
        Case { name: "binary store", brk: Bytes(STORE, b"\x00\xff\xfe\x01"), args: ls, env: none, code: "file-not-utf8" },
        Case { name: "truncated store", brk: File(STORE, "intermediates:", "intermediates: ["), args: ls, env: none, code: "store-invalid" },
        Case { name: "bad rootRecipient", brk: Field(&["rootRecipient"], "age1nope"), args: ls, env: none, code: "store-invalid" },
        Case { name: "unknown store field", brk: Field(&["pkis", "wardnet-mesh", "colour"], "blue"), args: ls, env: none, code: "store-invalid" },
        Case { name: "bogus topology", brk: Field(&["pkis", "wardnet-mesh", "topology"], "three-tier"), args: ls, env: none, code: "store-invalid" },
        Case { name: "bogus algorithm", brk: Field(&["pkis", "wardnet-mesh", "algorithm"], "rsa-1024"), args: ls, env: none, code: "store-invalid" },
        Case { name: "root cert not PEM", brk: Field(&["pkis", "wardnet-mesh", "root", "cert"], "hello"), args: ls, env: none, code: "store-invalid" },
        Case { name: "overlap start not a time", brk: Field(&["pkis", "wardnet-mesh", "rootOverlapStarted"], "yesterday"), args: ls, env: none, code: "store-invalid" },
        Case { name: "intermediate key garbage", brk: Field(&["pkis", "wardnet-mesh", "intermediates", "global", "key"], "-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n-----END AGE ENCRYPTED FILE-----\n"), args: renew, env: ci, code: "decrypt-failed" },
        Case { name: "same custodians", brk: Nothing, args: &["pki", "add", "prd", "x", "--topology", "two-tier"], env: &["SAME_CUSTODIANS"], code: "store-invalid" },
        // The config.
        Case { name: "empty inforge.yaml", brk: File("inforge.yaml", "", ""), args: ls, env: none, code: "config-invalid" },
        Case { name: "unknown config field", brk: File("inforge.yaml", "    scope: global\n    reload", "    scpoe: global\n    reload"), args: ls, env: none, code: "config-invalid" },
        Case { name: "upper-case baseDomain", brk: File("inforge.yaml", "wardnet.example", "Wardnet.Example"), args: ls, env: none, code: "trust-domain-invalid" },
        Case { name: "slash in a service name", brk: File("inforge.yaml", "  billing:", "  bil/ling:"), args: ls, env: none, code: "name-invalid" },
        Case { name: "global as a region", brk: File("regions.yaml", "", "regions: [global]\n"), args: ls, env: none, code: "name-reserved" },
        Case { name: "region listed twice", brk: File("regions.yaml", "", "regions: [us-east-1, us-east-1]\n"), args: ls, env: none, code: "name-duplicate" },
        Case { name: "garbage regions.yaml", brk: File("regions.yaml", "", "regions: {a: [\n"), args: ls, env: none, code: "config-invalid" },
        Case { name: "unknown provider kind", brk: File("inforge.yaml", "kind: dir", "kind: s3"), args: ls, env: none, code: "config-invalid" },
        Case { name: "bad DNS name", brk: File("inforge.yaml", "[api.internal]", "[-api..internal]"), args: ls, env: none, code: "dns-name-invalid" },
        Case { name: "300-character service name", brk: File("inforge.yaml", "  billing:", "  bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb:"), args: renew, env: ci, code: "name-invalid" },
        Case { name: "duplicate region in a service", brk: File("inforge.yaml", "regions: [us-east-1]", "regions: [us-east-1, us-east-1]"), args: renew, env: ci, code: "service-region-duplicate" },
        Case { name: "leafTtl beyond 90 days", brk: File("inforge.yaml", "  billing:\n    pki: wardnet-mesh\n", "  billing:\n    leafTtl: 200d\n    pki: wardnet-mesh\n"), args: renew, env: ci, code: "leaf-ttl-invalid" },
        Case { name: "service without scope", brk: File("inforge.yaml", "  billing:\n    pki: wardnet-mesh\n    scope: global\n", "  billing:\n    pki: wardnet-mesh\n"), args: renew, env: ci, code: "service-scope-missing" },
        Case { name: "service on a missing PKI", brk: File("inforge.yaml", "  billing:\n    pki: wardnet-mesh", "  billing:\n    pki: nope"), args: renew, env: ci, code: "service-pki-missing" },
        Case { name: "service on a root-only PKI", brk: File("inforge.yaml", "  billing:\n    pki: wardnet-mesh", "  billing:\n    pki: daemon-ca"), args: renew, env: ci, code: "service-pki-root-only" },
        Case { name: "undeclared environment", brk: Nothing, args: &["pki", "ls", "stg"], env: none, code: "environment-unknown" },
        Case { name: "path-like environment", brk: Nothing, args: &["pki", "ls", "../../../etc"], env: none, code: "name-invalid" },
        // Arguments.
        Case { name: "unknown service", brk: Nothing, args: &["pki", "renew", "prd", "--service", "nope"], env: ci, code: "service-unknown" },
        Case { name: "service not in a mesh", brk: Nothing, args: &["pki", "renew", "prd", "--service", "cron"], env: ci, code: "service-not-in-mesh" },
        Case { name: "unknown scope", brk: Nothing, args: &["pki", "intermediate", "prd", "wardnet-mesh", "mars-1"], env: root, code: "scope-unknown" },
        Case { name: "existing scope", brk: Nothing, args: &["pki", "intermediate", "prd", "wardnet-mesh", "global"], env: root, code: "scope-exists" },
        Case { name: "intermediate of a root-only PKI", brk: Nothing, args: &["pki", "intermediate", "prd", "daemon-ca", "global"], env: root, code: "pki-root-only" },
        Case { name: "duplicate PKI", brk: Nothing, args: &["pki", "add", "prd", "wardnet-mesh", "--topology", "two-tier"], env: none, code: "pki-exists" },
        Case { name: "bad PKI name", brk: Nothing, args: &["pki", "add", "prd", "a b", "--topology", "two-tier"], env: none, code: "name-invalid" },
        Case { name: "scope bundle of a root-only PKI", brk: Nothing, args: &["pki", "bundle", "prd", "daemon-ca", "--scope", "global"], env: none, code: "bundle-unavailable" },
        Case { name: "bundle of an unknown PKI", brk: Nothing, args: &["pki", "bundle", "prd", "nope", "--roots"], env: none, code: "pki-unknown" },
        Case { name: "finalize without overlap", brk: Nothing, args: &["pki", "rotate", "prd", "wardnet-mesh", "--root", "--finalize"], env: root, code: "overlap-none" },
        Case { name: "huge minimum overlap", brk: Nothing, args: &["pki", "rotate", "prd", "wardnet-mesh", "--root", "--min-overlap-days", "99999"], env: root, code: "number-out-of-range" },
        Case { name: "init over a store", brk: Nothing, args: &["pki", "init", "prd"], env: none, code: "store-exists" },
        Case { name: "rotate an absent scope", brk: Field(&["pkis", "wardnet-mesh", "intermediates", "eu-west-1"], "DELETE"), args: &["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "eu-west-1"], env: root, code: "scope-missing" },
        // Store files for git (docs/git.md).
        Case { name: "store show of a non-store", brk: File(STORE, "", "nope: 1\n"), args: &["store", "show", STORE], env: none, code: "store-invalid" },
        Case { name: "store show --check of a hand edit", brk: File(STORE, "version: 2", "version: 2 # edited"), args: &["store", "show", "--check", STORE], env: none, code: "store-not-canonical" },
        Case { name: "store diff of a binary file", brk: Bytes(STORE, b"\x00\xff\xfe\x01"), args: &["store", "diff", STORE, STORE], env: none, code: "file-not-utf8" },
        Case { name: "store merge with a config as base", brk: Nothing, args: &["store", "merge", "inforge.yaml", STORE, STORE], env: none, code: "store-invalid" },
        Case { name: "store diff --git outside git", brk: Nothing, args: &["store", "diff", "--git", "HEAD~1..HEAD", STORE], env: none, code: "git-repo-missing" },
        // The environment.
        Case { name: "INFORGE_NOW garbage", brk: Nothing, args: ls, env: &["INFORGE_NOW=yesterday"], code: "time-invalid" },
        Case { name: "INFORGE_NOW far future", brk: Nothing, args: renew, env: &["ci", "INFORGE_NOW=9999-12-31T00:00:00Z"], code: "time-invalid" },
        Case { name: "CI identity garbage", brk: Nothing, args: renew, env: &["INFORGE_SECRETS_KEY=AGE-SECRET-KEY-1NOPE"], code: "identity-invalid" },
        Case { name: "CI identity file missing", brk: Nothing, args: renew, env: &["INFORGE_SECRETS_KEY_FILE=/nonexistent/key"], code: "identity-unreadable" },
        Case { name: "root identity as CI identity", brk: Nothing, args: renew, env: &["ROOT_AS_CI"], code: "identity-wrong" },
        Case { name: "no CI identity", brk: Nothing, args: renew, env: none, code: "identity-missing" },
        Case { name: "no root identity", brk: Nothing, args: &["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "global"], env: ci, code: "identity-missing" },
    ]
}

fn apply(r: &Repo, brk: &Break) {
    match brk {
        Break::Nothing => {}
        Break::File(name, from, to) => {
            let p = r.dir.join(name);
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let new = if from.is_empty() {
                to.to_string()
            } else {
                assert!(text.contains(from), "{name} has no {from:?}");
                text.replacen(from, to, 1)
            };
            std::fs::write(p, new).unwrap();
        }
        Break::Bytes(name, bytes) => std::fs::write(r.dir.join(name), bytes).unwrap(),
        Break::Field(path, value) => {
            let mut v: serde_json::Value = serde_saphyr::from_str(&r.store_text()).unwrap();
            let (last, parents) = path.split_last().unwrap();
            let mut cur = &mut v;
            for p in parents {
                cur = &mut cur[*p];
            }
            if *value == "DELETE" {
                cur.as_object_mut().unwrap().remove(*last);
            } else {
                cur[*last] = serde_json::Value::String(value.to_string());
            }
            std::fs::write(r.store_path(), serde_json::to_string_pretty(&v).unwrap()).unwrap();
        }
    }
}

#[test]
fn every_broken_input_gets_a_clear_error_and_changes_nothing() {
    let r = Repo::initialized_at(Some(NOW));
    r.cmd(&["pki", "renew", "prd"], &[("INFORGE_SECRETS_KEY", &r.ci)]).ok();
    let provider: PathBuf = r.tmp.path().join("provider-prd");
    let originals = snapshot(&r.dir);
    let provider_before = snapshot(&provider);
    let root = r.root.clone().unwrap();
    let cases = cases();
    assert!(cases.len() >= 40, "the battery covers at least 40 distinct broken inputs");
    for c in &cases {
        apply(&r, &c.brk);
        if c.env == ["SAME_CUSTODIANS"] {
            let text = r.store_text();
            let rr =
                serde_saphyr::from_str::<serde_json::Value>(&text).unwrap()["recipient"].as_str().unwrap().to_string();
            let mut v: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
            v["rootRecipient"] = serde_json::Value::String(rr.to_ascii_uppercase());
            std::fs::write(r.store_path(), serde_json::to_string_pretty(&v).unwrap()).unwrap();
        }
        let broken = snapshot(&r.dir);
        let mut env: Vec<(String, String)> = Vec::new();
        for e in c.env {
            match *e {
                "ci" => env.push(("INFORGE_SECRETS_KEY".into(), r.ci.clone())),
                "root" => env.push(("INFORGE_PKI_ROOT_KEY".into(), root.clone())),
                "ROOT_AS_CI" => env.push(("INFORGE_SECRETS_KEY".into(), root.clone())),
                "SAME_CUSTODIANS" => {}
                kv => {
                    let (k, v) = kv.split_once('=').unwrap();
                    env.push((k.into(), v.into()));
                }
            }
        }
        let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let run = r.cmd(c.args, &env_ref);
        assert_eq!(run.code, 1, "{}: expected exit 1\n{}", c.name, run.stderr);
        assert!(
            run.stderr.contains(&format!("error[{}]", c.code)),
            "{}: expected {} in\n{}",
            c.name,
            c.code,
            run.stderr
        );
        assert!(run.stderr.contains("  hint: "), "{}: no hint", c.name);
        // Remedies are rendered with real values: never `<env>`, `<name>`, `<scope>`, ….
        let hint = run.stderr.lines().filter(|l| l.starts_with("  hint: ")).collect::<Vec<_>>().join("\n");
        assert!(!has_placeholder(&hint), "{}: a placeholder in the hint\n{hint}", c.name);
        assert!(!run.stderr.contains("panicked"), "{}: panic\n{}", c.name, run.stderr);
        assert!(!leaks_identity(&run.stderr) && !leaks_identity(&run.stdout), "{}: identity leaked", c.name);
        assert!(!run.stderr.contains("PRIVATE KEY"), "{}: key leaked", c.name);
        assert!(snapshot(&r.dir) == broken, "{}: the repo changed", c.name);
        assert!(snapshot(&provider) == provider_before, "{}: the provider changed", c.name);
        // Restore the originals for the next case.
        for (path, bytes) in &originals {
            std::fs::write(r.dir.join(path), bytes).unwrap();
        }
        assert!(snapshot(&r.dir) == originals, "{}: restore failed", c.name);
    }
}

/// A `<word>` the user would have to fill in (`<env>`, `<pki>`, `<mesh-name>`).
fn has_placeholder(text: &str) -> bool {
    text.split('<').skip(1).any(|rest| {
        rest.split_once('>')
            .is_some_and(|(w, _)| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
    })
}

/// The placeholder scan can fail: a negative control.
#[test]
fn the_placeholder_scan_catches_one() {
    assert!(has_placeholder("run `inforge pki renew <env>`"));
    assert!(!has_placeholder("run `inforge pki renew prd`; a < b > c"));
}

/// The secrets scan itself can fail: a negative control.
#[test]
#[should_panic(expected = "printed key material")]
fn the_secrets_scan_catches_key_material() {
    let run = Run { code: 0, stdout: "-----BEGIN PRIVATE KEY-----\nMIG…\n".into(), stderr: String::new() };
    scan_for_secrets(&["pki", "renew", "prd"], &run);
}
