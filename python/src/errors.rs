//! The one place failures become Python exceptions: `inforge.Error` and one subclass per area,
//! each instance with `.code` (the CLI's code), `.message` and `.hint` (the remedy in Python's
//! words: keyword arguments, with the environment variables as the fallback).

use inforge_core::crypto::custody::Custodian;
use inforge_core::error::Opt;
use inforge_core::Wording;
use inforge_host::HostError;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;

pyo3::create_exception!(
    inforge,
    Error,
    PyException,
    "Any inforge failure. `.code` is the stable code the CLI prints as `error[<code>]`, \
     `.message` says what is wrong and `.hint` what to do, in Python's words. Neither ever \
     contains an identity or key material. Catch a subclass for one area."
);
pyo3::create_exception!(
    inforge,
    ConfigError,
    Error,
    "inforge.yaml, regions.yaml or the secret store is invalid, a name breaks the SPIFFE naming \
     rules, an environment or service is unknown, or the directory is not an infra repo."
);
pyo3::create_exception!(
    inforge,
    StoreError,
    Error,
    "The PKI store (resources/<env>/pki.enc.yaml) is not valid YAML, has an unknown field or a \
     bad value, or is a newer format."
);
pyo3::create_exception!(
    inforge,
    CustodyError,
    Error,
    "An identity is missing, invalid or the wrong one, a key does not decrypt or does not match \
     its certificate, or a private key cannot be used."
);
pyo3::create_exception!(
    inforge,
    CertError,
    Error,
    "A certificate in the store cannot be parsed, is not signed by its issuer, or cannot be issued."
);
pyo3::create_exception!(
    inforge,
    PkiError,
    Error,
    "A PKI operation was refused: no store, an unknown or wrong-topology PKI, a tier that fails \
     its checks, or a refused rotation."
);
pyo3::create_exception!(
    inforge,
    MeshError,
    Error,
    "The mesh cannot be planned or a bundle built (a service's PKI, scope or intermediate is \
     missing), or a SPIFFE ID is not one inforge mints."
);
pyo3::create_exception!(
    inforge,
    TimeError,
    Error,
    "A time is not RFC 3339 or is outside the range certificates can express (`now=`, \
     INFORGE_NOW or a store field)."
);
pyo3::create_exception!(
    inforge,
    ProviderError,
    Error,
    "The environment's provider is missing, not a directory, of a kind this build cannot write, \
     or busy with another writer."
);
pyo3::create_exception!(
    inforge,
    IoError,
    Error,
    "Reading or writing a file failed, or a file is too large or not UTF-8 text."
);

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    // The name the first version of the module used; same class.
    m.add("InforgeError", py.get_type::<Error>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("CustodyError", py.get_type::<CustodyError>())?;
    m.add("CertError", py.get_type::<CertError>())?;
    m.add("PkiError", py.get_type::<PkiError>())?;
    m.add("MeshError", py.get_type::<MeshError>())?;
    m.add("TimeError", py.get_type::<TimeError>())?;
    m.add("ProviderError", py.get_type::<ProviderError>())?;
    m.add("IoError", py.get_type::<IoError>())?;
    Ok(())
}

/// Python's words for remedies: keyword arguments where the Python call has one, else the
/// environment variable the module reads, else the inforge CLI (store-changing operations
/// and the offline identity belong to the CLI).
#[derive(Default)]
pub struct PyWording<'a> {
    /// The environment the call was for: steps that name none take it.
    pub env: Option<&'a str>,
}

impl Wording for PyWording<'_> {
    fn opt(&self, o: Opt) -> String {
        match o {
            Opt::RepoDir => "the repo argument".into(),
            Opt::Scope => "scope=".into(),
            Opt::Roots => "roots=True".into(),
            Opt::Now => "now= (or INFORGE_NOW)".into(),
            Opt::Wait => "INFORGE_LOCK_WAIT".into(),
            Opt::PassphraseFile => "INFORGE_PASSPHRASE_FILE".into(),
            Opt::CustodianFiles => "INFORGE_PKI_ROOT_KEY_FILE=a.key:b.key".into(),
            Opt::Recipient => "the inforge CLI's --recipient age1…".into(),
            Opt::Force => "the inforge CLI's --force".into(),
        }
    }

    fn env(&self) -> Option<&str> {
        self.env
    }

    fn identity(&self, c: Custodian) -> String {
        match c {
            Custodian::Ci => "secrets_key= (or INFORGE_SECRETS_KEY / INFORGE_SECRETS_KEY_FILE)".into(),
            Custodian::OfflineRoot => "the inforge CLI's INFORGE_PKI_ROOT_KEY (never a Python argument)".into(),
        }
    }
}

fn class_for<'py>(py: Python<'py>, e: &HostError) -> Bound<'py, PyType> {
    match e {
        HostError::Core(c) => match c.area() {
            "config" => py.get_type::<ConfigError>(),
            "store" => py.get_type::<StoreError>(),
            "custody" => py.get_type::<CustodyError>(),
            "cert" => py.get_type::<CertError>(),
            "pki" => py.get_type::<PkiError>(),
            "mesh" => py.get_type::<MeshError>(),
            "time" => py.get_type::<TimeError>(),
            _ => py.get_type::<Error>(),
        },
        HostError::NotARepo { .. } => py.get_type::<ConfigError>(),
        HostError::Io { .. } | HostError::TooLarge { .. } | HostError::NotUtf8 { .. } => py.get_type::<IoError>(),
        HostError::ProviderMissing { .. }
        | HostError::ProviderNotDir { .. }
        | HostError::ProviderUnreachable { .. }
        | HostError::Busy { .. }
        | HostError::StoreChanged { .. } => py.get_type::<ProviderError>(),
        // The module reads no git history (`pki history` is the CLI's); mapped for completeness.
        HostError::Internal(_)
        | HostError::GitRepoMissing { .. }
        | HostError::GitRevUnknown { .. }
        | HostError::Git { .. } => py.get_type::<Error>(),
    }
}

/// A host or core failure as the area's exception, with `.code`, `.message` and `.hint`.
pub fn to_py(py: Python<'_>, e: HostError) -> PyErr {
    to_py_in(py, e, None)
}

/// [`to_py`] for a call about one environment: the hint's commands name it.
pub fn to_py_in(py: Python<'_>, e: HostError, env: Option<&str>) -> PyErr {
    let (code, message, hint) = (e.code(), e.message(), e.remedy().render(&PyWording { env }));
    let err = PyErr::from_type(class_for(py, &e), (message.clone(),));
    let value = err.value(py);
    let set = value
        .setattr("code", code)
        .and_then(|_| value.setattr("message", message))
        .and_then(|_| value.setattr("hint", hint));
    match set {
        Ok(()) => err,
        Err(other) => other,
    }
}

/// A core failure as the area's exception.
pub fn core_to_py(py: Python<'_>, e: inforge_core::Error) -> PyErr {
    to_py(py, HostError::Core(e))
}
