//! The one place the CLI maps failures to its world: messages and remedies in the CLI's words
//! on stderr, and exit codes (0 success, 1 failure, 2 usage — clap exits 2 itself).

use std::path::Path;

use inforge_core::custody::Custodian;
use inforge_core::error::{CliWording, Opt, Step, Wording};
use inforge_host::HostError;

/// The CLI's words for the core's remedies: flags and environment variables.
pub struct Cli;

impl Wording for Cli {
    fn opt(&self, o: Opt) -> String {
        CliWording.opt(o)
    }
    fn identity(&self, c: Custodian) -> String {
        c.env_var().to_string()
    }
    fn step(&self, s: &Step) -> String {
        CliWording.step(s)
    }
}

/// Anything a command can fail with.
#[derive(Debug)]
pub enum CliError {
    /// A core or host failure.
    Host(HostError),
    /// validate found errors (already reported).
    ValidationFailed,
    /// init's stdout is closed or /dev/null.
    IdentityWouldBeLost,
    /// `pki status` found problems (already reported).
    StatusProblems {
        /// Sets with problems.
        sets: usize,
    },
    /// A combination of flags clap cannot express.
    Usage(String),
}

impl From<HostError> for CliError {
    fn from(e: HostError) -> Self {
        CliError::Host(e)
    }
}

impl From<inforge_core::Error> for CliError {
    fn from(e: inforge_core::Error) -> Self {
        CliError::Host(HostError::Core(e))
    }
}

impl CliError {
    pub fn io(op: &'static str, path: &Path, source: std::io::Error) -> CliError {
        CliError::Host(HostError::io(op, path, source))
    }

    pub fn code(&self) -> &'static str {
        match self {
            CliError::Host(e) => e.code(),
            CliError::ValidationFailed => "validation-failed",
            CliError::IdentityWouldBeLost => "stdout-discarded",
            CliError::StatusProblems { .. } => "status-problems",
            CliError::Usage(_) => "usage",
        }
    }

    pub fn message(&self) -> String {
        match self {
            CliError::Host(e) => e.message(),
            CliError::ValidationFailed => "validation found errors".into(),
            CliError::IdentityWouldBeLost => {
                "stdout is closed or /dev/null: the offline root identity printed there would be lost".into()
            }
            CliError::StatusProblems { sets } => format!("{sets} provider set(s) have problems"),
            CliError::Usage(m) => m.clone(),
        }
    }

    pub fn hint(&self) -> String {
        match self {
            CliError::Host(e) => e.remedy().render(&Cli),
            CliError::ValidationFailed => "fix the errors listed above".into(),
            CliError::IdentityWouldBeLost => {
                "redirect stdout to a file you will move offline, e.g. `inforge pki init prd > root-identity.txt`; nothing was written".into()
            }
            CliError::StatusProblems { .. } => {
                "each problem above names what is wrong; most are fixed by `inforge pki renew <env>` in CI and the hosts re-projecting".into()
            }
            CliError::Usage(_) => "see `inforge pki rotate --help`".into(),
        }
    }

    /// Exit status for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
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
