//! The infra repo on disk: reading its files (bounded, UTF-8 checked) and writing the store
//! atomically under a lock.

use std::fs;
use std::path::{Path, PathBuf};

use inforge_core::model::config::Project;
use inforge_core::model::store::{store_path, Store};
use inforge_core::ops::{Env, RepoFiles};

use crate::fsio::{read_text, write_atomic};
use crate::lock::{self, Lock};
use crate::HostError;

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
    /// The config once parsed: a command that loads twice (a write loads before and after
    /// taking the store lock) parses it once.
    project: std::sync::OnceLock<std::sync::Arc<Project>>,
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
        Ok(Repo { root, inforge_yaml, regions_yaml, project: std::sync::OnceLock::new() })
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
        let env = Env::load_parsed(self.project()?, &self.files(store_text.as_deref(), secrets.as_deref()), env)?;
        Ok(Loaded { env, store_text })
    }

    /// The parsed config ([`crate::config_cache::parse`]), parsed once per [`Repo`].
    fn project(&self) -> Result<std::sync::Arc<Project>, HostError> {
        if let Some(p) = self.project.get() {
            return Ok(p.clone());
        }
        let p = crate::config_cache::parse(&self.inforge_yaml, self.regions_yaml.as_deref())
            .map_err(inforge_core::Error::from)?;
        Ok(self.project.get_or_init(|| p).clone())
    }

    /// Takes the environment's store lock (one writer at a time), waiting a bounded time.
    /// Checks the environment's store still has the text a command planned from (`None`: it
    /// had none): [`HostError::StoreChanged`] otherwise.
    pub fn check_store(&self, env: &str, planned_from: Option<&str>) -> Result<(), HostError> {
        let (now, _) = self.texts(env)?;
        if now.as_deref() == planned_from {
            Ok(())
        } else {
            Err(HostError::StoreChanged { path: self.store_file(env)? })
        }
    }

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
