//! Test harness: a scratch copy of the example infra repo, the binary, and the independent
//! tools (age, openssl) every scenario checks against. A missing tool fails loudly: the
//! project's setup script installs them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_inforge");

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// Every file under a directory (path → bytes), following the scope symlinks: what "byte
/// identical" means for a store directory or a provider.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        let mut entries: Vec<_> = rd.map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push((p.strip_prefix(base).unwrap().display().to_string(), std::fs::read(&p).unwrap_or_default()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// Runs an external tool, failing the test with a clear message if it is not installed.
pub fn tool(name: &str) -> Command {
    let found =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file())).unwrap_or(false);
    assert!(found, "`{name}` is not installed: run scripts/setup.sh (it installs every test tool)");
    Command::new(name)
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    /// A failed command: exit 1, an `error[...]` line naming the problem, a hint, no panic.
    #[track_caller]
    pub fn fails(self, code: &str, needle: &str) -> Run {
        assert_eq!(self.code, 1, "expected exit 1\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(self.stderr.contains(&format!("error[{code}]")), "expected error[{code}] in:\n{}", self.stderr);
        assert!(self.stderr.contains(needle), "expected {needle:?} in:\n{}", self.stderr);
        assert!(self.stderr.contains("hint: "), "no hint in:\n{}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "panic:\n{}", self.stderr);
        assert!(!leaks_identity(&self.stderr), "identity leaked:\n{}", self.stderr);
        assert!(!self.stderr.contains("PRIVATE KEY"), "key leaked:\n{}", self.stderr);
        self
    }
}

/// Secrets hygiene over the whole suite: every output of every command run through [`Repo`]
/// is scanned for private keys and age identities. The one deliberate exception is the root
/// identity `pki init` prints on stdout (alone on its line).
#[track_caller]
pub fn scan_for_secrets(args: &[&str], run: &Run) {
    let init = args.starts_with(&["pki", "init"]);
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains("PRIVATE KEY"), "{args:?} printed key material on {name}");
        let allowed = init && name == "stdout" && text.lines().count() == 1;
        assert!(allowed || !leaks_identity(text), "{args:?} printed an identity on {name}");
    }
}

/// Whether text contains an actual age identity (not just the `AGE-SECRET-KEY-1…` format name).
/// Plugin identities (`AGE-PLUGIN-<NAME>-1…`, a hardware key's handle) count too.
pub fn leaks_identity(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    let long_tail = |i: usize, len: usize| {
        upper[i + len..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').count() >= 20
    };
    upper.match_indices("AGE-SECRET-KEY-1").any(|(i, m)| long_tail(i, m.len()))
        || upper.match_indices("AGE-PLUGIN-").any(|(i, m)| long_tail(i, m.len()))
}

/// A scratch infra repo (copy of examples/) with a CI identity made by `age-keygen`.
pub struct Repo {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub ci_file: PathBuf,
    pub ci: String,
    pub ci_recipient: String,
    pub root_file: PathBuf,
    pub root: Option<String>,
    pub now: Option<String>,
}

impl Repo {
    /// The example repo, with a secret store naming a fresh CI recipient; no PKI store yet.
    pub fn new() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&examples(), tmp.path());
        let dir = tmp.path().join("infra");
        let ci_file = tmp.path().join("ci.key");
        let out = tool("age-keygen").arg("-o").arg(&ci_file).output().unwrap();
        assert!(out.status.success());
        let ci = std::fs::read_to_string(&ci_file)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap()
            .to_string();
        let ci_recipient = String::from_utf8(tool("age-keygen").arg("-y").arg(&ci_file).output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        std::fs::write(
            dir.join("resources/prd/secrets.enc.yaml"),
            format!("recipient: {ci_recipient}\nsecrets: {{}}\n"),
        )
        .unwrap();
        let root_file = tmp.path().join("root.key");
        Repo { tmp, dir, ci_file, ci, ci_recipient, root_file, root: None, now: None }
    }

    /// `new` + init + a two-tier mesh with global and both regional intermediates + a
    /// root-only PKI: the README's quickstart state.
    pub fn initialized() -> Repo {
        Repo::initialized_at(None)
    }

    /// [`Repo::initialized`] with `INFORGE_NOW` fixed for every later command.
    pub fn initialized_at(now: Option<&str>) -> Repo {
        let mut r = Repo::new();
        r.now = now.map(str::to_string);
        r.init();
        r.run(&["pki", "add", "prd", "wardnet-mesh", "--topology", "two-tier"]).ok();
        r.run(&["pki", "add", "prd", "daemon-ca", "--topology", "root-only"]).ok();
        for s in ["global", "us-east-1", "eu-west-1"] {
            r.run(&["pki", "intermediate", "prd", "wardnet-mesh", s]).ok();
        }
        r
    }

    pub fn init(&mut self) -> Run {
        let run = self.cmd(&["pki", "init", "prd"], &[]).ok();
        let id = run.stdout.trim().to_string();
        std::fs::write(&self.root_file, format!("{id}\n")).unwrap();
        self.root = Some(id);
        run
    }

    /// Where this repo's commands keep checked configs (`INFORGE_CACHE_DIR`).
    pub fn cache_dir(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.join("resources/prd/pki.enc.yaml")
    }

    pub fn store(&self) -> Vec<u8> {
        std::fs::read(self.store_path()).unwrap()
    }

    pub fn store_text(&self) -> String {
        String::from_utf8(self.store()).unwrap()
    }

    /// Runs inforge with both identities exported (and INFORGE_NOW if set).
    pub fn run(&self, args: &[&str]) -> Run {
        let mut env = vec![("INFORGE_SECRETS_KEY", self.ci.clone())];
        if let Some(r) = &self.root {
            env.push(("INFORGE_PKI_ROOT_KEY", r.clone()));
        }
        self.cmd(args, &env.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>())
    }

    /// Runs inforge with exactly the given identity variables.
    pub fn cmd(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = Command::new(BIN);
        c.arg("-C").arg(&self.dir).args(args);
        c.env_remove("INFORGE_SECRETS_KEY").env_remove("INFORGE_PKI_ROOT_KEY").env_remove("INFORGE_NOW");
        // Big configs' parses are kept per user (docs/performance.md): each scratch repo gets
        // its own cache directory, so tests never share or leave entries in ~/.cache.
        c.env("INFORGE_CACHE_DIR", self.cache_dir());
        if let Some(n) = &self.now {
            c.env("INFORGE_NOW", n);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        let run = Run::from(c.output().unwrap());
        scan_for_secrets(args, &run);
        run
    }

    /// Asserts a failing command leaves the store byte-identical.
    #[track_caller]
    pub fn fails_unchanged(&self, args: &[&str], env: Option<&[(&str, &str)]>, code: &str, needle: &str) -> Run {
        let before = std::fs::read(self.store_path()).ok();
        let run = match env {
            Some(e) => self.cmd(args, e),
            None => self.run(args),
        };
        let run = run.fails(code, needle);
        assert_eq!(std::fs::read(self.store_path()).ok(), before, "store changed by a failed command");
        run
    }
}

/// The store as a generic YAML tree (parsed by serde-saphyr, not by our store model), then a
/// string field by path, e.g. `["pkis", "wardnet-mesh", "root", "key"]`.
pub fn field(store: &str, path: &[&str]) -> String {
    let v: serde_json::Value = serde_saphyr::from_str(store).expect("store is YAML");
    let mut cur = &v;
    for p in path {
        cur = match p.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[*p],
        };
    }
    cur.as_str().unwrap_or_else(|| panic!("no string at {path:?}")).to_string()
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `age -d -i <identity file>` on armored ciphertext; `None` if age refuses.
pub fn age_decrypt(identity_file: &Path, armored: &str, scratch: &Path) -> Option<String> {
    let ct = write(scratch, "ct.age", armored);
    let out = tool("age").arg("-d").arg("-i").arg(identity_file).arg(&ct).output().unwrap();
    out.status.success().then(|| String::from_utf8(out.stdout).unwrap())
}

/// `openssl` with args; returns (success, stdout+stderr).
pub fn openssl(args: &[&str], cwd: &Path) -> (bool, String) {
    let out = tool("openssl").args(args).current_dir(cwd).output().unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

/// The unprivileged attacker of the hardening scenarios: `sh -c script` as `nobody`
/// (uid/gid 65534, no supplementary groups), through util-linux's `setpriv`.
pub fn as_nobody(script: &str) -> Run {
    let out = tool("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c", script])
        .output()
        .unwrap();
    Run::from(out)
}

/// Lets `nobody` reach (not list) everything under a scratch directory and hands it `dir`:
/// `base` becomes 0711 and `dir` is chowned to 65534:65534.
pub fn hand_to_nobody(base: &Path, dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::os::unix::fs::chown(dir, Some(65534), Some(65534)).unwrap();
}

/// A reader that fetches every example set in a loop through a provider (as a host does),
/// verifying each with the bootstrapper's own check (leaf ↔ key, chain ↔ bundle, SPIFFE ID)
/// until `stop`; returns how many sets it read and what it found torn.
pub fn torn_set_reader(
    provider: Box<dyn inforge_host::provider::Provider + Send>,
    now: time::OffsetDateTime,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(usize, Vec<String>)> {
    std::thread::spawn(move || {
        let sets = [
            ("api", "global"),
            ("billing", "global"),
            ("web", "us-east-1"),
            ("web", "eu-west-1"),
            ("worker", "us-east-1"),
        ];
        let (mut reads, mut torn) = (0usize, Vec::new());
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for (svc, scope) in sets {
                match provider.fetch(svc, scope) {
                    Ok(Some(set)) => {
                        reads += 1;
                        if let Err(e) = inforge_core::mesh::projection::verify_set(svc, scope, &set, now) {
                            torn.push(format!("{svc}/{scope}: {e}"));
                        }
                    }
                    Ok(None) => torn.push(format!("{svc}/{scope}: missing")),
                    Err(e) => torn.push(format!("{svc}/{scope}: {e}")),
                }
            }
        }
        (reads, torn)
    })
}

/// `git` in `dir` as `who`, with no user or system config in the way.
pub fn git(dir: &Path, who: &str, args: &[&str]) -> String {
    let out = tool("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", who)
        .env("GIT_AUTHOR_EMAIL", format!("{}@example.org", who.to_lowercase()))
        .env("GIT_COMMITTER_NAME", who)
        .env("GIT_COMMITTER_EMAIL", format!("{}@example.org", who.to_lowercase()))
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn commit(dir: &Path, who: &str, message: &str) -> String {
    git(dir, who, &["add", "-A"]);
    git(dir, who, &["commit", "-q", "-m", message]);
    git(dir, who, &["rev-parse", "HEAD"]).trim().to_string()
}
