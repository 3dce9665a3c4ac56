//! The effective configuration of one plugin in one environment, each value with its source
//! (Meltano's `SettingValueStore` order and `MeltanoEnvStoreManager`, `core/settings_store.py`).
//! Used by `meltc config`, which passes the shell; values are expanded only here, against the
//! variables the plugin would see.
//!
//! For each setting the first non-null value wins, in Meltano's store order:
//!
//! 1. an environment variable (`<NAME>_<SETTING>`, `<NAMESPACE>_<SETTING>`, alias forms,
//!    `env_aliases` for plugins without `inherit_from`), from the process or any `env:` block;
//!    two of them set is an error, as in Meltano;
//! 2. the same names in `.env`;
//! 3. the environment's config for the plugin, by flattened leaf (so mappings deep-merge over
//!    the base config, lists replace, `null` falls through, `{}` does not clear);
//! 4. the plugin's `config:` (and extras) in meltano.yml, by flattened leaf;
//! 5. the project parent's value (`inherit_from`), resolved the same way but not expanded;
//! 6. the definition's default.
//!
//! Then values from meltano.yml, the environment and defaults are expanded (a value that
//! expands to nothing is unset); an object setting whose value is a default or inherited is
//! assembled from its leaf settings; the value is cast to the setting's kind.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::plugin::{Resolved, ResolvedPlugin};
use super::plugin_env::{EnvInputs, EnvMap, environment_entry};
use super::shell::Shell;
use super::values::{FlatConfig, config_value};
use crate::diagnostics::Span;
use crate::meltano::cast;
use crate::meltano::env_layers::USER_AGENT;
use crate::meltano::plugin_config::processed;
use crate::meltano::python_json::truthy;
use crate::meltano::setting::{Declared, Setting, implicit_settings};
use crate::meltano::setting_value::{
    ConfigError, FoundEnvVar, SettingValue, Source, Variable, VariableOrigin, env_var_value,
    written_env,
};
use crate::meltano::template::ConfigValue;
use crate::project::model::{Named, Plugin};
use crate::yaml::Node;

/// The effective configuration of a plugin.
#[derive(Clone, Debug)]
pub struct PluginConfig {
    /// Every non-extra setting, in Meltano's order.
    pub settings: Vec<SettingValue>,
    /// Every extra (`_select`...), in Meltano's order.
    pub extras: Vec<SettingValue>,
    /// What `meltano config print` shows: for Singer plugins the config file (nested, no
    /// nulls), for other plugins the flat name -> value map.
    pub config: Map<String, Value>,
    /// The env vars Meltano writes for the plugin's settings and extras (`SettingsService.as_env`,
    /// `core/settings_service.py`).
    pub env: IndexMap<String, String>,
}

/// What an evaluation needs besides the plugin.
pub struct Scope<'a, 'p> {
    /// The resolved project.
    pub resolved: &'a Resolved<'p>,
    /// The selected environment, if any.
    pub environment: Option<Named<'p>>,
    /// The process environment and `.env`.
    pub shell: &'a Shell,
    /// `MELTANO_USER_AGENT`.
    pub user_agent: &'a str,
}

/// Work out every setting of `plugin` in `scope`.
///
/// # Errors
/// Every setting Meltano would fail on (several env vars set, conflicting aliases, a value
/// that does not fit its kind).
pub fn evaluate(
    scope: &Scope<'_, '_>,
    plugin: &ResolvedPlugin<'_>,
) -> Result<PluginConfig, Vec<ConfigError>> {
    let context = Context::new(scope, plugin, false);
    let mut errors = Vec::new();
    let mut settings = Vec::new();
    for setting in context.settings.iter().filter(|s| !s.is_extra()) {
        match context.value(setting, &IndexMap::new()) {
            Ok(value) => settings.push(value),
            Err(error) => errors.push(error),
        }
    }
    // Extras are expanded with the plugin's other settings available as env vars.
    let written = written_env(&plugin.write_prefixes, &settings);
    let mut extras = Vec::new();
    for setting in context.settings.iter().filter(|s| s.is_extra()) {
        match context.value(setting, &written) {
            Ok(value) => extras.push(value),
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut env = written;
    env.extend(written_env(&plugin.write_prefixes, &extras));
    Ok(PluginConfig {
        config: processed(plugin.class, &settings),
        settings,
        extras,
        env,
    })
}

/// A setting's value as written, chosen without reading any variable.
#[derive(Clone, Debug)]
pub struct WrittenValue {
    /// The setting.
    pub setting: Arc<Setting>,
    /// The value as written (strings are templates); `None` when unset.
    pub value: Option<ConfigValue>,
    /// Where it comes from (never a variable).
    pub source: Source,
}

/// Every setting (extras included, in Meltano's order) of `plugin` in `environment`, as
/// `meltc build` needs it: the value from the environment's config, meltano.yml, the parent or
/// the default, **unexpanded and uncast**. The runtime does the rest (variables first, then
/// this value expanded and cast), so nothing of the build machine's environment is read.
///
/// # Errors
/// A setting written under several names with different values.
pub fn written_values(
    resolved: &Resolved<'_>,
    environment: Option<Named<'_>>,
    plugin: &ResolvedPlugin<'_>,
) -> Result<Vec<WrittenValue>, Vec<ConfigError>> {
    let shell = Shell::new(std::collections::BTreeMap::new(), None);
    let scope = Scope {
        resolved,
        environment,
        shell: &shell,
        user_agent: USER_AGENT,
    };
    let context = Context::new(&scope, plugin, true);
    let mut errors = Vec::new();
    let mut values = Vec::new();
    for setting in &context.settings {
        match context.resolve(setting, None) {
            Ok(candidate) => values.push(WrittenValue {
                setting: Arc::clone(setting),
                value: candidate.value,
                source: candidate.source,
            }),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// A value on its way: found in a store, maybe expanded, maybe cast.
struct Candidate {
    value: Option<ConfigValue>,
    expandable: bool,
    source: Source,
    written: Option<Value>,
    variables: Vec<Variable>,
}

/// One plugin's stores.
struct Context<'a, 'p> {
    plugin: &'a ResolvedPlugin<'p>,
    settings: Vec<Arc<Setting>>,
    env: EnvMap,
    dotenv: &'a IndexMap<String, String>,
    yml: FlatConfig,
    environment: Option<(String, FlatConfig)>,
    parent: Option<Box<Context<'a, 'p>>>,
    /// Build time: no variable is read (env stores skipped, nothing expanded).
    hermetic: bool,
}

impl<'a, 'p> Context<'a, 'p> {
    fn new(scope: &Scope<'a, 'p>, plugin: &'a ResolvedPlugin<'p>, hermetic: bool) -> Self {
        let inputs = EnvInputs {
            resolved: scope.resolved,
            environment: scope.environment,
            shell: scope.shell,
            user_agent: scope.user_agent,
        };
        let environment = scope.environment.and_then(|environment| {
            environment_entry(&environment, plugin).map(|entry| {
                (
                    environment.name.to_owned(),
                    config_with_extras(&entry, None, true),
                )
            })
        });
        let mut settings: Vec<Arc<Setting>> = plugin
            .settings
            .iter()
            .chain(&plugin.extras)
            .cloned()
            .collect();
        if let Some((_, flat)) = &environment {
            // Keys of the environment's entry that match no setting (`get_orphan_settings`).
            let nested = nest_flat(flat);
            let orphans = implicit_settings(
                &settings,
                &nested,
                &Declared::Implicit(plugin.name.clone()),
                false,
            );
            settings.extend(orphans.into_iter().map(Arc::new));
        }
        let parent = scope
            .resolved
            .parent(plugin)
            .map(|parent| Box::new(Context::new(scope, parent, hermetic)));
        Context {
            plugin,
            settings,
            // A hermetic evaluation never reads a variable: skip building them.
            env: if hermetic {
                EnvMap::new()
            } else {
                inputs.plugin_env(plugin)
            },
            dotenv: &scope.shell.dotenv,
            yml: config_with_extras(&plugin.entry, plugin.mapping, false),
            environment,
            parent,
            hermetic,
        }
    }

    /// The setting's effective value (expanded, assembled, cast).
    fn value(
        &self,
        setting: &Arc<Setting>,
        written: &IndexMap<String, String>,
    ) -> Result<SettingValue, ConfigError> {
        let candidate = self.resolve(setting, Some(written))?;
        Ok(SettingValue {
            setting: Arc::clone(setting),
            value: candidate.value.map(|value| value.as_written()),
            source: candidate.source,
            written: candidate.written,
            variables: candidate.variables,
        })
    }

    /// Meltano's `get_with_metadata`: with `expand` (the extra variables for expansion) the
    /// value is expanded and cast; without, it is returned as written (the parent's value).
    fn resolve(
        &self,
        setting: &Setting,
        expand: Option<&IndexMap<String, String>>,
    ) -> Result<Candidate, ConfigError> {
        let mut candidate = self.find(setting)?;
        if let (Some(extra), true) = (expand, candidate.expandable) {
            self.expand(&mut candidate, extra);
        }
        if setting.kind == Some(crate::meltano::SettingKind::Object)
            && matches!(
                candidate.source,
                Source::Default(_) | Source::Unset | Source::Inherited(..)
            )
        {
            self.assemble(setting, &mut candidate, expand)?;
        }
        if !candidate.expandable {
            if let Some(value) = candidate.value.take() {
                let cast = cast::cast(setting, value.as_written()).map_err(|problem| {
                    ConfigError::Cast {
                        setting: setting.name.clone(),
                        problem,
                        origin: Box::new(candidate.source.clone()),
                    }
                })?;
                candidate.value = Some(ConfigValue::literal(&cast));
            }
        }
        Ok(candidate)
    }

    fn expand(&self, candidate: &mut Candidate, extra: &IndexMap<String, String>) {
        candidate.expandable = false;
        let Some(value) = &candidate.value else {
            return;
        };
        let lookup = |name: &str| {
            extra
                .get(name)
                .or_else(|| self.env.get(name).map(|value| &value.value))
                .or_else(|| self.dotenv.get(name))
                .map(String::as_str)
        };
        let expanded = value.expand(&lookup);
        let references = value.references();
        if !references.is_empty() {
            candidate.written = Some(value.as_written());
        }
        for name in references {
            if candidate.variables.iter().any(|known| known.name == name) {
                continue;
            }
            let origin = if extra.contains_key(name) {
                Some(VariableOrigin::Setting)
            } else if let Some(found) = self.env.get(name) {
                Some(VariableOrigin::Env(found.source.clone()))
            } else {
                self.dotenv.get(name).map(|_| VariableOrigin::DotEnv)
            };
            candidate.variables.push(Variable {
                name: name.to_owned(),
                origin,
            });
        }
        let emptied = truthy(&value.as_written()) && !truthy(&expanded);
        candidate.value = (!emptied).then(|| ConfigValue::literal(&expanded));
    }

    /// An object setting from its leaf settings (`name.x`, `alias.x`).
    fn assemble(
        &self,
        setting: &Setting,
        candidate: &mut Candidate,
        expand: Option<&IndexMap<String, String>>,
    ) -> Result<(), ConfigError> {
        let mut object: IndexMap<String, ConfigValue> = IndexMap::new();
        let mut strongest = candidate.source.clone();
        for key in std::iter::once(&setting.name).chain(&setting.aliases) {
            let prefix = format!("{key}.");
            for leaf in &self.settings {
                let Some(nested) = leaf.name.strip_prefix(&prefix) else {
                    continue;
                };
                let found = self.resolve(leaf, expand)?;
                if object.contains_key(nested) {
                    continue;
                }
                object.insert(nested.to_owned(), found.value.unwrap_or(ConfigValue::Null));
                if found.source.rank() < strongest.rank() {
                    strongest = found.source;
                }
            }
        }
        if !object.is_empty() {
            candidate.value = Some(ConfigValue::Map(object));
            candidate.source = Source::Assembled(Box::new(strongest));
        }
        Ok(())
    }

    /// The first store with a non-null value.
    fn find(&self, setting: &Setting) -> Result<Candidate, ConfigError> {
        if self.hermetic {
            return self.find_written(setting);
        }
        let (prefixes, with_env_aliases) = (&self.plugin.read_prefixes, !self.plugin.inherits());
        if let Some(found) = env_var_value(setting, prefixes, with_env_aliases, |name| {
            self.env
                .get(name)
                .map(|value| (value.value.as_str(), value.source.clone()))
        })? {
            let FoundEnvVar { name, text, origin } = found;
            return Ok(literal(text, Source::EnvVar(name, origin)));
        }
        if let Some(found) = env_var_value(setting, prefixes, with_env_aliases, |name| {
            self.dotenv.get(name).map(|value| (value.as_str(), ()))
        })? {
            return Ok(literal(found.text, Source::DotEnv(found.name)));
        }
        self.find_written(setting)
    }

    /// The first store below the variables (environment, meltano.yml, parent, default).
    fn find_written(&self, setting: &Setting) -> Result<Candidate, ConfigError> {
        if let Some((environment, flat)) = &self.environment {
            if let Some((value, span)) = from_flat(setting, flat)? {
                return Ok(written(
                    value,
                    Source::Environment(environment.clone(), span),
                ));
            }
        }
        if let Some((value, span)) = from_flat(setting, &self.yml)? {
            return Ok(written(value, Source::MeltanoYml(span)));
        }
        if let Some(parent) = &self.parent {
            // The parent's own declaration of the setting, as Meltano's inherited store asks.
            if let Some(declared) = parent
                .settings
                .iter()
                .find(|other| other.name == setting.name)
            {
                let found = parent.resolve(declared, None)?;
                let inherited = found.value.is_some() && found.source.rank() < 7;
                if inherited {
                    return Ok(Candidate {
                        source: Source::Inherited(
                            parent.plugin.name.clone(),
                            Box::new(found.source),
                        ),
                        ..found
                    });
                }
            }
        }
        Ok(match &setting.default {
            Some(value) if !value.is_null() => Candidate {
                value: Some(value.clone()),
                expandable: true,
                source: Source::Default(setting.declared.clone()),
                written: None,
                variables: Vec::new(),
            },
            _ => Candidate {
                value: None,
                expandable: false,
                source: Source::Unset,
                written: None,
                variables: Vec::new(),
            },
        })
    }
}

fn literal(text: String, source: Source) -> Candidate {
    Candidate {
        value: Some(ConfigValue::literal(&Value::String(text))),
        expandable: false,
        source,
        written: None,
        variables: Vec::new(),
    }
}

fn written(value: ConfigValue, source: Source) -> Candidate {
    Candidate {
        value: Some(value),
        expandable: true,
        source,
        written: None,
        variables: Vec::new(),
    }
}

/// The value written for `setting` (by name or alias) in a flattened config; `null` counts as
/// not written.
fn from_flat(
    setting: &Setting,
    flat: &FlatConfig,
) -> Result<Option<(ConfigValue, Option<Span>)>, ConfigError> {
    let found: Vec<(&String, &super::values::Leaf)> = std::iter::once(&setting.name)
        .chain(&setting.aliases)
        .filter_map(|key| flat.get(key).map(|leaf| (key, leaf)))
        .collect();
    if found.len() > 1 && found.iter().any(|(_, leaf)| leaf.value != found[0].1.value) {
        return Err(ConfigError::Conflicting {
            setting: setting.name.clone(),
            names: found.iter().map(|(key, _)| (*key).clone()).collect(),
        });
    }
    Ok(found
        .first()
        .filter(|(_, leaf)| !leaf.value.is_null())
        .map(|(_, leaf)| (leaf.value.clone(), leaf.span)))
}

/// An entry's `config` with its extras as `_<key>`, flattened (Meltano's
/// `config_with_extras`); for a mapping plugin, the mapping's `config` and the mapper's extras
/// with the mapping's. An environment's entry has only `config` and `env` as named keys.
fn config_with_extras<'p>(
    entry: &Plugin<'p>,
    mapping: Option<Named<'p>>,
    environment: bool,
) -> FlatConfig {
    let node = entry.entry.node;
    let mut values = IndexMap::new();
    let mut nodes: Vec<(String, &Node)> = Vec::new();
    let config = super::mapping::config_node(entry, mapping);
    if let Some(mapping) = config.and_then(Node::as_mapping) {
        for (key, (_, value)) in mapping {
            values.insert(key.clone(), config_value(value));
            nodes.push((key.clone(), value));
        }
    }
    let extras: Vec<(&str, &Node)> = if environment {
        node.as_mapping()
            .map(|mapping| {
                mapping
                    .iter()
                    .filter(|(key, _)| {
                        !["name", "config", "env", "annotations"].contains(&key.as_str())
                    })
                    .map(|(key, (_, value))| (key.as_str(), value))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        super::inherit::extra_nodes(entry)
    };
    for (key, value) in extras {
        let key = format!("_{key}");
        values.insert(key.clone(), config_value(value));
        nodes.push((key, value));
    }
    for (key, value, node) in super::mapping::added_extras(mapping) {
        let key = format!("_{key}");
        values.insert(key.clone(), value);
        nodes.push((key, node));
    }
    FlatConfig::new(&values, &nodes)
}

/// A flattened config back as one mapping keyed by leaf path (for implicit settings, which
/// flatten again: a leaf path never holds a non-empty mapping, so nothing changes).
fn nest_flat(flat: &FlatConfig) -> IndexMap<String, ConfigValue> {
    flat.leaves
        .iter()
        .map(|(path, leaf)| (path.clone(), leaf.value.clone()))
        .collect()
}

/// The effective configuration for `plugin` with the given shell, by name (a convenience for
/// tests and tools).
///
/// # Errors
/// As [`evaluate`].
pub fn evaluate_in(
    resolved: &Resolved<'_>,
    plugin: &ResolvedPlugin<'_>,
    environment: Option<&str>,
    shell: &Shell,
) -> Result<PluginConfig, Vec<ConfigError>> {
    let environment = environment.and_then(|name| {
        crate::project::model::environments(&resolved.project.merged)
            .into_iter()
            .find(|environment| environment.name == name)
    });
    evaluate(
        &Scope {
            resolved,
            environment,
            shell,
            user_agent: USER_AGENT,
        },
        plugin,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::diagnostics::{SourceFile, SourceMap};
    use crate::meltano::cast::CastError;
    use crate::project::Project;

    fn project(text: &str) -> Project {
        let mut sources = SourceMap::default();
        let id = sources.add(SourceFile::new("meltano.yml", "meltano.yml", text));
        let merged = crate::yaml::parse(id, sources.get(id))
            .root
            .expect("test YAML parses");
        Project {
            root: "/nonexistent/project".into(),
            sources,
            files: Vec::new(),
            merged,
        }
    }

    /// `(setting, value, source kind)` of every set setting of `plugin`.
    fn evaluated(
        text: &str,
        plugin: &str,
        environment: Option<&str>,
        process: &[(&str, &str)],
        dotenv: &str,
    ) -> Result<PluginConfig, Vec<ConfigError>> {
        let project = project(text);
        let resolved = super::super::resolve(&project);
        let plugin = resolved.find(plugin).expect("plugin exists");
        let process: BTreeMap<String, String> = process
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        let shell = Shell::new(process, Some(dotenv));
        evaluate_in(&resolved, plugin, environment, &shell)
    }

    fn value_of(config: &PluginConfig, name: &str) -> (Option<Value>, u8) {
        let found = config
            .settings
            .iter()
            .chain(&config.extras)
            .find(|value| value.setting.name == name)
            .unwrap_or_else(|| panic!("no setting {name}"));
        (found.value.clone(), found.source.rank())
    }

    const MERGE: &str = "
plugins:
  extractors:
  - name: tap-m
    namespace: tap_m
    settings:
    - {name: obj, kind: object}
    - {name: tags, kind: array}
    config:
      obj: {a: 1, b: {c: 2}}
      tags: [x, y]
      nulled: base
      emptied: {inner: 1}
    select: [a.*, b.*]
environments:
- name: prod
  config:
    plugins:
      extractors:
      - name: tap-m
        config:
          obj: {b: {d: 3}}
          tags: [z]
          nulled: null
          emptied: {}
        select: [a.id]
";

    #[test]
    fn environments_merge_per_leaf_like_meltano_run_time() {
        let config = evaluated(MERGE, "tap-m", Some("prod"), &[], "").unwrap();
        assert_eq!(
            Value::Object(config.config.clone()),
            json!({
                "obj": {"a": 1, "b": {"c": 2, "d": 3}},   // mappings deep-merge
                "tags": ["z"],                           // lists replace
                "nulled": "base",                        // null does not unset
                "emptied": {"inner": 1},                 // {} does not clear
            })
        );
        assert_eq!(value_of(&config, "_select"), (Some(json!(["a.id"])), 3));
        let base = evaluated(MERGE, "tap-m", None, &[], "").unwrap();
        assert_eq!(value_of(&base, "_select"), (Some(json!(["a.*", "b.*"])), 4));
    }

    const PRECEDENCE: &str = "
plugins:
  extractors:
  - name: tap-p
    namespace: tap_p
    settings:
    - {name: s, value: default}
    - {name: port, kind: integer}
    - {name: flag, kind: boolean}
    - {name: empty}
    - {name: greeting, aliases: [hello]}
    config:
      s: yml
      port: '5432'
      flag: 'yes'
      empty: ${NOT_SET}
  - name: tap-child
    inherit_from: tap-p
environments:
- name: prod
  config:
    plugins:
      extractors:
      - name: tap-p
        config:
          s: environment
";

    /// Process variables, `.env` text, environment, and the expected (value, store rank).
    type StoreCase<'a> = (
        &'a [(&'a str, &'a str)],
        &'a str,
        Option<&'a str>,
        (Option<Value>, u8),
    );

    #[test]
    fn stores_in_meltano_order() {
        let cases: [StoreCase<'_>; 6] = [
            (&[], "", None, (Some(json!("yml")), 4)),
            (&[], "", Some("prod"), (Some(json!("environment")), 3)),
            (
                &[],
                "TAP_P_S=dotenv\n",
                Some("prod"),
                (Some(json!("dotenv")), 2),
            ),
            (
                &[("TAP_P_S", "process")],
                "TAP_P_S=dotenv\n",
                Some("prod"),
                (Some(json!("process")), 1),
            ),
            (
                &[("TAP_P_S", "${NOT_EXPANDED}")],
                "",
                None,
                (Some(json!("${NOT_EXPANDED}")), 1),
            ),
            (
                &[("TAP_P_HELLO", "by alias")],
                "",
                None,
                (Some(json!("by alias")), 1),
            ),
        ];
        for (process, dotenv, environment, expected) in cases {
            let config = evaluated(PRECEDENCE, "tap-p", environment, process, dotenv).unwrap();
            let setting = if process.iter().any(|(k, _)| *k == "TAP_P_HELLO") {
                "greeting"
            } else {
                "s"
            };
            assert_eq!(
                value_of(&config, setting),
                expected,
                "{process:?} {dotenv:?} {environment:?}"
            );
        }
        let config = evaluated(PRECEDENCE, "tap-p", None, &[], "").unwrap();
        assert_eq!(value_of(&config, "port"), (Some(json!(5432)), 4));
        assert_eq!(value_of(&config, "flag"), (Some(json!(true)), 4));
        assert_eq!(
            value_of(&config, "empty"),
            (None, 4),
            "a value expanding to nothing is unset"
        );
    }

    #[test]
    fn an_inheriting_plugin_falls_back_to_the_parent_value() {
        let child = evaluated(PRECEDENCE, "tap-child", Some("prod"), &[], "").unwrap();
        let found = child
            .settings
            .iter()
            .find(|v| v.setting.name == "s")
            .unwrap();
        assert_eq!(found.value, Some(json!("environment")));
        assert!(matches!(&found.source, Source::Inherited(parent, inner)
            if parent == "tap-p" && matches!(**inner, Source::Environment(..))));
        // The child reads its own name's env vars, not the parent's.
        let child = evaluated(
            PRECEDENCE,
            "tap-child",
            None,
            &[("TAP_CHILD_S", "mine")],
            "",
        )
        .unwrap();
        assert_eq!(value_of(&child, "s"), (Some(json!("mine")), 1));
    }

    #[test]
    fn meltano_refuses_several_env_vars_and_bad_values() {
        let errors = evaluated(
            PRECEDENCE,
            "tap-p",
            None,
            &[("TAP_P_S", "a"), ("TAP_P_HELLO", "b")],
            "",
        );
        assert!(errors.is_ok(), "different settings: {errors:?}");
        let text = PRECEDENCE.replace("namespace: tap_p", "namespace: ns_p");
        let errors = evaluated(
            &text,
            "tap-p",
            None,
            &[("TAP_P_S", "a"), ("NS_P_S", "a")],
            "",
        )
        .unwrap_err();
        assert!(
            matches!(&errors[0], ConfigError::SeveralEnvVars { names, .. } if names == &["TAP_P_S", "NS_P_S"])
        );
        let errors =
            evaluated(PRECEDENCE, "tap-p", None, &[("TAP_P_PORT", "5.5")], "").unwrap_err();
        assert!(
            matches!(&errors[0], ConfigError::Cast { setting, problem: CastError::Integer, .. } if setting == "port")
        );
    }

    #[test]
    fn written_env_vars_and_extras_see_the_plugin_namespace() {
        let config = evaluated(PRECEDENCE, "tap-child", None, &[], "").unwrap();
        assert_eq!(
            config.env.get("TAP_CHILD_S").map(String::as_str),
            Some("yml")
        );
        assert_eq!(config.env.get("TAP_P_S").map(String::as_str), Some("yml"));
        assert_eq!(
            config.env.get("MELTANO_EXTRACT_FLAG").map(String::as_str),
            Some("true")
        );
        assert_eq!(
            config.env.get("TAP_CHILD__LOAD_SCHEMA").map(String::as_str),
            Some("tap_child")
        );
        assert_eq!(value_of(&config, "_select"), (Some(json!(["*.*"])), 7));
    }
}
