//! `pki history`: the store's audit trail, read from a git history that three authors built
//! here with the `git` CLI (one commit SSH-signed), checked against `git log`.

use crate::support::*;

const T0: &str = "2027-01-01T00:00:00Z";
const T_SWITCH: &str = "2027-02-01T00:00:00Z";

fn events(r: &Repo, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["pki", "history", "prd", "--json"];
    args.extend_from_slice(extra);
    let run = r.cmd(&args, &[]).ok();
    run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn find<'a>(ev: &'a [serde_json::Value], kind: &str, scope: Option<&str>) -> Vec<&'a serde_json::Value> {
    ev.iter().filter(|e| e["kind"] == kind && scope.is_none_or(|s| e["scope"] == s)).collect()
}

#[test]
fn history_names_every_store_change_with_its_commit_author_and_kind() {
    let mut r = Repo::new();
    r.now = Some(T0.into());
    let dir = r.dir.clone();
    git(&dir, "Ada", &["init", "-q", "-b", "main"]);
    commit(&dir, "Ada", "the infra repo, no store yet");
    r.init();
    let c_init = commit(&dir, "Ada", "pki init prd");
    r.run(&["pki", "add", "prd", "wardnet-mesh", "--topology", "two-tier"]).ok();
    for s in ["global", "us-east-1", "eu-west-1"] {
        r.run(&["pki", "intermediate", "prd", "wardnet-mesh", s]).ok();
    }
    let c_mesh = commit(&dir, "Bob", "the mesh PKI and its intermediates");
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "us-east-1"]).ok();
    let c_rotate = commit(&dir, "Cy", "roll us-east-1");
    r.run(&["pki", "recover-intermediate", "prd", "wardnet-mesh", "global"]).ok();
    let c_recover = commit(&dir, "Ada", "recover global after the leak");
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--root"]).ok();
    let c_root = commit(&dir, "Bob", "root overlap");
    r.now = Some(T_SWITCH.into());
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--root", "--switch"]).ok();
    // The switch is SSH-signed.
    let key = r.tmp.path().join("signing");
    let keygen = tool("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).output().unwrap();
    assert!(keygen.status.success());
    git(&dir, "Cy", &["add", "-A"]);
    let signing = format!("user.signingkey={}", key.display());
    git(&dir, "Cy", &["-c", "gpg.format=ssh", "-c", &signing, "commit", "-q", "-S", "-m", "root switch"]);
    let c_switch = git(&dir, "Cy", &["rev-parse", "HEAD"]).trim().to_string();
    // A commit that does not touch the store is not in the trail.
    std::fs::write(dir.join("README"), "notes\n").unwrap();
    commit(&dir, "Bob", "notes");
    // Uncommitted: a second PKI in the working tree.
    r.run(&["pki", "add", "prd", "daemon-ca", "--topology", "root-only"]).ok();

    let ev = events(&r, &[]);
    // Every event's commit is one git log lists for the store's path (and the working tree's
    // event has none).
    let logged = git(&dir, "Ada", &["log", "--format=%H", "--", "resources/prd/pki.enc.yaml"]);
    for e in &ev {
        match e["commit"].as_str() {
            Some(c) => assert!(logged.lines().any(|l| l == c), "{c} is not a store commit"),
            None => assert_eq!(e["kind"], "pki-added"),
        }
    }
    let by = |kind: &str, scope: Option<&str>| -> Vec<(String, String)> {
        find(&ev, kind, scope)
            .iter()
            .map(|e| (e["commit"].as_str().unwrap_or("").to_string(), e["author"].as_str().unwrap().to_string()))
            .collect()
    };
    assert_eq!(by("store-created", None), [(c_init.clone(), "Ada".to_string())]);
    assert_eq!(by("pki-added", None)[0], (c_mesh.clone(), "Bob".to_string()));
    assert_eq!(find(&ev, "intermediate-minted", None).len(), 3);
    assert_eq!(by("intermediate-rotated", Some("us-east-1"))[0], (c_rotate.clone(), "Cy".to_string()));
    assert_eq!(by("intermediate-recovered", Some("global")), [(c_recover.clone(), "Ada".to_string())]);
    assert_eq!(by("revoked", Some("global")), [(c_recover, "Ada".to_string())]);
    assert_eq!(by("root-overlap-started", None), [(c_root.clone(), "Bob".to_string())]);
    assert_eq!(by("root-switched", None), [(c_switch.clone(), "Cy".to_string())]);
    let last = ev.last().unwrap();
    assert!(last["commit"].is_null() && last["pki"] == "daemon-ca" && last["date"].is_null(), "{last}");
    // Signatures: only the switch carries one.
    let signed: Vec<&str> = ev.iter().filter(|e| e["signed"] == true).map(|e| e["commit"].as_str().unwrap()).collect();
    assert!(!signed.is_empty() && signed.iter().all(|c| *c == c_switch), "{signed:?}");
    assert!(ev.iter().all(|e| e["env"] == "prd" && e["email"].as_str().is_some()));
    // Dates are the commits' author dates.
    let date = git(&dir, "Ada", &["log", "-1", "--format=%at", &c_root]);
    let at = time::OffsetDateTime::from_unix_timestamp(date.trim().parse().unwrap()).unwrap();
    let root_event = &find(&ev, "root-overlap-started", None)[0];
    assert_eq!(root_event["date"], at.format(&time::format_description::well_known::Rfc3339).unwrap());

    // --since leaves out what the revision already holds.
    let since = events(&r, &["--since", &c_root]);
    let kinds: Vec<&str> = since.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["root-switched", "pki-added"], "{since:?}");
    // The text form: one line per event, who and what.
    let text = r.cmd(&["pki", "history", "prd", "--since", &c_rotate], &[]).ok().stdout;
    assert!(
        text.lines()
            .any(|l| l.contains("Ada <ada@example.org>") && l.contains("intermediate-recovered wardnet-mesh/global")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.contains("Cy <cy@example.org> signed: root-switched")), "{text}");
    assert!(text.lines().last().unwrap().contains("uncommitted"), "{text}");
    // Nothing secret in the trail: no identity, no key armor.
    assert!(!leaks_identity(&text) && !text.contains("BEGIN AGE"));

    r.cmd(&["pki", "history", "prd", "--since", "no-such-tag"], &[]).fails("git-rev-unknown", "no-such-tag");
}

#[test]
fn history_outside_git_is_a_clear_error() {
    let mut r = Repo::new();
    r.init();
    r.cmd(&["pki", "history", "prd"], &[]).fails("git-repo-missing", "not inside a git work tree");
    r.cmd(&["pki", "history", "../etc"], &[]).fails("name-invalid", "");
}
