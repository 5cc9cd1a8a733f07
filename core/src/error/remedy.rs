//! The structured remedy every failure carries, and the trait that gives each failure its
//! stable code. A leaf module: it depends on nothing in the crate but the custodian's name, so
//! every area's error can use it without a cycle.
//!
//! A [`Remedy`] names frontend-specific things (a flag, an identity's variable, an
//! operation) symbolically; each frontend words them through its own [`Wording`] (the CLI
//! says `--recipient` and `INFORGE_SECRETS_KEY`, Python says `recipient=` and
//! `secrets_key=`), so the core never puts one frontend's text in another's output. A step
//! carries the real environment, PKI and scope known at the failure; a frontend renders the
//! values it has and never a placeholder.

use serde::Serialize;

use crate::model::custodian::Custodian;

/// A stable machine-readable code and a structured remedy (implemented by every area's enum).
pub trait Coded {
    /// Stable, kebab-case identifier of the failure (documented in docs/errors.md).
    fn code(&self) -> &'static str;
    /// What the user should do about it.
    fn remedy(&self) -> Remedy;
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
    /// Where a passphrase-protected identity file's passphrase comes from without a terminal.
    PassphraseFile,
    /// The quorum custodians' identity files, one per custodian.
    CustodianFiles,
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
    /// Re-seal the CI-held keys to the secret store's recipient.
    RekeyCi,
    /// Re-sign the roots' CRLs (offline).
    RootCrl,
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
    /// The remedy in a frontend's words. A step without an environment takes the one the
    /// frontend was asked about ([`Wording::env`]), so a rendered step names real values.
    pub fn render(&self, w: &dyn Wording) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Step(s) => match (&s.env, w.env()) {
                    (None, Some(env)) => w.step(&s.clone().env(env)),
                    _ => w.step(s),
                },
                Part::Identity(c) => w.identity(*c),
                Part::Opt(o) => w.opt(*o),
            })
            .collect()
    }

    /// The same remedy with `env` in every step that names none.
    pub fn with_env(mut self, env: &str) -> Remedy {
        for p in &mut self.0 {
            if let Part::Step(s) = p {
                if s.env.is_none() {
                    s.env = Some(env.to_string());
                }
            }
        }
        self
    }
}

impl Step {
    /// The `inforge` command line that performs this step. Store-changing operations exist
    /// only on the command line, so every frontend quotes them this way; the grammar is the
    /// CLI's public contract (SPEC §4). Only values the step carries appear: no placeholder
    /// ever reaches a user (a step built without its PKI or scope names the command alone).
    pub fn command_line(&self) -> String {
        let mut words: Vec<&str> = vec!["inforge", "pki"];
        let (verb, takes_scope, tail): (&str, bool, &[&str]) = match self.op {
            Op::Init => ("init", false, &[]),
            Op::AddTwoTier => ("add", false, &["--topology", "two-tier"]),
            Op::Add => ("add", false, &["--topology", "two-tier|root-only"]),
            Op::Intermediate => ("intermediate", true, &[]),
            Op::RotateIntermediate => ("rotate", false, &["--intermediate"]),
            Op::RotateRoot => ("rotate", false, &["--root"]),
            Op::SwitchRoot => ("rotate", false, &["--root", "--switch"]),
            Op::FinalizeRoot => ("rotate", false, &["--root", "--finalize"]),
            Op::RecoverIntermediate => ("recover-intermediate", true, &[]),
            Op::Renew => ("renew", false, &[]),
            Op::RenewBundlesOnly => ("renew", false, &["--bundles-only"]),
            Op::Ls => ("ls", false, &[]),
            Op::RekeyCi => ("rekey", false, &["--ci"]),
            Op::RootCrl => ("root-crl", false, &[]),
        };
        words.push(verb);
        words.extend(self.env.as_deref());
        if !matches!(self.op, Op::Init | Op::Renew | Op::RenewBundlesOnly | Op::Ls | Op::RekeyCi) {
            words.extend(self.pki.as_deref());
        }
        if takes_scope {
            words.extend(self.scope.as_deref());
        }
        words.extend(tail);
        if self.op == Op::RotateIntermediate {
            words.extend(self.scope.as_deref());
        }
        words.join(" ")
    }
}

/// How a frontend names options, identities and operations in remedies.
pub trait Wording {
    /// An option (CLI: `--recipient age1…`).
    fn opt(&self, o: Opt) -> String;
    /// Where a custodian's identity comes from (CLI: `INFORGE_SECRETS_KEY`).
    fn identity(&self, c: Custodian) -> String;
    /// An operation (CLI: `inforge pki init prd`). Each frontend words it: store-changing
    /// operations are CLI commands everywhere, but only the frontend knows how it names them.
    fn step(&self, s: &Step) -> String {
        s.command_line()
    }
    /// The environment this frontend was asked about, for steps that name none.
    fn env(&self) -> Option<&str> {
        None
    }
}

/// Frontend-neutral words, for a remedy shown outside any frontend (a Rust program embedding
/// the core, a diagnostic before a frontend rewords it): options and identities described,
/// steps as the command line.
pub struct Plain;

impl Wording for Plain {
    fn opt(&self, o: Opt) -> String {
        match o {
            Opt::Recipient => "the CI recipient (an age1… public key)",
            Opt::RepoDir => "the infra repo's directory",
            Opt::Force => "the force override",
            Opt::Scope => "a scope",
            Opt::Roots => "the roots",
            Opt::Now => "the operation's time",
            Opt::Wait => "a longer lock wait",
            Opt::PassphraseFile => "a passphrase file",
            Opt::CustodianFiles => "the custodians' identity files",
        }
        .into()
    }
    fn identity(&self, c: Custodian) -> String {
        format!("the {} identity", c.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frontend that knows its environment and words options as keyword arguments.
    struct Py(Option<&'static str>);
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
        fn env(&self) -> Option<&str> {
            self.0
        }
    }

    #[test]
    fn remedies_are_worded_per_frontend() {
        let r =
            remedy!["pass ", Opt::Recipient, ", or give ", Custodian::Ci, "; then ", Step::new(Op::Init).env("prd")];
        assert_eq!(r.render(&Py(None)), "pass recipient=, or give secrets_key=; then inforge pki init prd");
        assert_eq!(
            r.render(&Plain),
            "pass the CI recipient (an age1… public key), or give the CI identity; then inforge pki init prd"
        );
        assert!(serde_json::to_string(&r).unwrap().contains("\"kind\":\"step\""));
    }

    #[test]
    fn a_step_takes_the_frontends_environment_and_never_shows_a_placeholder() {
        let r = remedy!["roll it: ", Step::new(Op::RotateIntermediate).pki("mesh").scope("eu")];
        assert_eq!(r.render(&Py(Some("stg"))), "roll it: inforge pki rotate stg mesh --intermediate eu");
        assert_eq!(
            r.clone().with_env("prd").render(&Py(Some("stg"))),
            "roll it: inforge pki rotate prd mesh --intermediate eu"
        );
        // Unknown values are left out, never shown as `<env>`.
        for op in [
            Op::Init,
            Op::AddTwoTier,
            Op::Add,
            Op::Intermediate,
            Op::RotateIntermediate,
            Op::RotateRoot,
            Op::SwitchRoot,
            Op::FinalizeRoot,
            Op::RecoverIntermediate,
            Op::Renew,
            Op::RenewBundlesOnly,
            Op::Ls,
        ] {
            let line = Step::new(op).command_line();
            assert!(line.starts_with("inforge pki ") && !line.contains('<'), "{line}");
            let full = Step::new(op).env("prd").pki("mesh").scope("eu").command_line();
            assert!(full.contains(" prd"), "{full}");
        }
    }
}
