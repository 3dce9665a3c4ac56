//! A mapping is a plugin too. Meltano turns every item of a mapper's `mappings:` into a plugin
//! of its own (`MeltanoFile.get_plugins_for_mappings`, `core/meltano_file.py`): a deep copy of
//! the mapper's entry whose `config` is **replaced** by the mapping's `config` (not merged),
//! with the extras `mapping: true` and `mapping_name: <name>`. Everything else is the
//! mapper's: its name (so its env var names and the environment's entry for the mapper
//! apply), namespace, definition and parent.
//!
//! Names are looked up as Meltano does by [`crate::meltano::plugin_lookup`].

use indexmap::IndexMap;

use super::inherit::{self, Base};
use super::plugin::{Origin, ResolvedPlugin};
use crate::meltano::template::{ConfigValue, Template};
use crate::project::model::{Named, Plugin};
use crate::yaml::Node;

/// The mapper `entry` and each of its mappings, merged over `base`.
#[must_use]
pub fn merge_with_mappings<'p>(
    entry: Plugin<'p>,
    origin: &Origin,
    base: &Base<'_, 'p>,
    parent: Option<usize>,
) -> (ResolvedPlugin<'p>, Vec<ResolvedPlugin<'p>>) {
    let plugin = inherit::merge(entry, origin.clone(), base, parent, None);
    let mappings = entry
        .mapping_names()
        .into_iter()
        .map(|mapping| inherit::merge(entry, origin.clone(), base, parent, Some(mapping)))
        .collect();
    (plugin, mappings)
}

/// The `config:` a plugin is configured with: the mapping's for a mapping plugin (absent
/// means none, `mapping.get("config")`), else the entry's.
#[must_use]
pub fn config_node<'p>(entry: &Plugin<'p>, mapping: Option<Named<'p>>) -> Option<&'p Node> {
    match mapping {
        Some(mapping) => mapping.node.get("config"),
        None => entry.entry.node.get("config"),
    }
}

/// The extras Meltano adds to a mapping plugin, in its order, keyed without the `_`, each
/// with the node that says where it comes from (the mapping's name).
#[must_use]
pub fn added_extras<'p>(mapping: Option<Named<'p>>) -> Vec<(&'static str, ConfigValue, &'p Node)> {
    let Some(mapping) = mapping else {
        return Vec::new();
    };
    let Some(name_node) = mapping.node.get("name") else {
        return Vec::new();
    };
    vec![
        ("mapping", ConfigValue::Bool(true), name_node),
        (
            "mapping_name",
            ConfigValue::Text(Template::parse(mapping.name)),
            name_node,
        ),
    ]
}

/// The entry's extras (`select`, `mappings`, any unknown key), then the mapping's, keyed
/// without the `_`.
#[must_use]
pub fn entry_extras(
    entry: &Plugin<'_>,
    mapping: Option<Named<'_>>,
) -> IndexMap<String, ConfigValue> {
    let mut extras = inherit::entry_extras(entry);
    for (key, value, _) in added_extras(mapping) {
        extras.insert(key.to_owned(), value);
    }
    extras
}
