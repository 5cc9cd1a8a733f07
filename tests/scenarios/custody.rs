//! Custody (SPEC §10) through the binary: a quorum root from `init` to `rekey`, every identity
//! form (files with several identities, passphrase-protected files, a plugin identity through
//! the in-tree test plugin), and CI re-keying. What opens what is judged by the `age` CLI,
//! never by our code; the leaves after each change by an OpenSSL mTLS handshake.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;
use crate::tls::{openssl_handshake, Svid};

/// The in-tree test plugin (tests/age-plugin), built on demand (a no-op once built).
fn plugin_dir() -> PathBuf {
    let dir = Path::new(BIN).parent().unwrap().to_path_buf();
    if !dir.join("age-plugin-inforgetest").is_file() {
        let ok = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "age-plugin-inforgetest"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(ok.success(), "cannot build the test plugin");
    }
    dir
}

fn path_with(dir: &Path) -> String {
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

/// A fresh native identity file (age-keygen) and its recipient.
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let file = dir.join(name);
    assert!(tool("age-keygen").arg("-o").arg(&file).output().unwrap().status.success());
    let r = String::from_utf8(tool("age-keygen").arg("-y").arg(&file).output().unwrap().stdout).unwrap();
    (file, r.trim().to_string())
}

/// A fresh plugin identity file (the test plugin's `--generate`) and its recipient.
fn plugin_keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let out = Command::new(plugin_dir().join("age-plugin-inforgetest")).arg("--generate").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let r = text.split_whitespace().find(|w| w.starts_with("age1inforgetest1")).unwrap().to_string();
    (write(dir, name, &text), r)
}

/// Whether the `age` CLI opens `armored` with `identity` (plugins found on `PATH`).
fn age_opens(identity: &Path, armored: &str, scratch: &Path) -> bool {
    let ct = write(scratch, "probe.age", armored);
    let out =
        tool("age").env("PATH", path_with(&plugin_dir())).arg("-d").arg("-i").arg(identity).arg(&ct).output().unwrap();
    out.status.success()
}

/// Every age armor block in the store text, with the line that introduces it.
fn sealed_blocks(store: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in store.lines() {
        let t = line.trim();
        if t == "-----BEGIN AGE ENCRYPTED FILE-----" {
            cur = Some(String::new());
        }
        if let Some(b) = cur.as_mut() {
            b.push_str(t);
            b.push('\n');
        }
        if t == "-----END AGE ENCRYPTED FILE-----" {
            out.push(cur.take().unwrap());
        }
    }
    out
}

/// A passphrase-protected copy of an identity file, as `age -p -a` writes it (age's scrypt
/// format, made with the age library: the CLI reads passphrases only from a terminal).
fn protect(identity: &Path, passphrase: &str, out: &Path) {
    let plain = std::fs::read(identity).unwrap();
    // A low scrypt work factor keeps the test fast (age calibrates ~1 s by default).
    let mut scrypt = age::scrypt::Recipient::new(age::secrecy::SecretString::from(passphrase.to_string()));
    scrypt.set_work_factor(10);
    let enc = age::Encryptor::with_recipients(std::iter::once(&scrypt as &dyn age::Recipient)).unwrap();
    let mut armored = vec![];
    let w = age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor).unwrap();
    let mut w = enc.wrap_output(w).unwrap();
    std::io::Write::write_all(&mut w, &plain).unwrap();
    w.finish().unwrap().finish().unwrap();
    std::fs::write(out, armored).unwrap();
}

fn handshake_ok(r: &Repo) {
    let p = r.tmp.path().join("provider-prd");
    let now =
        r.now.clone().unwrap_or_else(|| inforge_core::model::time::format_rfc3339(time::OffsetDateTime::now_utc()));
    let (ok, transcript) = openssl_handshake(&now, &Svid::at(&p, "web", "us-east-1"), &Svid::at(&p, "api", "global"));
    assert!(ok, "mTLS handshake failed:\n{transcript}");
}

#[test]
fn a_quorum_root_from_init_through_every_identity_form_to_rekey() {
    let r = Repo::new();
    let keys = r.tmp.path().to_path_buf();
    let (a, ra) = keygen(&keys, "custodian-a.key");
    let (b, rb) = keygen(&keys, "custodian-b.key");
    let (c, rc) = plugin_keygen(&keys, "custodian-c.key");
    let path = path_with(&plugin_dir());
    let env_path = [("PATH", path.as_str())];
    let store = r.store_path();

    // Bad policies are refused before anything is written.
    let quorum = |m: &str, cs: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["pki", "init", "prd", "--quorum", m].iter().map(|s| s.to_string()).collect();
        for c in cs {
            v.extend(["--custodian".to_string(), c.to_string()]);
        }
        v
    };
    let ci = r.ci_recipient.clone();
    for (m, cs, needle) in [
        ("0", vec![ra.as_str(), rb.as_str()], "between 1 and 2"),
        ("3", vec![ra.as_str(), rb.as_str()], "between 1 and 2"),
        ("1", vec![ra.as_str(), ra.as_str()], "named twice"),
        ("1", vec![ra.as_str(), ci.as_str()], "CI recipient"),
    ] {
        let args = quorum(m, &cs);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        r.cmd(&args, &env_path).fails("quorum-invalid", needle);
        assert!(!store.exists(), "a refused init wrote a store");
    }

    // 2 of 3; one custodian holds its share on a (test) plugin. Nothing secret on stdout.
    let args = quorum("2", &[&ra, &rb, &rc]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let made = r.cmd(&args, &env_path).ok();
    assert!(made.stdout.trim().is_empty(), "a quorum init prints no identity: {}", made.stdout);
    assert!(made.stderr.contains("any 2 of these 3 custodians"), "{}", made.stderr);
    r.cmd(&["pki", "add", "prd", "wardnet-mesh", "--topology", "two-tier"], &[]).ok();
    let files = |fs: &[&Path]| fs.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(":");
    let with = |fs: &[&Path]| vec![("PATH", path.clone()), ("INFORGE_PKI_ROOT_KEY_FILE", files(fs))];
    let run_with = |args: &[&str], fs: &[&Path]| {
        let e = with(fs);
        r.cmd(args, &e.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>())
    };

    // One custodian alone: refused, naming the missing ones; nothing changes.
    let before = r.store();
    let e = with(&[&b]);
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let one = r.fails_unchanged(
        &["pki", "intermediate", "prd", "wardnet-mesh", "global"],
        Some(&e),
        "quorum-not-met",
        "1 of",
    );
    assert!(one.stderr.contains(&ra) && one.stderr.contains(&rc) && one.stderr.contains("2 needed"), "{}", one.stderr);
    // A share "file" that is a directory, and a plugin that is not on PATH.
    let e = [("INFORGE_PKI_ROOT_KEY_FILE", format!("{}:{}", a.display(), keys.display()))];
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    r.fails_unchanged(&["pki", "intermediate", "prd", "wardnet-mesh", "global"], Some(&e), "identity-unreadable", "");
    let e = [("PATH", "/usr/bin:/bin".to_string()), ("INFORGE_PKI_ROOT_KEY_FILE", files(&[&a, &c]))];
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    r.fails_unchanged(
        &["pki", "intermediate", "prd", "wardnet-mesh", "global"],
        Some(&e),
        "plugin-missing",
        "age-plugin-inforgetest",
    );
    assert!(r.store() == before, "a refused command changed the store");

    // Two custodians, one of them through the plugin: signed.
    run_with(&["pki", "intermediate", "prd", "wardnet-mesh", "global"], &[&a, &c]).ok();
    // A passphrase-protected identity file: right passphrase works, a wrong one is named,
    // none (no terminal here) says how to give one.
    let b_protected = keys.join("custodian-b.age");
    protect(&b, "correct horse", &b_protected);
    let pass = write(&keys, "pass.txt", "correct horse\n");
    let bad = write(&keys, "bad.txt", "wrong horse\n");
    let mut e = with(&[&a, &b_protected]);
    e.push(("INFORGE_PASSPHRASE_FILE", bad.display().to_string()));
    let e2: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    r.fails_unchanged(
        &["pki", "intermediate", "prd", "wardnet-mesh", "us-east-1"],
        Some(&e2),
        "passphrase-wrong",
        "custodian-b.age",
    );
    let e3: Vec<(&str, &str)> = e[..2].iter().map(|(k, v)| (*k, v.as_str())).collect();
    // No passphrase file and no terminal (`setsid` detaches from any): told how to give one.
    let before = r.store();
    let mut none = tool("setsid");
    none.arg(BIN).arg("-C").arg(&r.dir).args(["pki", "intermediate", "prd", "wardnet-mesh", "us-east-1"]);
    none.env_remove("INFORGE_PKI_ROOT_KEY").env_remove("INFORGE_PASSPHRASE_FILE").envs(e3.iter().copied());
    none.stdin(std::process::Stdio::null());
    let out = Run::from(none.output().unwrap()).fails("passphrase-missing", "INFORGE_PASSPHRASE_FILE");
    scan_for_secrets(&["pki", "intermediate"], &out);
    assert!(out.stderr.contains("custodian-b.age"), "{}", out.stderr);
    assert!(r.store() == before, "a refused command changed the store");
    e[2].1 = pass.display().to_string();
    let e4: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let signed = r.cmd(&["pki", "intermediate", "prd", "wardnet-mesh", "us-east-1"], &e4).ok();
    // Neither passphrase is ever echoed.
    for run in [&signed, &out] {
        assert!(!format!("{}{}", run.stdout, run.stderr).contains("horse"), "a passphrase was printed");
    }
    run_with(&["pki", "intermediate", "prd", "wardnet-mesh", "eu-west-1"], &[&b, &a]).ok();

    // The age CLI: no single custodian opens the cold root key; each opens its own share only.
    let text = r.store_text();
    let root_key = field(&text, &["pkis", "wardnet-mesh", "root", "key"]);
    for id in [&a, &b, &c] {
        assert!(!age_opens(id, &root_key, &keys), "{} alone opens the cold root key", id.display());
    }
    for (i, id) in [&a, &b, &c].iter().enumerate() {
        let share = field(&text, &["rootQuorum", "shares", &i.to_string(), "share"]);
        assert!(age_opens(id, &share, &keys), "custodian {i} cannot open its share");
        let other = field(&text, &["rootQuorum", "shares", &((i + 1) % 3).to_string(), "share"]);
        assert!(!age_opens(id, &other, &keys), "custodian {i} opens another's share");
    }
    let view = r.cmd(&["pki", "custody", "prd", "--json"], &[]).ok();
    let v: serde_json::Value = serde_json::from_str(&view.stdout).unwrap();
    assert_eq!(v["root"]["quorum"]["threshold"], 2);
    assert_eq!(v["root"]["quorum"]["custodians"][2]["kind"], "inforgetest");
    assert_eq!(v["ci"]["seals"].as_array().unwrap().len(), 3);

    // Leaves from the quorum-signed intermediates shake hands.
    r.cmd(&["pki", "renew", "prd"], &[("INFORGE_SECRETS_KEY", &r.ci)]).ok();
    handshake_ok(&r);

    // The CI identity leaks: a new one goes into the secret store; until the re-key, sealing
    // refuses; the re-key needs the old identity and re-seals the three intermediates.
    let (new_ci_file, new_ci) = keygen(&keys, "new-ci.key");
    write(&r.dir, "resources/prd/secrets.enc.yaml", &format!("recipient: {new_ci}\nsecrets: {{}}\n"));
    let e = with(&[&a, &b]);
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    r.fails_unchanged(
        &["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "global"],
        Some(&e),
        "recipient-mismatch",
        "rekey prd --ci",
    );
    let before_plan = r.store();
    let planned = r.cmd(&["pki", "rekey", "prd", "--ci", "--plan"], &[]).ok();
    assert!(planned.stdout.contains("would re-seal 3 CI key(s)"), "{}", planned.stdout);
    assert!(r.store() == before_plan, "a plan writes nothing");
    let new_ci_var = [("INFORGE_SECRETS_KEY_FILE", new_ci_file.display().to_string())];
    let new_ci_env: Vec<(&str, &str)> = new_ci_var.iter().map(|(k, v)| (*k, v.as_str())).collect();
    r.fails_unchanged(&["pki", "rekey", "prd", "--ci"], Some(&new_ci_env), "identity-wrong", "recipient");
    let done = r.cmd(&["pki", "rekey", "prd", "--ci"], &[("INFORGE_SECRETS_KEY", &r.ci)]).ok();
    assert!(done.stdout.contains("git history keeps every old ciphertext"), "{}", done.stdout);
    let text = r.store_text();
    for scope in ["global", "us-east-1", "eu-west-1"] {
        let key = field(&text, &["pkis", "wardnet-mesh", "intermediates", scope, "key"]);
        assert!(age_opens(&new_ci_file, &key, &keys), "the new CI identity cannot open {scope}");
        assert!(!age_opens(&r.ci_file, &key, &keys), "the leaked CI identity still opens {scope}");
    }
    r.fails_unchanged(&["pki", "renew", "prd"], Some(&[("INFORGE_SECRETS_KEY", &r.ci)]), "identity-wrong", "recipient");
    r.cmd(&["pki", "renew", "prd"], &new_ci_env).ok();
    handshake_ok(&r);

    // A custodian leaves: 2 of them move the root to one new person's identity. The old
    // shares then open nothing the store holds.
    let (single, single_r) = keygen(&keys, "new-root.key");
    run_with(&["pki", "rekey", "prd", "--root", "--recipient", &single_r], &[&c, &b]).ok();
    let text = r.store_text();
    assert!(!text.contains("rootQuorum"));
    for block in sealed_blocks(&text) {
        for id in [&a, &b, &c] {
            assert!(!age_opens(id, &block, &keys), "{} still opens a block after the re-key", id.display());
        }
    }
    let e = [("INFORGE_PKI_ROOT_KEY_FILE", single.display().to_string())];
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    r.cmd(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "us-east-1"], &e).ok();
}
