//! The inspector's inputs resolved once: the environment, the project (the config's or the one the
//! store implies) and validation with or without `inforge.yaml`.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use crate::crypto::cert::Cert;
use crate::error::InspectError;
use crate::mesh::GLOBAL;
use crate::model::config::{Environment, Project, ProjectConfig, Provider};
use crate::model::store::Store;
use crate::views::validate::Report;
use crate::Error;

/// The environment every root's subject names (`<pki> <env> root CA <kid>`), if they agree.
pub fn store_env(store: &Store) -> Option<String> {
    let envs: BTreeSet<String> = store
        .pkis
        .values()
        .filter_map(|p| Cert::from_pem(p.root.cert.as_str(), "root").ok()?.common_name())
        .filter_map(|cn| match cn.split(' ').collect::<Vec<_>>().as_slice() {
            [_, env, "root", "CA", _] => Some(env.to_string()),
            _ => None,
        })
        .collect();
    match envs.len() {
        1 => envs.into_iter().next(),
        _ => None,
    }
}

/// The environment to check: the one given, else the one the store's roots name, else the only
/// one `inforge.yaml` declares.
pub fn resolve_env(given: Option<&str>, store: Option<&Store>, project: Option<&Project>) -> Result<String, Error> {
    if let Some(e) = given.filter(|e| !e.is_empty()) {
        crate::model::names::check_segment("environment", e)?;
        return Ok(e.to_string());
    }
    if let Some(e) = store.and_then(store_env) {
        return Ok(e);
    }
    let reason = match project.map(|p| p.config.environments.keys().collect::<Vec<_>>()) {
        Some(envs) if envs.len() == 1 => return Ok(envs[0].clone()),
        Some(envs) => format!("inforge.yaml declares {} environments and the store names none", envs.len()),
        None => "the store's certificates name none and no inforge.yaml was given".into(),
    };
    Err(InspectError::EnvUnknown { reason }.into())
}

/// Without `inforge.yaml`, the project the store implies: `env` declared, no services, and
/// the regions of `regions.yaml` or else every region the store has an intermediate for (so
/// nothing is reported inactive that the missing file might have declared).
pub(crate) fn implied_project(store: Option<&Store>, regions_yaml: Option<&str>, env: &str) -> Result<Project, Error> {
    let regions = match regions_yaml {
        Some(t) => Project::parse("baseDomain: inspector.invalid\n", Some(t))?.regions,
        None => {
            let scopes: BTreeSet<&String> =
                store.into_iter().flat_map(|s| s.pkis.values()).flat_map(|p| p.intermediates.keys()).collect();
            scopes.into_iter().filter(|s| *s != GLOBAL).cloned().collect()
        }
    };
    let environments =
        BTreeMap::from([(env.to_string(), Environment { provider: Provider::Dir { path: ".".into() } })]);
    Ok(Project {
        config: ProjectConfig { base_domain: "inspector.invalid".into(), environments, services: BTreeMap::new() },
        regions,
    })
}

/// The inspector's inputs resolved once: `inforge.yaml` parsed when given, the environment
/// ([`resolve_env`]) and the project (the config's, or the one the store implies). Every
/// inspector view that needs a project goes through here.
pub fn resolve(
    config: Option<&str>,
    regions: Option<&str>,
    store: &Store,
    env: Option<&str>,
) -> Result<(Project, String), Error> {
    let project = config.map(|c| Project::parse(c, regions)).transpose()?;
    let env = resolve_env(env, Some(store), project.as_ref())?;
    let project = match project {
        Some(p) => p,
        None => project_or_implied(None, regions, Some(store), &env)?,
    };
    Ok((project, env))
}

/// The project from the given texts, or the one the store implies when `inforge.yaml` is absent.
pub fn project_or_implied(
    inforge_yaml: Option<&str>,
    regions_yaml: Option<&str>,
    store: Option<&Store>,
    env: &str,
) -> Result<Project, Error> {
    match inforge_yaml {
        Some(c) => Ok(Project::parse(c, regions_yaml)?),
        None => implied_project(store, regions_yaml, env),
    }
}

/// `validate` for the inspector: with `inforge.yaml`, exactly the CLI's
/// [`validate_texts`](crate::views::validate::validate_texts); without it, the store's own checks
/// (chains, profiles, expiry, overlap) against the project it implies. `env` as
/// [`resolve_env`].
pub fn validate(
    inforge_yaml: Option<&str>,
    regions_yaml: Option<&str>,
    store_yaml: Option<&str>,
    env: Option<&str>,
    now: OffsetDateTime,
) -> Result<Report, Error> {
    let path_env = env.unwrap_or("prd");
    let store = store_yaml.map(|t| Store::parse(&crate::model::store::store_path(path_env), t));
    let parsed = store.as_ref().and_then(|s| s.as_ref().ok());
    let project = inforge_yaml.and_then(|c| Project::parse_schema(c, regions_yaml).ok());
    let env = match (resolve_env(env, parsed, project.as_ref()), inforge_yaml) {
        (Ok(e), _) => e,
        // A config that does not parse is itself the finding: report it under any name.
        (Err(_), Some(_)) if project.is_none() => "prd".into(),
        (Err(e), _) if parsed.is_some() || inforge_yaml.is_some() => return Err(e),
        // No config and an unreadable store: the store's own error is the finding.
        (Err(_), _) => path_env.into(),
    };
    if let Some(c) = inforge_yaml {
        return Ok(crate::views::validate::validate_texts(c, regions_yaml, store_yaml, &env, now));
    }
    let Some(store_yaml) = store_yaml else {
        return Err(InspectError::EnvUnknown { reason: "neither a store nor inforge.yaml was given".into() }.into());
    };
    match Store::parse(&crate::model::store::store_path(&env), store_yaml) {
        Ok(store) => {
            let project = implied_project(Some(&store), regions_yaml, &env)?;
            Ok(crate::views::validate::validate(&project, Some(&store), &env, now))
        }
        // The same diagnostic the CLI gives for an unreadable store (via a minimal config).
        Err(_) => {
            let cfg = format!(
                "baseDomain: inspector.invalid\nenvironments: {{{env}: {{provider: {{kind: dir, path: .}}}}}}\n"
            );
            let mut r = crate::views::validate::validate_texts(&cfg, regions_yaml, Some(store_yaml), &env, now);
            r.diagnostics.retain(|d| d.file != "inforge.yaml");
            Ok(r)
        }
    }
}
