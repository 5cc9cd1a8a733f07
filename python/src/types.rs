//! The Python classes the functions return: read-only views of the core's typed results.
//! Times are timezone-aware `datetime`s in UTC.

use std::collections::BTreeMap;

use inforge_core::crypto::cert::Cert;
use pyo3::prelude::*;
use time::{OffsetDateTime, UtcDateTime};
use zeroize::Zeroizing;

fn utc(t: OffsetDateTime) -> UtcDateTime {
    t.to_utc()
}

/// A string as Python's `repr()` shows it (near enough for messages and reprs).
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A list of strings as Python's `repr()` shows it.
fn quote_list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    format!("[{}]", items.into_iter().map(|s| quote(s)).collect::<Vec<_>>().join(", "))
}

fn rfc3339(t: UtcDateTime) -> String {
    inforge_core::model::time::format_rfc3339(OffsetDateTime::from(t))
}

/// One finding of `validate`, as `inforge validate --json` reports it (the hint in Python's words).
#[pyclass(frozen, get_all, module = "inforge")]
#[derive(Clone)]
pub struct Diagnostic {
    /// Stable code, the CLI's (docs/validate.md lists them).
    pub code: String,
    /// "error" (fails validation) or "warning".
    pub severity: String,
    /// The repo-relative file the finding is about.
    pub file: String,
    /// Dotted path of the thing inside the file, e.g. `services.web`.
    pub subject: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, in Python's words.
    pub hint: String,
}

#[pymethods]
impl Diagnostic {
    fn __repr__(&self) -> String {
        format!(
            "Diagnostic(code={}, severity={}, subject={}, file={})",
            quote(&self.code),
            quote(&self.severity),
            quote(&self.subject),
            quote(&self.file)
        )
    }
}

impl Diagnostic {
    pub fn of(d: &inforge_core::views::validate::Diagnostic) -> Diagnostic {
        let severity = match d.severity {
            inforge_core::views::validate::Severity::Error => "error",
            inforge_core::views::validate::Severity::Warning => "warning",
        };
        Diagnostic {
            code: d.code.to_string(),
            severity: severity.into(),
            file: d.file.clone(),
            subject: d.subject.clone(),
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }
}

/// A certificate's details (public data only).
#[pyclass(frozen, get_all, module = "inforge")]
#[derive(Clone)]
pub struct Certificate {
    /// Subject distinguished name (RFC 4514 string).
    pub subject: String,
    /// Issuer distinguished name (RFC 4514 string).
    pub issuer: String,
    /// Serial number, lowercase hex.
    pub serial: String,
    /// SHA-256 fingerprint of the DER, lowercase hex (what a revocation records).
    pub fingerprint: String,
    /// Start of validity (timezone-aware, UTC).
    pub not_before: UtcDateTime,
    /// End of validity (timezone-aware, UTC).
    pub not_after: UtcDateTime,
    /// Key algorithm: "ecdsa-p256", "ecdsa-p384", "ed25519", or None for any other.
    pub algorithm: Option<String>,
    /// Whether basic constraints mark it as a CA.
    pub is_ca: bool,
    /// URI subject alternative names (a leaf's SPIFFE ID).
    pub uri_sans: Vec<String>,
    /// DNS subject alternative names.
    pub dns_sans: Vec<String>,
    /// The certificate as PEM.
    pub pem: String,
}

#[pymethods]
impl Certificate {
    fn __repr__(&self) -> String {
        format!("Certificate(subject={}, not_after={})", quote(&self.subject), rfc3339(self.not_after))
    }

    /// Whole days from `now` (a timezone-aware `datetime`; default: the clock, or
    /// INFORGE_NOW) to `not_after`, truncated toward zero (as `inforge pki ls` counts them;
    /// negative only once a full day has passed since expiry).
    #[pyo3(signature = (now=None))]
    fn days_left(&self, py: Python<'_>, now: Option<OffsetDateTime>) -> PyResult<i64> {
        let now = match now {
            Some(t) => t,
            None => inforge_host::clock::now().map_err(|e| crate::errors::core_to_py(py, e))?,
        };
        Ok((OffsetDateTime::from(self.not_after) - now).whole_days())
    }
}

impl Certificate {
    pub fn of(c: &Cert) -> Certificate {
        Certificate {
            subject: c.subject(),
            issuer: c.issuer(),
            serial: c.serial_hex(),
            fingerprint: c.fingerprint(),
            not_before: utc(c.not_before()),
            not_after: utc(c.not_after()),
            algorithm: c.key_algorithm().map(|a| a.name().to_string()),
            is_ca: c.basic_constraints().is_some_and(|(_, ca, _)| ca),
            uri_sans: c.uri_sans(),
            dns_sans: c.dns_sans(),
            pem: c.pem(),
        }
    }

    pub fn parse(pem: &str, location: &str) -> Result<Certificate, inforge_core::Error> {
        Ok(Certificate::of(&Cert::from_pem(pem, location)?))
    }
}

/// A certificate recorded as compromised: it never enters a bundle again.
#[pyclass(frozen, get_all, module = "inforge")]
#[derive(Clone)]
pub struct Revoked {
    /// SHA-256 fingerprint of the revoked certificate, lowercase hex.
    pub fingerprint: String,
    /// The scope it served.
    pub scope: String,
    /// Its subject.
    pub subject: String,
    /// When it was revoked (timezone-aware, UTC).
    pub revoked_at: UtcDateTime,
}

#[pymethods]
impl Revoked {
    fn __repr__(&self) -> String {
        format!("Revoked(scope={}, fingerprint={})", quote(&self.scope), quote(&self.fingerprint))
    }
}

/// A certificate of the store that does not parse: named, not fatal (the rest of the store
/// still loads, as in the npm package and the inspector).
#[pyclass(frozen, get_all, module = "inforge")]
#[derive(Clone)]
pub struct Unreadable {
    /// Where it sits in the store (dotted path).
    pub location: String,
    /// The parser's code (e.g. "cert-invalid").
    pub code: String,
    /// What is wrong.
    pub message: String,
}

#[pymethods]
impl Unreadable {
    fn __repr__(&self) -> String {
        format!("Unreadable(location={}, code={})", quote(&self.location), quote(&self.code))
    }
}

impl Unreadable {
    fn of(location: &str, e: &inforge_core::Error) -> Unreadable {
        use inforge_core::Coded;
        Unreadable { location: location.to_string(), code: e.code().to_string(), message: e.to_string() }
    }
}

/// One PKI of a store: its topology, tiers and certificates.
#[pyclass(frozen, get_all, module = "inforge")]
#[derive(Clone)]
pub struct Pki {
    /// The PKI's name.
    pub name: String,
    /// "two-tier" or "root-only".
    pub topology: String,
    /// Key algorithm of every tier: "ecdsa-p256", "ecdsa-p384" or "ed25519".
    pub algorithm: String,
    /// Tiers present, as `inforge pki ls` lists them: "root", then "intermediate:<scope>".
    pub tiers: Vec<String>,
    /// The root certificate.
    pub root: Certificate,
    /// Current intermediates by scope (two-tier only).
    pub intermediates: BTreeMap<String, Certificate>,
    /// During a root overlap: the retired root(s).
    pub previous_roots: Vec<Certificate>,
    /// Retired intermediates per scope, still trusted in bundles during an overlap.
    pub previous_intermediates: BTreeMap<String, Vec<Certificate>>,
    /// When the current root overlap started, or None.
    pub root_overlap_started: Option<UtcDateTime>,
    /// Certificates recorded as compromised.
    pub revoked: Vec<Revoked>,
    /// Certificates of this PKI that do not parse (left out of the fields above).
    pub unreadable: Vec<Unreadable>,
}

#[pymethods]
impl Pki {
    fn __repr__(&self) -> String {
        format!(
            "Pki(name={}, topology={}, tiers={})",
            quote(&self.name),
            quote(&self.topology),
            quote_list(&self.tiers)
        )
    }
}

/// A parsed PKI store (`resources/<env>/pki.enc.yaml`): public data only, nothing decrypted.
#[pyclass(frozen, get_all, module = "inforge")]
#[derive(Clone)]
pub struct Store {
    /// Store format version.
    pub version: u32,
    /// The offline operator's age recipient (public).
    pub root_recipient: String,
    /// The CI age recipient (public).
    pub recipient: String,
    /// PKIs by name.
    pub pkis: BTreeMap<String, Pki>,
    /// PKIs whose root certificate does not parse (left out of `pkis`).
    pub unreadable: Vec<Unreadable>,
}

#[pymethods]
impl Store {
    fn __repr__(&self) -> String {
        format!("Store(version={}, pkis={})", self.version, quote_list(self.pkis.keys()))
    }
}

/// One bad certificate is named and left out; the rest of the store still loads.
fn parse_or_note(unreadable: &mut Vec<Unreadable>, pem: &str, location: String) -> Option<Certificate> {
    match Certificate::parse(pem, &location) {
        Ok(c) => Some(c),
        Err(e) => {
            unreadable.push(Unreadable::of(&location, &e));
            None
        }
    }
}

impl Store {
    pub fn of(store: &inforge_core::model::store::Store) -> Result<Store, inforge_core::Error> {
        let time = |field: &str, v: &str| inforge_core::model::time::parse_rfc3339(field, v).map(utc);
        let mut pkis = BTreeMap::new();
        let mut unreadable_pkis = Vec::new();
        for (name, p) in &store.pkis {
            let at = format!("pkis.{name}");
            let mut unreadable = Vec::new();
            let Some(root) = parse_or_note(&mut unreadable, p.root.cert.as_str(), format!("{at}.root.cert")) else {
                unreadable_pkis.append(&mut unreadable);
                continue;
            };
            let mut parse = |pem: &str, loc: String| parse_or_note(&mut unreadable, pem, loc);
            let mut tiers = vec!["root".to_string()];
            let mut intermediates = BTreeMap::new();
            for (scope, e) in &p.intermediates {
                tiers.push(format!("intermediate:{scope}"));
                if let Some(c) = parse(e.cert.as_str(), format!("{at}.intermediates.{scope}.cert")) {
                    intermediates.insert(scope.clone(), c);
                }
            }
            let previous_roots = p
                .previous_roots
                .iter()
                .enumerate()
                .filter_map(|(i, e)| parse(e.cert.as_str(), format!("{at}.previousRoots[{i}].cert")))
                .collect::<Vec<_>>();
            let mut previous_intermediates = BTreeMap::new();
            for (scope, certs) in &p.previous_intermediates {
                let v = certs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, b)| parse(b.as_str(), format!("{at}.previousIntermediates.{scope}[{i}]")))
                    .collect::<Vec<_>>();
                previous_intermediates.insert(scope.clone(), v);
            }
            let revoked = p
                .revoked
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    Ok(Revoked {
                        fingerprint: r.fingerprint.clone(),
                        scope: r.scope.clone(),
                        subject: r.subject.clone(),
                        revoked_at: time(&format!("{at}.revoked[{i}].revokedAt"), &r.revoked_at)?,
                    })
                })
                .collect::<Result<Vec<_>, inforge_core::Error>>()?;
            let root_overlap_started =
                p.root_overlap_started.as_deref().map(|t| time(&format!("{at}.rootOverlapStarted"), t)).transpose()?;
            pkis.insert(
                name.clone(),
                Pki {
                    name: name.clone(),
                    topology: p.topology.name().into(),
                    algorithm: p.algorithm.name().into(),
                    tiers,
                    root,
                    intermediates,
                    previous_roots,
                    previous_intermediates,
                    root_overlap_started,
                    revoked,
                    unreadable,
                },
            );
        }
        Ok(Store {
            version: store.version,
            root_recipient: store.root_recipient.clone(),
            recipient: store.recipient.clone(),
            pkis,
            unreadable: unreadable_pkis,
        })
    }
}

/// A leaf minted in memory by `mint()`: what a deploy script delivers itself.
/// `key_pem` is secret: it is never part of `repr()`.
#[pyclass(frozen, module = "inforge")]
pub struct Leaf {
    /// The service.
    #[pyo3(get)]
    pub service: String,
    /// The mesh (PKI) that issued it.
    #[pyo3(get)]
    pub pki: String,
    /// The scope: "global" or a region.
    #[pyo3(get)]
    pub scope: String,
    /// The SPIFFE ID: `spiffe://<baseDomain>/<env>/<scope>/<service>`.
    #[pyo3(get)]
    pub spiffe_id: String,
    /// Serial number, lowercase hex.
    #[pyo3(get)]
    pub serial: String,
    /// Start of validity (timezone-aware, UTC).
    #[pyo3(get)]
    pub not_before: UtcDateTime,
    /// End of validity (timezone-aware, UTC).
    #[pyo3(get)]
    pub not_after: UtcDateTime,
    /// The intermediate's end of life cut the leaf short of its lifetime (`mint` also warns).
    #[pyo3(get)]
    pub capped: bool,
    /// `cert.pem`: the leaf, then its intermediate (the provider's `cert.pem`).
    #[pyo3(get)]
    pub cert_pem: String,
    /// `bundle.pem`: the scope's trust bundle (the provider's `bundle.pem`).
    #[pyo3(get)]
    pub bundle_pem: String,
    /// `bundle.spiffe.json`: the bundle as a SPIFFE bundle JWKS (the provider's file).
    #[pyo3(get)]
    pub spiffe_bundle_json: String,
    /// `crl.pem`: the CRLs of the intermediates the bundle trusts (the provider's `crl.pem`).
    #[pyo3(get)]
    pub crl_pem: String,
    /// The leaf certificate's details.
    #[pyo3(get)]
    pub certificate: Certificate,
    key_pem: Zeroizing<String>,
}

#[pymethods]
impl Leaf {
    /// `key.pem`: the leaf's private key, PKCS#8 PEM. Secret: write it with mode 0600.
    #[getter]
    fn key_pem(&self) -> &str {
        &self.key_pem
    }

    fn __repr__(&self) -> String {
        format!("Leaf(spiffe_id={}, not_after={})", quote(&self.spiffe_id), rfc3339(self.not_after))
    }
}

impl Leaf {
    pub fn of(m: inforge_core::mesh::Minted) -> Result<Leaf, inforge_core::Error> {
        let leaf = m.leaf()?;
        Ok(Leaf {
            service: m.target.service.clone(),
            pki: m.target.pki.clone(),
            scope: m.target.scope.clone(),
            spiffe_id: m.target.spiffe_id.clone(),
            serial: m.issued.serial_hex.clone(),
            not_before: utc(m.issued.not_before),
            not_after: utc(m.issued.not_after),
            capped: m.issued.capped,
            certificate: Certificate::of(&leaf),
            cert_pem: m.cert_pem,
            bundle_pem: m.bundle_pem.to_string(),
            spiffe_bundle_json: m.spiffe_json.to_string(),
            crl_pem: m.crl_pem.to_string(),
            key_pem: m.key_pem,
        })
    }
}

/// Where a renew wrote.
#[pyclass(frozen, get_all, module = "inforge")]
#[derive(Clone)]
pub struct ProviderInfo {
    /// "dir" (or "etcd").
    pub kind: String,
    /// The provider's path (or prefix).
    pub path: String,
}

#[pymethods]
impl ProviderInfo {
    fn __repr__(&self) -> String {
        format!("ProviderInfo(kind={}, path={})", quote(&self.kind), quote(&self.path))
    }
}

/// One leaf a renew wrote to the provider.
#[pyclass(frozen, get_all, module = "inforge")]
#[derive(Clone)]
pub struct LeafReport {
    /// The service.
    pub service: String,
    /// The mesh (PKI).
    pub pki: String,
    /// The scope.
    pub scope: String,
    /// The SPIFFE ID.
    pub spiffe_id: String,
    /// Serial number, lowercase hex.
    pub serial: String,
    /// End of validity (timezone-aware, UTC).
    pub not_after: UtcDateTime,
    /// The intermediate's end of life cut the leaf short of its lifetime (`renew` also warns).
    pub capped: bool,
    /// The directory the provider put `cert.pem`, `key.pem` and `bundle.pem` in.
    pub dir: String,
}

#[pymethods]
impl LeafReport {
    fn __repr__(&self) -> String {
        format!("LeafReport(spiffe_id={}, dir={})", quote(&self.spiffe_id), quote(&self.dir))
    }
}

/// What `renew()` wrote: the same facts as `inforge pki renew --json`.
#[pyclass(frozen, module = "inforge")]
#[derive(Clone)]
pub struct RenewReport {
    /// The environment.
    #[pyo3(get)]
    pub env: String,
    /// The provider written to.
    #[pyo3(get)]
    pub provider: ProviderInfo,
    /// Every leaf, in service then scope order.
    #[pyo3(get)]
    pub leaves: Vec<LeafReport>,
    /// Number of distinct services.
    #[pyo3(get)]
    pub services: usize,
    /// Wall time of the renew in milliseconds.
    #[pyo3(get)]
    pub elapsed_ms: u64,
    json: String,
}

#[pymethods]
impl RenewReport {
    /// The report as the JSON document `inforge pki renew --json` prints (docs/json.md).
    fn to_json(&self) -> String {
        self.json.clone()
    }

    fn __repr__(&self) -> String {
        format!("RenewReport(env={}, leaves={}, services={})", quote(&self.env), self.leaves.len(), self.services)
    }
}

impl RenewReport {
    pub fn of(r: &inforge_core::ops::RenewReport) -> RenewReport {
        let leaves = r
            .leaves
            .iter()
            .map(|l| LeafReport {
                service: l.service.clone(),
                pki: l.pki.clone(),
                scope: l.scope.clone(),
                spiffe_id: l.spiffe_id.clone(),
                serial: l.serial.clone(),
                not_after: utc(l.not_after_time),
                capped: l.capped,
                dir: l.dir.clone(),
            })
            .collect();
        RenewReport {
            env: r.env.clone(),
            provider: ProviderInfo { kind: r.provider.kind.clone(), path: r.provider.path.clone() },
            leaves,
            services: r.services,
            elapsed_ms: r.elapsed_ms,
            json: serde_json::to_string_pretty(r).unwrap_or_default(),
        }
    }
}

/// The regional boundary's answer for one call: `allowed`, and why.
#[pyclass(frozen, get_all, module = "inforge")]
#[derive(Clone)]
pub struct Decision {
    /// Whether the callee may accept the call.
    pub allowed: bool,
    /// Why (for a refusal: which rule).
    pub reason: String,
    /// The caller's SPIFFE ID as the mesh vouches for it (`authorize_peer`: None when the
    /// chain's leaf claims a scope its issuer does not serve).
    pub caller: Option<String>,
}

#[pymethods]
impl Decision {
    fn __repr__(&self) -> String {
        format!("Decision(allowed={}, reason={})", if self.allowed { "True" } else { "False" }, quote(&self.reason))
    }
}
