//! `inforge-core`: the IO-free heart of inforge.
//!
//! Everything that decides something lives here: the store and config models, naming rules,
//! key generation, minting, custody checks, listings and validation. Nothing here touches the
//! filesystem, the environment, the clock or the OS random number generator; the shells (CLI,
//! WASM, Python) pass time (`OffsetDateTime`), randomness (`CryptoRngCore`) and sealing
//! ([`custody::Sealer`], because age draws its own entropy) in as parameters. Clippy's
//! `disallowed-methods`/`disallowed-types` (see `core/clippy.toml`) keeps it that way.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cert;
pub mod config;
pub mod custody;
pub mod effects;
pub mod error;
pub mod inspect;
pub mod keys;
pub mod lifecycle;
pub mod listing;
pub mod mesh;
pub mod names;
pub mod ops;
pub mod pki;
pub mod plan;
pub mod profile;
pub mod projection;
pub mod rotate;
pub mod status;
pub mod store;
pub mod time;
pub mod units;
pub mod validate;

pub use error::{Coded, Error, Remedy, Wording};
