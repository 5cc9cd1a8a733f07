//! One error enum per area, each variant with a stable code, a lowercase message and a hint.
//!
//! Frontends map [`Error`] to their world in one place (exit codes, JS `Error.code`, Python
//! exception classes) using [`Coded::code`] and [`Coded::hint`]. No message or hint ever
//! contains private key material or identity strings.

pub use crate::cert::CertError;
pub use crate::config::ConfigError;
pub use crate::custody::CustodyError;
pub use crate::keys::KeyError;
pub use crate::mesh::MeshError;
pub use crate::names::NameError;
pub use crate::pki::PkiError;
pub use crate::rotate::RotateError;
pub use crate::store::StoreError;
pub use crate::time::TimeError;

/// A stable machine-readable code and a human hint that says how to fix the problem.
pub trait Coded {
    /// Stable, kebab-case identifier of the failure (documented in docs/errors.md).
    fn code(&self) -> &'static str;
    /// What the user should do about it.
    fn hint(&self) -> String;
}

/// Any failure of the core, by area.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name breaks the SPIFFE naming rules.
    #[error(transparent)]
    Name(#[from] NameError),
    /// `inforge.yaml` or `regions.yaml` is malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The PKI store is malformed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Decryption, identities, recipients or key/certificate mismatch.
    #[error(transparent)]
    Custody(#[from] CustodyError),
    /// A private key could not be generated, parsed or used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A certificate could not be parsed or issued.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// A PKI operation was refused.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// A rotation was refused.
    #[error(transparent)]
    Rotate(#[from] RotateError),
    /// A mesh operation (plan, bundle, SPIFFE ID) was refused.
    #[error(transparent)]
    Mesh(#[from] MeshError),
    /// A timestamp could not be parsed.
    #[error(transparent)]
    Time(#[from] TimeError),
}

impl Coded for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Name(e) => e.code(),
            Error::Config(e) => e.code(),
            Error::Store(e) => e.code(),
            Error::Custody(e) => e.code(),
            Error::Key(e) => e.code(),
            Error::Cert(e) => e.code(),
            Error::Pki(e) => e.code(),
            Error::Mesh(e) => e.code(),
            Error::Rotate(e) => e.code(),
            Error::Time(e) => e.code(),
        }
    }
    fn hint(&self) -> String {
        match self {
            Error::Name(e) => e.hint(),
            Error::Config(e) => e.hint(),
            Error::Store(e) => e.hint(),
            Error::Custody(e) => e.hint(),
            Error::Key(e) => e.hint(),
            Error::Cert(e) => e.hint(),
            Error::Pki(e) => e.hint(),
            Error::Mesh(e) => e.hint(),
            Error::Rotate(e) => e.hint(),
            Error::Time(e) => e.hint(),
        }
    }
}
