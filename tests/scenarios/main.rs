//! Behavioural scenarios against the real `inforge` binary, checked with independent
//! verifiers: the `age` and `openssl` CLIs, rustls-webpki and rustls.

mod support;

mod battery;
mod custody;
mod foundation;
mod gitstore;
mod golden;
mod hardening;
mod history;
mod hosts;
mod mesh;
mod phases;
mod rotation;
mod runbooks;
mod tls;
