//! What inforge shows without changing anything: the `pki ls` listing, `pki status` (and its
//! Prometheus exposition), the
//! `--plan` forecasts, the store's rendering and change review for git (`store show`, `store diff`), credential-free validation and the browser inspector's views.

pub mod custody;
pub mod history;
pub mod inspect;
pub mod listing;
pub mod metrics;
pub mod plan;
pub mod review;
pub mod show;
pub mod status;
pub mod validate;
