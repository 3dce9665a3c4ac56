//! What meltc knows about a plugin's definition: capabilities, secret settings, commands, and
//! whether it can be resolved at all. Sources, in Meltano's order (spec §9): the entry itself
//! for custom plugins, the project parent for `inherit_from`, the lock file, then the bundled
//! hub index.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::ProjectIndex;
use crate::project::model::Plugin;
use crate::yaml::Node;

/// Definition facts gathered for one plugin.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Where the definition comes from; `None` = meltc cannot resolve it.
    pub source: Option<DefinitionSource>,
    /// Capabilities, when some source states them.
    pub capabilities: Option<BTreeSet<String>>,
    /// Names (and aliases) of settings that hold secrets.
    pub secret_settings: BTreeSet<String>,
    /// Command names.
    pub commands: BTreeSet<String>,
}

/// Where a plugin's definition comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefinitionSource {
    /// A custom plugin: the entry is the definition.
    Custom,
    /// A lock file.
    Lock(PathBuf),
}

/// Gather the facts for `plugin`, following `inherit_from` through project plugins.
#[must_use]
pub fn facts(index: &ProjectIndex<'_>, plugin: &Plugin<'_>) -> Facts {
    facts_at_depth(index, plugin, 0)
}

fn facts_at_depth(index: &ProjectIndex<'_>, plugin: &Plugin<'_>, depth: usize) -> Facts {
    let mut facts = Facts::default();
    let project_parent = plugin
        .inherit_from()
        .filter(|_| plugin.variant().is_none())
        .and_then(|parent| index.plugin_of_type(plugin.plugin_type, parent));
    if plugin.is_custom() {
        facts.source = Some(DefinitionSource::Custom);
    } else if let (Some(parent), true) = (project_parent, depth < 32) {
        facts = facts_at_depth(index, &parent, depth + 1);
    } else if let Some(lock) = lock_definition(index, plugin) {
        facts.source = Some(DefinitionSource::Lock(lock.0));
        absorb(&mut facts, &lock.1);
    }
    absorb_node(&mut facts, plugin.entry.node);
    facts
}

/// The lock file for a plugin and its parsed JSON (spec §9.2: the name is `inherit_from` for
/// inheriting plugins; a plugin without `variant:` looks for `--default`).
fn lock_definition(
    index: &ProjectIndex<'_>,
    plugin: &Plugin<'_>,
) -> Option<(PathBuf, serde_json::Value)> {
    let name = plugin.inherit_from().unwrap_or(plugin.name());
    let folder = index
        .project
        .root
        .join("plugins")
        .join(plugin.plugin_type.as_str());
    let file = match plugin.variant() {
        Some("") => format!("{name}.lock"),
        Some(variant) => format!("{name}--{variant}.lock"),
        None => format!("{name}--default.lock"),
    };
    let path = folder.join(file);
    let text = std::fs::read_to_string(&path).ok()?;
    let json = serde_json::from_str(&text).ok()?;
    Some((path, json))
}

fn absorb(facts: &mut Facts, definition: &serde_json::Value) {
    if let Some(capabilities) = definition
        .get("capabilities")
        .and_then(serde_json::Value::as_array)
    {
        facts.capabilities = Some(
            capabilities
                .iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect(),
        );
    }
    for setting in definition
        .get("settings")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        let secret = setting
            .get("sensitive")
            .and_then(serde_json::Value::as_bool)
            == Some(true)
            || matches!(
                setting.get("kind").and_then(serde_json::Value::as_str),
                Some("password" | "oauth")
            );
        if secret {
            let names = setting.get("name").into_iter().chain(
                setting
                    .get("aliases")
                    .and_then(serde_json::Value::as_array)
                    .into_iter()
                    .flatten(),
            );
            facts
                .secret_settings
                .extend(names.filter_map(|n| n.as_str().map(str::to_owned)));
        }
    }
    if let Some(commands) = definition
        .get("commands")
        .and_then(serde_json::Value::as_object)
    {
        facts.commands.extend(commands.keys().cloned());
    }
}

fn absorb_node(facts: &mut Facts, entry: &Node) {
    let json = entry.to_json();
    absorb(facts, &json);
}

/// Whether the bundled hub index has a plugin of this type and name.
#[must_use]
pub fn hub_knows(_plugin_type: crate::project::PluginType, _name: &str) -> bool {
    // Filled in by the hub index; until then nothing is known from the hub.
    false
}
