//! The infra repo's git for the store-file commands: a store's text at two revisions
//! (`store diff --git`) and the wiring of the diff and merge drivers (`store install-git`).
//! In process with libgit2 (`git2`), like [`crate::history`].

use std::path::{Path, PathBuf};

use git2::Repository;

use crate::error::HostError;

/// Maps a libgit2 error to `git-failed`, naming what was being done.
pub(crate) fn git(op: &'static str) -> impl Fn(git2::Error) -> HostError {
    move |e| HostError::Git { op, detail: e.message().to_string() }
}

/// The repo holding `dir`, and its work tree.
pub(crate) fn open(dir: &Path) -> Result<(Repository, PathBuf), HostError> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let repo = Repository::discover(dir).map_err(|_| HostError::GitRepoMissing { dir: dir.to_path_buf() })?;
    let workdir = repo.workdir().ok_or_else(|| HostError::GitRepoMissing { dir: dir.to_path_buf() })?.to_path_buf();
    Ok((repo, workdir))
}

/// `path` (relative to `dir`, which may be a subdirectory of the work tree) as a path inside
/// the git tree.
pub(crate) fn tree_path(dir: &Path, workdir: &Path, path: &Path) -> Result<PathBuf, HostError> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let canon = |p: &Path| std::fs::canonicalize(p).map_err(|e| HostError::io("resolve", p, e));
    let base = canon(dir)?
        .strip_prefix(canon(workdir)?)
        .map_err(|_| HostError::GitRepoMissing { dir: dir.to_path_buf() })?
        .to_path_buf();
    // Normalise `./` and `a/../` lexically: the file may not exist in the work tree.
    let mut out = PathBuf::new();
    for c in base.join(path).components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => return Err(HostError::GitRepoMissing { dir: dir.to_path_buf() }),
        }
    }
    Ok(out)
}

fn commit_of<'r>(repo: &'r Repository, rev: &str) -> Result<git2::Commit<'r>, HostError> {
    let rev = if rev.is_empty() { "HEAD" } else { rev };
    repo.revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|_| HostError::GitRevUnknown { rev: rev.to_string() })
}

/// A file's text at a commit (`None`: absent there, or not a file). A blob that is not UTF-8
/// is kept as lossy text: the store parser then refuses it.
pub(crate) fn text_at(repo: &Repository, commit: &git2::Commit<'_>, rel: &Path) -> Result<Option<String>, HostError> {
    let tree = commit.tree().map_err(git("read the tree of"))?;
    let entry = match tree.get_path(rel) {
        Ok(e) => e,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(git("read the store in")(e)),
    };
    let Ok(blob) = repo.find_blob(entry.id()) else {
        return Ok(None);
    };
    Ok(Some(String::from_utf8_lossy(blob.content()).into_owned()))
}

/// The text of `path` at both ends of `range`: `BASE..HEAD`, or `BASE...HEAD` (from the merge
/// base of the two, as a pull request compares). An empty side is `HEAD`; `None`: the file is
/// absent at that revision.
pub fn store_at_range(dir: &Path, path: &Path, range: &str) -> Result<(Option<String>, Option<String>), HostError> {
    let (repo, workdir) = open(dir)?;
    let rel = tree_path(dir, &workdir, path)?;
    let (base, head, merge_base) = if let Some((a, b)) = range.split_once("...") {
        (a, b, true)
    } else if let Some((a, b)) = range.split_once("..") {
        (a, b, false)
    } else {
        return Err(HostError::GitRevUnknown { rev: format!("{range} (a range is BASE..HEAD or BASE...HEAD)") });
    };
    let head = commit_of(&repo, head)?;
    let mut base = commit_of(&repo, base)?;
    if merge_base {
        let id = repo.merge_base(base.id(), head.id()).map_err(git("find the merge base in"))?;
        base = repo.find_commit(id).map_err(git("read a commit in"))?;
    }
    Ok((text_at(&repo, &base, &rel)?, text_at(&repo, &head, &rel)?))
}

/// What `store install-git` wrote.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The `.gitattributes` file.
    pub attributes: PathBuf,
    /// Whether the attributes line was added (false: it was there already).
    pub attributes_added: bool,
    /// Which git config was written (`repo` or the global file's path).
    pub config: String,
}

/// The `.gitattributes` line that routes every environment's store to the drivers.
pub const ATTRIBUTES_LINE: &str = "resources/*/pki.enc.yaml diff=inforge merge=inforge";

/// Quotes a command for git's `sh -c`, unless it is made of safe characters only.
fn sh_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Wires the drivers: `.gitattributes` in `dir` (beside inforge.yaml; added to, never
/// rewritten) and `diff.inforge.textconv`, `merge.inforge.name`, `merge.inforge.driver` in
/// the repo's config (or the global one). `command` is the inforge binary git runs.
pub fn install_drivers(dir: &Path, command: &str, global: bool) -> Result<Installed, HostError> {
    let (repo, _) = open(dir)?;
    let attributes = dir.join(".gitattributes");
    let current = match std::fs::symlink_metadata(&attributes) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        _ => crate::fsio::read_text(&attributes)?,
    };
    let attributes_added = !current.lines().any(|l| l.trim() == ATTRIBUTES_LINE);
    if attributes_added {
        let mut text = current;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(ATTRIBUTES_LINE);
        text.push('\n');
        crate::fsio::write_atomic(&attributes, text.as_bytes(), Some(0o644))?;
    }
    let cmd = sh_quote(command);
    let (mut config, which) = if global {
        let path = git2::Config::find_global().or_else(|_| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".gitconfig"))
                .ok_or_else(|| git2::Error::from_str("no HOME to hold a global git config"))
        });
        let path = path.map_err(git("find the global config of"))?;
        (git2::Config::open(&path).map_err(git("open the global config of"))?, path.display().to_string())
    } else {
        let c = repo.config().map_err(git("open the config of"))?;
        (c.open_level(git2::ConfigLevel::Local).map_err(git("open the config of"))?, "repo".to_string())
    };
    let set = |c: &mut git2::Config, k: &str, v: &str| c.set_str(k, v).map_err(git("write the config of"));
    set(&mut config, "diff.inforge.textconv", &format!("{cmd} store show"))?;
    set(&mut config, "merge.inforge.name", "inforge store merge (three-way merge of PKI stores)")?;
    set(&mut config, "merge.inforge.driver", &format!("{cmd} store merge %O %A %B %P"))?;
    Ok(Installed { attributes, attributes_added, config: which })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(sh_quote("/usr/local/bin/inforge"), "/usr/local/bin/inforge");
        assert_eq!(sh_quote("/opt/my tools/inforge"), "'/opt/my tools/inforge'");
        assert_eq!(sh_quote("/o'k/inforge"), r"'/o'\''k/inforge'");
    }
}
