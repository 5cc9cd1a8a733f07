//! Providers: where leaf material goes, behind one [`Provider`] trait: the `dir` provider
//! here and the `etcd` provider in [`crate::etcd`] (SPEC §6). Hosts read sets back through
//! the same trait ([`Provider::fetch`]).
//!
//! The `dir` layout is `<path>/<service>/mtls/<scope>/{cert.pem,key.pem,bundle.pem}`, where
//! `<scope>` is a symlink to a hidden generation directory `.<scope>@<generation>/` (the
//! "atomic writer" pattern Kubernetes uses for projected secrets). A write of many sets:
//! 1. takes the provider lock (one writer at a time; a second waits, bounded);
//! 2. writes every set's files into a fresh generation directory (key 0600);
//! 3. makes them all durable at once (one `syncfs` of the provider's filesystem);
//! 4. swaps every `<scope>` link (a rename: atomic), then makes the links durable;
//! 5. removes generations that are neither current nor the one just replaced (a reader may
//!    still be in it), and leftovers of killed writers.
//!
//! A link never points at a generation that is not durable, and a kill at any moment leaves
//! every set old or new. A failure before step 4 removes this run's generations, so the
//! provider is as it was.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use inforge_core::config::Provider as ProviderConfig;
use inforge_core::ops::{Env, ProviderInfo};
use inforge_core::projection::SetTexts;
use zeroize::Zeroizing;

use crate::etcd::{EtcdConfig, EtcdProvider};

use crate::lock;
use crate::repo::{unique_suffix, Repo};
use crate::HostError;

/// One service+scope's files.
#[derive(Debug, Clone, Copy)]
pub struct SetFiles<'a> {
    /// Service.
    pub service: &'a str,
    /// Scope.
    pub scope: &'a str,
    /// `cert.pem`: leaf then chain.
    pub cert: &'a str,
    /// `key.pem` (secret).
    pub key: &'a str,
    /// `bundle.pem`.
    pub bundle: &'a str,
}

/// A set whose bundle alone changes.
#[derive(Debug, Clone, Copy)]
pub struct BundleOnly<'a> {
    /// Service.
    pub service: &'a str,
    /// Scope.
    pub scope: &'a str,
    /// The new `bundle.pem`.
    pub bundle: &'a str,
}

/// Where leaf material is written and read back.
pub trait Provider {
    /// Kind and location, for reports.
    fn info(&self) -> ProviderInfo;
    /// Replaces each set whole; returns where each went, in order.
    fn write_sets(&mut self, sets: &[SetFiles<'_>]) -> Result<Vec<String>, HostError>;
    /// Rewrites each listed set's `bundle.pem`, keeping its current leaf and key; the reads
    /// and the writes happen under one provider lock, so a concurrent renew's newer leaf is
    /// never put back to an older one. Returns the sets skipped because they have no leaf yet.
    fn refresh_bundles(&mut self, bundles: &[BundleOnly<'_>]) -> Result<Vec<(String, String)>, HostError>;
    /// The current set of a service+scope (all three files from one generation or
    /// revision), if any.
    fn fetch(&self, service: &str, scope: &str) -> Result<Option<SetTexts>, HostError>;
}

/// The environment's provider as configured in inforge.yaml. A `dir` provider must already
/// exist: renew adopts it, never creates it.
pub fn open(repo: &Repo, env: &Env) -> Result<Box<dyn Provider>, HostError> {
    let provider = &env.project.environment(&env.name)?.provider;
    provider.check(&env.name)?;
    match provider {
        ProviderConfig::Dir { path } => {
            let root = repo.root.join(path);
            match fs::metadata(&root) {
                Ok(m) if m.is_dir() => Ok(Box::new(DirProvider { root })),
                Ok(_) => Err(HostError::ProviderNotDir { path: root }),
                Err(_) => Err(HostError::ProviderMissing { path: root }),
            }
        }
        ProviderConfig::Etcd { endpoints, prefix, ca_file, cert_file, key_file } => {
            let client_cert = match (cert_file, key_file) {
                (Some(c), Some(k)) => Some((repo.root.join(c), repo.root.join(k))),
                _ => None,
            };
            Ok(Box::new(EtcdProvider::connect(EtcdConfig {
                endpoints: endpoints.clone(),
                prefix: prefix.clone(),
                ca_file: ca_file.as_ref().map(|c| repo.root.join(c)),
                client_cert,
                timeout: etcd_timeout(),
            })?))
        }
    }
}

/// The per-request etcd timeout: `INFORGE_ETCD_TIMEOUT` seconds, default 10.
pub fn etcd_timeout() -> std::time::Duration {
    let secs = std::env::var("INFORGE_ETCD_TIMEOUT").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(10);
    std::time::Duration::from_secs(secs.clamp(1, 3600))
}

/// Test hook: `INFORGE_TEST_FAULT=<point>` aborts the process at that point (as a crash or a
/// SIGKILL would), so the crash-safety tests can reach every step.
pub fn fault_point(point: &str) {
    if std::env::var_os("INFORGE_TEST_FAULT").is_some_and(|v| v == point) {
        std::process::abort();
    }
}

/// The `dir` provider.
#[derive(Debug)]
pub struct DirProvider {
    /// Its root directory.
    pub root: PathBuf,
}

fn io<'a>(op: &'static str, p: &'a Path) -> impl Fn(std::io::Error) -> HostError + 'a {
    move |e| HostError::io(op, p, e)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), HostError> {
    use std::io::Write;
    let mut f =
        fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(io("create", path))?;
    f.write_all(bytes).map_err(io("write", path))
}

fn sync_fs(root: &Path) -> Result<(), HostError> {
    let d = fs::File::open(root).map_err(io("open", root))?;
    rustix::fs::syncfs(&d).map_err(|e| HostError::io("sync", root, e.into()))
}

impl DirProvider {
    fn write_generation(&self, s: &SetFiles<'_>, generation: &str) -> Result<PathBuf, HostError> {
        let mtls = self.root.join(s.service).join("mtls");
        fs::create_dir_all(&mtls).map_err(io("create", &mtls))?;
        // '@' cannot occur in a scope name, so `.eu@…` never matches scope `eu.west`.
        let gen_dir = mtls.join(format!(".{}@{generation}", s.scope));
        fs::create_dir(&gen_dir).map_err(io("create", &gen_dir))?;
        write_file(&gen_dir.join("cert.pem"), s.cert.as_bytes(), 0o644)?;
        write_file(&gen_dir.join("key.pem"), s.key.as_bytes(), 0o600)?;
        write_file(&gen_dir.join("bundle.pem"), s.bundle.as_bytes(), 0o644)?;
        Ok(gen_dir)
    }

    /// Points `<scope>` at the generation; returns the generation it pointed at before.
    fn swap(&self, s: &SetFiles<'_>, generation: &str) -> Result<Option<PathBuf>, HostError> {
        let mtls = self.root.join(s.service).join("mtls");
        let gen_name = format!(".{}@{generation}", s.scope);
        let link = mtls.join(s.scope);
        let previous = fs::read_link(&link).ok();
        if previous.is_none() && fs::symlink_metadata(&link).is_ok() {
            // A plain directory from before inforge managed this path: move it aside once.
            let aside = mtls.join(format!(".{}@adopted-{generation}", s.scope));
            fs::rename(&link, &aside).map_err(io("move aside", &link))?;
        }
        let tmp_link = mtls.join(format!(".{}@link-{generation}", s.scope));
        std::os::unix::fs::symlink(&gen_name, &tmp_link).map_err(io("symlink", &tmp_link))?;
        fs::rename(&tmp_link, &link).map_err(io("swap", &link))?;
        Ok(previous)
    }

    /// Removes this scope's generations other than `keep`, and stale link temps.
    fn clean(&self, s: &SetFiles<'_>, keep: &[&Path]) {
        let mtls = self.root.join(s.service).join("mtls");
        let prefix = format!(".{}@", s.scope);
        let Ok(entries) = fs::read_dir(&mtls) else { return };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(&prefix) || name.contains("@adopted-") || keep.iter().any(|k| *k == Path::new(&name)) {
                continue;
            }
            if name.contains("@link-") {
                let _ = fs::remove_file(e.path());
            } else {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
}

impl Provider for DirProvider {
    fn info(&self) -> ProviderInfo {
        ProviderInfo { kind: "dir".into(), path: self.root.display().to_string() }
    }

    fn write_sets(&mut self, sets: &[SetFiles<'_>]) -> Result<Vec<String>, HostError> {
        if sets.is_empty() {
            return Ok(Vec::new());
        }
        let _lock = lock::acquire(&self.root, lock::wait())?;
        self.write_locked(sets)
    }

    fn refresh_bundles(&mut self, bundles: &[BundleOnly<'_>]) -> Result<Vec<(String, String)>, HostError> {
        let _lock = lock::acquire(&self.root, lock::wait())?;
        let mut current = Vec::new();
        let mut skipped = Vec::new();
        for b in bundles {
            match self.fetch(b.service, b.scope)? {
                Some(set) => current.push((b, set.cert, set.key)),
                None => skipped.push((b.service.to_string(), b.scope.to_string())),
            }
        }
        let sets: Vec<SetFiles<'_>> = current
            .iter()
            .map(|(b, cert, key)| SetFiles { service: b.service, scope: b.scope, cert, key, bundle: b.bundle })
            .collect();
        if !sets.is_empty() {
            self.write_locked(&sets)?;
        }
        Ok(skipped)
    }

    fn fetch(&self, service: &str, scope: &str) -> Result<Option<SetTexts>, HostError> {
        // Resolve the scope link once so all three files come from the same generation.
        let dir = match fs::canonicalize(self.root.join(service).join("mtls").join(scope)) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(HostError::io("read", &self.root.join(service).join("mtls").join(scope), e)),
        };
        Ok(Some(SetTexts {
            cert: crate::repo::read_text(&dir.join("cert.pem"))?,
            key: Zeroizing::new(crate::repo::read_text(&dir.join("key.pem"))?),
            bundle: crate::repo::read_text(&dir.join("bundle.pem"))?,
        }))
    }
}

impl DirProvider {
    /// Steps 2–5 of a write; the caller holds the provider lock.
    fn write_locked(&mut self, sets: &[SetFiles<'_>]) -> Result<Vec<String>, HostError> {
        let generation = unique_suffix();
        let mut written = Vec::with_capacity(sets.len());
        for s in sets {
            match self.write_generation(s, &generation) {
                Ok(d) => written.push(d),
                Err(e) => {
                    // Nothing is linked yet: drop this run's generations, the provider is as it was.
                    for d in &written {
                        let _ = fs::remove_dir_all(d);
                    }
                    let failed = self.root.join(s.service).join("mtls").join(format!(".{}@{generation}", s.scope));
                    let _ = fs::remove_dir_all(failed);
                    return Err(e);
                }
            }
            fault_point("provider-mid-files");
        }
        if let Err(e) = sync_fs(&self.root) {
            for d in &written {
                let _ = fs::remove_dir_all(d);
            }
            return Err(e);
        }
        fault_point("provider-before-swap");
        let mut previous = Vec::with_capacity(sets.len());
        for s in sets {
            previous.push(self.swap(s, &generation)?);
            fault_point("provider-mid-swap");
        }
        sync_fs(&self.root)?;
        let gen_names: Vec<String> = sets.iter().map(|s| format!(".{}@{generation}", s.scope)).collect();
        for ((s, prev), g) in sets.iter().zip(&previous).zip(&gen_names) {
            let mut keep: Vec<&Path> = vec![Path::new(g)];
            if let Some(p) = prev {
                keep.push(p);
            }
            self.clean(s, &keep);
        }
        Ok(sets.iter().map(|s| self.root.join(s.service).join("mtls").join(s.scope).display().to_string()).collect())
    }
}
