//! A plugin's variables and configuration at run time, from the manifest and the process
//! environment: what `meltano run` hands a plugin (Meltano's `PluginInvoker.env` in
//! `core/plugin_invoker.py`, `PluginSettingsService` in `core/plugin/settings_service.py`).
//!
//! The variables follow Meltano's documented layering (the same as `meltc config`,
//! `resolve::plugin_env`): process < Meltano's own (`MELTANO_PROJECT_ROOT`, project settings
//! as `MELTANO_<SETTING>`) < project `env:` < plugin info (`MELTANO_EXTRACTOR_NAME`) < plugin
//! `env:` blocks (parents first) < environment `env:` < the environment's plugin `env:`; each
//! block is expanded against what is below it and its own earlier entries.
//!
//! Each setting's value: the one env var of those it is read from that is set, else the value
//! the build chose (environment, meltano.yml, parent or default), expanded against the
//! variables (an extra also sees the plugin's settings as variables); a value that expands to
//! nothing is unset; then cast to the setting's kind. Two of its env vars set is an error, as in
//! Meltano.
//!
//! A secret that meltano.yml writes literally is not in the manifest: the pod has it under a
//! key of the Secret ([`crate::manifest::SecretLiteral`]). [`split_literals`] takes those keys
//! out of the process environment, and the value goes exactly where meltano.yml wrote it (an
//! `env:` entry, a setting's value), so each plugin gets the variables and the configuration
//! Meltano would give it, and no other.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::manifest::{self, EnvMap, EnvValue, Manifest, Plugin};
use crate::meltano::cast;
use crate::meltano::env_layers::EnvSource;
use crate::meltano::env_layers::{self, EnvBlock, EnvEntry, Layers, layer};
use crate::meltano::env_var::to_env_var;
use crate::meltano::plugin_config::processed;
use crate::meltano::python_json;
use crate::meltano::python_json::truthy;
use crate::meltano::setting_value::{
    ConfigError, SettingValue, Source, Variable, VariableOrigin, env_var_value, written_env,
};
use crate::meltano::template::{ConfigValue, Template};

/// Where the run happens.
#[derive(Clone, Debug)]
pub struct Host<'a> {
    /// The process environment, without the keys of [`Host::literals`].
    pub process: &'a BTreeMap<String, String>,
    /// The literal secrets of meltano.yml, by Secret key ([`split_literals`]).
    pub literals: &'a BTreeMap<String, String>,
    /// The project root in the image (`MELTANO_PROJECT_ROOT`).
    pub project_root: &'a str,
    /// `MELTANO_USER_AGENT`.
    pub user_agent: &'a str,
}

/// A plugin ready to start: its variables and its configuration.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Every variable of the plugin's process (the layers, then its settings as variables).
    pub env: IndexMap<String, String>,
    /// The configuration: for Singer plugins the config file's content, else flat.
    pub config: Map<String, Value>,
    /// Every setting and extra with its value.
    pub values: Vec<SettingValue>,
}

impl Prepared {
    /// The value of an extra (`_select`, `_metadata`...), when set.
    #[must_use]
    pub fn extra(&self, name: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|value| value.setting.name == name)
            .and_then(|value| value.value.as_ref())
    }
}

/// The Secret keys that hold literal secrets of meltano.yml and that the plugins do not see as
/// variables: those of the `env:` blocks of the project, the environment and the plugins, and
/// of settings (a schedule's are variables of the pod; a project setting's is its own
/// `MELTANO_<SETTING>`, read from the process as Meltano reads it).
#[must_use]
pub fn literal_keys(manifest: &Manifest) -> Vec<&str> {
    let blocks = std::iter::once(&manifest.env)
        .chain(
            manifest
                .environment
                .iter()
                .map(|environment| &environment.env),
        )
        .chain(
            manifest
                .plugins
                .iter()
                .flat_map(|plugin| plugin.env.iter().map(|block| &block.vars)),
        );
    let in_blocks = blocks
        .flat_map(|block| block.values())
        .filter_map(EnvValue::secret_literal);
    let in_settings = manifest
        .plugins
        .iter()
        .flat_map(|plugin| plugin.settings.iter().chain(&plugin.extras))
        .filter_map(|setting| setting.secret_literal.as_ref());
    let mut keys: Vec<&str> = in_blocks
        .chain(in_settings)
        .map(|literal| literal.key.as_str())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Split the pod's environment in two: the variables the plugins see, and the literal secrets
/// ([`literal_keys`]) that are handed over only where meltano.yml writes them.
#[must_use]
pub fn split_literals(
    manifest: &Manifest,
    mut process: BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let literals = literal_keys(manifest)
        .into_iter()
        .filter_map(|key| process.remove_entry(key))
        .collect();
    (process, literals)
}

/// An `env:` block of the manifest as the layering takes it: a literal secret is the Secret's
/// value as it is (left out when the pod lacks the key).
fn block<'a>(vars: &'a EnvMap, literals: &'a BTreeMap<String, String>) -> EnvBlock<'a, ()> {
    vars.iter()
        .filter_map(|(name, value)| {
            let entry = match value {
                EnvValue::Written(text) => EnvEntry::Written(Cow::Borrowed(text.as_str())),
                EnvValue::Secret { secret_literal } => {
                    EnvEntry::Literal(Cow::Borrowed(literals.get(&secret_literal.key)?.as_str()))
                }
            };
            Some((name.as_str(), entry, ()))
        })
        .collect()
}

/// The plain values of a layering.
fn values_of(env: env_layers::EnvMap<()>) -> IndexMap<String, String> {
    env.into_iter()
        .map(|(name, value)| (name, value.value))
        .collect()
}

/// Every layer of the run's variables, with no plugin yet: the process, Meltano's own
/// variables and the project settings as `MELTANO_<SETTING>` below, the project's and the
/// environment's `env:`.
fn project_layers<'a>(manifest: &'a Manifest, host: &'a Host<'_>) -> Layers<'a, ()> {
    Layers {
        dotenv: env_layers::EnvMap::new(),
        below: env_layers::tagged(&below_plugins(manifest, host), &()),
        project: block(&manifest.env, host.literals),
        plugin_info: env_layers::EnvMap::new(),
        plugin: Vec::new(),
        environment: manifest
            .environment
            .as_ref()
            .map_or_else(Vec::new, |environment| {
                block(&environment.env, host.literals)
            }),
        environment_plugin: Vec::new(),
    }
}

/// The process, Meltano's own variables and the project settings as `MELTANO_<SETTING>`: the
/// variables below every `env:` block.
fn below_plugins(manifest: &Manifest, host: &Host<'_>) -> IndexMap<String, String> {
    let mut env: IndexMap<String, String> = host
        .process
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let environment = manifest
        .environment
        .as_ref()
        .map_or("", |environment| environment.name.as_str());
    for (name, value) in [
        ("MELTANO_PROJECT_ROOT", host.project_root.to_owned()),
        ("MELTANO_ENVIRONMENT", environment.to_owned()),
        (
            "MELTANO_SYS_DIR_ROOT",
            format!("{}/.meltano", host.project_root),
        ),
        ("MELTANO_USER_AGENT", host.user_agent.to_owned()),
    ] {
        env.insert(name.to_owned(), value);
    }
    for (name, value) in &manifest.settings {
        let var = to_env_var("meltano", name);
        // A project setting set in the terminal beats meltano.yml (the order of Meltano's
        // `SettingValueStore`, `core/settings_store.py`): a pod points `MELTANO_STATE_BACKEND_URI`
        // elsewhere without a rebuild.
        if host.process.contains_key(&var) {
            continue;
        }
        let text = match value {
            Value::Null => continue,
            Value::String(text) => {
                Template::parse(text).expand(&|var| env.get(var).map(String::as_str))
            }
            other => python_json::dumps(other, None),
        };
        env.insert(var, text);
    }
    env
}

/// The project's variables without a plugin (where the state backend's settings are read):
/// the layers below the plugins, then the environment's `env:`.
#[must_use]
pub fn project_variables(manifest: &Manifest, host: &Host<'_>) -> IndexMap<String, String> {
    values_of(layer(&project_layers(manifest, host)))
}

/// The variables `plugin` sees, before its own settings are added.
#[must_use]
pub fn plugin_variables(
    manifest: &Manifest,
    plugin: &Plugin,
    host: &Host<'_>,
) -> IndexMap<String, String> {
    let mut layers = project_layers(manifest, host);
    {
        let singular = plugin.plugin_type.singular().to_ascii_uppercase();
        for (field, value) in [
            ("NAME", &plugin.name),
            ("NAMESPACE", &plugin.namespace),
            ("VARIANT", &plugin.variant),
        ] {
            layers.plugin_info.insert(
                format!("MELTANO_{singular}_{field}"),
                env_layers::EnvValue {
                    value: value.clone(),
                    source: (),
                },
            );
        }
    }
    // The manifest lists the plugin's blocks (parents first), then the environment's.
    for vars in &plugin.env {
        let entries = block(&vars.vars, host.literals);
        if vars.from.starts_with("environment:") {
            layers.environment_plugin.push(entries);
        } else {
            layers.plugin.push(entries);
        }
    }
    values_of(layer(&layers))
}

/// Work out `plugin`'s variables and configuration on this host.
///
/// # Errors
/// Every setting Meltano would refuse: several of its env vars set, a value that does not fit
/// its kind.
pub fn prepare(
    manifest: &Manifest,
    plugin: &Plugin,
    host: &Host<'_>,
) -> Result<Prepared, Vec<ConfigError>> {
    let mut env = plugin_variables(manifest, plugin, host);
    let mut errors = Vec::new();
    let settings = values(
        plugin,
        &plugin.settings,
        (&env, host.literals),
        &IndexMap::new(),
        &mut errors,
    );
    let written = written_env(&plugin.write_prefixes, &settings);
    let extras = values(
        plugin,
        &plugin.extras,
        (&env, host.literals),
        &written,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(errors);
    }
    env.extend(written);
    env.extend(written_env(&plugin.write_prefixes, &extras));
    // The class computed at build time from the definition (an `airflow-dev` inheriting from
    // `airflow` is Airflow), never re-derived from the name.
    let config = processed(plugin.class, &settings);
    let mut values = settings;
    values.extend(extras);
    Ok(Prepared {
        env,
        config,
        values,
    })
}

/// The plugin's variables, and the literal secrets by key.
type Variables<'a> = (&'a IndexMap<String, String>, &'a BTreeMap<String, String>);

/// The config file of a mapping: its plugin's configuration (`prepared`), with each
/// top-level key of the mapping's `config` written over it once more, expanded against the
/// process and the project's `env:` only (Meltano's `SingerMapper.before_configure`, which
/// expands it against `.env` and the project settings' environment, so a variable that only
/// a plugin's or the environment's `env:` sets is empty there).
#[must_use]
pub fn mapping_config(
    manifest: &Manifest,
    mapping: &manifest::Mapping,
    prepared: &Prepared,
    host: &Host<'_>,
) -> Map<String, Value> {
    let mut layers = project_layers(manifest, host);
    layers.environment = Vec::new();
    let project = values_of(layer(&layers));
    let mut config = prepared.config.clone();
    for (key, value) in &mapping.config {
        let expanded =
            ConfigValue::from_json(value).expand(&|var| project.get(var).map(String::as_str));
        config.insert(key.clone(), expanded);
    }
    config
}

fn values(
    plugin: &Plugin,
    settings: &[manifest::Setting],
    variables: Variables<'_>,
    extra: &IndexMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> Vec<SettingValue> {
    settings
        .iter()
        .filter_map(|setting| match value(plugin, setting, variables, extra) {
            Ok(value) => Some(value),
            Err(error) => {
                errors.push(error);
                None
            }
        })
        .collect()
}

fn value(
    plugin: &Plugin,
    written: &manifest::Setting,
    (env, literals): Variables<'_>,
    extra: &IndexMap<String, String>,
) -> Result<SettingValue, ConfigError> {
    let setting = Arc::new(written.model());
    let found = env_var_value(
        &setting,
        &plugin.read_prefixes,
        plugin.read_env_aliases,
        |name| env.get(name).map(|text| (text.as_str(), ())),
    )?;
    let mut variables = Vec::new();
    let (raw, source) = if let Some(found) = found {
        (
            Some(Value::String(found.text)),
            Source::EnvVar(found.name, EnvSource::Process),
        )
    } else if let Some(literal) = &written.secret_literal {
        let (raw, present) = secret_literal(&setting.name, literal, literals, &|var| {
            extra.get(var).or_else(|| env.get(var)).map(String::as_str)
        })?;
        variables = vec![Variable {
            name: literal.key.clone(),
            origin: present.then_some(VariableOrigin::Env(EnvSource::Process)),
        }];
        (raw, Source::MeltanoYml(None))
    } else {
        let expanded = written.value.as_ref().and_then(|as_written| {
            let template = ConfigValue::from_json(as_written);
            let value =
                template.expand(&|var| extra.get(var).or_else(|| env.get(var)).map(String::as_str));
            // A value that expands to nothing is unset (Meltano's truthiness check).
            let emptied = truthy(as_written) && !truthy(&value);
            (!emptied).then_some(value)
        });
        variables = written
            .references
            .iter()
            .map(|name| Variable {
                name: name.clone(),
                origin: if extra.contains_key(name) {
                    Some(VariableOrigin::Setting)
                } else {
                    // Set but empty expands to nothing, as unset does: the secret is missing.
                    env.get(name)
                        .is_some_and(|value| !value.is_empty())
                        .then_some(VariableOrigin::Env(EnvSource::Process))
                },
            })
            .collect();
        (expanded, Source::MeltanoYml(None))
    };
    let value = match raw {
        Some(raw) => Some(
            cast::cast(&setting, raw).map_err(|problem| ConfigError::Cast {
                setting: setting.name.clone(),
                problem,
                origin: Box::new(source.clone()),
            })?,
        ),
        None => None,
    };
    Ok(SettingValue {
        setting,
        value,
        source,
        written: None,
        variables,
    })
}

/// A setting's literal secret from the Secret key that holds it, as if written in meltano.yml:
/// a string as it is, JSON parsed and expanded like any value written there. Also whether the
/// pod has it (an empty key counts as missing: the literal was never empty).
///
/// # Errors
/// The key of a literal that was not a string holds no JSON.
fn secret_literal<'v>(
    setting: &str,
    literal: &manifest::SecretLiteral,
    literals: &BTreeMap<String, String>,
    variables: &impl Fn(&str) -> Option<&'v str>,
) -> Result<(Option<Value>, bool), ConfigError> {
    let Some(text) = literals.get(&literal.key).filter(|text| !text.is_empty()) else {
        return Ok((None, false));
    };
    if !literal.json {
        return Ok((Some(Value::String(text.clone())), true));
    }
    let parsed: Value = serde_json::from_str(text).map_err(|_| ConfigError::SecretNotJson {
        setting: setting.to_owned(),
        key: literal.key.clone(),
    })?;
    Ok((
        Some(ConfigValue::from_json(&parsed).expand(variables)),
        true,
    ))
}
