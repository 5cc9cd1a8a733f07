//! The runtime directory on the host: `DIR/{cert,key,bundle}.pem`, replaced as one.
//!
//! Layout (the "atomic writer" pattern of Kubernetes' projected volumes):
//! ```text
//! DIR/cert.pem   -> .current/cert.pem      (fixed links, made once)
//! DIR/key.pem    -> .current/key.pem
//! DIR/bundle.pem -> .current/bundle.pem
//! DIR/.current   -> .gen-<unique>          (swapped by one rename)
//! DIR/.gen-<unique>/{cert,key,bundle}.pem  (key 0600)
//! ```
//! A service that opens `DIR/cert.pem` then `DIR/key.pem` after the reload sees one
//! generation; the swap is a single `rename`, so a kill at any moment leaves the old set or
//! the new one, never a mix. Files are owned like `DIR` (systemd creates it for the service's
//! user), so a projection run as root still leaves a key the service can read.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use inforge_core::mesh::projection::SetTexts;
use inforge_host::HostError;
use zeroize::Zeroizing;

use crate::error::BootError;

const TMPFS_MAGIC: i64 = 0x0102_1994;
const RAMFS_MAGIC: i64 = 0x8584_58f6;
const FILES: [&str; 3] = ["cert.pem", "key.pem", "bundle.pem"];
/// Marks a projection whose reload has not succeeded yet; the next run reloads even if the
/// set is unchanged, so a failed reload is never forgotten.
pub const PENDING: &str = ".reload-pending";

fn io<'a>(op: &'static str, p: &'a Path) -> impl Fn(std::io::Error) -> BootError + 'a {
    move |e| BootError::Host(HostError::io(op, p, e))
}

/// Checks `dir` exists and is memory-backed (tmpfs or ramfs) unless persistence is allowed:
/// a leaf key must not outlive the host's power cycle on a disk.
pub fn check_dir(dir: &Path, allow_persistent: bool) -> Result<(), BootError> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(BootError::RuntimeDirNotDir { dir: dir.to_path_buf() }),
        Err(_) => return Err(BootError::RuntimeDirMissing { dir: dir.to_path_buf() }),
    }
    if allow_persistent {
        return Ok(());
    }
    let st = rustix::fs::statfs(dir).map_err(|e| BootError::Host(HostError::io("statfs", dir, e.into())))?;
    #[allow(clippy::unnecessary_cast)] // f_type's width differs across targets
    let kind = st.f_type as i64;
    if kind == TMPFS_MAGIC || kind == RAMFS_MAGIC {
        Ok(())
    } else {
        Err(BootError::RuntimeDirPersistent { dir: dir.to_path_buf() })
    }
}

/// What `DIR` holds now, if it holds a whole set.
pub fn current(dir: &Path) -> Result<Option<SetTexts>, BootError> {
    let read = |name: &str| -> Result<Option<String>, BootError> {
        let p = dir.join(name);
        match fs::symlink_metadata(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            _ => match inforge_host::fsio::read_text(&p) {
                Ok(t) => Ok(Some(t)),
                // A dangling link or unreadable file: treat as absent, the projection rewrites it.
                Err(HostError::Io { .. }) => Ok(None),
                Err(e) => Err(BootError::Host(e)),
            },
        }
    };
    match (read("cert.pem")?, read("key.pem")?, read("bundle.pem")?) {
        (Some(cert), Some(key), Some(bundle)) => Ok(Some(SetTexts { cert, key: Zeroizing::new(key), bundle })),
        _ => Ok(None),
    }
}

fn write_new(path: &Path, bytes: &[u8], mode: u32, owner: (u32, u32)) -> Result<(), BootError> {
    let mut f =
        fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(io("create", path))?;
    f.write_all(bytes).map_err(io("write", path))?;
    chown_like(path, owner)
}

fn chown_like(path: &Path, (uid, gid): (u32, u32)) -> Result<(), BootError> {
    if rustix::process::geteuid().is_root() {
        let owner = Some(rustix::fs::Uid::from_raw(uid));
        let group = Some(rustix::fs::Gid::from_raw(gid));
        rustix::fs::chownat(rustix::fs::CWD, path, owner, group, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| BootError::Host(HostError::io("chown", path, e.into())))?;
    }
    Ok(())
}

/// Replaces `DIR`'s set with `set` in one rename; returns nothing until the swap is done.
pub fn replace(dir: &Path, set: &SetTexts) -> Result<(), BootError> {
    let meta = fs::metadata(dir).map_err(io("stat", dir))?;
    let owner = (meta.uid(), meta.gid());
    let suffix = inforge_host::fsio::unique_suffix();
    let gen_name = format!(".gen-{suffix}");
    let gen_dir = dir.join(&gen_name);
    fs::create_dir(&gen_dir).map_err(io("create", &gen_dir))?;
    let written = (|| {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&gen_dir, fs::Permissions::from_mode(0o750)).map_err(io("chmod", &gen_dir))?;
        chown_like(&gen_dir, owner)?;
        write_new(&gen_dir.join("cert.pem"), set.cert.as_bytes(), 0o644, owner)?;
        write_new(&gen_dir.join("key.pem"), set.key.as_bytes(), 0o600, owner)?;
        write_new(&gen_dir.join("bundle.pem"), set.bundle.as_bytes(), 0o644, owner)
    })();
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&gen_dir);
        return Err(e);
    }
    // Swap `.current` (one rename: atomic), then make sure the fixed links exist.
    let previous = fs::read_link(dir.join(".current")).ok();
    let tmp = dir.join(format!(".current-{suffix}"));
    let swapped = std::os::unix::fs::symlink(&gen_name, &tmp)
        .map_err(io("symlink", &tmp))
        .and_then(|_| chown_like(&tmp, owner))
        .and_then(|_| fs::rename(&tmp, dir.join(".current")).map_err(io("swap", &tmp)));
    if let Err(e) = swapped {
        let _ = fs::remove_file(&tmp);
        let _ = fs::remove_dir_all(&gen_dir);
        return Err(e);
    }
    for name in FILES {
        let link = dir.join(name);
        let target = PathBuf::from(".current").join(name);
        if fs::read_link(&link).ok().as_deref() == Some(target.as_path()) {
            continue;
        }
        // First projection, or plain files from before: replace each by its link atomically.
        let tmp = dir.join(format!(".{name}-{suffix}"));
        std::os::unix::fs::symlink(&target, &tmp).map_err(io("symlink", &tmp))?;
        chown_like(&tmp, owner)?;
        fs::rename(&tmp, &link).map_err(io("link", &link))?;
    }
    // Old generations go; the one just replaced too (readers reopen after the reload).
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stale_gen = name.starts_with(".gen-") && name != gen_name;
            let stale_tmp = name.starts_with(".current-") || (name.starts_with('.') && name.contains(".pem-"));
            if stale_gen {
                let _ = fs::remove_dir_all(e.path());
            } else if stale_tmp {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    let _ = previous;
    Ok(())
}

/// Marks a reload as owed.
pub fn mark_pending(dir: &Path) -> Result<(), BootError> {
    let p = dir.join(PENDING);
    fs::write(&p, b"").map_err(io("write", &p))
}

/// Whether a reload is owed from an earlier run.
pub fn pending(dir: &Path) -> bool {
    dir.join(PENDING).exists()
}

/// Clears the owed reload.
pub fn clear_pending(dir: &Path) -> Result<(), BootError> {
    let p = dir.join(PENDING);
    match fs::remove_file(&p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", &p)(e)),
        _ => Ok(()),
    }
}
