//! The infra repo's configuration: `inforge.yaml` and `regions.yaml` (SPEC §1).
//!
//! Parsing is strict: unknown fields are errors, so a typo such as `scpoe:` can never silently
//! widen a service's trust. Every name is checked against the SPIFFE rules at load time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::error::NameError;

/// `inforge.yaml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProjectConfig {
    /// The SPIFFE trust domain.
    pub base_domain: String,
    /// Environments by name.
    #[serde(default)]
    pub environments: BTreeMap<String, Environment>,
    /// Services by name.
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
}

/// One environment.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Where leaf material is written.
    pub provider: Provider,
}

/// A secrets provider.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Provider {
    /// A local directory (relative to the repo root); must already exist.
    Dir {
        /// The directory.
        path: String,
    },
    /// An etcd v3 cluster.
    Etcd {
        /// Client URLs (`http://` or `https://`).
        endpoints: Vec<String>,
        /// Key prefix, e.g. `/inforge/prd`.
        prefix: String,
        /// CA bundle that signs the etcd servers' certificates (client TLS; relative to the
        /// repo root). Required with `https://` endpoints.
        #[serde(default, rename = "caFile")]
        ca_file: Option<String>,
        /// Client certificate for etcd (with `keyFile`).
        #[serde(default, rename = "certFile")]
        cert_file: Option<String>,
        /// Client key for etcd (with `certFile`). Credentials themselves never live in
        /// inforge.yaml: this names a file outside the repo or one the deploy writes.
        #[serde(default, rename = "keyFile")]
        key_file: Option<String>,
    },
}

impl Provider {
    /// The rules serde cannot express (SPEC §6): etcd endpoints are `http(s)://` URLs, TLS
    /// endpoints name a CA, a client certificate comes with its key, and the prefix is an
    /// absolute key path. `env` names the environment in the error.
    pub fn check(&self, env: &str) -> Result<(), ConfigError> {
        let Provider::Etcd { endpoints, prefix, ca_file, cert_file, key_file } = self else {
            return Ok(());
        };
        let bad = |field: &str, rule: &str| ConfigError::ProviderInvalid {
            env: env.to_string(),
            field: field.to_string(),
            rule: rule.to_string(),
        };
        if endpoints.is_empty() {
            return Err(bad("endpoints", "list at least one etcd client URL, e.g. http://127.0.0.1:2379"));
        }
        for e in endpoints {
            let rest = e.strip_prefix("http://").or_else(|| e.strip_prefix("https://"));
            match rest {
                Some(hostport)
                    if !hostport.is_empty()
                        && !hostport.contains(['/', '?', '#'])
                        && !hostport.chars().any(|c| c.is_whitespace() || c.is_control()) => {}
                _ => return Err(bad("endpoints", &format!("{e:?} is not an http:// or https:// host:port URL"))),
            }
        }
        let tls = endpoints.iter().any(|e| e.starts_with("https://"));
        if tls && endpoints.iter().any(|e| e.starts_with("http://")) {
            return Err(bad("endpoints", "mix of http:// and https:// endpoints; use one scheme"));
        }
        if tls && ca_file.is_none() {
            return Err(bad("caFile", "https:// endpoints need `caFile`, the CA that signs the etcd servers"));
        }
        if !tls && (ca_file.is_some() || cert_file.is_some() || key_file.is_some()) {
            return Err(bad("caFile", "TLS files are set but the endpoints are http://; use https:// endpoints"));
        }
        if cert_file.is_some() != key_file.is_some() {
            return Err(bad("certFile", "`certFile` and `keyFile` go together"));
        }
        let segments: Vec<&str> = prefix.split('/').collect();
        if !prefix.starts_with('/')
            || prefix.len() < 2
            || prefix.ends_with('/')
            || segments[1..].iter().any(|s| crate::model::names::check_segment("prefix", s).is_err())
        {
            return Err(bad(
                "prefix",
                &format!("{prefix:?} must be an absolute key path of SPIFFE-style segments, e.g. /inforge/prd"),
            ));
        }
        Ok(())
    }
}

/// Whether a service lives in the global scope or in regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeKind {
    /// One global leaf.
    Global,
    /// One leaf per region.
    Regional,
}

/// One service.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    /// The two-tier mesh the service joins; none: not in the mesh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pki: Option<String>,
    /// global or regional (required with `pki:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopeKind>,
    /// Command hosts run when the leaf changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<String>,
    /// Extra DNS SANs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    /// Subset of regions.yaml; default every region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// The leaves' lifetime, from `1h` to `90d` (default 90d); see [`Service::leaf_ttl`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_ttl: Option<String>,
}

/// Bounds of `leafTtl`: shorter leaves would need hosts to fetch more often than a timer
/// sensibly runs; longer ones break the profile (docs/profiles.md).
pub const LEAF_TTL_MIN: ::time::Duration = ::time::Duration::hours(1);
/// See [`LEAF_TTL_MIN`].
pub const LEAF_TTL_MAX: ::time::Duration = ::time::Duration::days(crate::model::limits::LEAF_DAYS);

/// A leaf lifetime as written (`24h`, `30d`), within [`LEAF_TTL_MIN`]..=[`LEAF_TTL_MAX`];
/// the error says what is wrong, for the caller to name the field. One rule for a service's
/// `leafTtl` and a PKI's default (`pki add --leaf-ttl`).
pub fn parse_leaf_ttl(value: &str) -> Result<::time::Duration, &'static str> {
    let d = crate::model::time::parse_duration("leafTtl", value)
        .map_err(|_| "is not a number and a unit (d, h, m or s)")?;
    if d < LEAF_TTL_MIN {
        return Err("is shorter than 1h");
    }
    if d > LEAF_TTL_MAX {
        return Err("is longer than 90d, the leaf profile's lifetime");
    }
    Ok(d)
}

impl Service {
    /// The service's leaf lifetime (`None`: its PKI's default, else 90 days), checked against
    /// its bounds.
    pub fn leaf_ttl(&self, service: &str) -> Result<Option<::time::Duration>, crate::Error> {
        let Some(v) = &self.leaf_ttl else { return Ok(None) };
        parse_leaf_ttl(v).map(Some).map_err(|problem| {
            crate::error::MeshError::LeafTtl { service: service.into(), value: v.clone(), problem: problem.into() }
                .into()
        })
    }
}

/// `regions.yaml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegionsFile {
    /// Active regions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

/// The loaded infra repo configuration.
#[derive(Debug, Clone)]
pub struct Project {
    /// `inforge.yaml`.
    pub config: ProjectConfig,
    /// `regions.yaml` (empty if the file is absent).
    pub regions: Vec<String>,
}

impl Project {
    /// The PKIs the services name as their mesh (`pki:`), each once, in service order.
    pub fn meshes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.config.services.values() {
            if let Some(p) = &s.pki {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
        out
    }
}

/// Parses YAML with serde-saphyr, naming `file` in errors.
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, ConfigError> {
    serde_saphyr::from_str(text).map_err(|e| ConfigError::Yaml { file: file.to_string(), detail: e.to_string() })
}

impl Project {
    /// Parses `inforge.yaml` and (if present) `regions.yaml`, checking every name.
    pub fn parse(inforge_yaml: &str, regions_yaml: Option<&str>) -> Result<Project, ConfigError> {
        let p = Self::parse_schema(inforge_yaml, regions_yaml)?;
        if let Some((file, source)) = p.name_problems().into_iter().next() {
            return Err(ConfigError::Name { file, source });
        }
        Ok(p)
    }

    /// Parses the schema only (unknown fields are still errors) and leaves naming rules to
    /// [`Project::name_problems`], so `validate` can report every bad name at once.
    pub fn parse_schema(inforge_yaml: &str, regions_yaml: Option<&str>) -> Result<Project, ConfigError> {
        let config: ProjectConfig = parse_yaml("inforge.yaml", inforge_yaml)?;
        let regions = match regions_yaml {
            Some(t) => parse_yaml::<RegionsFile>("regions.yaml", t)?.regions,
            None => Vec::new(),
        };
        Ok(Project { config, regions })
    }

    /// Every name that breaks SPEC §1, with the file it is in.
    pub fn name_problems(&self) -> Vec<(String, NameError)> {
        let mut out = Vec::new();
        let mut check = |file: &str, r: Result<(), NameError>| {
            if let Err(e) = r {
                out.push((file.to_string(), e));
            }
        };
        let config = &self.config;
        check("inforge.yaml", crate::model::names::check_trust_domain("baseDomain", &config.base_domain));
        for env in config.environments.keys() {
            check("inforge.yaml", crate::model::names::check_segment("environment name", env));
        }
        for (svc, s) in &config.services {
            check("inforge.yaml", crate::model::names::check_segment("service name", svc));
            if let Some(p) = &s.pki {
                check("inforge.yaml", crate::model::names::check_segment(&format!("services.{svc}.pki"), p));
            }
            for r in s.regions.iter().flatten() {
                check("inforge.yaml", crate::model::names::check_segment(&format!("services.{svc}.regions"), r));
            }
            for d in &s.dns_names {
                check("inforge.yaml", crate::model::names::check_dns_name(&format!("services.{svc}.dnsNames"), d));
            }
        }
        for (i, r) in self.regions.iter().enumerate() {
            if self.regions[..i].contains(r) {
                check("regions.yaml", Err(NameError::Duplicate { field: "regions".into(), value: r.clone() }));
            }
            check("regions.yaml", crate::model::names::check_segment("region", r));
            if r == "global" {
                check("regions.yaml", Err(NameError::Reserved { field: "region".into(), value: r.clone() }));
            }
        }
        out
    }

    /// The environment's config, or an error naming it.
    pub fn environment(&self, env: &str) -> Result<&Environment, ConfigError> {
        self.config.environments.get(env).ok_or_else(|| ConfigError::UnknownEnvironment { env: env.to_string() })
    }

    /// Whether `scope` is `global` or an active region.
    pub fn is_scope(&self, scope: &str) -> bool {
        scope == "global" || self.regions.iter().any(|r| r == scope)
    }

    /// The scopes a mesh service gets a leaf in: `[global]`, or its regions (default: all).
    /// Regions not in regions.yaml are kept so validation can report them.
    pub fn service_scopes(&self, service: &Service) -> Vec<String> {
        match service.scope {
            Some(ScopeKind::Global) | None => vec!["global".to_string()],
            Some(ScopeKind::Regional) => match &service.regions {
                Some(rs) => rs.clone(),
                None => self.regions.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "baseDomain: wardnet.example\nenvironments:\n  prd:\n    provider:\n      kind: dir\n      path: ../provider-prd\nservices:\n  api:\n    pki: wardnet-mesh\n    scope: global\n    dnsNames: [api.internal]\n  web:\n    pki: wardnet-mesh\n    scope: regional\n    regions: [us-east-1]\n  cron: {}\n";

    #[test]
    fn parses_the_spec_example() {
        let p = Project::parse(CFG, Some("regions: [us-east-1, eu-west-1]\n")).unwrap();
        assert_eq!(p.regions, vec!["us-east-1", "eu-west-1"]);
        assert!(matches!(p.environment("prd").unwrap().provider, Provider::Dir { .. }));
        assert_eq!(p.service_scopes(&p.config.services["web"]), vec!["us-east-1"]);
        assert_eq!(p.service_scopes(&p.config.services["api"]), vec!["global"]);
        assert!(p.config.services["cron"].pki.is_none());
        assert!(p.is_scope("global") && p.is_scope("eu-west-1") && !p.is_scope("ap-south-1"));
    }

    #[test]
    fn etcd_provider_rules() {
        let etcd = |body: &str| {
            let cfg = format!("baseDomain: w.example\nenvironments:\n  prd:\n    provider:\n      kind: etcd\n{body}");
            let p = Project::parse(&cfg, None).unwrap();
            p.environment("prd").unwrap().provider.check("prd")
        };
        assert!(etcd("      endpoints: [http://127.0.0.1:2379]\n      prefix: /inforge/prd\n").is_ok());
        assert!(etcd("      endpoints: [https://e1:2379]\n      prefix: /i\n      caFile: ca.pem\n      certFile: c.pem\n      keyFile: k.pem\n").is_ok());
        for (body, field) in [
            ("      endpoints: []\n      prefix: /i\n", "endpoints"),
            ("      endpoints: [127.0.0.1:2379]\n      prefix: /i\n", "endpoints"),
            ("      endpoints: [http://e1:2379/x]\n      prefix: /i\n", "endpoints"),
            ("      endpoints: [http://a:1, https://b:1]\n      prefix: /i\n      caFile: ca.pem\n", "endpoints"),
            ("      endpoints: [https://e1:2379]\n      prefix: /i\n", "caFile"),
            ("      endpoints: [http://e1:2379]\n      prefix: /i\n      caFile: ca.pem\n", "caFile"),
            (
                "      endpoints: [https://e1:2379]\n      prefix: /i\n      caFile: ca.pem\n      certFile: c.pem\n",
                "certFile",
            ),
            ("      endpoints: [http://e1:2379]\n      prefix: inforge\n", "prefix"),
            ("      endpoints: [http://e1:2379]\n      prefix: /inforge/\n", "prefix"),
            ("      endpoints: [http://e1:2379]\n      prefix: /a/../b\n", "prefix"),
        ] {
            let e = etcd(body).unwrap_err();
            assert_eq!(crate::Coded::code(&e), "provider-invalid");
            assert!(e.to_string().contains(&format!("provider.{field}")), "{body}: {e}");
        }
        let e = Project::parse("baseDomain: w.example\nenvironments:\n  prd:\n    provider:\n      kind: etcd\n      endpoints: [http://e:1]\n      prefix: /p\n      password: x\n", None).unwrap_err();
        assert!(e.to_string().contains("password"), "{e}");
    }

    #[test]
    fn unknown_fields_and_bad_names_are_errors() {
        let e = Project::parse(&CFG.replace("scope: global", "scpoe: global"), None).unwrap_err();
        assert!(e.to_string().contains("scpoe"), "{e}");
        let e = Project::parse(&CFG.replace("wardnet.example", "Wardnet.Example"), None).unwrap_err();
        assert!(e.to_string().contains("baseDomain"), "{e}");
        let e = Project::parse(&CFG.replace("  api:", "  a/pi:"), None).unwrap_err();
        assert!(e.to_string().contains("service name"), "{e}");
        let e = Project::parse(CFG, Some("regions: [global]\n")).unwrap_err();
        assert!(e.to_string().contains("reserved"), "{e}");
        assert_eq!(crate::Coded::code(&e), "name-reserved");
        let e = Project::parse(&CFG.replace("[api.internal]", "[api_internal]"), None).unwrap_err();
        assert_eq!(crate::Coded::code(&e), "dns-name-invalid");
        let e = Project::parse(&CFG.replace("kind: dir", "kind: s3"), None).unwrap_err();
        assert_eq!(crate::Coded::code(&e), "config-invalid");
    }
}

/// The part of the secret store inforge reads: its `recipient:` (every other field ignored).
#[derive(Debug, Deserialize)]
struct SecretStoreHead {
    #[serde(default)]
    recipient: Option<String>,
}

/// Reads the CI recipient out of `resources/<env>/secrets.enc.yaml` text.
pub fn secret_store_recipient(file: &str, text: &str) -> Result<Option<String>, crate::Error> {
    let head: SecretStoreHead = parse_yaml(file, text)?;
    match head.recipient {
        Some(r) => Ok(Some(crate::crypto::custody::parse_recipient(&format!("{file} recipient"), &r)?)),
        None => Ok(None),
    }
}
