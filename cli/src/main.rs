//! `inforge`: manage a service mesh's PKI as a git-committed, age-encrypted store.
//!
//! A thin shell: clap parses, `shell` fetches inputs (files, env, clock, OS RNG), the core
//! decides, `error` maps failures to stderr and exit codes in one place.

mod commands;
mod error;
mod shell;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "inforge",
    version,
    about = "Manage a service mesh's PKI as a git-committed, age-encrypted store"
)]
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
}

#[derive(Args)]
pub struct InitArgs {
    /// Environment name (declared in inforge.yaml).
    pub env: String,
    /// The CI recipient (default: the secret store's `recipient:`, else INFORGE_SECRETS_KEY's).
    #[arg(long, value_name = "AGE1…")]
    pub recipient: Option<String>,
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
    #[arg(long, default_value = "ecdsa-p256", value_parser = inforge_core::keys::Algorithm::NAMES)]
    pub algorithm: String,
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

fn main() {
    let cli = Cli::parse();
    let dir = cli.dir.unwrap_or_else(|| PathBuf::from("."));
    let result = match cli.command {
        Command::Pki(PkiCommand::Init(a)) => commands::init(&dir, a),
        Command::Pki(PkiCommand::Add(a)) => commands::add(&dir, a),
        Command::Pki(PkiCommand::Intermediate(a)) => commands::intermediate(&dir, a),
        Command::Pki(PkiCommand::Ls(a)) => commands::ls(&dir, a),
    };
    if let Err(e) = result {
        e.report();
        std::process::exit(e.exit_code());
    }
}
