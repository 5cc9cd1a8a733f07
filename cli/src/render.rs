//! What the CLI prints: results rendered as text (or JSON) on stdout, guidance on stderr.
//! stdout write failures are `io` errors, never panics.

use std::io::Write;
use std::path::Path;

use inforge_core::error::{Op, Step};
use inforge_core::model::store::{store_path, Topology};
use inforge_core::ops::{Added, Finalized, Initialized, IntermediateMinted, Recovered, RenewReport, RootRotated};
use inforge_core::Wording;

use crate::error::{CliError, CLI};

fn step(s: Step) -> String {
    CLI.step(&s)
}

/// Writes command output to stdout; a closed pipe is an error (exit 1), never a panic.
pub fn out(text: &str) -> Result<(), CliError> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes()).and_then(|_| o.flush()).map_err(|e| CliError::io("write", Path::new("<stdout>"), e))
}

/// One JSON document on stdout.
pub fn json(doc: &impl serde::Serialize) -> Result<(), CliError> {
    out(&json_text(doc)?)
}

/// One JSON document, as text (for `--out`).
pub fn json_text(doc: &impl serde::Serialize) -> Result<String, CliError> {
    Ok(format!("{}\n", serde_json::to_string_pretty(doc).unwrap_or_default()))
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

/// A progress bar on an interactive stderr only.
pub fn progress(len: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(len);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message("minting leaves");
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

pub fn initialized(r: &Initialized, meshes: &[String]) {
    eprintln!("created {} (CI recipient {})", store_path(&r.env), r.recipient);
    if let Some(q) = &r.quorum {
        eprintln!(
            "the offline root identity ({}) is split: any {} of these {} custodians rebuild it; nobody holds it whole:",
            r.root_recipient,
            q.threshold,
            q.custodians.len()
        );
        for c in &q.custodians {
            eprintln!("  - {c}");
        }
        eprintln!("  offline operations take the custodians' identity files: INFORGE_PKI_ROOT_KEY_FILE=a:b (one per custodian).");
    } else {
        eprintln!("the line on stdout is the OFFLINE ROOT IDENTITY; it is shown only this once:");
        eprintln!("  - store it offline (password manager / hardware token), never in CI or git;");
        eprintln!("  - export it as INFORGE_PKI_ROOT_KEY only for `intermediate`, `rotate --intermediate|--root`");
        eprintln!("    and `recover-intermediate`, on an operator workstation.");
    }
    if meshes.is_empty() {
        eprintln!("next: add a PKI with `inforge pki add {}`, its name and `--topology two-tier|root-only`", r.env);
    }
    for m in meshes {
        eprintln!("next: {}", step(Step::new(Op::AddTwoTier).env(&r.env).pki(m)));
    }
}

pub fn added(env: &str, r: &Added, quorum: bool) {
    let custody = match r.topology {
        Topology::TwoTier => "cold: its key is sealed to the offline rootRecipient",
        Topology::RootOnly => "online: its key is sealed to the CI recipient for the issuer",
    };
    eprintln!(
        "added {} PKI {:?} ({}) to {}; root is {custody}",
        r.topology.name(),
        r.pki,
        r.algorithm,
        store_path(env)
    );
    if r.topology == Topology::TwoTier {
        let next = Step::new(Op::Intermediate).env(env).pki(&r.pki).scope("global");
        if quorum {
            // The root identity is held by a quorum: the custodians bring their files.
            eprintln!(
                "next (offline, with the custodians): INFORGE_PKI_ROOT_KEY_FILE=a.key:b.key {}",
                next.command_line()
            );
        } else {
            eprintln!("next (offline): {}", step(next));
        }
    }
}

pub fn intermediate_minted(env: &str, r: &IntermediateMinted) {
    eprintln!(
        "minted intermediate {:?} for {:?}, signed by the cold root; its key is sealed to the CI recipient {}",
        r.scope.as_deref().unwrap_or(""),
        r.pki,
        r.sealed_to
    );
    eprintln!("commit {}", store_path(env));
}

pub fn intermediate_rotated(env: &str, r: &IntermediateMinted) {
    let scope = r.scope.as_deref().unwrap_or("");
    eprintln!(
        "rotated the {scope:?} intermediate of {:?}: fresh key from the cold root (sealed to {}); the old one stays in its bundles",
        r.pki, r.sealed_to
    );
    eprintln!("next (CI posture, no downtime):");
    eprintln!(
        "  1. commit {}; run `{}` so every host trusts old and new",
        store_path(env),
        step(Step::new(Op::RenewBundlesOnly).env(env))
    );
    eprintln!(
        "  2. after hosts converged (one renew-timer interval), run `{}` for new leaves",
        step(Step::new(Op::Renew).env(env))
    );
}

pub fn finalized(env: &str, r: &Finalized, root_only: bool) {
    if root_only {
        eprintln!(
            "finalized the root overlap of {:?}: dropped {} previous root(s); commit {} and hand `inforge pki bundle {env} {} --roots` to its consumers",
            r.pki,
            r.roots,
            store_path(env),
            r.pki
        );
        return;
    }
    eprintln!(
        "finalized the root overlap of {:?}: dropped {} previous root(s) and {} re-signed intermediate certificate(s); commit {}",
        r.pki,
        r.roots,
        r.intermediates,
        store_path(env)
    );
    eprintln!(
        "next: `{}` so cert.pem chains carry only the new root's intermediates",
        step(Step::new(Op::Renew).env(env))
    );
}

pub fn root_rotated(env: &str, r: &RootRotated) {
    if !r.switches {
        // A root-only PKI: no intermediates, no mesh leaves; its issuer and the consumers that
        // anchor on it are what move.
        eprintln!("started a dual-root overlap for {:?} (root-only): a new root beside the current one", r.pki);
        eprintln!("next:");
        eprintln!(
            "  1. commit {}; hand `inforge pki bundle {env} {} --roots` (both roots) to the consumers that trust it",
            store_path(env),
            r.pki
        );
        eprintln!("  2. move the online issuer to the new root (its key is sealed to the CI recipient)");
        eprintln!("  3. from {}: {}", r.switch_allowed_at, step(Step::new(Op::FinalizeRoot).env(env).pki(&r.pki)));
        return;
    }
    eprintln!("started a dual-root overlap for {:?}: new root, every intermediate re-signed keeping its key", r.pki);
    eprintln!("next:");
    eprintln!(
        "  1. commit {}; hand `inforge pki bundle {env} {} --roots` (both roots) to root-anchoring consumers",
        store_path(env),
        r.pki
    );
    eprintln!(
        "  2. run `{}` (mesh services are undisturbed: same intermediate keys)",
        step(Step::new(Op::Renew).env(env))
    );
    eprintln!(
        "  3. from {}: {} (chains then put the new root's path first), renew, let hosts re-project",
        r.switch_allowed_at,
        step(Step::new(Op::SwitchRoot).env(env).pki(&r.pki))
    );
    eprintln!(
        "  4. {} days after the switch, once `inforge pki status {env}` shows every set switched: {}",
        inforge_core::model::limits::DEFAULT_MIN_SWITCH_DAYS,
        step(Step::new(Op::FinalizeRoot).env(env).pki(&r.pki))
    );
}

pub fn switched(env: &str, r: &inforge_core::ops::Switched) {
    eprintln!("switched {:?} to the new root's path first at {}", r.pki, r.switched_at);
    eprintln!("next:");
    eprintln!("  1. commit {}", store_path(env));
    eprintln!(
        "  2. run `{}` in CI: every leaf's chain now starts with the intermediate signed by the new root",
        step(Step::new(Op::Renew).env(env))
    );
    eprintln!(
        "  3. let hosts re-project (daily timer or --watch); `inforge pki status {env}` shows each set's chain phase"
    );
    eprintln!(
        "  4. from {}, once every set is switched: {}",
        r.finalize_allowed_at,
        step(Step::new(Op::FinalizeRoot).env(env).pki(&r.pki))
    );
}

pub fn recovered_revocations(r: &Recovered) {
    for x in &r.revoked {
        eprintln!("revoked {} ({}) at {}", x.fingerprint, x.subject, x.revoked_at);
    }
}

pub fn recovered(env: &str, r: &Recovered) {
    eprintln!(
        "recovered {:?} {:?}: fresh key, no overlap; leaves re-minted in {}, bundles refreshed in {}",
        r.pki,
        r.scope,
        r.remint_scope,
        if r.refresh_scopes.is_empty() { "no other scope".to_string() } else { r.refresh_scopes.join(", ") }
    );
    eprintln!(
        "now: commit {} and re-project every host at once (docs/runbooks/recover-intermediate.md)",
        store_path(env)
    );
}

pub fn renew_text(r: &RenewReport) -> String {
    let mut text = String::new();
    for l in &r.leaves {
        text.push_str(&format!(
            "{:<10} {:<10} {:<48} until {}  → {}/{{cert,key,bundle}}.pem\n",
            l.service, l.scope, l.spiffe_id, l.not_after, l.dir
        ));
    }
    text
}

pub fn renewed(r: &RenewReport) {
    let keys = if r.provider.kind == "dir" { " (keys 0600)" } else { " (one transaction per set)" };
    eprintln!(
        "renewed {} leaves for {} services in {} ms → {}{keys}",
        r.leaves.len(),
        r.services,
        r.elapsed_ms,
        r.provider.path
    );
}

/// `pki rekey`'s report: the recipient diff, what was re-sealed, and what re-sealing cannot do.
pub fn rekeyed_text(r: &inforge_core::ops::Rekeyed) -> String {
    use std::fmt::Write;
    let who = r.custodian.short();
    let holder = |c: &inforge_core::ops::Custody| match &c.quorum {
        None => c.recipient.clone(),
        Some(q) => {
            format!("{} (any {} of {}: {})", c.recipient, q.threshold, q.custodians.len(), q.custodians.join(", "))
        }
    };
    let mut s = String::new();
    if r.unchanged {
        let _ = writeln!(s, "{}: the {who} keys are already sealed to {}; nothing to re-key", r.env, r.to.recipient);
        return s;
    }
    let verb = if r.planned { "would re-seal" } else { "re-sealed" };
    let _ = writeln!(s, "{}: {verb} {} {who} key(s)", r.env, r.resealed.len());
    let _ = writeln!(s, "  - {}", holder(&r.from));
    let _ = writeln!(s, "  + {}", holder(&r.to));
    for k in &r.resealed {
        let _ = writeln!(s, "  {k}");
    }
    if r.planned {
        let _ = writeln!(s, "plan only: nothing was opened or written");
    }
    let _ = writeln!(s, "note: {}", r.note);
    s
}
