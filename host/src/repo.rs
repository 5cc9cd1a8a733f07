//! The infra repo on disk: reading its files (bounded, UTF-8 checked) and writing the store
//! atomically under a lock.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use inforge_core::ops::{Env, RepoFiles};
use inforge_core::store::{store_path, Store};

use crate::lock::{self, Lock};
use crate::HostError;

/// The most inforge reads of a store, config or identity file (16 MiB): far beyond any real
/// one, small enough that pointing inforge at `/dev/zero` fails at once.
pub const MAX_FILE: u64 = 16 << 20;

/// Reads a UTF-8 text file of at most [`MAX_FILE`] bytes.
pub fn read_text(path: &Path) -> Result<String, HostError> {
    let f = fs::File::open(path).map_err(|e| HostError::io("read", path, e))?;
    let mut buf = Vec::new();
    f.take(MAX_FILE + 1).read_to_end(&mut buf).map_err(|e| HostError::io("read", path, e))?;
    if buf.len() as u64 > MAX_FILE {
        return Err(HostError::TooLarge { path: path.to_path_buf(), limit: MAX_FILE });
    }
    String::from_utf8(buf).map_err(|_| HostError::NotUtf8 { path: path.to_path_buf() })
}

fn read_optional(path: &Path) -> Result<Option<String>, HostError> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(HostError::io("read", path, e)),
        Ok(_) => read_text(path).map(Some),
    }
}

/// The infra repo a command acts on.
#[derive(Debug, Clone)]
pub struct Repo {
    /// Its root directory (empty for `.`, so messages show plain relative paths).
    pub root: PathBuf,
    inforge_yaml: String,
    regions_yaml: Option<String>,
}

/// One environment as loaded from disk: the core's [`Env`] and the store text it came from.
#[derive(Debug)]
pub struct Loaded {
    /// Parsed config and store.
    pub env: Env,
    /// The store's text, if it exists (a write compares against it).
    pub store_text: Option<String>,
}

impl Repo {
    /// Reads `inforge.yaml` (required) and `regions.yaml` (optional) from `root`.
    pub fn open(root: &Path) -> Result<Repo, HostError> {
        let cfg = root.join("inforge.yaml");
        if !cfg.is_file() {
            return Err(HostError::NotARepo { dir: root.to_path_buf() });
        }
        let inforge_yaml = read_text(&cfg)?;
        let regions_yaml = read_optional(&root.join("regions.yaml"))?;
        let root = if root == Path::new(".") { PathBuf::new() } else { root.to_path_buf() };
        Ok(Repo { root, inforge_yaml, regions_yaml })
    }

    /// `resources/<env>/pki.enc.yaml` under the repo (the name is checked first, so it can
    /// never leave the repo).
    pub fn store_file(&self, env: &str) -> Result<PathBuf, HostError> {
        inforge_core::ops::check_env_name(env)?;
        Ok(self.root.join(store_path(env)))
    }

    /// The files of one environment as text, for [`inforge_core::ops::validate`] (which
    /// reports unparseable files as findings). A store that is unreadable is an error.
    pub fn texts(&self, env: &str) -> Result<(Option<String>, Option<String>), HostError> {
        if inforge_core::ops::check_env_name(env).is_err() {
            return Ok((None, None));
        }
        let store = read_optional(&self.root.join(store_path(env)))?;
        let secrets = read_optional(&self.root.join(format!("resources/{env}/secrets.enc.yaml")))?;
        Ok((store, secrets))
    }

    /// The repo's files with the given store and secret-store texts.
    pub fn files<'a>(&'a self, store: Option<&'a str>, secret_store: Option<&'a str>) -> RepoFiles<'a> {
        RepoFiles { inforge_yaml: &self.inforge_yaml, regions_yaml: self.regions_yaml.as_deref(), store, secret_store }
    }

    /// Loads one environment: config, store (if present), the secret store's recipient.
    pub fn load(&self, env: &str) -> Result<Loaded, HostError> {
        inforge_core::ops::check_env_name(env)?;
        let (store_text, secrets) = self.texts(env)?;
        let env = Env::load(&self.files(store_text.as_deref(), secrets.as_deref()), env)?;
        Ok(Loaded { env, store_text })
    }

    /// Takes the environment's store lock (one writer at a time), waiting a bounded time.
    /// Load the store after taking it, so the write is based on the latest commit.
    pub fn lock_store(&self, env: &str) -> Result<Lock, HostError> {
        // The environment must be valid and declared before its directory is created.
        self.load(env)?;
        let path = self.store_file(env)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| HostError::io("create", dir, e))?;
        lock::acquire(dir, lock::wait())
    }

    /// Writes the store atomically if its text changed; returns whether it wrote. The caller
    /// holds the store lock.
    pub fn save_store(
        &self,
        env: &str,
        store: &Store,
        previous: Option<&str>,
        _lock: &Lock,
    ) -> Result<bool, HostError> {
        let text = store.to_yaml();
        if previous == Some(text.as_str()) {
            return Ok(false);
        }
        let path = self.store_file(env)?;
        write_atomic(&path, text.as_bytes(), None)?;
        Ok(true)
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other writer (another process, a recycled PID, another thread) can pick.
pub fn unique_suffix() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let mut r = [0u8; 4];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut r);
    format!("{nanos}-{}-{}-{:08x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), u32::from_le_bytes(r))
}

/// Atomically replaces `path` with `bytes` (optionally with a Unix mode): a unique temp file
/// beside the target, fsync, rename, fsync of the directory. A store that is a symlink is
/// written through (its target is replaced; the link stays). Stale temp files of this target
/// left by a killed writer are removed (the caller holds the lock, so none is live).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), HostError> {
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path).map_err(|e| HostError::io("resolve", path, e))?,
        _ => path.to_path_buf(),
    };
    let dir = target.parent().unwrap_or(Path::new(".")).to_path_buf();
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("file").to_string();
    let prefix = format!(".{name}.tmp-");
    if let Ok(entries) = fs::read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { &dir }) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    let tmp = dir.join(format!("{prefix}{}", unique_suffix()));
    let result = (|| -> std::io::Result<()> {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode.unwrap_or(0o644));
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        crate::provider::fault_point("store-before-rename");
        fs::rename(&tmp, &target)?;
        if let Ok(d) = fs::File::open(if dir.as_os_str().is_empty() { Path::new(".") } else { &dir }) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(HostError::io("write", path, e));
    }
    Ok(())
}
