//! Credential-free validation: config ↔ store consistency, chains, profiles and expiry
//! horizons, as structured [`Diagnostic`]s. No identity is read; only public certificates.
//!
//! This is a library API so other toolchains can embed it:
//!
//! ```
//! let report = inforge_core::validate::validate_texts(
//!     "baseDomain: w.example\nenvironments: {prd: {provider: {kind: dir, path: p}}}\n",
//!     None, None, "prd", time::OffsetDateTime::UNIX_EPOCH);
//! assert!(report.is_ok());
//! ```

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use time::{Duration, OffsetDateTime};
use x509_cert::ext::pkix::KeyUsages;

use crate::cert::Cert;
use crate::config::{Project, ScopeKind};
use crate::profile::{CaTier, LEAF_DAYS};
use crate::store::{store_path, Pki, Store, Topology};
use crate::Coded;

/// How bad a finding is. Errors fail `validate` (exit 1); warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Breaks the mesh or the contract.
    Error,
    /// Worth fixing; nothing breaks yet.
    Warning,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    /// Stable code (docs/validate.md lists them).
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// File the finding is about (repo-relative).
    pub file: String,
    /// Dotted path of the thing inside the file, e.g. `services.web` or
    /// `pkis.wardnet-mesh.intermediates.global`.
    pub subject: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// All findings for one environment.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Environment.
    pub env: String,
    /// No errors (warnings allowed).
    pub ok: bool,
    /// Error count.
    pub errors: usize,
    /// Warning count.
    pub warnings: usize,
    /// Findings in check order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// Whether there is no error.
    pub fn is_ok(&self) -> bool {
        self.ok
    }

    /// Codes of all findings (handy in tests).
    pub fn codes(&self) -> Vec<&'static str> {
        self.diagnostics.iter().map(|d| d.code).collect()
    }

    /// The report as SARIF 2.1.0, for code-scanning tools.
    pub fn to_sarif(&self) -> serde_json::Value {
        let rules: BTreeSet<&str> = self.diagnostics.iter().map(|d| d.code).collect();
        let results: Vec<serde_json::Value> = self
            .diagnostics
            .iter()
            .map(|d| {
                serde_json::json!({
                    "ruleId": d.code,
                    "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                    "message": { "text": format!("{}: {} (hint: {})", d.subject, d.message, d.hint) },
                    "locations": [{
                        "physicalLocation": { "artifactLocation": { "uri": d.file } },
                        "logicalLocations": [{ "fullyQualifiedName": d.subject }]
                    }]
                })
            })
            .collect();
        serde_json::json!({
            "version": "2.1.0",
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [{
                "tool": { "driver": {
                    "name": "inforge",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules.iter().map(|r| serde_json::json!({ "id": r })).collect::<Vec<_>>()
                }},
                "results": results
            }]
        })
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            let sev = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            writeln!(f, "{sev}[{}] {} ({}): {}", d.code, d.subject, d.file, d.message)?;
            writeln!(f, "  hint: {}", d.hint)?;
        }
        writeln!(
            f,
            "validate {}: {} error(s), {} warning(s){}",
            self.env,
            self.errors,
            self.warnings,
            if self.ok { " — ok" } else { "" }
        )
    }
}

struct Out {
    env: String,
    diags: Vec<Diagnostic>,
}

impl Out {
    fn push(&mut self, sev: Severity, code: &'static str, file: &str, subject: &str, message: String, hint: String) {
        self.diags.push(Diagnostic { code, severity: sev, file: file.into(), subject: subject.into(), message, hint });
    }
    fn err(&mut self, code: &'static str, file: &str, subject: &str, message: String, hint: String) {
        self.push(Severity::Error, code, file, subject, message, hint)
    }
    fn warn(&mut self, code: &'static str, file: &str, subject: &str, message: String, hint: String) {
        self.push(Severity::Warning, code, file, subject, message, hint)
    }
    fn finish(self) -> Report {
        let errors = self.diags.iter().filter(|d| d.severity == Severity::Error).count();
        let warnings = self.diags.len() - errors;
        Report { env: self.env, ok: errors == 0, errors, warnings, diagnostics: self.diags }
    }
}

/// Validates from file contents: `inforge.yaml`, `regions.yaml` (if present) and the store
/// (if present). Parse failures become diagnostics too, so the report is always produced.
pub fn validate_texts(
    inforge_yaml: &str,
    regions_yaml: Option<&str>,
    store_yaml: Option<&str>,
    env: &str,
    now: OffsetDateTime,
) -> Report {
    let mut out = Out { env: env.to_string(), diags: Vec::new() };
    let project = match Project::parse_schema(inforge_yaml, regions_yaml) {
        Ok(p) => p,
        Err(e) => {
            let file = if e.to_string().starts_with("regions.yaml") { "regions.yaml" } else { "inforge.yaml" };
            out.err(e.code(), file, "(file)", e.to_string(), e.hint());
            return out.finish();
        }
    };
    let spath = store_path(env);
    let store = match store_yaml.map(|t| Store::parse(&spath, t)) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            out.err(e.code(), &spath, "(file)", e.to_string(), e.hint());
            check_config(&mut out, &project, None, env);
            // The store exists; it is unreadable, which was just reported.
            out.diags.retain(|d| d.code != "store-missing");
            return out.finish();
        }
    };
    validate_into(&mut out, &project, store.as_ref(), env, now);
    out.finish()
}

/// Validates a loaded project and (optional) store.
pub fn validate(project: &Project, store: Option<&Store>, env: &str, now: OffsetDateTime) -> Report {
    let mut out = Out { env: env.to_string(), diags: Vec::new() };
    validate_into(&mut out, project, store, env, now);
    out.finish()
}

fn validate_into(out: &mut Out, project: &Project, store: Option<&Store>, env: &str, now: OffsetDateTime) {
    check_config(out, project, store, env);
    if let Some(store) = store {
        for (name, pki) in &store.pkis {
            check_pki(out, project, &store_path(env), name, pki, now);
        }
    }
}

fn check_config(out: &mut Out, project: &Project, store: Option<&Store>, env: &str) {
    for (file, e) in project.name_problems() {
        out.err(e.code(), &file, "(names)", e.to_string(), e.hint());
    }
    if let Err(e) = crate::names::check_segment("environment", env) {
        out.err(e.code(), "inforge.yaml", "environments", e.to_string(), e.hint());
    } else if let Err(e) = project.environment(env) {
        out.err(e.code(), "inforge.yaml", "environments", e.to_string(), e.hint());
    }
    let spath = store_path(env);
    let mut needs_store: Vec<&str> = Vec::new();
    for (svc_name, svc) in &project.config.services {
        let subject = format!("services.{svc_name}");
        let Some(pki_name) = &svc.pki else { continue };
        let Some(kind) = svc.scope else {
            out.err(
                "service-scope-missing",
                "inforge.yaml",
                &subject,
                format!("service {svc_name:?} has `pki:` but no `scope:`"),
                format!("add `scope: global` or `scope: regional` to services.{svc_name}"),
            );
            continue;
        };
        if kind == ScopeKind::Global && svc.regions.is_some() {
            out.warn(
                "service-regions-ignored",
                "inforge.yaml",
                &subject,
                "`regions:` is ignored for a global service".into(),
                "remove `regions:` or make the service `scope: regional`".into(),
            );
        }
        let scopes = project.service_scopes(svc);
        if kind == ScopeKind::Regional && scopes.is_empty() {
            out.err(
                "service-no-regions",
                "inforge.yaml",
                &subject,
                format!("regional service {svc_name:?} resolves to no region, so it would get no leaf"),
                "add regions to regions.yaml (or to the service's `regions:`)".into(),
            );
        }
        let mut known_scopes = Vec::new();
        for s in &scopes {
            if kind == ScopeKind::Regional && !project.regions.contains(s) {
                out.err(
                    "service-region-unknown",
                    "inforge.yaml",
                    &subject,
                    format!("region {s:?} is not in regions.yaml"),
                    "add the region to regions.yaml, or remove it from the service".into(),
                );
            } else {
                known_scopes.push(s.clone());
            }
        }
        let Some(store) = store else {
            needs_store.push(svc_name.as_str());
            continue;
        };
        match store.pkis.get(pki_name) {
            None => out.err(
                "service-pki-missing",
                "inforge.yaml",
                &subject,
                format!("`pki: {pki_name}` names no PKI in {spath}"),
                format!("create it with `inforge pki add {env} {pki_name} --topology two-tier`, or fix the name"),
            ),
            Some(p) if p.topology == Topology::RootOnly => out.err(
                "service-pki-root-only",
                "inforge.yaml",
                &subject,
                format!("`pki: {pki_name}` is a root-only PKI; meshes need a two-tier PKI"),
                "point the service at a two-tier mesh; root-only roots belong to online issuers".into(),
            ),
            Some(p) => {
                for s in known_scopes {
                    if !p.intermediates.contains_key(&s) {
                        out.err(
                            "service-scope-no-intermediate",
                            "inforge.yaml",
                            &subject,
                            format!("{pki_name:?} has no intermediate for scope {s:?}"),
                            format!(
                                "mint it offline: INFORGE_PKI_ROOT_KEY=… inforge pki intermediate {env} {pki_name} {s}"
                            ),
                        );
                    }
                }
            }
        }
    }
    if !needs_store.is_empty() {
        out.err(
            "store-missing",
            &spath,
            "(file)",
            format!("environment {env:?} has no PKI store, but services join a mesh: {}", needs_store.join(", ")),
            format!("run `inforge pki init {env}`, then `inforge pki add {env} <mesh> --topology two-tier` and its intermediates"),
        );
    }
}

fn check_profile(out: &mut Out, file: &str, at: &str, cert: &Cert, tier: CaTier, pki: &Pki) {
    let want = tier.path_len();
    match cert.basic_constraints() {
        Some((true, true, Some(n))) if n == want => {}
        other => out.err(
            "profile-violation",
            file,
            at,
            format!("basic constraints are {other:?}; this tier needs critical CA:true with pathLen {want}"),
            "re-mint this tier with inforge (rotate it); the certificate was not issued by inforge's profile".into(),
        ),
    }
    let ku_ok = matches!(cert.key_usage(), Some((true, _)))
        && cert.has_key_usage(KeyUsages::KeyCertSign)
        && cert.has_key_usage(KeyUsages::CRLSign);
    if !ku_ok {
        out.err(
            "profile-violation",
            file,
            at,
            "key usage must be critical and include keyCertSign and cRLSign".into(),
            "re-mint this tier with inforge (rotate it)".into(),
        );
    }
    if cert.key_algorithm() != Some(pki.algorithm) {
        out.err(
            "profile-violation",
            file,
            at,
            format!("key algorithm {:?} differs from the PKI's {}", cert.key_algorithm(), pki.algorithm),
            "every tier of a PKI uses the PKI's algorithm; re-mint this tier".into(),
        );
    }
}

fn check_expiry(out: &mut Out, file: &str, at: &str, cert: &Cert, now: OffsetDateTime, previous: bool) {
    if cert.not_after() < now {
        let (sev, code) =
            if previous { (Severity::Warning, "previous-expired") } else { (Severity::Error, "cert-expired") };
        out.push(
            sev,
            code,
            file,
            at,
            format!("expired at {}", crate::time::format_rfc3339(cert.not_after())),
            if previous {
                "an expired previous certificate trusts nothing; it is dropped at the next rotation".into()
            } else {
                "rotate this tier now (docs/runbooks/)".into()
            },
        );
    } else if cert.not_before() > now {
        out.warn(
            "cert-not-yet-valid",
            file,
            at,
            format!("not valid before {}", crate::time::format_rfc3339(cert.not_before())),
            "check the clock (or INFORGE_NOW) of the machine that minted it".into(),
        );
    }
}

fn check_pki(out: &mut Out, project: &Project, file: &str, name: &str, pki: &Pki, now: OffsetDateTime) {
    let at = format!("pkis.{name}");
    let parse = |out: &mut Out, loc: &str, pem: &str| match Cert::from_pem(pem, loc) {
        Ok(c) => Some(c),
        Err(e) => {
            out.err(e.code(), file, loc, e.to_string(), e.hint());
            None
        }
    };
    let Some(root) = parse(out, &format!("{at}.root.cert"), pki.root.cert.as_str()) else {
        return;
    };
    let root_tier = match pki.topology {
        Topology::TwoTier => CaTier::TwoTierRoot,
        Topology::RootOnly => CaTier::RootOnly,
    };
    check_profile(out, file, &format!("{at}.root"), &root, root_tier, pki);
    check_expiry(out, file, &format!("{at}.root"), &root, now, false);
    if root.verify_signed_by(&root, "root").is_err() {
        out.err(
            "root-not-self-signed",
            file,
            &format!("{at}.root"),
            "the root certificate is not self-signed".into(),
            "restore the store from git; roots are only minted by `inforge pki add` / `rotate --root`".into(),
        );
    }
    if root.not_after() < now + Duration::days(365) && root.not_after() >= now {
        out.warn(
            "root-expiring",
            file,
            &format!("{at}.root"),
            format!("the root expires within a year ({})", crate::time::format_rfc3339(root.not_after())),
            format!("start a dual-root overlap: inforge pki rotate <env> {name} --root"),
        );
    }
    if let (false, Ok(Some(allowed))) =
        (pki.previous_roots.is_empty(), crate::rotate::finalize_allowed_at_pki(pki, name))
    {
        if now >= allowed {
            out.warn(
                "root-overlap-finalizable",
                file,
                &format!("{at}.previousRoots"),
                format!("the root overlap has run its minimum (since {})", crate::time::format_rfc3339(allowed)),
                format!("once root-anchoring consumers trust the new root: inforge pki rotate <env> {name} --root --finalize"),
            );
        }
    }
    let mut roots = vec![root.clone()];
    for (i, e) in pki.previous_roots.iter().enumerate() {
        if let Some(c) = parse(out, &format!("{at}.previousRoots[{i}].cert"), e.cert.as_str()) {
            check_expiry(out, file, &format!("{at}.previousRoots[{i}]"), &c, now, true);
            roots.push(c);
        }
    }
    let revoked: BTreeSet<&str> = pki.revoked.iter().map(|r| r.fingerprint.as_str()).collect();
    for (scope, e) in &pki.intermediates {
        let iat = format!("{at}.intermediates.{scope}");
        let Some(c) = parse(out, &format!("{iat}.cert"), e.cert.as_str()) else {
            continue;
        };
        if c.verify_signed_by(&root, &iat).is_err() {
            out.err(
                "intermediate-signature",
                file,
                &iat,
                format!("the intermediate does not verify against the current root of {name:?}"),
                format!("re-mint it from the cold root: inforge pki rotate <env> {name} --intermediate {scope}"),
            );
        }
        check_profile(out, file, &iat, &c, CaTier::Intermediate, pki);
        check_expiry(out, file, &iat, &c, now, false);
        if c.not_after() >= now && c.not_after() < now + Duration::days(LEAF_DAYS) {
            out.err(
                "intermediate-expiring",
                file,
                &iat,
                format!(
                    "expires {} — within the {LEAF_DAYS}-day leaf TTL, so new leaves would be cut short",
                    crate::time::format_rfc3339(c.not_after())
                ),
                format!("roll it: inforge pki rotate <env> {name} --intermediate {scope}"),
            );
        }
        if root.not_after() < c.not_after() {
            out.err(
                "root-expires-first",
                file,
                &iat,
                "the root expires before this intermediate, cutting its chain short".into(),
                format!("rotate the root: inforge pki rotate <env> {name} --root"),
            );
        }
        if revoked.contains(c.fingerprint().as_str()) {
            out.err(
                "revoked-in-use",
                file,
                &iat,
                "this intermediate is recorded as revoked but is still current".into(),
                format!("replace it: inforge pki recover-intermediate <env> {name} {scope}"),
            );
        }
        if !project.is_scope(scope) {
            out.warn(
                "intermediate-scope-inactive",
                file,
                &iat,
                format!("scope {scope:?} is neither global nor in regions.yaml"),
                "add the region back to regions.yaml, or leave it: no bundle includes it".into(),
            );
        }
    }
    for (scope, certs) in &pki.previous_intermediates {
        for (i, b) in certs.iter().enumerate() {
            let pat = format!("{at}.previousIntermediates.{scope}[{i}]");
            let Some(c) = parse(out, &pat, b.as_str()) else {
                continue;
            };
            if revoked.contains(c.fingerprint().as_str()) {
                out.err(
                    "revoked-in-use",
                    file,
                    &pat,
                    "a revoked intermediate is still listed as previous (it would be trusted)".into(),
                    "remove it: restore the store from the recover-intermediate commit".into(),
                );
            }
            check_expiry(out, file, &pat, &c, now, true);
            if !roots.iter().any(|r| c.verify_signed_by(r, &pat).is_ok()) {
                out.warn(
                    "intermediate-signature",
                    file,
                    &pat,
                    "this previous intermediate verifies against neither the current nor a previous root".into(),
                    "it still anchors leaves in bundles, but root-anchoring consumers cannot chain it".into(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_only_checks_without_a_store() {
        let cfg = "baseDomain: w.example\nenvironments: {prd: {provider: {kind: dir, path: p}}}\nservices:\n  api: {pki: mesh, scope: global}\n  web: {pki: mesh, scope: regional, regions: [mars]}\n  x: {pki: mesh}\n";
        let r = validate_texts(cfg, Some("regions: [us-east-1]\n"), None, "prd", OffsetDateTime::UNIX_EPOCH);
        assert!(!r.ok);
        let codes = r.codes();
        assert!(codes.contains(&"store-missing"), "{codes:?}");
        assert!(codes.contains(&"service-region-unknown"), "{codes:?}");
        assert!(codes.contains(&"service-scope-missing"), "{codes:?}");
        let sarif = r.to_sarif();
        assert_eq!(sarif["version"], "2.1.0");
        assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), r.diagnostics.len());
    }

    #[test]
    fn unparseable_inputs_become_diagnostics() {
        let r = validate_texts("baseDomain: [", None, None, "prd", OffsetDateTime::UNIX_EPOCH);
        assert_eq!(r.codes(), vec!["config-invalid"]);
        let cfg = "baseDomain: w.example\nenvironments: {prd: {provider: {kind: dir, path: p}}}\n";
        let r = validate_texts(cfg, None, Some("nope: 1\n"), "prd", OffsetDateTime::UNIX_EPOCH);
        assert_eq!(r.codes(), vec!["store-invalid"]);
    }
}
