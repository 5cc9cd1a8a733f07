//! Prometheus text exposition (format 0.0.4) of what `pki status` and the bootstrapper know
//! (SPEC §11): `pki status --format prometheus` and `inforge-bootstrap … --metrics-file`.
//!
//! Expiry is exported as an absolute Unix time, as the exporters users already alert on do
//! (`certmanager_certificate_expiration_timestamp_seconds`, `x509_cert_not_after`), so a rule
//! computes `… - time()` and keeps working when the exporter stops: a stale file still says
//! when the certificate ends. docs/metrics.md lists every family; `deploy/prometheus/`
//! ships alerting rules over them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use time::OffsetDateTime;

use crate::crypto::cert::Cert;
use crate::model::store::Store;
use crate::pki::tiers::{finalize_allowed_at_pki, root_phase, switch_allowed_at_pki, RootPhase};
use crate::views::status::StatusReport;
use crate::Error;

/// The certificate expiry family, shared by `pki status` and the bootstrapper.
pub const EXPIRY: &str = "inforge_certificate_expiration_timestamp_seconds";
/// The bootstrapper's last successful projection.
pub const LAST_SUCCESS: &str = "inforge_bootstrap_last_success_timestamp_seconds";
/// The bootstrapper's failed projections, counted across runs.
pub const FAILURES: &str = "inforge_bootstrap_failures_total";

/// One metric family: its samples are written together under one HELP and one TYPE.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, i64)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family { name, help, kind, samples: Vec::new() }
    }

    fn add(&mut self, labels: Vec<(&'static str, String)>, value: i64) {
        self.samples.push((labels, value));
    }
}

/// A label value as the text format wants it: backslash, double quote and newline escaped.
/// Names come from the store and config, which the core already restricts, but a value is
/// escaped anyway: one odd subject must not corrupt the whole file.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        // `write!` into a String cannot fail.
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (labels, value) in &f.samples {
            out.push_str(f.name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {value}");
        }
    }
    out
}

fn expiry_family() -> Family {
    Family::new(EXPIRY, "gauge", "The certificate's notAfter as a Unix time (alert on this minus time()).")
}

/// The labels every expiry sample carries. `serial` is set only on previous (retired)
/// certificates, of which a scope can hold several; it is empty (in Prometheus: absent) on
/// current ones, so a daily renew does not start a new series per leaf, and every sample of
/// the family has the same label names (node_exporter's textfile collector wants that).
fn cert_labels(
    env: &str,
    pki: &str,
    kind: &'static str,
    scope: &str,
    service: &str,
    state: &'static str,
) -> Vec<(&'static str, String)> {
    vec![
        ("env", env.to_string()),
        ("pki", pki.to_string()),
        ("kind", kind.to_string()),
        ("scope", scope.to_string()),
        ("service", service.to_string()),
        ("state", state.to_string()),
        ("serial", String::new()),
    ]
}

/// `pki status --format prometheus`: every certificate in the store (roots and intermediates,
/// current and previous), every leaf the provider holds, the problems by code, each PKI's root
/// phase and its next rotation step's date, and the run's own time. A certificate the store
/// cannot parse is left out (validate names it; the problem count does not hide it).
/// A rotation date field that does not parse leaves that PKI's next step out (validate reports
/// the field).
pub fn status_exposition(store: &Store, report: &StatusReport, now: OffsetDateTime) -> Result<String, Error> {
    let env = report.env.as_str();
    let mut expiry = expiry_family();
    let mut phase = Family::new(
        "inforge_root_phase",
        "gauge",
        "1 for the PKI's current root-rotation phase (stable, overlap, switched), 0 for the others.",
    );
    let mut next_step = Family::new(
        "inforge_root_next_step_timestamp_seconds",
        "gauge",
        "When the root rotation's next step (switch, then finalize) becomes allowed, as a Unix time.",
    );
    for (name, pki) in &store.pkis {
        let mut cert = |pem: &str, kind: &'static str, scope: &str, state: &'static str| {
            if let Ok(c) = Cert::from_pem(pem, "store") {
                let mut labels = cert_labels(env, name, kind, scope, "", state);
                if state == "previous" {
                    labels.pop();
                    labels.push(("serial", c.serial_hex()));
                }
                expiry.add(labels, c.not_after().unix_timestamp());
            }
        };
        cert(pki.root.cert.as_str(), "root", "", "current");
        for r in &pki.previous_roots {
            cert(r.cert.as_str(), "root", "", "previous");
        }
        for (scope, e) in &pki.intermediates {
            cert(e.cert.as_str(), "intermediate", scope, "current");
        }
        for (scope, blocks) in &pki.previous_intermediates {
            for b in blocks {
                cert(b.as_str(), "intermediate", scope, "previous");
            }
        }
        let current = root_phase(pki);
        for p in [RootPhase::Stable, RootPhase::Overlap, RootPhase::Switched] {
            phase.add(
                vec![("env", env.to_string()), ("pki", name.clone()), ("phase", p.name().to_string())],
                i64::from(p == current),
            );
        }
        let step = match current {
            RootPhase::Stable => None,
            // A root-only PKI has no chains to switch: its next step is finalize.
            RootPhase::Overlap => match switch_allowed_at_pki(pki, name).ok().flatten() {
                Some(at) => Some(("switch", at)),
                None => finalize_allowed_at_pki(pki, name).ok().flatten().map(|at| ("finalize", at)),
            },
            RootPhase::Switched => finalize_allowed_at_pki(pki, name).ok().flatten().map(|at| ("finalize", at)),
        };
        if let Some((step, at)) = step {
            next_step.add(
                vec![("env", env.to_string()), ("pki", name.clone()), ("step", step.to_string())],
                at.unix_timestamp(),
            );
        }
    }
    for s in &report.sets {
        if let Some(until) = &s.not_after {
            let at = crate::model::time::parse_rfc3339("notAfter", until)?;
            expiry.add(cert_labels(env, &s.pki, "leaf", &s.scope, &s.service, "current"), at.unix_timestamp());
        }
    }

    let mut by_code: BTreeMap<&str, i64> = BTreeMap::new();
    for pr in report.sets.iter().flat_map(|s| &s.problems) {
        *by_code.entry(pr.code).or_default() += 1;
    }
    let mut problems =
        Family::new("inforge_status_problems", "gauge", "Problems `pki status` found in the provider's sets, by code.");
    for (code, n) in by_code {
        problems.add(vec![("env", env.to_string()), ("code", code.to_string())], n);
    }
    let env_only = || vec![("env", env.to_string())];
    let mut sets = Family::new("inforge_status_sets", "gauge", "Sets (service and scope) the provider should hold.");
    sets.add(env_only(), i64::try_from(report.sets.len()).unwrap_or(i64::MAX));
    let mut problem_sets =
        Family::new("inforge_status_problem_sets", "gauge", "Sets with at least one problem (0: all sound).");
    problem_sets.add(env_only(), i64::try_from(report.problem_sets).unwrap_or(i64::MAX));
    let mut horizon = Family::new(
        "inforge_status_horizon_seconds",
        "gauge",
        "The run's --fail-within: a leaf expiring sooner is a problem.",
    );
    horizon.add(env_only(), report.within_seconds);
    let mut ran =
        Family::new("inforge_status_timestamp_seconds", "gauge", "When this status was taken, as a Unix time.");
    ran.add(env_only(), now.unix_timestamp());
    Ok(render(&[expiry, problems, sets, problem_sets, phase, next_step, horizon, ran]))
}

/// What the bootstrapper knows after one projection of one service and scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostMetrics {
    /// The environment label (`--metrics-env`; empty when not given).
    pub env: String,
    /// The service.
    pub service: String,
    /// The scope.
    pub scope: String,
    /// The leaf the runtime directory serves: its notAfter as a Unix time.
    pub leaf_not_after: Option<i64>,
    /// The last successful projection, as a Unix time.
    pub last_success: Option<i64>,
    /// Failed projections, counted across runs (the file carries the count).
    pub failures: u64,
}

/// Carries the previous file's values into this projection's metrics: a one-shot run (the
/// timer's) keeps its counter and its last success in the file it writes. A failed run keeps
/// the previous leaf expiry and success time; a successful one replaces them.
pub fn host_next(previous: Option<&str>, mut now: HostMetrics, ok: bool, at: OffsetDateTime) -> HostMetrics {
    let before = previous.map(|t| host_previous(t, &now.service, &now.scope)).unwrap_or_default();
    if ok {
        now.last_success = Some(at.unix_timestamp());
        now.failures = before.failures;
    } else {
        now.failures = before.failures.saturating_add(1);
        now.last_success = before.last_success;
        now.leaf_not_after = now.leaf_not_after.or(before.leaf_not_after);
    }
    now
}

/// Reads back what [`host_exposition`] wrote for `service` and `scope`. Whatever does not
/// parse is ignored (a hand-edited or truncated file restarts the counter; it never fails the
/// projection).
pub fn host_previous(text: &str, service: &str, scope: &str) -> HostMetrics {
    let mut m = HostMetrics { service: service.to_string(), scope: scope.to_string(), ..HostMetrics::default() };
    let ours = format!("service=\"{}\"", escape(service));
    let scope_label = format!("scope=\"{}\"", escape(scope));
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        if !(series.contains(&ours) && series.contains(&scope_label)) {
            continue;
        }
        let name = series.split('{').next().unwrap_or_default();
        match name {
            // In i64's range: what the text format's integer samples carry back.
            FAILURES => m.failures = value.parse::<i64>().ok().and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
            LAST_SUCCESS => m.last_success = value.parse().ok(),
            EXPIRY => m.leaf_not_after = value.parse().ok(),
            _ => {}
        }
    }
    m
}

/// `inforge-bootstrap … --metrics-file`: the host's leaf expiry (the expiry family,
/// `kind="leaf"`), its last successful projection and its failures.
pub fn host_exposition(m: &HostMetrics) -> String {
    let mut expiry = expiry_family();
    if let Some(at) = m.leaf_not_after {
        expiry.add(cert_labels(&m.env, "", "leaf", &m.scope, &m.service, "current"), at);
    }
    let labels = || vec![("env", m.env.clone()), ("service", m.service.clone()), ("scope", m.scope.clone())];
    let mut success = Family::new(LAST_SUCCESS, "gauge", "The last successful projection, as a Unix time.");
    if let Some(at) = m.last_success {
        success.add(labels(), at);
    }
    let mut failures = Family::new(FAILURES, "counter", "Projections that failed (fetch, verify, write or command).");
    failures.add(labels(), i64::try_from(m.failures).unwrap_or(i64::MAX));
    render(&[expiry, success, failures])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut f = Family::new("x", "gauge", "h");
        f.add(vec![("a", "q\"b\\n\nz".into())], 1);
        assert_eq!(render(&[f]), "# HELP x h\n# TYPE x gauge\nx{a=\"q\\\"b\\\\n\\nz\"} 1\n");
    }

    #[test]
    fn empty_families_are_left_out() {
        assert_eq!(render(&[Family::new("x", "gauge", "h")]), "");
    }

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(s).unwrap()
    }

    #[test]
    fn the_host_file_carries_its_counter_and_last_success_across_runs() {
        let base = HostMetrics { env: "prd".into(), service: "api".into(), scope: "eu".into(), ..Default::default() };
        let first = host_next(None, HostMetrics { leaf_not_after: Some(5000), ..base.clone() }, true, at(100));
        assert_eq!((first.last_success, first.failures), (Some(100), 0));
        let text = host_exposition(&first);
        // A failed run: the counter goes up, the last success and the leaf held stay.
        let failed = host_next(Some(&text), base.clone(), false, at(200));
        assert_eq!((failed.last_success, failed.failures, failed.leaf_not_after), (Some(100), 1, Some(5000)));
        let text = host_exposition(&failed);
        let again = host_next(Some(&text), base.clone(), false, at(300));
        assert_eq!(again.failures, 2);
        let ok = host_next(
            Some(&host_exposition(&again)),
            HostMetrics { leaf_not_after: Some(9000), ..base },
            true,
            at(400),
        );
        assert_eq!((ok.last_success, ok.failures, ok.leaf_not_after), (Some(400), 2, Some(9000)));
    }

    #[test]
    fn another_services_lines_and_garbage_are_ignored() {
        let text = "inforge_bootstrap_failures_total{env=\"\",service=\"web\",scope=\"eu\"} 7\n\
                    inforge_bootstrap_failures_total{env=\"\",service=\"api\",scope=\"eu\"} nan\n\
                    garbage\n\u{0}{}} 1 2 3\n";
        let m = host_previous(text, "api", "eu");
        assert_eq!((m.failures, m.last_success), (0, None));
        assert_eq!(host_previous(text, "web", "eu").failures, 7);
    }
}
