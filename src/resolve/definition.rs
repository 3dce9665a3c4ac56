//! The definition of one plugin variant, as a lock file holds it or the Hub serves it: typed
//! fields for what resolution reads, plus the JSON object it was read from (lock files are
//! written from that object, see [`super::lockfile`]).
//!
//! Both sources have the same shape (Meltano's `StandalonePlugin`, `core/plugin/base.py`), so
//! one parser reads both. It applies what Meltano does when it builds a
//! `SettingDefinition` (`core/setting_definition.py`): the deprecated kinds `password`/`oauth`
//! mean `sensitive: true` and `hidden` means `hidden: true`, and when the flag was also given
//! the kind becomes `string`. Everything Meltano does not know is an extra (`PluginDefinition`'s
//! `extras`, `core/plugin/base.py`), kept in the source's order.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::meltano::setting::{Declared, Setting};
use crate::meltano::setting_kind::normalize_kind;
use crate::meltano::template::ConfigValue;
use crate::meltano::{PluginType, SettingKind};

/// Top-level keys Meltano reads into named fields when it loads a definition
/// (`PluginDefinition`, `Variant` and `StandalonePlugin` in `core/plugin/base.py`); every other
/// key is an extra.
pub const NAMED_KEYS: [&str; 25] = [
    "plugin_type",
    "name",
    "namespace",
    "variant",
    "variants",
    "is_default_variant",
    "original",
    "deprecated",
    "label",
    "hidden",
    "docs",
    "repo",
    "pip_url",
    "python",
    "executable",
    "description",
    "logo_url",
    "capabilities",
    "settings_group_validation",
    "settings",
    "commands",
    "requires",
    "requires_meltano",
    "env",
    "supported_python_versions",
];

/// A plugin variant's definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    /// The type it is a plugin of.
    pub plugin_type: PluginType,
    /// Plugin name (`tap-gitlab`).
    pub name: String,
    /// Prefix of its env vars and default schema names.
    pub namespace: String,
    /// Variant name, when it has one.
    pub variant: Option<String>,
    /// Display name; Meltano falls back to `name` (see [`Definition::label_or_name`]).
    pub label: Option<String>,
    /// Documentation URL (for a Hub plugin, its Hub page).
    pub docs: Option<String>,
    /// Source repository URL.
    pub repo: Option<String>,
    /// pip requirement string(s).
    pub pip_url: Option<String>,
    /// Python to build the venv with.
    pub python: Option<String>,
    /// Program to run; Meltano's default is the plugin name.
    pub executable: Option<String>,
    /// One-line description.
    pub description: Option<String>,
    /// Logo URL (absolute for a Hub plugin).
    pub logo_url: Option<String>,
    /// Hidden from `meltano discover` (Hub extractors and loaders only; never in a lock file).
    pub hidden: Option<bool>,
    /// Singer capabilities (`catalog`, `discover`, `state`, ...).
    pub capabilities: Vec<String>,
    /// Groups of settings that together make a valid configuration.
    pub settings_group_validation: Vec<Vec<String>>,
    /// Declared settings, in order.
    pub settings: Vec<SettingDefinition>,
    /// Named commands.
    pub commands: IndexMap<String, Command>,
    /// Plugins `meltano add` adds with this one.
    pub requires: IndexMap<PluginType, Vec<Requirement>>,
    /// Version specifier of Meltano this plugin needs.
    pub requires_meltano: Option<String>,
    /// Env vars injected into the plugin's environment.
    pub env: IndexMap<String, Value>,
    /// Python versions the plugin supports.
    pub supported_python_versions: Vec<String>,
    /// Every other key (`select`, `metadata`, `dialect`, `vars`, `ext_repo`, ...), in source
    /// order; they become the defaults of the `_<key>` settings.
    pub extras: IndexMap<String, Value>,
    raw: Map<String, Value>,
}

/// A `settings:` item after Meltano's normalisation of deprecated kinds.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingDefinition {
    /// Setting name (may contain dots).
    pub name: String,
    /// Other names accepted in `config`.
    pub aliases: Vec<String>,
    /// Extra env var the value is written to.
    pub env: Option<String>,
    /// Deprecated extra env vars read (`!NAME` negates a boolean).
    pub env_aliases: Vec<String>,
    /// The kind; `None` means a string.
    pub kind: Option<SettingKind>,
    /// Default value (`None` when absent or null).
    pub value: Option<Value>,
    /// Display name.
    pub label: Option<String>,
    /// Documentation URL.
    pub documentation: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Short hint.
    pub tooltip: Option<String>,
    /// Allowed values for kind `options`.
    pub options: Vec<SettingOption>,
    /// OAuth provider details.
    pub oauth: Option<Value>,
    /// Placeholder text.
    pub placeholder: Option<String>,
    /// Whether the value is environment-specific.
    pub env_specific: Option<bool>,
    /// Hidden setting (also kind `hidden`).
    pub hidden: bool,
    /// A secret: `sensitive: true`, or kind `password`/`oauth`.
    pub sensitive: bool,
    /// Processor applied while casting (`nest_object`, `upcase_string`, ...).
    pub value_processor: Option<String>,
    /// Processor applied when building the config file.
    pub value_post_processor: Option<String>,
}

impl SettingDefinition {
    /// The setting this `settings:` item of a definition declares.
    #[must_use]
    pub fn setting(&self, declared: Declared) -> Setting {
        let definition = self;
        Setting {
            name: definition.name.clone(),
            aliases: definition.aliases.clone(),
            kind: definition.kind,
            default: definition.value.as_ref().map(ConfigValue::from_json),
            sensitive: definition.sensitive,
            hidden: definition.hidden,
            env: definition.env.clone(),
            env_aliases: definition.env_aliases.clone(),
            options: definition
                .options
                .iter()
                .map(|option| option.value.clone())
                .collect(),
            value_processor: definition.value_processor.clone(),
            value_post_processor: definition.value_post_processor.clone(),
            declared,
        }
    }
}

/// One allowed value of an `options` setting.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingOption {
    /// Display name.
    pub label: Option<String>,
    /// The value.
    pub value: Value,
}

/// A command: `args` plus optional description, executable and container spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// Arguments (shell-split at run time).
    pub args: String,
    /// Description.
    pub description: Option<String>,
    /// Program to run instead of the plugin's executable.
    pub executable: Option<String>,
    /// Container specification, as written.
    pub container_spec: Option<Value>,
}

/// An entry of `requires`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// Plugin name.
    pub name: String,
    /// Variant, when given.
    pub variant: Option<String>,
}

/// A definition that does not have the shape Meltano expects.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {problem}")]
pub struct DefinitionError {
    /// Where (`settings[3].kind`).
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

impl Definition {
    /// Read a definition of `plugin_type` from its JSON object (a lock file's content or a
    /// Hub definition).
    ///
    /// # Errors
    /// When a key Meltano reads has the wrong type, `name` or `namespace` is missing, a setting
    /// has an unknown kind, or `plugin_type` names another type.
    pub fn from_json(
        plugin_type: PluginType,
        raw: Map<String, Value>,
    ) -> Result<Self, DefinitionError> {
        let fields = Fields {
            map: &raw,
            prefix: "",
        };
        if let Some(written) = fields.string("plugin_type")? {
            if PluginType::parse(&written) != Some(plugin_type) {
                return Err(fields.error(
                    "plugin_type",
                    format!("is `{written}`, expected `{plugin_type}`"),
                ));
            }
        }
        let definition = Self {
            plugin_type,
            name: fields.required_string("name")?,
            namespace: fields.required_string("namespace")?,
            variant: fields.string("variant")?,
            label: fields.string("label")?,
            docs: fields.string("docs")?,
            repo: fields.string("repo")?,
            pip_url: fields.string("pip_url")?,
            python: fields.string("python")?,
            executable: fields.string("executable")?,
            description: fields.string("description")?,
            logo_url: fields.string("logo_url")?,
            hidden: fields.boolean("hidden")?,
            capabilities: fields.strings("capabilities")?,
            settings_group_validation: settings_groups(&fields)?,
            settings: settings(&fields)?,
            commands: commands(&fields)?,
            requires: requires(&fields)?,
            requires_meltano: fields.string("requires_meltano")?,
            env: fields
                .object("env")?
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            supported_python_versions: fields.strings("supported_python_versions")?,
            extras: raw
                .iter()
                .filter(|(key, _)| !NAMED_KEYS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            raw: Map::new(),
        };
        Ok(Self { raw, ..definition })
    }

    /// The JSON object this definition was read from, keys in source order.
    #[must_use]
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// The label, or the name when there is none (Meltano's default).
    #[must_use]
    pub fn label_or_name(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }

    /// The setting called `name`.
    #[must_use]
    pub fn setting(&self, name: &str) -> Option<&SettingDefinition> {
        self.settings.iter().find(|setting| setting.name == name)
    }
}

fn settings(fields: &Fields<'_>) -> Result<Vec<SettingDefinition>, DefinitionError> {
    let Some(items) = fields.array("settings")? else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let prefix = format!("settings[{index}].");
            let Some(map) = item.as_object() else {
                return Err(fields.error(
                    &format!("settings[{index}]"),
                    "expected a mapping".to_owned(),
                ));
            };
            setting(&Fields {
                map,
                prefix: &prefix,
            })
        })
        .collect()
}

fn setting(fields: &Fields<'_>) -> Result<SettingDefinition, DefinitionError> {
    let kind = match fields.string("kind")? {
        // Meltano: `SettingKind(kind) if kind else None`.
        Some(text) if text.is_empty() => None,
        Some(text) => Some(
            SettingKind::parse(&text)
                .ok_or_else(|| fields.error("kind", format!("unknown kind `{text}`")))?,
        ),
        None => None,
    };
    let (kind, hidden, sensitive) = normalize_kind(
        kind,
        fields.boolean("hidden")?,
        fields.boolean("sensitive")?,
    );
    Ok(SettingDefinition {
        name: fields.required_string("name")?,
        aliases: fields.strings("aliases")?,
        env: fields.string("env")?,
        env_aliases: fields.strings("env_aliases")?,
        kind,
        value: fields
            .map
            .get("value")
            .filter(|value| !value.is_null())
            .cloned(),
        label: fields.string("label")?,
        documentation: fields.string("documentation")?,
        description: fields.string("description")?,
        tooltip: fields.string("tooltip")?,
        options: options(fields)?,
        oauth: fields
            .map
            .get("oauth")
            .filter(|value| !value.is_null())
            .cloned(),
        placeholder: fields.string("placeholder")?,
        env_specific: fields.boolean("env_specific")?,
        hidden: hidden.unwrap_or(false),
        sensitive: sensitive.unwrap_or(false),
        value_processor: fields.string("value_processor")?,
        value_post_processor: fields.string("value_post_processor")?,
    })
}

fn options(fields: &Fields<'_>) -> Result<Vec<SettingOption>, DefinitionError> {
    let Some(items) = fields.array("options")? else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let prefix = format!("{}options[{index}].", fields.prefix);
            let Some(map) = item.as_object() else {
                return Err(fields.error(
                    &format!("options[{index}]"),
                    "expected a mapping".to_owned(),
                ));
            };
            let option = Fields {
                map,
                prefix: &prefix,
            };
            Ok(SettingOption {
                label: option.string("label")?,
                value: map.get("value").cloned().unwrap_or(Value::Null),
            })
        })
        .collect()
}

fn settings_groups(fields: &Fields<'_>) -> Result<Vec<Vec<String>>, DefinitionError> {
    let Some(groups) = fields.array("settings_group_validation")? else {
        return Ok(Vec::new());
    };
    groups
        .iter()
        .map(|group| {
            group
                .as_array()
                .and_then(|names| {
                    names
                        .iter()
                        .map(|name| name.as_str().map(str::to_owned))
                        .collect()
                })
                .ok_or_else(|| {
                    fields.error(
                        "settings_group_validation",
                        "expected a list of lists of names".to_owned(),
                    )
                })
        })
        .collect()
}

fn commands(fields: &Fields<'_>) -> Result<IndexMap<String, Command>, DefinitionError> {
    let Some(map) = fields.object("commands")? else {
        return Ok(IndexMap::new());
    };
    map.iter()
        .map(|(name, value)| {
            let command = match value {
                Value::String(args) => Command {
                    args: args.clone(),
                    description: None,
                    executable: None,
                    container_spec: None,
                },
                Value::Object(map) => {
                    let prefix = format!("commands.{name}.");
                    let command = Fields {
                        map,
                        prefix: &prefix,
                    };
                    Command {
                        args: command.string("args")?.unwrap_or_default(),
                        description: command.string("description")?,
                        executable: command.string("executable")?,
                        container_spec: map
                            .get("container_spec")
                            .filter(|spec| !spec.is_null())
                            .cloned(),
                    }
                }
                _ => {
                    return Err(fields.error(
                        &format!("commands.{name}"),
                        "expected a string or a mapping".to_owned(),
                    ));
                }
            };
            Ok((name.clone(), command))
        })
        .collect()
}

fn requires(
    fields: &Fields<'_>,
) -> Result<IndexMap<PluginType, Vec<Requirement>>, DefinitionError> {
    let Some(map) = fields.object("requires")? else {
        return Ok(IndexMap::new());
    };
    map.iter()
        .map(|(type_name, items)| {
            let key = format!("requires.{type_name}");
            let plugin_type = PluginType::parse(type_name)
                .ok_or_else(|| fields.error(&key, "not a plugin type".to_owned()))?;
            let items = items
                .as_array()
                .ok_or_else(|| fields.error(&key, "expected a list".to_owned()))?;
            let requirements = items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let prefix = format!("{key}[{index}].");
                    let map = item
                        .as_object()
                        .ok_or_else(|| fields.error(&key, "expected mappings".to_owned()))?;
                    let requirement = Fields {
                        map,
                        prefix: &prefix,
                    };
                    Ok(Requirement {
                        name: requirement.required_string("name")?,
                        variant: requirement.string("variant")?,
                    })
                })
                .collect::<Result<_, DefinitionError>>()?;
            Ok((plugin_type, requirements))
        })
        .collect()
}

/// Typed access to one JSON object, naming keys with their path in errors.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl Fields<'_> {
    fn error(&self, key: &str, problem: String) -> DefinitionError {
        DefinitionError {
            key: format!("{}{key}", self.prefix),
            problem,
        }
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Value) -> DefinitionError {
        self.error(
            key,
            format!("expected {expected}, found {}", json_kind(found)),
        )
    }

    /// The value, treating null as absent (Meltano's `None`).
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    fn string(&self, key: &str) -> Result<Option<String>, DefinitionError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    fn required_string(&self, key: &str) -> Result<String, DefinitionError> {
        self.string(key)?
            .ok_or_else(|| self.error(key, "missing".to_owned()))
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, DefinitionError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(self.wrong_type(key, "true or false", other)),
        }
    }

    fn array(&self, key: &str) -> Result<Option<&Vec<Value>>, DefinitionError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong_type(key, "a list", other)),
        }
    }

    fn object(&self, key: &str) -> Result<Option<&Map<String, Value>>, DefinitionError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(self.wrong_type(key, "a mapping", other)),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, DefinitionError> {
        let Some(items) = self.array(key)? else {
            return Ok(Vec::new());
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(self.wrong_type(key, "a list of strings", other)),
            })
            .collect()
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> Result<Definition, DefinitionError> {
        let Value::Object(map) = value else {
            panic!("test input must be an object")
        };
        Definition::from_json(PluginType::Extractors, map)
    }

    #[test]
    fn deprecated_kinds_are_normalised_like_meltano() {
        use SettingKind::{Hidden, Oauth, Password, String as Str};
        // (kind, hidden, sensitive) written -> used
        let cases = [
            (
                (Some(Password), None, None),
                (Some(Password), None, Some(true)),
            ),
            (
                (Some(Password), None, Some(false)),
                (Some(Password), None, Some(true)),
            ),
            (
                (Some(Password), None, Some(true)),
                (Some(Str), None, Some(true)),
            ),
            ((Some(Oauth), None, None), (Some(Oauth), None, Some(true))),
            ((Some(Hidden), None, None), (Some(Hidden), Some(true), None)),
            (
                (Some(Hidden), Some(true), None),
                (Some(Str), Some(true), None),
            ),
            (
                (Some(Str), Some(false), Some(false)),
                (Some(Str), Some(false), Some(false)),
            ),
            ((None, None, None), (None, None, None)),
        ];
        for (written, used) in cases {
            assert_eq!(
                normalize_kind(written.0, written.1, written.2),
                used,
                "{written:?}"
            );
        }
    }

    #[test]
    fn reads_typed_fields_and_keeps_extras_in_order() {
        let definition = parse(json!({
            "plugin_type": "extractors",
            "name": "tap-x",
            "namespace": "tap_x",
            "variant": "v",
            "metadata": {"*": {"replication-method": "FULL_TABLE"}},
            "capabilities": ["catalog", "state"],
            "settings": [
                {"name": "password", "kind": "password"},
                {"name": "token", "kind": "oauth", "sensitive": true},
                {"name": "flag", "kind": "boolean", "value": false},
                {"name": "choice", "kind": "options", "options": [{"label": "A", "value": "a"}]}
            ],
            "commands": {"test": "--test", "run": {"args": "run", "description": "Run"}},
            "requires": {"files": [{"name": "files-x", "variant": "meltano"}]},
            "select": ["a.*"],
            "hidden": true
        }))
        .unwrap();
        assert_eq!(definition.label_or_name(), "tap-x");
        assert_eq!(definition.capabilities, ["catalog", "state"]);
        assert_eq!(
            definition.extras.keys().collect::<Vec<_>>(),
            ["metadata", "select"]
        );
        let password = definition.setting("password").unwrap();
        assert!(password.sensitive);
        assert_eq!(password.kind, Some(SettingKind::Password));
        let token = definition.setting("token").unwrap();
        assert_eq!(
            (token.kind, token.sensitive),
            (Some(SettingKind::String), true)
        );
        assert_eq!(
            definition.setting("flag").unwrap().value,
            Some(json!(false))
        );
        assert_eq!(
            definition.setting("choice").unwrap().options[0].value,
            json!("a")
        );
        assert_eq!(definition.commands["test"].args, "--test");
        assert_eq!(
            definition.commands["run"].description.as_deref(),
            Some("Run")
        );
        assert_eq!(definition.requires[&PluginType::Files][0].name, "files-x");
        assert_eq!(definition.hidden, Some(true));
    }

    #[test]
    fn shape_errors_name_the_key() {
        let cases = [
            (json!({"namespace": "n"}), "`name`: missing"),
            (
                json!({"name": "x", "namespace": "n", "pip_url": 3}),
                "`pip_url`: expected a string, found a number",
            ),
            (
                json!({"name": "x", "namespace": "n", "settings": [{"name": "a", "kind": "secret"}]}),
                "`settings[0].kind`: unknown kind `secret`",
            ),
            (
                json!({"plugin_type": "loaders", "name": "x", "namespace": "n"}),
                "`plugin_type`: is `loaders`, expected `extractors`",
            ),
            (
                json!({"name": "x", "namespace": "n", "requires": {"taps": []}}),
                "`requires.taps`: not a plugin type",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input).unwrap_err().to_string(), expected);
        }
    }
}
