//! The shell around the core: filesystem, environment, clock and OS randomness.
//! Nothing here decides anything about PKI; it only fetches inputs and writes outputs.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use inforge_core::config::Project;
use inforge_core::custody::{Custodian, CustodyError, Identity, Sealer};
use inforge_core::pki::PkiError;
use inforge_core::store::{store_path, Store};
use time::OffsetDateTime;

use crate::error::CliError;

/// The infra repo the command acts on.
pub struct Repo {
    pub root: PathBuf,
    pub project: Project,
}

fn read(path: &Path) -> Result<String, CliError> {
    fs::read_to_string(path).map_err(|e| CliError::io("read", path, e))
}

impl Repo {
    /// Loads `inforge.yaml` (required) and `regions.yaml` (optional) from `root`.
    pub fn open(root: &Path) -> Result<Repo, CliError> {
        let cfg = root.join("inforge.yaml");
        if !cfg.is_file() {
            return Err(CliError::NotARepo { dir: root.to_path_buf() });
        }
        let text = read(&cfg)?;
        let regions_path = root.join("regions.yaml");
        let regions = if regions_path.is_file() { Some(read(&regions_path)?) } else { None };
        let project = Project::parse(&text, regions.as_deref()).map_err(inforge_core::Error::from)?;
        // `-C .` (the default) reads better as plain relative paths in messages.
        let root = if root == Path::new(".") { PathBuf::new() } else { root.to_path_buf() };
        Ok(Repo { root, project })
    }

    /// Checks the environment name and that inforge.yaml declares it.
    pub fn env(&self, env: &str) -> Result<(), CliError> {
        inforge_core::names::check_segment("environment", env).map_err(inforge_core::Error::from)?;
        self.project.environment(env).map_err(inforge_core::Error::from)?;
        Ok(())
    }

    pub fn store_file(&self, env: &str) -> PathBuf {
        self.root.join(store_path(env))
    }

    /// Loads the environment's store; missing store is a clear error.
    pub fn load_store(&self, env: &str) -> Result<(Store, String), CliError> {
        self.env(env)?;
        let path = self.store_file(env);
        if !path.exists() {
            return Err(
                inforge_core::Error::from(PkiError::StoreMissing { env: env.into(), path: store_path(env) }).into()
            );
        }
        let text = read(&path)?;
        let store = Store::parse(&store_path(env), &text).map_err(inforge_core::Error::from)?;
        Ok((store, text))
    }

    /// Writes the store atomically (temp file, fsync, rename, fsync dir) if it changed.
    pub fn save_store(&self, env: &str, store: &Store, previous: Option<&str>) -> Result<bool, CliError> {
        let text = store.to_yaml();
        if previous == Some(text.as_str()) {
            return Ok(false);
        }
        write_atomic(&self.store_file(env), text.as_bytes(), None)?;
        Ok(true)
    }
}

/// Atomically replaces `path` with `bytes` (optionally with a Unix mode).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), CliError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
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
        fs::rename(&tmp, path)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(CliError::io("write", path, e));
    }
    Ok(())
}

/// Reads a custodian's identity from its environment variable.
pub fn identity(c: Custodian) -> Result<Identity, CliError> {
    let value = std::env::var(c.env_var()).ok();
    Identity::parse(c, value.as_deref()).map_err(|e: CustodyError| inforge_core::Error::from(e).into())
}

/// The clock, or `INFORGE_NOW` for rehearsals and tests.
pub fn now() -> Result<OffsetDateTime, CliError> {
    match std::env::var("INFORGE_NOW") {
        Ok(v) => Ok(inforge_core::time::parse_rfc3339("INFORGE_NOW", &v).map_err(inforge_core::Error::from)?),
        Err(_) => {
            let t = OffsetDateTime::now_utc();
            Ok(t.replace_nanosecond(0).unwrap_or(t))
        }
    }
}

/// The OS RNG, the one source of randomness handed to the core.
pub fn rng() -> rand_core::OsRng {
    rand_core::OsRng
}

/// age encryption with OS randomness (the core cannot draw it itself).
pub struct AgeSealer;

impl Sealer for AgeSealer {
    fn seal(&mut self, recipient: &str, plaintext: &[u8], location: &str) -> Result<String, CustodyError> {
        let err = |reason: String| CustodyError::Seal { location: location.to_string(), reason };
        let r: age::x25519::Recipient = recipient.parse().map_err(|e: &str| err(e.to_string()))?;
        age::encrypt_and_armor(&r, plaintext).map_err(|e| err(e.to_string()))
    }
}

/// A suffix unique to this run (time + pid) for generation directories.
pub fn unique_suffix() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{nanos}-{}", std::process::id())
}

/// Writes command output to stdout; a closed pipe is an error (exit 1), never a panic.
pub fn out(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes()).and_then(|_| o.flush()).map_err(|e| CliError::io("write", Path::new("<stdout>"), e))
}

/// Whether stdout can keep what is written to it. Rust reopens a closed fd 1 as /dev/null at
/// startup, so a closed stdout and `>/dev/null` look alike: both would lose what init prints.
/// (Linux: /proc/self/fd/1; elsewhere assume yes.)
pub fn stdout_keeps_output() -> bool {
    match std::fs::read_link("/proc/self/fd/1") {
        Ok(target) => target != Path::new("/dev/null"),
        Err(_) => true,
    }
}
