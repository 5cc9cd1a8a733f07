//! One writer at a time: an advisory `flock` on the directory that holds what is written (the
//! environment's `resources/<env>/` for the store, the provider's root). Locking the
//! directory itself leaves no lock file to commit or clean up, and the kernel releases the
//! lock when the [`Lock`] is dropped or the process dies, so a SIGKILL never leaves a stale
//! lock. A second writer waits a bounded time, then fails with `busy` having changed nothing.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation};

use crate::HostError;

/// How long a writer waits for another by default (`INFORGE_LOCK_WAIT` seconds overrides).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// The wait: `INFORGE_LOCK_WAIT` (seconds) or [`DEFAULT_WAIT`].
pub fn wait() -> Duration {
    std::env::var("INFORGE_LOCK_WAIT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_WAIT)
}

/// A held lock.
#[derive(Debug)]
pub struct Lock {
    _file: File,
    path: PathBuf,
}

impl Lock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open lock file (the locked directory itself for a directory lock).
    pub fn file(&self) -> &File {
        &self._file
    }
}

/// Takes the exclusive lock on the directory `path`, waiting up to `wait`.
pub fn acquire(path: &Path, wait: Duration) -> Result<Lock, HostError> {
    let dir = if path.as_os_str().is_empty() { Path::new(".") } else { path };
    let file = File::open(dir).map_err(|e| HostError::io("open for locking", path, e))?;
    let started = Instant::now();
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                if started.elapsed() >= wait {
                    return Err(HostError::Busy { path: path.to_path_buf(), waited: started.elapsed().as_secs() });
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(e) => return Err(HostError::io("lock", path, e.into())),
        }
    }
    Ok(Lock { _file: file, path: path.to_path_buf() })
}
