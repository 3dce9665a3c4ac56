//! A plugin's variables and configuration at run time, from the manifest and the process
//! environment: what `meltano run` hands a plugin (reference/meltano-spec.md §7, §8).
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

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::manifest::{self, Manifest, Plugin};
use crate::project::PluginType;
use crate::resolve::cast;
use crate::resolve::config::{
    ConfigError, SettingValue, Source, Variable, VariableOrigin, processed, written_env,
};
use crate::resolve::expand::{ConfigValue, Template};
use crate::resolve::plugin_env::EnvSource;
use crate::resolve::python_json;
use crate::resolve::python_json::truthy;
use crate::resolve::settings::{PluginClass, to_env_var};

/// Where the run happens.
#[derive(Clone, Debug)]
pub struct Host<'a> {
    /// The process environment.
    pub process: &'a BTreeMap<String, String>,
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

/// Expand each entry of `block` against `below` and the block's earlier entries, into `out`.
fn layer(
    block: &IndexMap<String, String>,
    below: &IndexMap<String, String>,
    out: &mut IndexMap<String, String>,
) {
    let mut expanded: IndexMap<String, String> = IndexMap::new();
    for (name, text) in block {
        let value = Template::parse(text).expand(&|var| {
            expanded
                .get(var)
                .or_else(|| below.get(var))
                .map(String::as_str)
        });
        expanded.insert(name.clone(), value);
    }
    out.extend(expanded);
}

/// The process, Meltano's own variables, the project settings as `MELTANO_<SETTING>` and the
/// project `env:`: the layers below every plugin.
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
        // A project setting set in the terminal beats meltano.yml (spec §8.2): a pod points
        // `MELTANO_STATE_BACKEND_URI` elsewhere without a rebuild.
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
    let below = env.clone();
    layer(&manifest.env, &below, &mut env);
    env
}

/// The project's variables without a plugin (where the state backend's settings are read):
/// the layers below the plugins, then the environment's `env:`.
#[must_use]
pub fn project_variables(manifest: &Manifest, host: &Host<'_>) -> IndexMap<String, String> {
    let mut env = below_plugins(manifest, host);
    if let Some(environment) = &manifest.environment {
        let below = env.clone();
        layer(&environment.env, &below, &mut env);
    }
    env
}

/// The variables `plugin` sees, before its own settings are added.
#[must_use]
pub fn plugin_variables(
    manifest: &Manifest,
    plugin: &Plugin,
    host: &Host<'_>,
) -> IndexMap<String, String> {
    let mut env = below_plugins(manifest, host);
    if let Some(plugin_type) = PluginType::parse(&plugin.plugin_type) {
        let singular = plugin_type.singular().to_ascii_uppercase();
        env.insert(format!("MELTANO_{singular}_NAME"), plugin.name.clone());
        env.insert(
            format!("MELTANO_{singular}_NAMESPACE"),
            plugin.namespace.clone(),
        );
        env.insert(
            format!("MELTANO_{singular}_VARIANT"),
            plugin.variant.clone(),
        );
    }
    // The environment's env: ranks above the plugins' blocks but is also visible to them.
    let mut environment_env = IndexMap::new();
    if let Some(environment) = &manifest.environment {
        layer(&environment.env, &env, &mut environment_env);
    }
    let (from_environment, own): (Vec<_>, Vec<_>) = plugin
        .env
        .iter()
        .partition(|block| block.from.starts_with("environment:"));
    let mut plugin_env = IndexMap::new();
    for block in own {
        let mut below = env.clone();
        below.extend(plugin_env.clone());
        below.extend(environment_env.clone());
        layer(&block.vars, &below, &mut plugin_env);
    }
    env.extend(plugin_env);
    env.extend(environment_env);
    for block in from_environment {
        let below = env.clone();
        layer(&block.vars, &below, &mut env);
    }
    env
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
        &env,
        &IndexMap::new(),
        &mut errors,
    );
    let written = written_env(&plugin.write_prefixes, &settings);
    let extras = values(plugin, &plugin.extras, &env, &written, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    env.extend(written);
    env.extend(written_env(&plugin.write_prefixes, &extras));
    let class = PluginType::parse(&plugin.plugin_type).map_or(PluginClass::Base, |plugin_type| {
        PluginClass::of(plugin_type, &plugin.name)
    });
    let config = processed(class, &settings);
    let mut values = settings;
    values.extend(extras);
    Ok(Prepared {
        env,
        config,
        values,
    })
}

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
    let project = below_plugins(manifest, host);
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
    env: &IndexMap<String, String>,
    extra: &IndexMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> Vec<SettingValue> {
    settings
        .iter()
        .filter_map(|setting| match value(plugin, setting, env, extra) {
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
    env: &IndexMap<String, String>,
    extra: &IndexMap<String, String>,
) -> Result<SettingValue, ConfigError> {
    let setting = Arc::new(written.model());
    let names = setting.env_vars_read(&plugin.read_prefixes, plugin.read_env_aliases);
    let set: Vec<_> = names
        .iter()
        .filter_map(|var| env.get(&var.name).map(|text| (var, text)))
        .collect();
    if set.len() > 1 {
        return Err(ConfigError::SeveralEnvVars {
            setting: setting.name.clone(),
            names: set.iter().map(|(var, _)| var.name.clone()).collect(),
        });
    }
    let mut variables = Vec::new();
    let (raw, source) = if let Some((var, text)) = set.first() {
        let text = if var.negated {
            if cast::truthy(text) { "False" } else { "True" }.to_owned()
        } else {
            (*text).clone()
        };
        (
            Some(Value::String(text)),
            Source::EnvVar(var.name.clone(), EnvSource::Process),
        )
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
