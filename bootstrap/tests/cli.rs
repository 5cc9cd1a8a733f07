//! The bootstrapper's argument handling, on the real binary. (Its projections run in the
//! `hosts` scenarios, tests/scenarios/hosts.rs, against a real etcd and dir provider.) Having
//! an integration test here also makes a plain `cargo test` build the binary those scenarios
//! run.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_inforge-bootstrap");

#[test]
fn help_names_the_projection() {
    let out = Command::new(BIN).args(["project", "--help"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--runtime-dir") && text.contains("--reload-command"), "{text}");
}

#[test]
fn a_bad_etcd_prefix_is_refused_by_the_config_check() {
    // The same check as inforge.yaml's provider gets in the CLI (provider::from_config).
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["project", "--service", "api", "--scope", "global", "--runtime-dir"])
        .arg(dir.path())
        .args(["--allow-persistent", "--etcd-endpoints", "http://127.0.0.1:1", "--etcd-prefix", "inforge/prd/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("provider-invalid") && err.contains("prefix"), "{err}");
}

#[test]
fn a_file_as_the_provider_dir_is_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("provider");
    std::fs::write(&file, "x").unwrap();
    let out = Command::new(BIN)
        .args(["project", "--service", "api", "--scope", "global", "--allow-persistent", "--runtime-dir"])
        .arg(dir.path())
        .arg("--provider-dir")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("provider-not-dir"), "{err}");
}
