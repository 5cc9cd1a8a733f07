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

pub fn leaf_revoked(env: &str, r: &inforge_core::ops::LeafRevoked) {
    eprintln!("recorded leaf {} of {:?} as revoked ({}) at {}", r.serial, r.pki, r.reason, r.revoked_at);
    eprintln!("next:");
    eprintln!("  1. commit {} (a reviewable change: no identity was used)", store_path(env));
    eprintln!(
        "  2. run `{}` in CI: it signs each intermediate's CRL with this serial and writes crl.pem into every set",
        step(Step::new(Op::Renew).env(env))
    );
    eprintln!("  3. hosts re-project on their timer; consumers that check CRLs refuse the leaf from then on");
    eprintln!("the CRLs list it until {}, when every leaf minted before it has expired", r.listed_until);
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
    eprintln!(
        "then: run `{}` in CI: only it holds every intermediate's key, so only it re-signs the CRLs in crl.pem (consumers that check CRLs need the fresh intermediate's)",
        step(Step::new(Op::Renew).env(env))
    );
}

pub fn renew_text(r: &RenewReport) -> String {
    let mut text = String::new();
    for l in &r.leaves {
        text.push_str(&format!(
            "{:<10} {:<10} {:<48} until {}  → {}/{{cert,key,bundle,crl}}.pem\n",
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
    // A leaf cut short by its intermediate: only a roll of that intermediate fixes it, and a
    // renew would not say so otherwise (the leaf is valid, just short).
    let mut rolls: Vec<(&str, &str)> = Vec::new();
    for l in r.leaves.iter().filter(|l| l.capped) {
        eprintln!("warning: {} ends with its intermediate at {}, short of its lifetime", l.spiffe_id, l.not_after);
        if !rolls.contains(&(l.pki.as_str(), l.scope.as_str())) {
            rolls.push((l.pki.as_str(), l.scope.as_str()));
        }
    }
    for (pki, scope) in rolls {
        eprintln!("  roll it (offline): {}", step(Step::new(Op::RotateIntermediate).env(&r.env).pki(pki).scope(scope)));
    }
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

fn kind_label(k: inforge_core::views::inspect::ChangeKind) -> String {
    serde_json::to_value(k).ok().and_then(|v| v.as_str().map(|s| s.replace('-', " "))).unwrap_or_default()
}

fn short_fp(f: &Option<String>) -> String {
    f.as_deref().map(|f| f.chars().take(16).collect()).unwrap_or_else(|| "-".into())
}

fn bundle_names(r: &inforge_core::views::review::Review) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for b in &r.bundles {
        let name = b.scope.clone().unwrap_or_else(|| "roots".into());
        match out.iter_mut().find(|(p, _)| *p == b.pki) {
            Some((_, list)) => {
                list.push_str(", ");
                list.push_str(&name);
            }
            None => out.push((b.pki.clone(), name)),
        }
    }
    out
}

/// `store diff` as text.
pub fn review_text(r: &inforge_core::views::review::Review, w: &crate::error::Cli<'_>) -> String {
    if r.unchanged {
        return "no change a reviewer must look at (certificates, custody and revocations are as before)\n".into();
    }
    let mut s = String::new();
    if !r.changes.is_empty() {
        s.push_str("changes:\n");
    }
    for c in &r.changes {
        let place = match (&c.pki[..], &c.scope) {
            ("", _) => String::new(),
            (p, Some(sc)) => format!(" {p}/{sc}"),
            (p, None) => format!(" {p}"),
        };
        s.push_str(&format!(
            "  {}{place}: {} ({} -> {})\n",
            kind_label(c.kind),
            c.subject,
            short_fp(&c.before),
            short_fp(&c.after)
        ));
    }
    if !r.bundles.is_empty() {
        s.push_str("bundles that change (hosts trust anew after the next renew):\n");
        for (pki, list) in bundle_names(r) {
            s.push_str(&format!("  {pki}: {list}\n"));
        }
    }
    if !r.next.is_empty() {
        s.push_str("next:\n");
        for n in &r.next {
            let from = n.from.as_deref().map(|f| format!("from {f}: ")).unwrap_or_default();
            s.push_str(&format!("  {from}{} — {}\n", w.step(&n.step), n.why));
        }
    }
    if !r.warnings.is_empty() {
        s.push_str("warnings:\n");
        for x in &r.warnings {
            let place = if x.pki.is_empty() { x.slot.clone() } else { format!("{} {}", x.pki, x.slot) };
            s.push_str(&format!("  [{}] {place}: {}\n", x.code, x.message));
        }
    }
    s
}

/// Markdown cell text: no pipe or newline breaks the table, no backtick breaks a code span.
fn cell(t: &str) -> String {
    t.replace('|', "\\|").replace(['\n', '\r'], " ").replace('`', "'")
}

/// `store diff --format markdown`: a pull-request comment.
pub fn review_markdown(r: &inforge_core::views::review::Review, w: &crate::error::Cli<'_>, file: &str) -> String {
    let mut s = format!("### inforge: `{}`\n\n", cell(file));
    if r.unchanged {
        s.push_str("No change a reviewer must look at: certificates, custody and revocations are as before.\n");
        return s;
    }
    if !r.warnings.is_empty() {
        s.push_str("**Warnings**\n\n");
        for x in &r.warnings {
            let place = if x.pki.is_empty() { x.slot.clone() } else { format!("{} {}", x.pki, x.slot) };
            s.push_str(&format!("- :warning: **{}** (`{}`): {}\n", x.code, cell(&place), cell(&x.message)));
        }
        s.push('\n');
    }
    if !r.changes.is_empty() {
        s.push_str("| Change | PKI | Scope | Subject | Before | After |\n|---|---|---|---|---|---|\n");
        for c in &r.changes {
            s.push_str(&format!(
                "| {} | {} | {} | `{}` | `{}` | `{}` |\n",
                kind_label(c.kind),
                cell(&c.pki),
                cell(c.scope.as_deref().unwrap_or("")),
                cell(&c.subject),
                cell(&short_fp(&c.before)),
                cell(&short_fp(&c.after))
            ));
        }
        s.push('\n');
    }
    if !r.bundles.is_empty() {
        s.push_str("**Bundles that change** (hosts trust anew after the next renew): ");
        let list: Vec<String> =
            bundle_names(r).into_iter().map(|(p, l)| format!("`{}`: {}", cell(&p), cell(&l))).collect();
        s.push_str(&list.join("; "));
        s.push_str("\n\n");
    }
    if !r.next.is_empty() {
        s.push_str("**Next steps**\n\n");
        for n in &r.next {
            let from = n.from.as_deref().map(|f| format!("from {f}: ")).unwrap_or_default();
            s.push_str(&format!("- [ ] {from}`{}` — {}\n", cell(&w.step(&n.step)), cell(&n.why)));
        }
    }
    s
}
