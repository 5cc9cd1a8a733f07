//! The bootstrapper's failures, mapped to codes, messages and hints in one place.

use std::path::PathBuf;

use inforge_core::crypto::custody::Custodian;
use inforge_core::error::{Opt, Wording};
use inforge_host::HostError;

/// Anything a projection can fail with. Every failure leaves the runtime directory as it was.
#[derive(Debug)]
pub enum BootError {
    /// The provider, the core's checks or the filesystem.
    Host(HostError),
    /// The runtime directory does not exist.
    RuntimeDirMissing {
        /// It.
        dir: PathBuf,
    },
    /// The runtime directory is not a directory.
    RuntimeDirNotDir {
        /// It.
        dir: PathBuf,
    },
    /// The runtime directory is on persistent storage.
    RuntimeDirPersistent {
        /// It.
        dir: PathBuf,
    },
    /// The provider has no set for this service and scope.
    SetMissing {
        /// Service.
        service: String,
        /// Scope.
        scope: String,
    },
    /// A path flag is not UTF-8 (the provider configuration is text, as in inforge.yaml).
    PathNotUtf8 {
        /// It.
        path: PathBuf,
    },
    /// The reload or restart command failed.
    CommandFailed {
        /// The command.
        command: String,
        /// How it ended.
        status: String,
    },
}

impl From<HostError> for BootError {
    fn from(e: HostError) -> Self {
        BootError::Host(e)
    }
}

impl From<inforge_core::Error> for BootError {
    fn from(e: inforge_core::Error) -> Self {
        BootError::Host(HostError::Core(e))
    }
}

/// The host's words for remedies: it has no repo and no identity, so store operations are
/// someone else's (CI's) to run.
struct HostWording;

impl Wording for HostWording {
    fn opt(&self, o: Opt) -> String {
        match o {
            Opt::Now => "INFORGE_NOW".into(),
            // Everything else is an option of CI's `inforge` command, not of this binary.
            Opt::Recipient => "CI's `inforge --recipient`".into(),
            Opt::RepoDir => "CI's `inforge -C`".into(),
            Opt::Force => "CI's `inforge --force`".into(),
            Opt::Scope => "--scope".into(),
            Opt::Roots => "CI's `inforge pki bundle --roots`".into(),
            Opt::Wait => "INFORGE_LOCK_WAIT".into(),
            Opt::PassphraseFile => "CI's INFORGE_PASSPHRASE_FILE".into(),
            Opt::CustodianFiles => "an operator's INFORGE_PKI_ROOT_KEY_FILE".into(),
        }
    }
    fn identity(&self, c: Custodian) -> String {
        format!("CI's {}", inforge_host::keyring::env_var(c))
    }
}

impl BootError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            BootError::Host(e) => e.code(),
            BootError::RuntimeDirMissing { .. } => "runtime-dir-missing",
            BootError::RuntimeDirNotDir { .. } => "runtime-dir-not-dir",
            BootError::RuntimeDirPersistent { .. } => "runtime-dir-persistent",
            BootError::SetMissing { .. } => "set-missing",
            BootError::CommandFailed { .. } => "command-failed",
            BootError::PathNotUtf8 { .. } => "path-not-utf8",
        }
    }

    /// Lowercase message.
    pub fn message(&self) -> String {
        match self {
            BootError::Host(e) => e.message(),
            BootError::RuntimeDirMissing { dir } => format!("the runtime directory {} does not exist", dir.display()),
            BootError::RuntimeDirNotDir { dir } => {
                format!("the runtime directory {} is not a directory", dir.display())
            }
            BootError::RuntimeDirPersistent { dir } => {
                format!(
                    "the runtime directory {} is not on tmpfs or ramfs: a private key would be written to disk",
                    dir.display()
                )
            }
            BootError::SetMissing { service, scope } => {
                format!("the provider has no leaf for {service} in scope {scope}")
            }
            BootError::PathNotUtf8 { path } => format!("the path {} is not UTF-8", path.display()),
            BootError::CommandFailed { command, status } => {
                format!("the new leaf is in place but `{command}` failed ({status}); the next run retries it")
            }
        }
    }

    /// What to do.
    pub fn hint(&self) -> String {
        match self {
            BootError::Host(e) => e.remedy().render(&HostWording),
            BootError::RuntimeDirMissing { .. } => {
                "create it on tmpfs (systemd: RuntimeDirectory= in the service, as `inforge pki units` writes it)".into()
            }
            BootError::RuntimeDirNotDir { .. } => "point --runtime-dir at a directory".into(),
            BootError::RuntimeDirPersistent { .. } => {
                "use a directory under /run or /dev/shm (systemd: RuntimeDirectory=), or pass --allow-persistent if a disk is intended".into()
            }
            BootError::SetMissing { .. } => {
                "check --service and --scope, and that CI has run `inforge pki renew` for this environment since the service was added".into()
            }
            BootError::PathNotUtf8 { .. } => "rename the file or directory, or link it from a UTF-8 path".into(),
            BootError::CommandFailed { .. } => "check the command by hand; the service still runs its previous leaf".into(),
        }
    }
}
