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

// Folders by concern, in dependency order (scripts/check-cycles.py keeps the module graph a
// DAG): error → model → crypto → pki → mesh → views → ops.
pub mod crypto;
pub mod error;
pub mod mesh;
pub mod model;
pub mod ops;
pub mod pki;
pub mod views;

pub use error::{Coded, Error, Remedy, Wording};
