//! The settings of a plugin (Meltano's `ProjectPlugin.all_settings` and `extra_settings` in
//! `core/plugin/project_plugin.py`, `SettingDefinition` in `core/setting_definition.py`):
//! declared ones, implicit ones for undeclared config keys, Meltano's built-in extras
//! (`_select`, `_dialect`, ...), and the environment variable names each is read from and
//! written to.
//!
//! The lists are built the way Meltano builds them, because the order and the exact set decide
//! what `meltano config print` shows and which env vars a plugin receives:
//!
//! 1. `settings` = the parent's settings (minus those the entry redeclares) + the entry's own
//!    declarations + one implicit setting per flattened leaf of the entry's `config` that has
//!    no setting of that name (`a: {b: 1}` -> `a.b`), kind guessed from the value;
//! 2. `extras` = the parent's extras, or for a definition Meltano's built-in extras of the
//!    plugin class with the definition's extras as defaults (plus one per flattened leaf of
//!    those), + one per flattened leaf of the entry's extras (`select` -> `_select`);
//! 3. at evaluation, the environment entry's keys that match nothing add more (`config.rs`).

use std::borrow::Borrow;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::env_var::{EnvVar, to_env_var, unique};
use super::plugin_class::PluginClass;
use super::setting_kind::SettingKind;
use super::template::ConfigValue;

/// Where a setting (and its default) is declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Declared {
    /// The plugin's definition (a lock file, the hub index, or a custom plugin's entry).
    Definition,
    /// A `settings:` item of a project plugin entry (named).
    Entry(String),
    /// One of Meltano's built-in extras of the plugin class.
    Builtin,
    /// Not declared: a config key of the named plugin.
    Implicit(String),
}

/// One setting of a plugin.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// The name (may contain dots; extras start with `_`).
    pub name: String,
    /// Other names accepted in `config`.
    pub aliases: Vec<String>,
    /// The kind; `None` reads as a string.
    pub kind: Option<SettingKind>,
    /// The default value, as written (strings are templates).
    pub default: Option<ConfigValue>,
    /// A secret (`sensitive: true`, kind `password` or `oauth`).
    pub sensitive: bool,
    /// Hidden from listings.
    pub hidden: bool,
    /// An extra env var the value is written to.
    pub env: Option<String>,
    /// Deprecated env vars it is read from (`!NAME` negates a boolean).
    pub env_aliases: Vec<String>,
    /// Allowed values for kind `options`.
    pub options: Vec<Value>,
    /// Processor applied while casting.
    pub value_processor: Option<String>,
    /// Processor applied to the final value.
    pub value_post_processor: Option<String>,
    /// Where it is declared.
    pub declared: Declared,
}

impl Setting {
    /// An undeclared key: Meltano's `SettingDefinition.from_key_value`, kind from the value.
    #[must_use]
    pub fn implicit(name: &str, value: &ConfigValue, declared: Declared, default: bool) -> Self {
        let kind = match value {
            ConfigValue::Bool(_) => Some(SettingKind::Boolean),
            ConfigValue::Number(number) if number.is_f64() => Some(SettingKind::Decimal),
            ConfigValue::Number(_) => Some(SettingKind::Integer),
            ConfigValue::Map(_) => Some(SettingKind::Object),
            ConfigValue::List(_) => Some(SettingKind::Array),
            ConfigValue::Null | ConfigValue::Text(_) => None,
        };
        Setting {
            name: name.to_owned(),
            aliases: Vec::new(),
            kind,
            default: default.then(|| value.clone()),
            sensitive: false,
            hidden: false,
            env: None,
            env_aliases: Vec::new(),
            options: Vec::new(),
            value_processor: None,
            value_post_processor: None,
            declared,
        }
    }

    pub(super) fn builtin(name: &str, kind: Option<SettingKind>, default: Option<Value>) -> Self {
        Setting {
            default: default.as_ref().map(ConfigValue::from_json),
            kind,
            ..Setting::implicit(name, &ConfigValue::Null, Declared::Builtin, false)
        }
    }

    /// An extra (`_select`): never part of the config file.
    #[must_use]
    pub fn is_extra(&self) -> bool {
        self.name.starts_with('_')
    }

    /// Whether `name` is this setting's name or one of its aliases.
    #[must_use]
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.iter().any(|alias| alias == name)
    }

    /// The env vars a value is read from, in Meltano's order (`<PREFIX>_<NAME>` for each of the
    /// plugin's name and namespace, the same for each alias, then `env_aliases` when
    /// `with_env_aliases`): the setting's `env:` is not read.
    #[must_use]
    pub fn env_vars_read(&self, prefixes: &[String], with_env_aliases: bool) -> Vec<EnvVar> {
        let mut names: Vec<String> = Vec::new();
        for name in std::iter::once(&self.name).chain(&self.aliases) {
            names.extend(prefixes.iter().map(|prefix| to_env_var(prefix, name)));
        }
        if with_env_aliases {
            names.extend(self.env_aliases.iter().cloned());
        }
        unique(names)
            .iter()
            .map(|name| EnvVar::parse(name))
            .collect()
    }

    /// The env vars a value is written to, in Meltano's order (`env:`, then `<PREFIX>_<NAME>`
    /// for every writing prefix, then the non-negated `env_aliases`).
    #[must_use]
    pub fn env_vars_written(&self, prefixes: &[String]) -> Vec<String> {
        let mut names: Vec<String> = self.env.iter().cloned().collect();
        names.extend(prefixes.iter().map(|prefix| to_env_var(prefix, &self.name)));
        names.extend(self.env_aliases.iter().cloned());
        unique(names)
            .into_iter()
            .filter(|name| !name.starts_with('!'))
            .collect()
    }
}

/// A mapping flattened to leaf paths joined with `.` (Meltano's `flatten(d, "dot")`): a
/// non-empty mapping is descended into, anything else (an empty mapping too) is a leaf.
#[must_use]
pub fn flatten(map: &IndexMap<String, ConfigValue>) -> Vec<(String, &ConfigValue)> {
    let mut leaves = Vec::new();
    flatten_into(None, map, &mut leaves);
    leaves
}

fn flatten_into<'a>(
    prefix: Option<&str>,
    map: &'a IndexMap<String, ConfigValue>,
    leaves: &mut Vec<(String, &'a ConfigValue)>,
) {
    for (key, value) in map {
        let path = prefix.map_or_else(|| key.clone(), |prefix| format!("{prefix}.{key}"));
        match value {
            ConfigValue::Map(inner) if !inner.is_empty() => {
                flatten_into(Some(&path), inner, leaves);
            }
            _ => leaves.push((path, value)),
        }
    }
}

/// Meltano's `SettingDefinition.from_missing`: an implicit setting for every flattened leaf of
/// `config` that no setting of `existing` is named after (aliases do not count).
#[must_use]
pub fn implicit_settings<S: Borrow<Setting>>(
    existing: &[S],
    config: &IndexMap<String, ConfigValue>,
    declared: &Declared,
    default: bool,
) -> Vec<Setting> {
    flatten(config)
        .into_iter()
        .filter(|(path, _)| {
            !existing
                .iter()
                .any(|setting| &setting.borrow().name == path)
        })
        .map(|(path, value)| Setting::implicit(&path, value, declared.clone(), default))
        .collect()
}

/// Meltano's `BasePlugin.extra_settings`: the class's built-in extras, a definition extra
/// (`select`, `dialect`, `metadata`...) replacing the default of its `_` setting, and one
/// setting with a default per flattened leaf of the definition extras that matches none.
#[must_use]
pub fn definition_extras(
    class: PluginClass,
    extras: &IndexMap<String, Value>,
) -> Vec<Arc<Setting>> {
    let defaults: IndexMap<String, ConfigValue> = extras
        .iter()
        .map(|(key, value)| (format!("_{key}"), ConfigValue::from_json(value)))
        .collect();
    let mut settings = class.builtin_extras();
    for setting in &mut settings {
        if let Some(value) = defaults.get(&setting.name).filter(|value| !value.is_null()) {
            setting.default = Some(value.clone());
            setting.declared = Declared::Definition;
        }
    }
    let missing = implicit_settings(&settings, &defaults, &Declared::Definition, true);
    settings.extend(missing);
    settings.into_iter().map(Arc::new).collect()
}

/// Meltano's `ProjectPlugin.all_settings`: `parent` minus what `own` redeclares, then `own`,
/// then implicit settings for the leaves of `config`.
#[must_use]
pub fn merge_settings(
    parent: &[Arc<Setting>],
    own: Vec<Setting>,
    config: &IndexMap<String, ConfigValue>,
    plugin: &str,
) -> Vec<Arc<Setting>> {
    let mut settings: Vec<Arc<Setting>> = parent
        .iter()
        .filter(|setting| !own.iter().any(|mine| mine.name == setting.name))
        .cloned()
        .collect();
    settings.extend(own.into_iter().map(Arc::new));
    let implicit = implicit_settings(
        &settings,
        config,
        &Declared::Implicit(plugin.to_owned()),
        false,
    );
    settings.extend(implicit.into_iter().map(Arc::new));
    settings
}

/// Meltano's `ProjectPlugin.extra_settings`: `parent`'s extras, then one implicit extra per
/// flattened leaf of the entry's extras (`select:` -> `_select` when the class has none).
#[must_use]
pub fn merge_extras(
    parent: &[Arc<Setting>],
    extras: &IndexMap<String, ConfigValue>,
    plugin: &str,
) -> Vec<Arc<Setting>> {
    let underscored: IndexMap<String, ConfigValue> = extras
        .iter()
        .map(|(key, value)| (format!("_{key}"), value.clone()))
        .collect();
    let mut settings = parent.to_vec();
    let implicit = implicit_settings(
        &settings,
        &underscored,
        &Declared::Implicit(plugin.to_owned()),
        false,
    );
    settings.extend(implicit.into_iter().map(Arc::new));
    settings
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> IndexMap<String, ConfigValue> {
        match ConfigValue::from_json(&value) {
            ConfigValue::Map(map) => map,
            _ => panic!("not a mapping"),
        }
    }

    fn setting(name: &str) -> Setting {
        Setting::implicit(name, &ConfigValue::Null, Declared::Definition, false)
    }

    #[test]
    fn env_var_names_like_meltano() {
        let cases = [
            ("tap-gitlab", "api_url", "TAP_GITLAB_API_URL"),
            ("tap_x", "_select", "TAP_X__SELECT"),
            ("tap-x", "db.host", "TAP_X_DB_HOST"),
            (
                "tap-x",
                "batch_config.encoding.format",
                "TAP_X_BATCH_CONFIG_ENCODING_FORMAT",
            ),
            (
                "meltano_extract",
                "start-date",
                "MELTANO_EXTRACT_START_DATE",
            ),
            ("", "x", "X"),
        ];
        for (prefix, name, expected) in cases {
            assert_eq!(to_env_var(prefix, name), expected);
        }
    }

    #[test]
    fn read_and_written_env_vars() {
        let mut password = setting("password");
        password.aliases = vec!["pass".to_owned()];
        password.env = Some("PGPASSWORD".to_owned());
        password.env_aliases = vec!["OLD_PW".to_owned(), "!NO_PW".to_owned()];
        let read_prefixes = ["tap-pg".to_owned(), "tap_pg".to_owned()];
        let read: Vec<_> = password
            .env_vars_read(&read_prefixes, true)
            .into_iter()
            .map(|var| (var.name, var.negated))
            .collect();
        assert_eq!(
            read,
            [
                ("TAP_PG_PASSWORD".to_owned(), false),
                ("TAP_PG_PASS".to_owned(), false),
                ("OLD_PW".to_owned(), false),
                ("NO_PW".to_owned(), true),
            ]
        );
        assert_eq!(password.env_vars_read(&read_prefixes, false).len(), 2);
        let written_prefixes = [
            "tap-pg-prod".to_owned(),
            "tap_pg_prod".to_owned(),
            "tap-pg".to_owned(),
            "tap_pg".to_owned(),
            "meltano_extract".to_owned(),
        ];
        assert_eq!(
            password.env_vars_written(&written_prefixes),
            [
                "PGPASSWORD",
                "TAP_PG_PROD_PASSWORD",
                "TAP_PG_PASSWORD",
                "MELTANO_EXTRACT_PASSWORD",
                "OLD_PW"
            ]
        );
    }

    #[test]
    fn implicit_settings_one_per_leaf_with_kinds() {
        let config = map(json!({
            "host": "h", "port": 5432, "ratio": 0.5, "flag": true, "tags": ["a"],
            "db": {"user": "u", "opts": {}}, "declared": {"x": 1}, "nothing": null
        }));
        let existing = [setting("host"), setting("declared")];
        let found: Vec<_> = implicit_settings(&existing, &config, &Declared::Definition, false)
            .into_iter()
            .map(|s| (s.name, s.kind.map(SettingKind::as_str)))
            .collect();
        assert_eq!(
            found,
            [
                ("port".to_owned(), Some("integer")),
                ("ratio".to_owned(), Some("decimal")),
                ("flag".to_owned(), Some("boolean")),
                ("tags".to_owned(), Some("array")),
                ("db.user".to_owned(), None),
                ("db.opts".to_owned(), Some("object")),
                ("declared.x".to_owned(), Some("integer")),
                ("nothing".to_owned(), None),
            ]
        );
    }

    #[test]
    fn definition_extras_become_defaults_of_builtins() {
        let extras: IndexMap<String, Value> = [
            ("select".to_owned(), json!(["a.*"])),
            (
                "metadata".to_owned(),
                json!({"a": {"replication-method": "FULL_TABLE"}}),
            ),
            ("target_schema".to_owned(), json!("raw")),
        ]
        .into_iter()
        .collect();
        let settings = definition_extras(PluginClass::SingerTap, &extras);
        let select = settings.iter().find(|s| s.name == "_select").unwrap();
        assert_eq!(
            select.default,
            Some(ConfigValue::from_json(&json!(["a.*"])))
        );
        assert_eq!(select.declared, Declared::Definition);
        let names: Vec<_> = settings.iter().map(|s| s.name.as_str()).collect();
        assert!(names.ends_with(&["_metadata.a.replication-method", "_target_schema"]));
    }

    #[test]
    fn merged_settings_keep_meltano_order() {
        let parent = [setting("a"), setting("b"), setting("c")].map(Arc::new);
        let own = vec![setting("b"), setting("d")];
        let config = map(json!({"a": 1, "e": {"f": 2}}));
        let names: Vec<_> = merge_settings(&parent, own, &config, "tap-x")
            .into_iter()
            .map(|s| s.name.clone())
            .collect();
        assert_eq!(names, ["a", "c", "b", "d", "e.f"]);
    }
}
