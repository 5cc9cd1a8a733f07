//! The names and data inforge works on: SPIFFE naming rules, time, the project's config and
//! the store. Everything else builds on these; they decide only what is well formed.

pub mod config;
pub mod config_cache;
pub mod custodian;
pub mod limits;
pub mod names;
pub mod store;
pub mod time;
