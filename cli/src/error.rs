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
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// No inforge.yaml.
    NotARepo { dir: PathBuf },
    /// validate found errors (already reported).
    ValidationFailed,
}

impl From<inforge_core::Error> for CliError {
    fn from(e: inforge_core::Error) -> Self {
        CliError::Core(e)
    }
}

impl CliError {
    pub fn io(op: &'static str, path: &Path, source: std::io::Error) -> CliError {
        CliError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            CliError::Core(e) => e.code(),
            CliError::Io { .. } => "io",
            CliError::NotARepo { .. } => "repo-missing",
            CliError::ValidationFailed => "validation-failed",
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
        }
    }

    pub fn hint(&self) -> String {
        match self {
            CliError::Core(e) => e.hint(),
            CliError::Io { .. } => "check the path exists and is writable; nothing was changed".into(),
            CliError::NotARepo { .. } => "run inforge from the infra repo, or point at it with -C <dir>".into(),
            CliError::ValidationFailed => "fix the errors listed above".into(),
        }
    }

    /// Exit status for this failure.
    pub fn exit_code(&self) -> i32 {
        1
    }

    /// Prints the error to stderr.
    pub fn report(&self) {
        if !matches!(self, CliError::ValidationFailed) {
            eprintln!("error[{}]: {}", self.code(), self.message());
        }
        eprintln!("  hint: {}", self.hint());
    }
}
