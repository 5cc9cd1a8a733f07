//! `inforge-host`: everything inforge's native frontends share around the IO-free core.
//!
//! The CLI, the Python module and the host bootstrapper link this crate; the WASM build does
//! not (a browser has no filesystem, environment or OS randomness). It decides nothing about
//! PKI: it reads the infra repo ([`repo`]), identities ([`keyring`]), the clock
//! ([`clock`]), OS randomness ([`rng`]), seals with age ([`seal`]), writes providers
//! ([`provider`]) and serialises writers ([`lock`]). Decisions are the core's `ops`.
#![forbid(unsafe_code)]
// Errors are the cold path and carry their context (paths, PKI and scope names) by value;
// boxing them would buy nothing measurable.
#![allow(clippy::result_large_err)]

pub mod backend;
pub mod clock;
pub mod config_cache;
pub mod error;
pub mod fault;
pub mod fsio;
#[cfg(feature = "history")]
pub mod git;
#[cfg(feature = "history")]
pub mod history;
pub mod keyring;
pub mod lock;
pub mod parallel;
pub mod provider;
pub mod renew;
pub mod repo;
pub mod seal;

pub use error::HostError;
pub use parallel::{mint_each, mint_parallel};
pub use renew::{mint_and_write, mint_and_write_checked};

/// The OS random number generator, the one source of randomness handed to the core.
pub fn rng() -> rand_core::OsRng {
    rand_core::OsRng
}
