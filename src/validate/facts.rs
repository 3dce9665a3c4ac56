//! What meltc knows about a plugin's definition, and where it comes from. Resolution follows
//! Meltano's order (spec §9): the entry itself for custom plugins, the project parent for
//! `inherit_from` without `variant`, then the lock file, then the bundled hub index.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::ProjectIndex;
use crate::project::model::Plugin;
use crate::resolve::hub::{HubIndex, HubPlugin, HubVariant};
use crate::resolve::{Definition, lockfile};

/// Where a plugin's definition comes from.
pub enum Resolution<'a> {
    /// `namespace` without `inherit_from`: the entry is the definition.
    Custom,
    /// `inherit_from` a plugin of the project.
    Parent(Plugin<'a>),
    /// A lock file (parsed, or why it cannot be used).
    Lock(PathBuf, Result<Box<Definition>, String>),
    /// The bundled hub index.
    Hub(HubVariant<'static>),
    /// The hub has the plugin but not the requested variant.
    UnknownVariant(HubPlugin<'static>),
    /// Nothing defines it.
    Unresolved,
}

/// Resolve `plugin`'s definition source.
#[must_use]
pub fn resolve<'a>(index: &ProjectIndex<'a>, plugin: &Plugin<'a>) -> Resolution<'a> {
    if plugin.is_custom() {
        return Resolution::Custom;
    }
    if plugin.variant().is_none() {
        if let Some(parent) = plugin
            .inherit_from()
            .and_then(|p| index.plugin_of_type(plugin.plugin_type, p))
        {
            return Resolution::Parent(parent);
        }
    }
    let name = plugin.inherit_from().unwrap_or(plugin.name());
    let hub = HubIndex::bundled().plugin(plugin.plugin_type, name);
    for path in lock_candidates(index, plugin, name, hub.as_ref()) {
        if path.is_file() {
            let definition = lockfile::read(&path, plugin.plugin_type)
                .map(Box::new)
                .map_err(|error| error.to_string());
            return Resolution::Lock(path, definition);
        }
    }
    match hub {
        Some(hub) => match hub.variant(plugin.variant()) {
            Some(variant) => Resolution::Hub(variant),
            None => Resolution::UnknownVariant(hub),
        },
        None => Resolution::Unresolved,
    }
}

/// Lock files that may hold the definition, in the order they are tried: the exact variant;
/// without one, Meltano's `--default` name, the variant-less name, and the hub default's.
fn lock_candidates(
    index: &ProjectIndex<'_>,
    plugin: &Plugin<'_>,
    name: &str,
    hub: Option<&HubPlugin<'_>>,
) -> Vec<PathBuf> {
    let root = &index.project.root;
    match plugin.variant() {
        Some(variant) => vec![lockfile::path(
            root,
            plugin.plugin_type,
            name,
            Some(variant),
        )],
        None => {
            let mut candidates = vec![
                lockfile::path(root, plugin.plugin_type, name, Some("default")),
                lockfile::path(root, plugin.plugin_type, name, None),
            ];
            if let Some(default) = hub.and_then(HubPlugin::default_variant) {
                candidates.push(lockfile::path(
                    root,
                    plugin.plugin_type,
                    name,
                    Some(default),
                ));
            }
            candidates
        }
    }
}

/// Definition facts gathered for one plugin.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Whether some source defines the plugin completely.
    pub resolved: bool,
    /// Capabilities, when some source states them.
    pub capabilities: Option<BTreeSet<String>>,
    /// Names (and aliases) of settings that hold secrets.
    pub secret_settings: BTreeSet<String>,
    /// Command names.
    pub commands: BTreeSet<String>,
}

/// Gather the facts for `plugin`, following `inherit_from` through project plugins (use
/// [`ProjectIndex::facts`], which keeps them and stops cycles).
#[must_use]
pub fn facts<'a>(index: &ProjectIndex<'a>, plugin: &Plugin<'a>) -> Facts {
    let mut facts = match resolve(index, plugin) {
        Resolution::Custom => Facts {
            resolved: true,
            ..Facts::default()
        },
        Resolution::Parent(parent) => (*index.facts(&parent)).clone(),
        Resolution::Lock(_, Ok(definition)) => from_definition(&definition),
        Resolution::Hub(variant) => variant
            .definition()
            .map(|definition| from_definition(&definition))
            .unwrap_or_default(),
        _ => Facts::default(),
    };
    // The entry's own keys override (capabilities) or extend (settings, commands) the parent's.
    if let Ok(entry) = Definition::from_json(plugin.plugin_type, entry_object(plugin)) {
        if plugin.entry.node.get("capabilities").is_some() {
            facts.capabilities = Some(entry.capabilities.iter().cloned().collect());
        }
        add_settings_and_commands(&mut facts, &entry);
    }
    facts
}

fn from_definition(definition: &Definition) -> Facts {
    let mut facts = Facts {
        resolved: true,
        capabilities: Some(definition.capabilities.iter().cloned().collect()),
        ..Facts::default()
    };
    add_settings_and_commands(&mut facts, definition);
    facts
}

fn add_settings_and_commands(facts: &mut Facts, definition: &Definition) {
    for setting in &definition.settings {
        if setting.sensitive {
            facts.secret_settings.insert(setting.name.clone());
            facts
                .secret_settings
                .extend(setting.aliases.iter().cloned());
        } else {
            // A project entry may redefine a parent's secret setting as a plain one.
            facts.secret_settings.remove(&setting.name);
        }
    }
    facts.commands.extend(definition.commands.keys().cloned());
}

/// The entry as a definition object, with the name and namespace a definition needs.
fn entry_object(plugin: &Plugin<'_>) -> serde_json::Map<String, serde_json::Value> {
    let mut object = match plugin.entry.node.to_json() {
        serde_json::Value::Object(object) => object,
        _ => serde_json::Map::new(),
    };
    object
        .entry("namespace")
        .or_insert_with(|| serde_json::Value::String(plugin.name().replace('-', "_")));
    object
}

/// Whether the bundled hub index has a plugin of this type and name.
#[must_use]
pub fn hub_knows(plugin_type: crate::project::PluginType, name: &str) -> bool {
    HubIndex::bundled().plugin(plugin_type, name).is_some()
}
