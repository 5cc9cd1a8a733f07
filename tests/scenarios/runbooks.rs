//! The runbooks in docs/runbooks/ run: every `sh` block, in order, on the quickstart state of
//! the example repo, with only its posture's identity exported, so the docs cannot drift from
//! the code. `# wait: Nd` advances INFORGE_NOW. The rehearsal starts 40 days in the past so
//! that `openssl verify` (which reads the real clock) accepts everything minted on the way.

use std::path::Path;

use crate::support::*;

fn blocks(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in markdown.lines() {
        match (&mut cur, line.trim_end()) {
            (None, "```sh") => cur = Some(String::new()),
            (Some(b), "```") => {
                out.push(std::mem::take(b));
                cur = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            _ => {}
        }
    }
    assert!(cur.is_none(), "unterminated code block");
    out
}

fn git(dir: &Path, args: &[&str]) {
    let ok = tool("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "operator")
        .env("GIT_AUTHOR_EMAIL", "op@example.invalid")
        .env("GIT_COMMITTER_NAME", "operator")
        .env("GIT_COMMITTER_EMAIL", "op@example.invalid")
        .output()
        .unwrap();
    assert!(ok.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&ok.stderr));
}

fn run_runbook(name: &str) {
    let text = std::fs::read_to_string(examples().join("../docs/runbooks").join(name)).unwrap();
    let steps = blocks(&text);
    assert!(!steps.is_empty(), "{name} has no executable step");

    let mut now = time::OffsetDateTime::now_utc() - time::Duration::days(40);
    let fmt = |t: time::OffsetDateTime| inforge_core::model::time::format_rfc3339(t);
    let r = Repo::initialized_at(Some(&fmt(now)));
    r.run(&["pki", "renew", "prd"]).ok();
    git(&r.dir, &["init", "-q"]);
    git(&r.dir, &["add", "-A"]);
    git(&r.dir, &["commit", "-q", "-m", "quickstart"]);

    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    for (i, step) in steps.iter().enumerate() {
        let posture = step
            .lines()
            .find_map(|l| l.strip_prefix("# posture: "))
            .unwrap_or_else(|| panic!("{name} step {}: no `# posture:` line", i + 1))
            .trim()
            .to_string();
        for l in step.lines() {
            if let Some(d) = l.strip_prefix("# wait: ").and_then(|d| d.trim().strip_suffix('d')) {
                now += time::Duration::days(d.parse().unwrap());
            }
        }
        let mut c = tool("bash");
        c.args(["-euo", "pipefail", "-c", step]).current_dir(&r.dir);
        c.env("PATH", &path).env("INFORGE_NOW", fmt(now));
        c.env_remove("INFORGE_PKI_ROOT_KEY").env_remove("INFORGE_PKI_ROOT_KEY_FILE");
        c.env_remove("INFORGE_SECRETS_KEY").env_remove("INFORGE_SECRETS_KEY_FILE");
        for (k, v) in [
            ("GIT_AUTHOR_NAME", "operator"),
            ("GIT_AUTHOR_EMAIL", "op@example.invalid"),
            ("GIT_COMMITTER_NAME", "operator"),
            ("GIT_COMMITTER_EMAIL", "op@example.invalid"),
        ] {
            c.env(k, v);
        }
        let root = r.root.clone().unwrap();
        let outside = r.dir.parent().unwrap(); // ../ of the repo: provider, identity files
        match posture.as_str() {
            "offline-root" => {
                c.env("INFORGE_PKI_ROOT_KEY", &root);
            }
            "ci" => {
                c.env("INFORGE_SECRETS_KEY", &r.ci);
            }
            "incident" => {
                c.env("INFORGE_PKI_ROOT_KEY", &root).env("INFORGE_SECRETS_KEY", &r.ci);
            }
            // The replacement CI identity an earlier step made (`age-keygen -o ../new-ci.key`).
            "new-ci" => {
                c.env("INFORGE_SECRETS_KEY_FILE", outside.join("new-ci.key"));
            }
            // Two of the three root custodians an earlier step made (a 2-of-3 quorum).
            "custodians" => {
                let file = |n: u32| outside.join(format!("custodian-{n}.key")).display().to_string();
                c.env("INFORGE_PKI_ROOT_KEY_FILE", format!("{}:{}", file(1), file(3)));
            }
            "none" => {}
            other => panic!("{name} step {}: unknown posture {other:?}", i + 1),
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{name} step {} ({posture}) failed:\n{step}\n--- stdout:\n{}\n--- stderr:\n{}",
            i + 1,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every runbook ends in a healthy, committed mesh.
    r.cmd(&["validate", "prd"], &[]).ok();
    let status =
        tool("git").args(["status", "--porcelain", "resources", "regions.yaml"]).current_dir(&r.dir).output().unwrap();
    assert!(
        status.stdout.is_empty(),
        "{name} leaves uncommitted store changes: {}",
        String::from_utf8_lossy(&status.stdout)
    );
}

#[test]
fn runbook_add_region() {
    run_runbook("add-region.md");
}

#[test]
fn runbook_rotate_leaf() {
    run_runbook("rotate-leaf.md");
}

#[test]
fn runbook_revoke_leaf() {
    run_runbook("revoke-leaf.md");
}

#[test]
fn runbook_rotate_intermediate() {
    run_runbook("rotate-intermediate.md");
}

#[test]
fn runbook_rotate_root() {
    run_runbook("rotate-root.md");
}

#[test]
fn runbook_recover_intermediate() {
    run_runbook("recover-intermediate.md");
}

#[test]
fn runbook_ci_identity_leaked() {
    run_runbook("ci-identity-leaked.md");
}

#[test]
fn runbook_root_custodian_left() {
    run_runbook("root-custodian-left.md");
}

#[test]
fn every_runbook_is_executed() {
    let dir = examples().join("../docs/runbooks");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md") && n != "README.md")
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "add-region.md",
            "ci-identity-leaked.md",
            "recover-intermediate.md",
            "revoke-leaf.md",
            "root-custodian-left.md",
            "rotate-intermediate.md",
            "rotate-leaf.md",
            "rotate-root.md"
        ],
        "a new runbook needs a test above"
    );
}
