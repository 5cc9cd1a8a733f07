//! The rotate area's failures (moved out of `pki::rotate` so the error module depends on no area).

use crate::error::remedy::{Coded, Op, Opt, Remedy, Step};
use crate::remedy;

/// A rotation was refused.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// Rotating a scope that has no intermediate yet.
    #[error("{pki:?} has no intermediate for scope {scope:?} to rotate")]
    NothingToRotate {
        /// PKI.
        pki: String,
        /// Scope.
        scope: String,
    },
    /// `--root` while an overlap is open.
    #[error("{pki:?} is already in a root overlap (started {since})")]
    OverlapOpen {
        /// PKI.
        pki: String,
        /// Start.
        since: String,
    },
    /// `--switch` or `--finalize` with no overlap.
    #[error("{pki:?} has no root overlap to {phase}")]
    NoOverlap {
        /// PKI.
        pki: String,
        /// The phase asked for: `switch` or `finalize`.
        phase: &'static str,
    },
    /// `--finalize` too early.
    #[error("the root overlap of {pki:?} started {since} and lasts at least {min_days} days: finalize is allowed from {allowed_at}")]
    OverlapTooYoung {
        /// PKI.
        pki: String,
        /// Start.
        since: String,
        /// Minimum days.
        min_days: u32,
        /// When finalize becomes allowed.
        allowed_at: String,
    },
    /// `--switch` on a root-only PKI.
    #[error("{pki:?} is root-only: it issues no chains, so there is nothing to switch; finalize the overlap when its minimum has passed")]
    SwitchNotApplicable {
        /// PKI.
        pki: String,
    },
    /// `--switch` twice.
    #[error("{pki:?} already switched to the new root's path at {since}")]
    AlreadySwitched {
        /// PKI.
        pki: String,
        /// When.
        since: String,
    },
    /// `--switch` before the roots bundle has been out for the minimum.
    #[error("the root overlap of {pki:?} started {since}; consumers get {min_days} days to take the bundle with both roots: the switch is allowed from {allowed_at}")]
    SwitchTooEarly {
        /// PKI.
        pki: String,
        /// Overlap start.
        since: String,
        /// Minimum days.
        min_days: u32,
        /// When the switch becomes allowed.
        allowed_at: String,
    },
    /// `--finalize` of a two-tier PKI that has not switched.
    #[error("{pki:?} has not switched its chains to the new root yet: finalizing now would cut every host whose chain starts on the previous root off from consumers that trust only the new one")]
    NotSwitched {
        /// PKI.
        pki: String,
    },
    /// `--finalize` too soon after the switch.
    #[error(
        "{pki:?} switched at {since}; hosts get {min_days} days to re-project: finalize is allowed from {allowed_at}"
    )]
    SwitchTooYoung {
        /// PKI.
        pki: String,
        /// Switch time.
        since: String,
        /// Minimum days.
        min_days: u32,
        /// When finalize becomes allowed.
        allowed_at: String,
    },
    /// `--finalize` when the provider could not be read: the fleet's chains are unknown.
    #[error("cannot check that the hosts of {pki:?} switched: the provider cannot be read ({reason})")]
    FleetUnknown {
        /// PKI.
        pki: String,
        /// Why the provider could not be read (secret-free).
        reason: String,
        /// Environment.
        env: String,
    },
    /// `--finalize` while provider sets still carry a chain from before the switch.
    #[error(
        "{pending} of {total} provider sets of {pki:?} still carry a chain from before the switch (e.g. {examples})"
    )]
    FleetNotSwitched {
        /// PKI.
        pki: String,
        /// Sets not yet switched.
        pending: usize,
        /// Sets checked.
        total: usize,
        /// A few of them.
        examples: String,
        /// Environment.
        env: String,
    },
}

impl Coded for RotateError {
    fn code(&self) -> &'static str {
        match self {
            RotateError::NothingToRotate { .. } => "scope-missing",
            RotateError::OverlapOpen { .. } => "overlap-open",
            RotateError::NoOverlap { .. } => "overlap-none",
            RotateError::OverlapTooYoung { .. } => "overlap-too-young",
            RotateError::SwitchNotApplicable { .. } => "switch-not-applicable",
            RotateError::AlreadySwitched { .. } => "switch-done",
            RotateError::SwitchTooEarly { .. } => "switch-too-early",
            RotateError::NotSwitched { .. } => "switch-missing",
            RotateError::SwitchTooYoung { .. } => "switch-too-young",
            RotateError::FleetNotSwitched { .. } => "fleet-not-switched",
            RotateError::FleetUnknown { .. } => "fleet-unknown",
        }
    }
    fn remedy(&self) -> Remedy {
        match self {
            RotateError::NothingToRotate { pki, scope } => {
                remedy!["mint it first: ", Step::new(Op::Intermediate).pki(pki).scope(scope)]
            }
            RotateError::OverlapOpen { pki, .. } => {
                remedy!["finish the current overlap first: ", Step::new(Op::FinalizeRoot).pki(pki)]
            }
            RotateError::NoOverlap { pki, .. } => remedy!["start one with: ", Step::new(Op::RotateRoot).pki(pki)],
            RotateError::OverlapTooYoung { .. } => remedy![
                "wait until then so root-anchoring consumers pick up the new root, or pass ",
                Opt::Force,
                " if you are sure they have"
            ],
            RotateError::SwitchNotApplicable { pki } => {
                remedy!["end the overlap with ", Step::new(Op::FinalizeRoot).pki(pki)]
            }
            RotateError::AlreadySwitched { pki, .. } => remedy![
                "the next phase is ",
                Step::new(Op::FinalizeRoot).pki(pki),
                " once every host holds a switched chain (`inforge pki status` shows each set's chain phase)"
            ],
            RotateError::SwitchTooEarly { pki, .. } => remedy![
                format!("wait until then so root-anchoring consumers take the bundle with both roots (`inforge pki bundle` {pki} --roots), or pass "),
                Opt::Force,
                " if you know they all have it"
            ],
            RotateError::NotSwitched { pki } => remedy![
                "switch first: ",
                Step::new(Op::SwitchRoot).pki(pki),
                ", renew, let hosts re-project, then finalize (or pass ",
                Opt::Force,
                " to accept the broken window)"
            ],
            RotateError::SwitchTooYoung { .. } => remedy![
                "wait until then so every host re-projects a switched chain, or pass ",
                Opt::Force,
                " to accept that hosts still on the old chain fail with consumers trusting only the new root"
            ],
            RotateError::FleetUnknown { pki, .. } => remedy![
                "make the provider readable and run ",
                Step::new(Op::FinalizeRoot).pki(pki),
                " again, or, once every host has re-projected (check them yourself), pass ",
                Opt::Force
            ],
            RotateError::FleetNotSwitched { env, .. } => remedy![
                "run ",
                Step::new(Op::Renew).env(env),
                " in CI and let the hosts re-project (inforge pki status shows each set's chain phase), or pass ",
                Opt::Force,
                " to accept that those hosts fail with consumers trusting only the new root"
            ],
        }
    }
}
