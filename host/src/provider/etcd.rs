//! The `etcd` provider (SPEC §6): keys `<prefix>/<service>/mtls/<scope>/{cert,key,bundle,crl}.pem`
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
//! - **One writer at a time, across machines**: every write (a renew's batch, a bundle
//!   refresh) holds etcd's lock `<prefix>.lock` (the lock API, as `etcdctl lock` takes it)
//!   under a lease of [`lock_ttl`] seconds that a background task keeps alive. Two CI runners
//!   renewing one environment queue instead of interleaving; a runner that dies frees the
//!   lock when its lease expires. Every write transaction also checks that the lock key still
//!   exists, so a writer whose lease lapsed (a network partition longer than the TTL) writes
//!   nothing more: the lock fences, not just advises.
//! - The client is etcd's maintained Rust client (`etcd-client`, gRPC over tonic), driven by
//!   a tokio runtime owned by the provider (one worker thread, so the lease keep-alive runs
//!   while the command mints): the rest of inforge stays synchronous.

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
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
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
        let mut set = SetTexts {
            cert: String::new(),
            key: Zeroizing::new(String::new()),
            bundle: String::new(),
            spiffe: String::new(),
            crl: String::new(),
        };
        for kv in resp.kvs() {
            // Non-UTF-8 values stay empty and fail verification as malformed.
            let value = std::str::from_utf8(kv.value()).unwrap_or_default();
            match kv.key().strip_prefix(prefix.as_bytes()) {
                Some(b"cert.pem") => set.cert = value.to_string(),
                Some(b"key.pem") => set.key = Zeroizing::new(value.to_string()),
                Some(b"bundle.pem") => set.bundle = value.to_string(),
                Some(b"crl.pem") => set.crl = value.to_string(),
                Some(b"bundle.spiffe.json") => set.spiffe = value.to_string(),
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
    lock: WriterLock<'a>,
}

/// A staged set's text (the key zeroized on drop).
struct OwnedSet {
    service: String,
    scope: String,
    cert: String,
    key: Zeroizing<String>,
    bundle: String,
    spiffe: String,
    crl: String,
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
                spiffe: s.spiffe.into(),
                crl: s.crl.into(),
            },
        );
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<Vec<String>, HostError> {
        let owned = self.sets.take()?;
        let sets: Vec<SetFiles<'_>> = owned
            .iter()
            .map(|o| SetFiles {
                service: &o.service,
                scope: &o.scope,
                cert: &o.cert,
                key: &o.key,
                bundle: &o.bundle,
                spiffe: &o.spiffe,
                crl: &o.crl,
            })
            .collect();
        crate::fault::pause_point("etcd-before-commit");
        let written = self.provider.put_sets(&sets, &self.lock.key)?;
        self.lock.release();
        Ok(written)
    }
}

/// The writer lock's name: beside the prefix, never inside a set's keys.
fn lock_name(prefix: &str) -> String {
    format!("{prefix}.lock")
}

/// The lease TTL of the writer lock: `INFORGE_ETCD_LOCK_TTL` seconds (2–300), default 10.
pub fn lock_ttl() -> i64 {
    std::env::var("INFORGE_ETCD_LOCK_TTL")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|t| (2..=300).contains(t))
        .unwrap_or(10)
}

/// A held writer lock: the lock key (owned by the lease) and the lease, kept alive by a task
/// on the provider's runtime until released or dropped.
struct WriterLock<'a> {
    provider: &'a EtcdProvider,
    key: Vec<u8>,
    lease: i64,
    keeper: Option<tokio::task::JoinHandle<()>>,
}

impl EtcdProvider {
    /// Takes the writer lock, waiting up to `wait` for another writer (then `busy`). The
    /// lease is kept alive from the start, so a long wait never outlives it.
    fn lock_writers(&self, wait: Duration) -> Result<WriterLock<'_>, HostError> {
        let mut client = self.client.clone();
        let name = lock_name(&self.cfg.prefix);
        let cfg = &self.cfg;
        let ttl = lock_ttl();
        let lease =
            self.rt.block_on(client.lease_grant(ttl, None)).map_err(|e| unreachable_err("lease from", cfg, e))?.id();
        let mut keep = self.client.clone();
        let period = Duration::from_millis((ttl as u64 * 1000) / 3);
        let keeper = self.rt.spawn(async move {
            if let Ok((mut keeper, mut stream)) = keep.lease_keep_alive(lease).await {
                loop {
                    if keeper.keep_alive().await.is_err() {
                        break;
                    }
                    let _ = stream.message().await;
                    tokio::time::sleep(period).await;
                }
            }
        });
        // From here the lease is ours: dropping the guard on any failure revokes it, which
        // also deletes a lock key a timed-out request may still have created.
        let mut guard = WriterLock { provider: self, key: Vec::new(), lease, keeper: Some(keeper) };
        let started = std::time::Instant::now();
        let key = self.rt.block_on(async {
            loop {
                let left = wait.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(HostError::Busy { path: name.clone().into(), waited: wait.as_secs() });
                }
                let opts = etcd_client::LockOptions::new().with_lease(lease);
                match tokio::time::timeout(left, client.lock(name.as_bytes(), Some(opts))).await {
                    Ok(Ok(r)) => return Ok(r.key().to_vec()),
                    // The client's per-request timeout ended this call while the lock is
                    // still held by another writer: ask again until the lock wait is over.
                    // (tonic's `Code` is not re-exported by etcd-client; its name is stable.)
                    Ok(Err(etcd_client::Error::GRpcStatus(s))) if format!("{:?}", s.code()) == "DeadlineExceeded" => {
                        continue
                    }
                    Ok(Err(e)) => return Err(unreachable_err("lock", cfg, e)),
                    Err(_) => return Err(HostError::Busy { path: name.clone().into(), waited: wait.as_secs() }),
                }
            }
        })?;
        guard.key = key;
        Ok(guard)
    }
}

impl WriterLock<'_> {
    /// Stops the keep-alive and revokes the lease (which deletes the lock key), so the next
    /// writer goes at once rather than after the TTL.
    fn release(&mut self) {
        if let Some(k) = self.keeper.take() {
            k.abort();
            let mut client = self.provider.client.clone();
            let lease = self.lease;
            let _ = self.provider.rt.block_on(async move { client.lease_revoke(lease).await });
        }
    }
}

impl Drop for WriterLock<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

impl EtcdProvider {
    /// One transaction per set, [`IN_FLIGHT`] at a time, each applied only while the writer
    /// lock's key (`lock_key`) still exists.
    fn put_sets(&self, sets: &[SetFiles<'_>], lock_key: &[u8]) -> Result<Vec<String>, HostError> {
        let client = &self.client;
        let this = self;
        let applied: Vec<bool> = self.rt.block_on(async {
            stream::iter(sets.iter().map(|s| {
                let mut kv = client.kv_client();
                let txn = Txn::new().when([Compare::version(lock_key, CompareOp::Greater, 0)]).and_then([
                    TxnOp::put(this.key(s.service, s.scope, "cert.pem"), s.cert, None),
                    TxnOp::put(this.key(s.service, s.scope, "key.pem"), s.key, None),
                    TxnOp::put(this.key(s.service, s.scope, "bundle.pem"), s.bundle, None),
                    TxnOp::put(this.key(s.service, s.scope, "bundle.spiffe.json"), s.spiffe, None),
                    TxnOp::put(this.key(s.service, s.scope, "crl.pem"), s.crl, None),
                ]);
                async move {
                    kv.txn(txn).await.map(|r| r.succeeded()).map_err(|e| unreachable_err("write to", &this.cfg, e))
                }
            }))
            .buffered(IN_FLIGHT)
            .try_collect::<Vec<_>>()
            .await
        })?;
        if applied.iter().any(|ok| !ok) {
            return Err(self.lock_lost(applied.iter().filter(|ok| **ok).count(), applied.len()));
        }
        Ok(sets
            .iter()
            .map(|s| format!("{}{}/{}/mtls/{}", self.cfg.endpoints[0], self.cfg.prefix, s.service, s.scope))
            .collect())
    }
}

impl EtcdProvider {
    /// The writer lock's lease lapsed mid-write (etcd unreachable for longer than the TTL):
    /// another writer may hold it now, so nothing more was written.
    fn lock_lost(&self, written: usize, total: usize) -> HostError {
        HostError::ProviderUnreachable {
            op: "write to",
            endpoints: self.cfg.endpoints.join(","),
            detail: format!(
                "the writer lock {} expired mid-write (its lease lapsed); {written} of {total} sets were written whole, the rest untouched",
                lock_name(&self.cfg.prefix)
            ),
        }
    }
}

impl Provider for EtcdProvider {
    fn info(&self) -> ProviderInfo {
        ProviderInfo { kind: "etcd".into(), path: format!("{}{}", self.cfg.endpoints.join(","), self.cfg.prefix) }
    }

    fn begin(&mut self) -> Result<Box<dyn Batch + '_>, HostError> {
        let lock = self.lock_writers(crate::lock::wait())?;
        Ok(Box::new(EtcdBatch { provider: self, sets: Slots::new(), lock }))
    }

    fn refresh_bundles(&mut self, bundles: &[BundleOnly<'_>]) -> Result<Vec<(String, String)>, HostError> {
        let mut lock = self.lock_writers(crate::lock::wait())?;
        let lock_key = lock.key.clone();
        let client = &self.client;
        let this = &*self;
        // Only where a leaf exists: the put happens in the same transaction as the check.
        let applied: Vec<bool> = self.rt.block_on(async {
            stream::iter(bundles.iter().map(|b| {
                let mut kv = client.kv_client();
                let txn = Txn::new()
                    .when([
                        Compare::version(this.key(b.service, b.scope, "cert.pem"), CompareOp::Greater, 0),
                        Compare::version(lock_key.as_slice(), CompareOp::Greater, 0),
                    ])
                    .and_then([
                        TxnOp::put(this.key(b.service, b.scope, "bundle.pem"), b.bundle, None),
                        TxnOp::put(this.key(b.service, b.scope, "bundle.spiffe.json"), b.spiffe, None),
                    ]);
                async move {
                    kv.txn(txn).await.map(|r| r.succeeded()).map_err(|e| unreachable_err("write to", &this.cfg, e))
                }
            }))
            .buffered(IN_FLIGHT)
            .try_collect()
            .await
        })?;
        // A refused put is a set without a leaf, or a lost lock: tell them apart.
        if applied.iter().any(|ok| !ok) {
            let mut kv = self.client.kv_client();
            let held = self
                .rt
                .block_on(kv.get(lock_key.as_slice(), None))
                .map(|r| !r.kvs().is_empty())
                .map_err(|e| unreachable_err("read from", &self.cfg, e))?;
            if !held {
                return Err(self.lock_lost(applied.iter().filter(|ok| **ok).count(), applied.len()));
            }
        }
        lock.release();
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
