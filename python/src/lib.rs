//! Python bindings of inforge-core for deploy scripts (thin: no domain logic).
//! Errors map to `inforge.InforgeError` in one place; its `args` are (code, message, hint),
//! with remedies in Python's words (keyword arguments).
#![forbid(unsafe_code)]

use inforge_core::custody::Custodian;
use inforge_core::error::{CliWording, Opt};
use inforge_core::{Coded, Wording};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

pyo3::create_exception!(inforge, InforgeError, PyException, "An inforge failure; `.args` = (code, message, hint).");

/// Python's words for remedies: keyword arguments, with the environment as the fallback.
struct Py;

impl Wording for Py {
    fn opt(&self, o: Opt) -> String {
        match o {
            Opt::Recipient => "recipient=\"age1…\"".into(),
            Opt::RepoDir => "the repo argument".into(),
            Opt::Scope => "scope=".into(),
            Opt::Roots => "roots=True".into(),
            Opt::Now => "now=".into(),
            other => CliWording.opt(other),
        }
    }
    fn identity(&self, c: Custodian) -> String {
        match c {
            Custodian::Ci => "secrets_key= (or INFORGE_SECRETS_KEY)".into(),
            Custodian::OfflineRoot => "the inforge CLI's INFORGE_PKI_ROOT_KEY".into(),
        }
    }
}

fn to_py(e: inforge_core::Error) -> PyErr {
    InforgeError::new_err((e.code(), e.to_string(), e.remedy().render(&Py)))
}

/// Lists a store's PKIs (the `inforge pki ls --json` document) at `now` (RFC 3339).
#[pyfunction]
fn list_store(store_yaml: &str, env: &str, now: &str) -> PyResult<String> {
    let now = inforge_core::time::parse_rfc3339("now", now).map_err(to_py)?;
    let store = inforge_core::store::Store::parse("pki.enc.yaml", store_yaml).map_err(to_py)?;
    let listing = inforge_core::listing::listing(&store, env, now).map_err(to_py)?;
    serde_json::to_string(&listing).map_err(|e| PyException::new_err(e.to_string()))
}

#[pymodule]
fn inforge(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("InforgeError", m.py().get_type::<InforgeError>())?;
    m.add_function(wrap_pyfunction!(list_store, m)?)?;
    Ok(())
}
