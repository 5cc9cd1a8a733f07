//! `pki history`: the versions of one environment's store in the infra repo's git history,
//! read in process with libgit2 (`git2`), never by running `git`. The core classifies each
//! version against the one before it (`inforge_core::views::history`).
//!
//! Every commit reachable from HEAD (and not from `--since`) whose store differs from each of
//! its parents is one revision: for an ordinary commit, any change to the file; for a merge,
//! only content the merge itself made (what a branch brought is that branch's commits'
//! revision). The working tree's file, when it differs from HEAD's, is one more revision
//! without a commit.

use std::path::Path;

use git2::{Oid, Sort};
use inforge_core::views::history::Revision;

use crate::error::HostError;
use crate::git::{git, text_at};

fn blob_id(commit: &git2::Commit<'_>, rel: &Path) -> Option<Oid> {
    commit.tree().ok()?.get_path(rel).ok().map(|e| e.id())
}

/// The store's revisions for `env`, oldest first. `since`: a revision (commit, tag, branch,
/// `HEAD~3`…) whose history is left out.
pub fn store_revisions(dir: &Path, env: &str, since: Option<&str>) -> Result<Vec<Revision>, HostError> {
    let (repo, workdir) = crate::git::open(dir)?;
    let file = Path::new("resources").join(env).join("pki.enc.yaml");
    let store = dir.join(&file);
    // The store's path inside the git tree (the infra repo may be a subdirectory of it).
    let rel = crate::git::tree_path(dir, &workdir, &file)?;

    let mut walk = repo.revwalk().map_err(git("walk"))?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME | Sort::REVERSE).map_err(git("walk"))?;
    let head = match repo.head() {
        Ok(h) => h.peel_to_commit().ok(),
        // A repo with no commit yet: only the working tree can hold a version.
        Err(_) => None,
    };
    if let Some(h) = &head {
        walk.push(h.id()).map_err(git("walk"))?;
    }
    if let Some(rev) = since {
        let obj = repo.revparse_single(rev).map_err(|_| HostError::GitRevUnknown { rev: rev.to_string() })?;
        let commit = obj.peel_to_commit().map_err(|_| HostError::GitRevUnknown { rev: rev.to_string() })?;
        walk.hide(commit.id()).map_err(git("walk"))?;
    }

    let mut out = Vec::new();
    for oid in walk {
        let commit = repo.find_commit(oid.map_err(git("walk"))?).map_err(git("read a commit in"))?;
        let mine = blob_id(&commit, &rel);
        let parents: Vec<git2::Commit<'_>> = commit.parents().collect();
        let parent_blobs: Vec<Option<Oid>> = parents.iter().map(|p| blob_id(p, &rel)).collect();
        let changed = if parents.is_empty() { mine.is_some() } else { parent_blobs.iter().all(|b| *b != mine) };
        if !changed {
            continue;
        }
        let before = match parents.first() {
            Some(p) => text_at(&repo, p, &rel)?,
            None => None,
        };
        let author = commit.author();
        out.push(Revision {
            commit: Some(commit.id().to_string()),
            author: author.name().unwrap_or("").to_string(),
            email: author.email().unwrap_or("").to_string(),
            time: commit.time().seconds(),
            // Whether the commit carries a signature (gpgsig/SSH); verifying it needs the
            // signers' keys, which is git's (`git log --show-signature`), not ours.
            signed: repo.extract_signature(&commit.id(), None).is_ok(),
            summary: commit.summary().unwrap_or("").to_string(),
            before,
            after: text_at(&repo, &commit, &rel)?,
        });
    }

    // The working tree: a store changed (or deleted) since HEAD, not yet committed.
    let head_text = match &head {
        Some(h) => text_at(&repo, h, &rel)?,
        None => None,
    };
    let worktree = match std::fs::symlink_metadata(&store) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        // Bounded like every store read.
        _ => Some(String::from_utf8_lossy(&crate::fsio::read_bytes(&store)?).into_owned()),
    };
    if worktree != head_text {
        out.push(Revision {
            commit: None,
            author: String::new(),
            email: String::new(),
            time: 0,
            signed: false,
            summary: "uncommitted changes in the working tree".into(),
            before: head_text,
            after: worktree,
        });
    }
    Ok(out)
}
