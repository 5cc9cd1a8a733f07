//! The `dir` secrets provider: `<path>/<service>/mtls/<scope>/{cert.pem,key.pem,bundle.pem}`.
//!
//! Each service+scope is replaced as a set: the three files are written into a fresh hidden
//! generation directory, fsynced, and the `<scope>` symlink is atomically renamed to point at
//! it (the "atomic writer" pattern Kubernetes uses for projected secrets). A reader that
//! resolves `<scope>` once never sees a leaf beside the wrong key. The previous generation is
//! kept (a reader may still be in it); older ones are removed.

use std::fs;
use std::path::{Path, PathBuf};

use inforge_core::mesh::Minted;

use crate::error::CliError;

/// What renew wrote for one leaf.
pub struct Written {
    pub dir: PathBuf,
}

fn io<'a>(op: &'static str, p: &'a Path) -> impl Fn(std::io::Error) -> CliError + 'a {
    move |e| CliError::io(op, p, e)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CliError> {
    use std::io::Write;
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let mut f = opts.open(path).map_err(io("create", path))?;
    f.write_all(bytes).map_err(io("write", path))?;
    f.sync_all().map_err(io("fsync", path))
}

/// Replaces one leaf's files under the provider root.
pub fn write_leaf(root: &Path, m: &Minted, generation: &str) -> Result<Written, CliError> {
    write_set(root, &m.target.service, &m.target.scope, [&m.cert_pem, &m.key_pem, &m.bundle_pem], generation)
}

/// The current `cert.pem` and `key.pem` of a service+scope, if renew wrote them before.
pub fn read_leaf(
    root: &Path,
    service: &str,
    scope: &str,
) -> Result<Option<(String, zeroize::Zeroizing<String>)>, CliError> {
    // Resolve the scope link once so both files come from the same generation.
    let dir = match fs::canonicalize(root.join(service).join("mtls").join(scope)) {
        Ok(d) => d,
        Err(_) => return Ok(None),
    };
    let cert = fs::read_to_string(dir.join("cert.pem")).map_err(io("read", &dir))?;
    let key = zeroize::Zeroizing::new(fs::read_to_string(dir.join("key.pem")).map_err(io("read", &dir))?);
    Ok(Some((cert, key)))
}

/// Replaces one service+scope's `[cert.pem, key.pem, bundle.pem]` as a set.
pub fn write_set(
    root: &Path,
    service: &str,
    scope: &str,
    files: [&str; 3],
    generation: &str,
) -> Result<Written, CliError> {
    let mtls = root.join(service).join("mtls");
    fs::create_dir_all(&mtls).map_err(io("create", &mtls))?;
    // '@' cannot occur in a scope name, so `.eu@…` never matches scope `eu.west`.
    let gen_name = format!(".{scope}@{generation}");
    let gen_dir = mtls.join(&gen_name);
    fs::create_dir(&gen_dir).map_err(io("create", &gen_dir))?;
    write_file(&gen_dir.join("cert.pem"), files[0].as_bytes(), 0o644)?;
    write_file(&gen_dir.join("key.pem"), files[1].as_bytes(), 0o600)?;
    write_file(&gen_dir.join("bundle.pem"), files[2].as_bytes(), 0o644)?;
    sync_dir(&gen_dir);

    let link = mtls.join(scope);
    let previous = fs::read_link(&link).ok();
    if link.exists() && previous.is_none() {
        // A plain directory from before inforge managed this path: move it aside once.
        let aside = mtls.join(format!(".{scope}@adopted-{generation}"));
        fs::rename(&link, &aside).map_err(io("move aside", &link))?;
    }
    let tmp_link = mtls.join(format!(".{scope}@link-{generation}"));
    #[cfg(unix)]
    std::os::unix::fs::symlink(&gen_name, &tmp_link).map_err(io("symlink", &tmp_link))?;
    fs::rename(&tmp_link, &link).map_err(io("swap", &link))?;
    sync_dir(&mtls);

    // Keep the current and previous generation; drop older ones.
    let prefix = format!(".{scope}@");
    if let Ok(entries) = fs::read_dir(&mtls) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let keep = name == gen_name || previous.as_deref().is_some_and(|p| p == Path::new(&name));
            if name.starts_with(&prefix) && !keep && !name.contains("@adopted-") && !name.contains("@link-") {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(Written { dir: link })
}

fn sync_dir(p: &Path) {
    if let Ok(d) = fs::File::open(p) {
        let _ = d.sync_all();
    }
}
