//! Python bindings of inforge for deploy scripts: module `inforge` (an abi3 wheel).
//!
//! Thin: every function is read (through `inforge-host`, as the CLI reads) → one core
//! operation → write (through `inforge-host`, as the CLI writes) → a typed Python result. No
//! PKI decision is made here. Failures map to `inforge.Error` subclasses in one place
//! (`errors.rs`), with remedies in Python's words. Long operations release the GIL
//! (`Python::detach`): every argument is converted to Rust data before, every result to Python
//! objects after.
#![forbid(unsafe_code)]
// Errors are the cold path and carry their context by value (as in inforge-host).
#![allow(clippy::result_large_err)]

mod errors;
mod types;

use std::path::PathBuf;

use inforge_core::ops::{self, RenewRequest};
use inforge_host::keyring::HostKeyring;
use inforge_host::provider;
use inforge_host::repo::Repo;
use inforge_host::{clock, HostError};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDateTime, PyString, PyTzInfo};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use errors::{core_to_py, to_py, to_py_in, PyWording};
use inforge_core::Wording;
use types::{Decision, Diagnostic, Leaf, RenewReport, Store};

/// `now=` as the core's time: a timezone-aware `datetime` (a naive one is ambiguous: refused
/// with `ValueError`), truncated to the second as the clock is, and checked against the range
/// certificates can express (`inforge.TimeError`). `None` stays `None`: the host clock (or
/// `INFORGE_NOW`) is read later, as the CLI reads it.
fn when(py: Python<'_>, now: Option<&Bound<'_, PyAny>>) -> PyResult<Option<OffsetDateTime>> {
    let Some(v) = now else { return Ok(None) };
    let dt = v.cast::<PyDateTime>().map_err(|_| PyTypeError::new_err("now= must be a datetime.datetime or None"))?;
    if dt.call_method0("utcoffset")?.is_none() {
        return Err(PyValueError::new_err(
            "now= must be timezone-aware: a naive datetime is ambiguous (use e.g. datetime.now(timezone.utc))",
        ));
    }
    let text: String = dt.call_method1("astimezone", (PyTzInfo::utc(py)?,))?.call_method0("isoformat")?.extract()?;
    let t = inforge_core::model::time::parse_rfc3339("now=", &text).map_err(|e| core_to_py(py, e))?;
    let t = t.replace_nanosecond(0).unwrap_or(t);
    inforge_core::model::time::check_now("now=", t).map(Some).map_err(|e| core_to_py(py, e))
}

/// The operation's time: `now=` if given, else the clock (or `INFORGE_NOW`).
fn time_or_clock(now: Option<OffsetDateTime>) -> Result<OffsetDateTime, HostError> {
    match now {
        Some(t) => Ok(t),
        None => Ok(clock::now()?),
    }
}

/// Identities: `secrets_key=` if given, else `INFORGE_SECRETS_KEY` / `INFORGE_SECRETS_KEY_FILE`
/// (read only when the operation asks for the CI identity).
fn keyring(secrets_key: Option<String>) -> HostKeyring {
    HostKeyring::explicit(secrets_key.map(Zeroizing::new), None, ("secrets_key", "root_key"))
}

/// Validates one environment of an infra repo, credential-free: the same findings (codes,
/// subjects, files, messages) as `inforge validate <env> --json`, with hints in Python's words.
/// Unparseable files are findings, not exceptions; an exception means no report could be made
/// (no inforge.yaml, an unreadable file, a bad `now=`).
#[pyfunction]
#[pyo3(signature = (repo, env, *, now=None))]
fn validate(py: Python<'_>, repo: PathBuf, env: String, now: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Diagnostic>> {
    let now = when(py, now)?;
    let env_shown = env.clone();
    py.detach(move || -> Result<Vec<Diagnostic>, HostError> {
        let repo = Repo::open(&repo)?;
        let (store, secrets) = repo.texts(&env)?;
        let mut report = ops::validate(&repo.files(store.as_deref(), secrets.as_deref()), &env, time_or_clock(now)?);
        report.reword(&PyWording { env: Some(&env) });
        Ok(report.diagnostics.iter().map(Diagnostic::of).collect())
    })
    .map_err(|e| to_py_in(py, e, Some(&env_shown)))
}

/// The provider's sets judged against the store: the `inforge pki status <env> --json`
/// document as a dict (`ok`, `problemSets`, `phases`, and per set its leaf, issuer, chain
/// phase and problems with codes). Problems are data, not exceptions; an exception means no
/// report could be made (no inforge.yaml, no store, an unreachable provider, a bad `now=` or
/// `fail_within=`: `TimeError`). Needs no identity.
#[pyfunction]
#[pyo3(signature = (repo, env, *, fail_within="7d".to_string(), now=None))]
#[pyo3(text_signature = "(repo, env, *, fail_within='7d', now=None)")]
fn status<'py>(
    py: Python<'py>,
    repo: PathBuf,
    env: String,
    fail_within: String,
    now: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let now = when(py, now)?;
    let env_shown = env.clone();
    let text = py
        .detach(move || -> Result<String, HostError> {
            let within = inforge_core::model::time::parse_duration("fail_within=", &fail_within)?;
            let repo = Repo::open(&repo)?;
            let loaded = repo.load(&env)?;
            let provider = provider::open(&repo, &loaded.env)?;
            let fetched = provider::fetch_sets(provider.as_ref(), ops::status_targets(&loaded.env)?)?;
            let report = ops::status(&loaded.env, &fetched, time_or_clock(now)?, within)?;
            Ok(serde_json::to_string(&report).unwrap_or_default())
        })
        .map_err(|e| to_py_in(py, e, Some(&env_shown)))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// Parses a JSON document the core produced into Python objects (dicts, lists, str, int).
fn json_doc<'py>(py: Python<'py>, doc: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(doc).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// Checks a leaf chain (leaf first, as `cert.pem`) against a scope's bundle of the repo's
/// environment (default: the leaf's own scope): the npm package's `checkLeaf` document as a
/// dict (`ok`, `scope`, `pki`, `spiffeId`, `leaf`, `checks`). A failed check is data; an
/// unknown scope or a chain that does not parse raises. Needs no identity.
#[pyfunction]
#[pyo3(signature = (repo, env, chain_pem, *, scope=None, now=None))]
fn check_leaf<'py>(
    py: Python<'py>,
    repo: PathBuf,
    env: String,
    chain_pem: &Bound<'py, PyAny>,
    scope: Option<String>,
    now: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let now = when(py, now)?;
    let Some(chain) = text_of(py, chain_pem, "the chain")? else {
        return Err(PyTypeError::new_err("check_leaf() takes the chain as str or bytes"));
    };
    let env_shown = env.clone();
    let check = py
        .detach(move || -> Result<_, HostError> {
            let loaded = Repo::open(&repo)?.load(&env)?;
            Ok(ops::check_leaf(&loaded.env, &chain, scope.as_deref(), time_or_clock(now)?)?)
        })
        .map_err(|e| to_py_in(py, e, Some(&env_shown)))?;
    json_doc(py, &check)
}

/// Which scope's bundle trusts which scope's intermediates, and the boundary rule for every
/// caller × callee scope, for the repo's environment: the npm package's `trustMatrix`
/// document as a dict. Needs no identity.
#[pyfunction]
fn trust_matrix<'py>(py: Python<'py>, repo: PathBuf, env: String) -> PyResult<Bound<'py, PyAny>> {
    let env_shown = env.clone();
    let m = py
        .detach(move || -> Result<_, HostError> {
            let loaded = Repo::open(&repo)?.load(&env)?;
            Ok(ops::trust_matrix(&loaded.env)?)
        })
        .map_err(|e| to_py_in(py, e, Some(&env_shown)))?;
    json_doc(py, &m)
}

/// What a change between two versions of a store does: `inforge store diff --json` as a dict
/// (`changes`, `bundles`, `next`, `warnings`, `unchanged`). Texts are `str` or UTF-8 `bytes`;
/// an empty one is an absent store. `env` fills the next steps' commands.
#[pyfunction]
#[pyo3(signature = (before, after, *, env=None))]
fn review_stores<'py>(
    py: Python<'py>,
    before: &Bound<'py, PyAny>,
    after: &Bound<'py, PyAny>,
    env: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let (Some(b), Some(a)) = (text_of(py, before, "the before store")?, text_of(py, after, "the after store")?) else {
        return Err(PyTypeError::new_err("review_stores() takes two store texts (str or bytes)"));
    };
    let r = ops::review_stores(("before", &b), ("after", &a), env.as_deref()).map_err(|e| core_to_py(py, e))?;
    json_doc(py, &r)
}

/// Mints a leaf for every mesh service (or only `service`) in every scope and writes each
/// service+scope's `cert.pem`, `key.pem` and `bundle.pem` to the environment's provider
/// exactly as `inforge pki renew` does (same files, same lock, same atomic replacement).
/// Needs the CI identity: `secrets_key=`, else INFORGE_SECRETS_KEY / INFORGE_SECRETS_KEY_FILE.
/// Every check happens before anything is written: a refusal leaves the provider as it was.
#[pyfunction]
#[pyo3(signature = (repo, env, *, secrets_key=None, service=None, now=None))]
fn renew(
    py: Python<'_>,
    repo: PathBuf,
    env: String,
    secrets_key: Option<String>,
    service: Option<String>,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<RenewReport> {
    let now = when(py, now)?;
    let mut keyring = keyring(secrets_key);
    let env_shown = env.clone();
    let report = py
        .detach(move || -> Result<RenewReport, HostError> {
            let repo = Repo::open(&repo)?;
            let loaded = repo.load(&env)?;
            let req = RenewRequest { service, ..RenewRequest::default() };
            let mut provider = provider::open(&repo, &loaded.env)?;
            let plan = ops::renew(&loaded.env, &req, &mut keyring, time_or_clock(now)?)?
                .with_backend(&inforge_host::backend::AWS_LC);
            let current = || repo.check_store(&env, loaded.store_text.as_deref());
            let report = inforge_host::mint_and_write_checked(&plan, provider.as_mut(), &|| {}, &current)?;
            Ok(RenewReport::of(&report))
        })
        .map_err(|e| to_py_in(py, e, Some(&env_shown)))?;
    for l in report.leaves.iter().filter(|l| l.capped) {
        warn_capped(py, &env_shown, &l.pki, &l.scope, &l.spiffe_id, OffsetDateTime::from(l.not_after))?;
    }
    Ok(report)
}

/// Mints `service`'s leaves (one per scope) in memory, for a deploy script that delivers
/// them itself: the release-time mint. Writes nothing (no provider is needed). Same checks
/// and identity as `renew()`.
#[pyfunction]
#[pyo3(signature = (repo, env, service, *, secrets_key=None, now=None))]
fn mint(
    py: Python<'_>,
    repo: PathBuf,
    env: String,
    service: String,
    secrets_key: Option<String>,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<Leaf>> {
    let now = when(py, now)?;
    let mut keyring = keyring(secrets_key);
    let env_shown = env.clone();
    let leaves = py
        .detach(move || -> Result<Vec<Leaf>, HostError> {
            let repo = Repo::open(&repo)?;
            let loaded = repo.load(&env)?;
            let req = RenewRequest { service: Some(service), ..RenewRequest::default() };
            let plan = ops::renew(&loaded.env, &req, &mut keyring, time_or_clock(now)?)?
                .with_backend(&inforge_host::backend::AWS_LC);
            let minted = inforge_host::mint_parallel(&plan, &|| {})?;
            Ok(minted.into_iter().map(Leaf::of).collect::<Result<Vec<_>, _>>()?)
        })
        .map_err(|e| to_py_in(py, e, Some(&env_shown)))?;
    for l in leaves.iter().filter(|l| l.capped) {
        warn_capped(py, &env_shown, &l.pki, &l.scope, &l.spiffe_id, OffsetDateTime::from(l.not_after))?;
    }
    Ok(leaves)
}

/// A leaf cut short by its intermediate's end of life: a `UserWarning` naming the roll that
/// fixes it (the CLI prints the same on stderr).
fn warn_capped(py: Python<'_>, env: &str, pki: &str, scope: &str, id: &str, end: OffsetDateTime) -> PyResult<()> {
    let step =
        inforge_core::error::Step::new(inforge_core::error::Op::RotateIntermediate).env(env).pki(pki).scope(scope);
    let msg = format!(
        "{id} ends with its intermediate at {}, short of its lifetime: roll the intermediate ({})",
        inforge_core::model::time::format_rfc3339(end),
        PyWording { env: Some(env) }.step(&step)
    );
    let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
    PyErr::warn(py, &category, &std::ffi::CString::new(msg).unwrap_or_default(), 1)
}

/// A PEM trust bundle, byte-equal to `inforge pki bundle`: a scope's bundle (`scope=`: what
/// its services trust) or the root bundle (`roots=True`: both roots during an overlap).
/// Pass exactly one. Credential-free.
#[pyfunction]
#[pyo3(signature = (repo, env, pki, *, scope=None, roots=false, format="pem"))]
fn bundle(
    py: Python<'_>,
    repo: PathBuf,
    env: String,
    pki: String,
    scope: Option<String>,
    roots: bool,
    format: &str,
) -> PyResult<String> {
    if scope.is_some() == roots {
        return Err(PyValueError::new_err("pass exactly one of scope= (a scope such as \"global\") or roots=True"));
    }
    let format = match format {
        "pem" => ops::BundleFormat::Pem,
        "spiffe" => ops::BundleFormat::Spiffe,
        other => {
            return Err(PyValueError::new_err(format!(
                "format={other:?}: use \"pem\" or \"spiffe\" (the SPIFFE bundle JWKS)"
            )))
        }
    };
    let env_shown = env.clone();
    py.detach(move || -> Result<String, HostError> {
        let repo = Repo::open(&repo)?;
        let loaded = repo.load(&env)?;
        let which = match &scope {
            Some(s) => ops::Which::Scope(s),
            None => ops::Which::Roots,
        };
        Ok(ops::bundle_as(&loaded.env, &pki, which, format)?)
    })
    .map_err(|e| to_py_in(py, e, Some(&env_shown)))
}

/// Text from `str`, or UTF-8 `bytes`/`bytearray` (refused as `file-not-utf8` otherwise, as
/// the CLI refuses such a file); `None` for anything else.
fn text_of(py: Python<'_>, v: &Bound<'_, PyAny>, what: &str) -> PyResult<Option<String>> {
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Some(s.extract()?));
    }
    let is_bytes = v.is_instance_of::<pyo3::types::PyBytes>() || v.is_instance_of::<pyo3::types::PyByteArray>();
    let bytes: Option<Vec<u8>> = if is_bytes { v.extract().ok() } else { None };
    match bytes {
        Some(b) => {
            String::from_utf8(b).map(Some).map_err(|_| to_py(py, HostError::NotUtf8 { path: PathBuf::from(what) }))
        }
        None => Ok(None),
    }
}

/// Parses a PKI store from a file: a path (`os.PathLike`, or a `str`). Returns its PKIs, tiers
/// and certificate details; decrypts nothing and needs no identity. For the store's text use
/// `load_store_text()`; a `str` holding a newline is still read as text, as it was before
/// `load_store_text()` existed.
#[pyfunction]
fn load_store(py: Python<'_>, path_or_text: &Bound<'_, PyAny>) -> PyResult<Store> {
    // SPEC §8 names the parameter `path_or_text`; keyword callers keep working.
    let path = path_or_text;
    enum Source {
        Path(PathBuf),
        Text(String),
    }
    let source = match path.cast::<PyString>() {
        Ok(s) => {
            let s: String = s.extract()?;
            if s.contains('\n') {
                Source::Text(s)
            } else if !std::path::Path::new(&s).exists() && s.contains(':') {
                return Err(PyValueError::new_err(format!(
                    "load_store() reads a file, and there is no file named {s:?}: to parse a store's YAML text, \
                     call load_store_text()"
                )));
            } else {
                Source::Path(PathBuf::from(s))
            }
        }
        Err(_)
            if path.is_instance_of::<pyo3::types::PyBytes>() || path.is_instance_of::<pyo3::types::PyByteArray>() =>
        {
            return Err(PyTypeError::new_err(
                "load_store() takes a path; for the store's bytes, call load_store_text()",
            ));
        }
        Err(_) => Source::Path(path.extract::<PathBuf>().map_err(|_| {
            PyTypeError::new_err(
                "load_store() takes a path (str or os.PathLike); for the store's text, call load_store_text()",
            )
        })?),
    };
    py.detach(move || -> Result<Store, HostError> {
        let (name, text) = match source {
            Source::Path(p) => (p.display().to_string(), inforge_host::fsio::read_text(&p)?),
            Source::Text(t) => ("pki.enc.yaml".to_string(), t),
        };
        let store = inforge_core::model::store::Store::parse(&name, &text)?;
        Ok(Store::of(&store)?)
    })
    .map_err(|e| to_py(py, e))
}

/// Parses a PKI store from its YAML text (`str`, or UTF-8 `bytes`): what `load_store()` gives
/// for a file. Decrypts nothing and needs no identity.
#[pyfunction]
fn load_store_text(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Store> {
    let Some(text) = text_of(py, text, "the store text")? else {
        return Err(PyTypeError::new_err("load_store_text() takes the store's YAML as str or bytes"));
    };
    py.detach(move || -> Result<Store, HostError> {
        let store = inforge_core::model::store::Store::parse("pki.enc.yaml", &text)?;
        Ok(Store::of(&store)?)
    })
    .map_err(|e| to_py(py, e))
}

/// The regional boundary for one call between two inforge SPIFFE IDs
/// (`spiffe://<baseDomain>/<env>/<scope>/<service>`): intra-region, region→global and
/// global→global are allowed; cross-region and global→region are refused, as are calls
/// between trust domains or environments. A malformed ID raises `inforge.MeshError`
/// (`spiffe-id-invalid`).
#[pyfunction]
fn authorize(py: Python<'_>, caller: &str, callee: &str) -> PyResult<Decision> {
    let d = inforge_core::views::inspect::authorize_ids(caller, callee).map_err(|e| core_to_py(py, e))?;
    Ok(Decision { allowed: d.allowed, reason: d.reason, caller: d.caller })
}

/// The peer check a service embeds after the TLS handshake (`ssl.SSLSocket.getpeercert` gives
/// the leaf; the chain is leaf first, then its intermediate, as in `cert.pem`): the leaf may
/// claim only its issuing intermediate's scope, then the regional boundary rule. A leaf forged
/// with a leaked regional intermediate's key to claim a `global` ID is refused, though its
/// IDs alone would pass `authorize`. `Decision.caller` is the verified ID, or None. A
/// malformed callee raises `inforge.MeshError` (`spiffe-id-invalid`).
#[pyfunction]
fn authorize_peer(py: Python<'_>, chain_pem: &str, callee: &str) -> PyResult<Decision> {
    let d = inforge_core::views::inspect::authorize_chain(chain_pem, callee).map_err(|e| core_to_py(py, e))?;
    Ok(Decision { allowed: d.allowed, reason: d.reason, caller: d.caller })
}

/// Lists a store's PKIs as the `inforge pki ls --json` document, as a dict, at `now` (a
/// timezone-aware `datetime`, or RFC 3339 text as in the module's first version; `None`: the
/// clock). The store is text (`str` or UTF-8 `bytes`). `load_store()` gives the same facts as
/// objects.
#[pyfunction]
#[pyo3(signature = (store_yaml, env, now=None))]
fn list_store<'py>(
    py: Python<'py>,
    store_yaml: &Bound<'_, PyAny>,
    env: &str,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(store_yaml) = text_of(py, store_yaml, "the store text")? else {
        return Err(PyTypeError::new_err("list_store() takes the store's YAML as str or bytes"));
    };
    let now = match now {
        Some(v) if v.is_instance_of::<PyString>() => {
            let text: String = v.extract()?;
            Some(inforge_core::model::time::parse_rfc3339("now", &text).map_err(|e| core_to_py(py, e))?)
        }
        other => when(py, other)?,
    };
    let now = time_or_clock(now).map_err(|e| to_py(py, e))?;
    let run = || -> Result<inforge_core::views::listing::Listing, inforge_core::Error> {
        let store = inforge_core::model::store::Store::parse("pki.enc.yaml", &store_yaml)?;
        inforge_core::views::listing::listing(&store, env, now)
    };
    let listing = run().map_err(|e| core_to_py(py, e))?;
    json_doc(py, &listing)
}

/// Who holds what in a store: the `inforge pki custody --json` document, as a dict (the CI
/// recipient, the offline root's recipient or quorum (threshold, custodians), and the keys each
/// seals). Decrypts nothing and needs no identity.
#[pyfunction]
fn custody<'py>(py: Python<'py>, store_yaml: &str, env: &str) -> PyResult<Bound<'py, PyAny>> {
    let run = || -> Result<inforge_core::views::custody::CustodyView, inforge_core::Error> {
        inforge_core::ops::check_env_name(env)?;
        let store = inforge_core::model::store::Store::parse("pki.enc.yaml", store_yaml)?;
        Ok(inforge_core::views::custody::custody(&store, env, None))
    };
    let view = run().map_err(|e| core_to_py(py, e))?;
    json_doc(py, &view)
}

/// inforge for Python deploy scripts: validate an infra repo, renew the provider or mint a
/// service's leaf at release time, build trust bundles, inspect a PKI store, and apply the
/// regional boundary. Failures raise `inforge.Error` subclasses with `.code` and `.hint`.
#[pymodule]
fn inforge(m: &Bound<'_, PyModule>) -> PyResult<()> {
    inforge_host::backend::install();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<types::Diagnostic>()?;
    m.add_class::<types::Certificate>()?;
    m.add_class::<types::Revoked>()?;
    m.add_class::<types::Unreadable>()?;
    m.add_class::<types::Pki>()?;
    m.add_class::<types::Store>()?;
    m.add_class::<types::Leaf>()?;
    m.add_class::<types::ProviderInfo>()?;
    m.add_class::<types::LeafReport>()?;
    m.add_class::<types::RenewReport>()?;
    m.add_class::<types::Decision>()?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(renew, m)?)?;
    m.add_function(wrap_pyfunction!(status, m)?)?;
    m.add_function(wrap_pyfunction!(mint, m)?)?;
    m.add_function(wrap_pyfunction!(bundle, m)?)?;
    m.add_function(wrap_pyfunction!(load_store, m)?)?;
    m.add_function(wrap_pyfunction!(load_store_text, m)?)?;
    m.add_function(wrap_pyfunction!(authorize, m)?)?;
    m.add_function(wrap_pyfunction!(authorize_peer, m)?)?;
    m.add_function(wrap_pyfunction!(check_leaf, m)?)?;
    m.add_function(wrap_pyfunction!(trust_matrix, m)?)?;
    m.add_function(wrap_pyfunction!(review_stores, m)?)?;
    m.add_function(wrap_pyfunction!(list_store, m)?)?;
    m.add_function(wrap_pyfunction!(custody, m)?)?;
    Ok(())
}
