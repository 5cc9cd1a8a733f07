//! Providers: where leaf material goes, behind one [`Provider`] trait: the `dir` provider
//! ([`dir`]) and the `etcd` provider ([`etcd`]) (SPEC §6). Hosts read sets back through the
//! same trait ([`Provider::fetch`]). [`from_config`] is the one way every frontend opens one:
//! it runs the config check first, so a bad etcd prefix or scheme is refused the same way by
//! the CLI, Python and the bootstrapper.

pub mod dir;
pub mod etcd;

use std::fs;
use std::path::Path;

use inforge_core::mesh::projection::SetTexts;
use inforge_core::mesh::LeafTarget;
use inforge_core::model::config::Provider as ProviderConfig;
use inforge_core::ops::{Env, ProviderInfo};
use inforge_core::views::status::Fetched;

pub use dir::DirProvider;
pub use etcd::{EtcdConfig, EtcdProvider, WatchOutcome};

use crate::repo::Repo;
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
    /// `bundle.spiffe.json`: the bundle as a SPIFFE bundle JWKS.
    pub spiffe: &'a str,
    /// `crl.pem`: the CRLs of the intermediates the bundle trusts.
    pub crl: &'a str,
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
    /// The new `bundle.spiffe.json`.
    pub spiffe: &'a str,
}

/// Where leaf material is written and read back.
pub trait Provider {
    /// Kind and location, for reports.
    fn info(&self) -> ProviderInfo;
    /// Starts a write of many sets (taking the provider lock where there is one). Sets are
    /// staged invisibly, from any number of threads, and become visible together at
    /// [`Batch::commit`]; a batch dropped uncommitted leaves every visible name as it was.
    fn begin(&mut self) -> Result<Box<dyn Batch + '_>, HostError>;
    /// Replaces each set whole; returns where each went, in order.
    fn write_sets(&mut self, sets: &[SetFiles<'_>]) -> Result<Vec<String>, HostError> {
        let batch = self.begin()?;
        for (i, s) in sets.iter().enumerate() {
            batch.stage(i, s)?;
        }
        batch.commit()
    }
    /// Rewrites each listed set's `bundle.pem`, keeping its current leaf, key and CRLs; the reads
    /// and the writes happen under one provider lock, so a concurrent renew's newer leaf is
    /// never put back to an older one. Returns the sets skipped because they have no leaf yet.
    fn refresh_bundles(&mut self, bundles: &[BundleOnly<'_>]) -> Result<Vec<(String, String)>, HostError>;
    /// The current set of a service+scope (all three files from one generation or
    /// revision), if any.
    fn fetch(&self, service: &str, scope: &str) -> Result<Option<SetTexts>, HostError>;
}

/// A write in progress: see [`Provider::begin`].
pub trait Batch: Sync {
    /// Stages set number `index` (its place in the report and in the swap order) where no
    /// reader sees it yet. Safe to call from several threads at once.
    fn stage(&self, index: usize, set: &SetFiles<'_>) -> Result<(), HostError>;
    /// Makes every staged set visible, in index order; returns where each went. Indexes
    /// must be `0..n` without gaps.
    fn commit(self: Box<Self>) -> Result<Vec<String>, HostError>;
}

/// Staged items by index, filled from several threads.
pub(crate) struct Slots<T>(std::sync::Mutex<Vec<Option<T>>>);

impl<T> Slots<T> {
    pub(crate) fn new() -> Self {
        Slots(std::sync::Mutex::new(Vec::new()))
    }

    pub(crate) fn put(&self, index: usize, item: T) {
        let mut v = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if v.len() <= index {
            v.resize_with(index + 1, || None);
        }
        v[index] = Some(item);
    }

    /// Every item in index order; an error names the first gap (a bug in the caller).
    pub(crate) fn take(&self) -> Result<Vec<T>, HostError> {
        let v = std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        v.into_iter()
            .enumerate()
            .map(|(i, x)| x.ok_or_else(|| HostError::Internal(format!("provider batch: set {i} was never staged"))))
            .collect()
    }

    pub(crate) fn drain(&self) -> Vec<T> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
            .into_iter()
            .flatten()
            .collect()
    }
}

/// The environment's provider as configured in inforge.yaml (see [`from_config`]).
pub fn open(repo: &Repo, env: &Env) -> Result<Box<dyn Provider>, HostError> {
    let provider = env.project.environment(&env.name)?.provider.clone();
    from_config(&provider, &env.name, &repo.root)
}

/// Opens a provider from its configuration: the one place every frontend (CLI, Python, the
/// bootstrapper with its flags) goes through. It runs the config check first (an etcd
/// endpoint's scheme, the prefix, TLS files that go together), then resolves relative paths
/// against `base`. A `dir` provider must already exist and be a directory: renew adopts it,
/// never creates it. `env` names the environment in errors.
pub fn from_config(config: &ProviderConfig, env: &str, base: &Path) -> Result<Box<dyn Provider>, HostError> {
    Ok(match open_config(config, env, base)? {
        Opened::Dir(d) => Box::new(d),
        Opened::Etcd(e) => e,
    })
}

/// A provider opened by [`open_config`], by kind (the bootstrapper's `--watch` needs the
/// kind: an etcd watch, or polling a directory).
pub enum Opened {
    /// A `dir` provider.
    Dir(DirProvider),
    /// A connected `etcd` provider.
    Etcd(Box<EtcdProvider>),
}

impl Opened {
    /// The provider behind it.
    pub fn provider(&self) -> &dyn Provider {
        match self {
            Opened::Dir(d) => d,
            Opened::Etcd(e) => e.as_ref(),
        }
    }
}

/// [`from_config`], keeping the kind.
pub fn open_config(config: &ProviderConfig, env: &str, base: &Path) -> Result<Opened, HostError> {
    config.check(env)?;
    match config {
        ProviderConfig::Dir { path } => {
            let root = base.join(path);
            match fs::metadata(&root) {
                Ok(m) if m.is_dir() => Ok(Opened::Dir(DirProvider { root })),
                Ok(_) => Err(HostError::ProviderNotDir { path: root }),
                Err(_) => Err(HostError::ProviderMissing { path: root }),
            }
        }
        ProviderConfig::Etcd { endpoints, prefix, ca_file, cert_file, key_file } => {
            let client_cert = match (cert_file, key_file) {
                (Some(c), Some(k)) => Some((base.join(c), base.join(k))),
                _ => None,
            };
            Ok(Opened::Etcd(Box::new(EtcdProvider::connect(EtcdConfig {
                endpoints: endpoints.clone(),
                prefix: prefix.clone(),
                ca_file: ca_file.as_ref().map(|c| base.join(c)),
                client_cert,
                timeout: etcd_timeout(),
            })?)))
        }
    }
}

/// Fetches each target's set for `pki status` and the finalize gate. A set that cannot be
/// read (not UTF-8, too large, a special file, a link) becomes [`Fetched::Unreadable`] with a
/// secret-free reason, so one bad set is reported, never a reason to skip the others; only a
/// provider that cannot be reached at all (or is busy) fails the whole fetch.
pub fn fetch_sets(p: &dyn Provider, targets: Vec<LeafTarget>) -> Result<Vec<(LeafTarget, Fetched)>, HostError> {
    targets
        .into_iter()
        .map(|t| match p.fetch(&t.service, &t.scope) {
            Ok(set) => Ok((t, Fetched::from(set))),
            Err(e @ (HostError::ProviderUnreachable { .. } | HostError::Busy { .. })) => Err(e),
            Err(e) => {
                let why = format!("{}: {}", e.code(), e.message());
                Ok((t, Fetched::Unreadable(why)))
            }
        })
        .collect()
}

/// The per-request etcd timeout: `INFORGE_ETCD_TIMEOUT` seconds, default 10.
pub fn etcd_timeout() -> std::time::Duration {
    let secs = std::env::var("INFORGE_ETCD_TIMEOUT").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(10);
    std::time::Duration::from_secs(secs.clamp(1, 3600))
}
