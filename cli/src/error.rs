//! The one place the CLI maps failures to its world: messages and remedies in the CLI's words
//! on stderr, and exit codes (0 success, 1 failure, 2 usage — clap exits 2 itself).

use std::path::Path;

use inforge_core::crypto::custody::Custodian;
use inforge_core::error::{Op, Opt, Step, Wording};
use inforge_host::keyring::env_var;
use inforge_host::HostError;

/// The CLI's words for the core's remedies: flags, environment variables and commands. The
/// environment a command was run for fills the steps that name none, so every hint is a
/// command to paste.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cli<'a> {
    /// The environment the command was run for, when it names one.
    pub env: Option<&'a str>,
    /// The store's root quorum (threshold, custodians), when known: the offline root is then
    /// given as the custodians' identity files.
    pub root_quorum: Option<(u32, usize)>,
}

/// The CLI's words where the step carries its own environment.
pub const CLI: Cli<'static> = Cli { env: None, root_quorum: None };

impl Wording for Cli<'_> {
    fn opt(&self, o: Opt) -> String {
        match o {
            Opt::Recipient => "--recipient age1…",
            Opt::RepoDir => "-C",
            Opt::Force => "--force",
            Opt::Scope => "--scope",
            Opt::Roots => "--roots",
            Opt::Now => "INFORGE_NOW",
            Opt::Wait => "--wait",
            Opt::PassphraseFile => "INFORGE_PASSPHRASE_FILE",
            Opt::CustodianFiles => "INFORGE_PKI_ROOT_KEY_FILE=a.key:b.key",
        }
        .into()
    }
    fn identity(&self, c: Custodian) -> String {
        match (c, self.root_quorum) {
            (Custodian::OfflineRoot, Some((m, n))) => {
                format!("INFORGE_PKI_ROOT_KEY_FILE ({m} of the {n} custodians' identity files, ':'-separated)")
            }
            _ => env_var(c).to_string(),
        }
    }
    fn step(&self, s: &Step) -> String {
        if s.op == Op::Intermediate && self.root_quorum.is_some() {
            format!("INFORGE_PKI_ROOT_KEY_FILE=a.key:b.key {}", s.command_line())
        } else if s.op == Op::Intermediate {
            // Only the offline identity signs an intermediate: say where it goes.
            format!("{}=… {}", env_var(Custodian::OfflineRoot), s.command_line())
        } else {
            s.command_line()
        }
    }
    fn env(&self) -> Option<&str> {
        self.env
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
    /// A combination of flags clap cannot express: the message and the command whose
    /// `--help` explains it.
    Usage(String, &'static str),
    /// `store show --check` found stores not in canonical form (already listed on stderr).
    NotCanonical {
        /// How many files.
        files: usize,
    },
    /// `store merge` found slots changed on both branches (already listed on stderr).
    MergeConflicts {
        /// How many.
        count: usize,
        /// The store's path in the repo, when git gave it.
        path: Option<String>,
    },
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
            CliError::Usage(..) => "usage",
            CliError::MergeConflicts { .. } => "merge-conflict",
            CliError::NotCanonical { .. } => "store-not-canonical",
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
            CliError::Usage(m, _) => m.clone(),
            CliError::NotCanonical { files } => format!("{files} store file(s) are not in canonical form"),
            CliError::MergeConflicts { count, .. } => {
                format!("{count} slot(s) of the store changed on both branches; ours is left as it was")
            }
        }
    }

    pub fn hint(&self, w: &Cli<'_>) -> String {
        match self {
            CliError::Host(e) => e.remedy().render(w),
            CliError::ValidationFailed => "fix the errors listed above".into(),
            CliError::IdentityWouldBeLost => {
                "redirect stdout to a file you will move offline, e.g. `inforge pki init prd > root-identity.txt`; nothing was written".into()
            }
            CliError::StatusProblems { .. } => {
                format!(
                    "each problem above names what is wrong; most are fixed by `{}` in CI and the hosts re-projecting",
                    w.step(&Step::new(Op::Renew))
                )
            }
            CliError::Usage(_, cmd) => format!("see `{cmd} --help`"),
            CliError::NotCanonical { .. } => {
                "a text edit or a text merge changed the layout: restore the file from git and redo the change with \
                 inforge (or merge with the store merge driver: `inforge store install-git`)"
                    .into()
            }
            CliError::MergeConflicts { path, .. } => {
                let file = path.as_deref().unwrap_or("the store");
                format!(
                    "keep one branch's store (`git checkout --ours {file}` or `--theirs`), commit the merge, then \
                     redo the other branch's operation for each slot listed with inforge"
                )
            }
        }
    }

    /// Exit status for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(..) => 2,
            _ => 1,
        }
    }

    /// Prints the error to stderr, with the environment the command was run for.
    pub fn report(&self, env: Option<&str>) {
        if matches!(self, CliError::ValidationFailed) {
            return; // the report itself was the output
        }
        eprintln!("error[{}]: {}", self.code(), self.message());
        eprintln!("  hint: {}", self.hint(&Cli { env, root_quorum: None }));
    }
}
