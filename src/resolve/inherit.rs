//! A project entry merged over what it inherits (Meltano's `ProjectPlugin`, its `_fallbacks`
//! and `all_settings`, `core/plugin/project_plugin.py`): a project parent (already resolved),
//! a definition (lock file, hub index, or a custom plugin's own entry), or nothing.
//!
//! - `variant`, `pip_url`, `python`, `executable`, `capabilities`, `label` fall back to the
//!   parent only when the entry leaves them unset; `namespace` too, except that a plugin with
//!   `inherit_from` defaults to its own name with `-` -> `_`;
//! - `settings` and `commands` extend the parent's (a redeclared name replaces the parent's);
//! - `config`, extras and `env` are the entry's own (the parent's values are reached through
//!   the "inherited" step of the precedence, `config.rs`).

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::definition::SettingDefinition;
use super::plugin::{Origin, ResolvedPlugin};
use super::values::mapping_values;
use super::{Command, Definition};
use crate::meltano::PluginClass;
use crate::meltano::env_var::unique;
use crate::meltano::setting::{Declared, Setting, definition_extras, merge_extras, merge_settings};
use crate::meltano::template::{ConfigValue, Template};
use crate::project::model::{Named, Plugin};
use crate::yaml::Node;

/// What an entry is merged over.
pub enum Base<'a, 'p> {
    /// A resolved project plugin (`inherit_from` without `variant`).
    Project(&'a ResolvedPlugin<'p>),
    /// A definition: lock file, hub index, or the custom plugin's own entry.
    Definition(&'a Definition),
    /// Nothing could be found.
    Missing,
}

/// Keys of a project plugin entry that are not extras (`ProjectPlugin.__init__` parameters,
/// presentation attributes, and annotations).
const ENTRY_KEYS: [&str; 21] = [
    "name",
    "inherit_from",
    "namespace",
    "variant",
    "pip_url",
    "python",
    "executable",
    "capabilities",
    "settings_group_validation",
    "settings",
    "commands",
    "requires",
    "requires_meltano",
    "config",
    "default_variant",
    "env",
    "hidden",
    "label",
    "logo_url",
    "description",
    "annotations",
];

/// Keys a custom plugin's entry also consumes as definition fields (Meltano's `Variant`).
const CUSTOM_DEFINITION_KEYS: [&str; 5] = [
    "docs",
    "repo",
    "original",
    "deprecated",
    "supported_python_versions",
];

/// The entry's extras (`select`, `metadata`, any unknown key), keyed without the `_`.
#[must_use]
pub fn entry_extras(entry: &Plugin<'_>) -> IndexMap<String, ConfigValue> {
    extra_nodes(entry)
        .into_iter()
        .map(|(key, node)| (key.to_owned(), super::values::config_value(node)))
        .collect()
}

/// The entry's extra keys and their nodes.
#[must_use]
pub fn extra_nodes<'a>(entry: &Plugin<'a>) -> Vec<(&'a str, &'a Node)> {
    let custom = entry.is_custom();
    entry
        .entry
        .node
        .as_mapping()
        .map(|mapping| {
            mapping
                .iter()
                .filter(|(key, _)| {
                    let named = ENTRY_KEYS.contains(&key.as_str())
                        || (custom && CUSTOM_DEFINITION_KEYS.contains(&key.as_str()));
                    !named
                })
                .map(|(key, (_, value))| (key.as_str(), value))
                .collect()
        })
        .unwrap_or_default()
}

/// A custom plugin's entry read as a definition (its extras stay the entry's own).
#[must_use]
pub fn custom_definition(entry: &Plugin<'_>) -> Option<Definition> {
    let node = entry.entry.node;
    let mut object = Map::new();
    object.insert("name".to_owned(), Value::from(entry.name()));
    // The definition keys of a lock file, minus what is not the entry's to define here: the
    // type (given by where the entry sits), the name (set above) and `env` (kept as the entry's).
    let definition_keys = super::lockfile::PLUGIN_KEYS
        .into_iter()
        .filter(|key| !matches!(*key, "plugin_type" | "name" | "env"));
    for key in definition_keys {
        if let Some(value) = node.get(key) {
            object.insert(key.to_owned(), definition_json(key, value));
        }
    }
    lenient_definition(entry, object)
}

/// A definition field of an entry as JSON (`settings` with their defaults as Meltano casts
/// them).
fn definition_json(key: &str, value: &Node) -> Value {
    if key == "settings" {
        super::values::settings_json(value)
    } else {
        value.to_json()
    }
}

/// Parse a definition, dropping the parts that do not have the right shape (the schema check
/// reports them): a bad setting or command is left out, a bad field is ignored.
/// `None` only if it still does not parse after many parts were dropped.
fn lenient_definition(entry: &Plugin<'_>, mut object: Map<String, Value>) -> Option<Definition> {
    for _ in 0..64 {
        match Definition::from_json(entry.plugin_type, object.clone()) {
            Ok(definition) => return Some(definition),
            Err(error) => drop_bad_part(&mut object, &error.key),
        }
    }
    None
}

fn drop_bad_part(object: &mut Map<String, Value>, key: &str) {
    let top = key.split(['.', '[']).next().unwrap_or(key);
    let item = key
        .strip_prefix(top)
        .and_then(|rest| rest.strip_prefix('['))
        .and_then(|rest| rest.split(']').next())
        .and_then(|index| index.parse::<usize>().ok());
    match (object.get_mut(top), item) {
        (Some(Value::Array(items)), Some(index)) if index < items.len() => {
            items.remove(index);
        }
        (Some(Value::Object(map)), None) if key.len() > top.len() + 1 => {
            let inner = &key[top.len() + 1..];
            let name = inner.split('.').next().unwrap_or(inner);
            if map.shift_remove(name).is_none() {
                object.shift_remove(top);
            }
        }
        _ => {
            if top == "name" || top == "namespace" {
                object.insert(top.to_owned(), Value::from("?"));
            } else {
                object.shift_remove(top);
            }
        }
    }
}

/// The entry's own definition fields (`settings`, `commands`, `capabilities`...), read as a
/// definition would be.
fn entry_definition(entry: &Plugin<'_>) -> Option<Definition> {
    if entry.is_custom() {
        return custom_definition(entry);
    }
    let node = entry.entry.node;
    let mut object = Map::new();
    object.insert("name".to_owned(), Value::from(entry.name()));
    object.insert("namespace".to_owned(), Value::from(entry.name()));
    for key in ["capabilities", "settings", "commands"] {
        if let Some(value) = node.get(key) {
            object.insert(key.to_owned(), definition_json(key, value));
        }
    }
    lenient_definition(entry, object)
}

/// What the base gives, before the entry's overrides.
struct Inherited {
    variant: Option<String>,
    namespace: Option<String>,
    label: Option<String>,
    pip_url: Option<String>,
    python: Option<String>,
    executable: Option<String>,
    capabilities: Vec<String>,
    settings: Vec<Arc<Setting>>,
    extras: Vec<Arc<Setting>>,
    commands: Arc<IndexMap<String, Command>>,
    class: PluginClass,
    write_prefixes: Vec<String>,
    definition_name: String,
    resolved: bool,
}

fn inherited(entry: &Plugin<'_>, base: &Base<'_, '_>) -> Inherited {
    match base {
        Base::Project(parent) => Inherited {
            variant: parent.variant.clone(),
            namespace: Some(parent.namespace.clone()),
            label: Some(parent.label.clone()),
            pip_url: parent.pip_url.clone(),
            python: parent.python.clone(),
            executable: Some(parent.executable.clone()),
            capabilities: parent.capabilities.clone(),
            settings: parent.settings.clone(),
            extras: parent.extras.clone(),
            commands: Arc::clone(&parent.commands),
            class: parent.class,
            write_prefixes: parent.write_prefixes.clone(),
            definition_name: parent.definition_name.clone(),
            resolved: parent.resolved,
        },
        Base::Definition(definition) => {
            let class = PluginClass::of(entry.plugin_type, &definition.name);
            let custom = entry.is_custom();
            let declared = if custom {
                Declared::Entry(entry.name().to_owned())
            } else {
                Declared::Definition
            };
            Inherited {
                variant: definition.variant.clone(),
                namespace: Some(definition.namespace.clone()),
                label: Some(definition.label_or_name().to_owned()),
                pip_url: definition.pip_url.clone(),
                python: definition.python.clone(),
                executable: Some(
                    definition
                        .executable
                        .clone()
                        .unwrap_or_else(|| definition.name.clone()),
                ),
                capabilities: definition.capabilities.clone(),
                settings: settings_of(&definition.settings, &declared),
                extras: definition_extras(class, &definition.extras),
                commands: Arc::new(definition.commands.clone()),
                class,
                write_prefixes: vec![definition.name.clone(), definition.namespace.clone()],
                definition_name: definition.name.clone(),
                resolved: true,
            }
        }
        Base::Missing => {
            let name = entry.inherit_from().unwrap_or(entry.name()).to_owned();
            let class = PluginClass::of(entry.plugin_type, &name);
            Inherited {
                variant: None,
                namespace: None,
                label: None,
                pip_url: None,
                python: None,
                executable: None,
                capabilities: Vec::new(),
                settings: Vec::new(),
                extras: class.builtin_extras().into_iter().map(Arc::new).collect(),
                commands: Arc::default(),
                class,
                write_prefixes: Vec::new(),
                definition_name: name,
                resolved: false,
            }
        }
    }
}

fn settings_of(definitions: &[SettingDefinition], declared: &Declared) -> Vec<Arc<Setting>> {
    definitions
        .iter()
        .map(|setting| Arc::new(setting.setting(declared.clone())))
        .collect()
}

/// Merge `entry` over `base` into the resolved plugin; with `mapping`, into the plugin Meltano
/// makes of that mapping of the mapper `entry` ([`super::mapping`]).
#[must_use]
pub fn merge<'p>(
    entry: Plugin<'p>,
    origin: Origin,
    base: &Base<'_, 'p>,
    parent: Option<usize>,
    mapping: Option<Named<'p>>,
) -> ResolvedPlugin<'p> {
    let inherited = inherited(&entry, base);
    let own = entry_definition(&entry);
    let (own_declared, own_commands, own_capabilities) = own.map_or_else(
        || (Vec::new(), IndexMap::new(), Vec::new()),
        |own| (own.settings, own.commands, own.capabilities),
    );
    let node = entry.entry.node;
    let text = |key: &str| node.get_str(key).map(str::to_owned);
    let name = entry.name().to_owned();
    let namespace = text("namespace")
        .or_else(|| entry.inherit_from().map(|_| name.replace('-', "_")))
        .or(inherited.namespace)
        .unwrap_or_else(|| name.replace('-', "_"));
    let label = text("label").unwrap_or_else(|| match (&inherited.label, entry.inherit_from()) {
        (Some(parent), Some(_)) => format!("{parent}: {name}"),
        (Some(parent), None) => parent.clone(),
        (None, _) => name.clone(),
    });
    let declared = Declared::Entry(name.clone());
    let own_settings = if matches!(base, Base::Definition(_)) && entry.is_custom() {
        Vec::new() // the custom definition already is the entry's settings
    } else {
        own_declared
            .iter()
            .map(|setting| setting.setting(declared.clone()))
            .collect()
    };
    let config = mapping_values(super::mapping::config_node(&entry, mapping));
    let settings = merge_settings(&inherited.settings, own_settings, &config, &name);
    let extras = merge_extras(
        &inherited.extras,
        &super::mapping::entry_extras(&entry, mapping),
        &name,
    );
    let mut commands = (*inherited.commands).clone();
    commands.extend(own_commands);
    let read_prefixes = unique(vec![name.clone(), namespace.clone()]);
    let mut write_prefixes = read_prefixes.clone();
    write_prefixes.extend(inherited.write_prefixes);
    write_prefixes.push(format!("meltano_{}", entry.plugin_type.verb()));
    let resolved = inherited.resolved
        && !matches!(
            origin,
            Origin::Cycle
                | Origin::Unresolved
                | Origin::InvalidLock(..)
                | Origin::UnknownVariant(_)
        );
    ResolvedPlugin {
        entry,
        plugin_type: entry.plugin_type,
        name,
        origin,
        resolved,
        parent,
        definition_name: inherited.definition_name,
        variant: text("variant").or(inherited.variant),
        namespace,
        label,
        pip_url: text("pip_url").or(inherited.pip_url),
        python: text("python").or(inherited.python),
        executable: text("executable")
            .or(inherited.executable)
            .unwrap_or_else(|| entry.name().to_owned()),
        capabilities: if node.get("capabilities").is_some() {
            own_capabilities
        } else {
            inherited.capabilities
        },
        settings,
        extras,
        commands: Arc::new(commands),
        env: node
            .get("env")
            .and_then(Node::as_mapping)
            .map(|mapping| {
                mapping
                    .iter()
                    .filter_map(|(name, (_, value))| {
                        Some((name.clone(), Template::parse(&value.scalar_text()?)))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        class: inherited.class,
        read_prefixes,
        write_prefixes: unique(write_prefixes),
        mapping,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{FileId, SourceFile};
    use crate::project::model;

    fn with_plugins(text: &str, check: impl Fn(&[Plugin<'_>])) {
        let source = SourceFile::new("t", "t", text);
        let root = crate::yaml::parse(FileId(0), &source).root.unwrap();
        check(&model::plugins(&root));
    }

    #[test]
    fn extras_are_the_keys_meltano_does_not_name() {
        let text = "plugins:\n  extractors:\n  - name: tap-c\n    namespace: tap_c\n    docs: d\n    label: L\n    annotations: {a: 1}\n    select: [a.b]\n    foo: 1\n  - name: tap-d\n    inherit_from: tap-c\n    docs: d2\n    metadata: {s: {k: v}}\n";
        with_plugins(text, |plugins| {
            let keys = |plugin: &Plugin<'_>| -> Vec<String> {
                entry_extras(plugin).keys().cloned().collect()
            };
            assert_eq!(keys(&plugins[0]), ["select", "foo"]);
            assert_eq!(keys(&plugins[1]), ["docs", "metadata"]);
        });
    }

    #[test]
    fn bad_parts_of_a_custom_definition_are_left_out() {
        let text = "plugins:\n  utilities:\n  - name: u\n    namespace: u\n    pip_url: 3\n    settings:\n    - name: ok\n    - name: bad\n      kind: secret\n    - name: also_ok\n      kind: integer\n    commands:\n      good: run\n      broken: 5\n";
        with_plugins(text, |plugins| {
            let definition = custom_definition(&plugins[0]).unwrap();
            let names: Vec<_> = definition
                .settings
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            assert_eq!(names, ["ok", "also_ok"]);
            assert_eq!(definition.commands.keys().collect::<Vec<_>>(), ["good"]);
            assert_eq!(definition.pip_url, None);
        });
    }
}
