//! Golden CLI output (snapbox): help texts and error formats are an interface too.
//! Refresh with `SNAPSHOTS=overwrite cargo test -p inforge-cli --test scenarios golden`.

use snapbox::cmd::Command;

use crate::support::*;

#[test]
fn top_level_help() {
    Command::new(BIN).arg("--help").assert().success().stdout_eq(snapbox::file!["snapshots/help.txt"]);
}

#[test]
fn pki_help() {
    Command::new(BIN).args(["pki", "--help"]).assert().success().stdout_eq(snapbox::file!["snapshots/pki-help.txt"]);
}

#[test]
fn rotate_help() {
    Command::new(BIN)
        .args(["pki", "rotate", "--help"])
        .assert()
        .success()
        .stdout_eq(snapbox::file!["snapshots/rotate-help.txt"]);
}

#[test]
fn error_format_missing_store() {
    let r = Repo::new();
    Command::new(BIN)
        .arg("-C")
        .arg(&r.dir)
        .args(["pki", "ls", "prd"])
        .assert()
        .code(1)
        .stdout_eq("")
        .stderr_eq(snapbox::file!["snapshots/error-missing-store.txt"]);
}

#[test]
fn validate_text_report() {
    let r = Repo::new();
    Command::new(BIN)
        .arg("-C")
        .arg(&r.dir)
        .args(["validate", "prd"])
        .env("INFORGE_NOW", "2026-11-22T12:00:00Z")
        .assert()
        .code(1)
        .stdout_eq(snapbox::file!["snapshots/validate-no-store.txt"]);
}
