//! What inforge shows without changing anything: the `pki ls` listing, `pki status` (and its
//! Prometheus exposition), the
//! `--plan` forecasts, credential-free validation and the browser inspector's views.

pub mod custody;
pub mod history;
pub mod inspect;
pub mod listing;
pub mod metrics;
pub mod plan;
pub mod status;
pub mod validate;
