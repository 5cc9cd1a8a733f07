//! Credential-free validation: config ↔ store consistency, chains, profiles and expiry
//! horizons, as structured [`Diagnostic`]s. No identity is read; only public certificates.
//!
//! This is a library API so other toolchains can embed it:
//!
//! ```
//! let report = inforge_core::views::validate::validate_texts(
//!     "baseDomain: w.example\nenvironments: {prd: {provider: {kind: dir, path: p}}}\n",
//!     None, None, "prd", time::OffsetDateTime::UNIX_EPOCH);
//! assert!(report.is_ok());
//! ```

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::crypto::cert::Cert;
use crate::crypto::profile::LEAF_DAYS;
use crate::error::{Op, Plain, Remedy, Step, Wording};
use crate::model::config::{Project, ScopeKind};
use crate::model::store::{store_path, Pki, Store};
use crate::remedy;
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
    /// How to fix it: frontend-neutral words until a frontend rewords it ([`Report::reword`]).
    pub hint: String,
    /// How to fix it, structured (each frontend words it).
    #[serde(skip)]
    pub remedy: Remedy,
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

    /// Re-renders every hint in a frontend's words.
    pub fn reword(&mut self, w: &dyn Wording) {
        for d in &mut self.diagnostics {
            d.hint = d.remedy.render(w);
        }
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
    fn push(
        &mut self,
        sev: Severity,
        code: &'static str,
        file: &str,
        subject: &str,
        message: String,
        remedy: impl Into<Remedy>,
    ) {
        let remedy = remedy.into().with_env(&self.env);
        // Frontend-neutral until a frontend rewords the report (`Report::reword`).
        let hint = remedy.render(&Plain);
        self.diags.push(Diagnostic {
            code,
            severity: sev,
            file: file.into(),
            subject: subject.into(),
            message,
            hint,
            remedy,
        });
    }
    fn err(&mut self, code: &'static str, file: &str, subject: &str, message: String, remedy: impl Into<Remedy>) {
        self.push(Severity::Error, code, file, subject, message, remedy)
    }
    fn warn(&mut self, code: &'static str, file: &str, subject: &str, message: String, remedy: impl Into<Remedy>) {
        self.push(Severity::Warning, code, file, subject, message, remedy)
    }
    /// A core error as a finding: same code, message and remedy as the operation that would
    /// fail on it.
    fn error(&mut self, file: &str, subject: &str, e: &crate::Error) {
        self.push(Severity::Error, e.code(), file, subject, e.to_string(), e.remedy());
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
            out.err(e.code(), file, "(file)", e.to_string(), e.remedy());
            return out.finish();
        }
    };
    let spath = store_path(env);
    let store = match store_yaml.map(|t| Store::parse(&spath, t)) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            out.err(e.code(), &spath, "(file)", e.to_string(), e.remedy());
            check_config(&mut out, &project, None, env);
            // The store exists; it is unreadable, which was just reported.
            out.diags.retain(|d| d.code != "store-missing");
            return out.finish();
        }
    };
    validate_into(&mut out, &project, store.as_ref(), env, now);
    out.finish()
}

/// [`validate_texts`], plus the secret store's text (if present): its `recipient:` must be the
/// store's (`recipient-mismatch`), or an unparseable one is reported.
pub fn validate_texts_with_secrets(
    inforge_yaml: &str,
    regions_yaml: Option<&str>,
    store_yaml: Option<&str>,
    secrets_yaml: Option<&str>,
    env: &str,
    now: OffsetDateTime,
) -> Report {
    let mut report = validate_texts(inforge_yaml, regions_yaml, store_yaml, env, now);
    let (Some(secrets), Ok(store)) = (secrets_yaml, store_yaml.map(|t| Store::parse(&store_path(env), t)).transpose())
    else {
        return report;
    };
    let file = format!("resources/{env}/secrets.enc.yaml");
    let mut out = Out { env: env.to_string(), diags: std::mem::take(&mut report.diagnostics) };
    match crate::model::config::secret_store_recipient(&file, secrets) {
        Err(e) => out.error(&file, "recipient", &e),
        Ok(Some(r)) => {
            if let Some(store) = store.filter(|s| !crate::crypto::custody::same_recipient(&s.recipient, &r)) {
                let e: crate::Error =
                    crate::error::CustodyError::RecipientMismatch { store: store.recipient.clone(), secret_store: r }
                        .into();
                out.error(&store_path(env), "recipient", &e);
            }
        }
        Ok(None) => {}
    }
    out.finish()
}

/// Validates a loaded project and (optional) store.
pub fn validate(project: &Project, store: Option<&Store>, env: &str, now: OffsetDateTime) -> Report {
    let mut out = Out { env: env.to_string(), diags: Vec::new() };
    validate_into(&mut out, project, store, env, now);
    out.finish()
}

fn validate_into(out: &mut Out, project: &Project, store: Option<&Store>, env: &str, now: OffsetDateTime) {
    // An invalid or undeclared environment has no store to speak of: say that alone rather
    // than suggesting commands with the bad name in them.
    if !check_config(out, project, store, env) {
        return;
    }
    if let Some(store) = store {
        if let Err(e) = crate::pki::tiers::check_custodians(store) {
            out.error(&store_path(env), "rootRecipient", &e);
        }
        for (name, pki) in &store.pkis {
            check_pki(out, project, env, &store_path(env), name, pki, now);
        }
    }
}

/// Config checks; false when the environment itself is invalid or undeclared.
fn check_config(out: &mut Out, project: &Project, store: Option<&Store>, env: &str) -> bool {
    for (file, e) in project.name_problems() {
        out.err(e.code(), &file, "(names)", e.to_string(), e.remedy());
    }
    let declared = crate::model::names::check_segment("environment", env)
        .map_err(crate::Error::from)
        .and_then(|()| project.environment(env).map(|_| ()).map_err(crate::Error::from));
    if let Err(e) = declared {
        out.error("inforge.yaml", "environments", &e);
        return false;
    }
    if let Ok(environment) = project.environment(env) {
        if let Err(e) = environment.provider.check(env) {
            out.error("inforge.yaml", &format!("environments.{env}.provider"), &e.into());
        }
    }
    for d in crate::mesh::readiness(project, store, env, &crate::mesh::Filter::default()) {
        let (file, subject) = match &d.service {
            Some(svc) => ("inforge.yaml".to_string(), format!("services.{svc}")),
            None => (store_path(env), "(file)".to_string()),
        };
        out.error(&file, &subject, &d.error);
    }
    for (svc_name, svc) in &project.config.services {
        if svc.pki.is_some() && svc.scope == Some(ScopeKind::Global) && svc.regions.is_some() {
            out.warn(
                "service-regions-ignored",
                "inforge.yaml",
                &format!("services.{svc_name}"),
                "`regions:` is ignored for a global service".into(),
                "remove `regions:` or make the service `scope: regional`",
            );
        }
    }
    true
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
            format!("expired at {}", crate::model::time::format_rfc3339(cert.not_after())),
            if previous {
                "an expired previous certificate trusts nothing; it is dropped at the next rotation"
            } else {
                "rotate this tier now (docs/runbooks/)"
            },
        );
    } else if cert.not_before() > now {
        out.warn(
            "cert-not-yet-valid",
            file,
            at,
            format!("not valid before {}", crate::model::time::format_rfc3339(cert.not_before())),
            remedy!["check the clock (or ", crate::error::Opt::Now, ") of the machine that minted it"],
        );
    }
}

fn check_pki(out: &mut Out, project: &Project, env: &str, file: &str, name: &str, pki: &Pki, now: OffsetDateTime) {
    let at = format!("pkis.{name}");
    let parse = |out: &mut Out, loc: &str, pem: &str| match Cert::from_pem(pem, loc) {
        Ok(c) => Some(c),
        Err(e) => {
            out.err(e.code(), file, loc, e.to_string(), e.remedy());
            None
        }
    };
    let Some(root) = parse(out, &format!("{at}.root.cert"), pki.root.cert.as_str()) else {
        return;
    };
    for e in crate::pki::tiers::check_root(pki, name, &root) {
        out.error(file, &format!("{at}.root"), &e);
    }
    check_expiry(out, file, &format!("{at}.root"), &root, now, false);
    if root.not_after() < now + Duration::days(365) && root.not_after() >= now {
        out.warn(
            "root-expiring",
            file,
            &format!("{at}.root"),
            format!("the root expires within a year ({})", crate::model::time::format_rfc3339(root.not_after())),
            remedy!["start a dual-root overlap: ", Step::new(Op::RotateRoot).pki(name)],
        );
    }
    match crate::pki::tiers::switch_allowed_at_pki(pki, name) {
        Err(e) => out.error(file, &format!("{at}.rootOverlapMinDays"), &e),
        Ok(Some(allowed)) if pki.root_switched_at.is_none() && now >= allowed => out.warn(
            "root-overlap-switchable",
            file,
            &format!("{at}.previousRoots"),
            format!(
                "the root overlap has run its minimum (since {}): chains can put the new root's path first",
                crate::model::time::format_rfc3339(allowed)
            ),
            remedy!["once root-anchoring consumers trust both roots: ", Step::new(Op::SwitchRoot).pki(name)],
        ),
        Ok(_) => {}
    }
    match crate::pki::tiers::finalize_allowed_at_pki(pki, name) {
        Err(e) => out.error(file, &format!("{at}.rootSwitchedAt"), &e),
        Ok(Some(allowed)) if !pki.previous_roots.is_empty() && now >= allowed => out.warn(
            "root-overlap-finalizable",
            file,
            &format!("{at}.previousRoots"),
            format!("the root overlap has run its minimum (since {})", crate::model::time::format_rfc3339(allowed)),
            remedy!["once root-anchoring consumers trust the new root: ", Step::new(Op::FinalizeRoot).pki(name)],
        ),
        Ok(_) => {}
    }
    let mut roots = vec![root.clone()];
    for (i, e) in pki.previous_roots.iter().enumerate() {
        if let Some(c) = parse(out, &format!("{at}.previousRoots[{i}].cert"), e.cert.as_str()) {
            check_expiry(out, file, &format!("{at}.previousRoots[{i}]"), &c, now, true);
            roots.push(c);
        }
    }
    for (scope, e) in &pki.intermediates {
        let iat = format!("{at}.intermediates.{scope}");
        let Some(c) = parse(out, &format!("{iat}.cert"), e.cert.as_str()) else {
            continue;
        };
        for e in crate::pki::tiers::check_intermediate(pki, name, env, scope, &c, &root) {
            out.error(file, &iat, &e);
        }
        check_expiry(out, file, &iat, &c, now, false);
        if c.not_after() >= now && c.not_after() < now + Duration::days(LEAF_DAYS) {
            out.err(
                "intermediate-expiring",
                file,
                &iat,
                format!(
                    "expires {} — within the {LEAF_DAYS}-day leaf TTL, so new leaves would be cut short",
                    crate::model::time::format_rfc3339(c.not_after())
                ),
                remedy!["roll it: ", Step::new(Op::RotateIntermediate).pki(name).scope(scope)],
            );
        }
        if root.not_after() < c.not_after() {
            out.err(
                "root-expires-first",
                file,
                &iat,
                "the root expires before this intermediate, cutting its chain short".into(),
                remedy!["rotate the root: ", Step::new(Op::RotateRoot).pki(name)],
            );
        }
        if !project.is_scope(scope) {
            out.warn(
                "intermediate-scope-inactive",
                file,
                &iat,
                format!("scope {scope:?} is neither global nor in regions.yaml"),
                "add the region back to regions.yaml, or leave it: no bundle includes it",
            );
        }
    }
    for (scope, certs) in &pki.previous_intermediates {
        for (i, b) in certs.iter().enumerate() {
            let pat = format!("{at}.previousIntermediates.{scope}[{i}]");
            let Some(c) = parse(out, &pat, b.as_str()) else {
                continue;
            };
            for e in crate::pki::tiers::check_bundle_member(pki, name, env, scope, &pat, &c) {
                out.error(file, &pat, &e);
            }
            check_expiry(out, file, &pat, &c, now, true);
            if !roots.iter().any(|r| c.verify_signed_by(r, &pat).is_ok()) {
                out.warn(
                    "intermediate-signature",
                    file,
                    &pat,
                    "this previous intermediate verifies against neither the current nor a previous root".into(),
                    "it still anchors leaves in bundles, but root-anchoring consumers cannot chain it",
                );
            }
        }
    }
    // The roots' CRLs (served in every crl.pem): whole-chain CRL checks refuse every peer once
    // one passes its nextUpdate, and only an offline ceremony re-signs them. Warnings, not
    // errors: consumers that check only leaf CRLs (the common case) never read them.
    for (i, b) in pki.root_crls.iter().enumerate() {
        let loc = format!("{at}.rootCrls[{i}]");
        let step = || crate::error::Step::new(crate::error::Op::RootCrl).env(env).pki(name);
        match crate::crypto::crl::parse_crls(b.as_str(), &loc) {
            Err(e) => out.err(e.code(), file, &loc, e.to_string(), e.remedy()),
            Ok(crls) => {
                for next in crls.iter().filter_map(|c| c.next_update()) {
                    let when = crate::model::time::format_rfc3339(next);
                    if next <= now {
                        out.warn(
                            "root-crl-expired",
                            file,
                            &loc,
                            format!("this root CRL passed its nextUpdate at {when}: consumers that check the whole chain refuse every peer"),
                            crate::remedy!["re-sign it offline: `", step(), "`"],
                        );
                    } else if next - now < time::Duration::days(30) {
                        out.warn(
                            "root-crl-expiring",
                            file,
                            &loc,
                            format!("this root CRL's nextUpdate is {when}, within 30 days"),
                            crate::remedy!["re-sign it offline before then: `", step(), "`"],
                        );
                    }
                }
            }
        }
    }
    // Recorded leaf revocations (their syntax is checked when the store is parsed): a CA's
    // serial is not a leaf's, and nothing in a CRL can revoke a CA of this PKI.
    for (i, r) in pki.revoked_leaves.iter().enumerate() {
        if let Some((what, scope)) = crate::mesh::revocation::ca_with_serial(pki, &r.serial) {
            let e = crate::error::PkiError::SerialIsCa { pki: name.into(), serial: r.serial.clone(), what, scope };
            out.error(file, &format!("{at}.revokedLeaves[{i}]"), &e.into());
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
