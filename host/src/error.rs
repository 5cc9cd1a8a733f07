//! Host failures: the core's [`inforge_core::Error`], or trouble with the OS around it. Each
//! has a stable code, a lowercase message and a structured remedy that the frontend words.

use std::path::{Path, PathBuf};

use inforge_core::error::{Op, Opt, Remedy, Step};
use inforge_core::{remedy, Coded};

/// Anything a host-side step can fail with.
#[derive(Debug)]
pub enum HostError {
    /// A core refusal.
    Core(inforge_core::Error),
    /// Filesystem trouble.
    Io {
        /// What was being done.
        op: &'static str,
        /// To what.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No inforge.yaml in the directory.
    NotARepo {
        /// The directory.
        dir: PathBuf,
    },
    /// A file is larger than inforge reads.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// A file is not UTF-8 text.
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// The provider directory does not exist.
    ProviderMissing {
        /// Its path.
        path: PathBuf,
    },
    /// The provider path exists but is not a directory.
    ProviderNotDir {
        /// Its path.
        path: PathBuf,
    },
    /// The etcd provider could not be reached or refused a request.
    ProviderUnreachable {
        /// What was being done.
        op: &'static str,
        /// The endpoints.
        endpoints: String,
        /// The client's message.
        detail: String,
    },
    /// A bug: an invariant did not hold.
    Internal(String),
    /// The store changed while this command waited for the provider (a concurrent rotation
    /// or recovery): what it planned from is stale.
    StoreChanged {
        /// The store.
        path: PathBuf,
    },
    /// `pki history`: the infra repo is not inside a git work tree.
    GitRepoMissing {
        /// The infra repo.
        dir: PathBuf,
    },
    /// `pki history --since`: git knows no such revision.
    GitRevUnknown {
        /// What was given.
        rev: String,
    },
    /// `pki history`: libgit2 could not read the history.
    Git {
        /// What was being done.
        op: &'static str,
        /// libgit2's message.
        detail: String,
    },
    /// Another inforge holds the lock.
    Busy {
        /// The lock file.
        path: PathBuf,
        /// Seconds waited.
        waited: u64,
    },
}

impl From<inforge_core::Error> for HostError {
    fn from(e: inforge_core::Error) -> Self {
        HostError::Core(e)
    }
}

/// Each area's error converts like the core's wrapper (core functions that belong to one area
/// return that area's type).
macro_rules! from_area {
    ($($t:ident),*) => {$(
        impl From<inforge_core::error::$t> for HostError {
            fn from(e: inforge_core::error::$t) -> Self {
                HostError::Core(e.into())
            }
        }
    )*};
}
from_area!(
    NameError,
    ConfigError,
    StoreError,
    CustodyError,
    KeyError,
    CertError,
    PkiError,
    RotateError,
    MeshError,
    TimeError,
    DurationError,
    ProjectionError,
    UnitsError,
    InspectError
);

impl HostError {
    /// An IO failure.
    pub fn io(op: &'static str, path: &Path, source: std::io::Error) -> HostError {
        HostError::Io { op, path: path.to_path_buf(), source }
    }

    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            HostError::Core(e) => e.code(),
            HostError::Io { .. } => "io",
            HostError::NotARepo { .. } => "repo-missing",
            HostError::TooLarge { .. } => "file-too-large",
            HostError::NotUtf8 { .. } => "file-not-utf8",
            HostError::ProviderMissing { .. } => "provider-missing",
            HostError::ProviderNotDir { .. } => "provider-not-dir",
            HostError::Busy { .. } => "busy",
            HostError::StoreChanged { .. } => "store-changed",
            HostError::ProviderUnreachable { .. } => "provider-unreachable",
            HostError::Internal(_) => "internal",
            HostError::GitRepoMissing { .. } => "git-repo-missing",
            HostError::GitRevUnknown { .. } => "git-rev-unknown",
            HostError::Git { .. } => "git-failed",
        }
    }

    /// Lowercase message.
    pub fn message(&self) -> String {
        match self {
            HostError::Core(e) => e.to_string(),
            HostError::Io { op, path, source } => format!("cannot {op} {}: {source}", path.display()),
            HostError::NotARepo { dir } => format!("{} is not an infra repo: it has no inforge.yaml", dir.display()),
            HostError::TooLarge { path, limit } => {
                format!("{} is larger than {} MiB, more than inforge reads", path.display(), limit >> 20)
            }
            HostError::NotUtf8 { path } => format!("{} is not UTF-8 text", path.display()),
            HostError::ProviderMissing { path } => format!("the provider directory {} does not exist", path.display()),
            HostError::ProviderNotDir { path } => {
                format!("the provider path {} exists but is not a directory", path.display())
            }
            HostError::Internal(m) => format!("internal error: {m}"),
            HostError::ProviderUnreachable { op, endpoints, detail } => {
                format!("cannot {op} etcd at {endpoints}: {detail}")
            }
            HostError::Busy { path, waited } => {
                format!("another inforge command is writing to {}; waited {waited} s", path.display())
            }
            HostError::GitRepoMissing { dir } => {
                format!("{} is not inside a git work tree: the history is read from git", dir.display())
            }
            HostError::GitRevUnknown { rev } => format!("git knows no revision `{rev}`"),
            HostError::Git { op, detail } => format!("cannot {op} the git history: {detail}"),
            HostError::StoreChanged { path } => format!(
                "{} changed while this command waited for the provider (a rotation or recovery ran meanwhile); nothing was written",
                path.display()
            ),
        }
    }

    /// What to do, structured.
    pub fn remedy(&self) -> Remedy {
        match self {
            HostError::Core(e) => e.remedy(),
            // Worded for what failed: a read asks for the right path, a write for permission.
            HostError::Io { op, path, source } if source.kind() == std::io::ErrorKind::NotFound => {
                let what = if matches!(*op, "read" | "open" | "resolve" | "stat" | "inspect" | "find") {
                    "read"
                } else {
                    "write"
                };
                format!("nothing exists at {}: check the path of the file to {what}", path.display()).into()
            }
            HostError::Io { op, .. } if matches!(*op, "read" | "open" | "resolve" | "stat" | "inspect" | "find") => {
                "check that the path names the right file and that this user may read it".into()
            }
            HostError::Io { .. } => {
                "check that the path exists, is the kind of file named, and is writable by this user".into()
            }
            HostError::NotARepo { .. } => remedy!["run inforge from the infra repo, or point at it with ", Opt::RepoDir],
            HostError::TooLarge { .. } => {
                "point inforge at the right file: stores and configs are small text files".into()
            }
            HostError::NotUtf8 { .. } => {
                "the file is corrupt or not what inforge expects: restore it from git".into()
            }
            HostError::ProviderMissing { .. } => {
                "renew adopts the provider, never creates it: provision it first (normally the environment's deploy does), and check `provider.path` in inforge.yaml".into()
            }
            HostError::ProviderNotDir { .. } => "point `provider.path` in inforge.yaml at a directory".into(),
            HostError::ProviderUnreachable { .. } => {
                "check that etcd runs and answers at the configured endpoints (and the TLS files); each set is written in one transaction, so nothing half-written was left: run the command again (a longer wait: INFORGE_ETCD_TIMEOUT=<seconds>)".into()
            }
            HostError::Internal(_) => "this is a bug in inforge; please report it".into(),
            HostError::GitRepoMissing { .. } => {
                "run it in a clone of the infra repo (the directory holding .git, or one below it)".into()
            }
            HostError::GitRevUnknown { .. } => {
                "name a commit, tag or branch that exists in this clone (e.g. a tag, HEAD~10; fetch it first if it is remote)".into()
            }
            HostError::Git { .. } => "check that the clone is complete and readable (`git fsck`)".into(),
            HostError::StoreChanged { .. } => {
                remedy!["run ", Step::new(Op::Renew), " again: it plans from the store as it is now"]
            }
            HostError::Busy { .. } => {
                "wait for the other command to finish, then run this one again (a longer wait: INFORGE_LOCK_WAIT=<seconds>)".into()
            }
        }
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for HostError {}
