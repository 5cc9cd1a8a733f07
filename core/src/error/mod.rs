//! The core's one error type, [`Error`], on top of each area's own enum.
//!
//! Each area keeps its own enum in this folder (so a variant's fields stay typed), and every
//! public core function returns [`Error`]: a frontend maps one type in one place. Each
//! failure has
//! - a stable code ([`Coded::code`], documented in docs/errors.md),
//! - a lowercase message (`Display`), and
//! - a [`Remedy`] ([`remedy`]): what to do, in parts each frontend words itself.
//!
//! The area files depend only on [`remedy`] and the model's leaf vocabulary (custodians,
//! limits), never on the modules that raise them: the module graph stays a DAG
//! (scripts/check-cycles.py). No message or remedy ever contains private key material or
//! identity strings.

mod cert;
mod config;
mod custody;
mod inspect;
mod key;
mod mesh;
mod name;
mod pki;
mod projection;
pub mod remedy;
mod rotate;
mod store;
mod time;
mod units;

pub use cert::CertError;
pub use config::ConfigError;
pub use custody::CustodyError;
pub use inspect::InspectError;
pub use key::KeyError;
pub use mesh::MeshError;
pub use name::NameError;
pub use pki::PkiError;
pub use projection::ProjectionError;
pub use remedy::{Coded, Op, Opt, Part, Plain, Remedy, Step, Wording};
pub use rotate::RotateError;
pub use store::StoreError;
pub use time::{DurationError, TimeError};
pub use units::UnitsError;

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
    /// A timestamp could not be parsed or is out of range.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// A fetched leaf set failed the host's checks before projection.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// A duration could not be parsed.
    #[error(transparent)]
    Duration(#[from] DurationError),
    /// `inforge pki units` was refused.
    #[error(transparent)]
    Units(#[from] UnitsError),
    /// The inspector could not decide from its inputs (environment, scope).
    #[error(transparent)]
    Inspect(#[from] InspectError),
}

impl Error {
    fn inner(&self) -> &dyn Coded {
        match self {
            Error::Name(e) => e,
            Error::Config(e) => e,
            Error::Store(e) => e,
            Error::Custody(e) => e,
            Error::Key(e) => e,
            Error::Cert(e) => e,
            Error::Pki(e) => e,
            Error::Mesh(e) => e,
            Error::Rotate(e) => e,
            Error::Time(e) => e,
            Error::Projection(e) => e,
            Error::Units(e) => e,
            Error::Duration(e) => e,
            Error::Inspect(e) => e,
        }
    }

    /// The area, for frontends that map areas to exception classes.
    pub fn area(&self) -> &'static str {
        match self {
            Error::Name(_) | Error::Config(_) => "config",
            Error::Store(_) => "store",
            Error::Custody(_) | Error::Key(_) => "custody",
            Error::Cert(_) => "cert",
            Error::Pki(_) | Error::Rotate(_) => "pki",
            Error::Mesh(_) => "mesh",
            Error::Time(_) => "time",
            Error::Projection(_) | Error::Units(_) => "mesh",
            Error::Duration(_) => "time",
            Error::Inspect(_) => "inspect",
        }
    }
}

impl Coded for Error {
    fn code(&self) -> &'static str {
        self.inner().code()
    }
    fn remedy(&self) -> Remedy {
        self.inner().remedy()
    }
}
