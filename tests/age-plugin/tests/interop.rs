//! Drives the plugin through Debian's `age` CLI (Go age, which finds `age-plugin-NAME` on
//! PATH), proving that a real age client can encrypt to `age1inforgetest1…` recipients and
//! decrypt with `AGE-PLUGIN-INFORGETEST-1…` identities. Needs `age` and `age-keygen` on PATH
//! (scripts/setup.sh installs them).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PLUGIN: &str = env!("CARGO_BIN_EXE_age-plugin-inforgetest");
const PLAINTEXT: &[u8] = b"inforge test plugin round trip\n\x00\xffbinary tail";

/// PATH with the plugin binary's directory first.
fn plugin_path() -> OsString {
    let dir = Path::new(PLUGIN).parent().expect("plugin binary has a parent directory");
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).expect("PATH entries are joinable")
}

fn run(program: &str, args: &[&str], dir: &Path, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir).env("PATH", plugin_path()).env_remove("INFORGE_TEST_PLUGIN_FAIL");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap_or_else(|e| panic!("running `{program}` (is Debian's `age` package installed?): {e}"))
}

fn age(dir: &Path, args: &[&str]) -> Output {
    run("age", args, dir, &[])
}

fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
}

struct PluginKey {
    recipient: String,
    identity_file: PathBuf,
}

/// Runs `--generate`, checks its output format and writes it as an identity file.
fn generate(dir: &Path, name: &str) -> PluginKey {
    let out = run(PLUGIN, &["--generate"], dir, &[]);
    assert_ok(&out, "--generate");
    let text = String::from_utf8(out.stdout).expect("--generate prints UTF-8");
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# recipient: "))
        .expect("--generate prints a `# recipient:` comment")
        .to_owned();
    assert!(recipient.starts_with("age1inforgetest1"), "recipient: {recipient}");
    let identities: Vec<&str> = text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
    assert_eq!(identities.len(), 1, "exactly one identity line in:\n{text}");
    assert!(identities[0].starts_with("AGE-PLUGIN-INFORGETEST-1"), "identity: {}", identities[0]);
    assert_eq!(identities[0], identities[0].to_uppercase());
    let identity_file = dir.join(name);
    std::fs::write(&identity_file, &text).expect("write identity file");
    PluginKey { recipient, identity_file }
}

/// Decrypts `ct` with the given identity files; returns the plaintext or the failure.
fn decrypt(dir: &Path, ct: &str, identities: &[&Path], envs: &[(&str, &str)]) -> Output {
    let mut args = vec!["-d".to_owned()];
    for i in identities {
        args.push("-i".to_owned());
        args.push(i.to_str().expect("UTF-8 temp path").to_owned());
    }
    args.push(ct.to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run("age", &args, dir, envs)
}

fn assert_decrypts(dir: &Path, ct: &str, identities: &[&Path]) {
    let out = decrypt(dir, ct, identities, &[]);
    assert_ok(&out, &format!("age -d {ct} with {identities:?}"));
    assert_eq!(out.stdout, PLAINTEXT, "plaintext of {ct}");
}

fn assert_refused(dir: &Path, ct: &str, identities: &[&Path]) -> String {
    let out = decrypt(dir, ct, identities, &[]);
    assert!(!out.status.success(), "age -d {ct} with {identities:?} unexpectedly succeeded");
    assert!(out.stdout.is_empty(), "no plaintext on failure");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn age_cli_round_trip_through_the_plugin() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("plain.txt"), PLAINTEXT).unwrap();

    let one = generate(dir, "identity.txt");
    let two = generate(dir, "identity2.txt");
    assert_ne!(one.recipient, two.recipient, "fresh keys each time");

    let native_id = dir.join("native.txt");
    let out = run("age-keygen", &["-o", native_id.to_str().unwrap()], dir, &[]);
    assert_ok(&out, "age-keygen");
    let native_recipient = std::fs::read_to_string(&native_id)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .expect("age-keygen writes a `# public key:` comment");

    // Plugin recipient only, armored.
    assert_ok(&age(dir, &["-r", &one.recipient, "-a", "-o", "ct.age", "plain.txt"]), "age -r plugin");
    let ct = std::fs::read_to_string(dir.join("ct.age")).unwrap();
    assert!(ct.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"), "armored: {ct}");
    assert_decrypts(dir, "ct.age", &[&one.identity_file]);
    // Another plugin identity is not offered the key: age reports no matching identity.
    let err = assert_refused(dir, "ct.age", &[&two.identity_file]);
    assert!(err.contains("no identity matched"), "stderr: {err}");
    assert_refused(dir, "ct.age", &[&native_id]);
    // Both plugin identities in one plugin process: the wrong one skips, the right one unwraps.
    assert_decrypts(dir, "ct.age", &[&two.identity_file, &one.identity_file]);

    // Native and plugin recipients together: either identity decrypts.
    assert_ok(
        &age(dir, &["-r", &native_recipient, "-r", &one.recipient, "-o", "mixed.age", "plain.txt"]),
        "age -r native -r plugin",
    );
    assert_decrypts(dir, "mixed.age", &[&native_id]);
    assert_decrypts(dir, "mixed.age", &[&one.identity_file]);
    assert_refused(dir, "mixed.age", &[&two.identity_file]);

    // A file sealed only to a native key: the plugin is offered its X25519 stanza and must
    // leave it for the native identity listed after it.
    assert_ok(&age(dir, &["-r", &native_recipient, "-o", "native.age", "plain.txt"]), "age -r native");
    assert_decrypts(dir, "native.age", &[&one.identity_file, &native_id]);
    assert_refused(dir, "native.age", &[&one.identity_file]);

    // Encrypting to a plugin *identity* (recipient-v1 `add-identity`) works too.
    let id_arg = one.identity_file.to_str().unwrap();
    assert_ok(&age(dir, &["-e", "-i", id_arg, "-o", "self.age", "plain.txt"]), "age -e -i plugin identity");
    assert_decrypts(dir, "self.age", &[&one.identity_file]);

    // Fault mode: the plugin refuses the stanza it would unwrap, with its message.
    let out = decrypt(dir, "ct.age", &[&one.identity_file], &[("INFORGE_TEST_PLUGIN_FAIL", "1")]);
    assert!(!out.status.success(), "fault mode must fail decryption");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("test plugin: refused by INFORGE_TEST_PLUGIN_FAIL"), "stderr: {err}");
    // ...but stanzas that are not its own are still ignored, so other identities work.
    let out = decrypt(dir, "native.age", &[&one.identity_file, &native_id], &[("INFORGE_TEST_PLUGIN_FAIL", "1")]);
    assert_ok(&out, "fault mode with a native-only file");
}

#[test]
fn unknown_recipient_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::write(dir.join("plain.txt"), PLAINTEXT).unwrap();
    // A valid Bech32 `age1inforgetest` recipient whose key is 3 bytes, not 32.
    let out = age(dir, &["-r", "age1inforgetest1qypqxt8lwl5", "-o", "bad.age", "plain.txt"]);
    assert!(!out.status.success(), "short recipient must be rejected");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid recipient"), "stderr: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
}

#[test]
fn usage_errors() {
    let out = Command::new(PLUGIN).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(PLUGIN).arg("--age-plugin=nonsense-v9").output().unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
