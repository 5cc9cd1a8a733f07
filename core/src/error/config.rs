//! The config area's failures (moved out of `model::config` so the error module depends on no area).

use super::name::NameError;
use crate::error::remedy::{Coded, Remedy};

/// The config files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// YAML syntax or schema error.
    #[error("{file} is not valid: {detail}")]
    Yaml {
        /// Which file.
        file: String,
        /// The parser's message (with location).
        detail: String,
    },
    /// A name breaks the naming rules.
    #[error("{file}: {source}")]
    Name {
        /// Which file.
        file: String,
        /// The rule broken.
        source: NameError,
    },
    /// The environment is not declared.
    #[error("environment {env:?} is not declared in inforge.yaml")]
    UnknownEnvironment {
        /// The environment asked for.
        env: String,
    },
    /// The service is not declared.
    #[error("service {service:?} is not declared in inforge.yaml")]
    UnknownService {
        /// The service asked for.
        service: String,
    },
    /// The service has no `pki:`.
    #[error("service {service:?} is not in a mesh (it has no `pki:`)")]
    NotInMesh {
        /// The service asked for.
        service: String,
    },
    /// An environment's provider is misconfigured.
    #[error("{}: {rule}", provider_field(env, field))]
    ProviderInvalid {
        /// The environment (empty: a provider given outside inforge.yaml, e.g. the
        /// bootstrapper's flags).
        env: String,
        /// The field.
        field: String,
        /// The rule broken.
        rule: String,
    },
}

impl Coded for ConfigError {
    fn code(&self) -> &'static str {
        match self {
            ConfigError::Yaml { .. } => "config-invalid",
            ConfigError::Name { source, .. } => Coded::code(source),
            ConfigError::UnknownEnvironment { .. } => "environment-unknown",
            ConfigError::UnknownService { .. } => "service-unknown",
            ConfigError::NotInMesh { .. } => "service-not-in-mesh",
            ConfigError::ProviderInvalid { .. } => "provider-invalid",
        }
    }
    fn remedy(&self) -> Remedy {
        let text: String = {
            match self {
                ConfigError::Yaml { file, .. } => {
                    format!("fix {file} at the location shown (see docs/config.md)")
                }
                ConfigError::Name { source, .. } => return source.remedy(),
                ConfigError::UnknownEnvironment { env } => {
                    format!("add `environments: {{{env}: {{provider: {{kind: dir, path: …}}}}}}` to inforge.yaml, or check the spelling")
                }
                ConfigError::UnknownService { .. } => "check the spelling against `services:` in inforge.yaml".into(),
                ConfigError::NotInMesh { service } => {
                    format!("add `pki:` (the mesh's name) and `scope:` to services.{service} in inforge.yaml to join a mesh")
                }
                ConfigError::ProviderInvalid { env, .. } if env.is_empty() => {
                    "fix the provider settings as the message says (see docs/provider.md)".into()
                }
                ConfigError::ProviderInvalid { env, .. } => {
                    format!("fix environments.{env}.provider in inforge.yaml (see docs/provider.md)")
                }
            }
        };
        text.into()
    }
}

/// Where a provider setting lives: its inforge.yaml path, or just its name when the provider
/// was given another way.
fn provider_field(env: &str, field: &str) -> String {
    if env.is_empty() {
        format!("provider setting {field}")
    } else {
        format!("environments.{env}.provider.{field}")
    }
}
