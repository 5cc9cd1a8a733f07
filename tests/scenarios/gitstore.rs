//! The store in git (SPEC §13): a real repo wired with `inforge store install-git`, then
//! `git diff`/`git log -p` through the textconv, `git merge` through the merge driver (a
//! clean merge of independent changes that validates and renews; a conflict that names the
//! slot and leaves ours byte-identical), `store diff --git` as a pull-request comment, and
//! `store show --check` for the pre-commit hook. Every git command is the `git` CLI.

use crate::support::*;

const T0: &str = "2027-01-01T00:00:00Z";

/// The serial of the PEM certificate at `path` in `store`, as openssl prints it (lowercase).
fn openssl_serial(store: &str, path: &[&str], scratch: &std::path::Path) -> String {
    let pem = write(scratch, "cert.pem", &field(store, path));
    let (ok, out) = openssl(&["x509", "-noout", "-serial", "-in", pem.to_str().unwrap()], scratch);
    assert!(ok, "{out}");
    out.trim().trim_start_matches("serial=").to_lowercase()
}

#[test]
fn git_diff_merge_and_review_go_through_the_store_drivers() {
    let mut r = Repo::new();
    r.now = Some(T0.into());
    let dir = r.dir.clone();
    let scratch = r.tmp.path().to_path_buf();
    git(&dir, "Ada", &["init", "-q", "-b", "main"]);
    let wired = r.run(&["store", "install-git"]).ok();
    assert!(wired.stdout.contains("resources/*/pki.enc.yaml diff=inforge merge=inforge"), "{}", wired.stdout);
    assert!(std::fs::read_to_string(dir.join(".gitattributes")).unwrap().contains("merge=inforge"));
    // Idempotent: the line is not added twice.
    r.run(&["store", "install-git"]).ok();
    let attrs = std::fs::read_to_string(dir.join(".gitattributes")).unwrap();
    assert_eq!(attrs.matches("diff=inforge").count(), 1, "{attrs}");
    let driver = git(&dir, "Ada", &["config", "merge.inforge.driver"]);
    assert!(driver.trim().ends_with("store merge %O %A %B %P"), "{driver}");

    r.init();
    r.run(&["pki", "add", "prd", "wardnet-mesh", "--topology", "two-tier"]).ok();
    for s in ["global", "us-east-1", "eu-west-1"] {
        r.run(&["pki", "intermediate", "prd", "wardnet-mesh", s]).ok();
    }
    commit(&dir, "Ada", "the mesh");
    // The store is canonical as inforge wrote it; a hand edit is not.
    r.run(&["store", "show", "--check", "resources/prd/pki.enc.yaml"]).ok();

    // git diff after a rotation: the rotated intermediate's facts, no ciphertext, no PEM.
    let old_serial =
        openssl_serial(&r.store_text(), &["pkis", "wardnet-mesh", "intermediates", "us-east-1", "cert"], &scratch);
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "us-east-1"]).ok();
    let new_serial =
        openssl_serial(&r.store_text(), &["pkis", "wardnet-mesh", "intermediates", "us-east-1", "cert"], &scratch);
    let diff = git(&dir, "Ada", &["diff"]);
    // The new intermediate's lines are added; the old one's stay, now under the retired
    // intermediates that the scope's bundle keeps trusting.
    assert!(diff.contains(&format!("+    serial: {new_serial}")), "{diff}");
    assert!(diff.contains("+  previous intermediate us-east-1 0 (certificate only, kept in bundles):"), "{diff}");
    assert!(diff.contains(&format!("     serial: {old_serial}")), "{diff}");
    for noise in ["BEGIN AGE ENCRYPTED", "BEGIN CERTIFICATE", "-----"] {
        assert!(!diff.contains(noise), "{noise} in the diff:\n{diff}");
    }
    commit(&dir, "Bob", "roll us-east-1");
    let log = git(&dir, "Ada", &["log", "-p"]);
    assert!(log.contains("+  intermediate eu-west-1:") && log.contains(&format!("+    serial: {new_serial}")), "{log}");
    assert!(!log.contains("BEGIN AGE ENCRYPTED") && !log.contains("BEGIN CERTIFICATE"), "{log}");

    // The review as a pull-request comment, from git.
    let md =
        r.run(&["store", "diff", "--git", "HEAD~1..HEAD", "resources/prd/pki.enc.yaml", "--format", "markdown"]).ok();
    assert!(md.stdout.contains("| intermediate rotated | wardnet-mesh | us-east-1 |"), "{}", md.stdout);
    assert!(md.stdout.contains("`inforge pki renew prd`"), "{}", md.stdout);
    assert!(md.stdout.contains("`wardnet-mesh`: global, us-east-1"), "{}", md.stdout);

    // Two branches from the roll: one adds a PKI, the other rolls eu-west-1. They merge.
    git(&dir, "Ada", &["checkout", "-q", "-b", "roll-eu"]);
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "eu-west-1"]).ok();
    commit(&dir, "Bob", "roll eu-west-1");
    let eu_rolled = r.store_text();
    git(&dir, "Ada", &["checkout", "-q", "main"]);
    r.run(&["pki", "add", "prd", "daemon-ca", "--topology", "root-only"]).ok();
    commit(&dir, "Ada", "daemon-ca");
    git(&dir, "Ada", &["merge", "-q", "--no-edit", "roll-eu"]);
    let merged = r.store_text();
    assert!(!merged.contains("<<<<<<<"));
    assert!(merged.contains("daemon-ca:"));
    assert_eq!(
        field(&merged, &["pkis", "wardnet-mesh", "intermediates", "eu-west-1", "cert"]),
        field(&eu_rolled, &["pkis", "wardnet-mesh", "intermediates", "eu-west-1", "cert"])
    );
    r.run(&["store", "show", "--check", "resources/prd/pki.enc.yaml"]).ok();
    r.run(&["validate", "prd"]).ok();
    r.run(&["pki", "renew", "prd"]).ok();
    let leaf = r.tmp.path().join("provider-prd/web/mtls/eu-west-1");
    // At T0 (2027-01-01T00:00:00Z), the time the leaves were minted for.
    let (ok, out) =
        openssl(&["verify", "-attime", "1798761600", "-partial_chain", "-CAfile", "bundle.pem", "cert.pem"], &leaf);
    assert!(ok, "{out}");

    // Two rolls of the same intermediate conflict: ours untouched, the slot named.
    git(&dir, "Ada", &["checkout", "-q", "-b", "again", "HEAD~1"]);
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "eu-west-1"]).ok();
    commit(&dir, "Cy", "roll eu-west-1 again");
    git(&dir, "Ada", &["checkout", "-q", "main"]);
    let ours = r.store();
    let out = tool("git")
        .current_dir(&dir)
        .args(["merge", "--no-edit", "again"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.org")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.org")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the merge must stop on the conflict");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("pki wardnet-mesh, intermediate eu-west-1"), "{said}");
    assert_eq!(r.store(), ours, "ours is left byte-identical");
    git(&dir, "Ada", &["merge", "--abort"]);

    // A store edited by hand is not canonical: the pre-commit check says so.
    std::fs::write(r.store_path(), format!("{}# note\n", r.store_text())).unwrap();
    r.run(&["store", "show", "--check", "resources/prd/pki.enc.yaml"]).fails("store-not-canonical", "canonical");
}
