//! The systemd pieces that bring a service's leaf to its hosts (`inforge pki units`, SPEC §7).
//!
//! For service `S` in scope `C`:
//! - a drop-in `S.service.d/inforge-mtls.conf`: `RuntimeDirectory=inforge/S` (tmpfs under
//!   /run, kept across restarts so a reload finds it), and an `ExecStartPre=` projection so the
//!   first start has a leaf. That projection passes `--keep-valid`: a provider outage must not
//!   stop a restart while the leaf already held is still valid.
//! - `S-renew.service` (oneshot) projecting again and reloading `S` only when the leaf changed:
//!   with the service's `reload:` when declared, else `systemctl try-restart S.service`;
//! - `S-renew.timer`: daily, `RandomizedDelaySec=` so a fleet does not hit the provider at
//!   once, `Persistent=true` so a host that slept catches up.
//!
//! With `watch`, a long-running `S-mtls-watch.service` (`--watch`) replaces the timer pair:
//! hosts then pick up a renew or a recovery within seconds.

use serde::Serialize;

use crate::error::{ConfigError, UnitsError};
use crate::model::config::{Project, Provider};
use crate::Error;

/// Inputs beyond the config.
#[derive(Debug, Clone)]
pub struct UnitOptions {
    /// The host's scope; needed when the service has several.
    pub scope: Option<String>,
    /// Where `inforge-bootstrap` is installed on hosts.
    pub bootstrap_bin: String,
    /// `dir` providers: the provider directory as hosts see it (absolute).
    pub provider_dir: String,
    /// `etcd` with TLS: the directory on hosts holding `ca.pem`, `client.pem`, `client-key.pem`.
    pub etcd_tls_dir: String,
    /// A watching service instead of the timer pair.
    pub watch: bool,
    /// node_exporter's textfile directory on hosts: each projection writes
    /// `inforge-<service>-<scope>.prom` there (`--metrics-file`, docs/metrics.md).
    pub metrics_dir: Option<String>,
}

/// One unit file.
#[derive(Debug, Clone, Serialize)]
pub struct UnitFile {
    /// Path relative to the unit directory (e.g. /etc/systemd/system).
    pub path: String,
    /// Contents.
    pub contents: String,
}

/// The units for one service on one host.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Units {
    /// Service.
    pub service: String,
    /// Scope projected.
    pub scope: String,
    /// Runtime directory on the host (tmpfs).
    pub runtime_dir: String,
    /// The files, drop-in first.
    pub files: Vec<UnitFile>,
}

/// Quotes one ExecStart argument for systemd: `%` is a specifier and `$` an expansion there,
/// so both are doubled; anything with whitespace or quotes is double-quoted.
fn quote(arg: &str) -> String {
    let escaped = arg.replace('%', "%%").replace('$', "$$");
    if !escaped.is_empty() && escaped.chars().all(|c| c.is_ascii_alphanumeric() || "_@+=:,./-%$".contains(c)) {
        return escaped;
    }
    format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A value that becomes one ExecStart argument: one line, and not an option.
fn check_value(field: &str, value: &str) -> Result<(), UnitsError> {
    let why = if value.chars().any(char::is_control) {
        "it holds a control character such as a newline, which would add unit lines"
    } else if value.starts_with('-') {
        "it starts with '-', so the bootstrapper would read it as an option"
    } else {
        return Ok(());
    };
    Err(UnitsError::BadValue { field: field.to_string(), value: value.to_string(), why })
}

fn check_path(field: &'static str, value: &str) -> Result<(), UnitsError> {
    if value.starts_with('/') && !value.chars().any(|c| c.is_whitespace() || "\"'%\\$".contains(c)) {
        Ok(())
    } else {
        Err(UnitsError::BadPath { field, value: value.to_string() })
    }
}

/// The systemd units projecting `service`'s leaf for environment `env`.
/// `store` (when the environment has one) supplies the PKI's default leaf lifetime.
pub fn units(
    project: &Project,
    store: Option<&crate::model::store::Store>,
    env: &str,
    service: &str,
    opts: &UnitOptions,
) -> Result<Units, Error> {
    let environment = project.environment(env)?;
    environment.provider.check(env)?;
    let svc = project
        .config
        .services
        .get(service)
        .ok_or_else(|| ConfigError::UnknownService { service: service.to_string() })?;
    if svc.pki.is_none() {
        return Err(ConfigError::NotInMesh { service: service.to_string() }.into());
    }
    let scopes = project.service_scopes(svc);
    let scope = match (&opts.scope, scopes.as_slice()) {
        (Some(s), _) if scopes.contains(s) => s.clone(),
        (Some(s), _) => {
            return Err(UnitsError::ScopeNotServed {
                service: service.into(),
                scope: s.clone(),
                scopes: scopes.join(", "),
            }
            .into())
        }
        (None, [one]) => one.clone(),
        (None, _) => {
            return Err(UnitsError::ScopeRequired { service: service.into(), scopes: scopes.join(", ") }.into())
        }
    };
    check_path("the bootstrap binary", &opts.bootstrap_bin)?;
    let pki_default = svc.pki.as_deref().zip(store).and_then(|(p, s)| s.pkis.get(p)).and_then(|p| p.leaf_ttl.clone());
    let ttl_text = svc.leaf_ttl.clone().or(pki_default);
    let ttl = match svc.leaf_ttl(service)? {
        Some(t) => Some(t),
        None => svc.pki.as_deref().zip(store).and_then(|(p, s)| super::targets::pki_leaf_ttl(s, p)),
    };
    if let Some(cmd) = &svc.reload {
        check_value(&format!("services.{service}.reload"), cmd)?;
    }
    let runtime_dir = format!("/run/inforge/{service}");

    let mut args: Vec<String> = vec![
        opts.bootstrap_bin.clone(),
        "project".into(),
        "--service".into(),
        service.into(),
        "--scope".into(),
        scope.clone(),
        "--runtime-dir".into(),
        runtime_dir.clone(),
    ];
    match &environment.provider {
        Provider::Dir { .. } => {
            check_path("the provider directory", &opts.provider_dir)?;
            args.extend(["--provider-dir".into(), opts.provider_dir.clone()]);
        }
        Provider::Etcd { endpoints, prefix, ca_file, cert_file, .. } => {
            args.extend(["--etcd-endpoints".into(), endpoints.join(","), "--etcd-prefix".into(), prefix.clone()]);
            if ca_file.is_some() {
                check_path("the etcd TLS directory", &opts.etcd_tls_dir)?;
                args.extend(["--etcd-ca".into(), format!("{}/ca.pem", opts.etcd_tls_dir)]);
            }
            if cert_file.is_some() {
                args.extend([
                    "--etcd-cert".into(),
                    format!("{}/client.pem", opts.etcd_tls_dir),
                    "--etcd-key".into(),
                    format!("{}/client-key.pem", opts.etcd_tls_dir),
                ]);
            }
        }
    }
    if let Some(dir) = &opts.metrics_dir {
        check_path("the metrics directory", dir)?;
        let file = format!("{}/inforge-{service}-{scope}.prom", dir.trim_end_matches('/'));
        args.extend(["--metrics-file".into(), file, "--metrics-env".into(), env.to_string()]);
    }
    let on_change = match &svc.reload {
        Some(cmd) => vec!["--reload-command".to_string(), cmd.clone()],
        None => vec!["--restart-command".to_string(), format!("systemctl try-restart {service}.service")],
    };
    let exec = |extra: &[String]| args.iter().chain(extra).map(|a| quote(a)).collect::<Vec<_>>().join(" ");
    let header = format!("# Written by `inforge pki units {env} {service}`: {service}'s mTLS leaf in scope {scope}.\n");

    let watch_unit = format!("{service}-mtls-watch.service");
    let timer_unit = format!("{service}-renew.timer");
    let companion = if opts.watch { &watch_unit } else { &timer_unit };
    let dropin = format!(
        "{header}[Unit]\nWants={companion}\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\n\
         RuntimeDirectory=inforge/{service}\nRuntimeDirectoryMode=0750\n\
         # Kept across restarts and shared with the projection units; /run is tmpfs.\n\
         RuntimeDirectoryPreserve=yes\n\
         # The first start needs a leaf; a provider outage must not block a restart while the\n\
         # leaf already held is valid (--keep-valid).\n\
         ExecStartPre={}\n",
        exec(&["--keep-valid".to_string()])
    );
    let mut files = vec![UnitFile { path: format!("{service}.service.d/inforge-mtls.conf"), contents: dropin }];
    if opts.watch {
        files.push(UnitFile {
            path: watch_unit,
            contents: format!(
                "{header}[Unit]\nDescription=Keep {service}'s mTLS leaf current (inforge-bootstrap --watch)\n\
                 Wants=network-online.target\nAfter=network-online.target {service}.service\n\
                 ConditionPathIsDirectory={runtime_dir}\n\n[Service]\nType=simple\nExecStart={}\n\
                 Restart=always\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n",
                exec(&[on_change, vec!["--watch".to_string()]].concat())
            ),
        });
    } else {
        files.push(UnitFile {
            path: format!("{service}-renew.service"),
            contents: format!(
                "{header}[Unit]\nDescription=Project {service}'s mTLS leaf and reload it when it changed (inforge)\n\
                 Wants=network-online.target\nAfter=network-online.target\n\
                 # Nothing to do before {service} has started once (it creates the directory).\n\
                 ConditionPathIsDirectory={runtime_dir}\n\n[Service]\nType=oneshot\nExecStart={}\n",
                exec(&on_change)
            ),
        });
        // Daily suits the default 90-day leaves; a short `leafTtl` needs hosts to fetch at least
        // three times per lifetime, so a renew's new leaf reaches them before the old one ends.
        let timer = match ttl {
            Some(t) if t < time::Duration::days(3) => {
                let every = (t.whole_seconds() / 3).max(60);
                let spread = (every / 4).min(3600);
                format!(
                    "{header}[Unit]\nDescription=Projection of {service}'s mTLS leaf every {every} s (leafTtl {}) \
                     (inforge)\n\n[Timer]\n# Three times per leaf lifetime, from boot on.\nOnBootSec=2min\n\
                     OnUnitActiveSec={every}s\n# Spread a fleet's fetches.\nRandomizedDelaySec={spread}s\n\n\
                     [Install]\nWantedBy=timers.target\n",
                    ttl_text.as_deref().unwrap_or_default()
                )
            }
            _ => format!(
                "{header}[Unit]\nDescription=Daily projection of {service}'s mTLS leaf (inforge)\n\n[Timer]\n\
                 OnCalendar=daily\n# Spread a fleet's fetches over an hour.\nRandomizedDelaySec=1h\n\
                 # A host that was off at the scheduled time catches up at boot.\nPersistent=true\n\n\
                 [Install]\nWantedBy=timers.target\n"
            ),
        };
        files.push(UnitFile { path: timer_unit, contents: timer });
    }
    Ok(Units { service: service.into(), scope, runtime_dir, files })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Coded;

    const CFG: &str = "baseDomain: wardnet.example\nenvironments:\n  prd:\n    provider:\n      kind: dir\n      path: ../provider-prd\n  edge:\n    provider:\n      kind: etcd\n      endpoints: [https://10.0.0.1:2379, https://10.0.0.2:2379]\n      prefix: /inforge/edge\n      caFile: etcd/ca.pem\n      certFile: etcd/client.pem\n      keyFile: etcd/client-key.pem\nservices:\n  api:\n    pki: wardnet-mesh\n    scope: global\n    reload: systemctl reload api\n  web:\n    pki: wardnet-mesh\n    scope: regional\n  cron: {}\n";

    fn opts() -> UnitOptions {
        UnitOptions {
            scope: None,
            bootstrap_bin: "/usr/local/bin/inforge-bootstrap".into(),
            provider_dir: "/srv/provider prd%".into(),
            etcd_tls_dir: "/etc/inforge/etcd".into(),
            watch: false,
            metrics_dir: None,
        }
    }

    fn project() -> Project {
        Project::parse(CFG, Some("regions: [us-east-1, eu-west-1]\n")).unwrap()
    }

    #[test]
    fn quoting_follows_systemd_rules() {
        assert_eq!(quote("/usr/bin/x"), "/usr/bin/x");
        assert_eq!(quote("systemctl reload api"), "\"systemctl reload api\"");
        assert_eq!(quote("50%"), "50%%");
        assert_eq!(quote("say \"hi\" $HOME"), "\"say \\\"hi\\\" $$HOME\"");
        assert_eq!(quote(""), "\"\"");
    }

    /// L1/L2: a value that would add unit lines or read as an option is refused, with the
    /// field named; a name starting with '-' is not a name at all.
    #[test]
    fn values_that_would_break_a_unit_are_refused() {
        let mut o = opts();
        o.provider_dir = "/srv/provider-prd".into();
        for (reload, why) in [
            ("systemctl reload api\n", "newline"),
            ("systemctl reload api\nExecStartPost=/bin/sh", "newline"),
            ("-x", "option"),
        ] {
            let cfg = CFG.replace("reload: systemctl reload api", &format!("reload: {reload:?}"));
            let p = Project::parse(&cfg, Some("regions: [us-east-1, eu-west-1]\n")).unwrap();
            let e = units(&p, None, "prd", "api", &o).unwrap_err();
            assert_eq!(crate::Coded::code(&e), "units-value-invalid", "{reload:?}");
            assert!(e.to_string().contains("services.api.reload") && e.to_string().contains(why), "{e}");
        }
        let cfg = CFG.replace("https://10.0.0.2:2379", "\"https://10.0.0.2:2379\\nExecStartPost=/bin/sh\"");
        let p = Project::parse(&cfg, Some("regions: [us-east-1, eu-west-1]\n")).unwrap();
        let e = units(&p, None, "edge", "api", &opts()).unwrap_err();
        assert_eq!(crate::Coded::code(&e), "provider-invalid");
        assert_eq!(
            crate::Coded::code(&crate::model::names::check_segment("service", "--watch").unwrap_err()),
            "name-invalid"
        );
    }

    #[test]
    fn global_service_with_reload_on_dir() {
        let mut o = opts();
        o.provider_dir = "/srv/provider-prd".into();
        let u = units(&project(), None, "prd", "api", &o).unwrap();
        assert_eq!(u.scope, "global");
        let paths: Vec<&str> = u.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["api.service.d/inforge-mtls.conf", "api-renew.service", "api-renew.timer"]);
        let dropin = &u.files[0].contents;
        assert!(dropin.contains("RuntimeDirectory=inforge/api\n"));
        assert!(dropin.contains("ExecStartPre=/usr/local/bin/inforge-bootstrap project --service api --scope global --runtime-dir /run/inforge/api --provider-dir /srv/provider-prd --keep-valid\n"), "{dropin}");
        assert!(u.files[1].contents.contains("--reload-command \"systemctl reload api\"\n"));
        assert!(
            u.files[2].contents.contains("RandomizedDelaySec=1h") && u.files[2].contents.contains("Persistent=true")
        );
    }

    #[test]
    fn metrics_dir_wires_every_projection_to_its_own_file() {
        let mut o = opts();
        o.provider_dir = "/srv/provider-prd".into();
        o.scope = Some("eu-west-1".into());
        o.metrics_dir = Some("/var/lib/prometheus/node-exporter/".into());
        let u = units(&project(), None, "prd", "web", &o).unwrap();
        let flags = " --metrics-file /var/lib/prometheus/node-exporter/inforge-web-eu-west-1.prom --metrics-env prd";
        assert!(u.files.iter().filter(|f| f.path != "web-renew.timer").all(|f| f.contents.contains(flags)), "{u:?}");
        o.metrics_dir = Some("relative/dir".into());
        assert_eq!(units(&project(), None, "prd", "web", &o).unwrap_err().code(), "units-path-invalid");
    }

    #[test]
    fn regional_service_needs_a_scope_and_restarts_without_reload() {
        let e = units(&project(), None, "prd", "web", &opts()).unwrap_err();
        assert_eq!(e.code(), "units-scope-required");
        assert!(e.to_string().contains("us-east-1, eu-west-1"), "{e}");
        let mut o = opts();
        o.scope = Some("ap-south-1".into());
        assert_eq!(units(&project(), None, "prd", "web", &o).unwrap_err().code(), "units-scope-unknown");
        o.scope = Some("eu-west-1".into());
        o.provider_dir = "/srv/p".into();
        let u = units(&project(), None, "prd", "web", &o).unwrap();
        assert!(u.files[1].contents.contains("--restart-command \"systemctl try-restart web.service\""));
    }

    #[test]
    fn etcd_with_tls_and_watch() {
        let mut o = opts();
        o.watch = true;
        let u = units(&project(), None, "edge", "api", &o).unwrap();
        let paths: Vec<&str> = u.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["api.service.d/inforge-mtls.conf", "api-mtls-watch.service"]);
        let w = &u.files[1].contents;
        assert!(w.contains("--etcd-endpoints https://10.0.0.1:2379,https://10.0.0.2:2379 --etcd-prefix /inforge/edge --etcd-ca /etc/inforge/etcd/ca.pem --etcd-cert /etc/inforge/etcd/client.pem --etcd-key /etc/inforge/etcd/client-key.pem"), "{w}");
        assert!(w.contains(" --watch\n") && w.contains("Restart=always"));
        assert!(u.files[0].contents.contains("Wants=api-mtls-watch.service"));
    }

    #[test]
    fn refusals() {
        assert_eq!(units(&project(), None, "prd", "cron", &opts()).unwrap_err().code(), "service-not-in-mesh");
        assert_eq!(units(&project(), None, "prd", "nope", &opts()).unwrap_err().code(), "service-unknown");
        assert_eq!(units(&project(), None, "stg", "api", &opts()).unwrap_err().code(), "environment-unknown");
        // A provider dir systemd would misread is refused, not quoted into a surprise.
        assert_eq!(units(&project(), None, "prd", "api", &opts()).unwrap_err().code(), "units-path-invalid");
        let mut o = opts();
        o.bootstrap_bin = "inforge-bootstrap".into();
        assert_eq!(units(&project(), None, "edge", "api", &o).unwrap_err().code(), "units-path-invalid");
    }
}
