//! `inforge`: manage a service mesh's PKI as a git-committed, age-encrypted store.
//!
//! A thin shell: clap parses, `commands` reads inputs through `inforge-host` (files, identities,
//! clock, OS RNG), calls one core operation (`inforge_core::ops`) and writes outputs, `render`
//! prints results, `error` maps failures to stderr and exit codes in one place.

// Errors are the cold path and carry their context (paths, PKI and scope names) by value;
// boxing them would buy nothing measurable.
#![allow(clippy::result_large_err)]

mod commands;
mod error;
mod render;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "inforge", version, about = "Manage a service mesh's PKI as a git-committed, age-encrypted store")]
struct Cli {
    /// Act on the infra repo in this directory instead of the current one.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// PKI store operations.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Credential-free checks of config ↔ store, chains, profiles and expiry horizons.
    Validate(ValidateArgs),
    /// Store files in git: readable diffs, the change review, a merge driver (no identity).
    ///
    /// None of these needs an identity or inforge.yaml: they read store files only.
    #[command(subcommand)]
    Store(StoreCommand),
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Print a store file as readable, secret-free text: per PKI and tier its subject, serial,
    /// fingerprint, validity, algorithm and custodian; revocations; root phase; custody.
    Show(StoreShowArgs),
    /// What a change between two versions of a store does: each change, the bundles that
    /// change, who acts next and from when, and what looks wrong.
    Diff(StoreDiffArgs),
    /// git merge driver (`%O %A %B %P`): a three-way merge of two stores, slot by slot. Writes
    /// the merged store to OURS and exits 0, or leaves OURS untouched and exits 1 naming each
    /// conflicting PKI and tier.
    Merge(StoreMergeArgs),
    /// Wire `store show` (diff textconv) and `store merge` (merge driver) into this git repo:
    /// `.gitattributes` beside inforge.yaml and the repo's git config.
    InstallGit(InstallGitArgs),
}

#[derive(Args)]
pub struct StoreShowArgs {
    /// The store file (any path: git's textconv passes a temporary copy).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print nothing; exit 1 unless every file is a store in canonical form (exactly what
    /// inforge writes), e.g. in a pre-commit hook.
    #[arg(long)]
    pub check: bool,
}

#[derive(Args)]
pub struct StoreDiffArgs {
    /// OLD NEW: two store files (an empty file stands for an absent store). With --git: the
    /// store's path in the repo, e.g. resources/prd/pki.enc.yaml.
    #[arg(num_args = 1..=2, required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Compare the store at two revisions of the repo: BASE..HEAD, or BASE...HEAD (from
    /// their merge base, as a pull request shows it).
    #[arg(long, value_name = "RANGE")]
    pub git: Option<String>,
    /// The environment the next steps' commands name (default: from the path
    /// resources/ENV/pki.enc.yaml).
    #[arg(long)]
    pub env: Option<String>,
    /// One JSON document on stdout (docs/json.md); the same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format: text, markdown (a pull-request comment) or json.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<DiffFormat>,
}

/// `store diff --format`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// Plain text (the default).
    Text,
    /// Markdown, for a pull-request comment.
    Markdown,
    /// One JSON document (docs/json.md).
    Json,
}

#[derive(Args)]
pub struct StoreMergeArgs {
    /// The common ancestor's version (%O; empty when both branches added the file).
    pub base: PathBuf,
    /// Our version (%A); receives the merged store.
    pub ours: PathBuf,
    /// Their version (%B).
    pub theirs: PathBuf,
    /// The store's path in the repo (%P): resources/ENV/pki.enc.yaml names the environment,
    /// so the merged intermediates' subjects are checked too.
    pub path: Option<PathBuf>,
}

#[derive(Args)]
pub struct InstallGitArgs {
    /// Write the driver config to your global git config (~/.gitconfig) instead of the repo's.
    #[arg(long)]
    pub global: bool,
    /// The command git runs (default: this inforge binary's absolute path).
    #[arg(long, value_name = "PATH")]
    pub command: Option<String>,
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Create the environment's store and print the offline root identity (once, on stdout).
    Init(InitArgs),
    /// Generate a PKI root and record it.
    Add(AddArgs),
    /// Mint a scope's intermediate, signed by the cold root (offline: INFORGE_PKI_ROOT_KEY).
    Intermediate(IntermediateArgs),
    /// List the PKIs: topology, tiers, expiries, overlap state.
    Ls(LsArgs),
    /// Mint a leaf per mesh service per scope and write leaf, key and bundle to the provider.
    Renew(RenewArgs),
    /// Print a PEM trust bundle: a scope's intermediates, or the roots.
    Bundle(BundleArgs),
    /// Rotate a tier: leaves (CI), an intermediate (offline), or the root (offline, dual-root overlap).
    Rotate(RotateArgs),
    /// Compromise recovery for one intermediate: fresh key, no overlap, revoke, re-mint the
    /// scope's leaves and refresh the bundles that trusted it (offline root identity only).
    RecoverIntermediate(RecoverArgs),
    /// Record a leaf as revoked (needs no identity: review it as a pull request); the next
    /// renew lists it in its intermediate's CRL, served as crl.pem with every set.
    RevokeLeaf(RevokeLeafArgs),
    /// Re-sign the roots' CRLs (offline root identity): before their nextUpdate (validate warns
    /// 30 days ahead), with no other change.
    RootCrl(RootCrlArgs),
    /// Print the systemd drop-in, `<service>-renew.service` and `.timer` that project a
    /// service's leaf on its hosts (inforge-bootstrap).
    Units(UnitsArgs),
    /// What the provider holds per service and scope, against the store: leaf, issuer, chain
    /// phase, expiry, problems. Exits 1 on a problem.
    Status(StatusArgs),
    /// Who holds what: the CI recipient, the offline root's recipient or quorum, and the keys
    /// each seals. Needs no identity.
    Custody(CustodyArgs),
    /// The store's audit trail from the infra repo's git history: one event per change
    /// (rotation, recovery, root phases, custody, revocation) with commit, author and date.
    History(HistoryArgs),
    /// Re-seal one custodian's keys to a new holder: `--ci` follows the secret store's
    /// `recipient:`; `--root` moves the cold roots to a new recipient or quorum.
    Rekey(RekeyArgs),
}

#[derive(Args)]
pub struct HistoryArgs {
    /// Environment name.
    pub env: String,
    /// One JSON object per event per line (JSON lines, for a SIEM; docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Leave out what this revision (commit, tag, branch, HEAD~N) already holds.
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
}

#[derive(Args)]
pub struct CustodyArgs {
    /// Environment name.
    pub env: String,
    /// One JSON document on stdout (docs/json.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["ci", "root"])))]
#[command(group(clap::ArgGroup::new("holder").args(["recipient", "quorum"])))]
pub struct RekeyArgs {
    /// Environment name.
    pub env: String,
    /// Re-seal every CI-held key (intermediates, root-only roots) to the secret store's
    /// `recipient:`; opens them with the previous CI identity (INFORGE_SECRETS_KEY).
    #[arg(long)]
    pub ci: bool,
    /// Re-seal every cold root key to a new offline root holder; opens them with the current
    /// root identity or quorum (INFORGE_PKI_ROOT_KEY / INFORGE_PKI_ROOT_KEY_FILE=a:b).
    #[arg(long, requires = "holder")]
    pub root: bool,
    /// With --root: one person's new identity, by its recipient.
    #[arg(long, requires = "root", value_name = "AGE1…")]
    pub recipient: Option<String>,
    /// With --root: a new root identity split among the custodians, any M of them rebuild it.
    #[arg(long, requires_all = ["root", "custodian"], value_name = "M")]
    pub quorum: Option<u32>,
    /// With --quorum: a custodian's recipient (repeat once per custodian; age1… or a
    /// plugin's, e.g. age1yubikey1…).
    #[arg(long, requires = "quorum", value_name = "AGE1…")]
    pub custodian: Vec<String>,
    /// Print what would be re-sealed and write nothing; needs no identity.
    #[arg(long)]
    pub plan: bool,
    /// One JSON document on stdout (docs/json.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("tier").required(true).args(["leaf", "intermediate", "root"])))]
pub struct RotateArgs {
    /// Environment name.
    pub env: String,
    /// PKI name.
    pub name: String,
    /// Re-mint leaves (CI identity), like renew for this mesh.
    #[arg(long)]
    pub leaf: bool,
    /// With --leaf: only this service.
    #[arg(long, requires = "leaf", value_name = "SERVICE")]
    pub service: Option<String>,
    /// Planned roll of one scope's intermediate (offline root identity).
    #[arg(long, value_name = "SCOPE")]
    pub intermediate: Option<String>,
    /// Start a dual-root overlap (offline root identity); with --finalize, end it.
    #[arg(long)]
    pub root: bool,
    /// With --root: the middle phase; chains put the new root's path first (no identity).
    #[arg(long, requires = "root", conflicts_with = "finalize")]
    pub switch: bool,
    /// With --root: end the overlap, dropping the previous root.
    #[arg(long, requires = "root")]
    pub finalize: bool,
    /// With --switch or --finalize: skip the phase's minimum age and (finalize) the fleet check.
    #[arg(long)]
    pub force: bool,
    /// Print what the command would change (store, provider, bundles, chains, who acts
    /// next) and write nothing; needs no identity.
    #[arg(long)]
    pub plan: bool,
    /// With --plan: one JSON document on stdout (docs/json.md).
    #[arg(long, requires = "plan")]
    pub json: bool,
    /// With --root: minimum overlap before --switch (days; default 30).
    #[arg(long, requires = "root", conflicts_with_all = ["finalize", "switch"], value_name = "DAYS")]
    pub min_overlap_days: Option<u32>,
}

#[derive(Args)]
pub struct RootCrlArgs {
    /// Environment name.
    pub env: String,
    /// Two-tier PKI name.
    pub name: String,
    /// One JSON document on stdout (docs/json.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RevokeLeafArgs {
    /// Environment name.
    pub env: String,
    /// Two-tier PKI name.
    pub name: String,
    /// The leaf's serial number in hex (colons allowed), as `renew --json` or
    /// `openssl x509 -noout -serial` print it.
    #[arg(long, value_name = "HEX")]
    pub serial: String,
    /// Why (the CRL entry's reason code).
    #[arg(long, value_enum, default_value = "key-compromise")]
    pub reason: ReasonArg,
    /// One JSON document on stdout (docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// RFC 5280 reason codes for a leaf.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ReasonArg {
    /// No reason given.
    Unspecified,
    /// The leaf's key leaked, or may have.
    KeyCompromise,
    /// The service changed owner or purpose.
    AffiliationChanged,
    /// Replaced by a newer leaf.
    Superseded,
    /// The service is gone.
    CessationOfOperation,
}

#[derive(Args)]
pub struct RecoverArgs {
    /// Environment name.
    pub env: String,
    /// Two-tier PKI name.
    pub name: String,
    /// The compromised scope.
    pub scope: String,
    /// Print what recovery would change and write nothing; needs no identity.
    #[arg(long)]
    pub plan: bool,
    /// With --plan: one JSON document on stdout (docs/json.md).
    #[arg(long, requires = "plan")]
    pub json: bool,
}

#[derive(Args)]
pub struct RenewArgs {
    /// Environment name.
    pub env: String,
    /// Only this service (the release-time mint).
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// Print one JSON document (see docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Rewrite every bundle.pem from the store, keeping current leaves (no identity needed).
    #[arg(long, conflicts_with = "json")]
    pub bundles_only: bool,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["scope", "roots"])))]
pub struct BundleArgs {
    /// Environment name.
    pub env: String,
    /// PKI name.
    pub name: String,
    /// The scope whose bundle to print (what its services trust).
    #[arg(long)]
    pub scope: Option<String>,
    /// The root bundle for root-anchoring consumers (both roots during an overlap).
    #[arg(long)]
    pub roots: bool,
    /// `pem` (concatenated certificates, bundle.pem) or `spiffe` (the SPIFFE bundle JWKS that
    /// SPIRE federation, Envoy's SPIFFE validator and go-spiffe read, bundle.spiffe.json).
    #[arg(long, value_enum, default_value = "pem")]
    pub format: BundleFormatArg,
}

/// How `pki bundle` prints.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum BundleFormatArg {
    /// Concatenated PEM certificates.
    Pem,
    /// SPIFFE bundle JWKS (JSON).
    Spiffe,
}

#[derive(Args)]
pub struct StatusArgs {
    /// Environment name.
    pub env: String,
    /// A leaf expiring within this is a problem (e.g. 30d, 12h; default 7d).
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    pub fail_within: String,
    /// One JSON document on stdout (docs/json.md); the same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format: text, json, or prometheus (text exposition; docs/metrics.md).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<StatusFormat>,
    /// Write the output to this file atomically (a temporary file in its directory, then a
    /// rename), e.g. into node_exporter's textfile directory, instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

/// `pki status --format`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    /// One line per set (the default).
    Text,
    /// One JSON document (docs/json.md).
    Json,
    /// Prometheus text exposition 0.0.4 (docs/metrics.md).
    Prometheus,
}

#[derive(Args)]
pub struct UnitsArgs {
    /// Environment name.
    pub env: String,
    /// The service (a mesh service of inforge.yaml).
    pub service: String,
    /// The hosts' scope; needed when the service has leaves in several regions.
    #[arg(long)]
    pub scope: Option<String>,
    /// Where inforge-bootstrap is installed on the hosts.
    #[arg(long, default_value = "/usr/local/bin/inforge-bootstrap")]
    pub bootstrap_bin: String,
    /// `dir` provider: its directory as the hosts see it (default: the configured path,
    /// resolved from the repo root).
    #[arg(long)]
    pub provider_dir: Option<String>,
    /// `etcd` with TLS: the hosts' directory holding ca.pem, client.pem and client-key.pem.
    #[arg(long, default_value = "/etc/inforge/etcd")]
    pub etcd_tls_dir: String,
    /// A long-running `<service>-mtls-watch.service` (--watch) instead of the daily timer:
    /// hosts pick up a renew or a recovery within seconds.
    #[arg(long)]
    pub watch: bool,
    /// node_exporter's textfile directory on the hosts (e.g. /var/lib/prometheus/node-exporter):
    /// every projection writes the host's leaf metrics there (docs/metrics.md).
    #[arg(long, value_name = "DIR")]
    pub metrics_dir: Option<String>,
    /// Write the files under this directory (e.g. /etc/systemd/system) instead of printing.
    #[arg(long, conflicts_with = "json")]
    pub out_dir: Option<std::path::PathBuf>,
    /// One JSON document on stdout (docs/json.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ValidateArgs {
    /// Environment name.
    pub env: String,
    /// Shorthand for --format json.
    #[arg(long)]
    pub json: bool,
    /// Output format.
    #[arg(long, value_parser = ["text", "json", "sarif"], default_value = "text")]
    pub format: String,
}

#[derive(Args)]
pub struct InitArgs {
    /// Environment name (declared in inforge.yaml).
    pub env: String,
    /// The CI recipient (default: the secret store's `recipient:`, else INFORGE_SECRETS_KEY's).
    #[arg(long, value_name = "AGE1…")]
    pub recipient: Option<String>,
    /// Split the new offline root identity among the custodians: any M of them rebuild it,
    /// and nobody (this command included) ever prints or writes it whole.
    #[arg(long, requires = "custodian", value_name = "M")]
    pub quorum: Option<u32>,
    /// With --quorum: a custodian's recipient (repeat once per custodian; age1… or a
    /// plugin's, e.g. age1yubikey1…).
    #[arg(long, requires = "quorum", value_name = "AGE1…")]
    pub custodian: Vec<String>,
}

#[derive(Args)]
pub struct AddArgs {
    /// Environment name.
    pub env: String,
    /// PKI name.
    pub name: String,
    /// two-tier (mesh: cold root + per-scope intermediates) or root-only (online issuer).
    #[arg(long, value_parser = ["two-tier", "root-only"])]
    pub topology: String,
    /// Key algorithm for every tier.
    #[arg(long, default_value = "ecdsa-p256", value_parser = inforge_core::crypto::keys::Algorithm::NAMES)]
    pub algorithm: String,
    /// Two-tier only: the lifetime of this PKI's leaves for services without their own
    /// `leafTtl` in inforge.yaml, from 1h to 90d (default 90d).
    #[arg(long, value_name = "DURATION")]
    pub leaf_ttl: Option<String>,
}

#[derive(Args)]
pub struct IntermediateArgs {
    /// Environment name.
    pub env: String,
    /// Two-tier PKI name.
    pub name: String,
    /// `global` or a region of regions.yaml.
    pub scope: String,
}

#[derive(Args)]
pub struct LsArgs {
    /// Environment name.
    pub env: String,
    /// Print one JSON document (see docs/json.md).
    #[arg(long)]
    pub json: bool,
}

impl Command {
    /// The environment the command acts on (remedies name it); store-file commands have none.
    fn env(&self) -> Option<&str> {
        Some(match self {
            Command::Pki(PkiCommand::Init(a)) => &a.env,
            Command::Pki(PkiCommand::Add(a)) => &a.env,
            Command::Pki(PkiCommand::Intermediate(a)) => &a.env,
            Command::Pki(PkiCommand::Ls(a)) => &a.env,
            Command::Pki(PkiCommand::Renew(a)) => &a.env,
            Command::Pki(PkiCommand::Bundle(a)) => &a.env,
            Command::Pki(PkiCommand::Rotate(a)) => &a.env,
            Command::Pki(PkiCommand::RecoverIntermediate(a)) => &a.env,
            Command::Pki(PkiCommand::RevokeLeaf(a)) => &a.env,
            Command::Pki(PkiCommand::RootCrl(a)) => &a.env,
            Command::Pki(PkiCommand::Units(a)) => &a.env,
            Command::Pki(PkiCommand::Status(a)) => &a.env,
            Command::Pki(PkiCommand::Custody(a)) => &a.env,
            Command::Pki(PkiCommand::History(a)) => &a.env,
            Command::Pki(PkiCommand::Rekey(a)) => &a.env,
            Command::Validate(a) => &a.env,
            Command::Store(StoreCommand::Diff(a)) => return a.env.as_deref(),
            Command::Store(_) => return None,
        })
    }
}

fn main() {
    inforge_host::backend::install();
    // Big configs (≥ 64 KiB) are parsed once per build and bytes, then kept checked in the
    // user's cache directory (docs/performance.md; INFORGE_CACHE_DIR=off turns it off).
    inforge_host::config_cache::enable();
    let cli = Cli::parse();
    let dir = cli.dir.unwrap_or_else(|| PathBuf::from("."));
    let env = cli.command.env().map(str::to_string);
    let result = match cli.command {
        Command::Pki(PkiCommand::Init(a)) => commands::init(&dir, a),
        Command::Pki(PkiCommand::Add(a)) => commands::add(&dir, a),
        Command::Pki(PkiCommand::Intermediate(a)) => commands::intermediate(&dir, a),
        Command::Pki(PkiCommand::Ls(a)) => commands::ls(&dir, a),
        Command::Pki(PkiCommand::Renew(a)) => commands::renew(&dir, a),
        Command::Pki(PkiCommand::Bundle(a)) => commands::bundle(&dir, a),
        Command::Pki(PkiCommand::Rotate(a)) => commands::rotate(&dir, a),
        Command::Pki(PkiCommand::RecoverIntermediate(a)) => commands::recover_intermediate(&dir, a),
        Command::Pki(PkiCommand::RevokeLeaf(a)) => commands::revoke_leaf(&dir, a),
        Command::Pki(PkiCommand::RootCrl(a)) => commands::root_crl(&dir, a),
        Command::Pki(PkiCommand::Units(a)) => commands::units(&dir, a),
        Command::Pki(PkiCommand::Status(a)) => commands::status(&dir, a),
        Command::Pki(PkiCommand::Custody(a)) => commands::custody(&dir, a),
        Command::Pki(PkiCommand::History(a)) => commands::history(&dir, a),
        Command::Pki(PkiCommand::Rekey(a)) => commands::rekey(&dir, a),
        Command::Validate(a) => commands::validate(&dir, a),
        Command::Store(StoreCommand::Show(a)) => commands::store_show(&dir, a),
        Command::Store(StoreCommand::Diff(a)) => commands::store_diff(&dir, a),
        Command::Store(StoreCommand::Merge(a)) => commands::store_merge(&dir, a),
        Command::Store(StoreCommand::InstallGit(a)) => commands::store_install_git(&dir, a),
    };
    if let Err(e) = result {
        e.report(env.as_deref());
        std::process::exit(e.exit_code());
    }
}
