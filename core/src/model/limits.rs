//! The numbers and names the checks hold values to (timeline bounds, the supported years, the
//! store format, the algorithms): a leaf of the module graph, so the parsers, the tier checks,
//! the rotations and the error remedies that quote them all read one definition.

/// Default minimum age of a root overlap before it may be finalized, in days. Long enough for
/// root-anchoring consumers that refresh weekly to pick up the new root several times.
pub const DEFAULT_MIN_OVERLAP_DAYS: u32 = 30;
/// The longest root overlap inforge accepts, in days (ten years: a root's lifetime).
pub const MAX_OVERLAP_DAYS: u32 = 3652;
/// Days between `rotate --root --switch` and `--finalize`: a week of daily host timers, so
/// every host has re-projected a leaf whose chain puts the new root's path first.
pub const DEFAULT_MIN_SWITCH_DAYS: u32 = 7;

/// The earliest year inforge works in: an earlier time is a clock that was never set (a
/// machine booted at the Unix epoch), not a rehearsal.
pub const MIN_YEAR: i32 = 2000;
/// The latest year inforge works in: a ten-year root minted then still ends before 9999, the
/// last year X.509 GeneralizedTime can hold.
pub const MAX_YEAR: i32 = 9980;

/// The newest store format this build reads and writes (2 adds `revokedLeaves`).
pub const FORMAT_VERSION: u32 = 2;
/// The oldest store format this build reads; a store is written at the oldest version that
/// holds what it uses ([`crate::model::store::Store::required_version`]).
pub const MIN_FORMAT_VERSION: u32 = 1;

/// The key algorithms, by their store and command-line names.
pub const ALGORITHM_NAMES: [&str; 3] = ["ecdsa-p256", "ecdsa-p384", "ed25519"];

/// Most custodians a quorum may have: Shamir's scheme over GF(256) gives at most 255 shares.
pub const MAX_CUSTODIANS: usize = 255;

/// Default (and longest) lifetime of a leaf, in days: the leaf profile's (`crypto::profile`
/// re-exports it) and the upper bound of a service's `leafTtl`.
pub const LEAF_DAYS: i64 = 90;

/// Days a CRL signed by renew stays valid (its nextUpdate): a week of daily renews may fail
/// before consumers that check CRLs start refusing peers.
pub const CRL_DAYS: i64 = 7;

/// Days a root's CRL stays valid (its nextUpdate): root CRLs are signed offline, at
/// ceremonies; `validate` warns when one has under 30 days left.
pub const ROOT_CRL_DAYS: i64 = 365;
