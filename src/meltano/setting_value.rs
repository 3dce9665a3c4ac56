//! A setting's effective value and where it comes from, as `meltc config` (build machine) and
//! `meltc-run` (pod) both work it out (`meltano/core/settings_service.py`
//! `SettingsService.get_with_metadata`), and the env vars Meltano writes for the values
//! (`meltano/core/settings_service.py` `SettingsService.as_env`).

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::cast::{self, CastError};
use super::env_layers::EnvSource;
use super::setting::{Declared, Setting};
use crate::diagnostics::Span;

/// Where a setting's value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// No value anywhere.
    Unset,
    /// The default of the setting's declaration.
    Default(Declared),
    /// An environment variable (the name, and where the plugin's variable comes from).
    EnvVar(String, EnvSource),
    /// A variable in the project's `.env`.
    DotEnv(String),
    /// The selected environment's config (environment name, where).
    Environment(String, Option<Span>),
    /// The plugin's entry in meltano.yml (or an included file).
    MeltanoYml(Option<Span>),
    /// The project parent's value.
    Inherited(String, Box<Source>),
    /// An object built from its leaf settings; the strongest leaf source.
    Assembled(Box<Source>),
}

impl Source {
    /// Meltano's store order: a lower rank wins.
    #[must_use]
    pub fn rank(&self) -> u8 {
        match self {
            Source::EnvVar(..) => 1,
            Source::DotEnv(_) => 2,
            Source::Environment(..) => 3,
            Source::MeltanoYml(_) => 4,
            Source::Inherited(..) => 6,
            Source::Default(_) | Source::Unset => 7,
            Source::Assembled(inner) => inner.rank(),
        }
    }
}

/// A setting whose value cannot be worked out (Meltano fails the same way).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// Several of the env vars a setting is read from are set.
    #[error("setting `{setting}` is set by several environment variables: {}", .names.join(", "))]
    SeveralEnvVars {
        /// The setting.
        setting: String,
        /// The variables that are set.
        names: Vec<String>,
    },
    /// The setting's name and an alias are both written, with different values.
    #[error("setting `{setting}` is written under several names with different values: {}", .names.join(", "))]
    Conflicting {
        /// The setting.
        setting: String,
        /// The names written.
        names: Vec<String>,
    },
    /// A literal secret that was not a string (a number, a mapping) comes from a Secret key
    /// that holds no JSON (the value is never shown).
    #[error(
        "setting `{setting}` comes from the Secret key `{key}`, which does not hold JSON (the value meltano.yml wrote there was not a string)"
    )]
    SecretNotJson {
        /// The setting.
        setting: String,
        /// The Secret key.
        key: String,
    },
    /// The value does not fit the kind.
    #[error("the value of setting `{setting}` {problem}")]
    Cast {
        /// The setting.
        setting: String,
        /// What is wrong.
        problem: CastError,
        /// Where the value comes from.
        origin: Box<Source>,
    },
}

/// One setting's effective value.
#[derive(Clone, Debug)]
pub struct SettingValue {
    /// The setting.
    pub setting: Arc<Setting>,
    /// The value, expanded and cast; `None` when unset.
    pub value: Option<Value>,
    /// Where it comes from.
    pub source: Source,
    /// The value as written when it had `${VAR}` references (shown next to the value).
    pub written: Option<Value>,
    /// The variables those references read, and where each was found.
    pub variables: Vec<Variable>,
}

/// A `${VAR}` a value references, and where its value came from (`None`: unset).
#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    /// The variable name.
    pub name: String,
    /// Where it was found.
    pub origin: Option<VariableOrigin>,
}

/// Where a referenced variable was found.
#[derive(Clone, Debug, PartialEq)]
pub enum VariableOrigin {
    /// A variable the plugin sees (process, Meltano's own, an `env:` block).
    Env(EnvSource),
    /// The project's `.env`.
    DotEnv,
    /// Another setting of the plugin, as an env var (extras see the plugin's settings).
    Setting,
}

/// The env vars written for `values` (`as_env`): each non-null value under every name.
#[must_use]
pub fn written_env(write_prefixes: &[String], values: &[SettingValue]) -> IndexMap<String, String> {
    let mut env = IndexMap::new();
    for value in values {
        let Some(json) = &value.value else { continue };
        let text = cast::env_text(&value.setting, json);
        for name in value.setting.env_vars_written(write_prefixes) {
            env.insert(name, text.clone());
        }
    }
    env
}

/// The one env var a setting's value is read from, its text (a negated boolean alias already
/// inverted) and where the variable came from.
#[derive(Clone, Debug, PartialEq)]
pub struct FoundEnvVar<T> {
    /// The variable.
    pub name: String,
    /// The value as the setting reads it.
    pub text: String,
    /// Where the variable came from (the caller's own tag).
    pub origin: T,
}

/// The env-var store of `meltano/core/settings_store.py` (`BaseEnvStoreManager.get`): the one env
/// var of those `setting` is read from ([`Setting::env_vars_read`]: every reading prefix,
/// each alias, then `env_aliases` when `with_env_aliases`) that `get` finds set, with a
/// negated alias (`!NAME`) read as the inverted boolean. `None` when none is set.
///
/// Build time (`meltc config`) and run time (`meltc-run`) both read through here, each with
/// its own idea of where a variable comes from (`T`).
///
/// # Errors
/// Several of the variables are set (Meltano raises `MultipleEnvVarsSetException`).
pub fn env_var_value<'v, T>(
    setting: &Setting,
    prefixes: &[String],
    with_env_aliases: bool,
    get: impl Fn(&str) -> Option<(&'v str, T)>,
) -> Result<Option<FoundEnvVar<T>>, ConfigError> {
    let mut found: Vec<FoundEnvVar<T>> = Vec::new();
    for var in setting.env_vars_read(prefixes, with_env_aliases) {
        if let Some((text, origin)) = get(&var.name) {
            let text = if var.negated {
                if cast::truthy(text) { "False" } else { "True" }.to_owned()
            } else {
                text.to_owned()
            };
            found.push(FoundEnvVar {
                name: var.name,
                text,
                origin,
            });
        }
    }
    if found.len() > 1 {
        return Err(ConfigError::SeveralEnvVars {
            setting: setting.name.clone(),
            names: found.into_iter().map(|found| found.name).collect(),
        });
    }
    Ok(found.pop())
}
