//! `pki history`: the store's audit trail. The shell reads each version of the store from git
//! (a [`Revision`]: the commit's metadata, the store before and after); [`history`] turns each
//! into events with the same rule the inspector's change review uses ([`diff_stores`]), so a
//! rotation, a recovery or a root switch is named the same way in a pull request, in the
//! browser and in the audit trail.

use std::fmt;

use serde::Serialize;

use crate::model::store::Store;
use crate::views::inspect::{diff_stores, ChangeKind};
use crate::Coded;

/// One version of the store as git has it.
#[derive(Debug, Clone, Default)]
pub struct Revision {
    /// The commit id; `None` for uncommitted changes in the working tree.
    pub commit: Option<String>,
    /// Author name.
    pub author: String,
    /// Author email.
    pub email: String,
    /// Author time, Unix seconds.
    pub time: i64,
    /// The commit carries a signature (not verified here).
    pub signed: bool,
    /// The commit message's first line.
    pub summary: String,
    /// The store before (the first parent's), `None` if absent there.
    pub before: Option<String>,
    /// The store after, `None` if the commit deleted it.
    pub after: Option<String>,
}

/// What happened to the store file as a whole (beside [`ChangeKind`]'s certificate changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreEvent {
    /// The store appeared (`pki init`).
    StoreCreated,
    /// The store file was deleted.
    StoreDeleted,
    /// This version does not parse as a store.
    StoreUnreadable,
    /// The text changed but no certificate, custodian or revocation did (keys re-sealed to
    /// the same recipients, or the file rewritten).
    StoreRewritten,
}

/// An event's kind: a certificate or custody change, or a change of the file itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum EventKind {
    /// What [`diff_stores`] found.
    Change(ChangeKind),
    /// What happened to the file.
    Store(StoreEvent),
}

impl EventKind {
    /// The kind's name (as in JSON).
    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }
}

/// One event of the audit trail: one change in one commit.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The environment.
    pub env: String,
    /// The commit id (`null`: uncommitted changes in the working tree).
    pub commit: Option<String>,
    /// Author name.
    pub author: String,
    /// Author email.
    pub email: String,
    /// Author time (RFC 3339, UTC); `null` for the working tree.
    pub date: Option<String>,
    /// The commit carries a signature (not verified: `git log --show-signature` does that).
    pub signed: bool,
    /// The commit message's first line.
    pub summary: String,
    /// What happened.
    pub kind: EventKind,
    /// The PKI (empty for store-wide events).
    pub pki: String,
    /// The scope, for intermediates and revocations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The certificate's subject, the custody field, or what was wrong with the file.
    pub subject: String,
    /// Fingerprint (or recipient) before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Fingerprint (or recipient) after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// The audit trail of one environment's store, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// The events.
    pub events: Vec<Event>,
}

/// Classifies each revision against the version before it. A version that does not parse is
/// one `store-unreadable` event (with the parser's code), and the next readable version is
/// compared with the last readable one, so one bad commit does not hide what came after.
pub fn history(env: &str, revisions: &[Revision]) -> History {
    let mut events = Vec::new();
    let mut last_good: Option<Store> = None;
    for r in revisions {
        let mut push = |kind: EventKind, pki: &str, scope: Option<String>, subject: String, b, a| {
            events.push(Event {
                env: env.to_string(),
                commit: r.commit.clone(),
                author: r.author.clone(),
                email: r.email.clone(),
                date: r.commit.as_ref().and_then(|_| {
                    time::OffsetDateTime::from_unix_timestamp(r.time).ok().map(crate::model::time::format_rfc3339)
                }),
                signed: r.signed,
                summary: r.summary.clone(),
                kind,
                pki: pki.to_string(),
                scope,
                subject,
                before: b,
                after: a,
            })
        };
        // The first parent's version; when that one did not parse, the last one that did.
        let before = match &r.before {
            Some(text) => Store::parse("pki.enc.yaml", text).ok().or_else(|| last_good.clone()),
            None => None,
        };
        let Some(text) = &r.after else {
            push(EventKind::Store(StoreEvent::StoreDeleted), "", None, "pki.enc.yaml".into(), None, None);
            last_good = None;
            continue;
        };
        let after = match Store::parse("pki.enc.yaml", text) {
            Ok(s) => s,
            Err(e) => {
                push(EventKind::Store(StoreEvent::StoreUnreadable), "", None, format!("{}: {e}", e.code()), None, None);
                continue;
            }
        };
        let base = match before {
            Some(b) => b,
            None => {
                push(EventKind::Store(StoreEvent::StoreCreated), "", None, "pki.enc.yaml".into(), None, None);
                Store::new(after.root_recipient.clone(), after.recipient.clone())
            }
        };
        let diff = diff_stores(&base, &after);
        for c in &diff.changes {
            push(
                EventKind::Change(c.kind),
                &c.pki,
                c.scope.clone(),
                c.subject.clone(),
                c.before.clone(),
                c.after.clone(),
            );
        }
        if diff.changes.is_empty() && r.before.is_some() && r.before.as_deref() != Some(text) {
            push(EventKind::Store(StoreEvent::StoreRewritten), "", None, "pki.enc.yaml".into(), None, None);
        }
        last_good = Some(after);
    }
    History { events }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let commit = self.commit.as_deref().map(|c| c.chars().take(10).collect::<String>());
        let when = self.date.as_deref().unwrap_or("(working tree)");
        let who = if self.commit.is_some() { format!("{} <{}>", self.author, self.email) } else { String::new() };
        let signed = if self.signed { " signed" } else { "" };
        let place = match (&self.pki[..], &self.scope) {
            ("", _) => String::new(),
            (p, Some(s)) => format!(" {p}/{s}"),
            (p, None) => format!(" {p}"),
        };
        write!(
            f,
            "{when} {} {who}{signed}: {}{place} {}",
            commit.as_deref().unwrap_or("uncommitted"),
            self.kind.name(),
            self.subject
        )
    }
}
