//! The core's one error type, [`Error`], and the structured [`Remedy`] every failure carries.
//!
//! Each area keeps its own enum (so a variant's fields stay typed), but every public core
//! function returns [`Error`]: a frontend maps one type in one place. Each failure has
//! - a stable code ([`Error::code`], documented in docs/errors.md),
//! - a lowercase message (`Display`), and
//! - a [`Remedy`]: what to do, as parts that name frontend-specific things (a flag, an
//!   identity's variable, an operation) symbolically. Each frontend words them through its own
//!   [`Wording`] (the CLI says `--recipient` and `INFORGE_SECRETS_KEY`, Python says
//!   `recipient=` and `secrets_key=`), so the core never puts CLI text in a Python exception.
//!
//! No message or remedy ever contains private key material or identity strings.

use std::fmt;

use serde::Serialize;

pub use crate::cert::CertError;
pub use crate::config::ConfigError;
pub use crate::custody::CustodyError;
pub use crate::inspect::InspectError;
pub use crate::keys::KeyError;
pub use crate::mesh::MeshError;
pub use crate::names::NameError;
pub use crate::pki::PkiError;
pub use crate::rotate::RotateError;
pub use crate::store::StoreError;
pub use crate::time::TimeError;

use crate::custody::Custodian;

/// A stable machine-readable code and a structured remedy (implemented by every area's enum).
pub trait Coded {
    /// Stable, kebab-case identifier of the failure (documented in docs/errors.md).
    fn code(&self) -> &'static str;
    /// What the user should do about it.
    fn remedy(&self) -> Remedy;
    /// The remedy in the default (CLI) wording.
    fn hint(&self) -> String {
        self.remedy().render(&CliWording)
    }
}

/// An option a frontend spells its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Opt {
    /// The CI recipient given explicitly (`init`).
    Recipient,
    /// Which infra repo to act on.
    RepoDir,
    /// Override a safety minimum.
    Force,
    /// A scope's bundle.
    Scope,
    /// The root bundle.
    Roots,
    /// The time of the operation.
    Now,
    /// Bounded wait for a lock.
    Wait,
}

/// An operation a remedy asks for, with the arguments known at the failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Which operation.
    pub op: Op,
    /// Environment, when known.
    pub env: Option<String>,
    /// PKI, when known.
    pub pki: Option<String>,
    /// Scope, when known.
    pub scope: Option<String>,
}

/// The operations a remedy can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Create the store.
    Init,
    /// Add a two-tier PKI.
    AddTwoTier,
    /// Add any PKI.
    Add,
    /// Mint a scope's intermediate (offline).
    Intermediate,
    /// Planned intermediate roll (offline).
    RotateIntermediate,
    /// Start a root overlap (offline).
    RotateRoot,
    /// Root rotation's middle phase: chains put the new root's path first.
    SwitchRoot,
    /// End a root overlap (offline).
    FinalizeRoot,
    /// Compromise recovery (offline).
    RecoverIntermediate,
    /// Mint leaves (CI).
    Renew,
    /// Refresh bundles only.
    RenewBundlesOnly,
    /// List the PKIs.
    Ls,
}

impl Step {
    /// A step with no arguments known yet.
    pub fn new(op: Op) -> Step {
        Step { op, env: None, pki: None, scope: None }
    }
    /// With the environment.
    pub fn env(mut self, env: impl Into<String>) -> Step {
        self.env = Some(env.into());
        self
    }
    /// With the PKI.
    pub fn pki(mut self, pki: impl Into<String>) -> Step {
        self.pki = Some(pki.into());
        self
    }
    /// With the scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Step {
        self.scope = Some(scope.into());
        self
    }
}

/// One piece of a remedy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum Part {
    /// Prose every frontend shows as is.
    Text(String),
    /// An operation to run.
    Step(Step),
    /// Where a custodian's identity comes from.
    Identity(Custodian),
    /// An option.
    Opt(Opt),
}

impl From<&str> for Part {
    fn from(s: &str) -> Part {
        Part::Text(s.to_string())
    }
}
impl From<String> for Part {
    fn from(s: String) -> Part {
        Part::Text(s)
    }
}
impl From<Step> for Part {
    fn from(s: Step) -> Part {
        Part::Step(s)
    }
}
impl From<Custodian> for Part {
    fn from(c: Custodian) -> Part {
        Part::Identity(c)
    }
}
impl From<Opt> for Part {
    fn from(o: Opt) -> Part {
        Part::Opt(o)
    }
}

/// What to do about a failure: parts a frontend renders through its [`Wording`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Remedy(pub Vec<Part>);

/// Builds a [`Remedy`] from parts: `remedy!["run `", Step::new(Op::Init), "` first"]`.
#[macro_export]
macro_rules! remedy {
    ($($part:expr),* $(,)?) => {
        $crate::error::Remedy(vec![$($crate::error::Part::from($part)),*])
    };
}

impl From<&str> for Remedy {
    fn from(s: &str) -> Remedy {
        Remedy(vec![Part::from(s)])
    }
}
impl From<String> for Remedy {
    fn from(s: String) -> Remedy {
        Remedy(vec![Part::from(s)])
    }
}

impl Remedy {
    /// The remedy in a frontend's words.
    pub fn render(&self, w: &dyn Wording) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Step(s) => w.step(s),
                Part::Identity(c) => w.identity(*c),
                Part::Opt(o) => w.opt(*o),
            })
            .collect()
    }
}

/// How a frontend names options, identities and operations in remedies.
pub trait Wording {
    /// An option (CLI: `--recipient age1…`).
    fn opt(&self, o: Opt) -> String;
    /// Where a custodian's identity comes from (CLI: `INFORGE_SECRETS_KEY`).
    fn identity(&self, c: Custodian) -> String;
    /// An operation (CLI: `inforge pki init prd`). Store-changing operations are CLI commands
    /// for every frontend, so the default is the CLI's.
    fn step(&self, s: &Step) -> String {
        CliWording.step(s)
    }
}

/// The command line's wording (also the default `hint()`).
pub struct CliWording;

impl Wording for CliWording {
    fn opt(&self, o: Opt) -> String {
        match o {
            Opt::Recipient => "--recipient age1…",
            Opt::RepoDir => "-C",
            Opt::Force => "--force",
            Opt::Scope => "--scope",
            Opt::Roots => "--roots",
            Opt::Now => "INFORGE_NOW",
            Opt::Wait => "--wait",
        }
        .into()
    }
    fn identity(&self, c: Custodian) -> String {
        c.env_var().into()
    }
    fn step(&self, s: &Step) -> String {
        let env = s.env.as_deref().unwrap_or("<env>");
        let pki = s.pki.as_deref().unwrap_or("<name>");
        let scope = s.scope.as_deref().unwrap_or("<scope>");
        match s.op {
            Op::Init => format!("inforge pki init {env}"),
            Op::AddTwoTier => {
                format!("inforge pki add {env} {} --topology two-tier", s.pki.as_deref().unwrap_or("<mesh>"))
            }
            Op::Add => format!("inforge pki add {env} {pki} --topology two-tier|root-only"),
            Op::Intermediate => format!("INFORGE_PKI_ROOT_KEY=… inforge pki intermediate {env} {pki} {scope}"),
            Op::RotateIntermediate => format!("inforge pki rotate {env} {pki} --intermediate {scope}"),
            Op::RotateRoot => format!("inforge pki rotate {env} {pki} --root"),
            Op::SwitchRoot => format!("inforge pki rotate {env} {pki} --root --switch"),
            Op::FinalizeRoot => format!("inforge pki rotate {env} {pki} --root --finalize"),
            Op::RecoverIntermediate => format!("inforge pki recover-intermediate {env} {pki} {scope}"),
            Op::Renew => format!("inforge pki renew {env}"),
            Op::RenewBundlesOnly => format!("inforge pki renew {env} --bundles-only"),
            Op::Ls => format!("inforge pki ls {env}"),
        }
    }
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
    /// A timestamp could not be parsed or is out of range.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// A fetched leaf set failed the host's checks before projection.
    #[error(transparent)]
    Projection(#[from] crate::projection::ProjectionError),
    /// A duration could not be parsed.
    #[error(transparent)]
    Duration(#[from] crate::time::DurationError),
    /// `inforge pki units` was refused.
    #[error(transparent)]
    Units(#[from] crate::units::UnitsError),
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

impl fmt::Display for Remedy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&CliWording))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Py;
    impl Wording for Py {
        fn opt(&self, o: Opt) -> String {
            format!("{o:?}=").to_lowercase()
        }
        fn identity(&self, c: Custodian) -> String {
            match c {
                Custodian::Ci => "secrets_key=".into(),
                Custodian::OfflineRoot => "root_key=".into(),
            }
        }
    }

    #[test]
    fn remedies_are_worded_per_frontend() {
        let r =
            remedy!["pass ", Opt::Recipient, ", or give ", Custodian::Ci, "; then ", Step::new(Op::Init).env("prd")];
        assert_eq!(
            r.render(&CliWording),
            "pass --recipient age1…, or give INFORGE_SECRETS_KEY; then inforge pki init prd"
        );
        assert_eq!(r.render(&Py), "pass recipient=, or give secrets_key=; then inforge pki init prd");
        assert!(serde_json::to_string(&r).unwrap().contains("\"kind\":\"step\""));
    }
}
