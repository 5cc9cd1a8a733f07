//! `inforge-bootstrap`: brings a service's leaf from the provider to the host (SPEC §7).
//!
//! fetch → verify (the core's `projection::verify_set`) → if changed, replace the runtime
//! directory in one rename (key 0600) → run the reload command once (else the restart
//! command). A fetch that fails or does not verify changes nothing and runs nothing. It needs
//! no store, no infra repo and no identity. `--watch` stays running and re-projects within
//! seconds of a change (an etcd watch; for `dir`, polling the scope link).
#![forbid(unsafe_code)]
// Errors are the cold path and carry their context by value, as in inforge-host.
#![allow(clippy::result_large_err)]

mod error;
mod runtime;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{ArgGroup, Parser, Subcommand};
use inforge_core::mesh::projection::{self, Action, Projected};
use inforge_core::model::config::Provider as ProviderConfig;
use inforge_core::views::metrics::{self, HostMetrics};
use inforge_host::provider::{self, Opened, WatchOutcome};
use serde::Serialize;

use error::BootError;

#[derive(Parser)]
#[command(
    name = "inforge-bootstrap",
    version,
    about = "Project a service's mTLS leaf from the inforge provider into a tmpfs runtime directory"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fetch, verify and (if changed) project the leaf, then reload the service once.
    #[command(group(ArgGroup::new("source").required(true).args(["provider_dir", "etcd_endpoints"])))]
    #[command(group(ArgGroup::new("on_change").args(["reload_command", "restart_command"])))]
    Project(ProjectArgs),
}

#[derive(clap::Args, Clone)]
struct ProjectArgs {
    /// The service (as in inforge.yaml).
    #[arg(long)]
    service: String,
    /// The scope this host runs in: `global` or its region.
    #[arg(long)]
    scope: String,
    /// Where the service reads cert.pem, key.pem and bundle.pem (tmpfs).
    #[arg(long)]
    runtime_dir: PathBuf,
    /// A `dir` provider's directory.
    #[arg(long)]
    provider_dir: Option<PathBuf>,
    /// etcd client URLs, comma separated.
    #[arg(long, value_delimiter = ',', requires = "etcd_prefix")]
    etcd_endpoints: Option<Vec<String>>,
    /// The environment's etcd key prefix (e.g. /inforge/prd).
    #[arg(long)]
    etcd_prefix: Option<String>,
    /// CA bundle for etcd's server certificates.
    #[arg(long)]
    etcd_ca: Option<PathBuf>,
    /// Client certificate for etcd.
    #[arg(long, requires = "etcd_key")]
    etcd_cert: Option<PathBuf>,
    /// Client key for etcd.
    #[arg(long, requires = "etcd_cert")]
    etcd_key: Option<PathBuf>,
    /// Run through `/bin/sh -c` once after the leaf changed (the service re-reads its files).
    #[arg(long)]
    reload_command: Option<String>,
    /// Run once after the leaf changed when the service cannot reload.
    #[arg(long)]
    restart_command: Option<String>,
    /// Allow a runtime directory that is not tmpfs/ramfs (the key then lands on disk).
    #[arg(long)]
    allow_persistent: bool,
    /// Exit 0 when the fetch fails but the runtime directory holds a leaf that verifies and is
    /// valid now (for ExecStartPre: a provider outage must not block a restart).
    #[arg(long)]
    keep_valid: bool,
    /// Stay running and re-project on every change in the provider.
    #[arg(long)]
    watch: bool,
    /// `dir` provider in --watch: seconds between looks at the provider (0 to 3600).
    #[arg(long, default_value_t = 1.0, value_parser = seconds)]
    poll_interval: f64,
    /// Print one JSON document per projection on stdout.
    #[arg(long)]
    json: bool,
    /// After every projection, write the host's metrics here (Prometheus text exposition,
    /// atomically: the leaf's expiry, the last success, failures counted across runs), e.g.
    /// `/var/lib/prometheus/node-exporter/inforge-<service>-<scope>.prom`. docs/metrics.md.
    #[arg(long, value_name = "FILE")]
    metrics_file: Option<PathBuf>,
    /// The `env` label of those metrics (the environment this host belongs to).
    #[arg(long, value_name = "ENV", requires = "metrics_file")]
    metrics_env: Option<String>,
}

/// A duration in seconds: a finite number from 0 to 3600 (an hour), so NaN, infinity, a
/// negative or a huge value is a usage error (exit 2), never a panic or a forever wait.
fn seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if v.is_finite() && (0.0..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{s}` is not between 0 and 3600 seconds"))
    }
}

/// The source of sets: the provider the flags describe, opened by the host crate's one
/// `open_config` (the same config check as `inforge.yaml`'s provider gets in the CLI).
type Source = Opened;

/// The flags as the provider configuration `inforge.yaml` would hold.
fn provider_config(a: &ProjectArgs) -> Result<ProviderConfig, BootError> {
    let text = |p: &PathBuf| -> Result<String, BootError> {
        p.to_str().map(str::to_string).ok_or_else(|| BootError::PathNotUtf8 { path: p.clone() })
    };
    if let Some(dir) = &a.provider_dir {
        return Ok(ProviderConfig::Dir { path: text(dir)? });
    }
    Ok(ProviderConfig::Etcd {
        endpoints: a.etcd_endpoints.clone().unwrap_or_default(),
        prefix: a.etcd_prefix.clone().unwrap_or_default(),
        ca_file: a.etcd_ca.as_ref().map(text).transpose()?,
        cert_file: a.etcd_cert.as_ref().map(text).transpose()?,
        key_file: a.etcd_key.as_ref().map(text).transpose()?,
    })
}

fn open_source(a: &ProjectArgs) -> Result<Source, BootError> {
    // The flags name no environment: errors name the setting alone.
    Ok(provider::open_config(&provider_config(a)?, "", Path::new(""))?)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CommandReport {
    kind: &'static str,
    command: String,
    ran: bool,
    ok: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorReport {
    code: &'static str,
    message: String,
    hint: String,
}

/// One projection's outcome: `--json` prints it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    status: &'static str,
    service: String,
    scope: String,
    runtime_dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    leaf: Option<Projected>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<CommandReport>,
    /// The fetch failed but the leaf held verifies now (`--keep-valid`).
    kept: bool,
    elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorReport>,
}

fn on_change(a: &ProjectArgs) -> Option<(&'static str, &str)> {
    a.reload_command.as_deref().map(|c| ("reload", c)).or(a.restart_command.as_deref().map(|c| ("restart", c)))
}

/// Runs the command with stdout sent to our stderr (stdout is the JSON channel).
fn run_command(cmd: &str) -> Result<(), BootError> {
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .status()
        .map_err(|e| BootError::CommandFailed { command: cmd.into(), status: e.to_string() })?;
    if status.success() {
        Ok(())
    } else {
        Err(BootError::CommandFailed { command: cmd.into(), status: status.to_string() })
    }
}

/// One projection. Holds the runtime directory's lock throughout, so a timer run and an
/// ExecStartPre never interleave.
fn project_once(a: &ProjectArgs, source: Result<&Source, BootError>) -> Report {
    let started = Instant::now();
    let mut report = Report {
        status: "failed",
        service: a.service.clone(),
        scope: a.scope.clone(),
        runtime_dir: a.runtime_dir.display().to_string(),
        leaf: None,
        command: None,
        kept: false,
        elapsed_ms: 0,
        error: None,
    };
    let result = (|| -> Result<(), BootError> {
        runtime::check_dir(&a.runtime_dir, a.allow_persistent)?;
        let _lock = inforge_host::lock::acquire(&a.runtime_dir, inforge_host::lock::wait())?;
        let now = inforge_host::clock::now()?;
        let fetched = (|| {
            let set = source?
                .provider()
                .fetch(&a.service, &a.scope)?
                .ok_or_else(|| BootError::SetMissing { service: a.service.clone(), scope: a.scope.clone() })?;
            let verified = projection::verify_set(&a.service, &a.scope, &set, now)?;
            Ok::<_, BootError>((set, verified))
        })();
        let current = runtime::current(&a.runtime_dir)?;
        let (set, verified) = match fetched {
            Ok(v) => v,
            Err(e) => {
                if a.keep_valid {
                    if let Some(held) =
                        current.as_ref().and_then(|c| projection::verify_set(&a.service, &a.scope, c, now).ok())
                    {
                        report.kept = true;
                        report.leaf = Some(held);
                    }
                }
                return Err(e);
            }
        };
        report.leaf = Some(verified);
        let owed = runtime::pending(&a.runtime_dir);
        match projection::decide(current.as_ref(), &set) {
            Action::Unchanged => report.status = "unchanged",
            Action::Replace => {
                if on_change(a).is_some() {
                    // Written before the swap: a kill between the two still owes the reload.
                    runtime::mark_pending(&a.runtime_dir)?;
                }
                runtime::replace(&a.runtime_dir, &set)?;
                report.status = "changed";
            }
        }
        if let Some((kind, cmd)) = on_change(a) {
            if report.status == "changed" || owed {
                let ran = run_command(cmd);
                report.command = Some(CommandReport { kind, command: cmd.into(), ran: true, ok: ran.is_ok() });
                ran?;
                runtime::clear_pending(&a.runtime_dir)?;
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        if report.status != "changed" {
            report.status = "failed";
        }
        report.error = Some(ErrorReport { code: e.code(), message: e.message(), hint: e.hint() });
    }
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}

/// `--metrics-file`: this projection's metrics, carried over from the file's previous values
/// (the core decides what carries over). A metrics file that cannot be written is reported on
/// stderr and never turns a good projection into a failed one.
fn write_metrics(a: &ProjectArgs, r: &Report) {
    let Some(path) = &a.metrics_file else { return };
    let previous = inforge_host::fsio::read_regular(path).ok();
    let leaf_not_after = r
        .leaf
        .as_ref()
        .and_then(|l| inforge_core::model::time::parse_rfc3339("notAfter", &l.not_after).ok())
        .map(|t| t.unix_timestamp());
    let now = HostMetrics {
        env: a.metrics_env.clone().unwrap_or_default(),
        service: a.service.clone(),
        scope: a.scope.clone(),
        leaf_not_after,
        ..HostMetrics::default()
    };
    let at = inforge_host::clock::now().unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let m = metrics::host_next(previous.as_deref(), now, r.error.is_none(), at);
    if let Err(e) = inforge_host::fsio::write_atomic(path, metrics::host_exposition(&m).as_bytes(), Some(0o644)) {
        eprintln!("inforge-bootstrap: cannot write the metrics file: {}", e.message());
    }
}

fn emit(a: &ProjectArgs, r: &Report) {
    write_metrics(a, r);
    if a.json {
        match serde_json::to_string(r) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("inforge-bootstrap: cannot write the report: {e}"),
        }
    }
    let what = format!("{}/{}", r.service, r.scope);
    let leaf = r.leaf.as_ref().map(|l| format!(" (serial {}, until {})", l.serial, l.not_after)).unwrap_or_default();
    match (&r.error, r.status) {
        (None, "changed") => {
            let ran = r.command.as_ref().map(|c| format!("; ran the {} command", c.kind)).unwrap_or_default();
            eprintln!("inforge-bootstrap: {what}: projected a new leaf{leaf}{ran}");
        }
        (None, _) => {
            let ran = r.command.as_ref().map(|c| format!("; ran the owed {} command", c.kind)).unwrap_or_default();
            eprintln!("inforge-bootstrap: {what}: unchanged{leaf}{ran}");
        }
        (Some(e), _) => {
            eprintln!("error[{}]: {}", e.code, e.message);
            eprintln!("  hint: {}", e.hint);
            if r.kept {
                eprintln!("inforge-bootstrap: {what}: kept the valid leaf already held{leaf}");
            }
        }
    }
}

fn exit_code(a: &ProjectArgs, r: &Report) -> ExitCode {
    match (&r.error, r.kept && a.keep_valid) {
        (None, _) | (Some(_), true) => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

/// A fingerprint of the provider's current set, cheap to take every poll: the scope link's
/// target (renew swaps it) and its `cert.pem`'s modification time and size (the writer
/// rotates through three slots and overwrites files in place, so the target alone repeats
/// every third write). `None` if there is no set.
fn dir_generation(root: &Path, a: &ProjectArgs) -> Option<(PathBuf, std::time::SystemTime, u64)> {
    let link = root.join(&a.service).join("mtls").join(&a.scope);
    let target = std::fs::read_link(&link).ok()?;
    let meta = std::fs::metadata(link.join("cert.pem")).ok()?;
    Some((target, meta.modified().ok()?, meta.len()))
}

/// `--watch`: project, then wait for a change, forever. Failures are reported and retried
/// with a bounded backoff; the runtime directory keeps the last good leaf throughout.
fn watch(a: &ProjectArgs) -> ExitCode {
    const RESYNC: Duration = Duration::from_secs(300);
    let mut source: Option<Source> = None;
    let mut backoff = Duration::from_millis(250);
    loop {
        if source.is_none() {
            match open_source(a) {
                Ok(s) => source = Some(s),
                Err(e) => {
                    let r = project_once(a, Err(e));
                    emit(a, &r);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
        }
        let Some(src) = source.as_ref() else { continue };
        // The revision the projection read at, for an etcd watch that misses nothing after it.
        let revision = match src {
            Source::Etcd(e) => e.fetch_at(&a.service, &a.scope).map(|(_, rev)| rev).ok(),
            Source::Dir(_) => None,
        };
        let r = project_once(a, Ok(src));
        emit(a, &r);
        let failed_fetch = r.error.as_ref().is_some_and(|e| e.code == "provider-unreachable");
        if failed_fetch {
            // Reconnect: the client may hold a dead channel after an etcd restart.
            source = None;
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(5));
            continue;
        }
        backoff = Duration::from_millis(250);
        match src {
            Source::Etcd(e) => match revision {
                Some(rev) => match e.wait_for_change(&a.service, &a.scope, rev, RESYNC) {
                    Ok(WatchOutcome::Changed | WatchOutcome::Quiet) => {}
                    Err(err) => {
                        let r = project_once(a, Err(err.into()));
                        emit(a, &r);
                        source = None;
                        std::thread::sleep(backoff);
                    }
                },
                None => {
                    source = None;
                    std::thread::sleep(backoff);
                }
            },
            Source::Dir(d) => {
                let seen = dir_generation(&d.root, a);
                let interval = Duration::from_secs_f64(a.poll_interval.clamp(0.05, 3600.0));
                let since = Instant::now();
                while dir_generation(&d.root, a) == seen && since.elapsed() < RESYNC {
                    std::thread::sleep(interval);
                }
            }
        }
    }
}

fn main() -> ExitCode {
    inforge_host::backend::install();
    let cli = Cli::parse();
    let Cmd::Project(a) = cli.cmd;
    if a.watch {
        return watch(&a);
    }
    let r = match open_source(&a) {
        Ok(source) => project_once(&a, Ok(&source)),
        // Reported through the same path as a failed fetch: the runtime directory is kept.
        Err(e) => project_once(&a, Err(e)),
    };
    emit(&a, &r);
    exit_code(&a, &r)
}
