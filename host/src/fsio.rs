//! File IO shared by the host crate: bounded, UTF-8 checked reads; unique temporary names;
//! atomic replacement.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::HostError;

/// The most inforge reads of a store, config or identity file (16 MiB): far beyond any real
/// one, small enough that pointing inforge at `/dev/zero` fails at once.
pub const MAX_FILE: u64 = 16 << 20;

/// [`read_text`] for a file another user may have replaced: opened without blocking (a FIFO
/// planted there never stalls the reader) and read only if it is a regular file.
pub fn read_regular(path: &Path) -> Result<String, HostError> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| HostError::io("read", path, e))?;
    let meta = f.metadata().map_err(|e| HostError::io("read", path, e))?;
    if !meta.is_file() {
        return Err(HostError::io("read", path, std::io::Error::other("not a regular file")));
    }
    let mut buf = Vec::new();
    f.take(MAX_FILE + 1).read_to_end(&mut buf).map_err(|e| HostError::io("read", path, e))?;
    if buf.len() as u64 > MAX_FILE {
        return Err(HostError::TooLarge { path: path.to_path_buf(), limit: MAX_FILE });
    }
    String::from_utf8(buf).map_err(|_| HostError::NotUtf8 { path: path.to_path_buf() })
}

/// Reads a UTF-8 text file of at most [`MAX_FILE`] bytes.
pub fn read_text(path: &Path) -> Result<String, HostError> {
    let buf = read_bytes(path)?;
    String::from_utf8(buf).map_err(|_| HostError::NotUtf8 { path: path.to_path_buf() })
}

/// Reads a file of at most [`MAX_FILE`] bytes.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, HostError> {
    let f = fs::File::open(path).map_err(|e| HostError::io("read", path, e))?;
    let mut buf = Vec::new();
    f.take(MAX_FILE + 1).read_to_end(&mut buf).map_err(|e| HostError::io("read", path, e))?;
    if buf.len() as u64 > MAX_FILE {
        return Err(HostError::TooLarge { path: path.to_path_buf(), limit: MAX_FILE });
    }
    Ok(buf)
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
        crate::fault::fault_point("store-before-rename");
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

/// Writes `rel` under the directory `root` (which the user named) without following any link
/// below `root`: a missing directory is made, an existing one must be a real directory, and
/// the file is created fresh beside its name (`O_EXCL`) and renamed over it, so a link planted
/// at the name is replaced, never written through. Returns the path written.
pub fn write_under(root: &Path, rel: &Path, bytes: &[u8]) -> Result<std::path::PathBuf, HostError> {
    use std::path::Component;
    let refuse = |p: &Path, why: &str| HostError::io("write under", p, std::io::Error::other(why.to_string()));
    let parts: Vec<&std::ffi::OsStr> = rel
        .components()
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => Err(refuse(rel, "not a plain relative path")),
        })
        .collect::<Result<_, _>>()?;
    let Some((file, parents)) = parts.split_last() else { return Err(refuse(rel, "empty path")) };
    // The directory the user named is theirs: made if missing, as `--out-dir` always did.
    fs::create_dir_all(root).map_err(|e| HostError::io("create", root, e))?;
    let mut dir = root.to_path_buf();
    for p in parents {
        dir.push(p);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => {
                return Err(refuse(&dir, "is a link or a file, not a directory: inforge does not write through it"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir(&dir).map_err(|e| HostError::io("create", &dir, e))?
            }
            Err(e) => return Err(HostError::io("inspect", &dir, e)),
        }
    }
    let target = dir.join(file);
    let tmp = dir.join(format!(".{}.tmp-{}", file.to_string_lossy(), unique_suffix()));
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &target)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(HostError::io("write", &target, e));
    }
    Ok(target)
}

#[cfg(test)]
mod write_under_tests {
    use super::*;

    #[test]
    fn a_planted_link_is_replaced_or_refused_never_written_through() {
        let t = tempfile::tempdir().unwrap();
        let victim = t.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let out = t.path().join("out");
        fs::create_dir(&out).unwrap();
        // A link at the file's name: replaced by the file, the victim untouched.
        std::os::unix::fs::symlink(&victim, out.join("api.service")).unwrap();
        write_under(&out, Path::new("api.service"), b"[Unit]\n").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert!(!fs::symlink_metadata(out.join("api.service")).unwrap().file_type().is_symlink());
        // A link at a directory's name: refused, nothing written in its target.
        let elsewhere = t.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("api.service.d")).unwrap();
        let e = write_under(&out, Path::new("api.service.d/inforge.conf"), b"x").unwrap_err();
        assert!(e.to_string().contains("does not write through"), "{e}");
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
        // Normal case: directories made, file written.
        let p = write_under(&out, Path::new("web.service.d/inforge.conf"), b"y").unwrap();
        assert_eq!(fs::read(p).unwrap(), b"y");
        assert!(write_under(&out, Path::new("../x"), b"z").is_err());
        // The named directory itself may not exist yet.
        let fresh = t.path().join("new/units");
        assert_eq!(fs::read(write_under(&fresh, Path::new("a.service.d/x.conf"), b"w").unwrap()).unwrap(), b"w");
    }
}
