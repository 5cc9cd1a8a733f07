//! Where checked configs are kept between runs: one file per key under the user's cache
//! directory (`$INFORGE_CACHE_DIR`, else `$XDG_CACHE_HOME/inforge`, else
//! `~/.cache/inforge`). The format, the key and why a hit is as strict as a parse are in
//! [`inforge_core::model::config_cache`].
//!
//! A big config parsed once stays in memory for the rest of the process, whatever the
//! frontend. The cache directory is used only by a frontend that turns it on ([`enable`]: the CLI, whose executable's identity
//! is part of the key), and only for configs of at least
//! [`MIN_CACHED_BYTES`](inforge_core::model::config_cache::MIN_CACHED_BYTES). An entry is read
//! only if it is a regular file of this user's, readable by nobody else, in a directory of
//! this user's that nobody else can write; anything else, or any error, is a miss, and a miss
//! is the ordinary parse. Writing an entry is best effort: it never fails a command.

use std::fs;
use std::io::{Read, Write};
#[cfg(test)]
use std::os::unix::fs::PermissionsExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use inforge_core::error::ConfigError;
use inforge_core::model::config::Project;
use inforge_core::model::config_cache::{decode, digest, encode, key, MIN_CACHED_BYTES};

use crate::fsio::{unique_suffix, MAX_FILE};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Entries kept per cache directory; on a miss the oldest beyond this are removed.
const KEEP: usize = 8;

/// Lets [`parse`] keep and reuse checked configs in this process (the CLI calls it; the
/// Python module does not, as its executable is the interpreter, whose identity says nothing
/// about the inforge build).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// The last big config this process parsed, by its [`digest`]: a Python deploy script that
/// mints service after service in one process parses the config once.
static LAST: Mutex<Option<(String, Arc<Project>)>> = Mutex::new(None);

/// [`Project::parse`] for a config this process may have parsed already (kept in memory, for
/// every frontend), else through the cache directory when it is enabled; small configs are
/// always parsed.
pub fn parse(inforge_yaml: &str, regions_yaml: Option<&str>) -> Result<Arc<Project>, ConfigError> {
    if inforge_yaml.len() < MIN_CACHED_BYTES {
        return Project::parse(inforge_yaml, regions_yaml).map(Arc::new);
    }
    let d = digest(inforge_yaml, regions_yaml);
    if let Some((_, p)) = LAST.lock().ok().as_deref().and_then(|last| last.as_ref().filter(|(ld, _)| *ld == d)) {
        #[cfg(test)]
        MEMORY_HITS.fetch_add(1, Ordering::Relaxed);
        return Ok(p.clone());
    }
    let place = if ENABLED.load(Ordering::Relaxed) { dir().zip(build()) } else { None };
    let project = Arc::new(match place {
        Some((dir, build)) => parse_at(&dir, &key(&build, &d), inforge_yaml, regions_yaml)?,
        None => Project::parse(inforge_yaml, regions_yaml)?,
    });
    if let Ok(mut last) = LAST.lock() {
        *last = Some((d, project.clone()));
    }
    Ok(project)
}

/// How many [`parse`] calls the in-memory copy served (tests only).
#[cfg(test)]
static MEMORY_HITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The parse of a big config through the entry `key` in the cache directory `dir`.
fn parse_at(dir: &Path, key: &str, inforge_yaml: &str, regions_yaml: Option<&str>) -> Result<Project, ConfigError> {
    let path = dir.join(format!("config-{key}.json"));
    if let Some(project) = read_entry(dir, &path).and_then(|text| decode(&text, key)) {
        return Ok(project);
    }
    let project = Project::parse(inforge_yaml, regions_yaml)?;
    write_entry(dir, &path, &encode(&project, key));
    Ok(project)
}

/// The cache directory, or `None` when there is none (`INFORGE_CACHE_DIR` empty or `off`
/// turns the cache off).
pub fn dir() -> Option<PathBuf> {
    let nonempty = |v: std::ffi::OsString| (!v.is_empty()).then(|| PathBuf::from(v));
    if let Some(v) = std::env::var_os("INFORGE_CACHE_DIR") {
        return (v != "off").then(|| nonempty(v)).flatten();
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").and_then(nonempty).filter(|p| p.is_absolute()) {
        return Some(x.join("inforge"));
    }
    std::env::var_os("HOME").and_then(nonempty).filter(|p| p.is_absolute()).map(|h| h.join(".cache").join("inforge"))
}

/// This build: the version and the running executable's path, device, inode, size and
/// modification time, so a rebuilt or reinstalled `inforge` never reads another build's
/// entries.
fn build() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let m = fs::metadata(&exe).ok()?;
    Some(format!(
        "{} {} {} {} {} {}.{}",
        env!("CARGO_PKG_VERSION"),
        exe.display(),
        m.dev(),
        m.ino(),
        m.len(),
        m.mtime(),
        m.mtime_nsec()
    ))
}

/// Whether `meta` (of a directory, not followed) is ours and writable by nobody else.
fn dir_is_private(meta: &fs::Metadata) -> bool {
    meta.file_type().is_dir() && meta.uid() == rustix::process::geteuid().as_raw() && meta.mode() & 0o022 == 0
}

fn read_entry(dir: &Path, path: &Path) -> Option<String> {
    if !dir_is_private(&fs::symlink_metadata(dir).ok()?) {
        return None;
    }
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let f = fs::OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(path).ok()?;
    let m = f.metadata().ok()?;
    if !m.is_file() || m.uid() != rustix::process::geteuid().as_raw() || m.mode() & 0o077 != 0 || m.len() > MAX_FILE {
        return None;
    }
    let mut text = String::new();
    f.take(MAX_FILE).read_to_string(&mut text).ok()?;
    Some(text)
}

fn write_entry(dir: &Path, path: &Path, text: &str) {
    if fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).is_err() {
        return;
    }
    if !fs::symlink_metadata(dir).is_ok_and(|m| dir_is_private(&m)) {
        return;
    }
    let tmp = dir.join(format!(".config.tmp-{}", unique_suffix()));
    let written = (|| -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
        return;
    }
    prune(dir);
}

/// Removes the oldest entries beyond [`KEEP`] (each config change makes a new one).
fn prune(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("config-") && n.ends_with(".json")
        })
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((m.modified().ok()?, e.path()))
        })
        .collect();
    if found.len() <= KEEP {
        return;
    }
    found.sort();
    for (_, p) in &found[..found.len() - KEEP] {
        let _ = fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGIONS: &str = "regions: [r1, r2]\n";

    /// A config just over the size where the cache starts.
    fn big(extra: &str) -> String {
        let mut c = String::from(
            "baseDomain: t.example\nenvironments:\n  prd: {provider: {kind: dir, path: ../p}}\nservices:\n",
        );
        let mut i = 0;
        while c.len() < MIN_CACHED_BYTES {
            c.push_str(&format!("  svc-{i}: {{pki: mesh, scope: regional}}\n"));
            i += 1;
        }
        c.push_str(extra);
        c
    }

    /// [`parse_at`] with the key of `build` and the files.
    fn at(dir: &Path, build: &str, yaml: &str, regions: Option<&str>) -> Result<Project, ConfigError> {
        parse_at(dir, &key(build, &digest(yaml, regions)), yaml, regions)
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> =
            fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn a_miss_keeps_a_private_entry_and_the_next_parse_is_served_from_it() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("cache/inforge");
        let cfg = big("");
        let first = at(&dir, "b1", &cfg, Some(REGIONS)).unwrap();
        let files = entries(&dir);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        assert_eq!(fs::metadata(&files[0]).unwrap().mode() & 0o777, 0o600);

        // Served from the entry: an entry holding another (valid) project under this key is
        // what comes back, which shows the YAML was not parsed again.
        let k = key("b1", &digest(&cfg, Some(REGIONS)));
        let mut other = first.clone();
        other.config.services.retain(|name, _| name == "svc-0");
        fs::write(&files[0], encode(&other, &k)).unwrap();
        let second = at(&dir, "b1", &cfg, Some(REGIONS)).unwrap();
        assert_eq!(second.config.services.len(), 1);
        assert!(first.config.services.len() > 1000);

        // Another build, or other bytes, is another key: a full parse and a second entry.
        let third = at(&dir, "b2", &cfg, Some(REGIONS)).unwrap();
        assert_eq!(format!("{third:?}"), format!("{first:?}"));
        assert_eq!(entries(&dir).len(), 2);
    }

    #[test]
    fn strictness_is_the_parse_s_and_errors_are_never_kept() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("c");
        let typo = big("  late: {pki: mesh, scpoe: global}\n");
        let direct = Project::parse(&typo, Some(REGIONS)).unwrap_err().to_string();
        let cached = at(&dir, "b", &typo, Some(REGIONS)).unwrap_err().to_string();
        assert_eq!(cached, direct);
        assert!(cached.contains("scpoe"), "{cached}");
        assert!(entries(&dir).is_empty(), "a refused config leaves no entry");
        // Again: still refused, still nothing kept.
        assert!(at(&dir, "b", &typo, Some(REGIONS)).is_err());
        assert!(entries(&dir).is_empty());
    }

    #[test]
    fn entries_that_are_not_plainly_ours_are_ignored_and_replaced() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("c");
        let cfg = big("");
        let good = at(&dir, "b", &cfg, None).unwrap();
        let k = key("b", &digest(&cfg, None));
        let path = dir.join(format!("config-{k}.json"));
        let mut fake = good.clone();
        fake.config.services.clear();
        let planted = encode(&fake, &k);
        let served = |dir: &Path| at(dir, "b", &cfg, None).unwrap().config.services.len();

        // Readable by others: not used (and replaced by a fresh private entry).
        fs::write(&path, &planted).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(served(&dir), good.config.services.len());
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);

        // A symlink to an entry elsewhere: not followed.
        let elsewhere = t.path().join("elsewhere.json");
        fs::write(&elsewhere, &planted).unwrap();
        fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o600)).unwrap();
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert_eq!(served(&dir), good.config.services.len());
        assert!(!fs::symlink_metadata(&path).unwrap().file_type().is_symlink(), "the link was replaced");

        // A directory others can write: neither read nor written.
        fs::write(&path, &planted).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(served(&dir), good.config.services.len());
        assert_eq!(fs::read_to_string(&path).unwrap(), planted, "nothing written into a shared directory");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();

        // Another user's file (needs root to make one).
        if rustix::process::geteuid().is_root() {
            rustix::fs::chown(&path, Some(rustix::fs::Uid::from_raw(65534)), None).unwrap();
            assert_eq!(served(&dir), good.config.services.len());
        }

        // And the planted entry, ours and private, is what a hit serves: the checks above are
        // what kept it out.
        fs::write(&path, &planted).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        rustix::fs::chown(&path, Some(rustix::process::geteuid()), None).unwrap();
        assert_eq!(served(&dir), 0);
    }

    #[test]
    fn a_process_parses_the_same_big_config_once() {
        // `parse` without the cache directory (not enabled in unit tests): the second call with
        // the same bytes is served from memory, other bytes are parsed.
        let cfg = big("  memo-test: {}\n");
        let before = MEMORY_HITS.load(Ordering::Relaxed);
        let first = parse(&cfg, Some(REGIONS)).unwrap();
        let second = parse(&cfg, Some(REGIONS)).unwrap();
        assert_eq!(format!("{first:?}"), format!("{second:?}"));
        assert!(MEMORY_HITS.load(Ordering::Relaxed) > before, "the second parse came from memory");
        let other = parse(&cfg, None).unwrap();
        assert!(other.regions.is_empty(), "other regions.yaml bytes are another key");
        // A refused config is refused every time (never remembered).
        let typo = big("  late: {scpoe: global}\n");
        assert!(parse(&typo, None).is_err() && parse(&typo, None).is_err());
        assert!(!ENABLED.load(Ordering::Relaxed));
    }

    #[test]
    fn old_entries_are_pruned() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("c");
        for i in 0..KEEP + 3 {
            at(&dir, &format!("build-{i}"), &big(""), None).unwrap();
        }
        assert_eq!(entries(&dir).len(), KEEP);
    }
}
