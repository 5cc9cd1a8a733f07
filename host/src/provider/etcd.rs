//! The `etcd` provider (SPEC §6): keys `<prefix>/<service>/mtls/<scope>/{cert,key,bundle}.pem`
//! in an etcd v3 cluster, for fleets beyond one machine.
//!
//! - Each service+scope set is written in **one transaction** (three puts), so a reader never
//!   sees a leaf beside the wrong key; readers fetch a set with one range read, which etcd
//!   serves from a single revision.
//! - Many sets are written with up to [`IN_FLIGHT`] transactions in flight: etcd batches
//!   concurrent commits into one WAL fsync, so throughput grows with concurrency while every
//!   set stays atomic on its own. There is no cross-set transaction (etcd caps a transaction
//!   at 128 operations by default), so a renew that fails part-way has replaced some sets
//!   whole and left the others untouched; running it again completes it.
//! - The client is etcd's maintained Rust client (`etcd-client`, gRPC over tonic), driven by
//!   a current-thread tokio runtime owned by the provider: the rest of inforge stays
//!   synchronous.

use std::path::PathBuf;
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, ConnectOptions, GetOptions, Txn, TxnOp, WatchOptions};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use inforge_core::mesh::projection::SetTexts;
use inforge_core::ops::ProviderInfo;
use zeroize::Zeroizing;

use super::{Batch, BundleOnly, Provider, SetFiles, Slots};
use crate::HostError;

/// Transactions in flight while writing many sets.
pub const IN_FLIGHT: usize = 64;

/// Where and how to reach etcd.
#[derive(Debug, Clone)]
pub struct EtcdConfig {
    /// Client URLs.
    pub endpoints: Vec<String>,
    /// Key prefix, without a trailing `/`.
    pub prefix: String,
    /// CA bundle for the servers' certificates.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// The `etcd` provider.
pub struct EtcdProvider {
    rt: tokio::runtime::Runtime,
    client: Client,
    cfg: EtcdConfig,
}

impl std::fmt::Debug for EtcdProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdProvider").field("cfg", &self.cfg).finish()
    }
}

/// What a watch saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchOutcome {
    /// A key of the set changed after the revision given.
    Changed,
    /// Nothing changed within the wait.
    Quiet,
}

impl EtcdProvider {
    /// Connects (bounded by the timeout). TLS files are read here; their contents never
    /// appear in errors.
    pub fn connect(cfg: EtcdConfig) -> Result<EtcdProvider, HostError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| HostError::Internal(format!("cannot start the etcd client runtime: {e}")))?;
        let mut opts = ConnectOptions::new().with_connect_timeout(cfg.timeout).with_timeout(cfg.timeout);
        if let Some(ca) = &cfg.ca_file {
            let mut tls = etcd_client::TlsOptions::new()
                .ca_certificate(etcd_client::Certificate::from_pem(crate::fsio::read_text(ca)?));
            if let Some((cert, key)) = &cfg.client_cert {
                let key_pem = Zeroizing::new(crate::fsio::read_text(key)?);
                tls = tls.identity(etcd_client::Identity::from_pem(crate::fsio::read_text(cert)?, key_pem.as_bytes()));
            }
            opts = opts.with_tls(tls);
        }
        let client = rt
            .block_on(Client::connect(&cfg.endpoints, Some(opts)))
            .map_err(|e| unreachable_err("connect to", &cfg, e))?;
        Ok(EtcdProvider { rt, client, cfg })
    }

    /// The key of one file of a set.
    pub fn key(&self, service: &str, scope: &str, file: &str) -> String {
        format!("{}/{service}/mtls/{scope}/{file}", self.cfg.prefix)
    }

    fn set_prefix(&self, service: &str, scope: &str) -> String {
        format!("{}/{service}/mtls/{scope}/", self.cfg.prefix)
    }

    /// One set, read at one revision, and that revision (for [`EtcdProvider::wait_for_change`]).
    pub fn fetch_at(&self, service: &str, scope: &str) -> Result<(Option<SetTexts>, i64), HostError> {
        let mut kv = self.client.kv_client();
        let prefix = self.set_prefix(service, scope);
        let resp = self
            .rt
            .block_on(kv.get(prefix.as_bytes(), Some(GetOptions::new().with_prefix())))
            .map_err(|e| unreachable_err("read from", &self.cfg, e))?;
        let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
        if resp.kvs().is_empty() {
            return Ok((None, revision));
        }
        let mut set = SetTexts { cert: String::new(), key: Zeroizing::new(String::new()), bundle: String::new() };
        for kv in resp.kvs() {
            // Non-UTF-8 values stay empty and fail verification as malformed.
            let value = std::str::from_utf8(kv.value()).unwrap_or_default();
            match kv.key().strip_prefix(prefix.as_bytes()) {
                Some(b"cert.pem") => set.cert = value.to_string(),
                Some(b"key.pem") => set.key = Zeroizing::new(value.to_string()),
                Some(b"bundle.pem") => set.bundle = value.to_string(),
                _ => {}
            }
        }
        Ok((Some(set), revision))
    }

    /// Blocks until a key of the set changes after `revision`, or `wait` passes. An error
    /// (etcd down, the watch cancelled or compacted) is returned for the caller to retry.
    pub fn wait_for_change(
        &self,
        service: &str,
        scope: &str,
        revision: i64,
        wait: Duration,
    ) -> Result<WatchOutcome, HostError> {
        let mut client = self.client.clone();
        let prefix = self.set_prefix(service, scope);
        let cfg = &self.cfg;
        self.rt.block_on(async move {
            let watch = async {
                let opts = WatchOptions::new().with_prefix().with_start_revision(revision + 1);
                let mut stream =
                    client.watch(prefix.as_bytes(), Some(opts)).await.map_err(|e| unreachable_err("watch", cfg, e))?;
                loop {
                    match stream.message().await.map_err(|e| unreachable_err("watch", cfg, e))? {
                        Some(m) if m.canceled() => {
                            return Err(HostError::ProviderUnreachable {
                                op: "watch",
                                endpoints: cfg.endpoints.join(","),
                                detail: format!("the watch was cancelled: {}", m.cancel_reason()),
                            })
                        }
                        Some(m) if !m.events().is_empty() => return Ok(WatchOutcome::Changed),
                        Some(_) => continue,
                        None => {
                            return Err(HostError::ProviderUnreachable {
                                op: "watch",
                                endpoints: cfg.endpoints.join(","),
                                detail: "the watch stream ended".into(),
                            })
                        }
                    }
                }
            };
            match tokio::time::timeout(wait, watch).await {
                Ok(r) => r,
                Err(_) => Ok(WatchOutcome::Quiet),
            }
        })
    }
}

fn unreachable_err(op: &'static str, cfg: &EtcdConfig, e: etcd_client::Error) -> HostError {
    // gRPC statuses carry a debug dump of their transport source; the code and message are
    // what an operator needs.
    let detail = match &e {
        etcd_client::Error::GRpcStatus(s) => {
            let code = s.code().description().to_lowercase();
            let code = code.trim_end_matches('.');
            let source = std::error::Error::source(s).map(|src| {
                let mut inner: &dyn std::error::Error = src;
                while let Some(next) = inner.source() {
                    inner = next;
                }
                inner.to_string()
            });
            match source {
                Some(src) => format!("{code}: {} ({src})", s.message()),
                None => format!("{code}: {}", s.message()),
            }
        }
        other => other.to_string(),
    };
    HostError::ProviderUnreachable { op, endpoints: cfg.endpoints.join(","), detail }
}

/// An etcd write in progress: sets are held in memory and sent at commit, so a minting
/// failure sends nothing.
struct EtcdBatch<'a> {
    provider: &'a EtcdProvider,
    sets: Slots<OwnedSet>,
}

/// A staged set's text (the key zeroized on drop).
struct OwnedSet {
    service: String,
    scope: String,
    cert: String,
    key: Zeroizing<String>,
    bundle: String,
}

impl Batch for EtcdBatch<'_> {
    fn stage(&self, index: usize, s: &SetFiles<'_>) -> Result<(), HostError> {
        self.sets.put(
            index,
            OwnedSet {
                service: s.service.into(),
                scope: s.scope.into(),
                cert: s.cert.into(),
                key: Zeroizing::new(s.key.into()),
                bundle: s.bundle.into(),
            },
        );
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<Vec<String>, HostError> {
        let owned = self.sets.take()?;
        let sets: Vec<SetFiles<'_>> = owned
            .iter()
            .map(|o| SetFiles { service: &o.service, scope: &o.scope, cert: &o.cert, key: &o.key, bundle: &o.bundle })
            .collect();
        self.provider.put_sets(&sets)
    }
}

impl EtcdProvider {
    /// One transaction per set, [`IN_FLIGHT`] at a time.
    fn put_sets(&self, sets: &[SetFiles<'_>]) -> Result<Vec<String>, HostError> {
        let client = &self.client;
        let this = self;
        self.rt.block_on(async {
            stream::iter(sets.iter().map(|s| {
                let mut kv = client.kv_client();
                let txn = Txn::new().and_then([
                    TxnOp::put(this.key(s.service, s.scope, "cert.pem"), s.cert, None),
                    TxnOp::put(this.key(s.service, s.scope, "key.pem"), s.key, None),
                    TxnOp::put(this.key(s.service, s.scope, "bundle.pem"), s.bundle, None),
                ]);
                async move { kv.txn(txn).await.map_err(|e| unreachable_err("write to", &this.cfg, e)) }
            }))
            .buffered(IN_FLIGHT)
            .try_collect::<Vec<_>>()
            .await
        })?;
        Ok(sets
            .iter()
            .map(|s| format!("{}{}/{}/mtls/{}", self.cfg.endpoints[0], self.cfg.prefix, s.service, s.scope))
            .collect())
    }
}

impl Provider for EtcdProvider {
    fn info(&self) -> ProviderInfo {
        ProviderInfo { kind: "etcd".into(), path: format!("{}{}", self.cfg.endpoints.join(","), self.cfg.prefix) }
    }

    fn begin(&mut self) -> Result<Box<dyn Batch + '_>, HostError> {
        Ok(Box::new(EtcdBatch { provider: self, sets: Slots::new() }))
    }

    fn refresh_bundles(&mut self, bundles: &[BundleOnly<'_>]) -> Result<Vec<(String, String)>, HostError> {
        let client = &self.client;
        let this = &*self;
        // Only where a leaf exists: the put happens in the same transaction as the check.
        let applied: Vec<bool> = self.rt.block_on(async {
            stream::iter(bundles.iter().map(|b| {
                let mut kv = client.kv_client();
                let txn = Txn::new()
                    .when([Compare::version(this.key(b.service, b.scope, "cert.pem"), CompareOp::Greater, 0)])
                    .and_then([TxnOp::put(this.key(b.service, b.scope, "bundle.pem"), b.bundle, None)]);
                async move {
                    kv.txn(txn).await.map(|r| r.succeeded()).map_err(|e| unreachable_err("write to", &this.cfg, e))
                }
            }))
            .buffered(IN_FLIGHT)
            .try_collect()
            .await
        })?;
        Ok(bundles
            .iter()
            .zip(applied)
            .filter(|(_, ok)| !ok)
            .map(|(b, _)| (b.service.to_string(), b.scope.to_string()))
            .collect())
    }

    fn fetch(&self, service: &str, scope: &str) -> Result<Option<SetTexts>, HostError> {
        Ok(self.fetch_at(service, scope)?.0)
    }
}
