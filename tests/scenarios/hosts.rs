//! How a leaf reaches a running service (SPEC §6–7): the etcd provider against a real etcd
//! (Debian's etcd-server, started here on 127.0.0.1 and stopped by PID), `inforge-bootstrap`
//! projecting into simulated hosts' runtime directories on tmpfs (/dev/shm), its `--watch`,
//! recovery reaching watching hosts, a real mTLS handshake between two hosts' projected
//! material, and the systemd units checked by `systemd-analyze verify`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{openssl, snapshot, tool, write, Repo, Run, BIN};
use crate::tls::{openssl_handshake, rustls_handshake, Svid};

/// The bootstrap binary, built beside `inforge` (scripts/test.sh tests both packages).
fn boot_bin() -> PathBuf {
    let p = Path::new(BIN).with_file_name("inforge-bootstrap");
    assert!(p.is_file(), "{} is missing: build it with `cargo build -p inforge-bootstrap`", p.display());
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A single-node etcd on loopback, in a scratch data directory; killed by PID on drop.
pub struct Etcd {
    child: Option<Child>,
    data: tempfile::TempDir,
    pub client: u16,
    peer: u16,
    /// With client TLS: the directory holding ca.pem, server.pem, server-key.pem, client.pem,
    /// client-key.pem (made with openssl).
    tls: Option<PathBuf>,
}

impl Etcd {
    pub fn start() -> Etcd {
        let mut e =
            Etcd { child: None, data: tempfile::tempdir().unwrap(), client: free_port(), peer: free_port(), tls: None };
        e.spawn();
        e
    }

    /// etcd serving clients over TLS and requiring a client certificate signed by its CA.
    pub fn start_tls() -> Etcd {
        let data = tempfile::tempdir().unwrap();
        let tls = data.path().join("tls");
        std::fs::create_dir(&tls).unwrap();
        let ossl = |args: &[&str]| {
            let (ok, out) = crate::support::openssl(args, &tls);
            assert!(ok, "openssl {args:?}: {out}");
        };
        ossl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=test etcd CA",
        ]);
        for (name, ext) in [
            ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
            ("client", "extendedKeyUsage=clientAuth"),
        ] {
            std::fs::write(tls.join(format!("{name}.ext")), ext).unwrap();
            ossl(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}-key.pem"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ]);
            ossl(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ]);
        }
        let mut e = Etcd { child: None, data, client: free_port(), peer: free_port(), tls: Some(tls) };
        e.spawn();
        e
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client)
    }

    fn spawn(&mut self) {
        let peer = format!("http://127.0.0.1:{}", self.peer);
        let child = tool("etcd")
            .args(["--name", "t", "--data-dir"])
            .arg(self.data.path().join("data"))
            .args(["--listen-client-urls", &self.url(), "--advertise-client-urls", &self.url()])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("t={peer}"), "--log-level", "error"])
            .args(self.tls.iter().flat_map(|d| {
                let f = |n: &str| d.join(n).display().to_string();
                [
                    "--cert-file".to_string(),
                    f("server.pem"),
                    "--key-file".into(),
                    f("server-key.pem"),
                    "--trusted-ca-file".into(),
                    f("ca.pem"),
                    "--client-cert-auth".into(),
                ]
            }))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.data.path().join("etcd.log")).unwrap())
            .spawn()
            .expect("etcd starts");
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if self.ctl(&["endpoint", "health"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "etcd did not become healthy: {}",
            std::fs::read_to_string(self.data.path().join("etcd.log")).unwrap_or_default()
        );
    }

    pub fn ctl(&self, args: &[&str]) -> std::process::Output {
        self.ctl_cmd().args(args).output().unwrap()
    }

    fn ctl_cmd(&self) -> Command {
        let mut c = tool("etcdctl");
        c.env("ETCDCTL_API", "3").args(["--endpoints", &self.url()]);
        if let Some(d) = &self.tls {
            c.arg(format!("--cacert={}", d.join("ca.pem").display()))
                .arg(format!("--cert={}", d.join("client.pem").display()))
                .arg(format!("--key={}", d.join("client-key.pem").display()));
        }
        c
    }

    pub fn get(&self, key: &str) -> String {
        String::from_utf8(self.ctl(&["get", "--print-value-only", key]).stdout).unwrap()
    }

    pub fn put(&self, key: &str, value: &str) {
        let mut c = self.ctl_cmd().args(["put", key]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(value.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success());
    }

    /// Kills etcd (SIGKILL, by PID) and waits for it to go.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The example repo on the etcd provider.
fn etcd_repo(etcd: &Etcd) -> Repo {
    let r = Repo::initialized();
    let cfg = std::fs::read_to_string(r.dir.join("inforge.yaml")).unwrap();
    let cfg = cfg.replace(
        "      kind: dir\n      path: ../provider-prd\n",
        &format!("      kind: etcd\n      endpoints: [{}]\n      prefix: /inforge/prd\n", etcd.url()),
    );
    assert!(cfg.contains("kind: etcd"));
    std::fs::write(r.dir.join("inforge.yaml"), cfg).unwrap();
    r
}

fn ci(r: &Repo) -> Vec<(&'static str, String)> {
    vec![("INFORGE_SECRETS_KEY", r.ci.clone())]
}

fn renew(r: &Repo, extra: &[&str]) -> Run {
    let env = ci(r);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut args = vec!["pki", "renew", "prd"];
    args.extend_from_slice(extra);
    r.cmd(&args, &env)
}

/// A simulated host: a runtime directory on tmpfs and a log of reload commands run.
struct Host {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    log: PathBuf,
    service: &'static str,
    scope: &'static str,
    source: Vec<String>,
}

impl Host {
    fn new(service: &'static str, scope: &'static str, source: Vec<String>) -> Host {
        let tmp = tempfile::Builder::new().prefix("inforge-host-").tempdir_in("/dev/shm").expect("/dev/shm (tmpfs)");
        let dir = tmp.path().join("run");
        std::fs::create_dir(&dir).unwrap();
        let log = tmp.path().join("reloads.log");
        Host { dir, log, _tmp: tmp, service, scope, source }
    }

    fn dir_source(provider: &Path) -> Vec<String> {
        vec!["--provider-dir".into(), provider.display().to_string()]
    }

    fn etcd_source(etcd: &Etcd) -> Vec<String> {
        vec!["--etcd-endpoints".into(), etcd.url(), "--etcd-prefix".into(), "/inforge/prd".into()]
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(boot_bin());
        c.args(["project", "--service", self.service, "--scope", self.scope, "--runtime-dir"])
            .arg(&self.dir)
            .args(&self.source)
            .arg("--reload-command")
            .arg(format!("echo reload >> {}", self.log.display()))
            .args(extra)
            .env_remove("INFORGE_NOW")
            .env("INFORGE_ETCD_TIMEOUT", "2");
        c
    }

    /// One projection with `--json`: (exit code, the report).
    fn project(&self, extra: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let out = self.command(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("PRIVATE KEY") && !stderr.contains("panicked"), "{stderr}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(!stdout.contains("PRIVATE KEY"));
        let doc = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("one JSON document: {e}\n{stdout}\n{stderr}"));
        (out.status.code().unwrap_or(-1), doc)
    }

    fn reloads(&self) -> usize {
        std::fs::read_to_string(&self.log).map(|s| s.lines().count()).unwrap_or(0)
    }

    fn held(&self) -> Vec<(String, Vec<u8>)> {
        ["cert.pem", "key.pem", "bundle.pem"]
            .iter()
            .map(|f| (f.to_string(), std::fs::read(self.dir.join(f)).unwrap_or_default()))
            .collect()
    }

    fn cert(&self) -> String {
        std::fs::read_to_string(self.dir.join("cert.pem")).unwrap_or_default()
    }

    fn svid(&self) -> Svid {
        Svid { dir: self.dir.clone() }
    }

    /// `openssl verify` of the projected leaf against the projected bundle, the key against
    /// the leaf: the host's files work for a service, by an independent tool.
    fn check_with_openssl(&self) {
        let (ok, out) = crate::support::openssl(
            &["verify", "-partial_chain", "-CAfile", "bundle.pem", "-untrusted", "cert.pem", "cert.pem"],
            &self.dir,
        );
        assert!(ok, "openssl verify: {out}");
        let (_, leaf_pub) = crate::support::openssl(&["x509", "-in", "cert.pem", "-noout", "-pubkey"], &self.dir);
        let (_, key_pub) = crate::support::openssl(&["pkey", "-in", "key.pem", "-pubout"], &self.dir);
        assert_eq!(leaf_pub, key_pub, "key.pem belongs to cert.pem");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(self.dir.join("key.pem")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "key.pem is 0600");
    }
}

/// The shared loop for both providers: project → reload once per host; nothing new → no
/// reload; renew → reload again; tampered entries refused with the old leaf kept.
fn projection_loop(r: &Repo, hosts: &[Host], tamper: &dyn Fn(&str, &str, &str, &str)) {
    renew(r, &[]).ok();
    for h in hosts {
        let (code, doc) = h.project(&[]);
        assert_eq!((code, doc["status"].as_str()), (0, Some("changed")), "{doc}");
        assert_eq!(doc["command"]["kind"], "reload");
        assert_eq!(h.reloads(), 1, "the reload command ran exactly once");
        assert_eq!(doc["leaf"]["spiffeId"], format!("spiffe://wardnet.example/prd/{}/{}", h.scope, h.service));
        h.check_with_openssl();
    }
    for h in hosts {
        let before = h.held();
        let (code, doc) = h.project(&[]);
        assert_eq!((code, doc["status"].as_str()), (0, Some("unchanged")), "{doc}");
        assert!(doc.get("command").is_none(), "{doc}");
        assert_eq!(h.reloads(), 1, "nothing new → no reload");
        assert_eq!(h.held(), before);
    }
    renew(r, &[]).ok();
    for h in hosts {
        let old_cert = h.cert();
        let (code, doc) = h.project(&[]);
        assert_eq!((code, doc["status"].as_str()), (0, Some("changed")), "{doc}");
        assert_ne!(h.cert(), old_cert);
        assert_eq!(h.reloads(), 2);
        h.check_with_openssl();
    }

    // Tampered provider entries: each refused, the old leaf kept byte for byte, nothing run.
    let h = &hosts[0];
    let other_key = {
        let other = Host::new("billing", "global", h.source.clone());
        assert_eq!(other.project(&[]).0, 0);
        std::fs::read_to_string(other.dir.join("key.pem")).unwrap()
    };
    let foreign_bundle = {
        // The root-only PKI's root: a real CA, but not one that issued this leaf.
        let out = r.cmd(&["pki", "bundle", "prd", "daemon-ca", "--roots"], &[]).ok();
        out.stdout
    };
    let cases: Vec<(&str, &str, String, &str)> = vec![
        ("key.pem", "key of another service", other_key, "set-key-mismatch"),
        ("bundle.pem", "bundle that does not trust the leaf", foreign_bundle, "set-untrusted"),
        (
            "cert.pem",
            "garbage leaf",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
            "set-malformed",
        ),
    ];
    for (file, what, value, code) in cases {
        let (held, reloads) = (h.held(), h.reloads());
        tamper(h.service, h.scope, file, &value);
        let (exit, doc) = h.project(&[]);
        assert_eq!(exit, 1, "{what}: {doc}");
        assert_eq!(
            (doc["status"].as_str(), doc["error"]["code"].as_str()),
            (Some("failed"), Some(code)),
            "{what}: {doc}"
        );
        assert!(doc["error"]["hint"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(h.held(), held, "{what}: the old leaf is kept");
        assert_eq!(h.reloads(), reloads, "{what}: nothing ran");
        renew(r, &["--service", h.service]).ok();
        // Put this host back on a good leaf for the next case.
        assert_eq!(h.project(&[]).0, 0);
    }
    // Expired (the provider's leaf is not valid at the host's time).
    let held = h.held();
    let reloads = h.reloads();
    let out = h.command(&["--json"]).env("INFORGE_NOW", "2031-01-01T00:00:00Z").output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((out.status.code(), doc["error"]["code"].as_str()), (Some(1), Some("set-not-valid-now")), "{doc}");
    assert_eq!((h.held(), h.reloads()), (held, reloads));
}

#[test]
fn dir_provider_two_hosts_project_reload_once_and_refuse_tampering() {
    let r = Repo::initialized();
    let provider = r.dir.join("../provider-prd").canonicalize().unwrap();
    let hosts = [
        Host::new("api", "global", Host::dir_source(&provider)),
        Host::new("web", "us-east-1", Host::dir_source(&provider)),
    ];
    let p = provider.clone();
    projection_loop(&r, &hosts, &|svc, scope, file, value| {
        // Write through the scope link into the current generation, as a rogue writer would.
        std::fs::write(p.join(svc).join("mtls").join(scope).join(file), value).unwrap();
    });
    // Provider unreachable (its directory gone): exit 1, the old leaf stays.
    let h = &hosts[1];
    let held = h.held();
    std::fs::rename(&provider, provider.with_extension("away")).unwrap();
    let (code, doc) = h.project(&[]);
    assert_eq!((code, doc["error"]["code"].as_str()), (1, Some("provider-missing")), "{doc}");
    assert_eq!(h.held(), held);
    // --keep-valid (ExecStartPre): the same failure exits 0 because the leaf held is valid.
    let (code, doc) = h.project(&["--keep-valid"]);
    assert_eq!((code, doc["status"].as_str(), doc["kept"].as_bool()), (0, Some("failed"), Some(true)), "{doc}");
}

/// A service's reader of the runtime directory (resolve `.current` once, read the three files
/// from that generation) never sees a torn set while the bootstrapper projects new leaves under
/// it, renew after renew (hardening round 2, "Also build" 3).
#[test]
fn a_reader_of_the_runtime_dir_never_sees_a_torn_set_while_it_projects() {
    let r = Repo::initialized();
    let provider = r.dir.join("../provider-prd").canonicalize().unwrap();
    let h = Host::new("api", "global", Host::dir_source(&provider));
    renew(&r, &[]).ok();
    assert_eq!(h.project(&[]).0, 0);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (dir, flag, count) = (h.dir.clone(), stop.clone(), done.clone());
    let reader = std::thread::spawn(move || {
        let now = time::OffsetDateTime::now_utc();
        let (mut reads, mut torn) = (0usize, Vec::new());
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok(generation) = std::fs::read_link(dir.join(".current")) else { continue };
            let g = dir.join(generation);
            // A slow reader (a service busy between resolving and opening): the generation it
            // resolved must outlive a projection that happens meanwhile.
            std::thread::sleep(std::time::Duration::from_millis(20));
            let read = |f: &str| std::fs::read_to_string(g.join(f));
            match (read("cert.pem"), read("key.pem"), read("bundle.pem"), read("crl.pem")) {
                (Ok(cert), Ok(key), Ok(bundle), Ok(crl)) => {
                    reads += 1;
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let spiffe = read("bundle.spiffe.json").unwrap_or_default();
                    let set = inforge_core::mesh::projection::SetTexts { cert, key: key.into(), bundle, spiffe, crl };
                    if let Err(e) = inforge_core::mesh::projection::verify_set("api", "global", &set, now) {
                        torn.push(e.to_string());
                    }
                }
                other => torn.push(format!("a file of {} was gone: {:?}", g.display(), other.0.err())),
            }
        }
        (reads, torn)
    });
    // At least 4 projections, and as many more as it takes for the reader to have read 10
    // sets meanwhile. The promise is for a reader that finishes within one projection
    // interval (minutes on a real host: a timer or a watch event): projections here are spaced
    // 60 ms apart, three times the reader's 20 ms between resolving and reading (a fast
    // machine otherwise projects twice inside that window, which no host does).
    let mut projections = 0;
    while projections < 4 || (done.load(std::sync::atomic::Ordering::Relaxed) < 10 && projections < 200) {
        renew(&r, &[]).ok();
        let (code, doc) = h.project(&[]);
        assert_eq!((code, doc["status"].as_str()), (0, Some("changed")), "{doc}");
        projections += 1;
        std::thread::sleep(std::time::Duration::from_millis(60));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, torn) = reader.join().unwrap();
    assert!(torn.is_empty(), "{} of {reads} reads were torn: {:?}", torn.len(), &torn[..torn.len().min(3)]);
    assert!(reads >= 10, "the reader ran only {reads} reads in {projections} projections");
}

#[test]
fn etcd_provider_renew_writes_sets_and_two_hosts_project_them() {
    let etcd = Etcd::start();
    let r = etcd_repo(&etcd);
    let hosts =
        [Host::new("api", "global", Host::etcd_source(&etcd)), Host::new("web", "us-east-1", Host::etcd_source(&etcd))];
    // The provider's layout (SPEC §6), read back with etcdctl, an independent client.
    let run = renew(&r, &["--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["provider"]["kind"], "etcd");
    let keys = String::from_utf8(etcd.ctl(&["get", "--prefix", "/inforge/prd", "--keys-only"]).stdout).unwrap();
    let keys: Vec<&str> = keys.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(keys.len(), 5 * 5, "{keys:?}");
    assert!(keys.contains(&"/inforge/prd/web/mtls/eu-west-1/key.pem"));
    let key = etcd.get("/inforge/prd/api/mtls/global/key.pem");
    assert!(key.contains("BEGIN PRIVATE KEY"));

    let e = &etcd;
    projection_loop(&r, &hosts, &|svc, scope, file, value| {
        e.put(&format!("/inforge/prd/{svc}/mtls/{scope}/{file}"), value)
    });
    writers_on_one_prefix_take_turns(&etcd, &r);
}

/// A renew started in the background with the test pause inside its etcd writer lock; returns
/// once it says it holds the lock (the pause's stderr line).
fn renew_paused_in_lock(r: &Repo, extra_env: &[(&str, &str)]) -> std::process::Child {
    let mut c = Command::new(BIN);
    c.arg("-C").arg(&r.dir).args(["pki", "renew", "prd"]);
    c.env_remove("INFORGE_PKI_ROOT_KEY").env("INFORGE_SECRETS_KEY", &r.ci);
    c.env("INFORGE_TEST_PAUSE", "etcd-before-commit").envs(extra_env.iter().copied());
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0 && !line.contains("test pause") {
        line.clear();
    }
    assert!(line.contains("test pause at etcd-before-commit"), "the renew never reached its lock: {line}");
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    child
}

/// Which repo's intermediates the provider's sets chain to: each set's second certificate
/// (its intermediate) found in a store.
fn sets_chain_to(etcd: &Etcd, store_text: &str) -> usize {
    let sets =
        [("api", "global"), ("billing", "global"), ("web", "us-east-1"), ("web", "eu-west-1"), ("worker", "us-east-1")];
    sets.iter()
        .filter(|(svc, scope)| {
            let cert = etcd.get(&format!("/inforge/prd/{svc}/mtls/{scope}/cert.pem"));
            let second = cert.split("-----BEGIN CERTIFICATE-----").nth(2).unwrap_or_default();
            let line = second.lines().nth(1).unwrap_or("?").trim().to_string();
            store_text.contains(&line)
        })
        .count()
}

/// SPEC §6, "Also build" of the hardening round: writers of one etcd prefix serialise on
/// etcd's lock `<prefix>.lock` under a lease, across machines (two repos here, as two CI
/// runners would be). Judged with etcdctl, an independent client holding the same lock.
fn writers_on_one_prefix_take_turns(etcd: &Etcd, r: &Repo) {
    // etcdctl holds the lock (an operator's maintenance, or another tool): renew waits, then
    // gives up with `busy`, writing nothing.
    let mut holder = etcd
        .ctl_cmd()
        .args(["lock", "--ttl", "2", "/inforge/prd.lock"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(holder.stdout.take().unwrap());
    let mut key = String::new();
    std::io::BufRead::read_line(&mut out, &mut key).unwrap();
    assert!(key.starts_with("/inforge/prd.lock/"), "etcdctl did not get the lock: {key:?}");
    let before = etcd.get("/inforge/prd/api/mtls/global/cert.pem");
    let mut env = ci(r);
    env.push(("INFORGE_LOCK_WAIT", "1".into()));
    let env1: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    r.cmd(&["pki", "renew", "prd"], &env1).fails("busy", "/inforge/prd.lock");
    assert_eq!(etcd.get("/inforge/prd/api/mtls/global/cert.pem"), before, "a refused renew wrote");
    // The holder is SIGKILLed: its lease lapses within its TTL and the lock frees by itself.
    holder.kill().unwrap();
    holder.wait().unwrap();
    env.last_mut().unwrap().1 = "20".into();
    let env20: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    r.cmd(&["pki", "renew", "prd"], &env20).ok();
    assert_ne!(etcd.get("/inforge/prd/api/mtls/global/cert.pem"), before);

    // Two runners, two repos (two different PKIs), one prefix. A holds the lock (paused
    // inside it); B, started meanwhile, waits for it and writes after A: every set ends as
    // B's. Without the lock B would write during A's pause and A would overwrite it.
    let r2 = etcd_repo(etcd);
    // Meanwhile a host-like reader fetches and verifies every set in a loop: it never sees
    // one torn, though the sets change from one PKI's to another's under it.
    let cfg = inforge_host::provider::EtcdConfig {
        endpoints: vec![etcd.url()],
        prefix: "/inforge/prd".into(),
        ca_file: None,
        client_cert: None,
        timeout: std::time::Duration::from_secs(10),
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = crate::support::torn_set_reader(
        Box::new(inforge_host::provider::EtcdProvider::connect(cfg).unwrap()),
        time::OffsetDateTime::now_utc(),
        stop.clone(),
    );
    let a = renew_paused_in_lock(r, &[]);
    let b = {
        let mut c = Command::new(BIN);
        c.arg("-C").arg(&r2.dir).args(["pki", "renew", "prd"]);
        c.env_remove("INFORGE_PKI_ROOT_KEY").env("INFORGE_SECRETS_KEY", &r2.ci).env("INFORGE_LOCK_WAIT", "20");
        c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    assert!(a.status.success() && b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(sets_chain_to(etcd, &r2.store_text()), 5, "the second writer's sets were overwritten");
    assert_eq!(sets_chain_to(etcd, &r.store_text()), 0);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, torn) = reader.join().unwrap();
    assert!(torn.is_empty(), "{} of {reads} reads were torn: {:?}", torn.len(), &torn[..torn.len().min(5)]);
    assert!(reads >= 20, "the reader ran only {reads} reads");

    // A holder of our own SIGKILLed inside its lock (lease TTL 2 s): the next renew proceeds
    // once the lease lapses, and the killed one wrote nothing.
    let mut killed = renew_paused_in_lock(r, &[("INFORGE_ETCD_LOCK_TTL", "2")]);
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert_eq!(sets_chain_to(etcd, &r2.store_text()), 5);
    let mut env = ci(&r2);
    env.push(("INFORGE_LOCK_WAIT", "20".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let started = std::time::Instant::now();
    r2.cmd(&["pki", "renew", "prd"], &env).ok();
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "the dead holder's lock never freed");
    let keys = String::from_utf8(etcd.ctl(&["get", "--prefix", "/inforge/prd.lock", "--keys-only"]).stdout).unwrap();
    assert!(keys.trim().is_empty(), "a lock key outlived its writer: {keys}");
}

#[test]
fn etcd_with_client_tls_renew_and_project_and_refuse_without_a_client_certificate() {
    let etcd = Etcd::start_tls();
    let tls = etcd.tls.clone().unwrap();
    let r = Repo::initialized();
    let cfg = std::fs::read_to_string(r.dir.join("inforge.yaml")).unwrap().replace(
        "      kind: dir\n      path: ../provider-prd\n",
        &format!(
            "      kind: etcd\n      endpoints: [{}]\n      prefix: /inforge/prd\n      caFile: {}\n      certFile: {}\n      keyFile: {}\n",
            etcd.url(),
            tls.join("ca.pem").display(),
            tls.join("client.pem").display(),
            tls.join("client-key.pem").display()
        ),
    );
    std::fs::write(r.dir.join("inforge.yaml"), &cfg).unwrap();
    renew(&r, &["--service", "api"]).ok();
    assert!(etcd.get("/inforge/prd/api/mtls/global/cert.pem").contains("BEGIN CERTIFICATE"));
    // `pki status` reads etcd too: api's set is sound, the others were never written.
    let run = r.cmd(&["pki", "status", "prd", "--json"], &[]);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((run.code, doc["problemSets"].as_u64()), (1, Some(4)), "{doc}");
    let api = doc["sets"].as_array().unwrap().iter().find(|s| s["service"] == "api").unwrap();
    assert_eq!((api["present"].as_bool(), api["problems"].as_array().map(Vec::len)), (Some(true), Some(0)), "{api}");
    // The Prometheus exposition over etcd: api's leaf sample is its notAfter as openssl reads
    // it from etcd; the four unwritten sets are counted, not sampled.
    let prom = r.cmd(&["pki", "status", "prd", "--format", "prometheus"], &[]);
    assert_eq!(prom.code, 1, "{}", prom.stderr);
    let pem = write(r.tmp.path(), "etcd-api.pem", &etcd.get("/inforge/prd/api/mtls/global/cert.pem"));
    let (ok, end) = openssl(&["x509", "-in", &pem.display().to_string(), "-noout", "-enddate"], r.tmp.path());
    assert!(ok, "{end}");
    let date = tool("date").args(["-u", "+%s", "-d", end.trim().trim_start_matches("notAfter=")]).output().unwrap();
    let secs = String::from_utf8(date.stdout).unwrap().trim().to_string();
    let leaves: Vec<&str> = prom
        .stdout
        .lines()
        .filter(|l| l.starts_with("inforge_certificate_expiration_timestamp_seconds{") && l.contains("kind=\"leaf\""))
        .collect();
    assert_eq!(leaves.len(), 1, "{}", prom.stdout);
    assert!(
        leaves[0].contains("service=\"api\",state=") && leaves[0].ends_with(&format!(" {secs}")),
        "{leaves:?} vs {secs}"
    );
    assert!(prom.stdout.contains("inforge_status_problems{env=\"prd\",code=\"set-missing\"} 4\n"), "{}", prom.stdout);
    let f = |n: &str| tls.join(n).display().to_string();
    let mut source = Host::etcd_source(&etcd);
    source.extend([
        "--etcd-ca".into(),
        f("ca.pem"),
        "--etcd-cert".into(),
        f("client.pem"),
        "--etcd-key".into(),
        f("client-key.pem"),
    ]);
    let h = Host::new("api", "global", source);
    let (code, doc) = h.project(&[]);
    assert_eq!((code, doc["status"].as_str()), (0, Some("changed")), "{doc}");
    h.check_with_openssl();
    // Without the client certificate etcd refuses the connection: TLS is really enforced.
    let no_cert = Host::new(
        "api",
        "global",
        vec![
            "--etcd-endpoints".into(),
            etcd.url(),
            "--etcd-prefix".into(),
            "/inforge/prd".into(),
            "--etcd-ca".into(),
            f("ca.pem"),
        ],
    );
    let (code, doc) = no_cert.project(&[]);
    assert_eq!((code, doc["error"]["code"].as_str()), (1, Some("provider-unreachable")), "{doc}");
    // And the CLI without it (certFile/keyFile removed) fails the same way, the store untouched.
    let plain_ca =
        cfg.lines().filter(|l| !l.contains("certFile") && !l.contains("keyFile")).collect::<Vec<_>>().join("\n") + "\n";
    std::fs::write(r.dir.join("inforge.yaml"), plain_ca).unwrap();
    let before = r.store();
    let env = [("INFORGE_SECRETS_KEY", r.ci.as_str()), ("INFORGE_ETCD_TIMEOUT", "3")];
    r.cmd(&["pki", "renew", "prd"], &env).fails("provider-unreachable", "etcd");
    assert_eq!(r.store(), before);
}

#[test]
fn etcd_unreachable_keeps_the_host_leaf_and_fails_renew_without_touching_the_store() {
    let mut etcd = Etcd::start();
    let r = etcd_repo(&etcd);
    renew(&r, &[]).ok();
    let h = Host::new("api", "global", Host::etcd_source(&etcd));
    assert_eq!(h.project(&[]).0, 0);
    let held = h.held();
    etcd.kill();
    let (code, doc) = h.project(&[]);
    assert_eq!(
        (code, doc["status"].as_str(), doc["error"]["code"].as_str()),
        (1, Some("failed"), Some("provider-unreachable")),
        "{doc}"
    );
    assert_eq!((h.held(), h.reloads()), (held, 1));
    let (code, doc) = h.project(&["--keep-valid"]);
    assert_eq!((code, doc["kept"].as_bool()), (0, Some(true)), "{doc}");
    let before = r.store();
    let env = [("INFORGE_SECRETS_KEY", r.ci.as_str()), ("INFORGE_ETCD_TIMEOUT", "2")];
    r.cmd(&["pki", "renew", "prd"], &env).fails("provider-unreachable", "etcd");
    assert_eq!(r.store(), before);
}

/// Reads a watcher's JSON lines as they come.
struct Watcher {
    child: Child,
    lines: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Watcher {
    fn start(h: &Host) -> Watcher {
        let mut child = h
            .command(&["--json", "--watch", "--poll-interval", "0.1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&l) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        Watcher { child, lines }
    }

    /// Waits (bounded) until `pred` holds for some report; returns how long it took.
    fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&serde_json::Value) -> bool) -> Duration {
        let started = Instant::now();
        while started.elapsed() < limit {
            // Clone before judging: `pred` may itself count reports (and take the lock).
            let seen = self.lines.lock().unwrap().clone();
            if seen.iter().any(&pred) {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("watch: {what} did not happen within {limit:?}; saw {:?}", self.lines.lock().unwrap());
    }

    fn changes(&self) -> usize {
        self.lines.lock().unwrap().iter().filter(|v| v["status"] == "changed").count()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serial_of(v: &serde_json::Value) -> String {
    v["leaf"]["serial"].as_str().unwrap_or_default().to_string()
}

#[test]
fn watch_picks_up_a_renew_within_seconds_and_survives_an_etcd_restart() {
    let mut etcd = Etcd::start();
    let r = etcd_repo(&etcd);
    renew(&r, &[]).ok();
    let h = Host::new("api", "global", Host::etcd_source(&etcd));
    let w = Watcher::start(&h);
    w.wait_for("the first projection", Duration::from_secs(10), |v| v["status"] == "changed");
    renew(&r, &["--service", "api"]).ok();
    let latency = w.wait_for("a second change", Duration::from_secs(5), |_| w.changes() >= 2);
    eprintln!("watch latency after renew (etcd): {latency:?}");
    // etcd killed mid-watch: the good leaf stays; restarted: the watcher recovers.
    etcd.kill();
    let held = h.held();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(h.held(), held, "the good leaf survives the outage");
    etcd.restart();
    let before = w.changes();
    renew(&r, &["--service", "api"]).ok();
    let latency = w.wait_for("a change after the restart", Duration::from_secs(15), |_| w.changes() > before);
    eprintln!("watch latency after an etcd restart and renew: {latency:?}");
    let last = w.lines.lock().unwrap().iter().rev().find(|v| v["status"] == "changed").cloned().unwrap();
    assert!(h.cert().len() > 100);
    assert_eq!(h.reloads(), w.changes(), "one reload per change");
    assert!(!serial_of(&last).is_empty());
    h.check_with_openssl();
}

#[test]
fn watch_on_the_dir_provider_picks_up_a_renew() {
    let r = Repo::initialized();
    renew(&r, &[]).ok();
    let provider = r.dir.join("../provider-prd").canonicalize().unwrap();
    let h = Host::new("web", "eu-west-1", Host::dir_source(&provider));
    let w = Watcher::start(&h);
    w.wait_for("the first projection", Duration::from_secs(10), |v| v["status"] == "changed");
    assert_eq!(w.changes(), 1);
    renew(&r, &["--service", "web"]).ok();
    let latency = w.wait_for("a second change", Duration::from_secs(5), |_| w.changes() >= 2);
    eprintln!("watch latency after renew (dir, 0.1 s polling): {latency:?}");
    h.check_with_openssl();
    assert_eq!(h.reloads(), 2);
}

#[test]
fn recovery_reaches_every_watching_host_at_once() {
    let etcd = Etcd::start();
    let r = etcd_repo(&etcd);
    renew(&r, &[]).ok();
    let hosts = [
        Host::new("api", "global", Host::etcd_source(&etcd)),
        Host::new("billing", "global", Host::etcd_source(&etcd)),
    ];
    let watchers: Vec<Watcher> = hosts.iter().map(Watcher::start).collect();
    for w in &watchers {
        w.wait_for("the first projection", Duration::from_secs(10), |v| v["status"] == "changed");
    }
    let compromised = watchers[0].lines.lock().unwrap()[0]["leaf"]["issuer"].as_str().unwrap().to_string();
    let started = Instant::now();
    r.run(&["pki", "recover-intermediate", "prd", "wardnet-mesh", "global"]).ok();
    for (w, h) in watchers.iter().zip(&hosts) {
        w.wait_for("a leaf from the new intermediate", Duration::from_secs(10), |v| {
            v["status"] == "changed" && v["leaf"]["issuer"].as_str().is_some_and(|i| i != compromised)
        });
        // By an independent tool: the projected chain no longer contains the revoked CA.
        let (_, issuer) = crate::support::openssl(&["x509", "-in", "cert.pem", "-noout", "-issuer"], &h.dir);
        assert!(!issuer.contains(compromised.split(',').next().unwrap().trim_start_matches("CN=")), "{issuer}");
        h.check_with_openssl();
    }
    eprintln!("recover-intermediate → every watching host on the new intermediate: {:?}", started.elapsed());
}

#[test]
fn mtls_between_two_hosts_projected_material_after_a_rotation() {
    let etcd = Etcd::start();
    let r = etcd_repo(&etcd);
    renew(&r, &[]).ok();
    let api = Host::new("api", "global", Host::etcd_source(&etcd));
    let web = Host::new("web", "us-east-1", Host::etcd_source(&etcd));
    r.run(&["pki", "rotate", "prd", "wardnet-mesh", "--intermediate", "global"]).ok();
    renew(&r, &[]).ok();
    for h in [&api, &web] {
        assert_eq!(h.project(&[]).0, 0);
    }
    let now = inforge_core::model::time::format_rfc3339(time::OffsetDateTime::now_utc());
    // web (region) → api (global): allowed by trust, both ways of verification.
    let hs = rustls_handshake(&now, &web.svid(), &api.svid()).expect("rustls mTLS between projected hosts");
    assert_eq!(hs.server_saw, "spiffe://wardnet.example/prd/us-east-1/web");
    let (ok, transcript) = openssl_handshake(&now, &web.svid(), &api.svid());
    assert!(ok, "openssl mTLS between projected hosts:\n{transcript}");
}

#[test]
fn units_pass_systemd_analyze_verify_and_drive_the_bootstrapper() {
    let r = Repo::initialized();
    let out = tempfile::tempdir().unwrap();
    let bin = boot_bin().display().to_string();
    // Links planted in the output directory (hardening L3): one at a file's name is replaced,
    // never written through; one at a directory's name is refused, its target left empty.
    let aside = tempfile::tempdir().unwrap();
    let victim = aside.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::os::unix::fs::symlink(&victim, out.path().join("api-renew.timer")).unwrap();
    let elsewhere = aside.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.path().join("api.service.d")).unwrap();
    let units_api =
        ["pki", "units", "prd", "api", "--bootstrap-bin", &bin, "--out-dir", &out.path().display().to_string()];
    r.cmd(&units_api, &[]).fails("io", "does not write through");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "a unit was written through a planted link");
    std::fs::remove_file(out.path().join("api.service.d")).unwrap();
    r.cmd(&units_api, &[]).ok();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep", "a unit was written through a planted link");
    assert!(!std::fs::symlink_metadata(out.path().join("api-renew.timer")).unwrap().file_type().is_symlink());
    r.cmd(
        &[
            "pki",
            "units",
            "prd",
            "web",
            "--scope",
            "eu-west-1",
            "--watch",
            "--bootstrap-bin",
            &bin,
            "--out-dir",
            &out.path().display().to_string(),
        ],
        &[],
    )
    .ok();
    r.cmd(&["pki", "units", "prd", "web"], &[]).fails("units-scope-required", "us-east-1, eu-west-1");
    // A short leafTtl: the timer runs three times per lifetime (and systemd accepts it).
    let cfg = std::fs::read_to_string(r.dir.join("inforge.yaml")).unwrap();
    assert!(cfg.contains("  worker:\n"));
    std::fs::write(r.dir.join("inforge.yaml"), cfg.replace("  worker:\n", "  worker:\n    leafTtl: 24h\n")).unwrap();
    r.cmd(
        &["pki", "units", "prd", "worker", "--bootstrap-bin", &bin, "--out-dir", &out.path().display().to_string()],
        &[],
    )
    .ok();
    let worker_timer = std::fs::read_to_string(out.path().join("worker-renew.timer")).unwrap();
    assert!(worker_timer.contains("OnUnitActiveSec=28800s"), "{worker_timer}");
    std::fs::write(r.dir.join("inforge.yaml"), cfg).unwrap();
    // The services the drop-ins extend.
    for s in ["api", "web", "worker"] {
        std::fs::write(
            out.path().join(format!("{s}.service")),
            "[Unit]\nDescription=stub\n[Service]\nExecStart=/bin/sleep infinity\nExecReload=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
        )
        .unwrap();
    }
    let verify = |units: &[&str]| {
        let o = tool("systemd-analyze")
            .env("SYSTEMD_UNIT_PATH", format!("{}:", out.path().display()))
            .arg("verify")
            .args(units.iter().map(|u| out.path().join(u)))
            .output()
            .unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout))
    };
    // systemd-analyze prints warnings for bad keys and values but exits 0: silence is the pass.
    let (ok, text) = verify(&[
        "api.service",
        "api-renew.service",
        "api-renew.timer",
        "web.service",
        "web-mtls-watch.service",
        "worker.service",
        "worker-renew.service",
        "worker-renew.timer",
    ]);
    assert!(ok && text.trim().is_empty(), "systemd-analyze verify:\n{text}");
    // Negative control: the same check catches a bad drop-in and a bad timer value.
    let dropin = out.path().join("api.service.d/inforge-mtls.conf");
    let good = std::fs::read_to_string(&dropin).unwrap();
    std::fs::write(&dropin, good.replace("RuntimeDirectory=inforge/api", "RuntimeDirectory=/abs")).unwrap();
    let timer = out.path().join("api-renew.timer");
    std::fs::write(&timer, std::fs::read_to_string(&timer).unwrap().replace("=1h", "=banana")).unwrap();
    let (_, text) = verify(&["api.service", "api-renew.timer"]);
    assert!(text.contains("RuntimeDirectory") && text.contains("banana"), "negative control not caught:\n{text}");
    std::fs::write(&dropin, &good).unwrap();

    // The drop-in's ExecStartPre, run as systemd would (words split, quotes honoured by sh
    // here), projects a first leaf into a tmpfs runtime directory.
    renew(&r, &[]).ok();
    let line = good.lines().find_map(|l| l.strip_prefix("ExecStartPre=")).unwrap();
    let host = tempfile::Builder::new().prefix("inforge-units-").tempdir_in("/dev/shm").unwrap();
    let line = line.replace("/run/inforge/api", &host.path().display().to_string());
    let status = Command::new("/bin/sh").arg("-c").arg(&line).status().unwrap();
    assert!(status.success(), "{line}");
    let h = Host {
        dir: host.path().to_path_buf(),
        log: host.path().join("x"),
        _tmp: tempfile::tempdir().unwrap(),
        service: "api",
        scope: "global",
        source: vec![],
    };
    h.check_with_openssl();
}

#[test]
fn bootstrap_refusals_change_nothing() {
    let r = Repo::initialized();
    renew(&r, &[]).ok();
    let provider = r.dir.join("../provider-prd").canonicalize().unwrap();
    // A runtime directory on disk is refused (the key would persist), unless allowed.
    let disk = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut h = Host::new("api", "global", Host::dir_source(&provider));
    let shm = std::mem::replace(&mut h.dir, disk.path().to_path_buf());
    let (code, doc) = h.project(&[]);
    assert_eq!((code, doc["error"]["code"].as_str()), (1, Some("runtime-dir-persistent")), "{doc}");
    assert!(snapshot(disk.path()).is_empty() && h.reloads() == 0);
    assert_eq!(h.project(&["--allow-persistent"]).0, 0);
    h.dir = shm;
    // No set for this service/scope; a missing runtime directory.
    let ghost = Host::new("web", "global", Host::dir_source(&provider));
    let (code, doc) = ghost.project(&[]);
    assert_eq!((code, doc["error"]["code"].as_str()), (1, Some("set-missing")), "{doc}");
    let mut gone = Host::new("api", "global", Host::dir_source(&provider));
    gone.dir = gone.dir.join("nope");
    assert_eq!(gone.project(&[]).1["error"]["code"], "runtime-dir-missing");
    // A failing reload: the leaf is in place, exit 1, and the next run owes the reload.
    let mut c = h.command(&["--json"]);
    let out = c.arg("--reload-command").arg("false").output();
    assert_eq!(out.unwrap().status.code(), Some(2), "two reload commands are a usage error");
    let failing = Command::new(boot_bin())
        .args(["project", "--service", "api", "--scope", "global", "--runtime-dir"])
        .arg(&h.dir)
        .args(&h.source)
        .args(["--reload-command", "false", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&failing.stdout).unwrap();
    assert_eq!(
        (failing.status.code(), doc["status"].as_str(), doc["error"]["code"].as_str()),
        (Some(1), Some("changed"), Some("command-failed")),
        "{doc}"
    );
    let reloads = h.reloads();
    let (code, doc) = h.project(&[]);
    assert_eq!(
        (code, doc["status"].as_str(), doc["command"]["kind"].as_str()),
        (0, Some("unchanged"), Some("reload")),
        "the owed reload ran: {doc}"
    );
    assert_eq!(h.reloads(), reloads + 1);
    let (_, doc) = h.project(&[]);
    assert!(doc.get("command").is_none(), "owed only once: {doc}");
    // Usage errors exit 2.
    let o = Command::new(boot_bin()).args(["project", "--service", "api"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

// ---- Root projecting into a directory the service user owns (hardening issue H1, H2, L6) ----

/// A host whose runtime directory belongs to `nobody` (the service user), with a root-owned
/// file and a root-owned directory beside it that the service user must never get at.
fn nobody_host(provider: &Path) -> (Host, PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let h = Host::new("api", "global", Host::dir_source(provider));
    let base = h.dir.parent().unwrap().to_path_buf();
    crate::support::hand_to_nobody(&base, &h.dir);
    let precious = base.join("precious");
    std::fs::write(&precious, "root's file\n").unwrap();
    let vault = base.join("vault");
    std::fs::create_dir(&vault).unwrap();
    std::fs::set_permissions(&vault, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(vault.join("secret"), "root's secret\n").unwrap();
    (h, precious, vault)
}

/// H1: the service user plants `.reload-pending` as a link to a root-owned file, then to a
/// missing path; root's projection (with a reload command) used to write through it,
/// truncating the file or creating the path. Now the marker is made and removed relative to
/// the runtime directory, never through a link.
#[test]
fn a_planted_reload_marker_link_is_never_followed() {
    let r = Repo::initialized();
    renew(&r, &[]).ok();
    let provider = r.dir.join("../provider-prd").canonicalize().unwrap();
    let (h, precious, _) = nobody_host(&provider);
    let marker = h.dir.join(".reload-pending");
    crate::support::as_nobody(&format!("ln -s {} {}", precious.display(), marker.display())).ok();
    let (code, doc) = h.project(&[]);
    assert_eq!((code, doc["status"].as_str()), (0, Some("changed")), "{doc}");
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "root's file\n", "truncated through the link");
    assert_eq!(h.reloads(), 1);
    // A missing path (as /etc/nologin would be): never created.
    let nologin = h.dir.parent().unwrap().join("nologin");
    renew(&r, &["--service", "api"]).ok();
    crate::support::as_nobody(&format!("ln -sf {} {}", nologin.display(), marker.display())).ok();
    let (code, doc) = h.project(&[]);
    assert_eq!((code, doc["status"].as_str()), (0, Some("changed")), "{doc}");
    assert!(std::fs::symlink_metadata(&nologin).is_err(), "created through the link");
    assert_eq!(h.reloads(), 2);
    assert!(std::fs::symlink_metadata(&marker).is_err(), "the owed reload ran and was cleared");
}

/// H2: an unprivileged racer (inotify, as `nobody`) swaps each fresh `.gen-*` directory for
/// a link to a root-owned directory between its creation and its use. Root used to chmod,
/// chown and create files through the link; now everything goes through the descriptor of
/// the directory it made. After 20 projections the root-owned directory is untouched.
#[test]
fn a_racer_swapping_the_new_generation_for_a_link_gets_nothing() {
    use std::os::unix::fs::MetadataExt;
    let r = Repo::initialized();
    renew(&r, &[]).ok();
    let provider = r.dir.join("../provider-prd").canonicalize().unwrap();
    let (h, _, vault) = nobody_host(&provider);
    const RACER: &str = r#"
import ctypes, os, struct, sys
d, target = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL("libc.so.6", use_errno=True)
fd = libc.inotify_init()
assert fd >= 0 and libc.inotify_add_watch(fd, d.encode(), 0x100) >= 0  # IN_CREATE
print("ready", flush=True)
planted, n = set(), 0
while True:
    buf, off = os.read(fd, 65536), 0
    while off < len(buf):
        _, _, _, size = struct.unpack_from("iIII", buf, off)
        name = buf[off + 16 : off + 16 + size].rstrip(b"\0").decode()
        off += 16 + size
        if name.startswith(".gen-") and name not in planted:
            planted.add(name)
            try:
                os.rename(os.path.join(d, name), os.path.join(d, "moved" + name))
                os.symlink(target, os.path.join(d, name))
                n += 1
                print(n, flush=True)
            except OSError:
                pass
"#;
    /// Killed by PID however the test ends.
    struct Racer(Child);
    impl Drop for Racer {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut racer = Racer(
        Command::new(tool("setpriv").get_program())
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", RACER])
            .arg(&h.dir)
            .arg(&vault)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(racer.0.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let mode = |p: &Path| std::fs::symlink_metadata(p).map(|m| (m.mode() & 0o7777, m.uid(), m.gid())).unwrap();
    let before = (mode(&vault), snapshot(&vault));
    for _ in 0..20 {
        // Forget the held set, so every run projects anew.
        let _ = std::fs::remove_file(h.dir.join(".current"));
        let _ = h.command(&[]).output().unwrap();
    }
    drop(racer);
    let mut swaps = String::new();
    std::io::Read::read_to_string(&mut out, &mut swaps).unwrap();
    assert!(swaps.lines().count() > 0, "the racer never swapped a generation: the test proves nothing");
    assert_eq!((mode(&vault), snapshot(&vault)), before, "root wrote into the racer's target");
}

/// L6: every duration is bounded at parse time: NaN, infinite, negative or over an hour is a
/// usage error (exit 2) naming the option, never a panic (exit 101) or a forever wait.
#[test]
fn poll_interval_is_bounded_at_parse_time() {
    let empty = tempfile::tempdir().unwrap();
    let run = tempfile::Builder::new().tempdir_in("/dev/shm").unwrap();
    for bad in ["nan", "NaN", "inf", "-inf", "-1", "3601", "1e300", "soon"] {
        let o = Command::new("timeout")
            .args(["-s", "KILL", "10"])
            .arg(boot_bin())
            .args(["project", "--service", "api", "--scope", "global", "--watch", "--runtime-dir"])
            .arg(run.path())
            .arg("--provider-dir")
            .arg(empty.path())
            .arg(format!("--poll-interval={bad}"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "--poll-interval {bad}: {stderr}");
        assert!(stderr.contains("--poll-interval") && !stderr.contains("panicked"), "{bad}: {stderr}");
    }
}

/// L4/L5: whatever in the runtime directory cannot be read as a set (a file that is not UTF-8,
/// a FIFO the service user planted) counts as no set: the projection replaces it and exits 0,
/// instead of failing (or hanging) on every run from then on.
#[test]
fn a_broken_or_planted_runtime_set_is_replaced_never_blocks() {
    let r = Repo::initialized();
    renew(&r, &[]).ok();
    let provider = r.dir.join("../provider-prd").canonicalize().unwrap();
    let h = Host::new("api", "global", Host::dir_source(&provider));
    assert_eq!(h.project(&[]).0, 0);
    let held = h.dir.join("cert.pem").canonicalize().unwrap();
    let mut bytes = std::fs::read(&held).unwrap();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    std::fs::write(&held, bytes).unwrap();
    let (code, doc) = h.project(&[]);
    assert_eq!((code, doc["status"].as_str()), (0, Some("changed")), "{doc}");
    // A FIFO in place of cert.pem: opened without blocking, so the run finishes.
    std::fs::remove_file(h.dir.join("cert.pem")).unwrap();
    assert!(tool("mkfifo").arg(h.dir.join("cert.pem")).status().unwrap().success());
    let out = tool("timeout")
        .args(["-s", "KILL", "20"])
        .arg(boot_bin())
        .args(["project", "--service", "api", "--scope", "global", "--json", "--runtime-dir"])
        .arg(&h.dir)
        .args(&h.source)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{doc} {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(doc["status"], "changed", "{doc}");
    assert!(std::fs::symlink_metadata(h.dir.join("cert.pem")).unwrap().file_type().is_symlink());
}

// ---- Revocable leaves: CRLs checked by OpenSSL, a real handshake, the bootstrapper ----

/// `pki revoke-leaf` (no identity), then a renew: OpenSSL verifies every CRL of `crl.pem`
/// against the bundle, `verify -crl_check` refuses the old leaf and accepts the new one, an
/// `s_server -crl_check` refuses the revoked client in a real handshake and accepts its
/// replacement, `pki status` names the set still serving it, and the bootstrapper refuses to
/// project it.
#[test]
fn a_revoked_leaf_is_refused_by_openssl_crl_checks_and_by_the_bootstrapper() {
    let r = Repo::initialized();
    renew(&r, &[]).ok();
    let provider = r.dir.join("../provider-prd").canonicalize().unwrap();
    let set = provider.join("web/mtls/us-east-1");
    let old = r.tmp.path().join("old-web");
    std::fs::create_dir(&old).unwrap();
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(set.join(f), old.join(f)).unwrap();
    }
    let (_, serial) = openssl(&["x509", "-in", "cert.pem", "-noout", "-serial"], &old);
    let serial = serial.trim().trim_start_matches("serial=").to_string();
    // Recorded with no identity at all: a reviewable change.
    let rec = r.cmd(&["pki", "revoke-leaf", "prd", "wardnet-mesh", "--serial", &serial, "--json"], &[]).ok();
    let doc: serde_json::Value = serde_json::from_str(&rec.stdout).unwrap();
    assert_eq!(doc["serial"].as_str().unwrap(), serial.to_lowercase());
    assert!(r.store_text().contains("\nversion: 2\n") && r.store_text().contains("revokedLeaves:"));
    // The git textconv rendering (store show) names it, so the pull request's diff does.
    let store_file = r.store_path().display().to_string();
    let shown = r.cmd(&["store", "show", &store_file], &[]).ok().stdout;
    assert!(shown.contains(&format!("revoked leaf {}: keyCompromise", serial.to_lowercase())), "{shown}");
    r.fails_unchanged(
        &["pki", "revoke-leaf", "prd", "wardnet-mesh", "--serial", &serial],
        Some(&[]),
        "leaf-already-revoked",
        "already revoked",
    );
    // Before the renew, status names the set that still serves it.
    let st = r.cmd(&["pki", "status", "prd", "--json"], &[]);
    assert_eq!(st.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
    let web = doc["sets"].as_array().unwrap().iter().find(|s| s["service"] == "web" && s["scope"] == "us-east-1");
    let codes: Vec<&str> =
        web.unwrap()["problems"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"leaf-revoked") && codes.contains(&"crl-stale"), "{codes:?}");

    renew(&r, &[]).ok();
    // Every CRL in crl.pem verifies against the set's bundle and lists the serial.
    let crl = std::fs::read_to_string(set.join("crl.pem")).unwrap();
    let blocks: Vec<String> =
        crl.split_inclusive("-----END X509 CRL-----\n").filter(|b| b.contains("BEGIN")).map(String::from).collect();
    assert_eq!(blocks.len(), 3, "the root's, us-east-1's and global's");
    std::fs::copy(set.join("bundle.pem"), old.join("bundle.pem")).unwrap();
    let roots = r.cmd(&["pki", "bundle", "prd", "wardnet-mesh", "--roots"], &[]).ok().stdout;
    write(&old, "roots.pem", &roots);
    for (i, b) in blocks.iter().enumerate() {
        let name = format!("crl-{i}.pem");
        write(&old, &name, b);
        let (_, issuer) = openssl(&["crl", "-in", &name, "-noout", "-issuer"], &old);
        // The root's CRL (first) is signed by the root and lists intermediates; each
        // intermediate's lists the leaf.
        let ca = if issuer.contains("root CA") { "roots.pem" } else { "bundle.pem" };
        assert_eq!(issuer.contains("root CA"), i == 0, "{issuer}");
        let (ok, out) = openssl(&["crl", "-in", &name, "-CAfile", ca, "-noout"], &old);
        assert!(ok && out.contains("verify OK"), "{out}");
        let (_, text) = openssl(&["crl", "-in", &name, "-noout", "-text"], &old);
        if i > 0 {
            assert!(text.contains(&serial.to_uppercase()) && text.contains("Key Compromise"), "{text}");
        }
    }
    let crls = set.join("crl.pem").display().to_string();
    let verify = |cert: &Path| {
        let cert = cert.display().to_string();
        openssl(&["verify", "-partial_chain", "-crl_check", "-CAfile", "bundle.pem", "-CRLfile", &crls, &cert], &old)
    };
    let (ok, out) = verify(&old.join("cert.pem"));
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (ok, out) = verify(&set.join("cert.pem"));
    assert!(ok, "{out}");

    // A real handshake: api (global) as an s_server that checks the client's CRL. s_server's
    // `-CRL` loads one CRL; a `-CAfile` holding bundle.pem then crl.pem loads them all (as
    // nginx's `ssl_crl` does), docs/trust.md.
    let attime = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let api = Svid::at(&provider, "api", "global");
    let trust = format!(
        "{}{}",
        std::fs::read_to_string(api.p("bundle.pem")).unwrap(),
        std::fs::read_to_string(api.p("crl.pem")).unwrap()
    );
    let trust = write(&old, "api-trust.pem", &trust).display().to_string();
    let mut server_args = crate::tls::own_files(&api, &attime);
    let at = server_args.iter().position(|a| a == "-CAfile").unwrap();
    server_args[at + 1] = trust;
    server_args.extend(["-Verify", "2", "-crl_check"].map(String::from));
    let revoked_client = Svid { dir: old.clone() };
    let run = crate::tls::openssl_pair(&server_args, &crate::tls::own_files(&revoked_client, &attime));
    assert!(!run.server_ok && run.transcript.contains("certificate revoked"), "{}", run.transcript);
    let run = crate::tls::openssl_pair(
        &server_args,
        &crate::tls::own_files(&Svid::at(&provider, "web", "us-east-1"), &attime),
    );
    assert!(run.client_ok && run.server_ok, "{}", run.transcript);

    // The bootstrapper: the provider set holding the revoked leaf beside the current CRLs.
    let h = Host::new("web", "us-east-1", Host::dir_source(&provider));
    assert_eq!(h.project(&[]).0, 0);
    for f in ["crl.pem", "bundle.spiffe.json"] {
        assert_eq!(std::fs::read(h.dir.join(f)).unwrap(), std::fs::read(set.join(f)).unwrap(), "{f} is projected");
    }
    let held = snapshot(&h.dir);
    for f in ["cert.pem", "key.pem"] {
        std::fs::write(set.join(f), std::fs::read(old.join(f)).unwrap()).unwrap();
    }
    let (code, doc) = h.project(&[]);
    assert_eq!((code, doc["error"]["code"].as_str()), (1, Some("set-revoked")), "{doc}");
    assert!(doc["error"]["message"].as_str().unwrap().contains(&serial.to_lowercase()), "{doc}");
    assert_eq!(snapshot(&h.dir), held, "the host keeps its last good set");
    assert!(
        std::fs::read_to_string(h.dir.join("crl.pem")).unwrap().contains("BEGIN X509 CRL"),
        "projected with the set"
    );
}

/// The roots' CRLs, signed at the offline ceremonies and served in every `crl.pem`: a consumer
/// anchored on the root that checks the whole chain (OpenSSL `-crl_check_all`, what nginx's
/// `ssl_crl` turns on) accepts the mesh's leaves, and after a recovery refuses a leaf of the
/// revoked intermediate because the root's CRL lists that intermediate.
#[test]
fn whole_chain_crl_checks_pass_and_a_recovered_intermediate_is_revoked_by_the_roots_crl() {
    let r = Repo::initialized();
    renew(&r, &[]).ok();
    let provider = r.dir.join("../provider-prd").canonicalize().unwrap();
    let set = provider.join("web/mtls/us-east-1");
    let work = r.tmp.path().join("chain-check");
    std::fs::create_dir(&work).unwrap();
    let roots = r.cmd(&["pki", "bundle", "prd", "wardnet-mesh", "--roots"], &[]).ok().stdout;
    write(&work, "roots.pem", &roots);
    let verify = |cert: &Path, crls: &Path| {
        let (cert, crls) = (cert.display().to_string(), crls.display().to_string());
        openssl(
            &["verify", "-crl_check_all", "-CAfile", "roots.pem", "-untrusted", &cert, "-CRLfile", &crls, &cert],
            &work,
        )
    };
    let (ok, out) = verify(&set.join("cert.pem"), &set.join("crl.pem"));
    assert!(ok, "root-anchored, whole chain: {out}");
    std::fs::copy(set.join("cert.pem"), work.join("old.pem")).unwrap();
    let old_crls = std::fs::read_to_string(set.join("crl.pem")).unwrap();

    r.run(&["pki", "recover-intermediate", "prd", "wardnet-mesh", "us-east-1"]).ok();
    renew(&r, &[]).ok();
    let (ok, out) = verify(&set.join("cert.pem"), &set.join("crl.pem"));
    assert!(ok, "the re-minted leaf: {out}");
    // The old leaf, with its own intermediate's CRL (from before) beside the new crl.pem: the
    // root's CRL now lists that intermediate.
    let old_int_crl: String = old_crls
        .split_inclusive("-----END X509 CRL-----\n")
        .filter(|b| {
            write(&work, "one.pem", b);
            openssl(&["crl", "-in", "one.pem", "-noout", "-issuer"], &work).1.contains("us-east-1 intermediate")
        })
        .collect();
    assert!(old_int_crl.contains("BEGIN X509 CRL"));
    let combined = format!("{}{old_int_crl}", std::fs::read_to_string(set.join("crl.pem")).unwrap());
    let combined = write(&work, "combined.pem", &combined);
    let (ok, out) = verify(&work.join("old.pem"), &combined);
    assert!(!ok && out.contains("error 23 at 1 depth") && out.contains("certificate revoked"), "{out}");
    // The root CRL verifies against the root, and `pki root-crl` re-signs it (offline only).
    let store = r.store_text();
    assert!(store.contains("rootCrls:"), "{store}");
    r.fails_unchanged(
        &["pki", "root-crl", "prd", "wardnet-mesh"],
        Some(&[]),
        "identity-missing",
        "offline root identity",
    );
    let run = r.run(&["pki", "root-crl", "prd", "wardnet-mesh", "--json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((doc["crls"].as_u64(), doc["revoked"].as_u64()), (Some(1), Some(1)), "{doc}");
}
