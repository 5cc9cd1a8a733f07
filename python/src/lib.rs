//! Python bindings of inforge-core for deploy scripts (thin: no domain logic).
//! Errors map to `inforge.InforgeError` in one place; its `args` are (code, message, hint).
#![forbid(unsafe_code)]

use inforge_core::Coded;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

pyo3::create_exception!(inforge, InforgeError, PyException, "An inforge failure; `.args` = (code, message, hint).");

fn to_py(e: inforge_core::Error) -> PyErr {
    InforgeError::new_err((e.code(), e.to_string(), e.hint()))
}

/// Lists a store's PKIs (the `inforge pki ls --json` document) at `now` (RFC 3339).
#[pyfunction]
fn list_store(store_yaml: &str, env: &str, now: &str) -> PyResult<String> {
    let now = inforge_core::time::parse_rfc3339("now", now).map_err(|e| to_py(e.into()))?;
    let store = inforge_core::store::Store::parse("pki.enc.yaml", store_yaml).map_err(|e| to_py(e.into()))?;
    let listing = inforge_core::pki::listing(&store, env, now).map_err(to_py)?;
    serde_json::to_string(&listing).map_err(|e| PyException::new_err(e.to_string()))
}

#[pymodule]
fn inforge(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("InforgeError", m.py().get_type::<InforgeError>())?;
    m.add_function(wrap_pyfunction!(list_store, m)?)?;
    Ok(())
}
