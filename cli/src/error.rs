//! The one place the CLI maps failures to its world: messages on stderr and exit codes
//! (0 success, 1 failure, 2 usage — clap exits 2 itself).

use std::path::{Path, PathBuf};

use inforge_core::Coded;

/// Anything a command can fail with.
#[derive(Debug)]
pub enum CliError {
    /// A core refusal.
    Core(inforge_core::Error),
    /// Filesystem trouble.
    Io { op: &'static str, path: PathBuf, source: std::io::Error },
    /// No inforge.yaml.
    NotARepo { dir: PathBuf },
    /// validate found errors (already reported).
    ValidationFailed,
    /// The environment's provider directory does not exist.
    ProviderMissing { path: PathBuf },
    /// init's stdout is closed or /dev/null.
    IdentityWouldBeLost,
    /// A bug: an invariant did not hold.
    Internal(String),
    /// A provider kind this build cannot write to.
    ProviderUnsupported { kind: &'static str },
}

impl From<inforge_core::Error> for CliError {
    fn from(e: inforge_core::Error) -> Self {
        CliError::Core(e)
    }
}

impl CliError {
    pub fn io(op: &'static str, path: &Path, source: std::io::Error) -> CliError {
        CliError::Io { op, path: path.to_path_buf(), source }
    }

    pub fn code(&self) -> &'static str {
        match self {
            CliError::Core(e) => e.code(),
            CliError::Io { .. } => "io",
            CliError::NotARepo { .. } => "repo-missing",
            CliError::ValidationFailed => "validation-failed",
            CliError::ProviderMissing { .. } => "provider-missing",
            CliError::Internal(_) => "internal",
            CliError::IdentityWouldBeLost => "stdout-discarded",
            CliError::ProviderUnsupported { .. } => "provider-unsupported",
        }
    }

    pub fn message(&self) -> String {
        match self {
            CliError::Core(e) => e.to_string(),
            CliError::Io { op, path, source } => {
                format!("cannot {op} {}: {source}", path.display())
            }
            CliError::NotARepo { dir } => format!("{} is not an infra repo: it has no inforge.yaml", dir.display()),
            CliError::ValidationFailed => "validation found errors".into(),
            CliError::Internal(m) => format!("internal error: {m}"),
            CliError::IdentityWouldBeLost => {
                "stdout is closed or /dev/null: the offline root identity printed there would be lost".into()
            }
            CliError::ProviderMissing { path } => format!("the provider directory {} does not exist", path.display()),
            CliError::ProviderUnsupported { kind } => format!("the {kind} provider is not supported by this build"),
        }
    }

    pub fn hint(&self) -> String {
        match self {
            CliError::Core(e) => e.hint(),
            CliError::Io { .. } => "check the path exists and is writable (the store is only ever replaced whole)".into(),
            CliError::NotARepo { .. } => "run inforge from the infra repo, or point at it with -C <dir>".into(),
            CliError::ValidationFailed => "fix the errors listed above".into(),
            CliError::Internal(_) => "this is a bug in inforge; please report it (nothing was written)".into(),
            CliError::IdentityWouldBeLost => {
                "redirect stdout to a file you will move offline, e.g. `inforge pki init prd > root-identity.txt`; nothing was written".into()
            }
            CliError::ProviderMissing { .. } => {
                "renew adopts the provider, never creates it: provision it first (normally the environment's deploy does), and check `provider.path` in inforge.yaml".into()
            }
            CliError::ProviderUnsupported { .. } => "use `kind: dir` for this environment".into(),
        }
    }

    /// Exit status for this failure.
    pub fn exit_code(&self) -> i32 {
        1
    }

    /// Prints the error to stderr.
    pub fn report(&self) {
        if matches!(self, CliError::ValidationFailed) {
            return; // the report itself was the output
        }
        eprintln!("error[{}]: {}", self.code(), self.message());
        eprintln!("  hint: {}", self.hint());
    }
}
