//! The runtime directory on the host: `DIR/{cert,key,bundle,crl}.pem`, replaced as one.
//!
//! Layout (the "atomic writer" pattern of Kubernetes' projected volumes):
//! ```text
//! DIR/cert.pem   -> .current/cert.pem      (fixed links, made once)
//! DIR/key.pem    -> .current/key.pem
//! DIR/bundle.pem -> .current/bundle.pem
//! DIR/.current   -> .gen-<unique>          (swapped by one rename)
//! DIR/.gen-<unique>/{cert,key,bundle,crl}.pem  (key 0600)
//! ```
//! A service that opens `DIR/cert.pem` then `DIR/key.pem` after the reload sees one
//! generation; the swap is a single `rename`, so a kill at any moment leaves the old set or
//! the new one, never a mix. Files are owned like `DIR` (systemd creates it for the service's
//! user), so a projection run as root still leaves a key the service can read.
//!
//! The service user owns `DIR` and can put anything in it at any moment, so root never works
//! by a path inside it: everything is relative to `DIR`'s descriptor and to the descriptor of
//! the generation directory it just made (checked on the descriptor), with `O_NOFOLLOW` and
//! exclusive creates, so a planted or swapped-in link is never followed.

use std::fs;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use inforge_core::mesh::projection::SetTexts;
use inforge_host::HostError;
use zeroize::Zeroizing;

use crate::error::BootError;

const TMPFS_MAGIC: i64 = 0x0102_1994;
const RAMFS_MAGIC: i64 = 0x8584_58f6;
const FILES: [&str; 5] = ["cert.pem", "key.pem", "bundle.pem", "bundle.spiffe.json", "crl.pem"];
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
            // Whatever cannot be read as a set (a dangling link, a FIFO the service user planted,
            // a file that is not UTF-8 or is too large) counts as absent: the projection
            // rewrites the set instead of failing every run from now on.
            _ => Ok(inforge_host::fsio::read_regular(&p).ok()),
        }
    };
    match (read("cert.pem")?, read("key.pem")?, read("bundle.pem")?) {
        // `crl.pem` came later: a directory projected before it holds none.
        (Some(cert), Some(key), Some(bundle)) => Ok(Some(SetTexts {
            cert,
            key: Zeroizing::new(key),
            bundle,
            spiffe: read("bundle.spiffe.json")?.unwrap_or_default(),
            crl: read("crl.pem")?.unwrap_or_default(),
        })),
        _ => Ok(None),
    }
}

fn sys<'a>(op: &'static str, p: &'a Path) -> impl Fn(Errno) -> BootError + 'a {
    move |e| BootError::Host(HostError::io(op, p, e.into()))
}

/// Opens `DIR` (its path is root's configuration, its parent root's) for the `*at` calls.
fn open_dir(dir: &Path) -> Result<fs::File, BootError> {
    rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map(fs::File::from)
        .map_err(sys("open", dir))
}

/// Creates `name` in the directory open as `dir` (never through a link, never over an
/// existing entry), writes it and gives it `DIR`'s owner.
fn write_new(
    dir: &fs::File,
    shown: &Path,
    name: &str,
    bytes: &[u8],
    mode: u32,
    owner: (u32, u32),
) -> Result<(), BootError> {
    let path = shown.join(name);
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut f =
        fs::File::from(rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(mode)).map_err(sys("create", &path))?);
    f.write_all(bytes).map_err(io("write", &path))?;
    chown_fd(&f, &path, owner)
}

fn chown_fd(fd: impl AsFd, path: &Path, (uid, gid): (u32, u32)) -> Result<(), BootError> {
    if rustix::process::geteuid().is_root() {
        let owner = Some(rustix::fs::Uid::from_raw(uid));
        let group = Some(rustix::fs::Gid::from_raw(gid));
        rustix::fs::fchown(fd, owner, group).map_err(sys("chown", path))?;
    }
    Ok(())
}

/// Gives the link `name` in `dir` `DIR`'s owner (the link itself, never its target).
fn chown_link(dir: &fs::File, path: &Path, name: &str, (uid, gid): (u32, u32)) -> Result<(), BootError> {
    if rustix::process::geteuid().is_root() {
        let owner = Some(rustix::fs::Uid::from_raw(uid));
        let group = Some(rustix::fs::Gid::from_raw(gid));
        rustix::fs::chownat(dir, name, owner, group, AtFlags::SYMLINK_NOFOLLOW).map_err(sys("chown", path))?;
    }
    Ok(())
}

/// Replaces `DIR`'s set with `set` in one rename; returns nothing until the swap is done.
pub fn replace(dir: &Path, set: &SetTexts) -> Result<(), BootError> {
    let dfd = open_dir(dir)?;
    let meta = dfd.metadata().map_err(io("stat", dir))?;
    let owner = (meta.uid(), meta.gid());
    let suffix = inforge_host::fsio::unique_suffix();
    let gen_name = format!(".gen-{suffix}");
    let gen_dir = dir.join(&gen_name);
    rustix::fs::mkdirat(&dfd, &gen_name, Mode::from_raw_mode(0o700)).map_err(sys("create", &gen_dir))?;
    let written = (|| {
        // The directory just made, opened without following a link and checked on its
        // descriptor: the service user may have swapped anything in at its name since.
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let g =
            fs::File::from(rustix::fs::openat(&dfd, &gen_name, flags, Mode::empty()).map_err(sys("open", &gen_dir))?);
        let m = g.metadata().map_err(io("stat", &gen_dir))?;
        if !m.is_dir() || m.uid() != rustix::process::geteuid().as_raw() {
            let swapped =
                std::io::Error::other("it was replaced while being made (another user writes the runtime directory)");
            return Err(BootError::Host(HostError::io("open", &gen_dir, swapped)));
        }
        write_new(&g, &gen_dir, "cert.pem", set.cert.as_bytes(), 0o644, owner)?;
        write_new(&g, &gen_dir, "key.pem", set.key.as_bytes(), 0o600, owner)?;
        write_new(&g, &gen_dir, "bundle.pem", set.bundle.as_bytes(), 0o644, owner)?;
        write_new(&g, &gen_dir, "bundle.spiffe.json", set.spiffe.as_bytes(), 0o644, owner)?;
        write_new(&g, &gen_dir, "crl.pem", set.crl.as_bytes(), 0o644, owner)?;
        rustix::fs::fchmod(&g, Mode::from_raw_mode(0o750)).map_err(sys("chmod", &gen_dir))?;
        chown_fd(&g, &gen_dir, owner)
    })();
    if let Err(e) = written {
        // Removes a link swapped in at the name, never what it points at.
        let _ = fs::remove_dir_all(&gen_dir);
        return Err(e);
    }
    // The generation being replaced: it stays until the next projection, so a reader that
    // resolved `.current` just before the swap still finds its files.
    let previous = rustix::fs::readlinkat(&dfd, ".current", Vec::new())
        .ok()
        .and_then(|t| t.into_string().ok())
        .filter(|t| t.starts_with(".gen-") && !t.contains('/'));
    // Swap `.current` (one rename: atomic), then make sure the fixed links exist.
    let tmp_name = format!(".current-{suffix}");
    let tmp = dir.join(&tmp_name);
    let swapped = rustix::fs::symlinkat(&gen_name, &dfd, &tmp_name)
        .map_err(sys("symlink", &tmp))
        .and_then(|_| chown_link(&dfd, &tmp, &tmp_name, owner))
        .and_then(|_| rustix::fs::renameat(&dfd, &tmp_name, &dfd, ".current").map_err(sys("swap", &tmp)));
    if let Err(e) = swapped {
        let _ = rustix::fs::unlinkat(&dfd, &tmp_name, AtFlags::empty());
        let _ = fs::remove_dir_all(&gen_dir);
        return Err(e);
    }
    for name in FILES {
        let target = format!(".current/{name}");
        if rustix::fs::readlinkat(&dfd, name, Vec::new()).is_ok_and(|t| t.as_bytes() == target.as_bytes()) {
            continue;
        }
        // First projection, or plain files from before: replace each by its link atomically.
        let tmp_name = format!(".{name}-{suffix}");
        let tmp = dir.join(&tmp_name);
        rustix::fs::symlinkat(&target, &dfd, &tmp_name).map_err(sys("symlink", &tmp))?;
        chown_link(&dfd, &tmp, &tmp_name, owner)?;
        rustix::fs::renameat(&dfd, &tmp_name, &dfd, name).map_err(sys("link", &dir.join(name)))?;
    }
    // Older generations go; the one just replaced stays one more round (a reader may be in
    // it until it reopens after the reload). `remove_dir_all` and `remove_file` never follow a
    // link at the name they remove.
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stale_gen = name.starts_with(".gen-") && name != gen_name && previous.as_deref() != Some(name.as_str());
            let stale_tmp = name.starts_with(".current-") || (name.starts_with('.') && name.contains(".pem-"));
            if stale_gen {
                let _ = fs::remove_dir_all(e.path());
            } else if stale_tmp {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

/// Marks a reload as owed: creates `DIR/.reload-pending` relative to `DIR`'s descriptor,
/// exclusively and without following a link. A regular file already there is the mark;
/// anything else (a link the service user planted) is unlinked first, never opened.
pub fn mark_pending(dir: &Path) -> Result<(), BootError> {
    let p = dir.join(PENDING);
    let dfd = open_dir(dir)?;
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    for _ in 0..3 {
        match rustix::fs::openat(&dfd, PENDING, flags, Mode::from_raw_mode(0o600)) {
            Ok(_) => return Ok(()),
            Err(Errno::EXIST) => {
                let st = rustix::fs::statat(&dfd, PENDING, AtFlags::SYMLINK_NOFOLLOW);
                if st.is_ok_and(|st| {
                    rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
                }) {
                    return Ok(());
                }
                match rustix::fs::unlinkat(&dfd, PENDING, AtFlags::empty()) {
                    Ok(()) | Err(Errno::NOENT) => {}
                    Err(e) => return Err(sys("remove", &p)(e)),
                }
            }
            Err(e) => return Err(sys("create", &p)(e)),
        }
    }
    let raced = sys("create", &p)(Errno::EXIST);
    Err(raced)
}

/// Whether a reload is owed from an earlier run (any entry at the name, not followed).
pub fn pending(dir: &Path) -> bool {
    open_dir(dir).is_ok_and(|dfd| rustix::fs::statat(&dfd, PENDING, AtFlags::SYMLINK_NOFOLLOW).is_ok())
}

/// Clears the owed reload (unlinks the name relative to `DIR`; a link is removed, never
/// followed).
pub fn clear_pending(dir: &Path) -> Result<(), BootError> {
    let p = dir.join(PENDING);
    let dfd = open_dir(dir)?;
    match rustix::fs::unlinkat(&dfd, PENDING, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(sys("remove", &p)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn set(n: u8) -> SetTexts {
        SetTexts {
            cert: format!("cert {n}\n"),
            key: Zeroizing::new(format!("key {n}\n")),
            bundle: format!("bundle {n}\n"),
            spiffe: format!("spiffe {n}\n"),
            crl: format!("crl {n}\n"),
        }
    }

    fn generations(dir: &Path) -> Vec<String> {
        let mut g: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".gen-"))
            .collect();
        g.sort();
        g
    }

    /// Hardening L10: a reader that resolved `.current` before a projection keeps a whole
    /// generation until the next one: the replaced generation stays one round.
    #[test]
    fn the_replaced_generation_stays_until_the_next_projection() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path();
        replace(dir, &set(1)).unwrap();
        let first = fs::read_link(dir.join(".current")).unwrap();
        replace(dir, &set(2)).unwrap();
        // The first generation, as a reader that resolved it before the swap sees it.
        assert_eq!(fs::read_to_string(dir.join(&first).join("cert.pem")).unwrap(), "cert 1\n");
        assert_eq!(generations(dir).len(), 2);
        replace(dir, &set(3)).unwrap();
        assert!(!dir.join(&first).exists(), "a generation two rounds old is removed");
        assert_eq!(generations(dir).len(), 2);
        assert_eq!(fs::read_to_string(dir.join("cert.pem")).unwrap(), "cert 3\n");
    }
}
