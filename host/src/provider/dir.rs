//! The `dir` provider (SPEC §6).
//!
//! The `dir` layout is `<path>/<service>/mtls/<scope>/{cert.pem,key.pem,bundle.pem}`, where
//! `<scope>` is a symlink to a hidden generation directory `.<scope>@g<n>/` (the "atomic
//! writer" pattern Kubernetes uses for projected secrets). A write of many sets:
//! 1. takes the provider lock (one writer at a time; a second waits, bounded);
//! 2. stages every set's generation `g<n+1>`: the spare `g<n-2>` renamed and its files
//!    overwritten in place (key 0600), or a fresh directory when there is no spare;
//! 3. makes them all durable at once (one `syncfs` of the provider's filesystem);
//! 4. swaps every `<scope>` link (a rename: atomic), then makes the links durable;
//! 5. for new sets and older layouts only, removes generations that are neither current nor
//!    previous, and leftovers of killed writers.
//!
//! A scope keeps three generations: current, previous (a reader may still be in it) and the
//! spare the next write recycles. Recycling is what makes a 20k-set renew cheap on ext4: no
//! inode is allocated or freed and no directory is listed in the steady state.
//!
//! A link never points at a generation that is not durable, and a kill at any moment leaves
//! every set old or new. A failure before step 4 removes this run's generations, so the
//! provider is as it was.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use inforge_core::mesh::projection::SetTexts;
use inforge_core::ops::ProviderInfo;
use zeroize::Zeroizing;

use super::{Batch, BundleOnly, Provider, SetFiles, Slots};
use crate::fault::fault_point;
use crate::fsio::unique_suffix;
use crate::lock;
use crate::parallel::on_cores;
use crate::HostError;

/// The `dir` provider.
#[derive(Debug)]
pub struct DirProvider {
    /// Its root directory.
    pub root: PathBuf,
}

fn io<'a>(op: &'static str, p: &'a Path) -> impl Fn(std::io::Error) -> HostError + 'a {
    move |e| HostError::io(op, p, e)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), HostError> {
    use std::io::Write;
    let mut f =
        fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(io("create", path))?;
    f.write_all(bytes).map_err(io("write", path))
}

/// `syncfs(2)` through a descriptor opened when the write began: the kernel reports any
/// writeback error on the filesystem since that open, including one hit by its own
/// background writeback of our files before this call.
fn sync_fs(root: &Path, fd: &fs::File) -> Result<(), HostError> {
    rustix::fs::syncfs(fd).map_err(|e| HostError::io("sync", root, e.into()))
}

/// The slots a scope's generations rotate through: current, previous (a reader that resolved
/// the link just before a swap may still be in it) and the spare the next write fills.
const SLOTS: u8 = 3;

/// A slot's directory name: `.<scope>@<k>`. '@' cannot occur in a scope name, so `.eu@…`
/// never matches scope `eu.west`.
fn slot_name(scope: &str, k: u8) -> String {
    format!(".{scope}@{k}")
}

/// A slot's standby link name: `.<scope>@link-<k>` → `.<scope>@<k>`.
fn link_name(scope: &str, k: u8) -> String {
    format!(".{scope}@link-{k}")
}

/// The slot a link target names, if it is one of this scope's.
fn slot_of(target: &Path, scope: &str) -> Option<u8> {
    let rest = target.to_str()?.strip_prefix('.')?.strip_prefix(scope)?.strip_prefix('@')?;
    match rest.as_bytes() {
        [d @ b'0'..=b'9'] if d - b'0' < SLOTS => Some(d - b'0'),
        _ => None,
    }
}

fn is_real_dir(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_dir())
}

/// Writes `bytes` as `dir/name`: over the file a recycled generation already has there when
/// it is a plain file of ours (one link, a regular file, and for the key no access beyond
/// the owner's), else as a fresh exclusive create. Overwriting in place is what makes a
/// renew cheap on ext4: no inode is allocated or freed (measured: 6 µs against 22–58 µs for
/// create and 11 µs for the unlink it replaces). `O_NOFOLLOW` and the checks keep a planted
/// link from redirecting the write.
fn put_file(dir: &Path, name: &str, bytes: &[u8], mode: u32, recycled: Recycle) -> Result<(), HostError> {
    use std::io::{Read, Write};
    use std::os::unix::fs::MetadataExt;
    let path = dir.join(name);
    if recycled != Recycle::No {
        let opened = fs::OpenOptions::new()
            .read(recycled == Recycle::KeepSame)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path);
        if let Ok(mut f) = opened {
            let meta = f.metadata().map_err(io("read", &path))?;
            let ours =
                meta.file_type().is_file() && meta.nlink() == 1 && (mode & 0o077 != 0 || meta.mode() & 0o077 == 0);
            if ours {
                if recycled == Recycle::KeepSame && meta.len() == bytes.len() as u64 {
                    let mut old = Vec::with_capacity(bytes.len());
                    Read::by_ref(&mut f).take(bytes.len() as u64).read_to_end(&mut old).map_err(io("read", &path))?;
                    if old == bytes {
                        return Ok(());
                    }
                    std::os::unix::fs::FileExt::write_all_at(&f, bytes, 0).map_err(io("write", &path))?;
                    return Ok(());
                }
                f.write_all(bytes).map_err(io("write", &path))?;
                if meta.len() > bytes.len() as u64 {
                    f.set_len(bytes.len() as u64).map_err(io("write", &path))?;
                }
                return Ok(());
            }
        }
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(HostError::io("remove", &path, e)),
        }
    }
    write_file(&path, bytes, mode)
}

/// How [`put_file`] treats a file already in a recycled slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recycle {
    /// A fresh slot: create.
    No,
    /// Overwrite in place (cert and key: new every time).
    Overwrite,
    /// Leave it when it already holds these bytes (a bundle changes only on rotation, so a
    /// slot from two writes ago usually has it: no page dirtied, nothing to write back).
    KeepSame,
}

/// Makes `link` a symlink to `target`, unless it already is one (a standby link kept from
/// earlier writes): creating it only when missing or wrong (a killed writer's leftover).
fn ensure_link(target: &str, link: &Path) -> Result<(), HostError> {
    match fs::read_link(link) {
        Ok(t) if t == Path::new(target) => return Ok(()),
        Ok(_) => fs::remove_file(link).map_err(io("remove", link))?,
        Err(_) if fs::symlink_metadata(link).is_ok() => fs::remove_dir_all(link).map_err(io("remove", link))?,
        Err(_) => {}
    }
    std::os::unix::fs::symlink(target, link).map_err(io("symlink", link))
}

/// One set's place in a write: the slot its new generation went to and what it replaces.
struct Staged {
    mtls: PathBuf,
    service: String,
    scope: String,
    /// The slot written.
    slot: u8,
    /// The slot `<scope>` pointed at, if it was one.
    current: Option<u8>,
    /// Whether the scope's other entries must be listed and tidied after the swap: a new set,
    /// a layout from an older inforge, or a slot that had to be created.
    tidy: bool,
    /// What `<scope>` pointed at when staged (the previous generation after the swap).
    previous: Option<PathBuf>,
    /// `<scope>` is a plain directory from before inforge managed the path.
    adopt: bool,
}

impl DirProvider {
    /// Step 2 for one set. With `<scope>` → slot `c`, the new generation goes to slot
    /// `c+1 mod 3`: neither current nor previous (`c-1`), so no reader is promised it. Its
    /// files are overwritten in place and its standby link `.<scope>@link-<c+1>` already
    /// exists, so in the steady state a write allocates and frees no inode: on ext4 without a
    /// journal, freeing thousands of inodes makes every later allocation in the run scan them
    /// (`recently_deleted`), measured at 67% of a back-to-back 20k-set renew.
    fn stage(base: &Path, s: &SetFiles<'_>) -> Result<Staged, HostError> {
        let mtls = base.join(s.service).join("mtls");
        let link = mtls.join(s.scope);
        let previous = fs::read_link(&link).ok();
        let adopt = previous.is_none() && fs::symlink_metadata(&link).is_ok();
        let current = previous.as_deref().and_then(|t| slot_of(t, s.scope));
        let slot = current.map_or(0, |c| (c + 1) % SLOTS);
        let target = mtls.join(slot_name(s.scope, slot));
        let recycled = is_real_dir(&target);
        if !recycled {
            if current.is_none() {
                fs::create_dir_all(&mtls).map_err(io("create", &mtls))?;
            }
            // Whatever else is at the slot's name (a file, a planted link) goes.
            let _ = fs::remove_file(&target);
            fs::create_dir(&target).map_err(io("create", &target))?;
        }
        let standby = mtls.join(link_name(s.scope, slot));
        let (overwrite, keep_same) =
            if recycled { (Recycle::Overwrite, Recycle::KeepSame) } else { (Recycle::No, Recycle::No) };
        let files = put_file(&target, "cert.pem", s.cert.as_bytes(), 0o644, overwrite)
            .and_then(|()| put_file(&target, "key.pem", s.key.as_bytes(), 0o600, overwrite))
            .and_then(|()| put_file(&target, "bundle.pem", s.bundle.as_bytes(), 0o644, keep_same))
            .and_then(|()| ensure_link(&slot_name(s.scope, slot), &standby));
        if let Err(e) = files {
            let _ = fs::remove_dir_all(&target);
            return Err(e);
        }
        Ok(Staged {
            mtls,
            service: s.service.to_string(),
            scope: s.scope.to_string(),
            slot,
            current,
            tidy: !recycled,
            previous,
            adopt,
        })
    }

    /// Points `<scope>` at the staged slot. In the steady state: one `renameat2` exchange of
    /// the standby link with `<scope>` (atomic; both inodes live on), then the old link, now
    /// at the standby's name, renamed to its own slot's standby name. Otherwise (a new set,
    /// an adopted directory, a filesystem without `RENAME_EXCHANGE`) the standby link is
    /// renamed over `<scope>`, also atomic.
    fn swap(st: &Staged) -> Result<(), HostError> {
        let link = st.mtls.join(&st.scope);
        let standby = st.mtls.join(link_name(&st.scope, st.slot));
        if st.adopt {
            // A plain directory from before inforge managed this path: move it aside once.
            let aside = st.mtls.join(format!(".{}@adopted-{}", st.scope, unique_suffix()));
            fs::rename(&link, &aside).map_err(io("move aside", &link))?;
        }
        if let (Some(c), false) = (st.current, st.adopt) {
            use rustix::fs::{renameat_with, RenameFlags, CWD};
            match renameat_with(CWD, &standby, CWD, &link, RenameFlags::EXCHANGE) {
                Ok(()) => {
                    fault_point("provider-mid-exchange");
                    let home = st.mtls.join(link_name(&st.scope, c));
                    return fs::rename(&standby, &home).map_err(io("rename", &standby));
                }
                Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOTSUP => {}
                Err(e) => return Err(HostError::io("swap", &link, e.into())),
            }
        }
        fs::rename(&standby, &link).map_err(io("swap", &link))
    }

    /// Removes this scope's hidden entries other than its slots, their standby links,
    /// adopted directories and `previous` (a generation from an older inforge that a reader
    /// may still be in).
    fn clean(st: &Staged) {
        let prefix = format!(".{}@", st.scope);
        let Ok(entries) = fs::read_dir(&st.mtls) else { return };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(&prefix) else { continue };
            let ours = slot_of(Path::new(&name), &st.scope).is_some()
                || rest
                    .strip_prefix("link-")
                    .is_some_and(|k| slot_of(Path::new(&format!("{prefix}{k}")), &st.scope).is_some())
                || rest.starts_with("adopted-")
                || st.previous.as_deref() == Some(Path::new(&name));
            if ours {
                continue;
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir_all(e.path());
            } else {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

impl Provider for DirProvider {
    fn info(&self) -> ProviderInfo {
        ProviderInfo { kind: "dir".into(), path: self.root.display().to_string() }
    }

    fn begin(&mut self) -> Result<Box<dyn Batch + '_>, HostError> {
        let lock = lock::acquire(&self.root, lock::wait())?;
        Ok(Box::new(DirBatch::new(self, lock)))
    }

    fn refresh_bundles(&mut self, bundles: &[BundleOnly<'_>]) -> Result<Vec<(String, String)>, HostError> {
        let lock = lock::acquire(&self.root, lock::wait())?;
        let mut current = Vec::new();
        let mut skipped = Vec::new();
        for b in bundles {
            match self.fetch(b.service, b.scope)? {
                Some(set) => current.push((b, set.cert, set.key)),
                None => skipped.push((b.service.to_string(), b.scope.to_string())),
            }
        }
        let sets: Vec<SetFiles<'_>> = current
            .iter()
            .map(|(b, cert, key)| SetFiles { service: b.service, scope: b.scope, cert, key, bundle: b.bundle })
            .collect();
        if !sets.is_empty() {
            let batch = DirBatch::new(self, lock);
            for (i, s) in sets.iter().enumerate() {
                batch.stage(i, s)?;
            }
            Box::new(batch).commit()?;
        }
        Ok(skipped)
    }

    fn fetch(&self, service: &str, scope: &str) -> Result<Option<SetTexts>, HostError> {
        // Resolve the scope link once so all three files come from the same generation.
        let dir = match fs::canonicalize(self.root.join(service).join("mtls").join(scope)) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(HostError::io("read", &self.root.join(service).join("mtls").join(scope), e)),
        };
        Ok(Some(SetTexts {
            cert: crate::fsio::read_text(&dir.join("cert.pem"))?,
            key: Zeroizing::new(crate::fsio::read_text(&dir.join("key.pem"))?),
            bundle: crate::fsio::read_text(&dir.join("bundle.pem"))?,
        }))
    }
}

/// A `dir` write in progress; holds the provider lock.
struct DirBatch<'a> {
    provider: &'a DirProvider,
    /// The provider lock; its descriptor (the provider directory) is also what `syncfs` goes
    /// through.
    lock: lock::Lock,
    /// The provider's real path: every operation resolves from here, so a configured path
    /// such as `infra/../provider` is not walked again for each of 100k operations.
    base: PathBuf,
    staged: Slots<Staged>,
    /// Set once the swaps begin: from then on, nothing is unstaged.
    done: bool,
}

impl<'a> DirBatch<'a> {
    fn new(provider: &'a DirProvider, lock: lock::Lock) -> Self {
        let base = fs::canonicalize(&provider.root).unwrap_or_else(|_| provider.root.clone());
        DirBatch { provider, lock, base, staged: Slots::new(), done: false }
    }

    fn sync(&self) -> Result<(), HostError> {
        sync_fs(&self.provider.root, self.lock.file())
    }
}

impl Batch for DirBatch<'_> {
    fn stage(&self, index: usize, set: &SetFiles<'_>) -> Result<(), HostError> {
        let st = DirProvider::stage(&self.base, set)?;
        self.staged.put(index, st);
        fault_point("provider-mid-files");
        Ok(())
    }

    /// Steps 3–5. The swaps and the tidy run on every core: each is a rename or two in its
    /// own directory, and a reader needs only each set to be atomic, which they are.
    fn commit(mut self: Box<Self>) -> Result<Vec<String>, HostError> {
        let staged = self.staged.take()?;
        // One flush of everything staged (measured: overlapping flushes with the minting
        // only moved the same writeback CPU time from the commit into the staging).
        self.sync().inspect_err(|_| unstage(&staged))?;
        self.done = true;
        fault_point("provider-before-swap");
        on_cores(&staged, |st| {
            DirProvider::swap(st)?;
            fault_point("provider-mid-swap");
            Ok(())
        })?;
        self.sync()?;
        on_cores(&staged, |st| {
            if st.tidy {
                DirProvider::clean(st);
            }
            Ok(())
        })?;
        let root = &self.provider.root;
        Ok(staged.iter().map(|st| root.join(&st.service).join("mtls").join(&st.scope).display().to_string()).collect())
    }
}

impl Drop for DirBatch<'_> {
    /// A batch dropped before its swaps (an error while staging or minting) removes what it
    /// staged: every visible name is as it was.
    fn drop(&mut self) {
        if !self.done {
            unstage(&self.staged.drain());
        }
    }
}

/// Removes the slots staged (none is linked, and none was current or previous).
fn unstage(staged: &[Staged]) {
    for st in staged {
        let _ = fs::remove_dir_all(st.mtls.join(slot_name(&st.scope, st.slot)));
    }
}
